#' Outcome-model standardization (the parametric g-formula)
#'
#' An outcome model: a learner of `outcome ~ treatment + covariates`
#' predicts every unit's outcome under each treatment level, and the
#' predictions are averaged over the sample (standardized). With
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
standardization <- function(formula, data, treatment, stratified = FALSE,
                            learner = NULL, weights = NULL, na_action = "fail") {
  treatment <- treatment_name(rlang::enquo(treatment), formula)
  fr <- build_frame(formula, data, weights, na_action, parent.frame())
  y <- check_outcome(stats::model.response(fr$frame), nrow(fr$frame))
  a <- as_treatment(fr$frame[[treatment]], "treatment")
  weights <- check_weights(fr$weights, length(a))
  check_arms_nonempty(a, weights)
  learner <- learner %||% default_outcome_learner(y)
  check_learner(learner)

  fit <- list(treatment_name = treatment, treatment = a, levels = levels(a), y = y,
              stratified = isTRUE(stratified), learner = learner,
              sampling_weights = weights, n = length(y), call = match.call(),
              rows = fr$rows, na.action = fr$omitted, estimand = "ATE")
  fit$terms <- if (fit$stratified) covariate_terms(fr$terms, treatment) else fr$terms
  fit$xlevels <- stats::.getXlevels(fit$terms, fr$frame)
  x <- design_matrix(fit$terms, fr$frame)
  fit$contrasts <- attr(x, "contrasts")
  fit$x <- x
  fit$frame <- fr$frame
  fit$learner_fit <- fit_outcome_learners(fit)
  fit$potential_outcomes <- std_predict(fit, fr$frame)
  class(fit) <- c("causallib_standardization", "causallib_outcome_model", "causallib_model")
  fit
}

# The outcome learner (one per arm when stratified) fitted to fit$x, fit$y.
fit_outcome_learners <- function(fit) {
  if (!fit$stratified) return(learner_fit(fit$learner, fit$x, fit$y, fit$sampling_weights))
  lapply(seq_along(fit$levels), function(k) {
    rows <- as.integer(fit$treatment) == k
    learner_fit(fit$learner, fit$x[rows, , drop = FALSE], fit$y[rows], fit$sampling_weights[rows])
  })
}

treatment_name <- function(quo, formula) {
  if (rlang::quo_is_missing(quo) || rlang::quo_is_null(quo)) {
    cli::cli_abort("{.arg treatment} is required: name the treatment variable of {.arg formula}.")
  }
  expr <- rlang::quo_get_expr(quo)
  name <- if (is.character(expr)) expr else if (rlang::is_symbol(expr)) rlang::as_string(expr) else NA
  if (length(name) != 1L || is.na(name)) {
    cli::cli_abort("{.arg treatment} must be a single variable name.")
  }
  if (!name %in% all.vars(formula[[3L]])) {
    cli::cli_abort("{.arg treatment} {.val {name}} does not appear on the right-hand side of {.arg formula}.")
  }
  name
}

default_outcome_learner <- function(y) {
  lrn_glm(if (all(y %in% c(0, 1))) "binomial" else "gaussian")
}

# Terms of the covariates alone: every term involving the treatment dropped.
covariate_terms <- function(terms, treatment) {
  fac <- attr(terms, "factors")
  involves <- if (treatment %in% rownames(fac)) fac[treatment, ] > 0 else logical(ncol(fac))
  if (all(involves)) {
    tt <- stats::terms(stats::update(stats::formula(terms), . ~ 1))
    attr(tt, "predvars") <- NULL
    return(tt)
  }
  if (!any(involves)) return(terms)
  stats::drop.terms(terms, which(involves), keep.response = TRUE)
}

# Frame with the treatment set to level k for everyone, of the same type as
# the observed treatment column.
set_treatment <- function(frame, name, level) {
  col <- frame[[name]]
  frame[[name]] <- if (is.factor(col)) {
    factor(rep(level, nrow(frame)), levels = levels(col))
  } else if (is.logical(col)) {
    rep(as.logical(level), nrow(frame))
  } else if (is.numeric(col)) {
    rep(as.numeric(level), nrow(frame))
  } else {
    rep(level, nrow(frame))
  }
  frame
}

# Design matrix per treatment level (the S-learner's counterfactual designs).
counterfactual_designs <- function(fit, frame) {
  lapply(fit$levels, function(lev) {
    design_matrix(fit$terms, set_treatment(frame, fit$treatment_name, lev), fit$contrasts)
  })
}

# n x K matrix of predicted potential outcomes for the units of `frame`.
std_predict <- function(fit, frame) {
  designs <- if (fit$stratified) {
    list(design_matrix(fit$terms, frame, fit$contrasts))
  } else {
    counterfactual_designs(fit, frame)
  }
  out <- potential_outcome_matrix(fit$learner_fit, designs, fit$stratified)
  colnames(out) <- fit$levels
  out
}

# Predictions of the fitted learner(s) `lf`: of each arm's model on one
# shared design (stratified), or of one model on each arm's counterfactual
# design.
potential_outcome_matrix <- function(lf, designs, stratified) {
  n <- nrow(designs[[1L]])
  out <- if (stratified) {
    vapply(lf, learner_predict, numeric(n), x = designs[[1L]])
  } else {
    vapply(designs, learner_predict, numeric(n), object = lf)
  }
  matrix(out, n)
}

#' @export
print.causallib_standardization <- function(x, ...) {
  cat("<causallib_standardization> outcome-model standardization",
      if (x$stratified) "(one model per treatment level)" else "(one model with the treatment)", "\n")
  cat("Treatment:", x$treatment_name, "with levels", paste(x$levels, collapse = ", "), "\n")
  print(x$learner)
  cat("Observations:", x$n, "\n")
  if (length(x$na.action)) cat(length(x$na.action), "rows with missing values were dropped\n")
  invisible(x)
}

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
  rlang::arg_match0(type, "potential_outcomes", "type")
  if (is.null(newdata)) return(object$potential_outcomes)
  std_predict(object, std_newdata_frame(object, newdata))
}

# The model frame of newdata for an outcome model; the treatment column is
# optional, since predictions set it to each level in turn.
std_newdata_frame <- function(object, newdata) {
  check_data_frame(newdata, "newdata")
  if (!object$treatment_name %in% names(newdata)) {
    newdata[[object$treatment_name]] <- object$frame[[object$treatment_name]][1L]
  }
  frame <- new_frame(object$terms, newdata, object$xlevels)
  if (!object$treatment_name %in% names(frame)) {
    frame[[object$treatment_name]] <- newdata[[object$treatment_name]]
  }
  frame
}

#' @rdname estimate_outcomes
#' @export
estimate_outcomes.causallib_standardization <- function(fit, outcome = NULL, se = "sandwich",
                                                        R = 1000, conf_level = 0.95, ...) {
  se <- rlang::arg_match0(se, c("sandwich", "bootstrap", "none"), "se")
  sw <- sw_or_one(fit)
  mu <- colSums(sw * fit$potential_outcomes) / sum(sw)
  V <- reps <- NULL
  if (se == "sandwich") V <- std_sandwich(fit, mu)
  if (se == "bootstrap") reps <- std_bootstrap(fit, R)
  new_causal_estimate(mu, V, reps, se, conf_level, fit)
}

std_sandwich <- function(fit, mu) {
  sw <- sw_or_one(fit)
  K <- length(fit$levels)
  Yhat <- fit$potential_outcomes
  Psi <- sw * sweep(Yhat, 2L, mu)
  D_mm <- diag(-sum(sw), K)
  if (fit$stratified) {
    lapply(fit$learner_fit, require_glm_learner)
    a <- as.integer(fit$treatment)
    parts <- lapply(seq_len(K), function(k) {
      glm_score_parts(fit$learner_fit[[k]], fit$x, fit$y, sw * (a == k))
    })
    score <- bind_score_parts(parts)
    # Arm k's mean depends only on arm k's model: block b, target k is
    # nonzero for b == k alone.
    C <- matrix(0, fit$n, K * K)
    for (k in seq_len(K)) {
      C[, (k - 1L) * K + k] <- sw * mean_derivative(fit$learner_fit[[k]], fit$x)
    }
    V <- stacked_vcov(fit$x, score, Psi, D_mm, C = C)
  } else {
    lf <- fit$learner_fit
    require_glm_learner(lf)
    score <- glm_score_parts(lf, fit$x, fit$y, fit$sampling_weights)
    D_mb <- do.call(rbind, lapply(counterfactual_designs(fit, fit$frame), function(xk) {
      t(xt_mat(xk, sw * mean_derivative(lf, xk)))
    }))
    V <- stacked_vcov(fit$x, score, Psi, D_mm, D_mb = D_mb)
  }
  dimnames(V) <- list(fit$levels, fit$levels)
  V
}

# d mean / d eta of a fitted GLM learner at the rows of x.
mean_derivative <- function(lf, x) {
  glm_mu_eta(lf$family, drop(linear_predictor(lf, x)))
}

std_bootstrap <- function(fit, R) {
  lfs <- if (fit$stratified) fit$learner_fit else list(fit$learner_fit)
  glm <- all(vapply(lfs, inherits, logical(1), what = "causallib_glm_fit"))
  designs <- if (fit$stratified) list(fit$x) else counterfactual_designs(fit, fit$frame)
  refit <- if (glm) {
    function(counts) std_bootstrap_glm(fit, designs, counts)
  } else {
    function(counts) bootstrap_in_r(counts, length(fit$levels), std_replicate,
                                    fit = fit, designs = designs)
  }
  reps <- run_bootstrap(fit$n, R, refit)
  colnames(reps) <- fit$levels
  reps
}

std_bootstrap_glm <- function(fit, designs, counts) {
  lrn <- fit$learner
  .Call(C_ffi_std_bootstrap, fit$x, FALSE, fit$y, sw_or_one(fit), as.integer(fit$treatment),
        length(fit$levels), fit$stratified, if (fit$stratified) NULL else designs, counts,
        glm_family_codes[[lrn$family]], lrn$maxit, lrn$epsilon,
        glm_penalty(lrn, fit$x), causallib_threads())
}

# Standardized means of one resample (frequency counts): the learner(s)
# refitted in R with case weights counts * sampling weights, and their
# predictions averaged with the same weights.
std_replicate <- function(counts, fit, designs) {
  fit$sampling_weights <- counts * sw_or_one(fit)
  po <- potential_outcome_matrix(fit_outcome_learners(fit), designs, fit$stratified)
  colSums(fit$sampling_weights * po) / sum(fit$sampling_weights)
}
