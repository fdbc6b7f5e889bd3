/*
 * plot_cond.c — figures of cond draw cond_rank where a matrix is
 * rank-deficient (plot_data.h, plot_metric_cond_rank).
 *
 * σ₁/σₖ of a matrix whose rank r is below k (a LoRA product s·B·A, an update
 * between checkpoints that straddle a merge, an OV circuit under GQA, or any
 * matrix with num_rank < k) is the ratio of σ₁ to round-off: 1e16 one step,
 * 1e18 the next, meaning nothing. σ₁/σᵣ, r = num_rank (cond_rank), is its
 * conditioning on the subspace it spans, and equals σ₁/σₖ wherever a matrix
 * has full rank (then σ_num_rank = σₖ). So a panel that has any
 * rank-deficient matrix shows cond_rank for all of its matrices.
 */
#include "plots/plot_data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Whether a row's cond and cond_rank tell apart a rank-deficient matrix:
 * they differ (cond_rank nan while cond is not: num_rank 0). Two nan (the
 * zero matrix) or two equal values: no. */
static bool deficient(const char *cond, const char *cond_rank)
{
    double c, r;
    if (!rw_parse_double(cond, &c) || !rw_parse_double(cond_rank, &r))
        return false;
    if (isnan(c) && isnan(r))
        return false;
    return isnan(r) != isnan(c) || r != c;
}

rw_status plot_metric_cond_rank(plot_metric *m, rw_err *err)
{
    size_t nm = m->sel.nmodules;
    if (!m->t || m->t->ncols < 8 || nm == 0)
        return RW_OK;
    if (!(m->cond_rank = rw_calloc(nm, sizeof *m->cond_rank, err)))
        return RW_ENOMEM;
    for (size_t i = 0; i < m->nrows; i++) {
        int mod = m->rows[i].module;
        if (!m->cond_rank[mod] && deficient(table_cell(m->t, i, 6), table_cell(m->t, i, 7))) {
            m->cond_rank[mod] = true;
            m->ncond_rank++;
        }
    }
    size_t nc = m->t->ncols;
    m->nonfinite = 0;
    for (size_t i = 0; i < m->nrows; i++) {
        if (m->cond_rank[m->rows[i].module]) {
            /* swap the two cells' texts: the table owns both either way */
            char **c = &m->t->cells[i * nc];
            char *tmp = c[6];
            c[6] = c[7];
            c[7] = tmp;
            double v;
            m->rows[i].v = rw_parse_double(c[6], &v) ? v : NAN;
        }
        if (!isfinite(m->rows[i].v))
            m->nonfinite++;
    }
    return RW_OK;
}

const char *plot_metric_of(const plot_metric *m, int module)
{
    return m->cond_rank && module >= 0 && (size_t)module < m->sel.nmodules &&
                   m->cond_rank[module]
               ? "cond_rank"
               : m->metric;
}
