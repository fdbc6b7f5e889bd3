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

#include <string.h>

/* Two strings: C99 promises string literals of 4095 characters only. */
static const char usage1[] =
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
    "  rand_distance  with --rand-distance: the Jensen-Shannon distance between\n"
    "              the ESD and that of W with its entries shuffled (fixed seed);\n"
    "              else nan (from a spectra file always: it needs the entries)\n"
    "  (stable_rank is rw-rank's column, the same definition)\n";
static const char usage2[] =
    "\n"
    "  --updates           the updates dW between consecutive checkpoints\n"
    "  --from previous|first   updates since the previous checkpoint, or the\n"
    "                      cumulative W(step) - W(first step) (implies --updates)\n"
    "  --rand-distance     compute rand_distance (a second SVD per matrix)\n"
    RW_CLI_SELECT_HELP RW_CLI_OUTPUT_HELP RW_CLI_COMMON_HELP
    "\n"
    "Exit status: 0 ok, 1 bad data, 2 usage error.\n";

int main(int argc, char **argv)
{
    static char usage[sizeof usage1 + sizeof usage2 - 1];
    memcpy(usage, usage1, sizeof usage1 - 1);
    memcpy(usage + sizeof usage1 - 1, usage2, sizeof usage2);
    return rw_tails_main(argc, argv, "rw-tails", usage);
}
