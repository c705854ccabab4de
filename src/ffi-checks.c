#define R_NO_REMAP
#include <math.h>
#include "ffi-checks.h"

/* Are the n doubles of v all finite?  Blocks of vectorized, branch-free
 * checks (cp_nonfinite) stop at the first block with a bad value. */
static int all_finite(const double *v, R_xlen_t n)
{
    const R_xlen_t block = 4096;
    for (R_xlen_t i = 0; i < n; i += block) {
        R_xlen_t len = n - i < block ? n - i : block;
        if (cp_nonfinite(v + i, (size_t) len)) return 0;
    }
    return 1;
}

/* Rows of a numeric matrix (a plain vector counts as one column). */
int ffi_nrow(SEXP x, const char *arg)
{
    if (!Rf_isMatrix(x)) return (int) Rf_xlength(x);
    return Rf_nrows(x);
}

int ffi_ncol(SEXP x, const char *arg)
{
    if (!Rf_isMatrix(x)) return 1;
    return Rf_ncols(x);
}

/* len < 0 skips the length check. */
void ffi_check_double(SEXP x, const char *arg, R_xlen_t len)
{
    if (TYPEOF(x) != REALSXP)
        Rf_error("internal error: `%s` must be a double vector", arg);
    if (len >= 0 && Rf_xlength(x) != len)
        Rf_error("internal error: `%s` has length %.0f, expected %.0f", arg,
                 (double) Rf_xlength(x), (double) len);
}

void ffi_check_int(SEXP x, const char *arg, R_xlen_t len)
{
    if (TYPEOF(x) != INTSXP)
        Rf_error("internal error: `%s` must be an integer vector", arg);
    if (len >= 0 && Rf_xlength(x) != len)
        Rf_error("internal error: `%s` has length %.0f, expected %.0f", arg,
                 (double) Rf_xlength(x), (double) len);
}

NORET void ffi_abort_nonfinite(const char *arg)
{
    Rf_error("internal error: `%s` has a missing or infinite value", arg);
}

void ffi_check_finite(SEXP x, const char *arg)
{
    if (!all_finite(REAL_RO(x), Rf_xlength(x))) ffi_abort_nonfinite(arg);
}

int ffi_scalar_int(SEXP x, const char *arg, int lo, int hi)
{
    if (Rf_xlength(x) != 1 || (TYPEOF(x) != INTSXP && TYPEOF(x) != REALSXP))
        Rf_error("internal error: `%s` must be a single number", arg);
    int v = Rf_asInteger(x);
    if (v == NA_INTEGER || v < lo || v > hi)
        Rf_error("internal error: `%s` must be between %d and %d", arg, lo, hi);
    return v;
}

double ffi_scalar_double(SEXP x, const char *arg)
{
    if (Rf_xlength(x) != 1 || (TYPEOF(x) != INTSXP && TYPEOF(x) != REALSXP))
        Rf_error("internal error: `%s` must be a single number", arg);
    double v = Rf_asReal(x);
    if (!R_FINITE(v)) Rf_error("internal error: `%s` must be finite", arg);
    return v;
}

cp_design ffi_design(SEXP X, SEXP intercept, const char *arg)
{
    cp_design d = ffi_design_unchecked(X, intercept, arg);
    ffi_check_finite(X, arg);
    return d;
}

cp_design ffi_design_unchecked(SEXP X, SEXP intercept, const char *arg)
{
    ffi_check_double(X, arg, -1);
    int icpt = Rf_asLogical(intercept);
    if (Rf_xlength(intercept) != 1 || icpt == NA_LOGICAL)
        Rf_error("internal error: `intercept` must be TRUE or FALSE");
    cp_design d = {REAL_RO(X), ffi_nrow(X, arg), ffi_ncol(X, arg) + icpt, icpt};
    return d;
}

/* ffi_all_finite(x double) -> TRUE when no element is NA, NaN or infinite.
 * One pass without the n-long logical vector of is.finite(). */
SEXP ffi_all_finite(SEXP x)
{
    ffi_check_double(x, "x", -1);
    return Rf_ScalarLogical(all_finite(REAL_RO(x), Rf_xlength(x)));
}

int *ffi_codes0(SEXP a, R_xlen_t n, int K, const char *arg)
{
    ffi_check_int(a, arg, n);
    const int *ap = INTEGER_RO(a);
    int *a0 = (int *) R_alloc(n > 0 ? n : 1, sizeof(int));
    for (R_xlen_t i = 0; i < n; i++) {
        int v = ap[i];
        if (v == NA_INTEGER || v < 1 || v > K)
            Rf_error("internal error: `%s` must hold codes 1 to K", arg);
        a0[i] = v - 1;
    }
    return a0;
}
