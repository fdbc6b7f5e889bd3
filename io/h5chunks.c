/*
 * h5chunks.c — chunked HDF5 datasets read packed (h5chunks.h): the layout
 * checked and the chunks located at listing, one H5Dget_chunk_info_by_coord
 * per chunk (its address, stored size and filter mask, looked up by its
 * coordinates in the chunk index), on the reading thread; the bytes are read
 * and the filters run by packed.c, on any thread.
 */
#include "io/h5chunks.h"

#include <stdlib.h>
#include <string.h>

/* Where the chunks of a dataset go, as they are located. */
typedef struct {
    rw_packed_chunk *chunks;
    size_t n, cap, nbytes;
} chunk_table;

/* Locates every chunk of the open dataset ds (tensor t, chunk shape chunk,
 * of file path, fsize bytes) into tab, checking each against the file's
 * size. */
static rw_status locate(hid_t ds, int64_t fsize, const char *path, const rw_tensor *t,
                        const int64_t *chunk, chunk_table *tab, rw_err *err)
{
    size_t grid[RW_MAX_DIMS], n = 1;
    for (int d = 0; d < t->ndim; d++) {
        grid[d] = (size_t)((t->shape[d] + chunk[d] - 1) / chunk[d]);
        n *= grid[d]; /* at most numel */
    }
    for (size_t k = 0; k < n; k++) {
        hsize_t off[RW_MAX_DIMS];
        size_t r = k;
        for (int d = t->ndim - 1; d >= 0; d--) {
            off[d] = (hsize_t)(r % grid[d]) * (hsize_t)chunk[d];
            r /= grid[d];
        }
        unsigned mask = 0;
        haddr_t addr = HADDR_UNDEF;
        hsize_t size = 0;
        if (H5Dget_chunk_info_by_coord(ds, off, &mask, &addr, &size) < 0)
            return rw_fail(err, RW_EDATA, "%s: %s: cannot locate chunk %zu of %zu (corrupt chunk "
                           "index?)", path, t->name, k + 1, n);
        if (addr == HADDR_UNDEF || size == 0)
            return rw_fail(err, RW_EDATA, "%s: %s: chunk %zu of %zu was never written (reading "
                           "it would give fill values)", path, t->name, k + 1, n);
        if (size > UINT32_MAX || addr > (haddr_t)fsize || size > (hsize_t)fsize - addr)
            return rw_fail(err, RW_EDATA, "%s: %s: chunk %zu of %zu (%llu bytes at byte %llu) "
                           "ends past the end of the file (%lld bytes; truncated?)", path,
                           t->name, k + 1, n, (unsigned long long)size,
                           (unsigned long long)addr, (long long)fsize);
        if (size > (hsize_t)fsize - tab->nbytes) /* legitimate chunks never overlap */
            return rw_fail(err, RW_EDATA, "%s: %s: its chunks take more bytes than the file "
                           "holds (corrupt chunk index)", path, t->name);
        if (rw_grow(&tab->chunks, tab->n, &tab->cap, sizeof *tab->chunks, err) != RW_OK)
            return RW_ENOMEM;
        tab->chunks[tab->n++] =
            (rw_packed_chunk){.at = tab->nbytes, .addr = addr, .size = (uint32_t)size, .mask = mask};
        tab->nbytes += (size_t)size;
    }
    return RW_OK;
}

rw_status h5_chunks_layout(hid_t ds, rw_tensor *t, size_t esize, const char *path, int64_t size,
                           rw_err *err)
{
    if (t->numel == 0 || t->ndim < 1)
        return RW_OK;
    hid_t dcpl = H5Dget_create_plist(ds);
    if (dcpl < 0)
        return RW_OK;
    struct h5_chunking ck = {.esize = esize};
    hsize_t cd[RW_MAX_DIMS];
    unsigned opts = 0;
    bool ok = H5Pget_layout(dcpl) == H5D_CHUNKED &&
              H5Pget_chunk(dcpl, RW_MAX_DIMS, cd) == t->ndim &&
              H5Pget_chunk_opts(dcpl, &opts) >= 0 &&
              !(opts & H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS) && H5Pget_external_count(dcpl) == 0;
    int nf = ok ? H5Pget_nfilters(dcpl) : -1;
    ok = ok && nf >= 1 && nf <= RW_PF_MAX;
    size_t elems = 1, bytes = 0;
    for (int d = 0; ok && d < t->ndim; d++) {
        ok = cd[d] >= 1 && cd[d] <= (hsize_t)t->shape[d] && rw_mul_size(elems, (size_t)cd[d], &elems);
        ck.chunk[d] = (int64_t)cd[d];
    }
    /* HDF5 keeps a chunk below 4 GiB; the decoder's sizes are 32-bit */
    ok = ok && rw_mul_size(elems, esize, &bytes) && bytes <= UINT32_MAX - 64;
    unsigned seen = 0;
    for (int f = 0; ok && f < nf; f++) {
        unsigned flags = 0, cdv[8] = {0}, config = 0;
        size_t ncd = 8;
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)f, &flags, &ncd, cdv, 0, NULL, &config);
        ok = (id == H5Z_FILTER_DEFLATE || id == H5Z_FILTER_SHUFFLE ||
              id == H5Z_FILTER_FLETCHER32) && !(seen >> id & 1);
        if (ok && id == H5Z_FILTER_SHUFFLE)
            ok = ncd >= 1 && cdv[0] == esize;
        if (ok) {
            seen |= 1u << id;
            ck.filters[f] = (unsigned char)id;
        }
    }
    H5Pclose(dcpl);
    if (!ok)
        return RW_OK;
    ck.nfilters = nf;
    chunk_table tab = {0};
    rw_err why = {{0}}; /* a chunk missing or out of place: said at the read */
    rw_status st = locate(ds, size, path, t, ck.chunk, &tab, &why);
    if (st == RW_ENOMEM) {
        free(tab.chunks);
        return rw_fail(err, RW_ENOMEM, "out of memory");
    }
    ck.located = st == RW_OK;
    size_t n = ck.located ? tab.n : 0;
    struct h5_chunking *b = rw_calloc(1, sizeof ck + n * sizeof *tab.chunks, err);
    if (b) {
        *b = ck;
        b->nchunks = n;
        b->nbytes = ck.located ? tab.nbytes : 0;
        if (n)
            memcpy(b->chunks, tab.chunks, n * sizeof *tab.chunks);
    }
    free(tab.chunks);
    t->loc->h5_chunks = b;
    return b ? RW_OK : RW_ENOMEM;
}

rw_status h5_chunks_read(hid_t root, int fd, rw_packed_file *file, int64_t size,
                         const char *path, const rw_tensor *t, rw_packed **out, rw_err *err)
{
    const struct h5_chunking *ck = t->loc->h5_chunks;
    *out = NULL;
    rw_packed *p = rw_calloc(1, sizeof *p, err);
    if (!p)
        return RW_ENOMEM;
    p->path = rw_strdup(path);
    p->name = rw_strdup(t->name);
    if (!p->path || !p->name) {
        rw_packed_free(p);
        return rw_fail(err, RW_ENOMEM, "out of memory");
    }
    p->ndim = t->ndim;
    memcpy(p->shape, t->shape, sizeof p->shape);
    memcpy(p->chunk, ck->chunk, sizeof p->chunk);
    p->numel = t->numel;
    p->dtype = t->dtype;
    p->esize = ck->esize;
    p->nfilters = ck->nfilters;
    memcpy(p->filters, ck->filters, sizeof p->filters);
    rw_status st = RW_OK;
    chunk_table tab = {0};
    if (ck->located) { /* at listing: a copy of the table */
        if (!(tab.chunks = rw_malloc(ck->nchunks * sizeof *tab.chunks, err)))
            st = RW_ENOMEM;
        else
            memcpy(tab.chunks, ck->chunks, ck->nchunks * sizeof *tab.chunks);
        tab.n = ck->nchunks;
        tab.nbytes = ck->nbytes;
    } else { /* again, to say what was wrong */
        hid_t ds = H5Dopen2(root, t->loc->h5path, H5P_DEFAULT);
        st = ds < 0 ? rw_fail(err, RW_EDATA, "%s: %s: cannot open dataset", path, t->name)
                    : locate(ds, size, path, t, ck->chunk, &tab, err);
        if (ds >= 0)
            H5Dclose(ds);
    }
    p->chunks = tab.chunks;
    p->nchunks = tab.n;
    p->nbytes = tab.nbytes;
    /* The worker reads the bytes, through the shared descriptor (HDF5's is
     * closed with the checkpoint); here only when there is none. */
    if (st == RW_OK && file) {
        p->file = rw_packed_file_hold(file);
        *out = p;
        return RW_OK;
    }
    if (st == RW_OK && !(p->bytes = rw_malloc(p->nbytes ? p->nbytes : 1, err)))
        st = RW_ENOMEM;
    for (size_t k = 0; k < p->nchunks && st == RW_OK; k++) {
        const rw_packed_chunk *c = &p->chunks[k];
        if (!rw_pread_all(fd, p->bytes + c->at, c->size, c->addr))
            st = rw_fail(err, RW_EDATA, "%s: %s: cannot read chunk %zu of %zu (truncated or "
                         "corrupt file?)", path, t->name, k + 1, p->nchunks);
    }
    if (st != RW_OK) {
        rw_packed_free(p);
        return st;
    }
    *out = p;
    return RW_OK;
}
