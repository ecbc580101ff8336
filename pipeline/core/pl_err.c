/* pl_err.c: the recorded-message error tier and the always-on abort. */
#include "pl_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static _Thread_local char last_message[1024];

int pl_error(int code, const char *file, int line, const char *fmt, ...)
{
    (void)file;
    (void)line;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
    return code < 0 ? code : PL_ERR_INVAL;
}

const char *pl_last_error(void) { return last_message; }

const char *pl_status_name(int code)
{
    switch (code) {
    case PL_OK:          return "ok";
    case PL_ERR_NOMEM:   return "out of memory";
    case PL_ERR_IO:      return "i/o";
    case PL_ERR_CONFIG:  return "config";
    case PL_ERR_SHAPE:   return "shape";
    case PL_ERR_HDF5:    return "hdf5";
    case PL_ERR_SCHEMA:  return "schema";
    case PL_ERR_NUMERIC: return "numeric";
    case PL_ERR_INVAL:   return "invalid argument";
    default:             return "unknown";
    }
}

void pl_abort(const char *file, int line, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "%s:%d: ", file, line);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    abort();
}
