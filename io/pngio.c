/*
 * pngio.c — RGB images and PNG files through libpng (pngio.h).
 *
 * libpng reports errors by longjmp. Each direction keeps its setjmp in one
 * function (png_write_core, png_read_core) that turns the jump into a status;
 * whatever those functions allocate lives in a struct owned by the caller, so
 * nothing is lost when libpng jumps.
 */
#include "io/pngio.h"

#include "io/outfile.h"

#include <png.h>
#include <stdlib.h>
#include <string.h>

rw_image *image_new(uint32_t w, uint32_t h, uint32_t rgb)
{
    if (w == 0 || h == 0 || w > RW_PNG_MAX_DIM || h > RW_PNG_MAX_DIM)
        return NULL;
    rw_image *img = calloc(1, sizeof *img);
    size_t n;
    if (!img || !rw_mul_size((size_t)w * h, 3, &n) || !(img->px = malloc(n))) {
        free(img);
        return NULL;
    }
    img->w = w;
    img->h = h;
    for (size_t i = 0; i < (size_t)w * h; i++) {
        img->px[3 * i] = (uint8_t)(rgb >> 16);
        img->px[3 * i + 1] = (uint8_t)(rgb >> 8);
        img->px[3 * i + 2] = (uint8_t)rgb;
    }
    return img;
}

void image_free(rw_image *img)
{
    if (!img)
        return;
    free(img->px);
    free(img);
}

uint32_t image_get(const rw_image *img, uint32_t x, uint32_t y)
{
    const uint8_t *p = img->px + 3 * ((size_t)y * img->w + x);
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

void image_set(rw_image *img, uint32_t x, uint32_t y, uint32_t rgb)
{
    uint8_t *p = img->px + 3 * ((size_t)y * img->w + x);
    p[0] = (uint8_t)(rgb >> 16);
    p[1] = (uint8_t)(rgb >> 8);
    p[2] = (uint8_t)rgb;
}

/* ------------------------------------------------------------ libpng errors */

typedef struct {
    char msg[200];
} png_errbuf;

static void on_png_error(png_structp p, png_const_charp msg)
{
    png_errbuf *e = png_get_error_ptr(p);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    png_longjmp(p, 1);
}

static void on_png_warning(png_structp p, png_const_charp msg)
{
    (void)p;
    (void)msg; /* warnings (e.g. unknown chunks) do not concern the pixels */
}

/* ------------------------------------------------------------------ write */

/* The one setjmp of the writer: returns 0, or -1 after a libpng error. */
static int png_write_core(png_structp p, png_infop info, const rw_image *img, FILE *f)
{
    if (setjmp(png_jmpbuf(p)))
        return -1;
    png_init_io(p, f);
    png_set_IHDR(p, info, img->w, img->h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(p, info);
    for (uint32_t y = 0; y < img->h; y++)
        png_write_row(p, img->px + 3 * (size_t)y * img->w);
    png_write_end(p, info);
    return 0;
}

rw_status png_write_rgb_stream(const rw_image *img, FILE *f, rw_err *err)
{
    png_errbuf e = {{0}};
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, &e, on_png_error,
                                            on_png_warning);
    png_infop info = p ? png_create_info_struct(p) : NULL;
    if (!p || !info) {
        png_destroy_write_struct(p ? &p : NULL, NULL);
        return rw_fail(err, RW_ENOMEM, "out of memory");
    }
    int r = png_write_core(p, info, img, f);
    png_destroy_write_struct(&p, &info);
    if (r != 0)
        return rw_fail(err, RW_EIO, "PNG write failed: %s", e.msg);
    return RW_OK;
}

rw_status png_write_rgb(const rw_image *img, const char *path, rw_err *err)
{
    rw_outfile o;
    rw_status st = outfile_open(&o, path, true, err);
    if (st != RW_OK)
        return st;
    if ((st = png_write_rgb_stream(img, o.f, err)) != RW_OK) {
        rw_err_prefix(err, "%s", path);
        outfile_abort(&o);
        return st;
    }
    return outfile_commit(&o, err);
}

/* ------------------------------------------------------------------- read */

typedef struct {
    png_uint_32 w, h;
    png_bytep data;     /* h rows of 4 * w bytes (RGBA) */
    png_bytepp rows;
    int too_large;
} png_rd;

/* The one setjmp of the reader: returns 0, or -1 after a libpng error (or
 * a size beyond RW_PNG_MAX_DIM, with rd->too_large set). */
static int png_read_core(png_structp p, png_infop info, FILE *f, png_rd *rd)
{
    if (setjmp(png_jmpbuf(p)))
        return -1;
    png_init_io(p, f);
    png_set_user_limits(p, RW_PNG_MAX_DIM, RW_PNG_MAX_DIM);
    png_read_info(p, info);
    rd->w = png_get_image_width(p, info);
    rd->h = png_get_image_height(p, info);
    if (rd->w == 0 || rd->h == 0 || rd->w > RW_PNG_MAX_DIM || rd->h > RW_PNG_MAX_DIM) {
        rd->too_large = 1;
        return -1;
    }
    png_set_expand(p);
    png_set_strip_16(p);
    png_set_gray_to_rgb(p);
    png_set_add_alpha(p, 0xff, PNG_FILLER_AFTER);
    png_set_interlace_handling(p);
    png_read_update_info(p, info);
    if (png_get_rowbytes(p, info) != 4 * (size_t)rd->w)
        png_error(p, "unexpected row size after conversion");
    rd->data = malloc(4 * (size_t)rd->w * rd->h);
    rd->rows = malloc(rd->h * sizeof *rd->rows);
    if (!rd->data || !rd->rows)
        png_error(p, "out of memory");
    for (png_uint_32 y = 0; y < rd->h; y++)
        rd->rows[y] = rd->data + 4 * (size_t)y * rd->w;
    png_read_image(p, rd->rows);
    png_read_end(p, NULL);
    return 0;
}

rw_status png_read_rgb(const char *path, rw_image **out, rw_err *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return rw_fail(err, RW_EIO, "%s: cannot open", path);
    unsigned char sig[8];
    if (fread(sig, 1, 8, f) != 8 || png_sig_cmp(sig, 0, 8) != 0) {
        fclose(f);
        return rw_fail(err, RW_EDATA, "%s: not a PNG file", path);
    }
    png_errbuf e = {{0}};
    png_structp p = png_create_read_struct(PNG_LIBPNG_VER_STRING, &e, on_png_error,
                                           on_png_warning);
    png_infop info = p ? png_create_info_struct(p) : NULL;
    if (!p || !info) {
        png_destroy_read_struct(p ? &p : NULL, NULL, NULL);
        fclose(f);
        return rw_fail(err, RW_ENOMEM, "out of memory");
    }
    png_set_sig_bytes(p, 8);
    png_rd rd = {0};
    int r = png_read_core(p, info, f, &rd);
    png_destroy_read_struct(&p, &info, NULL);
    fclose(f);
    rw_status st = RW_OK;
    rw_image *img = NULL;
    if (r != 0) {
        st = rd.too_large ? rw_fail(err, RW_EDATA, "%s: %ux%u pixels is beyond %d", path,
                                    (unsigned)rd.w, (unsigned)rd.h, RW_PNG_MAX_DIM)
                          : rw_fail(err, RW_EDATA, "%s: bad PNG: %s", path, e.msg);
    } else if (!(img = image_new(rd.w, rd.h, 0))) {
        st = rw_fail(err, RW_ENOMEM, "out of memory");
    } else {
        /* Composite over white: c' = c a + 255 (1 - a), rounded. */
        for (size_t i = 0; i < (size_t)rd.w * rd.h; i++) {
            unsigned a = rd.data[4 * i + 3];
            for (int c = 0; c < 3; c++)
                img->px[3 * i + c] =
                    (uint8_t)((rd.data[4 * i + c] * a + 255 * (255 - a) + 127) / 255);
        }
    }
    free(rd.data);
    free(rd.rows);
    *out = img;
    return st;
}
