/*
 * h5write.h — a small HDF5 checkpoint writer: datasets at slash paths (groups
 * made as needed) in any of the float dtypes rankwatch reads, and root or
 * group attributes. Used by rw-fixture and the tests; the file appears
 * atomically on h5w_close(w, true).
 */
#ifndef RW_H5WRITE_H
#define RW_H5WRITE_H

#include "rw.h"

typedef struct rw_h5w rw_h5w;

rw_status h5w_open(const char *path, rw_h5w **out, rw_err *err);
/* Writes values (numel doubles, C order) as a dataset of the given shape and
 * stored dtype (float16/bfloat16 rounded to nearest even; RW_DT_INT stores
 * int32). gzip > 0 stores it chunked and deflate-compressed at that level. */
rw_status h5w_dataset(rw_h5w *w, const char *path, int ndim, const int64_t *shape,
                      rw_dtype dtype, const double *values, int gzip, rw_err *err);
/* Declares a dataset of that shape and dtype, chunked (at most 1000 along
 * each dimension), and writes none of its values: what a save cut short
 * leaves, for testing that readers refuse it. */
rw_status h5w_dataset_unwritten(rw_h5w *w, const char *path, int ndim, const int64_t *shape,
                                rw_dtype dtype, rw_err *err);
/* Attributes on the object at path ("/" for the root). */
rw_status h5w_attr_i64(rw_h5w *w, const char *path, const char *name, int64_t v, rw_err *err);
rw_status h5w_attr_f64(rw_h5w *w, const char *path, const char *name, double v, rw_err *err);
rw_status h5w_attr_str(rw_h5w *w, const char *path, const char *name, const char *v,
                       rw_err *err);
/* commit: close and rename into place; otherwise remove. Frees w. */
rw_status h5w_close(rw_h5w *w, bool commit, rw_err *err);

#endif
