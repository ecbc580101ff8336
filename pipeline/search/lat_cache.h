/* lat_cache.h: the latency cache that experiments and sweeps share.
 *
 * A measured latency (ms) is stored under a key made of everything it
 * depends on: the candidate's structural hash, its boundary (input shapes
 * and output shape), the device name, the batch, the threads and the build
 * (dev_provenance.build: program revision, compiler, BLAS, and the timing
 * settings: warm-up runs, timed runs, minimum run time). A key that
 * differs in any field is a different entry, so a cached number is only
 * reused where it would have been measured the same way.
 *
 * The cache lives in memory as a hash table (O(1) average lookups, a 64-bit
 * mix of every key field with a full key comparison) and on disk as one
 * gos.latency_cache artifact (schemas/artifacts.md): one row per entry.
 *
 * Sharing between processes: lat_cache_open reads the file as it is (a
 * missing file is an empty cache; a file that is not a valid
 * gos.latency_cache is an error naming it, never silently discarded).
 * lat_cache_save takes an exclusive flock on "<path>.lock", re-reads the
 * file (other processes may have saved meanwhile), adds the entries this
 * cache gained since it was opened or last saved, and writes the union
 * atomically through h5io (temporary file + rename), then releases the lock.
 * A key present on both sides keeps the value saved first; after a save the
 * cache in memory holds exactly what the file holds. Readers need no lock:
 * the rename makes each version of the file appear whole.
 *
 * Not thread-safe: use one cache from one thread at a time (HDF5 is serial
 * here anyway). Errors follow pl_err.h. */
#ifndef LAT_CACHE_H
#define LAT_CACHE_H

#include "dev.h"

#include <stdint.h>

#define LAT_CACHE_MAX_INPUTS 8

/* What a latency depends on. Shapes are (C, H, W); only the first n_inputs
 * rows of in_shapes count (the rest are ignored, and stored as zeros).
 * device and build are NUL-terminated (a full buffer is cut at its last
 * byte); bytes after the NUL are ignored. */
typedef struct {
    uint64_t hash;                                 /* structural hash            */
    int32_t  n_inputs;                             /* 0..LAT_CACHE_MAX_INPUTS    */
    int32_t  in_shapes[LAT_CACHE_MAX_INPUTS][3];   /* (C, H, W) of each input    */
    int32_t  out_shape[3];                         /* (C, H, W) of the output    */
    char     device[64];                           /* dev_provenance.device      */
    int32_t  batch;                                /* dev_provenance.batch       */
    int32_t  threads;                              /* dev_provenance.threads     */
    char     build[512];                           /* dev_provenance.build       */
} lat_cache_key;

typedef struct lat_cache lat_cache; /* opaque */

/* Copies device, batch, threads and build of p into k, the build followed
 * by p's timing settings (the rest of k is left as it is). */
void lat_cache_key_set_device(lat_cache_key *k, const dev_provenance *p);

/* Opens the cache backed by the file at path (which need not exist). When
 * the file exists it is validated (h5io_open against gos.latency_cache, then
 * every row: n_inputs in range, latencies finite and >= 0, strings that fit
 * the key) and loaded; a file that fails is an error naming it. On success
 * *out is a new cache (lat_cache_close); on failure *out is NULL. */
int lat_cache_open(lat_cache **out, const char *path);

/* The experiment named in the file's /@experiment when this cache saves
 * (default ""); the stage is always "search". */
void lat_cache_set_provenance(lat_cache *c, const char *experiment);

/* 1 and *ms = the cached latency when k is in the cache, else 0 (*ms
 * untouched). */
int lat_cache_get(const lat_cache *c, const lat_cache_key *k, double *ms);

/* Adds k -> ms (finite, >= 0; n_inputs in 0..LAT_CACHE_MAX_INPUTS: anything
 * else is a bug and aborts). A key already in the cache keeps its value. */
void lat_cache_put(lat_cache *c, const lat_cache_key *k, double ms);

/* Merges with the file and writes it, as described at the top. Does nothing
 * (and returns PL_OK) when the cache gained no entry since it was opened or
 * last saved. The file's directory must exist. Returns PL_OK or a negative
 * status (the lock cannot be taken, the file on disk is corrupt, or the
 * write failed: then the file is left as it was and the cache keeps its
 * unsaved entries for another try). */
int lat_cache_save(lat_cache *c);

/* Entries in the cache, and how many of them are not saved yet. */
int64_t lat_cache_count(const lat_cache *c);
int64_t lat_cache_unsaved(const lat_cache *c);

/* The file's path (borrowed). */
const char *lat_cache_path(const lat_cache *c);

/* Frees the cache without saving. NULL is a no-op. */
void lat_cache_close(lat_cache *c);

#endif
