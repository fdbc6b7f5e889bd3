/*
 * test_table.c — reading tables back (table_read): TSV and CSV, blank lines
 * and CRLF, ragged rows and duplicate columns as errors naming the line,
 * numeric-column detection, and tables read from one block that are then
 * grown, sorted and freed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "table.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reads_tsv_with_crlf_and_blank_lines),
        cmocka_unit_test(reads_csv_quotes),
        cmocka_unit_test(numeric_detection_edge_cases),
        cmocka_unit_test(errors_name_the_line),
        cmocka_unit_test(header_only_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
