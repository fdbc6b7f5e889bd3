/*
 * outfile.h — output files that appear whole or not at all: write to a
 * temporary file in the same directory, then rename it into place. A path
 * that names an existing non-regular file (/dev/stdout, a FIFO) is written
 * directly instead: a stream cannot be replaced atomically, and renaming
 * over it would replace the device node.
 *
 * The temporary is `.NAME.rwPID.XXXXXX` and registered (tmpfiles.h): a
 * program interrupted by a signal removes it, and the next program to
 * write NAME removes those left by killed programs.
 *
 * Ownership: an rw_outfile owns its two names and its stream from
 * outfile_open until outfile_commit or outfile_abort, either of which
 * closes the stream, frees the names and zeroes it.
 */
#ifndef RW_OUTFILE_H
#define RW_OUTFILE_H

#include "io/rw.h"

#include <stdio.h>

typedef struct {
    char *path;   /* final name (owned) */
    char *tmp;    /* temporary name (owned) */
    FILE *f;      /* open on tmp (stdio), or on path when direct */
    bool direct;  /* path is a stream: written in place, no temporary */
    int reg;      /* tmp's registration for removal on a signal (tmpfiles.h), 0: none */
} rw_outfile;

/* Creates path's temporary sibling; with want_stdio, o->f is open on it.
 * A stream path is opened directly, and only with want_stdio (an HDF5 file
 * cannot be written to a stream: error). */
rw_status outfile_open(rw_outfile *o, const char *path, bool want_stdio, rw_err *err);
/* Closes and renames into place; on any failure removes the temporary. */
rw_status outfile_commit(rw_outfile *o, rw_err *err);
/* Closes and removes the temporary. Safe on a zeroed struct. */
void outfile_abort(rw_outfile *o);

/* Writes an output through fn: to path atomically, or to stdout when path
 * is NULL or "-". fn returns RW_OK, or RW_ENOMEM / RW_EIO when it could not
 * write everything; then, or when a write fails, the error names the output
 * ("stdout: write failed: ...") and nothing is left at path. */
typedef rw_status (*outfile_write_fn)(FILE *f, void *ctx);
rw_status outfile_write(const char *path, outfile_write_fn fn, void *ctx, rw_err *err);

#endif
