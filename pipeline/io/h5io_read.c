/* h5io_read.c: the artifact reader. h5io_open validates the whole file with
 * h5io_check first; each read then checks the shape it expects and names the
 * file and the dataset or attribute in every error. */
#include "h5io.h"
#include "h5io_internal.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <string.h>

int h5io_open(h5io_reader *r, const char *path, const char *expected_schema)
{
    memset(r, 0, sizeof *r);
    r->file = H5I_INVALID_HID;
    h5io_quiet();
    char schema[64];
    PL_TRY(h5io_check(path, schema, sizeof schema));
    if (expected_schema && strcmp(schema, expected_schema) != 0)
        PL_FAIL(PL_ERR_SCHEMA, "%s: is a %s artifact, but a %s is expected here", path, schema,
                expected_schema);
    r->schema = h5io_schema_find(schema);
    r->file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (r->file < 0) {
        r->file = H5I_INVALID_HID;
        PL_FAIL(PL_ERR_HDF5, "%s: cannot open the file", path);
    }
    r->path = pl_xstrdup(path);
    return PL_OK;
}

void h5io_close(h5io_reader *r)
{
    if (!r) return;
    if (r->file > 0) H5Fclose(r->file);
    r->file = H5I_INVALID_HID;
    pl_free(r->path);
    r->path = NULL;
    r->schema = NULL;
}

static int reader_ready(const h5io_reader *r, const char *what)
{
    if (!r || r->file <= 0 || !r->path)
        PL_FAIL(PL_ERR_INVAL, "%s: the artifact reader is not open", what);
    return PL_OK;
}

int h5io_exists(h5io_reader *r, const char *obj)
{
    return r && r->file > 0 && h5io_object_type(r->file, obj) != H5I_BADID;
}

/* Opens dataset dset, failing with a message naming the file when absent. */
static int open_dataset(h5io_reader *r, const char *dset, hid_t *out)
{
    PL_TRY(reader_ready(r, dset));
    if (h5io_object_type(r->file, dset) != H5I_DATASET)
        PL_FAIL(PL_ERR_SCHEMA, "%s: %s: no such dataset", r->path, dset);
    *out = H5Dopen2(r->file, dset, H5P_DEFAULT);
    if (*out < 0) PL_FAIL(PL_ERR_HDF5, "%s: %s: cannot open the dataset", r->path, dset);
    return PL_OK;
}

int h5io_dataset_shape(h5io_reader *r, const char *dset, int *rank, int64_t *dims)
{
    hid_t d = H5I_INVALID_HID;
    PL_TRY(open_dataset(r, dset, &d));
    *rank = h5io_dataset_dims(d, dims);
    H5Dclose(d);
    if (*rank < 0) PL_FAIL(PL_ERR_HDF5, "%s: %s: cannot read the shape", r->path, dset);
    return PL_OK;
}

/* Checks that open dataset d holds numbers, and its shape: against rank and
 * want (-1 = any) when want is not NULL. Fills got (H5IO_MAX_RANK entries),
 * *got_rank and *total. */
static int check_numeric_shape(h5io_reader *r, const char *dset, hid_t d, int rank,
                               const int64_t *want, int64_t *got, int *got_rank,
                               size_t *total)
{
    hid_t type = H5Dget_type(d);
    H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    if (type >= 0) H5Tclose(type);
    if (cls != H5T_INTEGER && cls != H5T_FLOAT)
        PL_FAIL(PL_ERR_SCHEMA, "%s: %s: does not hold numbers", r->path, dset);
    *got_rank = h5io_dataset_dims(d, got);
    if (*got_rank < 0) PL_FAIL(PL_ERR_HDF5, "%s: %s: cannot read the shape", r->path, dset);
    int ok = !want || *got_rank == rank;
    for (int k = 0; want && ok && k < rank; k++) ok = want[k] < 0 || want[k] == got[k];
    if (!ok) {
        char have[96], need[96];
        h5io_dims_text(have, sizeof have, *got_rank, got);
        h5io_dims_text(need, sizeof need, rank, want);
        PL_FAIL(PL_ERR_SCHEMA, "%s: %s: shape %s but expected %s (-1 = any)", r->path, dset,
                have, need);
    }
    *total = 1;
    for (int k = 0; k < *got_rank; k++) *total *= (size_t)got[k];
    return PL_OK;
}

/* Reads numeric dataset dset as mem_type into dst (checked shape) or, when
 * alloc_out is not NULL, into a new array of elem-byte values. */
static int read_numeric(h5io_reader *r, const char *dset, hid_t mem_type, size_t elem,
                        void *dst, int rank, const int64_t *dims, void **alloc_out,
                        int *out_rank, int64_t *out_dims)
{
    hid_t d = H5I_INVALID_HID;
    PL_TRY(open_dataset(r, dset, &d));
    int64_t got[H5IO_MAX_RANK];
    int got_rank = 0;
    size_t total = 0;
    int rc = check_numeric_shape(r, dset, d, rank, alloc_out ? NULL : dims, got, &got_rank,
                                 &total);
    if (rc < 0) {
        H5Dclose(d);
        return rc;
    }
    if (alloc_out) {
        dst = pl_xmalloc((total ? total : 1) * elem);
        *alloc_out = dst;
        *out_rank = got_rank;
        for (int k = 0; k < got_rank; k++) out_dims[k] = got[k];
    }
    herr_t read = total ? H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst) : 0;
    H5Dclose(d);
    if (read < 0) {
        if (alloc_out) {
            pl_free(*alloc_out);
            *alloc_out = NULL;
        }
        PL_FAIL(PL_ERR_HDF5, "%s: %s: cannot read the data (file truncated or corrupt?)",
                r->path, dset);
    }
    return PL_OK;
}

int h5io_read_f32(h5io_reader *r, const char *dset, float *dst, int rank, const int64_t *dims)
{
    return read_numeric(r, dset, H5T_NATIVE_FLOAT, sizeof *dst, dst, rank, dims, NULL, NULL,
                        NULL);
}

int h5io_read_f64(h5io_reader *r, const char *dset, double *dst, int rank, const int64_t *dims)
{
    return read_numeric(r, dset, H5T_NATIVE_DOUBLE, sizeof *dst, dst, rank, dims, NULL, NULL,
                        NULL);
}

int h5io_read_i32(h5io_reader *r, const char *dset, int32_t *dst, int rank,
                  const int64_t *dims)
{
    return read_numeric(r, dset, H5T_NATIVE_INT32, sizeof *dst, dst, rank, dims, NULL, NULL,
                        NULL);
}

int h5io_read_i64(h5io_reader *r, const char *dset, int64_t *dst, int rank,
                  const int64_t *dims)
{
    return read_numeric(r, dset, H5T_NATIVE_INT64, sizeof *dst, dst, rank, dims, NULL, NULL,
                        NULL);
}

/* read_numeric into a new array: returns it (NULL on failure) with the
 * return code in *rc. */
static void *read_alloc(h5io_reader *r, const char *dset, hid_t mem_type, size_t elem,
                        int *rank, int64_t *dims, int *rc)
{
    void *p = NULL;
    *rc = read_numeric(r, dset, mem_type, elem, NULL, 0, NULL, &p, rank, dims);
    return p;
}

int h5io_read_f32_alloc(h5io_reader *r, const char *dset, float **out, int *rank,
                        int64_t *dims)
{
    int rc;
    *out = read_alloc(r, dset, H5T_NATIVE_FLOAT, sizeof **out, rank, dims, &rc);
    return rc;
}

int h5io_read_f64_alloc(h5io_reader *r, const char *dset, double **out, int *rank,
                        int64_t *dims)
{
    int rc;
    *out = read_alloc(r, dset, H5T_NATIVE_DOUBLE, sizeof **out, rank, dims, &rc);
    return rc;
}

int h5io_read_i32_alloc(h5io_reader *r, const char *dset, int32_t **out, int *rank,
                        int64_t *dims)
{
    int rc;
    *out = read_alloc(r, dset, H5T_NATIVE_INT32, sizeof **out, rank, dims, &rc);
    return rc;
}

int h5io_read_i64_alloc(h5io_reader *r, const char *dset, int64_t **out, int *rank,
                        int64_t *dims)
{
    int rc;
    *out = read_alloc(r, dset, H5T_NATIVE_INT64, sizeof **out, rank, dims, &rc);
    return rc;
}

void h5io_free_strings(char **strings, int64_t count)
{
    if (!strings) return;
    for (int64_t i = 0; i < count; i++) pl_free(strings[i]);
    pl_free(strings);
}

/* Reads the n strings of open string dataset d (type `type`) into out[]. */
static herr_t read_string_values(hid_t d, hid_t type, char **out, size_t n)
{
    herr_t rc;
    if (H5Tis_variable_str(type) > 0) {
        hid_t mem = H5Tcopy(H5T_C_S1);
        H5Tset_size(mem, H5T_VARIABLE);
        H5Tset_cset(mem, H5Tget_cset(type));
        char **raw = pl_xcalloc(n, sizeof *raw);
        rc = H5Dread(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw);
        for (size_t i = 0; i < n; i++) {
            if (rc >= 0) out[i] = pl_xstrdup(raw[i] ? raw[i] : "");
            if (raw[i]) H5free_memory(raw[i]);
        }
        pl_free(raw);
        H5Tclose(mem);
    } else {
        size_t width = H5Tget_size(type);
        hid_t mem = H5Tcopy(H5T_C_S1);
        H5Tset_size(mem, width);
        H5Tset_strpad(mem, H5T_STR_NULLPAD);
        char *raw = pl_xcalloc(n * width + 1, 1);
        rc = H5Dread(d, mem, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw);
        for (size_t i = 0; rc >= 0 && i < n; i++) {
            out[i] = pl_xcalloc(width + 1, 1);
            memcpy(out[i], raw + i * width, width);
        }
        pl_free(raw);
        H5Tclose(mem);
    }
    return rc;
}

int h5io_read_strings(h5io_reader *r, const char *dset, char ***out, int64_t *count)
{
    *out = NULL;
    *count = 0;
    hid_t d = H5I_INVALID_HID;
    PL_TRY(open_dataset(r, dset, &d));
    int64_t dims[H5IO_MAX_RANK];
    int rank = h5io_dataset_dims(d, dims);
    hid_t type = H5Dget_type(d);
    int is_string = type >= 0 && H5Tget_class(type) == H5T_STRING;
    if (!is_string || rank != 1) {
        if (type >= 0) H5Tclose(type);
        H5Dclose(d);
        PL_FAIL(PL_ERR_SCHEMA, "%s: %s: expected a 1-D dataset of strings", r->path, dset);
    }
    size_t n = (size_t)dims[0];
    char **strings = pl_xcalloc(n ? n : 1, sizeof *strings);
    herr_t rc = n ? read_string_values(d, type, strings, n) : 0;
    H5Tclose(type);
    H5Dclose(d);
    if (rc < 0) {
        h5io_free_strings(strings, (int64_t)n);
        PL_FAIL(PL_ERR_HDF5, "%s: %s: cannot read the strings (file truncated or corrupt?)",
                r->path, dset);
    }
    *out = strings;
    *count = (int64_t)n;
    return PL_OK;
}

/* Opens scalar attribute obj@name, failing with a message naming both. */
static int open_attr(h5io_reader *r, const char *obj, const char *name, hid_t *out)
{
    PL_TRY(reader_ready(r, name));
    if (h5io_object_type(r->file, obj) == H5I_BADID)
        PL_FAIL(PL_ERR_SCHEMA, "%s: %s@%s: no object %s", r->path, obj, name, obj);
    if (H5Aexists_by_name(r->file, obj, name, H5P_DEFAULT) <= 0)
        PL_FAIL(PL_ERR_SCHEMA, "%s: %s@%s: no such attribute", r->path, obj, name);
    *out = H5Aopen_by_name(r->file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    if (*out < 0) PL_FAIL(PL_ERR_HDF5, "%s: %s@%s: cannot open the attribute", r->path, obj, name);
    return PL_OK;
}

static int read_number_attr(h5io_reader *r, const char *obj, const char *name, hid_t mem,
                            void *out)
{
    hid_t a = H5I_INVALID_HID;
    PL_TRY(open_attr(r, obj, name, &a));
    hid_t type = H5Aget_type(a);
    hid_t space = H5Aget_space(a);
    H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    hssize_t points = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    herr_t rc = -1;
    if ((cls == H5T_INTEGER || cls == H5T_FLOAT) && points == 1) rc = H5Aread(a, mem, out);
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    H5Aclose(a);
    if (cls != H5T_INTEGER && cls != H5T_FLOAT)
        PL_FAIL(PL_ERR_SCHEMA, "%s: %s@%s: not a number", r->path, obj, name);
    if (points != 1) PL_FAIL(PL_ERR_SCHEMA, "%s: %s@%s: not a scalar", r->path, obj, name);
    if (rc < 0) PL_FAIL(PL_ERR_HDF5, "%s: %s@%s: cannot read the attribute", r->path, obj, name);
    return PL_OK;
}

int h5io_read_attr_i64(h5io_reader *r, const char *obj, const char *name, int64_t *out)
{
    return read_number_attr(r, obj, name, H5T_NATIVE_INT64, out);
}

int h5io_read_attr_f64(h5io_reader *r, const char *obj, const char *name, double *out)
{
    return read_number_attr(r, obj, name, H5T_NATIVE_DOUBLE, out);
}

int h5io_read_attr_string(h5io_reader *r, const char *obj, const char *name, char **out)
{
    *out = NULL;
    hid_t a = H5I_INVALID_HID;
    PL_TRY(open_attr(r, obj, name, &a));
    int rc = h5io_attr_string_raw(a, out);
    H5Aclose(a);
    if (rc < 0) PL_FAIL(PL_ERR_SCHEMA, "%s: %s@%s: not a readable string", r->path, obj, name);
    return PL_OK;
}
