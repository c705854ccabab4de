#ifndef CAUSALLIB_METRICS_H
#define CAUSALLIB_METRICS_H

#define R_NO_REMAP
#include <Rinternals.h>

/* A value and its row in the input. */
typedef struct {
    double value;
    R_xlen_t id;
} met_key;

void met_sort(met_key *keys, R_xlen_t n, met_key *buf);

/* One row per distinct score, in descending score order. */
typedef struct {
    double *threshold, *tpr, *fpr, *precision;
} roc_points;

enum { ROC_OK = 0, ROC_NO_POS = 1, ROC_NO_NEG = 2 };

R_xlen_t roc_sort(const double *score, R_xlen_t n, met_key *keys, met_key *buf);
int roc_fill(const met_key *keys, R_xlen_t n, const double *pos, const double *neg,
             const roc_points *out, double *auc);

void moments_totals(const int *group, const double *w, R_xlen_t n, int G,
                    double *sum_w, double *sum_w2);
void moments_column(const double *x, const int *group, const double *w, R_xlen_t n,
                    int G, const double *sum_w, double *mean, double *ss,
                    double *dev);

double ks_column(const double *x, const int *group, const double *w, R_xlen_t n,
                 const double *W, met_key *keys, met_key *buf);

#endif
