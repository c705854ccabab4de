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
 */
#define R_NO_REMAP
#include <string.h>
#include "crossprod.h"
#include "ffi-checks.h"

/* ffi_stacked_meat(X n x q double, intercept lgl (p = q + intercept),
 *                  R n x m double, Psi n x K double,
 *                  C n x q double or NULL, nthreads int)
 * -> list(meat = (m p + K) square matrix, xtc = p x q matrix X'C or NULL)  */
SEXP ffi_stacked_meat(SEXP X, SEXP intercept, SEXP R, SEXP Psi, SEXP C,
                      SEXP nthreads)
{
    cp_design d = ffi_design(X, intercept, "X");
    ffi_check_double(R, "R", -1);
    ffi_check_double(Psi, "Psi", -1);
    R_xlen_t n = d.n;
    int p = d.p, m = ffi_ncol(R, "R"), K = ffi_ncol(Psi, "Psi");
    if (ffi_nrow(R, "R") != n || ffi_nrow(Psi, "Psi") != n)
        Rf_error("internal error: `X`, `R` and `Psi` must have the same rows");
    int qc = 0;
    if (!Rf_isNull(C)) {
        ffi_check_double(C, "C", -1);
        if (ffi_nrow(C, "C") != n) Rf_error("internal error: `C` must have %.0f rows", (double) n);
        qc = ffi_ncol(C, "C");
    }
    if (m < 1) Rf_error("internal error: `R` needs at least one column");
    int nt = ffi_scalar_int(nthreads, "nthreads", 1, 1024);
    const double *r = REAL_RO(R), *psi = REAL_RO(Psi);
    int q = m * p + K, mcols = K + qc;

    double *work = (double *) R_alloc(wcrossprod_xt_work_size(n, p, mcols, nt), sizeof(double));
    double *v = (double *) R_alloc(n > 0 ? (size_t) n : 1, sizeof(double));
    double *M = (double *) R_alloc(n > 0 ? (size_t) n * mcols : 1, sizeof(double));
    double *blk = (double *) R_alloc((size_t) p * (p + mcols), sizeof(double));
    if (qc > 0) memcpy(M + (size_t) K * n, REAL_RO(C), sizeof(double) * (size_t) n * qc);

    int nprot = 0;
    SEXP meat = PROTECT(Rf_allocMatrix(REALSXP, q, q)); nprot++;
    SEXP xtc = R_NilValue;
    if (qc > 0) { xtc = PROTECT(Rf_allocMatrix(REALSXP, p, qc)); nprot++; }
    double *o = REAL(meat);
    memset(o, 0, sizeof(double) * (size_t) q * q);
    for (int b = 0; b < m; b++) {
        const double *rb = r + (size_t) b * n;
        for (R_xlen_t i = 0; i < n; i++) v[i] = rb[i] * rb[i];
        for (int k = 0; k < K; k++)
            for (R_xlen_t i = 0; i < n; i++)
                M[(size_t) k * n + i] = rb[i] * psi[(size_t) k * n + i];
        int cols = b == 0 ? mcols : K;
        wcrossprod_xt(&d, v, M, cols, blk, nt, work);
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
            memcpy(REAL(xtc), cross + (size_t) K * p, sizeof(double) * (size_t) p * qc);
        for (int c = b + 1; c < m; c++) {
            const double *rc = r + (size_t) c * n;
            for (R_xlen_t i = 0; i < n; i++) v[i] = rb[i] * rc[i];
            wcrossprod(&d, v, blk, nt, work);
            for (int j = 0; j < p; j++)
                for (int k = 0; k < p; k++) {
                    double e = blk[(size_t) k * p + j];
                    o[((size_t) c * p + k) * q + (size_t) b * p + j] = e;
                    o[((size_t) b * p + j) * q + (size_t) c * p + k] = e;
                }
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
    const char *names[] = {"meat", "xtc", ""};
    SEXP out = PROTECT(Rf_mkNamed(VECSXP, names)); nprot++;
    SET_VECTOR_ELT(out, 0, meat);
    SET_VECTOR_ELT(out, 1, xtc);
    UNPROTECT(nprot);
    return out;
}
