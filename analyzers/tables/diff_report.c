/*
 * diff_report.c — rw-diff's report: text, Markdown and JSON writers of the
 * counts, the tolerances and the differences worst first (diff.h:
 * diff_write). Names go out through table_put_text (table.h's one rule for
 * text in output files).
 */
#include "analyzers/tables/diff_impl.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *kind_name(rw_diff_kind k)
{
    static const char *const names[] = {"table_missing", "table_extra", "column_missing",
                                        "column_extra",  "value",       "label",
                                        "row_missing",   "row_extra"};
    return names[k];
}

/* "%.3g" of a finite number, "nan"/"inf" otherwise. */
static char *g3(char *buf, double x, bool sign)
{
    if (isnan(x))
        return strcpy(buf, "nan");
    snprintf(buf, 32, sign ? "%+.3g" : "%.3g", x);
    return buf;
}

/* The tolerance settings, one line. */
static void put_tolerance(const rw_diff *d, FILE *f, bool md)
{
    char a[32], b[32];
    fprintf(f, md ? "|current − baseline| ≤ atol + rtol·|baseline|, rtol %s, atol %s"
                  : "|current - baseline| <= atol + rtol*|baseline|: rtol %s, atol %s",
            g3(a, d->o.rtol, false), g3(b, d->o.atol, false));
    for (size_t i = 0; i < d->o.ntols; i++) {
        const rw_tol *t = &d->o.tols[i];
        fprintf(f, "%s%s: rtol %s", i ? ", " : "; ", t->metric, g3(a, t->rtol, false));
        if (!isnan(t->atol))
            fprintf(f, " atol %s", g3(b, t->atol, false));
    }
    if (d->o.allow_missing)
        fputs(md ? "; rows, columns and tables on one side allowed"
                 : "; rows, columns and tables on one side allowed (--allow-missing)",
              f);
}

/* How a report writes a name: escaped by table.h's rule for the format
 * (text reports take the tsv form, so that a name cannot split a line), or
 * as is (NAME_RAW) into a cell that table_write escapes. */
enum { NAME_RAW = -1 };

static void put_name(FILE *f, const char *s, int esc)
{
    if (esc == NAME_RAW)
        fputs(s, f);
    else
        table_put_text(f, s, (rw_tformat)esc);
}

/* What the difference is, in words (text and md), names escaped by esc. */
static void put_what(const rw_diff *d, size_t i, FILE *f, int esc)
{
    const rw_difference *x = &d->recs[i].d;
    char a[32], b[32], c[32];
    switch (x->kind) {
    case RW_DK_TABLE_MISSING: fputs("table only in the baseline", f); break;
    case RW_DK_TABLE_EXTRA: fputs("table only in the current tables", f); break;
    case RW_DK_COL_MISSING:
    case RW_DK_COL_EXTRA:
        fputs("column ", f);
        put_name(f, x->column, esc);
        fputs(x->kind == RW_DK_COL_MISSING ? " only in the baseline"
                                           : " only in the current table", f);
        break;
    case RW_DK_ROW_MISSING: fputs("row only in the baseline", f); break;
    case RW_DK_ROW_EXTRA: fputs("row only in the current table", f); break;
    case RW_DK_LABEL:
    case RW_DK_VALUE:
        put_name(f, x->column, esc);
        fputs(": baseline ", f);
        put_name(f, *x->base || x->kind == RW_DK_LABEL ? x->base : "(empty)", esc);
        fputs(", current ", f);
        put_name(f, *x->cur || x->kind == RW_DK_LABEL ? x->cur : "(empty)", esc);
        if (x->kind == RW_DK_LABEL)
            break;
        if (!isnan(x->diff))
            fprintf(f, " (diff %s, %s%%; tolerance %s)", g3(a, x->diff, true),
                    g3(b, 100 * x->rel_diff, true), g3(c, x->tol, false));
        break;
    }
}

static void put_counts(const rw_diff *d, FILE *f, const char *pre, const char *sep, int esc)
{
    const rw_diff_counts *n = &d->counts;
    if (d->npairs > 1 || n->tables_missing || n->tables_extra) {
        fprintf(f, "%stables%s%zu compared, %zu only in the baseline, %zu only in the current",
                pre, sep, n->tables, n->tables_missing, n->tables_extra);
        if (n->tables_skipped) {
            fprintf(f, "; %zu skipped, without key columns:", n->tables_skipped);
            for (size_t i = 0; i < d->npairs; i++)
                if (d->pairs[i].skipped) {
                    fputc(' ', f);
                    put_name(f, d->pairs[i].name, esc);
                }
        }
        fputc('\n', f);
    }
    fprintf(f, "%srows%s%zu matched, %zu only in the baseline, %zu only in the current\n", pre,
            sep, n->rows_matched, n->rows_missing, n->rows_extra);
    if (n->cols_missing || n->cols_extra)
        fprintf(f, "%scolumns%s%zu only in the baseline, %zu only in the current\n", pre, sep,
                n->cols_missing, n->cols_extra);
    fprintf(f, "%svalues%s%zu compared, %zu beyond tolerance", pre, sep, n->values,
            n->values_beyond);
    if (n->labels_differ)
        fprintf(f, "; %zu descriptive cells differ", n->labels_differ);
    fputc('\n', f);
}

/* ": 3 differences" or ": no differences", then end. */
static void put_verdict(FILE *f, size_t nd, const char *end)
{
    if (nd)
        fprintf(f, ": %zu difference%s%s", nd, nd == 1 ? "" : "s", end);
    else
        fprintf(f, ": no differences%s", end);
}

static void write_text(const rw_diff *d, FILE *f, size_t max_show, const char *bn,
                       const char *cn)
{
    size_t nd = d->counts.differences;
    fputs("rw-diff: ", f);
    put_name(f, bn, RW_TF_TSV);
    fputs(" vs ", f);
    put_name(f, cn, RW_TF_TSV);
    put_verdict(f, nd, "\n");
    put_counts(d, f, "  ", ": ", RW_TF_TSV);
    fputs("  tolerance: ", f);
    put_tolerance(d, f, false);
    fputc('\n', f);
    if (!d->nrecs)
        return;
    size_t show = max_show && max_show < d->nrecs ? max_show : d->nrecs;
    fprintf(f, "differences, worst first:\n");
    for (size_t i = 0; i < show; i++) {
        char *key = diff_key(d, i);
        fputs("  ", f);
        put_name(f, d->recs[i].d.table, RW_TF_TSV);
        fputs(": ", f);
        if (key && *key) {
            put_name(f, key, RW_TF_TSV);
            fputs(": ", f);
        }
        put_what(d, i, f, RW_TF_TSV);
        fputc('\n', f);
        free(key);
    }
    if (show < d->nrecs)
        fprintf(f, "  ... and %zu more (--show 0 lists them all)\n", d->nrecs - show);
}

static rw_status write_md(const rw_diff *d, FILE *f, size_t max_show, const char *bn,
                          const char *cn)
{
    fputs("### rw-diff", f);
    put_verdict(f, d->counts.differences, "\n\n");
    /* Names escaped, not in code spans: a backtick in one would end the span. */
    fputs("Baseline ", f);
    put_name(f, bn, RW_TF_MD);
    fputs(", current ", f);
    put_name(f, cn, RW_TF_MD);
    fputs(".\n\n", f);
    put_counts(d, f, "- ", ": ", RW_TF_MD);
    fputs("- tolerance: ", f);
    put_tolerance(d, f, true);
    fputs("\n", f);
    if (!d->nrecs)
        return ferror(f) ? RW_EIO : RW_OK;
    fputc('\n', f);
    static const char *const cols[] = {"table", "key", "column", "baseline", "current",
                                       "diff",  "rel. diff", "tolerance"};
    rw_table *t = table_new(cols, 8);
    if (!t)
        return RW_ENOMEM;
    for (long c = 3; c < 8; c++)
        table_set_numeric(t, c, true);
    size_t show = max_show && max_show < d->nrecs ? max_show : d->nrecs;
    rw_err err = {{0}};
    rw_status st = RW_OK;
    for (size_t i = 0; i < show && st == RW_OK; i++) {
        const rw_difference *x = &d->recs[i].d;
        char *key = diff_key(d, i), a[32];
        char *what = NULL;
        size_t wl = 0;
        const char *base = x->base, *cur = x->cur, *column = x->column ? x->column : "";
        if (x->kind != RW_DK_VALUE && x->kind != RW_DK_LABEL) {
            FILE *m = open_memstream(&what, &wl);
            if (m) {
                put_what(d, i, m, NAME_RAW);
                fclose(m);
            }
            column = what ? what : "";
            base = cur = "";
        }
        bool num = x->kind == RW_DK_VALUE && !isnan(x->diff);
        char dv[32], rel[40], tol[32];
        if (num) {
            g3(dv, x->diff, true);
            snprintf(rel, sizeof rel, "%s%%", g3(a, 100 * x->rel_diff, true));
            g3(tol, x->tol, false);
        }
        const char *cells[] = {x->table, key ? key : "", column, base, cur,
                               num ? dv : "", num ? rel : "", num ? tol : ""};
        st = table_add_row(t, cells, &err);
        free(key);
        free(what);
    }
    if (st == RW_OK)
        st = table_write(t, f, RW_TF_MD);
    table_free(t);
    if (st == RW_OK && show < d->nrecs)
        fprintf(f, "\n… and %zu more.\n", d->nrecs - show);
    return st == RW_OK && ferror(f) ? RW_EIO : st;
}

/* A derived number (diff, tolerance) to 6 significant digits, which is all
 * they carry; the cells themselves go out as written. null when not finite
 * (JSON has no nan). */
static void json_num(FILE *f, double x)
{
    if (isfinite(x))
        fprintf(f, "%.6g", x);
    else
        fputs("null", f);
}

/* Streams the report: {"baseline", "current", "equal", "counts", "tolerance",
 * "differences": [...]}; differences worst first. */
static rw_status write_json(const rw_diff *d, FILE *f, const char *bn, const char *cn)
{
    const rw_diff_counts *n = &d->counts;
    fputs("{\n  \"baseline\": ", f);
    table_put_text(f, bn, RW_TF_JSON);
    fputs(",\n  \"current\": ", f);
    table_put_text(f, cn, RW_TF_JSON);
    fprintf(f, ",\n  \"equal\": %s,\n  \"counts\": {", n->differences ? "false" : "true");
    const struct { const char *k; size_t v; } kv[] = {
        {"differences", n->differences}, {"tables", n->tables},
        {"tables_missing", n->tables_missing}, {"tables_extra", n->tables_extra},
        {"tables_skipped", n->tables_skipped},
        {"rows_matched", n->rows_matched}, {"rows_missing", n->rows_missing},
        {"rows_extra", n->rows_extra}, {"columns_missing", n->cols_missing},
        {"columns_extra", n->cols_extra}, {"values", n->values},
        {"values_beyond", n->values_beyond}, {"labels_differ", n->labels_differ},
    };
    for (size_t i = 0; i < sizeof kv / sizeof *kv; i++)
        fprintf(f, "%s\"%s\": %zu", i ? ", " : "", kv[i].k, kv[i].v);
    fputs("},\n  \"tolerance\": {\"rtol\": ", f);
    json_num(f, d->o.rtol);
    fputs(", \"atol\": ", f);
    json_num(f, d->o.atol);
    fputs(", \"metrics\": {", f);
    for (size_t i = 0; i < d->o.ntols; i++) {
        fputs(i ? ", " : "", f);
        table_put_text(f, d->o.tols[i].metric, RW_TF_JSON);
        fputs(": {\"rtol\": ", f);
        json_num(f, d->o.tols[i].rtol);
        fputs(", \"atol\": ", f);
        json_num(f, isnan(d->o.tols[i].atol) ? d->o.atol : d->o.tols[i].atol);
        fputc('}', f);
    }
    fprintf(f, "}, \"allow_missing\": %s},\n  \"differences\": [",
            d->o.allow_missing ? "true" : "false");
    for (size_t i = 0; i < d->nrecs; i++) {
        const drec *r = &d->recs[i];
        const rw_difference *x = &r->d;
        fputs(i ? ",\n    {\"kind\": " : "\n    {\"kind\": ", f);
        table_put_text(f, kind_name(x->kind), RW_TF_JSON);
        fputs(", \"table\": ", f);
        table_put_text(f, x->table, RW_TF_JSON);
        const rw_table *t;
        const long *k;
        size_t row = diff_rec_row(d, r, &t, &k);
        if (row != SIZE_MAX) {
            fputs(", \"key\": {", f);
            for (int j = 0; j < NKEY; j++) {
                fputs(j ? ", " : "", f);
                table_put_text(f, t->cols[k[j]], RW_TF_JSON);
                fputs(": ", f);
                table_put_text(f, table_cell(t, row, (size_t)k[j]), RW_TF_JSON);
            }
            fputc('}', f);
        }
        if (x->column) {
            fputs(", \"column\": ", f);
            table_put_text(f, x->column, RW_TF_JSON);
        }
        if (x->kind == RW_DK_VALUE || x->kind == RW_DK_LABEL) {
            fputs(", \"baseline\": ", f);
            table_put_text(f, x->base, RW_TF_JSON);
            fputs(", \"current\": ", f);
            table_put_text(f, x->cur, RW_TF_JSON);
        }
        if (x->kind == RW_DK_VALUE) {
            fputs(", \"diff\": ", f);
            json_num(f, x->diff);
            fputs(", \"rel_diff\": ", f);
            json_num(f, x->rel_diff);
            fputs(", \"tolerance\": ", f);
            json_num(f, x->tol);
        }
        fputc('}', f);
    }
    fputs(d->nrecs ? "\n  ]\n}\n" : "]\n}\n", f);
    return ferror(f) ? RW_EIO : RW_OK;
}

rw_status diff_write(const rw_diff *d, FILE *f, rw_diff_format fmt, size_t max_show,
                     const char *base_name, const char *cur_name)
{
    switch (fmt) {
    case RW_DF_TEXT:
        write_text(d, f, max_show, base_name, cur_name);
        return ferror(f) ? RW_EIO : RW_OK;
    case RW_DF_MD:
        return write_md(d, f, max_show, base_name, cur_name);
    case RW_DF_JSON:
        return write_json(d, f, base_name, cur_name);
    }
    return RW_EUSAGE;
}
