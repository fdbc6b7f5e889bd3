/*
 * spectral.h — the SVD engine: singular values of a matrix, exactly
 * (dgesdd) or within the stored dtype's accuracy contract (below), and the
 * workspace that makes a run of them allocation-free. The one place that
 * calls LAPACK for singular values. The metrics computed from them:
 * metrics.h.
 *
 * Legend: W is m x n (rows x cols), k = min(m, n), sigma[0] >= ... >= sigma[k-1].
 *
 * Ownership: the caller owns the matrix and sigma it passes (a may be
 * overwritten, as each function says); an rw_svd_ws is the caller's from
 * rw_svd_ws_new to rw_svd_ws_free. Nothing else is kept between calls.
 */
#ifndef RW_SPECTRAL_H
#define RW_SPECTRAL_H

#include "io/rw.h"

/* Singular values of the m x n row-major matrix a (overwritten), in double
 * precision, values only, descending, into sigma[0..k-1]. A matrix with a
 * non-finite entry gets all-nan sigma and RW_EDATA (err names the entry);
 * callers decide whether that is an error. */
rw_status rw_svd_values(double *a, int64_t m, int64_t n, double *sigma, rw_err *err);

/* ------------------------------------------------- the fast path (contract)
 *
 * rw_svd_values_dt computes the same values faster where the stored dtype
 * allows it, under this accuracy contract (docs/performance.md):
 *
 *     |sigma_i - sigma_i(dgesdd)| <= rw_svd_tolerance(dtype) * ||W||_F   for every i,
 *
 * tolerance = eps(dtype) for float16, bfloat16 and float32 data (the data
 * cannot tell more: rounding to the dtype moves every sigma_i by up to
 * eps/2 * ||W||_F), and 1e-12 for float64 and integer data.
 *
 * Method: the Gram matrix of the short side in double (dsyrk) and its
 * eigenvalues (dsytrd + dsterf, as dsyev), sigma = sqrt(max(lambda, 0)),
 * accepted only when a rigorous-up-to-LAPACK's-eigensolver-constant error
 * bound on the smallest sigma meets the contract with a factor 2 to spare;
 * otherwise the orthogonal path (Householder bidiagonalization and dqds,
 * what dgesdd does for values). Float64 data nearly always goes to the
 * latter, decided before any Gram work. spectral.c explains the bound,
 * docs/performance.md the measurements behind the choice. */

/* Per-thread scratch for rw_svd_values_dt: grows to the largest shape seen
 * and is reused, so a run of matrices allocates only when a shape grows.
 * Not shareable between threads that run at once; one per thread. */
typedef struct rw_svd_ws rw_svd_ws;

/* An empty workspace (NULL on allocation failure). Caller frees. */
rw_svd_ws *rw_svd_ws_new(void);
/* free(NULL)-alike: NULL is a no-op. */
void rw_svd_ws_free(rw_svd_ws *ws);
/* Grows ws to fit an m x n matrix on either path (optional: the first call
 * of that shape does it too). */
rw_status rw_svd_ws_reserve(rw_svd_ws *ws, int64_t m, int64_t n, rw_err *err);
/* Bytes ws holds now. */
size_t rw_svd_ws_size(const rw_svd_ws *ws);

typedef enum {
    RW_SVD_NONE,           /* nothing computed: k = 0, or a non-finite entry */
    RW_SVD_ZERO,           /* the zero matrix: all sigma exactly 0 */
    RW_SVD_GRAM,           /* Gram + tridiagonal eigenvalues (dsytrd + dsterf), its
                              error bound within the contract */
    RW_SVD_GESDD,          /* the orthogonal path (bidiagonalization + dqds, as
                              dgesdd), chosen before any Gram work */
    RW_SVD_GESDD_FALLBACK, /* Gram computed, bound not within the contract: the
                              orthogonal path */
    RW_SVD_GRAM_REFINED,   /* rel > 0: the Gram result, its sigma_min recomputed
                              from W to rel of itself (spectral.c,
                              refine_sigma_min) */
    RW_SVD_GRAM_BLOCK,     /* k >= 256: the Gram result, its bottom values that
                              fail the contract (or sigma_min alone, to rel)
                              recomputed from W and certified (svd_block.c) */
} rw_svd_method;
#define RW_SVD_METHOD_COUNT (RW_SVD_GRAM_BLOCK + 1)

typedef struct {
    rw_svd_method method;
    /* RW_SVD_GRAM, RW_SVD_GRAM_REFINED, RW_SVD_GRAM_BLOCK: the bound on
     * max_i |sigma_i - exact sigma_i| that was checked against the
     * contract; otherwise nan. */
    double err_bound;
} rw_svd_info;

/* The contract's tolerance factor for data stored as dtype (see above). */
double rw_svd_tolerance(rw_dtype dtype);

/* Singular values of the m x n row-major matrix a, data stored as dtype,
 * descending into sigma[0..k-1], within the contract above. a may be
 * overwritten (only on the orthogonal paths). Non-finite input: all-nan sigma and
 * RW_EDATA, as rw_svd_values. ws: this thread's workspace, or NULL for a
 * temporary one (allocates per call). info: what was done, or NULL.
 * Thread-safe with one ws per thread; see rw_blas_set_threads. */
rw_status rw_svd_values_dt(double *a, int64_t m, int64_t n, rw_dtype dtype, double *sigma,
                           rw_svd_ws *ws, rw_svd_info *info, rw_err *err);

/* The same, and when rel > 0 the largest and the smallest singular value are
 * also known to rel of themselves: the Gram result where its bound shows
 * that (then every value is), else with sigma_min recomputed from W where
 * that reaches rel and sigma_min lies clearly above num_rank's threshold
 * (RW_SVD_GRAM_REFINED; the other values within the contract), else, for
 * k >= 256, with the bottom block recomputed and certified from W and
 * sigma_1 too where needed (RW_SVD_GRAM_BLOCK), else the orthogonal path.
 * Without rel, RW_SVD_GRAM_BLOCK recomputes the bottom values that fail
 * the contract. sigma_max, sigma_min, cond, num_rank and cond_rank then
 * agree with dgesdd's to about rel relative. The programs use
 * rel = RW_SVD_REL_DEFAULT unless --fast. */
#define RW_SVD_REL_DEFAULT 2e-10
rw_status rw_svd_values_acc(double *a, int64_t m, int64_t n, rw_dtype dtype, double rel,
                            double *sigma, rw_svd_ws *ws, rw_svd_info *info, rw_err *err);
/* A static string: "gram", "gesdd", ... ("?" when out of range). */
const char *rw_svd_method_name(rw_svd_method m);

/* Sets the number of threads BLAS/LAPACK calls use (OpenBLAS,
 * openblas_set_num_threads). Process-wide in OpenBLAS 0.3.21 (Debian 12):
 * callers that run rw_svd_values_dt from N threads at once set 1 first, so
 * that the N threads do not each start BLAS threads of their own. */
void rw_blas_set_threads(int n);

#endif
