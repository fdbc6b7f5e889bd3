/*
 * test_items.c — adapters (pairing, scale, base/lora/full, transposed base,
 * adapter-only), the small-problem LoRA spectrum against the full product,
 * and the OV circuits against hand-worked and loop-computed products.
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
#include <sys/stat.h>

#include "fixtures/h5write.h"
#include "analyzers/core/items.h"
#include "analyzers/core/spectral.h"
#include "fixtures/synth.h"
#include "tests/testutil.h"

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    return test_tmpdir_make(tmpdir, sizeof tmpdir, "items");
}

static int teardown(void **state)
{
    (void)state;
    return test_tmpdir_remove(tmpdir);
}

/* Asymmetric values so that a transpose shows. */
static void fill(double *v, size_t n, double seed)
{
    for (size_t i = 0; i < n; i++)
        v[i] = sin(seed + 1.7 * (double)i) + 0.1 * (double)(i % 3);
}

static rw_ckpt *open_ckpt(const char *path)
{
    rw_ckpt *c;
    rw_err err = {{0}};
    assert_int_equal(ckpt_open(path, NULL, &c, &err), RW_OK);
    return c;
}

enum { M = 6, N = 5, R = 2 };

/* Writes base X.weight (M x N, or N x M when transposed), A (R x N), B (M x R). */
static void write_adapted(const char *path, const char *a_suffix, const char *b_suffix,
                          const char *base_name, bool transposed, bool attrs,
                          double *w, double *a, double *b)
{
    rw_err err = {{0}};
    rw_h5w *h;
    assert_int_equal(h5w_open(path, &h, &err), RW_OK);
    fill(w, M * N, 0.3);
    fill(a, R * N, 1.1);
    fill(b, M * R, 2.9);
    char name[128];
    int64_t ws[2] = {transposed ? N : M, transposed ? M : N}, as[2] = {R, N}, bs[2] = {M, R};
    if (base_name)
        assert_int_equal(h5w_dataset(h, base_name, 2, ws, RW_DT_F64, w, 0, &err), RW_OK);
    snprintf(name, sizeof name, "layers.0.mlp.X%s", a_suffix);
    assert_int_equal(h5w_dataset(h, name, 2, as, RW_DT_F64, a, 0, &err), RW_OK);
    snprintf(name, sizeof name, "layers.0.mlp.X%s", b_suffix);
    assert_int_equal(h5w_dataset(h, name, 2, bs, RW_DT_F64, b, 0, &err), RW_OK);
    if (attrs) {
        assert_int_equal(h5w_attr_f64(h, "/", "lora_alpha", 4, &err), RW_OK);
        assert_int_equal(h5w_attr_i64(h, "/", "lora_r", 2, &err), RW_OK);
    }
    assert_int_equal(h5w_close(h, true, &err), RW_OK);
}

static void adapters_pair_and_merge(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/relora.h5", tmpdir);
    double w[M * N], a[R * N], b[M * R];
    write_adapted(path, ".A_lora.weight", ".B_lora.weight", "layers.0.mlp.X.weight", false, true,
                  w, a, b);
    rw_ckpt *c = open_ckpt(path);
    rw_items it;
    rw_err err = {{0}};
    rw_item_opts o = {.lora_scale = NAN};
    assert_int_equal(items_list(c, NULL, &o, &it, &err), RW_OK);
    assert_true(it.scale == 2.0); /* alpha 4 / r 2 */
    assert_string_equal(it.scale_from, "attributes");
    assert_int_equal(it.n, 3); /* base, full, lora; A and B are not items */
    long ib = items_find(&it, "layers.0.mlp.X.weight", RW_COMP_BASE);
    long ifu = items_find(&it, "layers.0.mlp.X.weight", RW_COMP_FULL);
    long il = items_find(&it, "layers.0.mlp.X.weight", RW_COMP_LORA);
    assert_true(ib >= 0 && ifu >= 0 && il >= 0);
    assert_true(it.v[ifu].is_default && !it.v[il].is_default && !it.v[ib].is_default);
    assert_int_equal(it.v[ifu].layer, 0);
    assert_string_equal(it.v[ifu].module, "mlp.X.weight");

    /* full = W + 2 B A, computed here by loops. */
    double full[M * N], lora[M * N], base[M * N];
    assert_int_equal(item_build(c, &it, (size_t)ifu, full, &err), RW_OK);
    assert_int_equal(item_build(c, &it, (size_t)il, lora, &err), RW_OK);
    assert_int_equal(item_build(c, &it, (size_t)ib, base, &err), RW_OK);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double ba = 0;
            for (int l = 0; l < R; l++)
                ba += b[i * R + l] * a[l * N + j];
            assert_true(fabs(lora[i * N + j] - 2 * ba) < 1e-14);
            assert_true(fabs(full[i * N + j] - (w[i * N + j] + 2 * ba)) < 1e-14);
            assert_true(base[i * N + j] == w[i * N + j]);
        }

    /* The noise bounds (num_rank's N): ||W||_F, the lora term below and
     * their sum, computed here from the written values. */
    double fw = 0, fa = 0, fb = 0, nb, nl, nf, scratch[M * N];
    for (int e = 0; e < M * N; e++)
        fw += w[e] * w[e];
    for (int e = 0; e < R * N; e++)
        fa += a[e] * a[e];
    for (int e = 0; e < M * R; e++)
        fb += b[e] * b[e];
    /* lora: |s| (||B||_F ||A||_2 + ||B||_2 ||A||_F), s = 2, ||.||_2 by power iteration */
    double want_l = 2.0 * (sqrt(fb) * test_spec_norm(a, R, N, N) +
                           test_spec_norm(b, M, R, R) * sqrt(fa));
    assert_int_equal(item_build_noise(c, &it, (size_t)ib, scratch, &nb, &err), RW_OK);
    assert_int_equal(item_build_noise(c, &it, (size_t)il, scratch, &nl, &err), RW_OK);
    assert_int_equal(item_build_noise(c, &it, (size_t)ifu, scratch, &nf, &err), RW_OK);
    assert_true(fabs(nb - sqrt(fw)) <= 1e-14 * sqrt(fw));
    assert_true(fabs(nl - want_l) <= 1e-14 * want_l);
    assert_true(fabs(nf - (sqrt(fw) + want_l)) <= 1e-14 * (sqrt(fw) + want_l));
    assert_true(fabs(item_lora_noise(2.0, b, a, M, N, R) - want_l) <= 1e-14 * want_l);

    /* The small r x r problem gives the product's singular values. */
    double s_small[N], s_full[N];
    assert_int_equal(item_lora_sigma(c, &it, (size_t)il, s_small, &err), RW_OK);
    assert_int_equal(rw_svd_values(lora, M, N, s_full, &err), RW_OK);
    for (int i = 0; i < R; i++)
        assert_true(fabs(s_small[i] - s_full[i]) <= 1e-13 * s_full[0]);
    for (int i = R; i < N; i++) {
        assert_true(s_small[i] == 0.0);      /* exactly */
        assert_true(s_full[i] < 1e-14 * s_full[0]); /* round-off */
    }
    items_free(&it);

    /* --lora-scale wins over the attributes. */
    o.lora_scale = -0.5;
    assert_int_equal(items_list(c, NULL, &o, &it, &err), RW_OK);
    assert_true(it.scale == -0.5);
    il = items_find(&it, "layers.0.mlp.X.weight", RW_COMP_LORA);
    assert_int_equal(item_lora_sigma(c, &it, (size_t)il, s_small, &err), RW_OK);
    for (int i = 0; i < R; i++) /* |s| scales the spectrum: 0.5 / 2 of before */
        assert_true(fabs(s_small[i] - s_full[i] / 4) <= 1e-13 * s_full[0]);
    items_free(&it);
    ckpt_free(c);
}

static void peft_names_transposed_base_and_config(void **state)
{
    (void)state;
    char dir[300], path[400];
    snprintf(dir, sizeof dir, "%s/checkpoint-500", tmpdir);
    mkdir(dir, 0777);
    snprintf(path, sizeof path, "%s/model.h5", dir);
    double w[M * N], a[R * N], b[M * R];
    /* fan_in_fan_out: base stored in x out (N x M) */
    write_adapted(path, ".lora_A.default.weight", ".lora_B.default.weight",
                  "layers.0.mlp.X.base_layer.weight", true, false, w, a, b);
    char cfg[400];
    snprintf(cfg, sizeof cfg, "%s/adapter_config.json", dir);
    FILE *f = fopen(cfg, "w");
    fputs("{\"r\": 2, \"lora_alpha\": 6, \"fan_in_fan_out\": true}", f);
    fclose(f);
    rw_ckpt *c = open_ckpt(path);
    rw_items it;
    rw_err err = {{0}};
    rw_item_opts o = {.lora_scale = NAN};
    assert_int_equal(items_list(c, NULL, &o, &it, &err), RW_OK);
    assert_true(it.scale == 3.0);
    assert_string_equal(it.scale_from, "adapter_config.json");
    long ifu = items_find(&it, "layers.0.mlp.X.weight", RW_COMP_FULL);
    long ib = items_find(&it, "layers.0.mlp.X.weight", RW_COMP_BASE);
    assert_true(ifu >= 0 && ib >= 0);
    assert_int_equal(it.v[ifu].rows, M);
    assert_int_equal(it.v[ifu].cols, N);
    assert_int_equal(it.v[ib].rows, N); /* the base alone, as stored */
    double full[M * N];
    assert_int_equal(item_build(c, &it, (size_t)ifu, full, &err), RW_OK);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double ba = 0;
            for (int l = 0; l < R; l++)
                ba += b[i * R + l] * a[l * N + j];
            /* stored w is N x M: element (i, j) of W is w[j * M + i] */
            assert_true(fabs(full[i * N + j] - (w[j * M + i] + 3 * ba)) < 1e-14);
        }
    items_free(&it);
    ckpt_free(c);
}

static void adapter_only_and_default_scale(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/adapter_only.h5", tmpdir);
    double w[M * N], a[R * N], b[M * R];
    write_adapted(path, ".lora_A.weight", ".lora_B.weight", NULL, false, false, w, a, b);
    rw_ckpt *c = open_ckpt(path);
    rw_items it;
    rw_err err = {{0}};
    rw_item_opts o = {.lora_scale = NAN};
    assert_int_equal(items_list(c, NULL, &o, &it, &err), RW_OK);
    assert_int_equal(it.n, 1);
    assert_int_equal(it.v[0].comp, RW_COMP_LORA);
    assert_true(it.v[0].is_default);
    assert_string_equal(it.v[0].tensor, "layers.0.mlp.X.weight");
    assert_string_equal(it.scale_from, "default");
    assert_true(it.scale == 1.0);
    items_free(&it);
    ckpt_free(c);
}

static void adapter_shape_mismatch(void **state)
{
    (void)state;
    char path[300];
    snprintf(path, sizeof path, "%s/bad_adapter.h5", tmpdir);
    rw_err err = {{0}};
    rw_h5w *h;
    double v[64] = {0};
    int64_t ws[2] = {7, 7}, as[2] = {R, N}, bs[2] = {M, R};
    assert_int_equal(h5w_open(path, &h, &err), RW_OK);
    assert_int_equal(h5w_dataset(h, "q.weight", 2, ws, RW_DT_F32, v, 0, &err), RW_OK);
    assert_int_equal(h5w_dataset(h, "q.lora_A.weight", 2, as, RW_DT_F32, v, 0, &err), RW_OK);
    assert_int_equal(h5w_dataset(h, "q.lora_B.weight", 2, bs, RW_DT_F32, v, 0, &err), RW_OK);
    assert_int_equal(h5w_close(h, true, &err), RW_OK);
    rw_ckpt *c = open_ckpt(path);
    rw_items it;
    rw_item_opts o = {.lora_scale = NAN};
    assert_int_equal(items_list(c, NULL, &o, &it, &err), RW_EDATA);
    assert_non_null(strstr(err.msg, "q.weight: base 7x7 does not fit adapters B 6x2, A 2x5"));
    ckpt_free(c);
}

/* ------------------------------------------------------------------- ov */

static void write_attention(const char *path, int64_t nh, int64_t nkv, int64_t hd, int64_t d,
                            const double *v, const double *o)
{
    rw_err err = {{0}};
    rw_h5w *h;
    int64_t vs[2] = {nkv * hd, d}, os[2] = {d, nh * hd};
    assert_int_equal(h5w_open(path, &h, &err), RW_OK);
    assert_int_equal(h5w_dataset(h, "layers.2.attention.v_proj.weight", 2, vs, RW_DT_F64, v, 0, &err), RW_OK);
    assert_int_equal(h5w_dataset(h, "layers.2.attention.o_proj.weight", 2, os, RW_DT_F64, o, 0, &err), RW_OK);
    assert_int_equal(h5w_attr_i64(h, "/", "n_heads", nh, &err), RW_OK);
    assert_int_equal(h5w_attr_i64(h, "/", "n_kv_heads", nkv, &err), RW_OK);
    assert_int_equal(h5w_close(h, true, &err), RW_OK);
}

static void ov_by_hand(void **state)
{
    (void)state;
    /* 2 heads, 1 kv head, head_dim 1, d_model 2.
     * V = [a b] = [2 3]; O = [[p q], [r s]] = [[5 7], [11 13]]: O_0 = (5, 11)^T, O_1 = (7, 13)^T.
     * ov    = [V O_0 | V O_1] = [2*5 + 3*11, 2*7 + 3*13] = [43, 53]
     * wo_wv = O_0 V + O_1 V = (O_0 + O_1) V = (12, 24)^T [2 3] = [[24 36], [48 72]] */
    char path[300];
    snprintf(path, sizeof path, "%s/ov.h5", tmpdir);
    double v[2] = {2, 3}, o[4] = {5, 7, 11, 13};
    write_attention(path, 2, 1, 1, 2, v, o);
    rw_ckpt *c = open_ckpt(path);
    rw_items it;
    rw_err err = {{0}};
    rw_item_opts opt = {.lora_scale = NAN};
    assert_int_equal(items_list(c, NULL, &opt, &it, &err), RW_OK);
    long iov = items_find(&it, "layers.2.attention.ov", RW_COMP_OV);
    long iwo = items_find(&it, "layers.2.attention.wo_wv", RW_COMP_WO_WV);
    assert_true(iov >= 0 && iwo >= 0);
    assert_false(it.v[iov].is_default);
    assert_int_equal(it.v[iov].rows, 1);
    assert_int_equal(it.v[iov].cols, 2);
    double out[4];
    assert_int_equal(item_build(c, &it, (size_t)iov, out, &err), RW_OK);
    assert_true(out[0] == 43 && out[1] == 53);
    assert_int_equal(item_build(c, &it, (size_t)iwo, out, &err), RW_OK);
    assert_true(out[0] == 24 && out[1] == 36 && out[2] == 48 && out[3] == 72);
    /* N_V = ||V||_F = sqrt(4 + 9), N_O = ||O||_F = sqrt(25 + 49 + 121 + 169);
     * ||V_0||_2 = sqrt(13), ||O_0||_2 = sqrt(25 + 121), ||O_1||_2 = sqrt(49 + 169).
     * ov:    N_V sqrt(||O_0||^2 + ||O_1||^2) + ||V_0|| N_O = 2 sqrt(13) sqrt(364)
     * wo_wv: N_O sqrt(2 ||V_0||^2) + N_V (||O_0|| + ||O_1||) */
    double noise, want = 2 * sqrt(13.0) * sqrt(364.0);
    assert_int_equal(item_build_noise(c, &it, (size_t)iov, out, &noise, &err), RW_OK);
    assert_true(fabs(noise - want) <= 1e-14 * want);
    want = sqrt(364.0) * sqrt(26.0) + sqrt(13.0) * (sqrt(146.0) + sqrt(218.0));
    assert_int_equal(item_build_noise(c, &it, (size_t)iwo, out, &noise, &err), RW_OK);
    assert_true(fabs(noise - want) <= 1e-14 * want);
    items_free(&it);
    ckpt_free(c);
}

static void ov_grouped_query_heads(void **state)
{
    (void)state;
    /* 4 heads sharing 2 kv heads, head_dim 2, d_model 5; checked against
     * explicit index loops. */
    enum { NH = 4, NKV = 2, HD = 2, D = 5 };
    double v[NKV * HD * D], o[D * NH * HD];
    fill(v, NKV * HD * D, 0.7);
    fill(o, D * NH * HD, 4.2);
    char path[300];
    snprintf(path, sizeof path, "%s/gqa.h5", tmpdir);
    write_attention(path, NH, NKV, HD, D, v, o);
    rw_ckpt *c = open_ckpt(path);
    rw_items it;
    rw_err err = {{0}};
    rw_item_opts opt = {.lora_scale = NAN};
    assert_int_equal(items_list(c, NULL, &opt, &it, &err), RW_OK);
    double ov[HD * NH * HD], wo[D * D];
    assert_int_equal(item_build(c, &it, (size_t)items_find(&it, "layers.2.attention.ov", RW_COMP_OV), ov, &err), RW_OK);
    assert_int_equal(item_build(c, &it, (size_t)items_find(&it, "layers.2.attention.wo_wv", RW_COMP_WO_WV), wo, &err), RW_OK);
    for (int h = 0; h < NH; h++) {
        int g = h / (NH / NKV);
        for (int i = 0; i < HD; i++)
            for (int j = 0; j < HD; j++) {
                double s = 0; /* (V_g O_h)[i][j] = sum_e v[g*HD + i][e] o[e][h*HD + j] */
                for (int e = 0; e < D; e++)
                    s += v[(g * HD + i) * D + e] * o[e * NH * HD + h * HD + j];
                assert_true(fabs(ov[i * NH * HD + h * HD + j] - s) < 1e-13);
            }
    }
    for (int x = 0; x < D; x++)
        for (int y = 0; y < D; y++) {
            double s = 0; /* sum_h sum_i o[x][h*HD + i] v[g(h)*HD + i][y] */
            for (int h = 0; h < NH; h++)
                for (int i = 0; i < HD; i++)
                    s += o[x * NH * HD + h * HD + i] * v[((h / (NH / NKV)) * HD + i) * D + y];
            assert_true(fabs(wo[x * D + y] - s) < 1e-13);
        }
    items_free(&it);

    /* Heads that do not divide the shapes are refused. */
    opt.heads = 3;
    opt.kv_heads = 1;
    assert_int_equal(items_list(c, NULL, &opt, &it, &err), RW_EDATA);
    assert_non_null(strstr(err.msg, "do not fit 3 heads"));
    ckpt_free(c);
}

static void component_masks(void **state)
{
    (void)state;
    unsigned m;
    assert_true(rw_comp_parse_mask("full,lora", &m));
    assert_int_equal(m, RW_COMP_BIT(RW_COMP_FULL) | RW_COMP_BIT(RW_COMP_LORA));
    assert_true(rw_comp_parse_mask("all", &m));
    assert_int_equal(m & ~RW_COMP_ALL, (1u << RW_COMP_COUNT) - 1);
    assert_true(m & RW_COMP_ALL);
    assert_false(rw_comp_parse_mask("full,bogus", &m));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(adapters_pair_and_merge),
        cmocka_unit_test(peft_names_transposed_base_and_config),
        cmocka_unit_test(adapter_only_and_default_scale),
        cmocka_unit_test(adapter_shape_mismatch),
        cmocka_unit_test(ov_by_hand),
        cmocka_unit_test(ov_grouped_query_heads),
        cmocka_unit_test(component_masks),
    };
    return cmocka_run_group_tests_name("items", tests, setup, teardown);
}
