/*
 * fuzz_pickle.c — libFuzzer harness of the restricted unpickler
 * (io/pickle.c): the input is a pickle stream, parsed by pk_parse; a tree
 * it accepts is walked to the depth the readers walk (every container,
 * every tensor's extent), as ckpt_pt.c does. Any refusal must say why.
 */
#include "tests/fuzz/fuzz.h"

#include <stdio.h>
#include <stdlib.h>

#include "io/pickle.h"

static size_t visit(const pk_obj *o, int depth)
{
    if (depth > PK_MAX_DEPTH)
        return 0;
    size_t n = 1;
    int64_t ext;
    switch (o->kind) {
    case PK_TENSOR:
        if (!pk_tensor_extent(o, &ext)) {
            fprintf(stderr, "fuzz: an accepted tensor lies outside its storage\n");
            abort();
        }
        break;
    case PK_TUPLE:
    case PK_LIST:
    case PK_DICT:
        for (size_t i = 0; i < o->u.seq.n; i++)
            n += visit(o->u.seq.v[i], depth + 1);
        break;
    case PK_STR:
        if (o->u.str.s[o->u.str.len] != '\0')
            abort();
        break;
    default:
        break;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pk_doc *doc = NULL;
    const pk_obj *root = NULL;
    size_t used = 0;
    rw_err err = {{0}};
    rw_status st = pk_parse(data, size, &doc, &root, &used, &err);
    if (st != RW_OK && err.msg[0] == '\0') {
        fprintf(stderr, "fuzz: status %d without a message\n", (int)st);
        abort();
    }
    if (st == RW_OK) {
        if (used > size || !root)
            abort();
        (void)visit(root, 0);
        (void)pk_dict_get(root, "step");
    }
    pk_doc_free(doc);
    return 0;
}
