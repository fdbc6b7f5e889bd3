/*
 * run.h — runs: ordered lists of checkpoints, found from what the user names.
 *
 * A source argument is a directory (its checkpoint files, also one level
 * down as in checkpoint-500/adapter_model.safetensors or
 * step_500/model.safetensors; a link to a folder, like pico-train's
 * `latest`, is skipped as a second name of one listed beside it), a
 * pico-train run folder (runs/<run>, whose checkpoints/ holds the step
 * folders; the run is named <run>, also when runs/<run>/checkpoints is
 * given), one checkpoint file,
 * one HDF5 file whose top-level groups are all `step_<N>`, a comma-separated
 * list of files, or @LIST (a text file naming one checkpoint per line).
 * In a directory, a sharded model's index (`*.safetensors.index.json`,
 * `*.bin.index.json`) is one checkpoint and the shard files it names are
 * not checkpoints of their own;
 * a trainer's state files (optimizer.pt, scheduler.pt, scaler.pt,
 * rng_state*.pth, training_args.bin) are not checkpoints, and
 * pytorch_model.bin or pytorch_model.bin.index.json (adapter_model.bin) is
 * skipped beside model.safetensors or its index (adapter_model.safetensors):
 * the same weights saved twice.
 * A PEFT adapter (adapter_model.safetensors or .bin) with a model file
 * beside it (model.safetensors.index.json, model.safetensors or
 * pytorch_model.bin, the first there) is one checkpoint, the adapter, whose
 * frozen base is that model file (rw_ckpt_ref.base), as if --base named it:
 * the model file is not a checkpoint of its own. So a lone adapter file too.
 * Sources whose labels are equal are merged into one run, so
 * `rw-rank runs/full/step_*.h5` is one run labelled "full". Two different
 * folders named alike (exp1/ckpts, exp2/ckpts) are not merged: both runs
 * are named with their parent folder (exp1/ckpts, exp2/ckpts); when that
 * does not tell them apart either, it is an error that says to name them
 * (NAME=PATH).
 *
 * A list that names no file (",") is a usage error (RW_EUSAGE). A
 * checkpoint must be a regular file: its type is checked with stat before
 * it is opened, so that a FIFO or a device named like a checkpoint, given
 * or found in a directory, is an error ("PATH: not a regular file") and
 * never blocks.
 *
 * Ownership: an rw_runset owns its runs, their labels and their checkpoint
 * references (path, group), all freed by runset_free; pointers into it are
 * borrowed until then. An rw_select owns its two arrays (rw_select_free)
 * but not the globs in them: those are the caller's (argv) and must
 * outlive it.
 */
#ifndef RW_RUN_H
#define RW_RUN_H

#include "io/rw.h"

typedef struct {
    char *path;     /* checkpoint file (owned) */
    char *group;    /* HDF5 step group or NULL (owned) */
    int64_t step;
    char *base;     /* the model file beside a PEFT adapter, its frozen base
                       (owned), or NULL */
    char *weights;  /* --data gradients: the model file of the step folder (the
                       weights the OV circuit of gradients is formed with;
                       owned), or NULL */
} rw_ckpt_ref;

typedef struct {
    char *label;    /* owned */
    size_t n;
    rw_ckpt_ref *ckpts; /* sorted by step after runset_finish */
    char *dir;      /* the folder (real path, owned) whose name the label is,
                       NULL when the label came otherwise */
} rw_run;

/* What the step folders of pico-train runs are read for (--data, --split):
 * the model checkpoint, or the learning-dynamics files pico-train writes
 * beside it, learning_dynamics/{train,val}_{gradients,activations}.pt. */
typedef enum { RW_DATA_WEIGHTS, RW_DATA_GRADIENTS, RW_DATA_ACTIVATIONS } rw_data;
typedef enum { RW_SPLIT_TRAIN, RW_SPLIT_VAL } rw_split;
/* "weights", "gradients", "activations"; "train", "val" (static strings; "?"
 * out of range): as tables and file names write them. */
const char *rw_data_name(rw_data d);
const char *rw_split_name(rw_split s);

typedef struct {
    size_t n;
    rw_run *runs;   /* owned */
    rw_data data;   /* set before runset_add; zero: the model checkpoints */
    rw_split split;
} rw_runset;

/* Resolves one source (see above) and adds its checkpoints to the run named
 * label (NULL: the `run` attribute of its first checkpoint, else the
 * directory's name, else the file's stem). Opens every checkpoint once to
 * read its step. */
rw_status runset_add(rw_runset *rs, const char *source, const char *label, rw_err *err);
/* Sorts every run by step; two checkpoints of one run with the same step are
 * an error naming both files. A checkpoint with no step (no step attribute,
 * no step-like name: stepname.h) is an error naming it unless it is its
 * run's only one (step 0). */
rw_status runset_finish(rw_runset *rs, rw_err *err);
/* Frees every run and empties rs (a zeroed rs: no-op). */
void runset_free(rw_runset *rs);

/* True for names ending in .h5, .hdf5, .safetensors, .safetensors.index.json,
 * PyTorch's .pt, .pth, .bin, .ckpt, or .bin.index.json. */
bool rw_is_ckpt_name(const char *name);

/* ------------------------------------------------------------ selection */

typedef struct {
    const char **include; /* globs (fnmatch) on tensor names; none = all */
    size_t ninclude;
    const char **exclude;
    size_t nexclude;
} rw_select;

/* True when name passes: some include glob matches (or there are none) and
 * no exclude glob does. */
bool rw_select_match(const rw_select *sel, const char *name);
/* The same for a checkpoint's tensor whose stored name lost prefix (ckpt.h;
 * NULL: nothing was stripped): a glob matches when it matches the name as
 * shown or as stored (prefix + name), so that globs written for the stored
 * names keep working. */
bool rw_select_match_as(const rw_select *sel, const char *name, const char *prefix);
/* Appends glob (borrowed: not copied) to the include or exclude list. */
rw_status rw_select_add(rw_select *sel, bool include, const char *glob, rw_err *err);
/* Frees the arrays (not the globs) and zeroes sel. */
void rw_select_free(rw_select *sel);

#endif
