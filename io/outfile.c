/*
 * outfile.c — atomic output files (outfile.h).
 */
#include "outfile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

rw_status outfile_open(rw_outfile *o, const char *path, bool want_stdio, rw_err *err)
{
    memset(o, 0, sizeof *o);
    char *dir = rw_dirname(path), *base = rw_basename(path, false);
    size_t n = strlen(path) + 32;
    o->path = rw_strdup(path);
    o->tmp = malloc(n);
    if (!dir || !base || !o->path || !o->tmp) {
        free(dir);
        free(base);
        outfile_abort(o);
        return rw_fail(err, RW_ENOMEM, "out of memory");
    }
    snprintf(o->tmp, n, "%s/.%s.XXXXXX", dir, base);
    free(dir);
    free(base);
    int fd = mkstemp(o->tmp);
    if (fd >= 0) {
        /* mkstemp makes 0600; outputs get the usual 0666 less the umask. */
        mode_t mask = umask(0);
        umask(mask);
        fchmod(fd, 0666 & ~mask);
    }
    if (fd < 0) {
        rw_status st = rw_fail(err, RW_EIO, "%s: cannot create: %s", path, strerror(errno));
        free(o->tmp);
        o->tmp = NULL;
        outfile_abort(o);
        return st;
    }
    if (want_stdio) {
        o->f = fdopen(fd, "w");
        if (!o->f) {
            close(fd);
            outfile_abort(o);
            return rw_fail(err, RW_EIO, "%s: cannot create: %s", path, strerror(errno));
        }
    } else {
        close(fd);
    }
    return RW_OK;
}

rw_status outfile_commit(rw_outfile *o, rw_err *err)
{
    rw_status st = RW_OK;
    if (o->f) {
        if (ferror(o->f) | fclose(o->f))
            st = rw_fail(err, RW_EIO, "%s: write failed: %s", o->path, strerror(errno));
        o->f = NULL;
    }
    if (st == RW_OK && rename(o->tmp, o->path) != 0)
        st = rw_fail(err, RW_EIO, "%s: cannot rename into place: %s", o->path, strerror(errno));
    if (st == RW_OK) {
        free(o->tmp);
        o->tmp = NULL;
    }
    outfile_abort(o);
    return st;
}

void outfile_abort(rw_outfile *o)
{
    if (o->f)
        fclose(o->f);
    if (o->tmp) {
        unlink(o->tmp);
        free(o->tmp);
    }
    free(o->path);
    memset(o, 0, sizeof *o);
}
