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
 * ulps of numbers <= 1), so that no skipped range can hold a term above
 * the running maximum: the maximum found is the plain scan's, bit for bit. */
#define KS_MARGIN 1e-12
#define KS_LEAF 8

/* D_i = max_{j >= i} |cdf_j - (j - i) / n_i|, or any term > best as soon as
 * one is found (the caller then drops candidate i). A branch and bound over
 * the ranges [p, q] of j: cdf and (j - i) / n_i both increase with j, so a
 * range's terms are at most max(cdf_q - e_p, e_q - cdf_p); a range whose
 * bound does not exceed the running maximum is skipped, the others halved
 * (the more promising half first) down to KS_LEAF terms, evaluated.
 * hint: where to look first; *arg gets the index of the maximum. */
static double ks_scan(const double *lx, size_t n, size_t i, double alpha, double best,
                      size_t hint, size_t *arg, size_t *evaluated)
{
    double ni = (double)(n - i), am1 = alpha - 1;
    double m = -1;
    size_t at = i, work = 0;
    if (hint > i && hint < n) {
        m = ks_term(lx, i, hint, am1, (double)(hint - i) / ni);
        at = hint;
        work++;
    }
    size_t stack[2 * 64 + 4][2];
    size_t sp = 0;
    stack[sp][0] = i;
    stack[sp++][1] = n - 1;
    while (sp > 0 && !(m > best)) {
        size_t p = stack[--sp][0], q = stack[sp][1];
        if (q - p < KS_LEAF) {
            for (size_t j = p; j <= q; j++) {
                double v = ks_term(lx, i, j, am1, (double)(j - i) / ni);
                if (v > m) {
                    m = v;
                    at = j;
                }
            }
            work += q - p + 1;
            continue;
        }
        size_t mid = p + (q - p) / 2;
        double ub[2];
        size_t r[2][2] = {{p, mid}, {mid + 1, q}};
        for (int h = 0; h < 2; h++) {
            size_t a = r[h][0], b = r[h][1];
            double ub1 = ks_cdf(lx, i, b, am1) - (double)(a - i) / ni;
            double ub2 = (double)(b - i) / ni - ks_cdf(lx, i, a, am1);
            ub[h] = ub1 > ub2 ? ub1 : ub2;
        }
        work += 4;
        int first = ub[0] >= ub[1] ? 0 : 1; /* popped first: pushed last */
        for (int h = 1; h >= 0; h--) {
            int c = h ? 1 - first : first;
            if (ub[c] + KS_MARGIN > m) {
                stack[sp][0] = r[c][0];
                stack[sp++][1] = r[c][1];
            }
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
        double d = ks_scan(lx, n, i, alpha, best, hint, &arg, &evaluated);
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
            d = ks_scan(lx, n, i, alpha, best, hint, &arg, &evaluated);
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
    double *ev = rw_malloc((3 * k + 1) * sizeof *ev, err);
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
