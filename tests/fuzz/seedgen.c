/*
 * seedgen.c — writes the fuzz targets' seed inputs that the programs do not
 * write small enough: safetensors and HDF5 checkpoints through the
 * project's own writers (stwrite.h, h5write.h) in every dtype and shape
 * kind they read, a few HDF5 objects those writers never make (strings,
 * links, compact and unwritten chunked datasets, big-endian floats), and
 * spectra files of the layout of spectra_file.h with a small /sigma
 * (rw-spectra's own are 512 KiB, one chunk of 65536 doubles, too large to
 * mutate quickly). tests/fuzz/seeds.sh runs it and checks that the programs
 * read the spectra files it writes.
 *
 *   seedgen DIR   writes DIR/safetensors/, DIR/hdf5/, DIR/spectra/,
 *                 DIR/pytorch/ (.pt files, zip and legacy, through
 *                 ptwrite.h) and DIR/pickle/ (their data.pkl streams)
 */
#include "fixtures/h5write.h"
#include "fixtures/ptwrite.h"
#include "fixtures/stwrite.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *g_dir;
/* Creation properties without object timestamps: the same seeds are the
 * same bytes each time they are generated. */
static hid_t g_dcpl, g_gcpl, g_fcpl;

static void die(const char *what, const rw_err *err)
{
    fprintf(stderr, "seedgen: %s: %s\n", what, err ? err->msg : "HDF5 call failed");
    exit(1);
}

static const char *out_path(const char *sub, const char *name)
{
    static char p[1024];
    snprintf(p, sizeof p, "%s/%s", g_dir, sub);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/%s/%s", g_dir, sub, name);
    return p;
}

/* 0.25, -0.5, 0.75, ...: distinct values, exact in every dtype. */
static const double *ramp(size_t n)
{
    static double v[256];
    for (size_t i = 0; i < n && i < 256; i++)
        v[i] = (i % 2 ? -0.25 : 0.25) * (double)(i + 1);
    return v;
}

// ------------------------------------------------------------ safetensors

static void st_save(rw_stw *w, const char *name)
{
    rw_err err;
    if (stw_save(w, out_path("safetensors", name), &err) != RW_OK)
        die(name, &err);
    stw_free(w);
}

static void st_seeds(void)
{
    rw_err err;
    const int64_t s23[] = {2, 3}, s44[] = {4, 4}, s24[] = {2, 4}, s42[] = {4, 2},
                  s3[] = {3}, s222[] = {2, 2, 2}, s03[] = {0, 3};
    rw_stw *w = stw_new();
    stw_meta(w, "step", "100", &err);
    stw_meta(w, "run", "full", &err);
    stw_tensor(w, "layers.0.attention.v_proj.weight", 2, s23, RW_DT_F32, ramp(6), &err);
    st_save(w, "f32.safetensors");

    w = stw_new();
    stw_tensor(w, "layers.0.mlp.weight", 2, s23, RW_DT_F16, ramp(6), &err);
    stw_tensor(w, "layers.1.mlp.weight", 2, s23, RW_DT_BF16, ramp(6), &err);
    stw_tensor(w, "layers.2.mlp.weight", 2, s23, RW_DT_F64, ramp(6), &err);
    stw_tensor(w, "layers.2.mlp.bias", 1, s3, RW_DT_F32, ramp(3), &err);
    stw_tensor(w, "conv.weight", 3, s222, RW_DT_F32, ramp(8), &err);
    st_save(w, "dtypes.safetensors");

    /* A ReLoRA-style adapted matrix with its scale in the metadata. */
    w = stw_new();
    stw_meta(w, "lora_alpha", "16", &err);
    stw_meta(w, "lora_r", "2", &err);
    stw_tensor(w, "layers.0.swiglu.w_2.weight", 2, s44, RW_DT_F32, ramp(16), &err);
    stw_tensor(w, "layers.0.swiglu.w_2.lora_A.weight", 2, s24, RW_DT_F32, ramp(8), &err);
    stw_tensor(w, "layers.0.swiglu.w_2.lora_B.weight", 2, s42, RW_DT_F32, ramp(8), &err);
    st_save(w, "lora.safetensors");

    /* Listed but never analysed: integers, 8-bit floats, an unknown dtype,
     * a scalar and an empty matrix. */
    w = stw_new();
    stw_tensor(w, "index", 1, s3, RW_DT_INT, (const double[]){1, 2, 3}, &err);
    stw_tensor_raw(w, "fp8", "F8_E4M3", 1, s3, "\x38\x40\xb8", 3, &err);
    stw_tensor_raw(w, "odd", "Q4_K", 1, s3, "abc", 3, &err);
    stw_tensor(w, "scalar", 0, NULL, RW_DT_F32, ramp(1), &err);
    stw_tensor(w, "empty.weight", 2, s03, RW_DT_F32, NULL, &err);
    st_save(w, "listed.safetensors");

    st_save(stw_new(), "no-tensors.safetensors");

    /* A sharded model's index (the harness also reads every input as one). */
    const char *tensors[] = {"layers.0.w", "layers.1.w"}, *shards[] = {"x.safetensors",
                                                                       "y.safetensors"};
    if (stw_index(out_path("safetensors", "model.safetensors.index.json"), 2, tensors, shards,
                  &err) != RW_OK)
        die("index", &err);
}

// ------------------------------------------------------------------- HDF5

static rw_h5w *h5_open(const char *name)
{
    rw_err err;
    rw_h5w *w;
    if (h5w_open(out_path("hdf5", name), &w, &err) != RW_OK)
        die(name, &err);
    return w;
}

static void h5_close(rw_h5w *w, const char *name)
{
    rw_err err;
    if (h5w_close(w, true, &err) != RW_OK)
        die(name, &err);
}

static void h5_seeds(void)
{
    rw_err err;
    const int64_t s23[] = {2, 3}, s44[] = {4, 4}, s3[] = {3}, s222[] = {2, 2, 2};
    rw_h5w *w = h5_open("flat.h5");
    h5w_dataset(w, "layers.0.attention.v_proj.weight", 2, s23, RW_DT_F32, ramp(6), 0, &err);
    h5w_attr_i64(w, "/", "step", 500, &err);
    h5w_attr_str(w, "/", "run", "relora", &err);
    h5_close(w, "flat.h5");

    w = h5_open("nested.h5");
    h5w_dataset(w, "layers/0/mlp/weight", 2, s23, RW_DT_F16, ramp(6), 0, &err);
    h5w_dataset(w, "layers/1/mlp/weight", 2, s23, RW_DT_BF16, ramp(6), 0, &err);
    h5w_dataset(w, "layers/1/mlp/bias", 1, s3, RW_DT_F64, ramp(3), 0, &err);
    h5w_dataset(w, "layers/2/conv", 3, s222, RW_DT_F32, ramp(8), 0, &err);
    h5w_dataset(w, "index", 1, s3, RW_DT_INT, (const double[]){1, 2, 3}, 0, &err);
    h5_close(w, "nested.h5");

    w = h5_open("gzip.h5");
    h5w_dataset(w, "layers.0.w", 2, s44, RW_DT_F32, ramp(16), 6, &err);
    h5w_dataset(w, "layers.1.w", 2, s44, RW_DT_F16, ramp(16), 1, &err);
    h5_close(w, "gzip.h5");

    w = h5_open("steps.h5");
    h5w_dataset(w, "step_0/layers.0.w", 2, s23, RW_DT_F32, ramp(6), 0, &err);
    h5w_dataset(w, "step_100/layers.0.w", 2, s23, RW_DT_F32, ramp(6), 0, &err);
    h5w_attr_i64(w, "step_100", "step", 100, &err);
    h5_close(w, "steps.h5");

    w = h5_open("lora.h5");
    h5w_dataset(w, "layers.0.v_proj.weight", 2, s44, RW_DT_F64, ramp(16), 0, &err);
    h5w_dataset(w, "layers.0.v_proj.A_lora.weight", 2, (const int64_t[]){1, 4}, RW_DT_F64,
                ramp(4), 0, &err);
    h5w_dataset(w, "layers.0.v_proj.B_lora.weight", 2, (const int64_t[]){4, 1}, RW_DT_F64,
                ramp(4), 0, &err);
    h5w_attr_f64(w, "/", "lora_alpha", 8, &err);
    h5w_attr_i64(w, "/", "lora_r", 1, &err);
    h5w_attr_i64(w, "/", "n_heads", 2, &err);
    h5_close(w, "lora.h5");
}

/* Objects h5write never makes, through the HDF5 API directly: a string
 * dataset, soft and external links, a compact dataset, a chunked dataset
 * never written (its values are the fill value), big-endian floats, and
 * a variable-length string attribute. */
static void h5_odd_seed(void)
{
    const char *path = out_path("hdf5", "odd.h5");
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, g_fcpl, H5P_DEFAULT);
    if (f < 0)
        die(path, NULL);
    hsize_t d2[2] = {2, 2}, d1 = 2;
    hid_t sp2 = H5Screate_simple(2, d2, NULL), sp1 = H5Screate_simple(1, &d1, NULL);
    hid_t scalar = H5Screate(H5S_SCALAR);

    hid_t be = H5Dcreate2(f, "be.weight", H5T_IEEE_F32BE, sp2, H5P_DEFAULT, g_dcpl,
                          H5P_DEFAULT);
    float v[4] = {1, -2, 3, -4};
    H5Dwrite(be, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Dclose(be);

    hid_t dcpl = H5Pcopy(g_dcpl);
    H5Pset_layout(dcpl, H5D_COMPACT);
    hid_t cd = H5Dcreate2(f, "compact.weight", H5T_IEEE_F64LE, sp2, H5P_DEFAULT, dcpl,
                          H5P_DEFAULT);
    double dv[4] = {0.5, 0, 0, 2};
    H5Dwrite(cd, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, dv);
    H5Dclose(cd);
    H5Pclose(dcpl);

    dcpl = H5Pcopy(g_dcpl);
    hsize_t chunk[2] = {1, 2};
    H5Pset_chunk(dcpl, 2, chunk);
    H5Dclose(H5Dcreate2(f, "unwritten.weight", H5T_IEEE_F32LE, sp2, H5P_DEFAULT, dcpl,
                        H5P_DEFAULT));
    H5Pclose(dcpl);

    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, 4);
    hid_t sd = H5Dcreate2(f, "names", st, sp1, H5P_DEFAULT, g_dcpl, H5P_DEFAULT);
    H5Dwrite(sd, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, "abcdefgh");
    H5Dclose(sd);
    H5Tclose(st);

    hid_t vs = H5Tcopy(H5T_C_S1);
    H5Tset_size(vs, H5T_VARIABLE);
    hid_t a = H5Acreate2(f, "run", vs, scalar, H5P_DEFAULT, H5P_DEFAULT);
    const char *run = "odd";
    H5Awrite(a, vs, &run);
    H5Aclose(a);
    H5Tclose(vs);

    H5Lcreate_soft("/be.weight", f, "soft.weight", H5P_DEFAULT, H5P_DEFAULT);
    H5Lcreate_external("other.h5", "/w", f, "external.weight", H5P_DEFAULT, H5P_DEFAULT);
    H5Sclose(sp2);
    H5Sclose(sp1);
    H5Sclose(scalar);
    if (H5Fclose(f) < 0)
        die(path, NULL);
}

// ---------------------------------------------------------------- spectra

typedef struct {
    const char *run, *tensor, *module, *component, *dtype, *source, *kind;
    int64_t step, rows, cols, ref_step;
    int32_t layer;
    double ref_fro;
} spec_entry;

/* Spectra files (version 2) hold fixed-length strings: 64 bytes here. */
#define SEED_STR 64

static hid_t fixed_utf8(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, SEED_STR);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    H5Tset_cset(t, H5T_CSET_UTF8);
    return t;
}

static void column(hid_t g, const char *name, hid_t ftype, hid_t mtype, size_t n,
                   const void *data)
{
    hsize_t dim = n;
    hid_t sp = H5Screate_simple(1, &dim, NULL);
    hid_t ds = H5Dcreate2(g, name, ftype, sp, H5P_DEFAULT, g_dcpl, H5P_DEFAULT);
    if (ds < 0 || (n && H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0))
        die(name, NULL);
    H5Dclose(ds);
    H5Sclose(sp);
}

/* n strings as one fixed-length string column */
static void str_column(hid_t g, const char *name, const char *const *s, size_t n)
{
    static char buf[16 * SEED_STR];
    memset(buf, 0, sizeof buf);
    for (size_t i = 0; i < n && i < 16; i++)
        memcpy(buf + i * SEED_STR, s[i], strnlen(s[i], SEED_STR));
    hid_t t = fixed_utf8();
    column(g, name, t, t, n, buf);
    H5Tclose(t);
}

static void str_attr(hid_t loc, const char *name, const char *value)
{
    char buf[SEED_STR] = {0};
    snprintf(buf, sizeof buf, "%s", value);
    hid_t t = fixed_utf8(), sp = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(loc, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0 || H5Awrite(a, t, buf) < 0)
        die(name, NULL);
    H5Aclose(a);
    H5Sclose(sp);
    H5Tclose(t);
}

/* A spectra file of n entries (sorted as the writer sorts them), each
 * entry's min(rows, cols) singular values k, k-1, ..., 1 concatenated in
 * /sigma; with_sources adds /sources and the options attribute. chunk > 0
 * stores /sigma chunked in chunks of that many values. latest: the newest
 * file format (version 2 object headers, about half the size). */
static void spectra_seed(const char *name, const spec_entry *e, size_t n, bool with_sources,
                         hsize_t chunk, bool latest)
{
    const char *path = out_path("spectra", name);
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (latest)
        H5Pset_libver_bounds(fapl, H5F_LIBVER_LATEST, H5F_LIBVER_LATEST);
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, g_fcpl, fapl);
    H5Pclose(fapl);
    hid_t g = H5Gcreate2(f, "index", H5P_DEFAULT, g_gcpl, H5P_DEFAULT);
    const char *s[16] = {0};
    int64_t iv[16];
    int32_t lv[16];
    double dv[16], sigma[256];
#define STRCOL(field) \
    for (size_t i = 0; i < n; i++) s[i] = e[i].field; \
    str_column(g, #field, s, n);
#define INTCOL(field, expr) \
    for (size_t i = 0; i < n; i++) iv[i] = (expr); \
    column(g, field, H5T_STD_I64LE, H5T_NATIVE_INT64, n, iv);
    STRCOL(run) STRCOL(tensor) STRCOL(module) STRCOL(component) STRCOL(dtype)
    STRCOL(source) STRCOL(kind)
    INTCOL("step", e[i].step) INTCOL("rows", e[i].rows) INTCOL("cols", e[i].cols)
    INTCOL("ref_step", e[i].ref_step)
    INTCOL("count", e[i].rows < e[i].cols ? e[i].rows : e[i].cols)
    size_t nsig = 0;
    for (size_t i = 0; i < n; i++) {
        iv[i] = (int64_t)nsig;
        for (int64_t k = e[i].rows < e[i].cols ? e[i].rows : e[i].cols; k > 0; k--)
            sigma[nsig++] = (double)k;
    }
    column(g, "offset", H5T_STD_I64LE, H5T_NATIVE_INT64, n, iv);
#undef STRCOL
#undef INTCOL
    for (size_t i = 0; i < n; i++) {
        lv[i] = e[i].layer;
        dv[i] = e[i].ref_fro;
    }
    column(g, "layer", H5T_STD_I32LE, H5T_NATIVE_INT32, n, lv);
    column(g, "ref_fro", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, n, dv);
    H5Gclose(g);

    hsize_t dim = nsig, maxdim = H5S_UNLIMITED;
    hid_t sp = H5Screate_simple(1, &dim, chunk ? &maxdim : NULL);
    hid_t dcpl = H5Pcopy(g_dcpl);
    if (chunk)
        H5Pset_chunk(dcpl, 1, &chunk);
    hid_t ds = H5Dcreate2(f, "sigma", H5T_IEEE_F64LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (ds < 0 || (nsig && H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT,
                                    sigma) < 0))
        die(path, NULL);
    H5Dclose(ds);
    H5Pclose(dcpl);
    H5Sclose(sp);

    str_attr(f, "format", "rankwatch-spectra");
    hid_t scalar = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, "version", H5T_STD_I32LE, scalar, H5P_DEFAULT, H5P_DEFAULT);
    int version = 2;
    H5Awrite(a, H5T_NATIVE_INT, &version);
    H5Aclose(a);
    H5Sclose(scalar);
    if (with_sources) {
        str_attr(f, "options", "components=0 updates=1 scale=nan heads=0/0");
        hid_t sg = H5Gcreate2(f, "sources", H5P_DEFAULT, g_gcpl, H5P_DEFAULT);
        const char *runs[] = {"full", "full"}, *paths[] = {"a/step_0.h5", "a/step_100.h5"},
                   *groups[] = {"", ""};
        int64_t steps[] = {0, 100}, sizes[] = {2048, 2048}, mt[] = {1, 2};
        str_column(sg, "run", runs, 2);
        str_column(sg, "path", paths, 2);
        str_column(sg, "group", groups, 2);
        column(sg, "step", H5T_STD_I64LE, H5T_NATIVE_INT64, 2, steps);
        column(sg, "size", H5T_STD_I64LE, H5T_NATIVE_INT64, 2, sizes);
        column(sg, "mtime_ns", H5T_STD_I64LE, H5T_NATIVE_INT64, 2, mt);
        H5Gclose(sg);
    }
    if (H5Fclose(f) < 0)
        die(path, NULL);
}

static void spectra_seeds(void)
{
    const spec_entry w[] = {
        {"full", "layers.0.mlp.weight", "mlp.weight", "weight", "float32", "a/step_0.h5",
         "weight", 0, 4, 3, -1, 0, 0},
        {"full", "layers.1.mlp.weight", "mlp.weight", "weight", "float16", "a/step_0.h5",
         "weight", 0, 2, 5, -1, 1, 0},
    };
    spectra_seed("weights.h5", w, 2, false, 0, false);
    const spec_entry u[] = {
        {"full", "layers.0.mlp.weight", "mlp.weight", "weight", "float32", "a/step_0.h5",
         "weight", 0, 3, 3, -1, 0, 0},
        {"full", "layers.0.mlp.weight", "mlp.weight", "weight", "float32", "a/step_100.h5",
         "weight", 100, 3, 3, -1, 0, 0},
        {"full", "layers.0.mlp.weight", "mlp.weight", "weight", "float32", "a/step_100.h5",
         "update", 100, 3, 3, 0, 0, 2.5},
        {"relora", "layers.0.w.weight", "w.weight", "full", "bfloat16", "b/step_100.h5",
         "weight", 100, 2, 2, -1, 0, 0},
        {"relora", "layers.0.w.weight", "w.weight", "lora", "bfloat16", "b/step_100.h5",
         "update_first", 100, 2, 2, 0, 0, 1.5},
    };
    spectra_seed("updates.h5", u, 5, true, 4, true);
    spectra_seed("empty.h5", NULL, 0, false, 0, true);
}

// ------------------------------------------------------------ pytorch

static void pt_seed(const char *name, const pt_opts *o, bool views)
{
    rw_err err = {{0}};
    pt_writer *w = pt_writer_new("archive");
    if (!w)
        die(name, NULL);
    int64_t s2[2] = {4, 3}, s3[3] = {2, 2, 2}, s0[1] = {2};
    rw_status st = pt_tensor(w, "layers.0.attn.v_proj.weight", RW_DT_F32, 2, s2, ramp(12), &err);
    if (st == RW_OK)
        st = pt_tensor(w, "layers.1.conv.weight", RW_DT_BF16, 3, s3, ramp(8), &err);
    if (st == RW_OK)
        st = pt_tensor(w, "counter", RW_DT_INT, 1, s0, ramp(2), &err);
    if (st == RW_OK && views) {
        long k = pt_storage(w, RW_DT_F16, 12, ramp(12), &err);
        st = k < 0 ? RW_EUSAGE
                   : pt_view(w, "layers.2.t.weight", k, 1, 2, (int64_t[]){3, 2},
                             (int64_t[]){1, 4}, &err);
    }
    if (st == RW_OK)
        st = pt_scalar_int(w, "step", 1200, &err);
    if (st == RW_OK)
        st = pt_save(w, out_path("pytorch", name), o, &err);
    if (st != RW_OK)
        die(name, &err);
    pkw p = {0};
    pt_pickle(w, o, &p);
    char pk[256];
    snprintf(pk, sizeof pk, "%s.pkl", name);
    FILE *f = fopen(out_path("pickle", pk), "wb");
    if (!f || fwrite(p.b, 1, p.n, f) != p.n || fclose(f) != 0)
        die(pk, NULL);
    pkw_free(&p);
    pt_writer_free(w);
}

static void pt_seeds(void)
{
    pt_seed("dict.pt", &(pt_opts){.root = PT_ROOT_DICT}, false);
    pt_seed("ordered-params.pt", &(pt_opts){.root = PT_ROOT_ORDERED, .parameters = true}, true);
    pt_seed("checkpoint.pt", &(pt_opts){.root = PT_ROOT_ORDERED, .wrap = "model"}, true);
    pt_seed("legacy.pt", &(pt_opts){.root = PT_ROOT_ORDERED, .legacy = true}, true);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: seedgen DIR\n");
        return 2;
    }
    g_dir = argv[1];
    mkdir(g_dir, 0755);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    g_dcpl = H5Pcreate(H5P_DATASET_CREATE);
    g_gcpl = H5Pcreate(H5P_GROUP_CREATE);
    H5Pset_obj_track_times(g_dcpl, 0);
    H5Pset_obj_track_times(g_gcpl, 0);
    g_fcpl = H5Pcreate(H5P_FILE_CREATE); /* the root group's */
    H5Pset_obj_track_times(g_fcpl, 0);
    st_seeds();
    h5_seeds();
    h5_odd_seed();
    spectra_seeds();
    pt_seeds();
    return 0;
}
