#' Outcome-model standardization (the parametric g-formula)
#'
#' An outcome model: a learner of `outcome ~ treatment + covariates`
#' predicts every unit's outcome under each treatment level, and the
#' predictions are averaged over the sample (standardized): over everyone
#' for the ATE, over the treated for the ATT and over the controls for the
#' ATC. With
#' `stratified = TRUE` one model per treatment level is fitted on the
#' covariates (a T-learner); otherwise one model includes the treatment (an
#' S-learner), with whatever interactions the formula gives it.
#'
#' @param formula A formula `outcome ~ treatment + covariates`.
#' @param data A data frame.
#' @param treatment The treatment variable: its name as a string or a bare
#'   name. It must appear in `formula`.
#' @param stratified Fit one model per treatment level?
#' @param learner The outcome learner. By default [lrn_glm()] with a
#'   `binomial` family when the outcome only takes the values 0 and 1, and
#'   `gaussian` otherwise.
#' @param estimand `"ATE"` (average the predictions over everyone), `"ATT"`
#'   (over the treated: the `treated` level) or `"ATC"` (over the controls).
#'   Sandwich intervals stack the outcome model's score equations with those
#'   of the means over that subset.
#' @inheritParams ipw
#' @return An object of class `causallib_standardization`.
#' @seealso [estimate_effect()], [predict.causallib_standardization()]
#' @export
#' @examples
#' fit <- standardization(
#'   wt82_71 ~ qsmk + sex + race + age + I(age^2) + education +
#'     smokeintensity + I(smokeintensity^2) + smokeyrs + I(smokeyrs^2) +
#'     exercise + active + wt71 + I(wt71^2) + qsmk:smokeintensity,
#'   data = nhefs, treatment = "qsmk", na_action = "omit")
#' fit
#' estimate_effect(fit)
#'
#' # The effect in the treated (g-computation averaged over the quitters)
#' att <- standardization(wt82_71 ~ qsmk * (sex + age + wt71), data = nhefs,
#'                        treatment = qsmk, estimand = "ATT", na_action = "omit")
#' estimate_effect(att)
standardization <- function(formula, data, treatment, stratified = FALSE,
                            learner = NULL, weights = NULL, estimand = "ATE", treated = NULL,
                            na_action = "fail", cluster = NULL) {
  check_formula(formula)
  treatment <- treatment_name(rlang::enquo(treatment), formula)
  estimand <- std_estimand(estimand)
  d <- new_design(formula, data, treatment, rlang::enquo(weights), na_action, parent.frame())
  a <- as_treatment(d$design$vars[[treatment]], "treatment")
  y <- check_outcome(d$response, length(a))
  fit <- std_engine(d$design, d$x, d$offset, a, y, check_bool(stratified, "stratified"),
                    learner, d$weights, estimand = estimand, treated = treated)
  fit <- with_cluster(fit, rlang::enquo(cluster), data, d$rows)
  with_front_end(fit, d, match.call(), parent.frame(), nrow(data))
}

#' @describeIn standardization Matrix interface: `x` is a numeric covariate
#'   matrix, `a` the treatment and `y` the outcome; the outcome model's design
#'   is the treatment's indicators followed by `x` (`stratified = FALSE`), or
#'   `x` alone in each arm.
#' @param x A numeric covariate matrix (or data frame of numeric columns).
#' @param a The treatment: a factor, or numeric, logical or character codes.
#' @param y The outcome, numeric or logical.
#' @export
standardization_fit <- function(x, a, y, stratified = FALSE, learner = NULL, weights = NULL,
                                estimand = "ATE", treated = NULL, cluster = NULL) {
  estimand <- std_estimand(estimand)
  d <- matrix_design(x, a, y)
  a <- as_treatment(d$design$vars$.treatment, "a")
  fit <- std_engine(d$design, d$x, d$offset, a, d$response, check_bool(stratified, "stratified"),
                    learner, weights, estimand = estimand, treated = treated)
  fit <- with_cluster(fit, cluster, NULL, n_data = fit$n)
  fit$call <- match.call()
  fit
}

std_estimand <- function(estimand) {
  rlang::arg_match0(estimand, c("ATE", "ATT", "ATC"), "estimand")
}

# An outcome model of y on the design (the covariate design when
# stratified), fitted with sampling weights times any prior weights (the IP
# weights of weighted standardization), and its potential outcomes averaged
# over the population weights: the target population of a weight model, or
# the estimand's (everyone for the ATE, the units of the target level for
# the ATT and ATC).
std_engine <- function(design, x, offset, a, y, stratified, learner, weights,
                       prior_weights = NULL, population = NULL, estimand = "ATE",
                       treated = NULL) {
  weights <- as_sampling_weights(weights, length(a))
  check_arms_nonempty(a, weights)
  target <- estimand_target(estimand, levels(a), treated)
  if (is.null(population) && estimand != "ATE") population <- as.double(as.integer(a) == target)
  learner <- learner %||% default_outcome_learner(y)
  check_learner(learner)
  fit <- list(design = design, treatment = a, levels = levels(a),
              treatment_name = design$treatment, y = y, stratified = stratified,
              learner = learner, sampling_weights = weights, prior_weights = prior_weights,
              population = population, n = length(y), rows = seq_along(y), estimand = estimand,
              target = target, treated = treated)
  if (stratified) {
    fit$covariates <- covariate_design(design)
    cx <- design_x(fit$covariates)
    x <- cx$x
    offset <- cx$offset
  }
  fit$x <- x
  fit$offset <- offset
  class(fit) <- c("causallib_standardization", "causallib_outcome_model", "causallib_model")
  fit$learner_fit <- fit_outcome_learners(fit)
  fit$potential_outcomes <- std_potential_outcomes(fit)
  fit
}

# The weights the outcome learner is fitted with.
std_fit_weights <- function(fit) {
  if (is.null(fit$prior_weights)) return(fit$sampling_weights)
  (fit$sampling_weights %||% 1) * fit$prior_weights
}

# The weights its potential outcomes are averaged with.
std_average_weights <- function(fit) {
  sw <- sw_or_one(fit)
  if (is.null(fit$population)) sw else sw * fit$population
}

# The outcome learner (one per arm when stratified) fitted to fit$x, fit$y.
fit_outcome_learners <- function(fit) {
  w <- std_fit_weights(fit)
  if (!fit$stratified) {
    return(learner_fit(fit$learner, fit$x, fit$y, w, offset = fit$offset))
  }
  lapply(seq_along(fit$levels), function(k) {
    rows <- as.integer(fit$treatment) == k
    learner_fit(fit$learner, fit$x[rows, , drop = FALSE], fit$y[rows], w[rows],
                offset = fit$offset[rows])
  })
}

default_outcome_learner <- function(y) {
  lrn_glm(if (all(y %in% c(0, 1))) "binomial" else "gaussian")
}

# The designs (matrix and offset) the learners predict the potential
# outcomes from, for raw variables `data`: one per treatment level (the
# treatment set to it), or the covariate design shared by the arms' models.
std_designs <- function(fit, data = fit$design$vars) {
  if (fit$stratified) return(list(design_x(fit$covariates, data)))
  design_levels(fit$design, fit$levels, data)
}

# n x K matrix of predicted potential outcomes for the units of `data`.
std_potential_outcomes <- function(fit, data = fit$design$vars) {
  designs <- std_designs(fit, data)
  n <- nrow(designs[[1L]]$x)
  out <- vapply(seq_along(fit$levels), function(k) {
    if (fit$stratified) {
      learner_predict(fit$learner_fit[[k]], designs[[1L]]$x, designs[[1L]]$offset)
    } else {
      learner_predict(fit$learner_fit, designs[[k]]$x, designs[[k]]$offset)
    }
  }, numeric(n))
  matrix(out, n, dimnames = list(NULL, fit$levels))
}

#' @export
refit.causallib_standardization <- function(fit, case_weights = NULL, rows = NULL,
                                            learner = NULL) {
  u <- refit_units(fit, case_weights, rows)
  r <- u$rows
  design <- design_rows(fit$design, r)
  x <- if (fit$stratified) NULL else fit$x[r, , drop = FALSE]
  out <- std_engine(design, x, fit$offset[r], fit$treatment[r], fit$y[r], fit$stratified,
                    learner %||% fit$learner, u$weights, fit$prior_weights[r], fit$population[r],
                    fit$estimand, fit$treated)
  keep_front_end(out, fit, r)
}

#' @export
means.causallib_standardization <- function(fit, y = NULL) {
  w <- std_average_weights(fit)
  colSums(w * fit$potential_outcomes) / sum(w)
}

#' @export
model_label.causallib_standardization <- function(fit) "standardization"

#' Predicted potential outcomes of an outcome model
#'
#' @param object A fitted [standardization()] model.
#' @param newdata Optional data frame with the covariates (the treatment
#'   column is not needed: it is set to each level in turn).
#' @param type `"potential_outcomes"`: a matrix with one column per
#'   treatment level.
#' @param ... Unused.
#' @return A numeric matrix, one row per unit and one column per treatment level.
#' @export
#' @examples
#' fit <- standardization(death ~ qsmk + sex + age + wt71, data = nhefs,
#'                        treatment = qsmk)
#' head(predict(fit))
#' predict(fit, newdata = nhefs[1:3, ])
predict.causallib_standardization <- function(object, newdata = NULL,
                                              type = "potential_outcomes", ...) {
  rlang::check_dots_empty()
  rlang::arg_match0(type, "potential_outcomes", "type")
  if (is.null(newdata)) return(object$potential_outcomes)
  std_potential_outcomes(object, outcome_newdata(object, newdata))
}

# New data for an outcome model: needs the formula's variables, except the
# treatment, which predictions set to each level in turn.
outcome_newdata <- function(object, newdata) {
  if (is.null(object$design$vars)) {
    cli::cli_abort("{.arg newdata} needs a model fitted through a formula.")
  }
  design_newdata(object$design, newdata)
}

# The stacked outcome-model and standardization equations.
#' @export
estfun_parts.causallib_standardization <- function(fit, y = NULL) {
  if (!is.null(fit$prior_weights)) {
    cli::cli_abort(c(
      "Sandwich standard errors of an outcome model fitted with estimated weights are not available.",
      i = "Use {.code se = \"bootstrap\"}."
    ))
  }
  w_avg <- std_average_weights(fit)
  mu <- means(fit)
  K <- length(fit$levels)
  Psi <- w_avg * sweep(fit$potential_outcomes, 2L, mu)
  D_mm <- diag(-sum(w_avg), K)
  sw <- fit$sampling_weights
  if (fit$stratified) {
    lapply(fit$learner_fit, require_glm_learner)
    a <- as.integer(fit$treatment)
    parts <- lapply(seq_len(K), function(k) {
      glm_score_parts(fit$learner_fit[[k]], fit$x, fit$y, sw_or_one(fit) * (a == k), fit$offset)
    })
    score <- bind_score_parts(parts)
    # Arm k's mean depends only on arm k's model: block b, target k is
    # nonzero for b == k alone.
    C <- matrix(0, fit$n, K * K)
    for (k in seq_len(K)) {
      C[, (k - 1L) * K + k] <- w_avg * mean_derivative(fit$learner_fit[[k]], fit$x, fit$offset)
    }
    return(list(x = fit$x, score = score, Psi = Psi, D_mm = D_mm, C = C))
  }
  lf <- fit$learner_fit
  require_glm_learner(lf)
  score <- glm_score_parts(lf, fit$x, fit$y, sw, fit$offset)
  D_mb <- do.call(rbind, lapply(std_designs(fit), function(dk) {
    t(xt_mat(dk$x, w_avg * mean_derivative(lf, dk$x, dk$offset), lf$intercept, score$center))
  }))
  list(x = fit$x, score = score, Psi = Psi, D_mm = D_mm, D_mb = D_mb)
}

# d mean / d eta of a fitted GLM learner at the rows of x.
mean_derivative <- function(lf, x, offset = NULL) {
  glm_mu_eta(lf$family, drop(linear_predictor(lf, x, offset)))
}

# The C bootstrap refits the GLM(s) and averages their predictions on the
# counterfactual designs (with their offsets); prior or population weights
# and other learners refit in R.
#' @export
boot_description.causallib_standardization <- function(fit, y = NULL) {
  check_outcome_model_fields(fit)
  lfs <- if (fit$stratified) fit$learner_fit else list(fit$learner_fit)
  glm <- all(vapply(lfs, inherits, logical(1), what = "causallib_glm_fit"))
  if (!glm || !is.null(fit$prior_weights) || !is.null(fit$population)) {
    return(NULL)
  }
  lrn <- fit$learner
  cf <- if (!fit$stratified) std_designs(fit)
  list(routine = C_ffi_std_bootstrap, args = list(
    X = fit$x, intercept = FALSE, offset = fit$offset, y = fit$y, sw = sw_or_one(fit),
    a = as.integer(fit$treatment), K = length(fit$levels), stratified = fit$stratified,
    designs = lapply(cf, `[[`, "x"), offsets = if (!is.null(cf)) lapply(cf, `[[`, "offset"),
    counts = NULL, family = glm_family_codes[[lrn$family]], maxit = lrn$maxit,
    epsilon = lrn$epsilon, penalty = glm_penalty(lrn, fit$x), nthreads = NULL))
}
