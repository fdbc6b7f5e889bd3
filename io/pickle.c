/*
 * pickle.c — the restricted unpickler of pickle.h: a stack machine over the
 * opcodes torch.save writes, building pk_obj trees in an arena. No opcode
 * calls, imports or looks up anything: a GLOBAL yields one of a fixed set of
 * markers, and REDUCE of a marker builds the value that callable would
 * return (a dict, a tensor description) from checked arguments.
 */
#include "io/pickle.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------- tables */

static const struct {
    const char *name;
    size_t size;
    rw_dtype dtype;
} storage_types[PK_ST_COUNT] = {
    [PK_ST_FLOAT] = {"FloatStorage", 4, RW_DT_F32},
    [PK_ST_DOUBLE] = {"DoubleStorage", 8, RW_DT_F64},
    [PK_ST_HALF] = {"HalfStorage", 2, RW_DT_F16},
    [PK_ST_BFLOAT16] = {"BFloat16Storage", 2, RW_DT_BF16},
    [PK_ST_LONG] = {"LongStorage", 8, RW_DT_INT},
    [PK_ST_INT] = {"IntStorage", 4, RW_DT_INT},
    [PK_ST_SHORT] = {"ShortStorage", 2, RW_DT_INT},
    [PK_ST_CHAR] = {"CharStorage", 1, RW_DT_INT},
    [PK_ST_BYTE] = {"ByteStorage", 1, RW_DT_INT},
    [PK_ST_BOOL] = {"BoolStorage", 1, RW_DT_INT},
};

const char *pk_storage_name(pk_storage_type t) { return storage_types[t].name; }
size_t pk_storage_elem_size(pk_storage_type t) { return storage_types[t].size; }
rw_dtype pk_storage_dtype(pk_storage_type t) { return storage_types[t].dtype; }

/* The allow-list: (module, name) -> marker. */
static const struct {
    const char *module, *name;
    pk_global g;
} allowed[] = {
    {"collections", "OrderedDict", PK_G_ORDERED_DICT},
    {"torch._utils", "_rebuild_tensor_v2", PK_G_REBUILD_TENSOR_V2},
    {"torch._utils", "_rebuild_tensor", PK_G_REBUILD_TENSOR},
    {"torch._utils", "_rebuild_parameter", PK_G_REBUILD_PARAMETER},
    {"torch._utils", "_rebuild_parameter_with_state", PK_G_REBUILD_PARAMETER_WITH_STATE},
};

/* ------------------------------------------------------------- arena */

#define CHUNK_OBJS 512

typedef struct chunk {
    struct chunk *next;
    size_t used;
    pk_obj o[CHUNK_OBJS];
} chunk;

typedef struct blob {
    struct blob *next;
    _Alignas(max_align_t) char data[];
} blob;

struct pk_doc {
    chunk *chunks;
    blob *blobs;
    size_t nobj;
};

/* Per object: was it made by OrderedDict() (BUILD is allowed on it)? Kept
 * beside the arena by index would cost a lookup; a spare bit in the kind
 * would be obscure. A dict made by OrderedDict is marked with this kind
 * value during parsing and turned into PK_DICT at the end. */
#define PK_ODICT ((pk_kind)100)

void pk_doc_free(pk_doc *d)
{
    if (!d)
        return;
    for (chunk *c = d->chunks; c;) {
        for (size_t i = 0; i < c->used; i++) {
            pk_obj *o = &c->o[i];
            if (o->kind == PK_TUPLE || o->kind == PK_LIST || o->kind == PK_DICT ||
                o->kind == PK_ODICT)
                free(o->u.seq.v);
        }
        chunk *n = c->next;
        free(c);
        c = n;
    }
    for (blob *b = d->blobs; b;) {
        blob *n = b->next;
        free(b);
        b = n;
    }
    free(d);
}

size_t pk_doc_objects(const pk_doc *d)
{
    return d ? d->nobj : 0;
}

/* ------------------------------------------------------------- parser */

typedef struct {
    const unsigned char *buf;
    size_t len, pos;
    size_t op_pos; /* where the current opcode starts, for messages */
    pk_doc *doc;
    pk_obj **stack;
    size_t nstack, capstack;
    size_t marks[PK_MAX_DEPTH];
    size_t nmarks;
    pk_obj **memo;
    size_t capmemo, nmemo; /* nmemo: entries set (for MEMOIZE) */
    bool too_many;         /* new_obj failed at PK_MAX_OBJECTS */
    rw_err *err;
} parser;

static rw_status perr(parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static rw_status perr(parser *p, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return rw_fail(p->err, RW_EDATA, "pickle byte %zu: %s", p->op_pos, what);
}

/* NULL when out of memory or past PK_MAX_OBJECTS (p->too_many says which). */
static pk_obj *new_obj(parser *p, pk_kind kind)
{
    if (p->doc->nobj >= PK_MAX_OBJECTS) {
        p->too_many = true;
        return NULL;
    }
    chunk *c = p->doc->chunks;
    if (!c || c->used == CHUNK_OBJS) {
        c = malloc(sizeof *c);
        if (!c)
            return NULL;
        c->next = p->doc->chunks;
        c->used = 0;
        p->doc->chunks = c;
    }
    pk_obj *o = &c->o[c->used++];
    memset(o, 0, sizeof *o);
    o->kind = kind;
    p->doc->nobj++;
    return o;
}

/* n bytes owned by the document, aligned for any value. */
static void *new_bytes(parser *p, size_t n)
{
    if (n > SIZE_MAX - sizeof(blob))
        return NULL;
    blob *b = malloc(sizeof *b + n);
    if (!b)
        return NULL;
    b->next = p->doc->blobs;
    p->doc->blobs = b;
    return b->data;
}

/* A copy of s[0..len) with a NUL after it, owned by the document. */
static const char *new_str(parser *p, const unsigned char *s, size_t len)
{
    char *d = len < SIZE_MAX ? new_bytes(p, len + 1) : NULL;
    if (!d)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

static rw_status nomem(parser *p)
{
    if (p->too_many)
        return perr(p, "more than %zu objects", PK_MAX_OBJECTS);
    return rw_fail(p->err, RW_ENOMEM, "pickle byte %zu: out of memory", p->op_pos);
}

static rw_status push(parser *p, pk_obj *o)
{
    if (!o)
        return nomem(p);
    if (rw_grow(&p->stack, p->nstack, &p->capstack, sizeof *p->stack, p->err) != RW_OK)
        return RW_ENOMEM;
    p->stack[p->nstack++] = o;
    return RW_OK;
}

/* The first stack index above the innermost mark (0 without one). */
static size_t base(const parser *p)
{
    return p->nmarks ? p->marks[p->nmarks - 1] : 0;
}

static rw_status pop(parser *p, pk_obj **out)
{
    if (p->nstack <= base(p))
        return perr(p, "stack underflow");
    *out = p->stack[--p->nstack];
    return RW_OK;
}

static rw_status top(parser *p, pk_obj **out)
{
    if (p->nstack <= base(p))
        return perr(p, "stack underflow");
    *out = p->stack[p->nstack - 1];
    return RW_OK;
}

/* Pops the items above the innermost mark, and the mark: they are
 * stack[*first .. *first + *n - 1] until the next push. */
static rw_status pop_mark(parser *p, size_t *first, size_t *n)
{
    if (!p->nmarks)
        return perr(p, "no MARK to pop to");
    size_t b = p->marks[--p->nmarks];
    *first = b;
    *n = p->nstack - b;
    p->nstack = b;
    return RW_OK;
}

static bool need(parser *p, size_t n)
{
    return p->len - p->pos >= n;
}

static uint64_t le(const unsigned char *b, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)b[i] << (8 * i);
    return v;
}

static rw_status read_le(parser *p, size_t n, uint64_t *v)
{
    if (!need(p, n))
        return perr(p, "truncated stream");
    *v = le(p->buf + p->pos, n);
    p->pos += n;
    return RW_OK;
}

/* What a value is, for messages. */
static const char *kind_name(pk_kind k)
{
    if (k == PK_ODICT)
        return "OrderedDict";
    switch (k) {
    case PK_NONE: return "None";
    case PK_BOOL: return "bool";
    case PK_INT: return "int";
    case PK_FLOAT: return "float";
    case PK_STR: return "string";
    case PK_TUPLE: return "tuple";
    case PK_LIST: return "list";
    case PK_DICT: return "dict";
    case PK_GLOBAL: return "class or function";
    case PK_STORAGE: return "storage";
    case PK_TENSOR: return "tensor";
    }
    return "value";
}

static bool is_seq(const pk_obj *o)
{
    return o->kind == PK_TUPLE || o->kind == PK_LIST;
}
static bool is_dict(const pk_obj *o)
{
    return o->kind == PK_DICT || o->kind == PK_ODICT;
}

static rw_status seq_add(parser *p, pk_obj *s, pk_obj *item)
{
    if (rw_grow(&s->u.seq.v, s->u.seq.n, &s->u.seq.cap, sizeof *s->u.seq.v, p->err) != RW_OK)
        return RW_ENOMEM;
    s->u.seq.v[s->u.seq.n++] = item;
    return RW_OK;
}

/* A tuple or list of the n stack items from stack[first] (just popped). */
static rw_status make_seq(parser *p, pk_kind kind, size_t first, size_t n, pk_obj **out)
{
    pk_obj *s = new_obj(p, kind);
    if (!s)
        return nomem(p);
    if (n) { /* (with n == 0 the stack may not exist yet: no pointer into it) */
        s->u.seq.v = malloc(n * sizeof *s->u.seq.v);
        if (!s->u.seq.v)
            return nomem(p);
        memcpy(s->u.seq.v, p->stack + first, n * sizeof *s->u.seq.v);
        s->u.seq.n = s->u.seq.cap = n;
    }
    *out = s;
    return RW_OK;
}

/* Keys are str or int (optimizer state is keyed by parameter index). A
 * repeated key is kept as a second item (no search per item: that would be
 * quadratic in a hostile stream); pk_dict_get gives the last, as Python's
 * dict would hold, and the readers refuse a name that comes twice. */
static rw_status dict_set(parser *p, pk_obj *d, pk_obj *k, pk_obj *v)
{
    if (k->kind != PK_STR && k->kind != PK_INT && k->kind != PK_BOOL && k->kind != PK_NONE &&
        k->kind != PK_FLOAT)
        return perr(p, "dict key of an unsupported type");
    rw_status st = seq_add(p, d, k);
    return st == RW_OK ? seq_add(p, d, v) : st;
}

static rw_status memo_put(parser *p, uint64_t idx)
{
    pk_obj *o = NULL;
    rw_status st = top(p, &o);
    if (st != RW_OK)
        return st;
    /* Every memo entry takes at least one byte of stream: larger indices
     * are not what a pickler writes. */
    if (idx >= p->len)
        return perr(p, "memo index %llu out of range (a stream of %zu bytes stores fewer "
                       "entries)", (unsigned long long)idx, p->len);
    if (idx >= p->capmemo) {
        size_t cap = p->capmemo ? p->capmemo : 64;
        while (cap <= idx)
            cap *= 2;
        pk_obj **m = realloc(p->memo, cap * sizeof *m);
        if (!m)
            return nomem(p);
        memset(m + p->capmemo, 0, (cap - p->capmemo) * sizeof *m);
        p->memo = m;
        p->capmemo = cap;
    }
    p->memo[idx] = o;
    p->nmemo++;
    return RW_OK;
}

static rw_status memo_get(parser *p, uint64_t idx)
{
    if (idx >= p->capmemo || !p->memo[idx])
        return perr(p, "memo entry %llu was never set", (unsigned long long)idx);
    return push(p, p->memo[idx]);
}

/* "module\nname\n" of GLOBAL, or STACK_GLOBAL's two strings. */
static rw_status global(parser *p, const char *module, size_t mlen, const char *name,
                        size_t nlen)
{
    pk_obj *g = NULL;
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (strlen(allowed[i].module) == mlen && memcmp(allowed[i].module, module, mlen) == 0 &&
            strlen(allowed[i].name) == nlen && memcmp(allowed[i].name, name, nlen) == 0) {
            if (!(g = new_obj(p, PK_GLOBAL)))
                return nomem(p);
            g->u.glob.g = allowed[i].g;
        }
    if (!g && mlen == 5 && memcmp(module, "torch", 5) == 0)
        for (int t = 0; t < PK_ST_COUNT; t++)
            if (strlen(storage_types[t].name) == nlen &&
                memcmp(storage_types[t].name, name, nlen) == 0) {
                if (!(g = new_obj(p, PK_GLOBAL)))
                    return nomem(p);
                g->u.glob.g = PK_G_STORAGE;
                g->u.glob.storage = (pk_storage_type)t;
            }
    if (!g) {
        int ml = mlen > 100 ? 100 : (int)mlen, nl = nlen > 100 ? 100 : (int)nlen;
        return perr(p,
                    "global '%.*s.%.*s' is not allowed (only what torch.save writes for "
                    "tensors, dicts, lists and scalars is read)",
                    ml, module, nl, name);
    }
    return push(p, g);
}

static bool as_int(const pk_obj *o, int64_t *v)
{
    if (o->kind == PK_INT) {
        *v = o->u.i;
        return true;
    }
    if (o->kind == PK_BOOL) {
        *v = o->u.b;
        return true;
    }
    return false;
}

/* ('storage', StorageClass, key, location, numel[, view_metadata]) */
static rw_status persistent_load(parser *p, pk_obj *pid)
{
    if (pid->kind != PK_TUPLE || (pid->u.seq.n != 5 && pid->u.seq.n != 6))
        return perr(p, "persistent id is not a storage tuple");
    pk_obj **v = pid->u.seq.v;
    if (v[0]->kind != PK_STR || strcmp(v[0]->u.str.s, "storage") != 0)
        return perr(p, "persistent id of an unsupported kind (only 'storage')");
    if (v[1]->kind != PK_GLOBAL || v[1]->u.glob.g != PK_G_STORAGE)
        return perr(p, "persistent id without a storage class");
    pk_obj *s = new_obj(p, PK_STORAGE);
    if (!s)
        return nomem(p);
    s->u.storage.type = v[1]->u.glob.storage;
    if (v[2]->kind == PK_STR) {
        s->u.storage.key = v[2]->u.str.s;
    } else if (v[2]->kind == PK_INT) {
        char num[32];
        snprintf(num, sizeof num, "%lld", (long long)v[2]->u.i);
        if (!(s->u.storage.key = new_str(p, (const unsigned char *)num, strlen(num))))
            return nomem(p);
    } else {
        return perr(p, "storage key is not a string");
    }
    if (memchr(s->u.storage.key, '\0', v[2]->kind == PK_STR ? v[2]->u.str.len : 0) ||
        !*s->u.storage.key)
        return perr(p, "storage key is empty or holds a NUL byte");
    int64_t numel;
    if (!as_int(v[4], &numel) || numel < 0)
        return perr(p, "storage size is not a non-negative integer");
    s->u.storage.numel = numel;
    if (pid->u.seq.n == 6 && v[5]->kind != PK_NONE) {
        /* legacy view: (view_key, offset, view_size) into the root storage */
        pk_obj *vm = v[5];
        int64_t off, vn;
        if (vm->kind != PK_TUPLE || vm->u.seq.n != 3 || !as_int(vm->u.seq.v[1], &off) ||
            !as_int(vm->u.seq.v[2], &vn) || off < 0 || vn < 0 || off > numel ||
            vn > numel - off)
            return perr(p, "storage view outside its storage");
        s->u.storage.view_offset = off;
        s->u.storage.numel = vn;
    }
    return push(p, s);
}

static bool int_tuple(const pk_obj *o, int64_t *out, int *n)
{
    if (o->kind != PK_TUPLE || o->u.seq.n > PK_MAX_DIMS)
        return false;
    /* (out holds PK_MAX_DIMS values) */
    for (size_t i = 0; i < o->u.seq.n; i++)
        if (!as_int(o->u.seq.v[i], &out[i]) || out[i] < 0)
            return false;
    *n = (int)o->u.seq.n;
    return true;
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad,
 * backward_hooks[, metadata]) and _rebuild_tensor(storage, offset, size,
 * stride). */
static rw_status rebuild_tensor(parser *p, pk_obj *args, bool v2)
{
    size_t n = args->u.seq.n;
    if (v2 ? (n != 6 && n != 7) : n != 4)
        return perr(p, "tensor rebuilt from %zu arguments", n);
    pk_obj **a = args->u.seq.v;
    if (a[0]->kind != PK_STORAGE)
        return perr(p, "tensor without a storage");
    pk_obj *t = new_obj(p, PK_TENSOR);
    if (!t)
        return nomem(p);
    t->u.tensor.storage = a[0];
    int ns = 0, nt = 0;
    int64_t size[PK_MAX_DIMS], stride[PK_MAX_DIMS];
    if (!as_int(a[1], &t->u.tensor.offset) || t->u.tensor.offset < 0)
        return perr(p, "tensor storage offset is not a non-negative integer");
    if (!int_tuple(a[2], size, &ns) || !int_tuple(a[3], stride, &nt) || ns != nt)
        return perr(p, "tensor size and stride are not tuples of at most %d "
                       "non-negative integers of equal length", PK_MAX_DIMS);
    /* size then stride, in one block of the document */
    int64_t *dims = (int64_t *)new_bytes(p, 2 * (size_t)ns * sizeof *dims);
    if (!dims)
        return nomem(p);
    memcpy(dims, size, (size_t)ns * sizeof *dims);
    memcpy(dims + ns, stride, (size_t)ns * sizeof *dims);
    t->u.tensor.size = dims;
    t->u.tensor.stride = dims + ns;
    t->u.tensor.ndim = ns;
    int64_t ext;
    if (!pk_tensor_extent(t, &ext))
        return perr(p, "tensor (offset %lld) lies outside its storage of %lld elements",
                    (long long)t->u.tensor.offset, (long long)a[0]->u.storage.numel);
    return push(p, t);
}

static rw_status reduce(parser *p)
{
    pk_obj *args = NULL, *fn = NULL;
    rw_status st = pop(p, &args);
    if (st == RW_OK)
        st = pop(p, &fn);
    if (st != RW_OK)
        return st;
    if (fn->kind != PK_GLOBAL)
        return perr(p, "REDUCE of something that is not an allowed callable");
    if (args->kind != PK_TUPLE)
        return perr(p, "REDUCE with arguments that are not a tuple");
    size_t n = args->u.seq.n;
    switch (fn->u.glob.g) {
    case PK_G_ORDERED_DICT: {
        pk_obj *d = new_obj(p, PK_ODICT);
        if (!d)
            return nomem(p);
        if (n == 1 && is_seq(args->u.seq.v[0])) {
            pk_obj *items = args->u.seq.v[0];
            for (size_t i = 0; i < items->u.seq.n; i++) {
                pk_obj *kv = items->u.seq.v[i];
                if (!is_seq(kv) || kv->u.seq.n != 2)
                    return perr(p, "OrderedDict item is not a pair");
                if ((st = dict_set(p, d, kv->u.seq.v[0], kv->u.seq.v[1])) != RW_OK)
                    return st;
            }
        } else if (n != 0) {
            return perr(p, "OrderedDict called with unsupported arguments");
        }
        return push(p, d);
    }
    case PK_G_REBUILD_TENSOR_V2:
        return rebuild_tensor(p, args, true);
    case PK_G_REBUILD_TENSOR:
        return rebuild_tensor(p, args, false);
    case PK_G_REBUILD_PARAMETER:
    case PK_G_REBUILD_PARAMETER_WITH_STATE:
        if (n != (fn->u.glob.g == PK_G_REBUILD_PARAMETER ? 3u : 4u) ||
            args->u.seq.v[0]->kind != PK_TENSOR)
            return perr(p, "parameter rebuilt from unsupported arguments");
        return push(p, args->u.seq.v[0]);
    case PK_G_STORAGE:
        break;
    }
    return perr(p, "REDUCE of a storage class");
}

/* BUILD: setting the state of an OrderedDict (its attributes: a state
 * dict's _metadata) or of a tensor. The state is dropped: it carries
 * nothing rankwatch reads. */
static rw_status build(parser *p)
{
    pk_obj *state = NULL, *inst = NULL;
    rw_status st = pop(p, &state);
    if (st == RW_OK)
        st = top(p, &inst);
    if (st != RW_OK)
        return st;
    if (inst->kind != PK_ODICT && inst->kind != PK_TENSOR)
        return perr(p, "BUILD on a %s (only an OrderedDict's or a tensor's state is set)",
                    kind_name(inst->kind));
    return RW_OK;
}

static const char *refused_name(int op)
{
    switch (op) {
    case 'i': return "INST";
    case 'o': return "OBJ";
    case 0x81: return "NEWOBJ";
    case 0x92: return "NEWOBJ_EX";
    case 0x82: case 0x83: case 0x84: return "EXT";
    case 'P': return "PERSID";
    case 0x8f: return "EMPTY_SET";
    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    case 'I': return "INT";
    case 'L': return "LONG";
    case 'F': return "FLOAT";
    case 'S': return "STRING";
    case 'V': return "UNICODE";
    case 'p': return "PUT";
    case 'g': return "GET";
    default: return NULL;
    }
}

static rw_status push_int(parser *p, int64_t v)
{
    pk_obj *o = new_obj(p, PK_INT);
    if (o)
        o->u.i = v;
    return push(p, o);
}

static rw_status push_str(parser *p, uint64_t n)
{
    if (!need(p, n))
        return perr(p, "truncated stream");
    pk_obj *o = new_obj(p, PK_STR);
    if (!o)
        return nomem(p);
    if (!(o->u.str.s = new_str(p, p->buf + p->pos, (size_t)n)))
        return nomem(p);
    o->u.str.len = (size_t)n;
    p->pos += (size_t)n;
    return push(p, o);
}

/* A LONG1/LONG4 value: n bytes of two's complement, little-endian. */
static rw_status push_long(parser *p, uint64_t n)
{
    if (!need(p, n))
        return perr(p, "truncated stream");
    if (n > 8)
        return perr(p, "integer of %llu bytes is too large", (unsigned long long)n);
    uint64_t v = le(p->buf + p->pos, (size_t)n);
    if (n > 0 && n < 8 && (p->buf[p->pos + n - 1] & 0x80))
        v |= ~(uint64_t)0 << (8 * n);
    p->pos += (size_t)n;
    int64_t s;
    memcpy(&s, &v, sizeof s);
    return push_int(p, s);
}

/* GLOBAL's argument: a line of printable ASCII. */
static rw_status read_line(parser *p, const char **s, size_t *n)
{
    const unsigned char *start = p->buf + p->pos;
    const unsigned char *nl = memchr(start, '\n', p->len - p->pos);
    if (!nl)
        return perr(p, "truncated stream");
    *s = (const char *)start;
    *n = (size_t)(nl - start);
    p->pos += *n + 1;
    return RW_OK;
}

static rw_status step(parser *p, int op, bool *stop)
{
    uint64_t v = 0;
    rw_status st = RW_OK;
    pk_obj *a = NULL, *b = NULL, *c = NULL;
    size_t first = 0, n = 0;
    switch (op) {
    case 0x80: /* PROTO */
        if ((st = read_le(p, 1, &v)) == RW_OK && v > 5)
            return perr(p, "pickle protocol %llu (at most 5 is read)", (unsigned long long)v);
        return st;
    case 0x95: /* FRAME */
        return read_le(p, 8, &v);
    case '.': /* STOP */
        *stop = true;
        return RW_OK;
    case '(': /* MARK */
        if (p->nmarks == PK_MAX_DEPTH)
            return perr(p, "MARKs nested deeper than %d", PK_MAX_DEPTH);
        p->marks[p->nmarks++] = p->nstack;
        return RW_OK;
    case '0': /* POP */
        if (p->nstack > base(p)) {
            p->nstack--;
            return RW_OK;
        }
        return pop_mark(p, &first, &n);
    case '1': /* POP_MARK */
        return pop_mark(p, &first, &n);
    case '2': /* DUP */
        if ((st = top(p, &a)) != RW_OK)
            return st;
        return push(p, a);
    case 'N':
        return push(p, new_obj(p, PK_NONE));
    case 0x88: /* NEWTRUE */
    case 0x89: /* NEWFALSE */
        if ((a = new_obj(p, PK_BOOL)))
            a->u.b = op == 0x88;
        return push(p, a);
    case 'J': /* BININT */
        if ((st = read_le(p, 4, &v)) != RW_OK)
            return st;
        return push_int(p, (int32_t)(uint32_t)v);
    case 'K': /* BININT1 */
        if ((st = read_le(p, 1, &v)) != RW_OK)
            return st;
        return push_int(p, (int64_t)v);
    case 'M': /* BININT2 */
        if ((st = read_le(p, 2, &v)) != RW_OK)
            return st;
        return push_int(p, (int64_t)v);
    case 0x8a: /* LONG1 */
        if ((st = read_le(p, 1, &v)) != RW_OK)
            return st;
        return push_long(p, v);
    case 0x8b: /* LONG4 */
        if ((st = read_le(p, 4, &v)) != RW_OK)
            return st;
        return push_long(p, v);
    case 'G': { /* BINFLOAT, big-endian */
        if (!need(p, 8))
            return perr(p, "truncated stream");
        uint64_t bits = 0;
        for (int i = 0; i < 8; i++)
            bits = bits << 8 | p->buf[p->pos + i];
        p->pos += 8;
        if ((a = new_obj(p, PK_FLOAT)))
            memcpy(&a->u.f, &bits, sizeof bits);
        return push(p, a);
    }
    case 'X': /* BINUNICODE */
    case 'T': /* BINSTRING */
    case 'B': /* BINBYTES */
        if ((st = read_le(p, 4, &v)) != RW_OK)
            return st;
        return push_str(p, v);
    case 0x8c: /* SHORT_BINUNICODE */
    case 'U':  /* SHORT_BINSTRING */
    case 'C':  /* SHORT_BINBYTES */
        if ((st = read_le(p, 1, &v)) != RW_OK)
            return st;
        return push_str(p, v);
    case 0x8d: /* BINUNICODE8 */
    case 0x8e: /* BINBYTES8 */
        if ((st = read_le(p, 8, &v)) != RW_OK)
            return st;
        return push_str(p, v);
    case ')': /* EMPTY_TUPLE */
        return push(p, new_obj(p, PK_TUPLE));
    case 't': /* TUPLE */
        if ((st = pop_mark(p, &first, &n)) != RW_OK ||
            (st = make_seq(p, PK_TUPLE, first, n, &a)) != RW_OK)
            return st;
        return push(p, a);
    case 0x85: /* TUPLE1 */
    case 0x86: /* TUPLE2 */
    case 0x87: /* TUPLE3 */
        n = (size_t)(op - 0x84);
        if (p->nstack < base(p) + n)
            return perr(p, "stack underflow");
        p->nstack -= n;
        if ((st = make_seq(p, PK_TUPLE, p->nstack, n, &a)) != RW_OK)
            return st;
        return push(p, a);
    case ']': /* EMPTY_LIST */
        return push(p, new_obj(p, PK_LIST));
    case 'l': /* LIST */
        if ((st = pop_mark(p, &first, &n)) != RW_OK ||
            (st = make_seq(p, PK_LIST, first, n, &a)) != RW_OK)
            return st;
        return push(p, a);
    case 'a': /* APPEND */
        if ((st = pop(p, &b)) != RW_OK || (st = top(p, &a)) != RW_OK)
            return st;
        if (a->kind != PK_LIST)
            return perr(p, "APPEND to something that is not a list");
        return seq_add(p, a, b);
    case 'e': /* APPENDS */
        if ((st = pop_mark(p, &first, &n)) != RW_OK || (st = top(p, &a)) != RW_OK)
            return st;
        if (a->kind != PK_LIST)
            return perr(p, "APPENDS to something that is not a list");
        for (size_t i = 0; i < n && st == RW_OK; i++)
            st = seq_add(p, a, p->stack[first + i]);
        return st;
    case '}': /* EMPTY_DICT */
        return push(p, new_obj(p, PK_DICT));
    case 'd': /* DICT */
        if ((st = pop_mark(p, &first, &n)) != RW_OK)
            return st;
        if (n % 2)
            return perr(p, "DICT of an odd number of items");
        if (!(a = new_obj(p, PK_DICT)))
            return nomem(p);
        for (size_t i = 0; i < n && st == RW_OK; i += 2)
            st = dict_set(p, a, p->stack[first + i], p->stack[first + i + 1]);
        return st == RW_OK ? push(p, a) : st;
    case 's': /* SETITEM */
        if ((st = pop(p, &c)) != RW_OK || (st = pop(p, &b)) != RW_OK ||
            (st = top(p, &a)) != RW_OK)
            return st;
        if (!is_dict(a))
            return perr(p, "SETITEM on something that is not a dict");
        return dict_set(p, a, b, c);
    case 'u': /* SETITEMS */
        if ((st = pop_mark(p, &first, &n)) != RW_OK || (st = top(p, &a)) != RW_OK)
            return st;
        if (!is_dict(a))
            return perr(p, "SETITEMS on something that is not a dict");
        if (n % 2)
            return perr(p, "SETITEMS of an odd number of items");
        for (size_t i = 0; i < n && st == RW_OK; i += 2)
            st = dict_set(p, a, p->stack[first + i], p->stack[first + i + 1]);
        return st;
    case 'c': { /* GLOBAL */
        const char *m, *nm;
        size_t ml, nl;
        if ((st = read_line(p, &m, &ml)) != RW_OK || (st = read_line(p, &nm, &nl)) != RW_OK)
            return st;
        return global(p, m, ml, nm, nl);
    }
    case 0x93: /* STACK_GLOBAL */
        if ((st = pop(p, &b)) != RW_OK || (st = pop(p, &a)) != RW_OK)
            return st;
        if (a->kind != PK_STR || b->kind != PK_STR)
            return perr(p, "STACK_GLOBAL of something that is not two strings");
        return global(p, a->u.str.s, a->u.str.len, b->u.str.s, b->u.str.len);
    case 'q': /* BINPUT */
        if ((st = read_le(p, 1, &v)) != RW_OK)
            return st;
        return memo_put(p, v);
    case 'r': /* LONG_BINPUT */
        if ((st = read_le(p, 4, &v)) != RW_OK)
            return st;
        return memo_put(p, v);
    case 0x94: /* MEMOIZE */
        return memo_put(p, p->nmemo);
    case 'h': /* BINGET */
        if ((st = read_le(p, 1, &v)) != RW_OK)
            return st;
        return memo_get(p, v);
    case 'j': /* LONG_BINGET */
        if ((st = read_le(p, 4, &v)) != RW_OK)
            return st;
        return memo_get(p, v);
    case 'R': /* REDUCE */
        return reduce(p);
    case 'b': /* BUILD */
        return build(p);
    case 'Q': /* BINPERSID */
        if ((st = pop(p, &a)) != RW_OK)
            return st;
        return persistent_load(p, a);
    default: {
        const char *name = refused_name(op);
        if (name)
            return perr(p, "opcode %s is not allowed", name);
        return perr(p, "unknown opcode 0x%02x", (unsigned)op);
    }
    }
}

/* OrderedDicts become plain dicts once BUILD can no longer apply. */
static void finish(pk_doc *d)
{
    for (chunk *c = d->chunks; c; c = c->next)
        for (size_t i = 0; i < c->used; i++)
            if (c->o[i].kind == PK_ODICT)
                c->o[i].kind = PK_DICT;
}

rw_status pk_parse(const unsigned char *buf, size_t len, pk_doc **out, const pk_obj **root,
                   size_t *used, rw_err *err)
{
    *out = NULL;
    *root = NULL;
    parser p = {.buf = buf, .len = len, .err = err};
    if (!(p.doc = calloc(1, sizeof *p.doc)))
        return rw_fail(err, RW_ENOMEM, "pickle: out of memory");
    rw_status st = RW_OK;
    bool stop = false;
    while (st == RW_OK && !stop) {
        p.op_pos = p.pos;
        if (p.pos >= p.len) {
            st = perr(&p, "truncated stream (no STOP)");
            break;
        }
        st = step(&p, p.buf[p.pos++], &stop);
    }
    if (st == RW_OK && p.nstack == 0)
        st = perr(&p, "STOP with an empty stack");
    if (st == RW_OK) {
        finish(p.doc);
        *root = p.stack[p.nstack - 1];
        *out = p.doc;
        if (used)
            *used = p.pos;
    } else {
        pk_doc_free(p.doc);
    }
    free(p.stack);
    free(p.memo);
    return st;
}

const pk_obj *pk_dict_get(const pk_obj *d, const char *key)
{
    if (!d || d->kind != PK_DICT)
        return NULL;
    size_t kl = strlen(key);
    for (size_t j = d->u.seq.n / 2; j-- > 0;) {
        const pk_obj *k = d->u.seq.v[2 * j];
        if (k->kind == PK_STR && k->u.str.len == kl && memcmp(k->u.str.s, key, kl) == 0)
            return d->u.seq.v[2 * j + 1];
    }
    return NULL;
}

bool pk_tensor_extent(const pk_obj *t, int64_t *extent)
{
    int64_t ext = 1;
    for (int i = 0; i < t->u.tensor.ndim; i++) {
        int64_t sz = t->u.tensor.size[i], sd = t->u.tensor.stride[i];
        if (sz == 0) {
            *extent = 0;
            return true;
        }
        int64_t step;
        if (__builtin_mul_overflow(sz - 1, sd, &step) || __builtin_add_overflow(ext, step, &ext))
            return false;
    }
    int64_t numel = t->u.tensor.storage->u.storage.numel, end;
    if (__builtin_add_overflow(t->u.tensor.offset, ext, &end) || end > numel)
        return false;
    *extent = ext;
    return true;
}
