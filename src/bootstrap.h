#ifndef CAUSALLIB_BOOTSTRAP_H
#define CAUSALLIB_BOOTSTRAP_H

/* Bootstrap replicates refitted in C.  Plain C (no R header); calls glm.c,
 * multinom.c, weights.c and threads.c. */

#include "glm.h"
#include "km.h"
#include "person-time.h"
#include "weights.h"

/* One model of a replicate: its design x (n x p) and offset (n or NULL;
 * NULL for a multinomial model), the treatment codes a (n, 0..K-1),
 * sampling weights sw (n), outcome y (n; NULL for a treatment model) and
 * how it is fitted (spec.nthreads 1, no interrupt). */
typedef struct {
    cp_design x;
    const double *offset;
    const int *a;
    int K;
    const double *y, *sw;
    glm_spec spec;
} boot_data;

/* The IPW bootstrap: Hajek means of y under weights from the refitted
 * treatment model d. */
typedef struct {
    const boot_data *d;
    ipw_opts opts;
} ipw_boot;

/* The standardization bootstrap: the outcome model d refitted, predicted
 * for every unit under each level: on the counterfactual designs xcf (K,
 * the dimensions of d->x) with their offsets cf_offset (K, each n or NULL)
 * for an S-learner, or per arm on d->x and d->offset when stratified (xcf
 * and cf_offset NULL). */
typedef struct {
    const boot_data *d;
    const cp_design *xcf;
    const double *const *cf_offset;
    int stratified;
} std_boot;

/* The AIPW bootstrap: both models refitted (weights dw, outcome dout; the
 * same units, codes and sampling weights). */
typedef struct {
    const boot_data *dw, *dout;
    const cp_design *xcf;
    const double *const *cf_offset;
    int stratified;
    ipw_opts opts;
} aipw_boot;

/* The survival bootstrap's curves. */
enum surv_boot_method {
    SB_KM = 0,      /* weighted Kaplan-Meier at the fit's times */
    SB_GRID_KM = 1, /* Kaplan-Meier on the period grid (censoring weights) */
    SB_GRID_PL = 2, /* pooled-logistic hazard of the arms (IP weighted) */
    SB_POOLED = 3   /* standardized pooled-logistic hazard model */
};

/* A pooled-logistic model of a replicate and how it is fitted (spec: its
 * penalty, nthreads 1, no interrupt). */
typedef struct {
    pt_model model;
    glm_spec spec;
} surv_pt;

/* The survival bootstrap: the K x m curves of survival_curves(), the weight
 * model, the censoring models and the hazard model refitted. */
typedef struct {
    int method;      /* enum surv_boot_method */
    cl_len n;
    int K, m;        /* arms; curve times (the periods on the grid) */
    const int *a;    /* n, 0..K-1 */
    const int *zero; /* n zeros: the arm of a model without arms */
    const double *sw;
    /* The weight model (NULL: none), its options and stabilization; with
     * population, curves standardize over its estimand's population. */
    const boot_data *wm;
    ipw_opts opts;
    int stabilize, population;
    /* SB_KM: the observations sorted once by km_sort() (keys, start, nrow
     * rows of curves), their status, and at (K x m): the row of arm k's
     * curve at time j, -1 before its first time, -2 after its last. */
    const km_key *keys;
    const cl_len *start;
    cl_len nrow;
    const int *status, *at;
    const double *times; /* SB_KM: the m curve times */
    /* The period grid: periods at risk and event status (n), Tmax = m. */
    const int *last, *event;
    /* Censoring models (NULL: none) on the censoring person-time. */
    const surv_pt *cens_denom, *cens_numer;
    const int *c_last, *c_status;
    /* SB_GRID_PL, SB_POOLED: the hazard model (no arms when stratified)
     * and, unless stratified, the K counterfactual person designs xcf with
     * their offsets, whose curves are averaged (SB_GRID_PL: one row of
     * weight 1). */
    const surv_pt *hazard;
    int stratified;
    const cp_design *xcf;
    const double *const *cf_offset;
} surv_boot;

/* One replicate: mu (K means) from the frequency counts count (n), with its
 * own workspace; returns 0 when a model failed to fit. */
typedef int (*boot_replicate_fn)(const void *ctx, const int *count, double *mu,
                                 double *work, int *iwork);

int ipw_boot_replicate(const void *ctx, const int *count, double *mu, double *work,
                       int *iwork);
int std_boot_replicate(const void *ctx, const int *count, double *mu, double *work,
                       int *iwork);
int aipw_boot_replicate(const void *ctx, const int *count, double *mu, double *work,
                        int *iwork);
int surv_boot_replicate(const void *ctx, const int *count, double *mu, double *work,
                        int *iwork);

/* Doubles (wlen) and ints (ilen) of workspace one replicate needs. */
void ipw_boot_work_size(const ipw_boot *b, size_t *wlen, size_t *ilen);
void std_boot_work_size(const std_boot *b, size_t *wlen, size_t *ilen);
void aipw_boot_work_size(const aipw_boot *b, size_t *wlen, size_t *ilen);
void surv_boot_work_size(const surv_boot *b, size_t *wlen, size_t *ilen);
void surv_km_rows(const km_key *keys, const cl_len *start, int K, const double *times,
                  int m, int *at);

void boot_run(boot_replicate_fn replicate, const void *ctx, const int *counts,
              cl_len n, int R, int K, int nthreads, size_t wlen, size_t ilen,
              double *out, int *ok, double *mu, double *work, int *iwork);

#endif
