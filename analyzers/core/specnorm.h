/*
 * specnorm.h — the spectral norm ||X||_2 = sigma_1 of a small factor block,
 * for the first-order rounding bounds of products (num_rank's N: items.c,
 * circuits.c). Pure computation, thread-safe; it allocates and frees its
 * own scratch space.
 */
#ifndef RW_SPECNORM_H
#define RW_SPECNORM_H

#include <stdint.h>

/* ||X||_2 of the rows x cols block at x, row-major with leading dimension
 * ld: sqrt of the largest eigenvalue of the smaller Gram matrix (X X^T or
 * X^T X, min(rows, cols) square; LAPACK dsyevr, that eigenvalue only). 0
 * for an empty block. Where the Gram matrix cannot be allocated or the
 * eigenproblem fails it returns ||X||_F, an upper bound of ||X||_2, so the
 * bounds built on it stay rigorous; a block with a nan or inf gets its
 * ||X||_F (nan or inf) without an eigenproblem. */
double rw_spec_norm(const double *x, int64_t rows, int64_t cols, int64_t ld);

#endif
