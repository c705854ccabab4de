#' Covariate balance before and after weighting
#'
#' One row per covariate of the weight model's design (its model-matrix
#' columns) with the standardized mean difference, variance ratio and
#' Kolmogorov-Smirnov statistic between treatment groups, unweighted and
#' weighted by the fitted weights.
#'
#' The standardized mean difference is
#' \eqn{(\bar x_1^w - \bar x_0^w) / \sqrt{(s_1^2 + s_0^2) / 2}}: weighted
#' means over unweighted sample variances, so that weighting cannot move
#' the yardstick (cobalt's convention, `s.d.denom = "pooled"`, applied to
#' binary covariates too). Variance ratios divide group 1's variance by
#' group 0's, each weighted as the means are, with the bias correction
#' \eqn{\sum w (x - \bar x)^2 / (\sum w - \sum w^2 / \sum w)}. Sampling
#' weights count in every statistic, the unweighted ones included. For a
#' binary treatment group 1 is the last level and group 0 the first; with
#' more levels each level is compared with all the others together (column
#' `treatment`).
#'
#' @param fit A fitted weight model ([ipw()]), or a survival model fitted
#'   with a `weight_model`, a `weightit` or `matchit` object, or models fitted
#'   on imputed data sets ([with_imputations()]: the mean of each statistic
#'   over the imputations).
#' @param data Unused unless `fit` is to be refitted on new data: a data
#'   frame the model is refitted on first.
#' @return A data frame with columns `treatment`, `covariate`,
#'   `smd_unweighted`, `smd_weighted`, `variance_ratio_unweighted`,
#'   `variance_ratio_weighted`, `ks_unweighted` and `ks_weighted`.
#' @export
#' @examples
#' fit <- ipw(qsmk ~ sex + race + age + education + smokeintensity + wt71, data = nhefs)
#' balance_table(fit)
balance_table <- function(fit, data = NULL) {
  if (inherits(fit, "causallib_imputed")) return(imputed_balance(fit, data))
  fit <- weight_model_of(fit)
  if (!is.null(data)) fit <- refit_on_data(fit, data)
  balance_stats(covariate_matrix(fit), fit$treatment, fit$weights, fit$sampling_weights)
}

# The weight model inside a fit.
weight_model_of <- function(fit) {
  if (inherits(fit, c("weightit", "matchit"))) return(as_weight_model(fit))
  if (inherits(fit, "causallib_weight_model")) return(fit)
  wm <- if (inherits(fit, c("causallib_survival", "causallib_dr"))) fit$weight_model
  if (is.null(wm)) {
    cli::cli_abort("{.arg fit} must be a weight model such as {.fn ipw}, or a model fitted with one.")
  }
  wm
}

# The design's covariates, without an intercept column.
covariate_matrix <- function(fit) {
  x <- fit$x
  x[, colnames(x) != "(Intercept)", drop = FALSE]
}

# Balance of the columns of x between the groups of the factor a, without
# and with the adjustment weights w (sw: sampling weights or NULL).
balance_stats <- function(x, a, w, sw = NULL) {
  sw <- sw %||% rep(1, length(a))
  contrasts <- if (nlevels(a) == 2L) nlevels(a) else seq_len(nlevels(a))
  rows <- lapply(contrasts, function(k) {
    g <- 1L + (as.integer(a) == k)
    raw <- group_moments(x, g, sw, 2L)
    adj <- group_moments(x, g, sw * w, 2L)
    v_raw <- group_variances(raw)
    v_adj <- group_variances(adj)
    pooled <- sqrt((v_raw[1L, ] + v_raw[2L, ]) / 2)
    data.frame(
      treatment = levels(a)[k], covariate = colnames(x),
      smd_unweighted = finite_or_na((raw$mean[2L, ] - raw$mean[1L, ]) / pooled),
      smd_weighted = finite_or_na((adj$mean[2L, ] - adj$mean[1L, ]) / pooled),
      variance_ratio_unweighted = finite_or_na(v_raw[2L, ] / v_raw[1L, ]),
      variance_ratio_weighted = finite_or_na(v_adj[2L, ] / v_adj[1L, ]),
      ks_unweighted = weighted_ks(x, g, sw),
      ks_weighted = weighted_ks(x, g, sw * w),
      row.names = NULL, stringsAsFactors = FALSE
    )
  })
  do.call(rbind, rows)
}

# Bias-corrected weighted variances (G x p) from group moments.
group_variances <- function(m) {
  m$ss / (m$sum_w - m$sum_w2 / m$sum_w)
}

finite_or_na <- function(v) {
  v[!is.finite(v)] <- NA_real_
  v
}
