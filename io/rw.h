/*
 * rw.h — what every part of rankwatch shares: status codes, the error
 * message that travels up to the program that reports it, dtypes, and small
 * checked helpers (allocation, size arithmetic, number parsing).
 *
 * Library code never exits and never prints data: it returns an rw_status and
 * fills an rw_err with one line of context ("path: tensor: what is wrong").
 * The program prefixes its name and prints it once.
 *
 * Ownership: a function here that returns a new string or block says so;
 * the caller frees it with free(). Names (rw_strerror, rw_dtype_name) are
 * static strings; functions that write into a buffer the caller passes
 * (rw_escape_byte, rw_fmt_double) return that buffer.
 */
#ifndef RW_H
#define RW_H

#include <stdarg.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#define RW_VERSION "0.1.0"

typedef enum {
    RW_OK = 0,
    RW_EIO = -1,       /* cannot open, read or write a file */
    RW_EDATA = -2,     /* the data is malformed or inconsistent */
    RW_ENOMEM = -3,    /* allocation failed or a size overflowed */
    RW_EUSAGE = -4,    /* the caller asked for something impossible */
    RW_ENOTFOUND = -5, /* a named thing does not exist */
} rw_status;

/* One line of context for the failure; empty when nothing failed. */
typedef struct {
    char msg[1024];
} rw_err;

/* A static string naming st. */
const char *rw_strerror(rw_status st);

/* Formats err->msg (printf-style) and returns st, so that callers can write
 * `return rw_fail(err, RW_EDATA, "%s: bad header", path);`. */
rw_status rw_fail(rw_err *err, rw_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prepends "prefix: " to err->msg (used as an error travels upward). */
void rw_err_prefix(rw_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* err->msg and rw_warn's line are one line whatever names they hold: their
 * control bytes (0x01-0x1f, 0x7f) are written as the escapes below. */

/* A control byte (0x01-0x1f, 0x7f): what ends or garbles a line. */
static inline bool rw_is_control(unsigned char ch)
{
    return ch < 0x20 || ch == 0x7f;
}

/* The escape of a backslash or control byte in tables and messages: \\ \t
 * \n \r, else \xNN (lowercase hex). Writes it to out (5 bytes), returns out. */
const char *rw_escape_byte(unsigned char ch, char out[5]);

/* Maps a status to the exit code of DESIGN.md: 0 ok, 2 usage, 1 otherwise. */
int rw_exit_code(rw_status st);

/* ---------------------------------------------------------------- dtypes */

typedef enum {
    RW_DT_F16,
    RW_DT_BF16,
    RW_DT_F32,
    RW_DT_F64,
    RW_DT_INT,   /* any integer or boolean type: listed, never analysed */
    RW_DT_OTHER, /* strings, compounds, ... : listed, never analysed */
} rw_dtype;

const char *rw_dtype_name(rw_dtype dt);     /* "float32", ... */
rw_dtype rw_dtype_parse(const char *name);  /* inverse; RW_DT_OTHER if unknown */
bool rw_dtype_is_float(rw_dtype dt);
/* Machine epsilon of the stored dtype (2^-10, 2^-7, 2^-23, 2^-52), the unit
 * that sets the precision floor of the data; 2^-52 for non-float types. */
double rw_dtype_eps(rw_dtype dt);

/* IEEE binary16 and bfloat16 bit patterns to double (exact). */
double rw_half_to_double(uint16_t h);
double rw_bf16_to_double(uint16_t h);
/* double to binary16 / bfloat16 bits, rounded to nearest even (overflow to
 * inf, NaN kept). */
uint16_t rw_double_to_half(double x);
uint16_t rw_double_to_bf16(double x);

/* --------------------------------------------------------------- helpers */

/* Allocation that reports failure through err (NULL then); size products are
 * checked. The caller frees the block (free). */
void *rw_malloc(size_t n, rw_err *err);
void *rw_calloc(size_t count, size_t size, rw_err *err);
void *rw_realloc(void *p, size_t n, rw_err *err);
/* Room for element n of a growing array: when n == *cap, the array *pv (a
 * T ** passed as void *) is reallocated, contents kept, to twice the
 * capacity (16 at first), overflow-checked. RW_ENOMEM, *pv untouched, on
 * failure. */
rw_status rw_grow(void *pv, size_t n, size_t *cap, size_t elem, rw_err *err);
/* Scratch space: *pv (a T ** as void *) holds at least count elements of
 * size bytes afterwards; the old contents are not kept. */
rw_status rw_scratch(void *pv, size_t *cap, size_t count, size_t size, rw_err *err);
/* A new copy of s (caller frees); NULL when out of memory. */
char *rw_strdup(const char *s);
/* *out = a * b; false on overflow. */
bool rw_mul_size(size_t a, size_t b, size_t *out);

/* Checked number parsing: the whole string must be a number. */
bool rw_parse_i64(const char *s, int64_t *out);
bool rw_parse_double(const char *s, double *out);

/* Shortest decimal that reads back as the same double ("nan", "inf",
 * "-inf" for non-finite values). buf must hold at least 32 bytes; returns
 * buf. */
char *rw_fmt_double(char *buf, double x);
/* A duration of secs seconds for people, into buf (at least 32 bytes):
 * "42s", "3m05s", "2h04m", "3d02h"; "?" for a negative or non-finite one.
 * Returns buf. */
char *rw_fmt_duration(char *buf, double secs);

/* basename without directories and, when strip_ext, without the last
 * extension. Returns a new string (caller frees); NULL when out of memory. */
char *rw_basename(const char *path, bool strip_ext);
/* The directory part of path ("." when none). New string, caller frees;
 * NULL when out of memory. */
char *rw_dirname(const char *path);
/* "dir/name", or name alone when dir is empty. New string, caller frees;
 * NULL when out of memory. */
char *rw_path_join(const char *dir, const char *name);
/* True when s ends with suffix; then *prefix_len (when not NULL) is the
 * length of what precedes it. */
bool rw_ends_with(const char *s, const char *suffix, size_t *prefix_len);
/* True when stat succeeds on path (anything exists there, links followed). */
bool rw_exists(const char *path);
/* qsort/bsearch comparator for an array of strings (char * or const char *
 * elements): strcmp order. */
int rw_cmp_str(const void *a, const void *b);
/* The same for an array of int64_t: ascending. */
int rw_cmp_i64(const void *a, const void *b);

/* RW_OK when path names a regular file (symbolic links followed), checked
 * with stat before anything opens it: opening a FIFO waits for a writer
 * forever, and a device need never end. Otherwise RW_EIO with
 * "path: not a regular file" (or stat's reason) in err. */
rw_status rw_check_regular(const char *path, rw_err *err);

/* Length of the well-formed UTF-8 sequence (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF) that s starts with, 1 to 4; 0 when
 * s does not start one. s is NUL-terminated, and NUL ends any sequence. */
size_t rw_utf8_len(const unsigned char *s);

/* Reads exactly len bytes at byte offset off of fd (short reads and EINTR
 * retried). False on a read error (errno says which) or when the file ends
 * first (errno 0). */
bool rw_pread_all(int fd, void *dst, size_t len, uint64_t off);

/* src in dst (n bytes, NUL included; cut when longer) as one line: control
 * bytes written as rw_escape_byte writes them. */
void rw_one_line(char *dst, size_t n, const char *src);

/* Closes a stream written with stdio and says whether every write reached
 * the file: 0 when none failed (ferror), the flush and the close succeeded;
 * -1 otherwise. The stream is closed either way. */
int rw_fclose_checked(FILE *f);

/* ------------------------------------------------------------ reporting */

/* The library writes nothing on stdout or stderr: its warnings and progress
 * go to the reporter the program installs (the programs' cli.c writes them
 * on stderr); without one they are dropped. line is one line, control bytes
 * escaped (rw_one_line). */
typedef enum {
    RW_REPORT_WARNING,       /* a line to show */
    RW_REPORT_PROGRESS,      /* a status line that replaces the previous one */
    RW_REPORT_PROGRESS_DONE, /* the status line is over: clear it (line "") */
} rw_report_kind;
typedef void (*rw_reporter)(rw_report_kind kind, const char *prog, const char *line);
void rw_set_reporter(rw_reporter fn);

/* "prog: " + the formatted message, as a warning to the reporter. */
void rw_warn(const char *prog, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void rw_vwarn(const char *prog, const char *fmt, va_list ap);
/* A progress line, and its end. */
void rw_progress(const char *prog, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void rw_progress_done(const char *prog);
/* A programmer error (an invalid LAPACK argument): reported, then abort(). */
_Noreturn void rw_bug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
