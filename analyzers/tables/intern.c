/*
 * intern.c — distinct strings numbered as they come, then in byte order
 * (intern.h).
 *
 * Open addressing with linear probing on FNV-1a hashes, load at most 1/2.
 */
#include "analyzers/tables/intern.h"

#include <stdlib.h>
#include <string.h>

static uint64_t str_hash(const char *s)
{
    uint64_t h = 14695981039346656037ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h ^ (h >> 32);
}

rw_status intern(interner *in, const char *s, uint32_t *id, rw_err *err)
{
    if (2 * (in->n + 1) > in->mask) { /* grow: load <= 1/2 */
        size_t cap = in->mask ? 2 * (in->mask + 1) : 64;
        uint32_t *slot = rw_calloc(cap, sizeof *slot, err);
        const char **strs = rw_realloc(in->strs, cap / 2 * sizeof *strs, err);
        if (!slot || !strs) {
            free(slot);
            if (strs)
                in->strs = strs;
            return RW_ENOMEM;
        }
        in->strs = strs;
        for (size_t i = 0; i < in->n; i++) {
            size_t j = str_hash(strs[i]) & (cap - 1);
            while (slot[j])
                j = (j + 1) & (cap - 1);
            slot[j] = (uint32_t)i + 1;
        }
        free(in->slot);
        in->slot = slot;
        in->mask = cap - 1;
    }
    size_t j = str_hash(s) & in->mask;
    for (; in->slot[j]; j = (j + 1) & in->mask)
        if (strcmp(in->strs[in->slot[j] - 1], s) == 0) {
            *id = in->slot[j] - 1;
            return RW_OK;
        }
    if (in->n >= UINT32_MAX - 1)
        return rw_fail(err, RW_ENOMEM, "too many distinct names");
    in->strs[in->n] = s;
    in->slot[j] = (uint32_t)in->n + 1;
    *id = (uint32_t)in->n++;
    return RW_OK;
}

rw_status intern_sort(interner *in, uint32_t **rank, rw_err *err)
{
    const char **orig = rw_calloc(in->n ? in->n : 1, sizeof *orig, err);
    *rank = rw_calloc(in->n ? in->n : 1, sizeof **rank, err);
    if (!orig || !*rank) {
        free(orig);
        free(*rank);
        *rank = NULL;
        return RW_ENOMEM;
    }
    memcpy(orig, in->strs, in->n * sizeof *orig);
    qsort(in->strs, in->n, sizeof *in->strs, rw_cmp_str);
    /* Each original string's place, found through the hash slots. */
    for (size_t i = 0; i < in->n; i++) {
        size_t j = str_hash(in->strs[i]) & in->mask;
        while (strcmp(orig[in->slot[j] - 1], in->strs[i]) != 0)
            j = (j + 1) & in->mask;
        (*rank)[in->slot[j] - 1] = (uint32_t)i;
    }
    free(orig);
    return RW_OK;
}

void intern_free(interner *in)
{
    free(in->strs);
    free(in->slot);
}
