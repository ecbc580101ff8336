/* dev_calibrate.c: the latency model's factors fitted to measured timings
 * (see dev_calibrate.h), with GSL's Nelder-Mead simplex (nmsimplex2). */
#include "dev_calibrate.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <gsl/gsl_multimin.h>
#include <math.h>

/* x: log overhead, log eff[], log eff_bandwidth, log plane_ns,
 * log parallel_mflops (fitted only on devices of more than one core: with
 * one it changes nothing and keeps its starting value), log gemm_half,
 * log dw_taps_half, log eff_winograd (fitted only when the device file
 * models Winograd: eff_winograd > 0). dw_row_lanes describes the kernels
 * and is not fitted. */
enum {
    X_EFF = 1,
    X_BANDWIDTH = 1 + DEV_CLASS_COUNT,
    X_PLANE,
    X_PARALLEL,
    X_GEMM,
    X_TAPS,
    X_WINO,
    N_FACTORS
};

typedef struct {
    dev_model         base;
    const dev_sample *samples;
    int               count;
} fit_problem;

/* x (log factors) -> model. Efficiencies are capped at 1. */
static void apply(dev_model *m, const gsl_vector *x)
{
    m->overhead_us = exp(gsl_vector_get(x, 0));
    for (int c = 0; c < DEV_CLASS_COUNT; c++)
        m->eff[c] = fmin(1.0, exp(gsl_vector_get(x, X_EFF + c)));
    m->eff_bandwidth = fmin(1.0, exp(gsl_vector_get(x, X_BANDWIDTH)));
    m->plane_ns = exp(gsl_vector_get(x, X_PLANE));
    if (m->cores > 1) m->parallel_mflops = exp(gsl_vector_get(x, X_PARALLEL));
    m->gemm_half = exp(gsl_vector_get(x, X_GEMM));
    m->dw_taps_half = exp(gsl_vector_get(x, X_TAPS));
    if (m->eff_winograd > 0) m->eff_winograd = fmin(1.0, exp(gsl_vector_get(x, X_WINO)));
}

static double predict_sample(const dev_model *m, const dev_sample *s)
{
    return dev_predict_nodes_ms(m, s->g, s->nodes, s->n_nodes, s->batch);
}

static double mean_sq_log_error(const dev_model *m, const dev_sample *samples, int count)
{
    double sum = 0.0;
    for (int i = 0; i < count; i++) {
        double r = log(predict_sample(m, &samples[i]) / samples[i].measured_ms);
        sum += r * r;
    }
    return sum / count;
}

static double objective(const gsl_vector *x, void *params)
{
    const fit_problem *p = params;
    dev_model m = p->base;
    apply(&m, x);
    /* Penalise efficiencies pushed past 1, which the cap hides. */
    double penalty = 0.0;
    for (int k = X_EFF; k <= X_BANDWIDTH; k++) penalty += fmax(0.0, gsl_vector_get(x, k));
    return mean_sq_log_error(&m, p->samples, p->count) + penalty * penalty;
}

/* Nelder-Mead from x, restarted with fresh simplexes of alternating sizes
 * until a restart gains nothing; x receives the minimum, which is returned. */
static double minimize_from(fit_problem *p, gsl_vector *x, int *iterations)
{
    gsl_multimin_function f = {.n = N_FACTORS, .f = objective, .params = p};
    gsl_multimin_fminimizer *s = gsl_multimin_fminimizer_alloc(gsl_multimin_fminimizer_nmsimplex2,
                                                               N_FACTORS);
    gsl_vector *step = gsl_vector_alloc(N_FACTORS);
    double best = INFINITY;
    for (int round = 0; round < 20; round++) {
        gsl_vector_set_all(step, round % 2 ? 0.3 : 1.0);
        gsl_multimin_fminimizer_set(s, &f, x, step);
        int status = GSL_CONTINUE;
        for (int k = 0; k < 2000 && status == GSL_CONTINUE; k++, (*iterations)++) {
            if (gsl_multimin_fminimizer_iterate(s)) break;
            status = gsl_multimin_test_size(gsl_multimin_fminimizer_size(s), 1e-7);
        }
        gsl_vector_memcpy(x, gsl_multimin_fminimizer_x(s));
        double value = gsl_multimin_fminimizer_minimum(s);
        if (value > best - 1e-10 && round >= 1) break;
        best = fmin(best, value);
    }
    gsl_vector_free(step);
    gsl_multimin_fminimizer_free(s);
    return best;
}

static double tau_of(const dev_model *m, const dev_sample *samples, int count)
{
    double *pred = pl_xmalloc((size_t)count * sizeof *pred);
    double *meas = pl_xmalloc((size_t)count * sizeof *meas);
    for (int i = 0; i < count; i++) {
        pred[i] = predict_sample(m, &samples[i]);
        meas[i] = samples[i].measured_ms;
    }
    double tau = dev_kendall_tau(pred, meas, count);
    pl_free(pred);
    pl_free(meas);
    return tau;
}

int dev_calibrate(dev_model *m, const dev_sample *samples, int count, dev_fit_report *report)
{
    if (count < 8)
        PL_FAIL(PL_ERR_INVAL, "calibration: %d timed operators; the fit needs at least 8", count);
    for (int i = 0; i < count; i++)
        if (!(samples[i].measured_ms > 0) || !isfinite(samples[i].measured_ms))
            PL_FAIL(PL_ERR_INVAL, "calibration: sample %d: measured latency %g ms is not a "
                    "positive number", i, samples[i].measured_ms);
    /* Start from sane values where the device file leaves factors at 0. */
    dev_model start = *m;
    if (!(start.overhead_us > 0)) start.overhead_us = 1.0;
    for (int c = 0; c < DEV_CLASS_COUNT; c++)
        if (!(start.eff[c] > 0)) start.eff[c] = 0.3;
    if (!(start.eff_bandwidth > 0)) start.eff_bandwidth = 0.5;
    if (!(start.plane_ns > 0)) start.plane_ns = 1.0;
    if (!(start.parallel_mflops > 0) && start.cores > 1) start.parallel_mflops = 1.0;
    if (!(start.gemm_half > 0)) start.gemm_half = 4.0;
    if (!(start.dw_taps_half > 0)) start.dw_taps_half = 4.0;

    fit_problem p = {start, samples, count};
    report->rms_log_before = sqrt(mean_sq_log_error(&start, samples, count));
    report->tau_before = tau_of(&start, samples, count);

    /* Several starting points (the device file's factors, scaled): the
     * roofline's max() makes the error surface bumpy, with local minima
     * where compute- and memory-bound explanations trade places. */
    gsl_vector *x = gsl_vector_alloc(N_FACTORS), *best_x = gsl_vector_alloc(N_FACTORS);
    double best = INFINITY;
    int iterations = 0;
    static const double eff_scale[] = {1.0, 0.3, 3.0}, overhead_scale[] = {1.0, 0.2, 5.0};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            gsl_vector_set(x, 0, log(start.overhead_us * overhead_scale[b]));
            for (int c = 0; c < DEV_CLASS_COUNT; c++)
                gsl_vector_set(x, X_EFF + c, fmin(0.0, log(start.eff[c] * eff_scale[a])));
            gsl_vector_set(x, X_BANDWIDTH,
                           fmin(0.0, log(start.eff_bandwidth * eff_scale[(a + b) % 3])));
            gsl_vector_set(x, X_PLANE, log(start.plane_ns * overhead_scale[b]));
            gsl_vector_set(x, X_PARALLEL,
                           log(start.cores > 1 ? start.parallel_mflops * overhead_scale[a] : 1.0));
            gsl_vector_set(x, X_GEMM, log(start.gemm_half * overhead_scale[(a + b) % 3]));
            gsl_vector_set(x, X_TAPS, log(start.dw_taps_half * overhead_scale[a]));
            gsl_vector_set(x, X_WINO, start.eff_winograd > 0 ? fmin(0.0, log(start.eff_winograd)) : 0.0);
            double value = minimize_from(&p, x, &iterations);
            if (value < best) {
                best = value;
                gsl_vector_memcpy(best_x, x);
            }
        }
    dev_model fitted = start;
    apply(&fitted, best_x);
    gsl_vector_free(x);
    gsl_vector_free(best_x);

    report->rms_log_after = sqrt(mean_sq_log_error(&fitted, samples, count));
    report->tau_after = tau_of(&fitted, samples, count);
    report->iterations = iterations;
    *m = fitted;
    return PL_OK;
}
