/*
 * similarity.c — linear CKA and PWCCA of two activation matrices
 * (similarity.h). Products through BLAS, decompositions through LAPACK,
 * everything in double precision.
 */
#include "analyzers/core/similarity.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* x (n x p, row-major) minus its column means, into c; the means into mean
 * (may be NULL). */
static void centre(const double *x, size_t n, size_t p, double *c, double *mean)
{
    for (size_t j = 0; j < p; j++) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            s += x[i * p + j];
        double m = s / (double)n;
        if (mean)
            mean[j] = m;
        for (size_t i = 0; i < n; i++)
            c[i * p + j] = x[i * p + j] - m;
    }
}

/* ||A^T B||_F^2 for A n x p, B n x q (row-major), through the p x q product
 * in scratch (p * q doubles). */
static double cross_fro2(const double *a, const double *b, size_t n, size_t p, size_t q,
                         double *scratch)
{
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)p, (int)q, (int)n, 1.0, a, (int)p,
                b, (int)q, 0.0, scratch, (int)q);
    double s = 0;
    for (size_t i = 0; i < p * q; i++)
        s += scratch[i] * scratch[i];
    return s;
}

/* The unbiased HSIC estimate of a dot-product similarity (the CKA authors'
 * helper): xty = ||X^T Y||_F^2, rx, ry the per-sample squared row norms,
 * nx, ny their sums. */
static double debias(double xty, const double *rx, const double *ry, double nx, double ny,
                     size_t n)
{
    double dot = 0;
    for (size_t i = 0; i < n; i++)
        dot += rx[i] * ry[i];
    double dn = (double)n;
    return xty - dn / (dn - 2.0) * dot + nx * ny / ((dn - 1.0) * (dn - 2.0));
}

rw_status rw_cka(const double *x, const double *y, size_t n, size_t p, size_t q, bool debiased,
                 double *out, rw_err *err)
{
    *out = NAN;
    if (n < (debiased ? 4u : 2u) || p == 0 || q == 0)
        return rw_fail(err, RW_EUSAGE, "CKA needs at least %d samples and a feature (%zu x %zu, "
                       "%zu x %zu)", debiased ? 4 : 2, n, p, n, q);
    size_t big = p > q ? p : q;
    double *xc = rw_malloc(n * p * sizeof *xc, err), *yc = rw_malloc(n * q * sizeof *yc, err);
    double *sc = rw_malloc(big * big * sizeof *sc, err);
    double *rx = rw_calloc(n, sizeof *rx, err), *ry = rw_calloc(n, sizeof *ry, err);
    rw_status st = RW_ENOMEM;
    if (xc && yc && sc && rx && ry) {
        centre(x, n, p, xc, NULL);
        centre(y, n, q, yc, NULL);
        double xy = cross_fro2(xc, yc, n, p, q, sc);
        double xx = cross_fro2(xc, xc, n, p, p, sc);
        double yy = cross_fro2(yc, yc, n, q, q, sc);
        if (debiased) {
            double nx = 0, ny = 0;
            for (size_t i = 0; i < n; i++) {
                for (size_t j = 0; j < p; j++)
                    rx[i] += xc[i * p + j] * xc[i * p + j];
                for (size_t j = 0; j < q; j++)
                    ry[i] += yc[i * q + j] * yc[i * q + j];
                nx += rx[i];
                ny += ry[i];
            }
            xy = debias(xy, rx, ry, nx, ny, n);
            xx = debias(xx, rx, rx, nx, nx, n);
            yy = debias(yy, ry, ry, ny, ny, n);
        }
        /* a zero centred X or Y: 0 / 0, nan */
        *out = xy / (sqrt(xx) * sqrt(yy));
        st = RW_OK;
    }
    free(xc);
    free(yc);
    free(sc);
    free(rx);
    free(ry);
    return st;
}

/* ------------------------------------------------------------------ PWCCA */

/* S^-1/2 of the symmetric k x k matrix s (row-major, overwritten) as the
 * authors' code forms it: the pseudo-inverse (singular values below 1e-15
 * of the largest cut, numpy's pinv) and its square root by eigenvalues.
 * For a symmetric positive semi-definite S both are one eigendecomposition:
 * V f(lambda) V^T with f(l) = l^-1/2, 0 where pinv cuts l. Into r. */
static rw_status inv_sqrt(double *s, size_t k, double *r, rw_err *err)
{
    double *w = rw_malloc(k * sizeof *w, err);
    if (!w)
        return RW_ENOMEM;
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', (lapack_int)k, s, (lapack_int)k, w);
    if (info != 0) {
        free(w);
        return rw_fail(err, RW_EDATA, "PWCCA: the eigendecomposition of a covariance failed "
                       "(LAPACK dsyevd info %d)", (int)info);
    }
    double top = 0;
    for (size_t i = 0; i < k; i++)
        top = fabs(w[i]) > top ? fabs(w[i]) : top;
    /* pinv cuts |l| <= 1e-15 |l|max; a negative l left gives nan, as the
     * square root of the authors' code does */
    for (size_t i = 0; i < k; i++)
        w[i] = fabs(w[i]) <= 1e-15 * top ? 0 : 1.0 / sqrt(w[i]);
    /* r = V diag(w) V^T: scale V's columns, then multiply by V^T */
    double *vs = rw_malloc(k * k * sizeof *vs, err);
    if (!vs) {
        free(w);
        return RW_ENOMEM;
    }
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++)
            vs[i * k + j] = s[i * k + j] * w[j];
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)k, (int)k, (int)k, 1.0, vs, (int)k,
                s, (int)k, 0.0, r, (int)k);
    free(vs);
    free(w);
    return RW_OK;
}

/* Scratch of rw_pwcca, freed together. */
typedef struct {
    double *xc, *yc, *mx, *my, *sxx, *syy, *sxy, *ix, *iy, *t, *arr, *u, *vt, *s, *d, *tau, *pa, *g;
    size_t *kx, *ky;
} pw_buf;

static void pw_free(pw_buf *b)
{
    double **v[] = {&b->xc, &b->yc, &b->mx, &b->my, &b->sxx, &b->syy, &b->sxy, &b->ix, &b->iy,
                    &b->t, &b->arr, &b->u, &b->vt, &b->s, &b->d, &b->tau, &b->pa, &b->g};
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        free(*v[i]);
    free(b->kx);
    free(b->ky);
}

/* The kept features' rows and columns of the k x k matrix s (row-major),
 * packed into the kk x kk matrix out; keep lists the kk indices. */
static void crop(const double *s, size_t k, const size_t *keep, size_t kk, double *out)
{
    for (size_t i = 0; i < kk; i++)
        for (size_t j = 0; j < kk; j++)
            out[i * kk + j] = s[keep[i] * k + keep[j]];
}

/* The features of the k x k covariance s whose variance, scaled by max,
 * is at least epsilon, into keep; their count. */
static size_t kept(const double *s, size_t k, double max, double epsilon, size_t *keep)
{
    size_t kk = 0;
    for (size_t i = 0; i < k; i++)
        if (max > 0 && fabs(s[i * k + i] / max) >= epsilon)
            keep[kk++] = i;
    return kk;
}

/* One side's S^-1/2 into r (kk x kk): the kept rows and columns of the
 * k x k covariance s, divided by max, epsilon added to the diagonal;
 * t is scratch of kk * kk doubles. */
static rw_status side_inv_sqrt(const double *s, size_t k, const size_t *keep, size_t kk,
                               double max, double epsilon, double *t, double *r, rw_err *err)
{
    crop(s, k, keep, kk, t);
    for (size_t i = 0; i < kk * kk; i++)
        t[i] /= max;
    for (size_t i = 0; i < kk; i++)
        t[i * kk + i] += epsilon;
    return inv_sqrt(t, kk, r, err);
}

rw_status rw_pwcca(const double *x, const double *y, size_t n, size_t p, size_t q, double epsilon,
                   double *out, rw_err *err)
{
    *out = NAN;
    if (p == 0 || q == 0 || n <= p || n <= q)
        return rw_fail(err, RW_EDATA, "PWCCA needs more samples than features: %zu samples of "
                       "%zu and %zu features (use --metrics cka, or more samples)", n, p, q);
    pw_buf b = {0};
    size_t big = p > q ? p : q;
    rw_status st = RW_ENOMEM;
    if (!(b.xc = rw_malloc(n * p * sizeof(double), err)) ||
        !(b.yc = rw_malloc(n * q * sizeof(double), err)) ||
        !(b.mx = rw_malloc(p * sizeof(double), err)) || !(b.my = rw_malloc(q * sizeof(double), err)) ||
        !(b.sxx = rw_malloc(p * p * sizeof(double), err)) ||
        !(b.syy = rw_malloc(q * q * sizeof(double), err)) ||
        !(b.sxy = rw_malloc(p * q * sizeof(double), err)) ||
        !(b.ix = rw_malloc(p * p * sizeof(double), err)) ||
        !(b.iy = rw_malloc(q * q * sizeof(double), err)) ||
        !(b.t = rw_malloc(big * big * sizeof(double), err)) ||
        !(b.arr = rw_malloc(p * q * sizeof(double), err)) ||
        !(b.u = rw_malloc(p * p * sizeof(double), err)) ||
        !(b.vt = rw_malloc(q * q * sizeof(double), err)) ||
        !(b.s = rw_malloc(big * sizeof(double), err)) ||
        !(b.d = rw_malloc(n * big * sizeof(double), err)) ||
        !(b.g = rw_malloc(n * big * sizeof(double), err)) ||
        !(b.tau = rw_malloc(big * sizeof(double), err)) ||
        !(b.pa = rw_malloc(big * big * sizeof(double), err)) ||
        !(b.kx = rw_malloc(p * sizeof(size_t), err)) || !(b.ky = rw_malloc(q * sizeof(size_t), err)))
        goto done;

    /* covariances (n - 1), scaled by the largest |entry| of Sxx and Syy */
    centre(x, n, p, b.xc, b.mx);
    centre(y, n, q, b.yc, b.my);
    double dn1 = 1.0 / ((double)n - 1.0);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)p, (int)p, (int)n, dn1, b.xc, (int)p,
                b.xc, (int)p, 0.0, b.sxx, (int)p);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)q, (int)q, (int)n, dn1, b.yc, (int)q,
                b.yc, (int)q, 0.0, b.syy, (int)q);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)p, (int)q, (int)n, dn1, b.xc, (int)p,
                b.yc, (int)q, 0.0, b.sxy, (int)q);
    double xmax = 0, ymax = 0;
    for (size_t i = 0; i < p * p; i++)
        xmax = fabs(b.sxx[i]) > xmax ? fabs(b.sxx[i]) : xmax;
    for (size_t i = 0; i < q * q; i++)
        ymax = fabs(b.syy[i]) > ymax ? fabs(b.syy[i]) : ymax;
    double cxy = sqrt(xmax * ymax);
    /* features kept: scaled variance >= epsilon (none of a constant side) */
    size_t kp = kept(b.sxx, p, xmax, epsilon, b.kx), kq = kept(b.syy, q, ymax, epsilon, b.ky);
    if (kp == 0 || kq == 0) {
        st = RW_OK; /* nothing to correlate: nan */
        goto done;
    }
    if ((st = side_inv_sqrt(b.sxx, p, b.kx, kp, xmax, epsilon, b.t, b.ix, err)) != RW_OK ||
        (st = side_inv_sqrt(b.syy, q, b.ky, kq, ymax, epsilon, b.t, b.iy, err)) != RW_OK)
        goto done;
    /* arr = Sxx^-1/2 Sxy Syy^-1/2 (kp x kq) */
    for (size_t i = 0; i < kp; i++)
        for (size_t j = 0; j < kq; j++)
            b.t[i * kq + j] = b.sxy[b.kx[i] * q + b.ky[j]] / cxy;
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)kp, (int)kq, (int)kp, 1.0, b.ix,
                (int)kp, b.t, (int)kq, 0.0, b.pa, (int)kq);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)kp, (int)kq, (int)kq, 1.0, b.pa,
                (int)kq, b.iy, (int)kq, 0.0, b.arr, (int)kq);
    /* its SVD, all of U and V^T (numpy's svd: dgesdd) */
    lapack_int info = LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'A', (lapack_int)kp, (lapack_int)kq, b.arr,
                                     (lapack_int)kq, b.s, b.u, (lapack_int)kp, b.vt, (lapack_int)kq);
    if (info != 0) {
        st = rw_fail(err, RW_EDATA, "PWCCA: the SVD of the canonical matrix failed (LAPACK "
                     "dgesdd info %d)", (int)info);
        goto done;
    }
    size_t nc = kp < kq ? kp : kq; /* canonical correlations rho = |s| */
    /* the side with fewer features kept (X on a tie): D = C^T (A - mean) +
     * mean, features by samples, C = U (X) or V (Y) */
    bool xs = kp <= kq;
    size_t kk = xs ? kp : kq, f = xs ? p : q;
    const size_t *keep = xs ? b.kx : b.ky;
    const double *ac = xs ? b.xc : b.yc, *a = xs ? x : y, *mean = xs ? b.mx : b.my;
    /* the kept columns of the centred activations, n x kk */
    for (size_t j = 0; j < n; j++)
        for (size_t l = 0; l < kk; l++)
            b.g[j * kk + l] = ac[j * f + keep[l]];
    /* D^T = Ac C + 1 mean^T (n x kk): C = U for X, V = (V^T)^T for Y */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, xs ? CblasNoTrans : CblasTrans, (int)n, (int)kk,
                (int)kk, 1.0, b.g, (int)kk, xs ? b.u : b.vt, (int)kk, 0.0, b.d, (int)kk);
    for (size_t j = 0; j < n; j++)
        for (size_t l = 0; l < kk; l++)
            b.d[j * kk + l] += mean[keep[l]];
    /* P: the orthonormal basis of D^T's columns (reduced QR; the signs of
     * its columns do not matter below) */
    if ((info = LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, (lapack_int)n, (lapack_int)kk, b.d, (lapack_int)kk,
                               b.tau)) != 0 ||
        (info = LAPACKE_dorgqr(LAPACK_ROW_MAJOR, (lapack_int)n, (lapack_int)kk, (lapack_int)kk, b.d,
                               (lapack_int)kk, b.tau)) != 0) {
        st = rw_fail(err, RW_EDATA, "PWCCA: the QR of the canonical directions failed (LAPACK "
                     "info %d)", (int)info);
        goto done;
    }
    /* a_i = sum_l |(P^T A)_il| with A the kept activations as stored (not
     * centred); PWCCA = sum a_i rho_i / sum a_i */
    for (size_t j = 0; j < n; j++)
        for (size_t l = 0; l < kk; l++)
            b.g[j * kk + l] = a[j * f + keep[l]];
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)kk, (int)kk, (int)n, 1.0, b.d,
                (int)kk, b.g, (int)kk, 0.0, b.pa, (int)kk);
    double total = 0, acc = 0;
    for (size_t i = 0; i < kk; i++) {
        double ai = 0;
        for (size_t l = 0; l < kk; l++)
            ai += fabs(b.pa[i * kk + l]);
        total += ai;
        acc += ai * (i < nc ? fabs(b.s[i]) : 0);
    }
    *out = acc / total;
    st = RW_OK;
done:
    pw_free(&b);
    return st;
}
