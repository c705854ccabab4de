/*
 * Inverse probability weights from a matrix of (generalized) propensity
 * scores, and their derivatives with respect to the linear predictors of the
 * treatment model (needed by the sandwich, which must account for the
 * estimation of the propensity model).
 *
 * With p_k the probability of level k and a the level received:
 *   ATE  w = 1 / p_a
 *   ATT  w = p_t / p_a            (t the treated level: w = 1 when a = t)
 *   ATC  w = p_t / p_a            (t the control, i.e. reference, level)
 *   ATO  w = (1 / p_a) / sum_k (1 / p_k)  (overlap weights; binary: 1 - p or p)
 * Propensities are clipped to [clip_lo, clip_hi] first; a clipped entry has
 * zero derivative.  With the softmax p_k = exp(eta_k) / sum_j exp(eta_j)
 * (eta_1 = 0), dw/deta_j = p_j (dw/dp_j - sum_k p_k dw/dp_k), j = 2..K.
 *
 * Plain C: calls threads.c.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "weights.h"
#include "threads.h"

/* Weight of one unit and its gradient dwdp (K) in the clipped propensities
 * pc (K). */
static double unit_weight(const double *pc, int K, int a, int estimand,
                          int target, double *dwdp)
{
    for (int k = 0; k < K; k++) dwdp[k] = 0.0;
    switch (estimand) {
    case EST_ATT:
    case EST_ATC:
        if (a == target) return 1.0;
        dwdp[target] = 1.0 / pc[a];
        dwdp[a] = -pc[target] / (pc[a] * pc[a]);
        return pc[target] / pc[a];
    case EST_ATO: {
        double S = 0.0;
        for (int k = 0; k < K; k++) S += 1.0 / pc[k];
        double ha = 1.0 / pc[a];
        for (int k = 0; k < K; k++)
            dwdp[k] = (ha / (pc[k] * pc[k]) - (k == a ? S / (pc[a] * pc[a]) : 0.0)) / (S * S);
        return ha / S;
    }
    default:
        dwdp[a] = -1.0 / (pc[a] * pc[a]);
        return 1.0 / pc[a];
    }
}

/* Rows [from, to) of ipw_weights(); work: 3 K doubles. */
static cl_len weights_rows(const double *P, cl_len n, int K, const int *a,
                           const ipw_opts *o, double *w, double *dw_deta,
                           cl_len from, cl_len to, double *work)
{
    const double clip_lo = o->clip_lo, clip_hi = o->clip_hi;
    double *pc = work, *dwdp = work + K, *pi = work + 2 * K;
    cl_len nclipped = 0;
    for (cl_len i = from; i < to; i++) {
        int clipped = 0;
        for (int k = 0; k < K; k++) {
            pi[k] = P[(size_t) k * n + i];
            pc[k] = pi[k] < clip_lo ? clip_lo : (pi[k] > clip_hi ? clip_hi : pi[k]);
            if (pc[k] != pi[k]) clipped = 1;
        }
        nclipped += clipped;
        w[i] = unit_weight(pc, K, a[i], o->estimand, o->target, dwdp);
        if (!dw_deta) continue;
        double s = 0.0;
        for (int k = 0; k < K; k++) {
            if (pc[k] != pi[k]) dwdp[k] = 0.0;
            s += pi[k] * dwdp[k];
        }
        for (int j = 1; j < K; j++)
            dw_deta[(size_t) (j - 1) * n + i] = pi[j] * (dwdp[j] - s);
    }
    return nclipped;
}

#define MIN_ROWS_PER_THREAD 65536
/* Doubles of work per thread: 3 K, and a cache line apart from the next
 * thread's, which writes its own for every row. */
#define WORK_STRIDE(K) (3 * (size_t) (K) + 8)

/* Doubles of work for ipw_weights() with nthreads requested. */
size_t ipw_weights_work_size(int K, int nthreads)
{
    return 3 * (size_t) K + (size_t) (nthreads > 1 ? nthreads - 1 : 0) * WORK_STRIDE(K);
}

/*
 * Inputs:  P (n x K propensities), a (n, levels 0..K-1), o (estimand,
 *          target, clip bounds: 0 and 1 for none; q is not used here),
 *          nthreads requested.
 * Outputs: w (n); dw_deta (n x (K-1)) unless NULL.
 * Work:    ipw_weights_work_size(K, nthreads) doubles.
 * Returns the number of units with at least one clipped propensity.
 * A unit's weight depends on its own row only, so threads take ranges of
 * rows and the result does not depend on their number.
 */
cl_len ipw_weights(const double *P, cl_len n, int K, const int *a,
                   const ipw_opts *o, double *w, double *dw_deta, int nthreads,
                   double *work)
{
    int nt = cl_threads(nthreads, n / MIN_ROWS_PER_THREAD);
    if (nt <= 1) return weights_rows(P, n, K, a, o, w, dw_deta, 0, n, work);
    cl_len nclipped = 0;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static) reduction(+ : nclipped)
#endif
    for (int t = 0; t < nt; t++)
        nclipped += weights_rows(P, n, K, a, o, w, dw_deta, t * n / nt,
                                 (t + 1) * n / nt, work + WORK_STRIDE(K) * t);
    return nclipped;
}

/* qsort() order of doubles. */
static int cmp_double(const void *x, const void *y)
{
    double u = *(const double *) x, v = *(const double *) y;
    return (u > v) - (u < v);
}

/*
 * Inputs:  w (n), count (n frequencies, or NULL: 1 each), q in (0, 1].
 * Returns: the q-quantile (R's type 7) of the weights, unit i counted
 *          count[i] times; NaN when no unit is counted.
 * Work:    sum(count) doubles (n when count is NULL).
 */
double ipw_truncation_cap(const double *w, const int *count, cl_len n,
                          double q, double *work)
{
    cl_len m = 0;
    for (cl_len i = 0; i < n; i++) {
        int c = count ? count[i] : 1;
        for (int r = 0; r < c; r++) work[m++] = w[i];
    }
    if (m == 0) return NAN;
    qsort(work, m, sizeof(double), cmp_double);
    double h = (double) (m - 1) * q;
    cl_len l = (cl_len) floor(h);
    double lo = work[l], hi = work[l + 1 < m ? l + 1 : l];
    return lo + (h - (double) l) * (hi - lo);
}

/* Cap weights at cap; a capped weight no longer depends on the propensity. */
void ipw_truncate(double *w, double *dw_deta, cl_len n, int K, double cap)
{
    for (cl_len i = 0; i < n; i++) {
        if (w[i] <= cap) continue;
        w[i] = cap;
        if (dw_deta)
            for (int j = 1; j < K; j++) dw_deta[(size_t) (j - 1) * n + i] = 0.0;
    }
}

/*
 * Stabilization: w[i] times the share of the prior weight (n) at the level
 * a[i] received (0..K-1), as ipw(stabilize = TRUE) computes it.
 * Work: K doubles.
 */
void ipw_stabilize(double *w, cl_len n, int K, const int *a, const double *prior,
                   double *work)
{
    double total = 0.0;
    for (int k = 0; k < K; k++) work[k] = 0.0;
    for (cl_len i = 0; i < n; i++) work[a[i]] += prior[i];
    for (int k = 0; k < K; k++) total += work[k];
    for (cl_len i = 0; i < n; i++) w[i] *= work[a[i]] / total;
}

/*
 * The population an estimand describes, one weight per unit (n): 1 for the
 * ATE, 1 at the target level (0 elsewhere) for the ATT and ATC, and the
 * overlap tilting 1 / sum_k 1 / P[i, k] for the ATO, with P (n x K) the
 * propensities.  Standardizing over it gives the estimand.
 */
void ipw_population(const double *P, cl_len n, int K, const int *a, const ipw_opts *o,
                    double *pop)
{
    for (cl_len i = 0; i < n; i++) {
        if (o->estimand == EST_ATT || o->estimand == EST_ATC) {
            pop[i] = a[i] == o->target;
        } else if (o->estimand == EST_ATO) {
            double s = 0.0;
            for (int k = 0; k < K; k++) s += 1.0 / P[(size_t) k * n + i];
            pop[i] = 1.0 / s;
        } else {
            pop[i] = 1.0;
        }
    }
}
