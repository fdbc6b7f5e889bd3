/*
 * esd.c — WeightWatcher's ESD figure (plot.h): the log-log histogram of
 * one matrix's eigenvalues lambda = sigma^2 (WeightWatcher's default
 * normalisation, rw-tails' ESD: not divided by N), the fitted power law
 * from xmin to xmax and the Marchenko-Pastur density of the bulk; a panel
 * per module (rows) and (run, step) (columns), one layer per module.
 *
 * The histogram: the eigenvalues > 1e-5 (those the fit sees), NB bins of
 * equal width in log10 lambda from the smallest of them to the largest
 * (bin b: lo + b h <= log10 lambda < lo + (b + 1) h, the last closed), NB =
 * min(50, max(5, ceil(2 sqrt(n)))); a bin's height is its density per
 * eigenvalue of all M = min(m, n): count / (M (hi - lo)), in lambda's units.
 * The power law is the fit's density on the same scale,
 * (num_pl_spikes / M) (alpha - 1) / xmin (lambda / xmin)^-alpha, a straight
 * line from xmin to xmax. The MP density (Q = N / M >= 1, the fitted
 * sigma of the ESD rescaled by w^2 = w_scale^2, mean 1) back in lambda's
 * units: w^2 Q / (2 pi sigma^2 x) sqrt((b - x)(x - a)) at x = w^2 lambda
 * between the bulk edges.
 *
 * STEM.dat, per drawn panel, up to three blocks, each headed by a comment
 * naming module, run, step and layer (and the fit's numbers):
 *   hist: lambda_center lambda_lo lambda_hi count density (empty bins left out)
 *   pl:   lambda density (two rows: xmin and xmax)
 *   mp:   lambda density (200 points, denser towards the edges)
 */
#include "plots/figure.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ESD_THRESH 1e-5 /* WeightWatcher's EVALS_THRESH, as rw-tails */
#define MP_POINTS 200

typedef struct {
    int module, run;
    int64_t step;
    long spec;                /* index into sp.s; -1: none */
    int hist, pl, mp;         /* block indices in STEM.dat; -1: not drawn */
    rw_esd_fit fit;
    double xlo, xhi, ylo, yhi;
    size_t n, M;              /* eigenvalues drawn, all */
} panel;

typedef struct {
    const rw_plot_opts *o;
    plot_spectra sp;
    struct {
        int run;
        int64_t step;         /* per run when default */
    } *col;                   /* the columns */
    size_t ncols;
    int *layer;               /* per module: the layer drawn */
    panel *p;                 /* nmodules x ncols, while build runs */
    size_t absent, unfit;
    fig_notes notes;
} esd;

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Columns: every run in turn, at each chosen step (default: its last). */
static rw_status choose(esd *e, rw_err *err)
{
    plot_spectra *sp = &e->sp;
    const rw_plot_opts *o = e->o;
    size_t nr = sp->sel.nruns, per = o->nsteps ? o->nsteps : 1;
    e->col = rw_calloc(nr * per + 1, sizeof *e->col, err);
    e->layer = rw_calloc(sp->sel.nmodules + 1, sizeof *e->layer, err);
    int *layers = rw_calloc(sp->n + 1, sizeof *layers, err);
    if (!e->col || !e->layer || !layers) {
        free(layers);
        return RW_ENOMEM;
    }
    for (size_t i = 0; i < o->nsteps; i++) {
        bool found = false;
        for (size_t j = 0; j < sp->n && !found; j++)
            found = sp->s[j].step == o->steps[i];
        if (!found) {
            free(layers);
            return rw_fail(err, RW_EDATA, "%s: no spectra at step %lld", sp->sel.src,
                           (long long)o->steps[i]);
        }
    }
    for (size_t r = 0; r < nr; r++) {
        int64_t last = INT64_MIN;
        for (size_t j = 0; j < sp->n; j++)
            if (sp->s[j].run == (int)r && sp->s[j].step > last)
                last = sp->s[j].step;
        if (last == INT64_MIN)
            continue; /* a run switched off, or with nothing selected */
        for (size_t i = 0; i < per; i++) {
            e->col[e->ncols].run = (int)r;
            e->col[e->ncols++].step = o->nsteps ? o->steps[i] : last;
        }
    }
    /* the layer of each module: o->layer, else the middle of its layers */
    for (size_t m = 0; m < sp->sel.nmodules; m++) {
        size_t nl = 0;
        for (size_t j = 0; j < sp->n; j++)
            if (sp->s[j].module == (int)m)
                layers[nl++] = sp->s[j].layer;
        qsort(layers, nl, sizeof *layers, cmp_int);
        size_t u = 0;
        for (size_t j = 0; j < nl; j++)
            if (u == 0 || layers[j] != layers[u - 1])
                layers[u++] = layers[j];
        e->layer[m] = o->layer >= -1 ? (int)o->layer : u ? layers[(u - 1) / 2] : -1;
    }
    free(layers);
    return RW_OK;
}

/* The bins of the histogram: see the header comment. */
static size_t esd_bins(size_t n)
{
    size_t nb = (size_t)ceil(2 * sqrt((double)n));
    return nb < 5 ? 5 : nb > 50 ? 50 : nb;
}

/* Writes panel p's blocks into df (numbering them from *nb) and sets its
 * ranges; lam: scratch of k doubles. */
static rw_status write_panel(esd *e, panel *p, FILE *df, int *nb, double *lam, size_t *cnt,
                             rw_err *err)
{
    const plot_spec *s = &e->sp.s[p->spec];
    const rw_plot_opts *o = e->o;
    rw_status st = o->esd_fit(s->sigma, s->k, s->rows, s->cols, &p->fit, err);
    if (st != RW_OK)
        return st;
    size_t n = 0;
    for (size_t i = s->k; i-- > 0;) { /* ascending */
        double l = s->sigma[i] * s->sigma[i];
        if (l > ESD_THRESH && isfinite(l))
            lam[n++] = l;
    }
    p->n = n;
    p->M = s->k;
    if (n == 0)
        return RW_OK;
    size_t nbins = esd_bins(n);
    double lo = log10(lam[0]), hi = log10(lam[n - 1]);
    if (!(hi > lo)) {
        lo -= 0.05;
        hi += 0.05;
    }
    double h = (hi - lo) / (double)nbins;
    memset(cnt, 0, nbins * sizeof *cnt);
    for (size_t i = 0; i < n; i++) {
        double b = floor((log10(lam[i]) - lo) / h);
        size_t bi = b < 0 ? 0 : b >= (double)nbins ? nbins - 1 : (size_t)b;
        cnt[bi]++;
    }
    const rw_esd_fit *f = &p->fit;
    bool ok = f->status && !strcmp(f->status, "ok");
    double M = (double)s->k;
    p->ylo = INFINITY;
    p->yhi = 0;
    fprintf(df, "%s# index %d: hist of module ", *nb ? "\n\n" : "", *nb);
    gp_quote(df, e->sp.sel.modules[p->module]);
    fputs(", run ", df);
    gp_quote(df, e->sp.sel.runs[p->run]);
    fprintf(df, ", step %lld, layer %d: %zu eigenvalues > 1e-5 of %zu, %zu bins in log10 "
            "lambda from %.17g to %.17g; fit %s", (long long)p->step, s->layer, n, s->k, nbins,
            lo, hi, f->status ? f->status : "?");
    if (ok)
        fprintf(df, " alpha %.17g xmin %.17g xmax %.17g D %.17g num_pl_spikes %.17g",
                f->alpha, f->xmin, f->xmax, f->D, f->num_pl_spikes);
    if (ok && f->mp)
        fprintf(df, " sigma_mp %.17g bulk_min %.17g bulk_max %.17g w_scale %.17g Q %.17g",
                f->sigma_mp, f->bulk_min, f->bulk_max, f->w_scale, f->Q);
    fputs("\n# lambda_center\tlambda_lo\tlambda_hi\tcount\tdensity\n", df);
    for (size_t b = 0; b < nbins; b++) {
        if (!cnt[b])
            continue;
        double a = pow(10, lo + (double)b * h), c = pow(10, lo + (double)(b + 1) * h);
        double d = (double)cnt[b] / (M * (c - a));
        fprintf(df, "%.10g\t%.10g\t%.10g\t%zu\t%.10g\n", sqrt(a * c), a, c, cnt[b], d);
        p->ylo = fmin(p->ylo, d);
        p->yhi = fmax(p->yhi, d);
    }
    p->hist = (*nb)++;
    p->xlo = pow(10, lo);
    p->xhi = pow(10, hi);
    if (!ok) {
        e->unfit++;
        return RW_OK;
    }
    double c0 = f->num_pl_spikes / M * (f->alpha - 1) / f->xmin;
    fprintf(df, "\n\n# index %d: pl: lambda\tdensity, (num_pl_spikes / M) (alpha - 1) / xmin "
            "(lambda / xmin)^-alpha\n", *nb);
    fprintf(df, "%.17g\t%.17g\n%.17g\t%.17g\n", f->xmin, c0, f->xmax,
            c0 * pow(f->xmax / f->xmin, -f->alpha));
    p->pl = (*nb)++;
    p->yhi = fmax(p->yhi, c0);
    if (f->mp && f->Q >= 1 && f->sigma_mp > 0 && f->bulk_max > f->bulk_min) {
        double w2 = f->w_scale * f->w_scale, s2 = f->sigma_mp * f->sigma_mp;
        double a = f->bulk_min * w2, b = f->bulk_max * w2;
        fprintf(df, "\n\n# index %d: mp: lambda\tdensity, w^2 Q / (2 pi sigma^2 x) sqrt((b - "
                "x)(x - a)), x = w^2 lambda\n", *nb);
        for (int i = 0; i < MP_POINTS; i++) {
            double t = (i + 0.5) / MP_POINTS;
            double x = a + (b - a) * (1 - cos(M_PI * t)) / 2;
            double y = w2 * f->Q / (2 * M_PI * s2 * x) * sqrt((b - x) * (x - a));
            fprintf(df, "%.10g\t%.10g\n", x / w2, y);
        }
        p->mp = (*nb)++;
        p->xlo = fmin(p->xlo, f->bulk_min > 0 ? f->bulk_min : p->xlo);
        p->xhi = fmax(p->xhi, f->bulk_max);
    }
    return RW_OK;
}

static rw_status write_data(esd *e, const gp_stage *stage, const char *data, rw_err *err)
{
    plot_spectra *sp = &e->sp;
    e->p = rw_calloc(sp->sel.nmodules * e->ncols + 1, sizeof *e->p, err);
    if (!e->p)
        return RW_ENOMEM;
    double *lam = rw_calloc(plot_spectra_maxk(sp), sizeof *lam, err);
    size_t cnt[50]; /* esd_bins' most */
    if (!lam)
        return RW_ENOMEM;
    char *path;
    FILE *df = gp_stage_fopen(stage, data, &path, err);
    if (!df) {
        free(lam);
        return RW_EIO;
    }
    rw_status st = RW_OK;
    int nb = 0;
    for (size_t m = 0; st == RW_OK && m < sp->sel.nmodules; m++)
        for (size_t c = 0; st == RW_OK && c < e->ncols; c++) {
            panel *p = &e->p[m * e->ncols + c];
            *p = (panel){(int)m, e->col[c].run, e->col[c].step, -1, -1, -1, -1, {0}, 0, 0, 0, 0,
                         0, 0};
            for (size_t i = 0; i < sp->n && p->spec < 0; i++)
                if (sp->s[i].module == (int)m && sp->s[i].run == p->run &&
                    sp->s[i].step == p->step && sp->s[i].layer == e->layer[m])
                    p->spec = (long)i;
            if (p->spec < 0)
                e->absent++;
            else
                st = write_panel(e, p, df, &nb, lam, cnt, err);
        }
    free(lam);
    bool bad = rw_fclose_checked(df) != 0;
    if (st == RW_OK && bad)
        st = rw_fail(err, RW_EIO, "cannot write %s", path);
    free(path);
    return st;
}

static void plot_panel(esd *e, FILE *f, const fig_grid *g, const panel *p, size_t m, size_t c,
                       const char *data)
{
    const char *module = e->sp.sel.modules[m], *run = e->sp.sel.runs[p->run];
    fprintf(f, "\n# ---- module %zu (", m + 1);
    gp_quote(f, module);
    fprintf(f, "), column %zu (", c + 1);
    gp_quote(f, run);
    fprintf(f, ", step %lld)\n", (long long)p->step);
    bool bottom = m + 1 == e->sp.sel.nmodules, left = c == 0;
    fig_panel(f, g, (int)m, (int)c, left ? 88 : 64, 24, bottom ? 56 : 42, 32);
    char mt[300], pt[600];
    fig_module_title(mt, sizeof mt, module, false);
    if (e->layer[m] >= 0)
        snprintf(pt, sizeof pt, "%s — %s, layer %d, %s %lld", run, mt, e->layer[m],
                 e->o->epochs ? "epoch" : "step", (long long)p->step);
    else
        snprintf(pt, sizeof pt, "%s — %s, %s %lld", run, mt, e->o->epochs ? "epoch" : "step",
                 (long long)p->step);
    fputs("set title ", f);
    gp_quote(f, pt);
    fputc('\n', f);
    fputs(bottom ? "set xlabel 'eigenvalue λ = σ²'\n" : "unset xlabel\n", f);
    fputs(left ? "set ylabel 'density'\n" : "unset ylabel\n", f);
    if (p->hist < 0) {
        fputs("unset logscale\nset xrange [0:1]\nset yrange [0:1]\nunset key\n"
              "set label 1 ", f);
        gp_quote(f, p->spec < 0 ? "no spectrum" : "no eigenvalue > 1e-5");
        fputs(" at graph 0.5, graph 0.5 center\nplot NaN notitle\nunset label 1\n", f);
        return;
    }
    /* room above the data for the key */
    double xlo = p->xlo / 1.5, xhi = p->xhi * 1.5, ylo = p->ylo / 4, yhi = p->yhi * 60;
    fprintf(f, "set xrange [%.10g:%.10g]\nset yrange [%.10g:%.10g]\n", xlo, xhi, ylo, yhi);
    gp_log_tics(f, "x", xlo, xhi);
    gp_log_tics(f, "y", ylo, yhi);
    fputs("set key top right font ',10' samplen 2 spacing 1.1\n", f);
    char t[200];
    fputs("plot ", f);
    gp_quote(f, data);
    snprintf(t, sizeof t, "ESD (%zu of %zu λ > 1e-5)", p->n, p->M);
    fprintf(f, " index %d using 1:5:2:3:(%.10g):5 with boxxyerror fs solid 0.35 noborder "
            "lc rgb '#56b4e9' title ", p->hist, ylo);
    gp_quote(f, t);
    if (p->pl >= 0) {
        snprintf(t, sizeof t, "power law α = %.3g, xmin = %.3g, D = %.3g", p->fit.alpha,
                 p->fit.xmin, p->fit.D);
        fputs(", \\\n     ", f);
        gp_quote(f, data);
        fprintf(f, " index %d using 1:2 with lines lw 2.5 lc rgb '#d55e00' title ", p->pl);
        gp_quote(f, t);
    } else {
        snprintf(t, sizeof t, "no power-law fit (%s)", p->fit.status ? p->fit.status : "?");
        fputs(", NaN with lines lc rgb '#d55e00' title ", f);
        gp_quote(f, t);
    }
    if (p->mp >= 0) {
        snprintf(t, sizeof t, "MP bulk σ = %.3g, Q = %.3g", p->fit.sigma_mp, p->fit.Q);
        fputs(", \\\n     ", f);
        gp_quote(f, data);
        fprintf(f, " index %d using 1:2 with lines lw 2 dt 2 lc rgb '#009e73' title ", p->mp);
        gp_quote(f, t);
    }
    fputc('\n', f);
}

static rw_status build(void *ctx, const gp_stage *stage, FILE *f, rw_figfmt fmt, rw_err *err)
{
    esd *e = ctx;
    char data[1024];
    snprintf(data, sizeof data, "%s.dat", stage->stem);
    rw_status st = write_data(e, stage, data, err); /* fits and panels too */
    if (st != RW_OK) {
        free(e->p);
        e->p = NULL;
        return st;
    }
    const rw_plot_opts *o = e->o;
    size_t nm = e->sp.sel.nmodules;
    if (e->absent)
        fig_note(&e->notes, "%zu panels have no spectrum to draw.", e->absent);
    if (e->unfit)
        fig_note(&e->notes, "%zu panels have no power-law fit (rw-tails' fit_status: too few "
                 "eigenvalues, or degenerate).", e->unfit);
    fig_note(&e->notes, "Histogram: eigenvalues λ = σ² > 1e-5, density per eigenvalue of all "
             "min(m, n); power law and MP bulk as rw-tails fits them (docs/tails.md).");
    char title[512];
    if (o->title)
        snprintf(title, sizeof title, "%s", o->title);
    else {
        bool named;
        const char *subject = fig_subject(e->sp.sel.updates, e->sp.sel.comps, e->sp.sel.data,
                                          &named);
        snprintf(title, sizeof title, "empirical spectral density (ESD) of the %s%s%s, with "
                 "the power-law fit and the Marchenko–Pastur bulk", subject,
                 o->component && !named ? ", component " : "",
                 o->component && !named ? o->component : "");
    }
    fig_grid g = {0};
    g.rows = (int)nm;
    g.cols = (int)(e->ncols ? e->ncols : 1);
    g.w = fig_width(o, g.cols * 520, title);
    g.top = fig_title_height(title, g.w) + 8;
    g.bottom = fig_notes_height(&e->notes, g.w) + 8;
    g.h = o->height > 0 ? o->height : g.top + g.rows * 380 + g.bottom;
    fig_begin(f, fmt, stage->figure, &g, title, &e->notes);
    fig_labels_flush(f, &g);
    fputs("set border 3 lc rgb '#303030'\nset tics nomirror out scale 0.6\n"
          "set grid xtics ytics back lc rgb '#e4e4e4' lw 1 dt 1\n", f);
    for (size_t m = 0; m < nm; m++)
        for (size_t c = 0; c < e->ncols; c++)
            plot_panel(e, f, &g, &e->p[m * e->ncols + c], m, c, data);
    fputs("\nunset multiplot\n", f);
    free(e->p);
    e->p = NULL;
    return RW_OK;
}

static void esd_free(esd *e)
{
    free(e->col);
    free(e->layer);
    fig_notes_free(&e->notes);
    plot_spectra_free(&e->sp);
}

rw_status plot_esd(const char *const *paths, size_t npaths, const rw_plot_opts *o, rw_err *err)
{
    if (!o->esd_fit)
        return rw_fail(err, RW_EUSAGE, "plot_esd: no fit given");
    if (fig_format(o, err) < 0)
        return RW_EUSAGE;
    esd e = {.o = o};
    rw_status st = plot_spectra_load(paths, npaths, o, &e.sp, err);
    if (st == RW_OK && (st = choose(&e, err)) == RW_OK)
        st = fig_render(o, "esd", e.sp.sel.src, build, &e, err);
    esd_free(&e);
    return st;
}
