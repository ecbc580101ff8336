/* cfg_load.c: reads an experiment file with libconfig, checks every setting
 * against the schema (cfg_schema.c), layers base_<section> < <section> <
 * overrides.<section> < default, and copies the result into cfg_experiment.
 * The libconfig tree is destroyed before cfg_load returns. Layering and the
 * error messages are described in cfg.h. */
#include "cfg.h"
#include "cfg_schema.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stdint.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Where a key's value comes from, weakest first. */
typedef enum { LAYER_DEFAULT, LAYER_BASE, LAYER_EXPERIMENT, LAYER_OVERRIDE, LAYER_COUNT } layer;

#define WHERE_MAX 1100 /* "path:line" */

typedef struct {
    const char *path;         /* the experiment file, as given                   */
    char        include_dir[1024];
    config_t    config;
    int         n_keys, n_sections;
    const cfg_key_spec     *keys;
    const cfg_section_spec *sections;
    const config_setting_t **chosen;       /* (n_keys) winning setting or NULL   */
    layer                   *chosen_layer; /* (n_keys)                           */
    const config_setting_t **groups;       /* (n_sections x LAYER_COUNT) groups  */
} loader;

/* ---- locations and messages ------------------------------------------------- */

/* name (relative to the include directory) joined to it, without "./". */
static void join_include(const loader *L, const char *name, int name_len, char *buf, size_t n)
{
    size_t dir_len = strlen(L->include_dir);
    if (strcmp(L->include_dir, ".") == 0)
        snprintf(buf, n, "%.*s", name_len, name);
    else
        snprintf(buf, n, "%s%s%.*s", L->include_dir,
                 L->include_dir[dir_len - 1] == '/' ? "" : "/", name_len, name);
}

/* The path of a file as libconfig names it: the experiment file by its given
 * path, an included file (named as written in @include) joined to the
 * include directory. */
static void display_path(const loader *L, const char *raw, char *buf, size_t n)
{
    if (raw == NULL || strcmp(raw, L->path) == 0 || raw[0] == '/')
        snprintf(buf, n, "%s", raw == NULL ? L->path : raw);
    else
        join_include(L, raw, (int)strlen(raw), buf, n);
}

static void where_of(const loader *L, const config_setting_t *s, char *buf, size_t n)
{
    char file[WHERE_MAX - 16];
    display_path(L, config_setting_source_file(s), file, sizeof file);
    snprintf(buf, n, "%s:%u", file, (unsigned)config_setting_source_line(s));
}

/* Records "file:line: label: message" for setting s; returns PL_ERR_CONFIG. */
__attribute__((format(printf, 4, 5)))
static int fail_at(const loader *L, const config_setting_t *s, const char *label,
                   const char *fmt, ...)
{
    char where[WHERE_MAX], message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    where_of(L, s, where, sizeof where);
    if (label != NULL) return pl_error(PL_ERR_CONFIG, __FILE__, __LINE__, "%s: %s: %s", where, label, message);
    return pl_error(PL_ERR_CONFIG, __FILE__, __LINE__, "%s: %s", where, message);
}

/* Line `line` (1-based) of file, malloc'd without its newline, or NULL. */
static char *read_source_line(const char *file, int line)
{
    FILE *f = fopen(file, "r");
    if (f == NULL) return NULL;
    char *text = NULL;
    size_t cap = 0;
    ssize_t len = -1;
    for (int i = 0; i < line; i++)
        if ((len = getline(&text, &cap, f)) < 0) break;
    fclose(f);
    if (len < 0) {
        free(text);
        return NULL;
    }
    text[strcspn(text, "\r\n")] = '\0';
    return text;
}

/* Describes a setting's type and value for "(got ...)". */
static void describe(const config_setting_t *s, char *buf, size_t n)
{
    char number[64];
    switch (config_setting_type(s)) {
    case CONFIG_TYPE_INT:
    case CONFIG_TYPE_INT64:
        snprintf(buf, n, "an integer: %lld", config_setting_get_int64(s));
        break;
    case CONFIG_TYPE_FLOAT:
        cfg_schema_format_double(config_setting_get_float(s), 1, number, sizeof number);
        snprintf(buf, n, "a float: %s", number);
        break;
    case CONFIG_TYPE_BOOL:
        snprintf(buf, n, "a bool: %s", config_setting_get_bool(s) ? "true" : "false");
        break;
    case CONFIG_TYPE_STRING: snprintf(buf, n, "a string: \"%s\"", config_setting_get_string(s)); break;
    case CONFIG_TYPE_GROUP: snprintf(buf, n, "a group"); break;
    case CONFIG_TYPE_ARRAY: snprintf(buf, n, "an array"); break;
    case CONFIG_TYPE_LIST: snprintf(buf, n, "a list"); break;
    default: snprintf(buf, n, "an empty setting"); break;
    }
}

/* ---- one setting ------------------------------------------------------------ */

/* libconfig 1.5 silently wraps integer literals beyond 32 bits to int
 * (10000000000 reads as 1410065408). Re-reads the literal from the source
 * line; returns 1 and its true value in *value when it does not fit in an
 * int and wraps to what libconfig made of it (so another setting of the same
 * name on the line cannot be mistaken for it). */
static int wrapped_integer_literal(const loader *L, const config_setting_t *s, long long *value)
{
    if (config_setting_type(s) != CONFIG_TYPE_INT || config_setting_name(s) == NULL) return 0;
    char file[WHERE_MAX];
    display_path(L, config_setting_source_file(s), file, sizeof file);
    char *line = read_source_line(file, config_setting_source_line(s));
    if (line == NULL) return 0;
    const char *name = config_setting_name(s);
    size_t name_len = strlen(name);
    int wrapped = 0;
    for (const char *p = strstr(line, name); p != NULL && !wrapped; p = strstr(p + 1, name)) {
        int starts = p == line || !(isalnum((unsigned char)p[-1]) || p[-1] == '_' || p[-1] == '-');
        const char *q = p + name_len;
        while (*q == ' ' || *q == '\t') q++;
        if (!starts || (*q != '=' && *q != ':')) continue;
        q++;
        while (*q == ' ' || *q == '\t') q++;
        const char *digits = (*q == '-' || *q == '+') ? q + 1 : q;
        int hex = digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X');
        char *end;
        errno = 0;
        long long v = strtoll(q, &end, hex ? 16 : 10);
        if (end == q || (v >= INT_MIN && v <= INT_MAX)) continue;
        long long as_int32 = (int32_t)(uint32_t)(unsigned long long)v;
        if (errno == ERANGE || as_int32 == config_setting_get_int64(s)) {
            *value = v;
            wrapped = 1;
        }
    }
    free(line);
    return wrapped;
}

/* Checks a number against k's bounds (and an int key against int's range). */
static int check_range(const loader *L, const cfg_key_spec *k, const config_setting_t *s,
                       const char *label, double v)
{
    char lo[64], hi[64], got[64];
    cfg_schema_format_double(k->min, 0, lo, sizeof lo);
    cfg_schema_format_double(k->max, 0, hi, sizeof hi);
    if (k->type == CFG_INT)
        snprintf(got, sizeof got, "%.0f", v);
    else
        cfg_schema_format_double(v, 0, got, sizeof got);
    if ((k->bounds & CFG_ZERO_SPECIAL) && v == 0) return PL_OK;
    const char *zero = (k->bounds & CFG_ZERO_SPECIAL) ? "0 or " : "";
    if ((k->bounds & CFG_HAS_MIN) && (k->bounds & CFG_MIN_EXCLUSIVE) && !(v > k->min))
        return fail_at(L, s, label, "must be %s> %s (got %s)", zero, lo, got);
    if ((k->bounds & CFG_HAS_MIN) && !(v >= k->min))
        return fail_at(L, s, label, "must be %s>= %s (got %s)", zero, lo, got);
    if ((k->bounds & CFG_HAS_MAX) && !(v <= k->max))
        return fail_at(L, s, label, "must be %s<= %s (got %s)", zero, hi, got);
    if (k->type == CFG_INT && v > INT_MAX)
        return fail_at(L, s, label, "must be <= %d (got %s)", INT_MAX, got);
    if (k->type == CFG_INT && v < INT_MIN)
        return fail_at(L, s, label, "must be >= %d (got %s)", INT_MIN, got);
    return PL_OK;
}

/* "\"a\", \"b\", \"c\"" into buf. */
static void list_values(const cfg_key_spec *k, char *buf, size_t n)
{
    buf[0] = '\0';
    for (int v = 0; k->values[v] != NULL; v++) {
        if (v > 0) strncat(buf, ", ", n - strlen(buf) - 1);
        strncat(buf, "\"", n - strlen(buf) - 1);
        strncat(buf, k->values[v], n - strlen(buf) - 1);
        strncat(buf, "\"", n - strlen(buf) - 1);
    }
}

/* Validates setting s as a value of key row k: type, range, enum membership,
 * string length. label is the setting's path as written ("base_train.lr"). */
static int check_setting(const loader *L, const cfg_key_spec *k, const config_setting_t *s,
                         const char *label)
{
    int type = config_setting_type(s);
    int is_int = type == CONFIG_TYPE_INT || type == CONFIG_TYPE_INT64;
    char got[1100], allowed[512];
    describe(s, got, sizeof got);
    switch (k->type) {
    case CFG_INT: {
        if (!is_int) return fail_at(L, s, label, "must be an integer (got %s)", got);
        long long v = config_setting_get_int64(s);
        wrapped_integer_literal(L, s, &v);
        return check_range(L, k, s, label, (double)v);
    }
    case CFG_FLOAT: {
        if (!is_int && type != CONFIG_TYPE_FLOAT)
            return fail_at(L, s, label, "must be a number (got %s)", got);
        long long wrapped = 0;
        if (wrapped_integer_literal(L, s, &wrapped))
            return fail_at(L, s, label, "integer %lld is too large for libconfig; write it as "
                           "a float (%lld.0)", wrapped, wrapped);
        double v = is_int ? (double)config_setting_get_int64(s) : config_setting_get_float(s);
        if (!isfinite(v)) return fail_at(L, s, label, "must be a finite number (got %s)", got);
        return check_range(L, k, s, label, v);
    }
    case CFG_BOOL:
        if (type != CONFIG_TYPE_BOOL) return fail_at(L, s, label, "must be true or false (got %s)", got);
        return PL_OK;
    case CFG_STRING:
        if (type != CONFIG_TYPE_STRING) return fail_at(L, s, label, "must be a string (got %s)", got);
        if (strlen(config_setting_get_string(s)) >= k->size)
            return fail_at(L, s, label, "is too long (%zu characters, at most %zu)",
                           strlen(config_setting_get_string(s)), k->size - 1);
        return PL_OK;
    case CFG_ENUM:
        list_values(k, allowed, sizeof allowed);
        if (type != CONFIG_TYPE_STRING || strlen(config_setting_get_string(s)) >= k->size)
            return fail_at(L, s, label, "must be one of %s (got %s)", allowed, got);
        for (int v = 0; k->values[v] != NULL; v++)
            if (strcmp(k->values[v], config_setting_get_string(s)) == 0) return PL_OK;
        return fail_at(L, s, label, "must be one of %s (got \"%s\")", allowed,
                       config_setting_get_string(s));
    }
    return PL_OK;
}

/* Copies a validated setting, or the default when s is NULL, into e. */
static void store_value(const cfg_key_spec *k, const config_setting_t *s, cfg_experiment *e)
{
    char *field = (char *)e + k->offset;
    switch (k->type) {
    case CFG_INT:
    case CFG_BOOL: {
        int v = (int)(s == NULL ? k->def_int
                      : k->type == CFG_BOOL ? config_setting_get_bool(s)
                                            : config_setting_get_int64(s));
        memcpy(field, &v, sizeof v);
        break;
    }
    case CFG_FLOAT: {
        double v = s == NULL ? k->def_float
                   : config_setting_type(s) == CONFIG_TYPE_FLOAT
                       ? config_setting_get_float(s)
                       : (double)config_setting_get_int64(s);
        memcpy(field, &v, sizeof v);
        break;
    }
    case CFG_STRING:
    case CFG_ENUM:
        snprintf(field, k->size, "%s", s == NULL ? k->def_string : config_setting_get_string(s));
        break;
    }
}

/* ---- walking the tree ----------------------------------------------------- */

static int section_index(const loader *L, const char *section)
{
    for (int i = 0; i < L->n_sections; i++)
        if (strcmp(L->sections[i].name, section) == 0) return i;
    return -1;
}

static int is_future_section(const char *name)
{
    const char *const *future = cfg_schema_future_sections();
    for (int f = 0; future[f] != NULL; f++)
        if (strcmp(future[f], name) == 0) return 1;
    return 0;
}

/* Validates s as key row `row` and keeps it when its layer beats the current. */
static int take_value(loader *L, int row, const config_setting_t *s, layer lay, const char *label)
{
    PL_TRY(check_setting(L, &L->keys[row], s, label));
    if (L->chosen[row] == NULL || lay > L->chosen_layer[row]) {
        L->chosen[row] = s;
        L->chosen_layer[row] = lay;
    }
    return PL_OK;
}

static int require_group(const loader *L, const config_setting_t *s, const char *label)
{
    if (config_setting_is_group(s)) return PL_OK;
    char got[1100];
    describe(s, got, sizeof got);
    return fail_at(L, s, label, "must be a group { ... } (got %s)", got);
}

/* Every key of a section group (section's own, base_ or overrides one). */
static int walk_section(loader *L, const config_setting_t *group, const char *section,
                        layer lay, const char *group_label)
{
    PL_TRY(require_group(L, group, group_label));
    L->groups[section_index(L, section) * LAYER_COUNT + lay] = group;
    for (int i = 0; i < config_setting_length(group); i++) {
        const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
        char label[256];
        snprintf(label, sizeof label, "%s.%s", group_label, config_setting_name(s));
        int row = cfg_schema_find_key(section, config_setting_name(s));
        if (row < 0) {
            char known[1024] = "";
            for (int k = 0; k < L->n_keys; k++) {
                if (strcmp(L->keys[k].section, section) != 0) continue;
                if (known[0] != '\0') strncat(known, ", ", sizeof known - strlen(known) - 1);
                strncat(known, L->keys[k].key, sizeof known - strlen(known) - 1);
            }
            return fail_at(L, s, label, "unknown key (%s keys: %s)", section, known);
        }
        PL_TRY(take_value(L, row, s, lay, label));
    }
    return PL_OK;
}

static int unknown_name(const loader *L, const config_setting_t *s, const char *prefix)
{
    const char *name = config_setting_name(s);
    const char *bare = strncmp(name, "base_", 5) == 0 && prefix[0] == '\0' ? name + 5 : name;
    if (is_future_section(bare))
        return fail_at(L, s, NULL, "unknown section '%s%s' (no stage reads it yet)", prefix, name);
    char sections[256] = "";
    for (int i = 0; i < L->n_sections; i++) {
        if (L->sections[i].name[0] == '\0') continue;
        if (sections[0] != '\0') strncat(sections, ", ", sizeof sections - strlen(sections) - 1);
        strncat(sections, L->sections[i].name, sizeof sections - strlen(sections) - 1);
    }
    if (prefix[0] != '\0')
        return fail_at(L, s, NULL, "unknown setting '%s%s' (expected seed, threads or a section: %s)",
                       prefix, name, sections);
    return fail_at(L, s, NULL, "unknown top-level setting '%s' (expected seed, threads, a "
                   "section (%s), base_<section> or overrides)", name, sections);
}

static int walk_overrides(loader *L, const config_setting_t *group)
{
    PL_TRY(require_group(L, group, "overrides"));
    for (int i = 0; i < config_setting_length(group); i++) {
        const config_setting_t *s = config_setting_get_elem(group, (unsigned)i);
        const char *name = config_setting_name(s);
        char label[256];
        snprintf(label, sizeof label, "overrides.%s", name);
        int row = cfg_schema_find_key("", name);
        if (row >= 0)
            PL_TRY(take_value(L, row, s, LAYER_OVERRIDE, label));
        else if (cfg_schema_is_section(name))
            PL_TRY(walk_section(L, s, name, LAYER_OVERRIDE, label));
        else
            return unknown_name(L, s, "overrides.");
    }
    return PL_OK;
}

static int walk_root(loader *L)
{
    const config_setting_t *root = config_root_setting(&L->config);
    for (int i = 0; i < config_setting_length(root); i++) {
        const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
        const char *name = config_setting_name(s);
        int row = cfg_schema_find_key("", name);
        if (row >= 0)
            PL_TRY(take_value(L, row, s, LAYER_EXPERIMENT, name));
        else if (cfg_schema_is_section(name))
            PL_TRY(walk_section(L, s, name, LAYER_EXPERIMENT, name));
        else if (strncmp(name, "base_", 5) == 0 && cfg_schema_is_section(name + 5))
            PL_TRY(walk_section(L, s, name + 5, LAYER_BASE, name));
        else if (strcmp(name, "overrides") == 0)
            PL_TRY(walk_overrides(L, s));
        else
            return unknown_name(L, s, "");
    }
    return PL_OK;
}

/* Where a default of row k "comes from": the section's group (experiment,
 * overrides, then base_ one), else the experiment file's first line. */
static void default_where(const loader *L, const cfg_key_spec *k, char *buf, size_t n)
{
    int sec = section_index(L, k->section);
    static const layer order[] = {LAYER_EXPERIMENT, LAYER_OVERRIDE, LAYER_BASE};
    for (int i = 0; i < 3 && k->section[0] != '\0'; i++) {
        const config_setting_t *g = L->groups[sec * LAYER_COUNT + order[i]];
        if (g != NULL) {
            where_of(L, g, buf, n);
            return;
        }
    }
    snprintf(buf, n, "%s:1", L->path);
}

/* ---- texts ------------------------------------------------------------------ */

static int build_texts(const loader *L, cfg_experiment *e)
{
    size_t resolved_size = 0, defaults_size = 0;
    FILE *resolved = open_memstream(&e->resolved_text, &resolved_size);
    FILE *defaults = open_memstream(&e->defaults_applied, &defaults_size);
    if (resolved == NULL || defaults == NULL) {
        if (resolved != NULL) fclose(resolved);
        if (defaults != NULL) fclose(defaults);
        PL_FAIL(PL_ERR_NOMEM, "%s: cannot allocate the resolved config text", L->path);
    }
    for (int i = 0; i < L->n_keys; i++) {
        char name[128], value[CFG_VALUE_TEXT_MAX];
        cfg_schema_full_name(&L->keys[i], name, sizeof name);
        cfg_schema_format_value(&L->keys[i], e, 0, value, sizeof value);
        int is_default = L->chosen[i] == NULL;
        fprintf(resolved, "%s = %s;%s\n", name, value, is_default ? "  # default" : "");
        if (is_default) fprintf(defaults, "%s = %s;\n", name, value);
    }
    int bad = fclose(resolved) != 0;
    bad |= fclose(defaults) != 0;
    if (bad) PL_FAIL(PL_ERR_NOMEM, "%s: cannot write the resolved config text", L->path);
    return PL_OK;
}

/* ---- the loader ------------------------------------------------------------- */

/* Turns libconfig's parse error into "file:line: ..." . */
static int parse_error(const loader *L)
{
    if (config_error_type(&L->config) == CONFIG_ERR_FILE_IO)
        PL_FAIL(PL_ERR_IO, "%s: cannot read the file", L->path);
    char file[WHERE_MAX];
    display_path(L, config_error_file(&L->config), file, sizeof file);
    int line = config_error_line(&L->config);
    const char *text = config_error_text(&L->config) ? config_error_text(&L->config) : "?";
    if (strcmp(text, "cannot open include file") == 0) {
        char *source = read_source_line(file, line);
        const char *open = source ? strchr(source, '"') : NULL;
        const char *close = open ? strchr(open + 1, '"') : NULL;
        if (close != NULL) {
            char missing[WHERE_MAX];
            join_include(L, open + 1, (int)(close - open - 1), missing, sizeof missing);
            int rc = pl_error(PL_ERR_CONFIG, __FILE__, __LINE__,
                              "%s:%d: cannot open include file '%s'", file, line, missing);
            free(source);
            return rc;
        }
        free(source);
        PL_FAIL(PL_ERR_CONFIG, "%s:%d: cannot open include file", file, line);
    }
    if (strcmp(text, "syntax error") == 0) PL_FAIL(PL_ERR_CONFIG, "%s:%d: syntax error", file, line);
    if (strcmp(text, "duplicate setting name") == 0)
        PL_FAIL(PL_ERR_CONFIG, "%s:%d: syntax error (duplicate setting name; shared files "
                "define base_<section> groups, which the experiment's <section> overrides)",
                file, line);
    PL_FAIL(PL_ERR_CONFIG, "%s:%d: syntax error (%s)", file, line, text);
}

/* Walks, layers, stores and checks; the config is parsed and L set up. */
static int resolve(loader *L, cfg_experiment *e)
{
    PL_TRY(walk_root(L));
    char *where_slab = pl_xcalloc((size_t)L->n_keys, WHERE_MAX);
    const char **where = pl_xcalloc((size_t)L->n_keys, sizeof *where);
    int rc = PL_OK;
    for (int i = 0; i < L->n_keys && rc == PL_OK; i++) {
        const cfg_key_spec *k = &L->keys[i];
        char *w = where_slab + (size_t)i * WHERE_MAX;
        where[i] = w;
        if (L->chosen[i] != NULL) {
            where_of(L, L->chosen[i], w, WHERE_MAX);
        } else {
            default_where(L, k, w, WHERE_MAX);
            if (k->required) {
                char name[128];
                cfg_schema_full_name(k, name, sizeof name);
                rc = pl_error(PL_ERR_CONFIG, __FILE__, __LINE__,
                              "%s: %s: missing required key (it has no default)", w, name);
            }
        }
        if (rc == PL_OK) store_value(k, L->chosen[i], e);
    }
    if (rc == PL_OK) rc = cfg_schema_check_relations(e, where);
    if (rc == PL_OK) rc = build_texts(L, e);
    pl_free(where);
    pl_free(where_slab);
    return rc;
}

/* Copies path into e->path and its basename without ".cfg" into e->name. */
static int set_names(cfg_experiment *e, const char *path)
{
    size_t path_len = strlen(path);
    if (path_len >= sizeof e->path)
        PL_FAIL(PL_ERR_INVAL, "config: path too long (%zu characters, at most %zu): %.80s...",
                path_len, sizeof e->path - 1, path);
    memcpy(e->path, path, path_len + 1);
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    size_t len = strlen(base);
    if (len > 4 && strcmp(base + len - 4, ".cfg") == 0) len -= 4;
    if (len == 0 || len >= sizeof e->name)
        PL_FAIL(PL_ERR_INVAL, "%s: the experiment name must be 1 to %zu characters", path,
                sizeof e->name - 1);
    memcpy(e->name, base, len);
    e->name[len] = '\0';
    return PL_OK;
}

/* Parses path and resolves it into e (whose names are set). */
static int load_file(cfg_experiment *e, const char *path)
{
    FILE *probe = fopen(path, "r");
    if (probe == NULL) PL_FAIL(PL_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    fclose(probe);

    loader L = {.path = path};
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(L.include_dir, sizeof L.include_dir, ".");
    else if (slash == path)
        snprintf(L.include_dir, sizeof L.include_dir, "/");
    else
        snprintf(L.include_dir, sizeof L.include_dir, "%.*s", (int)(slash - path), path);
    L.keys = cfg_schema_keys(&L.n_keys);
    L.sections = cfg_schema_sections(&L.n_sections);
    L.chosen = pl_xcalloc((size_t)L.n_keys, sizeof *L.chosen);
    L.chosen_layer = pl_xcalloc((size_t)L.n_keys, sizeof *L.chosen_layer);
    L.groups = pl_xcalloc((size_t)L.n_sections * LAYER_COUNT, sizeof *L.groups);

    config_init(&L.config);
    config_set_include_dir(&L.config, L.include_dir);
    int rc = config_read_file(&L.config, path) ? resolve(&L, e) : parse_error(&L);
    config_destroy(&L.config);
    pl_free(L.chosen);
    pl_free(L.chosen_layer);
    pl_free(L.groups);
    return rc;
}

int cfg_load(cfg_experiment *e, const char *path)
{
    cfg_schema_assert_consistent();
    memset(e, 0, sizeof *e);
    int rc = set_names(e, path);
    if (rc == PL_OK) rc = load_file(e, path);
    if (rc < 0) cfg_destroy(e);
    return rc;
}

void cfg_destroy(cfg_experiment *e)
{
    if (e == NULL) return;
    free(e->resolved_text);
    free(e->defaults_applied);
    memset(e, 0, sizeof *e);
}

cfg_experiment *cfg_new(void)
{
    return pl_xcalloc(1, sizeof(cfg_experiment));
}

void cfg_delete(cfg_experiment *e)
{
    cfg_destroy(e);
    pl_free(e);
}
