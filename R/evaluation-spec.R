# What evaluate() needs from each model class: its type, its units and
# treatment, how to refit it on some of its rows (from the stored design,
# without re-running the formula), and its predictions for some rows.

evaluation_spec <- function(fit) {
  UseMethod("evaluation_spec")
}

#' @export
evaluation_spec.default <- function(fit) {
  cli::cli_abort("{.fn evaluate} does not know models of class {.cls {class(fit)[1L]}}.")
}

#' @export
evaluation_spec.causallib_ipw <- function(fit) {
  list(type = "weight", n = fit$n, a = fit$treatment,
       refit = function(rows) refit_weight_model(fit, rows),
       predict = function(model, rows) weight_predictions(fit, model, rows),
       covariates = function(rows) covariate_matrix(fit)[rows, , drop = FALSE])
}

refit_weight_model <- function(fit, rows) {
  ipw_engine(fit$x[rows, , drop = FALSE], fit$treatment[rows], fit$estimand, fit$stabilize,
             fit$clip, fit$truncate, fit$learner, fit$sampling_weights[rows],
             fit$levels[fit$target], intercept = fit$intercept)
}

weight_predictions <- function(fit, model, rows) {
  P <- learner_predict(model$learner_fit, fit$x[rows, , drop = FALSE])
  a <- fit$treatment[rows]
  out <- data.frame(treatment = a, weight = weights_from_propensity(model, P, a),
                    sw = (fit$sampling_weights %||% rep(1, fit$n))[rows])
  out$propensity <- P
  out
}

#' @export
evaluation_spec.causallib_standardization <- function(fit) {
  list(type = "outcome", n = fit$n, a = fit$treatment,
       refit = function(rows) refit_outcome_model(fit, rows),
       predict = function(model, rows) outcome_predictions(fit, model, rows))
}

refit_outcome_model <- function(fit, rows) {
  m <- fit
  m$x <- fit$x[rows, , drop = FALSE]
  m$y <- fit$y[rows]
  m$treatment <- fit$treatment[rows]
  m$sampling_weights <- fit$sampling_weights[rows]
  m$frame <- fit$frame[rows, , drop = FALSE]
  m$n <- length(rows)
  check_arms_nonempty(m$treatment, m$sampling_weights)
  m$learner_fit <- fit_outcome_learners(m)
  m$potential_outcomes <- std_predict(m, m$frame)
  m
}

outcome_predictions <- function(fit, model, rows) {
  po <- std_predict(model, fit$frame[rows, , drop = FALSE])
  a <- fit$treatment[rows]
  out <- data.frame(treatment = a, observed = fit$y[rows],
                    predicted = observed_arm_prediction(po, a),
                    sw = (fit$sampling_weights %||% rep(1, fit$n))[rows])
  out$potential_outcomes <- po
  out
}

#' @export
evaluation_spec.causal_survival <- function(fit) {
  r <- fit$refit
  setup <- r$setup
  sw <- setup$sw %||% rep(1, fit$n)
  own <- list(survival = fit$survival, models = fit$models,
              ipw = rep_len(if (is.null(fit$weight_model)) 1 else fit$weight_model$weights, fit$n))
  list(type = "survival", n = fit$n, a = setup$a, own = own,
       refit = function(rows) {
         mult <- tabulate(rows, fit$n)
         ipw <- ip_weights(fit$weight_model, mult)
         c(r$curves(mult, ipw), list(ipw = rep_len(ipw, fit$n)))
       },
       predict = function(model, rows) {
         # IP-weighted fits are compared with IP-weighted Kaplan-Meier curves
         data.frame(treatment = setup$a[rows], sw = sw[rows],
                    weight = if (fit$marginal) model$ipw[rows] else 1)
       },
       curves = function(model, rows, w) {
         list(model = r$arm_curves(model, rows, w),
              km = km_curves(setup$time[rows], setup$status[rows], w[rows],
                             setup$a[rows], fit$times)$survival)
       })
}

#' @export
evaluation_spec.causallib_dr <- function(fit) {
  wm <- fit$weight_model
  om <- fit$outcome_model
  list(type = "doubly_robust", n = fit$n, a = fit$treatment,
       own = list(weight = wm, outcome = om),
       refit = function(rows) {
         list(weight = refit_weight_model(wm, rows), outcome = refit_outcome_model(om, rows))
       },
       predict = function(model, rows) {
         w <- weight_predictions(wm, model$weight, rows)
         o <- outcome_predictions(om, model$outcome, rows)
         cbind(w, o[, setdiff(names(o), names(w)), drop = FALSE])
       },
       covariates = function(rows) covariate_matrix(wm)[rows, , drop = FALSE])
}
