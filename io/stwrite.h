/*
 * stwrite.h — a small safetensors writer: tensors (name, shape, stored dtype,
 * values given as doubles) and `__metadata__` string pairs, built in memory
 * and written atomically (outfile.h), the header made with cJSON. Also the
 * index.json of a sharded model. Used by the tests and the fixture generator.
 *
 * The file (see ckpt_st.c): 8-byte little-endian header length N, N bytes of
 * JSON header padded with spaces so that the data starts at a multiple of 8,
 * then the tensors' bytes, little-endian, in the order they were added.
 *
 * The whole file is held in memory until it is written: fine for fixtures,
 * not meant for models larger than memory.
 */
#ifndef RW_STWRITE_H
#define RW_STWRITE_H

#include "rw.h"

typedef struct rw_stw rw_stw;

/* A new, empty file; NULL when out of memory. Free with stw_free. */
rw_stw *stw_new(void);
void stw_free(rw_stw *w);

/* Adds a `__metadata__` pair (key not yet added; RW_EUSAGE otherwise). */
rw_status stw_meta(rw_stw *w, const char *key, const char *value, rw_err *err);

/* Adds a tensor of ndim (0..8) dims: values are numel doubles in C order,
 * stored as dtype: RW_DT_F16 / RW_DT_BF16 rounded to nearest even, RW_DT_F32
 * rounded, RW_DT_F64 exact, RW_DT_INT as I32 (values must be integers in
 * range). RW_EUSAGE for a name already added, "__metadata__", a bad shape or
 * RW_DT_OTHER. */
rw_status stw_tensor(rw_stw *w, const char *name, int ndim, const int64_t *shape,
                     rw_dtype dtype, const double *values, rw_err *err);

/* Adds a tensor whose dtype is any safetensors name ("F16", "U8", "F8_E4M3",
 * or one the reader does not know) and whose nbytes bytes are stored as
 * given: nothing checks that they fit shape and dtype (tests use this to
 * write exact bit patterns and inconsistent files). */
rw_status stw_tensor_raw(rw_stw *w, const char *name, const char *dtype, int ndim,
                         const int64_t *shape, const void *bytes, size_t nbytes,
                         rw_err *err);

/* The file's bytes: *out (owned by the caller, free) of *n bytes. */
rw_status stw_bytes(const rw_stw *w, uint8_t **out, size_t *n, rw_err *err);

/* Writes the file to path atomically (a temporary sibling renamed into
 * place; nothing is left behind on failure). */
rw_status stw_save(const rw_stw *w, const char *path, rw_err *err);

/* Writes a sharded model's index (model.safetensors.index.json): weight_map
 * maps tensors[i] to the shard file name shards[i], n entries. Atomic. */
rw_status stw_index(const char *path, size_t n, const char *const *tensors,
                    const char *const *shards, rw_err *err);

#endif
