/*
 * rw-diff — the CI gate: compares a current table (or directory of tables)
 * with a baseline within tolerances, prints what differs, worst first, and
 * exits 1 when anything does.
 */
#include "analyzers/cli.h"
#include "analyzers/tables/diff.h"
#include "io/outfile.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "Usage: rw-diff [OPTION]... BASELINE CURRENT\n"
    "Compares two tables, or two directories of tables (*.tsv, *.csv, matched by\n"
    "relative path), value by value. Rows are matched by their key:\n"
    "  per-layer tables (rw-rank, rw-cond, ...)  run, step, tensor, component\n"
    "  rw-compare tables                         module, metric, step, run\n"
    "  rw-compare --summary tables               module, metric, run, ref\n"
    "Per-layer tables' layer, module, rows, cols and dtype must be equal; every\n"
    "other column is a metric, and two values agree when\n"
    "  |current - baseline| <= atol + rtol * |baseline|\n"
    "(nan agrees with nan, inf with inf of the same sign, an empty cell with an\n"
    "empty cell). Rows, columns and tables on one side only are differences.\n"
    "\n"
    "  --rtol R            relative tolerance of every metric (default 1e-6)\n"
    "  --atol A            absolute tolerance of every metric (default 1e-12)\n"
    "  --tol LIST          per metric: METRIC=RTOL or METRIC=RTOL:ATOL, comma-\n"
    "                      separated, e.g. per=0.01,cond=0.05 (relative, replacing\n"
    "                      --rtol for that metric); inf ignores the metric\n"
    "  --metrics LIST      compare only these metric columns (comma-separated)\n"
    "  --allow-missing     rows, columns and tables on one side only are fine\n"
    "  --include GLOB      only rows whose tensor (module when there is no tensor\n"
    "                      column) matches GLOB (repeatable)\n"
    "  --exclude GLOB      skip rows whose tensor matches GLOB (repeatable)\n"
    "  --component C       only rows of component C (weight, full, base, lora, ov)\n"
    "  --format F          text (default): a summary for people; md: for a pull\n"
    "                      request comment; json: every difference, for programs\n"
    "  --show N            list at most N differences in text and md (default 20;\n"
    "                      0: all)\n"
    "  -o, --output FILE   write the report to FILE (atomically) instead of stdout\n"
    RW_CLI_COMMON_HELP
    "\n"
    "Exit status: 0 within tolerance, 1 differences (or bad data: an unreadable or\n"
    "malformed table, a metric cell that is not a number, a key given twice),\n"
    "2 usage error (including --metrics naming a column no table has).\n";

enum {
    OPT_RTOL = 1000, OPT_ATOL, OPT_TOL, OPT_METRICS, OPT_ALLOW_MISSING, OPT_FORMAT, OPT_SHOW,
    OPT_INCLUDE, OPT_EXCLUDE, OPT_COMPONENT, OPT_VERSION,
};

static const struct option opts[] = {
    {"rtol", required_argument, NULL, OPT_RTOL},
    {"atol", required_argument, NULL, OPT_ATOL},
    {"tol", required_argument, NULL, OPT_TOL},
    {"metrics", required_argument, NULL, OPT_METRICS},
    {"allow-missing", no_argument, NULL, OPT_ALLOW_MISSING},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"show", required_argument, NULL, OPT_SHOW},
    {"include", required_argument, NULL, OPT_INCLUDE},
    {"exclude", required_argument, NULL, OPT_EXCLUDE},
    {"component", required_argument, NULL, OPT_COMPONENT},
    {"output", required_argument, NULL, 'o'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

typedef struct {
    rw_cli cli;                 /* for the program name, selection and messages */
    rw_diff_opts o;
    rw_diff_format format;
    size_t show;
    char *tol_buf, *metrics_buf; /* owned copies split in place */
    rw_tol *tols;
    const char **metrics;
} diff_args;

/* A tolerance: a number >= 0 (inf allowed). */
static bool parse_tol(const char *s, double *out)
{
    return rw_parse_double(s, out) && *out >= 0;
}

static int parse_tol_list(diff_args *a, const char *arg)
{
    free(a->tol_buf);
    free(a->tols);
    a->tols = NULL;
    a->o.ntols = 0;
    size_t n = 1;
    for (const char *p = arg; *p; p++)
        n += *p == ',';
    if (!(a->tol_buf = rw_strdup(arg)) || !(a->tols = calloc(n, sizeof *a->tols)))
        return 1;
    char *save = NULL, *item = strtok_r(a->tol_buf, ",", &save);
    for (size_t i = 0; i < n; i++, item = strtok_r(NULL, ",", &save)) {
        char *eq = item ? strchr(item, '=') : NULL;
        if (!eq || eq == item)
            return rw_cli_usage_error(&a->cli, "--tol: '%s' is not METRIC=RTOL[:ATOL], ...",
                                      arg);
        *eq = '\0';
        rw_tol *t = &a->tols[a->o.ntols++];
        t->metric = item;
        t->atol = NAN;
        char *colon = strchr(eq + 1, ':');
        if (colon)
            *colon = '\0';
        if (!parse_tol(eq + 1, &t->rtol) || (colon && !parse_tol(colon + 1, &t->atol)))
            return rw_cli_usage_error(&a->cli, "--tol: %s: the tolerance is not a number >= 0",
                                      item);
    }
    a->o.tols = a->tols;
    return 0;
}

static int parse_metrics(diff_args *a, const char *arg)
{
    free(a->metrics_buf);
    free((void *)a->metrics);
    a->metrics = NULL;
    a->o.nmetrics = 0;
    size_t n = 1;
    for (const char *p = arg; *p; p++)
        n += *p == ',';
    if (!(a->metrics_buf = rw_strdup(arg)) || !(a->metrics = calloc(n, sizeof *a->metrics)))
        return 1;
    char *save = NULL;
    for (char *t = strtok_r(a->metrics_buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        a->metrics[a->o.nmetrics++] = t;
    if (a->o.nmetrics != n)
        return rw_cli_usage_error(&a->cli, "--metrics: '%s' has an empty name", arg);
    a->o.metrics = a->metrics;
    return 0;
}

/* Returns -1 to go on, else the exit code. */
static int parse_args(diff_args *a, int argc, char **argv)
{
    rw_err err = {{0}};
    int opt;
    int64_t v;
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
        int r = 0;
        switch (opt) {
        case 'h':
            fputs(usage, stdout);
            return 0;
        case OPT_VERSION:
            printf("rw-diff (rankwatch) %s\n", RW_VERSION);
            return 0;
        case OPT_RTOL:
        case OPT_ATOL:
            if (!parse_tol(optarg, opt == OPT_RTOL ? &a->o.rtol : &a->o.atol))
                return rw_cli_usage_error(&a->cli, "%s: '%s' is not a number >= 0",
                                          opt == OPT_RTOL ? "--rtol" : "--atol", optarg);
            break;
        case OPT_TOL:
            r = parse_tol_list(a, optarg);
            break;
        case OPT_METRICS:
            r = parse_metrics(a, optarg);
            break;
        case OPT_ALLOW_MISSING:
            a->o.allow_missing = true;
            break;
        case OPT_FORMAT:
            if (strcmp(optarg, "text") == 0)
                a->format = RW_DF_TEXT;
            else if (strcmp(optarg, "md") == 0)
                a->format = RW_DF_MD;
            else if (strcmp(optarg, "json") == 0)
                a->format = RW_DF_JSON;
            else
                return rw_cli_usage_error(&a->cli, "--format: '%s' is not text, md or json",
                                          optarg);
            break;
        case OPT_SHOW:
            if (!rw_parse_i64(optarg, &v) || v < 0)
                return rw_cli_usage_error(&a->cli, "--show: '%s' is not a whole number >= 0",
                                          optarg);
            a->show = (size_t)v;
            break;
        case OPT_INCLUDE:
        case OPT_EXCLUDE:
            if (rw_select_add(&a->cli.sel, opt == OPT_INCLUDE, optarg, &err) != RW_OK)
                return rw_cli_fail(&a->cli, RW_ENOMEM, &err);
            break;
        case OPT_COMPONENT:
            if (rw_comp_parse(optarg) < 0)
                return rw_cli_usage_error(&a->cli, "--component: '%s' is not one of weight, "
                                                   "full, base, lora, ov", optarg);
            a->o.component = optarg;
            break;
        case 'o':
            a->cli.out = optarg;
            break;
        default:
            if (optopt)
                return rw_cli_usage_error(&a->cli, "option '-%c' is unknown or lacks its value",
                                          optopt);
            return rw_cli_usage_error(&a->cli, "option '%s' is unknown or lacks its value",
                                      argv[optind - 1]);
        }
        if (r)
            return r;
    }
    if (argc - optind != 2)
        return rw_cli_usage_error(&a->cli, "expected BASELINE and CURRENT, got %d argument%s",
                                  argc - optind, argc - optind == 1 ? "" : "s");
    return -1;
}

typedef struct {
    const rw_diff *d;
    const diff_args *a;
    const char *base, *cur;
} report_out;

static rw_status write_report_out(FILE *f, void *ctx)
{
    const report_out *w = ctx;
    return diff_write(w->d, f, w->a->format, w->a->show, w->base, w->cur);
}

static rw_status write_report(const rw_diff *d, const diff_args *a, const char *base,
                              const char *cur, rw_err *err)
{
    report_out w = {d, a, base, cur};
    return outfile_write(a->cli.out, write_report_out, &w, err);
}

int main(int argc, char **argv)
{
    diff_args a = {.cli = {.prog = "rw-diff", .usage = usage},
                   .o = {.rtol = RW_DIFF_RTOL, .atol = RW_DIFF_ATOL},
                   .format = RW_DF_TEXT,
                   .show = 20};
    rw_diff *d = NULL;
    rw_err err = {{0}};
    rw_status st = RW_OK;
    rw_cli_signals();
    int ret = parse_args(&a, argc, argv);
    if (ret >= 0)
        goto out;
    const char *base = argv[optind], *cur = argv[optind + 1];
    a.o.sel = &a.cli.sel;
    if (!(d = diff_new(&a.o))) {
        st = rw_fail(&err, RW_ENOMEM, "out of memory");
        goto out;
    }
    if ((st = diff_paths(d, base, cur, &err)) != RW_OK ||
        (st = diff_finish(d, &err)) != RW_OK ||
        (st = write_report(d, &a, base, cur, &err)) != RW_OK)
        goto out;
    size_t nd = diff_counts(d)->differences;
    if (nd && a.cli.out && strcmp(a.cli.out, "-") != 0)
        rw_warn("rw-diff", "%s vs %s: %zu difference%s (report in %s)", base, cur, nd,
                nd == 1 ? "" : "s", a.cli.out);
    ret = nd ? 1 : 0;
out:
    if (ret < 0)
        ret = rw_cli_fail(&a.cli, st, &err);
    diff_free(d);
    free(a.tol_buf);
    free(a.tols);
    free(a.metrics_buf);
    free((void *)a.metrics);
    rw_cli_free(&a.cli);
    return ret;
}
