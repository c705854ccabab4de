/*
 * Nonparametric bootstrap of the population-average potential outcomes,
 * refitting the whole pipeline (treatment or outcome model, weights, means)
 * in C.  Resampling is given as frequency counts drawn in R with R's RNG, so
 * replicates are reproducible under set.seed(); replicates run in parallel,
 * each on one thread with its own workspace, so the numbers do not depend on
 * the thread count.  R hands the replicates over in batches and checks for
 * interrupts between them (no R API may run inside the parallel region).
 *
 * Plain C: calls glm.c, multinom.c, weights.c and threads.c.
 */
#include <math.h>
#include <string.h>
#include "bootstrap.h"
#include "multinom.h"
#include "threads.h"

/* ---- IPW ----------------------------------------------------------------- */

/* Workspace of boot_weights(). */
static size_t weights_work(cl_len n, int p, int K)
{
    size_t fit = K == 2 ? glm_work_size(n, p, 1) : multinom_work_size(n, p, K, 1);
    return fit + (size_t) n * 3 + (size_t) (K - 1) * p + 3 * (size_t) K;
}

/* Doubles and ints of work for one ipw_boot_replicate(). */
void ipw_boot_work_size(const ipw_boot *b, size_t *wlen, size_t *ilen)
{
    const boot_data *d = b->d;
    *wlen = weights_work(d->x.n, d->x.p, d->K) + (size_t) d->x.n * (2 + d->K);
    *ilen = (size_t) d->K * d->x.p + 1;
}

/* Refit the treatment model with prior weights `prior` and fill P (n x K
 * propensities) and w (n weights of the level received, clipped and
 * truncated at the q quantile unless q is NaN).  Work: weights_work()
 * doubles and K p ints; returns 0 when the treatment model failed to fit. */
static int boot_weights(const boot_data *d, const double *prior, const int *count,
                        const ipw_opts *o, double *P, double *w, double *work,
                        int *iwork)
{
    cl_len n = d->x.n;
    int K = d->K, p = d->x.p;
    double *ybin = work, *eta = ybin + n, *qwork = eta + n, *beta = qwork + n;
    double *wwork = beta + (size_t) (K - 1) * p, *fit_work = wwork + 3 * K;
    int *aliased = iwork, *qal = iwork + p;
    newton_info info;

    if (K == 2) {
        for (cl_len i = 0; i < n; i++) ybin[i] = d->a[i] == 1;
        glm_irls(&d->x, ybin, prior, d->offset, &d->spec, beta, eta, P + n,
                 aliased, &info, fit_work);
        for (cl_len i = 0; i < n; i++) P[i] = 1.0 - P[n + i];
    } else {
        multinom_newton(&d->x, d->a, K, prior, &d->spec, beta, P, aliased,
                        &info, fit_work, qal);
    }
    if (info.failed || !info.converged) return 0;
    ipw_weights(P, n, K, d->a, o, w, NULL, 1, wwork);
    if (!isnan(o->q))
        ipw_truncate(w, NULL, n, K, ipw_truncation_cap(w, count, n, o->q, qwork));
    return 1;
}

/* One replicate (a boot_replicate_fn on an ipw_boot): mu (K) of the Hajek
 * IP-weighted means.  Work: ipw_boot_work_size(). */
int ipw_boot_replicate(const void *ctx, const int *count, double *mu, double *work,
                       int *iwork)
{
    const ipw_boot *c = ctx;
    const boot_data *d = c->d;
    cl_len n = d->x.n;
    int K = d->K;
    double *prior = work, *w = prior + n, *P = w + n, *fit_work = P + (size_t) n * K;
    for (cl_len i = 0; i < n; i++) prior[i] = d->sw[i] * count[i];
    if (!boot_weights(d, prior, count, &c->opts, P, w, fit_work, iwork)) return 0;
    double *mass = fit_work;
    for (int k = 0; k < K; k++) { mu[k] = 0.0; mass[k] = 0.0; }
    for (cl_len i = 0; i < n; i++) {
        double v = prior[i] * w[i];
        mu[d->a[i]] += v * d->y[i];
        mass[d->a[i]] += v;
    }
    for (int k = 0; k < K; k++) mu[k] /= mass[k];
    return 1;
}

/* ---- Standardization ------------------------------------------------------ */

/* Workspace of boot_outcomes(). */
static size_t outcomes_work(cl_len n, int p)
{
    return glm_work_size(n, p, 1) + 4 * (size_t) n + (size_t) p;
}

/* Doubles and ints of work for one std_boot_replicate(). */
void std_boot_work_size(const std_boot *b, size_t *wlen, size_t *ilen)
{
    const boot_data *d = b->d;
    *wlen = outcomes_work(d->x.n, d->x.p) + (size_t) d->x.n * d->K;
    *ilen = (size_t) d->x.p + 1;
}

/* Refit the outcome model with prior weights sw * count and fill Q (n x K)
 * with every unit's predicted outcome under each level.  S-learner: one fit
 * on X, predicted on each counterfactual design Xcf[k] with its offset
 * cf_offset[k].  Stratified: one fit per arm on X (the covariate design),
 * predicted on all units.
 * Work: outcomes_work() doubles and p ints; returns 0 when a fit failed. */
static int boot_outcomes(const boot_data *d, const cp_design *Xcf,
                         const double *const *cf_offset, int stratified,
                         const int *count, double *Q, double *work, int *aliased)
{
    cl_len n = d->x.n;
    int p = d->x.p;
    double *prior = work, *eta = prior + n, *fit = eta + n;
    double *beta = fit + 2 * n, *fit_work = beta + p;
    newton_info info;
    for (int k = 0; k < d->K; k++) {
        if (stratified || k == 0) {
            for (cl_len i = 0; i < n; i++)
                prior[i] = d->sw[i] * count[i] * (!stratified || d->a[i] == k);
            glm_irls(&d->x, d->y, prior, d->offset, &d->spec, beta, eta, fit,
                     aliased, &info, fit_work);
            if (info.failed || !info.converged) return 0;
        }
        if (stratified)
            glm_predict(&d->x, beta, d->offset, d->spec.family, eta, Q + (size_t) k * n);
        else
            glm_predict(&Xcf[k], beta, cf_offset[k], d->spec.family, eta, Q + (size_t) k * n);
    }
    return 1;
}

/* One replicate (a boot_replicate_fn on a std_boot): mu (K) of the
 * g-formula means.  Work: std_boot_work_size(). */
int std_boot_replicate(const void *ctx, const int *count, double *mu, double *work,
                       int *aliased)
{
    const std_boot *c = ctx;
    const boot_data *d = c->d;
    cl_len n = d->x.n;
    double *Q = work, *fit_work = Q + (size_t) n * d->K;
    if (!boot_outcomes(d, c->xcf, c->cf_offset, c->stratified, count, Q, fit_work, aliased))
        return 0;
    double total = 0.0;
    for (cl_len i = 0; i < n; i++) total += d->sw[i] * count[i];
    for (int k = 0; k < d->K; k++) {
        double s = 0.0;
        for (cl_len i = 0; i < n; i++) s += d->sw[i] * count[i] * Q[(size_t) k * n + i];
        mu[k] = s / total;
    }
    return 1;
}

/* ---- Augmented IPW -------------------------------------------------------- */

void aipw_boot_work_size(const aipw_boot *b, size_t *wlen, size_t *ilen)
{
    const boot_data *dw = b->dw, *dout = b->dout;
    cl_len n = dw->x.n;
    size_t wfit = weights_work(n, dw->x.p, dw->K), ofit = outcomes_work(n, dout->x.p);
    *wlen = 2 * (size_t) n * (1 + dw->K) + (wfit > ofit ? wfit : ofit);
    *ilen = (size_t) dw->K * dw->x.p + dout->x.p + 1;
}

/* One replicate (a boot_replicate_fn on an aipw_boot) of the AIPW means,
 * both models refitted on the resample:
 * mu_k = sum prior (Q_k + 1{a = k} w (y - Q_k)) / sum prior.
 * Work: aipw_boot_work_size(). */
int aipw_boot_replicate(const void *ctx, const int *count, double *mu, double *work,
                        int *iwork)
{
    const aipw_boot *c = ctx;
    const boot_data *dw = c->dw, *dout = c->dout;
    cl_len n = dw->x.n;
    int K = dw->K;
    double *prior = work, *w = prior + n, *P = w + n, *Q = P + (size_t) n * K;
    double *rest = Q + (size_t) n * K;
    for (cl_len i = 0; i < n; i++) prior[i] = dw->sw[i] * count[i];
    if (!boot_weights(dw, prior, count, &c->opts, P, w, rest, iwork)) return 0;
    if (!boot_outcomes(dout, c->xcf, c->cf_offset, c->stratified, count, Q, rest, iwork))
        return 0;
    double total = 0.0;
    for (cl_len i = 0; i < n; i++) total += prior[i];
    for (int k = 0; k < K; k++) {
        const double *Qk = Q + (size_t) k * n;
        double s = 0.0;
        for (cl_len i = 0; i < n; i++) {
            double resid = dw->a[i] == k ? w[i] * (dout->y[i] - Qk[i]) : 0.0;
            s += prior[i] * (Qk[i] + resid);
        }
        mu[k] = s / total;
    }
    return 1;
}

/* ---- The replicates in parallel ------------------------------------------ */

/*
 * Inputs:  replicate, ctx; counts (n x R frequency counts, each column
 *          summing to n); K means per replicate; nthreads requested.
 * Outputs: out (R x K): row r the means of replicate r, NaN where its fit
 *          failed; ok (R): 1 where it did not.
 * Work:    nt = cl_threads(nthreads, R) slots, each of wlen doubles (work),
 *          ilen ints (iwork) and K doubles (mu).
 * Each replicate runs on one thread with its own slot, so the numbers do not
 * depend on the thread count; replicate() must not call R.
 */
void boot_run(boot_replicate_fn replicate, const void *ctx, const int *counts,
              cl_len n, int R, int K, int nthreads, size_t wlen, size_t ilen,
              double *out, int *ok, double *mu, double *work, int *iwork)
{
    int nt = cl_threads(nthreads, R);
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(dynamic)
#else
    (void) nt;
#endif
    for (int r = 0; r < R; r++) {
        int tid = cl_thread_id();
        double *m = mu + (size_t) tid * K;
        ok[r] = replicate(ctx, counts + (size_t) r * n, m, work + wlen * tid,
                          iwork + ilen * tid);
        for (int k = 0; k < K; k++) out[(size_t) k * R + r] = ok[r] ? m[k] : NAN;
    }
}
