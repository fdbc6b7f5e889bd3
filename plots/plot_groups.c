/*
 * plot_groups.c — trajectories of layer groups (--layer-groups): each
 * module's rows split into groups of layers, each group a panel of its own
 * named "MODULE [lo-hi]" (plot_data.h, plot_metric_groups; the groups:
 * stats.h, rw_layer_spec).
 */
#include "plots/plot_data.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A group panel of one module: its label and its first layer, its order. */
typedef struct {
    const char *label;
    int first;
} gpanel;

static int cmp_gpanel(const void *a, const void *b)
{
    const gpanel *x = a, *y = b;
    return (x->first > y->first) - (x->first < y->first);
}

/* The new panels: for each module in panel order, its groups by first
 * layer. *out (n of them, pointing into lab) is the caller's to free. */
static rw_status group_panels(const plot_metric *m, char **lab, gpanel **out, size_t *nout,
                              rw_err *err)
{
    gpanel *v = rw_calloc(m->nrows ? m->nrows : 1, sizeof *v, err);
    if (!v)
        return RW_ENOMEM;
    size_t n = 0;
    for (size_t p = 0; p < m->sel.nmodules; p++) {
        size_t start = n;
        for (size_t i = 0; i < m->nrows; i++) {
            if (m->rows[i].module != (int)p || !lab[i])
                continue;
            size_t j = start;
            while (j < n && strcmp(v[j].label, lab[i]))
                j++;
            if (j == n)
                v[n++] = (gpanel){lab[i], INT_MAX};
            if (m->rows[i].layer < v[j].first)
                v[j].first = m->rows[i].layer;
        }
        qsort(v + start, n - start, sizeof *v, cmp_gpanel);
    }
    *out = v;
    *nout = n;
    return RW_OK;
}

static void metric_row(void *ctx, size_t i, const char **module, int *layer)
{
    const plot_metric *m = ctx;
    *module = m->sel.modules[m->rows[i].module];
    *layer = m->rows[i].layer;
}

rw_status plot_metric_groups(plot_metric *m, const rw_layer_spec *spec, rw_err *err)
{
    size_t n = m->nrows;
    char **lab = rw_calloc(n ? n : 1, sizeof *lab, err);
    gpanel *pan = NULL;
    size_t npan = 0;
    char **names = NULL;
    rw_table *t = NULL;
    rw_status st = lab ? rw_layer_groups_label(spec, n, metric_row, m, lab, err) : RW_ENOMEM;
    if (st == RW_OK)
        st = group_panels(m, lab, &pan, &npan, err);
    if (st == RW_OK && npan == 0)
        st = rw_fail(err, RW_EDATA, "%s: no selected row lies in a --layer-groups group",
                     m->sel.src);
    if (st == RW_OK && !(names = rw_calloc(npan, sizeof *names, err)))
        st = RW_ENOMEM;
    for (size_t p = 0; p < npan && st == RW_OK; p++)
        if (!(names[p] = rw_strdup(pan[p].label)))
            st = rw_fail(err, RW_ENOMEM, "out of memory");
    /* the table again, its module cells the groups', rows in none left out */
    if (st == RW_OK && !(t = table_new((const char *const *)m->t->cols, m->t->ncols)))
        st = rw_fail(err, RW_ENOMEM, "out of memory");
    size_t kept = 0, nc = m->t->ncols;
    for (size_t i = 0; i < n && st == RW_OK; i++) {
        if (!lab[i])
            continue;
        const char *cells[16];
        for (size_t c = 0; c < nc && c < 16; c++)
            cells[c] = c == 4 ? lab[i] : table_cell(m->t, i, c);
        if ((st = table_add_row(t, cells, err)) != RW_OK)
            break;
        plot_row r = m->rows[i];
        size_t p = 0;
        while (p < npan && strcmp(pan[p].label, lab[i]))
            p++;
        r.module = (int)p;
        m->rows[kept++] = r;
    }
    if (st == RW_OK) {
        table_free(m->t);
        m->t = t;
        t = NULL;
        m->nrows = kept;
        m->nonfinite = 0;
        for (size_t i = 0; i < kept; i++) {
            m->rows[i].component = table_cell(m->t, i, 5);
            m->nonfinite += !isfinite(m->rows[i].v);
        }
        for (size_t p = 0; p < m->sel.nmodules; p++)
            free(m->sel.modules[p]);
        free(m->sel.modules);
        m->sel.modules = names;
        m->sel.nmodules = npan;
        names = NULL;
    }
    for (size_t p = 0; names && p < npan; p++)
        free(names[p]);
    free(names);
    table_free(t);
    free(pan);
    for (size_t i = 0; lab && i < n; i++)
        free(lab[i]);
    free(lab);
    return st;
}
