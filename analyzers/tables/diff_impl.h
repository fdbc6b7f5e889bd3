/*
 * diff_impl.h — what the parts of rw-diff share, private to diff.c (the
 * engine), diff_walk.c (files and directories) and diff_report.c (the
 * reports): the state behind the opaque rw_diff. Not a public header.
 *
 * An rw_diff owns its pairs (their names, paths and both tables) and its
 * records; a record's strings (table, column, base, cur) point into its
 * pair's name and tables and live as long as the rw_diff.
 */
#ifndef RW_DIFF_IMPL_H
#define RW_DIFF_IMPL_H

#include "analyzers/tables/diff.h"

/* Every kind of table is keyed by four columns (diff.h). */
#define NKEY 4

typedef struct {
    char *name;       /* in the report (owned) */
    char *bpath, *cpath; /* the files, in error messages (owned) */
    rw_table *b, *c;  /* owned; NULL on the side that lacks the table */
    long kb[NKEY], kc[NKEY];
    bool skipped;     /* in a directory, neither side has key columns */
} dpair;

typedef struct {
    rw_difference d;
    uint32_t pair;
    uint32_t col;     /* order of the column within its table, for ties */
    size_t rb, rc;    /* rows; SIZE_MAX when none */
} drec;

struct rw_diff {
    rw_diff_opts o;
    dpair *pairs;
    size_t npairs, pcap;
    drec *recs;
    size_t nrecs, rcap;
    rw_diff_counts counts;
    bool *metric_seen;   /* per o.metrics: some table has it */
};

/* diff_add, with the files' paths for messages; skip_unkeyed (directories):
 * a pair neither side of which has key columns is counted as skipped, not
 * compared. Takes ownership of both tables. */
rw_status diff_add_pair(rw_diff *d, const char *name, const char *bpath, const char *cpath,
                        rw_table *base, rw_table *cur, bool skip_unkeyed, rw_err *err);

/* The row record r is about: its table (the baseline's when it has one) in
 * *t, that table's key columns in *k; SIZE_MAX (and *t, *k untouched) for
 * table and column records. */
size_t diff_rec_row(const rw_diff *d, const drec *r, const rw_table **t, const long **k);

#endif
