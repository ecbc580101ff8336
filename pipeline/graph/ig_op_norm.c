/* ig_op_norm.c: op-table entries for batch normalization (training mode with
 * batch statistics, evaluation mode with running statistics) and per-channel
 * scale and bias. */
#include "ig_ops.h"
#include "nn_norm.h"

static int channel_param_specs(const ig_graph *g, const ig_node *nd, ig_param *specs)
{
    int C = ig_in_shape(g, nd, 0)->c;
    ig_param_spec(&specs[0], IG_PARAM_GAMMA, C, 1, 1, 1, 1);
    ig_param_spec(&specs[1], IG_PARAM_BETA, C, 1, 1, 1, 1);
    return 2;
}

/* ---- batch normalization ---------------------------------------------- */

static int bn_infer(const ig_graph *g, const ig_node *nd, ig_shape *out)
{
    if (!(nd->fattr[0] > 0.0f))
        PL_FAIL(PL_ERR_SHAPE, "eps must be positive (got %g)", (double)nd->fattr[0]);
    if (!(nd->fattr[1] >= 0.0f && nd->fattr[1] <= 1.0f))
        PL_FAIL(PL_ERR_SHAPE, "momentum must be in [0, 1] (got %g)", (double)nd->fattr[1]);
    return ig_infer_same_shape(g, nd, out);
}

/* Running mean then running variance, (C) each. */
static size_t bn_state(const ig_graph *g, const ig_node *nd)
{
    return 2 * (size_t)ig_in_shape(g, nd, 0)->c;
}

/* Batch mean then rstd, (C) each. */
static size_t bn_aux(const ig_graph *g, const ig_node *nd, int N)
{
    (void)N;
    return 2 * (size_t)ig_in_shape(g, nd, 0)->c;
}

static void bn_forward(ig_graph *g, const ig_node *nd)
{
    const ig_shape *s = ig_in_shape(g, nd, 0);
    int C = s->c, HW = s->h * s->w;
    float *running_mean = g->state + nd->state_off, *running_var = running_mean + C;
    if (g->training) {
        float *mean = ig_aux(g, nd), *rstd = mean + C;
        nn_batchnorm_forward_train(ig_out_value(g, nd), mean, rstd, running_mean, running_var,
                                   ig_in_value(g, nd, 0), ig_param_value(g, nd, 0),
                                   ig_param_value(g, nd, 1), g->batch, C, HW, nd->fattr[0],
                                   nd->fattr[1]);
    } else {
        nn_batchnorm_forward_eval(ig_out_value(g, nd), ig_in_value(g, nd, 0),
                                  ig_param_value(g, nd, 0), ig_param_value(g, nd, 1),
                                  running_mean, running_var, g->batch, C, HW, nd->fattr[0]);
    }
}

static void bn_backward(ig_graph *g, const ig_node *nd)
{
    const ig_shape *s = ig_in_shape(g, nd, 0);
    int C = s->c, HW = s->h * s->w;
    if (g->training) {
        const float *mean = ig_aux(g, nd), *rstd = mean + C;
        nn_batchnorm_backward_train(ig_in_grad(g, nd, 0), ig_param_grad(g, nd, 0),
                                    ig_param_grad(g, nd, 1), ig_out_grad(g, nd),
                                    ig_in_value(g, nd, 0), mean, rstd, ig_param_value(g, nd, 0),
                                    g->batch, C, HW);
    } else {
        const float *running_mean = g->state + nd->state_off, *running_var = running_mean + C;
        nn_batchnorm_backward_eval(ig_in_grad(g, nd, 0), ig_param_grad(g, nd, 0),
                                   ig_param_grad(g, nd, 1), ig_out_grad(g, nd),
                                   ig_in_value(g, nd, 0), ig_param_value(g, nd, 0), running_mean,
                                   running_var, g->batch, C, HW, nd->fattr[0]);
    }
}

/* Evaluation-mode cost: a scale and a shift per element. */
static double elementwise2_flops(const ig_graph *g, const ig_node *nd)
{
    (void)g;
    return 2.0 * (double)ig_shape_size(&nd->shape);
}

const ig_op_def ig_op_batchnorm = {.name = "batchnorm", .min_in = 1, .max_in = 1,
                                   .infer = bn_infer, .params = channel_param_specs,
                                   .state_floats = bn_state, .aux_floats = bn_aux,
                                   .forward = bn_forward, .backward = bn_backward,
                                   .flops = elementwise2_flops};

/* ---- per-channel scale and bias --------------------------------------- */

static void scale_bias_forward(ig_graph *g, const ig_node *nd)
{
    const ig_shape *s = ig_in_shape(g, nd, 0);
    nn_scale_bias_forward(ig_out_value(g, nd), ig_in_value(g, nd, 0), ig_param_value(g, nd, 0),
                          ig_param_value(g, nd, 1), g->batch, s->c, s->h * s->w);
}

static void scale_bias_backward(ig_graph *g, const ig_node *nd)
{
    const ig_shape *s = ig_in_shape(g, nd, 0);
    nn_scale_bias_backward(ig_in_grad(g, nd, 0), ig_param_grad(g, nd, 0), ig_param_grad(g, nd, 1),
                           ig_out_grad(g, nd), ig_in_value(g, nd, 0), ig_param_value(g, nd, 0),
                           g->batch, s->c, s->h * s->w);
}

const ig_op_def ig_op_scale_bias = {.name = "scale_bias", .min_in = 1, .max_in = 1,
                                    .infer = ig_infer_same_shape, .params = channel_param_specs,
                                    .forward = scale_bias_forward,
                                    .backward = scale_bias_backward,
                                    .flops = elementwise2_flops};
