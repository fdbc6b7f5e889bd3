/*
 * pipeline.c — runs to spectra (pipeline.h).
 */
#include "pipeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const kind_names[] = {"weight", "update", "update_first"};

const char *rw_kind_name(rw_kind k)
{
    return (unsigned)k <= RW_KIND_UPDATE_FIRST ? kind_names[k] : "?";
}

int rw_kind_parse(const char *name)
{
    for (int i = 0; i <= RW_KIND_UPDATE_FIRST; i++)
        if (strcmp(name, kind_names[i]) == 0)
            return i;
    return -1;
}

/* The shape each item had when last seen, to catch shapes that change. */
typedef struct {
    char *name;
    int64_t rows, cols, step;
} seen_shape;

typedef struct {
    seen_shape *v;
    size_t n, cap;
} shape_book;

static void book_free(shape_book *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->v[i].name);
    free(b->v);
    memset(b, 0, sizeof *b);
}

static rw_status book_check(shape_book *b, const char *path, const rw_item *it, int64_t step,
                            rw_err *err)
{
    char key[1100];
    snprintf(key, sizeof key, "%s\t%s", it->tensor, rw_comp_name(it->comp));
    for (size_t i = 0; i < b->n; i++) {
        seen_shape *s = &b->v[i];
        if (strcmp(s->name, key) != 0)
            continue;
        if (s->rows != it->rows || s->cols != it->cols)
            return rw_fail(err, RW_EDATA,
                           "%s: %s: shape %lldx%lld differs from %lldx%lld at step %lld", path,
                           it->tensor, (long long)it->rows, (long long)it->cols,
                           (long long)s->rows, (long long)s->cols, (long long)s->step);
        s->step = step;
        return RW_OK;
    }
    if (b->n == b->cap) {
        size_t ncap = b->cap ? 2 * b->cap : 64;
        seen_shape *v = rw_realloc(b->v, ncap * sizeof *v, err);
        if (!v)
            return RW_ENOMEM;
        b->v = v;
        b->cap = ncap;
    }
    b->v[b->n] = (seen_shape){rw_strdup(key), it->rows, it->cols, step};
    if (!b->v[b->n].name)
        return rw_fail(err, RW_ENOMEM, "out of memory");
    b->n++;
    return RW_OK;
}

/* Working memory reused across matrices. */
typedef struct {
    double *cur, *ref, *sigma;
    size_t cap, sigcap;
} work;

static rw_status work_reserve(work *w, size_t numel, size_t k, rw_err *err)
{
    if (numel > w->cap) {
        free(w->cur);
        free(w->ref);
        w->cur = rw_calloc(numel, sizeof *w->cur, err);
        w->ref = w->cur ? rw_calloc(numel, sizeof *w->ref, err) : NULL;
        w->cap = w->ref ? numel : 0;
        if (!w->ref)
            return RW_ENOMEM;
    }
    if (k > w->sigcap) {
        free(w->sigma);
        w->sigma = rw_calloc(k, sizeof *w->sigma, err);
        w->sigcap = w->sigma ? k : 0;
        if (!w->sigma)
            return RW_ENOMEM;
    }
    return RW_OK;
}

static double fro_of(const double *a, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * a[i];
    return sqrt(s);
}

/* One checkpoint, opened, with its items. */
typedef struct {
    rw_ckpt *c;
    rw_items it;
    int64_t step;
} opened;

static void opened_close(opened *o)
{
    if (o->c) {
        items_free(&o->it);
        ckpt_free(o->c);
    }
    memset(o, 0, sizeof *o);
}

static rw_status opened_open(opened *o, const rw_ckpt_ref *ref, const rw_analysis_opts *opt,
                             rw_err *err)
{
    memset(o, 0, sizeof *o);
    rw_status st = ckpt_open(ref->path, ref->group, &o->c, err);
    if (st != RW_OK)
        return st;
    if ((st = items_list(o->c, &opt->item, &o->it, err)) != RW_OK) {
        ckpt_free(o->c);
        o->c = NULL;
        return st;
    }
    o->step = ref->step;
    return RW_OK;
}

typedef struct {
    const rw_analysis_opts *o;
    const char *run;
    rw_spectrum_fn fn;
    void *ctx;
    work w;
    bool tty;
    size_t emitted;
} analysis;

/* SVD of buf (the item's shape) into w.sigma; non-finite data is warned
 * about and becomes nan singular values. */
static rw_status svd_or_warn(analysis *an, const opened *c, const rw_item *it, double *buf,
                             rw_err *err)
{
    rw_err serr = {{0}};
    rw_status sst = rw_svd_values(buf, it->rows, it->cols, an->w.sigma, &serr);
    if (sst == RW_OK)
        return RW_OK;
    if (sst == RW_EDATA && isnan(an->w.sigma[0])) {
        fprintf(stderr, "%s%s: warning: %s: %s: %s; its metrics are nan\n", an->tty ? "\n" : "",
                an->o->prog, c->c->path, it->tensor, serr.msg);
        return RW_OK;
    }
    return rw_fail(err, sst, "%s: %s: %s", c->c->path, it->tensor, serr.msg);
}

static rw_status emit(analysis *an, const opened *c, const rw_item *it, rw_kind kind,
                      int64_t ref_step, double ref_fro, rw_err *err)
{
    rw_spectrum s = {
        .run = an->run, .step = c->step, .tensor = it->tensor, .layer = it->layer,
        .module = it->module, .component = rw_comp_name(it->comp), .rows = it->rows,
        .cols = it->cols, .dtype = it->dtype, .kind = kind, .ref_step = ref_step,
        .ref_fro = ref_fro, .k = (size_t)(it->rows < it->cols ? it->rows : it->cols),
        .sigma = an->w.sigma, .path = c->c->path,
    };
    an->emitted++;
    return an->fn(&s, an->ctx, err);
}

/* The singular values of item i of c into an->w.sigma: the r x r problem for
 * lora items, else the matrix built and decomposed. */
static rw_status item_sigma(analysis *an, opened *c, size_t i, rw_err *err)
{
    const rw_item *it = &c->it.v[i];
    size_t k = (size_t)(it->rows < it->cols ? it->rows : it->cols);
    rw_status st = work_reserve(&an->w, (size_t)(it->rows * it->cols), k, err);
    if (st != RW_OK)
        return st;
    if (it->comp == RW_COMP_LORA && it->rank <= (int64_t)k) {
        rw_err serr = {{0}};
        st = item_lora_sigma(c->c, &c->it, i, an->w.sigma, &serr);
        if (st == RW_EDATA && k > 0 && isnan(an->w.sigma[0])) {
            fprintf(stderr, "%s%s: warning: %s: %s: %s; its metrics are nan\n",
                    an->tty ? "\n" : "", an->o->prog, c->c->path, it->tensor, serr.msg);
            return RW_OK;
        }
        return st == RW_OK ? RW_OK : rw_fail(err, st, "%s", serr.msg);
    }
    if ((st = item_build(c->c, &c->it, i, an->w.cur, err)) != RW_OK)
        return st;
    return svd_or_warn(an, c, it, an->w.cur, err);
}

/* The spectrum of item i of c itself. */
static rw_status do_weight(analysis *an, opened *c, size_t i, rw_err *err)
{
    rw_status st = item_sigma(an, c, i, err);
    return st == RW_OK ? emit(an, c, &c->it.v[i], RW_KIND_WEIGHT, -1, NAN, err) : st;
}

/* The spectrum of item i of c minus the same item of ref. For lora, the
 * update of the cycle is s B A itself, measured against the base. */
static rw_status do_update(analysis *an, opened *c, size_t i, opened *ref, rw_kind kind,
                           rw_err *err)
{
    const rw_item *it = &c->it.v[i];
    size_t k = (size_t)(it->rows < it->cols ? it->rows : it->cols);
    size_t numel = (size_t)(it->rows * it->cols);
    rw_status st = work_reserve(&an->w, numel, k, err);
    if (st != RW_OK)
        return st;
    double ref_fro;
    if (it->comp == RW_COMP_LORA && kind == RW_KIND_UPDATE) {
        long bi = items_find(&c->it, it->tensor, RW_COMP_BASE);
        ref_fro = NAN;
        if (bi >= 0) {
            if ((st = item_build(c->c, &c->it, (size_t)bi, an->w.ref, err)) != RW_OK)
                return st;
            ref_fro = fro_of(an->w.ref, numel);
        }
        if ((st = item_sigma(an, c, i, err)) != RW_OK)
            return st;
        return emit(an, c, it, kind, c->step, ref_fro, err);
    }
    long ri = items_find(&ref->it, it->tensor, it->comp);
    if (ri < 0)
        return RW_OK; /* new at this step: no update to measure */
    const rw_item *rit = &ref->it.v[ri];
    if (rit->rows != it->rows || rit->cols != it->cols)
        return rw_fail(err, RW_EDATA, "%s: %s: shape %lldx%lld differs from %lldx%lld at step %lld",
                       c->c->path, it->tensor, (long long)it->rows, (long long)it->cols,
                       (long long)rit->rows, (long long)rit->cols, (long long)ref->step);
    if ((st = item_build(c->c, &c->it, i, an->w.cur, err)) != RW_OK ||
        (st = item_build(ref->c, &ref->it, (size_t)ri, an->w.ref, err)) != RW_OK)
        return st;
    ref_fro = fro_of(an->w.ref, numel);
    for (size_t e = 0; e < numel; e++)
        an->w.cur[e] -= an->w.ref[e];
    if ((st = svd_or_warn(an, c, it, an->w.cur, err)) != RW_OK)
        return st;
    return emit(an, c, it, kind, ref->step, ref_fro, err);
}

static rw_status analyze_run(analysis *an, const rw_run *run, rw_err *err)
{
    const rw_analysis_opts *o = an->o;
    shape_book book = {0};
    opened prev = {0}, first = {0}, cur = {0};
    rw_status st = RW_OK;
    bool warned_scale = false;
    an->run = run->label;
    an->emitted = 0;
    for (size_t ci = 0; ci < run->n && st == RW_OK; ci++) {
        const rw_ckpt_ref *ref = &run->ckpts[ci];
        if (an->tty)
            fprintf(stderr, "\r%s: %s: step %lld (%zu/%zu)   ", o->prog, run->label,
                    (long long)ref->step, ci + 1, run->n);
        if ((st = opened_open(&cur, ref, o, err)) != RW_OK)
            break;
        if (cur.it.has_adapters && strcmp(cur.it.scale_from, "default") == 0 && !warned_scale) {
            fprintf(stderr, "%s%s: warning: %s: no LoRA scale (no --lora-scale, lora_alpha and "
                    "lora_r, or adapter_config.json): using s = 1\n", an->tty ? "\n" : "",
                    o->prog, cur.c->path);
            warned_scale = true;
        }
        if (cur.it.ov_needs_heads && (o->comps & (RW_COMP_BIT(RW_COMP_OV) |
                                                  RW_COMP_BIT(RW_COMP_WO_WV)))) {
            st = rw_fail(err, RW_EDATA, "%s: the OV circuit needs --heads and --kv-heads "
                         "(no n_heads, n_kv_heads attributes)", cur.c->path);
            break;
        }
        for (size_t i = 0; i < cur.it.n && st == RW_OK; i++) {
            const rw_item *it = &cur.it.v[i];
            if (!item_selected(it, &o->sel, o->comps))
                continue;
            if ((st = book_check(&book, cur.c->path, it, cur.step, err)) != RW_OK)
                break;
            if (o->weights)
                st = do_weight(an, &cur, i, err);
            /* lora is its cycle's update at every step, the first included */
            if (st == RW_OK && o->updates && (prev.c || it->comp == RW_COMP_LORA))
                st = do_update(an, &cur, i, &prev, RW_KIND_UPDATE, err);
            if (st == RW_OK && o->from_first && first.c && ci > 0)
                st = do_update(an, &cur, i, &first, RW_KIND_UPDATE_FIRST, err);
        }
        /* The previous checkpoint stays open for updates, the first one (as
         * a handle of its own) for --from first: only file handles and the
         * tensor directories, no values. */
        if (st == RW_OK && o->from_first && ci == 0)
            st = opened_open(&first, ref, o, err);
        opened_close(&prev);
        prev = cur;
        memset(&cur, 0, sizeof cur);
    }
    opened_close(&cur);
    opened_close(&prev);
    opened_close(&first);
    book_free(&book);
    if (st == RW_OK && an->emitted == 0 && !o->weights && run->n == 1) {
        st = rw_fail(err, RW_EDATA, "run %s: one checkpoint (%s), so no update to measure",
                     run->label, run->ckpts[0].path);
    } else if (st == RW_OK && an->emitted == 0) {
        const char *what = o->sel.ninclude || o->sel.nexclude || o->comps
                               ? "no matrix matches the selection"
                               : "no matrix to analyse (every tensor is 1-D or not float)";
        if (run->n == 1)
            st = rw_fail(err, RW_EDATA, "%s: %s", run->ckpts[0].path, what);
        else
            st = rw_fail(err, RW_EDATA, "run %s: %s in its %zu checkpoints", run->label, what,
                         run->n);
    }
    return st;
}

rw_status rw_analyze(const rw_runset *rs, const rw_analysis_opts *o, rw_spectrum_fn fn,
                     void *ctx, rw_err *err)
{
    analysis an = {.o = o, .fn = fn, .ctx = ctx, .tty = o->progress && isatty(STDERR_FILENO)};
    rw_status st = RW_OK;
    for (size_t r = 0; r < rs->n && st == RW_OK; r++)
        st = analyze_run(&an, &rs->runs[r], err);
    if (an.tty)
        fprintf(stderr, "\r\033[K");
    free(an.w.cur);
    free(an.w.ref);
    free(an.w.sigma);
    return st;
}

/* ---------------------------------------------------------- metric tables */

static const char *const key_cols[] = {"run",       "step", "tensor", "layer", "module",
                                       "component", "rows", "cols",   "dtype"};
#define NKEY (sizeof key_cols / sizeof *key_cols)

rw_table *rw_metrics_table_new(const rw_metric_id *ids, size_t nids, bool with_rel)
{
    const char *cols[NKEY + RW_M_COUNT + 1];
    for (size_t i = 0; i < NKEY; i++)
        cols[i] = key_cols[i];
    for (size_t i = 0; i < nids; i++)
        cols[NKEY + i] = rw_metric_name(ids[i]);
    if (with_rel)
        cols[NKEY + nids] = "rel_update";
    size_t n = NKEY + nids + (with_rel ? 1 : 0);
    rw_table *t = table_new(cols, n);
    if (!t)
        return NULL;
    for (size_t i = 0; i < n; i++)
        table_set_numeric(t, (long)i, i == 1 || i == 3 || i == 6 || i == 7 || i >= NKEY);
    return t;
}

rw_status rw_metrics_table_add(rw_table *t, const rw_spectrum *s, const rw_metric_id *ids,
                               size_t nids, bool with_rel, rw_err *err)
{
    rw_metrics m;
    rw_metrics_compute(s->sigma, s->k, s->rows, s->cols, s->dtype, &m);
    char num[NKEY + RW_M_COUNT + 1][32];
    const char *cells[NKEY + RW_M_COUNT + 1];
    snprintf(num[1], 32, "%lld", (long long)s->step);
    snprintf(num[3], 32, "%d", s->layer);
    snprintf(num[6], 32, "%lld", (long long)s->rows);
    snprintf(num[7], 32, "%lld", (long long)s->cols);
    cells[0] = s->run;
    cells[1] = num[1];
    cells[2] = s->tensor;
    cells[3] = num[3];
    cells[4] = s->module;
    cells[5] = s->component;
    cells[6] = num[6];
    cells[7] = num[7];
    cells[8] = rw_dtype_name(s->dtype);
    for (size_t i = 0; i < nids; i++)
        cells[NKEY + i] = rw_fmt_double(num[NKEY + i], rw_metric_get(&m, ids[i]));
    if (with_rel) /* ||dW||_F / ||W_ref||_F; nan when there is no reference */
        cells[NKEY + nids] = rw_fmt_double(num[NKEY + nids], m.fro / s->ref_fro);
    return table_add_row(t, cells, err);
}
