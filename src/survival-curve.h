#ifndef CAUSALLIB_SURVIVAL_CURVE_H
#define CAUSALLIB_SURVIVAL_CURVE_H

/* Standardized survival curves.  Plain C (no R header); calls design.c's
 * chunked reduction. */

#include <stddef.h>
#include "cl.h"

/* exp(lp + c) is computed as exp(lp) exp(c), one exp per person and arm
 * instead of one per period, when |lp| and |c| are both at most this: the
 * product then neither overflows nor underflows and is off by a few ulps
 * (here and in pooled-influence.c). */
#define SC_SPLIT_MAX 300.0

size_t discrete_survival_work_size(cl_len n, int K, int Tmax, int nthreads);
void discrete_survival(const double *lp, cl_len n, int K, const double *ctab,
                       int Tmax, const double *w, double *S, int nthreads,
                       double *work);

size_t cox_survival_work_size(cl_len n, int K, int m, int nthreads);
void cox_survival(const double *lp, cl_len n, int K, const double *H0, int m,
                  const double *w, double *S, int nthreads, double *work);

#endif
