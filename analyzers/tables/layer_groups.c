/*
 * layer_groups.c — which layers are averaged together (--layer-groups):
 * parsing a group list and labelling rows with their group (stats.h,
 * rw_layer_spec).
 */
#include "analyzers/tables/stats.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool rw_layer_spec_on(const rw_layer_spec *s)
{
    return s && (s->halves || s->n > 0);
}

/* A layer number at *p (digits only), advancing *p; false when there is
 * none or it is too large. */
static bool parse_layer(const char **p, int *out)
{
    long v = 0;
    const char *q = *p;
    if (*q < '0' || *q > '9')
        return false;
    for (; *q >= '0' && *q <= '9'; q++) {
        v = v * 10 + (*q - '0');
        if (v > 1000000)
            return false;
    }
    *p = q;
    *out = (int)v;
    return true;
}

rw_status rw_layer_spec_parse(const char *arg, rw_layer_spec *out, rw_err *err)
{
    memset(out, 0, sizeof *out);
    if (!strcmp(arg, "halves")) {
        out->halves = true;
        return RW_OK;
    }
    const char *p = arg;
    for (;;) {
        int lo, hi;
        if (!parse_layer(&p, &lo))
            return rw_fail(err, RW_EUSAGE, "--layer-groups: '%s' is not 'halves' or a list of "
                           "layer ranges such as 0-5,6-11", arg);
        hi = lo;
        if (*p == '-') {
            p++;
            if (!parse_layer(&p, &hi))
                return rw_fail(err, RW_EUSAGE, "--layer-groups: '%s': a range needs its last "
                               "layer (0-5)", arg);
        }
        if (hi < lo)
            return rw_fail(err, RW_EUSAGE, "--layer-groups: '%s': range %d-%d runs backwards",
                           arg, lo, hi);
        if (out->n == RW_MAX_LAYER_GROUPS)
            return rw_fail(err, RW_EUSAGE, "--layer-groups: '%s': more than %d groups", arg,
                           RW_MAX_LAYER_GROUPS);
        for (size_t i = 0; i < out->n; i++)
            if (lo <= out->hi[i] && out->lo[i] <= hi)
                return rw_fail(err, RW_EUSAGE, "--layer-groups: '%s': groups %d-%d and %d-%d "
                               "overlap", arg, out->lo[i], out->hi[i], lo, hi);
        out->lo[out->n] = lo;
        out->hi[out->n++] = hi;
        if (!*p)
            return RW_OK;
        if (*p++ != ',')
            return rw_fail(err, RW_EUSAGE, "--layer-groups: '%s' is not 'halves' or a list of "
                           "layer ranges such as 0-5,6-11", arg);
    }
}

/* "<module> [lo-hi]", or "<module> [lo]"; NULL when out of memory. */
static char *label(const char *module, int lo, int hi)
{
    char *s = NULL;
    int r = lo == hi ? asprintf(&s, "%s [%d]", module, lo)
                     : asprintf(&s, "%s [%d-%d]", module, lo, hi);
    return r < 0 ? NULL : s;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* halves: each module's distinct layers, the first ceil(N/2) and the rest.
 * A module at a time: its rows (idx) and their layers, sorted (lay). */
static rw_status label_halves(size_t n, rw_layer_row_fn row, void *ctx, char **out,
                              rw_err *err)
{
    bool *done = rw_calloc(n ? n : 1, sizeof *done, err);
    size_t *idx = rw_calloc(n ? n : 1, sizeof *idx, err);
    int *lay = rw_calloc(n ? n : 1, sizeof *lay, err);
    rw_status st = done && idx && lay ? RW_OK : RW_ENOMEM;
    for (size_t i = 0; i < n && st == RW_OK; i++) {
        const char *mod, *m2;
        int l;
        row(ctx, i, &mod, &l);
        if (done[i] || l < 0)
            continue;
        size_t k = 0;
        for (size_t j = i; j < n; j++) {
            row(ctx, j, &m2, &l);
            if (!done[j] && l >= 0 && !strcmp(m2, mod)) {
                done[j] = true;
                idx[k] = j;
                lay[k++] = l;
            }
        }
        qsort(lay, k, sizeof *lay, cmp_int);
        size_t distinct = 0;
        for (size_t j = 0; j < k; j++)
            distinct += j == 0 || lay[j] != lay[j - 1];
        /* the last layer of the first half, the first of the second */
        int end0 = lay[0], start1 = INT_MAX;
        for (size_t j = 0, d = 0; j < k; j++) {
            d += j == 0 || lay[j] != lay[j - 1];
            if (d <= (distinct + 1) / 2)
                end0 = lay[j];
            else if (start1 == INT_MAX)
                start1 = lay[j];
        }
        char *l0 = label(mod, lay[0], end0);
        char *l1 = start1 == INT_MAX ? NULL : label(mod, start1, lay[k - 1]);
        if (!l0 || (start1 != INT_MAX && !l1))
            st = rw_fail(err, RW_ENOMEM, "out of memory");
        for (size_t j = 0; j < k && st == RW_OK; j++) {
            row(ctx, idx[j], &m2, &l);
            if (!(out[idx[j]] = rw_strdup(l <= end0 ? l0 : l1)))
                st = rw_fail(err, RW_ENOMEM, "out of memory");
        }
        free(l0);
        free(l1);
    }
    free(done);
    free(idx);
    free(lay);
    return st;
}

rw_status rw_layer_groups_label(const rw_layer_spec *s, size_t n, rw_layer_row_fn row,
                                void *ctx, char **out, rw_err *err)
{
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    rw_status st = RW_OK;
    if (s->halves) {
        st = label_halves(n, row, ctx, out, err);
    } else {
        for (size_t i = 0; i < n && st == RW_OK; i++) {
            const char *mod;
            int l;
            row(ctx, i, &mod, &l);
            for (size_t g = 0; g < s->n; g++)
                if (l >= s->lo[g] && l <= s->hi[g]) {
                    if (!(out[i] = label(mod, s->lo[g], s->hi[g])))
                        st = rw_fail(err, RW_ENOMEM, "out of memory");
                    break;
                }
        }
    }
    if (st != RW_OK)
        for (size_t i = 0; i < n; i++) {
            free(out[i]);
            out[i] = NULL;
        }
    return st;
}
