/*
 * diff.c — rw-diff's engine: tables compared within tolerances (key
 * detection, hash join, value rules, ordering of the differences; diff.h).
 * Files and directories are read in diff_walk.c, the report is written in
 * diff_report.c; the state they share is in diff_impl.h.
 *
 * Per pair of tables: the baseline's rows go into an open-addressing hash
 * index on their key; the current rows go into their own (to catch repeated
 * keys) and probe the baseline's. Values are compared as text first (equal
 * text is equal), and parsed only when the text differs.
 */
#include "analyzers/tables/diff_impl.h"

#include "analyzers/tables/compare.h"
#include "io/table_keys.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ----------------------------------------------------------- table kinds */

enum { LAYOUT_LAYER, LAYOUT_COMPARE, LAYOUT_SUMMARY, NLAYOUT };
_Static_assert(NKEY == RW_NROW_KEY && NKEY == RW_CMP_NKEY, "four key columns per kind");
static const char *const layout_names[NLAYOUT] = {"a per-layer table", "an rw-compare table",
                                                  "an rw-compare --summary table"};

/* Key column i of a layout: a per-layer table's row key (table_keys.h), the
 * first columns of rw-compare's tables (compare.h). */
static const char *layout_key(int layout, int i)
{
    switch (layout) {
    case LAYOUT_LAYER: return table_key_names[table_row_key[i]];
    case LAYOUT_COMPARE: return compare_cols[i];
    default: return compare_summary_cols[i];
    }
}

/* Per-layer tables' descriptive columns (the key columns that are not the
 * row's key: layer, module, rows, cols, dtype): compared as text. */
static bool is_label(int layout, const char *name)
{
    return layout == LAYOUT_LAYER && table_is_key_col(name) && !table_is_row_key(name);
}

static bool is_key(int layout, const char *name)
{
    for (int i = 0; i < NKEY; i++)
        if (strcmp(name, layout_key(layout, i)) == 0)
            return true;
    return false;
}

/* The layout of t, and its key columns in k; RW_EDATA naming a missing one. */
static rw_status find_layout(const rw_table *t, const char *name, int *layout, long *k,
                             rw_err *err)
{
    int l = table_col(t, "metric") < 0 ? LAYOUT_LAYER
            : table_col(t, "step") >= 0 ? LAYOUT_COMPARE
                                         : LAYOUT_SUMMARY;
    for (int i = 0; i < NKEY; i++)
        if ((k[i] = table_col(t, layout_key(l, i))) < 0)
            return rw_fail(err, RW_EDATA, "%s: no column '%s' (%s is keyed by %s, %s, %s, %s)",
                           name, layout_key(l, i), layout_names[l], layout_key(l, 0),
                           layout_key(l, 1), layout_key(l, 2), layout_key(l, 3));
    *layout = l;
    return RW_OK;
}

/* ------------------------------------------------------- columns compared */

typedef struct {
    const char *name; /* a table's column name */
    long cb, cc;      /* column in the baseline / current table, -1 when absent */
    bool label;
    bool skip;        /* tolerance inf */
    double rtol, atol;
} dcol;

/* -------------------------------------------------------------- the state */

rw_diff *diff_new(const rw_diff_opts *o)
{
    rw_diff *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->o = *o;
    d->metric_seen = calloc(o->nmetrics + 1, sizeof *d->metric_seen);
    if (!d->metric_seen) {
        diff_free(d);
        return NULL;
    }
    return d;
}

void diff_free(rw_diff *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < d->npairs; i++) {
        free(d->pairs[i].name);
        free(d->pairs[i].bpath);
        free(d->pairs[i].cpath);
        table_free(d->pairs[i].b);
        table_free(d->pairs[i].c);
    }
    free(d->pairs);
    free(d->recs);
    free(d->metric_seen);
    free(d);
}

const rw_diff_counts *diff_counts(const rw_diff *d) { return &d->counts; }
size_t diff_ndiff(const rw_diff *d) { return d->nrecs; }
const rw_difference *diff_get(const rw_diff *d, size_t i) { return &d->recs[i].d; }

static rw_status push_rec(rw_diff *d, const drec *r, rw_err *err)
{
    if (rw_grow(&d->recs, d->nrecs, &d->rcap, sizeof *d->recs, err) != RW_OK)
        return RW_ENOMEM;
    d->recs[d->nrecs++] = *r;
    return RW_OK;
}

/* A record of a structural difference (no values). */
static rw_status push_struct(rw_diff *d, rw_diff_kind kind, uint32_t pair, const char *column,
                             uint32_t col, size_t rb, size_t rc, rw_err *err)
{
    drec r = {.d = {.kind = kind, .table = d->pairs[pair].name, .column = column, .diff = NAN,
                    .rel_diff = NAN, .tol = NAN, .score = INFINITY},
              .pair = pair, .col = col, .rb = rb, .rc = rc};
    return push_rec(d, &r, err);
}

/* ------------------------------------------------------------- hash index */

typedef struct {
    uint64_t hash;
    size_t row1;     /* row + 1; 0: empty */
} dslot;

typedef struct {
    dslot *slot;     /* open addressing, linear probing, load <= 1/2 */
    size_t mask;
} dindex;

static uint64_t hash_row(const rw_table *t, size_t r, const long *k)
{
    uint64_t h = 14695981039346656037ULL; /* FNV-1a, cells separated by 0x1f */
    for (int i = 0; i < NKEY; i++) {
        for (const unsigned char *p = (const unsigned char *)table_cell(t, r, (size_t)k[i]); *p;
             p++)
            h = (h ^ *p) * 1099511628211ULL;
        h = (h ^ 0x1f) * 1099511628211ULL;
    }
    h ^= h >> 33; /* murmur3's finaliser: FNV's low bits alone are poor */
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

static bool same_key(const rw_table *a, size_t ra, const long *ka, const rw_table *b, size_t rb,
                     const long *kb)
{
    for (int i = 0; i < NKEY; i++)
        if (strcmp(table_cell(a, ra, (size_t)ka[i]), table_cell(b, rb, (size_t)kb[i])) != 0)
            return false;
    return true;
}

static rw_status index_init(dindex *ix, size_t nrows, rw_err *err)
{
    size_t cap = 16;
    while (cap < 2 * nrows) {
        if (cap > SIZE_MAX / 4)
            return rw_fail(err, RW_ENOMEM, "table too large");
        cap *= 2;
    }
    ix->mask = cap - 1;
    ix->slot = rw_calloc(cap, sizeof *ix->slot, err);
    return ix->slot ? RW_OK : RW_ENOMEM;
}

static void index_free(dindex *ix)
{
    free(ix->slot);
}

/* The row of t (indexed by ix) with the key of row r of u, or SIZE_MAX. */
static size_t index_find(const dindex *ix, const rw_table *t, const long *kt, uint64_t h,
                         const rw_table *u, size_t r, const long *ku)
{
    for (size_t i = h & ix->mask; ix->slot[i].row1; i = (i + 1) & ix->mask) {
        size_t row = ix->slot[i].row1 - 1;
        if (ix->slot[i].hash == h && same_key(t, row, kt, u, r, ku))
            return row;
    }
    return SIZE_MAX;
}

/* Inserts row r (hash h); a row with the same key already there is an error. */
static rw_status index_put(dindex *ix, const rw_table *t, const long *k, size_t r, uint64_t h,
                           const char *name, rw_err *err)
{
    size_t i = h & ix->mask;
    for (; ix->slot[i].row1; i = (i + 1) & ix->mask) {
        size_t row = ix->slot[i].row1 - 1;
        if (ix->slot[i].hash == h && same_key(t, row, k, t, r, k))
            return rw_fail(err, RW_EDATA,
                           "%s: rows %zu and %zu have the same key (%s=%s %s=%s %s=%s %s=%s)",
                           name, row + 1, r + 1, t->cols[k[0]], table_cell(t, r, (size_t)k[0]),
                           t->cols[k[1]], table_cell(t, r, (size_t)k[1]), t->cols[k[2]],
                           table_cell(t, r, (size_t)k[2]), t->cols[k[3]],
                           table_cell(t, r, (size_t)k[3]));
    }
    ix->slot[i] = (dslot){h, r + 1};
    return RW_OK;
}

/* ---------------------------------------------------------------- values */

/* Rows that the selection keeps: tensor (else module) by --include/--exclude,
 * component by --component. NULL when every row is kept. */
static rw_status select_rows(const rw_diff_opts *o, const rw_table *t, bool **out, rw_err *err)
{
    *out = NULL;
    bool globs = o->sel && (o->sel->ninclude || o->sel->nexclude);
    long cn = table_col(t, "tensor");
    if (cn < 0)
        cn = table_col(t, "module");
    long cc = table_col(t, "component");
    if ((!globs || cn < 0) && (!o->component || cc < 0))
        return RW_OK;
    bool *keep = rw_calloc(t->nrows ? t->nrows : 1, sizeof *keep, err);
    if (!keep)
        return RW_ENOMEM;
    for (size_t r = 0; r < t->nrows; r++)
        keep[r] = (!globs || cn < 0 || rw_select_match(o->sel, table_cell(t, r, (size_t)cn))) &&
                  (!o->component || cc < 0 ||
                   strcmp(table_cell(t, r, (size_t)cc), o->component) == 0);
    *out = keep;
    return RW_OK;
}

/* A metric column must hold numbers or empty cells. */
static rw_status check_metric(const rw_table *t, long c, const long *k, const char *name,
                              rw_err *err)
{
    if (t->numeric[c])
        return RW_OK;
    for (size_t r = 0; r < t->nrows; r++) {
        const char *s = table_cell(t, r, (size_t)c);
        double v;
        if (*s && !rw_parse_double(s, &v))
            return rw_fail(err, RW_EDATA,
                           "%s: row %zu (%s=%s %s=%s %s=%s %s=%s): %s '%s' is not a number",
                           name, r + 1, t->cols[k[0]], table_cell(t, r, (size_t)k[0]),
                           t->cols[k[1]], table_cell(t, r, (size_t)k[1]), t->cols[k[2]],
                           table_cell(t, r, (size_t)k[2]), t->cols[k[3]],
                           table_cell(t, r, (size_t)k[3]), t->cols[c], s);
    }
    return RW_OK;
}

static long find_str(const char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], s) == 0)
            return (long)i;
    return -1;
}

/* The columns to compare of a pair, in baseline order then the current's
 * own; records columns on one side only. */
static rw_status pair_columns(rw_diff *d, uint32_t pi, int layout, dcol **out, size_t *nout,
                              rw_err *err)
{
    const dpair *p = &d->pairs[pi];
    const rw_table *tabs[2] = {p->b, p->c};
    const long *keys[2] = {p->kb, p->kc};
    size_t cap = p->b->ncols + p->c->ncols;
    dcol *cols = rw_calloc(cap ? cap : 1, sizeof *cols, err);
    if (!cols)
        return RW_ENOMEM;
    size_t n = 0;
    rw_status st = RW_OK;
    for (int side = 0; side < 2 && st == RW_OK; side++) {
        const rw_table *t = tabs[side], *other = tabs[1 - side];
        for (size_t c = 0; c < t->ncols && st == RW_OK; c++) {
            const char *name = t->cols[c];
            long oc = table_col(other, name);
            if (is_key(layout, name) || (side == 1 && oc >= 0))
                continue; /* keys; columns of both sides were taken from the baseline */
            dcol *x = &cols[n];
            *x = (dcol){.name = name, .cb = side ? oc : (long)c, .cc = side ? (long)c : oc,
                        .label = is_label(layout, name), .rtol = d->o.rtol, .atol = d->o.atol};
            if (!x->label && d->o.metrics && d->o.nmetrics) {
                long m = find_str(d->o.metrics, d->o.nmetrics, name);
                if (m < 0)
                    continue;
                d->metric_seen[m] = true;
            }
            for (size_t i = 0; i < d->o.ntols; i++)
                if (strcmp(d->o.tols[i].metric, name) == 0) {
                    x->rtol = d->o.tols[i].rtol;
                    if (!isnan(d->o.tols[i].atol))
                        x->atol = d->o.tols[i].atol;
                }
            x->skip = isinf(x->rtol) || isinf(x->atol);
            if (!x->label) {
                if (x->cb >= 0)
                    st = check_metric(p->b, x->cb, keys[0], p->bpath, err);
                if (st == RW_OK && x->cc >= 0)
                    st = check_metric(p->c, x->cc, keys[1], p->cpath, err);
            }
            if (oc < 0) {
                bool missing = side == 0;
                if (missing)
                    d->counts.cols_missing++;
                else
                    d->counts.cols_extra++;
                if (!d->o.allow_missing && st == RW_OK) {
                    d->counts.differences++;
                    st = push_struct(d, missing ? RW_DK_COL_MISSING : RW_DK_COL_EXTRA, pi, name,
                                     (uint32_t)c, SIZE_MAX, SIZE_MAX, err);
                }
                continue;
            }
            n++;
        }
    }
    if (st != RW_OK) {
        free(cols);
        return st;
    }
    *out = cols;
    *nout = n;
    return RW_OK;
}

/* Compares the cells a (current) and b (baseline) of metric column x; true
 * when they agree, else fills r's numbers. */
static bool values_agree(const dcol *x, const char *a, const char *b, rw_difference *r)
{
    if (strcmp(a, b) == 0 || x->skip)
        return true;
    r->diff = r->rel_diff = r->tol = NAN;
    r->score = INFINITY;
    double va, vb;
    bool na = *a && rw_parse_double(a, &va), nb = *b && rw_parse_double(b, &vb);
    if (!na || !nb)
        return false; /* empty against a value (both are validated numbers or empty) */
    if (isnan(va) || isnan(vb))
        return isnan(va) && isnan(vb);
    if (isinf(va) || isinf(vb))
        return va == vb;
    double d = fabs(va - vb), tol = x->atol + x->rtol * fabs(vb);
    if (d <= tol)
        return true;
    r->diff = va - vb;
    r->rel_diff = (va - vb) / fabs(vb);
    r->tol = tol;
    r->score = tol > 0 ? d / tol : INFINITY;
    return false;
}

/* ------------------------------------------------------------- one pair */

static rw_status compare_pair(rw_diff *d, uint32_t pi, rw_err *err)
{
    dpair *p = &d->pairs[pi];
    int lb, lc;
    rw_status st = find_layout(p->b, p->bpath, &lb, p->kb, err);
    if (st == RW_OK)
        st = find_layout(p->c, p->cpath, &lc, p->kc, err);
    if (st != RW_OK)
        return st;
    if (lb != lc)
        return rw_fail(err, RW_EDATA, "%s is %s, %s %s", p->bpath, layout_names[lb], p->cpath,
                       layout_names[lc]);
    dcol *cols = NULL;
    size_t ncols = 0;
    bool *keep_b = NULL, *keep_c = NULL, *matched = NULL;
    dindex ib = {0}, ic = {0};
    if ((st = pair_columns(d, pi, lb, &cols, &ncols, err)) != RW_OK)
        goto done;
    if ((st = select_rows(&d->o, p->b, &keep_b, err)) != RW_OK ||
        (st = select_rows(&d->o, p->c, &keep_c, err)) != RW_OK)
        goto done;
    if ((st = index_init(&ib, p->b->nrows, err)) != RW_OK ||
        (st = index_init(&ic, p->c->nrows, err)) != RW_OK)
        goto done;
    if (!(matched = rw_calloc(p->b->nrows ? p->b->nrows : 1, sizeof *matched, err))) {
        st = RW_ENOMEM;
        goto done;
    }
    const rw_table *tb = p->b, *tc = p->c;
    for (size_t r = 0; r < tb->nrows && st == RW_OK; r++)
        if (!keep_b || keep_b[r])
            st = index_put(&ib, tb, p->kb, r, hash_row(tb, r, p->kb), p->bpath, err);
    for (size_t r = 0; r < tc->nrows && st == RW_OK; r++) {
        if (keep_c && !keep_c[r])
            continue;
        uint64_t h = hash_row(tc, r, p->kc);
        if ((st = index_put(&ic, tc, p->kc, r, h, p->cpath, err)) != RW_OK)
            break;
        size_t rb = index_find(&ib, tb, p->kb, h, tc, r, p->kc);
        if (rb == SIZE_MAX) {
            d->counts.rows_extra++;
            if (!d->o.allow_missing) {
                d->counts.differences++;
                st = push_struct(d, RW_DK_ROW_EXTRA, pi, NULL, 0, SIZE_MAX, r, err);
            }
            continue;
        }
        matched[rb] = true;
        d->counts.rows_matched++;
        for (size_t k = 0; k < ncols && st == RW_OK; k++) {
            const dcol *x = &cols[k];
            const char *a = table_cell(tc, r, (size_t)x->cc);
            const char *b = table_cell(tb, rb, (size_t)x->cb);
            drec rec = {.d = {.table = p->name, .column = x->name, .base = b, .cur = a},
                        .pair = pi, .col = (uint32_t)x->cb, .rb = rb, .rc = r};
            if (x->label) {
                if (strcmp(a, b) == 0)
                    continue;
                rec.d.kind = RW_DK_LABEL;
                rec.d.diff = rec.d.rel_diff = rec.d.tol = NAN;
                rec.d.score = INFINITY;
                d->counts.labels_differ++;
            } else {
                d->counts.values++;
                /* rw-compare tables: a metric is a row (key "metric"), so its
                 * tolerance applies to that row's numbers. */
                dcol rowtol = *x;
                if (lb != LAYOUT_LAYER) {
                    const char *metric = table_cell(tb, rb, (size_t)p->kb[1]);
                    for (size_t i = 0; i < d->o.ntols; i++)
                        if (strcmp(d->o.tols[i].metric, metric) == 0) {
                            rowtol.rtol = d->o.tols[i].rtol;
                            if (!isnan(d->o.tols[i].atol))
                                rowtol.atol = d->o.tols[i].atol;
                        }
                    rowtol.skip = rowtol.skip || isinf(rowtol.rtol) || isinf(rowtol.atol);
                }
                if (values_agree(&rowtol, a, b, &rec.d))
                    continue;
                rec.d.kind = RW_DK_VALUE;
                d->counts.values_beyond++;
            }
            d->counts.differences++;
            st = push_rec(d, &rec, err);
        }
    }
    for (size_t r = 0; r < tb->nrows && st == RW_OK; r++) {
        if (matched[r] || (keep_b && !keep_b[r]))
            continue;
        d->counts.rows_missing++;
        if (!d->o.allow_missing) {
            d->counts.differences++;
            st = push_struct(d, RW_DK_ROW_MISSING, pi, NULL, 0, r, SIZE_MAX, err);
        }
    }
done:
    free(cols);
    free(keep_b);
    free(keep_c);
    free(matched);
    index_free(&ib);
    index_free(&ic);
    return st;
}

rw_status diff_add_pair(rw_diff *d, const char *name, const char *bpath, const char *cpath,
                          rw_table *base, rw_table *cur, bool skip_unkeyed, rw_err *err)
{
    if (rw_grow(&d->pairs, d->npairs, &d->pcap, sizeof *d->pairs, err) != RW_OK) {
        table_free(base);
        table_free(cur);
        return RW_ENOMEM;
    }
    dpair *p = &d->pairs[d->npairs];
    memset(p, 0, sizeof *p);
    p->b = base;
    p->c = cur;
    p->name = rw_strdup(name);
    p->bpath = rw_strdup(bpath);
    p->cpath = rw_strdup(cpath);
    if (!p->name || !p->bpath || !p->cpath) {
        free(p->name);
        free(p->bpath);
        free(p->cpath);
        table_free(base);
        table_free(cur);
        return rw_fail(err, RW_ENOMEM, "out of memory");
    }
    uint32_t pi = (uint32_t)d->npairs++;
    if (!base || !cur) {
        bool missing = !cur;
        if (missing)
            d->counts.tables_missing++;
        else
            d->counts.tables_extra++;
        if (d->o.allow_missing)
            return RW_OK;
        d->counts.differences++;
        return push_struct(d, missing ? RW_DK_TABLE_MISSING : RW_DK_TABLE_EXTRA, pi, NULL, 0,
                           SIZE_MAX, SIZE_MAX, err);
    }
    if (skip_unkeyed) {
        int l;
        long k[NKEY];
        rw_err ignored;
        if (find_layout(base, bpath, &l, k, &ignored) != RW_OK &&
            find_layout(cur, cpath, &l, k, &ignored) != RW_OK) {
            /* Not a table of metrics (a listing, say): say so, compare nothing. */
            p->skipped = true;
            table_free(p->b);
            table_free(p->c);
            p->b = p->c = NULL;
            d->counts.tables_skipped++;
            return RW_OK;
        }
    }
    /* weights are never diffed against gradients (nor train against val):
     * the same keys, other numbers */
    char bd[256], cd[256];
    rw_status st = table_data_label(base, bpath, bd, sizeof bd, err);
    if (st == RW_OK)
        st = table_data_label(cur, cpath, cd, sizeof cd, err);
    if (st == RW_OK && strcmp(bd, cd) != 0)
        st = rw_fail(err, RW_EDATA, "%s holds %s, %s %s: rw-diff compares tables of one kind "
                     "of data", bpath, bd, cpath, cd);
    if (st != RW_OK)
        return st;
    d->counts.tables++;
    return compare_pair(d, pi, err);
}

rw_status diff_add(rw_diff *d, const char *name, rw_table *base, rw_table *cur, rw_err *err)
{
    return diff_add_pair(d, name, name, name, base, cur, false, err);
}


/* ------------------------------------------------------------- ordering */

static int kind_rank(rw_diff_kind k)
{
    switch (k) {
    case RW_DK_TABLE_MISSING: case RW_DK_TABLE_EXTRA: return 0;
    case RW_DK_COL_MISSING: case RW_DK_COL_EXTRA: return 1;
    case RW_DK_VALUE: case RW_DK_LABEL: return 2;
    default: return 3;
    }
}

/* Sort keys: kind rank, score (descending), then the order found (table,
 * row, column). */
typedef struct {
    int rank;
    double score;
    size_t idx;
} sort_key;

static int cmp_keys(const void *pa, const void *pb)
{
    const sort_key *a = pa, *b = pb;
    if (a->rank != b->rank)
        return a->rank < b->rank ? -1 : 1;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return (a->idx > b->idx) - (a->idx < b->idx);
}

rw_status diff_finish(rw_diff *d, rw_err *err)
{
    if (d->nrecs > 1) {
        /* Sorting small keys, then permuting once, beats moving records. */
        sort_key *k = rw_calloc(d->nrecs, sizeof *k, err);
        drec *sorted = rw_calloc(d->nrecs, sizeof *sorted, err);
        if (!k || !sorted) {
            free(k);
            free(sorted);
            return RW_ENOMEM;
        }
        for (size_t i = 0; i < d->nrecs; i++)
            k[i] = (sort_key){kind_rank(d->recs[i].d.kind), d->recs[i].d.score, i};
        qsort(k, d->nrecs, sizeof *k, cmp_keys);
        for (size_t i = 0; i < d->nrecs; i++)
            sorted[i] = d->recs[k[i].idx];
        free(k);
        free(d->recs);
        d->recs = sorted;
        d->rcap = d->nrecs;
    }
    for (size_t i = 0; i < d->o.nmetrics; i++)
        if (!d->metric_seen[i])
            return rw_fail(err, RW_EUSAGE, "--metrics: no table has a metric column '%s'",
                           d->o.metrics[i]);
    return RW_OK;
}

size_t diff_rec_row(const rw_diff *d, const drec *r, const rw_table **t, const long **k)
{
    const dpair *p = &d->pairs[r->pair];
    if (r->rb == SIZE_MAX && r->rc == SIZE_MAX)
        return SIZE_MAX;
    *t = r->rb != SIZE_MAX ? p->b : p->c;
    *k = r->rb != SIZE_MAX ? p->kb : p->kc;
    return r->rb != SIZE_MAX ? r->rb : r->rc;
}

char *diff_key(const rw_diff *d, size_t i)
{
    const rw_table *t;
    const long *k;
    size_t row = diff_rec_row(d, &d->recs[i], &t, &k);
    if (row == SIZE_MAX)
        return rw_strdup("");
    char *s = NULL;
    if (asprintf(&s, "%s=%s %s=%s %s=%s %s=%s", t->cols[k[0]], table_cell(t, row, (size_t)k[0]),
                 t->cols[k[1]], table_cell(t, row, (size_t)k[1]), t->cols[k[2]],
                 table_cell(t, row, (size_t)k[2]), t->cols[k[3]],
                 table_cell(t, row, (size_t)k[3])) < 0)
        return NULL;
    return s;
}
