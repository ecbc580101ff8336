/* ig_op_conv.c: op-table entries for the graph input and the weighted
 * instructions: conv2d (dense and grouped), dwconv2d (depthwise), pwconv2d
 * (1x1 convolution, a matmul over channels) and linear. */
#include "ig_ops.h"
#include "nn_conv.h"
#include "nn_linear.h"

/* ---- input ------------------------------------------------------------ */

static int input_infer(const ig_graph *g, const ig_node *nd, ig_shape *out)
{
    (void)g;
    if (nd->attr[0] <= 0 || nd->attr[1] <= 0 || nd->attr[2] <= 0)
        PL_FAIL(PL_ERR_SHAPE, "input shape must be positive, got (%d,%d,%d)", nd->attr[0],
                nd->attr[1], nd->attr[2]);
    *out = (ig_shape){nd->attr[0], nd->attr[1], nd->attr[2]};
    return PL_OK;
}

const ig_op_def ig_op_input = {.name = "input", .min_in = 0, .max_in = 0, .infer = input_infer};

/* ---- the convolution family ------------------------------------------- */

static nn_conv_params conv_params(const ig_node *nd)
{
    return (nn_conv_params){.kh = nd->attr[IG_A_KH], .kw = nd->attr[IG_A_KW],
                            .sh = nd->attr[IG_A_SH], .sw = nd->attr[IG_A_SW],
                            .ph = nd->attr[IG_A_PH], .pw = nd->attr[IG_A_PW],
                            .groups = nd->attr[IG_A_GROUPS]};
}

static int conv_infer(const ig_graph *g, const ig_node *nd, ig_shape *out)
{
    const ig_shape *in = ig_in_shape(g, nd, 0);
    nn_conv_params p = conv_params(nd);
    int oc = nd->attr[IG_A_OC];
    if (oc <= 0) PL_FAIL(PL_ERR_SHAPE, "output channels must be positive (got %d)", oc);
    if (p.kh <= 0 || p.kw <= 0 || p.sh <= 0 || p.sw <= 0 || p.ph < 0 || p.pw < 0)
        PL_FAIL(PL_ERR_SHAPE, "bad kernel %dx%d, stride %dx%d or padding %dx%d", p.kh, p.kw,
                p.sh, p.sw, p.ph, p.pw);
    if (p.groups <= 0 || in->c % p.groups || oc % p.groups)
        PL_FAIL(PL_ERR_SHAPE, "groups %d must divide input channels %d and output channels %d",
                p.groups, in->c, oc);
    if (nd->op == IG_OP_DWCONV2D && (p.groups != in->c || oc != in->c))
        PL_FAIL(PL_ERR_SHAPE, "depthwise needs groups == output channels == input channels %d "
                "(got groups %d, output %d)", in->c, p.groups, oc);
    if (nd->op == IG_OP_PWCONV2D && (p.kh != 1 || p.kw != 1 || p.sh != 1 || p.sw != 1 || p.ph || p.pw))
        PL_FAIL(PL_ERR_SHAPE, "pointwise convolution is 1x1, stride 1, no padding");
    out->c = oc;
    out->h = nn_window_out(in->h, p.kh, p.sh, p.ph, 0);
    out->w = nn_window_out(in->w, p.kw, p.sw, p.pw, 0);
    if (out->h <= 0 || out->w <= 0)
        PL_FAIL(PL_ERR_SHAPE, "kernel %dx%d does not fit the input %dx%d with padding %dx%d",
                p.kh, p.kw, in->h, in->w, p.ph, p.pw);
    return PL_OK;
}

static int conv_param_specs(const ig_graph *g, const ig_node *nd, ig_param *specs)
{
    const ig_shape *in = ig_in_shape(g, nd, 0);
    int oc = nd->attr[IG_A_OC], groups = nd->attr[IG_A_GROUPS];
    int kh = nd->attr[IG_A_KH], kw = nd->attr[IG_A_KW];
    int fan_in = in->c / groups * kh * kw;
    ig_param_spec(&specs[0], IG_PARAM_WEIGHT, oc, in->c / groups, kh, kw, fan_in);
    if (!nd->attr[IG_A_BIAS]) return 1;
    ig_param_spec(&specs[1], IG_PARAM_BIAS, oc, 1, 1, 1, fan_in);
    return 2;
}

static size_t conv_work(const ig_graph *g, const ig_node *nd, int N)
{
    const ig_shape *in = ig_in_shape(g, nd, 0);
    nn_conv_params p = conv_params(nd);
    return nn_conv2d_workspace(N, in->c, in->h, in->w, nd->attr[IG_A_OC], &p);
}

static void conv_forward(ig_graph *g, const ig_node *nd)
{
    const ig_shape *in = ig_in_shape(g, nd, 0);
    nn_conv_params p = conv_params(nd);
    float *work = ig_graph_work(g, conv_work(g, nd, g->batch));
    nn_conv2d_forward(ig_out_value(g, nd), ig_in_value(g, nd, 0), ig_param_value(g, nd, 0),
                      ig_param_value(g, nd, 1), g->batch, in->c, in->h, in->w,
                      nd->attr[IG_A_OC], &p, work);
}

static void conv_backward(ig_graph *g, const ig_node *nd)
{
    const ig_shape *in = ig_in_shape(g, nd, 0);
    nn_conv_params p = conv_params(nd);
    float *work = ig_graph_work(g, conv_work(g, nd, g->batch));
    nn_conv2d_backward(ig_in_grad(g, nd, 0), ig_param_grad(g, nd, 0), ig_param_grad(g, nd, 1),
                       ig_out_grad(g, nd), ig_in_value(g, nd, 0), ig_param_value(g, nd, 0),
                       g->batch, in->c, in->h, in->w, nd->attr[IG_A_OC], &p, work);
}

static double conv_flops(const ig_graph *g, const ig_node *nd)
{
    const ig_shape *in = ig_in_shape(g, nd, 0);
    double macs = (double)nd->shape.c * nd->shape.h * nd->shape.w *
                  (in->c / nd->attr[IG_A_GROUPS]) * nd->attr[IG_A_KH] * nd->attr[IG_A_KW];
    double bias = nd->attr[IG_A_BIAS] ? (double)ig_shape_size(&nd->shape) : 0.0;
    return 2.0 * macs + bias;
}

#define CONV_DEF(var, str)                                                                       \
    const ig_op_def var = {.name = str, .min_in = 1, .max_in = 1, .infer = conv_infer,          \
                           .params = conv_param_specs, .work_floats = conv_work,                 \
                           .forward = conv_forward, .backward = conv_backward,                   \
                           .flops = conv_flops}
CONV_DEF(ig_op_conv2d, "conv2d");
CONV_DEF(ig_op_dwconv2d, "dwconv2d");
CONV_DEF(ig_op_pwconv2d, "pwconv2d");

/* ---- linear ----------------------------------------------------------- */

static int linear_infer(const ig_graph *g, const ig_node *nd, ig_shape *out)
{
    const ig_shape *in = ig_in_shape(g, nd, 0);
    if (in->h != 1 || in->w != 1)
        PL_FAIL(PL_ERR_SHAPE, "linear needs a (C,1,1) input (flatten first), got (%d,%d,%d)",
                in->c, in->h, in->w);
    if (nd->attr[IG_A_OC] <= 0)
        PL_FAIL(PL_ERR_SHAPE, "output features must be positive (got %d)", nd->attr[IG_A_OC]);
    *out = (ig_shape){nd->attr[IG_A_OC], 1, 1};
    return PL_OK;
}

static int linear_param_specs(const ig_graph *g, const ig_node *nd, ig_param *specs)
{
    int in_features = ig_in_shape(g, nd, 0)->c, out_features = nd->attr[IG_A_OC];
    ig_param_spec(&specs[0], IG_PARAM_WEIGHT, out_features, in_features, 1, 1, in_features);
    if (!nd->attr[IG_A_BIAS]) return 1;
    ig_param_spec(&specs[1], IG_PARAM_BIAS, out_features, 1, 1, 1, in_features);
    return 2;
}

static void linear_forward(ig_graph *g, const ig_node *nd)
{
    nn_linear_forward(ig_out_value(g, nd), ig_in_value(g, nd, 0), ig_param_value(g, nd, 0),
                      ig_param_value(g, nd, 1), g->batch, ig_in_shape(g, nd, 0)->c, nd->shape.c);
}

static void linear_backward(ig_graph *g, const ig_node *nd)
{
    nn_linear_backward(ig_in_grad(g, nd, 0), ig_param_grad(g, nd, 0), ig_param_grad(g, nd, 1),
                       ig_out_grad(g, nd), ig_in_value(g, nd, 0), ig_param_value(g, nd, 0),
                       g->batch, ig_in_shape(g, nd, 0)->c, nd->shape.c);
}

static double linear_flops(const ig_graph *g, const ig_node *nd)
{
    double macs = (double)ig_in_shape(g, nd, 0)->c * nd->shape.c;
    return 2.0 * macs + (nd->attr[IG_A_BIAS] ? nd->shape.c : 0);
}

const ig_op_def ig_op_linear = {.name = "linear", .min_in = 1, .max_in = 1,
                                .infer = linear_infer, .params = linear_param_specs,
                                .forward = linear_forward, .backward = linear_backward,
                                .flops = linear_flops};
