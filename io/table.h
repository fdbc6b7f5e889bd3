/*
 * table.h — the tables rankwatch writes and reads: named columns, rows of
 * text cells, written as TSV (the default), CSV, Markdown, LaTeX or JSON, and
 * read back from TSV or CSV. Output files appear atomically (outfile.h).
 * DESIGN.md's column names are in table_keys.h.
 *
 * Files: table.c (build, sort, write), table_text.c (text in cells, the
 * escapes of every format), table_read.c (reading).
 *
 * Ownership: an rw_table owns its column names and cells (copies, or the
 * block table_read read them into); table_new and table_read give the
 * caller a table to free with table_free. table_cell's pointer is borrowed:
 * the cell's text, valid until table_free (sorting and new rows move the
 * row pointers, not the text).
 */
#ifndef RW_TABLE_H
#define RW_TABLE_H

#include "io/rw.h"

#include <stdio.h>

typedef enum { RW_TF_TSV, RW_TF_CSV, RW_TF_MD, RW_TF_TEX, RW_TF_JSON } rw_tformat;

/* -1 when unknown; names: tsv csv md tex json. */
int rw_tformat_parse(const char *name);

typedef struct {
    size_t ncols;
    char **cols;        /* column names (owned) */
    bool *numeric;      /* per column: JSON writes its cells as numbers */
    size_t nrows, cap;
    char **cells;       /* nrows * ncols, row-major (owned) */
    char *arena;        /* table_read: one block that holds the cells read (owned;
                           cells inside it are not freed one by one), else NULL */
    size_t arena_len;
} rw_table;

/* New empty table with these columns (copied); the caller's (table_free);
 * NULL on allocation failure. */
rw_table *table_new(const char *const *cols, size_t ncols);
void table_free(rw_table *t);
/* Appends a row of ncols cells (copied). */
rw_status table_add_row(rw_table *t, const char *const *cells, rw_err *err);
static inline const char *table_cell(const rw_table *t, size_t row, size_t col)
{
    return t->cells[row * t->ncols + col];
}
/* Column index by name, -1 when absent. */
long table_col(const rw_table *t, const char *name);
/* Marks a column numeric (JSON: number; non-finite as "nan"/"inf" strings). */
void table_set_numeric(rw_table *t, long col, bool numeric);

/* Sorts rows by the given columns in order; a column listed in numeric_keys
 * compares as a number. Stable. */
void table_sort(rw_table *t, const long *keys, const bool *numeric_keys, size_t nkeys);
/* Sorts by DESIGN.md's key: run, step (numeric), tensor, component (the
 * row key of table_keys.h), skipping the ones t lacks. */
void table_sort_default(rw_table *t);

rw_status table_write(const rw_table *t, FILE *f, rw_tformat fmt);
/* Writes to path atomically (temporary file + rename); path NULL or "-"
 * writes to stdout. */
rw_status table_write_path(const rw_table *t, const char *path, rw_tformat fmt, rw_err *err);

/* ------------------------------------------------------ text in cells
 * The one rule for names (and all text) in output files; every writer of
 * every format goes through table_put_text (docs/reliability.md, "Names in
 * output files"). NUL cannot occur (C strings); every other byte can.
 *   tsv   backslash, tab, LF, CR as \\ \t \n \r; the other control bytes
 *         (0x01-0x1f, 0x7f) as \xNN (lowercase hex); all else as is, so a
 *         field never holds a separator. table_read undoes exactly this.
 *   csv   RFC 4180: a field holding , " CR or LF is quoted and its quotes
 *         doubled; all bytes as is. table_read reads such fields back.
 *   md    the tsv form, with | < & ` escaped by a backslash: a name cannot
 *         end a cell, break a row, start HTML or a code span.
 *   tex   the tsv form typeset: its backslashes as \textbackslash{}, the
 *         specials _ % & # $ { } ~ ^ < > | as TeX escapes or commands.
 *   json  a JSON string, quotes included: \" \\ \n \t \r, \u00NN for the
 *         other control bytes; a byte that is not part of well-formed UTF-8
 *         (JSON text is UTF-8) as \ufffd. */
void table_put_text(FILE *f, const char *s, rw_tformat fmt);
/* table_put_text into a new string (caller frees); NULL when out of memory. */
char *table_text_dup(const char *s, rw_tformat fmt);
/* Undoes the tsv escapes of s in place. NULL on success, else a pointer to
 * the first malformed escape (s then partly rewritten): a backslash not
 * followed by \\ t n r or xHH, or \x00. */
char *table_unescape_tsv(char *s);


/* Reads a TSV (or, for .csv names, CSV) table with a header row, undoing
 * the escapes above (tsv) or quotes (csv, whose quoted fields may span
 * lines). A ragged row or a malformed escape is an error naming its line.
 * *out owned by the caller. */
rw_status table_read(const char *path, rw_table **out, rw_err *err);

#endif
