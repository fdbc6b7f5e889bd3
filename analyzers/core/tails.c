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

/* D_i, or any value > best as soon as the scan exceeds best (the caller
 * then drops candidate i). hint: where to look first; *arg gets the index
 * of the maximum. */
static double ks_scan(const double *lx, size_t n, size_t i, double alpha, double best,
                      size_t hint, size_t *arg, size_t *evaluated)
{
    double ni = (double)(n - i), am1 = alpha - 1;
    double m = -1;
    size_t at = i;
    if (hint > i && hint < n) {
        m = ks_term(lx, i, hint, am1, (double)(hint - i) / ni);
        at = hint;
        ++*evaluated;
        if (m > best) {
            *arg = at;
            return m;
        }
    }
    size_t j = i;
    for (; j < n; j++) {
        double v = ks_term(lx, i, j, am1, (double)(j - i) / ni);
        if (v > m) {
            m = v;
            at = j;
            if (m > best) {
                j++;
                break;
            }
        }
    }
    *evaluated += j - i;
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
