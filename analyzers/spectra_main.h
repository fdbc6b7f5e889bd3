/*
 * spectra_main.h — the body of rw-spectra, shared with rw-spectra-mpi
 * (analyzers/mpi/): the options, the cache (an existing spectra file
 * written with the same options), the spectra file or the long table.
 * Programs only (linked from librwprograms.a); it returns the exit code
 * and owns nothing past its return.
 */
#ifndef RW_SPECTRA_MAIN_H
#define RW_SPECTRA_MAIN_H

#include "analyzers/core/pipeline.h"

/* The options both programs take, for their --help (after RW_CLI_SELECT_HELP). */
#define RW_SPECTRA_OPTIONS_HELP                                                            \
    "  --updates           also the spectra of the updates (for rw-updates)\n"              \
    "  --from-first        also the spectra of W(step) - W(first step)\n"                   \
    "  --recompute         ignore an existing SPECTRA.h5\n"

/* How the body runs: in one process (rw-spectra: writer, no hooks), or as
 * one of the processes of rw-spectra-mpi. */
typedef struct {
    const char *prog, *usage;
    bool writer;            /* this process reads the cache, writes the output
                               and prints errors: rw-spectra; rank 0 */
    bool h5_only;           /* a long table (-o TABLE) is a usage error */
    /* NULL: rw_analyze. Else its form across processes, called by every one
     * of them with st, how far the process got (RW_OK, or its failure with
     * err saying which); fn is called on the writer only. */
    rw_status (*analyze)(rw_status st, const rw_runset *rs, const rw_analysis_opts *o,
                         rw_spectrum_fn fn, void *ctx, rw_err *err);
    /* NULL: none. Else called by every process with its exit code; returns
     * the one they all exit with. */
    int (*finish)(int ret);
} rw_spectra_driver;

/* rw-spectra's main, run as d says. */
int rw_spectra_main(int argc, char **argv, const rw_spectra_driver *d);

#endif
