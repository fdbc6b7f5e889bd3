/*
 * sim_runs.h — the walk of rw-sim: activation similarity (similarity.h)
 * over runs, each step's activations against a target step of its run, or
 * two runs against each other at the steps they share.
 *
 * The runs are read with --data activations (run.h): each checkpoint is a
 * pico-train learning_dynamics/<split>_activations.pt, a dict from module
 * name to the module's output on a fixed batch, samples x features. Every
 * 2-D float tensor selected is compared with the tensor of the same name in
 * the target; a tensor missing there, or of another sample count, is an
 * error naming both files.
 *
 * Output (a new table, the caller's: table_free), one row per (run, step,
 * tensor):
 *     run step target_step tensor layer module data split cka pwcca
 * with --between, target_run after target_step; sorted by run, step, tensor.
 */
#ifndef RW_SIM_RUNS_H
#define RW_SIM_RUNS_H

#include "io/ckpt.h"
#include "io/run.h"
#include "io/table.h"

typedef enum {
    RW_TARGET_LAST,   /* each run's last step */
    RW_TARGET_FIRST,  /* its first step */
    RW_TARGET_STEP,   /* the step rw_sim_opts.target_step (every run must have it) */
} rw_sim_target;

typedef struct {
    rw_sim_target target;
    int64_t target_step;        /* RW_TARGET_STEP */
    bool between;               /* two runs: the second against the first, step by step */
    bool cka, pwcca;            /* which metrics (the other column is empty) */
    bool debiased;              /* CKA's unbiased HSIC estimator */
    double epsilon;             /* PWCCA's (pico-analyze: 1e-6) */
    const rw_select *sel;       /* tensors by name (borrowed) */
    rw_ckpt_opts ckpt;          /* how each file is opened (borrowed strings) */
    rw_split split;             /* for the split column */
    int jobs;                   /* threads comparing matrices at once (0, 1: one) */
} rw_sim_opts;

/* Compares as above. RW_EUSAGE for --between without exactly two runs, a
 * target step a run lacks; RW_EDATA for a missing or mismatched tensor,
 * too few samples for PWCCA (similarity.h), no tensor selected. */
rw_status rw_sim_runs(const rw_runset *rs, const rw_sim_opts *o, rw_table **out, rw_err *err);

#endif
