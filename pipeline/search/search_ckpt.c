/* search_ckpt.c: the search's checkpoint (gos.search_checkpoint,
 * schemas/artifacts.md), written atomically after every generation and
 * every finished operator: the current model, the history so far, the step
 * under way (its population, cache and counters), and the state of every
 * random stream, so a resumed search continues exactly where it stopped. */
#include "search_internal.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <string.h>
#include <unistd.h>

enum { N_FIELDS = 8, N_INTS = 3 };

/* A candidate's numbers as one row of doubles and one of integers. */
static void pack(const search_cand *c, double *f, int64_t *i)
{
    f[0] = c->latency_ms, f[1] = c->accuracy, f[2] = c->fit_error, f[3] = c->fit.obj[0];
    f[4] = c->fit.obj[1], f[5] = c->fit.violation, f[6] = c->fit.crowding, f[7] = c->fit.rank;
    i[0] = c->params, i[1] = (int64_t)c->struct_hash, i[2] = (int64_t)c->func_hash;
}

static void unpack(search_cand *c, const double *f, const int64_t *i)
{
    c->latency_ms = f[0], c->accuracy = f[1], c->fit_error = f[2], c->fit.obj[0] = f[3];
    c->fit.obj[1] = f[4], c->fit.violation = f[5], c->fit.crowding = f[6];
    c->fit.rank = (int)f[7];
    c->params = i[0], c->struct_hash = (uint64_t)i[1], c->func_hash = (uint64_t)i[2];
}

static int write_cands(h5io_writer *w, const char *group, const search_cand *c, int n)
{
    gen_dag *dags = pl_xcalloc((size_t)n + 1, sizeof *dags);
    double *f = pl_xcalloc((size_t)n * N_FIELDS + 1, sizeof *f);
    int64_t *i = pl_xcalloc((size_t)n * N_INTS + 1, sizeof *i);
    for (int k = 0; k < n; k++) {
        dags[k] = c[k].dag;
        pack(&c[k], f + (size_t)k * N_FIELDS, i + (size_t)k * N_INTS);
    }
    char path[128];
    int64_t df[2] = {n, N_FIELDS}, di[2] = {n, N_INTS};
    int rc = gen_write_dag_table(w, group, dags, n);
    snprintf(path, sizeof path, "%s/numbers", group);
    if (rc == PL_OK) rc = h5io_write_f64(w, path, f, 2, df);
    snprintf(path, sizeof path, "%s/integers", group);
    if (rc == PL_OK) rc = h5io_write_i64(w, path, i, 2, di);
    pl_free(dags);
    pl_free(f);
    pl_free(i);
    return rc;
}

/* PL_OK when the table dset of file has shape (rows, cols), else an error
 * naming both. */
static int check_table(const char *file, const char *dset, int rank, const int64_t *dims,
                       int rows, int cols)
{
    if (rank == 2 && dims[0] == rows && dims[1] == cols) return PL_OK;
    PL_FAIL(PL_ERR_SCHEMA, "%s: %s: expected shape (%d, %d) for %d DAGs, found rank %d (%lld, "
            "%lld)", file, dset, rows, cols, rows, rank, (long long)dims[0],
            rank > 1 ? (long long)dims[1] : 0LL);
}

static int read_cands(h5io_reader *h, const char *file, const char *group, search_cand **out,
                      int *count)
{
    gen_dag *dags = NULL;
    int n = 0, rank;
    PL_TRY(gen_read_dag_table(h, file, group, &dags, &n));
    double *f = NULL;
    int64_t *i = NULL, dims[H5IO_MAX_RANK];
    char path[128];
    snprintf(path, sizeof path, "%s/numbers", group);
    int rc = h5io_read_f64_alloc(h, path, &f, &rank, dims);
    if (rc == PL_OK) rc = check_table(file, path, rank, dims, n, N_FIELDS);
    snprintf(path, sizeof path, "%s/integers", group);
    if (rc == PL_OK) rc = h5io_read_i64_alloc(h, path, &i, &rank, dims);
    if (rc == PL_OK) rc = check_table(file, path, rank, dims, n, N_INTS);
    search_cand *c = NULL;
    if (rc == PL_OK) {
        c = pl_xcalloc((size_t)n + 1, sizeof *c);
        for (int k = 0; k < n; k++) {
            c[k].dag = dags[k];
            unpack(&c[k], f + (size_t)k * N_FIELDS, i + (size_t)k * N_INTS);
        }
    }
    pl_free(dags);
    pl_free(f);
    pl_free(i);
    *out = c;
    *count = n;
    return rc;
}

/* The random streams' states as int64 words, (RNG_COUNT, words). */
static int write_rngs(h5io_writer *w, const search_state *st)
{
    size_t bytes = gsl_rng_size(st->rng[0]);
    size_t words = (bytes + 7) / 8;
    int64_t *data = pl_xcalloc((size_t)RNG_COUNT * words, sizeof *data);
    for (int k = 0; k < RNG_COUNT; k++)
        memcpy(data + (size_t)k * words, gsl_rng_state(st->rng[k]), bytes);
    int64_t dims[2] = {RNG_COUNT, (int64_t)words};
    int rc = h5io_write_i64(w, "/rng", data, 2, dims);
    pl_free(data);
    return rc;
}

static int write_body(h5io_writer *w, const char *fingerprint, const search_state *st)
{
    const search_result *r = st->r;
    PL_TRY(h5io_write_graph(w, "/graph", r->model));
    PL_TRY(search_write_steps(w, r));
    PL_TRY(search_write_generations(w, r));
    int64_t d[1] = {st->n_ops};
    PL_TRY(h5io_write_f64(w, "/ms", st->ms, 1, d));
    PL_TRY(h5io_write_i32(w, "/tried", st->tried, 1, d));
    PL_TRY(h5io_write_group(w, "/state"));
    PL_TRY(h5io_write_attr_string(w, "/state", "fingerprint", fingerprint ? fingerprint : ""));
    const char *ints[] = {"in_step", "target", "generation", "replaced", "input_node",
                          "logits_node", "evaluations", "cache_hits", "step_evaluations",
                          "step_cache_hits"};
    int64_t values[] = {st->in_step, st->target, st->generation, st->replaced, r->input_node,
                        r->logits_node, r->evaluations, r->cache_hits, st->x.evaluations,
                        st->x.cache_hits};
    for (int k = 0; k < 10; k++) PL_TRY(h5io_write_attr_i64(w, "/state", ints[k], values[k]));
    PL_TRY(h5io_write_attr_f64(w, "/state", "base_accuracy", r->base_accuracy));
    PL_TRY(h5io_write_attr_f64(w, "/state", "base_latency_ms", r->base_latency_ms));
    PL_TRY(h5io_write_attr_f64(w, "/state", "step_seconds", st->step_seconds));
    int P = st->in_step && st->generation >= 0 ? st->x.o->population : 0;
    PL_TRY(write_cands(w, "/population", st->pop, P));
    PL_TRY(write_cands(w, "/cache", st->x.cache, st->in_step ? st->x.n_cache : 0));
    if (st->in_step) return write_rngs(w, st);
    int64_t dims[2] = {RNG_COUNT, 0}, none = 0; /* between steps: no streams */
    return h5io_write_i64(w, "/rng", &none, 2, dims);
}

int search_ckpt_write(const char *path, const char *fingerprint, const search_state *st)
{
    h5io_provenance prov;
    memset(&prov, 0, sizeof prov);
    prov.schema = "gos.search_checkpoint";
    snprintf(prov.stage, sizeof prov.stage, "search");
    h5io_writer w;
    PL_TRY(h5io_create(&w, path, &prov));
    int rc = write_body(&w, fingerprint, st);
    if (rc < 0) {
        h5io_abort(&w);
        return rc;
    }
    return h5io_commit(&w);
}

static int read_state(h5io_reader *h, const char *path, const char *fingerprint,
                      const search_options *o, search_state *st)
{
    search_result *r = st->r;
    char *fp = NULL;
    PL_TRY(h5io_read_attr_string(h, "/state", "fingerprint", &fp));
    int same = strcmp(fp, fingerprint ? fingerprint : "") == 0;
    pl_free(fp);
    if (!same)
        PL_FAIL(PL_ERR_SCHEMA, "%s: a checkpoint of another configuration (fingerprint "
                "differs); remove it to start over", path);
    PL_TRY(h5io_read_graph(h, "/graph", &r->model));
    PL_TRY(search_read_history(h, path, r));
    int rank;
    int64_t dims[H5IO_MAX_RANK];
    PL_TRY(h5io_read_f64_alloc(h, "/ms", &st->ms, &rank, dims));
    st->n_ops = (int)dims[0];
    PL_TRY(h5io_read_i32_alloc(h, "/tried", &st->tried, &rank, dims));
    if (rank != 1 || st->n_ops != r->model->n_operators || dims[0] != st->n_ops)
        PL_FAIL(PL_ERR_SCHEMA, "%s: /ms and /tried do not match the model's %d operators", path,
                r->model->n_operators);
    int64_t v[10];
    const char *ints[] = {"in_step", "target", "generation", "replaced", "input_node",
                          "logits_node", "evaluations", "cache_hits", "step_evaluations",
                          "step_cache_hits"};
    for (int k = 0; k < 10; k++) PL_TRY(h5io_read_attr_i64(h, "/state", ints[k], &v[k]));
    st->in_step = (int)v[0], st->target = (int)v[1], st->generation = (int)v[2];
    st->replaced = (int)v[3], r->input_node = (int)v[4], r->logits_node = (int)v[5];
    r->evaluations = v[6], r->cache_hits = v[7];
    st->x.evaluations = v[8], st->x.cache_hits = v[9];
    PL_TRY(h5io_read_attr_f64(h, "/state", "base_accuracy", &r->base_accuracy));
    PL_TRY(h5io_read_attr_f64(h, "/state", "base_latency_ms", &r->base_latency_ms));
    PL_TRY(h5io_read_attr_f64(h, "/state", "step_seconds", &st->step_seconds));
    if (st->in_step && (st->target < 0 || st->target >= st->n_ops || r->n_steps < 1))
        PL_FAIL(PL_ERR_SCHEMA, "%s: /state: a step under way without its operator", path);
    search_cand *pop = NULL;
    int n_pop = 0;
    PL_TRY(read_cands(h, path, "/population", &pop, &n_pop));
    if (n_pop > 0 && n_pop != o->population) {
        pl_free(pop);
        PL_FAIL(PL_ERR_SCHEMA, "%s: a population of %d, the config asks for %d", path, n_pop,
                o->population);
    }
    if (n_pop > 0) memcpy(st->pop, pop, (size_t)n_pop * sizeof *pop);
    pl_free(pop);
    PL_TRY(read_cands(h, path, "/cache", &st->x.cache, &st->x.n_cache));
    st->x.cap_cache = st->x.n_cache;
    if (!st->in_step) return PL_OK;
    int64_t *data = NULL;
    PL_TRY(h5io_read_i64_alloc(h, "/rng", &data, &rank, dims));
    int rc = PL_OK;
    for (int k = 0; k < RNG_COUNT && rc == PL_OK; k++) {
        st->rng[k] = gsl_rng_alloc(gsl_rng_mt19937);
        size_t bytes = gsl_rng_size(st->rng[k]);
        if (rank != 2 || dims[0] != RNG_COUNT || (size_t)dims[1] * 8 < bytes)
            rc = pl_error(PL_ERR_SCHEMA, __FILE__, __LINE__, "%s: /rng: streams of another "
                          "generator", path);
        else
            memcpy(gsl_rng_state(st->rng[k]), data + (size_t)k * dims[1], bytes);
    }
    pl_free(data);
    return rc;
}

int search_ckpt_read(const char *path, const char *fingerprint, const search_options *o,
                     search_state *st)
{
    if (access(path, F_OK) != 0) return 0;
    h5io_reader h;
    PL_TRY(h5io_open(&h, path, "gos.search_checkpoint"));
    int rc = read_state(&h, path, fingerprint, o, st);
    h5io_close(&h);
    return rc < 0 ? rc : 1;
}
