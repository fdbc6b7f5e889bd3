/*
 * table_keys.h — DESIGN.md's table layout as code: the key columns, the
 * metric column names, and the one rule for rows that say the same thing
 * twice. Every module that writes or reads per-layer tables takes the names
 * from here (the writers: analyzers/core/pipeline.c, rw_metric_name; the
 * readers: rw-compare, rw-diff, rw_aggregate, table_sort_default).
 *
 * DESIGN.md: a table has one row per (run, step, tensor, component), its key
 * columns first, in the order of table_key_names. A program that reads
 * tables selects one component per matrix and then takes each metric's
 * value from them; two values of one metric for the same (run, step,
 * tensor) — from one table or from two — contradict each other, and no
 * program picks one silently. rw-compare and rw-plot both apply this
 * through table_keys_unique.
 *
 * Everything here is static data or borrowed: no function returns memory to
 * free.
 */
#ifndef RW_TABLE_KEYS_H
#define RW_TABLE_KEYS_H

#include "io/rw.h"
#include "io/table.h"

/* DESIGN.md's key columns, in its order (indices into table_key_names). */
typedef enum {
    RW_KEY_RUN,
    RW_KEY_STEP,
    RW_KEY_TENSOR,
    RW_KEY_LAYER,
    RW_KEY_MODULE,
    RW_KEY_COMPONENT,
    RW_KEY_ROWS,
    RW_KEY_COLS,
    RW_KEY_DTYPE,
    RW_NKEY
} rw_key_col;

/* "run" "step" "tensor" "layer" "module" "component" "rows" "cols" "dtype"
 * (static strings). */
extern const char *const table_key_names[RW_NKEY];

/* What identifies a row: run, step, tensor, component (DESIGN.md: one row
 * per (run, step, tensor, component)); the other key columns describe it. */
#define RW_NROW_KEY 4
extern const rw_key_col table_row_key[RW_NROW_KEY];

/* name is one of DESIGN.md's key columns, or data or split (never a metric). */
bool table_is_key_col(const char *name);
/* name is one of the row's identifying columns (table_row_key). */
bool table_is_row_key(const char *name);

/* Finds the key columns which[0..n-1] of t: cols[i] is the column of
 * which[i]. Returns -1 when t has them all, else the index i of the first
 * missing one (cols[i] then -1; the caller names table_key_names[which[i]]
 * in its message). */
int table_find_keys(const rw_table *t, const rw_key_col *which, size_t n, long *cols);

/* The data a table's rows are of (docs/formats.md, "Gradients"). A table
 * of weights has no such column: its nine key columns are DESIGN.md's, as
 * they always were. A table of anything else (--data gradients) has two key
 * columns more, right after dtype: `data` (gradients) and `split` (train or
 * val). Every program that reads tables takes a table without them as
 * weights, and never puts rows of different data together. */
#define RW_NDATA_COL 2
extern const char *const table_data_cols[RW_NDATA_COL]; /* "data", "split" */

/* The data t's rows are of, as one label into buf (n bytes): "weights"
 * without a data column, else "DATA (SPLIT)" ("gradients (train)"). src
 * names t in the message when its rows disagree (RW_EDATA). */
rw_status table_data_label(const rw_table *t, const char *src, char *buf, size_t n,
                           rw_err *err);

/* DESIGN.md's metric columns, in its order (sigma_max ... nuc: the order of
 * rw_metric_id), then rw-updates' rel_update (static strings). */
#define RW_NMETRIC_NAMES 12
#define RW_METRIC_REL_UPDATE 11 /* the index of "rel_update" */
extern const char *const table_metric_names[RW_NMETRIC_NAMES];

/* name is one of table_metric_names: always a metric column, whatever its
 * cells hold. */
bool table_is_metric_name(const char *name);

/* One value read from a table, under its key. Strings are borrowed. */
typedef struct {
    const char *run, *tensor;
    int64_t step;
    const char *what;   /* the metric the value is of */
    const char *src;    /* the table it was read from, for messages */
    size_t row;         /* its data row there, from 0 */
} table_key;

/* Sorts keys[0..n-1] (by what, run, step, tensor) and fails with RW_EDATA,
 * naming both rows, at the first key given twice:
 * "run R, step S, tensor T: WHAT given twice (a.tsv row 3, b.tsv row 7)". */
rw_status table_keys_unique(table_key *keys, size_t n, rw_err *err);

#endif
