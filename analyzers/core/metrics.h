/*
 * metrics.h — the metrics of DESIGN.md computed from a spectrum (singular
 * values, descending; spectral.h computes them), and their column names.
 * Pure functions of their arguments: nothing is allocated; the names are
 * static strings.
 *
 * Legend: W is m x n (rows x cols), k = min(m, n), sigma[0] >= ... >= sigma[k-1].
 */
#ifndef RW_METRICS_H
#define RW_METRICS_H

#include "io/rw.h"

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

/* Metric columns by name, in DESIGN.md's order. */
typedef enum {
    RW_M_SIGMA_MAX, RW_M_SIGMA_MIN, RW_M_COND, RW_M_NUM_RANK, RW_M_COND_RANK,
    RW_M_ERANK, RW_M_PER, RW_M_STABLE_RANK, RW_M_ENTROPY, RW_M_FRO, RW_M_NUC,
    RW_M_COUNT
} rw_metric_id;

/* The column name of id (a static string; "?" for an id out of range). */
const char *rw_metric_name(rw_metric_id id);
/* Every metric, in DESIGN.md's column order (RW_M_COUNT of them). */
extern const rw_metric_id rw_all_metrics[RW_M_COUNT];
double rw_metric_get(const rw_metrics *m, rw_metric_id id);

#endif
