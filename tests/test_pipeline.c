/*
 * test_pipeline.c — rw_analyze's workers: -j far beyond the work starts no
 * more threads than there are matrices, and never more than rw_max_jobs();
 * the spectra are the same whatever -j is.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyzers/core/pipeline.h"
#include "fixtures/stwrite.h"
#include "fixtures/synth.h"
#include "tests/testutil.h"

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    return test_tmpdir_make(tmpdir, sizeof tmpdir, "pipeline");
}

static int teardown(void **state)
{
    (void)state;
    return test_tmpdir_remove(tmpdir);
}

/* Threads of this process now (Linux: entries of /proc/self/task), or -1. */
static int threads_now(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* What the callback sees: the most threads alive while spectra arrive, and
 * the spectra themselves (sigma_1 of each, in order). */
typedef struct {
    int max_threads;
    size_t n;
    double sigma1[512];
} seen;

static rw_status on_spectrum(const rw_spectrum *s, void *ctx, rw_err *err)
{
    (void)err;
    seen *v = ctx;
    int t = threads_now();
    if (t > v->max_threads)
        v->max_threads = t;
    if (v->n < sizeof v->sigma1 / sizeof *v->sigma1)
        v->sigma1[v->n] = s->k ? s->sigma[0] : 0;
    v->n++;
    return RW_OK;
}

static void analyze(const char *source, int jobs, seen *v)
{
    rw_runset rs = {0};
    rw_err err = {{0}};
    assert_int_equal(runset_add(&rs, source, NULL, &err), RW_OK);
    assert_int_equal(runset_finish(&rs, &err), RW_OK);
    rw_analysis_opts o = {.weights = true, .prog = "test", .jobs = jobs};
    memset(v, 0, sizeof *v);
    rw_status st = rw_analyze(&rs, &o, on_spectrum, v, &err);
    if (st != RW_OK)
        print_error("%s\n", err.msg);
    assert_int_equal(st, RW_OK);
    runset_free(&rs);
}

/* One 4 x 6 matrix and -j 64: one worker besides the main thread, not 64. */
static void one_matrix_one_worker(void **state)
{
    (void)state;
    if (threads_now() < 0)
        skip();
    char path[512];
    snprintf(path, sizeof path, "%s/one.safetensors", tmpdir);
    rw_stw *w = stw_new();
    rw_err err = {{0}};
    double v[24];
    for (int i = 0; i < 24; i++)
        v[i] = (i * 7 % 11) - 5.0;
    int64_t shape[2] = {4, 6};
    assert_int_equal(stw_tensor(w, "layers.0.w.weight", 2, shape, RW_DT_F32, v, &err), RW_OK);
    assert_int_equal(stw_save(w, path, &err), RW_OK);
    stw_free(w);

    int before = threads_now();
    seen s1, s64;
    analyze(path, 1, &s1);
    analyze(path, 64, &s64);
    assert_int_equal(s64.n, 1);
    assert_true(s64.max_threads - before <= 1);
    assert_true(s1.sigma1[0] == s64.sigma1[0]);
}

/* A run of 32 matrices and -j 1000: at most rw_max_jobs() workers (8 on 2
 * cores), and the same spectra, in the same order, as -j 1. */
static void many_matrices_capped(void **state)
{
    (void)state;
    if (threads_now() < 0)
        skip();
    synth_runs_opts o;
    synth_runs_defaults(&o);
    o.layers = 2;
    o.steps = 100;
    o.every = 100;
    o.cycle = 100;
    rw_err err = {{0}};
    char dir[512], run[600];
    snprintf(dir, sizeof dir, "%s/runs", tmpdir);
    assert_int_equal(synth_write_runs(dir, &o, &err), RW_OK);
    snprintf(run, sizeof run, "%s/full-rank", dir);

    int before = threads_now();
    static seen s1, sn;
    analyze(run, 1, &s1);
    analyze(run, 1000, &sn);
    /* a worker per matrix at most, and at most the cap */
    size_t cap = sn.n < (size_t)rw_max_jobs() ? sn.n : (size_t)rw_max_jobs();
    assert_true(sn.max_threads - before <= (int)cap);
    assert_int_equal(s1.n, sn.n);
    for (size_t i = 0; i < s1.n && i < 512; i++)
        assert_true(s1.sigma1[i] == sn.sigma1[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_matrix_one_worker),
        cmocka_unit_test(many_matrices_capped),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
