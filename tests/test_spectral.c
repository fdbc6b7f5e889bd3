/*
 * test_spectral.c — the singular-value paths and the metrics of spectral.h.
 *
 * Matrices are built as W = U diag(s) V^T with U (m x k), V (n x k) random
 * orthonormal (QR of Gaussian matrices), so their singular values are known
 * independently of any SVD routine; shapes are non-square so that a transpose
 * shows. The fast path (rw_svd_values_dt) is held to its contract
 *     |sigma_i - sigma_i(dgesdd)| <= rw_svd_tolerance(dtype) * ||W||_F
 * and, where the data are exact, to the known values too.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "analyzers/core/metrics.h"
#include "analyzers/core/spectral.h"
#include "fixtures/synth.h"

// ----------------------------------------------------------------------------
// matrices with known singular values

/* xorshift64* (fixtures/synth.h): reproducible, no libc state. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

/* rows x cols (rows >= cols) with orthonormal columns, column-major. */
static double *orthonormal(int rows, int cols)
{
    double *q = malloc(sizeof(double) * (size_t)rows * (size_t)cols);
    double *tau = malloc(sizeof(double) * (size_t)cols);
    assert_non_null(q);
    assert_non_null(tau);
    for (size_t i = 0; i < (size_t)rows * (size_t)cols; i++)
        q[i] = xs64_gauss(&rng_state);
    assert_int_equal(LAPACKE_dgeqrf(LAPACK_COL_MAJOR, rows, cols, q, rows, tau), 0);
    assert_int_equal(LAPACKE_dorgqr(LAPACK_COL_MAJOR, rows, cols, cols, q, rows, tau), 0);
    free(tau);
    return q;
}

typedef enum { EXACT, ROUND_F32, ROUND_BF16 } rounding;

/* Row-major m x n W = U diag(s) V^T, s[0..k-1], then rounded as asked. */
static double *build(int m, int n, const double *s, rounding r)
{
    int k = m < n ? m : n;
    double *u = orthonormal(m, k), *v = orthonormal(n, k);
    double *w = malloc(sizeof(double) * (size_t)m * (size_t)n);
    assert_non_null(w);
    for (int j = 0; j < k; j++)
        for (int i = 0; i < m; i++)
            u[i + (size_t)j * m] *= s[j];
    /* Row-major W is column-major W^T (n x m) = V (U S)^T. */
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, n, m, k, 1.0, v, n, u, m, 0.0, w, n);
    for (size_t i = 0; i < (size_t)m * (size_t)n; i++) {
        if (r == ROUND_F32)
            w[i] = (double)(float)w[i];
        else if (r == ROUND_BF16)
            w[i] = rw_bf16_to_double(rw_double_to_bf16(w[i]));
    }
    free(u);
    free(v);
    return w;
}

static double frobenius(const double *w, size_t numel)
{
    double ss = 0;
    for (size_t i = 0; i < numel; i++)
        ss += w[i] * w[i];
    return sqrt(ss);
}

static double *dup(const double *w, size_t numel)
{
    double *c = malloc(sizeof(double) * (numel ? numel : 1));
    assert_non_null(c);
    memcpy(c, w, sizeof(double) * numel);
    return c;
}

/* max_i |a_i - b_i| */
static double max_diff(const double *a, const double *b, int k)
{
    double d = 0;
    for (int i = 0; i < k; i++)
        d = fmax(d, fabs(a[i] - b[i]));
    return d;
}

/* Runs both paths on w (m x n, stored as dtype) and checks the contract
 * against dgesdd and, with tol_known >= 0, against the known values s:
 * |sigma_i - s_i| <= tol_known * ||W||_F. Returns the method used. */
static rw_svd_method check_contract(const double *w, int m, int n, rw_dtype dtype, const double *s,
                                    double tol_known)
{
    int k = m < n ? m : n;
    size_t numel = (size_t)m * (size_t)n;
    double *ref = malloc(sizeof(double) * k), *sig = malloc(sizeof(double) * k);
    double *a = dup(w, numel), *b = dup(w, numel);
    rw_err err = {{0}};
    assert_int_equal(rw_svd_values(a, m, n, ref, &err), RW_OK);
    rw_svd_info info;
    assert_int_equal(rw_svd_values_dt(b, m, n, dtype, sig, NULL, &info, &err), RW_OK);

    double f = frobenius(w, numel), tol = rw_svd_tolerance(dtype) * f;
    for (int i = 1; i < k; i++)
        assert_true(sig[i] <= sig[i - 1]);
    assert_true(sig[k - 1] >= 0);
    double e = max_diff(sig, ref, k);
    if (e > tol)
        fail_msg("%dx%d %s via %s: error %.3g > contract %.3g", m, n, rw_dtype_name(dtype),
                 rw_svd_method_name(info.method), e, tol);
    if (info.method == RW_SVD_GRAM) {
        /* The checked bound holds, and is within half the contract. */
        assert_true(e <= info.err_bound);
        assert_true(info.err_bound <= 0.5 * tol);
    } else {
        assert_true(isnan(info.err_bound));
    }
    if (tol_known >= 0) {
        double ek = max_diff(sig, s, k);
        if (ek > tol_known * f)
            fail_msg("%dx%d: off the known values by %.3g > %.3g", m, n, ek, tol_known * f);
    }
    free(ref);
    free(sig);
    free(a);
    free(b);
    return info.method;
}

// ----------------------------------------------------------------------------
// the contract

static void linspace(double *s, int k, double hi, double lo)
{
    for (int i = 0; i < k; i++)
        s[i] = k > 1 ? hi + (lo - hi) * i / (k - 1) : hi;
}

static void logspace(double *s, int k, double hi, double lo)
{
    for (int i = 0; i < k; i++)
        s[i] = k > 1 ? hi * pow(lo / hi, (double)i / (k - 1)) : hi;
}

/* Rounding to float32 moves each sigma by at most eps32/2 ||W||_F (Weyl),
 * so known values hold within eps32 ||W||_F after rounding. */
#define KNOWN_F32 0x1p-23
#define KNOWN_F64 1e-13

static void test_well_conditioned(void **state)
{
    (void)state;
    double s[25];
    linspace(s, 25, 2.0, 1.0);
    const int shapes[2][2] = {{60, 25}, {25, 60}};
    for (int t = 0; t < 2; t++) {
        int m = shapes[t][0], n = shapes[t][1];
        double *w32 = build(m, n, s, ROUND_F32), *w64 = build(m, n, s, EXACT);
        assert_int_equal(check_contract(w32, m, n, RW_DT_F32, s, KNOWN_F32), RW_SVD_GRAM);
        /* Well-conditioned and small: even float64's 1e-12 is in reach. */
        assert_int_equal(check_contract(w64, m, n, RW_DT_F64, s, KNOWN_F64), RW_SVD_GRAM);
        free(w32);
        free(w64);
    }
}

static void test_ill_conditioned(void **state)
{
    (void)state;
    double s[30];
    logspace(s, 30, 1.0, 1e-8);
    /* 30 x 80: dgesdd after a QR of the (column-major) tall W^T. */
    const int shapes[2][2] = {{50, 30}, {30, 80}};
    for (int t = 0; t < 2; t++) {
        int m = shapes[t][0], n = shapes[t][1];
        double *w32 = build(m, n, s, ROUND_F32), *w64 = build(m, n, s, EXACT);
        /* Gram cannot resolve sigma ~ 1e-8 ||W||: its check must send these
         * to dgesdd. */
        assert_int_equal(check_contract(w32, m, n, RW_DT_F32, s, KNOWN_F32),
                         RW_SVD_GESDD_FALLBACK);
        rw_svd_method m64 = check_contract(w64, m, n, RW_DT_F64, s, KNOWN_F64);
        assert_true(m64 == RW_SVD_GESDD || m64 == RW_SVD_GESDD_FALLBACK);
        free(w32);
        free(w64);
    }
}

static void test_moderately_conditioned_gram(void **state)
{
    (void)state;
    /* sigma down to 1e-3 ||W||: float32 data still takes the Gram path. */
    double s[48];
    logspace(s, 48, 1.0, 1e-3);
    double *w = build(96, 48, s, ROUND_F32);
    assert_int_equal(check_contract(w, 96, 48, RW_DT_F32, s, KNOWN_F32), RW_SVD_GRAM);
    free(w);
    w = build(48, 96, s, ROUND_F32);
    assert_int_equal(check_contract(w, 48, 96, RW_DT_F32, s, KNOWN_F32), RW_SVD_GRAM);
    free(w);
}

/* The default of the programs (rel = RW_SVD_REL_DEFAULT) on w (m x n,
 * float32-stored): sigma_1 and sigma_k within 1e-9 of dgesdd's relatively
 * (rel plus dgesdd's own error), every value when the Gram result passed
 * as it is, the others within the contract; num_rank and cond_rank as
 * dgesdd's values give them. Returns the method. */
static rw_svd_method check_rel(const double *w, int m, int n)
{
    int k = m < n ? m : n;
    size_t numel = (size_t)m * (size_t)n;
    double *a = dup(w, numel), *b = dup(w, numel);
    double *ref = malloc(sizeof(double) * k), *sig = malloc(sizeof(double) * k);
    rw_err err = {{0}};
    rw_svd_info info;
    assert_int_equal(rw_svd_values(a, m, n, ref, &err), RW_OK);
    assert_int_equal(rw_svd_values_acc(b, m, n, RW_DT_F32, RW_SVD_REL_DEFAULT, sig, NULL, &info,
                                       &err), RW_OK);
    double tol = rw_svd_tolerance(RW_DT_F32) * frobenius(w, numel);
    for (int i = 0; i < k; i++) {
        bool rel = i == 0 || i == k - 1 || info.method == RW_SVD_GRAM;
        double e = fabs(sig[i] - ref[i]);
        if (rel ? e > 1e-9 * ref[i] : e > tol)
            fail_msg("%dx%d sigma_%d via %s: %.17g vs dgesdd %.17g", m, n, i + 1,
                     rw_svd_method_name(info.method), sig[i], ref[i]);
        if (i > 0)
            assert_true(sig[i] <= sig[i - 1]);
    }
    if (info.method == RW_SVD_GRAM || info.method == RW_SVD_GRAM_REFINED)
        assert_true(max_diff(sig, ref, k) <= info.err_bound && info.err_bound <= 0.5 * tol);
    rw_metrics mr, ms;
    rw_metrics_compute(ref, (size_t)k, m, n, RW_DT_F32, NAN, &mr);
    rw_metrics_compute(sig, (size_t)k, m, n, RW_DT_F32, NAN, &ms);
    assert_true(ms.num_rank == mr.num_rank);
    assert_true(fabs(ms.cond_rank - mr.cond_rank) <= 1e-9 * mr.cond_rank);
    assert_true(fabs(ms.cond - mr.cond) <= 1e-9 * mr.cond);
    free(a);
    free(b);
    free(ref);
    free(sig);
    return info.method;
}

/* A flat spectrum keeps the Gram result as it is; sigma_min = 1e-2 sigma_1
 * is beyond it (sigma_min^2 < delta / rel) and is recomputed from W; 1e-6
 * lies below num_rank's threshold (96 eps32 = 1.1e-5), where only the
 * orthogonal path gives cond_rank: a fallback. */
static void test_relative_accuracy(void **state)
{
    (void)state;
    double s[48];
    int sizes[3][2] = {{96, 48}, {48, 96}, {48, 48}};
    const double lows[3] = {0.2, 1e-2, 1e-6};
    const rw_svd_method want[3] = {RW_SVD_GRAM, RW_SVD_GRAM_REFINED, RW_SVD_GESDD_FALLBACK};
    for (int c = 0; c < 3; c++)
        for (int t = 0; t < 3; t++) {
            logspace(s, 48, 1.0, lows[t]);
            int m = sizes[c][0], n = sizes[c][1];
            double *w = build(m, n, s, ROUND_F32);
            rw_svd_method got = check_rel(w, m, n);
            if (got != want[t])
                fail_msg("%dx%d, sigma_min %.0e: %s, expected %s", m, n, lows[t],
                         rw_svd_method_name(got), rw_svd_method_name(want[t]));
            free(w);
        }
}

/* A sweep of sigma_min / sigma_1 from 1 to 1.6e-5 on square, tall and wide
 * matrices: whatever the method, check_rel holds; all three occur. Then
 * the smallest two values equal, and nearly equal: the Gram bound cannot
 * separate sigma_k from sigma_{k-1}, so sigma_k is not refined (the
 * orthogonal path), and the check still holds. */
static void test_refined_sweep(void **state)
{
    (void)state;
    enum { K = 64, L = 80 };
    int count[RW_SVD_METHOD_COUNT] = {0};
    const int shapes[3][2] = {{K, K}, {L, K}, {K, L}};
    for (int sh = 0; sh < 3; sh++)
        for (int t = 0; t <= 12; t++) {
            double s[K];
            logspace(s, K, 1.0, pow(10, -0.4 * t));
            int m = shapes[sh][0], n = shapes[sh][1];
            double *w = build(m, n, s, ROUND_F32);
            count[check_rel(w, m, n)]++;
            free(w);
        }
    assert_true(count[RW_SVD_GRAM] >= 3);
    assert_true(count[RW_SVD_GRAM_REFINED] >= 6);
    assert_true(count[RW_SVD_GESDD_FALLBACK] >= 3);

    for (int near = 0; near < 2; near++) {
        double s[K];
        logspace(s, K, 1.0, 1e-3);
        s[K - 1] = near ? s[K - 2] * (1 - 1e-9) : s[K - 2];
        double *w = build(K, K, s, EXACT);
        assert_int_equal(check_rel(w, K, K), RW_SVD_GESDD_FALLBACK);
        free(w);
    }
    /* 0.1% apart: the Gram eigenvector is off by about 1e-5 rad, its
     * residual ~1e-8 sigma_k — refused by a bound linear in it, accepted by
     * Kato-Temple's eps^2 / gap. */
    double s[K];
    logspace(s, K, 1.0, 1e-3);
    s[K - 1] = s[K - 2] / 1.001;
    double *w = build(K, K, s, EXACT);
    assert_int_equal(check_rel(w, K, K), RW_SVD_GRAM_REFINED);
    free(w);
}

static void test_rank_deficient(void **state)
{
    (void)state;
    double s[24] = {3, 2, 1};
    double *w32 = build(40, 24, s, ROUND_F32), *w64 = build(24, 40, s, EXACT);
    /* float32: sqrt(delta) ~ 1e-7 ||W|| exceeds the budget: dgesdd. */
    assert_int_equal(check_contract(w32, 40, 24, RW_DT_F32, s, KNOWN_F32),
                     RW_SVD_GESDD_FALLBACK);
    check_contract(w64, 24, 40, RW_DT_F64, s, KNOWN_F64);
    free(w32);
    free(w64);
    /* bfloat16's eps leaves room even for a rank-deficient matrix. */
    double *wb = build(40, 24, s, ROUND_BF16);
    assert_int_equal(check_contract(wb, 40, 24, RW_DT_BF16, s, 0x1p-7), RW_SVD_GRAM);
    assert_int_equal(check_contract(wb, 40, 24, RW_DT_F16, s, 0x1p-7), RW_SVD_GRAM);
    free(wb);
}

static void test_zero_matrix(void **state)
{
    (void)state;
    double w[7 * 5] = {0}, s[5] = {0}, sig[5];
    rw_svd_info info;
    rw_err err = {{0}};
    for (int t = 0; t < 2; t++) {
        int m = t ? 5 : 7, n = t ? 7 : 5;
        memset(sig, 0xff, sizeof sig);
        assert_int_equal(rw_svd_values_dt(w, m, n, RW_DT_F32, sig, NULL, &info, &err), RW_OK);
        assert_int_equal(info.method, RW_SVD_ZERO);
        assert_true(max_diff(sig, s, 5) == 0);
        assert_int_equal(rw_svd_values(w, m, n, sig, &err), RW_OK);
        assert_true(max_diff(sig, s, 5) == 0);
    }
}

static void test_vectors(void **state)
{
    (void)state;
    /* 1 x n and m x 1: one singular value, the norm. */
    double w[40], s[1];
    for (int i = 0; i < 40; i++)
        w[i] = (double)(float)(xs64_gauss(&rng_state) * 0.1);
    s[0] = frobenius(w, 40);
    assert_int_equal(check_contract(w, 1, 40, RW_DT_F32, s, KNOWN_F32), RW_SVD_GRAM);
    assert_int_equal(check_contract(w, 40, 1, RW_DT_F32, s, KNOWN_F32), RW_SVD_GRAM);
    assert_int_equal(check_contract(w, 40, 1, RW_DT_F64, s, KNOWN_F64), RW_SVD_GRAM);
    assert_int_equal(check_contract(w, 1, 40, RW_DT_F64, s, KNOWN_F64), RW_SVD_GRAM);
}

static void test_float64_large_goes_to_gesdd(void **state)
{
    (void)state;
    /* 1e-12 ||W||_F is beyond what any 500 x 300 Gram can promise
     * ((L + k) u sqrt(k) = 1.5e-12 > 1e-12 / 2): decided before forming it. */
    double s[300];
    logspace(s, 300, 1.0, 0.1);
    double *w = build(500, 300, s, EXACT);
    assert_int_equal(check_contract(w, 500, 300, RW_DT_F64, s, KNOWN_F64), RW_SVD_GESDD);
    assert_int_equal(check_contract(w, 500, 300, RW_DT_INT, s, KNOWN_F64), RW_SVD_GESDD);
    free(w);
    /* Wide enough for the QR-first variant (n >= 11m/6). */
    w = build(300, 560, s, EXACT);
    assert_int_equal(check_contract(w, 300, 560, RW_DT_F64, s, KNOWN_F64), RW_SVD_GESDD);
    free(w);
}

static void test_nonfinite(void **state)
{
    (void)state;
    double s[6];
    linspace(s, 6, 2, 1);
    double *w = build(9, 6, s, ROUND_F32);
    double sig[6];
    rw_err err = {{0}};
    rw_svd_info info;
    const double bad[2] = {NAN, -INFINITY};
    for (int t = 0; t < 2; t++) {
        w[4 * 6 + 5] = bad[t];
        assert_int_equal(rw_svd_values_dt(w, 9, 6, RW_DT_F32, sig, NULL, &info, &err), RW_EDATA);
        assert_int_equal(info.method, RW_SVD_NONE);
        for (int i = 0; i < 6; i++)
            assert_true(isnan(sig[i]));
        assert_non_null(strstr(err.msg, "row 4, column 5"));
        assert_int_equal(rw_svd_values(w, 9, 6, sig, &err), RW_EDATA);
        assert_true(isnan(sig[0]));
    }
    free(w);
}

static void test_empty(void **state)
{
    (void)state;
    double sig[1] = {42};
    rw_err err = {{0}};
    rw_svd_info info;
    assert_int_equal(rw_svd_values_dt(NULL, 0, 5, RW_DT_F32, sig, NULL, &info, &err), RW_OK);
    assert_int_equal(info.method, RW_SVD_NONE);
    assert_true(sig[0] == 42);
}

static void test_tolerance(void **state)
{
    (void)state;
    assert_true(rw_svd_tolerance(RW_DT_F32) == 0x1p-23);
    assert_true(rw_svd_tolerance(RW_DT_F16) == 0x1p-10);
    assert_true(rw_svd_tolerance(RW_DT_BF16) == 0x1p-7);
    assert_true(rw_svd_tolerance(RW_DT_F64) == 1e-12);
}

// ----------------------------------------------------------------------------
// workspace reuse and threads

#define NMAT 6
static const int mshape[NMAT][2] = {{70, 20}, {20, 70}, {64, 64}, {8, 90}, {90, 33}, {1, 50}};

typedef struct {
    double *w[NMAT];
    double *sig[NMAT];
} batch;

static void batch_init(batch *b, double *const *w)
{
    for (int i = 0; i < NMAT; i++) {
        b->w[i] = w[i];
        b->sig[i] = calloc(64, sizeof(double));
    }
}

static void batch_run(batch *b, rw_svd_ws *ws)
{
    rw_err err = {{0}};
    for (int rep = 0; rep < 3; rep++)
        for (int i = 0; i < NMAT; i++) {
            int m = mshape[i][0], n = mshape[i][1];
            double *a = dup(b->w[i], (size_t)m * n);
            assert_int_equal(rw_svd_values_dt(a, m, n, RW_DT_F32, b->sig[i], ws, NULL, &err),
                             RW_OK);
            free(a);
        }
}

static void *batch_thread(void *p)
{
    rw_svd_ws *ws = rw_svd_ws_new();
    batch_run(p, ws);
    rw_svd_ws_free(ws);
    return NULL;
}

static void make_batch_inputs(double **w)
{
    double s[64];
    for (int i = 0; i < NMAT; i++) {
        int m = mshape[i][0], n = mshape[i][1];
        logspace(s, m < n ? m : n, 3.0, i == 2 ? 1e-9 : 0.01); /* one falls back */
        w[i] = build(m, n, s, ROUND_F32);
    }
}

static void test_workspace_reuse(void **state)
{
    (void)state;
    double *w[NMAT];
    make_batch_inputs(w);
    batch fresh, reused;
    batch_init(&fresh, w);
    batch_init(&reused, w);
    batch_run(&fresh, NULL);
    rw_svd_ws *ws = rw_svd_ws_new();
    assert_non_null(ws);
    assert_int_equal(rw_svd_ws_size(ws), 0);
    batch_run(&reused, ws); /* shapes grow and shrink */
    assert_true(rw_svd_ws_size(ws) >= 64 * 64 * sizeof(double));
    for (int i = 0; i < NMAT; i++)
        assert_memory_equal(fresh.sig[i], reused.sig[i], 64 * sizeof(double));
    rw_svd_ws_free(ws);
    rw_svd_ws_free(NULL);
    for (int i = 0; i < NMAT; i++) {
        free(w[i]);
        free(fresh.sig[i]);
        free(reused.sig[i]);
    }
}

static void test_threads(void **state)
{
    (void)state;
    /* Two threads at once, each with its own workspace and single-threaded
     * BLAS, give the serial results bit for bit. */
    rw_blas_set_threads(1);
    double *w[NMAT];
    make_batch_inputs(w);
    batch serial, par[2];
    batch_init(&serial, w);
    batch_run(&serial, NULL);
    pthread_t th[2];
    for (int t = 0; t < 2; t++) {
        batch_init(&par[t], w);
        assert_int_equal(pthread_create(&th[t], NULL, batch_thread, &par[t]), 0);
    }
    for (int t = 0; t < 2; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < NMAT; i++) {
            assert_memory_equal(serial.sig[i], par[t].sig[i], 64 * sizeof(double));
            free(par[t].sig[i]);
        }
    for (int i = 0; i < NMAT; i++) {
        free(w[i]);
        free(serial.sig[i]);
    }
}

// ----------------------------------------------------------------------------
// metrics on hand-worked spectra

#define assert_near(x, want, tol)                                                              \
    do {                                                                                       \
        double x_ = (x), w_ = (want);                                                          \
        if (!(fabs(x_ - w_) <= (tol)))                                                         \
            fail_msg("%s = %.17g, want %.17g", #x, x_, w_);                                    \
    } while (0)

static void test_metrics_identity(void **state)
{
    (void)state;
    const double s[5] = {1, 1, 1, 1, 1};
    rw_metrics r;
    rw_metrics_compute(s, 5, 5, 8, RW_DT_F32, NAN, &r);
    assert_near(r.per, 1, 1e-15);
    assert_near(r.erank, 5, 1e-14);
    assert_near(r.stable_rank, 5, 0);
    assert_near(r.entropy, 1, 1e-15);
    assert_near(r.cond, 1, 0);
    assert_near(r.cond_rank, 1, 0);
    assert_near(r.num_rank, 5, 0);
    assert_near(r.fro, sqrt(5), 1e-15);
    assert_near(r.nuc, 5, 0);
}

static void test_metrics_rank_one(void **state)
{
    (void)state;
    const double s[4] = {2, 0, 0, 0};
    rw_metrics r;
    rw_metrics_compute(s, 4, 4, 6, RW_DT_F32, NAN, &r);
    assert_near(r.per, 0.25, 0);
    assert_near(r.erank, 1, 0);
    assert_near(r.stable_rank, 1, 0);
    assert_near(r.num_rank, 1, 0);
    assert_true(isinf(r.cond) && r.cond > 0);
    assert_near(r.cond_rank, 1, 0);
    assert_near(r.entropy, 0, 0);
    assert_near(r.sigma_max, 2, 0);
    assert_near(r.sigma_min, 0, 0);
}

static void test_metrics_4211(void **state)
{
    (void)state;
    /* sigma = (4, 2, 1, 1), sum 8: p = (1/2, 1/4, 1/8, 1/8), so
     *   H = 1/2 ln 2 + 1/4 ln 4 + 2 * 1/8 ln 8 = (1/2 + 1/2 + 3/4) ln 2 = 7/4 ln 2,
     *   erank = e^H = 2^(7/4) = 3.3635856610148585, per = 2^(7/4) / 4.
     * sum sigma^2 = 16 + 4 + 1 + 1 = 22: stable_rank = 22/16 = 1.375,
     *   q = (16, 4, 1, 1) / 22, entropy = -sum q ln q / ln 4,
     *   -sum q ln q = ln 22 - (16 ln 16 + 4 ln 4) / 22 = ln 22 - 72/22 ln 2. */
    const double s[4] = {4, 2, 1, 1};
    rw_metrics r;
    rw_metrics_compute(s, 4, 4, 7, RW_DT_F32, NAN, &r);
    assert_near(r.erank, 3.3635856610148585, 1e-14);
    assert_near(r.per, 3.3635856610148585 / 4, 1e-15);
    assert_near(r.stable_rank, 1.375, 1e-15);
    assert_near(r.entropy, (log(22) - 72.0 / 22 * log(2)) / log(4), 1e-15);
    assert_near(r.cond, 4, 0);
    assert_near(r.cond_rank, 4, 0);
    assert_near(r.num_rank, 4, 0);
    assert_near(r.fro, sqrt(22), 1e-15);
    assert_near(r.nuc, 8, 0);
}

static void test_metrics_zero(void **state)
{
    (void)state;
    const double s[3] = {0, 0, 0};
    rw_metrics r;
    rw_metrics_compute(s, 3, 3, 5, RW_DT_F32, NAN, &r);
    assert_true(isnan(r.erank));
    assert_true(isnan(r.per));
    assert_true(isnan(r.stable_rank));
    assert_true(isnan(r.entropy));
    assert_true(isnan(r.cond));
    assert_near(r.num_rank, 0, 0);
    assert_near(r.fro, 0, 0);
    assert_near(r.nuc, 0, 0);
}

static void test_metrics_k1(void **state)
{
    (void)state;
    const double s[1] = {3};
    rw_metrics r;
    rw_metrics_compute(s, 1, 1, 9, RW_DT_F32, NAN, &r);
    assert_true(isnan(r.entropy));
    assert_near(r.erank, 1, 0);
    assert_near(r.per, 1, 0);
    assert_near(r.stable_rank, 1, 0);
    assert_near(r.cond, 1, 0);
    assert_near(r.num_rank, 1, 0);
}

static void test_metrics_nan_spectrum(void **state)
{
    (void)state;
    const double s[3] = {NAN, NAN, NAN};
    rw_metrics r;
    rw_metrics_compute(s, 3, 3, 4, RW_DT_F32, NAN, &r);
    for (int id = 0; id < RW_M_COUNT; id++)
        assert_true(isnan(rw_metric_get(&r, (rw_metric_id)id)));
}

/* ------------------------------------------- pico-analyze's entry metrics */

/* The Gini coefficient by its pairwise definition, sum_ij |x_i - x_j| /
 * (2 n sum_i x_i) of x = |a| — an independent form of the sorted formula
 * (gini.py) rw_entry_stats_of evaluates. */
static double gini_pairwise(const double *a, size_t n)
{
    double num = 0, sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += fabs(a[i]);
        for (size_t j = 0; j < n; j++)
            num += fabs(fabs(a[i]) - fabs(a[j]));
    }
    return num / (2 * (double)n * sum);
}

static void entry_stats(const double *a, size_t n, rw_entry_stats *es)
{
    double v[64];
    assert_true(n <= 64);
    memcpy(v, a, n * sizeof *v);
    rw_entry_stats_of(v, n, es);
}

/* Hand-worked: [[1, -2], [3, 0]]: |w| sorted 0, 1, 2, 3, sum 6;
 * gini = (-3*0 - 1*1 + 1*2 + 3*3) / (4*6) = 10/24; ||w||_1 = 6,
 * ||w||_2 = sqrt(14): hoyer = (2 - 6/sqrt(14)) / (2 - 1); max_abs 3. */
static void test_entry_stats_hand(void **state)
{
    (void)state;
    rw_entry_stats es;
    const double a[4] = {1, -2, 3, 0};
    entry_stats(a, 4, &es);
    assert_near(es.gini, 10.0 / 24, 1e-15);
    assert_near(es.hoyer, 2 - 6 / sqrt(14), 1e-15);
    assert_near(es.max_abs, 3, 0);
    /* one non-zero entry of 6: gini (n - 1)/n, hoyer 1 */
    const double one[6] = {0, 0, 0, 0, 0, -5};
    entry_stats(one, 6, &es);
    assert_near(es.gini, 5.0 / 6, 1e-15);
    assert_near(es.hoyer, 1, 1e-15);
    assert_near(es.max_abs, 5, 0);
    /* equal magnitudes: gini 0, hoyer 0 */
    const double flat[6] = {2, -2, 2, 2, -2, 2};
    entry_stats(flat, 6, &es);
    assert_near(es.gini, 0, 1e-15);
    assert_near(es.hoyer, 0, 1e-15);
    assert_near(es.max_abs, 2, 0);
}

/* The zero matrix: gini 0 (gini.py's convention), hoyer nan (hoyer.py
 * divides by ||w||_2 = 0), max_abs 0. One entry: hoyer 0/0, nan. A
 * non-finite entry: all nan. */
static void test_entry_stats_edges(void **state)
{
    (void)state;
    rw_entry_stats es;
    const double z[6] = {0};
    entry_stats(z, 6, &es);
    assert_true(es.gini == 0 && isnan(es.hoyer) && es.max_abs == 0);
    const double x1[1] = {-3};
    entry_stats(x1, 1, &es);
    assert_true(es.gini == 0 && isnan(es.hoyer) && es.max_abs == 3);
    const double bad[3] = {1, NAN, 2}, inf[3] = {1, -INFINITY, 2};
    entry_stats(bad, 3, &es);
    assert_true(isnan(es.gini) && isnan(es.hoyer) && isnan(es.max_abs));
    entry_stats(inf, 3, &es);
    assert_true(isnan(es.gini) && isnan(es.hoyer) && isnan(es.max_abs));
}

/* A 7 x 5 matrix of mixed signs and ties against the definitions written
 * out here: the pairwise Gini, Hoyer's formula, the largest |w|. */
static void test_entry_stats_formulas(void **state)
{
    (void)state;
    double a[35], l1 = 0, l2 = 0, mx = 0;
    for (int i = 0; i < 35; i++) {
        a[i] = ((i * 37 + 11) % 23 - 11) / 7.0;
        l1 += fabs(a[i]);
        l2 += a[i] * a[i];
        mx = fmax(mx, fabs(a[i]));
    }
    rw_entry_stats es;
    entry_stats(a, 35, &es);
    assert_near(es.gini, gini_pairwise(a, 35), 1e-14);
    assert_near(es.hoyer, (sqrt(35) - l1 / sqrt(l2)) / (sqrt(35) - 1), 1e-14);
    assert_near(es.max_abs, mx, 0);
    /* the entry columns of a spectrum's metrics are nan: not of sigma */
    const double s[2] = {2, 1};
    rw_metrics r;
    rw_metrics_compute(s, 2, 2, 2, RW_DT_F64, NAN, &r);
    assert_true(isnan(r.gini) && isnan(r.hoyer) && isnan(r.max_abs));
    assert_string_equal(rw_metric_name(RW_M_GINI), "gini");
    assert_string_equal(rw_metric_name(RW_M_HOYER), "hoyer");
    assert_string_equal(rw_metric_name(RW_M_MAX_ABS), "max_abs");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_well_conditioned),
        cmocka_unit_test(test_ill_conditioned),
        cmocka_unit_test(test_moderately_conditioned_gram),
        cmocka_unit_test(test_relative_accuracy),
        cmocka_unit_test(test_refined_sweep),
        cmocka_unit_test(test_rank_deficient),
        cmocka_unit_test(test_zero_matrix),
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_float64_large_goes_to_gesdd),
        cmocka_unit_test(test_nonfinite),
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_tolerance),
        cmocka_unit_test(test_workspace_reuse),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_metrics_identity),
        cmocka_unit_test(test_metrics_rank_one),
        cmocka_unit_test(test_metrics_4211),
        cmocka_unit_test(test_metrics_zero),
        cmocka_unit_test(test_metrics_k1),
        cmocka_unit_test(test_metrics_nan_spectrum),
        cmocka_unit_test(test_entry_stats_hand),
        cmocka_unit_test(test_entry_stats_edges),
        cmocka_unit_test(test_entry_stats_formulas),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
