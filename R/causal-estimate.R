# The causal_estimate class: estimates on an analysis scale ("identity" or
# "log"), with a sandwich covariance or bootstrap replicates on that scale.

new_causal_estimate <- function(estimate, vcov, replicates, se_type, conf_level,
                                fit, scale = "identity", failed = NULL) {
  check_conf_level(conf_level)
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
# header (with the outcome it was estimated for), how the model computes
# the sandwich standard errors of its estimates (se_label()) and the fields
# of glance().
model_info <- function(fit, outcome = outcome_label(fit)) {
  list(estimator = model_label(fit), estimand = fit$estimand %||% "ATE",
       n = fit$n, call = fit$call, header = model_header(fit, outcome),
       sandwich = se_label(fit, estimate = TRUE))
}

`%||%` <- function(x, y) if (is.null(x)) y else x

back_transform <- function(x, scale) if (scale == "log") exp(x) else x

# broom's columns of an estimate. Potential-outcome means (no contrast)
# are not tested: a mean outcome of 0 is no hypothesis anyone holds, so
# their statistic and p-value are NA; effects are tested against no effect
# (0 on their analysis scale).
estimate_table <- function(x, conf_level = x$conf_level) {
  est <- x$estimate
  se <- if (is.null(x$vcov)) rep(NA_real_, length(est)) else sqrt(diag(x$vcov))
  z <- if (is.null(x$contrast)) rep(NA_real_, length(est)) else est / se
  alpha <- 1 - conf_level
  if (!is.null(x$replicates)) {
    q <- apply(x$replicates, 2L, stats::quantile, probs = c(alpha / 2, 1 - alpha / 2),
               na.rm = TRUE, names = FALSE)
    lo <- q[1L, ]
    hi <- q[2L, ]
  } else {
    crit <- if (is.null(x$df)) stats::qnorm(1 - alpha / 2) else stats::qt(1 - alpha / 2, x$df)
    lo <- est - crit * se
    hi <- est + crit * se
  }
  data.frame(
    term = names(est),
    estimate = back_transform(est, x$scale),
    std.error = se,
    statistic = z,
    p.value = if (is.null(x$df)) 2 * stats::pnorm(-abs(z)) else 2 * stats::pt(-abs(z), x$df),
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
    sandwich = x$fit_info$sandwich,
    bootstrap = paste0("bootstrap, ", nrow(x$replicates), " replicates, percentile intervals"),
    influence = "influence function",
    rubin = paste0("Rubin's rules over ", x$imputation$m, " imputations (",
                   x$imputation$se_type, " within each), t intervals"),
    none = "none")
  if (x$scale == "log" && x$se_type != "none") se <- paste(se, "(std.error on the log scale)")
  c(what = what, se = se)
}

#' @export
print.causal_estimate <- function(x, digits = 4, ...) {
  d <- describe_estimate(x)
  cat_header(x$fit_info$header, d[["se"]], d[["what"]])
  tab <- estimate_table(x)
  cols <- c("term", "estimate", "std.error", "conf.low", "conf.high",
            if (!is.null(x$contrast)) "p.value")
  show <- format_estimate_table(tab[, cols], x$scale, digits)
  names(show)[4:5] <- paste0(c("lower ", "upper "), format(100 * x$conf_level), "%")
  print(show, row.names = FALSE, right = TRUE)
  invisible(x)
}

# An estimate table as text, one number format per column: the estimates
# and interval bounds (on one scale) with the decimals that give the
# smallest standard error `digits` significant digits, so every number of
# a column has as many decimals and none is in scientific notation; the
# standard error with them too unless it is on the log scale of a ratio
# (then with its own); statistics with 2 decimals; p-values with 4, below
# 0.0001 as "<0.0001".
format_estimate_table <- function(tab, scale = "identity", digits = 4) {
  fixed <- format_fixed
  decimals <- function(v) {
    v <- abs(v[is.finite(v) & v != 0])
    if (!length(v)) return(0L)
    as.integer(min(max(digits - 1 - floor(log10(min(v))), 0), 10))
  }
  se <- tab$std.error
  d_est <- decimals(if (scale == "identity" && any(is.finite(se))) se else tab$estimate)
  out <- tab
  for (col in intersect(c("estimate", "conf.low", "conf.high"), names(tab))) {
    out[[col]] <- fixed(tab[[col]], d_est)
  }
  if (!is.null(se)) out$std.error <- fixed(se, if (scale == "identity") d_est else decimals(se))
  if (!is.null(tab$statistic)) out$statistic <- fixed(tab$statistic, 2L)
  if (!is.null(tab$p.value)) {
    p <- tab$p.value
    out$p.value <- ifelse(is.na(p), "NA", ifelse(p < 1e-4, "<0.0001", formatC(p, format = "f", digits = 4)))
  }
  out
}

# Numbers as text with d decimals each, never in scientific notation, NA as
# "NA": one format for a column.
format_fixed <- function(v, d) ifelse(is.na(v), "NA", formatC(v, format = "f", digits = d))

#' Summaries and tidiers for causal estimates
#'
#' `tidy()` returns broom's columns `term, estimate, std.error, statistic,
#' p.value, conf.low, conf.high` (for ratios, `std.error` and `statistic` are
#' on the log scale), then `estimator` and `estimand`, so that the rows of
#' several estimates bound together keep their labels. Effects are tested
#' against no effect; potential-outcome means are not tested (their
#' `statistic` and `p.value` are `NA`). `glance()` gives one row describing
#' the estimation.
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
  check_conf_level(conf.level, "conf.level")
  tab <- estimate_table(x, conf.level)
  if (!conf.int) tab <- tab[, setdiff(names(tab), c("conf.low", "conf.high"))]
  tab$estimator <- x$fit_info$estimator
  tab$estimand <- x$fit_info$estimand
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
  check_conf_level(level, "level")
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
                 contrast = object$contrast, scale = object$scale,
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
    means <- tidy(x$outcomes)[, c("term", "estimate", "std.error", "conf.low", "conf.high")]
    print(format_estimate_table(means, x$outcomes$scale, digits), row.names = FALSE, right = TRUE)
    cat("\n")
  }
  cat(x$description[["what"]], ":\n", sep = "")
  tab <- x$table[, setdiff(names(x$table), c("estimator", "estimand"))]
  if (is.null(x$contrast)) tab <- tab[, setdiff(names(tab), c("statistic", "p.value"))]
  print(format_estimate_table(tab, x$scale, digits), row.names = FALSE, right = TRUE)
  invisible(x)
}
