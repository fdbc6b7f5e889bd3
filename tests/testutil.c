/*
 * testutil.c — what the cmocka tests share (testutil.h).
 */
#include "tests/testutil.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>

int test_tmpdir_make(char *buf, size_t n, const char *tag)
{
    const char *t = getenv("TMPDIR");
    int len = snprintf(buf, n, "%s/rw-test-%s-XXXXXX", t && *t ? t : "/tmp", tag);
    if (len < 0 || (size_t)len >= n)
        return -1;
    return mkdtemp(buf) ? 0 : -1;
}

static int remove_cb(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(p);
}

int test_tmpdir_remove(const char *dir)
{
    return nftw(dir, remove_cb, 16, FTW_DEPTH | FTW_PHYS);
}
