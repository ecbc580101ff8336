/* ds_idx.c: reading IDX image/label files (gzipped or plain, through zlib)
 * into a ds_set, with strict validation, and the Fashion-MNIST loader.
 *
 * IDX format: a big-endian header (magic, then one 32-bit size per
 * dimension) followed by the unsigned-byte payload. Images: magic 0x00000803,
 * n, rows, cols; labels: magic 0x00000801, n. Both headers are read before any
 * payload, so a count mismatch is reported without decompressing the pixels.
 * The payloads are streamed through one staging buffer: the kept examples are
 * converted on the fly (a 256-entry lookup table does the scaling and the
 * normalization), the rest is only counted and checked. */
#include "ds_data.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#define IDX_IMAGES_MAGIC 0x00000803u
#define IDX_LABELS_MAGIC 0x00000801u
#define IDX_MAX_SIDE     4096
#define IDX_MAX_EXAMPLES 100000000u
#define STAGE_BYTES      (1u << 20)

void ds_set_free(ds_set *s)
{
    if (!s) return;
    pl_free(s->images);
    pl_free(s->labels);
    memset(s, 0, sizeof *s);
}

/* ---- low-level reading ------------------------------------------------- */

/* Reports zlib's last error on gz. gzerror's text starts with "path: ",
 * which is dropped so that every message has the same shape. */
static int gz_fail(gzFile gz, const char *path)
{
    int errnum = Z_OK;
    const char *msg = gzerror(gz, &errnum);
    size_t plen = strlen(path);
    if (strncmp(msg, path, plen) == 0 && msg[plen] == ':') msg += plen + (msg[plen + 1] == ' ' ? 2 : 1);
    if (errnum == Z_ERRNO) PL_FAIL(PL_ERR_IO, "%s: read error: %s", path, msg);
    if (errnum == Z_MEM_ERROR) PL_FAIL(PL_ERR_NOMEM, "%s: zlib out of memory", path);
    PL_FAIL(PL_ERR_INVAL, "%s: corrupt gzip data: %s", path, msg);
}

/* Reads up to len bytes into buf; *got < len only at the end of the data. */
static int read_some(gzFile gz, const char *path, uint8_t *buf, size_t len, size_t *got)
{
    *got = 0;
    while (*got < len) {
        size_t want = len - *got;
        if (want > STAGE_BYTES) want = STAGE_BYTES;
        int r = gzread(gz, buf + *got, (unsigned)want);
        if (r < 0) return gz_fail(gz, path);
        if (r == 0) break;
        *got += (size_t)r;
    }
    return PL_OK;
}

/* 1 when the gzip stream itself was cut short (as opposed to a complete
 * stream holding too little data). */
static int gz_cut_short(gzFile gz)
{
    int errnum = Z_OK;
    gzerror(gz, &errnum);
    return errnum == Z_BUF_ERROR;
}

static int open_gz(const char *path, gzFile *gz)
{
    errno = 0;
    *gz = gzopen(path, "rb");
    if (!*gz)
        PL_FAIL(errno == ENOMEM || errno == 0 ? PL_ERR_NOMEM : PL_ERR_IO, "%s: cannot open: %s", path,
                errno ? strerror(errno) : "zlib out of memory");
    gzbuffer(*gz, 1u << 17);
    return PL_OK;
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Reads and checks the magic, then the `ndims` big-endian 32-bit sizes. */
static int read_header(gzFile gz, const char *path, uint32_t expected_magic, uint32_t *dims,
                       int ndims)
{
    uint8_t bytes[16];
    size_t len = 4 + (size_t)ndims * 4, got = 0;
    PL_ASSERT(ndims >= 1 && ndims <= 3);
    PL_TRY(read_some(gz, path, bytes, 4, &got));
    if (got == 4) {
        uint32_t magic = be32(bytes);
        if (magic != expected_magic) {
            const char *kind = expected_magic == IDX_IMAGES_MAGIC ? "an IDX image file"
                                                                  : "an IDX label file";
            const char *hint = "";
            if (magic == IDX_LABELS_MAGIC) hint = "; this is an IDX label file";
            if (magic == IDX_IMAGES_MAGIC) hint = "; this is an IDX image file";
            if ((magic >> 16) == 0x1f8bu) hint = "; this looks like doubly gzipped data";
            PL_FAIL(PL_ERR_INVAL, "%s: bad magic 0x%08x (expected 0x%08x, %s%s)", path,
                    (unsigned)magic, (unsigned)expected_magic, kind, hint);
        }
        size_t more = 0;
        PL_TRY(read_some(gz, path, bytes + 4, len - 4, &more));
        got += more;
    }
    if (got < len)
        PL_FAIL(PL_ERR_INVAL, "%s: truncated header: expected %zu bytes, got %zu%s", path, len,
                got, got == 0 ? " (empty file)" : "");
    for (int k = 0; k < ndims; k++) dims[k] = be32(bytes + 4 + 4 * k);
    return PL_OK;
}

/* Where the payload bytes go. Images: the first `keep` bytes are converted
 * through lut into pixels. Labels: every byte is checked against classes and
 * the first `keep` are stored. */
typedef struct {
    const char  *what;    /* "pixels" or "labels", for messages */
    size_t       total;   /* declared payload bytes             */
    size_t       keep;    /* bytes to store                     */
    float       *pixels;  /* (keep) or NULL                     */
    const float *lut;     /* (256) with pixels                  */
    int32_t     *labels;  /* (keep) or NULL                     */
    int          classes; /* with labels                        */
} payload_sink;

/* Streams exactly sink->total bytes from gz, then makes sure nothing
 * follows (reading to the end also makes zlib verify the gzip CRC). */
static int read_payload(gzFile gz, const char *path, uint8_t *stage, const payload_sink *sink)
{
    size_t done = 0;
    while (done < sink->total) {
        size_t want = sink->total - done, got = 0;
        if (want > STAGE_BYTES) want = STAGE_BYTES;
        PL_TRY(read_some(gz, path, stage, want, &got));
        if (sink->labels) {
            for (size_t i = 0; i < got; i++)
                if (stage[i] >= sink->classes)
                    PL_FAIL(PL_ERR_INVAL,
                            "%s: label %d of example %zu is out of range (expected < %d classes)",
                            path, stage[i], done + i, sink->classes);
        }
        if (done < sink->keep) {
            size_t end = done + got < sink->keep ? got : sink->keep - done;
            if (sink->pixels)
                for (size_t i = 0; i < end; i++) sink->pixels[done + i] = sink->lut[stage[i]];
            if (sink->labels)
                for (size_t i = 0; i < end; i++) sink->labels[done + i] = stage[i];
        }
        done += got;
        if (got < want) break;
    }
    if (done < sink->total)
        PL_FAIL(PL_ERR_INVAL, "%s: truncated: expected %zu bytes of %s, got %zu%s", path, sink->total,
                sink->what, done, gz_cut_short(gz) ? " (the gzip stream ends early)" : "");
    size_t trailing = 0, got = 0;
    do {
        PL_TRY(read_some(gz, path, stage, STAGE_BYTES, &got));
        trailing += got;
    } while (got == STAGE_BYTES);
    if (gz_cut_short(gz))
        PL_FAIL(PL_ERR_INVAL, "%s: truncated: the gzip stream ends early after the %zu bytes of %s",
                path, sink->total, sink->what);
    if (trailing > 0)
        PL_FAIL(PL_ERR_INVAL, "%s: %zu trailing bytes after the declared %zu bytes of %s", path,
                trailing, sink->total, sink->what);
    return PL_OK;
}

/* Aligned like pl_xmalloc (so pl_free releases it) but reports failure: the
 * size comes from a file header. */
static int alloc_array(void **p, size_t count, size_t size, const char *path, const char *what)
{
    *p = NULL;
    if (size != 0 && count > SIZE_MAX / size)
        PL_FAIL(PL_ERR_NOMEM, "%s: %zu %s do not fit in memory", path, count, what);
    size_t bytes = count * size;
    if (posix_memalign(p, 64, bytes ? (bytes + 63) / 64 * 64 : 64) != 0) {
        *p = NULL;
        PL_FAIL(PL_ERR_NOMEM, "%s: cannot allocate %zu bytes for %zu %s", path, bytes, count, what);
    }
    return PL_OK;
}

/* ---- the IDX loader ---------------------------------------------------- */

typedef struct {
    gzFile   images, labels;
    uint8_t *stage; /* (STAGE_BYTES) */
} idx_files;

static int load_idx(idx_files *f, const char *images_path, const char *labels_path, ds_set *s,
                    int limit, int classes, float mean, float std)
{
    if (classes < 1 || classes > 256)
        PL_FAIL(PL_ERR_INVAL, "%s: class count %d out of range 1..256", labels_path, classes);
    if (!isfinite(mean) || !isfinite(std) || !(std > 0))
        PL_FAIL(PL_ERR_INVAL, "%s: bad normalization mean %g std %g (std must be > 0)", images_path,
                (double)mean, (double)std);

    uint32_t ih[3] = {0}, lh[1] = {0}; /* images: n, rows, cols; labels: n */
    PL_TRY(open_gz(images_path, &f->images));
    PL_TRY(read_header(f->images, images_path, IDX_IMAGES_MAGIC, ih, 3));
    if (ih[0] == 0) PL_FAIL(PL_ERR_INVAL, "%s: holds no images (count 0)", images_path);
    if (ih[0] > IDX_MAX_EXAMPLES)
        PL_FAIL(PL_ERR_INVAL, "%s: implausible image count %u (more than %u)", images_path,
                (unsigned)ih[0], IDX_MAX_EXAMPLES);
    if (ih[1] < 1 || ih[1] > IDX_MAX_SIDE || ih[2] < 1 || ih[2] > IDX_MAX_SIDE)
        PL_FAIL(PL_ERR_INVAL, "%s: bad image size %u x %u (rows and cols must be in 1..%d)",
                images_path, (unsigned)ih[1], (unsigned)ih[2], IDX_MAX_SIDE);

    PL_TRY(open_gz(labels_path, &f->labels));
    PL_TRY(read_header(f->labels, labels_path, IDX_LABELS_MAGIC, lh, 1));
    if (lh[0] != ih[0])
        PL_FAIL(PL_ERR_INVAL, "%s: label count %u does not match the %u images in %s", labels_path,
                (unsigned)lh[0], (unsigned)ih[0], images_path);

    int n = (int)ih[0];
    int keep = limit > 0 && limit < n ? limit : n;
    size_t pixels_per_image = (size_t)ih[1] * ih[2];
    s->n = keep;
    s->c = 1;
    s->h = (int)ih[1];
    s->w = (int)ih[2];
    s->classes = classes;
    s->mean[0] = mean;
    s->std[0] = std;
    const char *base = strrchr(images_path, '/');
    snprintf(s->name, sizeof s->name, "%s", base ? base + 1 : images_path);
    void *images = NULL, *labels_mem = NULL;
    PL_TRY(alloc_array(&images, (size_t)keep * pixels_per_image, sizeof(float), images_path,
                       "pixels"));
    s->images = images;
    PL_TRY(alloc_array(&labels_mem, (size_t)keep, sizeof(int32_t), labels_path, "labels"));
    s->labels = labels_mem;

    float lut[256];
    for (int v = 0; v < 256; v++) lut[v] = (float)((v / 255.0 - mean) / std);
    f->stage = pl_xmalloc(STAGE_BYTES);

    payload_sink pixels = {.what = "pixels",
                           .total = (size_t)n * pixels_per_image,
                           .keep = (size_t)keep * pixels_per_image,
                           .pixels = s->images,
                           .lut = lut};
    PL_TRY(read_payload(f->images, images_path, f->stage, &pixels));
    payload_sink labels = {.what = "labels",
                           .total = (size_t)n,
                           .keep = (size_t)keep,
                           .labels = s->labels,
                           .classes = classes};
    PL_TRY(read_payload(f->labels, labels_path, f->stage, &labels));
    return PL_OK;
}

int ds_load_idx_ex(const char *images_path, const char *labels_path, ds_set *out, int limit,
                   int classes, float mean, float std)
{
    PL_ASSERT(images_path && labels_path && out);
    idx_files f = {0};
    ds_set s = {0};
    int rc = load_idx(&f, images_path, labels_path, &s, limit, classes, mean, std);
    if (f.images) gzclose(f.images);
    if (f.labels) gzclose(f.labels);
    pl_free(f.stage);
    if (rc < 0) ds_set_free(&s);
    *out = s;
    return rc;
}

int ds_load_idx(const char *images_path, const char *labels_path, ds_set *out, int limit)
{
    return ds_load_idx_ex(images_path, labels_path, out, limit, DS_IDX_CLASSES, 0.0f, 1.0f);
}

/* ---- Fashion-MNIST ----------------------------------------------------- */

#define APT_HINT "`apt-get install dataset-fashion-mnist` provides it"

static int fashion_path(char *buf, size_t size, const char *dir, const char *file)
{
    int len = snprintf(buf, size, "%s/%s", dir, file);
    if (len < 0 || (size_t)len >= size) PL_FAIL(PL_ERR_INVAL, "%s: directory path too long", dir);
    struct stat st;
    if (stat(buf, &st) != 0)
        PL_FAIL(PL_ERR_IO, "%s: cannot open: %s (the Fashion-MNIST %s; " APT_HINT ")", buf,
                strerror(errno), file);
    return PL_OK;
}

static int load_fashion_half(const char *dir, const char *images_file, const char *labels_file,
                             const char *name, ds_set *out, int limit)
{
    char images_path[4096], labels_path[4096];
    PL_TRY(fashion_path(images_path, sizeof images_path, dir, images_file));
    PL_TRY(fashion_path(labels_path, sizeof labels_path, dir, labels_file));
    PL_TRY(ds_load_idx_ex(images_path, labels_path, out, limit, DS_FASHION_MNIST_CLASSES,
                          DS_FASHION_MNIST_MEAN, DS_FASHION_MNIST_STD));
    snprintf(out->name, sizeof out->name, "%s", name);
    return PL_OK;
}

int ds_load_fashion_mnist(const char *dir, ds_set *train, ds_set *test, int train_limit,
                          int test_limit)
{
    if (!dir) dir = DS_FASHION_MNIST_DIR;
    if (train) memset(train, 0, sizeof *train);
    if (test) memset(test, 0, sizeof *test);
    struct stat st;
    if (stat(dir, &st) != 0)
        PL_FAIL(PL_ERR_IO,
                "%s: no such directory (the Fashion-MNIST files; "
                "`apt-get install dataset-fashion-mnist` provides them)",
                dir);
    if (!S_ISDIR(st.st_mode)) PL_FAIL(PL_ERR_IO, "%s: not a directory", dir);
    if (train)
        PL_TRY(load_fashion_half(dir, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                                 "fashion-mnist-train", train, train_limit));
    if (test) {
        int rc = load_fashion_half(dir, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
                                   "fashion-mnist-test", test, test_limit);
        if (rc < 0) {
            ds_set_free(train);
            return rc;
        }
    }
    return PL_OK;
}
