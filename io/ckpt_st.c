/*
 * ckpt_st.c — safetensors back end of ckpt.h (ckpt_impl.h): one
 * `.safetensors` file, or a sharded model named by its
 * `*.safetensors.index.json`.
 *
 * A safetensors file (huggingface/safetensors, "Format"):
 *
 *   bytes [0, 8)        N, the header's length: unsigned 64-bit little-endian
 *   bytes [8, 8+N)      the header: a UTF-8 JSON object, maybe padded with
 *                       trailing spaces
 *                         "__metadata__": {"key": "value", ...}  (optional;
 *                                          strings only)
 *                         "<tensor>": {"dtype": "F32", "shape": [d0, d1, ...],
 *                                      "data_offsets": [begin, end]}
 *   bytes [8+N, size)   the data section; a tensor's values are bytes
 *                       [begin, end) of it, little-endian, in C order
 *
 * The file is untrusted input. Every number of the header is checked before
 * it is used, and before anything sized from it is allocated: N against a
 * 100 MB limit (the reference implementation's) and the file's size; the
 * header as UTF-8, then as JSON (cJSON); each tensor's dtype, shape (rank <=
 * RW_MAX_DIMS, integer dims, overflow-checked products) and data_offsets
 * (integers, begin <= end, end - begin equal to the bytes its shape and
 * dtype need); then the ranges of all tensors against each other (no
 * overlap) and against the data section. Gaps between tensors
 * are allowed. Values are decoded byte by byte, so no alignment is assumed.
 *
 * The file is read with pread, not mapped: a file that shrinks while it is
 * open (a checkpoint being rewritten, a truncated copy) then gives a short
 * read, reported as an error naming the file, where a mapping would kill
 * the process with SIGBUS. A tensor's bytes are read into the tail of the
 * caller's double buffer and widened in place, so reading needs no memory
 * beyond that buffer.
 *
 * This file: one safetensors file's header (checked, then listed as
 * tensors), and the open, read and close of ckpt_impl.h. A sharded model's
 * index, whose shards are files of this kind: st_open_index here, with
 * what does not depend on the format in ckpt_index.c.
 */
#include "io/ckpt_st_impl.h"
#include "io/ckpt_index.h"

#include <cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_MAX_HEADER 100000000u /* bytes; as the reference implementation */
#define ST_MAX_EXACT 9007199254740991.0 /* 2^53 - 1: cJSON numbers are doubles */

/* One open file. */
typedef struct {
    char *path;          /* owned */
    int fd;              /* -1 when not open */
    uint64_t size;       /* when opened */
} st_file;

/* c->impl of a safetensors checkpoint (owned by it; ckpt_st_close frees). */
typedef struct {
    size_t nfiles;
    st_file *files;      /* one for a plain file; the shards of an index */
} st_state;

/* ---------------------------------------------------------------- dtypes */

typedef struct {
    const char *name;
    rw_dtype dtype;
    unsigned bits;       /* per element */
} st_dtype;

/* The dtypes of safetensors 0.6. Integers and exotic floats are listed with
 * RW_DT_INT / RW_DT_OTHER and never read, but their sizes are still checked. */
static const st_dtype st_dtypes[] = {
    {"F16", RW_DT_F16, 16},     {"BF16", RW_DT_BF16, 16},  {"F32", RW_DT_F32, 32},
    {"F64", RW_DT_F64, 64},     {"BOOL", RW_DT_INT, 8},    {"U8", RW_DT_INT, 8},
    {"I8", RW_DT_INT, 8},       {"U16", RW_DT_INT, 16},    {"I16", RW_DT_INT, 16},
    {"U32", RW_DT_INT, 32},     {"I32", RW_DT_INT, 32},    {"U64", RW_DT_INT, 64},
    {"I64", RW_DT_INT, 64},     {"F8_E4M3", RW_DT_OTHER, 8}, {"F8_E5M2", RW_DT_OTHER, 8},
    {"F8_E8M0", RW_DT_OTHER, 8}, {"F6_E2M3", RW_DT_OTHER, 6}, {"F6_E3M2", RW_DT_OTHER, 6},
    {"F4", RW_DT_OTHER, 4},     {"C64", RW_DT_OTHER, 64},
};

/* The dtype named s; an unknown name is RW_DT_OTHER with bits 0 (size
 * unknown: its range is checked, its length is not). */
static st_dtype st_dtype_of(const char *s)
{
    for (size_t i = 0; i < sizeof st_dtypes / sizeof *st_dtypes; i++)
        if (strcmp(s, st_dtypes[i].name) == 0)
            return st_dtypes[i];
    return (st_dtype){s, RW_DT_OTHER, 0};
}

/* --------------------------------------------------------------- helpers */

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* Index of the first byte of s[0, n) that breaks UTF-8 (or is NUL), or n. */
size_t st_utf8_bad(const uint8_t *s, size_t n)
{
    size_t i = 0, len;
    while (i < n && s[i] && (len = rw_utf8_len(s + i)) > 0 && len <= n - i)
        i += len;
    return i;
}

/* A JSON number that is an integer in [0, 2^53): exact as a cJSON double. */
static bool json_index(const cJSON *j, uint64_t *out)
{
    if (!cJSON_IsNumber(j))
        return false;
    double d = j->valuedouble;
    if (!(d >= 0 && d <= ST_MAX_EXACT) || d != floor(d))
        return false;
    *out = (uint64_t)d;
    return true;
}

/* A JSON value as text for messages (a number, or its kind). */
const char *st_json_text(const cJSON *j, char *buf)
{
    if (cJSON_IsNumber(j))
        return rw_fmt_double(buf, j->valuedouble);
    if (cJSON_IsString(j))
        return "a string";
    if (cJSON_IsArray(j))
        return "an array";
    if (cJSON_IsObject(j))
        return "an object";
    if (cJSON_IsBool(j))
        return "a boolean";
    return "null";
}

/* How many arrays and objects are open after the JSON text[0, n). */
static size_t json_depth(const char *text, size_t n)
{
    size_t depth = 0;
    bool in_string = false;
    for (size_t i = 0; i < n; i++) {
        char ch = text[i];
        if (in_string) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_string = false;
        } else if (ch == '"') {
            in_string = true;
        } else if (ch == '[' || ch == '{') {
            depth++;
        } else if ((ch == ']' || ch == '}') && depth > 0) {
            depth--;
        }
    }
    return depth;
}

/* Parses text[0, n) (NUL-terminated at n) as one JSON value and nothing
 * after it but whitespace. NULL on failure: *at is then the byte where it
 * failed and *why the reason — text after a complete value, nesting beyond
 * cJSON's limit (which it reports as a syntax error), or a syntax error. */
cJSON *st_json_parse(const char *text, size_t n, size_t *at, st_json_fail *why)
{
    const char *end = NULL;
    *at = 0;
    *why = ST_JSON_SYNTAX;
    cJSON *root = cJSON_ParseWithLengthOpts(text, n, &end, false);
    if (!root) {
        *at = end ? (size_t)(end - text) : 0;
        if (json_depth(text, *at) >= CJSON_NESTING_LIMIT)
            *why = ST_JSON_TOO_DEEP;
        return NULL;
    }
    for (const char *p = end; p < text + n; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            *at = (size_t)(p - text);
            *why = ST_JSON_TRAILING;
            cJSON_Delete(root);
            return NULL;
        }
    return root;
}

/* Opens path read-only into f (f->path owned by f afterwards; f->fd -1 on
 * failure). The type is checked before the open: a FIFO would block it. */
static rw_status st_file_open(st_file *f, const char *path, rw_err *err)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    if (!(f->path = rw_strdup(path)))
        return rw_fail(err, RW_ENOMEM, "out of memory");
    rw_status st = rw_check_regular(path, err);
    if (st != RW_OK)
        return st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rw_fail(err, RW_EIO, "%s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        st = rw_fail(err, RW_EIO, "%s: %s", path, strerror(errno));
    } else if (!S_ISREG(sb.st_mode)) { /* replaced since the check */
        st = rw_fail(err, RW_EIO, "%s: not a regular file", path);
    } else if (sb.st_size < 8) {
        st = rw_fail(err, RW_EDATA,
                     "%s: too short for a safetensors file (%lld bytes, the header length "
                     "alone takes 8)", path, (long long)sb.st_size);
    }
    if (st != RW_OK) {
        close(fd);
        return st;
    }
    f->fd = fd;
    f->size = (uint64_t)sb.st_size;
    return RW_OK;
}

static void st_file_close(st_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    free(f->path);
    memset(f, 0, sizeof *f);
    f->fd = -1;
}

/* ---------------------------------------------------------------- header */

/* A tensor's bytes in the data section, for the overlap and range checks. */
typedef struct {
    uint64_t begin, end;
    size_t tensor;       /* index into c->tensors */
} st_span;

static int cmp_span(const void *a, const void *b)
{
    const st_span *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end)
        return x->end < y->end ? -1 : 1;
    return x->tensor < y->tensor ? -1 : x->tensor > y->tensor; /* header order */
}

/* Checks one header entry and fills t (name set by the caller); *span gets
 * its data_offsets. Errors name the file and the tensor. */
static rw_status st_entry(const char *path, const cJSON *e, rw_tensor *t, st_span *span,
                          rw_err *err)
{
    const char *name = e->string;
    char num[32], shp[256];
    if (!cJSON_IsObject(e))
        return rw_fail(err, RW_EDATA, "%s: %s: entry is %s, not an object with dtype, shape "
                       "and data_offsets", path, name, st_json_text(e, num));

    const cJSON *jd = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    if (!jd)
        return rw_fail(err, RW_EDATA, "%s: %s: no dtype", path, name);
    if (!cJSON_IsString(jd))
        return rw_fail(err, RW_EDATA, "%s: %s: dtype is %s, not a string", path, name,
                       st_json_text(jd, num));
    st_dtype dt = st_dtype_of(jd->valuestring);
    t->dtype = dt.dtype;

    const cJSON *js = cJSON_GetObjectItemCaseSensitive(e, "shape");
    if (!js)
        return rw_fail(err, RW_EDATA, "%s: %s: no shape", path, name);
    if (!cJSON_IsArray(js))
        return rw_fail(err, RW_EDATA, "%s: %s: shape is %s, not an array", path, name,
                       st_json_text(js, num));
    int ndim = cJSON_GetArraySize(js);
    if (ndim > RW_MAX_DIMS)
        return rw_fail(err, RW_EDATA, "%s: %s: shape has rank %d, more than %d", path, name,
                       ndim, RW_MAX_DIMS);
    t->ndim = ndim;
    const cJSON *jdim;
    int d = 0;
    cJSON_ArrayForEach(jdim, js) {
        uint64_t v;
        if (json_index(jdim, &v)) {
            t->shape[d++] = (int64_t)v;
            continue;
        }
        if (!cJSON_IsNumber(jdim))
            return rw_fail(err, RW_EDATA, "%s: %s: shape[%d] is %s, not a number", path, name,
                           d, st_json_text(jdim, num));
        double x = jdim->valuedouble;
        if (x < 0)
            return rw_fail(err, RW_EDATA, "%s: %s: shape[%d] is negative (%s)", path, name, d,
                           rw_fmt_double(num, x));
        if (x != floor(x))
            return rw_fail(err, RW_EDATA, "%s: %s: shape[%d] is not an integer (%s)", path,
                           name, d, rw_fmt_double(num, x));
        return rw_fail(err, RW_EDATA, "%s: %s: shape[%d] is too large (%s, limit 2^53-1)",
                       path, name, d, rw_fmt_double(num, x));
    }
    /* numel, and the product of the trailing dims (the matrix's columns),
     * must fit, also when a leading dim is 0. */
    t->numel = 1;
    size_t rest = 1;
    for (d = 0; d < ndim; d++) {
        bool ok = rw_mul_size(t->numel, (size_t)t->shape[d], &t->numel);
        if (ok && d > 0)
            ok = rw_mul_size(rest, (size_t)t->shape[d], &rest) && rest <= (size_t)INT64_MAX;
        if (!ok)
            return rw_fail(err, RW_EDATA, "%s: %s: shape %s has too many elements (size "
                           "overflow)", path, name, rw_shape_str(t, shp, sizeof shp));
    }

    const cJSON *jo = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!jo)
        return rw_fail(err, RW_EDATA, "%s: %s: no data_offsets", path, name);
    if (!cJSON_IsArray(jo) || cJSON_GetArraySize(jo) != 2)
        return rw_fail(err, RW_EDATA, "%s: %s: data_offsets is not a [begin, end] pair",
                       path, name);
    const cJSON *jb = cJSON_GetArrayItem(jo, 0), *je = cJSON_GetArrayItem(jo, 1);
    char num2[32];
    if (!json_index(jb, &span->begin) || !json_index(je, &span->end))
        return rw_fail(err, RW_EDATA, "%s: %s: data_offsets [%s, %s] are not byte offsets "
                       "(integers in 0..2^53-1)", path, name, st_json_text(jb, num),
                       st_json_text(je, num2));
    if (span->end < span->begin)
        return rw_fail(err, RW_EDATA, "%s: %s: data_offsets [%llu, %llu] end before they "
                       "begin", path, name, (unsigned long long)span->begin,
                       (unsigned long long)span->end);
    uint64_t have = span->end - span->begin;
    if (dt.bits > 0) {
        size_t bits;
        if (!rw_mul_size(t->numel, dt.bits, &bits))
            return rw_fail(err, RW_EDATA, "%s: %s: shape %s has too many elements (size "
                           "overflow)", path, name, rw_shape_str(t, shp, sizeof shp));
        const char *dname = rw_dtype_is_float(dt.dtype) ? rw_dtype_name(dt.dtype) : dt.name;
        if (bits % 8 != 0)
            return rw_fail(err, RW_EDATA, "%s: %s: shape %s %s is not a whole number of "
                           "bytes", path, name, rw_shape_str(t, shp, sizeof shp), dname);
        if (have != bits / 8)
            return rw_fail(err, RW_EDATA, "%s: %s: data_offsets [%llu, %llu] hold %llu bytes, "
                           "shape %s %s needs %zu", path, name,
                           (unsigned long long)span->begin, (unsigned long long)span->end,
                           (unsigned long long)have, rw_shape_str(t, shp, sizeof shp), dname,
                           bits / 8);
    }
    return RW_OK;
}

/* __metadata__: a string -> string map; each pair becomes an attribute
 * (the first of a key wins, also across the shards of an index). */
static rw_status st_metadata(rw_ckpt *c, const char *path, const cJSON *m, rw_err *err)
{
    char num[32];
    if (!cJSON_IsObject(m))
        return rw_fail(err, RW_EDATA, "%s: __metadata__ is %s, not an object of strings",
                       path, st_json_text(m, num));
    const cJSON *kv;
    cJSON_ArrayForEach(kv, m) {
        if (!cJSON_IsString(kv))
            return rw_fail(err, RW_EDATA, "%s: __metadata__.%s is %s, not a string", path,
                           kv->string, st_json_text(kv, num));
        if (ckpt_attr(c, kv->string))
            continue;
        rw_status st = ckpt_add_attr(c, kv->string, kv->valuestring, err);
        if (st != RW_OK)
            return st;
    }
    return RW_OK;
}

/* Checks the spans of one file's n tensors (data section of data_size
 * bytes): no two non-empty ones overlap, all lie inside the section. */
static rw_status st_check_spans(const rw_ckpt *c, const st_file *f, st_span *spans,
                                size_t n, uint64_t data_size, rw_err *err)
{
    if (n > 1)
        qsort(spans, n, sizeof *spans, cmp_span);
    /* Sorted by begin: a non-empty span overlaps an earlier one exactly
     * when it begins before the furthest end so far. */
    uint64_t far = 0;
    size_t far_i = 0;
    bool tiled = true; /* the spans cover [0, far) without gaps */
    for (size_t i = 0; i < n; i++) {
        const st_span *s = &spans[i];
        if (s->begin < far && s->end > s->begin) {
            const st_span *o = &spans[far_i];
            return rw_fail(err, RW_EDATA, "%s: tensors %s [%llu, %llu] and %s [%llu, %llu] "
                           "overlap", f->path, c->tensors[o->tensor].name,
                           (unsigned long long)o->begin, (unsigned long long)o->end,
                           c->tensors[s->tensor].name, (unsigned long long)s->begin,
                           (unsigned long long)s->end);
        }
        if (s->begin > far)
            tiled = false;
        if (s->end > far) {
            far = s->end;
            far_i = i;
        }
    }
    if (far <= data_size)
        return RW_OK;
    /* A consistent layout that the file ends inside: cut short (an
     * interrupted copy or download). Otherwise a tensor points outside. */
    if (tiled)
        return rw_fail(err, RW_EDATA, "%s: file truncated: its header describes %llu bytes "
                       "of tensor data, the file holds %llu", f->path,
                       (unsigned long long)far, (unsigned long long)data_size);
    for (size_t i = 0; i < n; i++)
        if (spans[i].end > data_size)
            return rw_fail(err, RW_EDATA, "%s: %s: data_offsets [%llu, %llu] run past the end "
                           "of the data section (%llu bytes)", f->path,
                           c->tensors[spans[i].tensor].name,
                           (unsigned long long)spans[i].begin,
                           (unsigned long long)spans[i].end, (unsigned long long)data_size);
    return RW_OK; /* not reached: some span ends at far */
}

/* Parses and checks the header of the open file f, appending its tensors
 * (shard index `shard`) to c->tensors (capacity *cap) and its __metadata__
 * to c's attributes. */
static rw_status st_parse(rw_ckpt *c, const st_file *f, int shard, size_t *cap, rw_err *err)
{
    const char *path = f->path;
    uint8_t len8[8];
    if (!rw_pread_all(f->fd, len8, 8, 0))
        return rw_fail(err, RW_EIO, "%s: cannot read the header length (file shrank?)", path);
    uint64_t hlen = le64(len8);
    if (hlen > ST_MAX_HEADER)
        return rw_fail(err, RW_EDATA, "%s: header length %llu exceeds the 100 MB limit (not a "
                       "safetensors file?)", path, (unsigned long long)hlen);
    if (hlen > f->size - 8)
        return rw_fail(err, RW_EDATA, "%s: header length %llu runs past the end of the file "
                       "(%llu bytes): truncated, or not a safetensors file", path,
                       (unsigned long long)hlen, (unsigned long long)f->size);
    if (hlen == 0)
        return rw_fail(err, RW_EDATA, "%s: header length is 0: no JSON header (not a "
                       "safetensors file?)", path);
    uint64_t data_size = f->size - 8 - hlen;

    rw_status st = RW_OK;
    st_span *spans = NULL;
    cJSON *root = NULL;
    /* NUL-terminated: cJSON then never reads past it. */
    char *text = rw_malloc((size_t)hlen + 1, err);
    if (!text)
        return RW_ENOMEM;
    if (!rw_pread_all(f->fd, text, (size_t)hlen, 8)) {
        st = rw_fail(err, RW_EIO, "%s: cannot read the header (file shrank?)", path);
        goto done;
    }
    text[hlen] = '\0';
    size_t bad = st_utf8_bad((const uint8_t *)text, (size_t)hlen);
    if (bad < hlen) {
        st = rw_fail(err, RW_EDATA, "%s: header is not UTF-8 text (byte %zu of %llu)", path,
                     bad, (unsigned long long)hlen);
        goto done;
    }
    size_t at;
    st_json_fail why;
    root = st_json_parse(text, (size_t)hlen, &at, &why);
    if (!root) {
        st = rw_fail(err, RW_EDATA,
                     why == ST_JSON_TRAILING ? "%s: header has text after its JSON object "
                                            "(byte %zu of %llu)"
                     : why == ST_JSON_TOO_DEEP ? "%s: header nests arrays and objects deeper "
                                              "than 1000 levels (byte %zu of %llu)"
                                            : "%s: header is not JSON (error at byte %zu of "
                                              "%llu)",
                     path, at, (unsigned long long)hlen);
        goto done;
    }
    if (!cJSON_IsObject(root)) {
        char num[32];
        st = rw_fail(err, RW_EDATA, "%s: header is %s, not a JSON object", path,
                     st_json_text(root, num));
        goto done;
    }

    size_t nent = (size_t)cJSON_GetArraySize(root);
    if (!(spans = rw_calloc(nent ? nent : 1, sizeof *spans, err))) {
        st = RW_ENOMEM;
        goto done;
    }
    size_t ns = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, root) {
        if (strcmp(e->string, "__metadata__") == 0) {
            if ((st = st_metadata(c, path, e, err)) != RW_OK)
                goto done;
            continue;
        }
        rw_tensor *t = ckpt_push_tensor(c, cap, err); /* counted in c->n */
        if (!t) {
            st = RW_ENOMEM;
            goto done;
        }
        if ((st = st_entry(path, e, t, &spans[ns], err)) != RW_OK)
            goto done;
        if (!(t->name = rw_strdup(e->string))) {
            st = rw_fail(err, RW_ENOMEM, "out of memory");
            goto done;
        }
        t->loc->shard = shard;
        t->loc->offset = 8 + hlen + spans[ns].begin;
        spans[ns].tensor = c->n - 1;
        ns++;
    }
    st = st_check_spans(c, f, spans, ns, data_size, err);
done:
    /* On failure the tensors appended so far stay listed; ckpt_free frees them. */
    free(spans);
    cJSON_Delete(root);
    free(text);
    return st;
}

/* Two tensors of one name in one header (across the shards of an index:
 * ckpt_index_check). */
static rw_status st_check_unique(const rw_ckpt *c, const st_state *s, rw_err *err)
{
    for (size_t i = 1; i < c->n; i++) {
        const rw_tensor *a = &c->tensors[i - 1], *b = &c->tensors[i];
        if (strcmp(a->name, b->name) == 0 && a->loc->shard == b->loc->shard)
            return rw_fail(err, RW_EDATA, "%s: %s: listed twice in the header",
                           s->files[a->loc->shard].path, a->name);
    }
    return RW_OK;
}

/* A sharded model's index c->path: opens and parses every shard it names,
 * then checks that weight_map and the shards' headers agree tensor by
 * tensor (ckpt_index.h). */
static rw_status st_open_index(rw_ckpt *c, st_state *s, rw_err *err)
{
    ckpt_index ix;
    size_t cap = 0;
    rw_status st = ckpt_index_load(c->path, &ix, err);
    if (st != RW_OK)
        return st;
    if ((st = ckpt_index_metadata(c, &ix, err)) != RW_OK)
        goto done;
    if (!(s->files = rw_calloc(ix.nshards, sizeof *s->files, err))) {
        st = RW_ENOMEM;
        goto done;
    }
    for (size_t k = 0; k < ix.nshards; k++)
        s->files[k].fd = -1;
    for (size_t k = 0; k < ix.nshards; k++) {
        st = ckpt_index_shard_present(c->path, &ix, k, err);
        if (st == RW_OK)
            st = st_file_open(&s->files[k], ix.paths[k], err);
        s->nfiles = k + 1;
        if (st != RW_OK || (st = st_parse(c, &s->files[k], (int)k, &cap, err)) != RW_OK)
            goto done;
    }
    ckpt_sort_tensors(c);
    if ((st = st_check_unique(c, s, err)) == RW_OK)
        st = ckpt_index_check(c, &ix, err);
done:
    ckpt_index_free(&ix);
    return st;
}

/* ------------------------------------------------------------- interface */

rw_status ckpt_st_open(rw_ckpt *c, rw_err *err)
{
    st_state *s = rw_calloc(1, sizeof *s, err);
    if (!s)
        return RW_ENOMEM;
    c->impl = s;
    if (rw_ends_with(c->path, CKPT_ST_INDEX_SUFFIX, NULL))
        return st_open_index(c, s, err);
    if (!(s->files = rw_calloc(1, sizeof *s->files, err)))
        return RW_ENOMEM;
    s->nfiles = 1;
    rw_status st = st_file_open(&s->files[0], c->path, err);
    size_t cap = 0;
    if (st == RW_OK)
        st = st_parse(c, &s->files[0], 0, &cap, err);
    if (st == RW_OK) {
        ckpt_sort_tensors(c);
        st = st_check_unique(c, s, err);
    }
    return st;
}

rw_status ckpt_st_read(rw_ckpt *c, size_t i, double *buf, rw_err *err)
{
    const st_state *s = c->impl;
    const rw_tensor *t = &c->tensors[i];
    if (!s || t->loc->shard < 0 || (size_t)t->loc->shard >= s->nfiles)
        return rw_fail(err, RW_EUSAGE, "%s: %s: no open file", c->path, t->name);
    size_t es;
    switch (t->dtype) {
    case RW_DT_F16:
    case RW_DT_BF16: es = 2; break;
    case RW_DT_F32: es = 4; break;
    case RW_DT_F64: es = 8; break;
    default:
        return rw_fail(err, RW_EUSAGE, "%s: %s: dtype %s has no values to analyse", c->path,
                       t->name, rw_dtype_name(t->dtype));
    }
    /* The stored bytes go to the tail of buf (numel doubles) and are widened
     * front to back: element k's double, bytes [8k, 8k + 8), lies below the
     * stored bytes of element k + 1, at 8 numel - es (numel - k - 1), so no
     * value is overwritten before it is read. ckpt_st_open checked that
     * [offset, offset + numel * es) lies in the file as it was then; a short
     * read means that it has shrunk since. */
    const st_file *f = &s->files[t->loc->shard];
    uint8_t *stored = (uint8_t *)buf + t->numel * (8 - es);
    if (!rw_pread_all(f->fd, stored, t->numel * es, t->loc->offset))
        return rw_fail(err, RW_EIO, "%s: %s: cannot read values: %s", f->path, t->name,
                       errno ? strerror(errno)
                             : "the file ends before them (truncated since it was opened?)");
    const uint8_t *p = stored;
    switch (t->dtype) {
    case RW_DT_F16:
        for (size_t k = 0; k < t->numel; k++, p += 2)
            buf[k] = rw_half_to_double((uint16_t)(p[0] | p[1] << 8));
        break;
    case RW_DT_BF16:
        for (size_t k = 0; k < t->numel; k++, p += 2)
            buf[k] = rw_bf16_to_double((uint16_t)(p[0] | p[1] << 8));
        break;
    case RW_DT_F32:
        for (size_t k = 0; k < t->numel; k++, p += 4) {
            uint32_t b = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                         (uint32_t)p[3] << 24;
            float v;
            memcpy(&v, &b, sizeof v);
            buf[k] = v;
        }
        break;
    default: /* RW_DT_F64 */
        for (size_t k = 0; k < t->numel; k++, p += 8) {
            uint64_t b = le64(p);
            memcpy(&buf[k], &b, sizeof b);
        }
        break;
    }
    return RW_OK;
}

void ckpt_st_close(rw_ckpt *c)
{
    st_state *s = c->impl;
    for (size_t k = 0; k < s->nfiles; k++)
        st_file_close(&s->files[k]);
    free(s->files);
    free(s);
    c->impl = NULL;
}
