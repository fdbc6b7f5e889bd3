/*
 * spectra_file.h — the spectra file: singular values of many matrices in one
 * HDF5 file that rw-rank, rw-cond and the others read instead of the
 * checkpoints.
 *
 * Layout (version 2; every string fixed-length, NUL-padded UTF-8, at most
 * 64 KiB — version 1 wrote variable-length strings, which are no longer read:
 * libhdf5 reads them through its global heap, where a crafted file crashes
 * or hangs it):
 *   /                 attributes format = "rankwatch-spectra", version = 2
 *   /index/<column>   one 1-D dataset per column, N entries, sorted by
 *                     (run, step, tensor, component):
 *                     run, tensor, module, component, dtype, source, kind
 *                     (strings); step, rows, cols, offset, count, ref_step
 *                     (int64); layer (int32); ref_fro (float64)
 *                     kind is weight, update or update_first (pipeline.h);
 *                     for updates ref_step is the step subtracted and ref_fro
 *                     the Frobenius norm of the matrix there
 *   /sigma            1-D float64: entry i's singular values, descending, are
 *                     sigma[offset[i] .. offset[i] + count[i] - 1]
 *   /sources/<column> the checkpoints analysed: run, path, group (strings),
 *                     step, size, mtime_ns (int64) — what rw-spectra's cache
 *                     is keyed on
 *   options           root attribute: the analysis options the spectra were
 *                     computed with (components, updates, scale, heads,
 *                     selection); a cache is reused only under equal options
 */
#ifndef RW_SPECTRA_FILE_H
#define RW_SPECTRA_FILE_H

#include "analyzers/core/pipeline.h"

typedef struct rw_spectra_writer rw_spectra_writer;

/* Starts a spectra file at path (a temporary sibling until committed). */
rw_status spectra_writer_open(const char *path, rw_spectra_writer **out, rw_err *err);
/* Appends one spectrum (copied). */
rw_status spectra_writer_add(rw_spectra_writer *w, const rw_spectrum *s, rw_err *err);
/* commit: writes the index and renames into place; otherwise discards.
 * Frees w either way. */
rw_status spectra_writer_close(rw_spectra_writer *w, bool commit, rw_err *err);

/* Records a checkpoint the file's spectra came from (the cache key). */
rw_status spectra_writer_source(rw_spectra_writer *w, const char *run, const char *path,
                                const char *group, int64_t step, int64_t size,
                                int64_t mtime_ns, rw_err *err);
/* Sets the options attribute. */
rw_status spectra_writer_options(rw_spectra_writer *w, const char *options, rw_err *err);

/* True when path is an HDF5 file with format = "rankwatch-spectra". */
bool spectra_file_is(const char *path);

/* Calls fn for every entry of this kind whose tensor matches sel and whose
 * component is in comps (0: each matrix's default — weight, full, and lora
 * where the same tensor has no full), in the file's order (run, step,
 * tensor, component). */
rw_status spectra_file_foreach(const char *path, const rw_select *sel, unsigned comps,
                               rw_kind kind, rw_spectrum_fn fn, void *ctx, rw_err *err);

/* Random access to a spectra file's entries (validated at open). */
typedef struct rw_spectra_reader rw_spectra_reader;
rw_status spectra_reader_open(const char *path, rw_spectra_reader **out, rw_err *err);
void spectra_reader_close(rw_spectra_reader *r);
size_t spectra_reader_count(const rw_spectra_reader *r);
/* Entry i's key (pointers valid until close; s->sigma NULL). */
void spectra_reader_entry(const rw_spectra_reader *r, size_t i, rw_spectrum *s);
/* Entry i's singular values into sigma (count doubles). */
rw_status spectra_reader_sigma(const rw_spectra_reader *r, size_t i, double *sigma,
                               rw_err *err);
/* The options attribute, or NULL. */
const char *spectra_reader_options(const rw_spectra_reader *r);
/* True when the file lists this checkpoint with this size and mtime
 * (O(log n): the sources are indexed at open). */
bool spectra_reader_source(const rw_spectra_reader *r, const char *run, const char *path,
                           const char *group, int64_t step, int64_t size, int64_t mtime_ns);
/* The entries of run at step, in the file's order: their indices are
 * (*idx)[0 .. count - 1] (valid until close); returns count. O(log n). */
size_t spectra_reader_at_step(const rw_spectra_reader *r, const char *run, int64_t step,
                              const size_t **idx);

/* A spectrum as rw-spectra writes it: k singular values, finite, >= 0 and
 * descending, or all nan (a matrix with non-finite entries, pipeline.h).
 * The rule for every spectrum read back, from a spectra file or a table. */
bool spectrum_valid(const double *sigma, size_t k);

#endif
