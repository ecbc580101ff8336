/* test_train.c: the train stage's library end to end on a tiny slice of
 * Fashion-MNIST: an uninterrupted run; a run killed (SIGKILL) mid-training
 * that leaves no artifact under the real name and, resumed from its
 * checkpoint, ends bitwise identical to the uninterrupted one (one thread);
 * the same through --stop-after-epoch; a non-finite loss stopping with an
 * error naming the step; and a missing dataset naming the file. */
#include "cfg.h"
#include "check.h"
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

/* Compares a float or double dataset of two artifacts bitwise. */
static void same_dataset(const char *a, const char *b, const char *dset, int is_double)
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
    if (va && vb && dims_a[0] == dims_b[0])
        CHECK(memcmp(va, vb, (size_t)dims_a[0] * (is_double ? 8 : 4)) == 0,
              "%s differs between the resumed and the uninterrupted run", dset);
    pl_free(va);
    pl_free(vb);
    h5io_close(&ra);
    h5io_close(&rb);
}

/* Overwrites /graph/params of an artifact with NaN; 0 on success. */
static int poison_params(const char *path)
{
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    if (f < 0) return -1;
    hid_t d = H5Dopen2(f, "/graph/params", H5P_DEFAULT);
    hid_t space = d >= 0 ? H5Dget_space(d) : -1;
    hssize_t n = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    int rc = -1;
    if (n > 0) {
        float *v = malloc((size_t)n * sizeof *v);
        for (hssize_t i = 0; i < n; i++) v[i] = NAN;
        rc = H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0 ? -1 : 0;
        free(v);
    }
    if (space >= 0) H5Sclose(space);
    if (d >= 0) H5Dclose(d);
    H5Fclose(f);
    return rc;
}

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

static void same_result(const char *a, const char *b)
{
    same_dataset(a, b, "/graph/params", 0);
    same_dataset(a, b, "/graph/state", 0);
    same_dataset(a, b, "/train/loss", 1);
    same_dataset(a, b, "/train/val_accuracy", 1);
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
    same_result(path_in("whole.h5"), path_in("killed.h5"));

    /* 3. Stopped after epoch 1 as asked, then resumed. */
    train_result part;
    rc = run_train(cfg_path, path_in("stopped.h5"), path_in("stopped.ckpt.h5"), 1, &part);
    CHECK(rc == PL_OK && part.stopped_early && part.epochs_done == 1, "stop after epoch 1");
    CHECK(!exists(path_in("stopped.h5")) && exists(path_in("stopped.ckpt.h5")),
          "stopping leaves a checkpoint and no artifact");
    rc = run_train(cfg_path, path_in("stopped.h5"), path_in("stopped.ckpt.h5"), 0, &part);
    CHECK(rc == PL_OK && part.resumed_from == 1, "resume after stop: %s", pl_last_error());
    same_result(path_in("whole.h5"), path_in("stopped.h5"));

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

    /* 6. A dataset directory without the files. */
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
