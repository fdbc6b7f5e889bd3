/*
 * run.c — run discovery (run.h).
 */
#include "io/run.h"

#include "io/ckpt.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

bool rw_is_ckpt_name(const char *name)
{
    return rw_ends_with(name, ".h5", NULL) || rw_ends_with(name, ".hdf5", NULL) ||
           rw_ends_with(name, ".safetensors", NULL) ||
           rw_ends_with(name, ".safetensors.index.json", NULL);
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A growable list of (path, group) pairs. */
typedef struct {
    rw_ckpt_ref *v;
    size_t n, cap;
} ref_list;

static rw_status refs_push(ref_list *l, const char *path, const char *group, rw_err *err)
{
    if (rw_grow(&l->v, l->n, &l->cap, sizeof *l->v, err) != RW_OK)
        return RW_ENOMEM;
    rw_ckpt_ref *r = &l->v[l->n];
    r->path = rw_strdup(path);
    r->group = group ? rw_strdup(group) : NULL;
    r->step = -1;
    if (!r->path || (group && !r->group)) {
        free(r->path);
        free(r->group);
        return rw_fail(err, RW_ENOMEM, "out of memory");
    }
    l->n++;
    return RW_OK;
}

static void refs_free(ref_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].path);
        free(l->v[i].group);
    }
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

/* Sorted names of the entries of dir (no hidden ones). */
static rw_status list_dir(const char *dir, char ***out, size_t *n, rw_err *err)
{
    *out = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return rw_fail(err, RW_EIO, "%s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t cap = 0;
    struct dirent *e;
    rw_status st = RW_OK;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 32;
            char **nn = rw_realloc(names, cap * sizeof *nn, err);
            if (!nn) {
                st = RW_ENOMEM;
                break;
            }
            names = nn;
        }
        if (!(names[*n] = rw_strdup(e->d_name))) {
            st = rw_fail(err, RW_ENOMEM, "out of memory");
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (st == RW_OK && *n > 1)
        qsort(names, *n, sizeof *names, rw_cmp_str);
    *out = names;
    return st;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

/* Adds one checkpoint file: an HDF5 file of step groups adds each group. */
static rw_status add_file(ref_list *l, const char *path, bool *had_groups, rw_err *err)
{
    char **groups;
    int64_t *steps;
    size_t n;
    rw_status st = ckpt_step_groups(path, &groups, &steps, &n, err);
    if (st != RW_OK)
        return st;
    for (size_t i = 0; i < n && st == RW_OK; i++) {
        st = refs_push(l, path, groups[i], err);
        if (st == RW_OK)
            l->v[l->n - 1].step = steps[i];
    }
    free_names(groups, n);
    free(steps);
    if (n > 0) {
        if (had_groups)
            *had_groups = true;
        return st;
    }
    return refs_push(l, path, NULL, err);
}

/* The shard files that the sharded models' indexes among names (entries of
 * dir) map tensors to: they are parts of their index's checkpoint, not
 * checkpoints of their own. */
static rw_status dir_shards(const char *dir, char **names, size_t n, char ***shards,
                            size_t *nshards, rw_err *err)
{
    *shards = NULL;
    *nshards = 0;
    rw_status st = RW_OK;
    for (size_t i = 0; i < n && st == RW_OK; i++) {
        if (!rw_ends_with(names[i], ".safetensors.index.json", NULL))
            continue;
        char *p = rw_path_join(dir, names[i]), **v = NULL;
        size_t m = 0;
        st = p ? ckpt_shard_files(p, &v, &m, err) : rw_fail(err, RW_ENOMEM, "out of memory");
        free(p);
        char **all = st == RW_OK ? rw_realloc(*shards, (*nshards + m) * sizeof *all, err) : NULL;
        if (st == RW_OK && !all)
            st = RW_ENOMEM;
        if (all) {
            memcpy(all + *nshards, v, m * sizeof *v);
            *shards = all;
            *nshards += m;
            free(v);
        } else {
            free_names(v, m);
        }
    }
    return st;
}

/* A checkpoint name of dir's listing that is not a shard of an index. */
static bool is_ckpt_entry(const char *name, char **shards, size_t nshards)
{
    if (!rw_is_ckpt_name(name))
        return false;
    for (size_t i = 0; i < nshards; i++)
        if (strcmp(name, shards[i]) == 0)
            return false;
    return true;
}

static rw_status add_dir(ref_list *l, const char *dir, rw_err *err)
{
    char **names, **shards = NULL;
    size_t n, nshards = 0;
    rw_status st = list_dir(dir, &names, &n, err);
    if (st == RW_OK)
        st = dir_shards(dir, names, n, &shards, &nshards, err);
    for (size_t i = 0; i < n && st == RW_OK; i++) {
        char *p = rw_path_join(dir, names[i]);
        if (!p) {
            st = rw_fail(err, RW_ENOMEM, "out of memory");
            break;
        }
        if (is_dir(p)) {
            /* one level down: checkpoint-500/adapter_model.safetensors */
            char **sub, **subshards = NULL;
            size_t m, nsubshards = 0;
            st = list_dir(p, &sub, &m, err);
            if (st == RW_OK)
                st = dir_shards(p, sub, m, &subshards, &nsubshards, err);
            for (size_t j = 0; j < m && st == RW_OK; j++) {
                if (!is_ckpt_entry(sub[j], subshards, nsubshards))
                    continue;
                char *q = rw_path_join(p, sub[j]);
                st = q ? add_file(l, q, NULL, err) : rw_fail(err, RW_ENOMEM, "out of memory");
                free(q);
            }
            free_names(sub, m);
            free_names(subshards, nsubshards);
        } else if (is_ckpt_entry(names[i], shards, nshards)) {
            st = add_file(l, p, NULL, err);
        }
        free(p);
    }
    free_names(names, n);
    free_names(shards, nshards);
    if (st == RW_OK && l->n == 0)
        st = rw_fail(err, RW_EDATA,
                     "%s: no checkpoints (.h5, .hdf5, .safetensors) in it or one level down",
                     dir);
    return st;
}

static rw_status add_list_file(ref_list *l, const char *listpath, rw_err *err)
{
    FILE *f = fopen(listpath, "r");
    if (!f)
        return rw_fail(err, RW_EIO, "%s: %s", listpath, strerror(errno));
    char line[4096];
    rw_status st = RW_OK;
    while (st == RW_OK && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#')
            continue;
        st = add_file(l, line, NULL, err);
    }
    fclose(f);
    if (st == RW_OK && l->n == 0)
        st = rw_fail(err, RW_EDATA, "%s: lists no checkpoints", listpath);
    return st;
}

static rw_run *find_run(rw_runset *rs, const char *label)
{
    for (size_t i = 0; i < rs->n; i++)
        if (strcmp(rs->runs[i].label, label) == 0)
            return &rs->runs[i];
    return NULL;
}

/* The run a lone checkpoint file belongs to: its directory's name, or the
 * one above when the directory is a step (checkpoint-500/model.safetensors). */
static char *default_label(const char *path)
{
    char *stem = rw_basename(path, true);
    char *rel = rw_dirname(path);
    char *dir = rel ? realpath(rel, NULL) : NULL;
    if (!dir) {
        dir = rel;
        rel = NULL;
    }
    free(rel);
    char *label = dir ? rw_basename(dir, false) : NULL;
    if (stem && label && rw_last_integer(stem) < 0 && rw_last_integer(label) >= 0) {
        char *up = rw_dirname(dir);
        char *b = up ? rw_basename(up, false) : NULL;
        if (b && strcmp(b, ".") != 0 && strcmp(b, "/") != 0) {
            free(label);
            label = b;
            b = NULL;
        }
        free(b);
        free(up);
    }
    free(stem);
    free(dir);
    return label;
}

rw_status runset_add(rw_runset *rs, const char *source, const char *label, rw_err *err)
{
    ref_list l = {0};
    rw_status st = RW_OK;
    char *deflabel = NULL;
    bool groups = false;

    if (source[0] == '@') {
        st = add_list_file(&l, source + 1, err);
    } else if (strchr(source, ',')) {
        char *copy = rw_strdup(source), *save = NULL;
        if (!copy)
            return rw_fail(err, RW_ENOMEM, "out of memory");
        for (char *tok = strtok_r(copy, ",", &save); tok && st == RW_OK;
             tok = strtok_r(NULL, ",", &save))
            st = add_file(&l, tok, NULL, err);
        free(copy);
        if (st == RW_OK && l.n == 0)
            st = rw_fail(err, RW_EUSAGE, "run list '%s' names no checkpoint", source);
    } else if (is_dir(source)) {
        st = add_dir(&l, source, err);
        char *real = realpath(source, NULL); /* "." and "./" name their directory */
        deflabel = rw_basename(real ? real : source, false);
        free(real);
    } else if ((st = rw_check_regular(source, err)) == RW_OK) {
        st = add_file(&l, source, &groups, err);
    }
    if (st != RW_OK)
        goto done;

    /* Each checkpoint's attributes: its step (unless a step group gave it)
     * and the `run` attribute of the first one. Also proves it opens. */
    char *attr_label = NULL;
    for (size_t i = 0; i < l.n && st == RW_OK; i++) {
        rw_ckpt *c;
        st = ckpt_open_attrs(l.v[i].path, l.v[i].group, &c, err);
        if (st != RW_OK)
            break;
        if (l.v[i].group == NULL)
            l.v[i].step = ckpt_step(c);
        if (i == 0 && ckpt_attr(c, "run"))
            attr_label = rw_strdup(ckpt_attr(c, "run"));
        ckpt_free(c);
    }
    if (st != RW_OK) {
        free(attr_label);
        goto done;
    }
    if (!deflabel)
        deflabel = groups ? rw_basename(source, true) : default_label(l.v[0].path);
    const char *name = label ? label : attr_label ? attr_label : deflabel;
    if (!name || !*name || strcmp(name, ".") == 0)
        name = "run";

    rw_run *run = find_run(rs, name);
    if (!run) {
        rw_run *nr = rw_realloc(rs->runs, (rs->n + 1) * sizeof *nr, err);
        if (!nr) {
            free(attr_label);
            st = RW_ENOMEM;
            goto done;
        }
        rs->runs = nr;
        run = &rs->runs[rs->n];
        memset(run, 0, sizeof *run);
        if (!(run->label = rw_strdup(name))) {
            free(attr_label);
            st = rw_fail(err, RW_ENOMEM, "out of memory");
            goto done;
        }
        rs->n++;
    }
    free(attr_label);
    rw_ckpt_ref *v = rw_realloc(run->ckpts, (run->n + l.n) * sizeof *v, err);
    if (!v) {
        st = RW_ENOMEM;
        goto done;
    }
    run->ckpts = v;
    memcpy(run->ckpts + run->n, l.v, l.n * sizeof *v);
    run->n += l.n;
    free(l.v);
    l.v = NULL;
    l.n = 0;
done:
    refs_free(&l);
    free(deflabel);
    return st;
}

static int cmp_ref(const void *a, const void *b)
{
    const rw_ckpt_ref *x = a, *y = b;
    if (x->step != y->step)
        return x->step < y->step ? -1 : 1;
    int r = strcmp(x->path, y->path);
    if (r)
        return r;
    return strcmp(x->group ? x->group : "", y->group ? y->group : "");
}

rw_status runset_finish(rw_runset *rs, rw_err *err)
{
    for (size_t r = 0; r < rs->n; r++) {
        rw_run *run = &rs->runs[r];
        for (size_t i = 0; i < run->n; i++) {
            if (run->ckpts[i].step >= 0)
                continue;
            if (run->n == 1)
                run->ckpts[i].step = 0;
            else
                return rw_fail(err, RW_EDATA,
                               "%s: no step (no `step` attribute and no number in its name)",
                               run->ckpts[i].path);
        }
        qsort(run->ckpts, run->n, sizeof *run->ckpts, cmp_ref);
        for (size_t i = 1; i < run->n; i++)
            if (run->ckpts[i].step == run->ckpts[i - 1].step) {
                const rw_ckpt_ref *a = &run->ckpts[i - 1], *b = &run->ckpts[i];
                return rw_fail(err, RW_EDATA,
                               "run %s: %s%s%s and %s%s%s both have step %lld", run->label,
                               a->path, a->group ? ":" : "", a->group ? a->group : "",
                               b->path, b->group ? ":" : "", b->group ? b->group : "",
                               (long long)a->step);
            }
    }
    return RW_OK;
}

void runset_free(rw_runset *rs)
{
    for (size_t r = 0; r < rs->n; r++) {
        for (size_t i = 0; i < rs->runs[r].n; i++) {
            free(rs->runs[r].ckpts[i].path);
            free(rs->runs[r].ckpts[i].group);
        }
        free(rs->runs[r].ckpts);
        free(rs->runs[r].label);
    }
    free(rs->runs);
    rs->runs = NULL;
    rs->n = 0;
}

/* ------------------------------------------------------------ selection */

bool rw_select_match(const rw_select *sel, const char *name)
{
    bool in = sel->ninclude == 0;
    for (size_t i = 0; i < sel->ninclude && !in; i++)
        in = fnmatch(sel->include[i], name, 0) == 0;
    for (size_t i = 0; i < sel->nexclude && in; i++)
        in = fnmatch(sel->exclude[i], name, 0) != 0;
    return in;
}

rw_status rw_select_add(rw_select *sel, bool include, const char *glob, rw_err *err)
{
    const char ***v = include ? &sel->include : &sel->exclude;
    size_t *n = include ? &sel->ninclude : &sel->nexclude;
    const char **nv = rw_realloc((void *)*v, (*n + 1) * sizeof *nv, err);
    if (!nv)
        return RW_ENOMEM;
    nv[(*n)++] = glob;
    *v = nv;
    return RW_OK;
}

void rw_select_free(rw_select *sel)
{
    free((void *)sel->include);
    free((void *)sel->exclude);
    memset(sel, 0, sizeof *sel);
}
