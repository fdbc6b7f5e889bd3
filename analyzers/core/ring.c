/*
 * ring.c — the worker job ring of rw_analyze (ring.h).
 *
 * The main thread reads checkpoints and builds matrices (HDF5 is not
 * thread-safe); N worker threads compute singular values. Jobs sit in a ring
 * and are handed to the callback strictly in the order they were submitted,
 * so the output is the same whatever N is. N + 1 jobs may always be
 * outstanding; more (up to 16N + 16) only while all of them together hold
 * at most RING_SLACK bytes, so that one slow job at the head does not leave
 * the other workers without work when matrices are small (measured: 6% of
 * the wall time of two pico-tiny runs at -j 2), nor does the main thread's
 * listing of the next checkpoint (8 ms for a pico-tiny ReLoRA checkpoint of
 * 279 gzip-compressed datasets, while 4N + 4 of its jobs took 2 workers
 * 5-6 ms: 10% of the wall time idle at -j 2). N is capped at rw_max_jobs(),
 * and a worker is started only when a job is submitted while fewer than N
 * run, so that -j 100000 on one small matrix starts one thread and sizes
 * the ring for the cap, not for 100000. Memory: N + 1 job matrices,
 * the main thread's reference matrix, and at most 2 RING_SLACK besides (the
 * extra jobs, and the buffers that idle slots keep: a slot gives back any
 * larger than RING_SLACK / slots when its job is emitted). With the entry
 * metrics asked for (rw-metrics), each worker also keeps a copy of the
 * largest matrix it has seen, to sort its entries before the SVD
 * overwrites them. Compressed tensors that are read again (several
 * components, updates) are kept decoded besides, up to 48 MiB
 * (io/packed.h).
 */
#include "analyzers/core/ring.h"

#include "analyzers/core/item_fetch.h"
#include "analyzers/core/items.h"
#include "analyzers/core/metrics.h"
#include "analyzers/core/spectral.h"
#include "analyzers/core/tails.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RING_SLACK ((size_t)16 << 20)

/* A worker's scratch for the entry metrics: a copy of the matrix. */
typedef struct {
    double *v;
    size_t cap;
} entry_scratch;

/* A copy of j's matrix in sc, before the SVD overwrites it: for a lowrank
 * job, s B A, formed there (its m x n product: what the entries are). */
static rw_status job_copy(ring_job *j, entry_scratch *sc)
{
    size_t m = (size_t)j->rows, n = (size_t)j->cols, numel = m * n;
    rw_status st = rw_scratch(&sc->v, &sc->cap, numel ? numel : 1, sizeof(double), &j->err);
    if (st != RW_OK)
        return st;
    if (j->lowrank && numel)
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m, (int)n, (int)j->rank,
                    j->scale, j->b, j->rank > 1 ? (int)j->rank : 1, j->a, (int)n, 0.0, sc->v,
                    (int)n);
    else if (numel)
        memcpy(sc->v, j->a, numel * sizeof(double));
    return RW_OK;
}

/* The singular values of j's matrix with its entries shuffled (tails.h),
 * into rsigma (k values), from a copy in sc. */
static rw_status job_rand(ring_job *j, entry_scratch *sc, double *rsigma)
{
    rw_status st = job_copy(j, sc);
    if (st != RW_OK)
        return st;
    rw_tails_shuffle(sc->v, (size_t)(j->rows * j->cols), RW_TAILS_RAND_SEED);
    rw_err ignored = {{0}}; /* a non-finite matrix: the main SVD says so */
    rw_svd_values(sc->v, j->rows, j->cols, rsigma, &ignored);
    return RW_OK;
}

/* ws: the calling thread's SVD workspace; sc: its entry scratch. */
static void job_compute(ring_job *j, rw_svd_ws *ws, entry_scratch *sc)
{
    j->err.msg[0] = '\0';
    j->err_named = false;
    j->es = (rw_entry_stats){NAN, NAN, NAN, NAN};
    if (j->fetched) { /* compressed tensors: inflated and put together here */
        j->st = j->lowrank ? item_fetched_adapters(j->fetched, j->b, j->a, &j->noise,
                                                   &j->ref_fro, &j->err)
                           : item_fetched_build(j->fetched, j->a, &j->noise, &j->ref_fro,
                                                &j->err);
        item_fetched_free(j->fetched);
        j->fetched = NULL;
        if ((j->err_named = j->st != RW_OK))
            return;
    }
    if (j->entries) {
        if ((j->st = job_copy(j, sc)) != RW_OK)
            return;
        rw_entry_stats_of(sc->v, (size_t)(j->rows * j->cols), &j->es);
    }
    size_t k = (size_t)(j->rows < j->cols ? j->rows : j->cols);
    double *rsigma = NULL;
    if (j->rand && k) {
        if (!(rsigma = rw_malloc(k * sizeof *rsigma, &j->err))) {
            j->st = RW_ENOMEM;
            return;
        }
        if ((j->st = job_rand(j, sc, rsigma)) != RW_OK) {
            free(rsigma);
            return;
        }
    }
    if (j->lowrank)
        j->st = rw_lowrank_sigma(j->b, j->a, j->rows, j->cols, j->rank, j->scale, j->sigma,
                                 &j->err);
    else
        j->st = rw_svd_values_acc(j->a, j->rows, j->cols, j->dtype, j->rel, j->sigma, ws, NULL,
                                  &j->err);
    if (rsigma && j->st == RW_OK)
        j->es.rand_distance = rw_tails_rand_distance(j->sigma, rsigma, k);
    free(rsigma);
}

static void *worker(void *arg)
{
    job_ring *r = arg;
    rw_svd_ws *ws = rw_svd_ws_new(); /* NULL: each call makes a temporary one */
    entry_scratch sc = {NULL, 0};
    pthread_mutex_lock(&r->mu);
    for (;;) {
        while (!r->quit && r->next == r->tail)
            pthread_cond_wait(&r->work_cv, &r->mu);
        if (r->next == r->tail && r->quit)
            break;
        uint64_t seq = r->next++;
        ring_job *j = &r->slots[seq % r->nslots];
        j->state = JOB_RUNNING;
        pthread_mutex_unlock(&r->mu);
        job_compute(j, ws, &sc);
        pthread_mutex_lock(&r->mu);
        j->state = JOB_DONE;
        if (seq == r->wait_seq) /* only the job the main thread waits for wakes it */
            pthread_cond_signal(&r->done_cv);
    }
    pthread_mutex_unlock(&r->mu);
    rw_svd_ws_free(ws);
    free(sc.v);
    return NULL;
}

void ring_job_release_strings(ring_job *j)
{
    free(j->run);
    free(j->tensor);
    free(j->module);
    free(j->component);
    free(j->path);
    free(j->ref_path);
    j->run = j->tensor = j->module = j->component = j->path = j->ref_path = NULL;
    item_fetched_free(j->fetched);
    j->fetched = NULL;
}

/* Waits (r->mu held) until job seq is done. */
static void wait_done(job_ring *r, uint64_t seq)
{
    while (r->slots[seq % r->nslots].state != JOB_DONE) {
        r->wait_seq = seq;
        pthread_cond_wait(&r->done_cv, &r->mu);
    }
    r->wait_seq = RING_NO_WAIT;
}

/* Hands the oldest job to the callback once it is done. When it is not
 * done yet, first waits for the job a quarter of the outstanding ones
 * further on: so the main thread wakes once for a batch of finished jobs,
 * not once per job (each wake is a futex call on both sides: measured 3%
 * of all CPU time on the pico-tiny gzip runs at -j 1, where the main thread
 * is always waiting for room). */
static rw_status emit_head(job_ring *r, rw_err *err)
{
    ring_job *j = &r->slots[r->head % r->nslots];
    if (r->nthreads == 0) {
        entry_scratch sc = {NULL, 0};
        job_compute(j, NULL, &sc);
        free(sc.v);
        j->state = JOB_DONE;
    } else {
        pthread_mutex_lock(&r->mu);
        if (j->state != JOB_DONE) {
            uint64_t batch = (r->tail - r->head) / 4;
            if (batch > 1)
                wait_done(r, r->head + batch - 1);
            wait_done(r, r->head);
        }
        pthread_mutex_unlock(&r->mu);
    }
    rw_status st = r->emit(j, r->emit_ctx, err);
    ring_job_release_strings(j);
    r->out_bytes -= j->bytes;
    j->bytes = 0;
    if ((j->acap + j->bcap + j->scap) * sizeof(double) > RING_SLACK / r->nslots) {
        free(j->a);
        free(j->b);
        free(j->sigma);
        j->a = j->b = j->sigma = NULL;
        j->acap = j->bcap = j->scap = 0;
    }
    if (r->nthreads)
        pthread_mutex_lock(&r->mu);
    j->state = JOB_FREE;
    r->head++;
    if (r->nthreads)
        pthread_mutex_unlock(&r->mu);
    return st;
}

rw_status ring_take_slot(job_ring *r, size_t bytes, ring_job **out, rw_err *err)
{
    uint64_t always = (uint64_t)r->nthreads + 1;
    for (;;) {
        uint64_t out_jobs = r->tail - r->head;
        bool full = out_jobs == r->nslots ||
                    (out_jobs >= always && (r->nthreads == 0 || r->out_bytes + bytes > RING_SLACK));
        if (!full)
            break;
        rw_status st = emit_head(r, err);
        if (st != RW_OK)
            return st;
    }
    *out = &r->slots[r->tail % r->nslots];
    return RW_OK;
}

/* One more worker, while fewer than N run. A failed start ends the starting
 * (N becomes the workers there are); with none at all, the main thread
 * computes every job itself, and a worker started later would take jobs
 * that are the main thread's. */
static void start_worker(job_ring *r)
{
    if (r->nthreads >= r->maxthreads)
        return;
    if (pthread_create(&r->threads[r->nthreads], NULL, worker, r) == 0)
        r->nthreads++;
    else
        r->maxthreads = r->nthreads;
}

void ring_submit(job_ring *r, ring_job *j)
{
    start_worker(r);
    if (r->nthreads == 0) {
        j->state = JOB_QUEUED;
        r->tail++;
        r->out_bytes += j->bytes;
        return;
    }
    pthread_mutex_lock(&r->mu);
    j->state = JOB_QUEUED;
    r->tail++;
    r->out_bytes += j->bytes;
    pthread_cond_signal(&r->work_cv);
    pthread_mutex_unlock(&r->mu);
}

rw_status ring_wait_room(job_ring *r, rw_err *err)
{
    while (r->tail - r->head >= (uint64_t)(r->maxthreads > 0 ? r->maxthreads : 1) + 1 &&
           r->out_bytes > RING_SLACK) {
        rw_status st = emit_head(r, err);
        if (st != RW_OK)
            return st;
    }
    return RW_OK;
}

rw_status ring_drain(job_ring *r, rw_err *err)
{
    rw_status st = RW_OK;
    while (r->head != r->tail) {
        rw_err e2 = {{0}};
        rw_status s2 = emit_head(r, st == RW_OK ? err : &e2);
        if (st == RW_OK)
            st = s2;
    }
    return st;
}

rw_status ring_init(job_ring *r, int jobs, ring_emit_fn emit, void *ctx, rw_err *err)
{
    memset(r, 0, sizeof *r);
    r->emit = emit;
    r->emit_ctx = ctx;
    r->nslots = (size_t)jobs * 16 + 16;
    r->slots = rw_calloc(r->nslots, sizeof *r->slots, err);
    if (!r->slots)
        return RW_ENOMEM;
    r->threads = rw_calloc((size_t)jobs, sizeof *r->threads, err);
    if (!r->threads) {
        free(r->slots);
        r->slots = NULL;
        return RW_ENOMEM;
    }
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->work_cv, NULL);
    pthread_cond_init(&r->done_cv, NULL);
    r->wait_seq = RING_NO_WAIT;
    r->maxthreads = jobs; /* started by ring_submit, as jobs come */
    return RW_OK;
}

void ring_free(job_ring *r)
{
    pthread_mutex_lock(&r->mu);
    r->quit = true;
    pthread_cond_broadcast(&r->work_cv);
    pthread_mutex_unlock(&r->mu);
    for (int t = 0; t < r->nthreads; t++)
        pthread_join(r->threads[t], NULL);
    for (size_t i = 0; i < r->nslots; i++) {
        ring_job_release_strings(&r->slots[i]);
        free(r->slots[i].a);
        free(r->slots[i].b);
        free(r->slots[i].sigma);
    }
    free(r->slots);
    free(r->threads);
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->work_cv);
    pthread_cond_destroy(&r->done_cv);
    memset(r, 0, sizeof *r);
}
