/* dev_device.c: a device from config: its kind, its latency model, its
 * timing options, and the provenance stored beside every latency. */
#include "dev.h"
#include "pl_err.h"
#include "pl_threads.h"

#include <stdio.h>
#include <string.h>

dev_kind dev_kind_of(const cfg_device *d)
{
    if (strcmp(d->kind, "predicted") == 0) return DEV_PREDICTED;
    if (strcmp(d->kind, "remote") == 0) return DEV_REMOTE;
    PL_ASSERT(strcmp(d->kind, "measured") == 0);
    return DEV_MEASURED;
}

int dev_model_from_config(dev_model *m, const cfg_device *d)
{
    memset(m, 0, sizeof *m);
    m->cores = d->cores;
    m->freq_ghz = d->freq_ghz;
    m->simd_lanes = d->simd_lanes;
    m->fma_units = d->fma_units;
    m->dram_gbs = d->dram_gbs;
    m->cache_kb = d->cache_kb;
    m->cache_gbs = d->cache_gbs;
    m->overhead_us = d->overhead_us;
    _Static_assert(sizeof d->eff_class / sizeof d->eff_class[0] == DEV_CLASS_COUNT,
                   "cfg_device.eff_class has one entry per dev_class");
    for (int c = 0; c < DEV_CLASS_COUNT; c++) m->eff[c] = d->eff_class[c];
    m->eff_bandwidth = d->eff_bandwidth;
    m->plane_ns = d->plane_ns;
    m->parallel_mflops = d->parallel_mflops;
    m->gemm_half = d->gemm_half;
    m->dw_row_lanes = d->dw_row_lanes;
    m->dw_taps_half = d->dw_taps_half;
    m->eff_winograd = d->eff_winograd;
    int complete = m->cores > 0 && m->freq_ghz > 0 && m->simd_lanes > 0 && m->fma_units > 0 &&
                   m->dram_gbs > 0 && m->cache_gbs > 0 && m->eff_bandwidth > 0;
    for (int c = 0; c < DEV_CLASS_COUNT; c++) complete &= m->eff[c] > 0;
    return complete;
}

dev_timing dev_timing_from_config(const cfg_device *d, int experiment_threads)
{
    int threads = d->threads > 0 ? d->threads : experiment_threads;
    if (threads <= 0) {
        pl_threads_set(0); /* resolves 0 to the core count */
        threads = pl_threads_get();
    }
    dev_timing t = {.threads = threads, .warmup_runs = d->warmup_runs,
                    .timed_runs = d->timed_runs, .min_run_ms = d->min_run_ms};
    return t;
}

void dev_provenance_init(dev_provenance *p, const cfg_device *d, const dev_timing *t,
                         const dev_model *m)
{
    memset(p, 0, sizeof *p);
    snprintf(p->device, sizeof p->device, "%s", d->name);
    p->batch = d->batch;
    if (m != NULL) {
        snprintf(p->kind, sizeof p->kind, "predicted");
        p->threads = m->cores;
        p->timed_runs = 1;
        snprintf(p->build, sizeof p->build,
                 "latency model: %d cores x %.3g GHz x %d lanes x 2 x %d FMA = %.4g GFLOP/s; "
                 "DRAM %.4g GB/s, cache %.4g KiB at %.4g GB/s, x%.3g; overhead %.4g us, "
                 "%.4g ns per plane, %.4g MFLOP for half the extra cores, sgemm half rate "
                 "at %.4g; depthwise rows in %d lanes, half rate at %.4g taps; Winograd x%.3g; "
                 "efficiency",
                 m->cores, m->freq_ghz, m->simd_lanes, m->fma_units, dev_model_peak_gflops(m),
                 m->dram_gbs, m->cache_kb, m->cache_gbs, m->eff_bandwidth, m->overhead_us,
                 m->plane_ns, m->parallel_mflops, m->gemm_half, m->dw_row_lanes,
                 m->dw_taps_half, m->eff_winograd);
        for (int c = 0; c < DEV_CLASS_COUNT; c++) {
            size_t used = strlen(p->build);
            snprintf(p->build + used, sizeof p->build - used, " %s %.3g", dev_class_name(c),
                     m->eff[c]);
        }
        return;
    }
    PL_ASSERT(t != NULL);
    snprintf(p->kind, sizeof p->kind, "%s", d->kind);
    p->threads = t->threads;
    p->warmup_runs = t->warmup_runs;
    p->timed_runs = t->timed_runs;
    p->min_run_ms = t->min_run_ms;
    char blas[256];
    pl_blas_describe(blas, sizeof blas);
    snprintf(p->build, sizeof p->build, "gos %s, gcc %s, %s", h5io_git_revision(), __VERSION__,
             blas);
}

int dev_write_provenance(h5io_writer *w, const char *obj, const dev_provenance *p)
{
    PL_TRY(h5io_write_attr_string(w, obj, "unit", "ms"));
    PL_TRY(h5io_write_attr_string(w, obj, "device", p->device));
    PL_TRY(h5io_write_attr_string(w, obj, "kind", p->kind));
    PL_TRY(h5io_write_attr_i64(w, obj, "batch", p->batch));
    PL_TRY(h5io_write_attr_i64(w, obj, "threads", p->threads));
    PL_TRY(h5io_write_attr_i64(w, obj, "warmup_runs", p->warmup_runs));
    PL_TRY(h5io_write_attr_i64(w, obj, "timed_runs", p->timed_runs));
    PL_TRY(h5io_write_attr_f64(w, obj, "min_run_ms", p->min_run_ms));
    PL_TRY(h5io_write_attr_string(w, obj, "build", p->build));
    return PL_OK;
}
