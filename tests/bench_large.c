/*
 * bench_large.c — one large matrix timed through rankwatch's SVD engine,
 * for tests/bench_large.sh (`make bench`; never part of `make check`).
 *
 *   bench_large --shape MxN [--reps R] [--threads T] [--seed S] [--raw FILE]
 *               [--values FILE]
 *   bench_large --dgemm [--threads T]
 *
 * The matrix: float32-stored, N(0, 0.02^2) noise (its singular values fill
 * the Marchenko-Pastur interval, a random square matrix's sigma_min near
 * 0.02 / sqrt k) plus 64 rank-one outliers s_j a_j b_j^T with s_j decaying
 * as j^-0.7 from 6x the bulk's edge: the shape of a trained weight
 * matrix's spectrum, generated in O(mn 64) (no orthogonal factors).
 *
 * Prints key=value lines: the default exact mode (rel = RW_SVD_REL_DEFAULT)
 * and --fast's (rel = 0) best time of R (the call alone, on a fresh copy),
 * method and the bound; with T BLAS threads (one matrix, the threads inside
 * it). --raw writes the matrix (int64 rows, int64 cols, rows*cols float32,
 * row-major, little-endian) for the Python peers; --values writes both
 * value vectors (k doubles each, exact then fast) for their comparison
 * with scipy's dgesdd. --dgemm prints the DGEMM rate of a 2048^3 product
 * (best of 3) at T threads.
 */
#include <cblas.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analyzers/core/spectral.h"
#include "fixtures/synth.h"
#include "tests/bench_util.h"


static void generate(double *w, int m, int n, uint64_t seed)
{
    uint64_t rng = seed;
    const double tau = 0.02;
    int k = m < n ? m : n, l = m < n ? n : m, r = 64;
    size_t numel = (size_t)m * (size_t)n;
    for (size_t i = 0; i < numel; i++)
        w[i] = tau * xs64_gauss(&rng);
    double *a = bench_xmalloc(sizeof(double) * (size_t)m * r), *b = bench_xmalloc(sizeof(double) * (size_t)n * r);
    double edge = tau * (sqrt((double)l) + sqrt((double)k));
    for (int j = 0; j < r; j++) {
        double s = 6 * edge * pow(1 + j, -0.7);
        for (int i = 0; i < m; i++)
            a[(size_t)i * r + j] = s * xs64_gauss(&rng) / sqrt((double)m);
        for (int i = 0; i < n; i++)
            b[(size_t)i * r + j] = xs64_gauss(&rng) / sqrt((double)n);
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, r, 1.0, a, r, b, r, 1.0, w, n);
    for (size_t i = 0; i < numel; i++)
        w[i] = (double)(float)w[i];
    free(a);
    free(b);
}

static void dgemm_rate(int threads)
{
    const int n = 2048;
    size_t nn = (size_t)n * n;
    double *a = bench_xmalloc(sizeof(double) * nn), *b = bench_xmalloc(sizeof(double) * nn),
           *c = bench_xmalloc(sizeof(double) * nn), best = INFINITY;
    uint64_t rng = 5;
    for (size_t i = 0; i < nn; i++) {
        a[i] = xs64_uniform(&rng);
        b[i] = xs64_uniform(&rng);
    }
    for (int r = 0; r < 3; r++) {
        double t = bench_now();
        cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, a, n, b, n, 0.0, c,
                    n);
        best = fmin(best, bench_now() - t);
    }
    printf("dgemm_threads=%d\ndgemm_gflops=%.2f\n", threads, 2.0 * n * n * n / best * 1e-9);
    free(a);
    free(b);
    free(c);
}

static void write_file(const char *path, const void *p, size_t bytes, const void *head,
                       size_t hbytes)
{
    FILE *f = fopen(path, "wb");
    if (!f || (hbytes && fwrite(head, 1, hbytes, f) != hbytes) ||
        fwrite(p, 1, bytes, f) != bytes || fclose(f) != 0) {
        fprintf(stderr, "bench_large: cannot write %s\n", path);
        exit(1);
    }
}

static int parse_int(const char *s, int lo, int hi)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || v < lo || v > hi) {
        fprintf(stderr, "bench_large: bad number %s\n", s);
        exit(2);
    }
    return (int)v;
}

int main(int argc, char **argv)
{
    int m = 0, n = 0, reps = 1, threads = 1, dgemm = 0;
    uint64_t seed = 1;
    const char *raw = NULL, *values = NULL;
    static const struct option opts[] = {
        {"shape", required_argument, 0, 's'}, {"reps", required_argument, 0, 'r'},
        {"threads", required_argument, 0, 't'}, {"seed", required_argument, 0, 'S'},
        {"raw", required_argument, 0, 'w'}, {"values", required_argument, 0, 'v'},
        {"dgemm", no_argument, 0, 'd'}, {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 's':
            if (sscanf(optarg, "%dx%d", &m, &n) != 2 || m < 1 || n < 1 || m > 65536 ||
                n > 65536) {
                fprintf(stderr, "bench_large: bad shape %s (MxN)\n", optarg);
                return 2;
            }
            break;
        case 'r': reps = parse_int(optarg, 1, 100); break;
        case 't': threads = parse_int(optarg, 1, 256); break;
        case 'S': seed = (uint64_t)parse_int(optarg, 1, 1 << 30); break;
        case 'w': raw = optarg; break;
        case 'v': values = optarg; break;
        case 'd': dgemm = 1; break;
        default:
            fprintf(stderr, "usage: bench_large --shape MxN [--reps R] [--threads T] "
                            "[--seed S] [--raw FILE] [--values FILE] | --dgemm [--threads T]\n");
            return 2;
        }
    }
    rw_blas_set_threads(threads);
    if (dgemm) {
        dgemm_rate(threads);
        return 0;
    }
    if (!m) {
        fprintf(stderr, "bench_large: --shape or --dgemm needed\n");
        return 2;
    }
    int k = m < n ? m : n;
    size_t numel = (size_t)m * (size_t)n;
    double *w = bench_xmalloc(sizeof(double) * numel), *a = bench_xmalloc(sizeof(double) * numel);
    double *sig = bench_xmalloc(sizeof(double) * 2 * (size_t)k);
    generate(w, m, n, seed);
    if (raw) {
        float *f = bench_xmalloc(sizeof(float) * numel);
        for (size_t i = 0; i < numel; i++)
            f[i] = (float)w[i];
        int64_t head[2] = {m, n};
        write_file(raw, f, sizeof(float) * numel, head, sizeof head);
        free(f);
    }
    rw_svd_ws *ws = rw_svd_ws_new();
    if (!ws) {
        fprintf(stderr, "bench_large: out of memory\n");
        return 1;
    }
    printf("shape=%dx%d\nthreads=%d\nreps=%d\n", m, n, threads, reps);
    const char *mode[2] = {"exact", "fast"};
    for (int md = 0; md < 2; md++) {
        double best = INFINITY;
        rw_svd_info info = {RW_SVD_NONE, NAN};
        for (int r = 0; r < reps; r++) {
            memcpy(a, w, sizeof(double) * numel);
            rw_err err;
            double t = bench_now();
            if (rw_svd_values_acc(a, m, n, RW_DT_F32, md ? 0 : RW_SVD_REL_DEFAULT,
                                  sig + (size_t)md * k, ws, &info, &err) != RW_OK) {
                fprintf(stderr, "bench_large: %s\n", err.msg);
                return 1;
            }
            best = fmin(best, bench_now() - t);
        }
        printf("rw_%s_s=%.4f\nrw_%s_method=%s\nrw_%s_bound=%.3g\n", mode[md], best, mode[md],
               rw_svd_method_name(info.method), mode[md], info.err_bound);
    }
    printf("ws_mib=%.1f\n", (double)rw_svd_ws_size(ws) / (1 << 20));
    if (values)
        write_file(values, sig, sizeof(double) * 2 * (size_t)k, NULL, 0);
    rw_svd_ws_free(ws);
    free(w);
    free(a);
    free(sig);
    return 0;
}
