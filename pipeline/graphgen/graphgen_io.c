/* graphgen_io.c: the gos.graphs artifact (layout in schemas/artifacts.md):
 * the selected operators with their boundaries, weights and recorded
 * activations, every candidate DAG as rows of one node table, and the
 * sparsity study. */
#include "graphgen.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <math.h>
#include <string.h>

static size_t shape_size(const ig_shape *s) { return (size_t)s->c * s->h * s->w; }

static int write_operators(h5io_writer *w, const graphgen_result *r)
{
    int n = r->n_ops;
    const char **names = pl_xcalloc((size_t)n + 1, sizeof *names);
    int32_t *ids = pl_xcalloc((size_t)n + 1, sizeof *ids);
    int32_t *n_in = pl_xcalloc((size_t)n + 1, sizeof *n_in);
    int32_t *in_shapes = pl_xcalloc((size_t)n * GEN_MAX_INPUTS * 3 + 1, sizeof *in_shapes);
    int32_t *out_shape = pl_xcalloc((size_t)n * 3 + 1, sizeof *out_shape);
    int32_t *model_in = pl_xcalloc((size_t)n * GEN_MAX_INPUTS + 1, sizeof *model_in);
    int32_t *model_out = pl_xcalloc((size_t)n + 1, sizeof *model_out);
    int64_t *pf = pl_xcalloc((size_t)n + 1, sizeof *pf), *pc = pl_xcalloc((size_t)n + 1, sizeof *pc);
    int64_t *sf = pl_xcalloc((size_t)n + 1, sizeof *sf), *sc = pl_xcalloc((size_t)n + 1, sizeof *sc);
    int64_t param_total = 0, state_total = 0;
    for (int k = 0; k < n; k++) {
        const gen_operator *op = &r->ops[k];
        names[k] = op->name;
        ids[k] = op->operator_id;
        n_in[k] = op->boundary.n_inputs;
        for (int i = 0; i < GEN_MAX_INPUTS; i++) {
            model_in[k * GEN_MAX_INPUTS + i] = i < op->boundary.n_inputs ? op->model_inputs[i] : -1;
            if (i >= op->boundary.n_inputs) continue;
            int32_t *s = in_shapes + ((size_t)k * GEN_MAX_INPUTS + i) * 3;
            s[0] = op->boundary.inputs[i].c, s[1] = op->boundary.inputs[i].h, s[2] = op->boundary.inputs[i].w;
        }
        out_shape[k * 3] = op->boundary.output.c;
        out_shape[k * 3 + 1] = op->boundary.output.h;
        out_shape[k * 3 + 2] = op->boundary.output.w;
        model_out[k] = op->model_output;
        pf[k] = param_total, pc[k] = (int64_t)op->param_size;
        sf[k] = state_total, sc[k] = (int64_t)op->state_size;
        param_total += pc[k];
        state_total += sc[k];
    }
    float *param = pl_xmalloc((size_t)param_total * sizeof(float) + 4);
    float *state = pl_xmalloc((size_t)state_total * sizeof(float) + 4);
    for (int k = 0; k < n; k++) {
        memcpy(param + pf[k], r->ops[k].param, (size_t)pc[k] * sizeof(float));
        memcpy(state + sf[k], r->ops[k].state, (size_t)sc[k] * sizeof(float));
    }
    int64_t d1[1] = {n}, d2[2] = {n, GEN_MAX_INPUTS}, d3[3] = {n, GEN_MAX_INPUTS, 3},
            dout[2] = {n, 3}, dp[1] = {param_total}, ds[1] = {state_total};
    int rc = h5io_write_strings(w, "/operators/names", names, n);
    if (rc == PL_OK) rc = h5io_write_i32(w, "/operators/model_ids", ids, 1, d1);
    if (rc == PL_OK) rc = h5io_write_i32(w, "/operators/n_inputs", n_in, 1, d1);
    if (rc == PL_OK) rc = h5io_write_i32(w, "/operators/input_shapes", in_shapes, 3, d3);
    if (rc == PL_OK) rc = h5io_write_i32(w, "/operators/output_shape", out_shape, 2, dout);
    if (rc == PL_OK) rc = h5io_write_i32(w, "/operators/model_inputs", model_in, 2, d2);
    if (rc == PL_OK) rc = h5io_write_i32(w, "/operators/model_output", model_out, 1, d1);
    if (rc == PL_OK) rc = h5io_write_f64(w, "/operators/original_error", r->original_error, 1, d1);
    if (rc == PL_OK) rc = h5io_write_f64(w, "/operators/original_ms", r->original_ms, 1, d1);
    if (rc == PL_OK) rc = h5io_write_i64(w, "/operators/param_first", pf, 1, d1);
    if (rc == PL_OK) rc = h5io_write_i64(w, "/operators/param_count", pc, 1, d1);
    if (rc == PL_OK) rc = h5io_write_i64(w, "/operators/state_first", sf, 1, d1);
    if (rc == PL_OK) rc = h5io_write_i64(w, "/operators/state_count", sc, 1, d1);
    if (rc == PL_OK) rc = h5io_write_attr_i64(w, "/operators", "skipped", r->skipped);
    if (rc == PL_OK) rc = h5io_write_f32(w, "/weights/param", param, 1, dp);
    if (rc == PL_OK) rc = h5io_write_f32(w, "/weights/state", state, 1, ds);
    void *all[] = {names, ids, n_in, in_shapes, out_shape, model_in, model_out, pf, pc, sf, sc,
                   param, state};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pl_free(all[i]);
    return rc;
}

static int write_activations(h5io_writer *w, const graphgen_result *r)
{
    int n = r->n_ops;
    int64_t *in_first = pl_xcalloc((size_t)n * GEN_MAX_INPUTS + 1, sizeof *in_first);
    int64_t *out_first = pl_xcalloc((size_t)n + 1, sizeof *out_first);
    int64_t total = 0;
    for (int k = 0; k < n; k++) {
        const gen_boundary *b = &r->ops[k].boundary;
        for (int i = 0; i < GEN_MAX_INPUTS; i++) {
            in_first[k * GEN_MAX_INPUTS + i] = i < b->n_inputs ? total : -1;
            if (i < b->n_inputs) total += (int64_t)r->acts.n * (int64_t)shape_size(&b->inputs[i]);
        }
        out_first[k] = total;
        total += (int64_t)r->acts.n * (int64_t)shape_size(&b->output);
    }
    float *data = pl_xmalloc((size_t)total * sizeof(float) + 4);
    for (int k = 0; k < n; k++) {
        const gen_boundary *b = &r->ops[k].boundary;
        for (int i = 0; i < b->n_inputs; i++)
            memcpy(data + in_first[k * GEN_MAX_INPUTS + i], r->acts.inputs[k * GEN_MAX_INPUTS + i],
                   (size_t)r->acts.n * shape_size(&b->inputs[i]) * sizeof(float));
        memcpy(data + out_first[k], r->acts.outputs[k],
               (size_t)r->acts.n * shape_size(&b->output) * sizeof(float));
    }
    int64_t dt[1] = {total}, d2[2] = {n, GEN_MAX_INPUTS}, d1[1] = {n};
    h5io_set_compression(w, 1);
    int rc = h5io_write_f32(w, "/activations/data", data, 1, dt);
    h5io_set_compression(w, 0);
    if (rc == PL_OK) rc = h5io_write_i64(w, "/activations/input_first", in_first, 2, d2);
    if (rc == PL_OK) rc = h5io_write_i64(w, "/activations/output_first", out_first, 1, d1);
    if (rc == PL_OK) rc = h5io_write_attr_i64(w, "/activations", "images", r->acts.n);
    pl_free(data);
    pl_free(in_first);
    pl_free(out_first);
    return rc;
}

static int write_candidates(h5io_writer *w, const graphgen_result *r)
{
    int n = r->n_candidates;
    int64_t *hash = pl_xcalloc((size_t)n + 1, sizeof *hash);
    for (int c = 0; c < n; c++) hash[c] = (int64_t)gen_struct_hash(&r->candidates[c]);
    int64_t dc[1] = {n};
    int rc = gen_write_dag_table(w, "/candidates", r->candidates, n);
    if (rc == PL_OK) rc = h5io_write_i32(w, "/candidates/operator", r->candidate_op, 1, dc);
    if (rc == PL_OK) rc = h5io_write_i32(w, "/candidates/kind", r->candidate_kind, 1, dc);
    if (rc == PL_OK) rc = h5io_write_i64(w, "/candidates/struct_hash", hash, 1, dc);
    pl_free(hash);
    return rc;
}

static int write_study(h5io_writer *w, const graphgen_options *o, const graphgen_result *r)
{
    int n = r->n_samples;
    int32_t *ic[4];
    for (int j = 0; j < 4; j++) ic[j] = pl_xcalloc((size_t)n + 1, sizeof(int32_t));
    double *err = pl_xcalloc((size_t)n + 1, sizeof *err), *lat = pl_xcalloc((size_t)n + 1, sizeof *lat);
    int64_t *params = pl_xcalloc((size_t)n + 1, sizeof *params), *hash = pl_xcalloc((size_t)n + 1, sizeof *hash);
    for (int i = 0; i < n; i++) {
        const graphgen_sample *s = &r->samples[i];
        ic[0][i] = s->op, ic[1][i] = s->kind, ic[2][i] = s->valid, ic[3][i] = s->fit_ok;
        err[i] = s->fit_error, lat[i] = s->latency_ratio;
        params[i] = s->params, hash[i] = (int64_t)s->struct_hash;
    }
    int64_t dn[1] = {n};
    static const char *const cols[4] = {"/study/operator", "/study/kind", "/study/valid",
                                        "/study/fit_ok"};
    int rc = PL_OK;
    for (int j = 0; j < 4 && rc == PL_OK; j++) rc = h5io_write_i32(w, cols[j], ic[j], 1, dn);
    if (rc == PL_OK) rc = h5io_write_f64(w, "/study/fit_error", err, 1, dn);
    if (rc == PL_OK) rc = h5io_write_f64(w, "/study/latency_ratio", lat, 1, dn);
    if (rc == PL_OK) rc = h5io_write_i64(w, "/study/params", params, 1, dn);
    if (rc == PL_OK) rc = h5io_write_i64(w, "/study/struct_hash", hash, 1, dn);
    /* Mutation counters: rows change_op .. rewire, crossover; columns
     * tried, valid, repaired, rejected. */
    int64_t mut[(GEN_MUT_COUNT + 1) * 4];
    const char *names[GEN_MUT_COUNT + 1];
    for (int k = 0; k <= GEN_MUT_COUNT; k++) {
        mut[k * 4] = r->mutations.tried[k], mut[k * 4 + 1] = r->mutations.valid[k];
        mut[k * 4 + 2] = r->mutations.repaired[k], mut[k * 4 + 3] = r->mutations.rejected[k];
        names[k] = gen_mutation_name(k);
    }
    int64_t dm[2] = {GEN_MUT_COUNT + 1, 4};
    if (rc == PL_OK) rc = h5io_write_i64(w, "/study/mutations", mut, 2, dm);
    if (rc == PL_OK) rc = h5io_write_strings(w, "/study/mutation_names", names, GEN_MUT_COUNT + 1);
    if (rc == PL_OK) rc = h5io_write_attr_i64(w, "/study", "samples_per_kind", o->study_samples);
    if (rc == PL_OK) rc = h5io_write_attr_f64(w, "/study", "threshold", o->study_threshold);
    if (rc == PL_OK) rc = h5io_write_attr_string(w, "/study", "instruction_set", o->iset.name);
    if (rc == PL_OK) rc = h5io_write_attr_i64(w, "/study", "min_nodes", o->min_nodes);
    if (rc == PL_OK) rc = h5io_write_attr_i64(w, "/study", "max_nodes", o->max_nodes);
    if (rc == PL_OK) rc = h5io_write_attr_i64(w, "/study", "fit_steps", o->fit.steps);
    if (rc == PL_OK) rc = h5io_write_attr_string(w, "/study", "latency", "predicted");
    for (int j = 0; j < 4; j++) pl_free(ic[j]);
    pl_free(err);
    pl_free(lat);
    pl_free(params);
    pl_free(hash);
    return rc;
}

int graphgen_write(const char *path, h5io_provenance *prov, const ig_graph *model,
                   const graphgen_options *o, const graphgen_result *r)
{
    (void)model;
    prov->schema = "gos.graphs";
    h5io_writer w;
    PL_TRY(h5io_create(&w, path, prov));
    int rc = write_operators(&w, r);
    if (rc == PL_OK) rc = write_activations(&w, r);
    if (rc == PL_OK) rc = write_candidates(&w, r);
    if (rc == PL_OK) rc = write_study(&w, o, r);
    if (rc < 0) {
        h5io_abort(&w);
        return rc;
    }
    return h5io_commit(&w);
}

/* ---- reading ------------------------------------------------------------- */

typedef struct {
    const char *file;
    char   **names;
    int64_t  n_names;
    int32_t *ids, *n_in, *in_shapes, *out_shape, *model_in, *model_out, *c_op, *c_kind;
    int64_t *pf, *pc, *sf, *sc, *in_first, *out_first;
    double  *orig_err, *orig_ms;
    float   *param, *state, *data;
    gen_dag *dags;
    int      n_dags;
    int64_t  n_cand, n_param, n_state, n_data, images;
} stored;

static void stored_free(stored *s)
{
    h5io_free_strings(s->names, s->n_names);
    void *all[] = {s->ids, s->n_in, s->in_shapes, s->out_shape, s->model_in, s->model_out,
                   s->c_op, s->c_kind, s->pf, s->pc, s->sf, s->sc, s->in_first, s->out_first,
                   s->orig_err, s->orig_ms, s->param, s->state, s->data, s->dags};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) pl_free(all[i]);
}

static int read_stored(h5io_reader *h, stored *s)
{
    int rank;
    int64_t d[H5IO_MAX_RANK];
    PL_TRY(h5io_read_strings(h, "/operators/names", &s->names, &s->n_names));
    PL_TRY(h5io_read_i32_alloc(h, "/operators/model_ids", &s->ids, &rank, d));
    PL_TRY(h5io_read_i32_alloc(h, "/operators/n_inputs", &s->n_in, &rank, d));
    PL_TRY(h5io_read_i32_alloc(h, "/operators/input_shapes", &s->in_shapes, &rank, d));
    PL_TRY(h5io_read_i32_alloc(h, "/operators/output_shape", &s->out_shape, &rank, d));
    PL_TRY(h5io_read_i32_alloc(h, "/operators/model_inputs", &s->model_in, &rank, d));
    PL_TRY(h5io_read_i32_alloc(h, "/operators/model_output", &s->model_out, &rank, d));
    PL_TRY(h5io_read_f64_alloc(h, "/operators/original_error", &s->orig_err, &rank, d));
    PL_TRY(h5io_read_f64_alloc(h, "/operators/original_ms", &s->orig_ms, &rank, d));
    PL_TRY(h5io_read_i64_alloc(h, "/operators/param_first", &s->pf, &rank, d));
    PL_TRY(h5io_read_i64_alloc(h, "/operators/param_count", &s->pc, &rank, d));
    PL_TRY(h5io_read_i64_alloc(h, "/operators/state_first", &s->sf, &rank, d));
    PL_TRY(h5io_read_i64_alloc(h, "/operators/state_count", &s->sc, &rank, d));
    PL_TRY(h5io_read_f32_alloc(h, "/weights/param", &s->param, &rank, d));
    s->n_param = d[0];
    PL_TRY(h5io_read_f32_alloc(h, "/weights/state", &s->state, &rank, d));
    s->n_state = d[0];
    PL_TRY(h5io_read_f32_alloc(h, "/activations/data", &s->data, &rank, d));
    s->n_data = d[0];
    PL_TRY(h5io_read_i64_alloc(h, "/activations/input_first", &s->in_first, &rank, d));
    PL_TRY(h5io_read_i64_alloc(h, "/activations/output_first", &s->out_first, &rank, d));
    PL_TRY(h5io_read_attr_i64(h, "/activations", "images", &s->images));
    PL_TRY(gen_read_dag_table(h, s->file, "/candidates", &s->dags, &s->n_dags));
    PL_TRY(h5io_read_i32_alloc(h, "/candidates/operator", &s->c_op, &rank, d));
    s->n_cand = d[0];
    return h5io_read_i32_alloc(h, "/candidates/kind", &s->c_kind, &rank, d);
}

static int rebuild(const char *path, const stored *s, graphgen_result *r)
{
    int n = (int)s->n_names;
    r->n_ops = n;
    r->ops = pl_xcalloc((size_t)n + 1, sizeof *r->ops);
    r->original_error = pl_xcalloc((size_t)n + 1, sizeof(double));
    r->original_ms = pl_xcalloc((size_t)n + 1, sizeof(double));
    r->acts.n = (int)s->images;
    r->acts.n_ops = n;
    r->acts.inputs = pl_xcalloc((size_t)n * GEN_MAX_INPUTS + 1, sizeof *r->acts.inputs);
    r->acts.outputs = pl_xcalloc((size_t)n + 1, sizeof *r->acts.outputs);
    for (int k = 0; k < n; k++) {
        gen_operator *op = &r->ops[k];
        snprintf(op->name, sizeof op->name, "%s", s->names[k]);
        op->operator_id = s->ids[k];
        gen_boundary *b = &op->boundary;
        b->n_inputs = s->n_in[k];
        if (b->n_inputs < 1 || b->n_inputs > GEN_MAX_INPUTS)
            PL_FAIL(PL_ERR_SCHEMA, "%s: /operators/n_inputs[%d] = %d", path, k, b->n_inputs);
        for (int i = 0; i < b->n_inputs; i++) {
            const int32_t *sh = s->in_shapes + ((size_t)k * GEN_MAX_INPUTS + i) * 3;
            b->inputs[i] = (ig_shape){sh[0], sh[1], sh[2]};
            op->model_inputs[i] = s->model_in[k * GEN_MAX_INPUTS + i];
        }
        b->output = (ig_shape){s->out_shape[k * 3], s->out_shape[k * 3 + 1], s->out_shape[k * 3 + 2]};
        op->model_output = s->model_out[k];
        r->original_error[k] = s->orig_err[k];
        r->original_ms[k] = s->orig_ms[k];
        if (s->pf[k] < 0 || s->pc[k] < 0 || s->pf[k] + s->pc[k] > s->n_param || s->sf[k] < 0 ||
            s->sc[k] < 0 || s->sf[k] + s->sc[k] > s->n_state)
            PL_FAIL(PL_ERR_SCHEMA, "%s: /operators: weights of %s out of range", path, op->name);
        op->param_size = (size_t)s->pc[k];
        op->state_size = (size_t)s->sc[k];
        op->param = pl_xmalloc(op->param_size * sizeof(float) + 4);
        op->state = pl_xmalloc(op->state_size * sizeof(float) + 4);
        memcpy(op->param, s->param + s->pf[k], op->param_size * sizeof(float));
        memcpy(op->state, s->state + s->sf[k], op->state_size * sizeof(float));
        for (int i = 0; i <= b->n_inputs; i++) {
            const ig_shape *sh = i < b->n_inputs ? &b->inputs[i] : &b->output;
            int64_t at = i < b->n_inputs ? s->in_first[k * GEN_MAX_INPUTS + i] : s->out_first[k];
            size_t count = (size_t)s->images * shape_size(sh);
            if (at < 0 || at + (int64_t)count > s->n_data)
                PL_FAIL(PL_ERR_SCHEMA, "%s: /activations: values of %s out of range", path, op->name);
            float *dst = pl_xmalloc(count * sizeof(float) + 4);
            memcpy(dst, s->data + at, count * sizeof(float));
            if (i < b->n_inputs)
                r->acts.inputs[k * GEN_MAX_INPUTS + i] = dst;
            else
                r->acts.outputs[k] = dst;
        }
    }
    r->n_candidates = (int)s->n_cand;
    r->candidates = pl_xcalloc((size_t)r->n_candidates + 1, sizeof *r->candidates);
    r->candidate_op = pl_xcalloc((size_t)r->n_candidates + 1, sizeof(int32_t));
    r->candidate_kind = pl_xcalloc((size_t)r->n_candidates + 1, sizeof(int32_t));
    if (s->n_cand != s->n_dags)
        PL_FAIL(PL_ERR_SCHEMA, "%s: /candidates: %lld operator indices for %d DAGs", path,
                (long long)s->n_cand, s->n_dags);
    for (int64_t c = 0; c < s->n_cand; c++) {
        if (s->c_op[c] < 0 || s->c_op[c] >= s->n_names)
            PL_FAIL(PL_ERR_SCHEMA, "%s: /candidates/operator[%lld] = %d is not an operator", path,
                    (long long)c, s->c_op[c]);
        r->candidates[c] = s->dags[c];
        r->candidate_op[c] = s->c_op[c];
        r->candidate_kind[c] = s->c_kind[c];
        if (!gen_dag_valid(&r->candidates[c], &r->ops[s->c_op[c]].boundary))
            PL_FAIL(PL_ERR_SCHEMA, "%s: /candidates: candidate %lld of %s is not shape-valid: %s",
                    path, (long long)c, r->ops[s->c_op[c]].name, pl_last_error());
        if (s->c_kind[c] == 0) r->ops[s->c_op[c]].dag = r->candidates[c];
    }
    return PL_OK;
}

int graphgen_read(const char *path, graphgen_result *r)
{
    memset(r, 0, sizeof *r);
    h5io_reader h;
    PL_TRY(h5io_open(&h, path, "gos.graphs"));
    stored s;
    memset(&s, 0, sizeof s);
    s.file = path;
    int rc = read_stored(&h, &s);
    h5io_close(&h);
    if (rc == PL_OK) rc = rebuild(path, &s, r);
    stored_free(&s);
    if (rc < 0) graphgen_free(r);
    return rc;
}
