/* ig_op_loss.c: op-table entry for the softmax cross-entropy loss. Its input
 * is (K,1,1) logits; its output is the batch-mean loss, stored in the first
 * element of its (N,1,1,1) output buffer and in g->loss; labels come from
 * ig_forward. Saved data: the softmax probabilities (N, K). */
#include "ig_ops.h"
#include "nn_loss.h"

static int xent_infer(const ig_graph *g, const ig_node *nd, ig_shape *out)
{
    const ig_shape *in = ig_in_shape(g, nd, 0);
    if (in->h != 1 || in->w != 1 || in->c < 2)
        PL_FAIL(PL_ERR_SHAPE, "needs (K,1,1) logits with K >= 2, got (%d,%d,%d)", in->c, in->h,
                in->w);
    *out = (ig_shape){1, 1, 1};
    return PL_OK;
}

static size_t xent_aux(const ig_graph *g, const ig_node *nd, int N)
{
    return (size_t)N * (size_t)ig_in_shape(g, nd, 0)->c;
}

static void xent_forward(ig_graph *g, const ig_node *nd)
{
    int K = ig_in_shape(g, nd, 0)->c;
    float loss = nn_softmax_xent_forward(ig_aux(g, nd), ig_in_value(g, nd, 0), g->labels,
                                         g->batch, K);
    float *out = ig_out_value(g, nd);
    for (int n = 0; n < g->batch; n++) out[n] = n == 0 ? loss : 0.0f;
    g->loss = loss;
}

static void xent_backward(ig_graph *g, const ig_node *nd)
{
    float *dlogits = ig_in_grad(g, nd, 0);
    if (!dlogits) return;
    nn_softmax_xent_backward(dlogits, ig_aux(g, nd), g->labels, g->batch,
                             ig_in_shape(g, nd, 0)->c, ig_out_grad(g, nd)[0]);
}

static double xent_flops(const ig_graph *g, const ig_node *nd)
{
    return 5.0 * ig_in_shape(g, nd, 0)->c;
}

const ig_op_def ig_op_softmax_xent = {.name = "softmax_xent", .min_in = 1, .max_in = 1,
                                      .infer = xent_infer, .aux_floats = xent_aux,
                                      .forward = xent_forward, .backward = xent_backward,
                                      .flops = xent_flops};
