/*
 * metrics.h — the metrics of DESIGN.md computed from a spectrum (singular
 * values, descending; spectral.h computes them), pico-analyze's metrics
 * of a matrix's entries (gini, hoyer, max_abs: rw_entry_stats_of), and
 * their column names. Pure functions of their arguments: nothing is
 * allocated; the names are static strings.
 *
 * Legend: W is m x n (rows x cols), k = min(m, n), sigma[0] >= ... >= sigma[k-1].
 */
#ifndef RW_METRICS_H
#define RW_METRICS_H

#include "io/rw.h"
#include "io/spectrum.h"

typedef struct {
    double sigma_max, sigma_min;
    double cond;        /* sigma_max / sigma_min; inf when sigma_min = 0; nan for 0 */
    double num_rank;    /* #{sigma_i > tol}, rw_rank_tol; nan if no data */
    double cond_rank;   /* sigma_max / sigma_{num_rank} */
    double erank;       /* exp(entropy of p_i = sigma_i / sum sigma) */
    double per;         /* erank / k */
    double stable_rank; /* sum sigma^2 / sigma_max^2 */
    double entropy;     /* -sum q ln q / ln k, q_i = sigma_i^2 / sum sigma^2 */
    double fro, nuc;
    /* Of the entries, not the spectrum (rw_entry_stats_of): nan here */
    double gini, hoyer, max_abs;
} rw_metrics;

/* The unit round-off of a stored dtype: 2^-8 bfloat16, 2^-11 float16,
 * 2^-24 float32, 2^-53 float64 (and anything else, read exactly). */
double rw_dtype_unit_roundoff(rw_dtype dtype);

/* num_rank's tolerance, the storage-noise rule of DESIGN.md:
 *   tol = max(u(dtype) * noise, sigma_max * max(m, n) * eps(float64))
 * noise (N) bounds the Frobenius norm of the rounding error's effect on the
 * matrix, in units of u (rw_spectrum.noise_fro); by Weyl's inequality a
 * singular value <= u N is indistinguishable from zero. */
double rw_rank_tol(double sigma_max, int64_t m, int64_t n, rw_dtype dtype, double noise);

/* Metrics of a spectrum. sigma descending, k >= 1 values, of an m x n
 * matrix stored as dtype, with noise bound noise (N; both set num_rank's
 * tolerance, rw_rank_tol; a nan noise — not known, e.g. a table from an
 * older spectra input — falls back to ||sigma||_2 = ||W||_F, the bound of a
 * stored matrix). A spectrum with a nan (a matrix that held NaN/Inf) gives
 * nan everywhere. */
void rw_metrics_compute(const double *sigma, size_t k, int64_t m, int64_t n, rw_dtype dtype,
                        double noise, rw_metrics *out);

/* pico-analyze's entry metrics of the m x n matrix's n_e = m n entries
 * a[0..n_e-1] (any order: the matrix flattened), which a spectrum does not
 * determine (README.md, What it computes):
 *   gini     G = sum_i (2i - n_e - 1) x_(i) / (n_e sum_i x_i), x_(1) <= ... <=
 *            x_(n_e) the sorted |a| (src/metrics/gini.py); 0 for the zero
 *            matrix, as there
 *   hoyer    (sqrt(n_e) - ||a||_1 / ||a||_2) / (sqrt(n_e) - 1)
 *            (src/metrics/hoyer.py); nan for the zero matrix and n_e = 1,
 *            where pico-analyze divides by zero (an exception there)
 *   max_abs  max |a_i|: pico-analyze's `inf` norm (src/metrics/norm.py),
 *            torch.norm(p=inf), which flattens the matrix
 * Any non-finite entry (or n_e = 0) makes all three nan. a is overwritten
 * (by the sorted |a|); sums are compensated (Neumaier). Pure, thread-safe. */
void rw_entry_stats_of(double *a, size_t n_e, rw_entry_stats *out);

/* Metric columns by name: DESIGN.md's (sigma_max ... nuc), then the entry
 * metrics (gini, hoyer, max_abs) that only rw-metrics writes. */
typedef enum {
    RW_M_SIGMA_MAX, RW_M_SIGMA_MIN, RW_M_COND, RW_M_NUM_RANK, RW_M_COND_RANK,
    RW_M_ERANK, RW_M_PER, RW_M_STABLE_RANK, RW_M_ENTROPY, RW_M_FRO, RW_M_NUC,
    RW_M_GINI, RW_M_HOYER, RW_M_MAX_ABS,
    RW_M_COUNT
} rw_metric_id;
/* DESIGN.md's metrics of a spectrum: the first RW_M_NSPECTRAL ids. */
#define RW_M_NSPECTRAL RW_M_GINI

/* The column name of id (a static string; "?" for an id out of range). */
const char *rw_metric_name(rw_metric_id id);
/* Every metric, in column order (RW_M_COUNT of them: DESIGN.md's
 * RW_M_NSPECTRAL, then the entry metrics). */
extern const rw_metric_id rw_all_metrics[RW_M_COUNT];
double rw_metric_get(const rw_metrics *m, rw_metric_id id);

#endif
