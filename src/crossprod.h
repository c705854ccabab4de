#ifndef CAUSALLIB_CROSSPROD_H
#define CAUSALLIB_CROSSPROD_H

#include <stddef.h>
#include <R_ext/Arith.h> /* R_xlen_t */
#include <Rinternals.h>

size_t wcrossprod_work_size(R_xlen_t n, int p, int nthreads);
void wcrossprod(const double *X, R_xlen_t n, int p, const double *w,
                double *out, int nthreads, double *work);

size_t xt_mat_work_size(R_xlen_t n, int p, int m, int nthreads);
void xt_mat(const double *X, R_xlen_t n, int p, const double *M, int m,
            double *out, int nthreads, double *work);

#endif
