/*
 * rw-metrics — every metric of DESIGN.md's table for every matrix of one or
 * more runs: rw-rank's and rw-cond's columns together, plus the norms and
 * pico-analyze's metrics of the entries (gini, hoyer, max_abs).
 */
#include "analyzers/cli.h"
#include "analyzers/metrics_main.h"

static const char usage[] =
    "Usage: rw-metrics [OPTION]... RUN...\n"
    "       rw-metrics [OPTION]... SPECTRA.h5\n"
    "All spectral metrics of every matrix of each RUN (a directory of checkpoints,\n"
    "a checkpoint file, an HDF5 file of step_<N> groups, FILE,FILE,... or @LIST;\n"
    "NAME=RUN labels it), or of a spectra file written by rw-spectra.\n"
    "\n"
    "Columns: run step tensor layer module component rows cols dtype\n"
    "         sigma_max sigma_min cond num_rank cond_rank erank per stable_rank\n"
    "         entropy fro nuc gini hoyer max_abs\n"
    "  gini, hoyer and max_abs are pico-analyze's metrics of the matrix's entries\n"
    "  (the Gini coefficient of |w|, Hoyer's sparsity, the largest |w|: see\n"
    "  README.md); a spectra file holds singular values only, so from one\n"
    "  they are nan, with a warning.\n"
    "\n"
    RW_CLI_SELECT_HELP RW_CLI_OUTPUT_HELP RW_CLI_COMMON_HELP
    "\n"
    "Exit status: 0 ok, 1 bad data, 2 usage error.\n";

int main(int argc, char **argv)
{
    return rw_metrics_main(argc, argv, "rw-metrics", usage, rw_all_metrics, RW_M_COUNT, false);
}
