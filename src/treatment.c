/* Treatment arms: factor codes of a treatment, sums within arms, and values
 * spread into arm columns. */
#define R_NO_REMAP
#include <math.h>
#include <string.h>
#include "ffi-checks.h"

#define FAST_LEVELS 64

/* ffi_treatment_codes(a double, integer or logical (n))
 * -> list(codes = int(n), values = the L sorted distinct values of a, of
 *    a's type): codes[i] = match(a[i], values), as factor() would code a
 *    (R's sort(unique(a))), in two passes over a without hashing;
 * or NULL when a has a missing or (double) non-integer value or more than
 * FAST_LEVELS distinct values: the R path then checks and codes a.        */
SEXP ffi_treatment_codes(SEXP a)
{
    int type = TYPEOF(a);
    if (type != REALSXP && type != INTSXP && type != LGLSXP)
        Rf_error("internal error: `a` must be a double, integer or logical vector");
    R_xlen_t n = Rf_xlength(a);
    const double *dp = type == REALSXP ? REAL_RO(a) : NULL;
    const int *ip = type == INTSXP ? INTEGER_RO(a) : (type == LGLSXP ? LOGICAL_RO(a) : NULL);
    double vals[FAST_LEVELS];
    int L = 0, last = -1, rank[FAST_LEVELS];
    SEXP codes = PROTECT(Rf_allocVector(INTSXP, n));
    int *cp = INTEGER(codes);
    for (R_xlen_t i = 0; i < n; i++) {
        double v;
        if (dp) {
            v = dp[i];
            if (ISNAN(v) || v != floor(v)) { UNPROTECT(1); return R_NilValue; }
        } else {
            if (ip[i] == NA_INTEGER) { UNPROTECT(1); return R_NilValue; }
            v = ip[i];
        }
        if (last < 0 || vals[last] != v) {
            int k = 0;
            while (k < L && vals[k] != v) k++;
            if (k == L) {
                if (L == FAST_LEVELS) { UNPROTECT(1); return R_NilValue; }
                vals[L++] = v;
            }
            last = k;
        }
        cp[i] = last;
    }
    /* Distinct values in order of first appearance -> their sorted ranks. */
    for (int k = 0; k < L; k++) {
        rank[k] = 1;
        for (int l = 0; l < L; l++) rank[k] += vals[l] < vals[k];
    }
    for (R_xlen_t i = 0; i < n; i++) cp[i] = rank[cp[i]];
    SEXP values = PROTECT(Rf_allocVector(type, L));
    for (int k = 0; k < L; k++) {
        if (dp) REAL(values)[rank[k] - 1] = vals[k];
        else if (type == INTSXP) INTEGER(values)[rank[k] - 1] = (int) vals[k];
        else LOGICAL(values)[rank[k] - 1] = (int) vals[k];
    }
    const char *names[] = {"codes", "values", ""};
    SEXP out = PROTECT(Rf_mkNamed(VECSXP, names));
    SET_VECTOR_ELT(out, 0, codes);
    SET_VECTOR_ELT(out, 1, values);
    UNPROTECT(3);
    return out;
}

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
