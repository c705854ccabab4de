/*
 * Generalized linear models by iteratively reweighted least squares, the
 * algorithm of stats::glm.fit(): same starting values, same working weights,
 * same convergence rule |dev - dev_old| / (|dev| + 0.1) < epsilon, and the
 * same step-halving when the deviance is not finite.  The weighted least
 * squares step solves the normal equations X'WX b = X'Wz with the cache-
 * blocked cross-product kernel and LAPACK's Cholesky (dpotrf/dpotrs).
 *
 * Columns that are linearly dependent on earlier columns are aliased once,
 * on the first iteration's X'WX, and get NA coefficients, as glm() does.
 */
#define R_NO_REMAP
#define USE_FC_LEN_T
#include <math.h>
#include <string.h>
#include <float.h>
#include <R_ext/Lapack.h>
#ifndef FCONE
#define FCONE
#endif
#include "glm.h"
#include "crossprod.h"
#include "ffi-checks.h"

#define THRESH 30.0
#define MTHRESH -30.0
#define INVEPS (1.0 / DBL_EPSILON)
#define ALIAS_TOL 1e-10

double glm_linkinv(int family, double eta)
{
    switch (family) {
    case GLM_BINOMIAL: {
        double t = eta < MTHRESH ? DBL_EPSILON : (eta > THRESH ? INVEPS : exp(eta));
        return t / (1.0 + t);
    }
    case GLM_POISSON: {
        double m = exp(eta);
        return m < DBL_EPSILON ? DBL_EPSILON : m;
    }
    default:
        return eta;
    }
}

double glm_mu_eta(int family, double eta)
{
    switch (family) {
    case GLM_BINOMIAL: {
        double opexp = 1.0 + exp(eta);
        return (eta > THRESH || eta < MTHRESH) ? DBL_EPSILON : exp(eta) / (opexp * opexp);
    }
    case GLM_POISSON: {
        double m = exp(eta);
        return m < DBL_EPSILON ? DBL_EPSILON : m;
    }
    default:
        return 1.0;
    }
}

double glm_variance(int family, double mu)
{
    switch (family) {
    case GLM_BINOMIAL: return mu * (1.0 - mu);
    case GLM_POISSON: return mu;
    default: return 1.0;
    }
}

static double linkfun(int family, double mu)
{
    switch (family) {
    case GLM_BINOMIAL: return log(mu / (1.0 - mu));
    case GLM_POISSON: return log(mu);
    default: return mu;
    }
}

static double ylogy(double y, double mu)
{
    return y > 0 ? y * log(y / mu) : 0.0;
}

static double dev_resid(int family, double y, double mu, double wt)
{
    switch (family) {
    case GLM_BINOMIAL:
        return 2.0 * wt * (ylogy(y, mu) + ylogy(1.0 - y, 1.0 - mu));
    case GLM_POISSON:
        return 2.0 * wt * (ylogy(y, mu) - (y - mu));
    default:
        return wt * (y - mu) * (y - mu);
    }
}

static double mu_start(int family, double y, double wt)
{
    switch (family) {
    case GLM_BINOMIAL: return (wt * y + 0.5) / (wt + 1.0);
    case GLM_POISSON: return y + 0.1;
    default: return y;
    }
}

/* Left-looking Cholesky of the symmetric p x p matrix A (upper triangle used)
 * into its upper triangle, skipping columns whose squared residual norm falls
 * below tol times their original squared norm.  Returns the rank. */
int chol_alias(double *A, int p, int *aliased, double tol)
{
    int rank = 0;
    for (int j = 0; j < p; j++) {
        double *aj = A + (size_t) j * p;
        double d0 = aj[j];
        for (int k = 0; k < j; k++) {
            if (aliased[k]) continue;
            double s = aj[k];
            const double *ak = A + (size_t) k * p;
            for (int l = 0; l < k; l++) if (!aliased[l]) s -= ak[l] * aj[l];
            aj[k] = s / ak[k];
        }
        double d = d0;
        for (int k = 0; k < j; k++) if (!aliased[k]) d -= aj[k] * aj[k];
        if (!(d0 > 0) || !(d > tol * d0)) {
            aliased[j] = 1;
        } else {
            aliased[j] = 0;
            aj[j] = sqrt(d);
            rank++;
        }
    }
    return rank;
}

/* Solve A x = b over the non-aliased columns with LAPACK; x is NA elsewhere.
 * work: p * p + p doubles.  Returns LAPACK's info (0 on success). */
int chol_solve_kept(const double *A, int p, const int *aliased,
                    const double *b, double *x, double *work)
{
    int r = 0;
    for (int j = 0; j < p; j++) if (!aliased[j]) r++;
    double *Ar = work, *br = work + (size_t) r * r;
    int jj = 0;
    for (int j = 0; j < p; j++) {
        if (aliased[j]) continue;
        int kk = 0;
        for (int k = 0; k < p; k++) {
            if (aliased[k]) continue;
            Ar[(size_t) jj * r + kk] = A[(size_t) j * p + k];
            kk++;
        }
        br[jj++] = b[j];
    }
    int info = 0, one = 1;
    if (r > 0) {
        F77_CALL(dpotrf)("U", &r, Ar, &r, &info FCONE);
        if (info == 0) F77_CALL(dpotrs)("U", &r, &one, Ar, &r, br, &r, &info FCONE);
    }
    jj = 0;
    for (int j = 0; j < p; j++) x[j] = aliased[j] ? NA_REAL : br[jj++];
    return info;
}

/* The IRLS system of a pass: X'WX (p x p), X'Wz (p), the deviance and the
 * number of row blocks with a non-finite value of X (first pass only). */
#define SYS_LEN(p) ((size_t) (p) * (p) + (p) + 2)
/* Scratch of one thread in a pass: cached rows, weighted rows, z, w. */
#define PASS_SCRATCH(p) ((2 * (size_t) (p) + 2) * CP_BLOCK_ROWS)

static size_t pass_work_size(R_xlen_t n, int p, int nthreads)
{
    R_xlen_t nchunk = cp_chunks(n, p, p);
    return cp_reduce_work_size(nchunk, cp_threads(nchunk, nthreads), SYS_LEN(p),
                               PASS_SCRATCH(p));
}

size_t glm_work_size(R_xlen_t n, int p, int nthreads)
{
    return 3 * (size_t) p * p + 4 * (size_t) p + 2 + pass_work_size(n, p, nthreads);
}

typedef struct {
    const cp_design *d;
    const double *beta, *y, *prior, *offset;
    int fam;
    double *eta, *mu;
} pass_ctx;

/* e (len) = off + xb beta for one cached row block (off NULL: 0), adding the
 * columns in order as a row-by-row loop would, four at a time so that the
 * loop over rows vectorizes. */
static void block_eta(const double *restrict xb, int len, int p,
                      const double *restrict beta, const double *restrict off,
                      double *restrict e)
{
    for (int i = 0; i < len; i++) e[i] = off ? off[i] : 0.0;
    int j = 0;
    for (; j + 4 <= p; j += 4) {
        const double *x0 = xb + (size_t) j * len, *x1 = x0 + len,
                     *x2 = x1 + len, *x3 = x2 + len;
        double b0 = beta[j], b1 = beta[j + 1], b2 = beta[j + 2], b3 = beta[j + 3];
#ifdef _OPENMP
#pragma omp simd
#endif
        for (int i = 0; i < len; i++)
            e[i] = e[i] + x0[i] * b0 + x1[i] * b1 + x2[i] * b2 + x3[i] * b3;
    }
    for (; j < p; j++) {
        const double *xj = xb + (size_t) j * len;
        double bj = beta[j];
#ifdef _OPENMP
#pragma omp simd
#endif
        for (int i = 0; i < len; i++) e[i] += xj[i] * bj;
    }
}

/* Rows [from, to): eta, mu and the deviance at beta (NA coefficients as 0;
 * beta NULL: at glm()'s starting values, also checking that X is finite),
 * and this chunk's part of the next IRLS system (see SYS_LEN). */
static void pass_chunk(const void *ctx_, R_xlen_t from, R_xlen_t to, double *sys,
                       double *scratch)
{
    const pass_ctx *ctx = ctx_;
    const double *beta = ctx->beta, *y = ctx->y, *prior = ctx->prior,
                 *offset = ctx->offset;
    int p = ctx->d->p, fam = ctx->fam;
    double *eta = ctx->eta, *mu = ctx->mu;
    double *xb = scratch, *wb = xb + (size_t) CP_BLOCK_ROWS * p;
    double *bz = wb + (size_t) CP_BLOCK_ROWS * p, *bw = bz + CP_BLOCK_ROWS;
    double *A = sys, *b = sys + (size_t) p * p, dev = 0.0, bad = 0.0;
    memset(sys, 0, sizeof(double) * ((size_t) p * p + p));
    for (R_xlen_t r0 = from; r0 < to; r0 += CP_BLOCK_ROWS) {
        int len = (int) ((to - r0) < CP_BLOCK_ROWS ? (to - r0) : CP_BLOCK_ROWS);
        double *e = eta + r0, *m = mu + r0;
        cp_copy_rows(ctx->d, r0, len, xb);
        if (beta) {
            block_eta(xb, len, p, beta, offset ? offset + r0 : NULL, e);
        } else {
            bad += cp_nonfinite(xb, (size_t) len * p);
            /* glm.fit() starts from eta = linkfun(mustart), without offset. */
            for (int i = 0; i < len; i++)
                e[i] = linkfun(fam, mu_start(fam, y[r0 + i], prior ? prior[r0 + i] : 1.0));
        }
        for (int i = 0; i < len; i++) {
            R_xlen_t ii = r0 + i;
            double pw = prior ? prior[ii] : 1.0, me, w = 0.0, z = 0.0;
            double off = offset ? offset[ii] : 0.0;
            if (fam == GLM_BINOMIAL && fabs(e[i]) <= THRESH) {
                /* One exp, one log and one division per row: inside the
                 * thresholds of R's logit family mu.eta = variance =
                 * mu (1 - mu), so the working weight is prior * mu.eta. */
                double t = exp(e[i]);
                m[i] = t / (1.0 + t);
                me = m[i] * (1.0 - m[i]);
                dev += (y[ii] == 0.0 || y[ii] == 1.0)
                       ? -2.0 * pw * log(y[ii] == 1.0 ? m[i] : 1.0 - m[i])
                       : dev_resid(fam, y[ii], m[i], pw);
                if (pw > 0) {
                    z = (e[i] - off) + (y[ii] - m[i]) / me;
                    w = pw * me;
                }
            } else {
                m[i] = glm_linkinv(fam, e[i]);
                me = glm_mu_eta(fam, e[i]);
                dev += dev_resid(fam, y[ii], m[i], pw);
                if (pw > 0 && me != 0) {
                    z = (e[i] - off) + (y[ii] - m[i]) / me;
                    w = pw * me * me / glm_variance(fam, m[i]);
                }
            }
            bz[i] = z;
            bw[i] = w;
        }
        cp_block_scale(xb, bw, len, p, wb);
        cp_block_xtv(wb, bz, len, p, b);
        cp_block_upper(xb, wb, len, p, A);
    }
    sys[(size_t) p * p + p] = dev;
    sys[(size_t) p * p + p + 1] = bad;
}

/* One pass over X at coefficients beta: fills eta, mu and sys = (X'WX,
 * X'Wz, deviance) of the next IRLS step, X'WX with both triangles. */
static void irls_pass(const cp_design *d, const double *beta,
                      const double *y, const double *prior, const double *offset,
                      int fam, int nthreads, double *eta, double *mu, double *sys,
                      double *work)
{
    R_xlen_t n = d->n;
    int p = d->p;
    R_xlen_t nchunk = cp_chunks(n, p, p);
    pass_ctx ctx = {d, beta, y, prior, offset, fam, eta, mu};
    cp_reduce(n, nchunk, cp_threads(nchunk, nthreads), SYS_LEN(p),
              PASS_SCRATCH(p), pass_chunk, &ctx, sys, work);
    cp_symmetrize(sys, p);
}

void glm_predict(const cp_design *d, const double *beta, const double *offset,
                 int family, double *eta, double *mu)
{
    R_xlen_t n = d->n;
    for (R_xlen_t i = 0; i < n; i++) eta[i] = offset ? offset[i] : 0.0;
    for (int j = 0; j < d->p; j++) {
        if (ISNAN(beta[j])) continue;
        const double *xj = cp_column(d, j);
        double b = beta[j];
        if (xj) for (R_xlen_t i = 0; i < n; i++) eta[i] += xj[i] * b;
        else for (R_xlen_t i = 0; i < n; i++) eta[i] += b;
    }
    for (R_xlen_t i = 0; i < n; i++) mu[i] = glm_linkinv(family, eta[i]);
}

/*
 * Inputs:  d (the n x p design), y (n), prior (n prior weights, or NULL),
 *          offset (n, or NULL), spec.
 * Outputs: beta (p; NA where aliased), eta, mu (n), aliased (p), info
 *          (info->nonfinite, and nothing else, when X is not finite).
 * Work:    glm_work_size(n, p, spec->nthreads) doubles; on return its
 *          first p * p hold X'WX at the final coefficients.
 * Uses no R API, so it may run inside an OpenMP region with nthreads = 1.
 */
void glm_irls(const cp_design *d, const double *y,
              const double *prior, const double *offset, const glm_spec *spec,
              double *beta, double *eta, double *mu, int *aliased,
              glm_info *info, double *work)
{
    const int fam = spec->family;
    const int p = d->p;
    size_t pp = (size_t) p * p;
    /* sys = (A, b, deviance, flag): the IRLS system A beta = b, as irls_pass()
     * fills it. */
    double *sys = work, *A = sys, *b = sys + pp;
    double *L = sys + SYS_LEN(p), *solve_work = L + pp;
    double *beta_old = solve_work + pp + p, *beta_lin = beta_old + p;
    double *kernel_work = beta_lin + p;

    memset(info, 0, sizeof(*info));
    /* The first system comes from glm()'s starting values mustart. */
    irls_pass(d, NULL, y, prior, offset, fam, spec->nthreads, eta, mu, sys,
              kernel_work);
    if (sys[pp + p + 1] > 0) {
        info->nonfinite = 1;
        info->failed = 1;
        return;
    }
    double dev_old = sys[pp + p], dev = dev_old;
    int have_old = 0;

    for (int iter = 1; iter <= spec->maxit; iter++) {
        if (spec->interrupt) spec->interrupt();
        info->iter = iter;
        if (spec->penalty)
            for (int j = 0; j < p; j++) A[(size_t) j * p + j] += spec->penalty[j];
        if (iter == 1) {
            memcpy(L, A, sizeof(double) * pp);
            info->rank = chol_alias(L, p, aliased, ALIAS_TOL);
        }
        if (chol_solve_kept(A, p, aliased, b, beta, solve_work) != 0) {
            info->failed = 1;
            return;
        }
        /* One pass gives eta, mu and the deviance at beta, and the next
         * system; the system is wasted only on the last iteration. */
        for (int j = 0; j < p; j++) beta_lin[j] = aliased[j] ? 0.0 : beta[j];
        irls_pass(d, beta_lin, y, prior, offset, fam, spec->nthreads,
                  eta, mu, sys, kernel_work);
        dev = sys[pp + p];
        /* Step halving toward the previous coefficients while the deviance
         * is not finite, as glm.fit() does. */
        for (int h = 0; !R_FINITE(dev) && have_old && h < spec->maxit; h++) {
            for (int j = 0; j < p; j++) {
                if (aliased[j]) continue;
                beta[j] = (beta[j] + beta_old[j]) / 2.0;
                beta_lin[j] = beta[j];
            }
            irls_pass(d, beta_lin, y, prior, offset, fam, spec->nthreads,
                      eta, mu, sys, kernel_work);
            dev = sys[pp + p];
            info->boundary = 1;
        }
        if (!R_FINITE(dev)) {
            info->failed = 1;
            return;
        }
        if (fabs(dev - dev_old) / (fabs(dev) + 0.1) < spec->epsilon) {
            info->converged = 1;
            break;
        }
        dev_old = dev;
        memcpy(beta_old, beta, sizeof(double) * p);
        have_old = 1;
    }
    info->deviance = dev;
}

glm_spec ffi_glm_spec(int family, SEXP maxit, SEXP epsilon, SEXP penalty, int p,
                      int nthreads)
{
    ffi_check_double(penalty, "penalty", p);
    ffi_check_finite(penalty, "penalty");
    glm_spec spec = {
        .family = family,
        .maxit = ffi_scalar_int(maxit, "maxit", 1, 100000),
        .epsilon = ffi_scalar_double(epsilon, "epsilon"),
        .penalty = REAL_RO(penalty),
        .nthreads = nthreads,
        .interrupt = NULL
    };
    return spec;
}

/* ---- .Call entry ------------------------------------------------------------
 * ffi_glm_fit(X n x q double, intercept lgl (an implicit first column of
 *             ones: p = q + intercept), y double(n), prior double(n) or NULL,
 *             offset double(n) or NULL, family int (0 gaussian, 1 binomial,
 *             2 poisson), maxit int, epsilon double, penalty double(p),
 *             nthreads int)
 * -> list(coefficients, linear_predictors, fitted, aliased, rank, iter,
 *         converged, deviance, boundary, failed, information = X'WX at the
 *         final coefficients)                                              */

SEXP ffi_glm_fit(SEXP X, SEXP intercept, SEXP y, SEXP prior, SEXP offset,
                 SEXP family, SEXP maxit, SEXP epsilon, SEXP penalty, SEXP nthreads)
{
    /* The first IRLS pass checks that X is finite. */
    cp_design d = ffi_design_unchecked(X, intercept, "X");
    R_xlen_t n = d.n;
    int p = d.p;
    ffi_check_double(y, "y", n);
    ffi_check_finite(y, "y");
    if (!Rf_isNull(prior)) { ffi_check_double(prior, "prior", n); ffi_check_finite(prior, "prior"); }
    if (!Rf_isNull(offset)) { ffi_check_double(offset, "offset", n); ffi_check_finite(offset, "offset"); }
    glm_spec spec = ffi_glm_spec(ffi_scalar_int(family, "family", 0, 2), maxit, epsilon,
                                 penalty, p, ffi_scalar_int(nthreads, "nthreads", 1, 1024));
    spec.interrupt = R_CheckUserInterrupt;
    double *work = (double *) R_alloc(glm_work_size(n, p, spec.nthreads), sizeof(double));
    int *aliased = (int *) R_alloc(p > 0 ? p : 1, sizeof(int));

    int nprot = 0;
    SEXP beta = PROTECT(Rf_allocVector(REALSXP, p)); nprot++;
    SEXP eta = PROTECT(Rf_allocVector(REALSXP, n)); nprot++;
    SEXP mu = PROTECT(Rf_allocVector(REALSXP, n)); nprot++;
    SEXP alias = PROTECT(Rf_allocVector(LGLSXP, p)); nprot++;
    SEXP xtwx = PROTECT(Rf_allocMatrix(REALSXP, p, p)); nprot++;
    glm_info info;
    glm_irls(&d, REAL_RO(y),
             Rf_isNull(prior) ? NULL : REAL_RO(prior),
             Rf_isNull(offset) ? NULL : REAL_RO(offset), &spec,
             REAL(beta), REAL(eta), REAL(mu), aliased, &info, work);
    if (info.nonfinite) {
        UNPROTECT(nprot);
        ffi_abort_nonfinite("X");
    }
    for (int j = 0; j < p; j++) LOGICAL(alias)[j] = aliased[j];
    /* The last pass left X'WX at the final coefficients at the head of the
     * IRLS system: for canonical links, the information matrix. */
    memcpy(REAL(xtwx), work, sizeof(double) * (size_t) p * p);

    const char *names[] = {"coefficients", "linear_predictors", "fitted",
                           "aliased", "rank", "iter", "converged", "deviance",
                           "boundary", "failed", "information", ""};
    SEXP out = PROTECT(Rf_mkNamed(VECSXP, names)); nprot++;
    SET_VECTOR_ELT(out, 0, beta);
    SET_VECTOR_ELT(out, 1, eta);
    SET_VECTOR_ELT(out, 2, mu);
    SET_VECTOR_ELT(out, 3, alias);
    SET_VECTOR_ELT(out, 4, Rf_ScalarInteger(info.rank));
    SET_VECTOR_ELT(out, 5, Rf_ScalarInteger(info.iter));
    SET_VECTOR_ELT(out, 6, Rf_ScalarLogical(info.converged));
    SET_VECTOR_ELT(out, 7, Rf_ScalarReal(info.deviance));
    SET_VECTOR_ELT(out, 8, Rf_ScalarLogical(info.boundary));
    SET_VECTOR_ELT(out, 9, Rf_ScalarLogical(info.failed));
    SET_VECTOR_ELT(out, 10, xtwx);
    UNPROTECT(nprot);
    return out;
}
