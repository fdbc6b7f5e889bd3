/*
 * pipeline_mpi.c — rw_analyze across the ranks of an MPI job
 * (pipeline_mpi.h).
 *
 * Messages, all MPI_BYTE: a rank to rank 0 on TAG_UP, each starting with
 * its type and a number (int64 each): REQ (walk position; the reply on
 * TAG_DOWN is one int64, the job number given, -1: stop), SPEC (job number,
 * then one spectrum: numbers, strings, sigma), DONE (job number: all its
 * spectra sent), WARN (a warning line), END (the rank's walk is over: its
 * status, job count and error). A rank's messages arrive in the order sent.
 * Rank 0 keeps the spectra of jobs that cannot be written yet (an earlier
 * job is still out): singular values only, no matrices.
 */
#include "analyzers/mpi/pipeline_mpi.h"
#include "analyzers/mpi/spectrum_msg.h"
#include "analyzers/cli.h"

#include <fcntl.h>
#include <mpi.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { TAG_UP = 101, TAG_DOWN = 102 };
enum { M_REQ = 1, M_SPEC, M_DONE, M_WARN, M_END };
enum { END_OK, END_STOPPED, END_FAILED };

static int my_rank, nranks;
static const char *prog_name = "rw-spectra-mpi";

static void nap(long *ns)
{
    *ns = *ns ? (*ns * 2 > 1000000 ? 1000000 : *ns * 2) : 20000;
    struct timespec ts = {0, *ns};
    nanosleep(&ts, NULL);
}

/* ---------------------------------------------------- rank 0's state */

/* The spectra received for one job, and whether all have come. */
typedef struct {
    unsigned char **msg;
    size_t *len;
    size_t n, cap;
    bool done;
} slot;

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int64_t next_free;      /* the next job number to hand out */
    slot *slots;            /* by job number */
    size_t nslots;
    int64_t next_emit;      /* the next job to give the caller */
    bool stop;              /* a rank failed: hand out nothing more */
    bool failed;            /* ... and this is the error to report */
    rw_status est;
    char emsg[sizeof(((rw_err *)0)->msg)];
    bool coord_done;        /* every other rank has ended its walk */
    int64_t *njobs;         /* each rank's job count, -1 until it ends well */
    bool oom;
} coord;

static void record_error(coord *co, rw_status st, const char *msg)
{
    pthread_mutex_lock(&co->mu);
    if (!co->failed) {
        co->failed = true;
        co->est = st;
        snprintf(co->emsg, sizeof co->emsg, "%s", msg);
    }
    co->stop = true;
    pthread_cond_broadcast(&co->cv);
    pthread_mutex_unlock(&co->mu);
}

/* The slot of job seq, grown into existence; NULL when out of memory. With mu. */
static slot *slot_at(coord *co, int64_t seq)
{
    if (seq < 0)
        return NULL;
    if ((size_t)seq >= co->nslots) {
        size_t n = co->nslots ? co->nslots : 64;
        while (n <= (size_t)seq)
            n *= 2;
        slot *v = realloc(co->slots, n * sizeof *v);
        if (!v)
            return NULL;
        memset(v + co->nslots, 0, (n - co->nslots) * sizeof *v);
        co->slots = v;
        co->nslots = n;
    }
    return &co->slots[seq];
}

/* Job seq's next spectrum (m, owned from here on), or (m NULL) its end. */
static void slot_put(coord *co, int64_t seq, unsigned char *m, size_t len)
{
    pthread_mutex_lock(&co->mu);
    slot *s = slot_at(co, seq);
    bool ok = s != NULL;
    if (ok && m && s->n == s->cap) {
        size_t c = s->cap ? 2 * s->cap : 4;
        unsigned char **nm = realloc(s->msg, c * sizeof *nm);
        if (nm)
            s->msg = nm;
        size_t *nl = nm ? realloc(s->len, c * sizeof *nl) : NULL;
        if (nl)
            s->len = nl;
        ok = nm && nl;
        if (ok)
            s->cap = c;
    }
    if (ok && m) {
        s->msg[s->n] = m;
        s->len[s->n++] = len;
    } else if (ok) {
        s->done = true;
    } else {
        free(m);
        co->oom = co->stop = true;
    }
    pthread_cond_broadcast(&co->cv);
    pthread_mutex_unlock(&co->mu);
}

static void slot_free(slot *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->msg[i]);
    free(s->msg);
    free(s->len);
    memset(s, 0, sizeof *s);
}

/* ------------------------------------------------ one rank's analysis */

typedef struct {
    int64_t seq;
    const char *run, *comp;
    char *tensor;
    int64_t step;
} claimed;

typedef struct {
    coord *co;              /* rank 0 */
    const rw_runset *rs;
    const unsigned char *reused; /* by checkpoint, runs one after the other */
    size_t *run_off;
    int64_t seq;            /* items met in the walk */
    int64_t mine;           /* the job given to this rank (-1: none yet) */
    claimed *fifo;          /* claimed, not yet known to be complete */
    size_t fhead, fn, fcap;
    bool stopped;           /* told to stop */
    rw_spectrum_fn fn_out;  /* rank 0: the caller's */
    void *ctx_out;
} proc;

/* Warnings of this rank waiting to be sent (other ranks). */
static pthread_mutex_t warn_mu = PTHREAD_MUTEX_INITIALIZER;
static char **warn_q;
static size_t warn_n, warn_cap;

static void send_msg(const msg_buf *b)
{
    if (b->bad) /* out of memory: nothing sensible is left to say */
        MPI_Abort(MPI_COMM_WORLD, 1);
    MPI_Send(b->p, (int)b->n, MPI_BYTE, 0, TAG_UP, MPI_COMM_WORLD);
}

static void send_small(int64_t type, int64_t num)
{
    int64_t m[2] = {type, num};
    MPI_Send(m, sizeof m, MPI_BYTE, 0, TAG_UP, MPI_COMM_WORLD);
}

static void flush_warnings(void)
{
    pthread_mutex_lock(&warn_mu);
    for (size_t i = 0; i < warn_n; i++) {
        msg_buf b = {0};
        msg_put_i64(&b, M_WARN);
        msg_put_i64(&b, 0);
        msg_put_str(&b, warn_q[i]);
        send_msg(&b);
        free(b.p);
        free(warn_q[i]);
    }
    warn_n = 0;
    pthread_mutex_unlock(&warn_mu);
}

/* Rank 0 writes the jobs that are complete, in order, with the caller's fn. */
static rw_status drain(proc *p, rw_err *err)
{
    coord *co = p->co;
    for (;;) {
        pthread_mutex_lock(&co->mu);
        if (co->oom) {
            pthread_mutex_unlock(&co->mu);
            return rw_fail(err, RW_ENOMEM, "out of memory");
        }
        if (co->next_emit < 0 || (size_t)co->next_emit >= co->nslots ||
            !co->slots[co->next_emit].done) {
            pthread_mutex_unlock(&co->mu);
            return RW_OK;
        }
        slot s = co->slots[co->next_emit];
        memset(&co->slots[co->next_emit], 0, sizeof s);
        co->next_emit++;
        pthread_mutex_unlock(&co->mu);
        rw_status st = RW_OK;
        for (size_t i = 0; i < s.n && st == RW_OK; i++) {
            rw_spectrum sp;
            rw_entry_stats es;
            if (!msg_decode_spectrum(s.msg[i], s.len[i], &sp, &es))
                st = rw_fail(err, RW_EDATA, "a malformed message between MPI ranks");
            else
                st = p->fn_out(&sp, p->ctx_out, err);
        }
        slot_free(&s);
        if (st != RW_OK)
            return st;
    }
}

/* Job seq has sent all its spectra. */
static void job_done(proc *p, int64_t seq)
{
    if (p->co)
        slot_put(p->co, seq, NULL, 0);
    else
        send_small(M_DONE, seq);
}

static bool reuse_given(const rw_run *run, size_t ci, void *ctx)
{
    proc *p = ctx;
    return p->reused[p->run_off[run - p->rs->runs] + ci] != 0;
}

static rw_status stopped(proc *p, rw_err *err)
{
    p->stopped = true;
    return rw_fail(err, RW_EDATA, "stopped: another rank failed");
}

static rw_status claim(const rw_run *run, size_t ci, const rw_item *it, bool *mine, void *ctx,
                       rw_err *err)
{
    proc *p = ctx;
    int64_t s = p->seq++;
    rw_status st = RW_OK;
    if (p->co && (st = drain(p, err)) != RW_OK)
        return st;
    if (!p->co)
        flush_warnings();
    if (s > p->mine) { /* ask for the next job: it is at s or later */
        int64_t given;
        if (p->co) {
            pthread_mutex_lock(&p->co->mu);
            given = p->co->stop ? -1 : p->co->next_free++;
            pthread_mutex_unlock(&p->co->mu);
        } else {
            send_small(M_REQ, s);
            MPI_Recv(&given, sizeof given, MPI_BYTE, 0, TAG_DOWN, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
        }
        if (given < 0)
            return stopped(p, err);
        p->mine = given;
    }
    *mine = s == p->mine;
    if (!*mine)
        return RW_OK;
    if (rw_grow(&p->fifo, p->fn, &p->fcap, sizeof *p->fifo, err) != RW_OK)
        return RW_ENOMEM;
    claimed c = {s, run->label, rw_comp_name(it->comp), rw_strdup(it->tensor),
                 run->ckpts[ci].step};
    if (!c.tensor)
        return rw_fail(err, RW_ENOMEM, "out of memory");
    p->fifo[p->fn++] = c;
    return RW_OK;
}

static bool is_of(const claimed *c, const rw_spectrum *s)
{
    return c->step == s->step && strcmp(c->run, s->run) == 0 &&
           strcmp(c->tensor, s->tensor) == 0 && strcmp(c->comp, s->component) == 0;
}

static void fifo_pop(proc *p)
{
    free(p->fifo[p->fhead].tensor);
    job_done(p, p->fifo[p->fhead].seq);
    p->fhead++;
}

/* A spectrum this rank computed: to rank 0's slots, or sent there. */
static rw_status deliver(const rw_spectrum *s, void *ctx, rw_err *err)
{
    proc *p = ctx;
    while (p->fhead < p->fn && !is_of(&p->fifo[p->fhead], s))
        fifo_pop(p); /* the spectra come in claim order: that job is complete */
    if (p->fhead == p->fn)
        return rw_fail(err, RW_EDATA, "%s: %s: a spectrum of no job claimed", s->path, s->tensor);
    msg_buf b = {0};
    msg_encode_spectrum(&b, M_SPEC, p->fifo[p->fhead].seq, s);
    if (b.bad) {
        free(b.p);
        return rw_fail(err, RW_ENOMEM, "out of memory");
    }
    if (!p->co) {
        send_msg(&b);
        free(b.p);
        flush_warnings();
        return RW_OK;
    }
    slot_put(p->co, p->fifo[p->fhead].seq, b.p, b.n);
    return drain(p, err);
}

/* ------------------------------------------------ rank 0's coordinator */

static void *coordinator(void *arg)
{
    proc *p = arg;
    coord *co = p->co;
    int left = nranks - 1;
    long ns = 0;
    while (left > 0) {
        int flag, len;
        MPI_Status stt;
        MPI_Iprobe(MPI_ANY_SOURCE, TAG_UP, MPI_COMM_WORLD, &flag, &stt);
        if (!flag) {
            nap(&ns);
            continue;
        }
        ns = 0;
        MPI_Get_count(&stt, MPI_BYTE, &len);
        int src = stt.MPI_SOURCE;
        unsigned char *m = malloc(len > 16 ? (size_t)len : 16);
        if (!m)
            MPI_Abort(MPI_COMM_WORLD, 1);
        memset(m, 0, 16);
        MPI_Recv(m, len, MPI_BYTE, src, TAG_UP, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        msg_reader r = {m, (size_t)len, 0, false};
        int64_t type = msg_get_i64(&r), num = msg_get_i64(&r);
        if (type == M_SPEC) {
            slot_put(co, num, m, (size_t)len); /* m is the slot's now */
            continue;
        }
        if (type == M_REQ) {
            pthread_mutex_lock(&co->mu);
            int64_t given = co->stop ? -1 : co->next_free++;
            pthread_mutex_unlock(&co->mu);
            MPI_Send(&given, sizeof given, MPI_BYTE, src, TAG_DOWN, MPI_COMM_WORLD);
        } else if (type == M_DONE) {
            slot_put(co, num, NULL, 0);
        } else if (type == M_WARN) {
            const char *line = msg_get_str(&r);
            if (line)
                rw_warn(prog_name, "%s", line);
        } else if (type == M_END) {
            int64_t njobs = msg_get_i64(&r), code = msg_get_i64(&r);
            const char *msg = msg_get_str(&r);
            if (num == END_FAILED)
                record_error(co, (rw_status)code, msg ? msg : "a rank failed");
            pthread_mutex_lock(&co->mu);
            if (num == END_OK)
                co->njobs[src] = njobs;
            co->stop = co->stop || num != END_OK;
            pthread_cond_broadcast(&co->cv);
            pthread_mutex_unlock(&co->mu);
            left--;
        }
        free(m);
    }
    pthread_mutex_lock(&co->mu);
    co->coord_done = true;
    pthread_cond_broadcast(&co->cv);
    pthread_mutex_unlock(&co->mu);
    return NULL;
}

/* ----------------------------------------------------------- the walk */

/* FNV-1a over the runs: every rank must list the same checkpoints. */
static uint64_t runset_hash(const rw_runset *rs)
{
    uint64_t h = 1469598103934665603ULL;
#define MIX(ptr, len)                                                                    \
    for (size_t q = 0; q < (len); q++)                                                   \
        h = (h ^ ((const unsigned char *)(ptr))[q]) * 1099511628211ULL;
    for (size_t r = 0; r < rs->n; r++) {
        MIX(rs->runs[r].label, strlen(rs->runs[r].label) + 1)
        for (size_t i = 0; i < rs->runs[r].n; i++) {
            const rw_ckpt_ref *c = &rs->runs[r].ckpts[i];
            MIX(c->path, strlen(c->path) + 1)
            MIX(&c->step, sizeof c->step)
            if (c->group)
                MIX(c->group, strlen(c->group) + 1)
        }
    }
#undef MIX
    return h;
}

typedef struct {
    int64_t st;
    uint64_t hash;
    char msg[sizeof(((rw_err *)0)->msg)];
} agree_rec;

/* Every rank's status and runs to rank 0, which says whether to go on. */
static rw_status agree(rw_status st, const rw_runset *rs, rw_err *err)
{
    agree_rec me = {st, st == RW_OK ? runset_hash(rs) : 0, {0}};
    if (st != RW_OK)
        snprintf(me.msg, sizeof me.msg, "%s", err->msg);
    agree_rec *all = my_rank == 0 ? calloc((size_t)nranks, sizeof *all) : NULL;
    if (my_rank == 0 && !all)
        MPI_Abort(MPI_COMM_WORLD, 1);
    MPI_Gather(&me, sizeof me, MPI_BYTE, all, sizeof me, MPI_BYTE, 0, MPI_COMM_WORLD);
    int go = 1;
    if (my_rank == 0) {
        for (int r = 0; r < nranks && go; r++)
            if (all[r].st != RW_OK) {
                go = 0;
                if (r > 0)
                    st = rw_fail(err, (rw_status)all[r].st, "%s", all[r].msg);
            } else if (all[r].hash != all[0].hash) {
                go = 0;
                st = rw_fail(err, RW_EDATA, "rank %d lists other runs or checkpoints than "
                             "rank 0: every rank must see the same files (a shared file "
                             "system)", r);
            }
        free(all);
    }
    MPI_Bcast(&go, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (!go && st == RW_OK)
        st = RW_EDATA; /* another rank failed: rank 0 says why */
    return st;
}

/* o->jobs 0: the node's cores shared among the ranks on it. */
static int jobs_per_rank(int jobs)
{
    MPI_Comm node;
    int local = 1;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node) ==
        MPI_SUCCESS) {
        MPI_Comm_size(node, &local);
        MPI_Comm_free(&node);
    }
    if (jobs > 0)
        return jobs;
    int n = rw_default_jobs() / (local > 0 ? local : 1);
    return n > 0 ? n : 1;
}

/* Rank 0 after its own walk: write what comes until every rank has ended. */
static rw_status rank0_wait(proc *p, rw_status st, rw_err *err)
{
    coord *co = p->co;
    for (;;) {
        if (st == RW_OK && (st = drain(p, err)) != RW_OK)
            record_error(co, st, err->msg);
        pthread_mutex_lock(&co->mu);
        bool ready = co->next_emit >= 0 && (size_t)co->next_emit < co->nslots &&
                     co->slots[co->next_emit].done && !co->stop;
        bool over = co->coord_done && (co->stop || co->next_emit >= p->seq);
        if (!ready && !over)
            pthread_cond_wait(&co->cv, &co->mu);
        pthread_mutex_unlock(&co->mu);
        if (over && !ready)
            return st;
    }
}

rw_status rw_mpi_analyze(rw_status st, const rw_runset *rs, const rw_analysis_opts *o,
                         rw_spectrum_fn fn, void *ctx, rw_err *err)
{
    int jobs = jobs_per_rank(o->jobs);
    if ((st = agree(st, rs, err)) != RW_OK)
        return st;
    size_t total = 0;
    size_t *run_off = calloc(rs->n ? rs->n : 1, sizeof *run_off);
    for (size_t r = 0; r < rs->n; r++) {
        if (run_off)
            run_off[r] = total;
        total += rs->runs[r].n;
    }
    unsigned char *reused = calloc(total ? total : 1, 1);
    if (!run_off || !reused)
        MPI_Abort(MPI_COMM_WORLD, 1);
    /* Rank 0 decides what the cache has, every rank skips it. */
    if (my_rank == 0 && o->reuse)
        for (size_t r = 0; r < rs->n; r++)
            for (size_t ci = 0; ci < rs->runs[r].n; ci++)
                reused[run_off[r] + ci] = o->reuse(&rs->runs[r], ci, o->reuse_ctx);
    MPI_Bcast(reused, (int)total, MPI_BYTE, 0, MPI_COMM_WORLD);

    coord co = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};
    proc p = {.co = my_rank == 0 ? &co : NULL, .rs = rs, .reused = reused, .run_off = run_off,
              .mine = -1, .fn_out = fn, .ctx_out = ctx};
    rw_analysis_opts lo = *o;
    lo.jobs = jobs;
    lo.reuse = reuse_given;
    lo.reuse_ctx = &p;
    lo.claim = claim;
    lo.claim_ctx = &p;
    if (my_rank != 0)
        lo.progress = lo.progress_lines = false;
    pthread_t coord_thread;
    bool threaded = false;
    if (my_rank == 0) {
        co.njobs = malloc((size_t)nranks * sizeof *co.njobs);
        if (!co.njobs)
            MPI_Abort(MPI_COMM_WORLD, 1);
        for (int r = 0; r < nranks; r++)
            co.njobs[r] = -1;
        co.coord_done = nranks == 1;
        if (nranks > 1) {
            if (pthread_create(&coord_thread, NULL, coordinator, &p) != 0)
                MPI_Abort(MPI_COMM_WORLD, 1);
            threaded = true;
        }
    }
    st = rw_analyze(rs, &lo, deliver, &p, err);
    /* the jobs left in the fifo have sent all their spectra */
    while (st == RW_OK && p.fhead < p.fn)
        fifo_pop(&p);
    for (size_t i = p.fhead; i < p.fn; i++)
        free(p.fifo[i].tensor);
    free(p.fifo);
    if (my_rank != 0) {
        flush_warnings();
        msg_buf b = {0};
        msg_put_i64(&b, M_END);
        msg_put_i64(&b, st == RW_OK ? END_OK : p.stopped ? END_STOPPED : END_FAILED);
        msg_put_i64(&b, p.seq);
        msg_put_i64(&b, st);
        msg_put_str(&b, st == RW_OK ? "" : err->msg);
        send_msg(&b);
        free(b.p);
    } else {
        if (st != RW_OK && !p.stopped)
            record_error(&co, st, err->msg);
        st = rank0_wait(&p, st, err);
        if (threaded)
            pthread_join(coord_thread, NULL);
        if (co.failed) {
            st = rw_fail(err, co.est, "%s", co.emsg);
        } else if (st == RW_OK && co.oom) {
            st = rw_fail(err, RW_ENOMEM, "out of memory");
        } else if (st == RW_OK) {
            for (int r = 1; r < nranks && st == RW_OK; r++)
                if (co.njobs[r] != p.seq)
                    st = rw_fail(err, RW_EDATA, "rank %d met %lld matrices, rank 0 %lld: every "
                                 "rank must see the same files (a shared file system)", r,
                                 (long long)co.njobs[r], (long long)p.seq);
            if (st == RW_OK && co.next_emit != p.seq)
                st = rw_fail(err, RW_EDATA, "%lld of %lld matrices came back from the ranks",
                             (long long)co.next_emit, (long long)p.seq);
        }
        for (size_t i = 0; i < co.nslots; i++)
            slot_free(&co.slots[i]);
        free(co.slots);
        free(co.njobs);
    }
    free(reused);
    free(run_off);
    return st;
}

/* --------------------------------------------------- start and finish */

/* Rank 0: each distinct warning line once (every rank's walk warns alike). */
static char **seen;
static size_t nseen, seencap;
static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;

static void report_rank0(rw_report_kind kind, const char *prog, const char *line)
{
    if (kind == RW_REPORT_WARNING) {
        pthread_mutex_lock(&seen_mu);
        bool dup = false;
        for (size_t i = 0; i < nseen && !dup; i++)
            dup = strcmp(seen[i], line) == 0;
        char *c = dup ? NULL : rw_strdup(line);
        if (c && rw_grow(&seen, nseen, &seencap, sizeof *seen, NULL) == RW_OK)
            seen[nseen++] = c;
        else
            free(c);
        pthread_mutex_unlock(&seen_mu);
        if (dup)
            return;
    }
    rw_cli_report(kind, prog, line);
}

/* Other ranks: warnings queued for rank 0, progress dropped. */
static void report_rank(rw_report_kind kind, const char *prog, const char *line)
{
    (void)prog;
    if (kind != RW_REPORT_WARNING)
        return;
    pthread_mutex_lock(&warn_mu);
    char *c = rw_strdup(line);
    if (c && rw_grow(&warn_q, warn_n, &warn_cap, sizeof *warn_q, NULL) == RW_OK)
        warn_q[warn_n++] = c;
    else
        free(c);
    pthread_mutex_unlock(&warn_mu);
}

int rw_mpi_start(int *argc, char ***argv, const char *prog)
{
    int provided;
    prog_name = prog;
    MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &my_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    if (provided < MPI_THREAD_SERIALIZED) {
        if (my_rank == 0)
            fprintf(stderr, "%s: the MPI library gives no MPI_THREAD_SERIALIZED\n", prog);
        MPI_Finalize();
        return -1;
    }
    rw_cli_signals();
    rw_set_reporter(my_rank == 0 ? report_rank0 : report_rank);
    if (my_rank != 0) {
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null >= 0) {
            dup2(null, STDOUT_FILENO);
            dup2(null, STDERR_FILENO);
            close(null);
        }
    }
    return my_rank;
}

int rw_mpi_finish(int ret)
{
    int all = ret;
    MPI_Request req;
    MPI_Iallreduce(&ret, &all, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD, &req);
    long ns = 0;
    for (int done = 0; !done;) { /* waiting without spinning: ranks may share cores */
        MPI_Test(&req, &done, MPI_STATUS_IGNORE);
        if (!done)
            nap(&ns);
    }
    for (size_t i = 0; i < nseen; i++)
        free(seen[i]);
    free(seen);
    MPI_Finalize();
    return all;
}
