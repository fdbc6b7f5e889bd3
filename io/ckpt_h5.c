/*
 * ckpt_h5.c — HDF5 back end of ckpt.h.
 *
 * Every numeric dataset below the checkpoint's root (the file, or one
 * `step_<N>` group) is a tensor. Float datasets are classified by their bit
 * layout: IEEE binary16 (float16), the 16-bit custom float with an 8-bit
 * exponent (bfloat16), binary32 and binary64. Values are read as double:
 * 32/64-bit floats through HDF5's own conversion, 16-bit ones as raw bits
 * decoded exactly here. float32 and float64 datasets stored contiguously in
 * the host's own layout (what h5py, Keras and PyTorch exporters write) skip
 * even that: their bytes are read straight from the file with pread at the
 * offset HDF5 gives at listing time, with no dataset opened again (see
 * ckpt_h5_read). Root (or group) attributes that are scalars or short
 * strings become the checkpoint's text attributes (`step`, `run`,
 * `lora_alpha`, ...).
 */
#include "ckpt.h"
#include "h5file.h"

#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    hid_t file;
    hid_t root;   /* the file or the step group */
    int fd;       /* HDF5's own descriptor of the file (sec2 driver), for the
                     raw reads; -1 when they are not used */
    int64_t size; /* of the file when opened (see h5_shrunk) */
} h5_state;

static void h5_quiet(void)
{
    static bool done;
    if (!done) {
        rw_h5_init();
        done = true;
    }
}

/* Classifies an HDF5 datatype. Returns RW_DT_OTHER for unsupported floats. */
static rw_dtype h5_classify(hid_t type)
{
    H5T_class_t cls = H5Tget_class(type);
    if (cls == H5T_INTEGER || cls == H5T_BITFIELD || cls == H5T_ENUM)
        return RW_DT_INT;
    if (cls != H5T_FLOAT)
        return RW_DT_OTHER;
    size_t size = H5Tget_size(type);
    size_t spos, epos, esize, mpos, msize;
    if (H5Tget_fields(type, &spos, &epos, &esize, &mpos, &msize) < 0)
        return RW_DT_OTHER;
    if (size == 2 && spos == 15 && epos == 10 && esize == 5 && mpos == 0 && msize == 10)
        return RW_DT_F16;
    if (size == 2 && spos == 15 && epos == 7 && esize == 8 && mpos == 0 && msize == 7)
        return RW_DT_BF16;
    if (size == 4 && esize == 8 && msize == 23)
        return RW_DT_F32;
    if (size == 8 && esize == 11 && msize == 52)
        return RW_DT_F64;
    return RW_DT_OTHER;
}

typedef struct {
    rw_ckpt *c;
    rw_err *err;
    rw_status st;
    size_t cap;
} visit_ctx;

/* Whether tensor t (dataset ds of file type type) can be read raw: float32
 * or float64 whose file type is the host's own (H5T_NATIVE_*: same size,
 * order and bit fields), stored contiguously (H5Dget_offset is defined only
 * for contiguous storage that is allocated and not external; chunked,
 * compressed and compact datasets have none) and exactly numel elements
 * long. Then the values are the numel native floats at that offset, and a
 * read needs no HDF5 call at all: ckpt_h5_read skips the H5Dopen, H5Dread
 * and H5Dclose that cost about 15 us a dataset (a third of the main
 * thread's time on the pico runs, perf). Anything else goes through
 * H5Dread, as before. */
static void raw_layout(visit_ctx *v, hid_t ds, hid_t type, rw_tensor *t)
{
    h5_state *s = v->c->impl;
    if (s->fd < 0 || t->numel == 0 || (t->dtype != RW_DT_F32 && t->dtype != RW_DT_F64))
        return;
    hid_t native = t->dtype == RW_DT_F32 ? H5T_NATIVE_FLOAT : H5T_NATIVE_DOUBLE;
    if (H5Tequal(type, native) <= 0)
        return;
    haddr_t off = H5Dget_offset(ds);
    size_t bytes = t->numel * H5Tget_size(native);
    if (off == HADDR_UNDEF || H5Dget_storage_size(ds) != (hsize_t)bytes ||
        off > (haddr_t)INT64_MAX - bytes)
        return;
    t->offset = off;
    t->h5_raw = true;
}

/* HDF5's file descriptor for raw reads, or -1: only for the default (sec2)
 * driver, and only without a user block, so that no version's reading of
 * "offset from the beginning of the file" can differ from ours. */
static int raw_fd(hid_t file)
{
    hid_t fapl = H5Fget_access_plist(file), fcpl = H5Fget_create_plist(file);
    hsize_t ublock = 1;
    bool ok = fapl >= 0 && fcpl >= 0 && H5Pget_driver(fapl) == H5FD_SEC2 &&
              H5Pget_userblock(fcpl, &ublock) >= 0 && ublock == 0;
    if (fapl >= 0)
        H5Pclose(fapl);
    if (fcpl >= 0)
        H5Pclose(fcpl);
    int *fd = NULL;
    if (!ok || H5Fget_vfd_handle(file, H5P_DEFAULT, (void **)&fd) < 0 || !fd || *fd < 0)
        return -1;
    return *fd;
}

/* Adds the open dataset ds as a tensor, and closes it. (Kept open for the
 * reads, every dataset handle of a checkpoint would cost about 16 KiB while
 * it is open — 9 MiB more peak memory on two pico runs with --updates —
 * for a 5 us name lookup per read.) */
static rw_status add_dataset(visit_ctx *v, hid_t ds, const char *relpath)
{
    rw_ckpt *c = v->c;
    rw_err *err = v->err;
    hid_t type = H5Dget_type(ds), space = H5Dget_space(ds);
    rw_status st = RW_OK;
    if (type < 0 || space < 0) {
        st = rw_fail(err, RW_EDATA, "%s: /%s: unreadable type or shape", c->path, relpath);
        goto done;
    }
    int ndim = H5Sget_simple_extent_ndims(space);
    if (ndim < 0 || ndim > RW_MAX_DIMS) {
        st = rw_fail(err, RW_EDATA, "%s: /%s: unsupported rank %d (at most %d)", c->path,
                     relpath, ndim, RW_MAX_DIMS);
        goto done;
    }
    hsize_t dims[RW_MAX_DIMS];
    H5Sget_simple_extent_dims(space, dims, NULL);
    if ((st = rw_grow(&c->tensors, c->n, &v->cap, sizeof *c->tensors, err)) != RW_OK)
        goto done;
    rw_tensor *t = &c->tensors[c->n];
    memset(t, 0, sizeof *t);
    t->ndim = ndim;
    t->numel = 1;
    for (int d = 0; d < ndim; d++) {
        if (dims[d] > (hsize_t)INT64_MAX || !rw_mul_size(t->numel, (size_t)dims[d], &t->numel)) {
            st = rw_fail(err, RW_EDATA, "%s: /%s: shape too large", c->path, relpath);
            goto done;
        }
        t->shape[d] = (int64_t)dims[d];
    }
    /* The product of the trailing dims (the matrix's columns) must fit too,
     * also when shape[0] is 0. */
    size_t rest = 1;
    for (int d = 1; d < ndim; d++)
        if (!rw_mul_size(rest, (size_t)dims[d], &rest) || rest > (size_t)INT64_MAX) {
            st = rw_fail(err, RW_EDATA, "%s: /%s: shape too large", c->path, relpath);
            goto done;
        }
    t->dtype = h5_classify(type);
    t->h5path = rw_strdup(relpath);
    t->name = rw_strdup(relpath);
    if (!t->h5path || !t->name) {
        free(t->h5path);
        free(t->name);
        st = rw_fail(err, RW_ENOMEM, "out of memory");
        goto done;
    }
    for (char *p = t->name; *p; p++)
        if (*p == '/')
            *p = '.';
    raw_layout(v, ds, type, t);
    c->n++;
done:
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    H5Dclose(ds);
    return st;
}

static herr_t visit_cb(hid_t root, const char *name, const H5L_info_t *info, void *data)
{
    visit_ctx *v = data;
    if (info->type != H5L_TYPE_HARD)
        return 0; /* soft and external links: not followed */
    /* Opened once, by name, and kept: one lookup per dataset. */
    hid_t obj = H5Oopen(root, name, H5P_DEFAULT);
    if (obj < 0) {
        v->st = rw_fail(v->err, RW_EDATA, "%s: unreadable object /%s", v->c->path, name);
        return -1;
    }
    if (H5Iget_type(obj) != H5I_DATASET) {
        H5Oclose(obj);
        return 0;
    }
    v->st = add_dataset(v, obj, name);
    return v->st == RW_OK ? 0 : -1;
}

/* Reads a scalar numeric or string attribute as text. */
static herr_t attr_cb(hid_t loc, const char *name, const H5A_info_t *ainfo, void *data)
{
    (void)ainfo;
    visit_ctx *v = data;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    if (a < 0)
        return 0;
    hid_t type = H5Aget_type(a), space = H5Aget_space(a);
    char text[256] = "";
    bool ok = false;
    hssize_t npts = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    H5T_class_t cls = type >= 0 ? H5Tget_class(type) : H5T_NO_CLASS;
    if (npts == 1 && (cls == H5T_INTEGER || cls == H5T_FLOAT)) {
        if (cls == H5T_INTEGER) {
            long long x;
            ok = H5Aread(a, H5T_NATIVE_LLONG, &x) >= 0;
            snprintf(text, sizeof text, "%lld", x);
        } else {
            double x;
            ok = H5Aread(a, H5T_NATIVE_DOUBLE, &x) >= 0;
            rw_fmt_double(text, x);
        }
    } else if (npts == 1 && cls == H5T_STRING) {
        if (H5Tis_variable_str(type) > 0) {
            char *s = NULL;
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(type));
            if (H5Aread(a, mt, &s) >= 0 && s) {
                snprintf(text, sizeof text, "%s", s);
                ok = true;
            }
            if (s)
                H5free_memory(s);
            H5Tclose(mt);
        } else {
            size_t sz = H5Tget_size(type);
            if (sz > 0 && sz < sizeof text) {
                hid_t mt = H5Tcopy(H5T_C_S1);
                H5Tset_size(mt, sz + 1);
                ok = H5Aread(a, mt, text) >= 0;
                text[sz] = '\0';
                H5Tclose(mt);
            }
        }
    }
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    H5Aclose(a);
    if (ok && ckpt_add_attr(v->c, name, text, v->err) != RW_OK) {
        v->st = RW_ENOMEM;
        return -1;
    }
    return 0;
}

rw_status ckpt_h5_open(rw_ckpt *c, rw_err *err)
{
    h5_quiet();
    h5_state *s = rw_calloc(1, sizeof *s, err);
    if (!s)
        return RW_ENOMEM;
    s->file = s->root = H5I_INVALID_HID;
    s->fd = -1;
    c->impl = s;
    struct stat sb;
    if (stat(c->path, &sb) != 0)
        return rw_fail(err, RW_EIO, "%s: %s", c->path, strerror(errno));
    s->size = (int64_t)sb.st_size;
    s->file = H5Fopen(c->path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (s->file < 0)
        return rw_fail(err, RW_EDATA, "%s: cannot open as HDF5 (truncated or corrupt file?)",
                       c->path);
    s->root = H5Gopen2(s->file, c->group ? c->group : "/", H5P_DEFAULT);
    if (s->root < 0)
        return rw_fail(err, RW_EDATA, "%s: no group /%s", c->path, c->group ? c->group : "");
    visit_ctx v = {.c = c, .err = err, .st = RW_OK};
    hsize_t idx = 0;
    if (H5Aiterate2(s->root, H5_INDEX_NAME, H5_ITER_INC, &idx, attr_cb, &v) < 0 &&
        v.st != RW_OK)
        return v.st;
    if (c->attrs_only)
        return RW_OK;
    s->fd = raw_fd(s->file);
    if (H5Lvisit(s->root, H5_INDEX_NAME, H5_ITER_INC, visit_cb, &v) < 0) {
        if (v.st != RW_OK)
            return v.st;
        return rw_fail(err, RW_EDATA, "%s: cannot list datasets (truncated or corrupt file?)",
                       c->path);
    }
    return RW_OK;
}

/* The numel floats in the upper half of buf (from (float *)buf + numel on)
 * widened to the numel doubles of buf, front to back: the doubles of
 * elements [k, k + len) overwrite floats [2k - numel, 2(k + len) - numel),
 * all below k + len, so no later chunk is touched. Through a local copy, so
 * that no float load and double store of the same bytes are ever reordered
 * (they may not alias in C). */
static void widen_in_place(double *buf, size_t numel)
{
    const float *f = (const float *)buf + numel;
    for (size_t k = 0; k < numel; k += 256) {
        float chunk[256];
        size_t len = numel - k < 256 ? numel - k : 256;
        memcpy(chunk, f + k, len * sizeof *chunk);
        for (size_t j = 0; j < len; j++)
            buf[k + j] = (double)chunk[j];
    }
}

/* True when the file is shorter now than when it was opened. HDF5 checks
 * the file's length against its end-of-file address at open, but later reads
 * past the end of a file that has shrunk since come back as zeros (the sec2
 * driver fills them), so every H5Dread is followed by this check. */
static bool h5_shrunk(const h5_state *s, const char *path)
{
    struct stat sb;
    int r = s->fd >= 0 ? fstat(s->fd, &sb) : stat(path, &sb);
    return r != 0 || (int64_t)sb.st_size < s->size;
}

rw_status ckpt_h5_read(rw_ckpt *c, size_t i, double *buf, rw_err *err)
{
    h5_state *s = c->impl;
    rw_tensor *t = &c->tensors[i];
    rw_status st = RW_OK;
    uint16_t *raw = NULL;
    hid_t mt = H5I_INVALID_HID;
    if (t->h5_raw) {
        /* float32: into the upper half of buf, widened in place as below. */
        void *dst = t->dtype == RW_DT_F32 ? (void *)((float *)buf + t->numel) : (void *)buf;
        size_t bytes = t->numel * (t->dtype == RW_DT_F32 ? sizeof(float) : sizeof(double));
        if (!rw_pread_all(s->fd, dst, bytes, t->offset))
            return rw_fail(err, RW_EDATA, "%s: %s: cannot read values (truncated or corrupt file?)",
                           c->path, t->name);
        if (t->dtype == RW_DT_F32)
            widen_in_place(buf, t->numel);
        return RW_OK;
    }
    hid_t ds = H5Dopen2(s->root, t->h5path, H5P_DEFAULT);
    if (ds < 0)
        return rw_fail(err, RW_EDATA, "%s: %s: cannot open dataset", c->path, t->name);
    if (t->numel == 0)
        goto done;
    switch (t->dtype) {
    case RW_DT_F32: {
        /* Read as native float into the upper half of buf and widen in
         * place. Letting HDF5 convert to double instead costs a zeroed
         * conversion buffer per read (a quarter of the reading time,
         * measured with perf). */
        float *f = (float *)buf + t->numel;
        if (H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, f) < 0) {
            st = rw_fail(err, RW_EDATA, "%s: %s: cannot read values (truncated or corrupt file?)",
                         c->path, t->name);
            break;
        }
        widen_in_place(buf, t->numel);
        break;
    }
    case RW_DT_F64:
        if (H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
            st = rw_fail(err, RW_EDATA, "%s: %s: cannot read values (truncated or corrupt file?)",
                         c->path, t->name);
        break;
    case RW_DT_F16:
    case RW_DT_BF16: {
        /* Read the raw 16 bits in little-endian order and decode them here. */
        hid_t ft = H5Dget_type(ds);
        mt = H5Tcopy(ft);
        H5Tclose(ft);
        H5Tset_order(mt, H5T_ORDER_LE);
        raw = rw_calloc(t->numel, sizeof *raw, err);
        if (!raw) {
            st = RW_ENOMEM;
            break;
        }
        if (H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) < 0) {
            st = rw_fail(err, RW_EDATA, "%s: %s: cannot read values (truncated or corrupt file?)",
                         c->path, t->name);
            break;
        }
        for (size_t k = 0; k < t->numel; k++) {
            uint16_t h = (uint16_t)(((const uint8_t *)&raw[k])[0] |
                                    ((const uint8_t *)&raw[k])[1] << 8);
            buf[k] = t->dtype == RW_DT_F16 ? rw_half_to_double(h) : rw_bf16_to_double(h);
        }
        break;
    }
    default:
        st = rw_fail(err, RW_EUSAGE, "%s: %s: dtype %s has no values to analyse", c->path,
                     t->name, rw_dtype_name(t->dtype));
    }
done:
    if (st == RW_OK && t->numel > 0 && h5_shrunk(s, c->path))
        st = rw_fail(err, RW_EDATA, "%s: %s: cannot read values: the file is shorter than "
                     "when it was opened (truncated while being read?)", c->path, t->name);
    free(raw);
    if (mt >= 0)
        H5Tclose(mt);
    H5Dclose(ds);
    return st;
}

void ckpt_h5_close(rw_ckpt *c)
{
    h5_state *s = c->impl;
    if (s->root >= 0)
        H5Gclose(s->root);
    if (s->file >= 0)
        H5Fclose(s->file);
    free(s);
    c->impl = NULL;
}

/* ------------------------------------------------------------ step groups */

typedef struct {
    char **names;
    int64_t *steps;
    size_t n, cap;
    bool other; /* a top-level object that is not a step group */
    rw_err *err;
    rw_status st;
} groups_ctx;

/* Stops (returns 1) at the first top-level object that is not a step
 * group: the name is checked before the object is looked up, so that a
 * checkpoint of hundreds of tensors costs one lookup, not one per tensor. */
static herr_t group_cb(hid_t loc, const char *name, const H5L_info_t *info, void *data)
{
    (void)info;
    groups_ctx *g = data;
    H5O_info_t oinfo;
    int64_t step;
    if (strncmp(name, "step_", 5) != 0 || !rw_parse_i64(name + 5, &step) || step < 0 ||
        H5Oget_info_by_name(loc, name, &oinfo, H5P_DEFAULT) < 0 ||
        oinfo.type != H5O_TYPE_GROUP) {
        g->other = true;
        return 1;
    }
    if (g->n == g->cap) {
        size_t ncap = g->cap ? 2 * g->cap : 16;
        char **nn = rw_realloc(g->names, ncap * sizeof *nn, g->err);
        if (!nn)
            goto oom;
        g->names = nn;
        int64_t *ns = rw_realloc(g->steps, ncap * sizeof *ns, g->err);
        if (!ns)
            goto oom;
        g->steps = ns;
        g->cap = ncap;
    }
    g->names[g->n] = rw_strdup(name);
    if (!g->names[g->n])
        goto oom;
    g->steps[g->n++] = step;
    return 0;
oom:
    g->st = RW_ENOMEM;
    return -1;
}

rw_status h5_step_groups(const char *path, char ***names, int64_t **steps, size_t *n,
                         rw_err *err)
{
    h5_quiet();
    *names = NULL;
    *steps = NULL;
    *n = 0;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return rw_fail(err, RW_EDATA, "%s: cannot open as HDF5 (truncated or corrupt file?)",
                       path);
    groups_ctx g = {.err = err, .st = RW_OK};
    hsize_t idx = 0;
    herr_t r = H5Literate(f, H5_INDEX_NAME, H5_ITER_INC, &idx, group_cb, &g);
    H5Fclose(f);
    if (r < 0 || g.st != RW_OK || g.other || g.n == 0) {
        for (size_t i = 0; i < g.n; i++)
            free(g.names[i]);
        free(g.names);
        free(g.steps);
        if (g.st != RW_OK)
            return g.st;
        if (r < 0)
            return rw_fail(err, RW_EDATA, "%s: cannot list groups (truncated or corrupt file?)",
                           path);
        return RW_OK;
    }
    *names = g.names;
    *steps = g.steps;
    *n = g.n;
    return RW_OK;
}
