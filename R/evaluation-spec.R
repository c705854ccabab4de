# What evaluate() needs from each model class beyond refit(): its kind, and
# the predictions of a (refitted) model for some of the fitted units.
#   evaluation_type(fit)                  "weight", "outcome", "doubly_robust"
#                                         or "survival"
#   evaluation_predictions(fit, model, rows)  a data frame, one row per unit
#                                         of `rows`: treatment, sampling
#                                         weight and the model's predictions
#   evaluation_covariates(fit, rows)      the covariates balance is checked on

evaluation_type <- function(fit) {
  UseMethod("evaluation_type")
}

#' @export
evaluation_type.default <- function(fit) {
  cli::cli_abort("{.fn evaluate} does not know models of class {.cls {class(fit)[1L]}}.")
}

#' @export
evaluation_type.causallib_weight_model <- function(fit) "weight"

#' @export
evaluation_type.causallib_standardization <- function(fit) "outcome"

#' @export
evaluation_type.causallib_dr <- function(fit) "doubly_robust"

evaluation_predictions <- function(fit, model, rows) {
  UseMethod("evaluation_predictions")
}

# The propensities and weights a (refitted) weight model gives units `rows`
# of the fit: IP weights from its propensities; for matching, its own weights
# when it was fitted on exactly these units, else these units matched among
# themselves with its propensities and caliper width.
#' @export
evaluation_predictions.causallib_weight_model <- function(fit, model, rows) {
  P <- learner_predict(model$learner_fit, fit$x[rows, , drop = FALSE], fit$offset[rows])
  a <- fit$treatment[rows]
  weight <- if (inherits(model, "causallib_matching")) {
    if (identical(as.integer(model$rows), as.integer(fit$rows[rows]))) {
      model$weights
    } else {
      run_matching(fit$x[rows, , drop = FALSE], a, P, fit$spec, model$caliper_distance,
                   fit$sampling_weights[rows], fit$target, restrict_rows(fit$restrict, rows),
                   model$caliper_widths)$weights
    }
  } else {
    weights_from_propensity(model, P, a)
  }
  out <- data.frame(treatment = a, weight = weight, sw = sw_or_one(fit)[rows])
  out$propensity <- P
  out
}

#' @export
evaluation_predictions.causallib_standardization <- function(fit, model, rows) {
  po <- std_potential_outcomes(model, fit$design$vars[rows, , drop = FALSE])
  a <- fit$treatment[rows]
  out <- data.frame(treatment = a, observed = fit$y[rows],
                    predicted = observed_arm_prediction(po, a), sw = sw_or_one(fit)[rows])
  out$potential_outcomes <- po
  out
}

#' @export
evaluation_predictions.causallib_dr <- function(fit, model, rows) {
  w <- evaluation_predictions(fit$weight_model, model$weight_model, rows)
  o <- evaluation_predictions(fit$outcome_model, model$outcome_model, rows)
  cbind(w, o[, setdiff(names(o), names(w)), drop = FALSE])
}

evaluation_covariates <- function(fit, rows) {
  UseMethod("evaluation_covariates")
}

#' @export
evaluation_covariates.default <- function(fit, rows) {
  covariate_rows(balance_covariates(weight_model_of(fit)), rows)
}
