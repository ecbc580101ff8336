/* ig_ops.h: the op table behind the instruction graph (internal to
 * pipeline/graph). One ig_op_def per opcode says how to validate a node and
 * infer its shape, which parameters and saved data it needs, how to run it
 * forward and backward through the nn_ kernels, and what it costs. A NULL hook
 * means "none" (no parameters, no saved data, zero FLOPs). */
#ifndef IG_OPS_H
#define IG_OPS_H

#include "ig.h"
#include "pl_err.h"

typedef struct {
    const char *name;
    int min_in, max_in;
    /* Validates the node against its inputs' shapes and writes its output
     * shape; returns PL_OK or PL_ERR_SHAPE with a message (no node prefix). */
    int (*infer)(const ig_graph *g, const ig_node *nd, ig_shape *out);
    /* Fills up to 2 parameter descriptors (kind, dims, count, fan_in) and
     * returns how many. */
    int (*params)(const ig_graph *g, const ig_node *nd, ig_param *specs);
    /* Floats of non-trained state (batch-norm running statistics). */
    size_t (*state_floats)(const ig_graph *g, const ig_node *nd);
    /* Floats saved between forward and backward for a batch of N. */
    size_t (*aux_floats)(const ig_graph *g, const ig_node *nd, int N);
    /* Floats of shared workspace the kernels need for a batch of N. */
    size_t (*work_floats)(const ig_graph *g, const ig_node *nd, int N);
    void (*forward)(ig_graph *g, const ig_node *nd);
    void (*backward)(ig_graph *g, const ig_node *nd);
    /* FLOPs per sample, a multiply-add counting 2. */
    double (*flops)(const ig_graph *g, const ig_node *nd);
} ig_op_def;

extern const ig_op_def *const IG_OP_TABLE[IG_OP_COUNT];

/* PL_OK, or PL_ERR_SHAPE when the graph is in training mode and some
 * batchnorm would see a single value per channel at this batch size. */
int ig_check_training_batch(const ig_graph *g, int batch);

/* The op definitions, one per family file (ig_op_*.c). */
extern const ig_op_def ig_op_input, ig_op_conv2d, ig_op_dwconv2d, ig_op_pwconv2d, ig_op_linear;
extern const ig_op_def ig_op_batchnorm, ig_op_scale_bias;
extern const ig_op_def ig_op_relu, ig_op_relu6, ig_op_sigmoid, ig_op_hardsigmoid,
    ig_op_hardswish, ig_op_tanh, ig_op_identity;
extern const ig_op_def ig_op_add, ig_op_sub, ig_op_mul, ig_op_max, ig_op_dropout;
extern const ig_op_def ig_op_maxpool, ig_op_avgpool, ig_op_global_avgpool;
extern const ig_op_def ig_op_concat, ig_op_split, ig_op_channel_shuffle, ig_op_flatten;
extern const ig_op_def ig_op_softmax_xent;

/* ---- accessors the op files share ------------------------------------- */

static inline const ig_shape *ig_in_shape(const ig_graph *g, const ig_node *nd, int k)
{
    return &g->nodes[nd->in[k]].shape;
}
static inline size_t ig_shape_size(const ig_shape *s)
{
    return (size_t)s->c * (size_t)s->h * (size_t)s->w;
}
/* Input k's value, (N, C, H, W). */
static inline const float *ig_in_value(const ig_graph *g, const ig_node *nd, int k)
{
    return g->act + g->nodes[nd->in[k]].act_off;
}
/* Input k's gradient, or NULL when no gradient flows into that input. */
static inline float *ig_in_grad(const ig_graph *g, const ig_node *nd, int k)
{
    const ig_node *src = &g->nodes[nd->in[k]];
    return src->needs_grad ? g->dact + src->act_off : NULL;
}
static inline float *ig_out_value(const ig_graph *g, const ig_node *nd)
{
    return g->act + nd->act_off;
}
static inline const float *ig_out_grad(const ig_graph *g, const ig_node *nd)
{
    return g->dact + nd->act_off;
}
/* Parameter k of the node, and its gradient. */
static inline float *ig_param_value(const ig_graph *g, const ig_node *nd, int k)
{
    return k < nd->n_params ? g->param + g->params[nd->param_first + k].offset : NULL;
}
static inline float *ig_param_grad(const ig_graph *g, const ig_node *nd, int k)
{
    return k < nd->n_params ? g->grad + g->params[nd->param_first + k].offset : NULL;
}
static inline float *ig_aux(const ig_graph *g, const ig_node *nd) { return g->aux + nd->aux_off; }

/* Shape inference of the ops whose output has the shape of input 0. */
static inline int ig_infer_same_shape(const ig_graph *g, const ig_node *nd, ig_shape *out)
{
    *out = *ig_in_shape(g, nd, 0);
    return PL_OK;
}

/* Fills a parameter descriptor. */
static inline void ig_param_spec(ig_param *p, int kind, int d0, int d1, int d2, int d3, int fan_in)
{
    p->kind = kind;
    p->dims[0] = d0;
    p->dims[1] = d1;
    p->dims[2] = d2;
    p->dims[3] = d3;
    p->count = (size_t)d0 * (size_t)d1 * (size_t)d2 * (size_t)d3;
    p->fan_in = fan_in;
}

#endif
