/*
 * test_compare.c — rw-compare's logic on per-layer tables whose means,
 * intervals, gaps and areas are worked out by hand in the comments: exact
 * and nearest step alignment, the reference run, the curve summary, the
 * presentation numbers, and the errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyzers/tables/compare.h"

/* t quantile for a two-sided 95% interval with 2 degrees of freedom (tables:
 * 4.30265272974946). */
#define T2 4.302652729749464

static const char *const cols[] = {"run", "step", "tensor", "layer", "module",
                                   "component", "per", "cond"};

/* A per-layer table from rows of {run, step, layer, component, per, cond};
 * tensor "layers.<layer>.w", module "w". */
typedef struct {
    const char *run;
    int step, layer;
    const char *comp, *per, *cond;
} lrow;

static rw_table *make_table(const lrow *rows, size_t n)
{
    rw_table *t = table_new(cols, 8);
    assert_non_null(t);
    rw_err err = {{0}};
    for (size_t i = 0; i < n; i++) {
        char step[32], layer[32], tensor[64];
        snprintf(step, sizeof step, "%d", rows[i].step);
        snprintf(layer, sizeof layer, "%d", rows[i].layer);
        snprintf(tensor, sizeof tensor, "layers.%d.w", rows[i].layer);
        const char *cells[] = {rows[i].run, step, tensor, layer, "w",
                               rows[i].comp, rows[i].per, rows[i].cond};
        assert_int_equal(table_add_row(t, cells, &err), RW_OK);
    }
    return t;
}

/* Run A (the reference: first in byte order) and B, three layers, steps 0,
 * 10, 20. per of A: {.5 .6 .7}, {.4 .5 .6}, {.3 .4 .5}: means .6 .5 .4, sd .1
 * each. per of B: {.6 .6 .6}, {.5 .6 .7}, {.1 .3 .5}: means .6 .6 .3, sd 0, .1,
 * .2. B's rows are `full` components, and a `lora` row of B must be ignored.
 * cond: 1 everywhere for A and 2 for B, except one nan layer of B at step 20. */
static const lrow hand_rows[] = {
    {"A", 0, 0, "weight", "0.5", "1"},  {"A", 0, 1, "weight", "0.6", "1"},
    {"A", 0, 2, "weight", "0.7", "1"},  {"A", 10, 0, "weight", "0.4", "1"},
    {"A", 10, 1, "weight", "0.5", "1"}, {"A", 10, 2, "weight", "0.6", "1"},
    {"A", 20, 0, "weight", "0.3", "1"}, {"A", 20, 1, "weight", "0.4", "1"},
    {"A", 20, 2, "weight", "0.5", "1"}, {"B", 0, 0, "full", "0.6", "2"},
    {"B", 0, 1, "full", "0.6", "2"},    {"B", 0, 2, "full", "0.6", "2"},
    {"B", 10, 0, "full", "0.5", "2"},   {"B", 10, 1, "full", "0.6", "2"},
    {"B", 10, 2, "full", "0.7", "2"},   {"B", 20, 0, "full", "0.1", "2"},
    {"B", 20, 1, "full", "0.3", "nan"}, {"B", 20, 2, "full", "0.5", "2"},
    {"B", 20, 1, "lora", "0.9", "7"},
};
#define NHAND (sizeof hand_rows / sizeof *hand_rows)

static const rw_cmp_row *find_row(const rw_comparison *c, const char *metric, int64_t step,
                                  const char *run)
{
    for (size_t i = 0; i < c->nrows; i++)
        if (!strcmp(c->rows[i].metric, metric) && c->rows[i].step == step &&
            !strcmp(c->rows[i].run, run))
            return &c->rows[i];
    return NULL;
}

static void close_to(double a, double b)
{
    if (fabs(a - b) > 1e-12) {
        fprintf(stderr, "%.17g != %.17g\n", a, b);
        fail();
    }
}

static void means_intervals_and_diffs(void **state)
{
    (void)state;
    rw_table *t = make_table(hand_rows, NHAND);
    const rw_table *tabs[] = {t};
    const char *names[] = {"hand.tsv"};
    rw_compare_opts o = {0};
    rw_comparison c;
    rw_err err = {{0}};
    assert_int_equal(compare_runs(tabs, names, NULL, 1, &o, &c, &err), RW_OK);
    assert_string_equal(c.ref, "A");
    assert_int_equal(c.nruns, 2);
    /* 2 metrics x 3 steps x 2 runs, sorted module, metric, step, run. */
    assert_int_equal(c.nrows, 12);
    assert_string_equal(c.rows[0].metric, "cond");
    assert_string_equal(c.rows[6].metric, "per");
    assert_int_equal(c.rows[6].step, 0);
    assert_string_equal(c.rows[6].run, "A");
    assert_string_equal(c.rows[7].run, "B");
    assert_int_equal(c.rows[8].step, 10);

    /* A, per, step 0: mean .6, sd .1, half-width T2 * .1 / sqrt(3). */
    const rw_cmp_row *r = find_row(&c, "per", 0, "A");
    assert_non_null(r);
    assert_true(r->is_ref);
    assert_int_equal(r->s.n, 3);
    close_to(r->s.mean, 0.6);
    close_to(r->s.sd, 0.1);
    close_to(r->s.lo, 0.6 - T2 * 0.1 / sqrt(3.0));
    close_to(r->s.hi, 0.6 + T2 * 0.1 / sqrt(3.0));

    /* B, per, step 0: all .6, sd 0, interval collapses; diff 0. */
    r = find_row(&c, "per", 0, "B");
    assert_false(r->is_ref);
    close_to(r->s.sd, 0);
    close_to(r->s.lo, 0.6);
    close_to(r->diff, 0);
    /* B, per, step 10: mean .6 vs .5 -> diff +.1; step 20: .3 vs .4 -> -.1,
     * sd .2: deviations -.2 0 .2, (0.04 + 0.04) / 2 = 0.04. */
    close_to(find_row(&c, "per", 10, "B")->diff, 0.1);
    r = find_row(&c, "per", 20, "B");
    close_to(r->diff, -0.1);
    close_to(r->s.sd, 0.2);
    close_to(r->ref_mean, 0.4);
    /* The lora row (0.9) is not a layer of the default component. */
    assert_int_equal(r->s.n, 3);

    /* cond of B at 20: the nan layer is skipped: n 2, mean 2, sd 0. */
    r = find_row(&c, "cond", 20, "B");
    assert_int_equal(r->s.n, 2);
    close_to(r->s.mean, 2);
    close_to(r->diff, 1);

    /* The data table: DESIGN.md's columns, diff empty for the reference. */
    rw_table *out = compare_table(&c);
    assert_non_null(out);
    const char *want[] = {"module", "metric", "step", "run", "n",
                          "mean",   "sd",     "ci95_lo", "ci95_hi", "diff"};
    assert_int_equal(out->ncols, 10);
    for (int i = 0; i < 10; i++)
        assert_string_equal(out->cols[i], want[i]);
    assert_string_equal(table_cell(out, 6, 9), "");
    assert_string_equal(table_cell(out, 7, 9), "0");
    assert_string_equal(table_cell(out, 6, 4), "3");
    table_free(out);
    compare_free(&c);

    /* --ref B: the signs turn; --metrics per: only per rows. */
    const char *metrics[] = {"per"};
    o.ref = "B";
    o.metrics = metrics;
    o.nmetrics = 1;
    assert_int_equal(compare_runs(tabs, names, NULL, 1, &o, &c, &err), RW_OK);
    assert_int_equal(c.nrows, 6);
    assert_true(find_row(&c, "per", 10, "B")->is_ref);
    close_to(find_row(&c, "per", 10, "A")->diff, -0.1);
    compare_free(&c);

    /* --component lora: only B's lora row. */
    o = (rw_compare_opts){.component = "lora"};
    assert_int_equal(compare_runs(tabs, names, NULL, 1, &o, &c, &err), RW_OK);
    assert_int_equal(c.nrows, 2); /* per and cond of B at step 20 */
    assert_string_equal(c.ref, "B");
    compare_free(&c);
    table_free(t);
}

static void summary_of_hand_curves(void **state)
{
    (void)state;
    rw_table *t = make_table(hand_rows, NHAND);
    const rw_table *tabs[] = {t};
    const char *names[] = {"hand.tsv"};
    const char *metrics[] = {"per"};
    rw_compare_opts o = {.metrics = metrics, .nmetrics = 1};
    rw_comparison c;
    rw_err err = {{0}};
    assert_int_equal(compare_runs(tabs, names, NULL, 1, &o, &c, &err), RW_OK);
    rw_cmp_summary *s;
    size_t n;
    assert_int_equal(compare_summarize(&c, 0.05, &s, &n, &err), RW_OK);
    assert_int_equal(n, 1);
    assert_string_equal(s[0].run, "B");
    assert_string_equal(s[0].ref, "A");
    /* gaps at 0, 10, 20: 0, +.1, -.1.
     * mean gap: (10 (0 + .1)/2 + 10 (.1 - .1)/2) / 20 = .5 / 20 = .025.
     * area: [0,10] one sign: 10 (0 + .1)/2 = .5; [10,20] crosses zero at 15:
     *   two triangles 5 * .1/2 + 5 * .1/2 = .5 = 10 (.01 + .01) / (2 * .2);
     *   (.5 + .5) / 20 = .05.
     * final: .3 vs .4, gap -.1, relative -.25.
     * beyond 5%: step 20 |-.1| > .02 yes, 10: .1 > .025 yes, 0: 0 > .03 no
     *   -> apart from step 10. */
    assert_int_equal(s[0].nsteps, 3);
    assert_int_equal(s[0].first_step, 0);
    assert_int_equal(s[0].last_step, 20);
    close_to(s[0].final, 0.3);
    close_to(s[0].ref_final, 0.4);
    close_to(s[0].gap, -0.1);
    close_to(s[0].rel_gap, -0.25);
    close_to(s[0].mean_gap, 0.025);
    close_to(s[0].area, 0.05);
    assert_true(s[0].diverges);
    assert_int_equal(s[0].diverge_step, 10);
    compare_summary_free(s, n);
    /* At 30%: step 20 needs .1 > .12: no -> never apart. */
    assert_int_equal(compare_summarize(&c, 0.3, &s, &n, &err), RW_OK);
    assert_false(s[0].diverges);
    rw_table *st = compare_summary_table(s, n);
    assert_string_equal(st->cols[13], "diverge_step");
    assert_string_equal(table_cell(st, 0, 13), "");
    assert_string_equal(table_cell(st, 0, 4), "3");
    table_free(st);
    compare_summary_free(s, n);
    compare_free(&c);
    table_free(t);
}

static void curve_edge_cases(void **state)
{
    (void)state;
    rw_cmp_summary s;
    /* One point: mean gap = gap, area = |gap|. */
    int64_t st1[] = {5};
    double a1[] = {2}, r1[] = {3};
    compare_curve(st1, a1, r1, 1, 0.05, &s);
    close_to(s.mean_gap, -1);
    close_to(s.area, 1);
    assert_true(s.diverges);
    assert_int_equal(s.diverge_step, 5);
    /* None: nan. */
    compare_curve(NULL, NULL, NULL, 0, 0.05, &s);
    assert_int_equal(s.nsteps, 0);
    assert_true(isnan(s.gap) && isnan(s.area));
    assert_false(s.diverges);
    /* Uneven steps 0, 10, 40, gaps 1, 1, -2 (ref 10 everywhere):
     * signed: 10 (1+1)/2 + 30 (1-2)/2 = 10 - 15 = -5 -> /40 = -.125;
     * |g|: 10 + 30 (1 + 4) / (2 * 3) = 10 + 25 = 35 -> /40 = .875.
     * beyond 5% (.5): 2 yes, 1 yes, 1 yes -> from step 0. */
    int64_t st3[] = {0, 10, 40};
    double a3[] = {11, 11, 8}, r3[] = {10, 10, 10};
    compare_curve(st3, a3, r3, 3, 0.05, &s);
    close_to(s.mean_gap, -0.125);
    close_to(s.area, 0.875);
    assert_int_equal(s.diverge_step, 0);
    /* A gap that comes back within the threshold at the end: never apart. */
    double a4[] = {20, 20, 10};
    compare_curve(st3, a4, r3, 3, 0.05, &s);
    assert_false(s.diverges);
}

/* B lacks step 10 and has 15. Exact: B's rows at 0, 15 (diff nan at 15: A
 * has no 15), 20. Nearest: B at each of A's steps 0 10 20. */
static void alignment(void **state)
{
    (void)state;
    const lrow rows[] = {
        {"A", 0, 0, "weight", "1", "1"},    {"A", 10, 0, "weight", "2", "1"},
        {"A", 20, 0, "weight", "3", "1"},   {"B", 0, 0, "weight", "10", "1"},
        {"B", 15, 0, "weight", "20", "1"},  {"B", 20, 0, "weight", "30", "1"},
    };
    rw_table *t = make_table(rows, 6);
    const rw_table *tabs[] = {t};
    const char *names[] = {"align.tsv"};
    const char *metrics[] = {"per"};
    rw_compare_opts o = {.metrics = metrics, .nmetrics = 1};
    rw_comparison c;
    rw_err err = {{0}};
    assert_int_equal(compare_runs(tabs, names, NULL, 1, &o, &c, &err), RW_OK);
    assert_int_equal(c.nrows, 6);
    assert_null(find_row(&c, "per", 10, "B"));
    const rw_cmp_row *r = find_row(&c, "per", 15, "B");
    assert_non_null(r);
    assert_true(isnan(r->diff));
    close_to(find_row(&c, "per", 20, "B")->diff, 27);
    compare_free(&c);

    /* Nearest within 5: at 10, B's nearest are 0 and 15 (distance 10, 5):
     * 15, reported at step 10: diff 20 - 2 = 18. B's step 15 row is gone. */
    o.align = RW_ALIGN_NEAREST;
    o.max_distance = 5;
    assert_int_equal(compare_runs(tabs, names, NULL, 1, &o, &c, &err), RW_OK);
    assert_int_equal(c.nrows, 6);
    assert_null(find_row(&c, "per", 15, "B"));
    r = find_row(&c, "per", 10, "B");
    assert_non_null(r);
    close_to(r->s.mean, 20);
    close_to(r->diff, 18);
    compare_free(&c);

    /* Within 4: step 10 has no B row. */
    o.max_distance = 4;
    assert_int_equal(compare_runs(tabs, names, NULL, 1, &o, &c, &err), RW_OK);
    assert_int_equal(c.nrows, 5);
    assert_null(find_row(&c, "per", 10, "B"));
    compare_free(&c);
    table_free(t);

    /* Ties go to the earlier step: A at 100, B at 90 and 110. */
    const lrow tie[] = {
        {"A", 100, 0, "weight", "1", "1"},
        {"B", 90, 0, "weight", "5", "1"},
        {"B", 110, 0, "weight", "7", "1"},
    };
    t = make_table(tie, 3);
    tabs[0] = t;
    o.max_distance = 10;
    assert_int_equal(compare_runs(tabs, names, NULL, 1, &o, &c, &err), RW_OK);
    assert_int_equal(c.nrows, 2);
    close_to(find_row(&c, "per", 100, "B")->s.mean, 5);
    compare_free(&c);
    table_free(t);
}

/* Two tables of one run each, both called "x": labels tell them apart; a
 * duplicate (run, step, tensor) across tables is refused. */
static void labels_and_errors(void **state)
{
    (void)state;
    const lrow r1[] = {{"x", 0, 0, "weight", "0.5", "1"}, {"x", 0, 1, "weight", "0.7", "1"}};
    const lrow r2[] = {{"x", 0, 0, "full", "0.2", "1"}, {"x", 0, 1, "full", "0.4", "1"}};
    rw_table *t1 = make_table(r1, 2), *t2 = make_table(r2, 2);
    const rw_table *tabs[] = {t1, t2};
    const char *names[] = {"full.tsv", "relora.tsv"};
    const char *labels[] = {"full", "relora"};
    rw_compare_opts o = {0};
    rw_comparison c;
    rw_err err = {{0}};
    assert_int_equal(compare_runs(tabs, names, labels, 2, &o, &c, &err), RW_OK);
    assert_int_equal(c.nruns, 2);
    close_to(find_row(&c, "per", 0, "relora")->diff, -0.3);
    compare_free(&c);

    assert_int_equal(compare_runs(tabs, names, NULL, 2, &o, &c, &err), RW_EDATA);
    assert_non_null(strstr(err.msg, "run x, step 0, tensor layers.0.w: cond given twice"));
    assert_non_null(strstr(err.msg, "full.tsv row 1, relora.tsv row 1"));

    o.ref = "nobody";
    assert_int_equal(compare_runs(tabs, names, labels, 2, &o, &c, &err), RW_EUSAGE);
    assert_non_null(strstr(err.msg, "no run named 'nobody' (runs: full, relora)"));
    o.ref = NULL;

    const char *bad_metric[] = {"erank"};
    o.metrics = bad_metric;
    o.nmetrics = 1;
    assert_int_equal(compare_runs(tabs, names, labels, 2, &o, &c, &err), RW_EUSAGE);
    assert_non_null(strstr(err.msg, "'erank'"));
    o.metrics = NULL;
    o.nmetrics = 0;
    table_free(t2);

    /* A label on a table of two runs. */
    const lrow two[] = {{"a", 0, 0, "weight", "1", "1"}, {"b", 0, 0, "weight", "1", "1"}};
    t2 = make_table(two, 2);
    tabs[1] = t2;
    assert_int_equal(compare_runs(tabs, names, labels, 2, &o, &c, &err), RW_EUSAGE);
    assert_non_null(strstr(err.msg, "relora.tsv: a label renames a table of one run"));
    table_free(t2);

    /* A metric cell that is not a number; a step that is not whole. */
    const lrow badv[] = {{"a", 0, 0, "weight", "0.5", "1"}, {"a", 0, 1, "weight", "abc", "1"}};
    t2 = make_table(badv, 2);
    tabs[0] = t2;
    assert_int_equal(compare_runs(tabs, names, NULL, 1, &o, &c, &err), RW_EDATA);
    assert_non_null(strstr(err.msg, "full.tsv: row 2 (run a, step 0, tensor layers.1.w): "
                                    "per 'abc' is not a number"));
    table_free(t2);

    /* A table without a module column. */
    const char *nc[] = {"run", "step", "tensor", "component", "per"};
    rw_table *t3 = table_new(nc, 5);
    tabs[0] = t3;
    assert_int_equal(compare_runs(tabs, names, NULL, 1, &o, &c, &err), RW_EDATA);
    assert_non_null(strstr(err.msg, "full.tsv: no column 'module'"));
    table_free(t3);
    table_free(t1);
}

static void presentation_numbers(void **state)
{
    (void)state;
    char b[96];
    assert_string_equal(compare_fmt_pm(b, 0.51234, 0.01234, false), "0.512 ± 0.012");
    assert_string_equal(compare_fmt_pm(b, 0.51234, 0.01234, true), "$0.512 \\pm 0.012$");
    assert_string_equal(compare_fmt_pm(b, 1.5e6, 2.5e5, false), "(1.50 ± 0.25)e6");
    assert_string_equal(compare_fmt_pm(b, 1.5e6, 2.5e5, true),
                        "$(1.50 \\pm 0.25)\\times10^{6}$");
    assert_string_equal(compare_fmt_pm(b, 150, 124.2, false), "150 ± 124");
    /* h far below the mean's fourth digit: shown on its own. */
    assert_string_equal(compare_fmt_pm(b, 0.6, 1e-9, false), "0.6000 ± 1e-9");
    /* No spread (n = 1) or undefined: the mean alone. */
    assert_string_equal(compare_fmt_pm(b, 0.6, 0, false), "0.6");
    assert_string_equal(compare_fmt_pm(b, 0.6, NAN, true), "$0.6$");
    assert_string_equal(compare_fmt_num(b, 12345.6, false, false), "12346");
    assert_string_equal(compare_fmt_num(b, 1234567, true, false), "$1.235\\times10^{6}$");
    assert_string_equal(compare_fmt_num(b, 0.00012346, false, false), "1.235e-4");
    assert_string_equal(compare_fmt_num(b, -0.0812345, false, true), "-0.08123");
    assert_string_equal(compare_fmt_num(b, 0.02, true, true), "$+0.02$");
    assert_string_equal(compare_fmt_num(b, 0, false, true), "0");
    assert_string_equal(compare_fmt_num(b, 9.99996, false, false), "10");
    assert_string_equal(compare_fmt_num(b, NAN, true, false), "--");
    assert_string_equal(compare_fmt_num(b, INFINITY, true, false), "$\\infty$");
    assert_string_equal(compare_fmt_num(b, -INFINITY, false, false), "-inf");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(means_intervals_and_diffs),
        cmocka_unit_test(summary_of_hand_curves),
        cmocka_unit_test(curve_edge_cases),
        cmocka_unit_test(alignment),
        cmocka_unit_test(labels_and_errors),
        cmocka_unit_test(presentation_numbers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
