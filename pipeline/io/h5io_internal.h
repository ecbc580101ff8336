/* h5io_internal.h: helpers shared by the h5io sources (writer, reader,
 * checker, graph I/O). Not part of the public API. */
#ifndef H5IO_INTERNAL_H
#define H5IO_INTERNAL_H

#include "h5io_schema.h"

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

/* Switches off HDF5's automatic error-stack printing (idempotent). */
void h5io_quiet(void);

/* The description of the innermost error on HDF5's error stack (the reason
 * of the last failed H5 call, e.g. "truncated file: eof = 2048, ..."), or ""
 * when none. Call right after the failure. */
void h5io_hdf5_reason(char *buf, size_t n);

/* H5I_GROUP or H5I_DATASET for the object at path (checking every link on
 * the way, as H5Lexists requires), or H5I_BADID when it does not exist. */
H5I_type_t h5io_object_type(hid_t file, const char *path);

/* Reads a scalar string attribute (variable or fixed length) into a new
 * pl_xmalloc'd string. Returns 0, or -1 when the attribute is not a string or
 * cannot be read. */
int h5io_attr_string_raw(hid_t attr, char **out);

/* "float32", "int64", "uint8", "string", ... for an HDF5 datatype. */
const char *h5io_type_text(hid_t type, char *buf, size_t n);

/* 1 when the stored datatype `type` is what dtype t asks for. */
int h5io_type_matches(hid_t type, h5io_dtype t);

/* "(10, 8)" for rank 2, "()" for a scalar. */
char *h5io_dims_text(char *buf, size_t n, int rank, const int64_t *dims);

/* The rank and extents of an open dataset; returns the rank or -1. */
int h5io_dataset_dims(hid_t dset, int64_t *dims);

/* Joins a group and a child name: ("/graph", "params") -> "/graph/params",
 * ("/", "x") -> "/x". Returns 0, or -1 when buf (n bytes) is too small. */
int h5io_join(char *buf, size_t n, const char *group, const char *name);

#endif
