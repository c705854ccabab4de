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
 *
 * Plain C.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "metrics.h"

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
void met_sort(met_key *keys, cl_len n, met_key *buf)
{
    if (n < 2) return;
    cl_len count[8][256];
    memset(count, 0, sizeof count);
    for (cl_len i = 0; i < n; i++) {
        uint64_t u = sort_bits(keys[i].value);
        for (int d = 0; d < 8; d++) count[d][(u >> (8 * d)) & 255]++;
    }
    met_key *src = keys, *dst = buf;
    for (int d = 0; d < 8; d++) {
        cl_len *c = count[d];
        if (c[(sort_bits(src[0].value) >> (8 * d)) & 255] == n) continue;
        for (cl_len b = 0, at = 0; b < 256; b++) {
            cl_len len = c[b];
            c[b] = at;
            at += len;
        }
        for (cl_len i = 0; i < n; i++)
            dst[c[(sort_bits(src[i].value) >> (8 * d)) & 255]++] = src[i];
        met_key *tmp = src; src = dst; dst = tmp;
    }
    if (src != keys) memcpy(keys, src, sizeof(met_key) * (size_t) n);
}

/* ---- ROC ---------------------------------------------------------------- */

/* keys (n) sorted by ascending score; buf: n keys of work.  Returns the
 * number of distinct scores. */
cl_len roc_sort(const double *score, cl_len n, met_key *keys, met_key *buf)
{
    for (cl_len i = 0; i < n; i++) {
        keys[i].value = score[i];
        keys[i].id = i;
    }
    met_sort(keys, n, buf);
    cl_len m = n > 0;
    for (cl_len k = 1; k < n; k++) m += keys[k].value != keys[k - 1].value;
    return m;
}

/* The masses of the tied group that ends at keys[*k - 1]; *k moves to the
 * group's first key and its score is returned.  Every pass over the groups
 * goes through here, so they add in the same order and the last cumulative
 * sums equal the totals exactly. */
static double roc_group(const met_key *keys, cl_len *k, const double *pos,
                        const double *neg, double *pg, double *ng)
{
    double t = keys[*k - 1].value, p = 0.0, q = 0.0;
    cl_len j = *k;
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
int roc_fill(const met_key *keys, cl_len n, const double *pos, const double *neg,
             const roc_points *out, double *auc)
{
    double P = 0.0, N = 0.0, pg, ng;
    for (cl_len k = n; k > 0;) {
        roc_group(keys, &k, pos, neg, &pg, &ng);
        P += pg;
        N += ng;
    }
    if (!(P > 0 && isfinite(P))) return ROC_NO_POS;
    if (!(N > 0 && isfinite(N))) return ROC_NO_NEG;

    double TP = 0.0, FP = 0.0, area = 0.0;
    cl_len r = 0;
    for (cl_len k = n; k > 0; r++) {
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
void moments_totals(const int *group, const double *w, cl_len n, int G,
                    double *sum_w, double *sum_w2)
{
    memset(sum_w, 0, sizeof(double) * (size_t) G);
    memset(sum_w2, 0, sizeof(double) * (size_t) G);
    for (cl_len i = 0; i < n; i++) {
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
void moments_column(const double *x, const int *group, const double *w, cl_len n,
                    int G, const double *sum_w, double *mean, double *ss,
                    double *dev)
{
    memset(mean, 0, sizeof(double) * (size_t) G);
    memset(ss, 0, sizeof(double) * (size_t) G);
    memset(dev, 0, sizeof(double) * (size_t) G);
    for (cl_len i = 0; i < n; i++) mean[group[i]] += w[i] * x[i];
    for (int g = 0; g < G; g++) mean[g] /= sum_w[g];
    for (cl_len i = 0; i < n; i++) {
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
double ks_column(const double *x, const int *group, const double *w, cl_len n,
                 const double *W, met_key *keys, met_key *buf)
{
    for (cl_len i = 0; i < n; i++) {
        keys[i].value = x[i];
        keys[i].id = i;
    }
    met_sort(keys, n, buf);
    double C[2] = {0.0, 0.0}, D = 0.0;
    for (cl_len k = 0; k < n;) {
        double t = keys[k].value;
        for (; k < n && keys[k].value == t; k++) {
            cl_len i = keys[k].id;
            C[group[i]] += w[i];
        }
        if (k == n) break;
        double d = fabs(C[1] / W[1] - C[0] / W[0]);
        if (d > D) D = d;
    }
    return D;
}

/* ---- Every column -------------------------------------------------------- */

/* Rows between interrupt checks. */
#define METRICS_INTERRUPT_ROWS 131072

/*
 * Inputs:  X (n x p), group (n, 0..G-1), w (n), interrupt (every
 *          METRICS_INTERRUPT_ROWS values, or NULL).
 * Outputs: sum_w, sum_w2 (G); mean, ss (G x p), NaN for a group of zero
 *          weight.
 * Work:    dev (G).
 */
void group_moments(const double *X, cl_len n, int p, const int *group, const double *w,
                   int G, double *sum_w, double *sum_w2, double *mean, double *ss,
                   double *dev, void (*interrupt)(void))
{
    moments_totals(group, w, n, G, sum_w, sum_w2);
    cl_len since_check = 0;
    for (int j = 0; j < p; j++) {
        moments_column(X + (size_t) j * n, group, w, n, G, sum_w, mean + (size_t) j * G,
                       ss + (size_t) j * G, dev);
        if ((since_check += n) > METRICS_INTERRUPT_ROWS && interrupt) {
            interrupt();
            since_check = 0;
        }
    }
}

/*
 * Inputs:  X (n x p), group (n, 0/1), w (n), W (2) the total weight of each
 *          group, > 0; interrupt as in group_moments().
 * Output:  D (p): the weighted KS statistic of each column.
 * Work:    keys, buf (n).
 */
void weighted_ks(const double *X, cl_len n, int p, const int *group, const double *w,
                 const double *W, double *D, met_key *keys, met_key *buf,
                 void (*interrupt)(void))
{
    cl_len since_check = 0;
    for (int j = 0; j < p; j++) {
        D[j] = ks_column(X + (size_t) j * n, group, w, n, W, keys, buf);
        if ((since_check += n) > METRICS_INTERRUPT_ROWS && interrupt) {
            interrupt();
            since_check = 0;
        }
    }
}
