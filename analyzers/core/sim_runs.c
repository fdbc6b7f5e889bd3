/*
 * sim_runs.c — rw-sim's walk: activations of each step against a target
 * (sim_runs.h), through similarity.h.
 */
#include "analyzers/core/sim_runs.h"

#include "analyzers/core/similarity.h"
#include "analyzers/core/spectral.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A tensor's values as a row-major matrix (new; the caller frees). */
static rw_status read_matrix(rw_ckpt *c, size_t i, int64_t *rows, int64_t *cols, double **out,
                             rw_err *err)
{
    const rw_tensor *t = &c->tensors[i];
    *out = NULL;
    if (!rw_tensor_matrix(t, rows, cols))
        return rw_fail(err, RW_EDATA, "%s: %s is not a float matrix", c->path, t->name);
    if (!(*out = rw_malloc((t->numel ? t->numel : 1) * sizeof **out, err)))
        return RW_ENOMEM;
    rw_status st = ckpt_read(c, i, *out, err);
    if (st != RW_OK) {
        free(*out);
        *out = NULL;
    }
    return st;
}

/* Where the output goes, and what it says of each row. */
typedef struct {
    const rw_sim_opts *o;
    rw_table *tab;
    size_t rows;
} sim_out;

/* One comparison: tensor i of a checkpoint against tensor j of its target,
 * their matrices (n x p, n x q) and results. */
typedef struct {
    size_t i;
    long j;
    int64_t n, p, q;
    double *x, *y;
    const rw_pwcca_side *side; /* the target's, or NULL */
    double cka, pw;
    rw_status st;
    rw_err err;
} sim_pair;

typedef struct {
    const rw_sim_opts *o;
    sim_pair *v;
    size_t n;
    size_t next;           /* the next pair to take (under lock) */
    pthread_mutex_t lock;
} sim_work;

/* The metrics of pair x (its st and err say how it went); ws: this
 * thread's scratch, or NULL. */
static void pair_compute(const rw_sim_opts *o, sim_pair *x, rw_sim_ws *ws)
{
    x->cka = x->pw = NAN;
    size_t n = (size_t)x->n, p = (size_t)x->p, q = (size_t)x->q;
    if (o->cka)
        x->st = rw_cka_ws(x->x, x->y, n, p, q, o->debiased, ws, &x->cka, &x->err);
    if (x->st == RW_OK && o->pwcca)
        x->st = x->side ? rw_pwcca_against(x->x, n, p, x->side, ws, &x->pw, &x->err)
                        : rw_pwcca_ws(x->x, x->y, n, p, q, o->epsilon, ws, &x->pw, &x->err);
}

static void *worker(void *arg)
{
    sim_work *w = arg;
    rw_sim_ws *ws = rw_sim_ws_new(); /* NULL: each pair gets a temporary one */
    for (;;) {
        pthread_mutex_lock(&w->lock);
        size_t k = w->next++;
        pthread_mutex_unlock(&w->lock);
        if (k >= w->n)
            break;
        pair_compute(w->o, &w->v[k], ws);
    }
    rw_sim_ws_free(ws);
    return NULL;
}

/* Computes every pair, on up to o->jobs threads (the results do not depend
 * on how many: each pair is computed alone, with single-threaded BLAS). */
static void compute_all(const rw_sim_opts *o, sim_pair *v, size_t n)
{
    size_t nt = o->jobs > 1 ? (size_t)o->jobs : 1;
    if (nt > n)
        nt = n;
    sim_work w = {.o = o, .v = v, .n = n};
    pthread_t th[64];
    size_t started = 0;
    if (nt > 64)
        nt = 64;
    if (nt > 1 && pthread_mutex_init(&w.lock, NULL) == 0) {
        for (; started + 1 < nt; started++)
            if (pthread_create(&th[started], NULL, worker, &w) != 0)
                break;
        worker(&w); /* this thread too */
        for (size_t t = 0; t < started; t++)
            pthread_join(th[t], NULL);
        pthread_mutex_destroy(&w.lock);
        return;
    }
    rw_sim_ws *ws = rw_sim_ws_new();
    for (size_t k = 0; k < n; k++)
        pair_compute(o, &v[k], ws);
    rw_sim_ws_free(ws);
}

/* The target checkpoint and its matrices, each read once, when first
 * needed: a run's every step is compared with the same target. With
 * PWCCA, also each matrix's side of it (similarity.h), made once. */
typedef struct {
    rw_ckpt *c;
    double **m;        /* c->n, NULL until read (owned) */
    int64_t *rows, *cols;
    rw_pwcca_side **side; /* c->n, NULL until made, or where it cannot be
                             (the pair's own computation then says why) */
    bool sides;           /* make them: many steps share this target (not
                             with --between, where each is used once) */
} sim_target;

static rw_status target_init(sim_target *t, rw_ckpt *c, rw_err *err)
{
    size_t n = c->n ? c->n : 1;
    t->c = c;
    t->m = rw_calloc(n, sizeof *t->m, err);
    t->rows = rw_calloc(n, sizeof *t->rows, err);
    t->cols = rw_calloc(n, sizeof *t->cols, err);
    t->side = rw_calloc(n, sizeof *t->side, err);
    return t->m && t->rows && t->cols && t->side ? RW_OK : RW_ENOMEM;
}

/* Frees the matrices and closes the checkpoint. */
static void target_free(sim_target *t)
{
    for (size_t i = 0; t->m && i < t->c->n; i++)
        free(t->m[i]);
    for (size_t i = 0; t->side && i < t->c->n; i++)
        rw_pwcca_side_free(t->side[i]);
    free(t->side);
    free(t->m);
    free(t->rows);
    free(t->cols);
    ckpt_free(t->c);
    memset(t, 0, sizeof *t);
}

static void pairs_free(sim_pair *v, size_t n)
{
    for (size_t k = 0; k < n; k++)
        free(v[k].x); /* y is the target's */
    free(v);
}

/* Reads pair x's matrices: tensor x->i of c, its namesake in the target
 * (borrowed from tg, read there once). */
static rw_status pair_read(const rw_sim_opts *o, sim_pair *x, rw_ckpt *c, sim_target *tg,
                           rw_err *err)
{
    const rw_tensor *t = &c->tensors[x->i];
    rw_ckpt *target = tg->c;
    if ((x->j = ckpt_find(target, t->name)) < 0)
        return rw_fail(err, RW_EDATA, "%s: %s: the target %s has no tensor of that name", c->path,
                       t->name, target->path);
    size_t j = (size_t)x->j;
    rw_status st = read_matrix(c, x->i, &x->n, &x->p, &x->x, err);
    if (st == RW_OK && !tg->m[j])
        st = read_matrix(target, j, &tg->rows[j], &tg->cols[j], &tg->m[j], err);
    x->y = tg->m[j];
    x->q = tg->cols[j];
    int64_t tn = tg->rows[j];
    if (st == RW_OK && tn != x->n)
        st = rw_fail(err, RW_EDATA, "%s: %s has %lld samples, the target %s %lld: activations "
                     "of different batches cannot be compared", c->path, t->name,
                     (long long)x->n, target->path, (long long)tn);
    if (st == RW_OK && tg->sides && o->pwcca && !tg->side[j]) {
        rw_err e = {{0}};
        rw_status s2 = rw_pwcca_side_new(x->y, (size_t)tn, (size_t)x->q, o->epsilon,
                                         &tg->side[j], &e);
        if (s2 == RW_ENOMEM)
            st = rw_fail(err, RW_ENOMEM, "out of memory");
    }
    x->side = tg->side[j];
    return st;
}

/* The row of pair x (tensor x->i of c, at step of run against
 * target_step, and target_run with --between). */
static rw_status pair_row(sim_out *so, const sim_pair *x, const rw_ckpt *c, const char *run,
                          int64_t step, int64_t target_step, const char *target_run,
                          rw_err *err)
{
    const rw_sim_opts *o = so->o;
    const rw_tensor *t = &c->tensors[x->i];
    char s[32], ts[32], layer[32], vc[32] = "", vp[32] = "";
    snprintf(s, sizeof s, "%lld", (long long)step);
    snprintf(ts, sizeof ts, "%lld", (long long)target_step);
    snprintf(layer, sizeof layer, "%d", t->layer);
    if (o->cka)
        rw_fmt_double(vc, x->cka);
    if (o->pwcca)
        rw_fmt_double(vp, x->pw);
    const char *split = o->split == RW_SPLIT_VAL ? "val" : "train";
    const char *plain[] = {run, s, ts, t->name, layer, t->module, "activations", split, vc, vp};
    const char *btw[] = {run, s, ts, target_run, t->name, layer, t->module, "activations", split,
                         vc, vp};
    rw_status st = table_add_row(so->tab, o->between ? btw : plain, err);
    if (st == RW_OK)
        so->rows++;
    return st;
}

/* Every selected matrix of c against target: read here, computed on the
 * worker threads, their rows added in tensor order; the first failure, in
 * that order, is the error (naming the file and the tensor). */
static rw_status compare_ckpt(sim_out *so, rw_ckpt *c, const char *run, int64_t step,
                              sim_target *tg, int64_t target_step, const char *target_run,
                              rw_err *err)
{
    const rw_ckpt *target = tg->c;
    sim_pair *v = rw_calloc(c->n ? c->n : 1, sizeof *v, err);
    if (!v)
        return RW_ENOMEM;
    size_t n = 0;
    rw_status st = RW_OK;
    for (size_t i = 0; i < c->n && st == RW_OK; i++) {
        const rw_tensor *t = &c->tensors[i];
        int64_t m, k;
        if (t->optimizer || !rw_tensor_matrix(t, &m, &k) ||
            (so->o->sel && !rw_select_match_as(so->o->sel, t->name, c->prefix)))
            continue;
        v[n].i = i;
        st = pair_read(so->o, &v[n++], c, tg, err);
    }
    if (st == RW_OK)
        compute_all(so->o, v, n);
    for (size_t k = 0; k < n && st == RW_OK; k++) {
        if ((st = v[k].st) != RW_OK) {
            /* the metrics' messages name neither file nor tensor */
            *err = v[k].err;
            rw_err_prefix(err, "%s: %s against %s", c->path, c->tensors[v[k].i].name,
                          target->path);
            break;
        }
        st = pair_row(so, &v[k], c, run, step, target_step, target_run, err);
    }
    pairs_free(v, n);
    return st;
}

static rw_status open_ref(const rw_ckpt_ref *r, const rw_sim_opts *o, rw_ckpt **c, rw_err *err)
{
    return ckpt_open_opts(r->path, r->group, &o->ckpt, c, err);
}

/* One run against its own target step. */
static rw_status one_run(sim_out *so, const rw_run *run, rw_err *err)
{
    const rw_sim_opts *o = so->o;
    size_t ti = o->target == RW_TARGET_FIRST ? 0 : run->n - 1;
    if (o->target == RW_TARGET_STEP) {
        for (ti = 0; ti < run->n && run->ckpts[ti].step != o->target_step; ti++)
            ;
        if (ti == run->n)
            return rw_fail(err, RW_EUSAGE, "--target %lld: run %s has no such step",
                           (long long)o->target_step, run->label);
    }
    rw_ckpt *target;
    rw_status st = open_ref(&run->ckpts[ti], o, &target, err);
    if (st != RW_OK)
        return st;
    sim_target tg = {.sides = true};
    if ((st = target_init(&tg, target, err)) != RW_OK)
        tg.c = target; /* freed below */
    for (size_t i = 0; i < run->n && st == RW_OK; i++) {
        rw_ckpt *c = target;
        if (i != ti && (st = open_ref(&run->ckpts[i], o, &c, err)) != RW_OK)
            break;
        st = compare_ckpt(so, c, run->label, run->ckpts[i].step, &tg, run->ckpts[ti].step,
                          NULL, err);
        if (c != target)
            ckpt_free(c);
    }
    target_free(&tg);
    return st;
}

/* Run b against run a at the steps both have. */
static rw_status two_runs(sim_out *so, const rw_run *a, const rw_run *b, rw_err *err)
{
    rw_status st = RW_OK;
    size_t shared = 0;
    for (size_t i = 0, j = 0; i < b->n && st == RW_OK; i++) {
        while (j < a->n && a->ckpts[j].step < b->ckpts[i].step)
            j++;
        if (j == a->n || a->ckpts[j].step != b->ckpts[i].step)
            continue;
        rw_ckpt *cb, *ca;
        if ((st = open_ref(&b->ckpts[i], so->o, &cb, err)) != RW_OK)
            break;
        if ((st = open_ref(&a->ckpts[j], so->o, &ca, err)) == RW_OK) {
            sim_target tg = {0};
            if ((st = target_init(&tg, ca, err)) == RW_OK)
                st = compare_ckpt(so, cb, b->label, b->ckpts[i].step, &tg, a->ckpts[j].step,
                                  a->label, err);
            tg.c = ca;
            target_free(&tg);
        }
        ckpt_free(cb);
        shared++;
    }
    if (st == RW_OK && !shared)
        st = rw_fail(err, RW_EDATA, "--between: runs %s and %s have no step in common", a->label,
                     b->label);
    return st;
}

rw_status rw_sim_runs(const rw_runset *rs, const rw_sim_opts *o, rw_table **out, rw_err *err)
{
    *out = NULL;
    /* one pair per thread, each with single-threaded BLAS: the same bytes
     * whatever -j and the machine's BLAS threading */
    rw_blas_set_threads(1);
    if (o->between && rs->n != 2)
        return rw_fail(err, RW_EUSAGE, "--between compares two runs; %zu given", rs->n);
    static const char *const plain[] = {"run",    "step",  "target_step", "tensor", "layer",
                                        "module", "data",  "split",       "cka",    "pwcca"};
    static const char *const btw[] = {"run",    "step", "target_step", "target_run",
                                      "tensor", "layer", "module",     "data",
                                      "split",  "cka",   "pwcca"};
    rw_table *tab = o->between ? table_new(btw, sizeof btw / sizeof *btw)
                               : table_new(plain, sizeof plain / sizeof *plain);
    if (!tab)
        return rw_fail(err, RW_ENOMEM, "out of memory");
    size_t nc = tab->ncols;
    table_set_numeric(tab, 1, true);
    table_set_numeric(tab, 2, true);
    table_set_numeric(tab, o->between ? 5 : 4, true);
    table_set_numeric(tab, (long)nc - 2, true);
    table_set_numeric(tab, (long)nc - 1, true);
    sim_out so = {o, tab, 0};
    rw_status st = RW_OK;
    if (o->between)
        st = two_runs(&so, &rs->runs[0], &rs->runs[1], err);
    for (size_t r = 0; !o->between && r < rs->n && st == RW_OK; r++)
        st = one_run(&so, &rs->runs[r], err);
    if (st == RW_OK && so.rows == 0)
        st = rw_fail(err, RW_EDATA, "%s: no activation matrices to compare%s",
                     rs->n && rs->runs[0].n ? rs->runs[0].ckpts[0].path : "(no run)",
                     o->sel && (o->sel->ninclude || o->sel->nexclude)
                         ? " (after --include/--exclude)" : "");
    if (st != RW_OK) {
        table_free(tab);
        return st;
    }
    table_sort_default(tab);
    *out = tab;
    return RW_OK;
}
