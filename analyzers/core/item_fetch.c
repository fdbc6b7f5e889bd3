/*
 * item_fetch.c — items fetched on the reading thread, built on a worker
 * (item_fetch.h): each side (the item, its reference) is a detached copy of
 * the tensors its build reads (ckpt_detach) and copies of the items
 * involved, whose tensor and item indices point into those copies, so that
 * the worker runs item_build_noise itself on them.
 */
#include "analyzers/core/item_fetch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The most tensors one build reads: three per item involved. */
#define MAX_TENSORS (3 * ITEM_INPUTS_MAX)

/* One side: the copy d of the tensors (NULL: no such side), m the items
 * (m.v[0] is the one: item_build_inputs lists it first). */
typedef struct {
    rw_ckpt *d;
    rw_items m;
} side;

struct item_fetched {
    int64_t rows, cols;
    side cur, ref;
    bool ref_fro_only; /* the reference is only measured (its ||.||_F) */
};

static void side_free(side *s)
{
    ckpt_free(s->d);
    items_free(&s->m);
    memset(s, 0, sizeof *s);
}

void item_fetched_free(item_fetched *f)
{
    if (!f)
        return;
    side_free(&f->cur);
    side_free(&f->ref);
    free(f);
}

size_t item_fetched_size(const item_fetched *f)
{
    return f ? sizeof *f + ckpt_detached_size(f->cur.d) + ckpt_detached_size(f->ref.d) : 0;
}

/* Tensor index t of the checkpoint as an index into tix[*nt] (added when
 * new); -1 stays -1. */
static long remap(long t, size_t *tix, size_t *nt)
{
    if (t < 0)
        return -1;
    for (size_t k = 0; k < *nt; k++)
        if (tix[k] == (size_t)t)
            return (long)k;
    tix[*nt] = (size_t)t;
    return (long)(*nt)++;
}

static long item_pos(const long *inv, size_t n, long i)
{
    for (size_t k = 0; k < n; k++)
        if (inv[k] == i)
            return (long)k;
    return -1;
}

/* Side s: item i of c (its) and what its build reads. *packed: whether any
 * of that is stored packed (else s is left empty: the reading thread builds
 * it, as fast). */
static rw_status side_fetch(rw_ckpt *c, const rw_items *its, long i, side *s, bool *packed,
                            rw_err *err)
{
    long inv[ITEM_INPUTS_MAX];
    bool rd[ITEM_INPUTS_MAX];
    size_t n = 0, tix[MAX_TENSORS], nt = 0;
    *packed = false;
    if (!item_build_inputs(its, (size_t)i, inv, rd, &n))
        return RW_OK;
    if (!(s->m.v = rw_calloc(n, sizeof *s->m.v, err)))
        return RW_ENOMEM;
    s->m.scale = its->scale;
    s->m.heads = its->heads;
    s->m.kv_heads = its->kv_heads;
    for (size_t k = 0; k < n; k++) {
        rw_item *x = &s->m.v[s->m.n];
        *x = its->v[inv[k]];
        x->tensor = rw_strdup(x->tensor);
        x->module = rw_strdup(x->module);
        x->prefix = NULL;
        s->m.n++;
        if (!x->tensor || !x->module)
            return rw_fail(err, RW_ENOMEM, "out of memory");
        long t[3] = {-1, -1, -1};
        if (rd[k])
            item_tensors_read(x, t);
        x->w = remap(t[0], tix, &nt);
        x->a = remap(t[1], tix, &nt);
        x->b = remap(t[2], tix, &nt);
        x->v_item = item_pos(inv, n, x->v_item);
        x->o_item = item_pos(inv, n, x->o_item);
    }
    return ckpt_detach(c, tix, nt, &s->d, packed, err);
}

rw_status item_fetch(rw_ckpt *c, const rw_items *its, size_t i, rw_ckpt *ref,
                     const rw_items *refits, long ri, bool ref_fro_only, item_fetched **out,
                     rw_err *err)
{
    *out = NULL;
    item_fetched *f = rw_calloc(1, sizeof *f, err);
    if (!f)
        return RW_ENOMEM;
    f->rows = its->v[i].rows;
    f->cols = its->v[i].cols;
    f->ref_fro_only = ref_fro_only;
    bool pc = false, pr = false;
    rw_status st = side_fetch(c, its, (long)i, &f->cur, &pc, err);
    if (st == RW_OK && f->cur.d && ref)
        st = side_fetch(ref, refits, ri, &f->ref, &pr, err);
    /* only when the worker has something to inflate, and every side could
     * be fetched */
    if (st != RW_OK || !f->cur.d || (ref && !f->ref.d) || !(pc || pr)) {
        item_fetched_free(f);
        return st;
    }
    *out = f;
    return RW_OK;
}

/* The reference's matrix built into a buffer of its own: *ref_fro its
 * Frobenius norm; unless ref_fro_only, subtracted from out (m x n), and
 * its N added to *noise. */
static rw_status ref_apply(const item_fetched *f, double *out, double *noise, double *ref_fro,
                           rw_err *err)
{
    size_t mn = (size_t)(f->rows * f->cols);
    double nr = 0;
    double *r = rw_malloc((mn ? mn : 1) * sizeof *r, err); /* m x n was allocated before */
    if (!r)
        return RW_ENOMEM;
    rw_status st = item_build_noise(f->ref.d, &f->ref.m, 0, r, &nr, err);
    if (st == RW_OK) {
        *ref_fro = item_fro(r, mn);
        if (!f->ref_fro_only) {
            for (size_t e = 0; e < mn; e++)
                out[e] -= r[e];
            *noise += nr;
        }
    }
    free(r);
    return st;
}

rw_status item_fetched_build(const item_fetched *f, double *out, double *noise, double *ref_fro,
                             rw_err *err)
{
    *noise = *ref_fro = NAN;
    rw_status st = item_build_noise(f->cur.d, &f->cur.m, 0, out, noise, err);
    return st == RW_OK && f->ref.d ? ref_apply(f, out, noise, ref_fro, err) : st;
}

rw_status item_fetched_adapters(const item_fetched *f, double *b, double *a, double *noise,
                                double *ref_fro, rw_err *err)
{
    const rw_item *it = &f->cur.m.v[0];
    *noise = *ref_fro = NAN;
    rw_status st = item_read_adapters(f->cur.d, &f->cur.m, 0, b, a, err);
    if (st != RW_OK)
        return st;
    *noise = item_lora_noise(f->cur.m.scale, b, a, it->rows, it->cols, it->rank);
    return f->ref.d ? ref_apply(f, NULL, noise, ref_fro, err) : RW_OK;
}
