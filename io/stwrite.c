/*
 * stwrite.c — safetensors writer (stwrite.h).
 */
#include "stwrite.h"

#include "ckpt.h"
#include "outfile.h"

#include <cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *name, *dtype;  /* owned */
    int ndim;
    int64_t shape[RW_MAX_DIMS];
    size_t begin, end;   /* in the data section */
} stw_entry;

typedef struct {
    char *key, *value;   /* owned */
} stw_pair;

struct rw_stw {
    stw_entry *tensors;
    size_t n, cap;
    stw_pair *meta;
    size_t nmeta;
    uint8_t *data;       /* the data section so far */
    size_t size, dcap;
};

rw_stw *stw_new(void)
{
    return calloc(1, sizeof(rw_stw));
}

void stw_free(rw_stw *w)
{
    if (!w)
        return;
    for (size_t i = 0; i < w->n; i++) {
        free(w->tensors[i].name);
        free(w->tensors[i].dtype);
    }
    free(w->tensors);
    for (size_t i = 0; i < w->nmeta; i++) {
        free(w->meta[i].key);
        free(w->meta[i].value);
    }
    free(w->meta);
    free(w->data);
    free(w);
}

rw_status stw_meta(rw_stw *w, const char *key, const char *value, rw_err *err)
{
    for (size_t i = 0; i < w->nmeta; i++)
        if (strcmp(w->meta[i].key, key) == 0)
            return rw_fail(err, RW_EUSAGE, "__metadata__.%s: added twice", key);
    stw_pair *m = rw_realloc(w->meta, (w->nmeta + 1) * sizeof *m, err);
    if (!m)
        return RW_ENOMEM;
    w->meta = m;
    m[w->nmeta].key = rw_strdup(key);
    m[w->nmeta].value = rw_strdup(value);
    if (!m[w->nmeta].key || !m[w->nmeta].value) {
        free(m[w->nmeta].key);
        free(m[w->nmeta].value);
        return rw_fail(err, RW_ENOMEM, "out of memory");
    }
    w->nmeta++;
    return RW_OK;
}

/* Checks name and shape; *numel gets the product of the dims. */
static rw_status check_new(const rw_stw *w, const char *name, int ndim, const int64_t *shape,
                           size_t *numel, rw_err *err)
{
    if (strcmp(name, "__metadata__") == 0)
        return rw_fail(err, RW_EUSAGE, "__metadata__ is not a tensor name");
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->tensors[i].name, name) == 0)
            return rw_fail(err, RW_EUSAGE, "%s: tensor added twice", name);
    if (ndim < 0 || ndim > RW_MAX_DIMS)
        return rw_fail(err, RW_EUSAGE, "%s: rank %d unsupported (0..%d)", name, ndim,
                       RW_MAX_DIMS);
    *numel = 1;
    for (int d = 0; d < ndim; d++)
        if (shape[d] < 0 || !rw_mul_size(*numel, (size_t)shape[d], numel))
            return rw_fail(err, RW_EUSAGE, "%s: bad shape", name);
    return RW_OK;
}

/* Appends an entry whose data is the next nbytes of the data section, and
 * returns where to put those bytes (NULL on failure). */
static uint8_t *append(rw_stw *w, const char *name, const char *dtype, int ndim,
                       const int64_t *shape, size_t nbytes, rw_err *err)
{
    if (rw_grow(&w->tensors, w->n, &w->cap, sizeof *w->tensors, err) != RW_OK)
        return NULL;
    if (nbytes > SIZE_MAX - w->size) {
        rw_fail(err, RW_ENOMEM, "%s: file too large", name);
        return NULL;
    }
    if (w->size + nbytes > w->dcap) {
        size_t ncap = w->dcap ? w->dcap : 4096;
        while (ncap < w->size + nbytes)
            ncap = ncap > SIZE_MAX / 2 ? w->size + nbytes : 2 * ncap;
        uint8_t *d = rw_realloc(w->data, ncap, err);
        if (!d)
            return NULL;
        w->data = d;
        w->dcap = ncap;
    }
    stw_entry *t = &w->tensors[w->n];
    memset(t, 0, sizeof *t);
    t->name = rw_strdup(name);
    t->dtype = rw_strdup(dtype);
    if (!t->name || !t->dtype) {
        free(t->name);
        free(t->dtype);
        rw_fail(err, RW_ENOMEM, "out of memory");
        return NULL;
    }
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++)
        t->shape[d] = shape[d];
    t->begin = w->size;
    t->end = w->size + nbytes;
    w->size += nbytes;
    w->n++;
    return w->data + t->begin;
}

static void put_le(uint8_t *p, uint64_t v, int nbytes)
{
    for (int i = 0; i < nbytes; i++, v >>= 8)
        p[i] = (uint8_t)(v & 0xff);
}

rw_status stw_tensor(rw_stw *w, const char *name, int ndim, const int64_t *shape,
                     rw_dtype dtype, const double *values, rw_err *err)
{
    static const char *const names[] = {[RW_DT_F16] = "F16", [RW_DT_BF16] = "BF16",
                                        [RW_DT_F32] = "F32", [RW_DT_F64] = "F64",
                                        [RW_DT_INT] = "I32"};
    static const int sizes[] = {[RW_DT_F16] = 2, [RW_DT_BF16] = 2, [RW_DT_F32] = 4,
                                [RW_DT_F64] = 8, [RW_DT_INT] = 4};
    if ((unsigned)dtype > RW_DT_INT)
        return rw_fail(err, RW_EUSAGE, "%s: cannot write dtype %s", name, rw_dtype_name(dtype));
    size_t numel, nbytes;
    rw_status st = check_new(w, name, ndim, shape, &numel, err);
    if (st != RW_OK)
        return st;
    if (!rw_mul_size(numel, (size_t)sizes[dtype], &nbytes))
        return rw_fail(err, RW_EUSAGE, "%s: bad shape", name);
    if (dtype == RW_DT_INT)
        for (size_t k = 0; k < numel; k++)
            if (!(values[k] >= INT32_MIN && values[k] <= INT32_MAX) ||
                values[k] != floor(values[k]))
                return rw_fail(err, RW_EUSAGE, "%s: value %zu is not an int32", name, k);
    uint8_t *p = append(w, name, names[dtype], ndim, shape, nbytes, err);
    if (!p)
        return RW_ENOMEM;
    for (size_t k = 0; k < numel; k++) {
        switch (dtype) {
        case RW_DT_F16:
            put_le(p + 2 * k, rw_double_to_half(values[k]), 2);
            break;
        case RW_DT_BF16:
            put_le(p + 2 * k, rw_double_to_bf16(values[k]), 2);
            break;
        case RW_DT_F32: {
            float f = (float)values[k];
            uint32_t b;
            memcpy(&b, &f, sizeof b);
            put_le(p + 4 * k, b, 4);
            break;
        }
        case RW_DT_F64: {
            uint64_t b;
            memcpy(&b, &values[k], sizeof b);
            put_le(p + 8 * k, b, 8);
            break;
        }
        default:
            put_le(p + 4 * k, (uint32_t)(int32_t)values[k], 4);
        }
    }
    return RW_OK;
}

rw_status stw_tensor_raw(rw_stw *w, const char *name, const char *dtype, int ndim,
                         const int64_t *shape, const void *bytes, size_t nbytes, rw_err *err)
{
    size_t numel;
    rw_status st = check_new(w, name, ndim, shape, &numel, err);
    if (st != RW_OK)
        return st;
    uint8_t *p = append(w, name, dtype, ndim, shape, nbytes, err);
    if (!p)
        return RW_ENOMEM;
    if (nbytes)
        memcpy(p, bytes, nbytes);
    return RW_OK;
}

/* The header as unpadded JSON text (cJSON_free it), NULL when out of memory. */
static char *header_json(const rw_stw *w)
{
    cJSON *root = cJSON_CreateObject();
    char *text = NULL;
    if (!root)
        return NULL;
    if (w->nmeta) {
        cJSON *m = cJSON_AddObjectToObject(root, "__metadata__");
        for (size_t i = 0; m && i < w->nmeta; i++)
            if (!cJSON_AddStringToObject(m, w->meta[i].key, w->meta[i].value))
                goto done;
        if (!m)
            goto done;
    }
    for (size_t i = 0; i < w->n; i++) {
        const stw_entry *t = &w->tensors[i];
        cJSON *e = cJSON_AddObjectToObject(root, t->name);
        cJSON *dt = e ? cJSON_AddStringToObject(e, "dtype", t->dtype) : NULL;
        cJSON *shape = dt ? cJSON_AddArrayToObject(e, "shape") : NULL;
        cJSON *offs = shape ? cJSON_AddArrayToObject(e, "data_offsets") : NULL;
        if (!offs)
            goto done;
        /* cJSON numbers are doubles: exact below 2^53, which sizes of files
         * held in memory are. */
        for (int d = 0; d < t->ndim; d++) {
            cJSON *x = cJSON_CreateNumber((double)t->shape[d]);
            if (!x || !cJSON_AddItemToArray(shape, x)) {
                cJSON_Delete(x);
                goto done;
            }
        }
        cJSON *b = cJSON_CreateNumber((double)t->begin), *en = cJSON_CreateNumber((double)t->end);
        if (!b || !en || !cJSON_AddItemToArray(offs, b)) {
            cJSON_Delete(b);
            cJSON_Delete(en);
            goto done;
        }
        if (!cJSON_AddItemToArray(offs, en)) {
            cJSON_Delete(en);
            goto done;
        }
    }
    text = cJSON_PrintUnformatted(root);
done:
    cJSON_Delete(root);
    return text;
}

rw_status stw_bytes(const rw_stw *w, uint8_t **out, size_t *n, rw_err *err)
{
    *out = NULL;
    *n = 0;
    char *json = header_json(w);
    if (!json)
        return rw_fail(err, RW_ENOMEM, "out of memory (safetensors header)");
    size_t jlen = strlen(json);
    size_t hlen = jlen + (8 - (8 + jlen) % 8) % 8; /* data starts 8-aligned */
    size_t total = 8 + hlen;
    if (w->size > SIZE_MAX - total) {
        cJSON_free(json);
        return rw_fail(err, RW_ENOMEM, "safetensors file too large");
    }
    total += w->size;
    uint8_t *buf = rw_malloc(total, err);
    if (!buf) {
        cJSON_free(json);
        return RW_ENOMEM;
    }
    put_le(buf, hlen, 8);
    memcpy(buf + 8, json, jlen);
    memset(buf + 8 + jlen, ' ', hlen - jlen);
    if (w->size)
        memcpy(buf + 8 + hlen, w->data, w->size);
    cJSON_free(json);
    *out = buf;
    *n = total;
    return RW_OK;
}

/* Writes n bytes to path atomically. */
static rw_status write_atomic(const char *path, const void *bytes, size_t n, rw_err *err)
{
    rw_outfile o;
    rw_status st = outfile_open(&o, path, true, err);
    if (st != RW_OK)
        return st;
    if (n && fwrite(bytes, 1, n, o.f) != n) {
        outfile_abort(&o);
        return rw_fail(err, RW_EIO, "%s: write failed", path);
    }
    return outfile_commit(&o, err);
}

rw_status stw_save(const rw_stw *w, const char *path, rw_err *err)
{
    uint8_t *buf;
    size_t n;
    rw_status st = stw_bytes(w, &buf, &n, err);
    if (st != RW_OK)
        return st;
    st = write_atomic(path, buf, n, err);
    free(buf);
    return st;
}

rw_status stw_index(const char *path, size_t n, const char *const *tensors,
                    const char *const *shards, rw_err *err)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *meta = root ? cJSON_AddObjectToObject(root, "metadata") : NULL;
    cJSON *map = meta ? cJSON_AddObjectToObject(root, "weight_map") : NULL;
    bool ok = map != NULL;
    for (size_t i = 0; ok && i < n; i++)
        ok = cJSON_AddStringToObject(map, tensors[i], shards[i]) != NULL;
    char *text = ok ? cJSON_Print(root) : NULL;
    cJSON_Delete(root);
    if (!text)
        return rw_fail(err, RW_ENOMEM, "out of memory (safetensors index)");
    rw_status st = write_atomic(path, text, strlen(text), err);
    cJSON_free(text);
    return st;
}
