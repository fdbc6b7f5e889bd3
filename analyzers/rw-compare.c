/*
 * rw-compare — runs side by side: per module, metric and step, each run's
 * mean over layers (or over groups of layers) with its sd and 95% interval
 * (Student t, or the percentile bootstrap), and the difference to a
 * reference run; or (--summary) per module and metric, the final gap, the
 * area between the curves and the step from which they stay apart.
 */
#include "analyzers/cli.h"
#include "analyzers/tables/compare.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage[] =
    "Usage: rw-compare [OPTION]... TABLE...\n"
    "Compares the runs of per-layer metric tables (the output of rw-rank, rw-cond,\n"
    "rw-updates, rw-metrics; TSV, or CSV when the name ends in .csv). The tables\n"
    "may hold several runs each, or one run each (NAME=TABLE or --label renames\n"
    "a table's one run), or different metrics of the same runs.\n"
    "\n"
    "Columns: module metric step run n mean sd ci95_lo ci95_hi diff\n"
    "  one row per (module, metric, step, run): n layers, their mean, sample sd\n"
    "  and two-sided 95% interval (--ci); diff = mean - the reference run's\n"
    "  mean at that step (empty for the reference run, nan when it has no value\n"
    "  there). Sorted by module, metric, step (numerically), run.\n"
    "\n"
    "  --metrics LIST      compare these metric columns (comma-separated; default:\n"
    "                      every metric column of the tables)\n"
    "  --ref NAME          the reference run (default: the first run name in byte\n"
    "                      order, as `sort` with LC_ALL=C would put it)\n"
    "  --align MODE        exact (default): runs are compared at equal steps;\n"
    "                      nearest: at each step of the reference run, every other\n"
    "                      run's nearest step (ties: the earlier) is used and\n"
    "                      reported at the reference's step\n"
    "  --max-distance D    with --align nearest (required): the largest distance\n"
    "                      in steps; farther reference steps have no row for that run\n"
    "  --summary           instead, one row per (module, metric, run) other than the\n"
    "                      reference: columns module metric run ref steps first_step\n"
    "                      last_step final ref_final gap rel_gap mean_gap area\n"
    "                      diverge_step, over the steps both runs share (see\n"
    "                      docs/compare.md)\n"
    "  --threshold T       --summary: the gap is 'beyond' at a step when\n"
    "                      |gap| > T * |reference mean| (relative; default 0.05);\n"
    "                      diverge_step is the first step from which it stays beyond\n"
    "  --ci METHOD         the 95% interval of ci95_lo, ci95_hi: t (default: the\n"
    "                      Student t interval over layers) or bootstrap: the\n"
    "                      percentile interval of 1000 resamples of the layers with\n"
    "                      replacement, as seaborn's errorbar=('ci', 95) (the\n"
    "                      paper's bands); byte-identical from run to run\n"
    "  --seed N            --ci bootstrap: the resamples' seed (default 0)\n"
    "  --layer-groups G    average groups of layers apart: 'halves' (each module's\n"
    "                      first and last half of its layers, the first taking the\n"
    "                      extra one of an odd count: 12 -> 0-5, 6-11) or ranges\n"
    "                      such as 0-5,6-11; a group's rows say module\n"
    "                      'MODULE [0-5]', and rows in no group are left out\n"
    "  --keep-cond         compare cond as it is also where matrices are rank-\n"
    "                      deficient; default: such modules' cond is compared as\n"
    "                      cond_rank (sigma_1/sigma_r on the non-zero subspace: their\n"
    "                      sigma_k is round-off), their rows say cond_rank, and a\n"
    "                      line on stderr (md, tex: a note under the table) says so\n"
    "  --include GLOB      only rows whose tensor matches GLOB (repeatable)\n"
    "  --exclude GLOB      skip rows whose tensor matches GLOB (repeatable)\n"
    "  --component C       rows of component C (default: weight for plain tensors,\n"
    "                      full for adapted ones)\n"
    "  --label NAME        rename the one run of the next table (repeatable)\n"
    "  -o, --output FILE   write to FILE (atomically) instead of stdout\n"
    "  --format F          tsv (default), csv, json: every number to full precision;\n"
    "                      md, tex: for reading, 4 significant digits, mean ± 95% CI\n"
    "                      half-width (tex: a booktabs tabular)\n"
    RW_CLI_COMMON_HELP
    "\n"
    "Exit status: 0 ok, 1 bad data, 2 usage error.\n";

enum {
    OPT_METRICS = 2000, OPT_REF, OPT_ALIGN, OPT_MAX_DISTANCE, OPT_SUMMARY, OPT_THRESHOLD,
    OPT_KEEP_COND,
};

static const struct option extra_opts[] = {
    {"metrics", required_argument, NULL, OPT_METRICS},
    {"ref", required_argument, NULL, OPT_REF},
    {"align", required_argument, NULL, OPT_ALIGN},
    {"max-distance", required_argument, NULL, OPT_MAX_DISTANCE},
    {"summary", no_argument, NULL, OPT_SUMMARY},
    {"threshold", required_argument, NULL, OPT_THRESHOLD},
    {"keep-cond", no_argument, NULL, OPT_KEEP_COND},
    RW_CLI_STATS_OPTIONS,
    {NULL, 0, NULL, 0},
};

typedef struct {
    rw_cli *cli;
    rw_compare_opts o;
    char *metrics_arg;            /* owned copy, split in place */
    const char **metrics;         /* owned array */
    bool summary, have_distance;
    double threshold;
    rw_cli_stats stats;           /* --ci, --seed, --layer-groups */
} compare_args;

/* Splits a comma-separated list in place; empty items are an error. */
static int split_list(compare_args *a, const char *opt, const char *arg)
{
    free(a->metrics_arg);
    free((void *)a->metrics);
    a->metrics = NULL;
    a->o.nmetrics = 0;
    if (!(a->metrics_arg = rw_strdup(arg)))
        return 1;
    size_t n = 1;
    for (const char *p = arg; *p; p++)
        n += *p == ',';
    if (!(a->metrics = calloc(n, sizeof *a->metrics)))
        return 1;
    char *save = NULL;
    for (char *tok = strtok_r(a->metrics_arg, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
        a->metrics[a->o.nmetrics++] = tok;
    if (a->o.nmetrics != n)
        return rw_cli_usage_error(a->cli, "%s: '%s' has an empty name", opt, arg);
    a->o.metrics = a->metrics;
    return 0;
}

static int on_option(int opt, const char *arg, void *ctx)
{
    compare_args *a = ctx;
    int64_t v;
    switch (opt) {
    case OPT_METRICS:
        return split_list(a, "--metrics", arg);
    case OPT_REF:
        a->o.ref = arg;
        return 0;
    case OPT_ALIGN:
        if (strcmp(arg, "exact") == 0)
            a->o.align = RW_ALIGN_EXACT;
        else if (strcmp(arg, "nearest") == 0)
            a->o.align = RW_ALIGN_NEAREST;
        else
            return rw_cli_usage_error(a->cli, "--align: '%s' is not exact or nearest", arg);
        return 0;
    case OPT_MAX_DISTANCE:
        if (!rw_parse_i64(arg, &v) || v < 0)
            return rw_cli_usage_error(a->cli, "--max-distance: '%s' is not a whole number >= 0",
                                      arg);
        a->o.max_distance = v;
        a->have_distance = true;
        return 0;
    case OPT_SUMMARY:
        a->summary = true;
        return 0;
    case OPT_KEEP_COND:
        a->o.keep_cond = true;
        return 0;
    case RW_OPT_CI:
    case RW_OPT_SEED:
    case RW_OPT_LAYER_GROUPS:
        return rw_cli_stats_option(a->cli, opt, arg, &a->stats);
    case OPT_THRESHOLD:
        if (!rw_parse_double(arg, &a->threshold) || !(a->threshold >= 0) ||
            isinf(a->threshold))
            return rw_cli_usage_error(a->cli, "--threshold: '%s' is not a number >= 0", arg);
        return 0;
    }
    return rw_cli_usage_error(a->cli, "unexpected option");
}

int main(int argc, char **argv)
{
    rw_cli cli = {.prog = "rw-compare", .usage = usage};
    compare_args a = {.cli = &cli, .threshold = 0.05};
    rw_table **tables = NULL;
    const char **names = NULL, **labels = NULL;
    char **owned = NULL;
    int nargs = 0;
    rw_comparison cmp = {0};
    rw_cmp_summary *sum = NULL;
    size_t nsum = 0;
    rw_err err = {{0}};
    rw_status st = RW_OK;
    int ret = rw_cli_parse(&cli, argc, argv, extra_opts, "", on_option, &a);
    if (ret >= 0)
        goto out;
    nargs = argc - optind;
    char **args = argv + optind;
    if (nargs < 1) {
        ret = rw_cli_usage_error(&cli, "no table given");
        goto out;
    }
    if (a.o.align == RW_ALIGN_NEAREST && !a.have_distance) {
        ret = rw_cli_usage_error(&cli, "--align nearest needs --max-distance D");
        goto out;
    }
    if (a.o.align == RW_ALIGN_EXACT && a.have_distance) {
        ret = rw_cli_usage_error(&cli, "--max-distance applies to --align nearest only");
        goto out;
    }
    if ((ret = rw_cli_stats_check(&cli, &a.stats)) >= 0)
        goto out;
    a.o.ci = &a.stats.ci;
    a.o.groups = a.stats.have_groups ? &a.stats.groups : NULL;
    if (cli.nlabels > (size_t)nargs) {
        ret = rw_cli_usage_error(&cli, "%zu --label for %d tables", cli.nlabels, nargs);
        goto out;
    }
    tables = calloc((size_t)nargs, sizeof *tables);
    names = calloc((size_t)nargs, sizeof *names);
    labels = calloc((size_t)nargs, sizeof *labels);
    owned = calloc((size_t)nargs, sizeof *owned);
    if (!tables || !names || !labels || !owned) {
        st = rw_fail(&err, RW_ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < nargs; i++) {
        const char *src = args[i], *eq = strchr(src, '=');
        labels[i] = (size_t)i < cli.nlabels ? cli.labels[i] : NULL;
        /* NAME=TABLE, unless a file of that name exists. */
        if (eq && eq != src && !rw_exists(src) && !memchr(src, '/', (size_t)(eq - src))) {
            if (!(owned[i] = strndup(src, (size_t)(eq - src)))) {
                st = rw_fail(&err, RW_ENOMEM, "out of memory");
                goto out;
            }
            if (!labels[i])
                labels[i] = owned[i];
            src = eq + 1;
        }
        names[i] = src;
        if ((st = table_read(src, &tables[i], &err)) != RW_OK)
            goto out;
    }
    if (cli.comps) {
        int one = -1;
        for (int c = 0; c < RW_COMP_COUNT; c++)
            if (cli.comps == RW_COMP_BIT(c))
                one = c;
        if (one < 0) {
            ret = rw_cli_usage_error(&cli, "--component: rw-compare compares one component at a time");
            goto out;
        }
        a.o.component = rw_comp_name((rw_comp)one);
    }
    a.o.sel = &cli.sel;
    st = compare_runs((const rw_table *const *)tables, names, labels, (size_t)nargs, &a.o, &cmp,
                      &err);
    if (st != RW_OK)
        goto out;
    if (cmp.ncond_ranked) {
        char list[1024] = "";
        for (size_t i = 0, used = 0; i < cmp.ncond_ranked && used < sizeof list; i++)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", i ? ", " : "",
                                     cmp.cond_ranked[i]);
        rw_warn(cli.prog, "cond_rank in place of cond for %zu rank-deficient module%s "
                "(num_rank < k; --keep-cond keeps cond): %s", cmp.ncond_ranked,
                cmp.ncond_ranked == 1 ? "" : "s", list);
    }
    if (a.summary) {
        if (cmp.nruns < 2)
            rw_warn(cli.prog, "one run (%s): the summary has no rows", cmp.ref);
        if ((st = compare_summarize(&cmp, a.threshold, &sum, &nsum, &err)) != RW_OK)
            goto out;
        st = compare_summary_write_path(&cmp, sum, nsum, cli.out, cli.format, &err);
    } else {
        st = compare_write_path(&cmp, cli.out, cli.format, &err);
    }
out:
    if (ret < 0)
        ret = st == RW_OK ? 0 : rw_cli_fail(&cli, st, &err);
    compare_summary_free(sum, nsum);
    compare_free(&cmp);
    for (int i = 0; tables && i < nargs; i++)
        table_free(tables[i]);
    for (int i = 0; owned && i < nargs; i++)
        free(owned[i]);
    free(tables);
    free(names);
    free(labels);
    free(owned);
    free(a.metrics_arg);
    free((void *)a.metrics);
    rw_cli_free(&cli);
    return ret;
}
