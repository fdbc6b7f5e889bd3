/*
 * ckpt_st_impl.h — private to the safetensors back end (io/ckpt_st.c, one
 * file's header, reading; io/ckpt_st_index.c, a sharded model's index):
 * its open files, and the header parser and checks that the index reuses
 * for each shard.
 */
#ifndef RW_CKPT_ST_IMPL_H
#define RW_CKPT_ST_IMPL_H

#include "io/ckpt_impl.h"

#include <cJSON.h>

#define ST_INDEX_SUFFIX ".safetensors.index.json"

/* One open file. */
typedef struct {
    char *path;          /* owned */
    int fd;              /* -1 when not open */
    uint64_t size;       /* when opened */
} st_file;

/* c->impl of a safetensors checkpoint (owned by it; ckpt_st_close frees). */
typedef struct {
    size_t nfiles;
    st_file *files;      /* one for a plain file; the shards of an index */
} st_state;

/* Opens path read-only into f (f->path owned by f afterwards; f->fd -1 on
 * failure). The type is checked before the open: a FIFO would block it. */
rw_status st_file_open(st_file *f, const char *path, rw_err *err);
void st_file_close(st_file *f);

/* Parses and checks the header of the open file f, appending its tensors
 * (shard index `shard`) to c->tensors (capacity *cap) and its __metadata__
 * to c's attributes. */
rw_status st_parse(rw_ckpt *c, const st_file *f, int shard, size_t *cap, rw_err *err);
/* Two tensors of one name (c sorted): in one header, or in two shards. */
rw_status st_check_unique(const rw_ckpt *c, const st_state *s, rw_err *err);

/* Opens the index c->path into s: opens and parses every shard, then checks
 * that weight_map and the shards' headers agree tensor by tensor
 * (ckpt_st_index.c). */
rw_status st_open_index(rw_ckpt *c, st_state *s, rw_err *err);

/* ------------------------------------------------------------ JSON text */

/* Index of the first byte of s[0, n) that breaks UTF-8 (or is NUL), or n. */
size_t st_utf8_bad(const uint8_t *s, size_t n);
/* A JSON value as text for messages (a number, or its kind): buf (32 bytes)
 * or a static string. */
const char *st_json_text(const cJSON *j, char *buf);

/* Why st_json_parse failed. */
typedef enum { ST_JSON_SYNTAX, ST_JSON_TRAILING, ST_JSON_TOO_DEEP } st_json_fail;
/* Parses text[0, n) (NUL-terminated at n) as one JSON value and nothing
 * after it but whitespace: a new tree (cJSON_Delete), or NULL with *at the
 * byte where it failed and *why the reason. */
cJSON *st_json_parse(const char *text, size_t n, size_t *at, st_json_fail *why);

#endif
