#ifndef CAUSALLIB_SANDWICH_H
#define CAUSALLIB_SANDWICH_H

/* Sandwich meats of stacked estimating equations.  Plain C (no R header);
 * calls design.c. */

#include "design.h"

size_t stacked_meat_work_size(cl_len n, int p, int K, int qc, int nthreads);
void stacked_meat(const cp_design *d, const double *r, int m, const double *psi, int K,
                  const double *C, int qc, int nthreads, double *meat, double *xtc,
                  double *work, void (*interrupt)(void));

/* Inputs of the IPW meat (see sandwich.c), n = d->n:
 *   a (n, arm codes 0..K-1), P (n x K propensities), sw (n sampling weights
 *   or NULL), w (n inverse probability weights), dw (n x (K - 1)
 *   derivatives of w in the linear predictors), y (n), mu (K means). */
typedef struct {
    const cp_design *d;
    const int *a;
    int K;
    const double *P, *sw, *w, *dw, *y, *mu;
} ipw_meat_in;

size_t ipw_meat_work_size(cl_len n, int p, int K, int nthreads);
int ipw_meat(const ipw_meat_in *in, int nthreads, double *meat, double *D,
             double *work);

#endif
