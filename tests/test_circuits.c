/*
 * test_circuits.c — the OV circuits beyond the weights' full ov: of
 * gradients (pico-analyze's compute_ov_gradients order) against a
 * hand-worked case and the product rule, their rounding bounds against a
 * hand-worked case and against the actual error of factors rounded to
 * bfloat16; ov_base and ov_lora of adapted v_proj and o_proj against
 * explicit loops over s B A, and their bounds from the factors.
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

#include "analyzers/core/circuits.h"
#include "analyzers/core/items.h"
#include "fixtures/h5write.h"
#include "io/rw.h"
#include "tests/testutil.h"

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    return test_tmpdir_make(tmpdir, sizeof tmpdir, "circuits");
}

static int teardown(void **state)
{
    (void)state;
    return test_tmpdir_remove(tmpdir);
}

static void fill(double *v, size_t n, double seed)
{
    for (size_t i = 0; i < n; i++)
        v[i] = sin(seed + 1.3 * (double)i) + 0.05 * (double)(i % 4);
}

static double fro(const double *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += x[i] * x[i];
    return sqrt(s);
}

/* 2 heads, 1 kv head, head_dim 1, d_model 2:
 *   V = [2 3], O = [[5 7], [11 13]], G_V = [1 -1], G_O = [[0 1], [2 0]]
 *   head 0: O_0 G_V + G_O,0 V = (5,11)^T [1 -1] + (0,2)^T [2 3]
 *         = [[5 -5], [11 -11]] + [[0 0], [4 6]] = [[5 -5], [15 -5]]
 *   head 1: (7,13)^T [1 -1] + (1,0)^T [2 3] = [[9 -4], [13 -13]]
 *   ov = [[5 -5 9 -4], [15 -5 13 -13]]; wo_wv = [[14 -9], [28 -18]] */
static void grad_by_hand(void **state)
{
    (void)state;
    const double v[2] = {2, 3}, o[4] = {5, 7, 11, 13}, gv[2] = {1, -1}, go[4] = {0, 1, 2, 0};
    rw_circuit_shape sh = {.d = 2, .heads = 2, .kv_heads = 1, .head_dim = 1};
    double ov[8], wo[4];
    circuit_ov_grad(&sh, gv, go, v, o, false, ov);
    const double want[8] = {5, -5, 9, -4, 15, -5, 13, -13};
    for (int i = 0; i < 8; i++)
        assert_true(ov[i] == want[i]);
    circuit_ov_grad(&sh, gv, go, v, o, true, wo);
    assert_true(wo[0] == 14 && wo[1] == -9 && wo[2] == 28 && wo[3] == -18);
}

/* The product rule, with GQA: (O + G_O)(V + G_V) = O V + (O G_V + G_O V) +
 * G_O G_V per head, so grad = wo_wv(V + G_V, O + G_O) - wo_wv(V, O) -
 * wo_wv(G_V, G_O), computed by circuit_ov only. */
static void grad_product_rule(void **state)
{
    (void)state;
    enum { NH = 4, NKV = 2, HD = 2, D = 5 };
    double v[NKV * HD * D], o[D * NH * HD], gv[NKV * HD * D], go[D * NH * HD];
    double vs[NKV * HD * D], os[D * NH * HD];
    fill(v, NKV * HD * D, 0.3);
    fill(o, D * NH * HD, 1.1);
    fill(gv, NKV * HD * D, 2.9);
    fill(go, D * NH * HD, 4.4);
    for (int i = 0; i < NKV * HD * D; i++)
        vs[i] = v[i] + gv[i];
    for (int i = 0; i < D * NH * HD; i++)
        os[i] = o[i] + go[i];
    rw_circuit_shape sh = {.d = D, .heads = NH, .kv_heads = NKV, .head_dim = HD};
    double g[D * D], a[D * D], b[D * D], c[D * D];
    circuit_ov_grad(&sh, gv, go, v, o, true, g);
    circuit_ov(&sh, vs, os, true, a);
    circuit_ov(&sh, v, o, true, b);
    circuit_ov(&sh, gv, go, true, c);
    for (int i = 0; i < D * D; i++)
        assert_true(fabs(g[i] - (a[i] - b[i] - c[i])) < 1e-12);
    /* ov: the blocks, d x d each, concatenated along columns; block h by loops */
    double ov[D * NH * D];
    circuit_ov_grad(&sh, gv, go, v, o, false, ov);
    for (int h = 0; h < NH; h++) {
        int gq = h / (NH / NKV);
        for (int x = 0; x < D; x++)
            for (int y = 0; y < D; y++) {
                double s = 0;
                for (int i = 0; i < HD; i++)
                    s += o[x * NH * HD + h * HD + i] * gv[(gq * HD + i) * D + y] +
                         go[x * NH * HD + h * HD + i] * v[(gq * HD + i) * D + y];
                assert_true(fabs(ov[x * NH * D + h * D + y] - s) < 1e-13);
            }
    }
}

/* The bounds on a hand-worked case: d 3, 2 heads, 1 kv head, head_dim 2;
 * V = [3 0 0; 0 4 0] (||V_0||_2 = 4), O_0 = [1 0; 0 1; 0 0] (1),
 * O_1 = [2 0; 0 0; 0 1] (2); G_V = [0 0 5; 0 0 0] (5), G_O,0 = [0 0; 0 0;
 * 0 2] (2), G_O,1 = [0 0; 3 0; 0 0] (3). N_V = 0.5, N_O = 0.25, N_GV = 0.125,
 * N_GO = 2. */
static void noise_formulas(void **state)
{
    (void)state;
    rw_circuit_shape sh = {.d = 3, .heads = 2, .kv_heads = 1, .head_dim = 2};
    const double v[6] = {3, 0, 0, 0, 4, 0}, o[12] = {1, 0, 2, 0, 0, 1, 0, 0, 0, 0, 0, 1};
    const double gv[6] = {0, 0, 5, 0, 0, 0}, go[12] = {0, 0, 0, 0, 0, 0, 3, 0, 0, 2, 0, 0};
    double nv = 0.5, no = 0.25, ngv = 0.125, ngo = 2;
    /* ov: N_V sqrt(1 + 4) + 4 N_O; wo_wv: N_O sqrt(2 * 16) + N_V (1 + 2) */
    assert_true(fabs(circuit_noise(&sh, false, v, o, nv, no) - (0.5 * sqrt(5.0) + 1)) < 1e-14);
    assert_true(fabs(circuit_noise(&sh, true, v, o, nv, no) - (0.25 * sqrt(32.0) + 1.5)) < 1e-14);
    /* gradients: the pairs (O, G_V) and (G_O, V) */
    double ov = no * 5 + ngv * sqrt(5.0) + ngo * 4 + nv * sqrt(4.0 + 9);
    double wo = no * sqrt(50.0) + ngv * 3 + ngo * sqrt(32.0) + nv * 5;
    assert_true(fabs(circuit_noise_grad(&sh, false, gv, go, v, o, ngv, ngo, nv, no) - ov) <
                1e-13);
    assert_true(fabs(circuit_noise_grad(&sh, true, gv, go, v, o, ngv, ngo, nv, no) - wo) <
                1e-13);
}

/* ------------------------------------------------ the bounds vs rounding */

static uint64_t lcg = 12345;
static double uniform(void) /* in [-1, 1) */
{
    lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(lcg >> 11) / 9007199254740992.0 * 2 - 1;
}

/* x rounded to bfloat16 into r (bit-exact, io/rw.h's conversions) */
static void round_bf16(const double *x, double *r, size_t n)
{
    for (size_t e = 0; e < n; e++)
        r[e] = rw_bf16_to_double(rw_double_to_bf16(x[e]));
}

static double diff_fro(const double *x, const double *y, size_t n)
{
    double s = 0;
    for (size_t e = 0; e < n; e++)
        s += (x[e] - y[e]) * (x[e] - y[e]);
    return sqrt(s);
}

/* Factors stored in bfloat16 (u = 2^-8): the products of the rounded and of
 * the exact factors differ by at most u N (N from the rounded factors, as
 * the pipeline has them), up to the second-order term (slack 1 + 2u), in
 * 200 random cases of each product; and where every entry rounds by almost
 * u in the same direction (constant factors 1 + 2^-8 - 2^-20, stored as 1),
 * the bound is attained to within 1%: it is not loose there. */
enum { RD = 16, RNH = 4, RNKV = 2, RHD = 4, RM = 12, RN = 10, RR = 3 };

static void bounds_dominate_rounding(void **state)
{
    (void)state;
    const double u = 1.0 / 256, slack = 1 + 2 * u;
    rw_circuit_shape sh = {.d = RD, .heads = RNH, .kv_heads = RNKV, .head_dim = RHD};
    enum { NV = RNKV * RHD * RD, NO = RD * RNH * RHD, NP = RD * RNH * RD };
    static double v[NV], o[NO], gv[NV], go[NO], vr[NV], or_[NO], gvr[NV], gor[NO];
    static double p[NP], pr[NP];
    double b[RM * RR], a[RR * RN], br[RM * RR], ar[RR * RN], l[RM * RN], lr[RM * RN];
    for (int cs = 0; cs < 201; cs++) {
        bool adversarial = cs == 200;
        double *all[4] = {v, o, gv, go};
        size_t len[4] = {NV, NO, NV, NO};
        for (int f = 0; f < 4; f++)
            for (size_t e = 0; e < len[f]; e++)
                all[f][e] = adversarial ? 1 + ldexp(1, -8) - ldexp(1, -20)
                                        : uniform() * (1 + f);
        for (size_t e = 0; e < RM * RR; e++)
            b[e] = adversarial ? v[0] : uniform();
        for (size_t e = 0; e < RR * RN; e++)
            a[e] = adversarial ? v[0] : uniform() * 3;
        round_bf16(v, vr, NV);
        round_bf16(o, or_, NO);
        round_bf16(gv, gvr, NV);
        round_bf16(go, gor, NO);
        round_bf16(b, br, RM * RR);
        round_bf16(a, ar, RR * RN);
        double nv = fro(vr, NV), no = fro(or_, NO), ngv = fro(gvr, NV), ngo = fro(gor, NO);
        double ratio[5];
        for (int w = 0; w < 2; w++) { /* weights: ov, wo_wv */
            size_t n = w ? RD * RD : RHD * RNH * RHD;
            circuit_ov(&sh, v, o, w, p);
            circuit_ov(&sh, vr, or_, w, pr);
            ratio[w] = diff_fro(p, pr, n) / (u * circuit_noise(&sh, w, vr, or_, nv, no));
        }
        for (int w = 0; w < 2; w++) { /* gradients */
            size_t n = w ? RD * RD : NP;
            circuit_ov_grad(&sh, gv, go, v, o, w, p);
            circuit_ov_grad(&sh, gvr, gor, vr, or_, w, pr);
            ratio[2 + w] = diff_fro(p, pr, n) /
                           (u * circuit_noise_grad(&sh, w, gvr, gor, vr, or_, ngv, ngo, nv, no));
        }
        /* lora s B A, s = 1.5 */
        for (int i = 0; i < RM; i++)
            for (int j = 0; j < RN; j++) {
                double x = 0, y = 0;
                for (int k = 0; k < RR; k++) {
                    x += b[i * RR + k] * a[k * RN + j];
                    y += br[i * RR + k] * ar[k * RN + j];
                }
                l[i * RN + j] = 1.5 * x;
                lr[i * RN + j] = 1.5 * y;
            }
        ratio[4] = diff_fro(l, lr, RM * RN) / (u * item_lora_noise(1.5, br, ar, RM, RN, RR));
        for (int k = 0; k < 5; k++) {
            if (!(ratio[k] <= slack))
                fail_msg("case %d, product %d: error / (u N) = %g", cs, k, ratio[k]);
            if (adversarial && ratio[k] < 0.99)
                fail_msg("constant factors, product %d: error / (u N) = %g", k, ratio[k]);
        }
    }
}

/* ----------------------------------------------------------- ov_base/lora */

enum { NH = 2, NKV = 1, HD = 2, D = 3, R = 2 };

static void put(rw_h5w *h, const char *name, int64_t r, int64_t c, const double *x)
{
    rw_err err = {{0}};
    int64_t s[2] = {r, c};
    assert_int_equal(h5w_dataset(h, name, 2, s, RW_DT_F64, x, 0, &err), RW_OK);
}

/* V = Vb + s Bv Av, O = Ob + s Bo Ao; s = alpha / r = 3 / 2. */
static void lora_components(void **state)
{
    (void)state;
    const double s = 1.5;
    double vb[NKV * HD * D], ob[D * NH * HD], av[R * D], bv[NKV * HD * R], ao[R * NH * HD],
        bo[D * R];
    fill(vb, sizeof vb / sizeof *vb, 0.1);
    fill(ob, sizeof ob / sizeof *ob, 0.9);
    fill(av, sizeof av / sizeof *av, 1.7);
    fill(bv, sizeof bv / sizeof *bv, 2.5);
    fill(ao, sizeof ao / sizeof *ao, 3.3);
    fill(bo, sizeof bo / sizeof *bo, 4.1);
    char path[300];
    snprintf(path, sizeof path, "%s/lora_ov.h5", tmpdir);
    rw_err err = {{0}};
    rw_h5w *h;
    assert_int_equal(h5w_open(path, &h, &err), RW_OK);
    put(h, "layers.0.attention.v_proj.weight", NKV * HD, D, vb);
    put(h, "layers.0.attention.v_proj.A_lora.weight", R, D, av);
    put(h, "layers.0.attention.v_proj.B_lora.weight", NKV * HD, R, bv);
    put(h, "layers.0.attention.o_proj.weight", D, NH * HD, ob);
    put(h, "layers.0.attention.o_proj.A_lora.weight", R, NH * HD, ao);
    put(h, "layers.0.attention.o_proj.B_lora.weight", D, R, bo);
    assert_int_equal(h5w_attr_i64(h, "/", "n_heads", NH, &err), RW_OK);
    assert_int_equal(h5w_attr_i64(h, "/", "n_kv_heads", NKV, &err), RW_OK);
    assert_int_equal(h5w_attr_f64(h, "/", "lora_alpha", 3, &err), RW_OK);
    assert_int_equal(h5w_attr_f64(h, "/", "lora_r", R, &err), RW_OK);
    assert_int_equal(h5w_close(h, true, &err), RW_OK);
    rw_ckpt *c;
    assert_int_equal(ckpt_open(path, NULL, &c, &err), RW_OK);
    rw_items it;
    rw_item_opts opt = {.lora_scale = NAN};
    assert_int_equal(items_list(c, NULL, &opt, &it, &err), RW_OK);
    long ib = items_find(&it, "layers.0.attention.ov", RW_COMP_OV_BASE);
    long il = items_find(&it, "layers.0.attention.ov", RW_COMP_OV_LORA);
    long iv = items_find(&it, "layers.0.attention.ov", RW_COMP_OV);
    assert_true(ib >= 0 && il >= 0 && iv >= 0);
    assert_false(it.v[ib].is_default || it.v[il].is_default);
    assert_int_equal(it.v[il].rows, HD);
    assert_int_equal(it.v[il].cols, NH * HD);
    /* the parts by loops: Vl = s Bv Av, Ol = s Bo Ao, and the full sums */
    double vl[NKV * HD * D], ol[D * NH * HD], vf[NKV * HD * D], of[D * NH * HD];
    for (int i = 0; i < NKV * HD; i++)
        for (int j = 0; j < D; j++) {
            double x = 0;
            for (int k = 0; k < R; k++)
                x += bv[i * R + k] * av[k * D + j];
            vl[i * D + j] = s * x;
            vf[i * D + j] = vb[i * D + j] + s * x;
        }
    for (int i = 0; i < D; i++)
        for (int j = 0; j < NH * HD; j++) {
            double x = 0;
            for (int k = 0; k < R; k++)
                x += bo[i * R + k] * ao[k * NH * HD + j];
            ol[i * NH * HD + j] = s * x;
            of[i * NH * HD + j] = ob[i * NH * HD + j] + s * x;
        }
    const double *vv[3] = {vb, vl, vf}, *oo[3] = {ob, ol, of};
    long idx[3] = {ib, il, iv};
    double out[HD * NH * HD];
    for (int k = 0; k < 3; k++) {
        double noise;
        assert_int_equal(item_build_noise(c, &it, (size_t)idx[k], out, &noise, &err), RW_OK);
        for (int hh = 0; hh < NH; hh++)
            for (int i = 0; i < HD; i++)
                for (int j = 0; j < HD; j++) {
                    double x = 0; /* (V_g O_h)[i][j], g = 0 */
                    for (int e = 0; e < D; e++)
                        x += vv[k][i * D + e] * oo[k][e * NH * HD + hh * HD + j];
                    assert_true(fabs(out[i * NH * HD + hh * HD + j] - x) < 1e-13);
                }
        /* N = N_V sqrt(||O_0||^2 + ||O_1||^2) + ||V_0||_2 N_O (one kv head);
         * base: N = ||W||_F; lora: |s| (||B||_F ||A||_2 + ||B||_2 ||A||_F);
         * full: ||W||_F (of the stored base) + the lora term; ||.||_2 by
         * power iteration */
        double nvb = fro(vb, sizeof vb / sizeof *vb), nob = fro(ob, sizeof ob / sizeof *ob);
        double nvl = s * (fro(bv, sizeof bv / sizeof *bv) * test_spec_norm(av, R, D, D) +
                          test_spec_norm(bv, NKV * HD, R, R) * fro(av, sizeof av / sizeof *av));
        double nol = s * (fro(bo, sizeof bo / sizeof *bo) * test_spec_norm(ao, R, NH * HD, NH * HD) +
                          test_spec_norm(bo, D, R, R) * fro(ao, sizeof ao / sizeof *ao));
        double nv = k == 0 ? nvb : k == 1 ? nvl : nvb + nvl;
        double no = k == 0 ? nob : k == 1 ? nol : nob + nol;
        double o0 = test_spec_norm(oo[k], D, HD, NH * HD);
        double o1 = test_spec_norm(oo[k] + HD, D, HD, NH * HD);
        double want = nv * sqrt(o0 * o0 + o1 * o1) + test_spec_norm(vv[k], HD, D, D) * no;
        assert_true(fabs(noise - want) <= 1e-13 * want);
    }
    items_free(&it);
    ckpt_free(c);
}

/* Gradients named by module (no .weight) and the model's weights of the
 * step: items_list_grads lists ov and wo_wv of shape d x n_h d and d x d,
 * built as circuit_ov_grad, N as circuit_noise_grad. */
static void grad_items(void **state)
{
    (void)state;
    double v[NKV * HD * D], o[D * NH * HD], gv[NKV * HD * D], go[D * NH * HD];
    fill(v, sizeof v / sizeof *v, 0.2);
    fill(o, sizeof o / sizeof *o, 1.2);
    fill(gv, sizeof gv / sizeof *gv, 2.2);
    fill(go, sizeof go / sizeof *go, 3.2);
    char wpath[300], gpath[300];
    snprintf(wpath, sizeof wpath, "%s/model.h5", tmpdir);
    snprintf(gpath, sizeof gpath, "%s/grads.h5", tmpdir);
    rw_err err = {{0}};
    rw_h5w *h;
    assert_int_equal(h5w_open(wpath, &h, &err), RW_OK);
    put(h, "layers.0.attention.v_proj.weight", NKV * HD, D, v);
    put(h, "layers.0.attention.o_proj.weight", D, NH * HD, o);
    assert_int_equal(h5w_attr_i64(h, "/", "n_heads", NH, &err), RW_OK);
    assert_int_equal(h5w_close(h, true, &err), RW_OK);
    assert_int_equal(h5w_open(gpath, &h, &err), RW_OK);
    put(h, "layers.0.attention.v_proj", NKV * HD, D, gv);
    put(h, "layers.0.attention.o_proj", D, NH * HD, go);
    assert_int_equal(h5w_close(h, true, &err), RW_OK);
    rw_ckpt *wc, *gc;
    assert_int_equal(ckpt_open(wpath, NULL, &wc, &err), RW_OK);
    assert_int_equal(ckpt_open(gpath, NULL, &gc, &err), RW_OK);
    rw_items wit, git;
    rw_item_opts opt = {.lora_scale = NAN, .kv_heads = NKV};
    rw_item_opts wopt = opt;
    wopt.no_circuits = true;
    assert_int_equal(items_list(wc, NULL, &wopt, &wit, &err), RW_OK);
    /* without the weights: no circuit of gradients */
    assert_int_equal(items_list(gc, NULL, &opt, &git, &err), RW_OK);
    assert_true(items_find(&git, "layers.0.attention.ov", RW_COMP_OV) < 0);
    items_free(&git);
    assert_int_equal(items_list_grads(gc, NULL, wc, &wit, &opt, &git, &err), RW_OK);
    assert_int_equal(git.heads, NH); /* from the model's attributes */
    long iov = items_find(&git, "layers.0.attention.ov", RW_COMP_OV);
    long iwo = items_find(&git, "layers.0.attention.wo_wv", RW_COMP_WO_WV);
    assert_true(iov >= 0 && iwo >= 0);
    assert_int_equal(git.v[iov].rows, D);
    assert_int_equal(git.v[iov].cols, NH * D);
    assert_int_equal(git.v[iwo].cols, D);
    rw_circuit_shape sh = {.d = D, .heads = NH, .kv_heads = NKV, .head_dim = HD};
    double out[D * NH * D], want[D * NH * D], noise;
    for (int k = 0; k < 2; k++) {
        assert_int_equal(item_build_noise(gc, &git, (size_t)(k ? iwo : iov), out, &noise, &err),
                         RW_OK);
        circuit_ov_grad(&sh, gv, go, v, o, k == 1, want);
        for (int i = 0; i < (k ? D * D : D * NH * D); i++)
            assert_true(fabs(out[i] - want[i]) < 1e-15);
        /* the pairs (O, G_V) and (G_O, V), one kv head serving both heads;
         * stored: N of each factor its ||.||_F; ||.||_2 by power iteration */
        double fo = fro(o, sizeof o / sizeof *o), fgv = fro(gv, sizeof gv / sizeof *gv);
        double fgo = fro(go, sizeof go / sizeof *go), fv = fro(v, sizeof v / sizeof *v);
        double on[2], gon[2], vn = test_spec_norm(v, HD, D, D), gvn = test_spec_norm(gv, HD, D, D);
        for (int hh = 0; hh < 2; hh++) {
            on[hh] = test_spec_norm(o + hh * HD, D, HD, NH * HD);
            gon[hh] = test_spec_norm(go + hh * HD, D, HD, NH * HD);
        }
        double n = k == 0 ? fo * gvn + fgv * sqrt(on[0] * on[0] + on[1] * on[1]) + fgo * vn +
                                fv * sqrt(gon[0] * gon[0] + gon[1] * gon[1])
                          : fo * sqrt(2.0) * gvn + fgv * (on[0] + on[1]) + fgo * sqrt(2.0) * vn +
                                fv * (gon[0] + gon[1]);
        assert_true(fabs(noise - n) <= 1e-13 * n);
    }
    items_free(&git);
    items_free(&wit);
    ckpt_free(gc);
    ckpt_free(wc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(grad_by_hand),
        cmocka_unit_test(grad_product_rule),
        cmocka_unit_test(noise_formulas),
        cmocka_unit_test(bounds_dominate_rounding),
        cmocka_unit_test(lora_components),
        cmocka_unit_test(grad_items),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
