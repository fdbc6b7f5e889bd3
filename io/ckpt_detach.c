/*
 * ckpt_detach.c — detached copies of a checkpoint's tensors (ckpt.h,
 * ckpt_detach): made on the reading thread, read on any other. Each tensor
 * is held packed (io/packed.h: its chunks located, read and inflated by
 * whoever reads it) when the checkpoint stores it so, else as its values,
 * read at once through the checkpoint's own back end. Reading a packed one
 * twice decodes it twice, unless the checkpoint's reread kept it decoded
 * (io/packed.h, shared with every copy from the same file); the copy
 * itself is read by one thread at a time.
 */
#include "io/ckpt_impl.h"
#include "io/packed.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    rw_packed **packed; /* per tensor: packed, or NULL and values[j] set */
    double **values;
    size_t bytes;       /* held or to be read (ckpt_detached_size) */
} detach_state;

void ckpt_detached_close(rw_ckpt *d)
{
    detach_state *s = d->impl;
    for (size_t j = 0; j < d->n; j++) {
        rw_packed_free(s->packed[j]);
        free(s->values[j]);
    }
    free(s->packed);
    free(s->values);
    free(s);
    d->impl = NULL;
}

/* Tensor t of c copied into d's next tensor (names and shape; no location). */
static rw_status copy_tensor(rw_ckpt *d, size_t *cap, const rw_tensor *t, rw_err *err)
{
    rw_tensor *x = ckpt_push_tensor(d, cap, err);
    if (!x)
        return RW_ENOMEM;
    struct rw_tensor_loc *loc = x->loc;
    *x = *t;
    x->loc = loc;
    x->name = rw_strdup(t->name);
    x->module_name = t->module_name ? rw_strdup(t->module_name) : NULL;
    if (!x->name || (t->module_name && !x->module_name))
        return rw_fail(err, RW_ENOMEM, "out of memory");
    /* module points into name, or is module_name (ckpt.h) */
    x->module = !t->module ? NULL : t->module_name ? x->module_name : x->name + (t->module - t->name);
    return RW_OK;
}

rw_status ckpt_detach(rw_ckpt *c, const size_t *idx, size_t n, rw_ckpt **out, bool *packed,
                      rw_err *err)
{
    *out = NULL;
    *packed = false;
    rw_ckpt *d = rw_calloc(1, sizeof *d, err);
    if (!d)
        return RW_ENOMEM;
    d->format = RW_FMT_DETACHED;
    detach_state *s = rw_calloc(1, sizeof *s, err);
    rw_status st = s ? RW_OK : RW_ENOMEM;
    d->impl = s;
    if (st == RW_OK && (!(d->path = rw_strdup(c->path)) ||
                        !(s->packed = rw_calloc(n ? n : 1, sizeof *s->packed, err)) ||
                        !(s->values = rw_calloc(n ? n : 1, sizeof *s->values, err))))
        st = rw_fail(err, RW_ENOMEM, "out of memory");
    size_t cap = 0;
    for (size_t j = 0; j < n && st == RW_OK; j++) {
        if (idx[j] >= c->n) {
            st = rw_fail(err, RW_EUSAGE, "%s: tensor index %zu out of range", c->path, idx[j]);
            break;
        }
        const rw_tensor *t = &c->tensors[idx[j]];
        if ((st = copy_tensor(d, &cap, t, err)) != RW_OK ||
            (st = ckpt_read_packed(c, idx[j], &s->packed[j], err)) != RW_OK)
            break;
        if (s->packed[j]) {
            *packed = true;
            s->bytes += rw_packed_size(s->packed[j]);
            continue;
        }
        size_t numel = t->numel ? t->numel : 1;
        if (!(s->values[j] = rw_malloc(numel * sizeof(double), err)))
            st = RW_ENOMEM;
        else if ((st = ckpt_read(c, idx[j], s->values[j], err)) == RW_OK)
            s->bytes += numel * sizeof(double);
    }
    if (st != RW_OK) {
        ckpt_free(d);
        return st;
    }
    *out = d;
    return RW_OK;
}

size_t ckpt_detached_size(const rw_ckpt *d)
{
    const detach_state *s = d && d->format == RW_FMT_DETACHED ? d->impl : NULL;
    return s ? sizeof *s + s->bytes + d->n * sizeof *d->tensors : 0;
}

rw_status ckpt_detached_read(rw_ckpt *d, size_t i, double *buf, rw_err *err)
{
    detach_state *s = d->impl;
    const rw_packed *p = s->packed[i];
    size_t numel = d->tensors[i].numel;
    if (!p) {
        memcpy(buf, s->values[i], numel * sizeof *buf);
        return RW_OK;
    }
    if (p->numel != numel)
        return rw_fail(err, RW_EDATA, "%s: %s: %zu values, not %zu", p->path, p->name, p->numel,
                       numel);
    return rw_packed_decode(p, buf, err);
}
