/* report_internal.h: a growable text buffer and the table model shared by
 * report_tables.c, report_sweeps.c and report_plots.c, and the validation
 * columns shared by the models and sweep tables. */
#ifndef REPORT_INTERNAL_H
#define REPORT_INTERNAL_H

#include "report.h"

#include <stddef.h>
#include <stdio.h>

typedef struct {
    char *data;
    size_t len, cap;
} rp_buf;

void rp_buf_printf(rp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rp_buf_free(rp_buf *b);

/* A table: column titles (markdown and LaTeX) and keys (the CSV header);
 * each cell has a display text and a CSV text (plain numbers). */
#define RP_MAX_COLS 24
typedef struct {
    const char *title;          /* heading / caption */
    int ncols;
    char *head[RP_MAX_COLS];
    char *keys[RP_MAX_COLS];
    int nrows, cap, col;        /* col: next cell of the row being filled */
    char **shown, **csv;        /* nrows * ncols */
    rp_buf notes;               /* lines printed under the table (md and tex) */
} rp_table;

void rp_table_init(rp_table *t, const char *title);
void rp_table_column(rp_table *t, const char *head, const char *key);
/* Appends one cell to the current row (a new row starts when the last is
 * full); csv NULL = the shown text. */
void rp_table_cell(rp_table *t, const char *shown, const char *csv);
void rp_table_free(rp_table *t);

/* Writes base.md, base.csv and base.tex atomically. */
int rp_table_write(const rp_table *t, const char *dir, const char *base);

/* ---- the validation columns (report_tables.c) -------------------------------- */

/* Fills rows with the experiments of exps[0, n) that have a validate.h5, in
 * order, sweep variants only when keep_variants; returns how many. rows has
 * room for n. */
int rp_validated_rows(const rp_experiment *exps, int n, int keep_variants,
                      const rp_experiment **rows);
/* The latency kind all rows share, NULL when they differ. */
const char *rp_validated_kind(const rp_experiment *const *rows, int n);
/* The columns from model to within epsilon (kind from rp_validated_kind);
 * with_params_before adds "params before" ahead of "params after". */
void rp_validated_columns(rp_table *t, const char *kind, int with_params_before);
void rp_validated_cells(rp_table *t, const rp_validate *v, int with_params_before);
/* The notes on latency, accuracy and epsilon, then the average and minimum
 * speedup over the rows, each a `noun` ("experiment", "variant") named by
 * row_name. */
void rp_validated_notes(rp_table *t, const char *kind, const rp_experiment *const *rows, int n,
                        const char *noun, const char *(*row_name)(const rp_experiment *));

/* ---- the sweep tables (report_sweeps.c) --------------------------------------- */

/* Writes sweep_SWEEP.{md,csv,tex} into dir for every sweep among r's
 * experiments; a sweep without a validated variant is noted on notes. Then
 * removes dir's other sweep_*.{md,csv,tex} files (sweeps with no validated
 * variant among r's), noting each, so no table outlives its artifacts. */
int rp_write_sweep_tables(const rp_results *r, const char *dir, FILE *notes);

#endif
