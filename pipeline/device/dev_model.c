/* dev_model.c: the latency model of predicted devices, a roofline per
 * instruction:
 *
 *   t = overhead + planes * plane_ns
 *         + max(flops / (peak * share * eff[class]), bytes / (bw * eff_bandwidth))
 *
 * planes = batch x output channels: the per-channel set-up of kernels on
 * small planes, which FLOPs and bytes do not show.
 * peak = cores * freq * simd_lanes * 2 * fma_units FLOP/s (an FMA is two
 * FLOPs); share is what convolutions lowered to sgemm keep of it (threads
 * and product shape, gemm_share below) or what depthwise convolutions keep
 * (row lanes and kernel size, depthwise_share below), 1 for the other
 * classes; bw is the
 * cache bandwidth when the instruction's bytes (inputs, output and
 * parameters, ig_node_bytes) fit in the cache, else the DRAM bandwidth.
 * Input nodes cost nothing (the input is already in memory).
 * With eff_winograd > 0 the model follows the engine's choice of Winograd
 * F(2x2,3x3) for a 3x3 convolution (nn_conv2d_method): it counts the FLOPs
 * of its 16 products, 16 multiply-adds per 2x2 output tile and channel pair
 * instead of 36 per 4 pixels, on products of tiles x batch columns, at
 * eff_winograd x eff_conv (the transforms' cost, which FLOPs do not show). */
#include "dev.h"
#include "nn_conv.h"
#include "nn_gemm_skinny.h"
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

/* Whether the engine computes node's product without sgemm: one image on
 * at most NN_SKINNY_USED_N output pixels, or a 1x1 convolution of 1-pixel
 * planes over at most NN_SKINNY_USED_N images (nn_gemm_skinny.h). That
 * kernel streams the weights once and packs nothing, so the product's
 * shape costs it nothing beyond the roofline's memory term. */
static int skinny_product(const ig_graph *g, int node, int batch)
{
    const ig_node *nd = &g->nodes[node];
    const int pixels = nd->shape.h * nd->shape.w;
    if (batch == 1) return pixels <= NN_SKINNY_USED_N;
    return pixels == 1 && batch <= NN_SKINNY_USED_N &&
           dev_node_class(g, node) == DEV_CLASS_POINTWISE;
}

/* Output tiles per image when m models Winograd and the engine computes
 * node (a convolution) by Winograd F(2x2,3x3) at this batch, else 0. */
static long winograd_tiles(const dev_model *m, const ig_graph *g, int node, int batch)
{
    const ig_node *nd = &g->nodes[node];
    if (!(m->eff_winograd > 0) || nd->op != IG_OP_CONV2D) return 0;
    const ig_shape *in = &g->nodes[nd->in[0]].shape;
    const nn_conv_params p = {nd->attr[IG_A_KH], nd->attr[IG_A_KW], nd->attr[IG_A_SH],
                              nd->attr[IG_A_SW], nd->attr[IG_A_PH], nd->attr[IG_A_PW],
                              nd->attr[IG_A_GROUPS] > 0 ? nd->attr[IG_A_GROUPS] : 1};
    if (strcmp(nn_conv2d_method(batch, in->c, in->h, in->w, nd->attr[IG_A_OC], &p), "winograd"))
        return 0;
    return (long)((nd->shape.h + 1) / 2) * ((nd->shape.w + 1) / 2);
}

/* The share of m's peak a convolution lowered to sgemm keeps (the other
 * classes' kernels are the engine's own and split small work over the
 * cores too):
 * - the cores it keeps busy, 1 + (cores - 1) F / (F + parallel_flops) of
 *   them: OpenBLAS runs small products on one thread;
 * - the shape of its product C (M x N) = A (M x K) B (K x N), M = output
 *   channels of a group, K = inputs per output (input channels of a group x
 *   taps), N = output pixels x batch: each dimension d keeps
 *   d / (d + gemm_half) of the rate (skinny products spend their time
 *   packing, not multiplying); not for the products the engine computes
 *   without sgemm (skinny_product).
 * Both are Hockney's half-performance form; a factor of 0 leaves its term
 * out. */
static double gemm_share(const dev_model *m, const ig_graph *g, int node, int batch, double flops)
{
    double share = 1.0;
    if (m->parallel_mflops > 0 && m->cores > 1)
        share = (1.0 + (m->cores - 1) * flops / (flops + m->parallel_mflops * 1e6)) / m->cores;
    if (m->gemm_half > 0 && !skinny_product(g, node, batch)) {
        const ig_node *nd = &g->nodes[node];
        const ig_shape *in = &g->nodes[nd->in[0]].shape;
        int groups = nd->attr[IG_A_GROUPS] > 0 ? nd->attr[IG_A_GROUPS] : 1;
        int taps = nd->op == IG_OP_PWCONV2D ? 1 : nd->attr[IG_A_KH] * nd->attr[IG_A_KW];
        double dims[3] = {(double)nd->shape.c / groups, (double)in->c / groups * taps,
                          (double)nd->shape.h * nd->shape.w * batch};
        const long tiles = winograd_tiles(m, g, node, batch);
        if (tiles > 0) dims[1] = in->c, dims[2] = (double)tiles * batch; /* each of 16 products */
        for (int i = 0; i < 3; i++) share *= dims[i] / (dims[i] + m->gemm_half);
    }
    return share;
}

/* The share of m's depthwise rate a depthwise convolution keeps:
 * - the vector lanes its output rows fill, OW / (v ceil(OW / v)) for
 *   kernels that vectorise along rows in vectors of v = dw_row_lanes
 *   floats (a 7-wide row fills 7 of 16 lanes);
 * - its kernel size, taps / (taps + dw_taps_half): every output pays its
 *   loads and stores whatever the taps.
 * A factor of 0 leaves its term out. */
static double depthwise_share(const dev_model *m, const ig_graph *g, int node)
{
    const ig_node *nd = &g->nodes[node];
    double share = 1.0;
    if (m->dw_row_lanes > 0) {
        int v = m->dw_row_lanes, ow = nd->shape.w;
        share *= (double)ow / ((double)v * ((ow + v - 1) / v));
    }
    if (m->dw_taps_half > 0) {
        double taps = (double)nd->attr[IG_A_KH] * nd->attr[IG_A_KW];
        share *= taps / (taps + m->dw_taps_half);
    }
    return share;
}

static double rate_share(const dev_model *m, const ig_graph *g, int node, int batch, double flops)
{
    switch (dev_node_class(g, node)) {
    case DEV_CLASS_CONV:
    case DEV_CLASS_POINTWISE: return gemm_share(m, g, node, batch, flops);
    case DEV_CLASS_DEPTHWISE: return depthwise_share(m, g, node);
    default: return 1.0;
    }
}

double dev_predict_node_ms(const dev_model *m, const ig_graph *g, int node, int batch)
{
    PL_ASSERT(node >= 0 && node < g->n_nodes && batch >= 1);
    if (g->nodes[node].op == IG_OP_INPUT) return 0.0;
    double flops = ig_node_flops(g, node) * batch;
    const long tiles = winograd_tiles(m, g, node, batch);
    double eff = m->eff[dev_node_class(g, node)];
    if (tiles > 0) { /* 16 products (OC, C) x (C, tiles x batch) */
        flops = 2.0 * 16 * tiles * batch * (double)g->nodes[node].shape.c *
                g->nodes[g->nodes[node].in[0]].shape.c;
        eff *= m->eff_winograd;
    }
    double bytes = ig_node_bytes(g, node, batch);
    double peak = dev_model_peak_gflops(m) * 1e9 * rate_share(m, g, node, batch, flops) * eff;
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
