/*
 * ckpt.c — the format-independent half of a checkpoint (ckpt.h): dispatch to
 * the HDF5, safetensors or PyTorch back end, names, attributes, step.
 */
#include "io/ckpt_impl.h"
#include "io/ckpt_index.h"
#include "io/packed.h"
#include "io/stepname.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

bool rw_is_hdf5(const char *path)
{
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    /* Only a regular file can be HDF5 (opening a FIFO would block). */
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return false;
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    /* The signature sits at 0, 512, 1024, 2048, ... (after a user block). */
    bool found = false;
    unsigned char buf[8];
    for (long off = 0; off <= 1L << 20 && !found; off = off ? off * 2 : 512) {
        if (fseek(f, off, SEEK_SET) != 0 || fread(buf, 1, 8, f) != 8)
            break;
        found = memcmp(buf, sig, 8) == 0;
    }
    fclose(f);
    return found;
}

static rw_status open_impl(const char *path, const char *group, const rw_ckpt_opts *o,
                           bool attrs_only, rw_ckpt **out, rw_err *err);
static rw_status check_step(const rw_ckpt *c, rw_err *err);
static rw_status strip_prefix(rw_ckpt *c, rw_err *err);
static bool is_optimizer_name(const char *name);

rw_status ckpt_open(const char *path, const char *group, rw_ckpt **out, rw_err *err)
{
    return open_impl(path, group, NULL, false, out, err);
}

rw_status ckpt_open_opts(const char *path, const char *group, const rw_ckpt_opts *o,
                         rw_ckpt **out, rw_err *err)
{
    return open_impl(path, group, o, false, out, err);
}

rw_status ckpt_open_attrs(const char *path, const char *group, rw_ckpt **out, rw_err *err)
{
    return open_impl(path, group, NULL, true, out, err);
}

static rw_status open_impl(const char *path, const char *group, const rw_ckpt_opts *o,
                           bool attrs_only, rw_ckpt **out, rw_err *err)
{
    *out = NULL;
    rw_status st = rw_check_regular(path, err); /* before any open: a FIFO would block */
    if (st != RW_OK)
        return st;
    FILE *f = fopen(path, "rb");
    if (!f)
        return rw_fail(err, RW_EIO, "%s: %s", path, strerror(errno));
    fclose(f);

    rw_ckpt *c = rw_calloc(1, sizeof *c, err);
    if (!c)
        return RW_ENOMEM;
    c->path = rw_strdup(path);
    c->group = group ? rw_strdup(group) : NULL;
    c->attrs_only = attrs_only;
    c->key = o && o->key ? rw_strdup(o->key) : NULL;
    if (!c->path || (group && !c->group) || (o && o->key && !c->key)) {
        ckpt_free(c);
        return rw_fail(err, RW_ENOMEM, "out of memory");
    }
    if (rw_ends_with(path, ".safetensors", NULL) ||
        rw_ends_with(path, CKPT_ST_INDEX_SUFFIX, NULL)) {
        c->format = RW_FMT_SAFETENSORS;
        st = ckpt_st_open(c, err);
    } else if (ckpt_pt_is_name(path) || rw_ends_with(path, CKPT_PT_INDEX_SUFFIX, NULL)) {
        c->format = RW_FMT_PYTORCH;
        st = ckpt_pt_open(c, err);
    } else if (rw_is_hdf5(path)) {
        c->format = RW_FMT_HDF5;
        st = ckpt_h5_open(c, err);
    } else if (rw_ends_with(path, ".h5", NULL) || rw_ends_with(path, ".hdf5", NULL)) {
        st = rw_fail(err, RW_EDATA, "%s: not an HDF5 file (no HDF5 signature)", path);
    } else {
        st = rw_fail(err, RW_EDATA,
                     "%s: not a checkpoint (expected .h5, .hdf5, .safetensors, or a PyTorch .pt, "
                     ".pth, .bin or .ckpt, or a sharded model's .safetensors.index.json or "
                     ".bin.index.json)", path);
    }
    if (st == RW_OK)
        st = ckpt_read_config(c, err);
    if (st == RW_OK)
        st = check_step(c, err);
    if (st != RW_OK) {
        ckpt_free(c);
        return st;
    }
    ckpt_sort_tensors(c);
    /* Names are unique: a PyTorch "a.b" key and a -> b nested say the same. */
    for (size_t i = 1; i < c->n; i++)
        if (strcmp(c->tensors[i - 1].name, c->tensors[i].name) == 0) {
            rw_fail(err, RW_EDATA, "%s: two tensors named '%s'", c->path, c->tensors[i].name);
            ckpt_free(c);
            return RW_EDATA;
        }
    if (!(o && o->keep_prefix) && (st = strip_prefix(c, err)) != RW_OK) {
        ckpt_free(c);
        return st;
    }
    *out = c;
    return RW_OK;
}

void ckpt_free(rw_ckpt *c)
{
    if (!c)
        return;
    if (c->impl) {
        if (c->format == RW_FMT_HDF5)
            ckpt_h5_close(c);
        else if (c->format == RW_FMT_DETACHED)
            ckpt_detached_close(c);
        else if (c->format == RW_FMT_PYTORCH)
            ckpt_pt_close(c);
        else
            ckpt_st_close(c);
    }
    for (size_t i = 0; i < c->n; i++) {
        free(c->tensors[i].name);
        free(c->tensors[i].module_name);
        if (c->tensors[i].loc) {
            free(c->tensors[i].loc->h5path);
            free(c->tensors[i].loc->h5_chunks);
        }
        free(c->tensors[i].loc);
    }
    free(c->tensors);
    for (size_t i = 0; i < c->nattrs; i++) {
        free(c->attrs[i].key);
        free(c->attrs[i].value);
    }
    free(c->attrs);
    free(c->path);
    free(c->group);
    free(c->key);
    free(c->prefix);
    free(c);
}

rw_status ckpt_read(rw_ckpt *c, size_t i, double *buf, rw_err *err)
{
    if (i >= c->n)
        return rw_fail(err, RW_EUSAGE, "%s: tensor index %zu out of range", c->path, i);
    if (c->format == RW_FMT_HDF5)
        return ckpt_h5_read(c, i, buf, err);
    if (c->format == RW_FMT_DETACHED)
        return ckpt_detached_read(c, i, buf, err);
    if (c->format == RW_FMT_PYTORCH)
        return ckpt_pt_read(c, i, buf, err);
    return ckpt_st_read(c, i, buf, err);
}

rw_status ckpt_read_packed(rw_ckpt *c, size_t i, rw_packed **out, rw_err *err)
{
    *out = NULL;
    if (i >= c->n)
        return rw_fail(err, RW_EUSAGE, "%s: tensor index %zu out of range", c->path, i);
    rw_status st = c->format == RW_FMT_HDF5 ? ckpt_h5_read_packed(c, i, out, err) : RW_OK;
    if (*out)
        (*out)->keep = c->reread;
    return st;
}

rw_tensor *ckpt_push_tensor(rw_ckpt *c, size_t *cap, rw_err *err)
{
    if (rw_grow(&c->tensors, c->n, cap, sizeof *c->tensors, err) != RW_OK)
        return NULL;
    rw_tensor *t = &c->tensors[c->n];
    memset(t, 0, sizeof *t);
    if (!(t->loc = rw_calloc(1, sizeof *t->loc, err)))
        return NULL;
    c->n++;
    return t;
}

static int cmp_tensor(const void *a, const void *b)
{
    return strcmp(((const rw_tensor *)a)->name, ((const rw_tensor *)b)->name);
}

/* The first segment of a name that says it is optimizer state: PyTorch
 * checkpoint dicts' optimizer entries, Keras 2's optimizer_weights/ and
 * Keras 3's optimizer/ groups. */
static bool is_optimizer_name(const char *name)
{
    static const char *const heads[] = {"optimizer", "optimizer_weights",
                                        "optimizer_state_dict", "optim", "optimizer_states"};
    size_t len = strcspn(name, ".");
    for (size_t i = 0; i < sizeof heads / sizeof heads[0]; i++)
        if (strlen(heads[i]) == len && strncmp(name, heads[i], len) == 0)
            return true;
    return false;
}

void ckpt_sort_tensors(rw_ckpt *c)
{
    if (c->n > 1)
        qsort(c->tensors, c->n, sizeof *c->tensors, cmp_tensor);
    /* module points into name, which qsort moved along with the struct. A
     * module the back end named (module_name) comes with its layer. */
    for (size_t i = 0; i < c->n; i++) {
        rw_tensor *t = &c->tensors[i];
        if (t->module_name)
            t->module = t->module_name;
        else
            rw_tensor_parse_name(t);
        t->optimizer = is_optimizer_name(t->name);
    }
}

/* True when the segment at s (up to the next '.' or the end) is a layer
 * number as rw_tensor_parse_name reads one. */
static bool segment_is_number(const char *s)
{
    size_t len = strcspn(s, ".");
    bool digits = len > 0 && len <= 9;
    for (size_t i = 0; digits && i < len; i++)
        digits = isdigit((unsigned char)s[i]);
    return digits;
}

/* The prefix rule of ckpt.h: c's tensors, sorted, lose the longest run of
 * leading segments that every model tensor shares, within the guards. */
static rw_status strip_prefix(rw_ckpt *c, rw_err *err)
{
    const rw_tensor *first = NULL;
    size_t model = 0;
    for (size_t i = 0; i < c->n; i++) {
        /* Keras files are read as they are (DESIGN.md); their back end
         * marks them with Keras's matrix rule */
        if (c->tensors[i].module_name || c->tensors[i].matrix == RW_MAT_OUT_LAST)
            return RW_OK;
        if (!c->tensors[i].optimizer && !model++)
            first = &c->tensors[i];
    }
    if (model < 2) /* what one name shares with itself is no wrapper */
        return RW_OK;
    size_t len = 0; /* the prefix so far: first->name[0..len), ending in '.' */
    for (;;) {
        const char *dot = strchr(first->name + len, '.');
        if (!dot || segment_is_number(first->name + len)) /* never a layer number */
            break;
        size_t next = (size_t)(dot - first->name) + 1; /* candidate prefix length */
        bool ok = true;
        for (size_t i = 0; i < c->n && ok; i++) {
            const rw_tensor *t = &c->tensors[i];
            if (t->optimizer)
                continue;
            const char *rest = t->name + next;
            ok = strncmp(t->name, first->name, next) == 0 && !segment_is_number(rest) &&
                 strchr(rest, '.') != NULL && !is_optimizer_name(rest);
        }
        if (!ok)
            break;
        len = next;
    }
    if (len == 0)
        return RW_OK;
    if (!(c->prefix = rw_malloc(len + 1, err)))
        return RW_ENOMEM;
    memcpy(c->prefix, first->name, len);
    c->prefix[len] = '\0';
    for (size_t i = 0; i < c->n; i++) {
        rw_tensor *t = &c->tensors[i];
        if (!t->optimizer)
            memmove(t->name, t->name + len, strlen(t->name + len) + 1);
    }
    /* Model names kept their order among themselves; optimizer state
     * (unstripped) may now sort elsewhere. Re-sorting also re-points each
     * module into its name. Names stay unique: a stripped name does not
     * read as optimizer state, and an optimizer name's first segment says
     * it is one. */
    ckpt_sort_tensors(c);
    return RW_OK;
}

long ckpt_find(const rw_ckpt *c, const char *name)
{
    size_t lo = 0, hi = c->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int r = strcmp(c->tensors[mid].name, name);
        if (r == 0)
            return (long)mid;
        if (r < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

rw_status ckpt_add_attr(rw_ckpt *c, const char *key, const char *value, rw_err *err)
{
    rw_attr *a = rw_realloc(c->attrs, (c->nattrs + 1) * sizeof *a, err);
    if (!a)
        return RW_ENOMEM;
    c->attrs = a;
    a[c->nattrs].key = rw_strdup(key);
    a[c->nattrs].value = rw_strdup(value);
    a[c->nattrs].from_config = false;
    if (!a[c->nattrs].key || !a[c->nattrs].value) {
        free(a[c->nattrs].key);
        free(a[c->nattrs].value);
        return rw_fail(err, RW_ENOMEM, "out of memory");
    }
    c->nattrs++;
    return RW_OK;
}

const char *ckpt_attr(const rw_ckpt *c, const char *key)
{
    for (size_t i = 0; i < c->nattrs; i++)
        if (strcmp(c->attrs[i].key, key) == 0)
            return c->attrs[i].value;
    return NULL;
}

bool ckpt_attr_double(const rw_ckpt *c, const char *key, double *out)
{
    const char *v = ckpt_attr(c, key);
    return v && rw_parse_double(v, out);
}

const char *ckpt_attr_source(const rw_ckpt *c, const char *key)
{
    for (size_t i = 0; i < c->nattrs; i++)
        if (strcmp(c->attrs[i].key, key) == 0)
            return c->attrs[i].from_config      ? "config.json"
                   : c->format == RW_FMT_HDF5 ? "attributes"
                                              : "metadata";
    return NULL;
}

/* The step attribute or metadata, when present, must be a whole number in
 * 0 .. 2^53 (exact as a double): a malformed one is an error, never
 * silently replaced by the digits of the file name. (The HDF5 back end
 * refuses non-integer types already; safetensors metadata are strings.) */
static rw_status check_step(const rw_ckpt *c, rw_err *err)
{
    const char *v = ckpt_attr(c, "step");
    int64_t s;
    if (v && (!rw_parse_i64(v, &s) || s < 0 || s > ((int64_t)1 << 53)))
        return rw_fail(err, RW_EDATA, "%s: step '%s' is not a whole number in 0 .. 2^53",
                       c->path, v);
    return RW_OK;
}

/* ckpt_step, and in *name the name it came from (newly allocated; NULL
 * when from the attribute or none). */
static int64_t step_and_name(const rw_ckpt *c, char **name)
{
    int64_t v;
    *name = NULL;
    if (rw_parse_i64(ckpt_attr(c, "step"), &v)) /* checked at open */
        return v;
    if (c->group) {
        *name = rw_strdup(c->group);
        return rw_step_from_name(c->group);
    }
    char *base = rw_basename(c->path, true);
    int64_t s = base ? rw_step_from_name(base) : -1;
    if (s >= 0) {
        *name = base;
        return s;
    }
    free(base);
    /* the folder's name, links resolved: latest/ is the step_<N>/ it names;
     * pico-train's learning_dynamics/ files take their step folder's */
    char *dir = rw_dirname(c->path);
    char *real = dir ? realpath(dir, NULL) : NULL;
    const char *d = real ? real : dir ? dir : ".";
    char *dbase = rw_basename(d, false);
    s = dbase ? rw_step_from_name(dbase) : -1;
    if (s < 0 && dbase && strcmp(dbase, "learning_dynamics") == 0) {
        char *up = rw_dirname(d);
        char *ubase = up ? rw_basename(up, false) : NULL;
        s = ubase ? rw_step_from_name(ubase) : -1;
        free(up);
        free(dbase);
        dbase = ubase;
    }
    free(dir);
    free(real);
    if (s >= 0)
        *name = dbase;
    else
        free(dbase);
    return s;
}

int64_t ckpt_step(const rw_ckpt *c)
{
    char *name;
    int64_t s = step_and_name(c, &name);
    free(name);
    return s;
}

bool ckpt_step_is_epoch(const rw_ckpt *c)
{
    char *name;
    int64_t s = step_and_name(c, &name);
    bool epoch = false;
    if (s >= 0 && name) {
        /* Keras's tensors are matricized its own way (ckpt_h5.c) */
        bool keras = false;
        for (size_t i = 0; i < c->n && !keras; i++)
            keras = c->tensors[i].matrix == RW_MAT_OUT_LAST;
        /* named by epoch; or a Keras file numbered without a keyword
         * (ModelCheckpoint's weights.{epoch:02d}.hdf5) */
        epoch = rw_step_name_is_epoch(name) ||
                (keras && !c->group && !rw_step_name_keyword(name));
    }
    free(name);
    return epoch;
}

rw_status ckpt_step_groups(const char *path, char ***names, int64_t **steps, size_t *n,
                           rw_err *err)
{
    *names = NULL;
    *steps = NULL;
    *n = 0;
    return rw_is_hdf5(path) ? h5_step_groups(path, names, steps, n, err) : RW_OK;
}

rw_status ckpt_shard_files(const char *path, char ***names, size_t *n, rw_err *err)
{
    *names = NULL;
    *n = 0;
    return ckpt_is_index_name(path) ? ckpt_index_shards(path, names, n, err) : RW_OK;
}

bool ckpt_is_index_name(const char *path)
{
    return rw_ends_with(path, CKPT_ST_INDEX_SUFFIX, NULL) ||
           rw_ends_with(path, CKPT_PT_INDEX_SUFFIX, NULL);
}

bool ckpt_is_name(const char *path)
{
    return rw_ends_with(path, ".h5", NULL) || rw_ends_with(path, ".hdf5", NULL) ||
           rw_ends_with(path, ".safetensors", NULL) || ckpt_is_index_name(path) ||
           ckpt_pt_is_name(path);
}

bool rw_tensor_matrix(const rw_tensor *t, int64_t *rows, int64_t *cols)
{
    if (t->ndim < 2 || !rw_dtype_is_float(t->dtype))
        return false;
    /* Back ends check at open that the products fit (of all dims but the
     * first; HDF5, the only one that sets RW_MAT_OUT_LAST: but the last). */
    int64_t p = 1;
    if (t->matrix == RW_MAT_OUT_LAST) {
        for (int d = 0; d < t->ndim - 1; d++)
            p *= t->shape[d];
        *rows = p;
        *cols = t->shape[t->ndim - 1];
        return true;
    }
    for (int d = 1; d < t->ndim; d++)
        p *= t->shape[d];
    *rows = t->shape[0];
    *cols = p;
    return true;
}

void rw_tensor_parse_name(rw_tensor *t)
{
    t->layer = -1;
    t->module = t->name;
    const char *seg = t->name;
    while (*seg) {
        const char *end = strchr(seg, '.');
        if (segment_is_number(seg)) {
            t->layer = atoi(seg); /* at most 9 digits: fits an int */
            if (end && end[1])
                t->module = end + 1;
            return;
        }
        if (!end)
            break;
        seg = end + 1;
    }
}

char *rw_shape_str(const rw_tensor *t, char *buf, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    if (t->ndim == 0)
        snprintf(buf, n, "scalar");
    for (int d = 0; d < t->ndim && used < n; d++)
        used += (size_t)snprintf(buf + used, n - used, "%s%lld", d ? "x" : "",
                                 (long long)t->shape[d]);
    return buf;
}
