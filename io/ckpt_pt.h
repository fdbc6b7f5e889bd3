/*
 * ckpt_pt.h — the PyTorch back end of ckpt.h (ckpt_pt.c), for io/ only.
 */
#ifndef RW_CKPT_PT_H
#define RW_CKPT_PT_H

#include "io/ckpt.h"

/* True for the extensions PyTorch checkpoints come with: .pt .pth .bin .ckpt */
bool ckpt_pt_is_name(const char *path);
/* True when head (n bytes of a file's start) is a legacy torch.save file. */
bool ckpt_pt_is_legacy(const unsigned char *head, size_t n);

rw_status ckpt_pt_open(rw_ckpt *c, rw_err *err);
rw_status ckpt_pt_read(rw_ckpt *c, size_t i, double *buf, rw_err *err);
void ckpt_pt_close(rw_ckpt *c);

#endif
