/*
 * svd_block.h — the bottom singular values of a large matrix recomputed
 * from W itself when the Gram result cannot resolve them (RW_SVD_GRAM_BLOCK;
 * svd_block.c has the method and its proof). Internal to analyzers/core:
 * only spectral.c calls it, after its Gram eigenvalues.
 *
 * Ownership: everything is the caller's; svd_block allocates its own small
 * buffers (O((L + k) p) doubles) per call and frees them.
 */
#ifndef RW_SVD_BLOCK_H
#define RW_SVD_BLOCK_H

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>

/* gamma_n = n u / (1 - n u) (Higham), the rounding-error factor of n
 * operations, u = 2^-53. */
static inline double rw_gamma_n(double nn)
{
    const double u = DBL_EPSILON / 2;
    return nn * u / (1 - nn * u);
}

/* The Gram result's bound for a value s^ (spectral.c, the comment at the
 * top), with sqrt's own rounding: u sigma_i <= u sigma_1, generously doubled. */
static inline double rw_gram_bound(double s, double s_max, double delta)
{
    double root = sqrt(delta);
    double b = s > 0 && delta / s < root ? delta / s : root;
    return b + DBL_EPSILON * s_max;
}

typedef struct {
    const double *a; /* row-major m x n W, as the Gram matrix was formed from */
    int64_t m, n;
    double *sigma;   /* the Gram values, descending; the bottom ones replaced */
    double delta;    /* the Gram eigenvalues' error bound (spectral.c) */
    double f_hi;     /* an upper bound of ||W||_F */
    double budget;   /* the contract's allowance for this matrix (absolute) */
    double rel;      /* > 0: sigma_min also to rel of itself */
    double rank_tol; /* num_rank's threshold: a refined sigma_min must be
                        clearly (2x) above it */
    /* The 1-stage reduction's T (diagonal then subdiagonal), its
     * eigenvalues ascending, and dsytrd's reflectors and tau; or all NULL
     * (two-stage reduction): then only square matrices qualify. */
    const double *t, *lam, *refl, *tau;
    double *scratch; /* k x k doubles the caller no longer needs (square: the LU) */
} rw_block_in;

/* Smallest k for which spectral.c tries the block path (below it, the
 * orthogonal path costs less than the refinement's fixed costs matter). */
#define RW_BLOCK_MIN_K 256

/* Replaces the failing bottom values of in->sigma by certified ones and
 * returns true with *bound = max_i |sigma_i - exact sigma_i| over every i
 * (and, when rel > 0, sigma_min within rel / 2 of itself); false leaves
 * sigma as it was (then the orthogonal path). */
bool rw_svd_block(const rw_block_in *in, double *bound);

#endif
