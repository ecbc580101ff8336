/* cfg_text.c: the texts made from a loaded config and from the schema: value
 * formatting, the per-stage fingerprint, and the Markdown documentation of
 * the schema (schemas/config.md). */
#include "cfg.h"
#include "cfg_schema.h"
#include "pl_err.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void cfg_schema_format_double(double v, int as_float, char *buf, size_t n)
{
    PL_ASSERT(buf != NULL && n > 0);
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, n, "%.0f", v);
    } else {
        for (int precision = 1; precision <= 17; precision++) {
            snprintf(buf, n, "%.*g", precision, v);
            if (strtod(buf, NULL) == v) break;
        }
    }
    if (as_float && strpbrk(buf, ".eEni") == NULL && strlen(buf) + 3 <= n) strcat(buf, ".0");
}

/* Writes s as a double-quoted libconfig string. */
static void format_quoted(const char *s, char *buf, size_t n)
{
    size_t used = 0;
    PL_ASSERT(n >= 3);
    buf[used++] = '"';
    for (; *s != '\0' && used + 6 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[used++] = '\\';
            buf[used++] = (char)c;
        } else if (c == '\n') {
            buf[used++] = '\\';
            buf[used++] = 'n';
        } else if (c == '\t') {
            buf[used++] = '\\';
            buf[used++] = 't';
        } else if (c < 0x20 || c == 0x7f) {
            used += (size_t)snprintf(buf + used, n - used, "\\x%02x", c);
        } else {
            buf[used++] = (char)c;
        }
    }
    buf[used++] = '"';
    buf[used] = '\0';
}

void cfg_schema_format_value(const cfg_key_spec *k, const cfg_experiment *e, int exact,
                             char *buf, size_t n)
{
    const char *field = (const char *)e + k->offset;
    switch (k->type) {
    case CFG_INT: {
        int v;
        memcpy(&v, field, sizeof v);
        snprintf(buf, n, "%d", v);
        break;
    }
    case CFG_BOOL: {
        int v;
        memcpy(&v, field, sizeof v);
        snprintf(buf, n, "%s", v ? "true" : "false");
        break;
    }
    case CFG_FLOAT: {
        double v;
        memcpy(&v, field, sizeof v);
        if (exact)
            snprintf(buf, n, "%.17g", v);
        else
            cfg_schema_format_double(v, 1, buf, n);
        break;
    }
    case CFG_STRING:
    case CFG_ENUM: format_quoted(field, buf, n); break;
    }
}

int cfg_fingerprint(const cfg_experiment *e, const char *stage, char **text)
{
    *text = NULL;
    const cfg_stage_spec *s = cfg_schema_find_stage(stage);
    if (s == NULL) {
        int n_stages;
        const cfg_stage_spec *all = cfg_schema_stages(&n_stages);
        char known[512] = "";
        for (int i = 0; i < n_stages; i++) {
            if (i > 0) strncat(known, ", ", sizeof known - strlen(known) - 1);
            strncat(known, all[i].stage, sizeof known - strlen(known) - 1);
        }
        PL_FAIL(PL_ERR_INVAL, "config fingerprint: unknown stage '%s' (known stages: %s)", stage,
                known);
    }
    char *buf = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&buf, &size);
    if (out == NULL) PL_FAIL(PL_ERR_NOMEM, "config fingerprint: open_memstream failed");
    int n_keys;
    const cfg_key_spec *keys = cfg_schema_keys(&n_keys);
    for (int i = 0; i < n_keys; i++) {
        if (!keys[i].fingerprinted || !cfg_schema_stage_reads(s, &keys[i])) continue;
        char name[128], value[CFG_VALUE_TEXT_MAX];
        cfg_schema_full_name(&keys[i], name, sizeof name);
        cfg_schema_format_value(&keys[i], e, 1, value, sizeof value);
        /* "0 = every core" means different things on different machines:
         * the fingerprint holds the count a run would use here. */
        if (strcmp(name, "threads") == 0 && e->threads == 0)
            snprintf(value, sizeof value, "%ld", sysconf(_SC_NPROCESSORS_ONLN));
        fprintf(out, "%s = %s;\n", name, value);
    }
    if (fclose(out) != 0) {
        free(buf);
        PL_FAIL(PL_ERR_NOMEM, "config fingerprint: writing the text failed");
    }
    *text = buf;
    return PL_OK;
}

/* ---- Markdown ---------------------------------------------------------------- */

static const char *type_name(cfg_type t)
{
    switch (t) {
    case CFG_INT: return "int";
    case CFG_FLOAT: return "float";
    case CFG_BOOL: return "bool";
    case CFG_STRING: return "string";
    case CFG_ENUM: return "enum";
    }
    return "?";
}

static void format_bound(const cfg_key_spec *k, double v, char *buf, size_t n)
{
    if (k->type == CFG_INT)
        snprintf(buf, n, "%.0f", v);
    else
        cfg_schema_format_double(v, 0, buf, n);
}

/* "1..1000", "[0, 0.9]", "(0, 10]", ">= 0", "0 or 8..512", "-". */
static void format_range(const cfg_key_spec *k, char *buf, size_t n)
{
    char lo[64], hi[64];
    format_bound(k, k->min, lo, sizeof lo);
    format_bound(k, k->max, hi, sizeof hi);
    const char *zero = (k->bounds & CFG_ZERO_SPECIAL) ? "0 or " : "";
    int has_min = (k->bounds & CFG_HAS_MIN) != 0, has_max = (k->bounds & CFG_HAS_MAX) != 0;
    int open_min = (k->bounds & CFG_MIN_EXCLUSIVE) != 0;
    if (has_min && has_max) {
        if (k->type == CFG_INT)
            snprintf(buf, n, "%s%s..%s", zero, lo, hi);
        else
            snprintf(buf, n, "%s%s%s, %s]", zero, open_min ? "(" : "[", lo, hi);
    } else if (has_min) {
        snprintf(buf, n, "%s%s %s", zero, open_min ? ">" : ">=", lo);
    } else if (has_max) {
        snprintf(buf, n, "%s<= %s", zero, hi);
    } else {
        snprintf(buf, n, "-");
    }
}

static void format_default(const cfg_key_spec *k, char *buf, size_t n)
{
    if (k->required) {
        snprintf(buf, n, "**required**");
        return;
    }
    char value[CFG_VALUE_TEXT_MAX];
    switch (k->type) {
    case CFG_INT: snprintf(value, sizeof value, "%lld", k->def_int); break;
    case CFG_BOOL: snprintf(value, sizeof value, "%s", k->def_int ? "true" : "false"); break;
    case CFG_FLOAT: cfg_schema_format_double(k->def_float, 1, value, sizeof value); break;
    case CFG_STRING:
    case CFG_ENUM: format_quoted(k->def_string, value, sizeof value); break;
    }
    snprintf(buf, n, "`%s`", value);
}

/* The stages reading k, comma-separated, or "-" when none does yet. */
static void format_readers(const cfg_key_spec *k, char *buf, size_t n)
{
    int n_stages;
    const cfg_stage_spec *stages = cfg_schema_stages(&n_stages);
    buf[0] = '\0';
    for (int i = 0; i < n_stages; i++) {
        if (!cfg_schema_stage_reads(&stages[i], k)) continue;
        if (buf[0] != '\0') strncat(buf, ", ", n - strlen(buf) - 1);
        strncat(buf, stages[i].stage, n - strlen(buf) - 1);
    }
    if (buf[0] == '\0') snprintf(buf, n, "-");
}

static void write_key_row(FILE *out, const cfg_key_spec *k)
{
    char name[128], type[512], def[CFG_VALUE_TEXT_MAX + 8], range[160], readers[256];
    cfg_schema_full_name(k, name, sizeof name);
    snprintf(type, sizeof type, "%s", type_name(k->type));
    if (k->type == CFG_ENUM) {
        strncat(type, ":", sizeof type - strlen(type) - 1);
        for (int v = 0; k->values[v] != NULL; v++) {
            char one[80];
            snprintf(one, sizeof one, "%s `\"%s\"`", v > 0 ? "," : "", k->values[v]);
            strncat(type, one, sizeof type - strlen(type) - 1);
        }
    }
    format_default(k, def, sizeof def);
    format_range(k, range, sizeof range);
    format_readers(k, readers, sizeof readers);
    fprintf(out, "| `%s` | %s | %s | %s | %s | %s | %s |\n", name, type, def, range, readers,
            k->fingerprinted ? "yes" : "no", k->doc);
}

static void write_intro(FILE *out)
{
    fputs("# Experiment configuration\n"
          "\n"
          "<!-- Generated by `build/gos_config schema` from pipeline/config/cfg_schema.c;\n"
          "     do not edit: tests/test_config.c fails when this file differs. -->\n"
          "\n"
          "An experiment is `experiments/<name>.cfg` in libconfig syntax; `<name>` (the\n"
          "file's basename) names its results directory. Shared parts are pulled in with\n"
          "`@include \"path\"`, resolved relative to the experiment file's directory.\n"
          "libconfig cannot define a setting twice, so shared files define groups named\n"
          "`base_<section>` (for example `base_train = { ... };`) and each key is taken\n"
          "from the first of:\n"
          "\n"
          "1. `overrides.<section>.<key>`: a top-level `overrides` group, written by\n"
          "   sweeps (`overrides = { train = { lr = 0.05; }; seed = 2; };`);\n"
          "2. `<section>.<key>`: the experiment's own section;\n"
          "3. `base_<section>.<key>`: a shared file's group;\n"
          "4. the default below; a **required** key without a value is an error.\n"
          "\n"
          "The top-level keys (`seed`, `threads`) layer the same way, without a `base_`\n"
          "form. Before any work starts the whole file is validated: an unknown name, a\n"
          "wrong type, a value out of range or not among an enum's values, and a missing\n"
          "required key are errors naming the file and line, such as\n"
          "`experiments/x.cfg:14: train.epochs: must be >= 1 (got 0)`. Integers are\n"
          "accepted where a float is expected, not the reverse. `build/gos_config resolve\n"
          "FILE` prints every resolved value and marks the defaults that were applied.\n"
          "\n"
          "Ranges are inclusive: `a..b` for integers, `[a, b]` for floats, `(` marks an\n"
          "excluded bound. Keys marked *fingerprinted* change results: each stage reruns\n"
          "when one of the fingerprinted keys it reads changes (`build/gos_config\n"
          "fingerprint FILE STAGE`), and only then; comments, layout and spelling\n"
          "(`0.1` or `1e-1`) do not count.\n",
          out);
}

int cfg_schema_markdown(FILE *out)
{
    int n_keys, n_sections, n_stages;
    const cfg_key_spec *keys = cfg_schema_keys(&n_keys);
    const cfg_section_spec *sections = cfg_schema_sections(&n_sections);
    const cfg_stage_spec *stages = cfg_schema_stages(&n_stages);

    write_intro(out);
    fputs("\n## Stages and what they read\n\n| stage | reads | output |\n|---|---|---|\n", out);
    for (int i = 0; i < n_stages; i++) {
        fprintf(out, "| `%s` | ", stages[i].stage);
        for (int r = 0; r < CFG_STAGE_MAX_READS && stages[i].reads[r] != NULL; r++)
            fprintf(out, "%s`%s`", r > 0 ? ", " : "", stages[i].reads[r]);
        fprintf(out, " | %s |\n", stages[i].doc);
    }
    for (int s = 0; s < n_sections; s++) {
        const char *section = sections[s].name;
        if (section[0] == '\0')
            fputs("\n## Top level\n\n", out);
        else
            fprintf(out, "\n## `%s`\n\n", section);
        fprintf(out, "%s\n\n", sections[s].doc);
        fputs("| key | type | default | range | read by | fingerprinted | description |\n"
              "|---|---|---|---|---|---|---|\n",
              out);
        for (int i = 0; i < n_keys; i++)
            if (strcmp(keys[i].section, section) == 0) write_key_row(out, &keys[i]);
    }
    fputs("\n## Reserved sections\n\nThese sections belong to stages not written yet; "
          "using one is an error\nuntil its stage exists:",
          out);
    const char *const *future = cfg_schema_future_sections();
    for (int f = 0; future[f] != NULL; f++)
        fprintf(out, "%s `%s`", f > 0 ? "," : "", future[f]);
    fputs(".\n", out);
    if (ferror(out)) PL_FAIL(PL_ERR_IO, "config schema: writing the Markdown failed");
    return PL_OK;
}
