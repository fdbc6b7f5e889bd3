/*
 * pipeline.c — runs to spectra (pipeline.h).
 */
#include "analyzers/core/pipeline.h"

#include "io/table_keys.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const kind_names[] = {"weight", "update", "update_first"};

const char *rw_kind_name(rw_kind k)
{
    return (unsigned)k <= RW_KIND_UPDATE_FIRST ? kind_names[k] : "?";
}

int rw_kind_parse(const char *name)
{
    for (int i = 0; i <= RW_KIND_UPDATE_FIRST; i++)
        if (strcmp(name, kind_names[i]) == 0)
            return i;
    return -1;
}

/* The shape each item had when last seen, to catch shapes that change. */
typedef struct {
    char *name;
    int64_t rows, cols, step;
} seen_shape;

typedef struct {
    seen_shape *v;
    size_t n, cap;
} shape_book;

static void book_free(shape_book *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->v[i].name);
    free(b->v);
    memset(b, 0, sizeof *b);
}

static rw_status book_check(shape_book *b, const char *path, const rw_item *it, int64_t step,
                            rw_err *err)
{
    char key[1100];
    snprintf(key, sizeof key, "%s\t%s", it->tensor, rw_comp_name(it->comp));
    for (size_t i = 0; i < b->n; i++) {
        seen_shape *s = &b->v[i];
        if (strcmp(s->name, key) != 0)
            continue;
        if (s->rows != it->rows || s->cols != it->cols)
            return rw_fail(err, RW_EDATA,
                           "%s: %s: shape %lldx%lld differs from %lldx%lld at step %lld", path,
                           it->tensor, (long long)it->rows, (long long)it->cols,
                           (long long)s->rows, (long long)s->cols, (long long)s->step);
        s->step = step;
        return RW_OK;
    }
    if (rw_grow(&b->v, b->n, &b->cap, sizeof *b->v, err) != RW_OK)
        return RW_ENOMEM;
    b->v[b->n] = (seen_shape){rw_strdup(key), it->rows, it->cols, step};
    if (!b->v[b->n].name)
        return rw_fail(err, RW_ENOMEM, "out of memory");
    b->n++;
    return RW_OK;
}

/* ------------------------------------------------------------- jobs
 *
 * The main thread reads checkpoints and builds matrices (HDF5 is not
 * thread-safe); N worker threads compute singular values. Jobs sit in a ring
 * and are handed to the callback strictly in the order they were submitted,
 * so the output is the same whatever N is. N + 1 jobs may always be
 * outstanding; more (up to 4N + 4) only while all of them together hold at
 * most RING_SLACK bytes, so that one slow job at the head does not leave the
 * other workers without work when matrices are small (measured: 6% of the
 * wall time of two pico-tiny runs at -j 2). N is capped at rw_max_jobs(),
 * and a worker is started only when a job is submitted while fewer than N
 * run, so that -j 100000 on one small matrix starts one thread and sizes
 * the ring for the cap, not for 100000. Memory: N + 1 job matrices,
 * the main thread's reference matrix, and at most 2 RING_SLACK besides (the
 * extra jobs, and the buffers that idle slots keep: a slot gives back any
 * larger than RING_SLACK / slots when its job is emitted).
 */

#define RING_SLACK ((size_t)4 << 20)

typedef enum { JOB_FREE, JOB_QUEUED, JOB_RUNNING, JOB_DONE } job_state;

typedef struct {
    job_state state;
    bool lowrank;           /* a: A (r x cols), b: B (rows x r); else a: the matrix */
    double *a, *b, *sigma;
    size_t acap, bcap, scap;
    int64_t rows, cols, rank;
    size_t bytes;           /* of the job's matrices, while outstanding */
    double scale;
    /* the row's key, copied: the checkpoint may be closed before it is emitted */
    char *run, *tensor, *component, *path;
    char *ref_path;         /* updates: the checkpoint subtracted, for messages */
    size_t module_off;
    int layer;
    int64_t step, ref_step;
    double ref_fro;
    rw_kind kind;
    rw_dtype dtype;
    double rel;             /* relative accuracy asked of sigma_min (0: the data contract) */
    rw_status st;           /* of the computation */
    rw_err err;
} job;

typedef struct {
    const rw_analysis_opts *o;
    rw_spectrum_fn fn;
    void *ctx;
    bool tty;
    size_t emitted;         /* by the current run */
    /* the ring */
    job *ring;
    size_t nslots;
    uint64_t head, tail, next; /* emit from head; fill at tail; workers take next */
    size_t out_bytes;       /* of the jobs from head to tail */
    pthread_t *threads;
    int nthreads;           /* started so far */
    int maxthreads;         /* N: more are started while fewer run (submit) */
    bool quit;
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
    double *ref;            /* main thread: the reference matrix of an update */
    size_t refcap;
} analysis;

/* ws: the calling thread's SVD workspace. */
static void job_compute(job *j, rw_svd_ws *ws)
{
    j->err.msg[0] = '\0';
    if (j->lowrank)
        j->st = rw_lowrank_sigma(j->b, j->a, j->rows, j->cols, j->rank, j->scale, j->sigma,
                                 &j->err);
    else
        j->st = rw_svd_values_acc(j->a, j->rows, j->cols, j->dtype, j->rel, j->sigma, ws, NULL,
                                  &j->err);
}

static void *worker(void *arg)
{
    analysis *an = arg;
    rw_svd_ws *ws = rw_svd_ws_new(); /* NULL: each call makes a temporary one */
    pthread_mutex_lock(&an->mu);
    for (;;) {
        while (!an->quit && an->next == an->tail)
            pthread_cond_wait(&an->work_cv, &an->mu);
        if (an->next == an->tail && an->quit)
            break;
        job *j = &an->ring[an->next % an->nslots];
        an->next++;
        j->state = JOB_RUNNING;
        pthread_mutex_unlock(&an->mu);
        job_compute(j, ws);
        pthread_mutex_lock(&an->mu);
        j->state = JOB_DONE;
        pthread_cond_broadcast(&an->done_cv);
    }
    pthread_mutex_unlock(&an->mu);
    rw_svd_ws_free(ws);
    return NULL;
}

static void job_release_strings(job *j)
{
    free(j->run);
    free(j->tensor);
    free(j->component);
    free(j->path);
    free(j->ref_path);
    j->run = j->tensor = j->component = j->path = j->ref_path = NULL;
}

/* Hands the oldest job to the callback once it is done. */
static rw_status emit_head(analysis *an, rw_err *err)
{
    job *j = &an->ring[an->head % an->nslots];
    if (an->nthreads == 0) {
        job_compute(j, NULL);
        j->state = JOB_DONE;
    } else {
        pthread_mutex_lock(&an->mu);
        while (j->state != JOB_DONE)
            pthread_cond_wait(&an->done_cv, &an->mu);
        pthread_mutex_unlock(&an->mu);
    }
    rw_status st = RW_OK;
    size_t k = (size_t)(j->rows < j->cols ? j->rows : j->cols);
    if (j->st != RW_OK) {
        bool warn = j->st == RW_EDATA && k > 0 && isnan(j->sigma[0]);
        if (warn && j->ref_path)
            rw_warn(an->o->prog, "warning: %s: %s: update from step %lld (%s): %s; its "
                    "metrics are nan", j->path, j->tensor, (long long)j->ref_step, j->ref_path,
                    j->err.msg);
        else if (warn)
            rw_warn(an->o->prog, "warning: %s: %s: %s; its metrics are nan", j->path,
                    j->tensor, j->err.msg);
        else
            st = rw_fail(err, j->st, "%s: %s: %s", j->path, j->tensor, j->err.msg);
    }
    if (st == RW_OK) {
        rw_spectrum s = {
            .run = j->run, .step = j->step, .tensor = j->tensor, .layer = j->layer,
            .module = j->tensor + j->module_off, .component = j->component, .rows = j->rows,
            .cols = j->cols, .dtype = j->dtype, .kind = j->kind, .ref_step = j->ref_step,
            .ref_fro = j->ref_fro, .k = k, .sigma = j->sigma, .path = j->path,
        };
        an->emitted++;
        st = an->fn(&s, an->ctx, err);
    }
    job_release_strings(j);
    an->out_bytes -= j->bytes;
    j->bytes = 0;
    if ((j->acap + j->bcap + j->scap) * sizeof(double) > RING_SLACK / an->nslots) {
        free(j->a);
        free(j->b);
        free(j->sigma);
        j->a = j->b = j->sigma = NULL;
        j->acap = j->bcap = j->scap = 0;
    }
    if (an->nthreads)
        pthread_mutex_lock(&an->mu);
    j->state = JOB_FREE;
    an->head++;
    if (an->nthreads)
        pthread_mutex_unlock(&an->mu);
    return st;
}

/* A free slot at the tail for a job of the given bytes, emitting the oldest
 * jobs first while the ring is full (see above). */
static rw_status take_slot(analysis *an, size_t bytes, job **out, rw_err *err)
{
    uint64_t always = (uint64_t)an->nthreads + 1;
    for (;;) {
        uint64_t out_jobs = an->tail - an->head;
        bool full = out_jobs == an->nslots ||
                    (out_jobs >= always && (an->nthreads == 0 || an->out_bytes + bytes > RING_SLACK));
        if (!full)
            break;
        rw_status st = emit_head(an, err);
        if (st != RW_OK)
            return st;
    }
    *out = &an->ring[an->tail % an->nslots];
    return RW_OK;
}

/* One more worker, while fewer than N run. A failed start ends the starting
 * (N becomes the workers there are); with none at all, the main thread
 * computes every job itself, and a worker started later would take jobs
 * that are the main thread's. */
static void start_worker(analysis *an)
{
    if (an->nthreads >= an->maxthreads)
        return;
    if (pthread_create(&an->threads[an->nthreads], NULL, worker, an) == 0)
        an->nthreads++;
    else
        an->maxthreads = an->nthreads;
}

static void submit(analysis *an, job *j)
{
    start_worker(an);
    if (an->nthreads == 0) {
        j->state = JOB_QUEUED;
        an->tail++;
        an->out_bytes += j->bytes;
        return;
    }
    pthread_mutex_lock(&an->mu);
    j->state = JOB_QUEUED;
    an->tail++;
    an->out_bytes += j->bytes;
    pthread_cond_signal(&an->work_cv);
    pthread_mutex_unlock(&an->mu);
}

static rw_status drain(analysis *an, rw_err *err)
{
    rw_status st = RW_OK;
    while (an->head != an->tail) {
        rw_err e2 = {{0}};
        rw_status s2 = emit_head(an, st == RW_OK ? err : &e2);
        if (st == RW_OK)
            st = s2;
    }
    return st;
}

static double fro_of(const double *a, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * a[i];
    return sqrt(s);
}

/* The memory cap: item it of its (from checkpoint path) is refused, before
 * anything is read or allocated, when its matrix or, for ov and wo_wv, a
 * v_proj or o_proj matrix it is formed from, takes more than cap bytes as
 * doubles (0: no cap). A file of a few KB can declare a 30000 x 30000
 * matrix; this says so instead of allocating 7 GB. */
static rw_status check_matrix_size(size_t cap, const char *path, const rw_items *its,
                                   const rw_item *it, rw_err *err)
{
    const rw_item *parts[3] = {it, NULL, NULL};
    if (it->comp == RW_COMP_OV || it->comp == RW_COMP_WO_WV) {
        parts[1] = &its->v[it->v_item];
        parts[2] = &its->v[it->o_item];
    }
    for (int p = 0; p < 3 && cap > 0; p++) {
        const rw_item *x = parts[p];
        size_t numel, bytes;
        if (!x || (rw_mul_size((size_t)x->rows, (size_t)x->cols, &numel) &&
                   rw_mul_size(numel, sizeof(double), &bytes) && bytes <= cap))
            continue;
        return rw_fail(err, RW_EDATA,
                       "%s: %s: a %lldx%lld matrix takes %.1f MiB as doubles, more than the "
                       "cap of %zu MiB (raise it with --max-matrix-mib N or RW_MAX_MATRIX_MIB)",
                       path, x->tensor, (long long)x->rows, (long long)x->cols,
                       (double)x->rows * (double)x->cols * sizeof(double) / 1048576.0,
                       cap >> 20);
    }
    return RW_OK;
}

/* One checkpoint, opened, with its items. */
typedef struct {
    rw_ckpt *c;
    rw_items it;
    int64_t step;
} opened;

static void opened_close(opened *o)
{
    if (o->c) {
        items_free(&o->it);
        ckpt_free(o->c);
    }
    memset(o, 0, sizeof *o);
}

static rw_status opened_open(opened *o, const rw_ckpt_ref *ref, const rw_analysis_opts *opt,
                             rw_err *err)
{
    memset(o, 0, sizeof *o);
    rw_status st = ckpt_open(ref->path, ref->group, &o->c, err);
    if (st != RW_OK)
        return st;
    if ((st = items_list(o->c, &opt->item, &o->it, err)) != RW_OK) {
        ckpt_free(o->c);
        o->c = NULL;
        return st;
    }
    o->step = ref->step;
    return RW_OK;
}

/* Fills a job's key and buffers for item i of c; the caller fills the data. */
static rw_status job_prepare(job *j, const char *run, const opened *c, const rw_item *it,
                             rw_kind kind, int64_t ref_step, double ref_fro, bool lowrank,
                             bool fast, rw_err *err)
{
    size_t k = (size_t)(it->rows < it->cols ? it->rows : it->cols);
    rw_status st = rw_scratch(&j->sigma, &j->scap, k, sizeof(double), err);
    if (st == RW_OK)
        st = rw_scratch(&j->a, &j->acap,
                        (size_t)((lowrank ? it->rank : it->rows) * it->cols), sizeof(double), err);
    if (st == RW_OK && lowrank)
        st = rw_scratch(&j->b, &j->bcap, (size_t)(it->rows * it->rank), sizeof(double), err);
    if (st != RW_OK)
        return st;
    j->lowrank = lowrank;
    j->rows = it->rows;
    j->cols = it->cols;
    j->rank = it->rank;
    j->scale = c->it.scale;
    j->run = rw_strdup(run);
    j->tensor = rw_strdup(it->tensor);
    j->component = rw_strdup(rw_comp_name(it->comp));
    j->path = rw_strdup(c->c->path);
    j->module_off = (size_t)(it->module - it->tensor);
    j->layer = it->layer;
    j->step = c->step;
    j->ref_step = ref_step;
    j->ref_fro = ref_fro;
    j->kind = kind;
    j->dtype = it->dtype;
    j->rel = fast ? 0 : RW_SVD_REL_DEFAULT;
    if (!j->run || !j->tensor || !j->component || !j->path)
        return rw_fail(err, RW_ENOMEM, "out of memory");
    return RW_OK;
}


/* The matrix of item i of c (kind weight), or its update against ref. For
 * lora, the update of the cycle is s B A itself, measured against the base.
 * lora spectra come from the r x r problem, never the m x n product. */
static rw_status submit_item(analysis *an, const char *run, opened *c, size_t i, opened *ref,
                             rw_kind kind, rw_err *err)
{
    const rw_item *it = &c->it.v[i];
    size_t numel = (size_t)(it->rows * it->cols);
    bool is_lora = it->comp == RW_COMP_LORA;
    bool lowrank = is_lora && it->rank <= (it->rows < it->cols ? it->rows : it->cols);
    int64_t ref_step = -1;
    double ref_fro = NAN;
    long ri = -1;
    rw_status st = RW_OK;

    if (kind != RW_KIND_WEIGHT) {
        if (is_lora) { /* the adapter's s B A is itself the update (of its cycle) */
            ref_step = c->step;
            long bi = items_find(&c->it, it->tensor, RW_COMP_BASE);
            if (bi >= 0) {
                if ((st = rw_scratch(&an->ref, &an->refcap, numel, sizeof(double), err)) != RW_OK ||
                    (st = item_build(c->c, &c->it, (size_t)bi, an->ref, err)) != RW_OK)
                    return st;
                ref_fro = fro_of(an->ref, numel);
            }
        } else {
            if ((ri = items_find(&ref->it, it->tensor, it->comp)) < 0)
                return RW_OK; /* new at this step: no update to measure */
            const rw_item *rit = &ref->it.v[ri];
            if (rit->rows != it->rows || rit->cols != it->cols)
                return rw_fail(err, RW_EDATA,
                               "%s: %s: shape %lldx%lld differs from %lldx%lld at step %lld",
                               c->c->path, it->tensor, (long long)it->rows,
                               (long long)it->cols, (long long)rit->rows, (long long)rit->cols,
                               (long long)ref->step);
            if ((st = rw_scratch(&an->ref, &an->refcap, numel, sizeof(double), err)) != RW_OK ||
                (st = item_build(ref->c, &ref->it, (size_t)ri, an->ref, err)) != RW_OK)
                return st;
            ref_step = ref->step;
            ref_fro = fro_of(an->ref, numel);
        }
    }
    job *j;
    size_t bytes = (lowrank ? (size_t)(it->rank * (it->rows + it->cols)) : numel) * sizeof(double);
    if ((st = take_slot(an, bytes, &j, err)) != RW_OK)
        return st;
    if ((st = job_prepare(j, run, c, it, kind, ref_step, ref_fro, lowrank, an->o->fast, err)) != RW_OK) {
        job_release_strings(j);
        return st;
    }
    if (ri >= 0 && !(j->ref_path = rw_strdup(ref->c->path))) {
        job_release_strings(j);
        return rw_fail(err, RW_ENOMEM, "out of memory");
    }
    if (lowrank)
        st = item_read_adapters(c->c, &c->it, i, j->b, j->a, err);
    else
        st = item_build(c->c, &c->it, i, j->a, err);
    if (st == RW_OK && ri >= 0)
        for (size_t e = 0; e < numel; e++)
            j->a[e] -= an->ref[e];
    if (st != RW_OK) {
        job_release_strings(j);
        return st;
    }
    j->bytes = bytes;
    submit(an, j);
    return RW_OK;
}

static rw_status analyze_run(analysis *an, const rw_run *run, rw_err *err)
{
    const rw_analysis_opts *o = an->o;
    shape_book book = {0};
    opened prev = {0}, first = {0}, cur = {0};
    rw_status st = RW_OK;
    bool warned_scale = false;
    an->emitted = 0;
    for (size_t ci = 0; ci < run->n && st == RW_OK; ci++) {
        const rw_ckpt_ref *ref = &run->ckpts[ci];
        if (an->tty)
            rw_progress(o->prog, "%s: step %lld (%zu/%zu)", run->label, (long long)ref->step,
                        ci + 1, run->n);
        if ((st = opened_open(&cur, ref, o, err)) != RW_OK)
            break;
        if (cur.it.has_adapters && strcmp(cur.it.scale_from, "default") == 0 && !warned_scale) {
            rw_warn(o->prog, "warning: %s: no LoRA scale (no --lora-scale, lora_alpha and "
                    "lora_r, or adapter_config.json): using s = 1", cur.c->path);
            warned_scale = true;
        }
        if (cur.it.ov_needs_heads && !(o->comps & RW_COMP_ALL) &&
            (o->comps & (RW_COMP_BIT(RW_COMP_OV) | RW_COMP_BIT(RW_COMP_WO_WV)))) {
            st = rw_fail(err, RW_EDATA, "%s: the OV circuit needs --heads and --kv-heads "
                         "(no n_heads, n_kv_heads attributes)", cur.c->path);
            break;
        }
        bool reused = o->reuse && o->reuse(run, ci, o->reuse_ctx);
        if (reused)
            an->emitted++;
        for (size_t i = 0; i < cur.it.n && st == RW_OK && !reused; i++) {
            const rw_item *it = &cur.it.v[i];
            if (!item_selected(it, &o->sel, o->comps))
                continue;
            if ((st = book_check(&book, cur.c->path, it, cur.step, err)) != RW_OK ||
                (st = check_matrix_size(o->max_matrix_bytes, cur.c->path, &cur.it, it, err)) !=
                    RW_OK)
                break;
            if (o->weights)
                st = submit_item(an, run->label, &cur, i, NULL, RW_KIND_WEIGHT, err);
            /* lora is its cycle's update at every step, the first included */
            bool is_lora = it->comp == RW_COMP_LORA;
            if (st == RW_OK && o->updates && (prev.c || is_lora))
                st = submit_item(an, run->label, &cur, i, &prev, RW_KIND_UPDATE, err);
            if (st == RW_OK && o->from_first && ((first.c && ci > 0) || is_lora))
                st = submit_item(an, run->label, &cur, i, &first, RW_KIND_UPDATE_FIRST, err);
        }
        /* The previous checkpoint stays open for updates, the first one (as
         * a handle of its own) for --from first: only file handles and the
         * tensor directories, no values. */
        if (st == RW_OK && o->from_first && ci == 0)
            st = opened_open(&first, ref, o, err);
        opened_close(&prev);
        prev = cur;
        memset(&cur, 0, sizeof cur);
    }
    /* Every job of this run is emitted before the checks below count them. */
    rw_status dst = drain(an, err);
    if (st == RW_OK)
        st = dst;
    opened_close(&cur);
    opened_close(&prev);
    opened_close(&first);
    book_free(&book);
    if (st == RW_OK && an->emitted == 0 && !o->weights && run->n == 1) {
        st = rw_fail(err, RW_EDATA, "run %s: one checkpoint (%s), so no update to measure",
                     run->label, run->ckpts[0].path);
    } else if (st == RW_OK && an->emitted == 0) {
        const char *what = o->sel.ninclude || o->sel.nexclude || o->comps
                               ? "no matrix matches the selection"
                               : "no matrix to analyse (every tensor is 1-D or not float)";
        if (run->n == 1)
            st = rw_fail(err, RW_EDATA, "%s: %s", run->ckpts[0].path, what);
        else
            st = rw_fail(err, RW_EDATA, "run %s: %s in its %zu checkpoints", run->label, what,
                         run->n);
    }
    return st;
}

static long cores_online(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n;
}

int rw_default_jobs(void)
{
    long n = cores_online();
    return n > 64 ? 64 : (int)n;
}

int rw_max_jobs(void)
{
    long n = cores_online();
    return (int)(4 * (n < 1024 ? n : 1024));
}

rw_status rw_analyze(const rw_runset *rs, const rw_analysis_opts *o, rw_spectrum_fn fn,
                     void *ctx, rw_err *err)
{
    analysis an = {.o = o, .fn = fn, .ctx = ctx, .tty = o->progress && isatty(STDERR_FILENO)};
    int jobs = o->jobs > 0 ? o->jobs : rw_default_jobs();
    if (jobs > rw_max_jobs())
        jobs = rw_max_jobs();
    rw_status st = RW_OK;
    /* Single-threaded BLAS everywhere: the parallelism is across matrices. */
    rw_blas_set_threads(1);
    an.nslots = (size_t)jobs * 4 + 4;
    an.ring = rw_calloc(an.nslots, sizeof *an.ring, err);
    if (!an.ring)
        return RW_ENOMEM;
    pthread_mutex_init(&an.mu, NULL);
    pthread_cond_init(&an.work_cv, NULL);
    pthread_cond_init(&an.done_cv, NULL);
    an.threads = rw_calloc((size_t)jobs, sizeof *an.threads, err);
    if (!an.threads)
        st = RW_ENOMEM;
    an.maxthreads = jobs; /* started by submit, as jobs come */
    for (size_t r = 0; r < rs->n && st == RW_OK; r++)
        st = analyze_run(&an, &rs->runs[r], err);
    pthread_mutex_lock(&an.mu);
    an.quit = true;
    pthread_cond_broadcast(&an.work_cv);
    pthread_mutex_unlock(&an.mu);
    for (int t = 0; t < an.nthreads; t++)
        pthread_join(an.threads[t], NULL);
    if (an.tty)
        rw_progress_done(o->prog);
    for (size_t i = 0; i < an.nslots; i++) {
        job_release_strings(&an.ring[i]);
        free(an.ring[i].a);
        free(an.ring[i].b);
        free(an.ring[i].sigma);
    }
    free(an.ring);
    free(an.threads);
    free(an.ref);
    pthread_mutex_destroy(&an.mu);
    pthread_cond_destroy(&an.work_cv);
    pthread_cond_destroy(&an.done_cv);
    return st;
}

/* ---------------------------------------------------------- metric tables */

/* DESIGN.md's key columns (table_keys.h), then the metrics. */
#define NKEY RW_NKEY

rw_table *rw_metrics_table_new(const rw_metric_id *ids, size_t nids, bool with_rel)
{
    const char *cols[NKEY + RW_M_COUNT + 1];
    for (size_t i = 0; i < NKEY; i++)
        cols[i] = table_key_names[i];
    for (size_t i = 0; i < nids; i++)
        cols[NKEY + i] = rw_metric_name(ids[i]);
    if (with_rel)
        cols[NKEY + nids] = table_metric_names[RW_METRIC_REL_UPDATE];
    size_t n = NKEY + nids + (with_rel ? 1 : 0);
    rw_table *t = table_new(cols, n);
    if (!t)
        return NULL;
    for (size_t i = 0; i < n; i++)
        table_set_numeric(t, (long)i, i == 1 || i == 3 || i == 6 || i == 7 || i >= NKEY);
    return t;
}

rw_status rw_metrics_table_add(rw_table *t, const rw_spectrum *s, const rw_metric_id *ids,
                               size_t nids, bool with_rel, rw_err *err)
{
    rw_metrics m;
    rw_metrics_compute(s->sigma, s->k, s->rows, s->cols, s->dtype, &m);
    char num[NKEY + RW_M_COUNT + 1][32];
    const char *cells[NKEY + RW_M_COUNT + 1];
    snprintf(num[1], 32, "%lld", (long long)s->step);
    snprintf(num[3], 32, "%d", s->layer);
    snprintf(num[6], 32, "%lld", (long long)s->rows);
    snprintf(num[7], 32, "%lld", (long long)s->cols);
    cells[0] = s->run;
    cells[1] = num[1];
    cells[2] = s->tensor;
    cells[3] = num[3];
    cells[4] = s->module;
    cells[5] = s->component;
    cells[6] = num[6];
    cells[7] = num[7];
    cells[8] = rw_dtype_name(s->dtype);
    for (size_t i = 0; i < nids; i++)
        cells[NKEY + i] = rw_fmt_double(num[NKEY + i], rw_metric_get(&m, ids[i]));
    if (with_rel) /* ||dW||_F / ||W_ref||_F; nan when there is no reference */
        cells[NKEY + nids] = rw_fmt_double(num[NKEY + nids], m.fro / s->ref_fro);
    return table_add_row(t, cells, err);
}
