/*
 * rw-spectra — singular values of every selected matrix of one or more runs,
 * into one spectra file (spectra_file.h) that rw-rank, rw-cond and the
 * others read instead of the checkpoints.
 */
#include "cli.h"
#include "spectra_file.h"

#include <stdio.h>

static const char usage[] =
    "Usage: rw-spectra [OPTION]... -o SPECTRA.h5 RUN...\n"
    "Computes the singular values of every matrix of each RUN (a directory of\n"
    "checkpoints, a checkpoint file, an HDF5 file of step_<N> groups,\n"
    "FILE,FILE,... or @LIST; NAME=RUN labels it) and writes them to SPECTRA.h5.\n"
    "\n"
    RW_CLI_SELECT_HELP
    "  -o, --output FILE   the spectra file to write (required)\n"
    RW_CLI_COMMON_HELP
    "\n"
    "Exit status: 0 ok, 1 bad data, 2 usage error.\n";

static rw_status add(const rw_spectrum *s, void *ctx, rw_err *err)
{
    return spectra_writer_add(ctx, s, err);
}

int main(int argc, char **argv)
{
    rw_cli cli = {.prog = "rw-spectra", .usage = usage};
    int ret = rw_cli_parse(&cli, argc, argv, NULL, NULL, NULL, NULL);
    if (ret >= 0)
        goto out;
    if (optind >= argc) {
        ret = rw_cli_usage_error(&cli, "no run given");
        goto out;
    }
    if (!cli.out) {
        ret = rw_cli_usage_error(&cli, "-o SPECTRA.h5 is required");
        goto out;
    }
    rw_err err = {{0}};
    rw_runset rs = {0};
    rw_spectra_writer *w = NULL;
    rw_status st = rw_cli_runs(&cli, argc - optind, argv + optind, &rs, &err);
    if (st == RW_OK)
        st = spectra_writer_open(cli.out, &w, &err);
    if (st == RW_OK) {
        rw_analysis_opts o = {.sel = cli.sel, .component = cli.component, .prog = cli.prog,
                              .progress = true};
        st = rw_analyze(&rs, &o, add, w, &err);
        rw_status cst = spectra_writer_close(w, st == RW_OK, &err);
        if (st == RW_OK)
            st = cst;
    }
    runset_free(&rs);
    ret = st == RW_OK ? 0 : rw_cli_fail(&cli, st, &err);
out:
    rw_cli_free(&cli);
    return ret;
}
