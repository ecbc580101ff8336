/* test_schema_doc.c: schemas/artifacts.md and the schema tables in
 * pipeline/io/h5io_schema.c must agree, so the documentation cannot drift:
 *   - every table entry (provenance and each schema) has a row in the doc
 *     whose kind, dtype and shape agree (rank, fixed extents as numbers, any
 *     extent as a name, "same as" extents with the same name as the
 *     referenced dataset's);
 *   - each schema has a section "## `name` vN" with its current version, that
 *     names each of its entries or the top-level group holding it;
 *   - every row of the doc is an entry of some table.
 * Run from the repository root (as make check does). */
#include "check.h"
#include "h5io_schema.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOC_PATH  "schemas/artifacts.md"
#define MAX_LINES 2000
#define MAX_CELLS 8

typedef struct {
    int line;              /* index into lines        */
    char label[160];       /* "/graph/params"         */
    char kind[160], dtype[160], shape[160];
} doc_row;

static char *lines[MAX_LINES];
static int n_lines;
static doc_row rows[MAX_LINES];
static int n_rows;

/* Copies s without surrounding blanks and backticks into out. */
static void trim_cell(const char *s, size_t len, char *out, size_t n)
{
    while (len && (isspace((unsigned char)*s) || *s == '`')) s++, len--;
    while (len && (isspace((unsigned char)s[len - 1]) || s[len - 1] == '`')) len--;
    snprintf(out, n, "%.*s", (int)len, s);
}

/* Parses a table row "| `/x` | kind | dtype | shape | ... |". */
static int parse_row(int index, doc_row *row)
{
    const char *s = lines[index];
    if (strncmp(s, "| `/", 4) != 0) return 0;
    char cells[MAX_CELLS][160];
    int n = 0;
    const char *start = s + 1;
    for (const char *c = start; *c && n < MAX_CELLS; c++) {
        if (*c != '|') continue;
        trim_cell(start, (size_t)(c - start), cells[n++], sizeof cells[0]);
        start = c + 1;
    }
    if (n < 4) return 0;
    row->line = index;
    snprintf(row->label, sizeof row->label, "%s", cells[0]);
    snprintf(row->kind, sizeof row->kind, "%s", cells[1]);
    snprintf(row->dtype, sizeof row->dtype, "%s", cells[2]);
    snprintf(row->shape, sizeof row->shape, "%s", cells[3]);
    return 1;
}

static int load_doc(void)
{
    FILE *f = fopen(DOC_PATH, "r");
    if (!f) return -1;
    char buf[4096];
    while (n_lines < MAX_LINES && fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, "\r\n")] = '\0';
        lines[n_lines] = strdup(buf);
        if (parse_row(n_lines, &rows[n_rows])) n_rows++;
        n_lines++;
    }
    fclose(f);
    return 0;
}

static const doc_row *find_row(const char *label)
{
    for (int i = 0; i < n_rows; i++)
        if (strcmp(rows[i].label, label) == 0) return &rows[i];
    return NULL;
}

/* Splits "(a, b)" into tokens; returns the count, or -1 when malformed. */
static int shape_tokens(const char *shape, char tokens[][64], int max)
{
    size_t len = strlen(shape);
    if (len < 2 || shape[0] != '(' || shape[len - 1] != ')') return -1;
    int n = 0;
    const char *start = shape + 1;
    for (const char *c = start;; c++) {
        if (*c != ',' && *c != ')') continue;
        if (n == max) return -1;
        trim_cell(start, (size_t)(c - start), tokens[n++], 64);
        start = c + 1;
        if (*c == ')') break;
    }
    return n;
}

static int is_number(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

/* Checks the row of entry e against it, including "same as" extents. */
static void check_entry_row(const h5io_entry *e)
{
    char label[160];
    h5io_entry_label(e, label, sizeof label);
    const doc_row *row = find_row(label);
    CHECK(row != NULL, "%s: %s has no row in %s", DOC_PATH, label, DOC_PATH);
    if (!row) return;
    CHECK(strcmp(row->kind, h5io_kind_name(e->kind)) == 0, "%s line %d: %s: kind '%s', tables say %s",
          DOC_PATH, row->line + 1, label, row->kind, h5io_kind_name(e->kind));
    CHECK(strcmp(row->dtype, h5io_dtype_name(e->dtype)) == 0,
          "%s line %d: %s: dtype '%s', tables say %s", DOC_PATH, row->line + 1, label, row->dtype,
          h5io_dtype_name(e->dtype));
    if (e->kind == H5IO_GROUP) {
        CHECK(strcmp(row->shape, "-") == 0, "%s line %d: %s: a group's shape is '-'", DOC_PATH,
              row->line + 1, label);
        return;
    }
    if (e->rank == 0) {
        CHECK(strcmp(row->shape, "scalar") == 0, "%s line %d: %s: shape '%s', tables say scalar",
              DOC_PATH, row->line + 1, label, row->shape);
        return;
    }
    char tokens[H5IO_MAX_RANK + 1][64];
    int n = shape_tokens(row->shape, tokens, H5IO_MAX_RANK + 1);
    CHECK(n == e->rank, "%s line %d: %s: shape '%s' has rank %d, tables say %d", DOC_PATH,
          row->line + 1, label, row->shape, n, e->rank);
    if (n != e->rank) return;
    for (int k = 0; k < n; k++) {
        const h5io_dim *d = &e->dims[k];
        if (d->size >= 0 && !d->like) {
            char want[32];
            snprintf(want, sizeof want, "%lld", (long long)d->size);
            CHECK(strcmp(tokens[k], want) == 0, "%s line %d: %s: extent %d is '%s', tables say %s",
                  DOC_PATH, row->line + 1, label, k, tokens[k], want);
            continue;
        }
        CHECK(!is_number(tokens[k]), "%s line %d: %s: extent %d is fixed (%s) here, free in tables",
              DOC_PATH, row->line + 1, label, k, tokens[k]);
        if (!d->like) continue;
        const doc_row *ref = find_row(d->like);
        char ref_tokens[H5IO_MAX_RANK + 1][64];
        int ref_n = ref ? shape_tokens(ref->shape, ref_tokens, H5IO_MAX_RANK + 1) : -1;
        CHECK(ref_n > d->like_dim && strcmp(ref_tokens[d->like_dim], tokens[k]) == 0,
              "%s line %d: %s: extent %d ('%s') must be named as extent %d of %s", DOC_PATH,
              row->line + 1, label, k, tokens[k], d->like_dim, d->like);
    }
}

/* The line range [first, end) of the section whose heading is `heading`. */
static int find_section(const char *heading, int *first, int *end)
{
    for (int i = 0; i < n_lines; i++) {
        if (strcmp(lines[i], heading) != 0) continue;
        *first = i;
        *end = n_lines;
        for (int j = i + 1; j < n_lines; j++)
            if (strncmp(lines[j], "## ", 3) == 0) {
                *end = j;
                break;
            }
        return 1;
    }
    return 0;
}

static int section_mentions(int first, int end, const char *label)
{
    char quoted[192];
    snprintf(quoted, sizeof quoted, "`%s`", label);
    for (int i = first; i < end; i++)
        if (strstr(lines[i], quoted)) return 1;
    return 0;
}

static void check_schema(const h5io_schema *s)
{
    char heading[128];
    snprintf(heading, sizeof heading, "## `%s` v%lld", s->name, (long long)s->version);
    int first = 0, end = 0;
    int found = find_section(heading, &first, &end);
    CHECK(found, "%s: no section '%s' (name and current version)", DOC_PATH, heading);
    for (int i = 0; i < s->n_entries; i++) {
        const h5io_entry *e = &s->entries[i];
        check_entry_row(e);
        if (!found) continue;
        char label[160], top[160];
        h5io_entry_label(e, label, sizeof label);
        /* The top-level group: "/graph" for "/graph/params" and "/graph@flops". */
        snprintf(top, sizeof top, "%s", e->path);
        char *slash = strchr(top + 1, '/');
        if (slash) *slash = '\0';
        CHECK(section_mentions(first, end, label) || section_mentions(first, end, top),
              "%s: section '%s' names neither %s nor %s", DOC_PATH, heading, label, top);
    }
}

/* 1 when label is an entry of the provenance or of any schema. */
static int in_tables(const char *label)
{
    char buf[160];
    int n;
    const h5io_entry *prov = h5io_provenance_entries(&n);
    for (int i = 0; i < n; i++)
        if (strcmp(h5io_entry_label(&prov[i], buf, sizeof buf), label) == 0) return 1;
    for (int s = 0; s < h5io_schema_count(); s++) {
        const h5io_schema *schema = h5io_schema_at(s);
        for (int i = 0; i < schema->n_entries; i++)
            if (strcmp(h5io_entry_label(&schema->entries[i], buf, sizeof buf), label) == 0)
                return 1;
    }
    return 0;
}

int main(void)
{
    int loaded = load_doc();
    CHECK(loaded == 0, "cannot read %s (run from the repository root)", DOC_PATH);
    if (loaded < 0) return check_summary("test_schema_doc");
    CHECK(n_rows > 0, "%s: no table rows found", DOC_PATH);

    int n_prov;
    const h5io_entry *prov = h5io_provenance_entries(&n_prov);
    for (int i = 0; i < n_prov; i++) check_entry_row(&prov[i]);
    CHECK(h5io_schema_count() >= 2, "expected at least gos.baseline and gos.checkpoint");
    for (int s = 0; s < h5io_schema_count(); s++) check_schema(h5io_schema_at(s));
    for (int i = 0; i < n_rows; i++)
        CHECK(in_tables(rows[i].label), "%s line %d: %s is documented but in no schema table",
              DOC_PATH, rows[i].line + 1, rows[i].label);

    for (int i = 0; i < n_lines; i++) free(lines[i]);
    return check_summary("test_schema_doc");
}
