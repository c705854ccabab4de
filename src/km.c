/*
 * Weighted Kaplan-Meier curves by stratum, with the infinitesimal-jackknife
 * (IJ) standard error that survfit(..., robust = TRUE) reports.
 *
 * Within a stratum, at its distinct times t_1 < ... < t_m (events or
 * censorings), with weighted counts Y_j at risk, d_j events and c_j
 * censorings, S(t_j) = prod_{k <= j} (Y_k - d_k) / Y_k.  Treating the
 * weights as fixed, var S(t) = sum_i (w_i dS(t)/dw_i)^2 and, since
 * dS/dw_i = S dlog S/dw_i,
 *   dlog S(t)/dw_i = H(min(t, T_i)) - 1{T_i <= t} delta_i / (Y - d)(T_i),
 *   H(t) = sum_{t_k <= t} d_k / (Y_k (Y_k - d_k)).
 * A subject's term is H(t) while it is at risk and a constant c_i from its
 * own time on, so
 *   var S(t) / S(t)^2 = H(t)^2 sum_{T_i > t} w_i^2 + sum_{T_i <= t} (w_i c_i)^2,
 * two running sums: O(n) time and no n x m influence matrix.
 *
 * Once every remaining unit of weight fails (Y_j = d_j) S is 0 for good and
 * w_i dS/dw_i = 0 for every i (only zero-weight subjects survive t_j), so the
 * standard error is 0 from there on, as survfit reports it.
 *
 * Plain C.
 */
#include <math.h>
#include <string.h>
#include "km.h"

/* Counting sort of the observations by stratum, stable in the input order.
 * Outputs: keys (n); start (K + 1), stratum s in keys[start[s], start[s+1]). */
void km_group_strata(const double *time, const int *strata, cl_len n, int K,
                     km_key *keys, cl_len *start)
{
    memset(start, 0, sizeof(cl_len) * ((size_t) K + 1));
    for (cl_len i = 0; i < n; i++) start[strata[i] + 1]++;
    for (int s = 0; s < K; s++) start[s + 1] += start[s];
    for (cl_len i = 0; i < n; i++) {
        km_key *k = keys + start[strata[i]]++;
        k->time = time[i];
        k->id = i;
    }
    /* The placement loop moved each start to the next stratum's. */
    for (int s = K; s > 0; s--) start[s] = start[s - 1];
    start[0] = 0;
}

#define KM_RUN 32

/* out (na + nb) = the runs a (na) and b (nb), sorted by time, merged
 * stably. */
static void merge_runs(const km_key *a, cl_len na, const km_key *b, cl_len nb,
                       km_key *out)
{
    cl_len i = 0, j = 0, k = 0;
    while (i < na && j < nb) out[k++] = b[j].time < a[i].time ? b[j++] : a[i++];
    while (i < na) out[k++] = a[i++];
    while (j < nb) out[k++] = b[j++];
}

/* Stable bottom-up merge sort of keys (len) by time; buf: len keys. */
void km_sort_times(km_key *keys, cl_len len, km_key *buf)
{
    for (cl_len lo = 0; lo < len; lo += KM_RUN) {
        cl_len hi = lo + KM_RUN < len ? lo + KM_RUN : len;
        for (cl_len i = lo + 1; i < hi; i++) {
            km_key k = keys[i];
            cl_len j = i;
            for (; j > lo && keys[j - 1].time > k.time; j--) keys[j] = keys[j - 1];
            keys[j] = k;
        }
    }
    km_key *src = keys, *dst = buf;
    for (cl_len width = KM_RUN; width < len; width *= 2) {
        for (cl_len lo = 0; lo < len; lo += 2 * width) {
            cl_len mid = lo + width < len ? lo + width : len;
            cl_len hi = lo + 2 * width < len ? lo + 2 * width : len;
            if (mid == hi || src[mid - 1].time <= src[mid].time)
                memcpy(dst + lo, src + lo, sizeof(km_key) * (size_t) (hi - lo));
            else
                merge_runs(src + lo, mid - lo, src + mid, hi - mid, dst + lo);
        }
        km_key *tmp = src; src = dst; dst = tmp;
    }
    if (src != keys) memcpy(keys, src, sizeof(km_key) * (size_t) len);
}

/* Distinct times among keys (len) sorted by time. */
cl_len km_count_times(const km_key *keys, cl_len len)
{
    cl_len m = len > 0;
    for (cl_len k = 1; k < len; k++) m += keys[k].time != keys[k - 1].time;
    return m;
}

/*
 * One stratum.
 * Inputs:  keys (len) sorted by time; status (0/1) and w indexed by key id;
 *          the stratum code to write.
 * Outputs: rows row0 .. row0 + m - 1 of out, m = km_count_times(keys, len),
 *          which is returned.
 * A backward pass writes the counts (at-risk weight summed from the end, so
 * that Y - d is exactly 0 when all remaining weight fails) and parks
 * sum_{T_i > t} w_i^2 in std_err; a forward pass then writes surv and std_err.
 */
cl_len km_stratum(const km_key *keys, cl_len len, const int *status,
                    const double *w, int stratum, const km_curve *out, cl_len row0)
{
    cl_len m = km_count_times(keys, len), r = row0 + m;
    double at_risk = 0.0, w2_after = 0.0;
    for (cl_len k = len; k > 0;) {
        double t = keys[k - 1].time, d = 0.0, c = 0.0, w2 = 0.0;
        for (; k > 0 && keys[k - 1].time == t; k--) {
            cl_len i = keys[k - 1].id;
            if (status[i]) d += w[i]; else c += w[i];
            w2 += w[i] * w[i];
        }
        r--;
        at_risk = (at_risk + c) + d;
        out->stratum[r] = stratum;
        out->time[r] = t;
        out->n_risk[r] = at_risk;
        out->n_event[r] = d;
        out->n_censor[r] = c;
        out->std_err[r] = w2_after;
        w2_after += w2;
    }

    double S = 1.0, H = 0.0, A = 0.0;
    int dropped = 0;
    cl_len k = 0;
    for (r = row0; r < row0 + m; r++) {
        double Y = out->n_risk[r], d = out->n_event[r];
        double left = (r + 1 < row0 + m ? out->n_risk[r + 1] : 0.0) + out->n_censor[r];
        if (d > 0) km_step(Y, d, left, &S, &H, &dropped);
        for (; k < len && keys[k].time == out->time[r]; k++) {
            cl_len i = keys[k].id;
            if (dropped || w[i] == 0) continue;
            double ci = w[i] * (status[i] ? H - 1.0 / left : H);
            A += ci * ci;
        }
        out->surv[r] = S;
        out->std_err[r] = dropped ? 0.0 : S * sqrt(H * H * out->std_err[r] + A);
    }
    return m;
}

/* Rows between interrupt checks. */
#define KM_INTERRUPT_ROWS 131072

/*
 * Inputs:  time (n), strata (n, codes 0..K-1), interrupt (every
 *          KM_INTERRUPT_ROWS observations, or NULL).
 * Outputs: keys (n): the observations by stratum, by time within one
 *          (stable); start (K + 1): stratum s in keys[start[s], start[s+1]).
 * Work:    buf (n keys).
 * Returns the rows of the curves: the distinct (stratum, time) pairs.
 */
cl_len km_sort(const double *time, const int *strata, cl_len n, int K, km_key *keys,
               cl_len *start, km_key *buf, void (*interrupt)(void))
{
    km_group_strata(time, strata, n, K, keys, start);
    cl_len nrow = 0, since_check = 0;
    for (int s = 0; s < K; s++) {
        cl_len len = start[s + 1] - start[s];
        km_sort_times(keys + start[s], len, buf);
        nrow += km_count_times(keys + start[s], len);
        if ((since_check += len) > KM_INTERRUPT_ROWS && interrupt) {
            interrupt();
            since_check = 0;
        }
    }
    return nrow;
}

/*
 * Inputs:  keys, start from km_sort(); status (n, 0/1), w (n, >= 0)
 *          indexed by key id; interrupt as in km_sort().
 * Outputs: every row of out (km_sort()'s count), by stratum then time; the
 *          stratum column holds the 0-based codes.
 */
void km_curves(const km_key *keys, const cl_len *start, int K, const int *status,
               const double *w, const km_curve *out, void (*interrupt)(void))
{
    cl_len row = 0, since_check = 0;
    for (int s = 0; s < K; s++) {
        cl_len len = start[s + 1] - start[s];
        row += km_stratum(keys + start[s], len, status, w, s, out, row);
        if ((since_check += len) > KM_INTERRUPT_ROWS && interrupt) {
            interrupt();
            since_check = 0;
        }
    }
}
