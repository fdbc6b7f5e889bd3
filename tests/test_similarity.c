/*
 * test_similarity.c — linear CKA and PWCCA against values known without
 * them: hand-worked small cases, invariances (an orthogonal or invertible
 * transform and a scale give 1), the closed-form expectation of CKA for
 * independent Gaussian matrices, and one-feature PWCCA = |correlation|.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analyzers/core/similarity.h"
#include "fixtures/synth.h"

/* n x k Gaussian matrix from r (new). */
static double *gauss(rw_rng *r, size_t n, size_t k)
{
    double *m = malloc(n * k * sizeof *m);
    assert_non_null(m);
    for (size_t i = 0; i < n * k; i++)
        m[i] = rng_normal(r);
    return m;
}

/* a (n x k) times b (k x q), row-major, by loops (new). */
static double *matmul(const double *a, const double *b, size_t n, size_t k, size_t q)
{
    double *c = calloc(n * q, sizeof *c);
    assert_non_null(c);
    for (size_t i = 0; i < n; i++)
        for (size_t l = 0; l < k; l++)
            for (size_t j = 0; j < q; j++)
                c[i * q + j] += a[i * k + l] * b[l * q + j];
    return c;
}

static void cka_hand_worked(void **state)
{
    (void)state;
    /* X = [1 0; 0 1; -1 -1], Y = [1; 0; -1] (both centred):
     * X'X = [2 1; 1 2], ||X'X||_F = sqrt(10); X'Y = [2; 1], ||X'Y||^2 = 5;
     * Y'Y = 2: CKA = 5 / (2 sqrt(10)). */
    static const double x[6] = {1, 0, 0, 1, -1, -1}, y[3] = {1, 0, -1};
    rw_err err = {{0}};
    double c;
    assert_int_equal(rw_cka(x, y, 3, 2, 1, false, &c, &err), RW_OK);
    assert_true(fabs(c - 5.0 / (2.0 * sqrt(10.0))) < 1e-15);
    /* shifting a column changes nothing: CKA centres */
    static const double xs[6] = {4, -2, 3, -1, 2, -3};
    assert_int_equal(rw_cka(xs, y, 3, 2, 1, false, &c, &err), RW_OK);
    assert_true(fabs(c - 5.0 / (2.0 * sqrt(10.0))) < 1e-15);
    /* symmetric */
    double c2;
    assert_int_equal(rw_cka(y, x, 3, 1, 2, false, &c2, &err), RW_OK);
    assert_true(fabs(c2 - c) < 1e-15);
    /* too few samples */
    assert_int_equal(rw_cka(x, y, 1, 2, 1, false, &c, &err), RW_EUSAGE);
    assert_int_equal(rw_cka(x, y, 3, 2, 1, true, &c, &err), RW_EUSAGE);
    /* a constant Y: nan */
    static const double k[3] = {7, 7, 7};
    assert_int_equal(rw_cka(x, k, 3, 2, 1, false, &c, &err), RW_OK);
    assert_true(isnan(c));
}

/* Q: an orthogonal p x p matrix, from Gram-Schmidt on a Gaussian one (new). */
static double *orthogonal(rw_rng *r, size_t p)
{
    double *q = gauss(r, p, p);
    for (size_t j = 0; j < p; j++) {
        for (size_t k = 0; k < j; k++) {
            double d = 0;
            for (size_t i = 0; i < p; i++)
                d += q[i * p + j] * q[i * p + k];
            for (size_t i = 0; i < p; i++)
                q[i * p + j] -= d * q[i * p + k];
        }
        double nrm = 0;
        for (size_t i = 0; i < p; i++)
            nrm += q[i * p + j] * q[i * p + j];
        for (size_t i = 0; i < p; i++)
            q[i * p + j] /= sqrt(nrm);
    }
    return q;
}

static void cka_invariances(void **state)
{
    (void)state;
    rw_rng r;
    rng_seed(&r, 7);
    size_t n = 200, p = 12;
    double *x = gauss(&r, n, p), *q = orthogonal(&r, p);
    double *xq = matmul(x, q, n, p, p);
    double *x3 = malloc(n * p * sizeof *x3);
    for (size_t i = 0; i < n * p; i++)
        x3[i] = 3.5 * x[i] + 1.0;
    rw_err err = {{0}};
    double c;
    for (int deb = 0; deb < 2; deb++) {
        assert_int_equal(rw_cka(x, xq, n, p, p, deb, &c, &err), RW_OK);
        assert_true(fabs(c - 1) < 1e-12);
        assert_int_equal(rw_cka(x, x3, n, p, p, deb, &c, &err), RW_OK);
        assert_true(fabs(c - 1) < 1e-12);
    }
    free(x);
    free(q);
    free(xq);
    free(x3);
}

static void cka_independent_near_expectation(void **state)
{
    (void)state;
    /* X, Y independent Gaussian, n x p and n x q: E||X'Y||^2 = (n-1) p q and
     * E||X'X||_F^2 = p (n-1)(n+1) + p (p-1)(n-1) for centred columns, so
     * CKA ~ sqrt(p q / ((n + p)(n + q))); the debiased estimate ~ 0. */
    rw_rng r;
    rng_seed(&r, 11);
    size_t n = 1000, p = 20, q = 30;
    double mean = 0, dmean = 0;
    int trials = 8;
    rw_err err = {{0}};
    for (int t = 0; t < trials; t++) {
        double *x = gauss(&r, n, p), *y = gauss(&r, n, q), c, d;
        assert_int_equal(rw_cka(x, y, n, p, q, false, &c, &err), RW_OK);
        assert_int_equal(rw_cka(x, y, n, p, q, true, &d, &err), RW_OK);
        mean += c / trials;
        dmean += d / trials;
        free(x);
        free(y);
    }
    double expect = sqrt((double)(p * q) / ((double)(n + p) * (double)(n + q)));
    assert_true(fabs(mean - expect) < 0.1 * expect);
    assert_true(fabs(dmean) < 0.01);
}

static void pwcca_one_feature_is_correlation(void **state)
{
    (void)state;
    /* x = 1 2 3 4, y = 1 3 2 4: corr = 4 / sqrt(5 * 5) = 0.8; with epsilon
     * added to the (unit, scaled) variances: 0.8 / (1 + epsilon) */
    static const double x[4] = {1, 2, 3, 4}, y[4] = {1, 3, 2, 4};
    rw_err err = {{0}};
    double v;
    assert_int_equal(rw_pwcca(x, y, 4, 1, 1, 0.0, &v, &err), RW_OK);
    assert_true(fabs(v - 0.8) < 1e-14);
    assert_int_equal(rw_pwcca(x, y, 4, 1, 1, 1e-6, &v, &err), RW_OK);
    assert_true(fabs(v - 0.8 / (1 + 1e-6)) < 1e-14);
    /* anticorrelated: |rho| */
    static const double yn[4] = {-1, -3, -2, -4};
    assert_int_equal(rw_pwcca(x, yn, 4, 1, 1, 0.0, &v, &err), RW_OK);
    assert_true(fabs(v - 0.8) < 1e-14);
}

static void pwcca_invertible_transform_is_one(void **state)
{
    (void)state;
    rw_rng r;
    rng_seed(&r, 5);
    size_t n = 300, p = 10;
    double *x = gauss(&r, n, p), *m = gauss(&r, p, p);
    for (size_t i = 0; i < p; i++)
        m[i * p + i] += 4.0; /* well conditioned */
    double *xm = matmul(x, m, n, p, p);
    rw_err err = {{0}};
    double v;
    assert_int_equal(rw_pwcca(x, xm, n, p, p, 0.0, &v, &err), RW_OK);
    assert_true(fabs(v - 1) < 1e-9);
    assert_int_equal(rw_pwcca(xm, x, n, p, p, 0.0, &v, &err), RW_OK);
    assert_true(fabs(v - 1) < 1e-9);
    /* fewer features on one side (Y = the first 4 of X M): still 1 */
    double *y4 = malloc(n * 4 * sizeof *y4);
    for (size_t i = 0; i < n; i++)
        memcpy(&y4[i * 4], &xm[i * p], 4 * sizeof *y4);
    double *x4 = malloc(n * 4 * sizeof *x4);
    for (size_t i = 0; i < n; i++)
        memcpy(&x4[i * 4], &xm[i * p], 4 * sizeof *x4);
    assert_int_equal(rw_pwcca(x4, xm, n, 4, p, 0.0, &v, &err), RW_OK);
    assert_true(fabs(v - 1) < 1e-9);
    free(x);
    free(m);
    free(xm);
    free(y4);
    free(x4);
}

static void pwcca_independent_is_small(void **state)
{
    (void)state;
    /* independent Gaussian X, Y with n >> p: every canonical correlation is
     * O(sqrt(p / n)) */
    rw_rng r;
    rng_seed(&r, 3);
    size_t n = 4000, p = 8;
    double *x = gauss(&r, n, p), *y = gauss(&r, n, p), v;
    rw_err err = {{0}};
    assert_int_equal(rw_pwcca(x, y, n, p, p, 1e-6, &v, &err), RW_OK);
    assert_true(v > 0 && v < 4 * sqrt((double)p / (double)n));
    free(x);
    free(y);
}

static void pwcca_needs_more_samples_than_features(void **state)
{
    (void)state;
    double x[12] = {0}, v;
    rw_err err = {{0}};
    assert_int_equal(rw_pwcca(x, x, 3, 4, 4, 1e-6, &v, &err), RW_EDATA);
    assert_non_null(strstr(err.msg, "more samples than features: 3 samples of 4 and 4"));
    assert_int_equal(rw_pwcca(x, x, 4, 4, 1, 1e-6, &v, &err), RW_EDATA);
    /* a constant side: no feature left, nan */
    static const double c[4] = {2, 2, 2, 2}, y[4] = {1, 2, 3, 5};
    assert_int_equal(rw_pwcca(c, y, 4, 1, 1, 1e-6, &v, &err), RW_OK);
    assert_true(isnan(v));
}

/* A side prepared once gives rw_pwcca's numbers to the last bit, for X
 * of other widths and from a reused workspace; misuse is refused. */
static void pwcca_prepared_side_is_the_same(void **state)
{
    (void)state;
    rw_rng r;
    rng_seed(&r, 11);
    size_t n = 60, q = 7;
    double *y = gauss(&r, n, q);
    for (size_t i = 0; i < n * q; i++)
        y[i] += 0.5; /* the means matter (added back to the directions) */
    rw_err err = {{0}};
    rw_pwcca_side *side = NULL;
    assert_int_equal(rw_pwcca_side_new(y, n, q, 1e-6, &side, &err), RW_OK);
    rw_sim_ws *ws = rw_sim_ws_new();
    assert_non_null(ws);
    size_t widths[] = {3, 7, 12, 7};
    for (size_t k = 0; k < sizeof widths / sizeof *widths; k++) {
        size_t p = widths[k];
        double *x = gauss(&r, n, p), a, b;
        for (size_t i = 0; i < n; i++) /* correlated with y */
            for (size_t j = 0; j < p && j < q; j++)
                x[i * p + j] += y[i * q + j];
        assert_int_equal(rw_pwcca(x, y, n, p, q, 1e-6, &a, &err), RW_OK);
        assert_int_equal(rw_pwcca_against(x, n, p, side, ws, &b, &err), RW_OK);
        assert_true(a > 0 && a <= 1);
        assert_memory_equal(&a, &b, sizeof a);
        free(x);
    }
    double v;
    assert_int_equal(rw_pwcca_against(y, n - 1, q, side, ws, &v, &err), RW_EUSAGE);
    assert_true(isnan(v));
    rw_pwcca_side_free(side);
    assert_int_equal(rw_pwcca_side_new(y, q, q, 1e-6, &side, &err), RW_EDATA);
    assert_null(side);
    rw_sim_ws_free(ws);
    free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cka_hand_worked),
        cmocka_unit_test(cka_invariances),
        cmocka_unit_test(cka_independent_near_expectation),
        cmocka_unit_test(pwcca_one_feature_is_correlation),
        cmocka_unit_test(pwcca_invertible_transform_is_one),
        cmocka_unit_test(pwcca_independent_is_small),
        cmocka_unit_test(pwcca_needs_more_samples_than_features),
        cmocka_unit_test(pwcca_prepared_side_is_the_same),
    };
    return cmocka_run_group_tests_name("similarity", tests, NULL, NULL);
}
