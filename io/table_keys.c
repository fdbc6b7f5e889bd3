/*
 * table_keys.c — DESIGN.md's key columns and metric names, and the one rule
 * for rows that say the same thing twice (table_keys.h).
 */
#include "io/table_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const table_key_names[RW_NKEY] = {
    [RW_KEY_RUN] = "run",         [RW_KEY_STEP] = "step",     [RW_KEY_TENSOR] = "tensor",
    [RW_KEY_LAYER] = "layer",     [RW_KEY_MODULE] = "module", [RW_KEY_COMPONENT] = "component",
    [RW_KEY_ROWS] = "rows",       [RW_KEY_COLS] = "cols",     [RW_KEY_DTYPE] = "dtype",
};

const rw_key_col table_row_key[RW_NROW_KEY] = {RW_KEY_RUN, RW_KEY_STEP, RW_KEY_TENSOR,
                                               RW_KEY_COMPONENT};

const char *const table_metric_names[RW_NMETRIC_NAMES] = {
    "sigma_max", "sigma_min", "cond",        "num_rank", "cond_rank", "erank",
    "per",       "stable_rank", "entropy",   "fro",      "nuc",       "rel_update",
};

static bool in_list(const char *const *list, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0)
            return true;
    return false;
}

const char *const table_data_cols[RW_NDATA_COL] = {"data", "split"};

bool table_is_key_col(const char *name)
{
    return in_list(table_key_names, RW_NKEY, name) ||
           in_list(table_data_cols, RW_NDATA_COL, name);
}

rw_status table_data_label(const rw_table *t, const char *src, char *buf, size_t n,
                           rw_err *err)
{
    long dc = table_col(t, table_data_cols[0]), sc = table_col(t, table_data_cols[1]);
    snprintf(buf, n, "weights");
    for (size_t r = 0; r < t->nrows && dc >= 0; r++) {
        char row[256];
        const char *d = table_cell(t, r, (size_t)dc), *sp = sc >= 0 ? table_cell(t, r, (size_t)sc) : "";
        if (strcmp(d, "weights") == 0 || !*d)
            snprintf(row, sizeof row, "weights");
        else
            snprintf(row, sizeof row, *sp ? "%.100s (%.100s)" : "%.100s", d, sp);
        if (r == 0)
            snprintf(buf, n, "%s", row);
        else if (strcmp(buf, row) != 0)
            return rw_fail(err, RW_EDATA,
                           "%s: row %zu is of %s, row 1 of %s: a table holds one kind of data",
                           src, r + 1, row, buf);
    }
    return RW_OK;
}

bool table_is_row_key(const char *name)
{
    for (size_t i = 0; i < RW_NROW_KEY; i++)
        if (strcmp(name, table_key_names[table_row_key[i]]) == 0)
            return true;
    return false;
}

bool table_is_metric_name(const char *name)
{
    return in_list(table_metric_names, RW_NMETRIC_NAMES, name);
}

int table_find_keys(const rw_table *t, const rw_key_col *which, size_t n, long *cols)
{
    for (size_t i = 0; i < n; i++)
        if ((cols[i] = table_col(t, table_key_names[which[i]])) < 0)
            return (int)i;
    return -1;
}

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
