/*
 * metrics_main.c — rw-rank, rw-cond and rw-metrics (metrics_main.h).
 */
#include "metrics_main.h"

#include "cli.h"
#include "spectra_file.h"

#include <stdio.h>

typedef struct {
    rw_table *t;
    const rw_metric_id *ids;
    size_t nids;
} add_ctx;

static rw_status add_row(const rw_spectrum *s, void *ctx, rw_err *err)
{
    add_ctx *a = ctx;
    return rw_metrics_table_add(a->t, s, a->ids, a->nids, err);
}

int rw_metrics_main(int argc, char **argv, const char *prog, const char *usage,
                    const rw_metric_id *ids, size_t nids)
{
    rw_cli cli = {.prog = prog, .usage = usage};
    int ret = rw_cli_parse(&cli, argc, argv, NULL, NULL, NULL, NULL);
    if (ret >= 0) {
        rw_cli_free(&cli);
        return ret;
    }
    int nargs = argc - optind;
    char **args = argv + optind;
    if (nargs < 1) {
        ret = rw_cli_usage_error(&cli, "no run given");
        rw_cli_free(&cli);
        return ret;
    }
    rw_err err = {{0}};
    rw_runset rs = {0};
    rw_status st = RW_OK;
    add_ctx a = {.t = rw_metrics_table_new(ids, nids), .ids = ids, .nids = nids};
    if (!a.t) {
        st = rw_fail(&err, RW_ENOMEM, "out of memory");
        goto done;
    }
    if (nargs == 1 && spectra_file_is(args[0])) {
        st = spectra_file_foreach(args[0], &cli.sel, cli.component, add_row, &a, &err);
    } else {
        for (int i = 0; i < nargs; i++)
            if (spectra_file_is(args[i])) {
                st = rw_fail(&err, RW_EUSAGE, "%s: a spectra file is read alone, not with runs",
                             args[i]);
                goto done;
            }
        if ((st = rw_cli_runs(&cli, nargs, args, &rs, &err)) != RW_OK)
            goto done;
        rw_analysis_opts o = {.sel = cli.sel, .component = cli.component, .prog = prog,
                              .progress = true};
        st = rw_analyze(&rs, &o, add_row, &a, &err);
    }
    if (st != RW_OK)
        goto done;
    table_sort_default(a.t);
    st = table_write_path(a.t, cli.out, cli.format, &err);
done:
    ret = st == RW_OK ? 0 : rw_cli_fail(&cli, st, &err);
    table_free(a.t);
    runset_free(&rs);
    rw_cli_free(&cli);
    return ret;
}
