/* ig_op_pointwise.c: op-table entries for the elementwise instructions:
 * activations, binary arithmetic (b may be (C,1,1), broadcast over H and W,
 * as squeeze-and-excitation needs) and dropout. */
#include "ig_ops.h"
#include "nn_pointwise.h"

/* ---- activations ------------------------------------------------------ */

static nn_act_kind act_kind(int op)
{
    switch (op) {
    case IG_OP_RELU:        return NN_ACT_RELU;
    case IG_OP_RELU6:       return NN_ACT_RELU6;
    case IG_OP_SIGMOID:     return NN_ACT_SIGMOID;
    case IG_OP_HARDSIGMOID: return NN_ACT_HARDSIGMOID;
    case IG_OP_HARDSWISH:   return NN_ACT_HARDSWISH;
    case IG_OP_TANH:        return NN_ACT_TANH;
    case IG_OP_IDENTITY:    return NN_ACT_IDENTITY;
    default: PL_ASSERT(!"not an activation opcode"); return NN_ACT_IDENTITY;
    }
}


static size_t batch_size(const ig_graph *g, const ig_node *nd)
{
    return (size_t)g->batch * ig_shape_size(&nd->shape);
}

static void act_forward(ig_graph *g, const ig_node *nd)
{
    nn_act_forward(act_kind(nd->op), ig_out_value(g, nd), ig_in_value(g, nd, 0), batch_size(g, nd));
}

static void act_backward(ig_graph *g, const ig_node *nd)
{
    float *dinp = ig_in_grad(g, nd, 0);
    if (!dinp) return;
    nn_act_backward(act_kind(nd->op), dinp, ig_out_grad(g, nd), ig_in_value(g, nd, 0),
                    ig_out_value(g, nd), batch_size(g, nd));
}

/* Per element: relu-like 1, hard* a few, transcendental ones counted 4. */
static double act_flops(const ig_graph *g, const ig_node *nd)
{
    (void)g;
    double per = 1.0;
    switch (nd->op) {
    case IG_OP_IDENTITY:    per = 0.0; break;
    case IG_OP_RELU6:       per = 2.0; break;
    case IG_OP_HARDSIGMOID: per = 4.0; break;
    case IG_OP_HARDSWISH:   per = 5.0; break;
    case IG_OP_SIGMOID:
    case IG_OP_TANH:        per = 4.0; break;
    default: break;
    }
    return per * (double)ig_shape_size(&nd->shape);
}

#define ACT_DEF(var, str)                                                                        \
    const ig_op_def var = {.name = str, .min_in = 1, .max_in = 1, .infer = ig_infer_same_shape,    \
                           .forward = act_forward, .backward = act_backward,                     \
                           .flops = act_flops}
ACT_DEF(ig_op_relu, "relu");
ACT_DEF(ig_op_relu6, "relu6");
ACT_DEF(ig_op_sigmoid, "sigmoid");
ACT_DEF(ig_op_hardsigmoid, "hardsigmoid");
ACT_DEF(ig_op_hardswish, "hardswish");
ACT_DEF(ig_op_tanh, "tanh");
ACT_DEF(ig_op_identity, "identity");

/* ---- binary arithmetic ------------------------------------------------ */

static nn_binary_kind binary_kind(int op)
{
    switch (op) {
    case IG_OP_ADD: return NN_BIN_ADD;
    case IG_OP_SUB: return NN_BIN_SUB;
    case IG_OP_MUL: return NN_BIN_MUL;
    case IG_OP_MAX: return NN_BIN_MAX;
    default: PL_ASSERT(!"not a binary opcode"); return NN_BIN_ADD;
    }
}

static int binary_infer(const ig_graph *g, const ig_node *nd, ig_shape *out)
{
    const ig_shape *a = ig_in_shape(g, nd, 0), *b = ig_in_shape(g, nd, 1);
    int same = a->c == b->c && a->h == b->h && a->w == b->w;
    int per_channel = a->c == b->c && b->h == 1 && b->w == 1;
    if (!same && !per_channel)
        PL_FAIL(PL_ERR_SHAPE, "shapes (%d,%d,%d) and (%d,%d,%d) differ and the second is not "
                "(C,1,1)", a->c, a->h, a->w, b->c, b->h, b->w);
    *out = *a;
    return PL_OK;
}

static void binary_forward(ig_graph *g, const ig_node *nd)
{
    const ig_shape *b = ig_in_shape(g, nd, 1);
    nn_binary_forward(binary_kind(nd->op), ig_out_value(g, nd), ig_in_value(g, nd, 0),
                      ig_in_value(g, nd, 1), g->batch, nd->shape.c, nd->shape.h * nd->shape.w,
                      b->h * b->w);
}

static void binary_backward(ig_graph *g, const ig_node *nd)
{
    const ig_shape *b = ig_in_shape(g, nd, 1);
    nn_binary_backward(binary_kind(nd->op), ig_in_grad(g, nd, 0), ig_in_grad(g, nd, 1),
                       ig_out_grad(g, nd), ig_in_value(g, nd, 0), ig_in_value(g, nd, 1),
                       g->batch, nd->shape.c, nd->shape.h * nd->shape.w, b->h * b->w);
}

static double one_per_element(const ig_graph *g, const ig_node *nd)
{
    (void)g;
    return (double)ig_shape_size(&nd->shape);
}

#define BINARY_DEF(var, str)                                                                     \
    const ig_op_def var = {.name = str, .min_in = 2, .max_in = 2, .infer = binary_infer,        \
                           .forward = binary_forward, .backward = binary_backward,               \
                           .flops = one_per_element}
BINARY_DEF(ig_op_add, "add");
BINARY_DEF(ig_op_sub, "sub");
BINARY_DEF(ig_op_mul, "mul");
BINARY_DEF(ig_op_max, "max");

/* ---- dropout ---------------------------------------------------------- */

static int dropout_infer(const ig_graph *g, const ig_node *nd, ig_shape *out)
{
    if (!(nd->fattr[0] >= 0.0f && nd->fattr[0] < 1.0f))
        PL_FAIL(PL_ERR_SHAPE, "dropout probability must be in [0, 1) (got %g)",
                (double)nd->fattr[0]);
    return ig_infer_same_shape(g, nd, out);
}

/* The mask, (N, C, H, W). */
static size_t dropout_aux(const ig_graph *g, const ig_node *nd, int N)
{
    (void)g;
    return (size_t)N * ig_shape_size(&nd->shape);
}

static void dropout_forward(ig_graph *g, const ig_node *nd)
{
    size_t n = batch_size(g, nd);
    float *out = ig_out_value(g, nd);
    const float *inp = ig_in_value(g, nd, 0);
    if (!g->training || nd->fattr[0] == 0.0f) {
        nn_act_forward(NN_ACT_IDENTITY, out, inp, n);
        return;
    }
    /* A fresh mask per step and per node, reproducible from the seed. */
    uint64_t seed = g->dropout_seed ^ (g->step * 0x9e3779b97f4a7c15ULL) ^
                    ((uint64_t)(nd - g->nodes) << 40);
    nn_dropout_forward(out, ig_aux(g, nd), inp, n, nd->fattr[0], seed);
}

static void dropout_backward(ig_graph *g, const ig_node *nd)
{
    float *dinp = ig_in_grad(g, nd, 0);
    if (!dinp) return;
    size_t n = batch_size(g, nd);
    if (!g->training || nd->fattr[0] == 0.0f)
        nn_act_backward(NN_ACT_IDENTITY, dinp, ig_out_grad(g, nd), ig_in_value(g, nd, 0),
                        ig_out_value(g, nd), n);
    else
        nn_dropout_backward(dinp, ig_out_grad(g, nd), ig_aux(g, nd), n);
}

const ig_op_def ig_op_dropout = {.name = "dropout", .min_in = 1, .max_in = 1,
                                 .infer = dropout_infer, .aux_floats = dropout_aux,
                                 .forward = dropout_forward, .backward = dropout_backward};
