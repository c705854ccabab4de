#ifndef CAUSALLIB_ARGS_H
#define CAUSALLIB_ARGS_H

/* The one layer that reads .Call arguments: every SEXP an entry point
 * (ffi.c) receives is read and checked here, and handed on as typed C.
 * User-facing checks live in R, so reaching one of these errors means an
 * internal bug: the message says which argument was wrong and R stops
 * cleanly.  The only header of the package that includes R's. */

#define R_NO_REMAP
#include <Rinternals.h>
#include "design.h"
#include "glm.h"
#include "weights.h"
#include "person-time.h"
#include "bootstrap.h"

/* Shapes.  A plain vector counts as one column. */
cl_len arg_nrow(SEXP x);
int arg_ncol(SEXP x);
/* a * b, or an error when the product exceeds R's longest vector. */
cl_len arg_mul(cl_len a, cl_len b, const char *what);
/* v as an int (a matrix dimension), or an error when it does not fit. */
int arg_int_dim(cl_len v, const char *what);

/* Vectors of type double or integer and length len (len < 0: any). */
const double *arg_double(SEXP x, const char *arg, cl_len len);
const int *arg_int(SEXP x, const char *arg, cl_len len);
/* The same, every value finite; or NULL for R's NULL. */
const double *arg_finite(SEXP x, const char *arg, cl_len len);
const double *arg_finite_or_null(SEXP x, const char *arg, cl_len len);
/* Finite and non-negative; with positive_sum, summing to more than 0. */
const double *arg_weights(SEXP x, const char *arg, cl_len len, int positive_sum);
const double *arg_weights_or_null(SEXP x, const char *arg, cl_len len);
/* The error of the finite checks, for kernels that check in their pass. */
NORET void arg_abort_nonfinite(const char *arg);

/* Codes 1..K of an integer vector of length n (R's factor codes, as
 * as.integer() of a factor gives them), returned 0-based in R_alloc()
 * memory: the one range check for treatment arms, strata, groups and
 * rows.  Every entry point takes codes from R in this one base. */
int *arg_codes(SEXP a, const char *arg, cl_len n, int K);
/* Rows 1..n, 0-based; with ascending, strictly increasing. */
int *arg_rows(SEXP rows, const char *arg, int n, int ascending);
/* Bootstrap frequency counts: an integer n x R matrix of non-negative
 * counts whose columns are resamples of the n units (each sums to n). */
const int *arg_counts(SEXP counts, cl_len n, int *R);

/* Scalars. */
int arg_scalar_int(SEXP x, const char *arg, int lo, int hi);
double arg_scalar_double(SEXP x, const char *arg);
int arg_flag(SEXP x, const char *arg);
int arg_nthreads(SEXP x);

/* A design and an intercept flag as a cp_design (p = its columns + 1 with an
 * intercept): a double matrix, or a design list list(columns, level, n)
 * whose columns are read in place (double vectors, NULL for ones, factor
 * codes with the level of their indicator; see args.c), checked before the
 * columns are allocated.  arg_design() checks that the doubles are finite;
 * arg_design_unchecked() leaves that to kernels that check the rows they
 * read (cp_nonfinite) and then call arg_abort_nonfinite().  Rows are at
 * most INT_MAX (as in any matrix or data frame) and rows x columns at most
 * R's longest vector, so work sizes of a few such products fit size_t. */
cp_design arg_design(SEXP X, int intercept, const char *arg);
cp_design arg_design_unchecked(SEXP X, int intercept, const char *arg);
/* The shifts of a design d read centred (cp_center_plan()), as a fitter
 * returned them: NULL (none) or d->p finite doubles, set as d->center. */
void arg_center(SEXP center, cp_design *d, const char *arg);
/* A list of K finite designs with the dimensions of like. */
cp_design *arg_designs(SEXP list, int intercept, const cp_design *like, int K,
                       const char *arg);

/* A GLM specification: maxit (1..100000), epsilon (finite, > 0), penalty
 * (NULL, or p finite values >= 0); nthreads as given, no interrupt. */
glm_spec arg_glm_spec(int family, SEXP maxit, SEXP epsilon, SEXP penalty, int p,
                      int nthreads);
/* The same from list(family, maxit, epsilon, penalty), one thread. */
glm_spec arg_glm_spec_list(SEXP spec, int p, const char *arg);
/* IP weight options: the estimand's code, target level 1..K (returned
 * 0-based), clip double(2) with 0 <= clip[0] < clip[1] <= 1, truncate
 * double(1) in (0, 1] or NA. */
ipw_opts arg_ipw_opts(int estimand, SEXP target, SEXP clip, SEXP truncate, int K);
/* The treatment codes a (1..K, returned 0-based), K (2..10000) and sampling
 * weights sw (finite, >= 0, positive sum) of a bootstrap whose design is
 * already in d->x. */
void arg_boot_arms(boot_data *d, SEXP a, SEXP K, SEXP sw);
/* The element `name` of the list x (an error when there is none). */
SEXP arg_elt(SEXP x, const char *name, const char *arg);
/* K offsets: NULL (none), or a list of K elements each NULL or a finite
 * double(n); R_alloc() memory. */
const double *const *arg_offsets(SEXP list, cl_len n, int K, const char *arg);
/* The weight model of a bootstrap: list(X (n x q double finite), intercept,
 * offset (NULL or double(n); NULL with K > 2), sw (double(n)), maxit,
 * epsilon, penalty (NULL or double(p)), estimand (0..3), target (1..K),
 * clip (double(2)), truncate (double(1) or NA), stabilize (lgl)) with the
 * treatment codes a (1..K) and K, read into d and o; returns stabilize. */
int arg_boot_weight_model(SEXP wm, SEXP a, SEXP K, boot_data *d, ipw_opts *o);
/* A pooled-logistic model of the survival bootstrap on n persons and the
 * period terms F (q columns): list(X (n x p0 double finite), intercept,
 * offset (NULL or double(n)), penalty (NULL or double(P)), maxit, epsilon),
 * P its coefficients with interact and K arms.  d receives the person
 * design, to which the model points. */
surv_pt arg_surv_pt(SEXP spec, cl_len n, const double *F, int q, int interact, int K,
                    cp_design *d, const char *arg);
/* Persons' linear predictors lp (a finite n x K double matrix, K >= 1) and
 * weights w (n, >= 0, positive sum): returns K, sets *n and *wt. */
int arg_lp_weights(SEXP lp, SEXP w, cl_len *n, const double **wt);
/* Person-time data of n persons and Tmax periods (see person-time.h). */
pt_data arg_pt_data(SEXP arm, SEXP K, SEXP last, SEXP status, SEXP w, SEXP cens,
                    cl_len n, int Tmax);

#endif
