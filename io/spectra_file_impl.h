/*
 * spectra_file_impl.h — what the writer (spectra_file_write.c) and the
 * reader (spectra_file_read.c) of spectra files share, private to them: the
 * format's name, version and string limit (the layout: spectra_file.h).
 */
#ifndef RW_SPECTRA_FILE_IMPL_H
#define RW_SPECTRA_FILE_IMPL_H

#define SPECTRA_FORMAT "rankwatch-spectra"
/* Version 2: every string fixed-length (version 1's were variable-length,
 * which libhdf5 reads through its global heap: a crafted heap crashes or
 * hangs it, docs/reliability.md). */
#define SPECTRA_VERSION 3
/* The longest string a spectra file may hold (names, paths, options). */
#define SPECTRA_STR_MAX 65536

#endif
