#' Unadjusted (marginal) outcome comparison
#'
#' The naive baseline: the (sampling-weighted) mean outcome in each
#' treatment group, with no adjustment for confounding. Comparing it with
#' adjusted estimates shows how much adjustment matters.
#'
#' @param formula A formula `outcome ~ treatment`.
#' @inheritParams ipw
#' @return An object of class `causallib_marginal_outcome`.
#' @export
#' @examples
#' fit <- marginal_outcome(wt82_71 ~ qsmk, data = nhefs, na_action = "omit")
#' estimate_effect(fit)
marginal_outcome <- function(formula, data, weights = NULL, na_action = "fail") {
  check_formula(formula)
  treatment <- all.vars(formula[[3L]])
  if (length(treatment) != 1L) {
    cli::cli_abort("{.arg formula} must be {.code outcome ~ treatment} with a single treatment variable.")
  }
  d <- new_design(formula, data, treatment, rlang::enquo(weights), na_action, parent.frame())
  a <- as_treatment(eval(formula[[3L]], d$design$vars, environment(formula)), "treatment")
  y <- check_outcome(d$response, length(a))
  fit <- marginal_engine(y, a, d$weights)
  fit$treatment_name <- treatment
  with_front_end(fit, d, match.call(), parent.frame(), nrow(data))
}

#' @describeIn marginal_outcome Vector interface: `y` the outcome and `a` the
#'   treatment.
#' @param y The outcome, numeric or logical.
#' @param a The treatment: a factor, or numeric, logical or character codes.
#' @export
marginal_outcome_fit <- function(y, a, weights = NULL) {
  a <- as_treatment(a, "a")
  fit <- marginal_engine(check_outcome(y, length(a), "y"), a, weights)
  fit$call <- match.call()
  fit
}

marginal_engine <- function(y, a, weights) {
  weights <- as_sampling_weights(weights, length(a))
  check_arms_nonempty(a, weights)
  structure(list(
    y = y, treatment = a, levels = levels(a), sampling_weights = weights,
    n = length(y), rows = seq_along(y), estimand = "unadjusted"
  ), class = c("causallib_marginal_outcome", "causallib_outcome_model", "causallib_model"))
}

#' @export
refit.causallib_marginal_outcome <- function(fit, case_weights = NULL, rows = NULL,
                                             learner = NULL) {
  if (!is.null(learner)) cli::cli_abort("{.fn marginal_outcome} has no learner to replace.")
  u <- refit_units(fit, case_weights, rows)
  out <- marginal_engine(fit$y[u$rows], fit$treatment[u$rows], u$weights)
  out$treatment_name <- fit$treatment_name
  keep_front_end(out, fit, u$rows)
}

#' @export
means.causallib_marginal_outcome <- function(fit, y = NULL) {
  sw <- sw_or_one(fit)
  mu <- arm_sums(sw * fit$y, fit$treatment) / arm_sums(sw, fit$treatment)
  stats::setNames(mu, fit$levels)
}

#' @export
estfun_parts.causallib_marginal_outcome <- function(fit, y = NULL) {
  sw <- sw_or_one(fit)
  mu <- means(fit)
  a <- fit$treatment
  list(Psi = arm_spread(sw * (fit$y - mu[as.integer(a)]), a),
       D_mm = diag(-arm_sums(sw, a), length(mu)))
}

#' @export
model_label.causallib_marginal_outcome <- function(fit) "unadjusted comparison"

#' Predictions of the unadjusted comparison
#'
#' Every unit's "potential outcome" under each treatment level is the
#' (sampling-weighted) mean outcome of that level's group: the naive
#' prediction that ignores the covariates, as a baseline for the adjusted
#' models' [predict()] methods.
#'
#' @param object A fitted [marginal_outcome()].
#' @param newdata Optional data frame; only its number of rows is used.
#' @param type `"potential_outcomes"`.
#' @param ... Unused.
#' @return A matrix with one row per unit and one column per treatment level.
#' @export
#' @examples
#' fit <- marginal_outcome(wt82_71 ~ qsmk, data = nhefs, na_action = "omit")
#' predict(fit, newdata = nhefs[1:3, ])
predict.causallib_marginal_outcome <- function(object, newdata = NULL,
                                               type = "potential_outcomes", ...) {
  rlang::check_dots_empty()
  rlang::arg_match0(type, "potential_outcomes", "type")
  if (!is.null(newdata)) check_data_frame(newdata, "newdata")
  n <- if (is.null(newdata)) object$n else nrow(newdata)
  means <- means(object)
  matrix(means, n, length(means), byrow = TRUE, dimnames = list(NULL, object$levels))
}
