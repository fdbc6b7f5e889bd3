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
    "By default the spectra of the weights; --updates adds those of the updates\n"
    "between consecutive checkpoints, --from-first those since the first one.\n"
    "\n"
    RW_CLI_SELECT_HELP
    "  --updates           also the spectra of the updates (for rw-updates)\n"
    "  --from-first        also the spectra of W(step) - W(first step)\n"
    "  -o, --output FILE   the spectra file to write (required)\n"
    RW_CLI_COMMON_HELP
    "\n"
    "Exit status: 0 ok, 1 bad data, 2 usage error.\n";

static rw_status add(const rw_spectrum *s, void *ctx, rw_err *err)
{
    return spectra_writer_add(ctx, s, err);
}

enum { OPT_UPDATES = 3000, OPT_FROM_FIRST };

typedef struct {
    bool updates, from_first;
} modes;

static int on_option(int opt, const char *arg, void *ctx)
{
    (void)arg;
    modes *m = ctx;
    if (opt == OPT_UPDATES)
        m->updates = true;
    else
        m->from_first = true;
    return 0;
}

int main(int argc, char **argv)
{
    rw_cli cli = {.prog = "rw-spectra", .usage = usage};
    modes m = {0};
    static const struct option extra[] = {
        {"updates", no_argument, NULL, OPT_UPDATES},
        {"from-first", no_argument, NULL, OPT_FROM_FIRST},
        {0, 0, 0, 0},
    };
    int ret = rw_cli_parse(&cli, argc, argv, extra, NULL, on_option, &m);
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
        rw_analysis_opts o = rw_cli_analysis(&cli);
        o.updates = m.updates;
        o.from_first = m.from_first;
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
