/*
 * plot_data.h — what a figure draws, read from its inputs and selected by
 * the options: the runs (in colour order), the modules (in panel order), and
 * per-layer values of one metric, or spectra.
 *
 * Ownership: a loaded plot_metric or plot_spectra owns everything it points
 * to (names, rows, the table, the singular values), freed by
 * plot_metric_free / plot_spectra_free; a failed load leaves it zeroed
 * with nothing to free. Nothing points into the inputs or the options.
 */
#ifndef RW_PLOT_DATA_H
#define RW_PLOT_DATA_H

#include "plots/plot.h"
#include "io/table.h"

/* The runs and modules of a figure. Runs are numbered in order of first
 * appearance in the inputs (the colour index); --runs switches some off
 * without renumbering. Modules are the selected ones, in panel order.
 * Every string and array owned (freed with the plot_metric or plot_spectra
 * it belongs to). */
typedef struct {
    char **runs;
    size_t nruns;
    bool *run_on;
    char **modules;
    size_t nmodules;
    char *src;          /* the inputs' names ("a.tsv" or "a.tsv, b.tsv") */
    bool updates;       /* the values describe updates ΔW */
    unsigned comps;     /* the components of the rows kept, RW_COMP_BIT(c) of each
                           (io/spectrum.h; fig_subject names them in titles) */
    char *data;         /* what the inputs are of when not weights ("gradients
                           (train)", "activations (train)": table_data_label),
                           else NULL; titles say it */
} plot_sel;

/* One per-layer value. */
typedef struct {
    int run, module;    /* indices into plot_sel */
    int64_t step;
    int layer;
    double v;           /* may be nan or inf */
    const char *component;  /* owned by plot_metric.t */
} plot_row;

typedef struct {
    plot_sel sel;
    const char *metric;
    rw_table *t;        /* the selected rows: run step tensor layer module component METRIC */
    plot_row *rows;     /* the same, parsed (t's row i is rows[i]) */
    size_t nrows;
    size_t nonfinite;   /* rows whose value is nan or inf */
    bool *cond_rank;    /* metric cond: per module, whether its values are
                           cond_rank's (plot_metric_cond_rank); else NULL */
    size_t ncond_rank;  /* modules so marked */
} plot_metric;

/* Reads per-layer metric tables and keeps the rows the options select. Fails
 * (naming the file) on an unreadable or empty table, a missing column, a
 * bad number, a --runs or --modules pattern that matches nothing, no rows
 * left, or a metric that is nan or inf in every row. */
rw_status plot_metric_load(const char *const *paths, size_t npaths, const rw_plot_opts *o,
                           plot_metric *m, rw_err *err);
void plot_metric_free(plot_metric *m);

/* --layer-groups (plot_metric_load calls it, before plot_metric_cond_rank):
 * each module's rows become those of its layer groups (rw_layer_groups_label,
 * stats.h), a panel each, named "MODULE [lo-hi]", in the module's panel
 * place and ordered by their first layer; rows in no group are left out (an
 * error when none is left). (plot_groups.c) */
rw_status plot_metric_groups(plot_metric *m, const rw_layer_spec *spec, rw_err *err);

/* Metric cond (plot_metric_load calls it): a module where any selected
 * matrix is rank-deficient — cond_rank differs from cond, i.e. num_rank < k,
 * as for low-rank updates, LoRA products and OV circuits under GQA — gets
 * cond_rank's values instead of cond's, in rows and table alike (rows of
 * full rank have cond_rank = cond), and m->cond_rank[module] set. The
 * table's eighth column holds cond_rank (a copy of cond when the input had
 * none). (plot_cond.c) */
rw_status plot_metric_cond_rank(plot_metric *m, rw_err *err);
/* The metric a module's values are of: cond_rank or m->metric. */
const char *plot_metric_of(const plot_metric *m, int module);

/* One spectrum: σ1 >= ... >= σk of one layer's matrix. */
typedef struct {
    int run, module;
    int64_t step;
    int layer;
    size_t k;
    double *sigma;      /* owned */
    int64_t rows, cols; /* the matrix's shape; 0 when not known (long tables) */
} plot_spec;

typedef struct {
    plot_sel sel;
    plot_spec *s;
    size_t n;
} plot_spectra;

/* Reads spectra from long tables (run step tensor layer module component i
 * sigma, i = 1..k) or rw-spectra files, keeping what the options select. */
rw_status plot_spectra_load(const char *const *paths, size_t npaths, const rw_plot_opts *o,
                            plot_spectra *sp, rw_err *err);
void plot_spectra_free(plot_spectra *sp);
/* The longest spectrum's k (at least 1). */
size_t plot_spectra_maxk(const plot_spectra *sp);

/* Index of s in names[0..n-1], -1 when absent. */
long plot_index(char *const *names, size_t n, const char *s);

#endif
