#' Diagnostic plots of a causal model
#'
#' Draws one of the evaluation plots from the data frame
#' [evaluation_data()] returns for it; with cross-validation or bootstrap
#' evaluations the training and validation phases are shown side by side.
#' Calling `autoplot()` on a fitted model evaluates it in-sample first.
#'
#' Types, by model:
#' * weight models ([ipw()]): `"balance"` (the love plot of
#'   [balance_table()], as [autoplot.causal_balance()] draws it: the same
#'   statistics, rows, labels and title, on each fold and phase),
#'   `"balance_slope"` (the same as slopes from unadjusted to adjusted),
#'   `"weights"` (mirrored histograms of the weights by arm), `"roc"`
#'   (plain, IP-weighted and expected ROC curves of the propensity score,
#'   each labelled with its AUC),
#'   `"pr"` (precision-recall), `"calibration"`.
#' * outcome models ([standardization()]): `"predicted_observed"` (for a
#'   binary outcome the calibration of each arm, binned predictions against
#'   observed proportions),
#'   `"residuals"`, and for binary outcomes `"roc"`, `"pr"`,
#'   `"calibration"`, each arm separately.
#' * doubly robust models: all of the above but the binary-outcome plots.
#' * survival models: `"survival"`, the model's curve of each arm against
#'   the arm's Kaplan-Meier curve (IP-weighted for IP-weighted models); by
#'   default the causal curves ([autoplot.causal_survival()]).
#' * CATE models ([xlearner()], [rlearner()]): `"cate"`, the distribution of
#'   the units' CATEs; unadjusted comparisons ([marginal_outcome()]):
#'   `"outcome"`, the distribution of the outcome in each arm. Each with its
#'   (sampling-weighted) mean; the data are [distribution_data()]'s.
#'
#' `plot()` of a fitted model draws the plot `autoplot()` returns (one
#' builder makes both) and returns it invisibly.
#'
#' @param object,x A `causal_evaluation` from [evaluate()], or a fitted model.
#' @param type The plot type; by default the first available for the model.
#' @param ... Unused.
#' @return A ggplot object (invisibly for `plot()`).
#' @exportS3Method ggplot2::autoplot
#' @examples
#' if (requireNamespace("ggplot2", quietly = TRUE)) {
#'   fit <- ipw(qsmk ~ sex + race + age + education + smokeintensity + wt71, data = nhefs)
#'   set.seed(1)
#'   ev <- evaluate(fit, cv = 3)
#'   ggplot2::autoplot(ev, type = "balance")
#'   ggplot2::autoplot(ev, type = "roc")
#'   ggplot2::autoplot(fit, type = "weights")
#'   plot(fit, type = "balance")
#' }
autoplot.causal_evaluation <- function(object, type = NULL, ...) {
  rlang::check_dots_empty()
  type <- type %||% evaluation_types_for(object)[1L]
  data <- evaluation_data(object, type)
  evaluation_plot(data, type, evaluation_title(object, type))
}

#' @rdname autoplot.causal_evaluation
#' @exportS3Method ggplot2::autoplot
autoplot.causallib_model <- function(object, type = NULL, ...) {
  rlang::check_dots_empty()
  model_plot(object, type)
}

# Titles name the estimator and the sample. The balance and weights plots
# say it as balance_table() and weights_summary() do ("Covariate balance:
# IPW (ATT), in-sample"; "Matching" for matching, "by 5-fold
# cross-validation" for folds), so that autoplot(fit, type = "balance") and
# autoplot(balance_table(fit)) carry one title.
evaluation_title <- function(ev, type) {
  sample <- evaluation_method_label(ev)
  if (!type %in% c("balance", "balance_slope", "weights")) {
    return(paste0(model_title(ev$fit), ", evaluated ", sample))
  }
  what <- if (type == "weights") "Weights: " else "Covariate balance: "
  paste0(what, balance_title(weight_model_of(ev$fit), sample))
}
