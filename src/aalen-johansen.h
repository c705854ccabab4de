#ifndef CAUSALLIB_AALEN_JOHANSEN_H
#define CAUSALLIB_AALEN_JOHANSEN_H

/* Weighted Aalen-Johansen cumulative incidence of competing causes.  Plain C
 * (no R header).  The observations are sorted by km_sort() (km.h). */

#include "cl.h"
#include "km.h"

/* One row per distinct (stratum, time); the cause columns are nrow x J,
 * column-major.  The kernels write through these. */
typedef struct {
    int *stratum;
    double *time, *n_risk, *n_event, *n_censor, *surv, *cif, *std_err;
    cl_len nrow;
} aj_curve;

void aj_curves(const km_key *keys, const cl_len *start, int K, int J, const int *cause,
               const double *w, const aj_curve *out, double *work,
               void (*interrupt)(void));

#endif
