/* report_internal.h: a growable text buffer and the table model shared by
 * report_tables.c and report_plots.c. */
#ifndef REPORT_INTERNAL_H
#define REPORT_INTERNAL_H

#include <stddef.h>

typedef struct {
    char *data;
    size_t len, cap;
} rp_buf;

void rp_buf_printf(rp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rp_buf_free(rp_buf *b);

/* A table: column titles (markdown and LaTeX) and keys (the CSV header);
 * each cell has a display text and a CSV text (plain numbers). */
#define RP_MAX_COLS 16
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

#endif
