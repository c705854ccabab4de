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
 */
#define R_NO_REMAP
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "weights.h"
#include "ffi-checks.h"

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
static R_xlen_t weights_rows(const double *P, R_xlen_t n, int K, const int *a,
                             int estimand, int target, double clip_lo, double clip_hi,
                             double *w, double *dw_deta, R_xlen_t from, R_xlen_t to,
                             double *work)
{
    double *pc = work, *dwdp = work + K, *pi = work + 2 * K;
    R_xlen_t nclipped = 0;
    for (R_xlen_t i = from; i < to; i++) {
        int clipped = 0;
        for (int k = 0; k < K; k++) {
            pi[k] = P[(size_t) k * n + i];
            pc[k] = pi[k] < clip_lo ? clip_lo : (pi[k] > clip_hi ? clip_hi : pi[k]);
            if (pc[k] != pi[k]) clipped = 1;
        }
        nclipped += clipped;
        w[i] = unit_weight(pc, K, a[i], estimand, target, dwdp);
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

/*
 * Inputs:  P (n x K propensities), a (n, levels 0..K-1), estimand, target,
 *          clip bounds (use 0 and 1 for none), nthreads.
 * Outputs: w (n); dw_deta (n x (K-1)) unless NULL.
 * Work:    3 K + (nthreads - 1) WORK_STRIDE(K) doubles.
 * Returns the number of units with at least one clipped propensity.
 * A unit's weight depends on its own row only, so threads take ranges of
 * rows and the result does not depend on their number.  Uses no R API.
 */
R_xlen_t ipw_weights(const double *P, R_xlen_t n, int K, const int *a,
                     int estimand, int target, double clip_lo, double clip_hi,
                     double *w, double *dw_deta, int nthreads, double *work)
{
    int nt = n / MIN_ROWS_PER_THREAD < nthreads ? (int) (n / MIN_ROWS_PER_THREAD) : nthreads;
    if (nt <= 1)
        return weights_rows(P, n, K, a, estimand, target, clip_lo, clip_hi, w, dw_deta,
                            0, n, work);
    R_xlen_t nclipped = 0;
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(static) reduction(+ : nclipped)
#endif
    for (int t = 0; t < nt; t++)
        nclipped += weights_rows(P, n, K, a, estimand, target, clip_lo, clip_hi, w,
                                 dw_deta, t * n / nt, (t + 1) * n / nt,
                                 work + WORK_STRIDE(K) * t);
    return nclipped;
}

static int cmp_double(const void *x, const void *y)
{
    double u = *(const double *) x, v = *(const double *) y;
    return (u > v) - (u < v);
}

/* The q-quantile (R's type 7) of the weights, unit i counted count[i]
 * times (count NULL: once each).  work: sum(count) doubles (n when NULL). */
double ipw_truncation_cap(const double *w, const int *count, R_xlen_t n,
                          double q, double *work)
{
    R_xlen_t m = 0;
    for (R_xlen_t i = 0; i < n; i++) {
        int c = count ? count[i] : 1;
        for (int r = 0; r < c; r++) work[m++] = w[i];
    }
    if (m == 0) return NA_REAL;
    qsort(work, m, sizeof(double), cmp_double);
    double h = (double) (m - 1) * q;
    R_xlen_t l = (R_xlen_t) floor(h);
    double lo = work[l], hi = work[l + 1 < m ? l + 1 : l];
    return lo + (h - (double) l) * (hi - lo);
}

/* Cap weights at cap; a capped weight no longer depends on the propensity. */
void ipw_truncate(double *w, double *dw_deta, R_xlen_t n, int K, double cap)
{
    for (R_xlen_t i = 0; i < n; i++) {
        if (w[i] <= cap) continue;
        w[i] = cap;
        if (dw_deta)
            for (int j = 1; j < K; j++) dw_deta[(size_t) (j - 1) * n + i] = 0.0;
    }
}

/* ---- .Call entry ------------------------------------------------------------
 * ffi_ipw_weights(P n x K double, a int(n) coded 1..K, estimand int (0 ATE,
 *                 1 ATT, 2 ATC, 3 ATO), target int (1..K), clip double(2),
 *                 truncate double(1) quantile or NA, nthreads int)
 * -> list(weights n, dw_deta n x (K-1), n_clipped, cap)                     */

SEXP ffi_ipw_weights(SEXP P, SEXP a, SEXP estimand, SEXP target, SEXP clip,
                     SEXP truncate, SEXP nthreads)
{
    ffi_check_double(P, "P", -1);
    R_xlen_t n = ffi_nrow(P, "P");
    int K = ffi_ncol(P, "P");
    if (K < 2) Rf_error("internal error: `P` needs at least two columns");
    ffi_check_finite(P, "P");
    int *a0 = ffi_codes0(a, n, K, "a");
    int est = ffi_scalar_int(estimand, "estimand", 0, 3);
    int tgt = ffi_scalar_int(target, "target", 1, K) - 1;
    ffi_check_double(clip, "clip", 2);
    ffi_check_finite(clip, "clip");
    ffi_check_double(truncate, "truncate", 1);
    double q = REAL_RO(truncate)[0];
    if (!ISNAN(q) && (q <= 0 || q > 1)) Rf_error("internal error: `truncate` must be in (0, 1]");
    int nt = ffi_scalar_int(nthreads, "nthreads", 1, 1024);

    int nprot = 0;
    SEXP w = PROTECT(Rf_allocVector(REALSXP, n)); nprot++;
    SEXP dw = PROTECT(Rf_allocMatrix(REALSXP, n, K - 1)); nprot++;
    double *work = (double *) R_alloc(3 * (size_t) K + (nt - 1) * WORK_STRIDE(K),
                                      sizeof(double));
    R_xlen_t nclip = ipw_weights(REAL_RO(P), n, K, a0, est, tgt, REAL_RO(clip)[0],
                                 REAL_RO(clip)[1], REAL(w), REAL(dw), nt, work);
    double cap = NA_REAL;
    if (!ISNAN(q)) {
        double *qwork = (double *) R_alloc(n > 0 ? n : 1, sizeof(double));
        cap = ipw_truncation_cap(REAL(w), NULL, n, q, qwork);
        ipw_truncate(REAL(w), REAL(dw), n, K, cap);
    }
    const char *names[] = {"weights", "dw_deta", "n_clipped", "cap", ""};
    SEXP out = PROTECT(Rf_mkNamed(VECSXP, names)); nprot++;
    SET_VECTOR_ELT(out, 0, w);
    SET_VECTOR_ELT(out, 1, dw);
    SET_VECTOR_ELT(out, 2, Rf_ScalarReal((double) nclip));
    SET_VECTOR_ELT(out, 3, Rf_ScalarReal(cap));
    UNPROTECT(nprot);
    return out;
}
