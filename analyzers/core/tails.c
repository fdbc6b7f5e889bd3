/*
 * tails.c — WeightWatcher's power-law fit and per-layer metrics from a
 * spectrum (tails.h; definitions and sources in docs/tails.md).
 */
#include "analyzers/core/tails.h"

#include <math.h>
#include <stdlib.h>

const char *rw_tails_status_name(rw_tails_status s)
{
    switch (s) {
    case RW_TAILS_OK: return "ok";
    case RW_TAILS_FEW_EVALS: return "few_evals";
    case RW_TAILS_DEGENERATE: return "degenerate";
    case RW_TAILS_NONFINITE: return "nonfinite";
    }
    return "?";
}

/* ------------------------------------------------- the truncated MLE */

/* g(beta) = 1/beta - lr / (exp(beta lr) - 1): the mean of ln(x / xmin)
 * under the power law x^-(1+beta) on [xmin, xmin e^lr]; decreasing from lr
 * (beta -> -inf) through lr / 2 (beta = 0) to 0 (beta -> inf). */
static double trunc_mean(double beta, double lr)
{
    double t = beta * lr;
    if (fabs(t) < 1e-4) /* series: lr/2 - beta lr^2/12 + O(t^3) */
        return lr / 2 - beta * lr * lr / 12;
    return 1 / beta - lr / expm1(t);
}

double rw_plfit_alpha_truncated(double lbar, double lr)
{
    if (!(lr > 0) || !(lbar > 0) || !(lbar < lr) || !isfinite(lr))
        return NAN;
    /* Bracket the root, then bisect to the last bit. */
    double lo = -1, hi = 1;
    while (trunc_mean(lo, lr) < lbar && lo > -1e300)
        lo *= 2;
    while (trunc_mean(hi, lr) > lbar && hi < 1e300)
        hi *= 2;
    for (int it = 0; it < 2000; it++) {
        double mid = lo + (hi - lo) / 2;
        if (mid <= lo || mid >= hi)
            break;
        if (trunc_mean(mid, lr) > lbar)
            lo = mid;
        else
            hi = mid;
    }
    return 1 + (lo + (hi - lo) / 2);
}

/* ------------------------------------------------------- the xmin scan */

/* |1 - (x_j / x_i)^(1 - alpha) - e| with the logs of x precomputed; a
 * ratio of 1 gives 1 whatever alpha (numpy's 1 ** -inf). */
static double ks_term(const double *lx, size_t i, size_t j, double am1, double e)
{
    double d = lx[j] - lx[i];
    double cdf = d == 0 ? 0 : -expm1(-am1 * d);
    return fabs(cdf - e);
}

/* The model CDF of candidate i at x_j: 1 - (x_j / x_i)^(1 - alpha). */
static double ks_cdf(const double *lx, size_t i, size_t j, double am1)
{
    double d = lx[j] - lx[i];
    return d == 0 ? 0 : -expm1(-am1 * d);
}

/* Bounds are compared with a margin far above their rounding error (a few
 * ulps of numbers <= 1), so that no skipped block can hold a term above
 * the running maximum: the maximum found is the plain scan's, bit for bit. */
#define KS_MARGIN 1e-12
#define KS_LEAF 8 /* blocks of level 0: their terms are evaluated */

/* The blocks: level L >= 0 cuts 0..n-1 into blocks of KS_LEAF 2^L values,
 * up to the level of one block. For each block of level >= 1, [a, e], the
 * chord of ln x over it, c(j) = lx_a + g (j - a), g = (lx_e - lx_a) / (e - a),
 * and the extremes of lx_j - c(j) over the block, widened by far more than
 * their rounding: every lx_j of the block lies in [c(j) + lo, c(j) + hi]. */
typedef struct {
    const double *lx;
    size_t n;
    int top;                 /* the level of one block */
    size_t off[64];          /* level L's blocks start at off[L] in lo, hi */
    double *lo, *hi;
} ks_blocks;

static size_t ks_blocks_need(size_t n, int *top)
{
    size_t need = 0;
    int L = 0;
    for (size_t sz = KS_LEAF; sz < n; sz *= 2) {
        L++;
        need += (n + 2 * sz - 1) / (2 * sz);
    }
    *top = L;
    return need;
}

static void ks_blocks_init(ks_blocks *b, const double *lx, size_t n, double *space)
{
    size_t need = ks_blocks_need(n, &b->top);
    b->lx = lx;
    b->n = n;
    b->lo = space;
    b->hi = space + need;
    size_t at = 0;
    for (int L = 1; L <= b->top; L++) {
        size_t sz = (size_t)KS_LEAF << L;
        b->off[L] = at;
        for (size_t a = 0; a < n; a += sz, at++) {
            size_t e = a + sz < n ? a + sz - 1 : n - 1;
            double g = e > a ? (lx[e] - lx[a]) / (double)(e - a) : 0, lo = 0, hi = 0;
            for (size_t j = a; j <= e; j++) {
                double d = lx[j] - (lx[a] + g * (double)(j - a));
                lo = d < lo ? d : lo;
                hi = d > hi ? d : hi;
            }
            double pad = 1e-13 * (1 + fabs(lx[a]) + fabs(lx[e]));
            b->lo[at] = lo - pad;
            b->hi[at] = hi + pad;
        }
    }
}

/* An upper bound on candidate i's terms over j in [lo, hi], within block
 * (L, k) ([a, e]), L >= 1. With e_j = (j - i) / n_i and F(u) = 1 - e^(-(alpha
 * - 1)(u - lx_i)), increasing and concave: F(lx_j) - e_j <= F(c(j) + hi) -
 * e_j, concave in j, whose maximum over real j is found in closed form, and
 * e_j - F(lx_j) <= e_j - F(c(j) + lo), convex in j: at an end. Each side is
 * also bounded by the end points alone (both sequences increase). */
static double ks_bound(const ks_blocks *b, int L, size_t k, size_t i, size_t lo, size_t hi,
                       double am1, double ni)
{
    const double *lx = b->lx;
    size_t sz = (size_t)KS_LEAF << L, a = k * sz, e = a + sz < b->n ? a + sz - 1 : b->n - 1;
    double g = e > a ? (lx[e] - lx[a]) / (double)(e - a) : 0;
    double dhi = b->hi[b->off[L] + k], dlo = b->lo[b->off[L] + k], li = lx[i];
#define KS_F(u) (-expm1(-am1 * ((u) - li)))
#define KS_C(j) (lx[a] + g * ((j) - (double)a))
    double jl = (double)lo, jh = (double)hi, js = jl;
    if (g > 0) {
        js = (double)a + (log(am1 * g * ni) - am1 * (lx[a] + dhi - li)) / (am1 * g);
        js = js < jl ? jl : js > jh ? jh : js;
    }
    double up = KS_F(KS_C(js) + dhi) - (js - (double)i) / ni;
    double up0 = ks_cdf(lx, i, hi, am1) - (double)(lo - i) / ni;
    double dn = fmax((jl - (double)i) / ni - KS_F(KS_C(jl) + dlo),
                     (jh - (double)i) / ni - KS_F(KS_C(jh) + dlo));
    double dn0 = (double)(hi - i) / ni - ks_cdf(lx, i, lo, am1);
#undef KS_F
#undef KS_C
    return fmax(fmin(up, up0), fmin(dn, dn0));
}

typedef struct {
    int L;
    size_t k;
    double ub; /* the bound it was pushed with */
} ks_node;

/* D_i = max_{j >= i} |cdf_j - (j - i) / n_i|, or any term > best as soon as
 * one is found (the caller then drops candidate i). A branch and bound over
 * the blocks: a block whose bound (ks_bound) does not exceed the running
 * maximum is skipped, the others split in two (the more promising half
 * first) down to level 0, whose terms are evaluated. hint: where to look
 * first; *arg gets the index of the maximum. */
static double ks_scan(const ks_blocks *b, size_t i, double alpha, double best, size_t hint,
                      size_t *arg, size_t *evaluated)
{
    const double *lx = b->lx;
    size_t n = b->n;
    double ni = (double)(n - i), am1 = alpha - 1;
    double m = -1;
    size_t at = i, work = 0;
    if (hint > i && hint < n) {
        m = ks_term(lx, i, hint, am1, (double)(hint - i) / ni);
        at = hint;
        work++;
    }
    ks_node stack[2 * 64 + 4];
    size_t sp = 0;
    stack[sp++] = (ks_node){b->top, 0, INFINITY};
    while (sp > 0 && !(m > best)) {
        sp--;
        int L = stack[sp].L;
        size_t k = stack[sp].k;
        if (!(stack[sp].ub + KS_MARGIN > m))
            continue;
        size_t sz = (size_t)KS_LEAF << L, lo = k * sz, hi = lo + sz < n ? lo + sz - 1 : n - 1;
        lo = lo < i ? i : lo;
        if (L == 0) {
            for (size_t j = lo; j <= hi; j++) {
                double v = ks_term(lx, i, j, am1, (double)(j - i) / ni);
                if (v > m) {
                    m = v;
                    at = j;
                }
            }
            work += hi - lo + 1;
            continue;
        }
        /* the halves that reach i..n-1, the one of larger bound popped first */
        size_t half = sz / 2;
        double ub[2] = {-INFINITY, -INFINITY};
        for (int h = 0; h < 2; h++) {
            size_t c = 2 * k + (size_t)h, clo = c * half;
            if (clo >= n)
                continue;
            size_t chi = clo + half < n ? clo + half - 1 : n - 1;
            if (chi < i)
                continue;
            clo = clo < i ? i : clo;
            ub[h] = L - 1 > 0 ? ks_bound(b, L - 1, c, i, clo, chi, am1, ni)
                              : fmax(ks_cdf(lx, i, chi, am1) - (double)(clo - i) / ni,
                                     (double)(chi - i) / ni - ks_cdf(lx, i, clo, am1));
            work += 4;
        }
        int first = ub[0] >= ub[1] ? 0 : 1;
        for (int h = 1; h >= 0; h--) {
            int c = h ? 1 - first : first;
            if (ub[c] + KS_MARGIN > m)
                stack[sp++] = (ks_node){L - 1, 2 * k + (size_t)c, ub[c]};
        }
    }
    *evaluated += work;
    *arg = at;
    return m;
}

bool rw_plfit_compute(const double *x, size_t n, double *work, rw_plfit *r)
{
    if (n < 2)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!(x[i] > 0) || !isfinite(x[i]) || (i && x[i] < x[i - 1]))
            return false;
    double *lx = work, *suf = work + n;
    for (size_t i = 0; i < n; i++)
        lx[i] = log(x[i]);
    ks_blocks blocks;
    ks_blocks_init(&blocks, lx, n, work + 2 * n + 1);
    /* Suffix sums of ln x, compensated (Neumaier). */
    double s = 0, c = 0;
    suf[n] = 0;
    for (size_t i = n; i-- > 0;) {
        double t = s + lx[i];
        c += fabs(s) >= fabs(lx[i]) ? (s - t) + lx[i] : (lx[i] - t) + s;
        s = t;
        suf[i] = s + c;
    }
    /* Seed the best D with a coarse pass (every stride-th candidate, each
     * scan stopping once it exceeds the best so far); then the exact pass over every candidate, in order, keeps the
     * first of the smallest D (np.argmin). */
    double best = INFINITY;
    size_t besti = (size_t)-1, hint = n, arg = n, evaluated = 0;
    size_t stride = n > 64 ? n / 32 : n;
    for (size_t i = 0; i + 1 < n; i += stride) {
        double ni = (double)(n - i);
        double alpha = 1 + ni / (suf[i] - ni * lx[i]);
        if (!(alpha > 1))
            continue;
        double d = ks_scan(&blocks, i, alpha, best, hint, &arg, &evaluated);
        if (d < best) {
            best = d;
            besti = i;
            hint = arg;
        }
    }
    for (size_t i = 0; i + 1 < n; i++) {
        double ni = (double)(n - i);
        double alpha = 1 + ni / (suf[i] - ni * lx[i]);
        double d = 1; /* WWFit's D when alpha is not > 1 */
        if (alpha > 1) {
            d = ks_scan(&blocks, i, alpha, best, hint, &arg, &evaluated);
            hint = arg;
        }
        if (d < best || (d == best && i < besti)) {
            best = d;
            besti = i;
        }
    }
    bool ok = besti != (size_t)-1 && isfinite(best);
    if (ok) {
        double ni = (double)(n - besti);
        r->ixmin = besti;
        r->xmin = x[besti];
        r->xmax = x[n - 1];
        r->alpha = 1 + ni / (suf[besti] - ni * lx[besti]);
        r->D = best;
        r->num_pl_spikes = n - besti;
        r->alpha_xmax = rw_plfit_alpha_truncated(
            (suf[besti] - ni * lx[besti]) / ni, lx[n - 1] - lx[besti]);
        r->evaluated = evaluated;
        ok = isfinite(r->alpha);
    }
    return ok;
}

/* ------------------------------------------------------------ the row */

static void all_nan(rw_tails *t)
{
    double nan = NAN;
    t->num_evals = t->alpha = t->alpha_weighted = t->alpha_xmax = nan;
    t->D = t->xmin = t->xmax = t->num_pl_spikes = nan;
    t->log_norm = t->log_spectral_norm = t->log_alpha_norm = t->stable_rank = nan;
    t->matrix_rank = t->rank_loss = t->ww_entropy = nan;
    t->mp = (rw_mpfit){nan, nan, nan, nan, nan, nan};
    t->rand_distance = nan;
}

/* The fit-free metrics: weightwatcher.py apply_norm_metrics and
 * RMT_Util.matrix_rank / calc_rank_loss / matrix_entropy. ev ascending. */
static void norm_metrics(const double *sigma, const double *ev, size_t k, int64_t N, rw_tails *t)
{
    double sum = 0;
    for (size_t i = 0; i < k; i++)
        sum += ev[i];
    double lmax = ev[k - 1];
    t->log_norm = log10(sum);
    t->log_spectral_norm = log10(lmax);
    t->stable_rank = sum / lmax;
    /* matrix_rank(sv, N): #{sv > max(sv) N eps(float64)}, N the larger side */
    double tol = sigma[0] * (double)N * 2.220446049250313e-16;
    size_t rank = 0;
    for (size_t i = 0; i < k; i++)
        rank += sigma[i] > tol;
    t->matrix_rank = (double)rank;
    t->rank_loss = (double)(k - rank);
    /* matrix_entropy: p = lambda / sum + 1e-10, -sum p ln p / ln(rank + 1e-10) */
    double h = 0;
    for (size_t i = 0; i < k; i++) {
        double p = ev[i] / sum + 1e-10;
        h -= p * log(p);
    }
    t->ww_entropy = h / log((double)rank + 1e-10);
}

rw_status rw_tails_compute(const double *sigma, size_t k, int64_t m, int64_t n, rw_tails *out,
                           rw_err *err)
{
    all_nan(out);
    out->status = RW_TAILS_NONFINITE;
    if (k == 0)
        return RW_OK;
    for (size_t i = 0; i < k; i++)
        if (!isfinite(sigma[i]))
            return RW_OK;
    double *ev = rw_malloc((4 * k + 1) * sizeof *ev, err);
    if (!ev)
        return RW_ENOMEM;
    for (size_t i = 0; i < k; i++) /* ascending, as WeightWatcher sorts */
        ev[i] = sigma[k - 1 - i] * sigma[k - 1 - i];
    int64_t N = m > n ? m : n;
    norm_metrics(sigma, ev, k, N, out);
    size_t first = 0;
    while (first < k && !(ev[first] > RW_TAILS_EVALS_THRESH))
        first++;
    out->num_evals = (double)(k - first);
    rw_status st = RW_OK;
    rw_plfit f;
    if (!(ev[k - 1] > 0))
        out->status = RW_TAILS_DEGENERATE;
    else if (k < RW_TAILS_MIN_EVALS || k - first < 2)
        out->status = RW_TAILS_FEW_EVALS;
    else if (!rw_plfit_compute(ev + first, k - first, ev + k, &f))
        out->status = RW_TAILS_DEGENERATE;
    else {
        out->status = RW_TAILS_OK;
        out->alpha = f.alpha;
        out->alpha_xmax = f.alpha_xmax;
        out->D = f.D;
        out->xmin = f.xmin;
        out->xmax = f.xmax;
        out->num_pl_spikes = (double)f.num_pl_spikes;
        out->alpha_weighted = f.alpha * out->log_spectral_norm;
        double s = 0;
        for (size_t i = 0; i < k; i++)
            s += pow(ev[i], f.alpha);
        out->log_alpha_norm = log10(s);
        st = rw_mp_fit(ev, k, (double)N / (double)(m < n ? m : n), &out->mp, err);
        if (st == RW_EDATA)
            st = RW_OK; /* not defined: stays nan */
    }
    free(ev);
    return st;
}
