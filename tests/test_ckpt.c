/*
 * test_ckpt.c — the HDF5 checkpoint reader and run discovery, on files the
 * test writes: names (flat and nested give one name), layer/module parsing,
 * every dtype decoded exactly, matricization, attributes, step from the
 * attribute and from names, step-group files, duplicate steps; float
 * datasets read raw (pread at their offset) exactly when their layout allows
 * it, and through HDF5 otherwise, with the same values. Resource bounds and
 * checked values (docs/reliability.md): storage that does not match the
 * shape, only the attributes used read (never a variable-length one), the
 * step attribute or metadata checked, non-IEEE 16-bit floats converted by
 * HDF5.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>

#include "io/ckpt.h"
/* The back end's private header: these tests check where a tensor's values
 * were found (rw_tensor_loc: h5_raw, offset, h5_convert). */
#include "io/ckpt_impl.h"
#include "io/packed.h"
#include "fixtures/h5write.h"
#include "io/run.h"
#include "fixtures/stwrite.h"
#include "tests/testutil.h"

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

/* A step attribute too large for int64_t is an error naming it, like every
 * malformed step (converting it to int64_t was undefined behaviour, found by
 * fuzz_safetensors: tests/fuzz/crashes/safetensors/step-1e307), never the
 * name's step 7 in its place. */
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
        rw_ckpt *c = NULL;
        assert_int_equal(ckpt_open(p, NULL, &c, &err), RW_EDATA);
        assert_null(c);
        assert_non_null(strstr(err.msg, "step_7.h5: attribute step "));
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
    if (ckpt_read(c, (size_t)ckpt_find(c, name), got, &err) != RW_OK)
        fail_msg("%s", err.msg);
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
        assert_int_equal(tensor_named(c, "contig32")->loc->h5_raw, !ublock);
        assert_int_equal(tensor_named(c, "contig64")->loc->h5_raw, !ublock);
        assert_false(tensor_named(c, "bigendian32")->loc->h5_raw);
        assert_false(tensor_named(c, "gzip32")->loc->h5_raw);
        assert_false(tensor_named(c, "compact32")->loc->h5_raw);
        /* Either way, the values written. */
        check_values(c, "contig32", v);
        check_values(c, "contig64", v);
        check_values(c, "bigendian32", v);
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
    assert_true(t->loc->h5_raw);
    assert_int_equal(truncate(p, (off_t)t->loc->offset + 8), 0);
    double got[15];
    assert_int_equal(ckpt_read(c, (size_t)ckpt_find(c, "contig32"), got, &err), RW_EDATA);
    assert_non_null(strstr(err.msg, "raw.h5: contig32: cannot read values"));
    ckpt_free(c);
}

/* Packed reads (ckpt_read_packed, io/packed.h): chunked datasets with
 * deflate, shuffle and fletcher32 are read as raw chunks and decoded to the
 * values written, edge chunks (3 x 5 in 2 x 2 chunks) included; anything
 * else (another filter, edge chunks left unfiltered, big-endian, a user
 * block, contiguous) is not packed and reads as before. */
static void packed_reads(void **state)
{
    (void)state;
    float v[15];
    for (int i = 0; i < 15; i++)
        v[i] = (float)(i * 0.37 - 2.5);
    const char *p = path_in("packed.h5");
    hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(f >= 0);
    hsize_t chunk[2] = {2, 2};
    static const char *const names[] = {"gzip", "shuffle_gzip", "all3", "fletcher_only",
                                        "nbit", "partial_unfiltered", "bigendian"};
    for (int k = 0; k < 7; k++) {
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_chunk(dcpl, 2, chunk);
        if (k == 1 || k == 2)
            H5Pset_shuffle(dcpl);
        if (k != 3 && k != 4)
            H5Pset_deflate(dcpl, 6);
        if (k == 2 || k == 3)
            H5Pset_fletcher32(dcpl);
        if (k == 4)
            H5Pset_nbit(dcpl);
        if (k == 5)
            H5Pset_chunk_opts(dcpl, H5D_CHUNK_DONT_FILTER_PARTIAL_CHUNKS);
        h5_raw_dataset(f, names[k], k == 6 ? H5T_IEEE_F32BE : H5T_IEEE_F32LE, dcpl, true, v);
        H5Pclose(dcpl);
    }
    h5_raw_dataset(f, "contig", H5T_IEEE_F32LE, H5P_DEFAULT, true, v);
    H5Fclose(f);

    rw_ckpt *c;
    rw_err err = {{0}};
    assert_int_equal(ckpt_open(p, NULL, &c, &err), RW_OK);
    for (int k = 0; k < 8; k++) {
        const char *name = k < 7 ? names[k] : "contig";
        rw_packed *pk = NULL;
        assert_int_equal(ckpt_read_packed(c, (size_t)ckpt_find(c, name), &pk, &err), RW_OK);
        if (k < 4) {
            assert_non_null(pk);
            assert_int_equal(pk->nchunks, 6); /* 2 x 3, the last row and column partial */
            double got[15];
            assert_int_equal(rw_packed_decode(pk, got, &err), RW_OK);
            for (int i = 0; i < 15; i++)
                assert_true(got[i] == (double)v[i]);
        } else {
            assert_null(pk);
        }
        rw_packed_free(pk);
        check_values(c, name, v); /* ckpt_read: the same either way */
    }
    /* a detached copy (ckpt_detach) of a packed, an unpacked-filtered and a
     * contiguous tensor, in another order: names and shapes as there, the
     * values read after the checkpoint is gone; an index out of range is
     * an error and no copy */
    size_t idx[3] = {(size_t)ckpt_find(c, "contig"), (size_t)ckpt_find(c, "all3"),
                     (size_t)ckpt_find(c, "nbit")};
    rw_ckpt *d = NULL;
    bool any = false;
    assert_int_equal(ckpt_detach(c, idx, 3, &d, &any, &err), RW_OK);
    assert_true(any);
    assert_true(ckpt_detached_size(d) > 0);
    assert_int_equal(ckpt_detached_size(c), 0);
    rw_ckpt *d2 = NULL;
    assert_int_equal(ckpt_detach(c, idx, 1, &d2, &any, &err), RW_OK);
    assert_false(any); /* contiguous only: nothing for a worker to inflate */
    ckpt_free(d2);
    size_t bad[2] = {idx[0], c->n};
    assert_int_equal(ckpt_detach(c, bad, 2, &d2, &any, &err), RW_EUSAGE);
    assert_null(d2);
    for (int k = 0; k < 3; k++) {
        const rw_tensor *t = &d->tensors[k];
        assert_string_equal(t->name, c->tensors[idx[k]].name);
        assert_int_equal(t->numel, 15);
        assert_int_equal(t->shape[0], 3);
        assert_int_equal(t->shape[1], 5);
    }
    ckpt_free(c);
    double dv[15];
    for (int k = 0; k < 3; k++) { /* the checkpoint closed */
        memset(dv, 0, sizeof dv);
        assert_int_equal(ckpt_read(d, (size_t)k, dv, &err), RW_OK);
        for (int i = 0; i < 15; i++)
            assert_true(dv[i] == (double)v[i]);
    }
    ckpt_free(d);

    /* Opened again (a new shared descriptor, nothing decoded from it yet):
     * a tensor not to be read again (the checkpoint's reread false) is
     * not kept; with reread, all3 decoded once is kept, and decoding it
     * again adds nothing. Then
     * cut short: the chunk past the new end of gzip, never decoded, is an
     * error naming the file, the tensor and the chunk (the chunks are read
     * when decoded, from the rw_packed's own descriptor, after the
     * checkpoint is closed too); all3 comes from what was decoded, with
     * the values the file held then. A failed decode keeps nothing. */
    assert_int_equal(ckpt_open(p, NULL, &c, &err), RW_OK);
    rw_packed *pk = NULL, *pk2 = NULL, *pk3 = NULL;
    assert_int_equal(ckpt_read_packed(c, (size_t)ckpt_find(c, "shuffle_gzip"), &pk3, &err),
                     RW_OK);
    c->reread = true;
    assert_int_equal(ckpt_read_packed(c, (size_t)ckpt_find(c, "all3"), &pk, &err), RW_OK);
    assert_int_equal(ckpt_read_packed(c, (size_t)ckpt_find(c, "gzip"), &pk2, &err), RW_OK);
    assert_non_null(pk);
    assert_non_null(pk2);
    assert_non_null(pk3);
    assert_non_null(pk->file);
    assert_ptr_equal(pk->file, pk2->file);
    assert_ptr_equal(pk->file, pk3->file);
    double got[15];
    assert_int_equal(rw_packed_decode(pk3, got, &err), RW_OK); /* not to be reread */
    for (int i = 0; i < 15; i++)
        assert_true(got[i] == (double)v[i]);
    assert_int_equal(rw_packed_file_cached(pk->file), 0);
    rw_packed_free(pk3);
    /* kept when read through a detached copy too (the workers' way): a
     * second copy's read decodes nothing */
    rw_ckpt *dk = NULL, *dk2 = NULL;
    size_t ix = (size_t)ckpt_find(c, "fletcher_only");
    assert_int_equal(ckpt_detach(c, &ix, 1, &dk, &any, &err), RW_OK);
    assert_int_equal(ckpt_detach(c, &ix, 1, &dk2, &any, &err), RW_OK);
    size_t decodes = rw_packed_decodes();
    assert_int_equal(ckpt_read(dk, 0, got, &err), RW_OK);
    assert_int_equal(rw_packed_decodes() - decodes, 1);
    size_t kept = rw_packed_file_cached(pk->file);
    assert_true(kept >= 15 * sizeof(double));
    memset(got, 0, sizeof got);
    assert_int_equal(ckpt_read(dk2, 0, got, &err), RW_OK);
    assert_int_equal(rw_packed_decodes() - decodes, 1);
    for (int i = 0; i < 15; i++)
        assert_true(got[i] == (double)v[i]);
    ckpt_free(dk);
    ckpt_free(dk2);
    ckpt_free(c);
    assert_int_equal(rw_packed_decode(pk, got, &err), RW_OK);
    size_t one = rw_packed_file_cached(pk->file);
    assert_true(one >= 15 * sizeof(double));
    memset(got, 0, sizeof got);
    assert_int_equal(rw_packed_decode(pk, got, &err), RW_OK);
    assert_int_equal(rw_packed_file_cached(pk->file), one);
    for (int i = 0; i < 15; i++)
        assert_true(got[i] == (double)v[i]);
    assert_int_equal(truncate(p, 2048), 0);
    assert_int_equal(rw_packed_decode(pk2, got, &err), RW_EDATA);
    assert_non_null(strstr(err.msg, "packed.h5: gzip: chunk"));
    assert_non_null(strstr(err.msg, "cannot read it (truncated or corrupt file?)"));
    assert_int_equal(rw_packed_file_cached(pk->file), one);
    assert_int_equal(rw_packed_decode(pk2, got, &err), RW_EDATA);
    memset(got, 0, sizeof got);
    assert_int_equal(rw_packed_decode(pk, got, &err), RW_OK);
    for (int i = 0; i < 15; i++)
        assert_true(got[i] == (double)v[i]);
    rw_packed_free(pk);
    rw_packed_free(pk2);
}

/* A file at p of n float32 datasets names[k], rows x cols, each v, in
 * crows x ccols chunks deflated at level. */
static void write_deflated(const char *p, const char *const *names, int n, hsize_t rows,
                           hsize_t cols, hsize_t crows, hsize_t ccols, int level, const float *v)
{
    hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hsize_t dims[2] = {rows, cols}, chunk[2] = {crows, ccols};
    assert_true(f >= 0 && dcpl >= 0);
    H5Pset_chunk(dcpl, 2, chunk);
    H5Pset_deflate(dcpl, (unsigned)level);
    hid_t sp = H5Screate_simple(2, dims, NULL);
    for (int k = 0; k < n; k++) {
        hid_t ds = H5Dcreate2(f, names[k], H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        assert_true(ds >= 0);
        assert_true(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
        H5Dclose(ds);
    }
    H5Sclose(sp);
    H5Pclose(dcpl);
    H5Fclose(f);
}

/* What is kept stays within RW_PACKED_CACHE_MAX over all files: of two
 * tensors that together exceed it, the second is decoded (right) and not
 * kept; once the first one's file is let go, the second is kept. */
static void packed_cache_bounded(void **state)
{
    (void)state;
    const hsize_t rows = RW_PACKED_CACHE_MAX / sizeof(double) / 1024 * 5 / 8, cols = 1024;
    float *v = calloc(rows * cols, sizeof *v);
    assert_non_null(v);
    for (hsize_t i = 0; i < rows * cols; i += 4099)
        v[i] = (float)i;
    const char *p = path_in("big.h5");
    static const char *const ab[] = {"a", "b"};
    write_deflated(p, ab, 2, rows, cols, rows / 4, cols, 1, v);

    rw_ckpt *c;
    rw_err err = {{0}};
    rw_packed *a = NULL, *b = NULL;
    assert_int_equal(ckpt_open(p, NULL, &c, &err), RW_OK);
    c->reread = true;
    assert_int_equal(ckpt_read_packed(c, (size_t)ckpt_find(c, "a"), &a, &err), RW_OK);
    ckpt_free(c);
    assert_int_equal(ckpt_open(p, NULL, &c, &err), RW_OK); /* another shared file */
    c->reread = true;
    assert_int_equal(ckpt_read_packed(c, (size_t)ckpt_find(c, "b"), &b, &err), RW_OK);
    ckpt_free(c);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a->file, b->file);
    double *got = malloc(rows * cols * sizeof *got);
    assert_non_null(got);
    assert_int_equal(rw_packed_decode(a, got, &err), RW_OK);
    assert_true(rw_packed_file_cached(a->file) >= rows * cols * sizeof(double));
    for (int round = 0; round < 2; round++) {
        memset(got, 0xff, rows * cols * sizeof *got);
        assert_int_equal(rw_packed_decode(b, got, &err), RW_OK);
        for (hsize_t i = 0; i < rows * cols; i++)
            assert_true(got[i] == (double)v[i]);
        if (round == 0) {
            assert_int_equal(rw_packed_file_cached(b->file), 0);
            rw_packed_free(a);
        } else {
            assert_true(rw_packed_file_cached(b->file) >= rows * cols * sizeof(double));
        }
    }
    rw_packed_free(b);
    free(got);
    free(v);
}

/* Threads decoding the same chunks at once (rw-spectra's workers building
 * a module's weight and full components): each gets the values written,
 * the chunks are inflated once, and the file keeps one copy. */
typedef struct {
    const rw_packed *pk;
    double *got;
    rw_status st;
    pthread_barrier_t *go;
} decode_arg;

static void *decode_thread(void *arg)
{
    decode_arg *a = arg;
    rw_err err = {{0}};
    pthread_barrier_wait(a->go); /* all at once */
    a->st = rw_packed_decode(a->pk, a->got, &err);
    return NULL;
}

static void packed_decodes_shared(void **state)
{
    (void)state;
    enum { ROWS = 1536, COLS = 384, NT = 4 };
    static float v[ROWS * COLS];
    for (int i = 0; i < ROWS * COLS; i++)
        v[i] = (float)sin(0.01 * i) * (float)(1 + i % 7);
    const char *p = path_in("shared.h5");
    static const char *const w[] = {"w"};
    write_deflated(p, w, 1, ROWS, COLS, 384, 96, 4, v);

    rw_ckpt *c;
    rw_err err = {{0}};
    assert_int_equal(ckpt_open(p, NULL, &c, &err), RW_OK);
    c->reread = true;
    rw_packed *pk[NT];
    for (int t = 0; t < NT; t++) { /* each thread its own rw_packed, one file */
        assert_int_equal(ckpt_read_packed(c, (size_t)ckpt_find(c, "w"), &pk[t], &err), RW_OK);
        assert_non_null(pk[t]);
        assert_int_equal(pk[t]->nchunks, 16);
    }
    ckpt_free(c);
    pthread_t th[NT];
    decode_arg args[NT];
    pthread_barrier_t go;
    assert_int_equal(pthread_barrier_init(&go, NULL, NT), 0);
    size_t decodes = rw_packed_decodes();
    for (int t = 0; t < NT; t++) {
        args[t] = (decode_arg){pk[t], malloc(sizeof(double) * ROWS * COLS), RW_EDATA, &go};
        assert_non_null(args[t].got);
        assert_int_equal(pthread_create(&th[t], NULL, decode_thread, &args[t]), 0);
    }
    for (int t = 0; t < NT; t++)
        assert_int_equal(pthread_join(th[t], NULL), 0);
    pthread_barrier_destroy(&go);
    /* one thread inflated the chunks; the others waited for it, or came
     * after and copied */
    assert_int_equal(rw_packed_decodes() - decodes, 1);
    size_t kept = rw_packed_file_cached(pk[0]->file);
    assert_true(kept >= sizeof(double) * ROWS * COLS && kept < 2 * sizeof(double) * ROWS * COLS);
    for (int t = 0; t < NT; t++) {
        assert_int_equal(args[t].st, RW_OK);
        for (int i = 0; i < ROWS * COLS; i++)
            assert_true(args[t].got[i] == (double)v[i]);
        free(args[t].got);
        rw_packed_free(pk[t]);
    }
}

/* Reads through HDF5 (not raw) of a file cut short after it was listed:
 * HDF5 itself returns zeros for what lies past the new end, so the reader
 * must notice the shrink and fail, naming the file and the tensor. */
static void reads_of_a_shrunk_file(void **state)
{
    (void)state;
    float v[15];
    for (int i = 0; i < 15; i++)
        v[i] = (float)(i * 0.37 - 2.5);
    const char *p = path_in("shrunk.h5");
    hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(f >= 0);
    h5_raw_dataset(f, "bigendian32", H5T_IEEE_F32BE, H5P_DEFAULT, true, v);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hsize_t chunk[2] = {2, 2};
    H5Pset_chunk(dcpl, 2, chunk);
    h5_raw_dataset(f, "chunked32", H5T_IEEE_F32LE, dcpl, true, v);
    H5Pclose(dcpl);
    H5Fclose(f);

    rw_ckpt *c;
    rw_err err = {{0}};
    assert_int_equal(ckpt_open(p, NULL, &c, &err), RW_OK);
    assert_false(tensor_named(c, "bigendian32")->loc->h5_raw);
    assert_false(tensor_named(c, "chunked32")->loc->h5_raw);
    check_values(c, "bigendian32", v);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_int_equal(truncate(p, sb.st_size / 4), 0);
    const char *names[] = {"bigendian32", "chunked32"};
    for (int k = 0; k < 2; k++) {
        double got[15];
        assert_int_equal(ckpt_read(c, (size_t)ckpt_find(c, names[k]), got, &err), RW_EDATA);
        assert_non_null(strstr(err.msg, "shrunk.h5: "));
        assert_non_null(strstr(err.msg, names[k]));
        assert_non_null(strstr(err.msg, "cannot read values"));
    }
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
    /* durations for the progress line: rounded to the second */
    assert_string_equal(rw_fmt_duration(b, 0.4), "0s");
    assert_string_equal(rw_fmt_duration(b, 59.4), "59s");
    assert_string_equal(rw_fmt_duration(b, 59.6), "1m00s");
    assert_string_equal(rw_fmt_duration(b, 185), "3m05s");
    assert_string_equal(rw_fmt_duration(b, 2 * 3600 + 4 * 60 + 59), "2h04m");
    assert_string_equal(rw_fmt_duration(b, 3 * 86400 + 2 * 3600 + 1), "3d02h");
    assert_string_equal(rw_fmt_duration(b, NAN), "?");
    assert_string_equal(rw_fmt_duration(b, -1), "?");
    assert_string_equal(rw_fmt_duration(b, INFINITY), "?");
}

/* ------------------------------------------------ resource bounds, checks */

/* Peak resident memory of this process so far, in KiB. */
static long peak_kib(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A 2-D float32 dataset of dims d, chunked by ch (contiguous when ch is
 * NULL), whose first `written` chunk rows (of ch[0] rows each) are written. */
static void declared_dataset(hid_t f, const char *name, const hsize_t *d, const hsize_t *ch,
                             hsize_t written)
{
    hid_t sp = H5Screate_simple(2, d, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (ch)
        H5Pset_chunk(dcpl, 2, ch);
    hid_t ds = H5Dcreate2(f, name, H5T_IEEE_F32LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    assert_true(ds >= 0);
    if (written) {
        hsize_t start[2] = {0, 0}, count[2] = {written * ch[0], d[1]};
        float *v = calloc(count[0] * count[1], sizeof *v);
        hid_t ms = H5Screate_simple(2, count, NULL), fs = H5Dget_space(ds);
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL);
        assert_true(H5Dwrite(ds, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, v) >= 0);
        H5Sclose(ms);
        H5Sclose(fs);
        free(v);
    }
    H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(sp);
}

/* Opens the one-dataset file p and expects RW_EDATA with msg in the error. */
static void expect_open_error(const char *p, const char *msg)
{
    rw_ckpt *c = NULL;
    rw_err err = {{0}};
    assert_int_equal(ckpt_open(p, NULL, &c, &err), RW_EDATA);
    assert_null(c);
    if (!strstr(err.msg, msg))
        fail_msg("'%s' lacks '%s'", err.msg, msg);
}

static void storage_must_match_the_shape(void **state)
{
    (void)state;
    /* Never written, chunked 30000 x 30000: a 1.4 KB file that read as 7 GB
     * of fill values. Refused at open, at once, without that allocation. */
    const char *p = path_in("unwritten.h5");
    hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t big[2] = {30000, 30000}, bigch[2] = {1000, 1000};
    declared_dataset(f, "layers.0.w", big, bigch, 0);
    H5Fclose(f);
    struct stat sb;
    assert_int_equal(stat(p, &sb), 0);
    assert_true(sb.st_size < 4096);
    long kib = peak_kib();
    double t0 = now_s();
    expect_open_error(p, "unwritten.h5: layers.0.w: no values stored for its 30000x30000 "
                         "float32 (never written");
    assert_true(now_s() - t0 < 2.0);
    assert_true(peak_kib() - kib < 100 * 1024);
    /* The same through run discovery and the attribute-only open: the
     * attributes are fine, so discovery succeeds and the analysis refuses. */
    rw_ckpt *c;
    rw_err err = {{0}};
    assert_int_equal(ckpt_open_attrs(p, NULL, &c, &err), RW_OK);
    ckpt_free(c);

    /* Contiguous and never written. */
    p = path_in("unwritten_contig.h5");
    f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t small[2] = {3, 5};
    declared_dataset(f, "w", small, NULL, 0);
    H5Fclose(f);
    expect_open_error(p, "unwritten_contig.h5: w: no values stored for its 3x5 float32");

    /* Chunked, one chunk row of four written: partly written. */
    p = path_in("partial.h5");
    f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t d[2] = {8, 6}, ch[2] = {2, 6};
    declared_dataset(f, "w", d, ch, 1);
    H5Fclose(f);
    expect_open_error(p, "partial.h5: w: only 48 of the 192 bytes of its 8x6 float32 are stored "
                         "(partly written)");

    /* Fully written, the same layout: fine, and integer datasets never
     * written are listed (they are never read). */
    p = path_in("full.h5");
    f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    declared_dataset(f, "w", d, ch, 4);
    hid_t sp = H5Screate_simple(2, d, NULL);
    hid_t ids = H5Dcreate2(f, "ids", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Dclose(ids);
    H5Sclose(sp);
    H5Fclose(f);
    assert_int_equal(ckpt_open(p, NULL, &c, &err), RW_OK);
    assert_int_equal(c->n, 2);
    ckpt_free(c);
}

/* Writes a root attribute name of file type ftype (memory type mtype). */
static void put_attr(hid_t f, const char *name, hid_t ftype, hid_t mtype, const void *v)
{
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(a >= 0);
    assert_true(H5Awrite(a, mtype, v) >= 0);
    H5Aclose(a);
    H5Sclose(sp);
}

static hid_t vlen_string(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    return t;
}

/* Finds the 4-byte length len of a variable-length string stored in global
 * heap collection "GCOL" of the file's bytes (the length, then the
 * collection's address) and sets it to newlen: what a corrupt or hostile
 * file holds. */
static void patch_vlen_length(const char *p, uint32_t len, uint32_t newlen)
{
    FILE *f = fopen(p, "r+b");
    assert_non_null(f);
    unsigned char buf[65536];
    size_t n = fread(buf, 1, sizeof buf, f);
    size_t gcol = 0;
    for (size_t i = 0; i + 4 <= n && !gcol; i++)
        if (!memcmp(buf + i, "GCOL", 4))
            gcol = i;
    assert_true(gcol > 0);
    unsigned char pat[12] = {len, len >> 8, len >> 16, len >> 24};
    for (int b = 0; b < 8; b++)
        pat[4 + b] = (unsigned char)((uint64_t)gcol >> (8 * b));
    size_t at = 0;
    for (size_t i = 0; i + sizeof pat <= n && !at; i++)
        if (!memcmp(buf + i, pat, sizeof pat))
            at = i;
    assert_true(at > 0);
    unsigned char nl[4] = {newlen, newlen >> 8, newlen >> 16, newlen >> 24};
    fseek(f, (long)at, SEEK_SET);
    fwrite(nl, 1, 4, f);
    fclose(f);
}

static void only_the_attributes_used(void **state)
{
    (void)state;
    const char *p = path_in("vlen_attr.h5");
    hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t vs = vlen_string();
    const char *run = "ABCDEFGHIJKLMNOPQRSTU"; /* 21 characters */
    put_attr(f, "run", vs, vs, &run);
    /* Attributes nobody asked for: never read, whatever they are. */
    float many[1000] = {0};
    hsize_t n = 1000;
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t a = H5Acreate2(f, "lora_alpha", H5T_IEEE_F32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
    H5Awrite(a, H5T_NATIVE_FLOAT, many);
    H5Aclose(a);
    H5Sclose(sp);
    int64_t r = 8;
    put_attr(f, "lora_r", H5T_STD_I64LE, H5T_NATIVE_INT64, &r);
    hid_t fixed = H5Tcopy(H5T_C_S1);
    H5Tset_size(fixed, 4);
    put_attr(f, "n_heads", fixed, fixed, "four");
    H5Tclose(fixed);
    H5Tclose(vs);
    H5Fclose(f);
    /* The run string now claims 2.5e9 characters: HDF5 allocates that much
     * (and takes a minute) to read it. */
    patch_vlen_length(p, 21, 2500000000u);

    long kib = peak_kib();
    double t0 = now_s();
    rw_ckpt *c;
    rw_err err = {{0}};
    assert_int_equal(ckpt_open(p, NULL, &c, &err), RW_OK);
    assert_true(now_s() - t0 < 2.0);
    assert_true(peak_kib() - kib < 100 * 1024);
    assert_null(ckpt_attr(c, "run"));        /* variable-length: not read */
    assert_null(ckpt_attr(c, "lora_alpha")); /* 1000 values: not one number */
    assert_null(ckpt_attr(c, "n_heads"));    /* a string: not a number */
    assert_string_equal(ckpt_attr(c, "lora_r"), "8");
    assert_int_equal(c->nattrs, 1);
    ckpt_free(c);
}

static void step_attribute_checked(void **state)
{
    (void)state;
    static const struct {
        const char *file, *msg;
    } cases[] = {
        {"step_str.h5", "step_str.h5: attribute step is a string, not an integer"},
        {"step_vlen.h5", "step_vlen.h5: attribute step is a variable-length string"},
        {"step_float.h5", "step_float.h5: attribute step is a float, not an integer"},
        {"step_neg.h5", "step_neg.h5: attribute step is -5, not in 0 .. 2^53"},
        {"step_2p60.h5", "step_2p60.h5: attribute step is 1152921504606846976, not in 0 .. 2^53"},
        {"step_u64.h5", "step_u64.h5: attribute step is 9223372036854775807, not in 0 .. 2^53"},
        {"step_two.h5", "step_two.h5: attribute step has more or fewer than one value"},
        {"step_2p53.h5", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        /* Named step_... with digits in the name: no fallback to them. */
        const char *p = path_in(cases[i].file);
        hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        int64_t v;
        double d = 700.0;
        uint64_t u = UINT64_MAX;
        hid_t t = H5Tcopy(H5T_C_S1), vs = vlen_string();
        const char *text = "700";
        H5Tset_size(t, 4);
        switch (i) {
        case 0: put_attr(f, "step", t, t, text); break;
        case 1: put_attr(f, "step", vs, vs, &text); break;
        case 2: put_attr(f, "step", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &d); break;
        case 3: v = -5; put_attr(f, "step", H5T_STD_I64LE, H5T_NATIVE_INT64, &v); break;
        case 4: v = (int64_t)1 << 60; put_attr(f, "step", H5T_STD_I64LE, H5T_NATIVE_INT64, &v); break;
        case 5: put_attr(f, "step", H5T_STD_U64LE, H5T_NATIVE_UINT64, &u); break;
        case 6: {
            hsize_t two = 2;
            int64_t vv[2] = {1, 2};
            hid_t sp = H5Screate_simple(1, &two, NULL);
            hid_t a = H5Acreate2(f, "step", H5T_STD_I64LE, sp, H5P_DEFAULT, H5P_DEFAULT);
            H5Awrite(a, H5T_NATIVE_INT64, vv);
            H5Aclose(a);
            H5Sclose(sp);
            break;
        }
        default: v = (int64_t)1 << 53; put_attr(f, "step", H5T_STD_I64LE, H5T_NATIVE_INT64, &v);
        }
        H5Tclose(t);
        H5Tclose(vs);
        H5Fclose(f);
        rw_ckpt *c = NULL;
        rw_err err = {{0}};
        if (!cases[i].msg) {
            assert_int_equal(ckpt_open_attrs(p, NULL, &c, &err), RW_OK);
            assert_int_equal(ckpt_step(c), (int64_t)1 << 53);
            ckpt_free(c);
            continue;
        }
        assert_int_equal(ckpt_open_attrs(p, NULL, &c, &err), RW_EDATA);
        if (!strstr(err.msg, cases[i].msg))
            fail_msg("'%s' lacks '%s'", err.msg, cases[i].msg);
        /* Run discovery fails the same way, naming the file. */
        rw_runset rs = {0};
        assert_int_equal(runset_add(&rs, p, NULL, &err), RW_EDATA);
        assert_non_null(strstr(err.msg, cases[i].msg));
        runset_free(&rs);
    }
}

/* safetensors metadata are strings: the step must be a whole number in
 * 0 .. 2^53 there too. */
static void safetensors_step_checked(void **state)
{
    (void)state;
    static const char *const bad[] = {"1500.5", "-3", "1152921504606846976", "step"};
    for (size_t i = 0; i <= sizeof bad / sizeof *bad; i++) {
        const char *p = path_in("step_000700.safetensors");
        rw_stw *w = stw_new();
        rw_err err = {{0}};
        double v[4] = {1, 2, 3, 4};
        int64_t shape[2] = {2, 2};
        assert_int_equal(stw_meta(w, "step", i < 4 ? bad[i] : "1500", &err), RW_OK);
        assert_int_equal(stw_tensor(w, "w", 2, shape, RW_DT_F32, v, &err), RW_OK);
        assert_int_equal(stw_save(w, p, &err), RW_OK);
        stw_free(w);
        rw_ckpt *c = NULL;
        if (i == 4) {
            assert_int_equal(ckpt_open(p, NULL, &c, &err), RW_OK);
            assert_int_equal(ckpt_step(c), 1500);
            ckpt_free(c);
            continue;
        }
        assert_int_equal(ckpt_open(p, NULL, &c, &err), RW_EDATA);
        char want[600];
        snprintf(want, sizeof want, "%s: step '%s' is not a whole number in 0 .. 2^53", p,
                 bad[i]);
        if (!strstr(err.msg, want))
            fail_msg("'%s' lacks '%s'", err.msg, want);
    }
}

/* A 16-bit float with the fields of IEEE binary16 but exponent bias 14
 * (legal in HDF5): every value is twice what IEEE half would make of its
 * bits. Read through HDF5's conversion, the values come back as written. */
static void nonstandard_float16(void **state)
{
    (void)state;
    const char *p = path_in("bias14.h5");
    hid_t f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(t, 15, 10, 5, 0, 10);
    H5Tset_size(t, 2);
    H5Tset_precision(t, 16);
    H5Tset_ebias(t, 14);
    hsize_t d[2] = {2, 3};
    double v[6] = {1.5, -2, 0.25, 3, 100, -0.125}, got[6];
    hid_t sp = H5Screate_simple(2, d, NULL);
    hid_t ds = H5Dcreate2(f, "w", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Dclose(ds);
    /* The standard layout beside it still takes the hand decoder. */
    H5Tset_ebias(t, 15);
    ds = H5Dcreate2(f, "ieee", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Dclose(ds);
    H5Sclose(sp);
    H5Tclose(t);
    H5Fclose(f);
    rw_ckpt *c;
    rw_err err = {{0}};
    assert_int_equal(ckpt_open(p, NULL, &c, &err), RW_OK);
    const char *names[2] = {"w", "ieee"};
    for (int k = 0; k < 2; k++) {
        const rw_tensor *tt = tensor_named(c, names[k]);
        assert_int_equal(tt->dtype, RW_DT_F16);
        assert_int_equal(tt->loc->h5_convert, k == 0);
        assert_int_equal(ckpt_read(c, (size_t)ckpt_find(c, names[k]), got, &err), RW_OK);
        for (int i = 0; i < 6; i++)
            assert_true(got[i] == v[i]);
    }
    ckpt_free(c);
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
        cmocka_unit_test(reads_of_a_shrunk_file),
        cmocka_unit_test(selection_globs),
        cmocka_unit_test(number_formatting),
        cmocka_unit_test(storage_must_match_the_shape),
        cmocka_unit_test(packed_reads),
        cmocka_unit_test(packed_decodes_shared),
        cmocka_unit_test(packed_cache_bounded),
        cmocka_unit_test(only_the_attributes_used),
        cmocka_unit_test(step_attribute_checked),
        cmocka_unit_test(safetensors_step_checked),
        cmocka_unit_test(nonstandard_float16),
    };
    return cmocka_run_group_tests_name("ckpt", tests, setup, teardown);
}
