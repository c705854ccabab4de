/*
 * Generalized linear models by iteratively reweighted least squares, the
 * algorithm of stats::glm.fit(): same starting values, same working weights,
 * same convergence rule |dev - dev_old| / (|dev| + 0.1) < epsilon (both
 * taken with the prior weights divided by their mean, so that the fit does
 * not depend on their scale; the same as glm() for weights of mean 1), the
 * same step-halving when the deviance is not finite (newton.c's NEWTON_IRLS
 * rule).  Each pass over X gives the deviance at the current coefficients
 * and the next weighted least-squares system X'WX b = X'Wz, from the cache-
 * blocked cross-product kernels of design.c.
 *
 * Columns that are linearly dependent on earlier columns are aliased once,
 * on the first iteration's X'WX, and get NaN coefficients (NA in R), as
 * glm() does.  Plain C: calls newton.c and design.c.
 */
#include <math.h>
#include <string.h>
#include <float.h>
#include "glm.h"

#define THRESH 30.0
#define MTHRESH -30.0
#define INVEPS (1.0 / DBL_EPSILON)

/* The mean at linear predictor eta, as family$linkinv. */
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

/* d mu / d eta at eta, as family$mu.eta. */
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

/* The variance function at mu, as family$variance. */
double glm_variance(int family, double mu)
{
    switch (family) {
    case GLM_BINOMIAL: return mu * (1.0 - mu);
    case GLM_POISSON: return mu;
    default: return 1.0;
    }
}

/* The linear predictor at mean mu, as family$linkfun. */
static double linkfun(int family, double mu)
{
    switch (family) {
    case GLM_BINOMIAL: return log(mu / (1.0 - mu));
    case GLM_POISSON: return log(mu);
    default: return mu;
    }
}

/* y log(y / mu), 0 at y = 0. */
static double ylogy(double y, double mu)
{
    return y > 0 ? y * log(y / mu) : 0.0;
}

/* A unit's deviance residual, as family$dev.resids. */
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

/* A unit's starting mean, as family$initialize with prior weight wt.
 * glm()'s binomial start treats wt as a number of trials, so that weights
 * times 1000 start next to the data and diverge; glm_irls() passes weights
 * divided by their mean (newton_weight_scale()), which start every fit
 * where glm() starts it with weights of mean 1. */
static double mu_start(int family, double y, double wt)
{
    switch (family) {
    case GLM_BINOMIAL: return (wt * y + 0.5) / (wt + 1.0);
    case GLM_POISSON: return y + 0.1;
    default: return y;
    }
}

/* A row's mean *m, working weight *w and working response *z at linear
 * predictor e (offset off, prior weight pw), as glm.fit() computes them
 * (w = z = 0 for a zero weight).  Returns 1 when the logistic shortcut was
 * taken: inside the thresholds of R's logit family mu.eta = variance =
 * mu (1 - mu), so one exp, one log and one division per row give the
 * working weight prior * mu.eta. */
static inline int irls_row(int fam, double y, double pw, double e, double off,
                           double *m, double *w, double *z)
{
    *w = 0.0;
    *z = 0.0;
    if (fam == GLM_BINOMIAL && fabs(e) <= THRESH) {
        double t = exp(e);
        *m = t / (1.0 + t);
        double me = *m * (1.0 - *m);
        if (pw > 0) {
            *z = (e - off) + (y - *m) / me;
            *w = pw * me;
        }
        return 1;
    }
    *m = glm_linkinv(fam, e);
    double me = glm_mu_eta(fam, e);
    if (pw > 0 && me != 0) {
        *z = (e - off) + (y - *m) / me;
        *w = pw * me * me / glm_variance(fam, *m);
    }
    return 0;
}

/* The IRLS system of a pass: X'WX (p x p), X'Wz (p), the deviance and the
 * number of row blocks with a non-finite value of X (first pass only). */
#define SYS_LEN(p) ((size_t) (p) * (p) + (p) + 2)
/* Scratch of one thread in a pass: cached rows, weighted rows, z, w. */
#define PASS_SCRATCH(p) ((2 * (size_t) (p) + 2) * CP_BLOCK_ROWS)

/* Doubles of work for irls_pass(). */
static size_t pass_work_size(cl_len n, int p, int nthreads)
{
    cl_len nchunk = cp_chunks(n, p, p);
    return cp_reduce_work_size(nchunk, nthreads, SYS_LEN(p),
                               PASS_SCRATCH(p));
}

/* Doubles of work for glm_irls(): the pass's system, the design's shifts,
 * the coefficients of a pass, Newton's work, and the pass's reduction (or
 * the centring plan's work, if more). */
size_t glm_work_size(cl_len n, int p, int nthreads)
{
    size_t pass = pass_work_size(n, p, nthreads), plan = cp_center_work_size(n, p, nthreads);
    return SYS_LEN(p) + 2 * (size_t) p + newton_work_size(p) + (pass > plan ? pass : plan);
}

const double *glm_irls_center(const double *work, int p)
{
    return work + SYS_LEN(p);
}

typedef struct {
    const cp_design *d;
    const double *beta, *y, *prior, *offset;
    int fam;
    double scale; /* of the prior weights, for the starting values */
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

/* Rows [from, to): eta, mu and the deviance at beta (aliased coefficients as 0;
 * beta NULL: at glm()'s starting values, also checking that X is finite),
 * and this chunk's part of the next IRLS system (see SYS_LEN). */
static void pass_chunk(const void *ctx_, cl_len from, cl_len to, double *sys,
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
    for (cl_len r0 = from; r0 < to; r0 += CP_BLOCK_ROWS) {
        int len = (int) ((to - r0) < CP_BLOCK_ROWS ? (to - r0) : CP_BLOCK_ROWS);
        double *e = eta + r0, *m = mu + r0;
        cp_copy_rows(ctx->d, r0, len, xb);
        if (beta) {
            block_eta(xb, len, p, beta, offset ? offset + r0 : NULL, e);
        } else {
            bad += cp_nonfinite(xb, (size_t) len * p);
            /* glm.fit() starts from eta = linkfun(mustart), without offset. */
            for (int i = 0; i < len; i++)
                e[i] = linkfun(fam, mu_start(fam, y[r0 + i],
                                             prior ? prior[r0 + i] / ctx->scale : 1.0));
        }
        for (int i = 0; i < len; i++) {
            cl_len ii = r0 + i;
            double pw = prior ? prior[ii] : 1.0;
            double off = offset ? offset[ii] : 0.0;
            if (irls_row(fam, y[ii], pw, e[i], off, m + i, bw + i, bz + i) &&
                (y[ii] == 0.0 || y[ii] == 1.0))
                dev += -2.0 * pw * log(y[ii] == 1.0 ? m[i] : 1.0 - m[i]);
            else
                dev += dev_resid(fam, y[ii], m[i], pw);
        }
        cp_block_scale(xb, bw, len, p, wb);
        cp_block_xtv(wb, bz, len, p, b);
        cp_block_upper(xb, wb, len, p, A);
    }
    sys[(size_t) p * p + p] = dev;
    sys[(size_t) p * p + p + 1] = bad;
}

/* One pass over X at coefficients beta (NULL: at the starting values of
 * prior weights divided by scale): fills eta, mu and sys = (X'WX, X'Wz,
 * deviance) of the next IRLS step, X'WX with both triangles. */
static void irls_pass(const cp_design *d, const double *beta,
                      const double *y, const double *prior, const double *offset,
                      int fam, double scale, int nthreads, double *eta, double *mu,
                      double *sys, double *work)
{
    cl_len n = d->n;
    int p = d->p;
    cl_len nchunk = cp_chunks(n, p, p);
    pass_ctx ctx = {d, beta, y, prior, offset, fam, scale, eta, mu};
    cp_reduce(n, nchunk, nthreads, SYS_LEN(p),
              PASS_SCRATCH(p), pass_chunk, &ctx, sys, work);
    cp_symmetrize(sys, p);
}

/*
 * Inputs:  d (n x p), beta (p; NaN coefficients are skipped), offset (n or
 *          NULL), family.
 * Outputs: eta (n) = offset + X beta, mu (n) = linkinv(eta).
 */
void glm_predict(const cp_design *d, const double *beta, const double *offset,
                 int family, double *eta, double *mu)
{
    cp_xbeta(d, beta, offset, eta);
    for (cl_len i = 0; i < d->n; i++) mu[i] = glm_linkinv(family, eta[i]);
}

/* The model of glm_irls() for newton_fit(). */
typedef struct {
    const cp_design *d;
    const double *y, *prior, *offset;
    const int *aliased;
    int fam, nthreads;
    double *eta, *mu, *sys, *beta_lin, *pass_work;
} irls_model;

/* The deviance at beta, from one pass that also leaves the next system in
 * sys (aliased coefficients count as 0). */
static double irls_objective(void *ctx, const double *beta)
{
    irls_model *m = ctx;
    int p = m->d->p;
    for (int j = 0; j < p; j++) m->beta_lin[j] = m->aliased[j] ? 0.0 : beta[j];
    irls_pass(m->d, m->beta_lin, m->y, m->prior, m->offset, m->fam, 1.0, m->nthreads,
              m->eta, m->mu, m->sys, m->pass_work);
    return m->sys[(size_t) p * p + p];
}

/* newton_resid_fn for the first system, whose weights are those of glm()'s
 * starting values: recomputed from its linear predictors (still in eta) into
 * mu, which the next pass overwrites, as pass_chunk() computes them. */
static double irls_resid(void *ctx, int j, const double *b, double *norm2)
{
    irls_model *m = ctx;
    const cp_design *d = m->d;
    for (cl_len i = 0; i < d->n; i++) {
        double pw = m->prior ? m->prior[i] : 1.0, mu, z;
        irls_row(m->fam, m->y[i], pw, m->eta[i], 0.0, &mu, m->mu + i, &z);
    }
    return cp_residual_ss(d, m->mu, j, b, norm2, m->nthreads, m->pass_work);
}

typedef struct {
    const irls_model *m;
    const double *x; /* the solution, NaN as 0 */
} refine_ctx;

/* Rows [from, to): acc (p) = X'W (z - X x) over them, z and W those of the
 * last pass (recomputed from its linear predictors; a cp_chunk_fn). */
static void refine_chunk(const void *ctx_, cl_len from, cl_len to, double *acc,
                         double *scratch)
{
    const refine_ctx *ctx = ctx_;
    const irls_model *m = ctx->m;
    const int p = m->d->p;
    double *xb = scratch, *xe = xb + (size_t) CP_BLOCK_ROWS * p, *v = xe + CP_BLOCK_ROWS;
    memset(acc, 0, sizeof(double) * p);
    for (cl_len r0 = from; r0 < to; r0 += CP_BLOCK_ROWS) {
        int len = (int) ((to - r0) < CP_BLOCK_ROWS ? (to - r0) : CP_BLOCK_ROWS);
        cp_copy_rows(m->d, r0, len, xb);
        block_eta(xb, len, p, ctx->x, NULL, xe);
        for (int i = 0; i < len; i++) {
            cl_len ii = r0 + i;
            double pw = m->prior ? m->prior[ii] : 1.0, mu, w, z;
            irls_row(m->fam, m->y[ii], pw, m->eta[ii], m->offset ? m->offset[ii] : 0.0,
                     &mu, &w, &z);
            v[i] = w * (z - xe[i]);
        }
        cp_block_xtv(xb, v, len, p, acc);
    }
}

/* newton_problem's refine: r = X'Wz - X'WX x from the rows. */
static void irls_refine(void *ctx, const double *x, double *r)
{
    irls_model *m = ctx;
    const cp_design *d = m->d;
    for (int j = 0; j < d->p; j++) m->beta_lin[j] = isnan(x[j]) ? 0.0 : x[j];
    refine_ctx rc = {m, m->beta_lin};
    cp_reduce(d->n, cp_chunks(d->n, d->p, d->p), m->nthreads, (size_t) d->p,
              (size_t) CP_BLOCK_ROWS * (d->p + 2), refine_chunk, &rc, r, m->pass_work);
}

/* X'WX and X'Wz of the last pass. */
static void irls_system(void *ctx, double *H, double *g)
{
    const irls_model *m = ctx;
    size_t pp = (size_t) m->d->p * m->d->p;
    memcpy(H, m->sys, sizeof(double) * pp);
    memcpy(g, m->sys + pp, sizeof(double) * m->d->p);
}

/* IRLS on the design d as it is read (shifted or not). */
static void irls_fit(const cp_design *d, const double *y, const double *prior,
                     const double *offset, const glm_spec *spec, double *beta,
                     double *eta, double *mu, int *aliased, newton_info *info,
                     double *sys, double *beta_lin, double *newton_work,
                     double *pass_work)
{
    const int p = d->p;
    size_t pp = (size_t) p * p;
    irls_model m = {d, y, prior, offset, aliased, spec->family, spec->nthreads,
                    eta, mu, sys, beta_lin, pass_work};
    newton_problem pb = {
        .q = p, .rule = NEWTON_IRLS, .objective = irls_objective,
        .system = irls_system, .ctx = &m, .penalty = spec->penalty, .npenalty = p,
        .maxit = spec->maxit, .epsilon = spec->epsilon,
        .scale = newton_weight_scale(prior, d->n), .interrupt = spec->interrupt,
        .resid = irls_resid, .refine = irls_refine
    };

    memset(info, 0, sizeof(*info));
    info->anchor = -1;
    /* The first system comes from glm()'s starting values mustart. */
    irls_pass(d, NULL, y, prior, offset, spec->family, pb.scale, spec->nthreads, eta, mu,
              sys, pass_work);
    if (sys[pp + p + 1] > 0) {
        info->nonfinite = 1;
        info->failed = 1;
        return;
    }
    newton_fit(&pb, sys[pp + p], beta, aliased, info, newton_work);
}

/*
 * Inputs:  d (the n x p design), y (n), prior (n prior weights, or NULL),
 *          offset (n, or NULL), spec.
 * Outputs: beta (p; NaN where aliased), eta, mu (n), aliased (p), info
 *          (info->nonfinite, and nothing else, when X is not finite).
 * Work:    glm_work_size(n, p, spec->nthreads) doubles; on return its
 *          first p * p hold X'WX at the final coefficients, of X shifted by
 *          glm_irls_center(work, p) when info->anchor >= 0.
 * The fit runs on the design shifted by cp_center_plan() (or as it is when
 * that finds nothing to shift, or when the anchor is itself aliased) and
 * returns beta for the design as given.  The penalty keeps its meaning: the
 * anchor is unpenalized and the other coefficients do not change.
 * The fit does not depend on the scale of prior (starting values and
 * convergence test on prior / its mean); the deviance and X'WX are on the
 * scale of prior, as glm() reports them.
 * Uses no R API but spec->interrupt, so it may run inside an OpenMP region
 * with nthreads = 1 and no interrupt.
 */
void glm_irls(const cp_design *d, const double *y,
              const double *prior, const double *offset, const glm_spec *spec,
              double *beta, double *eta, double *mu, int *aliased,
              newton_info *info, double *work)
{
    const int p = d->p;
    double *sys = work, *center = sys + SYS_LEN(p), *beta_lin = center + p;
    double *newton_work = beta_lin + p, *pass_work = newton_work + newton_work_size(p);
    cp_design z = *d;
    int anchor = cp_center_plan(d, spec->penalty, center, spec->nthreads, pass_work);
    if (anchor >= 0) z.center = center;
    irls_fit(&z, y, prior, offset, spec, beta, eta, mu, aliased, info, sys, beta_lin,
             newton_work, pass_work);
    if (anchor >= 0 && aliased[anchor] && !info->failed) {
        z.center = NULL;
        anchor = -1;
        irls_fit(&z, y, prior, offset, spec, beta, eta, mu, aliased, info, sys, beta_lin,
                 newton_work, pass_work);
    }
    if (anchor >= 0 && !info->failed) cp_uncenter(beta, p, center, anchor);
    info->anchor = info->failed ? -1 : anchor;
}
