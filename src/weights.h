#ifndef CAUSALLIB_WEIGHTS_H
#define CAUSALLIB_WEIGHTS_H

/* Inverse probability weights.  Plain C (no R header); calls threads.c. */

#include <stddef.h>
#include "cl.h"

enum estimand { EST_ATE = 0, EST_ATT = 1, EST_ATC = 2, EST_ATO = 3 };

/* How weights are formed: the estimand, its target level (0-based), the
 * propensity clipping bounds, and the truncation quantile q (NaN: none). */
typedef struct {
    int estimand, target;
    double clip_lo, clip_hi, q;
} ipw_opts;

size_t ipw_weights_work_size(int K, int nthreads);
cl_len ipw_weights(const double *P, cl_len n, int K, const int *a,
                   const ipw_opts *o, double *w, double *dw_deta, int nthreads,
                   double *work);
double ipw_truncation_cap(const double *w, const int *count, cl_len n,
                          double q, double *work);
void ipw_truncate(double *w, double *dw_deta, cl_len n, int K, double cap);
void ipw_stabilize(double *w, cl_len n, int K, const int *a, const double *prior,
                   double *work);
void ipw_population(const double *P, cl_len n, int K, const int *a, const ipw_opts *o,
                    double *pop);

#endif
