/*
 * table_keys.h — the one rule for rows that say the same thing twice.
 *
 * DESIGN.md: a table has one row per (run, step, tensor, component). A
 * program that reads tables selects one component per matrix and then takes
 * each metric's value from them; two values of one metric for the same
 * (run, step, tensor) — from one table or from two — contradict each other,
 * and no program picks one silently. rw-compare and rw-plot both apply this
 * through table_keys_unique.
 */
#ifndef RW_TABLE_KEYS_H
#define RW_TABLE_KEYS_H

#include "io/rw.h"

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
