/*
 * fuzz_hdf5.c — libFuzzer harness of the HDF5 checkpoint reader
 * (io/ckpt_h5.c): the input is an `.h5` file. It is listed the three ways
 * the programs list one: its top-level step groups (ckpt_step_groups), its
 * attributes alone (ckpt_open_attrs, what run discovery reads), and in full
 * (ckpt_open), whole and per step group; then every float tensor of at most
 * FUZZ_MAX_NUMEL elements is read (fuzz_walk_ckpt).
 *
 * The reader opens files by name with HDF5's default (sec2) driver, the
 * driver its raw pread path depends on, so the input goes to a file in
 * /dev/shm rather than to an in-memory file image (H5FD_CORE).
 */
#include "tests/fuzz/fuzz.h"

#include <stdio.h>
#include <stdlib.h>

static void check_failure(rw_status st, const rw_err *err)
{
    if (st != RW_OK && err->msg[0] == '\0') {
        fprintf(stderr, "fuzz: status %d without a message\n", (int)st);
        abort();
    }
}

static void open_walk(const char *path, const char *group, bool attrs_only)
{
    rw_err err = {{0}};
    rw_ckpt *c = NULL;
    rw_status st = attrs_only ? ckpt_open_attrs(path, group, &c, &err)
                              : ckpt_open(path, group, &c, &err);
    check_failure(st, &err);
    if (st == RW_OK)
        fuzz_walk_ckpt(c);
    ckpt_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("x.h5", data, size);
    rw_err err = {{0}};
    char **groups = NULL;
    int64_t *steps = NULL;
    size_t n = 0;
    rw_status st = ckpt_step_groups(path, &groups, &steps, &n, &err);
    check_failure(st, &err);
    open_walk(path, NULL, true);
    open_walk(path, NULL, false);
    /* A few step groups are enough: each is the same reader again. */
    for (size_t i = 0; i < n && i < 4; i++)
        open_walk(path, groups[i], false);
    for (size_t i = 0; i < n; i++)
        free(groups[i]);
    free(groups);
    free(steps);
    return 0;
}
