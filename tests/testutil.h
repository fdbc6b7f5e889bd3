/*
 * testutil.h — what the cmocka tests share: scratch directories, a spectral
 * norm computed independently of the library.
 */
#ifndef RW_TESTUTIL_H
#define RW_TESTUTIL_H

#include <stddef.h>

/* Makes a fresh directory $TMPDIR/rw-test-TAG-XXXXXX (/tmp without TMPDIR)
 * and writes its path into buf (n bytes). 0 on success, -1 otherwise. */
int test_tmpdir_make(char *buf, size_t n, const char *tag);

/* Removes dir and everything in it, following no symbolic link. 0 on
 * success. */
int test_tmpdir_remove(const char *dir);

/* ||X||_2 of the rows x cols block at x (row-major, leading dimension ld)
 * by power iteration on X^T X (at most 64 columns), 20000 steps from a
 * fixed start: an independent check of the library's Gram eigenvalue. */
double test_spec_norm(const double *x, int rows, int cols, int ld);

#endif
