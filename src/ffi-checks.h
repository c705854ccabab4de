#ifndef CAUSALLIB_FFI_CHECKS_H
#define CAUSALLIB_FFI_CHECKS_H

/* Cheap type and length asserts for the .Call entry points.  User-facing
 * checks live in R; reaching one of these errors means an internal bug, so
 * the message says which argument was wrong and stops cleanly. */

#define R_NO_REMAP
#include <Rinternals.h>
#include "crossprod.h"

int ffi_nrow(SEXP x, const char *arg);
int ffi_ncol(SEXP x, const char *arg);
void ffi_check_double(SEXP x, const char *arg, R_xlen_t len);
void ffi_check_int(SEXP x, const char *arg, R_xlen_t len);
void ffi_check_finite(SEXP x, const char *arg);
/* The error of ffi_check_finite(), for kernels that check in their pass. */
NORET void ffi_abort_nonfinite(const char *arg);
int ffi_scalar_int(SEXP x, const char *arg, int lo, int hi);
/* Treatment codes 1..K of an integer vector a (length n) as 0-based codes
 * in R_alloc() memory. */
int *ffi_codes0(SEXP a, R_xlen_t n, int K, const char *arg);
double ffi_scalar_double(SEXP x, const char *arg);
/* A finite double matrix X and a TRUE/FALSE intercept flag as a design. */
cp_design ffi_design(SEXP X, SEXP intercept, const char *arg);
/* The same without the pass over X that checks it is finite: only for
 * kernels that check the rows they read (cp_nonfinite) and then call
 * ffi_abort_nonfinite(). */
cp_design ffi_design_unchecked(SEXP X, SEXP intercept, const char *arg);

#endif
