/* fixture_h5.h: header-only helpers for tests that read reference tensors
 * from HDF5 fixture files (tests/data/ *.h5 files, written by
 * scripts/make-fixtures.py).
 *
 * Every helper prints a message naming the file and the object on failure and
 * returns a failure value (-1 or NULL); the caller counts it as a test
 * failure. HDF5's own error stack printing is switched off by fx_open, so the
 * messages here are the only ones. Arrays come from malloc; free with free(). */
#ifndef FIXTURE_H5_H
#define FIXTURE_H5_H

#include <hdf5.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct {
    hid_t id;         /* file id, or H5I_INVALID_HID when not open */
    const char *path; /* borrowed, for messages                    */
} fx_file;

/* Opens path read-only. Returns 0, or -1 with a message when the file is
 * missing or not HDF5. */
static inline int fx_open(fx_file *f, const char *path)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    f->path = path;
    f->id = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f->id < 0) {
        fprintf(stderr, "fixture: cannot open HDF5 file '%s' (missing, or not HDF5; "
                        "tests are run from the repository root)\n", path);
        f->id = H5I_INVALID_HID;
        return -1;
    }
    return 0;
}

static inline void fx_close(fx_file *f)
{
    if (f->id >= 0) H5Fclose(f->id);
    f->id = H5I_INVALID_HID;
}

/* 1 when the link obj (a path such as "/conv/a/bias") exists, else 0. Checks
 * each intermediate group, as H5Lexists requires. */
static inline int fx_exists(const fx_file *f, const char *obj)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf, "%s", obj);
    if (n < 0 || (size_t)n >= sizeof buf) return 0;
    for (int i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char save = buf[i];
        buf[i] = '\0';
        htri_t e = H5Lexists(f->id, buf, H5P_DEFAULT);
        buf[i] = save;
        if (e <= 0) return 0;
    }
    return 1;
}

/* Reads the whole dataset dset into a new array of type mem_type (elem bytes
 * each), after checking its rank and dimensions equal rank/dims (rank 0 or a
 * NULL dims skips the shape check). *count receives the element count when
 * count is not NULL. */
static inline void *fx_read_typed(const fx_file *f, const char *dset, hid_t mem_type,
                                  size_t elem, int rank, const hsize_t *dims, size_t *count)
{
    void *buf = NULL;
    hid_t d = H5Dopen2(f->id, dset, H5P_DEFAULT);
    if (d < 0) {
        fprintf(stderr, "fixture %s: dataset '%s' not found\n", f->path, dset);
        return NULL;
    }
    hid_t s = H5Dget_space(d);
    int got_rank = s >= 0 ? H5Sget_simple_extent_ndims(s) : -1;
    hsize_t got[H5S_MAX_RANK];
    if (got_rank < 0 || got_rank > H5S_MAX_RANK ||
        H5Sget_simple_extent_dims(s, got, NULL) < 0) {
        fprintf(stderr, "fixture %s: dataset '%s': cannot read its shape\n", f->path, dset);
        goto done;
    }
    if (rank > 0 && dims != NULL) {
        int same = got_rank == rank;
        for (int i = 0; same && i < rank; i++) same = got[i] == dims[i];
        if (!same) {
            char want_s[128] = "", got_s[128] = "";
            size_t wl = 0, gl = 0;
            for (int i = 0; i < rank && wl < sizeof want_s; i++)
                wl += (size_t)snprintf(want_s + wl, sizeof want_s - wl, "%s%llu", i ? "," : "",
                                       (unsigned long long)dims[i]);
            for (int i = 0; i < got_rank && gl < sizeof got_s; i++)
                gl += (size_t)snprintf(got_s + gl, sizeof got_s - gl, "%s%llu", i ? "," : "",
                                       (unsigned long long)got[i]);
            fprintf(stderr, "fixture %s: dataset '%s' has shape (%s), expected (%s)\n",
                    f->path, dset, got_s, want_s);
            goto done;
        }
    }
    size_t n = 1;
    for (int i = 0; i < got_rank; i++) n *= (size_t)got[i];
    buf = malloc(n ? n * elem : elem);
    if (buf == NULL) {
        fprintf(stderr, "fixture %s: dataset '%s': out of memory\n", f->path, dset);
        goto done;
    }
    if (H5Dread(d, mem_type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        fprintf(stderr, "fixture %s: dataset '%s': read failed (wrong type?)\n", f->path,
                dset);
        free(buf);
        buf = NULL;
        goto done;
    }
    if (count != NULL) *count = n;
done:
    if (s >= 0) H5Sclose(s);
    H5Dclose(d);
    return buf;
}

/* A float32 dataset of exactly rank dims, converted to native float. */
static inline float *fx_read_f32(const fx_file *f, const char *dset, int rank,
                                 const hsize_t *dims)
{
    return fx_read_typed(f, dset, H5T_NATIVE_FLOAT, sizeof(float), rank, dims, NULL);
}

/* An integer dataset of exactly rank dims, converted to int32. */
static inline int32_t *fx_read_i32(const fx_file *f, const char *dset, int rank,
                                   const hsize_t *dims)
{
    return fx_read_typed(f, dset, H5T_NATIVE_INT32, sizeof(int32_t), rank, dims, NULL);
}

/* Reads the scalar attribute name of object obj, converted to mem_type. */
static inline int fx_attr_typed(const fx_file *f, const char *obj, const char *name,
                                hid_t mem_type, void *out)
{
    if (H5Aexists_by_name(f->id, obj, name, H5P_DEFAULT) <= 0) {
        fprintf(stderr, "fixture %s: object '%s' has no attribute '%s'\n", f->path, obj, name);
        return -1;
    }
    hid_t a = H5Aopen_by_name(f->id, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) {
        fprintf(stderr, "fixture %s: '%s' attribute '%s': cannot open\n", f->path, obj, name);
        return -1;
    }
    hid_t s = H5Aget_space(a);
    hssize_t n = s >= 0 ? H5Sget_simple_extent_npoints(s) : -1;
    int rc = -1;
    if (n != 1)
        fprintf(stderr, "fixture %s: '%s' attribute '%s' is not a scalar\n", f->path, obj,
                name);
    else if (H5Aread(a, mem_type, out) < 0)
        fprintf(stderr, "fixture %s: '%s' attribute '%s': read failed (wrong type?)\n",
                f->path, obj, name);
    else
        rc = 0;
    if (s >= 0) H5Sclose(s);
    H5Aclose(a);
    return rc;
}

static inline int fx_attr_int(const fx_file *f, const char *obj, const char *name, int *out)
{
    return fx_attr_typed(f, obj, name, H5T_NATIVE_INT, out);
}

static inline int fx_attr_double(const fx_file *f, const char *obj, const char *name,
                                 double *out)
{
    return fx_attr_typed(f, obj, name, H5T_NATIVE_DOUBLE, out);
}

#endif
