#ifndef CAUSALLIB_METRICS_H
#define CAUSALLIB_METRICS_H

/* Evaluation metrics.  Plain C (no R header). */

#include "cl.h"

/* A value and its row in the input. */
typedef struct {
    double value;
    cl_len id;
} met_key;

void met_sort(met_key *keys, cl_len n, met_key *buf);

/* One row per distinct score, in descending score order. */
typedef struct {
    double *threshold, *tpr, *fpr, *precision;
} roc_points;

enum { ROC_OK = 0, ROC_NO_POS = 1, ROC_NO_NEG = 2 };

cl_len roc_sort(const double *score, cl_len n, met_key *keys, met_key *buf);
int roc_fill(const met_key *keys, cl_len n, const double *pos, const double *neg,
             const roc_points *out, double *auc);

void moments_totals(const int *group, const double *w, cl_len n, int G,
                    double *sum_w, double *sum_w2);
void moments_column(const double *x, const int *group, const double *w, cl_len n,
                    int G, const double *sum_w, double *mean, double *ss,
                    double *dev);

double ks_column(const double *x, const int *group, const double *w, cl_len n,
                 const double *W, met_key *keys, met_key *buf);

void group_moments(const double *X, cl_len n, int p, const int *group, const double *w,
                   int G, double *sum_w, double *sum_w2, double *mean, double *ss,
                   double *dev, void (*interrupt)(void));
void weighted_ks(const double *X, cl_len n, int p, const int *group, const double *w,
                 const double *W, double *D, met_key *keys, met_key *buf,
                 void (*interrupt)(void));

#endif
