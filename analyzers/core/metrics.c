/*
 * metrics.c — the metrics of DESIGN.md from a spectrum, and pico-analyze's
 * metrics of a matrix's entries (metrics.h).
 */
#include "analyzers/core/metrics.h"

#include "io/table_keys.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double rw_dtype_unit_roundoff(rw_dtype dtype)
{
    return rw_dtype_eps(dtype) / 2; /* round to nearest: half the spacing at 1 */
}

double rw_rank_tol(double sigma_max, int64_t m, int64_t n, rw_dtype dtype, double noise)
{
    double storage = rw_dtype_unit_roundoff(dtype) * noise;
    double arith = sigma_max * (double)(m > n ? m : n) * ldexp(1.0, -52);
    return storage > arith ? storage : arith;
}

void rw_metrics_compute(const double *sigma, size_t k, int64_t m, int64_t n, rw_dtype dtype,
                        double noise, rw_metrics *out)
{
    rw_metrics r;
    r.gini = r.hoyer = r.max_abs = NAN; /* not of the spectrum */
    r.sigma_max = k ? sigma[0] : NAN;
    r.sigma_min = k ? sigma[k - 1] : NAN;
    double sum = 0, sum2 = 0;
    bool bad = k == 0;
    for (size_t i = 0; i < k; i++) {
        if (isnan(sigma[i]))
            bad = true;
        sum += sigma[i];
        sum2 += sigma[i] * sigma[i];
    }
    if (bad) {
        r.sigma_max = r.sigma_min = r.cond = r.num_rank = r.cond_rank = NAN;
        r.erank = r.per = r.stable_rank = r.entropy = r.fro = r.nuc = NAN;
        r.gini = r.hoyer = r.max_abs = NAN;
        *out = r;
        return;
    }
    r.fro = sqrt(sum2);
    r.nuc = sum;

    double tol = rw_rank_tol(r.sigma_max, m, n, dtype, isnan(noise) ? r.fro : noise);
    size_t nr = 0;
    while (nr < k && sigma[nr] > tol)
        nr++;
    r.num_rank = (double)nr;

    if (r.sigma_max == 0) {
        /* The zero matrix: no direction to measure (DESIGN.md). */
        r.cond = r.cond_rank = r.erank = r.per = r.stable_rank = r.entropy = NAN;
        *out = r;
        return;
    }
    r.cond = r.sigma_min > 0 ? r.sigma_max / r.sigma_min : INFINITY;
    /* u N <= u sqrt(k) sigma_max for a stored matrix: nr >= 1 unless it is 0
     * or the noise bound exceeds sigma_max (a product lost in round-off). */
    r.cond_rank = nr ? r.sigma_max / sigma[nr - 1] : NAN;

    double h = 0, hq = 0;
    for (size_t i = 0; i < k; i++) {
        double p = sigma[i] / sum, q = sigma[i] * sigma[i] / sum2;
        if (p > 0)
            h -= p * log(p);
        if (q > 0)
            hq -= q * log(q);
    }
    r.erank = exp(h);
    r.per = r.erank / (double)k;
    r.stable_rank = sum2 / (r.sigma_max * r.sigma_max);
    /* rankwatch's spectral entropy, normalised by ln k (undefined, nan, for
     * k = 1). Not WeightWatcher's entropy, which divides by ln of its numerical
     * rank and adds 1e-10 to each q: README, metrics. */
    r.entropy = k > 1 ? hq / log((double)k) : NAN;
    *out = r;
}

/* ----------------------------------------------------- entry metrics */

/* Neumaier's compensated sum: s + c is the running total. */
typedef struct {
    double s, c;
} ksum;

static void ksum_add(ksum *k, double x)
{
    double t = k->s + x;
    k->c += fabs(k->s) >= fabs(x) ? (k->s - t) + x : (x - t) + k->s;
    k->s = t;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Sorts the n values of a, all >= +0 and finite, ascending. Such doubles
 * order as their bit patterns read as unsigned integers do, so an LSD radix
 * sort on the bits (six passes of 11 bits, a pass skipped when every value
 * has the same digit there) gives the one ascending sequence qsort gives, 10
 * to 20 times faster than qsort with a comparison callback (which took
 * three quarters of rw-metrics' time on the pico runs); qsort when the
 * scratch cannot be had. */
static void sort_nonneg(double *a, size_t n)
{
    uint64_t *x = malloc(n * sizeof *x), *t = malloc(n * sizeof *t);
    size_t *cnt = calloc(6 * 2048, sizeof *cnt);
    if (!x || !t || !cnt) {
        free(x), free(t), free(cnt);
        qsort(a, n, sizeof *a, cmp_double);
        return;
    }
    memcpy(x, a, n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        for (int p = 0; p < 6; p++)
            cnt[p * 2048 + (x[i] >> (11 * p) & 2047)]++;
    for (int p = 0; p < 6; p++) {
        size_t *c = cnt + p * 2048;
        if (c[x[0] >> (11 * p) & 2047] == n)
            continue; /* one digit for all: the order stands */
        for (size_t d = 0, sum = 0; d < 2048; d++) {
            size_t k = c[d];
            c[d] = sum;
            sum += k;
        }
        for (size_t i = 0; i < n; i++)
            t[c[x[i] >> (11 * p) & 2047]++] = x[i];
        uint64_t *sw = x;
        x = t;
        t = sw;
    }
    memcpy(a, x, n * sizeof *a);
    free(x), free(t), free(cnt);
}

void rw_entry_stats_of(double *a, size_t n, rw_entry_stats *out)
{
    out->gini = out->hoyer = out->max_abs = NAN;
    ksum l1 = {0, 0}, l2 = {0, 0};
    double mx = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(a[i]))
            return;
        a[i] = fabs(a[i]);
        mx = a[i] > mx ? a[i] : mx;
        ksum_add(&l1, a[i]);
        ksum_add(&l2, a[i] * a[i]);
    }
    if (n == 0)
        return;
    out->max_abs = mx;
    double sum = l1.s + l1.c, fro = sqrt(l2.s + l2.c), dn = (double)n;
    /* pico-analyze: 0 by convention for the zero matrix; hoyer divides by
     * ||a||_2 and by sqrt(n) - 1 (nan here where those are 0) */
    if (sum == 0) {
        out->gini = 0;
        return;
    }
    out->hoyer = n > 1 ? (sqrt(dn) - sum / fro) / (sqrt(dn) - 1) : NAN;
    sort_nonneg(a, n);
    ksum g = {0, 0};
    for (size_t i = 0; i < n; i++) /* (2i - n - 1) x_(i), i from 1 */
        ksum_add(&g, (2.0 * (double)(i + 1) - dn - 1) * a[i]);
    out->gini = (g.s + g.c) / (dn * sum);
}

/* ------------------------------------------------------------- names */

/* DESIGN.md's names are table_keys.h's list of its metric columns, whose
 * order rw_metric_id follows; the entry metrics are rw-metrics' own. */
_Static_assert(RW_M_NSPECTRAL == RW_METRIC_REL_UPDATE, "rw_metric_id is table_metric_names' order");

static const char *const entry_names[RW_M_COUNT - RW_M_NSPECTRAL] = {"gini", "hoyer", "max_abs"};

const char *rw_metric_name(rw_metric_id id)
{
    if ((unsigned)id < RW_M_NSPECTRAL)
        return table_metric_names[id];
    return (unsigned)id < RW_M_COUNT ? entry_names[id - RW_M_NSPECTRAL] : "?";
}

const rw_metric_id rw_all_metrics[RW_M_COUNT] = {
    RW_M_SIGMA_MAX, RW_M_SIGMA_MIN, RW_M_COND,        RW_M_NUM_RANK,
    RW_M_COND_RANK, RW_M_ERANK,     RW_M_PER,         RW_M_STABLE_RANK,
    RW_M_ENTROPY,   RW_M_FRO,       RW_M_NUC,         RW_M_GINI,
    RW_M_HOYER,     RW_M_MAX_ABS,
};

double rw_metric_get(const rw_metrics *m, rw_metric_id id)
{
    switch (id) {
    case RW_M_SIGMA_MAX: return m->sigma_max;
    case RW_M_SIGMA_MIN: return m->sigma_min;
    case RW_M_COND: return m->cond;
    case RW_M_NUM_RANK: return m->num_rank;
    case RW_M_COND_RANK: return m->cond_rank;
    case RW_M_ERANK: return m->erank;
    case RW_M_PER: return m->per;
    case RW_M_STABLE_RANK: return m->stable_rank;
    case RW_M_ENTROPY: return m->entropy;
    case RW_M_FRO: return m->fro;
    case RW_M_NUC: return m->nuc;
    case RW_M_GINI: return m->gini;
    case RW_M_HOYER: return m->hoyer;
    case RW_M_MAX_ABS: return m->max_abs;
    default: return NAN;
    }
}
