/*
 * test_safetensors.c — the safetensors reader (io/ckpt_st.c) and writer
 * (fixtures/stwrite.c) on files the tests write: values that round-trip, 16-bit
 * bit patterns decoded exactly, every malformed-header case refused with its
 * own message, unknown dtypes listed but not read, sharded models, run
 * discovery, and the real GPT-2 LoRA run when ../shared/realdata exists.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "io/ckpt.h"
/* The back end's private header: these tests check where a tensor's values
 * were found (rw_tensor_loc: offset, shard). */
#include "io/ckpt_impl.h"
#include "io/run.h"
#include "fixtures/stwrite.h"
#include "tests/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmpdir[256];

/* tmpdir/name, in a static buffer of its own per call slot. */
static const char *tpath(const char *name)
{
    static char buf[4][512];
    static int slot;
    slot = (slot + 1) % 4;
    snprintf(buf[slot], sizeof buf[slot], "%s/%s", tmpdir, name);
    return buf[slot];
}

static int setup_all(void **state)
{
    (void)state;
    return test_tmpdir_make(tmpdir, sizeof tmpdir, "st");
}

static int teardown_all(void **state)
{
    (void)state;
    return test_tmpdir_remove(tmpdir);
}

/* ---------------------------------------------------------------- helpers */

static void write_bytes(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* A safetensors file whose 8-byte length field says hlen, then header and
 * n data bytes. */
static void write_st_len(const char *path, uint64_t hlen, const char *header, const void *data,
                         size_t n)
{
    size_t h = strlen(header);
    uint8_t *buf = malloc(8 + h + n + 1);
    assert_non_null(buf);
    for (int i = 0; i < 8; i++)
        buf[i] = (uint8_t)(hlen >> (8 * i));
    memcpy(buf + 8, header, h);
    if (n)
        memcpy(buf + 8 + h, data, n);
    write_bytes(path, buf, 8 + h + n);
    free(buf);
}

static void write_st(const char *path, const char *header, const void *data, size_t n)
{
    write_st_len(path, strlen(header), header, data, n);
}

/* ckpt_open must refuse path with RW_EDATA and one line naming the file and
 * containing want. */
static void expect_refused(const char *path, const char *want)
{
    rw_ckpt *c = (rw_ckpt *)1;
    rw_err err = {{0}};
    rw_status st = ckpt_open(path, NULL, &c, &err);
    if (st != RW_EDATA || !strstr(err.msg, want) || !strstr(err.msg, path) ||
        strchr(err.msg, '\n'))
        print_error("%s: status %d, message '%s', wanted RW_EDATA and '%s'\n", path, st,
                    err.msg, want);
    assert_int_equal(st, RW_EDATA);
    assert_null(c);
    assert_non_null(strstr(err.msg, path));
    assert_non_null(strstr(err.msg, want));
    assert_null(strchr(err.msg, '\n'));
}

static rw_ckpt *open_ok(const char *path)
{
    rw_ckpt *c = NULL;
    rw_err err = {{0}};
    rw_status st = ckpt_open(path, NULL, &c, &err);
    if (st != RW_OK)
        print_error("%s: %s\n", path, err.msg);
    assert_int_equal(st, RW_OK);
    assert_non_null(c);
    return c;
}

static const rw_tensor *tensor(const rw_ckpt *c, const char *name)
{
    long i = ckpt_find(c, name);
    if (i < 0)
        print_error("no tensor %s\n", name);
    assert_true(i >= 0);
    return &c->tensors[i];
}

/* Reads tensor name into a new buffer (caller frees). */
static double *read_all(rw_ckpt *c, const char *name)
{
    long i = ckpt_find(c, name);
    assert_true(i >= 0);
    double *v = calloc(c->tensors[i].numel + 1, sizeof *v);
    assert_non_null(v);
    rw_err err = {{0}};
    rw_status st = ckpt_read(c, (size_t)i, v, &err);
    if (st != RW_OK)
        print_error("%s\n", err.msg);
    assert_int_equal(st, RW_OK);
    return v;
}

static void save(rw_stw *w, const char *path)
{
    rw_err err = {{0}};
    rw_status st = stw_save(w, path, &err);
    if (st != RW_OK)
        print_error("%s\n", err.msg);
    assert_int_equal(st, RW_OK);
}

/* A good file: asymmetric matrices in every float dtype (values exact in
 * each), a vector, a scalar, an empty tensor, an int32 one, metadata. */
static void write_good(const char *path)
{
    rw_stw *w = stw_new();
    rw_err err = {{0}};
    assert_non_null(w);
    static const double m23[6] = {1, -2, 3.5, 0.25, -0.125, 1024};
    static const double m32[6] = {0.5, 1.5, -3, 4, 2048, -0.0625};
    static const double v4[4] = {1, 2, 3, 4};
    static const double s1[1] = {42};
    static const double i3[3] = {-7, 0, 2147483647};
    int64_t s23[] = {2, 3}, s32[] = {3, 2}, s4[] = {4}, s04[] = {0, 4}, s3[] = {3};
    assert_int_equal(stw_meta(w, "step", "1500", &err), RW_OK);
    assert_int_equal(stw_meta(w, "run", "relora", &err), RW_OK);
    assert_int_equal(stw_meta(w, "lora_alpha", "32", &err), RW_OK);
    assert_int_equal(stw_tensor(w, "layers.0.attn.w64", 2, s23, RW_DT_F64, m23, &err), RW_OK);
    assert_int_equal(stw_tensor(w, "layers.0.attn.w32", 2, s32, RW_DT_F32, m32, &err), RW_OK);
    assert_int_equal(stw_tensor(w, "layers.1.mlp.w16", 2, s23, RW_DT_F16, m23, &err), RW_OK);
    assert_int_equal(stw_tensor(w, "layers.1.mlp.wbf", 2, s32, RW_DT_BF16, m32, &err), RW_OK);
    assert_int_equal(stw_tensor(w, "norm.bias", 1, s4, RW_DT_F32, v4, &err), RW_OK);
    assert_int_equal(stw_tensor(w, "scale", 0, NULL, RW_DT_F64, s1, &err), RW_OK);
    assert_int_equal(stw_tensor(w, "empty", 2, s04, RW_DT_F32, NULL, &err), RW_OK);
    assert_int_equal(stw_tensor(w, "ids", 1, s3, RW_DT_INT, i3, &err), RW_OK);
    save(w, path);
    stw_free(w);
}

/* ------------------------------------------------------------- good files */

static void test_roundtrip(void **state)
{
    (void)state;
    const char *path = tpath("good.safetensors");
    write_good(path);
    rw_ckpt *c = open_ok(path);
    assert_int_equal(c->format, RW_FMT_SAFETENSORS);
    assert_int_equal(c->n, 8);
    for (size_t i = 1; i < c->n; i++)
        assert_true(strcmp(c->tensors[i - 1].name, c->tensors[i].name) < 0);

    const rw_tensor *t = tensor(c, "layers.0.attn.w64");
    assert_int_equal(t->dtype, RW_DT_F64);
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->shape[0], 2);
    assert_int_equal(t->shape[1], 3);
    assert_int_equal(t->numel, 6);
    assert_int_equal(t->layer, 0);
    assert_string_equal(t->module, "attn.w64");
    int64_t rows, cols;
    assert_true(rw_tensor_matrix(t, &rows, &cols));
    assert_int_equal(rows, 2);
    assert_int_equal(cols, 3);

    static const double m23[6] = {1, -2, 3.5, 0.25, -0.125, 1024};
    static const double m32[6] = {0.5, 1.5, -3, 4, 2048, -0.0625};
    const char *names[] = {"layers.0.attn.w64", "layers.0.attn.w32", "layers.1.mlp.w16",
                           "layers.1.mlp.wbf"};
    const rw_dtype dts[] = {RW_DT_F64, RW_DT_F32, RW_DT_F16, RW_DT_BF16};
    const double *want[] = {m23, m32, m23, m32};
    for (int k = 0; k < 4; k++) {
        assert_int_equal(tensor(c, names[k])->dtype, dts[k]);
        double *v = read_all(c, names[k]);
        for (int j = 0; j < 6; j++)
            assert_true(v[j] == want[k][j]);
        free(v);
    }
    assert_int_equal(tensor(c, "layers.1.mlp.wbf")->shape[0], 3);

    t = tensor(c, "norm.bias");
    assert_int_equal(t->ndim, 1);
    assert_false(rw_tensor_matrix(t, &rows, &cols));
    assert_int_equal(t->layer, -1);
    double *v = read_all(c, "norm.bias");
    assert_true(v[0] == 1 && v[3] == 4);
    free(v);
    t = tensor(c, "scale");
    assert_int_equal(t->ndim, 0);
    assert_int_equal(t->numel, 1);
    v = read_all(c, "scale");
    assert_true(v[0] == 42);
    free(v);
    t = tensor(c, "empty");
    assert_int_equal(t->numel, 0);
    free(read_all(c, "empty"));

    /* Integers are listed, never read. */
    t = tensor(c, "ids");
    assert_int_equal(t->dtype, RW_DT_INT);
    assert_false(rw_tensor_matrix(t, &rows, &cols));
    double buf[3];
    rw_err err = {{0}};
    assert_int_equal(ckpt_read(c, (size_t)ckpt_find(c, "ids"), buf, &err), RW_EUSAGE);

    /* __metadata__ becomes attributes. */
    assert_int_equal(ckpt_step(c), 1500);
    assert_string_equal(ckpt_attr(c, "run"), "relora");
    double alpha;
    assert_true(ckpt_attr_double(c, "lora_alpha", &alpha));
    assert_true(alpha == 32);
    assert_null(ckpt_attr(c, "lora_r"));
    ckpt_free(c);
}

/* Exact decoding of 16-bit patterns, and of 32/64-bit ones, from offsets
 * that are deliberately not aligned to the element size. */
static void test_bit_patterns(void **state)
{
    (void)state;
    static const uint16_t f16[] = {0x3c00, 0xc000, 0x0001, 0x03ff, 0x0400, 0x7bff,
                                   0x8000, 0x7c00, 0xfc00, 0x3555};
    static const uint16_t bf16[] = {0x3f80, 0xc000, 0x0001, 0x7f7f, 0x8000, 0x7f80, 0x3eab};
    const double f16_want[] = {1.0, -2.0, ldexp(1, -24), ldexp(1023, -24), ldexp(1, -14),
                               65504.0, -0.0, INFINITY, -INFINITY, ldexp(0x555 | 0x400, -12)};
    const double bf16_want[] = {1.0, -2.0, ldexp(1, -133), ldexp(0xff, 120),
                                -0.0, INFINITY, ldexp(0xab, -7) * 0.25};
    uint8_t raw16[2 * 10], rawb[2 * 7];
    for (int i = 0; i < 10; i++) {
        raw16[2 * i] = (uint8_t)(f16[i] & 0xff);
        raw16[2 * i + 1] = (uint8_t)(f16[i] >> 8);
    }
    for (int i = 0; i < 7; i++) {
        rawb[2 * i] = (uint8_t)(bf16[i] & 0xff);
        rawb[2 * i + 1] = (uint8_t)(bf16[i] >> 8);
    }
    /* binary32 1 + 2^-23, the smallest subnormal; binary64 1 + 2^-52 */
    static const uint8_t raw32[8] = {0x01, 0x00, 0x80, 0x3f, 0x01, 0x00, 0x00, 0x00};
    static const uint8_t raw64[8] = {0x01, 0, 0, 0, 0, 0, 0xf0, 0x3f};
    static const uint8_t one = 7;
    int64_t s1[] = {1}, s10[] = {10}, s7[] = {7}, s2[] = {2};
    rw_err err = {{0}};
    rw_stw *w = stw_new();
    assert_non_null(w);
    /* one byte first: everything after it starts at an odd offset */
    assert_int_equal(stw_tensor_raw(w, "a.pad", "U8", 1, s1, &one, 1, &err), RW_OK);
    assert_int_equal(stw_tensor_raw(w, "b.f16", "F16", 1, s10, raw16, sizeof raw16, &err), RW_OK);
    assert_int_equal(stw_tensor_raw(w, "c.bf16", "BF16", 1, s7, rawb, sizeof rawb, &err), RW_OK);
    assert_int_equal(stw_tensor_raw(w, "d.f32", "F32", 1, s2, raw32, 8, &err), RW_OK);
    assert_int_equal(stw_tensor_raw(w, "e.f64", "F64", 1, s1, raw64, 8, &err), RW_OK);
    const char *path = tpath("bits.safetensors");
    save(w, path);
    stw_free(w);

    rw_ckpt *c = open_ok(path);
    assert_int_equal(tensor(c, "a.pad")->dtype, RW_DT_INT);
    double *v = read_all(c, "b.f16");
    for (int i = 0; i < 10; i++) {
        if (!(v[i] == f16_want[i] && signbit(v[i]) == signbit(f16_want[i])))
            print_error("f16 0x%04x: got %.17g want %.17g\n", f16[i], v[i], f16_want[i]);
        assert_true(v[i] == f16_want[i] && signbit(v[i]) == signbit(f16_want[i]));
    }
    free(v);
    v = read_all(c, "c.bf16");
    for (int i = 0; i < 7; i++) {
        if (!(v[i] == bf16_want[i] && signbit(v[i]) == signbit(bf16_want[i])))
            print_error("bf16 0x%04x: got %.17g want %.17g\n", bf16[i], v[i], bf16_want[i]);
        assert_true(v[i] == bf16_want[i] && signbit(v[i]) == signbit(bf16_want[i]));
    }
    free(v);
    v = read_all(c, "d.f32");
    assert_true(v[0] == 1 + ldexp(1, -23));
    assert_true(v[1] == ldexp(1, -149));
    free(v);
    v = read_all(c, "e.f64");
    assert_true(v[0] == 1 + ldexp(1, -52));
    free(v);
    ckpt_free(c);
}

/* The writer's bytes, checked independently of the reader. */
static void test_writer_bytes(void **state)
{
    (void)state;
    rw_stw *w = stw_new();
    rw_err err = {{0}};
    assert_non_null(w);
    static const double x[2] = {1.0, -2.0};
    int64_t s2[] = {2};
    assert_int_equal(stw_meta(w, "step", "7", &err), RW_OK);
    assert_int_equal(stw_tensor(w, "h", 1, s2, RW_DT_F16, x, &err), RW_OK);
    assert_int_equal(stw_tensor(w, "b", 1, s2, RW_DT_BF16, x, &err), RW_OK);
    assert_int_equal(stw_tensor(w, "h", 1, s2, RW_DT_F16, x, &err), RW_EUSAGE);
    assert_int_equal(stw_tensor(w, "__metadata__", 1, s2, RW_DT_F16, x, &err), RW_EUSAGE);
    assert_int_equal(stw_meta(w, "step", "8", &err), RW_EUSAGE);
    uint8_t *buf;
    size_t n;
    assert_int_equal(stw_bytes(w, &buf, &n, &err), RW_OK);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--)
        hlen = hlen << 8 | buf[i];
    assert_int_equal((8 + hlen) % 8, 0);
    assert_int_equal(n, 8 + hlen + 8);
    const char want[] = "{\"__metadata__\":{\"step\":\"7\"},"
                        "\"h\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[0,4]},"
                        "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[4,8]}}";
    assert_true(hlen >= sizeof want - 1);
    assert_memory_equal(buf + 8, want, sizeof want - 1);
    for (size_t i = 8 + sizeof want - 1; i < 8 + hlen; i++)
        assert_int_equal(buf[i], ' ');
    static const uint8_t data[8] = {0x00, 0x3c, 0x00, 0xc0, 0x80, 0x3f, 0x00, 0xc0};
    assert_memory_equal(buf + 8 + hlen, data, 8);
    free(buf);
    /* A failed save leaves nothing behind. */
    assert_int_equal(stw_save(w, tpath("no/such/dir.safetensors"), &err), RW_EIO);
    stw_free(w);
}

/* Headers the format allows: empty, padded, with unknown extra fields. */
static void test_lenient_headers(void **state)
{
    (void)state;
    const char *path = tpath("empty.safetensors");
    write_st(path, "{}", NULL, 0);
    rw_ckpt *c = open_ok(path);
    assert_int_equal(c->n, 0);
    ckpt_free(c);

    path = tpath("padded.safetensors");
    static const uint8_t d[4] = {0, 0, 0x80, 0x3f};
    write_st(path, " {\"w\": {\"dtype\": \"F32\", \"shape\": [1, 1], \"data_offsets\": [0, 4],"
             " \"extra\": 1}, \"__metadata__\": {}}      ", d, 4);
    c = open_ok(path);
    assert_int_equal(c->n, 1);
    double *v = read_all(c, "w");
    assert_true(v[0] == 1.0);
    free(v);
    ckpt_free(c);
}

/* Integer, exotic-float and unknown dtypes: listed, sizes checked where
 * known, never read or analysed. */
static void test_other_dtypes(void **state)
{
    (void)state;
    const char *path = tpath("dtypes.safetensors");
    uint8_t d[64] = {0};
    write_st(path,
             "{\"q\":{\"dtype\":\"X99\",\"shape\":[3,3],\"data_offsets\":[0,5]},"
             "\"f8\":{\"dtype\":\"F8_E4M3\",\"shape\":[2,4],\"data_offsets\":[5,13]},"
             "\"f4\":{\"dtype\":\"F4\",\"shape\":[4],\"data_offsets\":[13,15]},"
             "\"mask\":{\"dtype\":\"BOOL\",\"shape\":[2,2],\"data_offsets\":[15,19]},"
             "\"pos\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[19,35]}}",
             d, 35);
    rw_ckpt *c = open_ok(path);
    assert_int_equal(c->n, 5);
    assert_int_equal(tensor(c, "q")->dtype, RW_DT_OTHER);
    assert_int_equal(tensor(c, "f8")->dtype, RW_DT_OTHER);
    assert_int_equal(tensor(c, "f4")->dtype, RW_DT_OTHER);
    assert_int_equal(tensor(c, "mask")->dtype, RW_DT_INT);
    assert_int_equal(tensor(c, "pos")->dtype, RW_DT_INT);
    int64_t m, n;
    for (size_t i = 0; i < c->n; i++) {
        double buf[16];
        rw_err err = {{0}};
        assert_false(rw_tensor_matrix(&c->tensors[i], &m, &n));
        assert_int_equal(ckpt_read(c, i, buf, &err), RW_EUSAGE);
        assert_non_null(strstr(err.msg, "no values to analyse"));
    }
    ckpt_free(c);

    /* A known exotic dtype still has its size checked. */
    path = tpath("f8size.safetensors");
    write_st(path, "{\"f8\":{\"dtype\":\"F8_E5M2\",\"shape\":[2,4],\"data_offsets\":[0,16]}}", d,
             16);
    expect_refused(path, "f8: data_offsets [0, 16] hold 16 bytes, shape 2x4 F8_E5M2 needs 8");
    path = tpath("f4odd.safetensors");
    write_st(path, "{\"f4\":{\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,2]}}", d, 2);
    expect_refused(path, "f4: shape 3 F4 is not a whole number of bytes");
}

/* ------------------------------------------------------- malformed files */

static void test_short_and_truncated(void **state)
{
    (void)state;
    const char *path = tpath("short.safetensors");
    write_bytes(path, "\x02\0\0\0\0", 5);
    expect_refused(path, "too short for a safetensors file (5 bytes");

    /* The good file cut inside its data section. */
    rw_stw *w = stw_new();
    rw_err err = {{0}};
    static const double x[32] = {1, 2, 3};
    int64_t s[] = {4, 8};
    assert_non_null(w);
    assert_int_equal(stw_tensor(w, "layers.0.a", 2, s, RW_DT_F32, x, &err), RW_OK);
    assert_int_equal(stw_tensor(w, "layers.0.b", 2, s, RW_DT_F32, x, &err), RW_OK);
    uint8_t *buf;
    size_t n;
    assert_int_equal(stw_bytes(w, &buf, &n, &err), RW_OK);
    stw_free(w);
    path = tpath("truncated.safetensors");
    write_bytes(path, buf, n - 100);
    expect_refused(path, "file truncated: its header describes 256 bytes of tensor data, the "
                         "file holds 156");
    /* ... and cut inside its header. */
    path = tpath("cutheader.safetensors");
    write_bytes(path, buf, 40);
    expect_refused(path, "runs past the end of the file (40 bytes)");
    free(buf);
}

/* A file that shrinks after it was opened (a checkpoint rewritten or cut
 * while it is being analysed): reading what is no longer there is an error
 * naming the file and the tensor, never a crash (a mapped file would raise
 * SIGBUS here) and never stale values. */
static void test_shrunk_while_open(void **state)
{
    (void)state;
    const char *path = tpath("shrinks.safetensors");
    write_good(path);
    rw_ckpt *c = open_ok(path);
    /* Tensors lie in the order written: w64, w32, w16, wbf, ... */
    const rw_tensor *t16 = tensor(c, "layers.1.mlp.w16");
    assert_int_equal(truncate(path, (off_t)t16->loc->offset + 1), 0);

    double *v = read_all(c, "layers.0.attn.w32"); /* still wholly in the file */
    assert_true(v[0] == 0.5 && v[5] == -0.0625);
    free(v);
    const char *gone[] = {"layers.1.mlp.w16", "layers.1.mlp.wbf"};
    for (int k = 0; k < 2; k++) {
        double buf[6];
        rw_err err = {{0}};
        rw_status st = ckpt_read(c, (size_t)ckpt_find(c, gone[k]), buf, &err);
        assert_int_equal(st, RW_EIO);
        assert_non_null(strstr(err.msg, path));
        assert_non_null(strstr(err.msg, gone[k]));
        assert_non_null(strstr(err.msg, "the file ends before them"));
        assert_null(strchr(err.msg, '\n'));
    }
    ckpt_free(c);
}

static void test_header_length(void **state)
{
    (void)state;
    const char *path = tpath("hlen-eof.safetensors");
    write_st_len(path, 1000, "{}", NULL, 0);
    expect_refused(path, "header length 1000 runs past the end of the file (10 bytes)");
    path = tpath("hlen-big.safetensors");
    write_st_len(path, 100000001, "{}", NULL, 0);
    expect_refused(path, "header length 100000001 exceeds the 100 MB limit");
    /* At the limit: refused for running past the end, not for its size. */
    path = tpath("hlen-limit.safetensors");
    write_st_len(path, 100000000, "{}", NULL, 0);
    expect_refused(path, "header length 100000000 runs past the end");
    path = tpath("hlen-huge.safetensors");
    write_st_len(path, UINT64_MAX, "{}", NULL, 0);
    expect_refused(path, "header length 18446744073709551615 exceeds the 100 MB limit");
}

static void test_header_text(void **state)
{
    (void)state;
    const char *path = tpath("notjson.safetensors");
    write_st(path, "{\"w\": {\"dtype\": F32}}", NULL, 0);
    expect_refused(path, "header is not JSON (error at byte");
    path = tpath("notobject.safetensors");
    write_st(path, "[1, 2, 3]", NULL, 0);
    expect_refused(path, "header is an array, not a JSON object");
    path = tpath("trailing.safetensors");
    write_st(path, "{} {}", NULL, 0);
    expect_refused(path, "header has text after its JSON object (byte 3 of 5)");
    path = tpath("utf8.safetensors");
    write_st(path, "{\"w\xff\": {}}", NULL, 0);
    expect_refused(path, "header is not UTF-8 text (byte 3 of 10)");
    path = tpath("nul.safetensors");
    write_bytes(path, "\x04\0\0\0\0\0\0\0{}\0 ", 12);
    expect_refused(path, "header is not UTF-8 text (byte 2 of 4)");
}

static void test_metadata_malformed(void **state)
{
    (void)state;
    const char *path = tpath("meta-num.safetensors");
    write_st(path, "{\"__metadata__\": {\"format\": \"pt\", \"step\": 1500}}", NULL, 0);
    expect_refused(path, "__metadata__.step is 1500, not a string");
    path = tpath("meta-arr.safetensors");
    write_st(path, "{\"__metadata__\": [\"step\"]}", NULL, 0);
    expect_refused(path, "__metadata__ is an array, not an object of strings");
}

static void test_entry_malformed(void **state)
{
    (void)state;
    static const struct {
        const char *header, *want;
    } cases[] = {
        {"{\"w\": 3}", "w: entry is 3, not an object with dtype, shape and data_offsets"},
        {"{\"w\": {\"shape\": [], \"data_offsets\": [0, 4]}}", "w: no dtype"},
        {"{\"w\": {\"dtype\": 32, \"shape\": [], \"data_offsets\": [0, 4]}}",
         "w: dtype is 32, not a string"},
        {"{\"w\": {\"dtype\": \"F32\", \"data_offsets\": [0, 4]}}", "w: no shape"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": 4, \"data_offsets\": [0, 4]}}",
         "w: shape is 4, not an array"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [1,1,1,1,1,1,1,1,1], \"data_offsets\": [0, 4]}}",
         "w: shape has rank 9, more than 8"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [2, \"3\"], \"data_offsets\": [0, 4]}}",
         "w: shape[1] is a string, not a number"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [4, -8], \"data_offsets\": [0, 4]}}",
         "w: shape[1] is negative (-8)"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [2.5], \"data_offsets\": [0, 4]}}",
         "w: shape[0] is not an integer (2.5)"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [1e20, 1], \"data_offsets\": [0, 4]}}",
         "w: shape[0] is too large (1e+20, limit 2^53-1)"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [9007199254740993], \"data_offsets\": [0, 4]}}",
         "w: shape[0] is too large"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296, 2], "
         "\"data_offsets\": [0, 4]}}",
         "w: shape 4294967296x4294967296x2 has too many elements (size overflow)"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [0, 4294967296, 4294967296], "
         "\"data_offsets\": [0, 0]}}",
         "w: shape 0x4294967296x4294967296 has too many elements (size overflow)"},
        {"{\"w\": {\"dtype\": \"F64\", \"shape\": [1099511627776, 1048576], "
         "\"data_offsets\": [0, 4]}}",
         "w: shape 1099511627776x1048576 has too many elements (size overflow)"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [1]}}", "w: no data_offsets"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4, 8]}}",
         "w: data_offsets is not a [begin, end] pair"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [-4, 0]}}",
         "w: data_offsets [-4, 0] are not byte offsets"},
        {"{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 4]}}",
         "w: data_offsets [8, 4] end before they begin"},
        {"{\"layers.0.w\": {\"dtype\": \"F32\", \"shape\": [4, 8], \"data_offsets\": [0, 96]}}",
         "layers.0.w: data_offsets [0, 96] hold 96 bytes, shape 4x8 float32 needs 128"},
        {"{\"w\": {\"dtype\": \"BF16\", \"shape\": [], \"data_offsets\": [0, 4]}}",
         "w: data_offsets [0, 4] hold 4 bytes, shape scalar bfloat16 needs 2"},
    };
    uint8_t data[128] = {0};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char name[64];
        snprintf(name, sizeof name, "entry%zu.safetensors", i);
        const char *path = tpath(name);
        write_st(path, cases[i].header, data, sizeof data);
        expect_refused(path, cases[i].want);
    }
}

static void test_ranges_malformed(void **state)
{
    (void)state;
    uint8_t data[128] = {0};
    const char *path = tpath("overlap.safetensors");
    write_st(path,
             "{\"a\": {\"dtype\": \"F32\", \"shape\": [4, 4], \"data_offsets\": [0, 64]},"
             " \"b\": {\"dtype\": \"F32\", \"shape\": [4, 4], \"data_offsets\": [32, 96]}}",
             data, 128);
    expect_refused(path, "tensors a [0, 64] and b [32, 96] overlap");

    /* The same range twice (an alias) is an overlap too; empty ranges are not. */
    path = tpath("alias.safetensors");
    write_st(path,
             "{\"e\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [16, 16]},"
             " \"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]},"
             " \"b\": {\"dtype\": \"F32\", \"shape\": [2, 2], \"data_offsets\": [0, 16]}}",
             data, 16);
    expect_refused(path, "tensors a [0, 16] and b [0, 16] overlap");

    path = tpath("range.safetensors");
    write_st(path,
             "{\"a\": {\"dtype\": \"F32\", \"shape\": [4, 4], \"data_offsets\": [0, 64]},"
             " \"b\": {\"dtype\": \"F32\", \"shape\": [4, 4], \"data_offsets\": [200, 264]}}",
             data, 128);
    expect_refused(path, "b: data_offsets [200, 264] run past the end of the data section "
                         "(128 bytes)");
    /* An empty tensor outside the data section is out of range too. */
    path = tpath("range-empty.safetensors");
    write_st(path, "{\"e\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [500, 500]}}",
             data, 128);
    expect_refused(path, "e: data_offsets [500, 500] run past the end of the data section");

    /* Gaps between tensors are allowed. */
    path = tpath("gap.safetensors");
    write_st(path,
             "{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [16, 32]},"
             " \"b\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [64, 80]}}",
             data, 128);
    rw_ckpt *c = open_ok(path);
    assert_int_equal(c->n, 2);
    ckpt_free(c);

    path = tpath("dup.safetensors");
    write_st(path,
             "{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]},"
             " \"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [16, 32]}}",
             data, 32);
    expect_refused(path, "a: listed twice in the header");
}

/* ---------------------------------------------------------------- shards */

/* dir/model-0000k-of-00002.safetensors and dir/model.safetensors.index.json:
 * layers.0.w (2x3, F32) and layers.0.b in shard 1, layers.1.w (3x2, BF16)
 * and norm in shard 2. */
static void write_sharded(const char *dir, const char *step)
{
    char p1[512], p2[512], pi[512];
    snprintf(p1, sizeof p1, "%s/model-00001-of-00002.safetensors", dir);
    snprintf(p2, sizeof p2, "%s/model-00002-of-00002.safetensors", dir);
    snprintf(pi, sizeof pi, "%s/model.safetensors.index.json", dir);
    mkdir(dir, 0777);
    static const double m[6] = {1, 2, 3, 4, 5, 6.5};
    int64_t s23[] = {2, 3}, s32[] = {3, 2}, s3[] = {3};
    rw_err err = {{0}};
    rw_stw *w = stw_new();
    assert_non_null(w);
    if (step)
        assert_int_equal(stw_meta(w, "step", step, &err), RW_OK);
    assert_int_equal(stw_tensor(w, "layers.0.w", 2, s23, RW_DT_F32, m, &err), RW_OK);
    assert_int_equal(stw_tensor(w, "layers.0.b", 1, s3, RW_DT_F32, m, &err), RW_OK);
    save(w, p1);
    stw_free(w);
    w = stw_new();
    assert_non_null(w);
    assert_int_equal(stw_tensor(w, "layers.1.w", 2, s32, RW_DT_BF16, m, &err), RW_OK);
    assert_int_equal(stw_tensor(w, "norm", 1, s3, RW_DT_F16, m, &err), RW_OK);
    save(w, p2);
    stw_free(w);
    const char *names[] = {"layers.0.b", "layers.0.w", "layers.1.w", "norm"};
    const char *shards[] = {"model-00001-of-00002.safetensors", "model-00001-of-00002.safetensors",
                            "model-00002-of-00002.safetensors", "model-00002-of-00002.safetensors"};
    assert_int_equal(stw_index(pi, 4, names, shards, &err), RW_OK);
}

static void test_sharded(void **state)
{
    (void)state;
    const char *dir = tpath("sharded");
    write_sharded(dir, "300");
    char pi[512];
    snprintf(pi, sizeof pi, "%s/model.safetensors.index.json", dir);
    rw_ckpt *c = open_ok(pi);
    assert_int_equal(c->format, RW_FMT_SAFETENSORS);
    assert_int_equal(c->n, 4);
    assert_int_equal(tensor(c, "layers.0.w")->loc->shard, tensor(c, "layers.0.b")->loc->shard);
    assert_int_not_equal(tensor(c, "layers.0.w")->loc->shard,
                         tensor(c, "layers.1.w")->loc->shard);
    assert_int_equal(tensor(c, "layers.1.w")->dtype, RW_DT_BF16);
    double *v = read_all(c, "layers.1.w");
    assert_true(v[0] == 1 && v[5] == 6.5);
    free(v);
    v = read_all(c, "layers.0.w");
    assert_true(v[0] == 1 && v[5] == 6.5);
    free(v);
    v = read_all(c, "norm");
    assert_true(v[2] == 3);
    free(v);
    assert_int_equal(ckpt_step(c), 300);
    ckpt_free(c);

    char **names;
    size_t n;
    rw_err err = {{0}};
    assert_int_equal(ckpt_shard_files(pi, &names, &n, &err), RW_OK);
    assert_int_equal(n, 2);
    assert_string_equal(names[0], "model-00001-of-00002.safetensors");
    assert_string_equal(names[1], "model-00002-of-00002.safetensors");
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static void test_sharded_malformed(void **state)
{
    (void)state;
    const char *dir = tpath("badshards");
    write_sharded(dir, NULL);
    char pi[512];
    snprintf(pi, sizeof pi, "%s/model.safetensors.index.json", dir);
    rw_err err = {{0}};
    const char *s1 = "model-00001-of-00002.safetensors", *s2 = "model-00002-of-00002.safetensors";
    const char *names[] = {"layers.0.b", "layers.0.w", "layers.1.w", "norm", "extra"};
    const char *shards[] = {s1, s1, s2, s2, s2};

    const char *wrong[] = {s1, s1, s1, s2};
    assert_int_equal(stw_index(pi, 4, names, wrong, &err), RW_OK);
    expect_refused(pi, "weight_map puts layers.1.w in model-00001-of-00002.safetensors, but "
                       "it is in model-00002-of-00002.safetensors");
    assert_int_equal(stw_index(pi, 5, names, shards, &err), RW_OK);
    expect_refused(pi, "weight_map puts extra in model-00002-of-00002.safetensors, which does "
                       "not hold it");
    assert_int_equal(stw_index(pi, 3, names, shards, &err), RW_OK);
    expect_refused(pi, "model-00002-of-00002.safetensors holds norm, which weight_map does not "
                       "list");
    const char *missing[] = {s1, s1, s2, "model-00003-of-00002.safetensors"};
    assert_int_equal(stw_index(pi, 4, names, missing, &err), RW_OK);
    rw_ckpt *c;
    assert_int_equal(ckpt_open(pi, NULL, &c, &err), RW_EIO);
    assert_non_null(strstr(err.msg, "weight_map names shard"));
    assert_non_null(strstr(err.msg, "which does not exist"));
    const char *escape[] = {s1, s1, s2, "../good.safetensors"};
    assert_int_equal(stw_index(pi, 4, names, escape, &err), RW_OK);
    expect_refused(pi, "weight_map: norm: shard '../good.safetensors' is not a file name in "
                       "the index's directory");

    FILE *f = fopen(pi, "w");
    assert_non_null(f);
    fputs("{\"weight_map\": {\"a\": \"x\"", f);
    fclose(f);
    expect_refused(pi, "not JSON");
    f = fopen(pi, "w");
    assert_non_null(f);
    fputs("{\"metadata\": {}}", f);
    fclose(f);
    expect_refused(pi, "no weight_map object");
    f = fopen(pi, "w");
    assert_non_null(f);
    fputs("{\"weight_map\": {\"norm\": 2}}", f);
    fclose(f);
    expect_refused(pi, "weight_map: norm: shard is 2, not a file name");

    /* A bad shard is reported under its own name. */
    assert_int_equal(stw_index(pi, 4, names, shards, &err), RW_OK);
    char p2[512];
    snprintf(p2, sizeof p2, "%s/%s", dir, s2);
    write_st(p2, "{\"norm\": 1}", NULL, 0);
    expect_refused(p2, "norm: entry is 1");
    c = NULL;
    assert_int_equal(ckpt_open(pi, NULL, &c, &err), RW_EDATA);
    assert_non_null(strstr(err.msg, p2));
}

/* A run directory of sharded checkpoints: one checkpoint per index, none
 * per shard; and a directory that is itself one sharded model. */
static void test_sharded_run(void **state)
{
    (void)state;
    const char *run = tpath("shardrun");
    mkdir(run, 0777);
    char d[512];
    snprintf(d, sizeof d, "%s/checkpoint-100", run);
    write_sharded(d, NULL);
    snprintf(d, sizeof d, "%s/checkpoint-200", run);
    write_sharded(d, NULL);
    rw_runset rs = {0};
    rw_err err = {{0}};
    rw_status st = runset_add(&rs, run, NULL, &err);
    if (st == RW_OK)
        st = runset_finish(&rs, &err);
    if (st != RW_OK)
        print_error("%s\n", err.msg);
    assert_int_equal(st, RW_OK);
    assert_int_equal(rs.n, 1);
    assert_string_equal(rs.runs[0].label, "shardrun");
    assert_int_equal(rs.runs[0].n, 2);
    assert_int_equal(rs.runs[0].ckpts[0].step, 100);
    assert_int_equal(rs.runs[0].ckpts[1].step, 200);
    assert_non_null(strstr(rs.runs[0].ckpts[0].path, "model.safetensors.index.json"));
    runset_free(&rs);

    /* The model directory itself, with an adapter beside it: one
     * checkpoint, the adapter, whose base is the sharded model (run.h). */
    snprintf(d, sizeof d, "%s/checkpoint-100", run);
    char extra[600];
    snprintf(extra, sizeof extra, "%s/adapter_model.safetensors", d);
    write_st(extra, "{\"__metadata__\": {\"step\": \"100\"}}", NULL, 0);
    assert_int_equal(runset_add(&rs, d, "m", &err), RW_OK);
    assert_int_equal(runset_finish(&rs, &err), RW_OK);
    assert_int_equal(rs.runs[0].n, 1);
    assert_non_null(strstr(rs.runs[0].ckpts[0].path, "adapter_model.safetensors"));
    assert_non_null(rs.runs[0].ckpts[0].base);
    assert_non_null(strstr(rs.runs[0].ckpts[0].base, "model.safetensors.index.json"));
    runset_free(&rs);
    assert_true(rw_is_ckpt_name("model.safetensors.index.json"));
    assert_false(rw_is_ckpt_name("adapter_config.json"));
}

/* ------------------------------------------------------------- real data */

#define REALRUN "../shared/realdata/gpt2-lora-steps"

static void test_realdata_gpt2(void **state)
{
    (void)state;
    struct stat sb;
    if (stat(REALRUN, &sb) != 0) {
        print_message("skipped: %s is absent\n", REALRUN);
        skip();
    }
    rw_runset rs = {0};
    rw_err err = {{0}};
    rw_status st = runset_add(&rs, REALRUN, NULL, &err);
    if (st == RW_OK)
        st = runset_finish(&rs, &err);
    if (st != RW_OK)
        print_error("%s\n", err.msg);
    assert_int_equal(st, RW_OK);
    assert_int_equal(rs.n, 1);
    assert_int_equal(rs.runs[0].n, 15);
    for (size_t i = 0; i < 15; i++)
        assert_int_equal(rs.runs[0].ckpts[i].step, 500 * (int64_t)(i + 1));

    rw_ckpt *c = open_ok(rs.runs[0].ckpts[14].path);
    assert_int_equal(c->n, 24);
    for (size_t i = 0; i < c->n; i++) {
        const rw_tensor *t = &c->tensors[i];
        bool a = strstr(t->name, "lora_A.weight") != NULL;
        assert_int_equal(t->dtype, RW_DT_F32);
        assert_int_equal(t->ndim, 2);
        assert_int_equal(t->shape[0], a ? 8 : 2304);
        assert_int_equal(t->shape[1], a ? 768 : 8);
        double *v = read_all(c, t->name);
        double ss = 0;
        for (size_t k = 0; k < t->numel; k++) {
            assert_true(isfinite(v[k]));
            ss += v[k] * v[k];
        }
        assert_true(ss > 0);
        free(v);
    }
    assert_string_equal(ckpt_attr(c, "format"), "pt");
    assert_int_equal(ckpt_step(c), 7500);
    ckpt_free(c);
    runset_free(&rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_bit_patterns),
        cmocka_unit_test(test_writer_bytes),
        cmocka_unit_test(test_lenient_headers),
        cmocka_unit_test(test_other_dtypes),
        cmocka_unit_test(test_short_and_truncated),
        cmocka_unit_test(test_shrunk_while_open),
        cmocka_unit_test(test_header_length),
        cmocka_unit_test(test_header_text),
        cmocka_unit_test(test_metadata_malformed),
        cmocka_unit_test(test_entry_malformed),
        cmocka_unit_test(test_ranges_malformed),
        cmocka_unit_test(test_sharded),
        cmocka_unit_test(test_sharded_malformed),
        cmocka_unit_test(test_sharded_run),
        cmocka_unit_test(test_realdata_gpt2),
    };
    return cmocka_run_group_tests(tests, setup_all, teardown_all);
}
