/*
 * spectra_file_write.c — writing spectra files: the singular values
 * appended to /sigma as they come, the index and sources written sorted at
 * commit (spectra_file.h).
 */
#include "io/spectra_file.h"

#include "io/h5file.h"
#include "io/spectra_file_impl.h"

#include <errno.h>
#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

#define SIGMA_CHUNK 65536

typedef struct {
    char *run, *tensor, *module, *component, *source;
    rw_dtype dtype;
    rw_kind kind;
    int64_t step, rows, cols, offset, count, ref_step;
    int32_t layer;
    double ref_fro, noise_fro;
} entry;

typedef struct {
    char *run, *path, *group;
    int64_t step, size, mtime_ns;
} source;

#define SIGMA_BUF 65536 /* doubles buffered before a write to /sigma */

struct rw_spectra_writer {
    rw_h5out h5;            /* the file being written */
    hid_t sigma;
    int64_t nsigma;         /* values added */
    int64_t nwritten;       /* values written to /sigma; the rest are in buf */
    double *buf;
    entry *e;
    size_t n, cap;
    source *src;
    size_t nsrc, srccap;
    char *options;
    char data[32], split[32]; /* of the entries (all alike): "" for weights */
};

rw_status spectra_writer_source(rw_spectra_writer *w, const char *run, const char *path,
                                const char *group, int64_t step, int64_t size,
                                int64_t mtime_ns, rw_err *err)
{
    if (rw_grow(&w->src, w->nsrc, &w->srccap, sizeof *w->src, err) != RW_OK)
        return RW_ENOMEM;
    source *x = &w->src[w->nsrc];
    *x = (source){rw_strdup(run), rw_strdup(path), rw_strdup(group ? group : ""), step, size,
                  mtime_ns};
    if (!x->run || !x->path || !x->group) {
        free(x->run);
        free(x->path);
        free(x->group);
        return rw_fail(err, RW_ENOMEM, "out of memory");
    }
    w->nsrc++;
    return RW_OK;
}

rw_status spectra_writer_options(rw_spectra_writer *w, const char *options, rw_err *err)
{
    free(w->options);
    if (!(w->options = rw_strdup(options)))
        return rw_fail(err, RW_ENOMEM, "out of memory");
    return RW_OK;
}

static void entry_free(entry *e)
{
    free(e->run);
    free(e->tensor);
    free(e->module);
    free(e->component);
    free(e->source);
}

/* A fixed-length string type of size bytes, NUL-padded, UTF-8. */
static hid_t fixed_str_type(size_t size)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, size ? size : 1);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

/* n strings packed into one buffer of n slots of *size bytes (the longest,
 * at least 1), NUL-padded: a fixed-length string column. */
static char *pack_strings(const char *const *s, size_t n, size_t *size)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        if (strlen(s[i]) > len)
            len = strlen(s[i]);
    size_t total;
    char *buf = rw_mul_size(n ? n : 1, len, &total) ? calloc(total, 1) : NULL;
    for (size_t i = 0; buf && i < n; i++)
        memcpy(buf + i * len, s[i], strlen(s[i]));
    *size = len;
    return buf;
}

static herr_t write_column(hid_t g, const char *name, hid_t ftype, hid_t mtype, size_t n,
                           const void *data);

/* A column of n strings, fixed-length. */
static herr_t write_str_column(hid_t g, const char *name, const char *const *s, size_t n)
{
    size_t size;
    char *buf = pack_strings(s, n, &size);
    if (!buf)
        return -1;
    hid_t t = fixed_str_type(size);
    herr_t r = write_column(g, name, t, t, n, buf);
    H5Tclose(t);
    free(buf);
    return r;
}

rw_status spectra_writer_open(const char *path, rw_spectra_writer **out, rw_err *err)
{
    *out = NULL;
    rw_spectra_writer *w = rw_calloc(1, sizeof *w, err);
    if (!w)
        return RW_ENOMEM;
    w->sigma = H5I_INVALID_HID;
    if (!(w->buf = rw_calloc(SIGMA_BUF, sizeof *w->buf, err))) {
        free(w);
        return RW_ENOMEM;
    }
    rw_status st = rw_h5out_create(&w->h5, path, err);
    if (st != RW_OK) {
        free(w->buf);
        free(w);
        return st;
    }
    hsize_t dim = 0, maxdim = H5S_UNLIMITED, chunk = SIGMA_CHUNK;
    hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
    space = H5Screate_simple(1, &dim, &maxdim);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    /* No object timestamps: the same spectra give the same bytes. */
    if (space < 0 || dcpl < 0 || H5Pset_chunk(dcpl, 1, &chunk) < 0 ||
        H5Pset_obj_track_times(dcpl, 0) < 0)
        goto fail;
    w->sigma = H5Dcreate2(w->h5.file, "sigma", H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl,
                          H5P_DEFAULT);
    if (w->sigma < 0)
        goto fail;
    H5Sclose(space);
    H5Pclose(dcpl);
    *out = w;
    return RW_OK;
fail:
    if (space >= 0)
        H5Sclose(space);
    if (dcpl >= 0)
        H5Pclose(dcpl);
    spectra_writer_close(w, false, NULL);
    return rw_fail(err, RW_EIO, "%s: cannot create HDF5 file", path);
}

/* Appends the buffered values to /sigma. */
static rw_status flush_sigma(rw_spectra_writer *w, rw_err *err)
{
    hsize_t count = (hsize_t)(w->nsigma - w->nwritten), start = (hsize_t)w->nwritten,
            newdim = (hsize_t)w->nsigma;
    if (count == 0)
        return RW_OK;
    errno = 0;
    if (H5Dset_extent(w->sigma, &newdim) < 0)
        return rw_fail(err, RW_EIO, "%s: cannot grow /sigma: %s", w->h5.out.path,
                       rw_h5_reason("HDF5 error"));
    errno = 0;
    hid_t fs = H5Dget_space(w->sigma), ms = H5Screate_simple(1, &count, NULL);
    herr_t r = H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL);
    if (r >= 0)
        r = H5Dwrite(w->sigma, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, w->buf);
    H5Sclose(fs);
    H5Sclose(ms);
    if (r < 0)
        return rw_fail(err, RW_EIO, "%s: cannot write /sigma: %s", w->h5.out.path,
                       rw_h5_reason("HDF5 error"));
    w->nwritten = w->nsigma;
    return RW_OK;
}

rw_status spectra_writer_add(rw_spectra_writer *w, const rw_spectrum *s, rw_err *err)
{
    /* one kind of data a file: its root attributes say which */
    const char *d = s->data ? s->data : "", *sp = s->split ? s->split : "";
    if (w->n == 0) {
        snprintf(w->data, sizeof w->data, "%s", d);
        snprintf(w->split, sizeof w->split, "%s", sp);
    } else if (strcmp(w->data, d) != 0 || strcmp(w->split, sp) != 0) {
        return rw_fail(err, RW_EDATA, "%s: %s: spectra of %s and of %s in one file", s->path,
                       s->tensor, *w->data ? w->data : "weights", *d ? d : "weights");
    }
    if (rw_grow(&w->e, w->n, &w->cap, sizeof *w->e, err) != RW_OK)
        return RW_ENOMEM;
    for (size_t i = 0; i < s->k;) {
        if (w->nsigma - w->nwritten == SIGMA_BUF) {
            rw_status st = flush_sigma(w, err);
            if (st != RW_OK)
                return st;
        }
        size_t room = (size_t)(SIGMA_BUF - (w->nsigma - w->nwritten)), take = s->k - i;
        if (take > room)
            take = room;
        memcpy(w->buf + (w->nsigma - w->nwritten), s->sigma + i, take * sizeof *w->buf);
        w->nsigma += (int64_t)take;
        i += take;
    }
    entry *e = &w->e[w->n];
    *e = (entry){
        .run = rw_strdup(s->run), .tensor = rw_strdup(s->tensor),
        .module = rw_strdup(s->module), .component = rw_strdup(s->component),
        .source = rw_strdup(s->path ? s->path : ""), .dtype = s->dtype, .step = s->step,
        .rows = s->rows, .cols = s->cols, .offset = w->nsigma - (int64_t)s->k,
        .count = (int64_t)s->k,
        .layer = s->layer, .kind = s->kind, .ref_step = s->ref_step, .ref_fro = s->ref_fro,
        .noise_fro = s->noise_fro,
    };
    if (!e->run || !e->tensor || !e->module || !e->component || !e->source) {
        entry_free(e);
        return rw_fail(err, RW_ENOMEM, "out of memory");
    }
    w->n++;
    return RW_OK;
}

static int cmp_entry(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    int r = strcmp(x->run, y->run);
    if (r)
        return r;
    if (x->step != y->step)
        return x->step < y->step ? -1 : 1;
    if ((r = strcmp(x->tensor, y->tensor)))
        return r;
    if ((r = strcmp(x->component, y->component)))
        return r;
    return (int)x->kind - (int)y->kind;
}

static herr_t write_column(hid_t g, const char *name, hid_t ftype, hid_t mtype, size_t n,
                           const void *data)
{
    hsize_t dim = n;
    hid_t space = H5Screate_simple(1, &dim, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(dcpl, 0);
    hid_t ds = H5Dcreate2(g, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    H5Pclose(dcpl);
    herr_t r = ds < 0 ? -1 : n ? H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) : 0;
    /* H5Dclose writes what the dataset still caches: a failure is a lost write */
    if (ds >= 0 && H5Dclose(ds) < 0)
        r = -1;
    H5Sclose(space);
    return r;
}

static herr_t write_str_attr(hid_t loc, const char *name, const char *value)
{
    size_t size;
    char *buf = pack_strings(&value, 1, &size);
    if (!buf)
        return -1;
    hid_t t = fixed_str_type(size), sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t r = a < 0 ? -1 : H5Awrite(a, t, buf);
    free(buf);
    if (a >= 0 && H5Aclose(a) < 0)
        r = -1;
    H5Sclose(sp);
    H5Tclose(t);
    return r;
}

static rw_status write_index(rw_spectra_writer *w)
{
    size_t n = w->n;
    qsort(w->e, n, sizeof *w->e, cmp_entry);
    const char **s = malloc((n ? n : 1) * sizeof *s);
    int64_t *iv = malloc((n ? n : 1) * sizeof *iv);
    int32_t *lv = malloc((n ? n : 1) * sizeof *lv);
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    H5Pset_obj_track_times(gcpl, 0);
    hid_t g = H5Gcreate2(w->h5.file, "index", H5P_DEFAULT, gcpl, H5P_DEFAULT);
    H5Pclose(gcpl);
    herr_t r = (!s || !iv || !lv || g < 0) ? -1 : 0;
    int version = SPECTRA_VERSION;
#define STRCOL(field)                                                                   \
    if (r >= 0) {                                                                       \
        for (size_t i = 0; i < n; i++)                                                  \
            s[i] = w->e[i].field;                                                       \
        r = write_str_column(g, #field, s, n);                                          \
    }
#define INTCOL(field)                                                                   \
    if (r >= 0) {                                                                       \
        for (size_t i = 0; i < n; i++)                                                  \
            iv[i] = w->e[i].field;                                                      \
        r = write_column(g, #field, H5T_STD_I64LE, H5T_NATIVE_INT64, n, iv);            \
    }
    STRCOL(run)
    STRCOL(tensor)
    STRCOL(module)
    STRCOL(component)
    STRCOL(source)
    INTCOL(step)
    INTCOL(rows)
    INTCOL(cols)
    INTCOL(offset)
    INTCOL(count)
    INTCOL(ref_step)
#undef STRCOL
#undef INTCOL
    if (r >= 0) {
        for (size_t i = 0; i < n; i++)
            s[i] = rw_dtype_name(w->e[i].dtype);
        r = write_str_column(g, "dtype", s, n);
    }
    if (r >= 0) {
        for (size_t i = 0; i < n; i++)
            s[i] = rw_kind_name(w->e[i].kind);
        r = write_str_column(g, "kind", s, n);
    }
    for (int c = 0; c < 2 && r >= 0; c++) { /* ref_fro, noise_fro */
        double *dv = malloc((n ? n : 1) * sizeof *dv);
        for (size_t i = 0; dv && i < n; i++)
            dv[i] = c == 0 ? w->e[i].ref_fro : w->e[i].noise_fro;
        r = dv ? write_column(g, c == 0 ? "ref_fro" : "noise_fro", H5T_IEEE_F64LE,
                              H5T_NATIVE_DOUBLE, n, dv)
               : -1;
        free(dv);
    }
    if (r >= 0) {
        for (size_t i = 0; i < n; i++)
            lv[i] = w->e[i].layer;
        r = write_column(g, "layer", H5T_STD_I32LE, H5T_NATIVE_INT32, n, lv);
    }
    if (r >= 0)
        r = write_str_attr(w->h5.file, "format", SPECTRA_FORMAT);
    if (r >= 0 && w->options)
        r = write_str_attr(w->h5.file, "options", w->options);
    /* data and split only when not weights: files of weights stay as they were */
    if (r >= 0 && w->data[0])
        r = write_str_attr(w->h5.file, "data", w->data);
    if (r >= 0 && w->data[0] && w->split[0])
        r = write_str_attr(w->h5.file, "split", w->split);
    if (r >= 0 && w->nsrc) {
        hid_t gcpl2 = H5Pcreate(H5P_GROUP_CREATE);
        H5Pset_obj_track_times(gcpl2, 0);
        hid_t sg = H5Gcreate2(w->h5.file, "sources", H5P_DEFAULT, gcpl2, H5P_DEFAULT);
        H5Pclose(gcpl2);
        const char **ss = malloc(w->nsrc * sizeof *ss);
        int64_t *si = malloc(w->nsrc * sizeof *si);
        r = (sg < 0 || !ss || !si) ? -1 : 0;
#define SRCSTR(field)                                                                  \
        for (size_t i = 0; r >= 0 && i < w->nsrc; i++)                                 \
            ss[i] = w->src[i].field;                                                   \
        if (r >= 0)                                                                    \
            r = write_str_column(sg, #field, ss, w->nsrc);
#define SRCINT(field)                                                                  \
        for (size_t i = 0; r >= 0 && i < w->nsrc; i++)                                 \
            si[i] = w->src[i].field;                                                   \
        if (r >= 0)                                                                    \
            r = write_column(sg, #field, H5T_STD_I64LE, H5T_NATIVE_INT64, w->nsrc, si);
        SRCSTR(run)
        SRCSTR(path)
        SRCSTR(group)
        SRCINT(step)
        SRCINT(size)
        SRCINT(mtime_ns)
#undef SRCSTR
#undef SRCINT
        free(ss);
        free(si);
        if (sg >= 0 && H5Gclose(sg) < 0)
            r = -1;
    }
    if (r >= 0) {
        hid_t sp = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate2(w->h5.file, "version", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
        r = a < 0 ? -1 : H5Awrite(a, H5T_NATIVE_INT, &version);
        if (a >= 0 && H5Aclose(a) < 0)
            r = -1;
        H5Sclose(sp);
    }
    if (g >= 0 && H5Gclose(g) < 0)
        r = -1;
    free(s);
    free(iv);
    free(lv);
    return r < 0 ? RW_EIO : RW_OK;
}

rw_status spectra_writer_close(rw_spectra_writer *w, bool commit, rw_err *err)
{
    rw_status st = RW_OK;
    if (commit)
        st = flush_sigma(w, err);
    if (commit && st == RW_OK && write_index(w) != RW_OK)
        st = rw_fail(err, RW_EIO, "%s: cannot write the index", w->h5.out.path);
    /* Closing /sigma writes its cached chunks: unchecked, a full disk left
     * them unwritten and the file read back as zeros. */
    errno = 0;
    if (w->sigma >= 0 && H5Dclose(w->sigma) < 0 && commit && st == RW_OK)
        st = rw_fail(err, RW_EIO, "%s: cannot write /sigma: %s", w->h5.out.path,
                     rw_h5_reason("HDF5 error"));
    w->sigma = H5I_INVALID_HID;
    rw_status cst = rw_h5out_close(&w->h5, commit && st == RW_OK, err);
    if (st == RW_OK)
        st = cst;
    for (size_t i = 0; i < w->n; i++)
        entry_free(&w->e[i]);
    for (size_t i = 0; i < w->nsrc; i++) {
        free(w->src[i].run);
        free(w->src[i].path);
        free(w->src[i].group);
    }
    free(w->src);
    free(w->buf);
    free(w->options);
    free(w->e);
    free(w);
    return st;
}
