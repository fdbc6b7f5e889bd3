/*
 * test_stats.c — t quantiles against published table values, summaries and
 * aggregation over layers against hand-worked numbers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

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
    assert_int_equal(rw_aggregate(t, "per", NULL, RW_MEAN_ARITH, &a, &n, &err), RW_OK);
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

    assert_int_equal(rw_aggregate(t, "per", "lora", RW_MEAN_ARITH, &a, &n, &err), RW_OK);
    assert_int_equal(n, 1);
    assert_true(a[0].s.mean == 0.9);
    rw_agg_free(a, n);

    assert_int_equal(rw_aggregate(t, "cond", NULL, RW_MEAN_GEO, &a, &n, &err), RW_ENOTFOUND);
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
    const char *geo[] = {"cond", "cond_rank", "sigma_max", "sigma_min", "fro", "nuc"};
    for (size_t i = 0; i < 6; i++) {
        rw_metric_kind k = rw_metric_kind_of(geo[i]);
        assert_int_equal(k.mean, RW_MEAN_GEO);
        assert_true(k.lo == 0 && isinf(k.hi));
    }
    rw_metric_kind k = rw_metric_kind_of("per");
    assert_true(k.mean == RW_MEAN_ARITH && k.lo == 0 && k.hi == 1);
    k = rw_metric_kind_of("entropy");
    assert_true(k.lo == 0 && k.hi == 1);
    k = rw_metric_kind_of("stable_rank");
    assert_true(k.mean == RW_MEAN_ARITH && k.lo == 1 && isinf(k.hi));
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
    assert_int_equal(rw_aggregate(t, metric, NULL, mean, &a, n, &err), RW_OK);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_quantiles_match_tables),
        cmocka_unit_test(summary_hand_worked),
        cmocka_unit_test(aggregate_groups_layers),
        cmocka_unit_test(geometric_summary_hand_worked),
        cmocka_unit_test(metric_kinds),
        cmocka_unit_test(aggregate_geometric),
    };
    return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
