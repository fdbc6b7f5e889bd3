/*
 * diff.c — tables compared within tolerances: key detection, hash join,
 * value rules, directory pairing, the report (diff.h).
 *
 * Per pair of tables: the baseline's rows go into an open-addressing hash
 * index on their key; the current rows go into their own (to catch repeated
 * keys) and probe the baseline's. Values are compared as text first (equal
 * text is equal), and parsed only when the text differs.
 */
#include "analyzers/tables/diff.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ----------------------------------------------------------- table kinds */

enum { LAYOUT_LAYER, LAYOUT_COMPARE, LAYOUT_SUMMARY, NLAYOUT };
#define NKEY 4
static const char *const layout_keys[NLAYOUT][NKEY] = {
    {"run", "step", "tensor", "component"},
    {"module", "metric", "step", "run"},
    {"module", "metric", "run", "ref"},
};
static const char *const layout_names[NLAYOUT] = {"a per-layer table", "an rw-compare table",
                                                  "an rw-compare --summary table"};
/* Per-layer tables' descriptive columns: compared as text. */
static const char *const layer_labels[] = {"layer", "module", "rows", "cols", "dtype"};

static bool is_label(int layout, const char *name)
{
    if (layout != LAYOUT_LAYER)
        return false;
    for (size_t i = 0; i < sizeof layer_labels / sizeof *layer_labels; i++)
        if (strcmp(name, layer_labels[i]) == 0)
            return true;
    return false;
}

static bool is_key(int layout, const char *name)
{
    for (int i = 0; i < NKEY; i++)
        if (strcmp(name, layout_keys[layout][i]) == 0)
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
        if ((k[i] = table_col(t, layout_keys[l][i])) < 0)
            return rw_fail(err, RW_EDATA, "%s: no column '%s' (%s is keyed by %s, %s, %s, %s)",
                           name, layout_keys[l][i], layout_names[l], layout_keys[l][0],
                           layout_keys[l][1], layout_keys[l][2], layout_keys[l][3]);
    *layout = l;
    return RW_OK;
}

/* -------------------------------------------------------------- the state */

typedef struct {
    const char *name; /* a table's column name */
    long cb, cc;      /* column in the baseline / current table, -1 when absent */
    bool label;
    bool skip;        /* tolerance inf */
    double rtol, atol;
} dcol;

typedef struct {
    char *name;       /* in the report (owned) */
    char *bpath, *cpath; /* the files, in error messages (owned) */
    rw_table *b, *c;  /* owned; NULL on the side that lacks the table */
    long kb[NKEY], kc[NKEY];
    bool skipped;     /* in a directory, neither side has key columns */
} dpair;

typedef struct {
    rw_difference d;
    uint32_t pair;
    uint32_t col;     /* order of the column within its table, for ties */
    size_t rb, rc;    /* rows; SIZE_MAX when none */
} drec;

struct rw_diff {
    rw_diff_opts o;
    dpair *pairs;
    size_t npairs, pcap;
    drec *recs;
    size_t nrecs, rcap;
    rw_diff_counts counts;
    bool *metric_seen;   /* per o.metrics: some table has it */
};

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

/* diff_add, with the files' paths for messages. */
static rw_status add_pair(rw_diff *d, const char *name, const char *bpath, const char *cpath,
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
    d->counts.tables++;
    return compare_pair(d, pi, err);
}

rw_status diff_add(rw_diff *d, const char *name, rw_table *base, rw_table *cur, rw_err *err)
{
    return add_pair(d, name, name, name, base, cur, false, err);
}

/* ------------------------------------------------------- files and dirs */

typedef struct {
    const char *path;
    rw_table *t;
    rw_status st;
    rw_err err;
} read_job;

static void *read_job_run(void *arg)
{
    read_job *j = arg;
    j->st = table_read(j->path, &j->t, &j->err);
    return NULL;
}

/* Reads two tables, the baseline on a second thread. */
static rw_status read_two(const char *bpath, const char *cpath, rw_table **b, rw_table **c,
                          rw_err *err)
{
    read_job jb = {.path = bpath}, jc = {.path = cpath};
    pthread_t th;
    bool threaded = pthread_create(&th, NULL, read_job_run, &jb) == 0;
    if (!threaded)
        read_job_run(&jb);
    read_job_run(&jc);
    if (threaded)
        pthread_join(th, NULL);
    *b = jb.t;
    *c = jc.t;
    if (jb.st != RW_OK || jc.st != RW_OK) {
        *err = jb.st != RW_OK ? jb.err : jc.err;
        table_free(jb.t);
        table_free(jc.t);
        *b = *c = NULL;
        return jb.st != RW_OK ? jb.st : jc.st;
    }
    return RW_OK;
}

/* "a/b", or b when a is empty. New string; NULL when out of memory. */
static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = malloc(n);
    if (s)
        snprintf(s, n, "%s%s%s", a, *a ? "/" : "", b);
    return s;
}

static bool is_table_name(const char *name)
{
    size_t n = strlen(name);
    return (n > 4 && strcmp(name + n - 4, ".tsv") == 0) ||
           (n > 4 && strcmp(name + n - 4, ".csv") == 0);
}

typedef struct {
    char **v;
    size_t n, cap;
} str_list;

static void str_list_free(str_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

/* Appends the table files under root/rel (relative paths), depth-first. */
static rw_status list_tables(const char *root, const char *rel, int depth, str_list *out,
                             rw_err *err)
{
    char *dir = *rel ? join(root, rel) : rw_strdup(root);
    if (!dir)
        return rw_fail(err, RW_ENOMEM, "out of memory");
    DIR *dh = opendir(dir);
    if (!dh) {
        rw_status st = rw_fail(err, RW_EIO, "%s: %s", dir, strerror(errno));
        free(dir);
        return st;
    }
    rw_status st = RW_OK;
    struct dirent *e;
    while (st == RW_OK && (e = readdir(dh))) {
        if (e->d_name[0] == '.')
            continue;
        char *sub = join(rel, e->d_name), *full = join(dir, e->d_name);
        if (!sub || !full) {
            free(sub);
            free(full);
            st = rw_fail(err, RW_ENOMEM, "out of memory");
            break;
        }
        struct stat sb;
        if (stat(full, &sb) == 0 && S_ISDIR(sb.st_mode) && depth < 16) {
            st = list_tables(root, sub, depth + 1, out, err);
        } else if (stat(full, &sb) == 0 && S_ISREG(sb.st_mode) && is_table_name(e->d_name)) {
            if (out->n == out->cap) {
                size_t ncap = out->cap ? 2 * out->cap : 16;
                char **nv = rw_realloc(out->v, ncap * sizeof *nv, err);
                if (!nv) {
                    st = RW_ENOMEM;
                    free(sub);
                    free(full);
                    break;
                }
                out->v = nv;
                out->cap = ncap;
            }
            out->v[out->n++] = sub;
            sub = NULL;
        }
        free(sub);
        free(full);
    }
    closedir(dh);
    free(dir);
    return st;
}

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static rw_status diff_dirs(rw_diff *d, const char *base, const char *cur, rw_err *err)
{
    str_list lb = {0}, lc = {0};
    rw_status st = list_tables(base, "", 0, &lb, err);
    if (st == RW_OK)
        st = list_tables(cur, "", 0, &lc, err);
    if (st == RW_OK && lb.n == 0 && lc.n == 0)
        st = rw_fail(err, RW_EDATA, "%s, %s: no tables (*.tsv, *.csv) in either directory",
                     base, cur);
    if (st == RW_OK) {
        if (lb.n)
            qsort(lb.v, lb.n, sizeof *lb.v, cmp_strp);
        if (lc.n)
            qsort(lc.v, lc.n, sizeof *lc.v, cmp_strp);
    }
    for (size_t i = 0, j = 0; st == RW_OK && (i < lb.n || j < lc.n);) {
        int c = i == lb.n ? 1 : j == lc.n ? -1 : strcmp(lb.v[i], lc.v[j]);
        const char *name = c <= 0 ? lb.v[i] : lc.v[j];
        char *bp = c <= 0 ? join(base, name) : NULL, *cp = c >= 0 ? join(cur, name) : NULL;
        if ((c <= 0 && !bp) || (c >= 0 && !cp)) {
            free(bp);
            free(cp);
            st = rw_fail(err, RW_ENOMEM, "out of memory");
            break;
        }
        rw_table *tb = NULL, *tc = NULL;
        if (bp && cp)
            st = read_two(bp, cp, &tb, &tc, err);
        else if (bp)
            st = table_read(bp, &tb, err);
        else
            st = table_read(cp, &tc, err);
        if (st == RW_OK)
            st = add_pair(d, name, bp ? bp : name, cp ? cp : name, tb, tc, true, err);
        free(bp);
        free(cp);
        if (c <= 0)
            i++;
        if (c >= 0)
            j++;
    }
    str_list_free(&lb);
    str_list_free(&lc);
    return st;
}

rw_status diff_paths(rw_diff *d, const char *base, const char *cur, rw_err *err)
{
    struct stat sb, sc;
    if (stat(base, &sb) != 0)
        return rw_fail(err, RW_EIO, "%s: %s", base, strerror(errno));
    if (stat(cur, &sc) != 0)
        return rw_fail(err, RW_EIO, "%s: %s", cur, strerror(errno));
    bool db = S_ISDIR(sb.st_mode), dc = S_ISDIR(sc.st_mode);
    if (db != dc)
        return rw_fail(err, RW_EUSAGE, "%s is %s but %s is %s: compare two files or two "
                       "directories", base, db ? "a directory" : "a file", cur,
                       dc ? "a directory" : "a file");
    if (db)
        return diff_dirs(d, base, cur, err);
    rw_table *tb, *tc;
    rw_status st = read_two(base, cur, &tb, &tc, err);
    if (st != RW_OK)
        return st;
    char *name = rw_basename(cur, false);
    if (!name) {
        table_free(tb);
        table_free(tc);
        return rw_fail(err, RW_ENOMEM, "out of memory");
    }
    st = add_pair(d, name, base, cur, tb, tc, false, err);
    free(name);
    return st;
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

char *diff_key(const rw_diff *d, size_t i)
{
    const drec *r = &d->recs[i];
    const dpair *p = &d->pairs[r->pair];
    if (r->rb == SIZE_MAX && r->rc == SIZE_MAX)
        return rw_strdup("");
    const rw_table *t = r->rb != SIZE_MAX ? p->b : p->c;
    const long *k = r->rb != SIZE_MAX ? p->kb : p->kc;
    size_t row = r->rb != SIZE_MAX ? r->rb : r->rc;
    char *s = NULL;
    if (asprintf(&s, "%s=%s %s=%s %s=%s %s=%s", t->cols[k[0]], table_cell(t, row, (size_t)k[0]),
                 t->cols[k[1]], table_cell(t, row, (size_t)k[1]), t->cols[k[2]],
                 table_cell(t, row, (size_t)k[2]), t->cols[k[3]],
                 table_cell(t, row, (size_t)k[3])) < 0)
        return NULL;
    return s;
}

/* --------------------------------------------------------------- report */

static const char *kind_name(rw_diff_kind k)
{
    static const char *const names[] = {"table_missing", "table_extra", "column_missing",
                                        "column_extra",  "value",       "label",
                                        "row_missing",   "row_extra"};
    return names[k];
}

/* "%.3g" of a finite number, "nan"/"inf" otherwise. */
static char *g3(char *buf, double x, bool sign)
{
    if (isnan(x))
        return strcpy(buf, "nan");
    snprintf(buf, 32, sign ? "%+.3g" : "%.3g", x);
    return buf;
}

/* The tolerance settings, one line. */
static void put_tolerance(const rw_diff *d, FILE *f, bool md)
{
    char a[32], b[32];
    fprintf(f, md ? "|current − baseline| ≤ atol + rtol·|baseline|, rtol %s, atol %s"
                  : "|current - baseline| <= atol + rtol*|baseline|: rtol %s, atol %s",
            g3(a, d->o.rtol, false), g3(b, d->o.atol, false));
    for (size_t i = 0; i < d->o.ntols; i++) {
        const rw_tol *t = &d->o.tols[i];
        fprintf(f, "%s%s: rtol %s", i ? ", " : "; ", t->metric, g3(a, t->rtol, false));
        if (!isnan(t->atol))
            fprintf(f, " atol %s", g3(b, t->atol, false));
    }
    if (d->o.allow_missing)
        fputs(md ? "; rows, columns and tables on one side allowed"
                 : "; rows, columns and tables on one side allowed (--allow-missing)",
              f);
}

/* How a report writes a name: escaped by table.h's rule for the format
 * (text reports take the tsv form, so that a name cannot split a line), or
 * as is (NAME_RAW) into a cell that table_write escapes. */
enum { NAME_RAW = -1 };

static void put_name(FILE *f, const char *s, int esc)
{
    if (esc == NAME_RAW)
        fputs(s, f);
    else
        table_put_text(f, s, (rw_tformat)esc);
}

/* What the difference is, in words (text and md), names escaped by esc. */
static void put_what(const rw_diff *d, size_t i, FILE *f, int esc)
{
    const rw_difference *x = &d->recs[i].d;
    char a[32], b[32], c[32];
    switch (x->kind) {
    case RW_DK_TABLE_MISSING: fputs("table only in the baseline", f); break;
    case RW_DK_TABLE_EXTRA: fputs("table only in the current tables", f); break;
    case RW_DK_COL_MISSING:
    case RW_DK_COL_EXTRA:
        fputs("column ", f);
        put_name(f, x->column, esc);
        fputs(x->kind == RW_DK_COL_MISSING ? " only in the baseline"
                                           : " only in the current table", f);
        break;
    case RW_DK_ROW_MISSING: fputs("row only in the baseline", f); break;
    case RW_DK_ROW_EXTRA: fputs("row only in the current table", f); break;
    case RW_DK_LABEL:
    case RW_DK_VALUE:
        put_name(f, x->column, esc);
        fputs(": baseline ", f);
        put_name(f, *x->base || x->kind == RW_DK_LABEL ? x->base : "(empty)", esc);
        fputs(", current ", f);
        put_name(f, *x->cur || x->kind == RW_DK_LABEL ? x->cur : "(empty)", esc);
        if (x->kind == RW_DK_LABEL)
            break;
        if (!isnan(x->diff))
            fprintf(f, " (diff %s, %s%%; tolerance %s)", g3(a, x->diff, true),
                    g3(b, 100 * x->rel_diff, true), g3(c, x->tol, false));
        break;
    }
}

static void put_counts(const rw_diff *d, FILE *f, const char *pre, const char *sep, int esc)
{
    const rw_diff_counts *n = &d->counts;
    if (d->npairs > 1 || n->tables_missing || n->tables_extra) {
        fprintf(f, "%stables%s%zu compared, %zu only in the baseline, %zu only in the current",
                pre, sep, n->tables, n->tables_missing, n->tables_extra);
        if (n->tables_skipped) {
            fprintf(f, "; %zu skipped, without key columns:", n->tables_skipped);
            for (size_t i = 0; i < d->npairs; i++)
                if (d->pairs[i].skipped) {
                    fputc(' ', f);
                    put_name(f, d->pairs[i].name, esc);
                }
        }
        fputc('\n', f);
    }
    fprintf(f, "%srows%s%zu matched, %zu only in the baseline, %zu only in the current\n", pre,
            sep, n->rows_matched, n->rows_missing, n->rows_extra);
    if (n->cols_missing || n->cols_extra)
        fprintf(f, "%scolumns%s%zu only in the baseline, %zu only in the current\n", pre, sep,
                n->cols_missing, n->cols_extra);
    fprintf(f, "%svalues%s%zu compared, %zu beyond tolerance", pre, sep, n->values,
            n->values_beyond);
    if (n->labels_differ)
        fprintf(f, "; %zu descriptive cells differ", n->labels_differ);
    fputc('\n', f);
}

static void write_text(const rw_diff *d, FILE *f, size_t max_show, const char *bn,
                       const char *cn)
{
    size_t nd = d->counts.differences;
    fputs("rw-diff: ", f);
    put_name(f, bn, RW_TF_TSV);
    fputs(" vs ", f);
    put_name(f, cn, RW_TF_TSV);
    if (nd)
        fprintf(f, ": %zu difference%s\n", nd, nd == 1 ? "" : "s");
    else
        fputs(": no differences\n", f);
    put_counts(d, f, "  ", ": ", RW_TF_TSV);
    fputs("  tolerance: ", f);
    put_tolerance(d, f, false);
    fputc('\n', f);
    if (!d->nrecs)
        return;
    size_t show = max_show && max_show < d->nrecs ? max_show : d->nrecs;
    fprintf(f, "differences, worst first:\n");
    for (size_t i = 0; i < show; i++) {
        char *key = diff_key(d, i);
        fputs("  ", f);
        put_name(f, d->recs[i].d.table, RW_TF_TSV);
        fputs(": ", f);
        if (key && *key) {
            put_name(f, key, RW_TF_TSV);
            fputs(": ", f);
        }
        put_what(d, i, f, RW_TF_TSV);
        fputc('\n', f);
        free(key);
    }
    if (show < d->nrecs)
        fprintf(f, "  ... and %zu more (--show 0 lists them all)\n", d->nrecs - show);
}

static rw_status write_md(const rw_diff *d, FILE *f, size_t max_show, const char *bn,
                          const char *cn)
{
    size_t nd = d->counts.differences;
    if (nd)
        fprintf(f, "### rw-diff: %zu difference%s\n\n", nd, nd == 1 ? "" : "s");
    else
        fputs("### rw-diff: no differences\n\n", f);
    /* Names escaped, not in code spans: a backtick in one would end the span. */
    fputs("Baseline ", f);
    put_name(f, bn, RW_TF_MD);
    fputs(", current ", f);
    put_name(f, cn, RW_TF_MD);
    fputs(".\n\n", f);
    put_counts(d, f, "- ", ": ", RW_TF_MD);
    fputs("- tolerance: ", f);
    put_tolerance(d, f, true);
    fputs("\n", f);
    if (!d->nrecs)
        return ferror(f) ? RW_EIO : RW_OK;
    fputc('\n', f);
    static const char *const cols[] = {"table", "key", "column", "baseline", "current",
                                       "diff",  "rel. diff", "tolerance"};
    rw_table *t = table_new(cols, 8);
    if (!t)
        return RW_ENOMEM;
    for (long c = 3; c < 8; c++)
        table_set_numeric(t, c, true);
    size_t show = max_show && max_show < d->nrecs ? max_show : d->nrecs;
    rw_err err = {{0}};
    rw_status st = RW_OK;
    for (size_t i = 0; i < show && st == RW_OK; i++) {
        const rw_difference *x = &d->recs[i].d;
        char *key = diff_key(d, i), a[32];
        char *what = NULL;
        size_t wl = 0;
        const char *base = x->base, *cur = x->cur, *column = x->column ? x->column : "";
        if (x->kind != RW_DK_VALUE && x->kind != RW_DK_LABEL) {
            FILE *m = open_memstream(&what, &wl);
            if (m) {
                put_what(d, i, m, NAME_RAW);
                fclose(m);
            }
            column = what ? what : "";
            base = cur = "";
        }
        bool num = x->kind == RW_DK_VALUE && !isnan(x->diff);
        char dv[32], rel[40], tol[32];
        if (num) {
            g3(dv, x->diff, true);
            snprintf(rel, sizeof rel, "%s%%", g3(a, 100 * x->rel_diff, true));
            g3(tol, x->tol, false);
        }
        const char *cells[] = {x->table, key ? key : "", column, base, cur,
                               num ? dv : "", num ? rel : "", num ? tol : ""};
        st = table_add_row(t, cells, &err);
        free(key);
        free(what);
    }
    if (st == RW_OK)
        st = table_write(t, f, RW_TF_MD);
    table_free(t);
    if (st == RW_OK && show < d->nrecs)
        fprintf(f, "\n… and %zu more.\n", d->nrecs - show);
    return st == RW_OK && ferror(f) ? RW_EIO : st;
}

/* A derived number (diff, tolerance) to 6 significant digits, which is all
 * they carry; the cells themselves go out as written. null when not finite
 * (JSON has no nan). */
static void json_num(FILE *f, double x)
{
    if (isfinite(x))
        fprintf(f, "%.6g", x);
    else
        fputs("null", f);
}

/* Streams the report: {"baseline", "current", "equal", "counts", "tolerance",
 * "differences": [...]}; differences worst first. */
static rw_status write_json(const rw_diff *d, FILE *f, const char *bn, const char *cn)
{
    const rw_diff_counts *n = &d->counts;
    fputs("{\n  \"baseline\": ", f);
    table_put_text(f, bn, RW_TF_JSON);
    fputs(",\n  \"current\": ", f);
    table_put_text(f, cn, RW_TF_JSON);
    fprintf(f, ",\n  \"equal\": %s,\n  \"counts\": {", n->differences ? "false" : "true");
    const struct { const char *k; size_t v; } kv[] = {
        {"differences", n->differences}, {"tables", n->tables},
        {"tables_missing", n->tables_missing}, {"tables_extra", n->tables_extra},
        {"tables_skipped", n->tables_skipped},
        {"rows_matched", n->rows_matched}, {"rows_missing", n->rows_missing},
        {"rows_extra", n->rows_extra}, {"columns_missing", n->cols_missing},
        {"columns_extra", n->cols_extra}, {"values", n->values},
        {"values_beyond", n->values_beyond}, {"labels_differ", n->labels_differ},
    };
    for (size_t i = 0; i < sizeof kv / sizeof *kv; i++)
        fprintf(f, "%s\"%s\": %zu", i ? ", " : "", kv[i].k, kv[i].v);
    fputs("},\n  \"tolerance\": {\"rtol\": ", f);
    json_num(f, d->o.rtol);
    fputs(", \"atol\": ", f);
    json_num(f, d->o.atol);
    fputs(", \"metrics\": {", f);
    for (size_t i = 0; i < d->o.ntols; i++) {
        fputs(i ? ", " : "", f);
        table_put_text(f, d->o.tols[i].metric, RW_TF_JSON);
        fputs(": {\"rtol\": ", f);
        json_num(f, d->o.tols[i].rtol);
        fputs(", \"atol\": ", f);
        json_num(f, isnan(d->o.tols[i].atol) ? d->o.atol : d->o.tols[i].atol);
        fputc('}', f);
    }
    fprintf(f, "}, \"allow_missing\": %s},\n  \"differences\": [",
            d->o.allow_missing ? "true" : "false");
    for (size_t i = 0; i < d->nrecs; i++) {
        const drec *r = &d->recs[i];
        const rw_difference *x = &r->d;
        fputs(i ? ",\n    {\"kind\": " : "\n    {\"kind\": ", f);
        table_put_text(f, kind_name(x->kind), RW_TF_JSON);
        fputs(", \"table\": ", f);
        table_put_text(f, x->table, RW_TF_JSON);
        if (r->rb != SIZE_MAX || r->rc != SIZE_MAX) {
            const dpair *p = &d->pairs[r->pair];
            const rw_table *t = r->rb != SIZE_MAX ? p->b : p->c;
            const long *k = r->rb != SIZE_MAX ? p->kb : p->kc;
            size_t row = r->rb != SIZE_MAX ? r->rb : r->rc;
            fputs(", \"key\": {", f);
            for (int j = 0; j < NKEY; j++) {
                fputs(j ? ", " : "", f);
                table_put_text(f, t->cols[k[j]], RW_TF_JSON);
                fputs(": ", f);
                table_put_text(f, table_cell(t, row, (size_t)k[j]), RW_TF_JSON);
            }
            fputc('}', f);
        }
        if (x->column) {
            fputs(", \"column\": ", f);
            table_put_text(f, x->column, RW_TF_JSON);
        }
        if (x->kind == RW_DK_VALUE || x->kind == RW_DK_LABEL) {
            fputs(", \"baseline\": ", f);
            table_put_text(f, x->base, RW_TF_JSON);
            fputs(", \"current\": ", f);
            table_put_text(f, x->cur, RW_TF_JSON);
        }
        if (x->kind == RW_DK_VALUE) {
            fputs(", \"diff\": ", f);
            json_num(f, x->diff);
            fputs(", \"rel_diff\": ", f);
            json_num(f, x->rel_diff);
            fputs(", \"tolerance\": ", f);
            json_num(f, x->tol);
        }
        fputc('}', f);
    }
    fputs(d->nrecs ? "\n  ]\n}\n" : "]\n}\n", f);
    return ferror(f) ? RW_EIO : RW_OK;
}

rw_status diff_write(const rw_diff *d, FILE *f, rw_diff_format fmt, size_t max_show,
                     const char *base_name, const char *cur_name)
{
    switch (fmt) {
    case RW_DF_TEXT:
        write_text(d, f, max_show, base_name, cur_name);
        return ferror(f) ? RW_EIO : RW_OK;
    case RW_DF_MD:
        return write_md(d, f, max_show, base_name, cur_name);
    case RW_DF_JSON:
        return write_json(d, f, base_name, cur_name);
    }
    return RW_EUSAGE;
}
