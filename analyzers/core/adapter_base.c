/*
 * adapter_base.c — the frozen base of adapter-only checkpoints: where it
 * comes from, its open handle shared by the checkpoints that use it, and
 * the names its tensors have (adapter_base.h).
 */
#include "analyzers/core/adapter_base.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *rw_base_source(const char *flag, const rw_ckpt_ref *ref, bool *beside)
{
    if (beside)
        *beside = !flag && ref && ref->base;
    return flag ? flag : ref ? ref->base : NULL;
}

static const char peft_prefix[] = "base_model.model.";

long rw_base_find(const rw_ckpt *base, const char *name, size_t len)
{
    static const char *const pre[] = {"", peft_prefix};
    static const char *const suf[] = {".weight", ".base_layer.weight"};
    size_t plen = sizeof peft_prefix - 1;
    if (len > plen && strncmp(name, peft_prefix, plen) == 0) {
        name += plen;
        len -= plen;
    }
    char buf[1024];
    for (int drop = 0; drop < 2; drop++) {
        const char *x = name;
        size_t n = len;
        if (drop) { /* HF's base_model_prefix: transformer.h.0... -> h.0... */
            const char *dot = memchr(name, '.', len);
            if (!dot || dot + 1 == name + len)
                break;
            x = dot + 1;
            n = len - (size_t)(x - name);
        }
        for (size_t p = 0; p < 2; p++)
            for (size_t s = 0; s < 2; s++) {
                int w = snprintf(buf, sizeof buf, "%s%.*s%s", pre[p], (int)n, x, suf[s]);
                long i = w > 0 && (size_t)w < sizeof buf ? ckpt_find(base, buf) : -1;
                if (i >= 0)
                    return i;
            }
    }
    return -1;
}

rw_status bases_acquire(rw_bases *b, const char *path, rw_ckpt **out, rw_err *err)
{
    *out = NULL;
    for (size_t i = 0; i < b->n; i++)
        if (strcmp(b->v[i].path, path) == 0) {
            b->v[i].users++;
            *out = b->v[i].c;
            return RW_OK;
        }
    if (rw_grow(&b->v, b->n, &b->cap, sizeof *b->v, err) != RW_OK)
        return RW_ENOMEM;
    rw_base_slot *s = &b->v[b->n];
    if (!(s->path = rw_strdup(path)))
        return rw_fail(err, RW_ENOMEM, "out of memory");
    rw_status st = ckpt_open(path, NULL, &s->c, err);
    if (st != RW_OK) {
        free(s->path);
        return st;
    }
    s->users = 1;
    b->n++;
    *out = s->c;
    return RW_OK;
}

void bases_release(rw_bases *b, rw_ckpt *c)
{
    for (size_t i = 0; c && i < b->n; i++) {
        if (b->v[i].c != c)
            continue;
        if (--b->v[i].users == 0) {
            ckpt_free(c);
            free(b->v[i].path);
            b->v[i] = b->v[--b->n];
        }
        return;
    }
}

void bases_free(rw_bases *b)
{
    for (size_t i = 0; i < b->n; i++) {
        ckpt_free(b->v[i].c);
        free(b->v[i].path);
    }
    free(b->v);
    memset(b, 0, sizeof *b);
}
