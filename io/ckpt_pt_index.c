/*
 * ckpt_pt_index.c — a sharded model of PyTorch shards, as transformers'
 * save_pretrained(..., safe_serialization=False) writes it: the index
 * pytorch_model.bin.index.json (ckpt_index.h) and the shard files it names,
 * pytorch_model-00001-of-00002.bin, ..., each a torch.save state dict. It
 * opens as one checkpoint: every shard is opened as a checkpoint of one
 * file with the index's options (ckpt_pt_impl.h keeps them in
 * pt_impl.shards), its tensors are listed under the index, and reading one
 * reads it from its shard. The index and the shards must agree exactly on
 * which tensor lives where (ckpt_index_check).
 */
#include "io/ckpt_pt_impl.h"
#include "io/ckpt_index.h"

#include <stdlib.h>
#include <string.h>

/* Opens the shard at path as a checkpoint of one PyTorch file, with c's
 * key and attrs_only. *out is set (also on failure, then partly filled):
 * the caller frees it with ckpt_free. */
static rw_status open_shard(const rw_ckpt *c, const char *path, rw_ckpt **out, rw_err *err)
{
    rw_ckpt *s = rw_calloc(1, sizeof *s, err);
    if (!(*out = s))
        return RW_ENOMEM;
    s->format = RW_FMT_PYTORCH;
    s->attrs_only = c->attrs_only;
    s->path = rw_strdup(path);
    s->key = c->key ? rw_strdup(c->key) : NULL;
    if (!s->path || (c->key && !s->key))
        return rw_fail(err, RW_ENOMEM, "out of memory");
    rw_status st = rw_check_regular(path, err); /* before the open: a FIFO would block */
    return st == RW_OK ? pt_open_file(s, err) : st;
}

/* Lists shard k's tensors under the index c (capacity *cap), each found by
 * its index in the shard, and the shard's attributes c lacks. */
static rw_status add_shard(rw_ckpt *c, const rw_ckpt *s, int k, size_t *cap, rw_err *err)
{
    for (size_t j = 0; j < s->n; j++) {
        rw_tensor *x = ckpt_push_tensor(c, cap, err);
        if (!x)
            return RW_ENOMEM;
        const rw_tensor *t = &s->tensors[j];
        x->ndim = t->ndim;
        memcpy(x->shape, t->shape, sizeof x->shape);
        x->numel = t->numel;
        x->dtype = t->dtype;
        x->loc->shard = k;
        x->loc->offset = j;
        if (!(x->name = rw_strdup(t->name)))
            return rw_fail(err, RW_ENOMEM, "out of memory");
    }
    for (size_t a = 0; a < s->nattrs; a++) {
        if (ckpt_attr(c, s->attrs[a].key))
            continue;
        rw_status st = ckpt_add_attr(c, s->attrs[a].key, s->attrs[a].value, err);
        if (st != RW_OK)
            return st;
    }
    return RW_OK;
}

rw_status pt_open_index(rw_ckpt *c, rw_err *err)
{
    pt_impl *p = pt_impl_new(c, err);
    if (!p)
        return RW_ENOMEM;
    ckpt_index ix;
    rw_status st = ckpt_index_load(c->path, &ix, err);
    if (st != RW_OK)
        return st;
    if ((st = ckpt_index_metadata(c, &ix, err)) == RW_OK &&
        !(p->shards = rw_calloc(ix.nshards, sizeof *p->shards, err)))
        st = RW_ENOMEM;
    size_t cap = 0;
    for (size_t k = 0; k < ix.nshards && st == RW_OK; k++) {
        if ((st = ckpt_index_shard_present(c->path, &ix, k, err)) != RW_OK)
            break;
        st = open_shard(c, ix.paths[k], &p->shards[k], err);
        p->nshards = k + 1; /* freed with c, also when it failed */
        if (st == RW_OK)
            st = add_shard(c, p->shards[k], (int)k, &cap, err);
    }
    if (st == RW_OK && !c->attrs_only) {
        ckpt_sort_tensors(c);
        st = ckpt_index_check(c, &ix, err);
    }
    ckpt_index_free(&ix);
    return st;
}
