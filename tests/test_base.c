/*
 * test_base.c — a separate base model for adapter-only checkpoints (PEFT's
 * adapter_model.safetensors): --base gives base, lora and full, with
 * full = W + s B A exactly as worked by hand; PEFT's base_model.model.
 * prefix, .base_layer and HF's base_model_prefix in the names; a base
 * stored transposed (square ones by adapter_config.json's fan_in_fan_out);
 * mismatched shapes and missing bases are errors naming both files; the
 * base opened once for many users; run discovery pairing an adapter with the
 * model file beside it; and updates of full across steps through rw_analyze.
 * Every file is written by fixtures/stwrite.h.
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

#include "analyzers/core/adapter_base.h"
#include "analyzers/core/items.h"
#include "analyzers/core/pipeline.h"
#include "analyzers/core/spectral.h"
#include "fixtures/stwrite.h"
#include "tests/testutil.h"

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    return test_tmpdir_make(tmpdir, sizeof tmpdir, "base");
}

static int teardown(void **state)
{
    (void)state;
    return test_tmpdir_remove(tmpdir);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* dir (created) /adapter_model.safetensors: the adapters of module X,
 * A (r x in) and B (out x r), float64, with adapter_config.json (r,
 * lora_alpha, and fan_in_fan_out unless fifo is NULL). */
static void write_adapter(const char *dir, const char *x, int64_t out, int64_t in, int64_t r,
                          const double *a, const double *b, double alpha, const char *fifo)
{
    char path[600], name[300], cfg[300];
    rw_err err = {{0}};
    mkdir(dir, 0777);
    rw_stw *w = stw_new();
    assert_non_null(w);
    int64_t as[2] = {r, in}, bs[2] = {out, r};
    snprintf(name, sizeof name, "base_model.model.%s.lora_A.weight", x);
    assert_int_equal(stw_tensor(w, name, 2, as, RW_DT_F64, a, &err), RW_OK);
    snprintf(name, sizeof name, "base_model.model.%s.lora_B.weight", x);
    assert_int_equal(stw_tensor(w, name, 2, bs, RW_DT_F64, b, &err), RW_OK);
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    assert_int_equal(stw_save(w, path, &err), RW_OK);
    stw_free(w);
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    snprintf(cfg, sizeof cfg, "{\"r\": %lld, \"lora_alpha\": %g%s%s}", (long long)r, alpha,
             fifo ? ", \"fan_in_fan_out\": " : "", fifo ? fifo : "");
    write_text(path, cfg);
}

/* A base file at path holding one tensor name (rows x cols, float64). */
static void write_base(const char *path, const char *name, int64_t rows, int64_t cols,
                       const double *v)
{
    rw_err err = {{0}};
    rw_stw *w = stw_new();
    assert_non_null(w);
    int64_t s[2] = {rows, cols};
    assert_int_equal(stw_tensor(w, name, 2, s, RW_DT_F64, v, &err), RW_OK);
    assert_int_equal(stw_save(w, path, &err), RW_OK);
    stw_free(w);
}

static rw_ckpt *open_ckpt(const char *path)
{
    rw_ckpt *c;
    rw_err err = {{0}};
    assert_int_equal(ckpt_open(path, NULL, &c, &err), RW_OK);
    return c;
}

/* The hand-worked case: W (2 x 3), A (1 x 3), B (2 x 1), s = alpha / r = 3.
 *   W = [1 2 3; 4 5 6]   A = [1 0 -1]   B = [2; -1]
 *   s B A = 3 [2 0 -2; -1 0 1] = [6 0 -6; -3 0 3]
 *   W + s B A = [7 2 -3; 1 5 9] */
static const double W[6] = {1, 2, 3, 4, 5, 6}, WT[6] = {1, 4, 2, 5, 3, 6};
static const double A[3] = {1, 0, -1}, B[2] = {2, -1};
static const double LORA[6] = {6, 0, -6, -3, 0, 3}, FULL[6] = {7, 2, -3, 1, 5, 9};
/* the adapted matrix's name: the adapter file's tensors are
 * base_model.model.layers.0.mlp.fc.lora_{A,B}.weight, and their shared
 * wrapper, base_model.model., is stripped at open (ckpt.h) */
#define XNAME "layers.0.mlp.fc.weight"

/* dir's adapter_model.safetensors and the base file bp, open, with the
 * adapter's items listed against the base. */
typedef struct {
    rw_ckpt *c, *base;
    rw_items it;
} listed;

static void list_open(const char *dir, const char *bp, listed *l)
{
    char path[600];
    rw_err err = {{0}};
    rw_item_opts o = {.lora_scale = NAN};
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    l->c = open_ckpt(path);
    l->base = open_ckpt(bp);
    assert_int_equal(items_list(l->c, l->base, &o, &l->it, &err), RW_OK);
}

static void list_close(listed *l)
{
    items_free(&l->it);
    ckpt_free(l->base);
    ckpt_free(l->c);
}

/* Item (name, comp)'s matrix into m; its index. */
static long build(listed *l, const char *name, rw_comp comp, double *m)
{
    rw_err err = {{0}};
    long i = items_find(&l->it, name, comp);
    assert_true(i >= 0);
    assert_int_equal(item_build(l->c, &l->it, (size_t)i, m, &err), RW_OK);
    return i;
}

/* Lists the adapter in dir against the base file, and checks base, lora and
 * full against the hand-worked matrices (base as stored: transposed or not). */
static void check_hand_case(const char *dir, const char *base_path, bool transposed)
{
    listed l;
    list_open(dir, base_path, &l);
    const rw_items *it = &l.it;
    assert_true(it->scale == 3.0);
    assert_string_equal(it->scale_from, "adapter_config.json");
    assert_int_equal(it->n, 3);
    assert_int_equal(it->from_base, 1);
    double m[6];
    long ifu = build(&l, XNAME, RW_COMP_FULL, m);
    for (int e = 0; e < 6; e++)
        assert_true(m[e] == FULL[e]); /* exactly: small integers */
    long il = build(&l, XNAME, RW_COMP_LORA, m);
    for (int e = 0; e < 6; e++)
        assert_true(m[e] == LORA[e]);
    long ib = build(&l, XNAME, RW_COMP_BASE, m);
    for (int e = 0; e < 6; e++)
        assert_true(m[e] == (transposed ? WT : W)[e]);
    assert_true(it->v[ifu].is_default && !it->v[il].is_default && !it->v[ib].is_default);
    assert_true(it->v[ib].w_base && it->v[ifu].w_base && !it->v[il].w_base);
    assert_int_equal(it->v[ifu].rows, 2);
    assert_int_equal(it->v[ifu].cols, 3);
    assert_int_equal(it->v[ib].rows, transposed ? 3 : 2);

    /* Without the base: lora only, as before. */
    rw_items lo;
    rw_err err = {{0}};
    rw_item_opts o = {.lora_scale = NAN};
    assert_int_equal(items_list(l.c, NULL, &o, &lo, &err), RW_OK);
    assert_int_equal(lo.n, 1);
    assert_int_equal(lo.v[0].comp, RW_COMP_LORA);
    assert_true(lo.v[0].is_default);
    items_free(&lo);
    list_close(&l);
}

/* The full matrix of the adapted module reported as name, from dir's
 * adapter_model.safetensors with the base file bp, into m. */
static void full_of(const char *dir, const char *bp, const char *name, double *m)
{
    listed l;
    list_open(dir, bp, &l);
    build(&l, name, RW_COMP_FULL, m);
    list_close(&l);
}

/* The hand-worked adapter in TMP/tag/ against TMP/tag.safetensors holding
 * W (transposed: W^T, with fan_in_fan_out in the config) as base_name. */
static void hand_case(const char *tag, const char *base_name, bool transposed)
{
    char dir[400], bp[400];
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, tag);
    write_adapter(dir, "layers.0.mlp.fc", 2, 3, 1, A, B, 3, transposed ? "true" : NULL);
    snprintf(bp, sizeof bp, "%s/%s.safetensors", tmpdir, tag);
    write_base(bp, base_name, transposed ? 3 : 2, transposed ? 2 : 3, transposed ? WT : W);
    check_hand_case(dir, bp, transposed);
}

static void full_is_w_plus_sba_by_hand(void **state)
{
    (void)state;
    hand_case("hand", "layers.0.mlp.fc.weight", false);
}

static void peft_base_layer_and_prefixed_names(void **state)
{
    (void)state;
    /* a PEFT-wrapped model saved whole; X.base_layer.weight */
    hand_case("wrapped", "base_model.model.layers.0.mlp.fc.base_layer.weight", false);
    hand_case("base_layer", "layers.0.mlp.fc.base_layer.weight", false);

    char dir[400], bp[400];
    /* GPT-2: the adapter names transformer.h.0..., GPT-2's own file h.0... */
    snprintf(dir, sizeof dir, "%s/gpt2", tmpdir);
    write_adapter(dir, "transformer.h.0.attn.c_attn", 2, 3, 1, A, B, 3, "true");
    snprintf(bp, sizeof bp, "%s/gpt2.safetensors", tmpdir);
    write_base(bp, "h.0.attn.c_attn.weight", 3, 2, WT); /* Conv1D: in x out */
    double m[6];
    full_of(dir, bp, "h.0.attn.c_attn.weight", m); /* wrapper stripped */
    for (int e = 0; e < 6; e++)
        assert_true(m[e] == FULL[e]);
}

static void transposed_base(void **state)
{
    (void)state;
    hand_case("transposed", "layers.0.mlp.fc.weight", true); /* in x out */
}

/* A square base: its shape cannot say; fan_in_fan_out does.
 *   stored [1 2; 3 4], A = [1 1], B = [1; 0], s = 1: s B A = [1 1; 0 0]
 *   as stored:             full = [2 3; 3 4]
 *   fan_in_fan_out (W^T):  full = [2 4; 2 4] */
static void square_base_follows_fan_in_fan_out(void **state)
{
    (void)state;
    static const double ws[4] = {1, 2, 3, 4}, as[2] = {1, 1}, bs[2] = {1, 0};
    static const double as_stored[4] = {2, 3, 3, 4}, fifo_full[4] = {2, 4, 2, 4};
    const char *const cfg[3] = {NULL, "false", "true"};
    for (int k = 0; k < 3; k++) {
        char dir[400], bp[400];
        snprintf(dir, sizeof dir, "%s/square%d", tmpdir, k);
        write_adapter(dir, "h.0.attn.c_proj", 2, 2, 1, as, bs, 1, cfg[k]);
        snprintf(bp, sizeof bp, "%s/square_base.safetensors", tmpdir);
        write_base(bp, "h.0.attn.c_proj.weight", 2, 2, ws);
        double m[4];
        full_of(dir, bp, "h.0.attn.c_proj.weight", m);
        for (int e = 0; e < 4; e++)
            assert_true(m[e] == (k == 2 ? fifo_full : as_stored)[e]);
    }
}

static void mismatch_and_missing_name_both_files(void **state)
{
    (void)state;
    char dir[400], bp[400], path[600];
    snprintf(dir, sizeof dir, "%s/mismatch", tmpdir);
    write_adapter(dir, "layers.0.mlp.fc", 2, 3, 1, A, B, 3, NULL);
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    static const double big[16] = {0};
    snprintf(bp, sizeof bp, "%s/wrong_shape.safetensors", tmpdir);
    write_base(bp, "layers.0.mlp.fc.weight", 4, 4, big);
    rw_ckpt *c = open_ckpt(path), *base = open_ckpt(bp);
    rw_items it;
    rw_err err = {{0}};
    rw_item_opts o = {.lora_scale = NAN};
    assert_int_equal(items_list(c, base, &o, &it, &err), RW_EDATA);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, bp));
    assert_non_null(strstr(err.msg, XNAME));
    assert_non_null(strstr(err.msg, "layers.0.mlp.fc.weight 4x4"));
    assert_non_null(strstr(err.msg, "does not fit adapters B 2x1, A 1x3"));
    ckpt_free(base);

    snprintf(bp, sizeof bp, "%s/other_module.safetensors", tmpdir);
    write_base(bp, "layers.0.mlp.other.weight", 2, 3, W);
    base = open_ckpt(bp);
    assert_int_equal(items_list(c, base, &o, &it, &err), RW_EDATA);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, bp));
    assert_non_null(strstr(err.msg, XNAME));
    assert_non_null(strstr(err.msg, "has no weight for its adapters"));
    ckpt_free(base);
    ckpt_free(c);
}

static void base_opened_once_for_its_users(void **state)
{
    (void)state;
    char bp[400];
    snprintf(bp, sizeof bp, "%s/shared_base.safetensors", tmpdir);
    write_base(bp, "layers.0.mlp.fc.weight", 2, 3, W);
    rw_bases b = {0};
    rw_ckpt *x, *y;
    rw_err err = {{0}};
    assert_int_equal(bases_acquire(&b, bp, &x, &err), RW_OK);
    assert_int_equal(bases_acquire(&b, bp, &y, &err), RW_OK);
    assert_ptr_equal(x, y);
    assert_int_equal(b.n, 1);
    bases_release(&b, x);
    assert_int_equal(b.n, 1);
    bases_release(&b, y);
    assert_int_equal(b.n, 0);
    /* a base that does not open: the error names it */
    snprintf(bp, sizeof bp, "%s/none.safetensors", tmpdir);
    assert_int_not_equal(bases_acquire(&b, bp, &x, &err), RW_OK);
    assert_non_null(strstr(err.msg, bp));
    assert_int_equal(b.n, 0);
    bases_free(&b);

    /* --base wins over the file beside */
    rw_ckpt_ref ref = {.path = "a", .base = "beside.safetensors"};
    bool beside;
    assert_string_equal(rw_base_source(NULL, &ref, &beside), "beside.safetensors");
    assert_true(beside);
    assert_string_equal(rw_base_source("given", &ref, &beside), "given");
    assert_false(beside);
}

/* The runs of source, found and sorted. */
static void runs_of(const char *source, rw_runset *rs)
{
    rw_err err = {{0}};
    memset(rs, 0, sizeof *rs);
    assert_int_equal(runset_add(rs, source, NULL, &err), RW_OK);
    assert_int_equal(runset_finish(rs, &err), RW_OK);
}

/* checkpoint-N/ holding adapter_model.safetensors and model.safetensors:
 * one checkpoint per step, the adapter, whose base is the model file. */
static void adapter_beside_model_file(void **state)
{
    (void)state;
    char run[400], dir[500], bp[600], path[600];
    snprintf(run, sizeof run, "%s/hf", tmpdir);
    mkdir(run, 0777);
    for (int step = 100; step <= 200; step += 100) {
        snprintf(dir, sizeof dir, "%s/checkpoint-%d", run, step);
        write_adapter(dir, "layers.0.mlp.fc", 2, 3, 1, A, B, 3, NULL);
        snprintf(bp, sizeof bp, "%s/model.safetensors", dir);
        write_base(bp, "layers.0.mlp.fc.weight", 2, 3, W);
    }
    rw_runset rs;
    runs_of(run, &rs);
    assert_int_equal(rs.n, 1);
    assert_int_equal(rs.runs[0].n, 2);
    for (size_t i = 0; i < 2; i++) {
        const rw_ckpt_ref *r = &rs.runs[0].ckpts[i];
        assert_int_equal(r->step, 100 * (int64_t)(i + 1));
        assert_non_null(strstr(r->path, "/adapter_model.safetensors"));
        assert_non_null(r->base);
        assert_non_null(strstr(r->base, "/model.safetensors"));
    }
    runset_free(&rs);

    /* a lone adapter file: the same base */
    snprintf(path, sizeof path, "%s/checkpoint-100/adapter_model.safetensors", run);
    runs_of(path, &rs);
    assert_non_null(rs.runs[0].ckpts[0].base);
    runset_free(&rs);
}

/* Updates of full across steps with one --base: W cancels, so the update
 * is s (B2 A2 - B1 A1); base's update is zero. */
typedef struct {
    double full_upd[3];
    size_t k;
    int base_upd, full_seen;
    double base_sigma1;
} upd_seen;

static rw_status on_update(const rw_spectrum *s, void *ctx, rw_err *err)
{
    (void)err;
    upd_seen *u = ctx;
    if (s->kind != RW_KIND_UPDATE)
        return RW_OK;
    if (strcmp(s->component, "full") == 0) {
        u->full_seen++;
        u->k = s->k;
        memcpy(u->full_upd, s->sigma, s->k * sizeof *s->sigma);
    } else if (strcmp(s->component, "base") == 0) {
        u->base_upd++;
        u->base_sigma1 = s->sigma[0];
    }
    return RW_OK;
}

static void updates_of_full_with_one_base(void **state)
{
    (void)state;
    char run[400], dir[500], bp[400];
    snprintf(run, sizeof run, "%s/upd", tmpdir);
    mkdir(run, 0777);
    static const double a2[3] = {0, 1, 1}, b2[2] = {1, 1};
    snprintf(dir, sizeof dir, "%s/checkpoint-1", run);
    write_adapter(dir, "layers.0.mlp.fc", 2, 3, 1, A, B, 3, NULL);
    snprintf(dir, sizeof dir, "%s/checkpoint-2", run);
    write_adapter(dir, "layers.0.mlp.fc", 2, 3, 1, a2, b2, 3, NULL);
    snprintf(bp, sizeof bp, "%s/upd_base.safetensors", tmpdir);
    write_base(bp, "layers.0.mlp.fc.weight", 2, 3, W);

    rw_runset rs;
    rw_err err = {{0}};
    runs_of(run, &rs);
    rw_analysis_opts o = {.prog = "test", .jobs = 1, .updates = true,
                          .comps = RW_COMP_BIT(RW_COMP_FULL) | RW_COMP_BIT(RW_COMP_BASE),
                          .item = {.lora_scale = NAN, .base = bp}};
    upd_seen u = {0};
    assert_int_equal(rw_analyze(&rs, &o, on_update, &u, &err), RW_OK);
    runset_free(&rs);
    assert_int_equal(u.full_seen, 1);
    assert_int_equal(u.base_upd, 1);
    assert_true(u.base_sigma1 == 0.0);
    /* s (B2 A2 - B1 A1) = 3 ([0 1 1; 0 1 1] - [2 0 -2; -1 0 1])
     *                   = [-6 3 9; 3 3 0] */
    double d[6] = {-6, 3, 9, 3, 3, 0}, want[2];
    assert_int_equal(rw_svd_values(d, 2, 3, want, &err), RW_OK);
    assert_int_equal(u.k, 2);
    for (int i = 0; i < 2; i++)
        assert_true(fabs(u.full_upd[i] - want[i]) <= 1e-13 * want[0]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(full_is_w_plus_sba_by_hand),
        cmocka_unit_test(peft_base_layer_and_prefixed_names),
        cmocka_unit_test(transposed_base),
        cmocka_unit_test(square_base_follows_fan_in_fan_out),
        cmocka_unit_test(mismatch_and_missing_name_both_files),
        cmocka_unit_test(base_opened_once_for_its_users),
        cmocka_unit_test(adapter_beside_model_file),
        cmocka_unit_test(updates_of_full_with_one_base),
    };
    return cmocka_run_group_tests_name("base", tests, setup, teardown);
}
