#' Evaluate a causal model's learners in a causal context
#'
#' There is no ground truth for a causal effect, but a causal model's
#' learners can be checked: a weight model by how well its weights balance
#' the covariates and how well its propensity scores discriminate and are
#' calibrated; an outcome model by how well it predicts the outcome in each
#' treatment arm; a survival model by how its predicted curves follow the
#' Kaplan-Meier curves of each arm. `evaluate()` refits the model on
#' training folds (`cv = K`) or bootstrap samples (`bootstrap = R`, with the
#' out-of-bag units as the validation part) and predicts on both the
#' training and validation parts; with neither it evaluates the fitted
#' model on its own data. Validation metrics show what in-sample metrics
#' hide: overfitted propensity models balance their own data better than
#' new data.
#'
#' The result keeps every prediction, the fold of every unit, the refitted
#' models and a metrics table; [autoplot.causal_evaluation()] draws the
#' diagnostic plots and [evaluation_data()] returns the data frame behind
#' each of them.
#'
#' Metrics (column `metric` of `$metrics`), for weight models per scored
#' treatment level: `max_abs_smd_weighted`, `mean_abs_smd_weighted`,
#' `max_abs_smd_unweighted`, `roc_auc`, `weighted_roc_auc`,
#' `expected_roc_auc`, `ece`, `ici` (see [balance_table()] and
#' [weighted_roc_auc()]); for outcome models per arm: `rmse`, `r_squared`,
#' `deviance`, `mean_deviance`, and `auc`, `ece`, `ici` for binary outcomes (see
#' [outcome_metrics()]); for survival models per arm: `max_abs_km_gap`, the
#' largest distance between the model's curve and the Kaplan-Meier curve.
#'
#' @param fit A fitted model: [ipw()], [matching()], [standardization()], a
#'   doubly robust model ([aipw()] and its relatives: both its weight and
#'   its outcome model are evaluated), [survival_standardization()] or
#'   [survival_ipw()].
#' @param data Optional data frame to refit the model on before evaluating
#'   (by default the data it was fitted on).
#' @param cv `NULL` or the number of cross-validation folds (a whole
#'   number). Folds are drawn within each treatment level, so that every
#'   fold holds units of every level; `cv` can be at most the number of
#'   units of the smallest level.
#' @param bootstrap `NULL` or the number of bootstrap samples.
#' @param ... Unused.
#' @return A `causal_evaluation` object: a list with `fit`, `type`
#'   (`"weight"`, `"outcome"`, `"doubly_robust"` or `"survival"`), `folds` (the fold of every
#'   unit; for the bootstrap the list of training samples), `models`,
#'   `predictions` (a data frame with `row`, `fold`, `phase`, `treatment`
#'   and the model's predictions) and `metrics` (a data frame with `fold`,
#'   `phase`, `treatment`, `metric` and `value`).
#' @export
#' @examples
#' fit <- ipw(qsmk ~ sex + race + age + I(age^2) + education + smokeintensity +
#'              smokeyrs + exercise + active + wt71, data = nhefs)
#' set.seed(1)
#' ev <- evaluate(fit, cv = 3)
#' ev
#' head(ev$metrics)
evaluate <- function(fit, data = NULL, cv = NULL, bootstrap = NULL, ...) {
  rlang::check_dots_empty()
  if (!is.null(data)) fit <- refit_on_data(fit, data)
  check_fields(fit)
  evaluation_type(fit)
  splits <- evaluation_splits(fit$treatment, cv, bootstrap)
  method <- if (!is.null(cv)) "cv" else if (!is.null(bootstrap)) "bootstrap" else "in-sample"
  evaluate_splits(fit, splits, method)
}

# evaluate() on given training/validation splits (shared by tune_learner()):
# the model refitted on each training part through refit() -- on the rows of
# a fold, or with a bootstrap sample's counts as case weights -- and its
# predictions for the training and validation units.
evaluate_splits <- function(fit, splits, method) {
  parts <- lapply(seq_along(splits), function(k) {
    s <- splits[[k]]
    model <- if (is.null(s$valid)) {
      fit
    } else if (method == "bootstrap") {
      refit(fit, case_weights = tabulate(s$train, fit$n))
    } else {
      refit(fit, rows = s$train)
    }
    phases <- list(train = unique(s$train), valid = s$valid)
    phases <- phases[lengths(phases) > 0L]
    preds <- lapply(names(phases), function(ph) {
      p <- evaluation_predictions(fit, model, phases[[ph]])
      cbind(data.frame(row = phases[[ph]], fold = k, phase = ph, stringsAsFactors = FALSE), p)
    })
    list(model = model, predictions = do.call(rbind, preds))
  })
  predictions <- do.call(rbind, lapply(parts, `[[`, "predictions"))
  ev <- structure(list(
    fit = fit, type = evaluation_type(fit), levels = fit$levels, method = method,
    folds = fold_index(splits, fit$n, method), models = lapply(parts, `[[`, "model"),
    predictions = predictions
  ), class = "causal_evaluation")
  ev$metrics <- evaluation_metrics(ev)
  ev
}

# Training and validation rows of the units with treatment a: in-sample
# (validation NULL), K folds, or bootstrap samples with their out-of-bag
# units. Folds are drawn within each treatment level (units in random order
# within levels, dealt to the folds in turn), so that each fold holds every
# level in its share and every training part can refit the model, as long
# as no level has fewer units than there are folds.
evaluation_splits <- function(a, cv, bootstrap) {
  n <- length(a)
  if (!is.null(cv) && !is.null(bootstrap)) {
    cli::cli_abort("Give {.arg cv} or {.arg bootstrap}, not both.")
  }
  if (!is.null(cv)) {
    check_count(cv, "cv", min = 2, max = n)
    check_fold_arms(a, cv)
    fold <- integer(n)
    fold[order(as.integer(a), sample.int(n))] <- rep_len(seq_len(cv), n)
    return(lapply(seq_len(cv), function(k) list(train = which(fold != k), valid = which(fold == k))))
  }
  if (!is.null(bootstrap)) {
    check_count(bootstrap, "bootstrap", min = 1, max = 1e5)
    splits <- lapply(seq_len(bootstrap), function(b) {
      train <- sample.int(n, n, replace = TRUE)
      list(train = train, valid = setdiff(seq_len(n), train))
    })
    check_bootstrap_arms(a, splits)
    return(splits)
  }
  list(list(train = seq_len(n), valid = NULL))
}

# Every fold needs units of every treatment level: its validation part to
# compute the metrics of each level, its training part to refit the model.
check_fold_arms <- function(a, cv) {
  sizes <- tabulate(a, nlevels(a))
  small <- which.min(sizes)
  if (sizes[small] >= cv) return(invisible())
  cli::cli_abort(c(
    "{.arg cv} = {cv} folds is more than the {sizes[small]} unit{?s} at treatment level {.val {levels(a)[small]}}.",
    x = "Some fold would have no unit at that level, so its metrics for it (or its refit) could not be computed.",
    i = "Use at most {.code cv = {sizes[small]}} folds."
  ))
}

# A bootstrap sample must draw units of every level (to refit the model)
# and leave some of every level out of the bag (to validate on); with a
# level of a few units, some sample fails to.
check_bootstrap_arms <- function(a, splits) {
  K <- nlevels(a)
  for (b in seq_along(splits)) {
    for (part in c("train", "valid")) {
      have <- tabulate(a[splits[[b]][[part]]], K)
      if (all(have > 0L)) next
      lev <- levels(a)[which(have == 0L)[1L]]
      size <- sum(a == lev)
      what <- if (part == "train") "drew no unit" else "drew every unit"
      cli::cli_abort(c(
        "Bootstrap sample {b} of {.arg bootstrap} {what} at treatment level {.val {lev}} ({size} unit{?s}), so it could not {if (part == 'train') 'refit the model' else 'validate on that level'}.",
        i = "With so few units at that level, evaluate by cross-validation instead: {.code cv = {max(2L, min(size, 5L))}}."
      ))
    }
  }
}

fold_index <- function(splits, n, method) {
  if (method != "cv") return(lapply(splits, `[[`, "train"))
  fold <- integer(n)
  for (k in seq_along(splits)) fold[splits[[k]]$valid] <- k
  fold
}

# Refit a formula-fitted model on other data through its call.
refit_on_data <- function(fit, data) {
  check_data_frame(data)
  call <- fit$call
  if (is.null(call) || is.null(call$data)) {
    cli::cli_abort("{.arg fit} was not fitted through a formula with {.arg data}, so it cannot be refitted on {.arg data}.")
  }
  call$data <- data
  eval(call, parent.frame(2L))
}

#' @export
print.causal_evaluation <- function(x, ...) {
  print_model_header(x$fit, paste0(model_title(x$fit), ", evaluated ",
                                   evaluation_method_label(x)))
  summary_tab <- stats::aggregate(value ~ phase + treatment + metric, data = x$metrics, FUN = mean)
  wide <- stats::reshape(summary_tab, idvar = c("metric", "treatment"), timevar = "phase",
                         direction = "wide")
  names(wide) <- sub("^value\\.", "", names(wide))
  wide <- wide[order(wide$metric, wide$treatment), , drop = FALSE]
  cat(if (length(x$models) > 1L) "Metrics (mean over folds):\n" else "Metrics:\n")
  print(format(wide, digits = 3), row.names = FALSE)
  invisible(x)
}

evaluation_method_label <- function(ev) {
  n_folds <- length(ev$models)
  switch(ev$method,
    cv = paste0("by ", n_folds, "-fold cross-validation"),
    bootstrap = paste("on", n_folds, "bootstrap samples"),
    "in-sample")
}
