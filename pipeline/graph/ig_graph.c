/* ig_graph.c: building an instruction graph (validate-once shape inference),
 * its named operators, and laying out the parameter and state slabs. */
#include "ig.h"
#include "ig_ops.h"
#include "pl_mem.h"

#include <gsl/gsl_rng.h>
#include <math.h>
#include <string.h>

ig_graph *ig_graph_alloc(void)
{
    ig_graph *g = pl_xcalloc(1, sizeof *g);
    g->open_operator = -1;
    return g;
}

void ig_graph_free(ig_graph *g)
{
    if (!g) return;
    pl_free(g->nodes);
    pl_free(g->operators);
    pl_free(g->params);
    pl_free(g->param);
    pl_free(g->grad);
    pl_free(g->state);
    pl_free(g->act);
    pl_free(g->dact);
    pl_free(g->aux);
    pl_free(g->work);
    pl_free(g->labels);
    pl_free(g);
}

/* Grows an array of elements of size elem to hold at least need of them. */
static void *grow(void *array, int *cap, int need, size_t elem)
{
    if (need <= *cap) return array;
    int new_cap = *cap ? *cap * 2 : 16;
    while (new_cap < need) new_cap *= 2;
    void *bigger = pl_xmalloc((size_t)new_cap * elem);
    if (array) memcpy(bigger, array, (size_t)*cap * elem);
    pl_free(array);
    *cap = new_cap;
    return bigger;
}

int ig_add(ig_graph *g, const ig_node *spec)
{
    int index = g->n_nodes;
    if (g->finalized) PL_FAIL(PL_ERR_INVAL, "node %d: graph is finalized", index);
    if (spec->op < 0 || spec->op >= IG_OP_COUNT)
        PL_FAIL(PL_ERR_INVAL, "node %d: unknown opcode %d", index, spec->op);
    const ig_op_def *def = IG_OP_TABLE[spec->op];
    if (spec->n_in < def->min_in || spec->n_in > def->max_in)
        PL_FAIL(PL_ERR_SHAPE, "node %d (%s): takes %d..%d inputs, got %d", index, def->name,
                def->min_in, def->max_in, spec->n_in);
    for (int k = 0; k < spec->n_in; k++) {
        if (spec->in[k] < 0 || spec->in[k] >= index)
            PL_FAIL(PL_ERR_SHAPE, "node %d (%s): input %d refers to node %d, not an earlier node",
                    index, def->name, k, spec->in[k]);
        if (g->nodes[spec->in[k]].op == IG_OP_SOFTMAX_XENT)
            PL_FAIL(PL_ERR_SHAPE, "node %d (%s): input %d is a loss node", index, def->name, k);
    }
    ig_node nd = *spec;
    nd.operator_id = g->open_operator;
    nd.param_first = 0;
    nd.n_params = 0;
    nd.state_off = nd.act_off = nd.aux_off = 0;
    nd.needs_grad = 0;
    int rc = def->infer(g, &nd, &nd.shape);
    if (rc < 0) {
        char why[512];
        snprintf(why, sizeof why, "%s", pl_last_error());
        PL_FAIL(rc, "node %d (%s): %s", index, def->name, why);
    }
    if (nd.shape.c <= 0 || nd.shape.h <= 0 || nd.shape.w <= 0)
        PL_FAIL(PL_ERR_SHAPE, "node %d (%s): empty output shape (%d,%d,%d)", index, def->name,
                nd.shape.c, nd.shape.h, nd.shape.w);
    g->nodes = grow(g->nodes, &g->cap_nodes, index + 1, sizeof *g->nodes);
    g->nodes[index] = nd;
    g->n_nodes++;
    return index;
}

int ig_operator_begin(ig_graph *g, const char *name)
{
    if (g->open_operator >= 0)
        PL_FAIL(PL_ERR_INVAL, "operator '%s': operator '%s' is still open", name,
                g->operators[g->open_operator].name);
    if (strlen(name) >= IG_NAME_LEN)
        PL_FAIL(PL_ERR_INVAL, "operator '%s': name longer than %d characters", name,
                IG_NAME_LEN - 1);
    if (ig_operator_find(g, name) >= 0)
        PL_FAIL(PL_ERR_INVAL, "operator '%s': duplicate name", name);
    g->operators = grow(g->operators, &g->cap_operators, g->n_operators + 1,
                        sizeof *g->operators);
    snprintf(g->operators[g->n_operators].name, IG_NAME_LEN, "%s", name);
    g->open_operator = g->n_operators;
    return g->n_operators++;
}

void ig_operator_end(ig_graph *g) { g->open_operator = -1; }

int ig_operator_reopen(ig_graph *g, int id)
{
    PL_ASSERT(id >= 0 && id < g->n_operators);
    if (g->open_operator >= 0)
        PL_FAIL(PL_ERR_INVAL, "operator '%s': operator '%s' is still open",
                g->operators[id].name, g->operators[g->open_operator].name);
    g->open_operator = id;
    return id;
}

int ig_operator_find(const ig_graph *g, const char *name)
{
    for (int i = 0; i < g->n_operators; i++)
        if (strcmp(g->operators[i].name, name) == 0) return i;
    return -1;
}

/* ---- finalize: parameter and state slabs ------------------------------ */

static const char *param_kind_name(int kind)
{
    switch (kind) {
    case IG_PARAM_WEIGHT:   return "weight";
    case IG_PARAM_BIAS:     return "bias";
    case IG_PARAM_GAMMA: return "gamma";
    case IG_PARAM_BETA:  return "beta";
    default:                return "param";
    }
}

int ig_graph_finalize(ig_graph *g)
{
    if (g->finalized) return PL_OK;
    if (g->n_nodes == 0) PL_FAIL(PL_ERR_INVAL, "graph has no nodes");
    if (g->open_operator >= 0)
        PL_FAIL(PL_ERR_INVAL, "operator '%s' was never ended", g->operators[g->open_operator].name);
    int n_params = 0, cap_params = 0;
    ig_param *params = NULL;
    size_t param_size = 0, state_size = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        ig_node *nd = &g->nodes[i];
        const ig_op_def *def = IG_OP_TABLE[nd->op];
        ig_param specs[2];
        memset(specs, 0, sizeof specs);
        int count = def->params ? def->params(g, nd, specs) : 0;
        params = grow(params, &cap_params, n_params + count, sizeof *params);
        nd->param_first = n_params;
        nd->n_params = count;
        for (int k = 0; k < count; k++) {
            ig_param *p = &params[n_params++];
            *p = specs[k];
            p->node = i;
            /* Round each tensor to 16 floats so every view is 64-byte aligned. */
            p->offset = param_size;
            param_size += (p->count + 15) / 16 * 16;
            snprintf(p->name, IG_NAME_LEN, "%d.%s.%s", i, ig_opcode_name(nd->op),
                     param_kind_name(p->kind));
        }
        nd->state_off = state_size;
        state_size += def->state_floats ? def->state_floats(g, nd) : 0;
        /* A gradient flows out of a node when it has parameters or any input
         * has one; input nodes need one only when asked (attr[3]). */
        int needs = count > 0 || (nd->op == IG_OP_INPUT && nd->attr[3]);
        for (int k = 0; k < nd->n_in; k++) needs |= g->nodes[nd->in[k]].needs_grad;
        nd->needs_grad = (uint8_t)needs;
    }
    g->params = params;
    g->n_params = n_params;
    g->param_size = param_size;
    g->param = pl_xcalloc(param_size ? param_size : 1, sizeof(float));
    g->grad = pl_xcalloc(param_size ? param_size : 1, sizeof(float));
    g->state_size = state_size;
    g->state = pl_xcalloc(state_size ? state_size : 1, sizeof(float));
    g->finalized = 1;
    return PL_OK;
}

void ig_graph_init_params(ig_graph *g, uint64_t seed)
{
    PL_ASSERT(g->finalized);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, (unsigned long)seed);
    for (int k = 0; k < g->n_params; k++) {
        const ig_param *p = &g->params[k];
        float *v = g->param + p->offset;
        switch (p->kind) {
        case IG_PARAM_GAMMA:
            for (size_t i = 0; i < p->count; i++) v[i] = 1.0f;
            break;
        case IG_PARAM_BETA:
            memset(v, 0, p->count * sizeof *v);
            break;
        default: {
            /* PyTorch: kaiming_uniform(a=sqrt(5)) gives bound 1/sqrt(fan_in),
             * and biases use the same bound. */
            double bound = p->fan_in > 0 ? 1.0 / sqrt((double)p->fan_in) : 0.0;
            for (size_t i = 0; i < p->count; i++)
                v[i] = (float)((2.0 * gsl_rng_uniform(rng) - 1.0) * bound);
        }
        }
    }
    gsl_rng_free(rng);
    /* Batch-norm state: running mean 0, running variance 1 (pairs of C). */
    for (int i = 0; i < g->n_nodes; i++) {
        const ig_node *nd = &g->nodes[i];
        if (nd->op != IG_OP_BATCHNORM) continue;
        int C = nd->shape.c;
        memset(g->state + nd->state_off, 0, (size_t)C * sizeof(float));
        for (int c = 0; c < C; c++) g->state[nd->state_off + (size_t)C + (size_t)c] = 1.0f;
    }
    g->dropout_seed = seed ^ 0x9e3779b97f4a7c15ULL;
}

/* ---- plan: activation, saved-data and workspace slabs ------------------ */

/* Makes *buf hold at least need elements of elem bytes, allocating only to
 * grow; fresh memory is zeroed here, so its pages are touched at plan time
 * and not on the first step. */
static void *ensure(void *buf, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap && buf) return buf;
    pl_free(buf);
    *cap = need;
    return pl_xcalloc(need ? need : 1, elem);
}

static int plan(ig_graph *g, int batch, int grads)
{
    if (!g->finalized) PL_FAIL(PL_ERR_INVAL, "graph must be finalized before planning");
    if (batch <= 0) PL_FAIL(PL_ERR_INVAL, "batch size must be positive (got %d)", batch);
    PL_TRY(ig_check_training_batch(g, batch));
    size_t act = 0, aux = 0, work = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        ig_node *nd = &g->nodes[i];
        const ig_op_def *def = IG_OP_TABLE[nd->op];
        nd->act_off = act;
        act += ((size_t)batch * ig_shape_size(&nd->shape) + 15) / 16 * 16;
        nd->aux_off = aux;
        if (def->aux_floats) aux += (def->aux_floats(g, nd, batch) + 15) / 16 * 16;
        if (def->work_floats) {
            size_t w = def->work_floats(g, nd, batch);
            if (w > work) work = w;
        }
    }
    g->act = ensure(g->act, &g->act_cap, act, sizeof(float));
    if (grads) g->dact = ensure(g->dact, &g->dact_cap, act, sizeof(float));
    g->grads_planned = grads;
    g->dact_clean = 0; /* a new layout: the next pass clears the whole slab */
    g->dact_seeded = -1;
    g->aux = ensure(g->aux, &g->aux_cap, aux, sizeof(float));
    g->work = ensure(g->work, &g->work_cap, work, sizeof(float));
    g->labels = ensure(g->labels, &g->labels_cap, (size_t)batch, sizeof(int32_t));
    g->act_size = act;
    g->aux_size = aux;
    g->work_size = work;
    g->batch = batch;
    return PL_OK;
}

int ig_graph_plan(ig_graph *g, int batch) { return plan(g, batch, 1); }

int ig_graph_plan_inference(ig_graph *g, int batch)
{
    PL_TRY(ig_set_training(g, 0));
    return plan(g, batch, 0);
}

float *ig_graph_work(ig_graph *g, size_t floats)
{
    if (floats > g->work_size) {
        g->work = ensure(g->work, &g->work_cap, floats, sizeof(float));
        g->work_size = floats;
    }
    return g->work;
}

/* ---- inspection ------------------------------------------------------- */

size_t ig_node_param_count(const ig_graph *g, int node)
{
    const ig_node *nd = &g->nodes[node];
    const ig_op_def *def = IG_OP_TABLE[nd->op];
    if (!def->params) return 0;
    ig_param specs[2];
    memset(specs, 0, sizeof specs);
    int count = def->params(g, nd, specs);
    size_t total = 0;
    for (int k = 0; k < count; k++) total += specs[k].count;
    return total;
}

size_t ig_graph_param_count(const ig_graph *g)
{
    size_t total = 0;
    for (int i = 0; i < g->n_nodes; i++) total += ig_node_param_count(g, i);
    return total;
}

double ig_node_flops(const ig_graph *g, int node)
{
    const ig_node *nd = &g->nodes[node];
    const ig_op_def *def = IG_OP_TABLE[nd->op];
    return def->flops ? def->flops(g, nd) : 0.0;
}

double ig_graph_flops(const ig_graph *g)
{
    double total = 0;
    for (int i = 0; i < g->n_nodes; i++) total += ig_node_flops(g, i);
    return total;
}

double ig_node_bytes(const ig_graph *g, int node, int batch)
{
    const ig_node *nd = &g->nodes[node];
    double floats = (double)ig_shape_size(&nd->shape);
    for (int k = 0; k < nd->n_in; k++) floats += (double)ig_shape_size(ig_in_shape(g, nd, k));
    return 4.0 * (floats * batch + (double)ig_node_param_count(g, node));
}

void ig_operator_boundary(const ig_graph *g, int id, int *inputs, int *n_inputs,
                          int *outputs, int *n_outputs)
{
    int n_in = 0, n_out = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const ig_node *nd = &g->nodes[i];
        if (nd->operator_id == id) {
            /* An outside node feeding this operator is an input (once). */
            for (int k = 0; k < nd->n_in; k++) {
                int src = nd->in[k];
                if (g->nodes[src].operator_id == id) continue;
                int seen = 0;
                for (int j = 0; j < n_in; j++) seen |= inputs[j] == src;
                if (!seen) inputs[n_in++] = src;
            }
            /* An inside node read from outside, or by nobody, is an output. */
            int consumed = 0, consumed_outside = 0;
            for (int j = i + 1; j < g->n_nodes; j++)
                for (int k = 0; k < g->nodes[j].n_in; k++)
                    if (g->nodes[j].in[k] == i) {
                        consumed = 1;
                        consumed_outside |= g->nodes[j].operator_id != id;
                    }
            if (consumed_outside || !consumed) outputs[n_out++] = i;
        }
    }
    /* Inputs were gathered in consumer order; report them in node order. */
    for (int a = 1; a < n_in; a++)
        for (int b = a; b > 0 && inputs[b - 1] > inputs[b]; b--) {
            int t = inputs[b];
            inputs[b] = inputs[b - 1];
            inputs[b - 1] = t;
        }
    *n_inputs = n_in;
    *n_outputs = n_out;
}

ig_graph *ig_graph_copy(const ig_graph *g, int add_loss_on, int *loss_node)
{
    PL_ASSERT(g->finalized);
    ig_graph *c = ig_graph_alloc();
    for (int q = 0; q < g->n_operators; q++) {
        PL_ASSERT(ig_operator_begin(c, g->operators[q].name) == q);
        ig_operator_end(c);
    }
    for (int i = 0; i < g->n_nodes; i++) {
        int id = g->nodes[i].operator_id;
        if (id >= 0) ig_operator_reopen(c, id);
        int index = ig_add(c, &g->nodes[i]);
        if (id >= 0) ig_operator_end(c);
        PL_ASSERT(index == i); /* g's nodes were valid */
    }
    if (add_loss_on >= 0) {
        int loss = ig_softmax_xent(c, add_loss_on);
        if (loss < 0) {
            ig_graph_free(c);
            return NULL;
        }
        if (loss_node) *loss_node = loss;
    }
    PL_ASSERT(ig_graph_finalize(c) == PL_OK);
    /* The loss node has no parameters or state: the slabs line up. */
    PL_ASSERT(c->param_size == g->param_size && c->state_size == g->state_size);
    memcpy(c->param, g->param, g->param_size * sizeof(float));
    memcpy(c->state, g->state, g->state_size * sizeof(float));
    c->dropout_seed = g->dropout_seed;
    return c;
}
