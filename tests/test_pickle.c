/*
 * test_pickle.c — the restricted unpickler (io/pickle.h): the streams
 * fixtures/ptwrite.c writes as torch.save does (dict, OrderedDict with
 * _metadata, parameters, a checkpoint dict), the data.pkl of files written
 * by PyTorch itself (../shared/realdata/torch-files, skipped when absent),
 * and hostile streams: globals that would run code, REDUCE of anything but
 * the allow-list, INST/OBJ/NEWOBJ, BUILD on other objects, deep nesting,
 * huge memo indices, oversized integers, tensors outside their storage, and
 * every truncation of a valid stream.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zip.h>

#include "fixtures/ptwrite.h"
#include "io/pickle.h"

/* ------------------------------------------------------------ helpers */

static const pk_obj *parse_ok(const pkw *w, pk_doc **doc)
{
    const pk_obj *root = NULL;
    size_t used = 0;
    rw_err err = {{0}};
    rw_status st = pk_parse(w->b, w->n, doc, &root, &used, &err);
    if (st != RW_OK)
        print_error("%s\n", err.msg);
    assert_int_equal(st, RW_OK);
    assert_int_equal(used, w->n);
    return root;
}

/* Parses w and expects a refusal whose message contains want. */
static void refused(const pkw *w, const char *want)
{
    pk_doc *doc = (pk_doc *)1;
    const pk_obj *root = (const pk_obj *)1;
    rw_err err = {{0}};
    rw_status st = pk_parse(w->b, w->n, &doc, &root, NULL, &err);
    assert_int_not_equal(st, RW_OK);
    assert_null(doc);
    assert_null(root);
    if (!strstr(err.msg, want))
        print_error("message '%s' lacks '%s'\n", err.msg, want);
    assert_non_null(strstr(err.msg, want));
}

static const pk_obj *item_value(const pk_obj *d, size_t j)
{
    return d->u.seq.v[2 * j + 1];
}
static const char *item_key(const pk_obj *d, size_t j)
{
    assert_int_equal(d->u.seq.v[2 * j]->kind, PK_STR);
    return d->u.seq.v[2 * j]->u.str.s;
}

/* ------------------------------------------------------------ valid streams */

static void tensor_and_scalars(void **state)
{
    (void)state;
    pkw w = {0};
    pkw_proto(&w);
    pkw_op(&w, '}');
    pkw_put(&w);
    pkw_op(&w, '(');
    pkw_str(&w, "w");
    int64_t size[2] = {3, 4}, stride[2] = {1, 3};
    pkw_tensor(&w, "BFloat16Storage", "7", 12, 0, 2, size, stride, false);
    pkw_str(&w, "step");
    pkw_int(&w, 123456789012LL); /* LONG1 */
    pkw_str(&w, "neg");
    pkw_int(&w, -5);             /* BININT */
    pkw_str(&w, "lr");
    pkw_float(&w, 0.125);
    pkw_str(&w, "flag");
    pkw_op(&w, 0x88);
    pkw_str(&w, "none");
    pkw_op(&w, 'N');
    pkw_op(&w, 'u');
    pkw_op(&w, '.');
    pk_doc *doc = NULL;
    const pk_obj *root = parse_ok(&w, &doc);
    assert_int_equal(root->kind, PK_DICT);
    assert_int_equal(root->u.seq.n, 12);
    const pk_obj *t = pk_dict_get(root, "w");
    assert_non_null(t);
    assert_int_equal(t->kind, PK_TENSOR);
    assert_int_equal(t->u.tensor.ndim, 2);
    assert_int_equal(t->u.tensor.size[0], 3);
    assert_int_equal(t->u.tensor.size[1], 4);
    assert_int_equal(t->u.tensor.stride[0], 1);
    assert_int_equal(t->u.tensor.stride[1], 3);
    assert_int_equal(t->u.tensor.storage->u.storage.type, PK_ST_BFLOAT16);
    assert_string_equal(t->u.tensor.storage->u.storage.key, "7");
    assert_int_equal(pk_storage_dtype(PK_ST_BFLOAT16), RW_DT_BF16);
    int64_t ext = 0;
    assert_true(pk_tensor_extent(t, &ext));
    assert_int_equal(ext, 1 + 2 * 1 + 3 * 3); /* last element (2,3) at 2 + 9 */
    assert_int_equal(pk_dict_get(root, "step")->u.i, 123456789012LL);
    assert_int_equal(pk_dict_get(root, "neg")->u.i, -5);
    assert_true(pk_dict_get(root, "lr")->u.f == 0.125);
    assert_int_equal(pk_dict_get(root, "flag")->kind, PK_BOOL);
    assert_int_equal(pk_dict_get(root, "none")->kind, PK_NONE);
    assert_null(pk_dict_get(root, "absent"));
    pk_doc_free(doc);
    pkw_free(&w);
}

/* The same key twice: both kept, the last one is what pk_dict_get gives. */
static void repeated_key_last_wins(void **state)
{
    (void)state;
    pkw w = {0};
    pkw_proto(&w);
    pkw_op(&w, '}');
    pkw_op(&w, '(');
    pkw_str(&w, "k");
    pkw_int(&w, 1);
    pkw_str(&w, "k");
    pkw_int(&w, 2);
    pkw_op(&w, 'u');
    pkw_op(&w, '.');
    pk_doc *doc = NULL;
    const pk_obj *root = parse_ok(&w, &doc);
    assert_int_equal(root->u.seq.n, 4);
    assert_int_equal(pk_dict_get(root, "k")->u.i, 2);
    pk_doc_free(doc);
    pkw_free(&w);
}

/* LONG1 sign extension, BININT's sign, memo round trips, STACK_GLOBAL of an
 * allowed global, TUPLE1-3, lists with APPEND/APPENDS, DICT. */
static void opcodes(void **state)
{
    (void)state;
    pkw w = {0};
    pkw_proto(&w);
    pkw_op(&w, '(');
    pkw_op(&w, 0x8a); /* LONG1 2 bytes 0xff 0xff = -1 */
    pkw_op(&w, 2);
    pkw_op(&w, 0xff);
    pkw_op(&w, 0xff);
    pkw_op(&w, 0x8a); /* LONG1 0 bytes = 0 */
    pkw_op(&w, 0);
    pkw_str(&w, "collections"); /* memo 0 */
    pkw_str(&w, "OrderedDict"); /* memo 1 */
    pkw_op(&w, 0x93);           /* STACK_GLOBAL */
    pkw_op(&w, ')');
    pkw_op(&w, 'R');
    pkw_op(&w, 'h'); /* BINGET 0 */
    pkw_op(&w, 0);
    pkw_op(&w, 0x85); /* TUPLE1 */
    pkw_op(&w, ']');
    pkw_int(&w, 1);
    pkw_op(&w, 'a');
    pkw_op(&w, '(');
    pkw_int(&w, 2);
    pkw_int(&w, 3);
    pkw_op(&w, 'e');
    pkw_op(&w, '(');
    pkw_str(&w, "a");
    pkw_int(&w, 9);
    pkw_op(&w, 'd');
    pkw_op(&w, 'l'); /* LIST from the mark */
    pkw_op(&w, '.');
    pk_doc *doc = NULL;
    const pk_obj *root = parse_ok(&w, &doc);
    assert_int_equal(root->kind, PK_LIST);
    assert_int_equal(root->u.seq.n, 6);
    const pk_obj *const *v = (const pk_obj *const *)root->u.seq.v;
    assert_int_equal(v[0]->u.i, -1);
    assert_int_equal(v[1]->u.i, 0);
    assert_int_equal(v[2]->kind, PK_DICT); /* OrderedDict() */
    assert_int_equal(v[3]->kind, PK_TUPLE);
    assert_string_equal(v[3]->u.seq.v[0]->u.str.s, "collections");
    assert_int_equal(v[4]->kind, PK_LIST);
    assert_int_equal(v[4]->u.seq.n, 3);
    assert_int_equal(v[4]->u.seq.v[2]->u.i, 3);
    assert_int_equal(pk_dict_get(v[5], "a")->u.i, 9);
    pk_doc_free(doc);
    pkw_free(&w);
}

/* ------------------------------------------------------------ hostile streams */

static void global_os_system_refused(void **state)
{
    (void)state;
    pkw w = {0};
    pkw_proto(&w);
    pkw_global(&w, "os", "system");
    pkw_str(&w, "touch /tmp/rw-pwned");
    pkw_op(&w, 0x85);
    pkw_op(&w, 'R');
    pkw_op(&w, '.');
    refused(&w, "global 'os.system' is not allowed");
    pkw_free(&w);

    pkw s = {0}; /* STACK_GLOBAL builtins.eval */
    pkw_proto(&s);
    pkw_str(&s, "builtins");
    pkw_str(&s, "eval");
    pkw_op(&s, 0x93);
    pkw_op(&s, '.');
    refused(&s, "global 'builtins.eval' is not allowed");
    pkw_free(&s);

    pkw t = {0}; /* a torch name that is not a storage class */
    pkw_proto(&t);
    pkw_global(&t, "torch", "load");
    pkw_op(&t, '.');
    refused(&t, "global 'torch.load' is not allowed");
    pkw_free(&t);

    pkw n = {0}; /* a name with a newline and control bytes is escaped */
    pkw_proto(&n);
    pkw_str(&n, "os\nx\x1b");
    pkw_str(&n, "system");
    pkw_op(&n, 0x93);
    pkw_op(&n, '.');
    pk_doc *doc = NULL;
    const pk_obj *root = NULL;
    rw_err err = {{0}};
    assert_int_equal(pk_parse(n.b, n.n, &doc, &root, NULL, &err), RW_EDATA);
    assert_null(strchr(err.msg, '\n'));
    assert_null(strchr(err.msg, '\x1b'));
    assert_non_null(strstr(err.msg, "os\\nx\\x1b.system"));
    pkw_free(&n);
}

static void refused_opcodes(void **state)
{
    (void)state;
    static const struct {
        unsigned char op;
        const char *name;
    } ops[] = {{'i', "INST"},         {'o', "OBJ"},         {0x81, "NEWOBJ"},
               {0x92, "NEWOBJ_EX"},   {0x82, "EXT"},        {'P', "PERSID"},
               {0x8f, "EMPTY_SET"},   {0x91, "FROZENSET"},  {'S', "STRING"},
               {0x97, "NEXT_BUFFER"}, {0xff, "unknown opcode 0xff"}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        pkw w = {0};
        pkw_proto(&w);
        pkw_op(&w, ops[i].op);
        pkw_op(&w, '.');
        refused(&w, ops[i].name);
        pkw_free(&w);
    }
}

static void reduce_and_build_restricted(void **state)
{
    (void)state;
    pkw w = {0}; /* REDUCE of a dict */
    pkw_proto(&w);
    pkw_op(&w, '}');
    pkw_op(&w, ')');
    pkw_op(&w, 'R');
    pkw_op(&w, '.');
    refused(&w, "REDUCE of something that is not an allowed callable");
    pkw_free(&w);

    pkw s = {0}; /* REDUCE of a storage class */
    pkw_proto(&s);
    pkw_global(&s, "torch", "FloatStorage");
    pkw_op(&s, ')');
    pkw_op(&s, 'R');
    pkw_op(&s, '.');
    refused(&s, "REDUCE of a storage class");
    pkw_free(&s);

    pkw b = {0}; /* BUILD on a plain dict */
    pkw_proto(&b);
    pkw_op(&b, '}');
    pkw_op(&b, '}');
    pkw_op(&b, 'b');
    pkw_op(&b, '.');
    refused(&b, "BUILD on a dict (only an OrderedDict's or a tensor's state is set)");
    pkw_free(&b);

    pkw l = {0}; /* BUILD on a list */
    pkw_proto(&l);
    pkw_op(&l, ']');
    pkw_op(&l, 'N');
    pkw_op(&l, 'b');
    pkw_op(&l, '.');
    refused(&l, "BUILD on a list");
    pkw_free(&l);

    pkw o = {0}; /* BUILD on an OrderedDict is allowed */
    pkw_proto(&o);
    pkw_global(&o, "collections", "OrderedDict");
    pkw_op(&o, ')');
    pkw_op(&o, 'R');
    pkw_op(&o, '}');
    pkw_op(&o, 'b');
    pkw_op(&o, '.');
    pk_doc *doc = NULL;
    const pk_obj *root = parse_ok(&o, &doc);
    assert_int_equal(root->kind, PK_DICT);
    pk_doc_free(doc);
    pkw_free(&o);

    pkw t = {0}; /* _rebuild_tensor_v2 with a dict for a storage */
    pkw_proto(&t);
    pkw_global(&t, "torch._utils", "_rebuild_tensor_v2");
    pkw_op(&t, '(');
    pkw_op(&t, '}');
    pkw_int(&t, 0);
    pkw_op(&t, ')');
    pkw_op(&t, ')');
    pkw_op(&t, 0x89);
    pkw_op(&t, '}');
    pkw_op(&t, 't');
    pkw_op(&t, 'R');
    pkw_op(&t, '.');
    refused(&t, "tensor without a storage");
    pkw_free(&t);
}

static void tensors_outside_storage_refused(void **state)
{
    (void)state;
    static const struct {
        int64_t numel, off, size[2], stride[2];
    } bad[] = {
        {12, 1, {3, 4}, {4, 1}},                        /* one past the end */
        {12, 0, {4, 4}, {4, 1}},                        /* too many rows */
        {12, 0, {2, INT64_MAX / 2}, {1, 4}},            /* extent overflows */
        {12, INT64_MAX, {1, 1}, {1, 1}},                /* offset overflows */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pkw w = {0};
        pkw_proto(&w);
        pkw_tensor(&w, "FloatStorage", "0", bad[i].numel, bad[i].off, 2, bad[i].size,
                    bad[i].stride, false);
        pkw_op(&w, '.');
        refused(&w, "outside its storage");
        pkw_free(&w);
    }
    pkw n = {0}; /* a negative size */
    pkw_proto(&n);
    int64_t size[2] = {-1, 4}, stride[2] = {4, 1};
    pkw_tensor(&n, "FloatStorage", "0", 12, 0, 2, size, stride, false);
    pkw_op(&n, '.');
    refused(&n, "non-negative integers");
    pkw_free(&n);
}

static void resources_bounded(void **state)
{
    (void)state;
    pkw w = {0}; /* 65 nested MARKs */
    pkw_proto(&w);
    for (int i = 0; i < PK_MAX_DEPTH + 1; i++)
        pkw_op(&w, '(');
    pkw_op(&w, '.');
    refused(&w, "MARKs nested deeper than 64");
    pkw_free(&w);

    pkw m = {0}; /* LONG_BINPUT 0xffffffff */
    pkw_proto(&m);
    pkw_op(&m, 'N');
    pkw_op(&m, 'r');
    for (int i = 0; i < 4; i++)
        pkw_op(&m, 0xff);
    pkw_op(&m, '.');
    refused(&m, "memo index 4294967295 out of range (a stream of 9 bytes stores fewer entries)");
    pkw_free(&m);

    pkw g = {0}; /* BINGET of an entry never set */
    pkw_proto(&g);
    pkw_op(&g, 'h');
    pkw_op(&g, 3);
    pkw_op(&g, '.');
    refused(&g, "memo entry 3 was never set");
    pkw_free(&g);

    pkw l = {0}; /* LONG4 of 1 GiB (not present) and LONG1 of 9 bytes */
    pkw_proto(&l);
    pkw_op(&l, 0x8a);
    pkw_op(&l, 9);
    for (int i = 0; i < 9; i++)
        pkw_op(&l, 1);
    pkw_op(&l, '.');
    refused(&l, "integer of 9 bytes is too large");
    pkw_free(&l);

    pkw u = {0}; /* a string longer than the stream */
    pkw_proto(&u);
    pkw_op(&u, 'X');
    pkw_op(&u, 0xff);
    pkw_op(&u, 0xff);
    pkw_op(&u, 0xff);
    pkw_op(&u, 0x7f);
    pkw_op(&u, 'a');
    refused(&u, "truncated stream");
    pkw_free(&u);

    pkw e = {0}; /* stack underflow, empty STOP, no STOP */
    pkw_proto(&e);
    pkw_op(&e, 's');
    refused(&e, "stack underflow");
    pkw_free(&e);
    pkw_proto(&e);
    pkw_op(&e, '.');
    refused(&e, "STOP with an empty stack");
    pkw_free(&e);
    pkw_proto(&e);
    pkw_op(&e, 'N');
    refused(&e, "no STOP");
    pkw_free(&e);
}

/* TUPLE, LIST and DICT right after the first MARK, on a stack that holds
 * nothing yet (and so was never allocated): empty containers. Found by
 * fuzzing (tests/fuzz/crashes/pickle/mark-tuple-empty-stack): the tuple's
 * items were copied from a pointer computed into the NULL stack, undefined
 * even for 0 items (UBSan). */
static void containers_of_an_empty_stack(void **state)
{
    (void)state;
    static const struct {
        unsigned char op;
        pk_kind kind;
    } c[] = {{'t', PK_TUPLE}, {'l', PK_LIST}, {'d', PK_DICT}};
    for (size_t i = 0; i < 3; i++) {
        pkw w = {0};
        pkw_proto(&w);
        pkw_op(&w, '(');
        pkw_op(&w, c[i].op);
        pkw_op(&w, '.');
        pk_doc *doc = NULL;
        const pk_obj *root = parse_ok(&w, &doc);
        assert_int_equal(root->kind, c[i].kind);
        assert_int_equal(root->u.seq.n, 0);
        pk_doc_free(doc);
        pkw_free(&w);
    }
}

/* Every proper prefix of a real-shaped stream is refused, none crashes
 * (run under ASan by make check SAN=1). */
static void every_truncation_refused(void **state)
{
    (void)state;
    pt_writer *pw = pt_writer_new("archive");
    assert_non_null(pw);
    pkw w = {0};
    pkw_proto(&w);
    pkw_global(&w, "collections", "OrderedDict");
    pkw_op(&w, ')');
    pkw_op(&w, 'R');
    pkw_put(&w);
    pkw_op(&w, '(');
    int64_t size[2] = {2, 3}, stride[2] = {3, 1};
    pkw_str(&w, "a.weight");
    pkw_tensor(&w, "FloatStorage", "0", 6, 0, 2, size, stride, false);
    pkw_str(&w, "step");
    pkw_int(&w, 70000);
    pkw_op(&w, 'u');
    pkw_op(&w, '}');
    pkw_str(&w, "_metadata");
    pkw_op(&w, '}');
    pkw_op(&w, 's');
    pkw_op(&w, 'b');
    pkw_op(&w, '.');
    pk_doc *doc = NULL;
    parse_ok(&w, &doc);
    pk_doc_free(doc);
    for (size_t n = 0; n < w.n; n++) {
        const pk_obj *root = NULL;
        rw_err err = {{0}};
        doc = NULL;
        assert_int_not_equal(pk_parse(w.b, n, &doc, &root, NULL, &err), RW_OK);
        assert_null(doc);
        assert_true(err.msg[0] != '\0');
    }
    pkw_free(&w);
    pt_writer_free(pw);
}

/* ------------------------------------------------------------ real files */

#define TORCH_DIR "../shared/realdata/torch-files"

/* The data.pkl of a .pt file, read with libzip (malloc'd, *n bytes). */
static unsigned char *read_pkl(const char *path, size_t *n)
{
    int zerr = 0;
    zip_t *z = zip_open(path, ZIP_RDONLY, &zerr);
    assert_non_null(z);
    unsigned char *buf = NULL;
    for (zip_int64_t i = 0; i < zip_get_num_entries(z, 0); i++) {
        const char *name = zip_get_name(z, (zip_uint64_t)i, 0);
        size_t nl = strlen(name);
        if (nl < 9 || strcmp(name + nl - 9, "/data.pkl") != 0)
            continue;
        zip_stat_t sb;
        assert_int_equal(zip_stat_index(z, (zip_uint64_t)i, 0, &sb), 0);
        buf = malloc(sb.size);
        assert_non_null(buf);
        zip_file_t *f = zip_fopen_index(z, (zip_uint64_t)i, 0);
        assert_non_null(f);
        assert_int_equal(zip_fread(f, buf, sb.size), (zip_int64_t)sb.size);
        zip_fclose(f);
        *n = sb.size;
    }
    zip_discard(z);
    assert_non_null(buf);
    return buf;
}

static const pk_obj *real_root(const char *file, pk_doc **doc, unsigned char **buf)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", TORCH_DIR, file);
    size_t n = 0;
    *buf = read_pkl(path, &n);
    const pk_obj *root = NULL;
    rw_err err = {{0}};
    rw_status st = pk_parse(*buf, n, doc, &root, NULL, &err);
    if (st != RW_OK)
        print_error("%s: %s\n", path, err.msg);
    assert_int_equal(st, RW_OK);
    return root;
}

static void check_tensor(const pk_obj *t, pk_storage_type ty, int64_t off, int64_t r,
                         int64_t c, int64_t sr, int64_t sc)
{
    assert_non_null(t);
    assert_int_equal(t->kind, PK_TENSOR);
    assert_int_equal(t->u.tensor.storage->u.storage.type, ty);
    assert_int_equal(t->u.tensor.offset, off);
    assert_int_equal(t->u.tensor.ndim, 2);
    assert_int_equal(t->u.tensor.size[0], r);
    assert_int_equal(t->u.tensor.size[1], c);
    assert_int_equal(t->u.tensor.stride[0], sr);
    assert_int_equal(t->u.tensor.stride[1], sc);
}

static void real_torch_files(void **state)
{
    (void)state;
    struct stat sb;
    if (stat(TORCH_DIR, &sb) != 0) {
        print_message("skipped: %s is absent\n", TORCH_DIR);
        skip();
    }
    pk_doc *doc = NULL;
    unsigned char *buf = NULL;

    /* make.py: an OrderedDict of 12 entries, float32 and one int64 scalar */
    const pk_obj *root = real_root("state_dict_step_000100.pt", &doc, &buf);
    assert_int_equal(root->kind, PK_DICT);
    assert_int_equal(root->u.seq.n / 2, 12);
    assert_string_equal(item_key(root, 0), "layers.0.attention.q_proj.weight");
    check_tensor(pk_dict_get(root, "layers.0.attention.v_proj.weight"), PK_ST_FLOAT, 0, 16,
                 48, 48, 1);
    check_tensor(pk_dict_get(root, "layers.1.swiglu.w_2.weight"), PK_ST_FLOAT, 0, 48, 192,
                 192, 1);
    const pk_obj *sc = pk_dict_get(root, "step_counter");
    assert_int_equal(sc->kind, PK_TENSOR);
    assert_int_equal(sc->u.tensor.ndim, 0);
    assert_int_equal(sc->u.tensor.storage->u.storage.type, PK_ST_LONG);
    pk_doc_free(doc);
    free(buf);

    /* the checkpoint dict: model, optimizer, step 100, epoch 1, config */
    root = real_root("checkpoint_dict_000100.pt", &doc, &buf);
    assert_int_equal(pk_dict_get(root, "step")->u.i, 100);
    assert_int_equal(pk_dict_get(root, "epoch")->u.i, 1);
    assert_int_equal(pk_dict_get(pk_dict_get(root, "config"), "d_model")->u.i, 48);
    const pk_obj *model = pk_dict_get(root, "model");
    assert_int_equal(model->u.seq.n / 2, 12);
    const pk_obj *opt = pk_dict_get(root, "optimizer");
    const pk_obj *st0 = pk_dict_get(opt, "state");
    assert_int_equal(st0->u.seq.v[0]->kind, PK_INT); /* keyed by parameter index */
    check_tensor(pk_dict_get(item_value(st0, 0), "exp_avg"), PK_ST_FLOAT, 0, 48, 48, 48, 1);
    assert_true(pk_dict_get(pk_dict_get(opt, "param_groups")->u.seq.v[0], "lr")->u.f == 1e-3);
    pk_doc_free(doc);
    free(buf);

    /* views of one 96 x 48 storage: big.t(), big[10:58], big[::2] */
    root = real_root("views_step_000100.pt", &doc, &buf);
    const pk_obj *t0 = pk_dict_get(root, "layers.0.w.weight"),
                 *t1 = pk_dict_get(root, "layers.1.w.weight"),
                 *t2 = pk_dict_get(root, "layers.2.w.weight");
    check_tensor(t0, PK_ST_FLOAT, 0, 48, 96, 1, 48);
    check_tensor(t1, PK_ST_FLOAT, 480, 48, 48, 48, 1);
    check_tensor(t2, PK_ST_FLOAT, 0, 48, 48, 96, 1);
    assert_string_equal(t0->u.tensor.storage->u.storage.key, t1->u.tensor.storage->u.storage.key);
    assert_int_equal(t0->u.tensor.storage->u.storage.numel, 96 * 48);
    pk_doc_free(doc);
    free(buf);

    static const struct {
        const char *file;
        pk_storage_type type;
    } dt[] = {{"bf16_step_000100.pt", PK_ST_BFLOAT16},
              {"f16_step_000100.pt", PK_ST_HALF},
              {"f64_step_000100.pt", PK_ST_DOUBLE}};
    for (size_t i = 0; i < 3; i++) {
        root = real_root(dt[i].file, &doc, &buf);
        assert_int_equal(root->u.seq.n / 2, 11); /* the int64 entry left out */
        check_tensor(pk_dict_get(root, "layers.0.attention.q_proj.weight"), dt[i].type, 0, 48,
                     48, 48, 1);
        pk_doc_free(doc);
        free(buf);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tensor_and_scalars),
        cmocka_unit_test(repeated_key_last_wins),
        cmocka_unit_test(opcodes),
        cmocka_unit_test(global_os_system_refused),
        cmocka_unit_test(refused_opcodes),
        cmocka_unit_test(reduce_and_build_restricted),
        cmocka_unit_test(tensors_outside_storage_refused),
        cmocka_unit_test(resources_bounded),
        cmocka_unit_test(containers_of_an_empty_stack),
        cmocka_unit_test(every_truncation_refused),
        cmocka_unit_test(real_torch_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
