/*
 * circuits.c — the OV circuit's products and rounding bounds (circuits.h).
 */
#include "analyzers/core/circuits.h"

#include <cblas.h>
#include <math.h>
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

/* Each head's block V_g O_h (or O_h V_g) moves by at most ||dV_g||_F ||O_h||_F
 * + ||V_g||_F ||dO_h||_F to first order; summed over the heads (an upper
 * bound of the concatenation's and, by the triangle inequality, of the
 * sum's norm) and by Cauchy-Schwarz, each V_g serving `group` heads:
 * sum_h ||dV_g(h)|| ||O_h|| <= sqrt(sum_h ||dV_g(h)||^2) ||O|| = sqrt(group)
 * ||dV|| ||O||. */
double circuit_noise(int64_t group, double nv, double fv, double no, double fo)
{
    return sqrt((double)group) * (nv * fo + fv * no);
}

/* The same for each of the two products of a gradient block, O_h G_V,g and
 * G_O,h V_g, whose four factors are each rounded when stored. */
double circuit_noise_grad(int64_t group, double ngv, double fgv, double ngo, double fgo,
                          double nv, double fv, double no, double fo)
{
    return sqrt((double)group) * (no * fgv + fo * ngv + ngo * fv + fgo * nv);
}
