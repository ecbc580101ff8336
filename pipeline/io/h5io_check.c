/* h5io_check.c: validates an artifact against its schema table: an HDF5
 * file, the provenance attributes, a known schema at the supported version,
 * and every required group, dataset and attribute with its dtype, rank and
 * dimensions; contiguous data must lie inside the file (truncation). */
#include "h5io.h"
#include "h5io_internal.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

/* What the checker knows about the open file. */
typedef struct {
    hid_t file;
    const char *path;
    uint64_t file_size;
} check_ctx;

/* The extent of dimension k of dataset path, or -1 when it cannot be read. */
static int64_t dataset_extent(hid_t file, const char *path, int k)
{
    if (h5io_object_type(file, path) != H5I_DATASET) return -1;
    hid_t d = H5Dopen2(file, path, H5P_DEFAULT);
    if (d < 0) return -1;
    int64_t dims[H5IO_MAX_RANK];
    int rank = h5io_dataset_dims(d, dims);
    H5Dclose(d);
    return k < rank ? dims[k] : -1;
}

/* The schema's dims for e, with "like" references resolved from the file
 * (unresolvable ones stay -1 = any). */
static void expected_dims(const check_ctx *c, const h5io_entry *e, int64_t *want)
{
    for (int k = 0; k < e->rank; k++) {
        want[k] = e->dims[k].size;
        if (e->dims[k].like)
            want[k] = dataset_extent(c->file, e->dims[k].like, e->dims[k].like_dim);
    }
}

/* "(*, 8)" with "*" for any extent. */
static char *want_text(char *buf, size_t n, int rank, const int64_t *want)
{
    size_t used = (size_t)snprintf(buf, n, "(");
    for (int k = 0; k < rank && used < n; k++) {
        const char *sep = k ? ", " : "";
        used += want[k] < 0 ? (size_t)snprintf(buf + used, n - used, "%s*", sep)
                            : (size_t)snprintf(buf + used, n - used, "%s%lld", sep,
                                               (long long)want[k]);
    }
    if (used < n) snprintf(buf + used, n - used, ")");
    return buf;
}

static int check_dataset(const check_ctx *c, const h5io_entry *e, hid_t d)
{
    char have[96], need[96];
    hid_t type = H5Dget_type(d);
    if (type < 0) PL_FAIL(PL_ERR_HDF5, "%s: %s: cannot read the dtype", c->path, e->path);
    int type_ok = h5io_type_matches(type, e->dtype);
    h5io_type_text(type, have, sizeof have);
    H5Tclose(type);
    if (!type_ok)
        PL_FAIL(PL_ERR_SCHEMA, "%s: %s: dtype %s but the schema says %s", c->path, e->path, have,
                h5io_dtype_name(e->dtype));

    int64_t got[H5IO_MAX_RANK], want[H5IO_MAX_RANK];
    int rank = h5io_dataset_dims(d, got);
    if (rank < 0) PL_FAIL(PL_ERR_HDF5, "%s: %s: cannot read the shape", c->path, e->path);
    expected_dims(c, e, want);
    if (rank != e->rank)
        PL_FAIL(PL_ERR_SCHEMA, "%s: %s: shape %s but the schema says %s", c->path, e->path,
                h5io_dims_text(have, sizeof have, rank, got),
                want_text(need, sizeof need, e->rank, want));
    for (int k = 0; k < rank; k++) {
        if (want[k] < 0 || want[k] == got[k]) continue;
        char why[160] = "";
        if (e->dims[k].like)
            snprintf(why, sizeof why, " (dimension %d must equal dimension %d of %s)", k,
                     e->dims[k].like_dim, e->dims[k].like);
        PL_FAIL(PL_ERR_SCHEMA, "%s: %s: shape %s but the schema says %s%s", c->path, e->path,
                h5io_dims_text(have, sizeof have, rank, got),
                want_text(need, sizeof need, e->rank, want), why);
    }

    /* Contiguous data must lie inside the file; chunked or unwritten data has
     * no single address (HADDR_UNDEF). */
    haddr_t offset = H5Dget_offset(d);
    hsize_t stored = H5Dget_storage_size(d);
    if (offset != HADDR_UNDEF && (uint64_t)offset + (uint64_t)stored > c->file_size)
        PL_FAIL(PL_ERR_SCHEMA,
                "%s: %s: its data ends at byte %llu, past the end of the file (%llu bytes): "
                "truncated",
                c->path, e->path, (unsigned long long)(offset + stored),
                (unsigned long long)c->file_size);
    return PL_OK;
}

static int check_attribute(const check_ctx *c, const h5io_entry *e, hid_t a)
{
    char have[64], label[160];
    h5io_entry_label(e, label, sizeof label);
    hid_t type = H5Aget_type(a);
    hid_t space = H5Aget_space(a);
    int type_ok = type >= 0 && h5io_type_matches(type, e->dtype);
    if (type >= 0) h5io_type_text(type, have, sizeof have);
    hssize_t points = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    if (type < 0) PL_FAIL(PL_ERR_HDF5, "%s: %s: cannot read the dtype", c->path, label);
    if (!type_ok)
        PL_FAIL(PL_ERR_SCHEMA, "%s: %s: dtype %s but the schema says %s", c->path, label, have,
                h5io_dtype_name(e->dtype));
    if (points != 1)
        PL_FAIL(PL_ERR_SCHEMA, "%s: %s: holds %lld values, the schema says one", c->path, label,
                (long long)points);
    return PL_OK;
}

/* Checks one entry; absent optional entries pass. */
static int check_entry(const check_ctx *c, const h5io_entry *e)
{
    char label[160];
    h5io_entry_label(e, label, sizeof label);
    H5I_type_t type = h5io_object_type(c->file, e->path);
    if (e->kind == H5IO_ATTRIBUTE) {
        if (type == H5I_BADID) {
            if (!e->required) return PL_OK;
            PL_FAIL(PL_ERR_SCHEMA, "%s: %s: missing (no object %s)", c->path, label, e->path);
        }
        htri_t exists = H5Aexists_by_name(c->file, e->path, e->attr, H5P_DEFAULT);
        if (exists <= 0) {
            if (!e->required) return PL_OK;
            PL_FAIL(PL_ERR_SCHEMA, "%s: %s: required attribute missing", c->path, label);
        }
        hid_t a = H5Aopen_by_name(c->file, e->path, e->attr, H5P_DEFAULT, H5P_DEFAULT);
        if (a < 0) PL_FAIL(PL_ERR_HDF5, "%s: %s: cannot open the attribute", c->path, label);
        int rc = check_attribute(c, e, a);
        H5Aclose(a);
        return rc;
    }
    if (type == H5I_BADID) {
        if (!e->required) return PL_OK;
        PL_FAIL(PL_ERR_SCHEMA, "%s: %s: required %s missing", c->path, label,
                h5io_kind_name(e->kind));
    }
    H5I_type_t want = e->kind == H5IO_GROUP ? H5I_GROUP : H5I_DATASET;
    if (type != want)
        PL_FAIL(PL_ERR_SCHEMA, "%s: %s: is not a %s", c->path, label, h5io_kind_name(e->kind));
    if (e->kind == H5IO_GROUP) return PL_OK;
    hid_t d = H5Dopen2(c->file, e->path, H5P_DEFAULT);
    if (d < 0) PL_FAIL(PL_ERR_HDF5, "%s: %s: cannot open the dataset", c->path, label);
    int rc = check_dataset(c, e, d);
    H5Dclose(d);
    return rc;
}

/* Reads the root attributes schema and schema_version and finds the schema. */
static int check_schema_identity(const check_ctx *c, const h5io_schema **out)
{
    if (H5Aexists(c->file, "schema") <= 0)
        PL_FAIL(PL_ERR_SCHEMA,
                "%s: /@schema: missing: not a gos artifact (every artifact names its schema "
                "in a root attribute 'schema')",
                c->path);
    hid_t a = H5Aopen(c->file, "schema", H5P_DEFAULT);
    char *name = NULL;
    int rc = a >= 0 ? h5io_attr_string_raw(a, &name) : -1;
    if (a >= 0) H5Aclose(a);
    if (rc < 0) PL_FAIL(PL_ERR_SCHEMA, "%s: /@schema: not a readable string", c->path);
    const h5io_schema *schema = h5io_schema_find(name);
    if (!schema) {
        char known[256] = "";
        for (int i = 0; i < h5io_schema_count(); i++) {
            if (i) strncat(known, ", ", sizeof known - strlen(known) - 1);
            strncat(known, h5io_schema_at(i)->name, sizeof known - strlen(known) - 1);
        }
        char shown[96];
        snprintf(shown, sizeof shown, "%s", name);
        pl_free(name);
        PL_FAIL(PL_ERR_SCHEMA, "%s: /@schema: unknown schema '%s' (this build knows %s)", c->path,
                shown, known);
    }
    pl_free(name);

    if (H5Aexists(c->file, "schema_version") <= 0)
        PL_FAIL(PL_ERR_SCHEMA,
                "%s: /@schema_version: missing; this build reads %s v%lld (hint: re-run the "
                "stage that writes it with this build)",
                c->path, schema->name, (long long)schema->version);
    a = H5Aopen(c->file, "schema_version", H5P_DEFAULT);
    hid_t type = a >= 0 ? H5Aget_type(a) : -1;
    int64_t version = -1;
    int is_int = type >= 0 && H5Tget_class(type) == H5T_INTEGER;
    herr_t read = is_int ? H5Aread(a, H5T_NATIVE_INT64, &version) : -1;
    if (type >= 0) H5Tclose(type);
    if (a >= 0) H5Aclose(a);
    if (read < 0) PL_FAIL(PL_ERR_SCHEMA, "%s: /@schema_version: not an integer", c->path);
    if (version != schema->version)
        PL_FAIL(PL_ERR_SCHEMA,
                "%s: /@schema_version: %s v%lld, but this build reads %s v%lld (hint: re-run "
                "the stage that writes it with this build, or read it with the build that "
                "wrote it)",
                c->path, schema->name, (long long)version, schema->name,
                (long long)schema->version);
    *out = schema;
    return PL_OK;
}

static int check_open_file(const check_ctx *c, const h5io_schema **schema)
{
    PL_TRY(check_schema_identity(c, schema));
    int n_prov;
    const h5io_entry *prov = h5io_provenance_entries(&n_prov);
    for (int i = 0; i < n_prov; i++) PL_TRY(check_entry(c, &prov[i]));
    for (int i = 0; i < (*schema)->n_entries; i++) PL_TRY(check_entry(c, &(*schema)->entries[i]));
    return PL_OK;
}

int h5io_check(const char *path, char *schema_name_out, size_t n)
{
    h5io_quiet();
    if (schema_name_out && n) schema_name_out[0] = '\0';
    struct stat st;
    if (stat(path, &st) != 0) PL_FAIL(PL_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) PL_FAIL(PL_ERR_IO, "%s: not a regular file", path);
    if (H5Fis_hdf5(path) <= 0) PL_FAIL(PL_ERR_HDF5, "%s: not an HDF5 file or truncated", path);
    /* Default access properties, so that a reader may hold the file open. */
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) {
        char reason[256];
        h5io_hdf5_reason(reason, sizeof reason);
        PL_FAIL(PL_ERR_HDF5, "%s: not an HDF5 file or truncated%s%s%s", path,
                reason[0] ? " (HDF5: " : "", reason, reason[0] ? ")" : "");
    }
    check_ctx c = {file, path, (uint64_t)st.st_size};
    const h5io_schema *schema = NULL;
    int rc = check_open_file(&c, &schema);
    H5Fclose(file);
    if (rc < 0) return rc;
    if (schema_name_out && n) snprintf(schema_name_out, n, "%s", schema->name);
    return PL_OK;
}
