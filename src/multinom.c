/*
 * Multinomial logistic regression (baseline-category logits, first level as
 * reference) by Newton-Raphson on the full ((K-1)p)-square Hessian, whose
 * blocks X' diag(prior * P_k (delta_kl - P_l)) X come from the blocked
 * cross-product kernel.  Convergence uses glm()'s relative deviance rule;
 * a step that does not lower the deviance is halved.  Columns aliased on
 * X' diag(prior) X (with their residuals recomputed from the rows, as a QR
 * of the rows aliases them) are aliased in every block, as nnet::multinom
 * would leave them unidentified.  Ill-conditioned steps are refined with
 * H x recomputed from the rows.  The iterations are newton.c's, under its
 * NEWTON_DAMPED_KEEP rule.  Plain C: calls newton.c and design.c.
 */
#include <math.h>
#include <string.h>
#include "multinom.h"

/*
 * Inputs:  d (n x p), B (p x (K-1) coefficients of levels 2..K; NaN
 *          coefficients contribute nothing).
 * Output:  P (n x K) fitted probabilities.
 */
void multinom_probs(const cp_design *d, int K, const double *B, double *P)
{
    cl_len n = d->n;
    for (cl_len i = 0; i < n; i++) P[i] = 0.0;
    /* The linear predictors, written in place. */
    for (int k = 1; k < K; k++) cp_xbeta(d, B + (size_t) (k - 1) * d->p, NULL, P + (size_t) k * n);
    for (cl_len i = 0; i < n; i++) {
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

/* -2 log-likelihood of the levels a (n, 0..K-1) at the probabilities P
 * (n x K), weighted by prior (n or NULL). */
static double multinom_deviance(const double *P, cl_len n, const int *a,
                                const double *prior)
{
    double dev = 0.0;
    for (cl_len i = 0; i < n; i++) {
        double w = prior ? prior[i] : 1.0;
        if (w > 0) dev -= 2.0 * w * log(P[(size_t) a[i] * n + i]);
    }
    return dev;
}

/* The model of multinom_newton() for newton_fit(). */
typedef struct {
    const cp_design *d;
    const int *a;
    int K, nthreads;
    const double *prior, *penalty;
    double *P;
    double *R, *w, *blk, *cp_work, *xm_work; /* system work */
    double *E; /* n x (K-1): the refinement's X d, then its residuals */
} mn_model;

/* Doubles of work for multinom_newton(), q = (K - 1) p: the score
 * multipliers R (n x (K-1)), the weights of a Hessian block (n), one block
 * (p x p), Newton's work, the cross-product kernels' work (or the
 * centring plan's, if more), the refinement's n x (K-1), and the shifts. */
size_t multinom_work_size(cl_len n, int p, int K, int nthreads)
{
    int q = (K - 1) * p;
    size_t xm = xt_mat_work_size(n, p, K - 1, nthreads), plan = cp_center_work_size(n, p, nthreads);
    return (size_t) n * (K - 1) + (size_t) n + (size_t) p * p + newton_work_size(q) +
           wcrossprod_work_size(n, p, nthreads) + (xm > plan ? xm : plan) +
           (size_t) n * (K - 1) + (size_t) p;
}

const double *multinom_center(const double *work, cl_len n, int p, int K, int nthreads)
{
    return work + multinom_work_size(n, p, K, nthreads) - p;
}

/* The penalized deviance at B (q), leaving the probabilities in P. */
static double mn_objective(void *ctx, const double *B)
{
    mn_model *m = ctx;
    int q = (m->K - 1) * m->d->p;
    multinom_probs(m->d, m->K, B, m->P);
    return multinom_deviance(m->P, m->d->n, m->a, m->prior) +
           newton_penalty(B, q, m->penalty, m->d->p);
}

/* H (q x q) = negative Hessian of the log-likelihood, g (q) = its gradient,
 * at the probabilities P of the last objective; blocks follow the columns
 * of B. */
static void mn_system(void *ctx, double *H, double *g)
{
    const mn_model *m = ctx;
    const cp_design *d = m->d;
    const cl_len n = d->n;
    const int p = d->p, km = m->K - 1;
    const size_t q = (size_t) km * p;
    const double *P = m->P, *prior = m->prior;
    for (int k = 0; k < km; k++) {
        const double *pk = P + (size_t) (k + 1) * n;
        for (cl_len i = 0; i < n; i++) {
            double pw = prior ? prior[i] : 1.0;
            m->R[(size_t) k * n + i] = pw * ((m->a[i] == k + 1) - pk[i]);
        }
    }
    xt_mat(d, m->R, km, g, m->nthreads, m->xm_work);
    for (int k = 0; k < km; k++) {
        const double *pk = P + (size_t) (k + 1) * n;
        for (int l = k; l < km; l++) {
            const double *pl = P + (size_t) (l + 1) * n;
            for (cl_len i = 0; i < n; i++) {
                double pw = prior ? prior[i] : 1.0;
                m->w[i] = pw * pk[i] * ((k == l) - pl[i]);
            }
            wcrossprod(d, m->w, m->blk, m->nthreads, m->cp_work);
            for (int j = 0; j < p; j++)
                for (int c = 0; c < p; c++) {
                    double v = m->blk[(size_t) c * p + j];
                    H[((size_t) l * p + c) * q + (size_t) k * p + j] = v;
                    H[((size_t) k * p + j) * q + (size_t) l * p + c] = v;
                }
        }
    }
}

/* The design system to alias on: X' diag(prior) X. */
static void mn_alias_system(void *ctx, double *A)
{
    const mn_model *m = ctx;
    wcrossprod(m->d, m->prior, A, m->nthreads, m->cp_work);
}

/* newton_resid_fn on X' diag(prior) X: the column's residual from the rows,
 * with the prior weights (those of glm()'s first iteration of each level
 * against the reference, up to a constant). */
static double mn_resid(void *ctx, int j, const double *b, double *norm2)
{
    const mn_model *m = ctx;
    return cp_residual_ss(m->d, m->prior, j, b, norm2, m->nthreads, m->cp_work);
}

/* newton_problem's refine: r = g - H x for the step x (q) from the rows,
 * X' (R - V) with V_ik = prior_i P_ik (e_ik - sum_l P_il e_il), e_i = the
 * linear predictors of x at row i, at the probabilities and score
 * multipliers R of the last system. */
static void mn_refine(void *ctx, const double *x, double *r)
{
    const mn_model *m = ctx;
    const cp_design *d = m->d;
    const cl_len n = d->n;
    const int km = m->K - 1;
    for (int k = 0; k < km; k++) cp_xbeta(d, x + (size_t) k * d->p, NULL, m->E + (size_t) k * n);
    for (cl_len i = 0; i < n; i++) {
        double pw = m->prior ? m->prior[i] : 1.0, s = 0.0;
        for (int l = 0; l < km; l++) s += m->P[(size_t) (l + 1) * n + i] * m->E[(size_t) l * n + i];
        for (int k = 0; k < km; k++) {
            size_t e = (size_t) k * n + i;
            m->E[e] = m->R[e] - pw * m->P[(size_t) (k + 1) * n + i] * (m->E[e] - s);
        }
    }
    xt_mat(d, m->E, km, r, m->nthreads, m->xm_work);
}

/* Newton's method on the design d as it is read (shifted or not). */
static void mn_fit(const cp_design *d, const int *a, int K, const double *prior,
                   const glm_spec *spec, double *B, double *P, int *aliased,
                   newton_info *info, double *work, int *iwork)
{
    const cl_len n = d->n;
    const int p = d->p, km = K - 1, q = km * p;
    mn_model m = {.d = d, .a = a, .K = K, .nthreads = spec->nthreads, .prior = prior,
                  .penalty = spec->penalty, .P = P};
    m.R = work;
    m.w = m.R + (size_t) n * km;
    m.blk = m.w + n;
    double *newton_work = m.blk + (size_t) p * p;
    m.cp_work = newton_work + newton_work_size(q);
    m.xm_work = m.cp_work + wcrossprod_work_size(n, p, spec->nthreads);
    size_t xm = xt_mat_work_size(n, p, km, spec->nthreads),
           plan = cp_center_work_size(n, p, spec->nthreads);
    m.E = m.xm_work + (xm > plan ? xm : plan);
    int *qaliased = iwork;
    newton_problem pb = {
        .q = q, .rule = NEWTON_DAMPED_KEEP, .objective = mn_objective,
        .system = mn_system, .ctx = &m, .penalty = spec->penalty, .npenalty = p,
        .maxit = spec->maxit, .epsilon = spec->epsilon,
        .scale = newton_weight_scale(prior, n), .interrupt = spec->interrupt,
        .resid = mn_resid, .alias_p = p, .alias_system = mn_alias_system,
        .refine = mn_refine
    };

    memset(info, 0, sizeof(*info));
    info->anchor = -1;
    for (int e = 0; e < q; e++) B[e] = 0.0;
    newton_fit(&pb, mn_objective(&m, B), B, qaliased, info, newton_work);
    for (int j = 0; j < p; j++) aliased[j] = qaliased[j];
}

/*
 * Inputs:  d (the n x p design), a (n, levels coded 0..K-1), K >= 2,
 *          prior (n or NULL), spec (family ignored).
 * Outputs: B (p x (K-1), NaN where aliased), P (n x K fitted probabilities),
 *          aliased (p), info (deviance is the penalized -2 log-likelihood).
 * Work:    multinom_work_size(n, p, K, spec->nthreads) doubles and
 *          (K-1) * p ints in iwork; when info->anchor >= 0 the fit ran on
 *          the design shifted by multinom_center() of the work.
 * Columns are aliased once, on X' diag(prior) X + diag(penalty), of the
 * design shifted by cp_center_plan() (see glm_irls()); B is for the design
 * as given.
 */
void multinom_newton(const cp_design *d, const int *a, int K,
                     const double *prior, const glm_spec *spec, double *B,
                     double *P, int *aliased, newton_info *info, double *work,
                     int *iwork)
{
    const int p = d->p;
    double *center = work + multinom_work_size(d->n, p, K, spec->nthreads) - p;
    /* The plan's work: the cross-product kernels' part of the work. */
    double *plan_work = work + (size_t) d->n * (K - 1) + (size_t) d->n + (size_t) p * p +
                        newton_work_size((K - 1) * p) + wcrossprod_work_size(d->n, p, spec->nthreads);
    cp_design z = *d;
    int anchor = cp_center_plan(d, spec->penalty, center, spec->nthreads, plan_work);
    if (anchor >= 0) z.center = center;
    mn_fit(&z, a, K, prior, spec, B, P, aliased, info, work, iwork);
    if (anchor >= 0 && aliased[anchor]) {
        z.center = NULL;
        anchor = -1;
        mn_fit(&z, a, K, prior, spec, B, P, aliased, info, work, iwork);
    }
    if (anchor >= 0)
        for (int k = 0; k < K - 1; k++) cp_uncenter(B + (size_t) k * p, p, center, anchor);
    info->anchor = anchor;
}
