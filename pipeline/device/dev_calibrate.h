/* dev_calibrate.h: fitting a device's latency model to measured timings.
 *
 * A sample is a set of nodes of a graph (one operator) with its measured
 * latency. The fit keeps the device's published characteristics (cores,
 * clock, SIMD width, FMA units, bandwidths, cache size) and fits the seven
 * factors nobody publishes: the per-instruction overhead, the five per-class
 * compute efficiencies and the bandwidth efficiency, minimising the mean
 * squared log ratio of predicted to measured latency (so a 10 us operator
 * weighs as much as a 10 ms one) with GSL's Nelder-Mead simplex over the
 * factors' logarithms. Efficiencies stay in (0, 1]. */
#ifndef DEV_CALIBRATE_H
#define DEV_CALIBRATE_H

#include "dev.h"

typedef struct {
    const ig_graph *g;
    const int      *nodes;   /* (n_nodes) */
    int             n_nodes;
    int             batch;
    double          measured_ms;
} dev_sample;

typedef struct {
    double rms_log_before, rms_log_after; /* sqrt(mean(log(pred/meas)^2)) */
    double tau_before, tau_after;         /* Kendall tau, pred vs measured */
    int    iterations;
} dev_fit_report;

/* Fits m's factors (overhead_us, eff[], eff_bandwidth; the rest is kept) to
 * samples[0..count); m's current factors are the starting point. Returns
 * PL_OK, or PL_ERR_INVAL when count < 8 or a measured latency is not
 * positive and finite. */
int dev_calibrate(dev_model *m, const dev_sample *samples, int count, dev_fit_report *report);

#endif
