/*
 * adapter_config.h — PEFT's adapter_config.json beside an adapter
 * checkpoint: the LoRA scale s = lora_alpha / r, and fan_in_fan_out (the
 * base stored in x out, as GPT-2's Conv1D layers are), which decides the
 * orientation of a square base that its shape cannot.
 *
 * The file is hostile input: at most 64 KiB, parsed by cJSON, a FIFO or
 * device of that name counts as no config (opening it could block). A
 * config that is there but malformed in what is asked of it is an error
 * naming it: read past, it would silently change the numbers.
 */
#ifndef RW_ADAPTER_CONFIG_H
#define RW_ADAPTER_CONFIG_H

#include "io/rw.h"

/* lora_alpha / r of the adapter_config.json beside ckpt_path into *scale:
 * RW_ENOTFOUND when there is none; an error when r is not a positive number
 * or lora_alpha not a finite one. */
rw_status adapter_config_scale(const char *ckpt_path, double *scale, rw_err *err);

/* fan_in_fan_out of that config: *fifo 1 (true), 0 (false) or -1 (no config,
 * or no such key); an error when it is there and not a boolean. */
rw_status adapter_config_fan_in_fan_out(const char *ckpt_path, int *fifo, rw_err *err);

#endif
