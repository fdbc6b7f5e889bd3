/*
 * h5file.c — HDF5 set-up and atomic HDF5 output files (h5file.h).
 */
#include "io/h5file.h"

#include <errno.h>
#include <string.h>

/* Before main, so before libhdf5 initialises itself and registers its exit
 * handler (h5file.h says why it must not run). */
__attribute__((constructor)) static void h5_no_atexit(void)
{
    H5dont_atexit();
}

void rw_h5_init(void)
{
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

const char *rw_h5_reason(const char *what)
{
    return errno ? strerror(errno) : what;
}

rw_status rw_h5out_create(rw_h5out *o, const char *path, rw_err *err)
{
    rw_h5_init();
    memset(o, 0, sizeof *o);
    o->file = H5I_INVALID_HID;
    rw_status st = outfile_open(&o->out, path, false, err);
    if (st != RW_OK)
        return st;
    o->file = H5Fcreate(o->out.tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (o->file < 0) {
        outfile_abort(&o->out);
        return rw_fail(err, RW_EIO, "%s: cannot create HDF5 file", path);
    }
    return RW_OK;
}

rw_status rw_h5out_close(rw_h5out *o, bool commit, rw_err *err)
{
    rw_status st = RW_OK;
    if (o->file >= 0) {
        /* H5Fflush reports a write that failed (ENOSPC) while the file is
         * still whole in memory; an object left open would keep the file
         * open past H5Fclose, its last writes unchecked: a bug. */
        ssize_t open_objs = H5Fget_obj_count(o->file, H5F_OBJ_DATASET | H5F_OBJ_GROUP |
                                                          H5F_OBJ_DATATYPE | H5F_OBJ_ATTR);
        if (commit && open_objs != 0)
            st = rw_fail(err, RW_EIO, "%s: bug: %zd HDF5 objects still open at close",
                         o->out.path, open_objs);
        errno = 0;
        if (commit && st == RW_OK && H5Fflush(o->file, H5F_SCOPE_LOCAL) < 0)
            st = rw_fail(err, RW_EIO, "%s: cannot write: %s", o->out.path,
                         rw_h5_reason("HDF5 flush failed"));
        errno = 0;
        if (H5Fclose(o->file) < 0 && commit && st == RW_OK)
            st = rw_fail(err, RW_EIO, "%s: cannot close HDF5 file: %s", o->out.path,
                         rw_h5_reason("HDF5 close failed"));
        o->file = H5I_INVALID_HID;
    }
    if (commit && st == RW_OK)
        st = outfile_commit(&o->out, err);
    else
        outfile_abort(&o->out);
    return st;
}
