/*
 * test_table.c — reading tables back (table_read): TSV and CSV, blank lines
 * and CRLF, ragged rows and duplicate columns as errors naming the line,
 * numeric-column detection, and tables read from one block that are then
 * grown, sorted and freed; the escape rule for text in cells (every byte
 * but NUL round-trips through TSV and CSV; md, tex, json spelled as
 * table.h says) and malformed escapes refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/table.h"
#include "io/table_keys.h"

/* Writes text to a fresh temporary file named *.SUFFIX; returns its path
 * (static buffer, valid until the next call). */
static const char *write_tmp(const char *text, const char *suffix)
{
    static char path[64];
    snprintf(path, sizeof path, "/tmp/rw_test_table_XXXXXX.%s", suffix);
    int fd = mkstemps(path, (int)strlen(suffix) + 1);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void reads_tsv_with_crlf_and_blank_lines(void **state)
{
    (void)state;
    const char *p = write_tmp("run\tstep\tper\r\n\nb\t10\t0.5\r\na\t2\tnan\n\na\t1\t1e-3", "tsv");
    rw_table *t;
    rw_err err = {{0}};
    assert_int_equal(table_read(p, &t, &err), RW_OK);
    unlink(p);
    assert_int_equal(t->ncols, 3);
    assert_int_equal(t->nrows, 3);
    assert_string_equal(t->cols[2], "per");
    assert_string_equal(table_cell(t, 0, 0), "b");
    assert_string_equal(table_cell(t, 1, 2), "nan");
    assert_string_equal(table_cell(t, 2, 2), "1e-3");
    assert_false(t->numeric[0]);
    assert_true(t->numeric[1]);
    assert_true(t->numeric[2]); /* nan is a number */

    /* Rows added after reading, sorting and freeing mix owned and read cells. */
    const char *row[] = {"a", "0", "0.25"};
    assert_int_equal(table_add_row(t, row, &err), RW_OK);
    table_sort_default(t);
    assert_string_equal(table_cell(t, 0, 1), "0");
    assert_string_equal(table_cell(t, 1, 1), "1");
    assert_string_equal(table_cell(t, 2, 1), "2");
    assert_string_equal(table_cell(t, 3, 0), "b");
    table_free(t);
}

static void reads_csv_quotes(void **state)
{
    (void)state;
    const char *p = write_tmp("name,v\n\"a,b\",1\n\"say \"\"hi\"\"\",2.5\n", "csv");
    rw_table *t;
    rw_err err = {{0}};
    assert_int_equal(table_read(p, &t, &err), RW_OK);
    unlink(p);
    assert_int_equal(t->nrows, 2);
    assert_string_equal(table_cell(t, 0, 0), "a,b");
    assert_string_equal(table_cell(t, 1, 0), "say \"hi\"");
    assert_true(t->numeric[1]);
    table_free(t);
}

static void numeric_detection_edge_cases(void **state)
{
    (void)state;
    /* Column a: forms the fast path must accept or hand to strtod; b: an
     * overflowing value is not a number; c: an empty cell is not either. */
    const char *p = write_tmp("a\tb\tc\n"
                              "-inf\t1\t1\n"
                              "+.5\t1e999\t\n"
                              "1E+05\t2\t3\n"
                              "0x1p3\t3\t4\n"
                              "1e-320\t4\t5\n",
                              "tsv");
    rw_table *t;
    rw_err err = {{0}};
    assert_int_equal(table_read(p, &t, &err), RW_OK);
    unlink(p);
    assert_true(t->numeric[0]);
    assert_false(t->numeric[1]);
    assert_false(t->numeric[2]);
    table_free(t);
}

static void errors_name_the_line(void **state)
{
    (void)state;
    rw_table *t = NULL;
    rw_err err = {{0}};
    const char *p = write_tmp("run\tstep\tper\na\t1\t0.5\n\na\t2\n", "tsv");
    assert_int_equal(table_read(p, &t, &err), RW_EDATA);
    assert_null(t);
    assert_non_null(strstr(err.msg, ":4: 2 fields, header has 3"));
    unlink(p);

    p = write_tmp("run\tper\tper\n", "tsv");
    assert_int_equal(table_read(p, &t, &err), RW_EDATA);
    assert_non_null(strstr(err.msg, ":1: column 'per' appears twice"));
    unlink(p);

    p = write_tmp("\n\n", "tsv");
    assert_int_equal(table_read(p, &t, &err), RW_EDATA);
    assert_non_null(strstr(err.msg, "empty table"));
    unlink(p);

    p = write_tmp("a,b\n\"x,1\n", "csv");
    assert_int_equal(table_read(p, &t, &err), RW_EDATA);
    assert_non_null(strstr(err.msg, ":2: unterminated quote"));
    unlink(p);

    assert_int_equal(table_read("/nonexistent/x.tsv", &t, &err), RW_EIO);
}

static void header_only_table(void **state)
{
    (void)state;
    const char *p = write_tmp("run\tstep\n", "tsv");
    rw_table *t;
    rw_err err = {{0}};
    assert_int_equal(table_read(p, &t, &err), RW_OK);
    unlink(p);
    assert_int_equal(t->nrows, 0);
    assert_false(t->numeric[1]);
    table_free(t);
}

/* ------------------------------------------------- text in cells */

/* name holds the bytes 1..255 in order, then each 1..255 in turn */
static char all_bytes[256];

static void fill_all_bytes(void)
{
    for (int i = 1; i < 256; i++)
        all_bytes[i - 1] = (char)i;
    all_bytes[255] = '\0';
}

/* Writes a table whose column name and cells are `name` in format fmt to a
 * temporary *.SUFFIX file, reads it back and checks every cell. */
static void round_trip_file(const char *name, rw_tformat fmt, const char *suffix)
{
    const char *cols[] = {name, "v"};
    rw_table *t = table_new(cols, 2);
    assert_non_null(t);
    rw_err err = {{0}};
    const char *row[] = {name, "1.5"}, *row2[] = {"plain", name};
    assert_int_equal(table_add_row(t, row, &err), RW_OK);
    assert_int_equal(table_add_row(t, row2, &err), RW_OK);
    const char *p = write_tmp("", suffix);
    assert_int_equal(table_write_path(t, p, fmt, &err), RW_OK);
    table_free(t);
    if (fmt == RW_TF_TSV) {
        /* Exactly three lines of two fields: nothing in a name splits them. */
        FILE *f = fopen(p, "r");
        assert_non_null(f);
        int c, nl = 0, tabs = 0;
        while ((c = fgetc(f)) != EOF) {
            nl += c == '\n';
            tabs += c == '\t';
            assert_true(c != '\r');
        }
        fclose(f);
        assert_int_equal(nl, 3);
        assert_int_equal(tabs, 3);
    }
    assert_int_equal(table_read(p, &t, &err), RW_OK);
    unlink(p);
    assert_int_equal(t->ncols, 2);
    assert_int_equal(t->nrows, 2);
    assert_string_equal(t->cols[0], name);
    assert_string_equal(table_cell(t, 0, 0), name);
    assert_string_equal(table_cell(t, 0, 1), "1.5");
    assert_string_equal(table_cell(t, 1, 0), "plain");
    assert_string_equal(table_cell(t, 1, 1), name);
    table_free(t);
}

static void every_byte_round_trips_through_tsv_and_csv(void **state)
{
    (void)state;
    fill_all_bytes();
    for (int i = 1; i < 256; i++) {
        /* One byte alone, and between others (escapes next to text). */
        char one[2] = {(char)i, 0}, mid[8];
        snprintf(mid, sizeof mid, "a%cb\\", i);
        char *e = table_text_dup(one, RW_TF_TSV);
        assert_non_null(e);
        assert_null(table_unescape_tsv(e));
        assert_string_equal(e, one);
        free(e);
        e = table_text_dup(mid, RW_TF_TSV);
        assert_null(strpbrk(e, "\t\n\r"));
        assert_null(table_unescape_tsv(e));
        assert_string_equal(e, mid);
        free(e);
    }
    round_trip_file(all_bytes, RW_TF_TSV, "tsv");
    round_trip_file(all_bytes, RW_TF_CSV, "csv");
    round_trip_file("layers.0.a\tb\nc\\d\"e,f\r", RW_TF_TSV, "tsv");
    round_trip_file("layers.0.a\tb\nc\\d\"e,f\r", RW_TF_CSV, "csv");
    round_trip_file("\"", RW_TF_CSV, "csv");
    round_trip_file("\r\n", RW_TF_CSV, "csv");
}

static void expect_text(const char *s, rw_tformat fmt, const char *want)
{
    char *got = table_text_dup(s, fmt);
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void each_format_spells_text_as_documented(void **state)
{
    (void)state;
    const char *s = "a\\b\tc\nd\re\x01" "f\x7f" "g";
    expect_text(s, RW_TF_TSV, "a\\\\b\\tc\\nd\\re\\x01f\\x7fg");
    expect_text("x|y<z&w`v\\u\tt*_", RW_TF_MD, "x\\|y\\<z\\&w\\`v\\\\u\\tt*_");
    expect_text("a_b\\c\td<>|%&#${}~^", RW_TF_TEX,
                "a\\_b\\textbackslash{}\\textbackslash{}c\\textbackslash{}td\\textless{}"
                "\\textgreater{}\\textbar{}\\%\\&\\#\\$\\{\\}\\textasciitilde{}"
                "\\textasciicircum{}");
    expect_text("\x1b", RW_TF_TEX, "\\textbackslash{}x1b");
    expect_text("plain,\"q\"", RW_TF_CSV, "\"plain,\"\"q\"\"\"");
    expect_text("tab\tonly", RW_TF_CSV, "tab\tonly");
    /* JSON: escapes, UTF-8 kept, ill-formed bytes (a lone continuation, an
     * overlong '/', a surrogate, above U+10FFFF, a cut sequence) as U+FFFD. */
    expect_text("q\"b\\n\nt\tr\r\x01\x7f é ✓ \xf0\x9f\x98\x80", RW_TF_JSON,
                "\"q\\\"b\\\\n\\nt\\tr\\r\\u0001\x7f é ✓ \xf0\x9f\x98\x80\"");
    expect_text("\x80|\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\xe2\x9c", RW_TF_JSON,
                "\"\\ufffd|\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd\\ufffd|"
                "\\ufffd\\ufffd\"");
}

/* The JSON of a table parses (cJSON), names decode to the same bytes, and a
 * numeric column's cells are numbers only when JSON can spell them so. */
static void json_output_parses(void **state)
{
    (void)state;
    const char *name = "layers.0.\"a\"\tb\nc\\d\x01 é";
    const char *cols[] = {"tensor", "v"};
    rw_table *t = table_new(cols, 2);
    rw_err err = {{0}};
    const char *vals[] = {"1.5", "+1", "0x10", "nan", "", "-0", "1e999", "01"};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        const char *row[] = {name, vals[i]};
        assert_int_equal(table_add_row(t, row, &err), RW_OK);
    }
    table_set_numeric(t, 1, true);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    assert_int_equal(table_write(t, m, RW_TF_JSON), RW_OK);
    fclose(m);
    table_free(t);
    cJSON *j = cJSON_Parse(buf);
    assert_non_null(j);
    assert_int_equal(cJSON_GetArraySize(j), 8);
    for (int i = 0; i < 8; i++) {
        cJSON *o = cJSON_GetArrayItem(j, i);
        assert_string_equal(cJSON_GetObjectItem(o, "tensor")->valuestring, name);
        cJSON *v = cJSON_GetObjectItem(o, "v");
        if (i == 0 || i == 5)
            assert_true(cJSON_IsNumber(v));
        else if (i == 4)
            assert_true(cJSON_IsNull(v));
        else
            assert_string_equal(v->valuestring, vals[i]);
    }
    cJSON_Delete(j);
    free(buf);
}

static void malformed_escapes_are_refused(void **state)
{
    (void)state;
    const char *bad[] = {"a\\q", "a\\", "a\\x0", "a\\x00", "a\\xg1", "a\\T"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char s[16];
        snprintf(s, sizeof s, "%s", bad[i]);
        assert_ptr_equal(table_unescape_tsv(s), s + 1);
        char text[64];
        snprintf(text, sizeof text, "run\ttensor\nok\tb\\\\\n\nr\t%s\n", bad[i]);
        const char *p = write_tmp(text, "tsv");
        rw_table *t = NULL;
        rw_err err = {{0}};
        assert_int_equal(table_read(p, &t, &err), RW_EDATA);
        assert_null(t);
        assert_non_null(strstr(err.msg, ":4: field 2: malformed escape"));
        assert_null(strchr(err.msg, '\n'));
        unlink(p);
    }
    char hex[] = "\\x4A\\x4a";
    assert_null(table_unescape_tsv(hex));
    assert_string_equal(hex, "JJ");
}

static void csv_quoted_newlines_keep_line_numbers(void **state)
{
    (void)state;
    /* A record spanning lines 2-4; the ragged row after it is on line 5. */
    const char *p = write_tmp("name,v\r\n\"a\nb\r\nc\",1\r\nd,2,3\n", "csv");
    rw_table *t = NULL;
    rw_err err = {{0}};
    assert_int_equal(table_read(p, &t, &err), RW_EDATA);
    assert_non_null(strstr(err.msg, ":5: 3 fields, header has 2"));
    unlink(p);
    p = write_tmp("name,v\n\"a\"b,1\n", "csv");
    assert_int_equal(table_read(p, &t, &err), RW_EDATA);
    assert_non_null(strstr(err.msg, ":2: text after a closing quote"));
    unlink(p);
    p = write_tmp("name,v\n\"a\nb\r\nc\",\"\"\n,\n\"x\",\"y\"", "csv");
    assert_int_equal(table_read(p, &t, &err), RW_OK);
    unlink(p);
    assert_int_equal(t->nrows, 3);
    assert_string_equal(table_cell(t, 0, 0), "a\nb\r\nc");
    assert_string_equal(table_cell(t, 0, 1), "");
    assert_string_equal(table_cell(t, 1, 0), "");
    assert_string_equal(table_cell(t, 1, 1), "");
    assert_string_equal(table_cell(t, 2, 0), "x");
    assert_string_equal(table_cell(t, 2, 1), "y");
    table_free(t);
}

/* The data of a table's rows: weights without a data column, else the
 * label of its rows, which must agree. */
static void data_labels(void **state)
{
    (void)state;
    const char *cols[] = {"run", "data", "split", "per"};
    rw_table *t = table_new(cols, 4);
    rw_err err = {{0}};
    char buf[64];
    assert_int_equal(table_data_label(t, "t.tsv", buf, sizeof buf, &err), RW_OK);
    assert_string_equal(buf, "weights"); /* no rows: nothing says otherwise */
    const char *r1[] = {"a", "gradients", "train", "1"}, *r2[] = {"b", "gradients", "val", "1"};
    assert_int_equal(table_add_row(t, r1, &err), RW_OK);
    assert_int_equal(table_data_label(t, "t.tsv", buf, sizeof buf, &err), RW_OK);
    assert_string_equal(buf, "gradients (train)");
    assert_int_equal(table_add_row(t, r2, &err), RW_OK);
    assert_int_equal(table_data_label(t, "t.tsv", buf, sizeof buf, &err), RW_EDATA);
    assert_string_equal(err.msg, "t.tsv: row 2 is of gradients (val), row 1 of gradients "
                                 "(train): a table holds one kind of data");
    table_free(t);
    const char *wcols[] = {"run", "per"}, *w1[] = {"a", "1"};
    t = table_new(wcols, 2);
    assert_int_equal(table_add_row(t, w1, &err), RW_OK);
    assert_int_equal(table_data_label(t, "w.tsv", buf, sizeof buf, &err), RW_OK);
    assert_string_equal(buf, "weights");
    assert_true(table_is_key_col("data") && table_is_key_col("split"));
    assert_false(table_is_metric_name("data"));
    table_free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_tsv_with_crlf_and_blank_lines),
        cmocka_unit_test(reads_csv_quotes),
        cmocka_unit_test(numeric_detection_edge_cases),
        cmocka_unit_test(errors_name_the_line),
        cmocka_unit_test(header_only_table),
        cmocka_unit_test(every_byte_round_trips_through_tsv_and_csv),
        cmocka_unit_test(each_format_spells_text_as_documented),
        cmocka_unit_test(json_output_parses),
        cmocka_unit_test(malformed_escapes_are_refused),
        cmocka_unit_test(csv_quoted_newlines_keep_line_numbers),
        cmocka_unit_test(data_labels),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
