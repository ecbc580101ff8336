/* ig_ops.c: the op table (one entry per opcode), opcode names, and the
 * convenience builders over ig_add. */
#include "ig.h"
#include "ig_ops.h"

#include <string.h>

const ig_op_def *const IG_OP_TABLE[IG_OP_COUNT] = {
    [IG_OP_INPUT] = &ig_op_input,
    [IG_OP_CONV2D] = &ig_op_conv2d,
    [IG_OP_DWCONV2D] = &ig_op_dwconv2d,
    [IG_OP_PWCONV2D] = &ig_op_pwconv2d,
    [IG_OP_LINEAR] = &ig_op_linear,
    [IG_OP_BATCHNORM] = &ig_op_batchnorm,
    [IG_OP_SCALE_BIAS] = &ig_op_scale_bias,
    [IG_OP_RELU] = &ig_op_relu,
    [IG_OP_RELU6] = &ig_op_relu6,
    [IG_OP_SIGMOID] = &ig_op_sigmoid,
    [IG_OP_HARDSIGMOID] = &ig_op_hardsigmoid,
    [IG_OP_HARDSWISH] = &ig_op_hardswish,
    [IG_OP_TANH] = &ig_op_tanh,
    [IG_OP_IDENTITY] = &ig_op_identity,
    [IG_OP_ADD] = &ig_op_add,
    [IG_OP_SUB] = &ig_op_sub,
    [IG_OP_MUL] = &ig_op_mul,
    [IG_OP_MAX] = &ig_op_max,
    [IG_OP_MAXPOOL] = &ig_op_maxpool,
    [IG_OP_AVGPOOL] = &ig_op_avgpool,
    [IG_OP_GLOBAL_AVGPOOL] = &ig_op_global_avgpool,
    [IG_OP_CONCAT] = &ig_op_concat,
    [IG_OP_SPLIT] = &ig_op_split,
    [IG_OP_CHANNEL_SHUFFLE] = &ig_op_channel_shuffle,
    [IG_OP_DROPOUT] = &ig_op_dropout,
    [IG_OP_FLATTEN] = &ig_op_flatten,
    [IG_OP_SOFTMAX_XENT] = &ig_op_softmax_xent,
};
_Static_assert(IG_OP_COUNT == 27, "update IG_OP_TABLE, schemas/ and tests when adding an opcode");

static const char *const opcode_names[IG_OP_COUNT] = {
#define IG_NAME(e, s) [IG_OP_##e] = s,
    IG_OPCODES(IG_NAME)
#undef IG_NAME
};

const char *ig_opcode_name(int op)
{
    return op >= 0 && op < IG_OP_COUNT ? opcode_names[op] : "?";
}

int ig_opcode_from_name(const char *name)
{
    for (int op = 0; op < IG_OP_COUNT; op++)
        if (strcmp(opcode_names[op], name) == 0) return op;
    return -1;
}

/* ---- builders --------------------------------------------------------- */

static ig_node node_of(int op, int n_in, const int *ins)
{
    ig_node nd;
    memset(&nd, 0, sizeof nd);
    nd.op = op;
    nd.n_in = n_in;
    for (int k = 0; k < n_in && k < IG_MAX_IN; k++) nd.in[k] = ins[k];
    return nd;
}

int ig_input(ig_graph *g, int c, int h, int w)
{
    ig_node nd = node_of(IG_OP_INPUT, 0, NULL);
    nd.attr[0] = c;
    nd.attr[1] = h;
    nd.attr[2] = w;
    return ig_add(g, &nd);
}

void ig_input_wants_gradient(ig_graph *g, int node)
{
    PL_ASSERT(!g->finalized && node >= 0 && node < g->n_nodes && g->nodes[node].op == IG_OP_INPUT);
    g->nodes[node].attr[3] = 1;
}

int ig_conv2d(ig_graph *g, int in, int oc, int kh, int kw, int sh, int sw, int ph, int pw,
              int groups, int bias)
{
    ig_node nd = node_of(IG_OP_CONV2D, 1, &in);
    int a[] = {oc, kh, kw, sh, sw, ph, pw, groups, bias};
    memcpy(nd.attr, a, sizeof a);
    return ig_add(g, &nd);
}

int ig_dwconv2d(ig_graph *g, int in, int k, int stride, int pad, int bias)
{
    ig_node nd = node_of(IG_OP_DWCONV2D, 1, &in);
    int c = in >= 0 && in < g->n_nodes ? g->nodes[in].shape.c : 0;
    int a[] = {c, k, k, stride, stride, pad, pad, c, bias};
    memcpy(nd.attr, a, sizeof a);
    return ig_add(g, &nd);
}

int ig_pwconv2d(ig_graph *g, int in, int oc, int groups, int bias)
{
    ig_node nd = node_of(IG_OP_PWCONV2D, 1, &in);
    int a[] = {oc, 1, 1, 1, 1, 0, 0, groups, bias};
    memcpy(nd.attr, a, sizeof a);
    return ig_add(g, &nd);
}

int ig_linear(ig_graph *g, int in, int out, int bias)
{
    ig_node nd = node_of(IG_OP_LINEAR, 1, &in);
    nd.attr[IG_A_OC] = out;
    nd.attr[IG_A_BIAS] = bias;
    return ig_add(g, &nd);
}

int ig_batchnorm(ig_graph *g, int in)
{
    ig_node nd = node_of(IG_OP_BATCHNORM, 1, &in);
    nd.fattr[0] = 1e-5f;
    nd.fattr[1] = 0.1f;
    return ig_add(g, &nd);
}

int ig_scale_bias(ig_graph *g, int in)
{
    ig_node nd = node_of(IG_OP_SCALE_BIAS, 1, &in);
    return ig_add(g, &nd);
}

int ig_unary(ig_graph *g, ig_opcode op, int in)
{
    ig_node nd = node_of(op, 1, &in);
    return ig_add(g, &nd);
}

int ig_binary(ig_graph *g, ig_opcode op, int a, int b)
{
    int ins[] = {a, b};
    ig_node nd = node_of(op, 2, ins);
    return ig_add(g, &nd);
}

static int pool(ig_graph *g, int op, int in, int k, int stride, int pad, int ceil_mode,
                int count_include_pad)
{
    ig_node nd = node_of(op, 1, &in);
    int a[] = {k, k, stride, stride, pad, pad, ceil_mode, count_include_pad};
    memcpy(nd.attr, a, sizeof a);
    return ig_add(g, &nd);
}

int ig_maxpool(ig_graph *g, int in, int k, int stride, int pad, int ceil_mode)
{
    return pool(g, IG_OP_MAXPOOL, in, k, stride, pad, ceil_mode, 0);
}

int ig_avgpool(ig_graph *g, int in, int k, int stride, int pad, int ceil_mode,
               int count_include_pad)
{
    return pool(g, IG_OP_AVGPOOL, in, k, stride, pad, ceil_mode, count_include_pad);
}

int ig_global_avgpool(ig_graph *g, int in) { return ig_unary(g, IG_OP_GLOBAL_AVGPOOL, in); }

int ig_concat(ig_graph *g, const int *ins, int count)
{
    if (count > IG_MAX_IN)
        PL_FAIL(PL_ERR_SHAPE, "node %d (concat): at most %d inputs, got %d", g->n_nodes,
                IG_MAX_IN, count);
    ig_node nd = node_of(IG_OP_CONCAT, count, ins);
    return ig_add(g, &nd);
}

int ig_split(ig_graph *g, int in, int offset, int count)
{
    ig_node nd = node_of(IG_OP_SPLIT, 1, &in);
    nd.attr[0] = offset;
    nd.attr[1] = count;
    return ig_add(g, &nd);
}

int ig_channel_shuffle(ig_graph *g, int in, int groups)
{
    ig_node nd = node_of(IG_OP_CHANNEL_SHUFFLE, 1, &in);
    nd.attr[0] = groups;
    return ig_add(g, &nd);
}

int ig_dropout(ig_graph *g, int in, float p)
{
    ig_node nd = node_of(IG_OP_DROPOUT, 1, &in);
    nd.fattr[0] = p;
    return ig_add(g, &nd);
}

int ig_flatten(ig_graph *g, int in) { return ig_unary(g, IG_OP_FLATTEN, in); }

int ig_softmax_xent(ig_graph *g, int logits) { return ig_unary(g, IG_OP_SOFTMAX_XENT, logits); }
