/*
 * Pooled logistic regression over person-time (the discrete-time hazard
 * model) without the long person-period table.
 *
 * Row (i, t) has linear predictor eta_it = lp_i + c[arm_i, t]: a person part
 * lp_i = x_i'beta_x computed once per person, and a K x Tmax table c of the
 * period and arm-by-period terms.  One pass over persons per Newton step
 * accumulates, for each person, S0_i = sum_t prior v, S1_i = sum_t prior v F_t
 * and g_i = sum_t prior (y - mu) (v = mu (1 - mu)), and for each (arm,
 * period) W = sum prior v and G = sum prior (y - mu).  The information
 * matrix is then assembled from blocks: the person block and the person-by-
 * period cross blocks from one weighted cross-product X' diag(S0) [X, M]
 * with M = [S1 per block, g], the period blocks from W.  Time is
 * O(sum_i last_i q + n P^2) per step and memory O(n (P - pd)), never
 * O(n Tmax).
 *
 * Newton steps follow glm(): the same convergence rule on the (penalized)
 * deviance, the same aliasing of dependent columns on the first system;
 * a step that makes the deviance non-finite or larger is halved.
 */
#define R_NO_REMAP
#include <math.h>
#include <string.h>
#include <float.h>
#include "person-time.h"
#include "crossprod.h"
#include "ffi-checks.h"

#define ALIAS_TOL 1e-10     /* as glm.c and multinom.c */
#define MAX_HALVINGS 30
/* Deviance increases smaller than this relative amount are rounding. */
#define DEV_RTOL 1e-12
/* glm.fit()'s rule for "fitted probabilities numerically 0 or 1". */
#define SEP_EPS (10 * DBL_EPSILON)
#define MAX_TABLE 10000000.0 /* K x Tmax cells */

int pt_ncoef(const pt_data *data, const pt_model *model)
{
    return model->d->p + model->q * (1 + (model->interact ? data->K - 1 : 0));
}

/* Factor by which the censoring weights carry person i's prior weight from
 * period s to period s + 1 (s 0-based), a = arm of i. */
static double cens_factor(const pt_data *data, R_xlen_t i, int a, int s)
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

static R_xlen_t pass_chunks(const pt_data *data)
{
    return cp_chunks(data->n, 1, (int) table_len(data));
}

/* ---- weighted risk table ------------------------------------------------ */

/* Persons [from, to): acc = (at risk K x Tmax, events K x Tmax, rows,
 * events), the tables column-major as R's K x Tmax matrices. */
static void risk_chunk(const void *ctx, R_xlen_t from, R_xlen_t to,
                       double *acc, double *scratch)
{
    const pt_data *data = ctx;
    const int K = data->K;
    const size_t kt = (size_t) K * data->Tmax;
    double *ev = acc + kt;
    (void) scratch;
    memset(acc, 0, sizeof(double) * table_len(data));
    for (R_xlen_t i = from; i < to; i++) {
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

static size_t risk_reduce_size(const pt_data *data, int nthreads)
{
    R_xlen_t nchunk = pass_chunks(data);
    return cp_reduce_work_size(nchunk, cp_threads(nchunk, nthreads), table_len(data), 0);
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
    R_xlen_t nchunk = pass_chunks(data);
    double *out = work + risk_reduce_size(data, nthreads);
    cp_reduce(data->n, nchunk, cp_threads(nchunk, nthreads), len, 0, risk_chunk,
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
    double *ctab;         /* K x Tmax period part of eta, arm-major */
    double *Ft;           /* q x Tmax: F transposed, one period per column */
    double *Fa;           /* q x q + q: one arm's period block and score */
    double *blin;         /* P coefficients with NA as 0 */
    double *pass_work, *cp_work;
} pt_ws;

/* Persons [from, to): their sums into S0 and M, and acc = (W, G, deviance,
 * separated rows) over their rows, at the coefficients in ws->blin. */
static void pass_chunk(const void *ctx, R_xlen_t from, R_xlen_t to,
                       double *acc, double *scratch)
{
    const pt_ws *ws = ctx;
    const pt_data *data = ws->data;
    const cp_design *d = ws->model->d;
    const int T = data->Tmax, q = ws->model->q, m = ws->m, pd = d->p;
    const int nblk = ws->model->interact ? data->K : 1;
    const R_xlen_t n = data->n;
    const size_t kt = (size_t) data->K * T;
    double *W = acc, *G = acc + kt, dev = 0.0, nsep = 0.0;
    double *lp = scratch, *s1 = scratch + CP_BLOCK_ROWS;
    memset(acc, 0, sizeof(double) * table_len(data));
    for (R_xlen_t r0 = from; r0 < to; r0 += CP_BLOCK_ROWS) {
        int len = (int) ((to - r0) < CP_BLOCK_ROWS ? (to - r0) : CP_BLOCK_ROWS);
        for (int i = 0; i < len; i++) lp[i] = 0.0;
        for (int j = 0; j < pd; j++) {
            const double *xj = cp_column(d, j);
            double b = ws->blin[j];
            if (xj) for (int i = 0; i < len; i++) lp[i] += xj[r0 + i] * b;
            else for (int i = 0; i < len; i++) lp[i] += b;
        }
        for (int ii = 0; ii < len; ii++) {
            R_xlen_t i = r0 + ii;
            int a = data->arm[i], L = data->last[i], event = data->status[i];
            double pw = data->w[i], s0 = 0.0, g = 0.0;
            for (int k = 0; k < q; k++) s1[k] = 0.0;
            if (pw > 0) {
                const double *ct = ws->ctab + (size_t) a * T;
                double *Wa = W + (size_t) a * T, *Ga = G + (size_t) a * T;
                for (int t = 0; t < L; t++) {
                    double mu = glm_linkinv(GLM_BINOMIAL, lp[ii] + ct[t]);
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

static size_t pass_scratch(const pt_model *model)
{
    return CP_BLOCK_ROWS + (size_t) model->q;
}

/* One pass over persons at beta (NA as 0); returns the deviance. */
static double pt_pass(pt_ws *ws, const double *beta)
{
    const pt_data *data = ws->data;
    const pt_model *model = ws->model;
    const int T = data->Tmax, q = model->q, pd = model->d->p;
    for (int j = 0; j < ws->P; j++) ws->blin[j] = ISNAN(beta[j]) ? 0.0 : beta[j];
    for (int a = 0; a < data->K; a++) {
        const double *gam = ws->blin + pd;
        const double *del = model->interact && a > 0 ? gam + (size_t) a * q : NULL;
        for (int t = 0; t < T; t++) {
            double c = 0.0;
            for (int k = 0; k < q; k++)
                c += model->F[t + (size_t) k * T] * (gam[k] + (del ? del[k] : 0.0));
            ws->ctab[(size_t) a * T + t] = c;
        }
    }
    R_xlen_t nchunk = pass_chunks(data);
    cp_reduce(data->n, nchunk, cp_threads(nchunk, ws->nthreads), table_len(data),
              pass_scratch(model), pass_chunk, ws, ws->tab, ws->pass_work);
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
 * both penalized: H + diag(penalty), score - penalty * beta. */
static void pt_system(pt_ws *ws, const double *beta, const double *penalty,
                      double *H, double *score)
{
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
    if (penalty)
        for (int j = 0; j < P; j++) {
            H[(size_t) j * P + j] += penalty[j];
            if (!ISNAN(beta[j])) score[j] -= penalty[j] * beta[j];
        }
}

static double penalty_term(const double *beta, int P, const double *penalty)
{
    double s = 0.0;
    if (!penalty) return s;
    for (int j = 0; j < P; j++)
        if (!ISNAN(beta[j])) s += penalty[j] * beta[j] * beta[j];
    return s;
}

/* A step is halved when the penalized deviance is not finite or grew by
 * more than the convergence tolerance: a smaller increase is rounding at
 * the optimum, and ends the iterations as convergence. */
static int worse(double obj, double obj_old, double epsilon)
{
    double tol = epsilon > DEV_RTOL ? epsilon : DEV_RTOL;
    return !R_FINITE(obj) || (obj - obj_old) / (fabs(obj) + 0.1) >= tol;
}

static size_t n_cols_M(const pt_data *data, const pt_model *model)
{
    return (size_t) (pt_ncoef(data, model) - model->d->p) + 1;
}

size_t pt_fit_work_size(const pt_data *data, const pt_model *model, int nthreads)
{
    const R_xlen_t n = data->n;
    const size_t P = (size_t) pt_ncoef(data, model), pd = (size_t) model->d->p;
    const size_t m = n_cols_M(data, model), q = (size_t) model->q;
    const size_t kt = (size_t) data->K * data->Tmax;
    R_xlen_t nchunk = pass_chunks(data);
    size_t pass_work = cp_reduce_work_size(nchunk, cp_threads(nchunk, nthreads),
                                           table_len(data), pass_scratch(model));
    size_t risk_work = pt_risk_work_size(data, nthreads);
    return (size_t) n * (m + 1) + table_len(data) + pd * (pd + m) + kt +
           q * data->Tmax + q * q + q + P +                 /* pt_ws arrays */
           2 * P * P + 3 * P +                             /* Lc, solve, step, beta_old */
           (pass_work > risk_work ? pass_work : risk_work) +
           (pd > 0 ? wcrossprod_xt_work_size(n, (int) pd, (int) m, nthreads) : 0);
}

/*
 * Inputs:  data, model, spec (family ignored; penalty P or NULL),
 *          interrupt (called once per iteration outside parallel regions,
 *          or NULL).
 * Outputs: beta (P; NA where aliased), aliased (P), information (P x P)
 *          and score (P) at the final beta, both penalized, info.
 * Work:    pt_fit_work_size(data, model, spec->nthreads) doubles.
 * Start:   beta = 0 but the intercept, logit of the weighted event rate.
 */
void pt_fit(const pt_data *data, const pt_model *model, const glm_spec *spec,
            double *beta, int *aliased, double *information, double *score,
            pt_info *info, double *work, void (*interrupt)(void))
{
    const R_xlen_t n = data->n;
    const int P = pt_ncoef(data, model), pd = model->d->p, q = model->q;
    const int T = data->Tmax;
    const size_t m = n_cols_M(data, model), kt = (size_t) data->K * T;
    const size_t pp = (size_t) P * P;
    const double *pen = spec->penalty;
    double *H = information;
    pt_ws ws = {.data = data, .model = model, .P = P, .m = (int) m,
                .nthreads = spec->nthreads};
    ws.S0 = work;
    ws.M = ws.S0 + n;
    ws.tab = ws.M + (size_t) n * m;
    ws.xx = ws.tab + table_len(data);
    ws.ctab = ws.xx + (size_t) pd * (pd + m);
    ws.Ft = ws.ctab + kt;
    ws.Fa = ws.Ft + (size_t) q * T;
    ws.blin = ws.Fa + (size_t) q * q + q;
    double *Lc = ws.blin + P, *solve_work = Lc + pp;
    double *step = solve_work + pp + P, *beta_old = step + P;
    ws.pass_work = beta_old + P;
    R_xlen_t nchunk = pass_chunks(data);
    size_t pass_work = cp_reduce_work_size(nchunk, cp_threads(nchunk, spec->nthreads),
                                           table_len(data), pass_scratch(model));
    size_t risk_work = pt_risk_work_size(data, spec->nthreads);
    ws.cp_work = ws.pass_work + (pass_work > risk_work ? pass_work : risk_work);

    memset(info, 0, sizeof(*info));
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

    double dev = pt_pass(&ws, beta);
    pt_system(&ws, beta, pen, H, score);
    double obj_old = dev + penalty_term(beta, P, pen), obj = obj_old;
    for (int iter = 1; iter <= spec->maxit; iter++) {
        info->fit.iter = iter;
        if (iter == 1) {
            memcpy(Lc, H, sizeof(double) * pp);
            info->fit.rank = chol_alias(Lc, P, aliased, ALIAS_TOL);
            for (int j = 0; j < P; j++) if (aliased[j]) beta[j] = NA_REAL;
        }
        if (chol_solve_kept(H, P, aliased, score, step, solve_work) != 0) {
            info->fit.failed = 1;
            break;
        }
        memcpy(beta_old, beta, sizeof(double) * P);
        double frac = 1.0;
        int h = 0;
        for (; h <= MAX_HALVINGS; h++, frac /= 2.0) {
            for (int j = 0; j < P; j++)
                if (!aliased[j]) beta[j] = beta_old[j] + frac * step[j];
            dev = pt_pass(&ws, beta);
            obj = dev + penalty_term(beta, P, pen);
            if (!worse(obj, obj_old, spec->epsilon)) break;
        }
        if (h > MAX_HALVINGS) {
            info->fit.failed = 1;
            memcpy(beta, beta_old, sizeof(double) * P);
            dev = pt_pass(&ws, beta);
            pt_system(&ws, beta, pen, H, score);
            break;
        }
        pt_system(&ws, beta, pen, H, score);
        if (fabs(obj - obj_old) / (fabs(obj) + 0.1) < spec->epsilon) {
            info->fit.converged = 1;
            break;
        }
        obj_old = obj;
        if (interrupt) interrupt();
    }
    info->fit.deviance = dev;
    info->separation = ws.tab[table_len(data) - 1] > 0;
}

/* ---- .Call entries -------------------------------------------------------- */

static int ffi_flag(SEXP x, const char *arg)
{
    if (TYPEOF(x) != LGLSXP || Rf_xlength(x) != 1 || LOGICAL_RO(x)[0] == NA_LOGICAL)
        Rf_error("internal error: `%s` must be TRUE or FALSE", arg);
    return LOGICAL_RO(x)[0];
}

static const double *finite_double(SEXP x, const char *arg, R_xlen_t len)
{
    ffi_check_double(x, arg, len);
    ffi_check_finite(x, arg);
    return REAL_RO(x);
}

/* The person-time arguments shared by both entries, checked. */
static pt_data pt_unpack(SEXP arm, SEXP K, SEXP last, SEXP status, SEXP w,
                         SEXP cens, R_xlen_t n, int Tmax)
{
    pt_data data = {.n = n, .Tmax = Tmax};
    data.K = ffi_scalar_int(K, "K", 1, 1000000);
    if ((double) data.K * Tmax > MAX_TABLE)
        Rf_error("internal error: `K` x `Tmax` must be at most %.0f", MAX_TABLE);
    ffi_check_int(arm, "arm", n);
    ffi_check_int(last, "last", n);
    ffi_check_int(status, "status", n);
    data.arm = INTEGER_RO(arm);
    data.last = INTEGER_RO(last);
    data.status = INTEGER_RO(status);
    data.w = finite_double(w, "w", n);
    for (R_xlen_t i = 0; i < n; i++) {
        int a = data.arm[i], l = data.last[i], s = data.status[i];
        if (a == NA_INTEGER || a < 0 || a >= data.K)
            Rf_error("internal error: `arm` must hold codes 0 to K - 1");
        if (l == NA_INTEGER || l < 0 || l > Tmax)
            Rf_error("internal error: `last` must be between 0 and %d", Tmax);
        if (s != 0 && s != 1)
            Rf_error("internal error: `status` must be 0 or 1");
        if (s == 1 && l == 0)
            Rf_error("internal error: an event (`status` 1) needs `last` >= 1");
        if (data.w[i] < 0)
            Rf_error("internal error: `w` must be non-negative");
    }
    if (Rf_isNull(cens)) return data;
    if (TYPEOF(cens) != VECSXP || Rf_xlength(cens) != 4)
        Rf_error("internal error: `cens` must be NULL or a list of 4");
    R_xlen_t kt = (R_xlen_t) data.K * Tmax;
    SEXP ln = VECTOR_ELT(cens, 2), cn = VECTOR_ELT(cens, 3);
    data.lc = finite_double(VECTOR_ELT(cens, 0), "cens$lc", n);
    data.cc = finite_double(VECTOR_ELT(cens, 1), "cens$cc", kt);
    if (Rf_isNull(ln) != Rf_isNull(cn))
        Rf_error("internal error: `cens$ln` and `cens$cn` must both be NULL or both given");
    if (!Rf_isNull(ln)) {
        data.ln = finite_double(ln, "cens$ln", n);
        data.cn = finite_double(cn, "cens$cn", kt);
    }
    return data;
}

/* ffi_pt_fit(X n x p0 double, intercept lgl, F Tmax x q double,
 *            arm int(n) coded 0..K-1, K int, interact lgl,
 *            last int(n) in 0..Tmax, status int(n) 0/1, w double(n) >= 0,
 *            cens NULL or list(lc double(n), cc K x Tmax double,
 *                              ln double(n) or NULL, cn K x Tmax or NULL),
 *            maxit int, epsilon double, penalty double(P) or NULL,
 *            nthreads int)
 * -> list(coefficients (P; [intercept?, X, F, F by arm 1..K-1 if interact]),
 *         aliased, deviance, iter, converged, rank, information (P x P),
 *         score (P), rows, events, separation, failed)                     */
SEXP ffi_pt_fit(SEXP X, SEXP intercept, SEXP F, SEXP arm, SEXP K, SEXP interact,
                SEXP last, SEXP status, SEXP w, SEXP cens, SEXP maxit,
                SEXP epsilon, SEXP penalty, SEXP nthreads)
{
    cp_design d = ffi_design(X, intercept, "X");
    const double *Fp = finite_double(F, "F", -1);
    int Tmax = ffi_nrow(F, "F"), q = ffi_ncol(F, "F");
    pt_data data = pt_unpack(arm, K, last, status, w, cens, d.n, Tmax);
    pt_model model = {&d, Fp, q, ffi_flag(interact, "interact") && data.K > 1};
    int P = pt_ncoef(&data, &model);
    glm_spec spec = {
        .family = GLM_BINOMIAL,
        .maxit = ffi_scalar_int(maxit, "maxit", 1, 100000),
        .epsilon = ffi_scalar_double(epsilon, "epsilon"),
        .penalty = NULL,
        .nthreads = ffi_scalar_int(nthreads, "nthreads", 1, 1024)
    };
    if (!(spec.epsilon > 0)) Rf_error("internal error: `epsilon` must be positive");
    if (!Rf_isNull(penalty)) {
        spec.penalty = finite_double(penalty, "penalty", P);
        for (int j = 0; j < P; j++)
            if (spec.penalty[j] < 0) Rf_error("internal error: `penalty` must be non-negative");
    }
    double *work = (double *) R_alloc(pt_fit_work_size(&data, &model, spec.nthreads),
                                      sizeof(double));
    int *aliased = (int *) R_alloc(P > 0 ? P : 1, sizeof(int));

    int nprot = 0;
    SEXP beta = PROTECT(Rf_allocVector(REALSXP, P)); nprot++;
    SEXP alias = PROTECT(Rf_allocVector(LGLSXP, P)); nprot++;
    SEXP information = PROTECT(Rf_allocMatrix(REALSXP, P, P)); nprot++;
    SEXP score = PROTECT(Rf_allocVector(REALSXP, P)); nprot++;
    pt_info info;
    pt_fit(&data, &model, &spec, REAL(beta), aliased, REAL(information),
           REAL(score), &info, work, R_CheckUserInterrupt);
    for (int j = 0; j < P; j++) LOGICAL(alias)[j] = aliased[j];

    const char *names[] = {"coefficients", "aliased", "deviance", "iter",
                           "converged", "rank", "information", "score", "rows",
                           "events", "separation", "failed", ""};
    SEXP out = PROTECT(Rf_mkNamed(VECSXP, names)); nprot++;
    SET_VECTOR_ELT(out, 0, beta);
    SET_VECTOR_ELT(out, 1, alias);
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
    UNPROTECT(nprot);
    return out;
}

/* ffi_pt_risk_table(arm int(n) coded 0..K-1, K int, last int(n) in 0..Tmax,
 *                   status int(n) 0/1, w double(n) >= 0, cens as in
 *                   ffi_pt_fit, Tmax int)
 * -> list(at_risk K x Tmax, events K x Tmax): prior-weighted sums of the
 *    person-period rows at risk and of those with the event.              */
SEXP ffi_pt_risk_table(SEXP arm, SEXP K, SEXP last, SEXP status, SEXP w,
                       SEXP cens, SEXP Tmax)
{
    ffi_check_int(arm, "arm", -1);
    int T = ffi_scalar_int(Tmax, "Tmax", 0, (int) MAX_TABLE);
    pt_data data = pt_unpack(arm, K, last, status, w, cens, Rf_xlength(arm), T);
    double *work = (double *) R_alloc(pt_risk_work_size(&data, 1), sizeof(double));
    double counts[2];

    int nprot = 0;
    SEXP at_risk = PROTECT(Rf_allocMatrix(REALSXP, data.K, T)); nprot++;
    SEXP events = PROTECT(Rf_allocMatrix(REALSXP, data.K, T)); nprot++;
    pt_risk_table(&data, REAL(at_risk), REAL(events), counts, 1, work);

    const char *names[] = {"at_risk", "events", ""};
    SEXP out = PROTECT(Rf_mkNamed(VECSXP, names)); nprot++;
    SET_VECTOR_ELT(out, 0, at_risk);
    SET_VECTOR_ELT(out, 1, events);
    UNPROTECT(nprot);
    return out;
}
