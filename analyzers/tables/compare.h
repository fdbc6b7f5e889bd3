/*
 * compare.h — runs side by side (rw-compare).
 *
 * Input: per-layer metric tables (rw-rank, rw-cond, rw-updates, rw-metrics),
 * one row per (run, step, tensor, component), key columns of DESIGN.md, then
 * metric columns. One or more tables, each with one or more runs; the tables
 * may split the runs (one file per run) or the metrics (rank and cond tables
 * of the same runs), but one (run, step, tensor, metric) comes from one place.
 *
 * Output, per (module, metric, step, run): the run's mean of the metric over
 * the layers of the module, its sample sd and two-sided 95% t-interval, and
 * the difference to the reference run's mean at that step. Steps are aligned
 * exactly, or to the nearest step within a distance (RW_ALIGN_NEAREST: the
 * other runs are resampled onto the reference run's steps and reported at
 * those). The summary reduces each (module, metric, run) curve against the
 * reference curve over their shared steps.
 *
 * Files: compare.c (the engine: gathering, means over layers, alignment),
 * compare_summary.c (the curve summaries), compare_write.c (the tables and
 * their formats).
 *
 * Ownership: an rw_comparison and an array of rw_cmp_summary own every
 * string in them (copies, not pointers into the tables), so that they
 * outlive the tables they were made from; free them with compare_free and
 * compare_summary_free. The options and the arrays they point to are
 * borrowed for the call only. Tables returned are the caller's
 * (table_free); formatting functions write into the caller's buffer and
 * return it.
 */
#ifndef RW_COMPARE_H
#define RW_COMPARE_H

#include "io/run.h"
#include "analyzers/tables/stats.h"
#include "io/table.h"

#include <stdio.h>

typedef enum {
    RW_ALIGN_EXACT,   /* a run's row at step s is compared with the reference at s */
    RW_ALIGN_NEAREST, /* at each reference step s, a run's nearest step within the
                         distance (ties: the earlier) is reported at s */
} rw_align;

typedef struct {
    const char *component;        /* rows of this component; NULL: each matrix's
                                     default (component weight or full) */
    const rw_select *sel;         /* rows by tensor name; NULL: every row */
    const char *const *metrics;   /* the metric columns to compare; NULL: every */
    size_t nmetrics;              /* metric column of the tables */
    const char *ref;              /* reference run; NULL: first run name in byte order */
    rw_align align;
    int64_t max_distance;         /* RW_ALIGN_NEAREST: largest |step - reference step| */
    bool keep_cond;               /* cond as it is, also for rank-deficient modules
                                     (default: cond_rank in their place, below) */
    const rw_ci_opts *ci;         /* the interval: NULL or t, DESIGN.md's Student t;
                                     or the percentile bootstrap (stats.h) */
    const rw_layer_spec *groups;  /* NULL: every layer of a module in one mean; else
                                     per group, the module named "<module> [lo-hi]"
                                     (stats.h); rows in no group are left out */
} rw_compare_opts;

/* One output row: DESIGN.md's `module metric step run n mean sd ci95_lo
 * ci95_hi diff`. */
typedef struct {
    char *module, *metric, *run;  /* owned */
    int64_t step;
    rw_summary s;                 /* over the layers of the module */
    bool is_ref;                  /* the reference run's own row (diff empty) */
    double ref_mean;              /* the reference mean at this step; nan if none */
    double diff;                  /* s.mean - ref_mean (nan when ref_mean is) */
} rw_cmp_row;

typedef struct {
    rw_cmp_row *rows;             /* sorted by module, metric, step, run */
    size_t nrows;
    char *ref;                    /* the reference run (owned) */
    char **runs;                  /* every run, in byte order (owned) */
    size_t nruns;
    char **cond_ranked;           /* the modules whose cond rows are cond_rank's
                                     (below), in byte order (owned) */
    size_t ncond_ranked;
    rw_ci_opts ci;                /* the interval of the rows (zero: t) */
    bool groups;                  /* modules are layer groups' */
} rw_comparison;

/* Rank-deficient modules: a condition number σ1/σk of a matrix of numerical
 * rank r < k is round-off over signal (a GQA layer's W_O W_V, an adapter's
 * s B A, a bf16 matrix whose last values rounding can explain). Where any
 * compared matrix of a module has cond != cond_rank (they are equal exactly
 * when num_rank = k), that module's cond is compared as cond_rank, σ1/σr, the
 * conditioning on its numerically non-zero subspace, for every run and step,
 * and its rows say metric cond_rank (once, when both were asked for); the
 * reading formats (md, tex) say so under the table. The tables must have a
 * cond_rank column beside cond (rw-cond, rw-updates, rw-metrics write both);
 * rw_compare_opts.keep_cond turns it off. */

/* Compares the runs of tables[0..ntables-1]. names[i] is table i's file name
 * for messages; labels (may be NULL) renames: labels[i], when not NULL, is the
 * new name of the one run of table i (more than one run is an error).
 * Errors: RW_EDATA for a missing key column (run, step, tensor, module,
 * component), a step that is not a whole number, a metric cell that is not a
 * number, one (run, step, tensor) given twice for a metric, or no rows left
 * to compare; RW_EUSAGE for a --metrics name no table has, a --ref that names
 * no run, or a label on a table of several runs. *out is zeroed first; on
 * success it is the caller's, its strings copied (the tables may be freed
 * before it), freed with compare_free; on failure it is left empty. */
rw_status compare_runs(const rw_table *const *tables, const char *const *names,
                       const char *const *labels, size_t ntables, const rw_compare_opts *o,
                       rw_comparison *out, rw_err *err);
void compare_free(rw_comparison *c);

/* ---------------------------------------------------------------- summary */

/* One (module, metric, run) curve against the reference curve, over their
 * shared steps (steps where both means are not nan). */
typedef struct {
    char *module, *metric, *run, *ref; /* owned */
    size_t nsteps;                     /* shared steps */
    int64_t first_step, last_step;     /* of the shared steps (0 when none) */
    double final, ref_final;           /* means at last_step */
    double gap, rel_gap;               /* final - ref_final; gap / |ref_final| */
    double mean_gap;                   /* trapezoidal integral of the gap / step span */
    double area;                       /* integral of |gap| / step span (see below) */
    bool diverges;                     /* the gap stays beyond the threshold ... */
    int64_t diverge_step;              /* ... from this step to the last one */
} rw_cmp_summary;

/* The curve reduction, exposed for tests: n shared points (steps ascending),
 * run means a[i], reference means r[i]. The gap g = a - r is taken as linear
 * between steps: mean_gap = trapezoidal integral of g over the step span,
 * area = exact integral of |g| for that piecewise-linear g (trapezoids, and
 * the two triangles where g changes sign), both divided by the span; with
 * one point they are g and |g|, with none nan. The gap is beyond the
 * threshold at a step when |g| > threshold * |r| (relative). Fills every
 * field of out except the names. */
void compare_curve(const int64_t *steps, const double *a, const double *r, size_t n,
                   double threshold, rw_cmp_summary *out);

/* Summaries of every non-reference run, sorted by module, metric, run.
 * *out (*n entries, their strings copied) is the caller's: free it with
 * compare_summary_free; NULL and 0 on failure. */
rw_status compare_summarize(const rw_comparison *c, double threshold, rw_cmp_summary **out,
                            size_t *n, rw_err *err);
void compare_summary_free(rw_cmp_summary *s, size_t n);

/* ----------------------------------------------------------------- output */

/* The columns of compare_table and compare_summary_table, in order (static
 * strings). The first four of each are a row's key (rw-diff matches rows by
 * them): module metric step run, and module metric run ref. */
#define RW_CMP_NCOLS 10
#define RW_CMP_SUM_NCOLS 14
#define RW_CMP_NKEY 4
extern const char *const compare_cols[RW_CMP_NCOLS];
extern const char *const compare_summary_cols[RW_CMP_SUM_NCOLS];

/* Data tables, every number to full (round-trip) precision:
 *   compare:  module metric step run n mean sd ci95_lo ci95_hi diff
 *   summary:  module metric run ref steps first_step last_step final ref_final
 *             gap rel_gap mean_gap area diverge_step
 * (diff empty for the reference run, diverge_step empty when the gap never
 * stays beyond the threshold.) A new table, the caller's (table_free); the
 * comparison is only read. NULL when out of memory. */
rw_table *compare_table(const rw_comparison *c);
rw_table *compare_summary_table(const rw_cmp_summary *s, size_t n);

/* Writes to path (NULL or "-": stdout; else atomically). tsv, csv and json
 * write the data tables above; md and tex a table for reading, values to 4
 * significant digits and CIs as mean ± half-width (tex: a booktabs tabular),
 * with c's note on the modules whose cond is cond_rank (c may be NULL for a
 * summary: no note). */
rw_status compare_write_path(const rw_comparison *c, const char *path, rw_tformat fmt,
                             rw_err *err);
rw_status compare_summary_write_path(const rw_comparison *c, const rw_cmp_summary *s, size_t n,
                                     const char *path, rw_tformat fmt, rw_err *err);

/* Presentation numbers, exposed for tests. buf holds at least 96 bytes.
 * compare_fmt_num: 4 significant digits (%.4g), scientific outside
 * [1e-3, 1e5) written m×10^e in TeX; signed puts '+' before positives;
 * nan, inf as "nan", "inf" (TeX: "--", "$\infty$"). TeX numbers are in math
 * mode. compare_fmt_pm: mean ± h with h to 2 significant digits and the mean
 * to the same decimal place (at most 4 significant digits of the mean), a
 * common power of ten factored out outside [1e-3, 1e5); h nan or 0: the mean
 * alone. Both return buf. */
char *compare_fmt_num(char *buf, double x, bool tex, bool sign);
char *compare_fmt_pm(char *buf, double mean, double h, bool tex);

#endif
