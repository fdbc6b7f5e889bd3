/*
 * replay.c — a main for the fuzz harnesses without libFuzzer: feeds each
 * file named on the command line, or each file of each directory named, to
 * LLVMFuzzerTestOneInput, once, in the order given (a directory's files in
 * name order). `make check` links every harness with it and replays the
 * committed corpus and crash reproducers (tests/fuzz/corpus/<target>/,
 * tests/fuzz/crashes/<target>/): a reproducer that crashes again fails the
 * check, under SAN=1 also one that only trips a sanitizer.
 *
 * Exit status: 0 when every input ran, 1 when a file could not be read.
 */
#include "tests/fuzz/fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Runs one file through the harness; false when it cannot be read. */
static bool replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
        return false;
    }
    uint8_t *data = NULL;
    size_t n = 0, cap = 0;
    bool ok = true;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 1 << 16;
            uint8_t *d = realloc(data, cap);
            if (!d) {
                ok = false;
                break;
            }
            data = d;
        }
        size_t got = fread(data + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    if (ferror(f) || !ok) {
        fprintf(stderr, "replay: %s: cannot read\n", path);
        ok = false;
    }
    fclose(f);
    if (ok)
        LLVMFuzzerTestOneInput(data, n);
    free(data);
    return ok;
}

/* Runs every regular file of dir, in name order (hidden files skipped). */
static bool replay_dir(const char *dir, size_t *count)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
        return false;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    bool ok = true;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            char **v = realloc(names, cap * sizeof *v);
            if (!v)
                abort();
            names = v;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        if (!(names[n] = malloc(len)))
            abort();
        snprintf(names[n++], len, "%s/%s", dir, e->d_name);
    }
    closedir(d);
    qsort(names, n, sizeof *names, rw_cmp_str);
    for (size_t i = 0; i < n; i++) {
        struct stat sb;
        if (stat(names[i], &sb) == 0 && S_ISREG(sb.st_mode)) {
            ok = replay_file(names[i]) && ok;
            (*count)++;
        }
        free(names[i]);
    }
    free(names);
    return ok;
}

int main(int argc, char **argv)
{
    bool ok = true;
    size_t count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat sb;
        if (stat(argv[i], &sb) == 0 && S_ISDIR(sb.st_mode)) {
            ok = replay_dir(argv[i], &count) && ok;
        } else {
            ok = replay_file(argv[i]) && ok;
            count++;
        }
    }
    fprintf(stderr, "replay: %zu inputs\n", count);
    return ok ? 0 : 1;
}
