/*
 * rw-fixture — synthetic runs with known structure, for tests, demos and
 * benchmarks:
 *   runs   a full-rank and a ReLoRA-style run of a small pico-decoder-shaped
 *          model (synth.h says how they are made);
 *   known  a run whose matrices have chosen singular values, with the chosen
 *          values written beside it (known_sigma.tsv) so that any tool's
 *          output can be checked against them;
 *   edge, malformed, keras  files for the error-handling and format tests.
 */
#include "analyzers/cli.h"
#include "analyzers/core/spectral.h"
#include "fixtures/chunks.h"
#include "fixtures/h5write.h"
#include "fixtures/keras.h"
#include "fixtures/malformed.h"
#include "fixtures/peft.h"
#include "fixtures/synth.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char usage[] =
    "Usage: rw-fixture runs  -o DIR [OPTION]...\n"
    "       rw-fixture known -o DIR [--seed N]\n"
    "       rw-fixture edge  -o DIR\n"
    "       rw-fixture malformed -o DIR\n"
    "       rw-fixture keras -o DIR\n"
    "       rw-fixture chunks -o DIR\n"
    "       rw-fixture peft -o DIR [--beside] [--transposed] CKPT...\n"
    "\n"
    "runs: writes DIR/full-rank/step_NNNNNN.h5 and DIR/relora/step_NNNNNN.h5, a\n"
    "  full-rank and a ReLoRA-style run of a pico-decoder-shaped model (d_model 96,\n"
    "  12 heads, 4 kv heads, FFN 384). ReLoRA checkpoints hold the frozen base\n"
    "  weights plus A_lora/B_lora adapters, merged every --cycle steps.\n"
    "  --seed N        random seed (default 42); the same command and seed write\n"
    "                  the same bytes on every machine\n"
    "  --layers N      transformer blocks (default 4)\n"
    "  --steps N       last step (default 2000)\n"
    "  --every N       checkpoint interval in steps (default 100)\n"
    "  --cycle N       ReLoRA merge interval in steps (default 500)\n"
    "  --rank N        ReLoRA adapter rank (default 8)\n"
    "  --dtype T       float32 (default), float16, bfloat16 or float64\n"
    "  --layout L      how the checkpoints are saved, the same values in each\n"
    "                  (fixtures/synth.h says where each puts what): h5\n"
    "                  (default, with attributes), safetensors (step and run\n"
    "                  metadata only), pt (torch.save(state_dict)), pt-dict\n"
    "                  ({'model': ..., 'step', 'lora_alpha', 'lora_r'}), hf-bin\n"
    "                  (checkpoint-N/pytorch_model.bin, config.json and the\n"
    "                  trainer's files), hf-bin-sharded (two shards and their\n"
    "                  index), pico (runs/RUN/checkpoints/step_N/ as pico-train\n"
    "                  writes it, with learning_dynamics/train_gradients.pt)\n"
    "  --safetensors   the same as --layout safetensors\n"
    "  --prefix P      prepend P to every tensor name (e.g. pico_decoder.)\n"
    "  --gzip N        HDF5: chunked, deflate level N (h5py's compression=\"gzip\"),\n"
    "                  in h5py's chunks unless --chunk N: at most N per dimension\n"
    "  --shuffle, --fletcher32   HDF5: chunked, with that filter too\n"
    "\n"
    "known: writes DIR/known/step_00000{0,1,2}.h5, matrices U diag(s) V^T with\n"
    "  random orthogonal U, V and chosen s (float64), and DIR/known_sigma.tsv with\n"
    "  the columns step tensor rows cols i sigma. One of them, layers.4.drift.weight,\n"
    "  keeps U and V and moves s by a fixed d each step, so its updates have the\n"
    "  known spectrum d (and t*d since step 0): DIR/known_updates.tsv lists them\n"
    "  (kind step tensor rows cols i sigma ref_fro).\n"
    "\n"
    "edge: checkpoints that analyses must refuse or flag (vectors only, NaN,\n"
    "  a changing shape, no heads, unwritten, a string step, a wide float16).\n"
    "\n"
    "malformed: writes the generated files of the malformed-input corpus\n"
    "  (tests/malformed/): HDF5 checkpoints of unusual rank, type or step attribute,\n"
    "  spectra files and PyTorch files with one defect each (fixtures/malformed.h\n"
    "  lists them).\n"
    "\n"
    "keras: writes HDF5 files laid out as Keras writes them: keras3.weights.h5\n"
    "  (Keras 3: layers/<name>/vars/<i>, optimizer/vars/<i>), keras213.weights.h5\n"
    "  (_layer_checkpoint_dependencies/), keras2_weights.h5 and keras2_model.h5\n"
    "  (Keras 2 save_weights and model.save, with optimizer_weights/), and plain.h5\n"
    "  (no Keras mark); fixtures/keras.h lists their tensors.\n"
    "chunks: one checkpoint contiguous (DIR/plain*), chunked (DIR/ok-*) and with a\n"
    "  broken chunk (DIR/bad-*): fixtures/chunks.h lists them.\n"
    "peft: splits runs' relora/ checkpoints as PEFT saves them (fixtures/peft.h):\n"
    "  DIR/lora/checkpoint-N/adapter_model.safetensors + adapter_config.json, and\n"
    "  the frozen bases in DIR/base/model.safetensors (all steps' must be equal).\n"
    "  --beside the bases in DIR/lora/checkpoint-N/model.safetensors instead;\n"
    "  --transposed stored in x out (GPT-2's fan_in_fan_out)\n"
    "\n"
    "  -o, --output DIR    where to write (created)\n"
    RW_CLI_COMMON_HELP
    "\n"
    "Exit status: 0 ok, 1 failure, 2 usage error.\n";

enum { OPT_SEED = 2000, OPT_LAYERS, OPT_STEPS, OPT_EVERY, OPT_CYCLE, OPT_RANK, OPT_DTYPE,
       OPT_SAFETENSORS, OPT_PREFIX, OPT_GZIP, OPT_LAYOUT, OPT_BESIDE, OPT_TRANSPOSED,
       OPT_SHUFFLE, OPT_FLETCHER32, OPT_CHUNK };

typedef struct {
    rw_cli *cli;
    synth_runs_opts o;
    peft_split_opts peft;
} fixture_args;

static int on_option(int opt, const char *arg, void *ctx)
{
    fixture_args *a = ctx;
    int64_t v;
    if (opt == OPT_BESIDE || opt == OPT_TRANSPOSED) {
        *(opt == OPT_BESIDE ? &a->peft.beside : &a->peft.transposed) = true;
        return 0;
    }
    if (opt == OPT_SHUFFLE || opt == OPT_FLETCHER32) {
        *(opt == OPT_SHUFFLE ? &a->o.shuffle : &a->o.fletcher32) = true;
        return 0;
    }
    if (opt == OPT_SAFETENSORS) {
        a->o.layout = SYNTH_SAFETENSORS;
        return 0;
    }
    if (opt == OPT_LAYOUT) {
        int l = synth_layout_parse(arg);
        if (l < 0)
            return rw_cli_usage_error(a->cli, "--layout: '%s' is not h5, safetensors, pt, "
                                              "pt-dict, hf-bin, hf-bin-sharded or pico", arg);
        a->o.layout = (synth_layout)l;
        return 0;
    }
    if (opt == OPT_PREFIX) {
        a->o.prefix = arg;
        return 0;
    }
    if (opt == OPT_GZIP) {
        if (!rw_parse_i64(arg, &v) || v < 0 || v > 9)
            return rw_cli_usage_error(a->cli, "--gzip: '%s' is not a level from 0 to 9", arg);
        a->o.gzip = (int)v;
        return 0;
    }
    if (opt == OPT_DTYPE) {
        rw_dtype dt = rw_dtype_parse(arg);
        if (!rw_dtype_is_float(dt))
            return rw_cli_usage_error(a->cli, "--dtype: '%s' is not float16, bfloat16, "
                                              "float32 or float64", arg);
        a->o.dtype = dt;
        return 0;
    }
    if (!rw_parse_i64(arg, &v) || v < (opt == OPT_STEPS ? 0 : 1) || v > 100000000)
        return rw_cli_usage_error(a->cli, "'%s' is not a valid whole number here", arg);
    switch (opt) {
    case OPT_SEED: a->o.seed = (uint64_t)v; break;
    case OPT_LAYERS: a->o.layers = (int)v; break;
    case OPT_STEPS: a->o.steps = (int)v; break;
    case OPT_EVERY: a->o.every = (int)v; break;
    case OPT_CYCLE: a->o.cycle = (int)v; break;
    case OPT_RANK: a->o.rank = (int)v; break;
    case OPT_CHUNK: a->o.chunk = v; break;
    }
    return 0;
}

/* The chosen spectra of `known`: at step t every value is multiplied by
 * (1 + t). Shapes are non-square so that a transpose would show. */
typedef struct {
    const char *name;
    int ndim;
    int64_t shape[3];
    int ns;
    double s[6];
} known_matrix;

static const known_matrix known[] = {
    {"layers.0.attention.identity.weight", 2, {6, 6}, 6, {1, 1, 1, 1, 1, 1}},
    {"layers.0.attention.rank1.weight", 2, {5, 7}, 5, {3, 0, 0, 0, 0}},
    {"layers.1.attention.rank1.weight", 2, {7, 5}, 5, {2, 0, 0, 0, 0}},
    {"layers.1.swiglu.tall.weight", 2, {9, 4}, 4, {4, 2, 1, 1}},
    {"layers.1.swiglu.wide.weight", 2, {3, 8}, 3, {5, 1e-3, 1e-6}},
    {"layers.2.swiglu.geo.weight", 2, {12, 6}, 6, {1, 0.5, 0.25, 0.125, 0.0625, 0.03125}},
    {"layers.2.swiglu.row.weight", 2, {1, 6}, 1, {2}},
    {"layers.3.conv.weight", 3, {4, 2, 3}, 4, {3, 2, 1, 0.5}},
    {"zero.weight", 2, {4, 3}, 3, {0, 0, 0}},
};

/* layers.4.drift.weight: U diag(s0 + t d) V^T with U, V fixed over steps. */
#define DRIFT_M 7
#define DRIFT_N 4
static const double drift_s0[DRIFT_N] = {3, 2, 1, 0.5};
static const double drift_d[DRIFT_N] = {1, 0.5, 0.25, 0};

static rw_status add_sigma_rows(rw_table *t, const char *kind, int step, const char *name,
                                int64_t m, int64_t n, const double *s, int ns, double ref_fro,
                                rw_err *err)
{
    rw_status st = RW_OK;
    for (int i = 0; i < ns && st == RW_OK; i++) {
        char a[32], b[32], c[32], d[32], e[32], f[32];
        snprintf(a, 32, "%d", step);
        snprintf(b, 32, "%lld", (long long)m);
        snprintf(c, 32, "%lld", (long long)n);
        snprintf(d, 32, "%d", i + 1);
        rw_fmt_double(e, s[i]);
        rw_fmt_double(f, ref_fro);
        const char *cells[] = {kind, a, name, b, c, d, e, f};
        st = table_add_row(t, kind ? cells : cells + 1, err);
    }
    return st;
}

static rw_status write_known(const char *dir, uint64_t seed, rw_err *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/known", dir);
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return rw_fail(err, RW_EIO, "%s: cannot create directory: %s", dir, strerror(errno));
    if (mkdir(path, 0777) != 0 && errno != EEXIST)
        return rw_fail(err, RW_EIO, "%s: cannot create directory: %s", path, strerror(errno));
    static const char *const cols[] = {"step", "tensor", "rows", "cols", "i", "sigma"};
    static const char *const ucols[] = {"kind", "step", "tensor", "rows", "cols", "i",
                                        "sigma", "ref_fro"};
    rw_table *t = table_new(cols, 6), *u = table_new(ucols, 8);
    if (!t || !u) {
        table_free(t);
        table_free(u);
        return rw_fail(err, RW_ENOMEM, "out of memory");
    }
    rw_rng r;
    rng_seed(&r, seed);
    rw_status st = RW_OK;
    double w[256], bias[6] = {0.1, -0.2, 0.3, 0, 0, 0}, idx[4] = {1, 2, 3, 4};
    for (int step = 0; step <= 2 && st == RW_OK; step++) {
        snprintf(path, sizeof path, "%s/known/step_%06d.h5", dir, step);
        rw_h5w *h;
        if ((st = h5w_open(path, &h, err)) != RW_OK)
            break;
        st = h5w_attr_i64(h, "/", "step", step, err);
        for (size_t k = 0; k < sizeof known / sizeof *known && st == RW_OK; k++) {
            const known_matrix *km = &known[k];
            int64_t m = km->shape[0], n = km->ndim == 3 ? km->shape[1] * km->shape[2]
                                                         : km->shape[1];
            double s[6];
            for (int i = 0; i < km->ns; i++)
                s[i] = km->s[i] * (1 + step);
            if ((st = synth_matrix(&r, m, n, s, w, err)) != RW_OK)
                break;
            /* Names as nested groups for half of them: both give one name. */
            char dsname[256];
            snprintf(dsname, sizeof dsname, "%s", km->name);
            if (k % 2)
                for (char *p = dsname; *p; p++)
                    if (*p == '.')
                        *p = '/';
            st = h5w_dataset(h, dsname, km->ndim, km->shape, RW_DT_F64, w, 0, err);
            if (st == RW_OK)
                st = add_sigma_rows(t, NULL, step, km->name, m, n, s, km->ns, NAN, err);
        }
        /* The drift tensor: same U, V every step (same seed). */
        double s[DRIFT_N], prev[DRIFT_N], upd[DRIFT_N], cum[DRIFT_N], f2 = 0, f0 = 0;
        for (int i = 0; i < DRIFT_N; i++) {
            s[i] = drift_s0[i] + step * drift_d[i];
            prev[i] = drift_s0[i] + (step - 1) * drift_d[i];
            upd[i] = drift_d[i];
            cum[i] = step * drift_d[i];
            f2 += prev[i] * prev[i];
            f0 += drift_s0[i] * drift_s0[i];
        }
        rw_rng dr;
        rng_seed(&dr, seed ^ 0xd41f7);
        int64_t dshape[2] = {DRIFT_M, DRIFT_N};
        if (st == RW_OK)
            st = synth_matrix(&dr, DRIFT_M, DRIFT_N, s, w, err);
        if (st == RW_OK)
            st = h5w_dataset(h, "layers.4.drift.weight", 2, dshape, RW_DT_F64, w, 0, err);
        if (st == RW_OK)
            st = add_sigma_rows(t, NULL, step, "layers.4.drift.weight", DRIFT_M, DRIFT_N, s,
                                DRIFT_N, NAN, err);
        if (st == RW_OK && step > 0)
            st = add_sigma_rows(u, "update", step, "layers.4.drift.weight", DRIFT_M, DRIFT_N,
                                upd, DRIFT_N, sqrt(f2), err);
        if (st == RW_OK && step > 0)
            st = add_sigma_rows(u, "update_first", step, "layers.4.drift.weight", DRIFT_M,
                                DRIFT_N, cum, DRIFT_N, sqrt(f0), err);
        int64_t bshape[1] = {3}, ishape[1] = {4};
        if (st == RW_OK)
            st = h5w_dataset(h, "layers.0.attention.bias", 1, bshape, RW_DT_F64, bias, 0, err);
        if (st == RW_OK)
            st = h5w_dataset(h, "layers.0.index", 1, ishape, RW_DT_INT, idx, 0, err);
        rw_status cst = h5w_close(h, st == RW_OK, err);
        if (st == RW_OK)
            st = cst;
    }
    if (st == RW_OK) {
        snprintf(path, sizeof path, "%s/known_sigma.tsv", dir);
        st = table_write_path(t, path, RW_TF_TSV, err);
    }
    if (st == RW_OK) {
        snprintf(path, sizeof path, "%s/known_updates.tsv", dir);
        st = table_write_path(u, path, RW_TF_TSV, err);
    }
    table_free(t);
    table_free(u);
    return st;
}

static rw_status edge_file(const char *path, int64_t step, int64_t rows, bool nan,
                           bool vectors_only, rw_err *err)
{
    rw_h5w *h = NULL;
    rw_status st = h5w_open(path, &h, err);
    double v[64];
    for (int i = 0; i < 64; i++)
        v[i] = sin(i + 1.0);
    if (nan) {
        v[5] = NAN;
        v[9] = INFINITY;
    }
    int64_t s1[1] = {8}, s2[2] = {rows, 8};
    if (st == RW_OK)
        st = h5w_attr_i64(h, "/", "step", step, err);
    if (st == RW_OK)
        st = h5w_dataset(h, "layers.0.norm.weight", 1, s1, RW_DT_F32, v, 0, err);
    if (st == RW_OK && !vectors_only)
        st = h5w_dataset(h, "layers.0.mlp.weight", 2, s2, RW_DT_F32, v, 0, err);
    if (st == RW_OK && nan)
        st = h5w_dataset(h, "layers.1.mlp.weight", 2, s2, RW_DT_F32, v + 16, 0, err);
    rw_status cst = h ? h5w_close(h, st == RW_OK, err) : st;
    return st == RW_OK ? cst : st;
}

/* Closes h (committing when st is RW_OK); the first failure of the two. */
static rw_status close_h5(rw_h5w *h, rw_status st, rw_err *err)
{
    if (!h)
        return st;
    rw_status cst = h5w_close(h, st == RW_OK, err);
    return st == RW_OK ? cst : st;
}

/* The edge files that test resource bounds and checked values (see usage). */
static rw_status write_hostile(const char *dir, rw_err *err)
{
    char p[4096];
    rw_h5w *h = NULL;
    int64_t big[2] = {30000, 30000}, wide[2] = {384, 384}, small[2] = {4, 8};
    snprintf(p, sizeof p, "%s/unwritten.h5", dir);
    rw_status st = h5w_open(p, &h, err);
    if (st == RW_OK)
        st = h5w_dataset_unwritten(h, "layers.0.mlp.weight", 2, big, RW_DT_F32, err);
    if ((st = close_h5(h, st, err)) != RW_OK)
        return st;
    double *v = rw_calloc(384 * 384, sizeof *v, err);
    if (!v)
        return RW_ENOMEM;
    for (size_t i = 0; i < 384 * 384; i++)
        v[i] = sin(i + 1.0);
    snprintf(p, sizeof p, "%s/step-string.h5", dir);
    h = NULL;
    if ((st = h5w_open(p, &h, err)) == RW_OK &&
        (st = h5w_attr_str(h, "/", "step", "100", err)) == RW_OK)
        st = h5w_dataset(h, "layers.0.mlp.weight", 2, small, RW_DT_F32, v, 0, err);
    st = close_h5(h, st, err);
    snprintf(p, sizeof p, "%s/wide.h5", dir);
    h = NULL;
    if (st == RW_OK && (st = h5w_open(p, &h, err)) == RW_OK)
        st = h5w_dataset(h, "layers.0.mlp.weight", 2, wide, RW_DT_F16, v, 0, err);
    st = close_h5(h, st, err);
    free(v);
    return st;
}

static rw_status write_edge(const char *dir, rw_err *err)
{
    char p[4096];
    if (mkdir(dir, 0777) != 0 && errno != EEXIST)
        return rw_fail(err, RW_EIO, "%s: cannot create directory: %s", dir, strerror(errno));
    snprintf(p, sizeof p, "%s/mixed-shapes", dir);
    if (mkdir(p, 0777) != 0 && errno != EEXIST)
        return rw_fail(err, RW_EIO, "%s: cannot create directory: %s", p, strerror(errno));
    snprintf(p, sizeof p, "%s/vectors-only.h5", dir);
    rw_status st = edge_file(p, 0, 4, false, true, err);
    snprintf(p, sizeof p, "%s/nan.h5", dir);
    if (st == RW_OK)
        st = edge_file(p, 0, 4, true, false, err);
    snprintf(p, sizeof p, "%s/mixed-shapes/step_000000.h5", dir);
    if (st == RW_OK)
        st = edge_file(p, 0, 4, false, false, err);
    snprintf(p, sizeof p, "%s/mixed-shapes/step_000100.h5", dir);
    if (st == RW_OK)
        st = edge_file(p, 100, 6, false, false, err);
    snprintf(p, sizeof p, "%s/attention-no-heads.h5", dir);
    rw_h5w *h = NULL;
    if (st == RW_OK)
        st = h5w_open(p, &h, err);
    double v[64];
    for (int i = 0; i < 64; i++)
        v[i] = cos(0.37 * i);
    int64_t vs[2] = {4, 8}, os[2] = {8, 8};
    if (st == RW_OK)
        st = h5w_dataset(h, "layers.0.attention.v_proj.weight", 2, vs, RW_DT_F32, v, 0, err);
    if (st == RW_OK)
        st = h5w_dataset(h, "layers.0.attention.o_proj.weight", 2, os, RW_DT_F32, v, 0, err);
    if (h) {
        rw_status cst = h5w_close(h, st == RW_OK, err);
        if (st == RW_OK)
            st = cst;
    }
    return st == RW_OK ? write_hostile(dir, err) : st;
}

int main(int argc, char **argv)
{
    rw_cli cli = {.prog = "rw-fixture", .usage = usage};
    fixture_args a = {.cli = &cli};
    /* One BLAS thread: a threaded product sums in an order that depends on
     * the cores, and the same command must write the same files on every
     * machine (the last bits of a step's matrices differed between 1 and 2
     * threads). */
    rw_blas_set_threads(1);
    synth_runs_defaults(&a.o);
    static const struct option extra[] = {
        {"seed", required_argument, NULL, OPT_SEED},
        {"layers", required_argument, NULL, OPT_LAYERS},
        {"steps", required_argument, NULL, OPT_STEPS},
        {"every", required_argument, NULL, OPT_EVERY},
        {"cycle", required_argument, NULL, OPT_CYCLE},
        {"rank", required_argument, NULL, OPT_RANK},
        {"dtype", required_argument, NULL, OPT_DTYPE},
        {"safetensors", no_argument, NULL, OPT_SAFETENSORS},
        {"layout", required_argument, NULL, OPT_LAYOUT},
        {"prefix", required_argument, NULL, OPT_PREFIX},
        {"gzip", required_argument, NULL, OPT_GZIP},
        {"beside", no_argument, NULL, OPT_BESIDE},
        {"transposed", no_argument, NULL, OPT_TRANSPOSED},
        {"shuffle", no_argument, NULL, OPT_SHUFFLE},
        {"fletcher32", no_argument, NULL, OPT_FLETCHER32},
        {"chunk", required_argument, NULL, OPT_CHUNK},
        {0, 0, 0, 0},
    };
    int ret = rw_cli_parse(&cli, argc, argv, extra, NULL, on_option, &a);
    if (ret >= 0)
        goto out;
    bool peft = optind < argc && strcmp(argv[optind], "peft") == 0;
    if (peft && optind == argc - 1) {
        ret = rw_cli_usage_error(&cli, "peft: no checkpoint given");
        goto out;
    }
    if (!peft &&
        (optind != argc - 1 || (strcmp(argv[optind], "runs") && strcmp(argv[optind], "known") &&
                                strcmp(argv[optind], "edge") &&
                                strcmp(argv[optind], "malformed") &&
                                strcmp(argv[optind], "keras") &&
                                strcmp(argv[optind], "chunks")))) {
        ret = rw_cli_usage_error(&cli, "expected one command: runs, known, edge, malformed, "
                                       "keras, chunks or peft");
        goto out;
    }
    if (!cli.out) {
        ret = rw_cli_usage_error(&cli, "-o DIR is required");
        goto out;
    }
    rw_err err = {{0}};
    rw_status st;
    if (strcmp(argv[optind], "runs") == 0) {
        if (a.o.cycle % a.o.every) {
            ret = rw_cli_usage_error(&cli, "--cycle must be a multiple of --every");
            goto out;
        }
        st = synth_write_runs(cli.out, &a.o, &err);
    } else if (strcmp(argv[optind], "edge") == 0) {
        st = write_edge(cli.out, &err);
    } else if (strcmp(argv[optind], "malformed") == 0) {
        st = malformed_write(cli.out, &err);
    } else if (strcmp(argv[optind], "chunks") == 0) {
        st = chunks_write(cli.out, &err);
    } else if (strcmp(argv[optind], "keras") == 0) {
        st = keras_write_files(cli.out, &err);
    } else if (peft) {
        st = peft_split(cli.out, (const char *const *)argv + optind + 1,
                        (size_t)(argc - optind - 1), &a.peft, &err);
    } else {
        st = write_known(cli.out, a.o.seed, &err);
    }
    ret = st == RW_OK ? 0 : rw_cli_fail(&cli, st, &err);
out:
    rw_cli_free(&cli);
    return ret;
}
