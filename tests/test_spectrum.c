/*
 * test_spectrum.c — what a spectrum is (io/spectrum.h): the one
 * default-component rule, case by case against hand-written expectations,
 * and as spectra_file_foreach applies it to a file's entries (a lora entry
 * is a default only where its matrix has no full entry of the same kind);
 * kind and component names; spectrum_valid.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "io/spectra_file.h"
#include "io/spectrum.h"
#include "tests/testutil.h"

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    return test_tmpdir_make(tmpdir, sizeof tmpdir, "spectrum");
}

static int teardown(void **state)
{
    (void)state;
    return test_tmpdir_remove(tmpdir);
}

#define OV RW_COMP_BIT(RW_COMP_OV)
#define WO RW_COMP_BIT(RW_COMP_WO_WV)

/* Every component, with and without a full sibling, under the three
 * circuit choices the callers make (0, ov alone, both), and one mask of
 * wo_wv alone: the expectation written out, not computed. */
static void default_rule_cases(void **state)
{
    (void)state;
    static const struct {
        rw_comp c;
        bool has_full;
        unsigned circuits;
        bool want;
    } cases[] = {
        /* weight: always (a plain tensor's only component) */
        {RW_COMP_WEIGHT, false, 0, true},
        {RW_COMP_WEIGHT, true, 0, true},
        {RW_COMP_WEIGHT, false, RW_COMP_CIRCUITS, true},
        {RW_COMP_WEIGHT, true, OV, true},
        /* full: always (the weight the model computes with) */
        {RW_COMP_FULL, false, 0, true},
        {RW_COMP_FULL, true, 0, true},
        {RW_COMP_FULL, true, RW_COMP_CIRCUITS, true},
        {RW_COMP_FULL, false, OV, true},
        /* lora: only without a full (adapter-only checkpoints) */
        {RW_COMP_LORA, false, 0, true},
        {RW_COMP_LORA, true, 0, false},
        {RW_COMP_LORA, false, RW_COMP_CIRCUITS, true},
        {RW_COMP_LORA, true, RW_COMP_CIRCUITS, false},
        {RW_COMP_LORA, false, OV, true},
        {RW_COMP_LORA, true, OV, false},
        /* base: never (a part of full) */
        {RW_COMP_BASE, false, 0, false},
        {RW_COMP_BASE, true, 0, false},
        {RW_COMP_BASE, false, RW_COMP_CIRCUITS, false},
        {RW_COMP_BASE, true, RW_COMP_CIRCUITS, false},
        /* ov: only where the caller counts it */
        {RW_COMP_OV, false, 0, false},
        {RW_COMP_OV, true, 0, false},
        {RW_COMP_OV, false, OV, true},
        {RW_COMP_OV, false, RW_COMP_CIRCUITS, true},
        {RW_COMP_OV, true, RW_COMP_CIRCUITS, true},
        {RW_COMP_OV, false, WO, false},
        /* wo_wv: the same, under its own bit */
        {RW_COMP_WO_WV, false, 0, false},
        {RW_COMP_WO_WV, false, OV, false},
        {RW_COMP_WO_WV, true, OV, false},
        {RW_COMP_WO_WV, false, RW_COMP_CIRCUITS, true},
        {RW_COMP_WO_WV, true, RW_COMP_CIRCUITS, true},
        {RW_COMP_WO_WV, false, WO, true},
        /* not a component */
        {RW_COMP_COUNT, false, RW_COMP_CIRCUITS, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        if (rw_comp_default(cases[i].c, cases[i].has_full, cases[i].circuits) != cases[i].want)
            fail_msg("case %zu: rw_comp_default(%s, has_full %d, circuits %#x) should be %s", i,
                     rw_comp_name(cases[i].c), cases[i].has_full, cases[i].circuits,
                     cases[i].want ? "true" : "false");
}

/* One checkpoint's entries in a spectra file, weights and updates: a plain
 * tensor, an adapted one (base, full, lora), an adapter-only one (lora
 * alone), a lora whose full exists only as a weight (so the update's lora
 * has no full of its kind), and the two OV circuits. */
static const struct {
    const char *tensor, *component;
    rw_kind kind;
} entries[] = {
    {"a.weight", "base", RW_KIND_WEIGHT},   {"a.weight", "full", RW_KIND_WEIGHT},
    {"a.weight", "lora", RW_KIND_WEIGHT},   {"a.weight", "base", RW_KIND_UPDATE},
    {"a.weight", "full", RW_KIND_UPDATE},   {"a.weight", "lora", RW_KIND_UPDATE},
    {"b.weight", "lora", RW_KIND_WEIGHT},   {"b.weight", "lora", RW_KIND_UPDATE},
    {"c.weight", "full", RW_KIND_WEIGHT},   {"c.weight", "lora", RW_KIND_UPDATE},
    {"d.weight", "weight", RW_KIND_WEIGHT}, {"d.weight", "weight", RW_KIND_UPDATE},
    {"l.ov", "ov", RW_KIND_WEIGHT},         {"l.wo_wv", "wo_wv", RW_KIND_WEIGHT},
};

static const char *write_entries(void)
{
    static char path[512];
    snprintf(path, sizeof path, "%s/defaults.h5", tmpdir);
    rw_spectra_writer *w;
    rw_err err = {{0}};
    assert_int_equal(spectra_writer_open(path, &w, &err), RW_OK);
    const double sigma[2] = {2, 1};
    for (size_t i = 0; i < sizeof entries / sizeof *entries; i++) {
        rw_spectrum s = {.run = "r", .step = 100, .tensor = entries[i].tensor, .layer = 0,
                         .module = entries[i].tensor, .component = entries[i].component,
                         .rows = 2, .cols = 3, .dtype = RW_DT_F32, .k = 2, .sigma = sigma,
                         .kind = entries[i].kind,
                         .ref_step = entries[i].kind == RW_KIND_WEIGHT ? -1 : 0,
                         .ref_fro = NAN};
        assert_int_equal(spectra_writer_add(w, &s, &err), RW_OK);
    }
    assert_int_equal(spectra_writer_close(w, true, &err), RW_OK);
    return path;
}

/* Collects "tensor/component" of each spectrum, space-separated. */
static rw_status collect(const rw_spectrum *s, void *ctx, rw_err *err)
{
    (void)err;
    char *buf = ctx;
    size_t len = strlen(buf);
    snprintf(buf + len, 1024 - len, "%s%s/%s", len ? " " : "", s->tensor, s->component);
    return RW_OK;
}

static void expect_foreach(const char *path, unsigned comps, unsigned circuits, rw_kind kind,
                           const char *want)
{
    char got[1024] = "";
    rw_select all = {0};
    rw_err err = {{0}};
    if (spectra_file_foreach(path, &all, comps, circuits, kind, collect, got, &err) != RW_OK)
        fail_msg("%s", err.msg);
    if (strcmp(got, want) != 0)
        fail_msg("comps %#x circuits %#x kind %s: got '%s', want '%s'", comps, circuits,
                 rw_kind_name(kind), got, want);
}

static void default_rule_in_spectra_file(void **state)
{
    (void)state;
    const char *p = write_entries();
    /* the metric programs: no circuit unless asked for */
    expect_foreach(p, 0, 0, RW_KIND_WEIGHT,
                   "a.weight/full b.weight/lora c.weight/full d.weight/weight");
    /* updates: c's lora has no full update, so it is its matrix's default */
    expect_foreach(p, 0, 0, RW_KIND_UPDATE,
                   "a.weight/full b.weight/lora c.weight/lora d.weight/weight");
    /* rw-plot spectrum: ov too, not wo_wv */
    expect_foreach(p, 0, OV, RW_KIND_WEIGHT,
                   "a.weight/full b.weight/lora c.weight/full d.weight/weight l.ov/ov");
    expect_foreach(p, 0, RW_COMP_CIRCUITS, RW_KIND_WEIGHT,
                   "a.weight/full b.weight/lora c.weight/full d.weight/weight l.ov/ov "
                   "l.wo_wv/wo_wv");
    /* a mask names the components; circuits do not matter then */
    expect_foreach(p, RW_COMP_BIT(RW_COMP_LORA), RW_COMP_CIRCUITS, RW_KIND_WEIGHT,
                   "a.weight/lora b.weight/lora");
    expect_foreach(p, RW_COMP_BIT(RW_COMP_BASE) | WO, 0, RW_KIND_WEIGHT,
                   "a.weight/base l.wo_wv/wo_wv");
}

static void names_round_trip(void **state)
{
    (void)state;
    static const char *const kinds[] = {"weight", "update", "update_first"};
    for (int k = 0; k < 3; k++) {
        assert_string_equal(rw_kind_name((rw_kind)k), kinds[k]);
        assert_int_equal(rw_kind_parse(kinds[k]), k);
    }
    assert_string_equal(rw_kind_name((rw_kind)3), "?");
    assert_int_equal(rw_kind_parse("weights"), -1);
    static const char *const comps[] = {"weight", "base", "lora", "full", "ov", "wo_wv"};
    for (int c = 0; c < RW_COMP_COUNT; c++) {
        assert_string_equal(rw_comp_name((rw_comp)c), comps[c]);
        assert_int_equal(rw_comp_parse(comps[c]), c);
    }
    assert_string_equal(rw_comp_name(RW_COMP_COUNT), "?");
    assert_int_equal(rw_comp_parse("Full"), -1);
    unsigned m;
    assert_true(rw_comp_parse_mask("ov,wo_wv", &m));
    assert_int_equal(m, RW_COMP_CIRCUITS);
}

static void valid_spectra(void **state)
{
    (void)state;
    const double desc[3] = {3, 2, 0}, asc[2] = {1, 2}, neg[2] = {1, -1};
    const double allnan[2] = {NAN, NAN}, somenan[2] = {NAN, 1}, inf[2] = {INFINITY, 1};
    assert_true(spectrum_valid(desc, 3));
    assert_true(spectrum_valid(desc, 0));
    assert_true(spectrum_valid(allnan, 2));
    assert_false(spectrum_valid(asc, 2));
    assert_false(spectrum_valid(neg, 2));
    assert_false(spectrum_valid(somenan, 2));
    assert_false(spectrum_valid(inf, 2));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(default_rule_cases),
        cmocka_unit_test(default_rule_in_spectra_file),
        cmocka_unit_test(names_round_trip),
        cmocka_unit_test(valid_spectra),
    };
    return cmocka_run_group_tests_name("spectrum", tests, setup, teardown);
}
