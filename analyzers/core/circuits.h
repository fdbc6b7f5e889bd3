/*
 * circuits.h — the arithmetic of the attention OV circuit of one layer, from
 * its v_proj V (n_kv hd x d) and o_proj O (d x n_h hd), row-major; head h
 * uses V_g, g = h / (n_h / n_kv), the rows g hd .. (g+1) hd of V, and O_h,
 * the columns h hd .. (h+1) hd of O. Which matrices it is formed from
 * (full, base or lora parts; weights or gradients) is items.c's business.
 *
 * Weights (pico-analyze's compute_ov_weights, src/components/ov_circuit.py):
 *   ov     [V_g(0) O_0 | V_g(1) O_1 | ...]          hd x (n_h hd)
 *   wo_wv  sum_h O_h V_g(h)                        d x d
 * Gradients (pico-analyze's compute_ov_gradients): the product rule of the
 * d x d product O_h V_g, with G_V, G_O the gradients of V and O:
 *   ov     [O_0 G_V,g(0) + G_O,0 V_g(0) | ...]      d x (n_h d)
 *   wo_wv  sum_h (O_h G_V,g(h) + G_O,h V_g(h))     d x d: the gradient of W_O W_V
 *
 * Pure computation on the caller's buffers; thread-safe.
 */
#ifndef RW_CIRCUITS_H
#define RW_CIRCUITS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    int64_t d, heads, kv_heads, head_dim;
} rw_circuit_shape;

/* The weights' ov (wo_wv false) or wo_wv into out (hd x n_h hd, or d x d). */
void circuit_ov(const rw_circuit_shape *sh, const double *v, const double *o, bool wo_wv,
                double *out);
/* The gradients' ov (d x n_h d) or wo_wv (d x d) into out. */
void circuit_ov_grad(const rw_circuit_shape *sh, const double *gv, const double *go,
                     const double *v, const double *o, bool wo_wv, double *out);

/* Rounding bounds (items.h, num_rank's N) to first order, from the factors'
 * Frobenius norms and their own N:
 *   weights    sqrt(group) (N_V ||O||_F + ||V||_F N_O)
 *   gradients  sqrt(group) (N_O ||G_V||_F + ||O||_F N_GV + N_GO ||V||_F + ||G_O||_F N_V)
 * group = n_h / n_kv (each V_g serves group heads). */
double circuit_noise(int64_t group, double nv, double fv, double no, double fo);
double circuit_noise_grad(int64_t group, double ngv, double fgv, double ngo, double fgo,
                          double nv, double fv, double no, double fo);

#endif
