/*
 * metrics_main.h — the body shared by rw-rank, rw-cond and rw-metrics: runs
 * (or a spectra file) in, one table row per matrix out, with the program's
 * metric columns.
 */
#ifndef RW_METRICS_MAIN_H
#define RW_METRICS_MAIN_H

#include "spectral.h"

int rw_metrics_main(int argc, char **argv, const char *prog, const char *usage,
                    const rw_metric_id *ids, size_t nids);

#endif
