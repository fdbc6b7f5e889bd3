/*
 * pickle.h — a restricted unpickler for the data.pkl of PyTorch checkpoint
 * files: it builds a tree of plain values from the pickle stream and never
 * executes or imports anything.
 *
 * Accepted is only what torch.save writes for tensors, dicts, lists, tuples
 * and scalars (the model is the allow-list of torch.load(weights_only=True)):
 *   opcodes   the binary opcodes (protocols 1-5; protocol 0's text opcodes
 *             are refused) for None, bools, ints, floats, strings,
 *             bytes, tuples, lists, dicts, the memo, MARK/POP, GLOBAL and
 *             STACK_GLOBAL, REDUCE, BUILD, BINPERSID
 *   globals   collections.OrderedDict; torch._utils._rebuild_tensor_v2,
 *             _rebuild_tensor, _rebuild_parameter,
 *             _rebuild_parameter_with_state; the typed storage classes
 *             torch.FloatStorage, DoubleStorage, HalfStorage,
 *             BFloat16Storage, LongStorage, IntStorage, ShortStorage,
 *             CharStorage, ByteStorage, BoolStorage
 *   REDUCE    only of those callables, with arguments of the right shape
 *   BUILD     only on an OrderedDict (its attributes, e.g. a state dict's
 *             _metadata, are dropped) or a tensor (its state is dropped)
 *   persistent ids  ('storage', StorageClass, key, location, numel) and the
 *             legacy form with a sixth element, None or (view_key, offset,
 *             numel)
 * Anything else — INST, OBJ, NEWOBJ, EXT*, PERSID, sets, any other global —
 * is refused: err names the opcode or the global ("module.name") and its
 * byte offset. Resources are checked as they come: objects (at most
 * PK_MAX_OBJECTS, each costing at least one byte of stream), memo indices
 * (below the stream's length), MARKs open (at most PK_MAX_DEPTH), integers
 * (int64), a tensor's extent (inside its storage's declared size).
 *
 * Ownership: pk_parse returns a pk_doc that owns every pk_obj and string of
 * the tree (one arena); pk_doc_free releases them all, after which no
 * pointer into the tree is valid. The input buffer is not referenced after
 * pk_parse returns.
 */
#ifndef RW_PICKLE_H
#define RW_PICKLE_H

#include "io/rw.h"

#define PK_MAX_DEPTH 64 /* containers inside containers, and MARKs open */
#define PK_MAX_DIMS 16  /* dimensions of a tensor */
/* Objects one stream may make (each costs at least one byte of stream; a
 * state dict of 10^5 tensors makes a few million). */
#define PK_MAX_OBJECTS ((size_t)1 << 25)

typedef enum {
    PK_NONE,
    PK_BOOL,
    PK_INT,     /* fits in int64 (larger LONG1/LONG4 values are refused) */
    PK_FLOAT,
    PK_STR,     /* str or bytes: s[len] == '\0' (may also contain NULs) */
    PK_TUPLE,
    PK_LIST,
    PK_DICT,    /* dict or OrderedDict: items in insertion order */
    PK_GLOBAL,  /* an allow-listed class or function (see above) */
    PK_STORAGE, /* a tensor storage, named by its persistent id */
    PK_TENSOR,
} pk_kind;

/* The storage classes torch writes; bytes per element and rankwatch dtype. */
typedef enum {
    PK_ST_FLOAT, PK_ST_DOUBLE, PK_ST_HALF, PK_ST_BFLOAT16,
    PK_ST_LONG, PK_ST_INT, PK_ST_SHORT, PK_ST_CHAR, PK_ST_BYTE, PK_ST_BOOL,
    PK_ST_COUNT
} pk_storage_type;

/* "FloatStorage", ... */
const char *pk_storage_name(pk_storage_type t);
size_t pk_storage_elem_size(pk_storage_type t);
/* RW_DT_F32 .. RW_DT_F64 for the float storages, RW_DT_INT for the others. */
rw_dtype pk_storage_dtype(pk_storage_type t);

typedef enum {
    PK_G_ORDERED_DICT,
    PK_G_REBUILD_TENSOR_V2,
    PK_G_REBUILD_TENSOR,
    PK_G_REBUILD_PARAMETER,
    PK_G_REBUILD_PARAMETER_WITH_STATE,
    PK_G_STORAGE, /* a storage class: obj->u.glob.storage says which */
} pk_global;

typedef struct pk_obj pk_obj;
struct pk_obj {
    pk_kind kind;
    union {
        bool b;
        int64_t i;
        double f;
        struct {
            const char *s;
            size_t len;
        } str;
        /* tuple, list: v[0..n-1]; dict: keys v[2j], values v[2j+1], j < n/2 */
        struct {
            pk_obj **v;
            size_t n, cap;
        } seq;
        struct {
            pk_global g;
            pk_storage_type storage;
        } glob;
        struct {
            pk_storage_type type;
            const char *key;     /* the archive's data/<key> (legacy: its key) */
            int64_t numel;       /* elements the storage holds */
            int64_t view_offset; /* legacy views: elements into the root storage */
        } storage;
        struct {
            const pk_obj *storage; /* a PK_STORAGE */
            int64_t offset;        /* in elements */
            int ndim;
            /* ndim values each (owned by the document; kept out of the
             * object so that every object stays small) */
            const int64_t *size, *stride;
        } tensor;
    } u;
};

typedef struct pk_doc pk_doc;

/* Parses len bytes of pickle stream into *out (a new document) and sets
 * *root to its value (owned by the document). *used gets the bytes the
 * stream took up to and including STOP (legacy files hold several pickles
 * back to back). On failure *out is NULL and err says what and where
 * ("pickle byte 1234: global 'os.system' is not allowed"). */
rw_status pk_parse(const unsigned char *buf, size_t len, pk_doc **out, const pk_obj **root,
                   size_t *used, rw_err *err);
void pk_doc_free(pk_doc *d);

/* The number of objects the document holds. A walk of the tree that visits
 * more objects than this has met an object twice: a dict or list shared by
 * two entries (memo GET), or nested in itself; such sharing expanded can
 * make a tree exponentially larger than its stream, so walkers bound their
 * visits by this. */
size_t pk_doc_objects(const pk_doc *d);

/* The value of key (a str key) in dict d, or NULL; of a key that comes
 * twice, the last value (what Python's dict holds). */
const pk_obj *pk_dict_get(const pk_obj *d, const char *key);

/* Number of elements a tensor view spans in its storage beyond its offset
 * (0 for an empty tensor): 1 + sum((size_i - 1) * stride_i). False when the
 * view is not inside its storage, or on overflow. */
bool pk_tensor_extent(const pk_obj *t, int64_t *extent);

#endif
