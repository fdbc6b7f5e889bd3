/*
 * table.c — tables of text cells: build, sort, write, read (table.h).
 */
#include "io/table.h"

#include "io/outfile.h"
#include "io/table_keys.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>

int rw_tformat_parse(const char *name)
{
    static const char *const names[] = {"tsv", "csv", "md", "tex", "json"};
    for (int i = 0; i < 5; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

rw_table *table_new(const char *const *cols, size_t ncols)
{
    rw_table *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ncols = ncols;
    t->cols = calloc(ncols ? ncols : 1, sizeof *t->cols);
    t->numeric = calloc(ncols ? ncols : 1, sizeof *t->numeric);
    if (!t->cols || !t->numeric) {
        table_free(t);
        return NULL;
    }
    for (size_t i = 0; i < ncols; i++)
        if (!(t->cols[i] = rw_strdup(cols[i]))) {
            table_free(t);
            return NULL;
        }
    return t;
}

void table_free(rw_table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->ncols && t->cols; i++)
        free(t->cols[i]);
    /* Cells inside the arena (table_read) belong to it. */
    uintptr_t a0 = (uintptr_t)t->arena, a1 = a0 + t->arena_len;
    for (size_t i = 0; i < t->nrows * t->ncols; i++) {
        uintptr_t c = (uintptr_t)t->cells[i];
        if (!t->arena || c < a0 || c >= a1)
            free(t->cells[i]);
    }
    free(t->arena);
    free(t->cols);
    free(t->numeric);
    free(t->cells);
    free(t);
}

rw_status table_add_row(rw_table *t, const char *const *cells, rw_err *err)
{
    if (t->nrows == t->cap) {
        size_t ncap = t->cap ? 2 * t->cap : 256, bytes;
        if (!rw_mul_size(ncap, t->ncols * sizeof(char *), &bytes))
            return rw_fail(err, RW_ENOMEM, "table too large");
        char **c = rw_realloc(t->cells, bytes, err);
        if (!c)
            return RW_ENOMEM;
        t->cells = c;
        t->cap = ncap;
    }
    char **row = t->cells + t->nrows * t->ncols;
    for (size_t i = 0; i < t->ncols; i++) {
        row[i] = rw_strdup(cells[i] ? cells[i] : "");
        if (!row[i]) {
            while (i--)
                free(row[i]);
            return rw_fail(err, RW_ENOMEM, "out of memory");
        }
    }
    t->nrows++;
    return RW_OK;
}

long table_col(const rw_table *t, const char *name)
{
    for (size_t i = 0; i < t->ncols; i++)
        if (strcmp(t->cols[i], name) == 0)
            return (long)i;
    return -1;
}

void table_set_numeric(rw_table *t, long col, bool numeric)
{
    if (col >= 0 && (size_t)col < t->ncols)
        t->numeric[col] = numeric;
}

/* ------------------------------------------------------------- sorting */

typedef struct {
    const rw_table *t;
    const long *keys;
    const bool *num;
    size_t nkeys;
} sort_ctx;

static _Thread_local const sort_ctx *g_sort;

static double num_of(const char *s)
{
    double v;
    if (rw_parse_double(s, &v))
        return v;
    return NAN;
}

static int cmp_rows(const void *a, const void *b)
{
    size_t ra = *(const size_t *)a, rb = *(const size_t *)b;
    const sort_ctx *c = g_sort;
    for (size_t k = 0; k < c->nkeys; k++) {
        const char *x = table_cell(c->t, ra, (size_t)c->keys[k]);
        const char *y = table_cell(c->t, rb, (size_t)c->keys[k]);
        int r;
        if (c->num && c->num[k]) {
            double u = num_of(x), v = num_of(y);
            r = (u > v) - (u < v);
            if (!r && isnan(u) != isnan(v))
                r = isnan(u) ? 1 : -1;
        } else {
            r = strcmp(x, y);
        }
        if (r)
            return r;
    }
    return (ra > rb) - (ra < rb); /* stable */
}

void table_sort(rw_table *t, const long *keys, const bool *numeric_keys, size_t nkeys)
{
    if (t->nrows < 2)
        return;
    size_t *idx = malloc(t->nrows * sizeof *idx);
    char **cells = malloc(t->nrows * t->ncols * sizeof *cells);
    if (!idx || !cells) {
        free(idx);
        free(cells);
        return; /* unsorted but intact; only under memory exhaustion */
    }
    for (size_t i = 0; i < t->nrows; i++)
        idx[i] = i;
    sort_ctx ctx = {t, keys, numeric_keys, nkeys};
    g_sort = &ctx;
    qsort(idx, t->nrows, sizeof *idx, cmp_rows);
    g_sort = NULL;
    for (size_t i = 0; i < t->nrows; i++)
        memcpy(cells + i * t->ncols, t->cells + idx[i] * t->ncols, t->ncols * sizeof *cells);
    memcpy(t->cells, cells, t->nrows * t->ncols * sizeof *cells);
    free(cells);
    free(idx);
}

void table_sort_default(rw_table *t)
{
    long keys[RW_NROW_KEY];
    bool num[RW_NROW_KEY];
    size_t n = 0;
    for (size_t i = 0; i < RW_NROW_KEY; i++) {
        long c = table_col(t, table_key_names[table_row_key[i]]);
        if (c >= 0) {
            keys[n] = c;
            num[n++] = table_row_key[i] == RW_KEY_STEP;
        }
    }
    table_sort(t, keys, num, n);
}

/* ------------------------------------------------------ text in cells */

/* The one rule for text in output files (table.h, docs/reliability.md):
 * every writer of every format goes through table_put_text. */

/* TeX: one byte of the tsv form that needs it typeset, ch a backslash, a
 * control byte or a TeX special. */
static void put_tex_byte(FILE *f, unsigned char ch)
{
    switch (ch) {
    case '_': case '%': case '&': case '#': case '$': case '{': case '}':
        fputc('\\', f);
        fputc(ch, f);
        return;
    case '~': fputs("\\textasciitilde{}", f); return;
    case '^': fputs("\\textasciicircum{}", f); return;
    case '<': fputs("\\textless{}", f); return;
    case '>': fputs("\\textgreater{}", f); return;
    case '|': fputs("\\textbar{}", f); return;
    }
    /* Its tsv escape, the backslashes typeset: \textbackslash{}n. */
    char e[5];
    for (const char *p = rw_escape_byte(ch, e); *p; p++)
        if (*p == '\\')
            fputs("\\textbackslash{}", f);
        else
            fputc(*p, f);
}

/* The tsv form (fmt RW_TF_TSV, specials NULL): runs of plain bytes go out
 * whole, a backslash or control byte as its escape. md and tex write the
 * same form with their own specials escaped on top. */
static void put_tsv_form(FILE *f, const char *s, const char *specials, rw_tformat fmt)
{
    for (;;) {
        size_t n = 0;
        while (s[n] && s[n] != '\\' && !rw_is_control((unsigned char)s[n]) &&
               !(specials && strchr(specials, s[n])))
            n++;
        fwrite(s, 1, n, f);
        s += n;
        if (!*s)
            return;
        unsigned char ch = (unsigned char)*s++;
        char e[5];
        if (fmt == RW_TF_TEX) {
            put_tex_byte(f, ch);
        } else if (ch == '\\' || rw_is_control(ch)) {
            fputs(rw_escape_byte(ch, e), f);
        } else { /* md: a punctuation character, escaped */
            fputc('\\', f);
            fputc(ch, f);
        }
    }
}

/* RFC 4180: a field holding a comma, quote, CR or LF is quoted, its quotes
 * doubled; every other byte as is. */
static void put_csv(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* A JSON string (RFC 8259), quotes included: " and \ escaped, \n \t \r,
 * \u00NN for the other control bytes; JSON text is UTF-8, so a byte that is
 * not part of a well-formed sequence is written as U+FFFD. */
static void put_json(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', f);
    for (;;) {
        /* Runs that need no escape go out whole. */
        const unsigned char *run = p;
        size_t n;
        while (*p && *p != '"' && *p != '\\' && *p >= 0x20 && (n = rw_utf8_len(p)))
            p += n;
        fwrite(run, 1, (size_t)(p - run), f);
        if (!*p)
            break;
        unsigned char ch = *p++;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch == '\n')
            fputs("\\n", f);
        else if (ch == '\t')
            fputs("\\t", f);
        else if (ch == '\r')
            fputs("\\r", f);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputs("\\ufffd", f);
    }
    fputc('"', f);
}

void table_put_text(FILE *f, const char *s, rw_tformat fmt)
{
    switch (fmt) {
    case RW_TF_TSV: put_tsv_form(f, s, NULL, fmt); break;
    case RW_TF_CSV: put_csv(f, s); break;
    case RW_TF_MD: put_tsv_form(f, s, "|<&`", fmt); break;
    case RW_TF_TEX: put_tsv_form(f, s, "_%&#${}~^<>|", fmt); break;
    case RW_TF_JSON: put_json(f, s); break;
    }
}

char *table_text_dup(const char *s, rw_tformat fmt)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m)
        return NULL;
    table_put_text(m, s, fmt);
    if (fclose(m) != 0) {
        free(buf);
        return NULL;
    }
    return buf;
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

char *table_unescape_tsv(char *s)
{
    char *w = s;
    for (char *p = s; *p;) {
        if (*p != '\\') {
            *w++ = *p++;
            continue;
        }
        int hi, lo;
        switch (p[1]) {
        case '\\': *w++ = '\\'; break;
        case 't': *w++ = '\t'; break;
        case 'n': *w++ = '\n'; break;
        case 'r': *w++ = '\r'; break;
        case 'x':
            hi = hex_digit(p[2]);
            lo = hi < 0 ? -1 : hex_digit(p[3]);
            if (lo < 0 || hi + lo == 0) /* \x00 would end the string */
                return p;
            *w++ = (char)(16 * hi + lo);
            p += 2;
            break;
        default:
            return p;
        }
        p += 2;
    }
    *w = '\0';
    return NULL;
}

/* ------------------------------------------------------------- writing */

/* True when s is a number in JSON's grammar (RFC 8259: no '+', no leading
 * zeros, no hex, nothing non-finite). */
static bool json_number(const char *s)
{
    if (*s == '-')
        s++;
    if (*s == '0')
        s++;
    else if (*s >= '1' && *s <= '9')
        while (*s >= '0' && *s <= '9')
            s++;
    else
        return false;
    if (*s == '.') {
        if (!(*++s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-')
            s++;
        if (!(*s >= '0' && *s <= '9'))
            return false;
        while (*s >= '0' && *s <= '9')
            s++;
    }
    return *s == '\0';
}

static void put_json_cell(FILE *f, const char *s, bool numeric)
{
    double v;
    /* Non-finite numbers have no JSON literal, and other spellings (hex,
     * "+1") none either: they stay strings. */
    if (numeric && json_number(s) && rw_parse_double(s, &v) && isfinite(v))
        fputs(s, f);
    else if (numeric && !*s)
        fputs("null", f);
    else
        put_json(f, s);
}

rw_status table_write(const rw_table *t, FILE *f, rw_tformat fmt)
{
    size_t nc = t->ncols;
    switch (fmt) {
    case RW_TF_TSV:
    case RW_TF_CSV:
        for (size_t r = 0; r <= t->nrows; r++)
            for (size_t c = 0; c < nc; c++) {
                table_put_text(f, r ? table_cell(t, r - 1, c) : t->cols[c], fmt);
                fputc(c + 1 < nc ? (fmt == RW_TF_TSV ? '\t' : ',') : '\n', f);
            }
        break;
    case RW_TF_MD:
        for (size_t r = 0; r <= t->nrows + 1; r++) {
            fputc('|', f);
            for (size_t c = 0; c < nc; c++) {
                if (r == 1) {
                    fputs(t->numeric[c] ? " ---: |" : " --- |", f);
                    continue;
                }
                fputc(' ', f);
                table_put_text(f, r == 0 ? t->cols[c] : table_cell(t, r - 2, c), fmt);
                fputs(" |", f);
            }
            fputc('\n', f);
        }
        break;
    case RW_TF_TEX:
        fputs("\\begin{tabular}{", f);
        for (size_t c = 0; c < nc; c++)
            fputc(t->numeric[c] ? 'r' : 'l', f);
        fputs("}\n\\toprule\n", f);
        for (size_t r = 0; r <= t->nrows; r++) {
            for (size_t c = 0; c < nc; c++) {
                if (c)
                    fputs(" & ", f);
                table_put_text(f, r ? table_cell(t, r - 1, c) : t->cols[c], fmt);
            }
            fputs(" \\\\\n", f);
            if (r == 0)
                fputs("\\midrule\n", f);
        }
        fputs("\\bottomrule\n\\end{tabular}\n", f);
        break;
    case RW_TF_JSON:
        fputs("[", f);
        for (size_t r = 0; r < t->nrows; r++) {
            fputs(r ? ",\n {" : "\n {", f);
            for (size_t c = 0; c < nc; c++) {
                if (c)
                    fputs(", ", f);
                put_json(f, t->cols[c]);
                fputs(": ", f);
                put_json_cell(f, table_cell(t, r, c), t->numeric[c]);
            }
            fputc('}', f);
        }
        fputs("\n]\n", f);
        break;
    }
    return ferror(f) ? RW_EIO : RW_OK;
}

typedef struct {
    const rw_table *t;
    rw_tformat fmt;
} table_out;

static rw_status write_table_out(FILE *f, void *ctx)
{
    const table_out *w = ctx;
    return table_write(w->t, f, w->fmt);
}

rw_status table_write_path(const rw_table *t, const char *path, rw_tformat fmt, rw_err *err)
{
    table_out w = {t, fmt};
    return outfile_write(path, write_table_out, &w, err);
}

/* ------------------------------------------------------------- reading */

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
