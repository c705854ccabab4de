/*
 * The meat of a stacked M-estimation sandwich, sum_i psi_i psi_i', for the
 * estimating equations this package uses everywhere: m nuisance score blocks
 * that share one design X, psi_b,i = x_i r_ib, followed by K target
 * equations psi_k,i = Psi_ik.  Each block of the meat is one pass of the
 * cross-product kernels over X:
 *   [b, c]  X' diag(r_b r_c) X      (p x p)
 *   [b, .]  X' (r_b * Psi)          (p x K)
 *   [., .]  Psi' Psi                (K x K)
 */
#define R_NO_REMAP
#include <string.h>
#include "crossprod.h"
#include "ffi-checks.h"

/* ffi_stacked_meat(X n x p double, R n x m double, Psi n x K double,
 *                  nthreads int) -> (m p + K) square matrix               */
SEXP ffi_stacked_meat(SEXP X, SEXP R, SEXP Psi, SEXP nthreads)
{
    ffi_check_double(X, "X", -1);
    ffi_check_double(R, "R", -1);
    ffi_check_double(Psi, "Psi", -1);
    R_xlen_t n = ffi_nrow(X, "X");
    int p = ffi_ncol(X, "X"), m = ffi_ncol(R, "R"), K = ffi_ncol(Psi, "Psi");
    if (ffi_nrow(R, "R") != n || ffi_nrow(Psi, "Psi") != n)
        Rf_error("internal error: `X`, `R` and `Psi` must have the same rows");
    int nt = ffi_scalar_int(nthreads, "nthreads", 1, 1024);
    const double *x = REAL_RO(X), *r = REAL_RO(R), *psi = REAL_RO(Psi);
    int q = m * p + K;

    size_t work_len = wcrossprod_work_size(n, p, nt);
    size_t xm_len = xt_mat_work_size(n, p, K, nt);
    if (xm_len > work_len) work_len = xm_len;
    double *work = (double *) R_alloc(work_len, sizeof(double));
    double *v = (double *) R_alloc(n > 0 ? (size_t) n * (K > 1 ? K : 1) : 1, sizeof(double));
    double *blk = (double *) R_alloc((size_t) p * (p > K ? p : K), sizeof(double));

    SEXP out = PROTECT(Rf_allocMatrix(REALSXP, q, q));
    double *o = REAL(out);
    memset(o, 0, sizeof(double) * (size_t) q * q);
    for (int b = 0; b < m; b++) {
        const double *rb = r + (size_t) b * n;
        for (int c = b; c < m; c++) {
            const double *rc = r + (size_t) c * n;
            for (R_xlen_t i = 0; i < n; i++) v[i] = rb[i] * rc[i];
            wcrossprod(x, n, p, v, blk, nt, work);
            for (int j = 0; j < p; j++)
                for (int k = 0; k < p; k++) {
                    double e = blk[(size_t) k * p + j];
                    o[((size_t) c * p + k) * q + (size_t) b * p + j] = e;
                    o[((size_t) b * p + j) * q + (size_t) c * p + k] = e;
                }
        }
        for (int k = 0; k < K; k++)
            for (R_xlen_t i = 0; i < n; i++)
                v[(size_t) k * n + i] = rb[i] * psi[(size_t) k * n + i];
        xt_mat(x, n, p, v, K, blk, nt, work);
        for (int j = 0; j < p; j++)
            for (int k = 0; k < K; k++) {
                double e = blk[(size_t) k * p + j];
                o[((size_t) m * p + k) * q + (size_t) b * p + j] = e;
                o[((size_t) b * p + j) * q + (size_t) m * p + k] = e;
            }
        R_CheckUserInterrupt();
    }
    for (int k = 0; k < K; k++)
        for (int l = k; l < K; l++) {
            const double *pk = psi + (size_t) k * n, *pl = psi + (size_t) l * n;
            double s = 0.0;
            for (R_xlen_t i = 0; i < n; i++) s += pk[i] * pl[i];
            o[((size_t) m * p + l) * q + (size_t) m * p + k] = s;
            o[((size_t) m * p + k) * q + (size_t) m * p + l] = s;
        }
    UNPROTECT(1);
    return out;
}
