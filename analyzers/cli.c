/*
 * cli.c — shared command-line handling (cli.h).
 */
#include "analyzers/cli.h"

#include "io/tmpfiles.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
    OPT_INCLUDE = 1000, OPT_EXCLUDE, OPT_COMPONENT, OPT_LABEL, OPT_FORMAT, OPT_VERSION,
    OPT_LORA_SCALE, OPT_HEADS, OPT_KV_HEADS, OPT_FAST, OPT_MAX_MATRIX, OPT_DATA, OPT_SPLIT,
    OPT_BASE,
    OPT_KEY, OPT_KEEP_PREFIX, OPT_PROGRESS,
};

static const struct option common_opts[] = {
    {"include", required_argument, NULL, OPT_INCLUDE},
    {"exclude", required_argument, NULL, OPT_EXCLUDE},
    {"component", required_argument, NULL, OPT_COMPONENT},
    {"label", required_argument, NULL, OPT_LABEL},
    {"output", required_argument, NULL, 'o'},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"jobs", required_argument, NULL, 'j'},
    {"lora-scale", required_argument, NULL, OPT_LORA_SCALE},
    {"heads", required_argument, NULL, OPT_HEADS},
    {"kv-heads", required_argument, NULL, OPT_KV_HEADS},
    {"fast", no_argument, NULL, OPT_FAST},
    {"max-matrix-mib", required_argument, NULL, OPT_MAX_MATRIX},
    {"data", required_argument, NULL, OPT_DATA},
    {"split", required_argument, NULL, OPT_SPLIT},
    {"base", required_argument, NULL, OPT_BASE},
    {"key", required_argument, NULL, OPT_KEY},
    {"keep-prefix", no_argument, NULL, OPT_KEEP_PREFIX},
    {"progress", required_argument, NULL, OPT_PROGRESS},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
};
#define NCOMMON (sizeof common_opts / sizeof *common_opts)

int rw_cli_usage_error(const rw_cli *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rw_vwarn(c->prog, fmt, ap);
    va_end(ap);
    fprintf(stderr, "Try '%s --help' for more information.\n", c->prog);
    return 2;
}

int rw_cli_fail(const rw_cli *c, rw_status st, const rw_err *err)
{
    if (st == RW_EUSAGE)
        return rw_cli_usage_error(c, "%s", err->msg);
    rw_warn(c->prog, "%s", err->msg[0] ? err->msg : rw_strerror(st));
    return rw_exit_code(st);
}

static int parse_positive(const rw_cli *c, const char *opt, const char *arg, long *out)
{
    int64_t v;
    if (!rw_parse_i64(arg, &v) || v < 1 || v > 1000000)
        return rw_cli_usage_error(c, "%s: '%s' is not a positive whole number", opt, arg);
    *out = (long)v;
    return 0;
}

/* The handler only tells the signal thread (a write to a pipe is safe in
 * a handler; removing files is not). A handler rather than blocked signals
 * and sigwait: libraries start threads of their own before main (OpenBLAS),
 * and the kernel may hand a process's signal to any of them. */
static int signal_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char c = (unsigned char)sig;
    ssize_t r = write(signal_pipe[1], &c, 1);
    (void)r;
    errno = saved;
}

static void *signal_thread(void *arg)
{
    (void)arg;
    unsigned char c;
    ssize_t r;
    while ((r = read(signal_pipe[0], &c, 1)) < 0 && errno == EINTR)
        ;
    if (r != 1)
        return NULL;
    int sig = c;
    tmp_remove_all();
    /* End as the signal would have ended us. */
    signal(sig, SIG_DFL);
    raise(sig);
    _exit(128 + sig);
}

/* The library's reports on stderr: warnings one line each, below the
 * progress line when one is showing; progress as one line rewritten in
 * place (it is reported only when stderr is a terminal). */
static bool progress_shown;

void rw_cli_report(rw_report_kind kind, const char *prog, const char *line)
{
    switch (kind) {
    case RW_REPORT_WARNING:
        if (progress_shown)
            fputc('\n', stderr);
        progress_shown = false;
        fprintf(stderr, "%s: %s\n", prog, line);
        break;
    case RW_REPORT_PROGRESS:
        fprintf(stderr, "\r%s: %s   ", prog, line);
        progress_shown = true;
        break;
    case RW_REPORT_PROGRESS_DONE:
        if (progress_shown)
            fputs("\r\033[K", stderr);
        progress_shown = false;
        break;
    }
}

void rw_cli_signals(void)
{
    static bool started;
    if (started)
        return;
    started = true;
    rw_set_reporter(rw_cli_report);
    pthread_attr_t attr;
    pthread_t t;
    if (pipe2(signal_pipe, O_CLOEXEC) != 0 || pthread_attr_init(&attr) != 0)
        return; /* default actions: a later run sweeps what is left */
    /* A handler must never block: a full pipe already holds a signal. */
    fcntl(signal_pipe[1], F_SETFL, O_NONBLOCK);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    bool ok = pthread_create(&t, &attr, signal_thread, NULL) == 0;
    pthread_attr_destroy(&attr);
    if (!ok)
        return;
    static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        /* nohup and background jobs start with some ignored: keep them so */
        struct sigaction sa;
        if (sigaction(sigs[i], NULL, &sa) != 0 || sa.sa_handler == SIG_IGN)
            continue;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESTART;
        sigemptyset(&sa.sa_mask);
        sigaction(sigs[i], &sa, NULL);
    }
}

int rw_cli_parse(rw_cli *c, int argc, char **argv, const struct option *extra,
                 const char *extra_short, rw_cli_extra_fn fn, void *ctx)
{
    rw_cli_signals();
    c->format = RW_TF_TSV;
    c->lora_scale = NAN;
    c->max_matrix_mib = RW_MAX_MATRIX_MIB_DEFAULT;
    const char *env = getenv("RW_MAX_MATRIX_MIB");
    if (env && parse_positive(c, "RW_MAX_MATRIX_MIB", env, &c->max_matrix_mib) != 0)
        return 2;
    size_t nextra = 0;
    while (extra && extra[nextra].name)
        nextra++;
    struct option *opts = calloc(NCOMMON + nextra + 1, sizeof *opts);
    char shorts[64];
    snprintf(shorts, sizeof shorts, "ho:j:%s", extra_short ? extra_short : "");
    if (!opts) {
        fprintf(stderr, "%s: out of memory\n", c->prog);
        return 1;
    }
    /* The program's own options come first: getopt_long takes the first exact
     * match, so a program may give a shared name its own meaning (rw-plot's
     * --format png|pdf|svg). */
    if (nextra)
        memcpy(opts, extra, nextra * sizeof *opts);
    memcpy(opts + nextra, common_opts, sizeof common_opts);
    rw_err err = {{0}};
    int ret = -1, opt;
    long v = 0;
    opterr = 0;
    while (ret < 0 && (opt = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
        switch (opt) {
        case 'h':
            fputs(c->usage, stdout);
            ret = 0;
            break;
        case OPT_VERSION:
            printf("%s (rankwatch) %s\n", c->prog, RW_VERSION);
            ret = 0;
            break;
        case OPT_INCLUDE:
        case OPT_EXCLUDE:
            if (rw_select_add(&c->sel, opt == OPT_INCLUDE, optarg, &err) != RW_OK)
                ret = rw_cli_fail(c, RW_ENOMEM, &err);
            break;
        case OPT_COMPONENT:
            if (!rw_comp_parse_mask(optarg, &c->comps))
                ret = rw_cli_usage_error(c, "--component: '%s' is not a list of weight, full, "
                                            "base, lora, ov, wo_wv, or all", optarg);
            break;
        case OPT_LABEL: {
            const char **l = realloc((void *)c->labels, (c->nlabels + 1) * sizeof *l);
            if (!l) {
                ret = 1;
                break;
            }
            l[c->nlabels++] = optarg;
            c->labels = l;
            break;
        }
        case 'o':
            c->out = optarg;
            break;
        case OPT_FORMAT: {
            int f = rw_tformat_parse(optarg);
            if (f < 0)
                ret = rw_cli_usage_error(c, "--format: '%s' is not one of tsv, csv, md, tex, "
                                            "json", optarg);
            else
                c->format = (rw_tformat)f;
            break;
        }
        case 'j':
            if ((ret = parse_positive(c, "-j", optarg, &v)) == 0) {
                c->jobs = (int)v;
                ret = -1;
            }
            break;
        case OPT_LORA_SCALE:
            if (!rw_parse_double(optarg, &c->lora_scale) || !isfinite(c->lora_scale))
                ret = rw_cli_usage_error(c, "--lora-scale: '%s' is not a number", optarg);
            break;
        case OPT_FAST:
            c->fast = true;
            break;
        case OPT_MAX_MATRIX:
            if ((ret = parse_positive(c, "--max-matrix-mib", optarg, &c->max_matrix_mib)) == 0)
                ret = -1;
            break;
        case OPT_DATA:
            if (strcmp(optarg, "weights") == 0)
                c->data = RW_DATA_WEIGHTS, c->data_given = true;
            else if (strcmp(optarg, "gradients") == 0)
                c->data = RW_DATA_GRADIENTS, c->data_given = true;
            else
                ret = rw_cli_usage_error(c, "--data: '%s' is not weights or gradients", optarg);
            break;
        case OPT_SPLIT:
            if (strcmp(optarg, "train") == 0)
                c->split = RW_SPLIT_TRAIN;
            else if (strcmp(optarg, "val") == 0)
                c->split = RW_SPLIT_VAL;
            else
                ret = rw_cli_usage_error(c, "--split: '%s' is not train or val", optarg);
            break;
        case OPT_BASE:
            if (!*optarg)
                ret = rw_cli_usage_error(c, "--base: an empty path");
            else
                c->base = optarg;
            break;
        case OPT_KEY:
            /* keys joined by '.': none empty */
            if (!*optarg || optarg[0] == '.' || optarg[strlen(optarg) - 1] == '.' ||
                strstr(optarg, ".."))
                ret = rw_cli_usage_error(c, "--key: '%s' is not a key path (keys joined by "
                                            "'.', as ema.model)", optarg);
            else
                c->key = optarg;
            break;
        case OPT_KEEP_PREFIX:
            c->keep_prefix = true;
            break;
        case OPT_PROGRESS:
            if (strcmp(optarg, "auto") == 0 || strcmp(optarg, "none") == 0 ||
                strcmp(optarg, "lines") == 0)
                c->progress = optarg[0]; /* 'a', 'n', 'l' */
            else
                ret = rw_cli_usage_error(c, "--progress: '%s' is not auto, lines or none", optarg);
            break;
        case OPT_HEADS:
        case OPT_KV_HEADS:
            if ((ret = parse_positive(c, opt == OPT_HEADS ? "--heads" : "--kv-heads", optarg,
                                      opt == OPT_HEADS ? &c->heads : &c->kv_heads)) == 0)
                ret = -1;
            break;
        case '?': {
            /* getopt_long says '?' both for an unknown option and for one
             * missing its value: tell them apart. */
            const char *word = argv[optind - 1];
            bool needs = false;
            if (optopt && optopt < 128 && strncmp(word, "--", 2) != 0) {
                const char *p = strchr(shorts, optopt);
                needs = p && p[1] == ':';
                if (needs)
                    ret = rw_cli_usage_error(c, "option '-%c' needs a value", optopt);
                else
                    ret = rw_cli_usage_error(c, "unknown option '-%c'", optopt);
                break;
            }
            if (strncmp(word, "--", 2) == 0) {
                size_t len = strcspn(word + 2, "=");
                for (size_t i = 0; opts[i].name && !needs; i++)
                    needs = strlen(opts[i].name) == len &&
                            strncmp(opts[i].name, word + 2, len) == 0 &&
                            opts[i].has_arg == required_argument;
            }
            ret = rw_cli_usage_error(c, needs ? "option '%s' needs a value" : "unknown option '%s'",
                                     word);
            break;
        }
        default:
            if (fn) {
                int r = fn(opt, optarg, ctx);
                if (r != 0)
                    ret = r;
            } else {
                ret = rw_cli_usage_error(c, "unexpected option");
            }
        }
    }
    free(opts);
    return ret;
}

rw_status rw_cli_runs(const rw_cli *c, int nargs, char **args, rw_runset *rs, rw_err *err)
{
    if (c->nlabels > (size_t)nargs)
        return rw_fail(err, RW_EUSAGE, "%zu --label for %d runs", c->nlabels, nargs);
    rs->data = c->data;
    rs->split = c->split;
    for (int i = 0; i < nargs; i++) {
        const char *src = args[i];
        const char *label = (size_t)i < c->nlabels ? c->labels[i] : NULL;
        char *name = NULL;
        const char *eq = strchr(src, '=');
        if (eq && eq != src && !rw_exists(src) && !memchr(src, '/', (size_t)(eq - src))) {
            name = strndup(src, (size_t)(eq - src));
            if (!name)
                return rw_fail(err, RW_ENOMEM, "out of memory");
            if (!label)
                label = name;
            src = eq + 1;
        }
        rw_status st = runset_add(rs, src, label, err);
        free(name);
        if (st != RW_OK)
            return st;
    }
    return runset_finish(rs, err);
}

void rw_cli_free(rw_cli *c)
{
    rw_select_free(&c->sel);
    free((void *)c->labels);
    c->labels = NULL;
}

rw_analysis_opts rw_cli_analysis(const rw_cli *c)
{
    rw_analysis_opts o = {
        .sel = c->sel, .comps = c->comps, .weights = true,
        .item = {.lora_scale = c->lora_scale, .heads = c->heads, .kv_heads = c->kv_heads,
                 .base = c->base, .prog = c->prog},
        .prog = c->prog, .progress = c->progress != 'n', .progress_lines = c->progress == 'l', .jobs = c->jobs, .fast = c->fast,
        .max_matrix_bytes = (size_t)c->max_matrix_mib << 20, .ckpt = {.key = c->key, .keep_prefix = c->keep_prefix},
    };
    if (c->data != RW_DATA_WEIGHTS) {
        o.data = rw_data_name(c->data);
        o.split = rw_split_name(c->split);
    }
    return o;
}

/* ------------------------------------------ --ci, --seed, --layer-groups */

int rw_cli_stats_option(const rw_cli *c, int opt, const char *arg, rw_cli_stats *s)
{
    int64_t v;
    rw_err e = {{0}};
    switch (opt) {
    case RW_OPT_CI:
        if (!strcmp(arg, "t") || !strcmp(arg, "bootstrap"))
            s->ci.ci = !strcmp(arg, "t") ? RW_CI_T : RW_CI_BOOTSTRAP;
        else
            return rw_cli_usage_error(c, "--ci: '%s' is not t or bootstrap", arg);
        s->have_ci = true;
        return 0;
    case RW_OPT_SEED:
        if (!rw_parse_i64(arg, &v) || v < 0)
            return rw_cli_usage_error(c, "--seed: '%s' is not a whole number >= 0", arg);
        s->ci.seed = (uint64_t)v;
        s->have_seed = true;
        return 0;
    case RW_OPT_LAYER_GROUPS:
        if (rw_layer_spec_parse(arg, &s->groups, &e) != RW_OK)
            return rw_cli_usage_error(c, "%s", e.msg);
        s->have_groups = true;
        return 0;
    }
    return rw_cli_usage_error(c, "unexpected option");
}

int rw_cli_stats_check(const rw_cli *c, const rw_cli_stats *s)
{
    if (s->have_seed && s->ci.ci != RW_CI_BOOTSTRAP)
        return rw_cli_usage_error(c, "--seed is for --ci bootstrap");
    return -1;
}
