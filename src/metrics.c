/*
 * Evaluation metrics: weighted ROC curves, weighted moments by group and
 * weighted two-sample Kolmogorov-Smirnov statistics.
 *
 * ROC.  Unit i carries positive mass pos_i and negative mass neg_i (labels
 * times weights, or calibrated probabilities times weights for the expected
 * curve).  With units grouped by tied score in descending order, group g of
 * masses (P_g, N_g) and TP_<g the positive mass scored above it,
 *   AUC = sum_g N_g (TP_<g + P_g / 2) / (P N),
 * which is the pairwise sum_ij pos_i neg_j [1(s_i > s_j) + 1(s_i = s_j) / 2]
 * / (P N) regrouped by the negative's group: the trapezoid over each tie.
 *
 * Moments.  The corrected two-pass algorithm: with m the first-pass mean,
 * d = sum w (x - m) and s = sum w (x - m)^2, the mean is m + d / W and the
 * sum of squares about it s - d^2 / W; d is a rounding error, so the
 * correction recovers most of what the first pass lost.
 *
 * KS.  Both weighted ECDFs are stepped over the sorted values and compared
 * once every unit tied at a value is in; at the largest value both are 1,
 * so that step is skipped and a constant column gives exactly 0.
 */
#define R_NO_REMAP
#include <math.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>
#include "metrics.h"
#include "ffi-checks.h"

/* ---- Sorting ------------------------------------------------------------- */

/* The bits of a finite double as an unsigned integer in the same order:
 * a negative number has every bit flipped, any other just its sign bit. */
static inline uint64_t sort_bits(double x)
{
    uint64_t u;
    memcpy(&u, &x, sizeof u);
    return u >> 63 ? ~u : u | ((uint64_t) 1 << 63);
}

/* Stable sort of keys (n) by finite value; buf: n keys.  A least-significant-
 * digit radix sort, one byte per pass, skipping a pass where every key has
 * the same byte: O(n), five times faster than a merge sort at n = 10^6, and
 * sorting is the bulk of the ROC and KS work. */
void met_sort(met_key *keys, R_xlen_t n, met_key *buf)
{
    if (n < 2) return;
    R_xlen_t count[8][256];
    memset(count, 0, sizeof count);
    for (R_xlen_t i = 0; i < n; i++) {
        uint64_t u = sort_bits(keys[i].value);
        for (int d = 0; d < 8; d++) count[d][(u >> (8 * d)) & 255]++;
    }
    met_key *src = keys, *dst = buf;
    for (int d = 0; d < 8; d++) {
        R_xlen_t *c = count[d];
        if (c[(sort_bits(src[0].value) >> (8 * d)) & 255] == n) continue;
        for (R_xlen_t b = 0, at = 0; b < 256; b++) {
            R_xlen_t len = c[b];
            c[b] = at;
            at += len;
        }
        for (R_xlen_t i = 0; i < n; i++)
            dst[c[(sort_bits(src[i].value) >> (8 * d)) & 255]++] = src[i];
        met_key *tmp = src; src = dst; dst = tmp;
    }
    if (src != keys) memcpy(keys, src, sizeof(met_key) * (size_t) n);
}

/* ---- ROC ---------------------------------------------------------------- */

/* keys (n) sorted by ascending score; buf: n keys of work.  Returns the
 * number of distinct scores. */
R_xlen_t roc_sort(const double *score, R_xlen_t n, met_key *keys, met_key *buf)
{
    for (R_xlen_t i = 0; i < n; i++) {
        keys[i].value = score[i];
        keys[i].id = i;
    }
    met_sort(keys, n, buf);
    R_xlen_t m = n > 0;
    for (R_xlen_t k = 1; k < n; k++) m += keys[k].value != keys[k - 1].value;
    return m;
}

/* The masses of the tied group that ends at keys[*k - 1]; *k moves to the
 * group's first key and its score is returned.  Every pass over the groups
 * goes through here, so they add in the same order and the last cumulative
 * sums equal the totals exactly. */
static double roc_group(const met_key *keys, R_xlen_t *k, const double *pos,
                        const double *neg, double *pg, double *ng)
{
    double t = keys[*k - 1].value, p = 0.0, q = 0.0;
    R_xlen_t j = *k;
    for (; j > 0 && keys[j - 1].value == t; j--) {
        p += pos[keys[j - 1].id];
        q += neg[keys[j - 1].id];
    }
    *k = j;
    *pg = p;
    *ng = q;
    return t;
}

/*
 * Inputs:  keys (n) from roc_sort; pos, neg (n) >= 0, indexed by key id.
 * Outputs: the m = roc_sort() rows of out (threshold descending; tpr, fpr
 *          and precision after each threshold, precision NaN where no mass
 *          has been reached) and *auc.
 * Returns ROC_NO_POS or ROC_NO_NEG, writing nothing, when a class has no
 * (or an infinite) total mass.
 */
int roc_fill(const met_key *keys, R_xlen_t n, const double *pos, const double *neg,
             const roc_points *out, double *auc)
{
    double P = 0.0, N = 0.0, pg, ng;
    for (R_xlen_t k = n; k > 0;) {
        roc_group(keys, &k, pos, neg, &pg, &ng);
        P += pg;
        N += ng;
    }
    if (!(P > 0 && isfinite(P))) return ROC_NO_POS;
    if (!(N > 0 && isfinite(N))) return ROC_NO_NEG;

    double TP = 0.0, FP = 0.0, area = 0.0;
    R_xlen_t r = 0;
    for (R_xlen_t k = n; k > 0; r++) {
        double t = roc_group(keys, &k, pos, neg, &pg, &ng);
        area += (ng / N) * ((TP + 0.5 * pg) / P);
        TP += pg;
        FP += ng;
        out->threshold[r] = t;
        out->tpr[r] = TP / P;
        out->fpr[r] = FP / N;
        out->precision[r] = TP / (TP + FP);
    }
    *auc = area;
    return ROC_OK;
}

/* ---- Moments by group ---------------------------------------------------- */

/* group (n) in 0..G-1, w (n) -> sum_w, sum_w2 (G). */
void moments_totals(const int *group, const double *w, R_xlen_t n, int G,
                    double *sum_w, double *sum_w2)
{
    memset(sum_w, 0, sizeof(double) * (size_t) G);
    memset(sum_w2, 0, sizeof(double) * (size_t) G);
    for (R_xlen_t i = 0; i < n; i++) {
        sum_w[group[i]] += w[i];
        sum_w2[group[i]] += w[i] * w[i];
    }
}

/*
 * One column.
 * Inputs:  x, group, w (n); sum_w (G) from moments_totals.
 * Outputs: mean, ss (G); NaN for a group of zero weight.
 * Work:    dev (G).
 */
void moments_column(const double *x, const int *group, const double *w, R_xlen_t n,
                    int G, const double *sum_w, double *mean, double *ss,
                    double *dev)
{
    memset(mean, 0, sizeof(double) * (size_t) G);
    memset(ss, 0, sizeof(double) * (size_t) G);
    memset(dev, 0, sizeof(double) * (size_t) G);
    for (R_xlen_t i = 0; i < n; i++) mean[group[i]] += w[i] * x[i];
    for (int g = 0; g < G; g++) mean[g] /= sum_w[g];
    for (R_xlen_t i = 0; i < n; i++) {
        int g = group[i];
        double d = x[i] - mean[g], wd = w[i] * d;
        /* (w d) d: a zero weight never meets an overflowing d^2. */
        dev[g] += wd;
        ss[g] += wd * d;
    }
    for (int g = 0; g < G; g++) {
        if (!(sum_w[g] > 0)) continue;
        mean[g] += dev[g] / sum_w[g];
        ss[g] -= dev[g] * dev[g] / sum_w[g];
        if (ss[g] < 0) ss[g] = 0;
    }
}

/* ---- Weighted Kolmogorov-Smirnov ---------------------------------------- */

/*
 * One column.
 * Inputs:  x, group (0/1), w (n); W (2) the total weight of each group, > 0.
 * Returns  max_t |F1(t) - F0(t)| over the distinct values t.
 * Work:    keys, buf (n).
 */
double ks_column(const double *x, const int *group, const double *w, R_xlen_t n,
                 const double *W, met_key *keys, met_key *buf)
{
    for (R_xlen_t i = 0; i < n; i++) {
        keys[i].value = x[i];
        keys[i].id = i;
    }
    met_sort(keys, n, buf);
    double C[2] = {0.0, 0.0}, D = 0.0;
    for (R_xlen_t k = 0; k < n;) {
        double t = keys[k].value;
        for (; k < n && keys[k].value == t; k++) {
            R_xlen_t i = keys[k].id;
            C[group[i]] += w[i];
        }
        if (k == n) break;
        double d = fabs(C[1] / W[1] - C[0] / W[0]);
        if (d > D) D = d;
    }
    return D;
}

/* ---- .Call entries ---------------------------------------------------------
 * ffi_roc(score double(n) finite, pos double(n) >= 0, neg double(n) >= 0)
 *   -> list(threshold, tpr, fpr, precision) of length m (distinct scores,
 *      descending), auc.  Work: 2 n keys.
 * ffi_group_moments(X n x p double finite, group int(n) in 0..G-1,
 *                   w double(n) >= 0, G int >= 1)
 *   -> list(sum_w (G), sum_w2 (G), mean (G x p), ss (G x p)); mean and ss
 *      are NA for a group of zero weight.  Work: G doubles.
 * ffi_weighted_ks(X n x p double finite, group int(n) 0/1, w double(n) >= 0)
 *   -> double(p).  Work: 2 n keys.                                          */

#define METRICS_INTERRUPT_ROWS 131072

static void check_mass(SEXP x, const char *arg, R_xlen_t n)
{
    ffi_check_double(x, arg, n);
    ffi_check_finite(x, arg);
    const double *v = REAL_RO(x);
    for (R_xlen_t i = 0; i < n; i++)
        if (v[i] < 0) Rf_error("internal error: `%s` must be non-negative", arg);
}

static void check_groups(SEXP group, R_xlen_t n, int G)
{
    ffi_check_int(group, "group", n);
    const int *g = INTEGER_RO(group);
    for (R_xlen_t i = 0; i < n; i++)
        if (g[i] == NA_INTEGER || g[i] < 0 || g[i] >= G)
            Rf_error("internal error: `group` must hold codes 0 to %d", G - 1);
}

static void check_matrix(SEXP X)
{
    ffi_check_double(X, "X", -1);
    ffi_check_finite(X, "X");
}

SEXP ffi_roc(SEXP score, SEXP pos, SEXP neg)
{
    ffi_check_double(score, "score", -1);
    ffi_check_finite(score, "score");
    R_xlen_t n = Rf_xlength(score);
    check_mass(pos, "pos", n);
    check_mass(neg, "neg", n);

    met_key *keys = (met_key *) R_alloc(n > 0 ? n : 1, sizeof(met_key));
    met_key *buf = (met_key *) R_alloc(n > 0 ? n : 1, sizeof(met_key));
    R_xlen_t m = roc_sort(REAL_RO(score), n, keys, buf);
    R_CheckUserInterrupt();

    int nprot = 0;
    const char *names[] = {"threshold", "tpr", "fpr", "precision", "auc", ""};
    SEXP out = PROTECT(Rf_mkNamed(VECSXP, names)); nprot++;
    for (int e = 0; e < 4; e++) SET_VECTOR_ELT(out, e, Rf_allocVector(REALSXP, m));
    SET_VECTOR_ELT(out, 4, Rf_allocVector(REALSXP, 1));
    roc_points pts = {REAL(VECTOR_ELT(out, 0)), REAL(VECTOR_ELT(out, 1)),
                      REAL(VECTOR_ELT(out, 2)), REAL(VECTOR_ELT(out, 3))};
    int status = roc_fill(keys, n, REAL_RO(pos), REAL_RO(neg), &pts,
                          REAL(VECTOR_ELT(out, 4)));
    if (status == ROC_NO_POS)
        Rf_error("internal error: `pos` must have a positive, finite total");
    if (status == ROC_NO_NEG)
        Rf_error("internal error: `neg` must have a positive, finite total");
    UNPROTECT(nprot);
    return out;
}

SEXP ffi_group_moments(SEXP X, SEXP group, SEXP w, SEXP G)
{
    int ng = ffi_scalar_int(G, "G", 1, INT_MAX);
    check_matrix(X);
    R_xlen_t n = ffi_nrow(X, "X");
    int p = ffi_ncol(X, "X");
    check_groups(group, n, ng);
    check_mass(w, "w", n);

    int nprot = 0;
    const char *names[] = {"sum_w", "sum_w2", "mean", "ss", ""};
    SEXP out = PROTECT(Rf_mkNamed(VECSXP, names)); nprot++;
    SET_VECTOR_ELT(out, 0, Rf_allocVector(REALSXP, ng));
    SET_VECTOR_ELT(out, 1, Rf_allocVector(REALSXP, ng));
    SET_VECTOR_ELT(out, 2, Rf_allocMatrix(REALSXP, ng, p));
    SET_VECTOR_ELT(out, 3, Rf_allocMatrix(REALSXP, ng, p));
    double *sum_w = REAL(VECTOR_ELT(out, 0)), *mean = REAL(VECTOR_ELT(out, 2)),
           *ss = REAL(VECTOR_ELT(out, 3));
    double *dev = (double *) R_alloc((size_t) ng, sizeof(double));
    const double *x = REAL_RO(X), *wt = REAL_RO(w);
    const int *gr = INTEGER_RO(group);

    moments_totals(gr, wt, n, ng, sum_w, REAL(VECTOR_ELT(out, 1)));
    R_xlen_t since_check = 0;
    for (int j = 0; j < p; j++) {
        double *mj = mean + (size_t) j * ng, *sj = ss + (size_t) j * ng;
        moments_column(x + (size_t) j * n, gr, wt, n, ng, sum_w, mj, sj, dev);
        for (int g = 0; g < ng; g++)
            if (!(sum_w[g] > 0)) mj[g] = sj[g] = NA_REAL;
        if ((since_check += n) > METRICS_INTERRUPT_ROWS) {
            R_CheckUserInterrupt();
            since_check = 0;
        }
    }
    UNPROTECT(nprot);
    return out;
}

SEXP ffi_weighted_ks(SEXP X, SEXP group, SEXP w)
{
    check_matrix(X);
    R_xlen_t n = ffi_nrow(X, "X");
    int p = ffi_ncol(X, "X");
    check_groups(group, n, 2);
    check_mass(w, "w", n);
    const double *x = REAL_RO(X), *wt = REAL_RO(w);
    const int *gr = INTEGER_RO(group);

    double W[2], W2[2];
    moments_totals(gr, wt, n, 2, W, W2);
    for (int g = 0; g < 2; g++)
        if (!(W[g] > 0 && R_FINITE(W[g])))
            Rf_error("internal error: group %d must have a positive, finite total weight", g);

    met_key *keys = (met_key *) R_alloc(n > 0 ? n : 1, sizeof(met_key));
    met_key *buf = (met_key *) R_alloc(n > 0 ? n : 1, sizeof(met_key));
    int nprot = 0;
    SEXP out = PROTECT(Rf_allocVector(REALSXP, p)); nprot++;
    double *D = REAL(out);
    R_xlen_t since_check = 0;
    for (int j = 0; j < p; j++) {
        D[j] = ks_column(x + (size_t) j * n, gr, wt, n, W, keys, buf);
        if ((since_check += n) > METRICS_INTERRUPT_ROWS) {
            R_CheckUserInterrupt();
            since_check = 0;
        }
    }
    UNPROTECT(nprot);
    return out;
}
