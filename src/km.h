#ifndef CAUSALLIB_KM_H
#define CAUSALLIB_KM_H

/* Weighted Kaplan-Meier curves.  Plain C (no R header). */

#include "cl.h"

/* An observation's time and its row in the input. */
typedef struct {
    double time;
    cl_len id;
} km_key;

/* One row per distinct (stratum, time); the kernels write through these. */
typedef struct {
    int *stratum;
    double *time, *n_risk, *n_event, *n_censor, *surv, *std_err;
} km_curve;

void km_group_strata(const double *time, const int *strata, cl_len n, int K,
                     km_key *keys, cl_len *start);
void km_sort_times(km_key *keys, cl_len len, km_key *buf);
cl_len km_count_times(const km_key *keys, cl_len len);
cl_len km_stratum(const km_key *keys, cl_len len, const int *status,
                    const double *w, int stratum, const km_curve *out, cl_len row0);

/* One product-limit step at a time with events of weight d > 0 among Y
 * at risk, of whom `left` remain after it: S *= left / Y and the variance
 * sum H += d / (Y left); when none is left (left is exactly 0, see
 * km_stratum()) the curve drops to 0 and *dropped is set.  The weighted
 * Kaplan-Meier and Aalen-Johansen kernels share it. */
static inline void km_step(double Y, double d, double left, double *S, double *H,
                           int *dropped)
{
    if (left > 0) {
        *S *= left / Y;
        *H += d / (Y * left);
    } else {
        *S = 0.0;
        *dropped = 1;
    }
}

cl_len km_sort(const double *time, const int *strata, cl_len n, int K, km_key *keys,
               cl_len *start, km_key *buf, void (*interrupt)(void));
void km_curves(const km_key *keys, const cl_len *start, int K, const int *status,
               const double *w, const km_curve *out, void (*interrupt)(void));

#endif
