/*
 * One Newton (or IRLS) iteration for every fitter of the package: glm.c
 * (IRLS, as glm.fit()), multinom.c and person-time.c (damped Newton on the
 * information matrix).  Each fitter supplies its objective and its system;
 * here the system is penalized, columns that are linearly dependent on
 * earlier ones are aliased once (on the first iteration's system, as glm()
 * aliases them) and keep NaN coefficients, the system is solved over the
 * other columns with LAPACK's Cholesky, the step is taken and halved as the
 * fitter's rule says, and convergence is glm()'s relative rule
 * |obj - obj_old| / (|obj| + 0.1) < epsilon on the objective divided by the
 * mean prior weight (glm()'s own rule with weights of mean 1), so that the
 * iterations, and so the fit, do not change when every weight is scaled.
 *
 * Plain C: the only header from R is the LAPACK interface, for the Fortran
 * calling convention.
 */
#define USE_FC_LEN_T
#include <math.h>
#include <string.h>
#include <float.h>
#include <R_ext/Lapack.h>
#ifndef FCONE
#define FCONE
#endif
#include "newton.h"

/* Growth of the objective that NEWTON_DAMPED_FAIL always accepts as
 * rounding at the optimum. */
#define DEV_RTOL 1e-12

/* The coefficients b (p) of column j on the kept columns before it, from
 * the factor in A's upper triangle (column j's part solved in aj). */
static void kept_coefficients(const double *A, int p, const int *aliased, int j,
                              double *b)
{
    const double *aj = A + (size_t) j * p;
    for (int k = 0; k < p; k++) b[k] = 0.0;
    for (int k = j - 1; k >= 0; k--) {
        if (aliased[k]) continue;
        double s = aj[k];
        for (int m = k + 1; m < j; m++)
            if (!aliased[m]) s -= A[(size_t) m * p + k] * b[m];
        b[k] = s / A[(size_t) k * p + k];
    }
}

/*
 * Left-looking Cholesky that aliases columns, as glm() aliases columns
 * dependent on earlier ones.
 * Inputs:  A (p x p, symmetric, upper triangle used), tol; resid (or
 *          NULL) and its ctx.
 * Outputs: A's upper triangle holds the factor of the kept columns;
 *          aliased (p): 1 for a column whose squared residual norm falls
 *          below tol times its original squared norm, else 0 -- unless
 *          resid, recomputing that residual from the rows, finds it above
 *          NEWTON_QR_TOL^2 times the norm: the column is then kept and
 *          rescued (p, when resid) flags it.
 * Work:    b (p doubles) when resid.
 * Returns the rank (columns kept).
 */
int chol_alias(double *A, int p, int *aliased, double tol, newton_resid_fn resid,
               void *ctx, int *rescued, double *b)
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
        int keep = d0 > 0 && d > tol * d0;
        if (resid) rescued[j] = 0;
        if (!keep && d0 > 0 && resid) {
            double norm2 = 0.0, rss;
            kept_coefficients(A, p, aliased, j, b);
            rss = resid(ctx, j, b, &norm2);
            if (rss > NEWTON_QR_TOL * NEWTON_QR_TOL * norm2) {
                keep = 1;
                rescued[j] = 1;
                d = rss;
            }
        }
        if (!keep) {
            aliased[j] = 1;
        } else {
            aliased[j] = 0;
            aj[j] = sqrt(d);
            rank++;
        }
    }
    return rank;
}

/*
 * Solve A x = b over the kept columns with LAPACK (dpotrf, dpotrs).
 * Inputs:  A (p x p, symmetric, upper triangle used), aliased (p), b (p).
 * Output:  x (p), NaN where aliased.
 * Work:    p * p + p doubles; on success its first r * r hold the factor
 *          of the r kept columns (for chol_resolve_kept(), chol_rcond()).
 * Returns LAPACK's info: 0 on success.
 */
int chol_solve_kept(const double *A, int p, const int *aliased,
                    const double *b, double *x, double *work)
{
    int r = 0;
    for (int j = 0; j < p; j++) if (!aliased[j]) r++;
    double *Ar = work;
    int jj = 0;
    for (int j = 0; j < p; j++) {
        if (aliased[j]) continue;
        int kk = 0;
        for (int k = 0; k < p; k++) {
            if (aliased[k]) continue;
            Ar[(size_t) jj * r + kk] = A[(size_t) j * p + k];
            kk++;
        }
        jj++;
    }
    int info = 0;
    if (r > 0) F77_CALL(dpotrf)("U", &r, Ar, &r, &info FCONE);
    if (info == 0) chol_resolve_kept(work, p, aliased, b, x);
    return info;
}

/* x (p; NaN where aliased) = A^-1 b over the kept columns, with the factor
 * chol_solve_kept() left at the start of work (and p doubles after it). */
void chol_resolve_kept(double *work, int p, const int *aliased, const double *b,
                       double *x)
{
    int r = 0, info = 0, one = 1;
    for (int j = 0; j < p; j++) if (!aliased[j]) r++;
    double *br = work + (size_t) r * r;
    int jj = 0;
    for (int j = 0; j < p; j++) if (!aliased[j]) br[jj++] = b[j];
    if (r > 0) F77_CALL(dpotrs)("U", &r, &one, work, &r, br, &r, &info FCONE);
    jj = 0;
    for (int j = 0; j < p; j++) x[j] = aliased[j] ? NAN : br[jj++];
}

/*
 * The reciprocal condition number (1-norm, LAPACK's dpocon estimate) of
 * the kept part of A equilibrated to a unit diagonal, D^-1/2 A D^-1/2, from
 * the factor chol_solve_kept() left in factor: what the normal equations
 * lose beyond the scales of the columns, which Cholesky does not mind.
 * Work: r * r + 4 r doubles and r ints (r <= p kept columns).
 */
double chol_rcond(const double *A, int p, const int *aliased, const double *factor,
                  double *work, int *iwork)
{
    int r = 0, info = 0;
    for (int j = 0; j < p; j++) if (!aliased[j]) r++;
    if (r == 0) return 1.0;
    double *F = work, *s = F + (size_t) r * r, *cwork = s + r, anorm = 0.0, rcond = 0.0;
    int jj = 0;
    for (int j = 0; j < p; j++)
        if (!aliased[j]) s[jj++] = 1.0 / sqrt(A[(size_t) j * p + j]);
    /* The factor of S A S is R S (R upper, A = R'R). */
    for (int c = 0; c < r; c++)
        for (int k = 0; k <= c; k++) F[(size_t) c * r + k] = factor[(size_t) c * r + k] * s[c];
    jj = 0;
    for (int j = 0; j < p; j++) {
        if (aliased[j]) continue;
        double col = 0.0;
        int kk = 0;
        for (int k = 0; k < p; k++)
            if (!aliased[k]) {
                size_t e = k <= j ? (size_t) j * p + k : (size_t) k * p + j;
                col += fabs(A[e]) * s[kk++] * s[jj];
            }
        if (col > anorm) anorm = col;
        jj++;
    }
    F77_CALL(dpocon)("U", &r, F, &r, &anorm, &rcond, cwork, iwork, &info FCONE);
    return info == 0 ? rcond : 0.0;
}

/*
 * The ridge penalty sum_e lambda_e beta_e^2 / 2 on the Newton system.
 * Inputs:  beta (q; NaN coefficients are skipped), penalty (lambda_e =
 *          penalty[e % npenalty]; NULL: none).
 * Outputs: H (q x q) += diag(lambda); g (q) -= lambda beta unless g is NULL.
 */
void newton_penalize(double *H, double *g, const double *beta, int q,
                     const double *penalty, int npenalty)
{
    if (!penalty) return;
    for (int e = 0; e < q; e++) {
        double lambda = penalty[e % npenalty];
        H[(size_t) e * q + e] += lambda;
        if (g && !isnan(beta[e])) g[e] -= lambda * beta[e];
    }
}

/* The penalty's part of the objective: sum_e lambda_e beta_e^2 over the
 * coefficients that are not NaN (0 without a penalty). */
double newton_penalty(const double *beta, int q, const double *penalty,
                      int npenalty)
{
    double s = 0.0;
    if (!penalty) return s;
    for (int e = 0; e < q; e++)
        if (!isnan(beta[e])) s += penalty[e % npenalty] * beta[e] * beta[e];
    return s;
}

/* Doubles of work for newton_fit() with q coefficients: H, L (q x q),
 * the solve's q x q + q, g, the solution and the previous coefficients,
 * chol_alias()'s coefficients, rescued flags and design flags (ints, in
 * doubles), the refinement's residual and correction, and chol_rcond()'s
 * r x r + 4 r doubles and r ints. */
size_t newton_work_size(int q)
{
    return 4 * (size_t) q * q + 14 * (size_t) q;
}

/*
 * The mean of the positive weights among w (n; NULL: 1), or 1 when none is
 * positive.  Zero weights (units out of a resample or of an arm) do not
 * count, so a fit on a subset equals the fit on all units with zero weights
 * elsewhere.
 */
double newton_weight_scale(const double *w, cl_len n)
{
    double total = 0.0;
    cl_len npos = 0;
    if (!w) return 1.0;
    for (cl_len i = 0; i < n; i++)
        if (w[i] > 0) {
            total += w[i];
            npos++;
        }
    return npos > 0 ? total / (double) npos : 1.0;
}

/* glm()'s convergence rule on the objectives divided by scale. */
static int converged(double obj, double obj_old, double epsilon, double scale)
{
    obj /= scale;
    obj_old /= scale;
    return fabs(obj - obj_old) / (fabs(obj) + 0.1) < epsilon;
}

/* May a damped step with objective obj be taken? */
static int acceptable(const newton_problem *pb, double obj, double obj_old)
{
    if (!isfinite(obj)) return 0;
    if (pb->rule == NEWTON_DAMPED_KEEP) return obj <= obj_old * (1 + DEV_RTOL);
    double tol = pb->epsilon > DEV_RTOL ? pb->epsilon : DEV_RTOL;
    return (obj - obj_old) / pb->scale / (fabs(obj) / pb->scale + 0.1) < tol;
}

/*
 * One step from beta (q) with the solution x (q) of the system, under
 * pb->rule; beta_old (q) holds the previous iterate (IRLS, valid when
 * have_old) or receives beta (damped rules).
 * Returns the objective at the new beta.  Sets info->boundary when IRLS
 * halved; returns NAN and restores beta when NEWTON_DAMPED_FAIL found no
 * acceptable step (the objective is then re-evaluated there).
 */
static double newton_step(const newton_problem *pb, const int *aliased,
                          const double *x, int have_old, double obj_old,
                          double *beta, double *beta_old, newton_info *info)
{
    const int q = pb->q;
    double obj;
    if (pb->rule == NEWTON_IRLS) {
        memcpy(beta, x, sizeof(double) * q);
        obj = pb->objective(pb->ctx, beta);
        for (int h = 0; !isfinite(obj) && have_old && h < pb->maxit; h++) {
            for (int j = 0; j < q; j++)
                if (!aliased[j]) beta[j] = (beta[j] + beta_old[j]) / 2.0;
            obj = pb->objective(pb->ctx, beta);
            info->boundary = 1;
        }
        return obj;
    }
    memcpy(beta_old, beta, sizeof(double) * q);
    double t = 1.0;
    int h = 0;
    for (; h <= NEWTON_MAX_HALVINGS; h++, t /= 2.0) {
        for (int j = 0; j < q; j++)
            if (!aliased[j]) beta[j] = beta_old[j] + t * x[j];
        obj = pb->objective(pb->ctx, beta);
        if (acceptable(pb, obj, obj_old)) break;
    }
    if (h > NEWTON_MAX_HALVINGS && pb->rule == NEWTON_DAMPED_FAIL) {
        memcpy(beta, beta_old, sizeof(double) * q);
        pb->objective(pb->ctx, beta);
        return NAN;
    }
    return obj;
}

/* r (q) -= lambda v over the coefficients not aliased (penalty as in
 * newton_penalize()). */
static void penalty_times(double *r, const double *v, int q, const int *aliased,
                          const double *penalty, int npenalty)
{
    if (!penalty) return;
    for (int e = 0; e < q; e++)
        if (!aliased[e]) r[e] -= penalty[e % npenalty] * v[e];
}

static double norm_kept(const double *v, int q, const int *aliased)
{
    double s = 0.0;
    for (int e = 0; e < q; e++) if (!aliased[e]) s += v[e] * v[e];
    return sqrt(s);
}

/*
 * Iterative refinement of the solution x (q) of the penalized system
 * (H, factor in solve_work from chol_solve_kept()) when it is ill
 * conditioned: x += A^-1 r with r = g - A x recomputed from the rows
 * (pb->refine) less the penalty, while the corrections shrink.  The
 * normal equations square the condition number of the rows; residuals
 * from the rows bring the solution back to the accuracy of a QR of the
 * rows (when the system loses fewer than all its digits).  beta: the
 * coefficients of the system (damped rules: x is a step from them).
 */
static void refine_solution(const newton_problem *pb, const double *H, const int *aliased,
                            const double *beta, double *x, double *solve_work,
                            double *r, double *dx, double *cwork)
{
    const int q = pb->q;
    if (!pb->refine) return;
    int *ciwork = (int *) (cwork + (size_t) q * q + 4 * (size_t) q);
    if (chol_rcond(H, q, aliased, solve_work, cwork, ciwork) >= NEWTON_REFINE_RCOND) return;
    double last = INFINITY;
    for (int it = 0; it < NEWTON_MAX_REFINE; it++) {
        pb->refine(pb->ctx, x, r);
        penalty_times(r, x, q, aliased, pb->penalty, pb->npenalty);
        if (pb->rule != NEWTON_IRLS) penalty_times(r, beta, q, aliased, pb->penalty, pb->npenalty);
        chol_resolve_kept(solve_work, q, aliased, r, dx);
        double size = norm_kept(dx, q, aliased);
        if (!isfinite(size) || size >= last) break; /* no longer converging */
        for (int e = 0; e < q; e++) if (!aliased[e]) x[e] += dx[e];
        if (size <= 4 * DBL_EPSILON * norm_kept(x, q, aliased)) break;
        last = size / 2;
    }
}

/*
 * Alias columns on the first system H (q x q, penalized), or on pb's
 * design system (alias_p columns) spread over the coefficients.
 * Outputs: aliased (q), rescued (q: kept by the row residuals), the rank
 *          (of the design system when alias_p > 0).
 * Work:    L (q x q), bwork (q), flags (q ints in doubles).
 */
static int alias_columns(const newton_problem *pb, const double *H, int *aliased,
                         int *rescued, double *L, double *bwork, int *flags)
{
    const int q = pb->q;
    int rank;
    if (pb->alias_p > 0) {
        const int p = pb->alias_p;
        int *rescued_p = flags + p;
        pb->alias_system(pb->ctx, L);
        newton_penalize(L, NULL, NULL, p, pb->penalty, pb->npenalty);
        rank = chol_alias(L, p, flags, NEWTON_ALIAS_TOL, pb->resid, pb->ctx, rescued_p, bwork);
        for (int e = 0; e < q; e++) {
            aliased[e] = flags[e % p];
            rescued[e] = pb->resid ? rescued_p[e % p] : 0;
        }
        return rank;
    }
    memcpy(L, H, sizeof(double) * (size_t) q * q);
    rank = chol_alias(L, q, aliased, NEWTON_ALIAS_TOL, pb->resid, pb->ctx, rescued, bwork);
    if (!pb->resid) memset(rescued, 0, sizeof(int) * (size_t) q);
    return rank;
}

/*
 * Inputs:  pb; objective_start, the objective at the starting beta, whose
 *          system pb->system() gives.
 * In/out:  beta (q): the start, then the fitted coefficients (NaN where
 *          aliased).
 * Outputs: aliased (q); info (iter, converged, rank, boundary, failed,
 *          deviance = the final objective unless failed).
 * Work:    newton_work_size(q) doubles.
 * Calls pb->interrupt once per iteration and no R API otherwise.
 */
void newton_fit(const newton_problem *pb, double objective_start, double *beta,
                int *aliased, newton_info *info, double *work)
{
    const int q = pb->q;
    const size_t qq = (size_t) q * q;
    double *H = work, *g = H + qq, *L = g + q, *solve_work = L + qq;
    double *x = solve_work + qq + q, *beta_old = x + q, *bwork = beta_old + q;
    int *rescued = (int *) (bwork + q), *flags = (int *) (bwork + 2 * (size_t) q);
    double *r = bwork + 3 * (size_t) q, *dx = r + q, *cwork = dx + q;
    double obj_old = objective_start, obj = objective_start;
    int have_old = 0, nrescued = 0;

    for (int iter = 1; iter <= pb->maxit; iter++) {
        if (pb->interrupt) pb->interrupt();
        info->iter = iter;
        pb->system(pb->ctx, H, g);
        newton_penalize(H, pb->rule == NEWTON_IRLS ? NULL : g, beta, q, pb->penalty,
                        pb->npenalty);
        if (iter == 1) {
            info->rank = alias_columns(pb, H, aliased, rescued, L, bwork, flags);
            for (int e = 0; e < q; e++) {
                if (aliased[e]) beta[e] = NAN;
                if (rescued[e]) nrescued++;
            }
        }
        int solved = chol_solve_kept(H, q, aliased, g, x, solve_work) == 0;
        if (!solved && iter == 1 && nrescued > 0) {
            /* A QR of the rows keeps these columns, but the normal
             * equations cannot: alias them after all (the caller warns
             * about every aliased column). */
            for (int e = 0; e < q; e++)
                if (rescued[e]) {
                    aliased[e] = 1;
                    beta[e] = NAN;
                }
            for (int j = 0; j < (pb->alias_p > 0 ? pb->alias_p : q); j++)
                if (rescued[j]) info->rank--;
            solved = chol_solve_kept(H, q, aliased, g, x, solve_work) == 0;
        }
        if (!solved) {
            info->failed = 1;
            return;
        }
        refine_solution(pb, H, aliased, beta, x, solve_work, r, dx, cwork);
        obj = newton_step(pb, aliased, x, have_old, obj_old, beta, beta_old, info);
        if (!isfinite(obj)) {
            info->failed = 1;
            return;
        }
        if (converged(obj, obj_old, pb->epsilon, pb->scale)) {
            info->converged = 1;
            break;
        }
        obj_old = obj;
        if (pb->rule == NEWTON_IRLS) {
            memcpy(beta_old, beta, sizeof(double) * q);
            have_old = 1;
        }
    }
    info->deviance = obj;
}
