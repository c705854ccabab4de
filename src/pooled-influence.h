#ifndef CAUSALLIB_POOLED_INFLUENCE_H
#define CAUSALLIB_POOLED_INFLUENCE_H

/* The influence pieces of pooled-logistic survival curves (the C side of
 * pooled_influence(), R/survival-sandwich.R): one streamed pass over
 * persons x periods each, never an n x (K m) matrix.  Plain C (no R
 * header); calls design.c's chunked reduction and block cross-products. */

#include "person-time.h"

/* The fitted hazard model's period part: person i's logit hazard under arm
 * k in period t is lp[i, k] + ctab[k, t]. */
typedef struct {
    int K, Tmax, q;
    const double *ctab; /* K x Tmax, column-major */
    const double *F;    /* Tmax x q period terms, column-major */
    const double *ectab; /* exp(-ctab), set by the kernels */
    int split;          /* whether every |ctab| <= SC_SPLIT_MAX */
} pi_periods;

/* Person scores: the hazard model's coefficients are the person design z
 * (pz columns, its intercept included), the period terms and the K - 1
 * arm-by-period blocks, P = pz + K q. */
size_t pi_scores_work_size(cl_len n, const pi_periods *per, int nthreads);
void pi_scores(const pt_data *data, const cp_design *z, const double *lp,
               const pi_periods *per, double *score, int nthreads, double *work,
               void (*interrupt)(void));

/* The people of the curves' sums: their linear predictors under each arm,
 * standardization weights, counterfactual designs (K, pz columns each),
 * and optionally the nuisance influence functions Phi (n x P) with the
 * curves Sbar (K x Tmax, finite) for the cross sums. */
typedef struct {
    cl_len n;
    const double *lp;    /* n x K */
    const double *v;     /* n */
    const cp_design *z;  /* K designs of n rows */
    const cp_design *phi; /* n x P, or NULL: no ij_var nor C */
    const double *Sbar;  /* K x Tmax, with phi */
} pi_people;

size_t pi_arm_sums_work_size(const pi_people *pp, const pi_periods *per, int nthreads);
void pi_arm_sums(const pi_people *pp, const pi_periods *per, double *G, double *ij_var,
                 double *C, int nthreads, double *work, void (*interrupt)(void));

size_t pi_functionals_work_size(cl_len nrows, const pi_periods *per, int nthreads);
void pi_functionals(const double *lp, cl_len n, const int *rows, cl_len nrows,
                    const pi_periods *per, const double *L, const int *arm, int r,
                    double *out, int nthreads, double *work, void (*interrupt)(void));

#endif
