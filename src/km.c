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
 */
#define R_NO_REMAP
#include <math.h>
#include <limits.h>
#include <string.h>
#include "km.h"
#include "ffi-checks.h"

/* Counting sort of the observations by stratum, stable in the input order.
 * Outputs: keys (n); start (K + 1), stratum s in keys[start[s], start[s+1]). */
void km_group_strata(const double *time, const int *strata, R_xlen_t n, int K,
                     km_key *keys, R_xlen_t *start)
{
    memset(start, 0, sizeof(R_xlen_t) * ((size_t) K + 1));
    for (R_xlen_t i = 0; i < n; i++) start[strata[i] + 1]++;
    for (int s = 0; s < K; s++) start[s + 1] += start[s];
    for (R_xlen_t i = 0; i < n; i++) {
        km_key *k = keys + start[strata[i]]++;
        k->time = time[i];
        k->id = i;
    }
    /* The placement loop moved each start to the next stratum's. */
    for (int s = K; s > 0; s--) start[s] = start[s - 1];
    start[0] = 0;
}

#define KM_RUN 32

static void merge_runs(const km_key *a, R_xlen_t na, const km_key *b, R_xlen_t nb,
                       km_key *out)
{
    R_xlen_t i = 0, j = 0, k = 0;
    while (i < na && j < nb) out[k++] = b[j].time < a[i].time ? b[j++] : a[i++];
    while (i < na) out[k++] = a[i++];
    while (j < nb) out[k++] = b[j++];
}

/* Stable bottom-up merge sort of keys (len) by time; buf: len keys. */
void km_sort_times(km_key *keys, R_xlen_t len, km_key *buf)
{
    for (R_xlen_t lo = 0; lo < len; lo += KM_RUN) {
        R_xlen_t hi = lo + KM_RUN < len ? lo + KM_RUN : len;
        for (R_xlen_t i = lo + 1; i < hi; i++) {
            km_key k = keys[i];
            R_xlen_t j = i;
            for (; j > lo && keys[j - 1].time > k.time; j--) keys[j] = keys[j - 1];
            keys[j] = k;
        }
    }
    km_key *src = keys, *dst = buf;
    for (R_xlen_t width = KM_RUN; width < len; width *= 2) {
        for (R_xlen_t lo = 0; lo < len; lo += 2 * width) {
            R_xlen_t mid = lo + width < len ? lo + width : len;
            R_xlen_t hi = lo + 2 * width < len ? lo + 2 * width : len;
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
R_xlen_t km_count_times(const km_key *keys, R_xlen_t len)
{
    R_xlen_t m = len > 0;
    for (R_xlen_t k = 1; k < len; k++) m += keys[k].time != keys[k - 1].time;
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
R_xlen_t km_stratum(const km_key *keys, R_xlen_t len, const int *status,
                    const double *w, int stratum, const km_curve *out, R_xlen_t row0)
{
    R_xlen_t m = km_count_times(keys, len), r = row0 + m;
    double at_risk = 0.0, w2_after = 0.0;
    for (R_xlen_t k = len; k > 0;) {
        double t = keys[k - 1].time, d = 0.0, c = 0.0, w2 = 0.0;
        for (; k > 0 && keys[k - 1].time == t; k--) {
            R_xlen_t i = keys[k - 1].id;
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
    R_xlen_t k = 0;
    for (r = row0; r < row0 + m; r++) {
        double Y = out->n_risk[r], d = out->n_event[r];
        double left = (r + 1 < row0 + m ? out->n_risk[r + 1] : 0.0) + out->n_censor[r];
        if (d > 0) {
            if (left > 0) {
                S *= left / Y;
                H += d / (Y * left);
            } else {
                S = 0.0;
                dropped = 1;
            }
        }
        for (; k < len && keys[k].time == out->time[r]; k++) {
            R_xlen_t i = keys[k].id;
            if (dropped || w[i] == 0) continue;
            double ci = w[i] * (status[i] ? H - 1.0 / left : H);
            A += ci * ci;
        }
        out->surv[r] = S;
        out->std_err[r] = dropped ? 0.0 : S * sqrt(H * H * out->std_err[r] + A);
    }
    return m;
}

/* ---- .Call entry -------------------------------------------------------
 * ffi_km(time double(n) >= 0, status int(n) 0/1, w double(n) >= 0,
 *        strata int(n) in 0..K-1, K int >= 1)
 *   -> list(stratum, time, n_risk, n_event, n_censor, surv, std_err), one
 *      element per distinct (stratum, time), ordered by stratum then time;
 *      stratum keeps the 0-based codes given.
 * Work: 2 n keys, K + 1 offsets.                                          */

static void check_km_input(SEXP time, SEXP status, SEXP w, SEXP strata, int K)
{
    ffi_check_double(time, "time", -1);
    R_xlen_t n = Rf_xlength(time);
    ffi_check_finite(time, "time");
    ffi_check_int(status, "status", n);
    ffi_check_double(w, "w", n);
    ffi_check_finite(w, "w");
    ffi_check_int(strata, "strata", n);
    const double *t = REAL_RO(time), *wt = REAL_RO(w);
    const int *d = INTEGER_RO(status), *s = INTEGER_RO(strata);
    for (R_xlen_t i = 0; i < n; i++) {
        if (t[i] < 0) Rf_error("internal error: `time` must be non-negative");
        if (d[i] != 0 && d[i] != 1) Rf_error("internal error: `status` must be 0 or 1");
        if (wt[i] < 0) Rf_error("internal error: `w` must be non-negative");
        if (s[i] == NA_INTEGER || s[i] < 0 || s[i] >= K)
            Rf_error("internal error: `strata` must hold codes 0 to K - 1");
    }
}

#define KM_INTERRUPT_ROWS 131072

SEXP ffi_km(SEXP time, SEXP status, SEXP w, SEXP strata, SEXP K)
{
    int nstrata = ffi_scalar_int(K, "K", 1, INT_MAX - 1);
    check_km_input(time, status, w, strata, nstrata);
    R_xlen_t n = Rf_xlength(time);

    km_key *keys = (km_key *) R_alloc(n > 0 ? n : 1, sizeof(km_key));
    km_key *buf = (km_key *) R_alloc(n > 0 ? n : 1, sizeof(km_key));
    R_xlen_t *start = (R_xlen_t *) R_alloc((size_t) nstrata + 1, sizeof(R_xlen_t));
    km_group_strata(REAL_RO(time), INTEGER_RO(strata), n, nstrata, keys, start);
    R_xlen_t nrow = 0, since_check = 0;
    for (int s = 0; s < nstrata; s++) {
        R_xlen_t len = start[s + 1] - start[s];
        km_sort_times(keys + start[s], len, buf);
        nrow += km_count_times(keys + start[s], len);
        if ((since_check += len) > KM_INTERRUPT_ROWS) {
            R_CheckUserInterrupt();
            since_check = 0;
        }
    }

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
    R_xlen_t row = 0;
    since_check = 0;
    for (int s = 0; s < nstrata; s++) {
        R_xlen_t len = start[s + 1] - start[s];
        row += km_stratum(keys + start[s], len, INTEGER_RO(status), REAL_RO(w), s,
                          &curve, row);
        if ((since_check += len) > KM_INTERRUPT_ROWS) {
            R_CheckUserInterrupt();
            since_check = 0;
        }
    }
    UNPROTECT(nprot);
    return out;
}
