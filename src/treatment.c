/* Treatment arms: factor codes of a treatment, sums within arms, and values
 * spread into arm columns.  Plain C. */
#include <math.h>
#include <string.h>
#include "treatment.h"

/*
 * Inputs:  a treatment of n values: dv (doubles) or, when dv is NULL, iv
 *          (integers or logicals, missing where equal to iv_na).
 * Outputs: codes (n): codes[i] = the rank of a[i] among the sorted distinct
 *          values, 1-based (as factor() codes a); values (L <=
 *          TREATMENT_FAST_LEVELS): the sorted distinct values.
 * Returns L, or -1 when a has a missing or (double) non-integer value or
 * more than TREATMENT_FAST_LEVELS distinct values: R then codes a.
 * Two passes over a without hashing.
 */
int treatment_codes(const double *dv, const int *iv, int iv_na, cl_len n,
                    int *codes, double *values)
{
    double vals[TREATMENT_FAST_LEVELS];
    int L = 0, last = -1, rank[TREATMENT_FAST_LEVELS];
    for (cl_len i = 0; i < n; i++) {
        double v;
        if (dv) {
            v = dv[i];
            if (isnan(v) || v != floor(v)) return -1;
        } else {
            if (iv[i] == iv_na) return -1;
            v = iv[i];
        }
        if (last < 0 || vals[last] != v) {
            int k = 0;
            while (k < L && vals[k] != v) k++;
            if (k == L) {
                if (L == TREATMENT_FAST_LEVELS) return -1;
                vals[L++] = v;
            }
            last = k;
        }
        codes[i] = last;
    }
    /* Distinct values in order of first appearance -> their sorted ranks. */
    for (int k = 0; k < L; k++) {
        rank[k] = 1;
        for (int l = 0; l < L; l++) rank[k] += vals[l] < vals[k];
    }
    for (cl_len i = 0; i < n; i++) codes[i] = rank[codes[i]];
    for (int k = 0; k < L; k++) values[rank[k] - 1] = vals[k];
    return L;
}

/*
 * Inputs:  v (nv = n values, or nv = 1: recycled), a (n codes 0..K-1).
 * Output:  out (K): the sum of v over the units of each arm.
 */
void arm_sums(const double *v, cl_len nv, const int *a, cl_len n, int K, double *out)
{
    for (int k = 0; k < K; k++) out[k] = 0.0;
    for (cl_len i = 0; i < n; i++) out[a[i]] += v[nv == 1 ? 0 : i];
}

/*
 * Inputs:  v (n), a (n codes 0..K-1).
 * Output:  out (n x K): v[i] in the column of unit i's arm, 0 elsewhere.
 */
void arm_spread(const double *v, const int *a, cl_len n, int K, double *out)
{
    memset(out, 0, sizeof(double) * (size_t) n * K);
    for (cl_len i = 0; i < n; i++) out[(size_t) a[i] * n + i] = v[i];
}
