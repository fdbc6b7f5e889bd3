/*
 * ckpt_st_index.c — the sharded safetensors model of the safetensors back
 * end (ckpt_impl.h): transformers' save_pretrained writes an index,
 *   {"metadata": {"total_size": ...}, "weight_map": {"<tensor>": "<shard file>", ...}}
 * beside its shard files. It opens as one checkpoint whose tensors come from
 * several open files (rw_tensor_loc.shard); the index and its shards must
 * agree exactly on which tensor lives where. The index is untrusted input
 * like the shards: read whole only below ST_MAX_INDEX bytes, checked as
 * UTF-8 and as JSON, and it may name files beside it, no others.
 */
#include "io/ckpt_st_impl.h"

#include <cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ST_MAX_INDEX 100000000u  /* bytes of a sharded model's index.json */

/* Reads and parses an index file; *root owned by the caller (cJSON_Delete).
 * Checks that weight_map maps every tensor to a plain file name. */
static rw_status index_load(const char *path, cJSON **root, const cJSON **wmap, rw_err *err)
{
    *root = NULL;
    rw_status st = rw_check_regular(path, err); /* before the open: a FIFO would block it */
    if (st != RW_OK)
        return st;
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return rw_fail(err, RW_EIO, "%s: %s", path, strerror(errno));
    char *text = NULL;
    long size = -1;
    if (fseek(fp, 0, SEEK_END) == 0)
        size = ftell(fp);
    if (size < 0 || fseek(fp, 0, SEEK_SET) != 0) {
        st = rw_fail(err, RW_EIO, "%s: cannot read: %s", path, strerror(errno));
        goto done;
    }
    if ((unsigned long)size > ST_MAX_INDEX) {
        st = rw_fail(err, RW_EDATA, "%s: index of %ld bytes exceeds the 100 MB limit", path,
                     size);
        goto done;
    }
    if (!(text = rw_malloc((size_t)size + 1, err))) {
        st = RW_ENOMEM;
        goto done;
    }
    if (fread(text, 1, (size_t)size, fp) != (size_t)size) {
        st = rw_fail(err, RW_EIO, "%s: cannot read: %s", path,
                     ferror(fp) ? strerror(errno) : "file shrank");
        goto done;
    }
    text[size] = '\0';
    /* JSON is UTF-8 text; cJSON would pass other bytes on into names. */
    size_t at = st_utf8_bad((const uint8_t *)text, (size_t)size);
    if (at < (size_t)size) {
        st = rw_fail(err, RW_EDATA, "%s: not UTF-8 text (byte %zu of %ld)", path, at, size);
        goto done;
    }
    st_json_fail why;
    *root = st_json_parse(text, (size_t)size, &at, &why);
    if (!*root) {
        st = rw_fail(err, RW_EDATA, "%s: not JSON (%s at byte %zu of %ld)", path,
                     why == ST_JSON_TRAILING ? "text after the JSON value"
                     : why == ST_JSON_TOO_DEEP ? "nested deeper than 1000 levels"
                                            : "error",
                     at, size);
        goto done;
    }
    *wmap = cJSON_GetObjectItemCaseSensitive(*root, "weight_map");
    if (!cJSON_IsObject(*root) || !cJSON_IsObject(*wmap)) {
        st = rw_fail(err, RW_EDATA, "%s: no weight_map object (not a sharded model's index)",
                     path);
        goto done;
    }
    if (!(*wmap)->child) {
        st = rw_fail(err, RW_EDATA, "%s: weight_map lists no tensors", path);
        goto done;
    }
    const cJSON *kv;
    cJSON_ArrayForEach(kv, *wmap) {
        char num[32];
        if (!cJSON_IsString(kv)) {
            st = rw_fail(err, RW_EDATA, "%s: weight_map: %s: shard is %s, not a file name",
                         path, kv->string, st_json_text(kv, num));
            goto done;
        }
        const char *v = kv->valuestring;
        /* The index is untrusted too: it may name files beside it, no others. */
        if (!*v || strchr(v, '/') || strcmp(v, ".") == 0 || strcmp(v, "..") == 0) {
            st = rw_fail(err, RW_EDATA, "%s: weight_map: %s: shard '%s' is not a file name in "
                         "the index's directory", path, kv->string, v);
            goto done;
        }
    }
done:
    if (st != RW_OK) {
        cJSON_Delete(*root);
        *root = NULL;
    }
    free(text);
    fclose(fp);
    return st;
}

/* Distinct shard names of weight_map, in order of first appearance; the
 * array is owned by the caller, the strings by wmap. */
static rw_status index_shard_names(const cJSON *wmap, const char ***names, size_t *n,
                                   rw_err *err)
{
    *names = NULL;
    *n = 0;
    size_t cap = 0;
    const cJSON *kv;
    cJSON_ArrayForEach(kv, wmap) {
        size_t k = 0;
        while (k < *n && strcmp((*names)[k], kv->valuestring) != 0)
            k++;
        if (k < *n)
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 8;
            const char **v = rw_realloc((void *)*names, cap * sizeof *v, err);
            if (!v) {
                free((void *)*names);
                *names = NULL;
                *n = 0;
                return RW_ENOMEM;
            }
            *names = v;
        }
        (*names)[(*n)++] = kv->valuestring;
    }
    return RW_OK;
}

rw_status st_index_shards(const char *path, char ***names, size_t *n, rw_err *err)
{
    *names = NULL;
    *n = 0;
    cJSON *root;
    const cJSON *wmap;
    rw_status st = index_load(path, &root, &wmap, err);
    if (st != RW_OK)
        return st;
    const char **v;
    size_t m;
    st = index_shard_names(wmap, &v, &m, err);
    char **out = NULL;
    if (st == RW_OK && !(out = rw_calloc(m, sizeof *out, err)))
        st = RW_ENOMEM;
    for (size_t i = 0; i < m && st == RW_OK; i++)
        if (!(out[i] = rw_strdup(v[i])))
            st = rw_fail(err, RW_ENOMEM, "out of memory");
    if (st == RW_OK) {
        *names = out;
        *n = m;
    } else if (out) {
        for (size_t i = 0; i < m; i++)
            free(out[i]);
        free(out);
    }
    free((void *)v);
    cJSON_Delete(root);
    return st;
}

/* The index's own "metadata" (total_size, ...): strings and numbers become
 * attributes, before any shard's __metadata__. */
static rw_status index_metadata(rw_ckpt *c, const cJSON *root, rw_err *err)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(root, "metadata");
    const cJSON *kv;
    if (!cJSON_IsObject(m))
        return RW_OK;
    cJSON_ArrayForEach(kv, m) {
        char num[32];
        const char *v = cJSON_IsString(kv) ? kv->valuestring
                        : cJSON_IsNumber(kv) ? rw_fmt_double(num, kv->valuedouble)
                                             : NULL;
        if (!v || ckpt_attr(c, kv->string))
            continue;
        rw_status st = ckpt_add_attr(c, kv->string, v, err);
        if (st != RW_OK)
            return st;
    }
    return RW_OK;
}

/* Opens the index c->path: maps and checks every shard, then checks that
 * weight_map and the shards' headers agree tensor by tensor. */
rw_status st_open_index(rw_ckpt *c, st_state *s, rw_err *err)
{
    cJSON *root;
    const cJSON *wmap;
    const char **shards = NULL;
    size_t nshards = 0, cap = 0;
    char *dir = NULL, *spath = NULL;
    bool *seen = NULL;
    rw_status st = index_load(c->path, &root, &wmap, err);
    if (st != RW_OK)
        return st;
    if ((st = index_shard_names(wmap, &shards, &nshards, err)) != RW_OK)
        goto done;
    if ((st = index_metadata(c, root, err)) != RW_OK)
        goto done;
    if (!(s->files = rw_calloc(nshards, sizeof *s->files, err)) || !(dir = rw_dirname(c->path))) {
        st = s->files ? rw_fail(err, RW_ENOMEM, "out of memory") : RW_ENOMEM;
        goto done;
    }
    for (size_t k = 0; k < nshards; k++)
        s->files[k].fd = -1;
    for (size_t k = 0; k < nshards; k++) {
        if (!(spath = rw_path_join(dir, shards[k]))) {
            st = rw_fail(err, RW_ENOMEM, "out of memory");
            goto done;
        }
        struct stat sb;
        if (stat(spath, &sb) != 0 && errno == ENOENT)
            st = rw_fail(err, RW_EIO, "%s: weight_map names shard %s, which does not exist",
                         c->path, spath);
        else
            st = st_file_open(&s->files[k], spath, err);
        s->nfiles = k + 1;
        free(spath);
        spath = NULL;
        if (st != RW_OK || (st = st_parse(c, &s->files[k], (int)k, &cap, err)) != RW_OK)
            goto done;
    }
    ckpt_sort_tensors(c);
    if ((st = st_check_unique(c, s, err)) != RW_OK)
        goto done;

    /* Every weight_map entry is a tensor of its shard, and every tensor of
     * a shard is in weight_map. */
    if (!(seen = rw_calloc(c->n, sizeof *seen, err))) {
        st = RW_ENOMEM;
        goto done;
    }
    const cJSON *kv;
    cJSON_ArrayForEach(kv, wmap) {
        long i = ckpt_find(c, kv->string);
        if (i < 0) {
            st = rw_fail(err, RW_EDATA, "%s: weight_map puts %s in %s, which does not hold it",
                         c->path, kv->string, kv->valuestring);
            goto done;
        }
        const rw_tensor *t = &c->tensors[i];
        if (strcmp(shards[t->loc->shard], kv->valuestring) != 0) {
            st = rw_fail(err, RW_EDATA, "%s: weight_map puts %s in %s, but it is in %s",
                         c->path, kv->string, kv->valuestring, shards[t->loc->shard]);
            goto done;
        }
        if (seen[i]) {
            st = rw_fail(err, RW_EDATA, "%s: weight_map lists %s twice", c->path, kv->string);
            goto done;
        }
        seen[i] = true;
    }
    for (size_t i = 0; i < c->n; i++)
        if (!seen[i]) {
            st = rw_fail(err, RW_EDATA, "%s: %s holds %s, which weight_map does not list",
                         c->path, shards[c->tensors[i].loc->shard], c->tensors[i].name);
            goto done;
        }
done:
    free(seen);
    free(spath);
    free(dir);
    free((void *)shards);
    cJSON_Delete(root);
    return st;
}
