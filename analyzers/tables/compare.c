/*
 * compare.c — runs side by side, the engine: gathering the per-layer values,
 * means over layers, alignment, differences to a reference run (compare.h).
 * The summary is in compare_summary.c, the outputs in compare_write.c.
 *
 * The work is three sorts: per-layer values ("items") sorted by module,
 * metric, run, step, tensor are reduced to one summary per (module, metric,
 * run, step) ("points"); the points of each (module, metric) block are
 * aligned with the reference run's into output rows; the rows are sorted by
 * module, metric, step, run.
 */
#include "analyzers/tables/compare.h"

#include "analyzers/tables/intern.h"
#include "io/table_keys.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Column c of t is a metric: not a key column (table_keys.h), and a known
 * metric (so that a bad cell in it is reported rather than the column
 * skipped) or another column all of whose cells are numbers (other text
 * columns are left alone). */
static bool is_metric_col(const rw_table *t, size_t c)
{
    if (table_is_key_col(t->cols[c]))
        return false;
    return table_is_metric_name(t->cols[c]) || t->numeric[c];
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

/* The names of the items: module, run and tensor, interned. */
typedef struct {
    interner mod, run, ten;
} cmp_names;

/* One per-layer value; names by number (in byte order after renumbering). */
typedef struct {
    int64_t step;
    double v;
    int layer;       /* with layer groups (else 0) */
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
    static const rw_key_col need[] = {RW_KEY_RUN, RW_KEY_STEP, RW_KEY_TENSOR, RW_KEY_MODULE,
                                      RW_KEY_COMPONENT};
    long c[5];
    int miss = table_find_keys(t, need, 5, c);
    if (miss >= 0)
        return rw_fail(err, RW_EDATA,
                       "%s: no column '%s' (rw-compare reads per-layer tables with columns "
                       "run step tensor layer module component ...)",
                       name, table_key_names[need[miss]]);
    if (label) {
        rw_status st = single_run(t, c[0], name, err);
        if (st != RW_OK)
            return st;
    }
    bool groups = rw_layer_spec_on(o->groups);
    long clayer = table_col(t, table_key_names[RW_KEY_LAYER]);
    if (groups && clayer < 0)
        return rw_fail(err, RW_EDATA, "%s: no column 'layer' (--layer-groups groups rows by "
                       "it)", name);
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
        int64_t layer = 0;
        if (groups && (!rw_parse_i64(table_cell(t, r, (size_t)clayer), &layer) ||
                       layer < -1 || layer > 1000000)) {
            st = rw_fail(err, RW_EDATA, "%s: row %zu: layer '%s' is not a layer number", name,
                         r + 1, table_cell(t, r, (size_t)clayer));
            break;
        }
        it.layer = (int)layer;
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
                              bool *hidden_rank, rw_err *err)
{
    *hidden_rank = false;
    size_t total = o->nmetrics + 1;
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
            if (!found || table_is_key_col(o->metrics[m])) {
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
    /* cond_rank beside a requested cond, for rank-deficient modules
     * (compare.h), when a table has it */
    if (!o->keep_cond && find_name(names, n, "cond") >= 0 && find_name(names, n, "cond_rank") < 0) {
        bool have = false;
        for (size_t i = 0; i < ntables && !have; i++)
            have = table_col(tables[i], "cond_rank") >= 0;
        if (have) {
            names[n++] = "cond_rank";
            *hidden_rank = true;
        }
    }
    *out = names;
    *nout = sort_unique(names, n);
    return RW_OK;
}

/* ------------------------------------------------------- layer groups */

/* --layer-groups: each item's module becomes its group's, "<module>
 * [lo-hi]" (rw_layer_groups_label); items in no group are dropped. The
 * labels (*labels, n of them, each NULL or the caller's to free) back the
 * module interner's strings, so they live until the comparison is done. */
static void item_row(void *ctx, size_t i, const char **module, int *layer)
{
    const item_vec *iv = ((void **)ctx)[0];
    const cmp_names *nm = ((void **)ctx)[1];
    *module = nm->mod.strs[iv->v[i].mod];
    *layer = iv->v[i].layer;
}

static rw_status regroup(item_vec *iv, cmp_names *nm, const rw_layer_spec *spec,
                         char ***labels, size_t *nlabels, rw_err *err)
{
    size_t n = iv->n, kept = 0;
    char **lab = *labels = rw_calloc(n ? n : 1, sizeof *lab, err);
    *nlabels = lab ? n : 0;
    void *ctx[2] = {iv, nm};
    rw_status st = lab ? rw_layer_groups_label(spec, n, item_row, ctx, lab, err) : RW_ENOMEM;
    interner fresh = {0};
    for (size_t i = 0; i < n && st == RW_OK; i++)
        if (lab[i] && (st = intern(&fresh, lab[i], &iv->v[i].mod, err)) == RW_OK)
            iv->v[kept++] = iv->v[i];
    intern_free(st == RW_OK ? &nm->mod : &fresh);
    if (st == RW_OK) {
        nm->mod = fresh;
        iv->n = kept;
    }
    return st;
}

/* ------------------------------------------------- rank-deficient modules */

/* Same (run, step, tensor): a cond item and its cond_rank partner. */
static int cmp_key(const cmp_item *x, const cmp_item *y)
{
    if (x->run != y->run)
        return x->run < y->run ? -1 : 1;
    if (x->step != y->step)
        return x->step < y->step ? -1 : 1;
    return (x->ten > y->ten) - (x->ten < y->ten);
}

/* cond and cond_rank of one matrix disagree: num_rank < k (both nan, the
 * zero matrix, agree). */
static bool deficient(double cond, double cond_rank)
{
    return !(cond == cond_rank || (isnan(cond) && isnan(cond_rank)));
}

/* The rule of compare.h on the sorted items: marks in def[mod] the modules
 * with a cond item whose cond_rank differs, then drops their cond items and,
 * when cond_rank was not asked for (hidden), the cond_rank items of the
 * others. Items stay sorted. */
static void cond_to_rank(item_vec *iv, uint32_t m_cond, uint32_t m_rank, bool hidden, bool *def)
{
    for (size_t i = 0; i < iv->n;) {
        uint32_t mod = iv->v[i].mod;
        size_t end = i;
        while (end < iv->n && iv->v[end].mod == mod)
            end++;
        /* the module's cond items [c0, c1), then its cond_rank items [r0, r1) */
        size_t c0 = i;
        while (c0 < end && iv->v[c0].metric != m_cond)
            c0++;
        size_t c1 = c0;
        while (c1 < end && iv->v[c1].metric == m_cond)
            c1++;
        size_t r0 = c1;
        while (r0 < end && iv->v[r0].metric != m_rank)
            r0++;
        size_t r1 = r0;
        while (r1 < end && iv->v[r1].metric == m_rank)
            r1++;
        /* both ranges sorted by (run, step, tensor): walk them together */
        for (size_t a = c0, b = r0; a < c1 && b < r1 && !def[mod];) {
            int k = cmp_key(&iv->v[a], &iv->v[b]);
            if (k == 0)
                def[mod] = deficient(iv->v[a++].v, iv->v[b++].v);
            else if (k < 0)
                a++;
            else
                b++;
        }
        i = end;
    }
    size_t n = 0;
    for (size_t i = 0; i < iv->n; i++) {
        const cmp_item *x = &iv->v[i];
        bool drop = def[x->mod] ? x->metric == m_cond : hidden && x->metric == m_rank;
        if (!drop)
            iv->v[n++] = *x;
    }
    iv->n = n;
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

/* --------------------------------------------------------------- points */

/* Items of one point: one (module, metric, run, step); its layers in tensor
 * order. */
static bool item_same(const void *first, const void *x)
{
    const cmp_item *a = first, *b = x;
    return b->metric == a->metric && b->step == a->step && b->run == a->run && b->mod == a->mod;
}

static double item_value(const void *x)
{
    return ((const cmp_item *)x)->v;
}

typedef struct {
    cmp_point *pts;  /* room for one point per item */
    size_t n;
    const char *const *modules, *const *runs; /* names by (sorted) number */
} point_out;

/* The bootstrap's stream of a point: its module, run and step (stats.h). */
static uint64_t item_stream(void *ctx, const void *first)
{
    point_out *po = ctx;
    const cmp_item *a = first;
    return rw_boot_stream(po->modules[a->mod], po->runs[a->run], a->step);
}

static rw_status item_point(void *ctx, const void *first, const rw_summary *s, rw_err *err)
{
    (void)err;
    point_out *po = ctx;
    const cmp_item *a = first;
    po->pts[po->n++] = (cmp_point){.module = po->modules[a->mod], .run = po->runs[a->run],
                                   .mod = a->mod, .run_id = a->run, .metric = a->metric,
                                   .step = a->step, .s = *s};
    return RW_OK;
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

/* Every table holds the same data (table_data_label): weights are never
 * averaged or compared with gradients, nor train gradients with val ones. */
static rw_status same_data(const rw_table *const *tables, const char *const *names,
                           size_t ntables, rw_err *err)
{
    char first[256], cur[256];
    for (size_t i = 0; i < ntables; i++) {
        rw_status st = table_data_label(tables[i], names[i], i ? cur : first,
                                        sizeof first, err);
        if (st != RW_OK)
            return st;
        if (i && strcmp(cur, first) != 0)
            return rw_fail(err, RW_EDATA,
                           "%s holds %s, %s %s: rw-compare compares one kind of data at a "
                           "time",
                           names[i], cur, names[0], first);
    }
    return RW_OK;
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
    row_vec rv = {0};
    bool hidden_rank;
    bool *def = NULL;
    char **glabels = NULL; /* --layer-groups: the module names of the items */
    size_t nglabels = 0;
    rw_status st = same_data(tables, names, ntables, err);
    if (st == RW_OK)
        st = metric_names(tables, ntables, o, &metrics, &nmetrics, &hidden_rank, err);
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
    if (st == RW_OK && rw_layer_spec_on(o->groups))
        st = regroup(&iv, &nm, o->groups, &glabels, &nglabels, err);
    if (st != RW_OK)
        goto done;
    if (iv.n == 0) {
        bool globs = o->sel && (o->sel->ninclude || o->sel->nexclude);
        st = rw_fail(err, RW_EDATA, "%s%s: no rows to compare (component %s%s%s)",
                     ntables ? names[0] : "(no table)", ntables > 1 ? " and the others" : "",
                     o->component ? o->component : "weight or full",
                     globs ? ", after --include/--exclude" : "",
                     rw_layer_spec_on(o->groups) ? "; none in a --layer-groups group" : "");
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

    /* cond_rank in place of cond for rank-deficient modules (compare.h) */
    long m_cond = find_name(metrics, nmetrics, "cond");
    long m_rank = find_name(metrics, nmetrics, "cond_rank");
    if (!o->keep_cond && m_cond >= 0 && m_rank >= 0) {
        if (!(def = rw_calloc(nm.mod.n ? nm.mod.n : 1, sizeof *def, err))) {
            st = RW_ENOMEM;
            goto done;
        }
        cond_to_rank(&iv, (uint32_t)m_cond, (uint32_t)m_rank, hidden_rank, def);
        for (size_t i = 0; i < nm.mod.n; i++)
            out->ncond_ranked += def[i];
        if (out->ncond_ranked &&
            !(out->cond_ranked = rw_calloc(out->ncond_ranked, sizeof *out->cond_ranked, err))) {
            out->ncond_ranked = 0;
            st = RW_ENOMEM;
            goto done;
        }
        for (size_t i = 0, k = 0; i < nm.mod.n; i++)
            if (def[i] && !(out->cond_ranked[k++] = rw_strdup(nm.mod.strs[i]))) {
                st = rw_fail(err, RW_ENOMEM, "out of memory");
                goto done;
            }
    }

    /* Items -> points: the means over layers (stats.h). */
    point_out po = {rw_calloc(iv.n, sizeof *po.pts, err), 0, nm.mod.strs, runs};
    if (!(pts = po.pts)) {
        st = RW_ENOMEM;
        goto done;
    }
    /* The arithmetic mean: DESIGN.md's `mean` column (the figures average
     * scale-type metrics geometrically, docs/plots.md). */
    const rw_layer_groups groups = {sizeof *iv.v, item_same, item_value, item_point, &po,
                                    RW_MEAN_ARITH, o->ci, item_stream};
    if ((st = rw_layer_means(iv.v, iv.n, &groups, err)) != RW_OK)
        goto done;
    size_t npts = po.n;
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
    free(def);
    free(pts);
    free(metrics);
    for (int i = 0; i < 3; i++)
        free(rank[i]);
    intern_free(&nm.mod);
    intern_free(&nm.run);
    intern_free(&nm.ten);
    for (size_t i = 0; i < nglabels; i++)
        free(glabels[i]);
    free(glabels);
    if (st == RW_OK && o->ci)
        out->ci = *o->ci;
    out->groups = rw_layer_spec_on(o->groups);
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
    for (size_t i = 0; i < c->ncond_ranked; i++)
        free(c->cond_ranked[i]);
    free(c->cond_ranked);
    memset(c, 0, sizeof *c);
}
