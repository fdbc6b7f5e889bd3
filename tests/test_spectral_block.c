/*
 * test_spectral_block.c — the bottom block of a large matrix recomputed
 * from W (RW_SVD_GRAM_BLOCK, analyzers/core/svd_block.c).
 *
 * The matrices are W = (H_m / sqrt m) D (H_n[0..k-1] / sqrt n) with Sylvester
 * Hadamard matrices H (entries +-1, H H^T = n I), integer D and m, n powers
 * of two, then random row signs and a column permutation: every entry is a
 * sum of at most k integers divided by a power of two, so W is exact in
 * double and its singular values are exactly D's, known without any SVD.
 * The checks: the method taken; every value within the contract
 * (tol(float32) ||W||_F) of the known one and within the reported bound;
 * sigma_min within rel of the known one; and refusals where no certificate
 * can exist (rank-deficient, an exactly repeated bottom pair under the
 * relative requirement, sigma_min below num_rank's threshold).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyzers/core/spectral.h"
#include "fixtures/synth.h"

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static int hadamard(int i, int j)
{
    return __builtin_parity((unsigned)(i & j)) ? -1 : 1;
}

/* v <- H_len v (Sylvester order), the fast Walsh-Hadamard transform: exact
 * on integers below 2^53 / len. */
static void fwht(double *v, int len)
{
    for (int h = 1; h < len; h *= 2)
        for (int i = 0; i < len; i += 2 * h)
            for (int j = i; j < i + h; j++) {
                double a = v[j], b = v[j + h];
                v[j] = a + b;
                v[j + h] = a - b;
            }
}

/* Row-major m x n W with singular values d[0..k-1] (integers, descending),
 * m and n powers of two: column j of H_m[:, 0..k-1] diag(d) H_n[0..k-1, j],
 * by one transform of length m per column, scaled by 1 / sqrt(m n) (a power
 * of two), then random row signs and a column permutation. */
static double *build(int m, int n, const double *d)
{
    int k = m < n ? m : n;
    double *w = malloc(sizeof(double) * (size_t)m * (size_t)n);
    double *col = malloc(sizeof(double) * (size_t)m), *sign = malloc(sizeof(double) * (size_t)m);
    int *perm = malloc(sizeof(int) * (size_t)n);
    assert_non_null(w);
    assert_non_null(col);
    assert_non_null(sign);
    assert_non_null(perm);
    for (int j = 0; j < n; j++)
        perm[j] = j;
    for (int j = n - 1; j > 0; j--) {
        int t = (int)(xs64_uniform(&rng_state) * (j + 1)), s = perm[j];
        perm[j] = perm[t];
        perm[t] = s;
    }
    for (int i = 0; i < m; i++)
        sign[i] = xs64_uniform(&rng_state) < 0.5 ? -1 : 1;
    double scale = 1 / sqrt((double)m * (double)n); /* m n = 4^e */
    for (int j = 0; j < n; j++) {
        for (int l = 0; l < m; l++)
            col[l] = l < k ? d[l] * hadamard(l, j) : 0;
        fwht(col, m);
        for (int i = 0; i < m; i++)
            w[(size_t)i * n + perm[j]] = sign[i] * col[i] * scale;
    }
    free(col);
    free(sign);
    free(perm);
    return w;
}

/* Runs rw_svd_values_acc on (a copy of) w and checks the values against
 * the known d: within the contract and the reported bound, and sigma_min
 * within rel. Returns the method. */
static rw_svd_method run(const double *w, int m, int n, const double *d, double rel)
{
    int k = m < n ? m : n;
    size_t numel = (size_t)m * (size_t)n;
    double *a = malloc(sizeof(double) * numel), *s = malloc(sizeof(double) * (size_t)k);
    assert_non_null(a);
    assert_non_null(s);
    memcpy(a, w, sizeof(double) * numel);
    rw_svd_info info;
    rw_err err;
    assert_int_equal(rw_svd_values_acc(a, m, n, RW_DT_F32, rel, s, NULL, &info, &err), RW_OK);
    double f = cblas_dnrm2(k, d, 1), worst = 0;
    for (int i = 0; i < k; i++)
        worst = fmax(worst, fabs(s[i] - d[i]));
    print_message("%dx%d rel %g: %s, bound %.3g, worst error %.3g, sigma_min %.17g (%.17g)\n", m,
                  n, rel, rw_svd_method_name(info.method), info.err_bound, worst, s[k - 1],
                  d[k - 1]);
    assert_true(worst <= rw_svd_tolerance(RW_DT_F32) * f);
    if (info.method == RW_SVD_GRAM_BLOCK) {
        assert_true(worst <= info.err_bound);
        assert_true(info.err_bound <= 0.5 * rw_svd_tolerance(RW_DT_F32) * f);
    }
    if (rel > 0 && info.method != RW_SVD_GESDD_FALLBACK)
        assert_true(fabs(s[0] - d[0]) <= rel * d[0]);
    if (rel > 0 && d[k - 1] > 0)
        assert_true(fabs(s[k - 1] - d[k - 1]) <= rel * d[k - 1]);
    free(a);
    free(s);
    return info.method;
}

/* A decaying spectrum from 2^20, a cluster of 8 equal values in the middle,
 * and the given bottom values. */
static double *spectrum(int k, const double *bottom, int nb)
{
    double *d = malloc(sizeof(double) * (size_t)k);
    assert_non_null(d);
    for (int i = 0; i < k; i++)
        d[i] = floor(1048576.0 * pow(1 - (double)i / k, 2)) + 5000;
    for (int i = k / 2; i < k / 2 + 8; i++)
        d[i] = d[k / 2];
    for (int i = 0; i < nb; i++)
        d[k - nb + i] = bottom[i];
    return d;
}

/* d (k values) as an m x n matrix through run(), which must take method
 * want; frees d. */
static void check_d(int m, int n, double *d, double rel, rw_svd_method want)
{
    double *w = build(m, n, d);
    assert_int_equal(run(w, m, n, d, rel), want);
    free(w);
    free(d);
}

static void check(int m, int n, const double *bottom, int nb, double rel, rw_svd_method want)
{
    check_d(m, n, spectrum(m < n ? m : n, bottom, nb), rel, want);
}

/* --fast's contract on a square matrix whose three smallest values (3, 2, 1
 * against ||W||_F ~ 1.5e7) the Gram result cannot resolve: the block path
 * recomputes them. */
static void test_square_contract(void **state)
{
    (void)state;
    const double bottom[3] = {3, 2, 1};
    check(1024, 1024, bottom, 3, 0, RW_SVD_GRAM_BLOCK);
}

/* The default relative requirement on a square matrix whose bottom pair is
 * 0.1% apart (Gram eigenvectors off by ~0.04 rad): inverse iteration with
 * the LU of W, then Kato-Temple. sigma_min = 1000 within 2e-10. */
static void test_square_rel(void **state)
{
    (void)state;
    const double bottom[3] = {1500, 1001, 1000}, apart[2] = {1100, 1000};
    check(1024, 1024, bottom, 3, RW_SVD_REL_DEFAULT, RW_SVD_GRAM_BLOCK);
    /* 10% apart: the Gram eigenvector alone, with compensated residuals. */
    check(1024, 1024, apart, 2, RW_SVD_REL_DEFAULT, RW_SVD_GRAM_BLOCK);
}

/* Wide and tall 256 x 1024: sigma_min / ||W||_F ~ 1e-4, where the double
 * residual's rounding floor stops refine_sigma_min; the Gram eigenvector
 * with compensated residuals reaches 2e-10. */
static void test_rectangular_rel(void **state)
{
    (void)state;
    const double bottom[2] = {1100, 1000};
    check(256, 1024, bottom, 2, RW_SVD_REL_DEFAULT, RW_SVD_GRAM_BLOCK);
    check(1024, 256, bottom, 2, RW_SVD_REL_DEFAULT, RW_SVD_GRAM_BLOCK);
}

/* A flat spectrum (||W||_F / sigma_1 ~ 31 at 1024 x 2048): the Gram bound
 * of sigma_1 is 3.3e-10 of it, so sigma_1 too is recomputed (its Gram
 * eigenvector, Kato-Temple above sigma_2's upper bound) to reach 2e-10. */
static void test_top_rel(void **state)
{
    (void)state;
    double *d = malloc(sizeof(double) * 1024);
    assert_non_null(d);
    d[0] = 1048576;
    for (int i = 1; i < 1024; i++)
        d[i] = 1017000 - 10 * i;
    check_d(1024, 2048, d, RW_SVD_REL_DEFAULT, RW_SVD_GRAM_BLOCK);
}

/* Refusals, then the orthogonal path, values still right: 40 zero values
 * (more than the block takes); an exactly repeated bottom pair under the
 * relative requirement (Kato-Temple has no gap, Kahan's bound is linear);
 * sigma_min = 1 below num_rank's threshold u32 ||W||_F ~ 0.9 doubled,
 * while --fast takes the block path for the same matrix. */
static void test_refusals(void **state)
{
    (void)state;
    const double zeros[40] = {0}, pair[3] = {1500, 1000, 1000}, low[3] = {3, 2, 1};
    check(512, 512, zeros, 40, 0, RW_SVD_GESDD_FALLBACK);
    check(512, 512, pair, 3, RW_SVD_REL_DEFAULT, RW_SVD_GESDD_FALLBACK);
    check(512, 512, low, 3, RW_SVD_REL_DEFAULT, RW_SVD_GESDD_FALLBACK);
    check(512, 512, low, 3, 0, RW_SVD_GRAM_BLOCK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_square_contract),
        cmocka_unit_test(test_square_rel),
        cmocka_unit_test(test_rectangular_rel),
        cmocka_unit_test(test_top_rel),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
