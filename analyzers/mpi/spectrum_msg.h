/*
 * spectrum_msg.h — the bytes of the messages between the ranks of
 * rw-spectra-mpi (pipeline_mpi.c): a growing buffer to write them, a
 * bounded reader, and one spectrum as a message. No MPI here; built with
 * MPI=1 only. Ownership: msg_buf.p is the writer's (free it); a decoded
 * spectrum points into the message, valid as long as it is.
 */
#ifndef RW_SPECTRUM_MSG_H
#define RW_SPECTRUM_MSG_H

#include "io/spectrum.h"

typedef struct {
    unsigned char *p;
    size_t n, cap;
    bool bad;
} msg_buf;

/* Appends len bytes (bad, and nothing more written, when out of memory). */
void msg_put(msg_buf *b, const void *d, size_t len);
void msg_put_i64(msg_buf *b, int64_t v);
void msg_put_f64(msg_buf *b, double v);
/* Its length (uint32, UINT32_MAX for NULL), its bytes and NUL. */
void msg_put_str(msg_buf *b, const char *s);

typedef struct {
    const unsigned char *p;
    size_t n, at;
    bool bad;
} msg_reader;

/* Reads len bytes (zeros, and bad set, past the end). */
void msg_get(msg_reader *r, void *d, size_t len);
int64_t msg_get_i64(msg_reader *r);
double msg_get_f64(msg_reader *r);
/* A string written by msg_put_str, pointing into the message; NULL for
 * NULL or when malformed (then bad). */
const char *msg_get_str(msg_reader *r);

/* A message: type, seq (int64 each), then spectrum s: its numbers, strings,
 * and its values last, at an 8-byte boundary. */
void msg_encode_spectrum(msg_buf *b, int64_t type, int64_t seq, const rw_spectrum *s);
/* The spectrum of such a message m (malloc'd, hence aligned), pointing into m;
 * false when malformed. */
bool msg_decode_spectrum(const unsigned char *m, size_t len, rw_spectrum *s,
                         rw_entry_stats *es);

#endif
