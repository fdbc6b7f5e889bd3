/*
 * tails_table.h — rw-tails' table: DESIGN.md's key columns, then
 * fit_status and WeightWatcher's per-layer metrics (tails.h), one row per
 * spectrum. The columns and their definitions: docs/tails.md.
 */
#ifndef RW_TAILS_TABLE_H
#define RW_TAILS_TABLE_H

#include "io/spectrum.h"
#include "io/table.h"

/* A new empty table (the caller's: table_free); NULL when out of memory. */
rw_table *rw_tails_table_new(void);
/* Appends the row of one spectrum (cells copied: s is only read during the
 * call). */
rw_status rw_tails_table_add(rw_table *t, const rw_spectrum *s, rw_err *err);

#endif
