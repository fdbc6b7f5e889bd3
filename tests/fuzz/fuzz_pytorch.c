/*
 * fuzz_pytorch.c — libFuzzer harness of the PyTorch checkpoint reader
 * (io/ckpt_pt.c): the input is a `.pt` file (a zip archive or a legacy
 * torch.save stream), opened with ckpt_open, listed and read tensor by
 * tensor (fuzz_walk_ckpt). When it opens, it is also read as the one shard
 * of a sharded model: an index pytorch_model.bin.index.json mapping its
 * tensors to it (io/ckpt_pt_index.c). Any refusal must say why.
 */
#include "tests/fuzz/fuzz.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The index of c's tensors, all in x.pt, opened and walked like c. */
static void as_shard(const rw_ckpt *c)
{
    cJSON *root = cJSON_CreateObject(), *wmap = cJSON_AddObjectToObject(root, "weight_map");
    for (size_t i = 0; wmap && i < c->n; i++)
        cJSON_AddStringToObject(wmap, c->tensors[i].name, "x.pt");
    char *text = wmap && c->n ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        return;
    const char *index = fuzz_file("pytorch_model.bin.index.json", (const uint8_t *)text,
                                  strlen(text));
    free(text);
    rw_err err = {{0}};
    rw_ckpt *ic = NULL;
    rw_status st = ckpt_open(index, NULL, &ic, &err);
    if (st != RW_OK && err.msg[0] == '\0') {
        fprintf(stderr, "fuzz: status %d without a message (index)\n", (int)st);
        abort();
    }
    if (st == RW_OK)
        fuzz_walk_ckpt(ic);
    ckpt_free(ic);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rw_err err = {{0}};
    rw_ckpt *c = NULL;
    rw_status st = ckpt_open(fuzz_file("x.pt", data, size), NULL, &c, &err);
    if (st != RW_OK && err.msg[0] == '\0') {
        fprintf(stderr, "fuzz: status %d without a message\n", (int)st);
        abort();
    }
    if (st == RW_OK) {
        fuzz_walk_ckpt(c);
        as_shard(c);
    }
    ckpt_free(c);
    return 0;
}
