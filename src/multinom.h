#ifndef CAUSALLIB_MULTINOM_H
#define CAUSALLIB_MULTINOM_H

/* Multinomial logistic regression.  Plain C (no R header); calls newton.c
 * and design.c. */

#include "glm.h"

size_t multinom_work_size(cl_len n, int p, int K, int nthreads);
void multinom_newton(const cp_design *d, const int *a, int K,
                     const double *prior, const glm_spec *spec, double *B,
                     double *P, int *aliased, newton_info *info, double *work,
                     int *iwork);
/* The p shifts of the design a multinom_newton() fit with info->anchor >= 0
 * ran on, in its work. */
const double *multinom_center(const double *work, cl_len n, int p, int K, int nthreads);
void multinom_probs(const cp_design *d, int K, const double *B, double *P);

#endif
