/*
 * stats.c — t quantiles, summaries, the bootstrap and aggregation over
 * layers (stats.h; the layer groups are layer_groups.c's).
 *
 * The incomplete beta uses the continued fraction of Numerical Recipes /
 * Cephes (modified Lentz); the t quantile inverts the CDF by bisection on
 * [0, 1e6] to full double precision, which is plenty fast for the few dozen
 * distinct df a comparison needs.
 */
#include "analyzers/tables/stats.h"

#include "io/spectrum.h"
#include "io/table_keys.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LENTZ_TINY 1e-300

/* One step of the modified Lentz method with coefficient aa: updates c and
 * d (kept away from 0) and returns the factor d c for the fraction. */
static double lentz_step(double aa, double *c, double *d)
{
    *d = 1 + aa * *d;
    if (fabs(*d) < LENTZ_TINY)
        *d = LENTZ_TINY;
    *c = 1 + aa / *c;
    if (fabs(*c) < LENTZ_TINY)
        *c = LENTZ_TINY;
    *d = 1 / *d;
    return *d * *c;
}

static double betacf(double a, double b, double x)
{
    const double eps = 1e-16;
    double qab = a + b, qap = a + 1, qam = a - 1;
    double c = 1, d = 1 - qab * x / qap;
    if (fabs(d) < LENTZ_TINY)
        d = LENTZ_TINY;
    d = 1 / d;
    double h = d;
    for (int m = 1; m <= 1000; m++) {
        int m2 = 2 * m;
        /* the even and the odd term of the fraction */
        h *= lentz_step(m * (b - m) * x / ((qam + m2) * (a + m2)), &c, &d);
        double del = lentz_step(-(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)), &c, &d);
        h *= del;
        if (fabs(del - 1) < eps)
            break;
    }
    return h;
}

double rw_betainc(double a, double b, double x)
{
    if (x <= 0)
        return 0;
    if (x >= 1)
        return 1;
    double lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
    double bt = exp(lbt);
    if (x < (a + 1) / (a + b + 2))
        return bt * betacf(a, b, x) / a;
    return 1 - bt * betacf(b, a, 1 - x) / b;
}

double rw_t_cdf(double t, double df)
{
    if (isnan(t) || !(df > 0))
        return NAN;
    if (isinf(t))
        return t > 0 ? 1 : 0;
    double x = df / (df + t * t);
    double tail = 0.5 * rw_betainc(df / 2, 0.5, x); /* P(T > |t|) */
    return t > 0 ? 1 - tail : tail;
}

static double t_quantile(double p, double df)
{
    if (!(p > 0 && p < 1) || !(df > 0))
        return NAN;
    if (p == 0.5)
        return 0;
    if (p < 0.5)
        return -t_quantile(1 - p, df);
    double lo = 0, hi = 1;
    while (rw_t_cdf(hi, df) < p && hi < 1e300)
        hi *= 2;
    for (int i = 0; i < 200 && hi - lo > 1e-15 * hi; i++) {
        double mid = 0.5 * (lo + hi);
        if (rw_t_cdf(mid, df) < p)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

double rw_t_quantile(double p, double df)
{
    /* rw_summarize asks for the same quantile group after group (a module's
     * layer count rarely changes): the bisection runs once per new (p, df). */
    static _Thread_local double last_p = NAN, last_df = NAN, last_q = NAN;
    if (p == last_p && df == last_df)
        return last_q;
    double q = t_quantile(p, df);
    last_p = p;
    last_df = df;
    last_q = q;
    return q;
}

void rw_summarize(const double *v, size_t n, rw_summary *out)
{
    rw_summary s = {0, NAN, NAN, NAN, NAN};
    double sum = 0;
    bool inf = false;
    for (size_t i = 0; i < n; i++) {
        if (isnan(v[i]))
            continue;
        s.n++;
        sum += v[i];
        inf = inf || isinf(v[i]);
    }
    if (s.n == 0) {
        *out = s;
        return;
    }
    s.mean = sum / (double)s.n;
    if (inf) {
        *out = s; /* mean inf (or nan), spread undefined */
        return;
    }
    /* Two-pass variance for accuracy. */
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(v[i]))
            ss += (v[i] - s.mean) * (v[i] - s.mean);
    if (s.n == 1) {
        s.lo = s.hi = s.mean;
    } else {
        s.sd = sqrt(ss / (double)(s.n - 1));
        double h = rw_t_quantile(0.975, (double)(s.n - 1)) * s.sd / sqrt((double)s.n);
        s.lo = s.mean - h;
        s.hi = s.mean + h;
    }
    *out = s;
}

void rw_summarize_as(double *v, size_t n, rw_mean mean, rw_summary *out)
{
    if (mean != RW_MEAN_GEO) {
        rw_summarize(v, n, out);
        return;
    }
    bool negative = false;
    double last = NAN;
    for (size_t i = 0; i < n; i++) {
        negative = negative || v[i] < 0;
        if (!isnan(v[i])) {
            last = v[i];
            v[i] = v[i] < 0 ? 0 : log(v[i]); /* log(0) = -inf */
        }
    }
    rw_summary s;
    rw_summarize(v, n, &s);
    if (negative) {
        s.mean = s.sd = s.lo = s.hi = NAN;
    } else if (s.n == 1) {
        s.mean = s.lo = s.hi = last; /* itself, not exp(log(v)) */
    } else {
        /* exp(-inf) = 0, exp(inf) = inf, exp(nan) = nan */
        s.mean = exp(s.mean);
        s.lo = exp(s.lo);
        s.hi = exp(s.hi);
    }
    *out = s;
}

rw_metric_kind rw_metric_kind_of(const char *metric)
{
    static const struct {
        const char *name;
        rw_mean mean;
        double lo, hi;
    } kinds[] = {
        {"sigma_max", RW_MEAN_GEO, 0, INFINITY}, {"sigma_min", RW_MEAN_GEO, 0, INFINITY},
        {"cond", RW_MEAN_GEO, 0, INFINITY},      {"cond_rank", RW_MEAN_GEO, 0, INFINITY},
        {"fro", RW_MEAN_GEO, 0, INFINITY},       {"nuc", RW_MEAN_GEO, 0, INFINITY},
        {"per", RW_MEAN_ARITH, 0, 1},            {"entropy", RW_MEAN_ARITH, 0, 1},
        {"erank", RW_MEAN_ARITH, 1, INFINITY},   {"stable_rank", RW_MEAN_ARITH, 1, INFINITY},
        {"num_rank", RW_MEAN_ARITH, 0, INFINITY}, {"rel_update", RW_MEAN_ARITH, 0, INFINITY},
        {"gini", RW_MEAN_ARITH, 0, 1},           {"hoyer", RW_MEAN_ARITH, 0, 1},
        {"max_abs", RW_MEAN_GEO, 0, INFINITY},
        /* rw-tails: the MLE exponent is above 1, D a distance of CDFs */
        {"alpha", RW_MEAN_ARITH, 1, INFINITY},   {"alpha_xmax", RW_MEAN_ARITH, 1, INFINITY},
        {"D", RW_MEAN_ARITH, 0, 1},
        /* rw-sim: PWCCA is a weighted mean of correlations (CKA is not
         * bounded below when debiased) */
        {"pwcca", RW_MEAN_ARITH, 0, 1},
    };
    for (size_t i = 0; metric && i < sizeof kinds / sizeof *kinds; i++)
        if (!strcmp(metric, kinds[i].name))
            return (rw_metric_kind){kinds[i].mean, kinds[i].lo, kinds[i].hi};
    return (rw_metric_kind){RW_MEAN_ARITH, -INFINITY, INFINITY};
}

/* ------------------------------------------------------ the bootstrap */

/* splitmix64 (Steele, Lea, Flood 2014): the generator of the resamples. */
static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Uniform on [0, n), n >= 1, without bias (Lemire 2019: multiply, reject
 * the few low products that would favour some values). */
static uint32_t bounded(uint64_t *s, uint32_t n)
{
    uint64_t m = (splitmix64(s) >> 32) * (uint64_t)n;
    uint32_t low = (uint32_t)m;
    if (low < n) {
        uint32_t t = (uint32_t)(-n) % n;
        while (low < t) {
            m = (splitmix64(s) >> 32) * (uint64_t)n;
            low = (uint32_t)m;
        }
    }
    return (uint32_t)(m >> 32);
}

static uint64_t fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++) {
        h ^= c[i];
        h *= 0x100000001b3u;
    }
    return h;
}

uint64_t rw_boot_stream(const char *module, const char *run, int64_t step)
{
    uint64_t h = 0xcbf29ce484222325u;
    h = fnv1a(h, module, strlen(module) + 1);
    h = fnv1a(h, run, strlen(run) + 1);
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)((uint64_t)step >> (8 * i));
    return fnv1a(h, b, 8);
}

void rw_boot_indices(uint64_t seed, uint64_t stream, size_t n, size_t nboot, uint32_t *idx)
{
    uint64_t t = seed, s = splitmix64(&t) ^ stream;
    for (size_t i = 0; i < n * nboot; i++)
        idx[i] = bounded(&s, (uint32_t)n);
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double rw_percentile(const double *x, size_t n, double q)
{
    double pos = q * (double)(n - 1), f = floor(pos);
    size_t i = (size_t)f;
    if (i + 1 >= n)
        return x[n - 1];
    double g = pos - f, a = x[i], b = x[i + 1], d = b - a;
    return g >= 0.5 ? b - d * (1 - g) : a + d * g;
}

void rw_boot_interval(const double *v, size_t n, rw_mean mean, const uint32_t *idx,
                      size_t nboot, double *scratch, double *lo, double *hi)
{
    double *stat = scratch, *w = scratch + nboot;
    bool geo = mean == RW_MEAN_GEO;
    for (size_t i = 0; i < n; i++)
        w[i] = geo ? log(v[i]) : v[i];
    for (size_t b = 0; b < nboot; b++) {
        double sum = 0;
        for (size_t i = 0; i < n; i++)
            sum += w[idx[b * n + i]];
        stat[b] = geo ? exp(sum / (double)n) : sum / (double)n;
    }
    qsort(stat, nboot, sizeof *stat, cmp_dbl);
    *lo = rw_percentile(stat, nboot, 0.025);
    *hi = rw_percentile(stat, nboot, 0.975);
}

rw_status rw_summarize_ci(double *v, size_t n, rw_mean mean, const rw_ci_opts *ci,
                          uint64_t stream, rw_summary *out, rw_err *err)
{
    if (!ci || ci->ci != RW_CI_BOOTSTRAP) {
        rw_summarize_as(v, n, mean, out);
        return RW_OK;
    }
    /* the values, sorted: the interval does not depend on their order */
    double *w = rw_calloc(n ? n : 1, sizeof *w, err);
    if (!w)
        return RW_ENOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!isnan(v[i]))
            w[m++] = v[i];
    qsort(w, m, sizeof *w, cmp_dbl);
    rw_summarize_as(v, n, mean, out);
    rw_status st = RW_OK;
    if (m > 1 && !isnan(out->lo) && !isnan(out->hi)) {
        size_t nb = RW_BOOT_N;
        uint32_t *idx = rw_calloc(m * nb, sizeof *idx, err);
        double *scratch = idx ? rw_calloc(nb + m, sizeof *scratch, err) : NULL;
        if (idx && scratch) {
            rw_boot_indices(ci->seed, stream, m, nb, idx);
            rw_boot_interval(w, m, mean, idx, nb, scratch, &out->lo, &out->hi);
        } else {
            st = RW_ENOMEM;
        }
        free(idx);
        free(scratch);
    }
    free(w);
    return st;
}

/* ------------------------------------------------- means over layers */

rw_status rw_layer_means(const void *items, size_t n, const rw_layer_groups *g, rw_err *err)
{
    double *vals = rw_calloc(n ? n : 1, sizeof *vals, err);
    if (!vals)
        return RW_ENOMEM;
    const char *base = items;
    rw_status st = RW_OK;
    bool boot = g->ci && g->ci->ci == RW_CI_BOOTSTRAP;
    for (size_t i = 0; i < n && st == RW_OK;) {
        const void *first = base + i * g->size;
        size_t j = i;
        for (; j < n && g->same(first, base + j * g->size); j++)
            vals[j - i] = g->value(base + j * g->size);
        rw_summary s;
        st = rw_summarize_ci(vals, j - i, g->mean, g->ci,
                             boot && g->stream ? g->stream(g->ctx, first) : 0, &s, err);
        if (st == RW_OK)
            st = g->point(g->ctx, first, &s, err);
        i = j;
    }
    free(vals);
    return st;
}

/* ------------------------------------------------------ default rows */

static char *row_key(const rw_table *t, size_t r, const long *c)
{
    const char *run = table_cell(t, r, (size_t)c[0]), *step = table_cell(t, r, (size_t)c[1]),
               *tensor = table_cell(t, r, (size_t)c[2]);
    size_t n = strlen(run) + strlen(step) + strlen(tensor) + 3;
    char *k = malloc(n);
    if (k)
        snprintf(k, n, "%s\x1f%s\x1f%s", run, step, tensor);
    return k;
}

rw_status rw_default_rows(const rw_table *t, bool *keep, rw_err *err)
{
    long c[RW_NROW_KEY]; /* run, step, tensor, component */
    for (size_t r = 0; r < t->nrows; r++)
        keep[r] = false;
    int miss = table_find_keys(t, table_row_key, RW_NROW_KEY, c);
    if (miss >= 0)
        return rw_fail(err, RW_EDATA, "table has no column '%s'",
                       table_key_names[table_row_key[miss]]);
    char **full = NULL;
    size_t nfull = 0;
    bool any_lora = false;
    for (size_t r = 0; r < t->nrows; r++) {
        int comp = rw_comp_parse(table_cell(t, r, (size_t)c[3]));
        /* lora rows: decided below, once the full rows are known */
        keep[r] = comp >= 0 && rw_comp_default((rw_comp)comp, true, RW_COMP_CIRCUITS);
        any_lora = any_lora || comp == RW_COMP_LORA;
    }
    if (!any_lora)
        return RW_OK;
    rw_status st = RW_OK;
    full = rw_calloc(t->nrows ? t->nrows : 1, sizeof *full, err);
    if (!full)
        return RW_ENOMEM;
    for (size_t r = 0; r < t->nrows && st == RW_OK; r++)
        if (!strcmp(table_cell(t, r, (size_t)c[3]), "full") &&
            !(full[nfull++] = row_key(t, r, c)))
            st = rw_fail(err, RW_ENOMEM, "out of memory");
    if (st == RW_OK)
        qsort(full, nfull, sizeof *full, rw_cmp_str);
    for (size_t r = 0; r < t->nrows && st == RW_OK; r++) {
        if (strcmp(table_cell(t, r, (size_t)c[3]), "lora") != 0)
            continue;
        char *k = row_key(t, r, c);
        if (!k) {
            st = rw_fail(err, RW_ENOMEM, "out of memory");
            break;
        }
        keep[r] = rw_comp_default(RW_COMP_LORA,
                                  nfull && bsearch(&k, full, nfull, sizeof *full, rw_cmp_str),
                                  RW_COMP_CIRCUITS);
        free(k);
    }
    for (size_t i = 0; i < nfull; i++)
        free(full[i]);
    free(full);
    return st;
}

/* ---------------------------------------------------------- aggregation */

typedef struct {
    size_t row;
    const char *run, *module, *component;
    int64_t step;
    double v;
} agg_item;

static int cmp_item(const void *a, const void *b)
{
    const agg_item *x = a, *y = b;
    int r = strcmp(x->module, y->module);
    if (!r)
        r = strcmp(x->component, y->component);
    if (!r && x->step != y->step)
        r = x->step < y->step ? -1 : 1;
    if (!r)
        r = strcmp(x->run, y->run);
    if (!r)
        r = (x->row > y->row) - (x->row < y->row);
    return r;
}

/* rw_aggregate's points: a layer of one (step, run, module, component). */
static bool agg_same(const void *a, const void *b)
{
    const agg_item *x = a, *y = b;
    return x->step == y->step && !strcmp(x->run, y->run) && !strcmp(x->module, y->module) &&
           !strcmp(x->component, y->component);
}

static double agg_value(const void *item)
{
    return ((const agg_item *)item)->v;
}

typedef struct {
    rw_agg *a;
    size_t n;
} agg_out;

static rw_status agg_point(void *ctx, const void *first, const rw_summary *s, rw_err *err)
{
    agg_out *ao = ctx;
    const agg_item *it = first;
    rw_agg *g = &ao->a[ao->n++];
    g->run = rw_strdup(it->run);
    g->module = rw_strdup(it->module);
    g->component = rw_strdup(it->component);
    g->step = it->step;
    g->s = *s;
    if (!g->run || !g->module || !g->component)
        return rw_fail(err, RW_ENOMEM, "out of memory");
    return RW_OK;
}

static uint64_t agg_stream(void *ctx, const void *first)
{
    (void)ctx;
    const agg_item *it = first;
    return rw_boot_stream(it->module, it->run, it->step);
}

rw_status rw_aggregate(const rw_table *t, const char *metric, const char *component,
                       rw_mean mean, const rw_ci_opts *ci, rw_agg **out, size_t *nout,
                       rw_err *err)
{
    *out = NULL;
    *nout = 0;
    long cm = table_col(t, metric);
    if (cm < 0)
        return rw_fail(err, RW_ENOTFOUND, "table has no column '%s'", metric);
    static const rw_key_col need[] = {RW_KEY_RUN, RW_KEY_STEP, RW_KEY_MODULE, RW_KEY_COMPONENT};
    long c[4];
    int miss = table_find_keys(t, need, 4, c);
    if (miss >= 0)
        return rw_fail(err, RW_EDATA, "table has no column '%s'", table_key_names[need[miss]]);
    agg_item *it = rw_calloc(t->nrows ? t->nrows : 1, sizeof *it, err);
    bool *dflt = rw_calloc(t->nrows ? t->nrows : 1, sizeof *dflt, err);
    if (!it || !dflt) {
        free(it);
        free(dflt);
        return RW_ENOMEM;
    }
    if (!component && rw_default_rows(t, dflt, err) != RW_OK) {
        free(it);
        free(dflt);
        return RW_EDATA;
    }
    size_t ni = 0;
    rw_status st = RW_OK;
    for (size_t r = 0; r < t->nrows; r++) {
        const char *comp = table_cell(t, r, (size_t)c[3]);
        bool take = component ? strcmp(comp, component) == 0 : dflt[r];
        if (!take)
            continue;
        int64_t step;
        double v;
        if (!rw_parse_i64(table_cell(t, r, (size_t)c[1]), &step)) {
            st = rw_fail(err, RW_EDATA, "row %zu: step '%s' is not a whole number", r + 2,
                         table_cell(t, r, (size_t)c[1]));
            break;
        }
        if (!rw_parse_double(table_cell(t, r, (size_t)cm), &v)) {
            st = rw_fail(err, RW_EDATA, "row %zu: %s '%s' is not a number", r + 2, metric,
                         table_cell(t, r, (size_t)cm));
            break;
        }
        it[ni++] = (agg_item){r, table_cell(t, r, (size_t)c[0]), table_cell(t, r, (size_t)c[2]),
                              comp, step, v};
    }
    free(dflt);
    if (st != RW_OK) {
        free(it);
        return st;
    }
    qsort(it, ni, sizeof *it, cmp_item);
    agg_out ao = {rw_calloc(ni ? ni : 1, sizeof *ao.a, err), 0};
    if (!ao.a) {
        free(it);
        return RW_ENOMEM;
    }
    const rw_layer_groups g = {sizeof *it, agg_same, agg_value, agg_point, &ao, mean, ci,
                               agg_stream};
    st = rw_layer_means(it, ni, &g, err);
    free(it);
    if (st == RW_OK) {
        *out = ao.a;
        *nout = ao.n;
    } else {
        rw_agg_free(ao.a, ao.n);
    }
    return st;
}

void rw_agg_free(rw_agg *a, size_t n)
{
    for (size_t i = 0; a && i < n; i++) {
        free(a[i].run);
        free(a[i].module);
        free(a[i].component);
    }
    free(a);
}
