#ifndef CAUSALLIB_TREATMENT_H
#define CAUSALLIB_TREATMENT_H

/* Treatment arms: codes, sums within arms, values spread into arm columns.
 * Plain C (no R header). */

#include "cl.h"

#define TREATMENT_FAST_LEVELS 64

int treatment_codes(const double *dv, const int *iv, int iv_na, cl_len n,
                    int *codes, double *values);
void arm_sums(const double *v, cl_len nv, const int *a, cl_len n, int K, double *out);
void arm_spread(const double *v, const int *a, cl_len n, int K, double *out);

#endif
