/*
 * tails_table.c — rw-tails' rows (tails_table.h).
 */
#include "analyzers/core/tails_table.h"

#include "analyzers/core/metrics_table.h"
#include "analyzers/core/tails.h"
#include "io/table_keys.h"


static const char *const tails_cols[] = {
    "fit_status", "num_evals", "alpha", "alpha_weighted", "alpha_xmax", "D", "xmin", "xmax",
    "num_pl_spikes", "log_norm", "log_spectral_norm", "log_alpha_norm", "mp_softrank",
    "num_spikes", "sigma_mp", "bulk_min", "bulk_max", "matrix_rank", "rank_loss", "ww_entropy",
    "rand_distance",
};
#define NTAIL (sizeof tails_cols / sizeof *tails_cols)
#define NKEY RW_NKEY

rw_table *rw_tails_table_new(void)
{
    const char *cols[NKEY + NTAIL];
    for (size_t i = 0; i < NKEY; i++)
        cols[i] = table_key_names[i];
    for (size_t i = 0; i < NTAIL; i++)
        cols[NKEY + i] = tails_cols[i];
    rw_table *t = table_new(cols, NKEY + NTAIL);
    if (!t)
        return NULL;
    for (size_t i = 0; i < NKEY + NTAIL; i++)
        table_set_numeric(t, (long)i, i == 1 || i == 3 || i == 6 || i == 7 || i > NKEY);
    return t;
}

rw_status rw_tails_table_add(rw_table *t, const rw_spectrum *s, rw_err *err)
{
    if (s->data) /* the tails table has no data columns (table_keys.h) */
        return rw_fail(err, RW_EUSAGE, "%s: rw-tails reads weights; these spectra are of %s",
                       s->path ? s->path : s->run, s->data);
    rw_tails r;
    rw_status st = rw_tails_compute(s->sigma, s->k, s->rows, s->cols, &r, err);
    if (st != RW_OK)
        return st;
    if (s->entries) /* asked of the pipeline (--rand-distance); else nan */
        r.rand_distance = s->entries->rand_distance;
    const double v[NTAIL] = {
        0, r.num_evals, r.alpha, r.alpha_weighted, r.alpha_xmax, r.D, r.xmin, r.xmax,
        r.num_pl_spikes, r.log_norm, r.log_spectral_norm, r.log_alpha_norm, r.mp.mp_softrank,
        r.mp.num_spikes, r.mp.sigma_mp, r.mp.bulk_min, r.mp.bulk_max, r.matrix_rank,
        r.rank_loss, r.ww_entropy, r.rand_distance,
    };
    char num[NKEY + NTAIL][32];
    const char *cells[NKEY + NTAIL];
    rw_key_cells(s, num, cells);
    cells[NKEY] = rw_tails_status_name(r.status);
    for (size_t i = 1; i < NTAIL; i++)
        cells[NKEY + i] = rw_fmt_double(num[NKEY + i], v[i]);
    return table_add_row(t, cells, err);
}
