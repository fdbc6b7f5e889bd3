/*
 * stats.h — the statistics rw-compare and rw-plot share: Student t
 * quantiles, mean / sd / 95% t-interval, the mean over layers (the one
 * reduction of per-layer values into points), and the aggregation of a
 * per-layer metric table into one value per (run, module, component, step).
 *
 * The mean over layers is arithmetic or geometric (rw_mean): rw-compare's
 * tables average arithmetically (DESIGN.md), rw-plot's trajectories
 * average each metric as rw_metric_kind_of says.
 *
 * Owns nothing between calls. rw_aggregate's result is the caller's (freed
 * with rw_agg_free), its strings copied out of the table; rw_layer_means
 * lends its callback the caller's own items, valid during the call only.
 */
#ifndef RW_STATS_H
#define RW_STATS_H

#include "io/table.h"

/* Regularised incomplete beta I_x(a, b), a, b > 0, 0 <= x <= 1. */
double rw_betainc(double a, double b, double x);
/* CDF of Student's t with df > 0 degrees of freedom. */
double rw_t_cdf(double t, double df);
/* Quantile of Student's t: the t with rw_t_cdf(t, df) = p, 0 < p < 1.
 * rw_t_quantile(0.975, df) is the half-width factor of a 95% interval. */
double rw_t_quantile(double p, double df);

typedef struct {
    size_t n;          /* values averaged (non-nan ones) */
    double mean, sd;   /* sd: sample standard deviation (n - 1); nan for n < 2 */
    double lo, hi;     /* two-sided 95% t-interval; equal to mean for n = 1 */
} rw_summary;

/* Summary of v[0..n-1], skipping nan. An inf value makes mean inf (or nan
 * for mixed signs) and sd, lo, hi nan. */
void rw_summarize(const double *v, size_t n, rw_summary *out);

/* How values are averaged over layers: arithmetically, or geometrically —
 * the summary of ln v, exponentiated: mean = exp(mean of ln v) (the
 * geometric mean), lo, hi = exp of the 95% t-interval of ln v, sd = the
 * sample standard deviation of ln v (exp(sd) is the geometric standard
 * deviation). A layer whose value is 0 makes the geometric mean 0, one that
 * is inf makes it inf (both: nan), with lo, hi and sd nan; a negative value
 * makes mean, lo, hi and sd nan. nan values are skipped either way. */
typedef enum { RW_MEAN_ARITH, RW_MEAN_GEO } rw_mean;

/* The summary of v[0..n-1] under mean; v is overwritten (RW_MEAN_GEO:
 * by ln v). */
void rw_summarize_as(double *v, size_t n, rw_mean mean, rw_summary *out);

/* What a metric column's values are, for averaging and drawing them:
 * scale-type metrics (norms and singular values, and the condition numbers,
 * their ratios: sigma_max, sigma_min, cond, cond_rank, fro, nuc) vary by
 * factors across layers and are averaged geometrically; the others
 * arithmetically. lo..hi is the range a value can take (per and entropy
 * [0, 1], erank and stable_rank [1, inf), num_rank and rel_update
 * [0, inf), scale-type metrics [0, inf)); an unknown metric: arithmetic,
 * (-inf, inf). */
typedef struct {
    rw_mean mean;
    double lo, hi;
} rw_metric_kind;

rw_metric_kind rw_metric_kind_of(const char *metric);

/* The mean over layers, the one reduction of per-layer values into points
 * (rw-compare's points, rw_aggregate's): items[0..n-1], g->size bytes each,
 * sorted so that the layers of one point are adjacent, in the order their
 * values are to be summed. g->same(first, x): x is a layer of the point
 * that starts at first; g->value(x): a layer's value. g->point(g->ctx,
 * first, s, err) receives each point in order, its first item (a pointer
 * into items) and the rw_summarize of its layers' values; a status other
 * than RW_OK from it stops the walk and is returned. RW_ENOMEM when the
 * scratch space (n doubles) cannot be had. */
typedef struct {
    size_t size;
    bool (*same)(const void *first, const void *x);
    double (*value)(const void *x);
    rw_status (*point)(void *ctx, const void *first, const rw_summary *s, rw_err *err);
    void *ctx;
    rw_mean mean;   /* how the layers are averaged (rw_summarize_as); 0: arithmetically */
} rw_layer_groups;

rw_status rw_layer_means(const void *items, size_t n, const rw_layer_groups *g, rw_err *err);

/* Marks (keep[r] = true) the rows of a per-layer table (key columns run,
 * step, tensor, component) that carry a matrix's default component, as the
 * analyzers choose it: weight (plain tensors), full (adapted ones), ov and
 * wo_wv (the OV circuits), and lora where the same run, step and tensor have
 * no full row (adapter-only checkpoints). keep has t->nrows entries. A table
 * without those columns gets keep = false everywhere and RW_EDATA. */
rw_status rw_default_rows(const rw_table *t, bool *keep, rw_err *err);

/* One aggregated point: a metric's summary over the layers of a module. */
typedef struct {
    char *run, *module, *component; /* owned */
    int64_t step;
    rw_summary s;
} rw_agg;

/* Aggregates column `metric` of a per-layer table (DESIGN.md key columns)
 * over layers (rw_layer_means under mean, layers in row order), per (run,
 * module, component, step). component: a name, or NULL for each matrix's
 * default (rw_default_rows).
 * Result sorted by module, component, step, run. RW_ENOTFOUND when the table
 * lacks the metric column; RW_EDATA when a needed key column is missing or
 * a cell is not a number. *out (*n entries, its strings copied) is the
 * caller's: free it with rw_agg_free; NULL and 0 on failure. */
rw_status rw_aggregate(const rw_table *t, const char *metric, const char *component,
                       rw_mean mean, rw_agg **out, size_t *n, rw_err *err);
void rw_agg_free(rw_agg *a, size_t n);

#endif
