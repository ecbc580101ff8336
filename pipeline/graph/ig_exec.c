/* ig_exec.c: running an instruction graph: forward in topological order,
 * reverse-mode backward over the whole graph, gradient zeroing and modes.
 * Nothing here allocates: every buffer was sized by ig_graph_plan. */
#include "ig.h"
#include "ig_ops.h"

#include <string.h>

/* Batch statistics need more than one value per channel. */
static int check_batch_statistics(const ig_graph *g, int batch)
{
    for (int i = 0; i < g->n_nodes; i++) {
        const ig_node *nd = &g->nodes[i];
        if (nd->op == IG_OP_BATCHNORM && (long)batch * nd->shape.h * nd->shape.w <= 1)
            PL_FAIL(PL_ERR_SHAPE, "node %d (batchnorm): training needs more than one value per "
                    "channel (batch %d, %dx%d)", i, batch, nd->shape.h, nd->shape.w);
    }
    return PL_OK;
}

int ig_set_training(ig_graph *g, int training)
{
    if (training && g->batch > 0) PL_TRY(check_batch_statistics(g, g->batch));
    g->training = training != 0;
    return PL_OK;
}

int ig_check_training_batch(const ig_graph *g, int batch)
{
    return g->training ? check_batch_statistics(g, batch) : PL_OK;
}

float *ig_value(const ig_graph *g, int node)
{
    PL_ASSERT(g->batch > 0 && node >= 0 && node < g->n_nodes);
    return g->act + g->nodes[node].act_off;
}

float *ig_gradient(const ig_graph *g, int node)
{
    PL_ASSERT(g->batch > 0 && g->grads_planned && node >= 0 && node < g->n_nodes);
    return g->dact + g->nodes[node].act_off;
}

void ig_forward(ig_graph *g, const int32_t *labels)
{
    PL_ASSERT(g->batch > 0);
    if (labels) memcpy(g->labels, labels, (size_t)g->batch * sizeof *labels);
    for (int i = 0; i < g->n_nodes; i++) {
        const ig_node *nd = &g->nodes[i];
        const ig_op_def *def = IG_OP_TABLE[nd->op];
        if (def->forward) def->forward(g, nd);
    }
    if (g->training) g->step++;
}

void ig_forward_node(ig_graph *g, int node)
{
    PL_ASSERT(g->batch > 0 && node >= 0 && node < g->n_nodes);
    const ig_node *nd = &g->nodes[node];
    const ig_op_def *def = IG_OP_TABLE[nd->op];
    if (def->forward) def->forward(g, nd);
}

void ig_zero_grad(ig_graph *g) { memset(g->grad, 0, g->param_size * sizeof(float)); }

static size_t grad_floats(const ig_graph *g, const ig_node *nd)
{
    return (size_t)g->batch * ig_shape_size(&nd->shape);
}

/* Zeroes every activation gradient before a pass. The whole slab after a
 * plan; after a backward pass, which zeroed each gradient it consumed, only
 * those it left: the nodes without a backward that take gradients (input
 * nodes that asked for one) and the node last seeded. */
static void clear_gradients(ig_graph *g)
{
    if (!g->dact_clean) {
        memset(g->dact, 0, g->act_size * sizeof(float));
        return;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const ig_node *nd = &g->nodes[i];
        if ((nd->needs_grad && !IG_OP_TABLE[nd->op]->backward) || i == g->dact_seeded)
            memset(g->dact + nd->act_off, 0, grad_floats(g, nd) * sizeof(float));
    }
}

void ig_seed_gradient(ig_graph *g, int node, const float *dout)
{
    PL_ASSERT(g->batch > 0 && g->grads_planned && node >= 0 && node < g->n_nodes);
    clear_gradients(g);
    const ig_node *nd = &g->nodes[node];
    memcpy(g->dact + nd->act_off, dout, grad_floats(g, nd) * sizeof(float));
    g->dact_seeded = node;
}

void ig_backward(ig_graph *g, int seed_node)
{
    PL_ASSERT(g->batch > 0 && g->grads_planned && seed_node >= 0 && seed_node < g->n_nodes);
    const ig_node *seed = &g->nodes[seed_node];
    if (seed->op == IG_OP_SOFTMAX_XENT) {
        clear_gradients(g);
        g->dact[seed->act_off] = 1.0f;
        g->dact_seeded = seed_node;
    }
    for (int i = seed_node; i >= 0; i--) {
        const ig_node *nd = &g->nodes[i];
        const ig_op_def *def = IG_OP_TABLE[nd->op];
        if (!nd->needs_grad || !def->backward) continue;
        def->backward(g, nd);
        memset(g->dact + nd->act_off, 0, grad_floats(g, nd) * sizeof(float)); /* consumed */
    }
    g->dact_clean = 1;
}
