/* gen_dag.c: candidate DAGs: creation, building into an instruction graph
 * (which validates every shape), and pruning of dead nodes. */
#include "gen.h"
#include "pl_err.h"

#include <string.h>

void gen_dag_init(gen_dag *d, const gen_boundary *b)
{
    PL_ASSERT(b->n_inputs >= 1 && b->n_inputs <= GEN_MAX_INPUTS);
    memset(d, 0, sizeof *d);
    d->n_inputs = b->n_inputs;
    d->n_nodes = b->n_inputs;
    d->output = -1;
    for (int i = 0; i < b->n_inputs; i++) {
        ig_node *nd = &d->nodes[i];
        nd->op = IG_OP_INPUT;
        nd->attr[0] = b->inputs[i].c;
        nd->attr[1] = b->inputs[i].h;
        nd->attr[2] = b->inputs[i].w;
        nd->operator_id = -1;
    }
}

int gen_dag_append(gen_dag *d, const ig_node *spec)
{
    if (d->n_nodes >= GEN_MAX_NODES) return -1;
    PL_ASSERT(spec->n_in >= 0 && spec->n_in <= IG_MAX_IN);
    for (int k = 0; k < spec->n_in; k++) PL_ASSERT(spec->in[k] >= 0 && spec->in[k] < d->n_nodes);
    ig_node *nd = &d->nodes[d->n_nodes];
    memset(nd, 0, sizeof *nd);
    nd->op = spec->op;
    nd->n_in = spec->n_in;
    memcpy(nd->in, spec->in, sizeof nd->in);
    memcpy(nd->attr, spec->attr, sizeof nd->attr);
    memcpy(nd->fattr, spec->fattr, sizeof nd->fattr);
    nd->operator_id = -1;
    return d->n_nodes++;
}

static int build(const gen_dag *d, const gen_boundary *b, ig_graph **out)
{
    *out = NULL;
    if (d->output < d->n_inputs || d->output >= d->n_nodes)
        PL_FAIL(PL_ERR_SHAPE, "candidate: output node %d is not an instruction", d->output);
    ig_graph *g = ig_graph_alloc();
    for (int i = 0; i < d->n_nodes; i++) {
        int rc = ig_add(g, &d->nodes[i]);
        if (rc < 0) {
            ig_graph_free(g);
            return rc;
        }
    }
    const ig_shape s = g->nodes[d->output].shape;
    if (s.c != b->output.c || s.h != b->output.h || s.w != b->output.w) {
        ig_graph_free(g);
        PL_FAIL(PL_ERR_SHAPE, "candidate: output (%d,%d,%d), the operator's is (%d,%d,%d)", s.c,
                s.h, s.w, b->output.c, b->output.h, b->output.w);
    }
    *out = g;
    return PL_OK;
}

int gen_dag_build(const gen_dag *d, const gen_boundary *b, ig_graph **out)
{
    PL_TRY(build(d, b, out));
    int rc = ig_graph_finalize(*out);
    if (rc < 0) {
        ig_graph_free(*out);
        *out = NULL;
    }
    return rc;
}

int gen_dag_valid(const gen_dag *d, const gen_boundary *b)
{
    ig_graph *g = NULL;
    int ok = build(d, b, &g) == PL_OK;
    ig_graph_free(g);
    return ok;
}

void gen_dag_prune(gen_dag *d)
{
    if (d->output < 0) return;
    uint8_t live[GEN_MAX_NODES] = {0};
    live[d->output] = 1;
    for (int i = d->n_nodes - 1; i >= d->n_inputs; i--)
        if (live[i])
            for (int k = 0; k < d->nodes[i].n_in; k++) live[d->nodes[i].in[k]] = 1;
    int remap[GEN_MAX_NODES];
    int n = 0;
    for (int i = 0; i < d->n_nodes; i++) {
        if (i >= d->n_inputs && !live[i]) {
            remap[i] = -1;
            continue;
        }
        remap[i] = n;
        if (n != i) d->nodes[n] = d->nodes[i];
        for (int k = 0; k < d->nodes[n].n_in; k++) d->nodes[n].in[k] = remap[d->nodes[n].in[k]];
        n++;
    }
    d->output = remap[d->output];
    d->n_nodes = n;
}
