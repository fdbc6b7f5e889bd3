/*
 * test_spectra_file.c — the spectra file reader's checks of what it reads:
 * each spectrum finite, >= 0 and descending, or all nan (a matrix with
 * non-finite entries, as rw-spectra writes it); anything else is an error
 * naming the file and the tensor, through spectra_file_foreach as through
 * spectra_reader_sigma (what rw-spectra's cache copies). And what a spectrum
 * is (io/spectrum.h): the one default-component rule, case by case against
 * a hand-written truth table and as spectra_file_foreach applies it to a
 * file's entries (a lora entry is a default only where its matrix has no
 * full entry of the same kind); kind and component names; spectrum_valid.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <hdf5.h>
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
    return test_tmpdir_make(tmpdir, sizeof tmpdir, "spectra");
}

static int teardown(void **state)
{
    (void)state;
    return test_tmpdir_remove(tmpdir);
}

/* Writes name (in the scratch directory) with two 3x4 spectra: a good one
 * (layers.0.w) and layers.1.w with the values bad. Returns its path. */
static const char *write_spectra(const char *name, const double bad[3])
{
    static char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    rw_spectra_writer *w;
    rw_err err = {{0}};
    assert_int_equal(spectra_writer_open(path, &w, &err), RW_OK);
    const double good[3] = {3, 2, 1};
    for (int l = 0; l < 2; l++) {
        rw_spectrum s = {.run = "r", .step = 100, .tensor = l ? "layers.1.w" : "layers.0.w",
                         .layer = l, .module = "w", .component = "weight", .rows = 3,
                         .cols = 4, .dtype = RW_DT_F32, .k = 3, .sigma = l ? bad : good,
                         .kind = RW_KIND_WEIGHT, .ref_step = -1, .ref_fro = NAN};
        assert_int_equal(spectra_writer_add(w, &s, &err), RW_OK);
    }
    assert_int_equal(spectra_writer_close(w, true, &err), RW_OK);
    return path;
}

static rw_status count_fn(const rw_spectrum *s, void *ctx, rw_err *err)
{
    (void)s;
    (void)err;
    (*(int *)ctx)++;
    return RW_OK;
}

/* Reads path both ways; returns the status of spectra_file_foreach and
 * checks that spectra_reader_sigma of entry 1 agrees. */
static rw_status read_both(const char *path, int *seen, rw_err *err)
{
    rw_select all = {0};
    *seen = 0;
    rw_status st = spectra_file_foreach(path, &all, 0, 0, RW_KIND_WEIGHT, count_fn, seen, err);
    rw_spectra_reader *r;
    rw_err e2 = {{0}};
    assert_int_equal(spectra_reader_open(path, &r, &e2), RW_OK);
    double sigma[3];
    assert_int_equal(spectra_reader_sigma(r, 1, sigma, &e2), st);
    spectra_reader_close(r);
    return st;
}

static void bad_values_refused(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        double sigma[3];
    } bad[] = {
        {"negative.h5", {3, 2, -1}},
        {"nan.h5", {3, NAN, 1}},
        {"inf.h5", {INFINITY, 2, 1}},
        {"ascending.h5", {1, 2, 3}},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *p = write_spectra(bad[i].file, bad[i].sigma);
        rw_err err = {{0}};
        int seen;
        assert_int_equal(read_both(p, &seen, &err), RW_EDATA);
        assert_int_equal(seen, 1); /* the good one, before */
        char want[600];
        snprintf(want, sizeof want, "%s: layers.1.w (run r, step 100, weight): singular "
                 "values are not finite, >= 0 and descending", p);
        if (!strstr(err.msg, want))
            fail_msg("'%s' lacks '%s'", err.msg, want);
    }
}

static void good_values_accepted(void **state)
{
    (void)state;
    /* All nan: a matrix with non-finite entries, as rw-spectra writes it;
     * equal values and zeros are descending enough. */
    static const double ok[][3] = {{NAN, NAN, NAN}, {2, 2, 0}, {0, 0, 0}};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        char name[32];
        snprintf(name, sizeof name, "ok%zu.h5", i);
        const char *p = write_spectra(name, ok[i]);
        rw_err err = {{0}};
        int seen;
        if (read_both(p, &seen, &err) != RW_OK)
            fail_msg("%s", err.msg);
        assert_int_equal(seen, 2);
    }
}

/* /sigma extended past what was written (as a full disk leaves it): the
 * unwritten values would read as zeros, a plausible spectrum. */
static void sigma_not_fully_stored(void **state)
{
    (void)state;
    const double fine[3] = {1, 0.5, 0.25};
    const char *p = write_spectra("extended.h5", fine);
    hid_t f = H5Fopen(p, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t ds = H5Dopen2(f, "sigma", H5P_DEFAULT);
    hsize_t n = 6 + 200000;
    assert_true(H5Dset_extent(ds, &n) >= 0);
    H5Dclose(ds);
    H5Fclose(f);
    rw_spectra_reader *r = NULL;
    rw_err err = {{0}};
    assert_int_equal(spectra_reader_open(p, &r, &err), RW_EDATA);
    assert_null(r);
    char want[600];
    snprintf(want, sizeof want, "%s: /sigma: fewer values stored than its 200006 declared", p);
    if (!strstr(err.msg, want))
        fail_msg("'%s' lacks '%s'", err.msg, want);
}

/* ------------------------------------------------- what a spectrum is */

#define OV RW_COMP_BIT(RW_COMP_OV)
#define WO RW_COMP_BIT(RW_COMP_WO_WV)

/* The rule's truth table, written out by hand: for each component, the
 * answer under circuits 0, ov, wo_wv and both (ov|wo_wv), first for a
 * matrix without a full component, then for one with it. */
static void default_rule_cases(void **state)
{
    (void)state;
    static const unsigned circuits[4] = {0, OV, WO, RW_COMP_CIRCUITS};
    static const struct {
        rw_comp c;
        const char *want; /* "no full | has full", one digit per circuits[] */
    } cases[] = {
        {RW_COMP_WEIGHT, "1111|1111"}, /* a plain tensor's only component */
        {RW_COMP_BASE, "0000|0000"},   /* never: a part of full */
        {RW_COMP_LORA, "1111|0000"},   /* only without a full (adapter-only) */
        {RW_COMP_FULL, "1111|1111"},   /* the weight the model computes with */
        {RW_COMP_OV, "0101|0101"},     /* only where the caller counts it */
        {RW_COMP_WO_WV, "0011|0011"},  /* the same, under its own bit */
        {RW_COMP_COUNT, "0000|0000"},  /* not a component */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (int full = 0; full < 2; full++)
            for (int j = 0; j < 4; j++) {
                bool want = cases[i].want[full * 5 + j] == '1';
                if (rw_comp_default(cases[i].c, full, circuits[j]) != want)
                    fail_msg("rw_comp_default(%s, has_full %d, circuits %#x) should be %s",
                             rw_comp_name(cases[i].c), full, circuits[j],
                             want ? "true" : "false");
            }
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
    static const char *const comps[] = {"weight", "base", "lora", "full", "ov", "wo_wv", "ov_base", "ov_lora"};
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

/* A file of gradients says so (data, split); every entry read back carries
 * it; a file of weights has no such attribute; one file holds one kind. */
static void data_round_trip(void **state)
{
    (void)state;
    char path[512];
    snprintf(path, sizeof path, "%s/grads.h5", tmpdir);
    const double sig[3] = {3, 2, 1};
    rw_err err = {{0}};
    for (int pass = 0; pass < 2; pass++) {
        rw_spectra_writer *w;
        assert_int_equal(spectra_writer_open(path, &w, &err), RW_OK);
        rw_spectrum s = {.run = "r", .step = 1, .tensor = "layers.0.w", .layer = 0,
                         .module = "w", .component = "weight", .rows = 3, .cols = 4,
                         .dtype = RW_DT_F32, .k = 3, .sigma = sig, .kind = RW_KIND_WEIGHT,
                         .ref_step = -1, .ref_fro = NAN, .path = "g.pt",
                         .data = pass ? NULL : "gradients", .split = pass ? NULL : "val"};
        assert_int_equal(spectra_writer_add(w, &s, &err), RW_OK);
        s.tensor = "layers.1.w";
        s.data = pass ? "gradients" : NULL; /* the other kind: refused */
        s.split = pass ? "train" : NULL;
        assert_int_equal(spectra_writer_add(w, &s, &err), RW_EDATA);
        assert_non_null(strstr(err.msg, "in one file"));
        assert_int_equal(spectra_writer_close(w, true, &err), RW_OK);
        rw_spectra_reader *r;
        assert_int_equal(spectra_reader_open(path, &r, &err), RW_OK);
        const char *split = "x", *d = spectra_reader_data(r, &split);
        rw_spectrum e;
        spectra_reader_entry(r, 0, &e);
        if (pass) {
            assert_null(d);
            assert_null(split);
            assert_null(e.data);
        } else {
            assert_string_equal(d, "gradients");
            assert_string_equal(split, "val");
            assert_string_equal(e.data, "gradients");
            assert_string_equal(e.split, "val");
        }
        spectra_reader_close(r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_values_refused),
        cmocka_unit_test(good_values_accepted),
        cmocka_unit_test(sigma_not_fully_stored),
        cmocka_unit_test(default_rule_cases),
        cmocka_unit_test(default_rule_in_spectra_file),
        cmocka_unit_test(names_round_trip),
        cmocka_unit_test(valid_spectra),
        cmocka_unit_test(data_round_trip),
    };
    return cmocka_run_group_tests_name("spectra_file", tests, setup, teardown);
}
