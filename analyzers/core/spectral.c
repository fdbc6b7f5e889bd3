/*
 * spectral.c — singular values through LAPACKE (spectral.h); the metrics
 * computed from them are metrics.c's.
 *
 * Two ways to the singular values of a row-major m x n matrix W
 * (L = max(m, n), k = min(m, n)):
 *   rw_svd_values     dgesdd, values only: the exact (reference) path;
 *   rw_svd_values_dt  the Gram matrix of the short side and its tridiagonal
 *                     eigenvalues where the stored dtype's contract allows it
 *                     (docs/performance.md), elsewhere the orthogonal path:
 *                     Householder bidiagonalization and dqds, as dgesdd.
 */
#include "analyzers/core/spectral.h"
#include "analyzers/core/svd_block.h"

#include <cblas.h>
#include <float.h>
#include <lapacke.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* OpenBLAS's; declared here too so that the netlib cblas.h alternative
 * compiles (the library links -lopenblas through pkg-config either way). */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

/* LAPACK computational routines without a LAPACKE wrapper; character
 * arguments come with their hidden lengths (gfortran's size_t, last). */
void dlabrd_(const lapack_int *m, const lapack_int *n, const lapack_int *nb, double *a,
             const lapack_int *lda, double *d, double *e, double *tauq, double *taup, double *x,
             const lapack_int *ldx, double *y, const lapack_int *ldy);
void dgebd2_(const lapack_int *m, const lapack_int *n, double *a, const lapack_int *lda,
             double *d, double *e, double *tauq, double *taup, double *work, lapack_int *info);
void dlasq1_(const lapack_int *n, double *d, double *e, double *work, lapack_int *info);
void dlatrd_(const char *uplo, const lapack_int *n, const lapack_int *nb, double *a,
             const lapack_int *lda, double *e, double *tau, double *w, const lapack_int *ldw,
             size_t uplo_len);
void dsytrd_2stage_(const char *vect, const char *uplo, const lapack_int *n, double *a,
                    const lapack_int *lda, double *d, double *e, double *tau, double *hous2,
                    const lapack_int *lhous2, double *work, const lapack_int *lwork,
                    lapack_int *info, size_t vect_len, size_t uplo_len);
void dsytd2_(const char *uplo, const lapack_int *n, double *a, const lapack_int *lda, double *d,
             double *e, double *tau, lapack_int *info, size_t uplo_len);

/* Programmer errors from LAPACK (info < 0) abort; data errors are reported. */
static void lapack_bug(const char *routine, lapack_int info)
{
    rw_bug("%s argument %d invalid", routine, (int)-info);
}

/* All-nan sigma and RW_EDATA when a (m x n, row-major) holds NaN or Inf. */
static rw_status check_finite(const double *a, int64_t m, int64_t n, double *sigma, rw_err *err)
{
    int64_t k = m < n ? m : n;
    size_t numel = (size_t)m * (size_t)n;
    for (size_t i = 0; i < numel; i++)
        if (!isfinite(a[i])) {
            for (int64_t j = 0; j < k; j++)
                sigma[j] = NAN;
            return rw_fail(err, RW_EDATA, "non-finite value %g at row %zu, column %zu", a[i],
                           i / (size_t)n, i % (size_t)n);
        }
    return RW_OK;
}

rw_status rw_svd_values(double *a, int64_t m, int64_t n, double *sigma, rw_err *err)
{
    int64_t k = m < n ? m : n;
    if (k <= 0)
        return RW_OK;
    rw_status st = check_finite(a, m, n, sigma, err);
    if (st != RW_OK)
        return st;
    if (m > INT_MAX || n > INT_MAX)
        return rw_fail(err, RW_EUSAGE, "matrix %lldx%lld too large for LAPACK", (long long)m,
                       (long long)n);
    /* The row-major m x n matrix is the column-major n x m matrix W^T, whose
     * singular values are W's: no transpose needed. */
    lapack_int info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', (lapack_int)n, (lapack_int)m, a,
                                     (lapack_int)n, sigma, NULL, 1, NULL, 1);
    if (info < 0)
        lapack_bug("dgesdd", info);
    if (info > 0)
        return rw_fail(err, RW_EDATA, "SVD did not converge (dgesdd info %d)", (int)info);
    return RW_OK;
}

/* ---------------------------------------------------------------------------
 * The fast path.
 *
 * Why the Gram matrix, and when it is good enough. With G = W^T W (k x k, the
 * short side; k(k+1)L flops in dsyrk, at DGEMM speed) and its eigenvalues
 * lambda_i = sigma_i^2, the cost drops from dgesdd's bidiagonalization
 * (8/3 k^3, plus 2k^2(L - k/3) for its QR when L >= 11k/6, half of it
 * memory-bound BLAS-2) to k^2 L + 4/3 k^3 (dsytrd, also half BLAS-2, but on a
 * k x k matrix and once). Measured per shape: docs/performance.md.
 *
 * The price: G squares the condition number. The error, with u = 2^-53 and
 * F = ||W||_F:
 *   1. Forming G: every entry is an inner product of length L, so, whatever
 *      the summation order or FMA use of the BLAS (Higham, Accuracy and
 *      Stability, Thm 3.5 / eq. 3.5), |G^ - G| <= gamma_L |W|^T |W| with
 *      gamma_L = L u / (1 - L u), hence ||G^ - G||_2 <= ||.||_F
 *      <= gamma_L || |W| ||_F^2 = gamma_L F^2. Underflowing products add at
 *      most L 2^-1074 per entry, negligible beside that for max|w| >= 2^-200,
 *      and max|w| <= 2^200 rules out overflow: outside that range, dgesdd.
 *      (In that range ||G|| is also within dsyev's [rmin, rmax], where it
 *      does not scale: dsytrd + dsterf is dsyev.)
 *   2. The eigensolver (dsytrd + dsterf) returns the exact eigenvalues of
 *      G^ + E2 with ||E2||_2 <= p(k) u ||G^||_2 (LAPACK Users' Guide, 4.7,
 *      "p(n) is a modestly growing function of n. We take p(n) = 1"). We take
 *      p(k) = k, and ||G^||_2 <= (1 + gamma_L) F^2.
 *   So by Weyl, |lambda^_i - lambda_i| <= delta
 *      = (gamma_L + k u (1 + gamma_L)) F^2,
 *   and for sigma^_i = sqrt(max(lambda^_i, 0)):
 *      |sigma^_i - sigma_i| <= min(sqrt(delta), delta / sigma^_i)
 *   (|sqrt a - sqrt b| <= sqrt|a - b|, and = |a - b| / (sqrt a + sqrt b)).
 *   Both terms grow as sigma^_i shrinks, so the smallest computed value sets
 *   the bound for all: about eps64 F^2 / sigma_k, the "eps64 sigma1^2 / sigma"
 *   of squaring, or sqrt(delta) ~ 1e-8 F for (numerically) rank-deficient W.
 * The result is accepted when that bound (plus the sqrt's own rounding) is
 * at most half the contract's tol * F, leaving the other half to the
 * reference's own error; F is taken from the data with its summation error
 * (gamma_{mn}) on the unfavourable side.
 *
 * Before any Gram work: since sum lambda_i = F^2, sigma_k <= F / sqrt(k), so
 * the bound is at least F min(sqrt(d), d sqrt(k)) with d = delta / F^2. When
 * that already exceeds the budget (float64 data, except tiny k), go straight
 * to dgesdd. This decision only saves time; correctness rests on the check.
 *
 * For float32 data the budget is about 6e-8 F, so the Gram path is taken
 * when sigma_k / F >= 2 (L + k) u / eps32 = (L + k) 2^-29 (2.9e-6 for
 * 768 x 768) — typical of trained weights and of noise-dominated square
 * matrices — and a float32 matrix that is rank-deficient to working
 * precision (a stored LoRA update B A) goes to dgesdd, as it must: only an
 * orthogonal method resolves its small values to the contract. For float16
 * and bfloat16 sqrt(delta) is within budget: Gram always.
 * ------------------------------------------------------------------------- */

struct rw_svd_ws {
    double *gram;              /* k x k, column-major, lower triangle */
    size_t gram_cap;           /* doubles */
    double *vec;               /* refine_sigma_min's vectors: 10k + 3L */
    size_t vec_cap;            /* doubles */
    double *work;              /* tridiagonal reduction or bidiagonal SVD workspace */
    size_t work_cap;           /* doubles */
    lapack_int *iwork;         /* dgesdd (tall W): 8k; dstein: 3k */
    size_t iwork_cap;          /* lapack_ints */
};

rw_svd_ws *rw_svd_ws_new(void)
{
    return calloc(1, sizeof(rw_svd_ws));
}

void rw_svd_ws_free(rw_svd_ws *ws)
{
    if (!ws)
        return;
    free(ws->gram);
    free(ws->vec);
    free(ws->work);
    free(ws->iwork);
    free(ws);
}

size_t rw_svd_ws_size(const rw_svd_ws *ws)
{
    return ws ? (ws->gram_cap + ws->vec_cap + ws->work_cap) * sizeof(double) +
                    ws->iwork_cap * sizeof(lapack_int)
              : 0;
}


/* The tridiagonal reduction is blocked here in panels of TRD_NB = 8 up to
 * k = TRD_OWN_MAX (dlatrd panels, dsyr2k updates, dsytd2 for the last
 * columns, as dsytrd's own loop), where LAPACK's NB of 32 leaves more of it
 * in BLAS-2: measured 118 -> 93 us for k = 96, 2.9 -> 2.7 ms for k = 384. */
#define TRD_NB 8
#define TRD_OWN_MAX 384

/* LAPACK's workspace queries; k, m, n already known to fit a lapack_int. */
/* From k = TRD_2STAGE_MIN on, the two-stage reduction (dsytrd_2stage: a
 * BLAS-3 reduction to band form, then bulge chasing) where the reflectors
 * are not needed afterwards: without the relative requirement (--fast;
 * the default mode needs Gram eigenvectors for sigma_1 and for a
 * rectangular W's sigma_min). Measured (one thread, reduction and dsterf):
 * 2.33 s against dsytrd's 3.79 at k = 4096, 1.07 against 1.49 at 3072, no
 * gain at k <= 2048 (docs/performance.md). Only on one BLAS thread (the
 * programs' workers always are): on two, dsytrd's BLAS-2 half scales and
 * the bulge chasing does not, and the two-stage `--fast` 4096^2 took 5.6 s
 * against torch float32's 5.1. */
#define TRD_2STAGE_MIN 3072

/* dsytrd_2stage's hous2 and work sizes (queried). */
static void trd2_sizes(lapack_int k, lapack_int *lhous2, lapack_int *lwork)
{
    double qh = 0, qw = 0, dummy = 0;
    lapack_int m1 = -1, info = 0;
    dsytrd_2stage_("N", "L", &k, &dummy, &k, &dummy, &dummy, &dummy, &qh, &m1, &qw, &m1, &info,
                   1, 1);
    if (info < 0)
        lapack_bug("dsytrd_2stage", info);
    *lhous2 = (lapack_int)qh;
    *lwork = (lapack_int)qw;
}

static size_t trd_lwork(lapack_int k)
{
    /* e, tau (2k), then dlatrd's k x TRD_NB, or dsytrd's own workspace */
    size_t rest = (size_t)k * TRD_NB;
    if (k >= TRD_2STAGE_MIN) {
        lapack_int lh = 0, lw = 0;
        trd2_sizes(k, &lh, &lw);
        rest = (size_t)lh + (size_t)lw > rest ? (size_t)lh + (size_t)lw : rest;
    }
    if (k > TRD_OWN_MAX) {
        double q = 0, dummy = 0;
        lapack_int info = LAPACKE_dsytrd_work(LAPACK_COL_MAJOR, 'L', k, &dummy, k, &dummy,
                                              &dummy, &dummy, &q, -1);
        if (info < 0)
            lapack_bug("dsytrd", info);
        rest = (size_t)q > rest ? (size_t)q : rest;
    }
    return 2 * (size_t)k + rest;
}

static size_t gesdd_lwork(lapack_int rows, lapack_int cols)
{
    double q = 0, dummy = 0;
    lapack_int idummy = 0;
    lapack_int info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'N', rows, cols, &dummy, rows,
                                          &dummy, NULL, 1, NULL, 1, &q, -1, &idummy);
    if (info < 0)
        lapack_bug("dgesdd", info);
    return (size_t)q;
}

static rw_status ws_reserve_gram(rw_svd_ws *ws, int64_t k, rw_err *err)
{
    size_t kk;
    if (!rw_mul_size((size_t)k, (size_t)k, &kk))
        return rw_fail(err, RW_ENOMEM, "Gram matrix %lldx%lld too large", (long long)k,
                       (long long)k);
    rw_status st = rw_scratch(&ws->gram, &ws->gram_cap, kk, sizeof(double), err);
    /* the reduction's workspace (its tau, from k on, is kept for refine_sigma_min) */
    if (st == RW_OK)
        st = rw_scratch(&ws->work, &ws->work_cap, trd_lwork((lapack_int)k), sizeof(double), err);
    return st;
}

/* refine_sigma_min's buffers: 10k + 3L doubles, then T's eigenvalues (k)
 * for svd_block; 3k integers. */
static rw_status ws_reserve_refine(rw_svd_ws *ws, int64_t k, int64_t len, rw_err *err)
{
    rw_status st = rw_scratch(&ws->vec, &ws->vec_cap, 11 * (size_t)k + 3 * (size_t)len,
                              sizeof(double), err);
    if (st == RW_OK)
        st = rw_scratch(&ws->iwork, &ws->iwork_cap, 3 * (size_t)k, sizeof(lapack_int), err);
    return st;
}

static size_t geqrf_lwork(lapack_int rows, lapack_int cols)
{
    double q = 0, dummy = 0;
    lapack_int info = LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, rows, cols, &dummy, rows, &dummy, &q,
                                          -1);
    if (info < 0)
        lapack_bug("dgeqrf", info);
    return (size_t)q;
}

/* dgesdd's own QR-first path (its MNTHR: long side >= 11/6 short side)
 * reduces R in place, with the leading dimension of the whole matrix. For a
 * column-major tall input — a row-major W with n >= 11m/6 — a QR and a
 * compact copy of R are 10-20% faster (measured: docs/performance.md); the
 * transposed case would be an LQ, which gains nothing. */
static bool qr_first(int64_t m, int64_t n)
{
    return 6 * n >= 11 * m;
}

/* The orthogonal path's bidiagonal route (svd_bidiag) applies to a
 * column-major rows x cols matrix with rows >= cols; its workspace, in
 * doubles: d is sigma; e, tauq, taup (3 cols); X (rows x NB) and Y
 * (cols x NB) of dlabrd; dgebd2's rows; dlasq1's 4 cols. */
#define BIDIAG_NB 8
static size_t gebrd_lwork(lapack_int rows, lapack_int cols)
{
    double q = 0, dummy = 0;
    lapack_int info = LAPACKE_dgebrd_work(LAPACK_COL_MAJOR, rows, cols, &dummy, rows, &dummy,
                                          &dummy, &dummy, &dummy, &q, -1);
    if (info < 0)
        lapack_bug("dgebrd", info);
    return (size_t)q;
}

static size_t bidiag_lwork(int64_t rows, int64_t cols)
{
    size_t rest = (size_t)(BIDIAG_NB * (rows + cols) + rows); /* >= dlasq1's 4 cols */
    if (cols >= 128) {
        size_t q = gebrd_lwork((lapack_int)rows, (lapack_int)cols);
        rest = q > rest ? q : rest;
    }
    return 3 * (size_t)cols + rest;
}

static rw_status ws_reserve_gesdd(rw_svd_ws *ws, int64_t m, int64_t n, rw_err *err)
{
    int64_t k = m < n ? m : n;
    rw_status st;
    if (qr_first(m, n)) {
        /* work = [tau (k) | dgeqrf or dgesdd workspace]; R in gram. */
        size_t lq = geqrf_lwork((lapack_int)n, (lapack_int)m);
        size_t ls = bidiag_lwork(k, k);
        st = rw_scratch(&ws->work, &ws->work_cap, (size_t)k + (lq > ls ? lq : ls),
                  sizeof(double), err);
        if (st == RW_OK)
            st = rw_scratch(&ws->gram, &ws->gram_cap, (size_t)k * (size_t)k, sizeof(double),
                      err);
    } else if (n >= m) {
        /* Row-major m x n = column-major n x m, rows >= cols. */
        st = rw_scratch(&ws->work, &ws->work_cap, bidiag_lwork(n, m), sizeof(double), err);
    } else {
        st = rw_scratch(&ws->work, &ws->work_cap, gesdd_lwork((lapack_int)n, (lapack_int)m),
                  sizeof(double), err);
    }
    if (st == RW_OK)
        st = rw_scratch(&ws->iwork, &ws->iwork_cap, 8 * (size_t)k, sizeof(lapack_int), err);
    return st;
}

static rw_status check_lapack_dims(int64_t m, int64_t n, rw_err *err)
{
    if (m > INT_MAX || n > INT_MAX)
        return rw_fail(err, RW_EUSAGE, "matrix %lldx%lld too large for LAPACK", (long long)m,
                       (long long)n);
    return RW_OK;
}

rw_status rw_svd_ws_reserve(rw_svd_ws *ws, int64_t m, int64_t n, rw_err *err)
{
    int64_t k = m < n ? m : n;
    if (k <= 0)
        return RW_OK;
    rw_status st = check_lapack_dims(m, n, err);
    if (st == RW_OK)
        st = ws_reserve_gram(ws, k, err);
    if (st == RW_OK)
        st = ws_reserve_gesdd(ws, m, n, err);
    return st;
}

double rw_svd_tolerance(rw_dtype dtype)
{
    switch (dtype) {
    case RW_DT_F16:
    case RW_DT_BF16:
    case RW_DT_F32:
        return rw_dtype_eps(dtype);
    default:
        return 1e-12;
    }
}

const char *rw_svd_method_name(rw_svd_method m)
{
    switch (m) {
    case RW_SVD_NONE: return "none";
    case RW_SVD_ZERO: return "zero";
    case RW_SVD_GRAM: return "gram";
    case RW_SVD_GESDD: return "gesdd";
    case RW_SVD_GESDD_FALLBACK: return "gesdd-fallback";
    case RW_SVD_GRAM_REFINED: return "gram-refined";
    case RW_SVD_GRAM_BLOCK: return "gram-block";
    }
    return "?";
}

void rw_blas_set_threads(int n)
{
    openblas_set_num_threads(n > 0 ? n : 1);
}

/* Singular values of the column-major rows x cols matrix a (rows >= cols),
 * overwritten, into sigma (descending): Householder bidiagonalization, then
 * dqds (dlasq1) on the bidiagonal — what dgesdd does for values only, with
 * the same backward stability. The reduction is blocked here down to
 * BIDIAG_NB = 8 columns (dlabrd panels, dgemm updates, dgebd2 for the last
 * ones, as dgebrd's own loop): LAPACK's ILAENV crossover keeps dgebrd
 * unblocked, all BLAS-2, below 128 columns. Measured on 96 x 96:
 * dgesdd 425 us, this 335 us (dgebrd 236 -> 190 us; dlasq1 directly instead
 * of dbdsdc's way to it, 190 -> 145 us). From 128 columns on, dgebrd. */
static rw_status svd_bidiag(double *a, lapack_int rows, lapack_int cols, lapack_int lda,
                            double *sigma, double *work, size_t lwork, rw_err *err)
{
    lapack_int k = cols, nb = BIDIAG_NB, info = 0;
    double *e = work, *tauq = e + k, *taup = tauq + k, *rest = taup + k;
    if (k >= 128) {
        info = LAPACKE_dgebrd_work(LAPACK_COL_MAJOR, rows, cols, a, lda, sigma, e, tauq, taup,
                                   rest, (lapack_int)(lwork - 3 * (size_t)k));
        if (info < 0)
            lapack_bug("dgebrd", info);
    } else {
        double *x = rest, *y = x + (size_t)rows * nb, *w2 = y + (size_t)cols * nb;
        lapack_int i = 0;
        for (; i < k - nb; i += nb) {
            lapack_int mr = rows - i, nr = cols - i;
            double *aii = a + i + (size_t)i * lda;
            dlabrd_(&mr, &nr, &nb, aii, &lda, sigma + i, e + i, tauq + i, taup + i, x, &mr, y,
                    &nr);
            /* A22 -= V Y^T + X U^T, the trailing (mr - nb) x (nr - nb) block */
            double *a22 = a + (i + nb) + (size_t)(i + nb) * lda;
            cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, mr - nb, nr - nb, nb, -1.0,
                        aii + nb, lda, y + nb, nr, 1.0, a22, lda);
            cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, mr - nb, nr - nb, nb, -1.0,
                        x + nb, mr, aii + (size_t)nb * lda, lda, 1.0, a22, lda);
            for (lapack_int j = i; j < i + nb; j++) {
                a[j + (size_t)j * lda] = sigma[j];
                a[j + (size_t)(j + 1) * lda] = e[j];
            }
        }
        lapack_int mr = rows - i, nr = cols - i;
        dgebd2_(&mr, &nr, a + i + (size_t)i * lda, &lda, sigma + i, e + i, tauq + i, taup + i,
                w2, &info);
        if (info < 0)
            lapack_bug("dgebd2", info);
    }
    dlasq1_(&k, sigma, e, rest, &info);
    if (info < 0)
        lapack_bug("dlasq1", info);
    if (info > 0)
        return rw_fail(err, RW_EDATA, "SVD did not converge (dlasq1 info %d)", (int)info);
    return RW_OK;
}

/* The orthogonal path, values only, with ws's buffers (no allocation once
 * ws has grown); a (row-major m x n) is overwritten. */
static rw_status svd_gesdd(double *a, int64_t m, int64_t n, double *sigma, rw_svd_ws *ws,
                           rw_err *err)
{
    rw_status st = ws_reserve_gesdd(ws, m, n, err);
    if (st != RW_OK)
        return st;
    lapack_int info;
    if (qr_first(m, n)) {
        /* Column-major A = W^T is n x m, tall: A = QR, R m x m upper
         * triangular with W's singular values. */
        lapack_int k = (lapack_int)m, rows = (lapack_int)n;
        double *tau = ws->work, *r = ws->gram;
        info = LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, rows, k, a, rows, tau, ws->work + k,
                                   (lapack_int)(ws->work_cap - (size_t)k));
        if (info < 0)
            lapack_bug("dgeqrf", info);
        for (lapack_int j = 0; j < k; j++)
            for (lapack_int i = 0; i < k; i++)
                r[i + (size_t)j * k] = i <= j ? a[i + (size_t)j * rows] : 0;
        return svd_bidiag(r, k, k, k, sigma, ws->work + k, ws->work_cap - (size_t)k, err);
    }
    if (n >= m) /* Row-major m x n is column-major n x m (W^T): same singular values. */
        return svd_bidiag(a, (lapack_int)n, (lapack_int)m, (lapack_int)n, sigma, ws->work,
                          ws->work_cap, err);
    /* Tall W, W^T wide: dgesdd (its LQ-first path when it pays). */
    info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'N', (lapack_int)n, (lapack_int)m, a,
                               (lapack_int)n, sigma, NULL, 1, NULL, 1, ws->work,
                               (lapack_int)ws->work_cap, ws->iwork);
    if (info < 0)
        lapack_bug("dgesdd", info);
    if (info > 0)
        return rw_fail(err, RW_EDATA, "SVD did not converge (dgesdd info %d)", (int)info);
    return RW_OK;
}

/* The Gram matrix of a (row-major m x n, not modified) into ws->gram. */
static rw_status form_gram(const double *a, int64_t m, int64_t n, rw_svd_ws *ws, rw_err *err)
{
    int64_t k = m < n ? m : n, len = m < n ? n : m;
    rw_status st = ws_reserve_gram(ws, k, err);
    if (st != RW_OK)
        return st;
    /* a is column-major A = W^T, n x m with lda n. m >= n: G = W^T W = A A^T;
     * m < n: G = W W^T = A^T A. Either way k x k, lower triangle. */
    cblas_dsyrk(CblasColMajor, CblasLower, m >= n ? CblasNoTrans : CblasTrans, (int)k, (int)len,
                1.0, a, (int)n, 0.0, ws->gram, (int)k);
    return RW_OK;
}

/* Tridiagonal reduction of the k x k symmetric matrix a (lower triangle,
 * column-major, overwritten): diagonal into d, subdiagonal into e. */
static void sytrd_lower(lapack_int k, double *a, double *d, double *e, double *work,
                        size_t lwork, bool two_stage)
{
    double *tau = work, *rest = work + k;
    lapack_int info = 0, nb = TRD_NB;
    if (two_stage) {
        lapack_int lh = 0, lw = 0;
        trd2_sizes(k, &lh, &lw);
        dsytrd_2stage_("N", "L", &k, a, &k, d, e, tau, rest, &lh, rest + lh, &lw, &info, 1, 1);
        if (info < 0)
            lapack_bug("dsytrd_2stage", info);
        return;
    }
    if (k > TRD_OWN_MAX) {
        info = LAPACKE_dsytrd_work(LAPACK_COL_MAJOR, 'L', k, a, k, d, e, tau, rest,
                                   (lapack_int)(lwork - (size_t)k));
        if (info < 0)
            lapack_bug("dsytrd", info);
        return;
    }
    lapack_int i = 0;
    for (; i < k - nb; i += nb) {
        lapack_int nn = k - i, nr = k - i - nb;
        double *aii = a + i + (size_t)i * k;
        dlatrd_("L", &nn, &nb, aii, &k, e + i, tau + i, rest, &nn, 1);
        /* A22 -= V W^T + W V^T */
        cblas_dsyr2k(CblasColMajor, CblasLower, CblasNoTrans, nr, nb, -1.0, aii + nb, k,
                     rest + nb, nn, 1.0, aii + nb + (size_t)nb * k, k);
        for (lapack_int j = i; j < i + nb; j++) {
            a[(j + 1) + (size_t)j * k] = e[j];
            d[j] = a[j + (size_t)j * k];
        }
    }
    lapack_int nn = k - i;
    dsytd2_("L", &nn, a + i + (size_t)i * k, &k, d + i, e + i, tau + i, &info, 1);
    if (info < 0)
        lapack_bug("dsytd2", info);
}

/* The eigenvalues of the Gram matrix in ws->gram (dsyev's way without its
 * scaling, see above) into sigma (descending); *bound gets the error bound
 * of the comment above (inf if dsterf did not converge). With keep (2k
 * doubles), also the tridiagonal matrix T (diagonal, then subdiagonal) and
 * *lam_min, the smallest eigenvalue, for refine_sigma_min; ws->gram and the
 * k values of ws->work from k on then hold dsytrd's reflectors. */
static void gram_eig(int64_t k, double delta, double *sigma, rw_svd_ws *ws, double *bound,
                     double *keep, double *lam_min, double *lam, bool two_stage)
{
    double *e = ws->work;
    sytrd_lower((lapack_int)k, ws->gram, sigma, e, ws->work + k, ws->work_cap - (size_t)k,
                two_stage);
    if (keep) {
        memcpy(keep, sigma, (size_t)k * sizeof *keep);
        memcpy(keep + k, e, (size_t)(k - 1) * sizeof *keep);
    }
    lapack_int info = LAPACKE_dsterf_work((lapack_int)k, sigma, e);
    if (info < 0)
        lapack_bug("dsterf", info);
    if (info > 0) {
        /* Not converged: leave it to dgesdd. */
        *bound = INFINITY;
        return;
    }
    if (lam_min)
        *lam_min = sigma[0];
    if (lam)
        memcpy(lam, sigma, (size_t)k * sizeof *lam);
    /* Ascending eigenvalues to descending singular values. */
    for (int64_t i = 0, j = k - 1; i < j; i++, j--) {
        double t = sigma[i];
        sigma[i] = sigma[j];
        sigma[j] = t;
    }
    for (int64_t i = 0; i < k; i++)
        sigma[i] = sqrt(sigma[i] > 0 ? sigma[i] : 0);
    *bound = rw_gram_bound(sigma[k - 1], sigma[0], delta);
}

/* ------------------------------------------- sigma_min to rel of itself
 *
 * The Gram result knows sigma_k only to delta / sigma_k, too coarse for
 * the relative requirement once sigma_k / F falls below about
 * sqrt(d / rel) (0.01 for 96 x 96): every square matrix of the pico runs.
 * Instead of the orthogonal path for all k values, sigma_k alone is
 * recomputed from W itself, at O(kL) cost:
 *
 *   1. x: the eigenvector of T for its smallest eigenvalue (dstein, inverse
 *      iteration), taken back to G's basis with dsytrd's reflectors
 *      (dormtr): an approximate right singular vector of B, where B = W
 *      (G = W^T W) or W^T (G = W W^T), L x k;
 *   2. y = B x / rho^, rho^ = ||B x||, and the residual of z = (y; x) for
 *      the symmetric H = [0 B; B^T 0], whose eigenvalues are +-sigma_i and
 *      L - k zeros: r = H z - rho^ z = (B x - rho^ y; B^T y - rho^ x);
 *   3. rho, the Rayleigh quotient z^T H z / z^T z = rho^ + z^T r / z^T z,
 *      and eps = ||H z - rho z|| / ||z|| <= ||r|| / ||z|| (the Rayleigh
 *      quotient minimises the residual);
 *   4. Kato-Temple (Parlett, The Symmetric Eigenvalue Problem, 10.6): when
 *      (alpha, beta) holds rho and exactly one eigenvalue mu of H,
 *        rho - eps^2 / (beta - rho) <= mu <= rho + eps^2 / (rho - alpha).
 *      Here alpha = 0 (the zeros and the -sigma_i lie at or below it) and
 *      beta = sigma^_{k-1} - b_{k-1}, a lower bound of sigma_{k-1} by the
 *      Gram bound. An eigenvalue lies in (0, beta) at all if eps^2 <
 *      rho (beta - rho) (the same identity with no eigenvalue inside gives
 *      eps^2 >= (rho - alpha)(beta - rho)), and it can only be sigma_k.
 *
 * The error is then quadratic in the eigenvector's: eps^2 / gap. What
 * remains linear is rounding, bounded as in the comment at the top with
 * gamma_n: computing B x and B^T y (gamma_k, gamma_L times ||B||_F and the
 * vector's norm), the subtractions (gamma_2), the dot product z^T r and the
 * norms; every term is taken on the unfavourable side, and the result is
 * accepted with a factor 2 to spare for the rounding of the bound itself.
 * About (L + k) u F in all: for 96 x 96 that resolves sigma_k to 2e-10 of
 * itself down to sigma_k ~ F / 2500 by this estimate (F / 5500 measured),
 * where the Gram result alone stops at F / 100. Below, or when sigma_k and sigma_{k-1} are too close for the
 * Gram bound to separate them, the orthogonal path, as before.
 *
 * It refines sigma_k only; the others keep the Gram result's contract. So
 * that cond_rank and num_rank are those of dgesdd too, it is only used when
 * sigma_k lies clearly above num_rank's threshold sigma_1 L eps(dtype): all
 * k values count, and cond_rank = cond. */
/* The refined sigma_k into *sk and its error bound into *bk, or false.
 * a: the row-major m x n matrix (unmodified since the Gram matrix); sigma:
 * the Gram result (descending); t: T's diagonal and subdiagonal (gram_eig's
 * keep), lam_min its smallest eigenvalue; delta, f_hi: as in
 * rw_svd_values_acc. */
static bool refine_sigma_min(const double *a, int64_t m, int64_t n, const double *sigma,
                             const double *t, double lam_min, double delta, double f_hi,
                             rw_svd_ws *ws, double *sk, double *bk)
{
    const double u = DBL_EPSILON / 2;
    int64_t k = m < n ? m : n, len = m < n ? n : m;
    lapack_int kk = (lapack_int)k, ll = (lapack_int)len;
    double *x = ws->vec + 2 * k, *p = x + k, *y = p + len, *r1 = y + len, *q = r1 + len,
           *r2 = q + k, *wk = r2 + k; /* wk: 5k */
    lapack_int *iblock = ws->iwork, *isplit = iblock + k, *iw = isplit + k, ifail = 0;
    if (k < 2)
        return false;

    /* 1. x. */
    iblock[0] = 1;
    isplit[0] = kk;
    lapack_int info = LAPACKE_dstein_work(LAPACK_COL_MAJOR, kk, t, t + k, 1, &lam_min, iblock,
                                          isplit, x, kk, wk, iw, &ifail);
    if (info < 0)
        lapack_bug("dstein", info);
    if (info > 0)
        return false;
    info = LAPACKE_dormtr_work(LAPACK_COL_MAJOR, 'L', 'L', 'N', kk, 1, ws->gram, kk,
                               ws->work + k, x, kk, wk, 5 * kk);
    if (info < 0)
        lapack_bug("dormtr", info);
    double nx = cblas_dnrm2(kk, x, 1);
    if (!(nx > 0))
        return false;
    cblas_dscal(kk, 1 / nx, x, 1);

    /* 2. B x, y, B^T y and the residual. The row-major W is the column-major
     * n x m A = W^T: B x = A^T x when B = W (m >= n), A x when B = W^T. */
    CBLAS_TRANSPOSE tb = m >= n ? CblasTrans : CblasNoTrans;
    CBLAS_TRANSPOSE tbt = m >= n ? CblasNoTrans : CblasTrans;
    cblas_dgemv(CblasColMajor, tb, (int)n, (int)m, 1.0, a, (int)n, x, 1, 0.0, p, 1);
    double rho_hat = cblas_dnrm2(ll, p, 1);
    if (!(rho_hat > 0))
        return false;
    for (int64_t i = 0; i < len; i++)
        y[i] = p[i] / rho_hat;
    cblas_dgemv(CblasColMajor, tbt, (int)n, (int)m, 1.0, a, (int)n, y, 1, 0.0, q, 1);
    for (int64_t i = 0; i < len; i++)
        r1[i] = p[i] - rho_hat * y[i];
    for (int64_t i = 0; i < k; i++)
        r2[i] = q[i] - rho_hat * x[i];

    /* 3. Norms, each widened by its own rounding (at most gamma_{N+2}
     * relative, doubled), the Rayleigh quotient and eps. */
    double gk = rw_gamma_n((double)k + 2), gl = rw_gamma_n((double)len + 2);
    double nxh = cblas_dnrm2(kk, x, 1) * (1 + 2 * gk), nyh = cblas_dnrm2(ll, y, 1) * (1 + 2 * gl);
    double nxl = nxh / (1 + 2 * gk) * (1 - 2 * gk), nyl = nyh / (1 + 2 * gl) * (1 - 2 * gl);
    double nph = rho_hat * (1 + 2 * gl), nqh = cblas_dnrm2(kk, q, 1) * (1 + 2 * gk);
    double nr1 = cblas_dnrm2(ll, r1, 1) * (1 + 2 * gl), nr2 = cblas_dnrm2(kk, r2, 1) * (1 + 2 * gk);
    double nrh = sqrt(nr1 * nr1 + nr2 * nr2) * (1 + 4 * u);
    /* ||r - r^||: the products (gamma_k ||B||_F ||x||, gamma_L ||B||_F ||y||)
     * and the subtractions a - rho^ b (gamma_2 (|a| + rho^ |b|)). */
    double er = (rw_gamma_n((double)k) * nxh + rw_gamma_n((double)len) * nyh) * f_hi +
                rw_gamma_n(2) * (nph + rho_hat * nyh + nqh + rho_hat * nxh);
    er *= 1 + 8 * u;
    double zz_lo = (nxl * nxl + nyl * nyl) * (1 - 4 * u), nz_lo = sqrt(zz_lo) * (1 - u);
    double nz_hi = sqrt((nxh * nxh + nyh * nyh) * (1 + 4 * u)) * (1 + u);
    double c = cblas_ddot(ll, y, 1, r1, 1) + cblas_ddot(kk, x, 1, r2, 1);
    double zz = cblas_ddot(kk, x, 1, x, 1) + cblas_ddot(ll, y, 1, y, 1);
    double rho = rho_hat + c / zz;
    /* |rho_exact - rho|: z^T (r - r^) and the dot product's rounding over
     * |z|^T |r^| <= ||z|| ||r^||, the division by z^T z rounded (gamma_{L+k+1}
     * relative), the sum. */
    double g_z = rw_gamma_n((double)(len + k) + 1);
    double eta = (g_z * nz_hi * nrh + nz_hi * er + 2 * g_z * fabs(c)) / zz_lo + 2 * u * fabs(rho);
    double eps = (nrh + er) / nz_lo;

    /* 4. Kato-Temple on (0, beta), for every rho_exact in [rho - eta, rho + eta]. */
    double s1 = sigma[k - 2];
    double beta = s1 - rw_gram_bound(s1, sigma[0], delta);
    double lo = rho - eta, hi = rho + eta, e2 = eps * eps;
    if (!(lo > 0 && hi < beta && e2 < lo * (beta - lo) && e2 < hi * (beta - hi)))
        return false;
    *sk = rho;
    *bk = (eta + e2 * fmax(1 / (beta - hi), 1 / lo)) * (1 + 64 * u);
    return true;
}

rw_status rw_svd_values_dt(double *a, int64_t m, int64_t n, rw_dtype dtype, double *sigma,
                           rw_svd_ws *ws, rw_svd_info *info, rw_err *err)
{
    return rw_svd_values_acc(a, m, n, dtype, 0, sigma, ws, info, err);
}

rw_status rw_svd_values_acc(double *a, int64_t m, int64_t n, rw_dtype dtype, double rel,
                            double *sigma, rw_svd_ws *ws, rw_svd_info *info, rw_err *err)
{
    rw_svd_info dummy;
    if (!info)
        info = &dummy;
    *info = (rw_svd_info){RW_SVD_NONE, NAN};
    int64_t k = m < n ? m : n, len = m < n ? n : m;
    if (k <= 0)
        return RW_OK;
    rw_status st = check_lapack_dims(m, n, err);
    if (st != RW_OK)
        return st;

    /* One pass for max |w| and the sum of squares, four partial sums to keep
     * the adds' latency off the critical path (any order obeys the same
     * error bound). A NaN or Inf makes the sum non-finite; so may overflow,
     * hence the exact check only then. */
    size_t numel = (size_t)m * (size_t)n, i = 0;
    double mx[4] = {0, 0, 0, 0}, sq[4] = {0, 0, 0, 0};
    for (; i + 4 <= numel; i += 4)
        for (int j = 0; j < 4; j++) {
            double x = fabs(a[i + j]);
            mx[j] = x > mx[j] ? x : mx[j];
            sq[j] += x * x;
        }
    for (; i < numel; i++) {
        double x = fabs(a[i]);
        mx[0] = x > mx[0] ? x : mx[0];
        sq[0] += x * x;
    }
    double amax = fmax(fmax(mx[0], mx[1]), fmax(mx[2], mx[3]));
    double ss = (sq[0] + sq[1]) + (sq[2] + sq[3]);
    if (!isfinite(ss) && (st = check_finite(a, m, n, sigma, err)) != RW_OK)
        return st;
    if (amax == 0) {
        for (int64_t j = 0; j < k; j++)
            sigma[j] = 0;
        info->method = RW_SVD_ZERO;
        return RW_OK;
    }

    rw_svd_ws *own = NULL;
    if (!ws && !(ws = own = rw_svd_ws_new()))
        return rw_fail(err, RW_ENOMEM, "out of memory");

    const double u = DBL_EPSILON / 2, budget = 0.5 * rw_svd_tolerance(dtype);
    /* F^2 within [ss / (1 + g), ss / (1 - g)], g = gamma_{mn}. */
    double g_mn = rw_gamma_n((double)numel), gam = rw_gamma_n((double)len);
    double d = gam + (double)k * u * (1 + gam); /* delta / F^2 */
    double f2_hi = ss / (1 - g_mn), f_lo = sqrt(ss / (1 + g_mn));
    double floor_rel = fmin(sqrt(d), d * sqrt((double)k));
    bool gram_ok = amax >= 0x1p-200 && amax <= 0x1p200 && g_mn < 0.5 && floor_rel <= budget;
    if (gram_ok) {
        double bound = INFINITY, delta = d * f2_hi, lam_min = 0, *keep = NULL, *lam = NULL;
        bool block = k >= RW_BLOCK_MIN_K;
        bool two_stage = k >= TRD_2STAGE_MIN && rel <= 0 && openblas_get_num_threads() == 1;
        if ((st = form_gram(a, m, n, ws, err)) != RW_OK)
            goto done;
        if (rel > 0 || block) {
            if ((st = ws_reserve_refine(ws, k, len, err)) != RW_OK)
                goto done;
            keep = ws->vec;
            lam = ws->vec + 10 * k + 3 * len;
        }
        gram_eig(k, delta, sigma, ws, &bound, keep, &lam_min, lam, two_stage);
        double s1 = sigma[0], b1 = rw_gram_bound(s1, s1, delta);
        double rank_tol = (s1 + b1) * (double)len * rw_dtype_eps(dtype);
        if (bound <= budget * f_lo) {
            /* rel > 0: sigma_min too must be known to rel of itself. The
             * bound b(s) divided by s decreases with s, so when sigma_min
             * passes, every value does. */
            double smin = sigma[k - 1], sk, bk;
            if (rel <= 0 || (smin > 0 && rw_gram_bound(smin, s1, delta) <= rel * smin)) {
                *info = (rw_svd_info){RW_SVD_GRAM, bound};
                goto done;
            }
            /* Otherwise sigma_k from W itself (refine_sigma_min), if it
             * reaches rel, lies clearly above num_rank's threshold, and
             * sigma_1 passes on its own (it nearly always does: its
             * relative bound is at most d k). */
            if (!two_stage && b1 <= rel * s1 &&
                refine_sigma_min(a, m, n, sigma, keep, lam_min, delta, sqrt(f2_hi), ws, &sk,
                                 &bk) &&
                2 * bk <= rel * (sk - bk) && sk - bk > 2 * rank_tol &&
                fmax(bound, bk) <= budget * f_lo) {
                sigma[k - 1] = sk;
                *info = (rw_svd_info){RW_SVD_GRAM_REFINED, fmax(bound, bk)};
                goto done;
            }
        }
        /* Large matrices: the failing bottom values (or sigma_min alone)
         * recomputed from W (svd_block.c). */
        if (block && isfinite(bound)) {
            /* num_rank's threshold for a matrix analysed as itself is
             * max(u(dtype) ||W||_F, sigma_1 L 2^-52) (metrics.c): a square
             * random matrix's sigma_min lies above it, though below the
             * sigma_1 L eps(dtype) refine_sigma_min asks for. */
            double tol_b = fmax(0.5 * rw_dtype_eps(dtype) * sqrt(f2_hi),
                                (s1 + b1) * (double)len * DBL_EPSILON) *
                           (1 + 8 * u);
            rw_block_in in = {a, m, n, sigma, delta, sqrt(f2_hi), budget * f_lo, rel, tol_b,
                              two_stage ? NULL : keep, lam, two_stage ? NULL : ws->gram,
                              two_stage ? NULL : ws->work + k, ws->gram};
            double bb;
            if (rw_svd_block(&in, &bb)) {
                *info = (rw_svd_info){RW_SVD_GRAM_BLOCK, bb};
                goto done;
            }
        }
    }
    info->method = gram_ok ? RW_SVD_GESDD_FALLBACK : RW_SVD_GESDD;
    st = svd_gesdd(a, m, n, sigma, ws, err);
done:
    rw_svd_ws_free(own);
    return st;
}
