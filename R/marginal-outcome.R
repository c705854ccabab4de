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
  if (length(all.vars(formula[[3L]])) != 1L) {
    cli::cli_abort("{.arg formula} must be {.code outcome ~ treatment} with a single treatment variable.")
  }
  fr <- build_frame(formula, data, weights, na_action, parent.frame())
  y <- check_outcome(stats::model.response(fr$frame), nrow(fr$frame))
  a <- as_treatment(fr$frame[[2L]], "treatment")
  weights <- check_weights(fr$weights, length(a))
  check_arms_nonempty(a, weights)
  structure(list(
    y = y, treatment = a, levels = levels(a), sampling_weights = weights,
    n = length(y), call = match.call(), rows = fr$rows, na.action = fr$omitted,
    estimand = "unadjusted"
  ), class = c("causallib_marginal_outcome", "causallib_outcome_model", "causallib_model"))
}

#' @export
print.causallib_marginal_outcome <- function(x, ...) {
  cat("<causallib_marginal_outcome> unadjusted comparison of", length(x$levels),
      "treatment levels,", x$n, "observations\n")
  invisible(x)
}

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
  rlang::arg_match0(type, "potential_outcomes", "type")
  if (!is.null(newdata)) check_data_frame(newdata, "newdata")
  n <- if (is.null(newdata)) object$n else nrow(newdata)
  sw <- sw_or_one(object)
  means <- arm_sums(sw * object$y, object$treatment) / arm_sums(sw, object$treatment)
  matrix(means, n, length(means), byrow = TRUE, dimnames = list(NULL, object$levels))
}

#' @rdname estimate_outcomes
#' @export
estimate_outcomes.causallib_marginal_outcome <- function(fit, outcome = NULL, se = "sandwich",
                                                         R = 1000, conf_level = 0.95, ...) {
  se <- rlang::arg_match0(se, c("sandwich", "bootstrap", "none"), "se")
  sw <- sw_or_one(fit)
  a <- fit$treatment
  mass <- arm_sums(sw, a)
  mu <- arm_sums(sw * fit$y, a) / mass
  names(mu) <- fit$levels
  V <- reps <- NULL
  if (se == "sandwich") {
    Psi <- arm_spread(sw * (fit$y - mu[as.integer(a)]), a)
    V <- stacked_vcov(NULL, NULL, Psi, diag(-mass, length(mu)))
    dimnames(V) <- list(fit$levels, fit$levels)
  }
  if (se == "bootstrap") {
    reps <- run_bootstrap(fit$n, R, function(counts) {
      crossprod(counts, arm_spread(sw * fit$y, a)) / crossprod(counts, arm_spread(sw, a))
    })
    colnames(reps) <- fit$levels
  }
  new_causal_estimate(mu, V, reps, se, conf_level, fit)
}
