/* test_train.c: the train stage's library end to end on a tiny slice of
 * Fashion-MNIST: an uninterrupted run; a run killed (SIGKILL) mid-training
 * that leaves no artifact under the real name and, resumed from its
 * checkpoint, ends bitwise identical to the uninterrupted one (one thread);
 * the same through --stop-after-epoch; a non-finite loss stopping with an
 * error naming the step; the training logits a baseline keeps for
 * distillation; and a missing dataset naming the file. */
#include "cfg.h"
#include "check.h"
#include "ds_experiment.h"
#include "test_tmpdir.h"
#include "h5io.h"
#include "ig.h"
#include "pl_err.h"
#include "pl_mem.h"
#include "trainer.h"

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[256];

static const char *path_in(const char *name)
{
    static char buf[4][512];
    static int next;
    char *b = buf[next++ % 4];
    snprintf(b, 512, "%s/%s", dir, name);
    return b;
}

/* An experiment file in experiments/ (its includes resolve there). */
static void write_experiment(const char *path, const char *extra)
{
    FILE *f = fopen(path, "w");
    fprintf(f, "@include \"common/defaults.cfg\"\n@include \"common/models/convnet.cfg\"\n"
               "@include \"common/data/fashion_mnist.cfg\"\nseed = 3;\nthreads = 1;\n"
               "model = { width = 0.25; dropout = 0.2; };\n"
               "train = { epochs = 3; batch_size = 32; progress = \"never\"; };\n%s", extra);
    fclose(f);
}

static int exists(const char *p) { return access(p, F_OK) == 0; }

static int run_train(const char *cfg_path, const char *artifact, const char *checkpoint,
                     int stop_after, train_result *result)
{
    cfg_experiment cfg;
    int rc = cfg_load(&cfg, cfg_path);
    if (rc < 0) return rc;
    train_options opt = {.cfg = &cfg, .artifact_path = artifact, .checkpoint_path = checkpoint,
                         .stop_after_epoch = stop_after, .progress = 0};
    rc = train_run(&opt, result);
    cfg_destroy(&cfg);
    return rc;
}

/* Compares a float or double dataset of two artifacts: bitwise (tolerance
 * 0), or every element within tolerance of the largest. */
static void same_dataset(const char *a, const char *b, const char *dset, int is_double,
                         double tolerance)
{
    h5io_reader ra, rb;
    CHECK(h5io_open(&ra, a, "gos.baseline") == PL_OK, "open %s: %s", a, pl_last_error());
    CHECK(h5io_open(&rb, b, "gos.baseline") == PL_OK, "open %s: %s", b, pl_last_error());
    int rank_a, rank_b;
    int64_t dims_a[H5IO_MAX_RANK], dims_b[H5IO_MAX_RANK];
    void *va = NULL, *vb = NULL;
    if (is_double) {
        h5io_read_f64_alloc(&ra, dset, (double **)&va, &rank_a, dims_a);
        h5io_read_f64_alloc(&rb, dset, (double **)&vb, &rank_b, dims_b);
    } else {
        h5io_read_f32_alloc(&ra, dset, (float **)&va, &rank_a, dims_a);
        h5io_read_f32_alloc(&rb, dset, (float **)&vb, &rank_b, dims_b);
    }
    CHECK(va && vb && rank_a == 1 && rank_b == 1 && dims_a[0] == dims_b[0] && dims_a[0] > 0,
          "%s: shapes differ", dset);
    if (va && vb && dims_a[0] == dims_b[0] && tolerance == 0)
        CHECK(memcmp(va, vb, (size_t)dims_a[0] * (is_double ? 8 : 4)) == 0,
              "%s differs between %s and %s", dset, a, b);
    if (va && vb && dims_a[0] == dims_b[0] && tolerance > 0) {
        double diff = 0, scale = 0;
        for (int64_t i = 0; i < dims_a[0]; i++) {
            double x = is_double ? ((double *)va)[i] : ((float *)va)[i];
            double y = is_double ? ((double *)vb)[i] : ((float *)vb)[i];
            scale = fmax(scale, fabs(x));
            diff = fmax(diff, fabs(x - y));
        }
        CHECK(diff <= tolerance * scale, "%s differs between %s and %s by %g (of %g)", dset, a,
              b, diff, scale);
    }
    pl_free(va);
    pl_free(vb);
    h5io_close(&ra);
    h5io_close(&rb);
}

/* Overwrites element index of the float dataset dset of an artifact with
 * value (index < 0: every element); 0 on success. */
static int overwrite_f32(const char *path, const char *dset, long index, float value)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) return -1;
    hid_t d = H5Dopen2(f, dset, H5P_DEFAULT);
    hid_t space = d >= 0 ? H5Dget_space(d) : -1;
    hssize_t n = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    int rc = -1;
    if (n > index) {
        float *v = malloc((size_t)n * sizeof *v);
        rc = H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0 ? -1 : 0;
        for (hssize_t i = 0; i < n; i++)
            if (index < 0 || i == index) v[i] = value;
        if (rc == 0) rc = H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0 ? -1 : 0;
        free(v);
    }
    if (space >= 0) H5Sclose(space);
    if (d >= 0) H5Dclose(d);
    H5Fclose(f);
    return rc;
}

/* Overwrites /graph/params of an artifact with NaN; 0 on success. */
static int poison_params(const char *path) { return overwrite_f32(path, "/graph/params", -1, NAN); }

static int copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    int rc = in && out ? 0 : -1;
    char buf[65536];
    size_t n;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n) rc = -1;
    if (in) fclose(in);
    if (out && fclose(out) != 0) rc = -1;
    return rc;
}

/* Overwrites the int64 attribute obj@name of the file at path. */
static int set_attr_i64(const char *path, const char *obj, const char *name, int64_t value)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) return -1;
    /* Through the object: HDF5 1.10's H5Aopen_by_name handle cannot write. */
    hid_t o = H5Oopen(f, obj, H5P_DEFAULT);
    hid_t a = o >= 0 ? H5Aopen(o, name, H5P_DEFAULT) : -1;
    int rc = a >= 0 && H5Awrite(a, H5T_NATIVE_INT64, &value) >= 0 ? 0 : -1;
    if (a >= 0) H5Aclose(a);
    if (o >= 0) H5Oclose(o);
    H5Fclose(f);
    return rc;
}

/* h5io_read_model on the baseline, then on a copy whose logits node is out
 * of range: refused, naming the file. */
static void check_read_model(const char *baseline, const char *bad)
{
    ig_graph *g = NULL;
    int in = -1, logits = -1;
    int rc = h5io_read_model(baseline, "gos.baseline", "/data", &g, &in, &logits);
    CHECK(rc == PL_OK && g && g->nodes[in].op == IG_OP_INPUT && logits > in,
          "read the model back: %s", pl_last_error());
    ig_graph_free(g);
    g = NULL;
    CHECK(copy_file(baseline, bad) == 0 && set_attr_i64(bad, "/data", "logits_node", 100000) == 0,
          "make a baseline with a bad logits node");
    rc = h5io_read_model(bad, "gos.baseline", "/data", &g, &in, &logits);
    CHECK(rc == PL_ERR_SCHEMA && g == NULL && strstr(pl_last_error(), bad) &&
              strstr(pl_last_error(), "logits node 100000"),
          "a logits node out of range is refused: %s", pl_last_error());
}

/* Fine-tuning by distillation alone (distill_weight 1: the labels unused)
 * from the trained baseline as teacher: a student with fresh random weights
 * learns the task from the teacher's outputs (its test accuracy rises far
 * above chance); a teacher of another input shape is refused. */
static void check_distillation(const char *cfg_path, const char *teacher_path,
                               double teacher_accuracy)
{
    ig_graph *teacher = NULL;
    int tin = -1, tlogits = -1;
    CHECK(h5io_read_model(teacher_path, "gos.baseline", "/data", &teacher, &tin, &tlogits) ==
              PL_OK, "read the teacher: %s", pl_last_error());
    if (!teacher) return;
    ig_graph *student = ig_graph_copy(teacher, -1, NULL);
    ig_graph_init_params(student, 12345);
    cfg_experiment cfg;
    CHECK(cfg_load(&cfg, cfg_path) == PL_OK, "config: %s", pl_last_error());
    cfg_train recipe = cfg.train;
    recipe.lr = 0.05;
    recipe.epochs = 10;
    train_options opt = {.cfg = &cfg, .initial = student, .initial_input = tin,
                         .initial_logits = tlogits, .recipe = &recipe, .stage = "finetune",
                         .schema = "gos.adapted", .artifact_path = path_in("distilled.h5"),
                         .teacher = teacher, .teacher_input = tin, .teacher_logits = tlogits,
                         .distill_weight = 1.0, .distill_temperature = 2.0};
    train_result r;
    int rc = train_run(&opt, &r);
    CHECK(rc == PL_OK && r.test_accuracy > 0.25,
          "distilled student: test accuracy %.3f (teacher %.3f): %s", r.test_accuracy,
          teacher_accuracy, rc < 0 ? pl_last_error() : "ok");

    ig_graph *other = ig_graph_alloc();
    int x = ig_input(other, 1, 20, 20);
    int f = ig_flatten(other, x);
    int z = ig_linear(other, f, 10, 1);
    CHECK(x >= 0 && f >= 0 && z >= 0 && ig_graph_finalize(other) == PL_OK, "other teacher");
    opt.teacher = other;
    opt.teacher_input = x;
    opt.teacher_logits = z;
    opt.artifact_path = path_in("mismatch.h5");
    rc = train_run(&opt, &r);
    CHECK(rc == PL_ERR_SHAPE && strstr(pl_last_error(), "teacher") && !exists(path_in("mismatch.h5")),
          "a teacher of another shape is refused: %s", pl_last_error());
    ig_graph_free(other);
    ig_graph_free(student);
    ig_graph_free(teacher);
    cfg_destroy(&cfg);
}

/* The weights and curves of two artifacts are the same: bitwise (tolerance
 * 0), or within tolerance of the largest element. */
static void same_result(const char *a, const char *b, double tolerance)
{
    same_dataset(a, b, "/graph/params", 0, tolerance);
    same_dataset(a, b, "/graph/state", 0, tolerance);
    same_dataset(a, b, "/train/loss", 1, tolerance);
    if (tolerance == 0) same_dataset(a, b, "/train/val_accuracy", 1, 0);
}

/* The largest difference between the float dataset dset of two artifacts
 * (of one shape), or -1 when they cannot be read. */
static double largest_difference(const char *a, const char *b, const char *dset)
{
    h5io_reader ra, rb;
    float *va = NULL, *vb = NULL;
    int rank_a = 0, rank_b = 0;
    int64_t dims_a[H5IO_MAX_RANK] = {0}, dims_b[H5IO_MAX_RANK] = {0};
    if (h5io_open(&ra, a, NULL) == PL_OK) {
        h5io_read_f32_alloc(&ra, dset, &va, &rank_a, dims_a);
        h5io_close(&ra);
    }
    if (h5io_open(&rb, b, NULL) == PL_OK) {
        h5io_read_f32_alloc(&rb, dset, &vb, &rank_b, dims_b);
        h5io_close(&rb);
    }
    double diff = va && vb && rank_a == 1 && dims_a[0] == dims_b[0] ? 0 : -1;
    for (int64_t i = 0; diff >= 0 && i < dims_a[0]; i++) diff = fmax(diff, fabs(va[i] - vb[i]));
    pl_free(va);
    pl_free(vb);
    return diff;
}

/* Fine-tunes a fresh student of teacher by distillation alone into
 * artifact (gos.baseline layout, so same_result reads it), the teacher's
 * logits read from table (rows) when it is not NULL. */
static int distil(const char *cfg_path, const char *teacher_path, const float *table, int64_t rows,
                  const char *artifact)
{
    ig_graph *teacher = NULL;
    int tin = -1, tlogits = -1;
    int rc = h5io_read_model(teacher_path, "gos.baseline", "/data", &teacher, &tin, &tlogits);
    if (rc < 0) return rc;
    ig_graph *student = ig_graph_copy(teacher, -1, NULL);
    ig_graph_init_params(student, 12345);
    cfg_experiment cfg;
    rc = cfg_load(&cfg, cfg_path);
    if (rc == PL_OK) {
        cfg_train recipe = cfg.train;
        recipe.epochs = 2;
        train_options opt = {.cfg = &cfg, .initial = student, .initial_input = tin,
                             .initial_logits = tlogits, .recipe = &recipe, .stage = "finetune",
                             .schema = "gos.baseline", .artifact_path = artifact,
                             .teacher = teacher, .teacher_input = tin, .teacher_logits = tlogits,
                             .distill_weight = 1.0, .distill_temperature = 2.0,
                             .teacher_table = table, .teacher_rows = rows};
        train_result r;
        rc = train_run(&opt, &r);
        cfg_destroy(&cfg);
    }
    ig_graph_free(student);
    ig_graph_free(teacher);
    return rc;
}

/* The table's rows for training images idx (count) equal the baseline's
 * outputs on them. */
static void check_rows_are_outputs(const char *cfg_path, const char *baseline, const float *table,
                                   const int32_t *idx, int count)
{
    ig_graph *g = NULL;
    int in = -1, logits = -1;
    cfg_experiment cfg;
    ds_experiment data;
    memset(&data, 0, sizeof data);
    int rc = cfg_load(&cfg, cfg_path);
    if (rc == PL_OK) rc = h5io_read_model(baseline, "gos.baseline", "/data", &g, &in, &logits);
    if (rc == PL_OK) rc = ds_experiment_load(&data, &cfg, count);
    if (rc == PL_OK) rc = ig_graph_plan_inference(g, count);
    CHECK(rc == PL_OK, "run the baseline on training images: %s", pl_last_error());
    if (rc == PL_OK) {
        ds_experiment_batch(&data, &data.train, idx, count, 0, 0, 0, ig_value(g, in), NULL);
        ig_forward(g, NULL);
        const int K = g->nodes[logits].shape.c;
        const float *z = ig_value(g, logits);
        double diff = 0, scale = 0;
        for (int i = 0; i < count; i++)
            for (int k = 0; k < K; k++) {
                scale = fmax(scale, fabs(z[i * K + k]));
                diff = fmax(diff, fabs((double)z[i * K + k] - table[(size_t)idx[i] * K + k]));
            }
        CHECK(scale > 0 && diff <= 1e-5 * scale,
              "/data/train_logits rows are the baseline's outputs: max |difference| %g of %g",
              diff, scale);
    }
    ds_experiment_free(&data);
    ig_graph_free(g);
    cfg_destroy(&cfg);
}

/* Without augmentation the train stage keeps the model's logits on the
 * training images (/data/train_logits; none with augmentation, in
 * augmented): they are its outputs on those images; distillation reading
 * them trains as running the teacher does (to the last bits, which depend
 * on the other images in a batch); a table that is not the
 * teacher's (every logit shifted) or of another row count is not used (the
 * same result again), while one wrong past the first batch (which checks
 * it) is read: the weights differ; a value not finite or a shape that does not fit the
 * training images is an error naming the file and the dataset. */
static void check_logits_table(const char *cfg_path, const char *augmented)
{
    float *table = NULL;
    int64_t rows = -1;
    CHECK(train_read_logits(augmented, &table, &rows) == PL_OK && !table && rows == 0,
          "an augmented run's baseline has no training logits: %s", pl_last_error());

    char plain[512], ran[512], read[512], shifted[512], bad[512];
    snprintf(plain, sizeof plain, "%s", path_in("plain.h5"));
    snprintf(ran, sizeof ran, "%s", path_in("distil_ran.h5"));
    snprintf(read, sizeof read, "%s", path_in("distil_read.h5"));
    snprintf(shifted, sizeof shifted, "%s", path_in("distil_shifted.h5"));
    snprintf(bad, sizeof bad, "%s", path_in("bad_logits.h5"));
    train_result r;
    CHECK(run_train(cfg_path, plain, NULL, 0, &r) == PL_OK, "train without augmentation: %s",
          pl_last_error());
    CHECK(train_read_logits(plain, &table, &rows) == PL_OK && table && rows == 256,
          "the baseline's training logits: %lld rows: %s", (long long)rows, pl_last_error());
    if (!table) return;
    const int32_t idx[8] = {0, 1, 2, 100, 101, 200, 254, 255};
    check_rows_are_outputs(cfg_path, plain, table, idx, 8);

    CHECK(distil(cfg_path, plain, NULL, 0, ran) == PL_OK, "distil, the teacher running: %s",
          pl_last_error());
    CHECK(distil(cfg_path, plain, table, rows, read) == PL_OK, "distil from the table: %s",
          pl_last_error());
    same_result(ran, read, 1e-4); /* the rows differ from the teacher's own in the last bits:
                                     its batches hold other images */
    for (int64_t i = 0; i < rows * 10; i++) table[i] += 0.5f;
    CHECK(distil(cfg_path, plain, table, rows, shifted) == PL_OK, "distil, a wrong table: %s",
          pl_last_error());
    same_result(ran, shifted, 0);
    for (int64_t i = 0; i < rows * 10; i++) table[i] -= 0.5f;
    /* rows wrong (negated) but for the first batch's (epoch 1's first 32
     * images): the check passes, and the later batches read them */
    int32_t order[256];
    ds_epoch_order(order, 256, 3, 0);
    float *wrong = pl_xmalloc((size_t)rows * 10 * sizeof *wrong);
    for (int64_t i = 0; i < rows * 10; i++) wrong[i] = -table[i];
    for (int i = 0; i < 32; i++)
        memcpy(wrong + order[i] * 10, table + order[i] * 10, 10 * sizeof *wrong);
    CHECK(distil(cfg_path, plain, wrong, rows, shifted) == PL_OK, "distil, a table wrong later: %s",
          pl_last_error());
    double diff = largest_difference(ran, shifted, "/graph/params");
    CHECK(diff > 1e-2, "a table wrong past the first batch is read: weights %g apart", diff);
    pl_free(wrong);
    CHECK(distil(cfg_path, plain, table, rows - 1, shifted) == PL_OK, "distil, a short table: %s",
          pl_last_error());
    same_result(ran, shifted, 0);
    pl_free(table);

    CHECK(copy_file(plain, bad) == 0 && overwrite_f32(bad, "/data/train_logits", 37, NAN) == 0,
          "make a baseline with a NaN logit");
    int rc = train_read_logits(bad, &table, &rows);
    CHECK(rc == PL_ERR_NUMERIC && !table && strstr(pl_last_error(), bad) &&
              strstr(pl_last_error(), "/data/train_logits") && strstr(pl_last_error(), "image 3"),
          "a NaN training logit is an error naming the file and dataset: %s", pl_last_error());
    CHECK(copy_file(plain, bad) == 0 && set_attr_i64(bad, "/metrics", "train_images", 100) == 0,
          "make a baseline whose logits do not fit its training images");
    rc = train_read_logits(bad, &table, &rows);
    CHECK(rc == PL_ERR_SCHEMA && !table && strstr(pl_last_error(), bad) &&
              strstr(pl_last_error(), "/data/train_logits"),
          "logits of another shape are an error naming the file and dataset: %s", pl_last_error());
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/gos_test_train.XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    char cfg_path[256];
    snprintf(cfg_path, sizeof cfg_path, "experiments/_test_train_%d.cfg", (int)getpid());
    write_experiment(cfg_path, "data = { train_images = 256; validation_images = 64; "
                               "test_images = 128; augment = true; };\n");

    /* 1. Uninterrupted. */
    train_result whole;
    int rc = run_train(cfg_path, path_in("whole.h5"), path_in("whole.ckpt.h5"), 0, &whole);
    CHECK(rc == PL_OK, "uninterrupted run: %s", pl_last_error());
    CHECK(whole.epochs_done == 3 && !whole.stopped_early && whole.resumed_from == 0,
          "uninterrupted: %d epochs", whole.epochs_done);
    CHECK(whole.test_accuracy > 0.2, "uninterrupted run learned nothing (%.3f)", whole.test_accuracy);
    CHECK(h5io_check(path_in("whole.h5"), NULL, 0) == PL_OK, "baseline valid: %s", pl_last_error());
    CHECK(!exists(path_in("whole.ckpt.h5")), "checkpoint removed after a complete run");
    {
        char whole_path[512];
        snprintf(whole_path, sizeof whole_path, "%s", path_in("whole.h5"));
        check_read_model(whole_path, path_in("badnodes.h5"));
        check_distillation(cfg_path, whole_path, whole.test_accuracy);
    }

    /* 2. Killed mid-run, then resumed. */
    fflush(stdout);
    pid_t child = fork();
    if (child == 0) {
        train_result r;
        _exit(run_train(cfg_path, path_in("killed.h5"), path_in("killed.ckpt.h5"), 0, &r) ? 1 : 0);
    }
    struct timespec nap = {0, 2 * 1000 * 1000};
    int waited = 0;
    while (!exists(path_in("killed.ckpt.h5")) && waited++ < 30000 &&
           waitpid(child, NULL, WNOHANG) == 0)
        nanosleep(&nap, NULL);
    kill(child, SIGKILL);
    int status;
    waitpid(child, &status, 0);
    CHECK(WIFSIGNALED(status), "the child finished before it could be killed");
    CHECK(!exists(path_in("killed.h5")), "a killed run left an artifact under the real name");
    CHECK(exists(path_in("killed.ckpt.h5")), "no checkpoint after the first epoch");
    train_result resumed;
    rc = run_train(cfg_path, path_in("killed.h5"), path_in("killed.ckpt.h5"), 0, &resumed);
    CHECK(rc == PL_OK, "resume after kill: %s", pl_last_error());
    CHECK(resumed.resumed_from >= 1, "did not resume (from %d)", resumed.resumed_from);
    same_result(path_in("whole.h5"), path_in("killed.h5"), 0);

    /* 3. Stopped after epoch 1 as asked, then resumed. */
    train_result part;
    rc = run_train(cfg_path, path_in("stopped.h5"), path_in("stopped.ckpt.h5"), 1, &part);
    CHECK(rc == PL_OK && part.stopped_early && part.epochs_done == 1, "stop after epoch 1");
    CHECK(!exists(path_in("stopped.h5")) && exists(path_in("stopped.ckpt.h5")),
          "stopping leaves a checkpoint and no artifact");
    rc = run_train(cfg_path, path_in("stopped.h5"), path_in("stopped.ckpt.h5"), 0, &part);
    CHECK(rc == PL_OK && part.resumed_from == 1, "resume after stop: %s", pl_last_error());
    same_result(path_in("whole.h5"), path_in("stopped.h5"), 0);

    /* 4. A different config ignores the checkpoint instead of resuming it. */
    run_train(cfg_path, path_in("other.h5"), path_in("other.ckpt.h5"), 1, &part);
    write_experiment(cfg_path, "data = { train_images = 256; validation_images = 64; "
                               "test_images = 128; augment = true; };\n"
                               "overrides = { train = { lr = 0.05; }; };\n");
    rc = run_train(cfg_path, path_in("other.h5"), path_in("other.ckpt.h5"), 0, &part);
    CHECK(rc == PL_OK && part.resumed_from == 0, "a checkpoint of another config was resumed");

    /* 5. A non-finite loss stops with the step named: resume from a
     * checkpoint whose weights were overwritten with NaN. */
    write_experiment(cfg_path, "data = { train_images = 256; validation_images = 64; "
                               "test_images = 128; };\n");
    rc = run_train(cfg_path, path_in("nan.h5"), path_in("nan.ckpt.h5"), 1, &part);
    CHECK(rc == PL_OK && poison_params(path_in("nan.ckpt.h5")) == 0, "poison the checkpoint");
    rc = run_train(cfg_path, path_in("nan.h5"), path_in("nan.ckpt.h5"), 0, &part);
    CHECK(rc == PL_ERR_NUMERIC && strstr(pl_last_error(), "epoch 2 step 1") &&
              strstr(pl_last_error(), "loss is nan"),
          "non-finite loss: rc %d, '%s'", rc, pl_last_error());
    CHECK(!exists(path_in("nan.h5")), "a diverged run left an artifact");

    /* 6. The training logits of a baseline trained without augmentation. */
    check_logits_table(cfg_path, path_in("whole.h5"));

    /* 7. A dataset directory without the files. */
    char extra[512];
    snprintf(extra, sizeof extra, "data = { path = \"%s\"; };\n", dir);
    write_experiment(cfg_path, extra);
    rc = run_train(cfg_path, path_in("nodata.h5"), path_in("nodata.ckpt.h5"), 0, &part);
    CHECK(rc < 0 && strstr(pl_last_error(), "train-images-idx3-ubyte.gz") &&
              strstr(pl_last_error(), "dataset-fashion-mnist"),
          "missing dataset: '%s'", pl_last_error());

    remove(cfg_path);
    remove_tree(dir);
    return check_summary("test_train");
}
