/*
 * Multinomial logistic regression (baseline-category logits, first level as
 * reference) by Newton-Raphson on the full ((K-1)p)-square Hessian, whose
 * blocks X' diag(prior * P_k (delta_kl - P_l)) X come from the blocked
 * cross-product kernel.  Convergence uses glm()'s relative deviance rule;
 * a step that does not lower the deviance is halved.  Columns aliased on
 * X' diag(prior) X are aliased in every block, as nnet::multinom would
 * leave them unidentified.
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
#include "multinom.h"
#include "crossprod.h"
#include "ffi-checks.h"

#define ALIAS_TOL 1e-10
#define MAX_HALVINGS 30

/* P (n x K) from coefficients B (p x (K-1)); aliased coefficients are NA and
 * contribute nothing. */
void multinom_probs(const cp_design *d, int K, const double *B, double *P)
{
    R_xlen_t n = d->n;
    for (R_xlen_t i = 0; i < n; i++) P[i] = 0.0;
    /* The linear predictors: identity-link predictions, written in place. */
    for (int k = 1; k < K; k++) {
        double *pk = P + (size_t) k * n;
        glm_predict(d, B + (size_t) (k - 1) * d->p, NULL, GLM_GAUSSIAN, pk, pk);
    }
    for (R_xlen_t i = 0; i < n; i++) {
        double mx = 0.0, s = 0.0;
        for (int k = 1; k < K; k++) if (P[(size_t) k * n + i] > mx) mx = P[(size_t) k * n + i];
        for (int k = 0; k < K; k++) {
            double e = exp(P[(size_t) k * n + i] - mx);
            P[(size_t) k * n + i] = e;
            s += e;
        }
        for (int k = 0; k < K; k++) P[(size_t) k * n + i] /= s;
    }
}

static double multinom_deviance(const double *P, R_xlen_t n, const int *a,
                                const double *prior)
{
    double dev = 0.0;
    for (R_xlen_t i = 0; i < n; i++) {
        double w = prior ? prior[i] : 1.0;
        if (w > 0) dev -= 2.0 * w * log(P[(size_t) a[i] * n + i]);
    }
    return dev;
}

static double penalty_term(const double *B, int p, int K, const double *pen)
{
    double s = 0.0;
    if (!pen) return s;
    for (int k = 0; k < K - 1; k++)
        for (int j = 0; j < p; j++) {
            double b = B[(size_t) k * p + j];
            if (!ISNAN(b)) s += pen[j] * b * b;
        }
    return s;
}

size_t multinom_work_size(R_xlen_t n, int p, int K, int nthreads)
{
    size_t q = (size_t) (K - 1) * p;
    return (size_t) n * K + (size_t) n + 2 * q * q + 4 * q + (size_t) p * p +
           wcrossprod_work_size(n, p, nthreads) + xt_mat_work_size(n, p, K - 1, nthreads);
}

/* H (q x q) = negative Hessian of the log-likelihood, g (q) = its gradient,
 * at probabilities P; blocks follow the columns of B. */
static void newton_system(const cp_design *d, const int *a,
                          int K, const double *prior, const double *P,
                          const double *B, const glm_spec *spec, double *H,
                          double *g, double *R, double *w, double *blk,
                          double *cp_work, double *xm_work)
{
    const R_xlen_t n = d->n;
    const int p = d->p, km = K - 1;
    const size_t q = (size_t) km * p;
    for (int k = 0; k < km; k++) {
        const double *pk = P + (size_t) (k + 1) * n;
        for (R_xlen_t i = 0; i < n; i++) {
            double pw = prior ? prior[i] : 1.0;
            R[(size_t) k * n + i] = pw * ((a[i] == k + 1) - pk[i]);
        }
    }
    xt_mat(d, R, km, g, spec->nthreads, xm_work);
    for (int k = 0; k < km; k++) {
        const double *pk = P + (size_t) (k + 1) * n;
        for (int l = k; l < km; l++) {
            const double *pl = P + (size_t) (l + 1) * n;
            for (R_xlen_t i = 0; i < n; i++) {
                double pw = prior ? prior[i] : 1.0;
                w[i] = pw * pk[i] * ((k == l) - pl[i]);
            }
            wcrossprod(d, w, blk, spec->nthreads, cp_work);
            for (int j = 0; j < p; j++)
                for (int m = 0; m < p; m++) {
                    double v = blk[(size_t) m * p + j];
                    H[((size_t) l * p + m) * q + (size_t) k * p + j] = v;
                    H[((size_t) k * p + j) * q + (size_t) l * p + m] = v;
                }
        }
        if (spec->penalty)
            for (int j = 0; j < p; j++) {
                size_t e = (size_t) k * p + j;
                H[e * q + e] += spec->penalty[j];
                if (!ISNAN(B[e])) g[e] -= spec->penalty[j] * B[e];
            }
    }
}

/*
 * Inputs:  d (the n x p design), a (n, levels coded 0..K-1), K >= 2,
 *          prior (n or NULL),
 *          spec (family ignored).
 * Outputs: B (p x (K-1), NA where aliased), P (n x K fitted probabilities),
 *          aliased (p), info (deviance is -2 log-likelihood).
 * Work:    multinom_work_size(n, p, K, spec->nthreads) doubles and
 *          (K-1) * p ints in iwork.
 */
void multinom_newton(const cp_design *d, const int *a, int K,
                     const double *prior, const glm_spec *spec, double *B,
                     double *P, int *aliased, glm_info *info, double *work,
                     int *iwork)
{
    const R_xlen_t n = d->n;
    const int p = d->p, km = K - 1;
    const size_t q = (size_t) km * p, pp = (size_t) p * p;
    double *R = work, *w = R + (size_t) n * km, *H = w + n, *blk = H + q * q;
    double *solve_work = blk + pp, *g = solve_work + q * q + q;
    double *step = g + q, *B_old = step + q;
    double *cp_work = B_old + q;
    double *xm_work = cp_work + wcrossprod_work_size(n, p, spec->nthreads);
    int *qaliased = iwork;

    memset(info, 0, sizeof(*info));
    wcrossprod(d, prior, blk, spec->nthreads, cp_work);
    if (spec->penalty)
        for (int j = 0; j < p; j++) blk[(size_t) j * p + j] += spec->penalty[j];
    info->rank = chol_alias(blk, p, aliased, ALIAS_TOL);
    for (size_t e = 0; e < q; e++) {
        qaliased[e] = aliased[e % p];
        B[e] = qaliased[e] ? NA_REAL : 0.0;
    }
    multinom_probs(d, K, B, P);
    double dev_old = multinom_deviance(P, n, a, prior) + penalty_term(B, p, K, spec->penalty);
    double dev = dev_old;

    for (int iter = 1; iter <= spec->maxit; iter++) {
        if (spec->interrupt) spec->interrupt();
        info->iter = iter;
        newton_system(d, a, K, prior, P, B, spec, H, g, R, w, blk,
                      cp_work, xm_work);
        if (chol_solve_kept(H, (int) q, qaliased, g, step, solve_work) != 0) {
            info->failed = 1;
            return;
        }
        memcpy(B_old, B, sizeof(double) * q);
        double t = 1.0;
        for (int h = 0; h <= MAX_HALVINGS; h++, t /= 2.0) {
            for (size_t e = 0; e < q; e++)
                if (!qaliased[e]) B[e] = B_old[e] + t * step[e];
            multinom_probs(d, K, B, P);
            dev = multinom_deviance(P, n, a, prior) + penalty_term(B, p, K, spec->penalty);
            if (R_FINITE(dev) && dev <= dev_old * (1 + 1e-12)) break;
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
    }
    info->deviance = dev;
}

/* ---- .Call entry ------------------------------------------------------------
 * ffi_multinom_fit(X n x q double, intercept lgl (p = q + intercept),
 *                  a int(n) coded 1..K, K int,
 *                  prior double(n) or NULL, maxit int, epsilon double,
 *                  penalty double(p), nthreads int)
 * -> list(coefficients p x (K-1), fitted n x K, aliased, rank, iter,
 *         converged, deviance, boundary, failed)                             */

SEXP ffi_multinom_fit(SEXP X, SEXP intercept, SEXP a, SEXP K_, SEXP prior,
                      SEXP maxit, SEXP epsilon, SEXP penalty, SEXP nthreads)
{
    cp_design d = ffi_design(X, intercept, "X");
    R_xlen_t n = d.n;
    int p = d.p;
    int K = ffi_scalar_int(K_, "K", 2, 10000);
    int *a0 = ffi_codes0(a, n, K, "a");
    if (!Rf_isNull(prior)) { ffi_check_double(prior, "prior", n); ffi_check_finite(prior, "prior"); }
    glm_spec spec = ffi_glm_spec(GLM_BINOMIAL, maxit, epsilon, penalty, p,
                                 ffi_scalar_int(nthreads, "nthreads", 1, 1024));
    spec.interrupt = R_CheckUserInterrupt;
    size_t q = (size_t) (K - 1) * p;
    double *work = (double *) R_alloc(multinom_work_size(n, p, K, spec.nthreads), sizeof(double));
    int *iwork = (int *) R_alloc(q > 0 ? q : 1, sizeof(int));
    int *aliased = (int *) R_alloc(p > 0 ? p : 1, sizeof(int));

    int nprot = 0;
    SEXP B = PROTECT(Rf_allocMatrix(REALSXP, p, K - 1)); nprot++;
    SEXP P = PROTECT(Rf_allocMatrix(REALSXP, n, K)); nprot++;
    SEXP alias = PROTECT(Rf_allocVector(LGLSXP, p)); nprot++;
    glm_info info;
    multinom_newton(&d, a0, K, Rf_isNull(prior) ? NULL : REAL_RO(prior),
                    &spec, REAL(B), REAL(P), aliased, &info, work, iwork);
    for (int j = 0; j < p; j++) LOGICAL(alias)[j] = aliased[j];

    const char *names[] = {"coefficients", "fitted", "aliased", "rank", "iter",
                           "converged", "deviance", "boundary", "failed", ""};
    SEXP out = PROTECT(Rf_mkNamed(VECSXP, names)); nprot++;
    SET_VECTOR_ELT(out, 0, B);
    SET_VECTOR_ELT(out, 1, P);
    SET_VECTOR_ELT(out, 2, alias);
    SET_VECTOR_ELT(out, 3, Rf_ScalarInteger(info.rank));
    SET_VECTOR_ELT(out, 4, Rf_ScalarInteger(info.iter));
    SET_VECTOR_ELT(out, 5, Rf_ScalarLogical(info.converged));
    SET_VECTOR_ELT(out, 6, Rf_ScalarReal(info.deviance));
    SET_VECTOR_ELT(out, 7, Rf_ScalarLogical(info.boundary));
    SET_VECTOR_ELT(out, 8, Rf_ScalarLogical(info.failed));
    UNPROTECT(nprot);
    return out;
}
