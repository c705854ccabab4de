#ifndef CAUSALLIB_SANDWICH_H
#define CAUSALLIB_SANDWICH_H

#include "crossprod.h"

/* Inputs of the IPW meat (see sandwich.c), n = d->n:
 *   a (n, arm codes 1..K), P (n x K propensities), sw (n sampling weights
 *   or NULL), w (n inverse probability weights), dw (n x (K - 1)
 *   derivatives of w in the linear predictors), y (n), mu (K means). */
typedef struct {
    const cp_design *d;
    const int *a;
    int K;
    const double *P, *sw, *w, *dw, *y, *mu;
} ipw_meat_in;

size_t ipw_meat_work_size(R_xlen_t n, int p, int K, int nthreads);
int ipw_meat(const ipw_meat_in *in, int nthreads, double *meat, double *D,
             double *work);

#endif
