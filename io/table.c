/*
 * table.c — tables of text cells: build, sort, write (table.h). Text in
 * cells is escaped by table_text.c, tables are read by table_read.c.
 */
#include "io/table.h"

#include "io/outfile.h"
#include "io/table_keys.h"

#include <math.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

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
        table_put_text(f, s, RW_TF_JSON);
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
                table_put_text(f, t->cols[c], RW_TF_JSON);
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
