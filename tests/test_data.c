/* test_data.c: the data layer. Small gzipped IDX files written into a
 * mkdtemp directory check the IDX and Fashion-MNIST loaders (values, labels,
 * limits, normalization) and every error path with its message naming the
 * file; in-memory sets check the seeded split, the epoch orders, gathering and
 * the crop/mirror augmentation on hand-made images; and, when Debian's
 * dataset-fashion-mnist is installed, the real files' sizes, label histograms
 * and normalized statistics. */
#include "check.h"
#include "test_tmpdir.h"
#include "ds_data.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

static char tmp_dir[64];

/* tmp_dir/name in a rotating set of 8 static buffers: use it at once or copy. */
static const char *tmp_path(const char *name)
{
    static char bufs[8][256];
    static int next;
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof bufs[0], "%s/%s", tmp_dir, name);
    return b;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

/* Writes an IDX file (gzipped unless plain): magic, the dims, then payload. */
static void write_idx(const char *path, uint32_t magic, const uint32_t *dims, int ndims,
                      const uint8_t *payload, size_t payload_len, int plain)
{
    uint8_t header[16];
    put_be32(header, magic);
    for (int k = 0; k < ndims; k++) put_be32(header + 4 + 4 * k, dims[k]);
    size_t header_len = 4 + 4 * (size_t)ndims;
    if (plain) {
        FILE *f = fopen(path, "wb");
        PL_ASSERT(f);
        PL_ASSERT(fwrite(header, 1, header_len, f) == header_len);
        if (payload_len) PL_ASSERT(fwrite(payload, 1, payload_len, f) == payload_len);
        PL_ASSERT(fclose(f) == 0);
        return;
    }
    gzFile gz = gzopen(path, "wb");
    PL_ASSERT(gz);
    PL_ASSERT(gzwrite(gz, header, (unsigned)header_len) == (int)header_len);
    if (payload_len) PL_ASSERT(gzwrite(gz, payload, (unsigned)payload_len) == (int)payload_len);
    PL_ASSERT(gzclose(gz) == Z_OK);
}

static void write_images(const char *path, uint32_t magic, uint32_t n, uint32_t rows,
                         uint32_t cols, const uint8_t *pixels, size_t len)
{
    uint32_t dims[3] = {n, rows, cols};
    write_idx(path, magic, dims, 3, pixels, len, 0);
}

static void write_labels(const char *path, uint32_t magic, uint32_t n, const uint8_t *labels,
                         size_t len)
{
    uint32_t dims[1] = {n};
    write_idx(path, magic, dims, 1, labels, len, 0);
}

/* The small reference set: 6 images of 3x4 and their labels. */
enum { SN = 6, SH = 3, SW = 4, SP = SN * SH * SW };
static uint8_t small_pixels[SP + 16];
static uint8_t small_labels[SN + 16];

static void make_small_set(void)
{
    for (int j = 0; j < SP + 16; j++) small_pixels[j] = (uint8_t)((j * 37 + 11) % 256);
    small_pixels[0] = 255;
    small_pixels[1] = 0;
    for (int i = 0; i < SN + 16; i++) small_labels[i] = (uint8_t)(i % 10);
    small_labels[5] = 9;
    write_images(tmp_path("imgs.gz"), 0x803, SN, SH, SW, small_pixels, SP);
    write_labels(tmp_path("labs.gz"), 0x801, SN, small_labels, SN);
}

static int contains(const char *haystack, const char *needle)
{
    return strstr(haystack, needle) != NULL;
}

/* The call failed, its message holds every given piece, the set is empty. */
#define EXPECT_ERROR(rc, set, ...)                                                       \
    do {                                                                                 \
        const char *pieces_[] = {__VA_ARGS__};                                           \
        CHECK((rc) < 0, "expected an error, got %d", (rc));                              \
        for (size_t k_ = 0; k_ < sizeof pieces_ / sizeof pieces_[0]; k_++)              \
            CHECK(contains(pl_last_error(), pieces_[k_]), "message \"%s\" lacks \"%s\"", \
                  pl_last_error(), pieces_[k_]);                                         \
        CHECK((set).images == NULL && (set).labels == NULL && (set).n == 0,              \
              "set left zeroed after an error");                                         \
    } while (0)

static void test_round_trip(void)
{
    ds_set s;
    int rc = ds_load_idx(tmp_path("imgs.gz"), tmp_path("labs.gz"), &s, 0);
    CHECK(rc == PL_OK, "load: %s", pl_last_error());
    CHECK(s.n == SN && s.c == 1 && s.h == SH && s.w == SW && s.classes == 10,
          "shape %d,%d,%d,%d classes %d", s.n, s.c, s.h, s.w, s.classes);
    CHECK(s.mean[0] == 0.0f && s.std[0] == 1.0f && s.std[1] == 0.0f, "no normalization recorded");
    CHECK(strcmp(s.name, "imgs.gz") == 0, "name \"%s\"", s.name);
    float want[SP];
    for (int j = 0; j < SP; j++) want[j] = small_pixels[j] / 255.0f;
    CHECK_ARRAYS_CLOSE(s.images, want, SP, 1e-7, 0, "pixels / 255");
    int labels_ok = 1;
    for (int i = 0; i < SN; i++) labels_ok &= s.labels[i] == small_labels[i];
    CHECK(labels_ok, "labels round-trip");
    ds_set_free(&s);
    CHECK(s.images == NULL && s.n == 0, "ds_set_free zeroes the set");
    ds_set_free(&s); /* twice is harmless */

    rc = ds_load_idx(tmp_path("imgs.gz"), tmp_path("labs.gz"), &s, 2);
    CHECK(rc == PL_OK && s.n == 2, "limit 2 keeps 2 (n=%d)", s.n);
    CHECK_ARRAYS_CLOSE(s.images, want, 2 * SH * SW, 1e-7, 0, "limited pixels");
    CHECK(s.labels[0] == small_labels[0] && s.labels[1] == small_labels[1], "limited labels");
    ds_set_free(&s);
    rc = ds_load_idx(tmp_path("imgs.gz"), tmp_path("labs.gz"), &s, 100);
    CHECK(rc == PL_OK && s.n == SN, "limit above n keeps n (n=%d)", s.n);
    ds_set_free(&s);

    /* Uncompressed IDX files read the same way. */
    uint32_t dims[3] = {SN, SH, SW};
    write_idx(tmp_path("plain-imgs"), 0x803, dims, 3, small_pixels, SP, 1);
    write_idx(tmp_path("plain-labs"), 0x801, dims, 1, small_labels, SN, 1);
    rc = ds_load_idx(tmp_path("plain-imgs"), tmp_path("plain-labs"), &s, 0);
    CHECK(rc == PL_OK && s.n == SN, "plain IDX: %s", pl_last_error());
    if (rc == PL_OK) CHECK_ARRAYS_CLOSE(s.images, want, SP, 1e-7, 0, "plain pixels");
    ds_set_free(&s);
}

static void test_fashion_loader(void)
{
    const char *dir = tmp_path("fm");
    PL_ASSERT(mkdir(dir, 0700) == 0);
    char p[4][256];
    const char *names[4] = {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                            "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"};
    for (int k = 0; k < 4; k++) snprintf(p[k], sizeof p[k], "%s/%s", dir, names[k]);
    write_images(p[0], 0x803, SN, SH, SW, small_pixels, SP);
    write_labels(p[1], 0x801, SN, small_labels, SN);
    write_images(p[2], 0x803, 4, SH, SW, small_pixels + 5, 4 * SH * SW);
    write_labels(p[3], 0x801, 4, small_labels + 1, 4);

    ds_set train, test;
    int rc = ds_load_fashion_mnist(dir, &train, &test, 0, 0);
    CHECK(rc == PL_OK, "fashion load: %s", pl_last_error());
    const float m = DS_FASHION_MNIST_MEAN, sd = DS_FASHION_MNIST_STD;
    CHECK(train.n == SN && test.n == 4 && train.classes == 10, "sizes %d %d", train.n, test.n);
    CHECK(train.mean[0] == m && train.std[0] == sd && test.mean[0] == m && test.std[0] == sd,
          "normalization recorded");
    CHECK(strcmp(train.name, "fashion-mnist-train") == 0 &&
              strcmp(test.name, "fashion-mnist-test") == 0,
          "names %s %s", train.name, test.name);
    CHECK_CLOSE(train.images[0], (1.0 - m) / sd, 1e-6, 0, "pixel 255 -> (1-mean)/std");
    CHECK_CLOSE(train.images[1], (0.0 - m) / sd, 1e-6, 0, "pixel 0 -> -mean/std");
    float want[SP];
    for (int j = 0; j < SP; j++) want[j] = (float)((small_pixels[j] / 255.0 - m) / sd);
    CHECK_ARRAYS_CLOSE(train.images, want, SP, 1e-6, 0, "normalized train pixels");
    for (int j = 0; j < 4 * SH * SW; j++)
        want[j] = (float)((small_pixels[j + 5] / 255.0 - m) / sd);
    CHECK_ARRAYS_CLOSE(test.images, want, 4 * SH * SW, 1e-6, 0, "normalized test pixels");
    CHECK(test.labels[0] == small_labels[1] && test.labels[3] == small_labels[4], "test labels");
    ds_set_free(&train);
    ds_set_free(&test);

    rc = ds_load_fashion_mnist(dir, &train, &test, 3, 2);
    CHECK(rc == PL_OK && train.n == 3 && test.n == 2, "limits 3/2 (got %d/%d)", train.n, test.n);
    ds_set_free(&train);
    ds_set_free(&test);
    rc = ds_load_fashion_mnist(dir, NULL, &test, 0, 0);
    CHECK(rc == PL_OK && test.n == 4, "test half only");
    ds_set_free(&test);

    /* Missing directory, then one missing file: both named, with the hint. */
    const char *nodir = tmp_path("no-such-dir");
    rc = ds_load_fashion_mnist(nodir, &train, &test, 0, 0);
    EXPECT_ERROR(rc, train, nodir, "apt-get install dataset-fashion-mnist");
    PL_ASSERT(unlink(p[3]) == 0);
    rc = ds_load_fashion_mnist(dir, &train, &test, 0, 0);
    EXPECT_ERROR(rc, train, p[3], "apt-get install dataset-fashion-mnist");
    CHECK(test.images == NULL, "test left zeroed");
}

static void test_errors(void)
{
    ds_set s;
    char imgs[256], labs[256], big_labs[256];
    snprintf(imgs, sizeof imgs, "%s", tmp_path("imgs.gz"));
    snprintf(labs, sizeof labs, "%s", tmp_path("labs.gz"));
    snprintf(big_labs, sizeof big_labs, "%s", tmp_path("big-labs.gz"));
    int rc;

    const char *missing = tmp_path("missing.gz");
    rc = ds_load_idx(missing, labs, &s, 0);
    EXPECT_ERROR(rc, s, missing, "cannot open", "No such file");
    CHECK(rc == PL_ERR_IO, "missing file is an i/o error (%d)", rc);
    rc = ds_load_idx(imgs, missing, &s, 0);
    EXPECT_ERROR(rc, s, missing, "cannot open");

    const char *bad = tmp_path("bad-magic-imgs.gz");
    write_images(bad, 0x804, SN, SH, SW, small_pixels, SP);
    rc = ds_load_idx(bad, labs, &s, 0);
    EXPECT_ERROR(rc, s, bad, "bad magic 0x00000804 (expected 0x00000803, an IDX image file");
    rc = ds_load_idx(labs, imgs, &s, 0); /* swapped arguments */
    EXPECT_ERROR(rc, s, labs, "bad magic 0x00000801", "this is an IDX label file");
    bad = tmp_path("bad-magic-labs.gz");
    write_labels(bad, 0x803, SN, small_labels, SN);
    rc = ds_load_idx(imgs, bad, &s, 0);
    EXPECT_ERROR(rc, s, bad, "bad magic 0x00000803 (expected 0x00000801, an IDX label file");

    bad = tmp_path("five-labels.gz");
    write_labels(bad, 0x801, SN - 1, small_labels, SN - 1);
    rc = ds_load_idx(imgs, bad, &s, 0);
    EXPECT_ERROR(rc, s, bad, "label count 5 does not match the 6 images in", imgs);

    bad = tmp_path("short-imgs.gz");
    write_images(bad, 0x803, SN, SH, SW, small_pixels, SP - 9);
    rc = ds_load_idx(bad, labs, &s, 0);
    EXPECT_ERROR(rc, s, bad, "truncated: expected 72 bytes of pixels, got 63");
    rc = ds_load_idx(bad, labs, &s, 1); /* a limit still validates the size */
    EXPECT_ERROR(rc, s, bad, "truncated: expected 72 bytes of pixels");
    bad = tmp_path("short-labs.gz");
    write_labels(bad, 0x801, SN, small_labels, SN - 2);
    rc = ds_load_idx(imgs, bad, &s, 0);
    EXPECT_ERROR(rc, s, bad, "truncated: expected 6 bytes of labels, got 4");

    bad = tmp_path("trailing-imgs.gz");
    write_images(bad, 0x803, SN, SH, SW, small_pixels, SP + 5);
    rc = ds_load_idx(bad, labs, &s, 0);
    EXPECT_ERROR(rc, s, bad, "5 trailing bytes after the declared 72 bytes of pixels");
    bad = tmp_path("trailing-labs.gz");
    write_labels(bad, 0x801, SN, small_labels, SN + 2);
    rc = ds_load_idx(imgs, bad, &s, 0);
    EXPECT_ERROR(rc, s, bad, "2 trailing bytes after the declared 6 bytes of labels");

    uint8_t labels[SN];
    memcpy(labels, small_labels, SN);
    labels[3] = 10;
    bad = tmp_path("label-ten.gz");
    write_labels(bad, 0x801, SN, labels, SN);
    rc = ds_load_idx(imgs, bad, &s, 0);
    EXPECT_ERROR(rc, s, bad, "label 10 of example 3 is out of range (expected < 10 classes)");
    rc = ds_load_idx(imgs, bad, &s, 2); /* beyond the limit, still checked */
    EXPECT_ERROR(rc, s, bad, "label 10 of example 3");

    bad = tmp_path("zero-rows.gz");
    write_images(bad, 0x803, SN, 0, SW, small_pixels, 0);
    rc = ds_load_idx(bad, labs, &s, 0);
    EXPECT_ERROR(rc, s, bad, "bad image size 0 x 4");
    bad = tmp_path("no-images.gz");
    write_images(bad, 0x803, 0, SH, SW, small_pixels, 0);
    rc = ds_load_idx(bad, labs, &s, 0);
    EXPECT_ERROR(rc, s, bad, "holds no images");
    bad = tmp_path("short-header.gz");
    write_idx(bad, 0x803, (const uint32_t[]){SN}, 1, NULL, 0, 0);
    rc = ds_load_idx(bad, labs, &s, 0);
    EXPECT_ERROR(rc, s, bad, "truncated header: expected 16 bytes, got 8");

    /* A gzip stream cut in the middle, and one with a damaged CRC. */
    enum { BN = 100, BPIX = BN * 28 * 28 };
    uint8_t *noise = pl_xmalloc(BPIX);
    uint64_t x = 12345;
    for (int j = 0; j < BPIX; j++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        noise[j] = (uint8_t)(x >> 56);
    }
    uint8_t big_labels[BN];
    for (int i = 0; i < BN; i++) big_labels[i] = (uint8_t)(i % 10);
    write_labels(big_labs, 0x801, BN, big_labels, BN);
    const char *big = tmp_path("big-imgs.gz");
    write_images(big, 0x803, BN, 28, 28, noise, BPIX);
    rc = ds_load_idx(big, big_labs, &s, 0);
    CHECK(rc == PL_OK && s.n == BN, "the uncut noise file loads: %s", pl_last_error());
    ds_set_free(&s);
    bad = tmp_path("cut-imgs.gz");
    write_images(bad, 0x803, BN, 28, 28, noise, BPIX);
    PL_ASSERT(truncate(bad, 40000) == 0);
    rc = ds_load_idx(bad, big_labs, &s, 0);
    EXPECT_ERROR(rc, s, bad, "truncated: expected 78400 bytes of pixels, got",
                 "gzip stream ends early");
    bad = tmp_path("bad-crc-imgs.gz");
    write_images(bad, 0x803, BN, 28, 28, noise, BPIX);
    struct stat st;
    PL_ASSERT(stat(bad, &st) == 0);
    FILE *f = fopen(bad, "r+b");
    PL_ASSERT(f && fseek(f, (long)st.st_size - 8, SEEK_SET) == 0);
    int byte = fgetc(f);
    PL_ASSERT(fseek(f, (long)st.st_size - 8, SEEK_SET) == 0 && fputc(byte ^ 0xff, f) != EOF);
    PL_ASSERT(fclose(f) == 0);
    rc = ds_load_idx(bad, big_labs, &s, 0);
    EXPECT_ERROR(rc, s, bad, "corrupt gzip data");
    pl_free(noise);
}

/* ---- in-memory sets ---------------------------------------------------- */

/* n examples of c x h x w; example i holds i*100 + k at flat position k and
 * label i % 10, so content identifies the example. */
static ds_set toy_set(int n, int c, int h, int w)
{
    ds_set s = {.n = n, .c = c, .h = h, .w = w, .classes = 10, .mean = {0}, .std = {1, 1, 1, 1}};
    size_t per = (size_t)c * h * w;
    s.images = pl_xmalloc((size_t)n * per * sizeof(float));
    s.labels = pl_xmalloc((size_t)n * sizeof(int32_t));
    for (int i = 0; i < n; i++) {
        for (size_t k = 0; k < per; k++) s.images[i * per + k] = (float)(i * 100 + (int)k);
        s.labels[i] = i % 10;
    }
    snprintf(s.name, sizeof s.name, "toy");
    return s;
}

/* The example id held at position i, or -1 when its content is not intact. */
static int toy_id(const ds_set *s, int i)
{
    size_t per = (size_t)s->c * s->h * s->w;
    int id = (int)s->images[i * per] / 100;
    for (size_t k = 0; k < per; k++)
        if (s->images[i * per + k] != (float)(id * 100 + (int)k)) return -1;
    return s->labels[i] == id % 10 ? id : -1;
}

static void test_split(void)
{
    enum { N = 50, NV = 10 };
    ds_set train = toy_set(N, 1, 2, 3), val;
    int rc = ds_split(&train, &val, NV, 42);
    CHECK(rc == PL_OK, "split: %s", pl_last_error());
    CHECK(train.n == N - NV && val.n == NV, "sizes %d + %d", train.n, val.n);
    CHECK(val.c == 1 && val.h == 2 && val.w == 3 && val.classes == 10 && val.std[0] == 1.0f,
          "val inherits the shape");
    CHECK(strcmp(val.name, "toy-val") == 0 && strcmp(train.name, "toy") == 0, "names %s %s",
          val.name, train.name);
    int seen[N] = {0}, intact = 1, in_order = 1;
    for (int i = 0; i < val.n; i++) {
        int id = toy_id(&val, i);
        if (id < 0) intact = 0; else seen[id]++;
    }
    for (int i = 0; i < train.n; i++) {
        int id = toy_id(&train, i);
        if (id < 0) intact = 0; else seen[id]++;
        if (i > 0 && id < toy_id(&train, i - 1)) in_order = 0;
    }
    int once = 1;
    for (int i = 0; i < N; i++) once &= seen[i] == 1;
    CHECK(intact, "examples keep their pixels and labels");
    CHECK(once, "train and val are disjoint and their union is the original");
    CHECK(!in_order, "train is reordered");

    ds_set train2 = toy_set(N, 1, 2, 3), val2;
    PL_ASSERT(ds_split(&train2, &val2, NV, 42) == PL_OK);
    CHECK(memcmp(val.images, val2.images, NV * 6 * sizeof(float)) == 0 &&
              memcmp(train.images, train2.images, (N - NV) * 6 * sizeof(float)) == 0,
          "same seed, same split");
    ds_set_free(&train2);
    ds_set_free(&val2);
    uint64_t other_seeds[2] = {43, 42 | (1ull << 40)};
    for (int k = 0; k < 2; k++) {
        train2 = toy_set(N, 1, 2, 3);
        PL_ASSERT(ds_split(&train2, &val2, NV, other_seeds[k]) == PL_OK);
        CHECK(memcmp(val.images, val2.images, NV * 6 * sizeof(float)) != 0,
              "seed %llx gives another split", (unsigned long long)other_seeds[k]);
        ds_set_free(&train2);
        ds_set_free(&val2);
    }
    ds_set_free(&train);
    ds_set_free(&val);

    train = toy_set(N, 1, 2, 3);
    ds_set untouched = {0};
    rc = ds_split(&train, &untouched, N, 1);
    CHECK(rc < 0 && contains(pl_last_error(), "cannot carve 50 validation examples out of 50"),
          "n_val == n is an error: %s", pl_last_error());
    rc = ds_split(&train, &untouched, -1, 1);
    CHECK(rc < 0 && train.n == N && untouched.images == NULL, "n_val < 0 is an error");
    rc = ds_split(&train, &val, 0, 1);
    CHECK(rc == PL_OK && val.n == 0 && train.n == N, "n_val = 0 keeps everything");
    ds_set_free(&val);
    rc = ds_split(&train, &val, N - 1, 1);
    CHECK(rc == PL_OK && val.n == N - 1 && train.n == 1 && toy_id(&train, 0) >= 0,
          "n_val = n - 1");
    ds_set_free(&val);
    ds_set_free(&train);
}

static int is_permutation(const int32_t *order, int n)
{
    char *seen = calloc((size_t)n + 1, 1);
    int ok = 1;
    for (int i = 0; i < n; i++) {
        if (order[i] < 0 || order[i] >= n || seen[order[i]]) ok = 0;
        else seen[order[i]] = 1;
    }
    free(seen);
    return ok;
}

static void test_epoch_order(void)
{
    enum { N = 1000 };
    static int32_t a[N], b[N], c[N], d[N];
    ds_epoch_order(a, N, 7, 0);
    ds_epoch_order(b, N, 7, 0);
    ds_epoch_order(c, N, 7, 1);
    ds_epoch_order(d, N, 8, 0);
    CHECK(is_permutation(a, N) && is_permutation(c, N), "orders are permutations");
    CHECK(memcmp(a, b, sizeof a) == 0, "same (seed, epoch), same order");
    CHECK(memcmp(a, c, sizeof a) != 0, "epochs differ");
    CHECK(memcmp(a, d, sizeof a) != 0, "seeds differ");
    int fixed = 0;
    for (int i = 0; i < N; i++) fixed += a[i] == i;
    CHECK(fixed < 10, "a shuffle, not the identity (%d fixed points)", fixed);
    int32_t one = -5;
    ds_epoch_order(&one, 1, 7, 3);
    CHECK(one == 0, "n = 1");
    ds_epoch_order(NULL, 0, 7, 3);

    /* Uniformity: the 6 orders of 3 over 6000 epochs, ~1000 each. */
    int counts[6] = {0};
    for (int e = 0; e < 6000; e++) {
        int32_t o[3];
        ds_epoch_order(o, 3, 99, e);
        counts[o[0] * 2 + (o[1] > o[2])]++;
    }
    int uniform = 1;
    for (int k = 0; k < 6; k++) uniform &= counts[k] > 850 && counts[k] < 1150;
    CHECK(uniform, "orders of 3 are uniform: %d %d %d %d %d %d", counts[0], counts[1], counts[2],
          counts[3], counts[4], counts[5]);
}

static void test_gather(void)
{
    ds_set s = toy_set(50, 1, 2, 3);
    int32_t idx[4] = {5, 0, 49, 5};
    float images[4 * 6];
    int32_t labels[4];
    ds_gather(&s, idx, 4, images, labels);
    int ok = 1;
    for (int i = 0; i < 4; i++) {
        for (int k = 0; k < 6; k++) ok &= images[i * 6 + k] == (float)(idx[i] * 100 + k);
        ok &= labels[i] == idx[i] % 10;
    }
    CHECK(ok, "gather copies the chosen examples and labels");
    ds_gather(&s, idx, 2, images, NULL);
    CHECK(images[0] == 500.0f, "labels may be NULL");

    /* pad 0, no flip: identical to ds_gather. */
    float plain[4 * 6], aug[4 * 6];
    ds_gather(&s, idx, 4, plain, NULL);
    ds_gather_augmented(&s, idx, 4, aug, labels, 0, 0, 1, 17);
    CHECK(memcmp(plain, aug, sizeof plain) == 0, "no augmentation = gather");

    /* Flip only: each example is either itself or its rows mirrored. */
    int all_ok = 1, n_flipped = 0;
    for (int32_t e = 0; e < 50; e++) {
        float out[6];
        ds_gather_augmented(&s, &e, 1, out, NULL, 0, 1, 3, 5);
        int dy, dx, flipped;
        ds_augment_params(3, 5, e, 0, 1, &dy, &dx, &flipped);
        all_ok &= dy == 0 && dx == 0;
        n_flipped += flipped;
        for (int y = 0; y < 2; y++)
            for (int x = 0; x < 3; x++)
                all_ok &= out[y * 3 + x] == (float)(e * 100 + y * 3 + (flipped ? 2 - x : x));
    }
    CHECK(all_ok, "flip mirrors each row");
    CHECK(n_flipped > 10 && n_flipped < 40, "about half flipped (%d of 50)", n_flipped);
    ds_set_free(&s);
}

/* Hand-made 2-channel 10x10 images, black (raw 0) except one bright pixel;
 * crop + flip must move it exactly as ds_augment_params says. */
static void test_augment_moves_pixel(void)
{
    enum { N = 3, H = 10, W = 10, PAD = 2, STEPS = 200 };
    const int py[N] = {2, 5, 0}, px[N] = {7, 3, 0}; /* example 2 sits in a corner */
    ds_set s = {.n = N, .c = 2, .h = H, .w = W, .classes = 10, .mean = {0.25f, 0.25f},
                .std = {0.5f, 0.5f}};
    const float black = -0.5f, bright = 2.0f;
    s.images = pl_xmalloc(N * 2 * H * W * sizeof(float));
    s.labels = pl_xmalloc(N * sizeof(int32_t));
    for (int i = 0; i < N; i++) {
        s.labels[i] = i;
        for (int j = 0; j < 2 * H * W; j++) s.images[i * 2 * H * W + j] = black;
        s.images[i * 2 * H * W + py[i] * W + px[i]] = bright;
        s.images[i * 2 * H * W + H * W + py[i] * W + px[i]] = bright;
    }
    int32_t idx[N] = {0, 1, 2}, rev[N] = {2, 1, 0};
    float out[N * 2 * H * W], again[N * 2 * H * W];
    int32_t labels[N];
    int moved_ok = 1, params_ok = 1, offsets_seen[2 * PAD + 1][2 * PAD + 1] = {{0}}, flips = 0;
    int vanished = 0;
    for (int64_t step = 0; step < STEPS; step++) {
        ds_gather_augmented(&s, idx, N, out, labels, PAD, 1, 2024, step);
        for (int i = 0; i < N; i++) {
            int dy, dx, flipped;
            ds_augment_params(2024, step, i, PAD, 1, &dy, &dx, &flipped);
            if (dy < -PAD || dy > PAD || dx < -PAD || dx > PAD) {
                params_ok = 0;
                continue;
            }
            offsets_seen[dy + PAD][dx + PAD] = 1;
            flips += flipped;
            int ty = py[i] - dy, tx = px[i] - dx;
            if (flipped) tx = W - 1 - tx;
            int inside = ty >= 0 && ty < H && tx >= 0 && tx < W;
            vanished += !inside;
            for (int ch = 0; ch < 2; ch++)
                for (int y = 0; y < H; y++)
                    for (int x = 0; x < W; x++) {
                        float want = inside && y == ty && x == tx ? bright : black;
                        moved_ok &= out[(i * 2 + ch) * H * W + y * W + x] == want;
                    }
            moved_ok &= labels[i] == i;
        }
    }
    CHECK(params_ok, "crop offsets within [-pad, pad]");
    CHECK(moved_ok, "the bright pixel moves by the crop offset (and mirrors), the rest is black");
    int all_offsets = 1;
    for (int a = 0; a <= 2 * PAD; a++)
        for (int b = 0; b <= 2 * PAD; b++) all_offsets &= offsets_seen[a][b];
    CHECK(all_offsets, "every offset in [-2,2]^2 occurs");
    CHECK(flips > STEPS * N / 4 && flips < STEPS * N * 3 / 4, "flips about half (%d)", flips);
    CHECK(vanished > 0, "the corner pixel is sometimes cropped away (%d)", vanished);

    /* Determinism: same (seed, step) same batch; order of examples irrelevant. */
    ds_gather_augmented(&s, idx, N, out, NULL, PAD, 1, 7, 123);
    ds_gather_augmented(&s, idx, N, again, NULL, PAD, 1, 7, 123);
    CHECK(memcmp(out, again, sizeof out) == 0, "same (seed, step), same batch");
    ds_gather_augmented(&s, rev, N, again, NULL, PAD, 1, 7, 123);
    int same = 1;
    for (int i = 0; i < N; i++)
        same &= memcmp(out + i * 2 * H * W, again + (N - 1 - i) * 2 * H * W,
                       2 * H * W * sizeof(float)) == 0;
    CHECK(same, "an example's augmentation does not depend on its batch position");
    int differs = 0;
    for (int64_t step = 124; step < 134 && !differs; step++) {
        ds_gather_augmented(&s, idx, N, again, NULL, PAD, 1, 7, step);
        differs = memcmp(out, again, sizeof out) != 0;
    }
    CHECK(differs, "other steps, other augmentations");
    ds_set_free(&s);
}

/* ---- the real files ---------------------------------------------------- */

static void test_real_fashion_mnist(void)
{
    struct stat st;
    if (stat(DS_FASHION_MNIST_DIR, &st) != 0) {
        printf("test_data: %s absent, real-data test skipped "
               "(apt-get install dataset-fashion-mnist)\n", DS_FASHION_MNIST_DIR);
        return;
    }
    ds_set train, test;
    int rc = ds_load_fashion_mnist(NULL, &train, &test, 0, 0);
    CHECK(rc == PL_OK, "real Fashion-MNIST: %s", pl_last_error());
    if (rc != PL_OK) return;
    CHECK(train.n == 60000 && test.n == 10000, "60000/10000 (got %d/%d)", train.n, test.n);
    CHECK(train.c == 1 && train.h == 28 && train.w == 28 && test.h == 28 && test.w == 28,
          "1x28x28");
    CHECK(train.classes == 10 && test.classes == 10, "10 classes");
    int hist_test[10] = {0}, hist_train[10] = {0};
    for (int i = 0; i < test.n; i++) hist_test[test.labels[i]]++;
    for (int i = 0; i < train.n; i++) hist_train[train.labels[i]]++;
    int balanced = 1;
    for (int k = 0; k < 10; k++) balanced &= hist_test[k] == 1000 && hist_train[k] == 6000;
    CHECK(balanced, "1000 test and 6000 train examples per class");
    double sum = 0, sum2 = 0;
    size_t count = (size_t)train.n * 28 * 28;
    for (size_t j = 0; j < count; j++) {
        sum += train.images[j];
        sum2 += (double)train.images[j] * train.images[j];
    }
    double mean = sum / (double)count, sd = sqrt(sum2 / (double)count - mean * mean);
    CHECK(fabs(mean) < 0.01, "normalized train mean ~ 0 (%.5f)", mean);
    CHECK(fabs(sd - 1.0) < 0.02, "normalized train std ~ 1 (%.5f)", sd);

    ds_set small;
    rc = ds_load_fashion_mnist(NULL, NULL, &small, 0, 50);
    CHECK(rc == PL_OK && small.n == 50 &&
              memcmp(small.images, test.images, 50 * 28 * 28 * sizeof(float)) == 0 &&
              memcmp(small.labels, test.labels, 50 * sizeof(int32_t)) == 0,
          "a limited load is the prefix of the full one");
    ds_set_free(&small);
    ds_set_free(&train);
    ds_set_free(&test);
}

int main(void)
{
    snprintf(tmp_dir, sizeof tmp_dir, "/tmp/gos_test_data_XXXXXX");
    PL_ASSERT(mkdtemp(tmp_dir) != NULL);
    make_small_set();
    test_round_trip();
    test_fashion_loader();
    test_errors();
    test_split();
    test_epoch_order();
    test_gather();
    test_augment_moves_pixel();
    test_real_fashion_mnist();
    remove_tree(tmp_dir);
    return check_summary("test_data");
}
