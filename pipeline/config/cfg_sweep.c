/* cfg_sweep.c: turns a sweep file into one generated experiment file per
 * variant (see cfg_sweep.h), validating each through cfg_load. */
#include "cfg_sweep.h"
#include "cfg.h"
#include "pl_err.h"
#include "pl_mem.h"

#include <ctype.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TEXT_MAX 8192

static int valid_name(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-' && *s != '.') return 0;
    return 1;
}

/* Appends one "section.key = value" (or top-level "key = value")
 * assignment to text, inside the `overrides` group: every assignment of a
 * section goes into one "section = { ... };" block (libconfig refuses a
 * group defined twice), so the caller passes all assignments of the variant
 * and this function is called once per section, in order of first use. */
static int split_assignment(const char *sweep_path, int line, const char *assignment,
                            char *section, size_t section_cap, const char **rest)
{
    const char *dot = strchr(assignment, '.'), *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        PL_FAIL(PL_ERR_CONFIG, "%s:%d: '%s': expected \"section.key = value\" or \"key = value\"",
                sweep_path, line, assignment);
    section[0] = '\0';
    *rest = assignment;
    if (dot && dot < eq) {
        size_t len = (size_t)(dot - assignment);
        if (len == 0 || len >= section_cap)
            PL_FAIL(PL_ERR_CONFIG, "%s:%d: '%s': bad section name", sweep_path, line, assignment);
        memcpy(section, assignment, len);
        section[len] = '\0';
        *rest = dot + 1;
    }
    return PL_OK;
}

/* Appends the concatenation a b c to text. */
static int append(char *text, size_t cap, const char *sweep_path, int line, const char *a,
                  const char *b, const char *c)
{
    size_t used = strlen(text);
    int n = snprintf(text + used, cap - used, "%s%s%s", a, b, c);
    if (n < 0 || (size_t)n >= cap - used)
        PL_FAIL(PL_ERR_CONFIG, "%s:%d: the variant's settings are too long", sweep_path, line);
    return PL_OK;
}

/* Writes the variant's assignments (set, a libconfig array of strings) into
 * text as the body of an `overrides` group, grouped by section. */
static int append_overrides(const char *sweep_path, const config_setting_t *set, char *text,
                            size_t cap)
{
    int line = config_setting_source_line(set), n = config_setting_length(set);
    for (int i = 0; i < n; i++) {
        const char *rest, *assignment = config_setting_get_string_elem(set, i);
        char section[64];
        if (!assignment)
            PL_FAIL(PL_ERR_CONFIG, "%s:%d: set holds strings", sweep_path, line);
        PL_TRY(split_assignment(sweep_path, line, assignment, section, sizeof section, &rest));
        if (!section[0]) {
            PL_TRY(append(text, cap, sweep_path, line, "    ", rest, ";\n"));
            continue;
        }
        int seen = 0; /* this section was written with an earlier assignment */
        for (int j = 0; j < i && !seen; j++) {
            char other[64];
            const char *other_rest;
            PL_TRY(split_assignment(sweep_path, line, config_setting_get_string_elem(set, j),
                                    other, sizeof other, &other_rest));
            seen = strcmp(other, section) == 0;
        }
        if (seen) continue;
        PL_TRY(append(text, cap, sweep_path, line, "    ", section, " = {\n"));
        for (int j = i; j < n; j++) {
            char other[64];
            const char *other_rest;
            PL_TRY(split_assignment(sweep_path, line, config_setting_get_string_elem(set, j),
                                    other, sizeof other, &other_rest));
            if (strcmp(other, section) == 0)
                PL_TRY(append(text, cap, sweep_path, line, "        ", other_rest, ";\n"));
        }
        PL_TRY(append(text, cap, sweep_path, line, "    };\n", "", ""));
    }
    return PL_OK;
}

/* Writes text to path unless the file already holds exactly that text. */
static int write_if_changed(const char *path, const char *text)
{
    FILE *f = fopen(path, "r");
    if (f) {
        char old[TEXT_MAX + 2];
        size_t n = fread(old, 1, sizeof old - 1, f);
        fclose(f);
        old[n] = '\0';
        if (strcmp(old, text) == 0) return PL_OK;
    }
    char tmp[1300];
    snprintf(tmp, sizeof tmp, "%s.new", path);
    f = fopen(tmp, "w");
    if (!f) PL_FAIL(PL_ERR_IO, "%s: cannot write", tmp);
    int bad = fputs(text, f) == EOF;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, path) != 0) {
        remove(tmp);
        PL_FAIL(PL_ERR_IO, "%s: cannot write", path);
    }
    return PL_OK;
}

static int generate_variant(const char *sweep_path, const char *sweep_name, const char *base,
                            const char *experiments_dir, const config_setting_t *variant,
                            char **name_out)
{
    /* libconfig dates a group in a list by where the previous element ended;
     * its first member knows the line the variant is written on. */
    const config_setting_t *first = config_setting_get_elem(variant, 0);
    int line = config_setting_source_line(first ? first : variant);
    const char *vname = NULL;
    if (!config_setting_lookup_string(variant, "name", &vname) || !valid_name(vname))
        PL_FAIL(PL_ERR_CONFIG, "%s:%d: each variant needs a name of letters, digits, '_', '-' "
                "or '.'", sweep_path, line);
    const config_setting_t *set = config_setting_get_member(variant, "set");
    if (!set || !config_setting_is_array(set))
        PL_FAIL(PL_ERR_CONFIG, "%s:%d: variant '%s': needs set = [ \"section.key = value\", ... ]",
                sweep_path, line, vname);
    for (int i = 0; i < config_setting_length(variant); i++) {
        const char *member = config_setting_name(config_setting_get_elem(variant, (unsigned)i));
        if (strcmp(member, "name") != 0 && strcmp(member, "set") != 0)
            PL_FAIL(PL_ERR_CONFIG, "%s:%d: variant '%s': unknown key '%s' (expected name, set)",
                    sweep_path, line, vname, member);
    }
    char text[TEXT_MAX];
    snprintf(text, sizeof text,
             "# Generated from %s (variant '%s') by `make sweep sweep=%s`: do not edit.\n"
             "@include \"%s.cfg\"\n\noverrides = {\n", sweep_path, vname, sweep_name, base);
    PL_TRY(append_overrides(sweep_path, set, text, sizeof text));
    size_t used = strlen(text);
    snprintf(text + used, sizeof text - used, "};\n");

    char experiment[256], path[1200];
    snprintf(experiment, sizeof experiment, "%s@%s", sweep_name, vname);
    snprintf(path, sizeof path, "%s/%s.cfg", experiments_dir, experiment);
    PL_TRY(write_if_changed(path, text));
    cfg_experiment check;
    int rc = cfg_load(&check, path);
    cfg_destroy(&check);
    if (rc < 0) {
        char why[768];
        snprintf(why, sizeof why, "%s", pl_last_error());
        remove(path);
        PL_FAIL(rc, "%s:%d: variant '%s': %s", sweep_path, line, vname, why);
    }
    *name_out = pl_xstrdup(experiment);
    return PL_OK;
}

static int generate(config_t *c, const char *sweep_path, const char *experiments_dir,
                    char **names, int *count)
{
    const char *slash = strrchr(sweep_path, '/');
    char sweep_name[128];
    snprintf(sweep_name, sizeof sweep_name, "%s", slash ? slash + 1 : sweep_path);
    char *ext = strstr(sweep_name, ".cfg");
    if (ext) *ext = '\0';
    const char *base = NULL;
    if (!config_lookup_string(c, "base", &base) || !valid_name(base))
        PL_FAIL(PL_ERR_CONFIG, "%s: needs base = \"<experiment>\" (a file in %s)", sweep_path,
                experiments_dir);
    const config_setting_t *variants = config_lookup(c, "variants");
    if (!variants || !config_setting_is_list(variants) || config_setting_length(variants) == 0)
        PL_FAIL(PL_ERR_CONFIG, "%s: needs variants = ( { name = ...; set = [...]; }, ... )",
                sweep_path);
    const config_setting_t *root = config_root_setting(c);
    for (int i = 0; i < config_setting_length(root); i++) {
        const config_setting_t *s = config_setting_get_elem(root, (unsigned)i);
        const char *name = config_setting_name(s);
        if (strcmp(name, "base") != 0 && strcmp(name, "variants") != 0)
            PL_FAIL(PL_ERR_CONFIG, "%s:%d: unknown key '%s' (a sweep has base and variants)",
                    sweep_path, config_setting_source_line(s), name);
    }
    for (int i = 0; i < config_setting_length(variants); i++) {
        PL_TRY(generate_variant(sweep_path, sweep_name, base, experiments_dir,
                                config_setting_get_elem(variants, (unsigned)i), &names[i]));
        for (int j = 0; j < i; j++)
            if (strcmp(names[j], names[i]) == 0)
                PL_FAIL(PL_ERR_CONFIG, "%s: two variants are named '%s'", sweep_path, names[i]);
        *count = i + 1;
    }
    return PL_OK;
}

int cfg_sweep_generate(const char *sweep_path, const char *experiments_dir, char ***names,
                       int *count)
{
    *names = NULL;
    *count = 0;
    config_t c;
    config_init(&c);
    if (!config_read_file(&c, sweep_path)) {
        int rc = config_error_type(&c) == CONFIG_ERR_FILE_IO
                     ? pl_error(PL_ERR_IO, __FILE__, __LINE__, "%s: cannot read", sweep_path)
                     : pl_error(PL_ERR_CONFIG, __FILE__, __LINE__, "%s:%d: syntax error (%s)",
                                sweep_path, config_error_line(&c), config_error_text(&c));
        config_destroy(&c);
        return rc;
    }
    const config_setting_t *variants = config_lookup(&c, "variants");
    int capacity = variants ? config_setting_length(variants) : 0;
    char **list = pl_xcalloc((size_t)(capacity ? capacity : 1), sizeof *list);
    int n = 0;
    int rc = generate(&c, sweep_path, experiments_dir, list, &n);
    config_destroy(&c);
    if (rc < 0) {
        for (int i = 0; i < capacity; i++) pl_free(list[i]);
        pl_free(list);
        return rc;
    }
    *names = list;
    *count = n;
    return PL_OK;
}
