/*
 * ckpt_keras.c — the layers and modules of a Keras 3 weights file's tensors
 * (ckpt_keras3_names, ckpt_impl.h), and the group that marks the layout
 * (ckpt_keras3_vars_group; ckpt_h5.c looks for it).
 *
 * Keras 3 (keras.saving: `model.save_weights("m.weights.h5")`, and the
 * model.weights.h5 inside a `.keras` archive) stores each layer's variables
 * as datasets `layers/<layer>/vars/<i>`, numbered in the order the layer
 * made them (Dense, Conv: vars/0 the kernel, vars/1 the bias); a nested
 * model's as `layers/<model>/layers/<layer>/vars/<i>`; a layer's inner
 * objects as `layers/<layer>/<attribute>/vars/<i>` (an LSTM's `cell`); the
 * model's own as `vars/<i>`, the optimizer's as `optimizer/vars/<i>`. Keras
 * 2.13-2.15's new format wrote `_layer_checkpoint_dependencies` for
 * `layers`. Keras 3 names <layer> after the layer's class in snake case,
 * numbered per class in the model's order: dense, dense_1, ..., dense_10.
 *
 * The rules (README's input section):
 *   layer   the position of the tensor's layer — the innermost
 *           `layers/<name>` group on its path — among the layers that hold a
 *           float tensor, in the natural order of their paths (digit runs
 *           compared as numbers: dense, dense_1, dense_2, ..., dense_10).
 *           HDF5 lists a group's members by name (h5py keeps no creation
 *           order), so layers of one class come in the model's order and
 *           the classes alphabetically: conv2d, conv2d_1, dense, dense_1. A
 *           nested model's layers come in order at its place. -1 outside any
 *           layer (vars/, optimizer/) and for layers of integer state only
 *           (a Dropout's seed generator).
 *   module  the names on the path without the `layers` groups, joined with
 *           '.', then the variable: `kernel` for a vars/0 of two or more
 *           dimensions, `bias` for a 1-D vars/1 as long as that kernel's
 *           last dimension, `vars.<i>` otherwise (BatchNormalization's
 *           gamma, beta, ...; an LSTM cell's recurrent kernel). A tensor
 *           outside any layer: its full name, as in any other file.
 * The tensor's name stays its path (layers.dense_1.vars.0).
 */
#include "io/ckpt_impl.h"

#include <ctype.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static bool is_container(const char *seg, size_t len)
{
    static const char *const names[] = {"layers", "_layer_checkpoint_dependencies"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (strlen(names[i]) == len && memcmp(seg, names[i], len) == 0)
            return true;
    return false;
}

/* A layer's variable: path is <owner>/vars/<digits>, owner starting with a
 * container and a name. *owner_len: the length of owner; *layer_len: of
 * its innermost `<container>/<name>` prefix (the layer); *var: the digits.
 * False for any other path. */
static bool split_path(const char *path, size_t *owner_len, size_t *layer_len,
                       const char **var)
{
    const char *last = strrchr(path, '/');
    if (!last || !last[1] || last - path < 6 || memcmp(last - 5, "/vars", 5) != 0)
        return false;
    for (const char *p = last + 1; *p; p++)
        if (!isdigit((unsigned char)*p))
            return false;
    *var = last + 1;
    *owner_len = (size_t)(last - 5 - path);
    *layer_len = 0;
    const char *seg = path, *end = path + *owner_len;
    while (seg < end) {
        const char *slash = memchr(seg, '/', (size_t)(end - seg));
        size_t len = slash ? (size_t)(slash - seg) : (size_t)(end - seg);
        if (slash && is_container(seg, len)) {
            const char *name = slash + 1;
            const char *nslash = memchr(name, '/', (size_t)(end - name));
            size_t nlen = nslash ? (size_t)(nslash - name) : (size_t)(end - name);
            if (nlen > 0)
                *layer_len = (size_t)(name + nlen - path);
        } else if (seg == path) {
            return false; /* not below a container: no layer */
        }
        if (!slash)
            break;
        seg = slash + 1;
    }
    return *layer_len > 0;
}

/* Natural order of (a, la) and (b, lb): runs of digits compared as numbers,
 * other bytes as bytes; equal ones by their bytes, shorter first. */
static int natural_cmp(const char *a, size_t la, const char *b, size_t lb)
{
    size_t i = 0, j = 0;
    while (i < la && j < lb) {
        if (isdigit((unsigned char)a[i]) && isdigit((unsigned char)b[j])) {
            while (i < la && a[i] == '0')
                i++;
            while (j < lb && b[j] == '0')
                j++;
            size_t ei = i, ej = j;
            while (ei < la && isdigit((unsigned char)a[ei]))
                ei++;
            while (ej < lb && isdigit((unsigned char)b[ej]))
                ej++;
            if (ei - i != ej - j)
                return ei - i < ej - j ? -1 : 1;
            int r = memcmp(a + i, b + j, ei - i);
            if (r)
                return r;
            i = ei;
            j = ej;
            continue;
        }
        if (a[i] != b[j])
            return (unsigned char)a[i] < (unsigned char)b[j] ? -1 : 1;
        i++;
        j++;
    }
    if (i < la || j < lb)
        return i < la ? 1 : -1;
    int r = memcmp(a, b, la < lb ? la : lb);
    return r ? r : la < lb ? -1 : la > lb;
}

typedef struct {
    const char *key; /* the layer's path (a prefix of the tensor's h5path) */
    size_t len;
    size_t tensor;
} layer_ref;

static int cmp_ref(const void *x, const void *y)
{
    const layer_ref *a = x, *b = y;
    return natural_cmp(a->key, a->len, b->key, b->len);
}

/* The name of what vars/<var> of tensor t holds (c sorted by name). */
static const char *var_label(const rw_ckpt *c, const rw_tensor *t, size_t owner_len,
                             const char *var)
{
    if (strcmp(var, "0") == 0 && t->ndim >= 2)
        return "kernel";
    if (strcmp(var, "1") != 0 || t->ndim != 1)
        return NULL;
    /* vars/0 beside it, by name, and checked by path: a kernel whose last
     * dimension is this tensor's length. */
    size_t n = strlen(t->name);
    char *kname = rw_strdup(t->name);
    if (!kname)
        return NULL;
    kname[n - 1] = '0';
    long k = ckpt_find(c, kname);
    free(kname);
    if (k < 0)
        return NULL;
    const rw_tensor *kt = &c->tensors[k];
    const char *kp = kt->loc->h5path;
    bool sibling = strncmp(kp, t->loc->h5path, owner_len) == 0 &&
                   strcmp(kp + owner_len, "/vars/0") == 0;
    return sibling && kt->ndim >= 2 && kt->shape[kt->ndim - 1] == t->shape[0] ? "bias" : NULL;
}

/* The module of tensor t: the names on its owner's path without the
 * containers, '.', and the variable's label. A new string, NULL when out of
 * memory. */
static char *module_of(const rw_ckpt *c, const rw_tensor *t, size_t owner_len, const char *var)
{
    const char *path = t->loc->h5path;
    const char *label = var_label(c, t, owner_len, var);
    size_t cap = owner_len + strlen(var) + 16;
    char *m = malloc(cap), *o = m;
    if (!m)
        return NULL;
    const char *seg = path, *end = path + owner_len;
    while (seg < end) {
        const char *slash = memchr(seg, '/', (size_t)(end - seg));
        size_t len = slash ? (size_t)(slash - seg) : (size_t)(end - seg);
        if (!(slash && is_container(seg, len))) {
            memcpy(o, seg, len);
            o += len;
            *o++ = '.';
        }
        if (!slash)
            break;
        seg = slash + 1;
    }
    if (label)
        memcpy(o, label, strlen(label) + 1);
    else {
        memcpy(o, "vars.", 5);
        memcpy(o + 5, var, strlen(var) + 1);
    }
    return m;
}

/* Keras names layers after their class: `layers/0/...` is a PyTorch
 * ModuleList. */
bool ckpt_keras3_vars_group(const char *path)
{
    const char *head = strchr(path, '/');
    if (!head || !is_container(path, (size_t)(head - path)))
        return false;
    const char *name = head + 1, *slash = strchr(name, '/');
    return slash && slash > name && strcmp(slash, "/vars") == 0 &&
           strspn(name, "0123456789") < (size_t)(slash - name);
}

rw_status ckpt_keras3_names(rw_ckpt *c, rw_err *err)
{
    ckpt_sort_tensors(c); /* by name, for var_label's look-up */
    layer_ref *refs = rw_calloc(c->n ? c->n : 1, sizeof *refs, err);
    if (!refs)
        return RW_ENOMEM;
    size_t nref = 0;
    for (size_t i = 0; i < c->n; i++) {
        rw_tensor *t = &c->tensors[i];
        size_t owner_len, layer_len;
        const char *var;
        t->layer = -1;
        if (!t->loc->h5path || !split_path(t->loc->h5path, &owner_len, &layer_len, &var)) {
            t->module_name = rw_strdup(t->name);
        } else {
            t->module_name = module_of(c, t, owner_len, var);
            refs[nref++] = (layer_ref){t->loc->h5path, layer_len, i};
        }
        if (!t->module_name) {
            free(refs);
            return rw_fail(err, RW_ENOMEM, "out of memory");
        }
        t->module = t->module_name;
    }
    /* Layers in natural order; one index each that holds a float tensor. */
    if (nref > 1)
        qsort(refs, nref, sizeof *refs, cmp_ref);
    int next = 0;
    for (size_t a = 0, b; a < nref; a = b) {
        bool floats = false;
        for (b = a; b < nref && refs[b].len == refs[a].len &&
                    memcmp(refs[b].key, refs[a].key, refs[a].len) == 0;
             b++)
            floats = floats || rw_dtype_is_float(c->tensors[refs[b].tensor].dtype);
        int layer = floats && next < INT_MAX ? next++ : -1;
        for (size_t k = a; k < b; k++)
            c->tensors[refs[k].tensor].layer = layer;
    }
    free(refs);
    return RW_OK;
}
