/*
 * ckpt_pt.c — the PyTorch back end of ckpt.h: files written by torch.save
 * (.pt, .pth, .bin, .ckpt).
 *
 * Two layouts:
 *   zip (torch >= 1.6)  a zip archive (read with libzip) of <archive>/data.pkl,
 *                       the object tree, and <archive>/data/<key>, one entry
 *                       of raw little-endian values per storage
 *   legacy (< 1.6)      pickles back to back: a magic number, the protocol
 *                       version, system info (byte order), the object tree,
 *                       the list of storage keys; then each storage as an
 *                       8-byte element count and its raw values
 * The object tree goes through the restricted unpickler (pickle.h), which
 * executes nothing; which of its tensors a checkpoint has, and their names:
 * ckpt_pt_tree.c. A sharded model of such files: ckpt_pt_index.c.
 *
 * Values are read one tensor at a time: the bytes its view spans in its
 * storage (a view, a transposed or strided tensor reads its own span only),
 * gathered in C order through its strides and widened to double.
 */
#include "io/ckpt_pt_impl.h"
#include "io/ckpt_index.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* data.pkl larger than this is refused (a state dict of 10^5 tensors takes
 * about 20 MB). */
#define PT_MAX_PICKLE ((size_t)1 << 30)
/* The archive's name (the folder of data.pkl) and a storage key: at most
 * this many bytes (torch writes a file's stem and a number). */
#define PT_MAX_NAME 4096

bool ckpt_pt_is_name(const char *path)
{
    static const char *const ext[] = {".pt", ".pth", ".bin", ".ckpt"};
    size_t n = strlen(path);
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        size_t m = strlen(ext[i]);
        if (n > m && strcmp(path + n - m, ext[i]) == 0)
            return true;
    }
    return false;
}

/* ------------------------------------------------------------ zip layout */

static rw_status zip_err(const char *path, zip_t *z, rw_err *err)
{
    return rw_fail(err, RW_EDATA, "%s: %s", path, zip_strerror(z));
}

/* Reads entry idx's bytes [off, off + n) into dst. */
static rw_status zip_read_at(pt_impl *p, const char *path, zip_int64_t idx, uint64_t off,
                             size_t n, void *dst, rw_err *err)
{
    zip_file_t *f = zip_fopen_index(p->zip, (zip_uint64_t)idx, 0);
    if (!f)
        return zip_err(path, p->zip, err);
    rw_status st = RW_OK;
    if (off && zip_fseek(f, (zip_int64_t)off, SEEK_SET) != 0) {
        /* compressed entries cannot seek: read up to off */
        char skip[65536];
        uint64_t left = off;
        zip_file_error_clear(f);
        zip_fclose(f);
        if (!(f = zip_fopen_index(p->zip, (zip_uint64_t)idx, 0)))
            return zip_err(path, p->zip, err);
        while (left && st == RW_OK) {
            zip_int64_t want = left < sizeof skip ? (zip_int64_t)left : (zip_int64_t)sizeof skip;
            if (zip_fread(f, skip, (zip_uint64_t)want) != want)
                st = rw_fail(err, RW_EDATA, "%s: storage entry shorter than declared", path);
            left -= (uint64_t)want;
        }
    }
    size_t got = 0;
    while (st == RW_OK && got < n) {
        zip_int64_t r = zip_fread(f, (char *)dst + got, n - got);
        if (r <= 0)
            st = rw_fail(err, RW_EDATA, "%s: storage entry shorter than declared (%s)", path,
                         r < 0 ? zip_file_strerror(f) : "end of data");
        else
            got += (size_t)r;
    }
    zip_fclose(f);
    return st;
}

static rw_status open_zip(rw_ckpt *c, pt_impl *p, rw_err *err)
{
    int zerr = 0;
    p->zip = zip_open(c->path, ZIP_RDONLY | ZIP_CHECKCONS, &zerr);
    if (!p->zip) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, zerr);
        rw_fail(err, RW_EDATA, "%s: not a readable zip archive, truncated or corrupt? (%s)",
                c->path, zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return RW_EDATA;
    }
    /* The one <archive>/data.pkl. */
    zip_int64_t n = zip_get_num_entries(p->zip, 0), pkl = -1;
    for (zip_int64_t i = 0; i < n; i++) {
        const char *name = zip_get_name(p->zip, (zip_uint64_t)i, 0);
        const char *slash = name ? strchr(name, '/') : NULL;
        if (slash && strcmp(slash, "/data.pkl") == 0) {
            if (pkl >= 0)
                return rw_fail(err, RW_EDATA, "%s: two data.pkl entries, '%s' and '%s'", c->path,
                               zip_get_name(p->zip, (zip_uint64_t)pkl, 0), name);
            if (slash - name > PT_MAX_NAME)
                return rw_fail(err, RW_EDATA, "%s: archive name of data.pkl longer than %d bytes",
                               c->path, PT_MAX_NAME);
            pkl = i;
            if (!(p->archive = rw_malloc((size_t)(slash - name) + 2, err)))
                return RW_ENOMEM;
            memcpy(p->archive, name, (size_t)(slash - name) + 1);
            p->archive[slash - name + 1] = '\0';
        }
    }
    if (pkl < 0)
        return rw_fail(err, RW_EDATA, "%s: a zip archive without <archive>/data.pkl: not a "
                                      "PyTorch checkpoint", c->path);
    char name[2 * PT_MAX_NAME + 32];
    snprintf(name, sizeof name, "%sbyteorder", p->archive);
    zip_int64_t bo = zip_name_locate(p->zip, name, 0);
    if (bo >= 0) {
        char order[8] = {0};
        zip_stat_t sb;
        if (zip_stat_index(p->zip, (zip_uint64_t)bo, 0, &sb) != 0 ||
            !(sb.valid & ZIP_STAT_SIZE) || sb.size > 7 ||
            zip_read_at(p, c->path, bo, 0, (size_t)sb.size, order, err) != RW_OK ||
            strcmp(order, "little") != 0)
            return rw_fail(err, RW_EDATA, "%s: byte order '%s' (only little-endian files "
                                          "are read)", c->path, order);
    }
    zip_stat_t sb;
    if (zip_stat_index(p->zip, (zip_uint64_t)pkl, 0, &sb) != 0 || !(sb.valid & ZIP_STAT_SIZE))
        return zip_err(c->path, p->zip, err);
    if (sb.size > PT_MAX_PICKLE)
        return rw_fail(err, RW_EDATA, "%s: data.pkl of %llu bytes is larger than %zu",
                       c->path, (unsigned long long)sb.size, PT_MAX_PICKLE);
    unsigned char *buf = rw_malloc(sb.size ? (size_t)sb.size : 1, err);
    if (!buf)
        return RW_ENOMEM;
    rw_status st = zip_read_at(p, c->path, pkl, 0, (size_t)sb.size, buf, err);
    const pk_obj *root = NULL;
    size_t used = 0;
    if (st == RW_OK && (st = pk_parse(buf, (size_t)sb.size, &p->doc, &root, &used, err)) != RW_OK)
        rw_err_prefix(err, "%s: data.pkl", c->path);
    free(buf);
    if (st == RW_OK)
        st = pt_list_tensors(c, p, root, err);
    /* every tensor's storage entry, and its span inside it */
    for (size_t i = 0; st == RW_OK && i < p->ne; i++) {
        const pk_obj *t = p->e[i].t, *s = t->u.tensor.storage;
        if (strlen(s->u.storage.key) > PT_MAX_NAME) {
            st = rw_fail(err, RW_EDATA, "%s: tensor %s: storage key longer than %d bytes",
                         c->path, c->tensors[i].name, PT_MAX_NAME);
            break;
        }
        snprintf(name, sizeof name, "%sdata/%s", p->archive, s->u.storage.key);
        zip_int64_t z = zip_name_locate(p->zip, name, 0);
        zip_stat_t zs;
        int64_t ext = 0;
        uint64_t need;
        size_t es = pk_storage_elem_size(s->u.storage.type);
        if (z < 0 || zip_stat_index(p->zip, (zip_uint64_t)z, 0, &zs) != 0 ||
            !(zs.valid & ZIP_STAT_SIZE))
            st = rw_fail(err, RW_EDATA, "%s: tensor %s: storage entry '%s' is missing", c->path,
                         c->tensors[i].name, name);
        else if (!pk_tensor_extent(t, &ext) ||
                 __builtin_mul_overflow((uint64_t)(t->u.tensor.offset + ext), es, &need))
            st = rw_fail(err, RW_EDATA, "%s: tensor %s: its values lie outside storage entry '%s'",
                         c->path, c->tensors[i].name, name);
        else if (need > zs.size)
            st = rw_fail(err, RW_EDATA,
                         "%s: tensor %s: its values need %llu bytes of storage entry '%s', "
                         "which holds %llu", c->path, c->tensors[i].name,
                         (unsigned long long)need, name, (unsigned long long)zs.size);
        else
            p->e[i].zindex = z;
    }
    return st;
}

/* ------------------------------------------------------------ legacy layout */

/* The first pickle of a legacy file: PROTO 2, LONG1 of the magic number
 * 0x1950a86a20f9469cfc6c, STOP. */
static const unsigned char legacy_magic[15] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
                                               0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19, 0x2e};

static bool is_legacy(const unsigned char *head, size_t n)
{
    return n >= sizeof legacy_magic && memcmp(head, legacy_magic, sizeof legacy_magic) == 0;
}

typedef struct {
    const char *key;
    pk_storage_type type;
    int64_t numel;     /* from the file's element count */
    uint64_t off;      /* first element */
} legacy_storage;

/* Order of an array of legacy_storage pointers by key. */
static int cmp_lkey(const void *a, const void *b)
{
    return strcmp((*(legacy_storage *const *)a)->key, (*(legacy_storage *const *)b)->key);
}

/* The storage of that key in byname (n pointers sorted by cmp_lkey), or NULL. */
static legacy_storage *find_lkey(legacy_storage **byname, size_t n, const char *key)
{
    legacy_storage k = {.key = key}, *kp = &k;
    legacy_storage **hit = bsearch(&kp, byname, n, sizeof *byname, cmp_lkey);
    return hit ? *hit : NULL;
}

static rw_status open_legacy(rw_ckpt *c, pt_impl *p, rw_err *err)
{
    struct stat sb;
    if (fstat(p->fd, &sb) != 0)
        return rw_fail(err, RW_EIO, "%s: %s", c->path, strerror(errno));
    uint64_t fsize = (uint64_t)sb.st_size;
    /* The pickles come first; read a growing prefix until they parse. */
    size_t have = fsize < ((size_t)1 << 20) ? (size_t)fsize : ((size_t)1 << 20);
    const pk_obj *objs[4] = {0};
    pk_doc *docs[4] = {0};
    size_t pos = 0;
    rw_status st;
    for (;;) {
        free(p->pkl);
        if (!(p->pkl = rw_malloc(have ? have : 1, err)))
            return RW_ENOMEM;
        if (!rw_pread_all(p->fd, p->pkl, have, 0))
            return rw_fail(err, RW_EIO, "%s: %s", c->path, errno ? strerror(errno) : "short read");
        pos = sizeof legacy_magic;
        st = RW_OK;
        for (int k = 0; k < 4 && st == RW_OK; k++) {
            size_t used = 0;
            pk_doc_free(docs[k]);
            docs[k] = NULL;
            st = pk_parse(p->pkl + pos, have - pos, &docs[k], &objs[k], &used, err);
            pos += used;
        }
        if (st == RW_OK || have == fsize || !strstr(err->msg, "truncated stream"))
            break;
        if (have >= PT_MAX_PICKLE) {
            st = rw_fail(err, RW_EDATA, "%s: pickles larger than %zu bytes", c->path,
                         PT_MAX_PICKLE);
            break;
        }
        have = fsize - have < have ? (size_t)fsize : have * 2;
    }
    /* docs[0] protocol version, [1] system info, [2] the tree, [3] keys */
    rw_status ret = st;
    if (st != RW_OK) {
        rw_err_prefix(err, "%s: legacy PyTorch file", c->path);
    } else if (objs[0]->kind != PK_INT || objs[0]->u.i != 1001) {
        ret = rw_fail(err, RW_EDATA, "%s: legacy PyTorch file of an unknown protocol version",
                      c->path);
    } else if (!pk_dict_get(objs[1], "little_endian") ||
               pk_dict_get(objs[1], "little_endian")->kind != PK_BOOL) {
        ret = rw_fail(err, RW_EDATA,
                      "%s: legacy PyTorch file without its byte order (a boolean "
                      "'little_endian' in its system info)", c->path);
    } else if (!pk_dict_get(objs[1], "little_endian")->u.b) {
        ret = rw_fail(err, RW_EDATA,
                      "%s: legacy PyTorch file written big-endian (only little-endian files "
                      "are read)", c->path);
    } else if (objs[3]->kind != PK_LIST) {
        ret = rw_fail(err, RW_EDATA, "%s: legacy PyTorch file without its storage keys",
                      c->path);
    } else {
        p->doc = docs[2];
        docs[2] = NULL;
        ret = pt_list_tensors(c, p, objs[2], err);
    }
    /* Storage table: the keys in file order (their counts and values follow
     * in that order), typed by the tensors that use them. Looked up by key
     * through byname (sorted): n tensors and m storages take (n + m) log m. */
    legacy_storage *ls = NULL, **byname = NULL;
    size_t nls = ret == RW_OK && !c->attrs_only ? objs[3]->u.seq.n : 0;
    if (ret == RW_OK && (!(ls = rw_calloc(nls ? nls : 1, sizeof *ls, err)) ||
                         !(byname = rw_calloc(nls ? nls : 1, sizeof *byname, err))))
        ret = RW_ENOMEM;
    for (size_t i = 0; ret == RW_OK && i < nls; i++) {
        const pk_obj *k = objs[3]->u.seq.v[i];
        if (k->kind != PK_STR) {
            ret = rw_fail(err, RW_EDATA, "%s: a storage key is not a string", c->path);
            break;
        }
        ls[i] = (legacy_storage){.key = k->u.str.s, .numel = -1};
        byname[i] = &ls[i];
    }
    if (ret == RW_OK && nls > 1) {
        qsort(byname, nls, sizeof *byname, cmp_lkey);
        for (size_t j = 1; ret == RW_OK && j < nls; j++)
            if (strcmp(byname[j - 1]->key, byname[j]->key) == 0)
                ret = rw_fail(err, RW_EDATA, "%s: storage %s listed twice", c->path,
                              byname[j]->key);
    }
    for (size_t i = 0; ret == RW_OK && i < p->ne; i++) {
        const pk_obj *s = p->e[i].t->u.tensor.storage;
        legacy_storage *hit = find_lkey(byname, nls, s->u.storage.key);
        if (!hit)
            ret = rw_fail(err, RW_EDATA, "%s: tensor %s: storage %s is not in the file",
                          c->path, c->tensors[i].name, s->u.storage.key);
        else if (hit->numel == -2 && hit->type != s->u.storage.type)
            ret = rw_fail(err, RW_EDATA, "%s: storage %s has two types", c->path, hit->key);
        else
            *hit = (legacy_storage){.key = hit->key, .type = s->u.storage.type, .numel = -2};
    }
    uint64_t off = (uint64_t)pos;
    for (size_t j = 0; ret == RW_OK && j < nls; j++) {
        unsigned char b[8];
        if (ls[j].numel != -2) {
            ret = rw_fail(err, RW_EDATA, "%s: storage %s is used by no tensor", c->path,
                          ls[j].key);
            break;
        }
        if (!rw_pread_all(p->fd, b, 8, off)) {
            ret = rw_fail(err, RW_EDATA, "%s: storage %s: the file ends before it", c->path,
                          ls[j].key);
            break;
        }
        uint64_t cnt = 0, bytes;
        for (int q = 7; q >= 0; q--)
            cnt = cnt << 8 | b[q];
        size_t es = pk_storage_elem_size(ls[j].type);
        if (cnt > ((uint64_t)1 << 62) || __builtin_mul_overflow(cnt, es, &bytes) ||
            off + 8 > fsize || bytes > fsize - off - 8) {
            ret = rw_fail(err, RW_EDATA,
                          "%s: storage %s: %llu elements run past the end of the file",
                          c->path, ls[j].key, (unsigned long long)cnt);
            break;
        }
        ls[j].numel = (int64_t)cnt;
        ls[j].off = off + 8;
        off += 8 + bytes;
    }
    for (size_t i = 0; ret == RW_OK && i < p->ne; i++) {
        const pk_obj *t = p->e[i].t, *s = t->u.tensor.storage;
        const legacy_storage *hit = find_lkey(byname, nls, s->u.storage.key);
        int64_t ext = 0;
        if (!pk_tensor_extent(t, &ext) ||
            s->u.storage.view_offset + s->u.storage.numel > hit->numel)
            ret = rw_fail(err, RW_EDATA,
                          "%s: tensor %s: its values lie outside storage %s (%lld elements)",
                          c->path, c->tensors[i].name, s->u.storage.key,
                          (long long)hit->numel);
        else
            p->e[i].data_off = hit->off + (uint64_t)s->u.storage.view_offset *
                                              pk_storage_elem_size(s->u.storage.type);
    }
    free(byname);
    free(ls);
    for (int k = 0; k < 4; k++)
        pk_doc_free(docs[k]);
    free(p->pkl);
    p->pkl = NULL;
    return ret;
}

/* ------------------------------------------------------------ the back end */

pt_impl *pt_impl_new(rw_ckpt *c, rw_err *err)
{
    pt_impl *p = rw_calloc(1, sizeof *p, err);
    if (!p)
        return NULL;
    p->fd = -1;
    pthread_mutex_init(&p->lock, NULL);
    c->impl = p;
    return p;
}

rw_status pt_open_file(rw_ckpt *c, rw_err *err)
{
    pt_impl *p = pt_impl_new(c, err);
    if (!p)
        return RW_ENOMEM;
    unsigned char head[16] = {0};
    p->fd = open(c->path, O_RDONLY | O_CLOEXEC);
    if (p->fd < 0)
        return rw_fail(err, RW_EIO, "%s: %s", c->path, strerror(errno));
    ssize_t got = pread(p->fd, head, sizeof head, 0);
    rw_status st;
    if (got >= 4 && memcmp(head, "PK\x03\x04", 4) == 0) {
        close(p->fd);
        p->fd = -1;
        st = open_zip(c, p, err);
    } else if (got > 0 && is_legacy(head, (size_t)got)) {
        st = open_legacy(c, p, err);
    } else if (got >= 6 && memcmp(head, "ustar", 5) == 0) {
        st = rw_fail(err, RW_EDATA, "%s: a tar archive (PyTorch before 0.4): not read", c->path);
    } else {
        st = rw_fail(err, RW_EDATA, "%s: not a PyTorch checkpoint (neither a zip archive nor "
                                    "a legacy torch.save file)", c->path);
    }
    return st;
}

rw_status ckpt_pt_open(rw_ckpt *c, rw_err *err)
{
    return rw_ends_with(c->path, CKPT_PT_INDEX_SUFFIX, NULL) ? pt_open_index(c, err)
                                                             : pt_open_file(c, err);
}

void ckpt_pt_close(rw_ckpt *c)
{
    pt_impl *p = c->impl;
    if (!p)
        return;
    if (p->zip)
        zip_discard(p->zip);
    if (p->fd >= 0)
        close(p->fd);
    pk_doc_free(p->doc);
    free(p->pkl);
    free(p->e);
    free(p->archive);
    for (size_t k = 0; k < p->nshards; k++)
        ckpt_free(p->shards[k]);
    free(p->shards);
    pthread_mutex_destroy(&p->lock);
    free(p);
    c->impl = NULL;
}

/* One element of storage type ty at b, as a double. */
static double elem(const unsigned char *b, pk_storage_type ty)
{
    uint64_t v = 0;
    size_t es = pk_storage_elem_size(ty);
    for (size_t k = es; k-- > 0;)
        v = v << 8 | b[k];
    switch (ty) {
    case PK_ST_FLOAT: {
        uint32_t u = (uint32_t)v;
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    case PK_ST_DOUBLE: {
        double d;
        memcpy(&d, &v, 8);
        return d;
    }
    case PK_ST_HALF: return rw_half_to_double((uint16_t)v);
    case PK_ST_BFLOAT16: return rw_bf16_to_double((uint16_t)v);
    case PK_ST_LONG: return (double)(int64_t)v;
    case PK_ST_INT: return (double)(int32_t)(uint32_t)v;
    case PK_ST_SHORT: return (double)(int16_t)(uint16_t)v;
    case PK_ST_CHAR: return (double)(int8_t)(uint8_t)v;
    default: return (double)v;
    }
}

rw_status ckpt_pt_read(rw_ckpt *c, size_t i, double *buf, rw_err *err)
{
    pt_impl *p = c->impl;
    const rw_tensor *x = &c->tensors[i];
    if (p->shards) /* an index: the tensor of its shard */
        return ckpt_pt_read(p->shards[x->loc->shard], (size_t)x->loc->offset, buf, err);
    const pt_entry *e = &p->e[x->loc->offset];
    const pk_obj *t = e->t;
    pk_storage_type ty = t->u.tensor.storage->u.storage.type;
    size_t es = pk_storage_elem_size(ty);
    int64_t ext = 0;
    if (!pk_tensor_extent(t, &ext))
        return rw_fail(err, RW_EDATA, "%s: %s: outside its storage", c->path, x->name);
    if (x->numel == 0)
        return RW_OK;
    size_t nbytes;
    if (!rw_mul_size((size_t)ext, es, &nbytes))
        return rw_fail(err, RW_ENOMEM, "%s: %s: too large", c->path, x->name);
    /* A C-contiguous tensor's stored bytes go straight to the tail of buf
     * (numel doubles) and are widened front to back, as in ckpt_st.c:
     * element k's double, bytes [8k, 8k + 8), lies below the stored bytes
     * of element k + 1, so nothing is overwritten before it is read. Any
     * other layout is read whole first, then gathered. */
    bool direct = (size_t)ext == x->numel && es <= 8;
    int64_t want = 1;
    for (int d = t->u.tensor.ndim - 1; direct && d >= 0; d--) {
        if (t->u.tensor.size[d] > 1 && t->u.tensor.stride[d] != want)
            direct = false;
        want *= t->u.tensor.size[d];
    }
    unsigned char *raw =
        direct ? (unsigned char *)buf + x->numel * (8 - es) : rw_malloc(nbytes, err);
    if (!raw)
        return RW_ENOMEM;
    uint64_t off = (uint64_t)t->u.tensor.offset * es;
    rw_status st = RW_OK;
    if (p->zip) {
        pthread_mutex_lock(&p->lock);
        st = zip_read_at(p, c->path, e->zindex, off, nbytes, raw, err);
        pthread_mutex_unlock(&p->lock);
    } else if (!rw_pread_all(p->fd, raw, nbytes, e->data_off + off)) {
        st = rw_fail(err, RW_EIO, "%s: %s: %s", c->path, x->name,
                     errno ? strerror(errno) : "the file is shorter than it was");
    }
    if (st == RW_OK) {
        /* C order through the strides: an odometer over the dimensions. A
         * dimension of size 1 never moves (its stride, which may be anything
         * up to 2^63 - 1, is not added); the others keep pos within the
         * extent plus one stride. */
        int nd = t->u.tensor.ndim;
        int64_t idx[PK_MAX_DIMS] = {0}, stride[PK_MAX_DIMS], pos = 0;
        for (int d = 0; d < nd; d++)
            stride[d] = t->u.tensor.size[d] > 1 ? t->u.tensor.stride[d] : 0;
        for (size_t k = 0; k < x->numel; k++) {
            buf[k] = elem(raw + (size_t)pos * es, ty);
            for (int d = nd - 1; d >= 0; d--) {
                pos += stride[d];
                if (++idx[d] < t->u.tensor.size[d])
                    break;
                pos -= stride[d] * t->u.tensor.size[d];
                idx[d] = 0;
            }
        }
    }
    if (!direct)
        free(raw);
    return st;
}
