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

/* Row order for halves: by module, then layer. */
typedef struct {
    const char *mod;
    int layer;
    size_t row;
} lrow;

static int cmp_lrow(const void *a, const void *b)
{
    const lrow *x = a, *y = b;
    int r = strcmp(x->mod, y->mod);
    if (!r)
        r = (x->layer > y->layer) - (x->layer < y->layer);
    return r;
}

/* halves: each module's distinct layers, the first ceil(N/2) and the rest. */
static rw_status label_halves(const char *const *mod, const int *layer, size_t n, char **out,
                              rw_err *err)
{
    lrow *v = rw_calloc(n ? n : 1, sizeof *v, err);
    if (!v)
        return RW_ENOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (layer[i] >= 0)
            v[m++] = (lrow){mod[i], layer[i], i};
    qsort(v, m, sizeof *v, cmp_lrow);
    rw_status st = RW_OK;
    for (size_t b0 = 0; b0 < m && st == RW_OK;) {
        size_t b1 = b0, distinct = 0;
        for (; b1 < m && !strcmp(v[b1].mod, v[b0].mod); b1++)
            distinct += b1 == b0 || v[b1].layer != v[b1 - 1].layer;
        size_t first = (distinct + 1) / 2;
        /* the last layer of the first half, the first of the second */
        int end0 = v[b0].layer, start1 = INT_MAX;
        for (size_t i = b0, d = 0; i < b1; i++) {
            d += i == b0 || v[i].layer != v[i - 1].layer;
            if (d <= first)
                end0 = v[i].layer;
            else if (start1 == INT_MAX)
                start1 = v[i].layer;
        }
        char *l0 = label(v[b0].mod, v[b0].layer, end0);
        char *l1 = start1 == INT_MAX ? NULL : label(v[b0].mod, start1, v[b1 - 1].layer);
        if (!l0 || (start1 != INT_MAX && !l1))
            st = rw_fail(err, RW_ENOMEM, "out of memory");
        for (size_t i = b0; i < b1 && st == RW_OK; i++)
            if (!(out[v[i].row] = rw_strdup(v[i].layer <= end0 ? l0 : l1)))
                st = rw_fail(err, RW_ENOMEM, "out of memory");
        free(l0);
        free(l1);
        b0 = b1;
    }
    free(v);
    return st;
}

rw_status rw_layer_groups_label(const rw_layer_spec *s, const char *const *mod,
                                const int *layer, size_t n, char **out, rw_err *err)
{
    for (size_t i = 0; i < n; i++)
        out[i] = NULL;
    rw_status st = RW_OK;
    if (s->halves) {
        st = label_halves(mod, layer, n, out, err);
    } else {
        for (size_t i = 0; i < n && st == RW_OK; i++)
            for (size_t g = 0; g < s->n; g++)
                if (layer[i] >= s->lo[g] && layer[i] <= s->hi[g]) {
                    if (!(out[i] = label(mod[i], s->lo[g], s->hi[g])))
                        st = rw_fail(err, RW_ENOMEM, "out of memory");
                    break;
                }
    }
    if (st != RW_OK)
        for (size_t i = 0; i < n; i++) {
            free(out[i]);
            out[i] = NULL;
        }
    return st;
}
