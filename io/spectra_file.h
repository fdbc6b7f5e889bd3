/*
 * spectra_file.h — the spectra file: singular values of many matrices in one
 * HDF5 file that rw-rank, rw-cond and the others read instead of the
 * checkpoints. The module owns the file's layout (below), its writer
 * (spectra_file_write.c) and its reader (spectra_file_read.c: every file is
 * validated whole at open, as hostile input).
 *
 * Ownership: a writer is freed by spectra_writer_close, a reader by
 * spectra_reader_close. Strings and arrays a reader hands out (entry keys,
 * index lists, the options) are borrowed from it: valid until it is closed,
 * never freed by the caller. What the caller passes in is copied.
 *
 * Layout (version 3; every string fixed-length, NUL-padded UTF-8, at most
 * 64 KiB — version 1 wrote variable-length strings, which are no longer read:
 * libhdf5 reads them through its global heap, where a crafted file crashes
 * or hangs it; version 2 had no noise_fro, without which num_rank cannot be
 * computed as from the checkpoints: refused, rw-spectra writes it again):
 *   /                 attributes format = "rankwatch-spectra", version = 3
 *   /index/<column>   one 1-D dataset per column, N entries, sorted by
 *                     (run, step, tensor, component):
 *                     run, tensor, module, component, dtype, source, kind
 *                     (strings); step, rows, cols, offset, count, ref_step
 *                     (int64); layer (int32); ref_fro, noise_fro (float64)
 *                     kind is weight, update or update_first (spectrum.h);
 *                     for updates ref_step is the step subtracted and ref_fro
 *                     the Frobenius norm of the matrix there; noise_fro is
 *                     rw_spectrum's N (finite, >= 0: num_rank's tolerance)
 *   /sigma            1-D float64: entry i's singular values, descending, are
 *                     sigma[offset[i] .. offset[i] + count[i] - 1]
 *   /sources/<column> the checkpoints analysed: run, path, group (strings),
 *                     step, size, mtime_ns (int64) — what rw-spectra's cache
 *                     is keyed on
 *   data, split       root attributes of a file of gradients (--data):
 *                     "gradients" and "train" or "val"; absent for weights
 *                     (files of weights are as they always were)
 *   options           root attribute: the analysis options the spectra were
 *                     computed with (components, updates, scale, heads,
 *                     selection); a cache is reused only under equal options
 */
#ifndef RW_SPECTRA_FILE_H
#define RW_SPECTRA_FILE_H

#include "io/run.h"
#include "io/spectrum.h"

typedef struct rw_spectra_writer rw_spectra_writer;

/* Starts a spectra file at path (a temporary sibling until committed).
 * *out is the caller's, freed by spectra_writer_close. */
rw_status spectra_writer_open(const char *path, rw_spectra_writer **out, rw_err *err);
/* Appends one spectrum (copied: s and its strings may go after the call). */
rw_status spectra_writer_add(rw_spectra_writer *w, const rw_spectrum *s, rw_err *err);
/* commit: writes the index and renames into place; otherwise discards.
 * Frees w either way. */
rw_status spectra_writer_close(rw_spectra_writer *w, bool commit, rw_err *err);

/* Records a checkpoint the file's spectra came from (the cache key; the
 * strings copied). */
rw_status spectra_writer_source(rw_spectra_writer *w, const char *run, const char *path,
                                const char *group, int64_t step, int64_t size,
                                int64_t mtime_ns, rw_err *err);
/* Sets the options attribute (copied). */
rw_status spectra_writer_options(rw_spectra_writer *w, const char *options, rw_err *err);

/* True when path is an HDF5 file with format = "rankwatch-spectra". */
bool spectra_file_is(const char *path);

/* Calls fn for every entry of this kind whose tensor matches sel and whose
 * component is in comps, a mask of RW_COMP_BIT(c) — or, comps 0, is its
 * matrix's default: rw_comp_default(c, has_full, circuits), has_full when
 * the same run, step, tensor and kind has a full entry (circuits: which OV
 * circuits count, spectrum.h; ignored when comps is not 0). In the file's
 * order (run, step, tensor, component). The spectrum handed to fn, its
 * strings and sigma are valid during the call only. */
rw_status spectra_file_foreach(const char *path, const rw_select *sel, unsigned comps,
                               unsigned circuits, rw_kind kind, rw_spectrum_fn fn, void *ctx,
                               rw_err *err);

/* Random access to a spectra file's entries (validated at open). */
typedef struct rw_spectra_reader rw_spectra_reader;
/* *out is the caller's, freed by spectra_reader_close. */
rw_status spectra_reader_open(const char *path, rw_spectra_reader **out, rw_err *err);
/* Frees r and everything it handed out; NULL is a no-op. */
void spectra_reader_close(rw_spectra_reader *r);
size_t spectra_reader_count(const rw_spectra_reader *r);
/* Entry i's key (i < count): s's strings point into r, valid until close;
 * s->sigma NULL (spectra_reader_sigma reads the values). */
void spectra_reader_entry(const rw_spectra_reader *r, size_t i, rw_spectrum *s);
/* Entry i's singular values into sigma (the caller's, count = s->k doubles);
 * values that fail spectrum_valid are an error naming the entry. */
rw_status spectra_reader_sigma(const rw_spectra_reader *r, size_t i, double *sigma,
                               rw_err *err);
/* What the file's spectra are of: NULL for weights, else "gradients", and
 * *split (unless NULL) "train" or "val" (static strings). Every entry's
 * rw_spectrum carries the same. */
const char *spectra_reader_data(const rw_spectra_reader *r, const char **split);
/* The options attribute (owned by r, valid until close), or NULL. */
const char *spectra_reader_options(const rw_spectra_reader *r);
/* True when the file lists this checkpoint with this size and mtime
 * (O(log n): the sources are indexed at open). */
bool spectra_reader_source(const rw_spectra_reader *r, const char *run, const char *path,
                           const char *group, int64_t step, int64_t size, int64_t mtime_ns);
/* The entries of run at step, in the file's order: their indices are
 * (*idx)[0 .. count - 1] (valid until close); returns count. O(log n). */
size_t spectra_reader_at_step(const rw_spectra_reader *r, const char *run, int64_t step,
                              const size_t **idx);

#endif
