/*
 * rw-cond — conditioning metrics of every matrix of one or more runs: largest
 * and smallest singular value, condition number, and the condition number on
 * the numerically non-zero subspace.
 */
#include "analyzers/cli.h"
#include "analyzers/metrics_main.h"

static const char usage[] =
    "Usage: rw-cond [OPTION]... RUN...\n"
    "       rw-cond [OPTION]... SPECTRA.h5\n"
    "Conditioning metrics of every matrix of each RUN (a directory of checkpoints,\n"
    "a checkpoint file, an HDF5 file of step_<N> groups, FILE,FILE,... or @LIST;\n"
    "NAME=RUN labels it), or of a spectra file written by rw-spectra.\n"
    "\n"
    "Columns: run step tensor layer module component rows cols dtype\n"
    "         sigma_max sigma_min cond cond_rank\n"
    "\n"
    RW_CLI_SELECT_HELP RW_CLI_OUTPUT_HELP RW_CLI_COMMON_HELP
    "\n"
    "Exit status: 0 ok, 1 bad data, 2 usage error.\n";

int main(int argc, char **argv)
{
    static const rw_metric_id ids[] = {RW_M_SIGMA_MAX, RW_M_SIGMA_MIN, RW_M_COND,
                                       RW_M_COND_RANK};
    return rw_metrics_main(argc, argv, "rw-cond", usage, ids, sizeof ids / sizeof *ids, false);
}
