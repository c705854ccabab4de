#' Inverse probability weighted survival curves
#'
#' The survival curve under each treatment level, estimated in the
#' pseudo-population that the weight model's IP weights create: a weighted
#' Kaplan-Meier curve per treatment level (`method = "km"`, in C), or a
#' weighted pooled-logistic hazard model on the treatment, the period terms
#' and their interaction (`method = "pooled_logistic"`, chapter 17 of
#' Hernán and Robins's *What If*). Without a `weight_model` the curves are
#' the crude, unadjusted ones.
#'
#' Kaplan-Meier curves are reported at every distinct time, pooled-logistic
#' curves at the period ends (see the Time grid section of
#' [survival_standardization()]). A `censoring_model` adds stabilized
#' inverse probability of censoring weights, which change over follow-up;
#' the Kaplan-Meier curve is then computed on the period grid. Each arm's
#' curve ends with its follow-up, in the fit and in each bootstrap replicate
#' (see the section Where the curves end of [survival_standardization()]).
#'
#' @section Intervals:
#' * `se = "sandwich"` (the default wherever it is available): influence-function
#'   standard errors that account for the estimation of the weight model
#'   (the score of an [ipw()] model with the built-in [lrn_glm()] learner
#'   is stacked with the curves; a truncation cap is treated as fixed).
#'   Without a weight model they are the infinitesimal-jackknife standard
#'   errors of [survival::survfit()]`(robust = TRUE)`, the weighted analogue
#'   of Greenwood's formula. Intervals are on the log-survival scale;
#'   [estimate_effect()][estimate_effect.causal_survival] gets the full
#'   covariance of any contrast at any times, and
#'   [tidy()][tidy.causal_survival] a simultaneous band. For
#'   `method = "pooled_logistic"` the hazard model's score over person-time
#'   is stacked too (chained with the propensity model's, whose weights it
#'   is fitted with). With a `censoring_model` the scores of the two
#'   censoring models (the censoring hazard and its treatment-only
#'   stabilizing numerator) are stacked as well, so the intervals account for
#'   the estimated censoring weights too. Not available with a weight model
#'   other than [ipw()] with [lrn_glm()] (such as [matching()]): those fits
#'   default to the bootstrap, and stop when `se = "sandwich"` is asked for.
#'   A censoring model whose information matrix is singular (censoring in
#'   some periods only, so that its period terms run off to infinity) stops
#'   with a message that points to the bootstrap.
#' * `se = "bootstrap"`: `R` replicates that refit the weight model, the
#'   censoring models and the curves; percentile intervals.
#'
#' @section Competing risks:
#' When the event names competing causes -- a factor whose first level
#' means censored and whose other levels are the causes, as in
#' `Surv(time, cause)`, or `Surv(time, code, type = "mstate")` with codes
#' 0 (censored), 1, 2, ... -- the curves are the cumulative incidences of
#' each cause under each treatment level: IP-weighted Aalen-Johansen
#' estimates (in C, one pass after sorting), which [survival::survfit()]
#' gives for the same weights. [tidy()][tidy.causal_competing] has a `cause`
#' column and [estimate_effect()][estimate_effect.causal_competing]
#' contrasts the cumulative incidences per cause. With `se = "sandwich"`
#' (the default) the curves' standard errors are the infinitesimal
#' jackknife's with the weights treated as fixed, as `survfit()` reports
#' them; the contrasts stack the propensity model of an [ipw()] weight
#' model fitted by [lrn_glm()], so their intervals account for the
#' estimated weights. `se = "bootstrap"` refits the weight model and the
#' curves. A `censoring_model` and `method = "pooled_logistic"` are not
#' available with competing causes (see [survival_standardization()]).
#'
#' @param formula `Surv(time, event) ~ treatment`; the event a 0/1
#'   indicator, or competing causes (see the Competing risks section).
#' @param method `"km"` or `"pooled_logistic"`.
#' @param learner The hazard learner of the pooled-logistic models.
#' @param se `"sandwich"`, `"bootstrap"` or `"none"`; `NULL` picks the
#'   default described under Intervals.
#' @inheritParams survival_standardization
#' @return A `causal_survival` object; see [estimate_effect.causal_survival()]
#'   and [tidy.causal_survival()].
#' @references Hernán MA, Robins JM (2020). *Causal Inference: What If*,
#'   chapter 17. Chapman & Hall/CRC.
#' @export
#' @examples
#' wm <- ipw(qsmk ~ sex + race + age + I(age^2) + education + smokeintensity +
#'             smokeyrs + exercise + active + wt71, data = nhefs)
#' km <- survival_ipw(Surv(survtime, death) ~ qsmk, data = nhefs, weight_model = wm)
#' estimate_effect(km, times = 120)
#' pl <- survival_ipw(Surv(survtime, death) ~ qsmk, data = nhefs, weight_model = wm,
#'                    method = "pooled_logistic")
#' estimate_effect(pl, times = 120)
#' # Competing causes: recurrence or death, whichever comes first, in
#' # survival::colon.
#' colon <- survival::colon
#' crc <- colon[colon$etype == 1, ]
#' death <- colon$status[colon$etype == 2]
#' crc$cause <- factor(ifelse(crc$status == 1, 1, 2 * death), 0:2,
#'                     c("censored", "recurrence", "death"))
#' cr <- survival_ipw(Surv(time, cause) ~ rx, data = crc,
#'                    weight_model = ipw(rx ~ age + sex + obstruct + extent, data = crc))
#' cr
#' estimate_effect(cr, times = 1825, cause = "recurrence")
survival_ipw <- function(formula, data, weight_model = NULL, method = "km",
                         time_terms = NULL, breaks = NULL, period = NULL, time_unit = NULL,
                         censoring_model = NULL, learner = lrn_glm(), weights = NULL,
                         se = NULL, R = 200, conf_level = 0.95, na_action = "fail",
                         cluster = NULL) {
  cluster <- rlang::enquo(cluster)
  check_formula(formula)
  treatment <- all.vars(formula[[3L]])
  if (length(treatment) != 1L || !identical(formula[[3L]], as.name(treatment))) {
    cli::cli_abort(c(
      "The right-hand side of {.arg formula} must be the treatment variable alone, as in {.code Surv(time, event) ~ treatment}.",
      i = "The treatment may be numeric, logical, character or a factor; adjust for covariates through {.arg weight_model}."
    ))
  }
  env <- parent.frame()
  grid <- grid_spec(time_terms, breaks, period, time_unit)
  setup <- survival_setup(formula, data, treatment, weights, na_action, env)
  fit <- survival_ipw_engine(setup, data, env, weight_model, method, grid, censoring_model,
                             learner, se)
  fit <- with_cluster(fit, cluster, data, setup$d$rows)
  finish_survival_fit(fit, fit$se_type, R, conf_level, match.call(), nrow(data))
}

#' @describeIn survival_ipw Vector interface: `a` the treatment, `time` and
#'   `event` the follow-up. A `censoring_model` is then a numeric matrix of
#'   the covariates of censoring, and a `weight_model` a fit of the same
#'   units, such as [ipw_fit()].
#' @param a The treatment: a factor, or numeric, logical or character codes.
#' @param time,event Follow-up times and the event: indicators (0 or 1), or
#'   a factor of competing causes whose first level means censored.
#' @export
survival_ipw_fit <- function(a, time, event, weight_model = NULL, method = "km",
                             time_terms = NULL, breaks = NULL, period = NULL, time_unit = NULL,
                             censoring_model = NULL, learner = lrn_glm(), weights = NULL,
                             se = NULL, R = 200, conf_level = 0.95, cluster = NULL) {
  grid <- grid_spec(time_terms, breaks, period, time_unit)
  m <- survival_matrix_data(NULL, a, time, event, FALSE)
  setup <- survival_setup(m$formula, m$data, ".treatment", weights, "fail", baseenv())
  fit <- survival_ipw_engine(setup, m$data, baseenv(), weight_model, method, grid,
                             censoring_model, learner, se)
  fit <- with_cluster(fit, cluster, NULL, n_data = fit$n)
  finish_survival_fit(fit, fit$se_type, R, conf_level, match.call(), nrow(m$data))
}

survival_ipw_engine <- function(setup, data, env, weight_model, method, grid,
                                censoring_model, learner, se) {
  if (!is.null(setup$causes)) {
    return(competing_ipw_engine(setup, data, env, weight_model, method, grid, censoring_model, se))
  }
  method <- rlang::arg_match0(method, c("km", "pooled_logistic"), "method")
  exact_km <- method == "km" && is.null(censoring_model)
  if (!is.null(se)) se <- rlang::arg_match0(se, c("sandwich", "bootstrap", "none"), "se")
  wm <- resolve_weight_model(weight_model, setup, data, env)
  check_arm_events(setup$status, setup$a, setup$sw, method)
  if (!exact_km) check_hazard_learner(learner)
  fit <- new_survival_fit(setup, method = if (exact_km) "km" else paste0("grid_", method),
                          marginal = TRUE, stratified = FALSE, weight_model = wm,
                          learner = learner, grid = grid,
                          censoring_model = censoring_model, data = data, env = env)
  fit$estimator <- if (is.null(wm)) "unadjusted" else "IP weighting"
  if (is.null(wm)) fit$estimand <- "unadjusted"
  fit$se_type <- se %||% default_survival_se(fit)
  if (fit$se_type == "sandwich") check_sandwich_covered(fit)
  fit
}

# Weighted Kaplan-Meier curves per arm at every distinct time, with their
# infinitesimal-jackknife standard errors; NA after an arm's last time.
km_fit_curves <- function(fit, avg, ipw) {
  c(km_curves(fit$time, fit$status, avg * ipw, fit$treatment, fit$times), list(models = NULL))
}

# Weighted Kaplan-Meier curves per level of the factor a at `times`
# (K x length(times) matrices survival and std_error); NA after a level's
# last time.
km_curves <- function(time, status, w, a, times) {
  K <- nlevels(a)
  km <- .Call(C_ffi_km, time, status, as.double(w), as.integer(a), K)
  steps <- lapply(seq_len(K), function(k) {
    rows <- km$stratum == k
    if (!any(rows)) return(list(survival = rep(NA_real_, length(times)), std_error = rep(NA_real_, length(times))))
    j <- findInterval(times, km$time[rows])
    past <- times > max(km$time[rows])
    list(survival = ifelse(past, NA_real_, c(1, km$surv[rows])[j + 1L]),
         std_error = ifelse(past, NA_real_, c(0, km$std_err[rows])[j + 1L]))
  })
  list(survival = do.call(rbind, lapply(steps, `[[`, "survival")),
       std_error = do.call(rbind, lapply(steps, `[[`, "std_error")))
}

# Curves on the period grid: a Kaplan-Meier curve with time-varying
# (censoring) weights, or a pooled-logistic hazard model of the treatment.
grid_curves <- function(fit, avg, ipw) {
  pt <- fit$pt
  K <- length(fit$levels)
  w <- avg * ipw
  cm <- if (!is.null(fit$xc)) censoring_models(fit$xc, pt, avg, fit$learner)
  cens <- censoring_for_fit(censoring_weights_spec(cm, fit$xc, pt), K)
  if (fit$method == "grid_km") {
    tab <- .Call(C_ffi_pt_risk_table, as.integer(fit$treatment), K, pt$last, pt$status,
                 as.double(w), cens, pt$n_periods)
    surv <- t(apply(1 - tab$events / tab$at_risk, 1L, cumprod))
    surv[!is.finite(surv)] <- NA_real_
    return(list(survival = matrix(surv, K), models = list(censoring = cens, censoring_models = cm)))
  }
  dummies <- treatment_dummies(fit$treatment)
  hz <- pt_fit(dummies, pt, w, TRUE, fit$learner, cens)
  lp <- matrix(pt_person_lp(hz, diag(1, K)[, -1L, drop = FALSE]), 1L)
  surv <- .Call(C_ffi_discrete_survival, lp, pt_period_table(hz, pt$f), 1, causallib_threads())
  list(survival = surv, models = list(hazard = hz, censoring = cens, censoring_models = cm))
}
