/* test_config.c: the experiment config loader (pipeline/config).
 *
 * Writes small .cfg files into a temporary directory and checks layering
 * (base_ < experiment < overrides < default), the recording of applied
 * defaults, every error path with its exact file and line, fingerprints
 * (stable under comments, layout, key order and number spelling; changed by a
 * fingerprinted key only), the shipped experiments, and that
 * schemas/config.md is exactly what cfg_schema_markdown prints. Runs from the
 * repository root. */
#include "cfg.h"
#include "check.h"
#include "test_tmpdir.h"
#include "pl_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char temp_dir[256];

/* temp_dir/rel into buf. */
static const char *in_temp(const char *rel, char *buf, size_t n)
{
    snprintf(buf, n, "%s/%s", temp_dir, rel);
    return buf;
}

/* Writes text to temp_dir/rel, creating one level of subdirectory. */
static void write_file(const char *rel, const char *text)
{
    char path[512];
    in_temp(rel, path, sizeof path);
    const char *slash = strrchr(rel, '/');
    if (slash != NULL) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s/%.*s", temp_dir, (int)(slash - rel), rel);
        mkdir(dir, 0700);
    }
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0) {
        fprintf(stderr, "test_config: cannot write %s\n", path);
        exit(EXIT_FAILURE);
    }
}

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Writes rel with text, loads it, and checks the status and that the message
 * starts with the expected one ("%D" in want is replaced by temp_dir). */
static void expect_error_at(int line, const char *rel, const char *text, int want_rc,
                            const char *want_fmt, ...)
{
    char path[512], want[2048], want_fmt_dir[2048] = "";
    if (text != NULL) write_file(rel, text);
    /* Replace %D by the temp dir, then apply the caller's arguments. */
    for (const char *p = want_fmt; *p != '\0'; p++) {
        size_t used = strlen(want_fmt_dir);
        if (p[0] == '%' && p[1] == 'D') {
            snprintf(want_fmt_dir + used, sizeof want_fmt_dir - used, "%s", temp_dir);
            p++;
        } else if (used + 1 < sizeof want_fmt_dir) {
            want_fmt_dir[used] = *p;
            want_fmt_dir[used + 1] = '\0';
        }
    }
    va_list ap;
    va_start(ap, want_fmt);
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    vsnprintf(want, sizeof want, want_fmt_dir, ap);
#pragma GCC diagnostic pop
    va_end(ap);

    cfg_experiment e;
    int rc = cfg_load(&e, in_temp(rel, path, sizeof path));
    CHECK(rc == want_rc, "line %d: %s: status %d, want %d (%s)", line, rel, rc, want_rc,
          pl_last_error());
    CHECK(starts_with(pl_last_error(), want), "line %d: %s:\n  got  '%s'\n  want '%s...'", line,
          rel, pl_last_error(), want);
    CHECK(e.resolved_text == NULL && e.name[0] == '\0', "line %d: e not cleared on error", line);
    cfg_destroy(&e);
}
#define EXPECT_ERROR(...) expect_error_at(__LINE__, __VA_ARGS__)

/* A valid model and data part, for files that must get past those. */
#define MODEL_DATA "model = { name = \"convnet\"; };\ndata = { name = \"fashion_mnist\"; };\n"

static void test_layering(void)
{
    write_file("common/base.cfg",
               "# shared training defaults\n"
               "base_train = {\n"
               "    epochs = 3;\n"
               "    lr = 0.2;\n"
               "    momentum = 0.8;\n"
               "};\n"
               "base_model = { name = \"convnet\"; width = 0.5; };\n");
    write_file("common/data.cfg", "base_data = { name = \"fashion_mnist\"; validation_images = 100; };\n");
    write_file("good.cfg",
               "@include \"common/base.cfg\"\n"
               "@include \"common/data.cfg\"\n"
               "seed = 7;\n"
               "model = { width = 2; };   # an int where a float is expected\n"
               "train = {\n"
               "    lr = 0.05;\n"
               "    batch_size = 16;\n"
               "};\n"
               "overrides = {\n"
               "    train = { batch_size = 8; momentum = 0.5; };\n"
               "    seed = 9;\n"
               "};\n");
    char path[512];
    cfg_experiment e;
    int rc = cfg_load(&e, in_temp("good.cfg", path, sizeof path));
    CHECK(rc == PL_OK, "good.cfg: %s", pl_last_error());
    if (rc != PL_OK) return;
    CHECK(strcmp(e.name, "good") == 0, "name '%s'", e.name);
    CHECK(strcmp(e.path, path) == 0, "path '%s'", e.path);
    CHECK(e.train.epochs == 3, "base value: epochs %d", e.train.epochs);
    CHECK(e.train.lr == 0.05, "experiment over base: lr %g", e.train.lr);
    CHECK(e.train.batch_size == 8, "overrides over experiment: batch_size %d", e.train.batch_size);
    CHECK(e.train.momentum == 0.5, "overrides over base: momentum %g", e.train.momentum);
    CHECK(e.seed == 9, "overrides over top level: seed %d", e.seed);
    CHECK(e.model.width == 2.0, "int accepted as float: width %g", e.model.width);
    CHECK(strcmp(e.model.name, "convnet") == 0, "model.name '%s'", e.model.name);
    CHECK(e.data.validation_images == 100, "validation_images %d", e.data.validation_images);
    /* Schema defaults, applied and recorded. */
    CHECK(e.train.weight_decay == 5e-4, "default weight_decay %g", e.train.weight_decay);
    CHECK(strcmp(e.train.schedule, "cosine") == 0, "default schedule '%s'", e.train.schedule);
    CHECK(strcmp(e.data.path, "") == 0, "default path (the dataset's standard place) '%s'",
          e.data.path);
    CHECK(e.threads == 0 && e.data.augment == 0 && e.train.nesterov == 0, "defaults 0");
    CHECK(strstr(e.defaults_applied, "train.weight_decay = 0.0005;\n") != NULL,
          "defaults_applied lacks weight_decay:\n%s", e.defaults_applied);
    CHECK(strstr(e.defaults_applied, "threads = 0;\n") != NULL, "defaults_applied lacks threads");
    CHECK(strstr(e.defaults_applied, "train.lr") == NULL &&
              strncmp(e.defaults_applied, "seed =", 6) != 0 &&
              strstr(e.defaults_applied, "\nseed =") == NULL,
          "defaults_applied lists a given key:\n%s", e.defaults_applied);
    CHECK(strstr(e.resolved_text, "train.weight_decay = 0.0005;  # default\n") != NULL,
          "resolved_text does not mark the default:\n%s", e.resolved_text);
    CHECK(strstr(e.resolved_text, "train.batch_size = 8;\n") != NULL &&
          strstr(e.resolved_text, "model.width = 2.0;\n") != NULL &&
          strstr(e.resolved_text, "seed = 9;\n") != NULL &&
          strstr(e.resolved_text, "train.epochs = 3;\n") != NULL,
          "resolved_text:\n%s", e.resolved_text);
    CHECK(starts_with(e.resolved_text, "seed = 9;\nthreads = 0;  # default\nmodel.name"),
          "resolved_text not in schema order:\n%s", e.resolved_text);
    cfg_destroy(&e);
    CHECK(e.resolved_text == NULL && e.defaults_applied == NULL, "cfg_destroy clears");
    cfg_destroy(&e); /* twice is fine */
}

static void test_errors(void)
{
    /* Unknown keys, in the experiment, in a base_ group of an included file,
     * and in the overrides group. */
    EXPECT_ERROR("unknown_key.cfg", "train = {\n    epochs = 2;\n    learning_rate = 0.1;\n};\n",
                 PL_ERR_CONFIG, "%D/unknown_key.cfg:3: train.learning_rate: unknown key (train keys: epochs, batch_size, lr,");
    write_file("inc/bad_base.cfg", "# shared\nbase_train = {\n    epochs = 2;\n    foo = 1;\n};\n");
    EXPECT_ERROR("unknown_base_key.cfg", "seed = 1;\n@include \"inc/bad_base.cfg\"\n", PL_ERR_CONFIG,
                 "%D/inc/bad_base.cfg:4: base_train.foo: unknown key");
    EXPECT_ERROR("unknown_override_key.cfg", "overrides = {\n  train = {\n    bogus = 1;\n  };\n};\n",
                 PL_ERR_CONFIG, "%D/unknown_override_key.cfg:3: overrides.train.bogus: unknown key");

    /* Unknown section and top-level names. */
    EXPECT_ERROR("unknown_section.cfg", "seed = 1;\nreport = { format = \"md\"; };\n", PL_ERR_CONFIG,
                 "%D/unknown_section.cfg:2: unknown section 'report' (no stage reads it yet)");
    EXPECT_ERROR("unknown_base_section.cfg", "\n\nbase_report = { format = \"md\"; };\n", PL_ERR_CONFIG,
                 "%D/unknown_base_section.cfg:3: unknown section 'base_report' (no stage reads it yet)");
    EXPECT_ERROR("unknown_top.cfg", "foo = 1;\n", PL_ERR_CONFIG,
                 "%D/unknown_top.cfg:1: unknown top-level setting 'foo'");
    EXPECT_ERROR("base_seed.cfg", "seed = 1;\nbase_seed = 1;\n", PL_ERR_CONFIG,
                 "%D/base_seed.cfg:2: unknown top-level setting 'base_seed'");
    EXPECT_ERROR("unknown_override.cfg", "overrides = {\n  colour = 1;\n};\n", PL_ERR_CONFIG,
                 "%D/unknown_override.cfg:2: unknown setting 'overrides.colour'");
    EXPECT_ERROR("not_group.cfg", "seed = 1;\ntrain = 3;\n", PL_ERR_CONFIG,
                 "%D/not_group.cfg:2: train: must be a group { ... } (got an integer: 3)");

    /* Wrong types. */
    EXPECT_ERROR("string_for_int.cfg", "train = {\n    epochs = \"2\";\n};\n", PL_ERR_CONFIG,
                 "%D/string_for_int.cfg:2: train.epochs: must be an integer (got a string: \"2\")");
    EXPECT_ERROR("float_for_int.cfg", "train = {\n    epochs = 2.0;\n};\n", PL_ERR_CONFIG,
                 "%D/float_for_int.cfg:2: train.epochs: must be an integer (got a float: 2.0)");
    EXPECT_ERROR("int_for_bool.cfg", "data = {\n    augment = 1;\n};\n", PL_ERR_CONFIG,
                 "%D/int_for_bool.cfg:2: data.augment: must be true or false (got an integer: 1)");
    EXPECT_ERROR("bool_for_float.cfg", "train = { lr = true; };\n", PL_ERR_CONFIG,
                 "%D/bool_for_float.cfg:1: train.lr: must be a number (got a bool: true)");
    EXPECT_ERROR("float_for_seed.cfg", "\nseed = 1.5;\n", PL_ERR_CONFIG,
                 "%D/float_for_seed.cfg:2: seed: must be an integer (got a float: 1.5)");
    EXPECT_ERROR("list_for_string.cfg", "data = { path = (\"a\", \"b\"); };\n", PL_ERR_CONFIG,
                 "%D/list_for_string.cfg:1: data.path: must be a string (got a list)");

    /* Out of range. */
    EXPECT_ERROR("below_min.cfg", "train = {\n    batch_size = 8;\n    epochs = 0;\n};\n",
                 PL_ERR_CONFIG, "%D/below_min.cfg:3: train.epochs: must be >= 1 (got 0)");
    EXPECT_ERROR("above_max.cfg", "train = { batch_size = 5000; };\n", PL_ERR_CONFIG,
                 "%D/above_max.cfg:1: train.batch_size: must be <= 4096 (got 5000)");
    EXPECT_ERROR("float_above_max.cfg", "model = { width = 4.5; };\n", PL_ERR_CONFIG,
                 "%D/float_above_max.cfg:1: model.width: must be <= 4 (got 4.5)");
    EXPECT_ERROR("exclusive_min.cfg", "train = { lr = 0; };\n", PL_ERR_CONFIG,
                 "%D/exclusive_min.cfg:1: train.lr: must be > 0 (got 0)");
    EXPECT_ERROR("zero_special.cfg", "model = { input_size = 4; };\n", PL_ERR_CONFIG,
                 "%D/zero_special.cfg:1: model.input_size: must be 0 or >= 8 (got 4)");
    EXPECT_ERROR("top_range.cfg", "threads = 300;\n", PL_ERR_CONFIG,
                 "%D/top_range.cfg:1: threads: must be <= 256 (got 300)");
    EXPECT_ERROR("override_range.cfg", "overrides = { train = { epochs = 0; }; };\n", PL_ERR_CONFIG,
                 "%D/override_range.cfg:1: overrides.train.epochs: must be >= 1 (got 0)");
    /* libconfig 1.5 wraps this literal to 1410065408; the loader sees through it. */
    EXPECT_ERROR("wrapped_int.cfg", "data = {\n    train_images = 10000000000;\n};\n", PL_ERR_CONFIG,
                 "%D/wrapped_int.cfg:2: data.train_images: must be <= 2147483647 (got 10000000000)");
    EXPECT_ERROR("wrapped_float.cfg", "train = { min_lr = 10000000000; };\n", PL_ERR_CONFIG,
                 "%D/wrapped_float.cfg:1: train.min_lr: integer 10000000000 is too large for "
                 "libconfig; write it as a float (10000000000.0)");
    /* Same name twice on one line: the in-range literal of the other
     * setting must not hide this one's error. */
    EXPECT_ERROR("same_line.cfg", "base_train = { epochs = 2; }; train = { epochs = 0; };\n",
                 PL_ERR_CONFIG, "%D/same_line.cfg:1: train.epochs: must be >= 1 (got 0)");
    EXPECT_ERROR("infinite.cfg", "train = { min_lr = 1e400; };\n", PL_ERR_CONFIG,
                 "%D/infinite.cfg:1: train.min_lr: must be a finite number");

    /* Enum values. */
    EXPECT_ERROR("enum.cfg", "train = {\n  schedule = \"linear\";\n};\n", PL_ERR_CONFIG,
                 "%D/enum.cfg:2: train.schedule: must be one of \"constant\", \"step\", \"cosine\" "
                 "(got \"linear\")");
    /* (train.schedule, whose value list is fixed, unlike the model names) */
    EXPECT_ERROR("enum_type.cfg", "train = { schedule = 3; };\n", PL_ERR_CONFIG,
                 "%D/enum_type.cfg:1: train.schedule: must be one of \"constant\", \"step\", "
                 "\"cosine\" (got an integer: 3)");

    /* Missing required keys: at the line of the section, else of the file. */
    EXPECT_ERROR("missing_required.cfg", MODEL_DATA "\ntrain = {\n    batch_size = 8;\n};\n",
                 PL_ERR_CONFIG,
                 "%D/missing_required.cfg:4: train.epochs: missing required key (it has no default)");
    EXPECT_ERROR("missing_section.cfg", MODEL_DATA, PL_ERR_CONFIG,
                 "%D/missing_section.cfg:1: train.epochs: missing required key");
    EXPECT_ERROR("missing_name.cfg", "seed = 1;\ndata = { name = \"fashion_mnist\"; };\n"
                 "model = { width = 1; };\ntrain = { epochs = 1; };\n", PL_ERR_CONFIG,
                 "%D/missing_name.cfg:3: model.name: missing required key");

    /* Relations between keys. */
    EXPECT_ERROR("nesterov.cfg", MODEL_DATA "train = {\n  epochs = 2;\n  momentum = 0;\n"
                 "  nesterov = true;\n};\n", PL_ERR_CONFIG,
                 "%D/nesterov.cfg:6: train.nesterov: Nesterov momentum needs train.momentum > 0");
    EXPECT_ERROR("warmup.cfg", MODEL_DATA "train = { epochs = 2; warmup_epochs = 2; };\n",
                 PL_ERR_CONFIG, "%D/warmup.cfg:3: train.warmup_epochs: must be < train.epochs (2) (got 2)");
    EXPECT_ERROR("ft_min_lr.cfg",
                 MODEL_DATA "train = { epochs = 2; };\nfinetune = { lr = 0.01; min_lr = 0.02; };\n",
                 PL_ERR_CONFIG, "%D/ft_min_lr.cfg:4: finetune.min_lr: must be <= finetune.lr "
                 "(0.01) with the cosine schedule (got 0.02)");
    /* CIFAR-10 has no standard place: at data.path's line, else the data group's. */
    EXPECT_ERROR("cifar_no_path.cfg", "model = { name = \"convnet\"; };\ntrain = { epochs = 1; };\n"
                 "data = { name = \"cifar10\"; };\n", PL_ERR_CONFIG,
                 "%D/cifar_no_path.cfg:3: data.path: CIFAR-10 has no standard place; set "
                 "data.path to the cifar-10-batches-bin folder");
    EXPECT_ERROR("cifar_empty_path.cfg", "model = { name = \"convnet\"; };\ntrain = { epochs = 1; };\n"
                 "data = {\n  name = \"cifar10\";\n  path = \"\";\n};\n", PL_ERR_CONFIG,
                 "%D/cifar_empty_path.cfg:5: data.path: CIFAR-10 has no standard place");

    /* Files: a missing include, a syntax error, a redefinition, a missing experiment. */
    EXPECT_ERROR("missing_include.cfg", "seed = 1;\n@include \"common/nope.cfg\"\n", PL_ERR_CONFIG,
                 "%D/missing_include.cfg:2: cannot open include file '%D/common/nope.cfg'");
    EXPECT_ERROR("syntax.cfg", "train = {\n    epochs = 2;\n    lr = = 0.1;\n};\n", PL_ERR_CONFIG,
                 "%D/syntax.cfg:3: syntax error");
    write_file("inc/syntax.cfg", "base_train = {\n  epochs = 2;;\n};\n");
    EXPECT_ERROR("syntax_in_include.cfg", "@include \"inc/syntax.cfg\"\n", PL_ERR_CONFIG,
                 "%D/inc/syntax.cfg:2: syntax error");
    write_file("inc/train.cfg", "train = { epochs = 2; };\n");
    EXPECT_ERROR("redefined.cfg", "@include \"inc/train.cfg\"\ntrain = { epochs = 3; };\n",
                 PL_ERR_CONFIG, "%D/redefined.cfg:2: syntax error (duplicate setting name");
    EXPECT_ERROR("no_such_file.cfg", NULL, PL_ERR_IO,
                 "%D/no_such_file.cfg: cannot read: No such file or directory");

    char long_path[1200];
    memset(long_path, 'a', sizeof long_path - 1);
    long_path[sizeof long_path - 1] = '\0';
    cfg_experiment e;
    CHECK(cfg_load(&e, long_path) == PL_ERR_INVAL, "an over-long path is refused");
    cfg_destroy(&e);
}

/* Loads rel (written with text) and returns its train fingerprint, malloc'd. */
static char *fingerprint_of(const char *rel, const char *text, const char *stage)
{
    char path[512];
    write_file(rel, text);
    cfg_experiment e;
    int rc = cfg_load(&e, in_temp(rel, path, sizeof path));
    CHECK(rc == PL_OK, "%s: %s", rel, pl_last_error());
    if (rc != PL_OK) return NULL;
    char *text_out = NULL;
    rc = cfg_fingerprint(&e, stage, &text_out);
    CHECK(rc == PL_OK, "%s: fingerprint: %s", rel, pl_last_error());
    cfg_destroy(&e);
    return text_out;
}

static int same(const char *a, const char *b) { return a != NULL && b != NULL && strcmp(a, b) == 0; }

static void test_fingerprint(void)
{
    char *base = fingerprint_of("fp_base.cfg",
                                "model = { name = \"convnet\"; width = 1.0; };\n"
                                "data = { name = \"fashion_mnist\"; train_images = 512; };\n"
                                "train = { epochs = 2; lr = 0.1; batch_size = 32; };\n",
                                "train");
    /* Comments, whitespace, key order, 1 vs 1.0, 0.1 vs 1e-1, and values
     * moved to an included base_ group or to overrides. */
    write_file("fp/shared.cfg", "# shared\nbase_data = {\n  name = \"fashion_mnist\";\n};\n");
    char *reformatted = fingerprint_of("fp_reformatted.cfg",
                                       "# a comment\n"
                                       "@include \"fp/shared.cfg\"\n"
                                       "train = {\n"
                                       "    batch_size   =   32;   // another comment\n"
                                       "    /* block */ lr = 1e-1;\n"
                                       "    epochs = 2;\n"
                                       "};\n\n\n"
                                       "model = { width = 1; name = \"convnet\"; };\n"
                                       "data = { };\n"
                                       "overrides = { data = { train_images = 512; }; };\n",
                                       "train");
    CHECK(same(base, reformatted), "fingerprint changed by reformatting:\n%s---\n%s",
          base ? base : "(null)", reformatted ? reformatted : "(null)");
    char *other_epochs = fingerprint_of("fp_epochs.cfg",
                                        "model = { name = \"convnet\"; width = 1.0; };\n"
                                        "data = { name = \"fashion_mnist\"; train_images = 512; };\n"
                                        "train = { epochs = 3; lr = 0.1; batch_size = 32; };\n",
                                        "train");
    CHECK(base != NULL && other_epochs != NULL && !same(base, other_epochs),
          "fingerprint unchanged by train.epochs");
    char *other_lr = fingerprint_of("fp_lr.cfg",
                                    "model = { name = \"convnet\"; width = 1.0; };\n"
                                    "data = { name = \"fashion_mnist\"; train_images = 512; };\n"
                                    "train = { epochs = 2; lr = 0.10000000000000002; batch_size = 32; };\n",
                                    "train");
    CHECK(base != NULL && other_lr != NULL && !same(base, other_lr),
          "fingerprint unchanged by a one-ulp change of train.lr");
    char *not_fingerprinted = fingerprint_of("fp_progress.cfg",
                                             "model = { name = \"convnet\"; width = 1.0; };\n"
                                             "data = { name = \"fashion_mnist\"; train_images = 512; };\n"
                                             "train = { epochs = 2; lr = 0.1; batch_size = 32;\n"
                                             "          progress = \"never\"; };\n",
                                             "train");
    CHECK(same(base, not_fingerprinted), "fingerprint changed by train.progress");
    /* threads counts (sgemm may sum in another order); 0 is resolved to the
     * number of cores, so "0" and that number are the same run. */
    char cores[64];
    snprintf(cores, sizeof cores, "threads = %ld;\n", sysconf(_SC_NPROCESSORS_ONLN));
    CHECK(base != NULL && strstr(base, "train.lr = 0.10000000000000001;\n") != NULL &&
          strstr(base, "seed = 1;\n") != NULL && strstr(base, "progress") == NULL &&
          strstr(base, cores) != NULL,
          "fingerprint text:\n%s", base ? base : "(null)");
    char *one_thread = fingerprint_of("fp_threads.cfg",
                                      "threads = 1;\n"
                                      "model = { name = \"convnet\"; width = 1.0; };\n"
                                      "data = { name = \"fashion_mnist\"; train_images = 512; };\n"
                                      "train = { epochs = 2; lr = 0.1; batch_size = 32; };\n",
                                      "train");
    CHECK(one_thread != NULL && strstr(one_thread, "threads = 1;\n") != NULL &&
              (sysconf(_SC_NPROCESSORS_ONLN) == 1 || !same(base, one_thread)),
          "fingerprint unchanged by threads");
    free(one_thread);

    char path[512];
    cfg_experiment e;
    CHECK(cfg_load(&e, in_temp("fp_base.cfg", path, sizeof path)) == PL_OK, "fp_base reload");
    char *text = (char *)"untouched";
    CHECK(cfg_fingerprint(&e, "serch", &text) == PL_ERR_INVAL && text == NULL,
          "unknown stage accepted");
    CHECK(starts_with(pl_last_error(), "config fingerprint: unknown stage 'serch' (known stages: train"),
          "unknown stage message: %s", pl_last_error());
    cfg_destroy(&e);
    free(base);
    free(reformatted);
    free(other_epochs);
    free(other_lr);
    free(not_fingerprinted);
}

static void test_shipped_experiments(void)
{
    cfg_experiment e;
    int rc = cfg_load(&e, "experiments/tiny.cfg");
    CHECK(rc == PL_OK, "experiments/tiny.cfg: %s", pl_last_error());
    if (rc == PL_OK) {
        CHECK(strcmp(e.name, "tiny") == 0, "tiny name '%s'", e.name);
        CHECK(strcmp(e.model.name, "convnet") == 0 && e.model.width == 0.25, "tiny model");
        CHECK(e.data.train_images == 512 && e.data.validation_images == 128 &&
              e.data.test_images == 256, "tiny data");
        CHECK(e.train.epochs == 2 && e.train.batch_size == 32, "tiny train");
        cfg_destroy(&e);
    }
    rc = cfg_load(&e, "experiments/quickstart.cfg");
    CHECK(rc == PL_OK, "experiments/quickstart.cfg: %s", pl_last_error());
    if (rc == PL_OK) {
        CHECK(e.model.width == 0.5 && e.data.train_images == 0 && e.data.test_images == 0,
              "quickstart: the half-width convnet on the full data");
        cfg_destroy(&e);
    }
}

static void test_schema_doc(void)
{
    char *generated = NULL;
    size_t generated_size = 0;
    FILE *out = open_memstream(&generated, &generated_size);
    CHECK(out != NULL, "open_memstream");
    if (out == NULL) return;
    CHECK(cfg_schema_markdown(out) == PL_OK, "cfg_schema_markdown: %s", pl_last_error());
    fclose(out);

    char *committed = NULL;
    size_t committed_size = 0;
    FILE *in = fopen("schemas/config.md", "r");
    CHECK(in != NULL, "schemas/config.md cannot be read (run from the repository root)");
    if (in != NULL) {
        FILE *copy = open_memstream(&committed, &committed_size);
        int c;
        while ((c = fgetc(in)) != EOF) fputc(c, copy);
        fclose(copy);
        fclose(in);
        CHECK(committed_size == generated_size && strcmp(committed, generated) == 0,
              "schemas/config.md differs from the schema; regenerate it with "
              "`build/gos_config schema > schemas/config.md`");
    }
    CHECK(strstr(generated, "| `train.epochs` | int | **required** | 1..1000 | train, finetune | yes |") != NULL,
          "markdown row of train.epochs");
    free(committed);
    free(generated);
}

int main(void)
{
    snprintf(temp_dir, sizeof temp_dir, "%s/gos_test_config.XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (mkdtemp(temp_dir) == NULL) {
        perror("test_config: mkdtemp");
        return EXIT_FAILURE;
    }
    test_layering();
    test_errors();
    test_fingerprint();
    test_shipped_experiments();
    test_schema_doc();
    remove_tree(temp_dir);
    return check_summary("test_config");
}
