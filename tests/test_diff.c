/*
 * test_diff.c — rw-diff's logic: identical tables, values beyond and within
 * tolerance (numpy.isclose's rule, worked by hand), per-metric tolerances,
 * nan/inf/empty rules, rows, columns and tables on one side, the ordering of
 * the report, bad data, directories, and the three report formats.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "analyzers/tables/diff.h"
#include "tests/testutil.h"

static const char *const cols[] = {"run", "step", "tensor", "layer", "module",
                                   "component", "dtype", "per", "cond"};

/* Rows {run, step, tensor, per, cond} of a per-layer table (layer 0,
 * module "w", component weight, dtype float32 unless dtype given). */
typedef struct {
    const char *run, *step, *tensor, *per, *cond, *dtype;
} drow;

static rw_table *make(const drow *rows, size_t n)
{
    rw_table *t = table_new(cols, 9);
    assert_non_null(t);
    rw_err err = {{0}};
    for (size_t i = 0; i < n; i++) {
        const char *cells[] = {rows[i].run, rows[i].step, rows[i].tensor, "0", "w", "weight",
                               rows[i].dtype ? rows[i].dtype : "float32", rows[i].per,
                               rows[i].cond};
        assert_int_equal(table_add_row(t, cells, &err), RW_OK);
    }
    /* As table_read would mark them. */
    for (size_t c = 0; c < t->ncols; c++) {
        bool num = t->nrows > 0;
        for (size_t r = 0; r < t->nrows && num; r++) {
            double v;
            num = rw_parse_double(table_cell(t, r, c), &v);
        }
        t->numeric[c] = num;
    }
    return t;
}

static const drow base_rows[] = {
    {"a", "0", "layers.0.w", "0.5", "10", NULL},
    {"a", "10", "layers.0.w", "100", "20", NULL},
    {"b", "0", "layers.0.w", "0.25", "inf", NULL},
    {"b", "10", "layers.0.w", "nan", "30", NULL},
};
#define NBASE 4

static rw_diff *run_diff(const rw_diff_opts *o, rw_table *b, rw_table *c, rw_status want)
{
    rw_diff *d = diff_new(o);
    assert_non_null(d);
    rw_err err = {{0}};
    rw_status st = diff_add(d, "t.tsv", b, c, &err);
    if (st == RW_OK)
        st = diff_finish(d, &err);
    if (st != want)
        fprintf(stderr, "status %d: %s\n", st, err.msg);
    assert_int_equal(st, want);
    return d;
}

static void identical_tables(void **state)
{
    (void)state;
    rw_diff_opts o = {.rtol = 0, .atol = 0};
    rw_diff *d = run_diff(&o, make(base_rows, NBASE), make(base_rows, NBASE), RW_OK);
    const rw_diff_counts *n = diff_counts(d);
    assert_int_equal(n->differences, 0);
    assert_int_equal(diff_ndiff(d), 0);
    assert_int_equal(n->rows_matched, 4);
    assert_int_equal(n->values, 8); /* per and cond; dtype etc. are labels */
    diff_free(d);
}

static void beyond_and_within_tolerance(void **state)
{
    (void)state;
    /* per of (a, 10): 100 -> 101. |101 - 100| = 1 <= 0 + 0.01 * 100 = 1:
     * agrees at rtol .01 (the bound is inclusive); at rtol .005 the
     * tolerance is .5 and the score 1 / .5 = 2. */
    drow cur[NBASE];
    memcpy(cur, base_rows, sizeof cur);
    cur[1].per = "101";
    rw_diff_opts o = {.rtol = 0.01, .atol = 0};
    rw_diff *d = run_diff(&o, make(base_rows, NBASE), make(cur, NBASE), RW_OK);
    assert_int_equal(diff_counts(d)->differences, 0);
    diff_free(d);

    o.rtol = 0.005;
    d = run_diff(&o, make(base_rows, NBASE), make(cur, NBASE), RW_OK);
    assert_int_equal(diff_counts(d)->differences, 1);
    assert_int_equal(diff_counts(d)->values_beyond, 1);
    const rw_difference *x = diff_get(d, 0);
    assert_int_equal(x->kind, RW_DK_VALUE);
    assert_string_equal(x->column, "per");
    assert_string_equal(x->base, "100");
    assert_string_equal(x->cur, "101");
    assert_true(fabs(x->diff - 1) < 1e-12);
    assert_true(fabs(x->rel_diff - 0.01) < 1e-12);
    assert_true(fabs(x->tol - 0.5) < 1e-12);
    assert_true(fabs(x->score - 2) < 1e-12);
    char *key = diff_key(d, 0);
    assert_string_equal(key, "run=a step=10 tensor=layers.0.w component=weight");
    free(key);
    diff_free(d);

    /* atol adds: .005 * 100 + .5 = 1 -> agrees again. */
    o.atol = 0.5;
    d = run_diff(&o, make(base_rows, NBASE), make(cur, NBASE), RW_OK);
    assert_int_equal(diff_counts(d)->differences, 0);
    diff_free(d);
}

static void per_metric_tolerances(void **state)
{
    (void)state;
    /* per 0.5 -> 0.51 (2%), cond 10 -> 10.3 (3%). */
    drow cur[NBASE];
    memcpy(cur, base_rows, sizeof cur);
    cur[0].per = "0.51";
    cur[0].cond = "10.3";
    rw_tol tols[] = {{"per", 0.01, NAN}, {"cond", 0.05, NAN}};
    rw_diff_opts o = {.rtol = 1e-6, .atol = 0, .tols = tols, .ntols = 2};
    rw_diff *d = run_diff(&o, make(base_rows, NBASE), make(cur, NBASE), RW_OK);
    assert_int_equal(diff_counts(d)->differences, 1);
    assert_string_equal(diff_get(d, 0)->column, "per");
    diff_free(d);

    tols[0].rtol = 0.05; /* per=0.05: both within */
    d = run_diff(&o, make(base_rows, NBASE), make(cur, NBASE), RW_OK);
    assert_int_equal(diff_counts(d)->differences, 0);
    diff_free(d);

    /* per=0:0.02 — relative 0, absolute .02 >= .01: within. */
    tols[0] = (rw_tol){"per", 0, 0.02};
    d = run_diff(&o, make(base_rows, NBASE), make(cur, NBASE), RW_OK);
    assert_int_equal(diff_counts(d)->differences, 0);
    diff_free(d);

    /* cond=inf skips cond, even 10 -> nan. */
    cur[0].cond = "nan";
    tols[0] = (rw_tol){"per", 0.05, NAN};
    tols[1] = (rw_tol){"cond", INFINITY, NAN};
    d = run_diff(&o, make(base_rows, NBASE), make(cur, NBASE), RW_OK);
    assert_int_equal(diff_counts(d)->differences, 0);
    diff_free(d);

    /* --metrics cond: per's 2% is not looked at, cond's 3% is. */
    cur[0].cond = "10.3";
    const char *metrics[] = {"cond"};
    rw_diff_opts o2 = {.rtol = 0.01, .atol = 0, .metrics = metrics, .nmetrics = 1};
    d = run_diff(&o2, make(base_rows, NBASE), make(cur, NBASE), RW_OK);
    assert_int_equal(diff_counts(d)->differences, 1);
    assert_string_equal(diff_get(d, 0)->column, "cond");
    assert_int_equal(diff_counts(d)->values, 4);
    diff_free(d);

    /* A --metrics or --tol name no table has: a usage error at the end. */
    const char *typo[] = {"pre"};
    o2.metrics = typo;
    d = run_diff(&o2, make(base_rows, NBASE), make(cur, NBASE), RW_EUSAGE);
    diff_free(d);
}

static void nan_inf_and_empty(void **state)
{
    (void)state;
    rw_diff_opts o = {.rtol = 1, .atol = 1}; /* generous: only the rules matter */
    struct {
        const char *b, *c;
        bool agree;
    } cases[] = {
        {"nan", "nan", true},   {"nan", "NaN", true},  {"0.5", "nan", false},
        {"nan", "0.5", false},  {"inf", "inf", true},  {"inf", "Infinity", true},
        {"inf", "-inf", false}, {"-inf", "-inf", true}, {"inf", "1e308", false},
        {"1e308", "inf", false}, {"", "", true},       {"", "1", false},
        {"1", "", false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        drow b[] = {{"a", "0", "t", "0.5", cases[i].b, NULL}};
        drow c[] = {{"a", "0", "t", "0.5", cases[i].c, NULL}};
        rw_diff *d = run_diff(&o, make(b, 1), make(c, 1), RW_OK);
        if ((diff_counts(d)->differences == 0) != cases[i].agree) {
            fprintf(stderr, "baseline '%s' current '%s'\n", cases[i].b, cases[i].c);
            fail();
        }
        if (!cases[i].agree)
            assert_true(isinf(diff_get(d, 0)->score));
        diff_free(d);
    }
}

static void rows_columns_and_order(void **state)
{
    (void)state;
    /* Current: (a,0) per 0.5 -> 0.6 (score .1 / .05 = 2), (a,10) per
     * 100 -> 200 (score 100 / 10 = 10), (b,0) gone, (c,0) new, dtype of
     * (b,10) changed, and no cond column. */
    static const char *const ccols[] = {"run", "step", "tensor", "layer", "module",
                                        "component", "dtype", "per"};
    rw_table *c = table_new(ccols, 8);
    const char *rows[][8] = {
        {"c", "0", "layers.0.w", "0", "w", "weight", "float32", "1"},
        {"a", "0", "layers.0.w", "0", "w", "weight", "float32", "0.6"},
        {"a", "10", "layers.0.w", "0", "w", "weight", "float32", "200"},
        {"b", "10", "layers.0.w", "0", "w", "weight", "bfloat16", "nan"},
    };
    rw_err err = {{0}};
    for (int i = 0; i < 4; i++)
        assert_int_equal(table_add_row(c, rows[i], &err), RW_OK);
    c->numeric[7] = true;
    rw_diff_opts o = {.rtol = 0.1, .atol = 0};
    rw_diff *d = run_diff(&o, make(base_rows, NBASE), c, RW_OK);
    const rw_diff_counts *n = diff_counts(d);
    assert_int_equal(n->rows_matched, 3);
    assert_int_equal(n->rows_missing, 1);
    assert_int_equal(n->rows_extra, 1);
    assert_int_equal(n->cols_missing, 1);
    assert_int_equal(n->labels_differ, 1);
    assert_int_equal(n->values_beyond, 2);
    assert_int_equal(n->differences, 6);
    assert_int_equal(diff_ndiff(d), 6);
    /* Worst first: the column; the label (score inf); values by score; the
     * rows on one side, in the order found (extra found first). */
    assert_int_equal(diff_get(d, 0)->kind, RW_DK_COL_MISSING);
    assert_string_equal(diff_get(d, 0)->column, "cond");
    assert_int_equal(diff_get(d, 1)->kind, RW_DK_LABEL);
    assert_string_equal(diff_get(d, 1)->cur, "bfloat16");
    assert_int_equal(diff_get(d, 2)->kind, RW_DK_VALUE);
    assert_string_equal(diff_get(d, 2)->cur, "200");
    assert_string_equal(diff_get(d, 3)->cur, "0.6");
    assert_int_equal(diff_get(d, 4)->kind, RW_DK_ROW_EXTRA);
    char *key = diff_key(d, 4);
    assert_string_equal(key, "run=c step=0 tensor=layers.0.w component=weight");
    free(key);
    assert_int_equal(diff_get(d, 5)->kind, RW_DK_ROW_MISSING);
    diff_free(d);

    /* --allow-missing: the rows and the column are counted, not differences. */
    c = table_new(ccols, 8);
    for (int i = 0; i < 4; i++)
        assert_int_equal(table_add_row(c, rows[i], &err), RW_OK);
    c->numeric[7] = true;
    o.allow_missing = true;
    d = run_diff(&o, make(base_rows, NBASE), c, RW_OK);
    assert_int_equal(diff_counts(d)->rows_missing, 1);
    assert_int_equal(diff_counts(d)->differences, 3); /* the label, two values */
    diff_free(d);
}

static void bad_data(void **state)
{
    (void)state;
    rw_diff_opts o = {.rtol = 0, .atol = 0};
    rw_err err = {{0}};
    /* A metric cell that is not a number. */
    drow bad[NBASE];
    memcpy(bad, base_rows, sizeof bad);
    bad[2].per = "abc";
    rw_diff *d = diff_new(&o);
    assert_int_equal(diff_add(d, "t.tsv", make(base_rows, NBASE), make(bad, NBASE), &err),
                     RW_EDATA);
    assert_string_equal(err.msg, "t.tsv: row 3 (run=b step=0 tensor=layers.0.w "
                                 "component=weight): per 'abc' is not a number");
    diff_free(d);

    /* A key given twice. */
    drow dup[2] = {base_rows[0], base_rows[0]};
    d = diff_new(&o);
    assert_int_equal(diff_add(d, "t.tsv", make(dup, 2), make(base_rows, NBASE), &err), RW_EDATA);
    assert_non_null(strstr(err.msg, "t.tsv: rows 1 and 2 have the same key (run=a step=0"));
    diff_free(d);

    /* No component column. */
    static const char *const nc[] = {"run", "step", "tensor", "per"};
    d = diff_new(&o);
    assert_int_equal(diff_add(d, "t.tsv", table_new(nc, 4), table_new(nc, 4), &err), RW_EDATA);
    assert_non_null(strstr(err.msg, "t.tsv: no column 'component' (a per-layer table is keyed "
                                    "by run, step, tensor, component)"));
    diff_free(d);

    /* A per-layer table against an rw-compare table. */
    static const char *const cc[] = {"module", "metric", "step", "run", "mean"};
    d = diff_new(&o);
    assert_int_equal(diff_add(d, "t.tsv", make(base_rows, NBASE), table_new(cc, 5), &err),
                     RW_EDATA);
    assert_string_equal(err.msg, "t.tsv is a per-layer table, t.tsv an rw-compare table");
    diff_free(d);
}

static void compare_tables_keyed_by_module(void **state)
{
    (void)state;
    static const char *const cc[] = {"module", "metric", "step", "run", "n", "mean", "diff"};
    const char *rows[][7] = {
        {"w", "per", "0", "A", "3", "0.6", ""},
        {"w", "per", "0", "B", "3", "0.5", "-0.1"},
    };
    rw_table *b = table_new(cc, 7), *c = table_new(cc, 7);
    rw_err err = {{0}};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(table_add_row(b, rows[i], &err), RW_OK);
        assert_int_equal(table_add_row(c, rows[1 - i], &err), RW_OK); /* other order */
    }
    rw_diff_opts o = {.rtol = 0, .atol = 0};
    rw_diff *d = run_diff(&o, b, c, RW_OK);
    assert_int_equal(diff_counts(d)->rows_matched, 2);
    assert_int_equal(diff_counts(d)->differences, 0);
    assert_int_equal(diff_counts(d)->values, 6);
    diff_free(d);
}

/* Writes a file under dir. */
static void put_file(const char *dir, const char *name, const char *text)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void directories_and_reports(void **state)
{
    (void)state;
    char b[256], c[256];
    assert_int_equal(test_tmpdir_make(b, sizeof b, "diff-b"), 0);
    assert_int_equal(test_tmpdir_make(c, sizeof c, "diff-c"), 0);
    char sub[600];
    snprintf(sub, sizeof sub, "%s/sub", b);
    assert_int_equal(mkdir(sub, 0700), 0);
    snprintf(sub, sizeof sub, "%s/sub", c);
    assert_int_equal(mkdir(sub, 0700), 0);
    const char *hdr = "run\tstep\ttensor\tcomponent\tper\n";
    char t1[256], t2[256];
    snprintf(t1, sizeof t1, "%sa\t0\tt\tweight\t0.5\n", hdr);
    snprintf(t2, sizeof t2, "%sa\t0\tt\tweight\t0.51\n", hdr);
    put_file(b, "rank.tsv", t1);
    put_file(c, "rank.tsv", t2);
    put_file(b, "sub/cond.tsv", t1);
    put_file(c, "sub/cond.tsv", t1);
    put_file(b, "only_base.tsv", t1);
    put_file(c, "notes.txt", "not a table");
    /* A listing (no key columns of a known kind) on both sides: skipped. */
    put_file(b, "ls.tsv", "run\tstep\tfile\ttensor\na\t0\t/x/a.h5\tt\n");
    put_file(c, "ls.tsv", "run\tstep\tfile\ttensor\na\t0\t/y/a.h5\tt\n");

    rw_tol tols[] = {{"per", 0.01, NAN}};
    rw_diff_opts o = {.rtol = 1e-6, .atol = 1e-12, .tols = tols, .ntols = 1};
    rw_diff *d = diff_new(&o);
    rw_err err = {{0}};
    assert_int_equal(diff_paths(d, b, c, &err), RW_OK);
    assert_int_equal(diff_finish(d, &err), RW_OK);
    const rw_diff_counts *n = diff_counts(d);
    assert_int_equal(n->tables, 2);
    assert_int_equal(n->tables_missing, 1);
    assert_int_equal(n->tables_skipped, 1);
    assert_int_equal(n->differences, 2);
    assert_int_equal(diff_get(d, 0)->kind, RW_DK_TABLE_MISSING);
    assert_string_equal(diff_get(d, 0)->table, "only_base.tsv");
    assert_string_equal(diff_get(d, 1)->table, "rank.tsv");

    /* Text: counts and both values; md: a table; json: valid, all in it. */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_int_equal(diff_write(d, f, RW_DF_TEXT, 20, "base", "cur"), RW_OK);
    fclose(f);
    assert_non_null(strstr(buf, "rw-diff: base vs cur: 2 differences"));
    assert_non_null(strstr(buf, "rank.tsv: run=a step=0 tensor=t component=weight: per: "
                                "baseline 0.5, current 0.51"));
    assert_non_null(strstr(buf, "only_base.tsv: table only in the baseline"));
    assert_non_null(strstr(buf, "1 skipped, without key columns: ls.tsv"));
    free(buf);

    f = open_memstream(&buf, &len);
    assert_int_equal(diff_write(d, f, RW_DF_MD, 1, "base", "cur"), RW_OK);
    fclose(f);
    assert_non_null(strstr(buf, "### rw-diff: 2 differences"));
    assert_non_null(strstr(buf, "| table | key | column |"));
    assert_non_null(strstr(buf, "… and 1 more."));
    free(buf);

    f = open_memstream(&buf, &len);
    assert_int_equal(diff_write(d, f, RW_DF_JSON, 1, "base", "cur"), RW_OK);
    fclose(f);
    cJSON *j = cJSON_Parse(buf);
    assert_non_null(j);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(j, "equal")));
    cJSON *arr = cJSON_GetObjectItem(j, "differences");
    assert_int_equal(cJSON_GetArraySize(arr), 2);
    cJSON *v = cJSON_GetArrayItem(arr, 1);
    assert_string_equal(cJSON_GetObjectItem(v, "baseline")->valuestring, "0.5");
    assert_string_equal(cJSON_GetObjectItem(v, "current")->valuestring, "0.51");
    assert_string_equal(
        cJSON_GetObjectItem(cJSON_GetObjectItem(v, "key"), "component")->valuestring, "weight");
    cJSON_Delete(j);
    free(buf);
    diff_free(d);

    /* A directory against a file is misuse. */
    char file[600];
    snprintf(file, sizeof file, "%s/rank.tsv", c);
    d = diff_new(&o);
    assert_int_equal(diff_paths(d, b, file, &err), RW_EUSAGE);
    diff_free(d);

    assert_int_equal(test_tmpdir_remove(b), 0);
    assert_int_equal(test_tmpdir_remove(c), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(identical_tables),
        cmocka_unit_test(beyond_and_within_tolerance),
        cmocka_unit_test(per_metric_tolerances),
        cmocka_unit_test(nan_inf_and_empty),
        cmocka_unit_test(rows_columns_and_order),
        cmocka_unit_test(bad_data),
        cmocka_unit_test(compare_tables_keyed_by_module),
        cmocka_unit_test(directories_and_reports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
