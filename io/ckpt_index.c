/*
 * ckpt_index.c — the index of a sharded model (ckpt_index.h), whatever the
 * format of its shards: reading and checking it, its shard files and
 * metadata, and the check that it agrees with the tensors of the shards.
 */
#include "io/ckpt_index.h"
/* The JSON text helpers (st_utf8_bad, st_json_parse, st_json_text) are the
 * safetensors back end's, which reads JSON headers the same way. */
#include "io/ckpt_st_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_INDEX 100000000u  /* bytes of a sharded model's index.json */

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
    if ((unsigned long)size > MAX_INDEX) {
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

rw_status ckpt_index_load(const char *path, ckpt_index *ix, rw_err *err)
{
    memset(ix, 0, sizeof *ix);
    rw_status st = index_load(path, &ix->root, &ix->wmap, err);
    if (st == RW_OK)
        st = index_shard_names(ix->wmap, &ix->shards, &ix->nshards, err);
    char *dir = st == RW_OK ? rw_dirname(path) : NULL;
    if (st == RW_OK && (!dir || !(ix->paths = rw_calloc(ix->nshards, sizeof *ix->paths, err))))
        st = dir ? RW_ENOMEM : rw_fail(err, RW_ENOMEM, "out of memory");
    for (size_t k = 0; st == RW_OK && k < ix->nshards; k++)
        if (!(ix->paths[k] = rw_path_join(dir, ix->shards[k])))
            st = rw_fail(err, RW_ENOMEM, "out of memory");
    free(dir);
    if (st != RW_OK)
        ckpt_index_free(ix);
    return st;
}

void ckpt_index_free(ckpt_index *ix)
{
    for (size_t k = 0; ix->paths && k < ix->nshards; k++)
        free(ix->paths[k]);
    free(ix->paths);
    free((void *)ix->shards);
    cJSON_Delete(ix->root);
    memset(ix, 0, sizeof *ix);
}

rw_status ckpt_index_shards(const char *path, char ***names, size_t *n, rw_err *err)
{
    *names = NULL;
    *n = 0;
    ckpt_index ix;
    rw_status st = ckpt_index_load(path, &ix, err);
    if (st != RW_OK)
        return st;
    char **out = rw_calloc(ix.nshards, sizeof *out, err);
    if (!out)
        st = RW_ENOMEM;
    for (size_t i = 0; i < ix.nshards && st == RW_OK; i++)
        if (!(out[i] = rw_strdup(ix.shards[i])))
            st = rw_fail(err, RW_ENOMEM, "out of memory");
    if (st == RW_OK) {
        *names = out;
        *n = ix.nshards;
    } else if (out) {
        for (size_t i = 0; i < ix.nshards; i++)
            free(out[i]);
        free(out);
    }
    ckpt_index_free(&ix);
    return st;
}

rw_status ckpt_index_shard_present(const char *path, const ckpt_index *ix, size_t k,
                                   rw_err *err)
{
    struct stat sb;
    if (stat(ix->paths[k], &sb) != 0 && errno == ENOENT)
        return rw_fail(err, RW_EIO, "%s: weight_map names shard %s, which does not exist",
                       path, ix->paths[k]);
    return RW_OK;
}

rw_status ckpt_index_metadata(rw_ckpt *c, const ckpt_index *ix, rw_err *err)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(ix->root, "metadata");
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

rw_status ckpt_index_check(const rw_ckpt *c, const ckpt_index *ix, rw_err *err)
{
    /* One name in two shards (the back end has refused two in one file). */
    for (size_t i = 1; i < c->n; i++) {
        const rw_tensor *a = &c->tensors[i - 1], *b = &c->tensors[i];
        if (strcmp(a->name, b->name) == 0 && a->loc->shard != b->loc->shard)
            return rw_fail(err, RW_EDATA, "%s: %s is in two shards, %s and %s", c->path,
                           a->name, ix->paths[a->loc->shard], ix->paths[b->loc->shard]);
    }
    /* Every weight_map entry is a tensor of its shard, and every tensor of
     * a shard is in weight_map. */
    bool *seen = rw_calloc(c->n ? c->n : 1, sizeof *seen, err);
    if (!seen)
        return RW_ENOMEM;
    rw_status st = RW_OK;
    const cJSON *kv;
    cJSON_ArrayForEach(kv, ix->wmap) {
        long i = ckpt_find(c, kv->string);
        if (i < 0) {
            st = rw_fail(err, RW_EDATA, "%s: weight_map puts %s in %s, which does not hold it",
                         c->path, kv->string, kv->valuestring);
            break;
        }
        const rw_tensor *t = &c->tensors[i];
        if (strcmp(ix->shards[t->loc->shard], kv->valuestring) != 0) {
            st = rw_fail(err, RW_EDATA, "%s: weight_map puts %s in %s, but it is in %s",
                         c->path, kv->string, kv->valuestring, ix->shards[t->loc->shard]);
            break;
        }
        if (seen[i]) {
            st = rw_fail(err, RW_EDATA, "%s: weight_map lists %s twice", c->path, kv->string);
            break;
        }
        seen[i] = true;
    }
    for (size_t i = 0; i < c->n && st == RW_OK; i++)
        if (!seen[i])
            st = rw_fail(err, RW_EDATA, "%s: %s holds %s, which weight_map does not list",
                         c->path, ix->shards[c->tensors[i].loc->shard], c->tensors[i].name);
    free(seen);
    return st;
}
