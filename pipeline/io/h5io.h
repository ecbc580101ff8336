/* h5io.h: writing and reading the pipeline's HDF5 artifacts.
 *
 * Writing is atomic: h5io_create makes "<path>.tmp.<pid>" in the same
 * directory, the stage writes groups, datasets and attributes into it, and
 * h5io_commit stamps end_time, closes, validates the file against its schema,
 * fsyncs it, renames it over <path> and fsyncs the directory. A stage killed
 * at any moment leaves either the previous complete artifact or none under
 * <path>, plus at most a "<path>.tmp.<pid>" file that the next h5io_create
 * (or h5io_remove_stale_temps) deletes once that pid is gone. On any error
 * path call h5io_abort, which closes and unlinks the temporary file.
 *
 * Reading always validates first: h5io_open runs h5io_check (schema name and
 * version, every required entry with its dtype, rank and dimensions) before
 * handing out a reader, and every read checks the shape it expects.
 *
 * Errors follow pl_err.h: functions return a negative pl_status and record a
 * message naming the file and the dataset or attribute, e.g.
 *   "results/tiny/baseline.h5: /graph/params: shape (10) but the graph needs (1234)".
 * HDF5's own error printing is switched off; its failures become
 * PL_ERR_HDF5 (cannot open, read or write) or PL_ERR_SCHEMA (the file is
 * readable but not laid out as its schema says).
 *
 * Not thread-safe (Debian's serial HDF5): use from one thread at a time.
 *
 * Strings are written as variable-length UTF-8 (h5py reads attributes as str,
 * datasets as bytes, or str via .asstr()). Datasets are contiguous unless
 * h5io_set_compression asks for chunked deflate on large ones. */
#ifndef H5IO_H
#define H5IO_H

#include "h5io_schema.h"

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

struct ig_graph;

/* ---- provenance ---------------------------------------------------------- */

/* What the stage says about the run. h5io adds schema_version (from the
 * schema table), git_revision, blas (pl_blas_describe) and end_time. */
typedef struct {
    const char *schema;      /* schema name, e.g. "gos.baseline" (required)  */
    char stage[32];          /* "train"                                      */
    char experiment[128];    /* "resnet18_rpi3"                              */
    const char *config_text; /* the fully resolved config; NULL = ""; borrowed */
    int64_t seed;
    int threads;             /* <= 0: pl_threads_get()                       */
    char start_time[32];     /* ISO 8601 UTC; "" = the time of h5io_create   */
} h5io_provenance;

/* Writes the current UTC time as "2024-05-01T12:34:56Z" into buf (>= 21
 * bytes; 32 is plenty). */
void h5io_now_iso8601(char *buf, size_t n);

/* The project's git revision: $GOS_GIT_REVISION when set, else
 * `git rev-parse --short HEAD` (plus "-dirty" when `git status --porcelain`
 * is not empty) run in the directory of the executable, then in the current
 * directory, else "unknown". Computed once per process; borrowed. */
const char *h5io_git_revision(void);

/* ---- writer -------------------------------------------------------------- */

typedef struct {
    hid_t file;              /* open temporary file, or H5I_INVALID_HID       */
    char *path;              /* final path (owned)                            */
    char *tmp_path;          /* "<path>.tmp.<pid>" (owned)                    */
    const h5io_schema *schema;
    int deflate_level;       /* 0 = contiguous datasets (default)             */
} h5io_writer;

/* Starts an artifact for `path` of schema prov->schema: removes stale
 * temporaries of dead runs, creates "<path>.tmp.<pid>" and writes the
 * provenance root attributes. On success the writer owns the open temporary
 * file: finish with h5io_commit, or h5io_abort on any error. On failure
 * nothing is left behind and the writer needs no cleanup (h5io_abort is
 * still safe). */
int h5io_create(h5io_writer *w, const char *path, const h5io_provenance *prov);

/* Datasets with at least 65536 elements written after this call are stored
 * in chunks compressed with shuffle+deflate at `level` (1..9; 0 = off). Only
 * worth it for large integer or sparse data; weights barely compress. */
void h5io_set_compression(h5io_writer *w, int level);

/* Creates group `path` (and any missing parent). Creating an existing group
 * is not an error. Datasets create their parent groups themselves. */
int h5io_write_group(h5io_writer *w, const char *path);

/* Writes a dataset of rank 1..4 with extents dims[0..rank-1] (each >= 0; an
 * extent of 0 gives an empty dataset) from row-major data, creating parent
 * groups. data may be NULL only when the dataset is empty. */
int h5io_write_f32(h5io_writer *w, const char *dset, const float *data, int rank,
                   const int64_t *dims);
int h5io_write_f64(h5io_writer *w, const char *dset, const double *data, int rank,
                   const int64_t *dims);
int h5io_write_i32(h5io_writer *w, const char *dset, const int32_t *data, int rank,
                   const int64_t *dims);
int h5io_write_i64(h5io_writer *w, const char *dset, const int64_t *data, int rank,
                   const int64_t *dims);

/* A 1-D dataset of `count` variable-length UTF-8 strings (NULL entries are
 * written as ""). */
int h5io_write_strings(h5io_writer *w, const char *dset, const char *const *strings,
                       int64_t count);

/* A 1-D dataset of `count` fixed-length strings of `width` bytes each, taken
 * from data[i * width ...] (NUL-padded). */
int h5io_write_fixed_strings(h5io_writer *w, const char *dset, const char *data,
                             int64_t count, size_t width);

/* Scalar attributes `name` on the existing group or dataset `obj` ("/" for
 * the root). An existing attribute of that name is replaced. */
int h5io_write_attr_i64(h5io_writer *w, const char *obj, const char *name, int64_t value);
int h5io_write_attr_f64(h5io_writer *w, const char *obj, const char *name, double value);
int h5io_write_attr_string(h5io_writer *w, const char *obj, const char *name,
                           const char *value);

/* Stamps end_time, closes the file, validates it against its schema, fsyncs
 * it and renames it over the final path, then fsyncs the directory. On
 * failure the temporary file is removed and the old artifact (if any) is
 * untouched. Either way the writer is released (a later h5io_abort is a
 * no-op). */
int h5io_commit(h5io_writer *w);

/* Closes and unlinks the temporary file and releases the writer. Safe on a
 * zeroed writer, after a failed h5io_create and after h5io_commit. */
void h5io_abort(h5io_writer *w);

/* Removes "<path>.tmp.<pid>" files whose process no longer exists (left by
 * killed runs). Returns how many were removed, or a negative status when the
 * directory cannot be read. Temporaries of live processes are kept (also
 * when a dead writer's pid has been reused: such a file stays until that
 * process is gone too). Pids are of this machine: do not share a results
 * directory between machines that write the same artifact. */
int h5io_remove_stale_temps(const char *path);

/* ---- checker ------------------------------------------------------------- */

/* Validates the artifact at path against its schema: an HDF5 file, the
 * provenance attributes present, `schema` known, `schema_version` equal to
 * the supported one, every required entry present with its kind, dtype, rank
 * and dimensions, and every contiguous dataset's data inside the file. On
 * success writes the schema name into schema_name_out (n bytes; may be NULL)
 * and returns PL_OK; else a negative status whose message names the file and
 * the offending entry. */
int h5io_check(const char *path, char *schema_name_out, size_t n);

/* ---- reader -------------------------------------------------------------- */

typedef struct {
    hid_t file;                      /* read-only file, or H5I_INVALID_HID */
    char *path;                      /* owned, for messages                */
    const h5io_schema *schema;       /* the artifact's (validated) schema  */
} h5io_reader;

/* Validates path with h5io_check, checks that its schema is expected_schema
 * (NULL accepts any known schema), and opens it read-only. On success the
 * reader must be closed with h5io_close; on failure it needs nothing (and
 * h5io_close is safe). */
int h5io_open(h5io_reader *r, const char *path, const char *expected_schema);
void h5io_close(h5io_reader *r);

/* 1 when the dataset or group at obj exists, else 0. */
int h5io_exists(h5io_reader *r, const char *obj);

/* The rank and extents of dataset dset (dims holds H5IO_MAX_RANK entries). */
int h5io_dataset_shape(h5io_reader *r, const char *dset, int *rank, int64_t *dims);

/* Reads dataset dset into dst after checking that it has rank `rank` and
 * extents dims (an entry of -1 accepts any extent: the caller must then know
 * dst is large enough; use the _alloc variants otherwise). Values convert
 * from the stored numeric type. */
int h5io_read_f32(h5io_reader *r, const char *dset, float *dst, int rank, const int64_t *dims);
int h5io_read_f64(h5io_reader *r, const char *dset, double *dst, int rank, const int64_t *dims);
int h5io_read_i32(h5io_reader *r, const char *dset, int32_t *dst, int rank,
                  const int64_t *dims);
int h5io_read_i64(h5io_reader *r, const char *dset, int64_t *dst, int rank,
                  const int64_t *dims);

/* As above, but allocate: *out (pl_xmalloc, caller frees with pl_free) gets
 * the whole dataset, *rank and dims[0..*rank-1] its shape (dims holds
 * H5IO_MAX_RANK entries). */
int h5io_read_f32_alloc(h5io_reader *r, const char *dset, float **out, int *rank,
                        int64_t *dims);
int h5io_read_f64_alloc(h5io_reader *r, const char *dset, double **out, int *rank,
                        int64_t *dims);
int h5io_read_i32_alloc(h5io_reader *r, const char *dset, int32_t **out, int *rank,
                        int64_t *dims);
int h5io_read_i64_alloc(h5io_reader *r, const char *dset, int64_t **out, int *rank,
                        int64_t *dims);

/* Reads a 1-D string dataset (variable or fixed length). *out is an array
 * of *count strings; free it with h5io_free_strings. */
int h5io_read_strings(h5io_reader *r, const char *dset, char ***out, int64_t *count);
void h5io_free_strings(char **strings, int64_t count);

/* Scalar attributes `name` of group or dataset obj ("/" for the root).
 * Numbers convert from the stored numeric type; a string attribute is
 * returned allocated in *out (pl_free). */
int h5io_read_attr_i64(h5io_reader *r, const char *obj, const char *name, int64_t *out);
int h5io_read_attr_f64(h5io_reader *r, const char *obj, const char *name, double *out);
int h5io_read_attr_string(h5io_reader *r, const char *obj, const char *name, char **out);

/* ---- the instruction graph ---------------------------------------------- */

/* Writes finalized graph g into group `group` (e.g. "/graph"): per node its
 * opcode name, inputs (-1 padded), attrs, fattrs and operator id; the
 * operator names; the parameter and state slabs; the parameter tensor table
 * (names, offsets, counts, dims); attributes n_nodes, param_count, flops. */
int h5io_write_graph(h5io_writer *w, const char *group, const struct ig_graph *g);

/* Rebuilds the graph stored in `group` through ig_add (every node's shape is
 * re-validated; an unknown opcode or an invalid node is an error naming the
 * file and the node), restores its operators, finalizes it, checks that the
 * stored slabs have the sizes the rebuilt graph needs and copies the
 * parameters and the state in. On success *out is a new finalized graph
 * (caller frees with ig_graph_free); not planned. */
int h5io_read_graph(h5io_reader *r, const char *group, struct ig_graph **out);

/* A model artifact's graph ("/graph") and its input and logits nodes (the
 * attributes input_node and logits_node of `nodes_group`: "/data" in
 * gos.baseline and gos.adapted, "/summary" in gos.search), opened and
 * validated as `schema`. A node out of range, or an input node that is not
 * an input, is PL_ERR_SCHEMA naming the file. On success *g is the caller's
 * (ig_graph_free). */
int h5io_read_model(const char *path, const char *schema, const char *nodes_group,
                    struct ig_graph **g, int *input_node, int *logits_node);

#endif
