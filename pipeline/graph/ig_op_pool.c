/* ig_op_pool.c: op-table entries for max and average pooling (kernel,
 * stride, padding, ceil mode) and global average pooling. */
#include "ig_ops.h"
#include "nn_pool.h"

static nn_pool_params pool_params(const ig_node *nd)
{
    return (nn_pool_params){.kh = nd->attr[IG_A_POOL_KH], .kw = nd->attr[IG_A_POOL_KW],
                            .sh = nd->attr[IG_A_POOL_SH], .sw = nd->attr[IG_A_POOL_SW],
                            .ph = nd->attr[IG_A_POOL_PH], .pw = nd->attr[IG_A_POOL_PW],
                            .ceil_mode = nd->attr[IG_A_POOL_CEIL],
                            .count_include_pad = nd->attr[IG_A_POOL_INCLUDE_PAD]};
}

static int pool_infer(const ig_graph *g, const ig_node *nd, ig_shape *out)
{
    const ig_shape *in = ig_in_shape(g, nd, 0);
    nn_pool_params p = pool_params(nd);
    if (p.kh <= 0 || p.kw <= 0 || p.sh <= 0 || p.sw <= 0)
        PL_FAIL(PL_ERR_SHAPE, "bad kernel %dx%d or stride %dx%d", p.kh, p.kw, p.sh, p.sw);
    /* PyTorch's rule: padding at most half the kernel, so every window
     * holds at least one real element. */
    if (p.ph < 0 || p.pw < 0 || 2 * p.ph > p.kh || 2 * p.pw > p.kw)
        PL_FAIL(PL_ERR_SHAPE, "padding %dx%d must be at most half the kernel %dx%d", p.ph, p.pw,
                p.kh, p.kw);
    out->c = in->c;
    out->h = nn_window_out(in->h, p.kh, p.sh, p.ph, p.ceil_mode);
    out->w = nn_window_out(in->w, p.kw, p.sw, p.pw, p.ceil_mode);
    if (out->h <= 0 || out->w <= 0)
        PL_FAIL(PL_ERR_SHAPE, "window %dx%d does not fit the input %dx%d with padding %dx%d",
                p.kh, p.kw, in->h, in->w, p.ph, p.pw);
    return PL_OK;
}

static double window_flops(const ig_graph *g, const ig_node *nd)
{
    (void)g;
    return (double)ig_shape_size(&nd->shape) * nd->attr[IG_A_POOL_KH] * nd->attr[IG_A_POOL_KW];
}

/* ---- max pooling: argmax saved as int32, (N, C, OH, OW) ---------------- */

static size_t maxpool_aux(const ig_graph *g, const ig_node *nd, int N)
{
    (void)g;
    _Static_assert(sizeof(int32_t) == sizeof(float), "argmax shares the float slab");
    return (size_t)N * ig_shape_size(&nd->shape);
}

static void maxpool_forward(ig_graph *g, const ig_node *nd)
{
    const ig_shape *in = ig_in_shape(g, nd, 0);
    nn_pool_params p = pool_params(nd);
    nn_maxpool_forward(ig_out_value(g, nd), (int32_t *)ig_aux(g, nd), ig_in_value(g, nd, 0),
                       g->batch, in->c, in->h, in->w, &p);
}

static void maxpool_backward(ig_graph *g, const ig_node *nd)
{
    float *dinp = ig_in_grad(g, nd, 0);
    if (!dinp) return;
    const ig_shape *in = ig_in_shape(g, nd, 0);
    nn_maxpool_backward(dinp, ig_out_grad(g, nd), (const int32_t *)ig_aux(g, nd), g->batch, in->c,
                        in->h, in->w, nd->shape.h, nd->shape.w);
}

const ig_op_def ig_op_maxpool = {.name = "maxpool", .min_in = 1, .max_in = 1,
                                 .infer = pool_infer, .aux_floats = maxpool_aux,
                                 .forward = maxpool_forward, .backward = maxpool_backward,
                                 .flops = window_flops};

/* ---- average pooling -------------------------------------------------- */

static void avgpool_forward(ig_graph *g, const ig_node *nd)
{
    const ig_shape *in = ig_in_shape(g, nd, 0);
    nn_pool_params p = pool_params(nd);
    nn_avgpool_forward(ig_out_value(g, nd), ig_in_value(g, nd, 0), g->batch, in->c, in->h, in->w,
                       &p);
}

static void avgpool_backward(ig_graph *g, const ig_node *nd)
{
    float *dinp = ig_in_grad(g, nd, 0);
    if (!dinp) return;
    const ig_shape *in = ig_in_shape(g, nd, 0);
    nn_pool_params p = pool_params(nd);
    nn_avgpool_backward(dinp, ig_out_grad(g, nd), g->batch, in->c, in->h, in->w, &p);
}

/* Average pooling keeps one input row in a buffer of NN_AVGPOOL_MAX_W. */
static int avgpool_infer(const ig_graph *g, const ig_node *nd, ig_shape *out)
{
    const ig_shape *in = ig_in_shape(g, nd, 0);
    if (in->w > NN_AVGPOOL_MAX_W)
        PL_FAIL(PL_ERR_SHAPE, "input width %d is above the %d average pooling supports", in->w,
                NN_AVGPOOL_MAX_W);
    return pool_infer(g, nd, out);
}

const ig_op_def ig_op_avgpool = {.name = "avgpool", .min_in = 1, .max_in = 1,
                                 .infer = avgpool_infer, .forward = avgpool_forward,
                                 .backward = avgpool_backward, .flops = window_flops};

/* ---- global average pooling: (C,H,W) -> (C,1,1) ------------------------ */

static int gap_infer(const ig_graph *g, const ig_node *nd, ig_shape *out)
{
    *out = (ig_shape){ig_in_shape(g, nd, 0)->c, 1, 1};
    return PL_OK;
}

static void gap_forward(ig_graph *g, const ig_node *nd)
{
    const ig_shape *in = ig_in_shape(g, nd, 0);
    nn_global_avgpool_forward(ig_out_value(g, nd), ig_in_value(g, nd, 0), g->batch, in->c,
                              in->h * in->w);
}

static void gap_backward(ig_graph *g, const ig_node *nd)
{
    float *dinp = ig_in_grad(g, nd, 0);
    if (!dinp) return;
    const ig_shape *in = ig_in_shape(g, nd, 0);
    nn_global_avgpool_backward(dinp, ig_out_grad(g, nd), g->batch, in->c, in->h * in->w);
}

static double gap_flops(const ig_graph *g, const ig_node *nd)
{
    (void)nd;
    return (double)ig_shape_size(ig_in_shape(g, nd, 0));
}

const ig_op_def ig_op_global_avgpool = {.name = "global_avgpool", .min_in = 1, .max_in = 1,
                                        .infer = gap_infer, .forward = gap_forward,
                                        .backward = gap_backward, .flops = gap_flops};
