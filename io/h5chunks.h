/*
 * h5chunks.h — private to io/ckpt_h5.c and io/h5chunks.c: which chunked
 * HDF5 datasets ckpt_read_packed reads packed (io/packed.h), decided when
 * the checkpoint is listed, and the reading of their raw chunks.
 *
 * Ownership: an h5_chunking is one block owned by its tensor's location
 * (rw_tensor_loc.h5_chunks, freed by ckpt_free); h5_chunks_read's *out is
 * the caller's (rw_packed_free).
 */
#ifndef RW_H5CHUNKS_H
#define RW_H5CHUNKS_H

#include "io/ckpt_impl.h"
#include "io/packed.h"

#include <hdf5.h>

struct h5_chunking {
    int64_t chunk[RW_MAX_DIMS]; /* each in 1 .. the tensor's shape */
    size_t esize;               /* bytes per element, as stored */
    int nfilters;               /* 1 .. RW_PF_MAX, each filter at most once */
    unsigned char filters[RW_PF_MAX];
};

/* At listing: sets t->loc->h5_chunks when dataset ds (tensor t, numel
 * elements of esize bytes in a byte order packed.c reads) is chunked with
 * chunks no larger than its shape, filtered with deflate, shuffle (of esize
 * bytes) and fletcher32 only, each at most once, with edge chunks filtered
 * like the others and no external storage. Fails only when out of memory. */
rw_status h5_chunks_layout(hid_t ds, rw_tensor *t, size_t esize, rw_err *err);

/* The raw chunks of tensor t (t->loc->h5_chunks set) of the checkpoint file
 * path (size bytes when opened): located through its dataset (opened from
 * root); *out gets a duplicate of fd, HDF5's own descriptor of the file, to
 * read them from (or, when none can be had, their bytes read here). A chunk
 * never written, or lying past the end of the file, is an error. */
rw_status h5_chunks_read(hid_t root, int fd, int64_t size, const char *path, const rw_tensor *t,
                         rw_packed **out, rw_err *err);

#endif
