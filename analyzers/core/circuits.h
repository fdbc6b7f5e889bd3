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

/* Rounding bounds (items.h, num_rank's N) to first order, from the
 * factors' own N (nv, no; ngv, ngo of gradients) and the spectral norms of
 * their head blocks, ||V_g||_2 and ||O_h||_2 (computed here from v and o,
 * laid out as for circuit_ov; circuits.c derives them):
 *   ov     N_V sqrt(max_g sum_{h in g} ||O_h||_2^2) + max_g ||V_g||_2 N_O
 *   wo_wv  N_V sqrt(sum_g (sum_{h in g} ||O_h||_2)^2) + sqrt(sum_h ||V_g(h)||_2^2) N_O
 * and for gradients the sum of the same bound for the pairs (O, G_V) and
 * (G_O, V). nan when out of memory. */
double circuit_noise(const rw_circuit_shape *sh, bool wo_wv, const double *v, const double *o,
                     double nv, double no);
double circuit_noise_grad(const rw_circuit_shape *sh, bool wo_wv, const double *gv,
                          const double *go, const double *v, const double *o, double ngv,
                          double ngo, double nv, double no);

#endif
