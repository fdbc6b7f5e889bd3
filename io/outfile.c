/*
 * outfile.c — atomic output files (outfile.h).
 */
#include "io/outfile.h"

#include "io/tmpfiles.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static rw_status open_tmp(rw_outfile *o, const char *path, bool want_stdio, rw_err *err);

/* path exists and is a stream: write it in place (outfile.h). */
static rw_status open_stream(rw_outfile *o, const char *path, const struct stat *sb,
                             bool want_stdio, rw_err *err)
{
    if (S_ISDIR(sb->st_mode))
        return rw_fail(err, RW_EIO, "%s: is a directory", path);
    if (!want_stdio)
        return rw_fail(err, RW_EIO, "%s: not a regular file (this output must be a file)", path);
    o->direct = true;
    if (!(o->path = rw_strdup(path)))
        return rw_fail(err, RW_ENOMEM, "out of memory");
    /* A descriptor of ours (/dev/stdout, /dev/fd/N, /proc/self/fd/N): write
     * to a copy of it, at its position, as a shell redirection expects;
     * reopening the name would truncate what the shell wrote before. */
    int fd = -1;
    char *end;
    const char *num = strcmp(path, "/dev/stdout") == 0   ? "1"
                      : strcmp(path, "/dev/stderr") == 0 ? "2"
                      : strncmp(path, "/dev/fd/", 8) == 0 ? path + 8
                      : strncmp(path, "/proc/self/fd/", 14) == 0 ? path + 14
                                                                 : NULL;
    if (num) {
        long n = strtol(num, &end, 10);
        if (end != num && *end == '\0' && n >= 0 && n < 1 << 20)
            fd = dup((int)n);
    }
    o->f = fd >= 0 ? fdopen(fd, "w") : fopen(path, "w");
    if (!o->f && fd >= 0)
        close(fd);
    if (!o->f) {
        rw_status st = rw_fail(err, RW_EIO, "%s: cannot open: %s", path, strerror(errno));
        outfile_abort(o);
        return st;
    }
    return RW_OK;
}

/* The file a chain of symbolic links at path ends in (it may not exist),
 * or NULL when path is no link (or the chain is too long or unreadable). */
static char *link_target(const char *path)
{
    char *cur = NULL;
    struct stat sb;
    for (int hop = 0; hop < 40; hop++) {
        const char *p = cur ? cur : path;
        if (lstat(p, &sb) != 0 || !S_ISLNK(sb.st_mode))
            return cur;
        char buf[4096];
        ssize_t n = readlink(p, buf, sizeof buf - 1);
        if (n <= 0)
            break;
        buf[n] = '\0';
        char *next;
        if (buf[0] == '/') {
            next = rw_strdup(buf);
        } else {
            char *dir = rw_dirname(p);
            next = dir ? rw_path_join(dir, buf) : NULL;
            free(dir);
        }
        free(cur);
        if (!(cur = next))
            return NULL;
    }
    free(cur);
    return NULL;
}

rw_status outfile_open(rw_outfile *o, const char *path, bool want_stdio, rw_err *err)
{
    memset(o, 0, sizeof *o);
    /* /dev/stdout, /dev/fd/N, /proc/self/fd/N: streams even when they lead
     * to a regular file (stdout redirected to one), and links that a rename
     * would replace. */
    struct stat sb;
    bool special = strncmp(path, "/dev/", 5) == 0 || strncmp(path, "/proc/", 6) == 0;
    if (stat(path, &sb) == 0 && (special || !S_ISREG(sb.st_mode)))
        return open_stream(o, path, &sb, want_stdio, err);
    /* A symbolic link: replace the file it names (made if missing), keep
     * the link. */
    char *target = link_target(path);
    rw_status st = open_tmp(o, target ? target : path, want_stdio, err);
    free(target);
    return st;
}

static rw_status open_tmp(rw_outfile *o, const char *path, bool want_stdio, rw_err *err)
{
    o->path = rw_strdup(path);
    o->tmp = tmp_template(path);
    if (!o->path || !o->tmp) {
        outfile_abort(o);
        return rw_fail(err, RW_ENOMEM, "out of memory");
    }
    tmp_sweep_stale(path);
    int fd = mkstemp(o->tmp);
    if (fd >= 0)
        o->reg = tmp_register(o->tmp, false);
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

/* The temporary's bytes on the disk before it takes the final name: a
 * write the disk refuses late (ENOSPC on a delayed allocation, EIO, a
 * quota) fails here rather than after the rename, and a crash after the
 * rename leaves the whole file, not an empty one. */
static rw_status sync_tmp(rw_outfile *o, rw_err *err)
{
    int fd = open(o->tmp, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rw_fail(err, RW_EIO, "%s: cannot write: %s", o->path, strerror(errno));
    int r = fsync(fd);
    int e = errno;
    if (close(fd) != 0 && r == 0) {
        r = -1;
        e = errno;
    }
    return r == 0 ? RW_OK : rw_fail(err, RW_EIO, "%s: cannot write: %s", o->path, strerror(e));
}

rw_status outfile_commit(rw_outfile *o, rw_err *err)
{
    rw_status st = RW_OK;
    if (o->f) {
        /* errno of the write that failed, when ferror says one did */
        int bad = ferror(o->f) | fflush(o->f);
        int e = errno;
        if (fclose(o->f) != 0 && !bad) {
            bad = 1;
            e = errno;
        }
        o->f = NULL;
        if (bad)
            st = rw_fail(err, RW_EIO, "%s: write failed: %s", o->path,
                         e ? strerror(e) : "stream error");
    }
    if (o->direct) {
        outfile_abort(o);
        return st;
    }
    if (st == RW_OK)
        st = sync_tmp(o, err);
    if (st == RW_OK && rename(o->tmp, o->path) != 0)
        st = rw_fail(err, RW_EIO, "%s: cannot rename into place: %s", o->path, strerror(errno));
    if (st == RW_OK) {
        free(o->tmp);
        o->tmp = NULL;
    }
    outfile_abort(o);
    return st;
}

rw_status outfile_write(const char *path, outfile_write_fn fn, void *ctx, rw_err *err)
{
    const char *name = !path || strcmp(path, "-") == 0 ? NULL : path;
    rw_outfile o = {0};
    rw_status st = name ? outfile_open(&o, name, true, err) : RW_OK;
    if (st != RW_OK)
        return st;
    FILE *f = name ? o.f : stdout;
    errno = 0;
    st = fn(f, ctx);
    int e = errno;
    if (st == RW_OK && !name && (ferror(stdout) || fflush(stdout) != 0)) {
        st = RW_EIO;
        e = errno;
    }
    if (st != RW_OK) {
        outfile_abort(&o);
        if (st == RW_ENOMEM)
            return rw_fail(err, st, "out of memory");
        return rw_fail(err, RW_EIO, "%s: write failed%s%s", name ? name : "stdout",
                       e ? ": " : "", e ? strerror(e) : "");
    }
    return name ? outfile_commit(&o, err) : RW_OK;
}

void outfile_abort(rw_outfile *o)
{
    if (o->f)
        fclose(o->f);
    if (o->tmp) {
        unlink(o->tmp);
        free(o->tmp);
    }
    tmp_forget(o->reg);
    free(o->path);
    memset(o, 0, sizeof *o);
}
