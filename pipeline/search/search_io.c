/* search_io.c: writes the search artifact (gos.search, schemas/artifacts.md):
 * the adapted model as /graph, each outer-loop step with its chosen DAG,
 * every generation's population, and the summary. */
#include "search_internal.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <string.h>

/* The per-step datasets, by type, in the order of the arrays below. */
static const char *const step_i32_names[4] = {"/steps/replaced", "/steps/evaluations",
                                              "/steps/cache_hits", "/steps/front_size"};
#define STEP_F64 7
#define STEP_F64_OPTIONAL 6 /* recovery_seconds: files before it lack it */
static const char *const step_f64_names[STEP_F64] = {
    "/steps/latency_before_ms", "/steps/latency_after_ms", "/steps/accuracy",
    "/steps/fit_error",         "/steps/seconds",          "/steps/accuracy_recovered",
    "/steps/recovery_seconds"};
static const char *const step_i64_names[2] = {"/steps/params_before", "/steps/params_after"};

int search_write_steps(h5io_writer *w, const search_result *r)
{
    int n = r->n_steps;
    const char **names = pl_xcalloc((size_t)n + 1, sizeof *names);
    int32_t *i32[4];
    double *f64[STEP_F64];
    int64_t *i64[2];
    for (int j = 0; j < 4; j++) i32[j] = pl_xcalloc((size_t)n + 1, sizeof(int32_t));
    for (int j = 0; j < STEP_F64; j++) f64[j] = pl_xcalloc((size_t)n + 1, sizeof(double));
    for (int j = 0; j < 2; j++) i64[j] = pl_xcalloc((size_t)n + 1, sizeof(int64_t));
    gen_dag *chosen = pl_xcalloc((size_t)n + 1, sizeof *chosen);
    for (int s = 0; s < n; s++) {
        const search_step *st = &r->steps[s];
        names[s] = st->name;
        i32[0][s] = st->replaced, i32[1][s] = st->evaluations, i32[2][s] = st->cache_hits;
        i32[3][s] = st->front_size;
        f64[0][s] = st->latency_before_ms, f64[1][s] = st->latency_after_ms;
        f64[2][s] = st->accuracy, f64[3][s] = st->fit_error, f64[4][s] = st->seconds;
        f64[5][s] = st->accuracy_recovered, f64[6][s] = st->recovery_seconds;
        i64[0][s] = st->params_before, i64[1][s] = st->params_after;
        chosen[s] = st->chosen;
    }
    int64_t d[1] = {n};
    int rc = h5io_write_strings(w, "/steps/names", names, n);
    for (int j = 0; j < 4 && rc == PL_OK; j++) rc = h5io_write_i32(w, step_i32_names[j], i32[j], 1, d);
    for (int j = 0; j < STEP_F64 && rc == PL_OK; j++) rc = h5io_write_f64(w, step_f64_names[j], f64[j], 1, d);
    for (int j = 0; j < 2 && rc == PL_OK; j++) rc = h5io_write_i64(w, step_i64_names[j], i64[j], 1, d);
    if (rc == PL_OK) rc = gen_write_dag_table(w, "/chosen", chosen, n);
    pl_free(names);
    pl_free(chosen);
    for (int j = 0; j < 4; j++) pl_free(i32[j]);
    for (int j = 0; j < STEP_F64; j++) pl_free(f64[j]);
    for (int j = 0; j < 2; j++) pl_free(i64[j]);
    return rc;
}

int search_write_generations(h5io_writer *w, const search_result *r)
{
    int n = r->n_records;
    int32_t *i32[3];
    double *f64[5];
    int64_t *i64[2];
    for (int j = 0; j < 3; j++) i32[j] = pl_xcalloc((size_t)n + 1, sizeof(int32_t));
    for (int j = 0; j < 5; j++) f64[j] = pl_xcalloc((size_t)n + 1, sizeof(double));
    for (int j = 0; j < 2; j++) i64[j] = pl_xcalloc((size_t)n + 1, sizeof(int64_t));
    for (int i = 0; i < n; i++) {
        const search_record *c = &r->records[i];
        i32[0][i] = c->step, i32[1][i] = c->generation, i32[2][i] = c->rank;
        f64[0][i] = c->latency_ms, f64[1][i] = c->accuracy, f64[2][i] = c->fit_error;
        f64[3][i] = c->violation, f64[4][i] = c->crowding;
        i64[0][i] = c->params, i64[1][i] = (int64_t)c->struct_hash;
    }
    int64_t d[1] = {n};
    static const char *const i32_names[3] = {"/generations/step", "/generations/generation",
                                             "/generations/rank"};
    static const char *const f64_names[5] = {"/generations/latency_ms", "/generations/accuracy",
                                             "/generations/fit_error", "/generations/violation",
                                             "/generations/crowding"};
    static const char *const i64_names[2] = {"/generations/params", "/generations/struct_hash"};
    int rc = PL_OK;
    for (int j = 0; j < 3 && rc == PL_OK; j++) rc = h5io_write_i32(w, i32_names[j], i32[j], 1, d);
    for (int j = 0; j < 5 && rc == PL_OK; j++) rc = h5io_write_f64(w, f64_names[j], f64[j], 1, d);
    for (int j = 0; j < 2 && rc == PL_OK; j++) rc = h5io_write_i64(w, i64_names[j], i64[j], 1, d);
    for (int j = 0; j < 3; j++) pl_free(i32[j]);
    for (int j = 0; j < 5; j++) pl_free(f64[j]);
    for (int j = 0; j < 2; j++) pl_free(i64[j]);
    return rc;
}

int search_write(const char *path, h5io_provenance *prov, const dev_provenance *latency,
                 const search_options *o, int n_val, int input_node, int logits_node,
                 const search_result *r)
{
    prov->schema = "gos.search";
    h5io_writer w;
    PL_TRY(h5io_create(&w, path, prov));
    int replaced = 0;
    for (int s = 0; s < r->n_steps; s++) replaced += r->steps[s].replaced;
    int rc = h5io_write_graph(&w, "/graph", r->model);
    if (rc == PL_OK) rc = h5io_write_group(&w, "/latency");
    if (rc == PL_OK) rc = dev_write_provenance(&w, "/latency", latency);
    if (rc == PL_OK) rc = search_write_steps(&w, r);
    if (rc == PL_OK) rc = search_write_generations(&w, r);
    if (rc == PL_OK) rc = h5io_write_group(&w, "/summary");
    if (rc == PL_OK) rc = h5io_write_attr_f64(&w, "/summary", "base_accuracy", r->base_accuracy);
    if (rc == PL_OK) rc = h5io_write_attr_f64(&w, "/summary", "base_latency_ms", r->base_latency_ms);
    if (rc == PL_OK) rc = h5io_write_attr_f64(&w, "/summary", "final_latency_ms", r->final_latency_ms);
    if (rc == PL_OK) rc = h5io_write_attr_f64(&w, "/summary", "epsilon", o->epsilon);
    if (rc == PL_OK)
        rc = h5io_write_attr_f64(&w, "/summary", "finetune_slack", o->finetune_slack);
    if (rc == PL_OK) rc = h5io_write_attr_i64(&w, "/summary", "validation_images", n_val);
    if (rc == PL_OK) rc = h5io_write_attr_i64(&w, "/summary", "evaluations", r->evaluations);
    if (rc == PL_OK) rc = h5io_write_attr_i64(&w, "/summary", "cache_hits", r->cache_hits);
    if (rc == PL_OK) rc = h5io_write_attr_i64(&w, "/summary", "replaced", replaced);
    if (rc == PL_OK) rc = h5io_write_attr_i64(&w, "/summary", "input_node", input_node);
    if (rc == PL_OK) rc = h5io_write_attr_i64(&w, "/summary", "logits_node", logits_node);
    if (rc < 0) {
        h5io_abort(&w);
        return rc;
    }
    return h5io_commit(&w);
}

/* ---- reading back (for the checkpoint) ---------------------------------- */

int search_read_history(h5io_reader *h, const char *file, search_result *r)
{
    char **names = NULL;
    int64_t n = 0, dims[H5IO_MAX_RANK];
    int rank;
    PL_TRY(h5io_read_strings(h, "/steps/names", &names, &n));
    int32_t *i32[4] = {0};
    double *f64[STEP_F64] = {0};
    int64_t *i64[2] = {0};
    int rc = PL_OK;
    for (int j = 0; j < 4 && rc == PL_OK; j++) rc = h5io_read_i32_alloc(h, step_i32_names[j], &i32[j], &rank, dims);
    for (int j = 0; j < STEP_F64 && rc == PL_OK; j++) {
        if (j == STEP_F64_OPTIONAL && !h5io_exists(h, step_f64_names[j])) { /* older file */
            f64[j] = pl_xcalloc((size_t)n + 1, sizeof(double));
            continue;
        }
        rc = h5io_read_f64_alloc(h, step_f64_names[j], &f64[j], &rank, dims);
    }
    for (int j = 0; j < 2 && rc == PL_OK; j++) rc = h5io_read_i64_alloc(h, step_i64_names[j], &i64[j], &rank, dims);
    gen_dag *chosen = NULL;
    int n_chosen = 0;
    if (rc == PL_OK) rc = gen_read_dag_table(h, file, "/chosen", &chosen, &n_chosen);
    if (rc == PL_OK && n_chosen != n)
        rc = pl_error(PL_ERR_SCHEMA, __FILE__, __LINE__, "%s: /chosen has %d DAGs for %lld steps",
                      file, n_chosen, (long long)n);
    if (rc == PL_OK) {
        r->n_steps = r->cap_steps = (int)n;
        r->steps = pl_xcalloc((size_t)n + 1, sizeof *r->steps);
        for (int s = 0; s < n; s++) {
            search_step *st = &r->steps[s];
            snprintf(st->name, sizeof st->name, "%s", names[s]);
            st->replaced = i32[0][s], st->evaluations = i32[1][s], st->cache_hits = i32[2][s];
            st->front_size = i32[3][s];
            st->latency_before_ms = f64[0][s], st->latency_after_ms = f64[1][s];
            st->accuracy = f64[2][s], st->fit_error = f64[3][s], st->seconds = f64[4][s];
            st->accuracy_recovered = f64[5][s], st->recovery_seconds = f64[6][s];
            st->params_before = i64[0][s], st->params_after = i64[1][s];
            st->chosen = chosen[s];
        }
    }
    h5io_free_strings(names, n);
    pl_free(chosen);
    for (int j = 0; j < 4; j++) pl_free(i32[j]);
    for (int j = 0; j < STEP_F64; j++) pl_free(f64[j]);
    for (int j = 0; j < 2; j++) pl_free(i64[j]);
    PL_TRY(rc);

    int32_t *gi[3] = {0};
    double *gf[5] = {0};
    int64_t *gl[2] = {0};
    static const char *const gi_names[3] = {"/generations/step", "/generations/generation",
                                            "/generations/rank"};
    static const char *const gf_names[5] = {"/generations/latency_ms", "/generations/accuracy",
                                            "/generations/fit_error", "/generations/violation",
                                            "/generations/crowding"};
    static const char *const gl_names[2] = {"/generations/params", "/generations/struct_hash"};
    for (int j = 0; j < 3 && rc == PL_OK; j++) rc = h5io_read_i32_alloc(h, gi_names[j], &gi[j], &rank, dims);
    int64_t m = rc == PL_OK ? dims[0] : 0;
    for (int j = 0; j < 5 && rc == PL_OK; j++) rc = h5io_read_f64_alloc(h, gf_names[j], &gf[j], &rank, dims);
    for (int j = 0; j < 2 && rc == PL_OK; j++) rc = h5io_read_i64_alloc(h, gl_names[j], &gl[j], &rank, dims);
    if (rc == PL_OK) {
        r->n_records = r->cap_records = (int)m;
        r->records = pl_xcalloc((size_t)m + 1, sizeof *r->records);
        for (int64_t i = 0; i < m; i++)
            r->records[i] = (search_record){
                .step = gi[0][i], .generation = gi[1][i], .rank = gi[2][i],
                .latency_ms = gf[0][i], .accuracy = gf[1][i], .fit_error = gf[2][i],
                .violation = gf[3][i], .crowding = gf[4][i], .params = gl[0][i],
                .struct_hash = (uint64_t)gl[1][i]};
    }
    for (int j = 0; j < 3; j++) pl_free(gi[j]);
    for (int j = 0; j < 5; j++) pl_free(gf[j]);
    for (int j = 0; j < 2; j++) pl_free(gl[j]);
    return rc;
}
