/*
 * Design matrices built in C where R would copy twice: cbind(1, x) on a
 * large matrix costs about twice this single allocate-and-copy.
 */
#define R_NO_REMAP
#include "ffi-checks.h"

/* ffi_add_intercept(x n x p double) -> n x (p + 1) matrix whose first
 * column is 1 and whose other columns are x (dimnames left to R), or NULL
 * when x has a missing or infinite value: the copy is also the check. */
SEXP ffi_add_intercept(SEXP x)
{
    ffi_check_double(x, "x", -1);
    R_xlen_t n = ffi_nrow(x, "x");
    int p = ffi_ncol(x, "x");
    SEXP out = PROTECT(Rf_allocMatrix(REALSXP, (int) n, p + 1));
    double *o = REAL(out);
    for (R_xlen_t i = 0; i < n; i++) o[i] = 1.0;
    const double *xv = REAL_RO(x);
    size_t len = (size_t) n * p;
    int finite = 1;
    for (size_t e = 0; e < len; e++) {
        o[n + e] = xv[e];
        finite &= R_FINITE(xv[e]);
    }
    UNPROTECT(1);
    return finite ? out : R_NilValue;
}
