/*
 * heatmap.c — layer x step coloured by a metric, a panel per module (rows)
 * and run (columns) (plot.h).
 *
 * The cells of each panel are an image written with libpng, one pixel per
 * (step, layer) (two when there is a single step or layer: gnuplot cannot
 * draw an image one pixel wide): STEM.cells-R-M.png for the R-th run and M-th module of the
 * figure (1-based), the deepest layer on top. Colours are viridis over the
 * module's range across runs (log10 of it on a log scale), grey for nan and
 * inf, white where the table has no value. gnuplot draws the axes, titles
 * and colour bars around the images.
 *
 * Modules of a single matrix (layer -1: embeddings, a head, the layers of a
 * Keras MLP) have no layer axis: they are left out, with a note at the
 * foot of the figure; when every module is one, there is no heatmap (an error that
 * points to the trajectory figure, which draws them).
 */
#include "plots/figure.h"
#include "plots/palette.h"
#include "io/pngio.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const rw_plot_opts *o;
    plot_metric m;
    int64_t *steps;          /* distinct steps of the figure, ascending */
    size_t nsteps;
    bool uniform;            /* evenly spaced: x is the step itself */
    int *runs;               /* the runs drawn (columns), in colour order */
    size_t nruns;
    int64_t **layers;        /* per module: its distinct layers, ascending */
    size_t *nlayers;
    double *lo, *hi;         /* per module: colour range (log10 when logc[m]) */
    bool *logc;
    bool *empty;             /* per (module, run): no value at all */
    size_t nonfinite_drawn;  /* grey cells */
    fig_notes notes;
} heat;

/* Sorted distinct values of v[0..n-1] in place; returns the count. */
static size_t uniq_i64(int64_t *v, size_t n)
{
    qsort(v, n, sizeof *v, rw_cmp_i64);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (k == 0 || v[i] != v[k - 1])
            v[k++] = v[i];
    return k;
}

static long find_i64(const int64_t *v, size_t n, int64_t x)
{
    size_t a = 0, b = n;
    while (a < b) {
        size_t mid = (a + b) / 2;
        if (v[mid] < x)
            a = mid + 1;
        else
            b = mid;
    }
    return a < n && v[a] == x ? (long)a : -1;
}

/* Leaves out the modules whose rows are all of layer -1 (a matrix outside
 * the layers), renumbering the others; notes what was left out.
 * RW_EDATA when nothing is left. */
static rw_status drop_single(heat *h, rw_err *err)
{
    plot_metric *m = &h->m;
    size_t nm = m->sel.nmodules;
    int *to = rw_calloc(nm, sizeof *to, err);
    if (!to)
        return RW_ENOMEM;
    for (size_t i = 0; i < m->nrows; i++)
        if (m->rows[i].layer >= 0)
            to[m->rows[i].module] = 1;
    size_t keep = 0;
    char names[300] = "";
    for (size_t mod = 0; mod < nm; mod++) {
        if (to[mod]) {
            to[mod] = (int)keep++;
            continue;
        }
        to[mod] = -1;
        size_t len = strlen(names);
        if (len + strlen(m->sel.modules[mod]) + 8 < sizeof names)
            snprintf(names + len, sizeof names - len, "%s%s", len ? ", " : "",
                     m->sel.modules[mod]);
        else if (len + 6 < sizeof names && !strstr(names, ", ..."))
            snprintf(names + len, sizeof names - len, ", ...");
    }
    rw_status st = RW_OK;
    if (keep == 0) {
        st = rw_fail(err, RW_EDATA, "%s: every module selected is a single matrix (layer -1: "
                     "%s), with no layers to draw against steps; a trajectory figure draws "
                     "them", m->sel.src, names);
    } else if (keep < nm) {
        fig_note(&h->notes, "Left out: %zu modules of a single matrix (layer −1: %s), which "
                 "have no layer axis.", nm - keep, names);
        size_t n = 0;
        for (size_t i = 0; i < m->nrows; i++)
            if (to[m->rows[i].module] >= 0) {
                m->rows[n] = m->rows[i];
                m->rows[n++].module = to[m->rows[i].module];
            }
        m->nrows = n;
        m->nonfinite = 0;
        for (size_t i = 0; i < n; i++)
            m->nonfinite += !isfinite(m->rows[i].v);
        for (size_t mod = 0; mod < nm; mod++) {
            if (to[mod] < 0) {
                free(m->sel.modules[mod]);
                m->ncond_rank -= m->cond_rank && m->cond_rank[mod];
                continue;
            }
            m->sel.modules[to[mod]] = m->sel.modules[mod];
            if (m->cond_rank)
                m->cond_rank[to[mod]] = m->cond_rank[mod];
        }
        m->sel.nmodules = keep;
    }
    free(to);
    return st;
}

/* Steps, runs, layers per module, and colour ranges. */
static rw_status heat_setup(heat *h, rw_err *err)
{
    plot_metric *m = &h->m;
    size_t nm = m->sel.nmodules;
    h->steps = rw_calloc(m->nrows, sizeof *h->steps, err);
    h->runs = rw_calloc(m->sel.nruns, sizeof *h->runs, err);
    h->layers = rw_calloc(nm, sizeof *h->layers, err);
    h->nlayers = rw_calloc(nm, sizeof *h->nlayers, err);
    h->lo = rw_calloc(nm, sizeof *h->lo, err);
    h->hi = rw_calloc(nm, sizeof *h->hi, err);
    h->logc = rw_calloc(nm, sizeof *h->logc, err);
    h->empty = rw_calloc(nm * m->sel.nruns, sizeof *h->empty, err);
    if (!h->steps || !h->runs || !h->layers || !h->nlayers || !h->lo || !h->hi || !h->logc ||
        !h->empty)
        return RW_ENOMEM;
    for (size_t i = 0; i < m->nrows; i++)
        h->steps[i] = m->rows[i].step;
    h->nsteps = uniq_i64(h->steps, m->nrows);
    h->uniform = true;
    for (size_t i = 2; i < h->nsteps; i++)
        h->uniform &= h->steps[i] - h->steps[i - 1] == h->steps[1] - h->steps[0];
    for (size_t r = 0; r < m->sel.nruns; r++) {
        bool any = false;
        for (size_t i = 0; i < m->nrows && !any; i++)
            any = m->rows[i].run == (int)r;
        if (any)
            h->runs[h->nruns++] = (int)r;
    }
    for (size_t mod = 0; mod < nm; mod++) {
        int64_t *ls = rw_calloc(m->nrows, sizeof *ls, err);
        if (!ls)
            return RW_ENOMEM;
        h->layers[mod] = ls;
        size_t n = 0;
        double lo = INFINITY, hi = -INFINITY, plo = INFINITY;
        bool nonpos = false;
        for (size_t i = 0; i < m->nrows; i++) {
            const plot_row *r = &m->rows[i];
            if (r->module != (int)mod)
                continue;
            ls[n++] = r->layer;
            if (!isfinite(r->v))
                continue;
            lo = fmin(lo, r->v);
            hi = fmax(hi, r->v);
            if (r->v > 0)
                plo = fmin(plo, r->v);
            else
                nonpos = true;
        }
        h->nlayers[mod] = n = uniq_i64(ls, n);
        int lg = h->o->logy;
        h->logc[mod] = lg == 1 ? plo < INFINITY
                               : lg < 0 && !nonpos && lo > 0 && hi / lo > 100;
        if (h->logc[mod]) {
            lo = log10(plo);
            hi = log10(hi);
        }
        if (!(lo <= hi)) { /* nothing finite in this module */
            lo = 0;
            hi = 1;
        } else if (lo == hi) {
            double pad = h->logc[mod] ? 0.5 : (fabs(lo) > 0 ? fabs(lo) * 0.05 : 0.5);
            lo -= pad;
            hi += pad;
        }
        h->lo[mod] = lo;
        h->hi[mod] = hi;
    }
    return RW_OK;
}

/* Pixels per cell along an axis of n cells: gnuplot draws nothing of an
 * image one pixel wide or high, so a lone step or layer is written twice. */
static uint32_t cell_rep(size_t n)
{
    return n == 1 ? 2 : 1;
}

/* The cells of (module, run) as an image; NULL when out of memory. */
static rw_image *heat_cells(heat *h, size_t mod, int run, size_t *grey, bool *empty)
{
    plot_metric *m = &h->m;
    size_t nl = h->nlayers[mod];
    uint32_t rx = cell_rep(h->nsteps), ry = cell_rep(nl);
    rw_image *img = image_new((uint32_t)h->nsteps * rx, (uint32_t)nl * ry, RW_COLOR_MISSING);
    if (!img)
        return NULL;
    *empty = true;
    *grey = 0;
    double lo = h->lo[mod], span = h->hi[mod] - h->lo[mod];
    for (size_t i = 0; i < m->nrows; i++) {
        const plot_row *r = &m->rows[i];
        if (r->module != (int)mod || r->run != run)
            continue;
        long x = find_i64(h->steps, h->nsteps, r->step);
        long li = find_i64(h->layers[mod], nl, r->layer);
        if (x < 0 || li < 0)
            continue;
        double v = r->v;
        if (h->logc[mod])
            v = v > 0 ? log10(v) : NAN;
        uint32_t c = isfinite(v) ? palette_viridis((v - lo) / span) : RW_COLOR_NONFINITE;
        /* row 0 of the image is the top: the deepest layer */
        uint32_t y = (uint32_t)(nl - 1 - (size_t)li) * ry, xx = (uint32_t)x * rx;
        if (image_get(img, xx, y) == RW_COLOR_NONFINITE && c != RW_COLOR_NONFINITE)
            (*grey)--;
        if (c == RW_COLOR_NONFINITE && image_get(img, xx, y) != RW_COLOR_NONFINITE)
            (*grey)++;
        for (uint32_t dy = 0; dy < ry; dy++)
            for (uint32_t dx = 0; dx < rx; dx++)
                image_set(img, xx + dx, y + dy, c);
        *empty = false;
    }
    return img;
}

static const char *short_label(const char *metric)
{
    static const struct {
        const char *metric, *label;
    } s[] = {
        {"per", "PER"}, {"erank", "effective rank"}, {"stable_rank", "stable rank"},
        {"num_rank", "numerical rank"}, {"entropy", "spectral entropy"}, {"cond", "σ₁/σₖ"},
        {"cond_rank", "σ₁/σᵣ"}, {"sigma_max", "σ₁"}, {"sigma_min", "σₖ"},
        {"rel_update", "‖ΔW‖/‖W‖"},
    };
    for (size_t i = 0; i < sizeof s / sizeof *s; i++)
        if (!strcmp(metric, s[i].metric))
            return s[i].label;
    return metric;
}

/* Tics of an index axis labelled with values: about max labels. */
static void index_tics(FILE *f, const char *axis, const int64_t *v, size_t n, int max)
{
    size_t every = (n + (size_t)max - 1) / (size_t)(max > 0 ? max : 1);
    if (every < 1)
        every = 1;
    fprintf(f, "set %stics (", axis);
    for (size_t i = 0; i < n; i += every)
        fprintf(f, "%s'%lld' %zu", i ? ", " : "", (long long)v[i], i);
    fputs(")\n", f);
}

static rw_status build(void *ctx, const gp_stage *stage, FILE *f, rw_figfmt fmt, rw_err *err)
{
    heat *h = ctx;
    const rw_plot_opts *o = h->o;
    plot_metric *m = &h->m;
    size_t nm = m->sel.nmodules;
    size_t *grey = rw_calloc(nm * h->nruns, sizeof *grey, err);
    if (!grey)
        return RW_ENOMEM;
    rw_status st = RW_OK;
    char name[1024];
    for (size_t mod = 0; mod < nm && st == RW_OK; mod++)
        for (size_t c = 0; c < h->nruns && st == RW_OK; c++) {
            bool empty;
            rw_image *img = heat_cells(h, mod, h->runs[c], &grey[mod * h->nruns + c], &empty);
            if (!img) {
                st = rw_fail(err, RW_ENOMEM, "out of memory");
                break;
            }
            h->empty[mod * h->nruns + c] = empty;
            snprintf(name, sizeof name, "%s.cells-%zu-%zu.png", stage->stem, c + 1, mod + 1);
            /* Plain fopen: the staging directory already makes it atomic, and
             * the file gets the umask's permissions. */
            char *path = gp_stage_path(stage, name);
            FILE *pf = path ? fopen(path, "wb") : NULL;
            if (!pf)
                st = rw_fail(err, RW_EIO, "cannot write %s", path ? path : name);
            else if ((st = png_write_rgb_stream(img, pf, err)) != RW_OK)
                fclose(pf);
            else if (rw_fclose_checked(pf) != 0)
                st = rw_fail(err, RW_EIO, "cannot write %s", path);
            free(path);
            image_free(img);
        }
    if (st != RW_OK) {
        free(grey);
        return st;
    }
    size_t ngrey = 0, groups = 0;
    char where[300] = "";
    for (size_t i = 0; i < nm * h->nruns; i++) {
        ngrey += grey[i];
        if (grey[i] && groups++ < 3) {
            size_t len = strlen(where);
            snprintf(where + len, sizeof where - len, "%s%s · %s: %zu", groups > 1 ? "; " : "",
                     m->sel.runs[h->runs[i % h->nruns]], m->sel.modules[i / h->nruns], grey[i]);
        }
    }
    free(grey);
    if (ngrey)
        fig_note(&h->notes, "Grey cells: %zu values that are nan or inf%s (%s%s).", ngrey,
                 o->logy == 1 ? " or not positive on the log scale" : "", where,
                 groups > 3 ? "; ..." : "");
    /* White cells: fewer rows than the grids have cells. */
    size_t cells = 0;
    for (size_t mod = 0; mod < nm; mod++)
        cells += h->nlayers[mod] * h->nsteps * h->nruns;
    if (m->nrows < cells)
        fig_note(&h->notes, "White cells: no value in the table for that layer and step.");
    if (m->ncond_rank)
        fig_note(&h->notes, "cond_rank (σ₁/σᵣ, r = num_rank) in place of cond in the panels "
                 "marked: their matrices are rank-deficient, where σ₁/σₖ is round-off.");

    char title[512];
    bool named;
    const char *subject = fig_subject(m->sel.updates, m->sel.comps, m->sel.data, &named);
    if (o->title)
        snprintf(title, sizeof title, "%s", o->title);
    else
        snprintf(title, sizeof title, "%s%s of the %s%s%s, per layer and step",
                 fig_metric_label(m->metric),
                 m->ncond_rank ? " (cond_rank where rank-deficient)" : "", subject,
                 o->component && !named ? ", component " : "",
                 o->component && !named ? o->component : "");
    fig_grid g = {0};
    g.rows = (int)nm;
    g.cols = (int)h->nruns;
    g.right = 130;
    g.w = o->width > 0 ? o->width : g.cols * 500 + g.right;
    if (o->width <= 0 && g.w < fig_text_width(title, FIG_FONT_TITLE) + 40)
        g.w = fig_text_width(title, FIG_FONT_TITLE) + 40;
    g.top = fig_title_height(title, g.w) + 4;
    g.bottom = fig_notes_height(&h->notes, g.w) + 8;
    g.h = o->height > 0 ? o->height : g.top + g.rows * 260 + g.bottom + 8;

    gp_terminal(f, fmt, g.w, g.h, stage->figure);
    fputs("set encoding utf8\nset multiplot\n"
          "set border 15 lc rgb '#303030'\nset tics out nomirror scale 0.6\nunset grid\n"
          "unset key\n", f);
    fig_palette_write(f, 1);
    fig_title_write(f, &g, title);
    fig_notes_write(f, &h->notes, &g);
    fig_labels_flush(f, &g);
    fputs("set border 15 lc rgb '#303030'\nset tics out nomirror scale 0.6\n", f);
    double ch = (double)(g.h - g.top - g.bottom) / g.rows;
    const int pad_l = 78, pad_r = 16, pad_t = 34;
    for (size_t mod = 0; mod < nm; mod++) {
        size_t nl = h->nlayers[mod];
        for (size_t c = 0; c < h->nruns; c++) {
            bool bottom = mod + 1 == nm, left = c == 0, last = c + 1 == h->nruns;
            int pad_b = bottom ? 58 : 44;
            snprintf(name, sizeof name, "%s.cells-%zu-%zu.png", stage->stem, c + 1, mod + 1);
            fprintf(f, "\n# ---- module %zu (", mod + 1);
            gp_quote(f, m->sel.modules[mod]);
            fprintf(f, "), run %zu (", c + 1);
            gp_quote(f, m->sel.runs[h->runs[c]]);
            fputs("): ", f);
            gp_quote(f, name);
            fputc('\n', f);
            fig_panel(f, &g, (int)mod, (int)c, pad_l, pad_r, pad_b, pad_t);
            char mt[300], pt[400];
            fig_module_title(mt, sizeof mt, m->sel.modules[mod], false);
            snprintf(pt, sizeof pt, "%s — %s%s", m->sel.runs[h->runs[c]], mt,
                     m->cond_rank && m->cond_rank[mod] ? " · cond_rank: rank-deficient" : "");
            fputs("set title ", f);
            gp_quote(f, pt);
            fputc('\n', f);
            /* x: the step itself when evenly spaced, else the checkpoint's index */
            double dx = h->uniform && h->nsteps > 1 ? (double)(h->steps[1] - h->steps[0]) : 1;
            double ox = h->uniform ? (double)h->steps[0] : 0;
            /* as many step labels as fit: digits of the last step, 8 px each */
            double xw = (double)(g.w - g.right) / g.cols - pad_l - pad_r;
            char lastx[32];
            int lw = snprintf(lastx, sizeof lastx, "%lld", (long long)h->steps[h->nsteps - 1]) * 8 + 12;
            int maxx = (int)(xw / lw) > 2 ? (int)(xw / lw) : 2;
            fprintf(f, "set xrange [%.17g:%.17g]\n", ox - dx / 2,
                    ox + dx * ((double)h->nsteps - 0.5));
            if (h->uniform) {
                double xs = gp_nice_step((double)h->steps[0], (double)h->steps[h->nsteps - 1],
                                         maxx);
                fprintf(f, "set xtics %.17g\nset format x '%%.0f'\n", xs < dx ? dx : xs);
            } else {
                index_tics(f, "x", h->steps, h->nsteps, maxx);
            }
            if (bottom)
                fprintf(f, "set xlabel '%s%s'\n", o->epochs ? "epoch" : "training step",
                        h->uniform ? "" : " (one column per checkpoint)");
            else
                fputs("unset xlabel\n", f);
            fputs(left ? "set ylabel 'layer'\n" : "unset ylabel\n", f);
            fprintf(f, "set yrange [-0.5:%zu.5]\n", nl ? nl - 1 : 0);
            int maxy = (int)((ch - pad_t - pad_b) / 22);
            if (nl == 1 && h->layers[mod][0] < 0)
                fputs("set ytics ('–' 0)\n", f); /* a tensor outside the layers */
            else
                index_tics(f, "y", h->layers[mod], nl, maxy > 1 ? maxy : 1);
            if (last) {
                double y0 = g.top + mod * ch + pad_t, y1 = g.top + (mod + 1) * ch - pad_b;
                fprintf(f, "set colorbox user origin screen %.5f, screen %.5f size screen %.5f, "
                           "screen %.5f\n", fig_sx(&g, g.w - g.right + 16), fig_sy(&g, y1),
                        fig_sx(&g, 16), (y1 - y0) / g.h);
                if (h->logc[mod]) {
                    fprintf(f, "set cbrange [%.10g:%.10g]\n", pow(10, h->lo[mod]),
                            pow(10, h->hi[mod]));
                    gp_log_tics(f, "cb", pow(10, h->lo[mod]), pow(10, h->hi[mod]));
                } else {
                    /* a label per 28 pixels of colour bar at most */
                    int maxt = (int)((y1 - y0) / 28) > 2 ? (int)((y1 - y0) / 28) : 2;
                    fprintf(f, "unset logscale cb\nset cbtics %.10g\nset format cb '%%g'\n"
                               "set cbrange [%.10g:%.10g]\n",
                            gp_nice_step(h->lo[mod], h->hi[mod], maxt), h->lo[mod], h->hi[mod]);
                }
                fputs("set cblabel ", f);
                gp_quote(f, short_label(plot_metric_of(m, (int)mod)));
                fputs(" offset 0.5,0\n", f);
            } else {
                fputs("unset colorbox\n", f);
            }
            snprintf(name, sizeof name, "%s.cells-%zu-%zu.png", stage->stem, c + 1, mod + 1);
            if (h->empty[mod * h->nruns + c])
                fputs("set label 1 'no values' at graph 0.5, graph 0.5 center\n", f);
            fputs("plot ", f);
            if (h->empty[mod * h->nruns + c]) {
                fputs("NaN notitle", f);
            } else {
                gp_quote(f, name);
                /* Vector formats get one rectangle per cell ("pixels"): viewers
                 * would smooth an embedded image. */
                /* origin: the centre of the bottom-left pixel */
                double rx = cell_rep(h->nsteps), ry = cell_rep(nl);
                fprintf(f, " binary filetype=png origin=(%.17g,%.17g) dx=%.17g dy=%.17g "
                           "with rgbimage%s notitle", ox - dx / 2 + dx / rx / 2,
                        -0.5 + 0.5 / ry, dx / rx, 1 / ry, fmt == RW_FIG_PNG ? "" : " pixels");
            }
            if (last)
                fputs(", NaN with lines lc palette notitle", f);
            fputc('\n', f);
            if (h->empty[mod * h->nruns + c])
                fputs("unset label 1\n", f);
        }
    }
    fputs("\nunset multiplot\n", f);
    return RW_OK;
}

rw_status plot_heatmap(const char *const *paths, size_t npaths, const rw_plot_opts *o,
                       rw_err *err)
{
    heat h = {.o = o};
    if (fig_format(o, err) < 0)
        return RW_EUSAGE;
    rw_status st = plot_metric_load(paths, npaths, o, &h.m, err);
    if (st != RW_OK)
        return st;
    if ((st = drop_single(&h, err)) == RW_OK && (st = heat_setup(&h, err)) == RW_OK)
        st = fig_render(o, "heatmap", h.m.sel.src, build, &h, err);
    for (size_t i = 0; h.layers && i < h.m.sel.nmodules; i++)
        free(h.layers[i]);
    free(h.layers);
    free(h.nlayers);
    free(h.steps);
    free(h.runs);
    free(h.lo);
    free(h.hi);
    free(h.logc);
    free(h.empty);
    fig_notes_free(&h.notes);
    plot_metric_free(&h.m);
    return st;
}
