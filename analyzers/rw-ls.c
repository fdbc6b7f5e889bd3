/*
 * rw-ls — what a checkpoint or run holds, as rankwatch reads it: every tensor
 * with its shape, dtype, layer, module and step, and what the metrics do with
 * it (analysed as a matrix or as an adapter's factor, with the adapter scale
 * and where it came from, or skipped, and why); for adapter-only
 * checkpoints, the tensors of the separate base they are combined with, and
 * the file it is in.
 */
#include "analyzers/cli.h"
#include "analyzers/core/adapter_base.h"
#include "io/spectra_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "Usage: rw-ls [OPTION]... RUN...\n"
    "Lists the tensors of each RUN or checkpoint (a directory of checkpoints, a\n"
    "checkpoint file, an HDF5 file of step_<N> groups, FILE,FILE,... or @LIST;\n"
    "NAME=RUN labels it), one row per tensor and step; with --checkpoints, one\n"
    "row per checkpoint: what its matrices are analysed with.\n"
    "\n"
    "Columns: run step file tensor layer module shape dtype rows cols use\n"
    "         lora_scale scale_from prefix\n"
    "  use: matrix (analysed), adapter factor (a LoRA A or B: analysed in its\n"
    "       adapted matrix's lora and full components), vector (1-D: skipped by\n"
    "       the matrix metrics), scalar, integer (skipped), other (skipped),\n"
    "       optimizer (optimizer state: skipped unless an --include pattern\n"
    "       names it), base (the frozen base of an adapter of the checkpoint\n"
    "       listed above it, read from the file in the file column: --base, or\n"
    "       the model file beside the adapter)\n"
    "  lora_scale, scale_from: on adapter factor rows (else empty), the scale\n"
    "       s = alpha / r the adapter is applied with, and where it came from:\n"
    "       --lora-scale, attributes (HDF5), metadata (safetensors, PyTorch\n"
    "       checkpoint dicts), adapter_config.json, or default (s = 1)\n"
    "  prefix: what was stripped from the front of every tensor name of the\n"
    "       checkpoint (pico_decoder., model., ...; --keep-prefix keeps it)\n"
    "A spectra file (rw-spectra) is listed as its entries, use 'spectrum of the\n"
    "weights (full)' and the like: the matrices whose singular values it holds.\n"
    "\n"
    "  --checkpoints       one row per checkpoint, columns run step unit file heads\n"
    "                      kv_heads heads_from kv_heads_from lora_scale scale_from:\n"
    "                      unit is epoch when the step is an epoch (named epoch_N,\n"
    "                      or a Keras file numbered by ModelCheckpoint:\n"
    "                      weights.07.hdf5), else step;\n"
    "                      heads and kv_heads, where a layer has v_proj and o_proj\n"
    "                      (else empty), are the attention heads the OV circuit is\n"
    "                      formed with, and where they came from: --heads\n"
    "                      (--kv-heads), attributes, metadata, config.json (beside\n"
    "                      the checkpoint; 'base ...': of the --base model), '= heads'\n"
    "                      (kv_heads: none given, one per head), or unknown (no\n"
    "                      OV circuit); lora_scale and scale_from as above, where\n"
    "                      the checkpoint has adapters\n"
    "  --heads H, --kv-heads G   attention heads (default: as above)\n"
    "  --include GLOB, --exclude GLOB   select tensors by name (repeatable)\n"
    "  --label NAME        name the next run (repeatable; or write NAME=PATH)\n"
    "  --base CKPT         the frozen base model of adapter-only checkpoints (any\n"
    "                      checkpoint format): lists the tensors taken from it\n"
    "  --lora-scale S      the adapter scale (default: from the checkpoint, as above)\n"
    RW_CLI_READ_HELP RW_CLI_OUTPUT_HELP RW_CLI_COMMON_HELP
    "\n"
    "Exit status: 0 ok, 1 bad data, 2 usage error.\n";

static const char *use_of(const rw_tensor *t)
{
    if (t->optimizer)
        return "optimizer";
    if (t->dtype == RW_DT_INT)
        return "integer";
    if (!rw_dtype_is_float(t->dtype))
        return "other";
    if (t->ndim == 0)
        return "scalar";
    if (t->ndim == 1)
        return "vector";
    return "matrix";
}

/* The tensors that are adapter factors: the A and B of an adapted matrix
 * (its lora and full items name them). A new array of c->n flags (free). */
static bool *adapter_factors(const rw_ckpt *c, const rw_items *it, rw_err *err)
{
    bool *f = rw_calloc(c->n ? c->n : 1, sizeof *f, err);
    for (size_t j = 0; f && j < it->n; j++) {
        if (it->v[j].a >= 0)
            f[it->v[j].a] = true;
        if (it->v[j].b >= 0)
            f[it->v[j].b] = true;
    }
    return f;
}

/* One row: tensor t of file, listed at step of run; scale and from only on
 * adapter factors ("" otherwise). */
static rw_status add_row(rw_table *tab, const char *run, int64_t step_no, const char *file,
                         const rw_tensor *t, const char *use, const char *scale,
                         const char *from, const char *prefix, rw_err *err)
{
    char step[32], layer[32], shape[256], rows[32] = "", cols[32] = "";
    int64_t m, n;
    snprintf(step, sizeof step, "%lld", (long long)step_no);
    snprintf(layer, sizeof layer, "%d", t->layer);
    if (rw_tensor_matrix(t, &m, &n)) {
        snprintf(rows, sizeof rows, "%lld", (long long)m);
        snprintf(cols, sizeof cols, "%lld", (long long)n);
    }
    const char *cells[] = {run, step, file, t->name, layer, t->module,
                           rw_shape_str(t, shape, sizeof shape), rw_dtype_name(t->dtype),
                           rows, cols, use, scale, from, prefix ? prefix : ""};
    return table_add_row(tab, cells, err);
}

/* The tensors of base that are the bases of the checkpoint's adapters (its
 * items it), selected by the name the adapted matrix is analysed under. */
static rw_status list_base(const rw_run *run, size_t i, const rw_items *it, rw_ckpt *base,
                           const rw_cli *cli, rw_table *tab, rw_err *err)
{
    rw_status st = RW_OK;
    for (size_t k = 0; k < it->n && st == RW_OK; k++) {
        const rw_item *x = &it->v[k];
        if (x->comp == RW_COMP_BASE && x->w_base && rw_select_match_as(&cli->sel, x->tensor, x->prefix))
            st = add_row(tab, run->label, run->ckpts[i].step, base->path, &base->tensors[x->w],
                         "base", "", "", base->prefix, err);
    }
    return st;
}

/* --checkpoints: the row of checkpoint i of run, c with items it. */
static rw_status add_ckpt_row(rw_table *tab, const rw_run *run, size_t i, const char *file,
                              bool epoch, const rw_items *it, rw_err *err)
{
    char step[32], heads[32] = "", kv[32] = "", scale[32] = "";
    snprintf(step, sizeof step, "%lld", (long long)run->ckpts[i].step);
    if (it->has_attention && it->heads > 0) {
        snprintf(heads, sizeof heads, "%ld", it->heads);
        snprintf(kv, sizeof kv, "%ld", it->kv_heads);
    }
    if (it->has_adapters)
        rw_fmt_double(scale, it->scale);
    const char *cells[] = {run->label, step, epoch ? "epoch" : "step", file, heads, kv,
                           it->has_attention ? it->heads_from : "",
                           it->has_attention ? it->kv_heads_from : "", scale,
                           it->has_adapters ? it->scale_from : ""};
    return table_add_row(tab, cells, err);
}

static rw_status list_run(const rw_run *run, const rw_cli *cli, bool per_ckpt, rw_table *tab,
                          rw_err *err)
{
    rw_ckpt_opts copts = {.key = cli->key, .keep_prefix = cli->keep_prefix};
    rw_item_opts iopts = {.lora_scale = cli->lora_scale, .heads = cli->heads,
                          .kv_heads = cli->kv_heads, .prog = cli->prog, .no_circuits = true};
    rw_status st = RW_OK;
    rw_bases bases = {0};
    rw_ckpt *prev_base = NULL;
    for (size_t i = 0; i < run->n && st == RW_OK; i++) {
        rw_ckpt *c, *base = NULL;
        bool beside;
        const char *bp = rw_base_source(cli->base, &run->ckpts[i], &beside);
        if (bp && (st = bases_acquire(&bases, bp, &base, err)) != RW_OK) {
            if (beside)
                rw_err_prefix(err, "%s: its base beside it", run->ckpts[i].path);
            else
                rw_err_prefix(err, "--base");
            break;
        }
        bases_release(&bases, prev_base); /* after the acquire: --base stays open */
        prev_base = base;
        st = ckpt_open_opts(run->ckpts[i].path, run->ckpts[i].group, &copts, &c, err);
        if (st != RW_OK)
            break;
        /* the adapters as the metrics read them (items_list frees on failure) */
        rw_items it = {0};
        bool *factor = NULL;
        if ((st = items_list(c, base, &iopts, &it, err)) == RW_OK &&
            !(factor = adapter_factors(c, &it, err)))
            st = RW_ENOMEM;
        char file[4096], scale[32];
        snprintf(file, sizeof file, "%s%s%s", c->path, c->group ? ":" : "",
                 c->group ? c->group : "");
        rw_fmt_double(scale, st == RW_OK ? it.scale : 1);
        if (st == RW_OK && per_ckpt)
            st = add_ckpt_row(tab, run, i, file, ckpt_step_is_epoch(c), &it, err);
        for (size_t k = 0; k < c->n && st == RW_OK && !per_ckpt; k++) {
            const rw_tensor *t = &c->tensors[k];
            if (!rw_select_match_as(&cli->sel, t->name, t->optimizer ? NULL : c->prefix))
                continue;
            bool f = factor[k] && !t->optimizer;
            st = add_row(tab, run->label, run->ckpts[i].step, file, t,
                         f ? "adapter factor" : use_of(t), f ? scale : "",
                         f ? it.scale_from : "", c->prefix, err);
        }
        if (st == RW_OK && base && !per_ckpt)
            st = list_base(run, i, &it, base, cli, tab, err);
        free(factor);
        items_free(&it);
        ckpt_free(c);
    }
    bases_free(&bases);
    return st;
}

/* A spectra file (rw-spectra) given to rw-ls: its entries, one row each, as
 * what they are — spectra of weights or updates of the checkpoints it
 * names — rather than its HDF5 datasets as tensors. */
static rw_status list_spectra(const char *path, const rw_cli *cli, rw_table *tab, rw_err *err)
{
    rw_spectra_reader *r;
    rw_status st = spectra_reader_open(path, &r, err);
    if (st != RW_OK)
        return st;
    for (size_t i = 0; i < spectra_reader_count(r) && st == RW_OK; i++) {
        rw_spectrum s;
        spectra_reader_entry(r, i, &s);
        if (!rw_select_match(&cli->sel, s.tensor))
            continue;
        char step[32], layer[32], shape[64], rows[32], cols[32], use[96];
        snprintf(step, sizeof step, "%lld", (long long)s.step);
        snprintf(layer, sizeof layer, "%d", s.layer);
        snprintf(shape, sizeof shape, "%lldx%lld", (long long)s.rows, (long long)s.cols);
        snprintf(rows, sizeof rows, "%lld", (long long)s.rows);
        snprintf(cols, sizeof cols, "%lld", (long long)s.cols);
        snprintf(use, sizeof use, "spectrum of the %s (%s)",
                 s.kind == RW_KIND_WEIGHT   ? "weights"
                 : s.kind == RW_KIND_UPDATE ? "update"
                                            : "update since the first step",
                 s.component);
        const char *cells[] = {s.run, step, path, s.tensor, layer, s.module, shape,
                               rw_dtype_name(s.dtype), rows, cols, use, "", "", ""};
        st = table_add_row(tab, cells, err);
    }
    spectra_reader_close(r);
    return st;
}

enum { OPT_CHECKPOINTS = 3000 };

static int on_option(int opt, const char *arg, void *ctx)
{
    (void)opt;
    (void)arg;
    *(bool *)ctx = true; /* --checkpoints */
    return 0;
}

int main(int argc, char **argv)
{
    rw_cli cli = {.prog = "rw-ls", .usage = usage};
    static const struct option extra[] = {{"checkpoints", no_argument, NULL, OPT_CHECKPOINTS},
                                          {0, 0, 0, 0}};
    bool per_ckpt = false;
    int ret = rw_cli_parse(&cli, argc, argv, extra, NULL, on_option, &per_ckpt);
    if (ret >= 0)
        goto out;
    if (optind >= argc) {
        ret = rw_cli_usage_error(&cli, "no run or checkpoint given");
        goto out;
    }
    /* new columns go last: readers that count columns keep working */
    static const char *const cols[] = {"run",   "step", "file", "tensor", "layer",
                                       "module", "shape", "dtype", "rows", "cols",
                                       "use",   "lora_scale", "scale_from", "prefix"};
    static const char *const ckpt_cols[] = {"run",        "step",          "unit",
                                            "file",       "heads",         "kv_heads",
                                            "heads_from", "kv_heads_from", "lora_scale",
                                            "scale_from"};
    rw_err err = {{0}};
    rw_runset rs = {0};
    rw_table *tab = per_ckpt ? table_new(ckpt_cols, sizeof ckpt_cols / sizeof *ckpt_cols)
                             : table_new(cols, sizeof cols / sizeof *cols);
    /* spectra files are listed as such, and only alone */
    int nspectra = 0;
    for (int i = optind; i < argc; i++)
        nspectra += spectra_file_is(argv[i]);
    if (nspectra && per_ckpt) {
        ret = rw_cli_usage_error(&cli, "--checkpoints lists checkpoints, not spectra files");
        table_free(tab);
        goto out;
    }
    if (nspectra && nspectra != argc - optind) {
        ret = rw_cli_usage_error(&cli, "spectra files and runs cannot be listed together: list "
                                       "the spectra files on their own");
        table_free(tab);
        goto out;
    }
    rw_status st = !tab ? rw_fail(&err, RW_ENOMEM, "out of memory")
                   : nspectra ? RW_OK
                              : rw_cli_runs(&cli, argc - optind, argv + optind, &rs, &err);
    for (int i = optind; nspectra && i < argc && st == RW_OK; i++)
        st = list_spectra(argv[i], &cli, tab, &err);
    if (tab) {
        table_set_numeric(tab, 1, true);
        table_set_numeric(tab, 4, true); /* layer, or heads */
        if (per_ckpt)
            table_set_numeric(tab, 5, true);
    }
    for (size_t r = 0; r < rs.n && st == RW_OK; r++)
        st = list_run(&rs.runs[r], &cli, per_ckpt, tab, &err);
    if (st == RW_OK)
        st = table_write_path(tab, cli.out, cli.format, &err);
    ret = st == RW_OK ? 0 : rw_cli_fail(&cli, st, &err);
    table_free(tab);
    runset_free(&rs);
out:
    rw_cli_free(&cli);
    return ret;
}
