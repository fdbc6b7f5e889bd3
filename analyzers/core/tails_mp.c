/*
 * tails_mp.c — WeightWatcher's Marchenko-Pastur fit of an ESD (tails.h):
 * weightwatcher.py mp_fit, RMT_Util.fit_density_with_range, resid_mp,
 * marchenko_pastur_fun and quarter_circle_fun, with scipy.optimize.brute's
 * grid and its default finish, scipy.optimize.fmin (Nelder-Mead), and
 * sklearn's KernelDensity(kernel='linear', bandwidth=0.1), re-implemented.
 */
#include "analyzers/core/tails.h"

#include <math.h>
#include <stdlib.h>

#define KDE_POINTS 1000
#define KDE_BW 0.1
#define KDE_THRESH 0.01

typedef struct {
    double Q;
    size_t ngood;
    double xde[KDE_POINTS], yde[KDE_POINTS]; /* the points where yde > 0.01 */
    double xpeak, xlast;                     /* x of the first maximum; the last x */
} mp_problem;

/* The KDE of v[0..n-1] (ascending) on linspace(0, max + 0.5, 1000), kept
 * where it exceeds KDE_THRESH (resid_mp's hack). */
static void kde(mp_problem *p, const double *v, size_t n)
{
    double stop = v[n - 1] + 0.5, step = stop / (KDE_POINTS - 1);
    size_t lo = 0;
    p->ngood = 0;
    double ymax = -1;
    for (int g = 0; g < KDE_POINTS; g++) {
        double x = g == KDE_POINTS - 1 ? stop : g * step;
        while (lo < n && v[lo] <= x - KDE_BW)
            lo++;
        double s = 0;
        for (size_t i = lo; i < n && v[i] < x + KDE_BW; i++)
            s += 1 - fabs(x - v[i]) / KDE_BW;
        double y = s / ((double)n * KDE_BW);
        if (y > KDE_THRESH) {
            p->xde[p->ngood] = x;
            p->yde[p->ngood] = y;
            if (y > ymax) {
                ymax = y;
                p->xpeak = x;
            }
            p->xlast = x;
            p->ngood++;
        }
    }
}

/* resid_mp(sigma, ..., allresid=False): the sum of squared residuals. */
static double loss(const mp_problem *p, double sigma)
{
    double s2 = sigma * sigma, r = 0;
    if (p->Q == 1) {
        for (size_t i = 0; i < p->ngood; i++) {
            double x = p->xde[i], t = 4 - x * x;
            double y = t >= 0 ? (1 / (M_PI * s2)) * sqrt(t) : 0;
            r += (y - p->yde[i]) * (y - p->yde[i]);
        }
        return r;
    }
    double iq = sqrt(1 / p->Q), y = 1 / p->Q;
    double b = pow(sigma * (1 + iq), 2), a = pow(sigma * (1 - iq), 2);
    if (b < p->xpeak || b > p->xlast || a > p->xpeak)
        return 1e6 * (double)p->ngood; /* every residual 1000 */
    for (size_t i = 0; i < p->ngood; i++) {
        double x = p->xde[i], t = (b - x) * (x - a);
        double v = (1 / (2 * M_PI * s2 * x * y)) * sqrt(t);
        if (!isfinite(v)) /* np.nan_to_num */
            v = isnan(v) ? 0 : v > 0 ? 1.7976931348623157e308 : -1.7976931348623157e308;
        r += (v - p->yde[i]) * (v - p->yde[i]);
    }
    return r;
}

/* scipy.optimize.fmin on one variable: Nelder-Mead, xatol = fatol = 1e-4,
 * 200 iterations and evaluations at most, the initial simplex x0 and
 * 1.05 x0 (0.00025 when x0 = 0). */
static double nelder_mead(const mp_problem *p, double x0)
{
    double sim[2] = {x0, x0 != 0 ? 1.05 * x0 : 0.00025};
    double fs[2] = {loss(p, sim[0]), loss(p, sim[1])};
    int fcalls = 2, iter = 1;
#define SORT2()                                                                             \
    do {                                                                                    \
        if (fs[1] < fs[0]) {                                                                \
            double t = sim[0]; sim[0] = sim[1]; sim[1] = t;                                 \
            t = fs[0]; fs[0] = fs[1]; fs[1] = t;                                            \
        }                                                                                   \
    } while (0)
    SORT2();
    while (fcalls < 200 && iter < 200) {
        if (fabs(sim[1] - sim[0]) <= 1e-4 && fabs(fs[0] - fs[1]) <= 1e-4)
            break;
        double xbar = sim[0];
        double xr = 2 * xbar - sim[1], fxr = loss(p, xr);
        fcalls++;
        if (fxr < fs[0]) {
            double xe = 3 * xbar - 2 * sim[1], fxe = loss(p, xe);
            fcalls++;
            if (fxe < fxr) {
                sim[1] = xe;
                fs[1] = fxe;
            } else {
                sim[1] = xr;
                fs[1] = fxr;
            }
        } else { /* scipy's "fxr < fsim[-2]" branch: fsim[-2] is fsim[0] here */
            bool shrink = false;
            if (fxr < fs[1]) {
                double xc = 1.5 * xbar - 0.5 * sim[1], fxc = loss(p, xc);
                fcalls++;
                if (fxc <= fxr) {
                    sim[1] = xc;
                    fs[1] = fxc;
                } else
                    shrink = true;
            } else {
                double xcc = 0.5 * xbar + 0.5 * sim[1], fxcc = loss(p, xcc);
                fcalls++;
                if (fxcc < fs[1]) {
                    sim[1] = xcc;
                    fs[1] = fxcc;
                } else
                    shrink = true;
            }
            if (shrink) {
                sim[1] = sim[0] + 0.5 * (sim[1] - sim[0]);
                fs[1] = loss(p, sim[1]);
                fcalls++;
            }
        }
        iter++;
        SORT2();
    }
#undef SORT2
    return sim[0];
}

rw_status rw_mp_fit(const double *evals, size_t M, double Q, rw_mpfit *out, rw_err *err)
{
    if (M < 2)
        return RW_EDATA;
    double sum = 0;
    for (size_t i = 0; i < M; i++)
        sum += evals[i];
    if (!(sum > 0) || !isfinite(sum))
        return RW_EDATA;
    mp_problem *p = rw_malloc(sizeof *p, err);
    double *v = rw_malloc(M * sizeof *v, err);
    if (!p || !v) {
        free(p);
        free(v);
        return RW_ENOMEM;
    }
    /* Rescale W so that the ESD has mean 1: Wscale = sqrt(M) / ||W||_F. */
    double wscale = sqrt((double)M) / sqrt(sum), w2 = wscale * wscale;
    for (size_t i = 0; i < M; i++)
        v[i] = w2 * evals[i];
    double lmax = v[M - 1];
    /* calc_sigma on the rescaled ESD: the sigma whose MP edge is lambda_max */
    double s0 = sqrt(lmax / pow(1 + 1 / sqrt(Q), 2));
    if (Q == 1) /* the quarter circle is fitted to the singular values */
        for (size_t i = 0; i < M; i++)
            v[i] = sqrt(v[i]);
    p->Q = Q;
    kde(p, v, M);
    if (p->ngood == 0) { /* numpy's max of nothing: WeightWatcher's fit fails */
        free(p);
        free(v);
        return RW_EDATA;
    }
    /* brute: np.arange(0.05 s0, 2 s0, 0.01 s0), the first minimum */
    double start = 0.05 * s0, stop = 2.0 * s0, step = 0.01 * s0;
    double ng = ceil((stop - start) / step);
    double delta = (start + step) - start; /* numpy's arange fills start + i delta */
    double best = INFINITY, x0 = start;
    for (double g = 0; g < ng; g++) {
        double s = g == 0 ? start : start + g * delta, f = loss(p, s);
        if (f < best) {
            best = f;
            x0 = s;
        }
    }
    double s1 = nelder_mead(p, x0);
    double bulk_max = pow(s1 * (1 + 1 / sqrt(Q)), 2);
    double bulk_min = pow(s1 * (1 - 1 / sqrt(Q)), 2);
    double tw = 1 / sqrt(Q) * pow(bulk_max, 2.0 / 3) * pow((double)M, -2.0 / 3);
    double cut = bulk_max + sqrt(tw);
    size_t spikes = 0;
    for (size_t i = 0; i < M; i++)
        spikes += w2 * evals[i] > cut;
    out->sigma_mp = s1;
    out->num_spikes = (double)spikes;
    out->mp_softrank = bulk_max / lmax;
    out->bulk_max = bulk_max / w2;
    out->bulk_min = bulk_min / w2;
    out->w_scale = wscale;
    free(p);
    free(v);
    return RW_OK;
}
