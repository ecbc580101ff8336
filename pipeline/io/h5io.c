/* h5io.c: the artifact writer (temporary file, provenance, datasets,
 * attributes, atomic commit, stale temporaries) and the helpers the reader
 * and the checker share. */
#include "h5io.h"
#include "h5io_internal.h"
#include "pl_err.h"
#include "pl_mem.h"
#include "pl_threads.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define CHUNK_MIN_ELEMENTS 65536

/* ---- shared helpers ------------------------------------------------------ */

void h5io_quiet(void) { H5Eset_auto2(H5E_DEFAULT, NULL, NULL); }

/* H5Ewalk2 callback: keeps the first (innermost, walking upward) entry. */
static herr_t keep_innermost(unsigned n, const H5E_error2_t *err, void *data)
{
    char **buf = data;
    if (n == 0 && err->desc) snprintf(buf[0], (size_t)(uintptr_t)buf[1], "%s", err->desc);
    return 0;
}

void h5io_hdf5_reason(char *buf, size_t n)
{
    if (!n) return;
    buf[0] = '\0';
    char *data[2] = {buf, (char *)(uintptr_t)n};
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, keep_innermost, data);
}

H5I_type_t h5io_object_type(hid_t file, const char *path)
{
    if (strcmp(path, "/") == 0) return H5I_GROUP;
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "%s", path);
    if (n <= 0 || (size_t)n >= sizeof buf) return H5I_BADID;
    /* H5Lexists fails (rather than returning 0) when a parent is missing, so
     * test each prefix in turn. */
    for (int i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != '\0') continue;
        char save = buf[i];
        buf[i] = '\0';
        htri_t exists = H5Lexists(file, buf, H5P_DEFAULT);
        buf[i] = save;
        if (exists <= 0) return H5I_BADID;
    }
    hid_t obj = H5Oopen(file, path, H5P_DEFAULT);
    if (obj < 0) return H5I_BADID;
    H5I_type_t type = H5Iget_type(obj);
    H5Oclose(obj);
    return type;
}

int h5io_attr_string_raw(hid_t attr, char **out)
{
    *out = NULL;
    hid_t type = H5Aget_type(attr);
    if (type < 0) return -1;
    int rc = -1;
    if (H5Tget_class(type) == H5T_STRING) {
        if (H5Tis_variable_str(type) > 0) {
            hid_t mem = H5Tcopy(H5T_C_S1);
            H5Tset_size(mem, H5T_VARIABLE);
            H5Tset_cset(mem, H5Tget_cset(type));
            char *value = NULL;
            if (H5Aread(attr, mem, &value) >= 0) {
                *out = pl_xstrdup(value ? value : "");
                if (value) H5free_memory(value);
                rc = 0;
            }
            H5Tclose(mem);
        } else {
            size_t size = H5Tget_size(type);
            char *value = pl_xcalloc(size + 1, 1);
            hid_t mem = H5Tcopy(H5T_C_S1);
            H5Tset_size(mem, size + 1);
            if (H5Aread(attr, mem, value) >= 0) {
                *out = value;
                rc = 0;
            } else {
                pl_free(value);
            }
            H5Tclose(mem);
        }
    }
    H5Tclose(type);
    return rc;
}

const char *h5io_type_text(hid_t type, char *buf, size_t n)
{
    size_t size = H5Tget_size(type);
    switch (H5Tget_class(type)) {
    case H5T_FLOAT:
        snprintf(buf, n, "float%zu", size * 8);
        break;
    case H5T_INTEGER:
        snprintf(buf, n, "%sint%zu", H5Tget_sign(type) == H5T_SGN_NONE ? "u" : "", size * 8);
        break;
    case H5T_STRING:
        snprintf(buf, n, "string");
        break;
    default:
        snprintf(buf, n, "a non-numeric type");
        break;
    }
    return buf;
}

int h5io_type_matches(hid_t type, h5io_dtype t)
{
    H5T_class_t cls = H5Tget_class(type);
    size_t size = H5Tget_size(type);
    switch (t) {
    case H5IO_T_F32:    return cls == H5T_FLOAT && size == 4;
    case H5IO_T_F64:    return cls == H5T_FLOAT && size == 8;
    case H5IO_T_I32:    return cls == H5T_INTEGER && size == 4 && H5Tget_sign(type) != H5T_SGN_NONE;
    case H5IO_T_I64:    return cls == H5T_INTEGER && size == 8 && H5Tget_sign(type) != H5T_SGN_NONE;
    case H5IO_T_STRING: return cls == H5T_STRING;
    default:            return 0;
    }
}

char *h5io_dims_text(char *buf, size_t n, int rank, const int64_t *dims)
{
    size_t used = (size_t)snprintf(buf, n, "(");
    for (int k = 0; k < rank && used < n; k++)
        used += (size_t)snprintf(buf + used, n - used, k ? ", %lld" : "%lld", (long long)dims[k]);
    if (used < n) snprintf(buf + used, n - used, ")");
    return buf;
}

int h5io_dataset_dims(hid_t dset, int64_t *dims)
{
    hid_t space = H5Dget_space(dset);
    if (space < 0) return -1;
    int rank = H5Sget_simple_extent_ndims(space);
    hsize_t h[H5S_MAX_RANK];
    if (rank < 0 || rank > H5IO_MAX_RANK || H5Sget_simple_extent_dims(space, h, NULL) < 0) {
        H5Sclose(space);
        return -1;
    }
    for (int k = 0; k < rank; k++) dims[k] = (int64_t)h[k];
    H5Sclose(space);
    return rank;
}

int h5io_join(char *buf, size_t n, const char *group, const char *name)
{
    size_t len = strlen(group);
    int written = len > 0 && group[len - 1] == '/'
                      ? snprintf(buf, n, "%s%s", group, name)
                      : snprintf(buf, n, "%s/%s", group, name);
    return written < 0 || (size_t)written >= n ? -1 : 0;
}

/* ---- writer -------------------------------------------------------------- */

static void writer_release(h5io_writer *w)
{
    pl_free(w->path);
    pl_free(w->tmp_path);
    w->path = w->tmp_path = NULL;
    w->file = H5I_INVALID_HID;
    w->schema = NULL;
}

void h5io_abort(h5io_writer *w)
{
    if (!w) return;
    if (w->file > 0) H5Fclose(w->file);
    w->file = H5I_INVALID_HID;
    if (w->tmp_path) unlink(w->tmp_path);
    writer_release(w);
}

static int writer_ready(const h5io_writer *w, const char *what)
{
    if (!w || w->file <= 0 || !w->path)
        PL_FAIL(PL_ERR_INVAL, "%s: the artifact writer is not open", what);
    return PL_OK;
}

/* A variable-length UTF-8 string type; caller closes it. */
static hid_t vlen_string_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

/* Creates dataset dset of file type ftype and shape (rank, dims) and writes
 * data (mem type mtype) into it; parents are created as needed. */
static int write_dataset(h5io_writer *w, const char *dset, hid_t mtype, hid_t ftype,
                         const void *data, int rank, const int64_t *dims)
{
    PL_TRY(writer_ready(w, dset));
    if (rank < 1 || rank > H5IO_MAX_RANK)
        PL_FAIL(PL_ERR_INVAL, "%s: %s: rank %d not in 1..%d", w->path, dset, rank, H5IO_MAX_RANK);
    hsize_t h[H5IO_MAX_RANK], chunk[H5IO_MAX_RANK];
    uint64_t total = 1;
    for (int k = 0; k < rank; k++) {
        if (dims[k] < 0)
            PL_FAIL(PL_ERR_INVAL, "%s: %s: negative extent %lld", w->path, dset,
                    (long long)dims[k]);
        h[k] = (hsize_t)dims[k];
        total *= (uint64_t)dims[k];
    }
    if (total > 0 && !data) PL_FAIL(PL_ERR_INVAL, "%s: %s: no data to write", w->path, dset);

    hid_t space = H5Screate_simple(rank, h, NULL);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (w->deflate_level > 0 && total >= CHUNK_MIN_ELEMENTS &&
        H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0) {
        /* Chunks of whole rows along dimension 0, about CHUNK_MIN_ELEMENTS. */
        uint64_t row = total / h[0];
        uint64_t rows = row >= CHUNK_MIN_ELEMENTS ? 1 : CHUNK_MIN_ELEMENTS / row;
        chunk[0] = rows < h[0] ? rows : h[0];
        for (int k = 1; k < rank; k++) chunk[k] = h[k];
        H5Pset_chunk(dcpl, rank, chunk);
        H5Pset_shuffle(dcpl);
        H5Pset_deflate(dcpl, (unsigned)w->deflate_level);
    }
    hid_t d = H5Dcreate2(w->file, dset, ftype, space, lcpl, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    H5Pclose(lcpl);
    H5Sclose(space);
    if (d < 0)
        PL_FAIL(PL_ERR_HDF5, "%s: %s: cannot create the dataset (does it exist already?)",
                w->path, dset);
    herr_t rc = total > 0 ? H5Dwrite(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : 0;
    H5Dclose(d);
    if (rc < 0) PL_FAIL(PL_ERR_HDF5, "%s: %s: cannot write the data (disk full?)", w->path, dset);
    return PL_OK;
}

int h5io_write_f32(h5io_writer *w, const char *dset, const float *data, int rank,
                   const int64_t *dims)
{
    return write_dataset(w, dset, H5T_NATIVE_FLOAT, H5T_IEEE_F32LE, data, rank, dims);
}

int h5io_write_f64(h5io_writer *w, const char *dset, const double *data, int rank,
                   const int64_t *dims)
{
    return write_dataset(w, dset, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, data, rank, dims);
}

int h5io_write_i32(h5io_writer *w, const char *dset, const int32_t *data, int rank,
                   const int64_t *dims)
{
    return write_dataset(w, dset, H5T_NATIVE_INT32, H5T_STD_I32LE, data, rank, dims);
}

int h5io_write_i64(h5io_writer *w, const char *dset, const int64_t *data, int rank,
                   const int64_t *dims)
{
    return write_dataset(w, dset, H5T_NATIVE_INT64, H5T_STD_I64LE, data, rank, dims);
}

int h5io_write_strings(h5io_writer *w, const char *dset, const char *const *strings,
                       int64_t count)
{
    if (count < 0)
        PL_FAIL(PL_ERR_INVAL, "%s: %s: negative string count", w->path ? w->path : "?", dset);
    if (count > 0 && !strings)
        PL_FAIL(PL_ERR_INVAL, "%s: %s: no strings to write", w->path ? w->path : "?", dset);
    const char **filled = pl_xmalloc((size_t)(count ? count : 1) * sizeof *filled);
    for (int64_t i = 0; i < count; i++) filled[i] = strings[i] ? strings[i] : "";
    hid_t t = vlen_string_type();
    int rc = write_dataset(w, dset, t, t, filled, 1, &count);
    H5Tclose(t);
    pl_free(filled);
    return rc;
}

int h5io_write_fixed_strings(h5io_writer *w, const char *dset, const char *data,
                             int64_t count, size_t width)
{
    if (width == 0)
        PL_FAIL(PL_ERR_INVAL, "%s: %s: fixed strings need a width > 0", w->path ? w->path : "?",
                dset);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, width);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    int rc = write_dataset(w, dset, t, t, data, 1, &count);
    H5Tclose(t);
    return rc;
}

int h5io_write_group(h5io_writer *w, const char *path)
{
    PL_TRY(writer_ready(w, path));
    H5I_type_t existing = h5io_object_type(w->file, path);
    if (existing == H5I_GROUP) return PL_OK;
    if (existing != H5I_BADID)
        PL_FAIL(PL_ERR_INVAL, "%s: %s: exists and is not a group", w->path, path);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t g = H5Gcreate2(w->file, path, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    if (g < 0) PL_FAIL(PL_ERR_HDF5, "%s: %s: cannot create the group", w->path, path);
    H5Gclose(g);
    return PL_OK;
}

/* Writes scalar attribute name = *value (mem type mtype, file type ftype) on
 * object obj, replacing one of the same name. */
static int write_attr(h5io_writer *w, const char *obj, const char *name, hid_t mtype,
                      hid_t ftype, const void *value)
{
    PL_TRY(writer_ready(w, name));
    hid_t o = H5Oopen(w->file, obj, H5P_DEFAULT);
    if (o < 0)
        PL_FAIL(PL_ERR_HDF5, "%s: %s@%s: no object %s to attach the attribute to", w->path,
                obj, name, obj);
    if (H5Aexists(o, name) > 0) H5Adelete(o, name);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(o, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
    herr_t rc = a >= 0 ? H5Awrite(a, mtype, value) : -1;
    if (a >= 0) H5Aclose(a);
    H5Sclose(space);
    H5Oclose(o);
    if (rc < 0) PL_FAIL(PL_ERR_HDF5, "%s: %s@%s: cannot write the attribute", w->path, obj, name);
    return PL_OK;
}

int h5io_write_attr_i64(h5io_writer *w, const char *obj, const char *name, int64_t value)
{
    return write_attr(w, obj, name, H5T_NATIVE_INT64, H5T_STD_I64LE, &value);
}

int h5io_write_attr_f64(h5io_writer *w, const char *obj, const char *name, double value)
{
    return write_attr(w, obj, name, H5T_NATIVE_DOUBLE, H5T_IEEE_F64LE, &value);
}

int h5io_write_attr_string(h5io_writer *w, const char *obj, const char *name,
                           const char *value)
{
    const char *text = value ? value : "";
    hid_t t = vlen_string_type();
    int rc = write_attr(w, obj, name, t, t, &text);
    H5Tclose(t);
    return rc;
}

void h5io_set_compression(h5io_writer *w, int level)
{
    w->deflate_level = level < 0 ? 0 : level > 9 ? 9 : level;
}

static int write_provenance(h5io_writer *w, const h5io_provenance *prov)
{
    char blas[512], start[32];
    pl_blas_describe(blas, (int)sizeof blas);
    if (prov->start_time[0])
        snprintf(start, sizeof start, "%s", prov->start_time);
    else
        h5io_now_iso8601(start, sizeof start);
    PL_TRY(h5io_write_attr_string(w, "/", "schema", w->schema->name));
    PL_TRY(h5io_write_attr_i64(w, "/", "schema_version", w->schema->version));
    PL_TRY(h5io_write_attr_string(w, "/", "stage", prov->stage));
    PL_TRY(h5io_write_attr_string(w, "/", "git_revision", h5io_git_revision()));
    PL_TRY(h5io_write_attr_string(w, "/", "experiment", prov->experiment));
    PL_TRY(h5io_write_attr_string(w, "/", "config", prov->config_text));
    PL_TRY(h5io_write_attr_i64(w, "/", "seed", prov->seed));
    PL_TRY(h5io_write_attr_i64(w, "/", "threads",
                               prov->threads > 0 ? prov->threads : pl_threads_get()));
    PL_TRY(h5io_write_attr_string(w, "/", "blas", blas));
    PL_TRY(h5io_write_attr_string(w, "/", "start_time", start));
    return PL_OK;
}

int h5io_create(h5io_writer *w, const char *path, const h5io_provenance *prov)
{
    memset(w, 0, sizeof *w);
    w->file = H5I_INVALID_HID;
    h5io_quiet();
    if (!prov || !prov->schema)
        PL_FAIL(PL_ERR_INVAL, "%s: no schema given for the artifact", path);
    w->schema = h5io_schema_find(prov->schema);
    if (!w->schema) PL_FAIL(PL_ERR_INVAL, "%s: unknown schema '%s'", path, prov->schema);
    h5io_remove_stale_temps(path); /* best effort; a real problem shows below */

    size_t len = strlen(path) + 32;
    w->path = pl_xstrdup(path);
    w->tmp_path = pl_xmalloc(len);
    snprintf(w->tmp_path, len, "%s.tmp.%ld", path, (long)getpid());
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG);
    errno = 0;
    w->file = H5Fcreate(w->tmp_path, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
    H5Pclose(fapl);
    if (w->file < 0) {
        int saved = errno;
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s", w->tmp_path);
        h5io_abort(w);
        PL_FAIL(PL_ERR_IO, "%s: cannot create the temporary file %s (%s)", path, tmp,
                saved ? strerror(saved) : "does the directory exist and is it writable?");
    }
    int rc = write_provenance(w, prov);
    if (rc < 0) h5io_abort(w);
    return rc;
}

/* Opens path (a file or a directory) and fsyncs it. */
static int fsync_path(const char *path, int flags)
{
    int fd = open(path, flags);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    /* Some file systems refuse fsync on directories; that is not a failure. */
    if (rc < 0 && (errno == EINVAL || errno == EBADF) && (flags & O_DIRECTORY)) rc = 0;
    close(fd);
    return rc;
}

/* The directory part of path ("." when none), into buf. */
static void directory_of(const char *path, char *buf, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(buf, n, ".");
    else if (slash == path)
        snprintf(buf, n, "/");
    else
        snprintf(buf, n, "%.*s", (int)(slash - path), path);
}

int h5io_commit(h5io_writer *w)
{
    PL_TRY(writer_ready(w, "commit"));
    char end[32], dir[4096];
    h5io_now_iso8601(end, sizeof end);
    int rc = h5io_write_attr_string(w, "/", "end_time", end);
    if (rc < 0) {
        h5io_abort(w);
        return rc;
    }
    herr_t closed = H5Fclose(w->file);
    w->file = H5I_INVALID_HID;
    if (closed < 0) {
        char path[4096];
        snprintf(path, sizeof path, "%s", w->path);
        h5io_abort(w);
        PL_FAIL(PL_ERR_HDF5, "%s: cannot close the written artifact (disk full?)", path);
    }
    /* Never rename an artifact its readers would refuse. */
    rc = h5io_check(w->tmp_path, NULL, 0);
    if (rc < 0) {
        char why[1024], path[4096];
        snprintf(why, sizeof why, "%s", pl_last_error());
        snprintf(path, sizeof path, "%s", w->path);
        h5io_abort(w);
        PL_FAIL(rc, "%s: not committed, the artifact does not match its schema: %s", path, why);
    }
    if (fsync_path(w->tmp_path, O_RDONLY) < 0 || rename(w->tmp_path, w->path) < 0) {
        int saved = errno;
        char path[4096];
        snprintf(path, sizeof path, "%s", w->path);
        h5io_abort(w);
        PL_FAIL(PL_ERR_IO, "%s: cannot sync and rename the artifact into place: %s", path,
                strerror(saved));
    }
    directory_of(w->path, dir, sizeof dir);
    rc = fsync_path(dir, O_RDONLY | O_DIRECTORY);
    int saved = errno;
    char path[4096];
    snprintf(path, sizeof path, "%s", w->path);
    writer_release(w);
    if (rc < 0) PL_FAIL(PL_ERR_IO, "%s: renamed, but cannot sync its directory: %s", path,
                        strerror(saved));
    return PL_OK;
}

int h5io_remove_stale_temps(const char *path)
{
    char dir[4096];
    directory_of(path, dir, sizeof dir);
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t base_len = strlen(base);
    DIR *d = opendir(dir);
    if (!d) PL_FAIL(PL_ERR_IO, "%s: cannot list the directory %s: %s", path, dir, strerror(errno));
    int removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        if (strncmp(name, base, base_len) != 0 || strncmp(name + base_len, ".tmp.", 5) != 0)
            continue;
        const char *digits = name + base_len + 5;
        char *end = NULL;
        long pid = strtol(digits, &end, 10);
        if (!*digits || *end || pid <= 0 || pid == (long)getpid()) continue;
        /* Only a process that no longer exists can have abandoned it. */
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        char full[8192];
        snprintf(full, sizeof full, "%s/%s", dir, name);
        if (unlink(full) == 0) removed++;
    }
    closedir(d);
    return removed;
}
