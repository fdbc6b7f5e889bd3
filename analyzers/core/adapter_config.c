/*
 * adapter_config.c — PEFT's adapter_config.json beside an adapter
 * checkpoint (adapter_config.h).
 */
#include "analyzers/core/adapter_config.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* The config beside ckpt_path, parsed into *out (the caller's, cJSON_Delete;
 * its path in path): RW_ENOTFOUND when there is none. */
static rw_status config_load(const char *ckpt_path, char *path, size_t n, cJSON **out,
                             rw_err *err)
{
    *out = NULL;
    char *dir = rw_dirname(ckpt_path);
    if (!dir)
        return rw_fail(err, RW_ENOMEM, "out of memory");
    snprintf(path, n, "%s/adapter_config.json", dir);
    free(dir);
    /* A FIFO or device of that name is no config (opening it could block
     * forever): the default scale, with its warning. */
    struct stat sb;
    if (stat(path, &sb) != 0)
        return errno == ENOENT ? RW_ENOTFOUND
                               : rw_fail(err, RW_EIO, "%s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return RW_ENOTFOUND;
    FILE *f = fopen(path, "rb");
    if (!f)
        return rw_fail(err, RW_EIO, "%s: %s", path, strerror(errno));
    /* PEFT writes about 1 KiB; the cap keeps the buffer on the stack. */
    char buf[65536];
    size_t len = fread(buf, 1, sizeof buf - 1, f);
    bool longer = len == sizeof buf - 1 && fgetc(f) != EOF, failed = ferror(f);
    fclose(f);
    if (failed)
        return rw_fail(err, RW_EIO, "%s: cannot read", path);
    if (longer)
        return rw_fail(err, RW_EDATA, "%s: larger than 64 KiB (not a PEFT adapter config?)",
                       path);
    buf[len] = '\0';
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(buf, len, &end, false);
    if (!j)
        return rw_fail(err, RW_EDATA, "%s: not JSON (error at byte %zu of %zu)", path,
                       end ? (size_t)(end - buf) : (size_t)0, len);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return rw_fail(err, RW_EDATA, "%s: not a JSON object", path);
    }
    *out = j;
    return RW_OK;
}

rw_status adapter_config_scale(const char *ckpt_path, double *scale, rw_err *err)
{
    char path[4096];
    cJSON *j;
    rw_status st = config_load(ckpt_path, path, sizeof path, &j, err);
    if (st != RW_OK)
        return st;
    const cJSON *alpha = cJSON_GetObjectItemCaseSensitive(j, "lora_alpha");
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "r");
    char num[32];
    if (!cJSON_IsNumber(r))
        st = rw_fail(err, RW_EDATA, "%s: r (the LoRA rank) is %s", path,
                     r ? "not a number" : "missing");
    else if (!(r->valuedouble > 0) || !isfinite(r->valuedouble))
        st = rw_fail(err, RW_EDATA, "%s: r (the LoRA rank) is %s, not positive", path,
                     rw_fmt_double(num, r->valuedouble));
    else if (!cJSON_IsNumber(alpha) || !isfinite(alpha->valuedouble))
        st = rw_fail(err, RW_EDATA, "%s: lora_alpha is %s", path,
                     !alpha ? "missing" : cJSON_IsNumber(alpha) ? "infinite" : "not a number");
    else
        *scale = alpha->valuedouble / r->valuedouble;
    cJSON_Delete(j);
    return st;
}

rw_status adapter_config_fan_in_fan_out(const char *ckpt_path, int *fifo, rw_err *err)
{
    char path[4096];
    cJSON *j;
    *fifo = -1;
    rw_status st = config_load(ckpt_path, path, sizeof path, &j, err);
    if (st == RW_ENOTFOUND)
        return RW_OK;
    if (st != RW_OK)
        return st;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, "fan_in_fan_out");
    if (v && !cJSON_IsBool(v))
        st = rw_fail(err, RW_EDATA, "%s: fan_in_fan_out is not true or false", path);
    else if (v)
        *fifo = cJSON_IsTrue(v) ? 1 : 0;
    cJSON_Delete(j);
    return st;
}
