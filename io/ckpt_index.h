/*
 * ckpt_index.h — private to io/ckpt*.c: the index of a sharded model, as
 * transformers' save_pretrained writes it beside its shard files,
 *   {"metadata": {"total_size": ...}, "weight_map": {"<tensor>": "<shard file>", ...}}
 * for safetensors shards (`*.safetensors.index.json`) and for PyTorch ones
 * (`pytorch_model.bin.index.json`, any `*.bin.index.json`). The module owns
 * what does not depend on the shards' format: reading and checking the
 * index (untrusted input like the shards: read whole only below 100 MB,
 * checked as UTF-8 and as JSON; it may name files beside it, no others),
 * its shard files, its metadata, and the check that the index and the
 * tensors the back end found in the shards agree exactly. Each back end
 * opens the shards its own way (ckpt_st.c, ckpt_pt_index.c) and marks each
 * tensor's shard in t->loc->shard (an index into shards/paths).
 */
#ifndef RW_CKPT_INDEX_H
#define RW_CKPT_INDEX_H

#include "io/ckpt_impl.h"

#include <cJSON.h>

#define CKPT_ST_INDEX_SUFFIX ".safetensors.index.json"
#define CKPT_PT_INDEX_SUFFIX ".bin.index.json"

/* A loaded index. Ownership: root, the shards array and paths (each path
 * and the array) are owned and freed by ckpt_index_free; wmap and the
 * shard names point into root and live as long as it. */
typedef struct {
    cJSON *root;            /* the parsed index */
    const cJSON *wmap;      /* its weight_map: tensor name -> shard name */
    const char **shards;    /* the distinct shard names, in order of first appearance */
    char **paths;           /* shards[k] joined to the index's directory */
    size_t nshards;
} ckpt_index;

/* Reads and checks the index at path into *ix (zeroed first): UTF-8 JSON,
 * a weight_map object listing at least one tensor, every shard a plain
 * file name beside the index. On failure *ix is empty and err names path. */
rw_status ckpt_index_load(const char *path, ckpt_index *ix, rw_err *err);
/* Frees what ix owns and zeroes it (a zeroed ix: no-op). */
void ckpt_index_free(ckpt_index *ix);

/* RW_OK unless shard k does not exist: then RW_EIO and a message naming
 * the index (path) and the shard. Any other trouble with the shard is left
 * to the back end's open, whose message names the shard. */
rw_status ckpt_index_shard_present(const char *path, const ckpt_index *ix, size_t k,
                                   rw_err *err);
/* The index's own "metadata" (total_size, ...): strings and numbers become
 * attributes of c unless c has one of that key already. */
rw_status ckpt_index_metadata(rw_ckpt *c, const ckpt_index *ix, rw_err *err);
/* Checks c (sorted by name, each tensor's loc->shard set) against the
 * index c->path: no tensor in two shards, every weight_map entry a tensor
 * of the shard it names (and listed once), every tensor of a shard in
 * weight_map. Each message names the index and the shard files. */
rw_status ckpt_index_check(const rw_ckpt *c, const ckpt_index *ix, rw_err *err);

/* The distinct shard files of the index at path, as ckpt_shard_files (a
 * new array of new strings, the caller frees each and the array). */
rw_status ckpt_index_shards(const char *path, char ***names, size_t *n, rw_err *err);

#endif
