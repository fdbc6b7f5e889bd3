/*
 * specnorm.c — spectral norms of small blocks (specnorm.h).
 */
#include "analyzers/core/specnorm.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>

static double block_fro(const double *x, int64_t rows, int64_t cols, int64_t ld)
{
    double s = 0;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++)
            s += x[i * ld + j] * x[i * ld + j];
    return sqrt(s);
}

double rw_spec_norm(const double *x, int64_t rows, int64_t cols, int64_t ld)
{
    if (rows <= 0 || cols <= 0)
        return 0;
    double f = block_fro(x, rows, cols, ld);
    if (!isfinite(f)) /* nan or inf in the block: no eigenproblem on it */
        return f;
    int64_t k = rows < cols ? rows : cols;
    /* G, then W: dsyevr uses all k entries of W, whatever the range */
    double *g = malloc((size_t)(k * k + k) * sizeof *g);
    if (!g)
        return f;
    double *w = g + k * k, z[1];
    /* upper triangle of G = X X^T (k = rows) or X^T X (k = cols) */
    if (k == rows)
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)k, (int)cols, 1.0, x,
                    (int)ld, 0.0, g, (int)k);
    else
        cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)k, (int)rows, 1.0, x, (int)ld,
                    0.0, g, (int)k);
    lapack_int found = 0, isuppz[2];
    lapack_int info = LAPACKE_dsyevr(LAPACK_ROW_MAJOR, 'N', 'I', 'U', (lapack_int)k, g,
                                     (lapack_int)k, 0, 0, (lapack_int)k, (lapack_int)k, 0,
                                     &found, w, z, 1, isuppz);
    double lam = w[0];
    free(g);
    if (info != 0 || found != 1 || !isfinite(lam))
        return f;
    return lam > 0 ? sqrt(lam) : 0;
}
