/*
 * fuzz_table.c — libFuzzer harness of the table reader (io/table.c): the
 * input is read as a TSV table (`x.tsv`) and as a CSV table (`x.csv`), the
 * two parsers table_read chooses between by extension. A table read is then
 * sorted by the default key and written back in every output format, as
 * rw-compare and rw-plot do with the tables they are given.
 */
#include "tests/fuzz/fuzz.h"
#include "io/table.h"

#include <stdio.h>
#include <stdlib.h>

static void read_one(const char *path)
{
    rw_err err = {{0}};
    rw_table *t = NULL;
    rw_status st = table_read(path, &t, &err);
    if (st != RW_OK) {
        if (err.msg[0] == '\0') {
            fprintf(stderr, "fuzz: status %d without a message\n", (int)st);
            abort();
        }
        return;
    }
    for (size_t r = 0; r < t->nrows; r++)
        for (size_t c = 0; c < t->ncols; c++)
            if (!table_cell(t, r, c))
                abort();
    table_sort_default(t);
    FILE *null = fopen("/dev/null", "w");
    if (!null)
        abort();
    for (int fmt = RW_TF_TSV; fmt <= RW_TF_JSON; fmt++)
        (void)table_write(t, null, (rw_tformat)fmt);
    fclose(null);
    table_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    read_one(fuzz_file("x.tsv", data, size));
    read_one(fuzz_file("x.csv", data, size));
    return 0;
}
