/*
 * pipeline.h — from runs to spectra: for every run, checkpoint and selected
 * item (a plain matrix, an adapter component, an OV circuit), the singular
 * values of the matrix — or of its update since the previous (or first)
 * checkpoint — handed to a callback one spectrum at a time.
 */
#ifndef RW_PIPELINE_H
#define RW_PIPELINE_H

#include "analyzers/core/items.h"
#include "io/ckpt.h"
#include "io/run.h"
#include "io/spectrum.h"

typedef struct {
    rw_select sel;
    unsigned comps;         /* mask of RW_COMP_BIT(c); 0 = each matrix's default */
    bool weights;           /* spectra of the matrices */
    bool updates;           /* ... of the updates between consecutive checkpoints */
    bool from_first;        /* ... of the updates since the first checkpoint */
    rw_item_opts item;      /* lora scale, heads */
    rw_ckpt_opts ckpt;      /* how each checkpoint is opened (--key); its strings
                               are the caller's and must outlive rw_analyze */
    const char *prog;       /* program name, for warnings and progress */
    bool progress;          /* progress line on stderr (when it is a terminal):
                               checkpoint, matrices done of an estimated total,
                               rate and time left */
    bool progress_lines;    /* instead, for batch logs: a line "progress: ..."
                               every progress_every seconds and one at the end,
                               whatever stderr is */
    double progress_every;  /* seconds between those lines (0: 10) */
    int jobs;               /* worker threads computing spectra; 0 = one per core;
                               at most rw_max_jobs(), and never more than the
                               matrices to decompose */
    bool entries;           /* also the entry metrics of each matrix (rw_spectrum.entries:
                               gini, hoyer, max_abs), from the matrix the SVD is given */
    bool rand_distance;     /* also rw-tails' rand_distance (rw_spectrum.entries): a second
                               SVD, of the matrix with its entries shuffled (tails.h) */
    bool fast;              /* singular values within the stored dtype's contract only
                               (spectral.h); else sigma_min to 2e-10 relative too */
    size_t max_matrix_bytes; /* a selected matrix larger than this, as doubles, is an
                               error before anything is read; 0: no cap */
    const char *data, *split; /* what the runs' files hold (rw_spectrum's data and
                               split): NULL for weights, else "gradients" and
                               "train" or "val" (--data, --split) */
    /* When set and true for checkpoint ci of run, its spectra are not
     * computed (the caller has them already, e.g. from a cache). */
    bool (*reuse)(const rw_run *run, size_t ci, void *ctx);
    void *reuse_ctx;
    /* When set, called for every selected item of every checkpoint not
     * reused, in run, step and item order, before anything of it is read:
     * *mine false leaves the item (its weight and update spectra) to
     * another process, and it is counted as handed on. A status other than
     * RW_OK stops rw_analyze with it (the jobs submitted are emitted
     * first). Called on the thread that called rw_analyze, once a worker
     * is free for the item or will be when the jobs running end (or the
     * jobs outstanding are small), so that a process claims what it can
     * start, reading one job ahead of its workers and no more. */
    rw_status (*claim)(const rw_run *run, size_t ci, const rw_item *it, bool *mine, void *ctx,
                       rw_err *err);
    void *claim_ctx;
} rw_analysis_opts;

/* The number of cores this process may run on (its affinity mask: taskset,
 * Slurm, mpirun binding; at least 1, at most 64): the default -j. */
int rw_default_jobs(void);
/* The most worker threads rw_analyze starts, whatever -j asks: 4 per core
 * online. More would only take memory (a stack and workspace each). */
int rw_max_jobs(void);

/* Calls fn for every selected item of every checkpoint of every run, in run
 * and step order. A matrix whose shape changes between steps is an error
 * naming both steps; so is a run in which nothing is selected. A matrix with
 * NaN/Inf entries is warned about (rw_warn) and handed on with nan singular
 * values. fn gets each spectrum borrowed: s, its strings and its sigma live
 * only during the call (copy what is kept); rs and o are only read, and
 * only during rw_analyze. The worker threads and their ring: ring.h; the
 * metric table rows of a spectrum: metrics_table.h. */
rw_status rw_analyze(const rw_runset *rs, const rw_analysis_opts *o, rw_spectrum_fn fn,
                     void *ctx, rw_err *err);

#endif
