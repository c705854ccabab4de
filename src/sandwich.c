/*
 * The meat of a stacked M-estimation sandwich, sum_i psi_i psi_i', for the
 * estimating equations this package uses everywhere: m nuisance score blocks
 * that share one design X, psi_b,i = x_i r_ib, followed by K target
 * equations psi_k,i = Psi_ik.  The blocks of the meat are
 *   [b, c]  X' diag(r_b r_c) X      (p x p)
 *   [b, .]  X' (r_b * Psi)          (p x K)
 *   [., .]  Psi' Psi                (K x K)
 * and each nuisance block b takes one pass over X for [b, b] and [b, .]
 * together (plus one per [b, c], c > b).  The first pass also gives X' C,
 * from which callers build the derivative of the target equations in the
 * nuisance coefficients, so that needs no pass of its own.
 *
 * Plain C: calls design.c.
 */
#include <string.h>
#include "sandwich.h"

/* Doubles of work for stacked_meat(). */
size_t stacked_meat_work_size(cl_len n, int p, int K, int qc, int nthreads)
{
    return wcrossprod_xt_work_size(n, p, K + qc, nthreads) + (size_t) n +
           (size_t) n * (K + qc) + (size_t) p * (p + K + qc);
}

/*
 * Inputs:  d (the n x p design), R (n x m score multipliers, m >= 1),
 *          Psi (n x K target terms), C (n x qc, or qc = 0), nthreads,
 *          interrupt (between nuisance blocks, or NULL).
 * Outputs: meat ((m p + K) square); xtc (p x qc: X'C) when qc > 0.
 * Work:    stacked_meat_work_size(n, p, K, qc, nthreads) doubles.
 */
void stacked_meat(const cp_design *d, const double *r, int m, const double *psi, int K,
                  const double *C, int qc, int nthreads, double *meat, double *xtc,
                  double *work, void (*interrupt)(void))
{
    const cl_len n = d->n;
    const int p = d->p, q = m * p + K, mcols = K + qc;
    double *v = work, *M = v + n, *blk = M + (size_t) n * mcols;
    double *cp_work = blk + (size_t) p * (p + mcols);
    double *o = meat;
    if (qc > 0) memcpy(M + (size_t) K * n, C, sizeof(double) * (size_t) n * qc);
    memset(o, 0, sizeof(double) * (size_t) q * q);
    for (int b = 0; b < m; b++) {
        const double *rb = r + (size_t) b * n;
        for (cl_len i = 0; i < n; i++) v[i] = rb[i] * rb[i];
        for (int k = 0; k < K; k++)
            for (cl_len i = 0; i < n; i++)
                M[(size_t) k * n + i] = rb[i] * psi[(size_t) k * n + i];
        int cols = b == 0 ? mcols : K;
        wcrossprod_xt(d, v, M, cols, blk, nthreads, cp_work);
        const double *cross = blk + (size_t) p * p;
        for (int j = 0; j < p; j++) {
            for (int k = 0; k < p; k++)
                o[((size_t) b * p + k) * q + (size_t) b * p + j] = blk[(size_t) k * p + j];
            for (int k = 0; k < K; k++) {
                double e = cross[(size_t) k * p + j];
                o[((size_t) m * p + k) * q + (size_t) b * p + j] = e;
                o[((size_t) b * p + j) * q + (size_t) m * p + k] = e;
            }
        }
        if (b == 0 && qc > 0)
            memcpy(xtc, cross + (size_t) K * p, sizeof(double) * (size_t) p * qc);
        for (int c = b + 1; c < m; c++) {
            const double *rc = r + (size_t) c * n;
            for (cl_len i = 0; i < n; i++) v[i] = rb[i] * rc[i];
            wcrossprod(d, v, blk, nthreads, cp_work);
            for (int j = 0; j < p; j++)
                for (int k = 0; k < p; k++) {
                    double e = blk[(size_t) k * p + j];
                    o[((size_t) c * p + k) * q + (size_t) b * p + j] = e;
                    o[((size_t) b * p + j) * q + (size_t) c * p + k] = e;
                }
        }
        if (interrupt) interrupt();
    }
    for (int k = 0; k < K; k++)
        for (int l = k; l < K; l++) {
            const double *pk = psi + (size_t) k * n, *pl = psi + (size_t) l * n;
            double s = 0.0;
            for (cl_len i = 0; i < n; i++) s += pk[i] * pl[i];
            o[((size_t) m * p + l) * q + (size_t) m * p + k] = s;
            o[((size_t) m * p + k) * q + (size_t) m * p + l] = s;
        }
}

/* ---- IPW: the meat straight from the design --------------------------------
 * The IPW estimator stacks the scores of its (multinomial) logistic
 * propensity model, one block per linear predictor b = 1..m, m = K - 1,
 *   psi_b,i = x_i R_ib,  R_ib = s_i (1[a_i = b] - P_ib)   (levels 0..K-1),
 * on the Hajek equations of the K potential-outcome means,
 *   psi_k,i = s_i w_i 1[a_i = k] (y_i - mu_k),
 * whose derivatives in eta_b are s_i dw_ib 1[a_i = k] (y_i - mu_k).  Every
 * target term of unit i sits in the column of its arm, so the meat and the
 * cross-derivative come from a few n-vectors in one pass over X, without the
 * n x K matrices of the general path (stacked_meat()):
 *   [b, c]   X' diag(R_b R_c) X
 *   [b, k]   X' (R_b psi_k)
 *   [k, k]   sum_i psi_k,i^2   (the target block is diagonal: arms are disjoint)
 *   D[k, b]  X' (s dw_b 1[a = k] (y - mu_k))   (K x p blocks)
 */

/* Per chunk: the m (m + 1) / 2 matrices [b, c], c >= b (p x p, upper
 * triangles), X' M (p x 2 m K: first the [b, k], then D[k, b] transposed),
 * the K sums of squares, and the number of row blocks of X with a
 * non-finite value. */
static size_t ipw_meat_len(int p, int K)
{
    int m = K - 1;
    return (size_t) m * (m + 1) / 2 * p * p + (size_t) p * 2 * m * K + K + 1;
}

/* Per thread, CP_BLOCK_ROWS rows of: the design block and its scaled copy
 * (p each), the K - 1 score multipliers, the 2 (K - 1) K columns of M, and
 * one product of two multipliers. */
#define IPW_SCRATCH(p, K) ((2 * (size_t) (p) + (K) + 2 * (size_t) ((K) - 1) * (K)) * CP_BLOCK_ROWS)

/* Rows [from, to): acc (ipw_meat_len()) as above (a cp_chunk_fn). */
static void ipw_meat_chunk(const void *ctx_, cl_len from, cl_len to,
                           double *acc, double *scratch)
{
    const ipw_meat_in *in = ctx_;
    const cp_design *d = in->d;
    cl_len n = d->n;
    int p = d->p, K = in->K, m = K - 1, nc = 2 * m * K;
    size_t pp = (size_t) p * p;
    size_t npair = (size_t) m * (m + 1) / 2;
    double *xm = acc + npair * pp, *tss = xm + (size_t) p * nc, bad = 0.0;
    double *xb = scratch, *wb = xb + (size_t) CP_BLOCK_ROWS * p;
    double *rb = wb + (size_t) CP_BLOCK_ROWS * p, *mb = rb + (size_t) CP_BLOCK_ROWS * m;
    double *rr = mb + (size_t) CP_BLOCK_ROWS * nc;
    memset(acc, 0, sizeof(double) * ipw_meat_len(p, K));
    for (cl_len r0 = from; r0 < to; r0 += CP_BLOCK_ROWS) {
        int len = (int) ((to - r0) < CP_BLOCK_ROWS ? (to - r0) : CP_BLOCK_ROWS);
        cp_copy_rows(d, r0, len, xb);
        bad += cp_nonfinite(xb, (size_t) len * p);
        memset(mb, 0, sizeof(double) * (size_t) len * nc);
        for (int i = 0; i < len; i++) {
            cl_len ii = r0 + i;
            int k = in->a[ii];
            double s = in->sw ? in->sw[ii] : 1.0;
            double r = in->y[ii] - in->mu[k];
            double psi = s * in->w[ii] * r;
            tss[k] += psi * psi;
            for (int b = 0; b < m; b++) {
                double R = s * ((k == b + 1) - in->P[(size_t) (b + 1) * n + ii]);
                rb[(size_t) b * len + i] = R;
                mb[((size_t) b * K + k) * len + i] = R * psi;
                mb[((size_t) (m + b) * K + k) * len + i] = s * in->dw[(size_t) b * n + ii] * r;
            }
        }
        double *blk = acc;
        for (int b = 0; b < m; b++) {
            const double *rbb = rb + (size_t) b * len;
            for (int c = b; c < m; c++, blk += pp) {
                const double *rbc = rb + (size_t) c * len;
                for (int i = 0; i < len; i++) rr[i] = rbb[i] * rbc[i];
                cp_block_scale(xb, rr, len, p, wb);
                cp_block_upper(xb, wb, len, p, blk);
            }
        }
        cp_block_xtm(xb, len, p, mb, (size_t) len, nc, xm);
    }
    tss[K] = bad;
}

/* Doubles of work for ipw_meat(). */
size_t ipw_meat_work_size(cl_len n, int p, int K, int nthreads)
{
    cl_len nchunk = cp_chunks(n, p, (int) (ipw_meat_len(p, K) / p));
    return ipw_meat_len(p, K) +
           cp_reduce_work_size(nchunk, nthreads, ipw_meat_len(p, K),
                               IPW_SCRATCH(p, K));
}

/*
 * Inputs:  in (the design, arms, propensities, weights, outcome and means;
 *          see sandwich.h), nthreads.
 * Outputs: meat ((m p + K) square, m = K - 1), D (K x m p: the derivative
 *          of the target equations in the propensity coefficients).
 * Work:    ipw_meat_work_size(n, p, K, nthreads) doubles.
 * Returns 0, or 1 when X has a missing or infinite value.
 */
int ipw_meat(const ipw_meat_in *in, int nthreads, double *meat, double *D,
             double *work)
{
    const cp_design *d = in->d;
    cl_len n = d->n;
    int p = d->p, K = in->K, m = K - 1, q = m * p + K;
    size_t pp = (size_t) p * p, len = ipw_meat_len(p, K);
    cl_len nchunk = cp_chunks(n, p, (int) (len / p));
    double *sum = work;
    cp_reduce(n, nchunk, nthreads, len, IPW_SCRATCH(p, K),
              ipw_meat_chunk, in, sum, work + len);
    const double *xm = sum + (size_t) m * (m + 1) / 2 * pp, *tss = xm + (size_t) p * 2 * m * K;
    if (tss[K] > 0) return 1;

    memset(meat, 0, sizeof(double) * (size_t) q * q);
    const double *blk = sum;
    for (int b = 0; b < m; b++)
        for (int c = b; c < m; c++, blk += pp)
            for (int j = 0; j < p; j++)
                for (int l = 0; l < p; l++) {
                    /* blk holds the upper triangle: entry (min, max). */
                    double e = l <= j ? blk[(size_t) j * p + l] : blk[(size_t) l * p + j];
                    meat[((size_t) c * p + l) * q + (size_t) b * p + j] = e;
                    meat[((size_t) b * p + j) * q + (size_t) c * p + l] = e;
                }
    for (int b = 0; b < m; b++)
        for (int k = 0; k < K; k++)
            for (int j = 0; j < p; j++) {
                double e = xm[((size_t) b * K + k) * p + j];
                meat[((size_t) m * p + k) * q + (size_t) b * p + j] = e;
                meat[((size_t) b * p + j) * q + (size_t) m * p + k] = e;
                D[((size_t) b * p + j) * K + k] = xm[((size_t) (m + b) * K + k) * p + j];
            }
    for (int k = 0; k < K; k++) meat[((size_t) m * p + k) * q + (size_t) m * p + k] = tss[k];
    return 0;
}
