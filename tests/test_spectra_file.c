/*
 * test_spectra_file.c — the spectra file reader's checks of what it reads:
 * each spectrum finite, >= 0 and descending, or all nan (a matrix with
 * non-finite entries, as rw-spectra writes it); anything else is an error
 * naming the file and the tensor, through spectra_file_foreach as through
 * spectra_reader_sigma (what rw-spectra's cache copies).
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bad_values_refused),
        cmocka_unit_test(good_values_accepted),
        cmocka_unit_test(sigma_not_fully_stored),
    };
    return cmocka_run_group_tests_name("spectra_file", tests, setup, teardown);
}
