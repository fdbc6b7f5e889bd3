/*
 * test_item_fetch.c — items fetched on the reading thread and built on a
 * worker (analyzers/core/item_fetch.h): on a gzip-compressed ReLoRA
 * fixture checkpoint, every item (weight, base, full, lora, ov, wo_wv,
 * ov_base, ov_lora) is fetched, and what the fetched copy builds (after the
 * checkpoint is closed) has the bits item_build_noise gives on the
 * checkpoint itself: the matrix, its N, and for an update the difference,
 * the summed N and the reference's norm; a lora item's factors too. A file
 * cut short after the fetch makes the build an error naming the file, the
 * tensor and the chunk. On contiguous storage nothing is fetched (the
 * reading thread builds it as fast).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analyzers/core/item_fetch.h"
#include "fixtures/synth.h"
#include "tests/testutil.h"

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    return test_tmpdir_make(tmpdir, sizeof tmpdir, "item_fetch");
}

static int teardown(void **state)
{
    (void)state;
    return test_tmpdir_remove(tmpdir);
}

/* The fixture pair in tmpdir/name, steps 0..200, gzip level g (0: plain). */
static void write_runs(const char *name, int g)
{
    synth_runs_opts o;
    synth_runs_defaults(&o);
    o.layers = 2;
    o.steps = 200;
    o.every = 100;
    o.cycle = 200;
    o.gzip = g;
    rw_err err = {{0}};
    char dir[512];
    snprintf(dir, sizeof dir, "%s/%s", tmpdir, name);
    assert_int_equal(synth_write_runs(dir, &o, &err), RW_OK);
}

typedef struct {
    rw_ckpt *c;
    rw_items it;
} opened;

static void open_step(opened *o, const char *name, int step)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s/relora/step_%06d.h5", tmpdir, name, step);
    rw_err err = {{0}};
    assert_int_equal(ckpt_open(p, NULL, &o->c, &err), RW_OK);
    rw_item_opts io = {.lora_scale = NAN, .prog = "test"};
    assert_int_equal(items_list(o->c, NULL, &io, &o->it, &err), RW_OK);
}

static void close_step(opened *o)
{
    items_free(&o->it);
    ckpt_free(o->c);
}

static bool same_bits(const double *x, const double *y, size_t n)
{
    return memcmp(x, y, n * sizeof *x) == 0;
}

static void every_item_as_built_here(void **state)
{
    (void)state;
    write_runs("gz", 4);
    opened cur, ref;
    open_step(&cur, "gz", 200);
    open_step(&ref, "gz", 100);
    unsigned comps = 0;
    size_t fetched = 0;
    for (size_t i = 0; i < cur.it.n; i++) {
        const rw_item *it = &cur.it.v[i];
        size_t mn = (size_t)(it->rows * it->cols);
        long ri = items_find(&ref.it, it->tensor, it->comp);
        assert_true(ri >= 0);
        double *want = calloc(mn, sizeof *want), *wref = calloc(mn, sizeof *wref);
        double *got = calloc(mn, sizeof *got), *gotu = calloc(mn, sizeof *gotu);
        assert_non_null(want);
        assert_non_null(wref);
        assert_non_null(got);
        assert_non_null(gotu);
        rw_err err = {{0}};
        double nw = 0, nr = 0, ng = 0, nu = 0, rf = 0, rfu = 0;
        assert_int_equal(item_build_noise(cur.c, &cur.it, i, want, &nw, &err), RW_OK);
        assert_int_equal(item_build_noise(ref.c, &ref.it, (size_t)ri, wref, &nr, &err), RW_OK);

        item_fetched *f = NULL, *fu = NULL;
        assert_int_equal(item_fetch(cur.c, &cur.it, i, NULL, NULL, -1, false, &f, &err), RW_OK);
        assert_int_equal(item_fetch(cur.c, &cur.it, i, ref.c, &ref.it, ri, false, &fu, &err),
                         RW_OK);
        assert_non_null(f);
        assert_non_null(fu);
        assert_true(item_fetched_size(f) > 0);
        assert_int_equal(item_fetched_build(f, got, &ng, &rf, &err), RW_OK);
        assert_true(same_bits(got, want, mn));
        assert_true(ng == nw);
        assert_true(isnan(rf));
        assert_int_equal(item_fetched_build(fu, gotu, &nu, &rfu, &err), RW_OK);
        for (size_t e = 0; e < mn; e++)
            want[e] -= wref[e];
        assert_true(same_bits(gotu, want, mn));
        assert_true(nu == nw + nr);
        assert_true(rfu == item_fro(wref, mn));
        if (it->comp == RW_COMP_LORA) { /* the factors, as item_read_adapters reads them */
            size_t na = (size_t)(it->rank * it->cols), nb = (size_t)(it->rows * it->rank);
            double *a = calloc(na, sizeof *a), *b = calloc(nb, sizeof *b);
            double *a2 = calloc(na, sizeof *a2), *b2 = calloc(nb, sizeof *b2);
            assert_true(a && b && a2 && b2);
            assert_int_equal(item_read_adapters(cur.c, &cur.it, i, b, a, &err), RW_OK);
            double noise = 0;
            assert_int_equal(item_fetched_adapters(f, b2, a2, &noise, &rf, &err), RW_OK);
            assert_true(same_bits(a, a2, na) && same_bits(b, b2, nb));
            assert_true(noise == item_lora_noise(cur.it.scale, b, a, it->rows, it->cols,
                                                 it->rank));
            free(a);
            free(b);
            free(a2);
            free(b2);
        }
        comps |= 1u << it->comp;
        fetched++;
        item_fetched_free(f);
        item_fetched_free(fu);
        free(want);
        free(wref);
        free(got);
        free(gotu);
    }
    unsigned all = 1u << RW_COMP_WEIGHT | 1u << RW_COMP_BASE | 1u << RW_COMP_FULL |
                   1u << RW_COMP_LORA | 1u << RW_COMP_OV | 1u << RW_COMP_WO_WV |
                   1u << RW_COMP_OV_BASE | 1u << RW_COMP_OV_LORA;
    assert_int_equal(comps & all, all);
    assert_true(fetched == cur.it.n);
    close_step(&ref);
    close_step(&cur);
}

/* The first ov_lora item of cur (asserted to exist), fetched alone into *f. */
static size_t fetch_ov_lora(opened *cur, item_fetched **f)
{
    long i = -1;
    for (size_t k = 0; k < cur->it.n && i < 0; k++)
        if (cur->it.v[k].comp == RW_COMP_OV_LORA)
            i = (long)k;
    assert_true(i >= 0);
    rw_err err = {{0}};
    assert_int_equal(item_fetch(cur->c, &cur->it, (size_t)i, NULL, NULL, -1, false, f, &err),
                     RW_OK);
    assert_non_null(*f);
    return (size_t)i;
}

/* Built after the checkpoint is closed: the copy owns what it reads. */
static void built_after_close(void **state)
{
    (void)state;
    opened cur;
    open_step(&cur, "gz", 100);
    item_fetched *f = NULL;
    size_t i = fetch_ov_lora(&cur, &f);
    size_t mn = (size_t)(cur.it.v[i].rows * cur.it.v[i].cols);
    double *want = calloc(mn, sizeof *want), *got = calloc(mn, sizeof *got);
    assert_true(want && got);
    rw_err err = {{0}};
    double nw = 0, ng = 0, rf = 0;
    assert_int_equal(item_build_noise(cur.c, &cur.it, i, want, &nw, &err), RW_OK);
    close_step(&cur);
    assert_int_equal(item_fetched_build(f, got, &ng, &rf, &err), RW_OK);
    assert_true(same_bits(got, want, mn) && ng == nw);
    item_fetched_free(f);
    free(want);
    free(got);
}

/* The file cut short after the fetch: the build is an error naming the
 * file, a tensor and a chunk, and nothing else happens. */
static void cut_short_after_fetch(void **state)
{
    (void)state;
    write_runs("cut", 4);
    opened cur;
    open_step(&cur, "cut", 200);
    item_fetched *f = NULL;
    size_t i = fetch_ov_lora(&cur, &f);
    size_t mn = (size_t)(cur.it.v[i].rows * cur.it.v[i].cols);
    rw_err err = {{0}};
    char path[600];
    snprintf(path, sizeof path, "%s", cur.c->path);
    close_step(&cur);
    assert_int_equal(truncate(path, 4096), 0);
    double *got = calloc(mn, sizeof *got), noise = 0, rf = 0;
    assert_non_null(got);
    assert_int_equal(item_fetched_build(f, got, &noise, &rf, &err), RW_EDATA);
    assert_non_null(strstr(err.msg, "step_000200.h5: "));
    assert_non_null(strstr(err.msg, ": chunk "));
    assert_non_null(strstr(err.msg, "cannot read it (truncated or corrupt file?)"));
    item_fetched_free(f);
    free(got);
}

static void contiguous_not_fetched(void **state)
{
    (void)state;
    write_runs("plain", 0);
    opened cur;
    open_step(&cur, "plain", 100);
    for (size_t i = 0; i < cur.it.n; i++) {
        item_fetched *f = (item_fetched *)1;
        rw_err err = {{0}};
        assert_int_equal(item_fetch(cur.c, &cur.it, i, NULL, NULL, -1, false, &f, &err), RW_OK);
        assert_null(f);
    }
    close_step(&cur);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_item_as_built_here),
        cmocka_unit_test(built_after_close),
        cmocka_unit_test(cut_short_after_fetch),
        cmocka_unit_test(contiguous_not_fetched),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
