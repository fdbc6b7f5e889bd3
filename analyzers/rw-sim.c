/*
 * rw-sim — how alike the activations of a run are over training: linear CKA
 * and PWCCA of each step's activations against a target step, or of two
 * runs at the steps they share (pico-analyze's comparative metrics).
 */
#include "analyzers/cli.h"
#include "analyzers/core/pipeline.h"
#include "analyzers/core/sim_runs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "Usage: rw-sim [OPTION]... RUN...\n"
    "       rw-sim --between [OPTION]... RUN_A RUN_B\n"
    "Activation similarity over training: linear CKA and PWCCA of each step's\n"
    "activations against a target step of its run (default: the last), or with\n"
    "--between, of RUN_B's against RUN_A's at every step both have. A RUN is a\n"
    "pico-train run folder (runs/RUN, its checkpoints/ or step_N/ folders),\n"
    "whose step folders hold learning_dynamics/<split>_activations.pt: per\n"
    "module, its output on a fixed batch, samples x features. Matrices of the\n"
    "same name are compared; they must have the same samples.\n"
    "\n"
    "Columns: run step target_step tensor layer module data split cka pwcca\n"
    "         (--between: target_run after target_step)\n"
    "  cka: linear CKA in feature space, ||X'Y||_F^2 / (||X'X||_F ||Y'Y||_F) of the\n"
    "       centred activations X (the step's) and Y (the target's)\n"
    "  pwcca: projection-weighted CCA (epsilon 1e-6, as pico-analyze); needs more\n"
    "       samples than features\n"
    "  (docs/similarity.md: the definitions and their sources)\n"
    "\n"
    "  --target T          last (default), first, or a step: the step every step\n"
    "                      of a run is compared with\n"
    "  --between           two runs: RUN_B against RUN_A, step by step\n"
    "  --metrics LIST      cka, pwcca or both (default: cka,pwcca); the other column\n"
    "                      is left empty\n"
    "  --debiased          CKA with the unbiased HSIC estimator (may be negative)\n"
    "  --split S           train (default) or val: which activations file\n"
    "  --include GLOB, --exclude GLOB   select matrices by name (repeatable)\n"
    "  --label NAME        name the next run (repeatable; or write NAME=PATH)\n"
    "  -j, --jobs N        compare N matrices at once (default: one per core; the\n"
    "                      output is the same bytes whatever N is)\n"
    RW_CLI_OUTPUT_HELP RW_CLI_COMMON_HELP
    "\n"
    "Exit status: 0 ok, 1 bad data, 2 usage error.\n";

enum { OPT_TARGET = 4000, OPT_BETWEEN, OPT_METRICS, OPT_DEBIASED };

typedef struct {
    rw_cli *cli;
    rw_sim_opts o;
    bool metrics_given;
} sim_args;

static int on_option(int opt, const char *arg, void *ctx)
{
    sim_args *a = ctx;
    switch (opt) {
    case OPT_TARGET:
        if (strcmp(arg, "last") == 0)
            a->o.target = RW_TARGET_LAST;
        else if (strcmp(arg, "first") == 0)
            a->o.target = RW_TARGET_FIRST;
        else if (rw_parse_i64(arg, &a->o.target_step) && a->o.target_step >= 0)
            a->o.target = RW_TARGET_STEP;
        else
            return rw_cli_usage_error(a->cli, "--target: '%s' is not last, first or a step", arg);
        return 0;
    case OPT_BETWEEN:
        a->o.between = true;
        return 0;
    case OPT_DEBIASED:
        a->o.debiased = true;
        return 0;
    case OPT_METRICS: {
        a->o.cka = a->o.pwcca = false;
        a->metrics_given = true;
        const char *p = arg;
        while (*p) {
            size_t len = strcspn(p, ",");
            if (len == 3 && strncmp(p, "cka", 3) == 0)
                a->o.cka = true;
            else if (len == 5 && strncmp(p, "pwcca", 5) == 0)
                a->o.pwcca = true;
            else
                return rw_cli_usage_error(a->cli, "--metrics: '%.*s' is not cka or pwcca",
                                          (int)len, p);
            p += len;
            if (*p == ',' && *++p == '\0')
                return rw_cli_usage_error(a->cli, "--metrics: '%s' ends in a comma", arg);
        }
        if (!a->o.cka && !a->o.pwcca)
            return rw_cli_usage_error(a->cli, "--metrics: no metric named");
        return 0;
    }
    }
    return rw_cli_usage_error(a->cli, "unexpected option");
}

int main(int argc, char **argv)
{
    rw_cli cli = {.prog = "rw-sim", .usage = usage};
    sim_args a = {.cli = &cli, .o = {.cka = true, .pwcca = true, .epsilon = 1e-6}};
    static const struct option extra[] = {
        {"target", required_argument, NULL, OPT_TARGET},
        {"between", no_argument, NULL, OPT_BETWEEN},
        {"metrics", required_argument, NULL, OPT_METRICS},
        {"debiased", no_argument, NULL, OPT_DEBIASED},
        {NULL, 0, NULL, 0},
    };
    rw_runset rs = {0};
    rw_table *tab = NULL;
    int ret = rw_cli_parse(&cli, argc, argv, extra, NULL, on_option, &a);
    if (ret >= 0)
        goto out;
    if (optind >= argc) {
        ret = rw_cli_usage_error(&cli, "no run given");
        goto out;
    }
    if (cli.data != RW_DATA_WEIGHTS && cli.data != RW_DATA_ACTIVATIONS) {
        ret = rw_cli_usage_error(&cli, "--data: rw-sim compares activations");
        goto out;
    }
    if (a.o.between && a.o.target != RW_TARGET_LAST) {
        ret = rw_cli_usage_error(&cli, "--between compares equal steps: no --target");
        goto out;
    }
    cli.data = RW_DATA_ACTIVATIONS;
    a.o.sel = &cli.sel;
    a.o.ckpt = (rw_ckpt_opts){.key = cli.key, .keep_prefix = cli.keep_prefix};
    a.o.split = cli.split;
    a.o.jobs = cli.jobs > 0 ? cli.jobs : rw_default_jobs();
    rw_err err = {{0}};
    rw_status st = rw_cli_runs(&cli, argc - optind, argv + optind, &rs, &err);
    if (st == RW_OK)
        st = rw_sim_runs(&rs, &a.o, &tab, &err);
    if (st == RW_OK)
        st = table_write_path(tab, cli.out, cli.format, &err);
    ret = st == RW_OK ? 0 : rw_cli_fail(&cli, st, &err);
out:
    table_free(tab);
    runset_free(&rs);
    rw_cli_free(&cli);
    return ret;
}
