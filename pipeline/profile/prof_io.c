/* prof_io.c: writes the profile artifact (gos.profile, schemas/artifacts.md). */
#include "prof.h"
#include "h5io.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <stdio.h>
#include <string.h>

/* The five per-operator latency columns, gathered from the dev_latency rows. */
static int write_latency_columns(h5io_writer *w, const prof_result *r)
{
    size_t n = (size_t)(r->n_operators > 0 ? r->n_operators : 1);
    double *col = pl_xmalloc(n * sizeof *col);
    int64_t *reps = pl_xmalloc(n * sizeof *reps);
    int64_t dims[1] = {r->n_operators};
    static const char *const names[] = {"/operators/latency_ms", "/operators/latency_min_ms",
                                        "/operators/latency_max_ms",
                                        "/operators/latency_spread_ms"};
    int rc = PL_OK;
    for (int c = 0; c < 4 && rc == PL_OK; c++) {
        for (int id = 0; id < r->n_operators; id++) {
            const dev_latency *l = &r->latency[id];
            col[id] = c == 0 ? l->median_ms : c == 1 ? l->min_ms : c == 2 ? l->max_ms
                                                                          : l->spread_ms;
        }
        rc = h5io_write_f64(w, names[c], col, 1, dims);
    }
    for (int id = 0; id < r->n_operators; id++) reps[id] = r->latency[id].repeats;
    if (rc == PL_OK) rc = h5io_write_i64(w, "/operators/repeats", reps, 1, dims);
    pl_free(col);
    pl_free(reps);
    return rc;
}

static int write_operators(h5io_writer *w, const cfg_experiment *e, const ig_graph *g,
                           const prof_result *r)
{
    int64_t dims[1] = {r->n_operators};
    const char **names = pl_xcalloc((size_t)(r->n_operators + 1), sizeof *names);
    for (int id = 0; id < r->n_operators; id++) names[id] = g->operators[id].name;
    int rc = h5io_write_strings(w, "/operators/names", names, r->n_operators);
    pl_free(names);
    PL_TRY(rc);
    PL_TRY(write_latency_columns(w, r));
    PL_TRY(h5io_write_f64(w, "/operators/predicted_ms", r->predicted_ms, 1, dims));
    PL_TRY(h5io_write_i64(w, "/operators/params", r->params, 1, dims));
    PL_TRY(h5io_write_f64(w, "/operators/flops", r->flops, 1, dims));
    PL_TRY(h5io_write_f64(w, "/operators/bytes", r->bytes, 1, dims));
    PL_TRY(h5io_write_i32(w, "/operators/n_nodes", r->n_nodes, 1, dims));
    PL_TRY(h5io_write_f64(w, "/operators/latency_share", r->latency_share, 1, dims));
    PL_TRY(h5io_write_f64(w, "/operators/param_share", r->param_share, 1, dims));
    PL_TRY(h5io_write_f64(w, "/operators/score", r->score, 1, dims));
    PL_TRY(h5io_write_i32(w, "/operators/rank", r->rank, 1, dims));
    PL_TRY(h5io_write_attr_string(w, "/operators", "rank_by", e->profile.rank_by));
    PL_TRY(h5io_write_attr_f64(w, "/operators", "latency_weight", e->profile.latency_weight));
    return h5io_write_i32(w, "/ranking", r->ranking, 1, dims);
}

static int write_nodes(h5io_writer *w, const ig_graph *g, const prof_result *r)
{
    int64_t dims[1] = {g->n_nodes};
    const char **ops = pl_xcalloc((size_t)g->n_nodes + 1, sizeof *ops);
    int32_t *ids = pl_xcalloc((size_t)g->n_nodes + 1, sizeof *ids);
    for (int i = 0; i < g->n_nodes; i++) {
        ops[i] = ig_opcode_name(g->nodes[i].op);
        ids[i] = g->nodes[i].operator_id;
    }
    int rc = h5io_write_strings(w, "/nodes/opcodes", ops, g->n_nodes);
    if (rc == PL_OK) rc = h5io_write_i32(w, "/nodes/operator_ids", ids, 1, dims);
    pl_free(ops);
    pl_free(ids);
    PL_TRY(rc);
    PL_TRY(h5io_write_f64(w, "/nodes/flops", r->node_flops, 1, dims));
    PL_TRY(h5io_write_f64(w, "/nodes/bytes", r->node_bytes, 1, dims));
    return h5io_write_f64(w, "/nodes/predicted_ms", r->node_predicted_ms, 1, dims);
}

static int write_model(h5io_writer *w, const cfg_experiment *e, const prof_result *r)
{
    PL_TRY(h5io_write_group(w, "/model"));
    PL_TRY(h5io_write_attr_f64(w, "/model", "latency_ms", r->model.median_ms));
    PL_TRY(h5io_write_attr_f64(w, "/model", "latency_min_ms", r->model.min_ms));
    PL_TRY(h5io_write_attr_f64(w, "/model", "latency_max_ms", r->model.max_ms));
    PL_TRY(h5io_write_attr_f64(w, "/model", "latency_spread_ms", r->model.spread_ms));
    PL_TRY(h5io_write_attr_f64(w, "/model", "sum_operators_ms", r->sum_operators_ms));
    PL_TRY(h5io_write_attr_f64(w, "/model", "predicted_ms", r->model_predicted_ms));
    PL_TRY(h5io_write_attr_f64(w, "/model", "kendall_tau", r->kendall_tau));
    PL_TRY(h5io_write_attr_i64(w, "/model", "params", r->model_params));
    PL_TRY(h5io_write_attr_f64(w, "/model", "flops", r->model_flops));
    return h5io_write_attr_string(w, "/model", "model", e->model.name);
}

static int write_body(h5io_writer *w, const cfg_experiment *e, const ig_graph *g,
                      const prof_result *r)
{
    PL_TRY(h5io_write_group(w, "/latency"));
    PL_TRY(dev_write_provenance(w, "/latency", &r->latency_prov));
    PL_TRY(h5io_write_group(w, "/prediction"));
    PL_TRY(dev_write_provenance(w, "/prediction", &r->prediction_prov));
    PL_TRY(write_operators(w, e, g, r));
    PL_TRY(write_nodes(w, g, r));
    return write_model(w, e, r);
}

int prof_write(const char *path, const cfg_experiment *e, const ig_graph *g,
               const prof_result *r, const char *start_time)
{
    h5io_provenance prov;
    memset(&prov, 0, sizeof prov);
    prov.schema = "gos.profile";
    snprintf(prov.stage, sizeof prov.stage, "profile");
    snprintf(prov.experiment, sizeof prov.experiment, "%s", e->name);
    prov.config_text = e->resolved_text;
    prov.seed = e->seed;
    prov.threads = r->latency_prov.threads;
    snprintf(prov.start_time, sizeof prov.start_time, "%s", start_time ? start_time : "");
    h5io_writer w;
    PL_TRY(h5io_create(&w, path, &prov));
    int rc = write_body(&w, e, g, r);
    if (rc < 0) {
        h5io_abort(&w);
        return rc;
    }
    return h5io_commit(&w);
}
