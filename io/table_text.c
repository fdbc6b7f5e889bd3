/*
 * table_text.c — text in cells: the one rule for names (and all text) in
 * output files, per format, and its inverse for TSV (table.h).
 */
#include "io/table.h"

#include <stdlib.h>
#include <string.h>

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
