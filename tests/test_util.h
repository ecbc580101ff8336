/* test_util.h: helpers the kernel tests share, header-only (static inline),
 * on top of the check.h harness.
 *
 * - Deterministic inputs from two generators, each with per-program state
 *   that a test seeds at the top of main so it draws its own fixed sequence:
 *   rng_seed/rng_uniform (64-bit LCG, [0, 1)) with fill_uniform, and
 *   lcg_seed/lcg_uniform (32-bit LCG, [-1, 1)) with alloc_random.
 * - alloc_copy, a pl_xmalloc'd copy of a float array.
 * - dot, sum(a * b) accumulated in double: the loss L = sum(out * R) the
 *   finite-difference checks differentiate.
 * - check_fd and check_fd_sampled: an analytic gradient against central
 *   differences of a loss callback, over every element or a strided sample;
 *   each counts two checks, the agreement and a guard against a vacuous pass
 *   (the numeric gradient must not be all zero).
 * - accumulated_part, the part of a gradient buffer a backward call added. */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "check.h"
#include "pl_mem.h"

/* ---- deterministic inputs ---- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static inline void rng_seed(uint64_t seed) { rng_state = seed; }

/* Uniform in [0, 1). */
static inline double rng_uniform(void)
{
    rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(rng_state >> 11) * 0x1.0p-53;
}

/* x[i] uniform in [lo, hi), from rng_uniform. */
static inline void fill_uniform(float *x, size_t n, double lo, double hi)
{
    for (size_t i = 0; i < n; i++) x[i] = (float)(lo + (hi - lo) * rng_uniform());
}

static uint32_t lcg_state = 12345u;

static inline void lcg_seed(uint32_t seed) { lcg_state = seed; }

/* Uniform in [-1, 1). */
static inline float lcg_uniform(void)
{
    lcg_state = lcg_state * 1664525u + 1013904223u;
    return (float)((lcg_state >> 8) * (1.0 / 16777216.0)) * 2.0f - 1.0f;
}

/* A new array of n floats scale * lcg_uniform(); free with pl_free. */
static inline float *alloc_random(size_t n, float scale)
{
    float *a = pl_xmalloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) a[i] = scale * lcg_uniform();
    return a;
}

/* A new copy of the n floats at src; free with pl_free. */
static inline float *alloc_copy(const float *src, size_t n)
{
    float *a = pl_xmalloc(sizeof(float) * (n ? n : 1));
    memcpy(a, src, sizeof(float) * n);
    return a;
}

static inline double dot(const float *a, const float *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

/* ---- finite differences ---- */

typedef double (*loss_fn)(void *ctx);

/* Checks analytic[i] against the central difference of loss() with respect
 * to param[i] for i = first, first + stride, ... below n (stride >= 1); each
 * param[i] is moved to (float)(param[i] +- step) in place and restored, and
 * the difference is divided by the distance actually moved. Counts two
 * checks: every sampled element within check_close(atol, rtol), and the
 * guard against a vacuous pass (something sampled, sum |numeric| > 1e-3). */
static inline void check_fd_sampled(const char *what, loss_fn loss, void *ctx, float *param,
                                    size_t n, const float *analytic, size_t first, size_t stride,
                                    double step, double atol, double rtol)
{
    double sum_abs = 0.0, worst = 0.0, bad_num = 0.0;
    size_t checked = 0, bad = 0, first_bad = n;
    for (size_t i = first; i < n; i += stride) {
        const float saved = param[i];
        const float plus = (float)(saved + step), minus = (float)(saved - step);
        param[i] = plus;
        const double loss_plus = loss(ctx);
        param[i] = minus;
        const double loss_minus = loss(ctx);
        param[i] = saved;
        const double numeric = (loss_plus - loss_minus) / ((double)plus - (double)minus);
        sum_abs += fabs(numeric);
        checked++;
        const double err = fabs(analytic[i] - numeric);
        if (err > worst) worst = err;
        if (!check_close(analytic[i], numeric, atol, rtol) && bad++ == 0) {
            first_bad = i;
            bad_num = numeric;
        }
    }
    CHECK(bad == 0, "%s: %zu of %zu off, first [%zu] analytic %.9g numeric %.9g, worst %.3g",
          what, bad, checked, first_bad, first_bad < n ? (double)analytic[first_bad] : 0.0,
          bad_num, worst);
    CHECK(checked > 0 && sum_abs > 1e-3, "%s: vacuous check (sum |numeric| %g over %zu)", what,
          sum_abs, checked);
}

/* check_fd_sampled over every element of param (n). */
static inline void check_fd(const char *what, loss_fn loss, void *ctx, float *param, size_t n,
                            const float *analytic, double step, double atol, double rtol)
{
    check_fd_sampled(what, loss, ctx, param, n, analytic, 0, 1, step, atol, rtol);
}

/* analytic = after - before, the part a backward call accumulated. */
static inline void accumulated_part(float *analytic, const float *after, const float *before,
                                    size_t n)
{
    for (size_t i = 0; i < n; i++) analytic[i] = after[i] - before[i];
}

#endif
