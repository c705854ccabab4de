#ifndef CAUSALLIB_GLM_H
#define CAUSALLIB_GLM_H

#include <stddef.h>
#define R_NO_REMAP
#include <Rinternals.h>
#include "crossprod.h"

enum glm_family { GLM_GAUSSIAN = 0, GLM_BINOMIAL = 1, GLM_POISSON = 2 };

typedef struct {
    int family;        /* enum glm_family, canonical link */
    int maxit;         /* as glm.control(maxit) */
    double epsilon;    /* as glm.control(epsilon) */
    const double *penalty; /* p ridge penalties (0 for the intercept) or NULL */
    int nthreads;
    /* Called once per iteration (R_CheckUserInterrupt), or NULL where no R
     * API may run: inside the bootstrap's parallel replicates. */
    void (*interrupt)(void);
} glm_spec;

typedef struct {
    int iter, converged, rank, boundary;
    int failed;    /* singular system, diverged, or a non-finite design */
    int nonfinite; /* the design has a missing or infinite value */
    double deviance;
} glm_info;

/* A glm_spec from .Call arguments (validated): maxit, epsilon, and a ridge
 * penalty of length p, with the family code and thread count given; no
 * interrupt check. */
glm_spec ffi_glm_spec(int family, SEXP maxit, SEXP epsilon, SEXP penalty, int p,
                      int nthreads);
size_t glm_work_size(R_xlen_t n, int p, int nthreads);
void glm_irls(const cp_design *d, const double *y,
              const double *prior, const double *offset, const glm_spec *spec,
              double *beta, double *eta, double *mu, int *aliased,
              glm_info *info, double *work);

/* eta = X beta + offset (NA coefficients skipped) and mu = linkinv(eta). */
void glm_predict(const cp_design *d, const double *beta, const double *offset,
                 int family, double *eta, double *mu);

/* Mean function and its derivative for the canonical links, as R's family
 * objects compute them (including their clamping). */
double glm_linkinv(int family, double eta);
double glm_mu_eta(int family, double eta);
double glm_variance(int family, double mu);

/* Sequential Cholesky that drops (aliases) columns whose residual variance
 * is negligible, as glm() aliases columns dependent on earlier ones. */
int chol_alias(double *A, int p, int *aliased, double tol);
int chol_solve_kept(const double *A, int p, const int *aliased,
                    const double *b, double *x, double *work);

#endif
