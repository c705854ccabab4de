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
#' curves); `time_terms` and `breaks` are then not used.
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
#' \eqn{b_T} are censored there. By default, when all times are whole
#' numbers, the periods are the unit intervals up to the longest follow-up,
#' so `time` is the time itself (months of follow-up in [nhefs]). Curves
#' are reported at the period ends \eqn{b_1, \dots, b_T}.
#'
#' @section Intervals:
#' With `se = "bootstrap"` (default) `R` nonparametric bootstrap replicates
#' of people refit the whole pipeline (the weight, censoring and hazard
#' models, in C for [lrn_glm()]) and give percentile intervals.
#' Reproducible under [set.seed()] whatever the number of threads.
#'
#' @param formula `Surv(time, event) ~ treatment + covariates`.
#' @param data A data frame.
#' @param treatment The treatment variable (a string or bare name).
#' @param time_terms A one-sided formula in `time`, the period index, for
#'   the baseline hazard, e.g. `~ time + I(time^2)` (default) or
#'   `~ splines::ns(time, 4)`.
#' @param learner The hazard learner: [lrn_glm()] with the binomial family
#'   (a ridge `penalty` is allowed).
#' @param stratified Fit one hazard model per treatment level?
#' @param weight_model `NULL`, a fitted [ipw()] model of the same people, or
#'   a formula `treatment ~ covariates` for one.
#' @param censoring_model `NULL`, or a one-sided formula of the covariates
#'   that predict censoring.
#' @param model `"pooled_logistic"` or `"cox"`.
#' @param breaks `NULL` or the period boundaries; see the Time grid section.
#' @param weights Optional sampling weights: a numeric vector or a column name.
#' @param se `"bootstrap"` or `"none"`.
#' @param R Number of bootstrap replicates.
#' @param conf_level Confidence level of the intervals.
#' @param na_action `"fail"` (default) or `"omit"`, as in [ipw()].
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
#'   data = nhefs, treatment = "qsmk", R = 20)
#' fit
#' estimate_effect(fit, times = 120)
survival_standardization <- function(formula, data, treatment, time_terms = ~ time + I(time^2),
                                     learner = lrn_glm(), stratified = FALSE,
                                     weight_model = NULL, censoring_model = NULL,
                                     model = "pooled_logistic", breaks = NULL, weights = NULL,
                                     se = "bootstrap", R = 200, conf_level = 0.95,
                                     na_action = "fail") {
  treatment <- treatment_name(rlang::enquo(treatment), formula)
  model <- rlang::arg_match0(model, c("pooled_logistic", "cox"), "model")
  se <- rlang::arg_match0(se, c("bootstrap", "none"), "se")
  setup <- survival_setup(formula, data, treatment, weights, na_action, parent.frame())
  wm <- resolve_weight_model(weight_model, setup)
  check_arm_events(setup$status, setup$a, setup$sw, model)
  spec <- if (model == "cox") {
    if (!is.null(censoring_model)) {
      cli::cli_abort("{.arg censoring_model} is available for {.code model = \"pooled_logistic\"} only.")
    }
    cox_spec(setup, isTRUE(stratified))
  } else {
    check_hazard_learner(learner)
    pooled_spec(setup, time_terms, breaks, learner, isTRUE(stratified), censoring_model)
  }
  pipeline <- function(mult) spec$curves(mult, ip_weights(wm, mult))
  point <- pipeline(1)
  reps <- if (se == "bootstrap") survival_replicates(setup$n, R, pipeline) else NULL
  new_causal_survival(
    times = spec$times, survival = point$survival, replicates = reps,
    se_type = se, conf_level = conf_level, levels = levels(setup$a),
    estimator = if (is.null(wm)) "standardization" else "weighted standardization",
    estimand = if (is.null(wm)) "ATE" else wm$estimand, method = model, setup = setup,
    breaks = spec$breaks, call = match.call(), models = point$models, weight_model = wm,
    spec = spec, marginal = FALSE
  )
}

# Model terms of the hazard: the formula's, or the covariates' alone when
# stratified.
hazard_terms <- function(setup, stratified) {
  if (stratified) covariate_terms(setup$terms, setup$treatment_name) else setup$terms
}

without_intercept <- function(x) x[, colnames(x) != "(Intercept)", drop = FALSE]

pooled_spec <- function(setup, time_terms, breaks, learner, stratified, censoring_model) {
  pt <- person_time(setup, breaks, time_terms)
  tt <- hazard_terms(setup, stratified)
  x <- design_matrix(tt, setup$frame)
  intercept <- "(Intercept)" %in% colnames(x)
  x <- without_intercept(x)
  xcf <- if (!stratified) {
    lapply(levels(setup$a), function(lev) {
      without_intercept(design_matrix(tt, set_treatment(setup$frame, setup$treatment_name, lev)))
    })
  }
  xc <- if (!is.null(censoring_model)) censoring_design(censoring_model, setup$data, setup$a)
  K <- nlevels(setup$a)
  nt <- causallib_threads()
  curves <- function(mult, ipw) {
    avg <- rep_len((setup$sw %||% 1) * mult, setup$n)
    w <- avg * ipw
    cens <- if (!is.null(xc)) censoring_weights_spec(xc, pt, avg, learner)
    if (!stratified) {
      fit <- pt_fit(x, pt, w, TRUE, learner, censoring_for_fit(cens, K), intercept)
      lp <- vapply(xcf, function(z) pt_person_lp(fit, z), numeric(setup$n))
      surv <- .Call(C_ffi_discrete_survival, matrix(lp, setup$n), pt_period_table(fit, pt$f), avg, nt)
      return(list(survival = surv, models = list(hazard = fit, censoring = cens)))
    }
    fits <- lapply(seq_len(K), function(k) {
      keep <- as.integer(setup$a) == k
      pt_fit(x[keep, , drop = FALSE], subset_person_time(pt, keep), w[keep], FALSE, learner,
             censoring_for_fit(cens, 1L, keep), intercept)
    })
    surv <- t(vapply(fits, function(fit) {
      .Call(C_ffi_discrete_survival, matrix(pt_person_lp(fit, x)), pt_period_table(fit, pt$f), avg, nt)
    }, numeric(pt$n_periods)))
    list(survival = surv, models = list(hazard = fits, censoring = cens))
  }
  # Mean predicted curve of the people `rows` of each arm under that arm.
  arm_curves <- function(result, rows, w) {
    per_arm_curves(setup$a, rows, w, pt$n_periods, function(k, sel) {
      fit <- if (stratified) result$models$hazard[[k]] else result$models$hazard
      tab <- pt_period_table(fit, pt$f)
      .Call(C_ffi_discrete_survival, matrix(pt_person_lp(fit, x[sel, , drop = FALSE])),
            tab[if (stratified) 1L else k, , drop = FALSE], w[sel], nt)
    })
  }
  list(curves = curves, times = pt$breaks[-1L], breaks = pt$breaks, arm_curves = arm_curves)
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

cox_spec <- function(setup, stratified) {
  tt <- hazard_terms(setup, stratified)
  x <- without_intercept(design_matrix(tt, setup$frame))
  xcf <- if (!stratified) {
    lapply(levels(setup$a), function(lev) {
      without_intercept(design_matrix(tt, set_treatment(setup$frame, setup$treatment_name, lev)))
    })
  }
  times <- sort(unique(c(setup$time[setup$status == 1L], max(setup$time))))
  K <- nlevels(setup$a)
  nt <- causallib_threads()
  curves <- function(mult, ipw) {
    avg <- rep_len((setup$sw %||% 1) * mult, setup$n)
    w <- avg * ipw
    if (!stratified) {
      fit <- cox_fit(x, setup$time, setup$status, w, times)
      lp <- vapply(xcf, function(z) cox_lp(fit, z), numeric(setup$n))
      surv <- .Call(C_ffi_cox_survival, matrix(lp, setup$n), fit$H0, avg, nt)
      return(list(survival = surv, models = list(hazard = fit)))
    }
    fits <- lapply(seq_len(K), function(k) {
      keep <- as.integer(setup$a) == k
      cox_fit(x[keep, , drop = FALSE], setup$time[keep], setup$status[keep], w[keep], times)
    })
    surv <- t(vapply(fits, function(fit) {
      .Call(C_ffi_cox_survival, matrix(cox_lp(fit, x)), fit$H0, avg, nt)
    }, numeric(length(times))))
    list(survival = surv, models = list(hazard = fits))
  }
  arm_curves <- function(result, rows, w) {
    per_arm_curves(setup$a, rows, w, length(times), function(k, sel) {
      fit <- if (stratified) result$models$hazard[[k]] else result$models$hazard
      .Call(C_ffi_cox_survival, matrix(cox_lp(fit, x[sel, , drop = FALSE])), fit$H0, w[sel], nt)
    })
  }
  list(curves = curves, times = times, breaks = NULL, arm_curves = arm_curves)
}

# A weighted Cox model (Efron ties) and its baseline cumulative hazard at
# covariates 0 on the time grid.  coxph() needs positive weights, so people
# with weight 0 (not drawn in a bootstrap replicate) are left out.
cox_fit <- function(x, time, status, w, grid) {
  keep <- w > 0
  xk <- x[keep, , drop = FALSE]
  sv <- survival::Surv(time[keep], status[keep])
  model <- if (ncol(xk)) {
    survival::coxph(sv ~ xk, weights = w[keep], ties = "efron")
  } else {
    survival::coxph(sv ~ 1, weights = w[keep], ties = "efron")
  }
  b <- stats::coef(model)
  b[is.na(b)] <- 0
  sf <- survival::survfit(model, se.fit = FALSE)
  centre <- if (length(b)) sum(b * model$means) else 0
  cumhaz <- c(0, sf$cumhaz * exp(-centre))
  list(model = model, coef = b, H0 = cumhaz[findInterval(grid, sf$time) + 1L])
}

cox_lp <- function(fit, x) {
  if (ncol(x) == 0L) return(numeric(nrow(x)))
  drop(x %*% fit$coef)
}
