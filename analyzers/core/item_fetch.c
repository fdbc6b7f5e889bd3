/*
 * item_fetch.c — items fetched on the reading thread, built on a worker
 * (item_fetch.h).
 */
#include "analyzers/core/item_fetch.h"

#include "io/packed.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One stored tensor: packed (p), or read already (v, n values). */
typedef struct {
    rw_packed *p;
    double *v;
    size_t n;
} part;

/* One matrix: W, and for a full item s B A added to it. */
typedef struct {
    part w, a, b;
    bool full;
    double scale;
    int64_t rank;
} side;

struct item_fetched {
    int64_t rows, cols;
    side cur, ref;
    bool has_ref;
};

static void part_free(part *x)
{
    rw_packed_free(x->p);
    free(x->v);
    memset(x, 0, sizeof *x);
}

void item_fetched_free(item_fetched *f)
{
    if (!f)
        return;
    side *s[2] = {&f->cur, &f->ref};
    for (int k = 0; k < 2; k++) {
        part_free(&s[k]->w);
        part_free(&s[k]->a);
        part_free(&s[k]->b);
    }
    free(f);
}

static size_t part_size(const part *x)
{
    return rw_packed_size(x->p) + x->n * sizeof(double);
}

size_t item_fetched_size(const item_fetched *f)
{
    if (!f)
        return 0;
    return sizeof *f + part_size(&f->cur.w) + part_size(&f->cur.a) + part_size(&f->cur.b) +
           part_size(&f->ref.w) + part_size(&f->ref.a) + part_size(&f->ref.b);
}

/* The parts of item i of its (checkpoint c) into sd, tensors unread:
 * false when the item is not one of stored tensors (item_fetch.h). */
static bool side_plan(rw_ckpt *c, const rw_items *its, size_t i, side *sd, rw_ckpt **wc,
                      long ti[3])
{
    const rw_item *it = &its->v[i];
    bool full = it->comp == RW_COMP_FULL;
    if (!(it->comp == RW_COMP_WEIGHT || it->comp == RW_COMP_BASE || (full && !it->w_transposed)))
        return false;
    *wc = it->w_base ? its->base : c;
    sd->full = full;
    sd->scale = its->scale;
    sd->rank = it->rank;
    ti[0] = it->w;
    ti[1] = full ? it->a : -1;
    ti[2] = full ? it->b : -1;
    return ti[0] >= 0 && (!full || (ti[1] >= 0 && ti[2] >= 0));
}

rw_status item_fetch(rw_ckpt *c, const rw_items *its, size_t i, rw_ckpt *ref,
                     const rw_items *refits, long ri, item_fetched **out, rw_err *err)
{
    *out = NULL;
    item_fetched *f = rw_calloc(1, sizeof *f, err);
    if (!f)
        return RW_ENOMEM;
    f->rows = its->v[i].rows;
    f->cols = its->v[i].cols;
    f->has_ref = ref != NULL;
    /* up to six tensors: W, A, B of the item and of its reference */
    rw_ckpt *ck[6] = {0};
    long ti[6] = {-1, -1, -1, -1, -1, -1};
    part *pt[6] = {&f->cur.w, &f->cur.a, &f->cur.b, &f->ref.w, &f->ref.a, &f->ref.b};
    rw_ckpt *wc = NULL;
    bool ok = side_plan(c, its, i, &f->cur, &wc, ti);
    ck[0] = wc;
    ck[1] = ck[2] = c;
    if (ok && ref)
        ok = side_plan(ref, refits, (size_t)ri, &f->ref, &wc, ti + 3);
    ck[3] = wc;
    ck[4] = ck[5] = ref;
    rw_status st = RW_OK;
    bool any = false;
    for (int k = 0; k < 6 && ok && st == RW_OK; k++)
        if (ti[k] >= 0 && (st = ckpt_read_packed(ck[k], (size_t)ti[k], &pt[k]->p, err)) == RW_OK)
            any = any || pt[k]->p;
    /* the tensors not stored packed, read now (a mixed file) */
    for (int k = 0; k < 6 && ok && any && st == RW_OK; k++) {
        if (ti[k] < 0 || pt[k]->p)
            continue;
        size_t n = ck[k]->tensors[ti[k]].numel;
        if (!(pt[k]->v = rw_calloc(n ? n : 1, sizeof(double), err)))
            st = RW_ENOMEM;
        else if ((st = ckpt_read(ck[k], (size_t)ti[k], pt[k]->v, err)) == RW_OK)
            pt[k]->n = n;
    }
    if (st != RW_OK || !ok || !any) {
        item_fetched_free(f);
        return st;
    }
    *out = f;
    return RW_OK;
}

/* x's values into buf (n of them). */
static rw_status part_get(const part *x, double *buf, size_t n, rw_err *err)
{
    if (x->p)
        return x->p->numel == n ? rw_packed_decode(x->p, buf, err)
                                : rw_fail(err, RW_EDATA, "%s: %s: %zu values, not %zu",
                                          x->p->path, x->p->name, x->p->numel, n);
    memcpy(buf, x->v, n * sizeof *buf);
    return RW_OK;
}

/* sd's matrix (m x n) into out and its N, as item_build_noise. */
static rw_status side_build(const side *sd, int64_t m, int64_t n, double *out, double *noise,
                            rw_err *err)
{
    size_t mn = (size_t)(m * n);
    rw_status st = part_get(&sd->w, out, mn, err);
    if (st != RW_OK)
        return st;
    *noise = item_fro(out, mn);
    if (!sd->full)
        return RW_OK;
    size_t na = (size_t)(sd->rank * n), nb = (size_t)(m * sd->rank);
    double *a = rw_malloc((na + nb ? na + nb : 1) * sizeof *a, err);
    if (!a)
        return RW_ENOMEM;
    double *b = a + na;
    if ((st = part_get(&sd->a, a, na, err)) == RW_OK && (st = part_get(&sd->b, b, nb, err)) == RW_OK)
        *noise += item_lora_product(sd->scale, b, a, m, n, sd->rank, true, out);
    free(a);
    return st;
}

rw_status item_fetched_build(const item_fetched *f, double *out, double *noise, double *ref_fro,
                             rw_err *err)
{
    int64_t m = f->rows, n = f->cols;
    size_t mn = (size_t)(m * n);
    *noise = *ref_fro = NAN;
    double nc = NAN, nr = 0;
    rw_status st = side_build(&f->cur, m, n, out, &nc, err);
    if (st != RW_OK || !f->has_ref) {
        *noise = nc;
        return st;
    }
    double *r = rw_malloc((mn ? mn : 1) * sizeof *r, err); /* m x n was allocated before */
    if (!r)
        return RW_ENOMEM;
    if ((st = side_build(&f->ref, m, n, r, &nr, err)) == RW_OK) {
        *ref_fro = item_fro(r, mn);
        for (size_t e = 0; e < mn; e++)
            out[e] -= r[e];
        *noise = nc + nr;
    }
    free(r);
    return st;
}
