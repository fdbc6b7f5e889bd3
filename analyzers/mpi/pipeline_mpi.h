/*
 * pipeline_mpi.h — rw_analyze across the processes (ranks) of an MPI job,
 * for rw-spectra-mpi. Built only with `make MPI=1` (mpicc); nothing else
 * links it. Programs only: it installs reporters and ends MPI.
 *
 * Every rank lists the same runs (a shared file system) and walks them as
 * rw_analyze does; the jobs are the selected items of the checkpoints not
 * reused, numbered in that walk order (an item's weight spectrum and its
 * updates, whose reference matrices the rank reads itself). Rank 0 hands
 * them out one at a time to whichever rank asks — a rank asks only when
 * one of its -j workers is free (ring_wait_room), so big and small matrices
 * mix — computes its share too, and receives every spectrum; its caller's
 * callback gets them in the order rw_analyze would give them, so the
 * spectra file is the one `rw-spectra -j 1` writes. A rank's failure stops
 * every rank; rank 0 returns its error (one line naming the file).
 *
 * Threads: rank 0 runs a coordinator thread that makes every MPI call while
 * the analysis runs (MPI_THREAD_SERIALIZED); the caller's callback and all
 * HDF5 stay on the thread that called rw_mpi_analyze.
 */
#ifndef RW_PIPELINE_MPI_H
#define RW_PIPELINE_MPI_H

#include "analyzers/core/pipeline.h"

/* MPI_Init_thread, then this rank's reporter: rank 0 writes warnings on
 * stderr, each distinct line once (the ranks' walks warn alike); the other
 * ranks send theirs to rank 0 and write nothing on stdout or stderr (their
 * usage errors and --help are rank 0's too). Call first; returns the rank,
 * or -1 when MPI lacks thread support (after saying so). */
int rw_mpi_start(int *argc, char ***argv, const char *prog);

/* rw_analyze across the ranks (see above), called by every rank with st,
 * how far it got (RW_OK or its failure in err). o->reuse is asked on rank 0
 * only, for every checkpoint, before anything is computed; fn is called on
 * rank 0 only. o->jobs 0: the cores of the node shared among its ranks. */
rw_status rw_mpi_analyze(rw_status st, const rw_runset *rs, const rw_analysis_opts *o,
                         rw_spectrum_fn fn, void *ctx, rw_err *err);

/* Every rank's exit code ret in; the largest out, on every rank; ends MPI. */
int rw_mpi_finish(int ret);

#endif
