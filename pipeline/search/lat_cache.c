/* lat_cache.c: the latency cache shared between experiments and sweeps
 * (lat_cache.h): an open-addressing hash table over an array of entries in
 * memory, a gos.latency_cache artifact on disk, and a save that merges with
 * what other processes wrote under an exclusive flock on "<path>.lock". */
#include "lat_cache.h"
#include "h5io.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define SCHEMA     "gos.latency_cache"
#define SHAPE_ROWS (LAT_CACHE_MAX_INPUTS + 1) /* the inputs, then the output */

typedef struct {
    lat_cache_key key;  /* normalized (key_normalize)  */
    double        ms;
    uint64_t      mix;  /* key_mix(&key)               */
    int           unsaved;
} entry;

struct lat_cache {
    char    *path;
    char    *experiment;
    entry   *entries;
    int64_t  n, cap;      /* entries in use, allocated */
    int64_t *slots;       /* index into entries, or -1 */
    int64_t  n_slots;     /* a power of two, >= 2 n    */
    int64_t  n_unsaved;
};

/* ---- keys ---------------------------------------------------------------- */

/* A copy of k with the parts that do not count zeroed: shape rows past
 * n_inputs and string bytes after the terminator (which is forced). */
static void key_normalize(lat_cache_key *dst, const lat_cache_key *k)
{
    memset(dst, 0, sizeof *dst);
    dst->hash = k->hash;
    dst->n_inputs = k->n_inputs;
    for (int i = 0; i < k->n_inputs && i < LAT_CACHE_MAX_INPUTS; i++)
        memcpy(dst->in_shapes[i], k->in_shapes[i], sizeof dst->in_shapes[i]);
    memcpy(dst->out_shape, k->out_shape, sizeof dst->out_shape);
    memcpy(dst->device, k->device, strnlen(k->device, sizeof k->device - 1));
    dst->batch = k->batch;
    dst->threads = k->threads;
    memcpy(dst->build, k->build, strnlen(k->build, sizeof k->build - 1));
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

static uint64_t mix_in(uint64_t h, uint64_t v) { return mix64(h ^ mix64(v + 0x9e3779b97f4a7c15ULL)); }

static uint64_t mix_string(uint64_t h, const char *s)
{
    uint64_t f = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (; *s; s++) f = (f ^ (unsigned char)*s) * 0x100000001b3ULL;
    return mix_in(h, f);
}

/* A 64-bit mix of every field of normalized key k. */
static uint64_t key_mix(const lat_cache_key *k)
{
    uint64_t h = mix_in(0x6c61745f63616368ULL, k->hash);
    h = mix_in(h, (uint32_t)k->n_inputs);
    for (int i = 0; i < k->n_inputs; i++)
        for (int j = 0; j < 3; j++) h = mix_in(h, (uint32_t)k->in_shapes[i][j]);
    for (int j = 0; j < 3; j++) h = mix_in(h, (uint32_t)k->out_shape[j]);
    h = mix_string(h, k->device);
    h = mix_in(h, (uint32_t)k->batch);
    h = mix_in(h, (uint32_t)k->threads);
    return mix_string(h, k->build);
}

/* 1 when normalized keys a and b are equal in every field. */
static int key_equal(const lat_cache_key *a, const lat_cache_key *b)
{
    return a->hash == b->hash && a->n_inputs == b->n_inputs && a->batch == b->batch &&
           a->threads == b->threads &&
           memcmp(a->in_shapes, b->in_shapes, sizeof a->in_shapes) == 0 &&
           memcmp(a->out_shape, b->out_shape, sizeof a->out_shape) == 0 &&
           strcmp(a->device, b->device) == 0 && strcmp(a->build, b->build) == 0;
}

void lat_cache_key_set_device(lat_cache_key *k, const dev_provenance *p)
{
    snprintf(k->device, sizeof k->device, "%s", p->device);
    k->batch = p->batch;
    k->threads = p->threads;
    /* How it was timed counts too: a median of 3 runs is not one of 50. */
    char timing[96];
    snprintf(timing, sizeof timing, "; timed: %d warm-up, %d runs of >= %g ms", p->warmup_runs,
             p->timed_runs, p->min_run_ms);
    const size_t room = sizeof k->build - 1 - strlen(timing), used = strlen(p->build);
    snprintf(k->build, sizeof k->build, "%.*s%s", (int)(used < room ? used : room), p->build,
             timing);
}

/* ---- the table ----------------------------------------------------------- */

static lat_cache *cache_new(const char *path)
{
    lat_cache *c = pl_xcalloc(1, sizeof *c);
    c->path = pl_xstrdup(path);
    c->experiment = pl_xstrdup("");
    return c;
}

/* The slot holding normalized key k (mix m), or the empty slot where it
 * would go. */
static int64_t find_slot(const lat_cache *c, const lat_cache_key *k, uint64_t m)
{
    uint64_t mask = (uint64_t)c->n_slots - 1;
    for (uint64_t s = m & mask;; s = (s + 1) & mask) {
        int64_t i = c->slots[s];
        if (i < 0) return (int64_t)s;
        if (c->entries[i].mix == m && key_equal(&c->entries[i].key, k)) return (int64_t)s;
    }
}

/* Makes room for one more entry: the array, and slots at most half full. */
static void reserve_one(lat_cache *c)
{
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 256;
        entry *grown = pl_xmalloc((size_t)c->cap * sizeof *grown);
        if (c->n) memcpy(grown, c->entries, (size_t)c->n * sizeof *grown);
        pl_free(c->entries);
        c->entries = grown;
    }
    if (2 * (c->n + 1) <= c->n_slots) return;
    pl_free(c->slots);
    c->n_slots = c->n_slots ? 2 * c->n_slots : 1024;
    c->slots = pl_xmalloc((size_t)c->n_slots * sizeof *c->slots);
    for (int64_t s = 0; s < c->n_slots; s++) c->slots[s] = -1;
    uint64_t mask = (uint64_t)c->n_slots - 1;
    for (int64_t i = 0; i < c->n; i++) {
        uint64_t s = c->entries[i].mix & mask;
        while (c->slots[s] >= 0) s = (s + 1) & mask;
        c->slots[s] = i;
    }
}

/* Adds normalized key k -> ms unless k is present; returns 1 when added. */
static int add_normalized(lat_cache *c, const lat_cache_key *k, double ms, int unsaved)
{
    uint64_t m = key_mix(k);
    if (c->n_slots && c->slots[find_slot(c, k, m)] >= 0) return 0;
    reserve_one(c);
    int64_t s = find_slot(c, k, m);
    entry *e = &c->entries[c->n];
    e->key = *k;
    e->ms = ms;
    e->mix = m;
    e->unsaved = unsaved;
    c->slots[s] = c->n++;
    c->n_unsaved += unsaved;
    return 1;
}

static const entry *lookup(const lat_cache *c, const lat_cache_key *k)
{
    if (!c->n_slots) return NULL;
    lat_cache_key norm;
    key_normalize(&norm, k);
    int64_t i = c->slots[find_slot(c, &norm, key_mix(&norm))];
    return i >= 0 ? &c->entries[i] : NULL;
}

int lat_cache_get(const lat_cache *c, const lat_cache_key *k, double *ms)
{
    const entry *e = lookup(c, k);
    if (!e) return 0;
    *ms = e->ms;
    return 1;
}

void lat_cache_put(lat_cache *c, const lat_cache_key *k, double ms)
{
    PL_ASSERT(k->n_inputs >= 0 && k->n_inputs <= LAT_CACHE_MAX_INPUTS);
    PL_ASSERT(isfinite(ms) && ms >= 0);
    lat_cache_key norm;
    key_normalize(&norm, k);
    add_normalized(c, &norm, ms, 1);
}

int64_t lat_cache_count(const lat_cache *c) { return c->n; }
int64_t lat_cache_unsaved(const lat_cache *c) { return c->n_unsaved; }
const char *lat_cache_path(const lat_cache *c) { return c->path; }

void lat_cache_set_provenance(lat_cache *c, const char *experiment)
{
    pl_free(c->experiment);
    c->experiment = pl_xstrdup(experiment ? experiment : "");
}

void lat_cache_close(lat_cache *c)
{
    if (!c) return;
    pl_free(c->entries);
    pl_free(c->slots);
    pl_free(c->path);
    pl_free(c->experiment);
    pl_free(c);
}

/* ---- the file ------------------------------------------------------------ */

/* The columns of the file, as read or to be written. */
typedef struct {
    int64_t  n;
    int64_t *hash;
    int32_t *n_inputs, *shapes, *batch, *threads;
    double  *ms;
    char   **device, **build;
    int64_t  n_device, n_build; /* string counts, for h5io_free_strings */
} columns;

static void columns_free(columns *t)
{
    pl_free(t->hash);
    pl_free(t->n_inputs);
    pl_free(t->shapes);
    pl_free(t->batch);
    pl_free(t->threads);
    pl_free(t->ms);
    h5io_free_strings(t->device, t->n_device);
    h5io_free_strings(t->build, t->n_build);
    memset(t, 0, sizeof *t);
}

static void columns_alloc(columns *t, int64_t n)
{
    memset(t, 0, sizeof *t);
    t->n = n;
    size_t rows = (size_t)(n ? n : 1);
    t->hash = pl_xmalloc(rows * sizeof *t->hash);
    t->n_inputs = pl_xmalloc(rows * sizeof *t->n_inputs);
    t->shapes = pl_xmalloc(rows * SHAPE_ROWS * 3 * sizeof *t->shapes);
    t->batch = pl_xmalloc(rows * sizeof *t->batch);
    t->threads = pl_xmalloc(rows * sizeof *t->threads);
    t->ms = pl_xmalloc(rows * sizeof *t->ms);
}

static int read_columns(h5io_reader *r, columns *t)
{
    memset(t, 0, sizeof *t);
    int rank;
    int64_t dims[H5IO_MAX_RANK];
    PL_TRY(h5io_read_i64_alloc(r, "/latencies/struct_hash", &t->hash, &rank, dims));
    int64_t n = t->n = dims[0];
    size_t rows = (size_t)(n ? n : 1);
    t->n_inputs = pl_xmalloc(rows * sizeof *t->n_inputs);
    t->shapes = pl_xmalloc(rows * SHAPE_ROWS * 3 * sizeof *t->shapes);
    t->batch = pl_xmalloc(rows * sizeof *t->batch);
    t->threads = pl_xmalloc(rows * sizeof *t->threads);
    t->ms = pl_xmalloc(rows * sizeof *t->ms);
    const int64_t d1[1] = {n}, d3[3] = {n, SHAPE_ROWS, 3};
    PL_TRY(h5io_read_i32(r, "/latencies/n_inputs", t->n_inputs, 1, d1));
    PL_TRY(h5io_read_i32(r, "/latencies/shapes", t->shapes, 3, d3));
    PL_TRY(h5io_read_i32(r, "/latencies/batch", t->batch, 1, d1));
    PL_TRY(h5io_read_i32(r, "/latencies/threads", t->threads, 1, d1));
    PL_TRY(h5io_read_f64(r, "/latencies/ms", t->ms, 1, d1));
    PL_TRY(h5io_read_strings(r, "/latencies/device", &t->device, &t->n_device));
    PL_TRY(h5io_read_strings(r, "/latencies/build", &t->build, &t->n_build));
    if (t->n_device != n || t->n_build != n)
        PL_FAIL(PL_ERR_SCHEMA, "%s: /latencies/device and /latencies/build must have %lld rows",
                r->path, (long long)n);
    int64_t entries;
    PL_TRY(h5io_read_attr_i64(r, "/latencies", "entries", &entries));
    if (entries != n)
        PL_FAIL(PL_ERR_SCHEMA, "%s: /latencies@entries is %lld but the datasets have %lld rows",
                r->path, (long long)entries, (long long)n);
    return PL_OK;
}

/* Loads the validated rows of t into c (not unsaved); duplicates keep the
 * first row's value. */
static int load_columns(lat_cache *c, const columns *t, const char *path)
{
    for (int64_t i = 0; i < t->n; i++) {
        lat_cache_key k;
        memset(&k, 0, sizeof k);
        k.hash = (uint64_t)t->hash[i];
        k.n_inputs = t->n_inputs[i];
        if (k.n_inputs < 0 || k.n_inputs > LAT_CACHE_MAX_INPUTS)
            PL_FAIL(PL_ERR_SCHEMA, "%s: /latencies/n_inputs[%lld] is %d, not in 0..%d", path,
                    (long long)i, k.n_inputs, LAT_CACHE_MAX_INPUTS);
        const int32_t *sh = &t->shapes[i * SHAPE_ROWS * 3];
        for (int r = 0; r < k.n_inputs; r++) memcpy(k.in_shapes[r], &sh[r * 3], 3 * sizeof *sh);
        memcpy(k.out_shape, &sh[LAT_CACHE_MAX_INPUTS * 3], 3 * sizeof *sh);
        if (!isfinite(t->ms[i]) || t->ms[i] < 0)
            PL_FAIL(PL_ERR_SCHEMA, "%s: /latencies/ms[%lld] is %g, not a latency", path,
                    (long long)i, t->ms[i]);
        if (strlen(t->device[i]) >= sizeof k.device || strlen(t->build[i]) >= sizeof k.build)
            PL_FAIL(PL_ERR_SCHEMA, "%s: row %lld: device or build longer than a key holds (%zu, %zu bytes)",
                    path, (long long)i, sizeof k.device - 1, sizeof k.build - 1);
        memcpy(k.device, t->device[i], strlen(t->device[i]));
        memcpy(k.build, t->build[i], strlen(t->build[i]));
        k.batch = t->batch[i];
        k.threads = t->threads[i];
        add_normalized(c, &k, t->ms[i], 0);
    }
    return PL_OK;
}

/* Reads the existing file at path into a new cache *out. */
static int read_file(const char *path, lat_cache **out)
{
    *out = NULL;
    h5io_reader r;
    PL_TRY(h5io_open(&r, path, SCHEMA));
    columns t;
    int rc = read_columns(&r, &t);
    h5io_close(&r);
    lat_cache *c = cache_new(path);
    if (rc >= 0) rc = load_columns(c, &t, path);
    columns_free(&t);
    if (rc < 0) {
        lat_cache_close(c);
        return rc;
    }
    *out = c;
    return PL_OK;
}

/* 1 when path exists, 0 when it does not, else an error. */
static int file_exists(const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0) return 1;
    if (errno == ENOENT) return 0;
    PL_FAIL(PL_ERR_IO, "%s: cannot stat the latency cache (%s)", path, strerror(errno));
}

int lat_cache_open(lat_cache **out, const char *path)
{
    *out = NULL;
    int exists = file_exists(path);
    PL_TRY(exists);
    if (!exists) {
        *out = cache_new(path);
        return PL_OK;
    }
    return read_file(path, out);
}

static int write_file(const lat_cache *c)
{
    columns t;
    columns_alloc(&t, c->n);
    const char **device = pl_xmalloc((size_t)(c->n ? c->n : 1) * sizeof *device);
    const char **build = pl_xmalloc((size_t)(c->n ? c->n : 1) * sizeof *build);
    memset(t.shapes, 0, (size_t)(c->n ? c->n : 1) * SHAPE_ROWS * 3 * sizeof *t.shapes);
    for (int64_t i = 0; i < c->n; i++) {
        const lat_cache_key *k = &c->entries[i].key;
        t.hash[i] = (int64_t)k->hash;
        t.n_inputs[i] = k->n_inputs;
        int32_t *sh = &t.shapes[i * SHAPE_ROWS * 3];
        memcpy(sh, k->in_shapes, sizeof k->in_shapes); /* unused rows are zero */
        memcpy(&sh[LAT_CACHE_MAX_INPUTS * 3], k->out_shape, sizeof k->out_shape);
        t.batch[i] = k->batch;
        t.threads[i] = k->threads;
        t.ms[i] = c->entries[i].ms;
        device[i] = k->device;
        build[i] = k->build;
    }
    h5io_provenance prov;
    memset(&prov, 0, sizeof prov);
    prov.schema = SCHEMA;
    snprintf(prov.stage, sizeof prov.stage, "search");
    snprintf(prov.experiment, sizeof prov.experiment, "%s", c->experiment);
    h5io_writer w;
    memset(&w, 0, sizeof w);
    const int64_t d1[1] = {c->n}, d3[3] = {c->n, SHAPE_ROWS, 3};
    int rc = h5io_create(&w, c->path, &prov);
    if (rc >= 0) rc = h5io_write_group(&w, "/latencies");
    if (rc >= 0) rc = h5io_write_attr_i64(&w, "/latencies", "entries", c->n);
    if (rc >= 0) rc = h5io_write_i64(&w, "/latencies/struct_hash", t.hash, 1, d1);
    if (rc >= 0) rc = h5io_write_i32(&w, "/latencies/n_inputs", t.n_inputs, 1, d1);
    if (rc >= 0) rc = h5io_write_i32(&w, "/latencies/shapes", t.shapes, 3, d3);
    if (rc >= 0) rc = h5io_write_strings(&w, "/latencies/device", device, c->n);
    if (rc >= 0) rc = h5io_write_i32(&w, "/latencies/batch", t.batch, 1, d1);
    if (rc >= 0) rc = h5io_write_i32(&w, "/latencies/threads", t.threads, 1, d1);
    if (rc >= 0) rc = h5io_write_strings(&w, "/latencies/build", build, c->n);
    if (rc >= 0) rc = h5io_write_f64(&w, "/latencies/ms", t.ms, 1, d1);
    if (rc >= 0)
        rc = h5io_commit(&w);
    else
        h5io_abort(&w);
    pl_free(device);
    pl_free(build);
    columns_free(&t);
    return rc;
}

/* Takes an exclusive flock on "<path>.lock"; *fd gets the descriptor. */
static int lock_file(const char *path, int *fd)
{
    char lock[4096];
    if (snprintf(lock, sizeof lock, "%s.lock", path) >= (int)sizeof lock)
        PL_FAIL(PL_ERR_INVAL, "%s: path too long for its lock file", path);
    *fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (*fd < 0) PL_FAIL(PL_ERR_IO, "%s: cannot open the lock file (%s)", lock, strerror(errno));
    while (flock(*fd, LOCK_EX) < 0) {
        if (errno == EINTR) continue;
        int err = errno;
        close(*fd);
        *fd = -1;
        PL_FAIL(PL_ERR_IO, "%s: cannot lock (%s)", lock, strerror(err));
    }
    return PL_OK;
}

static void unlock_file(int fd)
{
    flock(fd, LOCK_UN);
    close(fd);
}

/* Moves the contents of src into dst (same path) and frees src. */
static void take_contents(lat_cache *dst, lat_cache *src)
{
    pl_free(dst->entries);
    pl_free(dst->slots);
    dst->entries = src->entries;
    dst->slots = src->slots;
    dst->n = src->n;
    dst->cap = src->cap;
    dst->n_slots = src->n_slots;
    dst->n_unsaved = 0;
    for (int64_t i = 0; i < dst->n; i++) dst->entries[i].unsaved = 0;
    src->entries = NULL;
    src->slots = NULL;
    lat_cache_close(src);
}

int lat_cache_save(lat_cache *c)
{
    if (c->n_unsaved == 0) return PL_OK;
    int fd;
    PL_TRY(lock_file(c->path, &fd));
    /* What other processes saved meanwhile, then this cache's new entries. */
    lat_cache *merged = NULL;
    int rc = file_exists(c->path);
    if (rc == 1)
        rc = read_file(c->path, &merged);
    else if (rc == 0)
        merged = cache_new(c->path);
    if (rc >= 0) {
        lat_cache_set_provenance(merged, c->experiment);
        for (int64_t i = 0; i < c->n; i++)
            if (c->entries[i].unsaved)
                add_normalized(merged, &c->entries[i].key, c->entries[i].ms, 1);
        rc = write_file(merged);
    }
    unlock_file(fd);
    if (rc < 0) {
        lat_cache_close(merged);
        return rc;
    }
    take_contents(c, merged);
    return PL_OK;
}
