/* dev_timings.c: the gos.timings artifact (per-operator and whole-model
 * latencies of one graph, their provenance and the graph's output for the
 * fixed timing input) and gos_bench_graph's work: read a graph from any
 * artifact holding one, time it here, write the timings. The same program
 * runs on a real device (cross-built with `make cross`), and
 * dev_remote_time_graph reads what it wrote back. */
#include "dev.h"
#include "pl_err.h"
#include "pl_mem.h"
#include "pl_threads.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define SCHEMA "gos.timings"

int dev_output_node(const ig_graph *g)
{
    int out = -1;
    for (int i = 0; i < g->n_nodes; i++) {
        int op = g->nodes[i].op;
        if (op != IG_OP_INPUT && op != IG_OP_SOFTMAX_XENT) out = i;
    }
    return out;
}

static int64_t node_size(const ig_graph *g, int node)
{
    const ig_shape *s = &g->nodes[node].shape;
    return (int64_t)s->c * s->h * s->w;
}

/* The latencies of t as columns: which = 0 median, 1 min, 2 max, 3 spread. */
static double latency_field(const dev_latency *l, int which)
{
    switch (which) {
    case 0:  return l->median_ms;
    case 1:  return l->min_ms;
    case 2:  return l->max_ms;
    default: return l->spread_ms;
    }
}

static const char *const operator_columns[4] = {"/operators/latency_ms", "/operators/latency_min_ms",
                                                "/operators/latency_max_ms",
                                                "/operators/latency_spread_ms"};
static const char *const model_attrs[4] = {"latency_ms", "latency_min_ms", "latency_max_ms",
                                           "latency_spread_ms"};

static int write_body(h5io_writer *w, const dev_provenance *prov, const ig_graph *g,
                      const dev_graph_timings *t, const float *output, int output_node)
{
    PL_TRY(h5io_write_group(w, "/latency"));
    PL_TRY(dev_write_provenance(w, "/latency", prov));

    int64_t n = t->n_operators;
    size_t rows = (size_t)(n > 0 ? n : 1);
    const char **names = pl_xmalloc(rows * sizeof *names);
    double *col = pl_xmalloc(rows * sizeof *col);
    int64_t *repeats = pl_xmalloc(rows * sizeof *repeats);
    for (int64_t k = 0; k < n; k++) {
        names[k] = g->operators[k].name;
        repeats[k] = t->operators[k].repeats;
    }
    int rc = h5io_write_group(w, "/operators");
    if (rc >= 0) rc = h5io_write_strings(w, "/operators/names", names, n);
    for (int which = 0; which < 4 && rc >= 0; which++) {
        for (int64_t k = 0; k < n; k++) col[k] = latency_field(&t->operators[k], which);
        rc = h5io_write_f64(w, operator_columns[which], col, 1, &n);
    }
    if (rc >= 0) rc = h5io_write_i64(w, "/operators/repeats", repeats, 1, &n);
    pl_free(names);
    pl_free(col);
    pl_free(repeats);
    PL_TRY(rc);

    PL_TRY(h5io_write_group(w, "/model"));
    for (int which = 0; which < 4; which++)
        PL_TRY(h5io_write_attr_f64(w, "/model", model_attrs[which],
                                   latency_field(&t->model, which)));
    PL_TRY(h5io_write_attr_i64(w, "/model", "repeats", t->model.repeats));

    int64_t dims[2] = {prov->batch, node_size(g, output_node)};
    PL_TRY(h5io_write_f32(w, "/output", output, 2, dims));
    PL_TRY(h5io_write_attr_i64(w, "/output", "node", output_node));
    return PL_OK;
}

int dev_timings_write(const char *path, const char *experiment, const char *config_text,
                      const dev_provenance *prov, const ig_graph *g,
                      const dev_graph_timings *t, const float *output, int output_node)
{
    PL_ASSERT(t->n_operators == g->n_operators);
    PL_ASSERT(output_node >= 0 && output_node < g->n_nodes && prov->batch >= 1);
    h5io_provenance hp;
    memset(&hp, 0, sizeof hp);
    hp.schema = SCHEMA;
    snprintf(hp.stage, sizeof hp.stage, "bench_graph");
    snprintf(hp.experiment, sizeof hp.experiment, "%s", experiment ? experiment : "");
    hp.config_text = config_text;
    hp.threads = prov->threads;
    h5io_writer w;
    PL_TRY(h5io_create(&w, path, &hp));
    int rc = write_body(&w, prov, g, t, output, output_node);
    if (rc < 0) {
        h5io_abort(&w);
        return rc;
    }
    return h5io_commit(&w);
}

/* ---- reading ------------------------------------------------------------- */

static int read_string_attr(h5io_reader *r, const char *name, char *dst, size_t n)
{
    char *s = NULL;
    PL_TRY(h5io_read_attr_string(r, "/latency", name, &s));
    snprintf(dst, n, "%s", s);
    pl_free(s);
    return PL_OK;
}

static int read_int_attr(h5io_reader *r, const char *obj, const char *name, int *dst)
{
    int64_t v;
    PL_TRY(h5io_read_attr_i64(r, obj, name, &v));
    *dst = (int)v;
    return PL_OK;
}

static int read_provenance(h5io_reader *r, const char *path, dev_provenance *p)
{
    memset(p, 0, sizeof *p);
    char unit[16];
    PL_TRY(read_string_attr(r, "unit", unit, sizeof unit));
    if (strcmp(unit, "ms") != 0)
        PL_FAIL(PL_ERR_SCHEMA, "%s: /latency@unit: '%s', expected 'ms'", path, unit);
    PL_TRY(read_string_attr(r, "device", p->device, sizeof p->device));
    PL_TRY(read_string_attr(r, "kind", p->kind, sizeof p->kind));
    PL_TRY(read_string_attr(r, "build", p->build, sizeof p->build));
    PL_TRY(read_int_attr(r, "/latency", "batch", &p->batch));
    PL_TRY(read_int_attr(r, "/latency", "threads", &p->threads));
    PL_TRY(read_int_attr(r, "/latency", "warmup_runs", &p->warmup_runs));
    PL_TRY(read_int_attr(r, "/latency", "timed_runs", &p->timed_runs));
    PL_TRY(h5io_read_attr_f64(r, "/latency", "min_run_ms", &p->min_run_ms));
    return PL_OK;
}

/* The operator names of the file against g's. */
static int check_names(h5io_reader *r, const char *path, const ig_graph *g, int64_t *count)
{
    char **names = NULL;
    PL_TRY(h5io_read_strings(r, "/operators/names", &names, count));
    int rc = PL_OK;
    if (g && *count != g->n_operators) {
        rc = pl_error(PL_ERR_SCHEMA, __FILE__, __LINE__,
                      "%s: /operators/names: %lld operators, but the graph has %d (timings of "
                      "another graph?)", path,
                      (long long)*count, g->n_operators);
    } else if (g) {
        for (int64_t k = 0; k < *count; k++)
            if (strcmp(names[k], g->operators[k].name) != 0) {
                rc = pl_error(PL_ERR_SCHEMA, __FILE__, __LINE__,
                              "%s: /operators/names[%lld]: '%s', but the graph's operator %lld "
                              "is '%s' (timings of another graph?)",
                              path, (long long)k, names[k], (long long)k, g->operators[k].name);
                break;
            }
    }
    h5io_free_strings(names, *count);
    return rc;
}

static int check_latency(const char *path, const char *what, const dev_latency *l)
{
    double v[4] = {l->median_ms, l->min_ms, l->max_ms, l->spread_ms};
    for (int k = 0; k < 4; k++)
        if (!isfinite(v[k]) || v[k] < 0)
            PL_FAIL(PL_ERR_SCHEMA, "%s: %s: latency %g ms is not a finite value >= 0", path, what,
                    v[k]);
    if (l->repeats < 1)
        PL_FAIL(PL_ERR_SCHEMA, "%s: %s: repeats %d, must be >= 1", path, what, l->repeats);
    return PL_OK;
}

static int read_body(h5io_reader *r, const char *path, const ig_graph *g, dev_graph_timings *out,
                     dev_provenance *prov)
{
    dev_provenance p;
    PL_TRY(read_provenance(r, path, &p));
    if (prov) *prov = p;
    int64_t n = 0;
    PL_TRY(check_names(r, path, g, &n));
    out->n_operators = (int)n;
    out->operators = pl_xcalloc((size_t)(n > 0 ? n : 1), sizeof *out->operators);
    double *col = pl_xmalloc((size_t)(n > 0 ? n : 1) * sizeof *col);
    int64_t *repeats = pl_xmalloc((size_t)(n > 0 ? n : 1) * sizeof *repeats);
    int rc = PL_OK;
    for (int which = 0; which < 4 && rc >= 0; which++) {
        rc = h5io_read_f64(r, operator_columns[which], col, 1, &n);
        for (int64_t k = 0; k < n && rc >= 0; k++) {
            dev_latency *l = &out->operators[k];
            if (which == 0) l->median_ms = col[k];
            if (which == 1) l->min_ms = col[k];
            if (which == 2) l->max_ms = col[k];
            if (which == 3) l->spread_ms = col[k];
        }
    }
    if (rc >= 0) rc = h5io_read_i64(r, "/operators/repeats", repeats, 1, &n);
    for (int64_t k = 0; k < n && rc >= 0; k++) {
        out->operators[k].repeats = (int)repeats[k];
        out->operators[k].runs = p.timed_runs;
    }
    pl_free(col);
    pl_free(repeats);
    PL_TRY(rc);

    dev_latency *m = &out->model;
    PL_TRY(h5io_read_attr_f64(r, "/model", "latency_ms", &m->median_ms));
    PL_TRY(h5io_read_attr_f64(r, "/model", "latency_min_ms", &m->min_ms));
    PL_TRY(h5io_read_attr_f64(r, "/model", "latency_max_ms", &m->max_ms));
    PL_TRY(h5io_read_attr_f64(r, "/model", "latency_spread_ms", &m->spread_ms));
    PL_TRY(read_int_attr(r, "/model", "repeats", &m->repeats));
    m->runs = p.timed_runs;

    char what[64];
    for (int64_t k = 0; k < n; k++) {
        snprintf(what, sizeof what, "/operators[%lld]", (long long)k);
        PL_TRY(check_latency(path, what, &out->operators[k]));
    }
    PL_TRY(check_latency(path, "/model", m));
    return PL_OK;
}

int dev_timings_read(const char *path, const ig_graph *g, dev_graph_timings *out,
                     dev_provenance *prov)
{
    memset(out, 0, sizeof *out);
    h5io_reader r;
    PL_TRY(h5io_open(&r, path, SCHEMA));
    int rc = read_body(&r, path, g, out, prov);
    h5io_close(&r);
    if (rc < 0) dev_graph_timings_free(out);
    return rc;
}

int dev_timings_read_output(const char *path, float **out, int64_t *batch, int64_t *size,
                            int64_t *node)
{
    *out = NULL;
    h5io_reader r;
    PL_TRY(h5io_open(&r, path, SCHEMA));
    int rank = 0;
    int64_t dims[H5IO_MAX_RANK];
    int rc = h5io_read_f32_alloc(&r, "/output", out, &rank, dims);
    if (rc >= 0) rc = h5io_read_attr_i64(&r, "/output", "node", node);
    h5io_close(&r);
    if (rc < 0) {
        pl_free(*out);
        *out = NULL;
        return rc;
    }
    *batch = dims[0];
    *size = dims[1];
    return PL_OK;
}

int dev_timings_compare_outputs(const char *path_a, const char *path_b, double *max_abs_diff,
                                double *max_abs)
{
    float *a = NULL, *b = NULL;
    int64_t na, sa, nodea, nb, sb, nodeb;
    PL_TRY(dev_timings_read_output(path_a, &a, &na, &sa, &nodea));
    int rc = dev_timings_read_output(path_b, &b, &nb, &sb, &nodeb);
    if (rc >= 0 && (na != nb || sa != sb || nodea != nodeb))
        rc = pl_error(PL_ERR_SCHEMA, __FILE__, __LINE__,
                      "%s and %s: /output of node %lld (%lld, %lld) against node %lld "
                      "(%lld, %lld): not the same graph and batch",
                      path_a, path_b, (long long)nodea, (long long)na, (long long)sa,
                      (long long)nodeb, (long long)nb, (long long)sb);
    if (rc >= 0) {
        double diff = 0, mag = 0;
        for (int64_t i = 0; i < na * sa; i++) {
            double d = fabs((double)a[i] - (double)b[i]);
            if (!(d <= diff)) diff = d; /* NaN propagates */
            if (fabs((double)a[i]) > mag) mag = fabs((double)a[i]);
        }
        *max_abs_diff = diff;
        *max_abs = mag;
    }
    pl_free(a);
    pl_free(b);
    return rc;
}

/* ---- gos_bench_graph ------------------------------------------------------ */

#if defined(__aarch64__)
#define TARGET "aarch64"
#elif defined(__x86_64__)
#define TARGET "x86_64"
#else
#define TARGET "other"
#endif

static int read_graph(const char *path, ig_graph **g, char *experiment, size_t n)
{
    h5io_reader r;
    PL_TRY(h5io_open(&r, path, NULL));
    int rc = PL_OK;
    if (!h5io_exists(&r, "/graph"))
        rc = pl_error(PL_ERR_SCHEMA, __FILE__, __LINE__,
                      "%s: no /graph (a %s artifact; need one holding an instruction graph, "
                      "e.g. gos.baseline)",
                      path, r.schema->name);
    char *exp = NULL;
    if (rc >= 0 && h5io_read_attr_string(&r, "/", "experiment", &exp) >= 0) {
        snprintf(experiment, n, "%s", exp);
        pl_free(exp);
    }
    if (rc >= 0) rc = h5io_read_graph(&r, "/graph", g);
    h5io_close(&r);
    return rc;
}

int dev_bench_graph(const char *graph_path, const char *timings_path,
                    const dev_bench_options *o, dev_graph_timings *summary)
{
    PL_ASSERT(o->batch >= 1);
    ig_graph *g = NULL;
    char experiment[128] = "";
    PL_TRY(read_graph(graph_path, &g, experiment, sizeof experiment));
    int out_node = dev_output_node(g);
    if (out_node < 0) {
        ig_graph_free(g);
        PL_FAIL(PL_ERR_INVAL, "%s: /graph has no node to time (only inputs and a loss)",
                graph_path);
    }

    /* Every run, the untimed first one included, with the threads asked for
     * (the thread count changes the order of sums, hence the output). */
    pl_threads_set(o->timing.threads);
    dev_graph_timings t;
    int rc = dev_time_graph(g, o->batch, &o->timing, &t);
    if (rc < 0) {
        ig_graph_free(g);
        return rc;
    }
    /* One more whole inference, so /output is the value for the fixed input
     * whatever the timed runs left behind. */
    int *nodes = pl_xmalloc((size_t)g->n_nodes * sizeof *nodes);
    int count = dev_inference_nodes(g, nodes);
    for (int i = 0; i < count; i++) ig_forward_node(g, nodes[i]);
    pl_free(nodes);

    cfg_device d;
    memset(&d, 0, sizeof d);
    snprintf(d.name, sizeof d.name, "%s", o->device);
    snprintf(d.kind, sizeof d.kind, "measured");
    d.batch = o->batch;
    dev_provenance prov;
    dev_provenance_init(&prov, &d, &o->timing, NULL);
    size_t used = strlen(prov.build);
    snprintf(prov.build + used, sizeof prov.build - used, ", target %s", TARGET);

    char config[1536];
    snprintf(config, sizeof config,
             "gos_bench_graph: graph = \"%s\"; batch = %d; threads = %d; warmup_runs = %d; "
             "timed_runs = %d; min_run_ms = %.17g; device = \"%s\";\n",
             graph_path, o->batch, o->timing.threads, o->timing.warmup_runs,
             o->timing.timed_runs, o->timing.min_run_ms, o->device);
    rc = dev_timings_write(timings_path, experiment, config, &prov, g, &t, ig_value(g, out_node),
                           out_node);
    if (rc >= 0 && summary)
        *summary = t;
    else
        dev_graph_timings_free(&t);
    ig_graph_free(g);
    return rc;
}
