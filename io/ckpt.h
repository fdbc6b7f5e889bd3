/*
 * ckpt.h — one checkpoint: the tensors a saved file holds, how they are named
 * and shaped, and their values widened to double on request. The module owns
 * the reading of checkpoint files (HDF5, safetensors, sharded safetensors):
 * nothing outside io/ckpt*.c knows a format's layout (io/ckpt_impl.h holds
 * the back ends and where each tensor's values are). docs/formats.md
 * describes every layout read, for users.
 *
 * A checkpoint is an HDF5 file (or one `step_<N>` group of one), a
 * safetensors file, a PyTorch file (.pt .pth .bin .ckpt), or a sharded
 * model: its index (`*.safetensors.index.json`, `*.bin.index.json`) and the
 * shard files it names, read as one checkpoint. Opening
 * it reads only the directory of tensors (names, shapes, dtypes, attributes;
 * a safetensors file stays open for pread); values are read one tensor at a
 * time with ckpt_read, so memory stays bounded by the largest tensor.
 *
 * Tensor names (DESIGN.md): the dataset path without the leading '/', with
 * '/' turned into '.'. The layer is the first path segment that is an integer
 * (-1 when none) and the module is what follows it (the full name when there
 * is no integer segment) — unless the back end names them itself: Keras 3
 * files (`layers/<layer>/vars/<i>`, ckpt_keras.c) get the layer's position
 * and a module named after the layer ("dense_1.kernel").
 *
 * Matrices: a tensor of two or more dimensions is read as a matrix by its
 * file's convention (rw_matrix_rule): PyTorch's (out, in, k...) as
 * (out, in·k...), Keras's (k..., in, out) as (k...·in, out). Either way the
 * values in C order are already that matrix, row-major.
 *
 * Ownership: an rw_ckpt and everything it points to (path, group, key,
 * tensors, their names, module names and locations, attributes) belong to it
 * and are freed by
 * ckpt_free; pointers into it (a tensor, its name or module, an attribute
 * value from ckpt_attr) are borrowed and live until ckpt_free.
 */
#ifndef RW_CKPT_H
#define RW_CKPT_H

#include "io/rw.h"

#define RW_MAX_DIMS 8

typedef enum {
    RW_FMT_HDF5,
    RW_FMT_SAFETENSORS,
    RW_FMT_PYTORCH,
    RW_FMT_DETACHED /* ckpt_detach's copy of another checkpoint's tensors */
} rw_format;

/* How a tensor of 3 or more dimensions (a convolution kernel) is matricized;
 * 2-D tensors are (shape[0], shape[1]) under both. */
typedef enum {
    RW_MAT_OUT_FIRST, /* PyTorch's (out, in, k...): rows = shape[0], cols = the
                         product of the rest. Every file but Keras's. */
    RW_MAT_OUT_LAST,  /* Keras's (k..., in, out): rows = the product of all but
                         the last, cols = the last. Keras HDF5 files
                         (ckpt_h5.c says how they are recognised). */
} rw_matrix_rule;

typedef struct {
    char *name;               /* normalised name (owned) */
    int ndim;                 /* 0..RW_MAX_DIMS */
    int64_t shape[RW_MAX_DIMS];
    size_t numel;             /* product of shape, overflow-checked */
    rw_dtype dtype;
    int layer;                /* first integer segment, -1 when none (or the
                                 back end's: module_name) */
    const char *module;       /* points into name, or is module_name */
    char *module_name;        /* NULL, or the module as the back end named it
                                 (owned): then layer was set by the back end
                                 too, and ckpt_sort_tensors keeps both (Keras 3:
                                 "dense_1.kernel", the layer's position) */
    rw_matrix_rule matrix;    /* how rw_tensor_matrix shapes it */
    bool optimizer;           /* optimizer state (its name's first segment is
                                 optimizer, optimizer_weights, optimizer_state_dict,
                                 optim or optimizer_states): listed, analysed only
                                 when an --include pattern names it */
    struct rw_tensor_loc *loc; /* where the values are (owned): the back
                                 end's, private to io/ckpt*.c (ckpt_impl.h) */
} rw_tensor;

typedef struct {
    char *key, *value;        /* attribute or metadata as text (owned) */
    bool from_config;         /* not the file's own: from the config.json
                                 beside it (n_heads, n_kv_heads, d_model) */
} rw_attr;

typedef struct rw_ckpt {
    char *path;               /* the file (owned) */
    char *group;              /* HDF5 step group, or NULL (owned) */
    rw_format format;
    size_t n;                 /* tensors, sorted by name */
    rw_tensor *tensors;
    size_t nattrs;
    rw_attr *attrs;           /* root attributes / __metadata__ */
    void *impl;               /* the back end's state (owned; ckpt_impl.h) */
    bool attrs_only;          /* opened by ckpt_open_attrs: no tensors listed */
    char *key;                /* rw_ckpt_opts.key it was opened with (owned), or NULL */
    char *prefix;             /* the leading segments stripped from every tensor
                                 name ("pico_decoder.", "base_model.model."), or
                                 NULL when none was (owned; see ckpt_open_opts) */
    bool reread;              /* the caller's word, given after opening: tensors
                                 will be read more than once (several components,
                                 updates), so the compressed ones are kept
                                 decoded (ckpt_read_packed; io/packed.h) */
} rw_ckpt;

/* How to read a checkpoint (ckpt_open_opts); all zero: the defaults. The
 * caller owns it and its strings; they need to live only during the call
 * (the checkpoint keeps copies of what it uses). */
typedef struct {
    const char *key;          /* PyTorch: the key path of the state dict in a
                                 checkpoint dict, keys joined by '.' ("ema.model",
                                 "module"; a list index is a number), instead of
                                 the automatic choice (ckpt_pt.c's model keys);
                                 NULL: automatic. A key path that names nothing,
                                 or not a dict of tensors, fails the open. Other
                                 formats ignore it. */
    bool keep_prefix;         /* keep the names as stored: no ckpt_strip_prefix */
} rw_ckpt_opts;

/* Tensor names lose a prefix every model tensor shares (the wrapper a tool
 * saved the model in: "pico_decoder.", "model.", "base_model.model."), so
 * that the same model saved by two tools has the same rows; opening does
 * it unless rw_ckpt_opts.keep_prefix. The prefix is the longest run of whole
 * leading segments common to every tensor that is not optimizer state (when
 * there are two or more),
 * stopping before a segment that a layer number follows in some name (the
 * "layers" of layers.0..., "h" of h.0...), before one that would leave a
 * name of one segment or a name that reads as optimizer state. Optimizer
 * state keeps its names, and Keras files are read as they are (DESIGN.md). c->prefix says what was stripped (NULL: nothing).
 * Selections (--include) and tables see the stripped names. */

/* Opens the checkpoint at path; group names an HDF5 step group ("step_500")
 * or is NULL for the whole file. The format comes from the file's signature
 * (HDF5) or its extension (.safetensors; .pt .pth .bin .ckpt; or
 * .safetensors.index.json, .bin.index.json for a sharded model whose tensors
 * come from the shard files it names). On success *out is owned by the
 * caller (ckpt_free); on failure err says which file and what is wrong.
 * ckpt_open is ckpt_open_opts with the defaults (o NULL). */
rw_status ckpt_open(const char *path, const char *group, rw_ckpt **out, rw_err *err);
rw_status ckpt_open_opts(const char *path, const char *group, const rw_ckpt_opts *o,
                         rw_ckpt **out, rw_err *err);
/* Frees c and all it owns (NULL: no-op). */
void ckpt_free(rw_ckpt *c);
/* The same, reading only the attributes (HDF5: no walk over the datasets),
 * for ckpt_step and ckpt_attr: what run discovery needs. c->n is 0. */
rw_status ckpt_open_attrs(const char *path, const char *group, rw_ckpt **out, rw_err *err);

/* Index of the tensor with this exact name, or -1 if not found. */
long ckpt_find(const rw_ckpt *c, const char *name);

/* Reads tensor i, widened to double, into buf (numel values, C order).
 * Matricization is free: a (d0, d1, ..., dn) tensor in C order is already the
 * (d0, d1*...*dn) row-major matrix, and the (d0*...*d(n-1), dn) one. */
rw_status ckpt_read(rw_ckpt *c, size_t i, double *buf, rw_err *err);

/* Tensor i's values as stored, when they are compressed in a way that
 * io/packed.h decodes (an HDF5 dataset chunked with deflate, shuffle and
 * fletcher32 filters only, of a float dtype in a byte order it reads: what
 * h5py's compression="gzip" writes): *out is a new rw_packed, its chunks
 * located here (and read by rw_packed_decode from a descriptor of the file
 * it holds), and rw_packed_decode (any thread, the checkpoint open or not)
 * gives what ckpt_read would. The caller owns *out
 * (rw_packed_free). For every other tensor *out is NULL, nothing is read,
 * and ckpt_read is the way. A chunk that is missing or lies past the end of
 * the file is an error naming the file and the tensor. */
typedef struct rw_packed rw_packed;
rw_status ckpt_read_packed(rw_ckpt *c, size_t i, rw_packed **out, rw_err *err);

/* A detached copy of tensors idx[0..n-1] of c (ckpt_detach.c), for another
 * thread: each held packed when c stores it so (ckpt_read_packed: its
 * chunks are inflated by whoever reads it), else its values read now.
 * Tensor j of *out is tensor idx[j] of c (name, shape, dtype, module, as
 * there); ckpt_read on *out decodes or copies it, on any one thread at a
 * time, whether c is still open or not. *packed: whether any tensor is
 * held packed (otherwise the copy saves the reading thread nothing). Freed
 * with ckpt_free. */
rw_status ckpt_detach(rw_ckpt *c, const size_t *idx, size_t n, rw_ckpt **out, bool *packed,
                      rw_err *err);
/* Bytes a detached copy holds or will read (memory accounting); 0 for any
 * other checkpoint. */
size_t ckpt_detached_size(const rw_ckpt *d);

/* Attribute or metadata value as text (borrowed from c), NULL when absent. */
const char *ckpt_attr(const rw_ckpt *c, const char *key);
/* Attribute as a number; false when absent or not a number. */
bool ckpt_attr_double(const rw_ckpt *c, const char *key, double *out);
/* Where attribute key came from: "attributes" (HDF5), "metadata" (the other
 * formats), "config.json" (beside the checkpoint); NULL when absent. A
 * static string. */
const char *ckpt_attr_source(const rw_ckpt *c, const char *key);

/* Step: the `step` attribute (PyTorch: the step, global_step or epoch entry
 * of a checkpoint dict), else the step of the HDF5 group's name, of the file
 * name, or of the parent folder's name (links resolved), each only when
 * step-like (stepname.h); -1 when none of them has one. (A step attribute
 * that is not a whole number in 0 .. 2^53 fails ckpt_open.) */
int64_t ckpt_step(const rw_ckpt *c);

/* Whether ckpt_step is an epoch rather than a training step: it comes from
 * a name (not the step attribute) whose step follows the keyword epoch
 * (stepname.h), or from the file or folder name of a Keras file without a
 * keyword — Keras's ModelCheckpoint numbers its files by epoch
 * (weights.{epoch:02d}.hdf5). */
bool ckpt_step_is_epoch(const rw_ckpt *c);

/* Matrix view of tensor t by its t->matrix rule: rows = shape[0] and cols =
 * the product of the rest (RW_MAT_OUT_FIRST), or rows = the product of all
 * but the last and cols = the last (RW_MAT_OUT_LAST). False for tensors of
 * fewer than 2 dimensions or non-float dtype. */
bool rw_tensor_matrix(const rw_tensor *t, int64_t *rows, int64_t *cols);

/* Parses layer and module from t->name (sets t->layer, t->module; the
 * default rule above, whatever t->module_name says). */
void rw_tensor_parse_name(rw_tensor *t);

/* Shape as "96x384" into buf (size n); returns buf. */
char *rw_shape_str(const rw_tensor *t, char *buf, size_t n);

/* ------------------------------------------------ what run discovery needs */

/* The checkpoints a file at path holds as step groups: for an HDF5 file
 * whose top-level objects are all `step_<N>` groups, their names and steps
 * (*names: an array of strings, *steps: an array, *n of each; all new,
 * the caller frees each name and both arrays). *n = 0 and NULL arrays for
 * any other file, which is one checkpoint (or none: ckpt_open tells). An
 * HDF5 file that does not open or list is an error. */
rw_status ckpt_step_groups(const char *path, char ***names, int64_t **steps, size_t *n,
                           rw_err *err);

/* The files besides path that the checkpoint at path reads its tensors from:
 * for a sharded model's index (`*.safetensors.index.json`,
 * `*.bin.index.json`), the distinct
 * shard files it names (plain names, relative to the index's directory),
 * as *names (a new array of new strings; the caller frees each and the
 * array), *n of them. *n = 0, *names NULL for any other name. A malformed
 * index is an error naming it. */
rw_status ckpt_shard_files(const char *path, char ***names, size_t *n, rw_err *err);

/* True for the name of a sharded model's index: *.safetensors.index.json,
 * *.bin.index.json (the name only; ckpt_shard_files reads it). */
bool ckpt_is_index_name(const char *path);
/* True for the names checkpoints are read from: .h5, .hdf5, .safetensors,
 * PyTorch's .pt .pth .bin .ckpt, and the sharded models' indexes. The one
 * list of them (ckpt_open's dispatch and run discovery). */
bool ckpt_is_name(const char *path);

/* True when the file starts with the HDF5 signature. */
bool rw_is_hdf5(const char *path);

#endif
