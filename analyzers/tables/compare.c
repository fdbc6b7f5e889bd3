/*
 * compare.c — runs side by side: alignment, means over layers, differences
 * to a reference run, curve summaries, and their tables (compare.h).
 *
 * The work is three sorts: per-layer values ("items") sorted by module,
 * metric, run, step, tensor are reduced to one summary per (module, metric,
 * run, step) ("points"); the points of each (module, metric) block are
 * aligned with the reference run's into output rows; the rows are sorted by
 * module, metric, step, run.
 */
#include "analyzers/tables/compare.h"

#include "io/outfile.h"
#include "io/table_keys.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* DESIGN.md's key columns: never metrics. */
static const char *const key_cols[] = {"run", "step", "tensor", "layer", "module",
                                       "component", "rows", "cols", "dtype"};
#define NKEY_COLS (sizeof key_cols / sizeof *key_cols)

static bool is_key_col(const char *name)
{
    for (size_t i = 0; i < NKEY_COLS; i++)
        if (strcmp(name, key_cols[i]) == 0)
            return true;
    return false;
}

/* DESIGN.md's metrics (and rw-updates' rel_update): always metric columns,
 * so that a bad cell in them is reported rather than the column skipped. */
static const char *const known_metrics[] = {"sigma_max", "sigma_min",   "cond",    "num_rank",
                                            "cond_rank", "erank",       "per",     "stable_rank",
                                            "entropy",   "fro",         "nuc",     "rel_update"};

/* Column c of t is a metric: a known metric, or another non-key column all
 * of whose cells are numbers (other text columns are left alone). */
static bool is_metric_col(const rw_table *t, size_t c)
{
    if (is_key_col(t->cols[c]))
        return false;
    for (size_t i = 0; i < sizeof known_metrics / sizeof *known_metrics; i++)
        if (strcmp(t->cols[c], known_metrics[i]) == 0)
            return true;
    return t->numeric[c];
}

/* Sorts names and drops repeats; returns the new count. */
static size_t sort_unique(const char **names, size_t n)
{
    if (n == 0)
        return 0;
    qsort(names, n, sizeof *names, rw_cmp_str);
    size_t m = 1;
    for (size_t i = 1; i < n; i++)
        if (strcmp(names[i], names[m - 1]) != 0)
            names[m++] = names[i];
    return m;
}

static long find_name(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return (long)i;
    return -1;
}

/* ------------------------------------------------------------ gathering */

/* Distinct strings (pointing into the tables or labels) numbered as they
 * come; then renumbered in byte order, so that items sort by integers. */
typedef struct {
    const char **strs;
    size_t n, cap;
    uint32_t *slot;   /* id + 1; 0 empty */
    size_t mask;
} interner;

static uint64_t str_hash(const char *s)
{
    uint64_t h = 14695981039346656037ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h ^ (h >> 32);
}

static rw_status intern(interner *in, const char *s, uint32_t *id, rw_err *err)
{
    if (2 * (in->n + 1) > in->mask) { /* grow: load <= 1/2 */
        size_t cap = in->mask ? 2 * (in->mask + 1) : 64;
        uint32_t *slot = rw_calloc(cap, sizeof *slot, err);
        const char **strs = rw_realloc(in->strs, cap / 2 * sizeof *strs, err);
        if (!slot || !strs) {
            free(slot);
            if (strs)
                in->strs = strs;
            return RW_ENOMEM;
        }
        in->strs = strs;
        for (size_t i = 0; i < in->n; i++) {
            size_t j = str_hash(strs[i]) & (cap - 1);
            while (slot[j])
                j = (j + 1) & (cap - 1);
            slot[j] = (uint32_t)i + 1;
        }
        free(in->slot);
        in->slot = slot;
        in->mask = cap - 1;
    }
    size_t j = str_hash(s) & in->mask;
    for (; in->slot[j]; j = (j + 1) & in->mask)
        if (strcmp(in->strs[in->slot[j] - 1], s) == 0) {
            *id = in->slot[j] - 1;
            return RW_OK;
        }
    if (in->n >= UINT32_MAX - 1)
        return rw_fail(err, RW_ENOMEM, "too many distinct names");
    in->strs[in->n] = s;
    in->slot[j] = (uint32_t)in->n + 1;
    *id = (uint32_t)in->n++;
    return RW_OK;
}

/* Sorts in->strs; *rank maps a first-come id to its place (caller frees). */
static rw_status intern_sort(interner *in, uint32_t **rank, rw_err *err)
{
    const char **orig = rw_calloc(in->n ? in->n : 1, sizeof *orig, err);
    *rank = rw_calloc(in->n ? in->n : 1, sizeof **rank, err);
    if (!orig || !*rank) {
        free(orig);
        free(*rank);
        *rank = NULL;
        return RW_ENOMEM;
    }
    memcpy(orig, in->strs, in->n * sizeof *orig);
    qsort(in->strs, in->n, sizeof *in->strs, rw_cmp_str);
    /* Each original string's place, found through the hash slots. */
    for (size_t i = 0; i < in->n; i++) {
        size_t j = str_hash(in->strs[i]) & in->mask;
        while (strcmp(orig[in->slot[j] - 1], in->strs[i]) != 0)
            j = (j + 1) & in->mask;
        (*rank)[in->slot[j] - 1] = (uint32_t)i;
    }
    free(orig);
    return RW_OK;
}

static void intern_free(interner *in)
{
    free(in->strs);
    free(in->slot);
}

/* The names of the items: module, run and tensor, interned. */
typedef struct {
    interner mod, run, ten;
} cmp_names;

/* One per-layer value; names by number (in byte order after renumbering). */
typedef struct {
    int64_t step;
    double v;
    size_t row;      /* data row in its table (0-based) */
    uint32_t mod, run, ten;
    uint32_t metric; /* index into the sorted metric names */
    uint32_t src;    /* table index */
} cmp_item;

static int cmp_items(const void *a, const void *b)
{
    const cmp_item *x = a, *y = b;
    if (x->mod != y->mod)
        return x->mod < y->mod ? -1 : 1;
    if (x->metric != y->metric)
        return x->metric < y->metric ? -1 : 1;
    if (x->run != y->run)
        return x->run < y->run ? -1 : 1;
    if (x->step != y->step)
        return x->step < y->step ? -1 : 1;
    return (x->ten > y->ten) - (x->ten < y->ten);
}

/* One (module, metric, run, step) summary over layers. */
typedef struct {
    const char *module, *run;
    uint32_t mod, run_id, metric;
    int64_t step;
    rw_summary s;
} cmp_point;

typedef struct {
    size_t n, cap;
    cmp_item *v;
} item_vec;

static rw_status push_item(item_vec *iv, const cmp_item *it, rw_err *err)
{
    if (rw_grow(&iv->v, iv->n, &iv->cap, sizeof *iv->v, err) != RW_OK)
        return RW_ENOMEM;
    iv->v[iv->n++] = *it;
    return RW_OK;
}

/* Checks that table t holds one run (a label renames it). */
static rw_status single_run(const rw_table *t, long crun, const char *name, rw_err *err)
{
    for (size_t r = 1; r < t->nrows; r++)
        if (strcmp(table_cell(t, r, (size_t)crun), table_cell(t, 0, (size_t)crun)) != 0)
            return rw_fail(err, RW_EUSAGE,
                           "%s: a label renames a table of one run; this one has runs '%s' "
                           "and '%s'",
                           name, table_cell(t, 0, (size_t)crun), table_cell(t, r, (size_t)crun));
    return RW_OK;
}

/* Appends the items of one table. metrics: the sorted metric names. */
static rw_status gather(const rw_table *t, uint32_t src, const char *name, const char *label,
                        const char *const *metrics, size_t nmetrics, const rw_compare_opts *o,
                        cmp_names *nm, item_vec *iv, rw_err *err)
{
    static const char *const need[] = {"run", "step", "tensor", "module", "component"};
    long c[5];
    for (int i = 0; i < 5; i++)
        if ((c[i] = table_col(t, need[i])) < 0)
            return rw_fail(err, RW_EDATA,
                           "%s: no column '%s' (rw-compare reads per-layer tables with columns "
                           "run step tensor layer module component ...)",
                           name, need[i]);
    if (label) {
        rw_status st = single_run(t, c[0], name, err);
        if (st != RW_OK)
            return st;
    }
    /* This table's metric columns, by metric index. */
    long *mcol = rw_calloc(nmetrics ? nmetrics : 1, sizeof *mcol, err);
    if (!mcol)
        return RW_ENOMEM;
    for (size_t m = 0; m < nmetrics; m++) {
        mcol[m] = table_col(t, metrics[m]);
        if (mcol[m] >= 0 && !o->nmetrics && !is_metric_col(t, (size_t)mcol[m]))
            mcol[m] = -1; /* a text column here, a metric in another table */
    }
    rw_status st = RW_OK;
    bool *dflt = rw_calloc(t->nrows ? t->nrows : 1, sizeof *dflt, err);
    if (!dflt) {
        free(mcol);
        return RW_ENOMEM;
    }
    if (!o->component)
        st = rw_default_rows(t, dflt, err);
    for (size_t r = 0; r < t->nrows && st == RW_OK; r++) {
        const char *comp = table_cell(t, r, (size_t)c[4]);
        const char *tensor = table_cell(t, r, (size_t)c[2]);
        bool take = o->component ? strcmp(comp, o->component) == 0 : dflt[r];
        if (!take || (o->sel && !rw_select_match(o->sel, tensor)))
            continue;
        cmp_item it = {.src = src, .row = r};
        if ((st = intern(&nm->mod, table_cell(t, r, (size_t)c[3]), &it.mod, err)) != RW_OK ||
            (st = intern(&nm->run, label ? label : table_cell(t, r, (size_t)c[0]), &it.run,
                         err)) != RW_OK ||
            (st = intern(&nm->ten, tensor, &it.ten, err)) != RW_OK)
            break;
        if (!rw_parse_i64(table_cell(t, r, (size_t)c[1]), &it.step)) {
            st = rw_fail(err, RW_EDATA, "%s: row %zu: step '%s' is not a whole number", name,
                         r + 1, table_cell(t, r, (size_t)c[1]));
            break;
        }
        for (size_t m = 0; m < nmetrics && st == RW_OK; m++) {
            if (mcol[m] < 0)
                continue;
            const char *cell = table_cell(t, r, (size_t)mcol[m]);
            if (!rw_parse_double(cell, &it.v)) {
                st = rw_fail(err, RW_EDATA,
                             "%s: row %zu (run %s, step %s, tensor %s): %s '%s' is not a number",
                             name, r + 1, table_cell(t, r, (size_t)c[0]),
                             table_cell(t, r, (size_t)c[1]), tensor, metrics[m], cell);
                break;
            }
            it.metric = (uint32_t)m;
            st = push_item(iv, &it, err);
        }
    }
    free(mcol);
    free(dflt);
    return st;
}

/* The metric names to compare, sorted: the requested ones (each must be a
 * column of some table), else every non-key column of every table. Points
 * into the tables or o->metrics. */
static rw_status metric_names(const rw_table *const *tables, size_t ntables,
                              const rw_compare_opts *o, const char ***out, size_t *nout,
                              rw_err *err)
{
    size_t total = o->nmetrics;
    for (size_t i = 0; i < ntables; i++)
        total += tables[i]->ncols;
    const char **names = rw_calloc(total ? total : 1, sizeof *names, err);
    if (!names)
        return RW_ENOMEM;
    size_t n = 0;
    if (o->metrics && o->nmetrics) {
        for (size_t m = 0; m < o->nmetrics; m++) {
            bool found = false;
            for (size_t i = 0; i < ntables && !found; i++)
                found = table_col(tables[i], o->metrics[m]) >= 0;
            if (!found || is_key_col(o->metrics[m])) {
                free(names);
                return rw_fail(err, RW_EUSAGE, "--metrics: no table has a metric column '%s'",
                               o->metrics[m]);
            }
            names[n++] = o->metrics[m];
        }
    } else {
        for (size_t i = 0; i < ntables; i++)
            for (size_t c = 0; c < tables[i]->ncols; c++)
                if (is_metric_col(tables[i], c))
                    names[n++] = tables[i]->cols[c];
    }
    *out = names;
    *nout = sort_unique(names, n);
    return RW_OK;
}

/* ------------------------------------------------------------ alignment */

typedef struct {
    size_t n, cap;
    rw_cmp_row *v;
} row_vec;

static rw_status push_row(row_vec *rv, const cmp_point *p, const char *metric, int64_t step,
                          bool is_ref, double ref_mean, rw_err *err)
{
    if (rw_grow(&rv->v, rv->n, &rv->cap, sizeof *rv->v, err) != RW_OK)
        return RW_ENOMEM;
    rw_cmp_row *r = &rv->v[rv->n];
    *r = (rw_cmp_row){.module = rw_strdup(p->module), .metric = rw_strdup(metric),
                      .run = rw_strdup(p->run), .step = step, .s = p->s, .is_ref = is_ref,
                      .ref_mean = ref_mean, .diff = is_ref ? NAN : p->s.mean - ref_mean};
    if (!r->module || !r->metric || !r->run) {
        free(r->module);
        free(r->metric);
        free(r->run);
        return rw_fail(err, RW_ENOMEM, "out of memory");
    }
    rv->n++;
    return RW_OK;
}

static uint64_t step_dist(int64_t a, int64_t b)
{
    return a > b ? (uint64_t)a - (uint64_t)b : (uint64_t)b - (uint64_t)a;
}

/* First index in p[0..n-1] (steps ascending) with step >= s. */
static size_t lower_step(const cmp_point *p, size_t n, int64_t s)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (p[mid].step < s)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Rows of one run's points u[0..nu-1] against the reference points
 * ref[0..nref-1] of the same (module, metric) block. */
static rw_status align_run(const cmp_point *u, size_t nu, const cmp_point *ref, size_t nref,
                           bool is_ref, const char *metric, const rw_compare_opts *o,
                           row_vec *rv, rw_err *err)
{
    rw_status st = RW_OK;
    if (is_ref) {
        for (size_t i = 0; i < nu && st == RW_OK; i++)
            st = push_row(rv, &u[i], metric, u[i].step, true, u[i].s.mean, err);
        return st;
    }
    if (o->align == RW_ALIGN_EXACT || nref == 0) {
        for (size_t i = 0; i < nu && st == RW_OK; i++) {
            size_t j = lower_step(ref, nref, u[i].step);
            double rm = j < nref && ref[j].step == u[i].step ? ref[j].s.mean : NAN;
            st = push_row(rv, &u[i], metric, u[i].step, false, rm, err);
        }
        return st;
    }
    /* Nearest: resample onto the reference's steps. */
    for (size_t j = 0; j < nref && st == RW_OK; j++) {
        int64_t s = ref[j].step;
        size_t i = lower_step(u, nu, s);
        const cmp_point *best = NULL;
        /* The candidate below (earlier) first, so that it wins ties. */
        if (i > 0)
            best = &u[i - 1];
        if (i < nu && (!best || step_dist(u[i].step, s) < step_dist(best->step, s)))
            best = &u[i];
        if (best && step_dist(best->step, s) <= (uint64_t)o->max_distance)
            st = push_row(rv, best, metric, s, false, ref[j].s.mean, err);
    }
    return st;
}

static int cmp_rows(const void *a, const void *b)
{
    const rw_cmp_row *x = a, *y = b;
    int r = strcmp(x->module, y->module);
    if (!r)
        r = strcmp(x->metric, y->metric);
    if (!r && x->step != y->step)
        r = x->step < y->step ? -1 : 1;
    if (!r)
        r = strcmp(x->run, y->run);
    return r;
}

/* --------------------------------------------------------------- compare */

/* The items' keys through the rule every table reader shares. */
static rw_status check_unique(const item_vec *iv, const char *const *runs,
                              const char *const *tensors, const char *const *metrics,
                              const char *const *names, rw_err *err)
{
    table_key *k = rw_calloc(iv->n ? iv->n : 1, sizeof *k, err);
    if (!k)
        return RW_ENOMEM;
    for (size_t i = 0; i < iv->n; i++) {
        const cmp_item *it = &iv->v[i];
        k[i] = (table_key){.run = runs[it->run], .tensor = tensors[it->ten], .step = it->step,
                           .what = metrics[it->metric], .src = names[it->src],
                           .row = it->row};
    }
    rw_status st = table_keys_unique(k, iv->n, err);
    free(k);
    return st;
}

rw_status compare_runs(const rw_table *const *tables, const char *const *names,
                       const char *const *labels, size_t ntables, const rw_compare_opts *o,
                       rw_comparison *out, rw_err *err)
{
    memset(out, 0, sizeof *out);
    if (o->align == RW_ALIGN_NEAREST && o->max_distance < 0)
        return rw_fail(err, RW_EUSAGE, "--max-distance must not be negative");
    const char **metrics = NULL;
    size_t nmetrics = 0;
    cmp_names nm;
    memset(&nm, 0, sizeof nm);
    uint32_t *rank[3] = {NULL, NULL, NULL};
    item_vec iv = {0};
    cmp_point *pts = NULL;
    double *vals = NULL;
    row_vec rv = {0};
    rw_status st = metric_names(tables, ntables, o, &metrics, &nmetrics, err);
    if (st != RW_OK)
        return st;
    if (nmetrics == 0) {
        st = rw_fail(err, RW_EDATA, "%s: no metric columns to compare",
                     ntables ? names[0] : "(no table)");
        goto done;
    }
    for (size_t i = 0; i < ntables && st == RW_OK; i++)
        st = gather(tables[i], (uint32_t)i, names[i], labels ? labels[i] : NULL, metrics,
                    nmetrics, o, &nm, &iv, err);
    if (st != RW_OK)
        goto done;
    if (iv.n == 0) {
        bool globs = o->sel && (o->sel->ninclude || o->sel->nexclude);
        st = rw_fail(err, RW_EDATA, "%s%s: no rows to compare (component %s%s)",
                     ntables ? names[0] : "(no table)", ntables > 1 ? " and the others" : "",
                     o->component ? o->component : "weight or full",
                     globs ? ", after --include/--exclude" : "");
        goto done;
    }
    /* Names renumbered in byte order: items then sort by integers. */
    if ((st = intern_sort(&nm.mod, &rank[0], err)) != RW_OK ||
        (st = intern_sort(&nm.run, &rank[1], err)) != RW_OK ||
        (st = intern_sort(&nm.ten, &rank[2], err)) != RW_OK)
        goto done;
    for (size_t i = 0; i < iv.n; i++) {
        iv.v[i].mod = rank[0][iv.v[i].mod];
        iv.v[i].run = rank[1][iv.v[i].run];
        iv.v[i].ten = rank[2][iv.v[i].ten];
    }
    qsort(iv.v, iv.n, sizeof *iv.v, cmp_items);
    const char **runs = nm.run.strs;
    size_t nruns = nm.run.n;

    /* No (run, step, tensor) may give a metric twice (table_keys.h). */
    if ((st = check_unique(&iv, runs, nm.ten.strs, metrics, names, err)) != RW_OK)
        goto done;

    /* Items -> points. */
    pts = rw_calloc(iv.n, sizeof *pts, err);
    vals = rw_calloc(iv.n, sizeof *vals, err);
    if (!pts || !vals) {
        st = RW_ENOMEM;
        goto done;
    }
    size_t npts = 0;
    for (size_t i = 0; i < iv.n;) {
        const cmp_item *a = &iv.v[i];
        size_t j = i;
        for (; j < iv.n; j++) {
            const cmp_item *b = &iv.v[j];
            if (b->metric != a->metric || b->step != a->step || b->run != a->run ||
                b->mod != a->mod)
                break;
            vals[j - i] = b->v;
        }
        cmp_point *p = &pts[npts++];
        *p = (cmp_point){.module = nm.mod.strs[a->mod], .run = runs[a->run], .mod = a->mod,
                         .run_id = a->run, .metric = a->metric, .step = a->step};
        rw_summarize(vals, j - i, &p->s);
        i = j;
    }
    const char *ref = o->ref ? o->ref : runs[0];
    long ref_id = find_name(runs, nruns, ref);
    if (ref_id < 0) {
        char list[512] = "";
        for (size_t i = 0; i < nruns; i++) {
            size_t l = strlen(list);
            snprintf(list + l, sizeof list - l, "%s%s", i ? ", " : "", runs[i]);
        }
        st = rw_fail(err, RW_EUSAGE, "--ref: no run named '%s' (runs: %s)", ref, list);
        goto done;
    }

    /* Points of each (module, metric) block, by run then step -> rows. */
    for (size_t b0 = 0; b0 < npts;) {
        size_t b1 = b0;
        while (b1 < npts && pts[b1].metric == pts[b0].metric && pts[b1].mod == pts[b0].mod)
            b1++;
        size_t r0 = b1, r1 = b1;
        for (size_t i = b0; i < b1; i++)
            if (pts[i].run_id == (uint32_t)ref_id) {
                if (r0 == b1)
                    r0 = i;
                r1 = i + 1;
            }
        for (size_t u0 = b0; u0 < b1 && st == RW_OK;) {
            size_t u1 = u0;
            while (u1 < b1 && pts[u1].run_id == pts[u0].run_id)
                u1++;
            st = align_run(&pts[u0], u1 - u0, &pts[r0], r1 - r0, u0 == r0,
                           metrics[pts[b0].metric], o, &rv, err);
            u0 = u1;
        }
        if (st != RW_OK)
            goto done;
        b0 = b1;
    }
    qsort(rv.v, rv.n, sizeof *rv.v, cmp_rows);

    out->rows = rv.v;
    out->nrows = rv.n;
    rv.v = NULL;
    rv.n = 0;
    out->runs = rw_calloc(nruns, sizeof *out->runs, err);
    out->ref = rw_strdup(ref);
    if (!out->runs || !out->ref) {
        st = rw_fail(err, RW_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < nruns; i++) {
        if (!(out->runs[i] = rw_strdup(runs[i]))) {
            st = rw_fail(err, RW_ENOMEM, "out of memory");
            goto done;
        }
        out->nruns++;
    }
done:
    for (size_t i = 0; i < rv.n; i++) {
        free(rv.v[i].module);
        free(rv.v[i].metric);
        free(rv.v[i].run);
    }
    free(rv.v);
    free(iv.v);
    free(pts);
    free(vals);
    free(metrics);
    for (int i = 0; i < 3; i++)
        free(rank[i]);
    intern_free(&nm.mod);
    intern_free(&nm.run);
    intern_free(&nm.ten);
    if (st != RW_OK)
        compare_free(out);
    return st;
}

void compare_free(rw_comparison *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nrows; i++) {
        free(c->rows[i].module);
        free(c->rows[i].metric);
        free(c->rows[i].run);
    }
    free(c->rows);
    for (size_t i = 0; i < c->nruns; i++)
        free(c->runs[i]);
    free(c->runs);
    free(c->ref);
    memset(c, 0, sizeof *c);
}

/* ---------------------------------------------------------------- summary */

void compare_curve(const int64_t *steps, const double *a, const double *r, size_t n,
                   double threshold, rw_cmp_summary *out)
{
    out->nsteps = n;
    out->first_step = out->last_step = 0;
    out->final = out->ref_final = out->gap = out->rel_gap = NAN;
    out->mean_gap = out->area = NAN;
    out->diverges = false;
    out->diverge_step = 0;
    if (n == 0)
        return;
    out->first_step = steps[0];
    out->last_step = steps[n - 1];
    out->final = a[n - 1];
    out->ref_final = r[n - 1];
    out->gap = a[n - 1] - r[n - 1];
    out->rel_gap = out->gap / fabs(r[n - 1]);
    if (n == 1) {
        out->mean_gap = out->gap;
        out->area = fabs(out->gap);
    } else {
        double sum = 0, abs_sum = 0;
        for (size_t i = 0; i + 1 < n; i++) {
            double h = (double)(steps[i + 1] - steps[i]);
            double g0 = a[i] - r[i], g1 = a[i + 1] - r[i + 1];
            sum += h * (g0 + g1) / 2;
            if ((g0 >= 0 && g1 >= 0) || (g0 <= 0 && g1 <= 0))
                abs_sum += h * (fabs(g0) + fabs(g1)) / 2;
            else /* g crosses zero: two triangles */
                abs_sum += h * (g0 * g0 + g1 * g1) / (2 * (fabs(g0) + fabs(g1)));
        }
        double span = (double)(steps[n - 1] - steps[0]);
        out->mean_gap = sum / span;
        out->area = abs_sum / span;
    }
    /* The earliest step from which every gap to the end is beyond. */
    size_t k = n;
    while (k > 0 && fabs(a[k - 1] - r[k - 1]) > threshold * fabs(r[k - 1]))
        k--;
    if (k < n) {
        out->diverges = true;
        out->diverge_step = steps[k];
    }
}

rw_status compare_summarize(const rw_comparison *c, double threshold, rw_cmp_summary **out,
                            size_t *nout, rw_err *err)
{
    *out = NULL;
    *nout = 0;
    size_t cap = 16, n = 0;
    rw_cmp_summary *s = rw_calloc(cap, sizeof *s, err);
    int64_t *steps = rw_calloc(c->nrows ? c->nrows : 1, sizeof *steps, err);
    double *a = rw_calloc(c->nrows ? c->nrows : 1, sizeof *a, err);
    double *r = rw_calloc(c->nrows ? c->nrows : 1, sizeof *r, err);
    rw_status st = RW_OK;
    if (!s || !steps || !a || !r) {
        st = RW_ENOMEM;
        goto done;
    }
    for (size_t b0 = 0; b0 < c->nrows;) {
        const rw_cmp_row *first = &c->rows[b0];
        size_t b1 = b0;
        while (b1 < c->nrows && strcmp(c->rows[b1].module, first->module) == 0 &&
               strcmp(c->rows[b1].metric, first->metric) == 0)
            b1++;
        for (size_t u = 0; u < c->nruns; u++) {
            const char *run = c->runs[u];
            if (strcmp(run, c->ref) == 0)
                continue;
            size_t m = 0;
            bool any = false;
            for (size_t i = b0; i < b1; i++) {
                const rw_cmp_row *row = &c->rows[i];
                if (strcmp(row->run, run) != 0)
                    continue;
                any = true;
                if (isnan(row->s.mean) || isnan(row->ref_mean))
                    continue;
                steps[m] = row->step;
                a[m] = row->s.mean;
                r[m] = row->ref_mean;
                m++;
            }
            if (!any)
                continue;
            if (n == cap) {
                rw_cmp_summary *ns = rw_realloc(s, 2 * cap * sizeof *s, err);
                if (!ns) {
                    st = RW_ENOMEM;
                    goto done;
                }
                s = ns;
                cap *= 2;
            }
            rw_cmp_summary *x = &s[n];
            memset(x, 0, sizeof *x);
            compare_curve(steps, a, r, m, threshold, x);
            x->module = rw_strdup(first->module);
            x->metric = rw_strdup(first->metric);
            x->run = rw_strdup(run);
            x->ref = rw_strdup(c->ref);
            n++;
            if (!x->module || !x->metric || !x->run || !x->ref) {
                st = rw_fail(err, RW_ENOMEM, "out of memory");
                goto done;
            }
        }
        b0 = b1;
    }
done:
    free(steps);
    free(a);
    free(r);
    if (st != RW_OK) {
        compare_summary_free(s, n);
        return st;
    }
    *out = s;
    *nout = n;
    return RW_OK;
}

void compare_summary_free(rw_cmp_summary *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++) {
        free(s[i].module);
        free(s[i].metric);
        free(s[i].run);
        free(s[i].ref);
    }
    free(s);
}

/* ------------------------------------------------------------ data tables */

static const char *const cmp_cols[] = {"module", "metric", "step",    "run",     "n",
                                       "mean",   "sd",     "ci95_lo", "ci95_hi", "diff"};
static const char *const sum_cols[] = {"module",    "metric", "run",       "ref",
                                       "steps",     "first_step", "last_step", "final",
                                       "ref_final", "gap",    "rel_gap",   "mean_gap",
                                       "area",      "diverge_step"};

rw_table *compare_table(const rw_comparison *c)
{
    rw_table *t = table_new(cmp_cols, 10);
    if (!t)
        return NULL;
    for (long i = 2; i < 10; i++)
        if (i != 3)
            table_set_numeric(t, i, true);
    rw_err err = {{0}};
    for (size_t i = 0; i < c->nrows; i++) {
        const rw_cmp_row *r = &c->rows[i];
        char step[32], n[32], mean[32], sd[32], lo[32], hi[32], diff[32];
        snprintf(step, sizeof step, "%lld", (long long)r->step);
        snprintf(n, sizeof n, "%zu", r->s.n);
        const char *cells[] = {r->module, r->metric, step, r->run, n,
                               rw_fmt_double(mean, r->s.mean), rw_fmt_double(sd, r->s.sd),
                               rw_fmt_double(lo, r->s.lo), rw_fmt_double(hi, r->s.hi),
                               r->is_ref ? "" : rw_fmt_double(diff, r->diff)};
        if (table_add_row(t, cells, &err) != RW_OK) {
            table_free(t);
            return NULL;
        }
    }
    return t;
}

rw_table *compare_summary_table(const rw_cmp_summary *s, size_t n)
{
    rw_table *t = table_new(sum_cols, 14);
    if (!t)
        return NULL;
    for (long i = 4; i < 14; i++)
        table_set_numeric(t, i, true);
    rw_err err = {{0}};
    for (size_t i = 0; i < n; i++) {
        const rw_cmp_summary *x = &s[i];
        char ns[32], f0[32], f1[32], v[7][32], dv[32];
        snprintf(ns, sizeof ns, "%zu", x->nsteps);
        snprintf(f0, sizeof f0, "%lld", (long long)x->first_step);
        snprintf(f1, sizeof f1, "%lld", (long long)x->last_step);
        snprintf(dv, sizeof dv, "%lld", (long long)x->diverge_step);
        const char *cells[] = {x->module, x->metric, x->run, x->ref, ns,
                               x->nsteps ? f0 : "", x->nsteps ? f1 : "",
                               rw_fmt_double(v[0], x->final), rw_fmt_double(v[1], x->ref_final),
                               rw_fmt_double(v[2], x->gap), rw_fmt_double(v[3], x->rel_gap),
                               rw_fmt_double(v[4], x->mean_gap), rw_fmt_double(v[5], x->area),
                               x->diverges ? dv : ""};
        if (table_add_row(t, cells, &err) != RW_OK) {
            table_free(t);
            return NULL;
        }
    }
    return t;
}

/* ------------------------------------------------------ presentation numbers */

/* Drops trailing zeros after a decimal point ("0.5000" -> "0.5", "2.0" -> "2"). */
static void strip_zeros(char *s)
{
    char *dot = strchr(s, '.');
    if (!dot)
        return;
    char *e = s + strlen(s);
    while (e > dot + 1 && e[-1] == '0')
        e--;
    if (e == dot + 1)
        e = dot;
    *e = '\0';
}

/* x (finite) to sig significant digits, without math-mode delimiters:
 * fixed in [1e-3, 1e5) (all integer digits kept), else m·10^e. */
static void fmt_sig(char *buf, size_t len, double x, int sig, bool tex)
{
    if (x == 0)
        x = 0; /* no "-0" */
    double ax = fabs(x);
    if (x == 0 || (ax >= 1e-3 && ax < 1e5)) {
        int e = x == 0 ? 0 : (int)floor(log10(ax));
        int d = sig - 1 - e;
        snprintf(buf, len, "%.*f", d < 0 ? 0 : d, x);
        strip_zeros(buf);
        return;
    }
    int e = (int)floor(log10(ax));
    char m[40];
    snprintf(m, sizeof m, "%.*f", sig - 1, x / pow(10, e));
    if (fabs(strtod(m, NULL)) >= 10) { /* 9.9996 rounded up to 10.000 */
        e++;
        snprintf(m, sizeof m, "%.*f", sig - 1, x / pow(10, e));
    }
    strip_zeros(m);
    if (tex)
        snprintf(buf, len, "%s\\times10^{%d}", m, e);
    else
        snprintf(buf, len, "%se%d", m, e);
}

char *compare_fmt_num(char *buf, double x, bool tex, bool sign)
{
    if (isnan(x))
        return strcpy(buf, tex ? "--" : "nan");
    if (isinf(x)) {
        if (tex)
            return strcpy(buf, x > 0 ? (sign ? "$+\\infty$" : "$\\infty$") : "$-\\infty$");
        return strcpy(buf, x > 0 ? (sign ? "+inf" : "inf") : "-inf");
    }
    char s[56];
    fmt_sig(s, sizeof s, x, 4, tex);
    const char *plus = sign && s[0] != '-' && x != 0 ? "+" : "";
    snprintf(buf, 64, tex ? "$%s%s$" : "%s%s", plus, s);
    return buf;
}

char *compare_fmt_pm(char *buf, double mean, double h, bool tex)
{
    if (!isfinite(mean) || !isfinite(h) || !(h > 0))
        return compare_fmt_num(buf, mean, tex, false);
    double am = fabs(mean), base = am > 0 ? am : h;
    int e = 0;
    if (base >= 1e5 || base < 1e-3)
        e = (int)floor(log10(base));
    double scale = pow(10, e), m = mean / scale, hh = h / scale;
    int d = 1 - (int)floor(log10(hh)); /* h to 2 significant digits */
    if (m != 0) {
        int dmax = 3 - (int)floor(log10(fabs(m))); /* the mean to at most 4 */
        if (d > dmax)
            d = dmax;
    }
    if (d < 0)
        d = 0;
    char ms[32], hs[32];
    snprintf(ms, sizeof ms, "%.*f", d, m);
    if (strtod(ms, NULL) == 0)
        snprintf(ms, sizeof ms, "%.*f", d, 0.0);
    snprintf(hs, sizeof hs, "%.*f", d, hh);
    if (strtod(hs, NULL) == 0) /* h far below the mean's last digit: show it alone */
        fmt_sig(hs, sizeof hs, hh, 1, tex);
    if (e == 0)
        snprintf(buf, 96, tex ? "$%s \\pm %s$" : "%s ± %s", ms, hs);
    else if (tex)
        snprintf(buf, 96, "$(%s \\pm %s)\\times10^{%d}$", ms, hs, e);
    else
        snprintf(buf, 96, "(%s ± %s)e%d", ms, hs, e);
    return buf;
}

/* --------------------------------------------------- presentation tables */


/* Percent of a ratio, signed: "+2.13%" (TeX: "$+2.13\%$"). */
static char *fmt_pct(char *buf, double ratio, bool tex)
{
    if (!isfinite(ratio))
        return compare_fmt_num(buf, ratio, tex, true);
    char s[56];
    fmt_sig(s, sizeof s, 100 * ratio, 3, tex);
    const char *plus = s[0] != '-' && ratio != 0 ? "+" : "";
    snprintf(buf, 64, tex ? "$%s%s\\%%$" : "%s%s%%", plus, s);
    return buf;
}

/* Cells of the reading tables (md and tex), row by row. `text` marks the
 * columns of names (escaped in TeX; left-aligned). */
typedef struct {
    size_t ncols;
    const char *const *head_md, *const *head_tex;
    const bool *text;
    size_t group;  /* leading columns that are blanked when they repeat */
} present_spec;

static rw_status write_md(const present_spec *ps, char *const *cells, size_t nrows, FILE *f)
{
    rw_table *t = table_new(ps->head_md, ps->ncols);
    if (!t)
        return RW_ENOMEM;
    for (size_t c = 0; c < ps->ncols; c++)
        table_set_numeric(t, (long)c, !ps->text[c]);
    rw_err err = {{0}};
    rw_status st = RW_OK;
    for (size_t r = 0; r < nrows && st == RW_OK; r++)
        st = table_add_row(t, (const char *const *)cells + r * ps->ncols, &err);
    if (st == RW_OK)
        st = table_write(t, f, RW_TF_MD);
    table_free(t);
    return st;
}

static rw_status write_tex(const present_spec *ps, char *const *cells, size_t nrows,
                           const char *comment, FILE *f)
{
    fprintf(f, "%% %s\n\\begin{tabular}{", comment);
    for (size_t c = 0; c < ps->ncols; c++)
        fputc(ps->text[c] ? 'l' : 'r', f);
    fputs("}\n\\toprule\n", f);
    for (size_t c = 0; c < ps->ncols; c++)
        fprintf(f, "%s%s", c ? " & " : "", ps->head_tex[c]);
    fputs(" \\\\\n\\midrule\n", f);
    for (size_t r = 0; r < nrows; r++) {
        char *const *row = cells + r * ps->ncols, *const *prev = row - ps->ncols;
        /* A new group of the leading columns: a little space, and the names
         * written once. */
        size_t same = 0;
        while (r > 0 && same < ps->group && strcmp(row[same], prev[same]) == 0)
            same++;
        if (r > 0 && ps->group && same < ps->group - 1)
            fputs("\\addlinespace\n", f);
        for (size_t c = 0; c < ps->ncols; c++) {
            if (c)
                fputs(" & ", f);
            if (c < same)
                continue;
            if (ps->text[c])
                table_put_text(f, row[c], RW_TF_TEX);
            else
                fputs(row[c], f);
        }
        fputs(" \\\\\n", f);
    }
    fputs("\\bottomrule\n\\end{tabular}\n", f);
    return ferror(f) ? RW_EIO : RW_OK;
}

typedef struct {
    const present_spec *ps;
    char **cells;
    size_t nrows;
    const char *comment;
    rw_tformat fmt;
} present_out;

static rw_status write_present_out(FILE *f, void *ctx)
{
    const present_out *w = ctx;
    return w->fmt == RW_TF_TEX ? write_tex(w->ps, w->cells, w->nrows, w->comment, f)
                               : write_md(w->ps, w->cells, w->nrows, f);
}

/* Writes through write_md/write_tex to path (atomically) or stdout. */
static rw_status write_present(const present_spec *ps, char **cells, size_t nrows,
                               const char *comment, const char *path, rw_tformat fmt,
                               rw_err *err)
{
    present_out w = {ps, cells, nrows, comment, fmt};
    return outfile_write(path, write_present_out, &w, err);
}

static void free_cells(char **cells, size_t n)
{
    for (size_t i = 0; cells && i < n; i++)
        free(cells[i]);
    free(cells);
}

/* Writes the plain table t (NULL: it could not be built) and frees it. */
static rw_status write_table(rw_table *t, const char *path, rw_tformat fmt, rw_err *err)
{
    if (!t)
        return rw_fail(err, RW_ENOMEM, "out of memory");
    rw_status st = table_write_path(t, path, fmt, err);
    table_free(t);
    return st;
}

rw_status compare_write_path(const rw_comparison *c, const char *path, rw_tformat fmt,
                             rw_err *err)
{
    if (fmt != RW_TF_MD && fmt != RW_TF_TEX)
        return write_table(compare_table(c), path, fmt, err);
    bool tex = fmt == RW_TF_TEX;
    enum { NC = 7 };
    static const char *const head_md[NC] = {"module", "metric", "step", "run",
                                            "n",      "mean ± 95% CI", "diff"};
    static const bool text[NC] = {true, true, false, true, false, false, false};
    /* The reference run's name, escaped for the head ("$\Delta$ vs.\ <ref>")
     * and the comment line. */
    char *ref_tex = table_text_dup(c->ref ? c->ref : "", RW_TF_TEX), *dhead = NULL;
    if (!ref_tex || asprintf(&dhead, "$\\Delta$ vs.\\ %s", ref_tex) < 0) {
        free(ref_tex);
        return rw_fail(err, RW_ENOMEM, "out of memory");
    }
    const char *head_tex[NC] = {"Module", "Metric", "Step", "Run", "$n$",
                                "Mean $\\pm$ 95\\% CI", dhead};
    present_spec ps = {NC, head_md, head_tex, text, 3};
    size_t ncells;
    char **cells = NULL;
    if (!rw_mul_size(c->nrows ? c->nrows : 1, NC, &ncells) ||
        !(cells = rw_calloc(ncells, sizeof *cells, err))) {
        free(ref_tex);
        free(dhead);
        return rw_fail(err, RW_ENOMEM, "out of memory");
    }
    rw_status st = RW_OK;
    for (size_t i = 0; i < c->nrows && st == RW_OK; i++) {
        const rw_cmp_row *r = &c->rows[i];
        char step[32], n[32], pm[96], diff[96];
        snprintf(step, sizeof step, "%lld", (long long)r->step);
        snprintf(n, sizeof n, "%zu", r->s.n);
        compare_fmt_pm(pm, r->s.mean, (r->s.hi - r->s.lo) / 2, tex);
        if (r->is_ref)
            diff[0] = '\0';
        else
            compare_fmt_num(diff, r->diff, tex, true);
        const char *v[NC] = {r->module, r->metric, step, r->run, n, pm, diff};
        for (size_t k = 0; k < NC; k++)
            if (!(cells[i * NC + k] = rw_strdup(v[k])))
                st = rw_fail(err, RW_ENOMEM, "out of memory");
    }
    char *comment = NULL;
    if (st == RW_OK &&
        asprintf(&comment, "rw-compare: mean over layers, 95%% t-interval half-width; "
                           "diff to run %s", ref_tex) < 0) {
        comment = NULL;
        st = rw_fail(err, RW_ENOMEM, "out of memory");
    }
    if (st == RW_OK)
        st = write_present(&ps, cells, c->nrows, comment, path, fmt, err);
    free_cells(cells, ncells);
    free(comment);
    free(dhead);
    free(ref_tex);
    return st;
}

rw_status compare_summary_write_path(const rw_cmp_summary *s, size_t n, const char *path,
                                     rw_tformat fmt, rw_err *err)
{
    if (fmt != RW_TF_MD && fmt != RW_TF_TEX)
        return write_table(compare_summary_table(s, n), path, fmt, err);
    bool tex = fmt == RW_TF_TEX;
    enum { NC = 12 };
    static const char *const head_md[NC] = {"module", "metric", "run", "ref", "final step",
                                            "final", "ref final", "gap", "rel. gap",
                                            "mean gap", "area", "apart from"};
    static const char *const head_tex[NC] = {"Module", "Metric", "Run", "Ref.", "Final step",
                                             "Final", "Ref.\\ final", "Gap", "Rel.\\ gap",
                                             "Mean gap", "Area", "Apart from"};
    static const bool text[NC] = {true, true, true, true, false, false,
                                  false, false, false, false, false, false};
    present_spec ps = {NC, head_md, head_tex, text, 2};
    char **cells = rw_calloc((n ? n : 1) * NC, sizeof *cells, err);
    if (!cells)
        return RW_ENOMEM;
    rw_status st = RW_OK;
    for (size_t i = 0; i < n && st == RW_OK; i++) {
        const rw_cmp_summary *x = &s[i];
        char last[32], v[6][96], dv[32];
        snprintf(last, sizeof last, "%lld", (long long)x->last_step);
        snprintf(dv, sizeof dv, "%lld", (long long)x->diverge_step);
        compare_fmt_num(v[0], x->final, tex, false);
        compare_fmt_num(v[1], x->ref_final, tex, false);
        compare_fmt_num(v[2], x->gap, tex, true);
        fmt_pct(v[3], x->rel_gap, tex);
        compare_fmt_num(v[4], x->mean_gap, tex, true);
        compare_fmt_num(v[5], x->area, tex, false);
        const char *cv[NC] = {x->module, x->metric, x->run, x->ref, x->nsteps ? last : "",
                              v[0], v[1], v[2], v[3], v[4], v[5],
                              x->diverges ? dv : (tex ? "--" : "never")};
        for (size_t k = 0; k < NC; k++)
            if (!(cells[i * NC + k] = rw_strdup(cv[k])))
                st = rw_fail(err, RW_ENOMEM, "out of memory");
    }
    if (st == RW_OK)
        st = write_present(&ps, cells, n,
                           "rw-compare --summary: final gap, mean gap and area between the "
                           "curves over the shared steps (divided by their span)",
                           path, fmt, err);
    free_cells(cells, (n ? n : 1) * NC);
    return st;
}
