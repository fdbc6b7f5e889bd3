/*
 * test_ckpt.c — the HDF5 checkpoint reader and run discovery, on files the
 * test writes: names (flat and nested give one name), layer/module parsing,
 * every dtype decoded exactly, matricization, attributes, step from the
 * attribute and from names, step-group files, duplicate steps; float
 * datasets read raw (pread at their offset) exactly when their layout allows
 * it, and through HDF5 otherwise, with the same values.
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
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "ckpt.h"
#include "h5write.h"
#include "run.h"
#include "testutil.h"

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    return test_tmpdir_make(tmpdir, sizeof tmpdir, "ckpt");
}

static int teardown(void **state)
{
    (void)state;
    return test_tmpdir_remove(tmpdir);
}

static char *path_in(const char *name)
{
    static char buf[512];
    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

static void write_file(const char *path, int64_t step, const char *run)
{
    rw_err err = {{0}};
    rw_h5w *w;
    assert_int_equal(h5w_open(path, &w, &err), RW_OK);
    double v[24];
    for (int i = 0; i < 24; i++)
        v[i] = i - 11.5;
    int64_t s2[2] = {4, 6}, s3[3] = {2, 3, 4}, s1[1] = {5};
    assert_int_equal(h5w_dataset(w, "layers.3.swiglu.w_2.weight", 2, s2, RW_DT_F32, v, 0, &err), RW_OK);
    assert_int_equal(h5w_dataset(w, "/layers/4/attention/v_proj/weight", 2, s2, RW_DT_F64, v, 0, &err), RW_OK);
    assert_int_equal(h5w_dataset(w, "conv/kernel", 3, s3, RW_DT_F16, v, 4, &err), RW_OK);
    assert_int_equal(h5w_dataset(w, "norm.weight", 1, s1, RW_DT_BF16, v, 0, &err), RW_OK);
    assert_int_equal(h5w_dataset(w, "ids", 1, s1, RW_DT_INT, v, 0, &err), RW_OK);
    if (step >= 0)
        assert_int_equal(h5w_attr_i64(w, "/", "step", step, &err), RW_OK);
    if (run)
        assert_int_equal(h5w_attr_str(w, "/", "run", run, &err), RW_OK);
    assert_int_equal(h5w_attr_f64(w, "/", "lora_alpha", 16, &err), RW_OK);
    assert_int_equal(h5w_close(w, true, &err), RW_OK);
}

static void names_shapes_dtypes(void **state)
{
    (void)state;
    const char *p = path_in("a.h5");
    write_file(p, 700, "myrun");
    rw_ckpt *c;
    rw_err err = {{0}};
    assert_int_equal(ckpt_open(p, NULL, &c, &err), RW_OK);
    assert_int_equal(c->n, 5);
    /* sorted by name */
    assert_string_equal(c->tensors[0].name, "conv.kernel");
    assert_string_equal(c->tensors[1].name, "ids");
    assert_string_equal(c->tensors[2].name, "layers.3.swiglu.w_2.weight");
    assert_string_equal(c->tensors[3].name, "layers.4.attention.v_proj.weight");
    assert_string_equal(c->tensors[4].name, "norm.weight");

    const rw_tensor *t = &c->tensors[2];
    assert_int_equal(t->layer, 3);
    assert_string_equal(t->module, "swiglu.w_2.weight");
    assert_int_equal(t->dtype, RW_DT_F32);
    assert_int_equal(c->tensors[3].layer, 4);
    assert_string_equal(c->tensors[3].module, "attention.v_proj.weight");
    assert_int_equal(c->tensors[3].dtype, RW_DT_F64);
    assert_int_equal(c->tensors[0].layer, -1);
    assert_string_equal(c->tensors[0].module, "conv.kernel");
    assert_int_equal(c->tensors[0].dtype, RW_DT_F16);
    assert_int_equal(c->tensors[4].dtype, RW_DT_BF16);
    assert_int_equal(c->tensors[1].dtype, RW_DT_INT);

    int64_t m, n;
    assert_true(rw_tensor_matrix(&c->tensors[0], &m, &n)); /* 2x3x4 -> 2x12 */
    assert_int_equal(m, 2);
    assert_int_equal(n, 12);
    assert_false(rw_tensor_matrix(&c->tensors[4], &m, &n)); /* 1-D */
    assert_false(rw_tensor_matrix(&c->tensors[1], &m, &n)); /* integer */

    /* Values: x.5 steps are exact in every dtype used (|v| <= 11.5). */
    double buf[24];
    for (size_t i = 0; i < 5; i++) {
        if (c->tensors[i].dtype == RW_DT_INT)
            continue;
        assert_int_equal(ckpt_read(c, i, buf, &err), RW_OK);
        for (size_t e = 0; e < c->tensors[i].numel; e++)
            assert_true(buf[e] == (double)e - 11.5);
    }
    assert_int_equal(ckpt_step(c), 700);
    assert_string_equal(ckpt_attr(c, "run"), "myrun");
    double alpha;
    assert_true(ckpt_attr_double(c, "lora_alpha", &alpha));
    assert_true(alpha == 16);
    assert_int_equal(ckpt_find(c, "ids"), 1);
    assert_int_equal(ckpt_find(c, "nope"), -1);
    ckpt_free(c);
}

static void half_and_bfloat_bits(void **state)
{
    (void)state;
    assert_true(rw_half_to_double(0x3c00) == 1.0);
    assert_true(rw_half_to_double(0xc000) == -2.0);
    assert_true(rw_half_to_double(0x0001) == ldexp(1, -24));
    assert_true(rw_half_to_double(0x7bff) == 65504.0);
    assert_true(isinf(rw_half_to_double(0x7c00)));
    assert_true(isnan(rw_half_to_double(0x7e00)));
    assert_true(rw_bf16_to_double(0x3f80) == 1.0);
    assert_true(rw_bf16_to_double(0xc040) == -3.0);
    /* round to nearest even */
    assert_int_equal(rw_double_to_half(1.0 + ldexp(1, -11)), 0x3c00);
    assert_int_equal(rw_double_to_half(1.0 + 3 * ldexp(1, -11)), 0x3c02);
    assert_int_equal(rw_double_to_half(ldexp(1, -24)), 0x0001);
    assert_int_equal(rw_double_to_half(1e6), 0x7c00);
    assert_int_equal(rw_double_to_bf16(1.0), 0x3f80);
    assert_int_equal(rw_double_to_bf16(-3.0), 0xc040);
    for (uint32_t h = 0; h < 0x7c00; h++) /* every finite half round-trips */
        assert_int_equal(rw_double_to_half(rw_half_to_double((uint16_t)h)), h);
}

static void step_from_names(void **state)
{
    (void)state;
    char d[512];
    snprintf(d, sizeof d, "%s/names", tmpdir);
    mkdir(d, 0777);
    char p[600];
    snprintf(p, sizeof p, "%s/weights.07.hdf5", d);
    write_file(p, -1, NULL);
    snprintf(p, sizeof p, "%s/checkpoint-1500", d);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/checkpoint-1500/model.h5", d);
    write_file(p, -1, NULL);
    snprintf(p, sizeof p, "%s/step_000200.h5", d);
    write_file(p, -1, NULL);
    snprintf(p, sizeof p, "%s/notes.txt", d); /* not a checkpoint: ignored */
    FILE *f = fopen(p, "w");
    fputs("x", f);
    fclose(f);

    rw_runset rs = {0};
    rw_err err = {{0}};
    assert_int_equal(runset_add(&rs, d, NULL, &err), RW_OK);
    assert_int_equal(runset_finish(&rs, &err), RW_OK);
    assert_int_equal(rs.n, 1);
    assert_string_equal(rs.runs[0].label, "names");
    assert_int_equal(rs.runs[0].n, 3);
    assert_int_equal(rs.runs[0].ckpts[0].step, 7);
    assert_int_equal(rs.runs[0].ckpts[1].step, 200);
    assert_int_equal(rs.runs[0].ckpts[2].step, 1500);
    runset_free(&rs);
}

static void duplicate_steps_are_an_error(void **state)
{
    (void)state;
    char d[512], p[600];
    snprintf(d, sizeof d, "%s/dup", tmpdir);
    mkdir(d, 0777);
    snprintf(p, sizeof p, "%s/a_100.h5", d);
    write_file(p, -1, NULL);
    snprintf(p, sizeof p, "%s/b.h5", d);
    write_file(p, 100, NULL); /* attribute says 100 too */
    rw_runset rs = {0};
    rw_err err = {{0}};
    assert_int_equal(runset_add(&rs, d, NULL, &err), RW_OK);
    assert_int_equal(runset_finish(&rs, &err), RW_EDATA);
    assert_non_null(strstr(err.msg, "both have step 100"));
    assert_non_null(strstr(err.msg, "a_100.h5"));
    assert_non_null(strstr(err.msg, "b.h5"));
    runset_free(&rs);
}

static void step_groups_file(void **state)
{
    (void)state;
    const char *p = path_in("grouped.h5");
    rw_err err = {{0}};
    rw_h5w *w;
    assert_int_equal(h5w_open(p, &w, &err), RW_OK);
    double v[6] = {1, 2, 3, 4, 5, 6};
    int64_t s[2] = {2, 3};
    assert_int_equal(h5w_dataset(w, "step_20/layers/0/w", 2, s, RW_DT_F32, v, 0, &err), RW_OK);
    assert_int_equal(h5w_dataset(w, "step_5/layers/0/w", 2, s, RW_DT_F32, v, 0, &err), RW_OK);
    assert_int_equal(h5w_close(w, true, &err), RW_OK);
    rw_runset rs = {0};
    assert_int_equal(runset_add(&rs, p, NULL, &err), RW_OK);
    assert_int_equal(runset_finish(&rs, &err), RW_OK);
    assert_string_equal(rs.runs[0].label, "grouped");
    assert_int_equal(rs.runs[0].n, 2);
    assert_int_equal(rs.runs[0].ckpts[0].step, 5);
    assert_int_equal(rs.runs[0].ckpts[1].step, 20);
    rw_ckpt *c;
    assert_int_equal(ckpt_open(p, rs.runs[0].ckpts[1].group, &c, &err), RW_OK);
    assert_int_equal(c->n, 1);
    assert_string_equal(c->tensors[0].name, "layers.0.w"); /* relative to the group */
    assert_int_equal(ckpt_step(c), 20);
    ckpt_free(c);
    runset_free(&rs);
}

/* A step attribute too large for int64_t is not a step (the name's is
 * taken): converting it was undefined behaviour (found by fuzz_safetensors,
 * tests/fuzz/crashes/safetensors/step-1e307). */
static void step_attribute_out_of_range(void **state)
{
    (void)state;
    const double bad[] = {1e307, INFINITY, 0x1p63};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *p = path_in("step_7.h5");
        rw_err err = {{0}};
        rw_h5w *w;
        assert_int_equal(h5w_open(p, &w, &err), RW_OK);
        double v[4] = {1, 2, 3, 4};
        int64_t s[2] = {2, 2};
        assert_int_equal(h5w_dataset(w, "w", 2, s, RW_DT_F32, v, 0, &err), RW_OK);
        assert_int_equal(h5w_attr_f64(w, "/", "step", bad[i], &err), RW_OK);
        assert_int_equal(h5w_close(w, true, &err), RW_OK);
        rw_ckpt *c;
        assert_int_equal(ckpt_open(p, NULL, &c, &err), RW_OK);
        assert_int_equal(ckpt_step(c), 7);
        ckpt_free(c);
    }
}

static void bad_files(void **state)
{
    (void)state;
    rw_ckpt *c;
    rw_err err = {{0}};
    assert_int_equal(ckpt_open(path_in("missing.h5"), NULL, &c, &err), RW_EIO);
    assert_non_null(strstr(err.msg, "missing.h5: No such file"));

    const char *p = path_in("junk.h5");
    FILE *f = fopen(p, "w");
    fputs("this is not HDF5\n", f);
    fclose(f);
    assert_int_equal(ckpt_open(p, NULL, &c, &err), RW_EDATA);
    assert_non_null(strstr(err.msg, "not an HDF5 file"));

    /* A truncated copy of a good file. */
    const char *good = path_in("good.h5");
    write_file(good, 1, NULL);
    FILE *in = fopen(good, "rb");
    fseek(in, 0, SEEK_END);
    long size = ftell(in);
    fseek(in, 0, SEEK_SET);
    char *buf = malloc((size_t)size);
    assert_int_equal(fread(buf, 1, (size_t)size, in), (size_t)size);
    fclose(in);
    const char *tp = path_in("trunc.h5");
    f = fopen(tp, "wb");
    fwrite(buf, 1, (size_t)size / 2, f);
    fclose(f);
    free(buf);
    rw_status st = ckpt_open(tp, NULL, &c, &err);
    if (st == RW_OK) { /* the directory survived: reading values must fail */
        double v[24];
        bool failed = false;
        for (size_t i = 0; i < c->n; i++)
            if (rw_dtype_is_float(c->tensors[i].dtype))
                failed = failed || ckpt_read(c, i, v, &err) != RW_OK;
        ckpt_free(c);
        assert_true(failed);
    } else {
        assert_int_equal(st, RW_EDATA);
    }
    assert_non_null(strstr(err.msg, "trunc.h5"));

    char d[512];
    snprintf(d, sizeof d, "%s/empty", tmpdir);
    mkdir(d, 0777);
    rw_runset rs = {0};
    assert_int_equal(runset_add(&rs, d, NULL, &err), RW_EDATA);
    assert_non_null(strstr(err.msg, "no checkpoints"));
    runset_free(&rs);
}

/* One 3 x 5 float dataset named name in file f, of file type ftype, with
 * dataset creation properties dcpl (H5P_DEFAULT: contiguous); written from
 * the 15 values v unless write is false. */
static void h5_raw_dataset(hid_t f, const char *name, hid_t ftype, hid_t dcpl, bool write,
                           const float *v)
{
    hsize_t dims[2] = {3, 5};
    hid_t sp = H5Screate_simple(2, dims, NULL);
    hid_t ds = H5Dcreate2(f, name, ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    assert_true(ds >= 0);
    if (write)
        assert_true(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Dclose(ds);
    H5Sclose(sp);
}

/* Tensor by name, asserting it exists. */
static const rw_tensor *tensor_named(const rw_ckpt *c, const char *name)
{
    long i = ckpt_find(c, name);
    assert_true(i >= 0);
    return &c->tensors[i];
}

/* Reads tensor name of c and checks it holds v (widened), or zeros. */
static void check_values(rw_ckpt *c, const char *name, const float *v)
{
    double got[15];
    rw_err err = {{0}};
    assert_int_equal(ckpt_read(c, (size_t)ckpt_find(c, name), got, &err), RW_OK);
    for (int i = 0; i < 15; i++)
        assert_true(got[i] == (v ? (double)v[i] : 0.0));
}

static void raw_reads_and_fallbacks(void **state)
{
    (void)state;
    float v[15];
    for (int i = 0; i < 15; i++)
        v[i] = (float)(i * 0.37 - 2.5); /* not symmetric: a wrong offset or order shows */
    for (int ublock = 0; ublock <= 1; ublock++) {
        const char *p = path_in(ublock ? "raw_ub.h5" : "raw.h5");
        hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
        if (ublock)
            H5Pset_userblock(fcpl, 512);
        hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, fcpl, H5P_DEFAULT);
        assert_true(f >= 0);
        H5Pclose(fcpl);
        h5_raw_dataset(f, "contig32", H5T_IEEE_F32LE, H5P_DEFAULT, true, v);
        h5_raw_dataset(f, "contig64", H5T_IEEE_F64LE, H5P_DEFAULT, true, v);
        h5_raw_dataset(f, "bigendian32", H5T_IEEE_F32BE, H5P_DEFAULT, true, v);
        h5_raw_dataset(f, "unwritten32", H5T_IEEE_F32LE, H5P_DEFAULT, false, v);
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        hsize_t chunk[2] = {2, 2};
        H5Pset_chunk(dcpl, 2, chunk);
        H5Pset_deflate(dcpl, 6);
        h5_raw_dataset(f, "gzip32", H5T_IEEE_F32LE, dcpl, true, v);
        H5Pclose(dcpl);
        dcpl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_layout(dcpl, H5D_COMPACT);
        h5_raw_dataset(f, "compact32", H5T_IEEE_F32LE, dcpl, true, v);
        H5Pclose(dcpl);
        H5Fclose(f);

        rw_ckpt *c;
        rw_err err = {{0}};
        assert_int_equal(ckpt_open(p, NULL, &c, &err), RW_OK);
        /* Raw only for contiguous native floats, and never with a user block. */
        assert_int_equal(tensor_named(c, "contig32")->h5_raw, !ublock);
        assert_int_equal(tensor_named(c, "contig64")->h5_raw, !ublock);
        assert_false(tensor_named(c, "bigendian32")->h5_raw);
        assert_false(tensor_named(c, "unwritten32")->h5_raw);
        assert_false(tensor_named(c, "gzip32")->h5_raw);
        assert_false(tensor_named(c, "compact32")->h5_raw);
        /* Either way, the values written (the unwritten one: its fill, 0). */
        check_values(c, "contig32", v);
        check_values(c, "contig64", v);
        check_values(c, "bigendian32", v);
        check_values(c, "unwritten32", NULL);
        check_values(c, "gzip32", v);
        check_values(c, "compact32", v);
        ckpt_free(c);
    }

    /* A file cut short after it was listed: the raw read fails, naming the
     * file and the tensor, instead of returning what is not there. */
    const char *p = path_in("raw.h5");
    rw_ckpt *c;
    rw_err err = {{0}};
    assert_int_equal(ckpt_open(p, NULL, &c, &err), RW_OK);
    const rw_tensor *t = tensor_named(c, "contig32");
    assert_true(t->h5_raw);
    assert_int_equal(truncate(p, (off_t)t->offset + 8), 0);
    double got[15];
    assert_int_equal(ckpt_read(c, (size_t)ckpt_find(c, "contig32"), got, &err), RW_EDATA);
    assert_non_null(strstr(err.msg, "raw.h5: contig32: cannot read values"));
    ckpt_free(c);
}

static void selection_globs(void **state)
{
    (void)state;
    rw_select s = {0};
    rw_err err = {{0}};
    assert_true(rw_select_match(&s, "anything"));
    rw_select_add(&s, true, "layers.*.attention.*", &err);
    rw_select_add(&s, false, "*.q_proj.*", &err);
    assert_true(rw_select_match(&s, "layers.0.attention.v_proj.weight"));
    assert_false(rw_select_match(&s, "layers.0.attention.q_proj.weight"));
    assert_false(rw_select_match(&s, "layers.0.swiglu.w_2.weight"));
    rw_select_free(&s);
}

static void number_formatting(void **state)
{
    (void)state;
    char b[32];
    assert_string_equal(rw_fmt_double(b, 0.1), "0.1");
    assert_string_equal(rw_fmt_double(b, 1.0 / 3.0), "0.3333333333333333");
    assert_string_equal(rw_fmt_double(b, NAN), "nan");
    assert_string_equal(rw_fmt_double(b, -INFINITY), "-inf");
    double x = 2.0 / 3.0, y;
    assert_true(rw_parse_double(rw_fmt_double(b, x), &y) && x == y);
    assert_int_equal(rw_last_integer("step_001000"), 1000);
    assert_int_equal(rw_last_integer("weights.07"), 7);
    assert_int_equal(rw_last_integer("model"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names_shapes_dtypes),
        cmocka_unit_test(half_and_bfloat_bits),
        cmocka_unit_test(step_from_names),
        cmocka_unit_test(duplicate_steps_are_an_error),
        cmocka_unit_test(step_groups_file),
        cmocka_unit_test(step_attribute_out_of_range),
        cmocka_unit_test(bad_files),
        cmocka_unit_test(raw_reads_and_fallbacks),
        cmocka_unit_test(selection_globs),
        cmocka_unit_test(number_formatting),
    };
    return cmocka_run_group_tests_name("ckpt", tests, setup, teardown);
}
