/*
 * tmpfiles.c — registered temporaries, their removal on a signal, and the
 * sweep of those that killed processes left (tmpfiles.h).
 */
#include "io/tmpfiles.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A handful at once: an output file, a figure's staging folder, a spectra
 * cache being rewritten. */
#define TMP_SLOTS 32

static pthread_mutex_t tmp_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char *path;
    bool is_dir;
} tmp_tab[TMP_SLOTS];
static pid_t tmp_child;

char *tmp_template(const char *path)
{
    char *dir = rw_dirname(path), *base = rw_basename(path, false);
    size_t n = (dir ? strlen(dir) : 0) + (base ? strlen(base) : 0) + 48;
    char *t = dir && base ? malloc(n) : NULL;
    if (t)
        snprintf(t, n, "%s/.%s.rw%ld.XXXXXX", dir, base, (long)getpid());
    free(dir);
    free(base);
    return t;
}

int tmp_register(const char *path, bool is_dir)
{
    char *copy = rw_strdup(path);
    if (!copy)
        return -1;
    pthread_mutex_lock(&tmp_mu);
    int h = 0;
    for (int i = 0; i < TMP_SLOTS && !h; i++)
        if (!tmp_tab[i].path) {
            tmp_tab[i].path = copy;
            tmp_tab[i].is_dir = is_dir;
            h = i + 1;
        }
    pthread_mutex_unlock(&tmp_mu);
    if (!h)
        free(copy);
    return h;
}

void tmp_forget(int handle)
{
    if (handle < 1 || handle > TMP_SLOTS)
        return;
    pthread_mutex_lock(&tmp_mu);
    free(tmp_tab[handle - 1].path);
    tmp_tab[handle - 1].path = NULL;
    pthread_mutex_unlock(&tmp_mu);
}

void tmp_set_child(pid_t pid)
{
    pthread_mutex_lock(&tmp_mu);
    tmp_child = pid;
    pthread_mutex_unlock(&tmp_mu);
}

/* A folder of ours and the files in it (staging folders hold no folders). */
static void remove_dir(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                char *p = rw_path_join(path, e->d_name);
                if (p) {
                    unlink(p);
                    free(p);
                }
            }
        closedir(d);
    }
    rmdir(path);
}

void tmp_remove_all(void)
{
    pthread_mutex_lock(&tmp_mu);
    if (tmp_child > 0) {
        /* gnuplot writes into a staging folder: stop it before removing. */
        kill(tmp_child, SIGKILL);
        tmp_child = 0;
    }
    for (int i = 0; i < TMP_SLOTS; i++)
        if (tmp_tab[i].path) {
            if (tmp_tab[i].is_dir)
                remove_dir(tmp_tab[i].path);
            else
                unlink(tmp_tab[i].path);
            free(tmp_tab[i].path);
            tmp_tab[i].path = NULL;
        }
    pthread_mutex_unlock(&tmp_mu);
}

/* The pid of a temporary's name `.BASE.rwPID.XXXXXX` (6 characters after
 * the last dot), or 0 when name is not one of base's temporaries. */
static long stale_pid(const char *name, const char *base)
{
    size_t nb = strlen(base), n = strlen(name);
    if (n < nb + 12 || name[0] != '.' || strncmp(name + 1, base, nb) != 0 ||
        strncmp(name + 1 + nb, ".rw", 3) != 0)
        return 0;
    const char *p = name + nb + 4, *dot = strchr(p, '.');
    if (!dot || dot == p || strlen(dot + 1) != 6)
        return 0;
    long pid = 0;
    for (const char *c = p; c < dot; c++) {
        if (*c < '0' || *c > '9' || pid > 1L << 31)
            return 0;
        pid = pid * 10 + (*c - '0');
    }
    return pid;
}

void tmp_sweep_stale(const char *path)
{
    char *dir = rw_dirname(path), *base = rw_basename(path, false);
    DIR *d = dir && base ? opendir(dir) : NULL;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            long pid = stale_pid(e->d_name, base);
            /* alive (or not ours to signal): keep it */
            if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH)
                continue;
            char *p = rw_path_join(dir, e->d_name);
            struct stat sb;
            if (p) {
                if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
                    remove_dir(p);
                else if (lstat(p, &sb) == 0 && S_ISREG(sb.st_mode))
                    unlink(p);
                free(p);
            }
        }
        closedir(d);
    }
    free(dir);
    free(base);
}
