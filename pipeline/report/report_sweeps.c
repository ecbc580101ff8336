/* report_sweeps.c: the sweep tables of `make tables`. `make sweep
 * sweep=SWEEP` runs every variant of experiments/sweeps/SWEEP.cfg into
 * results/SWEEP@VARIANT/; sweep_SWEEP.{md,csv,tex} has one row per variant
 * with a validate.h5, in name order: the variant, the config keys whose
 * values differ between the variants (at most MAX_KEY_COLUMNS, in the order
 * of the config text), then the models table's columns (report_tables.c)
 * but params before. The keys and values come from each validate.h5's
 * resolved config text (its root attribute "config": "section.key = value;"
 * a line, "  # default" after a default). */
#include "report.h"
#include "report_internal.h"

#include "pl_err.h"
#include "pl_mem.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

enum { MAX_KEY_COLUMNS = 4 };

/* ---- sweep variants ----------------------------------------------------------- */

int rp_is_sweep_variant(const char *name)
{
    return strchr(name, '@') != NULL;
}

/* The length of SWEEP in "SWEEP@VARIANT". */
static size_t sweep_name_length(const char *name)
{
    return strcspn(name, "@");
}

static int same_sweep(const char *a, const char *b)
{
    size_t n = sweep_name_length(a);
    return rp_is_sweep_variant(b) && sweep_name_length(b) == n && !strncmp(a, b, n);
}

static const char *variant_name(const rp_experiment *x)
{
    return x->name + sweep_name_length(x->name) + 1;
}

/* ---- the resolved config text ------------------------------------------------- */

typedef struct {
    const char *key, *value; /* not terminated: key_len and value_len bytes */
    size_t key_len, value_len;
} config_line;

/* Parses [line, line + len) as "key = value;", optionally followed by
 * "  # default" (not part of the value); 0 when it is not of that form. */
static int parse_config_line(const char *line, size_t len, config_line *out)
{
    static const char annotation[] = "  # default";
    const size_t annotation_len = sizeof annotation - 1;
    if (len >= annotation_len && !memcmp(line + len - annotation_len, annotation, annotation_len))
        len -= annotation_len;
    if (len == 0 || line[len - 1] != ';') return 0;
    const char *equals = memmem(line, len - 1, " = ", 3);
    if (!equals) return 0;
    out->key = line;
    out->key_len = (size_t)(equals - line);
    out->value = equals + 3;
    out->value_len = (size_t)(line + len - 1 - out->value);
    return 1;
}

/* The next "key = value;" line of a config text from *p on, advancing *p
 * past it; 0 at the end. */
static int next_config_line(const char **p, config_line *out)
{
    while (**p) {
        const char *line = *p;
        size_t len = strcspn(line, "\n");
        *p = line + len + (line[len] == '\n');
        if (parse_config_line(line, len, out)) return 1;
    }
    return 0;
}

/* The line of key in a config text; 0 when the text has no such key. */
static int config_value(const char *text, const char *key, config_line *out)
{
    size_t key_len = strlen(key);
    for (const char *p = text; next_config_line(&p, out);)
        if (out->key_len == key_len && !memcmp(out->key, key, key_len)) return 1;
    return 0;
}

static const char *config_of(const rp_experiment *x)
{
    return x->validate->config ? x->validate->config : "";
}

/* ---- lists of keys ------------------------------------------------------------- */

typedef struct {
    char **items;
    int n, cap;
} key_list;

static int key_list_has(const key_list *l, const char *key, size_t len)
{
    for (int i = 0; i < l->n; i++)
        if (strlen(l->items[i]) == len && !memcmp(l->items[i], key, len)) return 1;
    return 0;
}

static void key_list_add(key_list *l, const char *key, size_t len)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 32;
        char **grown = pl_xmalloc((size_t)l->cap * sizeof *grown);
        if (l->n) memcpy(grown, l->items, (size_t)l->n * sizeof *grown);
        pl_free(l->items);
        l->items = grown;
    }
    char *copy = pl_xmalloc(len + 1);
    memcpy(copy, key, len);
    copy[len] = '\0';
    l->items[l->n++] = copy;
}

static void key_list_free(key_list *l)
{
    for (int i = 0; i < l->n; i++) pl_free(l->items[i]);
    pl_free(l->items);
    memset(l, 0, sizeof *l);
}

/* Appends the keys of a config text that keys does not hold yet, in order. */
static void add_config_keys(key_list *keys, const char *text)
{
    config_line l;
    for (const char *p = text; next_config_line(&p, &l);)
        if (!key_list_has(keys, l.key, l.key_len)) key_list_add(keys, l.key, l.key_len);
}

/* ---- one sweep ---------------------------------------------------------------- */

typedef struct {
    char *name;                     /* SWEEP */
    const rp_experiment *variants;  /* its folders, in name order */
    int n_variants;
    const rp_experiment **rows;     /* those with a validate.h5 */
    int n_rows;
} sweep;

/* Whether key's value text differs between the rows' configs (a missing
 * key differs from any value). */
static int key_varies(const sweep *s, const char *key)
{
    config_line first, other;
    int has_first = config_value(config_of(s->rows[0]), key, &first);
    for (int i = 1; i < s->n_rows; i++) {
        int has = config_value(config_of(s->rows[i]), key, &other);
        if (has != has_first) return 1;
        if (has && (other.value_len != first.value_len ||
                    memcmp(other.value, first.value, first.value_len)))
            return 1;
    }
    return 0;
}

/* The keys whose values differ between the rows, in the configs' order. */
static void varied_keys(const sweep *s, key_list *varied)
{
    key_list all = {0};
    for (int i = 0; i < s->n_rows; i++) add_config_keys(&all, config_of(s->rows[i]));
    for (int k = 0; k < all.n; k++)
        if (key_varies(s, all.items[k])) key_list_add(varied, all.items[k], strlen(all.items[k]));
    key_list_free(&all);
}

/* The value of key in x's config, a string without its quotes; "n/a"
 * (empty in the CSV) when the config has no such key. */
static void config_cell(rp_table *t, const rp_experiment *x, const char *key)
{
    config_line l;
    if (!config_value(config_of(x), key, &l)) {
        rp_table_cell(t, "n/a", "");
        return;
    }
    if (l.value_len >= 2 && l.value[0] == '"' && l.value[l.value_len - 1] == '"') {
        l.value++;
        l.value_len -= 2;
    }
    char *text = pl_xmalloc(l.value_len + 1);
    memcpy(text, l.value, l.value_len);
    text[l.value_len] = '\0';
    rp_table_cell(t, text, NULL);
    pl_free(text);
}

/* keys [from, to) as "a, b and c". */
static void print_key_range(rp_buf *b, const key_list *keys, int from, int to)
{
    for (int k = from; k < to; k++)
        rp_buf_printf(b, "%s%s", k == from ? "" : k == to - 1 ? " and " : ", ", keys->items[k]);
}

static void note_varied_keys(rp_table *t, const sweep *s, const key_list *varied)
{
    if (s->n_rows == 1) {
        rp_buf_printf(&t->notes, "Only one variant has a validate.h5: no config to compare.\n");
        return;
    }
    if (varied->n == 0) {
        rp_buf_printf(&t->notes, "The variants' resolved configs do not differ.\n");
        return;
    }
    int shown = varied->n < MAX_KEY_COLUMNS ? varied->n : MAX_KEY_COLUMNS;
    rp_buf_printf(&t->notes, "The sweep (experiments/sweeps/%s.cfg) varies, in each variant's "
                  "resolved config (from its validate.h5): ", s->name);
    print_key_range(&t->notes, varied, 0, shown);
    if (shown < varied->n) {
        rp_buf_printf(&t->notes, "; also ");
        print_key_range(&t->notes, varied, shown, varied->n);
        rp_buf_printf(&t->notes, ", not shown (at most %d key columns)", MAX_KEY_COLUMNS);
    }
    rp_buf_printf(&t->notes, ".\n");
}

static void note_unvalidated(rp_table *t, const sweep *s)
{
    int listed = 0;
    for (int i = 0; i < s->n_variants; i++) {
        if (s->variants[i].validate) continue;
        rp_buf_printf(&t->notes, "%s%s", listed++ ? ", " : "Variants without a validate.h5 "
                      "(not rows): ", variant_name(&s->variants[i]));
    }
    if (listed) rp_buf_printf(&t->notes, ".\n");
}

static int sweep_table(const sweep *s, const char *dir)
{
    key_list varied = {0};
    varied_keys(s, &varied);
    int key_columns = varied.n < MAX_KEY_COLUMNS ? varied.n : MAX_KEY_COLUMNS;
    const char *kind = rp_validated_kind(s->rows, s->n_rows);
    rp_buf title = {0}, base = {0};
    rp_buf_printf(&title, "Sweep %s: one row per variant (gos.validate)", s->name);
    rp_buf_printf(&base, "sweep_%s", s->name);

    rp_table t;
    rp_table_init(&t, title.data);
    rp_table_column(&t, "variant", "variant");
    for (int k = 0; k < key_columns; k++) rp_table_column(&t, varied.items[k], varied.items[k]);
    rp_validated_columns(&t, kind, 0);
    for (int i = 0; i < s->n_rows; i++) {
        rp_table_cell(&t, variant_name(s->rows[i]), NULL);
        for (int k = 0; k < key_columns; k++) config_cell(&t, s->rows[i], varied.items[k]);
        rp_validated_cells(&t, s->rows[i]->validate, 0);
    }
    note_varied_keys(&t, s, &varied);
    rp_validated_notes(&t, kind, s->rows, s->n_rows, "variant", variant_name);
    note_unvalidated(&t, s);
    int rc = rp_table_write(&t, dir, base.data);
    rp_table_free(&t);
    rp_buf_free(&title);
    rp_buf_free(&base);
    key_list_free(&varied);
    return rc;
}

/* The sweep table of variants [0, n) (all of one sweep), or a note when none
 * has a validate.h5. */
static int write_sweep(const rp_experiment *variants, int n, const char *dir, FILE *notes)
{
    size_t name_length = sweep_name_length(variants[0].name);
    sweep s = {.variants = variants, .n_variants = n};
    s.name = pl_xmalloc(name_length + 1);
    memcpy(s.name, variants[0].name, name_length);
    s.name[name_length] = '\0';
    s.rows = pl_xcalloc((size_t)n + 1, sizeof *s.rows);
    s.n_rows = rp_validated_rows(variants, n, 1, s.rows);
    int rc = PL_OK;
    if (s.n_rows == 0)
        fprintf(notes, "report: sweep %s: no variant has a validate.h5 (no sweep_%s table)\n",
                s.name, s.name);
    else
        rc = sweep_table(&s, dir);
    pl_free(s.rows);
    pl_free(s.name);
    return rc;
}

/* The SWEEP of a sweep table's file name ("sweep_" SWEEP "." md/csv/tex):
 * its start, and its length in *sweep_len; NULL when file is no such name. */
static const char *sweep_of_table_file(const char *file, size_t *sweep_len)
{
    static const char prefix[] = "sweep_";
    static const char *const extensions[] = {".md", ".csv", ".tex"};
    const size_t skip = sizeof prefix - 1;
    if (strncmp(file, prefix, skip)) return NULL;
    const char *dot = strrchr(file, '.');
    if (dot == NULL || dot == file + skip) return NULL;
    for (size_t e = 0; e < sizeof extensions / sizeof *extensions; e++)
        if (!strcmp(dot, extensions[e])) {
            *sweep_len = (size_t)(dot - file) - skip;
            return file + skip;
        }
    return NULL;
}

/* Whether some experiment of r is a variant of the sweep named
 * [name, name + len) with a validate.h5 (that is, got a table this run). */
static int sweep_has_table(const rp_results *r, const char *name, size_t len)
{
    for (int i = 0; i < r->n; i++)
        if (r->exps[i].validate && rp_is_sweep_variant(r->exps[i].name) &&
            sweep_name_length(r->exps[i].name) == len && !strncmp(r->exps[i].name, name, len))
            return 1;
    return 0;
}

/* Removes the sweep_SWEEP.{md,csv,tex} files of dir whose sweep got no
 * table this run (its variants are gone, have no validate.h5 or were left
 * out), so the folder never shows a table the artifacts no longer back.
 * Each removal is noted. */
static int remove_stale_sweep_tables(const rp_results *r, const char *dir, FILE *notes)
{
    DIR *d = opendir(dir);
    if (d == NULL) PL_FAIL(PL_ERR_IO, "%s: cannot list: %s", dir, strerror(errno));
    int rc = PL_OK;
    rp_buf path = {0};
    for (struct dirent *e; rc == PL_OK && (e = readdir(d)) != NULL;) {
        size_t len;
        const char *name = sweep_of_table_file(e->d_name, &len);
        if (name == NULL || sweep_has_table(r, name, len)) continue;
        path.len = 0;
        rp_buf_printf(&path, "%s/%s", dir, e->d_name);
        if (unlink(path.data) != 0)
            rc = pl_error(PL_ERR_IO, __FILE__, __LINE__,
                          "%s: cannot remove a stale sweep table: %s", path.data, strerror(errno));
        else
            fprintf(notes, "report: removed %s (its sweep has no validated variant here)\n",
                    path.data);
    }
    closedir(d);
    rp_buf_free(&path);
    return rc;
}

int rp_write_sweep_tables(const rp_results *r, const char *dir, FILE *notes)
{
    int rc = PL_OK;
    for (int i = 0; i < r->n && rc == PL_OK;) {
        if (!rp_is_sweep_variant(r->exps[i].name)) {
            i++;
            continue;
        }
        /* Names in order: a sweep's variants, sharing "SWEEP@", are adjacent. */
        int end = i + 1;
        while (end < r->n && same_sweep(r->exps[i].name, r->exps[end].name)) end++;
        rc = write_sweep(r->exps + i, end - i, dir, notes);
        i = end;
    }
    return rc == PL_OK ? remove_stale_sweep_tables(r, dir, notes) : rc;
}
