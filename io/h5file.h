/*
 * h5file.h — what every HDF5 user of rankwatch shares: the library set up
 * once (errors reported by us, not printed by HDF5; no clean-up at exit),
 * and HDF5 output files that appear whole or not at all.
 *
 * Why no clean-up at exit: when H5Fclose fails (a full disk), libhdf5 keeps
 * the half-closed file in its tables and its exit handler then crashes on it
 * (SIGSEGV in H5F__close_cb, libhdf5 1.10). rankwatch closes every object it
 * opens, so the handler has nothing to do for it.
 *
 * Ownership: an rw_h5out owns its outfile (names) and its HDF5 file from
 * rw_h5out_create until rw_h5out_close, which closes and frees both.
 */
#ifndef RW_H5FILE_H
#define RW_H5FILE_H

#include "io/outfile.h"
#include "io/rw.h"

#include <hdf5.h>

/* Silences HDF5's own error printing (each failure is reported once, by the
 * caller, as an rw_err). Cheap; call before HDF5 work. */
void rw_h5_init(void);

/* An HDF5 file being written: created as a temporary sibling of its path,
 * renamed into place by rw_h5out_close. */
typedef struct {
    rw_outfile out; /* out.path: the final name (for messages) */
    hid_t file;     /* open on out.tmp; H5I_INVALID_HID when none */
} rw_h5out;

rw_status rw_h5out_create(rw_h5out *o, const char *path, rw_err *err);
/* Why the HDF5 call just made failed, for a message: the system's reason
 * when the call set errno (clear errno before it; strerror's string, valid
 * until the next strerror), else what itself. */
const char *rw_h5_reason(const char *what);
/* Closes the file; with commit, checks that every write reached the disk
 * (flush, close, fsync) and renames it into place, else removes it. Every
 * object opened in the file must be closed before. Without commit, or on
 * any failure, no file is left behind. Safe on a zeroed struct. */
rw_status rw_h5out_close(rw_h5out *o, bool commit, rw_err *err);

#endif
