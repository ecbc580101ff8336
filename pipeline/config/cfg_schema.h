/* cfg_schema.h: the configuration schema as data: one row per key (type,
 * default, range, fingerprinted or not, doc), the known sections, the
 * sections reserved for future stages, and the stage -> settings-read table
 * that fingerprints are built from. The tables live in cfg_schema.c, so a new
 * stage adds rows there and nothing else changes; cfg_load.c validates against
 * them and cfg_text.c prints them. Every pointer returned here is static. */
#ifndef CFG_SCHEMA_H
#define CFG_SCHEMA_H

#include "cfg.h"

#include <stddef.h>

typedef enum { CFG_INT, CFG_FLOAT, CFG_BOOL, CFG_STRING, CFG_ENUM } cfg_type;

/* cfg_key_spec.bounds flags. Bounds are inclusive unless marked exclusive. */
enum {
    CFG_HAS_MIN       = 1 << 0,
    CFG_HAS_MAX       = 1 << 1,
    CFG_MIN_EXCLUSIVE = 1 << 2, /* value must be > min                     */
    CFG_ZERO_SPECIAL  = 1 << 3  /* 0 is also allowed ("0 = automatic")    */
};

typedef struct {
    const char *section;  /* "" for the top-level keys (seed, threads)          */
    const char *key;
    cfg_type    type;
    size_t      offset;   /* of the field in cfg_experiment (int, double or char[]) */
    size_t      size;     /* of the field, in bytes (the string capacity)       */
    int         required; /* 1: no default; a missing key is an error           */
    long long   def_int;  /* default of CFG_INT and CFG_BOOL keys               */
    double      def_float;         /* default of CFG_FLOAT keys                 */
    const char *def_string;        /* default of CFG_STRING and CFG_ENUM keys   */
    unsigned    bounds;            /* CFG_HAS_MIN | ...                         */
    double      min, max;
    const char *const *values;     /* CFG_ENUM: allowed values, NULL-terminated */
    int         fingerprinted;     /* 1: changes results, so stages depend on it */
    const char *doc;               /* one line, Markdown                        */
} cfg_key_spec;

typedef struct {
    const char *name; /* "" for the top level                                  */
    const char *doc;
} cfg_section_spec;

/* A stage and what it reads: each entry is a section name ("model": every
 * key of it) or a full key name ("seed", "train.lr"). */
#define CFG_STAGE_MAX_READS 16
typedef struct {
    const char *stage;
    const char *reads[CFG_STAGE_MAX_READS]; /* NULL-terminated */
    const char *doc;
} cfg_stage_spec;

/* The tables; *count receives the number of rows. */
const cfg_key_spec     *cfg_schema_keys(int *count);
const cfg_section_spec *cfg_schema_sections(int *count);
const cfg_stage_spec   *cfg_schema_stages(int *count);

/* Section names that future stages will read, NULL-terminated; writing one is
 * an error "unknown section 'search' (no stage reads it yet)". */
const char *const *cfg_schema_future_sections(void);

/* Index of the row for section.key (section "" for top-level keys), or -1. */
int cfg_schema_find_key(const char *section, const char *key);

/* 1 when section is a known section name other than the top level "". */
int cfg_schema_is_section(const char *section);

/* The stage row named stage, or NULL. */
const cfg_stage_spec *cfg_schema_find_stage(const char *stage);

/* 1 when stage s reads key k. */
int cfg_schema_stage_reads(const cfg_stage_spec *s, const cfg_key_spec *k);

/* Writes "section.key" (or "key" at the top level) into buf. */
void cfg_schema_full_name(const cfg_key_spec *k, char *buf, size_t n);

/* Aborts (a bug, not a config error) when the tables are inconsistent: a
 * duplicate key, a default outside its own range, a stage reading an unknown
 * name. cfg_load calls it; it is cheap. */
void cfg_schema_assert_consistent(void);

/* Formats k's value in e into buf. exact = 1: floats with %.17g (the
 * fingerprint form); exact = 0: cfg_schema_format_double(v, 1) (the human
 * form). Strings are quoted
 * and escaped, bools are true/false. n >= CFG_VALUE_TEXT_MAX never truncates. */
#define CFG_VALUE_TEXT_MAX 4200 /* fits any formatted value: 1023 chars, each escaped to 4 */
void cfg_schema_format_value(const cfg_key_spec *k, const cfg_experiment *e, int exact,
                             char *buf, size_t n);

/* The shortest text of v that reads back to the same double ("%.0f" for
 * integral values, so 10 prints "10", not "1e+01"); as_float = 1 appends
 * ".0" when the text would otherwise read as an integer. */
void cfg_schema_format_double(double v, int as_float, char *buf, size_t n);

/* Checks the relations between keys of the resolved e (e.g. Nesterov needs
 * momentum > 0). where[i] is the "file:line" of the value of key row i.
 * Returns PL_OK or PL_ERR_CONFIG with a "file:line: section.key: ..." message. */
int cfg_schema_check_relations(const cfg_experiment *e, const char *const *where);

#endif
