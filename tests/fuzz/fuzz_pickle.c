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

/* Every object of the tree to PK_MAX_DEPTH, at most *budget visits (the
 * document's object count, as ckpt_pt.c bounds its walk: a tree of shared
 * dicts and lists would otherwise take exponential time). */
static size_t visit(const pk_obj *o, int depth, size_t *budget)
{
    if (depth > PK_MAX_DEPTH || *budget == 0)
        return 0;
    --*budget;
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
            n += visit(o->u.seq.v[i], depth + 1, budget);
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
        size_t budget = pk_doc_objects(doc);
        (void)visit(root, 0, &budget);
        (void)pk_dict_get(root, "step");
    }
    pk_doc_free(doc);
    return 0;
}
