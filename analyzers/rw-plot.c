/*
 * rw-plot — figures from rankwatch tables through gnuplot: a metric's
 * trajectory over training, layer x step heatmaps, and normalised singular
 * value spectra, ESDs with WeightWatcher's fits; PNG, PDF or SVG, each with its gnuplot script and data
 * beside it (plots/plot.h).
 */
#include "analyzers/cli.h"
#include "analyzers/core/tails.h"
#include "plots/plot.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Two strings: C99 promises string literals of 4095 characters only. */
static const char usage1[] =
    "Usage: rw-plot trajectory [OPTION]... TABLE... -o FIG\n"
    "       rw-plot heatmap [OPTION]... TABLE... -o FIG\n"
    "       rw-plot spectrum [OPTION]... SPECTRA... -o FIG\n"
    "       rw-plot esd [OPTION]... SPECTRA... -o FIG\n"
    "Figures of per-layer metric TABLEs (rw-rank, rw-cond, rw-metrics, rw-updates)\n"
    "or of SPECTRA (long tables: run step tensor layer module component i sigma, or\n"
    "rw-spectra files), drawn by gnuplot.\n"
    "\n"
    "  trajectory  metric against training step, a panel per module, runs overlaid:\n"
    "              mean over layers with its 95% CI band (or --per-layer lines)\n"
    "  heatmap     layer x step coloured by the metric, a panel per module and run\n"
    "  spectrum    sigma_i/sigma_1 against i/k on log axes at chosen steps\n"
    "  esd         the log-log histogram of one layer's eigenvalues sigma^2 per\n"
    "              module with rw-tails' power-law fit and MP bulk (docs/tails.md)\n"
    "\n"
    "FIG's script (STEM.gp) and data (STEM.dat, STEM.cells-R-M.png) are written\n"
    "beside it: `gnuplot STEM.gp` in that directory redraws it. Run i of the inputs\n"
    "(in order of first appearance) has the same colour in every figure.\n"
    "\n"
    "  -o, --output FIG    the figure, FIG.png, .pdf or .svg (required)\n"
    "  --format F          png, pdf or svg (default: from FIG's name)\n"
    "  --size WxH          canvas in pixels (PDF: points; default: from the panels)\n"
    "  --title TEXT        the figure's title ('' for none; default: what it shows)\n"
    "  --metric COL        the metric column (trajectory, heatmap; default per); cond\n"
    "                      draws cond_rank for modules with rank-deficient matrices\n"
    "                      (cond_rank != cond: num_rank < k), marked in the panel\n"
    "  --modules LIST      comma-separated globs choosing the panels, in order;\n"
    "                      'paper' = swiglu.w_2.weight, attention.v_proj.weight,\n"
    "                      attention.o_proj.weight, attention.ov\n"
    "  --runs LIST         comma-separated globs choosing the runs drawn\n"
    "  --component C       weight, full, base, lora or ov (default: weight for plain\n"
    "                      tensors, full for adapted ones, ov for the OV circuit)\n"
    "  --include GLOB      only tensors whose name matches GLOB (repeatable)\n"
    "  --exclude GLOB      skip tensors whose name matches GLOB (repeatable)\n"
    "  --logy, --no-logy   log or linear value axis (heatmap: colour scale); default:\n"
    "                      log when the values are positive and span > 2 decades\n"
    "  --per-layer         trajectory: one line per layer, coloured by depth\n"
    "  --mean M            trajectory: how layers are averaged, geometric or\n"
    "                      arithmetic (default: geometric for cond, cond_rank,\n"
    "                      sigma_max, sigma_min, fro and nuc, whose layers differ by\n"
    "                      factors: the 95% CI is then the t-interval of ln values,\n"
    "                      exponentiated; arithmetic for the others). An interval\n"
    "                      reaching outside the metric's range (per, entropy [0, 1])\n"
    "                      is clipped to it, and the figure says so\n"
    "  --ci METHOD         trajectory: the band's 95% interval, t (default) or\n"
    "                      bootstrap: the percentile interval of 1000 resamples of\n"
    "                      the layers with replacement, of the mean the figure draws\n"
    "                      (geometric too), as seaborn's errorbar=('ci', 95)\n"
    "  --seed N            --ci bootstrap: the resamples' seed (default 0)\n";
static const char usage2[] =
    "  --layer-groups G    trajectory: a panel per group of layers of each module:\n"
    "                      'halves' (first and last half of its layers, the first\n"
    "                      taking the extra one of an odd count) or ranges such as\n"
    "                      0-5,6-11; panels are named 'MODULE [0-5]'\n"
    "  --epochs            the steps are epochs: the axes say 'epoch'\n"
    "  --updates           the values are of updates ΔW (default when a table has a\n"
    "                      rel_update column); --weights: of weights\n"
    "  --steps LIST        spectrum, esd: the steps drawn (default: five spread\n"
    "                      evenly; esd: each run's last); --step N adds one\n"
    "  --layer N           esd: the layer drawn (default: each module's middle one)\n"
    "  --script-only       write the script and data but do not run gnuplot\n"
    "  --gnuplot PROG      the gnuplot to run (default: $RW_GNUPLOT, else from PATH)\n"
    RW_CLI_COMMON_HELP
    "\n"
    "Exit status: 0 ok, 1 bad data or gnuplot failed, 2 usage error.\n";

enum {
    OPT_FORMAT = 2000, OPT_SIZE, OPT_TITLE, OPT_METRIC, OPT_MODULES, OPT_RUNS, OPT_LOGY,
    OPT_NO_LOGY, OPT_PER_LAYER, OPT_UPDATES, OPT_WEIGHTS, OPT_STEPS, OPT_SCRIPT_ONLY,
    OPT_GNUPLOT, OPT_MEAN, OPT_EPOCHS, OPT_STEP, OPT_LAYER,
};

static const struct option plot_opts[] = {
    {"format", required_argument, NULL, OPT_FORMAT},
    {"size", required_argument, NULL, OPT_SIZE},
    {"title", required_argument, NULL, OPT_TITLE},
    {"metric", required_argument, NULL, OPT_METRIC},
    {"modules", required_argument, NULL, OPT_MODULES},
    {"runs", required_argument, NULL, OPT_RUNS},
    {"logy", no_argument, NULL, OPT_LOGY},
    {"no-logy", no_argument, NULL, OPT_NO_LOGY},
    {"per-layer", no_argument, NULL, OPT_PER_LAYER},
    {"updates", no_argument, NULL, OPT_UPDATES},
    {"weights", no_argument, NULL, OPT_WEIGHTS},
    {"steps", required_argument, NULL, OPT_STEPS},
    {"step", required_argument, NULL, OPT_STEP},
    {"layer", required_argument, NULL, OPT_LAYER},
    {"script-only", no_argument, NULL, OPT_SCRIPT_ONLY},
    {"gnuplot", required_argument, NULL, OPT_GNUPLOT},
    {"mean", required_argument, NULL, OPT_MEAN},
    {"epochs", no_argument, NULL, OPT_EPOCHS},
    RW_CLI_STATS_OPTIONS,
    {NULL, 0, NULL, 0},
};

typedef struct {
    rw_cli *cli;
    rw_plot_opts o;
    char **modules, **runs;   /* split lists (owned) */
    int64_t *steps;
    bool subcommand_known;
    rw_cli_stats stats;       /* --ci, --seed, --layer-groups */
} plot_args;

/* Splits a comma-separated list into *v (strings owned), appending. */
static bool split_list(const char *arg, char ***v, size_t *n)
{
    const char *p = arg;
    for (;;) {
        size_t len = strcspn(p, ",");
        if (len > 0) {
            char **nv = realloc(*v, (*n + 1) * sizeof *nv);
            if (!nv)
                return false;
            *v = nv;
            if (!(nv[*n] = strndup(p, len)))
                return false;
            (*n)++;
        }
        if (!p[len])
            return true;
        p += len + 1;
    }
}

static int on_option(int opt, const char *arg, void *ctx)
{
    plot_args *a = ctx;
    rw_plot_opts *o = &a->o;
    switch (opt) {
    case OPT_FORMAT:
        if ((o->format = rw_figfmt_parse(arg)) < 0)
            return rw_cli_usage_error(a->cli, "--format: '%s' is not one of png, pdf, svg", arg);
        return 0;
    case OPT_SIZE: {
        int64_t w, h;
        char *x = strpbrk(arg, "x,X");
        char wbuf[32];
        if (!x || (size_t)(x - arg) >= sizeof wbuf)
            return rw_cli_usage_error(a->cli, "--size: '%s' is not WIDTHxHEIGHT", arg);
        memcpy(wbuf, arg, (size_t)(x - arg));
        wbuf[x - arg] = '\0';
        if (!rw_parse_i64(wbuf, &w) || !rw_parse_i64(x + 1, &h) || w < 100 || h < 100 ||
            w > 20000 || h > 20000)
            return rw_cli_usage_error(a->cli, "--size: '%s' is not WIDTHxHEIGHT, each 100 to "
                                              "20000", arg);
        o->width = (int)w;
        o->height = (int)h;
        return 0;
    }
    case OPT_TITLE:
        o->title = arg;
        return 0;
    case OPT_METRIC:
        if (!*arg)
            return rw_cli_usage_error(a->cli, "--metric: empty name");
        o->metric = arg;
        return 0;
    case OPT_MODULES:
        if (!split_list(arg, &a->modules, &o->nmodules))
            return 1;
        o->modules = (const char *const *)a->modules;
        return 0;
    case OPT_RUNS:
        if (!split_list(arg, &a->runs, &o->nruns))
            return 1;
        o->runs = (const char *const *)a->runs;
        return 0;
    case OPT_LOGY:
    case OPT_NO_LOGY:
        o->logy = opt == OPT_LOGY;
        return 0;
    case OPT_PER_LAYER:
        o->per_layer = true;
        return 0;
    case OPT_UPDATES:
    case OPT_WEIGHTS:
        o->updates = opt == OPT_UPDATES;
        return 0;
    case OPT_LAYER:
        if (!rw_parse_i64(arg, &o->layer) || o->layer < -1 || o->layer > 1000000)
            return rw_cli_usage_error(a->cli, "--layer: '%s' is not a layer (-1 to 1000000)",
                                      arg);
        return 0;
    case OPT_STEP:
        if (strchr(arg, ','))
            return rw_cli_usage_error(a->cli, "--step: '%s' is not a step (--steps takes a "
                                              "list)", arg);
        /* fall through */
    case OPT_STEPS: {
        char **v = NULL;
        size_t n = 0;
        bool ok = split_list(arg, &v, &n);
        for (size_t i = 0; ok && i < n; i++) {
            int64_t s;
            int64_t *ns = realloc(a->steps, (o->nsteps + 1) * sizeof *ns);
            if (!ns || !rw_parse_i64(v[i], &s) || s < 0) {
                if (ns)
                    a->steps = ns;
                for (size_t j = 0; j < n; j++)
                    free(v[j]);
                free(v);
                return ns ? rw_cli_usage_error(a->cli, "--steps: '%s' is not a step", arg) : 1;
            }
            a->steps = ns;
            ns[o->nsteps++] = s;
        }
        for (size_t j = 0; j < n; j++)
            free(v[j]);
        free(v);
        o->steps = a->steps;
        return ok ? 0 : 1;
    }
    case OPT_SCRIPT_ONLY:
        o->script_only = true;
        return 0;
    case OPT_GNUPLOT:
        o->gnuplot = arg;
        return 0;
    case OPT_MEAN:
        if (!strcmp(arg, "geometric"))
            o->mean = RW_PLOT_MEAN_GEO;
        else if (!strcmp(arg, "arithmetic"))
            o->mean = RW_PLOT_MEAN_ARITH;
        else
            return rw_cli_usage_error(a->cli, "--mean: '%s' is not geometric or arithmetic", arg);
        return 0;
    case OPT_EPOCHS:
        o->epochs = true;
        return 0;
    case RW_OPT_CI:
    case RW_OPT_SEED:
    case RW_OPT_LAYER_GROUPS:
        return rw_cli_stats_option(a->cli, opt, arg, &a->stats);
    }
    return rw_cli_usage_error(a->cli, "unexpected option");
}

/* rw-tails' fits for rw-plot esd (the figure module does not fit). */
static rw_status esd_fit(const double *sigma, size_t k, int64_t rows, int64_t cols,
                         rw_esd_fit *f, rw_err *err)
{
    bool shape = rows > 0 && cols > 0;
    rw_tails t;
    rw_status st = rw_tails_compute(sigma, k, shape ? rows : (int64_t)k,
                                    shape ? cols : (int64_t)k, &t, err);
    if (st != RW_OK)
        return st;
    int64_t M = rows < cols ? rows : cols, N = rows < cols ? cols : rows;
    *f = (rw_esd_fit){rw_tails_status_name(t.status), t.alpha, t.D, t.xmin, t.xmax,
                      t.num_pl_spikes, shape && isfinite(t.mp.sigma_mp), t.mp.sigma_mp,
                      t.mp.bulk_min, t.mp.bulk_max, t.mp.w_scale,
                      shape ? (double)N / (double)M : NAN};
    return RW_OK;
}

static void args_free(plot_args *a)
{
    for (size_t i = 0; i < a->o.nmodules; i++)
        free(a->modules[i]);
    for (size_t i = 0; i < a->o.nruns; i++)
        free(a->runs[i]);
    free(a->modules);
    free(a->runs);
    free(a->steps);
}

int main(int argc, char **argv)
{
    static char usage[sizeof usage1 + sizeof usage2 - 1];
    memcpy(usage, usage1, sizeof usage1 - 1);
    memcpy(usage + sizeof usage1 - 1, usage2, sizeof usage2);
    rw_cli cli = {.prog = "rw-plot", .usage = usage};
    static const char *const kinds[] = {"trajectory", "heatmap", "spectrum", "esd"};
    int kind = -1;
    if (argc >= 2)
        for (int i = 0; i < 4; i++)
            if (!strcmp(argv[1], kinds[i]))
                kind = i;
    plot_args a = {.cli = &cli};
    a.o = (rw_plot_opts){.prog = "rw-plot", .format = -1, .logy = -1, .updates = -1,
                         .layer = -2, .esd_fit = esd_fit};
    /* Without a subcommand only --help and --version make sense. */
    int shift = kind >= 0 ? 1 : 0;
    int ret = rw_cli_parse(&cli, argc - shift, argv + shift, plot_opts, "", on_option, &a);
    if (ret >= 0)
        goto done;
    int nargs = argc - shift - optind;
    char **args = argv + shift + optind;
    if (kind < 0) {
        ret = argc < 2 ? rw_cli_usage_error(&cli, "no subcommand (trajectory, heatmap, spectrum, "
                                                  "esd)")
                       : rw_cli_usage_error(&cli, "'%s' is not a subcommand (trajectory, "
                                                  "heatmap, spectrum, esd)", argv[1]);
        goto done;
    }
    if (cli.nlabels || cli.jobs || cli.heads || cli.kv_heads || !isnan(cli.lora_scale)) {
        ret = rw_cli_usage_error(&cli, "--label, -j, --heads, --kv-heads and --lora-scale "
                                       "are for the analyzers, not rw-plot");
        goto done;
    }
    if (!cli.out || !*cli.out || !strcmp(cli.out, "-")) {
        ret = rw_cli_usage_error(&cli, "-o FIG is required (a figure is written to a file)");
        goto done;
    }
    if (nargs < 1) {
        ret = rw_cli_usage_error(&cli, "no %s given", kind >= 2 ? "spectra" : "table");
        goto done;
    }
    if (a.o.nsteps && kind < 2) {
        ret = rw_cli_usage_error(&cli, "--steps and --step are for spectrum and esd figures");
        goto done;
    }
    if (a.o.layer >= -1 && kind != 3) {
        ret = rw_cli_usage_error(&cli, "--layer is for esd figures");
        goto done;
    }
    if (a.o.per_layer && kind != 0) {
        ret = rw_cli_usage_error(&cli, "--per-layer is for trajectory figures");
        goto done;
    }
    if (a.o.mean != RW_PLOT_MEAN_AUTO && (kind != 0 || a.o.per_layer)) {
        ret = rw_cli_usage_error(&cli, "--mean is for trajectory figures of means over layers");
        goto done;
    }
    if ((a.stats.have_ci || a.stats.have_groups) && (kind != 0 || a.o.per_layer)) {
        ret = rw_cli_usage_error(&cli, "--ci and --layer-groups are for trajectory figures of "
                                       "means over layers");
        goto done;
    }
    if ((ret = rw_cli_stats_check(&cli, &a.stats)) >= 0)
        goto done;
    a.o.ci = a.stats.ci;
    a.o.groups = a.stats.have_groups ? &a.stats.groups : NULL;
    a.o.out = cli.out;
    a.o.component = NULL;
    for (int c = 0; c < RW_COMP_COUNT && cli.comps; c++)
        if (cli.comps == RW_COMP_BIT(c))
            a.o.component = rw_comp_name((rw_comp)c);
    if (cli.comps && !a.o.component) {
        ret = rw_cli_usage_error(&cli, "--component: rw-plot draws one component at a time");
        goto done;
    }
    a.o.tensors = cli.sel.ninclude || cli.sel.nexclude ? &cli.sel : NULL;
    rw_err err = {{0}};
    const char *const *paths = (const char *const *)args;
    rw_status st = kind == 0   ? plot_trajectory(paths, (size_t)nargs, &a.o, &err)
                   : kind == 1 ? plot_heatmap(paths, (size_t)nargs, &a.o, &err)
                   : kind == 2 ? plot_spectrum(paths, (size_t)nargs, &a.o, &err)
                               : plot_esd(paths, (size_t)nargs, &a.o, &err);
    ret = st == RW_OK ? 0 : rw_cli_fail(&cli, st, &err);
done:
    args_free(&a);
    rw_cli_free(&cli);
    return ret;
}
