/*
 * spectra_file.c — write and read spectra files (spectra_file.h).
 */
#include "spectra_file.h"

#include "outfile.h"

#include <hdf5.h>
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

struct rw_spectra_writer {
    rw_outfile out;
    hid_t file, sigma;
    int64_t nsigma;
    entry *e;
    size_t n, cap;
};

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
    rw_status st = outfile_open(&w->out, path, false, err);
    if (st != RW_OK) {
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

rw_status spectra_writer_add(rw_spectra_writer *w, const rw_spectrum *s, rw_err *err)
{
    if (w->n == w->cap) {
        size_t ncap = w->cap ? 2 * w->cap : 256;
        entry *e = rw_realloc(w->e, ncap * sizeof *e, err);
        if (!e)
            return RW_ENOMEM;
        w->e = e;
        w->cap = ncap;
    }
    if (s->k > 0) {
        hsize_t newdim = (hsize_t)(w->nsigma + (int64_t)s->k), start = (hsize_t)w->nsigma,
                count = s->k;
        if (H5Dset_extent(w->sigma, &newdim) < 0)
            return rw_fail(err, RW_EIO, "%s: cannot grow /sigma", w->out.path);
        hid_t fs = H5Dget_space(w->sigma), ms = H5Screate_simple(1, &count, NULL);
        herr_t r = H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL);
        if (r >= 0)
            r = H5Dwrite(w->sigma, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, s->sigma);
        H5Sclose(fs);
        H5Sclose(ms);
        if (r < 0)
            return rw_fail(err, RW_EIO, "%s: cannot write /sigma", w->out.path);
    }
    entry *e = &w->e[w->n];
    *e = (entry){
        .run = rw_strdup(s->run), .tensor = rw_strdup(s->tensor),
        .module = rw_strdup(s->module), .component = rw_strdup(s->component),
        .source = rw_strdup(s->path ? s->path : ""), .dtype = s->dtype, .step = s->step,
        .rows = s->rows, .cols = s->cols, .offset = w->nsigma, .count = (int64_t)s->k,
        .layer = s->layer, .kind = s->kind, .ref_step = s->ref_step, .ref_fro = s->ref_fro,
    };
    if (!e->run || !e->tensor || !e->module || !e->component || !e->source) {
        entry_free(e);
        return rw_fail(err, RW_ENOMEM, "out of memory");
    }
    w->n++;
    w->nsigma += (int64_t)s->k;
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
    if (commit && write_index(w) != RW_OK)
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
    free(w->e);
    free(w);
    return st;
}

/* ---------------------------------------------------------------- reading */

bool spectra_file_is(const char *path)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    if (!rw_is_hdf5(path))
        return false;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return false;
    bool yes = false;
    if (H5Aexists(f, "format") > 0) {
        hid_t a = H5Aopen(f, "format", H5P_DEFAULT);
        hid_t t = vlen_str_type();
        char *v = NULL;
        if (a >= 0 && H5Aread(a, t, &v) >= 0 && v) {
            yes = strcmp(v, SPECTRA_FORMAT) == 0;
            H5free_memory(v);
        }
        H5Tclose(t);
        if (a >= 0)
            H5Aclose(a);
    }
    H5Fclose(f);
    return yes;
}

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

enum { NSTR = 7, NINT = 6 };

/* The default components: weight and full, and lora where the same (run,
 * step, tensor, kind) has no full entry (adapter-only checkpoints). Entries
 * are sorted, so a tensor's full entry is next to its lora one. */
static bool wanted_by_default(int comp, char **const *cols, const int64_t *step, size_t i,
                              size_t n, rw_kind kind)
{
    if (comp == RW_COMP_WEIGHT || comp == RW_COMP_FULL)
        return true;
    if (comp != RW_COMP_LORA)
        return false;
    for (size_t j = i > 8 ? i - 8 : 0; j < n && j < i + 8; j++)
        if (j != i && step[j] == step[i] && strcmp(cols[0][j], cols[0][i]) == 0 &&
            strcmp(cols[1][j], cols[1][i]) == 0 && strcmp(cols[3][j], "full") == 0 &&
            strcmp(cols[6][j], rw_kind_name(kind)) == 0)
            return false;
    return true;
}

rw_status spectra_file_foreach(const char *path, const rw_select *sel, unsigned comps,
                               rw_kind kind, rw_spectrum_fn fn, void *ctx, rw_err *err)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    rw_status st = RW_OK;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return rw_fail(err, RW_EDATA, "%s: cannot open as HDF5", path);
    hid_t g = H5Gopen2(f, "index", H5P_DEFAULT);
    hid_t sig = H5Dopen2(f, "sigma", H5P_DEFAULT);
    hid_t strt = vlen_str_type();
    char **cols[NSTR] = {0};
    static const char *const strnames[NSTR] = {"run",   "tensor", "module", "component",
                                               "dtype", "source", "kind"};
    int64_t *iv[NINT] = {0};
    static const char *const intnames[NINT] = {"step", "rows", "cols", "offset", "count",
                                               "ref_step"};
    int32_t *layer = NULL;
    double *ref_fro = NULL;
    double *sigma = NULL;
    size_t n = 0, sigcap = 0;
    hsize_t nsig = 0;
    if (g < 0 || sig < 0) {
        st = rw_fail(err, RW_EDATA, "%s: not a spectra file (no /index or /sigma)", path);
        goto done;
    }
    {
        hid_t ds = H5Dopen2(g, "step", H5P_DEFAULT);
        hid_t sp = ds >= 0 ? H5Dget_space(ds) : H5I_INVALID_HID;
        hssize_t np = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
        if (sp >= 0)
            H5Sclose(sp);
        if (ds >= 0)
            H5Dclose(ds);
        if (np < 0) {
            st = rw_fail(err, RW_EDATA, "%s: spectra index has no step column", path);
            goto done;
        }
        n = (size_t)np;
        hid_t ss = H5Dget_space(sig);
        nsig = (hsize_t)H5Sget_simple_extent_npoints(ss);
        H5Sclose(ss);
    }
    for (int c = 0; c < NSTR; c++) {
        cols[c] = rw_calloc(n ? n : 1, sizeof(char *), err);
        if (!cols[c] || read_column(g, strnames[c], strt, n, cols[c]) < 0) {
            st = cols[c] ? rw_fail(err, RW_EDATA, "%s: bad index column %s", path, strnames[c])
                         : RW_ENOMEM;
            goto done;
        }
    }
    for (int c = 0; c < NINT; c++) {
        iv[c] = rw_calloc(n ? n : 1, sizeof(int64_t), err);
        if (!iv[c] || read_column(g, intnames[c], H5T_NATIVE_INT64, n, iv[c]) < 0) {
            st = iv[c] ? rw_fail(err, RW_EDATA, "%s: bad index column %s", path, intnames[c])
                       : RW_ENOMEM;
            goto done;
        }
    }
    ref_fro = rw_calloc(n ? n : 1, sizeof *ref_fro, err);
    if (!ref_fro || read_column(g, "ref_fro", H5T_NATIVE_DOUBLE, n, ref_fro) < 0) {
        st = ref_fro ? rw_fail(err, RW_EDATA, "%s: bad index column ref_fro", path) : RW_ENOMEM;
        goto done;
    }
    layer = rw_calloc(n ? n : 1, sizeof *layer, err);
    if (!layer || read_column(g, "layer", H5T_NATIVE_INT32, n, layer) < 0) {
        st = layer ? rw_fail(err, RW_EDATA, "%s: bad index column layer", path) : RW_ENOMEM;
        goto done;
    }
    for (size_t i = 0; i < n && st == RW_OK; i++) {
        int64_t rows = iv[1][i], cols_ = iv[2][i], off = iv[3][i], cnt = iv[4][i];
        int64_t k = rows < cols_ ? rows : cols_;
        bool strings_ok = true;
        for (int c = 0; c < NSTR; c++)
            strings_ok = strings_ok && cols[c][i];
        if (!strings_ok || rows < 0 || cols_ < 0 || cnt != k || off < 0 || (hsize_t)off > nsig ||
            (hsize_t)cnt > nsig - (hsize_t)off) {
            st = rw_fail(err, RW_EDATA, "%s: index entry %zu (%s) out of range", path, i,
                         cols[1][i] ? cols[1][i] : "?");
            break;
        }
        if (!rw_select_match(sel, cols[1][i]))
            continue;
        if (strcmp(cols[6][i], rw_kind_name(kind)) != 0)
            continue;
        int comp = rw_comp_parse(cols[3][i]);
        if (comps ? comp < 0 || !(comps & RW_COMP_BIT(comp))
                  : !wanted_by_default(comp, cols, iv[0], i, n, kind))
            continue;
        if ((size_t)cnt > sigcap) {
            free(sigma);
            if (!(sigma = rw_calloc((size_t)cnt, sizeof *sigma, err))) {
                st = RW_ENOMEM;
                break;
            }
            sigcap = (size_t)cnt;
        }
        if (cnt > 0) {
            hsize_t start = (hsize_t)off, count = (hsize_t)cnt;
            hid_t fs = H5Dget_space(sig), ms = H5Screate_simple(1, &count, NULL);
            herr_t r = H5Sselect_hyperslab(fs, H5S_SELECT_SET, &start, NULL, &count, NULL);
            if (r >= 0)
                r = H5Dread(sig, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT, sigma);
            H5Sclose(fs);
            H5Sclose(ms);
            if (r < 0) {
                st = rw_fail(err, RW_EDATA, "%s: cannot read /sigma", path);
                break;
            }
        }
        rw_spectrum s = {
            .run = cols[0][i], .step = iv[0][i], .tensor = cols[1][i], .layer = layer[i],
            .module = cols[2][i], .component = cols[3][i], .rows = rows, .cols = cols_,
            .dtype = rw_dtype_parse(cols[4][i]), .k = (size_t)cnt, .sigma = sigma,
            .path = cols[5][i], .kind = kind, .ref_step = iv[5][i], .ref_fro = ref_fro[i],
        };
        st = fn(&s, ctx, err);
    }
done:
    free(ref_fro);
    for (int c = 0; c < NSTR; c++) {
        for (size_t i = 0; cols[c] && i < n; i++)
            H5free_memory(cols[c][i]);
        free(cols[c]);
    }
    for (int c = 0; c < NINT; c++)
        free(iv[c]);
    free(layer);
    free(sigma);
    H5Tclose(strt);
    if (sig >= 0)
        H5Dclose(sig);
    if (g >= 0)
        H5Gclose(g);
    H5Fclose(f);
    return st;
}
