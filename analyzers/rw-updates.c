/*
 * rw-updates — the spectral metrics of what training changes: for every
 * matrix, the update dW between consecutive checkpoints (or since the first),
 * recorded at the later step, with its size relative to the weight. For LoRA
 * and ReLoRA adapters the `lora` component s·B·A is itself the update of its
 * cycle; since the first step, s·B·A(step) - s·B·A(first).
 */
#include "analyzers/cli.h"
#include "analyzers/metrics_main.h"

static const char usage[] =
    "Usage: rw-updates [OPTION]... RUN...\n"
    "       rw-updates [OPTION]... SPECTRA.h5\n"
    "Metrics of the updates dW = W(step) - W(previous step) of every matrix of\n"
    "each RUN (a directory of checkpoints, a checkpoint file, an HDF5 file of\n"
    "step_<N> groups, FILE,FILE,... or @LIST; NAME=RUN labels it), one row per\n"
    "matrix and step (from the second step on, for every component), or of the\n"
    "update spectra of a spectra file (rw-spectra --updates). For adapted\n"
    "matrices the lora component s*B*A is the update itself (of its cycle),\n"
    "measured against the base; with --from first, s*B*A(step) - s*B*A(first).\n"
    "\n"
    "Columns: run step tensor layer module component rows cols dtype\n"
    "         sigma_max sigma_min cond num_rank cond_rank erank per stable_rank\n"
    "         entropy fro nuc rel_update\n"
    "  rel_update = ||dW||_F / ||W(previous)||_F (lora: ||s B A||_F / ||W_base||_F;\n"
    "               --from first: ||dW||_F / ||W(first)||_F, lora's W = s B A)\n"
    "\n"
    "  --from previous|first   updates between consecutive checkpoints (default),\n"
    "                      or the cumulative W(step) - W(first step)\n"
    RW_CLI_SELECT_HELP RW_CLI_OUTPUT_HELP RW_CLI_COMMON_HELP
    "\n"
    "Exit status: 0 ok, 1 bad data, 2 usage error.\n";

int main(int argc, char **argv)
{
    return rw_metrics_main(argc, argv, "rw-updates", usage, rw_all_metrics, RW_M_NSPECTRAL, true);
}
