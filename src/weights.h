#ifndef CAUSALLIB_WEIGHTS_H
#define CAUSALLIB_WEIGHTS_H

#define R_NO_REMAP
#include <Rinternals.h>

enum estimand { EST_ATE = 0, EST_ATT = 1, EST_ATC = 2, EST_ATO = 3 };

R_xlen_t ipw_weights(const double *P, R_xlen_t n, int K, const int *a,
                     int estimand, int target, double clip_lo, double clip_hi,
                     double *w, double *dw_deta, int nthreads, double *work);
double ipw_truncation_cap(const double *w, const int *count, R_xlen_t n,
                          double q, double *work);
void ipw_truncate(double *w, double *dw_deta, R_xlen_t n, int K, double cap);

#endif
