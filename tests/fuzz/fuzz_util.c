/*
 * fuzz_util.c — the harnesses' shared helpers (fuzz.h): the scratch
 * directory that inputs are written to, and the walk over a checkpoint.
 */
#include "tests/fuzz/fuzz.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

// ----------------------------------------------------------- scratch files

static char g_dir[256];          /* the scratch directory, "" before first use */
static char g_paths[8][sizeof g_dir + 64]; /* files written there, removed at exit */
static size_t g_npaths;

static void scratch_remove(void)
{
    for (size_t i = 0; i < g_npaths; i++)
        unlink(g_paths[i]);
    rmdir(g_dir);
}

/* In $RW_FUZZ_DIR when set (run.sh: one directory per run, removed after
 * it, since a job that crashes never reaches atexit), else in /dev/shm when
 * it is a writable directory (tmpfs: the inputs never touch a disk), else
 * in $TMPDIR, else in /tmp. */
static void scratch_make(void)
{
    const char *base = getenv("RW_FUZZ_DIR");
    struct stat sb;
    if (!base || !*base) {
        base = "/dev/shm";
        if (stat(base, &sb) != 0 || !S_ISDIR(sb.st_mode) || access(base, W_OK) != 0)
            base = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    }
    snprintf(g_dir, sizeof g_dir, "%s/rw-fuzz-XXXXXX", base);
    if (!mkdtemp(g_dir)) {
        perror("fuzz: mkdtemp");
        abort();
    }
    atexit(scratch_remove);
}

const char *fuzz_file(const char *name, const uint8_t *data, size_t size)
{
    if (!*g_dir)
        scratch_make();
    /* The path of name, remembered for removal at exit (the harnesses use
     * a handful of names). */
    char path[sizeof *g_paths];
    if (strchr(name, '/') ||
        snprintf(path, sizeof path, "%s/%s", g_dir, name) >= (int)sizeof path) {
        fprintf(stderr, "fuzz: bad scratch name %s\n", name);
        abort();
    }
    size_t i = 0;
    while (i < g_npaths && strcmp(g_paths[i], path) != 0)
        i++;
    if (i == g_npaths) {
        if (g_npaths == sizeof g_paths / sizeof *g_paths) {
            fprintf(stderr, "fuzz: too many scratch files\n");
            abort();
        }
        strcpy(g_paths[g_npaths++], path);
    }
    const char *p = g_paths[i];
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        perror(p);
        abort();
    }
    for (size_t done = 0; done < size;) {
        ssize_t w = write(fd, data + done, size - done);
        if (w <= 0) {
            perror(p);
            abort();
        }
        done += (size_t)w;
    }
    if (close(fd) != 0) {
        perror(p);
        abort();
    }
    return p;
}

// ------------------------------------------------------- checkpoint walk

static void invariant(bool ok, const char *what, const rw_ckpt *c)
{
    if (!ok) {
        fprintf(stderr, "fuzz: %s: broken invariant: %s\n", c->path, what);
        abort();
    }
}

void fuzz_walk_ckpt(rw_ckpt *c)
{
    /* What run discovery and the tables use. */
    (void)ckpt_step(c);
    (void)ckpt_attr(c, "run");
    double d;
    (void)ckpt_attr_double(c, "lora_alpha", &d);
    for (size_t i = 0; i < c->nattrs; i++)
        invariant(c->attrs[i].key && c->attrs[i].value, "attribute without key or value", c);

    double *buf = NULL;
    volatile double sink = 0;
    for (size_t i = 0; i < c->n; i++) {
        const rw_tensor *t = &c->tensors[i];
        invariant(t->name && t->module, "tensor without name or module", c);
        invariant(i == 0 || strcmp(c->tensors[i - 1].name, t->name) <= 0,
                  "tensors not sorted by name", c);
        invariant(t->ndim >= 0 && t->ndim <= RW_MAX_DIMS, "rank out of range", c);
        size_t numel = 1;
        for (int k = 0; k < t->ndim; k++) {
            invariant(t->shape[k] >= 0, "negative dimension", c);
            numel *= (size_t)t->shape[k]; /* checked by the reader: cannot wrap */
        }
        invariant(numel == t->numel, "numel is not the product of the shape", c);
        invariant(ckpt_find(c, t->name) >= 0, "ckpt_find misses a listed tensor", c);
        char shape[160];
        rw_shape_str(t, shape, sizeof shape);
        int64_t rows, cols;
        if (rw_tensor_matrix(t, &rows, &cols))
            invariant(rows >= 0 && cols >= 0 && (size_t)rows * (size_t)cols == t->numel,
                      "the matrix is not the tensor's size", c);

        if (!rw_dtype_is_float(t->dtype) || t->numel > FUZZ_MAX_NUMEL)
            continue;
        free(buf);
        /* numel + 1 so that a 0-element tensor still gets a real buffer. */
        if (!(buf = malloc((t->numel + 1) * sizeof *buf)))
            abort();
        rw_err err = {{0}};
        if (ckpt_read(c, i, buf, &err) == RW_OK)
            for (size_t k = 0; k < t->numel; k++)
                sink += buf[k]; /* every value read must be defined (MSan, valgrind) */
        else
            invariant(err.msg[0] != '\0', "a failed read without a message", c);
    }
    free(buf);
    (void)sink;
}
