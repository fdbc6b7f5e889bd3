/*
 * test_keras.c — Keras HDF5 files (fixtures/keras.h writes them): Keras 3's
 * layers/<name>/vars/<i> get the layer's position in natural order and a
 * module named after the layer (kernel, bias, vars.<i>), nested models and
 * Keras 2.13's _layer_checkpoint_dependencies too; optimizer state of Keras
 * 2 and 3 flagged and not analysed by default; conv kernels of Keras files
 * matricized (k...·in, out), of other files (out, in·k...); values read
 * back; the items carry the tensors' modules; the realdata Conv1D model
 * (skipped, saying so, when ../shared/realdata is absent).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analyzers/core/items.h"
#include "fixtures/keras.h"
#include "io/ckpt.h"
#include "io/run.h"
#include "tests/testutil.h"

static char tmpdir[256];

static int setup(void **state)
{
    (void)state;
    rw_err err = {{0}};
    if (test_tmpdir_make(tmpdir, sizeof tmpdir, "keras") != 0)
        return -1;
    return keras_write_files(tmpdir, &err) == RW_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return test_tmpdir_remove(tmpdir);
}

static rw_ckpt *open_file(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    rw_ckpt *c;
    rw_err err = {{0}};
    assert_int_equal(ckpt_open(path, NULL, &c, &err), RW_OK);
    return c;
}

static const rw_tensor *tensor(const rw_ckpt *c, const char *name)
{
    long i = ckpt_find(c, name);
    if (i < 0)
        fail_msg("no tensor %s", name);
    return &c->tensors[i];
}

/* Tensor name: its layer, module, matrix shape (0 x 0: not a matrix) and
 * whether it is optimizer state. */
typedef struct {
    const char *name;
    int layer;
    const char *module;
    int64_t rows, cols;
    bool optimizer;
} expect;

static void check(const rw_ckpt *c, const expect *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const rw_tensor *t = tensor(c, e[i].name);
        int64_t m = 0, k = 0;
        bool mat = rw_tensor_matrix(t, &m, &k);
        if (t->layer != e[i].layer || strcmp(t->module, e[i].module) != 0 ||
            mat != (e[i].rows > 0) || (mat && (m != e[i].rows || k != e[i].cols)) ||
            t->optimizer != e[i].optimizer)
            fail_msg("%s: layer %d module %s matrix %lldx%lld optimizer %d; expected %d %s "
                     "%lldx%lld %d",
                     e[i].name, t->layer, t->module, (long long)m, (long long)k, t->optimizer,
                     e[i].layer, e[i].module, (long long)e[i].rows, (long long)e[i].cols,
                     e[i].optimizer);
    }
}

/* Every float tensor reads back as written (C order, whatever its matrix
 * shape: the matrix is that order, row-major). */
static void values_read_back(rw_ckpt *c)
{
    rw_err err = {{0}};
    for (size_t i = 0; i < c->n; i++) {
        const rw_tensor *t = &c->tensors[i];
        if (!rw_dtype_is_float(t->dtype))
            continue;
        double *buf = calloc(t->numel ? t->numel : 1, sizeof *buf);
        assert_non_null(buf);
        assert_int_equal(ckpt_read(c, i, buf, &err), RW_OK);
        for (size_t e = 0; e < t->numel; e++)
            if (buf[e] != keras_value(e))
                fail_msg("%s[%zu] = %g, not %g", t->name, e, buf[e], keras_value(e));
        free(buf);
    }
}

/* Opens file, checks e (n of them) and its values, and closes it. */
static void check_file(const char *file, const expect *e, size_t n)
{
    rw_ckpt *c = open_file(file);
    check(c, e, n);
    values_read_back(c);
    ckpt_free(c);
}

static void keras3_layers_and_modules(void **state)
{
    (void)state;
    rw_ckpt *c = open_file("keras3.weights.h5");
    assert_int_equal(c->n, 23);
    static const expect e[] = {
        /* natural order: batch_normalization, conv2d, dense, dense_1, dense_2,
         * dense_10, (dropout: integer state only), lstm, sequential/dense */
        {"layers.batch_normalization.vars.0", 0, "batch_normalization.vars.0", 0, 0, false},
        {"layers.batch_normalization.vars.3", 0, "batch_normalization.vars.3", 0, 0, false},
        {"layers.conv2d.vars.0", 1, "conv2d.kernel", 18, 4, false}, /* 3x3x2x4 */
        {"layers.conv2d.vars.1", 1, "conv2d.bias", 0, 0, false},
        {"layers.dense.vars.0", 2, "dense.kernel", 8, 6, false},
        {"layers.dense.vars.1", 2, "dense.bias", 0, 0, false},
        {"layers.dense_1.vars.0", 3, "dense_1.kernel", 6, 5, false},
        {"layers.dense_1.vars.1", 3, "dense_1.bias", 0, 0, false},
        {"layers.dense_2.vars.0", 4, "dense_2.kernel", 5, 3, false},
        {"layers.dense_10.vars.0", 5, "dense_10.kernel", 3, 2, false},
        {"layers.dense_10.vars.1", 5, "dense_10.bias", 0, 0, false},
        {"layers.dropout.seed_generator.vars.0", -1, "dropout.seed_generator.vars.0", 0, 0,
         false},
        {"layers.lstm.cell.vars.0", 6, "lstm.cell.kernel", 3, 8, false},
        /* 2-D but not vars/0; 1-D but not as long as the kernel's last dim */
        {"layers.lstm.cell.vars.1", 6, "lstm.cell.vars.1", 2, 8, false},
        {"layers.lstm.cell.vars.2", 6, "lstm.cell.vars.2", 0, 0, false},
        {"layers.sequential.layers.dense.vars.0", 7, "sequential.dense.kernel", 2, 2, false},
        {"layers.sequential.layers.dense.vars.1", 7, "sequential.dense.bias", 0, 0, false},
        /* the optimizer: not a layer, its own names, Keras's matrices */
        {"optimizer.vars.0", -1, "optimizer.vars.0", 0, 0, true},
        {"optimizer.vars.1", -1, "optimizer.vars.1", 0, 0, true},
        {"optimizer.vars.2", -1, "optimizer.vars.2", 18, 4, true},
        {"optimizer.vars.3", -1, "optimizer.vars.3", 8, 6, true},
    };
    check(c, e, sizeof e / sizeof *e);
    values_read_back(c);

    /* The items carry the modules; optimizer state only when included. */
    rw_items it;
    rw_err err = {{0}};
    assert_int_equal(items_list(c, NULL, NULL, &it, &err), RW_OK);
    long k = items_find(&it, "layers.dense_1.vars.0", RW_COMP_WEIGHT);
    assert_true(k >= 0);
    assert_int_equal(it.v[k].layer, 3);
    assert_string_equal(it.v[k].module, "dense_1.kernel");
    assert_int_equal(it.v[k].rows, 6);
    long ko = items_find(&it, "optimizer.vars.2", RW_COMP_WEIGHT);
    assert_true(ko >= 0);
    assert_int_equal(it.v[ko].rows, 18);
    rw_select none = {0}, inc = {0};
    assert_true(item_selected(&it.v[k], &none, 0));
    assert_false(item_selected(&it.v[ko], &none, 0));
    assert_int_equal(rw_select_add(&inc, true, "optimizer.*", &err), RW_OK);
    assert_true(item_selected(&it.v[ko], &inc, 0));
    rw_select_free(&inc);
    items_free(&it);
    ckpt_free(c);
}

static void keras213_layout(void **state)
{
    (void)state;
    static const expect e[] = {
        {"_layer_checkpoint_dependencies.conv1d.vars.0", 0, "conv1d.kernel", 15, 4, false},
        {"_layer_checkpoint_dependencies.dense.vars.0", 1, "dense.kernel", 4, 3, false},
        {"_layer_checkpoint_dependencies.dense.vars.1", 1, "dense.bias", 0, 0, false},
    };
    check_file("keras213.weights.h5", e, sizeof e / sizeof *e);
}

static void keras2_files(void **state)
{
    (void)state;
    /* save_weights: known by its root attributes; names as they are. */
    static const expect w[] = {
        {"conv1d.conv1d.kernel:0", -1, "conv1d.conv1d.kernel:0", 15, 4, false}, /* 5x3x4 */
        {"conv1d.conv1d.bias:0", -1, "conv1d.conv1d.bias:0", 0, 0, false},
        {"dense.dense.kernel:0", -1, "dense.dense.kernel:0", 8, 2, false}, /* (in, out) */
    };
    check_file("keras2_weights.h5", w, sizeof w / sizeof *w);

    /* model.save: known by model_weights' layer_names; optimizer_weights/ is
     * optimizer state, matricized Keras's way too. */
    rw_ckpt *c = open_file("keras2_model.h5");
    static const expect m[] = {
        {"model_weights.conv1d.conv1d.kernel:0", -1, "model_weights.conv1d.conv1d.kernel:0",
         15, 4, false},
        {"optimizer_weights.Adam.iterations:0", -1, "optimizer_weights.Adam.iterations:0", 0,
         0, true},
        {"optimizer_weights.Adam.conv1d.kernel.m:0", -1,
         "optimizer_weights.Adam.conv1d.kernel.m:0", 15, 4, true},
    };
    check(c, m, sizeof m / sizeof *m);
    values_read_back(c);
    rw_items it;
    rw_err err = {{0}};
    assert_int_equal(items_list(c, NULL, NULL, &it, &err), RW_OK);
    rw_select none = {0};
    size_t selected = 0;
    for (size_t i = 0; i < it.n; i++)
        selected += item_selected(&it.v[i], &none, 0);
    assert_int_equal(selected, 1); /* the kernel, not its moment */
    items_free(&it);
    ckpt_free(c);
}

static void other_files_keep_pytorch_rule(void **state)
{
    (void)state;
    /* No Keras mark, and `layers/0/vars/0` (a number is no Keras layer):
     * the usual names, PyTorch's matrices. */
    static const expect e[] = {
        {"conv.kernel", -1, "conv.kernel", 5, 12, false},
        {"layers.0.vars.0", 0, "vars.0", 4, 3, false},
    };
    check_file("plain.h5", e, sizeof e / sizeof *e);
}

#define KERAS_DIR "../shared/realdata/keras-models"

static void real_conv1d(void **state)
{
    (void)state;
    struct stat sb;
    if (stat(KERAS_DIR "/KERAS_conv1d_weights.h5", &sb) != 0) {
        print_message("skipped: %s/KERAS_conv1d_weights.h5 is absent\n", KERAS_DIR);
        skip();
    }
    rw_ckpt *c;
    rw_err err = {{0}};
    assert_int_equal(ckpt_open(KERAS_DIR "/KERAS_conv1d_weights.h5", NULL, &c, &err), RW_OK);
    /* Keras 2 save_weights of a Conv1D model: kernels (k, in, out). */
    static const expect e[] = {
        {"conv1_relu.conv1_relu.kernel:0", -1, "conv1_relu.conv1_relu.kernel:0", 280, 32,
         false}, /* 40x7x32 */
        {"conv2_relu.conv2_relu.kernel:0", -1, "conv2_relu.conv2_relu.kernel:0", 1280, 32,
         false}, /* 40x32x32 */
        {"fc1_relu.fc1_relu.kernel:0", -1, "fc1_relu.fc1_relu.kernel:0", 3200, 50, false},
        {"conv1_relu.conv1_relu.bias:0", -1, "conv1_relu.conv1_relu.bias:0", 0, 0, false},
    };
    check(c, e, sizeof e / sizeof *e);
    const rw_tensor *t = tensor(c, "conv1_relu.conv1_relu.kernel:0");
    assert_int_equal(t->ndim, 3);
    assert_int_equal(t->shape[0], 40);
    assert_int_equal(t->shape[2], 32);
    double *buf = calloc(t->numel, sizeof *buf);
    assert_non_null(buf);
    assert_int_equal(ckpt_read(c, (size_t)(t - c->tensors), buf, &err), RW_OK);
    bool nonzero = false;
    for (size_t i = 0; i < t->numel; i++)
        nonzero = nonzero || buf[i] != 0;
    assert_true(nonzero);
    free(buf);
    ckpt_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keras3_layers_and_modules),
        cmocka_unit_test(keras213_layout),
        cmocka_unit_test(keras2_files),
        cmocka_unit_test(other_files_keep_pytorch_rule),
        cmocka_unit_test(real_conv1d),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
