/*
 * figure.h — what the three kinds of figure share: axis labels and panel
 * titles, the grid of panels on the canvas, notes at the foot of a figure,
 * and the driver that stages the files, runs gnuplot and puts everything in
 * place.
 *
 * Canvas geometry is in pixels (PDF: points) from the top-left corner; the
 * script receives it as screen fractions.
 *
 * Ownership: the notes own their strings (fig_notes_free); labels returned
 * as const char * are static or the caller's own argument; everything
 * fig_render stages is its own, removed or put in place before it returns.
 */
#ifndef RW_FIGURE_H
#define RW_FIGURE_H

#include "plots/gnuplot.h"
#include "plots/plot_data.h"

#include <stdio.h>

/* Sizes of the figures' text, in points; the canvas is laid out with them. */
#define FIG_FONT 12      /* tics, labels, keys */
#define FIG_FONT_TITLE 14

/* ------------------------------------------------------------------ labels */

/* The axis label of a metric column: "proportional effective rank (PER)",
 * "condition number σ₁/σₖ", ... (static strings); metric itself when
 * unknown (so valid as long as the caller's string). */
const char *fig_metric_label(const char *metric);
/* A panel title for a module: "SwiGLU W₂ (swiglu.w_2.weight)" for the ones
 * the paper names ("SwiGLU W₂" without with_name), the module itself
 * otherwise. */
void fig_module_title(char *buf, size_t n, const char *module, bool with_name);

/* What a figure's values are of, for its title (a static string): "weights"
 * or "updates ΔW", unless the rows drawn (comps: plot_sel.comps) are all of
 * one adapter component, whose matrix it names then — lora: "LoRA updates
 * s·B·A" (of weights and updates alike: lora's update is s·B·A itself, its
 * cycle's, as it is an adapter-only checkpoint's default); base: "base weights W"
 * or "updates ΔW of the base weights W" — or mix lora with others (adapter-only
 * runs beside full ones): "... (s·B·A where only adapters are stored)". Sets
 * *named when the string names the component, so that a title need not.
 * Values not of weights (data: plot_sel.data, "gradients (train)",
 * "activations (val)") are named by it instead (borrowed: returned as is). */
const char *fig_subject(bool updates, unsigned comps, const char *data, bool *named);

/* ------------------------------------------------------------------ layout */

typedef struct {
    int w, h;          /* canvas */
    int top;           /* band above the panels: title, legend */
    int bottom;        /* band below the panels: notes */
    int right;         /* strip right of the panels: colour bars */
    int rows, cols;    /* panels */
} fig_grid;

/* Writes `set l/r/b/tmargin at screen ...` placing the plot area of panel
 * (row, col) inside its cell, inset by pad_* pixels for tics and labels. */
void fig_panel(FILE *f, const fig_grid *g, int row, int col, int pad_l, int pad_r, int pad_b,
               int pad_t);
/* Screen fractions of a pixel position (x from the left, y from the top). */
double fig_sx(const fig_grid *g, double x);
double fig_sy(const fig_grid *g, double y);

/* Rows x cols for n panels: one row up to three, then near-square. */
void fig_grid_shape(size_t n, int *rows, int *cols);

/* --------------------------------------------------------------- notes */

/* Lines printed at the foot of a figure; v and its strings owned, freed
 * by fig_notes_free. A zeroed struct is empty. */
typedef struct {
    char **v;
    size_t n;
} fig_notes;

/* Appends a formatted line (copied; silently dropped when out of memory). */
void fig_note(fig_notes *notes, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fig_notes_free(fig_notes *notes);
/* Pixels the notes need at the foot of a canvas w pixels wide (they are
 * wrapped to its width). */
int fig_notes_height(const fig_notes *notes, int w);
/* Writes them as screen labels in the bottom band, wrapped. */
void fig_notes_write(FILE *f, const fig_notes *notes, const fig_grid *g);
/* About how many pixels text takes at pt points in the figures' font (an
 * overestimate for most text: for sizing canvases, not placing). */
int fig_text_width(const char *text, int pt);
/* Pixels the title needs at the top of a canvas w pixels wide (it is
 * wrapped to its width); 8 for none. */
int fig_title_height(const char *title, int w);
/* The figure's title on the top band, wrapped (nothing for an empty title). */
void fig_title_write(FILE *f, const fig_grid *g, const char *title);
/* A legend in its own strip of the top band (y0..y0+h pixels from the top):
 * one entry per series, each given as a gnuplot plot element with a title
 * (e.g. "NaN with lines lw 2 lc rgb '#0072b2' title 'relora'"). Ends with the
 * plot command, leaving the margins and ranges reset for the next panel. */
void fig_legend_write(FILE *f, const fig_grid *g, int y0, int h, int ncols,
                      char *const *elements, size_t n);

/* `set palette` to viridis (palette.h) from its start up to top (0 < top
 * <= 1; lines stop short of its pale yellow end). */
void fig_palette_write(FILE *f, double top);

/* The canvas width: o->width when given, else natural widened to the
 * title's width. */
int fig_width(const rw_plot_opts *o, int natural, const char *title);
/* The script's start: the terminal for figure (its file name), multiplot
 * mode, the title and the notes. */
void fig_begin(FILE *f, rw_figfmt fmt, const char *figure, const fig_grid *g,
               const char *title, const fig_notes *notes);

/* Draws the labels set so far (title, notes) once, on an empty plot, and
 * unsets them: in multiplot mode a label stays for every later plot. */
void fig_labels_flush(FILE *f, const fig_grid *g);

/* ------------------------------------------------------------------ driver */

/* Builds one figure: writes its data files (gp_stage_path) and its script
 * to gp, starting with gp_terminal for s->figure. */
typedef rw_status (*fig_build_fn)(void *ctx, const gp_stage *s, FILE *gp, rw_figfmt fmt,
                                  rw_err *err);

/* Resolves the format (o->format, else the extension of o->out), finds
 * gnuplot, stages the files, calls build, runs gnuplot on the script
 * (relaying its warnings as "PROG: OUT: gnuplot: ...") and puts the files in
 * place. what names the figure kind in the script's header. */
rw_status fig_render(const rw_plot_opts *o, const char *what, const char *src,
                     fig_build_fn build, void *ctx, rw_err *err);

/* The format fig_render would use, or -1 (with err set) when unknown. */
int fig_format(const rw_plot_opts *o, rw_err *err);

#endif
