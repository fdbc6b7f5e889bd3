/*
 * rw.c — status codes, error messages, dtypes and checked helpers (rw.h).
 */
#include "io/rw.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const char *rw_strerror(rw_status st)
{
    switch (st) {
    case RW_OK: return "ok";
    case RW_EIO: return "input/output error";
    case RW_EDATA: return "malformed data";
    case RW_ENOMEM: return "out of memory";
    case RW_EUSAGE: return "usage error";
    case RW_ENOTFOUND: return "not found";
    }
    return "unknown error";
}

const char *rw_escape_byte(unsigned char ch, char out[5])
{
    switch (ch) {
    case '\\': return strcpy(out, "\\\\");
    case '\t': return strcpy(out, "\\t");
    case '\n': return strcpy(out, "\\n");
    case '\r': return strcpy(out, "\\r");
    }
    snprintf(out, 5, "\\x%02x", ch);
    return out;
}

/* A message stays one line whatever the names in it: control bytes are
 * written as escapes (backslashes stay single: a message is read by people,
 * not parsed). Writes src so into dst (n > 0 bytes), cut at its room but
 * never inside an escape. */
void rw_one_line(char *dst, size_t n, const char *src)
{
    size_t w = 0;
    for (const char *p = src; *p; p++) {
        unsigned char ch = (unsigned char)*p;
        char e[5] = {*p, 0};
        if (rw_is_control(ch))
            rw_escape_byte(ch, e);
        size_t len = strlen(e);
        if (w + len >= n)
            break;
        memcpy(dst + w, e, len);
        w += len;
    }
    dst[w] = '\0';
}

rw_status rw_fail(rw_err *err, rw_status st, const char *fmt, ...)
{
    if (err) {
        char raw[sizeof err->msg];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(raw, sizeof raw, fmt, ap);
        va_end(ap);
        rw_one_line(err->msg, sizeof err->msg, raw);
    }
    return st;
}

void rw_err_prefix(rw_err *err, const char *fmt, ...)
{
    if (!err)
        return;
    char raw[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    int np = vsnprintf(raw, 256, fmt, ap);
    va_end(ap);
    if (np < 0)
        np = 0;
    else if (np > 255)
        np = 255; /* the prefix cut at 255 bytes */
    /* The message after the prefix, truncated, never overrun. */
    size_t p = (size_t)np, nm = strlen(err->msg);
    if (p + 2 + nm >= sizeof raw)
        nm = sizeof raw - p - 3;
    memcpy(raw + p, ": ", 2);
    memcpy(raw + p + 2, err->msg, nm);
    raw[p + 2 + nm] = '\0';
    rw_one_line(err->msg, sizeof err->msg, raw);
}

int rw_exit_code(rw_status st)
{
    if (st == RW_OK)
        return 0;
    return st == RW_EUSAGE ? 2 : 1;
}

/* ---------------------------------------------------------------- dtypes */

static const char *const dtype_names[] = {
    [RW_DT_F16] = "float16", [RW_DT_BF16] = "bfloat16", [RW_DT_F32] = "float32",
    [RW_DT_F64] = "float64", [RW_DT_INT] = "int",       [RW_DT_OTHER] = "other",
};

const char *rw_dtype_name(rw_dtype dt)
{
    if ((unsigned)dt > RW_DT_OTHER)
        return "other";
    return dtype_names[dt];
}

rw_dtype rw_dtype_parse(const char *name)
{
    for (int i = 0; i <= RW_DT_OTHER; i++)
        if (strcmp(name, dtype_names[i]) == 0)
            return (rw_dtype)i;
    return RW_DT_OTHER;
}

bool rw_dtype_is_float(rw_dtype dt)
{
    return dt == RW_DT_F16 || dt == RW_DT_BF16 || dt == RW_DT_F32 || dt == RW_DT_F64;
}

double rw_dtype_eps(rw_dtype dt)
{
    switch (dt) {
    case RW_DT_F16: return ldexp(1.0, -10);
    case RW_DT_BF16: return ldexp(1.0, -7);
    case RW_DT_F32: return ldexp(1.0, -23);
    default: return ldexp(1.0, -52);
    }
}

double rw_half_to_double(uint16_t h)
{
    int sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, frac = h & 0x3ff;
    double v;
    if (exp == 0)
        v = ldexp((double)frac, -24); /* subnormal: frac * 2^-14 * 2^-10 */
    else if (exp == 31)
        v = frac ? NAN : INFINITY;
    else
        v = ldexp((double)(frac | 0x400), exp - 25);
    return sign ? -v : v;
}

double rw_bf16_to_double(uint16_t h)
{
    /* bfloat16 is the top half of a binary32. */
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return (double)f;
}

uint16_t rw_double_to_bf16(double x)
{
    /* Round the binary32 value to its top 16 bits, nearest even. The double
     * to float step rounds once already; values in binary32's range whose
     * second rounding could differ are not produced by the tests' data. */
    float f = (float)x;
    uint32_t b;
    memcpy(&b, &f, sizeof b);
    if ((b & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((b >> 16) | 0x40); /* quiet NaN */
    b += 0x7fffu + ((b >> 16) & 1);
    return (uint16_t)(b >> 16);
}

uint16_t rw_double_to_half(double x)
{
    uint16_t sign = signbit(x) ? 0x8000 : 0;
    double a = fabs(x);
    if (isnan(x))
        return 0x7e00;
    if (a >= 65520.0) /* rounds to inf */
        return sign | 0x7c00;
    if (a < ldexp(1.0, -14)) {
        /* subnormal: units of 2^-24, nearest even */
        double q = nearbyint(a * ldexp(1.0, 24));
        return sign | (uint16_t)q; /* q == 1024 becomes the smallest normal */
    }
    int e;
    double m = frexp(a, &e); /* a = m * 2^e, m in [0.5, 1) */
    double q = nearbyint(m * 2048.0); /* 11 significant bits */
    if (q == 2048.0) {
        q = 1024.0;
        e++;
    }
    int exp = e - 1 + 15;
    if (exp >= 31)
        return sign | 0x7c00;
    return sign | (uint16_t)(exp << 10) | ((uint16_t)q & 0x3ff);
}

/* --------------------------------------------------------------- helpers */

void *rw_malloc(size_t n, rw_err *err)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        rw_fail(err, RW_ENOMEM, "out of memory (%zu bytes)", n);
    return p;
}

void *rw_calloc(size_t count, size_t size, rw_err *err)
{
    size_t n;
    if (!rw_mul_size(count, size, &n)) {
        rw_fail(err, RW_ENOMEM, "size overflow (%zu x %zu)", count, size);
        return NULL;
    }
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p)
        rw_fail(err, RW_ENOMEM, "out of memory (%zu bytes)", n);
    return p;
}

void *rw_realloc(void *p, size_t n, rw_err *err)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        rw_fail(err, RW_ENOMEM, "out of memory (%zu bytes)", n);
    return q;
}

rw_status rw_grow(void *pv, size_t n, size_t *cap, size_t elem, rw_err *err)
{
    if (n < *cap)
        return RW_OK;
    size_t ncap = *cap ? 2 * *cap : 16, bytes;
    if (ncap < *cap || !rw_mul_size(ncap, elem, &bytes))
        return rw_fail(err, RW_ENOMEM, "out of memory (size overflow)");
    void **p = pv;
    void *q = rw_realloc(*p, bytes, err);
    if (!q)
        return RW_ENOMEM;
    *p = q;
    *cap = ncap;
    return RW_OK;
}

rw_status rw_scratch(void *pv, size_t *cap, size_t count, size_t size, rw_err *err)
{
    if (count <= *cap)
        return RW_OK;
    size_t bytes;
    if (!rw_mul_size(count, size, &bytes))
        return rw_fail(err, RW_ENOMEM, "out of memory (size overflow: %zu x %zu)", count, size);
    void **p = pv;
    free(*p);
    *cap = 0;
    if (!(*p = rw_malloc(bytes, err)))
        return RW_ENOMEM;
    *cap = count;
    return RW_OK;
}

char *rw_strdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

bool rw_mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return false;
    *out = a * b;
    return true;
}

bool rw_parse_i64(const char *s, int64_t *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

bool rw_parse_double(const char *s, double *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || (errno == ERANGE && fabs(v) > 1.0))
        return false;
    *out = v;
    return true;
}

char *rw_fmt_duration(char *buf, double secs)
{
    if (!(secs >= 0) || secs > 1e12) { /* nan, inf, negative, absurd */
        snprintf(buf, 32, "?");
        return buf;
    }
    long long s = (long long)(secs + 0.5);
    if (s < 60)
        snprintf(buf, 32, "%llds", s);
    else if (s < 3600)
        snprintf(buf, 32, "%lldm%02llds", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, 32, "%lldh%02lldm", s / 3600, (s % 3600) / 60);
    else
        snprintf(buf, 32, "%lldd%02lldh", s / 86400, (s % 86400) / 3600);
    return buf;
}

char *rw_fmt_double(char *buf, double x)
{
    if (isnan(x))
        return strcpy(buf, "nan");
    if (isinf(x))
        return strcpy(buf, x > 0 ? "inf" : "-inf");
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(buf, 32, "%.*g", prec, x);
        if (strtod(buf, NULL) == x)
            break;
    }
    return buf;
}

char *rw_basename(const char *path, bool strip_ext)
{
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    size_t start = len;
    while (start > 0 && path[start - 1] != '/')
        start--;
    size_t end = len;
    if (strip_ext) {
        for (size_t i = len; i > start + 1; i--)
            if (path[i - 1] == '.') {
                end = i - 1;
                break;
            }
    }
    char *b = malloc(end - start + 1);
    if (!b)
        return NULL;
    memcpy(b, path + start, end - start);
    b[end - start] = '\0';
    return b;
}

char *rw_dirname(const char *path)
{
    size_t len = strlen(path);
    while (len > 1 && path[len - 1] == '/')
        len--;
    while (len > 0 && path[len - 1] != '/')
        len--;
    while (len > 1 && path[len - 1] == '/')
        len--;
    if (len == 0)
        return rw_strdup(".");
    char *d = malloc(len + 1);
    if (!d)
        return NULL;
    memcpy(d, path, len);
    d[len] = '\0';
    return d;
}

char *rw_path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    if (p)
        snprintf(p, n, "%s%s%s", dir, *dir ? "/" : "", name);
    return p;
}

bool rw_ends_with(const char *s, const char *suffix, size_t *prefix_len)
{
    size_t n = strlen(s), m = strlen(suffix);
    if (n < m || strcmp(s + n - m, suffix) != 0)
        return false;
    if (prefix_len)
        *prefix_len = n - m;
    return true;
}

bool rw_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

int rw_cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int rw_cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

rw_status rw_check_regular(const char *path, rw_err *err)
{
    struct stat sb;
    if (stat(path, &sb) != 0)
        return rw_fail(err, RW_EIO, "%s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return rw_fail(err, RW_EIO, "%s: not a regular file", path);
    return RW_OK;
}

/* Length of the well-formed UTF-8 sequence (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF) that s starts with, 1 to 4; 0 when
 * s does not start one. s is NUL-terminated, and NUL ends any sequence. */
size_t rw_utf8_len(const unsigned char *s)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xbf;
    size_t n;
    if (c < 0x80)
        return 1;
    if (c < 0xc2)
        return 0;
    if (c < 0xe0) {
        n = 2;
    } else if (c < 0xf0) {
        n = 3;
        if (c == 0xe0)
            lo = 0xa0;
        else if (c == 0xed)
            hi = 0x9f;
    } else if (c < 0xf5) {
        n = 4;
        if (c == 0xf0)
            lo = 0x90;
        else if (c == 0xf4)
            hi = 0x8f;
    } else {
        return 0;
    }
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    return n;
}

bool rw_pread_all(int fd, void *dst, size_t len, uint64_t off)
{
    char *p = dst;
    while (len > 0) {
        ssize_t r = pread(fd, p, len, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            errno = 0;
        if (r <= 0)
            return false;
        p += r;
        len -= (size_t)r;
        off += (uint64_t)r;
    }
    return true;
}

int rw_fclose_checked(FILE *f)
{
    int bad = ferror(f);
    bad |= fflush(f) != 0;
    bad |= fclose(f) != 0;
    return bad ? -1 : 0;
}

static rw_reporter reporter;

void rw_set_reporter(rw_reporter fn)
{
    reporter = fn;
}

static void report(rw_report_kind kind, const char *prog, const char *fmt, va_list ap)
{
    if (!reporter)
        return;
    char raw[1024], line[1024];
    vsnprintf(raw, sizeof raw, fmt, ap);
    rw_one_line(line, sizeof line, raw);
    reporter(kind, prog, line);
}

void rw_vwarn(const char *prog, const char *fmt, va_list ap)
{
    report(RW_REPORT_WARNING, prog, fmt, ap);
}

void rw_warn(const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rw_vwarn(prog, fmt, ap);
    va_end(ap);
}

void rw_progress(const char *prog, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(RW_REPORT_PROGRESS, prog, fmt, ap);
    va_end(ap);
}

void rw_progress_done(const char *prog)
{
    if (reporter)
        reporter(RW_REPORT_PROGRESS_DONE, prog, "");
}

void rw_bug(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    report(RW_REPORT_WARNING, "rankwatch: bug", fmt, ap);
    va_end(ap);
    abort();
}
