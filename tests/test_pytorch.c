/*
 * test_pytorch.c — the PyTorch checkpoint reader (io/ckpt_pt.c) through
 * ckpt.h: files written by fixtures/ptwrite.c as torch.save lays them out
 * (state dicts as dict and OrderedDict, parameters, checkpoint dicts with a
 * step, the zip and the legacy layouts, views with offsets and strides sharing a storage, every float
 * dtype), their values checked against the values written; hostile files
 * (a pickle calling os.system, missing or short storage entries, big-endian
 * byte order, a zip without data.pkl, lists sharing lists 40 levels deep);
 * any stride on a dimension of size 1; sharded models
 * (pytorch_model.bin.index.json and its shards), and an index and shards
 * that disagree; the state dict of a checkpoint dict chosen by key path
 * (rw_ckpt_opts.key, --key); and the files PyTorch itself wrote
 * in ../shared/realdata/torch-files (skipped when absent), checked against
 * expected_small.json and against each other (legacy vs zip, views of one
 * storage, bf16/f16/f64 copies).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fixtures/ptwrite.h"
#include "io/ckpt.h"
#include "io/run.h"
#include "tests/testutil.h"

static char dir[256];

static int setup(void **state)
{
    (void)state;
    return test_tmpdir_make(dir, sizeof dir, "pytorch");
}

static int teardown(void **state)
{
    (void)state;
    return test_tmpdir_remove(dir);
}

static const char *path_of(const char *name)
{
    static char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

static rw_ckpt *open_ok(const char *path)
{
    rw_ckpt *c = NULL;
    rw_err err = {{0}};
    rw_status st = ckpt_open(path, NULL, &c, &err);
    if (st != RW_OK)
        print_error("%s\n", err.msg);
    assert_int_equal(st, RW_OK);
    return c;
}

static rw_ckpt *open_key_ok(const char *path, const char *key)
{
    rw_ckpt *c = NULL;
    rw_err err = {{0}};
    rw_ckpt_opts o = {.key = key};
    rw_status st = ckpt_open_opts(path, NULL, &o, &c, &err);
    if (st != RW_OK)
        print_error("%s\n", err.msg);
    assert_int_equal(st, RW_OK);
    return c;
}

/* ckpt_open_opts with key (NULL: ckpt_open) fails with a message holding
 * want, and also (when not NULL) also, else the path: a shard's trouble
 * names the shard (also), not the index. */
static void open_key_fails(const char *path, const char *key, const char *want,
                           const char *also)
{
    rw_ckpt *c = NULL;
    rw_err err = {{0}};
    rw_ckpt_opts o = {.key = key};
    assert_int_not_equal(ckpt_open_opts(path, NULL, &o, &c, &err), RW_OK);
    assert_null(c);
    if (!also)
        also = path;
    if (!strstr(err.msg, want) || !strstr(err.msg, also))
        print_error("message '%s' lacks '%s' or '%s'\n", err.msg, want, also);
    assert_non_null(strstr(err.msg, want));
    assert_non_null(strstr(err.msg, also));
}

static void open_fails(const char *path, const char *want)
{
    open_key_fails(path, NULL, want, NULL);
}

static double *read_tensor(rw_ckpt *c, const char *name, size_t *numel)
{
    long i = ckpt_find(c, name);
    if (i < 0)
        print_error("no tensor %s\n", name);
    assert_true(i >= 0);
    size_t n = c->tensors[i].numel;
    double *v = malloc((n ? n : 1) * sizeof *v);
    assert_non_null(v);
    rw_err err = {{0}};
    rw_status st = ckpt_read(c, (size_t)i, v, &err);
    if (st != RW_OK)
        print_error("%s\n", err.msg);
    assert_int_equal(st, RW_OK);
    *numel = n;
    return v;
}

/* What a value becomes stored as dt and read back. */
static double stored(double x, rw_dtype dt)
{
    switch (dt) {
    case RW_DT_F16: return rw_half_to_double(rw_double_to_half(x));
    case RW_DT_BF16: return rw_bf16_to_double(rw_double_to_bf16(x));
    case RW_DT_F32: return (double)(float)x;
    default: return x;
    }
}

/* ------------------------------------------------------------ written files */

static void values(double *v, size_t n, double seed)
{
    for (size_t i = 0; i < n; i++)
        v[i] = sin(seed + 0.37 * (double)i) * (1.0 + (double)(i % 7));
}

/* Every dtype, as dict and OrderedDict, plain and as parameters, and in a
 * checkpoint dict with a step: the values come back as stored. */
static void round_trip(void **state)
{
    (void)state;
    static const rw_dtype dts[] = {RW_DT_F16, RW_DT_BF16, RW_DT_F32, RW_DT_F64};
    static const struct {
        pt_root root;
        const char *wrap;
        bool parameters, legacy;
    } forms[] = {{PT_ROOT_DICT, NULL, false, false},
                 {PT_ROOT_ORDERED, NULL, true, false},
                 {PT_ROOT_ORDERED, "model", false, false},
                 {PT_ROOT_DICT, "state_dict", true, false},
                 {PT_ROOT_ORDERED, NULL, false, true},
                 {PT_ROOT_DICT, "model", true, true}};
    double a[6 * 5], b[4 * 3 * 2];
    values(a, 30, 0.5);
    values(b, 24, 1.5);
    for (size_t f = 0; f < sizeof forms / sizeof forms[0]; f++)
        for (size_t d = 0; d < 4; d++) {
            rw_err err = {{0}};
            pt_writer *w = pt_writer_new("step_000300");
            assert_non_null(w);
            int64_t sa[2] = {6, 5}, sb[3] = {4, 3, 2}, sc[1] = {3};
            double counter = 7;
            assert_int_equal(pt_tensor(w, "layers.0.mlp.weight", dts[d], 2, sa, a, &err), RW_OK);
            assert_int_equal(pt_tensor(w, "layers.1.conv.weight", dts[d], 3, sb, b, &err), RW_OK);
            assert_int_equal(pt_tensor(w, "counter", RW_DT_INT, 1, sc, (double[]){7, 8, 9}, &err),
                             RW_OK);
            (void)counter;
            assert_int_equal(pt_scalar_int(w, "step", 300, &err), RW_OK);
            pt_opts o = {.root = forms[f].root, .wrap = forms[f].wrap,
                         .parameters = forms[f].parameters, .legacy = forms[f].legacy};
            const char *p = path_of("step_000300.pt");
            assert_int_equal(pt_save(w, p, &o, &err), RW_OK);
            pt_writer_free(w);

            rw_ckpt *c = open_ok(p);
            assert_int_equal(c->format, RW_FMT_PYTORCH);
            assert_int_equal(c->n, 3);
            assert_int_equal(ckpt_step(c), 300);
            long ic = ckpt_find(c, "counter");
            assert_true(ic >= 0);
            assert_int_equal(c->tensors[ic].dtype, RW_DT_INT);
            size_t n;
            double *ra = read_tensor(c, "layers.0.mlp.weight", &n);
            assert_int_equal(n, 30);
            for (size_t i = 0; i < n; i++)
                assert_true(ra[i] == stored(a[i], dts[d]));
            double *rb = read_tensor(c, "layers.1.conv.weight", &n);
            long ib = ckpt_find(c, "layers.1.conv.weight");
            assert_int_equal(c->tensors[ib].dtype, dts[d]);
            assert_int_equal(c->tensors[ib].layer, 1);
            int64_t rows, cols;
            assert_true(rw_tensor_matrix(&c->tensors[ib], &rows, &cols));
            assert_int_equal(rows, 4); /* PyTorch (out, in, k): out x in*k */
            assert_int_equal(cols, 6);
            for (size_t i = 0; i < n; i++)
                assert_true(rb[i] == stored(b[i], dts[d]));
            free(ra);
            free(rb);
            ckpt_free(c);
        }
}

/* Views of one storage: a transpose, a row slice with an offset, every
 * other row; each read back in C order. */
static void views_and_strides(void **state)
{
    (void)state;
    double big[8 * 6];
    values(big, 48, 2.5);
    rw_err err = {{0}};
    pt_writer *w = pt_writer_new("archive");
    long s = pt_storage(w, RW_DT_F32, 48, big, &err);
    assert_true(s >= 0);
    assert_int_equal(pt_view(w, "t", s, 0, 2, (int64_t[]){6, 8}, (int64_t[]){1, 6}, &err), RW_OK);
    assert_int_equal(pt_view(w, "slice", s, 12, 2, (int64_t[]){3, 6}, (int64_t[]){6, 1}, &err),
                     RW_OK);
    assert_int_equal(pt_view(w, "every2", s, 0, 2, (int64_t[]){4, 6}, (int64_t[]){12, 1}, &err),
                     RW_OK);
    assert_int_equal(pt_view(w, "col", s, 5, 2, (int64_t[]){8, 1}, (int64_t[]){6, 1}, &err),
                     RW_OK);
    pt_opts o = {.root = PT_ROOT_ORDERED};
    const char *p = path_of("views.pt");
    assert_int_equal(pt_save(w, p, &o, &err), RW_OK);
    pt_writer_free(w);
    rw_ckpt *c = open_ok(p);
    size_t n;
    double *t = read_tensor(c, "t", &n), *sl = read_tensor(c, "slice", &n),
           *e2 = read_tensor(c, "every2", &n), *col = read_tensor(c, "col", &n);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 6; j++) {
            double v = (double)(float)big[i * 6 + j];
            assert_true(t[j * 8 + i] == v);
            if (i >= 2 && i < 5)
                assert_true(sl[(i - 2) * 6 + j] == v);
            if (i % 2 == 0)
                assert_true(e2[(i / 2) * 6 + j] == v);
            if (j == 5)
                assert_true(col[i] == v);
        }
    free(t);
    free(sl);
    free(e2);
    free(col);
    ckpt_free(c);
}

/* ------------------------------------------------------------ hostile files */

static void hostile_files(void **state)
{
    (void)state;
    rw_err err = {{0}};
    pt_writer *w = pt_writer_new("archive");

    /* torch.load would run os.system("touch ..."): refused, nothing runs */
    pkw k = {0};
    pkw_proto(&k);
    pkw_global(&k, "os", "system");
    char marker[300];
    snprintf(marker, sizeof marker, "touch %s/pwned", dir);
    pkw_str(&k, marker);
    pkw_op(&k, 0x85);
    pkw_op(&k, 'R');
    pkw_op(&k, '.');
    assert_int_equal(pt_save_raw(w, path_of("evil.pt"), k.b, k.n, &err), RW_OK);
    open_fails(path_of("evil.pt"), "global 'os.system' is not allowed");
    struct stat sb;
    assert_int_not_equal(stat(path_of("pwned"), &sb), 0);
    pkw_free(&k);

    /* a tensor whose storage entry is missing, and one past its entry */
    pkw m = {0};
    pkw_proto(&m);
    pkw_op(&m, '}');
    pkw_op(&m, '(');
    pkw_str(&m, "w");
    pkw_global(&m, "torch._utils", "_rebuild_tensor_v2");
    pkw_op(&m, '(');
    pkw_op(&m, '(');
    pkw_str(&m, "storage");
    pkw_global(&m, "torch", "FloatStorage");
    pkw_str(&m, "0");
    pkw_str(&m, "cpu");
    pkw_int(&m, 100);
    pkw_op(&m, 't');
    pkw_op(&m, 'Q');
    pkw_int(&m, 0);
    pkw_op(&m, '(');
    pkw_int(&m, 10);
    pkw_int(&m, 10);
    pkw_op(&m, 't');
    pkw_op(&m, '(');
    pkw_int(&m, 10);
    pkw_int(&m, 1);
    pkw_op(&m, 't');
    pkw_op(&m, 0x89);
    pkw_op(&m, '}');
    pkw_op(&m, 't');
    pkw_op(&m, 'R');
    pkw_op(&m, 'u');
    pkw_op(&m, '.');
    assert_int_equal(pt_save_raw(w, path_of("nostorage.pt"), m.b, m.n, &err), RW_OK);
    open_fails(path_of("nostorage.pt"), "storage entry 'archive/data/0' is missing");
    double few[50] = {0};
    assert_true(pt_storage(w, RW_DT_F32, 50, few, &err) == 0); /* 200 bytes, 400 needed */
    assert_int_equal(pt_save_raw(w, path_of("short.pt"), m.b, m.n, &err), RW_OK);
    open_fails(path_of("short.pt"),
               "its values need 400 bytes of storage entry 'archive/data/0', which holds 200");
    pkw_free(&m);
    pt_writer_free(w);

    /* not a zip, not legacy; a zip without data.pkl */
    FILE *f = fopen(path_of("text.pt"), "w");
    assert_non_null(f);
    fputs("hello\n", f);
    assert_int_equal(fclose(f), 0);
    open_fails(path_of("text.pt"), "not a PyTorch checkpoint");
    f = fopen(path_of("trunc.pt"), "w");
    assert_non_null(f);
    fputs("PK\x03\x04garbage", f);
    assert_int_equal(fclose(f), 0);
    open_fails(path_of("trunc.pt"), "not a readable zip archive");
}


/* ------------------------------------------------------------ sharded models */

/* Three tensors as two shards and their index (pt_save_sharded, as
 * save_pretrained writes them): one checkpoint whose tensors are read from
 * their shards; in a folder, the index is the checkpoint and its shards
 * are not checkpoints of their own. */
static void sharded_model(void **state)
{
    (void)state;
    char sdir[512];
    snprintf(sdir, sizeof sdir, "%s", path_of("sharded"));
    assert_int_equal(mkdir(sdir, 0777), 0);
    snprintf(sdir, sizeof sdir, "%s", path_of("sharded/checkpoint-200"));
    assert_int_equal(mkdir(sdir, 0777), 0);
    double a[6 * 5], b[4 * 3 * 2], m[3 * 3];
    values(a, 30, 0.25);
    values(b, 24, 1.25);
    values(m, 9, 2.25);
    rw_err err = {{0}};
    pt_writer *w = pt_writer_new("archive");
    assert_int_equal(pt_tensor(w, "layers.0.mlp.weight", RW_DT_F32, 2, (int64_t[]){6, 5}, a,
                               &err), RW_OK);
    assert_int_equal(pt_tensor(w, "layers.1.conv.weight", RW_DT_BF16, 3, (int64_t[]){4, 3, 2},
                               b, &err), RW_OK);
    assert_int_equal(pt_tensor(w, "layers.2.mlp.weight", RW_DT_F64, 2, (int64_t[]){3, 3}, m,
                               &err), RW_OK);
    pt_opts o = {.root = PT_ROOT_ORDERED};
    assert_int_equal(pt_save_sharded(w, sdir, 2, &o, &err), RW_OK);
    pt_writer_free(w);

    char index[600];
    snprintf(index, sizeof index, "%s/pytorch_model.bin.index.json", sdir);
    rw_ckpt *c = open_ok(index);
    assert_int_equal(c->format, RW_FMT_PYTORCH);
    assert_int_equal(c->n, 3);
    assert_int_equal(ckpt_step(c), 200); /* from checkpoint-200 */
    assert_non_null(ckpt_attr(c, "total_size"));
    size_t n;
    double *ra = read_tensor(c, "layers.0.mlp.weight", &n);
    for (size_t i = 0; i < 30; i++)
        assert_true(ra[i] == stored(a[i], RW_DT_F32));
    double *rb = read_tensor(c, "layers.1.conv.weight", &n);
    for (size_t i = 0; i < 24; i++)
        assert_true(rb[i] == stored(b[i], RW_DT_BF16));
    double *rm = read_tensor(c, "layers.2.mlp.weight", &n);
    for (size_t i = 0; i < 9; i++)
        assert_true(rm[i] == m[i]);
    assert_int_equal(c->tensors[ckpt_find(c, "layers.1.conv.weight")].layer, 1);
    free(ra);
    free(rb);
    free(rm);
    ckpt_free(c);
    assert_int_equal(ckpt_open_attrs(index, NULL, &c, &err), RW_OK);
    ckpt_free(c);

    /* the shards, for run discovery: in the index's order */
    char **names, got[256] = "";
    size_t nn;
    assert_int_equal(ckpt_shard_files(index, &names, &nn, &err), RW_OK);
    for (size_t i = 0; i < nn; i++) {
        snprintf(got + strlen(got), sizeof got - strlen(got), "%s;", names[i]);
        free(names[i]);
    }
    free(names);
    assert_string_equal(got, "pytorch_model-00001-of-00002.bin;pytorch_model-00002-of-00002.bin;");

    rw_runset rs = {0};
    assert_int_equal(runset_add(&rs, path_of("sharded"), NULL, &err), RW_OK);
    assert_int_equal(runset_finish(&rs, &err), RW_OK);
    assert_int_equal(rs.n, 1);
    assert_int_equal(rs.runs[0].n, 1);
    assert_string_equal(rs.runs[0].ckpts[0].path + strlen(rs.runs[0].ckpts[0].path) -
                            strlen("pytorch_model.bin.index.json"),
                        "pytorch_model.bin.index.json");
    assert_int_equal(rs.runs[0].ckpts[0].step, 200);
    runset_free(&rs);

    /* --key reaches every shard: these are plain state dicts */
    open_key_fails(index, "model", "key 'model' (--key) names no entry",
                   "pytorch_model-00001-of-00002.bin");
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* An index and shards that disagree, and shards that are not PyTorch
 * files: each an error naming the index and the shard files. */
static void sharded_hostile(void **state)
{
    (void)state;
    char d[512], p[600], q[600];
    snprintf(d, sizeof d, "%s", path_of("badshards"));
    assert_int_equal(mkdir(d, 0777), 0);
    double v[4] = {1, 2, 3, 4};
    rw_err err = {{0}};
    static const char *const shards[][2] = {{"s1.bin", "a b"}, {"s2.bin", "c"}, {"s3.bin", "a c"}};
    for (size_t k = 0; k < 3; k++) {
        pt_writer *w = pt_writer_new("archive");
        char names[8];
        snprintf(names, sizeof names, "%s", shards[k][1]);
        for (char *t = strtok(names, " "); t; t = strtok(NULL, " "))
            assert_int_equal(pt_tensor(w, t, RW_DT_F32, 2, (int64_t[]){2, 2}, v, &err), RW_OK);
        snprintf(p, sizeof p, "%s/%s", d, shards[k][0]);
        pt_opts o = {.root = PT_ROOT_DICT};
        assert_int_equal(pt_save(w, p, &o, &err), RW_OK);
        pt_writer_free(w);
    }
    snprintf(p, sizeof p, "%s/notpt.bin", d);
    write_text(p, "not a model\n");

    static const struct {
        const char *index, *want, *also;
    } cases[] = {
        {"{\"weight_map\": {\"a\": \"s1.bin\", \"b\": \"s1.bin\", \"c\": \"s3.bin\"}}",
         "a is in two shards, ", "/s1.bin and "},
        {"{\"weight_map\": {\"a\": \"s1.bin\", \"b\": \"s1.bin\", \"c\": \"s9.bin\"}}",
         "weight_map names shard ", "s9.bin, which does not exist"},
        {"{\"weight_map\": {\"a\": \"s1.bin\", \"b\": \"s1.bin\", \"c\": \"s2.bin\", "
         "\"d\": \"s2.bin\"}}",
         "weight_map puts d in s2.bin, which does not hold it", NULL},
        {"{\"weight_map\": {\"a\": \"s1.bin\", \"c\": \"s2.bin\"}}",
         "s1.bin holds b, which weight_map does not list", NULL},
        {"{\"weight_map\": {\"a\": \"s2.bin\", \"b\": \"s1.bin\", \"c\": \"s2.bin\"}}",
         "weight_map puts a in s2.bin, but it is in s1.bin", NULL},
        {"{\"weight_map\": {\"a\": \"s1.bin\", \"b\": \"s1.bin\", \"c\": \"s2.bin\", "
         "\"a\": \"s1.bin\"}}",
         "weight_map lists a twice", NULL},
        {"{\"weight_map\": {\"x\": \"notpt.bin\"}}", "not a PyTorch checkpoint", "notpt.bin"},
        {"{\"weight_map\": {\"x\": \"i.bin.index.json\"}}", "not a PyTorch checkpoint",
         "i.bin.index.json"},
        {"{\"weight_map\": {\"x\": \"../s1.bin\"}}", "is not a file name", NULL},
        {"{\"weights\": {}}", "no weight_map object", NULL},
        {"{\"weight_map\": ", "not JSON", NULL},
    };
    snprintf(p, sizeof p, "%s/i.bin.index.json", d); /* the last two name it itself */
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(q, sizeof q, "%s/i%zu.bin.index.json", d, i);
        write_text(q, cases[i].index);
        write_text(p, cases[i].index);
        open_key_fails(q, NULL, cases[i].want, cases[i].also);
        if (cases[i].also && strcmp(cases[i].want, "not a PyTorch checkpoint") != 0)
            open_fails(q, cases[i].want); /* the index's own trouble names it too */
    }
    /* an index of its own name among its shards is opened as a file, once */
    write_text(p, "{\"weight_map\": {\"x\": \"i.bin.index.json\"}}");
    open_fails(p, "not a PyTorch checkpoint");
}

/* ------------------------------------------------------------ --key */

/* A checkpoint dict with state dicts at several key paths: the automatic
 * choice (model), and rw_ckpt_opts.key picking another by its path, also
 * through a key that holds a dot; keys that name nothing or no dict of
 * tensors are errors naming the file and the key. */
static void key_paths(void **state)
{
    (void)state;
    static const double a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8}, c3[4] = {9, 10, 11, 12},
                        m[4] = {0};
    rw_err err = {{0}};
    pt_writer *w = pt_writer_new("archive");
    int64_t sh[2] = {2, 2};
    assert_int_equal(pt_tensor(w, "model/layers.0.w", RW_DT_F32, 2, sh, a, &err), RW_OK);
    assert_int_equal(pt_tensor(w, "ema/model/layers.0.w", RW_DT_F32, 2, sh, b, &err), RW_OK);
    assert_int_equal(pt_scalar_float(w, "ema/decay", 0.999, &err), RW_OK);
    assert_int_equal(pt_tensor(w, "model.ema/layers.0.w", RW_DT_F32, 2, sh, c3, &err), RW_OK);
    assert_int_equal(pt_tensor(w, "optimizer/state/0/exp_avg", RW_DT_F32, 2, sh, m, &err),
                     RW_OK);
    assert_int_equal(pt_scalar_int(w, "step", 7, &err), RW_OK);
    pt_opts o = {.root = PT_ROOT_DICT, .nest = true};
    const char *p = path_of("ema_ckpt.pt");
    assert_int_equal(pt_save(w, p, &o, &err), RW_OK);
    pt_writer_free(w);

    const struct {
        const char *key;
        const double *own;               /* the values named layers.0.w */
        const char *others[3];           /* the other state dicts' names */
    } picks[] = {
        {NULL, a, {"ema.model.layers.0.w", "model.ema.layers.0.w", NULL}},
        {"model", a, {"ema.model.layers.0.w", "model.ema.layers.0.w", NULL}},
        {"ema.model", b, {"model.layers.0.w", "model.ema.layers.0.w", NULL}},
        {"model.ema", c3, {"model.layers.0.w", "ema.model.layers.0.w", NULL}},
    };
    for (size_t i = 0; i < sizeof picks / sizeof picks[0]; i++) {
        rw_ckpt *c = open_key_ok(p, picks[i].key);
        assert_int_equal(c->n, 4);
        assert_int_equal(ckpt_step(c), 7);
        if (picks[i].key)
            assert_string_equal(c->key, picks[i].key);
        size_t n;
        double *v = read_tensor(c, "layers.0.w", &n);
        for (size_t k = 0; k < 4; k++)
            assert_true(v[k] == picks[i].own[k]);
        free(v);
        for (size_t k = 0; picks[i].others[k]; k++)
            assert_true(ckpt_find(c, picks[i].others[k]) >= 0);
        long oi = ckpt_find(c, "optimizer.state.0.exp_avg");
        assert_true(oi >= 0 && c->tensors[oi].optimizer);
        ckpt_free(c);
    }
    open_key_fails(p, "missing", "key 'missing' (--key) names no entry", NULL);
    open_key_fails(p, "ema.model.x", "key 'ema.model.x' (--key) names no entry", NULL);
    open_key_fails(p, "step", "key 'step' (--key) names an integer, not a dict of tensors",
                   NULL);
    open_key_fails(p, "ema.decay", "names a float, not a dict of tensors", NULL);
    open_key_fails(p, "model.layers.0.w", "names a tensor, not a dict of tensors", NULL);

    /* two state dicts where the automatic choice looks: --key decides */
    w = pt_writer_new("archive");
    assert_int_equal(pt_tensor(w, "model/w", RW_DT_F32, 2, sh, a, &err), RW_OK);
    assert_int_equal(pt_tensor(w, "state_dict/w", RW_DT_F32, 2, sh, b, &err), RW_OK);
    p = path_of("two_dicts.pt");
    assert_int_equal(pt_save(w, p, &o, &err), RW_OK);
    pt_writer_free(w);
    open_fails(p, "entries 'model' and 'state_dict' both hold a state dict (--key picks one)");
    rw_ckpt *c = open_key_ok(p, "state_dict");
    size_t n;
    double *v = read_tensor(c, "w", &n);
    assert_true(v[0] == 5);
    free(v);
    assert_true(ckpt_find(c, "model.w") >= 0);
    ckpt_free(c);
}

/* LONG_BINGET of memo entry i. */
static void get(pkw *p, unsigned i)
{
    pkw_op(p, 'j');
    for (int k = 0; k < 4; k++)
        pkw_op(p, (unsigned char)(i >> (8 * k)));
}

/* Lists that hold the previous one twice (memo GETs), 40 levels: as a tree,
 * 2^40 tensors. The walk stops after as many objects as the pickle holds
 * and refuses the file at once (before, listing it never ended). A dict
 * shared by two entries, as Python pickles any object met twice, is read:
 * its tensors under both names. */
static void shared_containers(void **state)
{
    (void)state;
    rw_err err = {{0}};
    pt_writer *w = pt_writer_new("archive");
    assert_true(pt_storage(w, RW_DT_F32, 4, (const double[]){1, 2, 3, 4}, &err) == 0);
    const int64_t shape[2] = {2, 2}, stride[2] = {2, 1};

    pkw p = {0};
    pkw_proto(&p);
    pkw_op(&p, '}'); /* {"x": the last list} */
    pkw_str(&p, "x");
    pkw_op(&p, ']');
    pkw_tensor(&p, "FloatStorage", "0", 4, 0, 2, shape, stride, false);
    pkw_op(&p, 'a');
    unsigned prev = p.memo;
    pkw_put(&p);
    pkw_op(&p, '0'); /* POP: the list stays in the memo */
    for (int level = 0; level < 40; level++) {
        pkw_op(&p, ']');
        pkw_op(&p, '(');
        get(&p, prev);
        get(&p, prev);
        pkw_op(&p, 'e');
        prev = p.memo;
        pkw_put(&p);
        pkw_op(&p, '0');
    }
    get(&p, prev);
    pkw_op(&p, 's');
    pkw_op(&p, '.');
    assert_int_equal(pt_save_raw(w, path_of("dag.pt"), p.b, p.n, &err), RW_OK);
    open_fails(path_of("dag.pt"), "dicts or lists shared between entries");
    pkw_free(&p);

    /* {"a": d, "b": d} with d = {"w": tensor} */
    pkw_proto(&p);
    pkw_op(&p, '}');
    pkw_put(&p);
    pkw_op(&p, '(');
    pkw_str(&p, "a");
    pkw_op(&p, '}');
    unsigned d = p.memo;
    pkw_put(&p);
    pkw_str(&p, "w");
    pkw_tensor(&p, "FloatStorage", "0", 4, 0, 2, shape, stride, false);
    pkw_op(&p, 's');
    pkw_str(&p, "b");
    get(&p, d);
    pkw_op(&p, 'u');
    pkw_op(&p, '.');
    assert_int_equal(pt_save_raw(w, path_of("shared.pt"), p.b, p.n, &err), RW_OK);
    pkw_free(&p);
    pt_writer_free(w);
    rw_ckpt *c = open_ok(path_of("shared.pt"));
    assert_int_equal(c->n, 2);
    size_t n;
    double *a = read_tensor(c, "a.w", &n), *b = read_tensor(c, "b.w", &n);
    assert_int_equal(n, 4);
    for (int i = 0; i < 4; i++)
        assert_true(a[i] == i + 1 && b[i] == i + 1);
    free(a);
    free(b);
    ckpt_free(c);
}

/* A dimension of size 1 may have any stride (torch leaves what the view
 * had): 2x1 with strides (1, 2^63 - 1) reads the storage's first two
 * values. The reader no longer adds such a stride to its position (signed
 * overflow, caught by UBSan under make check SAN=1). */
static void size_one_any_stride(void **state)
{
    pt_writer *w = pt_writer_new("archive");
    rw_err err = {{0}};
    (void)state;
    long s = pt_storage(w, RW_DT_F32, 4, (const double[]){1, 2, 3, 4}, &err);
    assert_int_equal(pt_view(w, "t", s, 0, 2, (int64_t[]){2, 1}, (int64_t[]){1, INT64_MAX},
                             &err), RW_OK);
    assert_int_equal(pt_view(w, "u", s, 1, 3, (int64_t[]){1, 3, 1},
                             (int64_t[]){INT64_MAX, 1, INT64_MAX}, &err), RW_OK);
    assert_int_equal(pt_save(w, path_of("stride1.pt"), &(pt_opts){.root = PT_ROOT_DICT}, &err),
                     RW_OK);
    pt_writer_free(w);
    rw_ckpt *c = open_ok(path_of("stride1.pt"));
    size_t n;
    double *t = read_tensor(c, "t", &n);
    assert_int_equal(n, 2);
    assert_true(t[0] == 1 && t[1] == 2);
    double *u = read_tensor(c, "u", &n);
    assert_int_equal(n, 3);
    assert_true(u[0] == 2 && u[1] == 3 && u[2] == 4);
    free(t);
    free(u);
    ckpt_free(c);
}

/* ------------------------------------------------------------ real files */

#define TORCH_DIR "../shared/realdata/torch-files"

static void real_files(void **state)
{
    (void)state;
    struct stat sb;
    if (stat(TORCH_DIR, &sb) != 0) {
        print_message("skipped: %s is absent\n", TORCH_DIR);
        skip();
    }
    FILE *f = fopen(TORCH_DIR "/expected_small.json", "r");
    assert_non_null(f);
    static char text[1 << 20];
    size_t tn = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[tn] = '\0';
    cJSON *expect = cJSON_Parse(text);
    assert_non_null(expect);

    static const struct {
        const char *file;
        rw_dtype dt;
        int64_t step;
    } files[] = {{"state_dict_step_000100.pt", RW_DT_F32, 100},
                 {"legacy_step_000100.pt", RW_DT_F32, 100},
                 {"checkpoint_dict_000100.pt", RW_DT_F32, 100},
                 {"checkpoint-100/pytorch_model.bin", RW_DT_F32, 100},
                 {"bf16_step_000100.pt", RW_DT_BF16, 100},
                 {"f16_step_000100.pt", RW_DT_F16, 100},
                 {"f64_step_000100.pt", RW_DT_F64, 100}};
    for (size_t fi = 0; fi < sizeof files / sizeof files[0]; fi++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", TORCH_DIR, files[fi].file);
        rw_ckpt *c = open_ok(p);
        assert_int_equal(ckpt_step(c), files[fi].step);
        size_t nchecked = 0;
        const cJSON *t;
        cJSON_ArrayForEach(t, expect)
        {
            size_t n;
            double *v = read_tensor(c, t->string, &n);
            long ti = ckpt_find(c, t->string);
            assert_int_equal(c->tensors[ti].dtype, files[fi].dt);
            int rows = cJSON_GetArraySize(t), k = 0;
            for (int r = 0; r < rows; r++) {
                const cJSON *row = cJSON_GetArrayItem(t, r), *x;
                cJSON_ArrayForEach(x, row)
                {
                    assert_true(v[k] == stored(x->valuedouble, files[fi].dt));
                    k++;
                }
            }
            assert_int_equal((size_t)k, n);
            nchecked++;
            free(v);
        }
        assert_int_equal(nchecked, 2); /* the two v_proj matrices */
        /* the int64 entry is listed (state dicts), never a matrix */
        long sc = ckpt_find(c, "step_counter");
        if (files[fi].dt == RW_DT_F32 && strstr(files[fi].file, "dict_0") == NULL)
            assert_true(sc >= 0 && c->tensors[sc].dtype == RW_DT_INT);
        ckpt_free(c);
    }
    cJSON_Delete(expect);

    /* views of one 96 x 48 storage: big.t(), big[10:58], big[::2] */
    rw_ckpt *c = open_ok(TORCH_DIR "/views_step_000100.pt");
    size_t n;
    double *t0 = read_tensor(c, "layers.0.w.weight", &n), *t1 = read_tensor(c, "layers.1.w.weight", &n),
           *t2 = read_tensor(c, "layers.2.w.weight", &n);
    for (int r = 0; r < 48; r++)
        for (int col = 0; col < 48; col++) {
            assert_true(t1[r * 48 + col] == t0[col * 96 + 10 + r]); /* big[10 + r][col] */
            assert_true(t2[r * 48 + col] == t0[col * 96 + 2 * r]);  /* big[2 r][col] */
        }
    free(t0);
    free(t1);
    free(t2);
    ckpt_free(c);

    /* the checkpoint dict: the model's tensors by their own names, the
     * optimizer's under optimizer. */
    c = open_ok(TORCH_DIR "/checkpoint_dict_000100.pt");
    assert_true(ckpt_find(c, "layers.0.attention.q_proj.weight") >= 0);
    assert_true(ckpt_find(c, "optimizer.state.0.exp_avg") >= 0);
    ckpt_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip),
        cmocka_unit_test(views_and_strides),
        cmocka_unit_test(hostile_files),
        cmocka_unit_test(sharded_model),
        cmocka_unit_test(sharded_hostile),
        cmocka_unit_test(key_paths),
        cmocka_unit_test(shared_containers),
        cmocka_unit_test(size_one_any_stride),
        cmocka_unit_test(real_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
