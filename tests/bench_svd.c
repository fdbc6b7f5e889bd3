/*
 * bench_svd.c — the singular-value benchmark behind `make bench` (run by
 * tests/bench.sh; no timing is part of `make check`).
 *
 * Generates a fixed, seeded mix of float32-stored matrices of the shapes
 * rankwatch meets in small language models, with realistic spectra (a
 * power-law decaying signal plus Marchenko–Pastur noise), and prints, per
 * shape, the dgesdd values-only reference time, rankwatch's
 * (rw_svd_values_dt) time, their ratio, the worst error against the
 * accuracy contract and the GFLOP/s achieved beside the machine's DGEMM
 * rate; then the whole mix with 1 and 2 worker threads (each with
 * single-threaded BLAS) and the peak memory.
 *
 *   bench_svd [--per-shape N] [--reps R] [--seed S] [--raw FILE] [--summary FILE]
 *             [--explore]
 *
 * --raw writes the matrices (per matrix: int64 rows, int64 cols, then
 * rows*cols float32, row-major, little-endian) for the numpy comparison;
 * --summary writes key=value lines (mix times) for bench.sh. --explore times
 * the candidate methods per shape instead (docs/performance.md).
 *
 * Legend: W is m x n row-major, L = max(m, n), k = min(m, n).
 * Exit status 1 when a matrix breaks the contract, 2 on misuse.
 */
#include <cblas.h>
#include <getopt.h>
#include <lapacke.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "analyzers/core/spectral.h"
#include "fixtures/synth.h"
#include "tests/bench_util.h"

char *openblas_get_corename(void);

static const int shapes[][2] = {{384, 384}, {384, 1536}, {1536, 384}, {128, 384},
                                {768, 768}, {768, 3072}, {3072, 768}};
#define NSHAPES ((int)(sizeof shapes / sizeof *shapes))

// ----------------------------------------------------------------------------
// small helpers


static uint64_t rng = 1; /* xs64_* (fixtures/synth.h); seeded in main */

/* Flops of dgesdd, values only: QR first when L >= 11k/6 (its MNTHR), then
 * the bidiagonal reduction; the bidiagonal qd iterations are O(k^2). */
static double gesdd_flops(double l, double k)
{
    if (l >= 11.0 * k / 6)
        return 2 * k * k * (l - k / 3) + 8.0 / 3 * k * k * k;
    return 4 * l * k * k - 4.0 / 3 * k * k * k;
}

/* dsyrk (k(k+1)/2 inner products of length L) plus dsytrd (4/3 k^3). */
static double gram_flops(double l, double k)
{
    return l * k * (k + 1) + 4.0 / 3 * k * k * k;
}

static double method_flops(rw_svd_method m, double l, double k)
{
    switch (m) {
    case RW_SVD_GRAM: return gram_flops(l, k);
    case RW_SVD_GESDD: return gesdd_flops(l, k);
    case RW_SVD_GESDD_FALLBACK: return gram_flops(l, k) + gesdd_flops(l, k);
    /* the Gram, and two products with W and one with Q for sigma_min */
    case RW_SVD_GRAM_REFINED: return gram_flops(l, k) + 4 * k * l + 2 * k * k;
    default: return 0;
    }
}

// ----------------------------------------------------------------------------
// the matrices

typedef struct {
    int m, n;
    double *w;          /* m x n row-major, values rounded to float32 */
    double fro;         /* ||W||_F */
    double *ref;        /* k singular values from dgesdd */
    double *sig1, *sig2;/* rankwatch's, from the 1- and 2-thread mix runs */
    rw_svd_method method;
} mat;

/* rows x cols (rows >= cols) with orthonormal columns, column-major. */
static double *orthonormal(int rows, int cols)
{
    double *q = bench_xmalloc(sizeof(double) * (size_t)rows * cols), *tau = bench_xmalloc(sizeof(double) * cols);
    for (size_t i = 0; i < (size_t)rows * cols; i++)
        q[i] = xs64_gauss(&rng);
    if (LAPACKE_dgeqrf(LAPACK_COL_MAJOR, rows, cols, q, rows, tau) ||
        LAPACKE_dorgqr(LAPACK_COL_MAJOR, rows, cols, cols, q, rows, tau)) {
        fprintf(stderr, "bench_svd: QR failed\n");
        exit(1);
    }
    free(tau);
    return q;
}

/* W = U diag(s) V^T + noise: s_i = c tau (sqrt L + sqrt k) (1 + i)^-alpha,
 * the noise N(0, tau^2) entries with tau = 0.02 (an initialisation scale),
 * whose singular values fill the Marchenko–Pastur interval
 * tau (sqrt L -+ sqrt k). The top of the spectrum stands out of the bulk,
 * the tail drowns in it, as in trained weights. */
static void generate(mat *x, int m, int n)
{
    int k = m < n ? m : n, l = m < n ? n : m;
    double tau = 0.02, alpha = 0.5 + 0.5 * xs64_uniform(&rng), c = 2 + 4 * xs64_uniform(&rng);
    double *u = orthonormal(m, k), *v = orthonormal(n, k);
    for (int j = 0; j < k; j++) {
        double s = c * tau * (sqrt(l) + sqrt(k)) * pow(1 + j, -alpha);
        for (int i = 0; i < m; i++)
            u[i + (size_t)j * m] *= s;
    }
    x->m = m;
    x->n = n;
    x->w = bench_xmalloc(sizeof(double) * (size_t)m * n);
    /* Row-major W is column-major W^T (n x m) = V (U S)^T. */
    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, n, m, k, 1.0, v, n, u, m, 0.0, x->w, n);
    double ss = 0;
    for (size_t i = 0; i < (size_t)m * n; i++) {
        x->w[i] = (double)(float)(x->w[i] + tau * xs64_gauss(&rng));
        ss += x->w[i] * x->w[i];
    }
    x->fro = sqrt(ss);
    x->ref = bench_xmalloc(sizeof(double) * k);
    x->sig1 = bench_xmalloc(sizeof(double) * k);
    x->sig2 = bench_xmalloc(sizeof(double) * k);
    free(u);
    free(v);
}

static void free_mats(mat *ms, int nm)
{
    for (int i = 0; i < nm; i++) {
        free(ms[i].w);
        free(ms[i].ref);
        free(ms[i].sig1);
        free(ms[i].sig2);
    }
    free(ms);
}

static void write_raw(const char *path, const mat *ms, int nm)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    for (int i = 0; i < nm; i++) {
        int64_t dims[2] = {ms[i].m, ms[i].n};
        size_t numel = (size_t)ms[i].m * ms[i].n;
        float *buf = bench_xmalloc(sizeof(float) * numel);
        for (size_t j = 0; j < numel; j++)
            buf[j] = (float)ms[i].w[j];
        fwrite(dims, sizeof dims, 1, f);
        fwrite(buf, sizeof(float), numel, f);
        free(buf);
    }
    if (fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

// ----------------------------------------------------------------------------
// one matrix, either way

typedef enum { REF, RW } which;

/* --rel: the programs' relative-accuracy requirement on sigma_min (0: the
 * data contract alone, as `--fast`). */
static double g_rel = 0;

/* Runs one method on scratch, a copy of x (the routines may overwrite
 * their input); sigma gets the values; returns the method used; *secs (when
 * not NULL) the time of the call alone. */
static rw_svd_method run_one(which how, const mat *x, double *scratch, double *sigma, rw_svd_ws *ws,
                             double *secs)
{
    rw_err err = {{0}};
    rw_svd_info info = {RW_SVD_GESDD, NAN};
    rw_status st;
    memcpy(scratch, x->w, sizeof(double) * (size_t)x->m * x->n);
    double t = bench_now();
    if (how == REF)
        st = rw_svd_values(scratch, x->m, x->n, sigma, &err);
    else
        st = rw_svd_values_acc(scratch, x->m, x->n, RW_DT_F32, g_rel, sigma, ws, &info, &err);
    if (secs)
        *secs = bench_now() - t;
    if (st != RW_OK) {
        fprintf(stderr, "bench_svd: %dx%d: %s\n", x->m, x->n, err.msg);
        exit(1);
    }
    return info.method;
}

// ----------------------------------------------------------------------------
// the mix: N workers over a shared queue, biggest matrices first

typedef struct {
    mat *ms;
    int *order;
    int nm;
    which how;
    int slot;               /* 1: sig1, 2: sig2, 0: discard */
    atomic_int next;
} queue;

typedef struct {
    queue *q;
    rw_svd_ws *ws;
    double *scratch, *sigma;
} worker;

static void *work(void *p)
{
    worker *wk = p;
    queue *q = wk->q;
    for (;;) {
        int i = atomic_fetch_add(&q->next, 1);
        if (i >= q->nm)
            break;
        mat *x = &q->ms[q->order[i]];
        double *out = q->slot == 1 ? x->sig1 : q->slot == 2 ? x->sig2 : wk->sigma;
        run_one(q->how, x, wk->scratch, out, wk->ws, NULL);
    }
    return NULL;
}

static double run_mix(queue *q, worker *wk, int nthreads)
{
    pthread_t th[8];
    atomic_store(&q->next, 0);
    double t = bench_now();
    for (int i = 0; i < nthreads; i++)
        if (pthread_create(&th[i], NULL, work, &wk[i]) != 0) {
            fprintf(stderr, "bench_svd: pthread_create failed\n");
            exit(1);
        }
    for (int i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
    return bench_now() - t;
}

/* The four mix runs (dgesdd and rankwatch, 1 and 2 workers) in turn, reps
 * rounds, best of each: interleaved so that a busy spell on the machine
 * does not land on one of them only. rankwatch's last round keeps its
 * values (sig1, sig2). best[] is ref1, ref2, rw1, rw2. */
static void mix_runs(queue *q, worker *wk, int reps, double *best)
{
    static const struct { which how; int threads, slot; } runs[4] = {
        {REF, 1, 0}, {REF, 2, 0}, {RW, 1, 1}, {RW, 2, 2}};
    for (int i = 0; i < 4; i++)
        best[i] = INFINITY;
    for (int r = 0; r < reps; r++)
        for (int i = 0; i < 4; i++) {
            q->how = runs[i].how;
            q->slot = r == reps - 1 ? runs[i].slot : 0;
            double t = run_mix(q, wk, runs[i].threads);
            best[i] = t < best[i] ? t : best[i];
        }
}

// ----------------------------------------------------------------------------
// machine DGEMM rate and the candidate methods (--explore)

static double dgemm_rate(int reps)
{
    const int n = 1536;
    double *a = bench_xmalloc(sizeof(double) * n * n), *b = bench_xmalloc(sizeof(double) * n * n),
           *c = bench_xmalloc(sizeof(double) * n * n);
    for (int i = 0; i < n * n; i++)
        a[i] = b[i] = xs64_gauss(&rng);
    double best = INFINITY;
    for (int r = 0; r < reps; r++) {
        double t = bench_now();
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, a, n, b, n, 0.0, c, n);
        t = bench_now() - t;
        best = t < best ? t : best;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * n * n * n / best * 1e-9;
}

enum { C_GESDD, C_QR_GESDD, C_SYRK, C_GEMM, C_SYEV, C_SYEVD, C_SYEVR, C_SYEV2, C_SYEVD2, C_SYEVR2,
       NCAND };
static const char *const cand_name[NCAND] = {
    "dgesdd", "qr+gesdd", "dsyrk", "dgemm(G)", "dsyev", "dsyevd", "dsyevr",
    "dsyev_2st", "dsyevd_2st", "dsyevr_2st"};

/* Times one candidate on x: the Gram variants on a Gram matrix g prepared
 * by dsyrk (copied into g2 first); ms of the call only. */
static double cand_time(int c, const mat *x, double *scratch, double *g, double *g2, double *w,
                        lapack_int *iw)
{
    int m = x->m, n = x->n, k = m < n ? m : n, l = m < n ? n : m;
    lapack_int found = 0;
    memcpy(scratch, x->w, sizeof(double) * (size_t)m * n);
    if (c >= C_SYEV)
        memcpy(g2, g, sizeof(double) * (size_t)k * k);
    double t = bench_now();
    lapack_int info = 0;
    switch (c) {
    case C_GESDD:
        info = LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', n, m, scratch, n, w, NULL, 1, NULL, 1);
        break;
    case C_QR_GESDD: {
        /* Column-major A = W^T is n x m: QR of its long side (LQ when W is
         * tall), then dgesdd of the k x k triangle. */
        double *tau = bench_xmalloc(sizeof(double) * k), *r = calloc((size_t)k * k, sizeof(double));
        if (m >= n)
            info = LAPACKE_dgelqf(LAPACK_COL_MAJOR, n, m, scratch, n, tau);
        else
            info = LAPACKE_dgeqrf(LAPACK_COL_MAJOR, n, m, scratch, n, tau);
        for (int j = 0; j < k; j++)
            for (int i = 0; i < k; i++)
                if (m >= n ? i >= j : i <= j)
                    r[i + (size_t)j * k] = scratch[i + (size_t)j * n];
        info |= LAPACKE_dgesdd(LAPACK_COL_MAJOR, 'N', k, k, r, k, w, NULL, 1, NULL, 1);
        free(tau);
        free(r);
        break;
    }
    case C_SYRK:
        cblas_dsyrk(CblasColMajor, CblasLower, m >= n ? CblasNoTrans : CblasTrans, k, l, 1.0,
                    scratch, n, 0.0, g2, k);
        break;
    case C_GEMM:
        if (m >= n)
            cblas_dgemm(CblasColMajor, CblasNoTrans, CblasTrans, k, k, l, 1.0, scratch, n,
                        scratch, n, 0.0, g2, k);
        else
            cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, k, k, l, 1.0, scratch, n,
                        scratch, n, 0.0, g2, k);
        break;
    case C_SYEV: info = LAPACKE_dsyev(LAPACK_COL_MAJOR, 'N', 'L', k, g2, k, w); break;
    case C_SYEVD: info = LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'N', 'L', k, g2, k, w); break;
    case C_SYEVR:
        info = LAPACKE_dsyevr(LAPACK_COL_MAJOR, 'N', 'A', 'L', k, g2, k, 0, 0, 0, 0, 0, &found, w,
                              NULL, 1, iw);
        break;
    case C_SYEV2: info = LAPACKE_dsyev_2stage(LAPACK_COL_MAJOR, 'N', 'L', k, g2, k, w); break;
    case C_SYEVD2: info = LAPACKE_dsyevd_2stage(LAPACK_COL_MAJOR, 'N', 'L', k, g2, k, w); break;
    case C_SYEVR2:
        info = LAPACKE_dsyevr_2stage(LAPACK_COL_MAJOR, 'N', 'A', 'L', k, g2, k, 0, 0, 0, 0, 0,
                                     &found, w, NULL, 1, iw);
        break;
    }
    t = bench_now() - t;
    if (info != 0) {
        fprintf(stderr, "bench_svd: %s failed (info %d)\n", cand_name[c], (int)info);
        exit(1);
    }
    return 1e3 * t;
}

static void explore(mat *ms, int per, int reps)
{
    printf("candidates, ms per call (first matrix of each shape, 1 thread, best of %d);\n"
           "Gram = dsyrk + one eigensolver (values only)\n%-10s", reps, "shape");
    for (int c = 0; c < NCAND; c++)
        printf(" %10s", cand_name[c]);
    printf("\n");
    for (int s = 0; s < NSHAPES; s++) {
        const mat *x = &ms[s * per];
        int k = x->m < x->n ? x->m : x->n;
        double *scratch = bench_xmalloc(sizeof(double) * (size_t)x->m * x->n);
        double *g = bench_xmalloc(sizeof(double) * (size_t)k * k), *g2 = bench_xmalloc(sizeof(double) * (size_t)k * k);
        double *w = bench_xmalloc(sizeof(double) * k);
        lapack_int *iw = bench_xmalloc(sizeof(lapack_int) * 2 * (size_t)k);
        cblas_dsyrk(CblasColMajor, CblasLower, x->m >= x->n ? CblasNoTrans : CblasTrans, k,
                    x->m < x->n ? x->n : x->m, 1.0, x->w, x->n, 0.0, g, k);
        char label[32];
        snprintf(label, sizeof label, "%dx%d", x->m, x->n);
        printf("%-10s", label);
        for (int c = 0; c < NCAND; c++) {
            double best = INFINITY;
            for (int r = 0; r < reps; r++) {
                double t = cand_time(c, x, scratch, g, g2, w, iw);
                best = t < best ? t : best;
            }
            printf(" %10.2f", best);
        }
        printf("\n");
        free(scratch);
        free(g);
        free(g2);
        free(w);
        free(iw);
    }
}

// ----------------------------------------------------------------------------

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_svd [--per-shape N] [--reps R] [--seed S] [--raw FILE] "
               "[--summary FILE] [--explore] [--rel R]\n");
}

static int parse_int(const char *s, int lo, int hi)
{
    int64_t v;
    if (!rw_parse_i64(s, &v) || v < lo || v > hi) {
        fprintf(stderr, "bench_svd: '%s' is not a number in [%d, %d]\n", s, lo, hi);
        usage(stderr);
        exit(2);
    }
    return (int)v;
}

int main(int argc, char **argv)
{
    int per = 4, reps = 3, seed = 1, do_explore = 0;
    const char *raw = NULL, *summary = NULL;
    static const struct option opts[] = {
        {"per-shape", required_argument, NULL, 'p'}, {"reps", required_argument, NULL, 'r'},
        {"seed", required_argument, NULL, 's'},      {"raw", required_argument, NULL, 'w'},
        {"summary", required_argument, NULL, 'o'},   {"explore", no_argument, NULL, 'e'},
        {"rel", required_argument, NULL, 'R'},
        {"help", no_argument, NULL, 'h'},            {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'p': per = parse_int(optarg, 1, 100); break;
        case 'r': reps = parse_int(optarg, 1, 100); break;
        case 's': seed = parse_int(optarg, 0, 1 << 30); break;
        case 'w': raw = optarg; break;
        case 'o': summary = optarg; break;
        case 'e': do_explore = 1; break;
        case 'R': g_rel = strtod(optarg, NULL); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    rng = 0x9e3779b97f4a7c15ULL ^ (uint64_t)seed;
    /* Every BLAS call single-threaded: the reference, rankwatch, and the
     * mix's workers (parallelism comes from running matrices side by side). */
    rw_blas_set_threads(1);

    int nm = NSHAPES * per;
    mat *ms = calloc((size_t)nm, sizeof *ms);
    size_t held = 0, maxnumel = 0;
    if (!ms)
        return 1;
    for (int s = 0; s < NSHAPES; s++)
        for (int j = 0; j < per; j++) {
            mat *x = &ms[s * per + j];
            generate(x, shapes[s][0], shapes[s][1]);
            size_t numel = (size_t)x->m * x->n;
            held += numel * sizeof(double);
            maxnumel = numel > maxnumel ? numel : maxnumel;
        }
    if (raw)
        write_raw(raw, ms, nm);
    double *scratch[2] = {bench_xmalloc(sizeof(double) * maxnumel), bench_xmalloc(sizeof(double) * maxnumel)};
    double *sigbuf[2] = {bench_xmalloc(sizeof(double) * 3072), bench_xmalloc(sizeof(double) * 3072)};

    if (do_explore) {
        explore(ms, per, reps);
        free_mats(ms, nm);
        for (int i = 0; i < 2; i++) {
            free(scratch[i]);
            free(sigbuf[i]);
        }
        return 0;
    }

    double gemm = dgemm_rate(reps);
    printf("matrices: %d shapes x %d, float32-stored, seed %d; times best of %d; 1 BLAS thread "
           "per worker\n", NSHAPES, per, seed, reps);
    printf("machine: %ld CPUs, OpenBLAS %s; DGEMM 1536^3, 1 thread: %.1f GFLOP/s\n",
           sysconf(_SC_NPROCESSORS_ONLN), openblas_get_corename(), gemm);
    double load[3] = {NAN, NAN, NAN};
    if (getloadavg(load, 3) > 0)
        printf("load average before the run: %.2f (other work on the machine skews timings)\n",
               load[0]);
    printf("err: worst max_i |sigma_i - sigma_i(dgesdd)| / (eps32 ||W||_F), the contract is <= 1\n");
    printf("%-10s %9s %9s %7s %9s %9s %8s  %s\n", "shape", "dgesdd_ms", "rw_ms", "speedup",
           "worst_err", "ref_GF/s", "rw_GF/s", "methods");

    /* Per shape: every matrix by both ways, best of reps each. */
    rw_svd_ws *ws[2] = {rw_svd_ws_new(), rw_svd_ws_new()};
    if (!ws[0] || !ws[1])
        return 1;
    int broken = 0;
    double total_ref = 0, total_rw = 0;
    for (int s = 0; s < NSHAPES; s++) {
        double tref = 0, trw = 0, fref = 0, frw = 0, worst = 0;
        int count[RW_SVD_METHOD_COUNT] = {0};
        for (int j = 0; j < per; j++) {
            mat *x = &ms[s * per + j];
            double l = x->m > x->n ? x->m : x->n, k = x->m < x->n ? x->m : x->n;
            double bref = INFINITY, brw = INFINITY;
            for (int r = 0; r < reps; r++) {
                double t;
                run_one(REF, x, scratch[0], x->ref, NULL, &t);
                bref = t < bref ? t : bref;
                x->method = run_one(RW, x, scratch[0], x->sig1, ws[0], &t);
                brw = t < brw ? t : brw;
            }
            count[x->method]++;
            tref += bref;
            trw += brw;
            fref += gesdd_flops(l, k);
            frw += method_flops(x->method, l, k);
            double e = 0;
            for (int i = 0; i < (int)k; i++)
                e = fmax(e, fabs(x->sig1[i] - x->ref[i]));
            e /= 0x1p-23 * x->fro;
            worst = fmax(worst, e);
            if (!(e <= 1)) {
                fprintf(stderr, "bench_svd: %dx%d #%d breaks the contract: error %.3g of the bound\n",
                        x->m, x->n, j, e);
                broken = 1;
            }
        }
        total_ref += tref;
        total_rw += trw;
        char label[32], meth[64] = "";
        snprintf(label, sizeof label, "%dx%d", shapes[s][0], shapes[s][1]);
        for (int m = RW_SVD_ZERO; m < RW_SVD_METHOD_COUNT; m++)
            if (count[m]) {
                size_t len = strlen(meth);
                snprintf(meth + len, sizeof meth - len, "%s%s %d", len ? ", " : "",
                         rw_svd_method_name((rw_svd_method)m), count[m]);
            }
        printf("%-10s %9.2f %9.2f %6.2fx %9.2g %9.1f %8.1f  %s\n", label, 1e3 * tref / per,
               1e3 * trw / per, tref / trw, worst, fref / tref * 1e-9, frw / trw * 1e-9, meth);
    }
    printf("%-10s %9.2f %9.2f %6.2fx   (sum over the shapes' means)\n", "all",
           1e3 * total_ref / per, 1e3 * total_rw / per, total_ref / total_rw);

    /* The whole mix, biggest first (longest-processing-time order). */
    queue q = {.ms = ms, .nm = nm};
    q.order = bench_xmalloc(sizeof(int) * nm);
    for (int i = 0; i < nm; i++)
        q.order[i] = i;
    for (int i = 1; i < nm; i++)
        for (int j = i; j > 0; j--) {
            const mat *a = &ms[q.order[j - 1]], *b = &ms[q.order[j]];
            double ca = gram_flops(a->m > a->n ? a->m : a->n, a->m < a->n ? a->m : a->n);
            double cb = gram_flops(b->m > b->n ? b->m : b->n, b->m < b->n ? b->m : b->n);
            if (ca >= cb)
                break;
            int t = q.order[j];
            q.order[j] = q.order[j - 1];
            q.order[j - 1] = t;
        }
    worker wk[2];
    for (int i = 0; i < 2; i++)
        wk[i] = (worker){&q, ws[i], scratch[i], sigbuf[i]};
    double best[4];
    mix_runs(&q, wk, reps, best);
    double ref1 = best[0], ref2 = best[1], rw1 = best[2], rw2 = best[3];
    int same = 1;
    for (int i = 0; i < nm; i++) {
        int k = ms[i].m < ms[i].n ? ms[i].m : ms[i].n;
        same &= memcmp(ms[i].sig1, ms[i].sig2, sizeof(double) * k) == 0;
    }
    printf("mix of %d matrices, 1 worker:  dgesdd %.3f s, rankwatch %.3f s: %.2fx faster "
           "(target 2.5x: %s); %.1f matrices/s\n", nm, ref1, rw1, ref1 / rw1,
           ref1 / rw1 >= 2.5 ? "met" : "MISSED", nm / rw1);
    printf("mix, 2 workers:  dgesdd %.3f s (%.2fx over 1), rankwatch %.3f s: %.2fx over 1 worker "
           "(target 1.8x: %s); %.1f matrices/s\n", ref2, ref1 / ref2, rw2, rw1 / rw2,
           rw1 / rw2 >= 1.8 ? "met" : "MISSED", nm / rw2);
    printf("2-worker results identical to 1-worker, bit for bit: %s; contract: %s\n",
           same ? "yes" : "NO", broken ? "BROKEN" : "held for every matrix");
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("peak RSS %.0f MiB (matrices held %.0f MiB; SVD workspace %.1f MiB per worker)\n",
           ru.ru_maxrss / 1024.0, held / 1048576.0, rw_svd_ws_size(ws[0]) / 1048576.0);
    if (summary) {
        FILE *f = fopen(summary, "w");
        if (!f || fprintf(f, "ref1=%.6f\nrw1=%.6f\nrw2=%.6f\nreps=%d\n", ref1, rw1, rw2, reps) < 0 ||
            fclose(f) != 0) {
            perror(summary);
            return 1;
        }
    }
    free_mats(ms, nm);
    free(q.order);
    for (int i = 0; i < 2; i++) {
        free(scratch[i]);
        free(sigbuf[i]);
        rw_svd_ws_free(ws[i]);
    }
    return broken || !same;
}
