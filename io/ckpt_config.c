/*
 * ckpt_config.c — the model config saved beside a checkpoint: HF's and
 * pico-train's config.json in the checkpoint's folder. Its attention heads
 * become the checkpoint's n_heads and n_kv_heads attributes (and d_model),
 * unless the checkpoint carries them itself: what the OV circuit needs
 * (items.c), with --heads/--kv-heads still overriding.
 *
 *   pico-train   attention_n_heads, attention_n_kv_heads, d_model
 *   HF           num_attention_heads, num_key_value_heads, hidden_size
 *
 * A config.json that is there but is not a JSON object, or gives heads that
 * are not positive whole numbers, is an error naming it: read past, it
 * would silently leave the OV circuits out.
 */
#include "io/ckpt_impl.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* HF configs are a few KiB. */
#define CONFIG_MAX ((size_t)1 << 20)

/* The first of keys that j has: a positive whole number into *v (true), or
 * an error; false with *st RW_OK when none is there. */
static bool config_count(const cJSON *j, const char *const *keys, size_t nkeys,
                         const char *path, long *v, rw_status *st, rw_err *err)
{
    for (size_t i = 0; i < nkeys; i++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, keys[i]);
        if (!x || cJSON_IsNull(x))
            continue;
        double d = cJSON_IsNumber(x) ? x->valuedouble : NAN;
        if (!(d >= 1 && d <= 1e9 && d == floor(d))) {
            *st = rw_fail(err, RW_EDATA, "%s: %s is not a positive whole number", path, keys[i]);
            return false;
        }
        *v = (long)d;
        return true;
    }
    return false;
}

static rw_status set_attr(rw_ckpt *c, const char *key, long v, rw_err *err)
{
    if (ckpt_attr(c, key))
        return RW_OK; /* the checkpoint's own */
    char num[32];
    snprintf(num, sizeof num, "%ld", v);
    rw_status st = ckpt_add_attr(c, key, num, err);
    if (st == RW_OK)
        c->attrs[c->nattrs - 1].from_config = true; /* ckpt_attr_source */
    return st;
}

rw_status ckpt_read_config(rw_ckpt *c, rw_err *err)
{
    char *dir = rw_dirname(c->path);
    char *path = dir ? rw_path_join(dir, "config.json") : NULL;
    free(dir);
    if (!path)
        return rw_fail(err, RW_ENOMEM, "out of memory");
    struct stat sb;
    rw_status st = RW_OK;
    /* none there, or not a regular file (a FIFO would block): no config */
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        free(path);
        return RW_OK;
    }
    char *buf = NULL;
    size_t n = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        st = rw_fail(err, RW_EIO, "%s: %s", path, strerror(errno));
    else if ((size_t)sb.st_size > CONFIG_MAX)
        st = rw_fail(err, RW_EDATA, "%s: larger than 1 MiB (not a model config?)", path);
    else if (!(buf = rw_malloc((size_t)sb.st_size + 1, err)))
        st = RW_ENOMEM;
    else if ((n = fread(buf, 1, (size_t)sb.st_size, f)) != (size_t)sb.st_size || ferror(f))
        st = rw_fail(err, RW_EIO, "%s: cannot read", path);
    if (f)
        fclose(f);
    cJSON *j = NULL;
    if (st == RW_OK) {
        buf[n] = '\0';
        const char *end = NULL;
        j = cJSON_ParseWithLengthOpts(buf, n, &end, false);
        if (!j || !cJSON_IsObject(j))
            st = rw_fail(err, RW_EDATA, "%s: not a JSON object", path);
    }
    static const char *const heads[] = {"attention_n_heads", "num_attention_heads", "n_head"};
    static const char *const kv[] = {"attention_n_kv_heads", "num_key_value_heads"};
    static const char *const width[] = {"d_model", "hidden_size", "n_embd"};
    long v;
    if (st == RW_OK && config_count(j, heads, 3, path, &v, &st, err))
        st = set_attr(c, "n_heads", v, err);
    if (st == RW_OK && config_count(j, kv, 2, path, &v, &st, err))
        st = set_attr(c, "n_kv_heads", v, err);
    if (st == RW_OK && config_count(j, width, 3, path, &v, &st, err))
        st = set_attr(c, "d_model", v, err);
    cJSON_Delete(j);
    free(buf);
    free(path);
    return st;
}
