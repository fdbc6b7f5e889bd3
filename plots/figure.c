/*
 * figure.c — labels, layout, notes and the figure driver (figure.h).
 */
#include "plots/figure.h"

#include "plots/palette.h"

#include "io/spectrum.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ labels */

static const struct {
    const char *metric, *label;
} metric_labels[] = {
    {"per", "proportional effective rank (PER)"},
    {"erank", "effective rank exp(H(σ/Σσ))"},
    {"stable_rank", "stable rank Σσᵢ²/σ₁²"},
    {"num_rank", "numerical rank"},
    {"entropy", "normalised spectral entropy"},
    {"cond", "condition number σ₁/σₖ"},
    {"cond_rank", "condition number σ₁/σᵣ (r = numerical rank)"},
    {"sigma_max", "largest singular value σ₁"},
    {"sigma_min", "smallest singular value σₖ"},
    {"fro", "Frobenius norm"},
    {"nuc", "nuclear norm Σσᵢ"},
    {"rel_update", "relative update size ‖ΔW‖/‖W‖ (Frobenius)"},
    {"gini", "Gini coefficient of |w|"},
    {"hoyer", "Hoyer sparsity"},
    {"max_abs", "largest |w|"},
    {"cka", "linear CKA with the target step"},
    {"pwcca", "PWCCA with the target step"},
};

const char *fig_metric_label(const char *metric)
{
    for (size_t i = 0; i < sizeof metric_labels / sizeof *metric_labels; i++)
        if (!strcmp(metric, metric_labels[i].metric))
            return metric_labels[i].label;
    return metric;
}

const char *fig_subject(bool updates, unsigned comps, const char *data, bool *named)
{
    unsigned lora = RW_COMP_BIT(RW_COMP_LORA), base = RW_COMP_BIT(RW_COMP_BASE);
    if (data) { /* gradients (train), activations (val): what the values are of */
        *named = true;
        return data;
    }
    *named = comps == lora || comps == base;
    if (comps == lora)
        return "LoRA updates s·B·A"; /* updates: each cycle's, s·B·A itself */
    if (comps == base)
        return updates ? "updates ΔW of the base weights W" : "base weights W";
    if (comps & lora)
        return updates ? "updates ΔW (s·B·A where only adapters are stored)"
                       : "weights (s·B·A where only adapters are stored)";
    return updates ? "updates ΔW" : "weights";
}

void fig_module_title(char *buf, size_t n, const char *module, bool with_name)
{
    static const struct {
        const char *module, *name;
    } names[] = {
        {"swiglu.w_0.weight", "SwiGLU W₀"},
        {"swiglu.w_1.weight", "SwiGLU W₁"},
        {"swiglu.w_2.weight", "SwiGLU W₂"},
        {"attention.q_proj.weight", "attention query projection"},
        {"attention.k_proj.weight", "attention key projection"},
        {"attention.v_proj.weight", "attention value projection"},
        {"attention.o_proj.weight", "attention output projection"},
        {"attention.ov", "OV circuit"},
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(module, names[i].module)) {
            if (with_name)
                snprintf(buf, n, "%s (%s)", names[i].name, module);
            else
                snprintf(buf, n, "%s", names[i].name);
            return;
        }
    snprintf(buf, n, "%s", module);
}

/* ------------------------------------------------------------------ layout */

double fig_sx(const fig_grid *g, double x)
{
    return x / g->w;
}

double fig_sy(const fig_grid *g, double y)
{
    return 1.0 - y / g->h;
}

void fig_panel(FILE *f, const fig_grid *g, int row, int col, int pad_l, int pad_r, int pad_b,
               int pad_t)
{
    double cw = (double)(g->w - g->right) / g->cols;
    double ch = (double)(g->h - g->top - g->bottom) / g->rows;
    double x0 = col * cw, y0 = g->top + row * ch;
    fprintf(f, "set lmargin at screen %.5f\nset rmargin at screen %.5f\n"
               "set tmargin at screen %.5f\nset bmargin at screen %.5f\n",
            fig_sx(g, x0 + pad_l), fig_sx(g, x0 + cw - pad_r), fig_sy(g, y0 + pad_t),
            fig_sy(g, y0 + ch - pad_b));
}

void fig_grid_shape(size_t n, int *rows, int *cols)
{
    if (n <= 3) {
        *rows = 1;
        *cols = n ? (int)n : 1;
        return;
    }
    int c = (int)ceil(sqrt((double)n));
    *cols = c;
    *rows = (int)((n + (size_t)c - 1) / (size_t)c);
}

/* ------------------------------------------------------------------- notes */

void fig_note(fig_notes *notes, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    char **v = realloc(notes->v, (notes->n + 1) * sizeof *v);
    if (!v)
        return; /* a note lost to memory exhaustion is not worth failing for */
    notes->v = v;
    if ((v[notes->n] = rw_strdup(buf)))
        notes->n++;
}

void fig_notes_free(fig_notes *notes)
{
    for (size_t i = 0; i < notes->n; i++)
        free(notes->v[i]);
    free(notes->v);
    notes->v = NULL;
    notes->n = 0;
}

#define NOTE_LINE 17
#define NOTE_PT (FIG_FONT - 1)

typedef void (*line_fn)(const char *s, size_t len, size_t line, void *ctx);

/* Calls fn for each line of text wrapped at spaces to w pixels at pt
 * points, numbering lines from *line on; returns the next line number. */
static size_t wrap_text(const char *s, int w, int pt, size_t line, line_fn fn, void *ctx)
{
    size_t maxc = (size_t)((w - 24) / (pt * 0.72));
    if (maxc < 20)
        maxc = 20;
    while (*s) {
        /* the longest prefix of at most maxc characters ending before a space */
        size_t chars = 0, cut = 0, b = 0;
        for (; s[b]; b++) {
            if (((unsigned char)s[b] & 0xc0) == 0x80)
                continue;
            if (chars == maxc)
                break;
            if (s[b] == ' ')
                cut = b;
            chars++;
        }
        if (!s[b] || cut == 0)
            cut = b;
        if (fn)
            fn(s, cut, line, ctx);
        line++;
        s += cut;
        while (*s == ' ')
            s++;
    }
    return line;
}

/* Calls fn for each line of the notes wrapped to the canvas width w;
 * returns the number of lines. */
static size_t notes_lines(const fig_notes *notes, int w, line_fn fn, void *ctx)
{
    size_t line = 0;
    for (size_t i = 0; i < notes->n; i++)
        line = wrap_text(notes->v[i], w, NOTE_PT, line, fn, ctx);
    return line;
}

int fig_notes_height(const fig_notes *notes, int w)
{
    size_t n = notes_lines(notes, w, NULL, NULL);
    return n ? (int)n * NOTE_LINE + 10 : 0;
}

typedef struct {
    FILE *f;
    const fig_grid *g;
} note_ctx;

static void note_line(const char *s, size_t len, size_t line, void *ctx)
{
    note_ctx *c = ctx;
    char *text = strndup(s, len);
    if (!text)
        return;
    double y = c->g->h - c->g->bottom + 4 + (line + 0.5) * NOTE_LINE;
    fputs("set label ", c->f);
    gp_quote(c->f, text);
    fprintf(c->f, " at screen %.5f, screen %.5f left front font ',%d' tc rgb '#444444'\n",
            fig_sx(c->g, 12), fig_sy(c->g, y), NOTE_PT);
    free(text);
}

void fig_notes_write(FILE *f, const fig_notes *notes, const fig_grid *g)
{
    note_ctx c = {f, g};
    notes_lines(notes, g->w, note_line, &c);
}

int fig_text_width(const char *text, int pt)
{
    size_t chars = 0;
    for (const unsigned char *c = (const unsigned char *)text; *c; c++)
        chars += (*c & 0xc0) != 0x80; /* UTF-8: count the first byte of each */
    return (int)(chars * pt * 0.72) + 1;
}

#define TITLE_LINE 21

int fig_title_height(const char *title, int w)
{
    if (!title || !*title)
        return 8;
    return (int)wrap_text(title, w, FIG_FONT_TITLE, 0, NULL, NULL) * TITLE_LINE + 15;
}

static void title_line(const char *s, size_t len, size_t line, void *ctx)
{
    note_ctx *c = ctx;
    char *text = strndup(s, len);
    if (!text)
        return;
    fputs("set label ", c->f);
    gp_quote(c->f, text);
    fprintf(c->f, " at screen 0.5, screen %.5f center front font ',%d'\n",
            fig_sy(c->g, 20 + line * TITLE_LINE), FIG_FONT_TITLE);
    free(text);
}

void fig_title_write(FILE *f, const fig_grid *g, const char *title)
{
    if (!title || !*title)
        return;
    note_ctx c = {f, g};
    wrap_text(title, g->w, FIG_FONT_TITLE, 0, title_line, &c);
}

void fig_legend_write(FILE *f, const fig_grid *g, int y0, int h, int ncols,
                      char *const *elements, size_t n)
{
    fprintf(f, "set lmargin at screen 0.02\nset rmargin at screen 0.98\n"
               "set tmargin at screen %.5f\nset bmargin at screen %.5f\n",
            fig_sy(g, y0), fig_sy(g, y0 + h));
    fprintf(f, "unset border\nunset tics\nunset xlabel\nunset ylabel\nunset title\n"
               "set xrange [0:1]\nset yrange [0:1]\n"
               "set key center center horizontal maxcols %d samplen 2.5 spacing 1.1 "
               "width 2 reverse Left noopaque nobox\n", ncols > 0 ? ncols : 1);
    fputs("plot ", f);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s%s", i ? ", \\\n     " : "", elements[i]);
    if (n == 0)
        fputs("NaN notitle", f);
    fputs("\nunset label\nset border\nset tics\nunset key\n", f);
}

int fig_width(const rw_plot_opts *o, int natural, const char *title)
{
    if (o->width > 0)
        return o->width;
    int tw = fig_text_width(title, FIG_FONT_TITLE) + 40;
    return natural < tw ? tw : natural;
}

void fig_begin(FILE *f, rw_figfmt fmt, const char *figure, const fig_grid *g,
               const char *title, const fig_notes *notes)
{
    gp_terminal(f, fmt, g->w, g->h, figure);
    fputs("set encoding utf8\nset multiplot\n", f);
    fig_title_write(f, g, title);
    fig_notes_write(f, notes, g);
}

void fig_labels_flush(FILE *f, const fig_grid *g)
{
    fig_legend_write(f, g, 0, 8, 1, NULL, 0);
}

/* ------------------------------------------------------------------ driver */

int fig_format(const rw_plot_opts *o, rw_err *err)
{
    const char *dot = strrchr(o->out, '.');
    const char *slash = strrchr(o->out, '/');
    int ext = dot && (!slash || dot > slash) ? rw_figfmt_parse(dot + 1) : -1;
    if (o->format >= 0) {
        if (ext >= 0 && ext != o->format) {
            rw_fail(err, RW_EUSAGE, "%s: the name says %s but --format says %s", o->out,
                    dot + 1, o->format == RW_FIG_PNG ? "png" : o->format == RW_FIG_PDF ? "pdf"
                                                                                      : "svg");
            return -1;
        }
        return o->format;
    }
    if (ext < 0)
        rw_fail(err, RW_EUSAGE, "%s: cannot tell the figure format from the name; end it in "
                "'.png', '.pdf' or '.svg', or give --format", o->out);
    return ext;
}

int rw_figfmt_parse(const char *name)
{
    static const char *const names[] = {"png", "pdf", "svg"};
    for (int i = 0; i < 3; i++)
        if (!strcasecmp(name, names[i]))
            return i;
    return -1;
}

rw_status fig_render(const rw_plot_opts *o, const char *what, const char *src,
                     fig_build_fn build, void *ctx, rw_err *err)
{
    const char *prog = o->prog ? o->prog : "rw-plot";
    int fmt = fig_format(o, err);
    if (fmt < 0)
        return RW_EUSAGE;
    char *gnuplot = NULL, *script = NULL, *script_path = NULL, *diag = NULL;
    gp_stage stage = {0};
    FILE *gp = NULL;
    rw_status st = RW_OK;
    if (!o->script_only && (st = gp_find(o->gnuplot, &gnuplot, err)) != RW_OK)
        goto fail;
    if ((st = gp_stage_open(&stage, o->out, err)) != RW_OK)
        goto fail;
    size_t n = strlen(stage.stem) + 4;
    if (!(script = malloc(n)))
        goto nomem;
    snprintf(script, n, "%s.gp", stage.stem);
    if (!(script_path = gp_stage_path(&stage, script)))
        goto nomem;
    if (!(gp = fopen(script_path, "w"))) {
        st = rw_fail(err, RW_EIO, "cannot write %s", script_path);
        goto fail;
    }
    fprintf(gp, "# rw-plot %s (rankwatch %s) from ", what, RW_VERSION);
    gp_quote(gp, src);
    fputs("\n# Redraw with `gnuplot ", gp);
    gp_quote(gp, script);
    fputs("` in this directory; the data files it reads are\n"
          "# beside it. Edit freely: rw-plot rewrites this file on every run.\n", gp);
    if ((st = build(ctx, &stage, gp, (rw_figfmt)fmt, err)) != RW_OK)
        goto fail;
    int bad = rw_fclose_checked(gp);
    gp = NULL;
    if (bad) {
        st = rw_fail(err, RW_EIO, "cannot write %s", script_path);
        goto fail;
    }
    if (!o->script_only) {
        if ((st = gp_run(gnuplot, stage.dir, script, &diag, err)) != RW_OK)
            goto fail;
        char *fig = gp_stage_path(&stage, stage.figure);
        if (!fig)
            goto nomem;
        st = gp_check_figure(fig, (rw_figfmt)fmt, err);
        free(fig);
        if (st != RW_OK)
            goto fail;
        for (char *l = diag; *l;) {
            size_t len = strcspn(l, "\n");
            if (len > 0)
                rw_warn(prog, "%s: gnuplot: %.*s", o->out, (int)len, l);
            l += len + (l[len] ? 1 : 0);
        }
    }
    if ((st = gp_stage_commit(&stage, !o->script_only, err)) != RW_OK)
        goto fail;
    goto done;
nomem:
    st = rw_fail(err, RW_ENOMEM, "out of memory");
fail:
    if (gp)
        fclose(gp);
    gp_stage_abort(&stage);
    if (st != RW_OK && strncmp(err->msg, o->out, strlen(o->out)) != 0)
        rw_err_prefix(err, "%s", o->out);
done:
    free(gnuplot);
    free(script);
    free(script_path);
    free(diag);
    return st;
}

void fig_palette_write(FILE *f, double top)
{
    /* Every 4th entry of the table up to top, and top itself: linear
     * interpolation between them stays within one 8-bit step of the table
     * (every 8th would be off by up to 2). */
    char c[8];
    int last = (int)lround(255 * (top > 0 && top < 1 ? top : 1));
    fputs("set palette maxcolors 0\nset palette defined (", f);
    for (int i = 0;; i += 4) {
        int k = i > last ? last : i;
        fprintf(f, "%s%.5f '%s'", i ? ", " : "", (double)k / last,
                gp_rgb(c, palette_viridis_table[k]));
        if (k == last)
            break;
    }
    fputs(")\n", f);
}
