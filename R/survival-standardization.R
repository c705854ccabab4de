#' Standardized (g-formula) survival curves
#'
#' The survival curve each treatment level would give the whole sample:
#' a hazard model of `Surv(time, event) ~ treatment + covariates` predicts
#' every person's survival under each level, and the predictions are
#' averaged (standardized) over the sample.
#'
#' With `model = "pooled_logistic"` (default) the hazard model is a
#' logistic regression over person-time on a grid of periods: its terms
#' are the right-hand side of `formula`, the period terms `time_terms`,
#' and their interaction with the treatment (`treatment * time_terms +
#' covariates`, as in chapter 17 of Hernán and Robins's *What If*). The
#' person-period rows are generated inside the C fitter and never stored,
#' so memory grows with the number of people, not of person-periods.
#' `stratified = TRUE` fits one hazard model per treatment level on the
#' covariates and the period terms. With `model = "cox"` a Cox model fitted
#' by [survival::coxph()] (Efron ties) on continuous time gives each
#' person's curve \eqn{\exp(-H_0(t) e^{x\beta})} instead (direct adjusted
#' curves); `time_terms`, `breaks` and `period` are then not used, and
#' `time_unit` only names the unit of the times on plots.
#'
#' A `weight_model` (a fitted [ipw()] model or its formula) weights the
#' hazard model by the IP weights: the doubly robust, weighted
#' standardization variant. A `censoring_model` adds stabilized inverse
#' probability of censoring weights for censoring before the end of the
#' grid (pooled-logistic models only); censoring at the end of the grid is
#' administrative and needs no weights.
#'
#' @section Time grid:
#' Periods are \eqn{(b_{k-1}, b_k]} for `breaks` \eqn{b_0 < \dots < b_T};
#' `time` in `time_terms` is the period index \eqn{k = 1, \dots, T}. A
#' person is at risk in every period that starts before their time (so
#' someone censored part-way through a period counts as at risk in it) and
#' has their event in the period containing their time. Times after
#' \eqn{b_T} are censored there. Curves are reported at the period ends
#' \eqn{b_1, \dots, b_T}.
#'
#' The grid is, in order of precedence:
#' * `breaks`, as given;
#' * `period`: evenly spaced breaks from 0, `period` apart. A number is a
#'   width in the unit of the times; a unit (`"day"`, `"week"`, `"month"`,
#'   `"quarter"` or `"year"`, a month being 365.25 / 12 days) needs
#'   `time_unit`, the unit the times are measured in, to convert it: with
#'   times in days, `period = "month", time_unit = "day"` gives periods of
#'   30.44 days;
#' * when all times are whole numbers up to 250, the unit periods up to the
#'   longest follow-up, so `time` is the time itself (months of follow-up
#'   in [nhefs]);
#' * otherwise (fine-grained times, such as days over years) evenly spaced
#'   breaks of the finest width that gives at most 250 periods: the finest
#'   of those units when `time_unit` is given, else the finest of 1, 2 and 5
#'   times a power of ten. A message says how many periods of what width
#'   were chosen.
#'
#' The default `time_terms` is a natural cubic spline of the period index,
#' `~ splines::ns(time, df = d)`, its knots at quantiles of the periods: the
#' degrees of freedom \eqn{d} are the cube root of the number of events,
#' rounded down, at least 1 (a linear trend) and at most 10, and fewer than
#' the number of periods with an event. The time terms interact with the
#' treatment, so each arm's baseline hazard has this shape. A grid of more
#' than 250 periods, most of them without an event, gives a warning: its
#' person-period rows cost time and memory without informing the hazard.
#'
#' @section Where the curves end:
#' Each arm's curve ends with the arm's follow-up: at its last follow-up
#' time (Kaplan-Meier and stratified Cox curves), or at the end of the
#' period that holds it (pooled-logistic curves, whose time terms interact
#' with the treatment, so that beyond it they would be an extrapolation).
#' Curves of a Cox model that is not stratified share its baseline hazard
#' and end with the whole follow-up. Printing a fit shows where each curve
#' ends (`curve_ends`); [estimate_effect()][estimate_effect.causal_survival]
#' at a later time names the arm whose curve ends before it. The curves are
#' `NA` (and not drawn) after their ends.
#'
#' A bootstrap resample can end an arm earlier still (when it leaves out
#' the people followed longest): that replicate's curve is `NA` after its
#' own end only, so no replicate is lost, and the interval at each time uses
#' the replicates that reach it. Printing shows how many reach each curve's
#' end (`replicates_at_end`); contrasts say how many they use where not
#' every replicate reaches their time.
#'
#' @section Competing risks:
#' When the event names competing causes (a factor whose first level means
#' censored, or `Surv(time, code, type = "mstate")`; see [survival_ipw()]),
#' one hazard model per cause \eqn{j} is fitted (its terms as above;
#' events of other causes end a person's follow-up as censorings do), every
#' person's cause-specific hazards under each treatment level are
#' predicted, and the cumulative incidences are averaged over the sample.
#' With pooled-logistic hazards \eqn{h_j(t)} on the period grid,
#' \deqn{F_j(t) = \sum_{s \le t} S(s - 1) h_j(s), \quad S(t) = \prod_{s \le t} (1 - \sum_j h_j(s));}
#' with cause-specific Cox models (`model = "cox"`), the same product-limit
#' sums over the event times with the hazard increments
#' \eqn{dH_{0j}(t) e^{x\beta_j}}, as `riskRegression::ate()` computes them
#' for a `CSC()` model. [tidy()][tidy.causal_competing] then has a `cause`
#' column and [estimate_effect()][estimate_effect.causal_competing]
#' contrasts the cumulative incidences per cause. Stratified models and a
#' `censoring_model` are not available with competing causes; intervals are
#' bootstrap intervals.
#'
#' @section Intervals:
#' * `se = "sandwich"` (the default wherever it is available): influence-function
#'   standard errors that stack the hazard model's score with the
#'   standardization step, and, with a `weight_model`, the propensity
#'   model's score (an [ipw()] model with the built-in [lrn_glm()]
#'   learner). For pooled-logistic hazards the score is summed over
#'   person-time, in chunks of people; for a Cox model it is the Efron
#'   partial-likelihood score, with the influence of the Efron-type
#'   baseline cumulative hazard, so the standard errors are the
#'   infinitesimal jackknife of the whole estimate (they equal
#'   `riskRegression::ate()`'s where no event times are tied; with ties,
#'   whose influence it approximates, they differ by a few percent).
#'   Intervals are on the log-survival scale; see
#'   [estimate_effect()][estimate_effect.causal_survival] and
#'   [tidy()][tidy.causal_survival]. For pooled-logistic hazards, a
#'   `censoring_model` stacks the scores of the censoring models (the
#'   censoring hazard and its treatment-only stabilizing numerator) whose
#'   weights the hazard model is fitted with; stabilized weights stack the
#'   arms' shares, and overlap (ATO) weights the dependence of the overlap
#'   population, over which the curves are averaged, on the propensity
#'   model; with `stratified = TRUE` the K hazard models' scores are
#'   stacked side by side. Not available for Cox models with a
#'   `censoring_model`, `stratified = TRUE`, stabilized or ATO weights, nor
#'   for a weight model other than [ipw()] with [lrn_glm()]: those default
#'   to the bootstrap, and stop when `se = "sandwich"` is asked for.
#' * `se = "bootstrap"`: `R` nonparametric bootstrap replicates of people
#'   refit the whole pipeline (the weight, censoring and hazard models, in C
#'   for [lrn_glm()]) and give percentile intervals. Reproducible under
#'   [set.seed()] whatever the number of threads.
#'
#' @param formula `Surv(time, event) ~ treatment + covariates`.
#' @param data A data frame.
#' @param treatment The treatment variable (a string or bare name).
#' @param time_terms A one-sided formula in `time`, the period index, for
#'   the baseline hazard, e.g. `~ time + I(time^2)` (the quadratic trend of
#'   *What If*, chapter 17) or `~ splines::ns(time, 4)`; `NULL` (default) for
#'   a natural spline whose degrees of freedom follow the number of events
#'   (see the Time grid section).
#' @param learner The hazard learner: [lrn_glm()] with the binomial family
#'   (a ridge `penalty` is allowed).
#' @param stratified Fit one hazard model per treatment level?
#' @param weight_model `NULL`, a fitted [ipw()] model of the same people, or
#'   a formula `treatment ~ covariates` for one.
#' @param censoring_model `NULL`, or a one-sided formula of the covariates
#'   that predict censoring.
#' @param model `"pooled_logistic"` or `"cox"`.
#' @param breaks `NULL` or the period boundaries; see the Time grid section.
#' @param period `NULL`, or the width of evenly spaced periods: a number in
#'   the unit of the times, or a unit `"day"`, `"week"`, `"month"`,
#'   `"quarter"` or `"year"` (which needs `time_unit`). Not with `breaks`.
#' @param time_unit `NULL`, or the unit the survival times are measured in:
#'   `"day"`, `"week"`, `"month"`, `"quarter"` or `"year"`. It converts a
#'   `period` given as a unit, lets the automatic grid use calendar units,
#'   and names the unit on the time axis of plots (for every `model`).
#' @param weights Optional sampling weights: a numeric vector or a column
#'   name, rescaled to mean 1 as in [ipw()].
#' @param se `"sandwich"`, `"bootstrap"` or `"none"`; `NULL` picks the
#'   default described under Intervals: the sandwich for pooled-logistic
#'   and (not stratified) Cox models, with or without an [ipw()]
#'   `weight_model`, the bootstrap where the sandwich is not available.
#' @param R Number of bootstrap replicates: a whole number from 2 to 1,000,000.
#' @param conf_level Confidence level of the intervals.
#' @param na_action `"fail"` (default) or `"omit"`, as in [ipw()].
#' @param cluster `NULL`, or the clusters of dependent rows, as in [ipw()]:
#'   in sequential target trials the person of each person-trial. The
#'   influence functions of the curves (and of every contrast of
#'   [estimate_effect()][estimate_effect.causal_survival]) are summed within
#'   clusters, with the factor \eqn{G / (G - 1)}, and the bootstrap resamples
#'   whole clusters (with competing causes, the Aalen-Johansen influence
#'   functions are summed within clusters likewise). Give it here, not to
#'   the `weight_model`.
#' @return A `causal_survival` object; see [estimate_effect.causal_survival()]
#'   and [tidy.causal_survival()].
#' @references Hernán MA, Robins JM (2020). *Causal Inference: What If*,
#'   chapter 17. Chapman & Hall/CRC.
#' @seealso [survival_ipw()]
#' @export
#' @examples
#' fit <- survival_standardization(
#'   Surv(survtime, death) ~ qsmk + sex + race + age + I(age^2) + education +
#'     smokeintensity + smokeyrs + exercise + active + wt71,
#'   data = nhefs, treatment = "qsmk")
#' fit
#' estimate_effect(fit, times = 120)
#' # Sequential trials put a person in several rows: cluster by person.
#' # (Here a made-up pairing of the rows, to show the call.)
#' nhefs$pair <- (seq_len(nrow(nhefs)) + 1) %/% 2
#' clustered <- survival_standardization(Surv(survtime, death) ~ qsmk + sex + age + wt71,
#'                                       data = nhefs, treatment = "qsmk", cluster = pair)
#' clustered
#' # Competing causes in survival::colon, on 12 periods of follow-up.
#' colon <- survival::colon
#' crc <- colon[colon$etype == 1, ]
#' death <- colon$status[colon$etype == 2]
#' crc$cause <- factor(ifelse(crc$status == 1, 1, 2 * death), 0:2,
#'                     c("censored", "recurrence", "death"))
#' cs <- survival_standardization(Surv(time, cause) ~ rx + age + sex + obstruct, data = crc,
#'                                treatment = "rx", breaks = seq(0, 3330, length.out = 13),
#'                                R = 20)
#' estimate_effect(cs, times = 1665, contrast = "risk_ratio")
survival_standardization <- function(formula, data, treatment, time_terms = NULL,
                                     learner = lrn_glm(), stratified = FALSE,
                                     weight_model = NULL, censoring_model = NULL,
                                     model = "pooled_logistic", breaks = NULL, period = NULL,
                                     time_unit = NULL, weights = NULL,
                                     se = NULL, R = 200, conf_level = 0.95,
                                     na_action = "fail", cluster = NULL) {
  cluster <- rlang::enquo(cluster)
  check_formula(formula)
  treatment <- treatment_name(rlang::enquo(treatment), formula)
  env <- parent.frame()
  grid <- grid_spec(time_terms, breaks, period, time_unit)
  setup <- survival_setup(formula, data, treatment, weights, na_action, env)
  fit <- survival_std_engine(setup, data, env, grid, learner, stratified, weight_model,
                             censoring_model, model, se, R, conf_level)
  fit <- with_cluster(fit, cluster, data, setup$d$rows)
  finish_survival_fit(fit, fit$se_type, R, conf_level, match.call(), nrow(data))
}

#' @describeIn survival_standardization Matrix interface: `x` is a numeric
#'   covariate matrix, `a` the treatment, `time` and `event` the follow-up;
#'   the hazard's terms are the treatment and the columns of `x`. A
#'   `censoring_model` is then a numeric matrix of the covariates of censoring,
#'   and a `weight_model` a fit of the same units, such as [ipw_fit()].
#' @param x A numeric covariate matrix.
#' @param a The treatment: a factor, or numeric, logical or character codes.
#' @param time,event Follow-up times and the event: indicators (0 or 1), or
#'   a factor of competing causes whose first level means censored.
#' @export
survival_standardization_fit <- function(x, a, time, event, time_terms = NULL,
                                         learner = lrn_glm(), stratified = FALSE,
                                         weight_model = NULL, censoring_model = NULL,
                                         model = "pooled_logistic", breaks = NULL,
                                         period = NULL, time_unit = NULL, weights = NULL, se = NULL,
                                         R = 200,
                                         conf_level = 0.95, cluster = NULL) {
  grid <- grid_spec(time_terms, breaks, period, time_unit)
  m <- survival_matrix_data(x, a, time, event, TRUE)
  setup <- survival_setup(m$formula, m$data, ".treatment", weights, "fail", baseenv())
  fit <- survival_std_engine(setup, m$data, baseenv(), grid, learner, stratified,
                             weight_model, censoring_model, model, se, R, conf_level)
  fit <- with_cluster(fit, cluster, NULL, n_data = fit$n)
  finish_survival_fit(fit, fit$se_type, R, conf_level, match.call(), nrow(m$data))
}

survival_std_engine <- function(setup, data, env, grid, learner, stratified, weight_model,
                                censoring_model, model, se, R, conf_level) {
  if (!is.null(setup$causes)) {
    return(competing_std_engine(setup, data, env, grid, learner, stratified, weight_model,
                                censoring_model, model, se))
  }
  model <- rlang::arg_match0(model, c("pooled_logistic", "cox"), "model")
  if (!is.null(se)) se <- rlang::arg_match0(se, c("sandwich", "bootstrap", "none"), "se")
  stratified <- check_bool(stratified, "stratified")
  wm <- resolve_weight_model(weight_model, setup, data, env)
  check_arm_events(setup$status, setup$a, setup$sw, model)
  if (model == "cox" && !is.null(censoring_model)) {
    cli::cli_abort("{.arg censoring_model} is available for {.code model = \"pooled_logistic\"} only.")
  }
  if (model == "pooled_logistic") check_hazard_learner(learner)
  fit <- new_survival_fit(setup, method = model, marginal = FALSE, stratified = stratified,
                          weight_model = wm, learner = learner, grid = grid,
                          censoring_model = censoring_model,
                          data = data, env = env)
  fit$estimator <- if (is.null(wm)) "standardization" else "weighted standardization"
  fit$se_type <- se %||% default_survival_se(fit)
  if (fit$se_type == "sandwich") check_sandwich_covered(fit)
  fit
}

# Hazard design of a standardization fit: the formula's terms, or the
# covariates' alone when stratified, without the intercept column (the
# hazard fitters add their own).
hazard_design <- function(design, stratified) {
  if (stratified) design <- covariate_design(design)
  design
}

without_intercept <- function(x) x[, colnames(x) != "(Intercept)", drop = FALSE]

# The person design (matrix and offset, no intercept column) of a hazard
# design for raw variables `data`, with the treatment set to `level` if given.
person_design <- function(design, data = design$vars, level = NULL) {
  dx <- design_x(design, data, level)
  list(x = without_intercept(dx$x), offset = dx$offset,
       intercept = "(Intercept)" %in% colnames(dx$x))
}

# Standardized pooled-logistic curves of a fit: the hazard model(s) fitted
# with weights avg * ipw and each person's curve under each level averaged
# with avg * population.
pooled_curves <- function(fit, avg, ipw) {
  pt <- fit$pt
  n <- fit$n
  K <- length(fit$levels)
  nt <- causallib_threads()
  w <- avg * ipw
  cm <- if (!is.null(fit$xc)) censoring_models(fit$xc, pt, avg, fit$learner)
  cens <- censoring_weights_spec(cm, fit$xc, pt)
  pd <- person_design(fit$hazard)
  avg_pop <- avg * (fit$population %||% 1)
  if (!fit$stratified) {
    hz <- pt_fit(pd$x, pt, w, TRUE, fit$learner, censoring_for_fit(cens, K), pd$intercept,
                 pd$offset)
    lp <- vapply(fit$levels, function(lev) {
      cd <- person_design(fit$hazard, level = lev)
      pt_person_lp(hz, cd$x, cd$offset)
    }, numeric(n))
    surv <- .Call(C_ffi_discrete_survival, matrix(lp, n), pt_period_table(hz, pt$f), avg_pop, nt)
    return(list(survival = surv, models = list(hazard = hz, censoring = cens, censoring_models = cm)))
  }
  hz <- lapply(seq_len(K), function(k) {
    keep <- as.integer(fit$treatment) == k
    pt_fit(pd$x[keep, , drop = FALSE], subset_person_time(pt, keep), w[keep], FALSE, fit$learner,
           censoring_for_fit(cens, 1L, keep), pd$intercept, pd$offset[keep])
  })
  surv <- t(vapply(hz, function(h) {
    .Call(C_ffi_discrete_survival, matrix(pt_person_lp(h, pd$x, pd$offset)),
          pt_period_table(h, pt$f), avg_pop, nt)
  }, numeric(pt$n_periods)))
  list(survival = surv, models = list(hazard = hz, censoring = cens, censoring_models = cm))
}

# Mean predicted curve of the people `rows` of each arm under that arm
# (K x m; NA for an arm without people), weighted by w.
pooled_arm_curves <- function(fit, model, rows, w) {
  pd <- person_design(fit$hazard)
  nt <- causallib_threads()
  per_arm_curves(fit$treatment, rows, w, fit$pt$n_periods, function(k, sel) {
    hz <- if (fit$stratified) model$models$hazard[[k]] else model$models$hazard
    tab <- pt_period_table(hz, fit$pt$f)
    .Call(C_ffi_discrete_survival, matrix(pt_person_lp(hz, pd$x[sel, , drop = FALSE], pd$offset[sel])),
          tab[if (fit$stratified) 1L else k, , drop = FALSE], w[sel], nt)
  })
}

# K x m matrix whose row k is curve(k, sel) for the people sel of `rows` in
# arm k (NA when there are none).
per_arm_curves <- function(a, rows, w, m, curve) {
  t(vapply(seq_len(nlevels(a)), function(k) {
    sel <- rows[as.integer(a[rows]) == k & w[rows] > 0]
    if (!length(sel)) return(rep(NA_real_, m))
    as.vector(curve(k, sel))
  }, numeric(m)))
}

subset_person_time <- function(pt, keep) {
  pt$last <- pt$last[keep]
  pt$status <- pt$status[keep]
  pt$arm <- pt$arm[keep]
  pt
}

# Standardized Cox curves: exp(-H0(t) exp(lp)) of every person under each
# level, averaged with avg * population.
cox_curves <- function(fit, avg, ipw) {
  n <- fit$n
  K <- length(fit$levels)
  nt <- causallib_threads()
  w <- avg * ipw
  avg_pop <- avg * (fit$population %||% 1)
  pd <- person_design(fit$hazard)
  if (!fit$stratified) {
    hz <- cox_fit(pd$x, pd$offset, fit$time, fit$status, w, fit$times)
    lp <- vapply(fit$levels, function(lev) {
      cd <- person_design(fit$hazard, level = lev)
      cox_lp(hz, cd$x, cd$offset)
    }, numeric(n))
    surv <- .Call(C_ffi_cox_survival, matrix(lp, n), hz$H0, avg_pop, nt)
    return(list(survival = surv, models = list(hazard = hz)))
  }
  hz <- lapply(seq_len(K), function(k) {
    keep <- as.integer(fit$treatment) == k
    cox_fit(pd$x[keep, , drop = FALSE], pd$offset[keep], fit$time[keep], fit$status[keep],
            w[keep], fit$times)
  })
  surv <- t(vapply(hz, function(h) {
    .Call(C_ffi_cox_survival, matrix(cox_lp(h, pd$x, pd$offset)), h$H0, avg_pop, nt)
  }, numeric(length(fit$times))))
  list(survival = surv, models = list(hazard = hz))
}

cox_arm_curves <- function(fit, model, rows, w) {
  pd <- person_design(fit$hazard)
  nt <- causallib_threads()
  per_arm_curves(fit$treatment, rows, w, length(fit$times), function(k, sel) {
    hz <- if (fit$stratified) model$models$hazard[[k]] else model$models$hazard
    .Call(C_ffi_cox_survival, matrix(cox_lp(hz, pd$x[sel, , drop = FALSE], pd$offset[sel])),
          hz$H0, w[sel], nt)
  })
}

# A weighted Cox model (Efron ties) with an optional offset and its baseline
# cumulative hazard at covariates 0 (and offset 0) on the time grid (H0)
# and at every time of the data (base: survfit()'s steps).
# coxph() needs positive weights, so people with weight 0 (not drawn in a
# bootstrap replicate) are left out.
cox_fit <- function(x, offset, time, status, w, grid) {
  keep <- w > 0
  xk <- x[keep, , drop = FALSE]
  off <- if (is.null(offset)) numeric(sum(keep)) else offset[keep]
  sv <- survival::Surv(time[keep], status[keep])
  model <- if (ncol(xk)) {
    survival::coxph(sv ~ xk + offset(off), weights = w[keep], ties = "efron")
  } else {
    survival::coxph(sv ~ offset(off), weights = w[keep], ties = "efron")
  }
  b <- stats::coef(model)
  b[is.na(b)] <- 0
  sf <- survival::survfit(model, newdata = data.frame(off = 0, xk = I(matrix(0, 1L, ncol(xk)))),
                          se.fit = FALSE)
  # coxph() names a one-column matrix's coefficient "xk" alone.
  if (ncol(xk) == 1L) names(model$coefficients) <- paste0("xk", colnames(xk))
  cumhaz <- c(0, sf$cumhaz)
  list(model = model, coef = b, H0 = cumhaz[findInterval(grid, sf$time) + 1L],
       base = list(time = sf$time, cumhaz = sf$cumhaz))
}

cox_lp <- function(fit, x, offset = NULL) {
  lp <- if (ncol(x) == 0L) numeric(nrow(x)) else drop(x %*% fit$coef)
  if (is.null(offset)) lp else lp + offset
}
