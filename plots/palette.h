/*
 * palette.h — the colours of rankwatch's figures. Colours are 0xRRGGBB.
 *
 * Runs: the i-th run of the input (in order of first appearance) is drawn in
 * palette_run(i) in every figure, so a run keeps its colour from figure to
 * figure; beyond seven runs the colours repeat with another dash pattern.
 * Values on a colour scale (heatmaps, depth, step): viridis, perceptually
 * uniform and readable in grey. Pure functions and a constant table: no
 * memory is handed out.
 */
#ifndef RW_PALETTE_H
#define RW_PALETTE_H

#include <stddef.h>
#include <stdint.h>

/* Cells that are nan or inf, and cells with no value at all. */
#define RW_COLOR_NONFINITE 0x9a9a9a
#define RW_COLOR_MISSING 0xffffff

/* The colour of the i-th run (0-based). */
uint32_t palette_run(size_t i);
/* Its gnuplot dash type: 1 (solid) for the first seven runs, then 2, 3, 4. */
int palette_run_dash(size_t i);

extern const uint32_t palette_viridis_table[256];
/* viridis at t in [0, 1] (clamped; the nearest of the 256 entries);
 * RW_COLOR_NONFINITE for nan. */
uint32_t palette_viridis(double t);

#endif
