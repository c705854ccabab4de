#ifndef CAUSALLIB_SURVIVAL_CURVE_H
#define CAUSALLIB_SURVIVAL_CURVE_H

#define R_NO_REMAP
#include <Rinternals.h>

size_t discrete_survival_work_size(R_xlen_t n, int K, int Tmax, int nthreads);
void discrete_survival(const double *lp, R_xlen_t n, int K, const double *ctab,
                       int Tmax, const double *w, double *S, int nthreads,
                       double *work);

size_t cox_survival_work_size(R_xlen_t n, int K, int m, int nthreads);
void cox_survival(const double *lp, R_xlen_t n, int K, const double *H0, int m,
                  const double *w, double *S, int nthreads, double *work);

#endif
