/*
 * spectrum.c — normalised singular value spectra σi/σ1 against i/k on log
 * axes at chosen steps, a panel per module (rows) and run (columns)
 * (plot.h).
 *
 * A module has one matrix per layer; each curve is the geometric mean over
 * layers of σi/σ1 at each i (the mean of the curves as the log axes show
 * them). STEM.dat holds one block per (module, run, step): i/k, the mean,
 * the number of layers averaged.
 */
#include "plots/figure.h"
#include "plots/palette.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const rw_plot_opts *o;
    plot_spectra sp;
    int64_t *steps;          /* the steps drawn, ascending */
    size_t nsteps;
    int *runs;               /* the runs drawn (columns) */
    size_t nruns;
    size_t skipped_zero;     /* layers whose σ1 is 0 or not finite */
    size_t skipped_k;        /* layers whose k differs from their module's */
    size_t zeros;            /* σi = 0 values left out of a mean */
    size_t absent;           /* chosen (run, step) pairs with no spectrum */
    fig_notes notes;
} spec;

static rw_status choose(spec *s, rw_err *err)
{
    plot_spectra *sp = &s->sp;
    int64_t *all = rw_calloc(sp->n ? sp->n : 1, sizeof *all, err);
    s->runs = rw_calloc(sp->sel.nruns ? sp->sel.nruns : 1, sizeof *s->runs, err);
    if (!all || !s->runs) {
        free(all);
        return RW_ENOMEM;
    }
    for (size_t i = 0; i < sp->n; i++)
        all[i] = sp->s[i].step;
    qsort(all, sp->n, sizeof *all, rw_cmp_i64);
    size_t n = 0;
    for (size_t i = 0; i < sp->n; i++)
        if (n == 0 || all[i] != all[n - 1])
            all[n++] = all[i];
    const rw_plot_opts *o = s->o;
    s->steps = rw_calloc(o->nsteps ? o->nsteps : 5, sizeof *s->steps, err);
    if (!s->steps) {
        free(all);
        return RW_ENOMEM;
    }
    if (o->nsteps) {
        for (size_t i = 0; i < o->nsteps; i++) {
            if (!bsearch(&o->steps[i], all, n, sizeof *all, rw_cmp_i64)) {
                char have[200] = "";
                for (size_t j = 0; j < n; j++) {
                    size_t len = strlen(have);
                    if (len + 24 >= sizeof have) {
                        snprintf(have + len, sizeof have - len, " ...");
                        break;
                    }
                    snprintf(have + len, sizeof have - len, "%s%lld", j ? " " : "",
                             (long long)all[j]);
                }
                free(all);
                return rw_fail(err, RW_EDATA, "%s: no spectra at step %lld (steps: %s)",
                               sp->sel.src, (long long)o->steps[i], have);
            }
            s->steps[s->nsteps++] = o->steps[i];
        }
        qsort(s->steps, s->nsteps, sizeof *s->steps, rw_cmp_i64);
    } else {
        /* Five steps spread evenly over the checkpoints, first and last included. */
        for (size_t j = 0; j < 5 && j < n; j++) {
            size_t idx = n <= 5 ? j : (size_t)llround((double)j * (double)(n - 1) / 4.0);
            if (s->nsteps == 0 || s->steps[s->nsteps - 1] != all[idx])
                s->steps[s->nsteps++] = all[idx];
        }
    }
    free(all);
    for (size_t r = 0; r < sp->sel.nruns; r++) {
        bool any = false;
        for (size_t i = 0; i < sp->n && !any; i++)
            any = sp->s[i].run == (int)r;
        if (any)
            s->runs[s->nruns++] = (int)r;
    }
    return RW_OK;
}

/* The most common k among the module's spectra. */
static size_t module_k(const plot_spectra *sp, int module)
{
    size_t best = 0, bestn = 0;
    for (size_t i = 0; i < sp->n; i++) {
        if (sp->s[i].module != module)
            continue;
        size_t k = sp->s[i].k, c = 0;
        for (size_t j = 0; j < sp->n; j++)
            c += sp->s[j].module == module && sp->s[j].k == k;
        if (c > bestn || (c == bestn && k > best)) {
            best = k;
            bestn = c;
        }
    }
    return best;
}

/* Writes the block of (module, run, step) and returns the number of points
 * written; *ylo gets the smallest mean. */
static size_t write_block(spec *s, FILE *f, int module, int run, int64_t step, size_t k,
                          double *sum, size_t *cnt, double *ylo)
{
    plot_spectra *sp = &s->sp;
    memset(sum, 0, k * sizeof *sum);
    memset(cnt, 0, k * sizeof *cnt);
    size_t layers = 0;
    for (size_t i = 0; i < sp->n; i++) {
        const plot_spec *p = &sp->s[i];
        if (p->module != module || p->run != run || p->step != step)
            continue;
        if (p->k != k) {
            s->skipped_k++;
            continue;
        }
        double s1 = p->sigma[0];
        if (!(s1 > 0) || !isfinite(s1)) {
            s->skipped_zero++;
            continue;
        }
        layers++;
        for (size_t j = 0; j < k; j++) {
            double r = p->sigma[j] / s1;
            if (r > 0 && isfinite(r)) {
                sum[j] += log10(r);
                cnt[j]++;
            } else {
                s->zeros++;
            }
        }
    }
    if (!layers)
        return 0;
    size_t n = 0;
    for (size_t j = 0; j < k; j++) {
        if (!cnt[j])
            continue;
        double y = pow(10, sum[j] / (double)cnt[j]);
        fprintf(f, "%.10g\t%.10g\t%zu\n", (double)(j + 1) / (double)k, y, cnt[j]);
        *ylo = fmin(*ylo, y);
        n++;
    }
    return n;
}

static rw_status build(void *ctx, const gp_stage *stage, FILE *f, rw_figfmt fmt, rw_err *err)
{
    spec *s = ctx;
    plot_spectra *sp = &s->sp;
    const rw_plot_opts *o = s->o;
    size_t nm = sp->sel.nmodules;
    char data[1024];
    snprintf(data, sizeof data, "%s.dat", stage->stem);
    char *path;
    FILE *df = gp_stage_fopen(stage, data, &path, err);
    if (!df)
        return RW_EIO;
    size_t maxk = plot_spectra_maxk(sp);
    double *sum = rw_calloc(maxk, sizeof *sum, err);
    size_t *cnt = rw_calloc(maxk, sizeof *cnt, err);
    size_t nblocks = nm * s->nruns * s->nsteps;
    int *block = rw_calloc(nblocks ? nblocks : 1, sizeof *block, err);
    size_t *ks = rw_calloc(nm ? nm : 1, sizeof *ks, err);
    /* the y range of each panel, (module, run): its own, so that a
     * full-rank spectrum is not flattened by a low-rank one's fall to
     * round-off beside it */
    double *ylo = rw_calloc(nm * s->nruns > 0 ? nm * s->nruns : 1, sizeof *ylo, err);
    bool *drawn = rw_calloc(s->nsteps ? s->nsteps : 1, sizeof *drawn, err);
    rw_status st = RW_OK;
    if (!sum || !cnt || !block || !ks || !ylo || !drawn)
        st = RW_ENOMEM;
    fputs("# i/k\tsigma_i/sigma_1 (geometric mean over layers)\tlayers\n", df);
    int nb = 0;
    for (size_t m = 0; st == RW_OK && m < nm; m++) {
        ks[m] = module_k(sp, (int)m);
        for (size_t c = 0; st == RW_OK && c < s->nruns; c++)
            for (size_t j = 0; st == RW_OK && j < s->nsteps; j++) {
                double *yl = &ylo[m * s->nruns + c];
                if (j == 0)
                    *yl = 1;
                size_t b = (m * s->nruns + c) * s->nsteps + j;
                char *text = NULL;
                size_t len = 0;
                FILE *mf = open_memstream(&text, &len);
                size_t n = mf ? write_block(s, mf, (int)m, s->runs[c], s->steps[j], ks[m], sum,
                                            cnt, yl)
                              : 0;
                if (!mf || fclose(mf) != 0) {
                    free(text);
                    st = rw_fail(err, RW_ENOMEM, "out of memory");
                    break;
                }
                block[b] = n ? nb : -1;
                drawn[j] |= n > 0;
                if (n) {
                    fprintf(df, "%s# index %d: module ", nb++ ? "\n\n" : "", block[b]);
                    gp_quote(df, sp->sel.modules[m]);
                    fputs(", run ", df);
                    gp_quote(df, sp->sel.runs[s->runs[c]]);
                    fprintf(df, ", step %lld\n%s", (long long)s->steps[j], text);
                } else
                    s->absent++;
                free(text);
            }
    }
    bool bad = rw_fclose_checked(df) != 0;
    if (st == RW_OK && bad)
        st = rw_fail(err, RW_EIO, "cannot write %s", path);
    free(path);
    free(sum);
    free(cnt);
    if (st != RW_OK) {
        free(block);
        free(ks);
        free(ylo);
        free(drawn);
        return st;
    }
    if (s->skipped_zero)
        fig_note(&s->notes, "Left out: %zu layer spectra with σ₁ = 0 or not finite (a zero "
                 "matrix, e.g. a fresh LoRA update, has no normalised spectrum).",
                 s->skipped_zero);
    if (s->skipped_k)
        fig_note(&s->notes, "Left out: %zu layer spectra whose length k differs from their "
                 "module's.", s->skipped_k);
    if (s->zeros)
        fig_note(&s->notes, "Not drawn: %zu values σᵢ = 0 (left out of the geometric means).",
                 s->zeros);
    if (s->absent)
        fig_note(&s->notes, "%zu (module, run, step) curves have no spectrum to draw.",
                 s->absent);

    char title[512];
    if (o->title)
        snprintf(title, sizeof title, "%s", o->title);
    else {
        bool named;
        const char *subject = fig_subject(sp->sel.updates, sp->sel.comps, sp->sel.data, &named);
        snprintf(title, sizeof title, "normalised singular values of the %s%s%s — geometric "
                 "mean over layers", subject, o->component && !named ? ", component " : "",
                 o->component && !named ? o->component : "");
    }
    /* the legend: one entry per step that has a curve (a step with no
     * spectrum to draw, such as the first one's update, none), viridis over
     * the steps' order */
    size_t nwant = 0;
    for (size_t j = 0; j < s->nsteps; j++)
        nwant += drawn[j];
    char **leg = calloc(nwant ? nwant : 1, sizeof *leg);
    uint32_t *col = calloc(s->nsteps ? s->nsteps : 1, sizeof *col);
    size_t nleg = 0;
    for (size_t j = 0; leg && col && j < s->nsteps; j++) {
        col[j] = palette_viridis(s->nsteps > 1 ? 0.88 * (double)j / (double)(s->nsteps - 1) : 0);
        char c[8];
        if (drawn[j] && (leg[nleg] = malloc(96))) {
            snprintf(leg[nleg], 96, "NaN with lines lw 2.5 lc rgb '%s' title '%s %lld'",
                     gp_rgb(c, col[j]), s->o->epochs ? "epoch" : "step", (long long)s->steps[j]);
            nleg++;
        }
    }
    free(drawn);
    if (!leg || !col || nleg < nwant) {
        for (size_t j = 0; leg && j < nleg; j++)
            free(leg[j]);
        free(leg);
        free(col);
        free(block);
        free(ks);
        free(ylo);
        return rw_fail(err, RW_ENOMEM, "out of memory");
    }
    int legcols = nleg == 0 ? 1 : nleg < 6 ? (int)nleg : 6;
    int legrows = (int)((nleg + (size_t)legcols - 1) / (size_t)legcols);
    fig_grid g = {0};
    g.rows = (int)nm;
    g.cols = (int)s->nruns;
    g.w = fig_width(o, g.cols * 480, title);
    int title_h = fig_title_height(title, g.w);
    g.top = title_h + legrows * 24 + 12;
    g.bottom = fig_notes_height(&s->notes, g.w) + 8;
    g.h = o->height > 0 ? o->height : g.top + g.rows * 330 + g.bottom;

    fig_begin(f, fmt, stage->figure, &g, title, &s->notes);
    fig_legend_write(f, &g, title_h, legrows * 24, legcols, leg, nleg);
    for (size_t j = 0; j < nleg; j++)
        free(leg[j]);
    free(leg);
    fputs("set border 3 lc rgb '#303030'\nset tics nomirror out scale 0.6\n"
          "set grid xtics ytics back lc rgb '#e4e4e4' lw 1 dt 1\n", f);
    for (size_t m = 0; m < nm; m++) {
        char mt[300], pt[400];
        fig_module_title(mt, sizeof mt, sp->sel.modules[m], false);
        double xlo = 1.0 / (double)(ks[m] ? ks[m] : 1) / 1.15;
        for (size_t c = 0; c < s->nruns; c++) {
            double y0 = ylo[m * s->nruns + c];
            double yl = y0 < 1 ? y0 / 1.6 : 0.1;
            bool bottom = m + 1 == nm, left = c == 0;
            fprintf(f, "\n# ---- module %zu (", m + 1);
            gp_quote(f, sp->sel.modules[m]);
            fprintf(f, "), run %zu (", c + 1);
            gp_quote(f, sp->sel.runs[s->runs[c]]);
            fputs(")\n", f);
            fig_panel(f, &g, (int)m, (int)c, left ? 88 : 60, 24, bottom ? 56 : 42, 32);
            snprintf(pt, sizeof pt, "%s — %s (k = %zu)", sp->sel.runs[s->runs[c]], mt, ks[m]);
            fputs("set title ", f);
            gp_quote(f, pt);
            fputc('\n', f);
            fprintf(f, "set xrange [%.10g:1]\nset yrange [%.10g:1.25]\n", xlo, yl);
            gp_log_tics(f, "x", xlo, 1);
            gp_log_tics(f, "y", yl, 1.25);
            fputs(bottom ? "set xlabel 'i / k'\n" : "unset xlabel\n", f);
            fputs(left ? "set ylabel 'σᵢ / σ₁'\n" : "unset ylabel\n", f);
            fputs("plot ", f);
            bool first = true;
            for (size_t j = 0; j < s->nsteps; j++) {
                int b = block[(m * s->nruns + c) * s->nsteps + j];
                if (b < 0)
                    continue;
                char cc[8];
                fputs(first ? "" : ", \\\n     ", f);
                gp_quote(f, data);
                /* k = 1: one value, σ₁/σ₁ = 1, which a line cannot show */
                fprintf(f, " index %d using 1:2 with %s lc rgb '%s' notitle", b,
                        ks[m] > 1 ? "lines lw 2" : "points pt 7 ps 1.5", gp_rgb(cc, col[j]));
                first = false;
            }
            if (first)
                fputs("NaN notitle", f);
            fputc('\n', f);
        }
    }
    fputs("\nunset multiplot\n", f);
    free(col);
    free(block);
    free(ks);
    free(ylo);
    return RW_OK;
}

rw_status plot_spectrum(const char *const *paths, size_t npaths, const rw_plot_opts *o,
                        rw_err *err)
{
    spec s = {.o = o};
    if (fig_format(o, err) < 0)
        return RW_EUSAGE;
    rw_status st = plot_spectra_load(paths, npaths, o, &s.sp, err);
    if (st != RW_OK)
        return st;
    if ((st = choose(&s, err)) == RW_OK)
        st = fig_render(o, "spectrum", s.sp.sel.src, build, &s, err);
    free(s.steps);
    free(s.runs);
    fig_notes_free(&s.notes);
    plot_spectra_free(&s.sp);
    return st;
}
