/*
 * metrics_main.h — the body shared by rw-rank, rw-cond, rw-metrics,
 * rw-updates and rw-tails: runs (or a spectra file) in, one table row per matrix (or per
 * update) out, with the program's metric columns. Programs only (linked
 * from librwprograms.a); it returns the exit code and owns nothing past
 * its return.
 */
#ifndef RW_METRICS_MAIN_H
#define RW_METRICS_MAIN_H

#include "analyzers/core/metrics.h"

#include <stdbool.h>

/* updates: rows are of the updates between checkpoints (with rel_update),
 * and the program takes --from previous|first. */
int rw_metrics_main(int argc, char **argv, const char *prog, const char *usage,
                    const rw_metric_id *ids, size_t nids, bool updates);

/* rw-tails: the rows of tails_table.h, of weights, or of updates with
 * --updates or --from previous|first. */
int rw_tails_main(int argc, char **argv, const char *prog, const char *usage);

#endif
