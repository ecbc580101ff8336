/* ds_cifar.c: reading CIFAR-10's binary version (cifar-10-binary.tar.gz,
 * the cifar-10-batches-bin folder) into ds_sets, with strict validation.
 *
 * Format: a file is a sequence of 3073-byte records, each one label byte
 * (0..9) followed by 3x32x32 pixel bytes, channel-major (1024 red, then 1024
 * green, then 1024 blue values, each plane row by row). The real files hold
 * 10000 records each (30730000 bytes); files of fewer whole records are
 * accepted so that tests can use small generated folders (see ds_data.h).
 *
 * Every file of a half is sized with stat before any is read, so a missing
 * or truncated file is reported at once; then the files are streamed through
 * one staging buffer of whole records: every label is checked, the kept
 * records' pixels are converted through a per-channel lookup table (scaling
 * and normalization in one step). */
#include "ds_data.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The per-channel statistics of CIFAR-10's 50000 training images. */
const float ds_cifar10_mean[DS_CIFAR10_CHANNELS] = {0.4914f, 0.4822f, 0.4465f};
const float ds_cifar10_std[DS_CIFAR10_CHANNELS]  = {0.2470f, 0.2435f, 0.2616f};

#define RECORD        DS_CIFAR10_RECORD_BYTES
#define PIXELS        (DS_CIFAR10_CHANNELS * DS_CIFAR10_SIDE * DS_CIFAR10_SIDE) /* 3072 */
#define PLANE         (DS_CIFAR10_SIDE * DS_CIFAR10_SIDE)                        /* 1024 */
#define MAX_BYTES     ((long long)DS_CIFAR10_FILE_RECORDS * RECORD)              /* 30730000 */
#define STAGE_RECORDS 256
#define TRAIN_FILES   5
#define PATH_MAX_LEN  4096

#define CIFAR_HINT                                                                         \
    "CIFAR-10's binary version (cifar-10-binary.tar.gz, the `cifar-10-batches-bin` folder) " \
    "must be given as data.path"

static const char *const train_files[TRAIN_FILES] = {
    "data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
    "data_batch_5.bin"};
static const char *const test_files[1] = {"test_batch.bin"};

/* One batch file of a half: its path and its number of records. */
typedef struct {
    char path[PATH_MAX_LEN];
    int  records;
} batch_file;

/* Fills f->path = dir/file, checks that it is a regular file whose size is a
 * whole number (1..10000) of records, and sets f->records. */
static int size_batch(const char *dir, const char *file, batch_file *f)
{
    int len = snprintf(f->path, sizeof f->path, "%s/%s", dir, file);
    if (len < 0 || (size_t)len >= sizeof f->path)
        PL_FAIL(PL_ERR_INVAL, "%s: directory path too long", dir);
    struct stat st;
    if (stat(f->path, &st) != 0) {
        int err = errno;
        /* The Python version names its batches without the .bin suffix. */
        char python[PATH_MAX_LEN + 8];
        snprintf(python, sizeof python, "%s/data_batch_1", dir);
        const char *which = stat(python, &st) == 0 ? "; this folder looks like the Python "
                                                     "version (cifar-10-batches-py)"
                                                   : "";
        PL_FAIL(PL_ERR_IO, "%s: cannot open: %s (" CIFAR_HINT "%s)", f->path, strerror(err),
                which);
    }
    if (!S_ISREG(st.st_mode)) PL_FAIL(PL_ERR_IO, "%s: not a regular file", f->path);
    long long bytes = (long long)st.st_size;
    if (bytes == 0)
        PL_FAIL(PL_ERR_INVAL, "%s: empty file (expected %lld bytes: %d records of %d bytes)",
                f->path, MAX_BYTES, DS_CIFAR10_FILE_RECORDS, RECORD);
    if (bytes > MAX_BYTES)
        PL_FAIL(PL_ERR_INVAL, "%s: oversized: %lld bytes, more than the %lld of %d records of %d "
                "bytes (not a batch of CIFAR-10's binary version?)", f->path, bytes, MAX_BYTES,
                DS_CIFAR10_FILE_RECORDS, RECORD);
    if (bytes % RECORD != 0)
        PL_FAIL(PL_ERR_INVAL, "%s: truncated or damaged: %lld bytes is not a whole number of "
                "%d-byte records (%lld records and %lld bytes; a complete batch has %lld bytes)",
                f->path, bytes, RECORD, bytes / RECORD, bytes % RECORD, MAX_BYTES);
    f->records = (int)(bytes / RECORD);
    return PL_OK;
}

/* Aligned like pl_xmalloc (so pl_free releases it) but reports failure: a
 * whole CIFAR-10 training split is 600 MB of floats. */
static int alloc_array(void **p, size_t bytes, const char *what)
{
    *p = NULL;
    if (posix_memalign(p, 64, bytes ? (bytes + 63) / 64 * 64 : 64) != 0) {
        *p = NULL;
        PL_FAIL(PL_ERR_NOMEM, "cannot allocate %zu bytes for %s", bytes, what);
    }
    return PL_OK;
}

/* Where the records go: the first `keep` of the half (counted across files)
 * are stored in s, converted through lut (3 x 256). */
typedef struct {
    ds_set      *s;
    int          keep;
    int          done;  /* records of the half read so far */
    const float *lut;   /* (3, 256)                         */
    uint8_t     *stage; /* (STAGE_RECORDS * RECORD)         */
} record_sink;

/* Streams one file's f->records records into sink. */
static int read_batch(const batch_file *f, record_sink *sink)
{
    FILE *fp = fopen(f->path, "rb");
    if (!fp)
        PL_FAIL(PL_ERR_IO, "%s: cannot open: %s (" CIFAR_HINT ")", f->path, strerror(errno));
    int rc = PL_OK;
    for (int r = 0; r < f->records && rc == PL_OK;) {
        int want = f->records - r < STAGE_RECORDS ? f->records - r : STAGE_RECORDS;
        size_t got = fread(sink->stage, RECORD, (size_t)want, fp);
        if (got < (size_t)want) {
            rc = pl_error(ferror(fp) ? PL_ERR_IO : PL_ERR_INVAL, __FILE__, __LINE__,
                          "%s: %s after %lld of its %lld bytes", f->path,
                          ferror(fp) ? "read error" : "truncated while reading",
                          (long long)(r + (int)got) * RECORD, (long long)f->records * RECORD);
            break;
        }
        for (int k = 0; k < want; k++) {
            const uint8_t *rec = sink->stage + (size_t)k * RECORD;
            if (rec[0] >= DS_CIFAR10_CLASSES) {
                rc = pl_error(PL_ERR_INVAL, __FILE__, __LINE__,
                              "%s: label %d of record %d (byte offset %lld) is out of range "
                              "(expected < %d classes)", f->path, rec[0], r + k,
                              (long long)(r + k) * RECORD, DS_CIFAR10_CLASSES);
                break;
            }
            int at = sink->done + r + k;
            if (at >= sink->keep) continue;
            sink->s->labels[at] = rec[0];
            float *dst = sink->s->images + (size_t)at * PIXELS;
            for (int ch = 0; ch < DS_CIFAR10_CHANNELS; ch++) {
                const float *lut = sink->lut + ch * 256;
                const uint8_t *src = rec + 1 + ch * PLANE;
                for (int j = 0; j < PLANE; j++) dst[ch * PLANE + j] = lut[src[j]];
            }
        }
        r += want;
    }
    fclose(fp);
    if (rc == PL_OK) sink->done += f->records;
    return rc;
}

/* Loads the records of files[0..n_files) into s (left for the caller to free
 * on error). */
static int load_half(const char *dir, const char *const *files, int n_files, const char *name,
                     ds_set *s, int limit, batch_file *f, uint8_t **stage)
{
    long long total = 0;
    for (int k = 0; k < n_files; k++) {
        PL_TRY(size_batch(dir, files[k], &f[k]));
        if (f[k].records != f[0].records)
            PL_FAIL(PL_ERR_INVAL, "%s: %d records (%lld bytes), but %s has %d: the training "
                    "batches must all be the same size (truncated?)", f[k].path, f[k].records,
                    (long long)f[k].records * RECORD, files[0], f[0].records);
        total += f[k].records;
    }
    int keep = limit > 0 && limit < total ? limit : (int)total;
    s->n = keep;
    s->c = DS_CIFAR10_CHANNELS;
    s->h = s->w = DS_CIFAR10_SIDE;
    s->classes = DS_CIFAR10_CLASSES;
    for (int ch = 0; ch < DS_CIFAR10_CHANNELS; ch++) {
        s->mean[ch] = ds_cifar10_mean[ch];
        s->std[ch] = ds_cifar10_std[ch];
    }
    snprintf(s->name, sizeof s->name, "%s", name);
    void *images = NULL, *labels = NULL;
    PL_TRY(alloc_array(&images, (size_t)keep * PIXELS * sizeof(float), name));
    s->images = images;
    PL_TRY(alloc_array(&labels, (size_t)keep * sizeof(int32_t), name));
    s->labels = labels;

    float lut[DS_CIFAR10_CHANNELS * 256];
    for (int ch = 0; ch < DS_CIFAR10_CHANNELS; ch++)
        for (int v = 0; v < 256; v++)
            lut[ch * 256 + v] = (float)((v / 255.0 - s->mean[ch]) / s->std[ch]);
    *stage = pl_xmalloc((size_t)STAGE_RECORDS * RECORD);
    record_sink sink = {.s = s, .keep = keep, .lut = lut, .stage = *stage};
    for (int k = 0; k < n_files; k++) PL_TRY(read_batch(&f[k], &sink));
    return PL_OK;
}

/* load_half with its scratch released and out zeroed on error. */
static int load_half_or_nothing(const char *dir, const char *const *files, int n_files,
                                const char *name, ds_set *out, int limit)
{
    batch_file *f = pl_xcalloc((size_t)n_files, sizeof *f);
    uint8_t *stage = NULL;
    ds_set s;
    memset(&s, 0, sizeof s);
    int rc = load_half(dir, files, n_files, name, &s, limit, f, &stage);
    pl_free(stage);
    pl_free(f);
    if (rc < 0) ds_set_free(&s);
    *out = s;
    return rc;
}

int ds_load_cifar10(const char *dir, ds_set *train, ds_set *test, int train_limit,
                    int test_limit)
{
    if (train) memset(train, 0, sizeof *train);
    if (test) memset(test, 0, sizeof *test);
    if (!dir || dir[0] == '\0')
        PL_FAIL(PL_ERR_INVAL, "CIFAR-10 has no standard place: " CIFAR_HINT);
    struct stat st;
    if (stat(dir, &st) != 0)
        PL_FAIL(PL_ERR_IO, "%s: no such directory (%s; " CIFAR_HINT ")", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        PL_FAIL(PL_ERR_IO, "%s: not a directory (" CIFAR_HINT ")", dir);
    if (train)
        PL_TRY(load_half_or_nothing(dir, train_files, TRAIN_FILES, "cifar10-train", train,
                                    train_limit));
    if (test) {
        int rc = load_half_or_nothing(dir, test_files, 1, "cifar10-test", test, test_limit);
        if (rc < 0) {
            ds_set_free(train);
            return rc;
        }
    }
    return PL_OK;
}
