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
    bool located;               /* every chunk was found at listing: */
    size_t nchunks, nbytes;     /* how many, their stored bytes in all, */
    rw_packed_chunk chunks[];   /* and each (checked as h5_chunks_read says) */
};

/* At listing: sets t->loc->h5_chunks when dataset ds (tensor t, numel
 * elements of esize bytes in a byte order packed.c reads) is chunked with
 * chunks no larger than its shape, filtered with deflate, shuffle (of esize
 * bytes) and fletcher32 only, each at most once, with edge chunks filtered
 * like the others and no external storage; and locates its chunks then,
 * while ds is open (file path, size bytes), unless one is missing or out of
 * place: h5_chunks_read says so when the tensor is read. (This replaces
 * H5Dget_storage_size, which walks the same index, and a second opening of
 * the dataset per read: about a quarter of the reading thread's time on
 * gzip-compressed runs, perf.) Fails only when out of memory. */
rw_status h5_chunks_layout(hid_t ds, rw_tensor *t, size_t esize, const char *path, int64_t size,
                           rw_err *err);

/* The raw chunks of tensor t (t->loc->h5_chunks set) of the checkpoint file
 * path (size bytes when opened): as located at listing, or else through its
 * dataset (opened from root); *out holds file, the file's shared descriptor,
 * to read them from, or, when file is NULL, their bytes read here from fd,
 * HDF5's own descriptor. A chunk never written, or lying past the end of
 * the file, is an error. */
rw_status h5_chunks_read(hid_t root, int fd, rw_packed_file *file, int64_t size,
                         const char *path, const rw_tensor *t, rw_packed **out, rw_err *err);

#endif
