/*
 * intern.h — a string interner, private to analyzers/tables (rw-compare's
 * names): distinct strings numbered as they come, then renumbered in byte
 * order, so that records holding the numbers sort by integers.
 *
 * Nothing like it lives in io/ (the hash joins of rw-diff key whole rows, not
 * single names); the FNV-1a hash here is its own.
 *
 * The interner owns its arrays (strs, the slots), freed by intern_free; the
 * strings themselves are borrowed and must outlive it.
 */
#ifndef RW_INTERN_H
#define RW_INTERN_H

#include "io/rw.h"

/* Zero-initialise before the first intern. */
typedef struct {
    const char **strs; /* strs[id]: the strings, by number (borrowed) */
    size_t n;          /* how many */
    uint32_t *slot;    /* id + 1; 0 empty */
    size_t mask;
} interner;

/* *id is the number of s: a new one (n, then n + 1) for a string not seen
 * before. RW_ENOMEM when out of memory or past UINT32_MAX - 1 names. */
rw_status intern(interner *in, const char *s, uint32_t *id, rw_err *err);

/* Sorts in->strs into byte order; *rank (caller frees) maps a first-come id
 * to its new place. The interner is not to be added to afterwards. */
rw_status intern_sort(interner *in, uint32_t **rank, rw_err *err);

void intern_free(interner *in);

#endif
