#' X-learner for conditional average treatment effects
#'
#' Estimates how the effect of a treatment varies with the covariates, the
#' conditional average treatment effect (CATE)
#' \eqn{\tau(x) = E[Y(1) - Y(0) | X = x]}, with the X-learner of Künzel et
#' al. (2019), built from three kinds of ordinary learners:
#' 1. an outcome model per treatment arm, \eqn{\mu_0(x)} and \eqn{\mu_1(x)},
#'    fitted on the covariates of the units of that arm;
#' 2. imputed individual effects \eqn{D_1 = Y - \mu_0(X)} for the treated and
#'    \eqn{D_0 = \mu_1(X) - Y} for the controls, each regressed on the
#'    covariates within its arm by the effect learner, giving \eqn{\tau_1(x)}
#'    and \eqn{\tau_0(x)};
#' 3. their combination \eqn{\tau(x) = g(x) \tau_0(x) + (1 - g(x)) \tau_1(x)}
#'    with \eqn{g} the propensity score.
#'
#' A treatment with more than two levels gives one CATE per non-reference
#' level: each level against the reference (first) level, learned from the
#' units of those two arms (the propensity is then that of the level among
#' the units of the pair).
#'
#' Terms of `formula` that involve the treatment (such as interactions with
#' it) are dropped: every learner sees the covariates alone.
#'
#' @param formula A formula `outcome ~ treatment + covariates`.
#' @param outcome_learner The learner of the outcome given the covariates.
#'   By default [lrn_glm()] with a `binomial` family when the outcome only
#'   takes the values 0 and 1, and `gaussian` otherwise.
#' @param effect_learner The learner of the effect given the covariates (a
#'   regression learner; its response is an imputed or pseudo effect).
#' @param propensity_learner The treatment learner, a classifier of the
#'   treatment given the covariates.
#' @inheritParams standardization
#' @return An object of class `causallib_cate`: see [predict.causallib_cate()]
#'   for the CATEs and [estimate_effect()] for their average.
#' @references Künzel SR, Sekhon JS, Bickel PJ, Yu B (2019). Metalearners for
#'   estimating heterogeneous treatment effects using machine learning.
#'   *Proceedings of the National Academy of Sciences* 116(10), 4156-4165.
#' @seealso [rlearner()], [standardization()] with `stratified = TRUE` (the
#'   T-learner).
#' @export
#' @examples
#' fit <- xlearner(wt82_71 ~ qsmk + sex + age + wt71, data = nhefs,
#'                 treatment = qsmk, na_action = "omit")
#' fit
#' head(predict(fit))
#' predict(fit, newdata = data.frame(sex = "female", age = c(30, 60), wt71 = 70))
xlearner <- function(formula, data, treatment, outcome_learner = NULL,
                     propensity_learner = lrn_glm(), effect_learner = lrn_glm("gaussian"),
                     weights = NULL, na_action = "fail") {
  check_formula(formula)
  treatment <- treatment_name(rlang::enquo(treatment), formula)
  d <- new_design(formula, data, treatment, rlang::enquo(weights), na_action, parent.frame())
  learners <- cate_learners(outcome_learner, effect_learner, propensity_learner, d$response)
  fit <- cate_engine("xlearner", d, learners, NULL)
  with_front_end(fit, d, match.call(), parent.frame(), nrow(data))
}

#' R-learner for conditional average treatment effects
#'
#' Estimates the conditional average treatment effect \eqn{\tau(x)} of a
#' binary treatment with the R-learner of Nie & Wager (2021). The marginal
#' outcome model \eqn{m(x) = E[Y | X = x]} and the propensity score
#' \eqn{e(x)} are cross-fitted: each unit's \eqn{m} and \eqn{e} come from
#' learners fitted on the other folds. The effect learner then regresses the
#' pseudo-outcome \eqn{(Y - m(X)) / (A - e(X))} on the covariates with
#' weights \eqn{(A - e(X))^2} (times the sampling weights), which minimizes
#' the R-loss \eqn{\sum_i [Y_i - m(X_i) - (A_i - e(X_i)) \tau(X_i)]^2}.
#'
#' The folds are `sample(rep_len(seq_len(crossfit), n))`, drawn with R's
#' random number generator, so [set.seed()] reproduces them; they are kept
#' in `fit$models$folds`, with the cross-fitted `m` and `e`.
#'
#' @param crossfit Number of cross-fitting folds.
#' @inheritParams xlearner
#' @return An object of class `causallib_cate`: see [predict.causallib_cate()]
#'   for the CATEs and [estimate_effect()] for their average.
#' @references Nie X, Wager S (2021). Quasi-oracle estimation of
#'   heterogeneous treatment effects. *Biometrika* 108(2), 299-319.
#' @seealso [xlearner()]
#' @export
#' @examples
#' set.seed(1)
#' fit <- rlearner(wt82_71 ~ qsmk + sex + age + wt71, data = nhefs,
#'                 treatment = qsmk, na_action = "omit")
#' fit
#' summary(predict(fit))
rlearner <- function(formula, data, treatment, outcome_learner = NULL,
                     propensity_learner = lrn_glm(), effect_learner = lrn_glm("gaussian"),
                     crossfit = 5, weights = NULL, na_action = "fail") {
  check_formula(formula)
  treatment <- treatment_name(rlang::enquo(treatment), formula)
  d <- new_design(formula, data, treatment, rlang::enquo(weights), na_action, parent.frame())
  check_rlearner(d, crossfit)
  learners <- cate_learners(outcome_learner, effect_learner, propensity_learner, d$response)
  fit <- cate_engine("rlearner", d, learners, as.integer(crossfit))
  with_front_end(fit, d, match.call(), parent.frame(), nrow(data))
}

cate_learners <- function(outcome, effect, propensity, y) {
  outcome <- outcome %||% default_outcome_learner(y)
  check_learner(outcome, "outcome_learner")
  check_learner(effect, "effect_learner")
  check_treatment_learner(propensity, "propensity_learner")
  list(outcome = outcome, effect = effect, propensity = propensity)
}

#' @describeIn xlearner Matrix interface: `x` is a numeric covariate matrix,
#'   `a` the treatment and `y` the outcome.
#' @param x A numeric covariate matrix (or data frame of numeric columns).
#' @param a The treatment: a factor, or numeric, logical or character codes.
#' @param y The outcome, numeric or logical.
#' @export
xlearner_fit <- function(x, a, y, outcome_learner = NULL, propensity_learner = lrn_glm(),
                         effect_learner = lrn_glm("gaussian"), weights = NULL) {
  d <- matrix_design(x, a, y, weights)
  learners <- cate_learners(outcome_learner, effect_learner, propensity_learner, d$response)
  fit <- cate_engine("xlearner", d, learners, NULL)
  fit$call <- match.call()
  fit
}

#' @describeIn rlearner Matrix interface: `x` is a numeric covariate matrix,
#'   `a` the binary treatment and `y` the outcome.
#' @param x A numeric covariate matrix (or data frame of numeric columns).
#' @param a The binary treatment.
#' @param y The outcome, numeric or logical.
#' @export
rlearner_fit <- function(x, a, y, outcome_learner = NULL, propensity_learner = lrn_glm(),
                         effect_learner = lrn_glm("gaussian"), crossfit = 5, weights = NULL) {
  d <- matrix_design(x, a, y, weights)
  check_rlearner(d, crossfit)
  learners <- cate_learners(outcome_learner, effect_learner, propensity_learner, d$response)
  fit <- cate_engine("rlearner", d, learners, as.integer(crossfit))
  fit$call <- match.call()
  fit
}

# The R-learner needs a binary treatment and at least two folds.
check_rlearner <- function(d, crossfit) {
  treatment <- d$design$treatment
  nlev <- nlevels(as_treatment(d$design$vars[[treatment]], "treatment"))
  if (nlev != 2L) {
    cli::cli_abort(c(
      "{.fn rlearner} needs a binary {.arg treatment}; {.val {treatment}} has {nlev} levels.",
      i = "Use {.fn xlearner} for a treatment with more levels."
    ))
  }
  check_count(crossfit, "crossfit", min = 2, max = length(d$response))
}

# A CATE model of `method` on a design (new_design()): every learner sees
# the covariate design, the formula's terms without those involving the
# treatment.
cate_engine <- function(method, d, learners, crossfit) {
  design <- d$design
  a <- as_treatment(design$vars[[design$treatment]], "treatment")
  y <- check_outcome(d$response, length(a))
  weights <- as_sampling_weights(d$weights, length(a))
  check_arms_nonempty(a, weights)
  covariates <- covariate_design(design)
  cx <- design_x(covariates)
  if (!is.null(cx$offset)) {
    cli::cli_abort("{.fn {method}} does not take {.code offset()} terms: its effect learners model differences of outcomes.")
  }
  fit <- list(
    method = method, treatment_name = design$treatment, treatment = a, levels = levels(a),
    y = y, x = cx$x, design = design, covariates = covariates, sampling_weights = weights,
    n = length(y), rows = seq_along(y), learners = learners, crossfit = crossfit,
    estimand = "ATE"
  )
  fit$models <- cate_models(fit, fit$x, fit$y, fit$treatment, fit$sampling_weights)
  fit$cate <- cate_predict(fit, fit$x)
  class(fit) <- c("causallib_cate", "causallib_model")
  fit
}

#' @export
refit.causallib_cate <- function(fit, case_weights = NULL, rows = NULL, learner = NULL) {
  if (!is.null(learner)) {
    cli::cli_abort("A CATE model has several learners: refit it with {.fn {fit$method}} instead.")
  }
  u <- refit_units(fit, case_weights, rows)
  design <- design_rows(fit$design, u$rows)
  d <- list(design = design, response = fit$y[u$rows], weights = u$weights)
  keep_front_end(cate_engine(fit$method, d, fit$learners, fit$crossfit), fit, u$rows)
}

#' @export
means.causallib_cate <- function(fit, y = NULL) cate_average(fit$cate, sw_or_one(fit))

#' @export
statistic_kind.causallib_cate <- function(fit) "effects"

#' @export
default_se.causallib_cate <- function(fit) "bootstrap"

#' @export
model_label.causallib_cate <- function(fit) cate_labels[[fit$method]]

# The learners of `fit`'s method fitted to (x, y, a, weights).
cate_models <- function(fit, x, y, a, weights) {
  switch(fit$method,
    xlearner = xl_engine(x, y, a, weights, fit$learners),
    rlearner = rl_engine(x, y, a, weights, fit$learners, crossfit_folds(fit$crossfit, length(y)))
  )
}

# n x (K - 1) matrix of CATEs at the covariate design x, one column per
# non-reference level.
cate_predict <- function(fit, x, models = fit$models) {
  tau <- switch(fit$method,
    xlearner = xl_cate(models, x),
    rlearner = matrix(learner_mean(models$effect, x), nrow(x))
  )
  colnames(tau) <- cate_terms(fit$levels)
  tau
}

cate_terms <- function(lev) paste(lev[-1L], "vs", lev[1L])

# A learner fitted to the rows of x, y and weights flagged by `rows`.
fit_rows <- function(learner, x, y, weights, rows) {
  learner_fit(learner, x[rows, , drop = FALSE], y[rows], weights[rows])
}

# Predicted mean of a fitted learner; for a two-level factor response, the
# probability of the second level.
learner_mean <- function(object, x) {
  pred <- learner_predict(object, x)
  if (is.matrix(pred)) pred[, 2L] else pred
}

xl_engine <- function(x, y, a, weights, learners) {
  arm <- as.integer(a)
  models <- list(levels = levels(a))
  models$outcome <- lapply(seq_along(models$levels), function(k) {
    fit_rows(learners$outcome, x, y, weights, arm == k)
  })
  mu <- xl_outcomes(models, x)
  models$effects <- lapply(seq_along(models$levels)[-1L], function(k) {
    xl_effects(x, y, arm, weights, mu, k, learners)
  })
  models
}

# n x K matrix of the stage-1 predictions, one column per treatment level.
xl_outcomes <- function(models, x) {
  mu <- vapply(models$outcome, learner_mean, numeric(nrow(x)), x = x)
  matrix(mu, nrow(x), dimnames = list(NULL, models$levels))
}

# Stage 2 for level k against the reference level: effect models of the
# imputed effects in each of the two arms, and the propensity of k within
# the pair.
xl_effects <- function(x, y, arm, weights, mu, k, learners) {
  treated <- arm == k
  control <- arm == 1L
  d <- ifelse(treated, y - mu[, 1L], mu[, k] - y)
  list(
    control = fit_rows(learners$effect, x, d, weights, control),
    treated = fit_rows(learners$effect, x, d, weights, treated),
    propensity = fit_rows(learners$propensity, x, factor(treated, levels = c(FALSE, TRUE)),
                          weights, treated | control)
  )
}

xl_cate <- function(models, x) {
  tau <- vapply(models$effects, function(e) {
    g <- learner_mean(e$propensity, x)
    g * learner_mean(e$control, x) + (1 - g) * learner_mean(e$treated, x)
  }, numeric(nrow(x)))
  matrix(tau, nrow(x))
}

rl_engine <- function(x, y, a, weights, learners, folds) {
  m <- crossfit_mean(learners$outcome, x, y, weights, folds)
  e <- crossfit_mean(learners$propensity, x, a, weights, folds)
  if (any(e <= 0 | e >= 1)) {
    cli::cli_abort(c(
      "{sum(e <= 0 | e >= 1)} unit{?s} ha{?s/ve} a cross-fitted propensity of 0 or 1: positivity fails.",
      i = "The R-learner's pseudo-outcome divides by the treatment residual, which is then 0."
    ))
  }
  resid <- (as.integer(a) == 2L) - e
  effect <- learner_fit(learners$effect, x, (y - m) / resid, (weights %||% 1) * resid^2)
  list(effect = effect, m = m, e = e, folds = folds)
}

# Out-of-fold predicted means: each fold's from the learner fitted on the
# other folds.
crossfit_mean <- function(learner, x, y, weights, folds) {
  out <- numeric(length(y))
  for (k in unique(folds)) {
    held <- folds == k
    out[held] <- learner_mean(fit_rows(learner, x, y, weights, !held), x[held, , drop = FALSE])
  }
  out
}

cate_labels <- c(xlearner = "X-learner", rlearner = "R-learner")
learner_roles <- c(outcome = "Outcome learner:", effect = "Effect learner:",
                   propensity = "Propensity learner:")

#' @export
print_details.causallib_cate <- function(x, ...) {
  for (role in names(x$learners)) {
    cat(learner_roles[[role]], learner_label(x$learners[[role]]), fill = TRUE)
  }
  if (!is.null(x$crossfit)) cat("Cross-fitting:", x$crossfit, "folds\n")
  print_tables(summary_tables(x), digits = 4)
}

#' Conditional and average effects of a CATE model
#'
#' `predict()` gives each unit's conditional average treatment effect (CATE)
#' from an [xlearner()] or [rlearner()] fit, or, for the X-learner, its
#' stage-1 potential-outcome predictions. `estimate_effect()` averages the
#' CATEs over the sample (with the sampling weights) into the average
#' treatment effect, with bootstrap percentile intervals: each replicate
#' refits every learner (re-drawing the cross-fitting folds of an R-learner)
#' on a resample drawn with R's random number generator, so [set.seed()]
#' reproduces the interval.
#'
#' `estimate_effect(fit, contrast = "diff", se = "bootstrap", R = 1000)` is
#' the common [estimate_effect()]; CATE models have no sandwich standard
#' errors and estimate differences only.
#'
#' @param object A fitted [xlearner()] or [rlearner()].
#' @param newdata Optional data frame with the covariates (the treatment and
#'   outcome columns are not needed).
#' @param type `"cate"`, or `"potential_outcomes"` (X-learner only).
#' @param ... Unused.
#' @return `predict()`: for `"cate"`, a vector (binary treatment) or a matrix
#'   with one column per non-reference level (named like `"2 vs 1"`); for
#'   `"potential_outcomes"`, a matrix with one column per treatment level.
#'   `estimate_effect()`: a `causal_estimate` (see [estimate_effect()]).
#' @export
#' @examples
#' fit <- xlearner(wt82_71 ~ qsmk + sex + age + wt71, data = nhefs,
#'                 treatment = qsmk, na_action = "omit")
#' predict(fit, newdata = nhefs[1:3, c("sex", "age", "wt71")])
#' head(predict(fit, type = "potential_outcomes"))
#' set.seed(1)
#' estimate_effect(fit, R = 50)
predict.causallib_cate <- function(object, newdata = NULL, type = "cate", ...) {
  rlang::check_dots_empty()
  type <- rlang::arg_match0(type, c("cate", "potential_outcomes"), "type")
  if (type == "potential_outcomes" && object$method != "xlearner") {
    cli::cli_abort("{.code type = \"potential_outcomes\"} is available for {.fn xlearner} fits only.")
  }
  x <- object$x
  if (!is.null(newdata)) {
    x <- design_x(object$covariates, design_newdata(object$covariates, newdata))$x
  }
  if (type == "potential_outcomes") return(xl_outcomes(object$models, x))
  tau <- if (is.null(newdata)) object$cate else cate_predict(object, x)
  if (ncol(tau) == 1L) tau[, 1L] else tau
}

cate_average <- function(tau, w) colSums(w * tau) / sum(w)
