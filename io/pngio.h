/*
 * pngio.h — 8-bit RGB images and their PNG files (libpng). The heatmaps of
 * rw-plot are written with png_write_rgb; the tests read figures back with
 * png_read_rgb to check their pixels.
 *
 * Pixels are stored row-major from the top row down, 3 bytes (R, G, B) per
 * pixel: pixel (x, y) is px[3 * (y * w + x) + c].
 *
 * Ownership: an rw_image owns its pixels; image_new and png_read_rgb give
 * the caller a new image, freed with image_free (NULL: no-op).
 */
#ifndef RW_PNGIO_H
#define RW_PNGIO_H

#include "io/rw.h"

#include <stdio.h>

/* Largest width or height read or written: larger PNGs are refused as
 * malformed rather than allocated. */
#define RW_PNG_MAX_DIM 32768

typedef struct {
    uint32_t w, h;
    uint8_t *px;   /* 3 * w * h bytes (owned) */
} rw_image;

/* A new image of w x h pixels, all set to rgb (0xRRGGBB); NULL when a
 * dimension is 0 or above RW_PNG_MAX_DIM, or on allocation failure. */
rw_image *image_new(uint32_t w, uint32_t h, uint32_t rgb);
void image_free(rw_image *img);
/* Pixel (x, y) as 0xRRGGBB; x < w, y < h. */
uint32_t image_get(const rw_image *img, uint32_t x, uint32_t y);
void image_set(rw_image *img, uint32_t x, uint32_t y, uint32_t rgb);

/* Writes img as an 8-bit RGB PNG to an open stream (not closed). */
rw_status png_write_rgb_stream(const rw_image *img, FILE *f, rw_err *err);
/* Writes img to path atomically (temporary sibling + rename). */
rw_status png_write_rgb(const rw_image *img, const char *path, rw_err *err);

/* Reads any PNG (grey, palette, RGB, with or without alpha, 8 or 16 bits)
 * as 8-bit RGB; transparency is composited over white. *out owned by the
 * caller. RW_EIO when path cannot be opened, RW_EDATA when it is not a
 * valid PNG or exceeds RW_PNG_MAX_DIM. */
rw_status png_read_rgb(const char *path, rw_image **out, rw_err *err);

#endif
