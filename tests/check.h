/* check.h: the tiny test harness every test program uses.
 *
 * CHECK(cond, fmt, ...) counts a pass or prints a FAIL line with file:line;
 * CHECK_CLOSE compares with a mixed absolute+relative tolerance and fails on
 * NaN; check_summary() prints "<name>: N passed, N failed" and returns the
 * exit status (non-zero when anything failed or nothing was checked), so
 * `return check_summary("name");` ends every main. */
#ifndef CHECK_H
#define CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int check_passed_count;
static int check_failed_count;

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (cond) {                                                            \
            check_passed_count++;                                              \
        } else {                                                               \
            check_failed_count++;                                              \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);               \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
        }                                                                      \
    } while (0)

/* |got - want| <= atol + rtol * |want|, and neither is NaN. */
static inline int check_close(double got, double want, double atol, double rtol)
{
    if (isnan(got) || isnan(want)) return 0;
    return fabs(got - want) <= atol + rtol * fabs(want);
}

#define CHECK_CLOSE(got, want, atol, rtol, what)                               \
    CHECK(check_close((got), (want), (atol), (rtol)),                          \
          "%s: got %.9g, want %.9g", (what), (double)(got), (double)(want))

/* Compares n floats; reports only the first mismatch and counts one check.
 * Returns 1 when all match. */
static inline int check_arrays_close(const float *got, const float *want, size_t n,
                                     double atol, double rtol, const char *what,
                                     const char *file, int line)
{
    for (size_t i = 0; i < n; i++) {
        if (!check_close(got[i], want[i], atol, rtol)) {
            check_failed_count++;
            fprintf(stderr, "FAIL %s:%d: %s[%zu]: got %.9g, want %.9g (n=%zu)\n", file, line,
                    what, i, (double)got[i], (double)want[i], n);
            return 0;
        }
    }
    check_passed_count++;
    return 1;
}
#define CHECK_ARRAYS_CLOSE(got, want, n, atol, rtol, what)                     \
    check_arrays_close((got), (want), (n), (atol), (rtol), (what), __FILE__, __LINE__)

static inline int check_summary(const char *name)
{
    printf("%s: %d passed, %d failed\n", name, check_passed_count, check_failed_count);
    if (check_passed_count == 0) {
        fprintf(stderr, "%s: no check ran\n", name);
        return EXIT_FAILURE;
    }
    return check_failed_count == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
