/*
 * packed.c — packed tensors decoded into doubles (packed.h), on any thread:
 * each chunk goes back through its filters in reverse order (fletcher32
 * checked and dropped, shuffle undone, deflate inflated with zlib), must
 * then be exactly the chunk's size, and its part inside the tensor (edge
 * chunks stick out past the shape) is widened to double into place.
 *
 * The filters are HDF5's own (H5Zdeflate.c, H5Zshuffle.c, H5Zfletcher32.c,
 * H5checksum.c): deflate is zlib's format; shuffle stores byte 0 of every
 * element, then byte 1, ..., the bytes of an incomplete last element (none
 * here: a chunk is whole elements) as they are; fletcher32 appends the
 * checksum of the 16-bit big-endian words (an odd last byte padded) as 4
 * little-endian bytes, and files written before HDF5 1.6.3 hold it with the
 * bytes of each half swapped, which HDF5 accepts too.
 */
#include "io/packed.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>
#include <zlib.h>

size_t rw_packed_size(const rw_packed *p)
{
    return p ? sizeof *p + p->nbytes + p->nchunks * sizeof *p->chunks : 0;
}

/* A tensor of the file, decoded (or being decoded): kept for the next
 * decode of the same chunks, as long as the file is held (packed.h). */
typedef struct decoded {
    struct decoded *next;
    rw_packed key;   /* what the values are a function of: shape, chunk
                        shape, dtype, filters, and chunks (a copy) */
    double *values;  /* key.numel; NULL while a thread decodes it */
    size_t bytes;    /* counted in cache_bytes */
} decoded;

struct rw_packed_file {
    atomic_int holds;
    int fd;
    pthread_mutex_t mu; /* guards cache and each entry's values pointer; the
                           values themselves never change once set, and
                           live with the file */
    pthread_cond_t cv;  /* an entry being decoded was settled */
    decoded **cache;    /* CACHE_BUCKETS chains by first chunk's address, or
                           NULL until something is kept */
};

/* Chains of the cache: a model's few hundred tensors are found in a walk
 * of one or two. A chain grows to CHAIN_MAX at most (beyond, tensors are
 * decoded each time), so that a file whose chunks all hash alike cannot
 * make every lookup a walk through thousands. */
enum { CACHE_BUCKETS = 1024, CHAIN_MAX = 64 };

static decoded **bucket(rw_packed_file *f, const rw_packed *p)
{
    uint64_t a = p->chunks[0].addr;
    return &f->cache[(a ^ (a >> 10) ^ (a >> 20)) % CACHE_BUCKETS];
}

/* Shared descriptors alive, and the most there may be. */
static atomic_int files_open;
/* Bytes of decoded tensors kept, over every file; tensors decoded from
 * their chunks (not from the cache). */
static atomic_size_t cache_bytes, decodes;

static void entry_free(decoded *e)
{
    atomic_fetch_sub(&cache_bytes, e->bytes);
    free(e->key.chunks);
    free(e->values);
    free(e);
}

rw_packed_file *rw_packed_file_dup(int fd)
{
    struct rlimit rl;
    long cap = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                   ? (long)(rl.rlim_cur / 4)
                   : 256;
    cap = cap > 256 ? 256 : cap;
    if (atomic_fetch_add(&files_open, 1) >= cap) {
        atomic_fetch_sub(&files_open, 1);
        return NULL;
    }
    rw_packed_file *f = malloc(sizeof *f);
    int d = f ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
    if (d < 0) {
        free(f);
        atomic_fetch_sub(&files_open, 1);
        return NULL;
    }
    atomic_init(&f->holds, 1);
    f->fd = d;
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    f->cache = NULL;
    return f;
}

rw_packed_file *rw_packed_file_hold(rw_packed_file *f)
{
    atomic_fetch_add(&f->holds, 1);
    return f;
}

void rw_packed_file_release(rw_packed_file *f)
{
    if (!f || atomic_fetch_sub(&f->holds, 1) != 1)
        return;
    close(f->fd);
    for (size_t b = 0; f->cache && b < CACHE_BUCKETS; b++)
        for (decoded *e = f->cache[b], *next; e; e = next) {
            next = e->next;
            entry_free(e);
        }
    free(f->cache);
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
    atomic_fetch_sub(&files_open, 1);
}

size_t rw_packed_decodes(void)
{
    return atomic_load(&decodes);
}

size_t rw_packed_file_cached(rw_packed_file *f)
{
    size_t n = 0;
    pthread_mutex_lock(&f->mu);
    for (size_t b = 0; f->cache && b < CACHE_BUCKETS; b++)
        for (const decoded *e = f->cache[b]; e; e = e->next)
            n += e->values ? e->bytes : 0;
    pthread_mutex_unlock(&f->mu);
    return n;
}

/* True when a and b decode to the same values: the same chunks of the same
 * file (addresses, sizes, masks), through the same filters, into the same
 * shape and dtype. Decoding is a function of these and the file's bytes. */
static bool same_chunks(const rw_packed *a, const rw_packed *b)
{
    if (a->nchunks != b->nchunks || a->chunks[0].addr != b->chunks[0].addr ||
        a->ndim != b->ndim || a->dtype != b->dtype || a->esize != b->esize ||
        a->numel != b->numel || a->nfilters != b->nfilters ||
        memcmp(a->filters, b->filters, (size_t)a->nfilters) != 0)
        return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d] || a->chunk[d] != b->chunk[d])
            return false;
    for (size_t k = 0; k < a->nchunks; k++)
        if (a->chunks[k].addr != b->chunks[k].addr || a->chunks[k].size != b->chunks[k].size ||
            a->chunks[k].mask != b->chunks[k].mask)
            return false;
    return true;
}

/* p's values from its file's cache, or NULL: then *mine is the entry this
 * thread is to decode and settle (cache_settle), or NULL when the cache has
 * no room (or no memory) for it. When another thread is decoding the same
 * chunks, waits for it rather than inflating them twice (decoding never
 * waits, so no cycle). */
static const double *cache_claim(const rw_packed *p, decoded **mine)
{
    rw_packed_file *f = p->file;
    const double *v = NULL;
    *mine = NULL;
    pthread_mutex_lock(&f->mu);
    if (!f->cache)
        f->cache = calloc(CACHE_BUCKETS, sizeof *f->cache);
    if (!f->cache) {
        pthread_mutex_unlock(&f->mu);
        return NULL; /* out of memory: decoded each time */
    }
    decoded **chain = bucket(f, p);
    size_t walked;
    for (;;) {
        decoded *e = *chain;
        for (walked = 0; e && !same_chunks(&e->key, p); walked++)
            e = e->next;
        if (e && !e->values) {
            pthread_cond_wait(&f->cv, &f->mu);
            continue; /* settled, or dropped: look again */
        }
        if (e)
            v = e->values;
        break;
    }
    if (!v && walked < CHAIN_MAX && p->numel <= RW_PACKED_CACHE_MAX / sizeof(double) &&
        p->nchunks <= RW_PACKED_CACHE_MAX / sizeof *p->chunks) {
        size_t bytes = sizeof(decoded) + p->numel * sizeof(double) + p->nchunks * sizeof *p->chunks;
        decoded *e = NULL;
        if (atomic_fetch_add(&cache_bytes, bytes) + bytes <= RW_PACKED_CACHE_MAX)
            e = calloc(1, sizeof *e);
        rw_packed_chunk *ch = e ? malloc(p->nchunks * sizeof *ch) : NULL;
        if (ch) {
            memcpy(ch, p->chunks, p->nchunks * sizeof *ch);
            e->key = *p;
            e->key.path = e->key.name = NULL;
            e->key.bytes = NULL;
            e->key.file = NULL;
            e->key.chunks = ch;
            e->bytes = bytes;
            e->next = *chain;
            *chain = e;
            *mine = e;
        } else {
            free(e);
            atomic_fetch_sub(&cache_bytes, bytes);
        }
    }
    pthread_mutex_unlock(&f->mu);
    return v;
}

/* Settles the entry e of f that this thread claimed: its values a copy of
 * buf, or, with buf NULL (the decode failed) or out of memory, dropped. */
static void cache_settle(rw_packed_file *f, decoded *e, const double *buf)
{
    double *v = buf ? malloc(e->key.numel * sizeof *v) : NULL;
    if (v)
        memcpy(v, buf, e->key.numel * sizeof *v);
    pthread_mutex_lock(&f->mu);
    if (v) {
        e->values = v;
    } else {
        decoded **at = bucket(f, &e->key);
        while (*at != e)
            at = &(*at)->next;
        *at = e->next;
    }
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    if (!v)
        entry_free(e);
}

void rw_packed_free(rw_packed *p)
{
    if (!p)
        return;
    free(p->path);
    free(p->name);
    free(p->chunks);
    free(p->bytes);
    rw_packed_file_release(p->file);
    free(p);
}

/* H5_checksum_fletcher32: 16-bit words, big-endian, sums folded every 360. */
static uint32_t fletcher32(const unsigned char *d, size_t len)
{
    uint32_t s1 = 0, s2 = 0;
    for (size_t words = len / 2; words > 0;) {
        size_t t = words > 360 ? 360 : words;
        words -= t;
        for (; t > 0; t--, d += 2) {
            s1 += (uint32_t)d[0] << 8 | d[1];
            s2 += s1;
        }
        s1 = (s1 & 0xffff) + (s1 >> 16);
        s2 = (s2 & 0xffff) + (s2 >> 16);
    }
    if (len % 2) {
        s1 += (uint32_t)d[0] << 8;
        s2 += s1;
        s1 = (s1 & 0xffff) + (s1 >> 16);
        s2 = (s2 & 0xffff) + (s2 >> 16);
    }
    s1 = (s1 & 0xffff) + (s1 >> 16);
    s2 = (s2 & 0xffff) + (s2 >> 16);
    return s2 << 16 | s1;
}

/* Whether the last 4 of len bytes are the fletcher32 of the others, as
 * HDF5 checks it (the pre-1.6.3 value: its native bytes swapped in pairs). */
static bool fletcher_ok(const unsigned char *d, size_t len)
{
    const unsigned char *t = d + len - 4;
    uint32_t stored = (uint32_t)t[0] | (uint32_t)t[1] << 8 | (uint32_t)t[2] << 16 |
                      (uint32_t)t[3] << 24;
    uint32_t f = fletcher32(d, len - 4), r;
    unsigned char c[4], x;
    memcpy(c, &f, 4);
    x = c[0], c[0] = c[1], c[1] = x;
    x = c[2], c[2] = c[3], c[3] = x;
    memcpy(&r, c, 4);
    return stored == f || stored == r;
}

/* Undoes shuffle of len bytes of esize-byte elements, src to dst. */
static void unshuffle(const unsigned char *src, size_t len, size_t esize, unsigned char *dst)
{
    size_t n = len / esize;
    if (esize < 2 || n < 2) { /* HDF5 leaves these as they are */
        memcpy(dst, src, len);
        return;
    }
    for (size_t b = 0; b < esize; b++)
        for (size_t i = 0; i < n; i++)
            dst[i * esize + b] = src[b * n + i];
    memcpy(dst + n * esize, src + n * esize, len - n * esize);
}

/* Inflates the zlib stream src (len bytes) into dst, which must come out
 * exactly want bytes long (dst has room for want + 1, to see one more);
 * NULL, or what is wrong (why). */
static const char *inflate_exact(const unsigned char *src, size_t len, unsigned char *dst,
                                 size_t want, char *why, size_t n)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit(&z) != Z_OK)
        return "cannot start zlib (out of memory?)";
    z.next_in = (Bytef *)(uintptr_t)src; /* zlib's API is not const; it only reads */
    z.avail_in = (uInt)len;
    z.next_out = dst;
    z.avail_out = (uInt)(want + 1);
    int r = inflate(&z, Z_FINISH);
    const char *bad = NULL;
    if (r == Z_STREAM_END && z.total_out == want)
        bad = NULL;
    else if (r == Z_STREAM_END)
        snprintf(why, n, "it inflates to %lu bytes, not the %zu of its chunk", z.total_out,
                 want), bad = why;
    else if (r == Z_DATA_ERROR || r == Z_NEED_DICT)
        snprintf(why, n, "corrupt deflate stream (%s)", z.msg ? z.msg : "invalid data"),
            bad = why;
    else if (r == Z_MEM_ERROR)
        bad = "out of memory";
    else if (z.avail_out == 0)
        snprintf(why, n, "it inflates to more than the %zu bytes of its chunk", want), bad = why;
    else
        bad = "its deflate stream is cut short (truncated chunk?)";
    inflateEnd(&z);
    return bad;
}

/* Chunk k of p (its stored bytes at cur) back through its filters, into
 * one of the scratch buffers a and b (room for cap + 1 bytes each); *out,
 * *len: the result. NULL, or what is wrong. */
static const char *unfilter(const rw_packed *p, size_t k, const unsigned char *cur,
                            size_t chunk_bytes, unsigned char *a, unsigned char *b,
                            const unsigned char **out, size_t *len, char *why, size_t n)
{
    const rw_packed_chunk *ch = &p->chunks[k];
    size_t l = ch->size;
    /* The size that entered each filter when the chunk was written: known
     * up to the first deflate (of which there is at most one). */
    size_t in[RW_PF_MAX], sz = chunk_bytes;
    for (int f = 0; f < p->nfilters; f++) {
        in[f] = sz;
        if (ch->mask >> f & 1)
            continue;
        if (p->filters[f] == RW_PF_FLETCHER32)
            sz += 4;
        else if (p->filters[f] == RW_PF_DEFLATE)
            sz = SIZE_MAX;
    }
    for (int f = p->nfilters - 1; f >= 0; f--) {
        if (ch->mask >> f & 1)
            continue; /* skipped when it was written */
        unsigned char *dst = cur == a ? b : a;
        const char *bad = NULL;
        switch (p->filters[f]) {
        case RW_PF_FLETCHER32:
            if (l < 4)
                return "too short to hold its fletcher32 checksum";
            if (!fletcher_ok(cur, l))
                return "its fletcher32 checksum does not match (corrupt data)";
            l -= 4;
            break;
        case RW_PF_SHUFFLE:
            unshuffle(cur, l, p->esize, dst);
            cur = dst;
            break;
        default: /* RW_PF_DEFLATE */
            if ((bad = inflate_exact(cur, l, dst, in[f], why, n)) != NULL)
                return bad;
            cur = dst;
            l = in[f];
        }
    }
    if (l != chunk_bytes) {
        snprintf(why, n, "%zu bytes after its filters, not the %zu of its chunk", l, chunk_bytes);
        return why;
    }
    *out = cur;
    *len = l;
    return NULL;
}

/* n values of dtype dt at src (packed.h's byte orders) as doubles. */
static void widen(const unsigned char *src, rw_dtype dt, size_t n, double *dst)
{
    switch (dt) {
    case RW_DT_F32:
        for (size_t i = 0; i < n; i++) {
            float f;
            memcpy(&f, src + 4 * i, 4);
            dst[i] = (double)f;
        }
        break;
    case RW_DT_F64:
        memcpy(dst, src, n * sizeof *dst);
        break;
    default: /* F16, BF16: little-endian */
        for (size_t i = 0; i < n; i++) {
            uint16_t h = (uint16_t)(src[2 * i] | src[2 * i + 1] << 8);
            dst[i] = dt == RW_DT_F16 ? rw_half_to_double(h) : rw_bf16_to_double(h);
        }
    }
}

/* The part of chunk k (its bytes at src) that lies inside the tensor, into
 * buf at its place. */
static void place(const rw_packed *p, size_t k, const unsigned char *src, double *buf)
{
    int nd = p->ndim, last = nd - 1;
    int64_t org[RW_MAX_DIMS], ext[RW_MAX_DIMS], idx[RW_MAX_DIMS];
    size_t cstride[RW_MAX_DIMS], dstride[RW_MAX_DIMS];
    for (int d = last; d >= 0; d--) {
        int64_t grid = (p->shape[d] + p->chunk[d] - 1) / p->chunk[d];
        org[d] = (int64_t)(k % (size_t)grid) * p->chunk[d];
        k /= (size_t)grid;
        ext[d] = p->shape[d] - org[d] < p->chunk[d] ? p->shape[d] - org[d] : p->chunk[d];
        cstride[d] = d == last ? 1 : cstride[d + 1] * (size_t)p->chunk[d + 1];
        dstride[d] = d == last ? 1 : dstride[d + 1] * (size_t)p->shape[d + 1];
        idx[d] = 0;
    }
    for (;;) { /* one run along the last dimension per step */
        size_t so = 0, dofs = 0;
        for (int d = 0; d < nd; d++) {
            so += (size_t)idx[d] * cstride[d];
            dofs += (size_t)(org[d] + idx[d]) * dstride[d];
        }
        widen(src + so * p->esize, p->dtype, (size_t)ext[last], buf + dofs);
        int d = last - 1;
        while (d >= 0 && ++idx[d] == ext[d])
            idx[d--] = 0;
        if (d < 0)
            return;
    }
}

/* The numel values of p decoded from its chunks into buf. */
static rw_status decode(const rw_packed *p, double *buf, rw_err *err)
{
    atomic_fetch_add(&decodes, 1);
    size_t elems = 1, cap = 0;
    for (int d = 0; d < p->ndim; d++)
        elems *= (size_t)p->chunk[d]; /* checked when it was read (h5chunks.c) */
    size_t chunk_bytes = elems * p->esize;
    for (size_t k = 0; k < p->nchunks; k++)
        cap = p->chunks[k].size > cap ? p->chunks[k].size : cap;
    cap = (cap > chunk_bytes ? cap : chunk_bytes) + 4 * RW_PF_MAX;
    /* a, b: the filters' scratch; in: a chunk's stored bytes, read here */
    unsigned char *a = rw_malloc(3 * (cap + 1), err); /* cap < 2^32 */
    if (!a)
        return RW_ENOMEM;
    unsigned char *b = a + cap + 1, *in = b + cap + 1;
    rw_status st = RW_OK;
    for (size_t k = 0; k < p->nchunks && st == RW_OK; k++) {
        char why[160];
        const unsigned char *out, *src = p->bytes ? p->bytes + p->chunks[k].at : in;
        size_t len;
        const char *bad = NULL;
        if (!p->bytes && !rw_pread_all(p->file->fd, in, p->chunks[k].size, p->chunks[k].addr))
            bad = "cannot read it (truncated or corrupt file?)";
        if (!bad)
            bad = unfilter(p, k, src, chunk_bytes, a, b, &out, &len, why, sizeof why);
        if (bad && strcmp(bad, "out of memory") == 0)
            st = rw_fail(err, RW_ENOMEM, "out of memory");
        else if (bad)
            st = rw_fail(err, RW_EDATA, "%s: %s: chunk %zu of %zu (%u bytes at byte %llu): %s",
                         p->path, p->name, k + 1, p->nchunks, p->chunks[k].size,
                         (unsigned long long)p->chunks[k].addr, bad);
        else
            place(p, k, out, buf);
    }
    free(a);
    return st;
}

rw_status rw_packed_decode(const rw_packed *p, double *buf, rw_err *err)
{
    if (!p->keep || !p->file || p->bytes || p->nchunks == 0 || p->numel == 0)
        return decode(p, buf, err);
    decoded *mine;
    const double *v = cache_claim(p, &mine);
    if (v) {
        memcpy(buf, v, p->numel * sizeof *buf);
        return RW_OK;
    }
    rw_status st = decode(p, buf, err);
    if (mine)
        cache_settle(p->file, mine, st == RW_OK ? buf : NULL);
    return st;
}
