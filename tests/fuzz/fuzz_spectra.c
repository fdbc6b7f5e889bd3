/*
 * fuzz_spectra.c — libFuzzer harness of the spectra-file reader
 * (io/spectra_file_read.c): the input is an HDF5 file that claims to be a
 * spectra file. It goes through spectra_file_is (how the programs tell a
 * spectra file from a checkpoint), spectra_reader_open with every entry's
 * key and singular values and the cache lookup, and spectra_file_foreach
 * for each kind, as rw-rank, rw-updates and rw-spectra's cache read it.
 */
#include "tests/fuzz/fuzz.h"
#include "io/spectra_file.h"

#include <stdio.h>
#include <stdlib.h>

/* Singular values read per entry at most, like FUZZ_MAX_NUMEL. */
#define FUZZ_MAX_SIGMA ((size_t)1 << 20)

static void check_failure(rw_status st, const rw_err *err)
{
    if (st != RW_OK && err->msg[0] == '\0') {
        fprintf(stderr, "fuzz: status %d without a message\n", (int)st);
        abort();
    }
}

static rw_status touch(const rw_spectrum *s, void *ctx, rw_err *err)
{
    (void)err;
    volatile double *sink = ctx;
    for (size_t i = 0; i < s->k; i++)
        *sink += s->sigma[i];
    return RW_OK;
}

/* Reads every entry; returns true when the file opened and no entry has
 * more than FUZZ_MAX_SIGMA values. */
static bool read_entries(const char *path)
{
    rw_err err = {{0}};
    rw_spectra_reader *r = NULL;
    rw_status st = spectra_reader_open(path, &r, &err);
    check_failure(st, &err);
    if (st != RW_OK)
        return false;
    (void)spectra_reader_options(r);
    (void)spectra_reader_source(r, "run", "x.h5", NULL, 0, 0, 0);
    double *sigma = NULL;
    volatile double sink = 0;
    bool small = true;
    for (size_t i = 0; i < spectra_reader_count(r); i++) {
        rw_spectrum s;
        spectra_reader_entry(r, i, &s);
        if (!s.run || !s.tensor || !s.module || !s.component || !s.path)
            abort();
        if (s.k > FUZZ_MAX_SIGMA) {
            small = false;
            continue;
        }
        free(sigma);
        if (!(sigma = malloc((s.k + 1) * sizeof *sigma)))
            abort();
        err.msg[0] = '\0';
        st = spectra_reader_sigma(r, i, sigma, &err);
        check_failure(st, &err);
        for (size_t k = 0; st == RW_OK && k < s.k; k++)
            sink += sigma[k];
    }
    free(sigma);
    spectra_reader_close(r);
    (void)sink;
    return small;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("x.h5", data, size);
    (void)spectra_file_is(path);
    /* foreach allocates what the largest entry needs, so it gets only the
     * files whose entries are all small (a declared size is not the
     * reader's to cap here; see docs/reliability.md, Fuzzing). */
    if (!read_entries(path))
        return 0;
    static const rw_kind kinds[] = {RW_KIND_WEIGHT, RW_KIND_UPDATE, RW_KIND_UPDATE_FIRST};
    rw_select sel = {0};
    volatile double sink = 0;
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        rw_err err = {{0}};
        rw_status st =
            spectra_file_foreach(path, &sel, 0, 0, kinds[k], touch, (void *)&sink, &err);
        check_failure(st, &err);
    }
    return 0;
}
