/* gen_splice.c: a model with one operator replaced by a candidate (see
 * gen.h). The candidate's instructions are emitted where the operator's
 * output node stood: every boundary input precedes some operator node,
 * hence the output, and every consumer of the output follows it, so the
 * new graph stays in topological order. */
#include "gen.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <string.h>

/* Copies node src of from (its parameter tensors and batch-norm state) to
 * node dst of to; both were built from the same instruction. */
static void copy_node_weights(const ig_graph *from, int src, ig_graph *to, int dst)
{
    const ig_node *a = &from->nodes[src], *b = &to->nodes[dst];
    PL_ASSERT(a->op == b->op && a->n_params == b->n_params);
    for (int k = 0; k < a->n_params; k++) {
        const ig_param *pa = &from->params[a->param_first + k], *pb = &to->params[b->param_first + k];
        PL_ASSERT(pa->count == pb->count);
        memcpy(to->param + pb->offset, from->param + pa->offset, pa->count * sizeof(float));
    }
    if (a->op == IG_OP_BATCHNORM)
        memcpy(to->state + b->state_off, from->state + a->state_off,
               2 * (size_t)a->shape.c * sizeof(float));
}

/* Adds node spec to g as a member of operator id (-1: none). */
static int add_in_operator(ig_graph *g, const ig_node *spec, int id)
{
    if (id >= 0) PL_TRY(ig_operator_reopen(g, id));
    int index = ig_add(g, spec);
    if (id >= 0) ig_operator_end(g);
    return index;
}

static int emit(const ig_graph *model, const gen_operator *op, const gen_dag *d, ig_graph *g,
                int *map, int *cmap)
{
    for (int q = 0; q < model->n_operators; q++) {
        PL_TRY(ig_operator_begin(g, model->operators[q].name));
        ig_operator_end(g);
    }
    int id = op->operator_id;
    for (int i = 0; i < model->n_nodes; i++) {
        const ig_node *nd = &model->nodes[i];
        map[i] = -1;
        if (nd->operator_id == id && i != op->model_output) continue;
        if (i == op->model_output) {
            for (int j = 0; j < d->n_inputs; j++) cmap[j] = map[op->model_inputs[j]];
            for (int j = d->n_inputs; j < d->n_nodes; j++) {
                ig_node spec = d->nodes[j];
                for (int k = 0; k < spec.n_in; k++) spec.in[k] = cmap[spec.in[k]];
                cmap[j] = add_in_operator(g, &spec, id);
                PL_TRY(cmap[j]);
            }
            map[i] = cmap[d->output];
            continue;
        }
        ig_node spec = *nd;
        for (int k = 0; k < nd->n_in; k++) {
            spec.in[k] = map[nd->in[k]];
            PL_ASSERT(spec.in[k] >= 0);
        }
        if (nd->op == IG_OP_INPUT) spec.attr[3] = 0;
        map[i] = add_in_operator(g, &spec, nd->operator_id);
        PL_TRY(map[i]);
    }
    return PL_OK;
}

int gen_splice(const ig_graph *model, const gen_operator *op, const gen_dag *d,
               const ig_graph *cg, ig_graph **out, int *map)
{
    *out = NULL;
    PL_ASSERT(cg->n_nodes == d->n_nodes);
    for (int j = 0; j < op->boundary.n_inputs; j++)
        PL_ASSERT(op->model_inputs[j] >= 0 && op->model_inputs[j] < model->n_nodes);
    ig_graph *g = ig_graph_alloc();
    int cmap[GEN_MAX_NODES];
    int rc = emit(model, op, d, g, map, cmap);
    if (rc == PL_OK) rc = ig_graph_finalize(g);
    if (rc < 0) {
        ig_graph_free(g);
        return rc;
    }
    for (int i = 0; i < model->n_nodes; i++)
        if (map[i] >= 0 && model->nodes[i].operator_id != op->operator_id)
            copy_node_weights(model, i, g, map[i]);
    for (int j = d->n_inputs; j < d->n_nodes; j++) copy_node_weights(cg, j, g, cmap[j]);
    g->dropout_seed = model->dropout_seed;
    *out = g;
    return PL_OK;
}
