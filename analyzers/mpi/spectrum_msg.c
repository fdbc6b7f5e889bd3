/*
 * spectrum_msg.c — the bytes of pipeline_mpi.c's messages (spectrum_msg.h).
 */
#include "analyzers/mpi/spectrum_msg.h"

#include <string.h>

void msg_put(msg_buf *b, const void *d, size_t len)
{
    while (!b->bad && b->n + len > b->cap) /* rw_grow doubles a full buffer */
        b->bad = rw_grow(&b->p, b->cap, &b->cap, 1, NULL) != RW_OK;
    if (b->bad)
        return;
    memcpy(b->p + b->n, d, len);
    b->n += len;
}

void msg_put_i64(msg_buf *b, int64_t v)
{
    msg_put(b, &v, sizeof v);
}

void msg_put_f64(msg_buf *b, double v)
{
    msg_put(b, &v, sizeof v);
}

/* length (uint32, UINT32_MAX for NULL), then the bytes and their NUL */
void msg_put_str(msg_buf *b, const char *s)
{
    uint32_t n = s ? (uint32_t)strlen(s) : UINT32_MAX;
    msg_put(b, &n, sizeof n);
    if (s)
        msg_put(b, s, (size_t)n + 1);
}


void msg_get(msg_reader *r, void *d, size_t len)
{
    if (r->bad || r->n - r->at < len) {
        r->bad = true;
        memset(d, 0, len);
        return;
    }
    memcpy(d, r->p + r->at, len);
    r->at += len;
}

int64_t msg_get_i64(msg_reader *r)
{
    int64_t v;
    msg_get(r, &v, sizeof v);
    return v;
}

double msg_get_f64(msg_reader *r)
{
    double v;
    msg_get(r, &v, sizeof v);
    return v;
}

const char *msg_get_str(msg_reader *r)
{
    uint32_t n;
    msg_get(r, &n, sizeof n);
    if (r->bad || n == UINT32_MAX)
        return NULL;
    if (r->n - r->at < (size_t)n + 1 || r->p[r->at + n] != '\0') {
        r->bad = true;
        return NULL;
    }
    const char *s = (const char *)r->p + r->at;
    r->at += (size_t)n + 1;
    return s;
}

/* A SPEC message: job seq's spectrum s, its values last, 8-byte aligned. */
void msg_encode_spectrum(msg_buf *b, int64_t type, int64_t seq, const rw_spectrum *s)
{
    msg_put_i64(b, type);
    msg_put_i64(b, seq);
    int64_t nums[] = {s->step, s->rows, s->cols, s->ref_step, s->layer, s->dtype, s->kind,
                      (int64_t)s->k, s->entries != NULL};
    for (size_t i = 0; i < sizeof nums / sizeof *nums; i++)
        msg_put_i64(b, nums[i]);
    msg_put_f64(b, s->ref_fro);
    msg_put_f64(b, s->noise_fro);
    rw_entry_stats es = s->entries ? *s->entries : (rw_entry_stats){0, 0, 0};
    msg_put_f64(b, es.gini);
    msg_put_f64(b, es.hoyer);
    msg_put_f64(b, es.max_abs);
    const char *strs[] = {s->run, s->tensor, s->module, s->component, s->path, s->data, s->split};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        msg_put_str(b, strs[i]);
    const char zero[8];
    msg_put(b, zero, (8 - b->n % 8) % 8);
    msg_put(b, s->sigma, s->k * sizeof *s->sigma);
}

/* The spectrum of a SPEC message m (malloc'd: 8-byte aligned), pointing into m. */
bool msg_decode_spectrum(const unsigned char *m, size_t len, rw_spectrum *s,
                            rw_entry_stats *es)
{
    msg_reader r = {m, len, 16, false}; /* after the type and job number */
    memset(s, 0, sizeof *s);
    s->step = msg_get_i64(&r);
    s->rows = msg_get_i64(&r);
    s->cols = msg_get_i64(&r);
    s->ref_step = msg_get_i64(&r);
    s->layer = (int)msg_get_i64(&r);
    s->dtype = (rw_dtype)msg_get_i64(&r);
    s->kind = (rw_kind)msg_get_i64(&r);
    int64_t k = msg_get_i64(&r), has_es = msg_get_i64(&r);
    s->ref_fro = msg_get_f64(&r);
    s->noise_fro = msg_get_f64(&r);
    es->gini = msg_get_f64(&r);
    es->hoyer = msg_get_f64(&r);
    es->max_abs = msg_get_f64(&r);
    s->entries = has_es ? es : NULL;
    s->run = msg_get_str(&r);
    s->tensor = msg_get_str(&r);
    s->module = msg_get_str(&r);
    s->component = msg_get_str(&r);
    s->path = msg_get_str(&r);
    s->data = msg_get_str(&r);
    s->split = msg_get_str(&r);
    r.at += (8 - r.at % 8) % 8;
    if (r.bad || k < 0 || r.at > len || (len - r.at) / sizeof(double) != (size_t)k ||
        !s->run || !s->tensor || !s->module || !s->component)
        return false;
    s->k = (size_t)k;
    s->sigma = (const double *)(const void *)(m + r.at);
    return true;
}
