/*
 * items.h — the matrices a checkpoint offers for analysis ("items"): plain
 * tensors, the three components of LoRA/ReLoRA-adapted matrices, and the
 * attention OV circuit; how each is named, shaped and built.
 *
 * Adapters (DESIGN.md): a tensor X.weight (or PEFT's X.base_layer.weight)
 * with siblings X.<a>.weight and X.<b>.weight, (a, b) one of (lora_A, lora_B),
 * (lora_A.default, lora_B.default) or (A_lora, B_lora), is adapted: A is
 * r x in, B is out x r, s = alpha / r. Components:
 *   base  W                 (rows x cols of W)
 *   lora  s B A             (out x in, rank <= r)
 *   full  W + s B A         (the default)
 * A base stored transposed (in x out, GPT-2's fan_in_fan_out layout) is added
 * transposed. Adapter-only checkpoints (PEFT) have only `lora`, reported under
 * the name X.weight, unless a separate base checkpoint is given
 * (adapter_base.h: --base, or the model file beside the adapter): then the
 * base of each adapter is read from it (a base in the adapter's own file
 * still wins), and base and full exist as for an in-file base. An adapter
 * whose base is missing from it, or does not fit, is an error naming both
 * files and the tensor. Names stay the adapter's (X.weight, as the
 * checkpoint names it: without PEFT's base_model.model. wrapper, which
 * ckpt_open strips unless told to keep it), with or without the base.
 *
 * OV circuit of layer i, from the `full` (effective) weights of
 * layers.<i>.*v_proj.weight (n_kv*hd x d) and *o_proj.weight (d x n_h*hd),
 * hd = head_dim, g(h) = h / (n_h / n_kv):
 *   ov     [V_g(0) O_0 | V_g(1) O_1 | ...]   hd x (n_h hd): pico-analyze's per-head
 *          V·O products (V_g rows of v_proj times O_h columns of o_proj),
 *          concatenated along columns.
 *   wo_wv  sum_h O_h V_g(h)                  d x d: the conventional OV circuit
 *          W_O W_V of the layer (Elhage et al.), a d x d map of rank <= n_h hd.
 *   ov_base  ov of the base weights alone (V, O the `base` items), and
 *   ov_lora  ov of the s B A parts alone (V, O the `lora` items): the
 *          components of relora-pico's lora_ov_circuit, listed (named X.ov,
 *          like ov) where v_proj and o_proj are both adapted and have a base.
 *          The fork's lora part is B A without s, so its ov_lora is ours
 *          divided by s^2 (scale-free metrics equal; sigmas, fro, nuc
 *          times s^2). ov is not ov_base + ov_lora: the cross terms
 *          V_base O_lora + V_lora O_base are in neither.
 *
 * The module owns listing a checkpoint's items and building their matrices
 * (or a lora item's factors) from its tensors. Ownership: an rw_items owns
 * its array and each item's tensor and module names (items_free),
 * scale_from is a static string, and the tensor indices refer to the
 * rw_ckpt it was listed from (w_base: to its base), which, like the base
 * (borrowed in rw_items.base), must stay open while they are used.
 * Every matrix or sigma buffer is the caller's, sized as each function says.
 */
#ifndef RW_ITEMS_H
#define RW_ITEMS_H

#include "io/ckpt.h"
#include "io/run.h"
#include "io/spectrum.h"

typedef struct {
    char *tensor;           /* reported name (owned) */
    int layer;
    char *module;           /* owned: a plain tensor's module (ckpt.h), else
                               parsed from the reported name */
    rw_comp comp;
    bool is_default;        /* the component analysed when none is asked for
                               (rw_comp_default, no circuits) */
    bool optimizer;         /* of optimizer state (ckpt.h): only when an --include
                               pattern names it */
    long w, a, b;           /* tensor indices in the checkpoint, -1 when absent */
    bool w_base;            /* w indexes the separate base checkpoint (rw_items.base) */
    bool w_transposed;      /* base stored in x out */
    long v_item, o_item;    /* ov / wo_wv: indices of the full v_proj, o_proj items
                               (of gradients: the gradients' items) */
    bool of_grads;          /* ov / wo_wv of gradients: the weights they are formed
                               with are items wv_item, wo_item of rw_items.witems */
    long wv_item, wo_item;
    int64_t rows, cols;
    int64_t rank;           /* lora: r */
    int64_t heads, kv_heads;/* ov, wo_wv */
    rw_dtype dtype;         /* of the stored values (the widest involved) */
    const char *prefix;     /* what the checkpoint stripped from the stored
                               names (ckpt.h; borrowed from it), NULL: none or
                               optimizer state; selections match both forms */
} rw_item;

typedef struct {
    double lora_scale;      /* from --lora-scale, nan: from the checkpoint */
    long heads, kv_heads;   /* from --heads/--kv-heads, 0: from attributes */
    const char *base;       /* --base: the frozen base of adapter-only checkpoints
                               (a path; adapter_base.h), NULL: none given */
    const char *prog;       /* for warnings */
    bool no_circuits;       /* list no ov/wo_wv items (rw-ls: what a checkpoint holds,
                               whatever heads it is given) */
} rw_item_opts;

typedef struct rw_items {
    rw_item *v;
    size_t n;
    double scale;           /* s = alpha / r of this checkpoint's adapters */
    const char *scale_from; /* where s came from: "--lora-scale", "attributes", ... */
    bool has_adapters;
    bool ov_needs_heads;    /* v_proj/o_proj pairs exist but the heads are unknown */
    bool has_attention;     /* a layer has v_proj and o_proj (what the OV circuit
                               is formed from), whether or not the heads are known */
    long heads, kv_heads;   /* the head counts the OV circuit is formed with; 0:
                               unknown (then no ov items) */
    const char *heads_from; /* where heads came from (a static string): --heads,
                               attributes, metadata, config.json (ckpt_attr_source;
                               "base attributes" ... when of the separate base),
                               or unknown */
    const char *kv_heads_from; /* the same for kv_heads (--kv-heads, ...), or
                               "= heads" when none is given (one kv head per head) */
    rw_ckpt *base;          /* the separate base given to items_list (borrowed), or NULL */
    size_t from_base;       /* adapters whose base is read from it */
    rw_ckpt *weights;       /* gradients (items_list_grads): the model checkpoint of
                               their step, and its items (both borrowed), or NULL */
    const struct rw_items *witems;
} rw_items;

/* Every item of checkpoint c, sorted by (tensor, component). base (NULL:
 * none) is the separate base checkpoint of adapter-only checkpoints, which
 * must stay open as long as c. ov items are listed when the heads are known
 * (flags, else n_heads/n_kv_heads attributes of c, else of base) and the
 * layer has v_proj and o_proj (unless o->no_circuits; has_attention, the
 * heads and their sources are set either way). An adapter's lora
 * and full items name its factors (a, b): the tensors rw-ls calls adapter
 * factors. Shapes are checked: an adapter whose A, B and base do not fit is
 * an error naming the tensor (and both files). */
rw_status items_list(rw_ckpt *c, rw_ckpt *base, const rw_item_opts *o, rw_items *out,
                     rw_err *err);
/* The same for a checkpoint of gradients (--data gradients: pico-train's
 * learning_dynamics/<split>_gradients.pt, named by module, no .weight),
 * weights the model checkpoint of the same step and witems its items (both
 * borrowed: open and listed while out is used; NULL: no circuits). Its ov
 * and wo_wv are formed as pico-analyze's compute_ov_gradients (circuits.h):
 * per head O_h G_V,g + G_O,h V_g, d x d, concatenated (ov, d x n_h d) or
 * summed (wo_wv); V and O the default (full) weights of the model, G_V and
 * G_O the gradients. N: circuit_noise_grad. The heads are c's, else the
 * model's. */
rw_status items_list_grads(rw_ckpt *c, rw_ckpt *base, rw_ckpt *weights,
                           const rw_items *witems, const rw_item_opts *o, rw_items *out,
                           rw_err *err);
/* Frees what items_list filled and zeroes it. */
void items_free(rw_items *it);

/* Index of the item (tensor, comp), -1 when absent. */
long items_find(const rw_items *it, const char *tensor, rw_comp comp);

/* True when items of this component are wanted under the mask (0: defaults). */
bool item_selected(const rw_item *it, const rw_select *sel, unsigned mask);

/* Builds item i's matrix (rows x cols, row-major) into out, which must hold
 * rows * cols doubles, reading c (and its->base). Uses scratch space it
 * allocates and frees. */
rw_status item_build(rw_ckpt *c, const rw_items *its, size_t i, double *out, rw_err *err);
/* The same, and *noise (unless NULL) gets N, the bound on the Frobenius norm
 * of the effect of rounding the stored values, in units of their unit
 * round-off u (num_rank's tolerance, DESIGN.md): to first order in u,
 * ||.||_2 the spectral norm (specnorm.h),
 *   weight, base  ||W||_F                       (each entry off by <= u |w|)
 *   lora          |s| (||B||_F ||A||_2 + ||B||_2 ||A||_F)   (item_lora_noise)
 *   full          ||W||_F + the lora term
 *   ov, wo_wv     circuit_noise from the v_proj and o_proj built and their
 *                 N (N_V, N_O) and head blocks' spectral norms (circuits.h)
 *   ov_base, ov_lora  the same from the factors they are formed of: N_V =
 *                 ||V_base||_F (base) or the lora term of s B_v A_v, ...
 * nan when the build fails. */
rw_status item_build_noise(rw_ckpt *c, const rw_items *its, size_t i, double *out,
                           double *noise, rw_err *err);
/* What building item i reads, for a copy built elsewhere (item_fetch.c),
 * kept beside item_build_noise so that the two agree: the items it consults
 * into items[0..*n-1] (i first; read[k] false for one whose flags only are
 * looked at: the full item that says a base is stored in x out), at most
 * ITEM_INPUTS_MAX. False when the build reads another checkpoint (a
 * separate base, the model weights of gradients). */
#define ITEM_INPUTS_MAX 5
bool item_build_inputs(const rw_items *its, size_t i, long *items, bool *read, size_t *n);
/* The stored tensors item x's own build reads (what it reads through
 * v_item and o_item aside): w, a, b, each -1 when not read. */
void item_tensors_read(const rw_item *x, long t[3]);

/* N of s B A from the factors b (m x r) and a (r x n):
 * ||s(B+dB)(A+dA) - sBA||_F <= |s| (||dB||_F ||A||_2 + ||B||_2 ||dA||_F) + O(u^2)
 * <= u |s| (||B||_F ||A||_2 + ||B||_2 ||A||_F), as ||dB||_F <= u ||B||_F. */
double item_lora_noise(double scale, const double *b, const double *a, int64_t m, int64_t n,
                       int64_t r);

/* out (m x n) = s B A, or out + s B A when add (a full item: W + s B A),
 * b (m x r) and a (r x n) row-major; returns item_lora_noise of the
 * factors. What item_build_noise does for lora and full items, for the
 * workers too (item_fetch.h). Thread-safe. */
double item_lora_product(double scale, const double *b, const double *a, int64_t m, int64_t n,
                         int64_t r, bool add, double *out);
/* ||x||_F of n values, summed in order: the N of a stored matrix. */
double item_fro(const double *x, size_t n);

/* The singular values of a lora item without forming the m x n product:
 * QR of B and of A^T, then the SVD of the r x r product of the R factors.
 * sigma gets min(rows, cols) values, the last k - r of them exactly zero. */
rw_status item_lora_sigma(rw_ckpt *c, const rw_items *its, size_t i, double *sigma,
                          rw_err *err);

/* The same from the factors: b (m x r) and a (r x n), row-major, both
 * overwritten; sigma gets min(m, n) values. Pure computation, thread-safe. */
rw_status rw_lowrank_sigma(double *b, double *a, int64_t m, int64_t n, int64_t r,
                          double scale, double *sigma, rw_err *err);
/* Reads a lora item's B (rows x rank) and A (rank x cols) into b and a. */
rw_status item_read_adapters(rw_ckpt *c, const rw_items *its, size_t i, double *b, double *a,
                             rw_err *err);


#endif
