/*
 * ckpt_pt_impl.h — private to the PyTorch back end of ckpt_impl.h: its state
 * (c->impl) and how its three files share the work:
 *   ckpt_pt.c        one torch.save file: the zip and legacy containers,
 *                    each tensor's storage, reading values
 *   ckpt_pt_tree.c   the unpickled object tree -> named tensors: the key
 *                    paths, the state dict of a checkpoint dict (automatic,
 *                    or rw_ckpt_opts.key), the step and LoRA scale entries
 *   ckpt_pt_index.c  a sharded model of PyTorch shards (`*.bin.index.json`,
 *                    ckpt_index.h), each shard opened as a checkpoint of
 *                    its own
 */
#ifndef RW_CKPT_PT_IMPL_H
#define RW_CKPT_PT_IMPL_H

#include "io/ckpt_impl.h"
#include "io/pickle.h"

#include <pthread.h>
#include <zip.h>

/* One tensor of a file: c->tensors[i].loc->offset is its index in pt_impl.e. */
typedef struct {
    const pk_obj *t;     /* the tensor in the document */
    uint64_t data_off;   /* legacy: file offset of the storage's first element */
    zip_int64_t zindex;  /* zip: the storage's entry */
} pt_entry;

/* c->impl of a PyTorch checkpoint (owned by it; ckpt_pt_close frees it and
 * what it owns). A file fills doc, zip or fd, and e; an index only shards. */
typedef struct {
    pk_doc *doc;
    unsigned char *pkl;      /* legacy: the pickles read (the doc does not point here) */
    zip_t *zip;
    pthread_mutex_t lock;    /* libzip's archive is not thread-safe */
    int fd;                  /* legacy: pread */
    pt_entry *e;
    size_t ne, cape;
    char *archive;           /* zip: "<archive>/" */
    rw_ckpt **shards;        /* an index: its shards, each a checkpoint of one file
                                (owned, ckpt_free); tensor t of the index is tensor
                                t->loc->offset of shards[t->loc->shard] */
    size_t nshards;
} pt_impl;

/* A new, empty state set as c->impl (NULL, err set, when out of memory). */
pt_impl *pt_impl_new(rw_ckpt *c, rw_err *err);
/* Opens c->path as one torch.save file (never as an index) into a new
 * c->impl: lists its tensors, in the order of pt_impl.e, then sorted. */
rw_status pt_open_file(rw_ckpt *c, rw_err *err);

/* Lists the tensors of the object tree root (ckpt_pt_tree.c): appends them
 * to c->tensors and p->e in the same order, with t->loc->offset the entry;
 * adds the step and LoRA scale entries of the root as attributes. With
 * c->attrs_only only the attributes. */
rw_status pt_list_tensors(rw_ckpt *c, pt_impl *p, const pk_obj *root, rw_err *err);

/* Opens the index c->path and its shards (ckpt_pt_index.c). */
rw_status pt_open_index(rw_ckpt *c, rw_err *err);

#endif
