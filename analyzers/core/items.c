/*
 * items.c — the matrices of a checkpoint: plain tensors, adapter components
 * and OV circuits (items.h).
 */
#include "analyzers/core/items.h"
#include "analyzers/core/adapter_base.h"
#include "analyzers/core/adapter_config.h"
#include "analyzers/core/circuits.h"
#include "analyzers/core/specnorm.h"

#include <cblas.h>
#include <errno.h>
#include <lapacke.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------------ the scale */

/* The scale s of the adapters (DESIGN.md's order of sources). */
static rw_status resolve_scale(rw_ckpt *c, const rw_item_opts *o, rw_items *it, rw_err *err)
{
    double alpha, r;
    if (o && isfinite(o->lora_scale)) {
        it->scale = o->lora_scale;
        it->scale_from = "--lora-scale";
        return RW_OK;
    }
    if (ckpt_attr_double(c, "lora_alpha", &alpha) && ckpt_attr_double(c, "lora_r", &r) &&
        r > 0) {
        it->scale = alpha / r;
        it->scale_from = c->format == RW_FMT_HDF5 ? "attributes" : "metadata";
        return RW_OK;
    }
    rw_status st = adapter_config_scale(c->path, &it->scale, err);
    if (st == RW_OK)
        it->scale_from = "adapter_config.json";
    if (st != RW_ENOTFOUND)
        return st;
    it->scale = 1;
    it->scale_from = "default";
    return RW_OK;
}

/* ------------------------------------------------------------ listing */

typedef struct {
    const char *a, *b;
} adapter_suffix;

static const adapter_suffix suffixes[] = {
    {".lora_A.default.weight", ".lora_B.default.weight"},
    {".lora_A.weight", ".lora_B.weight"},
    {".A_lora.weight", ".B_lora.weight"},
};

/* Appends a copy of x: its layer and module those of tensor src (a plain
 * tensor: as its back end named them), or parsed from its name (src NULL). */
static rw_status push(rw_items *it, size_t *cap, const rw_item *x, const rw_tensor *src,
                      rw_err *err)
{
    if (rw_grow(&it->v, it->n, cap, sizeof *it->v, err) != RW_OK)
        return RW_ENOMEM;
    rw_item *y = &it->v[it->n];
    *y = *x;
    y->tensor = rw_strdup(x->tensor);
    y->module = NULL;
    if (y->tensor) {
        rw_tensor tmp = {.name = y->tensor};
        if (src)
            tmp = *src;
        else
            rw_tensor_parse_name(&tmp);
        y->layer = tmp.layer;
        y->module = rw_strdup(tmp.module);
    }
    if (!y->tensor || !y->module) {
        free(y->tensor);
        free(y->module);
        return rw_fail(err, RW_ENOMEM, "out of memory");
    }
    it->n++;
    return RW_OK;
}

static rw_dtype coarser(rw_dtype a, rw_dtype b)
{
    return rw_dtype_eps(a) >= rw_dtype_eps(b) ? a : b;
}

static int cmp_item(const void *x, const void *y)
{
    const rw_item *a = x, *b = y;
    int r = strcmp(a->tensor, b->tensor);
    return r ? r : strcmp(rw_comp_name(a->comp), rw_comp_name(b->comp));
}

/* Where attribute key of hc came from (ckpt_attr_source), hc being the
 * checkpoint itself or (of_base) its separate base; NULL when absent. */
static const char *heads_source(const rw_ckpt *hc, const char *key, bool of_base)
{
    const char *s = ckpt_attr_source(hc, key);
    if (!s || !of_base)
        return s;
    return strcmp(s, "config.json") == 0  ? "base config.json"
           : strcmp(s, "attributes") == 0 ? "base attributes"
                                          : "base metadata";
}

/* The OV circuits of the gradients vi (of v_proj) and oi (of o_proj) of
 * one layer: the weights they are formed with are the default items of
 * <prefix>v_proj.weight and o_proj.weight of the model checkpoint of the
 * same step (it->witems); a layer whose weights are not there has none. */
static rw_status add_grad_ov(rw_ckpt *c, rw_items *it, size_t *cap, size_t vi, long oi,
                             size_t plen, const char *oname, int64_t nh, int64_t nkv,
                             rw_err *err)
{
    const rw_items *w = it->witems;
    char wv[512], wo[512], ovname[512];
    snprintf(wv, sizeof wv, "%.*sv_proj.weight", (int)plen, it->v[vi].tensor);
    snprintf(wo, sizeof wo, "%.*so_proj.weight", (int)plen, it->v[vi].tensor);
    long wvi = -1, woi = -1;
    for (size_t j = 0; j < w->n; j++) {
        const rw_item *x = &w->v[j];
        if (!x->is_default || x->comp == RW_COMP_LORA)
            continue;
        if (strcmp(x->tensor, wv) == 0)
            wvi = (long)j;
        else if (strcmp(x->tensor, wo) == 0)
            woi = (long)j;
    }
    if (wvi < 0 || woi < 0)
        return RW_OK;
    const rw_item *gv = &it->v[vi], *go = &it->v[oi], *v = &w->v[wvi], *o = &w->v[woi];
    if (v->rows != gv->rows || v->cols != gv->cols || o->rows != go->rows || o->cols != go->cols)
        return rw_fail(err, RW_EDATA,
                       "%s: gradients %s %lldx%lld and %s %lldx%lld do not fit the weights "
                       "%s %lldx%lld and %s %lldx%lld of %s",
                       c->path, gv->tensor, (long long)gv->rows, (long long)gv->cols, oname,
                       (long long)go->rows, (long long)go->cols, wv, (long long)v->rows,
                       (long long)v->cols, wo, (long long)o->rows, (long long)o->cols,
                       it->weights->path);
    int64_t d = gv->cols;
    rw_dtype dt = coarser(coarser(gv->dtype, go->dtype), coarser(v->dtype, o->dtype));
    for (int k = 0; k < 2; k++) {
        snprintf(ovname, sizeof ovname, "%.*s%s", (int)plen, it->v[vi].tensor,
                 k ? "wo_wv" : "ov");
        rw_item x = {
            .tensor = ovname, .comp = k ? RW_COMP_WO_WV : RW_COMP_OV, .w = -1, .a = -1,
            .b = -1, .v_item = (long)vi, .o_item = oi, .of_grads = true, .wv_item = wvi,
            .wo_item = woi, .rows = d, .cols = k ? d : nh * d, .dtype = dt, .heads = nh,
            .kv_heads = nkv,
            .is_default = rw_comp_default(k ? RW_COMP_WO_WV : RW_COMP_OV, false, 0),
        };
        rw_status st = push(it, cap, &x, NULL, err);
        if (st != RW_OK)
            return st;
    }
    return RW_OK;
}

/* Layer i's v_proj and o_proj (their default items) make ov and wo_wv;
 * with no_circuits only it->has_attention and the heads are set. */
static rw_status add_ov(rw_ckpt *c, rw_items *it, size_t *cap, const rw_item_opts *o,
                        bool no_circuits, rw_err *err)
{
    double h = 0, kv = 0;
    /* The heads of c, else (an adapter's folder may have no config.json) of
     * its separate base. */
    const rw_ckpt *hc = ckpt_attr(c, "n_heads") || !it->base ? c : it->base;
    bool of_base = hc != c;
    /* gradients: those of the model checkpoint of their step */
    if (hc == c && !ckpt_attr(c, "n_heads") && it->weights)
        hc = it->weights;
    const char *hfrom = NULL, *kvfrom = NULL;
    if (o && o->heads > 0) {
        h = (double)o->heads;
        hfrom = "--heads";
    } else if (ckpt_attr_double(hc, "n_heads", &h)) {
        hfrom = heads_source(hc, "n_heads", of_base);
    }
    if (o && o->kv_heads > 0) {
        kv = (double)o->kv_heads;
        kvfrom = "--kv-heads";
    } else if (ckpt_attr_double(hc, "n_kv_heads", &kv)) {
        kvfrom = heads_source(hc, "n_kv_heads", of_base);
    } else {
        kv = h;
        kvfrom = "= heads";
    }
    bool known = h >= 1 && kv >= 1;
    it->heads = known ? (long)h : 0;
    it->kv_heads = known ? (long)kv : 0;
    it->heads_from = known && hfrom ? hfrom : "unknown";
    it->kv_heads_from = known && kvfrom ? kvfrom : "unknown";
    size_t nbase = it->n;
    for (size_t vi = 0; vi < nbase; vi++) {
        const rw_item *v = &it->v[vi];
        size_t plen;
        /* gradients are named by module (pico-train: no .weight) */
        bool bare = it->witems && rw_ends_with(v->tensor, "v_proj", &plen);
        if (!v->is_default || v->comp == RW_COMP_LORA || v->layer < 0 ||
            (!bare && !rw_ends_with(v->tensor, "v_proj.weight", &plen)))
            continue;
        char oname[512], ovname[512];
        snprintf(oname, sizeof oname, "%.*so_proj%s", (int)plen, v->tensor, bare ? "" : ".weight");
        long oi = -1;
        for (size_t j = 0; j < nbase && oi < 0; j++)
            if (it->v[j].is_default && strcmp(it->v[j].tensor, oname) == 0 &&
                it->v[j].comp != RW_COMP_LORA)
                oi = (long)j;
        if (oi < 0)
            continue;
        it->has_attention = true;
        if (no_circuits)
            continue;
        if (!known) {
            it->ov_needs_heads = true;
            continue;
        }
        const rw_item *ov = &it->v[oi];
        int64_t nh = (int64_t)h, nkv = (int64_t)kv;
        int64_t hd = nh > 0 ? ov->cols / nh : 0;
        if (nh % nkv != 0 || hd <= 0 || ov->cols != nh * hd || v->rows != nkv * hd ||
            v->cols != ov->rows)
            return rw_fail(err, RW_EDATA,
                           "%s: %s %lldx%lld and %s %lldx%lld do not fit %lld heads and %lld "
                           "kv heads",
                           c->path, v->tensor, (long long)v->rows, (long long)v->cols, oname,
                           (long long)ov->rows, (long long)ov->cols, (long long)nh,
                           (long long)nkv);
        if (it->witems) { /* gradients: ov and wo_wv as pico-analyze forms them */
            rw_status st = add_grad_ov(c, it, cap, vi, oi, plen, oname, nh, nkv, err);
            if (st != RW_OK)
                return st;
            continue;
        }
        for (int k = 0; k < 2; k++) {
            v = &it->v[vi]; /* push may have moved the items */
            ov = &it->v[oi];
            snprintf(ovname, sizeof ovname, "%.*s%s", (int)plen, v->tensor, k ? "wo_wv" : "ov");
            rw_item x = {
                .tensor = ovname, .comp = k ? RW_COMP_WO_WV : RW_COMP_OV, .w = -1, .a = -1,
                .b = -1, .v_item = (long)vi, .o_item = oi,
                .rows = k ? ov->rows : hd, .cols = k ? ov->rows : nh * hd,
                .dtype = coarser(v->dtype, ov->dtype), .heads = nh, .kv_heads = nkv,
                .is_default = rw_comp_default(k ? RW_COMP_WO_WV : RW_COMP_OV, false, 0),
            };
            rw_status st = push(it, cap, &x, NULL, err);
            if (st != RW_OK)
                return st;
        }
        /* ov_base and ov_lora: where v_proj and o_proj are both adapted, the
         * same circuit of their base parts alone and of their s B A parts
         * alone (as relora-pico's lora_ov_circuit, but with s: items.h) */
        for (int k = 0; k < 2; k++) {
            rw_comp part = k ? RW_COMP_LORA : RW_COMP_BASE;
            long pv = items_find(it, it->v[vi].tensor, part), po = items_find(it, oname, part);
            if (pv < 0 || po < 0)
                continue;
            snprintf(ovname, sizeof ovname, "%.*sov", (int)plen, it->v[vi].tensor);
            rw_item x = {
                .tensor = ovname, .comp = k ? RW_COMP_OV_LORA : RW_COMP_OV_BASE, .w = -1,
                .a = -1, .b = -1, .v_item = pv, .o_item = po, .rows = hd, .cols = nh * hd,
                .dtype = coarser(it->v[pv].dtype, it->v[po].dtype), .heads = nh,
                .kv_heads = nkv, .is_default = false,
            };
            rw_status st = push(it, cap, &x, NULL, err);
            if (st != RW_OK)
                return st;
        }
    }
    return RW_OK;
}

/* How the base tw of an adapter (B out x r, A r x in) is stored: *fits when
 * out x in or in x out, *transposed when in x out. A square base's shape
 * cannot tell: it is as stored (out x in) unless the adapter_config.json
 * beside c says fan_in_fan_out (GPT-2's Conv1D layers); *fifo caches the
 * config's answer (-2 before it is read). */
static rw_status orientation(const rw_ckpt *c, const rw_tensor *tw, int64_t outd, int64_t in,
                             int *fifo, bool *fits, bool *transposed, rw_err *err)
{
    bool as_is = tw->ndim == 2 && tw->shape[0] == outd && tw->shape[1] == in;
    bool flipped = tw->ndim == 2 && tw->shape[0] == in && tw->shape[1] == outd;
    *fits = as_is || flipped;
    *transposed = flipped && !as_is;
    if (as_is && flipped) {
        rw_status st = *fifo == -2 ? adapter_config_fan_in_fan_out(c->path, fifo, err) : RW_OK;
        if (st != RW_OK)
            return st;
        *transposed = *fifo == 1;
    }
    return RW_OK;
}

/* The base of the adapter named name[0..plen) (B out x r, A r x in) in the
 * separate base checkpoint: its index in *wi, *transposed when stored
 * in x out. Missing or misfit, an error naming both files. */
static rw_status find_base(const rw_ckpt *c, const rw_ckpt *base, const char *name,
                           size_t plen, int64_t outd, int64_t r, int64_t in, int *fifo,
                           long *wi, bool *transposed, rw_err *err)
{
    *wi = rw_base_find(base, name, plen);
    if (*wi < 0)
        return rw_fail(err, RW_EDATA,
                       "%s: %.*s.weight: the base %s has no weight for its adapters (looked "
                       "for the name without base_model.model., with .weight or "
                       ".base_layer.weight)",
                       c->path, (int)plen, name, base->path);
    const rw_tensor *tw = &base->tensors[*wi];
    bool fits = false;
    rw_status st = rw_dtype_is_float(tw->dtype)
                       ? orientation(c, tw, outd, in, fifo, &fits, transposed, err)
                       : RW_OK;
    if (st != RW_OK || fits)
        return st;
    char sh[64];
    return rw_fail(err, RW_EDATA,
                   "%s: %.*s.weight: base %s %s %s in %s does not fit adapters B %lldx%lld, "
                   "A %lldx%lld",
                   c->path, (int)plen, name, tw->name, rw_shape_str(tw, sh, sizeof sh),
                   rw_dtype_name(tw->dtype), base->path, (long long)outd, (long long)r,
                   (long long)r, (long long)in);
}

rw_status items_list(rw_ckpt *c, rw_ckpt *base, const rw_item_opts *o, rw_items *out,
                     rw_err *err)
{
    return items_list_grads(c, base, NULL, NULL, o, out, err);
}

rw_status items_list_grads(rw_ckpt *c, rw_ckpt *base, rw_ckpt *weights,
                           const rw_items *witems, const rw_item_opts *o, rw_items *out,
                           rw_err *err)
{
    memset(out, 0, sizeof *out);
    out->scale = 1;
    out->scale_from = "default";
    out->base = base;
    out->weights = witems ? weights : NULL;
    out->witems = weights ? witems : NULL;
    size_t cap = 0;
    bool *used = rw_calloc(c->n ? c->n : 1, sizeof *used, err);
    if (!used)
        return RW_ENOMEM;
    rw_status st = RW_OK;
    char name[1024];
    int fifo = -2; /* adapter_config.json's fan_in_fan_out, read when needed */

    /* Adapters first: they claim their A, B and base tensors. */
    for (size_t i = 0; i < c->n && st == RW_OK; i++) {
        const rw_tensor *ta = &c->tensors[i];
        for (size_t s = 0; s < sizeof suffixes / sizeof *suffixes; s++) {
            size_t plen;
            if (!rw_ends_with(ta->name, suffixes[s].a, &plen))
                continue;
            snprintf(name, sizeof name, "%.*s%s", (int)plen, ta->name, suffixes[s].b);
            long bi = ckpt_find(c, name);
            if (bi < 0)
                break; /* an A without its B: left as a plain tensor */
            const rw_tensor *tb = &c->tensors[bi];
            long wi = -1;
            snprintf(name, sizeof name, "%.*s.base_layer.weight", (int)plen, ta->name);
            if ((wi = ckpt_find(c, name)) < 0) {
                snprintf(name, sizeof name, "%.*s.weight", (int)plen, ta->name);
                wi = ckpt_find(c, name);
            }
            snprintf(name, sizeof name, "%.*s.weight", (int)plen, ta->name);
            if (ta->ndim != 2 || tb->ndim != 2 || !rw_dtype_is_float(ta->dtype) ||
                !rw_dtype_is_float(tb->dtype) || tb->shape[1] != ta->shape[0]) {
                st = rw_fail(err, RW_EDATA, "%s: %s: adapter A %lldx%lld and B %lldx%lld do not fit",
                             c->path, name, (long long)ta->shape[0],
                             (long long)(ta->ndim > 1 ? ta->shape[1] : 0),
                             (long long)tb->shape[0], (long long)(tb->ndim > 1 ? tb->shape[1] : 0));
                break;
            }
            int64_t r = ta->shape[0], in = ta->shape[1], outd = tb->shape[0];
            bool transposed = false, in_base = false;
            rw_dtype dt = coarser(ta->dtype, tb->dtype);
            if (wi < 0 && base) {
                if ((st = find_base(c, base, ta->name, plen, outd, r, in, &fifo, &wi,
                                    &transposed, err)) != RW_OK)
                    break;
                in_base = true;
                out->from_base++;
            } else if (wi >= 0) {
                const rw_tensor *tw = &c->tensors[wi];
                bool fits;
                if ((st = orientation(c, tw, outd, in, &fifo, &fits, &transposed, err)) != RW_OK)
                    break;
                if (!fits) {
                    char sh[64];
                    st = rw_fail(err, RW_EDATA,
                                 "%s: %s: base %s does not fit adapters B %lldx%lld, A %lldx%lld",
                                 c->path, name, rw_shape_str(tw, sh, sizeof sh),
                                 (long long)outd, (long long)r, (long long)r, (long long)in);
                    break;
                }
                used[wi] = true;
            }
            used[i] = used[bi] = true;
            out->has_adapters = true;
            rw_dtype wdt = wi < 0 ? dt : (in_base ? base : c)->tensors[wi].dtype;
            for (int comp = RW_COMP_BASE; comp <= RW_COMP_FULL && st == RW_OK; comp++) {
                if (wi < 0 && comp != RW_COMP_LORA)
                    continue;
                rw_item x = {
                    .tensor = name, .comp = (rw_comp)comp,
                    /* a base (wi >= 0) gives the matrix its full component */
                    .is_default = rw_comp_default((rw_comp)comp, wi >= 0, 0),
                    .w = comp == RW_COMP_LORA ? -1 : wi,
                    .w_base = comp != RW_COMP_LORA && in_base,
                    .a = comp == RW_COMP_BASE ? -1 : (long)i,
                    .b = comp == RW_COMP_BASE ? -1 : bi, .w_transposed = transposed,
                    .v_item = -1, .o_item = -1, .rows = outd, .cols = in, .rank = r,
                    .dtype = comp == RW_COMP_BASE ? wdt
                             : comp == RW_COMP_LORA || wi < 0 ? dt
                                                             : coarser(dt, wdt),
                };
                if (comp == RW_COMP_BASE && transposed) {
                    x.rows = in;
                    x.cols = outd;
                    x.w_transposed = false; /* the base alone is analysed as stored */
                }
                st = push(out, &cap, &x, NULL, err);
            }
            break;
        }
    }
    /* Only adapters need the scale (and only they may fail on its sources). */
    if (st == RW_OK && out->has_adapters)
        st = resolve_scale(c, o, out, err);
    /* Plain matrices. */
    for (size_t i = 0; i < c->n && st == RW_OK; i++) {
        const rw_tensor *t = &c->tensors[i];
        int64_t m, n;
        if (used[i] || !rw_tensor_matrix(t, &m, &n))
            continue;
        rw_item x = {.tensor = t->name, .comp = RW_COMP_WEIGHT,
                     .is_default = rw_comp_default(RW_COMP_WEIGHT, false, 0),
                     .w = (long)i, .a = -1, .b = -1, .v_item = -1, .o_item = -1,
                     .rows = m, .cols = n, .dtype = t->dtype, .optimizer = t->optimizer};
        st = push(out, &cap, &x, t, err);
    }
    free(used);
    if (st == RW_OK && out->n > 1)
        qsort(out->v, out->n, sizeof *out->v, cmp_item);
    if (st == RW_OK)
        st = add_ov(c, out, &cap, o, o && o->no_circuits, err);
    for (size_t k = 0; k < out->n && st == RW_OK; k++)
        out->v[k].prefix = out->v[k].optimizer ? NULL : c->prefix;
    if (st != RW_OK)
        items_free(out);
    return st;
}

void items_free(rw_items *it)
{
    for (size_t i = 0; i < it->n; i++) {
        free(it->v[i].tensor);
        free(it->v[i].module);
    }
    free(it->v);
    memset(it, 0, sizeof *it);
}

long items_find(const rw_items *it, const char *tensor, rw_comp comp)
{
    for (size_t i = 0; i < it->n; i++)
        if (it->v[i].comp == comp && strcmp(it->v[i].tensor, tensor) == 0)
            return (long)i;
    return -1;
}

bool item_selected(const rw_item *it, const rw_select *sel, unsigned mask)
{
    bool comp_ok = mask ? (mask & RW_COMP_BIT(it->comp)) != 0 : it->is_default;
    if (it->optimizer && sel->ninclude == 0)
        return false; /* optimizer state: only when an --include names it */
    return comp_ok && rw_select_match_as(sel, it->tensor, it->prefix);
}

/* ------------------------------------------------------------ building */

static rw_status read_alloc(rw_ckpt *c, long ti, double **out, rw_err *err)
{
    *out = rw_calloc(c->tensors[ti].numel ? c->tensors[ti].numel : 1, sizeof **out, err);
    if (!*out)
        return RW_ENOMEM;
    return ckpt_read(c, (size_t)ti, *out, err);
}

static double fro(const double *x, size_t n)
{
    double s = 0;
    for (size_t e = 0; e < n; e++)
        s += x[e] * x[e];
    return sqrt(s);
}

/* s (B + dB)(A + dA) - s B A = s (dB A + B dA) + O(u^2), ||dB||_F <= u ||B||_F,
 * ||dA||_F <= u ||A||_F: ||s (dB A + B dA)||_F <= u |s| (||B||_F ||A||_2 +
 * ||B||_2 ||A||_F); ||B||_2, ||A||_2 from their r x r Gram matrices. */
double item_lora_noise(double scale, const double *b, const double *a, int64_t m, int64_t n,
                       int64_t r)
{
    return fabs(scale) * (fro(b, (size_t)(m * r)) * rw_spec_norm(a, r, n, n) +
                          rw_spec_norm(b, m, r, r) * fro(a, (size_t)(r * n)));
}

double item_fro(const double *x, size_t n)
{
    return fro(x, n);
}

double item_lora_product(double scale, const double *b, const double *a, int64_t m, int64_t n,
                         int64_t r, bool add, double *out)
{
    double noise = item_lora_noise(scale, b, a, m, n, r);
    /* out (m x n) = s B (m x r) A (r x n) [+ out] */
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)r, scale, b,
                (int)r, a, (int)n, add ? 1.0 : 0.0, out, (int)n);
    return noise;
}

/* The full item of a base item b's tensor (it says whether the base is
 * stored in x out), -1 when none; -1 for any other item. */
static long base_full(const rw_items *its, const rw_item *b)
{
    return b->comp == RW_COMP_BASE ? items_find(its, b->tensor, RW_COMP_FULL) : -1;
}

/* A base item b whose full item has its base stored in x out (the base
 * item is then analysed as stored, in x out). */
static bool base_flipped(const rw_items *its, const rw_item *b)
{
    long fi = base_full(its, b);
    return fi >= 0 && its->v[fi].w_transposed;
}

void item_tensors_read(const rw_item *x, long t[3])
{
    bool lora = x->comp == RW_COMP_LORA, two = lora || x->comp == RW_COMP_FULL;
    t[0] = !lora && !rw_comp_is_circuit(x->comp) ? x->w : -1;
    t[1] = two ? x->a : -1;
    t[2] = two ? x->b : -1;
}

/* item_build_inputs for item i, added to what is listed already. */
static bool add_inputs(const rw_items *its, long i, bool read, long *items, bool *rd, size_t *n)
{
    if (i < 0 || (size_t)i >= its->n)
        return false;
    for (size_t k = 0; k < *n; k++)
        if (items[k] == i) {
            rd[k] = rd[k] || read;
            return true;
        }
    const rw_item *it = &its->v[i];
    if (*n == ITEM_INPUTS_MAX || it->w_base || it->of_grads)
        return false;
    items[*n] = i;
    rd[(*n)++] = read;
    if (!read || !rw_comp_is_circuit(it->comp))
        return true;
    /* as item_build_noise: v_proj and o_proj built, a base one flipped
     * when its full item says so */
    long vo[2] = {it->v_item, it->o_item};
    for (int q = 0; q < 2; q++) {
        if (!add_inputs(its, vo[q], true, items, rd, n))
            return false;
        long fi = base_full(its, &its->v[vo[q]]);
        if (fi >= 0 && !add_inputs(its, fi, false, items, rd, n))
            return false;
    }
    return true;
}

bool item_build_inputs(const rw_items *its, size_t i, long *items, bool *read, size_t *n)
{
    *n = 0;
    return add_inputs(its, (long)i, true, items, read, n);
}

/* x (r x c, row-major) becomes its transpose (c x r). */
static rw_status transpose_in_place(double *x, int64_t r, int64_t c, rw_err *err)
{
    double *t = rw_calloc((size_t)(r * c), sizeof *t, err);
    if (!t)
        return RW_ENOMEM;
    for (int64_t i = 0; i < r; i++)
        for (int64_t j = 0; j < c; j++)
            t[j * r + i] = x[i * c + j];
    memcpy(x, t, (size_t)(r * c) * sizeof *t);
    free(t);
    return RW_OK;
}

/* The gradients' circuit it (ov or wo_wv) into out, gv and go the built
 * gradients (their N and Frobenius norms ngv, fgv, ngo, fgo), the weights
 * read from its->weights. */
static rw_status build_grad_circuit(const rw_items *its, const rw_item *it,
                                    const rw_circuit_shape *sh, const double *gv,
                                    const double *go, double ngv, double ngo, double *out,
                                    double *noise, rw_err *err)
{
    const rw_items *w = its->witems;
    const rw_item *v = &w->v[it->wv_item], *o = &w->v[it->wo_item];
    double nv = 0, no = 0;
    double *vb = rw_calloc((size_t)(v->rows * v->cols), sizeof *vb, err);
    double *ob = rw_calloc((size_t)(o->rows * o->cols), sizeof *ob, err);
    rw_status st = vb && ob ? RW_OK : RW_ENOMEM;
    if (st == RW_OK &&
        (st = item_build_noise(its->weights, w, (size_t)it->wv_item, vb, &nv, err)) == RW_OK &&
        (st = item_build_noise(its->weights, w, (size_t)it->wo_item, ob, &no, err)) == RW_OK) {
        bool wo_wv = it->comp == RW_COMP_WO_WV;
        *noise = circuit_noise_grad(sh, wo_wv, gv, go, vb, ob, ngv, ngo, nv, no);
        circuit_ov_grad(sh, gv, go, vb, ob, wo_wv, out);
    }
    free(vb);
    free(ob);
    return st;
}

rw_status item_build(rw_ckpt *c, const rw_items *its, size_t i, double *out, rw_err *err)
{
    return item_build_noise(c, its, i, out, NULL, err);
}

rw_status item_build_noise(rw_ckpt *c, const rw_items *its, size_t i, double *out,
                           double *noise, rw_err *err)
{
    const rw_item *it = &its->v[i];
    double nv = 0, no = 0, dummy;
    if (!noise)
        noise = &dummy;
    *noise = NAN;
    int64_t m = it->rows, n = it->cols;
    double *a = NULL, *b = NULL, *tmp = NULL, *vbuf = NULL, *obuf = NULL;
    rw_ckpt *wc = it->w_base ? its->base : c; /* where the base weight is */
    rw_status st = RW_OK;
    switch (it->comp) {
    case RW_COMP_WEIGHT:
    case RW_COMP_BASE: /* a stored matrix: N = ||W||_F */
        if ((st = ckpt_read(wc, (size_t)it->w, out, err)) == RW_OK)
            *noise = fro(out, (size_t)(m * n));
        return st;
    case RW_COMP_LORA:
    case RW_COMP_FULL:
        if (it->comp == RW_COMP_FULL) {
            if (it->w_transposed) {
                if ((st = read_alloc(wc, it->w, &tmp, err)) != RW_OK)
                    break;
                for (int64_t r = 0; r < m; r++) /* stored n x m */
                    for (int64_t col = 0; col < n; col++)
                        out[r * n + col] = tmp[col * m + r];
            } else if ((st = ckpt_read(wc, (size_t)it->w, out, err)) != RW_OK) {
                break;
            }
        }
        /* full: N = ||W||_F + N(s B A) (the two errors add); lora: N(s B A) */
        *noise = it->comp == RW_COMP_FULL ? fro(out, (size_t)(m * n)) : 0;
        if ((st = read_alloc(c, it->a, &a, err)) != RW_OK ||
            (st = read_alloc(c, it->b, &b, err)) != RW_OK)
            break;
        *noise += item_lora_product(its->scale, b, a, m, n, it->rank,
                                    it->comp == RW_COMP_FULL, out);
        break;
    case RW_COMP_OV:
    case RW_COMP_WO_WV:
    case RW_COMP_OV_BASE:
    case RW_COMP_OV_LORA: {
        const rw_item *v = &its->v[it->v_item], *o = &its->v[it->o_item];
        vbuf = rw_calloc((size_t)(v->rows * v->cols), sizeof *vbuf, err);
        obuf = rw_calloc((size_t)(o->rows * o->cols), sizeof *obuf, err);
        if (!vbuf || !obuf) {
            st = RW_ENOMEM;
            break;
        }
        if ((st = item_build_noise(c, its, (size_t)it->v_item, vbuf, &nv, err)) != RW_OK ||
            (st = item_build_noise(c, its, (size_t)it->o_item, obuf, &no, err)) != RW_OK)
            break;
        /* a base stored in x out (its base item is as stored) is used out x in */
        bool vt = v->comp == RW_COMP_BASE && base_flipped(its, v);
        bool ot = o->comp == RW_COMP_BASE && base_flipped(its, o);
        int64_t vcols = vt ? v->rows : v->cols, ocols = ot ? o->rows : o->cols;
        if ((vt && (st = transpose_in_place(vbuf, v->rows, v->cols, err)) != RW_OK) ||
            (ot && (st = transpose_in_place(obuf, o->rows, o->cols, err)) != RW_OK))
            break;
        rw_circuit_shape sh = {.d = vcols, .heads = it->heads, .kv_heads = it->kv_heads,
                               .head_dim = ocols / it->heads};
        if (!it->of_grads) {
            *noise = circuit_noise(&sh, it->comp == RW_COMP_WO_WV, vbuf, obuf, nv, no);
            circuit_ov(&sh, vbuf, obuf, it->comp == RW_COMP_WO_WV, out);
            break;
        }
        /* gradients: vbuf and obuf hold G_V and G_O; the weights V and O come
         * from the model checkpoint of the same step */
        st = build_grad_circuit(its, it, &sh, vbuf, obuf, nv, no, out, noise, err);
        break;
    }
    default:
        st = rw_fail(err, RW_EUSAGE, "unknown component");
    }
    free(a);
    free(b);
    free(tmp);
    free(vbuf);
    free(obuf);
    return st;
}

rw_status rw_lowrank_sigma(double *b, double *a, int64_t m, int64_t n, int64_t r,
                          double scale, double *sigma, rw_err *err)
{
    int64_t k = m < n ? m : n;
    double *tau = NULL, *p = NULL, *sv = NULL;
    rw_status st = RW_OK;
    for (size_t e = 0; e < (size_t)(r * n); e++)
        if (!isfinite(a[e]))
            goto nonfinite;
    for (size_t e = 0; e < (size_t)(m * r); e++)
        if (!isfinite(b[e]))
            goto nonfinite;
    tau = rw_calloc((size_t)r, sizeof *tau, err);
    p = rw_calloc((size_t)(r * r), sizeof *p, err);
    sv = rw_calloc((size_t)r, sizeof *sv, err);
    if (!tau || !p || !sv) {
        st = RW_ENOMEM;
        goto done;
    }
    /* B (m x r, row-major) = Q_B R_B; R_B in the upper triangle of its first
     * r rows. A (r x n, row-major) is A^T (n x r) in column-major order:
     * A^T = Q_A R_A, R_A in the upper triangle of the column-major array. */
    lapack_int info = LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, (lapack_int)m, (lapack_int)r, b,
                                     (lapack_int)r, tau);
    if (info == 0)
        info = LAPACKE_dgeqrf(LAPACK_COL_MAJOR, (lapack_int)n, (lapack_int)r, a, (lapack_int)n,
                              tau);
    if (info < 0)
        rw_bug("dgeqrf argument %d invalid", (int)-info);
    /* P = R_B R_A^T (r x r), row-major: P[i][j] = sum_l R_B[i][l] R_A[j][l],
     * l >= i and l >= j (both upper triangular). */
    for (int64_t x = 0; x < r; x++)
        for (int64_t y = 0; y < r; y++) {
            double s = 0;
            for (int64_t l = x > y ? x : y; l < r; l++)
                s += b[x * r + l] * a[y + l * n];
            p[x * r + y] = s * fabs(scale);
        }
    /* sigma(s B A) = |s| sigma(P) = sigma(P^T): the row-major P read as
     * column-major. The other k - r singular values are exactly zero. */
    info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', (lapack_int)r, (lapack_int)r, p, (lapack_int)r,
                          sv, NULL, 1, NULL, 1);
    if (info < 0)
        rw_bug("dgesdd argument %d invalid", (int)-info);
    if (info > 0)
        st = rw_fail(err, RW_EDATA, "SVD did not converge (dgesdd info %d)", (int)info);
    for (int64_t e = 0; e < k; e++)
        sigma[e] = e < r ? sv[e] : 0.0;
    goto done;
nonfinite:
    for (int64_t e = 0; e < k; e++)
        sigma[e] = NAN;
    st = rw_fail(err, RW_EDATA, "non-finite value in the adapters");
done:
    free(tau);
    free(p);
    free(sv);
    return st;
}

rw_status item_read_adapters(rw_ckpt *c, const rw_items *its, size_t i, double *b, double *a,
                             rw_err *err)
{
    const rw_item *it = &its->v[i];
    rw_status st = ckpt_read(c, (size_t)it->b, b, err);
    return st == RW_OK ? ckpt_read(c, (size_t)it->a, a, err) : st;
}

rw_status item_lora_sigma(rw_ckpt *c, const rw_items *its, size_t i, double *sigma,
                          rw_err *err)
{
    const rw_item *it = &its->v[i];
    double *a = NULL, *b = NULL;
    rw_status st;
    if ((st = read_alloc(c, it->a, &a, err)) == RW_OK &&
        (st = read_alloc(c, it->b, &b, err)) == RW_OK)
        st = rw_lowrank_sigma(b, a, it->rows, it->cols, it->rank, its->scale, sigma, err);
    free(a);
    free(b);
    return st;
}
