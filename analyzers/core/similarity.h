/*
 * similarity.h — how alike two sets of activations are: linear CKA and
 * PWCCA, the comparative metrics of pico-analyze (rw-sim; docs/similarity.md
 * gives the formulas and their sources).
 *
 * X is n x p and Y is n x q, row-major doubles: n samples (the same inputs,
 * row i of X and of Y from the same sample) by p and q features.
 *
 * Pure functions of their arguments, in double precision, with LAPACK for
 * the decompositions. Their scratch space comes from an rw_sim_ws, the
 * caller's (one per thread; it grows to the largest pair and is reused, so
 * a run of pairs allocates nothing after the first), or from a temporary
 * one when ws is NULL. Nothing returned is owned by the module.
 */
#ifndef RW_SIMILARITY_H
#define RW_SIMILARITY_H

#include "io/rw.h"

/* Scratch for the functions below: the caller's from rw_sim_ws_new (NULL
 * when out of memory) to rw_sim_ws_free (NULL: no-op). Not shared by
 * threads that run at once. */
typedef struct rw_sim_ws rw_sim_ws;
rw_sim_ws *rw_sim_ws_new(void);
void rw_sim_ws_free(rw_sim_ws *ws);

/* Linear CKA in feature space (Kornblith et al. 2019): with the columns of
 * X and Y centred,
 *     CKA = ||X^T Y||_F^2 / (||X^T X||_F ||Y^T Y||_F),
 * or with debiased, the same with each of the three dot-product
 * similarities replaced by its unbiased HSIC estimate (Song et al. 2007, in
 * the form of the CKA authors' code; may be negative; needs n > 3).
 * 1 for X against X·Q (Q orthogonal) and c·X; nan when a centred X or Y is
 * zero. RW_EUSAGE for n < 2 (n < 4 debiased). */
rw_status rw_cka(const double *x, const double *y, size_t n, size_t p, size_t q, bool debiased,
                 double *out, rw_err *err);
/* The same with the caller's workspace (NULL: a temporary one). */
rw_status rw_cka_ws(const double *x, const double *y, size_t n, size_t p, size_t q,
                    bool debiased, rw_sim_ws *ws, double *out, rw_err *err);

/* PWCCA (Morcos et al. 2018) as the SVCCA authors' code computes it with
 * epsilon (pico-analyze: 1e-6): covariances of the features (n - 1 in the
 * denominator), Sxx and Syy scaled by their largest |entry| and Sxy by the
 * root of both; features whose scaled variance is below epsilon dropped;
 * epsilon added to the diagonals; the canonical correlations rho are the
 * singular values of Sxx^-1/2 Sxy Syy^-1/2 = U diag(rho) V^T; the side with
 * fewer features kept (X on a tie) gives directions D = U^T (X - mean) + mean
 * (features by samples), whose orthonormal basis P weighs each rho_i by
 * a_i = sum_j |(P^T X)_ij|, and PWCCA = sum a_i rho_i / sum a_i. The Y
 * side uses Y's own activations (the authors' code reads X's there: see
 * docs/similarity.md). Needs n > p and n > q (the code's neurons x
 * samples input must be wider than tall): RW_EDATA otherwise, saying so. nan
 * when no feature of X or Y is left. */
rw_status rw_pwcca(const double *x, const double *y, size_t n, size_t p, size_t q, double epsilon,
                   double *out, rw_err *err);
/* The same with the caller's workspace (NULL: a temporary one). */
rw_status rw_pwcca_ws(const double *x, const double *y, size_t n, size_t p, size_t q,
                      double epsilon, rw_sim_ws *ws, double *out, rw_err *err);

/* What PWCCA needs of one matrix alone (its centred features, means, kept
 * features and S^-1/2), prepared once for comparing many X with the same
 * Y: rw-sim's every step against one target. The numbers are those of
 * rw_pwcca_ws to the last bit. The side borrows y, which must outlive it.
 * rw_pwcca_side_new: RW_EDATA as rw_pwcca for n <= q; *out is the
 * caller's, freed by rw_pwcca_side_free (NULL: no-op). Read-only once
 * made: threads may share it. */
typedef struct rw_pwcca_side rw_pwcca_side;
rw_status rw_pwcca_side_new(const double *y, size_t n, size_t q, double epsilon,
                            rw_pwcca_side **out, rw_err *err);
void rw_pwcca_side_free(rw_pwcca_side *s);
/* rw_pwcca_ws of x (n x p) against the side's y, its q and epsilon. */
rw_status rw_pwcca_against(const double *x, size_t n, size_t p, const rw_pwcca_side *ys,
                           rw_sim_ws *ws, double *out, rw_err *err);

#endif
