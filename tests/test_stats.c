/*
 * test_stats.c — t quantiles against published table values, summaries and
 * aggregation over layers against hand-worked numbers; the bootstrap against
 * its definition on resamples fed by hand; layer groups by hand.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>

#include "analyzers/tables/stats.h"

static void t_quantiles_match_tables(void **state)
{
    (void)state;
    /* Two-sided 95% critical values (standard t tables, 4+ decimals). */
    assert_true(fabs(rw_t_quantile(0.975, 1) - 12.7062047) < 1e-6);
    assert_true(fabs(rw_t_quantile(0.975, 2) - 4.30265273) < 1e-7);
    assert_true(fabs(rw_t_quantile(0.975, 3) - 3.18244631) < 1e-7);
    assert_true(fabs(rw_t_quantile(0.975, 11) - 2.20098516) < 1e-7);
    assert_true(fabs(rw_t_quantile(0.975, 30) - 2.04227246) < 1e-7);
    /* df = 1 is Cauchy: quantile tan(pi (p - 1/2)) in closed form. */
    assert_true(fabs(rw_t_quantile(0.9, 1) - tan(M_PI * 0.4)) < 1e-9);
    assert_true(fabs(rw_t_quantile(0.025, 5) + rw_t_quantile(0.975, 5)) < 1e-12);
    assert_true(isnan(rw_t_quantile(1.0, 3)));
}

static void summary_hand_worked(void **state)
{
    (void)state;
    /* 1, 2, 3, 4: mean 2.5, sample var (2.25+0.25+0.25+2.25)/3 = 5/3. */
    double v[] = {1, 2, NAN, 3, 4};
    rw_summary s;
    rw_summarize(v, 5, &s);
    assert_int_equal(s.n, 4);
    assert_true(fabs(s.mean - 2.5) < 1e-15);
    assert_true(fabs(s.sd - sqrt(5.0 / 3.0)) < 1e-15);
    double h = 3.18244630528371 * sqrt(5.0 / 3.0) / 2.0;
    assert_true(fabs(s.hi - (2.5 + h)) < 1e-9);
    assert_true(fabs(s.lo - (2.5 - h)) < 1e-9);

    double one[] = {7};
    rw_summarize(one, 1, &s);
    assert_true(s.mean == 7 && s.lo == 7 && s.hi == 7 && isnan(s.sd));

    double withinf[] = {1, INFINITY};
    rw_summarize(withinf, 2, &s);
    assert_true(isinf(s.mean) && isnan(s.lo));

    double none[] = {NAN};
    rw_summarize(none, 1, &s);
    assert_int_equal(s.n, 0);
    assert_true(isnan(s.mean));
}

/* A per-layer table of one metric column from rows of 7 cells. */
static rw_table *layer_table(const char *metric, const char *const (*rows)[7], size_t n)
{
    const char *cols[] = {"run", "step", "tensor", "layer", "module", "component", metric};
    rw_table *t = table_new(cols, 7);
    assert_non_null(t);
    rw_err err = {{0}};
    for (size_t i = 0; i < n; i++)
        assert_int_equal(table_add_row(t, rows[i], &err), RW_OK);
    return t;
}

static void aggregate_groups_layers(void **state)
{
    (void)state;
    static const char *const rows[][7] = {
        {"b", "10", "layers.0.w", "0", "w", "weight", "0.5"},
        {"b", "10", "layers.1.w", "1", "w", "weight", "0.7"},
        {"a", "10", "layers.0.w", "0", "w", "full", "0.2"},
        {"a", "10", "layers.1.w", "1", "w", "full", "0.4"},
        {"a", "10", "layers.1.w", "1", "w", "lora", "0.9"},
        {"a", "0", "layers.0.w", "0", "w", "full", "1"},
        {"a", "10", "emb", "-1", "emb", "full", "nan"},
    };
    rw_table *t = layer_table("per", rows, 7);
    rw_err err = {{0}};
    rw_agg *a;
    size_t n;
    assert_int_equal(rw_aggregate(t, "per", NULL, RW_MEAN_ARITH, NULL, &a, &n, &err), RW_OK);
    /* emb (a,10); w: (a,0) (a,10) (b,10) — sorted module, component, step, run */
    assert_int_equal(n, 4);
    assert_string_equal(a[0].module, "emb");
    assert_int_equal(a[0].s.n, 0);
    assert_string_equal(a[1].run, "a");
    assert_int_equal(a[1].step, 0);
    assert_string_equal(a[2].run, "a");
    assert_int_equal(a[2].step, 10);
    assert_true(fabs(a[2].s.mean - 0.3) < 1e-15);
    assert_string_equal(a[3].component, "weight");
    assert_true(fabs(a[3].s.mean - 0.6) < 1e-15);
    rw_agg_free(a, n);

    assert_int_equal(rw_aggregate(t, "per", "lora", RW_MEAN_ARITH, NULL, &a, &n, &err), RW_OK);
    assert_int_equal(n, 1);
    assert_true(a[0].s.mean == 0.9);
    rw_agg_free(a, n);

    assert_int_equal(rw_aggregate(t, "cond", NULL, RW_MEAN_GEO, NULL, &a, &n, &err), RW_ENOTFOUND);
    table_free(t);
}

static void geometric_summary_hand_worked(void **state)
{
    (void)state;
    /* 1, 10, 100: ln values 0, L, 2L (L = ln 10): mean L, so the geometric
     * mean is 10; sample sd of the logs L; 95% t-interval L ± t(2) L/√3,
     * exponentiated: 10^(1 ± 4.30265273/√3). The arithmetic mean (37) would
     * be pulled up by the last layer. */
    double v[] = {1, NAN, 10, 100};
    rw_summary s;
    rw_summarize_as(v, 4, RW_MEAN_GEO, &s);
    double L = log(10.0), h = 4.30265272974946 / sqrt(3.0);
    assert_int_equal(s.n, 3);
    assert_true(fabs(s.mean - 10) < 1e-13);
    assert_true(fabs(s.sd - L) < 1e-14);
    assert_true(fabs(s.lo / pow(10, 1 - h) - 1) < 1e-9);
    assert_true(fabs(s.hi / pow(10, 1 + h) - 1) < 1e-9);
    assert_true(s.lo > 0); /* never below 0, unlike 37 - t s/√3 */

    /* 2 and 8: geometric mean 4; ln values ln 2 and 3 ln 2, sd √2 ln 2,
     * interval 4 · exp(± t(1) · √2 ln 2 / √2) = 4 · 2^(± 12.7062047). */
    double w[] = {2, 8};
    rw_summarize_as(w, 2, RW_MEAN_GEO, &s);
    assert_true(fabs(s.mean - 4) < 1e-14);
    assert_true(fabs(s.lo / (4 * pow(2, -12.7062047361747)) - 1) < 1e-9);
    assert_true(fabs(s.hi / (4 * pow(2, 12.7062047361747)) - 1) < 1e-9);

    /* A zero layer: geometric mean 0; an inf layer: inf; both, or a
     * negative value: nan. Spread nan. One layer: itself. */
    double z[] = {0, 5};
    rw_summarize_as(z, 2, RW_MEAN_GEO, &s);
    assert_true(s.mean == 0 && isnan(s.lo) && isnan(s.hi));
    double in[] = {3, INFINITY};
    rw_summarize_as(in, 2, RW_MEAN_GEO, &s);
    assert_true(isinf(s.mean) && s.mean > 0 && isnan(s.lo));
    double zi[] = {0, INFINITY};
    rw_summarize_as(zi, 2, RW_MEAN_GEO, &s);
    assert_true(isnan(s.mean));
    double neg[] = {4, -1};
    rw_summarize_as(neg, 2, RW_MEAN_GEO, &s);
    assert_true(isnan(s.mean) && isnan(s.lo) && isnan(s.hi) && s.n == 2);
    double one[] = {NAN, 0.1};
    rw_summarize_as(one, 2, RW_MEAN_GEO, &s);
    assert_true(s.n == 1 && s.mean == 0.1 && s.lo == 0.1 && s.hi == 0.1); /* exactly */

    /* RW_MEAN_ARITH is rw_summarize. */
    double a[] = {1, 10, 100};
    rw_summarize_as(a, 3, RW_MEAN_ARITH, &s);
    assert_true(s.mean == 37);
}

static void metric_kinds(void **state)
{
    (void)state;
    const char *geo[] = {"cond", "cond_rank", "sigma_max", "sigma_min", "fro", "nuc",
                         "max_abs"};
    for (size_t i = 0; i < 7; i++) {
        rw_metric_kind k = rw_metric_kind_of(geo[i]);
        assert_int_equal(k.mean, RW_MEAN_GEO);
        assert_true(k.lo == 0 && isinf(k.hi));
    }
    rw_metric_kind k = rw_metric_kind_of("per");
    assert_true(k.mean == RW_MEAN_ARITH && k.lo == 0 && k.hi == 1);
    k = rw_metric_kind_of("entropy");
    assert_true(k.lo == 0 && k.hi == 1);
    k = rw_metric_kind_of("gini");
    assert_true(k.mean == RW_MEAN_ARITH && k.lo == 0 && k.hi == 1);
    k = rw_metric_kind_of("hoyer");
    assert_true(k.mean == RW_MEAN_ARITH && k.lo == 0 && k.hi == 1);
    k = rw_metric_kind_of("stable_rank");
    assert_true(k.mean == RW_MEAN_ARITH && k.lo == 1 && isinf(k.hi));
    /* rw-tails' exponent is above 1 and its KS distance in [0, 1]; rw-sim's
     * PWCCA in [0, 1]; CKA unbounded (debiased, it can be negative) */
    k = rw_metric_kind_of("alpha");
    assert_true(k.mean == RW_MEAN_ARITH && k.lo == 1 && isinf(k.hi));
    k = rw_metric_kind_of("D");
    assert_true(k.lo == 0 && k.hi == 1);
    k = rw_metric_kind_of("pwcca");
    assert_true(k.lo == 0 && k.hi == 1);
    k = rw_metric_kind_of("cka");
    assert_true(isinf(k.lo) && isinf(k.hi));
    k = rw_metric_kind_of("rel_update");
    assert_true(k.mean == RW_MEAN_ARITH && k.lo == 0 && isinf(k.hi));
    k = rw_metric_kind_of("my_metric");
    assert_true(k.mean == RW_MEAN_ARITH && isinf(k.lo) && k.lo < 0 && isinf(k.hi));
}

/* rw_aggregate of rows (7 cells each, their metric column named metric),
 * each matrix's default component; the table freed. */
static rw_agg *aggregate_rows(const char *metric, const char *const (*rows)[7], size_t nrows,
                              rw_mean mean, size_t *n)
{
    rw_table *t = layer_table(metric, rows, nrows);
    rw_err err = {{0}};
    rw_agg *a = NULL;
    assert_int_equal(rw_aggregate(t, metric, NULL, mean, NULL, &a, n, &err), RW_OK);
    table_free(t);
    return a;
}

static void aggregate_geometric(void **state)
{
    (void)state;
    /* one outlier layer (1e6) among 10 and 100: geometric mean 1e3 (the
     * cube root of 1e9), arithmetic 333370 */
    static const char *const rows[][7] = {{"a", "5", "layers.0.w", "0", "w", "weight", "10"},
                                          {"a", "5", "layers.1.w", "1", "w", "weight", "100"},
                                          {"a", "5", "layers.2.w", "2", "w", "weight", "1e6"}};
    size_t n;
    rw_agg *a = aggregate_rows("cond", rows, 3, RW_MEAN_GEO, &n);
    assert_int_equal(n, 1);
    assert_true(fabs(a[0].s.mean / 1e3 - 1) < 1e-13);
    /* ln values L, 2L, 6L (L = ln 10): mean 3L, sd L·√7, interval
     * 10^(3 ± t(2) √7/√3) */
    double h = 4.30265272974946 * sqrt(7.0 / 3.0);
    assert_true(fabs(a[0].s.lo / pow(10, 3 - h) - 1) < 1e-9);
    assert_true(fabs(a[0].s.hi / pow(10, 3 + h) - 1) < 1e-9);
    rw_agg_free(a, n);
    a = aggregate_rows("cond", rows, 3, RW_MEAN_ARITH, &n);
    assert_true(n == 1 && fabs(a[0].s.mean - 333370) < 1e-8);
    rw_agg_free(a, n);
}

/* ------------------------------------------------------ the bootstrap */

/* numpy.percentile(x, 100 q) of sorted x (method 'linear'), by hand:
 * x = 1..5, q = 0.25: position 1, x[1] = 2; q = 0.1: position 0.4,
 * 1 + 0.4 = 1.4; q = 0.9: position 3.6, 4 + 0.6 = 4.6; q = 1: 5. */
static void percentile_hand_worked(void **state)
{
    (void)state;
    const double x[5] = {1, 2, 3, 4, 5};
    assert_true(fabs(rw_percentile(x, 5, 0.25) - 2) < 1e-15);
    assert_true(fabs(rw_percentile(x, 5, 0.1) - 1.4) < 1e-15);
    assert_true(fabs(rw_percentile(x, 5, 0.9) - 4.6) < 1e-15);
    assert_true(rw_percentile(x, 5, 1) == 5 && rw_percentile(x, 5, 0) == 1);
    assert_true(rw_percentile(x, 1, 0.975) == 1);
}

/* The bootstrap against its definition on a resample list fed by hand:
 * v = (1, 2, 4), four resamples (0,0,0) (0,1,2) (2,2,1) (2,2,2).
 * Arithmetic means 1, 7/3, 10/3, 4 (sorted); 2.5th percentile at position
 * 0.025 * 3 = 0.075: 1 + 0.075 (7/3 - 1) = 1.1; 97.5th at 2.925:
 * 4 - 0.075 (4 - 10/3) = 3.95. Geometric means 1, 2, 32^(1/3), 4:
 * 1 + 0.075 (2 - 1) = 1.075 and 4 - 0.075 (4 - 32^(1/3)). */
static void bootstrap_fixed_resamples(void **state)
{
    (void)state;
    const double v[3] = {1, 2, 4};
    const uint32_t idx[12] = {0, 0, 0, 0, 1, 2, 2, 2, 1, 2, 2, 2};
    double scratch[4 + 3], lo, hi;
    rw_boot_interval(v, 3, RW_MEAN_ARITH, idx, 4, scratch, &lo, &hi);
    assert_true(fabs(lo - 1.1) < 1e-14);
    assert_true(fabs(hi - 3.95) < 1e-14);
    rw_boot_interval(v, 3, RW_MEAN_GEO, idx, 4, scratch, &lo, &hi);
    assert_true(fabs(lo - 1.075) < 1e-14);
    assert_true(fabs(hi - (4 - 0.075 * (4 - cbrt(32)))) < 1e-14);
}

/* The resamples: the same for the same (seed, stream), other ones for
 * another stream or seed, every index in [0, n), and about uniform (5000
 * draws on 5 values, fixed: each count within 1000 +- 120, five standard
 * deviations). */
static void bootstrap_indices(void **state)
{
    (void)state;
    static uint32_t a[5000], b[5000], c[5000], d[5000];
    uint64_t s1 = rw_boot_stream("attention.v_proj.weight", "relora", 100);
    uint64_t s2 = rw_boot_stream("attention.v_proj.weight", "relora", 200);
    assert_true(s1 != s2);
    rw_boot_indices(0, s1, 5, 1000, a);
    rw_boot_indices(0, s1, 5, 1000, b);
    rw_boot_indices(0, s2, 5, 1000, c);
    rw_boot_indices(1, s1, 5, 1000, d);
    size_t count[5] = {0}, same_c = 0, same_d = 0;
    for (size_t i = 0; i < 5000; i++) {
        assert_true(a[i] == b[i]);
        assert_true(a[i] < 5);
        count[a[i]]++;
        same_c += a[i] == c[i];
        same_d += a[i] == d[i];
    }
    for (int k = 0; k < 5; k++)
        assert_true(count[k] >= 880 && count[k] <= 1120);
    assert_true(same_c < 1300 && same_d < 1300); /* 1000 expected by chance */
}

/* rw_summarize_ci: the bootstrap of the values sorted (the order they come
 * in does not matter), through rw_boot_indices and rw_boot_interval; t as
 * rw_summarize_as; one value or an inf one: as the t summary has them. */
static void summarize_bootstrap(void **state)
{
    (void)state;
    const rw_ci_opts boot = {RW_CI_BOOTSTRAP, 7};
    double v[6] = {0.9, 0.7, NAN, 0.8, 0.75, 0.95}, w[6] = {0.95, 0.75, 0.8, 0.7, 0.9, NAN};
    rw_summary s, r, t;
    rw_err err = {{0}};
    assert_int_equal(rw_summarize_ci(v, 6, RW_MEAN_ARITH, &boot, 42, &s, &err), RW_OK);
    assert_int_equal(rw_summarize_ci(w, 6, RW_MEAN_ARITH, &boot, 42, &r, &err), RW_OK);
    assert_true(s.n == 5 && s.lo == r.lo && s.hi == r.hi);
    assert_true(fabs(s.mean - 0.82) < 1e-15 && s.lo < s.mean && s.mean < s.hi);
    const double sorted[5] = {0.7, 0.75, 0.8, 0.9, 0.95};
    static uint32_t idx[5 * RW_BOOT_N];
    double scratch[RW_BOOT_N + 5], lo, hi;
    rw_boot_indices(7, 42, 5, RW_BOOT_N, idx);
    rw_boot_interval(sorted, 5, RW_MEAN_ARITH, idx, RW_BOOT_N, scratch, &lo, &hi);
    assert_true(s.lo == lo && s.hi == hi);
    /* geometric: the same resamples, the geometric mean of each */
    double g[5] = {0.7, 0.75, 0.8, 0.9, 0.95};
    assert_int_equal(rw_summarize_ci(g, 5, RW_MEAN_GEO, &boot, 42, &s, &err), RW_OK);
    rw_boot_interval(sorted, 5, RW_MEAN_GEO, idx, RW_BOOT_N, scratch, &lo, &hi);
    assert_true(s.lo == lo && s.hi == hi);
    /* t: rw_summarize_as */
    double u[5] = {0.7, 0.75, 0.8, 0.9, 0.95}, u2[5] = {0.7, 0.75, 0.8, 0.9, 0.95};
    assert_int_equal(rw_summarize_ci(u, 5, RW_MEAN_ARITH, NULL, 42, &s, &err), RW_OK);
    rw_summarize_as(u2, 5, RW_MEAN_ARITH, &t);
    assert_true(s.lo == t.lo && s.hi == t.hi);
    double one[2] = {NAN, 3}, inf[3] = {1, INFINITY, 2};
    assert_int_equal(rw_summarize_ci(one, 2, RW_MEAN_ARITH, &boot, 1, &s, &err), RW_OK);
    assert_true(s.n == 1 && s.lo == 3 && s.hi == 3);
    assert_int_equal(rw_summarize_ci(inf, 3, RW_MEAN_ARITH, &boot, 1, &s, &err), RW_OK);
    assert_true(isinf(s.mean) && isnan(s.lo) && isnan(s.hi));
}

/* ------------------------------------------------------- layer groups */

static void layer_spec_parsing(void **state)
{
    (void)state;
    rw_layer_spec s;
    rw_err err = {{0}};
    assert_int_equal(rw_layer_spec_parse("halves", &s, &err), RW_OK);
    assert_true(s.halves && rw_layer_spec_on(&s));
    assert_int_equal(rw_layer_spec_parse("0-5,6-11,14", &s, &err), RW_OK);
    assert_true(!s.halves && s.n == 3 && s.lo[1] == 6 && s.hi[1] == 11 && s.lo[2] == 14 &&
                s.hi[2] == 14);
    const char *bad[] = {"", "half", "5-3", "0-5,4-8", "1-", "-1", "0-5,", "0-5;6-11", "a-b"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (rw_layer_spec_parse(bad[i], &s, &err) != RW_EUSAGE)
            fail_msg("'%s' was accepted", bad[i]);
    assert_false(rw_layer_spec_on(NULL));
}

/* Labels by hand: halves of 12 layers 0-5 and 6-11; of 13 (in reverse
 * order, another module beside) 0-6 and 7-12, the first half taking the
 * extra one; of one layer, itself; layer -1 none. Explicit ranges: a layer
 * outside every range none. */
enum { N_GROUP_ROWS = 12 + 13 + 2 };
static const char *group_mod[N_GROUP_ROWS];
static int group_layer[N_GROUP_ROWS];

static void group_row(void *ctx, size_t i, const char **module, int *layer)
{
    (void)ctx;
    *module = group_mod[i];
    *layer = group_layer[i];
}

static void layer_groups_by_hand(void **state)
{
    (void)state;
    enum { N = N_GROUP_ROWS };
    const char **mod = group_mod;
    int *layer = group_layer;
    char *lab[N];
    for (int i = 0; i < 12; i++)
        mod[i] = "a", layer[i] = i;
    for (int i = 0; i < 13; i++)
        mod[12 + i] = "b", layer[12 + i] = 12 - i;
    mod[25] = "c", layer[25] = 4;
    mod[26] = "emb", layer[26] = -1;
    rw_layer_spec s;
    rw_err err = {{0}};
    assert_int_equal(rw_layer_spec_parse("halves", &s, &err), RW_OK);
    assert_int_equal(rw_layer_groups_label(&s, N, group_row, NULL, lab, &err), RW_OK);
    for (int i = 0; i < 12; i++)
        assert_string_equal(lab[i], i < 6 ? "a [0-5]" : "a [6-11]");
    for (int i = 0; i < 13; i++)
        assert_string_equal(lab[12 + i], 12 - i <= 6 ? "b [0-6]" : "b [7-12]");
    assert_string_equal(lab[25], "c [4]");
    assert_null(lab[26]);
    for (int i = 0; i < N; i++)
        free(lab[i]);
    assert_int_equal(rw_layer_spec_parse("0-2,9", &s, &err), RW_OK);
    assert_int_equal(rw_layer_groups_label(&s, N, group_row, NULL, lab, &err), RW_OK);
    for (int i = 0; i < 12; i++) {
        if (i <= 2)
            assert_string_equal(lab[i], "a [0-2]");
        else if (i == 9)
            assert_string_equal(lab[i], "a [9]");
        else
            assert_null(lab[i]);
    }
    assert_null(lab[25]);
    assert_null(lab[26]);
    for (int i = 0; i < N; i++)
        free(lab[i]);
}

/* rw_aggregate with groups is the caller's (rw-compare, rw-plot relabel the
 * modules); with a bootstrap, its points are rw_summarize_ci's of the
 * layers under the stream of (module, run, step). */
static void aggregate_bootstrap(void **state)
{
    (void)state;
    const char *cols[] = {"run", "step", "tensor", "layer", "module", "component", "per"};
    rw_table *t = table_new(cols, 7);
    rw_err err = {{0}};
    const char *rows[4][7] = {
        {"r", "10", "layers.0.w", "0", "w", "weight", "0.5"},
        {"r", "10", "layers.1.w", "1", "w", "weight", "0.7"},
        {"r", "10", "layers.2.w", "2", "w", "weight", "0.6"},
        {"r", "10", "layers.3.w", "3", "w", "weight", "0.9"},
    };
    for (int i = 0; i < 4; i++)
        assert_int_equal(table_add_row(t, rows[i], &err), RW_OK);
    const rw_ci_opts boot = {RW_CI_BOOTSTRAP, 3};
    rw_agg *a = NULL;
    size_t n = 0;
    assert_int_equal(rw_aggregate(t, "per", NULL, RW_MEAN_ARITH, &boot, &a, &n, &err), RW_OK);
    assert_int_equal(n, 1);
    double v[4] = {0.5, 0.7, 0.6, 0.9};
    rw_summary s;
    assert_int_equal(rw_summarize_ci(v, 4, RW_MEAN_ARITH, &boot, rw_boot_stream("w", "r", 10),
                                     &s, &err), RW_OK);
    assert_true(a[0].s.lo == s.lo && a[0].s.hi == s.hi && fabs(a[0].s.mean - 0.675) < 1e-15);
    rw_agg_free(a, n);
    table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_quantiles_match_tables),
        cmocka_unit_test(summary_hand_worked),
        cmocka_unit_test(aggregate_groups_layers),
        cmocka_unit_test(geometric_summary_hand_worked),
        cmocka_unit_test(metric_kinds),
        cmocka_unit_test(aggregate_geometric),
        cmocka_unit_test(percentile_hand_worked),
        cmocka_unit_test(bootstrap_fixed_resamples),
        cmocka_unit_test(bootstrap_indices),
        cmocka_unit_test(summarize_bootstrap),
        cmocka_unit_test(layer_spec_parsing),
        cmocka_unit_test(layer_groups_by_hand),
        cmocka_unit_test(aggregate_bootstrap),
    };
    return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
