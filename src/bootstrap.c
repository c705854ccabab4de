/*
 * Nonparametric bootstrap of the population-average potential outcomes,
 * refitting the whole pipeline (treatment or outcome model, weights, means)
 * in C.  Resampling is given as frequency counts drawn in R with R's RNG, so
 * replicates are reproducible under set.seed(); replicates run in parallel,
 * each on one thread with its own workspace, so the numbers do not depend on
 * the thread count.  R hands the replicates over in batches and checks for
 * interrupts between them (no R API may run inside the parallel region).
 */
#define R_NO_REMAP
#include <string.h>
#include "glm.h"
#include "multinom.h"
#include "weights.h"
#include "ffi-checks.h"

#ifdef _OPENMP
#include <omp.h>
#endif

typedef struct {
    cp_design x; R_xlen_t n; int p;
    const int *a; int K;
    const double *y, *sw;
    glm_spec spec;
} boot_data;

static int *codes0(SEXP a, R_xlen_t n, int K)
{
    ffi_check_int(a, "a", n);
    int *a0 = (int *) R_alloc(n > 0 ? n : 1, sizeof(int));
    for (R_xlen_t i = 0; i < n; i++) {
        int v = INTEGER_RO(a)[i];
        if (v == NA_INTEGER || v < 1 || v > K)
            Rf_error("internal error: `a` must hold codes 1 to K");
        a0[i] = v - 1;
    }
    return a0;
}

static void check_counts(SEXP counts, R_xlen_t n)
{
    ffi_check_int(counts, "counts", -1);
    if (ffi_nrow(counts, "counts") != n)
        Rf_error("internal error: `counts` must have %.0f rows", (double) n);
    R_xlen_t len = Rf_xlength(counts);
    for (R_xlen_t i = 0; i < len; i++)
        if (INTEGER_RO(counts)[i] == NA_INTEGER || INTEGER_RO(counts)[i] < 0)
            Rf_error("internal error: `counts` must be non-negative");
}

static glm_spec read_spec(SEXP family, SEXP maxit, SEXP epsilon, SEXP penalty, int p)
{
    ffi_check_double(penalty, "penalty", p);
    ffi_check_finite(penalty, "penalty");
    glm_spec spec = {
        .family = ffi_scalar_int(family, "family", 0, 2),
        .maxit = ffi_scalar_int(maxit, "maxit", 1, 100000),
        .epsilon = ffi_scalar_double(epsilon, "epsilon"),
        .penalty = REAL_RO(penalty),
        .nthreads = 1
    };
    return spec;
}

/* ---- IPW ----------------------------------------------------------------- */

static size_t ipw_boot_work(R_xlen_t n, int p, int K)
{
    size_t fit = K == 2 ? glm_work_size(n, p, 1) : multinom_work_size(n, p, K, 1);
    return fit + (size_t) n * (5 + K) + (size_t) (K - 1) * p + 3 * (size_t) K;
}

/* One replicate: mu (K) of the Hajek IP-weighted means; returns 0 when the
 * treatment model failed to fit. */
static int ipw_replicate(const boot_data *d, const int *count, int estimand,
                         int target, double clip_lo, double clip_hi, double q,
                         double *mu, double *work, int *iwork)
{
    R_xlen_t n = d->n;
    int K = d->K, p = d->p;
    double *prior = work, *ybin = prior + n, *eta = ybin + n, *w = eta + n;
    double *qwork = w + n, *P = qwork + n, *beta = P + (size_t) n * K;
    double *wwork = beta + (size_t) (K - 1) * p, *fit_work = wwork + 3 * K;
    int *aliased = iwork, *qal = iwork + p;
    glm_info info;

    for (R_xlen_t i = 0; i < n; i++) prior[i] = d->sw[i] * count[i];
    if (K == 2) {
        for (R_xlen_t i = 0; i < n; i++) ybin[i] = d->a[i] == 1;
        glm_irls(&d->x, ybin, prior, NULL, &d->spec, beta, eta, P + n,
                 aliased, &info, fit_work);
        for (R_xlen_t i = 0; i < n; i++) P[i] = 1.0 - P[n + i];
    } else {
        multinom_newton(&d->x, d->a, K, prior, &d->spec, beta, P, aliased,
                        &info, fit_work, qal);
    }
    if (info.failed || !info.converged) return 0;
    ipw_weights(P, n, K, d->a, estimand, target, clip_lo, clip_hi, w, NULL, 1, wwork);
    if (!ISNAN(q)) ipw_truncate(w, NULL, n, K, ipw_truncation_cap(w, count, n, q, qwork));
    for (int k = 0; k < K; k++) { mu[k] = 0.0; wwork[k] = 0.0; }
    for (R_xlen_t i = 0; i < n; i++) {
        double v = prior[i] * w[i];
        mu[d->a[i]] += v * d->y[i];
        wwork[d->a[i]] += v;
    }
    for (int k = 0; k < K; k++) mu[k] /= wwork[k];
    return 1;
}

/* ffi_ipw_bootstrap(X n x q, intercept lgl (p = q + intercept), a int(n)
 *   1..K, K, y double(n), sw double(n),
 *   counts int n x R, estimand int, target int 1..K, clip double(2),
 *   truncate double(1) or NA, maxit, epsilon, penalty double(p), nthreads)
 * -> R x K matrix of potential-outcome means (NA rows: model failed)       */
SEXP ffi_ipw_bootstrap(SEXP X, SEXP intercept, SEXP a, SEXP K_, SEXP y, SEXP sw,
                       SEXP counts, SEXP estimand, SEXP target, SEXP clip,
                       SEXP truncate, SEXP maxit, SEXP epsilon, SEXP penalty,
                       SEXP nthreads)
{
    boot_data d;
    d.x = ffi_design(X, intercept, "X");
    d.n = d.x.n;
    d.p = d.x.p;
    d.K = ffi_scalar_int(K_, "K", 2, 10000);
    d.a = codes0(a, d.n, d.K);
    ffi_check_double(y, "y", d.n); ffi_check_finite(y, "y");
    ffi_check_double(sw, "sw", d.n); ffi_check_finite(sw, "sw");
    d.y = REAL_RO(y); d.sw = REAL_RO(sw);
    check_counts(counts, d.n);
    int R = ffi_ncol(counts, "counts");
    int est = ffi_scalar_int(estimand, "estimand", 0, 3);
    int tgt = ffi_scalar_int(target, "target", 1, d.K) - 1;
    ffi_check_double(clip, "clip", 2); ffi_check_finite(clip, "clip");
    ffi_check_double(truncate, "truncate", 1);
    double q = REAL_RO(truncate)[0];
    d.spec = read_spec(Rf_ScalarInteger(GLM_BINOMIAL), maxit, epsilon, penalty, d.p);
    int nt = ffi_scalar_int(nthreads, "nthreads", 1, 1024);
    if (nt > R) nt = R > 0 ? R : 1;

    size_t wlen = ipw_boot_work(d.n, d.p, d.K);
    size_t ilen = (size_t) d.K * d.p + 1;
    double *work = (double *) R_alloc(wlen * nt, sizeof(double));
    int *iwork = (int *) R_alloc(ilen * nt, sizeof(int));
    double *mu = (double *) R_alloc((size_t) d.K * nt, sizeof(double));
    SEXP out = PROTECT(Rf_allocMatrix(REALSXP, R, d.K));
    double *o = REAL(out);
    const int *cnt = INTEGER_RO(counts);
    double lo = REAL_RO(clip)[0], hi = REAL_RO(clip)[1];

#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(dynamic)
#endif
    for (int r = 0; r < R; r++) {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        double *m = mu + (size_t) tid * d.K;
        int ok = ipw_replicate(&d, cnt + (size_t) r * d.n, est, tgt, lo, hi, q, m,
                               work + wlen * tid, iwork + ilen * tid);
        for (int k = 0; k < d.K; k++) o[(size_t) k * R + r] = ok ? m[k] : NA_REAL;
    }
    UNPROTECT(1);
    return out;
}

/* ---- Standardization ------------------------------------------------------ */

static size_t std_boot_work(R_xlen_t n, int p)
{
    return glm_work_size(n, p, 1) + 4 * (size_t) n + (size_t) p;
}

/* One replicate of the g-formula means.  S-learner: one fit on X, predicted
 * on each counterfactual design Xcf[k].  Stratified: one fit per arm on X
 * (the covariate design), predicted on all units. */
static int std_replicate(const boot_data *d, const cp_design *Xcf,
                         int stratified, const int *count, double *mu,
                         double *work, int *aliased)
{
    R_xlen_t n = d->n;
    int p = d->p;
    double *prior = work, *eta = prior + n, *fit = eta + n, *pred = fit + n;
    double *beta = pred + n, *fit_work = beta + p;
    glm_info info;
    double total = 0.0;
    for (R_xlen_t i = 0; i < n; i++) total += d->sw[i] * count[i];

    for (int k = 0; k < d->K; k++) {
        if (stratified || k == 0) {
            for (R_xlen_t i = 0; i < n; i++)
                prior[i] = d->sw[i] * count[i] * (!stratified || d->a[i] == k);
            glm_irls(&d->x, d->y, prior, NULL, &d->spec, beta, eta, fit,
                     aliased, &info, fit_work);
            if (info.failed || !info.converged) return 0;
        }
        glm_predict(stratified ? &d->x : &Xcf[k], beta, NULL, d->spec.family, eta, pred);
        double s = 0.0;
        for (R_xlen_t i = 0; i < n; i++) s += d->sw[i] * count[i] * pred[i];
        mu[k] = s / total;
    }
    return 1;
}

/* ffi_std_bootstrap(X n x q, intercept lgl (p = q + intercept), y double(n),
 *   sw double(n), a int(n) 1..K, K, stratified lgl, Xcf list of K n x q
 *   matrices (S-learner, with the same intercept) or NULL,
 *   counts int n x R, family int, maxit, epsilon, penalty double(p), nthreads)
 * -> R x K matrix of potential-outcome means (NA rows: model failed)       */
SEXP ffi_std_bootstrap(SEXP X, SEXP intercept, SEXP y, SEXP sw, SEXP a, SEXP K_,
                       SEXP stratified, SEXP Xcf, SEXP counts, SEXP family,
                       SEXP maxit, SEXP epsilon, SEXP penalty, SEXP nthreads)
{
    boot_data d;
    d.x = ffi_design(X, intercept, "X");
    d.n = d.x.n;
    d.p = d.x.p;
    d.K = ffi_scalar_int(K_, "K", 2, 10000);
    d.a = codes0(a, d.n, d.K);
    ffi_check_double(y, "y", d.n); ffi_check_finite(y, "y");
    ffi_check_double(sw, "sw", d.n); ffi_check_finite(sw, "sw");
    d.y = REAL_RO(y); d.sw = REAL_RO(sw);
    int strat = Rf_asLogical(stratified);
    if (strat == NA_LOGICAL) Rf_error("internal error: `stratified` must be TRUE or FALSE");
    cp_design *xcf = (cp_design *) R_alloc(d.K, sizeof(cp_design));
    if (!strat) {
        if (TYPEOF(Xcf) != VECSXP || Rf_xlength(Xcf) != d.K)
            Rf_error("internal error: `Xcf` must be a list of K matrices");
        for (int k = 0; k < d.K; k++) {
            xcf[k] = ffi_design(VECTOR_ELT(Xcf, k), intercept, "Xcf[[k]]");
            if (xcf[k].n != d.n || xcf[k].p != d.p)
                Rf_error("internal error: `Xcf[[k]]` must have the dimensions of `X`");
        }
    }
    check_counts(counts, d.n);
    int R = ffi_ncol(counts, "counts");
    d.spec = read_spec(family, maxit, epsilon, penalty, d.p);
    int nt = ffi_scalar_int(nthreads, "nthreads", 1, 1024);
    if (nt > R) nt = R > 0 ? R : 1;

    size_t wlen = std_boot_work(d.n, d.p);
    double *work = (double *) R_alloc(wlen * nt, sizeof(double));
    int *iwork = (int *) R_alloc((size_t) (d.p + 1) * nt, sizeof(int));
    double *mu = (double *) R_alloc((size_t) d.K * nt, sizeof(double));
    SEXP out = PROTECT(Rf_allocMatrix(REALSXP, R, d.K));
    double *o = REAL(out);
    const int *cnt = INTEGER_RO(counts);

#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(dynamic)
#endif
    for (int r = 0; r < R; r++) {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        double *m = mu + (size_t) tid * d.K;
        int ok = std_replicate(&d, xcf, strat, cnt + (size_t) r * d.n, m,
                               work + wlen * tid, iwork + (size_t) (d.p + 1) * tid);
        for (int k = 0; k < d.K; k++) o[(size_t) k * R + r] = ok ? m[k] : NA_REAL;
    }
    UNPROTECT(1);
    return out;
}
