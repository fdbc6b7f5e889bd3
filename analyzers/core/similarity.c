/*
 * similarity.c — linear CKA and PWCCA of two activation matrices
 * (similarity.h). Products through BLAS, decompositions through LAPACK
 * (column-major, the _work entry points: no hidden allocation, no
 * transposition), everything in double precision, scratch from a
 * workspace that grows to the largest pair seen.
 */
#include "analyzers/core/similarity.h"

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

struct rw_sim_ws {
    double *d;          /* doubles, cap of them */
    size_t cap;
    lapack_int *i;      /* LAPACK's integer work, icap of them */
    size_t icap;
    size_t *keep;       /* kept feature indices, kcap of them */
    size_t kcap;
};

rw_sim_ws *rw_sim_ws_new(void)
{
    return calloc(1, sizeof(rw_sim_ws));
}

void rw_sim_ws_free(rw_sim_ws *ws)
{
    if (!ws)
        return;
    free(ws->d);
    free(ws->i);
    free(ws->keep);
    free(ws);
}

/* Grows *p (elements of size sz, *cap of them) to at least want; the old
 * contents are not kept. */
static rw_status grow(void **p, size_t *cap, size_t want, size_t sz, rw_err *err)
{
    if (want <= *cap)
        return RW_OK;
    free(*p);
    *cap = 0;
    if (!(*p = rw_malloc(want * sz, err)))
        return RW_ENOMEM;
    *cap = want;
    return RW_OK;
}

/* ws has room for nd doubles, ni LAPACK integers and nk indices. */
static rw_status ws_fit(rw_sim_ws *ws, size_t nd, size_t ni, size_t nk, rw_err *err)
{
    rw_status st;
    if ((st = grow((void **)&ws->d, &ws->cap, nd, sizeof(double), err)) != RW_OK ||
        (st = grow((void **)&ws->i, &ws->icap, ni ? ni : 1, sizeof(lapack_int), err)) != RW_OK ||
        (st = grow((void **)&ws->keep, &ws->kcap, nk ? nk : 1, sizeof(size_t), err)) != RW_OK)
        return st;
    return RW_OK;
}

/* x (n x p, row-major) minus its column means, into c; the means into mean
 * (p doubles, always written). Row by row, so that x is read in order. */
static void centre(const double *x, size_t n, size_t p, double *c, double *mean)
{
    for (size_t j = 0; j < p; j++)
        mean[j] = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < p; j++)
            mean[j] += x[i * p + j];
    for (size_t j = 0; j < p; j++)
        mean[j] /= (double)n;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < p; j++)
            c[i * p + j] = x[i * p + j] - mean[j];
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

/* A temporary workspace when the caller gave none (*own frees it). */
static rw_sim_ws *ws_or_own(rw_sim_ws *ws, rw_sim_ws **own, rw_err *err)
{
    *own = NULL;
    if (ws)
        return ws;
    if (!(*own = rw_sim_ws_new()))
        rw_fail(err, RW_ENOMEM, "out of memory");
    return *own;
}

rw_status rw_cka_ws(const double *x, const double *y, size_t n, size_t p, size_t q,
                    bool debiased, rw_sim_ws *ws, double *out, rw_err *err)
{
    *out = NAN;
    if (n < (debiased ? 4u : 2u) || p == 0 || q == 0)
        return rw_fail(err, RW_EUSAGE, "CKA needs at least %d samples and a feature (%zu x %zu, "
                       "%zu x %zu)", debiased ? 4 : 2, n, p, n, q);
    rw_sim_ws *own;
    if (!(ws = ws_or_own(ws, &own, err)))
        return RW_ENOMEM;
    size_t big = p > q ? p : q;
    rw_status st = ws_fit(ws, n * p + n * q + big * big + 2 * n + p + q, 0, 0, err);
    if (st == RW_OK) {
        double *xc = ws->d, *yc = xc + n * p, *sc = yc + n * q, *rx = sc + big * big,
               *ry = rx + n, *mean = ry + n;
        centre(x, n, p, xc, mean);
        centre(y, n, q, yc, mean);
        double xy = cross_fro2(xc, yc, n, p, q, sc);
        double xx = cross_fro2(xc, xc, n, p, p, sc);
        double yy = cross_fro2(yc, yc, n, q, q, sc);
        if (debiased) {
            double nx = 0, ny = 0;
            for (size_t i = 0; i < n; i++) {
                rx[i] = ry[i] = 0;
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
    }
    rw_sim_ws_free(own);
    return st;
}

rw_status rw_cka(const double *x, const double *y, size_t n, size_t p, size_t q, bool debiased,
                 double *out, rw_err *err)
{
    return rw_cka_ws(x, y, n, p, q, debiased, NULL, out, err);
}

/* ------------------------------------------------------------------ PWCCA */

/* LAPACK's workspace sizes for the k x k eigendecomposition (dsyevd with
 * vectors), the kp x kq SVD (dgesdd, jobz 'A') and the n x kk QR
 * (dgeqrf + dorgqr), from its own queries; lwork doubles, liwork integers. */
static void lapack_sizes(size_t kmax, size_t kp, size_t kq, size_t n, size_t kk, size_t *lwork,
                         size_t *liwork)
{
    lapack_int k = (lapack_int)kmax, m = (lapack_int)kp, c = (lapack_int)kq, nn = (lapack_int)n, q = (lapack_int)kk, iw = 0, info;
    double w[3] = {0, 0, 0};
    info = LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, 'V', 'U', k, NULL, k, NULL, &w[0], -1, &iw, -1);
    size_t lw = info == 0 ? (size_t)w[0] : 1 + 6 * kmax + 2 * kmax * kmax;
    size_t li = info == 0 ? (size_t)iw : 3 + 5 * kmax;
    info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'A', m, c, NULL, m, NULL, NULL, m, NULL, c,
                               &w[1], -1, NULL);
    size_t ls = info == 0 ? (size_t)w[1] : 0;
    /* dgesdd's documented bound for jobz 'A', should the query fail */
    size_t big = kp > kq ? kp : kq, sm = kp < kq ? kp : kq;
    if (info != 0)
        ls = 4 * sm * sm + 6 * sm + big;
    /* dgeqrf and dorgqr: their block size (at most 64) per column */
    info = LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, nn, q, NULL, nn, NULL, &w[2], -1);
    size_t lq = info == 0 ? (size_t)w[2] : (kk ? kk : 1) * 64;
    double wo = 0;
    info = LAPACKE_dorgqr_work(LAPACK_COL_MAJOR, nn, q, q, NULL, nn, NULL, &wo, -1);
    size_t lo = info == 0 ? (size_t)wo : (kk ? kk : 1) * 64;
    info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'S', k, k, NULL, k, NULL, NULL, k, NULL, k,
                               &wo, -1, NULL);
    size_t lsq = info == 0 ? (size_t)wo : 4 * kmax * kmax + 7 * kmax;
    if (lsq > lw)
        lw = lsq;
    *lwork = lw;
    if (ls > *lwork)
        *lwork = ls;
    if (lq > *lwork)
        *lwork = lq;
    if (lo > *lwork)
        *lwork = lo;
    *liwork = li > 8 * big ? li : 8 * big;
}

/* S^-1/2 of the symmetric k x k matrix s (overwritten) as the authors' code
 * forms it, step by step, since its rounding is what the number is
 * compared with: the pseudo-inverse as numpy's pinv computes it (dgesdd,
 * jobz 'S'; singular values at most 1e-15 of the largest cut; P = V
 * diag(1/s) U^T), then the square root of P by its eigendecomposition
 * (dsyevd on P's lower triangle, as numpy's eigh; V diag(sqrt(w)) V^T).
 * One eigendecomposition of S would give the same matrix in exact
 * arithmetic, but where S is ill-conditioned (its smallest eigenvalues
 * near epsilon) and canonical correlations cluster near 1, PWCCA differs
 * by up to 1e-5 between the two orders of rounding (docs/similarity.md).
 * A negative eigenvalue of P gives nan, as numpy's sqrt does. Into r
 * (row-major); w (k), e1, e2, e3 (k * k each) and work (lwork doubles,
 * liwork integers) are scratch. */
static rw_status inv_sqrt(double *s, size_t k, double *r, double *w, double *e1, double *e2,
                          double *e3, double *work, size_t lwork, lapack_int *iwork,
                          size_t liwork, rw_err *err)
{
    lapack_int kk = (lapack_int)k;
    /* pinv: s = U diag(w) V^T (s is symmetric: either order of storage);
     * e1 = U and e2 = V^T, by columns */
    lapack_int info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'S', kk, kk, s, kk, w, e1, kk, e2,
                                          kk, work, (lapack_int)lwork, iwork);
    if (info != 0)
        return rw_fail(err, RW_EDATA, "PWCCA: the SVD of a covariance failed (LAPACK dgesdd "
                       "info %d)", (int)info);
    double cut = 1e-15 * (k ? w[0] : 0);
    for (size_t l = 0; l < k; l++)
        w[l] = w[l] > cut ? 1.0 / w[l] : 0;
    /* e3 = diag(1/w) U^T, then s = P = (V^T)^T e3, by columns */
    for (size_t j = 0; j < k; j++)
        for (size_t l = 0; l < k; l++)
            e3[j * k + l] = w[l] * e1[l * k + j];
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, kk, kk, kk, 1.0, e2, kk, e3, kk, 0.0, s,
                kk);
    /* P = V diag(w) V^T from P's lower triangle; s then holds V by columns */
    info = LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, 'V', 'L', kk, s, kk, w, work, (lapack_int)lwork,
                               iwork, (lapack_int)liwork);
    if (info != 0)
        return rw_fail(err, RW_EDATA, "PWCCA: the eigendecomposition of a covariance failed "
                       "(LAPACK dsyevd info %d)", (int)info);
    /* e3 = diag(sqrt(w)) V^T, e1 = V e3, by columns; r: e1 by rows */
    for (size_t j = 0; j < k; j++)
        for (size_t i = 0; i < k; i++)
            e3[j * k + i] = sqrt(w[i]) * s[i * k + j];
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, kk, kk, kk, 1.0, s, kk, e3, kk, 0.0,
                e1, kk);
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++)
            r[i * k + j] = e1[j * k + i];
    return RW_OK;
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

/* The sum of a[0..n-1] in numpy's order (its pairwise summation of a
 * contiguous array: blocks of up to 128 summed in eight interleaved
 * partial sums, larger ones halved at a multiple of 8), so that the means
 * are numpy's to the last bit. */
static double pairwise_sum(const double *a, size_t n)
{
    if (n < 8) {
        double r = 0;
        for (size_t i = 0; i < n; i++)
            r += a[i];
        return r;
    }
    if (n <= 128) {
        double r[8];
        size_t i;
        for (int j = 0; j < 8; j++)
            r[j] = a[j];
        for (i = 8; i < n - n % 8; i += 8)
            for (int j = 0; j < 8; j++)
                r[j] += a[i + j];
        double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++)
            res += a[i];
        return res;
    }
    size_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

/* LAPACK's scratch for one pair, in ws (work, iwork). */
typedef struct {
    double *w;
    size_t lw;
    lapack_int *iw;
    size_t liw;
} lapack_scratch;

/* One side's S^-1/2 into r (kk x kk): the kept rows and columns of the
 * k x k covariance s, divided by max, epsilon added to the diagonal;
 * t, e[0..2] are scratch of kk * kk doubles, ev of kk. */
static rw_status side_inv_sqrt(const double *s, size_t k, const size_t *keep, size_t kk,
                               double max, double epsilon, double *t, double *const e[3],
                               double *ev, const lapack_scratch *ls, double *r, rw_err *err)
{
    crop(s, k, keep, kk, t);
    for (size_t i = 0; i < kk * kk; i++)
        t[i] /= max;
    for (size_t i = 0; i < kk; i++)
        t[i * kk + i] += epsilon;
    return inv_sqrt(t, kk, r, ev, e[0], e[1], e[2], ls->w, ls->lw, ls->iw, ls->liw, err);
}

/* What PWCCA needs of one matrix alone (similarity.h). Its arrays are
 * its own (rw_pwcca_side_new) or carved from a workspace. */
struct rw_pwcca_side {
    const double *a;  /* the n x f activations (borrowed) */
    size_t n, f;      /* samples, features */
    double epsilon;
    double *z;        /* f x n, row-major: each feature less its mean */
    double *mean;     /* f: the features' means */
    size_t *keep, kk; /* the kk features kept (scaled variance >= epsilon) */
    double max;       /* the largest |entry| of the covariance */
    double *isq;      /* kk x kk, row-major: S^-1/2 of the kept features */
    double *own;      /* what rw_pwcca_side_new allocated, or NULL */
};

/* Scratch for side_prepare of up to f features: cov, t and e[3] of f * f
 * doubles, ev of f, and LAPACK's. */
typedef struct {
    double *cov, *t, *e[3], *ev;
    lapack_scratch ls;
} side_scratch;

/* Side s of the n x f row-major activations a, computed as the reference
 * code computes them (numpy's cov: numpy's pairwise summation for the
 * means, the upper triangle by dsyrk, times 1 / (n - 1)) into s's arrays
 * (z, mean, keep and isq of f * n, f, f and f * f). */
static rw_status side_prepare(const double *a, size_t n, size_t f, double epsilon,
                              rw_pwcca_side *s, const side_scratch *sc, rw_err *err)
{
    s->a = a;
    s->n = n;
    s->f = f;
    s->epsilon = epsilon;
    for (size_t j = 0; j < n; j++)
        for (size_t c = 0; c < f; c++)
            s->z[c * n + j] = a[j * f + c];
    for (size_t c = 0; c < f; c++) {
        double m = pairwise_sum(s->z + c * n, n) / (double)n;
        s->mean[c] = m;
        for (size_t j = 0; j < n; j++)
            s->z[c * n + j] -= m;
    }
    double *cov = sc->cov, dn1 = 1.0 / ((double)n - 1.0);
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, (int)f, (int)n, 1.0, s->z, (int)n, 0.0,
                cov, (int)f);
    s->max = 0;
    for (size_t i = 0; i < f; i++)
        for (size_t j = i; j < f; j++) {
            double c = cov[i * f + j] * dn1;
            cov[i * f + j] = cov[j * f + i] = c;
            s->max = fabs(c) > s->max ? fabs(c) : s->max;
        }
    /* none kept of a constant side: PWCCA is nan */
    if ((s->kk = kept(cov, f, s->max, epsilon, s->keep)) == 0)
        return RW_OK;
    return side_inv_sqrt(cov, f, s->keep, s->kk, s->max, epsilon, sc->t, sc->e, sc->ev, &sc->ls,
                         s->isq, err);
}

/* Doubles of a side's arrays (z, mean, isq) of f features. */
static size_t side_doubles(size_t n, size_t f)
{
    return f * n + f + f * f;
}

/* Points s's arrays into d (side_doubles of them) and keep (f). */
static double *side_carve(rw_pwcca_side *s, size_t n, size_t f, double *d, size_t *keep)
{
    s->z = d;
    s->mean = d + f * n;
    s->isq = s->mean + f;
    s->keep = keep;
    s->own = NULL;
    return s->isq + f * f;
}

/* Doubles of side_scratch for f features, LAPACK's lwork included. */
static size_t scratch_doubles(size_t f, size_t lwork)
{
    return 5 * f * f + f + lwork;
}

static void scratch_carve(side_scratch *sc, size_t f, double *d, size_t lwork, lapack_int *iw,
                          size_t liwork)
{
    sc->cov = d;
    sc->t = d + f * f;
    for (int i = 0; i < 3; i++)
        sc->e[i] = sc->t + (size_t)(i + 1) * f * f;
    sc->ev = sc->e[2] + f * f;
    sc->ls = (lapack_scratch){sc->ev + f, lwork, iw, liwork};
}

static rw_status pwcca_check(size_t n, size_t p, size_t q, rw_err *err)
{
    if (p == 0 || q == 0 || n <= p || n <= q)
        return rw_fail(err, RW_EDATA, "PWCCA needs more samples than features: %zu samples of "
                       "%zu and %zu features (use --metrics cka, or more samples)", n, p, q);
    return RW_OK;
}

rw_status rw_pwcca_side_new(const double *y, size_t n, size_t q, double epsilon,
                            rw_pwcca_side **out, rw_err *err)
{
    *out = NULL;
    rw_status st = pwcca_check(n, q, q, err);
    if (st != RW_OK)
        return st;
    size_t lwork, liwork;
    lapack_sizes(q, q, q, n, q, &lwork, &liwork);
    rw_pwcca_side *s = rw_calloc(1, sizeof *s, err);
    double *d = rw_malloc((side_doubles(n, q) + scratch_doubles(q, lwork)) * sizeof *d, err);
    size_t *keep = rw_malloc(q * sizeof *keep, err);
    lapack_int *iw = rw_malloc(liwork * sizeof *iw, err);
    if (s && d && keep && iw) {
        side_scratch sc;
        scratch_carve(&sc, q, side_carve(s, n, q, d, keep), lwork, iw, liwork);
        s->own = d;
        if ((st = side_prepare(y, n, q, epsilon, s, &sc, err)) == RW_OK) {
            free(iw);
            *out = s;
            return RW_OK;
        }
    } else {
        st = RW_ENOMEM;
    }
    free(s);
    free(d);
    free(keep);
    free(iw);
    return st;
}

void rw_pwcca_side_free(rw_pwcca_side *s)
{
    if (!s)
        return;
    free(s->own);
    free(s->keep);
    free(s);
}

/* PWCCA of x (n x p) against y (n x q): against side given (made from y
 * with the same epsilon), or else y's side computed into ws. */
static rw_status pwcca(const double *x, const double *y, const rw_pwcca_side *given, size_t n,
                       size_t p, size_t q, double epsilon, rw_sim_ws *ws, double *out,
                       rw_err *err)
{
    *out = NAN;
    rw_status st = pwcca_check(n, p, q, err);
    if (st == RW_OK && given && (given->n != n || given->f != q || given->epsilon != epsilon))
        st = rw_fail(err, RW_EUSAGE, "PWCCA: a prepared side of %zu x %zu (epsilon %g) used "
                     "for %zu x %zu (epsilon %g)", given->n, given->f, given->epsilon, n, q,
                     epsilon);
    if (st != RW_OK)
        return st;
    rw_sim_ws *own;
    if (!(ws = ws_or_own(ws, &own, err)))
        return RW_ENOMEM;
    size_t big = p > q ? p : q, lwork, liwork;
    /* LAPACK's needs at the largest sizes this pair can have (kept
     * features are at most p and q) */
    lapack_sizes(big, p, q, n, big, &lwork, &liwork);
    size_t nd = side_doubles(n, p) + (given ? 0 : side_doubles(n, q)) +
                scratch_doubles(big, lwork) + 2 * p * q + p * p + q * q + 2 * big +
                2 * n * big + big * big;
    if ((st = ws_fit(ws, nd, liwork, p + q, err)) != RW_OK)
        goto done;
    rw_pwcca_side xs_, ys_;
    const rw_pwcca_side *xsd = &xs_, *ysd = given ? given : &ys_;
    double *d = side_carve(&xs_, n, p, ws->d, ws->keep);
    if (!given)
        d = side_carve(&ys_, n, q, d, ws->keep + p);
    side_scratch sc;
    scratch_carve(&sc, big, d, lwork, ws->i, liwork);
    double *sxy = sc.ls.w + lwork, *arr = sxy + p * q, *uu = arr + p * q, *vt = uu + p * p,
           *s = vt + q * q, *tau = s + big, *dd = tau + big, *g = dd + n * big,
           *pa = g + n * big, *t = sc.t, *work = sc.ls.w;
    if ((st = side_prepare(x, n, p, epsilon, &xs_, &sc, err)) != RW_OK ||
        (!given && (st = side_prepare(y, n, q, epsilon, &ys_, &sc, err)) != RW_OK))
        goto done;
    size_t kp = xsd->kk, kq = ysd->kk;
    const size_t *kx = xsd->keep, *ky = ysd->keep;
    if (kp == 0 || kq == 0)
        goto done; /* nothing to correlate: nan */
    /* Sxy (p x q) as numpy's cov has it, its kept part scaled by the root
     * of both sides' largest |entry| */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)p, (int)q, (int)n, 1.0, xsd->z,
                (int)n, ysd->z, (int)n, 0.0, sxy, (int)q);
    double dn1 = 1.0 / ((double)n - 1.0), cxy = sqrt(xsd->max * ysd->max);
    for (size_t i = 0; i < kp; i++)
        for (size_t j = 0; j < kq; j++)
            t[i * kq + j] = sxy[kx[i] * q + ky[j]] * dn1 / cxy;
    /* arr = Sxx^-1/2 (Sxy Syy^-1/2) (kp x kq, row-major), associated as
     * the authors' code does */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)kp, (int)kq, (int)kq, 1.0, t,
                (int)kq, ysd->isq, (int)kq, 0.0, pa, (int)kq);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)kp, (int)kq, (int)kp, 1.0,
                xsd->isq, (int)kp, pa, (int)kq, 0.0, arr, (int)kq);
    /* Its SVD arr = U diag(rho) V^T, all of U and V^T, as numpy's svd
     * computes it (dgesdd, jobz 'A', on arr by columns): the reference adds
     * the means back to the rotated activations, so its number depends on
     * the signs LAPACK gives the singular vectors, and rankwatch asks
     * LAPACK the same question to get the same signs. t: arr by columns. */
    for (size_t i = 0; i < kp; i++)
        for (size_t j = 0; j < kq; j++)
            t[j * kp + i] = arr[i * kq + j];
    size_t nc = kp < kq ? kp : kq; /* canonical correlations rho = |s| */
    lapack_int info = LAPACKE_dgesdd_work(LAPACK_COL_MAJOR, 'A', (lapack_int)kp, (lapack_int)kq,
                                          t, (lapack_int)kp, s, uu, (lapack_int)kp, vt,
                                          (lapack_int)kq, work, (lapack_int)lwork, ws->i);
    if (info != 0) {
        st = rw_fail(err, RW_EDATA, "PWCCA: the SVD of the canonical matrix failed (LAPACK "
                     "dgesdd info %d)", (int)info);
        goto done;
    }
    /* the side with fewer features kept (X on a tie): D = C^T (A - mean) +
     * mean, features by samples, C = U (X) or V (Y) */
    bool xs = kp <= kq;
    const rw_pwcca_side *side = xs ? xsd : ysd;
    size_t kk = side->kk, f = side->f;
    const size_t *keep = side->keep;
    const double *a = side->a;
    /* g: the kept features of the centred activations, n x kk by columns */
    for (size_t l = 0; l < kk; l++)
        memcpy(g + l * n, side->z + keep[l] * n, n * sizeof *g);
    /* dd = D^T = G C + 1 mean^T (n x kk, by columns). C = U: uu (by
     * columns). C = V: the transpose of vt (V^T by columns). */
    cblas_dgemm(CblasColMajor, CblasNoTrans, xs ? CblasNoTrans : CblasTrans, (int)n, (int)kk,
                (int)kk, 1.0, g, (int)n, xs ? uu : vt, (int)kk, 0.0, dd, (int)n);
    for (size_t l = 0; l < kk; l++)
        for (size_t j = 0; j < n; j++)
            dd[l * n + j] += side->mean[keep[l]];
    /* P: the orthonormal basis of D^T's columns (reduced QR; the signs of
     * its columns do not matter below) */
    if ((info = LAPACKE_dgeqrf_work(LAPACK_COL_MAJOR, (lapack_int)n, (lapack_int)kk, dd,
                                    (lapack_int)n, tau, work, (lapack_int)lwork)) != 0 ||
        (info = LAPACKE_dorgqr_work(LAPACK_COL_MAJOR, (lapack_int)n, (lapack_int)kk,
                                    (lapack_int)kk, dd, (lapack_int)n, tau, work,
                                    (lapack_int)lwork)) != 0) {
        st = rw_fail(err, RW_EDATA, "PWCCA: the QR of the canonical directions failed (LAPACK "
                     "info %d)", (int)info);
        goto done;
    }
    /* a_i = sum_l |(P^T A)_il| with A the kept activations as stored (not
     * centred); PWCCA = sum a_i rho_i / sum a_i. pa = P^T A, kk x kk by
     * columns: (i, l) at pa[l * kk + i]. */
    for (size_t l = 0; l < kk; l++)
        for (size_t j = 0; j < n; j++)
            g[l * n + j] = a[j * f + keep[l]];
    cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, (int)kk, (int)kk, (int)n, 1.0, dd,
                (int)n, g, (int)n, 0.0, pa, (int)kk);
    double total = 0, acc = 0;
    for (size_t i = 0; i < kk; i++) {
        double ai = 0;
        for (size_t l = 0; l < kk; l++)
            ai += fabs(pa[l * kk + i]);
        total += ai;
        acc += ai * (i < nc ? fabs(s[i]) : 0);
    }
    *out = acc / total;
done:
    rw_sim_ws_free(own);
    return st;
}

rw_status rw_pwcca_ws(const double *x, const double *y, size_t n, size_t p, size_t q,
                      double epsilon, rw_sim_ws *ws, double *out, rw_err *err)
{
    return pwcca(x, y, NULL, n, p, q, epsilon, ws, out, err);
}

rw_status rw_pwcca(const double *x, const double *y, size_t n, size_t p, size_t q, double epsilon,
                   double *out, rw_err *err)
{
    return pwcca(x, y, NULL, n, p, q, epsilon, NULL, out, err);
}

rw_status rw_pwcca_against(const double *x, size_t n, size_t p, const rw_pwcca_side *ys,
                           rw_sim_ws *ws, double *out, rw_err *err)
{
    return pwcca(x, ys->a, ys, n, p, ys->f, ys->epsilon, ws, out, err);
}
