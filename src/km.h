#ifndef CAUSALLIB_KM_H
#define CAUSALLIB_KM_H

#define R_NO_REMAP
#include <Rinternals.h>

/* An observation's time and its row in the input. */
typedef struct {
    double time;
    R_xlen_t id;
} km_key;

/* One row per distinct (stratum, time); the kernels write through these. */
typedef struct {
    int *stratum;
    double *time, *n_risk, *n_event, *n_censor, *surv, *std_err;
} km_curve;

void km_group_strata(const double *time, const int *strata, R_xlen_t n, int K,
                     km_key *keys, R_xlen_t *start);
void km_sort_times(km_key *keys, R_xlen_t len, km_key *buf);
R_xlen_t km_count_times(const km_key *keys, R_xlen_t len);
R_xlen_t km_stratum(const km_key *keys, R_xlen_t len, const int *status,
                    const double *w, int stratum, const km_curve *out, R_xlen_t row0);

#endif
