/*
 * diff_walk.c — rw-diff's inputs: two files, or two directories walked for
 * their tables and paired by relative path; the two sides of a pair are read
 * in parallel, the baseline on a thread of its own (diff.h: diff_paths).
 */
#include "analyzers/tables/diff_impl.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    const char *path;
    rw_table *t;
    rw_status st;
    rw_err err;
} read_job;

static void *read_job_run(void *arg)
{
    read_job *j = arg;
    j->st = table_read(j->path, &j->t, &j->err);
    return NULL;
}

/* Reads two tables, the baseline on a second thread. */
static rw_status read_two(const char *bpath, const char *cpath, rw_table **b, rw_table **c,
                          rw_err *err)
{
    read_job jb = {.path = bpath}, jc = {.path = cpath};
    pthread_t th;
    bool threaded = pthread_create(&th, NULL, read_job_run, &jb) == 0;
    if (!threaded)
        read_job_run(&jb);
    read_job_run(&jc);
    if (threaded)
        pthread_join(th, NULL);
    *b = jb.t;
    *c = jc.t;
    if (jb.st != RW_OK || jc.st != RW_OK) {
        *err = jb.st != RW_OK ? jb.err : jc.err;
        table_free(jb.t);
        table_free(jc.t);
        *b = *c = NULL;
        return jb.st != RW_OK ? jb.st : jc.st;
    }
    return RW_OK;
}

static bool is_table_name(const char *name)
{
    size_t n = strlen(name);
    return (n > 4 && strcmp(name + n - 4, ".tsv") == 0) ||
           (n > 4 && strcmp(name + n - 4, ".csv") == 0);
}

typedef struct {
    char **v;
    size_t n, cap;
} str_list;

static void str_list_free(str_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
}

/* Appends the table files under root/rel (relative paths), depth-first. */
static rw_status list_tables(const char *root, const char *rel, int depth, str_list *out,
                             rw_err *err)
{
    char *dir = *rel ? rw_path_join(root, rel) : rw_strdup(root);
    if (!dir)
        return rw_fail(err, RW_ENOMEM, "out of memory");
    DIR *dh = opendir(dir);
    if (!dh) {
        rw_status st = rw_fail(err, RW_EIO, "%s: %s", dir, strerror(errno));
        free(dir);
        return st;
    }
    rw_status st = RW_OK;
    struct dirent *e;
    while (st == RW_OK && (e = readdir(dh))) {
        if (e->d_name[0] == '.')
            continue;
        char *sub = rw_path_join(rel, e->d_name), *full = rw_path_join(dir, e->d_name);
        if (!sub || !full) {
            free(sub);
            free(full);
            st = rw_fail(err, RW_ENOMEM, "out of memory");
            break;
        }
        struct stat sb;
        if (stat(full, &sb) == 0 && S_ISDIR(sb.st_mode) && depth < 16) {
            st = list_tables(root, sub, depth + 1, out, err);
        } else if (stat(full, &sb) == 0 && S_ISREG(sb.st_mode) && is_table_name(e->d_name)) {
            st = rw_grow(&out->v, out->n, &out->cap, sizeof *out->v, err);
            if (st == RW_OK) {
                out->v[out->n++] = sub;
                sub = NULL;
            }
        }
        free(sub);
        free(full);
    }
    closedir(dh);
    free(dir);
    return st;
}

static rw_status diff_dirs(rw_diff *d, const char *base, const char *cur, rw_err *err)
{
    str_list lb = {0}, lc = {0};
    rw_status st = list_tables(base, "", 0, &lb, err);
    if (st == RW_OK)
        st = list_tables(cur, "", 0, &lc, err);
    if (st == RW_OK && lb.n == 0 && lc.n == 0)
        st = rw_fail(err, RW_EDATA, "%s, %s: no tables (*.tsv, *.csv) in either directory",
                     base, cur);
    if (st == RW_OK) {
        if (lb.n)
            qsort(lb.v, lb.n, sizeof *lb.v, rw_cmp_str);
        if (lc.n)
            qsort(lc.v, lc.n, sizeof *lc.v, rw_cmp_str);
    }
    for (size_t i = 0, j = 0; st == RW_OK && (i < lb.n || j < lc.n);) {
        int c = i == lb.n ? 1 : j == lc.n ? -1 : strcmp(lb.v[i], lc.v[j]);
        const char *name = c <= 0 ? lb.v[i] : lc.v[j];
        char *bp = c <= 0 ? rw_path_join(base, name) : NULL;
        char *cp = c >= 0 ? rw_path_join(cur, name) : NULL;
        if ((c <= 0 && !bp) || (c >= 0 && !cp)) {
            free(bp);
            free(cp);
            st = rw_fail(err, RW_ENOMEM, "out of memory");
            break;
        }
        rw_table *tb = NULL, *tc = NULL;
        if (bp && cp)
            st = read_two(bp, cp, &tb, &tc, err);
        else if (bp)
            st = table_read(bp, &tb, err);
        else
            st = table_read(cp, &tc, err);
        if (st == RW_OK)
            st = diff_add_pair(d, name, bp ? bp : name, cp ? cp : name, tb, tc, true, err);
        free(bp);
        free(cp);
        if (c <= 0)
            i++;
        if (c >= 0)
            j++;
    }
    str_list_free(&lb);
    str_list_free(&lc);
    return st;
}

rw_status diff_paths(rw_diff *d, const char *base, const char *cur, rw_err *err)
{
    struct stat sb, sc;
    if (stat(base, &sb) != 0)
        return rw_fail(err, RW_EIO, "%s: %s", base, strerror(errno));
    if (stat(cur, &sc) != 0)
        return rw_fail(err, RW_EIO, "%s: %s", cur, strerror(errno));
    bool db = S_ISDIR(sb.st_mode), dc = S_ISDIR(sc.st_mode);
    if (db != dc)
        return rw_fail(err, RW_EUSAGE, "%s is %s but %s is %s: compare two files or two "
                       "directories", base, db ? "a directory" : "a file", cur,
                       dc ? "a directory" : "a file");
    if (db)
        return diff_dirs(d, base, cur, err);
    rw_table *tb, *tc;
    rw_status st = read_two(base, cur, &tb, &tc, err);
    if (st != RW_OK)
        return st;
    char *name = rw_basename(cur, false);
    if (!name) {
        table_free(tb);
        table_free(tc);
        return rw_fail(err, RW_ENOMEM, "out of memory");
    }
    st = diff_add_pair(d, name, base, cur, tb, tc, false, err);
    free(name);
    return st;
}
