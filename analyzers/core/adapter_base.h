/*
 * adapter_base.h — the frozen base model of adapter-only checkpoints (PEFT's
 * adapter_model.safetensors / .bin hold only lora_A and lora_B): which
 * checkpoint holds it, keeping it open while the checkpoints that use it
 * are, and which of its tensors is the base of an adapted module.
 *
 * Where the base comes from (rw_base_source): --base PATH (rw_item_opts.base;
 * any checkpoint format ckpt_open reads), else the model file beside the
 * adapter that run discovery found (rw_ckpt_ref.base: checkpoint-N/ holding
 * adapter_model.* and model.safetensors or pytorch_model.bin), else none.
 * A base stored in the adapter's own file always wins (items.c).
 *
 * Names (rw_base_find): the adapter's module X (the name before
 * .lora_A.weight) loses PEFT's `base_model.model.` prefix; the base is the
 * first of X.weight, X.base_layer.weight (a PEFT-wrapped model saved whole)
 * and the same under `base_model.model.`; failing those, the same with X's
 * first segment dropped (HF's base_model_prefix: a GPT-2 adapter names
 * transformer.h.0.attn.c_attn, GPT-2's own model.safetensors h.0.attn.c_attn).
 *
 * Opening once: a run's checkpoints share one open base (rw_bases counts
 * its users; the pipeline holds the previous and first checkpoints open for
 * updates, and with them their base), so --base is opened once per run and
 * read tensor by tensor as needed, never whole. Like every checkpoint, it is
 * read by the main thread only (ring.c: the workers compute spectra and
 * never read files).
 *
 * Ownership: an rw_bases owns its slots, their paths and open checkpoints
 * (bases_free); a checkpoint from bases_acquire is borrowed until the
 * matching bases_release. rw_base_source returns a borrowed pointer (into
 * opts or ref).
 */
#ifndef RW_ADAPTER_BASE_H
#define RW_ADAPTER_BASE_H

#include "io/ckpt.h"
#include "io/run.h"

/* The base of checkpoint ref: flag (--base, NULL when not given), else
 * ref->base, else NULL. *beside (may be NULL) tells it is ref->base. */
const char *rw_base_source(const char *flag, const rw_ckpt_ref *ref, bool *beside);

/* Index in base of the frozen weight of the adapted module named by
 * name[0..len) in the adapter's checkpoint (above), -1 when none. */
long rw_base_find(const rw_ckpt *base, const char *name, size_t len);

typedef struct {
    char *path;             /* as given (owned) */
    rw_ckpt *c;             /* open (owned) */
    size_t users;
} rw_base_slot;

typedef struct {
    rw_base_slot *v;
    size_t n, cap;
} rw_bases;

/* The base checkpoint at path, opened on its first use (ckpt_open: errors
 * name it), its users counted. */
rw_status bases_acquire(rw_bases *b, const char *path, rw_ckpt **out, rw_err *err);
/* One user of c fewer; closed when none is left (c NULL: no-op). */
void bases_release(rw_bases *b, rw_ckpt *c);
/* Closes every base and empties b. */
void bases_free(rw_bases *b);

#endif
