/*
 * diff.h — the CI gate (rw-diff): two tables, or two directories of tables
 * matched by relative file name, compared value by value within tolerances.
 *
 * Rows are matched by their key (hash join), which is found from the columns:
 *   per-layer tables (rw-rank, rw-cond, ...):  run, step, tensor, component
 *   rw-compare tables (a `metric` and `step`): module, metric, step, run
 *   rw-compare --summary tables (`metric`):    module, metric, run, ref
 * Per-layer tables' descriptive columns (layer, module, rows, cols, dtype) are
 * compared as text; every other column is a metric: numbers, or empty (no
 * value). Two values a (current) and b (baseline) agree when
 *   |a - b| <= atol + rtol * |b|      (numpy.isclose, b the reference),
 * nan agrees with nan, inf with inf of the same sign, empty with empty, and
 * nothing else with those; a tolerance of inf skips the metric. Rows,
 * columns and tables on one side only are differences unless allowed.
 *
 * Files: diff.c (the engine), diff_walk.c (files and directories, diff_paths),
 * diff_report.c (diff_write); diff_impl.h holds their private state.
 *
 * Ownership: an rw_diff (diff_new, freed by diff_free) owns every table
 * given to it or read by it, the names and paths of its pairs, and its list
 * of differences. The options it is made with are copied, the arrays they
 * point to borrowed: they must outlive it. Pointers it hands out
 * (diff_counts, diff_get and the strings in an rw_difference) point into it
 * and live as long as it does, except that diff_finish reorders the
 * differences: take diff_get's pointers after it.
 */
#ifndef RW_DIFF_H
#define RW_DIFF_H

#include "io/run.h"
#include "io/table.h"

#include <stdio.h>

typedef struct {
    const char *metric;   /* column name */
    double rtol, atol;    /* atol nan: the global one */
} rw_tol;

typedef struct {
    double rtol, atol;            /* defaults RW_DIFF_RTOL, RW_DIFF_ATOL */
    const rw_tol *tols;           /* per metric, overriding rtol (and atol) */
    size_t ntols;
    const char *const *metrics;   /* compare only these metric columns; NULL: all */
    size_t nmetrics;
    bool allow_missing;           /* rows, columns, tables on one side only are fine */
    const rw_select *sel;         /* rows by tensor name (module when no tensor) */
    const char *component;        /* rows of this component only; NULL: all */
} rw_diff_opts;

#define RW_DIFF_RTOL 1e-6
#define RW_DIFF_ATOL 1e-12

typedef enum {
    RW_DK_TABLE_MISSING, /* a table of the baseline directory is not in the current one */
    RW_DK_TABLE_EXTRA,
    RW_DK_COL_MISSING,   /* a column of the baseline table is not in the current one */
    RW_DK_COL_EXTRA,
    RW_DK_VALUE,         /* a metric beyond tolerance, or nan/inf/empty against a value */
    RW_DK_LABEL,         /* a descriptive column (dtype, rows, ...) differs */
    RW_DK_ROW_MISSING,   /* a baseline row has no current row with its key */
    RW_DK_ROW_EXTRA,
} rw_diff_kind;

typedef struct {
    size_t tables, tables_missing, tables_extra;
    size_t tables_skipped; /* directories: tables neither side of which has key columns */
    size_t rows_matched, rows_missing, rows_extra;
    size_t cols_missing, cols_extra;
    size_t values, values_beyond, labels_differ;
    size_t differences;  /* the ones that fail the gate (all but allowed ones) */
} rw_diff_counts;

/* One difference, valid while its rw_diff lives (its strings point into the
 * rw_diff's tables and names). */
typedef struct {
    rw_diff_kind kind;
    const char *table;         /* the table's name (relative path in a directory) */
    const char *column;        /* NULL for row and table kinds */
    const char *base, *cur;    /* the cells (RW_DK_VALUE, RW_DK_LABEL), else NULL */
    double diff, rel_diff;     /* a - b and (a - b) / |b| (a current, b baseline;
                                  nan unless both are numbers) */
    double tol;                /* atol + rtol * |b| (nan unless a metric value) */
    double score;              /* |a - b| / tol; inf for nan/inf/empty against a
                                  value, labels, rows, columns and tables */
} rw_difference;

typedef struct rw_diff rw_diff;

/* New comparison with options o (copied, not the arrays it points to, which
 * must outlive it). The caller's, freed with diff_free; NULL when out of
 * memory. */
rw_diff *diff_new(const rw_diff_opts *o);
void diff_free(rw_diff *d);

/* Compares base with cur under name (for messages, copied), taking
 * ownership of both tables, also on failure; either may be NULL for a table
 * on one side only. RW_EDATA for
 * a table that lacks its key columns, a metric cell that is not a number, a
 * key that appears twice, or tables of different kinds. */
rw_status diff_add(rw_diff *d, const char *name, rw_table *base, rw_table *cur, rw_err *err);

/* Reads and compares two files, or two directories (their *.tsv and *.csv
 * files, recursively, matched by relative path; a table neither side of
 * which has the key columns of a known kind, such as an rw-ls listing, is
 * skipped and named in the report). The two sides are read in parallel.
 * RW_EUSAGE when one is a file and the other a directory. */
rw_status diff_paths(rw_diff *d, const char *base, const char *cur, rw_err *err);

/* Sorts the differences, worst first: tables and columns on one side only,
 * then values and labels by score (descending), then rows on one side only;
 * ties in table, row, column order. RW_EUSAGE when --metrics named a column
 * no table has (a tolerance for an absent column is fine: one set of options
 * serves directories with different tables). Call once, after the last diff_add/diff_paths. */
rw_status diff_finish(rw_diff *d, rw_err *err);

/* The counts so far (a pointer into d, kept up to date by diff_add and
 * diff_paths), the number of differences, and difference i < diff_ndiff
 * (a pointer into d: valid until the next diff_add, diff_paths or
 * diff_finish, which may move the list, and never after diff_free). */
const rw_diff_counts *diff_counts(const rw_diff *d);
size_t diff_ndiff(const rw_diff *d);
const rw_difference *diff_get(const rw_diff *d, size_t i);
/* The key of difference i's row, "run=a step=10 tensor=... component=full"
 * (empty for table and column kinds). New string, caller frees; NULL when
 * out of memory. */
char *diff_key(const rw_diff *d, size_t i);

typedef enum { RW_DF_TEXT, RW_DF_MD, RW_DF_JSON } rw_diff_format;

/* The report: counts, tolerances, then the differences worst first (text
 * and md: at most max_show of them, 0 for all; json: all). base_name and
 * cur_name name the two sides in the report. Writes to f (the caller's,
 * not closed); RW_EIO when a write to it failed. */
rw_status diff_write(const rw_diff *d, FILE *f, rw_diff_format fmt, size_t max_show,
                     const char *base_name, const char *cur_name);

#endif
