/*
 * testutil.c — what the cmocka tests share (testutil.h).
 */
#include "tests/testutil.h"

#include <ftw.h>
#include <math.h>
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

double test_spec_norm(const double *x, int rows, int cols, int ld)
{
    double v[64], y[64], xv[4096], lam = 0;
    if (cols > 64 || rows > 4096)
        return NAN;
    for (int j = 0; j < cols; j++)
        v[j] = 1.0 + 0.37 * j;
    for (int it = 0; it < 20000; it++) {
        double ny = 0;
        for (int i = 0; i < rows; i++) {
            xv[i] = 0;
            for (int j = 0; j < cols; j++)
                xv[i] += x[i * ld + j] * v[j];
        }
        for (int j = 0; j < cols; j++) {
            y[j] = 0;
            for (int i = 0; i < rows; i++)
                y[j] += x[i * ld + j] * xv[i];
            ny += y[j] * y[j];
        }
        ny = sqrt(ny); /* ||X^T X v||, v of norm 1: tends to sigma_1^2 */
        if (ny == 0)
            return 0;
        lam = ny;
        for (int j = 0; j < cols; j++)
            v[j] = y[j] / ny;
    }
    return sqrt(lam);
}
