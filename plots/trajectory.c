/*
 * trajectory.c — a metric against training step, one panel per module, runs
 * overlaid (plot.h).
 *
 * STEM.dat holds one gnuplot data block (index) per drawn series:
 *   mean mode:      step  mean  ci95_lo  ci95_hi  isolated  n
 *   per-layer mode: step  value  isolated  layer
 * The mean is geometric for scale-type metrics (rw_metric_kind_of: a line
 * "# mean: geometric ..." says so), the interval clipped to the metric's
 * range; a block whose module shows cond_rank in place of cond says
 * `metric 'cond_rank'` in its index line.
 * A single blank line inside a block is a gap (values that are nan or inf,
 * or not positive on a log axis, are left out and break the line there);
 * isolated = 1 marks a point with no drawn neighbour, drawn as a dot.
 */
#include "plots/figure.h"
#include "plots/palette.h"
#include "analyzers/tables/stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* One point of a series; y nan when it is not drawn. */
typedef struct {
    int64_t step;
    double y, lo, hi;
    size_t n;
} tpoint;

/* One line: a run's mean over layers in a module, or one layer's values. */
typedef struct {
    int module, run, layer;   /* layer -2: the mean over layers */
    tpoint *p;
    size_t n, cap;
    size_t bad;               /* points with a nan or inf value */
    int block;                /* its index in STEM.dat, -1 when nothing is drawn */
    bool isolated;            /* has a point drawn as a dot */
} tseries;

typedef struct {
    const rw_plot_opts *o;
    plot_metric m;
    tseries *s;
    size_t ns;
    bool logy;
    size_t nonpos;            /* values <= 0 left out of a log axis */
    bool clamped;             /* CI bands cut at a log axis' floor */
    rw_mean mean;             /* how layers are averaged */
    size_t clipped;           /* intervals clipped to the metric's range */
    int64_t xmin, xmax;
    int nlayers;              /* per-layer mode: 1 + the deepest layer */
    double *ylo, *yhi;        /* per module: the value axis (ylo > yhi: nothing drawn) */
    fig_notes notes;
} traj;

static int cmp_tpoint(const void *a, const void *b)
{
    const tpoint *x = a, *y = b;
    return (x->step > y->step) - (x->step < y->step);
}

static tseries *series_get(traj *t, int module, int run, int layer, rw_err *err)
{
    for (size_t i = 0; i < t->ns; i++)
        if (t->s[i].module == module && t->s[i].run == run && t->s[i].layer == layer)
            return &t->s[i];
    tseries *ns = rw_realloc(t->s, (t->ns + 1) * sizeof *ns, err);
    if (!ns)
        return NULL;
    t->s = ns;
    ns[t->ns] = (tseries){.module = module, .run = run, .layer = layer, .block = -1};
    return &ns[t->ns++];
}

static rw_status series_add(tseries *s, tpoint p, rw_err *err)
{
    if (rw_grow(&s->p, s->n, &s->cap, sizeof *s->p, err) != RW_OK)
        return RW_ENOMEM;
    s->p[s->n++] = p;
    return RW_OK;
}

/* Series of means: rw_aggregate once per component present (plain tensors
 * give "weight", adapted ones "full", the OV circuit "ov"). */
static rw_status build_means(traj *t, rw_err *err)
{
    plot_metric *m = &t->m;
    const char **comps = NULL;
    size_t ncomps = 0;
    rw_status st = RW_OK;
    for (size_t i = 0; i < m->nrows && st == RW_OK; i++) {
        size_t j = 0;
        while (j < ncomps && strcmp(comps[j], m->rows[i].component))
            j++;
        if (j < ncomps)
            continue;
        const char **nc = rw_realloc(comps, (ncomps + 1) * sizeof *nc, err);
        if (!nc) {
            st = RW_ENOMEM;
            break;
        }
        comps = nc;
        comps[ncomps++] = m->rows[i].component;
    }
    for (size_t c = 0; c < ncomps && st == RW_OK; c++) {
        rw_agg *a = NULL;
        size_t na = 0;
        if ((st = rw_aggregate(m->t, m->metric, comps[c], t->mean, &t->o->ci, &a, &na, err)) !=
            RW_OK)
            break;
        rw_metric_kind kind = rw_metric_kind_of(m->metric);
        for (size_t i = 0; i < na && st == RW_OK; i++) {
            long run = plot_index(m->sel.runs, m->sel.nruns, a[i].run);
            long mod = plot_index(m->sel.modules, m->sel.nmodules, a[i].module);
            tseries *s = run >= 0 && mod >= 0 ? series_get(t, (int)mod, (int)run, -2, err) : NULL;
            if (!s) {
                st = run >= 0 && mod >= 0 ? RW_ENOMEM : rw_fail(err, RW_EDATA, "aggregate lost");
                break;
            }
            tpoint p = {a[i].step, a[i].s.mean, a[i].s.lo, a[i].s.hi, a[i].s.n};
            /* an interval that reaches outside what the metric can be */
            if (p.lo < kind.lo || p.hi > kind.hi) {
                t->clipped++;
                p.lo = fmax(p.lo, kind.lo);
                p.hi = fmin(p.hi, kind.hi);
            }
            st = series_add(s, p, err);
        }
        rw_agg_free(a, na);
    }
    free(comps);
    return st;
}

static rw_status build_layers(traj *t, rw_err *err)
{
    plot_metric *m = &t->m;
    for (size_t i = 0; i < m->nrows; i++) {
        const plot_row *r = &m->rows[i];
        int layer = r->layer < 0 ? 0 : r->layer;
        if (layer + 1 > t->nlayers)
            t->nlayers = layer + 1;
        tseries *s = series_get(t, r->module, r->run, layer, err);
        if (!s || series_add(s, (tpoint){r->step, r->v, r->v, r->v, 1}, err) != RW_OK)
            return RW_ENOMEM;
    }
    return RW_OK;
}

/* Whether the drawn values ask for a log axis: all positive and spanning
 * more than two decades. */
static bool want_log(const traj *t)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < t->ns; i++)
        for (size_t j = 0; j < t->s[i].n; j++) {
            double y = t->s[i].p[j].y;
            if (!isfinite(y))
                continue;
            if (y <= 0)
                return false;
            lo = fmin(lo, y);
            hi = fmax(hi, y);
        }
    return lo < hi && hi / lo > 100;
}

/* Sorts each series, marks what is not drawn, and settles the axes. */
static void settle(traj *t)
{
    t->logy = t->o->logy == 1 || (t->o->logy < 0 && want_log(t));
    t->xmin = INT64_MAX;
    t->xmax = INT64_MIN;
    for (size_t i = 0; i < t->ns; i++) {
        tseries *s = &t->s[i];
        qsort(s->p, s->n, sizeof *s->p, cmp_tpoint);
        for (size_t j = 0; j < s->n; j++) {
            tpoint *p = &s->p[j];
            t->xmin = p->step < t->xmin ? p->step : t->xmin;
            t->xmax = p->step > t->xmax ? p->step : t->xmax;
            if (!isfinite(p->y)) {
                s->bad++;
                p->y = NAN;
            } else if (t->logy && p->y <= 0) {
                t->nonpos++;
                p->y = NAN;
            }
            if (!isfinite(p->lo) || !isfinite(p->hi))
                p->lo = p->hi = p->y;
        }
    }
}

/* The drawn range of one panel's values (lo/hi of bands included); false
 * when it has none. */
static bool panel_range(const traj *t, int module, double *lo, double *hi)
{
    double a = INFINITY, b = -INFINITY, floor_pos = INFINITY;
    for (size_t i = 0; i < t->ns; i++) {
        const tseries *s = &t->s[i];
        if (s->module != module)
            continue;
        for (size_t j = 0; j < s->n; j++) {
            const tpoint *p = &s->p[j];
            if (isnan(p->y))
                continue;
            a = fmin(a, fmin(p->y, p->lo));
            b = fmax(b, fmax(p->y, p->hi));
            floor_pos = fmin(floor_pos, p->y);
            if (p->lo > 0)
                floor_pos = fmin(floor_pos, p->lo);
        }
    }
    if (!(a <= b))
        return false;
    if (t->logy) {
        a = floor_pos;
        double pad = pow(b / a, 0.04);
        if (pad < 1.15)
            pad = 1.15;
        *lo = a / pad;
        *hi = b * pad;
    } else {
        /* At least 1e-6 of the values' size: a range narrower than that
         * (values equal but for round-off, per = 0.2 and 0.2000000000000017)
         * prints as one number in the script's %.10g, and gnuplot refuses an
         * empty y range. */
        double pad = (b - a) * 0.05, mag = fmax(fabs(a), fabs(b));
        if (pad < mag * 1e-6)
            pad = b - a > 0 ? mag * 1e-6 : mag * 0.05;
        if (pad == 0)
            pad = 0.05;
        *lo = a - pad;
        *hi = b + pad;
    }
    return true;
}

/* ------------------------------------------------------------------ output */

static rw_status write_data(traj *t, const gp_stage *st, const char *name, rw_err *err)
{
    char *path = gp_stage_path(st, name);
    FILE *f = path ? fopen(path, "w") : NULL;
    if (!f) {
        rw_status s = rw_fail(err, RW_EIO, "cannot write %s", path ? path : name);
        free(path);
        return s;
    }
    bool per_layer = t->o->per_layer;
    fprintf(f, per_layer ? "# step\tvalue\tisolated\tlayer\n"
                         : "# step\tmean\tci95_lo\tci95_hi\tisolated\tn\n");
    bool boot = t->o->ci.ci == RW_CI_BOOTSTRAP;
    if (!per_layer && boot)
        fprintf(f, "# mean: %s mean over layers; ci95: 95%% percentile bootstrap of it (%d "
                "resamples of the layers, seed %llu)\n", t->mean == RW_MEAN_GEO ? "geometric"
                : "arithmetic", RW_BOOT_N, (unsigned long long)t->o->ci.seed);
    else if (!per_layer && t->mean == RW_MEAN_GEO)
        fputs("# mean: geometric mean over layers; ci95: exp of the 95% t-interval of ln "
              "values\n", f);
    int block = 0;
    for (int mod = 0; mod < (int)t->m.sel.nmodules; mod++)
        for (size_t i = 0; i < t->ns; i++) {
            tseries *s = &t->s[i];
            if (s->module != mod)
                continue;
            size_t drawn = 0;
            for (size_t j = 0; j < s->n; j++)
                drawn += !isnan(s->p[j].y);
            if (!drawn)
                continue;
            s->block = block++;
            fprintf(f, "%s# index %d: module ", s->block ? "\n\n" : "", s->block);
            gp_quote(f, t->m.sel.modules[mod]);
            fputs(", run ", f);
            gp_quote(f, t->m.sel.runs[s->run]);
            if (s->layer >= 0)
                fprintf(f, ", layer %d", s->layer);
            if (t->m.cond_rank && t->m.cond_rank[mod])
                fputs(", metric 'cond_rank'", f);
            fputc('\n', f);
            bool gap = false;
            for (size_t j = 0; j < s->n; j++) {
                tpoint *p = &s->p[j];
                if (isnan(p->y)) {
                    gap = true;
                    continue;
                }
                bool prev = j > 0 && !isnan(s->p[j - 1].y);
                bool next = j + 1 < s->n && !isnan(s->p[j + 1].y);
                bool iso = !prev && !next;
                s->isolated |= iso;
                if (gap)
                    fputc('\n', f);
                gap = false;
                double lo = p->lo, hi = p->hi;
                if (t->logy && lo <= 0) {
                    lo = t->ylo[mod]; /* cut at the axis floor */
                    t->clamped = true;
                }
                fprintf(f, "%lld\t", (long long)p->step);
                gp_num(f, p->y);
                if (per_layer) {
                    fprintf(f, "\t%d\t%d\n", iso, s->layer);
                } else {
                    fputc('\t', f);
                    gp_num(f, lo);
                    fputc('\t', f);
                    gp_num(f, hi);
                    fprintf(f, "\t%d\t%zu\n", iso, p->n);
                }
            }
        }
    bool bad = rw_fclose_checked(f) != 0;
    rw_status s = bad ? rw_fail(err, RW_EIO, "cannot write %s", path) : RW_OK;
    free(path);
    return s;
}

/* "relora · attention.ov: 3; full-rank · swiglu.w_2.weight: 1; ..." — where
 * the bad values are, per (run, module). */
static void where_bad(const traj *t, char *buf, size_t n)
{
    buf[0] = '\0';
    size_t shown = 0, more = 0;
    for (size_t i = 0; i < t->ns; i++) {
        const tseries *s = &t->s[i];
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = t->s[j].bad && t->s[j].run == s->run && t->s[j].module == s->module;
        if (!s->bad || seen)
            continue;
        size_t bad = 0;
        for (size_t j = i; j < t->ns; j++)
            if (t->s[j].run == s->run && t->s[j].module == s->module)
                bad += t->s[j].bad;
        if (shown == 3) {
            more++;
            continue;
        }
        size_t len = strlen(buf);
        snprintf(buf + len, n - len, "%s%s · %s: %zu", shown ? "; " : "", t->m.sel.runs[s->run],
                 t->m.sel.modules[s->module], bad);
        shown++;
    }
    if (more) {
        size_t len = strlen(buf);
        snprintf(buf + len, n - len, "; and %zu more", more);
    }
}

/* The most layers any drawn mean averages. */
static size_t max_layers(const traj *t)
{
    size_t maxn = 0;
    for (size_t i = 0; i < t->ns; i++)
        for (size_t j = 0; j < t->s[i].n; j++)
            maxn = t->s[i].p[j].n > maxn ? t->s[i].p[j].n : maxn;
    return maxn;
}

/* An end of a metric's range as text: "0", "1", "∞", "−∞". */
static const char *range_end(char *buf, size_t n, double v)
{
    if (isinf(v))
        snprintf(buf, n, "%s", v > 0 ? "∞" : "−∞");
    else
        snprintf(buf, n, "%g", v);
    return buf;
}

static void make_notes(traj *t)
{
    char where[400];
    if (t->o->per_layer) {
        size_t bad = 0;
        for (size_t i = 0; i < t->ns; i++)
            bad += t->s[i].bad;
        if (bad) {
            where_bad(t, where, sizeof where);
            fig_note(&t->notes, "Not drawn: %zu of %zu per-layer values are nan or inf (%s).",
                     bad, t->m.nrows, where);
        }
    } else {
        size_t bad = 0, pts = 0;
        for (size_t i = 0; i < t->ns; i++) {
            bad += t->s[i].bad;
            pts += t->s[i].n;
        }
        if (t->m.nonfinite)
            fig_note(&t->notes, "%zu of %zu per-layer values are nan or inf: nan ones are left "
                     "out of the means, inf ones make the mean inf.", t->m.nonfinite,
                     t->m.nrows);
        if (bad) {
            where_bad(t, where, sizeof where);
            fig_note(&t->notes, "Not drawn: %zu of %zu means are nan or inf (%s).", bad, pts,
                     where);
        }
    }
    if (t->nonpos)
        fig_note(&t->notes, "Not drawn: %zu values <= 0 on the log axis.", t->nonpos);
    bool boot = t->o->ci.ci == RW_CI_BOOTSTRAP;
    if (!t->o->per_layer && boot && max_layers(t) > 1)
        fig_note(&t->notes, "%s over layers%s; its 95%% CI is the percentile bootstrap of "
                 "that mean (%d resamples of the layers with replacement, seed %llu), as "
                 "seaborn's errorbar=(\"ci\", 95).", t->mean == RW_MEAN_GEO ?
                 "Geometric mean" : "Mean", t->o->groups ? " (of each layer group)" : "",
                 RW_BOOT_N, (unsigned long long)t->o->ci.seed);
    else if (!t->o->per_layer && t->mean == RW_MEAN_GEO && max_layers(t) > 1)
        fig_note(&t->notes, "Geometric mean over layers (%s varies by factors between layers); "
                 "its 95%% CI is the t-interval of the layers' ln values, exponentiated.",
                 t->m.metric);
    if (t->clipped) {
        rw_metric_kind k = rw_metric_kind_of(t->m.metric);
        char lo[32], hi[32];
        fig_note(&t->notes, "95%% CI clipped to %s's range %s%s, %s%s (at %zu points).",
                 t->m.metric, isinf(k.lo) ? "(" : "[", range_end(lo, sizeof lo, k.lo),
                 range_end(hi, sizeof hi, k.hi), isinf(k.hi) ? ")" : "]", t->clipped);
    }
    if (t->m.ncond_rank)
        fig_note(&t->notes, "cond_rank in place of cond in %zu of %zu panels (marked): their "
                 "matrices are rank-deficient (num_rank < k: low-rank updates, LoRA, OV "
                 "circuits under GQA), where σ₁/σₖ is round-off. σ₁/σᵣ, r = num_rank, equals "
                 "σ₁/σₖ for the matrices of full rank.", t->m.ncond_rank, t->m.sel.nmodules);
    if (t->clamped)
        fig_note(&t->notes, "Where a 95%% CI reaches 0 or below, its band is cut at the foot of "
                 "the log axis.");
}

static void default_title(const traj *t, char *buf, size_t n)
{
    const rw_plot_opts *o = t->o;
    char comp[64] = "";
    bool named;
    const char *subject = fig_subject(t->m.sel.updates, t->m.sel.comps, t->m.sel.data, &named);
    if (o->component && !named)
        snprintf(comp, sizeof comp, " (component %s)", o->component);
    /* "mean over layers" only where there is more than one layer to average */
    size_t maxn = max_layers(t);
    bool geo = t->mean == RW_MEAN_GEO;
    snprintf(buf, n, "%s%s of the %s%s%s%s", fig_metric_label(t->m.metric),
             t->m.ncond_rank ? " (cond_rank where rank-deficient)" : "", subject, comp,
             o->per_layer || maxn > 1 ? " — " : "",
             o->per_layer ? "one line per layer"
             : maxn > 1   ? (t->o->ci.ci == RW_CI_BOOTSTRAP
                                 ? (geo ? "geometric mean over layers with 95% bootstrap CI"
                                        : "mean over layers with 95% bootstrap CI")
                                 : geo ? "geometric mean over layers with 95% CI"
                                       : "mean over layers with 95% CI")
                          : "");
}

/* Entries of the legend: the runs drawn (colour), or in per-layer mode the
 * runs' dash patterns. */
static size_t legend_entries(const traj *t, char ***out)
{
    char **v = calloc(t->m.sel.nruns ? t->m.sel.nruns : 1, sizeof *v);
    size_t n = 0;
    for (size_t r = 0; v && r < t->m.sel.nruns; r++) {
        bool drawn = false;
        for (size_t i = 0; i < t->ns && !drawn; i++)
            drawn = t->s[i].run == (int)r && t->s[i].block >= 0;
        if (!drawn)
            continue;
        char c[8];
        char *q = gp_quoted(t->m.sel.runs[r]);
        size_t len = (q ? strlen(q) : 0) + 128;
        char *e = q ? malloc(len) : NULL;
        if (!e) {
            free(q);
            break;
        }
        if (t->o->per_layer)
            snprintf(e, len, "NaN with lines lw 2 dt %d lc rgb '#333333' title %s", (int)r + 1, q);
        else
            snprintf(e, len, "NaN with lines lw 2.5 dt %d lc rgb '%s' title %s",
                     palette_run_dash(r), gp_rgb(c, palette_run(r)), q);
        free(q);
        v[n++] = e;
    }
    *out = v;
    return n;
}

static rw_status build(void *ctx, const gp_stage *stage, FILE *f, rw_figfmt fmt, rw_err *err)
{
    traj *t = ctx;
    const rw_plot_opts *o = t->o;
    size_t np = t->m.sel.nmodules;
    char data[1024];
    snprintf(data, sizeof data, "%s.dat", stage->stem);
    rw_status st = write_data(t, stage, data, err);
    if (st != RW_OK)
        return st;
    make_notes(t);

    char **legend = NULL;
    size_t nleg = legend_entries(t, &legend);
    int legcols = nleg < 4 ? (int)nleg : 4;
    int legrows = nleg ? (int)((nleg + (size_t)legcols - 1) / (size_t)legcols) : 0;
    char title[512];
    if (o->title)
        snprintf(title, sizeof title, "%s", o->title);
    else
        default_title(t, title, sizeof title);

    fig_grid g = {0};
    fig_grid_shape(np, &g.rows, &g.cols);
    g.right = o->per_layer ? 110 : 0;
    g.w = o->width > 0 ? o->width : g.cols * 560 + g.right;
    if (o->width <= 0 && g.w < fig_text_width(title, FIG_FONT_TITLE) + 40)
        g.w = fig_text_width(title, FIG_FONT_TITLE) + 40;
    int title_h = fig_title_height(title, g.w);
    g.top = title_h + legrows * 24 + 6;
    g.bottom = fig_notes_height(&t->notes, g.w) + 8;
    g.h = o->height > 0 ? o->height : g.top + g.rows * 400 + g.bottom;

    gp_terminal(f, fmt, g.w, g.h, stage->figure);
    fputs("set encoding utf8\nset multiplot\n", f);
    fputs(o->per_layer ? "" : "set style fill transparent solid 0.22 noborder\n", f);
    fputs("set border 3 lc rgb '#303030'\nset tics nomirror out scale 0.6\n"
          "set grid back lc rgb '#e4e4e4' lw 1 dt 1\nset mxtics default\nunset colorbox\n", f);
    fig_title_write(f, &g, title);
    fig_notes_write(f, &t->notes, &g);
    fig_legend_write(f, &g, title_h, legrows * 24, legcols, legend, nleg);
    for (size_t i = 0; i < nleg; i++)
        free(legend[i]);
    free(legend);

    if (o->per_layer) {
        fig_palette_write(f, 0.9);
        /* layers are whole numbers: tics at whole numbers only */
        double cs = gp_nice_step(0, t->nlayers - 1, 6);
        fprintf(f, "set cbrange [-0.5:%g]\nset cblabel 'layer (depth)'\n"
                   "set cbtics 0, %g\n", t->nlayers - 0.5, cs < 1 ? 1 : ceil(cs));
    }
    int64_t x0 = t->xmin, x1 = t->xmax;
    if (x0 == x1) {
        x0 -= 1;
        x1 += 1;
    }
    for (size_t p = 0; p < np; p++) {
        int row = (int)p / g.cols, col = (int)p % g.cols;
        bool bottom = p + (size_t)g.cols >= np, left = col == 0;
        fprintf(f, "\n# ---- panel %zu: ", p + 1);
        gp_quote(f, t->m.sel.modules[p]);
        fputc('\n', f);
        fig_panel(f, &g, row, col, left ? 92 : 66, 40, bottom ? 56 : 42, 34);
        char mt[256];
        /* a panel of cond_rank says so, in place of the module's own name */
        bool crank = t->m.cond_rank && t->m.cond_rank[p];
        fig_module_title(mt, sizeof mt, t->m.sel.modules[p], !crank);
        if (crank) {
            size_t len = strlen(mt);
            snprintf(mt + len, sizeof mt - len, " — cond_rank: rank-deficient");
        }
        fputs("set title ", f);
        gp_quote(f, mt);
        fputc('\n', f);
        double cw = (double)(g.w - g.right) / g.cols - (left ? 92 : 66) - 40;
        double xs = gp_nice_step((double)x0, (double)x1, (int)(cw / 95) > 2 ? (int)(cw / 95) : 2);
        if (xs < 1)
            xs = 1;
        /* Start at a tic when that costs less than one tic interval (updates
         * begin at the second checkpoint, yet read best against step 0). */
        double xa = floor((double)x0 / xs) * xs;
        fprintf(f, "set xrange [%.17g:%lld]\nset xtics %.17g\nset format x '%%.0f'\n", xa,
                (long long)x1, xs);
        fputs(!bottom ? "unset xlabel\n" : o->epochs ? "set xlabel 'epoch'\n"
                                                      : "set xlabel 'training step'\n", f);
        if (left) {
            fputs("set ylabel ", f);
            gp_quote(f, fig_metric_label(plot_metric_of(&t->m, (int)p)));
            fputc('\n', f);
        } else {
            fputs("unset ylabel\n", f);
        }
        if (o->per_layer && p + 1 == np) {
            fprintf(f, "set colorbox user origin screen %.5f, screen %.5f size screen %.5f, "
                       "screen %.5f\n", fig_sx(&g, g.w - g.right + 14), fig_sy(&g, g.h - g.bottom - 60),
                    fig_sx(&g, 18), (g.h - g.top - g.bottom - 90) / (double)g.h);
        }
        double lo = t->ylo[p], hi = t->yhi[p];
        if (!(lo < hi)) {
            fputs("unset logscale y\nset yrange [0:1]\nset ytics autofreq\nset format y ''\n"
                  "set label 1 'no finite values' at graph 0.5, graph 0.5 center\n"
                  "plot NaN notitle\nunset label 1\nset format y '%g'\n", f);
            continue;
        }
        if (t->logy) {
            gp_log_tics(f, "y", lo, hi);
        } else {
            fputs("unset logscale y\nset ytics autofreq\nset format y '%g'\n", f);
        }
        fprintf(f, "set yrange [%.10g:%.10g]\n", lo, hi);
        fputs("plot ", f);
        bool first = true;
        for (size_t i = 0; i < t->ns; i++) {
            tseries *s = &t->s[i];
            if (s->module != (int)p || s->block < 0)
                continue;
            char c[8];
            const char *sep = first ? "" : ", \\\n     ";
            first = false;
            if (o->per_layer) {
                fputs(sep, f);
                gp_quote(f, data);
                fprintf(f, " index %d using 1:2:4 with lines lw 1.5 dt %d lc palette notitle",
                        s->block, s->run + 1);
                if (s->isolated)
                    fprintf(f, ", \\\n     '' index %d using 1:($3>0?$2:1/0):4 with points pt 7 "
                               "ps 0.5 lc palette notitle", s->block);
                continue;
            }
            gp_rgb(c, palette_run((size_t)s->run));
            fputs(sep, f);
            gp_quote(f, data);
            fprintf(f, " index %d using 1:3:4 with filledcurves lc rgb '%s' notitle, \\\n"
                       "     '' index %d using 1:2 with lines lw 2.5 dt %d lc rgb '%s' notitle",
                    s->block, c, s->block, palette_run_dash((size_t)s->run), c);
            if (s->isolated)
                fprintf(f, ", \\\n     '' index %d using 1:($5>0?$2:1/0) with points pt 7 ps 0.6 "
                           "lc rgb '%s' notitle", s->block, c);
        }
        if (first)
            fputs("NaN notitle", f);
        fputs("\n", f);
        if (o->per_layer && p + 1 == np)
            fputs("unset colorbox\n", f);
    }
    fputs("\nunset multiplot\n", f);
    return RW_OK;
}

rw_status plot_trajectory(const char *const *paths, size_t npaths, const rw_plot_opts *o,
                          rw_err *err)
{
    traj t = {.o = o};
    if (fig_format(o, err) < 0)
        return RW_EUSAGE;
    rw_status st = plot_metric_load(paths, npaths, o, &t.m, err);
    if (st != RW_OK)
        return st;
    t.mean = o->mean == RW_PLOT_MEAN_GEO     ? RW_MEAN_GEO
             : o->mean == RW_PLOT_MEAN_ARITH ? RW_MEAN_ARITH
                                             : rw_metric_kind_of(t.m.metric).mean;
    st = o->per_layer ? build_layers(&t, err) : build_means(&t, err);
    size_t nm = t.m.sel.nmodules;
    if (st == RW_OK && (!(t.ylo = rw_calloc(nm, sizeof *t.ylo, err)) ||
                        !(t.yhi = rw_calloc(nm, sizeof *t.yhi, err))))
        st = RW_ENOMEM;
    if (st == RW_OK) {
        settle(&t);
        for (size_t mod = 0; mod < nm; mod++)
            if (!panel_range(&t, (int)mod, &t.ylo[mod], &t.yhi[mod]))
                t.ylo[mod] = 1, t.yhi[mod] = 0;
        st = fig_render(o, "trajectory", t.m.sel.src, build, &t, err);
    }
    free(t.ylo);
    free(t.yhi);
    for (size_t i = 0; i < t.ns; i++)
        free(t.s[i].p);
    free(t.s);
    fig_notes_free(&t.notes);
    plot_metric_free(&t.m);
    return st;
}
