/*
 * rw-rank — rank metrics of every matrix of one or more runs: effective rank,
 * proportional effective rank (PER), stable rank, numerical rank, spectral
 * entropy. One row per (run, step, tensor, component).
 */
#include "analyzers/cli.h"
#include "analyzers/metrics_main.h"

static const char usage[] =
    "Usage: rw-rank [OPTION]... RUN...\n"
    "       rw-rank [OPTION]... SPECTRA.h5\n"
    "Rank metrics of every matrix of each RUN (a directory of checkpoints, a\n"
    "checkpoint file, an HDF5 file of step_<N> groups, FILE,FILE,... or @LIST;\n"
    "NAME=RUN labels it), or of a spectra file written by rw-spectra.\n"
    "\n"
    "Columns: run step tensor layer module component rows cols dtype\n"
    "         erank per stable_rank num_rank entropy\n"
    "\n"
    RW_CLI_SELECT_HELP RW_CLI_OUTPUT_HELP RW_CLI_COMMON_HELP
    "\n"
    "Exit status: 0 ok, 1 bad data, 2 usage error.\n";

int main(int argc, char **argv)
{
    static const rw_metric_id ids[] = {RW_M_ERANK, RW_M_PER, RW_M_STABLE_RANK, RW_M_NUM_RANK,
                                       RW_M_ENTROPY};
    return rw_metrics_main(argc, argv, "rw-rank", usage, ids, sizeof ids / sizeof *ids, false);
}
