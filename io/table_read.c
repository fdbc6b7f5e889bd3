/*
 * table_read.c — tables read back from TSV or CSV (table.h: table_read).
 * The file is read whole into one block that the table keeps (its arena);
 * the cells point into it.
 */
#include "io/table.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Room for field n in *fields; false when out of memory. */
static bool field_room(char ***fields, size_t *cap, size_t n)
{
    if (n < *cap)
        return true;
    size_t ncap = *cap ? 2 * *cap : 32;
    char **nf = realloc(*fields, ncap * sizeof *nf);
    if (!nf)
        return false;
    *fields = nf;
    *cap = ncap;
    return true;
}

enum { REC_QUOTE = -1, REC_NOMEM = -2, REC_ESCAPE = -3, REC_AFTER_QUOTE = -4 };

/* A TSV record: the line at *pp, split at tabs, each field's escapes undone
 * (table_unescape_tsv). A CR before the newline is dropped (CRLF files); the
 * writer never leaves a raw CR, tab or newline in a field. */
static long tsv_record(char **pp, char *end, char ***fields, size_t *cap, size_t *lines,
                       size_t *bad)
{
    char *line = *pp, *eol = memchr(line, '\n', (size_t)(end - line));
    *pp = eol ? eol + 1 : end;
    if (!eol)
        eol = end;
    *eol = '\0';
    *lines += 1;
    while (eol > line && eol[-1] == '\r')
        *--eol = '\0';
    if (eol == line)
        return 0;
    bool escaped = memchr(line, '\\', (size_t)(eol - line)) != NULL;
    size_t n = 0;
    for (char *p = line;;) {
        if (!field_room(fields, cap, n))
            return REC_NOMEM;
        (*fields)[n++] = p;
        char *sep = strchr(p, '\t');
        if (sep)
            *sep = '\0';
        if (escaped && table_unescape_tsv(p)) {
            *bad = n;
            return REC_ESCAPE;
        }
        if (!sep)
            return (long)n;
        p = sep + 1;
    }
}

/* A CSV record (RFC 4180) at *pp: fields split at commas, a quoted field
 * may hold commas, doubled quotes, CR and LF. The record ends at a newline
 * outside quotes (a CR before it dropped). *lines counts the lines it spans. */
static long csv_record(char **pp, char *end, char ***fields, size_t *cap, size_t *lines)
{
    char *p = *pp;
    size_t n = 0;
    *lines += 1;
    if (*p == '\r' && p + 1 < end && p[1] == '\n')
        p++;
    if (p == end || *p == '\n') { /* a blank line */
        *pp = p < end ? p + 1 : end;
        return 0;
    }
    for (;;) {
        if (!field_room(fields, cap, n))
            return REC_NOMEM;
        char *start = p, *stop;
        if (p < end && *p == '"') {
            char *w = start = ++p;
            for (;; p++) {
                if (p == end)
                    return REC_QUOTE;
                if (*p == '"') {
                    if (p + 1 == end || p[1] != '"')
                        break;
                    p++; /* "" stands for one quote */
                } else if (*p == '\n') {
                    *lines += 1;
                }
                *w++ = *p;
            }
            p++; /* past the closing quote */
            if (p < end && *p == '\r' && p + 1 < end && p[1] == '\n')
                p++;
            if (p < end && *p != ',' && *p != '\n')
                return REC_AFTER_QUOTE;
            stop = w;
        } else {
            while (p < end && *p != ',' && *p != '\n')
                p++;
            stop = p;
            if ((p == end || *p == '\n') && stop > start && stop[-1] == '\r')
                stop--;
        }
        bool more = p < end && *p == ',';
        *stop = '\0'; /* at or before p: the separator is read already */
        (*fields)[n++] = start;
        if (more) {
            p++;
            continue;
        }
        *pp = p < end ? p + 1 : end;
        return (long)n;
    }
}

/* Reads all of f into one NUL-terminated block (caller frees *buf). */
static rw_status slurp(FILE *f, const char *path, char **buf, size_t *len, rw_err *err)
{
    struct stat sb;
    size_t cap = 1 << 16, n = 0;
    if (fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_size > 0 &&
        (uintmax_t)sb.st_size < SIZE_MAX - 2)
        cap = (size_t)sb.st_size + 2;
    char *b = malloc(cap);
    if (!b)
        return rw_fail(err, RW_ENOMEM, "%s: out of memory", path);
    for (;;) {
        if (cap - n < 2) {
            if (cap > SIZE_MAX / 2) {
                free(b);
                return rw_fail(err, RW_ENOMEM, "%s: file too large", path);
            }
            char *nb = realloc(b, 2 * cap);
            if (!nb) {
                free(b);
                return rw_fail(err, RW_ENOMEM, "%s: out of memory", path);
            }
            b = nb;
            cap *= 2;
        }
        size_t got = fread(b + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f)) {
        free(b);
        return rw_fail(err, RW_EIO, "%s: read failed: %s", path, strerror(errno));
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return RW_OK;
}

/* A fast test for the common case: 1 when s is a plain decimal number
 * ([+-]digits[.digits][e[+-]dd]) that rw_parse_double certainly accepts, 0
 * when unsure (the caller then asks rw_parse_double). */
static int plain_number(const char *s)
{
    const char *p = s;
    if (*p == '+' || *p == '-')
        p++;
    size_t digits = 0, intdigits = 0;
    while (*p >= '0' && *p <= '9')
        p++, digits++;
    intdigits = digits;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9')
            p++, digits++;
    }
    if (!digits || intdigits > 30)
        return 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        size_t ed = 0;
        while (*p >= '0' && *p <= '9')
            p++, ed++;
        if (ed == 0 || ed > 2) /* three-digit exponents may overflow: ask strtod */
            return 0;
    }
    return *p == '\0';
}

static bool is_number(const char *s)
{
    double v;
    return plain_number(s) || rw_parse_double(s, &v);
}

rw_status table_read(const char *path, rw_table **out, rw_err *err)
{
    *out = NULL;
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f)
        return rw_fail(err, RW_EIO, "%s: %s", path, strerror(errno));
    size_t plen = strlen(path);
    bool csv = plen > 4 && strcmp(path + plen - 4, ".csv") == 0;
    char *buf = NULL, **fields = NULL;
    size_t len = 0, fcap = 0, lineno = 0;
    rw_table *t = NULL;
    rw_status st = slurp(f, path, &buf, &len, err);
    if (f != stdin)
        fclose(f);
    if (st != RW_OK)
        return st;
    /* Cells point into buf, which the table then owns (t->arena). */
    for (char *p = buf, *end = buf + len; p < end;) {
        size_t line = lineno + 1, bad = 0;
        long nf = csv ? csv_record(&p, end, &fields, &fcap, &lineno)
                      : tsv_record(&p, end, &fields, &fcap, &lineno, &bad);
        if (nf == 0)
            continue;
        if (nf == REC_NOMEM) {
            st = rw_fail(err, RW_ENOMEM, "out of memory");
            break;
        }
        if (nf == REC_QUOTE || nf == REC_AFTER_QUOTE) {
            st = rw_fail(err, RW_EDATA, "%s:%zu: %s", path, line,
                         nf == REC_QUOTE ? "unterminated quote"
                                         : "text after a closing quote");
            break;
        }
        if (nf == REC_ESCAPE) {
            st = rw_fail(err, RW_EDATA,
                         "%s:%zu: field %zu: malformed escape (a TSV field escapes only "
                         "\\\\ \\t \\n \\r \\xHH)",
                         path, line, bad);
            break;
        }
        if (!t) {
            t = table_new((const char *const *)fields, (size_t)nf);
            if (!t) {
                st = rw_fail(err, RW_ENOMEM, "out of memory");
                break;
            }
            /* Room for every remaining line at once: no regrowth. */
            size_t nl = 1, bytes;
            for (char *q = p; (q = memchr(q, '\n', (size_t)(end - q))); q++)
                nl++;
            if (!rw_mul_size(nl, t->ncols * sizeof(char *), &bytes)) {
                st = rw_fail(err, RW_ENOMEM, "%s: table too large", path);
                break;
            }
            if (!(t->cells = rw_malloc(bytes ? bytes : 1, err))) {
                st = RW_ENOMEM;
                break;
            }
            t->cap = nl;
            for (size_t i = 0; i < t->ncols; i++)
                for (size_t j = 0; j < i; j++)
                    if (strcmp(t->cols[i], t->cols[j]) == 0) {
                        st = rw_fail(err, RW_EDATA, "%s:%zu: column '%s' appears twice", path, line,
                                     t->cols[i]);
                        goto out;
                    }
            continue;
        }
        if ((size_t)nf != t->ncols) {
            st = rw_fail(err, RW_EDATA, "%s:%zu: %ld fields, header has %zu", path, line, nf,
                         t->ncols);
            break;
        }
        if (t->nrows == t->cap) {
            size_t ncap = t->cap ? 2 * t->cap : 256, bytes;
            if (!rw_mul_size(ncap, t->ncols * sizeof(char *), &bytes)) {
                st = rw_fail(err, RW_ENOMEM, "%s: table too large", path);
                break;
            }
            char **c = rw_realloc(t->cells, bytes, err);
            if (!c) {
                st = RW_ENOMEM;
                break;
            }
            t->cells = c;
            t->cap = ncap;
        }
        memcpy(t->cells + t->nrows * t->ncols, fields, t->ncols * sizeof *fields);
        t->nrows++;
    }
out:
    if (t) {
        t->arena = buf;
        t->arena_len = len + 1;
        buf = NULL;
    }
    free(buf);
    free(fields);
    if (st == RW_OK && !t)
        st = rw_fail(err, RW_EDATA, "%s: empty table (no header row)", path);
    if (st != RW_OK) {
        table_free(t);
        return st;
    }
    /* A column is numeric when every cell reads as a number. Row by row, for
     * the cache, until no column is left undecided. */
    size_t left = t->ncols;
    for (size_t c = 0; c < t->ncols; c++)
        t->numeric[c] = t->nrows > 0;
    for (size_t r = 0; r < t->nrows && left; r++)
        for (size_t c = 0; c < t->ncols; c++)
            if (t->numeric[c] && !is_number(table_cell(t, r, c))) {
                t->numeric[c] = false;
                left--;
            }
    *out = t;
    return RW_OK;
}
