/*
 * rw-spectra — singular values of every selected matrix (and update) of one
 * or more runs, into one spectra file (spectra_file.h) or a long table; the
 * body is spectra_main.c's, shared with rw-spectra-mpi.
 */
#include "analyzers/cli.h"
#include "analyzers/spectra_main.h"

static const char usage[] =
    "Usage: rw-spectra [OPTION]... -o SPECTRA.h5 RUN...\n"
    "       rw-spectra [OPTION]... -o TABLE.tsv RUN...|SPECTRA.h5\n"
    "Computes the singular values of every matrix of each RUN (as rw-rank takes\n"
    "them) and writes them to SPECTRA.h5.\n"
    "By default the spectra of the weights; --updates adds those of the updates\n"
    "between consecutive checkpoints, --from-first those since the first one.\n"
    "\n"
    "With -o ending in anything but .h5/.hdf5, the spectra are written as a long\n"
    "table instead (--format tsv, csv, md or json), one row per singular value:\n"
    "  run step tensor layer module component kind i sigma\n"
    "  (kind: weight, update or update_first; i from 1, sigma descending;\n"
    "  spectra of gradients, --data gradients, have data and split after kind)\n"
    "and the input may be a spectra file, which is then converted.\n"
    "\n"
    "An existing SPECTRA.h5 written with the same options is a cache: unchanged\n"
    "checkpoints (path, size, time, step) are copied from it, not decomposed.\n"
    "\n"
    RW_CLI_SELECT_HELP
    RW_SPECTRA_OPTIONS_HELP
    "  -o, --output FILE   the spectra file (.h5) or long table to write (required)\n"
    "  --format F          the long table's format: tsv (default), csv, md, json\n"
    RW_CLI_COMMON_HELP
    "\n"
    "Exit status: 0 ok, 1 bad data, 2 usage error.\n";

int main(int argc, char **argv)
{
    rw_spectra_driver d = {.prog = "rw-spectra", .usage = usage, .writer = true};
    return rw_spectra_main(argc, argv, &d);
}
