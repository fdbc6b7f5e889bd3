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

static void aggregate_groups_layers(void **state)
{
    (void)state;
    const char *cols[] = {"run", "step", "tensor", "layer", "module", "component", "per"};
    rw_table *t = table_new(cols, 7);
    assert_non_null(t);
    const char *rows[][7] = {
        {"b", "10", "layers.0.w", "0", "w", "weight", "0.5"},
        {"b", "10", "layers.1.w", "1", "w", "weight", "0.7"},
        {"a", "10", "layers.0.w", "0", "w", "full", "0.2"},
        {"a", "10", "layers.1.w", "1", "w", "full", "0.4"},
        {"a", "10", "layers.1.w", "1", "w", "lora", "0.9"},
        {"a", "0", "layers.0.w", "0", "w", "full", "1"},
        {"a", "10", "emb", "-1", "emb", "full", "nan"},
    };
    rw_err err = {{0}};
    for (int i = 0; i < 7; i++)
        assert_int_equal(table_add_row(t, rows[i], &err), RW_OK);
    rw_agg *a;
    size_t n;
    assert_int_equal(rw_aggregate(t, "per", NULL, &a, &n, &err), RW_OK);
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

    assert_int_equal(rw_aggregate(t, "per", "lora", &a, &n, &err), RW_OK);
    assert_int_equal(n, 1);
    assert_true(a[0].s.mean == 0.9);
    rw_agg_free(a, n);

    assert_int_equal(rw_aggregate(t, "cond", NULL, &a, &n, &err), RW_ENOTFOUND);
    table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t_quantiles_match_tables),
        cmocka_unit_test(summary_hand_worked),
        cmocka_unit_test(aggregate_groups_layers),
    };
    return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
