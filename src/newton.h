#ifndef CAUSALLIB_NEWTON_H
#define CAUSALLIB_NEWTON_H

/* Newton and IRLS iterations for the GLM, multinomial and person-time
 * fitters: the aliasing Cholesky, the penalized normal equations, the step
 * with its halving, the convergence test.  Plain C (no R header); calls
 * LAPACK and nothing else of this package. */

#include <stddef.h>
#include "cl.h"

/* What a fit reports. */
typedef struct {
    int iter, converged, rank, boundary;
    int failed;    /* singular system, diverged, or a non-finite design */
    int nonfinite; /* the design has a missing or infinite value */
    /* The column of ones that absorbed the design's shifts, or -1: the
     * fit ran on the design shifted by cp_center_plan(); the coefficients
     * are returned for the unshifted design, the information matrices for
     * the shifted one (see the fitters). */
    int anchor;
    double deviance;
} newton_info;

/* How the solution of the system becomes the next coefficients, and what a
 * step must achieve.  Each rule is the one its fitter has always used; they
 * differ only where a step is halved. */
enum newton_rule {
    /* glm.fit(): the solution of X'WX b = X'Wz is the next iterate; while
     * the deviance is not finite it is halved toward the previous iterate
     * (at most maxit times, never on the first iteration) and the fit has
     * reached the boundary. */
    NEWTON_IRLS = 0,
    /* The solution is a step, halved (at most NEWTON_MAX_HALVINGS times)
     * until the objective is finite and grew by at most 1e-12 of itself;
     * failing that, the smallest step is kept. */
    NEWTON_DAMPED_KEEP = 1,
    /* The solution is a step, halved until the objective is finite and its
     * relative growth is below the convergence tolerance (at least 1e-12);
     * failing that, the fit fails at the previous coefficients. */
    NEWTON_DAMPED_FAIL = 2
};

/* A column is aliased when its squared residual on the earlier kept
 * columns, from the Cholesky of the system, is below NEWTON_ALIAS_TOL of its
 * squared norm: the normal equations resolve no finer.  Where the fitter
 * recomputes that residual from the rows (newton_problem's resid), a
 * column below it is aliased only when a QR of the rows would alias it:
 * when the residual is below NEWTON_QR_TOL of the norm (dqrdc2's tol in
 * lm.fit(), and in glm.fit() for epsilon >= 1e-4; see DEVELOPERS.md). */
#define NEWTON_ALIAS_TOL 1e-10
#define NEWTON_QR_TOL 1e-7
#define NEWTON_MAX_HALVINGS 30

/* A system whose equilibrated reciprocal condition number (LAPACK's
 * dpocon on D^-1/2 H D^-1/2, D = diag(H)) is below NEWTON_REFINE_RCOND
 * loses more digits in the normal equations than a QR of the rows would:
 * its solution is refined (at most NEWTON_MAX_REFINE times) with
 * residuals recomputed from the rows, newton_problem's refine. */
#define NEWTON_REFINE_RCOND 1e-4
#define NEWTON_MAX_REFINE 10

/* The weighted sum of squares of column j of the aliasing system's design
 * less the columns k with coefficients b[k] (zero but on kept columns
 * before j), computed from the rows; *norm2 receives that of column j
 * itself.  Must not call R. */
typedef double (*newton_resid_fn)(void *ctx, int j, const double *b, double *norm2);

/* A model to fit: its objective and system as callbacks on ctx. */
typedef struct {
    int q;    /* coefficients */
    int rule; /* enum newton_rule */
    /* The objective at beta (q; NaN where aliased), as the convergence test
     * compares it: the deviance, plus the ridge penalty for damped rules. */
    double (*objective)(void *ctx, const double *beta);
    /* H (q x q, both triangles) and g (q), unpenalized, at the beta of the
     * last objective() call (or at the start): for NEWTON_IRLS X'WX and
     * X'Wz, otherwise the information and the score.  Must not call R. */
    void (*system)(void *ctx, double *H, double *g);
    void *ctx;
    /* Ridge penalty of coefficient e: penalty[e % npenalty], or NULL. */
    const double *penalty;
    int npenalty;
    int maxit;
    double epsilon;
    /* The scale of the objective, newton_weight_scale() of the prior
     * weights: the convergence and step tests compare objective / scale, so
     * that the iterations do not depend on the scale of the weights. */
    double scale;
    void (*interrupt)(void); /* once per iteration, or NULL */
    /* The residuals of the aliasing system's design from its rows, or
     * NULL to alias on the system alone. */
    newton_resid_fn resid;
    /* Columns are aliased on the first system (alias_p = 0), or on the
     * alias_p x alias_p matrix that alias_system() fills (unpenalized),
     * coefficient e then following column e % alias_p (the multinomial's
     * blocks of one design). */
    int alias_p;
    void (*alias_system)(void *ctx, double *A);
    /* r (q) = g - H x, unpenalized, for the last system with g and H
     * recomputed from the rows so that r does not cancel (NEWTON_IRLS: x
     * is the solution; else x is the step), or NULL: no refinement.  Must
     * not call R. */
    void (*refine)(void *ctx, const double *x, double *r);
} newton_problem;

int chol_alias(double *A, int p, int *aliased, double tol, newton_resid_fn resid,
               void *ctx, int *rescued, double *b);
int chol_solve_kept(const double *A, int p, const int *aliased,
                    const double *b, double *x, double *work);
void chol_resolve_kept(double *work, int p, const int *aliased, const double *b,
                       double *x);
double chol_rcond(const double *A, int p, const int *aliased, const double *factor,
                  double *work, int *iwork);

void newton_penalize(double *H, double *g, const double *beta, int q,
                     const double *penalty, int npenalty);
double newton_penalty(const double *beta, int q, const double *penalty,
                      int npenalty);

double newton_weight_scale(const double *w, cl_len n);

size_t newton_work_size(int q);
void newton_fit(const newton_problem *pb, double objective_start, double *beta,
                int *aliased, newton_info *info, double *work);

#endif
