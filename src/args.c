/*
 * Reading .Call arguments: type, length, missing and infinite values,
 * ranges, and sizes (products in 64 bits, checked before anything is
 * allocated).  Every entry point unpacks its arguments here; errors are
 * internal errors, since R checks what users give.
 */
#include <limits.h>
#include <math.h>
#include <string.h>
#include "args.h"

_Static_assert(sizeof(cl_len) == sizeof(R_xlen_t), "cl_len must be R_xlen_t");

/* Rows of x: its first dimension, or its length if not a matrix. */
cl_len arg_nrow(SEXP x)
{
    if (!Rf_isMatrix(x)) return Rf_xlength(x);
    return Rf_nrows(x);
}

/* Columns of x: its second dimension, or 1 if not a matrix. */
int arg_ncol(SEXP x)
{
    if (!Rf_isMatrix(x)) return 1;
    return Rf_ncols(x);
}

/* a * b (a, b >= 0), erroring instead of exceeding R_XLEN_T_MAX, which
 * also keeps every size_t sum of a few such products from wrapping. */
cl_len arg_mul(cl_len a, cl_len b, const char *what)
{
    if (a < 0 || b < 0 || (a > 0 && b > R_XLEN_T_MAX / a))
        Rf_error("internal error: %s is too large", what);
    return a * b;
}

/* v as an int (an R matrix dimension), or an error. */
int arg_int_dim(cl_len v, const char *what)
{
    if (v < 0 || v > INT_MAX) Rf_error("internal error: %s is too large", what);
    return (int) v;
}

/* Errors unless x has length len (len < 0: any length). */
static void check_length(SEXP x, const char *arg, cl_len len)
{
    if (len >= 0 && Rf_xlength(x) != len)
        Rf_error("internal error: `%s` has length %.0f, expected %.0f", arg,
                 (double) Rf_xlength(x), (double) len);
}

/* x (double, length len or any when len < 0) as a pointer. */
const double *arg_double(SEXP x, const char *arg, cl_len len)
{
    if (TYPEOF(x) != REALSXP)
        Rf_error("internal error: `%s` must be a double vector", arg);
    check_length(x, arg, len);
    return REAL_RO(x);
}

/* x (integer, length len or any when len < 0) as a pointer. */
const int *arg_int(SEXP x, const char *arg, cl_len len)
{
    if (TYPEOF(x) != INTSXP)
        Rf_error("internal error: `%s` must be an integer vector", arg);
    check_length(x, arg, len);
    return INTEGER_RO(x);
}

/* The error for a missing or infinite value of arg. */
NORET void arg_abort_nonfinite(const char *arg)
{
    Rf_error("internal error: `%s` has a missing or infinite value", arg);
}

/* x as arg_double() reads it, every value finite. */
const double *arg_finite(SEXP x, const char *arg, cl_len len)
{
    const double *v = arg_double(x, arg, len);
    if (!cp_all_finite(v, Rf_xlength(x))) arg_abort_nonfinite(arg);
    return v;
}

/* NULL for R's NULL, else arg_finite(). */
const double *arg_finite_or_null(SEXP x, const char *arg, cl_len len)
{
    return Rf_isNull(x) ? NULL : arg_finite(x, arg, len);
}

/* Weights: finite, >= 0, and with positive_sum summing to more than 0. */
const double *arg_weights(SEXP x, const char *arg, cl_len len, int positive_sum)
{
    const double *v = arg_finite(x, arg, len);
    cl_len n = Rf_xlength(x);
    double total = 0.0;
    for (cl_len i = 0; i < n; i++) {
        if (v[i] < 0) Rf_error("internal error: `%s` must be non-negative", arg);
        total += v[i];
    }
    if (positive_sum && !(total > 0))
        Rf_error("internal error: `%s` must have a positive sum", arg);
    return v;
}

/* NULL for R's NULL, else arg_weights() (any sum). */
const double *arg_weights_or_null(SEXP x, const char *arg, cl_len len)
{
    return Rf_isNull(x) ? NULL : arg_weights(x, arg, len, 0);
}

/*
 * Inputs:  a (integer, length n) holding codes 1..K.
 * Returns: the codes 0-based, n ints of R_alloc() memory.
 */
int *arg_codes(SEXP a, const char *arg, cl_len n, int K)
{
    const int *v = arg_int(a, arg, n);
    int *codes = (int *) R_alloc(n > 0 ? (size_t) n : 1, sizeof(int));
    for (cl_len i = 0; i < n; i++) {
        /* NA_INTEGER is INT_MIN, below 1. */
        if (v[i] == NA_INTEGER || v[i] < 1 || v[i] > K)
            Rf_error("internal error: `%s` must hold codes 1 to %d", arg, K);
        codes[i] = v[i] - 1;
    }
    return codes;
}

/* Rows 1..n of an integer vector (at most INT_MAX long), 0-based in
 * R_alloc() memory; with ascending, strictly increasing. */
int *arg_rows(SEXP rows, const char *arg, int n, int ascending)
{
    cl_len len = Rf_xlength(rows);
    if (len > INT_MAX) Rf_error("internal error: `%s` has too many rows", arg);
    int *r = arg_codes(rows, arg, len, n);
    if (ascending)
        for (cl_len j = 1; j < len; j++)
            if (r[j] <= r[j - 1])
                Rf_error("internal error: `%s` must be strictly ascending", arg);
    return r;
}

/*
 * Inputs:  counts, an integer matrix with n rows.
 * Outputs: *R, its columns.
 * Returns: the counts, each non-negative, each column summing to n.
 */
const int *arg_counts(SEXP counts, cl_len n, int *R)
{
    const int *c = arg_int(counts, "counts", -1);
    if (arg_nrow(counts) != n)
        Rf_error("internal error: `counts` must have %.0f rows", (double) n);
    *R = arg_ncol(counts);
    for (int r = 0; r < *R; r++) {
        cl_len total = 0;
        for (cl_len i = 0; i < n; i++) {
            int v = c[(size_t) r * n + i];
            if (v == NA_INTEGER || v < 0)
                Rf_error("internal error: `counts` must be non-negative");
            total += v;
        }
        /* Also what bounds the workspace of the truncation quantile. */
        if (total != n)
            Rf_error("internal error: every column of `counts` must sum to %.0f", (double) n);
    }
    return c;
}

/* A single number x as an int in lo..hi. */
int arg_scalar_int(SEXP x, const char *arg, int lo, int hi)
{
    if (Rf_xlength(x) != 1 || (TYPEOF(x) != INTSXP && TYPEOF(x) != REALSXP))
        Rf_error("internal error: `%s` must be a single number", arg);
    int v = Rf_asInteger(x);
    if (v == NA_INTEGER || v < lo || v > hi)
        Rf_error("internal error: `%s` must be between %d and %d", arg, lo, hi);
    return v;
}

/* A single finite number x as a double. */
double arg_scalar_double(SEXP x, const char *arg)
{
    if (Rf_xlength(x) != 1 || (TYPEOF(x) != INTSXP && TYPEOF(x) != REALSXP))
        Rf_error("internal error: `%s` must be a single number", arg);
    double v = Rf_asReal(x);
    if (!R_FINITE(v)) Rf_error("internal error: `%s` must be finite", arg);
    return v;
}

/* TRUE or FALSE (a single logical or number, not NA) as 1 or 0. */
int arg_flag(SEXP x, const char *arg)
{
    int type = TYPEOF(x);
    int v = Rf_xlength(x) == 1 && (type == LGLSXP || type == INTSXP || type == REALSXP)
            ? Rf_asLogical(x) : NA_LOGICAL;
    if (v == NA_LOGICAL) Rf_error("internal error: `%s` must be TRUE or FALSE", arg);
    return v;
}

/* The thread count asked for, 1..1024 (cl_threads() decides the rest). */
int arg_nthreads(SEXP x)
{
    return arg_scalar_int(x, "nthreads", 1, 1024);
}

/* Checks one column of a design list (see arg_design_unchecked()): NULL
 * (ones) or a double vector with level 0, or integer codes 1..L with a
 * levels attribute of length L and level in 1..L.  `checked` is the last
 * code vector already read, which consecutive indicators of one factor
 * share. */
static void check_design_column(SEXP col, int level, cl_len n, SEXP checked, const char *arg)
{
    if (Rf_isNull(col) || TYPEOF(col) == REALSXP) {
        if (level != 0)
            Rf_error("internal error: `%s` has a level for a column that is not a factor", arg);
        if (!Rf_isNull(col)) check_length(col, arg, n);
        return;
    }
    if (TYPEOF(col) != INTSXP)
        Rf_error("internal error: the columns of `%s` must be double, factor codes or NULL", arg);
    check_length(col, arg, n);
    int L = Rf_length(Rf_getAttrib(col, R_LevelsSymbol));
    if (level < 1 || level > L)
        Rf_error("internal error: `%s` has an indicator of level %d of a factor with %d levels",
                 arg, level, L);
    if (col == checked) return;
    const int *g = INTEGER_RO(col);
    for (cl_len i = 0; i < n; i++)
        /* NA_INTEGER is INT_MIN, below 1. */
        if (g[i] < 1 || g[i] > L)
            Rf_error("internal error: `%s` has a factor code outside 1..%d", arg, L);
}

/* The number of rows of a design list, a single whole number >= 0. */
static cl_len design_list_rows(SEXP n, const char *arg)
{
    if (Rf_xlength(n) != 1 || (TYPEOF(n) != INTSXP && TYPEOF(n) != REALSXP))
        Rf_error("internal error: `%s` must give its number of rows", arg);
    double v = Rf_asReal(n);
    /* A data frame has at most INT_MAX rows, and so has every matrix; a
     * bound also on designs whose columns are all ones, which no vector
     * of n values backs. */
    if (!(v >= 0 && v <= (double) INT_MAX) || v != floor(v))
        Rf_error("internal error: `%s` must give its number of rows", arg);
    return (cl_len) v;
}

/* The design of X with an implicit first column of ones when intercept is
 * 1; X's double values unchecked.  X is a double matrix, or a design list
 * list(columns, level, n) whose columns are read in place: columns[[j]] is
 * a double vector of length n, NULL for a column of ones, or factor codes
 * (integer 1..L, no NA, with L levels) read as the indicator of code
 * level[j]; level (integer, one per column) is 0 for the first two kinds.
 * Everything is checked before the columns are allocated. */
cp_design arg_design_unchecked(SEXP X, int intercept, const char *arg)
{
    cl_len n;
    int ncol;
    SEXP cols = R_NilValue;
    const int *level = NULL;
    if (TYPEOF(X) == VECSXP) {
        if (Rf_xlength(X) < 3 || TYPEOF(VECTOR_ELT(X, 0)) != VECSXP)
            Rf_error("internal error: `%s` must be a matrix or a list of columns", arg);
        cols = VECTOR_ELT(X, 0);
        if (Rf_xlength(cols) > INT_MAX) Rf_error("internal error: `%s` has too many columns", arg);
        ncol = (int) Rf_xlength(cols);
        level = arg_int(VECTOR_ELT(X, 1), arg, ncol);
        n = design_list_rows(VECTOR_ELT(X, 2), arg);
        SEXP checked = R_NilValue;
        for (int j = 0; j < ncol; j++) {
            check_design_column(VECTOR_ELT(cols, j), level[j], n, checked, arg);
            if (level[j] > 0) checked = VECTOR_ELT(cols, j);
        }
    } else {
        arg_double(X, arg, -1);
        n = arg_nrow(X);
        ncol = arg_ncol(X);
    }
    if (ncol > INT_MAX - intercept) Rf_error("internal error: `%s` has too many columns", arg);
    arg_mul(n, (cl_len) ncol + intercept, "the design");
    cp_design d = {NULL, n, ncol + intercept, intercept};
    cp_col *c = (cp_col *) R_alloc(d.p > 0 ? (size_t) d.p : 1, sizeof(cp_col));
    if (intercept) c[0] = (cp_col) {NULL, NULL, 0};
    for (int j = 0; j < ncol; j++) {
        cp_col *cj = c + intercept + j;
        *cj = (cp_col) {NULL, NULL, 0};
        if (!Rf_isNull(cols)) {
            SEXP col = VECTOR_ELT(cols, j);
            if (TYPEOF(col) == REALSXP) cj->x = REAL_RO(col);
            else if (TYPEOF(col) == INTSXP) *cj = (cp_col) {NULL, INTEGER_RO(col), level[j]};
        } else {
            cj->x = REAL_RO(X) + (size_t) j * n;
        }
    }
    d.cols = c;
    return d;
}

/* The design of X (see arg_design_unchecked()), its doubles finite. */
cp_design arg_design(SEXP X, int intercept, const char *arg)
{
    cp_design d = arg_design_unchecked(X, intercept, arg);
    for (int j = 0; j < d.p; j++)
        if (d.cols[j].x && !cp_all_finite(d.cols[j].x, d.n)) arg_abort_nonfinite(arg);
    return d;
}

void arg_center(SEXP center, cp_design *d, const char *arg)
{
    d->center = Rf_isNull(center) ? NULL : arg_finite(center, arg, d->p);
}

/* K designs from a list of K designs (matrices or design lists, see
 * arg_design()), each finite and of like's dimensions; R_alloc() memory. */
cp_design *arg_designs(SEXP list, int intercept, const cp_design *like, int K,
                       const char *arg)
{
    if (TYPEOF(list) != VECSXP || Rf_xlength(list) != K)
        Rf_error("internal error: `%s` must be a list of %d matrices", arg, K);
    cp_design *d = (cp_design *) R_alloc(K, sizeof(cp_design));
    for (int k = 0; k < K; k++) {
        d[k] = arg_design(VECTOR_ELT(list, k), intercept, arg);
        if (d[k].n != like->n || d[k].p != like->p)
            Rf_error("internal error: `%s` must hold matrices of the dimensions of the design",
                     arg);
    }
    return d;
}

/* A glm_spec for p coefficients (see args.h). */
glm_spec arg_glm_spec(int family, SEXP maxit, SEXP epsilon, SEXP penalty, int p,
                      int nthreads)
{
    glm_spec spec = {
        .family = family,
        .maxit = arg_scalar_int(maxit, "maxit", 1, 100000),
        .epsilon = arg_scalar_double(epsilon, "epsilon"),
        .penalty = Rf_isNull(penalty) ? NULL : arg_weights(penalty, "penalty", p, 0),
        .nthreads = nthreads,
        .interrupt = NULL
    };
    if (!(spec.epsilon > 0)) Rf_error("internal error: `epsilon` must be positive");
    return spec;
}

/* A glm_spec from list(family, maxit, epsilon, penalty), one thread. */
glm_spec arg_glm_spec_list(SEXP spec, int p, const char *arg)
{
    if (TYPEOF(spec) != VECSXP || Rf_xlength(spec) != 4)
        Rf_error("internal error: `%s` must be a list of 4", arg);
    return arg_glm_spec(arg_scalar_int(VECTOR_ELT(spec, 0), "family", 0, 2),
                        VECTOR_ELT(spec, 1), VECTOR_ELT(spec, 2), VECTOR_ELT(spec, 3), p, 1);
}

/* IP weight options for K levels (see args.h). */
ipw_opts arg_ipw_opts(int estimand, SEXP target, SEXP clip, SEXP truncate, int K)
{
    const double *cl = arg_finite(clip, "clip", 2);
    if (!(cl[0] >= 0 && cl[0] < cl[1] && cl[1] <= 1))
        Rf_error("internal error: `clip` must be c(lower, upper) with 0 <= lower < upper <= 1");
    double q = arg_double(truncate, "truncate", 1)[0];
    if (!ISNAN(q) && (q <= 0 || q > 1))
        Rf_error("internal error: `truncate` must be in (0, 1]");
    ipw_opts o = {
        .estimand = estimand,
        .target = arg_scalar_int(target, "target", 1, K) - 1,
        .clip_lo = cl[0], .clip_hi = cl[1],
        .q = q
    };
    return o;
}

/* The arms and sampling weights of a bootstrap (see args.h). */
void arg_boot_arms(boot_data *d, SEXP a, SEXP K, SEXP sw)
{
    d->K = arg_scalar_int(K, "K", 2, 10000);
    d->a = arg_codes(a, "a", d->x.n, d->K);
    d->sw = arg_weights(sw, "sw", d->x.n, 1);
}

/* Persons' linear predictors and weights (see args.h). */
int arg_lp_weights(SEXP lp, SEXP w, cl_len *n, const double **wt)
{
    arg_finite(lp, "lp", -1);
    int K = arg_ncol(lp);
    if (K < 1) Rf_error("internal error: `lp` needs at least one column");
    *n = arg_nrow(lp);
    *wt = arg_weights(w, "w", *n, 1);
    return K;
}

/*
 * Inputs:  arm (int(n), 1..K), K, last (int(n), 0..Tmax), status (int(n),
 *          0/1, 1 only with last >= 1), w (double(n) >= 0), cens (NULL or
 *          list(lc (n), cc (K x Tmax), ln (n) or NULL, cn (K x Tmax) or
 *          NULL), finite).
 * Returns: the person-time data, pointing into the arguments (arm into
 *          R_alloc() memory).
 */
pt_data arg_pt_data(SEXP arm, SEXP K, SEXP last, SEXP status, SEXP w, SEXP cens,
                    cl_len n, int Tmax)
{
    pt_data data = {.n = n, .Tmax = Tmax};
    data.K = arg_scalar_int(K, "K", 1, 1000000);
    if ((double) data.K * Tmax > PT_MAX_TABLE)
        Rf_error("internal error: `K` x `Tmax` must be at most %.0f", PT_MAX_TABLE);
    data.arm = arg_codes(arm, "arm", n, data.K);
    data.last = arg_int(last, "last", n);
    data.status = arg_int(status, "status", n);
    data.w = arg_weights(w, "w", n, 0);
    for (cl_len i = 0; i < n; i++) {
        int l = data.last[i], s = data.status[i];
        if (l == NA_INTEGER || l < 0 || l > Tmax)
            Rf_error("internal error: `last` must be between 0 and %d", Tmax);
        if (s != 0 && s != 1)
            Rf_error("internal error: `status` must be 0 or 1");
        if (s == 1 && l == 0)
            Rf_error("internal error: an event (`status` 1) needs `last` >= 1");
    }
    if (Rf_isNull(cens)) return data;
    if (TYPEOF(cens) != VECSXP || Rf_xlength(cens) != 4)
        Rf_error("internal error: `cens` must be NULL or a list of 4");
    cl_len kt = (cl_len) data.K * Tmax;
    SEXP ln = VECTOR_ELT(cens, 2), cn = VECTOR_ELT(cens, 3);
    data.lc = arg_finite(VECTOR_ELT(cens, 0), "cens$lc", n);
    data.cc = arg_finite(VECTOR_ELT(cens, 1), "cens$cc", kt);
    if (Rf_isNull(ln) != Rf_isNull(cn))
        Rf_error("internal error: `cens$ln` and `cens$cn` must both be NULL or both given");
    data.ln = arg_finite_or_null(ln, "cens$ln", n);
    data.cn = arg_finite_or_null(cn, "cens$cn", kt);
    return data;
}

/* The element `name` of the list x. */
SEXP arg_elt(SEXP x, const char *name, const char *arg)
{
    if (TYPEOF(x) != VECSXP) Rf_error("internal error: `%s` must be a list", arg);
    SEXP names = Rf_getAttrib(x, R_NamesSymbol);
    for (R_xlen_t e = 0; e < Rf_xlength(x) && !Rf_isNull(names); e++)
        if (strcmp(CHAR(STRING_ELT(names, e)), name) == 0) return VECTOR_ELT(x, e);
    Rf_error("internal error: `%s` has no element `%s`", arg, name);
}

/* K offsets (see args.h). */
const double *const *arg_offsets(SEXP list, cl_len n, int K, const char *arg)
{
    const double **off = (const double **) R_alloc(K > 0 ? (size_t) K : 1, sizeof(double *));
    int given = !Rf_isNull(list);
    if (given && (TYPEOF(list) != VECSXP || Rf_xlength(list) != K))
        Rf_error("internal error: `%s` must be NULL or a list of %d offsets", arg, K);
    for (int k = 0; k < K; k++)
        off[k] = given ? arg_finite_or_null(VECTOR_ELT(list, k), arg, n) : NULL;
    return off;
}

/* The weight model of a bootstrap (see args.h). */
int arg_boot_weight_model(SEXP wm, SEXP a, SEXP K, boot_data *d, ipw_opts *o)
{
    const char *arg = "weight_model";
    d->x = arg_design(arg_elt(wm, "X", arg), arg_flag(arg_elt(wm, "intercept", arg), "intercept"),
                      "weight_model$X");
    arg_boot_arms(d, a, K, arg_elt(wm, "sw", arg));
    d->offset = arg_finite_or_null(arg_elt(wm, "offset", arg), "weight_model$offset", d->x.n);
    if (d->offset && d->K > 2)
        Rf_error("internal error: a multinomial weight model takes no offset");
    d->y = NULL;
    d->spec = arg_glm_spec(GLM_BINOMIAL, arg_elt(wm, "maxit", arg), arg_elt(wm, "epsilon", arg),
                           arg_elt(wm, "penalty", arg), d->x.p, 1);
    *o = arg_ipw_opts(arg_scalar_int(arg_elt(wm, "estimand", arg), "estimand", 0, 3),
                      arg_elt(wm, "target", arg), arg_elt(wm, "clip", arg),
                      arg_elt(wm, "truncate", arg), d->K);
    return arg_flag(arg_elt(wm, "stabilize", arg), "stabilize");
}

/* A pooled-logistic model of the survival bootstrap (see args.h). */
surv_pt arg_surv_pt(SEXP spec, cl_len n, const double *F, int q, int interact, int K,
                    cp_design *d, const char *arg)
{
    *d = arg_design(arg_elt(spec, "X", arg), arg_flag(arg_elt(spec, "intercept", arg),
                                                      "intercept"), arg);
    if (d->n != n) Rf_error("internal error: `%s` must have %.0f rows", arg, (double) n);
    surv_pt s = {.model = {d, F, q, interact && K > 1, NULL}};
    s.model.offset = arg_finite_or_null(arg_elt(spec, "offset", arg), "offset", n);
    cl_len P = d->p + arg_mul(q, s.model.interact ? K : 1, "the period terms");
    int Pi = arg_int_dim(P, "the coefficients");
    arg_mul(P, P, "the Newton system");
    arg_mul(n, P - d->p + 2, "the per-person sums");
    s.spec = arg_glm_spec(GLM_BINOMIAL, arg_elt(spec, "maxit", arg), arg_elt(spec, "epsilon", arg),
                          arg_elt(spec, "penalty", arg), Pi, 1);
    return s;
}
