/*
 * tmpfiles.h — the temporary files and folders this process has made, so
 * that an interrupted program leaves none behind, and a later one can
 * remove those that a killed program left.
 *
 * Every temporary is named `.<name>.rw<pid>.<random>` beside the output
 * <name> it becomes (outfile.h, gnuplot.h's staging folder). While it
 * lives it is registered here; a program's signal thread (the programs'
 * cli.c) calls tmp_remove_all on SIGINT, SIGTERM or SIGHUP. A program
 * killed outright (SIGKILL, a crash) leaves its temporaries: the next one
 * that writes the same output removes those whose pid is no longer alive
 * (tmp_sweep_stale).
 *
 * Ownership: the table keeps its own copies of the registered paths; the
 * caller's strings are never kept.
 */
#ifndef RW_TMPFILES_H
#define RW_TMPFILES_H

#include "io/rw.h"

#include <sys/types.h>

/* The template for a temporary of path (a file or folder): "DIR/.BASE.rwPID.XXXXXX"
 * for mkstemp/mkdtemp. A new string (caller frees), NULL when out of memory. */
char *tmp_template(const char *path);

/* Registers a temporary (a copy of path is kept) until tmp_forget. A folder
 * is removed with what it holds (one level: files). Returns a handle for
 * tmp_forget (> 0), or 0 when the table is full (the temporary is then not
 * removed on a signal, only by a later sweep). */
int tmp_register(const char *path, bool is_dir);
/* The temporary was renamed into place or removed: no longer ours.
 * tmp_forget(0) does nothing. */
void tmp_forget(int handle);
/* The child process (gnuplot) to stop before removing, or 0 for none. */
void tmp_set_child(pid_t pid);
/* Stops the child and removes every registered temporary. For the signal
 * thread: it takes the table's lock, so never call it with the lock held. */
void tmp_remove_all(void);
/* Removes the temporaries of path left by processes that no longer exist
 * (`.BASE.rwPID.*` beside it, PID not alive). Best effort: errors are
 * ignored, and nothing else is touched. */
void tmp_sweep_stale(const char *path);

#endif
