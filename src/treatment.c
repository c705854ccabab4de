/* Treatment arms: sums within arms, and values spread into arm columns. */
#define R_NO_REMAP
#include <string.h>
#include "ffi-checks.h"

/* ffi_arm_sums(v double(n) or double(1), a int(n) coded 1..K, K int)
 * -> double(K): sum of v over the units of each arm (v recycled if scalar). */
SEXP ffi_arm_sums(SEXP v, SEXP a, SEXP K_)
{
    ffi_check_int(a, "a", -1);
    R_xlen_t n = Rf_xlength(a);
    int K = ffi_scalar_int(K_, "K", 1, 1000000);
    ffi_check_double(v, "v", -1);
    R_xlen_t nv = Rf_xlength(v);
    if (nv != n && nv != 1) Rf_error("internal error: `v` must have length 1 or %.0f", (double) n);
    const int *ap = INTEGER_RO(a);
    const double *vp = REAL_RO(v);
    SEXP out = PROTECT(Rf_allocVector(REALSXP, K));
    double *o = REAL(out);
    for (int k = 0; k < K; k++) o[k] = 0.0;
    for (R_xlen_t i = 0; i < n; i++) {
        int k = ap[i];
        if (k == NA_INTEGER || k < 1 || k > K) {
            UNPROTECT(1);
            Rf_error("internal error: `a` must hold codes 1 to K");
        }
        o[k - 1] += vp[nv == 1 ? 0 : i];
    }
    UNPROTECT(1);
    return out;
}

/* ffi_arm_spread(v double(n), a int(n) coded 1..K, K int) -> n x K matrix
 * holding v[i] in the column of the arm unit i received, 0 elsewhere. */
SEXP ffi_arm_spread(SEXP v, SEXP a, SEXP K_)
{
    ffi_check_int(a, "a", -1);
    R_xlen_t n = Rf_xlength(a);
    int K = ffi_scalar_int(K_, "K", 1, 1000000);
    ffi_check_double(v, "v", n);
    const int *ap = INTEGER_RO(a);
    const double *vp = REAL_RO(v);
    for (R_xlen_t i = 0; i < n; i++)
        if (ap[i] == NA_INTEGER || ap[i] < 1 || ap[i] > K)
            Rf_error("internal error: `a` must hold codes 1 to K");
    SEXP out = PROTECT(Rf_allocMatrix(REALSXP, (int) n, K));
    double *o = REAL(out);
    memset(o, 0, sizeof(double) * (size_t) n * K);
    for (R_xlen_t i = 0; i < n; i++) o[(size_t) (ap[i] - 1) * n + i] = vp[i];
    UNPROTECT(1);
    return out;
}
