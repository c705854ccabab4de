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

/* Workspace of boot_weights(). */
static size_t weights_work(R_xlen_t n, int p, int K)
{
    size_t fit = K == 2 ? glm_work_size(n, p, 1) : multinom_work_size(n, p, K, 1);
    return fit + (size_t) n * 3 + (size_t) (K - 1) * p + 3 * (size_t) K;
}

/* Workspace of ipw_replicate(). */
static size_t ipw_boot_work(R_xlen_t n, int p, int K)
{
    return weights_work(n, p, K) + (size_t) n * (2 + K);
}

/* Refit the treatment model with prior weights `prior` and fill P (n x K
 * propensities) and w (n weights of the level received, clipped and
 * truncated at the q quantile unless q is NA).  Workspace from work:
 * ipw_boot_work(); returns 0 when the treatment model failed to fit. */
static int boot_weights(const boot_data *d, const double *prior, const int *count,
                        int estimand, int target, double clip_lo, double clip_hi,
                        double q, double *P, double *w, double *work, int *iwork)
{
    R_xlen_t n = d->n;
    int K = d->K, p = d->p;
    double *ybin = work, *eta = ybin + n, *qwork = eta + n, *beta = qwork + n;
    double *wwork = beta + (size_t) (K - 1) * p, *fit_work = wwork + 3 * K;
    int *aliased = iwork, *qal = iwork + p;
    glm_info info;

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
    return 1;
}

/* One replicate: mu (K) of the Hajek IP-weighted means. */
static int ipw_replicate(const boot_data *d, const int *count, int estimand,
                         int target, double clip_lo, double clip_hi, double q,
                         double *mu, double *work, int *iwork)
{
    R_xlen_t n = d->n;
    int K = d->K;
    double *prior = work, *w = prior + n, *P = w + n, *fit_work = P + (size_t) n * K;
    for (R_xlen_t i = 0; i < n; i++) prior[i] = d->sw[i] * count[i];
    if (!boot_weights(d, prior, count, estimand, target, clip_lo, clip_hi, q, P, w,
                      fit_work, iwork))
        return 0;
    double *mass = fit_work;
    for (int k = 0; k < K; k++) { mu[k] = 0.0; mass[k] = 0.0; }
    for (R_xlen_t i = 0; i < n; i++) {
        double v = prior[i] * w[i];
        mu[d->a[i]] += v * d->y[i];
        mass[d->a[i]] += v;
    }
    for (int k = 0; k < K; k++) mu[k] /= mass[k];
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

/* Workspace of boot_outcomes(). */
static size_t outcomes_work(R_xlen_t n, int p)
{
    return glm_work_size(n, p, 1) + 4 * (size_t) n + (size_t) p;
}

/* Workspace of std_replicate() with K levels. */
static size_t std_boot_work(R_xlen_t n, int p, int K)
{
    return outcomes_work(n, p) + (size_t) n * K;
}

/* Refit the outcome model with prior weights sw * count and fill Q (n x K)
 * with every unit's predicted outcome under each level.  S-learner: one fit
 * on X, predicted on each counterfactual design Xcf[k].  Stratified: one
 * fit per arm on X (the covariate design), predicted on all units.
 * Workspace: std_boot_work(); returns 0 when a fit failed. */
static int boot_outcomes(const boot_data *d, const cp_design *Xcf, int stratified,
                         const int *count, double *Q, double *work, int *aliased)
{
    R_xlen_t n = d->n;
    int p = d->p;
    double *prior = work, *eta = prior + n, *fit = eta + n;
    double *beta = fit + 2 * n, *fit_work = beta + p;
    glm_info info;
    for (int k = 0; k < d->K; k++) {
        if (stratified || k == 0) {
            for (R_xlen_t i = 0; i < n; i++)
                prior[i] = d->sw[i] * count[i] * (!stratified || d->a[i] == k);
            glm_irls(&d->x, d->y, prior, NULL, &d->spec, beta, eta, fit,
                     aliased, &info, fit_work);
            if (info.failed || !info.converged) return 0;
        }
        glm_predict(stratified ? &d->x : &Xcf[k], beta, NULL, d->spec.family, eta,
                    Q + (size_t) k * n);
    }
    return 1;
}

/* One replicate of the g-formula means. */
static int std_replicate(const boot_data *d, const cp_design *Xcf,
                         int stratified, const int *count, double *mu,
                         double *work, int *aliased)
{
    R_xlen_t n = d->n;
    double *Q = work, *fit_work = Q + (size_t) n * d->K;
    if (!boot_outcomes(d, Xcf, stratified, count, Q, fit_work, aliased)) return 0;
    double total = 0.0;
    for (R_xlen_t i = 0; i < n; i++) total += d->sw[i] * count[i];
    for (int k = 0; k < d->K; k++) {
        double s = 0.0;
        for (R_xlen_t i = 0; i < n; i++) s += d->sw[i] * count[i] * Q[(size_t) k * n + i];
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

    size_t wlen = std_boot_work(d.n, d.p, d.K);
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

/* ---- Augmented IPW -------------------------------------------------------- */

/* One replicate of the AIPW means, both models refitted on the resample:
 * mu_k = sum prior (Q_k + 1{a = k} w (y - Q_k)) / sum prior. */
static int aipw_replicate(const boot_data *dw, const boot_data *dout, const cp_design *Xcf,
                          int stratified, const int *count, int target, double lo,
                          double hi, double q, double *mu, double *work, int *iwork)
{
    R_xlen_t n = dw->n;
    int K = dw->K;
    double *prior = work, *w = prior + n, *P = w + n, *Q = P + (size_t) n * K;
    double *rest = Q + (size_t) n * K;
    for (R_xlen_t i = 0; i < n; i++) prior[i] = dw->sw[i] * count[i];
    if (!boot_weights(dw, prior, count, EST_ATE, target, lo, hi, q, P, w, rest, iwork))
        return 0;
    if (!boot_outcomes(dout, Xcf, stratified, count, Q, rest, iwork)) return 0;
    double total = 0.0;
    for (R_xlen_t i = 0; i < n; i++) total += prior[i];
    for (int k = 0; k < K; k++) {
        const double *Qk = Q + (size_t) k * n;
        double s = 0.0;
        for (R_xlen_t i = 0; i < n; i++) {
            double resid = dw->a[i] == k ? w[i] * (dout->y[i] - Qk[i]) : 0.0;
            s += prior[i] * (Qk[i] + resid);
        }
        mu[k] = s / total;
    }
    return 1;
}

/* Unpack a glm specification list(family, maxit, epsilon, penalty). */
static glm_spec list_spec(SEXP spec, int p)
{
    if (TYPEOF(spec) != VECSXP || Rf_xlength(spec) != 4)
        Rf_error("internal error: a glm specification must be a list of 4");
    return read_spec(VECTOR_ELT(spec, 0), VECTOR_ELT(spec, 1), VECTOR_ELT(spec, 2),
                     VECTOR_ELT(spec, 3), p);
}

/* ffi_aipw_bootstrap(Xw n x qw, intercept_w lgl, a int(n) 1..K, K,
 *   sw double(n), counts int n x R, target int 1..K, clip double(2),
 *   truncate double(1) or NA, wspec list(family, maxit, epsilon, penalty),
 *   Xo n x po (outcome design, explicit intercept), y double(n),
 *   stratified lgl, Xcf list of K n x po matrices or NULL,
 *   ospec list(family, maxit, epsilon, penalty), nthreads)
 * -> R x K matrix of AIPW potential-outcome means (NA rows: a fit failed) */
SEXP ffi_aipw_bootstrap(SEXP Xw, SEXP intercept_w, SEXP a, SEXP K_, SEXP sw,
                        SEXP counts, SEXP target, SEXP clip, SEXP truncate, SEXP wspec,
                        SEXP Xo, SEXP y, SEXP stratified, SEXP Xcf, SEXP ospec,
                        SEXP nthreads)
{
    boot_data dw, dout;
    dw.x = ffi_design(Xw, intercept_w, "Xw");
    dw.n = dw.x.n;
    dw.p = dw.x.p;
    dw.K = ffi_scalar_int(K_, "K", 2, 10000);
    dw.a = codes0(a, dw.n, dw.K);
    ffi_check_double(sw, "sw", dw.n); ffi_check_finite(sw, "sw");
    dw.sw = REAL_RO(sw);
    dw.y = NULL;
    dw.spec = list_spec(wspec, dw.p);
    dout = dw;
    dout.x = ffi_design(Xo, Rf_ScalarLogical(0), "Xo");
    if (dout.x.n != dw.n) Rf_error("internal error: `Xo` must have the rows of `Xw`");
    dout.p = dout.x.p;
    ffi_check_double(y, "y", dw.n); ffi_check_finite(y, "y");
    dout.y = REAL_RO(y);
    dout.spec = list_spec(ospec, dout.p);
    int strat = Rf_asLogical(stratified);
    if (strat == NA_LOGICAL) Rf_error("internal error: `stratified` must be TRUE or FALSE");
    cp_design *xcf = (cp_design *) R_alloc(dw.K, sizeof(cp_design));
    if (!strat) {
        if (TYPEOF(Xcf) != VECSXP || Rf_xlength(Xcf) != dw.K)
            Rf_error("internal error: `Xcf` must be a list of K matrices");
        for (int k = 0; k < dw.K; k++) {
            xcf[k] = ffi_design(VECTOR_ELT(Xcf, k), Rf_ScalarLogical(0), "Xcf[[k]]");
            if (xcf[k].n != dw.n || xcf[k].p != dout.p)
                Rf_error("internal error: `Xcf[[k]]` must have the dimensions of `Xo`");
        }
    }
    check_counts(counts, dw.n);
    int R = ffi_ncol(counts, "counts");
    int tgt = ffi_scalar_int(target, "target", 1, dw.K) - 1;
    ffi_check_double(clip, "clip", 2); ffi_check_finite(clip, "clip");
    ffi_check_double(truncate, "truncate", 1);
    double q = REAL_RO(truncate)[0];
    int nt = ffi_scalar_int(nthreads, "nthreads", 1, 1024);
    if (nt > R) nt = R > 0 ? R : 1;

    size_t wfit = weights_work(dw.n, dw.p, dw.K), ofit = outcomes_work(dw.n, dout.p);
    size_t wlen = 2 * (size_t) dw.n * (1 + dw.K) + (wfit > ofit ? wfit : ofit);
    size_t ilen = (size_t) dw.K * dw.p + dout.p + 1;
    double *work = (double *) R_alloc(wlen * nt, sizeof(double));
    int *iwork = (int *) R_alloc(ilen * nt, sizeof(int));
    double *mu = (double *) R_alloc((size_t) dw.K * nt, sizeof(double));
    SEXP out = PROTECT(Rf_allocMatrix(REALSXP, R, dw.K));
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
        double *m = mu + (size_t) tid * dw.K;
        int ok = aipw_replicate(&dw, &dout, xcf, strat, cnt + (size_t) r * dw.n, tgt, lo, hi,
                                q, m, work + wlen * tid, iwork + ilen * tid);
        for (int k = 0; k < dw.K; k++) o[(size_t) k * R + r] = ok ? m[k] : NA_REAL;
    }
    UNPROTECT(1);
    return out;
}
