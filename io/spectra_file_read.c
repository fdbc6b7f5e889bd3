/*
 * spectra_file_read.c — reading spectra files: opening and validating one
 * (every column, every index entry against /sigma), the lookups by step and
 * by source, the singular values of an entry, and spectra_file_foreach
 * (spectra_file.h).
 */
#include "io/spectra_file.h"

#include "io/ckpt.h"
#include "io/h5file.h"
#include "io/spectra_file_impl.h"

#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The 1-D dataset grp/name (grp "index" or "sources", the group open as g)
 * as n values of memory type mtype ("what" says which kind, for messages)
 * into out; strings as an owned char * array. Each way it can be wrong has
 * its own message naming the dataset. */
static rw_status read_column(hid_t g, const char *path, const char *grp, const char *name,
                             hid_t mtype, const char *what, size_t n, void *out, rw_err *err)
{
    if (H5Lexists(g, name, H5P_DEFAULT) <= 0)
        return rw_fail(err, RW_EDATA, "%s: no /%s/%s", path, grp, name);
    hid_t ds = H5Dopen2(g, name, H5P_DEFAULT);
    hid_t sp = ds >= 0 ? H5Dget_space(ds) : H5I_INVALID_HID;
    int rank = sp >= 0 ? H5Sget_simple_extent_ndims(sp) : -1;
    hssize_t np = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    rw_status st = RW_OK;
    if (ds < 0 || sp < 0 || rank < 0 || np < 0)
        st = rw_fail(err, RW_EDATA, "%s: /%s/%s is not a readable dataset", path, grp, name);
    else if (rank != 1)
        st = rw_fail(err, RW_EDATA, "%s: /%s/%s has %d dimensions, not 1", path, grp, name,
                     rank);
    else if ((size_t)np != n)
        st = rw_fail(err, RW_EDATA, "%s: /%s/%s has %lld entries, /%s/step has %zu", path, grp,
                     name, (long long)np, grp, n);
    else if (n && H5Dread(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0)
        st = rw_fail(err, RW_EDATA, "%s: /%s/%s does not hold %s", path, grp, name, what);
    if (sp >= 0)
        H5Sclose(sp);
    if (ds >= 0)
        H5Dclose(ds);
    return st;
}

/* Entries of the group's step column (which sets the number of entries of
 * every column), or -1 when it cannot tell. */
static hssize_t column_length(hid_t g, const char *name)
{
    if (H5Lexists(g, name, H5P_DEFAULT) <= 0)
        return -1;
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
    double *noise_fro;
    char **scols[NSRC_STR];
    int64_t *siv[NSRC_INT];
    char *options;
    const char *data, *split; /* static strings: NULL for weights */
    /* Lookups for rw-spectra's cache, which asks once per checkpoint: with a
     * scan each, re-running over 10,000 checkpoints was quadratic. */
    size_t *by_step;        /* entry indices by (run, step), file order within */
    size_t *by_src;         /* source indices by (run, path, group, step) */
};

/* The type of a fixed-length string of at most SPECTRA_STR_MAX bytes, or
 * H5I_INVALID_HID (not a string, variable-length, or too long). A
 * variable-length string is never read: libhdf5 reads it through its global
 * heap, where a crafted file crashes or hangs it. */
static hid_t fixed_str_of(hid_t type)
{
    if (type < 0 || H5Tget_class(type) != H5T_STRING || H5Tis_variable_str(type) != 0)
        return H5I_INVALID_HID;
    size_t size = H5Tget_size(type);
    /* read as stored: HDF5 converts no string between ASCII and UTF-8 */
    return size >= 1 && size <= SPECTRA_STR_MAX ? H5Tcopy(type) : H5I_INVALID_HID;
}

/* The attribute name of loc when it is one fixed-length string (a new
 * string, caller frees), else NULL. */
static char *read_str_attr(hid_t loc, const char *name)
{
    char *out = NULL;
    if (H5Aexists(loc, name) <= 0)
        return NULL;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t ft = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
    hid_t sp = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
    hid_t mt = fixed_str_of(ft);
    if (mt >= 0 && sp >= 0 && H5Sget_simple_extent_npoints(sp) == 1) {
        size_t size = H5Tget_size(mt);
        out = calloc(size + 1, 1);
        if (out && H5Aread(a, mt, out) < 0) {
            free(out);
            out = NULL;
        }
    }
    if (mt >= 0)
        H5Tclose(mt);
    if (ft >= 0)
        H5Tclose(ft);
    if (sp >= 0)
        H5Sclose(sp);
    if (a >= 0)
        H5Aclose(a);
    return out;
}

/* The integer attribute name of loc; false when absent or not an integer. */
static bool read_int_attr(hid_t loc, const char *name, int *v)
{
    if (H5Aexists(loc, name) <= 0)
        return false;
    hid_t a = H5Aopen(loc, name, H5P_DEFAULT);
    hid_t t = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
    hid_t sp = a >= 0 ? H5Aget_space(a) : H5I_INVALID_HID;
    /* Exactly one integer: H5Aread writes every value the file declares. */
    bool ok = t >= 0 && sp >= 0 && H5Tget_class(t) == H5T_INTEGER &&
              H5Sget_simple_extent_npoints(sp) == 1 && H5Aread(a, H5T_NATIVE_INT, v) >= 0;
    if (sp >= 0)
        H5Sclose(sp);
    if (t >= 0)
        H5Tclose(t);
    if (a >= 0)
        H5Aclose(a);
    return ok;
}

/* The root's format attribute is a variable-length string (a version 1
 * spectra file), judged from its type alone. */
static bool format_is_vlen(hid_t f)
{
    if (H5Aexists(f, "format") <= 0)
        return false;
    hid_t a = H5Aopen(f, "format", H5P_DEFAULT);
    hid_t t = a >= 0 ? H5Aget_type(a) : H5I_INVALID_HID;
    bool vlen = t >= 0 && H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) > 0;
    if (t >= 0)
        H5Tclose(t);
    if (a >= 0)
        H5Aclose(a);
    return vlen;
}

bool spectra_file_is(const char *path)
{
    rw_h5_init();
    if (!rw_is_hdf5(path))
        return false;
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0)
        return false;
    /* Only a file with a spectra file's /index or /sigma (a damaged one
     * lacks one: the reader says which), never any checkpoint, is asked for
     * its format; a variable-length one (version 1) is taken as a spectra
     * file unread, for the reader to refuse by its version. */
    bool yes = false;
    if (H5Lexists(f, "index", H5P_DEFAULT) > 0 || H5Lexists(f, "sigma", H5P_DEFAULT) > 0) {
        char *v = read_str_attr(f, "format");
        yes = v ? strcmp(v, SPECTRA_FORMAT) == 0 : format_is_vlen(f);
        free(v);
    }
    H5Fclose(f);
    return yes;
}

/* A column of n fixed-length strings (new strings, caller frees with
 * free_strings). Its bytes must be stored: a declared size past what the
 * file holds is refused before the buffer is allocated. */
static rw_status read_strings(hid_t g, const char *path, const char *grp, const char *name,
                              size_t n, char ***out, rw_err *err)
{
    *out = rw_calloc(n ? n : 1, sizeof(char *), err);
    if (!*out)
        return RW_ENOMEM;
    if (H5Lexists(g, name, H5P_DEFAULT) <= 0)
        return rw_fail(err, RW_EDATA, "%s: no /%s/%s", path, grp, name);
    hid_t ds = H5Dopen2(g, name, H5P_DEFAULT);
    hid_t ft = ds >= 0 ? H5Dget_type(ds) : H5I_INVALID_HID;
    hid_t mt = fixed_str_of(ft);
    size_t size = mt >= 0 ? H5Tget_size(mt) : 0, total = 0;
    hsize_t stored = ds >= 0 ? H5Dget_storage_size(ds) : 0;
    if (ft >= 0)
        H5Tclose(ft);
    if (ds >= 0)
        H5Dclose(ds);
    rw_status st = RW_OK;
    char *buf = NULL;
    if (ds < 0)
        st = rw_fail(err, RW_EDATA, "%s: /%s/%s is not a readable dataset", path, grp, name);
    else if (mt < 0)
        st = rw_fail(err, RW_EDATA, "%s: /%s/%s does not hold fixed-length strings of at most "
                     "%d bytes", path, grp, name, SPECTRA_STR_MAX);
    else if (!rw_mul_size(n, size, &total) || (n && stored < total))
        st = rw_fail(err, RW_EDATA, "%s: /%s/%s: fewer bytes stored than %zu strings of %zu",
                     path, grp, name, n, size);
    else if (!(buf = rw_malloc(total ? total : 1, err)))
        st = RW_ENOMEM;
    if (st == RW_OK)
        st = read_column(g, path, grp, name, mt, "strings", n, buf, err);
    for (size_t i = 0; st == RW_OK && i < n; i++)
        if (!((*out)[i] = strndup(buf + i * size, size)))
            st = rw_fail(err, RW_ENOMEM, "out of memory");
    free(buf);
    if (mt >= 0)
        H5Tclose(mt);
    return st;
}

static rw_status read_ints(hid_t g, const char *path, const char *grp, const char *name,
                           size_t n, int64_t **out, rw_err *err)
{
    *out = rw_calloc(n ? n : 1, sizeof **out, err);
    if (!*out)
        return RW_ENOMEM;
    return read_column(g, path, grp, name, H5T_NATIVE_INT64, "integers", n, *out, err);
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        free(v[i]);
    free(v);
}

/* ---------------------------------------------------------------- lookups */

/* Sort keys: the fields compared, and the index they belong to, last, so
 * that equal keys keep the file's order. */
typedef struct {
    const char *s[3];
    int64_t step;
    size_t i;
} lookup_key;

static int cmp_lookup_key(const void *a, const void *b)
{
    const lookup_key *x = a, *y = b;
    for (int k = 0; k < 3; k++) {
        int c = strcmp(x->s[k], y->s[k]);
        if (c)
            return c;
    }
    if (x->step != y->step)
        return x->step < y->step ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* The n indices ordered by their keys (fill builds key i), into *out. */
static rw_status sorted_indices(const rw_spectra_reader *r, size_t n,
                                void (*fill)(const rw_spectra_reader *, size_t, lookup_key *),
                                size_t **out, rw_err *err)
{
    lookup_key *keys = rw_calloc(n ? n : 1, sizeof *keys, err);
    *out = rw_calloc(n ? n : 1, sizeof **out, err);
    if (!keys || !*out) {
        free(keys);
        return RW_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        fill(r, i, &keys[i]);
    qsort(keys, n, sizeof *keys, cmp_lookup_key);
    for (size_t j = 0; j < n; j++)
        (*out)[j] = keys[j].i;
    free(keys);
    return RW_OK;
}

static void entry_key(const rw_spectra_reader *r, size_t i, lookup_key *k)
{
    *k = (lookup_key){{r->cols[0][i], "", ""}, r->iv[0][i], i};
}

static void source_key(const rw_spectra_reader *r, size_t i, lookup_key *k)
{
    *k = (lookup_key){{r->scols[0][i], r->scols[1][i], r->scols[2][i]}, r->siv[0][i], i};
}

static rw_status build_lookups(rw_spectra_reader *r, rw_err *err)
{
    rw_status st = sorted_indices(r, r->n, entry_key, &r->by_step, err);
    if (st == RW_OK)
        st = sorted_indices(r, r->nsrc, source_key, &r->by_src, err);
    return st;
}

/* The first position of sorted (n of them, keys built by fill) whose key is
 * not below want (whose i is 0, below every index). */
static size_t lower_bound(const rw_spectra_reader *r, const size_t *sorted, size_t n,
                          void (*fill)(const rw_spectra_reader *, size_t, lookup_key *),
                          const lookup_key *want)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        lookup_key k;
        fill(r, sorted[mid], &k);
        if (cmp_lookup_key(&k, want) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Whether key k is want up to the index. */
static bool same_key(const lookup_key *k, const lookup_key *want)
{
    return k->step == want->step && strcmp(k->s[0], want->s[0]) == 0 &&
           strcmp(k->s[1], want->s[1]) == 0 && strcmp(k->s[2], want->s[2]) == 0;
}

size_t spectra_reader_at_step(const rw_spectra_reader *r, const char *run, int64_t step,
                              const size_t **idx)
{
    lookup_key want = {{run, "", ""}, step, 0}, k;
    size_t lo = lower_bound(r, r->by_step, r->n, entry_key, &want), hi = lo;
    while (hi < r->n && (entry_key(r, r->by_step[hi], &k), same_key(&k, &want)))
        hi++;
    *idx = r->by_step + lo;
    return hi - lo;
}

bool spectra_reader_source(const rw_spectra_reader *r, const char *run, const char *path,
                           const char *group, int64_t step, int64_t size, int64_t mtime_ns)
{
    lookup_key want = {{run, path, group ? group : ""}, step, 0}, k;
    for (size_t j = lower_bound(r, r->by_src, r->nsrc, source_key, &want); j < r->nsrc; j++) {
        size_t i = r->by_src[j];
        source_key(r, i, &k);
        if (!same_key(&k, &want))
            break;
        if (r->siv[1][i] == size && r->siv[2][i] == mtime_ns)
            return true;
    }
    return false;
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
    free(r->noise_fro);
    free(r->options);
    free(r->by_step);
    free(r->by_src);
    free(r->path);
    if (r->sig >= 0)
        H5Dclose(r->sig);
    if (r->f >= 0)
        H5Fclose(r->f);
    free(r);
}

/* The root attributes data and split (absent: weights), as static strings;
 * any other value is an error: a file of unknown data is not read as
 * weights. */
static rw_status read_data(rw_spectra_reader *r, const char *path, rw_err *err)
{
    char *d = read_str_attr(r->f, "data"), *sp = read_str_attr(r->f, "split");
    bool absent = H5Aexists(r->f, "data") <= 0;
    rw_status st = RW_OK;
    if (absent && H5Aexists(r->f, "split") > 0)
        st = rw_fail(err, RW_EDATA, "%s: a split attribute without data", path);
    else if (!absent && (!d || strcmp(d, rw_data_name(RW_DATA_GRADIENTS)) != 0))
        st = rw_fail(err, RW_EDATA, "%s: data attribute is not 'gradients'", path);
    else if (!absent && (!sp || (strcmp(sp, "train") != 0 && strcmp(sp, "val") != 0)))
        st = rw_fail(err, RW_EDATA, "%s: split attribute is not 'train' or 'val'", path);
    else if (!absent) {
        r->data = rw_data_name(RW_DATA_GRADIENTS);
        r->split = rw_split_name(strcmp(sp, "val") == 0 ? RW_SPLIT_VAL : RW_SPLIT_TRAIN);
    }
    free(d);
    free(sp);
    return st;
}

rw_status spectra_reader_open(const char *path, rw_spectra_reader **out, rw_err *err)
{
    rw_h5_init();
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
        st = rw_fail(err, RW_EDATA, "%s: cannot open as HDF5 (truncated or corrupt file?)",
                     path);
        goto done;
    }
    /* A later version may mean anything: refused, not misread. */
    int version;
    if (!read_int_attr(r->f, "version", &version)) {
        st = rw_fail(err, RW_EDATA, "%s: no integer version attribute (not a spectra file?)",
                     path);
        goto done;
    }
    if (version == 1) {
        st = rw_fail(err, RW_EDATA, "%s: spectra file version 1 (variable-length strings, no "
                     "longer read): write it again with rw-spectra", path);
        goto done;
    }
    if (version == 2) {
        st = rw_fail(err, RW_EDATA, "%s: spectra file version 2 (no noise bound, which "
                     "num_rank needs): write it again with rw-spectra", path);
        goto done;
    }
    if (version != SPECTRA_VERSION) {
        st = rw_fail(err, RW_EDATA, "%s: spectra file version %d; this rankwatch reads "
                     "version %d", path, version, SPECTRA_VERSION);
        goto done;
    }
    g = H5Lexists(r->f, "index", H5P_DEFAULT) > 0 ? H5Gopen2(r->f, "index", H5P_DEFAULT)
                                                  : H5I_INVALID_HID;
    r->sig = H5Lexists(r->f, "sigma", H5P_DEFAULT) > 0 ? H5Dopen2(r->f, "sigma", H5P_DEFAULT)
                                                       : H5I_INVALID_HID;
    hssize_t n = g >= 0 ? column_length(g, "step") : -1;
    if (g < 0 || r->sig < 0 || n < 0) {
        st = rw_fail(err, RW_EDATA, "%s: not a spectra file (no %s)", path,
                     g < 0 ? "/index group" : r->sig < 0 ? "/sigma dataset" : "/index/step");
        goto done;
    }
    r->n = (size_t)n;
    hid_t ss = H5Dget_space(r->sig);
    int srank = ss >= 0 ? H5Sget_simple_extent_ndims(ss) : -1;
    hssize_t nsig = ss >= 0 ? H5Sget_simple_extent_npoints(ss) : -1;
    if (ss >= 0)
        H5Sclose(ss);
    hid_t stype = H5Dget_type(r->sig);
    H5T_class_t scls = stype >= 0 ? H5Tget_class(stype) : H5T_NO_CLASS;
    if (stype >= 0)
        H5Tclose(stype);
    if (srank != 1 || nsig < 0) {
        st = rw_fail(err, RW_EDATA, "%s: /sigma has %d dimensions, not 1", path, srank);
        goto done;
    }
    if (scls != H5T_FLOAT && scls != H5T_INTEGER) {
        st = rw_fail(err, RW_EDATA, "%s: /sigma does not hold numbers", path);
        goto done;
    }
    /* Every value of /sigma written: storage never written reads as zeros,
     * which pass for a spectrum (a full disk left such files). */
    if ((hsize_t)nsig > H5Dget_storage_size(r->sig) / sizeof(double)) {
        st = rw_fail(err, RW_EDATA, "%s: /sigma: fewer values stored than its %lld declared "
                     "(a partly written file)", path, (long long)nsig);
        goto done;
    }
    r->nsig = (hsize_t)nsig;
    for (int c = 0; c < NSTR && st == RW_OK; c++)
        st = read_strings(g, path, "index", strnames[c], r->n, &r->cols[c], err);
    for (int c = 0; c < NINT && st == RW_OK; c++)
        st = read_ints(g, path, "index", intnames[c], r->n, &r->iv[c], err);
    if (st == RW_OK) {
        r->ref_fro = rw_calloc(r->n ? r->n : 1, sizeof *r->ref_fro, err);
        r->noise_fro = rw_calloc(r->n ? r->n : 1, sizeof *r->noise_fro, err);
        r->layer = rw_calloc(r->n ? r->n : 1, sizeof *r->layer, err);
        if (!r->ref_fro || !r->noise_fro || !r->layer)
            st = RW_ENOMEM;
    }
    if (st == RW_OK)
        st = read_column(g, path, "index", "ref_fro", H5T_NATIVE_DOUBLE, "numbers", r->n,
                         r->ref_fro, err);
    if (st == RW_OK)
        st = read_column(g, path, "index", "noise_fro", H5T_NATIVE_DOUBLE, "numbers", r->n,
                         r->noise_fro, err);
    if (st == RW_OK)
        st = read_column(g, path, "index", "layer", H5T_NATIVE_INT32, "integers", r->n,
                         r->layer, err);
    for (size_t i = 0; i < r->n && st == RW_OK; i++) {
        int64_t rows = r->iv[1][i], cols = r->iv[2][i], off = r->iv[3][i], cnt = r->iv[4][i];
        int64_t k = rows < cols ? rows : cols;
        const char *t = r->cols[1][i];
        if (rw_kind_parse(r->cols[6][i]) < 0)
            st = rw_fail(err, RW_EDATA, "%s: index entry %zu (%s): kind '%s' is unknown", path,
                         i, t, r->cols[6][i]);
        else if (!isfinite(r->noise_fro[i]) || r->noise_fro[i] < 0)
            st = rw_fail(err, RW_EDATA, "%s: index entry %zu (%s): noise_fro %g is not a "
                         "finite number >= 0", path, i, t, r->noise_fro[i]);
        else if (rows < 0 || cols < 0)
            st = rw_fail(err, RW_EDATA, "%s: index entry %zu (%s): shape %lldx%lld is negative",
                         path, i, t, (long long)rows, (long long)cols);
        else if (cnt != k)
            st = rw_fail(err, RW_EDATA, "%s: index entry %zu (%s): count %lld, but a %lldx%lld "
                         "matrix has %lld singular values", path, i, t, (long long)cnt,
                         (long long)rows, (long long)cols, (long long)k);
        else if (off < 0 || (hsize_t)off > r->nsig || (hsize_t)cnt > r->nsig - (hsize_t)off)
            st = rw_fail(err, RW_EDATA, "%s: index entry %zu (%s): values at offset %lld run "
                         "past the end of /sigma (%llu values)", path, i, t, (long long)off,
                         (unsigned long long)r->nsig);
    }
    /* Sources (what the cache is keyed on) and options: optional. */
    if (st == RW_OK && H5Lexists(r->f, "sources", H5P_DEFAULT) > 0) {
        sg = H5Gopen2(r->f, "sources", H5P_DEFAULT);
        hssize_t ns = sg >= 0 ? column_length(sg, "step") : -1;
        if (ns < 0) {
            st = rw_fail(err, RW_EDATA, "%s: /sources has no step column", path);
            goto done;
        }
        r->nsrc = (size_t)ns;
        for (int c = 0; c < NSRC_STR && st == RW_OK; c++)
            st = read_strings(sg, path, "sources", srcstr[c], r->nsrc, &r->scols[c], err);
        for (int c = 0; c < NSRC_INT && st == RW_OK; c++)
            st = read_ints(sg, path, "sources", srcint[c], r->nsrc, &r->siv[c], err);
    }
    if (st == RW_OK)
        r->options = read_str_attr(r->f, "options");
    if (st == RW_OK)
        st = read_data(r, path, err);
    if (st == RW_OK)
        st = build_lookups(r, err);
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

const char *spectra_reader_data(const rw_spectra_reader *r, const char **split)
{
    if (split)
        *split = r->split;
    return r->data;
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
        .ref_fro = r->ref_fro[i], .noise_fro = r->noise_fro[i], .k = (size_t)r->iv[4][i],
        .sigma = NULL,
        .path = r->cols[5][i], .data = r->data, .split = r->split,
    };
}

/* Damage (spectrum_valid) would otherwise flow into every metric and be
 * reused by the cache. Entry i of r names it. */
static rw_status check_sigma(const rw_spectra_reader *r, size_t i, const double *sigma,
                             size_t k, rw_err *err)
{
    if (spectrum_valid(sigma, k))
        return RW_OK;
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

/* Whether entry i's matrix has a full entry: the same run, step, tensor and
 * kind with component full (rw_comp_default's has_full). Entries are
 * sorted, so a tensor's full entries are next to its others. */
static bool has_full_entry(const rw_spectra_reader *r, size_t i)
{
    for (size_t j = i > 8 ? i - 8 : 0; j < r->n && j < i + 8; j++)
        if (j != i && r->iv[0][j] == r->iv[0][i] && strcmp(r->cols[0][j], r->cols[0][i]) == 0 &&
            strcmp(r->cols[1][j], r->cols[1][i]) == 0 && strcmp(r->cols[3][j], "full") == 0 &&
            strcmp(r->cols[6][j], r->cols[6][i]) == 0)
            return true;
    return false;
}

rw_status spectra_file_foreach(const char *path, const rw_select *sel, unsigned comps,
                               unsigned circuits, rw_kind kind, rw_spectrum_fn fn, void *ctx,
                               rw_err *err)
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
        if (comp < 0 || (comps ? !(comps & RW_COMP_BIT(comp))
                               : !rw_comp_default((rw_comp)comp, has_full_entry(r, i), circuits)))
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
