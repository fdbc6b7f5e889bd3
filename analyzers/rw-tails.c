/*
 * rw-tails — the heavy-tailed analysis of WeightWatcher (0.7.5.5) for
 * every matrix of one or more runs, or of their updates: the power-law fit
 * of the ESD (alpha, D, xmin, xmax), the Marchenko-Pastur bulk fit, the
 * norm metrics. One row per (run, step, tensor, component); definitions,
 * sources and the points where WeightWatcher differs from the literature
 * in docs/tails.md.
 */
#include "analyzers/cli.h"
#include "analyzers/metrics_main.h"

static const char usage[] =
    "Usage: rw-tails [OPTION]... RUN...\n"
    "       rw-tails [OPTION]... SPECTRA.h5\n"
    "WeightWatcher's per-layer metrics of the ESD (the eigenvalues sigma^2 of\n"
    "W^T W) of every matrix of each RUN (as rw-rank takes them), or of a\n"
    "spectra file written by rw-spectra (no SVD). docs/tails.md: definitions.\n"
    "Every matrix gets a row; fit_status says why its fit numbers are nan.\n"
    "\n"
    "Columns: run step tensor layer module component rows cols dtype\n"
    "         fit_status num_evals alpha alpha_weighted alpha_xmax D xmin xmax\n"
    "         num_pl_spikes log_norm log_spectral_norm log_alpha_norm\n"
    "         mp_softrank num_spikes sigma_mp bulk_min bulk_max matrix_rank\n"
    "         rank_loss ww_entropy rand_distance\n"
    "  fit_status  ok, few_evals (min(rows, cols) < 10 or < 2 eigenvalues > 1e-5),\n"
    "              degenerate (equal eigenvalues), nonfinite (NaN/Inf entries)\n"
    "  alpha       WeightWatcher's power-law exponent (xmin by minimum KS\n"
    "              distance D); alpha_xmax: the MLE that accounts for xmax\n"
    "  rand_distance  nan: it needs the entries, not the spectrum\n"
    "  (stable_rank is rw-rank's column, the same definition)\n"
    "\n"
    "  --updates           the updates dW between consecutive checkpoints\n"
    "  --from previous|first   updates since the previous checkpoint, or the\n"
    "                      cumulative W(step) - W(first step) (implies --updates)\n"
    RW_CLI_SELECT_HELP RW_CLI_OUTPUT_HELP RW_CLI_COMMON_HELP
    "\n"
    "Exit status: 0 ok, 1 bad data, 2 usage error.\n";

int main(int argc, char **argv)
{
    return rw_tails_main(argc, argv, "rw-tails", usage);
}
