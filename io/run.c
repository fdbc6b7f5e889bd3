/*
 * run.c — run discovery (run.h).
 */
#include "io/run.h"

#include "io/ckpt.h"
#include "io/spectra_file.h"
#include "io/stepname.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

bool rw_is_ckpt_name(const char *name)
{
    return ckpt_is_name(name);
}

/* What a training framework saves beside the model in a checkpoint folder
 * (HF Trainer: optimizer.pt, scheduler.pt, scaler.pt, rng_state*.pth,
 * training_args.bin): never a checkpoint of the model. */
static bool is_trainer_state(const char *name)
{
    static const char *const names[] = {"optimizer.pt", "optimizer.bin", "scheduler.pt",
                                        "scheduler.bin", "scaler.pt",    "training_args.bin"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i]) == 0)
            return true;
    return strncmp(name, "rng_state", 9) == 0 && rw_ends_with(name, ".pth", NULL);
}

static bool is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* A symbolic link to a directory: pico-train's `latest -> step_<N>`, a
 * second name for a checkpoint folder listed beside it. */
static bool is_dir_link(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 && S_ISLNK(st.st_mode) && is_dir(path);
}

/* A growable list of (path, group) pairs. */
typedef struct {
    rw_ckpt_ref *v;
    size_t n, cap;
    char *spectra; /* the first spectra file found in a folder (left out) */
} ref_list;

static rw_status refs_push(ref_list *l, const char *path, const char *group, rw_err *err)
{
    if (rw_grow(&l->v, l->n, &l->cap, sizeof *l->v, err) != RW_OK)
        return RW_ENOMEM;
    rw_ckpt_ref *r = &l->v[l->n];
    r->path = rw_strdup(path);
    r->group = group ? rw_strdup(group) : NULL;
    r->step = -1;
    r->base = NULL;
    r->weights = NULL;
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
        free(l->v[i].base);
        free(l->v[i].weights);
    }
    free(l->v);
    free(l->spectra);
    l->v = NULL;
    l->spectra = NULL;
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

/* A PEFT adapter's file names, and the model files that, beside one, hold
 * its frozen base (HF save_pretrained's names, in the order preferred). */
static const char *const adapter_names[] = {"adapter_model.safetensors", "adapter_model.bin"};
static const char *const base_names[] = {"model.safetensors.index.json", "model.safetensors",
                                         "pytorch_model.bin"};

static bool in_list(const char *name, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(name, list[i]) == 0)
            return true;
    return false;
}

/* The model file beside the adapter at path (a new string), NULL when path
 * is not an adapter or has none beside it. */
static rw_status beside_base(const char *path, char **out, rw_err *err)
{
    *out = NULL;
    char *name = rw_basename(path, false), *dir = rw_dirname(path);
    rw_status st = name && dir ? RW_OK : rw_fail(err, RW_ENOMEM, "out of memory");
    bool adapter = st == RW_OK && in_list(name, adapter_names, 2);
    for (size_t i = 0; adapter && i < sizeof base_names / sizeof *base_names && !*out; i++) {
        char *p = rw_path_join(dir, base_names[i]);
        struct stat sb;
        if (!p) {
            st = rw_fail(err, RW_ENOMEM, "out of memory");
            break;
        }
        if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode))
            *out = p;
        else
            free(p);
    }
    free(name);
    free(dir);
    return st;
}

/* Adds one checkpoint file: an HDF5 file of step groups adds each group; a
 * PEFT adapter gets the model file beside it as its base. */
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
    if ((st = refs_push(l, path, NULL, err)) != RW_OK)
        return st;
    return beside_base(path, &l->v[l->n - 1].base, err);
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
        if (!ckpt_is_index_name(names[i]))
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

/* A checkpoint name of dir's listing that is not a shard of an index nor
 * a trainer's state file. */
static bool is_ckpt_entry(const char *name, char **shards, size_t nshards)
{
    if (!rw_is_ckpt_name(name) || is_trainer_state(name))
        return false;
    for (size_t i = 0; i < nshards; i++)
        if (strcmp(name, shards[i]) == 0)
            return false;
    return true;
}

/* The same weights saved twice in one folder (HF save_pretrained):
 * model.safetensors (or its index) makes pytorch_model.bin (or its index)
 * redundant, and adapter_model.safetensors adapter_model.bin. */
static bool is_redundant(const char *name, char **names, size_t n)
{
    static const struct {
        const char *bin, *st, *st_index;
    } pairs[] = {{"pytorch_model.bin", "model.safetensors", "model.safetensors.index.json"},
                 {"pytorch_model.bin.index.json", "model.safetensors",
                  "model.safetensors.index.json"},
                 {"adapter_model.bin", "adapter_model.safetensors", NULL}};
    for (size_t k = 0; k < sizeof pairs / sizeof pairs[0]; k++) {
        if (strcmp(name, pairs[k].bin) != 0)
            continue;
        for (size_t i = 0; i < n; i++)
            if (strcmp(names[i], pairs[k].st) == 0 ||
                (pairs[k].st_index && strcmp(names[i], pairs[k].st_index) == 0))
                return true;
    }
    return false;
}

/* The checkpoint files of a folder: every checkpoint entry, or with
 * --data, the learning-dynamics file of a pico-train step folder. */
static rw_status add_folder_files(ref_list *l, const char *dir, const rw_runset *rs,
                                  rw_err *err)
{
    if (rs->data != RW_DATA_WEIGHTS) {
        char name[64];
        snprintf(name, sizeof name, "learning_dynamics/%s_%s.pt",
                 rs->split == RW_SPLIT_VAL ? "val" : "train", rw_data_name(rs->data));
        char *q = rw_path_join(dir, name);
        if (!q)
            return rw_fail(err, RW_ENOMEM, "out of memory");
        rw_status st = rw_exists(q) ? add_file(l, q, NULL, err)
                                    : rw_fail(err, RW_EDATA, "%s: no %s (pico-train writes it "
                                                             "when learning dynamics are on)",
                                              dir, name);
        free(q);
        /* the model of the step, for the OV circuit of gradients */
        for (size_t i = 0; st == RW_OK && i < sizeof base_names / sizeof *base_names &&
                           !l->v[l->n - 1].weights;
             i++) {
            char *p = rw_path_join(dir, base_names[i]);
            struct stat sb;
            if (!p)
                st = rw_fail(err, RW_ENOMEM, "out of memory");
            else if (stat(p, &sb) == 0 && S_ISREG(sb.st_mode))
                l->v[l->n - 1].weights = p;
            else
                free(p);
        }
        return st;
    }
    char **names, **shards = NULL;
    size_t n, nshards = 0;
    rw_status st = list_dir(dir, &names, &n, err);
    if (st == RW_OK)
        st = dir_shards(dir, names, n, &shards, &nshards, err);
    /* beside an adapter, the model file is its base (add_file), not a
     * checkpoint of its own */
    bool adapter = false;
    for (size_t j = 0; j < n && !adapter; j++)
        adapter = in_list(names[j], adapter_names, 2);
    for (size_t j = 0; j < n && st == RW_OK; j++) {
        if (!is_ckpt_entry(names[j], shards, nshards) || is_redundant(names[j], names, n) ||
            (adapter && in_list(names[j], base_names, sizeof base_names / sizeof *base_names)))
            continue;
        char *q = rw_path_join(dir, names[j]);
        if (!q) {
            st = rw_fail(err, RW_ENOMEM, "out of memory");
        } else if (spectra_file_is(q)) {
            /* rankwatch's own spectra file (a cache kept beside the
             * checkpoints, analyze.sh's OUT/spectra.h5): not a checkpoint */
            if (!l->spectra) {
                l->spectra = q;
                q = NULL;
            }
        } else {
            st = add_file(l, q, NULL, err);
        }
        free(q);
    }
    free_names(names, n);
    free_names(shards, nshards);
    return st;
}

/* A pico-train run folder (runs/<run>) keeps its step folders in
 * checkpoints/: the folder whose listing the run is. */
static char *pico_checkpoints(const char *dir)
{
    char *c = rw_path_join(dir, "checkpoints");
    if (c && is_dir(c) && !is_dir_link(c))
        return c;
    free(c);
    return NULL;
}

static rw_status add_dir(ref_list *l, const char *dir, const rw_runset *rs, rw_err *err)
{
    char *pico = pico_checkpoints(dir);
    const char *root = pico ? pico : dir;
    char *ld = rw_path_join(dir, "learning_dynamics");
    bool step_folder = ld && is_dir(ld);
    free(ld);
    if (rs->data != RW_DATA_WEIGHTS && step_folder && !pico) /* one step folder given */
        return add_folder_files(l, dir, rs, err);
    char **names;
    size_t n;
    rw_status st = list_dir(root, &names, &n, err);
    /* the files of the folder itself (not with --data: those live in step
     * folders only) */
    if (st == RW_OK && rs->data == RW_DATA_WEIGHTS && !pico) {
        rw_runset weights = *rs;
        weights.data = RW_DATA_WEIGHTS;
        st = add_folder_files(l, root, &weights, err);
    }
    for (size_t i = 0; i < n && st == RW_OK; i++) {
        char *p = rw_path_join(root, names[i]);
        if (!p) {
            st = rw_fail(err, RW_ENOMEM, "out of memory");
            break;
        }
        /* one level down: checkpoint-500/adapter_model.safetensors,
         * step_500/model.safetensors; a link to a folder (latest) is a
         * second name of one listed beside it */
        if (is_dir(p) && !is_dir_link(p) && (rs->data == RW_DATA_WEIGHTS ||
                                              rw_step_from_name(names[i]) >= 0))
            st = add_folder_files(l, p, rs, err);
        free(p);
    }
    free_names(names, n);
    if (st == RW_OK && l->n == 0 && l->spectra)
        st = rw_fail(err, RW_EDATA,
                     "%s: no checkpoints in it or one level down, only the spectra file %s "
                     "(give it alone to read it)", root, l->spectra);
    else if (st == RW_OK && l->n == 0)
        st = rw_fail(err, RW_EDATA,
                     "%s: no checkpoints (.h5, .hdf5, .safetensors, .pt, .pth, .bin, .ckpt) in "
                     "it or one level down", root);
    free(pico);
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

/* The run a lone checkpoint file belongs to: its directory's name (links
 * resolved), or the one above when the directory is a step
 * (checkpoint-500/model.safetensors), or the run folder above pico-train's
 * checkpoints/ (runs/<run>/checkpoints/step_500/model.safetensors). */
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
    if (stem && label && rw_step_from_name(stem) < 0 && rw_step_from_name(label) >= 0) {
        char *up = rw_dirname(dir);
        char *b = up ? rw_basename(up, false) : NULL;
        if (b && strcmp(b, "checkpoints") == 0) {
            /* pico-train: runs/<run>/checkpoints/step_<N>/ */
            char *up2 = rw_dirname(up);
            char *b2 = up2 ? rw_basename(up2, false) : NULL;
            if (b2 && strcmp(b2, ".") != 0 && strcmp(b2, "/") != 0) {
                free(b);
                b = b2;
                b2 = NULL;
            }
            free(b2);
            free(up2);
        }
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

/* The name of a folder given as a run: its own, or its parent's when it is
 * pico-train's runs/<run>/checkpoints. */
static char *dir_label(const char *source)
{
    char *real = realpath(source, NULL); /* "." and "./" name their directory */
    char *label = rw_basename(real ? real : source, false);
    if (label && strcmp(label, "checkpoints") == 0 && real) {
        char *up = rw_dirname(real);
        char *b = up ? rw_basename(up, false) : NULL;
        if (b && strcmp(b, "/") != 0 && strcmp(b, ".") != 0) {
            free(label);
            label = b;
            b = NULL;
        }
        free(b);
        free(up);
    }
    free(real);
    return label;
}

/* "parent/name" of a folder's real path (new string; NULL when out of
 * memory or at the root). */
static char *parent_and_name(const char *real)
{
    char *up = rw_dirname(real);
    char *p = up ? rw_basename(up, false) : NULL;
    char *n = rw_basename(real, false);
    char *out = p && n && strcmp(p, "/") != 0 ? rw_path_join(p, n) : NULL;
    free(up);
    free(p);
    free(n);
    return out;
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
        st = add_dir(&l, source, rs, err);
        deflabel = dir_label(source);
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

    /* Two folders of one name (exp1/ckpts, exp2/ckpts) are two runs: named
     * with their parents'. */
    char *realdir = NULL, *twoname = NULL;
    rw_run *run = find_run(rs, name);
    if (!label && !attr_label && is_dir(source))
        realdir = realpath(source, NULL);
    if (run && realdir && run->dir && strcmp(run->dir, realdir) != 0) {
        char *mine = parent_and_name(realdir), *theirs = parent_and_name(run->dir);
        if (!mine || !theirs || strcmp(mine, theirs) == 0) {
            st = rw_fail(err, RW_EUSAGE,
                         "runs %s and %s would both be named '%s': name them (NAME=PATH, "
                         "or --label)", run->dir, realdir, name);
            free(mine);
            free(theirs);
            free(realdir);
            free(attr_label);
            goto done;
        }
        free(run->label);
        run->label = theirs;
        twoname = mine;
        name = twoname;
        run = find_run(rs, name);
    }
    if (!run) {
        rw_run *nr = rw_realloc(rs->runs, (rs->n + 1) * sizeof *nr, err);
        if (!nr) {
            free(attr_label);
            free(realdir);
            free(twoname);
            st = RW_ENOMEM;
            goto done;
        }
        rs->runs = nr;
        run = &rs->runs[rs->n];
        memset(run, 0, sizeof *run);
        if (!(run->label = rw_strdup(name))) {
            free(attr_label);
            free(realdir);
            free(twoname);
            st = rw_fail(err, RW_ENOMEM, "out of memory");
            goto done;
        }
        run->dir = realdir;
        realdir = NULL;
        rs->n++;
    }
    free(realdir);
    free(twoname);
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
                               "%s: no step (no `step` attribute and no step-like name such "
                               "as step_N or checkpoint-N) in run %s of %zu checkpoints; give "
                               "it a step attribute, or name it a run of its own (NAME=PATH)",
                               run->ckpts[i].path, run->label, run->n);
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
            free(rs->runs[r].ckpts[i].base);
            free(rs->runs[r].ckpts[i].weights);
        }
        free(rs->runs[r].ckpts);
        free(rs->runs[r].label);
        free(rs->runs[r].dir);
    }
    free(rs->runs);
    rs->runs = NULL;
    rs->n = 0;
}

/* ------------------------------------------------------------ selection */

bool rw_select_match(const rw_select *sel, const char *name)
{
    return rw_select_match_as(sel, name, NULL);
}

/* glob matches name, or prefix + name (without building it: fnmatch has no
 * such call, so the stored name is built in buf when it fits, else in a
 * new string; out of memory: the shown name only). */
static bool glob_match_as(const char *glob, const char *name, const char *prefix)
{
    if (fnmatch(glob, name, 0) == 0)
        return true;
    if (!prefix || !*prefix)
        return false;
    char buf[1024], *full = buf;
    size_t pl = strlen(prefix), nl = strlen(name);
    if (pl + nl + 1 > sizeof buf && !(full = malloc(pl + nl + 1)))
        return false;
    memcpy(full, prefix, pl);
    memcpy(full + pl, name, nl + 1);
    bool m = fnmatch(glob, full, 0) == 0;
    if (full != buf)
        free(full);
    return m;
}

bool rw_select_match_as(const rw_select *sel, const char *name, const char *prefix)
{
    bool in = sel->ninclude == 0;
    for (size_t i = 0; i < sel->ninclude && !in; i++)
        in = glob_match_as(sel->include[i], name, prefix);
    for (size_t i = 0; i < sel->nexclude && in; i++)
        in = !glob_match_as(sel->exclude[i], name, prefix);
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

const char *rw_data_name(rw_data d)
{
    return d == RW_DATA_WEIGHTS       ? "weights"
           : d == RW_DATA_GRADIENTS   ? "gradients"
           : d == RW_DATA_ACTIVATIONS ? "activations"
                                      : "?";
}

const char *rw_split_name(rw_split s)
{
    return s == RW_SPLIT_TRAIN ? "train" : s == RW_SPLIT_VAL ? "val" : "?";
}
