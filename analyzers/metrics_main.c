/*
 * metrics_main.c — rw-rank, rw-cond, rw-metrics, rw-updates and rw-tails
 * (metrics_main.h).
 */
#include "analyzers/metrics_main.h"

#include "analyzers/cli.h"
#include "analyzers/core/metrics_table.h"
#include "analyzers/core/tails_table.h"
#include "io/spectra_file.h"

#include <stdio.h>
#include <string.h>

typedef struct {
    rw_table *t;
    const rw_metric_id *ids;
    size_t nids;
    bool with_rel;
    bool tails;
} add_ctx;

static rw_status add_row(const rw_spectrum *s, void *ctx, rw_err *err)
{
    add_ctx *a = ctx;
    if (a->tails)
        return rw_tails_table_add(a->t, s, err);
    return rw_metrics_table_add(a->t, s, a->ids, a->nids, a->with_rel, err);
}

/* Why spectra file path gave no rows of this kind: none matches the
 * selection, or it was written with updates but its runs have one
 * checkpoint each, or it was written without them (a static string). */
static const char *why_none(const char *path, rw_kind kind)
{
    rw_err err = {{0}};
    rw_spectra_reader *r;
    if (spectra_reader_open(path, &r, &err) != RW_OK)
        return "";
    bool any = false;
    for (size_t i = 0; i < spectra_reader_count(r) && !any; i++) {
        rw_spectrum s;
        spectra_reader_entry(r, i, &s);
        any = s.kind == kind;
    }
    const char *o = spectra_reader_options(r);
    const char *flag = kind == RW_KIND_UPDATE_FIRST ? ";from_first=1;" : ";updates=1;";
    bool written = o && strstr(o, flag);
    spectra_reader_close(r);
    if (any)
        return " matching the selection";
    if (kind == RW_KIND_WEIGHT)
        return "";
    if (written)
        return ": each of its runs has one checkpoint, so there is no update between checkpoints";
    return kind == RW_KIND_UPDATE_FIRST ? " (write them with rw-spectra --from-first)"
                                        : " (write them with rw-spectra --updates)";
}

/* Whether spectra file path holds gradients (*grad); --data given with a
 * file must agree with it. */
static rw_status file_data(const rw_cli *cli, const char *path, bool *grad, rw_err *err)
{
    rw_spectra_reader *r;
    rw_status st = spectra_reader_open(path, &r, err);
    if (st != RW_OK)
        return st;
    const char *split = NULL, *d = spectra_reader_data(r, &split);
    *grad = d != NULL;
    if (cli->data_given && (cli->data != RW_DATA_WEIGHTS) != *grad)
        st = rw_fail(err, RW_EDATA, "%s: holds spectra of %s, not of %s (--data)", path,
                     d ? d : "weights", rw_data_name(cli->data));
    else if (cli->data_given && d && split && strcmp(split, rw_split_name(cli->split)) != 0)
        st = rw_fail(err, RW_EDATA, "%s: holds gradients of the %s split, not %s (--split)",
                     path, split, rw_split_name(cli->split));
    spectra_reader_close(r);
    return st;
}

enum { OPT_FROM = 3000, OPT_UPDATES, OPT_RAND };

typedef struct {
    rw_cli *cli;
    bool from_first, updates, rand;
} extra_args;

static int on_option(int opt, const char *arg, void *ctx)
{
    extra_args *x = ctx;
    if (opt == OPT_UPDATES) {
        x->updates = true;
        return 0;
    }
    if (opt == OPT_RAND) {
        x->rand = true;
        return 0;
    }
    if (opt != OPT_FROM)
        return rw_cli_usage_error(x->cli, "unexpected option");
    x->updates = true;
    if (strcmp(arg, "first") == 0)
        x->from_first = true;
    else if (strcmp(arg, "previous") == 0)
        x->from_first = false;
    else
        return rw_cli_usage_error(x->cli, "--from: '%s' is not previous or first", arg);
    return 0;
}

/* The body of both: updates is RW_TABLE_UPDATES (always, --from),
 * RW_TABLE_WEIGHTS or RW_TABLE_EITHER (weights; --updates or --from for
 * updates); rows from rw_tails_table_add when tails, else the metrics ids
 * (with rel_update for updates). */
enum { RW_TABLE_WEIGHTS, RW_TABLE_UPDATES, RW_TABLE_EITHER };

static int table_main(int argc, char **argv, const char *prog, const char *usage,
                      const rw_metric_id *ids, size_t nids, int mode, bool tails)
{
    rw_cli cli = {.prog = prog, .usage = usage};
    extra_args x = {.cli = &cli, .updates = mode == RW_TABLE_UPDATES};
    static const struct option from_opt[] = {{"from", required_argument, NULL, OPT_FROM},
                                             {0, 0, 0, 0}};
    static const struct option either_opt[] = {{"from", required_argument, NULL, OPT_FROM},
                                               {"updates", no_argument, NULL, OPT_UPDATES},
                                               {"rand-distance", no_argument, NULL, OPT_RAND},
                                               {0, 0, 0, 0}};
    const struct option *opts = mode == RW_TABLE_UPDATES ? from_opt
                                : mode == RW_TABLE_EITHER ? either_opt : NULL;
    int ret = rw_cli_parse(&cli, argc, argv, opts, NULL, opts ? on_option : NULL, &x);
    if (ret >= 0) {
        rw_cli_free(&cli);
        return ret;
    }
    bool updates = x.updates;
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
    rw_kind kind = !updates ? RW_KIND_WEIGHT : x.from_first ? RW_KIND_UPDATE_FIRST
                                                            : RW_KIND_UPDATE;
    /* the table of gradients has data and split columns: what the runs are
     * read for (--data), or what the spectra file was written from */
    bool one_file = nargs == 1 && spectra_file_is(args[0]);
    bool with_data = cli.data != RW_DATA_WEIGHTS;
    add_ctx a = {.ids = ids, .nids = nids, .with_rel = updates, .tails = tails};
    if (one_file && (st = file_data(&cli, args[0], &with_data, &err)) != RW_OK)
        goto done;
    if (tails && with_data) {
        st = rw_fail(&err, RW_EUSAGE, "rw-tails reads weights (and their updates): not --data "
                     "gradients or a spectra file of them");
        goto done;
    }
    a.t = tails ? rw_tails_table_new() : rw_metrics_table_new_data(ids, nids, updates, with_data);
    if (!a.t) {
        st = rw_fail(&err, RW_ENOMEM, "out of memory");
        goto done;
    }
    bool entries = false; /* a column of the entries (gini, hoyer, max_abs) */
    for (size_t i = 0; i < nids; i++)
        entries = entries || ids[i] >= RW_M_NSPECTRAL;
    if (one_file) {
        st = spectra_file_foreach(args[0], &cli.sel, cli.comps, 0, kind, add_row, &a, &err);
        if (st == RW_OK && a.t->nrows == 0)
            st = rw_fail(&err, RW_EDATA, "%s: no %s spectra%s", args[0], rw_kind_name(kind),
                         why_none(args[0], kind));
        /* A spectra file holds singular values; the entry metrics are not
         * functions of them (README.md, What it computes): nan, and said so. */
        if (st == RW_OK && entries)
            rw_warn(prog, "warning: %s: a spectra file holds singular values only: gini, hoyer "
                    "and max_abs, which need the matrix entries, are nan (run %s on the "
                    "checkpoints for them)", args[0], prog);
        if (st == RW_OK && x.rand)
            rw_warn(prog, "warning: %s: a spectra file holds singular values only: "
                    "rand_distance, which needs the matrix entries, is nan (run %s "
                    "--rand-distance on the checkpoints for it)", args[0], prog);
    } else {
        for (int i = 0; i < nargs; i++)
            if (spectra_file_is(args[i])) {
                st = rw_fail(&err, RW_EUSAGE, "%s: a spectra file is read alone, not with runs",
                             args[i]);
                goto done;
            }
        if ((st = rw_cli_runs(&cli, nargs, args, &rs, &err)) != RW_OK)
            goto done;
        rw_analysis_opts o = rw_cli_analysis(&cli);
        o.weights = !updates;
        o.updates = updates && !x.from_first;
        o.from_first = updates && x.from_first;
        o.entries = entries;
        o.rand_distance = x.rand;
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

int rw_metrics_main(int argc, char **argv, const char *prog, const char *usage,
                    const rw_metric_id *ids, size_t nids, bool updates)
{
    return table_main(argc, argv, prog, usage, ids, nids,
                      updates ? RW_TABLE_UPDATES : RW_TABLE_WEIGHTS, false);
}

int rw_tails_main(int argc, char **argv, const char *prog, const char *usage)
{
    return table_main(argc, argv, prog, usage, NULL, 0, RW_TABLE_EITHER, true);
}
