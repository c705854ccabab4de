/*
 * The .Call entry points, one per routine of init.c's table and nothing
 * else.  Each reads its arguments through args.c, allocates its outputs and
 * workspace (R_alloc, released when the call returns), calls the typed
 * kernels, and turns their NaN markers into R's NA.  No entry point
 * computes anything itself, and no kernel sees a SEXP.
 *
 * Each routine's comment lists its arguments, its value and its work;
 * routines that fit a model need at least one row.  A
 * design argument (X, Xw, Xo, the matrices of Xcf) described as an n x q
 * double matrix may also be a design list of n rows and q columns read in
 * place (arg_design() in args.c).
 */
#include <math.h>
#include <string.h>
#include <limits.h>
#include "aalen-johansen.h"
#include "args.h"
#include "bootstrap.h"
#include "km.h"
#include "matching.h"
#include "metrics.h"
#include "multinom.h"
#include "pooled-influence.h"
#include "sandwich.h"
#include "survival-curve.h"
#include "threads.h"
#include "treatment.h"

/* R_alloc() scratch of len doubles or ints (at least one). */
static double *doubles(size_t len)
{
    return (double *) R_alloc(len > 0 ? len : 1, sizeof(double));
}

static int *ints(size_t len)
{
    return (int *) R_alloc(len > 0 ? len : 1, sizeof(int));
}

/* The coefficients q = (K - 1) p of a model of K levels (K = 2: one linear
 * predictor) on p columns, after checking that its q x q system fits. */
static int coef_size(int p, int K)
{
    cl_len q = arg_mul(K - 1, p, "the coefficients");
    arg_mul(q, q, "the Newton system");
    return arg_int_dim(q, "the coefficients");
}

/* Errors unless a model has units to be fitted on. */
static void need_rows(cl_len n, const char *arg)
{
    if (n < 1) Rf_error("internal error: `%s` has no rows to fit", arg);
}

/* The kernels' interrupt hook, called outside parallel regions. */
static void check_interrupt(void)
{
    R_CheckUserInterrupt();
}

/* x[e] = NA where flag[e] (the kernels' NaN for an aliased coefficient). */
static void na_where(double *x, const int *flag, size_t len)
{
    for (size_t e = 0; e < len; e++) if (flag[e]) x[e] = NA_REAL;
}

/* out[at .. at + 5] = rank, iter, converged, deviance, boundary, failed. */
static void set_newton_info(SEXP out, int at, const newton_info *info)
{
    SET_VECTOR_ELT(out, at, Rf_ScalarInteger(info->rank));
    SET_VECTOR_ELT(out, at + 1, Rf_ScalarInteger(info->iter));
    SET_VECTOR_ELT(out, at + 2, Rf_ScalarLogical(info->converged));
    SET_VECTOR_ELT(out, at + 3, Rf_ScalarReal(info->deviance));
    SET_VECTOR_ELT(out, at + 4, Rf_ScalarLogical(info->boundary));
    SET_VECTOR_ELT(out, at + 5, Rf_ScalarLogical(info->failed));
}

/* The shifts a fit ran on (len doubles), or NULL when anchor < 0 (none). */
static SEXP centering(const double *center, int len, int anchor)
{
    if (anchor < 0) return R_NilValue;
    SEXP out = Rf_allocVector(REALSXP, len);
    memcpy(REAL(out), center, sizeof(double) * (size_t) len);
    return out;
}

/* list(a = x, b = y), x and y protected by the caller. */
static SEXP named_pair(const char *a, SEXP x, const char *b, SEXP y)
{
    const char *names[] = {a, b, ""};
    SEXP out = PROTECT(Rf_mkNamed(VECSXP, names));
    SET_VECTOR_ELT(out, 0, x);
    SET_VECTOR_ELT(out, 1, y);
    UNPROTECT(1);
    return out;
}

/* A logical vector from len int flags. */
static SEXP logicals(const int *flag, size_t len)
{
    SEXP out = Rf_allocVector(LGLSXP, (R_xlen_t) len);
    for (size_t e = 0; e < len; e++) LOGICAL(out)[e] = flag[e];
    return out;
}

/* ---- design.c ------------------------------------------------------------- */

/* ffi_wcrossprod(X n x q double finite, intercept lgl, center double(p) or
 *                NULL (X's shifts, see cp_center_plan()), w double(n) finite
 *                (of any sign: blocks of multinomial Hessians) or NULL,
 *                nthreads int)
 * -> p x p matrix X' diag(w) X, p = q + intercept, of X less its shifts.
 * Work: wcrossprod_work_size(n, p, nthreads) doubles.                       */
SEXP ffi_wcrossprod(SEXP X, SEXP intercept, SEXP center, SEXP w, SEXP nthreads)
{
    cp_design d = arg_design(X, arg_flag(intercept, "intercept"), "X");
    arg_center(center, &d, "center");
    int nt = arg_nthreads(nthreads);
    const double *wp = arg_finite_or_null(w, "w", d.n);
    arg_mul(d.p, d.p, "`X`'s cross-product");
    double *work = doubles(wcrossprod_work_size(d.n, d.p, nt));

    int nprot = 0;
    SEXP out = PROTECT(Rf_allocMatrix(REALSXP, d.p, d.p)); nprot++;
    wcrossprod(&d, wp, REAL(out), nt, work);
    UNPROTECT(nprot);
    return out;
}

/* ffi_xt_mat(X n x q double finite, intercept lgl, center double(p) or NULL,
 *            M n x m double finite, nthreads int)
 * -> p x m matrix X' M, p = q + intercept, of X less its shifts.
 * Work: xt_mat_work_size(n, p, m, nthreads) doubles.                        */
SEXP ffi_xt_mat(SEXP X, SEXP intercept, SEXP center, SEXP M, SEXP nthreads)
{
    cp_design d = arg_design(X, arg_flag(intercept, "intercept"), "X");
    arg_center(center, &d, "center");
    const double *m = arg_finite(M, "M", -1);
    int mc = arg_ncol(M);
    if (arg_nrow(M) != d.n) Rf_error("internal error: `M` must have %.0f rows", (double) d.n);
    int nt = arg_nthreads(nthreads);
    arg_mul(d.p, mc, "`X`'M");
    double *work = doubles(xt_mat_work_size(d.n, d.p, mc, nt));

    int nprot = 0;
    SEXP out = PROTECT(Rf_allocMatrix(REALSXP, d.p, mc)); nprot++;
    xt_mat(&d, m, mc, REAL(out), nt, work);
    UNPROTECT(nprot);
    return out;
}

/* ffi_design_matrix(X design list or n x q double matrix, finite (see
 *   arg_design()), rows int 1..n or NULL (all rows), cols int 1..q)
 * -> m x length(cols) double matrix: those rows and columns of X, factor
 *   indicators as 0/1 and NULL columns as ones; m = length(rows), or n.
 * Work: the 0-based rows and columns (R_alloc()).                           */
SEXP ffi_design_matrix(SEXP X, SEXP rows, SEXP cols)
{
    cp_design d = arg_design(X, 0, "X");
    if (d.n > INT_MAX) Rf_error("internal error: `X` has too many rows for a matrix");
    const int *r = Rf_isNull(rows) ? NULL : arg_rows(rows, "rows", (int) d.n, 0);
    int m = r ? arg_int_dim(Rf_xlength(rows), "`rows`") : (int) d.n;
    int q = arg_int_dim(Rf_xlength(cols), "`cols`");
    const int *c = arg_codes(cols, "cols", q, d.p);
    arg_mul(m, q, "the design matrix");

    int nprot = 0;
    SEXP out = PROTECT(Rf_allocMatrix(REALSXP, m, q)); nprot++;
    cp_gather(&d, r, m, c, q, REAL(out));
    UNPROTECT(nprot);
    return out;
}

/* ffi_all_finite(x double) -> TRUE when no element is NA, NaN or infinite.
 * One pass without the n-long logical vector of is.finite().                */
SEXP ffi_all_finite(SEXP x)
{
    const double *v = arg_double(x, "x", -1);
    return Rf_ScalarLogical(cp_all_finite(v, Rf_xlength(x)));
}

/* ---- glm.c, multinom.c ------------------------------------------------------ */

/* ffi_glm_fit(X n x q double, intercept lgl (an implicit first column of
 *             ones: p = q + intercept; n >= 1), y double(n), prior double(n)
 *             >= 0 or NULL,
 *             offset double(n) or NULL, family int (0 gaussian, 1 binomial,
 *             2 poisson), maxit int, epsilon double, penalty double(p) or
 *             NULL, nthreads int)
 * -> list(coefficients (p; NA where aliased), linear_predictors (n),
 *         fitted (n), aliased (p), rank, iter, converged, deviance,
 *         boundary, failed, information = X'WX (p x p) at the final
 *         coefficients, center (p) or NULL, anchor int (1-based) or NULL)
 * With a center, the fit ran on X less center, a column at a time, its
 * shifts absorbed by column `anchor` (cp_center_plan()); the coefficients
 * are for X, the information for X less center.
 * Work: glm_work_size(n, p, nthreads) doubles, p ints.                      */
SEXP ffi_glm_fit(SEXP X, SEXP intercept, SEXP y, SEXP prior, SEXP offset,
                 SEXP family, SEXP maxit, SEXP epsilon, SEXP penalty, SEXP nthreads)
{
    /* The first IRLS pass checks that X is finite. */
    cp_design d = arg_design_unchecked(X, arg_flag(intercept, "intercept"), "X");
    cl_len n = d.n;
    int p = d.p;
    need_rows(n, "X");
    const double *yp = arg_finite(y, "y", n);
    const double *pw = arg_weights_or_null(prior, "prior", n);
    const double *off = arg_finite_or_null(offset, "offset", n);
    glm_spec spec = arg_glm_spec(arg_scalar_int(family, "family", 0, 2), maxit, epsilon,
                                 penalty, p, arg_nthreads(nthreads));
    spec.interrupt = check_interrupt;
    coef_size(p, 2);
    double *work = doubles(glm_work_size(n, p, spec.nthreads));
    int *aliased = ints(p);

    int nprot = 0;
    SEXP beta = PROTECT(Rf_allocVector(REALSXP, p)); nprot++;
    SEXP eta = PROTECT(Rf_allocVector(REALSXP, n)); nprot++;
    SEXP mu = PROTECT(Rf_allocVector(REALSXP, n)); nprot++;
    SEXP xtwx = PROTECT(Rf_allocMatrix(REALSXP, p, p)); nprot++;
    newton_info info;
    glm_irls(&d, yp, pw, off, &spec, REAL(beta), REAL(eta), REAL(mu), aliased, &info, work);
    if (info.nonfinite) arg_abort_nonfinite("X");
    na_where(REAL(beta), aliased, p);
    /* The last pass left X'WX at the final coefficients at the head of the
     * work: for canonical links, the information matrix. */
    memcpy(REAL(xtwx), work, sizeof(double) * (size_t) p * p);

    const char *names[] = {"coefficients", "linear_predictors", "fitted",
                           "aliased", "rank", "iter", "converged", "deviance",
                           "boundary", "failed", "information", "center",
                           "anchor", ""};
    SEXP out = PROTECT(Rf_mkNamed(VECSXP, names)); nprot++;
    SET_VECTOR_ELT(out, 0, beta);
    SET_VECTOR_ELT(out, 1, eta);
    SET_VECTOR_ELT(out, 2, mu);
    SET_VECTOR_ELT(out, 3, logicals(aliased, p));
    set_newton_info(out, 4, &info);
    SET_VECTOR_ELT(out, 10, xtwx);
    SET_VECTOR_ELT(out, 11, centering(glm_irls_center(work, p), p, info.anchor));
    if (info.anchor >= 0) SET_VECTOR_ELT(out, 12, Rf_ScalarInteger(info.anchor + 1));
    UNPROTECT(nprot);
    return out;
}

/* ffi_multinom_fit(X n x q double finite, intercept lgl (p = q + intercept),
 *                  a int(n) coded 1..K, K int, prior double(n) >= 0 or NULL,
 *                  maxit int, epsilon double, penalty double(p) or NULL,
 *                  nthreads int)
 * -> list(coefficients p x (K-1) (NA where aliased), fitted n x K,
 *         aliased (p), rank, iter, converged, deviance, boundary, failed,
 *         center (p) or NULL, anchor or NULL: as ffi_glm_fit())
 * Work: multinom_work_size(n, p, K, nthreads) doubles, (K - 1) p + p ints. */
SEXP ffi_multinom_fit(SEXP X, SEXP intercept, SEXP a, SEXP K_, SEXP prior,
                      SEXP maxit, SEXP epsilon, SEXP penalty, SEXP nthreads)
{
    cp_design d = arg_design(X, arg_flag(intercept, "intercept"), "X");
    cl_len n = d.n;
    int p = d.p;
    int K = arg_scalar_int(K_, "K", 2, 10000);
    int q = coef_size(p, K);
    need_rows(n, "X");
    int *a0 = arg_codes(a, "a", n, K);
    const double *pw = arg_weights_or_null(prior, "prior", n);
    glm_spec spec = arg_glm_spec(GLM_BINOMIAL, maxit, epsilon, penalty, p,
                                 arg_nthreads(nthreads));
    spec.interrupt = check_interrupt;
    arg_mul(n, K, "the fitted probabilities");
    double *work = doubles(multinom_work_size(n, p, K, spec.nthreads));
    int *qaliased = ints(q);
    int *aliased = ints(p);

    int nprot = 0;
    SEXP B = PROTECT(Rf_allocMatrix(REALSXP, p, K - 1)); nprot++;
    SEXP P = PROTECT(Rf_allocMatrix(REALSXP, arg_int_dim(n, "`X`'s rows"), K)); nprot++;
    newton_info info;
    multinom_newton(&d, a0, K, pw, &spec, REAL(B), REAL(P), aliased, &info, work,
                    qaliased);
    na_where(REAL(B), qaliased, q);

    const char *names[] = {"coefficients", "fitted", "aliased", "rank", "iter",
                           "converged", "deviance", "boundary", "failed", "center",
                           "anchor", ""};
    SEXP out = PROTECT(Rf_mkNamed(VECSXP, names)); nprot++;
    SET_VECTOR_ELT(out, 0, B);
    SET_VECTOR_ELT(out, 1, P);
    SET_VECTOR_ELT(out, 2, logicals(aliased, p));
    set_newton_info(out, 3, &info);
    SET_VECTOR_ELT(out, 9, centering(multinom_center(work, n, p, K, spec.nthreads), p,
                                     info.anchor));
    if (info.anchor >= 0) SET_VECTOR_ELT(out, 10, Rf_ScalarInteger(info.anchor + 1));
    UNPROTECT(nprot);
    return out;
}

/* ---- person-time.c ---------------------------------------------------------- */

/* ffi_pt_fit(X n x p0 double finite, intercept lgl, F Tmax x q double finite,
 *            arm int(n) coded 1..K, K int, interact lgl,
 *            last int(n) in 0..Tmax, status int(n) 0/1, w double(n) >= 0,
 *            cens NULL or list(lc double(n), cc K x Tmax double,
 *                              ln double(n) or NULL, cn K x Tmax or NULL),
 *            maxit int, epsilon double, penalty double(P) or NULL,
 *            nthreads int, offset double(n) or NULL: added to the linear
 *            predictor of every person-period row of the person)
 * -> list(coefficients (P; [intercept?, X, F, F by arm 1..K-1 if interact];
 *         NA where aliased), aliased, deviance, iter, converged, rank,
 *         information (P x P), score (P), rows, events, separation, failed,
 *         center (p, the person design's shifts) or NULL, anchor or NULL:
 *         the information and score are then those of X less center, see
 *         ffi_glm_fit())
 * Work: pt_fit_work_size(data, model, nthreads) doubles, P ints.            */
SEXP ffi_pt_fit(SEXP X, SEXP intercept, SEXP F, SEXP arm, SEXP K, SEXP interact,
                SEXP last, SEXP status, SEXP w, SEXP cens, SEXP maxit,
                SEXP epsilon, SEXP penalty, SEXP nthreads, SEXP offset)
{
    cp_design d = arg_design(X, arg_flag(intercept, "intercept"), "X");
    const double *Fp = arg_finite(F, "F", -1);
    int Tmax = arg_int_dim(arg_nrow(F), "`F`'s rows"), q = arg_ncol(F);
    pt_data data = arg_pt_data(arm, K, last, status, w, cens, d.n, Tmax);
    pt_model model = {&d, Fp, q, arg_flag(interact, "interact") && data.K > 1,
                      arg_finite_or_null(offset, "offset", d.n)};
    cl_len P64 = d.p + arg_mul(q, model.interact ? data.K : 1, "the period terms");
    int P = arg_int_dim(P64, "the coefficients");
    coef_size(P, 2);
    arg_mul(d.n, (cl_len) P - d.p + 2, "the per-person sums");
    need_rows(d.n, "X");
    glm_spec spec = arg_glm_spec(GLM_BINOMIAL, maxit, epsilon, penalty, P,
                                 arg_nthreads(nthreads));
    spec.interrupt = check_interrupt;
    double *work = doubles(pt_fit_work_size(&data, &model, spec.nthreads));
    int *aliased = ints(P);

    int nprot = 0;
    SEXP beta = PROTECT(Rf_allocVector(REALSXP, P)); nprot++;
    SEXP information = PROTECT(Rf_allocMatrix(REALSXP, P, P)); nprot++;
    SEXP score = PROTECT(Rf_allocVector(REALSXP, P)); nprot++;
    pt_info info;
    pt_fit(&data, &model, &spec, REAL(beta), aliased, REAL(information), REAL(score),
           &info, work);
    na_where(REAL(beta), aliased, P);

    const char *names[] = {"coefficients", "aliased", "deviance", "iter",
                           "converged", "rank", "information", "score", "rows",
                           "events", "separation", "failed", "center", "anchor", ""};
    SEXP out = PROTECT(Rf_mkNamed(VECSXP, names)); nprot++;
    SET_VECTOR_ELT(out, 0, beta);
    SET_VECTOR_ELT(out, 1, logicals(aliased, P));
    SET_VECTOR_ELT(out, 2, Rf_ScalarReal(info.fit.deviance));
    SET_VECTOR_ELT(out, 3, Rf_ScalarInteger(info.fit.iter));
    SET_VECTOR_ELT(out, 4, Rf_ScalarLogical(info.fit.converged));
    SET_VECTOR_ELT(out, 5, Rf_ScalarInteger(info.fit.rank));
    SET_VECTOR_ELT(out, 6, information);
    SET_VECTOR_ELT(out, 7, score);
    SET_VECTOR_ELT(out, 8, Rf_ScalarReal(info.rows));
    SET_VECTOR_ELT(out, 9, Rf_ScalarReal(info.events));
    SET_VECTOR_ELT(out, 10, Rf_ScalarLogical(info.separation));
    SET_VECTOR_ELT(out, 11, Rf_ScalarLogical(info.fit.failed));
    SET_VECTOR_ELT(out, 12, centering(pt_center(&data, &model, spec.nthreads, work), d.p,
                                      info.fit.anchor));
    if (info.fit.anchor >= 0) SET_VECTOR_ELT(out, 13, Rf_ScalarInteger(info.fit.anchor + 1));
    UNPROTECT(nprot);
    return out;
}

/* ffi_pt_risk_table(arm int(n) coded 1..K, K int, last int(n) in 0..Tmax,
 *                   status int(n) 0/1, w double(n) >= 0, cens as in
 *                   ffi_pt_fit, Tmax int)
 * -> list(at_risk K x Tmax, events K x Tmax): prior-weighted sums of the
 *    person-period rows at risk and of those with the event.
 * Work: pt_risk_work_size(data, 1) doubles.                                 */
SEXP ffi_pt_risk_table(SEXP arm, SEXP K, SEXP last, SEXP status, SEXP w,
                       SEXP cens, SEXP Tmax)
{
    arg_int(arm, "arm", -1);
    int T = arg_scalar_int(Tmax, "Tmax", 0, (int) PT_MAX_TABLE);
    pt_data data = arg_pt_data(arm, K, last, status, w, cens, Rf_xlength(arm), T);
    double *work = doubles(pt_risk_work_size(&data, 1));
    double counts[2];

    int nprot = 0;
    SEXP at_risk = PROTECT(Rf_allocMatrix(REALSXP, data.K, T)); nprot++;
    SEXP events = PROTECT(Rf_allocMatrix(REALSXP, data.K, T)); nprot++;
    pt_risk_table(&data, REAL(at_risk), REAL(events), counts, 1, work);
    SEXP out = named_pair("at_risk", at_risk, "events", events);
    UNPROTECT(nprot);
    return out;
}

/* ---- weights.c, sandwich.c -------------------------------------------------- */

/* ffi_ipw_weights(P n x K double in [0, 1] (K >= 2), a int(n) coded 1..K,
 *                 estimand int (0 ATE, 1 ATT, 2 ATC, 3 ATO), target int
 *                 (1..K), clip double(2) 0 <= lower < upper <= 1,
 *                 truncate double(1) quantile in (0, 1] or NA,
 *                 nthreads int)
 * -> list(weights n, dw_deta n x (K-1), n_clipped, cap (NA: none))
 * Work: ipw_weights_work_size(K, nthreads) doubles, n more to truncate.     */
SEXP ffi_ipw_weights(SEXP P, SEXP a, SEXP estimand, SEXP target, SEXP clip,
                     SEXP truncate, SEXP nthreads)
{
    arg_double(P, "P", -1);
    cl_len n = arg_nrow(P);
    int K = arg_ncol(P);
    if (K < 2) Rf_error("internal error: `P` needs at least two columns");
    const double *Pp = arg_finite(P, "P", -1);
    for (R_xlen_t e = 0; e < Rf_xlength(P); e++)
        if (Pp[e] < 0 || Pp[e] > 1) Rf_error("internal error: `P` must hold probabilities");
    int *a0 = arg_codes(a, "a", n, K);
    ipw_opts o = arg_ipw_opts(arg_scalar_int(estimand, "estimand", 0, 3), target, clip,
                              truncate, K);
    int nt = arg_nthreads(nthreads);

    int nprot = 0;
    SEXP w = PROTECT(Rf_allocVector(REALSXP, n)); nprot++;
    SEXP dw = PROTECT(Rf_allocMatrix(REALSXP, arg_int_dim(n, "`P`'s rows"), K - 1)); nprot++;
    double *work = doubles(ipw_weights_work_size(K, nt));
    cl_len nclip = ipw_weights(Pp, n, K, a0, &o, REAL(w), REAL(dw), nt, work);
    double cap = NA_REAL;
    if (!ISNAN(o.q)) {
        cap = ipw_truncation_cap(REAL(w), NULL, n, o.q, doubles(n));
        ipw_truncate(REAL(w), REAL(dw), n, K, cap);
        if (ISNAN(cap)) cap = NA_REAL;
    }
    const char *names[] = {"weights", "dw_deta", "n_clipped", "cap", ""};
    SEXP out = PROTECT(Rf_mkNamed(VECSXP, names)); nprot++;
    SET_VECTOR_ELT(out, 0, w);
    SET_VECTOR_ELT(out, 1, dw);
    SET_VECTOR_ELT(out, 2, Rf_ScalarReal((double) nclip));
    SET_VECTOR_ELT(out, 3, Rf_ScalarReal(cap));
    UNPROTECT(nprot);
    return out;
}

/* ffi_stacked_meat(X n x q double finite, intercept lgl (p = q + intercept),
 *                  center double(p) or NULL (X's shifts: the meat is that
 *                  of X less them), R n x m double finite (m >= 1), Psi n x K
 *                  double finite, C n x qc double finite or NULL, nthreads int)
 * -> list(meat = (m p + K) square matrix, xtc = p x qc matrix X'C or NULL)
 * Work: stacked_meat_work_size(n, p, K, qc, nthreads) doubles.              */
SEXP ffi_stacked_meat(SEXP X, SEXP intercept, SEXP center, SEXP R, SEXP Psi, SEXP C,
                      SEXP nthreads)
{
    cp_design d = arg_design(X, arg_flag(intercept, "intercept"), "X");
    arg_center(center, &d, "center");
    const double *r = arg_finite(R, "R", -1), *psi = arg_finite(Psi, "Psi", -1);
    cl_len n = d.n;
    int p = d.p, m = arg_ncol(R), K = arg_ncol(Psi);
    if (arg_nrow(R) != n || arg_nrow(Psi) != n)
        Rf_error("internal error: `X`, `R` and `Psi` must have the same rows");
    const double *cp = NULL;
    int qc = 0;
    if (!Rf_isNull(C)) {
        cp = arg_finite(C, "C", -1);
        if (arg_nrow(C) != n) Rf_error("internal error: `C` must have %.0f rows", (double) n);
        qc = arg_ncol(C);
    }
    if (m < 1) Rf_error("internal error: `R` needs at least one column");
    int nt = arg_nthreads(nthreads);
    int q = arg_int_dim(arg_mul(m, p, "the meat") + K, "the meat");
    arg_mul(q, q, "the meat");
    arg_mul(n, (cl_len) K + qc, "the target terms");
    arg_mul(p, (cl_len) p + K + qc, "the cross-products");
    double *work = doubles(stacked_meat_work_size(n, p, K, qc, nt));

    int nprot = 0;
    SEXP meat = PROTECT(Rf_allocMatrix(REALSXP, q, q)); nprot++;
    SEXP xtc = R_NilValue;
    if (qc > 0) { xtc = PROTECT(Rf_allocMatrix(REALSXP, p, qc)); nprot++; }
    stacked_meat(&d, r, m, psi, K, cp, qc, nt, REAL(meat), qc > 0 ? REAL(xtc) : NULL,
                 work, check_interrupt);
    SEXP out = named_pair("meat", meat, "xtc", xtc);
    UNPROTECT(nprot);
    return out;
}

/* ffi_ipw_meat(X n x q double, intercept lgl (p = q + intercept),
 *              center double(p) or NULL (X's shifts: meat and D are those
 *              of X less them), a int(n) coded 1..K, P n x K double finite,
 *              sw double(n) >= 0 or NULL, w double(n), dw n x (K - 1) double,
 *              y double(n),
 *              mu double(K), nthreads int)
 * -> list(meat = (m p + K) square matrix, D = K x m p matrix), m = K - 1
 * Work: ipw_meat_work_size(n, p, K, nthreads) doubles, n ints.              */
SEXP ffi_ipw_meat(SEXP X, SEXP intercept, SEXP center, SEXP a, SEXP P, SEXP sw,
                  SEXP w, SEXP dw, SEXP y, SEXP mu, SEXP nthreads)
{
    /* ipw_meat() checks that X is finite in its pass. */
    cp_design d = arg_design_unchecked(X, arg_flag(intercept, "intercept"), "X");
    arg_center(center, &d, "center");
    cl_len n = d.n;
    int p = d.p;
    arg_double(P, "P", -1);
    int K = arg_ncol(P);
    if (arg_nrow(P) != n || K < 2)
        Rf_error("internal error: `P` must be a %.0f x K matrix, K >= 2", (double) n);
    ipw_meat_in in = {
        .d = &d, .K = K, .P = arg_finite(P, "P", -1), .a = arg_codes(a, "a", n, K),
        .sw = arg_weights_or_null(sw, "sw", n), .w = arg_finite(w, "w", n),
        .dw = arg_finite(dw, "dw", arg_mul(n, K - 1, "`dw`")), .y = arg_finite(y, "y", n),
        .mu = arg_finite(mu, "mu", K)
    };
    int nt = arg_nthreads(nthreads);
    int q = arg_int_dim(arg_mul(K - 1, p, "the meat") + K, "the meat");
    arg_mul(q, q, "the meat");
    arg_mul(arg_mul((cl_len) (K - 1) * K / 2, p, "the meat"), p, "the meat");
    double *work = doubles(ipw_meat_work_size(n, p, K, nt));

    int nprot = 0;
    SEXP meat = PROTECT(Rf_allocMatrix(REALSXP, q, q)); nprot++;
    SEXP D = PROTECT(Rf_allocMatrix(REALSXP, K, (K - 1) * p)); nprot++;
    if (ipw_meat(&in, nt, REAL(meat), REAL(D), work)) arg_abort_nonfinite("X");
    SEXP out = named_pair("meat", meat, "D", D);
    UNPROTECT(nprot);
    return out;
}

/* ---- bootstrap.c ------------------------------------------------------------ */

/* The replicates of counts (n x R) in parallel -> R x K means, NA rows where
 * a fit failed.  Work: per thread, wlen doubles, ilen ints and K doubles. */
static SEXP bootstrap(boot_replicate_fn replicate, const void *ctx, SEXP counts,
                      cl_len n, int K, int nthreads, size_t wlen, size_t ilen)
{
    int R;
    need_rows(n, "counts");
    const int *cnt = arg_counts(counts, n, &R);
    arg_mul(n, (cl_len) K + 2, "the bootstrap's n x K workspace");
    int nt = cl_threads(nthreads, R);
    double *work = doubles(arg_mul((cl_len) wlen, nt, "the bootstrap's workspace"));
    int *iwork = ints(arg_mul((cl_len) ilen, nt, "the bootstrap's workspace"));
    double *mu = doubles((size_t) K * nt);
    int *ok = ints(R);

    int nprot = 0;
    SEXP out = PROTECT(Rf_allocMatrix(REALSXP, R, K)); nprot++;
    double *o = REAL(out);
    boot_run(replicate, ctx, cnt, n, R, K, nthreads, wlen, ilen, o, ok, mu, work, iwork);
    for (int r = 0; r < R; r++)
        if (!ok[r]) for (int k = 0; k < K; k++) o[(size_t) k * R + r] = NA_REAL;
    UNPROTECT(nprot);
    return out;
}

/* ffi_ipw_bootstrap(weight_model list (see arg_boot_weight_model() in
 *   args.h), a int(n) 1..K, K int, y double(n), counts int n x R (columns
 *   summing to n), nthreads)
 * -> R x K matrix of potential-outcome means (NA rows: model failed); the
 *    Hajek means do not depend on stabilization.
 * Work: ipw_boot_work_size() per thread.                                    */
SEXP ffi_ipw_bootstrap(SEXP weight_model, SEXP a, SEXP K, SEXP y, SEXP counts,
                       SEXP nthreads)
{
    boot_data d;
    ipw_boot b = {.d = &d};
    arg_boot_weight_model(weight_model, a, K, &d, &b.opts);
    d.y = arg_finite(y, "y", d.x.n);
    coef_size(d.x.p, d.K);
    size_t wlen, ilen;
    ipw_boot_work_size(&b, &wlen, &ilen);
    return bootstrap(ipw_boot_replicate, &b, counts, d.x.n, d.K, arg_nthreads(nthreads),
                     wlen, ilen);
}

/* ffi_std_bootstrap(X n x q double finite, intercept lgl (p = q +
 *   intercept), offset double(n) or NULL, y double(n), sw double(n),
 *   a int(n) 1..K, K int, stratified lgl, Xcf list of K n x q matrices
 *   (S-learner, with the same intercept) or NULL, offsets_cf NULL or a list
 *   of K offsets (NULL or double(n)) of Xcf, counts int n x R (columns
 *   summing to n), family int, maxit, epsilon, penalty double(p) or NULL,
 *   nthreads)
 * -> R x K matrix of potential-outcome means (NA rows: model failed)
 * Work: std_boot_work_size() per thread.                                    */
SEXP ffi_std_bootstrap(SEXP X, SEXP intercept, SEXP offset, SEXP y, SEXP sw, SEXP a,
                       SEXP K, SEXP stratified, SEXP Xcf, SEXP offsets_cf, SEXP counts,
                       SEXP family, SEXP maxit, SEXP epsilon, SEXP penalty, SEXP nthreads)
{
    int icpt = arg_flag(intercept, "intercept");
    boot_data d = {.x = arg_design(X, icpt, "X")};
    arg_boot_arms(&d, a, K, sw);
    d.offset = arg_finite_or_null(offset, "offset", d.x.n);
    d.y = arg_finite(y, "y", d.x.n);
    d.spec = arg_glm_spec(arg_scalar_int(family, "family", 0, 2), maxit, epsilon, penalty,
                          d.x.p, 1);
    coef_size(d.x.p, 2);
    std_boot b = {&d, NULL, NULL, arg_flag(stratified, "stratified")};
    if (!b.stratified) {
        b.xcf = arg_designs(Xcf, icpt, &d.x, d.K, "Xcf");
        b.cf_offset = arg_offsets(offsets_cf, d.x.n, d.K, "offsets_cf");
    }
    size_t wlen, ilen;
    std_boot_work_size(&b, &wlen, &ilen);
    return bootstrap(std_boot_replicate, &b, counts, d.x.n, d.K, arg_nthreads(nthreads),
                     wlen, ilen);
}

/* ffi_aipw_bootstrap(Xw n x qw double finite, intercept_w lgl, offset_w
 *   double(n) or NULL (binary treatment only), a int(n) 1..K, K int,
 *   sw double(n), counts int n x R (columns summing to n),
 *   target int 1..K, clip double(2), truncate double(1) or NA,
 *   wspec list(family, maxit, epsilon, penalty), Xo n x po double finite
 *   (outcome design, explicit intercept), offset_o double(n) or NULL,
 *   y double(n), stratified lgl, Xcf list of K n x po matrices or NULL,
 *   offsets_cf NULL or a list of K offsets of Xcf,
 *   ospec list(family, maxit, epsilon, penalty), nthreads)
 * -> R x K matrix of AIPW potential-outcome means (NA rows: a fit failed)
 * Work: aipw_boot_work_size() per thread.                                   */
SEXP ffi_aipw_bootstrap(SEXP Xw, SEXP intercept_w, SEXP offset_w, SEXP a, SEXP K, SEXP sw,
                        SEXP counts, SEXP target, SEXP clip, SEXP truncate, SEXP wspec,
                        SEXP Xo, SEXP offset_o, SEXP y, SEXP stratified, SEXP Xcf,
                        SEXP offsets_cf, SEXP ospec, SEXP nthreads)
{
    boot_data dw = {.x = arg_design(Xw, arg_flag(intercept_w, "intercept_w"), "Xw")};
    arg_boot_arms(&dw, a, K, sw);
    dw.offset = arg_finite_or_null(offset_w, "offset_w", dw.x.n);
    if (dw.offset && dw.K > 2)
        Rf_error("internal error: a multinomial weight model takes no offset");
    dw.spec = arg_glm_spec_list(wspec, dw.x.p, "wspec");
    boot_data dout = dw;
    dout.x = arg_design(Xo, 0, "Xo");
    if (dout.x.n != dw.x.n) Rf_error("internal error: `Xo` must have the rows of `Xw`");
    dout.offset = arg_finite_or_null(offset_o, "offset_o", dw.x.n);
    dout.y = arg_finite(y, "y", dw.x.n);
    dout.spec = arg_glm_spec_list(ospec, dout.x.p, "ospec");
    coef_size(dw.x.p, dw.K);
    coef_size(dout.x.p, 2);
    aipw_boot b = {&dw, &dout, NULL, NULL, arg_flag(stratified, "stratified"),
                   arg_ipw_opts(EST_ATE, target, clip, truncate, dw.K)};
    if (!b.stratified) {
        b.xcf = arg_designs(Xcf, 0, &dout.x, dw.K, "Xcf");
        b.cf_offset = arg_offsets(offsets_cf, dw.x.n, dw.K, "offsets_cf");
    }
    size_t wlen, ilen;
    aipw_boot_work_size(&b, &wlen, &ilen);
    return bootstrap(aipw_boot_replicate, &b, counts, dw.x.n, dw.K, arg_nthreads(nthreads),
                     wlen, ilen);
}

/* ffi_survival_bootstrap(method int (0 km, 1 grid_km, 2 grid_pooled_logistic,
 *   3 pooled_logistic), a int(n) 1..K, K int, sw double(n) >= 0,
 *   counts int n x R (columns summing to n), weight_model NULL or a list
 *   (see arg_boot_weight_model() in args.h), population lgl (standardize
 *   over the weight model's population),
 *   km NULL or list(time double(n) >= 0, status int(n) 0/1, times double(m)
 *     ascending) (method 0),
 *   grid NULL or list(last int(n), status int(n), F Tmax x q double finite)
 *     (methods 1-3),
 *   censoring NULL or list(denominator, numerator: models (see
 *     arg_surv_pt() in args.h) on the covariates of censoring and on the
 *     arms' indicators, last int(n), status int(n): the censoring
 *     person-time),
 *   hazard NULL or list(model (see arg_surv_pt()), stratified lgl,
 *     designs NULL or K person designs of the levels (n rows; one row for
 *     method 2), offsets NULL or their K offsets) (methods 2, 3),
 *   nthreads)
 * -> R x (K m) matrix: row r the K x m curves of replicate r, column-major
 *    (NA where undefined, NA rows where a model failed)
 * Work: surv_boot_work_size() per thread; km_sort()'s keys once.          */
SEXP ffi_survival_bootstrap(SEXP method, SEXP a, SEXP K, SEXP sw, SEXP counts,
                            SEXP weight_model, SEXP population, SEXP km, SEXP grid,
                            SEXP censoring, SEXP hazard, SEXP nthreads)
{
    surv_boot b = {.method = arg_scalar_int(method, "method", SB_KM, SB_POOLED)};
    b.K = arg_scalar_int(K, "K", 2, 10000);
    b.n = Rf_xlength(a);
    b.a = arg_codes(a, "a", b.n, b.K);
    b.sw = arg_weights(sw, "sw", b.n, 0);
    int *zero = ints((size_t) b.n);
    memset(zero, 0, sizeof(int) * (size_t) (b.n > 0 ? b.n : 1));
    b.zero = zero;
    arg_mul(b.n, (cl_len) b.K + 3, "the n x K workspace");
    boot_data wm;
    if (!Rf_isNull(weight_model)) {
        b.stabilize = arg_boot_weight_model(weight_model, a, K, &wm, &b.opts);
        coef_size(wm.x.p, wm.K);
        b.wm = &wm;
    }
    b.population = arg_flag(population, "population") && b.wm;
    cp_design dc, dn, dh, like;
    surv_pt denom, numer, hz;
    if (b.method == SB_KM) {
        const double *t = arg_finite(arg_elt(km, "time", "km"), "km$time", b.n);
        b.status = arg_int(arg_elt(km, "status", "km"), "km$status", b.n);
        SEXP times = arg_elt(km, "times", "km");
        const double *tm = arg_finite(times, "km$times", -1);
        b.m = arg_int_dim(Rf_xlength(times), "`km$times`");
        for (int j = 1; j < b.m; j++)
            if (tm[j] <= tm[j - 1]) Rf_error("internal error: `km$times` must be ascending");
        for (cl_len i = 0; i < b.n; i++)
            if (b.status[i] != 0 && b.status[i] != 1)
                Rf_error("internal error: `km$status` must be 0 or 1");
        km_key *keys = (km_key *) R_alloc(b.n > 0 ? b.n : 1, sizeof(km_key));
        km_key *buf = (km_key *) R_alloc(b.n > 0 ? b.n : 1, sizeof(km_key));
        cl_len *start = (cl_len *) R_alloc((size_t) b.K + 1, sizeof(cl_len));
        b.nrow = arg_int_dim(km_sort(t, b.a, b.n, b.K, keys, start, buf, check_interrupt),
                             "the curves' rows");
        arg_mul(b.nrow, 6, "the curves' rows");
        int *at = ints((size_t) arg_mul(b.K, b.m, "the curves"));
        surv_km_rows(keys, start, b.K, tm, b.m, at);
        b.keys = keys;
        b.start = start;
        b.at = at;
        b.times = tm;
    } else {
        SEXP F = arg_elt(grid, "F", "grid");
        const double *Fp = arg_finite(F, "grid$F", -1);
        int q = arg_ncol(F);
        b.m = arg_int_dim(arg_nrow(F), "`grid$F`'s rows");
        pt_data pd = arg_pt_data(a, K, arg_elt(grid, "last", "grid"),
                                 arg_elt(grid, "status", "grid"), sw, R_NilValue, b.n, b.m);
        b.last = pd.last;
        b.event = pd.status;
        if (!Rf_isNull(censoring)) {
            pt_data cd = arg_pt_data(a, K, arg_elt(censoring, "last", "censoring"),
                                     arg_elt(censoring, "status", "censoring"), sw, R_NilValue,
                                     b.n, b.m);
            b.c_last = cd.last;
            b.c_status = cd.status;
            denom = arg_surv_pt(arg_elt(censoring, "denominator", "censoring"), b.n, Fp, q, 0, 1,
                                &dc, "censoring$denominator");
            numer = arg_surv_pt(arg_elt(censoring, "numerator", "censoring"), b.n, Fp, q, 0, 1,
                                &dn, "censoring$numerator");
            b.cens_denom = &denom;
            b.cens_numer = &numer;
        }
        if (b.method != SB_GRID_KM) {
            b.stratified = arg_flag(arg_elt(hazard, "stratified", "hazard"), "stratified");
            hz = arg_surv_pt(arg_elt(hazard, "model", "hazard"), b.n, Fp, q, !b.stratified, b.K,
                             &dh, "hazard$model");
            b.hazard = &hz;
            if (!b.stratified) {
                like = dh;
                like.n = b.method == SB_GRID_PL ? 1 : b.n;
                arg_mul(like.n, b.K, "the counterfactual predictors");
                b.xcf = arg_designs(arg_elt(hazard, "designs", "hazard"), dh.intercept, &like,
                                    b.K, "hazard$designs");
                b.cf_offset = arg_offsets(arg_elt(hazard, "offsets", "hazard"), like.n, b.K,
                                          "hazard$offsets");
            }
        }
    }
    size_t wlen, ilen;
    surv_boot_work_size(&b, &wlen, &ilen);
    int km_ = arg_int_dim(arg_mul(b.K, b.m, "the curves"), "the curves");
    int nprot = 0;
    SEXP out = PROTECT(bootstrap(surv_boot_replicate, &b, counts, b.n, km_,
                                 arg_nthreads(nthreads), wlen, ilen)); nprot++;
    double *o = REAL(out);
    for (R_xlen_t e = 0; e < Rf_xlength(out); e++) if (ISNAN(o[e])) o[e] = NA_REAL;
    UNPROTECT(nprot);
    return out;
}

/* ---- treatment.c ------------------------------------------------------------ */

/* ffi_treatment_codes(a double, integer or logical (n))
 * -> list(codes = int(n), values = the L sorted distinct values of a, of
 *    a's type): codes[i] = match(a[i], values), as factor() would code a
 *    (R's sort(unique(a)));
 * or NULL when a has a missing or (double) non-integer value or more than
 * TREATMENT_FAST_LEVELS distinct values: the R path then checks and codes a. */
SEXP ffi_treatment_codes(SEXP a)
{
    int type = TYPEOF(a);
    if (type != REALSXP && type != INTSXP && type != LGLSXP)
        Rf_error("internal error: `a` must be a double, integer or logical vector");
    cl_len n = Rf_xlength(a);
    const double *dv = type == REALSXP ? REAL_RO(a) : NULL;
    const int *iv = type == INTSXP ? INTEGER_RO(a) : (type == LGLSXP ? LOGICAL_RO(a) : NULL);
    double vals[TREATMENT_FAST_LEVELS];

    int nprot = 0;
    SEXP codes = PROTECT(Rf_allocVector(INTSXP, n)); nprot++;
    int L = treatment_codes(dv, iv, NA_INTEGER, n, INTEGER(codes), vals);
    SEXP out = R_NilValue;
    if (L >= 0) {
        SEXP values = PROTECT(Rf_allocVector(type, L)); nprot++;
        for (int k = 0; k < L; k++) {
            if (type == REALSXP) REAL(values)[k] = vals[k];
            else if (type == INTSXP) INTEGER(values)[k] = (int) vals[k];
            else LOGICAL(values)[k] = (int) vals[k];
        }
        const char *names[] = {"codes", "values", ""};
        out = PROTECT(Rf_mkNamed(VECSXP, names)); nprot++;
        SET_VECTOR_ELT(out, 0, codes);
        SET_VECTOR_ELT(out, 1, values);
    }
    UNPROTECT(nprot);
    return out;
}

/* ffi_arm_sums(v double(n) or double(1), a int(n) coded 1..K, K int)
 * -> double(K): sum of v over the units of each arm (v recycled if scalar). */
SEXP ffi_arm_sums(SEXP v, SEXP a, SEXP K_)
{
    cl_len n = Rf_xlength(a);
    int K = arg_scalar_int(K_, "K", 1, 1000000);
    const double *vp = arg_double(v, "v", -1);
    cl_len nv = Rf_xlength(v);
    if (nv != n && nv != 1) Rf_error("internal error: `v` must have length 1 or %.0f", (double) n);
    int *a0 = arg_codes(a, "a", n, K);

    int nprot = 0;
    SEXP out = PROTECT(Rf_allocVector(REALSXP, K)); nprot++;
    arm_sums(vp, nv, a0, n, K, REAL(out));
    UNPROTECT(nprot);
    return out;
}

/* ffi_arm_spread(v double(n), a int(n) coded 1..K, K int) -> n x K matrix
 * holding v[i] in the column of the arm unit i received, 0 elsewhere.       */
SEXP ffi_arm_spread(SEXP v, SEXP a, SEXP K_)
{
    cl_len n = Rf_xlength(a);
    int K = arg_scalar_int(K_, "K", 1, 1000000);
    const double *vp = arg_double(v, "v", n);
    int *a0 = arg_codes(a, "a", n, K);

    int nprot = 0;
    SEXP out = PROTECT(Rf_allocMatrix(REALSXP, arg_int_dim(n, "`a`"), K)); nprot++;
    arm_spread(vp, a0, n, K, REAL(out));
    UNPROTECT(nprot);
    return out;
}

/* ---- km.c, survival-curve.c ------------------------------------------------- */

/* ffi_km(time double(n) >= 0 finite, status int(n) 0/1, w double(n) >= 0,
 *        strata int(n) in 1..K, K int in 1..1e6)
 *   -> list(stratum, time, n_risk, n_event, n_censor, surv, std_err), one
 *      element per distinct (stratum, time), ordered by stratum then time;
 *      stratum in the codes 1..K given.
 * Work: 2 n keys, K + 1 offsets.                                            */
SEXP ffi_km(SEXP time, SEXP status, SEXP w, SEXP strata, SEXP K)
{
    int nstrata = arg_scalar_int(K, "K", 1, 1000000);
    const double *t = arg_finite(time, "time", -1);
    cl_len n = Rf_xlength(time);
    const int *d = arg_int(status, "status", n);
    const double *wt = arg_weights(w, "w", n, 0);
    int *s = arg_codes(strata, "strata", n, nstrata);
    for (cl_len i = 0; i < n; i++) {
        if (t[i] < 0) Rf_error("internal error: `time` must be non-negative");
        if (d[i] != 0 && d[i] != 1) Rf_error("internal error: `status` must be 0 or 1");
    }
    km_key *keys = (km_key *) R_alloc(n > 0 ? n : 1, sizeof(km_key));
    km_key *buf = (km_key *) R_alloc(n > 0 ? n : 1, sizeof(km_key));
    cl_len *start = (cl_len *) R_alloc((size_t) nstrata + 1, sizeof(cl_len));
    cl_len nrow = km_sort(t, s, n, nstrata, keys, start, buf, check_interrupt);

    int nprot = 0;
    const char *names[] = {"stratum", "time", "n_risk", "n_event", "n_censor",
                           "surv", "std_err", ""};
    SEXP out = PROTECT(Rf_mkNamed(VECSXP, names)); nprot++;
    SET_VECTOR_ELT(out, 0, Rf_allocVector(INTSXP, nrow));
    for (int e = 1; e < 7; e++) SET_VECTOR_ELT(out, e, Rf_allocVector(REALSXP, nrow));
    km_curve curve = {INTEGER(VECTOR_ELT(out, 0)), REAL(VECTOR_ELT(out, 1)),
                      REAL(VECTOR_ELT(out, 2)), REAL(VECTOR_ELT(out, 3)),
                      REAL(VECTOR_ELT(out, 4)), REAL(VECTOR_ELT(out, 5)),
                      REAL(VECTOR_ELT(out, 6))};
    km_curves(keys, start, nstrata, d, wt, &curve, check_interrupt);
    for (cl_len r = 0; r < nrow; r++) curve.stratum[r]++;
    UNPROTECT(nprot);
    return out;
}

/* ffi_aalen_johansen(time double(n) >= 0 finite, cause int(n) in 0..J
 *                    (0 censored), w double(n) >= 0, strata int(n) in 1..K,
 *                    K int in 1..1e6, J int in 1..1e4)
 *   -> list(stratum, time, n_risk, n_event, n_censor, surv, cif, std_err),
 *      one row per distinct (stratum, time), ordered by stratum then time;
 *      stratum in the codes 1..K given; cif and std_err nrow x J matrices.
 * Work: 2 n keys, K + 1 offsets, 4 J doubles.                               */
SEXP ffi_aalen_johansen(SEXP time, SEXP cause, SEXP w, SEXP strata, SEXP K, SEXP J)
{
    int nstrata = arg_scalar_int(K, "K", 1, 1000000);
    int ncause = arg_scalar_int(J, "J", 1, 10000);
    const double *t = arg_finite(time, "time", -1);
    cl_len n = Rf_xlength(time);
    const int *c = arg_int(cause, "cause", n);
    const double *wt = arg_weights(w, "w", n, 0);
    int *s = arg_codes(strata, "strata", n, nstrata);
    for (cl_len i = 0; i < n; i++) {
        if (t[i] < 0) Rf_error("internal error: `time` must be non-negative");
        if (c[i] < 0 || c[i] > ncause)
            Rf_error("internal error: `cause` must be in 0..%d", ncause);
    }
    km_key *keys = (km_key *) R_alloc(n > 0 ? n : 1, sizeof(km_key));
    km_key *buf = (km_key *) R_alloc(n > 0 ? n : 1, sizeof(km_key));
    cl_len *start = (cl_len *) R_alloc((size_t) nstrata + 1, sizeof(cl_len));
    cl_len nrow = km_sort(t, s, n, nstrata, keys, start, buf, check_interrupt);
    int rows = arg_int_dim(nrow, "the curves");
    arg_mul(nrow, ncause, "the curves");
    double *work = doubles((size_t) 4 * (size_t) ncause);

    int nprot = 0;
    const char *names[] = {"stratum", "time", "n_risk", "n_event", "n_censor",
                           "surv", "cif", "std_err", ""};
    SEXP out = PROTECT(Rf_mkNamed(VECSXP, names)); nprot++;
    SET_VECTOR_ELT(out, 0, Rf_allocVector(INTSXP, nrow));
    for (int e = 1; e < 6; e++) SET_VECTOR_ELT(out, e, Rf_allocVector(REALSXP, nrow));
    for (int e = 6; e < 8; e++) SET_VECTOR_ELT(out, e, Rf_allocMatrix(REALSXP, rows, ncause));
    aj_curve curve = {INTEGER(VECTOR_ELT(out, 0)), REAL(VECTOR_ELT(out, 1)),
                      REAL(VECTOR_ELT(out, 2)), REAL(VECTOR_ELT(out, 3)),
                      REAL(VECTOR_ELT(out, 4)), REAL(VECTOR_ELT(out, 5)),
                      REAL(VECTOR_ELT(out, 6)), REAL(VECTOR_ELT(out, 7)), nrow};
    aj_curves(keys, start, nstrata, ncause, c, wt, &curve, work, check_interrupt);
    for (cl_len r = 0; r < nrow; r++) curve.stratum[r]++;
    UNPROTECT(nprot);
    return out;
}

/* ffi_discrete_survival(lp n x K double finite, ctab K x Tmax double
 *                       finite, w double(n) >= 0 with a positive sum,
 *                       nthreads) -> K x Tmax
 * Work: discrete_survival_work_size(n, K, Tmax, nthreads) doubles.          */
SEXP ffi_discrete_survival(SEXP lp, SEXP ctab, SEXP w, SEXP nthreads)
{
    cl_len n;
    const double *wt;
    int K = arg_lp_weights(lp, w, &n, &wt);
    const double *ct = arg_finite(ctab, "ctab", -1);
    if (!Rf_isMatrix(ctab) || arg_nrow(ctab) != K)
        Rf_error("internal error: `ctab` must be a matrix with %d rows", K);
    int Tmax = arg_ncol(ctab);
    if (Tmax < 1) Rf_error("internal error: `ctab` needs at least one column");
    arg_mul(K, Tmax, "the curves");
    int nt = arg_nthreads(nthreads);
    double *work = doubles(discrete_survival_work_size(n, K, Tmax, nt));

    int nprot = 0;
    SEXP out = PROTECT(Rf_allocMatrix(REALSXP, K, Tmax)); nprot++;
    discrete_survival(REAL_RO(lp), n, K, ct, Tmax, wt, REAL(out), nt, work);
    UNPROTECT(nprot);
    return out;
}

/* The period part of a pooled-logistic hazard: ctab (a finite K x Tmax
 * matrix, Tmax >= 1, K x Tmax at most PT_MAX_TABLE) and, with_F, the period
 * terms F (a finite Tmax x q matrix). */
static pi_periods pooled_periods(SEXP ctab, SEXP F, int K, int with_F)
{
    pi_periods per = {.K = K};
    per.ctab = arg_finite(ctab, "ctab", -1);
    if (!Rf_isMatrix(ctab) || arg_nrow(ctab) != K)
        Rf_error("internal error: `ctab` must be a matrix with %d rows", K);
    per.Tmax = arg_ncol(ctab);
    if (per.Tmax < 1) Rf_error("internal error: `ctab` needs at least one column");
    if ((double) K * per.Tmax > PT_MAX_TABLE)
        Rf_error("internal error: `K` x `Tmax` must be at most %.0f", PT_MAX_TABLE);
    if (!with_F) return per;
    per.F = arg_finite(F, "F", -1);
    if (!Rf_isMatrix(F) || arg_nrow(F) != per.Tmax)
        Rf_error("internal error: `F` must be a matrix with %d rows", per.Tmax);
    per.q = arg_ncol(F);
    return per;
}

/* The coefficients pz + K q of a pooled-logistic model with arm-by-period
 * terms, or an error beyond INT_MAX. */
static int pooled_ncoef(int pz, int K, int q)
{
    double P = (double) pz + (double) K * q;
    if (P > INT_MAX) Rf_error("internal error: the hazard model has too many coefficients");
    return (int) P;
}

/* ffi_pooled_scores(X person design (matrix or design list, n x p0,
 *                   finite), intercept, lp double(n) finite, ctab K x Tmax
 *                   finite, F Tmax x q finite, arm int(n) 1..K, K, last
 *                   int(n) 0..Tmax, status int(n) 0/1, w double(n) >= 0,
 *                   nthreads) -> n x (p0 + intercept + K q)
 * Work: pi_scores_work_size(n, per, nthreads) doubles.                       */
SEXP ffi_pooled_scores(SEXP X, SEXP intercept, SEXP lp, SEXP ctab, SEXP F, SEXP arm,
                       SEXP K, SEXP last, SEXP status, SEXP w, SEXP nthreads)
{
    cp_design z = arg_design(X, arg_flag(intercept, "intercept"), "X");
    cl_len n = z.n;
    need_rows(n, "X");
    pi_periods per = pooled_periods(ctab, F, arg_scalar_int(K, "K", 1, 1000000), 1);
    pt_data data = arg_pt_data(arm, K, last, status, w, R_NilValue, n, per.Tmax);
    const double *l = arg_finite(lp, "lp", n);
    int P = pooled_ncoef(z.p, per.K, per.q);
    arg_mul(n, P, "the scores");
    int nt = arg_nthreads(nthreads);
    double *work = doubles(pi_scores_work_size(n, &per, nt));

    int nprot = 0;
    SEXP out = PROTECT(Rf_allocMatrix(REALSXP, (int) n, P)); nprot++;
    pi_scores(&data, &z, l, &per, REAL(out), nt, work, check_interrupt);
    UNPROTECT(nprot);
    return out;
}

/* ffi_pooled_arm_sums(X list of K person designs (n x p0, finite),
 *                     intercept, lp n x K finite, ctab K x Tmax finite,
 *                     F Tmax x q finite, v double(n) >= 0, Phi NULL or
 *                     n x P finite (P = p0 + intercept + K q), Sbar NULL
 *                     (with Phi NULL) or K x Tmax finite, nthreads)
 *   -> list(G (K Tmax) x P, ij_var K x Tmax, C (K Tmax) x P)
 * Work: pi_arm_sums_work_size() doubles.                                    */
SEXP ffi_pooled_arm_sums(SEXP X, SEXP intercept, SEXP lp, SEXP ctab, SEXP F, SEXP v,
                         SEXP Phi, SEXP Sbar, SEXP nthreads)
{
    int icpt = arg_flag(intercept, "intercept");
    arg_finite(lp, "lp", -1);
    if (!Rf_isMatrix(lp)) Rf_error("internal error: `lp` must be a matrix");
    cl_len n = arg_nrow(lp);
    need_rows(n, "lp");
    int K = arg_ncol(lp);
    if (K < 1) Rf_error("internal error: `lp` needs at least one column");
    pi_periods per = pooled_periods(ctab, F, K, 1);
    if (TYPEOF(X) != VECSXP || Rf_xlength(X) != K)
        Rf_error("internal error: `X` must be a list of %d designs", K);
    cp_design first = arg_design(VECTOR_ELT(X, 0), icpt, "X");
    if (first.n != n) Rf_error("internal error: `X` must hold designs of %.0f rows", (double) n);
    pi_people pp = {.n = n, .lp = REAL_RO(lp), .v = arg_weights(v, "v", n, 0),
                    .z = arg_designs(X, icpt, &first, K, "X")};
    int P = pooled_ncoef(first.p, K, per.q);
    cl_len kt = (cl_len) K * per.Tmax;
    arg_mul(kt, P, "the curves' derivatives");
    cp_design phi;
    if (Rf_isNull(Phi) != Rf_isNull(Sbar))
        Rf_error("internal error: `Phi` and `Sbar` must both be NULL or both given");
    if (!Rf_isNull(Phi)) {
        phi = arg_design(Phi, 0, "Phi");
        if (!Rf_isMatrix(Phi) || phi.n != n || phi.p != P)
            Rf_error("internal error: `Phi` must be a %.0f x %d matrix", (double) n, P);
        pp.phi = &phi;
        pp.Sbar = arg_finite(Sbar, "Sbar", kt);
        if (!Rf_isMatrix(Sbar) || arg_nrow(Sbar) != K)
            Rf_error("internal error: `Sbar` must be a matrix with %d rows", K);
    }
    int nt = arg_nthreads(nthreads);
    double *work = doubles(pi_arm_sums_work_size(&pp, &per, nt));

    int nprot = 0;
    SEXP G = PROTECT(Rf_allocMatrix(REALSXP, (int) kt, P)); nprot++;
    SEXP ij = PROTECT(Rf_allocMatrix(REALSXP, K, per.Tmax)); nprot++;
    SEXP C = PROTECT(Rf_allocMatrix(REALSXP, (int) kt, P)); nprot++;
    pi_arm_sums(&pp, &per, REAL(G), REAL(ij), REAL(C), nt, work, check_interrupt);
    SEXP out = PROTECT(Rf_allocVector(VECSXP, 3)); nprot++;
    SET_VECTOR_ELT(out, 0, G);
    SET_VECTOR_ELT(out, 1, ij);
    SET_VECTOR_ELT(out, 2, C);
    SEXP names = PROTECT(Rf_allocVector(STRSXP, 3)); nprot++;
    SET_STRING_ELT(names, 0, Rf_mkChar("G"));
    SET_STRING_ELT(names, 1, Rf_mkChar("ij_var"));
    SET_STRING_ELT(names, 2, Rf_mkChar("C"));
    Rf_setAttrib(out, R_NamesSymbol, names);
    UNPROTECT(nprot);
    return out;
}

/* ffi_pooled_functionals(lp n x K finite, ctab K x Tmax finite, L Tmax x r
 *                        finite, arm int(r) 1..K, rows NULL or int 1..n,
 *                        nthreads) -> nrows x r
 * Work: pi_functionals_work_size(nrows, per, nthreads) doubles.           */
SEXP ffi_pooled_functionals(SEXP lp, SEXP ctab, SEXP L, SEXP arm, SEXP rows, SEXP nthreads)
{
    arg_finite(lp, "lp", -1);
    if (!Rf_isMatrix(lp)) Rf_error("internal error: `lp` must be a matrix");
    cl_len n = arg_nrow(lp);
    int K = arg_ncol(lp);
    if (K < 1) Rf_error("internal error: `lp` needs at least one column");
    pi_periods per = pooled_periods(ctab, R_NilValue, K, 0);
    const double *Lp = arg_finite(L, "L", -1);
    if (!Rf_isMatrix(L) || arg_nrow(L) != per.Tmax)
        Rf_error("internal error: `L` must be a matrix with %d rows", per.Tmax);
    int r = arg_ncol(L);
    const int *a = arg_codes(arm, "arm", r, K);
    const int *rw = Rf_isNull(rows) ? NULL : arg_rows(rows, "rows", (int) n, 0);
    cl_len nrows = rw ? Rf_xlength(rows) : n;
    arg_mul(nrows, r, "the influence functions");
    int nt = arg_nthreads(nthreads);
    double *work = doubles(pi_functionals_work_size(nrows, &per, nt));

    int nprot = 0;
    SEXP out = PROTECT(Rf_allocMatrix(REALSXP, (int) nrows, r)); nprot++;
    pi_functionals(REAL_RO(lp), n, rw, nrows, &per, Lp, a, r, REAL(out), nt, work,
                   check_interrupt);
    UNPROTECT(nprot);
    return out;
}

/* ffi_cox_survival(lp n x K double finite, H0 double(m) non-decreasing >= 0,
 *                  w double(n) >= 0 with a positive sum, nthreads) -> K x m
 * Work: cox_survival_work_size(n, K, m, nthreads) doubles.                  */
SEXP ffi_cox_survival(SEXP lp, SEXP H0, SEXP w, SEXP nthreads)
{
    cl_len n;
    const double *wt;
    int K = arg_lp_weights(lp, w, &n, &wt);
    const double *h = arg_finite(H0, "H0", -1);
    cl_len m = Rf_xlength(H0);
    if (m < 1 || m > INT_MAX) Rf_error("internal error: `H0` must have 1 to %d values", INT_MAX);
    for (cl_len j = 0; j < m; j++)
        if (h[j] < 0 || (j > 0 && h[j] < h[j - 1]))
            Rf_error("internal error: `H0` must be non-negative and non-decreasing");
    arg_mul(K, m, "the curves");
    int nt = arg_nthreads(nthreads);
    double *work = doubles(cox_survival_work_size(n, K, (int) m, nt));

    int nprot = 0;
    SEXP out = PROTECT(Rf_allocMatrix(REALSXP, K, (int) m)); nprot++;
    cox_survival(REAL_RO(lp), n, K, h, (int) m, wt, REAL(out), nt, work);
    UNPROTECT(nprot);
    return out;
}

/* ---- matching.c ------------------------------------------------------------- */

/* The work of match_nearest() for u and k (see matching.h). */
static match_work match_work_alloc(const match_units *u, int k)
{
    size_t m = (size_t) u->n_pool, m1 = m > 0 ? m : 1;
    match_work w = {0};
    if (u->p == 1) {
        w.keys = (match_key *) R_alloc(m1, sizeof(match_key));
        w.score = doubles(m);
        w.left = ints(m);
        w.right = ints(m);
        w.rank_left = ints(m);
        w.rank_right = ints(m);
        w.up_left = ints(m + 1);
        w.up_right = ints(m + 1);
    } else {
        w.avail = R_alloc(m1, sizeof(char));
    }
    w.best = ints((size_t) k);
    w.best_d = doubles((size_t) k);
    w.n_got = ints((size_t) u->n_focal);
    return w;
}

/* ffi_match_nearest(x double p x n finite, focal int (1-based rows, in
 *                   matching order), pool int (1-based rows, strictly
 *                   ascending), k int in 1..max(1, n), caliper double > 0
 *                   (Inf: none),
 *                   replace TRUE/FALSE, cal_x double q x n finite or NULL,
 *                   cal_width double(q) finite > 0 (NULL when cal_x is))
 *   -> list(match = int n_focal x k, matched rows (1-based) nearest first,
 *           NA where a focal unit got fewer than k;
 *           distance = double n_focal x k, NA likewise)
 * Work: see matching.h.                                                     */
SEXP ffi_match_nearest(SEXP x, SEXP focal, SEXP pool, SEXP k, SEXP caliper,
                       SEXP replace, SEXP cal_x, SEXP cal_width)
{
    const double *xp = arg_double(x, "x", -1);
    if (!Rf_isMatrix(x) || Rf_nrows(x) < 1)
        Rf_error("internal error: `x` must be a matrix with at least one row");
    arg_finite(x, "x", -1);
    int n = Rf_ncols(x);
    /* More matches than the pool holds leave NA; more than there are
     * units would only size the output (n_focal x k). */
    int kk = arg_scalar_int(k, "k", 1, n > 1 ? n : 1);
    double cal = arg_double(caliper, "caliper", 1)[0];
    if (ISNAN(cal) || cal <= 0)
        Rf_error("internal error: `caliper` must be a positive number or Inf");
    int rep = arg_flag(replace, "replace");
    const double *cxp = NULL, *cwp = NULL;
    int q = 0;
    if (!Rf_isNull(cal_x)) {
        cxp = arg_double(cal_x, "cal_x", -1);
        if (!Rf_isMatrix(cal_x) || Rf_ncols(cal_x) != n || Rf_nrows(cal_x) < 1)
            Rf_error("internal error: `cal_x` must be a matrix with one column per unit");
        arg_finite(cal_x, "cal_x", -1);
        q = Rf_nrows(cal_x);
        cwp = arg_finite(cal_width, "cal_width", q);
        for (int c = 0; c < q; c++) {
            if (cwp[c] <= 0)
                Rf_error("internal error: `cal_width` must be positive");
        }
    } else if (!Rf_isNull(cal_width)) {
        Rf_error("internal error: `cal_width` needs `cal_x`");
    }
    match_units u = {xp, n, Rf_nrows(x), arg_rows(focal, "focal", n, 0),
                     (int) Rf_xlength(focal), arg_rows(pool, "pool", n, 1),
                     (int) Rf_xlength(pool), cxp, cwp, q};
    match_work w = match_work_alloc(&u, kk);

    int nprot = 0;
    const char *names[] = {"match", "distance", ""};
    SEXP out = PROTECT(Rf_mkNamed(VECSXP, names)); nprot++;
    SEXP mt = Rf_allocMatrix(INTSXP, u.n_focal, kk);
    SET_VECTOR_ELT(out, 0, mt);
    SEXP dt = Rf_allocMatrix(REALSXP, u.n_focal, kk);
    SET_VECTOR_ELT(out, 1, dt);
    int *mp = INTEGER(mt);
    double *dp = REAL(dt);
    match_nearest(&u, kk, cal, rep, &w, mp, dp, check_interrupt);
    for (R_xlen_t c = 0; c < Rf_xlength(mt); c++) {
        if (mp[c] < 0) {
            mp[c] = NA_INTEGER;
            dp[c] = NA_REAL;
        } else {
            mp[c]++;
        }
    }
    UNPROTECT(nprot);
    return out;
}

/* ---- metrics.c -------------------------------------------------------------- */

/* ffi_roc(score double(n) finite, pos double(n) >= 0, neg double(n) >= 0)
 *   -> list(threshold, tpr, fpr, precision) of length m (distinct scores,
 *      descending), auc.
 * Work: 2 n keys.                                                           */
SEXP ffi_roc(SEXP score, SEXP pos, SEXP neg)
{
    const double *s = arg_finite(score, "score", -1);
    cl_len n = Rf_xlength(score);
    const double *pp = arg_weights(pos, "pos", n, 0), *np = arg_weights(neg, "neg", n, 0);

    met_key *keys = (met_key *) R_alloc(n > 0 ? n : 1, sizeof(met_key));
    met_key *buf = (met_key *) R_alloc(n > 0 ? n : 1, sizeof(met_key));
    cl_len m = roc_sort(s, n, keys, buf);
    R_CheckUserInterrupt();

    int nprot = 0;
    const char *names[] = {"threshold", "tpr", "fpr", "precision", "auc", ""};
    SEXP out = PROTECT(Rf_mkNamed(VECSXP, names)); nprot++;
    for (int e = 0; e < 4; e++) SET_VECTOR_ELT(out, e, Rf_allocVector(REALSXP, m));
    SET_VECTOR_ELT(out, 4, Rf_allocVector(REALSXP, 1));
    roc_points pts = {REAL(VECTOR_ELT(out, 0)), REAL(VECTOR_ELT(out, 1)),
                      REAL(VECTOR_ELT(out, 2)), REAL(VECTOR_ELT(out, 3))};
    int status = roc_fill(keys, n, pp, np, &pts, REAL(VECTOR_ELT(out, 4)));
    if (status == ROC_NO_POS)
        Rf_error("internal error: `pos` must have a positive, finite total");
    if (status == ROC_NO_NEG)
        Rf_error("internal error: `neg` must have a positive, finite total");
    UNPROTECT(nprot);
    return out;
}

/* ffi_group_moments(X n x p double finite, group int(n) in 1..G,
 *                   w double(n) >= 0, G int in 1..1e6)
 *   -> list(sum_w (G), sum_w2 (G), mean (G x p), ss (G x p)); mean and ss
 *      are NA for a group of zero weight.
 * Work: G doubles.                                                          */
SEXP ffi_group_moments(SEXP X, SEXP group, SEXP w, SEXP G)
{
    int ng = arg_scalar_int(G, "G", 1, 1000000);
    const double *x = arg_finite(X, "X", -1);
    cl_len n = arg_nrow(X);
    int p = arg_ncol(X);
    int *gr = arg_codes(group, "group", n, ng);
    const double *wt = arg_weights(w, "w", n, 0);

    int nprot = 0;
    const char *names[] = {"sum_w", "sum_w2", "mean", "ss", ""};
    SEXP out = PROTECT(Rf_mkNamed(VECSXP, names)); nprot++;
    SET_VECTOR_ELT(out, 0, Rf_allocVector(REALSXP, ng));
    SET_VECTOR_ELT(out, 1, Rf_allocVector(REALSXP, ng));
    SET_VECTOR_ELT(out, 2, Rf_allocMatrix(REALSXP, ng, p));
    SET_VECTOR_ELT(out, 3, Rf_allocMatrix(REALSXP, ng, p));
    double *sum_w = REAL(VECTOR_ELT(out, 0)), *mean = REAL(VECTOR_ELT(out, 2)),
           *ss = REAL(VECTOR_ELT(out, 3));
    group_moments(x, n, p, gr, wt, ng, sum_w, REAL(VECTOR_ELT(out, 1)), mean, ss,
                  doubles((size_t) ng), check_interrupt);
    for (int j = 0; j < p; j++)
        for (int g = 0; g < ng; g++)
            if (!(sum_w[g] > 0)) mean[(size_t) j * ng + g] = ss[(size_t) j * ng + g] = NA_REAL;
    UNPROTECT(nprot);
    return out;
}

/* ffi_weighted_ks(X n x p double finite, group int(n) 1/2, w double(n) >= 0,
 *                 each group of positive, finite total weight) -> double(p).
 * Work: 2 n keys.                                                           */
SEXP ffi_weighted_ks(SEXP X, SEXP group, SEXP w)
{
    const double *x = arg_finite(X, "X", -1);
    cl_len n = arg_nrow(X);
    int p = arg_ncol(X);
    int *gr = arg_codes(group, "group", n, 2);
    const double *wt = arg_weights(w, "w", n, 0);
    double W[2], W2[2];
    moments_totals(gr, wt, n, 2, W, W2);
    for (int g = 0; g < 2; g++)
        if (!(W[g] > 0 && R_FINITE(W[g])))
            Rf_error("internal error: group %d must have a positive, finite total weight", g + 1);

    met_key *keys = (met_key *) R_alloc(n > 0 ? n : 1, sizeof(met_key));
    met_key *buf = (met_key *) R_alloc(n > 0 ? n : 1, sizeof(met_key));
    int nprot = 0;
    SEXP out = PROTECT(Rf_allocVector(REALSXP, p)); nprot++;
    weighted_ks(x, n, p, gr, wt, W, REAL(out), keys, buf, check_interrupt);
    UNPROTECT(nprot);
    return out;
}
