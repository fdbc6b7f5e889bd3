/*
 * bench_wide.c — the checkpoints of tests/bench_mpi.sh (`make bench`): a
 * run of N HDF5 checkpoints of a 4096-wide model, each holding two float32
 * matrices, layers.0.attention.q_proj.weight (4096 x 4096) and
 * layers.0.swiglu.w_0.weight (11008 x 4096), of seeded Gaussian entries
 * scaled by 1/64 (Marchenko–Pastur spectra), with a step attribute.
 *
 *   bench_wide DIR N [SEED]     writes DIR/step_000000.h5 ... (step 100 i)
 *
 * Exit status 1 when a file cannot be written, 2 on misuse.
 */
#include "fixtures/h5write.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* splitmix64, then Box–Muller: a fixed stream for a seed. */
static uint64_t next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static double gauss(uint64_t *s)
{
    double u = ((double)(next(s) >> 11) + 0.5) / 9007199254740992.0;
    double v = (double)(next(s) >> 11) / 9007199254740992.0;
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

int main(int argc, char **argv)
{
    if (argc < 3 || argc > 4 || atoi(argv[2]) < 1) {
        fprintf(stderr, "usage: bench_wide DIR N [SEED]\n");
        return 2;
    }
    const char *dir = argv[1];
    int n = atoi(argv[2]);
    uint64_t seed = argc == 4 ? strtoull(argv[3], NULL, 10) : 1;
    static const struct {
        const char *name;
        int64_t shape[2];
    } mats[] = {{"layers.0.attention.q_proj.weight", {4096, 4096}},
                {"layers.0.swiglu.w_0.weight", {11008, 4096}}};
    double *v = malloc((size_t)11008 * 4096 * sizeof *v);
    if (!v || (mkdir(dir, 0777) != 0 && access(dir, W_OK) != 0)) {
        fprintf(stderr, "bench_wide: %s: cannot write there\n", dir);
        return 1;
    }
    for (int c = 0; c < n; c++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/step_%06d.h5", dir, 100 * c);
        rw_err err = {{0}};
        rw_h5w *h = NULL;
        rw_status st = h5w_open(path, &h, &err);
        for (size_t m = 0; m < 2 && st == RW_OK; m++) {
            size_t numel = (size_t)(mats[m].shape[0] * mats[m].shape[1]);
            uint64_t s = seed * 1000003ULL + (uint64_t)c * 7919ULL + m;
            for (size_t i = 0; i < numel; i++)
                v[i] = gauss(&s) / 64;
            st = h5w_dataset(h, mats[m].name, 2, mats[m].shape, RW_DT_F32, v, 0, &err);
        }
        if (st == RW_OK)
            st = h5w_attr_i64(h, "/", "step", 100 * c, &err);
        if (h) {
            rw_status cst = h5w_close(h, st == RW_OK, &err);
            if (st == RW_OK)
                st = cst;
        }
        if (st != RW_OK) {
            fprintf(stderr, "bench_wide: %s\n", err.msg);
            free(v);
            return 1;
        }
    }
    free(v);
    return 0;
}
