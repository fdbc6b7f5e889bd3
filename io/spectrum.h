/*
 * spectrum.h — what a spectrum is: the kind of matrix it is of (a weight or
 * an update), the component of the matrix (rw_comp), the rule choosing each
 * matrix's default component, one spectrum as programs, the spectra file and
 * the figures pass it around (rw_spectrum), and the rule every spectrum read
 * back must pass (spectrum_valid).
 *
 * It owns no memory: every function here is pure, and the pointers of an
 * rw_spectrum are borrowed from whoever hands it on (the pipeline, a spectra
 * file reader), valid for as long as that one says.
 */
#ifndef RW_SPECTRUM_H
#define RW_SPECTRUM_H

#include "io/rw.h"

/* ------------------------------------------------------------------ kinds */

/* What a spectrum is of. */
/* Updates exist from a run's second checkpoint on, for every component: the
 * first has none, of any kind (its lora s B A is a weight spectrum there). */
typedef enum {
    RW_KIND_WEIGHT,       /* the matrix at its step */
    RW_KIND_UPDATE,       /* M(step) - M(previous step); lora: s B A itself,
                           * the update of its cycle (ref_step its own step) */
    RW_KIND_UPDATE_FIRST, /* M(step) - M(first step), lora included */
} rw_kind;

/* "weight", "update", "update_first"; "?" out of range (a static string). */
const char *rw_kind_name(rw_kind k);
int rw_kind_parse(const char *name);   /* -1 when unknown */

/* ------------------------------------------------------------- components */

/* The components of a matrix (analyzers/core/items.h says how each is
 * formed): weight (a plain tensor), base, lora and full (an adapted one:
 * W, s B A, W + s B A), ov and wo_wv (the OV circuits of a layer, matrices
 * of their own named X.ov and X.wo_wv), ov_base and ov_lora (X.ov formed
 * from the base weights only, and from the s B A parts only, where v_proj
 * and o_proj are both adapted). The one list of names: spectrum.c. */
typedef enum {
    RW_COMP_WEIGHT, RW_COMP_BASE, RW_COMP_LORA, RW_COMP_FULL, RW_COMP_OV, RW_COMP_WO_WV,
    RW_COMP_OV_BASE, RW_COMP_OV_LORA, RW_COMP_COUNT
} rw_comp;

/* The component's name, "?" out of range (a static string). */
const char *rw_comp_name(rw_comp c);
/* -1 when unknown. */
int rw_comp_parse(const char *name);
/* Parses "full,lora" or "all" into a bit mask of (1u << rw_comp); false on
 * an unknown name. */
bool rw_comp_parse_mask(const char *list, unsigned *mask);
#define RW_COMP_BIT(c) (1u << (c))
/* Set by "all": every component there is (ov only where the heads are known). */
#define RW_COMP_ALL (1u << 31)
/* The OV circuits, ov and wo_wv. */
#define RW_COMP_CIRCUITS (RW_COMP_BIT(RW_COMP_OV) | RW_COMP_BIT(RW_COMP_WO_WV))
/* Every component formed from v_proj and o_proj (needs the heads). */
#define RW_COMP_OV_ANY                                                                 \
    (RW_COMP_CIRCUITS | RW_COMP_BIT(RW_COMP_OV_BASE) | RW_COMP_BIT(RW_COMP_OV_LORA))
/* True for the components in RW_COMP_OV_ANY. */
bool rw_comp_is_circuit(rw_comp c);

/* The default component: what is analysed, tabled, compared and drawn for
 * a matrix when no component is asked for. The one rule, for everything
 * that chooses (items_list's is_default, spectra_file_foreach,
 * rw_default_rows, rw-plot):
 *
 *   weight     yes: a plain tensor's only component.
 *   full       yes: an adapted matrix, W + s B A, the weight the model
 *              computes with.
 *   lora       only where the same matrix has no full (has_full false): an
 *              adapter-only checkpoint (PEFT), whose base is elsewhere.
 *   base       never: a part of full.
 *   ov_base, ov_lora  never: parts of an adapted layer's ov, only when asked for.
 *   ov, wo_wv  each the only component of its own matrix, formed from the
 *              full v_proj and o_proj; default only where circuits (a mask
 *              of RW_COMP_BIT(RW_COMP_OV) and RW_COMP_BIT(RW_COMP_WO_WV))
 *              says so. They need the head counts and cost a product, so
 *              they are computed only when asked for, and where a caller
 *              chooses decides whether one that is there counts:
 *                0                 choosing among what a checkpoint offers
 *                                  (items_list) and among a spectra file's
 *                                  entries for a metric table
 *                                  (spectra_file_foreach in the metric
 *                                  programs): a circuit only when asked
 *                                  for, from checkpoints or a spectra file
 *                                  alike;
 *                RW_COMP_CIRCUITS  among the rows of a table
 *                                  (rw_default_rows; rw-plot's tables
 *                                  without a tensor column): a table holds
 *                                  circuit rows only because they were
 *                                  asked for when it was made;
 *                ov alone          rw-plot spectrum of a spectra file: the
 *                                  defaults and pico-analyze's circuit ov
 *                                  (the paper's module), not wo_wv.
 *   (anything else: no)
 *
 * has_full: the same matrix — the same run, step and tensor (and kind, in a
 * spectra file) — has a full component listed; only lora looks at it. As
 * updates start at the second checkpoint for every component (rw_kind), a
 * matrix with a base has full and lora at the same steps of every kind, so
 * a default curve never switches from full to lora between steps. */
bool rw_comp_default(rw_comp c, bool has_full, unsigned circuits);

/* --------------------------------------------------------------- spectra */

/* Statistics of a matrix's entries that its spectrum does not determine
 * (rw-metrics' gini, hoyer, max_abs: analyzers/core/metrics.h; rw-tails'
 * rand_distance). */
typedef struct {
    double gini, hoyer, max_abs;
    double rand_distance;   /* rw-tails' (analyzers/core/tails.h), when the
                             * pipeline was asked for it; else nan */
} rw_entry_stats;

/* One spectrum: the key of a table row plus the singular values. Every
 * pointer is borrowed: valid as long as whoever hands the spectrum on says
 * (rw_analyze: during the callback; spectra_reader_entry: until the reader
 * is closed). */
typedef struct {
    const char *run;
    int64_t step;
    const char *tensor;
    int layer;
    const char *module;
    const char *component;
    int64_t rows, cols;
    rw_dtype dtype;
    rw_kind kind;
    int64_t ref_step;       /* updates: the step subtracted; -1 for weights */
    double ref_fro;         /* updates: ||M(ref_step)|| (lora: ||base||); nan otherwise */
    double noise_fro;       /* N: a bound on the Frobenius norm of the effect of rounding
                             * the stored values, in units of u(dtype) (DESIGN.md's
                             * num_rank); nan when unknown (metrics then use ||sigma||) */
    size_t k;               /* min(rows, cols) */
    const double *sigma;    /* k values, descending (all nan for a non-finite matrix) */
    const char *path;       /* the checkpoint it came from, for messages */
    const char *data;       /* what the matrix is of: NULL for weights (a model
                             * checkpoint), else "gradients" (--data) */
    const char *split;      /* with data: "train" or "val"; NULL for weights */
    const rw_entry_stats *entries; /* of the matrix's entries when the pipeline was asked
                             * for them (rw_analysis_opts.entries, .rand_distance;
                             * what was not asked for is nan); NULL: not known
                             * (never for a spectra file, which holds spectra only) */
} rw_spectrum;

/* Called once per spectrum; s and what it points to are valid during the
 * call only. A status other than RW_OK stops the caller, which returns it. */
typedef rw_status (*rw_spectrum_fn)(const rw_spectrum *s, void *ctx, rw_err *err);

/* A spectrum as rw-spectra writes it: k singular values, finite, >= 0 and
 * descending, or all nan (a matrix with non-finite entries, pipeline.h).
 * The rule for every spectrum read back, from a spectra file or a table. */
bool spectrum_valid(const double *sigma, size_t k);

#endif
