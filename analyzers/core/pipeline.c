/*
 * pipeline.c — runs to spectra (pipeline.h): the walk over runs,
 * checkpoints and items on the main thread; the worker threads and the
 * order of results are ring.c's, the metric table rows metrics_table.c's.
 */
#include "analyzers/core/pipeline.h"
#include "analyzers/core/adapter_base.h"
#include "analyzers/core/item_fetch.h"
#include "analyzers/core/ring.h"
#include "analyzers/core/spectral.h"

#include "io/table_keys.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
    if (rw_grow(&b->v, b->n, &b->cap, sizeof *b->v, err) != RW_OK)
        return RW_ENOMEM;
    b->v[b->n] = (seen_shape){rw_strdup(key), it->rows, it->cols, step};
    if (!b->v[b->n].name)
        return rw_fail(err, RW_ENOMEM, "out of memory");
    b->n++;
    return RW_OK;
}

/* One rw_analyze call: the caller's callback, the job ring (ring.h) and
 * the main thread's reference matrix. */
typedef struct {
    const rw_analysis_opts *o;
    rw_spectrum_fn fn;
    void *ctx;
    bool tty;
    size_t emitted;         /* by the current run */
    /* progress: checkpoints of all runs, those seen and those decomposed
     * (not reused), matrices submitted and done, the clock */
    size_t ckpts_total, ckpts_seen, ckpts_computed, submitted, done;
    double t0, last;
    const char *where;      /* "run: step N (i/n)" of the checkpoint being read */
    char where_buf[256];
    job_ring ring;
    double *ref;            /* main thread: the reference matrix of an update */
    size_t refcap;
    rw_bases bases;         /* the open base checkpoints of adapter-only ones */
} analysis;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Progress: matrices done of an estimated total (those submitted, and for
 * the checkpoints not yet read, as many per checkpoint as so far), the rate
 * and the time left; on the terminal line at most 5 times a second (force:
 * now), or as a log line every progress_every seconds and at the end. */
static void report_progress(analysis *an, bool force, bool end)
{
    const rw_analysis_opts *o = an->o;
    if (!an->tty && !o->progress_lines)
        return;
    double t = now_s(), el = t - an->t0;
    double every = o->progress_lines ? (o->progress_every > 0 ? o->progress_every : 10) : 0.2;
    if (!force && !end && t - an->last < every)
        return;
    an->last = t;
    size_t left_ckpts = an->ckpts_total - an->ckpts_seen;
    double per = an->ckpts_computed ? (double)an->submitted / (double)an->ckpts_computed : 0;
    size_t total = an->submitted + (size_t)(per * (double)left_ckpts + 0.5);
    double rate = el > 0 ? (double)an->done / el : 0;
    char e[32], l[32];
    rw_fmt_duration(e, el);
    rw_fmt_duration(l, rate > 0 ? (double)(total - an->done) / rate : NAN);
    if (o->progress_lines && end)
        rw_warn(o->prog, "progress: done, %zu matrices in %s (%.3g/s)", an->done, e, rate);
    else if (o->progress_lines)
        rw_warn(o->prog, "progress: %zu/%zu matrices, %.3g/s, %s elapsed, %s left", an->done,
                total, rate, e, l);
    else
        rw_progress(o->prog, "%s · %zu/%zu matrices · %.3g/s · %s left", an->where ? an->where : "",
                    an->done, total, rate, l);
}

/* The ring's emit callback: a finished job to the caller as a spectrum, or
 * a matrix that held NaN/Inf as a warning and nan values. */
static rw_status emit_job(const ring_job *j, void *ctx, rw_err *err)
{
    analysis *an = ctx;
    rw_status st = RW_OK;
    size_t k = (size_t)(j->rows < j->cols ? j->rows : j->cols);
    if (j->st != RW_OK && j->err_named) { /* the message names its file and tensor */
        st = rw_fail(err, j->st, "%s", j->err.msg);
    } else if (j->st != RW_OK) {
        bool warn = j->st == RW_EDATA && k > 0 && isnan(j->sigma[0]);
        if (warn && j->ref_path)
            rw_warn(an->o->prog, "warning: %s: %s: update from step %lld (%s): %s; its "
                    "metrics are nan", j->path, j->tensor, (long long)j->ref_step, j->ref_path,
                    j->err.msg);
        else if (warn)
            rw_warn(an->o->prog, "warning: %s: %s: %s; its metrics are nan", j->path,
                    j->tensor, j->err.msg);
        else
            st = rw_fail(err, j->st, "%s: %s: %s", j->path, j->tensor, j->err.msg);
    }
    if (st == RW_OK) {
        rw_spectrum s = {
            .run = j->run, .step = j->step, .tensor = j->tensor, .layer = j->layer,
            .module = j->module, .component = j->component, .rows = j->rows,
            .cols = j->cols, .dtype = j->dtype, .kind = j->kind, .ref_step = j->ref_step,
            .ref_fro = j->ref_fro, .k = k, .sigma = j->sigma, .path = j->path,
            .data = an->o->data, .split = an->o->split,
            /* a nan spectrum has no meaningful bound: 0 keeps it finite */
            .noise_fro = isfinite(j->noise) && !(k > 0 && isnan(j->sigma[0])) ? j->noise : 0,
            .entries = j->entries || j->rand ? &j->es : NULL,
        };
        an->emitted++;
        st = an->fn(&s, an->ctx, err);
    }
    an->done++;
    report_progress(an, false, false);
    return st;
}

/* The memory cap: item it of its (from checkpoint path) is refused, before
 * anything is read or allocated, when its matrix or, for ov and wo_wv, a
 * v_proj or o_proj matrix it is formed from, takes more than cap bytes as
 * doubles (0: no cap). A file of a few KB can declare a 30000 x 30000
 * matrix; this says so instead of allocating 7 GB. */
static rw_status check_matrix_size(size_t cap, const char *path, const rw_items *its,
                                   const rw_item *it, rw_err *err)
{
    const rw_item *parts[3] = {it, NULL, NULL};
    if (rw_comp_is_circuit(it->comp)) {
        parts[1] = &its->v[it->v_item];
        parts[2] = &its->v[it->o_item];
    }
    for (int p = 0; p < 3 && cap > 0; p++) {
        const rw_item *x = parts[p];
        size_t numel, bytes;
        if (!x || (rw_mul_size((size_t)x->rows, (size_t)x->cols, &numel) &&
                   rw_mul_size(numel, sizeof(double), &bytes) && bytes <= cap))
            continue;
        return rw_fail(err, RW_EDATA,
                       "%s: %s: a %lldx%lld matrix takes %.1f MiB as doubles, more than the "
                       "cap of %zu MiB (raise it with --max-matrix-mib N or RW_MAX_MATRIX_MIB)",
                       path, x->tensor, (long long)x->rows, (long long)x->cols,
                       (double)x->rows * (double)x->cols * sizeof(double) / 1048576.0,
                       cap >> 20);
    }
    return RW_OK;
}

/* One checkpoint, opened, with its items and (borrowed from the bases
 * book, held while it is open) its separate base. */
typedef struct {
    rw_ckpt *c, *base;
    rw_items it;
    int64_t step;
    rw_ckpt *wc;            /* gradients: the model checkpoint of the step, opened
                               when an OV circuit is asked for, and its items */
    rw_items wit;
} opened;

static void opened_close(opened *o, rw_bases *bases)
{
    if (o->c) {
        items_free(&o->it);
        ckpt_free(o->c);
    }
    if (o->wc) {
        items_free(&o->wit);
        ckpt_free(o->wc);
    }
    bases_release(bases, o->base);
    memset(o, 0, sizeof *o);
}

/* True when a tensor of a checkpoint is read for more than one matrix: by
 * several components (W for weight, full and base), or again as the
 * reference of the next step's update. */
static bool tensors_reread(const rw_analysis_opts *o)
{
    return o->updates || o->from_first || (o->comps & RW_COMP_ALL) ||
           (o->comps & (o->comps - 1)) != 0;
}

static rw_status opened_open(opened *o, const rw_ckpt_ref *ref, const rw_analysis_opts *opt,
                             rw_bases *bases, rw_err *err)
{
    memset(o, 0, sizeof *o);
    bool beside;
    const char *bp = rw_base_source(opt->item.base, ref, &beside);
    rw_status st = RW_OK;
    if (bp && (st = bases_acquire(bases, bp, &o->base, err)) != RW_OK) {
        if (beside)
            rw_err_prefix(err, "%s: its base beside it", ref->path);
        else
            rw_err_prefix(err, "--base");
        return st;
    }
    /* gradients: the OV circuit is formed with the weights of the step */
    if (opt->data && (opt->comps & RW_COMP_OV_ANY) && !ref->weights)
        st = rw_fail(err, RW_EDATA, "%s: the OV circuit of gradients is formed with the "
                     "weights of their step, and its folder has no model file", ref->path);
    if (st == RW_OK && ref->weights && (opt->comps & RW_COMP_OV_ANY)) {
        rw_item_opts wo = opt->item;
        wo.no_circuits = true;
        if ((st = ckpt_open_opts(ref->weights, NULL, &opt->ckpt, &o->wc, err)) == RW_OK &&
            (st = items_list(o->wc, NULL, &wo, &o->wit, err)) != RW_OK) {
            ckpt_free(o->wc);
            o->wc = NULL;
        }
    }
    if (st == RW_OK &&
        (st = ckpt_open_opts(ref->path, ref->group, &opt->ckpt, &o->c, err)) == RW_OK &&
        (st = items_list_grads(o->c, o->base, o->wc, o->wc ? &o->wit : NULL, &opt->item,
                               &o->it, err)) != RW_OK) {
        ckpt_free(o->c);
        o->c = NULL;
    }
    if (st != RW_OK) {
        opened_close(o, bases);
        return st;
    }
    o->step = ref->step;
    o->c->reread = tensors_reread(opt);
    return RW_OK;
}

/* Fills a job's key and buffers for item i of c; the caller fills the data. */
static rw_status job_prepare(ring_job *j, const char *run, const opened *c, const rw_item *it,
                             rw_kind kind, int64_t ref_step, double ref_fro, bool lowrank,
                             bool fast, bool entries, bool rand, rw_err *err)
{
    size_t k = (size_t)(it->rows < it->cols ? it->rows : it->cols);
    rw_status st = rw_scratch(&j->sigma, &j->scap, k, sizeof(double), err);
    if (st == RW_OK)
        st = rw_scratch(&j->a, &j->acap,
                        (size_t)((lowrank ? it->rank : it->rows) * it->cols), sizeof(double), err);
    if (st == RW_OK && lowrank)
        st = rw_scratch(&j->b, &j->bcap, (size_t)(it->rows * it->rank), sizeof(double), err);
    if (st != RW_OK)
        return st;
    j->lowrank = lowrank;
    j->rows = it->rows;
    j->cols = it->cols;
    j->rank = it->rank;
    j->scale = c->it.scale;
    j->run = rw_strdup(run);
    j->tensor = rw_strdup(it->tensor);
    j->component = rw_strdup(rw_comp_name(it->comp));
    j->path = rw_strdup(c->c->path);
    j->module = rw_strdup(it->module);
    j->layer = it->layer;
    j->step = c->step;
    j->ref_step = ref_step;
    j->ref_fro = ref_fro;
    j->kind = kind;
    j->dtype = it->dtype;
    j->rel = fast ? 0 : RW_SVD_REL_DEFAULT;
    j->entries = entries;
    j->rand = rand;
    if (!j->run || !j->tensor || !j->module || !j->component || !j->path)
        return rw_fail(err, RW_ENOMEM, "out of memory");
    return RW_OK;
}


/* ||s B A||_F from the factors b (m x r) and a (r x n), row-major, without
 * the product: |s| sqrt(sum_pq (B^T B)_pq (A A^T)_pq). */
static double lowrank_fro(double s, const double *b, const double *a, size_t m, size_t n,
                          size_t r)
{
    double sum = 0;
    for (size_t p = 0; p < r; p++)
        for (size_t q = 0; q < r; q++) {
            double gb = 0, ga = 0;
            for (size_t i = 0; i < m; i++)
                gb += b[i * r + p] * b[i * r + q];
            for (size_t x = 0; x < n; x++)
                ga += a[p * n + x] * a[q * n + x];
            sum += gb * ga;
        }
    return fabs(s) * sqrt(sum > 0 ? sum : 0);
}

/* lora's update since the first step, s B A(step) - s0 B0 A0(first), from
 * the factors side by side: [s B | -s0 B0] (m x (r + r0)) times [A; A0]
 * ((r + r0) x n), of rank <= r + r0, its spectrum from that small problem
 * as s B A's is. No job when the first step has no such adapter; *done
 * false (and nothing done) when r + r0 exceeds min(m, n): the caller forms
 * the m x n difference. */
static rw_status submit_lora_first(analysis *an, const char *run, opened *c, size_t i,
                                   opened *ref, bool *done, rw_err *err)
{
    const rw_item *it = &c->it.v[i];
    *done = true;
    long ri = items_find(&ref->it, it->tensor, RW_COMP_LORA);
    if (ri < 0)
        return RW_OK; /* new at this step: no update to measure */
    const rw_item *rit = &ref->it.v[ri];
    if (rit->rows != it->rows || rit->cols != it->cols)
        return rw_fail(err, RW_EDATA, "%s: %s: shape %lldx%lld differs from %lldx%lld at step %lld",
                       c->c->path, it->tensor, (long long)it->rows, (long long)it->cols,
                       (long long)rit->rows, (long long)rit->cols, (long long)ref->step);
    size_t m = (size_t)it->rows, n = (size_t)it->cols, r1 = (size_t)it->rank,
           r0 = (size_t)rit->rank, R = r1 + r0;
    if (R > (m < n ? m : n)) {
        *done = false;
        return RW_OK;
    }
    /* an->ref: B0, A0, B, A one after the other */
    rw_status st = rw_scratch(&an->ref, &an->refcap, R * (m + n), sizeof(double), err);
    double *b0 = an->ref, *a0 = b0 + m * r0, *b1 = a0 + r0 * n, *a1 = b1 + m * r1;
    if (st != RW_OK || (st = item_read_adapters(ref->c, &ref->it, (size_t)ri, b0, a0, err)) != RW_OK ||
        (st = item_read_adapters(c->c, &c->it, i, b1, a1, err)) != RW_OK)
        return st;
    double s0 = ref->it.scale, s1 = c->it.scale;
    double ref_fro = lowrank_fro(s0, b0, a0, m, n, r0);
    ring_job *j;
    size_t bytes = R * (m + n) * sizeof(double);
    if ((st = ring_take_slot(&an->ring, bytes, &j, err)) != RW_OK)
        return st;
    rw_item wide = *it;
    wide.rank = (int64_t)R;
    if ((st = job_prepare(j, run, c, &wide, RW_KIND_UPDATE_FIRST, ref->step, ref_fro, true,
                          an->o->fast, an->o->entries, an->o->rand_distance, err)) != RW_OK ||
        !(j->ref_path = rw_strdup(ref->c->path))) {
        ring_job_release_strings(j);
        return st != RW_OK ? st : rw_fail(err, RW_ENOMEM, "out of memory");
    }
    /* N: the two products' bounds added, their roundings independent */
    j->noise = item_lora_noise(s1, b1, a1, it->rows, it->cols, it->rank) +
               item_lora_noise(s0, b0, a0, rit->rows, rit->cols, rit->rank);
    for (size_t x = 0; x < m; x++)
        for (size_t q = 0; q < R; q++)
            j->b[x * R + q] = q < r1 ? s1 * b1[x * r1 + q] : -s0 * b0[x * r0 + q - r1];
    memcpy(j->a, a1, r1 * n * sizeof(double));
    memcpy(j->a + r1 * n, a0, r0 * n * sizeof(double));
    j->scale = 1;
    j->bytes = bytes;
    ring_submit(&an->ring, j);
    an->submitted++;
    return RW_OK;
}

/* The matrix of item i of c (kind weight), or its update against ref. For
 * lora, the update (kind update) is the update of the cycle, s B A itself,
 * measured against the base; its update since the first step (kind
 * update_first) is s B A(step) - s B A(first), formed here only when its
 * rank bound exceeds min(m, n) (else submit_lora_first). The spectra of
 * s B A come from the r x r problem, never the m x n product. */
static rw_status submit_item(analysis *an, const char *run, opened *c, size_t i, opened *ref,
                             rw_kind kind, rw_err *err)
{
    const rw_item *it = &c->it.v[i];
    size_t numel = (size_t)(it->rows * it->cols);
    bool is_lora = it->comp == RW_COMP_LORA && kind != RW_KIND_UPDATE_FIRST;
    bool lowrank = is_lora && it->rank <= (it->rows < it->cols ? it->rows : it->cols);
    int64_t ref_step = -1;
    double ref_fro = NAN, ref_noise = 0, noise = NAN;
    long ri = -1;
    rw_status st = RW_OK;
    item_fetched *fe = NULL; /* compressed tensors: built by the worker */

    if (kind != RW_KIND_WEIGHT) {
        if (is_lora) { /* the adapter's s B A is itself the update (of its cycle) */
            ref_step = c->step;
            long bi = items_find(&c->it, it->tensor, RW_COMP_BASE);
            if ((st = item_fetch(c->c, &c->it, i, bi >= 0 ? c->c : NULL, &c->it, bi, true, &fe,
                                 err)) != RW_OK)
                return st;
            if (bi >= 0 && !fe) {
                if ((st = rw_scratch(&an->ref, &an->refcap, numel, sizeof(double), err)) != RW_OK ||
                    (st = item_build(c->c, &c->it, (size_t)bi, an->ref, err)) != RW_OK)
                    return st;
                ref_fro = item_fro(an->ref, numel);
            }
        } else {
            if ((ri = items_find(&ref->it, it->tensor, it->comp)) < 0)
                return RW_OK; /* new at this step: no update to measure */
            const rw_item *rit = &ref->it.v[ri];
            if (rit->rows != it->rows || rit->cols != it->cols)
                return rw_fail(err, RW_EDATA,
                               "%s: %s: shape %lldx%lld differs from %lldx%lld at step %lld",
                               c->c->path, it->tensor, (long long)it->rows,
                               (long long)it->cols, (long long)rit->rows, (long long)rit->cols,
                               (long long)ref->step);
            ref_step = ref->step;
            if ((st = item_fetch(c->c, &c->it, i, ref->c, &ref->it, ri, false, &fe, err)) !=
                RW_OK)
                return st;
            if (!fe && ((st = rw_scratch(&an->ref, &an->refcap, numel, sizeof(double), err)) !=
                            RW_OK ||
                        (st = item_build_noise(ref->c, &ref->it, (size_t)ri, an->ref,
                                               &ref_noise, err)) != RW_OK))
                return st;
            if (!fe)
                ref_fro = item_fro(an->ref, numel);
        }
    } else if ((st = item_fetch(c->c, &c->it, i, NULL, NULL, -1, false, &fe, err)) != RW_OK) {
        return st;
    }
    ring_job *j;
    size_t bytes = (lowrank ? (size_t)(it->rank * (it->rows + it->cols)) : numel) * sizeof(double) +
                   item_fetched_size(fe);
    if ((st = ring_take_slot(&an->ring, bytes, &j, err)) != RW_OK) {
        item_fetched_free(fe);
        return st;
    }
    j->fetched = fe; /* the slot's now: freed with its strings on failure */
    if ((st = job_prepare(j, run, c, it, kind, ref_step, ref_fro, lowrank, an->o->fast,
                          an->o->entries, an->o->rand_distance, err)) != RW_OK) {
        ring_job_release_strings(j);
        return st;
    }
    if (ri >= 0 && !(j->ref_path = rw_strdup(ref->c->path))) {
        ring_job_release_strings(j);
        return rw_fail(err, RW_ENOMEM, "out of memory");
    }
    if (fe) {
        j->bytes = bytes; /* the worker inflates, builds and subtracts (or
                             reads the factors, lowrank) */
        ring_submit(&an->ring, j);
        an->submitted++;
        return RW_OK;
    }
    /* N of an update W_t - W_ref: N(W_t) + N(W_ref), the two roundings being
     * independent (||W_t||_F + ||W_ref||_F for stored matrices); lora's
     * update s B A is the matrix itself. */
    if (lowrank) {
        st = item_read_adapters(c->c, &c->it, i, j->b, j->a, err);
        if (st == RW_OK)
            noise = item_lora_noise(c->it.scale, j->b, j->a, it->rows, it->cols, it->rank);
    } else {
        st = item_build_noise(c->c, &c->it, i, j->a, &noise, err);
    }
    j->noise = noise + (ri >= 0 ? ref_noise : 0);
    if (st == RW_OK && ri >= 0)
        for (size_t e = 0; e < numel; e++)
            j->a[e] -= an->ref[e];
    if (st != RW_OK) {
        ring_job_release_strings(j);
        return st;
    }
    j->bytes = bytes;
    ring_submit(&an->ring, j);
    an->submitted++;
    return RW_OK;
}

static rw_status analyze_run(analysis *an, const rw_run *run, rw_err *err)
{
    const rw_analysis_opts *o = an->o;
    shape_book book = {0};
    opened prev = {0}, first = {0}, cur = {0};
    rw_status st = RW_OK;
    bool warned_scale = false, warned_heads = false;
    size_t from_base = 0;
    an->emitted = 0;
    for (size_t ci = 0; ci < run->n && st == RW_OK; ci++) {
        const rw_ckpt_ref *ref = &run->ckpts[ci];
        snprintf(an->where_buf, sizeof an->where_buf, "%s: step %lld (%zu/%zu)", run->label,
                 (long long)ref->step, ci + 1, run->n);
        an->where = an->where_buf;
        an->ckpts_seen++;
        if (an->tty)
            report_progress(an, true, false);
        if ((st = opened_open(&cur, ref, o, &an->bases, err)) != RW_OK)
            break;
        from_base += cur.it.from_base;
        if (cur.it.has_adapters && strcmp(cur.it.scale_from, "default") == 0 && !warned_scale) {
            rw_warn(o->prog, "warning: %s: no LoRA scale (no --lora-scale, lora_alpha and "
                    "lora_r, or adapter_config.json): using s = 1", cur.c->path);
            warned_scale = true;
        }
        if (cur.it.ov_needs_heads && !(o->comps & RW_COMP_ALL) &&
            (o->comps & RW_COMP_OV_ANY)) {
            st = rw_fail(err, RW_EDATA, "%s: the OV circuit needs --heads and --kv-heads "
                         "(no n_heads, n_kv_heads attributes)", cur.c->path);
            break;
        }
        /* --component all takes the OV circuit where it can be formed: say
         * where it cannot, once a run. */
        if (cur.it.ov_needs_heads && (o->comps & RW_COMP_ALL) && !warned_heads) {
            rw_warn(o->prog, "warning: run %s: attention heads unknown (no n_heads attribute, "
                    "no config.json, no --heads): the OV circuit is left out", run->label);
            warned_heads = true;
        }
        bool reused = o->reuse && o->reuse(run, ci, o->reuse_ctx);
        if (reused)
            an->emitted++;
        else
            an->ckpts_computed++;
        for (size_t i = 0; i < cur.it.n && st == RW_OK && !reused; i++) {
            const rw_item *it = &cur.it.v[i];
            if (!item_selected(it, &o->sel, o->comps))
                continue;
            if ((st = book_check(&book, cur.c->path, it, cur.step, err)) != RW_OK ||
                (st = check_matrix_size(o->max_matrix_bytes, cur.c->path, &cur.it, it, err)) !=
                    RW_OK)
                break;
            bool mine = true;
            if (o->claim && ((st = ring_wait_room(&an->ring, err)) != RW_OK ||
                             (st = o->claim(run, ci, it, &mine, o->claim_ctx, err)) != RW_OK))
                break;
            if (!mine) {
                an->emitted++; /* another process computes it */
                continue;
            }
            if (o->weights)
                st = submit_item(an, run->label, &cur, i, NULL, RW_KIND_WEIGHT, err);
            /* Updates from the second checkpoint on, for every component:
             * lora's (s B A, its cycle's) too, so that the first step has
             * no update of any kind (spectrum.h, rw_comp_default). */
            if (st == RW_OK && o->updates && prev.c)
                st = submit_item(an, run->label, &cur, i, &prev, RW_KIND_UPDATE, err);
            bool done = false;
            if (st == RW_OK && o->from_first && first.c && ci > 0 && it->comp == RW_COMP_LORA)
                st = submit_lora_first(an, run->label, &cur, i, &first, &done, err);
            if (st == RW_OK && o->from_first && first.c && ci > 0 && !done)
                st = submit_item(an, run->label, &cur, i, &first, RW_KIND_UPDATE_FIRST, err);
        }
        /* The previous checkpoint stays open for updates, the first one (as
         * a handle of its own) for --from first: only file handles and the
         * tensor directories, no values. */
        if (st == RW_OK && o->from_first && ci == 0)
            st = opened_open(&first, ref, o, &an->bases, err);
        opened_close(&prev, &an->bases);
        prev = cur;
        memset(&cur, 0, sizeof cur);
    }
    /* Every job of this run is emitted before the checks below count them. */
    rw_status dst = ring_drain(&an->ring, err);
    if (st == RW_OK)
        st = dst;
    opened_close(&cur, &an->bases);
    opened_close(&prev, &an->bases);
    opened_close(&first, &an->bases);
    book_free(&book);
    if (st == RW_OK && o->item.base && from_base == 0)
        rw_warn(o->prog, "warning: --base %s: run %s has no adapter without its base, so "
                "nothing was read from it", o->item.base, run->label);
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

/* The cores this process may run on: its affinity mask (taskset, Slurm's
 * cpus-per-task, mpirun's binding), else the cores online. */
static long cores_online(void)
{
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n;
}

int rw_default_jobs(void)
{
    long n = cores_online();
    return n > 64 ? 64 : (int)n;
}

int rw_max_jobs(void)
{
    long n = cores_online();
    return (int)(4 * (n < 1024 ? n : 1024));
}

rw_status rw_analyze(const rw_runset *rs, const rw_analysis_opts *o, rw_spectrum_fn fn,
                     void *ctx, rw_err *err)
{
    analysis an = {.o = o, .fn = fn, .ctx = ctx,
                   .tty = o->progress && !o->progress_lines && isatty(STDERR_FILENO),
                   .t0 = now_s()};
    an.last = an.t0; /* the first log line after progress_every seconds */
    for (size_t r = 0; r < rs->n; r++)
        an.ckpts_total += rs->runs[r].n;
    int jobs = o->jobs > 0 ? o->jobs : rw_default_jobs();
    if (jobs > rw_max_jobs())
        jobs = rw_max_jobs();
    /* Single-threaded BLAS everywhere: the parallelism is across matrices. */
    rw_blas_set_threads(1);
    rw_status st = ring_init(&an.ring, jobs, emit_job, &an, err);
    if (st != RW_OK)
        return st;
    for (size_t r = 0; r < rs->n && st == RW_OK; r++)
        st = analyze_run(&an, &rs->runs[r], err);
    ring_free(&an.ring);
    bases_free(&an.bases);
    if (an.tty)
        rw_progress_done(o->prog);
    if (st == RW_OK && o->progress_lines)
        report_progress(&an, true, true);
    free(an.ref);
    return st;
}
