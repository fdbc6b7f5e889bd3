/*
 * pipeline.c — runs to spectra (pipeline.h).
 */
#include "pipeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const comp_names[] = {"weight", "base", "lora", "full", "ov"};

const char *rw_comp_name(rw_comp c)
{
    return (unsigned)c <= RW_COMP_OV ? comp_names[c] : "?";
}

int rw_comp_parse(const char *name)
{
    for (int i = 0; i <= RW_COMP_OV; i++)
        if (strcmp(name, comp_names[i]) == 0)
            return i;
    return -1;
}

/* The shape each tensor had when last seen, to catch shapes that change. */
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

/* Checks (name, rows, cols) against the book, then records it. Linear scan
 * from a moving cursor: tensors arrive in the same sorted order each step. */
static rw_status book_check(shape_book *b, const char *path, const char *name, int64_t rows,
                            int64_t cols, int64_t step, rw_err *err)
{
    for (size_t i = 0; i < b->n; i++) {
        seen_shape *s = &b->v[i];
        if (strcmp(s->name, name) != 0)
            continue;
        if (s->rows != rows || s->cols != cols)
            return rw_fail(err, RW_EDATA, "%s: %s: shape %lldx%lld differs from %lldx%lld at step %lld",
                           path, name, (long long)rows, (long long)cols, (long long)s->rows,
                           (long long)s->cols, (long long)s->step);
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
    b->v[b->n] = (seen_shape){rw_strdup(name), rows, cols, step};
    if (!b->v[b->n].name)
        return rw_fail(err, RW_ENOMEM, "out of memory");
    b->n++;
    return RW_OK;
}

rw_status rw_analyze(const rw_runset *rs, const rw_analysis_opts *o, rw_spectrum_fn fn,
                     void *ctx, rw_err *err)
{
    bool tty = o->progress && isatty(STDERR_FILENO);
    double *buf = NULL, *sigma = NULL;
    size_t bufcap = 0, sigcap = 0;
    rw_status st = RW_OK;

    if (o->component >= 0 && o->component != RW_COMP_WEIGHT && o->component != RW_COMP_FULL)
        return rw_fail(err, RW_EUSAGE, "component '%s' needs adapter support, which this build lacks",
                       rw_comp_name((rw_comp)o->component));
    /* Singular values within the stored dtype's accuracy contract
     * (spectral.h, docs/performance.md); one workspace for the whole run. */
    rw_svd_ws *ws = rw_svd_ws_new();
    if (!ws)
        return rw_fail(err, RW_ENOMEM, "out of memory");

    for (size_t r = 0; r < rs->n && st == RW_OK; r++) {
        const rw_run *run = &rs->runs[r];
        shape_book book = {0};
        for (size_t ci = 0; ci < run->n && st == RW_OK; ci++) {
            const rw_ckpt_ref *ref = &run->ckpts[ci];
            if (tty)
                fprintf(stderr, "\r%s: %s: step %lld (%zu/%zu)   ", o->prog, run->label,
                        (long long)ref->step, ci + 1, run->n);
            rw_ckpt *c;
            if ((st = ckpt_open(ref->path, ref->group, &c, err)) != RW_OK)
                break;
            for (size_t ti = 0; ti < c->n && st == RW_OK; ti++) {
                const rw_tensor *t = &c->tensors[ti];
                int64_t m, n;
                if (!rw_tensor_matrix(t, &m, &n) || !rw_select_match(&o->sel, t->name))
                    continue;
                if ((st = book_check(&book, c->path, t->name, m, n, ref->step, err)) != RW_OK)
                    break;
                size_t k = (size_t)(m < n ? m : n);
                if (t->numel > bufcap) {
                    free(buf);
                    if (!(buf = rw_calloc(t->numel, sizeof *buf, err))) {
                        st = RW_ENOMEM;
                        bufcap = 0;
                        break;
                    }
                    bufcap = t->numel;
                }
                if (k > sigcap) {
                    free(sigma);
                    if (!(sigma = rw_calloc(k, sizeof *sigma, err))) {
                        st = RW_ENOMEM;
                        sigcap = 0;
                        break;
                    }
                    sigcap = k;
                }
                if ((st = ckpt_read(c, ti, buf, err)) != RW_OK)
                    break;
                rw_err serr = {{0}};
                rw_status sst = rw_svd_values_dt(buf, m, n, t->dtype, sigma, ws, NULL, &serr);
                if (sst != RW_OK) {
                    if (sst != RW_EDATA || !isnan(sigma[0])) {
                        st = rw_fail(err, sst, "%s: %s: %s", c->path, t->name, serr.msg);
                        break;
                    }
                    fprintf(stderr, "%s%s: warning: %s: %s: %s; its metrics are nan\n",
                            tty ? "\n" : "", o->prog, c->path, t->name, serr.msg);
                }
                rw_spectrum s = {
                    .run = run->label, .step = ref->step, .tensor = t->name,
                    .layer = t->layer, .module = t->module,
                    .component = rw_comp_name(RW_COMP_WEIGHT), .rows = m, .cols = n,
                    .dtype = t->dtype, .k = k, .sigma = sigma,
                    .path = c->path,
                };
                st = fn(&s, ctx, err);
            }
            ckpt_free(c);
        }
        book_free(&book);
    }
    if (tty)
        fprintf(stderr, "\r\033[K");
    free(buf);
    free(sigma);
    rw_svd_ws_free(ws);
    return st;
}

/* ---------------------------------------------------------- metric tables */

static const char *const key_cols[] = {"run",    "step",      "tensor", "layer", "module",
                                       "component", "rows",  "cols",   "dtype"};
#define NKEY (sizeof key_cols / sizeof *key_cols)

rw_table *rw_metrics_table_new(const rw_metric_id *ids, size_t nids)
{
    const char *cols[NKEY + RW_M_COUNT];
    for (size_t i = 0; i < NKEY; i++)
        cols[i] = key_cols[i];
    for (size_t i = 0; i < nids; i++)
        cols[NKEY + i] = rw_metric_name(ids[i]);
    rw_table *t = table_new(cols, NKEY + nids);
    if (!t)
        return NULL;
    for (size_t i = 0; i < NKEY + nids; i++)
        table_set_numeric(t, (long)i, i == 1 || i == 3 || i == 6 || i == 7 || i >= NKEY);
    return t;
}

rw_status rw_metrics_table_add(rw_table *t, const rw_spectrum *s, const rw_metric_id *ids,
                               size_t nids, rw_err *err)
{
    rw_metrics m;
    rw_metrics_compute(s->sigma, s->k, s->rows, s->cols, s->dtype, &m);
    char num[NKEY + RW_M_COUNT][32];
    const char *cells[NKEY + RW_M_COUNT];
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
    return table_add_row(t, cells, err);
}
