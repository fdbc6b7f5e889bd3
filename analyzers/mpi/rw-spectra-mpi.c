/*
 * rw-spectra-mpi — rw-spectra across the ranks of an MPI job (mpirun,
 * srun): the same options and the same spectra file, byte for byte, its
 * (checkpoint, matrix) jobs shared out by rank 0 (pipeline_mpi.h). Built
 * with `make MPI=1` only; docs/mpi.md.
 */
#include "analyzers/cli.h"
#include "analyzers/mpi/pipeline_mpi.h"
#include "analyzers/spectra_main.h"

static const char usage[] =
    "Usage: mpirun -n P rw-spectra-mpi [OPTION]... -o SPECTRA.h5 RUN...\n"
    "       srun rw-spectra-mpi [OPTION]... -o SPECTRA.h5 RUN...\n"
    "rw-spectra across the P ranks of an MPI job: every rank reads the\n"
    "checkpoints itself (a file system all of them see), each with -j workers\n"
    "(default: the node's cores shared among its ranks), takes the next\n"
    "(checkpoint, matrix) job from rank 0 whenever a worker is free, and sends\n"
    "the singular values to rank 0, which writes SPECTRA.h5: the file\n"
    "`rw-spectra -j 1` writes with the same options. An existing SPECTRA.h5\n"
    "written with the same options is a cache, as for rw-spectra. A failure on\n"
    "any rank stops them all; rank 0 says what failed and no file is written.\n"
    "\n"
    RW_CLI_SELECT_HELP
    RW_SPECTRA_OPTIONS_HELP
    "  -o, --output FILE   the spectra file to write (required; .h5 or .hdf5)\n"
    RW_CLI_COMMON_HELP
    "\n"
    "Exit status (every rank): 0 ok, 1 bad data, 2 usage error.\n";

int main(int argc, char **argv)
{
    int rank = rw_mpi_start(&argc, &argv, "rw-spectra-mpi");
    if (rank < 0)
        return 1;
    rw_spectra_driver d = {.prog = "rw-spectra-mpi", .usage = usage, .writer = rank == 0,
                           .h5_only = true, .analyze = rw_mpi_analyze,
                           .finish = rw_mpi_finish};
    return rw_spectra_main(argc, argv, &d);
}
