/*
 * tails_rand.c — WeightWatcher's rand_distance (tails.h): the matrix's
 * entries shuffled by a fixed, documented permutation, and the
 * Jensen-Shannon distance between the two sorted eigenvalue vectors
 * (weightwatcher.py apply_random_esd, random_eigenvalues; RMT_Util.py
 * jensen_shannon_distance; docs/tails.md).
 */
#include "analyzers/core/tails.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void rw_tails_shuffle(double *a, size_t n, uint64_t seed)
{
    uint64_t x = seed;
    for (size_t i = n; i-- > 1;) {
        size_t j = (size_t)(splitmix64(&x) % (uint64_t)(i + 1));
        double t = a[i];
        a[i] = a[j];
        a[j] = t;
    }
}

/* sum_i p_i ln(p_i / m_i) of p and m normalised to sum 1 (scipy.stats.entropy:
 * a term is 0 where p_i = 0). */
static double kl(const double *p, double sp, const double *q, double sq, size_t k, bool second)
{
    double s = 0, sm = (sp + sq) / 2;
    for (size_t i = 0; i < k; i++) {
        double pi = (second ? q[i] * q[i] : p[i] * p[i]) / (second ? sq : sp);
        double mi = (p[i] * p[i] + q[i] * q[i]) / 2 / sm;
        if (pi > 0)
            s += pi * log(pi / mi);
    }
    return s;
}

double rw_tails_rand_distance(const double *sigma, const double *rsigma, size_t k)
{
    double sp = 0, sq = 0;
    for (size_t i = 0; i < k; i++) {
        sp += sigma[i] * sigma[i];
        sq += rsigma[i] * rsigma[i];
    }
    if (!(sp > 0) || !(sq > 0) || !isfinite(sp) || !isfinite(sq))
        return NAN;
    /* Both descending: element i of each is the i-th largest eigenvalue,
     * as in WeightWatcher's two ascending vectors read backwards. */
    double d = (kl(sigma, sp, rsigma, sq, k, false) + kl(sigma, sp, rsigma, sq, k, true)) / 2;
    return sqrt(d > 0 ? d : 0);
}
