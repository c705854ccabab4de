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

/* How IP weights are formed in a replicate: estimand, target level (0-based),
 * propensity clipping bounds, and the truncation quantile q (NA: none). */
typedef struct {
    int estimand, target;
    double clip_lo, clip_hi, q;
} weight_opts;

static weight_opts read_weight_opts(int estimand, SEXP target, SEXP clip, SEXP truncate,
                                    int K)
{
    ffi_check_double(clip, "clip", 2); ffi_check_finite(clip, "clip");
    ffi_check_double(truncate, "truncate", 1);
    weight_opts o = {
        .estimand = estimand,
        .target = ffi_scalar_int(target, "target", 1, K) - 1,
        .clip_lo = REAL_RO(clip)[0], .clip_hi = REAL_RO(clip)[1],
        .q = REAL_RO(truncate)[0]
    };
    return o;
}

/* The K counterfactual designs of an S-learner (NULL when stratified), each
 * with the dimensions of the outcome design x. */
static cp_design *read_counterfactuals(SEXP Xcf, SEXP intercept, int stratified,
                                       const cp_design *x, int K)
{
    if (stratified) return NULL;
    if (TYPEOF(Xcf) != VECSXP || Rf_xlength(Xcf) != K)
        Rf_error("internal error: `Xcf` must be a list of K matrices");
    cp_design *xcf = (cp_design *) R_alloc(K, sizeof(cp_design));
    for (int k = 0; k < K; k++) {
        xcf[k] = ffi_design(VECTOR_ELT(Xcf, k), intercept, "Xcf[[k]]");
        if (xcf[k].n != x->n || xcf[k].p != x->p)
            Rf_error("internal error: `Xcf[[k]]` must have the dimensions of the outcome design");
    }
    return xcf;
}

static int read_flag(SEXP x, const char *arg)
{
    int v = Rf_asLogical(x);
    if (v == NA_LOGICAL) Rf_error("internal error: `%s` must be TRUE or FALSE", arg);
    return v;
}

/* One replicate: fill mu (K means) from the frequency counts `count` (n),
 * with wlen doubles and ilen ints of workspace; 0 when a model failed. */
typedef int (*replicate_fn)(const void *ctx, const int *count, double *mu,
                            double *work, int *iwork);

/* Run the R replicates of `counts` (n x R) in parallel, each on one thread
 * with its own workspace -> R x K matrix of means (NA rows: a fit failed). */
static SEXP run_replicates(SEXP counts, R_xlen_t n, int K, SEXP nthreads, size_t wlen,
                           size_t ilen, replicate_fn replicate, const void *ctx)
{
    check_counts(counts, n);
    int R = ffi_ncol(counts, "counts");
    int nt = ffi_scalar_int(nthreads, "nthreads", 1, 1024);
    if (nt > R) nt = R > 0 ? R : 1;
    double *work = (double *) R_alloc(wlen * nt, sizeof(double));
    int *iwork = (int *) R_alloc(ilen * nt, sizeof(int));
    double *mu = (double *) R_alloc((size_t) K * nt, sizeof(double));
    SEXP out = PROTECT(Rf_allocMatrix(REALSXP, R, K));
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
        double *m = mu + (size_t) tid * K;
        int ok = replicate(ctx, cnt + (size_t) r * n, m, work + wlen * tid,
                           iwork + ilen * tid);
        for (int k = 0; k < K; k++) o[(size_t) k * R + r] = ok ? m[k] : NA_REAL;
    }
    UNPROTECT(1);
    return out;
}

static void read_design(boot_data *d, SEXP X, SEXP intercept, const char *arg)
{
    d->x = ffi_design(X, intercept, arg);
    d->n = d->x.n;
    d->p = d->x.p;
}

/* The treatment codes a (1..K) and sampling weights sw of a bootstrap. */
static void read_arms(boot_data *d, SEXP a, SEXP K, SEXP sw)
{
    d->K = ffi_scalar_int(K, "K", 2, 10000);
    d->a = ffi_codes0(a, d->n, d->K, "a");
    ffi_check_double(sw, "sw", d->n); ffi_check_finite(sw, "sw");
    d->sw = REAL_RO(sw);
}

static const double *read_outcome(SEXP y, R_xlen_t n)
{
    ffi_check_double(y, "y", n); ffi_check_finite(y, "y");
    return REAL_RO(y);
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
                        const weight_opts *o, double *P, double *w, double *work,
                        int *iwork)
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
    ipw_weights(P, n, K, d->a, o->estimand, o->target, o->clip_lo, o->clip_hi, w, NULL, 1,
                wwork);
    if (!ISNAN(o->q))
        ipw_truncate(w, NULL, n, K, ipw_truncation_cap(w, count, n, o->q, qwork));
    return 1;
}

typedef struct {
    const boot_data *d;
    weight_opts opts;
} ipw_ctx;

/* One replicate: mu (K) of the Hajek IP-weighted means. */
static int ipw_replicate(const void *ctx, const int *count, double *mu, double *work,
                         int *iwork)
{
    const ipw_ctx *c = ctx;
    const boot_data *d = c->d;
    R_xlen_t n = d->n;
    int K = d->K;
    double *prior = work, *w = prior + n, *P = w + n, *fit_work = P + (size_t) n * K;
    for (R_xlen_t i = 0; i < n; i++) prior[i] = d->sw[i] * count[i];
    if (!boot_weights(d, prior, count, &c->opts, P, w, fit_work, iwork)) return 0;
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
SEXP ffi_ipw_bootstrap(SEXP X, SEXP intercept, SEXP a, SEXP K, SEXP y, SEXP sw,
                       SEXP counts, SEXP estimand, SEXP target, SEXP clip,
                       SEXP truncate, SEXP maxit, SEXP epsilon, SEXP penalty,
                       SEXP nthreads)
{
    boot_data d;
    read_design(&d, X, intercept, "X");
    read_arms(&d, a, K, sw);
    d.y = read_outcome(y, d.n);
    d.spec = ffi_glm_spec(GLM_BINOMIAL, maxit, epsilon, penalty, d.p, 1);
    ipw_ctx ctx = {
        .d = &d,
        .opts = read_weight_opts(ffi_scalar_int(estimand, "estimand", 0, 3), target,
                                 clip, truncate, d.K)
    };
    return run_replicates(counts, d.n, d.K, nthreads, ipw_boot_work(d.n, d.p, d.K),
                          (size_t) d.K * d.p + 1, ipw_replicate, &ctx);
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

typedef struct {
    const boot_data *d;
    const cp_design *xcf;
    int stratified;
} std_ctx;

/* One replicate of the g-formula means. */
static int std_replicate(const void *ctx, const int *count, double *mu, double *work,
                         int *aliased)
{
    const std_ctx *c = ctx;
    const boot_data *d = c->d;
    R_xlen_t n = d->n;
    double *Q = work, *fit_work = Q + (size_t) n * d->K;
    if (!boot_outcomes(d, c->xcf, c->stratified, count, Q, fit_work, aliased)) return 0;
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
SEXP ffi_std_bootstrap(SEXP X, SEXP intercept, SEXP y, SEXP sw, SEXP a, SEXP K,
                       SEXP stratified, SEXP Xcf, SEXP counts, SEXP family,
                       SEXP maxit, SEXP epsilon, SEXP penalty, SEXP nthreads)
{
    boot_data d;
    read_design(&d, X, intercept, "X");
    read_arms(&d, a, K, sw);
    d.y = read_outcome(y, d.n);
    d.spec = ffi_glm_spec(ffi_scalar_int(family, "family", 0, 2), maxit, epsilon, penalty,
                          d.p, 1);
    std_ctx ctx = { .d = &d, .stratified = read_flag(stratified, "stratified") };
    ctx.xcf = read_counterfactuals(Xcf, intercept, ctx.stratified, &d.x, d.K);
    return run_replicates(counts, d.n, d.K, nthreads, std_boot_work(d.n, d.p, d.K),
                          (size_t) d.p + 1, std_replicate, &ctx);
}

/* ---- Augmented IPW -------------------------------------------------------- */

typedef struct {
    const boot_data *dw, *dout; /* treatment model, outcome model */
    const cp_design *xcf;
    int stratified;
    weight_opts opts;
} aipw_ctx;

/* One replicate of the AIPW means, both models refitted on the resample:
 * mu_k = sum prior (Q_k + 1{a = k} w (y - Q_k)) / sum prior. */
static int aipw_replicate(const void *ctx, const int *count, double *mu, double *work,
                          int *iwork)
{
    const aipw_ctx *c = ctx;
    const boot_data *dw = c->dw, *dout = c->dout;
    R_xlen_t n = dw->n;
    int K = dw->K;
    double *prior = work, *w = prior + n, *P = w + n, *Q = P + (size_t) n * K;
    double *rest = Q + (size_t) n * K;
    for (R_xlen_t i = 0; i < n; i++) prior[i] = dw->sw[i] * count[i];
    if (!boot_weights(dw, prior, count, &c->opts, P, w, rest, iwork)) return 0;
    if (!boot_outcomes(dout, c->xcf, c->stratified, count, Q, rest, iwork)) return 0;
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
    return ffi_glm_spec(ffi_scalar_int(VECTOR_ELT(spec, 0), "family", 0, 2),
                        VECTOR_ELT(spec, 1), VECTOR_ELT(spec, 2), VECTOR_ELT(spec, 3), p, 1);
}

/* ffi_aipw_bootstrap(Xw n x qw, intercept_w lgl, a int(n) 1..K, K,
 *   sw double(n), counts int n x R, target int 1..K, clip double(2),
 *   truncate double(1) or NA, wspec list(family, maxit, epsilon, penalty),
 *   Xo n x po (outcome design, explicit intercept), y double(n),
 *   stratified lgl, Xcf list of K n x po matrices or NULL,
 *   ospec list(family, maxit, epsilon, penalty), nthreads)
 * -> R x K matrix of AIPW potential-outcome means (NA rows: a fit failed) */
SEXP ffi_aipw_bootstrap(SEXP Xw, SEXP intercept_w, SEXP a, SEXP K, SEXP sw,
                        SEXP counts, SEXP target, SEXP clip, SEXP truncate, SEXP wspec,
                        SEXP Xo, SEXP y, SEXP stratified, SEXP Xcf, SEXP ospec,
                        SEXP nthreads)
{
    boot_data dw, dout;
    read_design(&dw, Xw, intercept_w, "Xw");
    read_arms(&dw, a, K, sw);
    dw.y = NULL;
    dw.spec = list_spec(wspec, dw.p);
    dout = dw;
    SEXP no_intercept = PROTECT(Rf_ScalarLogical(0));
    read_design(&dout, Xo, no_intercept, "Xo");
    if (dout.n != dw.n) Rf_error("internal error: `Xo` must have the rows of `Xw`");
    dout.y = read_outcome(y, dw.n);
    dout.spec = list_spec(ospec, dout.p);
    aipw_ctx ctx = {
        .dw = &dw, .dout = &dout, .stratified = read_flag(stratified, "stratified"),
        .opts = read_weight_opts(EST_ATE, target, clip, truncate, dw.K)
    };
    ctx.xcf = read_counterfactuals(Xcf, no_intercept, ctx.stratified, &dout.x, dw.K);
    size_t wfit = weights_work(dw.n, dw.p, dw.K), ofit = outcomes_work(dw.n, dout.p);
    size_t wlen = 2 * (size_t) dw.n * (1 + dw.K) + (wfit > ofit ? wfit : ofit);
    SEXP out = run_replicates(counts, dw.n, dw.K, nthreads, wlen,
                              (size_t) dw.K * dw.p + dout.p + 1, aipw_replicate, &ctx);
    UNPROTECT(1);
    return out;
}
