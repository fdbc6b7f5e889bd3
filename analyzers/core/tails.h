/*
 * tails.h — heavy-tailed spectral analysis of one matrix from its singular
 * values: WeightWatcher's (0.7.5.5) per-layer metrics to its definitions —
 * the power-law fit of the ESD with xmin chosen by the minimum KS distance
 * (tails.c), the Marchenko-Pastur bulk fit (tails_mp.c), the norm metrics,
 * matrix_rank, rank_loss and WeightWatcher's entropy — and, beside its
 * alpha, the maximum-likelihood alpha that takes xmax into account.
 * docs/tails.md gives each definition, its source and where WeightWatcher's
 * code and the literature differ.
 *
 * The ESD is WeightWatcher's default one: the eigenvalues lambda = sigma^2
 * of W^T W, not normalised (normalize=False), all k = min(m, n) of them.
 * The fit uses those above RW_TAILS_EVALS_THRESH.
 *
 * Memory: rw_tails_compute and rw_mp_fit allocate scratch space and free
 * it before they return; nothing returned needs freeing.
 */
#ifndef RW_TAILS_H
#define RW_TAILS_H

#include "io/rw.h"

/* WeightWatcher's constants (constants.py): the fit drops eigenvalues
 * <= EVALS_THRESH; layers with fewer than MIN_EVALS eigenvalues (min(m, n))
 * are skipped by WeightWatcher, reported here with fit_status few_evals. */
#define RW_TAILS_EVALS_THRESH 1e-5
#define RW_TAILS_MIN_EVALS 10

/* Why a row's fit numbers are nan (fit_status column). */
typedef enum {
    RW_TAILS_OK,          /* "ok" */
    RW_TAILS_FEW_EVALS,   /* "few_evals": min(m, n) < 10 or fewer than 2
                           * eigenvalues above the threshold */
    RW_TAILS_DEGENERATE,  /* "degenerate": the kept eigenvalues are all equal,
                           * or the zero matrix */
    RW_TAILS_NONFINITE,   /* "nonfinite": the matrix held NaN or Inf */
} rw_tails_status;

/* "ok", "few_evals", "degenerate", "nonfinite" (static strings). */
const char *rw_tails_status_name(rw_tails_status s);

/* WeightWatcher's power-law fit (WW_powerlaw.WWFit, its default "ww"
 * package, xmax=None) of x[0..n-1], ascending, all > 0, n >= 2: for every
 * candidate xmin = x[i], i < n - 1, the tail x[i..n-1] (n_i = n - i values)
 * gives the MLE alpha_i = 1 + n_i / sum_{j>=i} ln(x_j / x_i) and the KS
 * distance D_i = max_{j>=i} |1 - (x_j / x_i)^(1 - alpha_i) - (j - i) / n_i|
 * (1 when alpha_i is not > 1); the fit is the first i of minimum D_i.
 * Exact: the MLE of every candidate from suffix sums of logs (O(n)), the
 * D_i by a branch and bound over ranges of the tail (docs/tails.md) that
 * drops a candidate as soon as one term exceeds the best D so far. */
typedef struct {
    double alpha, D, xmin, xmax;
    size_t ixmin;           /* index of xmin in x */
    size_t num_pl_spikes;   /* n - ixmin: the eigenvalues >= xmin */
    double alpha_xmax;      /* the MLE of the power law truncated to
                             * [xmin, xmax] on the same tail (nan when the
                             * tail's values are all equal) */
    size_t evaluated;       /* terms of the D scans computed (cost counter) */
} rw_plfit;

/* work: scratch space of 3 n + 1 doubles. Returns false (r untouched) when
 * n < 2 or x is not usable (not ascending, not > 0, or every tail
 * degenerate: all equal). Allocates nothing. */
bool rw_plfit_compute(const double *x, size_t n, double *work, rw_plfit *r);

/* The MLE exponent of a power law on [xmin, xmax] (ln-values relative:
 * lbar = mean ln(x / xmin), lr = ln(xmax / xmin) > 0): the root beta of
 * 1/beta - lr / (exp(beta lr) - 1) = lbar, alpha = 1 + beta; nan when
 * lbar is not inside (0, lr). */
double rw_plfit_alpha_truncated(double lbar, double lr);

/* WeightWatcher's Marchenko-Pastur fit (weightwatcher.py mp_fit with
 * RMT_Util.fit_density_with_range): the ESD rescaled to mean 1, sigma by
 * scipy.optimize.brute over [0.05 s0, 2 s0) step 0.01 s0 polished by
 * Nelder-Mead (scipy.optimize.fmin, xtol = ftol = 1e-4) of the squared
 * residual between the MP (Q > 1) or quarter-circle (Q = 1) density and a
 * linear-kernel KDE (bandwidth 0.1) on 1000 points. */
typedef struct {
    double sigma_mp;        /* of the rescaled ESD */
    double bulk_min, bulk_max;  /* MP bulk edges, in the ESD's own units */
    double num_spikes;      /* eigenvalues above bulk_max + sqrt(TW) (rescaled) */
    double mp_softrank;     /* bulk_max / lambda_max (rescaled) */
    double w_scale;         /* sqrt(M) / ||W||_F, the rescaling of W */
} rw_mpfit;

/* evals: the M = min(m, n) eigenvalues, ascending, >= 0, sum > 0; Q =
 * max(m, n) / min(m, n). RW_ENOMEM, or RW_EDATA (with no message) when the
 * fit is not defined (M < 2). */
rw_status rw_mp_fit(const double *evals, size_t M, double Q, rw_mpfit *out, rw_err *err);

/* One matrix's row (nan where a value is not defined or the status is not
 * ok; log_norm, log_spectral_norm, stable_rank, matrix_rank, rank_loss and
 * ww_entropy do not need the fit and are given whenever they are defined). */
typedef struct {
    rw_tails_status status;
    double num_evals;        /* eigenvalues above RW_TAILS_EVALS_THRESH */
    double alpha, alpha_weighted, alpha_xmax;
    double D, xmin, xmax, num_pl_spikes;
    double log_norm, log_spectral_norm, log_alpha_norm, stable_rank;
    double matrix_rank, rank_loss, ww_entropy;
    rw_mpfit mp;             /* nan when the MP fit is not defined */
    double rand_distance;    /* nan here: it needs the entries (rw_tails_shuffle,
                              * rw_tails_rand_distance; the pipeline computes it) */
} rw_tails;

/* sigma: the k = min(m, n) singular values of an m x n matrix, descending
 * (all nan for a matrix with non-finite entries). Fails only for want of
 * memory (RW_ENOMEM). */
rw_status rw_tails_compute(const double *sigma, size_t k, int64_t m, int64_t n, rw_tails *out,
                           rw_err *err);

/* rand_distance (WeightWatcher's apply_random_esd, with a fixed seed where
 * WeightWatcher's is unseeded): the m x n matrix's entries, row-major, are
 * permuted in place by rw_tails_shuffle(a, m n, RW_TAILS_RAND_SEED) — the
 * Fisher-Yates shuffle from the last entry down, entry i swapped with entry
 * j = splitmix64() mod (i + 1), splitmix64 started from the seed for every
 * matrix — the shuffled matrix's singular values rsigma computed, and
 * rw_tails_rand_distance(sigma, rsigma, k) is the Jensen-Shannon distance
 * (natural log) between the two eigenvalue vectors lambda_i = sigma_i^2,
 * each normalised to sum 1, paired by rank, with the midpoint
 * (lambda + lambda_rand) / 2 normalised likewise:
 * sqrt((KL(p || m) + KL(q || m)) / 2). nan when either sum is 0 or not
 * finite. Both sigma descending, k values each. */
#define RW_TAILS_RAND_SEED 0
void rw_tails_shuffle(double *a, size_t n, uint64_t seed);
double rw_tails_rand_distance(const double *sigma, const double *rsigma, size_t k);

#endif
