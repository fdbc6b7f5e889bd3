/*
 * ckpt_impl.h — private to io/ckpt*.c: where a tensor's values are in its
 * file (struct rw_tensor_loc), the format back ends behind ckpt_open,
 * ckpt_read and ckpt_free, and the helpers they share. Everything else
 * reaches a checkpoint through ckpt.h; run discovery too (ckpt_step_groups,
 * ckpt_shard_files). The only other includers are the unit tests that check
 * a back end's choices (tests/test_ckpt.c, tests/test_safetensors.c), each
 * saying so where it includes this. The back ends' own private headers:
 * ckpt_st_impl.h (safetensors' JSON text), ckpt_pt_impl.h (PyTorch), and
 * the index of sharded models, ckpt_index.h.
 */
#ifndef RW_CKPT_IMPL_H
#define RW_CKPT_IMPL_H

#include "io/ckpt.h"

/* Where tensor t's values are (t->loc, owned by t and freed by ckpt_free). */
struct rw_tensor_loc {
    char *h5path;             /* HDF5 dataset path (owned), NULL otherwise */
    uint64_t offset;          /* safetensors: byte offset in the file;
                                 HDF5 with h5_raw: byte offset in the file;
                                 PyTorch: the back end's entry (ckpt_pt_impl.h) */
    int shard;                /* a sharded model: which shard file (ckpt_index.h) */
    bool h5_raw;              /* HDF5: stored contiguously in the host's own
                                 float layout at offset (read with pread) */
    bool h5_convert;          /* HDF5: a float layout other than IEEE (another
                                 exponent bias, ...): read through HDF5's
                                 conversion to double */
    struct h5_chunking *h5_chunks; /* HDF5: chunked and filtered in a way
                                 ckpt_read_packed reads (io/h5chunks.h), or
                                 NULL; owned (one block: free) */
};

/* --- format back ends (dispatched to by ckpt.c) ---
 * open: fills c->tensors (through ckpt_push_tensor), c->attrs and c->impl
 * (the back end's state, freed by its close); on failure what was filled
 * stays for ckpt_free. read: as ckpt_read, i in range. close: frees c->impl
 * and sets it NULL (the tensors and attributes are ckpt_free's). */
rw_status ckpt_h5_open(rw_ckpt *c, rw_err *err);
rw_status ckpt_h5_read(rw_ckpt *c, size_t i, double *buf, rw_err *err);
rw_status ckpt_h5_read_packed(rw_ckpt *c, size_t i, rw_packed **out, rw_err *err);
void ckpt_h5_close(rw_ckpt *c);
rw_status ckpt_st_open(rw_ckpt *c, rw_err *err);
rw_status ckpt_st_read(rw_ckpt *c, size_t i, double *buf, rw_err *err);
void ckpt_st_close(rw_ckpt *c);
/* PyTorch (ckpt_pt.c; a `*.bin.index.json` of PyTorch shards:
 * ckpt_pt_index.c): t->loc->offset is the back end's entry of tensor t. */
rw_status ckpt_pt_open(rw_ckpt *c, rw_err *err);
rw_status ckpt_pt_read(rw_ckpt *c, size_t i, double *buf, rw_err *err);
void ckpt_pt_close(rw_ckpt *c);
/* Detached copies (ckpt_detach.c): read and close. */
rw_status ckpt_detached_read(rw_ckpt *d, size_t i, double *buf, rw_err *err);
void ckpt_detached_close(rw_ckpt *d);
/* True for the extensions PyTorch checkpoints come with: .pt .pth .bin .ckpt */
bool ckpt_pt_is_name(const char *path);

/* Keras 3 names (ckpt_keras.c): for an HDF5 checkpoint of Keras 3's layout
 * (ckpt_h5.c decides), sets every tensor's layer and module_name from its
 * dataset path (t->loc->h5path). Sorts c->tensors by name. */
rw_status ckpt_keras3_names(rw_ckpt *c, rw_err *err);
/* Whether a group's path (from the checkpoint's root) marks Keras 3's
 * layout: `layers/<name>/vars` or Keras 2.13's
 * `_layer_checkpoint_dependencies/<name>/vars`, <name> not a number. */
bool ckpt_keras3_vars_group(const char *path);

/* The top-level `step_<N>` groups of an HDF5 file, as ckpt_step_groups (but
 * for a file known to be HDF5; one that does not open as HDF5 fails). */
rw_status h5_step_groups(const char *path, char ***names, int64_t **steps,
                         size_t *n, rw_err *err);

/* The heads (and width) of config.json beside the checkpoint, as the
 * attributes n_heads, n_kv_heads, d_model where the checkpoint has none
 * (ckpt_config.c). */
rw_status ckpt_read_config(rw_ckpt *c, rw_err *err);

/* --- helpers for back ends --- */

/* Appends a zeroed tensor with a zeroed location (t->loc) to c->tensors
 * (capacity *cap) and counts it in c->n at once, so that ckpt_free frees
 * whatever the caller has set in it if the open fails half way. The
 * pointer is valid until the next append. NULL (err set) when out of
 * memory. */
rw_tensor *ckpt_push_tensor(rw_ckpt *c, size_t *cap, rw_err *err);
/* Appends an attribute (key and value copied). */
rw_status ckpt_add_attr(rw_ckpt *c, const char *key, const char *value, rw_err *err);
/* Sorts c->tensors by name and sets each one's layer and module. */
void ckpt_sort_tensors(rw_ckpt *c);

#endif
