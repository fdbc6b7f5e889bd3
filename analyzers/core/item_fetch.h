/*
 * item_fetch.h — an item's matrix built in two halves, for tensors stored
 * compressed (ckpt_read_packed: h5py's gzip-chunked HDF5 datasets): the
 * stored tensors it is made of fetched on the reading thread (item_fetch:
 * the compressed chunks read, nothing inflated), the matrix put together
 * from them on a worker (item_fetched_build: inflated, widened, W + s B A
 * formed, a reference subtracted), so that -j N also spreads the
 * decompression. The result is exactly item_build_noise's (same arithmetic,
 * same order). Covers the items made of stored tensors: weight, base and
 * full (W + s B A, W stored out x in), their updates too; every other item
 * is built by item_build_noise on the reading thread, as before.
 *
 * Ownership: an item_fetched owns its packed tensors and any values read
 * already, and nothing of the checkpoints, which may be closed before it is
 * built; item_fetched_free frees it, on any thread.
 */
#ifndef RW_ITEM_FETCH_H
#define RW_ITEM_FETCH_H

#include "analyzers/core/items.h"

typedef struct item_fetched item_fetched;

/* Item i of c (its), and for an update (ref not NULL) item ri of ref (refits),
 * of the same shape: *out holds every stored tensor the matrix needs when at
 * least one of them is packed (the others read with ckpt_read); *out is
 * NULL, and nothing is read, when none is or the item is of another kind.
 * A failed read is an error naming the file and tensor. */
rw_status item_fetch(rw_ckpt *c, const rw_items *its, size_t i, rw_ckpt *ref,
                     const rw_items *refits, long ri, item_fetched **out, rw_err *err);
/* Bytes f holds (memory accounting), 0 for NULL. */
size_t item_fetched_size(const item_fetched *f);
/* The matrix (rows x cols) into out as item_build_noise gives it (for an
 * update minus the reference's), *noise its N (plus the reference's), and
 * *ref_fro the reference's Frobenius norm (nan without one). Any thread; a
 * chunk that does not decode is an error naming its file and tensor. */
rw_status item_fetched_build(const item_fetched *f, double *out, double *noise, double *ref_fro,
                             rw_err *err);
/* Frees f (NULL: no-op). */
void item_fetched_free(item_fetched *f);

#endif
