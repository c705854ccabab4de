/*
 * Pooled logistic regression over person-time (the discrete-time hazard
 * model) without the long person-period table.
 *
 * Row (i, t) has linear predictor eta_it = lp_i + c[arm_i, t]: a person part
 * lp_i = offset_i + x_i'beta_x computed once per person, and a K x Tmax
 * table c of the period and arm-by-period terms.  One pass over persons per
 * Newton step accumulates, for each person, S0_i = sum_t prior v,
 * S1_i = sum_t prior v F_t and g_i = sum_t prior (y - mu) (v = mu (1 - mu)),
 * and for each (arm, period) W = sum prior v and G = sum prior (y - mu).  The information
 * matrix is then assembled from blocks: the person block and the person-by-
 * period cross blocks from one weighted cross-product X' diag(S0) [X, M]
 * with M = [S1 per block, g], the period blocks from W.  Time is
 * O(sum_i last_i q + n P^2) per step and memory O(n (P - pd)), never
 * O(n Tmax).
 *
 * The iterations are newton.c's, under its NEWTON_DAMPED_FAIL rule: glm()'s
 * convergence rule on the (penalized) deviance, the same aliasing of
 * dependent columns on the first system; a step that makes the deviance
 * non-finite or larger is halved.  Plain C: calls newton.c, design.c and
 * glm.c's logistic link.
 */
#include <math.h>
#include <string.h>
#include <float.h>
#include "person-time.h"

/* glm.fit()'s rule for "fitted probabilities numerically 0 or 1". */
#define SEP_EPS (10 * DBL_EPSILON)

/* Coefficients of the pooled logistic model. */
int pt_ncoef(const pt_data *data, const pt_model *model)
{
    return model->d->p + model->q * (1 + (model->interact ? data->K - 1 : 0));
}

/* Factor by which the censoring weights carry person i's prior weight from
 * period s to period s + 1 (s 0-based), a = arm of i. */
static double cens_factor(const pt_data *data, cl_len i, int a, int s)
{
    size_t e = (size_t) a + (size_t) data->K * s;
    double num = data->ln ? 1.0 - glm_linkinv(GLM_BINOMIAL, data->ln[i] + data->cn[e]) : 1.0;
    return num / (1.0 - glm_linkinv(GLM_BINOMIAL, data->lc[i] + data->cc[e]));
}

/* Both passes reduce two K x Tmax tables and two scalars per chunk. */
static size_t table_len(const pt_data *data)
{
    return 2 * (size_t) data->K * data->Tmax + 2;
}

/* Chunks of persons of both passes. */
static cl_len pass_chunks(const pt_data *data)
{
    return cp_chunks(data->n, 1, (int) table_len(data));
}

/* ---- weighted risk table ------------------------------------------------ */

/* Persons [from, to): acc = (at risk K x Tmax, events K x Tmax, rows,
 * events), the tables column-major as R's K x Tmax matrices. */
static void risk_chunk(const void *ctx, cl_len from, cl_len to,
                       double *acc, double *scratch)
{
    const pt_data *data = ctx;
    const int K = data->K;
    const size_t kt = (size_t) K * data->Tmax;
    double *ev = acc + kt;
    (void) scratch;
    memset(acc, 0, sizeof(double) * table_len(data));
    for (cl_len i = from; i < to; i++) {
        int a = data->arm[i], L = data->last[i];
        double pw = data->w[i];
        if (!(pw > 0) || L == 0) continue;
        for (int t = 0; t < L; t++) {
            acc[a + (size_t) K * t] += pw;
            if (data->lc && t + 1 < L) pw *= cens_factor(data, i, a, t);
        }
        if (data->status[i]) ev[a + (size_t) K * (L - 1)] += pw;
        acc[2 * kt] += L;
        acc[2 * kt + 1] += data->status[i];
    }
}

/* Doubles of work for the risk table's reduction. */
static size_t risk_reduce_size(const pt_data *data, int nthreads)
{
    cl_len nchunk = pass_chunks(data);
    return cp_reduce_work_size(nchunk, nthreads, table_len(data), 0);
}

/* The reduction's work, then its output. */
size_t pt_risk_work_size(const pt_data *data, int nthreads)
{
    return risk_reduce_size(data, nthreads) + table_len(data);
}

/*
 * Inputs:  data.
 * Outputs: at_risk, events (K x Tmax): sums of the prior weights of the rows
 *          at risk, and of the rows with an event, by arm and period;
 *          counts (2): person-period rows and events with w > 0.
 * Work:    pt_risk_work_size(data, nthreads) doubles.
 */
void pt_risk_table(const pt_data *data, double *at_risk, double *events,
                   double *counts, int nthreads, double *work)
{
    size_t kt = (size_t) data->K * data->Tmax, len = table_len(data);
    cl_len nchunk = pass_chunks(data);
    double *out = work + risk_reduce_size(data, nthreads);
    cp_reduce(data->n, nchunk, nthreads, len, 0, risk_chunk,
              data, out, work);
    memcpy(at_risk, out, sizeof(double) * kt);
    memcpy(events, out + kt, sizeof(double) * kt);
    counts[0] = out[2 * kt];
    counts[1] = out[2 * kt + 1];
}

/* ---- Newton steps ------------------------------------------------------- */

typedef struct {
    const pt_data *data;
    const pt_model *model;
    int P, m, nthreads;   /* m = P - pd + 1 columns of M */
    double *S0, *M;       /* n and n x m per-person sums of the last pass */
    double *tab;          /* W, G (K x Tmax, arm-major), deviance, separated rows */
    double *xx;           /* pd x (pd + m): X' diag(S0) [X, M] */
    double *ctab;         /* K x Tmax period part of eta (pt_period_table()) */
    double *Ft;           /* q x Tmax: F transposed, one period per column */
    double *Fa;           /* q x q + q: one arm's period block and score */
    double *blin;         /* P coefficients with NaN as 0 */
    double *pass_work, *cp_work;
    const double *penalty; /* P or NULL */
    double dev;           /* the deviance of the last pass */
    /* Row-recomputed residuals (pt_resid(), pt_refine()): a combination of
     * the P columns and its period table, column j's, one value per
     * person, and their reduction's work. */
    double *comb, *comb_tab, *col_tab, *rho, *lin_out, *lin_work;
} pt_ws;

/* Persons [from, to): their sums into S0 and M, and acc = (W, G, deviance,
 * separated rows) over their rows, at the coefficients in ws->blin. */
static void pass_chunk(const void *ctx, cl_len from, cl_len to,
                       double *acc, double *scratch)
{
    const pt_ws *ws = ctx;
    const pt_data *data = ws->data;
    const cp_design *d = ws->model->d;
    const int T = data->Tmax, q = ws->model->q, m = ws->m, pd = d->p;
    const int nblk = ws->model->interact ? data->K : 1;
    const cl_len n = data->n;
    const size_t kt = (size_t) data->K * T;
    double *W = acc, *G = acc + kt, dev = 0.0, nsep = 0.0;
    double *lp = scratch, *s1 = scratch + CP_BLOCK_ROWS, buf[CP_BLOCK_ROWS];
    memset(acc, 0, sizeof(double) * table_len(data));
    for (cl_len r0 = from; r0 < to; r0 += CP_BLOCK_ROWS) {
        int len = (int) ((to - r0) < CP_BLOCK_ROWS ? (to - r0) : CP_BLOCK_ROWS);
        const double *off = ws->model->offset;
        for (int i = 0; i < len; i++) lp[i] = off ? off[r0 + i] : 0.0;
        for (int j = 0; j < pd; j++) {
            const double *xj = cp_column_rows(d, j, r0, len, buf);
            double b = ws->blin[j];
            for (int i = 0; i < len; i++) lp[i] += xj[i] * b;
        }
        for (int ii = 0; ii < len; ii++) {
            cl_len i = r0 + ii;
            int a = data->arm[i], L = data->last[i], event = data->status[i];
            double pw = data->w[i], s0 = 0.0, g = 0.0;
            for (int k = 0; k < q; k++) s1[k] = 0.0;
            if (pw > 0) {
                const double *ct = ws->ctab + a;
                const size_t K = (size_t) data->K;
                double *Wa = W + (size_t) a * T, *Ga = G + (size_t) a * T;
                for (int t = 0; t < L; t++) {
                    double mu = glm_linkinv(GLM_BINOMIAL, lp[ii] + ct[K * t]);
                    int y = event && t == L - 1;
                    double v = pw * mu * (1.0 - mu), r = pw * (y - mu);
                    dev -= 2.0 * pw * log(y ? mu : 1.0 - mu);
                    nsep += mu < SEP_EPS || mu > 1.0 - SEP_EPS;
                    s0 += v;
                    g += r;
                    Wa[t] += v;
                    Ga[t] += r;
                    const double *ft = ws->Ft + (size_t) t * q;
                    for (int k = 0; k < q; k++) s1[k] += v * ft[k];
                    if (data->lc && t + 1 < L) pw *= cens_factor(data, i, a, t);
                }
            }
            ws->S0[i] = s0;
            /* Block 0 (gamma) sees every person, block b only arm b. */
            for (int b = 0; b < nblk; b++)
                for (int k = 0; k < q; k++)
                    ws->M[i + (size_t) (b * q + k) * n] = (b == 0 || b == a) ? s1[k] : 0.0;
            ws->M[i + (size_t) (m - 1) * n] = g;
        }
    }
    acc[2 * kt] = dev;
    acc[2 * kt + 1] = nsep;
}

/* Scratch doubles per thread of a Newton pass: the persons' linear
 * predictors of a row block and one person's S1. */
static size_t pass_scratch(const pt_model *model)
{
    return CP_BLOCK_ROWS + (size_t) model->q;
}

/*
 * Inputs:  model, K arms, Tmax periods (F's rows), beta (pt_ncoef(); NaN
 *          coefficients count as 0).
 * Output:  ctab (K x Tmax, column-major): the period part of the logit of
 *          arm a in period t, F_t'gamma (+ F_t'delta_a with interactions);
 *          without interactions every row is the same.
 */
void pt_period_table(const pt_model *model, int K, int Tmax, const double *beta,
                     double *ctab)
{
    const int q = model->q, pd = model->d->p;
    const double *gam = beta + pd;
    for (int a = 0; a < K; a++) {
        const double *del = model->interact && a > 0 ? gam + (size_t) a * q : NULL;
        for (int t = 0; t < Tmax; t++) {
            double c = 0.0;
            for (int k = 0; k < q; k++) {
                double g = isnan(gam[k]) ? 0.0 : gam[k];
                double dk = del && !isnan(del[k]) ? del[k] : 0.0;
                c += model->F[t + (size_t) k * Tmax] * (g + dk);
            }
            ctab[a + (size_t) K * t] = c;
        }
    }
}

/* One pass over persons at beta (NaN as 0); returns the deviance. */
static double pt_pass(pt_ws *ws, const double *beta)
{
    const pt_data *data = ws->data;
    for (int j = 0; j < ws->P; j++) ws->blin[j] = isnan(beta[j]) ? 0.0 : beta[j];
    pt_period_table(ws->model, data->K, data->Tmax, ws->blin, ws->ctab);
    cl_len nchunk = pass_chunks(data);
    cp_reduce(data->n, nchunk, ws->nthreads, table_len(data),
              pass_scratch(ws->model), pass_chunk, ws, ws->tab, ws->pass_work);
    return ws->tab[table_len(data) - 2];
}

/* H[r0.., c0..] += the q x q block B. */
static void add_block(double *H, int P, int r0, int c0, const double *B, int q)
{
    for (int l = 0; l < q; l++)
        for (int k = 0; k < q; k++)
            H[(size_t) (c0 + l) * P + r0 + k] += B[(size_t) l * q + k];
}

/* Information H (P x P) and score (P) at the coefficients of the last pass,
 * unpenalized (newton_system() for newton_fit()). */
static void pt_system(void *ctx, double *H, double *score)
{
    pt_ws *ws = ctx;
    const pt_data *data = ws->data;
    const pt_model *model = ws->model;
    const int P = ws->P, m = ws->m, pd = model->d->p, q = model->q, T = data->Tmax;
    const size_t kt = (size_t) data->K * T;
    memset(H, 0, sizeof(double) * (size_t) P * P);
    memset(score, 0, sizeof(double) * P);
    if (pd > 0) {
        wcrossprod_xt(model->d, ws->S0, ws->M, m, ws->xx, ws->nthreads, ws->cp_work);
        const double *xm = ws->xx + (size_t) pd * pd;
        for (int k = 0; k < pd; k++)
            for (int j = 0; j < pd; j++)
                H[(size_t) k * P + j] = ws->xx[(size_t) k * pd + j];
        for (int c = 0; c < m - 1; c++)
            for (int j = 0; j < pd; j++) {
                double e = xm[(size_t) c * pd + j];
                H[(size_t) (pd + c) * P + j] = e;
                H[(size_t) j * P + pd + c] = e;
            }
        for (int j = 0; j < pd; j++) score[j] = xm[(size_t) (m - 1) * pd + j];
    }
    double *Fa = ws->Fa, *ga = Fa + (size_t) q * q;
    for (int a = 0; a < data->K && q > 0; a++) {
        const double *Wa = ws->tab + (size_t) a * T, *Ga = ws->tab + kt + (size_t) a * T;
        memset(Fa, 0, sizeof(double) * ((size_t) q * q + q));
        for (int t = 0; t < T; t++) {
            for (int k = 0; k < q; k++) {
                double fk = model->F[t + (size_t) k * T];
                ga[k] += Ga[t] * fk;
                for (int l = k; l < q; l++)
                    Fa[(size_t) l * q + k] += Wa[t] * fk * model->F[t + (size_t) l * T];
            }
        }
        cp_symmetrize(Fa, q);
        int da = pd + (model->interact ? a : 0) * q;
        add_block(H, P, pd, pd, Fa, q);
        for (int k = 0; k < q; k++) score[pd + k] += ga[k];
        if (da != pd) {
            add_block(H, P, pd, da, Fa, q);
            add_block(H, P, da, pd, Fa, q);
            add_block(H, P, da, da, Fa, q);
            for (int k = 0; k < q; k++) score[da + k] += ga[k];
        }
    }
}

/* The penalized deviance at beta, from one pass (newton_fit()'s objective);
 * the deviance itself stays in ws->dev. */
static double pt_objective(void *ctx, const double *beta)
{
    pt_ws *ws = ctx;
    ws->dev = pt_pass(ws, beta);
    return ws->dev + newton_penalty(beta, ws->P, ws->penalty, ws->P);
}

/* ---- residuals from the person-period rows ----------------------------- */

/* What a pass over the person-period rows of a linear combination c of the
 * P columns (value lin_it = u_i + ctab_c[a, t] at row (i, t)) sums, with the
 * weights v_it of the last pass: */
enum {
    LIN_RESID = 0, /* sum v lin^2 and sum v col_j^2 */
    LIN_REFINE = 1 /* rho_it = prior (y - mu) - v lin by person and (arm, period) */
};

typedef struct {
    const pt_ws *ws;
    int mode, j; /* j: the column of LIN_RESID */
} lin_ctx;

/* The person part of the combination c (pd) over a row block into u. */
static void person_part(const cp_design *d, const double *c, cl_len r0, int len,
                        double *u, double *buf)
{
    for (int i = 0; i < len; i++) u[i] = 0.0;
    for (int k = 0; k < d->p; k++) {
        if (c[k] == 0.0) continue;
        const double *xk = cp_column_rows(d, k, r0, len, buf);
        for (int i = 0; i < len; i++) u[i] += xk[i] * c[k];
    }
}

/* Persons [from, to): acc = (the K x Tmax arm-major table of rho, then the
 * two sums of LIN_RESID), and ws->rho (LIN_REFINE); a cp_chunk_fn. */
static void lin_chunk(const void *ctx_, cl_len from, cl_len to, double *acc,
                      double *scratch)
{
    const lin_ctx *ctx = ctx_;
    const pt_ws *ws = ctx->ws;
    const pt_data *data = ws->data;
    const cp_design *d = ws->model->d;
    const int T = data->Tmax, pd = d->p;
    const size_t K = (size_t) data->K, kt = K * T;
    double *lp = scratch, *u = lp + CP_BLOCK_ROWS, *uj = u + CP_BLOCK_ROWS;
    double buf[CP_BLOCK_ROWS], ss = 0.0, nrm = 0.0;
    memset(acc, 0, sizeof(double) * (kt + 2));
    for (cl_len r0 = from; r0 < to; r0 += CP_BLOCK_ROWS) {
        int len = (int) ((to - r0) < CP_BLOCK_ROWS ? (to - r0) : CP_BLOCK_ROWS);
        const double *off = ws->model->offset;
        for (int i = 0; i < len; i++) lp[i] = off ? off[r0 + i] : 0.0;
        for (int k = 0; k < pd; k++) {
            const double *xk = cp_column_rows(d, k, r0, len, buf);
            for (int i = 0; i < len; i++) lp[i] += xk[i] * ws->blin[k];
        }
        person_part(d, ws->comb, r0, len, u, buf);
        if (ctx->mode == LIN_RESID) {
            for (int i = 0; i < len; i++) uj[i] = 0.0;
            if (ctx->j < pd) memcpy(uj, cp_column_rows(d, ctx->j, r0, len, buf), sizeof(double) * len);
        }
        for (int ii = 0; ii < len; ii++) {
            cl_len i = r0 + ii;
            int a = data->arm[i], L = data->last[i], event = data->status[i];
            double pw = data->w[i], rho = 0.0;
            if (pw > 0) {
                for (int t = 0; t < L; t++) {
                    size_t e = (size_t) a + K * t;
                    double mu = glm_linkinv(GLM_BINOMIAL, lp[ii] + ws->ctab[e]);
                    double v = pw * mu * (1.0 - mu), lin = u[ii] + ws->comb_tab[e];
                    if (ctx->mode == LIN_RESID) {
                        double col = uj[ii] + ws->col_tab[e];
                        ss += v * lin * lin;
                        nrm += v * col * col;
                    } else {
                        double r = pw * ((event && t == L - 1) - mu) - v * lin;
                        rho += r;
                        acc[(size_t) a * T + t] += r;
                    }
                    if (data->lc && t + 1 < L) pw *= cens_factor(data, i, a, t);
                }
            }
            if (ctx->mode == LIN_REFINE) ws->rho[i] = rho;
        }
    }
    acc[kt] = ss;
    acc[kt + 1] = nrm;
}

/* Doubles of the reduction of lin_chunk(), or of X' rho if more. */
static size_t lin_work_size(const pt_data *data, const pt_model *model, int nthreads)
{
    size_t red = cp_reduce_work_size(pass_chunks(data), nthreads,
                                     (size_t) data->K * data->Tmax + 2, 3 * CP_BLOCK_ROWS);
    size_t xt = model->d->p > 0 ? xt_mat_work_size(data->n, model->d->p, 1, nthreads) : 0;
    return red > xt ? red : xt;
}

/* Run lin_chunk() over all persons for the combination in ws->comb. */
static void lin_pass(pt_ws *ws, int mode, int j, double *out)
{
    const pt_data *data = ws->data;
    lin_ctx ctx = {ws, mode, j};
    pt_period_table(ws->model, data->K, data->Tmax, ws->comb, ws->comb_tab);
    cp_reduce(data->n, pass_chunks(data), ws->nthreads, (size_t) data->K * data->Tmax + 2,
              3 * CP_BLOCK_ROWS, lin_chunk, &ctx, out, ws->lin_work);
}

/* newton_resid_fn on the first system: column j less the columns with
 * coefficients b, over the person-period rows with its weights (glm()'s
 * first iteration on the long table, up to a constant). */
static double pt_resid(void *ctx, int j, const double *b, double *norm2)
{
    pt_ws *ws = ctx;
    const pt_data *data = ws->data;
    size_t kt = (size_t) data->K * data->Tmax;
    for (int k = 0; k < ws->P; k++) ws->comb[k] = k == j ? 1.0 : 0.0;
    pt_period_table(ws->model, data->K, data->Tmax, ws->comb, ws->col_tab);
    for (int k = 0; k < ws->P; k++) ws->comb[k] = (k == j ? 1.0 : 0.0) - b[k];
    lin_pass(ws, LIN_RESID, j, ws->lin_out);
    *norm2 = ws->lin_out[kt + 1];
    return ws->lin_out[kt];
}

/* newton_problem's refine: r = score - H x for the step x, from the
 * person-period rows at the last pass. */
static void pt_refine(void *ctx, const double *x, double *r)
{
    pt_ws *ws = ctx;
    const pt_data *data = ws->data;
    const pt_model *model = ws->model;
    const int pd = model->d->p, q = model->q, T = data->Tmax;
    for (int k = 0; k < ws->P; k++) ws->comb[k] = isnan(x[k]) ? 0.0 : x[k];
    lin_pass(ws, LIN_REFINE, -1, ws->lin_out);
    if (pd > 0) xt_mat(model->d, ws->rho, 1, r, ws->nthreads, ws->lin_work);
    for (int k = pd; k < ws->P; k++) r[k] = 0.0;
    for (int a = 0; a < data->K; a++) {
        int da = pd + (model->interact ? a : 0) * q;
        for (int t = 0; t < T; t++) {
            double ra = ws->lin_out[(size_t) a * T + t];
            for (int k = 0; k < q; k++) {
                double v = model->F[t + (size_t) k * T] * ra;
                r[pd + k] += v;
                if (da != pd) r[da + k] += v;
            }
        }
    }
}

/* Columns of M: the period coefficients and the score. */
static size_t n_cols_M(const pt_data *data, const pt_model *model)
{
    return (size_t) (pt_ncoef(data, model) - model->d->p) + 1;
}

/* The doubles of a pass's reduction, or of the risk table's if more. */
static size_t pass_work_size(const pt_data *data, const pt_model *model, int nthreads)
{
    cl_len nchunk = pass_chunks(data);
    size_t pass_work = cp_reduce_work_size(nchunk, nthreads, table_len(data),
                                           pass_scratch(model));
    size_t risk_work = pt_risk_work_size(data, nthreads);
    return pass_work > risk_work ? pass_work : risk_work;
}

/* Doubles of work for pt_fit() but the centring plan's. */
static size_t fit_work_size(const pt_data *data, const pt_model *model, int nthreads)
{
    const cl_len n = data->n;
    const size_t P = (size_t) pt_ncoef(data, model), pd = (size_t) model->d->p;
    const size_t m = n_cols_M(data, model), q = (size_t) model->q;
    const size_t kt = (size_t) data->K * data->Tmax;
    return (size_t) n * (m + 1) + table_len(data) + pd * (pd + m) + kt +
           q * data->Tmax + q * q + q + P +                 /* pt_ws arrays */
           newton_work_size((int) P) + pass_work_size(data, model, nthreads) +
           (pd > 0 ? wcrossprod_xt_work_size(n, (int) pd, (int) m, nthreads) : 0) +
           P + 3 * kt + 2 + (size_t) n + lin_work_size(data, model, nthreads);
}

/* Doubles of work for pt_fit(): the fit's, the person design's shifts and
 * the centring plan's. */
size_t pt_fit_work_size(const pt_data *data, const pt_model *model, int nthreads)
{
    return fit_work_size(data, model, nthreads) + (size_t) model->d->p +
           cp_center_work_size(data->n, model->d->p, nthreads);
}

const double *pt_center(const pt_data *data, const pt_model *model, int nthreads,
                        const double *work)
{
    return work + fit_work_size(data, model, nthreads);
}

/* The fit of pt_fit() on the person design of model as it is read
 * (shifted or not). */
static void pt_fit_design(const pt_data *data, const pt_model *model, const glm_spec *spec,
                          double *beta, int *aliased, double *information, double *score,
                          pt_info *info, double *work)
{
    const cl_len n = data->n;
    const int P = pt_ncoef(data, model), pd = model->d->p, q = model->q;
    const int T = data->Tmax;
    const size_t m = n_cols_M(data, model), kt = (size_t) data->K * T;
    pt_ws ws = {.data = data, .model = model, .P = P, .m = (int) m,
                .nthreads = spec->nthreads, .penalty = spec->penalty};
    ws.S0 = work;
    ws.M = ws.S0 + n;
    ws.tab = ws.M + (size_t) n * m;
    ws.xx = ws.tab + table_len(data);
    ws.ctab = ws.xx + (size_t) pd * (pd + m);
    ws.Ft = ws.ctab + kt;
    ws.Fa = ws.Ft + (size_t) q * T;
    ws.blin = ws.Fa + (size_t) q * q + q;
    double *newton_work = ws.blin + P;
    ws.pass_work = newton_work + newton_work_size(P);
    ws.cp_work = ws.pass_work + pass_work_size(data, model, spec->nthreads);
    ws.comb = ws.cp_work + (pd > 0 ? wcrossprod_xt_work_size(n, pd, (int) m, spec->nthreads) : 0);
    ws.comb_tab = ws.comb + P;
    ws.col_tab = ws.comb_tab + kt;
    ws.lin_out = ws.col_tab + kt;
    ws.rho = ws.lin_out + kt + 2;
    ws.lin_work = ws.rho + n;
    newton_problem pb = {
        .q = P, .rule = NEWTON_DAMPED_FAIL, .objective = pt_objective,
        .system = pt_system, .ctx = &ws, .penalty = spec->penalty, .npenalty = P,
        .maxit = spec->maxit, .epsilon = spec->epsilon,
        .scale = newton_weight_scale(data->w, n), .interrupt = spec->interrupt,
        .resid = pt_resid, .refine = pt_refine
    };

    memset(info, 0, sizeof(*info));
    info->fit.anchor = -1;
    for (int t = 0; t < T; t++)
        for (int k = 0; k < q; k++) ws.Ft[(size_t) t * q + k] = model->F[t + (size_t) k * T];

    double counts[2], sum_w = 0.0, sum_y = 0.0;
    pt_risk_table(data, ws.tab, ws.tab + kt, counts, spec->nthreads, ws.pass_work);
    info->rows = counts[0];
    info->events = counts[1];
    for (size_t e = 0; e < kt; e++) {
        sum_w += ws.tab[e];
        sum_y += ws.tab[kt + e];
    }
    for (int j = 0; j < P; j++) {
        beta[j] = 0.0;
        aliased[j] = 0;
    }
    if (model->d->intercept && sum_y > 0 && sum_y < sum_w)
        beta[0] = log(sum_y / (sum_w - sum_y));

    newton_fit(&pb, pt_objective(&ws, beta), beta, aliased, &info->fit, newton_work);
    /* The information and score at the final coefficients, from its pass. */
    pt_system(&ws, information, score);
    newton_penalize(information, score, beta, P, spec->penalty, P);
    info->fit.deviance = ws.dev;
    info->separation = ws.tab[table_len(data) - 1] > 0;
}

/*
 * Inputs:  data, model, spec (family ignored; penalty P or NULL; interrupt
 *          called once per iteration, outside parallel regions, or NULL).
 * Outputs: beta (P; NaN where aliased), aliased (P), information (P x P)
 *          and score (P) at the final beta, both penalized, info.
 * Work:    pt_fit_work_size(data, model, spec->nthreads) doubles.
 * Start:   beta = 0 but the intercept, logit of the weighted event rate.
 * The fit runs on the person design shifted by cp_center_plan() (see
 * glm_irls()); beta is for the design as given, the information and the
 * score for the shifted one when info->fit.anchor >= 0 (shifts:
 * pt_center()).
 */
void pt_fit(const pt_data *data, const pt_model *model, const glm_spec *spec,
            double *beta, int *aliased, double *information, double *score,
            pt_info *info, double *work)
{
    const int pd = model->d->p;
    double *center = work + fit_work_size(data, model, spec->nthreads);
    cp_design z = *model->d;
    pt_model mz = *model;
    mz.d = &z;
    int anchor = cp_center_plan(model->d, spec->penalty, center, spec->nthreads, center + pd);
    if (anchor >= 0) z.center = center;
    pt_fit_design(data, &mz, spec, beta, aliased, information, score, info, work);
    if (anchor >= 0 && aliased[anchor] && !info->fit.failed) {
        z.center = NULL;
        anchor = -1;
        pt_fit_design(data, &mz, spec, beta, aliased, information, score, info, work);
    }
    /* A failed fit keeps its last iterate, which the caller reports with a
     * warning: its coefficients are for the design as given too, and no
     * anchor is reported for them. */
    if (anchor >= 0) cp_uncenter(beta, pd, center, anchor);
    info->fit.anchor = info->fit.failed ? -1 : anchor;
}
