/*
 * plot_data.c — reading and selecting what a figure draws (plot_data.h).
 */
#include "plots/plot_data.h"

#include "analyzers/tables/stats.h"
#include "io/ckpt.h"
#include "io/spectra_file.h"
#include "io/spectrum.h"
#include "io/table_keys.h"

#include <fnmatch.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The paper's four modules (Weiss et al. 2025), for --modules paper. */
static const char *const paper_modules[] = {
    "swiglu.w_2.weight", "attention.v_proj.weight", "attention.o_proj.weight", "attention.ov",
};

long plot_index(char *const *names, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(names[i], s))
            return (long)i;
    return -1;
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* Appends a copy of s to *v (n entries); RW_ENOMEM on failure. */
static rw_status strv_push(char ***v, size_t *n, const char *s, rw_err *err)
{
    char **nv = rw_realloc(*v, (*n + 1) * sizeof *nv, err);
    if (!nv)
        return RW_ENOMEM;
    *v = nv;
    if (!(nv[*n] = rw_strdup(s)))
        return rw_fail(err, RW_ENOMEM, "out of memory");
    (*n)++;
    return RW_OK;
}

static void sel_free(plot_sel *s)
{
    strv_free(s->runs, s->nruns);
    strv_free(s->modules, s->nmodules);
    free(s->run_on);
    free(s->src);
    free(s->data);
    memset(s, 0, sizeof *s);
}

/* ---------------------------------------------------------------- selector */

/* Selection while reading: runs are numbered as they appear; modules of the
 * kept rows are collected, then put in panel order by sel_finish. */
typedef struct {
    plot_sel *s;
    const rw_plot_opts *o;
    const char *const *pats;    /* module patterns (the paper's when "paper") */
    size_t npats;
    bool paper;
    size_t nkept;
    char **seen;                /* modules of the rows that pass all but --modules */
    size_t nseen;
} selector;

static void selector_init(selector *x, plot_sel *s, const rw_plot_opts *o)
{
    memset(x, 0, sizeof *x);
    x->s = s;
    x->o = o;
    x->pats = o->modules;
    x->npats = o->nmodules;
    if (o->nmodules == 1 && !strcmp(o->modules[0], "paper")) {
        x->pats = paper_modules;
        x->npats = sizeof paper_modules / sizeof *paper_modules;
        x->paper = true;
    }
}

static void selector_free(selector *x)
{
    strv_free(x->seen, x->nseen);
    x->seen = NULL;
    x->nseen = 0;
}

static bool glob_any(const char *const *pats, size_t n, const char *s)
{
    if (n == 0)
        return true;
    for (size_t i = 0; i < n; i++)
        if (fnmatch(pats[i], s, 0) == 0)
            return true;
    return false;
}

/* The index of run name, registering it on first sight (-1: out of memory). */
static long sel_run(selector *x, const char *run, rw_err *err)
{
    plot_sel *s = x->s;
    long i = plot_index(s->runs, s->nruns, run);
    if (i >= 0)
        return i;
    bool *on = rw_realloc(s->run_on, (s->nruns + 1) * sizeof *on, err);
    if (!on)
        return -1;
    s->run_on = on;
    on[s->nruns] = glob_any(x->o->runs, x->o->nruns, run);
    if (strv_push(&s->runs, &s->nruns, run, err) != RW_OK)
        return -1;
    return (long)s->nruns - 1;
}

/* Whether a row of run index r passes --runs, --component, --modules and
 * --include/--exclude (tensor may be NULL when the input has none). is_default:
 * the row carries its matrix's default component (rw_default_rows). Notes
 * the modules of rows that pass all but --modules, for messages. */
static bool sel_keep(selector *x, long r, const char *module, const char *component,
                     const char *tensor, bool is_default)
{
    const rw_plot_opts *o = x->o;
    if (!x->s->run_on[r])
        return false;
    if (o->component ? strcmp(component, o->component) != 0 : !is_default)
        return false;
    if (o->tensors && tensor && !rw_select_match(o->tensors, tensor))
        return false;
    if (plot_index(x->seen, x->nseen, module) < 0) {
        rw_err ignored;
        strv_push(&x->seen, &x->nseen, module, &ignored); /* only for messages */
    }
    if (!glob_any(x->pats, x->npats, module))
        return false;
    int c = rw_comp_parse(component);
    if (c >= 0)
        x->s->comps |= RW_COMP_BIT(c);
    return true;
}

/* The provisional index of a kept row's module (-1: out of memory). */
static long sel_module(selector *x, const char *module, rw_err *err)
{
    plot_sel *s = x->s;
    long i = plot_index(s->modules, s->nmodules, module);
    if (i >= 0)
        return i;
    if (strv_push(&s->modules, &s->nmodules, module, err) != RW_OK)
        return -1;
    return (long)s->nmodules - 1;
}

static void join_names(char *buf, size_t n, char *const *names, size_t count)
{
    buf[0] = '\0';
    for (size_t i = 0; i < count; i++) {
        size_t len = strlen(buf);
        if (len + 8 >= n) {
            snprintf(buf + len, n - len, ", ...");
            return;
        }
        snprintf(buf + len, n - len, "%s%s", i ? ", " : "", names[i]);
    }
}

/* Puts the modules in panel order and fills perm[provisional] = final.
 * Checks that every --runs and --modules pattern matched something. */
static rw_status sel_finish(selector *x, size_t **perm_out, rw_err *err)
{
    plot_sel *s = x->s;
    const rw_plot_opts *o = x->o;
    char names[400];
    *perm_out = NULL;
    for (size_t p = 0; p < o->nruns; p++) {
        bool hit = false;
        for (size_t r = 0; r < s->nruns && !hit; r++)
            hit = fnmatch(o->runs[p], s->runs[r], 0) == 0;
        if (!hit) {
            join_names(names, sizeof names, s->runs, s->nruns);
            return rw_fail(err, RW_EDATA, "%s: no run matches '%s' (runs: %s)", s->src,
                           o->runs[p], names);
        }
    }
    if (!x->paper)
        for (size_t p = 0; p < x->npats; p++) {
            bool hit = false;
            for (size_t i = 0; i < x->nseen && !hit; i++)
                hit = fnmatch(x->pats[p], x->seen[i], 0) == 0;
            if (!hit) {
                qsort(x->seen, x->nseen, sizeof *x->seen, rw_cmp_str);
                join_names(names, sizeof names, x->seen, x->nseen);
                return rw_fail(err, RW_EDATA, "%s: no module matches '%s' (modules: %s)",
                               s->src, x->pats[p], *names ? names : "none");
            }
        }
    if (x->nkept == 0 || s->nmodules == 0)
        return rw_fail(err, RW_EDATA, "%s: no rows of %s%s for the selected runs and modules",
                       s->src, o->component ? "component " : "",
                       o->component ? o->component : "the default component (weight, full, ov)");
    size_t n = s->nmodules;
    char **sorted = rw_calloc(n, sizeof *sorted, err);
    char **order = rw_calloc(n, sizeof *order, err);
    size_t *perm = rw_calloc(n, sizeof *perm, err);
    if (!sorted || !order || !perm) {
        free(sorted);
        free(order);
        free(perm);
        return RW_ENOMEM;
    }
    memcpy(sorted, s->modules, n * sizeof *sorted);
    qsort(sorted, n, sizeof *sorted, rw_cmp_str);
    size_t placed = 0;
    rw_status st = RW_OK;
    if (x->npats == 0) {
        memcpy(order, sorted, n * sizeof *order);
        placed = n;
    }
    for (size_t p = 0; p < x->npats; p++) {
        size_t before = placed;
        for (size_t i = 0; i < n; i++)
            if (fnmatch(x->pats[p], sorted[i], 0) == 0 &&
                plot_index(order, placed, sorted[i]) < 0)
                order[placed++] = sorted[i];
        if (placed == before)
            rw_warn(o->prog ? o->prog : "rw-plot", "%s: nothing for module %s; its panel is left out%s",
                    s->src, x->pats[p],
                    !strcmp(x->pats[p], "attention.ov")
                        ? " (OV rows come from rw-metrics --component ov)" : "");
    }
    if (st == RW_OK) {
        for (size_t i = 0; i < n; i++)
            perm[i] = (size_t)plot_index(order, n, s->modules[i]);
        memcpy(s->modules, order, n * sizeof *order);
        *perm_out = perm;
        perm = NULL;
    }
    free(sorted);
    free(order);
    free(perm);
    return st;
}

static rw_status sel_src(plot_sel *s, const char *const *paths, size_t npaths, rw_err *err)
{
    size_t len = 1;
    for (size_t i = 0; i < npaths; i++)
        len += strlen(paths[i]) + 2;
    if (!(s->src = rw_malloc(len, err)))
        return RW_ENOMEM;
    s->src[0] = '\0';
    for (size_t i = 0; i < npaths; i++) {
        if (i)
            strcat(s->src, ", ");
        strcat(s->src, paths[i]);
    }
    return RW_OK;
}

/* Columns of t by name into c[]; the first missing one is an error naming
 * the file and, for a metric, the metrics the table has. */
static rw_status need_cols(const rw_table *t, const char *path, const char *const *names,
                           size_t n, long *c, rw_err *err)
{
    for (size_t i = 0; i < n; i++) {
        if ((c[i] = table_col(t, names[i])) >= 0)
            continue;
        char have[400] = "";
        long from = table_col(t, "dtype");
        for (size_t j = from >= 0 ? (size_t)from + 1 : 0; j < t->ncols; j++) {
            size_t len = strlen(have);
            if (len + strlen(t->cols[j]) + 6 >= sizeof have)
                break;
            snprintf(have + len, sizeof have - len, "%s%s", len ? " " : "", t->cols[j]);
        }
        return rw_fail(err, RW_EDATA, "%s: no column '%s' (%s: %s)", path, names[i],
                       from >= 0 ? "its metrics" : "its columns", *have ? have : "none");
    }
    return RW_OK;
}

/* ------------------------------------------------------------------ metric */

/* The inputs of one figure hold one kind of data (table_keys.h): label is
 * this input's (table_data_label), first the first input's ("" before it
 * is known, then set). */
static rw_status one_data(char *first, size_t n, const char *firstsrc, const char *label,
                          const char *src, rw_err *err)
{
    if (!*first) {
        snprintf(first, n, "%s", label);
        return RW_OK;
    }
    if (strcmp(first, label) == 0)
        return RW_OK;
    return rw_fail(err, RW_EDATA, "%s holds %s, %s %s: a figure draws one kind of data", src,
                   label, firstsrc, first);
}

/* s->data from the inputs' data label (one_data): kept unless weights. */
static rw_status sel_data(plot_sel *s, const char *label, rw_err *err)
{
    if (!*label || strcmp(label, "weights") == 0)
        return RW_OK;
    return (s->data = rw_strdup(label)) ? RW_OK : rw_fail(err, RW_ENOMEM, "out of memory");
}

/* The data label of a spectra file, as table_data_label says it. */
static rw_status file_data_label(const char *path, char *buf, size_t n, rw_err *err)
{
    rw_spectra_reader *r;
    rw_status st = spectra_reader_open(path, &r, err);
    if (st != RW_OK)
        return st;
    const char *split = NULL, *d = spectra_reader_data(r, &split);
    if (d)
        snprintf(buf, n, split ? "%s (%s)" : "%s", d, split);
    else
        snprintf(buf, n, "weights");
    spectra_reader_close(r);
    return RW_OK;
}

rw_status plot_metric_load(const char *const *paths, size_t npaths, const rw_plot_opts *o,
                           plot_metric *m, rw_err *err)
{
    memset(m, 0, sizeof *m);
    m->metric = o->metric ? o->metric : "per";
    plot_sel *s = &m->sel;
    selector x;
    selector_init(&x, s, o);
    rw_status st = sel_src(s, paths, npaths, err);
    const char *pcols[] = {table_key_names[RW_KEY_RUN], table_key_names[RW_KEY_STEP], table_key_names[RW_KEY_TENSOR], table_key_names[RW_KEY_LAYER],
                           table_key_names[RW_KEY_MODULE], table_key_names[RW_KEY_COMPONENT], m->metric,
                           "cond_rank"};
    /* cond: with cond_rank beside it, for plot_metric_cond_rank */
    bool cond = !strcmp(m->metric, "cond");
    if (st == RW_OK && !(m->t = table_new(pcols, cond ? 8 : 7)))
        st = rw_fail(err, RW_ENOMEM, "out of memory");
    size_t cap = 0, kcap = 0;
    char data0[256] = "";
    table_key *keys = NULL; /* of the kept rows: where each came from */
    bool has_rel = false;
    for (size_t f = 0; st == RW_OK && f < npaths; f++) {
        rw_table *t = NULL;
        if ((st = table_read(paths[f], &t, err)) != RW_OK)
            break;
        char label[256];
        if ((st = table_data_label(t, paths[f], label, sizeof label, err)) != RW_OK ||
            (st = one_data(data0, sizeof data0, paths[0], label, paths[f], err)) != RW_OK) {
            table_free(t);
            break;
        }
        long c[6];
        const char *names[6] = {table_key_names[RW_KEY_RUN], table_key_names[RW_KEY_STEP], table_key_names[RW_KEY_LAYER],
                                table_key_names[RW_KEY_MODULE], table_key_names[RW_KEY_COMPONENT], m->metric};
        /* A table without a component column (rw-sim's, of activations):
         * every row is its matrix's one row. */
        bool nocomp = table_col(t, names[4]) < 0 && strcmp(label, "weights") != 0;
        if (nocomp)
            names[4] = names[3]; /* any present column; c[4] is not read */
        if (t->nrows == 0)
            st = rw_fail(err, RW_EDATA, "%s: table has no rows", paths[f]);
        else if (nocomp && o->component)
            st = rw_fail(err, RW_EUSAGE, "%s: --component: the table has no component column",
                         paths[f]);
        else
            st = need_cols(t, paths[f], names, 6, c, err);
        long ctensor = table_col(t, "tensor"), crank = cond ? table_col(t, "cond_rank") : -1;
        has_rel |= table_col(t, "rel_update") >= 0;
        bool *dflt = st == RW_OK ? rw_calloc(t->nrows, sizeof *dflt, err) : NULL;
        if (st == RW_OK && !dflt)
            st = RW_ENOMEM;
        if (st == RW_OK && nocomp) {
            for (size_t r = 0; r < t->nrows; r++)
                dflt[r] = true;
        } else if (st == RW_OK && ctensor >= 0) {
            rw_err ignored = {{0}};
            rw_default_rows(t, dflt, &ignored);
        } else if (st == RW_OK) {
            /* No tensor column: by the component alone, as rw_default_rows
             * would, a lora row's full sibling unknowable. */
            for (size_t r = 0; r < t->nrows; r++) {
                int cc = rw_comp_parse(table_cell(t, r, (size_t)c[4]));
                dflt[r] = cc >= 0 && rw_comp_default((rw_comp)cc, false, RW_COMP_CIRCUITS);
            }
        }
        for (size_t r = 0; st == RW_OK && r < t->nrows; r++) {
            const char *run = table_cell(t, r, (size_t)c[0]);
            const char *module = table_cell(t, r, (size_t)c[3]);
            const char *comp = nocomp ? "" : table_cell(t, r, (size_t)c[4]);
            const char *tensor = ctensor >= 0 ? table_cell(t, r, (size_t)ctensor) : NULL;
            long ri = sel_run(&x, run, err);
            if (ri < 0) {
                st = RW_ENOMEM;
                break;
            }
            if (!sel_keep(&x, ri, module, comp, tensor, dflt[r]))
                continue;
            int64_t step, layer;
            double v;
            const char *bad = NULL, *cell = NULL;
            if (!rw_parse_i64(cell = table_cell(t, r, (size_t)c[1]), &step))
                bad = "step";
            else if (!rw_parse_i64(cell = table_cell(t, r, (size_t)c[2]), &layer) ||
                     layer < -1 || layer > 1000000)
                bad = "layer";
            else if (!rw_parse_double(cell = table_cell(t, r, (size_t)c[5]), &v))
                bad = m->metric;
            if (bad) {
                st = rw_fail(err, RW_EDATA, "%s:%zu: %s '%s' is not a number", paths[f], r + 2,
                             bad, cell);
                break;
            }
            long mi = sel_module(&x, module, err);
            if (mi < 0) {
                st = RW_ENOMEM;
                break;
            }
            /* a table without cond_rank: as if equal to cond (full rank) */
            const char *cells[8] = {run, table_cell(t, r, (size_t)c[1]), tensor ? tensor : "",
                                    table_cell(t, r, (size_t)c[2]), module, comp,
                                    table_cell(t, r, (size_t)c[5]),
                                    table_cell(t, r, (size_t)(crank >= 0 ? crank : c[5]))};
            if ((st = table_add_row(m->t, cells, err)) != RW_OK)
                break;
            if (m->nrows == cap) {
                cap = cap ? 2 * cap : 1024;
                plot_row *nr = rw_realloc(m->rows, cap * sizeof *nr, err);
                if (!nr) {
                    st = RW_ENOMEM;
                    break;
                }
                m->rows = nr;
            }
            if ((st = rw_grow(&keys, m->nrows, &kcap, sizeof *keys, err)) != RW_OK)
                break;
            keys[m->nrows] = (table_key){.step = step, .what = m->metric, .src = paths[f],
                                         .row = r};
            m->rows[m->nrows++] = (plot_row){(int)ri, (int)mi, step, (int)layer, v, NULL};
            x.nkept++;
        }
        free(dflt);
        table_free(t);
    }
    /* Two values for one (run, step, tensor): refused as rw-compare refuses
     * them. (Rows of a table without a tensor column have no key.) */
    size_t nkeys = 0;
    for (size_t i = 0; st == RW_OK && i < m->nrows; i++)
        if (*table_cell(m->t, i, 2)) {
            keys[nkeys] = keys[i];
            keys[nkeys].run = table_cell(m->t, i, 0);
            keys[nkeys++].tensor = table_cell(m->t, i, 2);
        }
    if (st == RW_OK)
        st = table_keys_unique(keys, nkeys, err);
    free(keys);
    size_t *perm = NULL;
    if (st == RW_OK)
        st = sel_finish(&x, &perm, err);
    if (st == RW_OK) {
        for (size_t i = 0; i < m->nrows; i++) {
            m->rows[i].module = (int)perm[m->rows[i].module];
            m->rows[i].component = table_cell(m->t, i, 5);
            if (!isfinite(m->rows[i].v))
                m->nonfinite++;
        }
        s->updates = o->updates >= 0 ? o->updates == 1 : has_rel;
        st = sel_data(s, data0, err);
        if (st == RW_OK && rw_layer_spec_on(o->groups))
            st = plot_metric_groups(m, o->groups, err);
        if (st == RW_OK && cond)
            st = plot_metric_cond_rank(m, err);
    }
    if (st == RW_OK) {
        if (m->nonfinite == m->nrows)
            st = rw_fail(err, RW_EDATA, "%s: %s is nan or inf in all %zu selected rows; nothing "
                         "to plot", s->src, m->metric, m->nrows);
    }
    free(perm);
    selector_free(&x);
    if (st != RW_OK)
        plot_metric_free(m);
    return st;
}

void plot_metric_free(plot_metric *m)
{
    sel_free(&m->sel);
    table_free(m->t);
    free(m->rows);
    free(m->cond_rank);
    memset(m, 0, sizeof *m);
}

/* ----------------------------------------------------------------- spectra */

typedef struct {
    selector *x;
    plot_spectra *sp;
    size_t cap;
} spec_ctx;

static rw_status spec_push(spec_ctx *c, long run, const char *module, int64_t step, int layer,
                           const double *sigma, size_t k, int64_t rows, int64_t cols,
                           rw_err *err)
{
    long mi = sel_module(c->x, module, err);
    if (mi < 0)
        return RW_ENOMEM;
    plot_spectra *sp = c->sp;
    if (rw_grow(&sp->s, sp->n, &c->cap, sizeof *sp->s, err) != RW_OK)
        return RW_ENOMEM;
    double *copy = rw_calloc(k ? k : 1, sizeof *copy, err);
    if (!copy)
        return RW_ENOMEM;
    if (k)
        memcpy(copy, sigma, k * sizeof *copy);
    sp->s[sp->n++] = (plot_spec){(int)run, (int)mi, step, layer, k, copy, rows, cols};
    c->x->nkept++;
    return RW_OK;
}

static rw_status spec_from_file(const rw_spectrum *s, void *ctx, rw_err *err)
{
    spec_ctx *c = ctx;
    long r = sel_run(c->x, s->run, err);
    if (r < 0)
        return RW_ENOMEM;
    /* spectra_file_foreach chose the default components already */
    if (!sel_keep(c->x, r, s->module, s->component, s->tensor, true))
        return RW_OK;
    return spec_push(c, r, s->module, s->step, s->layer, s->sigma, s->k, s->rows, s->cols, err);
}

/* One row of a long spectra table, for sorting into spectra. */
typedef struct {
    const char *run, *tensor, *component, *module;
    int64_t step, layer, i;
    double sigma;
    size_t line;
} long_row;

static int cmp_long_row(const void *a, const void *b)
{
    const long_row *x = a, *y = b;
    int c = strcmp(x->run, y->run);
    if (!c)
        c = (x->step > y->step) - (x->step < y->step);
    if (!c)
        c = strcmp(x->tensor, y->tensor);
    if (!c)
        c = strcmp(x->component, y->component);
    if (!c)
        c = (x->i > y->i) - (x->i < y->i);
    return c;
}

static rw_status spec_from_table(spec_ctx *c, const char *path, char *data0, size_t n0,
                                 const char *first, rw_err *err)
{
    rw_table *t = NULL;
    rw_status st = table_read(path, &t, err);
    if (st != RW_OK)
        return st;
    char label[256];
    if ((st = table_data_label(t, path, label, sizeof label, err)) != RW_OK ||
        (st = one_data(data0, n0, first, label, path, err)) != RW_OK) {
        table_free(t);
        return st;
    }
    const char *need[] = {table_key_names[RW_KEY_RUN], table_key_names[RW_KEY_STEP], table_key_names[RW_KEY_TENSOR],
                          table_key_names[RW_KEY_LAYER], table_key_names[RW_KEY_MODULE], table_key_names[RW_KEY_COMPONENT],
                          "i", "sigma"};
    long col[8];
    if (t->nrows == 0)
        st = rw_fail(err, RW_EDATA, "%s: table has no rows", path);
    else
        st = need_cols(t, path, need, 8, col, err);
    bool *dflt = st == RW_OK ? rw_calloc(t->nrows, sizeof *dflt, err) : NULL;
    if (st == RW_OK && !dflt)
        st = RW_ENOMEM;
    if (st == RW_OK) {
        rw_err ignored = {{0}};
        rw_default_rows(t, dflt, &ignored);
        /* rw-spectra's long tables say whether a row is of a weight or an update */
        long ck = table_col(t, "kind");
        const char *want = c->x->o->updates == 1 ? "update" : "weight";
        for (size_t r = 0; ck >= 0 && r < t->nrows; r++)
            if (strcmp(table_cell(t, r, (size_t)ck), want) != 0)
                dflt[r] = false;
    }
    long_row *rows = st == RW_OK ? rw_calloc(t->nrows, sizeof *rows, err) : NULL;
    if (st == RW_OK && !rows)
        st = RW_ENOMEM;
    size_t n = 0;
    for (size_t r = 0; st == RW_OK && r < t->nrows; r++) {
        long_row w = {.run = table_cell(t, r, (size_t)col[0]),
                      .tensor = table_cell(t, r, (size_t)col[2]),
                      .module = table_cell(t, r, (size_t)col[4]),
                      .component = table_cell(t, r, (size_t)col[5]), .line = r + 2};
        long ri = sel_run(c->x, w.run, err);
        if (ri < 0) {
            st = RW_ENOMEM;
            break;
        }
        if (!sel_keep(c->x, ri, w.module, w.component, w.tensor, dflt[r]))
            continue;
        const char *bad = NULL, *cell;
        if (!rw_parse_i64(cell = table_cell(t, r, (size_t)col[1]), &w.step))
            bad = "step";
        else if (!rw_parse_i64(cell = table_cell(t, r, (size_t)col[3]), &w.layer) ||
                 w.layer < -1 || w.layer > 1000000)
            bad = "layer";
        else if (!rw_parse_i64(cell = table_cell(t, r, (size_t)col[6]), &w.i) || w.i < 1)
            bad = "i";
        else if (!rw_parse_double(cell = table_cell(t, r, (size_t)col[7]), &w.sigma))
            bad = "sigma";
        if (bad)
            st = rw_fail(err, RW_EDATA, "%s:%zu: %s '%s' is not a%s number", path, r + 2, bad,
                         cell, strcmp(bad, "i") ? "" : " positive whole");
        else
            rows[n++] = w;
    }
    if (st == RW_OK)
        qsort(rows, n, sizeof *rows, cmp_long_row);
    double *sig = st == RW_OK ? rw_calloc(n ? n : 1, sizeof *sig, err) : NULL;
    if (st == RW_OK && !sig)
        st = RW_ENOMEM;
    for (size_t a = 0; st == RW_OK && a < n;) {
        size_t b = a;
        while (b < n && !strcmp(rows[b].run, rows[a].run) && rows[b].step == rows[a].step &&
               !strcmp(rows[b].tensor, rows[a].tensor) &&
               !strcmp(rows[b].component, rows[a].component)) {
            if (rows[b].i != (int64_t)(b - a + 1)) {
                st = rw_fail(err, RW_EDATA, "%s:%zu: %s step %lld %s: i = %lld, expected %zu "
                             "(each spectrum lists i = 1..k once)", path, rows[b].line,
                             rows[b].run, (long long)rows[b].step, rows[b].tensor,
                             (long long)rows[b].i, b - a + 1);
                break;
            }
            sig[b - a] = rows[b].sigma;
            b++;
        }
        if (st == RW_OK && !spectrum_valid(sig, b - a))
            st = rw_fail(err, RW_EDATA, "%s:%zu: %s step %lld %s: singular values are not "
                         "finite, >= 0 and descending (nor all nan)", path, rows[a].line,
                         rows[a].run, (long long)rows[a].step, rows[a].tensor);
        if (st == RW_OK)
            st = spec_push(c, plot_index(c->x->s->runs, c->x->s->nruns, rows[a].run),
                           rows[a].module, rows[a].step, (int)rows[a].layer, sig, b - a, 0, 0, err);
        a = b;
    }
    free(sig);
    free(rows);
    free(dflt);
    table_free(t);
    return st;
}

rw_status plot_spectra_load(const char *const *paths, size_t npaths, const rw_plot_opts *o,
                            plot_spectra *sp, rw_err *err)
{
    memset(sp, 0, sizeof *sp);
    selector x;
    selector_init(&x, &sp->sel, o);
    spec_ctx c = {&x, sp, 0};
    rw_status st = sel_src(&sp->sel, paths, npaths, err);
    rw_select all = {0};
    char data0[256] = "";
    for (size_t f = 0; st == RW_OK && f < npaths; f++) {
        char label[256];
        /* Any HDF5 file is read as a spectra file, which says what is
         * wrong with it; as a table, its bytes would make no sense. */
        if (rw_is_hdf5(paths[f]) &&
            ((st = file_data_label(paths[f], label, sizeof label, err)) != RW_OK ||
             (st = one_data(data0, sizeof data0, paths[0], label, paths[f], err)) != RW_OK))
            break;
        if (rw_is_hdf5(paths[f])) {
            /* The named component; else each matrix's default, and of the
             * OV circuits ov (spectrum.h, rw_comp_default). */
            int comp = o->component ? rw_comp_parse(o->component) : -1;
            rw_kind kind = o->updates == 1 ? RW_KIND_UPDATE : RW_KIND_WEIGHT;
            const rw_select *sel = o->tensors ? o->tensors : &all;
            if (o->component && comp < 0)
                st = rw_fail(err, RW_EUSAGE, "--component: '%s' is unknown", o->component);
            else
                st = spectra_file_foreach(paths[f], sel, comp >= 0 ? RW_COMP_BIT(comp) : 0,
                                          RW_COMP_BIT(RW_COMP_OV), kind, spec_from_file, &c,
                                          err);
        } else {
            st = spec_from_table(&c, paths[f], data0, sizeof data0, paths[0], err);
        }
    }
    size_t *perm = NULL;
    if (st == RW_OK)
        st = sel_finish(&x, &perm, err);
    if (st == RW_OK) {
        for (size_t i = 0; i < sp->n; i++)
            sp->s[i].module = (int)perm[sp->s[i].module];
        sp->sel.updates = o->updates == 1;
        st = sel_data(&sp->sel, data0, err);
    }
    free(perm);
    selector_free(&x);
    if (st != RW_OK)
        plot_spectra_free(sp);
    return st;
}

size_t plot_spectra_maxk(const plot_spectra *sp)
{
    size_t maxk = 1;
    for (size_t i = 0; i < sp->n; i++)
        maxk = sp->s[i].k > maxk ? sp->s[i].k : maxk;
    return maxk;
}

void plot_spectra_free(plot_spectra *sp)
{
    for (size_t i = 0; sp->s && i < sp->n; i++)
        free(sp->s[i].sigma);
    free(sp->s);
    sel_free(&sp->sel);
    memset(sp, 0, sizeof *sp);
}
