/*
 * testutil.h — what the cmocka tests share: scratch directories.
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

#endif
