/*
 * ring.h — the worker job ring of rw_analyze (private to
 * analyzers/core/pipeline.c and ring.c): the main thread fills jobs (a
 * matrix, or a LoRA update's B and A, and the key of its row), worker
 * threads compute their singular values, and the ring hands each finished
 * job back in the order it was submitted, so that the output is the same
 * whatever the number of workers. ring.c explains its memory bound.
 *
 * Ownership: the ring owns its slots, their buffers (a, b, sigma), their
 * fetched tensors (freed by the worker once built) and their key strings (run, tensor, module, component, path, ref_path: set by the filler
 * with rw_strdup, freed by the ring once the job is emitted or by
 * ring_job_release_strings). A ring_job pointer from ring_take_slot is the
 * filler's until ring_submit; the emit callback gets it borrowed, for the
 * duration of the call.
 */
#ifndef RW_RING_H
#define RW_RING_H

#include "analyzers/core/pipeline.h"

#include <pthread.h>

#define RING_NO_WAIT UINT64_MAX

typedef enum { JOB_FREE, JOB_QUEUED, JOB_RUNNING, JOB_DONE } ring_job_state;

typedef struct {
    ring_job_state state;
    bool lowrank;           /* a: A (r x cols), b: B (rows x r); else a: the matrix */
    double *a, *b, *sigma;
    size_t acap, bcap, scap;
    int64_t rows, cols, rank;
    size_t bytes;           /* of the job's matrices, while outstanding */
    double scale;
    /* the row's key, copied: the checkpoint may be closed before it is emitted */
    char *run, *tensor, *module, *component, *path;
    char *ref_path;         /* updates: the checkpoint subtracted, for messages */
    int layer;
    int64_t step, ref_step;
    double ref_fro;
    double noise;           /* N of the matrix (rw_spectrum.noise_fro) */
    rw_kind kind;
    rw_dtype dtype;
    double rel;             /* relative accuracy asked of sigma_min (0: the data contract) */
    bool entries;           /* es wanted: the entry metrics, before the SVD */
    bool rand;              /* es.rand_distance wanted (a second SVD, tails.h) */
    rw_entry_stats es;      /* of the matrix's entries (lowrank: of s B A), when entries */
    struct item_fetched *fetched; /* or NULL: the matrix's stored tensors, compressed,
                               built into a by the worker first (item_fetch.h;
                               noise and ref_fro are set then); owned by the job */
    rw_status st;           /* of the computation */
    rw_err err;
    bool err_named;         /* err names its file and tensor itself (a fetched
                               tensor that does not decode): an error, never
                               the nan warning */
} ring_job;

/* Called with each finished job (j->st, j->err: how its computation went),
 * in submission order; a status other than RW_OK is passed on by the ring
 * call that emitted it. */
typedef rw_status (*ring_emit_fn)(const ring_job *j, void *ctx, rw_err *err);

typedef struct {
    ring_job *slots;
    size_t nslots;
    uint64_t head, tail, next; /* emit from head; fill at tail; workers take next */
    uint64_t wait_seq;      /* the job the main thread waits for, or RING_NO_WAIT */
    size_t out_bytes;       /* of the jobs from head to tail */
    pthread_t *threads;
    int nthreads;           /* started so far */
    int maxthreads;         /* N: more are started while fewer run (ring_submit) */
    bool quit;
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    ring_emit_fn emit;
    void *emit_ctx;
} job_ring;

/* A ring for at most jobs (>= 1) workers, none started yet; emit(j, ctx)
 * receives the finished jobs. On failure nothing is left to free. */
rw_status ring_init(job_ring *r, int jobs, ring_emit_fn emit, void *ctx, rw_err *err);
/* A free slot at the tail for a job whose matrices take bytes, emitting the
 * oldest jobs first while the ring is full; *out is the caller's to fill
 * until ring_submit (on failure of the filling, ring_job_release_strings
 * and no submit: the slot stays free). */
rw_status ring_take_slot(job_ring *r, size_t bytes, ring_job **out, rw_err *err);
/* Queues the filled job j (from ring_take_slot; j->bytes set), starting one
 * more worker while fewer than N run. */
void ring_submit(job_ring *r, ring_job *j);
/* Emits the oldest jobs (waiting for them) while every worker has a job,
 * one more is queued, and the outstanding ones hold more than the ring's
 * slack: so that what is submitted next is read while the workers compute
 * and starts as soon as one is free, one job ahead and no more
 * (rw_analyze's claim hook, pipeline.h). */
rw_status ring_wait_room(job_ring *r, rw_err *err);
/* Emits every outstanding job; the first failure is returned (the later
 * jobs are emitted all the same, their errors dropped). */
rw_status ring_drain(job_ring *r, rw_err *err);
/* Frees j's key strings and its fetched tensors (and sets them NULL). */
void ring_job_release_strings(ring_job *j);
/* Stops and joins the workers (they finish the jobs already queued), then
 * frees the ring and every slot. Jobs not emitted are dropped: ring_drain
 * first to emit them. */
void ring_free(job_ring *r);

#endif
