/*
 * metrics_table.c — metric tables: one row per spectrum (metrics_table.h).
 */
#include "analyzers/core/metrics_table.h"

#include "io/table_keys.h"

#include <stdio.h>
#include <string.h>

/* DESIGN.md's key columns (table_keys.h), then the metrics. */
#define NKEY RW_NKEY

rw_table *rw_metrics_table_new(const rw_metric_id *ids, size_t nids, bool with_rel)
{
    return rw_metrics_table_new_data(ids, nids, with_rel, false);
}

rw_table *rw_metrics_table_new_data(const rw_metric_id *ids, size_t nids, bool with_rel,
                                    bool with_data)
{
    const char *cols[NKEY + RW_NDATA_COL + RW_M_COUNT + 1];
    size_t nk = NKEY + (with_data ? RW_NDATA_COL : 0);
    for (size_t i = 0; i < NKEY; i++)
        cols[i] = table_key_names[i];
    for (size_t i = NKEY; i < nk; i++)
        cols[i] = table_data_cols[i - NKEY];
    for (size_t i = 0; i < nids; i++)
        cols[nk + i] = rw_metric_name(ids[i]);
    if (with_rel)
        cols[nk + nids] = table_metric_names[RW_METRIC_REL_UPDATE];
    size_t n = nk + nids + (with_rel ? 1 : 0);
    rw_table *t = table_new(cols, n);
    if (!t)
        return NULL;
    for (size_t i = 0; i < n; i++)
        table_set_numeric(t, (long)i, i == 1 || i == 3 || i == 6 || i == 7 || i >= nk);
    return t;
}

void rw_key_cells(const rw_spectrum *s, char (*num)[32], const char **cells)
{
    snprintf(num[1], 32, "%lld", (long long)s->step);
    snprintf(num[3], 32, "%d", s->layer);
    snprintf(num[6], 32, "%lld", (long long)s->rows);
    snprintf(num[7], 32, "%lld", (long long)s->cols);
    cells[0] = s->run;
    cells[1] = num[1];
    cells[2] = s->tensor;
    cells[3] = num[3];
    cells[4] = s->module;
    cells[5] = s->component;
    cells[6] = num[6];
    cells[7] = num[7];
    cells[8] = rw_dtype_name(s->dtype);
}

rw_status rw_metrics_table_add(rw_table *t, const rw_spectrum *s, const rw_metric_id *ids,
                               size_t nids, bool with_rel, rw_err *err)
{
    rw_metrics m;
    rw_metrics_compute(s->sigma, s->k, s->rows, s->cols, s->dtype, s->noise_fro, &m);
    if (s->entries) { /* else nan: not known (a spectra file) */
        m.gini = s->entries->gini;
        m.hoyer = s->entries->hoyer;
        m.max_abs = s->entries->max_abs;
    }
    char num[NKEY + RW_NDATA_COL + RW_M_COUNT + 1][32];
    const char *cells[NKEY + RW_NDATA_COL + RW_M_COUNT + 1];
    /* a table of gradients has data and split after the nine key columns */
    size_t nk = t->ncols > NKEY && strcmp(t->cols[NKEY], table_data_cols[0]) == 0
                    ? NKEY + RW_NDATA_COL
                    : NKEY;
    if (nk > NKEY) {
        cells[NKEY] = s->data ? s->data : "weights";
        cells[NKEY + 1] = s->split ? s->split : "";
    } else if (s->data) {
        return rw_fail(err, RW_EDATA, "%s: %s: %s in a table of weights", s->path, s->tensor,
                       s->data);
    }
    rw_key_cells(s, num, cells);
    for (size_t i = 0; i < nids; i++)
        cells[nk + i] = rw_fmt_double(num[nk + i], rw_metric_get(&m, ids[i]));
    if (with_rel) /* ||dW||_F / ||W_ref||_F; nan when there is no reference */
        cells[nk + nids] = rw_fmt_double(num[nk + nids], m.fro / s->ref_fro);
    return table_add_row(t, cells, err);
}
