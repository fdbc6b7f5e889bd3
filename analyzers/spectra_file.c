/*
 * spectra_file.c — write and read spectra files (spectra_file.h).
 */
#include "spectra_file.h"

#include "outfile.h"

#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define SPECTRA_FORMAT "rankwatch-spectra"
#define SIGMA_CHUNK 65536

typedef struct {
    char *run, *tensor, *module, *component, *source;
    rw_dtype dtype;
    rw_kind kind;
    int64_t step, rows, cols, offset, count, ref_step;
    int32_t layer;
    double ref_fro;
} entry;

typedef struct {
    char *run, *path, *group;
    int64_t step, size, mtime_ns;
} source;

#define SIGMA_BUF 65536 /* doubles buffered before a write to /sigma */

struct rw_spectra_writer {
    rw_outfile out;
    hid_t file, sigma;
    int64_t nsigma;         /* values added */
    int64_t nwritten;       /* values written to /sigma; the rest are in buf */
    double *buf;
    entry *e;
    size_t n, cap;
    source *src;
    size_t nsrc, srccap;
    char *options;
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

static hid_t vlen_str_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

rw_status spectra_writer_open(const char *path, rw_spectra_writer **out, rw_err *err)
{
    *out = NULL;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    rw_spectra_writer *w = rw_calloc(1, sizeof *w, err);
    if (!w)
        return RW_ENOMEM;
    w->file = w->sigma = H5I_INVALID_HID;
    if (!(w->buf = rw_calloc(SIGMA_BUF, sizeof *w->buf, err))) {
        free(w);
        return RW_ENOMEM;
    }
    rw_status st = outfile_open(&w->out, path, false, err);
    if (st != RW_OK) {
        free(w->buf);
        free(w);
        return st;
    }
    hsize_t dim = 0, maxdim = H5S_UNLIMITED, chunk = SIGMA_CHUNK;
    hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
    w->file = H5Fcreate(w->out.tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (w->file < 0)
        goto fail;
    space = H5Screate_simple(1, &dim, &maxdim);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    /* No object timestamps: the same spectra give the same bytes. */
    if (space < 0 || dcpl < 0 || H5Pset_chunk(dcpl, 1, &chunk) < 0 ||
        H5Pset_obj_track_times(dcpl, 0) < 0)
        goto fail;
    w->sigma = H5Dcreate2(w->file, "sigma", H5T_IEEE_F64LE, space, H5P_DEFAULT, dcpl,
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
    if (H5Dset_extent(w->sigma, &newdim) < 0)
        return rw_fail(err, RW_EIO, "%s: cannot grow /sigma", w->out.path);
    hid_t fs = H5Dget_space(w->sigma), ms = H5Screate_simple(1, &count, NULL);
    herr_t r = H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL);
    if (r >= 0)
        r = H5Dwrite(w->sigma, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, w->buf);
    H5Sclose(fs);
    H5Sclose(ms);
    if (r < 0)
        return rw_fail(err, RW_EIO, "%s: cannot write /sigma", w->out.path);
    w->nwritten = w->nsigma;
    return RW_OK;
}

rw_status spectra_writer_add(rw_spectra_writer *w, const rw_spectrum *s, rw_err *err)
{
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
    if (ds >= 0)
        H5Dclose(ds);
    H5Sclose(space);
    return r;
}

static herr_t write_str_attr(hid_t loc, const char *name, const char *value)
{
    hid_t t = vlen_str_type(), sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t r = a < 0 ? -1 : H5Awrite(a, t, &value);
    if (a >= 0)
        H5Aclose(a);
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
    hid_t g = H5Gcreate2(w->file, "index", H5P_DEFAULT, gcpl, H5P_DEFAULT);
    H5Pclose(gcpl);
    hid_t st = vlen_str_type();
    herr_t r = (!s || !iv || !lv || g < 0) ? -1 : 0;
    int version = 1;
#define STRCOL(field)                                                                   \
    if (r >= 0) {                                                                       \
        for (size_t i = 0; i < n; i++)                                                  \
            s[i] = w->e[i].field;                                                       \
        r = write_column(g, #field, st, st, n, s);                                      \
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
        r = write_column(g, "dtype", st, st, n, s);
    }
    if (r >= 0) {
        for (size_t i = 0; i < n; i++)
            s[i] = rw_kind_name(w->e[i].kind);
        r = write_column(g, "kind", st, st, n, s);
    }
    if (r >= 0) {
        double *dv = malloc((n ? n : 1) * sizeof *dv);
        for (size_t i = 0; dv && i < n; i++)
            dv[i] = w->e[i].ref_fro;
        r = dv ? write_column(g, "ref_fro", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, n, dv) : -1;
        free(dv);
    }
    if (r >= 0) {
        for (size_t i = 0; i < n; i++)
            lv[i] = w->e[i].layer;
        r = write_column(g, "layer", H5T_STD_I32LE, H5T_NATIVE_INT32, n, lv);
    }
    if (r >= 0)
        r = write_str_attr(w->file, "format", SPECTRA_FORMAT);
    if (r >= 0 && w->options)
        r = write_str_attr(w->file, "options", w->options);
    if (r >= 0 && w->nsrc) {
        hid_t gcpl2 = H5Pcreate(H5P_GROUP_CREATE);
        H5Pset_obj_track_times(gcpl2, 0);
        hid_t sg = H5Gcreate2(w->file, "sources", H5P_DEFAULT, gcpl2, H5P_DEFAULT);
        H5Pclose(gcpl2);
        const char **ss = malloc(w->nsrc * sizeof *ss);
        int64_t *si = malloc(w->nsrc * sizeof *si);
        r = (sg < 0 || !ss || !si) ? -1 : 0;
#define SRCSTR(field)                                                                  \
        for (size_t i = 0; r >= 0 && i < w->nsrc; i++)                                 \
            ss[i] = w->src[i].field;                                                   \
        if (r >= 0)                                                                    \
            r = write_column(sg, #field, st, st, w->nsrc, ss);
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
        if (sg >= 0)
            H5Gclose(sg);
    }
    if (r >= 0) {
        hid_t sp = H5Screate(H5S_SCALAR);
        hid_t a = H5Acreate2(w->file, "version", H5T_STD_I32LE, sp, H5P_DEFAULT, H5P_DEFAULT);
        r = a < 0 ? -1 : H5Awrite(a, H5T_NATIVE_INT, &version);
        if (a >= 0)
            H5Aclose(a);
        H5Sclose(sp);
    }
    H5Tclose(st);
    if (g >= 0)
        H5Gclose(g);
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
        st = rw_fail(err, RW_EIO, "%s: cannot write the index", w->out.path);
    if (w->sigma >= 0)
        H5Dclose(w->sigma);
    if (w->file >= 0 && H5Fclose(w->file) < 0 && commit && st == RW_OK)
        st = rw_fail(err, RW_EIO, "%s: cannot close HDF5 file", w->out.path);
    if (commit && st == RW_OK)
        st = outfile_commit(&w->out, err);
    else
        outfile_abort(&w->out);
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

/* ---------------------------------------------------------------- reading */


/* Reads a 1-D column of n entries; strings as an owned char* array. */
static herr_t read_column(hid_t g, const char *name, hid_t mtype, size_t n, void *out)
{
    hid_t ds = H5Dopen2(g, name, H5P_DEFAULT);
    if (ds < 0)
        return -1;
    hid_t sp = H5Dget_space(ds);
    hssize_t np = H5Sget_simple_extent_npoints(sp);
    herr_t r = np == (hssize_t)n ? 0 : -1;
    if (r >= 0 && n)
        r = H5Dread(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, out);
    H5Sclose(sp);
    H5Dclose(ds);
    return r;
}

static hssize_t column_length(hid_t g, const char *name)
{
    hid_t ds = H5Dopen2(g, name, H5P_DEFAULT);
    if (ds < 0)
        return -1;
    hid_t sp = H5Dget_space(ds);
    hssize_t np = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    if (sp >= 0)
        H5Sclose(sp);
    H5Dclose(ds);
    return np;
}

enum { NSTR = 7, NINT = 6, NSRC_STR = 3, NSRC_INT = 3 };
static const char *const strnames[NSTR] = {"run",   "tensor", "module", "component",
                                           "dtype", "source", "kind"};
static const char *const intnames[NINT] = {"step",  "rows",  "cols",
                                           "offset", "count", "ref_step"};
static const char *const srcstr[NSRC_STR] = {"run", "path", "group"};
static const char *const srcint[NSRC_INT] = {"step", "size", "mtime_ns"};

struct rw_spectra_reader {
    char *path;
    hid_t f, sig;
    hsize_t nsig;
    size_t n, nsrc;
    char **cols[NSTR];
    int64_t *iv[NINT];
    int32_t *layer;
    double *ref_fro;
    char **scols[NSRC_STR];
    int64_t *siv[NSRC_INT];
    char *options;
};

static char *read_str_attr(hid_t loc, const char *name)
{
    char *out = NULL;
    if (H5Aexists(loc, name) <= 0)
        return NULL;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t t = vlen_str_type();
    /* One string, as spectra_writer writes it; nothing else is read. */
    hid_t ft = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
    hid_t sp = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
    bool one_string = ft >= 0 && sp >= 0 && H5Tis_variable_str(ft) > 0 &&
                      H5Sget_simple_extent_npoints(sp) == 1;
    if (ft >= 0)
        H5Tclose(ft);
    if (sp >= 0)
        H5Sclose(sp);
    char *v = NULL;
    if (one_string && H5Aread(a, t, &v) >= 0 && v) {
        out = rw_strdup(v);
        H5free_memory(v);
    }
    H5Tclose(t);
    if (a >= 0)
        H5Aclose(a);
    return out;
}

bool spectra_file_is(const char *path)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (!rw_is_hdf5(path))
        return false;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return false;
    /* The format attribute is a variable-length string, which HDF5 reads
     * with an allocation as large as the file claims: read it only from a
     * file laid out as a spectra file, never from any checkpoint. */
    char *v = H5Lexists(f, "index", H5P_DEFAULT) > 0 && H5Lexists(f, "sigma", H5P_DEFAULT) > 0
                  ? read_str_attr(f, "format")
                  : NULL;
    bool yes = v && strcmp(v, SPECTRA_FORMAT) == 0;
    free(v);
    H5Fclose(f);
    return yes;
}

static rw_status read_strings(hid_t g, const char *path, const char *name, size_t n,
                              char ***out, rw_err *err)
{
    *out = rw_calloc(n ? n : 1, sizeof(char *), err);
    if (!*out)
        return RW_ENOMEM;
    hid_t t = vlen_str_type();
    herr_t r = read_column(g, name, t, n, *out);
    H5Tclose(t);
    for (size_t i = 0; r >= 0 && i < n; i++)
        if (!(*out)[i])
            r = -1;
    return r < 0 ? rw_fail(err, RW_EDATA, "%s: bad spectra index column %s", path, name) : RW_OK;
}

static rw_status read_ints(hid_t g, const char *path, const char *name, size_t n,
                           int64_t **out, rw_err *err)
{
    *out = rw_calloc(n ? n : 1, sizeof **out, err);
    if (!*out)
        return RW_ENOMEM;
    if (read_column(g, name, H5T_NATIVE_INT64, n, *out) < 0)
        return rw_fail(err, RW_EDATA, "%s: bad spectra index column %s", path, name);
    return RW_OK;
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        if (v[i])
            H5free_memory(v[i]);
    free(v);
}

void spectra_reader_close(rw_spectra_reader *r)
{
    if (!r)
        return;
    for (int c = 0; c < NSTR; c++)
        free_strings(r->cols[c], r->n);
    for (int c = 0; c < NINT; c++)
        free(r->iv[c]);
    for (int c = 0; c < NSRC_STR; c++)
        free_strings(r->scols[c], r->nsrc);
    for (int c = 0; c < NSRC_INT; c++)
        free(r->siv[c]);
    free(r->layer);
    free(r->ref_fro);
    free(r->options);
    free(r->path);
    if (r->sig >= 0)
        H5Dclose(r->sig);
    if (r->f >= 0)
        H5Fclose(r->f);
    free(r);
}

rw_status spectra_reader_open(const char *path, rw_spectra_reader **out, rw_err *err)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    *out = NULL;
    rw_spectra_reader *r = rw_calloc(1, sizeof *r, err);
    if (!r)
        return RW_ENOMEM;
    r->f = r->sig = H5I_INVALID_HID;
    r->path = rw_strdup(path);
    rw_status st = RW_OK;
    hid_t g = H5I_INVALID_HID, sg = H5I_INVALID_HID;
    r->f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (r->f < 0) {
        st = rw_fail(err, RW_EDATA, "%s: cannot open as HDF5", path);
        goto done;
    }
    g = H5Gopen2(r->f, "index", H5P_DEFAULT);
    r->sig = H5Dopen2(r->f, "sigma", H5P_DEFAULT);
    hssize_t n = g >= 0 ? column_length(g, "step") : -1;
    if (g < 0 || r->sig < 0 || n < 0) {
        st = rw_fail(err, RW_EDATA, "%s: not a spectra file (no /index or /sigma)", path);
        goto done;
    }
    r->n = (size_t)n;
    hid_t ss = H5Dget_space(r->sig);
    hssize_t nsig = ss >= 0 ? H5Sget_simple_extent_npoints(ss) : -1;
    if (ss >= 0)
        H5Sclose(ss);
    /* Every value of /sigma written: storage never written reads as zeros,
     * which pass for a spectrum (a full disk left such files). */
    if (nsig < 0 || (hsize_t)nsig > H5Dget_storage_size(r->sig) / sizeof(double)) {
        st = rw_fail(err, RW_EDATA, "%s: /sigma: fewer values stored than its %lld declared "
                     "(a partly written file)", path, (long long)nsig);
        goto done;
    }
    r->nsig = (hsize_t)nsig;
    for (int c = 0; c < NSTR && st == RW_OK; c++)
        st = read_strings(g, path, strnames[c], r->n, &r->cols[c], err);
    for (int c = 0; c < NINT && st == RW_OK; c++)
        st = read_ints(g, path, intnames[c], r->n, &r->iv[c], err);
    if (st == RW_OK) {
        r->ref_fro = rw_calloc(r->n ? r->n : 1, sizeof *r->ref_fro, err);
        r->layer = rw_calloc(r->n ? r->n : 1, sizeof *r->layer, err);
        if (!r->ref_fro || !r->layer)
            st = RW_ENOMEM;
        else if (read_column(g, "ref_fro", H5T_NATIVE_DOUBLE, r->n, r->ref_fro) < 0 ||
                 read_column(g, "layer", H5T_NATIVE_INT32, r->n, r->layer) < 0)
            st = rw_fail(err, RW_EDATA, "%s: bad spectra index column ref_fro or layer", path);
    }
    for (size_t i = 0; i < r->n && st == RW_OK; i++) {
        int64_t rows = r->iv[1][i], cols = r->iv[2][i], off = r->iv[3][i], cnt = r->iv[4][i];
        int64_t k = rows < cols ? rows : cols;
        if (rows < 0 || cols < 0 || cnt != k || off < 0 || (hsize_t)off > r->nsig ||
            (hsize_t)cnt > r->nsig - (hsize_t)off || rw_kind_parse(r->cols[6][i]) < 0)
            st = rw_fail(err, RW_EDATA, "%s: index entry %zu (%s) out of range", path, i,
                         r->cols[1][i]);
    }
    /* Sources (what the cache is keyed on) and options: optional. */
    if (st == RW_OK && H5Lexists(r->f, "sources", H5P_DEFAULT) > 0) {
        sg = H5Gopen2(r->f, "sources", H5P_DEFAULT);
        hssize_t ns = sg >= 0 ? column_length(sg, "step") : -1;
        if (ns < 0) {
            st = rw_fail(err, RW_EDATA, "%s: bad /sources", path);
            goto done;
        }
        r->nsrc = (size_t)ns;
        for (int c = 0; c < NSRC_STR && st == RW_OK; c++)
            st = read_strings(sg, path, srcstr[c], r->nsrc, &r->scols[c], err);
        for (int c = 0; c < NSRC_INT && st == RW_OK; c++)
            st = read_ints(sg, path, srcint[c], r->nsrc, &r->siv[c], err);
    }
    if (st == RW_OK)
        r->options = read_str_attr(r->f, "options");
done:
    if (g >= 0)
        H5Gclose(g);
    if (sg >= 0)
        H5Gclose(sg);
    if (st != RW_OK) {
        spectra_reader_close(r);
        return st;
    }
    *out = r;
    return RW_OK;
}

size_t spectra_reader_count(const rw_spectra_reader *r)
{
    return r->n;
}

const char *spectra_reader_options(const rw_spectra_reader *r)
{
    return r->options;
}

void spectra_reader_entry(const rw_spectra_reader *r, size_t i, rw_spectrum *s)
{
    *s = (rw_spectrum){
        .run = r->cols[0][i], .step = r->iv[0][i], .tensor = r->cols[1][i],
        .layer = r->layer[i], .module = r->cols[2][i], .component = r->cols[3][i],
        .rows = r->iv[1][i], .cols = r->iv[2][i], .dtype = rw_dtype_parse(r->cols[4][i]),
        .kind = (rw_kind)rw_kind_parse(r->cols[6][i]), .ref_step = r->iv[5][i],
        .ref_fro = r->ref_fro[i], .k = (size_t)r->iv[4][i], .sigma = NULL,
        .path = r->cols[5][i],
    };
}

/* A spectrum as rw-spectra writes it: k singular values, finite, >= 0 and
 * descending, or all nan (a matrix with non-finite entries, pipeline.h).
 * Anything else is damage, which would otherwise flow into every metric
 * and be reused by the cache. Entry i of r names it. */
static rw_status check_sigma(const rw_spectra_reader *r, size_t i, const double *sigma,
                             size_t k, rw_err *err)
{
    if (k > 0 && isnan(sigma[0])) {
        for (size_t j = 1; j < k; j++)
            if (!isnan(sigma[j]))
                goto bad;
        return RW_OK;
    }
    for (size_t j = 0; j < k; j++)
        if (!isfinite(sigma[j]) || sigma[j] < 0 || (j > 0 && sigma[j] > sigma[j - 1]))
            goto bad;
    return RW_OK;
bad:
    return rw_fail(err, RW_EDATA,
                   "%s: %s (run %s, step %lld, %s): singular values are not finite, >= 0 and "
                   "descending (nor all nan)",
                   r->path, r->cols[1][i], r->cols[0][i], (long long)r->iv[0][i],
                   r->cols[3][i]);
}

rw_status spectra_reader_sigma(const rw_spectra_reader *r, size_t i, double *sigma, rw_err *err)
{
    hsize_t start = (hsize_t)r->iv[3][i], count = (hsize_t)r->iv[4][i];
    if (count == 0)
        return RW_OK;
    hid_t fs = H5Dget_space(r->sig), ms = H5Screate_simple(1, &count, NULL);
    herr_t h = H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL);
    if (h >= 0)
        h = H5Dread(r->sig, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, sigma);
    H5Sclose(fs);
    H5Sclose(ms);
    if (h < 0)
        return rw_fail(err, RW_EDATA, "%s: cannot read /sigma", r->path);
    return check_sigma(r, i, sigma, (size_t)count, err);
}

bool spectra_reader_source(const rw_spectra_reader *r, const char *run, const char *path,
                           const char *group, int64_t step, int64_t size, int64_t mtime_ns)
{
    for (size_t i = 0; i < r->nsrc; i++)
        if (r->siv[0][i] == step && r->siv[1][i] == size && r->siv[2][i] == mtime_ns &&
            strcmp(r->scols[0][i], run) == 0 && strcmp(r->scols[1][i], path) == 0 &&
            strcmp(r->scols[2][i], group ? group : "") == 0)
            return true;
    return false;
}

/* The default components: weight and full, and lora where the same (run,
 * step, tensor, kind) has no full entry (adapter-only checkpoints). Entries
 * are sorted, so a tensor's full entry is next to its lora one. */
static bool wanted_by_default(const rw_spectra_reader *r, int comp, size_t i)
{
    if (comp == RW_COMP_WEIGHT || comp == RW_COMP_FULL)
        return true;
    if (comp != RW_COMP_LORA)
        return false;
    for (size_t j = i > 8 ? i - 8 : 0; j < r->n && j < i + 8; j++)
        if (j != i && r->iv[0][j] == r->iv[0][i] && strcmp(r->cols[0][j], r->cols[0][i]) == 0 &&
            strcmp(r->cols[1][j], r->cols[1][i]) == 0 && strcmp(r->cols[3][j], "full") == 0 &&
            strcmp(r->cols[6][j], r->cols[6][i]) == 0)
            return false;
    return true;
}

rw_status spectra_file_foreach(const char *path, const rw_select *sel, unsigned comps,
                               rw_kind kind, rw_spectrum_fn fn, void *ctx, rw_err *err)
{
    rw_spectra_reader *r;
    rw_status st = spectra_reader_open(path, &r, err);
    if (st != RW_OK)
        return st;
    double *sigma = NULL;
    size_t sigcap = 0;
    for (size_t i = 0; i < r->n && st == RW_OK; i++) {
        if (strcmp(r->cols[6][i], rw_kind_name(kind)) != 0 ||
            !rw_select_match(sel, r->cols[1][i]))
            continue;
        int comp = rw_comp_parse(r->cols[3][i]);
        if (comps ? comp < 0 || !(comps & RW_COMP_BIT(comp)) : !wanted_by_default(r, comp, i))
            continue;
        rw_spectrum s;
        spectra_reader_entry(r, i, &s);
        if (s.k > sigcap) {
            free(sigma);
            if (!(sigma = rw_calloc(s.k, sizeof *sigma, err))) {
                st = RW_ENOMEM;
                break;
            }
            sigcap = s.k;
        }
        if ((st = spectra_reader_sigma(r, i, sigma, err)) != RW_OK)
            break;
        s.sigma = sigma;
        st = fn(&s, ctx, err);
    }
    free(sigma);
    spectra_reader_close(r);
    return st;
}
