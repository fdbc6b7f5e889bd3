/*
 * svd_block.c — the bottom singular values of a large matrix from W itself
 * (svd_block.h), where the Gram result (spectral.c) cannot resolve them.
 *
 * Why. The Gram result knows sigma_i to b_i = min(delta / sigma_i,
 * sqrt(delta)), delta ~ (L + k) u F^2 (F = ||W||_F, u = 2^-53). For a large
 * square matrix the few smallest values fail the contract (at 4096 x 4096
 * float32, those below ~1.5e-5 F, while a random square matrix has
 * sigma_min ~ n^-1.5 F ~ 4e-6 F), and sigma_min's relative requirement
 * fails on most large shapes. Redoing all k values on the orthogonal path
 * costs 4-6x the Gram work; here only a bottom block of q values is
 * recomputed, at O(k^2 q) plus one LU of W for square W.
 *
 * Notation: B = W (m >= n) or W^T (m < n), L x k; H = [0 B; B^T 0], whose
 * eigenvalues are +-sigma_i and L - k zeros. s^_i: the Gram values,
 * descending; lower(i) = s^_i - b_i, upper(i) = s^_i + b_i bound sigma_i.
 *
 *   1. The block. p0 = the number of bottom values whose b_i exceeds the
 *      contract's budget (at least 1 when only sigma_min's relative
 *      requirement failed); q >= p0 the smallest with lower(k-q-1) >
 *      upper(k-q) (0-based, descending), so that beta_G = lower(k-q-1)
 *      separates the bottom q from the rest; q <= QMAX.
 *   2. Vectors. Square W: LU of W with partial pivoting (dgetrf, 2/3 k^3),
 *      then block inverse iteration on B^T B from a fixed pseudo-random
 *      start, b = 2q + 6 vectors (two triangular solve pairs per step,
 *      orthonormalized, Rayleigh-Ritz after each step), until the double
 *      residual estimates of the bottom q reach their targets or stagnate.
 *      The LU is backward stable for W, not for W^T W, so the vectors'
 *      accuracy is set by sigma gaps (k u ||W|| / gap), where the Gram's
 *      eigenvectors are set by lambda gaps (delta / (2 sigma gap)) and are
 *      useless at the bottom of a large square matrix. Otherwise: the Gram
 *      eigenvectors (dstein on T, dormtr back), no iteration.
 *      Rayleigh-Ritz: P = B X, its SVD P = U S V^T; X <- X V, Y = U,
 *      theta = S (ascending below).
 *   3. Residuals against W in compensated arithmetic: P = B X, then
 *      theta_j = ||p_j||, y_j = p_j / theta_j (so R1 = B X - Y Theta is
 *      bounded by P's error and the division's rounding, not computed), and
 *        R2 = B^T Y - X Theta,
 *      each entry a dot product computed with error-free transformations
 *      (TwoProduct by Veltkamp/Dekker splitting, TwoSum; Ogita, Rump and
 *      Oishi, "Accurate sum and dot product", 2005: Dot2). Its error, for
 *      any order of the TwoSums and of the error terms' sum (the derivation
 *      at comp_bound): |res - exact| <= u |exact| + 3 gamma_2N^2 sum|t|,
 *      N terms t. The second term is ~1e-25 F at N = 4096: the rounding
 *      floor (L + k) u F of a residual computed in double (which sets
 *      refine_sigma_min's limit in spectral.c) is gone; what remains is
 *      u relative to the residual itself. Only +, -, * (no contraction into
 *      FMA: -std=c11 makes GCC keep them apart, clang is told below), and
 *      FLT_EVAL_METHOD must be 0 (else no block path).
 *   4. Kahan's theorem (Parlett, The Symmetric Eigenvalue Problem, 11.5.1):
 *      for Q with orthonormal columns and any symmetric C there are
 *      eigenvalues alpha_j of H, distinct indices, with |alpha_j - theta_j|
 *      <= ||H Q - Q C||_2. With Z = [Y; X] / sqrt 2 (q columns), M = Z^T Z,
 *      ||M - I||_2 <= omega < 1/2, Q = Z M^-1/2 = Z (I + F) and C = Theta:
 *        H Q - Q Theta = R M^-1/2 + Z (Theta F - F Theta),
 *        R = H Z - Z Theta = [R1; R2] / sqrt 2,
 *      so r = ||R||_F / sqrt(1 - omega) + sqrt(1 + omega) 2 theta_max phi,
 *      phi = 1 / sqrt(1 - omega) - 1, bounds it. Sorted matching keeps
 *      max |alpha_j - theta_j| <= r. When theta_1 - r > 0 the alpha_j are
 *      positive, so singular values; when theta_q + r < beta_G they are
 *      below every sigma_i with i outside the bottom q (sigma_i >= lower(i)
 *      >= beta_G), so they are exactly the bottom q: sigma_(j) (ascending)
 *      within r of theta_j. Accepted when r is within the budget.
 *   5. sigma_1 to rel where its Gram bound is not: the Gram eigenvector of
 *      lambda_max, compensated residual, Kato-Temple on (upper(2), inf).
 *      sigma_min to rel: r, or Kato-Temple (spectral.c, refine_sigma_min)
 *      on (0, beta) for the bottom Ritz pair with its compensated residual,
 *      beta = theta_2 - r (q >= 2) or beta_G (q = 1): quadratic in the
 *      residual; or Kato-Temple's lower side with Courant-Fischer's upper
 *      one (sigma_min <= ||B x|| / ||x||). The smallest bound is taken; it must be within rel / 2 and
 *      sigma_min clearly above num_rank's threshold, as in spectral.c.
 *
 * The other values keep the Gram bounds; every bound is taken on the
 * unfavourable side and inflated for its own rounding. Any failed
 * condition: false, and spectral.c takes the orthogonal path.
 */
#include "analyzers/core/svd_block.h"

#include <cblas.h>
#include <lapacke.h>
#include <stdlib.h>
#include <string.h>

#ifdef __clang__
#pragma STDC FP_CONTRACT OFF
#endif

#define QMAX 32
#define MAXIT 40

// ----------------------------------------------------------------------------
// compensated products

/* Veltkamp's split: x = hi + lo exactly, hi with 26 significant bits, lo
 * with 26 (|x| < 2^996: spectral.c keeps max|w| <= 2^200 and the vectors
 * are unit). */
static inline void split(double x, double *hi, double *lo)
{
    double c = 134217729.0 * x; /* 2^27 + 1 */
    *hi = c - (c - x);
    *lo = x - *hi;
}

/* s + c += a * b, with a split here and b given split: TwoProduct (Dekker)
 * and TwoSum (Knuth), the rounding errors of both into c. */
static inline void acc2(double *s, double *c, double a, double b, double bh, double bl)
{
    double ah, al;
    split(a, &ah, &al);
    double h = a * b;
    double e = al * bl - (((h - ah * bh) - al * bh) - ah * bl);
    double t = *s + h, bb = t - *s;
    *c += ((*s - (t - bb)) + (h - bb)) + e;
    *s = t;
}

/* (s, c) <- (s, c) + (s2, c2), the high parts by TwoSum. */
static inline void merge(double *s, double *c, double s2, double c2)
{
    double t = *s + s2, bb = t - *s;
    *c += ((*s - (t - bb)) + (s2 - bb)) + c2;
    *s = t;
}

/* out[i + j rows] = sum_l a[i][l] v[l + j cols] - theta_j z[i + j rows]
 * (a row-major rows x cols; v, z, out column-major), compensated; vh, vl:
 * cols doubles of scratch. */
static void comp_rowdot(const double *a, int64_t rows, int64_t cols, const double *v,
                        const double *z, const double *theta, int q, double *out, double *vh,
                        double *vl)
{
    for (int j = 0; j < q; j++) {
        const double *vj = v + (size_t)j * cols;
        for (int64_t l = 0; l < cols; l++)
            split(vj[l], vh + l, vl + l);
        double th = 0, tl = 0;
        if (z)
            split(-theta[j], &th, &tl);
        for (int64_t i = 0; i < rows; i++) {
            const double *ai = a + (size_t)i * cols;
            double s[4] = {0, 0, 0, 0}, c[4] = {0, 0, 0, 0};
            int64_t l = 0;
            for (; l + 4 <= cols; l += 4)
                for (int t = 0; t < 4; t++)
                    acc2(s + t, c + t, ai[l + t], vj[l + t], vh[l + t], vl[l + t]);
            for (; l < cols; l++)
                acc2(s, c, ai[l], vj[l], vh[l], vl[l]);
            if (z)
                acc2(s, c, z[i + (size_t)j * rows], -theta[j], th, tl);
            merge(s, c, s[1], c[1]);
            merge(s + 2, c + 2, s[3], c[3]);
            merge(s, c, s[2], c[2]);
            out[i + (size_t)j * rows] = s[0] + c[0];
        }
    }
}

/* out[l + j cols] = sum_i a[i][l] v[i + j rows] - theta_j z[l + j cols],
 * compensated; s, c: cols doubles of scratch. Each output's terms are
 * added in order of i. */
static void comp_coldot(const double *restrict a, int64_t rows, int64_t cols, const double *v,
                        const double *z, const double *theta, int q, double *out,
                        double *restrict s, double *restrict c)
{
    for (int j = 0; j < q; j++) {
        const double *vj = v + (size_t)j * rows;
        memset(s, 0, (size_t)cols * sizeof *s);
        memset(c, 0, (size_t)cols * sizeof *c);
        for (int64_t i = 0; i < rows; i++) {
            double y = vj[i], yh, yl;
            if (y == 0)
                continue;
            split(y, &yh, &yl);
            const double *ai = a + (size_t)i * cols;
            int64_t l = 0;
            for (; l + 4 <= cols; l += 4)
                for (int t = 0; t < 4; t++)
                    acc2(s + l + t, c + l + t, ai[l + t], y, yh, yl);
            for (; l < cols; l++)
                acc2(s + l, c + l, ai[l], y, yh, yl);
        }
        double th = 0, tl = 0;
        if (z)
            split(-theta[j], &th, &tl);
        for (int64_t l = 0; l < cols; l++) {
            double sl = s[l], cl = c[l];
            if (z)
                acc2(&sl, &cl, z[l + (size_t)j * cols], -theta[j], th, tl);
            out[l + (size_t)j * cols] = sl + cl;
        }
    }
}

/* The bound on ||res - exact||_2 for a column of nt-term compensated dot
 * products whose computed column has norm nres and whose terms' absolute
 * values sum, row by row, to a vector of norm at most tabs. Derivation:
 * the exact terms are h + e (TwoProduct, exact without underflow); the
 * TwoSums leave sum h = P + sum qk exactly, and sum |qk| <= gamma_N sum|h|
 * in any order (each |qk| <= u |partial sum|); the qk and e are summed in
 * double, error <= gamma_2N (sum|qk| + sum|e|) <= gamma_2N gamma_N... so
 * |P + C - exact| <= 2 gamma_2N^2 sum|t| and the last addition adds
 * u |P + C|: |res - exact| <= u |exact| + 3 gamma_2N^2 sum|t|. Underflow
 * can make a TwoProduct inexact by a few 2^-1074: 8 per term, per entry.
 * By the triangle inequality over the column, |exact| <= |res| + error. */
static double comp_bound(double nres, double tabs, int64_t nt, int64_t rows)
{
    const double u = DBL_EPSILON / 2;
    double g = rw_gamma_n(2 * (double)nt);
    double tiny = 8 * (double)nt * DBL_TRUE_MIN * sqrt((double)rows);
    return (u * nres + 3 * g * g * tabs + tiny) / (1 - u) * (1 + 4 * u);
}

// ----------------------------------------------------------------------------
// products with B in double, Rayleigh-Ritz

typedef struct {
    const rw_block_in *in;
    int64_t k, len;
} blk;

/* p = B x (len x b), x k x b, column-major. The row-major W is the
 * column-major n x m A = W^T: B = A^T (m >= n) or A. */
static void mul_b(const blk *g, const double *x, int b, double *p)
{
    const rw_block_in *in = g->in;
    int m = (int)in->m, n = (int)in->n;
    if (m >= n)
        cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, m, b, n, 1.0, in->a, n, x, n, 0.0,
                    p, m);
    else
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, b, m, 1.0, in->a, n, x, m,
                    0.0, p, n);
}

/* q = B^T y (k x b), y len x b. */
static void mul_bt(const blk *g, const double *y, int b, double *q)
{
    const rw_block_in *in = g->in;
    int m = (int)in->m, n = (int)in->n;
    if (m >= n)
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, b, m, 1.0, in->a, n, y, m,
                    0.0, q, n);
    else
        cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, m, b, n, 1.0, in->a, n, y, n, 0.0,
                    q, m);
}

/* Rayleigh-Ritz on span(x) (k x b, orthonormal): x <- the right Ritz
 * vectors, y (len x b) the left ones, theta ascending; x, y columns in the
 * same order. p: len x b, u: len x b, vt: b x b, tmp: k x b of scratch. */
static bool ritz(const blk *g, double *x, int b, double *y, double *theta, double *p,
                 double *vt, double *tmp, double *s)
{
    int64_t k = g->k, len = g->len;
    mul_b(g, x, b, p);
    lapack_int info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'S', (lapack_int)len, b, p,
                                     (lapack_int)len, s, tmp, (lapack_int)len, vt, b);
    if (info != 0)
        return false;
    /* The left vectors are in tmp (len x b): reversed into y; x V into p's
     * first k x b, reversed into x. */
    for (int j = 0; j < b; j++) {
        memcpy(y + (size_t)j * len, tmp + (size_t)(b - 1 - j) * len, (size_t)len * sizeof *y);
        theta[j] = s[b - 1 - j];
    }
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, (int)k, b, b, 1.0, x, (int)k, vt, b,
                0.0, p, (int)k);
    for (int j = 0; j < b; j++)
        memcpy(x + (size_t)j * k, p + (size_t)(b - 1 - j) * k, (size_t)k * sizeof *x);
    return true;
}

/* Orthonormal columns for x (rows x b) by Householder QR. */
static bool orthonormalize(double *x, int64_t rows, int b, double *tau)
{
    if (LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (lapack_int)rows, b, x, (lapack_int)rows, tau) != 0)
        return false;
    return LAPACKE_dorgqr(LAPACK_COL_MAJOR, (lapack_int)rows, b, b, x, (lapack_int)rows, tau) ==
           0;
}

/* An upper bound of ||X^T X - I||_F for x (rows x q): the computed
 * product's norm plus its rounding, gamma_rows ||x_i|| ||x_j|| per entry. */
static double orth_defect(const double *x, int64_t rows, int q, double *gram)
{
    const double u = DBL_EPSILON / 2;
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, q, q, (int)rows, 1.0, x, (int)rows, x,
                (int)rows, 0.0, gram, q);
    double nmax = 0, ss = 0;
    for (int j = 0; j < q; j++)
        nmax = fmax(nmax, cblas_dnrm2((int)rows, x + (size_t)j * rows, 1));
    nmax *= 1 + 2 * rw_gamma_n((double)rows + 2);
    for (int j = 0; j < q; j++)
        for (int i = 0; i < q; i++) {
            double d = gram[i + (size_t)j * q] - (i == j);
            ss += d * d;
        }
    return (sqrt(ss) * (1 + 2 * rw_gamma_n((double)q * q + 2)) +
            (double)q * (rw_gamma_n((double)rows) * nmax * nmax + u)) *
           (1 + 4 * u);
}

// ----------------------------------------------------------------------------
// the block

/* Block inverse iteration for square W (step 2 of the top comment): x
 * (k x b) in, the Ritz vectors and values of the last step out. */
static bool inverse_iteration(const blk *g, double *lu, double *x, int b, int q, double *y,
                              double *theta, double *p, double *vt, double *tmp, double *s,
                              double *r2)
{
    const rw_block_in *in = g->in;
    int64_t k = g->k;
    lapack_int kk = (lapack_int)k, *ipiv = malloc(sizeof(lapack_int) * (size_t)k);
    if (!ipiv)
        return false;
    /* Column-major A = W^T, k x k; G = B^T B = A A^T: (A A^T)^-1 = A^-T A^-1. */
    memcpy(lu, in->a, sizeof(double) * (size_t)k * (size_t)k);
    bool ok = LAPACKE_dgetrf(LAPACK_COL_MAJOR, kk, kk, lu, kk, ipiv) == 0;
    double f_prev = INFINITY;
    for (int it = 0; ok && it < MAXIT; it++) {
        ok = LAPACKE_dgetrs(LAPACK_COL_MAJOR, 'N', kk, b, lu, kk, ipiv, x, kk) == 0 &&
             LAPACKE_dgetrs(LAPACK_COL_MAJOR, 'T', kk, b, lu, kk, ipiv, x, kk) == 0 &&
             orthonormalize(x, k, b, s) && ritz(g, x, b, y, theta, p, vt, tmp, s);
        if (!ok || it < 1)
            continue;
        /* Residual estimates in double, ||B^T y_j - theta_j x_j||, against
         * targets a fifth of what step 4 and 5 need. */
        mul_bt(g, y, q, r2);
        double f = 0;
        for (int j = 0; j < q; j++) {
            cblas_daxpy(kk, -theta[j], x + (size_t)j * k, 1, r2 + (size_t)j * k, 1);
            double e = cblas_dnrm2(kk, r2 + (size_t)j * k, 1), target = 0.1 * in->budget;
            if (j == 0 && in->rel > 0) {
                /* Kato-Temple's bound is eps^2 / min(beta - rho, rho). */
                double gap = b > 1 ? fmin(theta[1] - theta[0], theta[0]) : 0;
                double t5 = fmax(0.2 * in->rel * theta[0],
                                 sqrt(fmax(0.2 * in->rel * theta[0] * gap, 0)));
                target = fmin(target, t5);
            }
            f = fmax(f, e / target);
        }
        if (f <= 1 || (it >= 4 && f > 0.5 * f_prev))
            break;
        f_prev = f;
    }
    free(ipiv);
    return ok;
}

/* Pseudo-random start, fixed seed: the same result on every run. */
static void random_start(double *x, size_t count)
{
    uint64_t st = 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < count; i++) {
        st ^= st >> 12;
        st ^= st << 25;
        st ^= st >> 27;
        x[i] = (double)((st * 0x2545f4914f6cdd1dULL) >> 11) * 0x1p-53 - 0.5;
    }
}

/* The Gram eigenvectors of the b eigenvalues lam (ascending) of T (dstein,
 * dormtr). */
static bool gram_vectors(const blk *g, const double *lam, double *x, int b)
{
    const rw_block_in *in = g->in;
    lapack_int kk = (lapack_int)g->k;
    lapack_int *iw = malloc(sizeof(lapack_int) * (size_t)(3 * kk + b));
    double *w = malloc(sizeof(double) * 5 * (size_t)kk);
    bool ok = iw && w;
    if (ok) {
        lapack_int *iblock = iw, *isplit = iw + kk, *iwork = isplit + kk, *ifail = iwork + kk;
        for (lapack_int i = 0; i < kk; i++)
            iblock[i] = 1;
        isplit[0] = kk;
        ok = LAPACKE_dstein_work(LAPACK_COL_MAJOR, kk, in->t, in->t + kk, b, lam, iblock,
                                 isplit, x, kk, w, iwork, ifail) == 0 &&
             LAPACKE_dormtr(LAPACK_COL_MAJOR, 'L', 'L', 'N', kk, b, in->refl, kk, in->tau, x,
                            kk) == 0;
    }
    free(iw);
    free(w);
    return ok;
}

/* Step 3 for q right vectors x (k x q, ascending Ritz values): the left
 * vectors are recomputed here from the compensated P = B X: theta_j =
 * ||p_j||, y_j = p_j / theta_j (y: len x q, theta: q, out), so that
 * R1 = B X - Y Theta is only (P - P^) + (P^ - Y Theta), bounded without
 * computing it (e1: the product's error and u ||p_j|| for the division and
 * multiplication); R2 = B^T Y - X Theta into r2 (k x q), computed, with
 * column norms n2 and errors e2. s1, s2: max(len, k) doubles each. */
static bool residuals(const blk *g, const double *x, double *y, double *theta, int q,
                      double *r2, double *s1, double *s2, double *e1, double *n2, double *e2)
{
    const rw_block_in *in = g->in;
    const double u = DBL_EPSILON / 2;
    int64_t k = g->k, len = g->len;
    double gl = rw_gamma_n((double)len + 2), gk = rw_gamma_n((double)k + 2);
    if (in->m >= in->n)
        comp_rowdot(in->a, len, k, x, NULL, NULL, q, y, s1, s2);
    else
        comp_coldot(in->a, k, len, x, NULL, NULL, q, y, s1, s2);
    for (int j = 0; j < q; j++) {
        double *yj = y + (size_t)j * len;
        double nx = cblas_dnrm2((int)k, x + (size_t)j * k, 1) * (1 + 2 * gk);
        double np = cblas_dnrm2((int)len, yj, 1);
        if (!(np > 0))
            return false;
        theta[j] = np;
        for (int64_t i = 0; i < len; i++)
            yj[i] /= np;
        np *= 1 + 2 * gl;
        e1[j] = comp_bound(np, in->f_hi * nx, k, len) + 2 * u * np;
    }
    if (in->m >= in->n)
        comp_coldot(in->a, len, k, y, x, theta, q, r2, s1, s2);
    else
        comp_rowdot(in->a, k, len, y, x, theta, q, r2, s1, s2);
    for (int j = 0; j < q; j++) {
        double nx = cblas_dnrm2((int)k, x + (size_t)j * k, 1) * (1 + 2 * gk);
        double ny = cblas_dnrm2((int)len, y + (size_t)j * len, 1) * (1 + 2 * gl);
        n2[j] = cblas_dnrm2((int)k, r2 + (size_t)j * k, 1) * (1 + 2 * gk);
        e2[j] = comp_bound(n2[j], in->f_hi * ny + theta[j] * nx, len + 1, k);
    }
    return true;
}

/* Kato-Temple (Parlett 10.6; spectral.c, refine_sigma_min) for the pair
 * (y; x), theta, with R2 = r2 (norm n2, error e2) and R1 bounded by e1:
 * the Rayleigh quotient rho = theta + z^T r / z^T z, its rounding eta,
 * eps^2 >= ||H z - rho z||^2 / ||z||^2; then, for the one eigenvalue of H in
 * (alpha, beta) (beta may be inf), its bound |mu - rho| into *bound and rho
 * into *val; false when (alpha, beta) is not shown to hold one. */
static bool kato_temple(const blk *g, const double *x, const double *y, double theta,
                        const double *r2, double n2, double e1, double e2, double alpha,
                        double beta, double *val, double *bound, double *lower)
{
    const double u = DBL_EPSILON / 2;
    int64_t k = g->k, len = g->len;
    double e0 = sqrt(e1 * e1 + e2 * e2) * (1 + 2 * u);
    double gz = rw_gamma_n((double)(len + k) + 2);
    double c = cblas_ddot((int)k, x, 1, r2, 1);
    double zz = cblas_ddot((int)len, y, 1, y, 1) + cblas_ddot((int)k, x, 1, x, 1);
    double zz_lo = zz * (1 - 2 * gz), nz_hi = sqrt(zz * (1 + 2 * gz)) * (1 + u);
    double nz_lo = sqrt(zz_lo) * (1 - u);
    double rho = theta + c / zz;
    /* |z^T r - c|: z^T (r - r^) <= ||z|| e0 (y^T R1 in it), the dot
     * product's rounding <= gamma ||x|| n2; the division, the sum. */
    double eta = (nz_hi * e0 + gz * nz_hi * n2 + 2 * gz * fabs(c)) / zz_lo + 2 * u * fabs(rho);
    double eps = (n2 + e0) / nz_lo, ee = eps * eps * (1 + 4 * u);
    double lo = rho - eta, hi = rho + eta;
    if (!(lo > alpha && hi < beta && ee < (lo - alpha) * (beta - lo) &&
          ee < (hi - alpha) * (beta - hi)))
        return false;
    *val = rho;
    *bound = (eta + ee * fmax(1 / (beta - hi), 1 / (lo - alpha))) * (1 + 64 * u);
    /* The lower side alone: mu >= rho - eps^2 / (beta - rho). */
    *lower = (lo - ee / (beta - hi) * (1 + 8 * u)) * (1 - 8 * u);
    return true;
}

/* Steps 3-5 of the top comment on the bottom q right Ritz vectors x
 * (k x q, ascending); y, theta out as in residuals. buf: k q + 2 max(len, k)
 * + q^2 doubles. */
static bool certify(const blk *g, const double *x, double *y, double *theta, int q,
                    double beta_g, double *buf, double *r_out, double *smin, double *bmin)
{
    const rw_block_in *in = g->in;
    const double u = DBL_EPSILON / 2;
    int64_t k = g->k, len = g->len, mx = len > k ? len : k;
    double *r2 = buf, *s1 = r2 + (size_t)k * q, *s2 = s1 + mx, *gq = s2 + mx;
    double e1[QMAX], n2[QMAX], e2[QMAX];
    if (!residuals(g, x, y, theta, q, r2, s1, s2, e1, n2, e2))
        return false;
    /* ts: theta sorted (the norms ||B x_j|| of a cluster's Ritz vectors
     * may come out of order by an ulp; Kahan's theorem holds for any
     * order, the matching below is of sorted values). */
    double rr = 0, ts[QMAX];
    for (int j = 0; j < q; j++) {
        rr += e1[j] * e1[j] + (n2[j] + e2[j]) * (n2[j] + e2[j]);
        int i = j;
        for (; i > 0 && ts[i - 1] > theta[j]; i--)
            ts[i] = ts[i - 1];
        ts[i] = theta[j];
    }
    rr = sqrt(rr * (1 + 2 * (double)q * u) / 2) * (1 + 2 * u);
    double omega = 0.5 * (orth_defect(x, k, q, gq) + orth_defect(y, len, q, gq)) * (1 + 2 * u);
    if (!(omega < 0.5))
        return false;
    double inv = 1 / sqrt(1 - omega) * (1 + 4 * u), phi = inv - 1 + 4 * u;
    double r = (rr * inv + sqrt(1 + omega) * 2 * ts[q - 1] * phi) * (1 + 8 * u);
    /* Step 4's conditions. */
    if (!(ts[0] - r > 0 && ts[q - 1] + r < beta_g && r <= in->budget))
        return false;
    *r_out = r;
    *smin = ts[0];
    *bmin = r;
    /* Step 5: whichever eigenvalue of H lies in (0, beta) is sigma_min,
     * since beta <= sigma_(2). */
    double beta = q > 1 ? fmax(ts[1] - r, 0) : beta_g, v, b, lw;
    if (in->rel > 0 &&
        kato_temple(g, x, y, theta[0], r2, n2[0], e1[0], e2[0], 0, beta, &v, &b, &lw)) {
        if (b < *bmin) {
            *smin = v;
            *bmin = b;
        }
        /* Above: sigma_min^2 <= x^T B^T B x / x^T x (Courant-Fischer), so
         * sigma_min <= ||B x_0|| / ||x_0||, the compensated norm theta_0
         * plus its error, over ||x_0||'s lower bound; below, Kato-Temple's
         * lower side, whose gap beta - rho is often wider than rho. */
        double nx = cblas_dnrm2((int)k, x, 1) * (1 - 2 * rw_gamma_n((double)k + 2));
        double up = (theta[0] * (1 + 2 * rw_gamma_n((double)len + 2)) + e1[0]) / nx * (1 + 4 * u);
        if (lw > 0 && up >= lw && (up - lw) / 2 * (1 + 4 * u) < *bmin) {
            *smin = lw + (up - lw) / 2;
            *bmin = (up - lw) / 2 * (1 + 4 * u);
        }
    }
    memcpy(theta, ts, sizeof(double) * (size_t)q);
    return !(in->rel > 0) ||
           (2 * *bmin <= in->rel * (*smin - *bmin) && *smin - *bmin > 2 * in->rank_tol);
}

/* sigma_1 to rel when its Gram bound is not (at k ~ 4096 its relative bound
 * d (F / sigma_1)^2 can exceed 2e-10): the Gram eigenvector of lambda_max,
 * its compensated residual, and Kato-Temple on (alpha, inf), alpha =
 * upper(1) >= sigma_2: H's largest eigenvalue is sigma_1, and the Rayleigh
 * quotient is at most it. */
static bool refine_top(const blk *g, double *val, double *bound)
{
    const rw_block_in *in = g->in;
    int64_t k = g->k, len = g->len, mx = len > k ? len : k;
    if (!in->refl)
        return false;
    double *x = malloc(sizeof(double) * (size_t)(2 * k + len + 2 * mx));
    if (!x)
        return false;
    double *r2 = x + k, *y = r2 + k, *s1 = y + len, *s2 = s1 + mx, theta = 0, e1, n2, e2, lw;
    double s = in->sigma[1], alpha = s + rw_gram_bound(s, in->sigma[0], in->delta);
    bool ok = gram_vectors(g, in->lam + k - 1, x, 1) &&
              residuals(g, x, y, &theta, 1, r2, s1, s2, &e1, &n2, &e2) &&
              kato_temple(g, x, y, theta, r2, n2, e1, e2, alpha, INFINITY, val, bound, &lw) &&
              2 * *bound <= in->rel * (*val - *bound);
    free(x);
    return ok;
}

bool rw_svd_block(const rw_block_in *in, double *bound)
{
#if FLT_EVAL_METHOD != 0
    (void)in;
    (void)bound;
    return false;
#else
    blk g = {in, in->m < in->n ? in->m : in->n, in->m < in->n ? in->n : in->m};
    int64_t k = g.k, len = g.len;
    const double *s = in->sigma;
    double delta = in->delta, s1 = s[0];
    if (k < 3)
        return false;
    /* 1. The block. */
    int64_t p0 = 0;
    while (p0 < k && rw_gram_bound(s[k - 1 - p0], s1, delta) > in->budget)
        p0++;
    bool contract_ok = p0 == 0;
    if (p0 == 0 && in->rel > 0)
        p0 = 1;
    if (p0 == 0 || p0 > QMAX)
        return false;
    int64_t q = p0;
    for (; q <= QMAX && q < k - 1; q++) {
        double lo = s[k - q - 1] - rw_gram_bound(s[k - q - 1], s1, delta);
        double hi = s[k - q] + rw_gram_bound(s[k - q], s1, delta);
        if (lo > hi)
            break;
    }
    if (q > QMAX || q >= k - 1)
        return false;
    double beta_g = s[k - q - 1] - rw_gram_bound(s[k - q - 1], s1, delta);
    bool square = in->m == in->n;
    if (!square && !in->refl)
        return false;
    int b = (int)(square ? 2 * q + 6 : q);
    if (b > k - 1)
        b = (int)(k - 1);
    int64_t mx = len > k ? len : k;
    size_t nbuf = (size_t)k * b * 3 + (size_t)len * b * 2 + (size_t)b * b + b +
                  2 * ((size_t)len + (size_t)k) * q + 4 * (size_t)mx + (size_t)q * q;
    double *x = malloc(sizeof(double) * nbuf);
    if (!x)
        return false;
    double *r2 = x + (size_t)k * b, *y = r2 + (size_t)k * b,
           *p = y + (size_t)len * b, *vt = p + (size_t)len * b, *theta = vt + (size_t)b * b,
           *cbuf = theta + b;
    /* ritz's left vectors (len x b) and singular values (b). */
    double *left = malloc(sizeof(double) * (size_t)len * b + sizeof(double) * (size_t)b);
    bool ok = left != NULL;
    double *sv = left ? left + (size_t)len * b : NULL;
    /* sigma_1 to rel, from the Gram bound or refined (first: the LU below
     * overwrites the reflectors). */
    double top = s1, btop = 0;
    if (ok && in->rel > 0 && !(rw_gram_bound(s1, s1, delta) <= in->rel * s1))
        ok = refine_top(&g, &top, &btop);
    /* 2. Vectors: first the Gram eigenvectors alone, where they can be good
     * enough (rectangular W, or only sigma_min's relative requirement
     * failed: their error is then set by the actual Gram error over the
     * lambda gap, far below the bound); for square W, else or when that
     * fails, inverse iteration. */
    double r = 0, smin = 0, bmin = 0;
    bool done = false;
    if (ok && in->refl && (!square || contract_ok)) {
        done = gram_vectors(&g, in->lam, x, (int)q) && orthonormalize(x, k, (int)q, sv) &&
               ritz(&g, x, (int)q, y, theta, p, vt, left, sv) &&
               certify(&g, x, y, theta, (int)q, beta_g, cbuf, &r, &smin, &bmin);
        ok = done || square;
    }
    if (ok && !done) {
        /* A random start: measured to end with smaller residuals than the
         * Gram vectors at 4096^2 (whose bottom ones are poor there). */
        random_start(x, (size_t)k * b);
        ok = orthonormalize(x, k, b, sv) &&
             inverse_iteration(&g, in->scratch, x, b, (int)q, y, theta, p, vt, left, sv, r2) &&
             certify(&g, x, y, theta, (int)q, beta_g, cbuf, &r, &smin, &bmin);
    }
    if (ok) {
        for (int64_t j = 0; j < q; j++)
            in->sigma[k - 1 - j] = theta[j];
        in->sigma[k - 1] = smin;
        in->sigma[0] = top;
        *bound = fmax(fmax(r, bmin), fmax(btop, rw_gram_bound(s[k - q - 1], s1, delta)));
    }
    free(left);
    free(x);
    return ok;
#endif
}
