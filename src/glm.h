#ifndef CAUSALLIB_GLM_H
#define CAUSALLIB_GLM_H

/* Generalized linear models with canonical links.  Plain C (no R header);
 * calls newton.c and design.c. */

#include <stddef.h>
#include "design.h"
#include "newton.h"

enum glm_family { GLM_GAUSSIAN = 0, GLM_BINOMIAL = 1, GLM_POISSON = 2 };

/* How a model is fitted; multinom.c and person-time.c use it too (and
 * ignore family). */
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

size_t glm_work_size(cl_len n, int p, int nthreads);
void glm_irls(const cp_design *d, const double *y,
              const double *prior, const double *offset, const glm_spec *spec,
              double *beta, double *eta, double *mu, int *aliased,
              newton_info *info, double *work);
/* The p shifts of the design a glm_irls() fit with info->anchor >= 0 ran
 * on, in its work. */
const double *glm_irls_center(const double *work, int p);

/* eta = X beta + offset (NaN coefficients skipped) and mu = linkinv(eta). */
void glm_predict(const cp_design *d, const double *beta, const double *offset,
                 int family, double *eta, double *mu);

/* Mean function and its derivative for the canonical links, as R's family
 * objects compute them (including their clamping). */
double glm_linkinv(int family, double eta);
double glm_mu_eta(int family, double eta);
double glm_variance(int family, double mu);

#endif
