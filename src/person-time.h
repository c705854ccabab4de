#ifndef CAUSALLIB_PERSON_TIME_H
#define CAUSALLIB_PERSON_TIME_H

/* Pooled logistic regression over person-time.  Plain C (no R header);
 * calls newton.c, design.c and glm.c (the logistic link). */

#include "glm.h"

/* Person-time data without the long person-period table: person i is at
 * risk in periods 1..last[i] and has the event in period last[i] when
 * status[i] is 1.  With censoring models, the prior weight of row (i, t) is
 * w[i] times prod_{s < t} (1 - expit(ln[i] + cn[a, s])) /
 * (1 - expit(lc[i] + cc[a, s])), a = arm[i]. */
typedef struct {
    cl_len n;
    int K, Tmax;
    const int *arm;    /* n, coded 0..K-1 */
    const int *last;   /* n, in 0..Tmax */
    const int *status; /* n, 0/1; 1 needs last >= 1 */
    const double *w;   /* n person weights >= 0 */
    const double *lc, *cc; /* n and K x Tmax: censoring model; lc NULL: none */
    const double *ln, *cn; /* n and K x Tmax: numerator model; ln NULL: 1 */
} pt_data;

/* Row (i, t) of the pooled logistic design is [d row i, F row t, and when
 * interact is 1, F row t in the block of arm a = 1..K-1 if arm[i] == a];
 * its linear predictor adds offset[i]. */
typedef struct {
    const cp_design *d;    /* n x pd person design (implicit intercept) */
    const double *F;       /* Tmax x q period design, column-major */
    int q, interact;       /* interact is 0 when K == 1 */
    const double *offset;  /* n per-person offsets, or NULL */
} pt_model;

typedef struct {
    newton_info fit; /* boundary unused */
    int separation;  /* a fitted probability within 10 eps of 0 or 1 */
    double rows, events; /* person-period rows and events with w > 0 */
} pt_info;

#define PT_MAX_TABLE 10000000.0 /* K x Tmax cells */

int pt_ncoef(const pt_data *data, const pt_model *model);

size_t pt_risk_work_size(const pt_data *data, int nthreads);
void pt_risk_table(const pt_data *data, double *at_risk, double *events,
                   double *counts, int nthreads, double *work);

void pt_period_table(const pt_model *model, int K, int Tmax, const double *beta,
                     double *ctab);

size_t pt_fit_work_size(const pt_data *data, const pt_model *model, int nthreads);
void pt_fit(const pt_data *data, const pt_model *model, const glm_spec *spec,
            double *beta, int *aliased, double *information, double *score,
            pt_info *info, double *work);
/* The shifts (of the person design's columns) of a pt_fit() fit with
 * info->fit.anchor >= 0, in its work. */
const double *pt_center(const pt_data *data, const pt_model *model, int nthreads,
                        const double *work);

#endif
