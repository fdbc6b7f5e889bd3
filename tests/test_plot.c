/*
 * test_plot.c — rw-plot's figures, checked by decoding them: PNG I/O round
 * trips, the colour maps, log tics; trajectories (size, not blank, both
 * runs' colours present, nan never drawn as 0, the automatic log axis),
 * heatmap cells that follow the table's values, spectra means against
 * hand-worked numbers, warning-free gnuplot scripts in every format, and
 * the failures that must leave no file behind. Tests that need gnuplot skip
 * (saying so) when it is absent.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "plots/figure.h"
#include "plots/gnuplot.h"
#include "plots/palette.h"
#include "plots/plot.h"
#include "io/pngio.h"
#include "io/spectra_file.h"
#include "tests/testutil.h"

/* ---------------------------------------------------------------- helpers */

static char *tmpdir_new(void)
{
    char t[256];
    assert_int_equal(test_tmpdir_make(t, sizeof t, "plot"), 0);
    return strdup(t);
}

/* Removes the test's folder and frees its path and two paths in it. */
static void tmpdir_done(char *dir, char *a, char *b)
{
    test_tmpdir_remove(dir);
    free(dir);
    free(a);
    free(b);
}

static char *pathf(const char *dir, const char *name)
{
    char *p = rw_path_join(dir, name);
    assert_non_null(p);
    return p;
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    int c;
    while ((c = fgetc(f)) != EOF) {
        if (n + 2 > cap) {
            cap = cap ? 2 * cap : 4096;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        buf[n++] = (char)c;
    }
    fclose(f);
    if (!buf)
        buf = calloc(1, 1);
    buf[n] = '\0';
    return buf;
}

/* read_text of dir/name. */
static char *read_in(const char *dir, const char *name)
{
    char *p = pathf(dir, name);
    char *t = read_text(p);
    free(p);
    return t;
}

static bool exists_in(const char *dir, const char *name)
{
    char *p = pathf(dir, name);
    bool r = rw_exists(p);
    free(p);
    return r;
}

/* Number of directory entries (besides . and ..). */
static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static bool have_gnuplot(void)
{
    char *p = NULL;
    rw_err err = {{0}};
    bool ok = gp_find(NULL, &p, &err) == RW_OK;
    free(p);
    return ok;
}

#define NEED_GNUPLOT()                                                                    \
    do {                                                                                  \
        if (!have_gnuplot()) {                                                            \
            fprintf(stderr, "SKIP: gnuplot not found; figure test skipped\n");            \
            skip();                                                                       \
        }                                                                                 \
    } while (0)

/* The pixels of colour rgb in the rows from y0 down. */
static size_t count_color_from(const rw_image *img, uint32_t rgb, uint32_t y0)
{
    size_t n = 0;
    for (uint32_t y = y0; y < img->h; y++)
        for (uint32_t x = 0; x < img->w; x++)
            n += image_get(img, x, y) == rgb;
    return n;
}

static size_t count_color(const rw_image *img, uint32_t rgb)
{
    return count_color_from(img, rgb, 0);
}

static size_t count_nonwhite(const rw_image *img)
{
    return (size_t)img->w * img->h - count_color(img, 0xffffff);
}

/* Re-runs dir/STEM.gp as a user would and asserts gnuplot says nothing. */
static void assert_script_silent(const char *dir, const char *script)
{
    char *gnuplot = NULL, *diag = NULL;
    rw_err err = {{0}};
    assert_int_equal(gp_find(NULL, &gnuplot, &err), RW_OK);
    rw_status st = gp_run(gnuplot, dir, script, &diag, &err);
    if (st != RW_OK)
        fail_msg("%s: %s", script, err.msg);
    if (diag && *diag)
        fail_msg("%s: gnuplot warned: %s", script, diag);
    free(diag);
    free(gnuplot);
}

/* A per-layer table: runs x modules x layers x steps, value from fn. */
typedef double (*value_fn)(int run, int module, int layer, int step_index);

static void write_table(const char *path, const char *metric, int nruns, int nmodules,
                        int nlayers, int nsteps, int64_t step0, int64_t dstep, value_fn fn)
{
    static const char *const runs[] = {"full-rank", "relora", "third"};
    static const char *const mods[] = {"swiglu.w_2.weight", "attention.v_proj.weight",
                                       "attention.o_proj.weight"};
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "run\tstep\ttensor\tlayer\tmodule\tcomponent\trows\tcols\tdtype\t%s\n", metric);
    for (int r = 0; r < nruns; r++)
        for (int s = 0; s < nsteps; s++)
            for (int m = 0; m < nmodules; m++)
                for (int l = 0; l < nlayers; l++) {
                    char v[32];
                    fprintf(f, "%s\t%lld\tlayers.%d.%s\t%d\t%s\t%s\t96\t384\tfloat32\t%s\n",
                            runs[r], (long long)(step0 + s * dstep), l, mods[m], l, mods[m],
                            r ? "full" : "weight", rw_fmt_double(v, fn(r, m, l, s)));
                }
    assert_int_equal(fclose(f), 0);
}

static double per_value(int run, int module, int layer, int s)
{
    return 0.9 - 0.05 * s * (run ? 1.5 : 1.0) - 0.01 * layer - 0.02 * module;
}

static rw_plot_opts opts_for(const char *out)
{
    return (rw_plot_opts){.prog = "test_plot", .out = out, .format = -1, .logy = -1,
                          .updates = -1};
}

/* ---------------------------------------------------------------- png I/O */

static void png_roundtrip_asymmetric(void **state)
{
    (void)state;
    char *dir = tmpdir_new();
    char *p = pathf(dir, "a.png");
    /* 5 x 3, every pixel different: a transpose or flip would show. */
    rw_image *img = image_new(5, 3, 0);
    assert_non_null(img);
    for (uint32_t y = 0; y < 3; y++)
        for (uint32_t x = 0; x < 5; x++)
            image_set(img, x, y, (x * 40u) << 16 | (y * 100u) << 8 | (x + 5 * y));
    rw_err err = {{0}};
    assert_int_equal(png_write_rgb(img, p, &err), RW_OK);
    rw_image *back = NULL;
    assert_int_equal(png_read_rgb(p, &back, &err), RW_OK);
    assert_int_equal(back->w, 5);
    assert_int_equal(back->h, 3);
    assert_memory_equal(back->px, img->px, 5 * 3 * 3);
    image_free(back);

    /* Not a PNG, a truncated PNG, a missing file. */
    char *q = pathf(dir, "b.png");
    write_text(q, "not a png at all");
    assert_int_equal(png_read_rgb(q, &back, &err), RW_EDATA);
    assert_null(back);
    char *whole = read_text(p);
    (void)whole;
    FILE *src = fopen(p, "rb"), *dst = fopen(q, "wb");
    char buf[40];
    assert_int_equal(fread(buf, 1, 40, src), 40);
    fwrite(buf, 1, 40, dst);
    fclose(src);
    fclose(dst);
    assert_int_equal(png_read_rgb(q, &back, &err), RW_EDATA);
    assert_non_null(strstr(err.msg, "b.png"));
    free(whole);
    char *r = pathf(dir, "missing.png");
    assert_int_equal(png_read_rgb(r, &back, &err), RW_EIO);
    assert_null(image_new(0, 3, 0));
    assert_null(image_new(3, RW_PNG_MAX_DIM + 1, 0));
    image_free(img);
    free(p);
    free(q);
    free(r);
    test_tmpdir_remove(dir);
    free(dir);
}

/* ---------------------------------------------------------------- colours */

static double luminance(uint32_t c)
{
    return 0.2126 * (c >> 16 & 255) + 0.7152 * (c >> 8 & 255) + 0.0722 * (c & 255);
}

static void viridis_is_viridis(void **state)
{
    (void)state;
    /* matplotlib's published end points and middle */
    assert_int_equal(palette_viridis_table[0], 0x440154);
    assert_int_equal(palette_viridis_table[128], 0x21918c);
    assert_int_equal(palette_viridis_table[255], 0xfde725);
    for (int i = 4; i < 256; i++) /* 8-bit rounding can tie neighbours */
        assert_true(luminance(palette_viridis_table[i]) > luminance(palette_viridis_table[i - 4]));
    assert_int_equal(palette_viridis(-1), 0x440154);
    assert_int_equal(palette_viridis(2), 0xfde725);
    assert_int_equal(palette_viridis(NAN), RW_COLOR_NONFINITE);
    /* The gnuplot palette interpolates every 4th entry: within one 8-bit step
     * of the table everywhere (what the colour bars rely on). */
    for (int i = 0; i < 256; i++) {
        int a = i / 4 * 4, b = a + 4 > 255 ? 255 : a + 4;
        double t = b > a ? (double)(i - a) / (b - a) : 0;
        for (int c = 0; c < 3; c++) {
            int ca = palette_viridis_table[a] >> (8 * c) & 255;
            int cb = palette_viridis_table[b] >> (8 * c) & 255;
            int ci = palette_viridis_table[i] >> (8 * c) & 255;
            assert_true(fabs(ca + t * (cb - ca) - ci) <= 1);
        }
    }
    /* Run colours: distinct, stable, never white. */
    for (size_t i = 0; i < 7; i++) {
        assert_int_not_equal(palette_run(i), 0xffffff);
        for (size_t j = 0; j < i; j++)
            assert_int_not_equal(palette_run(i), palette_run(j));
        assert_int_equal(palette_run(i), palette_run(i + 7));
        assert_int_not_equal(palette_run_dash(i), palette_run_dash(i + 7));
    }
}

static char *log_tics_text(double lo, double hi)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    gp_log_tics(f, "y", lo, hi);
    fclose(f);
    return text;
}

static void log_tics_label_decades(void **state)
{
    (void)state;
    char *t = log_tics_text(1, 1e6);
    assert_non_null(strstr(t, "set logscale y 10"));
    assert_non_null(strstr(t, "'10⁰' 1e0"));
    assert_non_null(strstr(t, "'10⁶' 1e6"));
    free(t);
    t = log_tics_text(1e-9, 1.3); /* many decades: every other one labelled */
    assert_non_null(strstr(t, "'10⁻⁹' 1e-9"));
    assert_null(strstr(t, "'10⁻⁸'"));
    assert_non_null(strstr(t, "'10⁻¹' 1e-1"));
    free(t);
    t = log_tics_text(2.3, 22); /* one decade: 1-2-5 labels */
    assert_non_null(strstr(t, "'5' 5"));
    assert_non_null(strstr(t, "'10' 10"));
    assert_non_null(strstr(t, "'20' 20"));
    free(t);
    assert_true(gp_nice_step(0, 20000, 5) == 5000);
    assert_true(gp_nice_step(0, 7, 4) == 2);
    char *q = gp_quoted("it's");
    assert_string_equal(q, "'it''s'");
    free(q);
}

/* ------------------------------------------------------------- trajectory */

static void trajectory_two_runs(void **state)
{
    (void)state;
    NEED_GNUPLOT();
    char *dir = tmpdir_new();
    char *tab = pathf(dir, "per.tsv"), *out = pathf(dir, "fig.png");
    write_table(tab, "per", 2, 3, 4, 8, 0, 500, per_value);
    rw_plot_opts o = opts_for(out);
    o.width = 900;
    o.height = 640;
    rw_err err = {{0}};
    const char *paths[] = {tab};
    rw_status st = plot_trajectory(paths, 1, &o, &err);
    if (st != RW_OK)
        fail_msg("%s", err.msg);
    rw_image *img = NULL;
    assert_int_equal(png_read_rgb(out, &img, &err), RW_OK);
    assert_int_equal(img->w, 900);
    assert_int_equal(img->h, 640);
    assert_true(count_nonwhite(img) > (size_t)img->w * img->h / 50);
    /* Each run's line colour, exactly, in many pixels. */
    assert_true(count_color(img, palette_run(0)) > 200);
    assert_true(count_color(img, palette_run(1)) > 200);
    assert_int_equal(count_color(img, palette_run(2)), 0);
    image_free(img);
    /* script and data beside it; nothing else left behind */
    assert_true(exists_in(dir, "fig.gp"));
    assert_true(exists_in(dir, "fig.dat"));
    assert_int_equal(count_entries(dir), 4);
    char *gp = read_in(dir, "fig.gp");
    assert_non_null(strstr(gp, "proportional effective rank (PER)"));
    assert_non_null(strstr(gp, "training step"));
    assert_non_null(strstr(gp, "unset logscale y"));
    free(gp);
    assert_script_silent(dir, "fig.gp");
    /* --runs relora: relora keeps its colour, the other run is gone */
    o.runs = (const char *const[]){"rel*"};
    o.nruns = 1;
    assert_int_equal(plot_trajectory(paths, 1, &o, &err), RW_OK);
    assert_int_equal(png_read_rgb(out, &img, &err), RW_OK);
    assert_int_equal(count_color(img, palette_run(0)), 0);
    assert_true(count_color(img, palette_run(1)) > 200);
    image_free(img);
    test_tmpdir_remove(dir);
    free(dir);
    free(tab);
    free(out);
}

static double cond_value(int run, int module, int layer, int s)
{
    (void)module;
    return pow(10, 1 + 0.5 * s * (run + 1)) * (1 + 0.1 * layer);
}

static double nan_value(int run, int module, int layer, int s)
{
    if (run == 1 && s == 3)
        return NAN;      /* every layer: the mean is nan */
    if (run == 0 && s == 5 && layer == 2)
        return INFINITY; /* one layer: the mean is inf */
    return per_value(run, module, layer, s);
}

static void trajectory_log_and_nan(void **state)
{
    (void)state;
    char *dir = tmpdir_new();
    char *tab = pathf(dir, "cond.tsv"), *out = pathf(dir, "c.png");
    write_table(tab, "cond", 2, 1, 3, 6, 0, 100, cond_value);
    rw_plot_opts o = opts_for(out);
    o.metric = "cond";
    o.script_only = true; /* the script's content is what is checked */
    rw_err err = {{0}};
    const char *paths[] = {tab};
    assert_int_equal(plot_trajectory(paths, 1, &o, &err), RW_OK);
    char *gp = read_in(dir, "c.gp");
    assert_non_null(strstr(gp, "set logscale y 10"));
    assert_non_null(strstr(gp, "condition number σ₁/σₖ"));
    free(gp);
    assert_false(exists_in(dir, "c.png"));
    o.logy = 0; /* --no-logy */
    assert_int_equal(plot_trajectory(paths, 1, &o, &err), RW_OK);
    gp = read_in(dir, "c.gp");
    assert_null(strstr(gp, "set logscale y 10"));
    free(gp);

    /* nan and inf means are left out of the data (never 0) and noted */
    write_table(tab, "per", 2, 1, 4, 8, 0, 100, nan_value);
    o = opts_for(out);
    o.script_only = true;
    assert_int_equal(plot_trajectory(paths, 1, &o, &err), RW_OK);
    char *dat = read_in(dir, "c.dat");
    /* run 1 (block 1) lacks step 300; run 0 (block 0) lacks step 500 */
    char *b1 = strstr(dat, "run 'relora'");
    assert_non_null(b1);
    assert_null(strstr(b1, "\n300\t"));
    assert_non_null(strstr(b1, "\n200\t"));
    assert_non_null(strstr(b1, "\n\n400\t")); /* the gap breaks the line */
    *b1 = '\0';
    assert_null(strstr(dat, "\n500\t"));
    assert_null(strstr(dat, "\tnan"));
    assert_null(strstr(dat, "\t0\t0\t"));
    free(dat);
    gp = read_in(dir, "c.gp");
    assert_non_null(strstr(gp, "Not drawn: 2 of 16 means are nan or inf"));
    assert_non_null(strstr(gp, "5 of 64 per-layer values are nan or inf"));
    free(gp);
    if (have_gnuplot()) {
        o.script_only = false;
        assert_int_equal(plot_trajectory(paths, 1, &o, &err), RW_OK);
        assert_script_silent(dir, "c.gp");
        o.per_layer = true;
        assert_int_equal(plot_trajectory(paths, 1, &o, &err), RW_OK);
        assert_script_silent(dir, "c.gp");
    }
    test_tmpdir_remove(dir);
    free(dir);
    free(tab);
    free(out);
}

/* ---------------------------------------------------------------- heatmap */

/* Strictly increasing with step, then with layer: v = 1 + s * L + layer. */
static double ramp_value(int run, int module, int layer, int s)
{
    (void)run;
    (void)module;
    return 1 + s * 5 + layer;
}

static int viridis_index(uint32_t c)
{
    for (int i = 0; i < 256; i++)
        if (palette_viridis_table[i] == c)
            return i;
    return -1;
}

static void heatmap_follows_values(void **state)
{
    (void)state;
    NEED_GNUPLOT();
    char *dir = tmpdir_new();
    char *tab = pathf(dir, "ramp.tsv"), *out = pathf(dir, "h.png");
    enum { L = 5, S = 9 };
    write_table(tab, "per", 2, 1, L, S, 1000, 250, ramp_value);
    rw_plot_opts o = opts_for(out);
    rw_err err = {{0}};
    const char *paths[] = {tab};
    if (plot_heatmap(paths, 1, &o, &err) != RW_OK)
        fail_msg("%s", err.msg);
    rw_image *cells = NULL;
    char *cp = pathf(dir, "h.cells-1-1.png");
    assert_int_equal(png_read_rgb(cp, &cells, &err), RW_OK);
    assert_int_equal(cells->w, S);
    assert_int_equal(cells->h, L);
    /* Exact colours: the value's place in [1, 1 + 8 * 5 + 4] on viridis;
     * row 0 of the image is the deepest layer. */
    for (uint32_t y = 0; y < L; y++)
        for (uint32_t x = 0; x < S; x++) {
            int layer = L - 1 - (int)y;
            double t = (ramp_value(0, 0, layer, (int)x) - 1) / (double)(S * 5 - 5 + L - 1);
            assert_int_equal(viridis_index(image_get(cells, x, y)), (int)lround(t * 255));
            if (x > 0)
                assert_true(viridis_index(image_get(cells, x, y)) >
                            viridis_index(image_get(cells, x - 1, y)));
            if (y > 0)
                assert_true(viridis_index(image_get(cells, x, y)) <
                            viridis_index(image_get(cells, x, y - 1)));
        }
    /* The figure shows those cells: the lowest and highest colours appear
     * as blocks of many pixels. */
    rw_image *fig = NULL;
    assert_int_equal(png_read_rgb(out, &fig, &err), RW_OK);
    assert_true(count_color(fig, image_get(cells, 0, L - 1)) > 100);
    assert_true(count_color(fig, image_get(cells, S - 1, 0)) > 100);
    image_free(fig);
    image_free(cells);
    assert_script_silent(dir, "h.gp");
    assert_true(exists_in(dir, "h.cells-2-1.png"));
    assert_int_equal(count_entries(dir), 5); /* table, figure, script, 2 cell images */
    free(cp);
    test_tmpdir_remove(dir);
    free(dir);
    free(tab);
    free(out);
}

static double decades_value(int run, int module, int layer, int s)
{
    (void)module;
    if (run == 1 && s == 2 && layer == 1)
        return NAN;
    return pow(10, s + 0.2 * layer);
}

static void heatmap_log_scale_and_nan(void **state)
{
    (void)state;
    char *dir = tmpdir_new();
    char *tab = pathf(dir, "d.tsv"), *out = pathf(dir, "h.svg");
    write_table(tab, "cond", 2, 1, 3, 6, 0, 10, decades_value);
    rw_plot_opts o = opts_for(out);
    o.metric = "cond";
    o.script_only = true;
    rw_err err = {{0}};
    const char *paths[] = {tab};
    assert_int_equal(plot_heatmap(paths, 1, &o, &err), RW_OK);
    char *gp = read_in(dir, "h.gp");
    assert_non_null(strstr(gp, "set logscale cb 10"));
    assert_non_null(strstr(gp, "Grey cells: 1 values that are nan or inf"));
    assert_non_null(strstr(gp, "with rgbimage pixels")); /* vector formats: crisp cells */
    free(gp);
    /* equal steps of log10 give equal steps of colour */
    rw_image *cells = NULL;
    char *cp = pathf(dir, "h.cells-1-1.png");
    assert_int_equal(png_read_rgb(cp, &cells, &err), RW_OK);
    int i0 = viridis_index(image_get(cells, 0, 2)), i1 = viridis_index(image_get(cells, 1, 2)),
        i2 = viridis_index(image_get(cells, 2, 2));
    assert_true(abs((i1 - i0) - (i2 - i1)) <= 1);
    image_free(cells);
    free(cp);
    cp = pathf(dir, "h.cells-2-1.png");
    assert_int_equal(png_read_rgb(cp, &cells, &err), RW_OK);
    assert_int_equal(image_get(cells, 2, 1), RW_COLOR_NONFINITE);
    assert_int_equal(count_color(cells, RW_COLOR_NONFINITE), 1);
    image_free(cells);
    free(cp);
    if (have_gnuplot()) {
        o.script_only = false;
        assert_int_equal(plot_heatmap(paths, 1, &o, &err), RW_OK);
        assert_script_silent(dir, "h.gp");
        char *svg = read_text(out);
        assert_non_null(strstr(svg, "<svg"));
        free(svg);
    }
    test_tmpdir_remove(dir);
    free(dir);
    free(tab);
    free(out);
}

/* A module with one matrix (layer -1) and one step: gnuplot cannot draw an
 * image one pixel high or wide, so those cells are written twice. */
static void heatmap_single_layer_is_drawn(void **state)
{
    (void)state;
    NEED_GNUPLOT();
    char *dir = tmpdir_new();
    char *tab = pathf(dir, "k.tsv"), *out = pathf(dir, "k.png");
    /* dense: one layer (a one-row panel); emb: a single matrix outside the
     * layers (layer -1), left out */
    write_text(tab, "run\tstep\ttensor\tlayer\tmodule\tcomponent\tper\n"
                    "a\t1\tlayers.0.dense\t0\tdense\tweight\t0.5\n"
                    "a\t2\tlayers.0.dense\t0\tdense\tweight\t0.7\n"
                    "a\t3\tlayers.0.dense\t0\tdense\tweight\t0.9\n"
                    "a\t1\temb\t-1\temb\tweight\t0.3\n"
                    "a\t1\tlayers.0.x\t0\tx\tweight\t0.2\n"
                    "a\t1\tlayers.1.x\t1\tx\tweight\t0.4\n");
    rw_plot_opts o = opts_for(out);
    rw_err err = {{0}};
    const char *paths[] = {tab};
    if (plot_heatmap(paths, 1, &o, &err) != RW_OK)
        fail_msg("%s", err.msg);
    rw_image *cells = NULL, *fig = NULL;
    char *cp = pathf(dir, "k.cells-1-1.png");
    assert_int_equal(png_read_rgb(cp, &cells, &err), RW_OK);
    assert_int_equal(cells->w, 3);
    assert_int_equal(cells->h, 2);
    assert_int_equal(image_get(cells, 2, 0), image_get(cells, 2, 1));
    assert_int_equal(png_read_rgb(out, &fig, &err), RW_OK);
    assert_true(count_color(fig, palette_viridis(0)) > 500);
    assert_true(count_color(fig, palette_viridis(1)) > 500);
    image_free(cells);
    image_free(fig);
    free(cp);
    /* x is the second panel, and there is no third (emb) */
    cp = pathf(dir, "k.cells-1-2.png");
    assert_int_equal(png_read_rgb(cp, &cells, &err), RW_OK);
    assert_int_equal(cells->h, 2); /* layers 0 and 1 */
    image_free(cells);
    free(cp);
    cp = pathf(dir, "k.cells-1-3.png");
    assert_int_equal(access(cp, F_OK), -1);
    free(cp);
    char *gp = pathf(dir, "k.gp");
    char *script = read_text(gp);
    assert_non_null(script);
    assert_non_null(strstr(script, "Left out: 1 modules of a single matrix (layer −1: emb)"));
    free(script);
    free(gp);
    test_tmpdir_remove(dir);
    free(dir);
    free(tab);
    free(out);
}

/* --------------------------------------------------------------- spectrum */

static void spectrum_geometric_mean(void **state)
{
    (void)state;
    char *dir = tmpdir_new();
    char *tab = pathf(dir, "s.tsv"), *out = pathf(dir, "s.png");
    /* Two layers, k = 4: σ/σ1 = (1, 1/2, 1/4, 1/8) and (1, 1/8, 1/32, 0). The
     * geometric means are 1, 1/4, 1/(8√2)... and the zero is left out. */
    FILE *f = fopen(tab, "w");
    assert_non_null(f);
    fputs("run\tstep\ttensor\tlayer\tmodule\tcomponent\ti\tsigma\n", f);
    static const double s0[] = {2, 1, 0.5, 0.25}, s1[] = {8, 1, 0.25, 0};
    for (int step = 0; step <= 200; step += 100)
        for (int l = 0; l < 2; l++)
            for (int i = 0; i < 4; i++) /* rows out of order on purpose */
                fprintf(f, "full-rank\t%d\tlayers.%d.w\t%d\tw\tweight\t%d\t%.17g\n", step, l, l,
                        4 - i, pow((l ? s1 : s0)[3 - i], 1 + step / 100));
    fclose(f);
    rw_plot_opts o = opts_for(out);
    o.script_only = !have_gnuplot();
    int64_t steps[] = {200, 0};
    o.steps = steps;
    o.nsteps = 2;
    rw_err err = {{0}};
    const char *paths[] = {tab};
    if (plot_spectrum(paths, 1, &o, &err) != RW_OK)
        fail_msg("%s", err.msg);
    char *dat = read_in(dir, "s.dat");
    assert_non_null(strstr(dat, "step 0\n0.25\t1\t2\n0.5\t0.25\t2\n0.75\t0.08838834765\t2\n"
                                "1\t0.125\t1\n"));
    assert_non_null(strstr(dat, "step 200\n"));
    assert_null(strstr(dat, "step 100\n"));
    free(dat);
    char *gp = read_in(dir, "s.gp");
    assert_non_null(strstr(gp, "Not drawn: 2 values σᵢ = 0"));
    assert_non_null(strstr(gp, "title 'step 0'"));
    free(gp);
    if (have_gnuplot()) {
        rw_image *img = NULL;
        assert_int_equal(png_read_rgb(out, &img, &err), RW_OK);
        assert_true(count_color(img, palette_viridis(0)) > 50);
        assert_true(count_color(img, palette_viridis(0.88)) > 50);
        image_free(img);
        assert_script_silent(dir, "s.gp");
    }
    /* a step that is not there */
    int64_t missing[] = {150};
    o.steps = missing;
    o.nsteps = 1;
    assert_int_equal(plot_spectrum(paths, 1, &o, &err), RW_EDATA);
    assert_non_null(strstr(err.msg, "no spectra at step 150 (steps: 0 100 200)"));
    test_tmpdir_remove(dir);
    free(dir);
    free(tab);
    free(out);
}

/* Draws the spectrum figure of one input with o and returns its script,
 * NAME.gp in dir (the caller frees it). */
static char *spectrum_script(const rw_plot_opts *o, const char *input, const char *dir,
                             const char *name)
{
    rw_err err = {{0}};
    const char *paths[] = {input};
    if (plot_spectrum(paths, 1, o, &err) != RW_OK)
        fail_msg("%s", err.msg);
    return read_in(dir, name);
}

/* Writes text (a long spectra table) to tab and draws it into out (its
 * script only, without gnuplot); returns the script, NAME.gp in dir. */
static char *spectrum_of_table(const char *text, const char *tab, const char *out,
                               const char *dir, const char *name)
{
    write_text(tab, text);
    rw_plot_opts o = opts_for(out);
    o.script_only = !have_gnuplot();
    return spectrum_script(&o, tab, dir, name);
}

/* Two runs side by side: a full-rank spectrum (σ/σ1 down to 1/2) and a
 * rank-1 one (σ2/σ1 = 1e-16, round-off): each panel has its own y range
 * ([1/2 / 1.6, 1.25] and [1e-16 / 1.6, 1.25]), so the full-rank curve is
 * not flattened into a line. A step whose only spectra are zero matrices
 * (a fresh adapter) draws no curve and has no legend entry. */
static void spectrum_panels_own_range(void **state)
{
    (void)state;
    char *dir = tmpdir_new();
    char *tab = pathf(dir, "r.tsv"), *out = pathf(dir, "r.png");
    /* run, step, component, sigma_1..3 */
    static const struct {
        const char *run;
        int step;
        const char *comp;
        double s[3];
    } sp[] = {{"a", 100, "weight", {2, 1.5, 1}},
              {"b", 0, "lora", {0, 0, 0}},
              {"b", 100, "lora", {3, 3e-16, 3e-16}}};
    char text[1024] = "run\tstep\ttensor\tlayer\tmodule\tcomponent\ti\tsigma\n";
    for (size_t r = 0; r < 3; r++)
        for (int i = 0; i < 3; i++) {
            size_t len = strlen(text);
            snprintf(text + len, sizeof text - len, "%s\t%d\tlayers.0.w\t0\tw\t%s\t%d\t%g\n",
                     sp[r].run, sp[r].step, sp[r].comp, i + 1, sp[r].s[i]);
        }
    char *gp = spectrum_of_table(text, tab, out, dir, "r.gp");
    assert_non_null(strstr(gp, "set yrange [0.3125:1.25]"));
    assert_non_null(strstr(gp, "set yrange [6.25e-17:1.25]"));
    assert_non_null(strstr(gp, "title 'step 100'"));
    assert_null(strstr(gp, "title 'step 0'"));
    assert_non_null(strstr(gp, "Left out: 1 layer spectra with σ₁ = 0"));
    free(gp);
    if (have_gnuplot()) {
        /* decoded: step 100's colour in its curves and legend, step 0's nowhere */
        rw_image *img = NULL;
        rw_err err = {{0}};
        assert_int_equal(png_read_rgb(out, &img, &err), RW_OK);
        assert_true(count_color(img, palette_viridis(0.88)) > 50);
        assert_int_equal(count_color(img, palette_viridis(0)), 0);
        image_free(img);
        assert_script_silent(dir, "r.gp");
    }
    tmpdir_done(dir, tab, out);
}

/* A module of k = 1 (a 30 x 1 output kernel): its one value σ₁/σ₁ = 1 at
 * i/k = 1 is drawn as a point, since a line of one point draws nothing. */
static void spectrum_k1_point(void **state)
{
    (void)state;
    char *dir = tmpdir_new();
    char *tab = pathf(dir, "k.tsv"), *out = pathf(dir, "k.png");
    char *gp = spectrum_of_table("run\tstep\ttensor\tlayer\tmodule\tcomponent\ti\tsigma\n"
                                 "a\t1\tout.kernel\t-1\tout.kernel\tweight\t1\t0.5\n",
                                 tab, out, dir, "k.gp");
    assert_non_null(strstr(gp, "(k = 1)"));
    assert_non_null(strstr(gp, "with points pt 7"));
    assert_null(strstr(gp, "with lines lw 2 lc"));
    free(gp);
    rw_image *img = NULL;
    rw_err err = {{0}};
    if (have_gnuplot() && png_read_rgb(out, &img, &err) == RW_OK) {
        /* decoded, below the title, legend and panel title (the top 90
         * rows): the point, a disc of about 12 pixels across, in the one
         * step's colour */
        size_t n = count_color_from(img, palette_viridis(0), 90);
        image_free(img);
        assert_true(n > 40);
        assert_script_silent(dir, "k.gp");
    } else {
        assert_false(have_gnuplot());
    }
    tmpdir_done(dir, tab, out);
}

/* Titles say what the rows drawn are of: an adapter-only run's default,
 * lora, is s·B·A, not "the weights"; next to a full-rank run's weights,
 * both; plain weights, the weights. */
static void title_by_component(void **state)
{
    (void)state;
    char *dir = tmpdir_new();
    char *tab = pathf(dir, "c.tsv"), *out = pathf(dir, "c.png");
    static const struct {
        const char *rows, *want;
    } cases[] = {
        {"a\t1\tl.0.q\t0\tq\tlora\t0.1\na\t2\tl.0.q\t0\tq\tlora\t0.2\n",
         "(PER) of the LoRA updates s·B·A"},
        {"a\t1\tl.0.q\t0\tq\tlora\t0.1\nb\t1\tl.0.q\t0\tq\tweight\t0.5\n",
         "(PER) of the weights (s·B·A where only adapters are stored)"},
        {"a\t1\tl.0.q\t0\tq\tlora\t0.1\na\t1\tl.0.q\t0\tq\tfull\t0.5\n",
         "(PER) of the weights"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char text[512];
        snprintf(text, sizeof text, "run\tstep\ttensor\tlayer\tmodule\tcomponent\tper\n%s",
                 cases[i].rows);
        write_text(tab, text);
        rw_plot_opts o = opts_for(out);
        o.script_only = true;
        rw_err err = {{0}};
        const char *paths[] = {tab};
        for (int kind = 0; kind < 2; kind++) {
            rw_status st = kind ? plot_heatmap(paths, 1, &o, &err)
                                : plot_trajectory(paths, 1, &o, &err);
            if (st != RW_OK)
                fail_msg("%s", err.msg);
            char *gp = read_in(dir, "c.gp");
            char *at = strstr(gp, cases[i].want);
            if (!at)
                fail_msg("case %zu: no '%s' in the title", i, cases[i].want);
            /* the plain "weights" case: nothing more about adapters */
            assert_true(i < 2 || strncmp(at + strlen(cases[i].want), " (", 2) != 0);
            free(gp);
        }
    }
    tmpdir_done(dir, tab, out);
}

static void spectrum_from_spectra_file(void **state)
{
    (void)state;
    char *dir = tmpdir_new();
    char *h5 = pathf(dir, "sp.h5"), *out = pathf(dir, "f.pdf");
    rw_spectra_writer *w = NULL;
    rw_err err = {{0}};
    assert_int_equal(spectra_writer_open(h5, &w, &err), RW_OK);
    double sig[6];
    for (int run = 0; run < 2; run++)
        for (int step = 0; step < 4; step++)
            for (int l = 0; l < 3; l++) {
                for (int i = 0; i < 6; i++)
                    sig[i] = pow(0.5 + 0.1 * run, i * (1 + step));
                char tensor[64];
                snprintf(tensor, sizeof tensor, "layers.%d.attention.v_proj.weight", l);
                rw_spectrum s = {.run = run ? "relora" : "full-rank", .step = step * 10,
                                 .tensor = tensor, .layer = l,
                                 .module = "attention.v_proj.weight", .component = "weight",
                                 .rows = 6, .cols = 12, .dtype = RW_DT_F32, .k = 6,
                                 .sigma = sig, .kind = RW_KIND_UPDATE, .ref_fro = 1};
                assert_int_equal(spectra_writer_add(w, &s, &err), RW_OK);
            }
    assert_int_equal(spectra_writer_close(w, true, &err), RW_OK);
    rw_plot_opts o = opts_for(out);
    o.script_only = !have_gnuplot();
    o.updates = 1;
    char *gp = spectrum_script(&o, h5, dir, "f.gp");
    assert_non_null(strstr(gp, "of the updates ΔW"));
    assert_non_null(strstr(gp, "set terminal pdfcairo"));
    free(gp);
    if (have_gnuplot()) {
        char *pdf = read_text(out);
        assert_memory_equal(pdf, "%PDF", 4);
        free(pdf);
        assert_script_silent(dir, "f.gp");
    }
    test_tmpdir_remove(dir);
    free(dir);
    free(h5);
    free(out);
}

/* ---------------------------------------------------------------- formats */

static void every_format_silent(void **state)
{
    (void)state;
    NEED_GNUPLOT();
    char *dir = tmpdir_new();
    char *tab = pathf(dir, "t.tsv");
    write_table(tab, "per", 3, 2, 3, 5, 0, 1000, per_value);
    const char *paths[] = {tab};
    static const char *const names[] = {"f.png", "f.pdf", "f.svg"};
    for (int k = 0; k < 3; k++)
        for (int fmt = 0; fmt < 3; fmt++) {
            char *out = pathf(dir, names[fmt]);
            rw_plot_opts o = opts_for(out);
            rw_err err = {{0}};
            rw_status st = k == 0 ? plot_trajectory(paths, 1, &o, &err)
                                  : k == 1 ? plot_heatmap(paths, 1, &o, &err)
                                           : (o.per_layer = true,
                                              plot_trajectory(paths, 1, &o, &err));
            if (st != RW_OK)
                fail_msg("%s: %s", names[fmt], err.msg);
            assert_script_silent(dir, "f.gp");
            free(out);
        }
    test_tmpdir_remove(dir);
    free(dir);
    free(tab);
}

/* ----------------------------------------------------------------- errors */

/* Runs a trajectory that must fail with st and a message containing want,
 * and leave the directory as it was. */
static void expect_failure(const char *dir, const char *tab, rw_plot_opts o, rw_status want_st,
                           const char *want)
{
    int before = count_entries(dir);
    rw_err err = {{0}};
    const char *paths[] = {tab};
    rw_status st = plot_trajectory(paths, 1, &o, &err);
    if (st != want_st || !strstr(err.msg, want))
        fail_msg("status %d, message '%s'; wanted %d, '%s'", st, err.msg, want_st, want);
    assert_null(strchr(err.msg, '\n'));
    assert_int_equal(count_entries(dir), before);
}

static void bad_input_leaves_nothing(void **state)
{
    (void)state;
    char *dir = tmpdir_new();
    char *tab = pathf(dir, "t.tsv"), *out = pathf(dir, "fig.png");
    rw_plot_opts o = opts_for(out);
    o.gnuplot = "/bin/true"; /* never reached */

    write_text(tab, "run\tstep\ttensor\tlayer\tmodule\tcomponent\trows\tcols\tdtype\tper\n");
    expect_failure(dir, tab, o, RW_EDATA, "t.tsv: table has no rows");
    write_text(tab, "");
    expect_failure(dir, tab, o, RW_EDATA, "t.tsv");
    write_table(tab, "per", 1, 1, 2, 2, 0, 1, per_value);
    o.metric = "cond";
    expect_failure(dir, tab, o, RW_EDATA, "t.tsv: no column 'cond' (its metrics: per)");
    o.metric = NULL;
    o.runs = (const char *const[]){"nope*"};
    o.nruns = 1;
    expect_failure(dir, tab, o, RW_EDATA, "no run matches 'nope*' (runs: full-rank)");
    o.nruns = 0;
    o.modules = (const char *const[]){"attention.q*"};
    o.nmodules = 1;
    expect_failure(dir, tab, o, RW_EDATA, "no module matches 'attention.q*'");
    o.nmodules = 0;
    write_text(tab, "run\tstep\ttensor\tlayer\tmodule\tcomponent\tper\n"
                    "a\t0\tlayers.0.w\t0\tw\tweight\tnan\n"
                    "a\t1\tlayers.0.w\t0\tw\tweight\tinf\n");
    expect_failure(dir, tab, o, RW_EDATA, "per is nan or inf in all 2 selected rows");
    write_text(tab, "run\tstep\ttensor\tlayer\tmodule\tcomponent\tper\n"
                    "a\tzero\tlayers.0.w\t0\tw\tweight\t0.5\n");
    expect_failure(dir, tab, o, RW_EDATA, "t.tsv:2: step 'zero' is not a number");

    /* gnuplot missing, or failing: no figure, script or data left behind */
    write_table(tab, "per", 2, 1, 2, 3, 0, 1, per_value);
    o.gnuplot = "/nonexistent/gnuplot";
    expect_failure(dir, tab, o, RW_ENOTFOUND, "fig.png: gnuplot '/nonexistent/gnuplot'");
    char *fake = pathf(dir, "fake-gnuplot");
    write_text(fake, "#!/bin/sh\necho 'plot x' >&2\necho '     ^' >&2\n"
                     "echo '\"fig.gp\" line 9: something broke' >&2\nexit 1\n");
    chmod(fake, 0755);
    o.gnuplot = fake;
    expect_failure(dir, tab, o, RW_EDATA, "gnuplot failed (exit 1): \"fig.gp\" line 9: something");
    /* a gnuplot that exits 0 without drawing */
    write_text(fake, "#!/bin/sh\nexit 0\n");
    expect_failure(dir, tab, o, RW_EDATA, "gnuplot did not write the figure");
    o.gnuplot = NULL;
    /* the format must be known */
    char *odd = pathf(dir, "fig.bmp");
    o.out = odd;
    expect_failure(dir, tab, o, RW_EUSAGE, "cannot tell the figure format");
    o.format = RW_FIG_PDF;
    o.out = out;
    expect_failure(dir, tab, o, RW_EUSAGE, "the name says png but --format says pdf");
    free(odd);
    free(fake);
    test_tmpdir_remove(dir);
    free(dir);
    free(tab);
    free(out);
}

/* Every byte a name can hold, as a gnuplot string: one line, quotes
 * doubled, control characters escaped, and the name recoverable from it by
 * undoing exactly that (an independent decoder, written here). */
static void quoted_names_are_data(void **state)
{
    (void)state;
    char name[256];
    for (int i = 1; i < 256; i++)
        name[i - 1] = (char)i;
    name[255] = '\0';
    char *q = gp_quoted(name);
    assert_non_null(q);
    size_t n = strlen(q);
    assert_true(n >= 2 && q[0] == '\'' && q[n - 1] == '\'');
    char back[1024];
    size_t m = 0;
    for (size_t i = 1; i + 1 < n; i++) {
        unsigned char c = (unsigned char)q[i];
        assert_true(c >= 0x20 && c != 0x7f); /* nothing that ends a line */
        if (c == '\'') {
            assert_int_equal(q[i + 1], '\''); /* a lone quote would end the string */
            back[m++] = q[i++];
        } else if (c == '\\' && (q[i + 1] == 'n' || q[i + 1] == 't' || q[i + 1] == 'r')) {
            back[m++] = q[i + 1] == 'n' ? '\n' : q[i + 1] == 't' ? '\t' : '\r';
            i++;
        } else if (c == '\\' && q[i + 1] == 'x') {
            unsigned v;
            assert_int_equal(sscanf(q + i + 2, "%2x", &v), 1);
            back[m++] = (char)v;
            i += 3;
        } else {
            back[m++] = (char)c;
        }
    }
    back[m] = '\0';
    /* The backslash (0x5c) itself stands as it is: only \n \t \r \xNN are
     * escapes, and the name has no backslash followed by n, t, r or x. */
    assert_string_equal(back, name);
    free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(png_roundtrip_asymmetric),
        cmocka_unit_test(quoted_names_are_data),
        cmocka_unit_test(viridis_is_viridis),
        cmocka_unit_test(log_tics_label_decades),
        cmocka_unit_test(trajectory_two_runs),
        cmocka_unit_test(trajectory_log_and_nan),
        cmocka_unit_test(heatmap_follows_values),
        cmocka_unit_test(heatmap_log_scale_and_nan),
        cmocka_unit_test(heatmap_single_layer_is_drawn),
        cmocka_unit_test(spectrum_geometric_mean),
        cmocka_unit_test(spectrum_from_spectra_file),
        cmocka_unit_test(spectrum_panels_own_range),
        cmocka_unit_test(spectrum_k1_point),
        cmocka_unit_test(title_by_component),
        cmocka_unit_test(every_format_silent),
        cmocka_unit_test(bad_input_leaves_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
