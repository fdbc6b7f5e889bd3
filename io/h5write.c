/*
 * h5write.c — HDF5 checkpoint writer (h5write.h).
 */
#include "h5write.h"

#include "h5file.h"

#include <hdf5.h>
#include <stdlib.h>
#include <string.h>

struct rw_h5w {
    rw_h5out h5;
};

rw_status h5w_open(const char *path, rw_h5w **out, rw_err *err)
{
    *out = NULL;
    rw_h5w *w = rw_calloc(1, sizeof *w, err);
    if (!w)
        return RW_ENOMEM;
    rw_status st = rw_h5out_create(&w->h5, path, err);
    if (st != RW_OK) {
        free(w);
        return st;
    }
    *out = w;
    return RW_OK;
}

/* The file type for a stored dtype; 16-bit floats are custom IEEE layouts. */
/* A 16-bit little-endian float: sign at bit 15, exponent of esize bits at
 * bit msize, mantissa of msize bits at bit 0. */
static hid_t float16_type(size_t esize, size_t msize, size_t ebias)
{
    hid_t t = H5Tcopy(H5T_IEEE_F32LE);
    H5Tset_fields(t, 15, msize, esize, 0, msize);
    H5Tset_size(t, 2);
    H5Tset_precision(t, 16);
    H5Tset_ebias(t, ebias);
    return t;
}

static hid_t file_type(rw_dtype dt)
{
    switch (dt) {
    case RW_DT_F16: return float16_type(5, 10, 15);
    case RW_DT_BF16: return float16_type(8, 7, 127);
    case RW_DT_F32: return H5Tcopy(H5T_IEEE_F32LE);
    case RW_DT_INT: return H5Tcopy(H5T_STD_I32LE);
    default: return H5Tcopy(H5T_IEEE_F64LE);
    }
}

rw_status h5w_dataset(rw_h5w *w, const char *path, int ndim, const int64_t *shape,
                      rw_dtype dtype, const double *values, int gzip, rw_err *err)
{
    hsize_t dims[8];
    size_t numel = 1;
    if (ndim < 0 || ndim > 8)
        return rw_fail(err, RW_EUSAGE, "%s: rank %d unsupported", path, ndim);
    for (int d = 0; d < ndim; d++) {
        dims[d] = (hsize_t)shape[d];
        if (shape[d] < 0 || !rw_mul_size(numel, (size_t)shape[d], &numel))
            return rw_fail(err, RW_EUSAGE, "%s: bad shape", path);
    }
    rw_status st = RW_OK;
    void *raw = NULL;
    hid_t ft = file_type(dtype), mt = H5I_INVALID_HID;
    hid_t space = ndim ? H5Screate_simple(ndim, dims, NULL) : H5Screate(H5S_SCALAR);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE), dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t ds = H5I_INVALID_HID;
    H5Pset_create_intermediate_group(lcpl, 1);
    H5Pset_obj_track_times(dcpl, 0); /* reproducible bytes */
    if (gzip > 0 && ndim > 0 && numel > 0) {
        H5Pset_chunk(dcpl, ndim, dims);
        H5Pset_deflate(dcpl, (unsigned)gzip);
    }
    if (dtype == RW_DT_F16 || dtype == RW_DT_BF16) {
        uint16_t *h = rw_calloc(numel, sizeof *h, err);
        if (!h) {
            st = RW_ENOMEM;
            goto done;
        }
        for (size_t i = 0; i < numel; i++)
            h[i] = dtype == RW_DT_F16 ? rw_double_to_half(values[i])
                                      : rw_double_to_bf16(values[i]);
        raw = h;
        mt = H5Tcopy(ft);
    } else if (dtype == RW_DT_INT) {
        int32_t *v = rw_calloc(numel, sizeof *v, err);
        if (!v) {
            st = RW_ENOMEM;
            goto done;
        }
        for (size_t i = 0; i < numel; i++)
            v[i] = (int32_t)values[i];
        raw = v;
        mt = H5Tcopy(H5T_NATIVE_INT32);
    } else {
        mt = H5Tcopy(H5T_NATIVE_DOUBLE);
    }
    ds = H5Dcreate2(w->h5.file, path, ft, space, lcpl, dcpl, H5P_DEFAULT);
    if (ds < 0 || (numel > 0 && H5Dwrite(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                         raw ? raw : (const void *)values) < 0))
        st = rw_fail(err, RW_EIO, "%s: cannot write dataset %s", w->h5.out.path, path);
done:
    free(raw);
    if (ds >= 0 && H5Dclose(ds) < 0 && st == RW_OK)
        st = rw_fail(err, RW_EIO, "%s: cannot write dataset %s", w->h5.out.path, path);
    if (mt >= 0)
        H5Tclose(mt);
    H5Tclose(ft);
    H5Sclose(space);
    H5Pclose(lcpl);
    H5Pclose(dcpl);
    return st;
}

rw_status h5w_dataset_unwritten(rw_h5w *w, const char *path, int ndim, const int64_t *shape,
                                rw_dtype dtype, rw_err *err)
{
    hsize_t dims[8], chunk[8];
    if (ndim < 1 || ndim > 8)
        return rw_fail(err, RW_EUSAGE, "%s: rank %d unsupported", path, ndim);
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 1)
            return rw_fail(err, RW_EUSAGE, "%s: bad shape", path);
        dims[d] = (hsize_t)shape[d];
        chunk[d] = dims[d] < 1000 ? dims[d] : 1000;
    }
    hid_t ft = file_type(dtype), space = H5Screate_simple(ndim, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t ds = H5I_INVALID_HID;
    if (H5Pset_chunk(dcpl, ndim, chunk) >= 0 && H5Pset_obj_track_times(dcpl, 0) >= 0)
        ds = H5Dcreate2(w->h5.file, path, ft, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    rw_status st = ds < 0 ? rw_fail(err, RW_EIO, "%s: cannot create dataset %s", w->h5.out.path,
                                    path)
                          : RW_OK;
    if (ds >= 0 && H5Dclose(ds) < 0 && st == RW_OK)
        st = rw_fail(err, RW_EIO, "%s: cannot write dataset %s", w->h5.out.path, path);
    H5Pclose(dcpl);
    H5Sclose(space);
    H5Tclose(ft);
    return st;
}

static rw_status put_attr(rw_h5w *w, const char *path, const char *name, hid_t ftype,
                          hid_t mtype, const void *v, rw_err *err)
{
    hid_t obj = H5Oopen(w->h5.file, path, H5P_DEFAULT);
    if (obj < 0) {
        hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
        H5Pset_create_intermediate_group(lcpl, 1);
        obj = H5Gcreate2(w->h5.file, path, lcpl, H5P_DEFAULT, H5P_DEFAULT);
        H5Pclose(lcpl);
    }
    if (obj < 0)
        return rw_fail(err, RW_EIO, "%s: no object %s for attribute %s", w->h5.out.path, path, name);
    hid_t sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(obj, name, ftype, sp, H5P_DEFAULT, H5P_DEFAULT);
    herr_t r = a < 0 ? -1 : H5Awrite(a, mtype, v);
    if (a >= 0 && H5Aclose(a) < 0)
        r = -1;
    H5Sclose(sp);
    if (H5Oclose(obj) < 0)
        r = -1;
    return r < 0 ? rw_fail(err, RW_EIO, "%s: cannot write attribute %s", w->h5.out.path, name)
                 : RW_OK;
}

rw_status h5w_attr_i64(rw_h5w *w, const char *path, const char *name, int64_t v, rw_err *err)
{
    return put_attr(w, path, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &v, err);
}

rw_status h5w_attr_f64(rw_h5w *w, const char *path, const char *name, double v, rw_err *err)
{
    return put_attr(w, path, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &v, err);
}

rw_status h5w_attr_str(rw_h5w *w, const char *path, const char *name, const char *v,
                       rw_err *err)
{
    /* Fixed-length, NUL-terminated: the reader never reads a variable-length
     * attribute (ckpt_h5.c). */
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(v) + 1);
    H5Tset_cset(t, H5T_CSET_UTF8);
    rw_status st = put_attr(w, path, name, t, t, v, err);
    H5Tclose(t);
    return st;
}

rw_status h5w_close(rw_h5w *w, bool commit, rw_err *err)
{
    rw_status st = rw_h5out_close(&w->h5, commit, err);
    free(w);
    return st;
}
