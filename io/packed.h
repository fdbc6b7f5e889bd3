/*
 * packed.h — a tensor's values as they are stored when compressed: the raw
 * chunks of a chunked HDF5 dataset whose filters are deflate (h5py's
 * compression="gzip"), shuffle and fletcher32, read from the file on the
 * reading thread by ckpt_read_packed (io/ckpt.h; io/h5chunks.c) and turned
 * into doubles on any thread by rw_packed_decode (io/packed.c: zlib, no
 * HDF5 call). The pipeline hands a packed tensor to a worker so that the
 * decompression leaves the one thread that may call HDF5.
 *
 * The chunks' bytes are read by the decoder itself, from a descriptor of the
 * file the rw_packed holds (so the reading thread does no more than look
 * the chunks up), or, when no descriptor could be had, by ckpt_read_packed.
 * That descriptor is one per checkpoint file (rw_packed_file), shared by the
 * checkpoint and every packed tensor read from it, and closed with the last.
 *
 * A tensor to be read again (keep: its checkpoint's reread), decoded from
 * a shared file, is kept there (up to RW_PACKED_CACHE_MAX bytes over all
 * files), and decoding the same chunks again, from any thread, copies it:
 * rw-spectra --updates --component all reads each adapted weight, and its
 * factors, for several components and for the next step's update. The
 * values live until the file's last hold goes: a file rewritten in place
 * meanwhile still gives the values first decoded from it.
 *
 * Every number in it came from the file and is checked again by the
 * decoder: a chunk that does not inflate to exactly its size, a truncated or
 * corrupt deflate stream, a fletcher32 checksum that does not match, are
 * errors naming the file, the tensor and the chunk.
 *
 * Ownership: an rw_packed owns everything it points to (the chunks' bytes,
 * their table, the names for messages): made by ckpt_read_packed, freed by
 * whoever holds it with rw_packed_free, on any thread. rw_packed_decode
 * only reads it. The struct is filled by io/h5chunks.c only; everyone else
 * uses the functions below.
 */
#ifndef RW_PACKED_H
#define RW_PACKED_H

#include "io/ckpt.h"

/* The most bytes of decoded tensors kept over all files: a pico-tiny
 * ReLoRA checkpoint decodes to 16 MiB, and an update needs its step's and
 * the previous one's. Tensors beyond it are decoded each time. */
#define RW_PACKED_CACHE_MAX ((size_t)48 << 20)

/* The filters decoded here, by their HDF5 filter ids. */
enum { RW_PF_DEFLATE = 1, RW_PF_SHUFFLE = 2, RW_PF_FLETCHER32 = 3, RW_PF_MAX = 3 };

typedef struct rw_packed_file rw_packed_file;

/* One stored chunk. Chunks are in row-major order of the chunk grid. */
typedef struct {
    uint64_t at;      /* its bytes: rw_packed.bytes + at */
    uint64_t addr;    /* where they were in the file (for messages) */
    uint32_t size;    /* stored (filtered) bytes */
    uint32_t mask;    /* filter mask: bit k set = filter k was skipped */
} rw_packed_chunk;

struct rw_packed {
    char *path, *name;       /* the file and the tensor (messages) */
    int ndim;                /* 1 .. RW_MAX_DIMS */
    int64_t shape[RW_MAX_DIMS], chunk[RW_MAX_DIMS]; /* chunk[d] in 1 .. shape[d] */
    size_t numel;
    rw_dtype dtype;          /* F16, BF16 (little-endian), F32, F64 (host order) */
    size_t esize;            /* bytes per element */
    int nfilters;            /* the pipeline, in writing order */
    unsigned char filters[RW_PF_MAX];
    size_t nchunks;
    rw_packed_chunk *chunks;
    unsigned char *bytes;    /* every chunk's stored bytes, or NULL: read by the
                                decoder from file */
    size_t nbytes;           /* their total */
    bool keep;               /* to be read again: its values are kept decoded
                                in file (its checkpoint's reread) */
    rw_packed_file *file;    /* the file's shared descriptor (held), from which
                                the decoder reads the chunks; NULL when bytes
                                holds them */
};

/* The numel values of p, widened to double, into buf (C order). Any thread;
 * on failure err names the file, the tensor and the chunk. */
rw_status rw_packed_decode(const rw_packed *p, double *buf, rw_err *err);
/* Bytes p holds or will read (for memory accounting). */
size_t rw_packed_size(const rw_packed *p);
/* A new shared descriptor: a duplicate of fd (close-on-exec), held once by
 * the caller, or NULL when the shared descriptors alive are a quarter of the
 * process's descriptor limit already (at most 256: many checkpoints with
 * jobs outstanding must not starve the opening of files) or none can be
 * had. Any thread. */
rw_packed_file *rw_packed_file_dup(int fd);
/* One more hold on f; returns f. Any thread. */
rw_packed_file *rw_packed_file_hold(rw_packed_file *f);
/* Lets go of one hold on f (NULL: no-op); the last closes the descriptor
 * and gives its place back. Any thread. */
void rw_packed_file_release(rw_packed_file *f);
/* How many times a tensor was decoded from its chunks so far, in this
 * process (decodes served from what a file keeps do not count). Any
 * thread; for tests and measurements. */
size_t rw_packed_decodes(void);
/* Bytes of decoded tensors f keeps now. Any thread. */
size_t rw_packed_file_cached(rw_packed_file *f);
/* Frees p (NULL: no-op). */
void rw_packed_free(rw_packed *p);

#endif
