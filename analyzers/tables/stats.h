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
 * The interval is the t-interval or the percentile bootstrap (rw_ci); layers
 * may be averaged in groups (rw_layer_spec, layer_groups.c).
 *
 * Owns nothing between calls. rw_aggregate's result is the caller's (freed
 * with rw_agg_free), its strings copied out of the table; rw_layer_means
 * lends its callback the caller's own items, valid during the call only.
 */
#ifndef RW_STATS_H
#define RW_STATS_H

#include "io/table.h"

#include <stdint.h>

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
 * their ratios: sigma_max, sigma_min, cond, cond_rank, fro, nuc, max_abs) vary by
 * factors across layers and are averaged geometrically; the others
 * arithmetically. lo..hi is the range a value can take (per, entropy, gini
 * and hoyer [0, 1], erank and stable_rank [1, inf), num_rank and rel_update
 * [0, inf), scale-type metrics [0, inf)); an unknown metric: arithmetic,
 * (-inf, inf). */
typedef struct {
    rw_mean mean;
    double lo, hi;
} rw_metric_kind;

rw_metric_kind rw_metric_kind_of(const char *metric);

/* ------------------------------------------------ the interval (--ci) */

/* Which 95% interval a summary's lo, hi are: the Student t interval
 * (rw_summarize; DESIGN.md's), or the percentile bootstrap over layers —
 * what seaborn draws for errorbar=("ci", 95), n_boot=1000, the mean as
 * estimator (the ReLoRA paper's figures): RW_BOOT_N resamples of the
 * layers with replacement, the statistic (the mean, or under RW_MEAN_GEO
 * the geometric mean) of each, and the 2.5th and 97.5th percentiles of
 * those with numpy's default (linear) interpolation, as seaborn's
 * np.nanpercentile. The resamples are drawn by rankwatch's own generator
 * (splitmix64, unbiased bounded integers) from the seed and the point's
 * stream (rw_boot_stream), over the point's values sorted ascending: an
 * interval depends on the values, the seed and the point's key only, so
 * that output is byte-identical from run to run and rw-compare and rw-plot
 * agree. Not numpy's generator: the same procedure, not the same draws. */
typedef enum { RW_CI_T, RW_CI_BOOTSTRAP } rw_ci;
#define RW_BOOT_N 1000
#define RW_BOOT_SEED 0

typedef struct {
    rw_ci ci;
    uint64_t seed;      /* RW_BOOT_SEED unless --seed */
} rw_ci_opts;

/* The stream of a point (module, run, step): FNV-1a of the module, a NUL,
 * the run, a NUL and the step's 8 bytes, little-endian. */
uint64_t rw_boot_stream(const char *module, const char *run, int64_t step);
/* The resamples: idx[b * n + i], b < nboot, i < n, uniform on [0, n),
 * drawn from (seed, stream). */
void rw_boot_indices(uint64_t seed, uint64_t stream, size_t n, size_t nboot, uint32_t *idx);
/* The percentile interval of the bootstrap (exposed for tests, which feed
 * idx): statistic b is the mean of v[idx[b n + i]], i < n (RW_MEAN_GEO:
 * exp of the mean of their ln, v > 0), *lo and *hi the 2.5th and 97.5th
 * percentiles of the nboot statistics (rw_percentile). v: n finite values;
 * scratch: nboot + n doubles. */
void rw_boot_interval(const double *v, size_t n, rw_mean mean, const uint32_t *idx,
                      size_t nboot, double *scratch, double *lo, double *hi);
/* numpy's percentile of sorted x[0..n-1], n >= 1, at q in [0, 1] (linear:
 * position q (n - 1), interpolated between its neighbours as numpy's _lerp). */
double rw_percentile(const double *x, size_t n, double q);

/* rw_summarize_as, with lo, hi the interval ci says (NULL: t). The
 * bootstrap leaves lo, hi as the t summary has them where that has no
 * spread to measure: nan when a value is inf (or, geometric, 0 or
 * negative), the value itself for one layer. v is overwritten. RW_ENOMEM
 * when the bootstrap's scratch cannot be had. */
rw_status rw_summarize_ci(double *v, size_t n, rw_mean mean, const rw_ci_opts *ci,
                          uint64_t stream, rw_summary *out, rw_err *err);

/* ------------------------------------------ layer groups (--layer-groups) */

/* Which layers are averaged together: all (no spec), the first and the last
 * half of each module's layers (halves; the paper's figures), or explicit
 * ranges. Each group is a point of its own, its module named
 * "<module> [lo-hi]" ("<module> [l]" for a group of one layer), so that
 * DESIGN.md's columns stay as they are. (layer_groups.c) */
#define RW_MAX_LAYER_GROUPS 64
typedef struct {
    bool halves;
    size_t n;                             /* explicit ranges, lo[i]..hi[i] */
    int lo[RW_MAX_LAYER_GROUPS], hi[RW_MAX_LAYER_GROUPS];
} rw_layer_spec;

/* Parses "halves" or "A-B,C,D-E,..." (layers >= 0, A <= B, groups that do
 * not overlap) into *out; RW_EUSAGE with a message naming the problem. */
rw_status rw_layer_spec_parse(const char *arg, rw_layer_spec *out, rw_err *err);
/* s is not NULL and asks for groups. */
bool rw_layer_spec_on(const rw_layer_spec *s);
/* Row i of the caller's n rows: its module and layer (strings borrowed for
 * as long as rw_layer_groups_label runs). */
typedef void (*rw_layer_row_fn)(void *ctx, size_t i, const char **module, int *layer);
/* The group label of each of n rows, row(ctx, i) giving row i's module and
 * layer: out[i] = "<module> [lo-hi]" (malloc'd: the caller frees each),
 * or NULL when the row's layer is in no group (layer -1 is in none). halves:
 * a module's distinct layers >= 0 among the rows, in order, split in two,
 * the first half taking the extra one of an odd count (numpy's array_split:
 * 13 layers -> 0-6, 7-12); one layer: one group. On failure out is all
 * NULL. */
rw_status rw_layer_groups_label(const rw_layer_spec *s, size_t n, rw_layer_row_fn row,
                                void *ctx, char **out, rw_err *err);

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
    const rw_ci_opts *ci;  /* the interval (rw_summarize_ci); NULL: t */
    /* the bootstrap's stream of the point that starts at first
     * (rw_boot_stream); needed only with a bootstrap */
    uint64_t (*stream)(void *ctx, const void *first);
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
 * over layers (rw_layer_means under mean and ci — NULL: t —, layers in row
 * order, the bootstrap's stream rw_boot_stream(module, run, step)), per (run,
 * module, component, step). component: a name, or NULL for each matrix's
 * default (rw_default_rows).
 * Result sorted by module, component, step, run. RW_ENOTFOUND when the table
 * lacks the metric column; RW_EDATA when a needed key column is missing or
 * a cell is not a number. *out (*n entries, its strings copied) is the
 * caller's: free it with rw_agg_free; NULL and 0 on failure. */
rw_status rw_aggregate(const rw_table *t, const char *metric, const char *component,
                       rw_mean mean, const rw_ci_opts *ci, rw_agg **out, size_t *n,
                       rw_err *err);
void rw_agg_free(rw_agg *a, size_t n);

#endif
