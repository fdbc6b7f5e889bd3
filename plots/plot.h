/*
 * plot.h — rw-plot's figures: what a figure is made from and the three kinds
 * of figure. Each figure is drawn by gnuplot from a script and data files
 * that are written beside it and kept, so that it can be restyled and
 * redrawn (`cd DIR && gnuplot STEM.gp`):
 *
 *   STEM.png|pdf|svg   the figure (-o)
 *   STEM.gp            its gnuplot script
 *   STEM.dat           the numbers drawn (trajectory, spectrum)
 *   STEM.cells-R-M.png heatmap cells of run R, module M, one pixel per
 *                      (step, layer), written with libpng (heatmap)
 *
 * All of them appear together at the end, or none does: they are made in a
 * temporary directory beside the figure and renamed into place once gnuplot
 * has drawn the figure.
 *
 * Inputs are per-layer metric tables (DESIGN.md: run step tensor layer
 * module component ... metrics) for trajectory and heatmap, and spectra for
 * spectrum: long tables (run step tensor layer module component i sigma) or
 * spectra files written by rw-spectra.
 *
 * The module owns the four figure functions and their options. The
 * options' pointers are the caller's, read during the call only; a figure
 * function keeps nothing after it returns.
 */
#ifndef RW_PLOT_H
#define RW_PLOT_H

#include "analyzers/tables/stats.h"
#include "io/run.h"

typedef enum { RW_FIG_PNG, RW_FIG_PDF, RW_FIG_SVG } rw_figfmt;

/* -1 when unknown; names png, pdf, svg. */
int rw_figfmt_parse(const char *name);

/* How a trajectory averages over layers: by the metric (geometrically for
 * scale-type metrics: rw_metric_kind_of, stats.h), or as told. */
typedef enum { RW_PLOT_MEAN_AUTO, RW_PLOT_MEAN_ARITH, RW_PLOT_MEAN_GEO } rw_plot_mean;

/* What an ESD figure draws beside the histogram of one matrix's
 * eigenvalues lambda = sigma^2: WeightWatcher's power-law fit and its
 * Marchenko-Pastur bulk, as rw-tails computes them. The figure module does
 * not fit (figures lean on io only): the program passes the fit in. */
typedef struct {
    const char *status;         /* "ok" when the fields below are set (static) */
    double alpha, D, xmin, xmax, num_pl_spikes;
    bool mp;                    /* the MP fit is defined: */
    double sigma_mp, bulk_min, bulk_max, w_scale, Q;  /* rw_mpfit's, Q = N / M */
} rw_esd_fit;
/* sigma: the k singular values of a rows x cols matrix, descending (rows =
 * cols = 0 when the shape is not known: no MP fit). Fails only for want of
 * memory. */
typedef rw_status (*rw_esd_fit_fn)(const double *sigma, size_t k, int64_t rows, int64_t cols,
                                   rw_esd_fit *fit, rw_err *err);

typedef struct {
    const char *prog;           /* "rw-plot": prefix of warnings */
    const char *out;            /* the figure's path (required) */
    int format;                 /* rw_figfmt, or -1: from out's extension */
    int width, height;          /* pixels (PDF: points, 1/72 in); 0: automatic */
    const char *title;          /* NULL: automatic; "": none */
    const char *metric;         /* trajectory, heatmap: the column (NULL: per) */
    const char *component;      /* NULL: each matrix's default (rw_comp_default,
                                   io/spectrum.h): weight, full, lora where there
                                   is no full; of the OV circuits, a table's ov
                                   and wo_wv rows, a spectra file's ov */
    const char *const *modules; /* globs naming the panels, in order; the one
                                   word "paper" names the paper's four */
    size_t nmodules;            /* 0: every module, by name */
    const char *const *runs;    /* globs selecting runs (colours do not change) */
    size_t nruns;               /* 0: every run */
    const rw_select *tensors;   /* --include/--exclude on tensor names; NULL: all */
    int logy;                   /* -1: log when the values span > 2 decades; 0 / 1 */
    int updates;                /* -1: updates when a table has rel_update; 0 / 1 */
    bool per_layer;             /* trajectory: a line per layer, coloured by depth */
    rw_plot_mean mean;          /* trajectory: how layers are averaged */
    rw_ci_opts ci;              /* trajectory: the band, t (zero) or bootstrap */
    const rw_layer_spec *groups;/* trajectory: NULL, or a panel per layer group of each
                                   module ("MODULE [0-5]"; plot_groups.c) */
    bool epochs;                /* the steps are epochs: axes say "epoch" */
    const int64_t *steps;       /* spectrum, esd: the steps drawn */
    size_t nsteps;              /* 0: spectrum: five steps spread over the run;
                                   esd: each run's last step */
    int64_t layer;              /* esd: the layer drawn of each module; < -1: the
                                   middle one of the module's layers */
    rw_esd_fit_fn esd_fit;      /* esd: the fit (required for esd) */
    bool script_only;           /* write the data and script, do not run gnuplot */
    const char *gnuplot;        /* NULL: $RW_GNUPLOT, else gnuplot from PATH */
} rw_plot_opts;

/* Metric against training step, one panel per module (or per layer group
 * of a module), runs overlaid: the mean over layers with its 95% interval
 * (t or bootstrap, o->ci) as a band (rw_aggregate; geometric for
 * scale-type metrics, the interval clipped to the metric's range), or one
 * line per layer. */
rw_status plot_trajectory(const char *const *paths, size_t npaths, const rw_plot_opts *o,
                          rw_err *err);

/* Layer x step coloured by the metric (viridis), one panel per module (rows)
 * and run (columns); a module's panels share one colour scale. */
rw_status plot_heatmap(const char *const *paths, size_t npaths, const rw_plot_opts *o,
                       rw_err *err);

/* Normalised singular values σi/σ1 against i/k on log axes at chosen steps
 * (coloured by step), geometric mean over layers, one panel per module
 * (rows) and run (columns). */
rw_status plot_spectrum(const char *const *paths, size_t npaths, const rw_plot_opts *o,
                        rw_err *err);

/* The ESD of one matrix per module — the layer o->layer, else the module's
 * middle layer — at chosen steps (o->steps; default each run's last): the
 * histogram of lambda = sigma^2 > 1e-5 on log-log axes (density per
 * eigenvalue of all min(m, n)), the fitted power law from xmin to xmax and
 * the MP density of the bulk (o->esd_fit); a panel per module (rows) and
 * (run, step) (columns). (esd.c) */
rw_status plot_esd(const char *const *paths, size_t npaths, const rw_plot_opts *o, rw_err *err);

#endif
