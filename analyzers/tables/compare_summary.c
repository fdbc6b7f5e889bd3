/*
 * compare_summary.c — rw-compare --summary: each run's curve against the
 * reference run's, reduced to a final gap, a mean gap, an area and the step
 * from which the curves stay apart (compare.h).
 */
#include "analyzers/tables/compare.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void compare_curve(const int64_t *steps, const double *a, const double *r, size_t n,
                   double threshold, rw_cmp_summary *out)
{
    out->nsteps = n;
    out->first_step = out->last_step = 0;
    out->final = out->ref_final = out->gap = out->rel_gap = NAN;
    out->mean_gap = out->area = NAN;
    out->diverges = false;
    out->diverge_step = 0;
    if (n == 0)
        return;
    out->first_step = steps[0];
    out->last_step = steps[n - 1];
    out->final = a[n - 1];
    out->ref_final = r[n - 1];
    out->gap = a[n - 1] - r[n - 1];
    out->rel_gap = out->gap / fabs(r[n - 1]);
    if (n == 1) {
        out->mean_gap = out->gap;
        out->area = fabs(out->gap);
    } else {
        double sum = 0, abs_sum = 0;
        for (size_t i = 0; i + 1 < n; i++) {
            double h = (double)(steps[i + 1] - steps[i]);
            double g0 = a[i] - r[i], g1 = a[i + 1] - r[i + 1];
            sum += h * (g0 + g1) / 2;
            if ((g0 >= 0 && g1 >= 0) || (g0 <= 0 && g1 <= 0))
                abs_sum += h * (fabs(g0) + fabs(g1)) / 2;
            else /* g crosses zero: two triangles */
                abs_sum += h * (g0 * g0 + g1 * g1) / (2 * (fabs(g0) + fabs(g1)));
        }
        double span = (double)(steps[n - 1] - steps[0]);
        out->mean_gap = sum / span;
        out->area = abs_sum / span;
    }
    /* The earliest step from which every gap to the end is beyond. */
    size_t k = n;
    while (k > 0 && fabs(a[k - 1] - r[k - 1]) > threshold * fabs(r[k - 1]))
        k--;
    if (k < n) {
        out->diverges = true;
        out->diverge_step = steps[k];
    }
}

rw_status compare_summarize(const rw_comparison *c, double threshold, rw_cmp_summary **out,
                            size_t *nout, rw_err *err)
{
    *out = NULL;
    *nout = 0;
    size_t cap = 16, n = 0;
    rw_cmp_summary *s = rw_calloc(cap, sizeof *s, err);
    int64_t *steps = rw_calloc(c->nrows ? c->nrows : 1, sizeof *steps, err);
    double *a = rw_calloc(c->nrows ? c->nrows : 1, sizeof *a, err);
    double *r = rw_calloc(c->nrows ? c->nrows : 1, sizeof *r, err);
    rw_status st = RW_OK;
    if (!s || !steps || !a || !r) {
        st = RW_ENOMEM;
        goto done;
    }
    for (size_t b0 = 0; b0 < c->nrows;) {
        const rw_cmp_row *first = &c->rows[b0];
        size_t b1 = b0;
        while (b1 < c->nrows && strcmp(c->rows[b1].module, first->module) == 0 &&
               strcmp(c->rows[b1].metric, first->metric) == 0)
            b1++;
        for (size_t u = 0; u < c->nruns; u++) {
            const char *run = c->runs[u];
            if (strcmp(run, c->ref) == 0)
                continue;
            size_t m = 0;
            bool any = false;
            for (size_t i = b0; i < b1; i++) {
                const rw_cmp_row *row = &c->rows[i];
                if (strcmp(row->run, run) != 0)
                    continue;
                any = true;
                if (isnan(row->s.mean) || isnan(row->ref_mean))
                    continue;
                steps[m] = row->step;
                a[m] = row->s.mean;
                r[m] = row->ref_mean;
                m++;
            }
            if (!any)
                continue;
            if (n == cap) {
                rw_cmp_summary *ns = rw_realloc(s, 2 * cap * sizeof *s, err);
                if (!ns) {
                    st = RW_ENOMEM;
                    goto done;
                }
                s = ns;
                cap *= 2;
            }
            rw_cmp_summary *x = &s[n];
            memset(x, 0, sizeof *x);
            compare_curve(steps, a, r, m, threshold, x);
            x->module = rw_strdup(first->module);
            x->metric = rw_strdup(first->metric);
            x->run = rw_strdup(run);
            x->ref = rw_strdup(c->ref);
            n++;
            if (!x->module || !x->metric || !x->run || !x->ref) {
                st = rw_fail(err, RW_ENOMEM, "out of memory");
                goto done;
            }
        }
        b0 = b1;
    }
done:
    free(steps);
    free(a);
    free(r);
    if (st != RW_OK) {
        compare_summary_free(s, n);
        return st;
    }
    *out = s;
    *nout = n;
    return RW_OK;
}

void compare_summary_free(rw_cmp_summary *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++) {
        free(s[i].module);
        free(s[i].metric);
        free(s[i].run);
        free(s[i].ref);
    }
    free(s);
}
