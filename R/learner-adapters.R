# Ready learners over popular modelling packages, built on lrn_custom()'s
# machinery. Each package is a Suggests, checked when the learner is made.

#' Penalized regression learner (glmnet)
#'
#' An elastic-net learner: [glmnet::cv.glmnet()] chooses the penalty by
#' cross-validation (fold assignment uses R's random number generator, so
#' `set.seed()` reproduces a fit). Treatment models use the `"binomial"`
#' family for two levels and `"multinomial"` for more; outcome models
#' `"gaussian"` unless `family` says otherwise (e.g. `"binomial"` for a 0/1
#' outcome). glmnet fits its own intercept: the formula's `"(Intercept)"`
#' column is dropped, and it needs at least two other columns.
#'
#' @param alpha Elastic-net mixing: 1 is the lasso, 0 ridge regression.
#' @param lambda Which penalty to predict with: `"lambda.min"`,
#'   `"lambda.1se"` or a number.
#' @param nfolds Number of cross-validation folds.
#' @param family `NULL` (chosen from the response as above) or a family
#'   name understood by glmnet.
#' @param ... Further arguments to [glmnet::cv.glmnet()].
#' @return A learner of class `causallib_lrn_glmnet`, see [lrn_custom()].
#' @export
#' @examples
#' if (requireNamespace("glmnet", quietly = TRUE)) {
#'   set.seed(1)
#'   fit <- ipw(qsmk ~ sex + race + age + education + smokeintensity + wt71,
#'              data = nhefs, learner = lrn_glmnet(alpha = 0.5))
#'   estimate_effect(fit, outcome = death, se = "none")
#' }
lrn_glmnet <- function(alpha = 1, lambda = "lambda.min", nfolds = 10, family = NULL, ...) {
  rlang::check_installed("glmnet", reason = "to use `lrn_glmnet()`")
  check_number(alpha, "alpha", min = 0, max = 1)
  if (!(is.numeric(lambda) && length(lambda) == 1L) &&
      !(is.character(lambda) && length(lambda) == 1L && lambda %in% c("lambda.min", "lambda.1se"))) {
    cli::cli_abort("{.arg lambda} must be {.val lambda.min}, {.val lambda.1se} or a number.")
  }
  check_count(nfolds, "nfolds", min = 3)
  dots <- list(...)
  new_learner(
    fit = function(x, y, weights) {
      args <- list(x, y, weights = weights, family = family %||% glmnet_family(y),
                   alpha = alpha, nfolds = nfolds)
      do.call(glmnet::cv.glmnet, c(args, dots))
    },
    predict = function(object, x) {
      p <- stats::predict(object, newx = x, s = lambda, type = "response")
      if (length(dim(p)) == 3L) p[, , 1L] else p[, 1L]
    },
    name = "lrn_glmnet",
    settings = c(list(alpha = alpha, lambda = lambda, nfolds = nfolds, family = family), dots),
    prepare = adapter_design, subclass = "causallib_lrn_glmnet"
  )
}

glmnet_family <- function(y) {
  if (!is.factor(y)) return("gaussian")
  if (nlevels(y) == 2L) "binomial" else "multinomial"
}

#' Random forest learner (ranger)
#'
#' A random forest from [ranger::ranger()]: a probability forest for
#' treatment models and a regression forest for outcome models, with the
#' case weights as `case.weights`. Each fit draws ranger's `seed` from R's
#' random number generator, so `set.seed()` reproduces it. The formula's
#' `"(Intercept)"` column is dropped.
#'
#' Forests fit their training data closely: in-sample propensities of 0 or
#' 1 are common, so consider `clip` in [ipw()].
#'
#' @param num.trees Number of trees.
#' @param ... Further arguments to [ranger::ranger()] (e.g. `mtry`,
#'   `min.node.size`); `num.threads` defaults to [causallib_threads()].
#' @return A learner of class `causallib_lrn_ranger`, see [lrn_custom()].
#' @export
#' @examples
#' if (requireNamespace("ranger", quietly = TRUE)) {
#'   set.seed(1)
#'   fit <- standardization(wt82_71 ~ qsmk + sex + age + smokeintensity + wt71,
#'                          data = nhefs, treatment = qsmk, na_action = "omit",
#'                          learner = lrn_ranger(num.trees = 100))
#'   estimate_effect(fit, se = "none")
#' }
lrn_ranger <- function(num.trees = 500, ...) {
  rlang::check_installed("ranger", reason = "to use `lrn_ranger()`")
  check_count(num.trees, "num.trees", min = 1)
  dots <- list(...)
  new_learner(
    fit = function(x, y, weights) {
      args <- list(x = x, y = y, num.trees = num.trees, probability = is.factor(y),
                   case.weights = weights, seed = sample.int(.Machine$integer.max, 1L))
      if (is.null(dots$num.threads)) args$num.threads <- causallib_threads()
      do.call(ranger::ranger, c(args, dots))
    },
    predict = function(object, x) stats::predict(object, data = x)$predictions,
    name = "lrn_ranger", settings = c(list(num.trees = num.trees), dots),
    prepare = adapter_design, subclass = "causallib_lrn_ranger"
  )
}

#' Learner from a parsnip model specification
#'
#' Fits a [parsnip](https://parsnip.tidymodels.org) model specification with
#' [parsnip::fit_xy()] on a data frame of the design: in classification
#' mode for treatment models (predicting class probabilities) and
#' regression mode for outcome models, so one specification such as
#' `parsnip::rand_forest()` serves both. The formula's `"(Intercept)"`
#' column is dropped and the column names are made syntactic.
#'
#' Case weights (sampling weights, and the resampling counts of a
#' bootstrap) are passed as [parsnip::importance_weights()] to engines that
#' accept them; an engine that does not can only be fitted without weights
#' (or with constant ones).
#'
#' @param spec A parsnip model specification, e.g.
#'   `parsnip::logistic_reg()` or `parsnip::rand_forest(trees = 200)`.
#' @return A learner of class `causallib_lrn_parsnip`, see [lrn_custom()].
#' @export
#' @examples
#' if (requireNamespace("parsnip", quietly = TRUE)) {
#'   fit <- ipw(qsmk ~ sex + age + wt71, data = nhefs,
#'              learner = lrn_parsnip(parsnip::logistic_reg()))
#'   estimate_effect(fit, outcome = death, se = "none")
#' }
lrn_parsnip <- function(spec) {
  rlang::check_installed("parsnip", reason = "to use `lrn_parsnip()`")
  if (!inherits(spec, "model_spec")) {
    cli::cli_abort("{.arg spec} must be a parsnip model specification, not {.obj_type_friendly {spec}}.")
  }
  new_learner(
    fit = function(x, y, weights) {
      spec <- parsnip::set_mode(spec, if (is.factor(y)) "classification" else "regression")
      parsnip::fit_xy(spec, x = as.data.frame(x), y = y,
                      case_weights = parsnip_case_weights(spec, weights))
    },
    predict = parsnip_predict,
    name = "lrn_parsnip",
    settings = list(model = class(spec)[1L], engine = spec$engine),
    prepare = function(x) adapter_design(x, syntactic = TRUE),
    subclass = "causallib_lrn_parsnip"
  )
}

parsnip_case_weights <- function(spec, weights) {
  if (is.null(weights)) return(NULL)
  if (parsnip::case_weights_allowed(spec)) return(parsnip::importance_weights(weights))
  if (all(weights == weights[1L])) return(NULL)
  cli::cli_abort(c(
    "The parsnip engine {.val {spec$engine}} of {.fn {class(spec)[1L]}} does not accept case weights.",
    i = "Sampling weights and the bootstrap of a learner other than {.fn lrn_glm} are passed to the learner as case weights.",
    i = "Choose an engine that accepts them, or fit without {.arg weights} and with {.code se = \"none\"}."
  ))
}

parsnip_predict <- function(object, x) {
  x <- as.data.frame(x)
  if (object$spec$mode == "regression") return(stats::predict(object, x, type = "numeric")$.pred)
  p <- as.matrix(stats::predict(object, x, type = "prob"))
  colnames(p) <- sub("^[.]pred_", "", colnames(p))
  p
}

# The design an adapter sees: without the constant "(Intercept)" column
# that formula front ends add (these models fit their own), and with
# column names (syntactic ones for learners that build formulas).
adapter_design <- function(x, syntactic = FALSE) {
  icpt <- which(colnames(x) == "(Intercept)")
  if (length(icpt) && all(x[, icpt] == 1)) x <- x[, -icpt, drop = FALSE]
  names <- colnames(x) %||% paste0("x", seq_len(ncol(x)))
  colnames(x) <- if (syntactic) make.names(names, unique = TRUE) else names
  x
}
