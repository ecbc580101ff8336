/* gen_extract.c: an operator of a trained model as a standalone candidate
 * (its nodes, boundary and weights), and the values crossing its boundary
 * when the model runs on real images. */
#include "gen.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <stdio.h>
#include <string.h>

static int extract_nodes(const ig_graph *model, int id, gen_operator *op)
{
    int *in_nodes = pl_xmalloc((size_t)model->n_nodes * sizeof(int));
    int *out_nodes = pl_xmalloc((size_t)model->n_nodes * sizeof(int));
    int n_in = 0, n_out = 0;
    ig_operator_boundary(model, id, in_nodes, &n_in, out_nodes, &n_out);
    int rc = PL_OK;
    if (n_out != 1)
        rc = pl_error(PL_ERR_INVAL, __FILE__, __LINE__, "operator %s: %d outputs (a candidate "
                      "has exactly one)", op->name, n_out);
    else if (n_in < 1 || n_in > GEN_MAX_INPUTS)
        rc = pl_error(PL_ERR_INVAL, __FILE__, __LINE__, "operator %s: %d inputs (a candidate "
                      "has 1 to %d)", op->name, n_in, GEN_MAX_INPUTS);
    if (rc < 0) {
        pl_free(in_nodes);
        pl_free(out_nodes);
        return rc;
    }
    op->boundary.n_inputs = n_in;
    for (int i = 0; i < n_in; i++) {
        op->boundary.inputs[i] = model->nodes[in_nodes[i]].shape;
        op->model_inputs[i] = in_nodes[i];
    }
    op->model_output = out_nodes[0];
    op->boundary.output = model->nodes[out_nodes[0]].shape;
    gen_dag_init(&op->dag, &op->boundary);

    /* Model node -> candidate node; boundary inputs first. */
    int *map = pl_xmalloc((size_t)model->n_nodes * sizeof(int));
    for (int i = 0; i < model->n_nodes; i++) map[i] = -1;
    for (int i = 0; i < n_in; i++) map[in_nodes[i]] = i;
    for (int i = 0; i < model->n_nodes && rc == PL_OK; i++) {
        const ig_node *nd = &model->nodes[i];
        if (nd->operator_id != id) continue;
        if (nd->op == IG_OP_SOFTMAX_XENT || nd->op == IG_OP_INPUT) {
            rc = pl_error(PL_ERR_INVAL, __FILE__, __LINE__, "operator %s: node %d (%s) cannot "
                          "be part of a candidate", op->name, i, ig_opcode_name(nd->op));
            break;
        }
        ig_node spec = *nd;
        for (int k = 0; k < nd->n_in; k++) spec.in[k] = map[nd->in[k]];
        map[i] = gen_dag_append(&op->dag, &spec);
        if (map[i] < 0)
            rc = pl_error(PL_ERR_INVAL, __FILE__, __LINE__, "operator %s: more than %d nodes",
                          op->name, GEN_MAX_NODES);
    }
    if (rc == PL_OK) op->dag.output = map[out_nodes[0]];
    pl_free(map);
    pl_free(in_nodes);
    pl_free(out_nodes);
    return rc;
}

/* Copies the model's tensors of the operator into the candidate graph c:
 * the k-th parameterised node of the operator is the k-th of c. */
static void copy_weights(const ig_graph *model, int id, ig_graph *c)
{
    int next = 0; /* candidate node scan position */
    for (int i = 0; i < model->n_nodes; i++) {
        const ig_node *nd = &model->nodes[i];
        if (nd->operator_id != id) continue;
        while (next < c->n_nodes && c->nodes[next].op == IG_OP_INPUT) next++;
        PL_ASSERT(next < c->n_nodes && c->nodes[next].op == nd->op);
        const ig_node *cn = &c->nodes[next++];
        PL_ASSERT(cn->n_params == nd->n_params);
        for (int k = 0; k < nd->n_params; k++) {
            const ig_param *src = &model->params[nd->param_first + k];
            const ig_param *dst = &c->params[cn->param_first + k];
            PL_ASSERT(src->count == dst->count);
            memcpy(c->param + dst->offset, model->param + src->offset, src->count * sizeof(float));
        }
        if (nd->op == IG_OP_BATCHNORM)
            memcpy(c->state + cn->state_off, model->state + nd->state_off,
                   2 * (size_t)nd->shape.c * sizeof(float));
    }
}

int gen_extract(const ig_graph *model, int id, gen_operator *out)
{
    memset(out, 0, sizeof *out);
    PL_ASSERT(model->finalized && id >= 0 && id < model->n_operators);
    snprintf(out->name, sizeof out->name, "%s", model->operators[id].name);
    out->operator_id = id;
    PL_TRY(extract_nodes(model, id, out));
    ig_graph *c = NULL;
    int rc = gen_dag_build(&out->dag, &out->boundary, &c);
    if (rc < 0) return rc; /* cannot happen for a valid model; reported */
    copy_weights(model, id, c);
    out->param_size = c->param_size;
    out->state_size = c->state_size;
    out->param = pl_xmalloc((c->param_size + 1) * sizeof(float));
    out->state = pl_xmalloc((c->state_size + 1) * sizeof(float));
    memcpy(out->param, c->param, c->param_size * sizeof(float));
    memcpy(out->state, c->state, c->state_size * sizeof(float));
    ig_graph_free(c);
    return PL_OK;
}

void gen_operator_free(gen_operator *op)
{
    if (!op) return;
    pl_free(op->param);
    pl_free(op->state);
    memset(op, 0, sizeof *op);
}

void gen_operator_load_weights(const gen_operator *op, ig_graph *g)
{
    PL_ASSERT(g->param_size == op->param_size && g->state_size == op->state_size);
    memcpy(g->param, op->param, op->param_size * sizeof(float));
    memcpy(g->state, op->state, op->state_size * sizeof(float));
}

/* ---- boundary activations ------------------------------------------------ */

static size_t shape_size(const ig_shape *s) { return (size_t)s->c * s->h * s->w; }

int gen_capture(ig_graph *model, int input_node, const float *images, int n, int batch,
                const gen_operator *ops, int n_ops, gen_activations *out)
{
    memset(out, 0, sizeof *out);
    PL_ASSERT(n >= 1 && batch >= 1 && n_ops >= 0);
    PL_TRY(ig_graph_plan_inference(model, batch));
    out->n = n;
    out->n_ops = n_ops;
    out->inputs = pl_xcalloc((size_t)n_ops * GEN_MAX_INPUTS + 1, sizeof *out->inputs);
    out->outputs = pl_xcalloc((size_t)n_ops + 1, sizeof *out->outputs);
    for (int k = 0; k < n_ops; k++) {
        for (int i = 0; i < ops[k].boundary.n_inputs; i++)
            out->inputs[k * GEN_MAX_INPUTS + i] =
                pl_xmalloc((size_t)n * shape_size(&ops[k].boundary.inputs[i]) * sizeof(float));
        out->outputs[k] = pl_xmalloc((size_t)n * shape_size(&ops[k].boundary.output) *
                                     sizeof(float));
    }
    size_t in_size = shape_size(&model->nodes[input_node].shape);
    /* The model has no labels here: run every node but the loss. */
    int *nodes = pl_xmalloc((size_t)model->n_nodes * sizeof(int));
    int count = 0;
    for (int i = 0; i < model->n_nodes; i++)
        if (model->nodes[i].op != IG_OP_INPUT && model->nodes[i].op != IG_OP_SOFTMAX_XENT)
            nodes[count++] = i;
    for (int start = 0; start < n; start += batch) {
        int b = n - start < batch ? n - start : batch;
        memcpy(ig_value(model, input_node), images + (size_t)start * in_size,
               (size_t)b * in_size * sizeof(float));
        for (int j = 0; j < count; j++) ig_forward_node(model, nodes[j]);
        for (int k = 0; k < n_ops; k++) {
            for (int i = 0; i < ops[k].boundary.n_inputs; i++) {
                size_t sz = shape_size(&ops[k].boundary.inputs[i]);
                memcpy(out->inputs[k * GEN_MAX_INPUTS + i] + (size_t)start * sz,
                       ig_value(model, ops[k].model_inputs[i]), (size_t)b * sz * sizeof(float));
            }
            size_t sz = shape_size(&ops[k].boundary.output);
            memcpy(out->outputs[k] + (size_t)start * sz, ig_value(model, ops[k].model_output),
                   (size_t)b * sz * sizeof(float));
        }
    }
    pl_free(nodes);
    return PL_OK;
}

void gen_activations_free(gen_activations *a)
{
    if (!a) return;
    for (int k = 0; a->inputs && k < a->n_ops * GEN_MAX_INPUTS; k++) pl_free(a->inputs[k]);
    for (int k = 0; a->outputs && k < a->n_ops; k++) pl_free(a->outputs[k]);
    pl_free(a->inputs);
    pl_free(a->outputs);
    memset(a, 0, sizeof *a);
}
