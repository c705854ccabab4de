/*
 * Standardized survival curves: under each arm a, the weighted mean over
 * persons of each person's model-based survival curve with treatment set to
 * a (the g-formula for survival).
 *
 * Discrete time (pooled logistic hazard): person i under arm a has hazard
 * expit(lp[i,a] + ctab[a,s]) in period s, so
 *   S_i(t) = prod_{s <= t} 1 / (1 + exp(lp[i,a] + ctab[a,s])),
 * 1 / (1 + exp(x)) being 1 - expit(x) without cancellation in either tail
 * (exp overflowing to Inf gives the correct limit 0).
 * Cox: S_i(t_j) = exp(-H0[j] exp(lp[i,a])).
 * Persons are cut into the fixed chunks of cp_reduce, and within a chunk
 * into blocks of SC_BLOCK whose sums are added in order, so the curves do not
 * depend on the thread count.
 *
 * Plain C: calls design.c.
 */
#include <math.h>
#include <string.h>
#include "survival-curve.h"
#include "design.h"

#define SC_BLOCK 8

/* S (len) divided by the total of the weights w (n). */
static void divide_by_total(double *S, size_t len, const double *w, cl_len n)
{
    double total = 0.0;
    for (cl_len i = 0; i < n; i++) total += w[i];
    for (size_t e = 0; e < len; e++) S[e] /= total;
}

/* ---- discrete time ----------------------------------------------------- */

typedef struct {
    const double *lp, *ctab, *ectab, *w;
    cl_len n;
    int K, Tmax, split;
} ds_ctx;

/* acc (K x Tmax) = sum over persons [from, to) of w_i S_i(t) under each arm. */
static void ds_chunk(const void *ctx_, cl_len from, cl_len to, double *acc,
                     double *scratch)
{
    const ds_ctx *ctx = ctx_;
    int K = ctx->K;
    (void) scratch;
    memset(acc, 0, sizeof(double) * (size_t) K * ctx->Tmax);
    for (cl_len i0 = from; i0 < to; i0 += SC_BLOCK) {
        int len = (int) (to - i0 < SC_BLOCK ? to - i0 : SC_BLOCK);
        for (int a = 0; a < K; a++) {
            const double *lpa = ctx->lp + (size_t) a * ctx->n + i0;
            double el[SC_BLOCK], wb[SC_BLOCK], prod[SC_BLOCK];
            int split = ctx->split;
            /* Padding persons have weight 0 and factor 1. */
            for (int b = 0; b < SC_BLOCK; b++) {
                wb[b] = b < len ? ctx->w[i0 + b] : 0.0;
                el[b] = b < len ? exp(lpa[b]) : 0.0;
                prod[b] = 1.0;
                if (b < len && fabs(lpa[b]) > SC_SPLIT_MAX) split = 0;
            }
            for (int s = 0; s < ctx->Tmax; s++) {
                size_t as = (size_t) s * K + a;
                if (split) {
                    double ec = ctx->ectab[as];
                    for (int b = 0; b < SC_BLOCK; b++) prod[b] /= 1.0 + el[b] * ec;
                } else {
                    double c = ctx->ctab[as];
                    for (int b = 0; b < len; b++) prod[b] /= 1.0 + exp(lpa[b] + c);
                }
                double sum = 0.0;
                for (int b = 0; b < SC_BLOCK; b++) sum += wb[b] * prod[b];
                acc[as] += sum;
            }
        }
    }
}

/* Doubles of work for discrete_survival(). */
size_t discrete_survival_work_size(cl_len n, int K, int Tmax, int nthreads)
{
    cl_len nchunk = cp_chunks(n, K, Tmax);
    size_t len = (size_t) K * Tmax;
    return len + cp_reduce_work_size(nchunk, nthreads, len, 0);
}

/*
 * Inputs:  lp (n x K), ctab (K x Tmax), w (n, >= 0, positive sum).
 * Output:  S (K x Tmax), S[a,t] = sum_i w_i S_i(t) under a / sum_i w_i.
 * Work:    discrete_survival_work_size(n, K, Tmax, nthreads) doubles.
 */
void discrete_survival(const double *lp, cl_len n, int K, const double *ctab,
                       int Tmax, const double *w, double *S, int nthreads,
                       double *work)
{
    size_t len = (size_t) K * Tmax;
    double *ectab = work;
    int split = 1;
    for (size_t e = 0; e < len; e++) {
        ectab[e] = exp(ctab[e]);
        if (fabs(ctab[e]) > SC_SPLIT_MAX) split = 0;
    }
    ds_ctx ctx = {lp, ctab, ectab, w, n, K, Tmax, split};
    cl_len nchunk = cp_chunks(n, K, Tmax);
    cp_reduce(n, nchunk, nthreads, len, 0, ds_chunk, &ctx, S,
              work + len);
    divide_by_total(S, len, w, n);
}

/* ---- Cox --------------------------------------------------------------- */

typedef struct {
    const double *lp, *H0, *w;
    cl_len n;
    int K, m;
} cox_ctx;

/* acc (K x m) = sum over persons [from, to) of w_i S_i(t_j) under each arm. */
static void cox_chunk(const void *ctx_, cl_len from, cl_len to, double *acc,
                      double *scratch)
{
    const cox_ctx *ctx = ctx_;
    int K = ctx->K;
    (void) scratch;
    memset(acc, 0, sizeof(double) * (size_t) K * ctx->m);
    for (cl_len i0 = from; i0 < to; i0 += SC_BLOCK) {
        int len = (int) (to - i0 < SC_BLOCK ? to - i0 : SC_BLOCK);
        for (int a = 0; a < K; a++) {
            const double *lpa = ctx->lp + (size_t) a * ctx->n + i0;
            double risk[SC_BLOCK], wb[SC_BLOCK];
            for (int b = 0; b < len; b++) {
                risk[b] = exp(lpa[b]);
                wb[b] = ctx->w[i0 + b];
            }
            for (int j = 0; j < ctx->m; j++) {
                double h = ctx->H0[j], sum = 0.0;
                /* H0 = 0 is tested so that an infinite risk gives 1, not NaN. */
                if (h == 0) for (int b = 0; b < len; b++) sum += wb[b];
                else for (int b = 0; b < len; b++) sum += wb[b] * exp(-h * risk[b]);
                acc[(size_t) j * K + a] += sum;
            }
        }
    }
}

/* Doubles of work for cox_survival(). */
size_t cox_survival_work_size(cl_len n, int K, int m, int nthreads)
{
    cl_len nchunk = cp_chunks(n, K, m);
    return cp_reduce_work_size(nchunk, nthreads, (size_t) K * m, 0);
}

/*
 * Inputs:  lp (n x K), H0 (m, baseline cumulative hazard), w (n, >= 0,
 *          positive sum).
 * Output:  S (K x m), S[a,j] = sum_i w_i exp(-H0[j] exp(lp[i,a])) / sum_i w_i.
 * Work:    cox_survival_work_size(n, K, m, nthreads) doubles.
 */
void cox_survival(const double *lp, cl_len n, int K, const double *H0, int m,
                  const double *w, double *S, int nthreads, double *work)
{
    size_t len = (size_t) K * m;
    cox_ctx ctx = {lp, H0, w, n, K, m};
    cl_len nchunk = cp_chunks(n, K, m);
    cp_reduce(n, nchunk, nthreads, len, 0, cox_chunk, &ctx, S, work);
    divide_by_total(S, len, w, n);
}
