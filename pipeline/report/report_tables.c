/* report_tables.c: the table model and its three formats (GitHub-flavoured
 * Markdown, CSV with a header row, a LaTeX tabular with \hline rules, each
 * written atomically), the models, sparsity and replacements tables, and the
 * validation columns the models table shares with the sweep tables
 * (report_sweeps.c): the models table holds every experiment but the sweep
 * variants (folders SWEEP@VARIANT), which are rows of their sweep's table. */
#include "report.h"
#include "report_internal.h"

#include "pl_err.h"
#include "pl_mem.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- text buffer ------------------------------------------------------------ */

void rp_buf_printf(rp_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (need < 0) return;
    if (b->len + (size_t)need + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + (size_t)need + 1) cap *= 2;
        char *grown = pl_xmalloc(cap);
        if (b->len) memcpy(grown, b->data, b->len);
        pl_free(b->data);
        b->data = grown;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)need;
}

void rp_buf_free(rp_buf *b)
{
    pl_free(b->data);
    memset(b, 0, sizeof *b);
}

/* ---- atomic files ----------------------------------------------------------- */

int rp_write_file_atomic(const char *path, const char *data, size_t len)
{
    size_t n = strlen(path) + 32;
    char *tmp = pl_xmalloc(n);
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        int e = errno;
        pl_free(tmp);
        PL_FAIL(PL_ERR_IO, "%s: cannot create: %s", path, strerror(e));
    }
    size_t done = 0;
    int rc = PL_OK;
    while (done < len) {
        ssize_t k = write(fd, data + done, len - done);
        if (k < 0) {
            if (errno == EINTR) continue;
            rc = pl_error(PL_ERR_IO, __FILE__, __LINE__, "%s: cannot write: %s", tmp,
                          strerror(errno));
            break;
        }
        done += (size_t)k;
    }
    if (rc == PL_OK && fsync(fd) != 0)
        rc = pl_error(PL_ERR_IO, __FILE__, __LINE__, "%s: fsync failed: %s", tmp,
                      strerror(errno));
    if (close(fd) != 0 && rc == PL_OK)
        rc = pl_error(PL_ERR_IO, __FILE__, __LINE__, "%s: close failed: %s", tmp,
                      strerror(errno));
    if (rc == PL_OK && rename(tmp, path) != 0)
        rc = pl_error(PL_ERR_IO, __FILE__, __LINE__, "%s: cannot rename %s over it: %s", path,
                      tmp, strerror(errno));
    if (rc != PL_OK) unlink(tmp);
    pl_free(tmp);
    return rc;
}

/* ---- the table model -------------------------------------------------------- */

void rp_table_init(rp_table *t, const char *title)
{
    memset(t, 0, sizeof *t);
    t->title = title;
}

void rp_table_column(rp_table *t, const char *head, const char *key)
{
    PL_ASSERT(t->ncols < RP_MAX_COLS && t->nrows == 0);
    t->head[t->ncols] = pl_xstrdup(head);
    t->keys[t->ncols] = pl_xstrdup(key);
    t->ncols++;
}

void rp_table_cell(rp_table *t, const char *shown, const char *csv)
{
    if (t->col == 0) {
        if (t->nrows == t->cap) {
            int cap = t->cap ? 2 * t->cap : 8;
            size_t cells = (size_t)cap * (size_t)t->ncols;
            char **s = pl_xcalloc(cells, sizeof *s), **c = pl_xcalloc(cells, sizeof *c);
            size_t used = (size_t)t->nrows * (size_t)t->ncols;
            if (used) {
                memcpy(s, t->shown, used * sizeof *s);
                memcpy(c, t->csv, used * sizeof *c);
            }
            pl_free(t->shown);
            pl_free(t->csv);
            t->shown = s;
            t->csv = c;
            t->cap = cap;
        }
        t->nrows++;
    }
    size_t at = (size_t)(t->nrows - 1) * (size_t)t->ncols + (size_t)t->col;
    t->shown[at] = pl_xstrdup(shown);
    t->csv[at] = pl_xstrdup(csv ? csv : shown);
    t->col = (t->col + 1) % t->ncols;
}

void rp_table_free(rp_table *t)
{
    for (int j = 0; j < t->ncols; j++) {
        pl_free(t->head[j]);
        pl_free(t->keys[j]);
    }
    size_t cells = (size_t)t->nrows * (size_t)t->ncols;
    for (size_t i = 0; i < cells; i++) {
        pl_free(t->shown[i]);
        pl_free(t->csv[i]);
    }
    pl_free(t->shown);
    pl_free(t->csv);
    rp_buf_free(&t->notes);
    memset(t, 0, sizeof *t);
}

/* ---- the three formats ------------------------------------------------------ */

static void md_text(rp_buf *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '|') rp_buf_printf(b, "\\|");
        else rp_buf_printf(b, "%c", *s);
    }
}

static void csv_text(rp_buf *b, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        rp_buf_printf(b, "%s", s);
        return;
    }
    rp_buf_printf(b, "\"");
    for (; *s; s++) {
        if (*s == '"') rp_buf_printf(b, "\"\"");
        else rp_buf_printf(b, "%c", *s);
    }
    rp_buf_printf(b, "\"");
}

static void tex_text(rp_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '_': case '%': case '&': case '#': case '$': case '{': case '}':
            rp_buf_printf(b, "\\%c", *s);
            break;
        case '>': rp_buf_printf(b, "\\textgreater{}"); break;
        case '<': rp_buf_printf(b, "\\textless{}"); break;
        case '~': rp_buf_printf(b, "\\textasciitilde{}"); break;
        case '^': rp_buf_printf(b, "\\textasciicircum{}"); break;
        case '\\': rp_buf_printf(b, "\\textbackslash{}"); break;
        case '\n': rp_buf_printf(b, " "); break;
        default: rp_buf_printf(b, "%c", *s);
        }
    }
}

static int write_buf(const char *dir, const char *base, const char *ext, const rp_buf *b)
{
    size_t n = strlen(dir) + strlen(base) + strlen(ext) + 4;
    char *path = pl_xmalloc(n);
    snprintf(path, n, "%s/%s.%s", dir, base, ext);
    int rc = rp_write_file_atomic(path, b->data ? b->data : "", b->len);
    pl_free(path);
    return rc;
}

/* Whether every cell of column j is a number (its CSV text): right-aligned
 * in LaTeX, text columns left-aligned. */
static int numeric_column(const rp_table *t, int j)
{
    for (int i = 0; i < t->nrows; i++) {
        const char *v = t->csv[(size_t)i * (size_t)t->ncols + (size_t)j];
        char *end = NULL;
        if (!v || !*v) continue;
        strtod(v, &end);
        if (*end) return 0;
    }
    return 1;
}

int rp_table_write(const rp_table *t, const char *dir, const char *base)
{
    rp_buf md = {0}, csv = {0}, tex = {0};
    const char *notes = t->notes.data ? t->notes.data : "";

    /* Markdown: a heading, the notes, the table. */
    rp_buf_printf(&md, "## %s\n\n", t->title);
    for (const char *l = notes; *l;) { /* one paragraph per note */
        const char *e = strchr(l, '\n');
        size_t len = e ? (size_t)(e - l) : strlen(l);
        rp_buf_printf(&md, "%.*s\n\n", (int)len, l);
        l += len + (e != NULL);
    }
    rp_buf_printf(&md, "|");
    for (int j = 0; j < t->ncols; j++) {
        rp_buf_printf(&md, " ");
        md_text(&md, t->head[j]);
        rp_buf_printf(&md, " |");
    }
    rp_buf_printf(&md, "\n|");
    for (int j = 0; j < t->ncols; j++) rp_buf_printf(&md, "---|");
    rp_buf_printf(&md, "\n");
    for (int i = 0; i < t->nrows; i++) {
        rp_buf_printf(&md, "|");
        for (int j = 0; j < t->ncols; j++) {
            rp_buf_printf(&md, " ");
            md_text(&md, t->shown[(size_t)i * (size_t)t->ncols + (size_t)j]);
            rp_buf_printf(&md, " |");
        }
        rp_buf_printf(&md, "\n");
    }

    /* CSV: the header row, then the rows; plain numbers. */
    for (int j = 0; j < t->ncols; j++) {
        if (j) rp_buf_printf(&csv, ",");
        csv_text(&csv, t->keys[j]);
    }
    rp_buf_printf(&csv, "\n");
    for (int i = 0; i < t->nrows; i++) {
        for (int j = 0; j < t->ncols; j++) {
            if (j) rp_buf_printf(&csv, ",");
            csv_text(&csv, t->csv[(size_t)i * (size_t)t->ncols + (size_t)j]);
        }
        rp_buf_printf(&csv, "\n");
    }

    /* LaTeX: a table float around a tabular with \hline rules. */
    rp_buf_printf(&tex, "%% generated by build/report (make tables); do not edit\n"
                        "\\begin{table}[ht]\n\\centering\n\\caption{");
    tex_text(&tex, t->title);
    rp_buf_printf(&tex, "}\n\\begin{tabular}{");
    for (int j = 0; j < t->ncols; j++) rp_buf_printf(&tex, numeric_column(t, j) ? "r" : "l");
    rp_buf_printf(&tex, "}\n\\hline\n");
    for (int j = 0; j < t->ncols; j++) {
        if (j) rp_buf_printf(&tex, " & ");
        tex_text(&tex, t->head[j]);
    }
    rp_buf_printf(&tex, " \\\\\n\\hline\n");
    for (int i = 0; i < t->nrows; i++) {
        for (int j = 0; j < t->ncols; j++) {
            if (j) rp_buf_printf(&tex, " & ");
            tex_text(&tex, t->shown[(size_t)i * (size_t)t->ncols + (size_t)j]);
        }
        rp_buf_printf(&tex, " \\\\\n");
    }
    rp_buf_printf(&tex, "\\hline\n\\end{tabular}\n");
    if (*notes) {
        rp_buf_printf(&tex, "\n\\smallskip\n{\\small ");
        tex_text(&tex, notes);
        rp_buf_printf(&tex, "}\n");
    }
    rp_buf_printf(&tex, "\\end{table}\n");

    int rc = write_buf(dir, base, "md", &md);
    if (rc == PL_OK) rc = write_buf(dir, base, "csv", &csv);
    if (rc == PL_OK) rc = write_buf(dir, base, "tex", &tex);
    rp_buf_free(&md);
    rp_buf_free(&csv);
    rp_buf_free(&tex);
    return rc;
}

/* ---- helpers for the cells -------------------------------------------------- */

enum { F_G4, F_G3, F_FIX2, F_SPEEDUP, F_SIGNED2 };

/* A number shown in one of the styles above, written to the CSV as %.6g;
 * "n/a" (empty in the CSV) when not finite. */
static void cell_f(rp_table *t, int style, double v)
{
    char s[64], c[64];
    if (!isfinite(v)) {
        rp_table_cell(t, "n/a", "");
        return;
    }
    switch (style) {
    case F_G3: snprintf(s, sizeof s, "%.3g", v); break;
    case F_FIX2: snprintf(s, sizeof s, "%.2f", v); break;
    case F_SPEEDUP: snprintf(s, sizeof s, "%.2fx", v); break;
    case F_SIGNED2: snprintf(s, sizeof s, "%+.2f", v); break;
    default: snprintf(s, sizeof s, "%.4g", v); break;
    }
    snprintf(c, sizeof c, "%.6g", v);
    rp_table_cell(t, s, c);
}

static void cell_i(rp_table *t, int64_t v)
{
    char s[32];
    snprintf(s, sizeof s, "%lld", (long long)v);
    rp_table_cell(t, s, NULL);
}

/* A fraction k / n: "0.75 (6/8)" shown, "0.75" in the CSV. */
static void cell_frac(rp_table *t, int64_t k, int64_t n)
{
    if (n <= 0) {
        rp_table_cell(t, "n/a", "");
        return;
    }
    char s[64], c[32];
    double f = (double)k / (double)n;
    snprintf(s, sizeof s, "%.2f (%lld/%lld)", f, (long long)k, (long long)n);
    snprintf(c, sizeof c, "%.4g", f);
    rp_table_cell(t, s, c);
}

/* The latency kind shared by every row ("measured", "predicted", ...), or
 * NULL when they differ (each row then names its own). */
static const char *common_kind(const char *const *kinds, int n)
{
    if (n == 0) return "measured or predicted";
    for (int i = 1; i < n; i++)
        if (strcmp(kinds[i], kinds[0])) return NULL;
    return kinds[0];
}

static void latency_column(rp_table *t, const char *what, const char *key, const char *kind)
{
    char head[128], k[128];
    if (kind) {
        snprintf(head, sizeof head, "%s (ms, %s)", what, kind);
        snprintf(k, sizeof k, "%s_ms_%s", key, kind);
        for (char *p = k; *p; p++)
            if (*p == ' ') *p = '_';
    } else {
        snprintf(head, sizeof head, "%s (ms, measured or predicted: see kind)", what);
        snprintf(k, sizeof k, "%s_ms", key);
    }
    rp_table_column(t, head, k);
}

/* ---- the validation columns (models and sweep tables) ------------------------ */

int rp_validated_rows(const rp_experiment *exps, int n, int keep_variants,
                      const rp_experiment **rows)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        if (exps[i].validate && (keep_variants || !rp_is_sweep_variant(exps[i].name)))
            rows[k++] = &exps[i];
    return k;
}

const char *rp_validated_kind(const rp_experiment *const *rows, int n)
{
    const char **kinds = pl_xcalloc((size_t)n + 1, sizeof *kinds);
    for (int i = 0; i < n; i++) kinds[i] = rows[i]->validate->kind;
    const char *kind = common_kind(kinds, n);
    pl_free(kinds);
    return kind;
}

void rp_validated_columns(rp_table *t, const char *kind, int with_params_before)
{
    rp_table_column(t, "model", "model");
    rp_table_column(t, "device", "device");
    rp_table_column(t, "latency kind", "latency_kind");
    latency_column(t, "original latency", "original_latency", kind);
    latency_column(t, "adapted latency", "adapted_latency", kind);
    rp_table_column(t, "speedup", "speedup");
    rp_table_column(t, "original accuracy (%)", "original_accuracy_pct");
    rp_table_column(t, "adapted accuracy (%)", "adapted_accuracy_pct");
    rp_table_column(t, "accuracy change (points)", "accuracy_change_points");
    if (with_params_before) rp_table_column(t, "params before", "params_before");
    rp_table_column(t, "params after", "params_after");
    rp_table_column(t, "operators replaced", "operators_replaced");
    rp_table_column(t, "within epsilon", "within_epsilon");
    rp_table_column(t, "stages after train (min)", "stage_minutes");
}

void rp_validated_cells(rp_table *t, const rp_validate *v, int with_params_before)
{
    rp_table_cell(t, v->model, NULL);
    rp_table_cell(t, v->device, NULL);
    rp_table_cell(t, v->kind, NULL);
    cell_f(t, F_G4, v->orig_ms);
    cell_f(t, F_G4, v->adapt_ms);
    cell_f(t, F_SPEEDUP, v->speedup);
    cell_f(t, F_FIX2, 100 * v->orig_acc);
    cell_f(t, F_FIX2, 100 * v->adapt_acc);
    cell_f(t, F_SIGNED2, v->acc_change);
    if (with_params_before) cell_i(t, v->orig_params);
    cell_i(t, v->adapt_params);
    cell_i(t, v->replaced);
    char eps[64];
    snprintf(eps, sizeof eps, "%s (%.3g)", v->within ? "yes" : "no", v->epsilon);
    rp_table_cell(t, eps, v->within ? "1" : "0");
    cell_f(t, F_G3, v->stage_minutes);
}

/* The average and minimum of the rows' finite speedups. */
static void note_speedups(rp_table *t, const rp_experiment *const *rows, int n, const char *noun,
                          const char *(*row_name)(const rp_experiment *))
{
    double sum = 0, min = INFINITY;
    const char *min_name = "";
    int finite = 0;
    for (int i = 0; i < n; i++) {
        double speedup = rows[i]->validate->speedup;
        if (!isfinite(speedup)) continue;
        sum += speedup;
        if (speedup < min) {
            min = speedup;
            min_name = row_name(rows[i]);
        }
        finite++;
    }
    if (finite)
        rp_buf_printf(&t->notes, "Speedup over %d %s%s: average %.2fx, minimum %.2fx (%s).\n",
                      finite, noun, finite == 1 ? "" : "s", sum / finite, min, min_name);
    else if (n)
        rp_buf_printf(&t->notes, "No %s has a finite speedup.\n", noun);
    else
        rp_buf_printf(&t->notes, "No %s has a validate.h5 yet.\n", noun);
}

void rp_validated_notes(rp_table *t, const char *kind, const rp_experiment *const *rows, int n,
                        const char *noun, const char *(*row_name)(const rp_experiment *))
{
    rp_buf_printf(&t->notes, "Latency: end-to-end median at the device's batch, %s. "
                  "Accuracy: test set. Within epsilon: the accuracy change is at least "
                  "-search.epsilon (in brackets). Stages after train: the minutes profile, "
                  "graphgen, search, finetune and validate took, from their artifacts' start "
                  "and end times (a result reused from the store counts the run that made "
                  "it).\n", kind ? kind : "measured or predicted as each row's kind says");
    note_speedups(t, rows, n, noun, row_name);
}

/* ---- models ------------------------------------------------------------------ */

static const char *experiment_name(const rp_experiment *x)
{
    return x->name;
}

/* The sweep variants with a validate.h5: rows of the sweep tables, not here. */
static void note_sweep_variants(rp_table *t, const rp_results *r)
{
    int variants = 0;
    for (int i = 0; i < r->n; i++)
        variants += r->exps[i].validate && rp_is_sweep_variant(r->exps[i].name);
    if (variants)
        rp_buf_printf(&t->notes, "%d sweep variant%s (folders SWEEP@VARIANT) %s left out: "
                      "see the sweep_SWEEP tables.\n", variants, variants == 1 ? "" : "s",
                      variants == 1 ? "is" : "are");
}

static int models_table(const rp_results *r, const char *dir)
{
    const rp_experiment **rows = pl_xcalloc((size_t)r->n + 1, sizeof *rows);
    int n = rp_validated_rows(r->exps, r->n, 0, rows);
    const char *kind = rp_validated_kind(rows, n);

    rp_table t;
    rp_table_init(&t, "Models: original against adapted (gos.validate)");
    rp_table_column(&t, "experiment", "experiment");
    rp_validated_columns(&t, kind, 1);
    for (int i = 0; i < n; i++) {
        rp_table_cell(&t, rows[i]->name, NULL);
        rp_validated_cells(&t, rows[i]->validate, 1);
    }
    rp_validated_notes(&t, kind, rows, n, "experiment", experiment_name);
    note_sweep_variants(&t, r);
    int rc = rp_table_write(&t, dir, "models");
    rp_table_free(&t);
    pl_free(rows);
    return rc;
}

/* ---- rows of shared artifacts ----------------------------------------------- */

/* The order the sparsity and replacements tables list experiments in: the
 * experiments, then the sweep variants. */
static void listing_order(const rp_results *r, int *order)
{
    int k = 0;
    for (int variants = 0; variants < 2; variants++)
        for (int i = 0; i < r->n; i++)
            if (rp_is_sweep_variant(r->exps[i].name) == variants) order[k++] = i;
}

/* The experiment listed before position pos of order whose `file` (e.g.
 * "search.h5") is the same file as exps[order[pos]]'s, or -1: sweep
 * variants that share a stage's result with their base experiment hold hard
 * links to one stored artifact, whose rows are listed once. */
static int listed_before(const rp_results *r, const int *order, int pos, const char *file)
{
    char path[4096];
    struct stat a, b;
    snprintf(path, sizeof path, "%s/%s", r->exps[order[pos]].dir, file);
    if (stat(path, &a) != 0) return -1;
    for (int q = 0; q < pos; q++) {
        snprintf(path, sizeof path, "%s/%s", r->exps[order[q]].dir, file);
        if (stat(path, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) return order[q];
    }
    return -1;
}

/* Notes a row set left out as the same artifact as an earlier one. */
static void note_shared(rp_table *t, const rp_results *r, int i, int same, const char *file)
{
    rp_buf_printf(&t->notes, "%s: the same %s as %s (one stored artifact): listed once.\n",
                  r->exps[i].name, file, r->exps[same].name);
}

/* ---- sparsity ---------------------------------------------------------------- */

static int sparsity_table(const rp_results *r, const char *dir)
{
    rp_table t;
    rp_table_init(&t, "Sparsity study: random candidates from scratch and adaptations "
                      "(gos.graphs, latency ratios predicted)");
    rp_table_column(&t, "experiment", "experiment");
    rp_table_column(&t, "operator", "operator");
    rp_table_column(&t, "N random", "random_n");
    rp_table_column(&t, "random valid", "random_valid_fraction");
    rp_table_column(&t, "random fit", "random_fit_fraction");
    rp_table_column(&t, "random median latency ratio (predicted)",
                    "random_median_latency_ratio_predicted");
    rp_table_column(&t, "N adapted", "adapted_n");
    rp_table_column(&t, "adapted valid", "adapted_valid_fraction");
    rp_table_column(&t, "adapted fit", "adapted_fit_fraction");
    rp_table_column(&t, "adapted median latency ratio (predicted)",
                    "adapted_median_latency_ratio_predicted");
    int any = 0, *order = pl_xcalloc((size_t)r->n + 1, sizeof *order);
    listing_order(r, order);
    for (int pos = 0; pos < r->n; pos++) {
        const int i = order[pos];
        const rp_graphs *g = r->exps[i].graphs;
        if (!g) continue;
        const int same = listed_before(r, order, pos, "graphs.h5");
        if (same >= 0) {
            note_shared(&t, r, i, same, "graphs.h5");
            continue;
        }
        any = 1;
        for (int64_t o = 0; o < g->n_ops; o++) {
            rp_table_cell(&t, r->exps[i].name, NULL);
            rp_table_cell(&t, g->names[o], NULL);
            for (int k = 0; k < 2; k++) {
                int64_t c = o * 2 + k;
                cell_i(&t, g->n[c]);
                cell_frac(&t, g->valid[c], g->n[c]);
                cell_frac(&t, g->fit[c], g->n[c]);
                cell_f(&t, F_G3, g->median_ratio[c]);
            }
        }
    }
    rp_buf_printf(&t.notes, "Valid: shape-valid. Fit: the quick-fitted error within the "
                  "study threshold of the original's own. Latency ratio: candidate over "
                  "original, predicted by the device's latency model, median of the "
                  "valid ones.\n");
    if (!any) rp_buf_printf(&t.notes, "No experiment has a graphs.h5 yet.\n");
    pl_free(order);
    int rc = rp_table_write(&t, dir, "sparsity");
    rp_table_free(&t);
    return rc;
}

/* ---- replacements ------------------------------------------------------------ */

static int replacements_table(const rp_results *r, const char *dir)
{
    const char **kinds = pl_xcalloc((size_t)r->n + 1, sizeof *kinds);
    int n = 0;
    for (int i = 0; i < r->n; i++)
        if (r->exps[i].search) kinds[n++] = r->exps[i].search->kind;
    const char *kind = common_kind(kinds, n);
    pl_free(kinds);

    rp_table t;
    rp_table_init(&t, "Replacements: each searched operator (gos.search)");
    rp_table_column(&t, "experiment", "experiment");
    rp_table_column(&t, "operator", "operator");
    rp_table_column(&t, "latency kind", "latency_kind");
    rp_table_column(&t, "replaced", "replaced");
    latency_column(&t, "latency before", "latency_before", kind);
    latency_column(&t, "latency after", "latency_after", kind);
    rp_table_column(&t, "params before", "params_before");
    rp_table_column(&t, "params after", "params_after");
    rp_table_column(&t, "validation accuracy (%)", "validation_accuracy_pct");
    rp_table_column(&t, "after recovery (%)", "recovered_accuracy_pct");
    rp_table_column(&t, "chosen DAG", "chosen_dag");
    int any = 0, *order = pl_xcalloc((size_t)r->n + 1, sizeof *order);
    listing_order(r, order);
    for (int pos = 0; pos < r->n; pos++) {
        const int i = order[pos];
        const rp_search *s = r->exps[i].search;
        if (!s) continue;
        const int same = listed_before(r, order, pos, "search.h5");
        if (same >= 0) {
            note_shared(&t, r, i, same, "search.h5");
            continue;
        }
        any = 1;
        for (int64_t k = 0; k < s->n_steps; k++) {
            rp_table_cell(&t, r->exps[i].name, NULL);
            rp_table_cell(&t, s->names[k], NULL);
            rp_table_cell(&t, s->kind, NULL);
            rp_table_cell(&t, s->replaced[k] ? "yes" : "no", s->replaced[k] ? "1" : "0");
            cell_f(&t, F_G4, s->lat_before[k]);
            cell_f(&t, F_G4, s->lat_after[k]);
            cell_i(&t, s->params_before[k]);
            cell_i(&t, s->params_after[k]);
            cell_f(&t, F_FIX2, 100 * s->accuracy[k]);
            cell_f(&t, F_FIX2, 100 * s->accuracy_recovered[k]);
            rp_table_cell(&t, s->chosen[k], NULL);
        }
    }
    rp_buf_printf(&t.notes, "Latency: the operator alone on the device, %s. Accuracy: the "
                  "model's on the search's validation images with the chosen DAG in place "
                  "(the model's as it stood when the operator was kept), then after the "
                  "recovery steps (search.recovery_steps; the same without them). "
                  "Chosen DAG: its instructions in order, inputs left out (the original's "
                  "when not replaced).\n", kind ? kind : "measured or predicted as each "
                  "row's kind says");
    if (!any) rp_buf_printf(&t.notes, "No experiment has a search.h5 yet.\n");
    pl_free(order);
    int rc = rp_table_write(&t, dir, "replacements");
    rp_table_free(&t);
    return rc;
}

int rp_write_tables(const rp_results *r, const char *out_dir, FILE *notes)
{
    if (mkdir(out_dir, 0755) != 0 && errno != EEXIST)
        PL_FAIL(PL_ERR_IO, "%s: cannot create: %s", out_dir, strerror(errno));
    PL_TRY(models_table(r, out_dir));
    PL_TRY(sparsity_table(r, out_dir));
    PL_TRY(replacements_table(r, out_dir));
    PL_TRY(rp_write_sweep_tables(r, out_dir, notes));
    return PL_OK;
}
