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
 * ckpt_h5_read). 16-bit floats of any other layout (another exponent
 * bias, no implied bit, padding: legal HDF5 types) go through HDF5's own
 * conversion to double instead of the hand decoders.
 *
 * The file is untrusted: a dataset must have the storage its shape declares
 * (a never-written one would read as fill values, and a 1.4 KB file can
 * declare 30000 x 30000 of them), and only the attributes rankwatch uses are
 * read, by name, after their type and size are checked (attr_specs): a
 * variable-length attribute is never read, because HDF5 allocates whatever
 * length the file claims before it reads (2.5 GB for a 6 KB file).
 *
 * Keras files are recognised by what Keras writes (attributes are only
 * tested for existence, never read):
 *   Keras 1/2 (`save_weights` .h5, `model.save` .h5): the checkpoint's root
 *     has an attribute keras_version, backend or layer_names, or a
 *     model_weights group with layer_names;
 *   Keras 3 (`.weights.h5`, and Keras 2.13-2.15's new format): a group
 *     `layers/<name>/vars` (or `_layer_checkpoint_dependencies/<name>/vars`)
 *     below the root, <name> not a number; its tensors are named by
 *     ckpt_keras.c.
 * Every tensor of a Keras file is matricized Keras's way (RW_MAT_OUT_LAST:
 * conv kernels (k..., in, out) as (k...·in, out)); of any other file
 * PyTorch's way. The file's name plays no part.
 */
#include "io/ckpt_impl.h"
#include "io/h5chunks.h"
#include "io/h5file.h"

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
    int64_t size; /* of the file when opened: storage checks, h5_shrunk */
    rw_packed_file *pfile; /* fd's duplicate shared with the packed tensors
                              (held; made at the first packed read) */
} h5_state;

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

/* Whether a float type classified as dt is exactly the IEEE (or bfloat16)
 * layout that rankwatch's own reads assume: binary32/binary64 in either byte
 * order, or a 16-bit type that rw_half_to_double / rw_bf16_to_double decode
 * (all 16 bits used, exponent bias 15 or 127, implied leading mantissa bit).
 * h5_classify looks at the field sizes only, and HDF5 allows any bias,
 * normalisation and padding with the same fields. */
static bool h5_is_ieee(hid_t type, rw_dtype dt)
{
    H5T_order_t order = H5Tget_order(type);
    switch (dt) {
    case RW_DT_F32:
        return H5Tequal(type, H5T_IEEE_F32LE) > 0 || H5Tequal(type, H5T_IEEE_F32BE) > 0;
    case RW_DT_F64:
        return H5Tequal(type, H5T_IEEE_F64LE) > 0 || H5Tequal(type, H5T_IEEE_F64BE) > 0;
    case RW_DT_F16:
    case RW_DT_BF16:
        return H5Tget_precision(type) == 16 && H5Tget_offset(type) == 0 &&
               H5Tget_ebias(type) == (dt == RW_DT_F16 ? 15 : 127) &&
               H5Tget_norm(type) == H5T_NORM_IMPLIED &&
               (order == H5T_ORDER_LE || order == H5T_ORDER_BE);
    default:
        return true;
    }
}

typedef struct {
    rw_ckpt *c;
    rw_err *err;
    rw_status st;
    size_t cap;
    bool keras3;  /* a Keras 3 `layers/<name>/vars` group was seen */
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
    t->loc->offset = off;
    t->loc->h5_raw = true;
}

/* Whether tensor t (dataset ds of file type type), when not raw, can be read
 * packed (ckpt_read_packed): chunked with the filters packed.c decodes
 * (h5chunks.h), of float32 or float64 in the host's own layout, or of an
 * IEEE 16-bit float stored little-endian, and a raw file descriptor. Its
 * chunks are then inflated in the pipeline's workers, not here. */
static rw_status packed_layout(visit_ctx *v, hid_t ds, hid_t type, rw_tensor *t)
{
    h5_state *s = v->c->impl;
    bool ok = s->fd >= 0 && !t->loc->h5_raw && !t->loc->h5_convert;
    switch (t->dtype) {
    case RW_DT_F32: ok = ok && H5Tequal(type, H5T_NATIVE_FLOAT) > 0; break;
    case RW_DT_F64: ok = ok && H5Tequal(type, H5T_NATIVE_DOUBLE) > 0; break;
    case RW_DT_F16:
    case RW_DT_BF16: ok = ok && H5Tget_order(type) == H5T_ORDER_LE; break;
    default: ok = false;
    }
    if (!ok || H5Dget_offset(ds) != HADDR_UNDEF) /* contiguous: never filtered */
        return RW_OK;
    return h5_chunks_layout(ds, t, H5Tget_size(type), v->c->path, s->size, v->err);
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

/* A float tensor must have the storage its shape declares, since HDF5
 * answers a read of storage never written with fill values (and a 1.4 KB
 * file can declare 30000 x 30000 of them: 7 GB and a minute of work for
 * nan). None at all is an error for every layout. Unfiltered data takes at
 * least its declared bytes, within the file (contiguous: from its offset);
 * filtered (compressed) data can legitimately take far fewer, and the
 * memory cap of the analysis (rw_analysis_opts) bounds what it expands to.
 * External storage lives in other files and is left to HDF5. Integer and
 * other tensors are listed, never read: not checked. */
static rw_status check_storage(visit_ctx *v, hid_t ds, hid_t type, const rw_tensor *t)
{
    rw_ckpt *c = v->c;
    h5_state *s = c->impl;
    if (!rw_dtype_is_float(t->dtype) || t->numel == 0)
        return RW_OK;
    char shape[128]; /* for the messages only */
    size_t declared;
    if (!rw_mul_size(t->numel, H5Tget_size(type), &declared))
        return rw_fail(v->err, RW_EDATA, "%s: %s: shape %s too large", c->path, t->name,
                       rw_shape_str(t, shape, sizeof shape));
    const struct h5_chunking *ck = t->loc->h5_chunks;
    if (ck && ck->located)
        return RW_OK; /* filtered, every chunk found inside the file */
    hsize_t stored = H5Dget_storage_size(ds);
    if (stored == 0)
        return rw_fail(v->err, RW_EDATA,
                       "%s: %s: no values stored for its %s %s (never written; reading it "
                       "would give fill values)",
                       c->path, t->name, rw_shape_str(t, shape, sizeof shape),
                       rw_dtype_name(t->dtype));
    haddr_t off = H5Dget_offset(ds); /* contiguous only */
    hsize_t end = off == HADDR_UNDEF ? stored : off + stored;
    if (stored >= declared && end >= stored && end <= (hsize_t)s->size)
        return RW_OK; /* the usual case, decided without the property list */
    hid_t dcpl = H5Dget_create_plist(ds);
    int nfilters = dcpl >= 0 ? H5Pget_nfilters(dcpl) : -1;
    int nexternal = dcpl >= 0 ? H5Pget_external_count(dcpl) : -1;
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (nfilters < 0 || nexternal < 0)
        return rw_fail(v->err, RW_EDATA, "%s: %s: unreadable storage layout", c->path, t->name);
    if (nfilters > 0 || nexternal > 0)
        return RW_OK;
    if (stored < declared)
        return rw_fail(v->err, RW_EDATA,
                       "%s: %s: only %llu of the %zu bytes of its %s %s are stored (partly "
                       "written)",
                       c->path, t->name, (unsigned long long)stored, declared,
                       rw_shape_str(t, shape, sizeof shape),
                       rw_dtype_name(t->dtype));
    return rw_fail(v->err, RW_EDATA,
                   "%s: %s: its %llu stored bytes end past the end of the file (%llu "
                   "bytes; truncated?)",
                   c->path, t->name, (unsigned long long)stored,
                   (unsigned long long)(hsize_t)s->size);
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
    /* Counted at once: on failure ckpt_free frees what is set. */
    rw_tensor *t = ckpt_push_tensor(c, &v->cap, err);
    if (!t) {
        st = RW_ENOMEM;
        goto done;
    }
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
     * also when shape[0] is 0; and that of the leading ones (a Keras file's
     * rows), also when the last is 0. */
    size_t rest = 1, lead = 1;
    for (int d = 1; d < ndim; d++)
        if (!rw_mul_size(rest, (size_t)dims[d], &rest) || rest > (size_t)INT64_MAX ||
            !rw_mul_size(lead, (size_t)dims[d - 1], &lead) || lead > (size_t)INT64_MAX) {
            st = rw_fail(err, RW_EDATA, "%s: /%s: shape too large", c->path, relpath);
            goto done;
        }
    t->dtype = h5_classify(type);
    t->loc->h5path = rw_strdup(relpath);
    t->name = rw_strdup(relpath);
    if (!t->loc->h5path || !t->name) {
        st = rw_fail(err, RW_ENOMEM, "out of memory");
        goto done;
    }
    for (char *p = t->name; *p; p++)
        if (*p == '/')
            *p = '.';
    t->loc->h5_convert = !h5_is_ieee(type, t->dtype);
    raw_layout(v, ds, type, t);
    if ((st = packed_layout(v, ds, type, t)) != RW_OK)
        goto done;
    st = check_storage(v, ds, type, t); /* with the chunks packed_layout located */
done:
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    H5Dclose(ds);
    return st;
}

/* Whether root carries what Keras 1/2 write at the top of their HDF5 files
 * (attributes tested for existence only: they are variable-length strings). */
static bool is_keras2(hid_t root)
{
    static const char *const attrs[] = {"keras_version", "backend", "layer_names"};
    for (size_t i = 0; i < sizeof attrs / sizeof *attrs; i++)
        if (H5Aexists(root, attrs[i]) > 0)
            return true;
    return H5Lexists(root, "model_weights", H5P_DEFAULT) > 0 &&
           H5Aexists_by_name(root, "model_weights", "layer_names", H5P_DEFAULT) > 0;
}

static herr_t visit_cb(hid_t root, const char *name, const H5L_info_t *info, void *data)
{
    visit_ctx *v = data;
    if (info->type != H5L_TYPE_HARD)
        return 0; /* soft and external links: not followed */
    /* Opened once, where the link points (no second lookup of its name:
     * about a fifth of the listing's time on a flat group of 279 links). */
#if H5_VERSION_GE(1, 12, 0)
    hid_t obj = H5Oopen_by_token(root, info->u.token);
#else
    hid_t obj = H5Oopen_by_addr(root, info->u.address);
#endif
    if (obj < 0) {
        v->st = rw_fail(v->err, RW_EDATA, "%s: unreadable object /%s", v->c->path, name);
        return -1;
    }
    if (H5Iget_type(obj) != H5I_DATASET) {
        if (H5Iget_type(obj) == H5I_GROUP && ckpt_keras3_vars_group(name))
            v->keras3 = true;
        H5Oclose(obj);
        return 0;
    }
    v->st = add_dataset(v, obj, name);
    return v->st == RW_OK ? 0 : -1;
}

/* ------------------------------------------------------------ attributes */

/* The attributes rankwatch uses (DESIGN.md), and what each must be. No other
 * attribute is opened, and none is read before its type class, size and
 * element count are known to be one of these. */
typedef enum {
    ATTR_STEP,   /* an integer in 0 .. 2^53; anything else is an error */
    ATTR_NUMBER, /* an integer or a float; otherwise ignored */
    ATTR_STRING, /* a fixed-length string; otherwise ignored */
} attr_kind;

static const struct {
    const char *name;
    attr_kind kind;
} attr_specs[] = {
    {"step", ATTR_STEP},         {"run", ATTR_STRING},     {"lora_alpha", ATTR_NUMBER},
    {"lora_r", ATTR_NUMBER},     {"n_heads", ATTR_NUMBER}, {"n_kv_heads", ATTR_NUMBER},
};

/* Why a step attribute of class cls, size size and npts elements cannot be
 * a step, or NULL when it can be read as one. */
static const char *step_type_problem(H5T_class_t cls, size_t size, hssize_t npts, bool vlen)
{
    if (npts != 1)
        return "has more or fewer than one value";
    if (cls == H5T_STRING)
        return vlen ? "is a variable-length string, not an integer" : "is a string, not an integer";
    if (cls == H5T_FLOAT)
        return "is a float, not an integer";
    if (cls != H5T_INTEGER || size > 8)
        return "is not an integer";
    return NULL;
}

/* Reads attribute name of loc, if present, as kind into text (n bytes);
 * *found says whether it was. */
static rw_status read_attr(rw_ckpt *c, hid_t loc, const char *name, attr_kind kind, char *text,
                           size_t n, bool *found, rw_err *err)
{
    *found = false;
    if (H5Aexists(loc, name) <= 0)
        return RW_OK;
    rw_status st = RW_OK;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t type = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
    hid_t space = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
    if (type < 0 || space < 0) {
        st = rw_fail(err, RW_EDATA, "%s: attribute %s: unreadable type or shape", c->path, name);
        goto done;
    }
    hssize_t npts = H5Sget_simple_extent_npoints(space);
    H5T_class_t cls = H5Tget_class(type);
    size_t size = H5Tget_size(type);
    bool vlen = cls == H5T_VLEN || H5Tis_variable_str(type) > 0;
    if (kind == ATTR_STEP) {
        const char *why = step_type_problem(cls, size, npts, vlen);
        long long x = 0;
        if (!why && H5Aread(a, H5T_NATIVE_LLONG, &x) < 0)
            why = "is unreadable";
        if (why) {
            st = rw_fail(err, RW_EDATA, "%s: attribute step %s", c->path, why);
            goto done;
        }
        /* Steps are compared and printed as doubles too: exact up to 2^53. */
        if (x < 0 || x > (1LL << 53)) {
            st = rw_fail(err, RW_EDATA, "%s: attribute step is %lld, not in 0 .. 2^53", c->path,
                         x);
            goto done;
        }
        snprintf(text, n, "%lld", x);
        *found = true;
    } else if (npts != 1 || vlen) {
        /* not one value, or variable-length: not read */
    } else if (kind == ATTR_NUMBER && (cls == H5T_INTEGER || cls == H5T_FLOAT) && size <= 16) {
        double x;
        if (H5Aread(a, H5T_NATIVE_DOUBLE, &x) >= 0) {
            rw_fmt_double(text, x);
            *found = true;
        }
    } else if (kind == ATTR_STRING && cls == H5T_STRING && size > 0 && size < n) {
        hid_t mt = H5Tcopy(H5T_C_S1);
        if (mt >= 0 && H5Tset_size(mt, size + 1) >= 0 &&
            H5Tset_cset(mt, H5Tget_cset(type)) >= 0 && H5Aread(a, mt, text) >= 0) {
            text[size] = '\0';
            *found = true;
        }
        if (mt >= 0)
            H5Tclose(mt);
    }
done:
    if (type >= 0)
        H5Tclose(type);
    if (space >= 0)
        H5Sclose(space);
    if (a >= 0)
        H5Aclose(a);
    return st;
}

/* The attributes of attr_specs that root has, as the checkpoint's text
 * attributes. */
static rw_status read_attrs(rw_ckpt *c, hid_t root, rw_err *err)
{
    for (size_t i = 0; i < sizeof attr_specs / sizeof *attr_specs; i++) {
        char text[256];
        bool found;
        rw_status st = read_attr(c, root, attr_specs[i].name, attr_specs[i].kind, text,
                                 sizeof text, &found, err);
        if (st == RW_OK && found)
            st = ckpt_add_attr(c, attr_specs[i].name, text, err);
        if (st != RW_OK)
            return st;
    }
    return RW_OK;
}

rw_status ckpt_h5_open(rw_ckpt *c, rw_err *err)
{
    rw_h5_init();
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
    rw_status st = read_attrs(c, s->root, err);
    if (st != RW_OK)
        return st;
    visit_ctx v = {.c = c, .err = err, .st = RW_OK};
    if (c->attrs_only)
        return RW_OK;
    s->fd = raw_fd(s->file);
    if (H5Lvisit(s->root, H5_INDEX_NAME, H5_ITER_INC, visit_cb, &v) < 0) {
        if (v.st != RW_OK)
            return v.st;
        return rw_fail(err, RW_EDATA, "%s: cannot list datasets (truncated or corrupt file?)",
                       c->path);
    }
    if (v.keras3 && (st = ckpt_keras3_names(c, err)) != RW_OK)
        return st;
    if (v.keras3 || is_keras2(s->root))
        for (size_t i = 0; i < c->n; i++)
            c->tensors[i].matrix = RW_MAT_OUT_LAST;
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
    if (t->loc->h5_raw) {
        /* float32: into the upper half of buf, widened in place as below. */
        void *dst = t->dtype == RW_DT_F32 ? (void *)((float *)buf + t->numel) : (void *)buf;
        size_t bytes = t->numel * (t->dtype == RW_DT_F32 ? sizeof(float) : sizeof(double));
        if (!rw_pread_all(s->fd, dst, bytes, t->loc->offset))
            return rw_fail(err, RW_EDATA, "%s: %s: cannot read values (truncated or corrupt file?)",
                           c->path, t->name);
        if (t->dtype == RW_DT_F32)
            widen_in_place(buf, t->numel);
        return RW_OK;
    }
    hid_t ds = H5Dopen2(s->root, t->loc->h5path, H5P_DEFAULT);
    if (ds < 0)
        return rw_fail(err, RW_EDATA, "%s: %s: cannot open dataset", c->path, t->name);
    if (t->numel == 0)
        goto done;
    if (t->loc->h5_convert) {
        /* A float layout the code below does not assume: HDF5 knows it. */
        if (H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
            st = rw_fail(err, RW_EDATA, "%s: %s: cannot read values (truncated or corrupt file?)",
                         c->path, t->name);
        goto done;
    }
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

rw_status ckpt_h5_read_packed(rw_ckpt *c, size_t i, rw_packed **out, rw_err *err)
{
    h5_state *s = c->impl;
    const rw_tensor *t = &c->tensors[i];
    *out = NULL;
    if (!t->loc->h5_chunks || s->fd < 0)
        return RW_OK;
    if (!s->pfile)
        s->pfile = rw_packed_file_dup(s->fd); /* NULL: the bytes are read here */
    return h5_chunks_read(s->root, s->fd, s->pfile, s->size, c->path, t, out, err);
}

void ckpt_h5_close(rw_ckpt *c)
{
    h5_state *s = c->impl;
    rw_packed_file_release(s->pfile);
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
    rw_h5_init();
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
