/*
 * stepname.h — the training step a file or folder name gives, when the name
 * is step-like (README, "Steps"): nothing else in a name is a step, so
 * `KERAS_3layer_weights.h5` or `gpt2-base/` have none.
 */
#ifndef RW_STEPNAME_H
#define RW_STEPNAME_H

#include <stdbool.h>
#include <stdint.h>

/* The step of name (a file name without its extension, or a folder name):
 *   - the number after the last keyword step, global_step, checkpoint,
 *     ckpt, iter, iteration or epoch (any case) that starts the name or
 *     follows a character other than a letter or digit, joined to the
 *     number directly or by one of "_-. ", the number ending the name or
 *     followed by a character other than a letter or digit:
 *     step_500, step-500, checkpoint-500, ckpt_3, iter_20, epoch-4,
 *     global_step100, run.step_0100.final
 *   - else the whole name when it is a number: 500
 *   - else a number ending the name after '.', '_' or '-': weights.07,
 *     model_0100
 * -1 when there is none, or the number exceeds 2^53. */
int64_t rw_step_from_name(const char *name);

/* The keyword the step of name follows ("step", "epoch", ...: static
 * strings, lower case), NULL when it has none or no step. */
const char *rw_step_name_keyword(const char *name);

/* Whether the step of name is an epoch: it follows the keyword epoch
 * (epoch_4, model.epoch-12; not epoch_3-step_40, whose step is 40). */
bool rw_step_name_is_epoch(const char *name);

#endif
