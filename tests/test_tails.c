/*
 * test_tails.c — the power-law fit and the per-layer metrics of tails.h
 * against an independent re-implementation of WeightWatcher's formulas (a
 * plain O(n^2) scan over every candidate xmin, written from
 * docs/tails.md), a hand-worked three-point example, Pareto samples of a
 * known exponent (fixed seed), and the MP fit on a spectrum of known
 * sigma.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "analyzers/core/tails.h"

/* The reference: WWFit's loop, term by term with pow, first argmin. */
typedef struct {
    double alpha, D;
    size_t i;
} ref_fit;

static ref_fit ref_scan(const double *x, size_t n)
{
    ref_fit best = {NAN, INFINITY, 0};
    for (size_t i = 0; i + 1 < n; i++) {
        double ni = (double)(n - i), s = 0;
        for (size_t j = i; j < n; j++)
            s += log(x[j]);
        double alpha = 1 + ni / (s - ni * log(x[i]));
        double D = 1;
        if (alpha > 1) {
            D = 0;
            for (size_t j = i; j < n; j++) {
                double v = fabs(1 - pow(x[j] / x[i], 1 - alpha) - (double)(j - i) / ni);
                if (v > D)
                    D = v;
            }
        }
        if (D < best.D)
            best = (ref_fit){alpha, D, i};
    }
    return best;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* xorshift64*: a fixed, documented stream of uniforms in (0, 1). */
static double uniform(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return ((double)((*s * 2685821657736338717ULL) >> 11) + 0.5) / 9007199254740992.0;
}

static void check_against_ref(const double *x, size_t n)
{
    double *work = malloc((3 * n + 1) * sizeof *work);
    assert_non_null(work);
    rw_plfit f;
    assert_true(rw_plfit_compute(x, n, work, &f));
    ref_fit r = ref_scan(x, n);
    assert_int_equal(f.ixmin, r.i);
    assert_true(fabs(f.alpha - r.alpha) <= 1e-9 * r.alpha);
    assert_true(fabs(f.D - r.D) <= 1e-9 * r.D);
    assert_true(f.xmin == x[r.i] && f.xmax == x[n - 1]);
    assert_int_equal(f.num_pl_spikes, n - r.i);
    free(work);
}

static void three_points_by_hand(void **state)
{
    (void)state;
    /* x = 1, 2, 4. xmin = 1: alpha = 1 + 3 / (3 ln 2); the CDF at 2 and 4 is
     * 1 - e^-1 and 1 - e^-2 against 1/3 and 2/3: D = 1 - 1/e - 1/3.
     * xmin = 2: alpha = 1 + 2 / ln 2, D = |1 - e^-2 - 1/2| = 0.3647 > D. */
    double x[] = {1, 2, 4}, work[10];
    rw_plfit f;
    assert_true(rw_plfit_compute(x, 3, work, &f));
    assert_int_equal(f.ixmin, 0);
    assert_true(fabs(f.alpha - (1 + 1 / log(2.0))) < 1e-14);
    assert_true(fabs(f.D - (1 - exp(-1.0) - 1.0 / 3)) < 1e-14);
    assert_int_equal(f.num_pl_spikes, 3);
    assert_true(f.xmax == 4);
}

static void pareto_recovers_alpha(void **state)
{
    (void)state;
    /* 3000 Pareto samples of density ~ x^-3 above 1, under a bulk of 2000
     * uniforms in (0.05, 1): the fit finds the tail and alpha = 3. */
    enum { NT = 3000, NB = 2000, N = NT + NB };
    static double x[N];
    uint64_t s = 20261127;
    for (size_t i = 0; i < NT; i++)
        x[i] = pow(uniform(&s), -1.0 / 2.0);
    for (size_t i = NT; i < N; i++)
        x[i] = 0.05 + 0.95 * uniform(&s);
    qsort(x, N, sizeof *x, cmp_dbl);
    check_against_ref(x, N);
    static double work[3 * N + 1];
    rw_plfit f;
    assert_true(rw_plfit_compute(x, N, work, &f));
    assert_true(fabs(f.alpha - 3) < 0.15);
    assert_true(f.xmin >= 1 && f.num_pl_spikes > 500); /* in the tail */
    /* the scan prunes: far fewer terms than the n^2 / 2 of the plain scan */
    assert_true(f.evaluated < (size_t)N * N / 8);
    /* Pure Pareto tails of other exponents, and small samples. */
    for (int a = 0; a < 4; a++) {
        size_t n = a == 0 ? 5 : a == 1 ? 40 : a == 2 ? 300 : 1000;
        for (size_t i = 0; i < n; i++)
            x[i] = pow(uniform(&s), -1.0 / (1.0 + a));
        qsort(x, n, sizeof *x, cmp_dbl);
        check_against_ref(x, n);
    }
}

/* The old pruned scan's worst case: ln x uniform (every candidate's tail is
 * the same shape, every D_i near the best, so each scan ran through about
 * n/9 terms: O(n^2)). Against the plain scan; the winner's D is the maximum
 * over every term, bit for bit; and the branch and bound's work stays a
 * few terms per candidate. */
static void uniform_log_worst_case(void **state)
{
    (void)state;
    enum { N = 3000 };
    static double x[N], work[3 * N + 1];
    for (size_t j = 0; j < N; j++)
        x[j] = exp(3.0 * ((double)j + 0.5) / N);
    check_against_ref(x, N);
    rw_plfit f;
    assert_true(rw_plfit_compute(x, N, work, &f));
    double ni = (double)(N - f.ixmin), am1 = f.alpha - 1, d = 0;
    for (size_t j = f.ixmin; j < N; j++) {
        double u = log(x[j]) - log(x[f.ixmin]);
        double v = fabs((u == 0 ? 0 : -expm1(-am1 * u)) - (double)(j - f.ixmin) / ni);
        d = v > d ? v : d;
    }
    assert_true(f.D == d);
    assert_true(f.evaluated < (size_t)16 * N);
}

static void ties_and_degenerate(void **state)
{
    (void)state;
    double work[64];
    rw_plfit f;
    double same[] = {2, 2, 2, 2};
    assert_false(rw_plfit_compute(same, 4, work, &f));
    double one[] = {1};
    assert_false(rw_plfit_compute(one, 1, work, &f));
    double unsorted[] = {2, 1, 3};
    assert_false(rw_plfit_compute(unsorted, 3, work, &f));
    double ties[] = {0.5, 1, 1, 1, 2, 3, 3, 5, 8, 13, 13, 40};
    check_against_ref(ties, 12);
}

static void truncated_mle(void **state)
{
    (void)state;
    /* The root solves 1/beta - lr / (e^(beta lr) - 1) = lbar. */
    double lbar = 0.7, lr = 3.0;
    double a = rw_plfit_alpha_truncated(lbar, lr), b = a - 1;
    assert_true(fabs(1 / b - lr / expm1(b * lr) - lbar) < 1e-12);
    /* lbar = lr / 2: beta = 0, alpha = 1 (a flat density in ln x) */
    assert_true(fabs(rw_plfit_alpha_truncated(1.5, 3.0) - 1) < 1e-12);
    /* a far xmax: the untruncated MLE 1 + 1 / lbar */
    assert_true(fabs(rw_plfit_alpha_truncated(0.5, 200.0) - 3) < 1e-12);
    assert_true(isnan(rw_plfit_alpha_truncated(3.0, 3.0)));
    assert_true(isnan(rw_plfit_alpha_truncated(0.5, 0.0)));
}

static void row_statuses_and_norms(void **state)
{
    (void)state;
    rw_tails t;
    /* 12 x 20, sigma = 12, 11, ..., 2, 0 (descending; one zero). */
    double sg[12];
    for (int i = 0; i < 12; i++)
        sg[i] = i < 11 ? 12 - i : 0;
    assert_int_equal(rw_tails_compute(sg, 12, 12, 20, &t, NULL), RW_OK);
    assert_int_equal(t.status, RW_TAILS_OK);
    double sum = 0, h = 0;
    for (int v = 2; v <= 12; v++)
        sum += v * v;
    for (int i = 0; i < 12; i++) {
        double p = sg[i] * sg[i] / sum + 1e-10;
        h -= p * log(p);
    }
    assert_true(fabs(t.log_norm - log10(sum)) < 1e-14);
    assert_true(fabs(t.log_spectral_norm - log10(144.0)) < 1e-14);
    assert_true(t.num_evals == 11 && t.matrix_rank == 11 && t.rank_loss == 1);
    assert_true(fabs(t.ww_entropy - h / log(11 + 1e-10)) < 1e-14);
    assert_true(fabs(t.alpha_weighted - t.alpha * log10(144.0)) < 1e-14);
    double ev[11];
    for (int i = 0; i < 11; i++)
        ev[i] = (double)(2 + i) * (2 + i);
    ref_fit r = ref_scan(ev, 11);
    assert_true(fabs(t.alpha - r.alpha) < 1e-12 * r.alpha && t.xmin == ev[r.i]);
    double an = 0;
    for (int i = 0; i < 11; i++)
        an += pow(ev[i], t.alpha);
    assert_true(fabs(t.log_alpha_norm - log10(an)) < 1e-13);
    assert_true(t.num_pl_spikes == 11 - (double)r.i && t.xmax == 144);
    assert_true(isnan(t.rand_distance));

    /* 5 x 5: WeightWatcher skips it (min_evals 10); norms stay. */
    assert_int_equal(rw_tails_compute(sg, 5, 5, 5, &t, NULL), RW_OK);
    assert_int_equal(t.status, RW_TAILS_FEW_EVALS);
    assert_true(isnan(t.alpha) && isnan(t.D) && isnan(t.mp.mp_softrank));
    assert_true(fabs(t.log_spectral_norm - log10(144.0)) < 1e-14);
    /* one eigenvalue above 1e-5 */
    double low[12] = {1, 1e-4, 1e-4, 1e-4, 1e-4, 1e-4, 1e-4, 1e-4, 1e-4, 1e-4, 1e-4, 1e-4};
    assert_int_equal(rw_tails_compute(low, 12, 12, 12, &t, NULL), RW_OK);
    assert_int_equal(t.status, RW_TAILS_FEW_EVALS);
    assert_true(t.num_evals == 1);
    /* equal singular values; the zero matrix; NaN entries */
    double eq[12] = {3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3}, zero[12] = {0};
    assert_int_equal(rw_tails_compute(eq, 12, 12, 12, &t, NULL), RW_OK);
    assert_int_equal(t.status, RW_TAILS_DEGENERATE);
    assert_true(t.stable_rank == 12);
    assert_int_equal(rw_tails_compute(zero, 12, 12, 12, &t, NULL), RW_OK);
    assert_int_equal(t.status, RW_TAILS_DEGENERATE);
    double bad[12] = {NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN, NAN};
    assert_int_equal(rw_tails_compute(bad, 12, 12, 12, &t, NULL), RW_OK);
    assert_int_equal(t.status, RW_TAILS_NONFINITE);
    assert_true(isnan(t.log_norm) && isnan(t.num_evals));
}

/* The Marchenko-Pastur quantiles (Q = 4, sigma = 1: edges 0.25 and 2.25,
 * mean 1) by bisection on the CDF, numerically integrated. */
static double mp_cdf(double x)
{
    double a = 0.25, b = 2.25, s = 0;
    int n = 4000;
    if (x <= a)
        return 0;
    if (x > b)
        x = b;
    /* substitution x = a + (b - a) sin^2 t removes the edge singularities */
    double t1 = asin(sqrt((x - a) / (b - a))), h = t1 / n;
    for (int i = 0; i < n; i++) {
        double t = (i + 0.5) * h, u = a + (b - a) * sin(t) * sin(t);
        double dens = 4 / (2 * M_PI * u) * sqrt((b - u) * (u - a));
        s += dens * (b - a) * 2 * sin(t) * cos(t) * h;
    }
    return s;
}

static void mp_fit_known_sigma(void **state)
{
    (void)state;
    enum { M = 400 };
    static double ev[M];
    for (int i = 0; i < M; i++) {
        double p = (i + 0.5) / M, lo = 0.25, hi = 2.25;
        for (int it = 0; it < 60; it++) {
            double mid = (lo + hi) / 2;
            if (mp_cdf(mid) < p)
                lo = mid;
            else
                hi = mid;
        }
        ev[i] = (lo + hi) / 2;
    }
    rw_mpfit f;
    assert_int_equal(rw_mp_fit(ev, M, 4.0, &f, NULL), RW_OK);
    assert_true(fabs(f.sigma_mp - 1) < 0.1);
    assert_true(f.num_spikes == 0);
    assert_true(f.mp_softrank > 0.85 && f.mp_softrank < 1.15);
    /* three spikes far above the bulk */
    ev[M - 3] = 20;
    ev[M - 2] = 30;
    ev[M - 1] = 40;
    assert_int_equal(rw_mp_fit(ev, M, 4.0, &f, NULL), RW_OK);
    assert_true(f.num_spikes == 3);
    assert_true(f.mp_softrank < 0.3);
    assert_true(f.bulk_min < f.bulk_max);
    assert_int_equal(rw_mp_fit(ev, 1, 4.0, &f, NULL), RW_EDATA);
}

/* rand_distance: the JS distance by hand on two known eigenvalue vectors. */
static void js_distance_by_hand(void **state)
{
    (void)state;
    /* lambda = (3, 1), lambda_rand = (1, 1): p = (3/4, 1/4), q = (1/2, 1/2),
     * the midpoint (2, 1) normalised: m = (2/3, 1/3) */
    double s[2] = {sqrt(3.0), 1}, r[2] = {1, 1};
    double kp = 0.75 * log(0.75 / (2.0 / 3)) + 0.25 * log(0.25 / (1.0 / 3));
    double kq = 0.5 * log(0.5 / (2.0 / 3)) + 0.5 * log(0.5 / (1.0 / 3));
    assert_float_equal(rw_tails_rand_distance(s, r, 2), sqrt((kp + kq) / 2), 1e-15);
    assert_float_equal(rw_tails_rand_distance(s, s, 2), 0, 0);
    /* disjoint supports: sqrt(ln 2), the largest there is */
    double a[2] = {1, 0}, b[2] = {0, 1};
    assert_float_equal(rw_tails_rand_distance(a, b, 2), sqrt(log(2.0)), 1e-15);
    double z[2] = {0, 0};
    assert_true(isnan(rw_tails_rand_distance(z, s, 2)));
}

/* The documented shuffle re-implemented here: splitmix64 from the seed,
 * Fisher-Yates from the last entry down, j = next() mod (i + 1). */
static uint64_t sm64(uint64_t *x)
{
    uint64_t z = *x = *x + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The whole of rand_distance on [[1, 2], [3, 4]]: the library's shuffle,
 * against the one above, and the 2 x 2 singular values in closed form,
 * sigma^2 = (F +- sqrt(F^2 - 4 det^2)) / 2, F = ||A||_F^2. */
static void rand_distance_2x2(void **state)
{
    (void)state;
    double a[4] = {1, 2, 3, 4}, ref[4] = {1, 2, 3, 4};
    rw_tails_shuffle(a, 4, RW_TAILS_RAND_SEED);
    uint64_t x = RW_TAILS_RAND_SEED;
    for (size_t i = 3; i >= 1; i--) {
        size_t j = (size_t)(sm64(&x) % (i + 1));
        double t = ref[i];
        ref[i] = ref[j];
        ref[j] = t;
    }
    for (int i = 0; i < 4; i++)
        assert_true(a[i] == ref[i]);
    /* seed 0 permutes 1 2 3 4 to this (e2e_tails.sh uses it) */
    assert_true(a[0] == 3 && a[1] == 2 && a[2] == 1 && a[3] == 4);
    double F = 30, det = -2; /* of [[1, 2], [3, 4]] */
    double l1 = (F + sqrt(F * F - 4 * det * det)) / 2, l2 = (F - sqrt(F * F - 4 * det * det)) / 2;
    double dr = a[0] * a[3] - a[1] * a[2];
    double r1 = (F + sqrt(F * F - 4 * dr * dr)) / 2, r2 = (F - sqrt(F * F - 4 * dr * dr)) / 2;
    /* both sums are F: p = l / F, q = r / F, m = (p + q) / 2 */
    double p[2] = {l1 / F, l2 / F}, q[2] = {r1 / F, r2 / F}, js = 0;
    for (int i = 0; i < 2; i++) {
        double m = (p[i] + q[i]) / 2;
        js += (p[i] * log(p[i] / m) + q[i] * log(q[i] / m)) / 2;
    }
    double s[2] = {sqrt(l1), sqrt(l2)}, rs[2] = {sqrt(r1), sqrt(r2)};
    assert_float_equal(rw_tails_rand_distance(s, rs, 2), sqrt(js), 1e-12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(three_points_by_hand), cmocka_unit_test(pareto_recovers_alpha),
        cmocka_unit_test(ties_and_degenerate),  cmocka_unit_test(truncated_mle),
        cmocka_unit_test(row_statuses_and_norms), cmocka_unit_test(mp_fit_known_sigma),
        cmocka_unit_test(js_distance_by_hand),  cmocka_unit_test(uniform_log_worst_case),  cmocka_unit_test(rand_distance_2x2),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
