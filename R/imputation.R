# Multiple imputation: one model per completed data set, estimates pooled
# by Rubin's rules, balance averaged over the imputations.

#' Fit a model on every imputed data set
#'
#' Fits the same causal model on each completed data set of a multiple
#' imputation, so that [estimate_effect()] and [estimate_outcomes()] pool
#' the estimates by Rubin's rules, [balance_table()] averages the balance
#' over the imputations (as cobalt does), and `tidy()` pools survival
#' curves.
#'
#' Pooling (Rubin 1987; Barnard and Rubin 1999): with \eqn{m} imputations,
#' the estimate is the mean \eqn{\bar Q} of the \eqn{m} estimates, its
#' covariance \eqn{T = \bar U + (1 + 1/m) B}, the mean within-imputation
#' covariance plus the between-imputation covariance, and intervals and
#' p-values use a t distribution with Barnard and Rubin's degrees of freedom
#' (complete-data degrees of freedom infinite, as the estimators' own
#' intervals are large-sample ones). This is `mice::pool.scalar()` for each
#' term. Bootstrap fits contribute the covariance of their replicates, so
#' pooled intervals are then Wald intervals, not percentile ones. Ratios are
#' pooled on the log scale.
#'
#' @param data A `mids` object from `mice::mice()`, or a list of at least two
#'   completed data frames.
#' @param fit A function of one data frame returning a fitted model, or a
#'   one-sided formula in `.x` (as `~ ipw(qsmk ~ sex + age, data = .x)`).
#' @return A `causallib_imputed` object: `fits` (one model per data set) and
#'   `m`.
#' @export
#' @examples
#' d <- nhefs[c("qsmk", "sex", "age", "wt71", "wt82_71")]
#' set.seed(1)
#' d$wt71[sample(nrow(d), 150)] <- NA
#' # Completed data sets (here by a crude random draw; use mice in practice)
#' completed <- lapply(1:5, function(i) {
#'   di <- d
#'   miss <- is.na(di$wt71)
#'   di$wt71[miss] <- sample(d$wt71[!miss], sum(miss), replace = TRUE)
#'   di[!is.na(di$wt82_71), ]
#' })
#' fits <- with_imputations(completed, ~ ipw(qsmk ~ sex + age + wt71, data = .x))
#' fits
#' estimate_effect(fits, outcome = wt82_71)
#' head(balance_table(fits))
with_imputations <- function(data, fit) {
  sets <- completed_sets(data)
  f <- if (rlang::is_formula(fit, lhs = FALSE)) rlang::as_function(fit) else fit
  if (!is.function(f)) {
    cli::cli_abort("{.arg fit} must be a function of one data frame or a one-sided formula in {.code .x}, not {value_label(fit)}.")
  }
  fits <- lapply(seq_along(sets), function(i) {
    out <- tryCatch(f(sets[[i]]), error = function(e) {
      cli::cli_abort("Fitting on imputed data set {i} failed.", parent = e)
    })
    if (!inherits(out, "causallib_model")) {
      cli::cli_abort("{.arg fit} must return a fitted causal model; on data set {i} it returned {.obj_type_friendly {out}}.")
    }
    out
  })
  cls <- vapply(fits, function(x) class(x)[1L], character(1))
  if (length(unique(cls)) > 1L) {
    cli::cli_abort("{.arg fit} must fit the same kind of model on every data set; it gave {.cls {unique(cls)}}.")
  }
  structure(list(fits = fits, m = length(fits)), class = "causallib_imputed")
}

# The completed data sets of a mids object or a list of data frames.
completed_sets <- function(data) {
  if (inherits(data, "mids")) {
    rlang::check_installed("mice", "to complete a {.cls mids} object")
    return(lapply(seq_len(data$m), function(i) mice::complete(data, i)))
  }
  ok <- is.list(data) && !is.data.frame(data) && length(data) >= 2L &&
    all(vapply(data, is.data.frame, logical(1)))
  if (!ok) {
    cli::cli_abort("{.arg data} must be a {.cls mids} object or a list of at least two completed data frames, not {.obj_type_friendly {data}}.")
  }
  data
}

#' @export
print.causallib_imputed <- function(x, ...) {
  cat("Fits on", x$m, "imputed data sets; the first:\n")
  print_model_header(x$fits[[1L]])
  invisible(x)
}

#' @rdname with_imputations
#' @param ... Passed to the method for each fit.
#' @export
estimate_effect.causallib_imputed <- function(fit, ...) {
  pool_estimates(lapply(fit$fits, function(f) estimate_effect(f, ...)))
}

#' @rdname with_imputations
#' @export
estimate_outcomes.causallib_imputed <- function(fit, ...) {
  pool_estimates(lapply(fit$fits, function(f) estimate_outcomes(f, ...)))
}

# Rubin's rules over a list of causal_estimates of the same terms.
pool_estimates <- function(ests) {
  m <- length(ests)
  first <- ests[[1L]]
  if (any(vapply(ests, function(e) !identical(names(e$estimate), names(first$estimate)), logical(1)))) {
    cli::cli_abort("The imputed data sets gave estimates of different terms; fit the same model on each.")
  }
  if (any(vapply(ests, function(e) is.null(e$vcov), logical(1)))) {
    cli::cli_abort("Pooling needs standard errors from every data set; do not use {.code se = \"none\"}.")
  }
  Q <- do.call(rbind, lapply(ests, `[[`, "estimate"))
  rubin <- rubin_rules(Q, lapply(ests, `[[`, "vcov"))
  out <- new_causal_estimate(colMeans(Q), rubin$total, NULL, "rubin", first$conf_level,
                             first$fit_info, scale = first$scale)
  out$contrast <- first$contrast
  out$reference <- first$reference
  out$df <- rubin$df
  out$imputation <- list(m = m, within = diag(rubin$within), between = diag(rubin$between),
                         fmi = rubin$fmi, se_type = first$se_type)
  out
}

# Rubin's rules: Q (m x k estimates), U (m covariance matrices) -> the
# total covariance, its parts, Barnard and Rubin's degrees of freedom with
# infinite complete-data degrees of freedom (mice's barnard.rubin(), with
# its floor of 1e-4 on lambda), and the fraction of missing information.
rubin_rules <- function(Q, U) {
  m <- nrow(Q)
  within <- Reduce(`+`, U) / m
  between <- stats::cov(Q)
  total <- within + (1 + 1 / m) * between
  dimnames(total) <- dimnames(within)
  lambda <- pmax((1 + 1 / m) * diag(between) / diag(total), 1e-4)
  df <- (m - 1) / lambda^2
  list(total = total, within = within, between = between, df = df,
       fmi = (df + 1) / (df + 3) * lambda + 2 / (df + 3))
}

#' @rdname with_imputations
#' @param x A `causallib_imputed` object of survival models.
#' @param conf.level Confidence level.
#' @method tidy causallib_imputed
#' @export
tidy.causallib_imputed <- function(x, conf.level = 0.95, ...) {
  if (!inherits(x$fits[[1L]], "causallib_survival")) {
    cli::cli_abort("{.fn tidy} pools survival curves; for other models use {.fn estimate_effect} or {.fn estimate_outcomes}.")
  }
  if (any(vapply(x$fits, function(f) identical(f$se_type, "none"), logical(1)))) {
    cli::cli_abort("Pooling needs standard errors from every data set; do not use {.code se = \"none\"}.")
  }
  tabs <- lapply(x$fits, tidy, conf.level = conf.level)
  key <- paste(tabs[[1L]]$time, tabs[[1L]]$treatment)
  if (any(vapply(tabs, function(t) !identical(paste(t$time, t$treatment), key), logical(1)))) {
    cli::cli_abort("The imputed data sets gave curves on different time grids; pool effects at chosen times with {.fn estimate_effect} instead.")
  }
  S <- do.call(rbind, lapply(tabs, `[[`, "survival"))
  V <- do.call(rbind, lapply(tabs, `[[`, "std.error"))^2
  m <- x$m
  est <- colMeans(S)
  total <- colMeans(V) + (1 + 1 / m) * apply(S, 2L, stats::var)
  lambda <- pmax((1 + 1 / m) * apply(S, 2L, stats::var) / total, 1e-4)
  df <- (m - 1) / lambda^2
  crit <- stats::qt(1 - (1 - conf.level) / 2, df)
  se <- sqrt(total)
  out <- tabs[[1L]][c("time", "treatment")]
  out$survival <- est
  out$std.error <- se
  out$conf.low <- ifelse(se > 0, pmax(0, est - crit * se), est)
  out$conf.high <- ifelse(se > 0, pmin(1, est + crit * se), est)
  out$df <- df
  out
}

# The mean of each balance statistic over the imputations.
imputed_balance <- function(fits, data, ...) {
  tabs <- lapply(fits$fits, balance_table, data = data, ...)
  out <- mean_columns(tabs)
  if (!is.null(out$balanced)) {
    threshold <- attr(out, "threshold")
    out$balanced <- ifelse(is.na(out$balanced), NA, abs(out$diff_weighted) < threshold)
  }
  sizes <- lapply(tabs, attr, "sample_sizes")
  if (!is.null(sizes[[1L]])) attr(out, "sample_sizes") <- mean_columns(sizes)
  attr(out, "title") <- paste0(attr(out, "title"), ", mean over ", fits$m, " imputations")
  out
}

# The first table with each numeric column replaced by its mean over the
# tables.
mean_columns <- function(tabs) {
  out <- tabs[[1L]]
  num <- vapply(out, is.numeric, logical(1))
  for (v in names(out)[num]) out[[v]] <- rowMeans(do.call(cbind, lapply(tabs, `[[`, v)))
  out
}
