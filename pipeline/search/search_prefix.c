/* search_prefix.c: the model's values at the cut before a step's target
 * operator, over the validation images, computed once per step.
 *
 * gen_splice keeps every node before the operator's first node at its index
 * (see gen_splice.c), so in every candidate's spliced model the nodes below
 * the cut compute what they compute in the current model. Evaluating a
 * candidate's accuracy then copies the values of the few nodes below the cut
 * that later nodes read ("live" nodes) and runs only the nodes from the cut
 * on, instead of the whole model. The prefix is run with the batches
 * search_accuracy uses (64 images from the first), so the accuracy equals a
 * whole-model pass exactly. */
#include "search_internal.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <string.h>

void search_prefix_free(search_prefix *p)
{
    for (int k = 0; k < p->n_live; k++) pl_free(p->values[k]);
    pl_free(p->values);
    pl_free(p->live);
    pl_free(p->size);
    memset(p, 0, sizeof *p);
}

/* Floats of node i's value per image. */
static size_t node_floats(const ig_graph *g, int i)
{
    const ig_shape *s = &g->nodes[i].shape;
    return (size_t)s->c * s->h * s->w;
}

/* The first node of operator id in model order (n_nodes when it has none). */
static int operator_first_node(const ig_graph *g, int id)
{
    for (int i = 0; i < g->n_nodes; i++)
        if (g->nodes[i].operator_id == id) return i;
    return g->n_nodes;
}

int search_prefix_build(ig_graph *model, int input_node, int logits_node, int operator_id,
                        const float *images, int n, size_t max_bytes, search_prefix *p)
{
    memset(p, 0, sizeof *p);
    const int cut = operator_first_node(model, operator_id);
    if (cut > logits_node || n < 1) return PL_OK; /* nothing to skip: cut 0 */
    /* live: nodes below the cut that a node from the cut on reads */
    char *is_live = pl_xcalloc((size_t)cut + 1, 1);
    for (int i = cut; i < model->n_nodes; i++)
        for (int k = 0; k < model->nodes[i].n_in; k++)
            if (model->nodes[i].in[k] < cut) is_live[model->nodes[i].in[k]] = 1;
    size_t bytes = 0;
    int n_live = 0;
    for (int i = 0; i < cut; i++)
        if (is_live[i]) {
            n_live++;
            bytes += (size_t)n * node_floats(model, i) * sizeof(float);
        }
    if (bytes > max_bytes) { /* too big to hold: candidates run whole */
        pl_free(is_live);
        return PL_OK;
    }
    p->live = pl_xmalloc((size_t)n_live * sizeof *p->live);
    p->size = pl_xmalloc((size_t)n_live * sizeof *p->size);
    p->values = pl_xcalloc((size_t)n_live, sizeof *p->values);
    for (int i = 0; i < cut; i++)
        if (is_live[i]) {
            p->live[p->n_live] = i;
            p->size[p->n_live] = node_floats(model, i);
            p->values[p->n_live] = pl_xmalloc((size_t)n * p->size[p->n_live] * sizeof(float));
            p->n_live++;
        }
    pl_free(is_live);
    const int batch = n < SEARCH_EVAL_BATCH ? n : SEARCH_EVAL_BATCH;
    int rc = ig_graph_plan_inference(model, batch);
    if (rc < 0) {
        search_prefix_free(p);
        return rc;
    }
    const size_t in_size = node_floats(model, input_node);
    for (int start = 0; start < n; start += batch) {
        const int b = n - start < batch ? n - start : batch;
        memcpy(ig_value(model, input_node), images + (size_t)start * in_size,
               (size_t)b * in_size * sizeof(float));
        for (int i = 0; i < cut; i++)
            if (model->nodes[i].op != IG_OP_INPUT) ig_forward_node(model, i);
        for (int k = 0; k < p->n_live; k++)
            memcpy(p->values[k] + (size_t)start * p->size[k], ig_value(model, p->live[k]),
                   (size_t)b * p->size[k] * sizeof(float));
    }
    p->cut = cut;
    p->n = n;
    return PL_OK;
}

void search_prefix_load(ig_graph *g, const search_prefix *p, int start, int count)
{
    for (int k = 0; k < p->n_live; k++)
        memcpy(ig_value(g, p->live[k]), p->values[k] + (size_t)start * p->size[k],
               (size_t)count * p->size[k] * sizeof(float));
}
