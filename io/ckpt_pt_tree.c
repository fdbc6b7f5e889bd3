/*
 * ckpt_pt_tree.c — from the object tree of a torch.save file (pickle.h) to
 * the tensors of a checkpoint (ckpt_pt_impl.h).
 *
 * Tensors are named by their key path in nested dicts (and lists, by
 * index) joined with '.'. A checkpoint dict holding one state dict (under
 * one of model_keys below) is read through it, so its tensors keep the
 * names the model gave them; rw_ckpt_opts.key names another one by its key
 * path (`ema.model`). The other entries of the root (optimizer state, ...)
 * keep their full key paths. Integer entries step, global_step or epoch of
 * the root give the step; lora_alpha and lora_r the adapter scale.
 */
#include "io/ckpt_pt_impl.h"

#include <stdio.h>
#include <string.h>

/* Entries whose value is the model's state dict in a checkpoint dict. */
static const char *const model_keys[] = {"model",  "state_dict", "model_state_dict",
                                         "module", "model_state", "net", "network"};

typedef struct {
    rw_ckpt *c;
    pt_impl *p;
    size_t cap;
    size_t visits;        /* objects the walk may still visit (pk_doc_objects) */
    rw_err *err;
    const pk_obj *skip;   /* the state dict read under its own names: not again */
    char name[4096];
} walker;

/* Does o hold a tensor? At most *visits objects are looked at (a tree
 * whose shared dicts and lists would make the search exponential answers
 * no; the walk then refuses it). */
static bool holds_tensor_in(const pk_obj *o, int depth, size_t *visits)
{
    if (depth > PK_MAX_DEPTH || *visits == 0)
        return false;
    --*visits;
    if (o->kind == PK_TENSOR)
        return true;
    if (o->kind == PK_DICT)
        for (size_t j = 1; j < o->u.seq.n; j += 2)
            if (holds_tensor_in(o->u.seq.v[j], depth + 1, visits))
                return true;
    if (o->kind == PK_LIST || o->kind == PK_TUPLE)
        for (size_t j = 0; j < o->u.seq.n; j++)
            if (holds_tensor_in(o->u.seq.v[j], depth + 1, visits))
                return true;
    return false;
}

static bool holds_tensor(const pk_doc *doc, const pk_obj *o)
{
    size_t visits = pk_doc_objects(doc);
    return holds_tensor_in(o, 0, &visits);
}

static rw_status add_tensor(walker *w, const pk_obj *t)
{
    rw_ckpt *c = w->c;
    if (t->u.tensor.ndim > RW_MAX_DIMS)
        return rw_fail(w->err, RW_EDATA, "%s: %s: %d dimensions (at most %d are read)", c->path,
                       w->name, t->u.tensor.ndim, RW_MAX_DIMS);
    if (rw_grow(&w->p->e, w->p->ne, &w->p->cape, sizeof *w->p->e, w->err) != RW_OK)
        return RW_ENOMEM;
    rw_tensor *x = ckpt_push_tensor(c, &w->cap, w->err);
    if (!x)
        return RW_ENOMEM;
    x->ndim = t->u.tensor.ndim;
    size_t numel = 1;
    for (int d = 0; d < x->ndim; d++) {
        x->shape[d] = t->u.tensor.size[d];
        if (!rw_mul_size(numel, (size_t)x->shape[d], &numel) || numel > ((size_t)1 << 62))
            return rw_fail(w->err, RW_EDATA, "%s: %s: shape overflows", c->path, w->name);
    }
    x->numel = numel;
    x->dtype = pk_storage_dtype(t->u.tensor.storage->u.storage.type);
    x->loc->offset = w->p->ne; /* this back end's entry */
    if (!(x->name = rw_strdup(w->name)))
        return rw_fail(w->err, RW_ENOMEM, "out of memory");
    w->p->e[w->p->ne++] = (pt_entry){.t = t, .zindex = -1};
    return RW_OK;
}

/* A key (or list index) as it appears in a tensor's name: *s (len bytes;
 * part, 64 bytes, when the text is made here). NULL on success, else why
 * the key cannot be part of a name. */
static const char *key_text(const pk_obj *key, char *part, const char **s, size_t *len)
{
    switch (key->kind) {
    case PK_STR:
        *s = key->u.str.s;
        *len = key->u.str.len;
        return memchr(*s, '\0', *len) ? "a dict key holds a NUL byte" : NULL;
    case PK_INT: snprintf(part, 64, "%lld", (long long)key->u.i); break;
    case PK_BOOL: snprintf(part, 64, "%s", key->u.b ? "True" : "False"); break;
    case PK_NONE: snprintf(part, 64, "None"); break;
    case PK_FLOAT: rw_fmt_double(part, key->u.f); break;
    default: return "a key is not a string or a number";
    }
    *s = part;
    *len = strlen(part);
    return NULL;
}

/* Appends ".key" (or "key" at the top) to w->name; returns the old length. */
static rw_status push_name(walker *w, const pk_obj *key, size_t *old)
{
    *old = strlen(w->name);
    char part[64];
    const char *s, *why;
    size_t len;
    if ((why = key_text(key, part, &s, &len))) {
        if (key->kind != PK_STR)
            return rw_fail(w->err, RW_EDATA, "%s: %s", w->c->path, why);
        /* the key as far as 64 bytes, its NULs shown as \0 */
        char shown[160];
        size_t k = 0;
        for (size_t i = 0; i < len && i < 64; i++) {
            if (s[i])
                shown[k++] = s[i];
            else
                shown[k++] = '\\', shown[k++] = '0';
        }
        shown[k] = '\0';
        return rw_fail(w->err, RW_EDATA, "%s: dict key '%s%s' holds a NUL byte", w->c->path,
                       shown, len > 64 ? "..." : "");
    }
    size_t need = *old + (*old ? 1 : 0) + len + 1;
    if (need > sizeof w->name)
        return rw_fail(w->err, RW_EDATA,
                       "%s: tensor name '%.40s%s%.*s...' is longer than %zu bytes", w->c->path,
                       w->name, *old ? (*old > 40 ? "...." : ".") : "",
                       (int)(len < 40 ? len : 40), s, sizeof w->name - 1);
    char *d = w->name + *old;
    if (*old)
        *d++ = '.';
    memcpy(d, s, len);
    d[len] = '\0';
    return RW_OK;
}

static bool is_container(const pk_obj *o)
{
    return o->kind == PK_DICT || o->kind == PK_LIST || o->kind == PK_TUPLE;
}

static rw_status walk(walker *w, const pk_obj *o, int depth)
{
    if (depth > PK_MAX_DEPTH)
        return rw_fail(w->err, RW_EDATA, "%s: objects nested deeper than %d (or a cycle)",
                       w->c->path, PK_MAX_DEPTH);
    if (w->visits == 0)
        return rw_fail(w->err, RW_EDATA,
                       "%s: dicts or lists shared between entries so often that the tree "
                       "holds more objects than the pickle (%zu)",
                       w->c->path, pk_doc_objects(w->p->doc));
    w->visits--;
    if (o->kind == PK_TENSOR)
        return add_tensor(w, o);
    if (!is_container(o))
        return RW_OK;
    bool dict = o->kind == PK_DICT;
    size_t n = dict ? o->u.seq.n / 2 : o->u.seq.n;
    for (size_t j = 0; j < n; j++) {
        const pk_obj *v = dict ? o->u.seq.v[2 * j + 1] : o->u.seq.v[j];
        if (v == w->skip || (v->kind != PK_TENSOR && !is_container(v)))
            continue;
        pk_obj idx = {.kind = PK_INT, .u.i = (int64_t)j};
        size_t old;
        rw_status st = push_name(w, dict ? o->u.seq.v[2 * j] : &idx, &old);
        if (st == RW_OK)
            st = walk(w, v, depth + 1);
        w->name[old] = '\0';
        if (st != RW_OK)
            return st;
    }
    return RW_OK;
}

/* The object at key path `path` under o (keys, or list indices, as in
 * tensor names, joined by '.'; a key may hold dots itself), NULL when it
 * names nothing. */
static const pk_obj *at_path(const pk_obj *o, const char *path, int depth)
{
    if (!*path)
        return o;
    if (depth > PK_MAX_DEPTH || !is_container(o))
        return NULL;
    bool dict = o->kind == PK_DICT;
    size_t n = dict ? o->u.seq.n / 2 : o->u.seq.n;
    for (size_t j = 0; j < n; j++) {
        pk_obj idx = {.kind = PK_INT, .u.i = (int64_t)j};
        char part[64];
        const char *s;
        size_t len;
        if (key_text(dict ? o->u.seq.v[2 * j] : &idx, part, &s, &len) || len == 0 ||
            strncmp(path, s, len) != 0 || (path[len] != '\0' && path[len] != '.'))
            continue;
        const pk_obj *hit = at_path(dict ? o->u.seq.v[2 * j + 1] : o->u.seq.v[j],
                                    path[len] ? path + len + 1 : "", depth + 1);
        if (hit)
            return hit;
    }
    return NULL;
}

static const char *kind_name(const pk_obj *o)
{
    switch (o->kind) {
    case PK_NONE: return "None";
    case PK_BOOL: return "a bool";
    case PK_INT: return "an integer";
    case PK_FLOAT: return "a float";
    case PK_STR: return "a string";
    case PK_TUPLE: return "a tuple";
    case PK_LIST: return "a list";
    case PK_DICT: return "a dict without tensors";
    case PK_TENSOR: return "a tensor";
    default: return "an object";
    }
}

/* Scalar entries of the checkpoint dict: step (else global_step, else
 * epoch) and the LoRA scale. A step of another type is an error. */
static rw_status root_attrs(rw_ckpt *c, const pk_obj *root, rw_err *err)
{
    static const char *const steps[] = {"step", "global_step", "epoch"};
    for (size_t i = 0; i < 3; i++) {
        const pk_obj *s = pk_dict_get(root, steps[i]);
        if (!s)
            continue;
        if (s->kind != PK_INT)
            return rw_fail(err, RW_EDATA, "%s: entry '%s' is not an integer", c->path,
                           steps[i]);
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", (long long)s->u.i);
        rw_status st = ckpt_add_attr(c, "step", buf, err);
        if (st != RW_OK)
            return st;
        break;
    }
    static const char *const nums[] = {"lora_alpha", "lora_r"};
    for (size_t i = 0; i < 2; i++) {
        const pk_obj *s = pk_dict_get(root, nums[i]);
        if (!s)
            continue;
        char buf[32];
        if (s->kind == PK_INT)
            snprintf(buf, sizeof buf, "%lld", (long long)s->u.i);
        else if (s->kind == PK_FLOAT)
            rw_fmt_double(buf, s->u.f);
        else
            return rw_fail(err, RW_EDATA, "%s: entry '%s' is not a number", c->path, nums[i]);
        rw_status st = ckpt_add_attr(c, nums[i], buf, err);
        if (st != RW_OK)
            return st;
    }
    return RW_OK;
}

/* The state dict to read under its own names: the one at c->key, else the
 * one entry of model_keys holding tensors; *model NULL when there is none
 * (the whole tree is read under its key paths). */
static rw_status choose_model(const rw_ckpt *c, const pk_doc *doc, const pk_obj *root,
                              const pk_obj **model, rw_err *err)
{
    *model = NULL;
    if (c->key) {
        const pk_obj *m = at_path(root, c->key, 0);
        if (!m)
            return rw_fail(err, RW_EDATA, "%s: key '%s' (--key) names no entry of the saved "
                           "object", c->path, c->key);
        if (m->kind != PK_DICT || !holds_tensor(doc, m))
            return rw_fail(err, RW_EDATA, "%s: key '%s' (--key) names %s, not a dict of "
                           "tensors", c->path, c->key, kind_name(m));
        *model = m;
        return RW_OK;
    }
    const char *model_key = NULL;
    for (size_t i = 0; i < sizeof model_keys / sizeof model_keys[0]; i++) {
        const pk_obj *m = pk_dict_get(root, model_keys[i]);
        if (m && m->kind == PK_DICT && holds_tensor(doc, m)) {
            if (*model)
                return rw_fail(err, RW_EDATA,
                               "%s: entries '%s' and '%s' both hold a state dict (--key picks "
                               "one)", c->path, model_key, model_keys[i]);
            *model = m;
            model_key = model_keys[i];
        }
    }
    return RW_OK;
}

rw_status pt_list_tensors(rw_ckpt *c, pt_impl *p, const pk_obj *root, rw_err *err)
{
    if (root->kind != PK_DICT)
        return rw_fail(err, RW_EDATA, "%s: the saved object is not a dict of tensors", c->path);
    rw_status st = root_attrs(c, root, err);
    if (st != RW_OK || c->attrs_only)
        return st;
    walker w = {.c = c, .p = p, .err = err, .visits = pk_doc_objects(p->doc)};
    if ((st = choose_model(c, p->doc, root, &w.skip, err)) != RW_OK)
        return st;
    if (w.skip && (st = walk(&w, w.skip, 1)) != RW_OK)
        return st;
    /* the rest (optimizer state, ...) under their full names */
    return walk(&w, root, 0);
}
