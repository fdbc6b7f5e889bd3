/*
 * gnuplot.h — driving gnuplot: finding it, running a script with its
 * diagnostics captured, staging a figure's files so that they appear
 * together, and the small pieces of gnuplot syntax the figures share.
 *
 * Ownership: functions that return a "new string" give it to the caller,
 * who frees it; a gp_stage owns its strings and directory until
 * gp_stage_commit or gp_stage_abort.
 */
#ifndef RW_GNUPLOT_H
#define RW_GNUPLOT_H

#include "plots/plot.h"

#include <stdio.h>

/* ---------------------------------------------------------------- running */

/* The gnuplot to run: prog if given, else $RW_GNUPLOT, else "gnuplot"; a
 * name without '/' is looked up in PATH. *path is a new string (caller
 * frees). RW_ENOTFOUND with a message saying how to get one. */
rw_status gp_find(const char *prog, char **path, rw_err *err);

/* Runs `gnuplot -d script` (no init files) in directory dir, stdin and
 * stdout closed, and returns in *diag what it wrote on stderr (new string,
 * "" when silent; caller frees). RW_EDATA with the first line of stderr
 * when gnuplot exits non-zero; RW_EIO when it cannot be started. */
rw_status gp_run(const char *gnuplot, const char *dir, const char *script, char **diag,
                 rw_err *err);

/* ---------------------------------------------------------------- staging */

/* A figure's files are written into a temporary directory next to the
 * figure (`.FIG.rwPID.XXXXXX`, registered in tmpfiles.h: removed on a
 * signal, or by a later run when this one was killed), then renamed into
 * place: data files and script first, the figure last. */
typedef struct {             /* every string owned by the stage */
    char *dir;      /* the temporary directory */
    char *outdir;   /* where the files go */
    char *figure;   /* the figure's file name (no directory) */
    char *stem;     /* the figure's name without extension: STEM.gp, ... */
    int reg;        /* dir's registration for removal on a signal (tmpfiles.h) */
} gp_stage;

rw_status gp_stage_open(gp_stage *s, const char *figure_path, rw_err *err);
/* The path of file name inside the staging directory (new string, caller
 * frees; NULL when out of memory). */
char *gp_stage_path(const gp_stage *s, const char *name);
/* Opens file name inside the staging directory for writing; *path gets its
 * path (new string, caller frees after closing). NULL (with err, RW_EIO,
 * and *path NULL) when it cannot. */
FILE *gp_stage_fopen(const gp_stage *s, const char *name, char **path, rw_err *err);
/* Renames every staged file into place (figure last) and removes the
 * directory. require_figure: fail when the figure was not made. */
rw_status gp_stage_commit(gp_stage *s, bool require_figure, rw_err *err);
/* Whether gnuplot wrote the figure whole: gnuplot's cairo and svg
 * terminals exit 0 when the disk refuses their writes, leaving a truncated
 * file. A PNG must end with its IEND chunk, a PDF with %%EOF, an SVG with
 * </svg>. RW_EIO naming the figure otherwise. */
rw_status gp_check_figure(const char *path, rw_figfmt fmt, rw_err *err);
/* Removes the staging directory and all in it. Safe on a zeroed struct. */
void gp_stage_abort(gp_stage *s);

/* ---------------------------------------------------------------- syntax */

/* s as a single-quoted gnuplot string: '' for a quote, control characters
 * written \n, \t, \r or \xNN, as are bytes that are not UTF-8; the rest
 * as it is. gnuplot reads the
 * result as one string on one line, whatever s holds: the one way a name
 * read from a file (tensor, module, run, path) enters a script, its
 * comments and its data files. A new string (caller frees), NULL when out
 * of memory. */
char *gp_quoted(const char *s);
/* Writes gp_quoted(s) ('' when out of memory). */
void gp_quote(FILE *f, const char *s);
/* `set terminal ...` and `set output ...` for the format, size in pixels
 * (PDF: points), with the figures' font. */
void gp_terminal(FILE *f, rw_figfmt fmt, int w, int h, const char *output);
/* A colour as gnuplot reads it: "#rrggbb", written into buf (>= 8 bytes),
 * which it returns. */
const char *gp_rgb(char *buf, uint32_t rgb);
/* A round step for about maxticks tick marks over [lo, hi]: 1, 2 or 5
 * times a power of ten. */
double gp_nice_step(double lo, double hi, int maxticks);
/* Log-axis tics for axis ("x", "y", "cb") over [lo, hi] (0 < lo < hi):
 * `set logscale`, decade labels written 10⁻³ … (every other decade or
 * sparser when there are many), and unlabelled minor tics at 2..9. */
void gp_log_tics(FILE *f, const char *axis, double lo, double hi);
/* Writes x with up to 10 significant digits ("1/0" for nan and inf: gnuplot's
 * undefined value). */
void gp_num(FILE *f, double x);

#endif
