/* weights_import.c: the gos.weights layout of a graph (weights_layout),
 * importing such an artifact into a graph after validating all of it
 * (weights_import), and writing one (weights_export). */
#include "weights_import.h"
#include "h5io_internal.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define TENSORS_GROUP "/tensors"
#define NAMES_DSET    "/tensor_names"

/* ---- layout -------------------------------------------------------------- */

int weights_layout(const ig_graph *g, weights_tensor *out, int cap)
{
    PL_ASSERT(g->finalized);
    int n = 0;
    size_t state_covered = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        const ig_node *nd = &g->nodes[i];
        for (int k = 0; k < nd->n_params; k++, n++) {
            if (n >= cap) continue;
            const int idx = nd->param_first + k;
            const ig_param *p = &g->params[idx];
            weights_tensor *t = &out[n];
            memset(t, 0, sizeof *t);
            t->node = i;
            t->param = idx;
            t->suffix = p->kind == IG_PARAM_WEIGHT || p->kind == IG_PARAM_GAMMA ? "weight" : "bias";
            t->count = p->count;
            t->offset = p->offset;
            if (p->kind == IG_PARAM_WEIGHT && nd->op == IG_OP_LINEAR) {
                t->rank = 2;
                t->dims[0] = p->dims[0];
                t->dims[1] = p->dims[1];
            } else if (p->kind == IG_PARAM_WEIGHT) {
                t->rank = 4;
                for (int d = 0; d < 4; d++) t->dims[d] = p->dims[d];
            } else {
                t->rank = 1;
                t->dims[0] = (int64_t)p->count;
            }
        }
        if (nd->op != IG_OP_BATCHNORM) continue;
        const size_t C = (size_t)nd->shape.c;
        for (int s = 0; s < 2; s++, n++) {
            if (n >= cap) continue;
            weights_tensor *t = &out[n];
            memset(t, 0, sizeof *t);
            t->node = i;
            t->param = -1;
            t->suffix = s == 0 ? "running_mean" : "running_var";
            t->rank = 1;
            t->dims[0] = (int64_t)C;
            t->count = C;
            t->in_state = 1;
            t->offset = nd->state_off + (size_t)s * C;
        }
        state_covered += 2 * C;
    }
    if (state_covered != g->state_size)
        PL_FAIL(PL_ERR_INVAL,
                "the graph has %zu floats of state but the weights layout knows only batch "
                "norm's running statistics (%zu floats)",
                g->state_size, state_covered);
    return n;
}

/* "node 5 (conv2d, operator 'layer1.0.conv1')" for messages. */
static const char *node_text(const ig_graph *g, int node, char *buf, size_t n)
{
    const ig_node *nd = &g->nodes[node];
    if (nd->operator_id >= 0)
        snprintf(buf, n, "node %d (%s, operator '%s')", node, ig_opcode_name(nd->op),
                 g->operators[nd->operator_id].name);
    else
        snprintf(buf, n, "node %d (%s)", node, ig_opcode_name(nd->op));
    return buf;
}

/* 1 when name is suffix or ends in "." suffix. */
static int has_suffix(const char *name, const char *suffix)
{
    size_t n = strlen(name), s = strlen(suffix);
    if (n == s) return strcmp(name, suffix) == 0;
    return n > s && name[n - s - 1] == '.' && strcmp(name + n - s, suffix) == 0;
}

/* ---- import -------------------------------------------------------------- */

/* What the validation of one file shares. */
typedef struct {
    ig_graph             *g;
    h5io_reader          *r;
    const char           *path;
    const weights_tensor *layout;
    int                   n_layout;
    char                **names;
    int64_t               n_names;
    const char           *count_note; /* appended to a mismatch when counts differ */
} import_ctx;

static void dataset_path(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", TENSORS_GROUP, name);
}

/* Checks listed tensor i against layout tensor i: the dataset exists, holds
 * float32, its name's suffix and its shape are the expected ones, and a
 * running_var's optional eps matches the batch norm's. */
static int check_tensor(const import_ctx *c, int i)
{
    const weights_tensor *t = &c->layout[i];
    const char *name = c->names[i];
    char dset[512], where[192], have[96], need[96];
    dataset_path(dset, sizeof dset, name);
    node_text(c->g, t->node, where, sizeof where);
    if (!name[0] || strchr(name, '/'))
        PL_FAIL(PL_ERR_SCHEMA, "%s: %s[%d]: '%s' is not a tensor name (empty or with '/')",
                c->path, NAMES_DSET, i, name);
    if (h5io_object_type(c->r->file, dset) != H5I_DATASET)
        PL_FAIL(PL_ERR_SCHEMA, "%s: %s: missing (listed as tensor %d in %s)%s", c->path, dset, i,
                NAMES_DSET, c->count_note);
    if (!has_suffix(name, t->suffix))
        PL_FAIL(PL_ERR_SCHEMA,
                "%s: %s: tensor %d should be the %s of %s (a name ending in '.%s')%s", c->path,
                dset, i, t->suffix, where, t->suffix, c->count_note);

    hid_t d = H5Dopen2(c->r->file, dset, H5P_DEFAULT);
    if (d < 0) PL_FAIL(PL_ERR_HDF5, "%s: %s: cannot open the dataset", c->path, dset);
    hid_t type = H5Dget_type(d);
    int type_ok = type >= 0 && h5io_type_matches(type, H5IO_T_F32);
    if (type >= 0) h5io_type_text(type, have, sizeof have);
    if (type >= 0) H5Tclose(type);
    int64_t got[H5IO_MAX_RANK];
    int rank = h5io_dataset_dims(d, got);
    H5Dclose(d);
    if (!type_ok)
        PL_FAIL(PL_ERR_SCHEMA, "%s: %s: dtype %s, the layout stores float32", c->path, dset,
                type >= 0 ? have : "unknown");
    int shape_ok = rank == t->rank;
    for (int k = 0; shape_ok && k < rank; k++) shape_ok = got[k] == t->dims[k];
    if (!shape_ok) {
        if (rank < 0) PL_FAIL(PL_ERR_HDF5, "%s: %s: cannot read the shape", c->path, dset);
        PL_FAIL(PL_ERR_SCHEMA, "%s: %s: shape %s but tensor %d, the %s of %s, is %s%s", c->path,
                dset, h5io_dims_text(have, sizeof have, rank, got), i, t->suffix, where,
                h5io_dims_text(need, sizeof need, t->rank, t->dims), c->count_note);
    }

    if (t->in_state && strcmp(t->suffix, "running_var") == 0 &&
        H5Aexists_by_name(c->r->file, dset, "eps", H5P_DEFAULT) > 0) {
        double eps = 0.0;
        PL_TRY(h5io_read_attr_f64(c->r, dset, "eps", &eps));
        double want = c->g->nodes[t->node].fattr[0];
        if (!(fabs(eps - want) <= 1e-6 * want))
            PL_FAIL(PL_ERR_SCHEMA, "%s: %s@eps: %g but the batch norm %s has eps %g", c->path,
                    dset, eps, where, want);
    }
    return PL_OK;
}

/* Validates the names: count, uniqueness, nothing unlisted, every tensor. */
static int validate(import_ctx *c)
{
    char note[512] = "";
    if (c->n_names != c->n_layout)
        snprintf(note, sizeof note, " (and %s lists %lld tensors where the graph has %d)",
                 NAMES_DSET, (long long)c->n_names, c->n_layout);
    c->count_note = note;
    for (int64_t i = 1; i < c->n_names; i++)
        for (int64_t j = 0; j < i; j++)
            if (strcmp(c->names[i], c->names[j]) == 0)
                PL_FAIL(PL_ERR_SCHEMA, "%s: %s: '%s' is listed twice (tensors %lld and %lld)",
                        c->path, NAMES_DSET, c->names[i], (long long)j, (long long)i);

    const int common = c->n_names < c->n_layout ? (int)c->n_names : c->n_layout;
    for (int i = 0; i < common; i++) PL_TRY(check_tensor(c, i));
    if (c->n_names > c->n_layout) {
        char dset[512];
        dataset_path(dset, sizeof dset, c->names[c->n_layout]);
        PL_FAIL(PL_ERR_SCHEMA,
                "%s: %s: %lld tensors but the graph has %d; the first %d match, the extra ones "
                "start at %s",
                c->path, NAMES_DSET, (long long)c->n_names, c->n_layout, c->n_layout, dset);
    }
    if (c->n_names < c->n_layout) {
        const weights_tensor *t = &c->layout[c->n_names];
        char where[192], need[96];
        PL_FAIL(PL_ERR_SCHEMA,
                "%s: %s: %lld tensors but the graph has %d; the first %lld match, the file "
                "lacks tensor %lld onwards (the %s %s of %s)",
                c->path, NAMES_DSET, (long long)c->n_names, c->n_layout, (long long)c->n_names,
                (long long)c->n_names, t->suffix,
                h5io_dims_text(need, sizeof need, t->rank, t->dims),
                node_text(c->g, t->node, where, sizeof where));
    }

    H5G_info_t info;
    if (H5Gget_info_by_name(c->r->file, TENSORS_GROUP, &info, H5P_DEFAULT) < 0)
        PL_FAIL(PL_ERR_HDF5, "%s: %s: cannot list the group", c->path, TENSORS_GROUP);
    if ((int64_t)info.nlinks != c->n_names)
        PL_FAIL(PL_ERR_SCHEMA, "%s: %s: holds %llu objects but %s lists %lld tensors", c->path,
                TENSORS_GROUP, (unsigned long long)info.nlinks, NAMES_DSET,
                (long long)c->n_names);
    return PL_OK;
}

/* Reads every tensor into its place; fails on non-finite values. */
static int read_all(const import_ctx *c)
{
    for (int i = 0; i < c->n_layout; i++) {
        const weights_tensor *t = &c->layout[i];
        float *dst = (t->in_state ? c->g->state : c->g->param) + t->offset;
        char dset[512];
        dataset_path(dset, sizeof dset, c->names[i]);
        PL_TRY(h5io_read_f32(c->r, dset, dst, t->rank, t->dims));
        for (size_t k = 0; k < t->count; k++)
            if (!isfinite(dst[k]))
                PL_FAIL(PL_ERR_NUMERIC, "%s: %s: element %zu is %g", c->path, dset, k,
                        (double)dst[k]);
    }
    return PL_OK;
}

/* Checks /@model against the expected model name (NULL: any). */
static int check_model(h5io_reader *r, const char *path, const char *model)
{
    if (!model) return PL_OK;
    char *stored = NULL;
    PL_TRY(h5io_read_attr_string(r, "/", "model", &stored));
    int same = strcmp(stored, model) == 0;
    char shown[128];
    snprintf(shown, sizeof shown, "%s", stored);
    pl_free(stored);
    if (!same)
        PL_FAIL(PL_ERR_SCHEMA, "%s: /@model: weights of model '%s', but the graph is '%s'", path,
                shown, model);
    return PL_OK;
}

/* Scratch for weights_import: freed on every path. */
typedef struct {
    h5io_reader     reader;
    weights_tensor *layout;
    char          **names;
    int64_t         n_names;
} import_scratch;

static int import_with(import_scratch *s, ig_graph *g, const char *path, const char *model)
{
    if (!g || !g->finalized)
        PL_FAIL(PL_ERR_INVAL, "%s: the graph must be finalized before importing weights", path);
    const int n_layout = weights_layout(g, NULL, 0);
    PL_TRY(n_layout);
    s->layout = pl_xmalloc((size_t)(n_layout ? n_layout : 1) * sizeof *s->layout);
    PL_TRY(weights_layout(g, s->layout, n_layout));
    PL_TRY(h5io_open(&s->reader, path, WEIGHTS_SCHEMA));
    PL_TRY(check_model(&s->reader, path, model));
    PL_TRY(h5io_read_strings(&s->reader, NAMES_DSET, &s->names, &s->n_names));
    import_ctx c = {.g = g, .r = &s->reader, .path = path, .layout = s->layout,
                    .n_layout = n_layout, .names = s->names, .n_names = s->n_names};
    PL_TRY(validate(&c));
    return read_all(&c);
}

int weights_import(ig_graph *g, const char *path, const char *model)
{
    import_scratch s;
    memset(&s, 0, sizeof s);
    s.reader.file = H5I_INVALID_HID;
    int rc = import_with(&s, g, path, model);
    if (s.names) h5io_free_strings(s.names, s.n_names);
    pl_free(s.layout);
    h5io_close(&s.reader);
    return rc;
}

/* ---- export -------------------------------------------------------------- */

static int export_with(h5io_writer *w, const ig_graph *g, const weights_tensor *layout, int n,
                       const char *model, const char *source, const char *const *names)
{
    char **own = pl_xcalloc((size_t)(n ? n : 1), sizeof *own);
    int rc = PL_OK;
    for (int i = 0; i < n && rc == PL_OK; i++) {
        const weights_tensor *t = &layout[i];
        if (names && names[i]) {
            own[i] = pl_xstrdup(names[i]);
        } else {
            char buf[128];
            snprintf(buf, sizeof buf, "%d.%s.%s", t->node, ig_opcode_name(g->nodes[t->node].op),
                     t->suffix);
            own[i] = pl_xstrdup(buf);
        }
        char dset[512];
        dataset_path(dset, sizeof dset, own[i]);
        const float *src = (t->in_state ? g->state : g->param) + t->offset;
        rc = h5io_write_f32(w, dset, src, t->rank, t->dims);
        if (rc == PL_OK && t->in_state && strcmp(t->suffix, "running_var") == 0)
            rc = h5io_write_attr_f64(w, dset, "eps", g->nodes[t->node].fattr[0]);
    }
    if (rc == PL_OK) rc = h5io_write_group(w, TENSORS_GROUP);
    if (rc == PL_OK) rc = h5io_write_strings(w, NAMES_DSET, (const char *const *)own, n);
    if (rc == PL_OK) rc = h5io_write_attr_string(w, "/", "model", model);
    if (rc == PL_OK) rc = h5io_write_attr_string(w, "/", "source", source);
    for (int i = 0; i < n; i++) pl_free(own[i]);
    pl_free(own);
    return rc;
}

int weights_export(const ig_graph *g, const char *path, const h5io_provenance *prov,
                   const char *model, const char *source, const char *const *names)
{
    const int n = weights_layout(g, NULL, 0);
    PL_TRY(n);
    weights_tensor *layout = pl_xmalloc((size_t)(n ? n : 1) * sizeof *layout);
    weights_layout(g, layout, n);
    h5io_provenance p;
    if (prov) {
        p = *prov;
    } else {
        memset(&p, 0, sizeof p);
        snprintf(p.stage, sizeof p.stage, "weights_export");
    }
    p.schema = WEIGHTS_SCHEMA;
    h5io_writer w;
    int rc = h5io_create(&w, path, &p);
    if (rc == PL_OK) rc = export_with(&w, g, layout, n, model ? model : "", source ? source : "",
                                      names);
    if (rc == PL_OK) rc = h5io_commit(&w);
    else h5io_abort(&w);
    pl_free(layout);
    return rc;
}
