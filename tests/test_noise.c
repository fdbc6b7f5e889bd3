/*
 * test_noise.c — num_rank's storage-noise rule (DESIGN.md): matrices with
 * known singular values stored as bfloat16, float16, float32 and float64
 * (rounded by the safetensors writer), read back and built as the pipeline
 * does (item_build_noise), get num_rank = k when full rank and well
 * conditioned, exactly r when of rank r; the tolerance is checked against
 * the formula computed here; a 256 x 256 bfloat16 matrix, which numpy's
 * matrix_rank rule (sigma_1 max(m, n) eps(bf16) > sigma_1) ranked 0, is
 * ranked 256.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "analyzers/core/items.h"
#include "analyzers/core/metrics.h"
#include "analyzers/core/spectral.h"
#include "fixtures/stwrite.h"
#include "fixtures/synth.h"
#include "io/ckpt.h"
#include "tests/testutil.h"

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    return test_tmpdir_make(tmpdir, sizeof tmpdir, "noise");
}

static int teardown(void **state)
{
    (void)state;
    return test_tmpdir_remove(tmpdir);
}

/* The unit round-off, written out here rather than taken from the library. */
static double unit_roundoff(rw_dtype dt)
{
    switch (dt) {
    case RW_DT_BF16: return 1.0 / 256;          /* 2^-8 */
    case RW_DT_F16: return 1.0 / 2048;          /* 2^-11 */
    case RW_DT_F32: return 1.0 / 16777216;      /* 2^-24 */
    default: return 1.1102230246251565e-16;     /* 2^-53 */
    }
}

/* Stores an m x n matrix with singular values s (k of them) as dtype, reads
 * it back, builds it with its noise bound and returns its metrics; *tol_out
 * gets the tolerance computed here from the formula. */
static rw_metrics stored_metrics(rw_dtype dt, int64_t m, int64_t n, const double *s,
                                 double *tol_out)
{
    rw_err err = {{0}};
    int64_t k = m < n ? m : n;
    double *w = malloc((size_t)(m * n) * sizeof *w), *sig = malloc((size_t)k * sizeof *sig);
    assert_non_null(w);
    assert_non_null(sig);
    rw_rng r;
    rng_seed(&r, 1234 + (uint64_t)dt);
    assert_int_equal(synth_matrix(&r, m, n, s, w, &err), RW_OK);
    char path[400];
    snprintf(path, sizeof path, "%s/m_%s_%lld.safetensors", tmpdir, rw_dtype_name(dt),
             (long long)m);
    rw_stw *st = stw_new();
    int64_t shape[2] = {m, n};
    assert_int_equal(stw_tensor(st, "layers.0.mlp.w.weight", 2, shape, dt, w, &err), RW_OK);
    assert_int_equal(stw_save(st, path, &err), RW_OK);
    stw_free(st);

    rw_ckpt *c;
    assert_int_equal(ckpt_open(path, NULL, &c, &err), RW_OK);
    rw_items it;
    rw_item_opts o = {.lora_scale = NAN};
    assert_int_equal(items_list(c, NULL, &o, &it, &err), RW_OK);
    assert_int_equal(it.n, 1);
    assert_int_equal(it.v[0].dtype, dt);
    double noise;
    assert_int_equal(item_build_noise(c, &it, 0, w, &noise, &err), RW_OK);
    /* N of a stored matrix: ||W||_F of the stored (rounded) values */
    double f = 0;
    for (int64_t e = 0; e < m * n; e++)
        f += w[e] * w[e];
    assert_true(fabs(noise - sqrt(f)) <= 1e-13 * sqrt(f));
    assert_int_equal(rw_svd_values(w, m, n, sig, &err), RW_OK);
    rw_metrics mt;
    rw_metrics_compute(sig, (size_t)k, m, n, dt, noise, &mt);
    double a = unit_roundoff(dt) * noise;
    double b = sig[0] * (double)(m > n ? m : n) * 2.220446049250313e-16;
    *tol_out = a > b ? a : b;
    assert_true(rw_rank_tol(sig[0], m, n, dt, noise) == *tol_out);
    assert_true(rw_dtype_unit_roundoff(dt) == unit_roundoff(dt));
    /* the count against the tolerance computed here */
    int64_t nr = 0;
    while (nr < k && sig[nr] > *tol_out)
        nr++;
    assert_true(mt.num_rank == (double)nr);
    items_free(&it);
    ckpt_free(c);
    free(w);
    free(sig);
    return mt;
}

static const rw_dtype dtypes[4] = {RW_DT_BF16, RW_DT_F16, RW_DT_F32, RW_DT_F64};

/* num_rank of the m x n matrix with singular values s stored in each dtype
 * is want, and cond_rank that of the nonzero part (cond_rank_want, to 5%). */
static void expect_rank_each_dtype(int64_t m, int64_t n, const double *s, int64_t want,
                                   double cond_rank_want)
{
    for (int d = 0; d < 4; d++) {
        double tol;
        rw_metrics mt = stored_metrics(dtypes[d], m, n, s, &tol);
        if (mt.num_rank != (double)want)
            fail_msg("%s: num_rank %g, want %lld (tol %g)", rw_dtype_name(dtypes[d]),
                     mt.num_rank, (long long)want, tol);
        assert_true(fabs(mt.cond_rank - cond_rank_want) <= 0.05 * cond_rank_want);
    }
}

static void full_rank_each_dtype(void **state)
{
    (void)state;
    enum { M = 96, N = 64 };
    double s[N];
    for (int i = 0; i < N; i++) /* 1 .. 10: well conditioned */
        s[i] = pow(10.0, (double)i / (N - 1));
    expect_rank_each_dtype(M, N, s, N, 10.0);
}

static void rank_r_each_dtype(void **state)
{
    (void)state;
    enum { M = 80, N = 72, R = 7 };
    double s[N] = {0};
    for (int i = 0; i < R; i++) /* 1 .. 7, ||W||_F = sqrt(140) ~ 11.8: u N < 0.05 */
        s[i] = (double)(i + 1);
    expect_rank_each_dtype(M, N, s, R, 7.0);
}

static void bf16_256_full_rank(void **state)
{
    (void)state;
    enum { K = 256 };
    double s[K];
    for (int i = 0; i < K; i++) /* 1 .. 2 */
        s[i] = 1.0 + (double)i / (K - 1);
    /* numpy's rule: sigma_1 * 256 * 2^-7 = 2 sigma_1 > sigma_1, nothing counted */
    assert_true((double)K * ldexp(1.0, -7) > 1.0);
    double tol;
    rw_metrics mt = stored_metrics(RW_DT_BF16, K, K, s, &tol);
    assert_true(mt.num_rank == K);
    assert_true(isfinite(mt.cond_rank));
}

static void fallback_and_floor(void **state)
{
    (void)state;
    /* noise nan: ||sigma|| = ||W||_F (a table without N) */
    const double s[3] = {4, 3, 1e-3};
    rw_metrics mt;
    rw_metrics_compute(s, 3, 3, 3, RW_DT_BF16, NAN, &mt);
    /* tol = 2^-8 sqrt(16 + 9 + 1e-6) ~ 0.0195 > 1e-3 */
    assert_true(mt.num_rank == 2);
    rw_metrics_compute(s, 3, 3, 3, RW_DT_F64, NAN, &mt);
    assert_true(mt.num_rank == 3);
    /* noise 0: the float64 arithmetic floor alone, sigma_1 max(m, n) eps */
    assert_true(rw_rank_tol(4, 3, 5, RW_DT_BF16, 0) == 4 * 5 * 2.220446049250313e-16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_rank_each_dtype),
        cmocka_unit_test(rank_r_each_dtype),
        cmocka_unit_test(bf16_256_full_rank),
        cmocka_unit_test(fallback_and_floor),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
