/*
 * cli.h — what every rw- program's command line shares: the selection flags
 * (--include, --exclude, --component, --label), how checkpoints are read
 * (--lora-scale, --heads, --base, --data, ...), output (-o, --format), -j,
 * --help and --version, and turning positional arguments into runs.
 *
 * Ownership: an rw_cli owns its selection arrays and its labels array
 * (rw_cli_free); the strings in them, out and every other string field are
 * borrowed from argv and the program's static text, and live as long as
 * the program. The runs rw_cli_runs adds belong to the caller's rw_runset.
 */
#ifndef RW_CLI_H
#define RW_CLI_H

#include "analyzers/core/pipeline.h"
#include "analyzers/tables/stats.h"
#include "io/run.h"
#include "io/table.h"

#include <getopt.h>

typedef struct {
    const char *prog;        /* "rw-rank" */
    const char *usage;       /* the full --help text */
    rw_select sel;
    unsigned comps;          /* --component mask of RW_COMP_BIT(c); 0: defaults */
    const char **labels;     /* --label, in order: the i-th names the i-th run source */
    size_t nlabels;
    const char *out;         /* -o FILE, NULL: stdout */
    rw_tformat format;
    int jobs;                /* -j N; 0 = number of cores */
    double lora_scale;       /* --lora-scale; nan when not given */
    long heads, kv_heads;    /* --heads, --kv-heads; 0 when not given */
    bool fast;               /* --fast */
    long max_matrix_mib;     /* --max-matrix-mib, else RW_MAX_MATRIX_MIB, else 8192 */
    rw_data data;            /* --data: pico-train step folders' model or gradients */
    rw_split split;          /* --split train|val, with --data gradients */
    bool data_given;         /* --data was given (a spectra file must agree) */
    const char *base;        /* --base CKPT: the frozen base of adapter-only
                                checkpoints (argv's), NULL when not given */
    const char *key;         /* --key PATH (argv's, borrowed): the state dict's key path
                                in PyTorch checkpoint dicts; NULL: automatic */
    bool keep_prefix;        /* --keep-prefix: tensor names as stored (ckpt.h) */
    char progress;           /* --progress: 0 or 'a' auto, 'l' lines, 'n' none */
} rw_cli;

/* The default cap on one matrix, in MiB of doubles (8 GiB). */
#define RW_MAX_MATRIX_MIB_DEFAULT 8192

/* Called for options a program adds; returns 0 when handled, 2 for a usage
 * error (after printing it). */
typedef int (*rw_cli_extra_fn)(int opt, const char *arg, void *ctx);

/* A program's start: the library's warnings and progress are written on
 * stderr (rw_set_reporter), and on SIGINT, SIGTERM and SIGHUP (those not
 * ignored when the program started) a thread of its own removes the
 * program's temporaries (tmpfiles.h) and stops gnuplot, then ends the
 * program by the same signal (exit status 128 + N in a shell).
 * rw_cli_parse calls it. Idempotent. */
void rw_cli_signals(void);

/* The reporter rw_cli_signals installs: warnings on stderr, one line each;
 * progress as one line rewritten in place. */
void rw_cli_report(rw_report_kind kind, const char *prog, const char *line);

/* Parses argv. extra/extra_short: the program's own options (may be NULL);
 * a long option in extra overrides a shared one of the same name.
 * Returns -1 when parsing succeeded (optind is set), otherwise the exit code
 * to return at once: 0 after --help/--version, 2 after a usage error. */
int rw_cli_parse(rw_cli *c, int argc, char **argv, const struct option *extra,
                 const char *extra_short, rw_cli_extra_fn fn, void *ctx);

/* Resolves positional sources (each a run; LABEL=PATH names it) into runs. */
rw_status rw_cli_runs(const rw_cli *c, int nargs, char **args, rw_runset *rs, rw_err *err);

/* Prints "prog: msg" for a usage error and the hint; returns 2. */
int rw_cli_usage_error(const rw_cli *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Prints "prog: err->msg" and returns the exit code for st. */
int rw_cli_fail(const rw_cli *c, rw_status st, const rw_err *err);

void rw_cli_free(rw_cli *c);

/* Analysis options from the parsed flags (weights only; callers add modes).
 * Its strings (globs, --key) are c's, borrowed from argv. */
rw_analysis_opts rw_cli_analysis(const rw_cli *c);

/* --ci t|bootstrap, --seed N and --layer-groups G: the statistics options
 * rw-compare and rw-plot share (stats.h: rw_ci_opts, rw_layer_spec). A
 * program puts RW_CLI_STATS_OPTIONS in its option table and hands those
 * options to rw_cli_stats_option. */
typedef struct {
    rw_ci_opts ci;           /* seed RW_BOOT_SEED (0) unless --seed */
    rw_layer_spec groups;
    bool have_ci, have_seed, have_groups;
} rw_cli_stats;

enum { RW_OPT_CI = 2900, RW_OPT_SEED, RW_OPT_LAYER_GROUPS };
#define RW_CLI_STATS_OPTIONS                                                             \
    {"ci", required_argument, NULL, RW_OPT_CI},                                          \
    {"seed", required_argument, NULL, RW_OPT_SEED},                                      \
    {"layer-groups", required_argument, NULL, RW_OPT_LAYER_GROUPS}

/* Parses one of them (opt: RW_OPT_CI ...) into *s: 0, or 2 after a usage
 * error. */
int rw_cli_stats_option(const rw_cli *c, int opt, const char *arg, rw_cli_stats *s);
/* After parsing: -1 when they fit together (--seed only with --ci
 * bootstrap), else 2 after a usage error. */
int rw_cli_stats_check(const rw_cli *c, const rw_cli_stats *s);

/* The help text of the shared options, for programs' usage strings. */
#define RW_CLI_SELECT_HELP                                                               \
    "  --include GLOB      only tensors whose name matches GLOB (repeatable)\n"           \
    "  --exclude GLOB      skip tensors whose name matches GLOB (repeatable)\n"           \
    "  --component C[,C]   weight, full, base, lora, ov, wo_wv, ov_base, ov_lora, or\n" \
    "                      all (default: weight for plain tensors, full for adapted\n"  \
    "                      ones, lora for adapter-only checkpoints)\n"                  \
    "  --lora-scale S      LoRA scale s = alpha / r (default: lora_alpha and lora_r\n"   \
    "                      attributes, else adapter_config.json, else 1)\n"             \
    "  --base CKPT         the frozen base model of adapter-only checkpoints (PEFT\n"   \
    "                      adapter_model.*; any checkpoint format), giving them base\n" \
    "                      and full components (default: a model file beside the\n"    \
    "                      adapter, as in checkpoint-N/pytorch_model.bin)\n"         \
    "  --heads H, --kv-heads G   attention heads for the ov components (default:\n"     \
    "                      the n_heads and n_kv_heads attributes)\n"                    \
    "  --label NAME        name the next run (repeatable; or write NAME=PATH)\n"        \
    "  --data D            weights (default): the model checkpoints; gradients: the\n" \
    "                      learning_dynamics/<split>_gradients.pt of pico-train step\n" \
    "                      folders (--split train, the default, or val); tables get\n"  \
    "                      data and split columns after dtype\n"                       \
    RW_CLI_READ_HELP                                                                      \
    "  -j, --jobs N        decompose N matrices at once (default: one per core; at\n"   \
    "                      most 4 per core and one per matrix, whatever N says)\n"     \
    "  --max-matrix-mib N  refuse a matrix larger than N MiB as doubles (default:\n"   \
    "                      RW_MAX_MATRIX_MIB, else 8192)\n"                             \
    "  --fast              singular values only as accurate as the stored dtype\n"      \
    "                      allows (eps(dtype)*||W||_F); default: also sigma_min to\n"  \
    "                      2e-10 of itself, so cond agrees with a double-precision SVD\n" \
    "  --progress P        auto (default: a progress line with rate and time left on\n" \
    "                      a terminal), lines (a log line every 10 s), or none\n"
#define RW_CLI_READ_HELP                                                                  \
    "  --key PATH          PyTorch checkpoint dicts: read the state dict at key path\n" \
    "                      PATH (dot-separated: ema.model, module) instead of the one\n" \
    "                      found automatically (model, state_dict, module, ...)\n" \
    "  --keep-prefix       keep a prefix every tensor name shares (pico_decoder.,\n"  \
    "                      model., base_model.model.); default: strip it, so the same\n" \
    "                      model saved by two tools has the same tensor names\n"
#define RW_CLI_OUTPUT_HELP                                                               \
    "  -o, --output FILE   write to FILE (atomically) instead of stdout\n"               \
    "  --format F          tsv (default), csv, md, tex or json\n"
#define RW_CLI_COMMON_HELP                                                               \
    "  -h, --help          this help\n"                                                   \
    "  --version           print the version\n"

#endif
