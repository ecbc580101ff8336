/* h5io_graph.c: an instruction graph in an artifact group. Nodes are stored
 * by opcode name (so reordering the opcode enum never breaks a file) and
 * rebuilt through ig_add on reading, so every shape is validated again. */
#include "h5io.h"
#include "h5io_internal.h"
#include "ig.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <string.h>

#define PATH_LEN 512

/* buf = group + "/" + name, or fail. */
static int child(char *buf, const char *group, const char *name)
{
    if (h5io_join(buf, PATH_LEN, group, name) < 0)
        PL_FAIL(PL_ERR_INVAL, "%s/%s: path too long", group, name);
    return PL_OK;
}

/* Writes the per-node tables: opcodes, inputs, attrs, fattrs, operator_ids. */
static int write_nodes(h5io_writer *w, const char *group, const ig_graph *g)
{
    size_t n = (size_t)g->n_nodes;
    const char **opcodes = pl_xmalloc(n * sizeof *opcodes);
    int32_t *inputs = pl_xmalloc(n * IG_MAX_IN * sizeof *inputs);
    int32_t *attrs = pl_xmalloc(n * IG_N_ATTR * sizeof *attrs);
    float *fattrs = pl_xmalloc(n * IG_N_FATTR * sizeof *fattrs);
    int32_t *operator_ids = pl_xmalloc(n * sizeof *operator_ids);
    for (size_t i = 0; i < n; i++) {
        const ig_node *nd = &g->nodes[i];
        opcodes[i] = ig_opcode_name(nd->op);
        for (int k = 0; k < IG_MAX_IN; k++)
            inputs[i * IG_MAX_IN + k] = k < nd->n_in ? nd->in[k] : -1;
        memcpy(attrs + i * IG_N_ATTR, nd->attr, sizeof nd->attr);
        memcpy(fattrs + i * IG_N_FATTR, nd->fattr, sizeof nd->fattr);
        operator_ids[i] = nd->operator_id;
    }
    char p[PATH_LEN];
    int64_t rows = (int64_t)n;
    int rc = child(p, group, "opcodes");
    if (rc >= 0) rc = h5io_write_strings(w, p, opcodes, rows);
    if (rc >= 0) rc = child(p, group, "inputs");
    if (rc >= 0) rc = h5io_write_i32(w, p, inputs, 2, (int64_t[]){rows, IG_MAX_IN});
    if (rc >= 0) rc = child(p, group, "attrs");
    if (rc >= 0) rc = h5io_write_i32(w, p, attrs, 2, (int64_t[]){rows, IG_N_ATTR});
    if (rc >= 0) rc = child(p, group, "fattrs");
    if (rc >= 0) rc = h5io_write_f32(w, p, fattrs, 2, (int64_t[]){rows, IG_N_FATTR});
    if (rc >= 0) rc = child(p, group, "operator_ids");
    if (rc >= 0) rc = h5io_write_i32(w, p, operator_ids, 1, &rows);
    pl_free(opcodes);
    pl_free(inputs);
    pl_free(attrs);
    pl_free(fattrs);
    pl_free(operator_ids);
    return rc;
}

/* Writes the parameter tensor table: names, offsets, counts, dims. */
static int write_param_table(h5io_writer *w, const char *group, const ig_graph *g)
{
    size_t n = (size_t)g->n_params;
    const char **names = pl_xmalloc((n ? n : 1) * sizeof *names);
    int64_t *offsets = pl_xmalloc((n ? n : 1) * sizeof *offsets);
    int64_t *counts = pl_xmalloc((n ? n : 1) * sizeof *counts);
    int32_t *dims = pl_xmalloc((n ? n : 1) * 4 * sizeof *dims);
    for (size_t k = 0; k < n; k++) {
        names[k] = g->params[k].name;
        offsets[k] = (int64_t)g->params[k].offset;
        counts[k] = (int64_t)g->params[k].count;
        memcpy(dims + 4 * k, g->params[k].dims, 4 * sizeof *dims);
    }
    char p[PATH_LEN];
    int64_t rows = (int64_t)n;
    int rc = child(p, group, "param_names");
    if (rc >= 0) rc = h5io_write_strings(w, p, names, rows);
    if (rc >= 0) rc = child(p, group, "param_offsets");
    if (rc >= 0) rc = h5io_write_i64(w, p, offsets, 1, &rows);
    if (rc >= 0) rc = child(p, group, "param_counts");
    if (rc >= 0) rc = h5io_write_i64(w, p, counts, 1, &rows);
    if (rc >= 0) rc = child(p, group, "param_dims");
    if (rc >= 0) rc = h5io_write_i32(w, p, dims, 2, (int64_t[]){rows, 4});
    pl_free(names);
    pl_free(offsets);
    pl_free(counts);
    pl_free(dims);
    return rc;
}

int h5io_write_graph(h5io_writer *w, const char *group, const ig_graph *g)
{
    if (!g->finalized)
        PL_FAIL(PL_ERR_INVAL, "%s: %s: the graph must be finalized before writing",
                w->path ? w->path : "?", group);
    PL_TRY(h5io_write_group(w, group));
    PL_TRY(write_nodes(w, group, g));
    PL_TRY(write_param_table(w, group, g));

    char p[PATH_LEN];
    size_t n_ops = (size_t)g->n_operators;
    const char **op_names = pl_xmalloc((n_ops ? n_ops : 1) * sizeof *op_names);
    for (size_t k = 0; k < n_ops; k++) op_names[k] = g->operators[k].name;
    int rc = child(p, group, "operator_names");
    if (rc >= 0) rc = h5io_write_strings(w, p, op_names, (int64_t)n_ops);
    pl_free(op_names);
    PL_TRY(rc);

    int64_t param_size = (int64_t)g->param_size, state_size = (int64_t)g->state_size;
    PL_TRY(child(p, group, "params"));
    PL_TRY(h5io_write_f32(w, p, g->param, 1, &param_size));
    PL_TRY(child(p, group, "state"));
    PL_TRY(h5io_write_f32(w, p, g->state, 1, &state_size));

    PL_TRY(h5io_write_attr_i64(w, group, "n_nodes", g->n_nodes));
    PL_TRY(h5io_write_attr_i64(w, group, "param_count", (int64_t)ig_graph_param_count(g)));
    PL_TRY(h5io_write_attr_f64(w, group, "flops", ig_graph_flops(g)));
    return PL_OK;
}

/* ---- reading ------------------------------------------------------------- */

/* The stored tables of a graph group, owned by the reader. */
typedef struct {
    char **opcodes;
    int64_t n_nodes;
    int32_t *inputs, *attrs, *operator_ids;
    float *fattrs;
    char **operator_names;
    int64_t n_operators;
} stored_graph;

static void stored_free(stored_graph *s)
{
    h5io_free_strings(s->opcodes, s->n_nodes);
    h5io_free_strings(s->operator_names, s->n_operators);
    pl_free(s->inputs);
    pl_free(s->attrs);
    pl_free(s->operator_ids);
    pl_free(s->fattrs);
}

static int read_stored(h5io_reader *r, const char *group, stored_graph *s)
{
    char p[PATH_LEN];
    PL_TRY(child(p, group, "opcodes"));
    PL_TRY(h5io_read_strings(r, p, &s->opcodes, &s->n_nodes));
    int64_t n_nodes_attr;
    PL_TRY(h5io_read_attr_i64(r, group, "n_nodes", &n_nodes_attr));
    if (n_nodes_attr != s->n_nodes)
        PL_FAIL(PL_ERR_SCHEMA, "%s: %s@n_nodes: %lld but %s holds %lld opcodes", r->path, group,
                (long long)n_nodes_attr, p, (long long)s->n_nodes);
    if (s->n_nodes < 1 || s->n_nodes > INT32_MAX)
        PL_FAIL(PL_ERR_SCHEMA, "%s: %s: %lld nodes", r->path, p, (long long)s->n_nodes);
    size_t n = (size_t)s->n_nodes;
    s->inputs = pl_xmalloc(n * IG_MAX_IN * sizeof *s->inputs);
    s->attrs = pl_xmalloc(n * IG_N_ATTR * sizeof *s->attrs);
    s->fattrs = pl_xmalloc(n * IG_N_FATTR * sizeof *s->fattrs);
    s->operator_ids = pl_xmalloc(n * sizeof *s->operator_ids);
    PL_TRY(child(p, group, "inputs"));
    PL_TRY(h5io_read_i32(r, p, s->inputs, 2, (int64_t[]){s->n_nodes, IG_MAX_IN}));
    PL_TRY(child(p, group, "attrs"));
    PL_TRY(h5io_read_i32(r, p, s->attrs, 2, (int64_t[]){s->n_nodes, IG_N_ATTR}));
    PL_TRY(child(p, group, "fattrs"));
    PL_TRY(h5io_read_f32(r, p, s->fattrs, 2, (int64_t[]){s->n_nodes, IG_N_FATTR}));
    PL_TRY(child(p, group, "operator_ids"));
    PL_TRY(h5io_read_i32(r, p, s->operator_ids, 1, &s->n_nodes));
    PL_TRY(child(p, group, "operator_names"));
    PL_TRY(h5io_read_strings(r, p, &s->operator_names, &s->n_operators));
    return PL_OK;
}

/* Begins operators created..upto, ending all but the last, which stays open
 * (operators with no nodes are recreated empty, keeping every id). */
static int begin_operators(h5io_reader *r, const char *group, ig_graph *g,
                           const stored_graph *s, int *created, int upto)
{
    while (*created <= upto) {
        const char *name = s->operator_names[*created];
        if (ig_operator_begin(g, name) < 0) {
            char why[512];
            snprintf(why, sizeof why, "%s", pl_last_error());
            PL_FAIL(PL_ERR_SCHEMA, "%s: %s/operator_names[%d]: %s", r->path, group, *created, why);
        }
        if (*created < upto) ig_operator_end(g);
        (*created)++;
    }
    return PL_OK;
}

/* Adds node i of s to g, opening and closing operators as its id says. */
static int rebuild_node(h5io_reader *r, const char *group, ig_graph *g, const stored_graph *s,
                        int i, int *open_op, int *created)
{
    int op = ig_opcode_from_name(s->opcodes[i]);
    if (op < 0)
        PL_FAIL(PL_ERR_SCHEMA, "%s: %s/opcodes[%d]: unknown opcode '%s' (node %d)", r->path,
                group, i, s->opcodes[i], i);
    int oid = s->operator_ids[i];
    if (oid < -1 || oid >= s->n_operators)
        PL_FAIL(PL_ERR_SCHEMA, "%s: %s/operator_ids[%d]: operator %d, but there are %lld", r->path,
                group, i, oid, (long long)s->n_operators);
    if (oid != *open_op) {
        if (*open_op >= 0) ig_operator_end(g);
        if (oid >= 0 && oid < *created)
            PL_FAIL(PL_ERR_SCHEMA, "%s: %s/operator_ids[%d]: node %d rejoins operator %d, whose "
                    "nodes must be consecutive", r->path, group, i, i, oid);
        if (oid >= 0) PL_TRY(begin_operators(r, group, g, s, created, oid));
        *open_op = oid;
    }
    ig_node spec;
    memset(&spec, 0, sizeof spec);
    spec.op = op;
    const int32_t *in = s->inputs + (size_t)i * IG_MAX_IN;
    while (spec.n_in < IG_MAX_IN && in[spec.n_in] >= 0) {
        spec.in[spec.n_in] = in[spec.n_in];
        spec.n_in++;
    }
    for (int k = spec.n_in; k < IG_MAX_IN; k++)
        if (in[k] != -1)
            PL_FAIL(PL_ERR_SCHEMA, "%s: %s/inputs[%d]: entry %d is %d after the padding (-1) began",
                    r->path, group, i, k, in[k]);
    memcpy(spec.attr, s->attrs + (size_t)i * IG_N_ATTR, sizeof spec.attr);
    memcpy(spec.fattr, s->fattrs + (size_t)i * IG_N_FATTR, sizeof spec.fattr);
    if (ig_add(g, &spec) < 0) {
        char why[768];
        snprintf(why, sizeof why, "%s", pl_last_error());
        PL_FAIL(PL_ERR_SCHEMA, "%s: %s: invalid graph: %s", r->path, group, why);
    }
    return PL_OK;
}

/* Reads slab dataset group/name into dst after checking it has `need` floats. */
static int read_slab(h5io_reader *r, const char *group, const char *name, float *dst,
                     size_t need)
{
    char p[PATH_LEN];
    PL_TRY(child(p, group, name));
    int rank;
    int64_t dims[H5IO_MAX_RANK];
    PL_TRY(h5io_dataset_shape(r, p, &rank, dims));
    if (rank != 1 || dims[0] != (int64_t)need) {
        char have[96];
        PL_FAIL(PL_ERR_SCHEMA, "%s: %s: shape %s but the graph needs (%zu)", r->path, p,
                h5io_dims_text(have, sizeof have, rank, dims), need);
    }
    int64_t want = (int64_t)need;
    return need ? h5io_read_f32(r, p, dst, 1, &want) : PL_OK;
}

/* Rebuilds and fills g from the stored tables and slabs. */
static int rebuild(h5io_reader *r, const char *group, const stored_graph *s, ig_graph *g)
{
    int open_op = -1, created = 0;
    for (int i = 0; i < (int)s->n_nodes; i++)
        PL_TRY(rebuild_node(r, group, g, s, i, &open_op, &created));
    if (open_op >= 0) ig_operator_end(g);
    if (created < s->n_operators) {
        PL_TRY(begin_operators(r, group, g, s, &created, (int)s->n_operators - 1));
        ig_operator_end(g);
    }
    if (ig_graph_finalize(g) < 0) {
        char why[768];
        snprintf(why, sizeof why, "%s", pl_last_error());
        PL_FAIL(PL_ERR_SCHEMA, "%s: %s: invalid graph: %s", r->path, group, why);
    }
    PL_TRY(read_slab(r, group, "params", g->param, g->param_size));
    PL_TRY(read_slab(r, group, "state", g->state, g->state_size));

    int64_t param_count, n_names;
    char p[PATH_LEN];
    PL_TRY(h5io_read_attr_i64(r, group, "param_count", &param_count));
    if (param_count != (int64_t)ig_graph_param_count(g))
        PL_FAIL(PL_ERR_SCHEMA, "%s: %s@param_count: %lld but the rebuilt graph has %zu", r->path,
                group, (long long)param_count, ig_graph_param_count(g));
    PL_TRY(child(p, group, "param_names"));
    int rank;
    int64_t dims[H5IO_MAX_RANK];
    PL_TRY(h5io_dataset_shape(r, p, &rank, dims));
    n_names = rank == 1 ? dims[0] : -1;
    if (n_names != g->n_params)
        PL_FAIL(PL_ERR_SCHEMA, "%s: %s: %lld names but the rebuilt graph has %d tensors", r->path,
                p, (long long)n_names, g->n_params);
    return PL_OK;
}

int h5io_read_graph(h5io_reader *r, const char *group, ig_graph **out)
{
    *out = NULL;
    stored_graph s;
    memset(&s, 0, sizeof s);
    int rc = read_stored(r, group, &s);
    ig_graph *g = NULL;
    if (rc >= 0) {
        g = ig_graph_alloc();
        rc = rebuild(r, group, &s, g);
    }
    stored_free(&s);
    if (rc < 0) {
        ig_graph_free(g);
        return rc;
    }
    *out = g;
    return PL_OK;
}

int h5io_read_model(const char *path, const char *schema, const char *nodes_group,
                    struct ig_graph **g, int *input_node, int *logits_node)
{
    h5io_reader r;
    PL_TRY(h5io_open(&r, path, schema));
    int64_t in = -1, logits = -1;
    int rc = h5io_read_attr_i64(&r, nodes_group, "input_node", &in);
    if (rc == PL_OK) rc = h5io_read_attr_i64(&r, nodes_group, "logits_node", &logits);
    if (rc == PL_OK) rc = h5io_read_graph(&r, "/graph", g);
    h5io_close(&r);
    PL_TRY(rc);
    if (in < 0 || in >= (*g)->n_nodes || logits < 0 || logits >= (*g)->n_nodes ||
        (*g)->nodes[in].op != IG_OP_INPUT) {
        ig_graph_free(*g);
        *g = NULL;
        PL_FAIL(PL_ERR_SCHEMA, "%s: %s: input node %lld or logits node %lld is not the graph's",
                path, nodes_group, (long long)in, (long long)logits);
    }
    *input_node = (int)in;
    *logits_node = (int)logits;
    return PL_OK;
}
