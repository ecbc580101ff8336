/* report_read.c: finds the experiments of a results folder and reads what
 * the tables and plots need from their gos.validate, gos.search and
 * gos.graphs artifacts (schemas/artifacts.md). */
#include "report.h"

#include "h5io.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = pl_xmalloc(n);
    snprintf(p, n, "%s/%s", a, b);
    return p;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* ---- gos.validate ----------------------------------------------------------- */

static void validate_free(rp_validate *v)
{
    if (!v) return;
    pl_free(v->model);
    pl_free(v->device);
    pl_free(v->kind);
    pl_free(v->config);
    pl_free(v);
}

int rp_read_validate(const char *path, rp_validate **out)
{
    *out = NULL;
    h5io_reader r;
    int rc = h5io_open(&r, path, "gos.validate");
    if (rc < 0) return rc;
    rp_validate *v = pl_xcalloc(1, sizeof *v);
    if (rc == PL_OK) rc = h5io_read_attr_string(&r, "/summary", "model", &v->model);
    if (rc == PL_OK) rc = h5io_read_attr_string(&r, "/summary", "device", &v->device);
    if (rc == PL_OK) rc = h5io_read_attr_string(&r, "/latency", "kind", &v->kind);
    if (rc == PL_OK) rc = h5io_read_attr_string(&r, "/", "config", &v->config);
    if (rc == PL_OK) rc = h5io_read_attr_f64(&r, "/original", "latency_ms", &v->orig_ms);
    if (rc == PL_OK) rc = h5io_read_attr_f64(&r, "/adapted", "latency_ms", &v->adapt_ms);
    if (rc == PL_OK) rc = h5io_read_attr_f64(&r, "/original", "accuracy", &v->orig_acc);
    if (rc == PL_OK) rc = h5io_read_attr_f64(&r, "/adapted", "accuracy", &v->adapt_acc);
    if (rc == PL_OK) rc = h5io_read_attr_i64(&r, "/original", "params", &v->orig_params);
    if (rc == PL_OK) rc = h5io_read_attr_i64(&r, "/adapted", "params", &v->adapt_params);
    if (rc == PL_OK) rc = h5io_read_attr_f64(&r, "/summary", "speedup", &v->speedup);
    if (rc == PL_OK) rc = h5io_read_attr_f64(&r, "/summary", "accuracy_change", &v->acc_change);
    if (rc == PL_OK) rc = h5io_read_attr_f64(&r, "/summary", "epsilon", &v->epsilon);
    if (rc == PL_OK) rc = h5io_read_attr_i64(&r, "/summary", "within_epsilon", &v->within);
    if (rc == PL_OK)
        rc = h5io_read_attr_i64(&r, "/summary", "operators_replaced", &v->replaced);
    h5io_close(&r);
    if (rc < 0) {
        validate_free(v);
        return rc;
    }
    *out = v;
    return PL_OK;
}

/* ---- gos.search ------------------------------------------------------------- */

/* Short hyperparameters of one instruction, "" for none. */
static void op_args(char *buf, size_t n, const char *op, const int32_t *a)
{
    buf[0] = '\0';
    if (!strcmp(op, "conv2d") || !strcmp(op, "dwconv2d")) {
        int len = snprintf(buf, n, "(%dx%d,s%d", a[1], a[2], a[3]);
        if (!strcmp(op, "conv2d") && a[7] > 1 && len > 0 && (size_t)len < n)
            len += snprintf(buf + len, n - (size_t)len, ",g%d", a[7]);
        if (len > 0 && (size_t)len < n) snprintf(buf + len, n - (size_t)len, ")");
    } else if (!strcmp(op, "pwconv2d") && a[7] > 1) {
        snprintf(buf, n, "(g%d)", a[7]);
    } else if (!strcmp(op, "maxpool") || !strcmp(op, "avgpool")) {
        snprintf(buf, n, "(%dx%d,s%d)", a[0], a[1], a[2]);
    } else if (!strcmp(op, "channel_shuffle")) {
        snprintf(buf, n, "(g%d)", a[0]);
    }
}

void rp_dag_string(char *buf, size_t n, char *const *opcodes, const int32_t *attrs,
                   int64_t first, int32_t n_nodes, int32_t n_inputs)
{
    if (n == 0) return;
    buf[0] = '\0';
    size_t len = 0;
    int truncated = 0;
    for (int32_t i = n_inputs; i < n_nodes; i++) {
        int64_t row = first + i;
        char args[64];
        op_args(args, sizeof args, opcodes[row], attrs + row * 10);
        char piece[128];
        int k = snprintf(piece, sizeof piece, "%s%s%s", len ? ">" : "", opcodes[row], args);
        if (k < 0) break;
        if (len + (size_t)k + 4 >= n) {
            truncated = 1;
            break;
        }
        memcpy(buf + len, piece, (size_t)k + 1);
        len += (size_t)k;
    }
    if (truncated && len + 4 <= n) memcpy(buf + len, "...", 4);
}

static void search_free(rp_search *s)
{
    if (!s) return;
    pl_free(s->kind);
    pl_free(s->device);
    if (s->names) h5io_free_strings(s->names, s->n_steps);
    for (int64_t i = 0; s->chosen && i < s->n_steps; i++) pl_free(s->chosen[i]);
    pl_free(s->chosen);
    pl_free(s->replaced);
    pl_free(s->lat_before);
    pl_free(s->lat_after);
    pl_free(s->accuracy);
    pl_free(s->accuracy_recovered);
    pl_free(s->params_before);
    pl_free(s->params_after);
    pl_free(s->gen_step);
    pl_free(s->gen_generation);
    pl_free(s->gen_latency);
    pl_free(s->gen_violation);
    pl_free(s->gen_params);
    pl_free(s);
}

/* Reads a 1-D dataset of n_expected rows (h5io_check has compared the
 * extents named alike; this guards the ones it cannot). */
#define READ_1D(fn, r, dset, outp, n_expected, rc)                                   \
    do {                                                                             \
        int rank_;                                                                   \
        int64_t dims_[H5IO_MAX_RANK];                                                \
        if ((rc) == PL_OK) (rc) = fn((r), (dset), (outp), &rank_, dims_);            \
        if ((rc) == PL_OK && (rank_ != 1 || dims_[0] != (n_expected)))               \
            (rc) = pl_error(PL_ERR_SCHEMA, __FILE__, __LINE__,                       \
                            "%s: %s: %lld rows, expected %lld", (r)->path, (dset),   \
                            (long long)(rank_ == 1 ? dims_[0] : -1),                 \
                            (long long)(n_expected));                                \
    } while (0)

static int read_chosen(h5io_reader *r, rp_search *s)
{
    char **ops = NULL;
    int64_t rows = 0;
    int32_t *attrs = NULL, *n_nodes = NULL, *n_inputs = NULL;
    int64_t *first = NULL;
    int rank;
    int64_t dims[H5IO_MAX_RANK];
    int rc = h5io_read_strings(r, "/chosen/opcodes", &ops, &rows);
    if (rc == PL_OK) rc = h5io_read_i32_alloc(r, "/chosen/attrs", &attrs, &rank, dims);
    if (rc == PL_OK && (rank != 2 || dims[0] != rows || dims[1] != 10))
        rc = pl_error(PL_ERR_SCHEMA, __FILE__, __LINE__, "%s: /chosen/attrs: not (%lld, 10)",
                      r->path, (long long)rows);
    READ_1D(h5io_read_i64_alloc, r, "/chosen/first", &first, s->n_steps, rc);
    READ_1D(h5io_read_i32_alloc, r, "/chosen/n_nodes", &n_nodes, s->n_steps, rc);
    READ_1D(h5io_read_i32_alloc, r, "/chosen/n_inputs", &n_inputs, s->n_steps, rc);
    if (rc == PL_OK) {
        s->chosen = pl_xcalloc((size_t)s->n_steps + 1, sizeof *s->chosen);
        for (int64_t i = 0; i < s->n_steps && rc == PL_OK; i++) {
            if (first[i] < 0 || n_nodes[i] < 0 || n_inputs[i] < 0 || n_inputs[i] > n_nodes[i] ||
                first[i] + n_nodes[i] > rows) {
                rc = pl_error(PL_ERR_SCHEMA, __FILE__, __LINE__,
                              "%s: /chosen: step %lld's rows [%lld, +%d) are outside the "
                              "%lld-row node table", r->path, (long long)i, (long long)first[i],
                              n_nodes[i], (long long)rows);
                break;
            }
            char buf[256];
            rp_dag_string(buf, sizeof buf, ops, attrs, first[i], n_nodes[i], n_inputs[i]);
            s->chosen[i] = pl_xstrdup(buf);
        }
    }
    if (ops) h5io_free_strings(ops, rows);
    pl_free(attrs);
    pl_free(first);
    pl_free(n_nodes);
    pl_free(n_inputs);
    return rc;
}

int rp_read_search(const char *path, rp_search **out)
{
    *out = NULL;
    h5io_reader r;
    int rc = h5io_open(&r, path, "gos.search");
    if (rc < 0) return rc;
    rp_search *s = pl_xcalloc(1, sizeof *s);
    if (rc == PL_OK) rc = h5io_read_attr_string(&r, "/latency", "kind", &s->kind);
    if (rc == PL_OK) rc = h5io_read_attr_string(&r, "/latency", "device", &s->device);
    if (rc == PL_OK) rc = h5io_read_strings(&r, "/steps/names", &s->names, &s->n_steps);
    int64_t n = s->n_steps;
    READ_1D(h5io_read_i32_alloc, &r, "/steps/replaced", &s->replaced, n, rc);
    READ_1D(h5io_read_f64_alloc, &r, "/steps/latency_before_ms", &s->lat_before, n, rc);
    READ_1D(h5io_read_f64_alloc, &r, "/steps/latency_after_ms", &s->lat_after, n, rc);
    READ_1D(h5io_read_f64_alloc, &r, "/steps/accuracy", &s->accuracy, n, rc);
    READ_1D(h5io_read_f64_alloc, &r, "/steps/accuracy_recovered", &s->accuracy_recovered, n, rc);
    READ_1D(h5io_read_i64_alloc, &r, "/steps/params_before", &s->params_before, n, rc);
    READ_1D(h5io_read_i64_alloc, &r, "/steps/params_after", &s->params_after, n, rc);
    if (rc == PL_OK) rc = read_chosen(&r, s);
    int rank;
    int64_t dims[H5IO_MAX_RANK];
    if (rc == PL_OK) rc = h5io_read_i32_alloc(&r, "/generations/step", &s->gen_step, &rank, dims);
    if (rc == PL_OK) s->n_members = dims[0];
    int64_t m = s->n_members;
    READ_1D(h5io_read_i32_alloc, &r, "/generations/generation", &s->gen_generation, m, rc);
    READ_1D(h5io_read_f64_alloc, &r, "/generations/latency_ms", &s->gen_latency, m, rc);
    READ_1D(h5io_read_f64_alloc, &r, "/generations/violation", &s->gen_violation, m, rc);
    READ_1D(h5io_read_i64_alloc, &r, "/generations/params", &s->gen_params, m, rc);
    for (int64_t i = 0; rc == PL_OK && i < m; i++)
        if (s->gen_step[i] < 0 || s->gen_step[i] >= n)
            rc = pl_error(PL_ERR_SCHEMA, __FILE__, __LINE__,
                          "%s: /generations/step: row %lld names step %d of %lld", path,
                          (long long)i, s->gen_step[i], (long long)n);
    h5io_close(&r);
    if (rc < 0) {
        search_free(s);
        return rc;
    }
    *out = s;
    return PL_OK;
}

/* ---- gos.graphs ------------------------------------------------------------- */

static void graphs_free(rp_graphs *g)
{
    if (!g) return;
    if (g->names) h5io_free_strings(g->names, g->n_ops);
    pl_free(g->n);
    pl_free(g->valid);
    pl_free(g->fit);
    pl_free(g->median_ratio);
    pl_free(g);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int rp_read_graphs(const char *path, rp_graphs **out)
{
    *out = NULL;
    h5io_reader r;
    int rc = h5io_open(&r, path, "gos.graphs");
    if (rc < 0) return rc;
    rp_graphs *g = pl_xcalloc(1, sizeof *g);
    int32_t *op = NULL, *kind = NULL, *valid = NULL, *fit = NULL;
    double *ratio = NULL;
    int64_t samples = 0;
    int rank;
    int64_t dims[H5IO_MAX_RANK];
    if (rc == PL_OK) rc = h5io_read_strings(&r, "/operators/names", &g->names, &g->n_ops);
    if (rc == PL_OK) rc = h5io_read_i32_alloc(&r, "/study/operator", &op, &rank, dims);
    if (rc == PL_OK) samples = dims[0];
    READ_1D(h5io_read_i32_alloc, &r, "/study/kind", &kind, samples, rc);
    READ_1D(h5io_read_i32_alloc, &r, "/study/valid", &valid, samples, rc);
    READ_1D(h5io_read_i32_alloc, &r, "/study/fit_ok", &fit, samples, rc);
    READ_1D(h5io_read_f64_alloc, &r, "/study/latency_ratio", &ratio, samples, rc);
    for (int64_t i = 0; rc == PL_OK && i < samples; i++)
        if (op[i] < 0 || op[i] >= g->n_ops || kind[i] < 0 || kind[i] > 1)
            rc = pl_error(PL_ERR_SCHEMA, __FILE__, __LINE__,
                          "%s: /study: row %lld has operator %d (of %lld) and kind %d", path,
                          (long long)i, op[i], (long long)g->n_ops, kind[i]);
    if (rc == PL_OK) {
        size_t cells = (size_t)g->n_ops * 2;
        g->n = pl_xcalloc(cells + 1, sizeof *g->n);
        g->valid = pl_xcalloc(cells + 1, sizeof *g->valid);
        g->fit = pl_xcalloc(cells + 1, sizeof *g->fit);
        g->median_ratio = pl_xcalloc(cells + 1, sizeof *g->median_ratio);
        double *tmp = pl_xmalloc(((size_t)samples + 1) * sizeof *tmp);
        for (size_t c = 0; c < cells; c++) {
            int64_t k = 0;
            for (int64_t i = 0; i < samples; i++) {
                if ((size_t)(op[i] * 2 + kind[i]) != c) continue;
                g->n[c]++;
                if (valid[i]) {
                    g->valid[c]++;
                    if (isfinite(ratio[i])) tmp[k++] = ratio[i];
                }
                if (fit[i]) g->fit[c]++;
            }
            if (k == 0) {
                g->median_ratio[c] = NAN;
            } else {
                qsort(tmp, (size_t)k, sizeof *tmp, cmp_double);
                g->median_ratio[c] = k % 2 ? tmp[k / 2] : 0.5 * (tmp[k / 2 - 1] + tmp[k / 2]);
            }
        }
        pl_free(tmp);
    }
    pl_free(op);
    pl_free(kind);
    pl_free(valid);
    pl_free(fit);
    pl_free(ratio);
    h5io_close(&r);
    if (rc < 0) {
        graphs_free(g);
        return rc;
    }
    *out = g;
    return PL_OK;
}

/* ---- the results folder ----------------------------------------------------- */

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* Seconds since the epoch of an artifact's "YYYY-MM-DDTHH:MM:SSZ", or NaN. */
static double iso8601_seconds(const char *text)
{
    struct tm utc;
    memset(&utc, 0, sizeof utc);
    const char *end = text ? strptime(text, "%Y-%m-%dT%H:%M:%SZ", &utc) : NULL;
    return end && !*end ? (double)timegm(&utc) : NAN;
}

/* Minutes the stages after train took for the experiment in dir: the sum of
 * end_time - start_time of its profile, graphs, search, adapted and validate
 * artifacts (a result reused from the store counts the run that made it);
 * NaN when one is missing or unreadable. */
static double stage_minutes(const char *dir)
{
    static const char *const files[] = {"profile.h5", "graphs.h5", "search.h5", "adapted.h5",
                                        "validate.h5"};
    double seconds = 0;
    for (size_t k = 0; k < sizeof files / sizeof *files && isfinite(seconds); k++) {
        char *path = path_join(dir, files[k]), *start = NULL, *end = NULL;
        h5io_reader r;
        int rc = file_exists(path) ? h5io_open(&r, path, NULL) : PL_ERR_IO;
        if (rc == PL_OK) {
            rc = h5io_read_attr_string(&r, "/", "start_time", &start);
            if (rc == PL_OK) rc = h5io_read_attr_string(&r, "/", "end_time", &end);
            h5io_close(&r);
        }
        seconds += rc == PL_OK ? iso8601_seconds(end) - iso8601_seconds(start) : NAN;
        pl_free(start);
        pl_free(end);
        pl_free(path);
    }
    return seconds / 60;
}

int rp_scan(const char *results_dir, FILE *notes, rp_results *out)
{
    memset(out, 0, sizeof *out);
    DIR *d = opendir(results_dir);
    if (!d) PL_FAIL(PL_ERR_IO, "%s: cannot open the results folder", results_dir);
    char **names = NULL;
    int n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !strcmp(e->d_name, "store") ||
            !strcmp(e->d_name, "tables") || !strcmp(e->d_name, "plots"))
            continue;
        char *dir = path_join(results_dir, e->d_name);
        int ok = is_dir(dir);
        pl_free(dir);
        if (!ok) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            char **grown = pl_xmalloc((size_t)cap * sizeof *grown);
            if (n) memcpy(grown, names, (size_t)n * sizeof *names);
            pl_free(names);
            names = grown;
        }
        names[n++] = pl_xstrdup(e->d_name);
    }
    closedir(d);
    if (n) qsort(names, (size_t)n, sizeof *names, cmp_name);

    out->exps = pl_xcalloc((size_t)n + 1, sizeof *out->exps);
    int rc = PL_OK;
    for (int i = 0; i < n && rc == PL_OK; i++) {
        char *dir = path_join(results_dir, names[i]);
        char *pv = path_join(dir, "validate.h5");
        char *ps = path_join(dir, "search.h5");
        char *pg = path_join(dir, "graphs.h5");
        int hv = file_exists(pv), hs = file_exists(ps), hg = file_exists(pg);
        if (!hv && !hs && !hg) {
            fprintf(notes, "report: skipping %s: no validate.h5, search.h5 or graphs.h5\n", dir);
            pl_free(dir);
        } else {
            if (!hv || !hs || !hg)
                fprintf(notes, "report: %s: no %s%s%s%s%s (left out of the tables that "
                        "need it)\n", dir, hv ? "" : "validate.h5", !hv && !hs ? ", " : "",
                        hs ? "" : "search.h5", (!hv || !hs) && !hg ? ", " : "",
                        hg ? "" : "graphs.h5");
            rp_experiment *x = &out->exps[out->n++];
            x->name = pl_xstrdup(names[i]);
            x->dir = dir;
            if (hv) rc = rp_read_validate(pv, &x->validate);
            if (rc == PL_OK && hv) x->validate->stage_minutes = stage_minutes(dir);
            if (rc == PL_OK && hs) rc = rp_read_search(ps, &x->search);
            if (rc == PL_OK && hg) rc = rp_read_graphs(pg, &x->graphs);
        }
        pl_free(pv);
        pl_free(ps);
        pl_free(pg);
    }
    for (int i = 0; i < n; i++) pl_free(names[i]);
    pl_free(names);
    return rc;
}

static void experiment_free(rp_experiment *e)
{
    pl_free(e->name);
    pl_free(e->dir);
    validate_free(e->validate);
    search_free(e->search);
    graphs_free(e->graphs);
}

void rp_results_keep(rp_results *r, char *const *names, int n_names, FILE *notes)
{
    int kept = 0, left_out = 0;
    for (int i = 0; i < r->n; i++) {
        int named = rp_is_sweep_variant(r->exps[i].name);
        for (int k = 0; k < n_names && !named; k++) named = !strcmp(names[k], r->exps[i].name);
        if (named) {
            r->exps[kept++] = r->exps[i];
            continue;
        }
        fprintf(notes, "%s %s", left_out++ ? "," : "report: left out, not named:",
                r->exps[i].name);
        experiment_free(&r->exps[i]);
    }
    if (left_out) fprintf(notes, "\n");
    r->n = kept;
    for (int k = 0; k < n_names; k++) {
        int found = 0;
        for (int i = 0; i < r->n && !found; i++) found = !strcmp(names[k], r->exps[i].name);
        if (!found) fprintf(notes, "report: %s: named, but no artifacts of it were found\n", names[k]);
    }
}

void rp_results_free(rp_results *r)
{
    if (!r) return;
    for (int i = 0; i < r->n; i++) experiment_free(&r->exps[i]);
    pl_free(r->exps);
    memset(r, 0, sizeof *r);
}
