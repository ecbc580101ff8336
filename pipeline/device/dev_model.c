/* dev_model.c: the latency model of predicted devices, a roofline per
 * instruction:
 *
 *   t = overhead + planes * plane_ns
 *         + max(flops / (peak * eff[class]), bytes / (bw * eff_bandwidth))
 *
 * planes = batch x output channels: the per-channel set-up of kernels on
 * small planes, which FLOPs and bytes do not show.
 * peak = cores * freq * simd_lanes * 2 * fma_units FLOP/s (an FMA is two
 * FLOPs); bw is the cache bandwidth when the instruction's bytes (inputs,
 * output and parameters, ig_node_bytes) fit in the cache, else the DRAM
 * bandwidth. Input nodes cost nothing (the input is already in memory). */
#include "dev.h"
#include "pl_err.h"

#include <math.h>
#include <string.h>

dev_class dev_node_class(const ig_graph *g, int node)
{
    const ig_node *nd = &g->nodes[node];
    switch (nd->op) {
    case IG_OP_DWCONV2D: return DEV_CLASS_DEPTHWISE;
    case IG_OP_PWCONV2D: return DEV_CLASS_POINTWISE;
    case IG_OP_LINEAR: return DEV_CLASS_LINEAR;
    case IG_OP_MAXPOOL:
    case IG_OP_AVGPOOL:
    case IG_OP_GLOBAL_AVGPOOL: return DEV_CLASS_POOL;
    case IG_OP_CONV2D: {
        const ig_shape *in = &g->nodes[nd->in[0]].shape;
        if (nd->attr[IG_A_GROUPS] == in->c && nd->attr[IG_A_OC] == in->c && in->c > 1)
            return DEV_CLASS_DEPTHWISE;
        if (nd->attr[IG_A_KH] == 1 && nd->attr[IG_A_KW] == 1) return DEV_CLASS_POINTWISE;
        return DEV_CLASS_CONV;
    }
    default: return DEV_CLASS_OTHER;
    }
}

const char *dev_class_name(dev_class c)
{
    static const char *const names[DEV_CLASS_COUNT] = {"conv", "pointwise", "depthwise",
                                                       "linear", "pool", "other"};
    PL_ASSERT(c >= 0 && c < DEV_CLASS_COUNT);
    return names[c];
}

double dev_model_peak_gflops(const dev_model *m)
{
    return (double)m->cores * m->freq_ghz * (double)m->simd_lanes * 2.0 * (double)m->fma_units;
}

double dev_predict_node_ms(const dev_model *m, const ig_graph *g, int node, int batch)
{
    PL_ASSERT(node >= 0 && node < g->n_nodes && batch >= 1);
    if (g->nodes[node].op == IG_OP_INPUT) return 0.0;
    double flops = ig_node_flops(g, node) * batch;
    double bytes = ig_node_bytes(g, node, batch);
    double peak = dev_model_peak_gflops(m) * 1e9 * m->eff[dev_node_class(g, node)];
    int in_cache = m->cache_kb > 0 && bytes <= m->cache_kb * 1024.0;
    double bw = (in_cache ? m->cache_gbs : m->dram_gbs) * 1e9 * m->eff_bandwidth;
    double compute_s = peak > 0 ? flops / peak : 0.0;
    double memory_s = bw > 0 ? bytes / bw : 0.0;
    double planes = (double)batch * g->nodes[node].shape.c;
    return 1e-3 * m->overhead_us + 1e-6 * m->plane_ns * planes + 1e3 * fmax(compute_s, memory_s);
}

double dev_predict_nodes_ms(const dev_model *m, const ig_graph *g, const int *nodes, int count,
                            int batch)
{
    double total = 0.0;
    for (int i = 0; i < count; i++) total += dev_predict_node_ms(m, g, nodes[i], batch);
    return total;
}
