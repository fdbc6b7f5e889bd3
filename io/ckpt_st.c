/*
 * ckpt_st.c — safetensors back end of ckpt.h (placeholder until the reader
 * lands: refuses the file with a clear message).
 */
#include "ckpt.h"

rw_status ckpt_st_open(rw_ckpt *c, rw_err *err)
{
    return rw_fail(err, RW_EDATA, "%s: safetensors is not supported yet", c->path);
}

rw_status ckpt_st_read(rw_ckpt *c, size_t i, double *buf, rw_err *err)
{
    (void)i;
    (void)buf;
    return rw_fail(err, RW_EDATA, "%s: safetensors is not supported yet", c->path);
}

void ckpt_st_close(rw_ckpt *c)
{
    c->impl = NULL;
}
