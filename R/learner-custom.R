#' A learner from any R model
#'
#' Wraps a pair of functions, one that fits a model and one that predicts
#' from it, into a learner that every estimator accepts in place of
#' [lrn_glm()].
#'
#' `fit(x, y, weights)` is called with `x` a numeric matrix (the design of
#' the formula, including its `"(Intercept)"` column when the formula has
#' one; with [ipw_fit()]'s `intercept = TRUE` the model is expected to fit
#' its own intercept), `y` a factor for a treatment model and a numeric
#' vector for an outcome model, and `weights` `NULL` or a numeric vector of
#' non-negative case weights (sampling weights, times resampling counts in a
#' bootstrap). `predict(object, x)` gets what `fit` returned and a matrix
#' like the one it was fitted on. For an outcome model it returns the
#' predicted means; for a treatment model an `n x K` matrix of class
#' probabilities (columns in the order of the levels, or named by them), or
#' for two levels a vector of the probability of the last level.
#'
#' Sandwich standard errors need the score equations of [lrn_glm()]; with
#' other learners use `se = "bootstrap"`, which refits the whole pipeline
#' in R for each resample.
#'
#' @param fit A function `function(x, y, weights)` returning a fitted model.
#' @param predict A function `function(object, x)` returning predictions.
#' @param name A short name for the learner, used in printing and messages.
#' @return A learner: a list of class `causallib_lrn_custom`, used as the
#'   `learner` argument of [ipw()] and [standardization()].
#' @seealso [lrn_glmnet()], [lrn_ranger()] and [lrn_parsnip()] for ready
#'   adapters.
#' @export
#' @examples
#' logit <- lrn_custom(
#'   fit = function(x, y, weights) {
#'     stats::glm.fit(x, y, weights = weights, family = stats::quasibinomial())
#'   },
#'   predict = function(object, x) stats::plogis(drop(x %*% object$coefficients)),
#'   name = "logistic glm.fit"
#' )
#' logit
#' fit <- ipw(qsmk ~ sex + age + wt71, data = nhefs, learner = logit)
#' estimate_effect(fit, outcome = death, se = "none")
lrn_custom <- function(fit, predict, name = "custom") {
  if (!is.function(fit)) cli::cli_abort("{.arg fit} must be a function {.code function(x, y, weights)}.")
  if (!is.function(predict)) cli::cli_abort("{.arg predict} must be a function {.code function(object, x)}.")
  if (!is.character(name) || length(name) != 1L || is.na(name)) {
    cli::cli_abort("{.arg name} must be a single string.")
  }
  new_learner(fit, predict, name)
}

# A learner made of R functions. `prepare` maps the design before both fit
# and predict (the adapters drop the formula's intercept column); `settings`
# are shown when printing.
new_learner <- function(fit, predict, name, settings = list(), prepare = identity,
                        subclass = NULL) {
  structure(
    list(fit = fit, predict = predict, name = name, settings = settings, prepare = prepare),
    class = c(subclass, "causallib_lrn_custom", "causallib_learner")
  )
}

#' @export
print.causallib_lrn_custom <- function(x, ...) {
  cat("Learner:", learner_description(x), "\n")
  invisible(x)
}

learner_description <- function(learner) {
  settings <- Filter(Negate(is.null), learner$settings)
  if (!length(settings)) return(learner$name)
  vals <- vapply(settings, function(v) paste(deparse(v), collapse = " "), character(1))
  sprintf("%s(%s)", learner$name, paste(names(vals), vals, sep = " = ", collapse = ", "))
}

#' @export
learner_fit.causallib_lrn_custom <- function(learner, x, y, weights = NULL,
                                             intercept = FALSE, offset = NULL, ...) {
  if (!is.null(offset)) {
    cli::cli_abort(c(
      "The {.val {learner$name}} learner cannot use {.code offset()} terms.",
      i = "Use {.fn lrn_glm}, or drop the offset from the formula."
    ))
  }
  model <- learner$fit(learner$prepare(as.matrix(x)), y, weights)
  structure(list(model = model, learner = learner, levels = levels(y)),
            class = "causallib_custom_fit")
}

#' @export
learner_predict.causallib_custom_fit <- function(object, x, offset = NULL, ...) {
  lrn <- object$learner
  pred <- lrn$predict(object$model, lrn$prepare(as.matrix(x)))
  if (is.null(object$levels)) return(check_mean_prediction(pred, nrow(x), lrn$name))
  check_probability_prediction(pred, nrow(x), object$levels, lrn$name)
}

check_mean_prediction <- function(pred, n, name) {
  if (!is.numeric(pred) || length(pred) != n || (!is.null(dim(pred)) && NCOL(pred) != 1L) ||
      !all(is.finite(pred))) {
    cli::cli_abort(c(
      "The {.val {name}} learner's {.arg predict} returned {prediction_shape(pred)}.",
      i = "An outcome learner must predict a finite numeric vector of {n} means."
    ))
  }
  as.double(pred)
}

# An n x K double matrix of probabilities with the levels as column names,
# from a matrix or (two levels) a vector of P(last level).
check_probability_prediction <- function(pred, n, lev, name) {
  K <- length(lev)
  if (is.numeric(pred) && is.null(dim(pred)) && K == 2L && length(pred) == n) {
    pred <- cbind(1 - pred, pred)
  }
  shape_ok <- is.numeric(pred) && is.matrix(pred) && nrow(pred) == n && ncol(pred) == K
  if (!shape_ok || !all(is.finite(pred)) || min(pred) < 0 || max(pred) > 1 ||
      any(abs(rowSums(pred) - 1) > 1e-6)) {
    cli::cli_abort(c(
      "The {.val {name}} learner's {.arg predict} returned {prediction_shape(pred)}{if (shape_ok) ' whose rows are not probabilities' else ''}.",
      i = "A treatment learner must predict a matrix of class probabilities with {n} rows and a column per level ({.val {lev}}), each row in [0, 1] and summing to 1{if (K == 2L) ', or a vector of the probabilities of the last level' else ''}."
    ))
  }
  if (!is.null(colnames(pred)) && setequal(colnames(pred), lev)) pred <- pred[, lev, drop = FALSE]
  storage.mode(pred) <- "double"
  dimnames(pred) <- list(NULL, lev)
  pred
}

prediction_shape <- function(pred) {
  if (!is.null(dim(pred))) {
    return(sprintf("a %s %s", paste(dim(pred), collapse = " x "), class(pred)[1L]))
  }
  sprintf("%s of length %d", cli::format_inline("{.obj_type_friendly {pred}}"), length(pred))
}
