/*
 * The influence pieces of standardized pooled-logistic survival curves
 * (see pooled_influence() in R/survival-sandwich.R for the statistics).
 * Person i under arm k has hazard h_ikt = expit(lp[i, k] + ctab[k, t]) and
 * curve S_ik(t) = prod_{s <= t} (1 - h_iks); the curve of arm k is
 * Sbar_k(t) = sum_i v_i S_ik(t).  Three streamed passes over persons x
 * periods, none of which builds a persons x periods matrix:
 *
 *   pi_scores():      the hazard model's score summed over each person's
 *                     own periods (n x P);
 *   pi_arm_sums():    G, the curves' derivatives in the hazard coefficients,
 *                     and the running sums ij_var = sum_i v_i^2 (S_ik -
 *                     Sbar_k)^2 and C = sum_i v_i (S_ik - Sbar_k) Phi_i;
 *   pi_functionals(): sum_t S_ik(t) L[t, j] per person, for U L.
 *
 * Persons are taken in batches of PI_BATCH, with an interrupt check between
 * batches (outside the parallel region); each batch is cut into
 * cp_reduce()'s fixed chunks, whose sums, like the batches', are added in
 * order, so results do not depend on the number of threads.  Within a
 * chunk, rows of CP_BLOCK_ROWS persons are copied once and their
 * persons x periods weights meet the designs in cp_block_xtm()'s tiles.
 *
 * Plain C: calls design.c.
 */
#include <math.h>
#include <limits.h>
#include <string.h>
#include "pooled-influence.h"
#include "survival-curve.h"

#define PI_BATCH 65536

/* expit(x), as R's plogis(). */
static inline double expit(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

/* The hazard expit(l + c), from el = exp(-l) and ec = exp(-c) when split
 * (see SC_SPLIT_MAX): a division instead of an exp per person and period. */
static inline double hazard(double l, double el, double c, double ec, int split)
{
    return split ? 1.0 / (1.0 + el * ec) : expit(l + c);
}

/* Whether a person's hazards split, and its exp(-l). */
static inline int person_split(const pi_periods *per, double l, double *el)
{
    int split = per->split && fabs(l) <= SC_SPLIT_MAX;
    *el = split ? exp(-l) : 0.0;
    return split;
}

/* per with ectab = exp(-ctab) (K x Tmax doubles of ectab) and its split
 * flag. */
static pi_periods with_exp(const pi_periods *per, double *ectab)
{
    pi_periods out = *per;
    size_t kt = (size_t) per->K * per->Tmax;
    out.split = 1;
    for (size_t e = 0; e < kt; e++) {
        ectab[e] = exp(-per->ctab[e]);
        if (fabs(per->ctab[e]) > SC_SPLIT_MAX) out.split = 0;
    }
    out.ectab = ectab;
    return out;
}

/* cp_chunks() of a batch of n persons reducing len doubles. */
static cl_len batch_chunks(cl_len n, size_t len)
{
    return cp_chunks(n < PI_BATCH ? n : PI_BATCH, 1, len > INT_MAX ? INT_MAX : (int) len);
}

static size_t batches_work_size(cl_len n, int nthreads, size_t len, size_t scratch_len)
{
    return len + cp_reduce_work_size(batch_chunks(n, len), nthreads, len, scratch_len);
}

/* out (len) = the sums of chunk() over persons [0, n), batch by batch:
 * *base is set to each batch's first person before its reduction. */
static void run_batches(cl_len n, int nthreads, size_t len, size_t scratch_len,
                        cp_chunk_fn chunk, const void *ctx, cl_len *base, double *out,
                        double *work, void (*interrupt)(void))
{
    double *part = work, *red = work + len;
    if (len) memset(out, 0, sizeof(double) * len);
    for (cl_len b0 = 0; b0 < n; b0 += PI_BATCH) {
        cl_len nb = n - b0 < PI_BATCH ? n - b0 : PI_BATCH;
        *base = b0;
        cp_reduce(nb, batch_chunks(nb, len), nthreads, len, scratch_len, chunk, ctx, part, red);
        for (size_t e = 0; e < len; e++) out[e] += part[e];
        if (interrupt) interrupt();
    }
}

/* ---- person scores ------------------------------------------------------ */

typedef struct {
    const pt_data *data;
    const cp_design *z;
    const double *lp;
    const pi_periods *per;
    double *score;
    cl_len base;
} scores_ctx;

/* Persons [base + from, base + to): their rows of score; no sums. */
static void scores_chunk(const void *ctx_, cl_len from, cl_len to, double *acc,
                         double *scratch)
{
    const scores_ctx *c = ctx_;
    const pt_data *data = c->data;
    const pi_periods *per = c->per;
    const int K = per->K, T = per->Tmax, q = per->q, pz = c->z->p;
    const cl_len n = data->n, end = c->base + to;
    double *fe = scratch, e[CP_BLOCK_ROWS], buf[CP_BLOCK_ROWS];
    (void) acc;
    for (cl_len r0 = c->base + from; r0 < end; r0 += CP_BLOCK_ROWS) {
        int len = (int) (end - r0 < CP_BLOCK_ROWS ? end - r0 : CP_BLOCK_ROWS);
        for (int ii = 0; ii < len; ii++) {
            cl_len i = r0 + ii;
            int a = data->arm[i], L = data->last[i], ev = data->status[i];
            double w = data->w[i], sh = 0.0, l = c->lp[i], el;
            int split = person_split(per, l, &el);
            for (int k = 0; k < q; k++) fe[k] = 0.0;
            for (int t = 0; t < L; t++) {
                size_t e = a + (size_t) K * t;
                double h = hazard(l, el, per->ctab[e], per->ectab[e], split);
                sh += h;
                for (int k = 0; k < q; k++) fe[k] += h * per->F[t + (size_t) T * k];
            }
            int tl = (L > 0 ? L : 1) - 1;
            e[ii] = w * (ev - sh);
            for (int k = 0; k < q; k++) {
                double s = w * (ev * per->F[tl + (size_t) T * k] - fe[k]);
                c->score[i + (size_t) n * (pz + k)] = s;
                for (int b = 1; b < K; b++)
                    c->score[i + (size_t) n * (pz + (size_t) b * q + k)] = b == a ? s : 0.0;
            }
        }
        for (int j = 0; j < pz; j++) {
            const double *xj = cp_column_rows(c->z, j, r0, len, buf);
            double *sj = c->score + r0 + (size_t) n * j;
            for (int ii = 0; ii < len; ii++) sj[ii] = xj[ii] * e[ii];
        }
    }
}

/* exp(-ctab), then the batches' work. */
size_t pi_scores_work_size(cl_len n, const pi_periods *per, int nthreads)
{
    return (size_t) per->K * per->Tmax + batches_work_size(n, nthreads, 0, (size_t) per->q);
}

/*
 * Inputs:  data (arm, last, status, w of n persons; censoring ignored), z
 *          (n x pz person design of the hazard model, intercept included),
 *          lp (n, the person part of each person's logit hazard in its own
 *          arm), per (K arms, Tmax >= every last, q period terms).
 * Output:  score (n x P, P = pz + K q): person i's score of the hazard
 *          model's coefficients over its periods 1..last_i, weight w_i:
 *          w_i (z_i E_i, Fe_i, Fe_i in the block of its arm a_i > 0, 0 in
 *          the other blocks), E_i = d_i - sum_t h_it, Fe_i = d_i F_{last_i}
 *          - sum_t h_it F_t.
 * Work:    pi_scores_work_size(n, per, nthreads) doubles.
 */
void pi_scores(const pt_data *data, const cp_design *z, const double *lp,
               const pi_periods *per, double *score, int nthreads, double *work,
               void (*interrupt)(void))
{
    pi_periods pe = with_exp(per, work);
    scores_ctx ctx = {data, z, lp, &pe, score, 0};
    run_batches(data->n, nthreads, 0, (size_t) per->q, scores_chunk, &ctx, &ctx.base, NULL,
                work + (size_t) per->K * per->Tmax, interrupt);
}

/* ---- the curves' derivatives and running sums -------------------------- */

typedef struct {
    const pi_people *pp;
    const pi_periods *per;
    int pz, P;          /* P: Phi's columns, 0 without Phi */
    size_t off_gf, off_ij, off_C;
    cl_len base;
} sums_ctx;

/* The sums of one chunk, arm-major: gz (pz x Tmax per arm), gf (q x
 * Tmax), ij (Tmax), C (P x Tmax). */
static size_t sums_len(const sums_ctx *c)
{
    return c->off_C + (size_t) c->per->K * c->per->Tmax * c->P;
}

/* Scratch of one thread: the rows of a design and of Phi, two Tmax x rows
 * weight blocks, and one person's q running sums. */
static size_t sums_scratch(int pz, int P, int Tmax, int q)
{
    return (size_t) CP_BLOCK_ROWS * ((size_t) pz + P + 2 * (size_t) Tmax) + q;
}

/* Persons [base + from, base + to) into acc (sums_len()). */
static void sums_chunk(const void *ctx_, cl_len from, cl_len to, double *acc,
                       double *scratch)
{
    const sums_ctx *c = ctx_;
    const pi_people *pp = c->pp;
    const pi_periods *per = c->per;
    const int K = per->K, T = per->Tmax, q = per->q, pz = c->pz, P = c->P;
    const cl_len n = pp->n, end = c->base + to;
    double *zb = scratch, *phib = zb + (size_t) CP_BLOCK_ROWS * pz;
    double *A1 = phib + (size_t) CP_BLOCK_ROWS * P, *A2 = A1 + (size_t) CP_BLOCK_ROWS * T;
    double *hf = A2 + (size_t) CP_BLOCK_ROWS * T;
    memset(acc, 0, sizeof(double) * sums_len(c));
    for (cl_len r0 = c->base + from; r0 < end; r0 += CP_BLOCK_ROWS) {
        int len = (int) (end - r0 < CP_BLOCK_ROWS ? end - r0 : CP_BLOCK_ROWS);
        if (P) cp_copy_rows(pp->phi, r0, len, phib);
        for (int k = 0; k < K; k++) {
            double *gz = acc + (size_t) k * pz * T, *gf = acc + c->off_gf + (size_t) k * q * T;
            double *ij = acc + c->off_ij + (size_t) k * T;
            const double *lpk = pp->lp + (size_t) k * n + r0, *ct = per->ctab + k;
            const double *ect = per->ectab + k;
            cp_copy_rows(pp->z + k, r0, len, zb);
            for (int b = 0; b < len; b++) {
                double v = pp->v[r0 + b], s = 1.0, hc = 0.0, el;
                int split = person_split(per, lpk[b], &el);
                for (int j = 0; j < q; j++) hf[j] = 0.0;
                for (int t = 0; t < T; t++) {
                    double h = hazard(lpk[b], el, ct[(size_t) K * t], ect[(size_t) K * t], split);
                    s *= 1.0 - h;
                    hc += h;
                    double vs = s * v;
                    A1[(size_t) t * len + b] = vs * hc;
                    for (int j = 0; j < q; j++) {
                        hf[j] += h * per->F[t + (size_t) T * j];
                        gf[(size_t) t * q + j] += vs * hf[j];
                    }
                    if (P) {
                        double d = v * (s - pp->Sbar[k + (size_t) K * t]);
                        A2[(size_t) t * len + b] = d;
                        ij[t] += d * d;
                    }
                }
            }
            cp_block_xtm(zb, len, pz, A1, (size_t) len, T, gz);
            if (P) cp_block_xtm(phib, len, P, A2, (size_t) len, T,
                                acc + c->off_C + (size_t) k * P * T);
        }
    }
}

static sums_ctx sums_setup(const pi_people *pp, const pi_periods *per)
{
    const size_t kt = (size_t) per->K * per->Tmax;
    sums_ctx c = {pp, per, pp->z[0].p, pp->phi ? pp->phi->p : 0, 0, 0, 0, 0};
    c.off_gf = kt * c.pz;
    c.off_ij = c.off_gf + kt * per->q;
    c.off_C = c.off_ij + kt;
    return c;
}

/* exp(-ctab), the sums, then the batches' work. */
size_t pi_arm_sums_work_size(const pi_people *pp, const pi_periods *per, int nthreads)
{
    sums_ctx c = sums_setup(pp, per);
    size_t len = sums_len(&c);
    return (size_t) per->K * per->Tmax + len + batches_work_size(pp->n, nthreads, len,
                                   sums_scratch(c.pz, c.P, per->Tmax, per->q));
}

/*
 * Inputs:  pp (n persons: lp n x K, v, K counterfactual designs of pz
 *          columns, Phi n x P with P = pz + K q and Sbar K x Tmax, or no
 *          Phi), per (K, Tmax, q).
 * Outputs: G ((K Tmax) x P, rows k-fastest): dSbar_k(t) / d beta =
 *          -sum_i v_i S_ik(t) sum_{s <= t} h_iks (z_ik, F_s, F_s in arm k's
 *          block when k > 0);
 *          ij_var (K x Tmax): sum_i v_i^2 (S_ik(t) - Sbar_k(t))^2;
 *          C ((K Tmax) x P): sum_i v_i (S_ik(t) - Sbar_k(t)) Phi_i;
 *          both 0 without Phi.
 * Work:    pi_arm_sums_work_size(pp, per, nthreads) doubles.
 */
void pi_arm_sums(const pi_people *pp, const pi_periods *per, double *G, double *ij_var,
                 double *C, int nthreads, double *work, void (*interrupt)(void))
{
    const int K = per->K, T = per->Tmax, q = per->q;
    const size_t kt = (size_t) K * T;
    pi_periods pe = with_exp(per, work);
    sums_ctx c = sums_setup(pp, &pe);
    const int pz = c.pz, P = c.P, PG = pz + K * q;
    const size_t len = sums_len(&c);
    double *acc = work + kt;
    run_batches(pp->n, nthreads, len, sums_scratch(pz, P, T, q), sums_chunk, &c, &c.base,
                acc, acc + len, interrupt);
    memset(G, 0, sizeof(double) * kt * PG);
    memset(C, 0, sizeof(double) * kt * PG);
    for (int k = 0; k < K; k++) {
        const double *gz = acc + (size_t) k * pz * T, *gf = acc + c.off_gf + (size_t) k * q * T;
        const double *ij = acc + c.off_ij + (size_t) k * T;
        const double *ck = acc + c.off_C + (size_t) k * P * T;
        for (int t = 0; t < T; t++) {
            size_t row = (size_t) t * K + k;
            for (int j = 0; j < pz; j++) G[row + kt * j] = -gz[(size_t) t * pz + j];
            for (int j = 0; j < q; j++) {
                double g = -gf[(size_t) t * q + j];
                G[row + kt * (pz + j)] = g;
                if (k > 0) G[row + kt * (pz + (size_t) k * q + j)] = g;
            }
            ij_var[row] = P ? ij[t] : 0.0;
            for (int j = 0; j < P; j++) C[row + kt * j] = ck[(size_t) t * P + j];
        }
    }
}

/* ---- functionals of each person's curve ---------------------------------- */

typedef struct {
    const double *lp;
    cl_len n, nrows;
    const int *rows;
    const pi_periods *per;
    const double *L;
    const int *arm;
    int r;
    double *out;
    cl_len base;
} fn_ctx;

/* Persons [base + from, base + to) of rows: their rows of out; no sums. */
static void fn_chunk(const void *ctx_, cl_len from, cl_len to, double *acc, double *scratch)
{
    const fn_ctx *c = ctx_;
    const pi_periods *per = c->per;
    const int K = per->K, T = per->Tmax;
    double *S = scratch;
    (void) acc;
    for (cl_len e = c->base + from; e < c->base + to; e++) {
        cl_len i = c->rows ? c->rows[e] : e;
        for (int k = 0; k < K; k++) {
            int used = 0;
            for (int j = 0; j < c->r && !used; j++) used = c->arm[j] == k;
            if (!used) continue;
            double s = 1.0, l = c->lp[i + (size_t) k * c->n], el;
            int split = person_split(per, l, &el);
            for (int t = 0; t < T; t++) {
                size_t e = k + (size_t) K * t;
                s *= 1.0 - hazard(l, el, per->ctab[e], per->ectab[e], split);
                S[t] = s;
            }
            for (int j = 0; j < c->r; j++) {
                if (c->arm[j] != k) continue;
                const double *Lj = c->L + (size_t) T * j;
                double sum = 0.0;
                for (int t = 0; t < T; t++) sum += S[t] * Lj[t];
                c->out[e + (size_t) c->nrows * j] = sum;
            }
        }
    }
}

/* exp(-ctab), then the batches' work. */
size_t pi_functionals_work_size(cl_len nrows, const pi_periods *per, int nthreads)
{
    return (size_t) per->K * per->Tmax + batches_work_size(nrows, nthreads, 0, (size_t) per->Tmax);
}

/*
 * Inputs:  lp (n x K), rows (nrows 0-based persons, or NULL: all, nrows =
 *          n), per (K, Tmax; F unused), L (Tmax x r), arm (r, 0..K-1).
 * Output:  out (nrows x r): sum_t S_{rows[e], arm[j]}(t) L[t, j].
 * Work:    pi_functionals_work_size(nrows, per, nthreads) doubles.
 */
void pi_functionals(const double *lp, cl_len n, const int *rows, cl_len nrows,
                    const pi_periods *per, const double *L, const int *arm, int r,
                    double *out, int nthreads, double *work, void (*interrupt)(void))
{
    pi_periods pe = with_exp(per, work);
    fn_ctx ctx = {lp, n, nrows, rows, &pe, L, arm, r, out, 0};
    run_batches(nrows, nthreads, 0, (size_t) per->Tmax, fn_chunk, &ctx, &ctx.base, NULL,
                work + (size_t) per->K * per->Tmax, interrupt);
}
