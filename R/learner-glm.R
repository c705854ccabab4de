#' Generalized linear model learner (fitted in C)
#'
#' The built-in learner of every estimator: a generalized linear model fitted
#' by iteratively reweighted least squares in C, with the starting values,
#' convergence rule and aliasing of [stats::glm()]. Given a treatment (a
#' factor), it fits a logistic regression for two levels and a multinomial
#' (baseline-category) logistic regression for more; given an outcome, it
#' fits the family asked for.
#'
#' Weights are sampling weights, not numbers of trials: the starting values
#' and the convergence test use the weights divided by their mean (over the
#' units of positive weight), so an unpenalized fit does not change when
#' every weight is multiplied by a constant (where [stats::glm()]'s binomial
#' starting values, which read weights as trials, can diverge). It equals
#' `glm()` for weights of mean 1 and agrees with it to its convergence
#' tolerance otherwise; deviances are reported on the scale of the weights.
#'
#' @param family A family object, family function or name: `binomial`
#'   (logit link), `gaussian` (identity) or `poisson` (log). A treatment
#'   model needs `binomial` (the default), which it fits as a logistic
#'   regression for two levels and a multinomial one for more; another
#'   family there is an error.
#' @param penalty Ridge penalty \eqn{\lambda \ge 0}: the fit maximizes
#'   \eqn{\ell(\beta) - \frac{\lambda}{2}\sum_j \beta_j^2} over every
#'   coefficient but the intercept, on the summed log-likelihood scale.
#'   A small penalty (e.g. 1) keeps a model fitted under separation. Since
#'   the log-likelihood is summed with the weights, a penalized fit depends
#'   on their scale: multiplying every weight by \eqn{c} acts as dividing
#'   `penalty` by \eqn{c}. The estimators rescale sampling weights to mean
#'   1 before fitting, so there the penalty acts as with unit weights.
#' @param maxit,epsilon Maximum iterations and convergence tolerance, as in
#'   [stats::glm.control()].
#' @return A learner: a list of class `causallib_lrn_glm`, used as the
#'   `learner` argument of [ipw()] and [standardization()].
#' @export
#' @examples
#' lrn_glm()
#' lrn_glm(gaussian)
#' lrn_glm("poisson", penalty = 0.5)
lrn_glm <- function(family = stats::binomial(), penalty = 0, maxit = 25, epsilon = 1e-8) {
  family <- glm_family(family)
  check_number(penalty, "penalty", min = 0)
  check_count(maxit, "maxit", min = 1)
  check_number(epsilon, "epsilon", min = .Machine$double.eps)
  structure(
    list(family = family, penalty = penalty, maxit = as.integer(maxit), epsilon = epsilon),
    class = c("causallib_lrn_glm", "causallib_learner")
  )
}

#' @export
print.causallib_lrn_glm <- function(x, ...) {
  cat("Learner: GLM fitted in C,", x$family, "family")
  if (x$penalty > 0) cat(", ridge penalty", format(x$penalty))
  cat("\n")
  invisible(x)
}

glm_family_codes <- c(gaussian = 0L, binomial = 1L, poisson = 2L)
glm_canonical_links <- c(gaussian = "identity", binomial = "logit", poisson = "log")

glm_family <- function(family) {
  if (is.character(family) && length(family) == 1L) {
    family <- tryCatch(get(family, mode = "function", envir = asNamespace("stats"))(),
                       error = function(e) NULL)
  } else if (is.function(family)) {
    family <- family()
  }
  if (!inherits(family, "family")) {
    cli::cli_abort("{.arg family} must be a family such as {.code binomial()}, {.code gaussian()} or {.code poisson()}.")
  }
  name <- family$family
  if (!name %in% names(glm_family_codes) || family$link != glm_canonical_links[[name]]) {
    cli::cli_abort(c(
      "{.arg family} {.code {name}({family$link})} is not supported by {.fn lrn_glm}.",
      i = "Use binomial (logit), gaussian (identity) or poisson (log)."
    ))
  }
  name
}

# Mean function of a family on the linear predictor, as R's family objects
# compute it.
glm_linkinv <- function(family, eta) {
  switch(family,
    binomial = stats::binomial()$linkinv(eta),
    poisson = pmax(exp(eta), .Machine$double.eps),
    eta
  )
}

glm_mu_eta <- function(family, eta) {
  switch(family,
    binomial = stats::binomial()$mu.eta(eta),
    poisson = pmax(exp(eta), .Machine$double.eps),
    rep(1, length(eta))
  )
}

glm_penalty <- function(learner, x, intercept = FALSE) {
  names <- design_names(x, intercept)
  pen <- rep(learner$penalty, length(names))
  pen[names == "(Intercept)"] <- 0
  pen
}

#' Fit and predict with a learner
#'
#' The two verbs every learner implements. `y` is a factor for a treatment
#' model (the fit then predicts a matrix of class probabilities, one column
#' per level) and numeric for an outcome model (the fit predicts the mean).
#'
#' @param learner A learner such as [lrn_glm()].
#' @param x Numeric design matrix.
#' @param y Factor (treatment) or numeric (outcome) response.
#' @param weights Optional non-negative prior (sampling) weights.
#' @param intercept Fit an intercept that is not a column of `x`? (The
#'   built-in learner then never copies `x` to add one.)
#' @param offset `NULL`, or a known part of the linear predictor per row
#'   (the `offset()` terms of a formula). Only [lrn_glm()] takes offsets,
#'   and for a treatment only with two levels.
#' @param object A fitted learner, as returned by `learner_fit()`.
#' @param ... Unused.
#' @return `learner_fit()`: a fitted learner; `learner_predict()`: a vector
#'   of means or a matrix of class probabilities.
#' @examples
#' complete <- nhefs[!is.na(nhefs$wt82_71), ]
#' x <- as.matrix(complete[, c("age", "smokeintensity", "wt71")])
#' # A treatment model: the probabilities of each level of qsmk
#' ps <- learner_fit(lrn_glm(), x, factor(complete$qsmk))
#' head(learner_predict(ps, x))
#' # An outcome model: the mean weight change
#' om <- learner_fit(lrn_glm(gaussian()), x, complete$wt82_71)
#' head(learner_predict(om, x))
#' @export
#' @keywords internal
learner_fit <- function(learner, x, y, weights = NULL, intercept = FALSE, offset = NULL, ...) {
  UseMethod("learner_fit")
}

#' @rdname learner_fit
#' @export
learner_predict <- function(object, x, offset = NULL, ...) {
  UseMethod("learner_predict")
}

#' @export
learner_fit.causallib_lrn_glm <- function(learner, x, y, weights = NULL,
                                          intercept = FALSE, offset = NULL, ...) {
  if (!inherits(x, "causallib_columns")) storage.mode(x) <- "double"
  intercept <- isTRUE(intercept)
  pen <- glm_penalty(learner, x, intercept)
  if (!is.null(weights)) weights <- as.double(weights)
  if (!is.null(offset)) offset <- as.double(offset)
  if (is.factor(y)) {
    return(fit_glm_treatment(learner, x, y, weights, pen, intercept, offset))
  }
  check_glm_response(y, learner$family)
  res <- .Call(C_ffi_glm_fit, x, intercept, as.double(y), weights, offset,
               glm_family_codes[[learner$family]], learner$maxit, learner$epsilon,
               pen, causallib_threads())
  names(res$coefficients) <- design_names(x, intercept)
  res <- c(res, list(family = learner$family, levels = NULL, learner = learner,
                     intercept = intercept))
  check_glm_result(res, "outcome model")
  structure(res, class = "causallib_glm_fit")
}

fit_glm_treatment <- function(learner, x, y, weights, pen, intercept, offset) {
  lev <- levels(y)
  if (length(lev) > 2L && !is.null(offset)) {
    cli::cli_abort(c(
      "An {.code offset()} in a treatment model needs a binary treatment; this one has {length(lev)} levels.",
      i = "A multinomial model has one linear predictor per level, so a single offset is ambiguous: add the variable as a covariate instead."
    ))
  }
  if (length(lev) == 2L) {
    res <- .Call(C_ffi_glm_fit, x, intercept, as.double(unclass(y) == 2L), weights,
                 offset, glm_family_codes[["binomial"]], learner$maxit,
                 learner$epsilon, pen, causallib_threads())
    names(res$coefficients) <- design_names(x, intercept)
    res$fitted <- cbind(1 - res$fitted, res$fitted)
  } else {
    res <- .Call(C_ffi_multinom_fit, x, intercept, as.integer(y), length(lev), weights,
                 learner$maxit, learner$epsilon, pen, causallib_threads())
    dimnames(res$coefficients) <- list(design_names(x, intercept), lev[-1L])
  }
  colnames(res$fitted) <- lev
  res <- c(res, list(family = "binomial", levels = lev, learner = learner,
                     intercept = intercept))
  check_glm_result(res, "treatment model")
  structure(res, class = "causallib_glm_fit")
}

# Columns of a design that are linearly dependent on earlier ones get NA
# coefficients, as in glm() (a column whose residual on the earlier columns
# is negligible against its own norm); say which.
warn_aliased <- function(names, what) {
  if (!length(names)) return(invisible())
  n <- length(names)
  cli::cli_warn(c(
    "The {what} has {n} column{?s} linearly dependent on earlier columns, with {?an/} NA coefficient{?s}: {.val {names}}.",
    i = "Drop {cli::qty(n)}{?it/them} or reparametrize the covariates; glm() aliases {cli::qty(n)}{?it/them} too."
  ))
}

check_glm_response <- function(y, family) {
  if (family == "binomial" && any(y < 0 | y > 1)) {
    cli::cli_abort("A binomial outcome model needs an outcome in [0, 1]; the outcome ranges from {min(y)} to {max(y)}.")
  }
  if (family == "poisson" && any(y < 0)) {
    cli::cli_abort("A poisson outcome model needs a non-negative outcome.")
  }
}

check_glm_result <- function(res, what) {
  if (isTRUE(res$failed)) {
    cli::cli_abort(c(
      "The {what} could not be fitted: its weighted least-squares system is singular or the deviance diverged.",
      i = "Check for perfect separation or an empty group, or add a ridge {.arg penalty} in {.fn lrn_glm}."
    ))
  }
  if (!isTRUE(res$converged)) {
    cli::cli_warn("The {what} did not converge in {res$iter} iterations.")
  }
  warn_aliased(rownames(as.matrix(res$coefficients))[res$aliased], what)
  if (res$family == "binomial") {
    eps <- 10 * .Machine$double.eps
    if (max(res$fitted) > 1 - eps || min(res$fitted) < eps) {
      cli::cli_warn(c(
        "The {what} has fitted probabilities numerically 0 or 1.",
        i = "This signals (quasi-)separation: a covariate pattern predicts the response perfectly.",
        i = "Consider a ridge {.arg penalty} in {.fn lrn_glm} or coarser covariates."
      ))
    }
  }
}

#' @export
learner_predict.causallib_glm_fit <- function(object, x, offset = NULL, ...) {
  eta <- linear_predictor(object, x, offset)
  if (is.null(object$levels)) {
    return(glm_linkinv(object$family, drop(eta)))
  }
  if (length(object$levels) == 2L) {
    p <- glm_linkinv("binomial", drop(eta))
    probs <- cbind(1 - p, p)
  } else {
    eta <- cbind(0, eta)
    eta <- eta - apply(eta, 1L, max)
    probs <- exp(eta) / rowSums(exp(eta))
  }
  colnames(probs) <- object$levels
  probs
}

# X beta + offset (one column per linear predictor), with aliased
# coefficients as 0 and the fit's implicit intercept, if any, added.
linear_predictor <- function(object, x, offset = NULL) {
  x <- as.matrix(x)
  beta <- as.matrix(object$coefficients)
  beta[is.na(beta)] <- 0
  eta <- if (!isTRUE(object$intercept)) {
    x %*% beta
  } else {
    sweep(x %*% beta[-1L, , drop = FALSE], 2L, beta[1L, ], `+`)
  }
  if (is.null(offset)) eta else eta + offset
}

#' @export
coef.causallib_glm_fit <- function(object, ...) object$coefficients
