# What the weight models -- ipw() and matching() -- share: a propensity
# model on a design, weights for the units, and weighted (Hajek) means of an
# outcome the user names at estimation time.

# Hajek means of y per arm with each unit's weight times its sampling weight.
#' @export
means.causallib_weight_model <- function(fit, y = NULL) {
  mass <- if (is.null(fit$sampling_weights)) fit$ip_weights else fit$sampling_weights * fit$ip_weights
  mu <- arm_sums(mass * y, fit$treatment) / arm_sums(mass, fit$treatment)
  stats::setNames(mu, fit$levels)
}

#' @export
fit_outcome.causallib_weight_model <- function(fit, quo) resolve_outcome(fit, quo)

# The propensity model fitted to the design x (with its offset) by `learner`,
# and its n x K matrix of propensities.
fit_propensity <- function(learner, x, a, weights, offset, intercept) {
  lf <- learner_fit(learner, x, a, weights, intercept = intercept, offset = offset)
  P <- if (inherits(lf, "causallib_glm_fit")) lf$fitted else learner_predict(lf, x, offset)
  check_propensity(P, length(a), levels(a))
  list(learner_fit = lf, propensity = P)
}

# The propensities of a weight model for new data (or the fitted units).
weight_model_propensity <- function(object, newdata = NULL) {
  if (is.null(newdata)) return(object$propensity)
  if (is.null(object$design)) {
    x <- check_matrix(newdata, arg = "newdata")
    if (ncol(x) != ncol(object$x)) {
      cli::cli_abort("{.arg newdata} must have the {ncol(object$x)} columns of the fitted {.arg x}.")
    }
    return(learner_predict(object$learner_fit, x))
  }
  dx <- design_x(object$design, design_newdata(object$design, newdata))
  learner_predict(object$learner_fit, dx$x, dx$offset)
}

# The treatment of new data, evaluated from the left-hand side of the
# weight model's formula.
treatment_in <- function(newdata, object) {
  lhs <- object$treatment_expr
  a <- if (!is.null(lhs)) tryCatch(eval(lhs, newdata, object$env %||% baseenv()), error = function(e) NULL)
  if (is.null(a) || length(a) != nrow(newdata)) {
    text <- if (is.null(lhs)) "the treatment" else rlang::expr_deparse(lhs)
    cli::cli_abort("{.arg newdata} must have the treatment ({.code {text}}) to predict weights.")
  }
  a <- as.character(a)
  if (!all(a %in% object$levels)) {
    cli::cli_abort("The treatment in {.arg newdata} has levels not seen in the fit.")
  }
  factor(a, levels = object$levels)
}

check_learner <- function(learner, arg = "learner") {
  if (!inherits(learner, "causallib_learner")) {
    cli::cli_abort("{.arg {arg}} must be a learner such as {.code lrn_glm()}, not {.obj_type_friendly {learner}}.")
  }
}

check_propensity <- function(P, n, lev) {
  if (!is.matrix(P) || !is.double(P) || nrow(P) != n || ncol(P) != length(lev) ||
      !.Call(C_ffi_all_finite, P) || min(P) < 0 || max(P) > 1) {
    cli::cli_abort("The treatment learner must predict an {n} x {length(lev)} matrix of probabilities.")
  }
  if (min(P) == 0) {
    cli::cli_abort(c(
      "{sum(rowSums(P == 0) > 0)} unit{?s} ha{?s/ve} a propensity of exactly 0 for some treatment level: positivity fails.",
      i = "Use {.arg clip}, the overlap estimand {.code \"ATO\"}, or restrict the population."
    ))
  }
}

# The population a weight model's estimand describes, as a weight per unit
# (times the sampling weights): everyone for the ATE, the target arm for
# the ATT and ATC, the overlap tilting for the ATO. Standardizing an outcome
# model over it gives the same estimand.
target_population <- function(wm) {
  a <- as.integer(wm$treatment)
  switch(wm$estimand,
    ATT = , ATC = as.double(a == wm$target),
    ATO = 1 / rowSums(1 / wm$propensity),
    rep(1, wm$n))
}

sw_or_one <- function(fit) {
  if (is.null(fit$sampling_weights)) rep(1, fit$n) else fit$sampling_weights
}

# Effective sample size of each arm: (sum w)^2 / sum w^2 of the weights
# times the sampling weights.
effective_sizes <- function(fit) {
  arm_ess(fit$weights * sw_or_one(fit), fit$treatment)
}

# Effective sample size, minimum and maximum weight of each arm.
weight_summary <- function(fit) {
  a <- fit$treatment
  data.frame(
    level = fit$levels, n = as.vector(table(a)),
    ess = round(effective_sizes(fit), 1),
    min_weight = signif(as.vector(tapply(fit$weights, a, min)), 3),
    max_weight = signif(as.vector(tapply(fit$weights, a, max)), 3)
  )
}

#' Summary of the weights of a weight model
#'
#' The distribution of the weights of each arm, as WeightIt's
#' `summary()` of a `weightit` object reports it: their range, the units
#' with the largest weights, their coefficient of variation (standard
#' deviation over mean), mean absolute deviation from the mean relative to
#' the mean, negative entropy \eqn{\overline{(w / \bar w) \log(w / \bar w)}},
#' the number of zero weights (unmatched units of a matching fit), and the
#' effective sample sizes \eqn{(\sum w)^2 / \sum w^2} before and after
#' weighting. Sampling weights multiply the weights throughout.
#'
#' @param fit A fitted weight model ([ipw()], [matching()]), or a doubly
#'   robust or survival model fitted with one.
#' @param top How many of the largest weights of each arm to list.
#' @return An object of class `causal_weights_summary`: a list of data
#'   frames `ranges` (per arm `treatment`, `n`, `min`, `max`), `top`
#'   (`treatment`, `row` -- the unit's row in the data -- and `weight`, the
#'   `top` largest of each arm, largest first), `statistics` (`treatment`,
#'   `coef_of_variation`, `mad`, `entropy`, `zeros`) and `sample_sizes`
#'   (`treatment`, `n`, `ess_unweighted`, `ess_weighted`).
#' @seealso [balance_table()].
#' @export
#' @examples
#' fit <- ipw(qsmk ~ sex + age + wt71 + smokeintensity, data = nhefs, estimand = "ATT")
#' weights_summary(fit)
weights_summary <- function(fit, top = 5) {
  fit <- weight_model_of(fit)
  check_count(top, "top", min = 1)
  a <- fit$treatment
  w <- fit$weights * sw_or_one(fit)
  arms <- split(seq_along(w), a)
  stats <- lapply(arms, function(i) {
    v <- w[i]
    r <- v / mean(v)
    data.frame(min = min(v), max = max(v), coef_of_variation = stats::sd(v) / mean(v),
               mad = mean(abs(r - 1)), entropy = mean(ifelse(r > 0, r * log(r), 0)), zeros = sum(v == 0))
  })
  stats <- do.call(rbind, stats)
  tops <- do.call(rbind, lapply(names(arms), function(l) {
    i <- arms[[l]]
    largest <- i[order(w[i], decreasing = TRUE)][seq_len(min(top, length(i)))]
    data.frame(treatment = l, row = fit$rows[largest], weight = w[largest], stringsAsFactors = FALSE)
  }))
  n <- as.vector(table(a))
  structure(list(
    ranges = data.frame(treatment = fit$levels, n = n, min = stats$min, max = stats$max),
    top = tops,
    statistics = data.frame(treatment = fit$levels, coef_of_variation = stats$coef_of_variation,
                            mad = stats$mad, entropy = stats$entropy, zeros = stats$zeros),
    sample_sizes = data.frame(treatment = fit$levels, n = n, ess_unweighted = arm_ess(sw_or_one(fit), a),
                              ess_weighted = arm_ess(w, a)),
    title = balance_title(fit)
  ), class = "causal_weights_summary")
}

#' @export
print.causal_weights_summary <- function(x, digits = 4, ...) {
  cat("Weights: ", x$title, "\n", sep = "")
  sections <- list(`Ranges by treatment level` = x$ranges,
                   `Largest weights (row of the data)` = x$top,
                   `Statistics (coefficient of variation, mean absolute deviation, negative entropy)` = x$statistics,
                   `Effective sample sizes` = x$sample_sizes)
  print_tables(sections, digits, gap = TRUE)
  invisible(x)
}
