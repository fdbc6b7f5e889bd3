/*
 * spectra_main.c — the body of rw-spectra (spectra_main.h): singular values
 * of every selected matrix (and update) of one or more runs, into one
 * spectra file (spectra_file.h) that rw-rank, rw-cond, rw-updates and the
 * others read instead of the checkpoints, or into a long table.
 *
 * The output file is also a cache: when it exists and was written with the
 * same options, the spectra of every checkpoint whose path, size,
 * modification time and step are unchanged (and, for updates, whose
 * predecessor in the run is unchanged too) are copied from it, and only new
 * or changed checkpoints are decomposed.
 */
#include "analyzers/spectra_main.h"
#include "analyzers/cli.h"
#include "io/spectra_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { OPT_UPDATES = 3000, OPT_FROM_FIRST, OPT_RECOMPUTE };

typedef struct {
    bool updates, from_first, recompute;
} modes;

static int on_option(int opt, const char *arg, void *ctx)
{
    (void)arg;
    modes *m = ctx;
    if (opt == OPT_UPDATES)
        m->updates = true;
    else if (opt == OPT_FROM_FIRST)
        m->from_first = true;
    else
        m->recompute = true;
    return 0;
}

static bool stat_path(const char *path, int64_t *size, int64_t *mtime_ns)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return false;
    *size = (int64_t)st.st_size;
    *mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    return true;
}

/* The end of the k=v pair at p: its ';' or the string's end. */
static const char *pair_end(const char *p)
{
    const char *e = strchr(p, ';');
    return e ? e : p + strlen(p);
}

/* The value of key k= (klen bytes, with its '=') in the pairs at s, as
 * [*v, *vend), or false when absent. */
static bool pair_find(const char *s, const char *k, size_t klen, const char **v,
                      const char **vend)
{
    for (const char *o = s; o && *o;) {
        const char *e = pair_end(o);
        if (strncmp(o, k, klen) == 0) {
            *v = o + klen;
            *vend = e;
            return true;
        }
        o = *e ? e + 1 : e;
    }
    return false;
}

/* The options (k=v pairs joined by ';') that differ between old and now,
 * as "k old -> new, ..." into buf (n bytes), "none" for a side without k;
 * "none recorded" when old has no options at all. */
static void options_diff(const char *old, const char *now, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    /* keys only old has (an --include given then and not now) */
    for (const char *p = old; *p && used < n;) {
        const char *eq = strchr(p, '='), *end = pair_end(p), *v, *ve;
        if (!eq || eq > end)
            break;
        if (!pair_find(now, p, (size_t)(eq - p) + 1, &v, &ve))
            used += (size_t)snprintf(buf + used, n - used, "%s%.*s %.*s -> none",
                                     used ? ", " : "", (int)(eq - p), p, (int)(end - eq - 1),
                                     eq + 1);
        if (!*end)
            break;
        p = end + 1;
    }
    for (const char *p = now; *p && used < n;) {
        const char *eq = strchr(p, '='), *end = pair_end(p);
        if (!eq || eq > end)
            break;
        size_t klen = (size_t)(eq - p) + 1; /* "k=" */
        const char *ov = NULL, *oend = NULL;
        if (!pair_find(old, p, klen, &ov, &oend))
            ov = NULL;
        const char *nv = eq + 1;
        if (!ov || (size_t)(oend - ov) != (size_t)(end - nv) || strncmp(ov, nv, (size_t)(end - nv)))
            used += (size_t)snprintf(buf + used, used < n ? n - used : 0, "%s%.*s %.*s -> %.*s",
                                     used ? ", " : "", (int)(klen - 1), p,
                                     ov ? (int)(oend - ov) : 4, ov ? ov : "none",
                                     (int)(end - nv), nv);
        if (used >= n || !*end)
            break;
        p = end + 1;
    }
    if (!buf[0])
        snprintf(buf, n, "none recorded");
}

/* Everything the spectra depend on besides the checkpoints themselves. */
static char *options_string(const rw_cli *c, const modes *m)
{
    size_t cap = 4096, n = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    char scale[32];
    n += (size_t)snprintf(s + n, cap - n,
                          "version=1;components=%u;updates=%d;from_first=%d;scale=%s;"
                          "heads=%ld;kv_heads=%ld;fast=%d",
                          c->comps, m->updates, m->from_first, rw_fmt_double(scale, c->lora_scale),
                          c->heads, c->kv_heads, c->fast);
    /* always: files written before names lost their prefix had none */
    n += (size_t)snprintf(s + n, cap - n, ";names=%s", c->keep_prefix ? "as-stored" : "prefix-stripped");
    /* only for gradients: files of weights keep their options, and a file of
     * one kind of data is never reused as a cache of another */
    if (c->data != RW_DATA_WEIGHTS)
        n += (size_t)snprintf(s + n, cap - n, ";data=%s;split=%s", rw_data_name(c->data),
                              rw_split_name(c->split));
    if (c->key) /* only when given: files written without it keep their options */
        n += (size_t)snprintf(s + n, cap - n, ";key=%s", c->key);
    for (size_t i = 0; i < c->sel.ninclude && n < cap; i++)
        n += (size_t)snprintf(s + n, cap - n, ";include=%s", c->sel.include[i]);
    for (size_t i = 0; i < c->sel.nexclude && n < cap; i++)
        n += (size_t)snprintf(s + n, cap - n, ";exclude=%s", c->sel.exclude[i]);
    /* --base: which file, and which version of it (absent without --base,
     * so that files written before it existed are reused as they were) */
    if (c->base && n < cap) {
        int64_t bsize = -1, bmtime = -1;
        (void)stat_path(c->base, &bsize, &bmtime); /* missing: the analysis says so */
        n += (size_t)snprintf(s + n, cap - n, ";base=%s;base_size=%lld;base_mtime_ns=%lld",
                              c->base, (long long)bsize, (long long)bmtime);
    }
    return s;
}

/* The cache key of a checkpoint: its size and modification time, and for
 * an adapter with its base beside it (run.h), those of both files folded
 * together (sizes added, the later time), so that a changed base is seen. */
static bool stat_ckpt(const rw_ckpt_ref *ref, int64_t *size, int64_t *mtime_ns)
{
    int64_t bs, bm;
    if (!stat_path(ref->path, size, mtime_ns))
        return false;
    if (!ref->base)
        return true;
    if (!stat_path(ref->base, &bs, &bm))
        return false;
    *size += bs;
    if (bm > *mtime_ns)
        *mtime_ns = bm;
    return true;
}

/* A checkpoint whose entries are copied from the old file: run index, step. */
typedef struct {
    size_t run;
    int64_t step;
} reused_ckpt;

/* The cache. The entries of a reused checkpoint are copied when the
 * spectra of the checkpoints before it have all been added (add,
 * copy_reused), so that /sigma holds every checkpoint's values in run and
 * step order whatever -j, and a file with reused checkpoints has the bytes
 * of one decomposed again. */
typedef struct {
    rw_spectra_reader *old;
    const modes *m;
    const rw_runset *rs;
    rw_spectra_writer *w;
    size_t reused, computed;
    reused_ckpt *pend;      /* reused, not yet copied: pend[head .. n - 1] */
    size_t npend, pendcap, head;
    rw_status st;
    rw_err *err;
} cache;

static bool cached(const cache *k, const rw_run *run, size_t ci)
{
    const rw_ckpt_ref *ref = &run->ckpts[ci];
    int64_t size, mt;
    return stat_ckpt(ref, &size, &mt) &&
           spectra_reader_source(k->old, run->label, ref->path, ref->group, ref->step, size, mt);
}

/* Checkpoint ci of run can be copied from the old file: it is listed there
 * unchanged, and so are the checkpoints its updates were measured against. */
static bool reuse(const rw_run *run, size_t ci, void *ctx)
{
    cache *k = ctx;
    if (!k->old || k->st != RW_OK || !cached(k, run, ci))
        return false;
    if (k->m->from_first && !cached(k, run, 0))
        return false;
    const rw_ckpt_ref *ref = &run->ckpts[ci];
    const size_t *idx;
    size_t n = spectra_reader_at_step(k->old, run->label, ref->step, &idx);
    for (size_t j = 0; j < n; j++) {
        rw_spectrum s;
        spectra_reader_entry(k->old, idx[j], &s);
        /* an update at the first checkpoint (written by versions that gave
         * lora one there), or measured against a checkpoint that is no
         * longer the previous or first one (lora's update is its cycle's,
         * against its own step) */
        if (s.kind != RW_KIND_WEIGHT && ci == 0)
            return false;
        if (s.kind == RW_KIND_UPDATE &&
            s.ref_step != (strcmp(s.component, "lora") == 0 ? ref->step
                                                            : run->ckpts[ci - 1].step))
            return false;
        if (s.kind == RW_KIND_UPDATE_FIRST && s.ref_step != run->ckpts[0].step)
            return false;
    }
    if (k->m->updates && ci > 0 && !cached(k, run, ci - 1))
        return false;
    if (n == 0)
        return false;
    /* Its entries are copied in their turn (add). */
    if (rw_grow(&k->pend, k->npend, &k->pendcap, sizeof *k->pend, k->err) != RW_OK) {
        k->st = RW_ENOMEM;
        return false;
    }
    k->pend[k->npend++] = (reused_ckpt){(size_t)(run - k->rs->runs), ref->step};
    k->reused++;
    return true;
}

/* Copies the entries of the old file at step of run r into the new one. */
static rw_status copy_reused(cache *k, const reused_ckpt *p, rw_err *err)
{
    const size_t *idx;
    size_t n = spectra_reader_at_step(k->old, k->rs->runs[p->run].label, p->step, &idx);
    double *sigma = NULL;
    size_t cap = 0;
    rw_status st = RW_OK;
    for (size_t j = 0; j < n && st == RW_OK; j++) {
        rw_spectrum s;
        spectra_reader_entry(k->old, idx[j], &s);
        if (s.k > cap) {
            free(sigma);
            sigma = rw_calloc(s.k, sizeof *sigma, err);
            cap = sigma ? s.k : 0;
            if (!sigma) {
                st = RW_ENOMEM;
                break;
            }
        }
        if ((st = spectra_reader_sigma(k->old, idx[j], sigma, err)) != RW_OK)
            break;
        s.sigma = sigma;
        st = spectra_writer_add(k->w, &s, err);
    }
    free(sigma);
    return st;
}

/* Copies the reused checkpoints that come before the one of s (all of
 * them when s is NULL): the runs in their order, each by step. */
static rw_status copy_reused_before(cache *k, const rw_spectrum *s, rw_err *err)
{
    size_t r = 0;
    if (s)
        while (r < k->rs->n && strcmp(k->rs->runs[r].label, s->run) != 0)
            r++;
    rw_status st = RW_OK;
    for (; k->head < k->npend && st == RW_OK; k->head++) {
        const reused_ckpt *p = &k->pend[k->head];
        if (s && (p->run > r || (p->run == r && p->step > s->step)))
            break;
        st = copy_reused(k, p, err);
    }
    return st;
}

static rw_status add(const rw_spectrum *s, void *ctx, rw_err *err)
{
    cache *k = ctx;
    rw_status st = copy_reused_before(k, s, err);
    return st != RW_OK ? st : spectra_writer_add(k->w, s, err);
}

/* ------------------------------------------------------------ long table */

static rw_status add_long(const rw_spectrum *s, void *ctx, rw_err *err)
{
    rw_table *t = ctx;
    char step[32], layer[32], i[32], sig[32];
    snprintf(step, sizeof step, "%lld", (long long)s->step);
    snprintf(layer, sizeof layer, "%d", s->layer);
    rw_status st = RW_OK;
    bool with_data = t->ncols == 11; /* gradients: data and split after kind */
    for (size_t j = 0; j < s->k && st == RW_OK; j++) {
        snprintf(i, sizeof i, "%zu", j + 1);
        const char *cells[] = {s->run,       step,        s->tensor, layer, s->module,
                               s->component, rw_kind_name(s->kind), i, rw_fmt_double(sig, s->sigma[j])};
        const char *dcells[] = {s->run, step, s->tensor, layer, s->module, s->component,
                                rw_kind_name(s->kind), s->data ? s->data : "weights",
                                s->split ? s->split : "", i, sig};
        st = table_add_row(t, with_data ? dcells : cells, err);
    }
    return st;
}

static bool is_h5_name(const char *p)
{
    size_t n = strlen(p);
    return (n > 3 && strcmp(p + n - 3, ".h5") == 0) || (n > 5 && strcmp(p + n - 5, ".hdf5") == 0);
}

/* The long table, from runs or from a spectra file. */
static int long_table(rw_cli *cli, const modes *m, int nargs, char **args)
{
    static const char *const cols[] = {"run",       "step", "tensor", "layer", "module",
                                       "component", "kind", "i",      "sigma"};
    /* of gradients: data and split after kind (docs/gradients.md) */
    static const char *const dcols[] = {"run",  "step", "tensor", "layer", "module", "component",
                                        "kind", "data", "split",  "i",     "sigma"};
    rw_err err = {{0}};
    rw_runset rs = {0};
    bool one_file = nargs == 1 && spectra_file_is(args[0]), with_data = cli->data != RW_DATA_WEIGHTS;
    if (one_file) {
        rw_spectra_reader *r;
        if (spectra_reader_open(args[0], &r, &err) == RW_OK) {
            with_data = spectra_reader_data(r, NULL) != NULL;
            spectra_reader_close(r);
        } /* else spectra_file_foreach below says what is wrong */
    }
    long nc = with_data ? 11 : 9;
    rw_table *t = table_new(with_data ? dcols : cols, (size_t)nc);
    rw_status st = t ? RW_OK : rw_fail(&err, RW_ENOMEM, "out of memory");
    if (t)
        for (long c = 0; c < nc; c++)
            table_set_numeric(t, c, c == 1 || c == 3 || c >= nc - 2);
    if (st == RW_OK && one_file) {
        rw_kind kinds[3] = {RW_KIND_WEIGHT, RW_KIND_UPDATE, RW_KIND_UPDATE_FIRST};
        for (int k = 0; k < 3 && st == RW_OK; k++)
            st = spectra_file_foreach(args[0], &cli->sel, cli->comps, 0, kinds[k], add_long, t,
                                      &err);
    } else if (st == RW_OK) {
        st = rw_cli_runs(cli, nargs, args, &rs, &err);
        if (st == RW_OK) {
            rw_analysis_opts o = rw_cli_analysis(cli);
            o.updates = m->updates;
            o.from_first = m->from_first;
            st = rw_analyze(&rs, &o, add_long, t, &err);
        }
    }
    if (st == RW_OK) {
        /* run, step, tensor, component, kind, i */
        long keys[6] = {0, 1, 2, 5, 6, nc - 2};
        bool num[6] = {false, true, false, false, false, true};
        table_sort(t, keys, num, 6);
        st = table_write_path(t, cli->out, cli->format, &err);
    }
    table_free(t);
    runset_free(&rs);
    return st == RW_OK ? 0 : rw_cli_fail(cli, st, &err);
}

int rw_spectra_main(int argc, char **argv, const rw_spectra_driver *d)
{
    rw_cli cli = {.prog = d->prog, .usage = d->usage};
    modes m = {0};
    static const struct option extra[] = {
        {"updates", no_argument, NULL, OPT_UPDATES},
        {"from-first", no_argument, NULL, OPT_FROM_FIRST},
        {"recompute", no_argument, NULL, OPT_RECOMPUTE},
        {0, 0, 0, 0},
    };
    int ret = rw_cli_parse(&cli, argc, argv, extra, NULL, on_option, &m);
    if (ret >= 0)
        goto out;
    if (optind >= argc) {
        ret = rw_cli_usage_error(&cli, "no run given");
        goto out;
    }
    if (!cli.out) {
        ret = rw_cli_usage_error(&cli, "-o SPECTRA.h5 (or -o TABLE.tsv) is required");
        goto out;
    }
    if (!is_h5_name(cli.out) && d->h5_only) {
        ret = rw_cli_usage_error(&cli, "-o %s: writes a spectra file (.h5) only; rw-spectra "
                                 "-o TABLE SPECTRA.h5 converts it", cli.out);
        goto out;
    }
    if (!is_h5_name(cli.out)) {
        ret = long_table(&cli, &m, argc - optind, argv + optind);
        goto out;
    }
    rw_err err = {{0}};
    rw_runset rs = {0};
    cache k = {.m = &m, .rs = &rs, .err = &err};
    char *options = options_string(&cli, &m);
    rw_status st = options ? rw_cli_runs(&cli, argc - optind, argv + optind, &rs, &err)
                           : rw_fail(&err, RW_ENOMEM, "out of memory");
    if (d->writer && st == RW_OK && !m.recompute && spectra_file_is(cli.out)) {
        /* Say why a spectra file there is not reused: the user may expect it. */
        rw_err oerr = {{0}};
        if (spectra_reader_open(cli.out, &k.old, &oerr) == RW_OK) {
            const char *o = spectra_reader_options(k.old);
            if (!o || strcmp(o, options) != 0) {
                char diff[512];
                options_diff(o ? o : "", options, diff, sizeof diff);
                rw_warn(cli.prog, "%s: written with other options (%s): every checkpoint is "
                        "decomposed again", cli.out, diff);
                spectra_reader_close(k.old);
                k.old = NULL;
            }
        } else {
            rw_warn(cli.prog, "%s: not reused (%s): every checkpoint is decomposed again",
                    cli.out, oerr.msg);
        }
    }
    if (d->writer && st == RW_OK)
        st = spectra_writer_open(cli.out, &k.w, &err);
    rw_analysis_opts o = rw_cli_analysis(&cli);
    o.updates = m.updates;
    o.from_first = m.from_first;
    if (k.w) {
        o.reuse = reuse;
        o.reuse_ctx = &k;
    }
    /* the distributed form is called by every process, whatever happened */
    if (d->analyze)
        st = d->analyze(st, &rs, &o, add, &k, &err);
    else if (st == RW_OK)
        st = rw_analyze(&rs, &o, add, &k, &err);
    if (k.w) {
        if (st == RW_OK)
            st = k.st;
        if (st == RW_OK)
            st = copy_reused_before(&k, NULL, &err);
        if (st == RW_OK)
            st = spectra_writer_options(k.w, options, &err);
        size_t total = 0;
        for (size_t r = 0; r < rs.n && st == RW_OK; r++)
            for (size_t i = 0; i < rs.runs[r].n && st == RW_OK; i++) {
                const rw_ckpt_ref *ref = &rs.runs[r].ckpts[i];
                int64_t size, mt;
                total++;
                if (!stat_ckpt(ref, &size, &mt))
                    st = rw_fail(&err, RW_EIO, "%s: changed while being read", ref->path);
                else
                    st = spectra_writer_source(k.w, rs.runs[r].label, ref->path, ref->group,
                                               ref->step, size, mt, &err);
            }
        /* The old file is read until here: close it before replacing it. */
        spectra_reader_close(k.old);
        k.old = NULL;
        rw_status cst = spectra_writer_close(k.w, st == RW_OK, &err);
        if (st == RW_OK)
            st = cst;
        if (st == RW_OK && k.reused)
            fprintf(stderr, "%s: %zu checkpoints: %zu decomposed, %zu reused from %s\n",
                    cli.prog, total, total - k.reused, k.reused, cli.out);
    }
    spectra_reader_close(k.old);
    free(k.pend);
    free(options);
    runset_free(&rs);
    ret = st == RW_OK ? 0 : d->writer ? rw_cli_fail(&cli, st, &err) : rw_exit_code(st);
out:
    rw_cli_free(&cli);
    return d->finish ? d->finish(ret) : ret;
}
