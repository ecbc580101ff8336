/* h5io_schema.h: artifact schemas as C tables.
 *
 * A schema is a name ("gos.baseline"), the one version this build reads and
 * writes, and a list of entries: groups, datasets and attributes, each with
 * its dtype, rank and dimensions. Every artifact also carries the provenance
 * root attributes (h5io_provenance_entries), whatever its schema. The tables
 * are the single source of truth: h5io_check validates files against them,
 * and tests/test_schema_doc.c checks that schemas/artifacts.md documents
 * every entry, so the documentation cannot drift from the code.
 *
 * Bump a schema's version whenever a reader of the old layout would misread
 * the new one (a renamed, removed or reshaped entry); adding an optional
 * entry does not need a bump. */
#ifndef H5IO_SCHEMA_H
#define H5IO_SCHEMA_H

#include <stdint.h>

#define H5IO_MAX_RANK 4

typedef enum { H5IO_GROUP, H5IO_DATASET, H5IO_ATTRIBUTE } h5io_kind;

/* Element types. Strings are variable-length UTF-8 when h5io writes them;
 * the checker accepts fixed-length strings too. */
typedef enum {
    H5IO_T_NONE, /* groups */
    H5IO_T_F32,
    H5IO_T_F64,
    H5IO_T_I32,
    H5IO_T_I64,
    H5IO_T_STRING
} h5io_dtype;

/* One dimension of a dataset: a fixed extent (size >= 0), any extent
 * (size == -1), or the extent of dimension like_dim of dataset `like`. */
typedef struct {
    int64_t     size;
    const char *like;
    int         like_dim;
} h5io_dim;

#define H5IO_ANY           {-1, 0, 0}
#define H5IO_FIXED(n)      {(n), 0, 0}
#define H5IO_LIKE(path, k) {-1, (path), (k)}

typedef struct {
    const char *path;   /* object path ("/graph/params"); for an attribute,
                           the path of the object that carries it ("/")    */
    const char *attr;   /* attribute name, or NULL for groups and datasets  */
    h5io_kind   kind;
    h5io_dtype  dtype;  /* H5IO_T_NONE for groups                           */
    int         rank;   /* 0 for scalars (every attribute is a scalar)      */
    h5io_dim    dims[H5IO_MAX_RANK];
    int         required;
} h5io_entry;

typedef struct {
    const char       *name;       /* "gos.baseline"                       */
    int64_t           version;    /* the version this build reads/writes  */
    const char       *summary;    /* one line, for messages               */
    const h5io_entry *entries;
    int               n_entries;
} h5io_schema;

/* The schema with this name, or NULL. Borrowed (static tables). */
const h5io_schema *h5io_schema_find(const char *name);

/* The known schemas, for listings and tests: index 0..count-1. */
int h5io_schema_count(void);
const h5io_schema *h5io_schema_at(int index);

/* The root attributes every artifact carries (schema, schema_version, stage,
 * git_revision, ...). *count receives their number. Borrowed. */
const h5io_entry *h5io_provenance_entries(int *count);

/* "/graph/params" for a dataset or group, "/metrics@test_accuracy" for an
 * attribute (the spelling used in messages and in schemas/artifacts.md).
 * Writes into buf (n bytes) and returns buf. */
char *h5io_entry_label(const h5io_entry *e, char *buf, int n);

/* "float32", "float64", "int32", "int64", "string" or "-" (groups). */
const char *h5io_dtype_name(h5io_dtype t);

/* "group", "dataset" or "attribute". */
const char *h5io_kind_name(h5io_kind k);

#endif
