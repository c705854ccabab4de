/*
 * Nonparametric bootstrap of the population-average potential outcomes,
 * refitting the whole pipeline (treatment or outcome model, weights, means)
 * in C.  Resampling is given as frequency counts drawn in R with R's RNG, so
 * replicates are reproducible under set.seed(); replicates run in parallel,
 * each on one thread with its own workspace, so the numbers do not depend on
 * the thread count.  R hands the replicates over in batches and checks for
 * interrupts between them (no R API may run inside the parallel region).
 *
 * Survival models refit their weight model, censoring models and hazard
 * model the same way and give their K x m curves.
 *
 * Plain C: calls glm.c, multinom.c, weights.c, person-time.c, km.c,
 * survival-curve.c and threads.c.
 */
#include <math.h>
#include <string.h>
#include "bootstrap.h"
#include "multinom.h"
#include "survival-curve.h"
#include "threads.h"

/* ---- IPW ----------------------------------------------------------------- */

/* Workspace of boot_weights(). */
static size_t weights_work(cl_len n, int p, int K)
{
    size_t fit = K == 2 ? glm_work_size(n, p, 1) : multinom_work_size(n, p, K, 1);
    return fit + (size_t) n * 3 + (size_t) (K - 1) * p + 3 * (size_t) K;
}

/* Doubles and ints of work for one ipw_boot_replicate(). */
void ipw_boot_work_size(const ipw_boot *b, size_t *wlen, size_t *ilen)
{
    const boot_data *d = b->d;
    *wlen = weights_work(d->x.n, d->x.p, d->K) + (size_t) d->x.n * (2 + d->K);
    *ilen = (size_t) d->K * d->x.p + 1;
}

/* Refit the treatment model with prior weights `prior` and fill P (n x K
 * propensities) and w (n weights of the level received, clipped and
 * truncated at the q quantile unless q is NaN).  Work: weights_work()
 * doubles and K p ints; returns 0 when the treatment model failed to fit. */
static int boot_weights(const boot_data *d, const double *prior, const int *count,
                        const ipw_opts *o, double *P, double *w, double *work,
                        int *iwork)
{
    cl_len n = d->x.n;
    int K = d->K, p = d->x.p;
    double *ybin = work, *eta = ybin + n, *qwork = eta + n, *beta = qwork + n;
    double *wwork = beta + (size_t) (K - 1) * p, *fit_work = wwork + 3 * K;
    int *aliased = iwork, *qal = iwork + p;
    newton_info info;

    if (K == 2) {
        for (cl_len i = 0; i < n; i++) ybin[i] = d->a[i] == 1;
        glm_irls(&d->x, ybin, prior, d->offset, &d->spec, beta, eta, P + n,
                 aliased, &info, fit_work);
        for (cl_len i = 0; i < n; i++) P[i] = 1.0 - P[n + i];
    } else {
        multinom_newton(&d->x, d->a, K, prior, &d->spec, beta, P, aliased,
                        &info, fit_work, qal);
    }
    if (info.failed || !info.converged) return 0;
    ipw_weights(P, n, K, d->a, o, w, NULL, 1, wwork);
    if (!isnan(o->q))
        ipw_truncate(w, NULL, n, K, ipw_truncation_cap(w, count, n, o->q, qwork));
    return 1;
}

/* One replicate (a boot_replicate_fn on an ipw_boot): mu (K) of the Hajek
 * IP-weighted means.  Work: ipw_boot_work_size(). */
int ipw_boot_replicate(const void *ctx, const int *count, double *mu, double *work,
                       int *iwork)
{
    const ipw_boot *c = ctx;
    const boot_data *d = c->d;
    cl_len n = d->x.n;
    int K = d->K;
    double *prior = work, *w = prior + n, *P = w + n, *fit_work = P + (size_t) n * K;
    for (cl_len i = 0; i < n; i++) prior[i] = d->sw[i] * count[i];
    if (!boot_weights(d, prior, count, &c->opts, P, w, fit_work, iwork)) return 0;
    double *mass = fit_work;
    for (int k = 0; k < K; k++) { mu[k] = 0.0; mass[k] = 0.0; }
    for (cl_len i = 0; i < n; i++) {
        double v = prior[i] * w[i];
        mu[d->a[i]] += v * d->y[i];
        mass[d->a[i]] += v;
    }
    for (int k = 0; k < K; k++) mu[k] /= mass[k];
    return 1;
}

/* ---- Standardization ------------------------------------------------------ */

/* Workspace of boot_outcomes(). */
static size_t outcomes_work(cl_len n, int p)
{
    return glm_work_size(n, p, 1) + 4 * (size_t) n + (size_t) p;
}

/* Doubles and ints of work for one std_boot_replicate(). */
void std_boot_work_size(const std_boot *b, size_t *wlen, size_t *ilen)
{
    const boot_data *d = b->d;
    *wlen = outcomes_work(d->x.n, d->x.p) + (size_t) d->x.n * d->K;
    *ilen = (size_t) d->x.p + 1;
}

/* Refit the outcome model with prior weights sw * count and fill Q (n x K)
 * with every unit's predicted outcome under each level.  S-learner: one fit
 * on X, predicted on each counterfactual design Xcf[k] with its offset
 * cf_offset[k].  Stratified: one fit per arm on X (the covariate design),
 * predicted on all units.
 * Work: outcomes_work() doubles and p ints; returns 0 when a fit failed. */
static int boot_outcomes(const boot_data *d, const cp_design *Xcf,
                         const double *const *cf_offset, int stratified,
                         const int *count, double *Q, double *work, int *aliased)
{
    cl_len n = d->x.n;
    int p = d->x.p;
    double *prior = work, *eta = prior + n, *fit = eta + n;
    double *beta = fit + 2 * n, *fit_work = beta + p;
    newton_info info;
    for (int k = 0; k < d->K; k++) {
        if (stratified || k == 0) {
            for (cl_len i = 0; i < n; i++)
                prior[i] = d->sw[i] * count[i] * (!stratified || d->a[i] == k);
            glm_irls(&d->x, d->y, prior, d->offset, &d->spec, beta, eta, fit,
                     aliased, &info, fit_work);
            if (info.failed || !info.converged) return 0;
        }
        if (stratified)
            glm_predict(&d->x, beta, d->offset, d->spec.family, eta, Q + (size_t) k * n);
        else
            glm_predict(&Xcf[k], beta, cf_offset[k], d->spec.family, eta, Q + (size_t) k * n);
    }
    return 1;
}

/* One replicate (a boot_replicate_fn on a std_boot): mu (K) of the
 * g-formula means.  Work: std_boot_work_size(). */
int std_boot_replicate(const void *ctx, const int *count, double *mu, double *work,
                       int *aliased)
{
    const std_boot *c = ctx;
    const boot_data *d = c->d;
    cl_len n = d->x.n;
    double *Q = work, *fit_work = Q + (size_t) n * d->K;
    if (!boot_outcomes(d, c->xcf, c->cf_offset, c->stratified, count, Q, fit_work, aliased))
        return 0;
    double total = 0.0;
    for (cl_len i = 0; i < n; i++) total += d->sw[i] * count[i];
    for (int k = 0; k < d->K; k++) {
        double s = 0.0;
        for (cl_len i = 0; i < n; i++) s += d->sw[i] * count[i] * Q[(size_t) k * n + i];
        mu[k] = s / total;
    }
    return 1;
}

/* ---- Augmented IPW -------------------------------------------------------- */

void aipw_boot_work_size(const aipw_boot *b, size_t *wlen, size_t *ilen)
{
    const boot_data *dw = b->dw, *dout = b->dout;
    cl_len n = dw->x.n;
    size_t wfit = weights_work(n, dw->x.p, dw->K), ofit = outcomes_work(n, dout->x.p);
    *wlen = 2 * (size_t) n * (1 + dw->K) + (wfit > ofit ? wfit : ofit);
    *ilen = (size_t) dw->K * dw->x.p + dout->x.p + 1;
}

/* One replicate (a boot_replicate_fn on an aipw_boot) of the AIPW means,
 * both models refitted on the resample:
 * mu_k = sum prior (Q_k + 1{a = k} w (y - Q_k)) / sum prior.
 * Work: aipw_boot_work_size(). */
int aipw_boot_replicate(const void *ctx, const int *count, double *mu, double *work,
                        int *iwork)
{
    const aipw_boot *c = ctx;
    const boot_data *dw = c->dw, *dout = c->dout;
    cl_len n = dw->x.n;
    int K = dw->K;
    double *prior = work, *w = prior + n, *P = w + n, *Q = P + (size_t) n * K;
    double *rest = Q + (size_t) n * K;
    for (cl_len i = 0; i < n; i++) prior[i] = dw->sw[i] * count[i];
    if (!boot_weights(dw, prior, count, &c->opts, P, w, rest, iwork)) return 0;
    if (!boot_outcomes(dout, c->xcf, c->cf_offset, c->stratified, count, Q, rest, iwork))
        return 0;
    double total = 0.0;
    for (cl_len i = 0; i < n; i++) total += prior[i];
    for (int k = 0; k < K; k++) {
        const double *Qk = Q + (size_t) k * n;
        double s = 0.0;
        for (cl_len i = 0; i < n; i++) {
            double resid = dw->a[i] == k ? w[i] * (dout->y[i] - Qk[i]) : 0.0;
            s += prior[i] * (Qk[i] + resid);
        }
        mu[k] = s / total;
    }
    return 1;
}

/* ---- Survival curves ------------------------------------------------------ */

/*
 * Inputs:  keys, start from km_sort() (K strata), times (m, ascending).
 * Output:  at (K x m): the row of km_curves()' output holding arm k's curve
 *          at times[j] (its last time <= times[j]), -1 before its first
 *          time (S = 1) and -2 after its last time (NA), as km_curves() in
 *          R reads the curves.
 */
void surv_km_rows(const km_key *keys, const cl_len *start, int K, const double *times,
                  int m, int *at)
{
    cl_len row0 = 0;
    for (int k = 0; k < K; k++) {
        const km_key *ks = keys + start[k];
        cl_len len = start[k + 1] - start[k], e = 0, rows = 0;
        for (int j = 0; j < m; j++) {
            for (; e < len && ks[e].time <= times[j]; e++)
                rows += e == 0 || ks[e].time != ks[e - 1].time;
            int *out = at + k + (size_t) K * j;
            if (len == 0 || times[j] > ks[len - 1].time) *out = -2;
            else *out = rows == 0 ? -1 : (int) (row0 + rows - 1);
        }
        row0 += km_count_times(ks, len);
    }
}

/* Coefficients of a pooled-logistic model fitted on arms K. */
static int sb_ncoef(const surv_pt *s, int K)
{
    pt_data data = {.K = K};
    return pt_ncoef(&data, &s->model);
}

/* Doubles of work for sb_fit() on n persons, K arms, Tmax periods. */
static size_t sb_fit_work(const surv_pt *s, cl_len n, int K, int Tmax)
{
    pt_data data = {.n = n, .K = K, .Tmax = Tmax};
    size_t P = (size_t) sb_ncoef(s, K);
    return P * P + P + pt_fit_work_size(&data, &s->model, 1);
}

/* Fit s to data into beta (pt_ncoef()); 0 when the fit failed.  Work:
 * sb_fit_work() doubles, pt_ncoef() ints. */
static int sb_fit(const surv_pt *s, const pt_data *data, double *beta, double *work,
                  int *aliased)
{
    size_t P = (size_t) pt_ncoef(data, &s->model);
    pt_info info;
    pt_fit(data, &s->model, &s->spec, beta, aliased, work, work + P * P, &info,
           work + P * P + P);
    /* A resample can leave an arm without events in its last periods: the
     * fitted hazards there go to 0 and the fit stops when no step lowers
     * the deviance any more. Its curves are then the limit, flat after the
     * arm's last event, as the fit of the data gives them (with a warning). */
    int boundary = info.separation && isfinite(info.fit.deviance);
    return (!info.fit.failed && info.fit.converged) || boundary;
}

/* The largest number of coefficients among the replicate's models. */
static size_t sb_max_coef(const surv_boot *b)
{
    int P = 0;
    const surv_pt *models[] = {b->cens_denom, b->cens_numer, b->hazard};
    for (int e = 0; e < 3; e++) {
        if (!models[e]) continue;
        int Pe = sb_ncoef(models[e], e == 2 && !b->stratified ? b->K : 1);
        if (Pe > P) P = Pe;
    }
    return (size_t) P;
}

/* Persons of the counterfactual designs the curves average over. */
static cl_len sb_ncf(const surv_boot *b)
{
    return b->stratified || !b->xcf ? b->n : b->xcf[0].n;
}

/* Doubles and ints of work for one surv_boot_replicate(). */
void surv_boot_work_size(const surv_boot *b, size_t *wlen, size_t *ilen)
{
    cl_len n = b->n;
    int K = b->K, T = b->m;
    size_t wfit = 0, ifit = 1;
    if (b->wm) {
        wfit = 2 * (size_t) n + (size_t) n * K + weights_work(n, b->wm->x.p, K);
        ifit = (size_t) K * b->wm->x.p + 1;
    }
    size_t curve = 0, icurve = 0;
    if (b->method == SB_KM) {
        curve = 6 * (size_t) b->nrow;
        icurve = (size_t) b->nrow;
    } else {
        size_t P = sb_max_coef(b), kt = (size_t) K * T, scratch = 0;
        if (b->cens_denom) {
            size_t d = sb_fit_work(b->cens_denom, n, 1, T), u = sb_fit_work(b->cens_numer, n, 1, T);
            scratch = d > u ? d : u;
        }
        if (b->method == SB_GRID_KM) {
            pt_data data = {.n = n, .K = K, .Tmax = T};
            size_t risk = 2 * kt + pt_risk_work_size(&data, 1);
            if (risk > scratch) scratch = risk;
        } else {
            int Kh = b->stratified ? 1 : K;
            cl_len ncf = sb_ncf(b);
            size_t h = sb_fit_work(b->hazard, n, Kh, T);
            size_t surv = (size_t) ncf * Kh + kt + kt +
                          discrete_survival_work_size(ncf, Kh, T, 1);
            if (h > scratch) scratch = h;
            if (surv > scratch) scratch = surv;
        }
        curve = 3 * (size_t) n + 2 * kt + P + scratch;
        icurve = P;
    }
    *wlen = 3 * (size_t) n + (wfit > curve ? wfit : curve);
    *ilen = ifit > icurve ? ifit : icurve;
}

/* The weights of a replicate: avg = sw * count, w = avg times the refitted
 * weight model's weights, pop = avg times its population (or avg).
 * Work: surv_boot_work_size()'s weight part; returns 0 when the weight
 * model failed. */
static int sb_weights(const surv_boot *b, const int *count, double *avg, double *w,
                      double *pop, double *work, int *iwork)
{
    cl_len n = b->n;
    for (cl_len i = 0; i < n; i++) {
        avg[i] = b->sw[i] * count[i];
        w[i] = avg[i];
        pop[i] = avg[i];
    }
    if (!b->wm) return 1;
    double *prior = work, *ipw = prior + n, *P = ipw + n, *rest = P + (size_t) n * b->K;
    for (cl_len i = 0; i < n; i++) prior[i] = b->wm->sw[i] * count[i];
    if (!boot_weights(b->wm, prior, count, &b->opts, P, ipw, rest, iwork)) return 0;
    if (b->stabilize) ipw_stabilize(ipw, n, b->K, b->a, prior, rest);
    for (cl_len i = 0; i < n; i++) w[i] = avg[i] * ipw[i];
    if (b->population) {
        ipw_population(P, n, b->K, b->a, &b->opts, prior);
        for (cl_len i = 0; i < n; i++) pop[i] = avg[i] * prior[i];
    }
    return 1;
}

/* Weighted Kaplan-Meier curves at the fit's times (SB_KM) into S (K x m).
 * Work: 6 nrow doubles, nrow ints. */
static void sb_km(const surv_boot *b, const double *w, double *S, double *work,
                  int *iwork)
{
    size_t r = (size_t) b->nrow;
    km_curve out = {iwork, work, work + r, work + 2 * r, work + 3 * r, work + 4 * r,
                    work + 5 * r};
    km_curves(b->keys, b->start, b->K, b->status, w, &out, NULL);
    for (size_t e = 0; e < (size_t) b->K * b->m; e++)
        S[e] = b->at[e] == -1 ? 1.0 : (b->at[e] == -2 ? NAN : out.surv[b->at[e]]);
}

/* The censoring models fitted with weights avg on the censoring
 * person-time, as tables of K rows: lc, ln (n) and cc, cn (K x Tmax).
 * Returns -1 when a fit failed, 0 when no one of positive weight is censored
 * before the end of the grid (no censoring weights), 1 otherwise. */
static int sb_censoring(const surv_boot *b, const double *avg, int K, double *lc,
                        double *ln, double *cc, double *cn, double *beta, double *work,
                        int *aliased)
{
    int any = 0;
    for (cl_len i = 0; i < b->n && !any; i++) any = b->c_status[i] == 1 && avg[i] > 0;
    if (!any) return 0;
    pt_data data = {.n = b->n, .K = 1, .Tmax = b->m, .arm = b->zero, .last = b->c_last,
                    .status = b->c_status, .w = avg};
    const surv_pt *models[] = {b->cens_denom, b->cens_numer};
    double *lps[] = {lc, ln}, *tabs[] = {cc, cn};
    for (int e = 0; e < 2; e++) {
        if (!sb_fit(models[e], &data, beta, work, aliased)) return -1;
        cp_xbeta(models[e]->model.d, beta, NULL, lps[e]);
        pt_period_table(&models[e]->model, K, b->m, beta, tabs[e]);
    }
    return 1;
}

/* Each arm's curve in mu (K x m) ends where the arm's follow-up among the
 * people of positive weight avg ends (curve_ends() in R): after its last
 * time (SB_KM), after its last period on the grid; NaN from there on. */
static void sb_mask_ends(const surv_boot *b, const double *avg, double *mu)
{
    const int K = b->K;
    for (int k = 0; k < K; k++) {
        int first = b->m; /* the first curve time past the arm's end */
        if (b->method == SB_KM) {
            const km_key *ks = b->keys + b->start[k];
            cl_len e = b->start[k + 1] - b->start[k];
            while (e > 0 && !(avg[ks[e - 1].id] > 0)) e--;
            first = 0;
            if (e > 0)
                while (first < b->m && b->times[first] <= ks[e - 1].time) first++;
        } else {
            int L = -1;
            for (cl_len i = 0; i < b->n; i++)
                if (b->a[i] == k && avg[i] > 0 && b->last[i] > L) L = b->last[i];
            first = L < 0 ? 0 : L;
        }
        for (int t = first; t < b->m; t++) mu[k + (size_t) K * t] = NAN;
    }
}

/* The curves mu (K x m, column-major) of the models refitted with counts
 * count, leaving avg (n), the replicate's sw * count, at the start of work.
 * Work: surv_boot_work_size(); returns 0 when a model failed. */
static int sb_curves(const surv_boot *b, const int *count, double *mu, double *work,
                     int *iwork)
{
    const cl_len n = b->n;
    const int K = b->K, T = b->m;
    const size_t kt = (size_t) K * T;
    double *avg = work, *w = avg + n, *pop = w + n, *rest = pop + n;
    if (!sb_weights(b, count, avg, w, pop, rest, iwork)) return 0;
    if (b->method == SB_KM) {
        sb_km(b, w, mu, rest, iwork);
        return 1;
    }
    /* Censoring tables with a row per arm of the model they weight. */
    int Kh = b->method != SB_GRID_KM && b->stratified ? 1 : K;
    double *lc = rest, *ln = lc + n, *wk = ln + n, *cc = wk + n, *cn = cc + kt;
    double *beta = cn + kt, *scratch = beta + sb_max_coef(b);
    pt_data data = {.n = n, .K = Kh, .Tmax = T, .arm = Kh > 1 ? b->a : b->zero,
                    .last = b->last, .status = b->event, .w = w};
    if (b->cens_denom) {
        int cens = sb_censoring(b, avg, Kh, lc, ln, cc, cn, beta, scratch, iwork);
        if (cens < 0) return 0;
        if (cens) {
            data.lc = lc;
            data.cc = cc;
            data.ln = ln;
            data.cn = cn;
        }
    }
    if (b->method == SB_GRID_KM) {
        double *at_risk = scratch, *events = at_risk + kt, counts[2];
        pt_risk_table(&data, at_risk, events, counts, 1, events + kt);
        for (int k = 0; k < K; k++) {
            double s = 1.0;
            for (int t = 0; t < T; t++) {
                size_t e = k + (size_t) K * t;
                s *= 1.0 - events[e] / at_risk[e];
                mu[e] = isfinite(s) ? s : NAN;
            }
        }
        return 1;
    }
    const surv_pt *hz = b->hazard;
    if (!b->stratified) {
        cl_len ncf = sb_ncf(b);
        if (!sb_fit(hz, &data, beta, scratch, iwork)) return 0;
        double *lp = scratch, *ctab = lp + (size_t) ncf * K, *one = ctab + kt;
        for (int k = 0; k < K; k++)
            cp_xbeta(&b->xcf[k], beta, b->cf_offset[k], lp + (size_t) k * ncf);
        pt_period_table(&hz->model, K, T, beta, ctab);
        *one = 1.0;
        discrete_survival(lp, ncf, K, ctab, T, b->method == SB_GRID_PL ? one : pop, mu, 1,
                          one + kt);
        return 1;
    }
    data.w = wk;
    for (int k = 0; k < K; k++) {
        for (cl_len i = 0; i < n; i++) wk[i] = b->a[i] == k ? w[i] : 0.0;
        if (!sb_fit(hz, &data, beta, scratch, iwork)) return 0;
        double *lp = scratch, *ctab = lp + n, *Sk = ctab + T;
        cp_xbeta(hz->model.d, beta, hz->model.offset, lp);
        pt_period_table(&hz->model, 1, T, beta, ctab);
        discrete_survival(lp, n, 1, ctab, T, pop, Sk, 1, Sk + T);
        for (int t = 0; t < T; t++) mu[k + (size_t) K * t] = Sk[t];
    }
    return 1;
}

/* One replicate (a boot_replicate_fn on a surv_boot): mu (K x m, column-
 * major) the curves of the refitted models, each arm's up to its end
 * (sb_mask_ends()).  Work: surv_boot_work_size(). */
int surv_boot_replicate(const void *ctx, const int *count, double *mu, double *work,
                        int *iwork)
{
    const surv_boot *b = ctx;
    if (!sb_curves(b, count, mu, work, iwork)) return 0;
    sb_mask_ends(b, work, mu);
    return 1;
}

/* ---- The replicates in parallel ------------------------------------------ */

/*
 * Inputs:  replicate, ctx; counts (n x R frequency counts, each column
 *          summing to n); K means per replicate; nthreads requested.
 * Outputs: out (R x K): row r the means of replicate r, NaN where its fit
 *          failed; ok (R): 1 where it did not.
 * Work:    nt = cl_threads(nthreads, R) slots, each of wlen doubles (work),
 *          ilen ints (iwork) and K doubles (mu).
 * Each replicate runs on one thread with its own slot, so the numbers do not
 * depend on the thread count; replicate() must not call R.
 */
void boot_run(boot_replicate_fn replicate, const void *ctx, const int *counts,
              cl_len n, int R, int K, int nthreads, size_t wlen, size_t ilen,
              double *out, int *ok, double *mu, double *work, int *iwork)
{
    int nt = cl_threads(nthreads, R);
#ifdef _OPENMP
#pragma omp parallel for num_threads(nt) schedule(dynamic)
#else
    (void) nt;
#endif
    for (int r = 0; r < R; r++) {
        int tid = cl_thread_id();
        double *m = mu + (size_t) tid * K;
        ok[r] = replicate(ctx, counts + (size_t) r * n, m, work + wlen * tid,
                          iwork + ilen * tid);
        for (int k = 0; k < K; k++) out[(size_t) k * R + r] = ok[r] ? m[k] : NAN;
    }
}
