/* test_lat_cache.c: the shared latency cache (pipeline/search/lat_cache.h):
 *   - put/get in memory, and a missing file is an empty cache;
 *   - keys differing in any one field (hash, an input shape, the output
 *     shape, n_inputs, device, batch, threads, build) are different entries,
 *     while unused shape rows and bytes after a string's NUL do not count;
 *   - save then open in a fresh cache gives the values back (and the file
 *     passes h5io_check as gos.latency_cache);
 *   - two caches opened from one file, each adding keys and saving in turn,
 *     end with the union, and a key both added keeps the first saved value;
 *   - tens of thousands of entries round-trip;
 *   - a corrupt file (garbage bytes) or a bad row is an error naming the
 *     file, on open and on save (which then leaves the file alone);
 *   - save waits for the flock on "<path>.lock" that a child process holds.
 * Works in /tmp/gos_test_lat_cache.<pid>/, removed at the end. */
#include "check.h"
#include "h5io.h"
#include "lat_cache.h"
#include "pl_err.h"
#include "pl_mem.h"
#include "test_tmpdir.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[256];

static void path_in_dir(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", dir, name);
}

static lat_cache_key base_key(void)
{
    lat_cache_key k;
    memset(&k, 0, sizeof k);
    k.hash = 0x8badf00dcafef00dULL; /* top bit set: stored as a negative int64 */
    k.n_inputs = 2;
    int32_t in[2][3] = {{16, 8, 8}, {32, 4, 4}};
    memcpy(k.in_shapes, in, sizeof in);
    k.out_shape[0] = 24, k.out_shape[1] = 8, k.out_shape[2] = 8;
    snprintf(k.device, sizeof k.device, "host");
    k.batch = 1;
    k.threads = 2;
    snprintf(k.build, sizeof k.build, "gos abc123, gcc 12.2.0, OpenBLAS 0.3.21 Haswell");
    return k;
}

/* Key number i of a large family: distinct hashes and shapes. */
static lat_cache_key family_key(int i)
{
    lat_cache_key k = base_key();
    k.hash = 0x1234567ULL * (uint64_t)(i + 1);
    k.n_inputs = 1 + i % 8;
    for (int r = 0; r < k.n_inputs; r++) k.in_shapes[r][0] = 1 + (i + r) % 64;
    k.out_shape[1] = 1 + i % 17;
    return k;
}

static double get_or(const lat_cache *c, const lat_cache_key *k, double missing)
{
    double ms = missing;
    return lat_cache_get(c, k, &ms) ? ms : missing;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static void write_garbage(const char *path)
{
    FILE *f = fopen(path, "wb");
    if (!f) return;
    for (int i = 0; i < 4096; i++) fputc((i * 131 + 7) & 0xff, f);
    fclose(f);
}

static int file_is_garbage(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    int ok = 1, i = 0, ch;
    while ((ch = fgetc(f)) != EOF) ok &= ch == ((i++ * 131 + 7) & 0xff);
    fclose(f);
    return ok && i == 4096;
}

static void test_memory_and_missing(void)
{
    char path[512];
    path_in_dir(path, sizeof path, "missing.h5");
    lat_cache *c = NULL;
    int rc = lat_cache_open(&c, path);
    CHECK(rc == PL_OK && c, "a missing file is an empty cache: %s", pl_last_error());
    if (!c) return;
    CHECK(lat_cache_count(c) == 0, "empty cache has %lld entries", (long long)lat_cache_count(c));
    lat_cache_key k = base_key();
    double ms = -1;
    CHECK(lat_cache_get(c, &k, &ms) == 0 && ms == -1, "get on an empty cache");
    lat_cache_put(c, &k, 1.25);
    CHECK_CLOSE(get_or(c, &k, -1), 1.25, 0, 0, "round trip in memory");
    lat_cache_put(c, &k, 9.0);
    CHECK_CLOSE(get_or(c, &k, -1), 1.25, 0, 0, "a second put keeps the first value");
    CHECK(lat_cache_count(c) == 1 && lat_cache_unsaved(c) == 1, "one entry, unsaved");

    /* Parts that do not count: shape rows past n_inputs, bytes after NUL. */
    lat_cache_key same = base_key();
    same.in_shapes[5][1] = 99;
    memset(same.device + 5, 'x', 10);
    CHECK_CLOSE(get_or(c, &same, -1), 1.25, 0, 0, "unused shape rows and bytes after NUL");

    /* lat_cache_key_set_device copies the device fields. */
    dev_provenance p;
    memset(&p, 0, sizeof p);
    snprintf(p.device, sizeof p.device, "host");
    p.batch = 1;
    p.threads = 2;
    snprintf(p.build, sizeof p.build, "%s", k.build);
    lat_cache_key from_prov = base_key();
    memset(from_prov.device, 0, sizeof from_prov.device);
    memset(from_prov.build, 0, sizeof from_prov.build);
    from_prov.batch = from_prov.threads = 0;
    p.warmup_runs = 2;
    p.timed_runs = 5;
    p.min_run_ms = 0.5;
    lat_cache_key_set_device(&from_prov, &p);
    CHECK(from_prov.batch == 1 && from_prov.threads == 2 && !strcmp(from_prov.device, "host") &&
              !strcmp(from_prov.build, "gos abc123, gcc 12.2.0, OpenBLAS 0.3.21 Haswell; "
                                       "timed: 2 warm-up, 5 runs of >= 0.5 ms"),
          "key from dev_provenance: %s", from_prov.build);
    lat_cache_put(c, &from_prov, 2.5);
    CHECK_CLOSE(get_or(c, &from_prov, -1), 2.5, 0, 0, "key from dev_provenance");
    p.timed_runs = 50; /* timed another way: another entry */
    lat_cache_key_set_device(&from_prov, &p);
    CHECK_CLOSE(get_or(c, &from_prov, -1), -1, 0, 0, "another timing misses");
    /* A build too long for the key keeps the timing whole, at the end. */
    memset(p.build, 'b', sizeof p.build - 1);
    p.build[sizeof p.build - 1] = '\0';
    lat_cache_key_set_device(&from_prov, &p);
    const char *timing = "; timed: 2 warm-up, 50 runs of >= 0.5 ms";
    const size_t len = strlen(from_prov.build);
    CHECK(len == sizeof from_prov.build - 1 &&
              !strcmp(from_prov.build + len - strlen(timing), timing),
          "a long build is cut before the timing");
    lat_cache_close(c);
    CHECK(access(path, F_OK) != 0, "closing without save writes nothing");

    /* A save with nothing new does not create the file. */
    CHECK(lat_cache_open(&c, path) == PL_OK, "reopen missing");
    CHECK(lat_cache_save(c) == PL_OK && access(path, F_OK) != 0, "empty save writes nothing");
    lat_cache_close(c);
}

enum { N_VARIANTS = 10 };

static void variants(lat_cache_key v[N_VARIANTS])
{
    for (int i = 0; i < N_VARIANTS; i++) v[i] = base_key();
    v[1].hash ^= 1;
    v[2].in_shapes[0][0] = 17;          /* first input's C  */
    v[3].in_shapes[1][2] = 5;           /* second input's W */
    v[4].out_shape[1] = 9;
    v[5].n_inputs = 1;
    snprintf(v[6].device, sizeof v[6].device, "hosu");
    v[7].batch = 2;
    v[8].threads = 1;
    v[9].build[strlen(v[9].build) - 1] = 'X';
}

static void test_fields_and_file(void)
{
    char path[512];
    path_in_dir(path, sizeof path, "fields.h5");
    lat_cache *c = NULL;
    CHECK(lat_cache_open(&c, path) == PL_OK, "open fields");
    if (!c) return;
    lat_cache_key v[N_VARIANTS];
    variants(v);
    for (int i = 0; i < N_VARIANTS; i++) lat_cache_put(c, &v[i], 1.0 + i);
    CHECK(lat_cache_count(c) == N_VARIANTS, "each field makes a new key: %lld entries",
          (long long)lat_cache_count(c));
    for (int i = 0; i < N_VARIANTS; i++)
        CHECK(get_or(c, &v[i], -1) == 1.0 + i, "variant %d: got %g", i, get_or(c, &v[i], -1));
    lat_cache_set_provenance(c, "fields_experiment");
    int rc = lat_cache_save(c);
    CHECK(rc == PL_OK, "save: %s", pl_last_error());
    CHECK(lat_cache_unsaved(c) == 0, "nothing unsaved after save");
    lat_cache_close(c);

    char schema[64] = "";
    rc = h5io_check(path, schema, sizeof schema);
    CHECK(rc == PL_OK && strcmp(schema, "gos.latency_cache") == 0, "h5io_check: %s",
          pl_last_error());
    h5io_reader r;
    if (h5io_open(&r, path, "gos.latency_cache") == PL_OK) {
        char *exp = NULL, *stage = NULL;
        int64_t entries = -1;
        h5io_read_attr_string(&r, "/", "experiment", &exp);
        h5io_read_attr_string(&r, "/", "stage", &stage);
        h5io_read_attr_i64(&r, "/latencies", "entries", &entries);
        CHECK(exp && strcmp(exp, "fields_experiment") == 0, "/@experiment %s", exp ? exp : "?");
        CHECK(stage && strcmp(stage, "search") == 0, "/@stage %s", stage ? stage : "?");
        CHECK(entries == N_VARIANTS, "/latencies@entries %lld", (long long)entries);
        pl_free(exp);
        pl_free(stage);
        h5io_close(&r);
    }
    char lock[600];
    snprintf(lock, sizeof lock, "%s.lock", path);
    CHECK(access(lock, F_OK) == 0, "save used %s", lock);

    lat_cache *fresh = NULL;
    rc = lat_cache_open(&fresh, path);
    CHECK(rc == PL_OK && fresh, "reopen: %s", pl_last_error());
    if (!fresh) return;
    CHECK(lat_cache_count(fresh) == N_VARIANTS && lat_cache_unsaved(fresh) == 0,
          "reopened count %lld", (long long)lat_cache_count(fresh));
    for (int i = 0; i < N_VARIANTS; i++)
        CHECK(get_or(fresh, &v[i], -1) == 1.0 + i, "variant %d after reopen: got %g", i,
              get_or(fresh, &v[i], -1));
    lat_cache_close(fresh);
}

static void test_merge(void)
{
    char path[512];
    path_in_dir(path, sizeof path, "merge.h5");
    lat_cache_key base = base_key(), ka = base, kb = base, shared = base;
    ka.hash = 1, kb.hash = 2, shared.hash = 3;

    lat_cache *seed = NULL;
    CHECK(lat_cache_open(&seed, path) == PL_OK, "open seed");
    if (!seed) return;
    lat_cache_put(seed, &base, 5.0);
    CHECK(lat_cache_save(seed) == PL_OK, "seed save: %s", pl_last_error());
    lat_cache_close(seed);

    lat_cache *a = NULL, *b = NULL;
    CHECK(lat_cache_open(&a, path) == PL_OK && lat_cache_open(&b, path) == PL_OK, "open a, b");
    if (!a || !b) {
        lat_cache_close(a);
        lat_cache_close(b);
        return;
    }
    lat_cache_put(a, &ka, 10.0);
    lat_cache_put(a, &shared, 11.0);
    lat_cache_put(b, &kb, 20.0);
    lat_cache_put(b, &shared, 21.0);
    CHECK(lat_cache_save(a) == PL_OK, "a save: %s", pl_last_error());
    CHECK(lat_cache_save(b) == PL_OK, "b save: %s", pl_last_error());
    CHECK(lat_cache_count(b) == 4, "b holds the union after its save: %lld",
          (long long)lat_cache_count(b));
    CHECK(get_or(b, &ka, -1) == 10.0, "b sees a's key after save");
    CHECK(get_or(b, &shared, -1) == 11.0, "b's shared key takes the first saved value: %g",
          get_or(b, &shared, -1));
    lat_cache_close(a);
    lat_cache_close(b);

    lat_cache *c = NULL;
    CHECK(lat_cache_open(&c, path) == PL_OK, "open merged: %s", pl_last_error());
    if (!c) return;
    CHECK(lat_cache_count(c) == 4, "merged file has %lld entries", (long long)lat_cache_count(c));
    CHECK(get_or(c, &base, -1) == 5.0, "seed entry kept");
    CHECK(get_or(c, &ka, -1) == 10.0, "a's entry");
    CHECK(get_or(c, &kb, -1) == 20.0, "b's entry");
    CHECK(get_or(c, &shared, -1) == 11.0, "shared key keeps the first saved value: %g",
          get_or(c, &shared, -1));
    lat_cache_close(c);
}

static void test_large(void)
{
    enum { N = 30000 };
    char path[512];
    path_in_dir(path, sizeof path, "large.h5");
    lat_cache *c = NULL;
    CHECK(lat_cache_open(&c, path) == PL_OK, "open large");
    if (!c) return;
    double t0 = now_ms();
    for (int i = 0; i < N; i++) {
        lat_cache_key k = family_key(i);
        lat_cache_put(c, &k, 0.001 * i);
    }
    int bad = 0;
    for (int i = 0; i < N; i++) {
        lat_cache_key k = family_key(i);
        bad += get_or(c, &k, -1) != 0.001 * i;
    }
    double t_mem = now_ms() - t0;
    CHECK(lat_cache_count(c) == N && bad == 0, "large in memory: %lld entries, %d wrong",
          (long long)lat_cache_count(c), bad);
    CHECK(t_mem < 2000, "%d puts and gets take %.0f ms", N, t_mem);
    CHECK(lat_cache_save(c) == PL_OK, "large save: %s", pl_last_error());
    lat_cache_close(c);
    double t1 = now_ms();
    CHECK(lat_cache_open(&c, path) == PL_OK, "large reopen: %s", pl_last_error());
    double t_load = now_ms() - t1;
    if (!c) return;
    bad = 0;
    for (int i = 0; i < N; i++) {
        lat_cache_key k = family_key(i);
        bad += get_or(c, &k, -1) != 0.001 * i;
    }
    CHECK(lat_cache_count(c) == N && bad == 0, "large reopened: %lld entries, %d wrong",
          (long long)lat_cache_count(c), bad);
    printf("test_lat_cache: %d entries: %.0f ms in memory, %.0f ms to load\n", N, t_mem, t_load);
    lat_cache_close(c);
}

static void test_corrupt(void)
{
    char path[512];
    path_in_dir(path, sizeof path, "corrupt.h5");
    write_garbage(path);
    lat_cache *c = (lat_cache *)1;
    int rc = lat_cache_open(&c, path);
    CHECK(rc < 0 && c == NULL, "garbage file: rc %d", rc);
    CHECK(strstr(pl_last_error(), path) != NULL, "error names the file: %s", pl_last_error());

    /* Corrupted between open and save: the save fails and leaves it. */
    char later[512];
    path_in_dir(later, sizeof later, "later.h5");
    c = NULL;
    CHECK(lat_cache_open(&c, later) == PL_OK, "open later");
    if (!c) return;
    lat_cache_key k = base_key();
    lat_cache_put(c, &k, 3.0);
    write_garbage(later);
    rc = lat_cache_save(c);
    CHECK(rc < 0, "save over a corrupt file fails: rc %d", rc);
    CHECK(strstr(pl_last_error(), later) != NULL, "save error names the file: %s",
          pl_last_error());
    CHECK(file_is_garbage(later), "the corrupt file is left as it was");
    CHECK(lat_cache_unsaved(c) == 1 && get_or(c, &k, -1) == 3.0, "entry kept for another try");
    lat_cache_close(c);

    /* A valid artifact with an impossible row. */
    char badrow[512];
    path_in_dir(badrow, sizeof badrow, "badrow.h5");
    h5io_provenance prov;
    memset(&prov, 0, sizeof prov);
    prov.schema = "gos.latency_cache";
    snprintf(prov.stage, sizeof prov.stage, "search");
    h5io_writer w;
    memset(&w, 0, sizeof w);
    int64_t hash[1] = {7};
    int32_t n_inputs[1] = {9}, shapes[27] = {0}, one[1] = {1};
    double ms[1] = {1.0};
    const char *dev[1] = {"host"}, *build[1] = {"b"};
    const int64_t d1[1] = {1}, d3[3] = {1, 9, 3};
    rc = h5io_create(&w, badrow, &prov);
    if (rc >= 0) rc = h5io_write_group(&w, "/latencies");
    if (rc >= 0) rc = h5io_write_attr_i64(&w, "/latencies", "entries", 1);
    if (rc >= 0) rc = h5io_write_i64(&w, "/latencies/struct_hash", hash, 1, d1);
    if (rc >= 0) rc = h5io_write_i32(&w, "/latencies/n_inputs", n_inputs, 1, d1);
    if (rc >= 0) rc = h5io_write_i32(&w, "/latencies/shapes", shapes, 3, d3);
    if (rc >= 0) rc = h5io_write_strings(&w, "/latencies/device", dev, 1);
    if (rc >= 0) rc = h5io_write_i32(&w, "/latencies/batch", one, 1, d1);
    if (rc >= 0) rc = h5io_write_i32(&w, "/latencies/threads", one, 1, d1);
    if (rc >= 0) rc = h5io_write_strings(&w, "/latencies/build", build, 1);
    if (rc >= 0) rc = h5io_write_f64(&w, "/latencies/ms", ms, 1, d1);
    if (rc >= 0)
        rc = h5io_commit(&w);
    else
        h5io_abort(&w);
    CHECK(rc == PL_OK, "write the bad-row file: %s", pl_last_error());
    c = NULL;
    rc = lat_cache_open(&c, badrow);
    CHECK(rc < 0 && c == NULL, "bad row: rc %d", rc);
    CHECK(strstr(pl_last_error(), badrow) && strstr(pl_last_error(), "/latencies/n_inputs"),
          "bad row error names the file and dataset: %s", pl_last_error());
    lat_cache_close(c);
}

static void test_lock(void)
{
    char path[512], lock[600];
    path_in_dir(path, sizeof path, "locked.h5");
    snprintf(lock, sizeof lock, "%s.lock", path);
    int pipefd[2];
    if (pipe(pipefd) != 0) {
        CHECK(0, "pipe failed");
        return;
    }
    fflush(NULL);
    pid_t child = fork();
    if (child < 0) {
        CHECK(0, "fork failed");
        return;
    }
    if (child == 0) {
        /* Hold the lock for 400 ms, telling the parent once it is held. */
        close(pipefd[0]);
        int fd = open(lock, O_RDWR | O_CREAT, 0666);
        if (fd < 0 || flock(fd, LOCK_EX) != 0) _exit(2);
        char byte = 'L';
        if (write(pipefd[1], &byte, 1) != 1) _exit(3);
        struct timespec ts = {0, 400 * 1000 * 1000};
        nanosleep(&ts, NULL);
        _exit(0);
    }
    close(pipefd[1]);
    char byte = 0;
    ssize_t got = read(pipefd[0], &byte, 1);
    close(pipefd[0]);
    CHECK(got == 1 && byte == 'L', "child holds the lock");
    lat_cache *c = NULL;
    CHECK(lat_cache_open(&c, path) == PL_OK, "open locked");
    if (c) {
        lat_cache_key k = base_key();
        lat_cache_put(c, &k, 2.5);
        double t0 = now_ms();
        int rc = lat_cache_save(c);
        double waited = now_ms() - t0;
        CHECK(rc == PL_OK, "save after the lock is released: %s", pl_last_error());
        CHECK(waited >= 250, "save waited %.0f ms for the child's lock", waited);
        lat_cache_close(c);
    }
    int status = -1;
    waitpid(child, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child exit status %d", status);
    c = NULL;
    CHECK(lat_cache_open(&c, path) == PL_OK && c && lat_cache_count(c) == 1,
          "locked save landed");
    lat_cache_close(c);
}

int main(void)
{
    snprintf(dir, sizeof dir, "/tmp/gos_test_lat_cache.%ld", (long)getpid());
    remove_tree(dir);
    if (mkdir(dir, 0700) != 0) {
        CHECK(0, "cannot create %s", dir);
        return check_summary("test_lat_cache");
    }
    test_memory_and_missing();
    test_fields_and_file();
    test_merge();
    test_large();
    test_corrupt();
    test_lock();
    remove_tree(dir);
    return check_summary("test_lat_cache");
}
