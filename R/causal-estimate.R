# The causal_estimate class: estimates on an analysis scale ("identity" or
# "log"), with a sandwich covariance or bootstrap replicates on that scale.

new_causal_estimate <- function(estimate, vcov, replicates, se_type, conf_level,
                                fit, scale = "identity", failed = NULL) {
  check_number(conf_level, "conf_level", min = 0.5, max = 0.9999)
  if (!is.null(replicates)) {
    # Survival contrasts: replicates whose curves end before a time are NA there.
    vcov <- stats::cov(replicates, use = if (anyNA(replicates)) "pairwise.complete.obs" else "everything")
    dimnames(vcov) <- list(names(estimate), names(estimate))
  }
  fit_info <- if (inherits(fit, "causallib_model")) model_info(fit) else fit
  structure(list(
    estimate = estimate, vcov = vcov, replicates = replicates, se_type = se_type,
    conf_level = conf_level, scale = scale, fit_info = fit_info,
    contrast = NULL, reference = NULL, failed = failed %||% 0L
  ), class = "causal_estimate")
}

# What an estimate keeps of the model it came from: the model's printed
# header (with the outcome it was estimated for) and the fields of glance().
model_info <- function(fit, outcome = outcome_label(fit)) {
  list(estimator = model_label(fit), estimand = fit$estimand %||% "ATE",
       n = fit$n, call = fit$call, header = model_header(fit, outcome))
}

`%||%` <- function(x, y) if (is.null(x)) y else x

back_transform <- function(x, scale) if (scale == "log") exp(x) else x

estimate_table <- function(x, conf_level = x$conf_level) {
  est <- x$estimate
  se <- if (is.null(x$vcov)) rep(NA_real_, length(est)) else sqrt(diag(x$vcov))
  z <- est / se
  null_value <- 0
  alpha <- 1 - conf_level
  if (!is.null(x$replicates)) {
    q <- apply(x$replicates, 2L, stats::quantile, probs = c(alpha / 2, 1 - alpha / 2),
               na.rm = TRUE, names = FALSE)
    lo <- q[1L, ]
    hi <- q[2L, ]
  } else {
    crit <- stats::qnorm(1 - alpha / 2)
    lo <- est - crit * se
    hi <- est + crit * se
  }
  data.frame(
    term = names(est),
    estimate = back_transform(est, x$scale),
    std.error = se,
    statistic = (est - null_value) / se,
    p.value = 2 * stats::pnorm(-abs(z)),
    conf.low = back_transform(lo, x$scale),
    conf.high = back_transform(hi, x$scale),
    row.names = NULL, stringsAsFactors = FALSE
  )
}

describe_estimate <- function(x) {
  what <- if (is.null(x$contrast)) {
    "Potential outcome means"
  } else {
    switch(x$contrast, diff = "Effect (difference", ratio = "Effect (ratio",
           odds_ratio = "Effect (odds ratio", risk_difference = "Effect (risk difference",
           survival_difference = "Effect (survival difference", risk_ratio = "Effect (risk ratio",
           rmst_difference = "Effect (restricted mean survival time difference") |>
      paste0(" against ", x$reference, ")")
  }
  se <- switch(x$se_type,
    sandwich = "sandwich (stacked estimating equations)",
    bootstrap = paste0("bootstrap, ", nrow(x$replicates), " replicates, percentile intervals"),
    influence = "influence function",
    none = "none")
  if (x$scale == "log" && x$se_type != "none") se <- paste(se, "(std.error on the log scale)")
  c(what = what, se = se)
}

#' @export
print.causal_estimate <- function(x, digits = 4, ...) {
  d <- describe_estimate(x)
  cat_header(x$fit_info$header, d[["se"]], d[["what"]])
  tab <- estimate_table(x)
  show <- tab[, c("term", "estimate", "std.error", "conf.low", "conf.high", "p.value")]
  names(show)[4:5] <- paste0(c("lower ", "upper "), format(100 * x$conf_level), "%")
  print(format(show, digits = digits), row.names = FALSE)
  invisible(x)
}

#' Summaries and tidiers for causal estimates
#'
#' `tidy()` returns broom's columns `term, estimate, std.error, statistic,
#' p.value, conf.low, conf.high` (for ratios, `std.error` and `statistic` are
#' on the log scale); `glance()` one row describing the estimation.
#'
#' @param x,object A `causal_estimate` from [estimate_outcomes()] or
#'   [estimate_effect()].
#' @param conf.level,level Confidence level (defaults to the one estimated with).
#' @param conf.int Include the interval columns?
#' @param parm Which terms (names or indices).
#' @param ... Unused.
#' @return `tidy()` and `glance()`: data frames. `confint()`: a matrix.
#'   `vcov()`: the covariance matrix on the analysis scale.
#' @name causal_estimate
#' @examples
#' fit <- standardization(wt82_71 ~ qsmk + sex + age + wt71, data = nhefs,
#'                        treatment = "qsmk", na_action = "omit")
#' eff <- estimate_effect(fit)
#' tidy(eff)
#' glance(eff)
#' confint(eff, level = 0.9)
#' summary(eff)
NULL

#' @rdname causal_estimate
#' @method tidy causal_estimate
#' @export
tidy.causal_estimate <- function(x, conf.int = TRUE, conf.level = x$conf_level, ...) {
  tab <- estimate_table(x, conf.level)
  if (!conf.int) tab <- tab[, setdiff(names(tab), c("conf.low", "conf.high"))]
  tab
}

#' @rdname causal_estimate
#' @method glance causal_estimate
#' @export
glance.causal_estimate <- function(x, ...) {
  info <- x$fit_info
  data.frame(
    estimator = info$estimator, estimand = info$estimand,
    contrast = x$contrast %||% "none", reference = x$reference %||% NA_character_,
    se_type = x$se_type, n_boot = if (is.null(x$replicates)) NA_integer_ else nrow(x$replicates),
    conf_level = x$conf_level, nobs = info$n, stringsAsFactors = FALSE
  )
}

#' @rdname causal_estimate
#' @export
confint.causal_estimate <- function(object, parm, level = object$conf_level, ...) {
  tab <- estimate_table(object, level)
  ci <- as.matrix(tab[, c("conf.low", "conf.high")])
  pct <- paste(format(100 * c((1 - level) / 2, 1 - (1 - level) / 2), trim = TRUE), "%")
  dimnames(ci) <- list(tab$term, pct)
  if (!missing(parm)) ci <- ci[parm, , drop = FALSE]
  ci
}

#' @rdname causal_estimate
#' @export
vcov.causal_estimate <- function(object, ...) {
  if (is.null(object$vcov)) cli::cli_abort("No standard errors were computed ({.code se = \"none\"}).")
  object$vcov
}

#' @rdname causal_estimate
#' @export
coef.causal_estimate <- function(object, ...) back_transform(object$estimate, object$scale)

#' @rdname causal_estimate
#' @export
nobs.causal_estimate <- function(object, ...) object$fit_info$n

#' @rdname causal_estimate
#' @export
summary.causal_estimate <- function(object, ...) {
  structure(list(table = tidy(object), glance = glance(object),
                 description = describe_estimate(object), outcomes = object$outcomes,
                 call = object$fit_info$call, header = object$fit_info$header),
            class = "summary.causal_estimate")
}

#' @export
print.summary.causal_estimate <- function(x, digits = 4, ...) {
  if (!is.null(x$call)) cat("Call: ", paste(deparse(x$call), collapse = "\n"), "\n\n", sep = "")
  cat_header(x$header, x$description[["se"]])
  cat("\n")
  if (!is.null(x$outcomes)) {
    cat("Potential outcome means:\n")
    print(format(tidy(x$outcomes)[, c("term", "estimate", "std.error", "conf.low", "conf.high")],
                 digits = digits), row.names = FALSE)
    cat("\n")
  }
  cat(x$description[["what"]], ":\n", sep = "")
  print(format(x$table, digits = digits), row.names = FALSE)
  invisible(x)
}
