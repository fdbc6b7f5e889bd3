/*
 * pipeline.h — from runs to spectra: for every run, checkpoint and selected
 * matrix (and component), the singular values, handed to a callback one
 * spectrum at a time. The programs turn spectra into tables or files.
 */
#ifndef RW_PIPELINE_H
#define RW_PIPELINE_H

#include "ckpt.h"
#include "run.h"
#include "table.h"
#include "spectral.h"

/* Components of a matrix (DESIGN.md). */
typedef enum { RW_COMP_WEIGHT, RW_COMP_BASE, RW_COMP_LORA, RW_COMP_FULL, RW_COMP_OV } rw_comp;
const char *rw_comp_name(rw_comp c);
/* -1 when unknown. */
int rw_comp_parse(const char *name);

/* One spectrum: the key of a table row plus the singular values. */
typedef struct {
    const char *run;
    int64_t step;
    const char *tensor;
    int layer;
    const char *module;
    const char *component;
    int64_t rows, cols;
    rw_dtype dtype;
    size_t k;               /* min(rows, cols) */
    const double *sigma;    /* k values, descending (all nan for a non-finite matrix) */
    const char *path;       /* the checkpoint it came from, for messages */
} rw_spectrum;

typedef rw_status (*rw_spectrum_fn)(const rw_spectrum *s, void *ctx, rw_err *err);

typedef struct {
    rw_select sel;
    int component;          /* an rw_comp, or -1 for each matrix's default */
    const char *prog;       /* program name, for warnings and progress */
    bool progress;          /* progress line on stderr (when it is a terminal) */
} rw_analysis_opts;

/* Calls fn for every selected matrix of every checkpoint of every run, in
 * run, step, tensor order. A tensor whose shape changes between steps is an
 * error naming both steps. A matrix with NaN/Inf entries is warned about on
 * stderr and handed on with nan singular values. */
rw_status rw_analyze(const rw_runset *rs, const rw_analysis_opts *o, rw_spectrum_fn fn,
                     void *ctx, rw_err *err);

/* ---------------------------------------------------------- metric tables */

/* The key columns of DESIGN.md followed by the named metric columns. */
rw_table *rw_metrics_table_new(const rw_metric_id *ids, size_t nids);
/* Appends the row of one spectrum. */
rw_status rw_metrics_table_add(rw_table *t, const rw_spectrum *s, const rw_metric_id *ids,
                               size_t nids, rw_err *err);

#endif
