/*
 * Weighted Aalen-Johansen cumulative incidence functions of J competing
 * causes, by stratum, with the infinitesimal-jackknife (IJ) standard errors
 * that survival::survfit() reports for Surv(time, factor) data.
 *
 * Within a stratum, at its distinct times t_1 < ... < t_m, with weighted
 * counts Y at risk, d_j events of cause j (d = sum_j d_j) and c censorings
 * (censorings at t count as at risk at t), S(t) = prod_{s <= t} (1 - d/Y)
 * is the event-free survival and
 *   F_j(t) = sum_{s <= t} S(s-) d_j(s) / Y(s).
 * Treating the weights as fixed, var F_j(t) = sum_i (w_i dF_j(t)/dw_i)^2.
 * With H(t) = sum_{s <= t} d / (Y (Y - d)) (so dlog S(s-)/dw_i = H(s-) while
 * i is at risk) and
 *   G_j(t) = sum_{s <= t} S(s-) (d_j / Y)(s) (H(s-) - 1 / Y(s)),
 * a subject still at risk after t has dF_j(t)/dw_i = G_j(t); a subject
 * whose time T_i <= t has
 *   dF_j(t)/dw_i = a_ij + c_i F_j(t),
 *   c_i = H(T_i) - delta_i / (Y - d)(T_i)      (dlog S / dw_i after T_i),
 *   a_ij = G_j(T_i) + 1{cause_i = j} S(T_i-) / Y(T_i) - c_i F_j(T_i).
 * So
 *   var F_j(t) = G_j(t)^2 sum_{T_i > t} w_i^2
 *                + sum_{T_i <= t} w_i^2 (a_ij^2 + 2 a_ij c_i F_j(t) + c_i^2 F_j(t)^2),
 * running sums: O(n J) time and no n x m influence matrix.
 *
 * The sum of squares is expanded, so a variance near 0 is computed with the
 * rounding error of its terms; below AJ_ROUNDING of them it is set to 0.
 *
 * Once every remaining unit of weight has an event (Y = d) S is 0 for good,
 * the F_j stop moving, and c_i (which would be infinite) multiplies
 * F_j(t) - F_j(T_i) = 0: it is set to 0, and H stops.
 *
 * Plain C.
 */
#include <float.h>
#include <math.h>
#include "aalen-johansen.h"

/* Relative rounding error of the four-term variance sum. */
#define AJ_ROUNDING (64.0 * DBL_EPSILON)

/*
 * One stratum.
 * Inputs:  keys (len) sorted by time; cause (0 censored, 1..J) and w
 *          indexed by key id; the stratum code to write.
 * Outputs: rows row0 .. row0 + m - 1 of out, m = km_count_times(keys, len),
 *          which is returned.
 * Work:    4 J doubles (F, G and two running sums of each cause).
 * A backward pass writes the counts (at-risk weight summed from the end, so
 * that Y - d is exactly 0 when all remaining weight fails), d_j in cif and
 * sum_{T_i > t} w_i^2 in surv; a forward pass then writes surv, cif and
 * std_err.
 */
static cl_len aj_stratum(const km_key *keys, cl_len len, int J, const int *cause,
                         const double *w, int stratum, const aj_curve *out, cl_len row0,
                         double *work)
{
    cl_len m = km_count_times(keys, len), r = row0 + m, nrow = out->nrow;
    double at_risk = 0.0, w2_after = 0.0;
    for (cl_len k = len; k > 0;) {
        double t = keys[k - 1].time, d = 0.0, c = 0.0, w2 = 0.0;
        r--;
        for (int j = 0; j < J; j++) out->cif[r + j * nrow] = 0.0;
        for (; k > 0 && keys[k - 1].time == t; k--) {
            cl_len i = keys[k - 1].id;
            if (cause[i]) {
                d += w[i];
                out->cif[r + (cause[i] - 1) * nrow] += w[i];
            } else {
                c += w[i];
            }
            w2 += w[i] * w[i];
        }
        at_risk = (at_risk + c) + d;
        out->stratum[r] = stratum;
        out->time[r] = t;
        out->n_risk[r] = at_risk;
        out->n_event[r] = d;
        out->n_censor[r] = c;
        out->surv[r] = w2_after;
        w2_after += w2;
    }

    double *F = work, *G = work + J, *A2 = work + 2 * J;
    double *AC = work + 3 * J, C2 = 0.0, S = 1.0, H = 0.0;
    for (int j = 0; j < J; j++) F[j] = G[j] = A2[j] = AC[j] = 0.0;
    int dropped = 0;
    cl_len k = 0;
    for (r = row0; r < row0 + m; r++) {
        double Y = out->n_risk[r], d = out->n_event[r], S_before = S;
        double left = (r + 1 < row0 + m ? out->n_risk[r + 1] : 0.0) + out->n_censor[r];
        double w2_later = out->surv[r];
        if (d > 0 && !dropped) {
            for (int j = 0; j < J; j++) {
                double dA = out->cif[r + j * nrow] / Y;
                F[j] += S * dA;
                G[j] += S * dA * (H - 1.0 / Y);
            }
            km_step(Y, d, left, &S, &H, &dropped);
        }
        for (; k < len && keys[k].time == out->time[r]; k++) {
            cl_len i = keys[k].id;
            if (w[i] == 0) continue;
            double ci = dropped ? 0.0 : (cause[i] ? H - 1.0 / left : H), wi2 = w[i] * w[i];
            for (int j = 0; j < J; j++) {
                double a = G[j] - ci * F[j];
                if (cause[i] == j + 1) a += S_before / Y;
                A2[j] += wi2 * a * a;
                AC[j] += wi2 * a * ci;
            }
            C2 += wi2 * ci * ci;
        }
        out->surv[r] = S;
        for (int j = 0; j < J; j++) {
            double g2 = G[j] * G[j] * w2_later, fac = 2.0 * F[j] * AC[j], f2 = F[j] * F[j] * C2;
            double v = g2 + A2[j] + fac + f2;
            /* A variance within the rounding error of its terms is 0 (as when
             * a single cause's curve reaches 1): its square root would be
             * noise of order sqrt(eps) instead. */
            if (v <= AJ_ROUNDING * (g2 + A2[j] + fabs(fac) + f2)) v = 0.0;
            out->cif[r + j * nrow] = F[j];
            out->std_err[r + j * nrow] = sqrt(v);
        }
    }
    return m;
}

/* Rows between interrupt checks. */
#define AJ_INTERRUPT_ROWS 131072

/*
 * Inputs:  keys, start from km_sort() (K strata); cause (n, 0..J) and w
 *          (n, >= 0) indexed by key id; interrupt (every AJ_INTERRUPT_ROWS
 *          observations, or NULL).
 * Outputs: every row of out (km_sort()'s count, out->nrow), by stratum then
 *          time; the stratum column holds the 0-based codes.
 * Work:    4 J doubles.
 */
void aj_curves(const km_key *keys, const cl_len *start, int K, int J, const int *cause,
               const double *w, const aj_curve *out, double *work,
               void (*interrupt)(void))
{
    cl_len row = 0, since_check = 0;
    for (int s = 0; s < K; s++) {
        cl_len len = start[s + 1] - start[s];
        row += aj_stratum(keys + start[s], len, J, cause, w, s, out, row, work);
        if ((since_check += len) > AJ_INTERRUPT_ROWS && interrupt) {
            interrupt();
            since_check = 0;
        }
    }
}
