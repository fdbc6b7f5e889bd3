/*
 * item_fetch.h — an item's matrix built in two halves, for tensors stored
 * compressed (ckpt_read_packed: h5py's gzip-chunked HDF5 datasets): what
 * its build reads fetched on the reading thread (item_fetch: a detached
 * copy of those tensors, ckpt_detach, the compressed chunks read, nothing
 * inflated, and copies of the items involved), the matrix put together
 * from them on a worker (item_fetched_build: item_build_noise itself on
 * the copies, then a reference subtracted), so that -j N also spreads the
 * decompression. The result is exactly item_build_noise's on the
 * checkpoint (the same code). Covers every item built from its own
 * checkpoint: weight, base, full, lora (its factors, for a low-rank job:
 * item_fetched_adapters) and the circuits, and their updates; items that
 * read another checkpoint (a separate base, the weights of gradients) are
 * built by item_build_noise on the reading thread, as before.
 *
 * Ownership: an item_fetched owns its copies and nothing of the
 * checkpoints, which may be closed before it is built; item_fetched_free
 * frees it, on any thread.
 */
#ifndef RW_ITEM_FETCH_H
#define RW_ITEM_FETCH_H

#include "analyzers/core/items.h"

typedef struct item_fetched item_fetched;

/* Item i of c (its), and for an update (ref not NULL) item ri of ref (refits),
 * of the same shape: *out holds what both builds read when at least one
 * tensor of them is packed (the others read with ckpt_read now); *out is
 * NULL, and nothing is read, when none is or a build reads another
 * checkpoint. ref_fro_only: the reference is only measured (a lora
 * update's base), not subtracted. A failed read is an error naming the
 * file and tensor. */
rw_status item_fetch(rw_ckpt *c, const rw_items *its, size_t i, rw_ckpt *ref,
                     const rw_items *refits, long ri, bool ref_fro_only, item_fetched **out,
                     rw_err *err);
/* Bytes f holds (memory accounting), 0 for NULL. */
size_t item_fetched_size(const item_fetched *f);
/* The matrix (rows x cols) into out as item_build_noise gives it (for an
 * update minus the reference's), *noise its N (plus the reference's), and
 * *ref_fro the reference's Frobenius norm (nan without one). Any thread; a
 * chunk that does not decode is an error naming its file and tensor. */
rw_status item_fetched_build(const item_fetched *f, double *out, double *noise, double *ref_fro,
                             rw_err *err);
/* For a lora item's low-rank job: its factors into b (rows x r) and a
 * (r x cols) as item_read_adapters reads them, *noise their product's N
 * (item_lora_noise), *ref_fro the reference's Frobenius norm (nan without
 * one). Any thread. */
rw_status item_fetched_adapters(const item_fetched *f, double *b, double *a, double *noise,
                                double *ref_fro, rw_err *err);
/* Frees f (NULL: no-op). */
void item_fetched_free(item_fetched *f);

#endif
