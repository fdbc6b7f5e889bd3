/*
 * metrics_table.h — the tables of rw-rank, rw-cond, rw-metrics and
 * rw-updates: DESIGN.md's key columns (run, step, tensor, layer, module,
 * component, rows, cols, dtype) followed by the program's metric columns,
 * one row per spectrum, its metrics computed from its singular values
 * (metrics.h).
 */
#ifndef RW_METRICS_TABLE_H
#define RW_METRICS_TABLE_H

#include "analyzers/core/metrics.h"
#include "io/spectrum.h"
#include "io/table.h"

/* The key columns of DESIGN.md followed by the named metric columns (and
 * rel_update = ||dW||_F / ||W_ref||_F when with_rel): a new empty table,
 * the caller's (table_free); NULL when out of memory. */
rw_table *rw_metrics_table_new(const rw_metric_id *ids, size_t nids, bool with_rel);
/* The same, with (with_data) the key columns data and split after dtype:
 * the table of spectra of gradients (table_keys.h). */
rw_table *rw_metrics_table_new_data(const rw_metric_id *ids, size_t nids, bool with_rel,
                                    bool with_data);
/* Appends the row of one spectrum (its data and split in a table that has
 * those columns; a spectrum of gradients in a table without them is an
 * error) (cells copied: s is only read during the call). The entry metrics
 * (gini, hoyer, max_abs) come from s->entries, nan when it is NULL. */
rw_status rw_metrics_table_add(rw_table *t, const rw_spectrum *s, const rw_metric_id *ids,
                               size_t nids, bool with_rel, rw_err *err);

/* The key cells of s's row: cells[0..RW_NKEY-1] point to s's strings and
 * to num[1], num[3], num[6], num[7] (the caller's buffers), valid while
 * both are. Shared by every per-matrix table (metrics, tails). */
void rw_key_cells(const rw_spectrum *s, char (*num)[32], const char **cells);

#endif
