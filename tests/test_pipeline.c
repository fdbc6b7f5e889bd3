/*
 * test_pipeline.c — rw_analyze's workers: -j far beyond the work starts no
 * more threads than there are matrices, and never more than rw_max_jobs();
 * the spectra are the same whatever -j is. The updates of adapter-only
 * (PEFT) checkpoints, against singular values and entry metrics (gini,
 * hoyer, max_abs) worked out by hand. The claim hook (rw-spectra-mpi's)
 * splits the work without losing or repeating a spectrum.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <sched.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyzers/core/pipeline.h"
#include "fixtures/stwrite.h"
#include "fixtures/synth.h"
#include "tests/testutil.h"

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    return test_tmpdir_make(tmpdir, sizeof tmpdir, "pipeline");
}

static int teardown(void **state)
{
    (void)state;
    return test_tmpdir_remove(tmpdir);
}

/* Threads of this process now (Linux: entries of /proc/self/task), or -1. */
static int threads_now(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* What the callback sees: the most threads alive while spectra arrive, and
 * the spectra themselves (sigma_1 of each, in order). */
typedef struct {
    int max_threads;
    size_t n;
    double sigma1[512];
} seen;

static rw_status on_spectrum(const rw_spectrum *s, void *ctx, rw_err *err)
{
    (void)err;
    seen *v = ctx;
    int t = threads_now();
    if (t > v->max_threads)
        v->max_threads = t;
    if (v->n < sizeof v->sigma1 / sizeof *v->sigma1)
        v->sigma1[v->n] = s->k ? s->sigma[0] : 0;
    v->n++;
    return RW_OK;
}

static void analyze(const char *source, int jobs, seen *v)
{
    rw_runset rs = {0};
    rw_err err = {{0}};
    assert_int_equal(runset_add(&rs, source, NULL, &err), RW_OK);
    assert_int_equal(runset_finish(&rs, &err), RW_OK);
    rw_analysis_opts o = {.weights = true, .prog = "test", .jobs = jobs};
    memset(v, 0, sizeof *v);
    rw_status st = rw_analyze(&rs, &o, on_spectrum, v, &err);
    if (st != RW_OK)
        print_error("%s\n", err.msg);
    assert_int_equal(st, RW_OK);
    runset_free(&rs);
}

/* One 4 x 6 matrix and -j 64: one worker besides the main thread, not 64. */
static void one_matrix_one_worker(void **state)
{
    (void)state;
    if (threads_now() < 0)
        skip();
    char path[512];
    snprintf(path, sizeof path, "%s/one.safetensors", tmpdir);
    rw_stw *w = stw_new();
    rw_err err = {{0}};
    double v[24];
    for (int i = 0; i < 24; i++)
        v[i] = (i * 7 % 11) - 5.0;
    int64_t shape[2] = {4, 6};
    assert_int_equal(stw_tensor(w, "layers.0.w.weight", 2, shape, RW_DT_F32, v, &err), RW_OK);
    assert_int_equal(stw_save(w, path, &err), RW_OK);
    stw_free(w);

    int before = threads_now();
    seen s1, s64;
    analyze(path, 1, &s1);
    analyze(path, 64, &s64);
    assert_int_equal(s64.n, 1);
    assert_true(s64.max_threads - before <= 1);
    assert_true(s1.sigma1[0] == s64.sigma1[0]);
}

/* The full-rank fixture run of that many layers and checkpoints (every 100
 * steps) in tmpdir/name: its folder in run. */
static void full_rank_run(const char *name, int layers, int steps, char *run, size_t n)
{
    synth_runs_opts o;
    synth_runs_defaults(&o);
    o.layers = layers;
    o.steps = steps;
    o.every = 100;
    o.cycle = steps;
    rw_err err = {{0}};
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, name);
    assert_int_equal(synth_write_runs(dir, &o, &err), RW_OK);
    snprintf(run, n, "%s/full-rank", dir);
}

/* A run of 32 matrices and -j 1000: at most rw_max_jobs() workers (8 on 2
 * cores), and the same spectra, in the same order, as -j 1. */
static void many_matrices_capped(void **state)
{
    (void)state;
    if (threads_now() < 0)
        skip();
    char run[600];
    full_rank_run("runs", 2, 100, run, sizeof run);

    int before = threads_now();
    static seen s1, sn;
    analyze(run, 1, &s1);
    analyze(run, 1000, &sn);
    /* a worker per matrix at most, and at most the cap */
    size_t cap = sn.n < (size_t)rw_max_jobs() ? sn.n : (size_t)rw_max_jobs();
    assert_true(sn.max_threads - before <= (int)cap);
    assert_int_equal(s1.n, sn.n);
    for (size_t i = 0; i < s1.n && i < 512; i++)
        assert_true(s1.sigma1[i] == sn.sigma1[i]);
}

/* The default -j follows the process's affinity mask (taskset, Slurm,
 * mpirun's binding), not the cores online: one core allowed, one worker;
 * the cap is 4 per allowed core. Restored afterwards. */
static void default_jobs_follow_affinity(void **state)
{
    (void)state;
    cpu_set_t all, one;
    if (sched_getaffinity(0, sizeof all, &all) != 0)
        skip();
    int allowed = CPU_COUNT(&all), first = -1;
    assert_int_equal(rw_default_jobs(), allowed > 64 ? 64 : allowed);
    for (int c = 0; c < CPU_SETSIZE && first < 0; c++)
        if (CPU_ISSET(c, &all))
            first = c;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    assert_int_equal(sched_setaffinity(0, sizeof one, &one), 0);
    int jobs = rw_default_jobs(), cap = rw_max_jobs();
    assert_int_equal(sched_setaffinity(0, sizeof all, &all), 0);
    assert_int_equal(jobs, 1);
    assert_int_equal(cap, 4);
}

/* ------------------------------------------------ adapter-only updates */

/* One spectrum as the callback saw it. */
typedef struct {
    int64_t step, ref_step;
    char component[8], tensor[32];
    rw_kind kind;
    double ref_fro, sigma[4];
    size_t k;
    bool has_es;
    rw_entry_stats es;
} got_spec;

typedef struct {
    got_spec v[32];
    size_t n;
} got;

static rw_status on_got(const rw_spectrum *s, void *ctx, rw_err *err)
{
    (void)err;
    got *g = ctx;
    if (g->n < 32 && s->k <= 4) {
        got_spec *x = &g->v[g->n++];
        *x = (got_spec){.step = s->step, .ref_step = s->ref_step, .kind = s->kind,
                        .ref_fro = s->ref_fro, .k = s->k, .has_es = s->entries != NULL};
        if (s->entries)
            x->es = *s->entries;
        snprintf(x->component, sizeof x->component, "%s", s->component);
        snprintf(x->tensor, sizeof x->tensor, "%s", s->tensor);
        memcpy(x->sigma, s->sigma, s->k * sizeof *s->sigma);
    }
    return RW_OK;
}

static const got_spec *find_got(const got *g, const char *tensor, const char *comp, rw_kind kind)
{
    for (size_t i = 0; i < g->n; i++)
        if (!strcmp(g->v[i].tensor, tensor) && g->v[i].kind == kind &&
            !strcmp(g->v[i].component, comp))
            return &g->v[i];
    return NULL;
}

/* checkpoint-STEP/adapter_model.safetensors of layers.0.q (r = 2, 4 x 4)
 * and layers.1.k (r = 2, 3 x 2), float64, and its adapter_config.json
 * (lora_alpha 4: s = 2). */
static void write_adapter(const char *run, int step, const double *a, const double *b,
                          const double *ka, const double *kb)
{
    char dir[600], path[700];
    snprintf(dir, sizeof dir, "%s/checkpoint-%d", run, step);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("{\"r\": 2, \"lora_alpha\": 4, \"peft_type\": \"LORA\"}\n", f);
    assert_int_equal(fclose(f), 0);
    rw_stw *w = stw_new();
    rw_err err = {{0}};
    int64_t sa[2] = {2, 4}, sb[2] = {4, 2}, ska[2] = {2, 2}, skb[2] = {3, 2};
    assert_int_equal(stw_tensor(w, "layers.0.q.lora_A.weight", 2, sa, RW_DT_F64, a, &err), RW_OK);
    assert_int_equal(stw_tensor(w, "layers.0.q.lora_B.weight", 2, sb, RW_DT_F64, b, &err), RW_OK);
    assert_int_equal(stw_tensor(w, "layers.1.k.lora_A.weight", 2, ska, RW_DT_F64, ka, &err), RW_OK);
    assert_int_equal(stw_tensor(w, "layers.1.k.lora_B.weight", 2, skb, RW_DT_F64, kb, &err), RW_OK);
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    assert_int_equal(stw_save(w, path, &err), RW_OK);
    stw_free(w);
}

static void sigma_is(const got_spec *x, const double *want, size_t k)
{
    assert_non_null(x);
    assert_int_equal(x->k, k);
    for (size_t i = 0; i < k; i++)
        if (fabs(x->sigma[i] - want[i]) > 1e-12)
            fail_msg("step %lld %s %s %s: sigma_%zu is %.17g, expected %g", (long long)x->step,
                     x->tensor, x->component, rw_kind_name(x->kind), i + 1, x->sigma[i], want[i]);
}

/* Two adapter-only checkpoints, s = 2. layers.0.q (4 x 4):
 *   step 1: B0 A0 = diag(1, 1, 0, 0)  (A0 = [e1; e2], B0 = [e1 e2])
 *   step 2: B1 A1 = diag(3, 0, 1, 0)  (A1 = [3 e1; e3], B1 = [e1 e3])
 * lora's update at step 2 is s B1 A1 = diag(6, 0, 2, 0): sigma 6, 2, 0, 0;
 * since the first step, s (B1 A1 - B0 A0) = diag(4, -2, 2, 0): sigma 4, 2,
 * 2, 0 — rank 3 > r, which s B1 A1 alone cannot have — measured against
 * ||s B0 A0||_F = sqrt(8) (from the factors: 2 r <= 4). layers.1.k (3 x 2,
 * 2 r > 2: the 3 x 2 difference formed): A0 = A1 = I, B0 = [e1 e2],
 * B1 = [3 e1, 2 e3]; s (B1 - B0) = [[4, 0], [0, -2], [0, 4]], orthogonal
 * columns: sigma sqrt(20), 4, against ||s B0||_F = 2 sqrt(2). With a base W
 * (the same at both steps), full's update since the first step is the same
 * matrix: W cancels. The first step has no update of either kind. */
static void adapter_only_from_first(void **state)
{
    (void)state;
    char run[600], base[600];
    snprintf(run, sizeof run, "%s/peft", tmpdir);
    assert_int_equal(mkdir(run, 0755), 0);
    static const double a0[8] = {1, 0, 0, 0, 0, 1, 0, 0}, b0[8] = {1, 0, 0, 1, 0, 0, 0, 0};
    static const double a1[8] = {3, 0, 0, 0, 0, 0, 1, 0}, b1[8] = {1, 0, 0, 0, 0, 1, 0, 0};
    static const double ka[4] = {1, 0, 0, 1}, kb0[6] = {1, 0, 0, 1, 0, 0},
                        kb1[6] = {3, 0, 0, 0, 0, 2};
    write_adapter(run, 1, a0, b0, ka, kb0);
    write_adapter(run, 2, a1, b1, ka, kb1);
    snprintf(base, sizeof base, "%s/base.safetensors", tmpdir);
    double w[16];
    for (int i = 0; i < 16; i++)
        w[i] = (i * 5 % 7) - 3.0;
    rw_stw *sw = stw_new();
    rw_err err = {{0}};
    int64_t shape[2] = {4, 4};
    int64_t kshape[2] = {3, 2};
    assert_int_equal(stw_tensor(sw, "layers.0.q.weight", 2, shape, RW_DT_F64, w, &err), RW_OK);
    assert_int_equal(stw_tensor(sw, "layers.1.k.weight", 2, kshape, RW_DT_F64, w, &err), RW_OK);
    assert_int_equal(stw_save(sw, base, &err), RW_OK);
    stw_free(sw);

    static const double upd2[4] = {6, 2, 0, 0}, first2[4] = {4, 2, 2, 0};
    const double kupd2[2] = {6, 4}, kfirst2[2] = {sqrt(20), 4};
    for (int with_base = 0; with_base < 2; with_base++) {
        rw_runset rs = {0};
        assert_int_equal(runset_add(&rs, run, NULL, &err), RW_OK);
        assert_int_equal(runset_finish(&rs, &err), RW_OK);
        rw_analysis_opts o = {.updates = true, .from_first = true, .prog = "test", .jobs = 1,
                              .comps = RW_COMP_BIT(RW_COMP_LORA) | RW_COMP_BIT(RW_COMP_FULL),
                              .entries = true};
        o.item.lora_scale = NAN;
        o.item.base = with_base ? base : NULL;
        static got g;
        memset(&g, 0, sizeof g);
        rw_status st = rw_analyze(&rs, &o, on_got, &g, &err);
        if (st != RW_OK)
            fail_msg("%s", err.msg);
        runset_free(&rs);
        assert_int_equal(g.n, with_base ? 8 : 4);
        for (size_t i = 0; i < g.n; i++)
            assert_int_equal(g.v[i].step, 2);
        sigma_is(find_got(&g, "layers.0.q.weight", "lora", RW_KIND_UPDATE), upd2, 4);
        sigma_is(find_got(&g, "layers.1.k.weight", "lora", RW_KIND_UPDATE), kupd2, 2);
        const got_spec *x = find_got(&g, "layers.0.q.weight", "lora", RW_KIND_UPDATE_FIRST);
        sigma_is(x, first2, 4);
        assert_int_equal(x->ref_step, 1);
        assert_true(fabs(x->ref_fro - sqrt(8)) < 1e-12);
        x = find_got(&g, "layers.1.k.weight", "lora", RW_KIND_UPDATE_FIRST);
        sigma_is(x, kfirst2, 2);
        assert_int_equal(x->ref_step, 1);
        assert_true(fabs(x->ref_fro - 2 * sqrt(2)) < 1e-12);
        /* The entry metrics of the same matrices (rw_entry_stats_of), of
         * s B A formed from the factors where the spectrum never forms it:
         * diag(6, 0, 2, 0): |w| sorted 14 zeros, 2, 6, sum 8: gini =
         * (13*2 + 15*6) / (16*8); hoyer = (4 - 8/sqrt(40)) / 3.
         * diag(4, -2, 2, 0): (11*2 + 13*2 + 15*4) / (16*8), (4 - 8/sqrt(24)) / 3.
         * The formed 3 x 2 [[4, 0], [0, -2], [0, 4]]: sorted 0, 0, 0, 2, 4,
         * 4, sum 10: (1*2 + 3*4 + 5*4) / (6*10), (sqrt(6) - 10/6) / (sqrt(6) - 1). */
        const struct {
            const char *tensor;
            rw_kind kind;
            double gini, hoyer, max_abs;
        } ent[] = {
            {"layers.0.q.weight", RW_KIND_UPDATE, 116.0 / 128, (4 - 8 / sqrt(40)) / 3, 6},
            {"layers.0.q.weight", RW_KIND_UPDATE_FIRST, 108.0 / 128, (4 - 8 / sqrt(24)) / 3, 4},
            {"layers.1.k.weight", RW_KIND_UPDATE_FIRST, 34.0 / 60,
             (sqrt(6) - 10.0 / 6) / (sqrt(6) - 1), 4},
        };
        for (size_t e = 0; e < sizeof ent / sizeof *ent; e++) {
            x = find_got(&g, ent[e].tensor, "lora", ent[e].kind);
            assert_non_null(x);
            assert_true(x->has_es);
            if (fabs(x->es.gini - ent[e].gini) > 1e-15 ||
                fabs(x->es.hoyer - ent[e].hoyer) > 1e-15 || x->es.max_abs != ent[e].max_abs)
                fail_msg("%s %s: gini %.17g hoyer %.17g max_abs %.17g", ent[e].tensor,
                         rw_kind_name(ent[e].kind), x->es.gini, x->es.hoyer, x->es.max_abs);
        }
        if (with_base) {
            /* previous = first: full's two updates are the same */
            for (int kind = 0; kind < 2; kind++) {
                rw_kind k = kind ? RW_KIND_UPDATE : RW_KIND_UPDATE_FIRST;
                sigma_is(find_got(&g, "layers.0.q.weight", "full", k), first2, 4);
                sigma_is(find_got(&g, "layers.1.k.weight", "full", k), kfirst2, 2);
            }
        }
    }
}

/* The claim hook: every other item to one pass, the rest to another; each
 * item's weight and update spectra go with it, so the two passes together
 * give what one pass over everything gives; a failing claim stops the
 * analysis with its error. */
typedef struct {
    size_t calls, parity;
    bool fail;
} half;

static rw_status claim_half(const rw_run *run, size_t ci, const rw_item *it, bool *mine,
                            void *ctx, rw_err *err)
{
    (void)run;
    (void)ci;
    half *h = ctx;
    if (h->fail && h->calls == 3)
        return rw_fail(err, RW_EIO, "%s: claim refused", it->tensor);
    *mine = h->calls++ % 2 == h->parity;
    return RW_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void claim_splits_the_work(void **state)
{
    (void)state;
    char run[600];
    full_rank_run("claim", 1, 200, run, sizeof run);
    rw_err err = {{0}};
    rw_runset rs = {0};
    assert_int_equal(runset_add(&rs, run, NULL, &err), RW_OK);
    assert_int_equal(runset_finish(&rs, &err), RW_OK);
    rw_analysis_opts o = {.weights = true, .updates = true, .prog = "test", .jobs = 2};
    static seen all, part[2];
    assert_int_equal(rw_analyze(&rs, &o, on_spectrum, &all, &err), RW_OK);
    half h[2] = {{0, 0, false}, {0, 1, false}};
    for (int p = 0; p < 2; p++) {
        o.claim = claim_half;
        o.claim_ctx = &h[p];
        assert_int_equal(rw_analyze(&rs, &o, on_spectrum, &part[p], &err), RW_OK);
    }
    /* 3 checkpoints: weights of each item, updates from the second on */
    assert_int_equal(h[0].calls, h[1].calls);
    assert_int_equal(all.n, h[0].calls + 2 * (h[0].calls / 3));
    assert_int_equal(part[0].n + part[1].n, all.n);
    assert_true(part[0].n > 0 && part[1].n > 0);
    double both[512];
    memcpy(both, part[0].sigma1, part[0].n * sizeof *both);
    memcpy(both + part[0].n, part[1].sigma1, part[1].n * sizeof *both);
    qsort(both, all.n, sizeof *both, cmp_double);
    qsort(all.sigma1, all.n, sizeof *both, cmp_double);
    for (size_t i = 0; i < all.n; i++)
        assert_true(both[i] == all.sigma1[i]);
    half f = {0, 0, true};
    o.claim_ctx = &f;
    static seen stopped;
    assert_int_equal(rw_analyze(&rs, &o, on_spectrum, &stopped, &err), RW_EIO);
    assert_non_null(strstr(err.msg, "claim refused"));
    assert_int_equal(f.calls, 3);
    runset_free(&rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_matrix_one_worker),
        cmocka_unit_test(many_matrices_capped),
        cmocka_unit_test(default_jobs_follow_affinity),
        cmocka_unit_test(adapter_only_from_first),
        cmocka_unit_test(claim_splits_the_work),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
