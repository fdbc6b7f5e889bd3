/*
 * test_prefix.c — the prefix rule of ckpt.h on safetensors files the test
 * writes: the wrapper every model tensor shares is stripped (pico-train's
 * pico_decoder., PEFT's base_model.model., HF's transformer.), never a layer
 * number nor the segment before it, never down to one segment, never so that
 * a name reads as optimizer state; one tensor has no wrapper; keep_prefix
 * keeps the stored names; selections match the shown and the stored names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "fixtures/stwrite.h"
#include "io/ckpt.h"
#include "io/run.h"
#include "tests/testutil.h"

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    return test_tmpdir_make(tmpdir, sizeof tmpdir, "prefix");
}

static int teardown(void **state)
{
    (void)state;
    return test_tmpdir_remove(tmpdir);
}

/* A safetensors file of 2x2 float32 tensors named names[0..n), opened
 * (keep: with keep_prefix). */
static rw_ckpt *open_names(const char *const *names, size_t n, bool keep)
{
    static int serial;
    char path[512];
    snprintf(path, sizeof path, "%s/f%d.safetensors", tmpdir, serial++);
    static const double v[4] = {1, 2, 3, 4};
    static const int64_t shape[2] = {2, 2};
    rw_err err = {{0}};
    rw_stw *w = stw_new();
    assert_non_null(w);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(stw_tensor(w, names[i], 2, shape, RW_DT_F32, v, &err), RW_OK);
    assert_int_equal(stw_save(w, path, &err), RW_OK);
    stw_free(w);
    rw_ckpt_opts o = {.keep_prefix = keep};
    rw_ckpt *c;
    assert_int_equal(ckpt_open_opts(path, NULL, &o, &c, &err), RW_OK);
    return c;
}

/* c's prefix is want (NULL: none), and its sorted names are names[0..n). */
static void expect(const rw_ckpt *c, const char *want, const char *const *names, size_t n)
{
    if (want)
        assert_string_equal(c->prefix, want);
    else
        assert_null(c->prefix);
    assert_int_equal(c->n, n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(c->tensors[i].name, names[i]);
}

#define N(a) (sizeof a / sizeof *a)

static void pico_wrapper_stripped(void **state)
{
    (void)state;
    static const char *const in[] = {"pico_decoder.embedding_proj.weight",
                                     "pico_decoder.layers.0.attention.q_proj.weight",
                                     "pico_decoder.layers.1.attention.q_proj.weight"};
    static const char *const out[] = {"embedding_proj.weight", "layers.0.attention.q_proj.weight",
                                      "layers.1.attention.q_proj.weight"};
    rw_ckpt *c = open_names(in, N(in), false);
    expect(c, "pico_decoder.", out, N(out));
    /* layer and module as for the unwrapped names */
    assert_int_equal(c->tensors[0].layer, -1);
    assert_string_equal(c->tensors[0].module, "embedding_proj.weight");
    assert_int_equal(c->tensors[2].layer, 1);
    assert_string_equal(c->tensors[2].module, "attention.q_proj.weight");
    ckpt_free(c);

    c = open_names(in, N(in), true); /* keep_prefix: as stored */
    expect(c, NULL, in, N(in));
    assert_string_equal(c->tensors[0].module, "pico_decoder.embedding_proj.weight");
    ckpt_free(c);
}

static void stops_before_the_layer_container(void **state)
{
    (void)state;
    /* one layer: h.0 is shared too, but "h" is followed by a layer number */
    static const char *const in[] = {
        "base_model.model.transformer.h.0.attn.c_attn.lora_A.weight",
        "base_model.model.transformer.h.0.attn.c_attn.lora_B.weight"};
    static const char *const out[] = {"h.0.attn.c_attn.lora_A.weight",
                                      "h.0.attn.c_attn.lora_B.weight"};
    rw_ckpt *c = open_names(in, N(in), false);
    expect(c, "base_model.model.transformer.", out, N(out));
    ckpt_free(c);

    /* a name that starts with its layer number keeps it */
    static const char *const num[] = {"0.a.weight", "0.b.weight"};
    c = open_names(num, N(num), false);
    expect(c, NULL, num, N(num));
    ckpt_free(c);
}

static void never_down_to_one_segment(void **state)
{
    (void)state;
    static const char *const in[] = {"encoder.block.bias", "encoder.block.weight"};
    static const char *const out[] = {"block.bias", "block.weight"};
    rw_ckpt *c = open_names(in, N(in), false);
    expect(c, "encoder.", out, N(out));
    ckpt_free(c);

    /* what one name shares with itself is no wrapper */
    static const char *const one[] = {"model.embed.weight"};
    c = open_names(one, N(one), false);
    expect(c, NULL, one, N(one));
    ckpt_free(c);

    /* nothing shared */
    static const char *const none[] = {"lm_head.weight", "model.embed.weight"};
    c = open_names(none, N(none), false);
    expect(c, NULL, none, N(none));
    ckpt_free(c);
}

static void optimizer_state_keeps_its_names(void **state)
{
    (void)state;
    /* optimizer state does not count, and keeps its names */
    static const char *const in[] = {"model.a.weight", "model.b.weight",
                                     "optimizer.state.0.exp_avg"};
    static const char *const out[] = {"a.weight", "b.weight", "optimizer.state.0.exp_avg"};
    rw_ckpt *c = open_names(in, N(in), false);
    expect(c, "model.", out, N(out));
    assert_true(c->tensors[2].optimizer);
    assert_false(c->tensors[0].optimizer);
    ckpt_free(c);

    /* a stripped name would read as optimizer state: not stripped */
    static const char *const opt[] = {"net.optimizer.a", "net.optimizer.b"};
    c = open_names(opt, N(opt), false);
    expect(c, NULL, opt, N(opt));
    assert_false(c->tensors[0].optimizer);
    ckpt_free(c);
}

static void globs_match_shown_and_stored_names(void **state)
{
    (void)state;
    rw_select s = {0};
    rw_err err = {{0}};
    assert_int_equal(rw_select_add(&s, true, "*.h.0.*", &err), RW_OK);
    /* shown h.0.attn...: only the stored name has a segment before h */
    assert_false(rw_select_match(&s, "h.0.attn.c_attn.weight"));
    assert_true(rw_select_match_as(&s, "h.0.attn.c_attn.weight", "transformer."));
    assert_false(rw_select_match_as(&s, "h.1.attn.c_attn.weight", "transformer."));
    rw_select_free(&s);

    /* an exclude matching either form excludes */
    assert_int_equal(rw_select_add(&s, false, "pico_decoder.*", &err), RW_OK);
    assert_false(rw_select_match_as(&s, "layers.0.w", "pico_decoder."));
    assert_true(rw_select_match_as(&s, "layers.0.w", NULL));
    rw_select_free(&s);

    /* a stored name longer than the stack buffer */
    char longp[3000];
    memset(longp, 'p', sizeof longp - 2);
    longp[sizeof longp - 2] = '.';
    longp[sizeof longp - 1] = '\0';
    assert_int_equal(rw_select_add(&s, true, "pp*.w", &err), RW_OK);
    assert_true(rw_select_match_as(&s, "w", longp));
    assert_false(rw_select_match_as(&s, "w", NULL));
    rw_select_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(pico_wrapper_stripped),
        cmocka_unit_test(stops_before_the_layer_container),
        cmocka_unit_test(never_down_to_one_segment),
        cmocka_unit_test(optimizer_state_keeps_its_names),
        cmocka_unit_test(globs_match_shown_and_stored_names),
    };
    return cmocka_run_group_tests_name("prefix", tests, setup, teardown);
}
