/* pl_err.h: the project's two-tier error convention.
 *
 * Tier 1, bugs: PL_ASSERT is always on (whatever NDEBUG says) and aborts with
 * file:line. Use it for invariants whose failure means the code is wrong.
 * Tier 2, anything a config, a file or a number can cause: functions return a
 * negative pl_status and record a message with pl_error(); only a stage's main
 * turns that into an exit code (never 0 on error). pl_error is a real function,
 * so a debugger breakpoint on it catches every reported error. */
#ifndef PL_ERR_H
#define PL_ERR_H

typedef enum {
    PL_OK          =  0,
    PL_ERR_NOMEM   = -1, /* a large, size-from-config allocation failed      */
    PL_ERR_IO      = -2, /* fopen/fread/rename failed                        */
    PL_ERR_CONFIG  = -3, /* parse error, unknown key, out-of-range value     */
    PL_ERR_SHAPE   = -4, /* incompatible tensor shapes (found at build)      */
    PL_ERR_HDF5    = -5, /* an H5* call failed                               */
    PL_ERR_SCHEMA  = -6, /* artifact misses a dataset or has a wrong version */
    PL_ERR_NUMERIC = -7, /* non-finite loss, diverged training               */
    PL_ERR_INVAL   = -8  /* any other invalid argument from data or config   */
} pl_status;

/* Records the message as the last error and returns code (< 0). The message
 * itself names what the user can act on (config file:line, artifact and
 * dataset); file and line (of the C source) give a debugger one place to
 * break on.
 * The message is kept in a thread-local buffer until the next pl_error. */
int pl_error(int code, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* The last message recorded by pl_error, or "" when none. Borrowed. */
const char *pl_last_error(void);

/* The name of a status code, e.g. "shape" for PL_ERR_SHAPE. */
const char *pl_status_name(int code);

/* Prints "file:line: message" to stderr and aborts. Never returns. */
_Noreturn void pl_abort(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define PL_FAIL(code, ...) return pl_error((code), __FILE__, __LINE__, __VA_ARGS__)
#define PL_TRY(expr)                                                           \
    do {                                                                       \
        int pl_rc_ = (expr);                                                   \
        if (pl_rc_ < 0) return pl_rc_;                                         \
    } while (0)
#define PL_ASSERT(c)                                                           \
    ((c) ? (void)0 : pl_abort(__FILE__, __LINE__, "assertion failed: %s", #c))

#endif
