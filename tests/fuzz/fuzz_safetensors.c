/*
 * fuzz_safetensors.c — libFuzzer harness of the safetensors reader
 * (io/ckpt_st.c): the input is a `.safetensors` file, opened with
 * ckpt_open, listed and read tensor by tensor (fuzz_walk_ckpt). The same
 * bytes are also given to the sharded-model index reader as a
 * `model.safetensors.index.json` (ckpt_shard_files, then ckpt_open of the
 * index, whose shards can only be files of the scratch directory).
 */
#include "tests/fuzz/fuzz.h"

#include <stdio.h>
#include <stdlib.h>

static void check_failure(rw_status st, const rw_err *err)
{
    /* Every refusal says why (the programs print it as their one line). */
    if (st != RW_OK && err->msg[0] == '\0') {
        fprintf(stderr, "fuzz: status %d without a message\n", (int)st);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rw_err err = {{0}};
    rw_ckpt *c = NULL;
    rw_status st = ckpt_open(fuzz_file("x.safetensors", data, size), NULL, &c, &err);
    check_failure(st, &err);
    if (st == RW_OK)
        fuzz_walk_ckpt(c);
    ckpt_free(c);

    const char *index = fuzz_file("model.safetensors.index.json", data, size);
    char **names = NULL;
    size_t n = 0;
    err.msg[0] = '\0';
    st = ckpt_shard_files(index, &names, &n, &err);
    check_failure(st, &err);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    if (st == RW_OK) {
        c = NULL;
        err.msg[0] = '\0';
        st = ckpt_open(index, NULL, &c, &err);
        check_failure(st, &err);
        if (st == RW_OK)
            fuzz_walk_ckpt(c);
        ckpt_free(c);
    }
    return 0;
}
