/*
 * rw-ls — what a checkpoint or run holds, as rankwatch reads it: every tensor
 * with its shape, dtype, layer, module and step, and what the metrics do with
 * it (analysed as a matrix, or skipped, and why); for adapter-only
 * checkpoints, the tensors of the separate base they are combined with, and
 * the file it is in.
 */
#include "analyzers/cli.h"
#include "analyzers/core/adapter_base.h"

#include <stdio.h>
#include <string.h>

static const char usage[] =
    "Usage: rw-ls [OPTION]... RUN...\n"
    "Lists the tensors of each RUN or checkpoint (a directory of checkpoints, a\n"
    "checkpoint file, an HDF5 file of step_<N> groups, FILE,FILE,... or @LIST;\n"
    "NAME=RUN labels it), one row per tensor and step.\n"
    "\n"
    "Columns: run step file tensor layer module shape dtype rows cols use\n"
    "  use: matrix (analysed), vector (1-D: skipped by the matrix metrics),\n"
    "       scalar, integer (skipped), other (skipped), optimizer (optimizer\n"
    "       state: skipped unless an --include pattern names it), base (the\n"
    "       frozen base of an adapter of the checkpoint listed above it, read\n"
    "       from the file in the file column: --base, or the model file beside\n"
    "       the adapter)\n"
    "\n"
    "  --include GLOB, --exclude GLOB   select tensors by name (repeatable)\n"
    "  --label NAME        name the next run (repeatable; or write NAME=PATH)\n"
    "  --base CKPT         the frozen base model of adapter-only checkpoints (any\n"
    "                      checkpoint format): lists the tensors taken from it\n"
    "  --lora-scale S      the LoRA scale, as the analysing programs take it\n"
    RW_CLI_OUTPUT_HELP RW_CLI_COMMON_HELP
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

/* One row: tensor t of file, listed at step of run. */
static rw_status add_row(rw_table *tab, const char *run, int64_t step_no, const char *file,
                         const rw_tensor *t, const char *use, rw_err *err)
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
                           rows, cols, use};
    return table_add_row(tab, cells, err);
}

/* The tensors of base that are the bases of c's adapters, selected by the
 * name the adapted matrix is analysed under. */
static rw_status list_base(const rw_run *run, size_t i, rw_ckpt *c, rw_ckpt *base,
                           const rw_cli *cli, rw_table *tab, rw_err *err)
{
    rw_analysis_opts ao = rw_cli_analysis(cli);
    rw_items its;
    rw_status st = items_list(c, base, &ao.item, &its, err);
    if (st != RW_OK)
        return st;
    for (size_t k = 0; k < its.n && st == RW_OK; k++) {
        const rw_item *x = &its.v[k];
        if (x->comp == RW_COMP_BASE && x->w_base && rw_select_match(&cli->sel, x->tensor))
            st = add_row(tab, run->label, run->ckpts[i].step, base->path,
                         &base->tensors[x->w], "base", err);
    }
    items_free(&its);
    return st;
}

static rw_status list_run(const rw_run *run, const rw_cli *cli, rw_table *tab, rw_err *err)
{
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
        if ((st = ckpt_open(run->ckpts[i].path, run->ckpts[i].group, &c, err)) != RW_OK)
            break;
        char file[4096];
        snprintf(file, sizeof file, "%s%s%s", c->path, c->group ? ":" : "",
                 c->group ? c->group : "");
        for (size_t k = 0; k < c->n && st == RW_OK; k++) {
            const rw_tensor *t = &c->tensors[k];
            if (rw_select_match(&cli->sel, t->name))
                st = add_row(tab, run->label, run->ckpts[i].step, file, t, use_of(t), err);
        }
        if (st == RW_OK && base)
            st = list_base(run, i, c, base, cli, tab, err);
        ckpt_free(c);
    }
    bases_free(&bases);
    return st;
}

int main(int argc, char **argv)
{
    rw_cli cli = {.prog = "rw-ls", .usage = usage};
    int ret = rw_cli_parse(&cli, argc, argv, NULL, NULL, NULL, NULL);
    if (ret >= 0)
        goto out;
    if (optind >= argc) {
        ret = rw_cli_usage_error(&cli, "no run or checkpoint given");
        goto out;
    }
    static const char *const cols[] = {"run",    "step",  "file", "tensor", "layer", "module",
                                       "shape",  "dtype", "rows", "cols",   "use"};
    rw_err err = {{0}};
    rw_runset rs = {0};
    rw_table *tab = table_new(cols, sizeof cols / sizeof *cols);
    rw_status st = tab ? rw_cli_runs(&cli, argc - optind, argv + optind, &rs, &err)
                       : rw_fail(&err, RW_ENOMEM, "out of memory");
    if (tab) {
        table_set_numeric(tab, 1, true);
        table_set_numeric(tab, 4, true);
    }
    for (size_t r = 0; r < rs.n && st == RW_OK; r++)
        st = list_run(&rs.runs[r], &cli, tab, &err);
    if (st == RW_OK)
        st = table_write_path(tab, cli.out, cli.format, &err);
    ret = st == RW_OK ? 0 : rw_cli_fail(&cli, st, &err);
    table_free(tab);
    runset_free(&rs);
out:
    rw_cli_free(&cli);
    return ret;
}
