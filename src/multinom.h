#ifndef CAUSALLIB_MULTINOM_H
#define CAUSALLIB_MULTINOM_H

#include "glm.h"

size_t multinom_work_size(R_xlen_t n, int p, int K, int nthreads);
void multinom_newton(const cp_design *d, const int *a, int K,
                     const double *prior, const glm_spec *spec, double *B,
                     double *P, int *aliased, glm_info *info, double *work,
                     int *iwork);
void multinom_probs(const cp_design *d, int K, const double *B, double *P);

#endif
