/*
 * ckpt_st_impl.h — private to io/ckpt*.c: how the safetensors back end
 * (io/ckpt_st.c) reads JSON text, which the index of a sharded model
 * (io/ckpt_index.c) reads the same way.
 */
#ifndef RW_CKPT_ST_IMPL_H
#define RW_CKPT_ST_IMPL_H

#include "io/ckpt_impl.h"

#include <cJSON.h>

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
