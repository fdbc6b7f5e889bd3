/*
 * circuits.c — the OV circuit's products and rounding bounds (circuits.h).
 */
#include "analyzers/core/circuits.h"

#include "analyzers/core/specnorm.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void circuit_ov(const rw_circuit_shape *sh, const double *v, const double *o, bool wo_wv,
                double *out)
{
    int64_t d = sh->d, nh = sh->heads, hd = sh->head_dim, group = nh / sh->kv_heads;
    int64_t ocols = nh * hd, n = wo_wv ? d : nh * hd;
    if (wo_wv)
        memset(out, 0, (size_t)(d * d) * sizeof *out);
    for (int64_t h = 0; h < nh; h++) {
        const double *vg = v + (h / group) * hd * d; /* hd x d, rows of v_proj */
        const double *oh = o + h * hd;               /* d x hd, columns of o_proj */
        if (!wo_wv) /* out[:, h hd : (h+1) hd] = V_g O_h (hd x hd) */
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)hd, (int)hd, (int)d,
                        1.0, vg, (int)d, oh, (int)ocols, 0.0, out + h * hd, (int)n);
        else /* out (d x d) += O_h V_g */
            cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)d, (int)d, (int)hd,
                        1.0, oh, (int)ocols, vg, (int)d, 1.0, out, (int)n);
    }
}

void circuit_ov_grad(const rw_circuit_shape *sh, const double *gv, const double *go,
                     const double *v, const double *o, bool wo_wv, double *out)
{
    int64_t d = sh->d, nh = sh->heads, hd = sh->head_dim, group = nh / sh->kv_heads;
    int64_t ocols = nh * hd, n = wo_wv ? d : nh * d;
    if (wo_wv)
        memset(out, 0, (size_t)(d * d) * sizeof *out);
    for (int64_t h = 0; h < nh; h++) {
        size_t vo = (size_t)((h / group) * hd * d), oo = (size_t)(h * hd);
        double *blk = wo_wv ? out : out + h * d; /* d x d, leading dimension n */
        double beta = wo_wv ? 1.0 : 0.0;
        /* blk = O_h G_V,g + G_O,h V_g */
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)d, (int)d, (int)hd, 1.0,
                    o + oo, (int)ocols, gv + vo, (int)d, beta, blk, (int)n);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)d, (int)d, (int)hd, 1.0,
                    go + oo, (int)ocols, v + vo, (int)d, 1.0, blk, (int)n);
    }
}

/* The first-order rounding bound of the per-head products of X_h (disjoint
 * blocks of X, h < n_h) and Y_g (disjoint blocks of Y, g = h / group), each
 * product X_h Y_g or Y_g X_h, given ||dX||_F <= u nx, ||dY||_F <= u ny.
 * Per head, to first order, E_h = dX_h Y_g + X_h dY_g (either order) and
 *   ||E_h||_F <= a_h + b_h,  a_h = ||dX_h||_F ||Y_g||_2,  b_h = ||X_h||_2 ||dY_g||_F
 * (||PQ||_F <= ||P||_F ||Q||_2 and <= ||P||_2 ||Q||_F).
 * Concatenated blocks add in quadrature, ||E||_F^2 = sum_h ||E_h||_F^2, so by
 * Minkowski ||E||_F <= sqrt(sum a_h^2) + sqrt(sum b_h^2), and
 *   sum_h a_h^2 <= max_g ||Y_g||_2^2 sum_h ||dX_h||_F^2 <= (u nx max_g ||Y_g||_2)^2
 *   sum_h b_h^2 = sum_g ||dY_g||_F^2 sum_{h in g} ||X_h||_2^2
 *               <= (u ny)^2 max_g sum_{h in g} ||X_h||_2^2.
 * Summed blocks by the triangle inequality and Cauchy-Schwarz:
 *   sum_h a_h <= ||dX||_F sqrt(sum_h ||Y_g(h)||_2^2)
 *   sum_h b_h = sum_g ||dY_g||_F sum_{h in g} ||X_h||_2
 *             <= ||dY||_F sqrt(sum_g (sum_{h in g} ||X_h||_2)^2).
 * xn[h] = ||X_h||_2, yn[g] = ||Y_g||_2. */
static double pair_noise(int64_t heads, int64_t group, bool sum, const double *xn,
                         const double *yn, double nx, double ny)
{
    int64_t kv = heads / group;
    double ya = 0, xb = 0;
    for (int64_t g = 0; g < kv; g++) {
        double s1 = 0, s2 = 0;
        for (int64_t h = g * group; h < (g + 1) * group; h++) {
            s1 += xn[h];
            s2 += xn[h] * xn[h];
        }
        if (sum) {
            ya += (double)group * yn[g] * yn[g];
            xb += s1 * s1;
        } else {
            ya = fmax(ya, yn[g] * yn[g]);
            xb = fmax(xb, s2);
        }
    }
    return nx * sqrt(ya) + ny * sqrt(xb);
}

/* ||V_g||_2 (rows g hd .. of v) into vn[g], ||O_h||_2 (columns h hd .. of o)
 * into on[h], exactly (specnorm.h). */
static void block_norms(const rw_circuit_shape *sh, const double *v, const double *o,
                        double *vn, double *on)
{
    int64_t d = sh->d, hd = sh->head_dim, ocols = sh->heads * hd;
    for (int64_t g = 0; g < sh->kv_heads; g++)
        vn[g] = rw_spec_norm(v + g * hd * d, hd, d, d);
    for (int64_t h = 0; h < sh->heads; h++)
        on[h] = rw_spec_norm(o + h * hd, d, hd, ocols);
}

double circuit_noise(const rw_circuit_shape *sh, bool wo_wv, const double *v, const double *o,
                     double nv, double no)
{
    double *vn = malloc((size_t)(sh->kv_heads + sh->heads) * sizeof *vn);
    if (!vn)
        return NAN;
    double *on = vn + sh->kv_heads;
    block_norms(sh, v, o, vn, on);
    double n = pair_noise(sh->heads, sh->heads / sh->kv_heads, wo_wv, on, vn, no, nv);
    free(vn);
    return n;
}

double circuit_noise_grad(const rw_circuit_shape *sh, bool wo_wv, const double *gv,
                          const double *go, const double *v, const double *o, double ngv,
                          double ngo, double nv, double no)
{
    int64_t nh = sh->heads, kv = sh->kv_heads, group = nh / kv;
    double *vn = malloc((size_t)(2 * (kv + nh)) * sizeof *vn);
    if (!vn)
        return NAN;
    double *on = vn + kv, *gvn = on + nh, *gon = gvn + kv;
    block_norms(sh, v, o, vn, on);
    block_norms(sh, gv, go, gvn, gon);
    /* per head O_h G_V,g + G_O,h V_g: the two products' bounds add */
    double n = pair_noise(nh, group, wo_wv, on, gvn, no, ngv) +
               pair_noise(nh, group, wo_wv, gon, vn, ngo, nv);
    free(vn);
    return n;
}
