/*
 * bench_util.h — the clock and the allocation of the benchmark programs
 * (tests/bench_svd.c, tests/bench_large.c); not part of any test.
 */
#ifndef RW_BENCH_UTIL_H
#define RW_BENCH_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* Seconds on the monotonic clock. */
static inline double bench_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* malloc that exits with a message on failure (the caller frees). */
static inline void *bench_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "bench: out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

#endif
