/*
 * table_keys.c — the one rule for rows that say the same thing twice
 * (table_keys.h).
 */
#include "io/table_keys.h"

#include <stdlib.h>
#include <string.h>

static int cmp_key(const void *a, const void *b)
{
    const table_key *x = a, *y = b;
    int r = strcmp(x->what, y->what);
    if (!r)
        r = strcmp(x->run, y->run);
    if (!r && x->step != y->step)
        r = x->step < y->step ? -1 : 1;
    if (!r)
        r = strcmp(x->tensor, y->tensor);
    /* Then by source and row, so that the message names the first two. */
    if (!r)
        r = strcmp(x->src, y->src);
    if (!r && x->row != y->row)
        r = x->row < y->row ? -1 : 1;
    return r;
}

rw_status table_keys_unique(table_key *keys, size_t n, rw_err *err)
{
    if (n > 1)
        qsort(keys, n, sizeof *keys, cmp_key);
    for (size_t i = 1; i < n; i++) {
        const table_key *p = &keys[i - 1], *k = &keys[i];
        if (k->step == p->step && !strcmp(k->what, p->what) && !strcmp(k->run, p->run) &&
            !strcmp(k->tensor, p->tensor))
            return rw_fail(err, RW_EDATA,
                           "run %s, step %lld, tensor %s: %s given twice (%s row %zu, %s row "
                           "%zu)",
                           k->run, (long long)k->step, k->tensor, k->what, p->src, p->row + 1,
                           k->src, k->row + 1);
    }
    return RW_OK;
}
