# The causal_survival class: survival curves per treatment level on a time
# grid, with influence-function standard errors or bootstrap replicates.

# Survival of every arm at `times` (K x length(times)): the curves are step
# functions that start at `start` and change at the grid times.
survival_at <- function(x, times, surv = x$survival, start = 1) {
  j <- findInterval(times, x$times)
  cbind(start, surv)[, j + 1L, drop = FALSE]
}

# Restricted mean survival time up to each of `times` (K x length(times)).
rmst_at <- function(x, times, surv = x$survival) {
  grid <- c(0, x$times)
  steps <- cbind(1, surv)
  vapply(times, function(tau) {
    upto <- grid < tau
    width <- diff(c(grid[upto], tau))
    drop(steps[, upto, drop = FALSE] %*% width)
  }, numeric(nrow(steps)))
}

#' @export
print.causal_survival <- function(x, digits = 3, ...) {
  print_model_header(x)
  print_tables(summary_tables(x), digits)
  invisible(x)
}

method_label <- function(method) {
  switch(method, km = , grid_km = "weighted Kaplan-Meier",
         pooled_logistic = , grid_pooled_logistic = "pooled-logistic hazards",
         cox = "Cox proportional hazards", aalen_johansen = "weighted Aalen-Johansen",
         cs_pooled_logistic = "cause-specific pooled-logistic hazards",
         cs_cox = "cause-specific Cox proportional hazards")
}

interval_label <- function(x) {
  switch(x$se_type,
    sandwich = "influence function (infinitesimal jackknife), intervals on the log-survival scale",
    bootstrap = paste0("bootstrap, ", dim(x$replicates)[1L], " replicates, percentile"),
    none = "none")
}

#' Tidy survival curves
#'
#' One row per time and treatment level, starting at time 0 where every
#' curve is 1: `time`, `treatment`, `survival`, `std.error`, `conf.low` and
#' `conf.high`. These are the numbers [autoplot()][autoplot.causal_survival] draws.
#'
#' @param x A `causal_survival` object from [survival_ipw()] or
#'   [survival_standardization()].
#' @param conf.level Confidence level (defaults to the one fitted with).
#' @param ... Unused.
#' @return A data frame.
#' @method tidy causal_survival
#' @export
#' @examples
#' km <- survival_ipw(Surv(survtime, death) ~ qsmk, data = nhefs)
#' head(tidy(km))
tidy.causal_survival <- function(x, conf.level = x$conf_level, ...) {
  K <- length(x$levels)
  m <- length(x$times)
  surv <- cbind(1, x$survival)
  alpha <- 1 - conf.level
  se <- lo <- hi <- matrix(NA_real_, K, m + 1L)
  if (x$se_type == "sandwich") {
    se <- cbind(0, x$std_error)
    z <- stats::qnorm(1 - alpha / 2)
    half <- z * se / surv
    lo <- surv * exp(-half)
    hi <- pmin(1, surv * exp(half))
  } else if (x$se_type == "bootstrap") {
    reps <- x$replicates
    se <- cbind(0, apply(reps, c(2L, 3L), stats::sd, na.rm = TRUE))
    lo <- cbind(1, apply(reps, c(2L, 3L), stats::quantile, probs = alpha / 2, na.rm = TRUE, names = FALSE))
    hi <- cbind(1, apply(reps, c(2L, 3L), stats::quantile, probs = 1 - alpha / 2, na.rm = TRUE, names = FALSE))
  }
  data.frame(
    time = rep(c(0, x$times), each = K),
    treatment = factor(rep(x$levels, m + 1L), levels = x$levels),
    survival = as.vector(surv), std.error = as.vector(se),
    conf.low = as.vector(lo), conf.high = as.vector(hi),
    row.names = NULL
  )
}

#' Causal contrasts of survival curves
#'
#' Contrasts every treatment level with the `reference` level at each of
#' `times`: the survival difference \eqn{S_a(t) - S_r(t)}, the risk
#' difference \eqn{(1 - S_a(t)) - (1 - S_r(t))}, the risk ratio
#' \eqn{(1 - S_a(t)) / (1 - S_r(t))} (estimated, tested and given intervals
#' on the log scale), or the difference in restricted mean survival time
#' \eqn{\int_0^t S_a - S_r}.
#'
#' Bootstrap fits give percentile intervals from the contrast's replicates.
#' Influence-function standard errors of weighted Kaplan-Meier curves
#' combine the arms' independent variances by the delta method; they do
#' not give covariances between different times (`NA` in `vcov()`), nor
#' restricted mean survival times.
#'
#' @param fit A `causal_survival` object.
#' @param times Times at which to contrast the curves, within follow-up.
#' @param contrast `"risk_difference"` (default), `"survival_difference"`,
#'   `"risk_ratio"` or `"rmst_difference"`.
#' @param reference The reference treatment level; by default the first.
#' @param conf_level Confidence level.
#' @param ... Unused.
#' @return A `causal_estimate` (see [tidy.causal_estimate()]), one term per
#'   level and time.
#' @export
#' @examples
#' km <- survival_ipw(Surv(survtime, death) ~ qsmk, data = nhefs)
#' estimate_effect(km, times = c(60, 120))
#' estimate_effect(km, times = 120, contrast = "risk_ratio")
estimate_effect.causal_survival <- function(fit, times, contrast = "risk_difference",
                                            reference = NULL, conf_level = fit$conf_level, ...) {
  rlang::check_dots_empty()
  contrast <- rlang::arg_match0(contrast, names(survival_contrasts), "contrast")
  times <- check_times(fit, times)
  ref <- if (is.null(reference)) 1L else match(as.character(reference), fit$levels)
  if (length(ref) != 1L || is.na(ref)) {
    cli::cli_abort("{.arg reference} must be one of the treatment levels {.val {fit$levels}}.")
  }
  f <- survival_contrasts[[contrast]]
  others <- setdiff(seq_along(fit$levels), ref)
  summary_at <- function(surv) f$summary(fit, times, surv)
  est_of <- function(surv) {
    s <- summary_at(surv)
    as.vector(t(f$value(s[others, , drop = FALSE], s[rep(ref, length(others)), , drop = FALSE])))
  }
  s <- summary_at(fit$survival)
  if (any(is.na(s))) cli::cli_abort("Some curve is not estimated at {.arg times} (no one left at risk).")
  if (contrast == "risk_ratio" && any(s >= 1)) {
    cli::cli_abort("{.code contrast = \"risk_ratio\"} needs a positive risk in every arm at {.arg times}.")
  }
  est <- est_of(fit$survival)
  names(est) <- paste(rep(fit$levels[others], each = length(times)), "vs", fit$levels[ref],
                      "at", format(rep(times, length(others)), trim = TRUE))
  reps <- V <- NULL
  if (fit$se_type == "bootstrap") {
    reps <- t(apply(fit$replicates, 1L, est_of))
    if (length(est) == 1L) reps <- t(reps)
    colnames(reps) <- names(est)
    reps <- usable_replicates(reps, times)
  } else if (fit$se_type == "sandwich") {
    V <- influence_vcov(fit, f, contrast, times, others, ref)
    dimnames(V) <- list(names(est), names(est))
  }
  out <- new_causal_estimate(est, V, reps, fit$se_type, conf_level, fit, scale = f$scale)
  out$contrast <- contrast
  out$reference <- fit$levels[ref]
  out
}

# The bootstrap replicates of a contrast that have a curve in every arm at
# `times`: a resample can end an arm's follow-up earlier than the data do.
# Those left out are reported, as run_bootstrap() reports failed ones; none
# left is an error rather than an interval without replicates.
usable_replicates <- function(reps, times) {
  usable <- stats::complete.cases(reps)
  if (all(usable)) return(reps)
  if (!any(usable)) {
    cli::cli_abort(c(
      "None of the {nrow(reps)} bootstrap replicates has a curve in every arm at {.arg times} = {times}.",
      x = "In every resample some arm's follow-up ends before then.",
      i = "Ask for earlier {.arg times}."
    ))
  }
  cli::cli_warn(c(
    "{sum(!usable)} of {nrow(reps)} bootstrap {cli::qty(sum(!usable))}replicate{?s} {?has/have} no curve in some arm at {.arg times} and {?was/were} left out of the interval.",
    i = "In {cli::qty(sum(!usable))}{?that resample/those resamples} the arm's follow-up ends before then."
  ))
  reps[usable, , drop = FALSE]
}

check_times <- function(fit, times) {
  if (missing(times) || !is.numeric(times) || !length(times) || anyNA(times) || any(times < 0)) {
    cli::cli_abort("{.arg times} must be non-negative numbers, such as {.code times = 120}.")
  }
  last <- max(fit$times)
  if (any(times > last)) {
    cli::cli_abort("{.arg times} must lie within follow-up: the curves end at time {last}.")
  }
  sort(unique(as.double(times)))
}

survival_contrasts <- list(
  risk_difference = list(scale = "identity", summary = survival_at,
                         value = function(s, r) r - s, grad = c(-1, 1)),
  survival_difference = list(scale = "identity", summary = survival_at,
                             value = function(s, r) s - r, grad = c(1, -1)),
  risk_ratio = list(scale = "log", summary = survival_at,
                    value = function(s, r) log(1 - s) - log(1 - r), grad = NULL),
  rmst_difference = list(scale = "identity", summary = rmst_at,
                         value = function(s, r) s - r, grad = NULL)
)

# Delta-method covariance of contrasts of independent weighted Kaplan-Meier
# curves at the same time; covariances across times are not available.
influence_vcov <- function(fit, f, contrast, times, others, ref) {
  if (contrast == "rmst_difference") {
    cli::cli_abort("Influence-function intervals do not cover {.code \"rmst_difference\"}; refit with {.code se = \"bootstrap\"}.")
  }
  s <- survival_at(fit, times)
  v <- survival_at(fit, times, fit$std_error, start = 0)^2
  # d contrast / d S_k(t): rows are levels, columns times.
  d <- if (contrast == "risk_ratio") -1 / (1 - s) else s * 0 + f$grad[1L]
  d[ref, ] <- if (contrast == "risk_ratio") 1 / (1 - s[ref, ]) else f$grad[2L]
  nt <- length(times)
  V <- matrix(NA_real_, length(others) * nt, length(others) * nt)
  for (i in seq_along(others)) for (j in seq_along(others)) for (t in seq_len(nt)) {
    cov <- d[ref, t]^2 * v[ref, t]
    if (i == j) cov <- cov + d[others[i], t]^2 * v[others[i], t]
    V[(i - 1L) * nt + t, (j - 1L) * nt + t] <- cov
  }
  V
}

#' Plot survival curves
#'
#' Step curves per treatment level with their confidence bands, drawn from
#' [tidy.causal_survival()]'s data frame (so the numbers can be checked).
#' With `type = "survival"`, the model's curve of each arm against the
#' arm's Kaplan-Meier curve instead (see [autoplot.causal_evaluation()]).
#' `plot()` draws the same plot ([plot.causallib_model()]). Needs the
#' ggplot2 package.
#'
#' @param object A `causal_survival` object.
#' @param type `NULL` for the causal curves, or an evaluation plot type.
#' @param ... Unused.
#' @return A ggplot object.
#' @exportS3Method ggplot2::autoplot
#' @examples
#' if (requireNamespace("ggplot2", quietly = TRUE)) {
#'   km <- survival_ipw(Surv(survtime, death) ~ qsmk, data = nhefs)
#'   ggplot2::autoplot(km)
#' }
autoplot.causal_survival <- function(object, type = NULL, ...) {
  rlang::check_dots_empty()
  model_plot(object, type)
}

#' @export
model_plot.causallib_survival <- function(object, type = NULL) {
  if (!is.null(type)) return(NextMethod())
  rlang::check_installed("ggplot2", "to plot survival curves.")
  d <- tidy(object)
  d <- d[!is.na(d$survival), , drop = FALSE]
  p <- ggplot2::ggplot(d, ggplot2::aes(x = .data$time, y = .data$survival,
                                       colour = .data$treatment, fill = .data$treatment))
  if (object$se_type != "none") {
    p <- p + ggplot2::geom_ribbon(ggplot2::aes(ymin = .data$conf.low, ymax = .data$conf.high),
                                  data = step_ribbon(d), colour = NA, alpha = 0.2)
  }
  p + ggplot2::geom_step() +
    ggplot2::labs(x = "Time", y = "Survival", colour = object$treatment_name,
                  fill = object$treatment_name,
                  title = paste(object$estimator, "survival curves"),
                  subtitle = method_label(object$method))
}

# Bands of step functions: each value held until the next time.
step_ribbon <- function(d) {
  do.call(rbind, lapply(split(d, d$treatment), function(g) {
    g <- g[order(g$time), , drop = FALSE]
    n <- nrow(g)
    held <- g[rep(seq_len(n), each = 2L)[-2L * n], , drop = FALSE]
    held$time <- rep(g$time, each = 2L)[-1L]
    held
  }))
}
