/* test_cifar.c: CIFAR-10 in its binary version. Small generated folders of
 * data_batch_1.bin .. data_batch_5.bin and test_batch.bin (a few 3073-byte
 * records each, in a mkdtemp directory) check the loader: pixels, labels and
 * per-channel normalization, record order across files, limits, a full-size
 * (10000-record, sparse) file, and every error path with the file named in
 * the message (missing folder or batch, truncated record, a size that is not
 * a multiple of 3073, oversized and empty files, unequal training batches,
 * label 10). Then the per-channel black padding of the augmentation, the
 * config error for a CIFAR-10 experiment without data.path, and a tiny
 * training run through train_run on a generated folder: its baseline
 * artifact records /data/mean and /data/std of shape [3], and a second run
 * with the same seed is bitwise identical. Runs from the repository root
 * (the experiment file lives in experiments/ for its @include lines). */
#include "cfg.h"
#include "check.h"
#include "test_tmpdir.h"
#include "ds_data.h"
#include "h5io.h"
#include "pl_err.h"
#include "pl_mem.h"
#include "trainer.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { REC = DS_CIFAR10_RECORD_BYTES, PIX = 3072, PLANE = 1024 };

static char tmp_dir[64];

/* tmp_dir/rel in a rotating set of 8 static buffers: use it at once or copy. */
static const char *tmp_path(const char *rel)
{
    static char bufs[8][256];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", tmp_dir, rel);
    return b;
}

static const char *const batch_names[6] = {"data_batch_1.bin", "data_batch_2.bin",
                                           "data_batch_3.bin", "data_batch_4.bin",
                                           "data_batch_5.bin", "test_batch.bin"};

/* The generated content of record r of file f (0..4 training, 5 test). */
static uint8_t gen_label(int f, int r) { return (uint8_t)((3 * f + r) % 10); }
static uint8_t gen_pixel(int f, int r, int j)
{
    if (j % PLANE == 0) return 255; /* every channel starts with a white and a black pixel */
    if (j % PLANE == 1) return 0;
    return (uint8_t)((j * 37 + r * 101 + f * 53 + (j >> 7)) % 256);
}

/* Writes file f's `records` generated records to path. */
static void write_batch(const char *path, int f, int records)
{
    FILE *fp = fopen(path, "wb");
    PL_ASSERT(fp);
    uint8_t rec[REC];
    for (int r = 0; r < records; r++) {
        rec[0] = gen_label(f, r);
        for (int j = 0; j < PIX; j++) rec[1 + j] = gen_pixel(f, r, j);
        PL_ASSERT(fwrite(rec, 1, REC, fp) == REC);
    }
    PL_ASSERT(fclose(fp) == 0);
}

/* Makes tmp_dir/name holding the six files: train_records in each training
 * batch, test_records in the test batch. Returns the folder's path (static). */
static const char *make_folder(const char *name, int train_records, int test_records)
{
    static char dir[256];
    snprintf(dir, sizeof dir, "%s", tmp_path(name));
    PL_ASSERT(mkdir(dir, 0700) == 0);
    for (int f = 0; f < 6; f++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, batch_names[f]);
        write_batch(p, f, f < 5 ? train_records : test_records);
    }
    return dir;
}

static const char *file_in(const char *dir, int f)
{
    static char bufs[4][512];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, sizeof bufs[0], "%s/%s", dir, batch_names[f]);
    return b;
}

static int contains(const char *haystack, const char *needle)
{
    return strstr(haystack, needle) != NULL;
}

/* The call failed, its message holds every given piece, both sets are empty. */
#define EXPECT_ERROR(rc, a, b, ...)                                                      \
    do {                                                                                 \
        const char *pieces_[] = {__VA_ARGS__};                                           \
        CHECK((rc) < 0, "expected an error, got %d", (rc));                              \
        for (size_t k_ = 0; k_ < sizeof pieces_ / sizeof pieces_[0]; k_++)              \
            CHECK(contains(pl_last_error(), pieces_[k_]), "message \"%s\" lacks \"%s\"", \
                  pl_last_error(), pieces_[k_]);                                         \
        CHECK((a).images == NULL && (a).n == 0 && (b).images == NULL && (b).n == 0,      \
              "sets left zeroed after an error");                                        \
    } while (0)

/* Checks examples [0, count) of s against file records: example i is
 * record first + i of the file f_of(i). */
static void check_records(const ds_set *s, int count, int per_file, int first_file,
                          const char *what)
{
    float *want = pl_xmalloc((size_t)count * PIX * sizeof(float));
    int labels_ok = 1;
    for (int i = 0; i < count; i++) {
        int f = first_file + i / per_file, r = i % per_file;
        labels_ok &= s->labels[i] == gen_label(f, r);
        for (int ch = 0; ch < 3; ch++)
            for (int j = 0; j < PLANE; j++)
                want[(size_t)i * PIX + ch * PLANE + j] =
                    (float)((gen_pixel(f, r, ch * PLANE + j) / 255.0 - ds_cifar10_mean[ch]) /
                            ds_cifar10_std[ch]);
    }
    CHECK(labels_ok, "%s: labels", what);
    CHECK_ARRAYS_CLOSE(s->images, want, (size_t)count * PIX, 1e-6, 1e-6, what);
    pl_free(want);
}

static void test_round_trip(void)
{
    enum { TR = 3, TE = 4 };
    const char *dir = make_folder("ok", TR, TE);
    ds_set train, test;
    int rc = ds_load_cifar10(dir, &train, &test, 0, 0);
    CHECK(rc == PL_OK, "load: %s", pl_last_error());
    if (rc != PL_OK) return;
    CHECK(train.n == 5 * TR && test.n == TE, "sizes %d/%d", train.n, test.n);
    CHECK(train.c == 3 && train.h == 32 && train.w == 32 && train.classes == 10 &&
              test.c == 3 && test.h == 32 && test.w == 32 && test.classes == 10,
          "3x32x32, 10 classes");
    CHECK(strcmp(train.name, "cifar10-train") == 0 && strcmp(test.name, "cifar10-test") == 0,
          "names %s %s", train.name, test.name);
    const float m[3] = {0.4914f, 0.4822f, 0.4465f}, sd[3] = {0.2470f, 0.2435f, 0.2616f};
    int norm_ok = train.mean[3] == 0.0f && train.std[3] == 0.0f;
    for (int ch = 0; ch < 3; ch++)
        norm_ok &= train.mean[ch] == m[ch] && train.std[ch] == sd[ch] &&
                   test.mean[ch] == m[ch] && test.std[ch] == sd[ch];
    CHECK(norm_ok, "per-channel mean/std recorded (and nothing beyond channel 3)");
    /* Pixel 255 and 0 of each channel map through that channel's statistics. */
    for (int ch = 0; ch < 3; ch++) {
        CHECK_CLOSE(train.images[ch * PLANE], (1.0 - m[ch]) / sd[ch], 1e-6, 0,
                    "pixel 255 -> (1-mean[ch])/std[ch]");
        CHECK_CLOSE(train.images[ch * PLANE + 1], (0.0 - m[ch]) / sd[ch], 1e-6, 0,
                    "pixel 0 -> -mean[ch]/std[ch]");
    }
    check_records(&train, train.n, TR, 0, "train: the five batches in order");
    check_records(&test, test.n, TE, 5, "test batch");
    ds_set_free(&train);
    ds_set_free(&test);

    /* Limits: a prefix across file boundaries; above n keeps n; halves. */
    rc = ds_load_cifar10(dir, &train, &test, 4, 2);
    CHECK(rc == PL_OK && train.n == 4 && test.n == 2, "limits 4/2 (got %d/%d)", train.n, test.n);
    if (rc == PL_OK) {
        check_records(&train, 4, TR, 0, "limited train (into the second batch)");
        check_records(&test, 2, TE, 5, "limited test");
    }
    ds_set_free(&train);
    ds_set_free(&test);
    rc = ds_load_cifar10(dir, &train, &test, 100, 100);
    CHECK(rc == PL_OK && train.n == 5 * TR && test.n == TE, "limits above n keep n");
    ds_set_free(&train);
    ds_set_free(&test);
    rc = ds_load_cifar10(dir, NULL, &test, 0, 0);
    CHECK(rc == PL_OK && test.n == TE, "test half only");
    ds_set_free(&test);
    rc = ds_load_cifar10(dir, &train, NULL, 0, 0);
    CHECK(rc == PL_OK && train.n == 5 * TR, "train half only");
    ds_set_free(&train);

    /* A full-size test batch (10000 records, 30730000 bytes, sparse: all
     * zero, label 0) is accepted; the limit keeps its first records. */
    const char *full = tmp_path("full");
    PL_ASSERT(mkdir(full, 0700) == 0);
    FILE *fp = fopen(file_in(full, 5), "wb");
    PL_ASSERT(fp && fclose(fp) == 0);
    PL_ASSERT(truncate(file_in(full, 5), 30730000) == 0);
    rc = ds_load_cifar10(full, NULL, &test, 0, 3);
    CHECK(rc == PL_OK && test.n == 3 && test.labels[2] == 0, "10000 records: %s",
          pl_last_error());
    if (rc == PL_OK)
        CHECK_CLOSE(test.images[3 * PIX - 1], -m[2] / sd[2], 1e-6, 0, "zero pixel, blue");
    ds_set_free(&test);
}

static void test_errors(void)
{
    ds_set train, test;
    int rc;
    const char *hint = "cifar-10-binary.tar.gz", *folder = "cifar-10-batches-bin";

    char nodir[256];
    snprintf(nodir, sizeof nodir, "%s", tmp_path("no-such-dir"));
    rc = ds_load_cifar10(nodir, &train, &test, 0, 0);
    EXPECT_ERROR(rc, train, test, nodir, "no such directory", hint, folder, "data.path");
    CHECK(rc == PL_ERR_IO, "a missing folder is an i/o error (%d)", rc);
    rc = ds_load_cifar10("", &train, &test, 0, 0);
    EXPECT_ERROR(rc, train, test, "CIFAR-10 has no standard place", hint, folder);
    rc = ds_load_cifar10(NULL, &train, &test, 0, 0);
    EXPECT_ERROR(rc, train, test, "CIFAR-10 has no standard place");
    const char *ok = tmp_path("ok");
    rc = ds_load_cifar10(file_in(ok, 0), &train, &test, 0, 0);
    EXPECT_ERROR(rc, train, test, file_in(ok, 0), "not a directory");

    /* One folder per damage, from a good one of 3 records per file. */
    const char *dir = make_folder("missing3", 3, 3);
    PL_ASSERT(unlink(file_in(dir, 2)) == 0);
    rc = ds_load_cifar10(dir, &train, &test, 0, 0);
    EXPECT_ERROR(rc, train, test, file_in(dir, 2), "cannot open", "No such file", hint, folder,
                 "data.path");
    rc = ds_load_cifar10(dir, NULL, &test, 0, 0);
    CHECK(rc == PL_OK && test.n == 3, "the test half alone does not need the training batches");
    ds_set_free(&test);

    dir = make_folder("missing_test", 3, 3);
    PL_ASSERT(unlink(file_in(dir, 5)) == 0);
    rc = ds_load_cifar10(dir, &train, &test, 0, 0);
    EXPECT_ERROR(rc, train, test, file_in(dir, 5), "cannot open", hint);

    dir = make_folder("truncated", 3, 3);
    PL_ASSERT(truncate(file_in(dir, 3), 3 * REC - 100) == 0); /* 9119 bytes */
    rc = ds_load_cifar10(dir, &train, &test, 0, 0);
    EXPECT_ERROR(rc, train, test, file_in(dir, 3), "truncated",
                 "9119 bytes is not a whole number of 3073-byte records",
                 "2 records and 2973 bytes", "30730000");
    rc = ds_load_cifar10(dir, &train, &test, 1, 0); /* a limit still checks every file */
    EXPECT_ERROR(rc, train, test, file_in(dir, 3), "9119 bytes");

    dir = make_folder("extra_byte", 3, 3);
    FILE *fp = fopen(file_in(dir, 5), "ab");
    PL_ASSERT(fp && fputc(7, fp) != EOF && fclose(fp) == 0);
    rc = ds_load_cifar10(dir, &train, &test, 0, 0);
    EXPECT_ERROR(rc, train, test, file_in(dir, 5),
                 "9220 bytes is not a whole number of 3073-byte records");

    dir = make_folder("oversized", 3, 3);
    PL_ASSERT(truncate(file_in(dir, 0), 30730000 + REC) == 0);
    rc = ds_load_cifar10(dir, &train, &test, 0, 0);
    EXPECT_ERROR(rc, train, test, file_in(dir, 0), "oversized: 30733073 bytes",
                 "more than the 30730000");

    dir = make_folder("empty", 3, 3);
    PL_ASSERT(truncate(file_in(dir, 4), 0) == 0);
    rc = ds_load_cifar10(dir, &train, &test, 0, 0);
    EXPECT_ERROR(rc, train, test, file_in(dir, 4), "empty file");

    /* A truncation at a record boundary: caught by the unequal batches. */
    dir = make_folder("unequal", 3, 3);
    PL_ASSERT(truncate(file_in(dir, 1), 2 * REC) == 0);
    rc = ds_load_cifar10(dir, &train, &test, 0, 0);
    EXPECT_ERROR(rc, train, test, file_in(dir, 1), "2 records (6146 bytes)",
                 "data_batch_1.bin has 3", "same size");

    /* Label 10: in the kept part, and beyond the limit. */
    dir = make_folder("label10", 3, 3);
    fp = fopen(file_in(dir, 3), "r+b");
    PL_ASSERT(fp && fseek(fp, 2L * REC, SEEK_SET) == 0 && fputc(10, fp) != EOF &&
              fclose(fp) == 0);
    rc = ds_load_cifar10(dir, &train, &test, 0, 0);
    EXPECT_ERROR(rc, train, test, file_in(dir, 3), "label 10 of record 2 (byte offset 6146)",
                 "expected < 10 classes");
    rc = ds_load_cifar10(dir, &train, &test, 2, 0);
    EXPECT_ERROR(rc, train, test, file_in(dir, 3), "label 10 of record 2");

    /* The Python version's folder gets a hint. */
    const char *py = tmp_path("cifar-10-batches-py");
    PL_ASSERT(mkdir(py, 0700) == 0);
    char p[512];
    snprintf(p, sizeof p, "%s/data_batch_1", py);
    fp = fopen(p, "wb");
    PL_ASSERT(fp && fclose(fp) == 0);
    rc = ds_load_cifar10(py, &train, &test, 0, 0);
    EXPECT_ERROR(rc, train, test, "data_batch_1.bin", "looks like the Python version");
}

/* The crop's padding is a black pixel of each channel: -mean[ch]/std[ch]. */
static void test_augment_padding(void)
{
    ds_set train;
    int rc = ds_load_cifar10(tmp_path("ok"), &train, NULL, 2, 0);
    CHECK(rc == PL_OK, "load: %s", pl_last_error());
    if (rc != PL_OK) return;
    float *out = pl_xmalloc(PIX * sizeof(float)), *again = pl_xmalloc(PIX * sizeof(float));
    int32_t e = 1;
    int checked = 0, ok = 1;
    for (int64_t step = 0; step < 40; step++) {
        int dy, dx, flipped;
        ds_augment_params(5, step, e, 4, 1, &dy, &dx, &flipped);
        ds_gather_augmented(&train, &e, 1, out, NULL, 4, 1, 5, step);
        ds_gather_augmented(&train, &e, 1, again, NULL, 4, 1, 5, step);
        ok &= memcmp(out, again, PIX * sizeof(float)) == 0;
        for (int ch = 0; ch < 3; ch++) {
            float black = -ds_cifar10_mean[ch] / ds_cifar10_std[ch];
            const float *src = train.images + (size_t)e * PIX + ch * PLANE;
            for (int y = 0; y < 32; y++)
                for (int x = 0; x < 32; x++) {
                    int sy = y + dy, sx = (flipped ? 31 - x : x) + dx;
                    int inside = sy >= 0 && sy < 32 && sx >= 0 && sx < 32;
                    float want = inside ? src[sy * 32 + sx] : black;
                    ok &= out[ch * PLANE + y * 32 + x] == want;
                    checked += !inside;
                }
        }
    }
    CHECK(ok, "crop + mirror of a 3-channel image, padded per channel, deterministic");
    CHECK(checked > 0, "some padding was checked");
    pl_free(out);
    pl_free(again);
    ds_set_free(&train);
}

/* ---- through the trainer ------------------------------------------------- */

static void write_experiment(const char *path, const char *data)
{
    FILE *f = fopen(path, "w");
    PL_ASSERT(f);
    fprintf(f, "@include \"common/defaults.cfg\"\n@include \"common/models/convnet.cfg\"\n"
               "@include \"common/data/cifar10.cfg\"\nseed = 5;\nthreads = 1;\n"
               "model = { width = 0.25; };\n"
               "train = { epochs = 2; batch_size = 16; progress = \"never\"; };\n%s", data);
    PL_ASSERT(fclose(f) == 0);
}

/* Trains cfg_path's experiment into artifact (its checkpoint beside it). */
static int run_train(const char *cfg_path, const char *artifact, train_result *result)
{
    cfg_experiment cfg;
    int rc = cfg_load(&cfg, cfg_path);
    if (rc < 0) return rc;
    char checkpoint[512];
    snprintf(checkpoint, sizeof checkpoint, "%s.ckpt", artifact);
    train_options opt = {.cfg = &cfg, .artifact_path = artifact, .checkpoint_path = checkpoint,
                         .progress = 0};
    rc = train_run(&opt, result);
    cfg_destroy(&cfg);
    return rc;
}

/* Checks the /data group of the baseline at path. */
static void check_data_group(const char *path)
{
    h5io_reader r;
    int rc = h5io_open(&r, path, "gos.baseline");
    CHECK(rc == PL_OK, "open %s: %s", path, pl_last_error());
    if (rc != PL_OK) return;
    int rank = 0;
    int64_t dims[H5IO_MAX_RANK] = {0};
    CHECK(h5io_dataset_shape(&r, "/data/mean", &rank, dims) == PL_OK && rank == 1 &&
              dims[0] == 3, "/data/mean has shape [3] (rank %d, %lld)", rank, (long long)dims[0]);
    double mean[3] = {0}, std[3] = {0};
    int64_t three[1] = {3};
    CHECK(h5io_read_f64(&r, "/data/mean", mean, 1, three) == PL_OK &&
              h5io_read_f64(&r, "/data/std", std, 1, three) == PL_OK,
          "read /data/mean, /data/std: %s", pl_last_error());
    for (int ch = 0; ch < 3; ch++) {
        CHECK_CLOSE(mean[ch], ds_cifar10_mean[ch], 1e-7, 0, "/data/mean");
        CHECK_CLOSE(std[ch], ds_cifar10_std[ch], 1e-7, 0, "/data/std");
    }
    int64_t c = 0, h = 0, classes = 0;
    char *name = NULL;
    CHECK(h5io_read_attr_i64(&r, "/data", "input_c", &c) == PL_OK && c == 3 &&
              h5io_read_attr_i64(&r, "/data", "input_h", &h) == PL_OK && h == 32 &&
              h5io_read_attr_i64(&r, "/data", "classes", &classes) == PL_OK && classes == 10,
          "input 3x32, 10 classes (%lld, %lld, %lld)", (long long)c, (long long)h,
          (long long)classes);
    CHECK(h5io_read_attr_string(&r, "/data", "dataset", &name) == PL_OK && name &&
              strcmp(name, "cifar10") == 0, "/data@dataset '%s'", name ? name : "");
    pl_free(name);
    h5io_close(&r);
}

/* 1 when the float datasets dset of artifacts a and b are bitwise equal. */
static int same_floats(const char *a, const char *b, const char *dset)
{
    h5io_reader ra, rb;
    if (h5io_open(&ra, a, "gos.baseline") < 0) return 0;
    if (h5io_open(&rb, b, "gos.baseline") < 0) {
        h5io_close(&ra);
        return 0;
    }
    float *va = NULL, *vb = NULL;
    int rank_a = 0, rank_b = 0;
    int64_t da[H5IO_MAX_RANK] = {0}, db[H5IO_MAX_RANK] = {0};
    int same = h5io_read_f32_alloc(&ra, dset, &va, &rank_a, da) == PL_OK &&
               h5io_read_f32_alloc(&rb, dset, &vb, &rank_b, db) == PL_OK && rank_a == 1 &&
               rank_b == 1 && da[0] == db[0] && da[0] > 0 &&
               memcmp(va, vb, (size_t)da[0] * sizeof(float)) == 0;
    pl_free(va);
    pl_free(vb);
    h5io_close(&ra);
    h5io_close(&rb);
    return same;
}

static void test_train(void)
{
    const char *dir = make_folder("train_run", 24, 32); /* 120 training, 32 test images */
    char dir_copy[256], cfg_path[256], data[512];
    snprintf(dir_copy, sizeof dir_copy, "%s", dir);
    snprintf(cfg_path, sizeof cfg_path, "experiments/_test_cifar_%d.cfg", (int)getpid());

    /* No data.path: a config error at the data group of cifar10.cfg. */
    write_experiment(cfg_path, "");
    cfg_experiment cfg;
    int rc = cfg_load(&cfg, cfg_path);
    CHECK(rc == PL_ERR_CONFIG && contains(pl_last_error(), "common/data/cifar10.cfg:") &&
              contains(pl_last_error(), "data.path: CIFAR-10 has no standard place"),
          "no data.path: rc %d, '%s'", rc, pl_last_error());
    cfg_destroy(&cfg);

    /* A folder without the files: the trainer names the missing one. */
    snprintf(data, sizeof data, "data = { path = \"%s\"; };\n", tmp_path("no-such-dir"));
    write_experiment(cfg_path, data);
    train_result result;
    rc = run_train(cfg_path, tmp_path("nodata.h5"), &result);
    CHECK(rc < 0 && contains(pl_last_error(), "no-such-dir") &&
              contains(pl_last_error(), "cifar-10-binary.tar.gz"),
          "missing folder: '%s'", pl_last_error());

    snprintf(data, sizeof data, "data = { path = \"%s\"; validation_images = 24; };\n",
             dir_copy);
    write_experiment(cfg_path, data);
    rc = run_train(cfg_path, tmp_path("a.h5"), &result);
    CHECK(rc == PL_OK, "train on generated CIFAR-10: %s", pl_last_error());
    CHECK(result.epochs_done == 2, "2 epochs (%d)", result.epochs_done);
    CHECK(h5io_check(tmp_path("a.h5"), NULL, 0) == PL_OK, "baseline valid: %s",
          pl_last_error());
    check_data_group(tmp_path("a.h5"));

    /* Same seed, same augmented run, bitwise. */
    rc = run_train(cfg_path, tmp_path("b.h5"), &result);
    CHECK(rc == PL_OK, "second run: %s", pl_last_error());
    CHECK(same_floats(tmp_path("a.h5"), tmp_path("b.h5"), "/graph/params") &&
              same_floats(tmp_path("a.h5"), tmp_path("b.h5"), "/graph/state"),
          "two runs with the same seed give the same weights");
    remove(cfg_path);
}

int main(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/gos_test_cifar_XXXXXX");
    PL_ASSERT(mkdtemp(tmp_dir) != NULL);
    test_round_trip();
    test_errors();
    test_augment_padding();
    test_train();
    remove_tree(tmp_dir);
    return check_summary("test_cifar");
}
