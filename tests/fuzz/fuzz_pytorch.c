/*
 * fuzz_pytorch.c — libFuzzer harness of the PyTorch checkpoint reader
 * (io/ckpt_pt.c): the input is a `.pt` file (a zip archive or a legacy
 * torch.save stream), opened with ckpt_open, listed and read tensor by
 * tensor (fuzz_walk_ckpt). Any refusal must say why.
 */
#include "tests/fuzz/fuzz.h"

#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rw_err err = {{0}};
    rw_ckpt *c = NULL;
    rw_status st = ckpt_open(fuzz_file("x.pt", data, size), NULL, &c, &err);
    if (st != RW_OK && err.msg[0] == '\0') {
        fprintf(stderr, "fuzz: status %d without a message\n", (int)st);
        abort();
    }
    if (st == RW_OK)
        fuzz_walk_ckpt(c);
    ckpt_free(c);
    return 0;
}
