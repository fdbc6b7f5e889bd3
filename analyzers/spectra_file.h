/*
 * spectra_file.h — the spectra file: singular values of many matrices in one
 * HDF5 file that rw-rank, rw-cond and the others read instead of the
 * checkpoints.
 *
 * Layout (version 1):
 *   /                 attributes format = "rankwatch-spectra", version = 1
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
 */
#ifndef RW_SPECTRA_FILE_H
#define RW_SPECTRA_FILE_H

#include "pipeline.h"

typedef struct rw_spectra_writer rw_spectra_writer;

/* Starts a spectra file at path (a temporary sibling until committed). */
rw_status spectra_writer_open(const char *path, rw_spectra_writer **out, rw_err *err);
/* Appends one spectrum (copied). */
rw_status spectra_writer_add(rw_spectra_writer *w, const rw_spectrum *s, rw_err *err);
/* commit: writes the index and renames into place; otherwise discards.
 * Frees w either way. */
rw_status spectra_writer_close(rw_spectra_writer *w, bool commit, rw_err *err);

/* True when path is an HDF5 file with format = "rankwatch-spectra". */
bool spectra_file_is(const char *path);

/* Calls fn for every entry of this kind whose tensor matches sel and whose
 * component is in comps (0: each matrix's default — weight, full, and lora
 * where the same tensor has no full), in the file's order (run, step,
 * tensor, component). */
rw_status spectra_file_foreach(const char *path, const rw_select *sel, unsigned comps,
                               rw_kind kind, rw_spectrum_fn fn, void *ctx, rw_err *err);

#endif
