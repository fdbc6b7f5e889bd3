/*
 * sim_runs.c — rw-sim's walk: activations of each step against a target
 * (sim_runs.h), through similarity.h.
 */
#include "analyzers/core/sim_runs.h"

#include "analyzers/core/similarity.h"

#include <math.h>
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

/* Compares tensor i of c (step, run label run) with the tensor of the same
 * name in target (target_step; target_run with --between) and adds its row. */
static rw_status compare_tensor(sim_out *so, rw_ckpt *c, size_t i, const char *run, int64_t step,
                                rw_ckpt *target, int64_t target_step, const char *target_run,
                                rw_err *err)
{
    const rw_sim_opts *o = so->o;
    const rw_tensor *t = &c->tensors[i];
    long j = ckpt_find(target, t->name);
    if (j < 0)
        return rw_fail(err, RW_EDATA, "%s: %s: the target %s has no tensor of that name", c->path,
                       t->name, target->path);
    int64_t n, p, tn, q;
    double *x = NULL, *y = NULL;
    rw_status st = read_matrix(c, i, &n, &p, &x, err);
    if (st == RW_OK)
        st = read_matrix(target, (size_t)j, &tn, &q, &y, err);
    if (st == RW_OK && tn != n)
        st = rw_fail(err, RW_EDATA, "%s: %s has %lld samples, the target %s %lld: activations "
                     "of different batches cannot be compared", c->path, t->name, (long long)n,
                     target->path, (long long)tn);
    double cka = NAN, pw = NAN;
    bool read = st == RW_OK;
    if (st == RW_OK && o->cka)
        st = rw_cka(x, y, (size_t)n, (size_t)p, (size_t)q, o->debiased, &cka, err);
    if (st == RW_OK && o->pwcca)
        st = rw_pwcca(x, y, (size_t)n, (size_t)p, (size_t)q, o->epsilon, &pw, err);
    free(x);
    free(y);
    if (st != RW_OK) {
        if (read) /* the metrics' messages name neither file nor tensor */
            rw_err_prefix(err, "%s: %s against %s", c->path, t->name, target->path);
        return st;
    }
    char s[32], ts[32], layer[32], vc[32] = "", vp[32] = "";
    snprintf(s, sizeof s, "%lld", (long long)step);
    snprintf(ts, sizeof ts, "%lld", (long long)target_step);
    snprintf(layer, sizeof layer, "%d", t->layer);
    if (o->cka)
        rw_fmt_double(vc, cka);
    if (o->pwcca)
        rw_fmt_double(vp, pw);
    const char *split = o->split == RW_SPLIT_VAL ? "val" : "train";
    const char *plain[] = {run, s, ts, t->name, layer, t->module, "activations", split, vc, vp};
    const char *btw[] = {run, s, ts, target_run, t->name, layer, t->module, "activations", split,
                         vc, vp};
    if ((st = table_add_row(so->tab, o->between ? btw : plain, err)) == RW_OK)
        so->rows++;
    return st;
}

/* Every selected matrix of c against target. */
static rw_status compare_ckpt(sim_out *so, rw_ckpt *c, const char *run, int64_t step,
                              rw_ckpt *target, int64_t target_step, const char *target_run,
                              rw_err *err)
{
    rw_status st = RW_OK;
    for (size_t i = 0; i < c->n && st == RW_OK; i++) {
        const rw_tensor *t = &c->tensors[i];
        int64_t m, k;
        if (t->optimizer || !rw_tensor_matrix(t, &m, &k) ||
            (so->o->sel && !rw_select_match_as(so->o->sel, t->name, c->prefix)))
            continue;
        st = compare_tensor(so, c, i, run, step, target, target_step, target_run, err);
    }
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
    for (size_t i = 0; i < run->n && st == RW_OK; i++) {
        rw_ckpt *c = target;
        if (i != ti && (st = open_ref(&run->ckpts[i], o, &c, err)) != RW_OK)
            break;
        st = compare_ckpt(so, c, run->label, run->ckpts[i].step, target, run->ckpts[ti].step,
                          NULL, err);
        if (c != target)
            ckpt_free(c);
    }
    ckpt_free(target);
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
            st = compare_ckpt(so, cb, b->label, b->ckpts[i].step, ca, a->ckpts[j].step, a->label,
                              err);
            ckpt_free(ca);
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
