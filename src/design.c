/*
 * Design matrices built in C where R would copy twice: cbind(1, x) on a
 * large matrix costs about twice this single allocate-and-copy.
 */
#define R_NO_REMAP
#include <string.h>
#include "ffi-checks.h"

/* ffi_add_intercept(x n x p double) -> n x (p + 1) matrix whose first
 * column is 1 and whose other columns are x (dimnames left to R). */
SEXP ffi_add_intercept(SEXP x)
{
    ffi_check_double(x, "x", -1);
    R_xlen_t n = ffi_nrow(x, "x");
    int p = ffi_ncol(x, "x");
    SEXP out = PROTECT(Rf_allocMatrix(REALSXP, (int) n, p + 1));
    double *o = REAL(out);
    for (R_xlen_t i = 0; i < n; i++) o[i] = 1.0;
    if (n > 0 && p > 0) memcpy(o + n, REAL_RO(x), sizeof(double) * (size_t) n * p);
    UNPROTECT(1);
    return out;
}
