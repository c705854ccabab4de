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

# How a survival fit's intervals are computed; with estimate = TRUE
# without the scale of the curves' pointwise intervals (see se_label()).
interval_label <- function(x, estimate = FALSE) {
  switch(x$se_type,
    sandwich = paste0("influence function (with the nuisance models' estimation)",
                      cluster_label(x), if (!estimate) ", intervals on the log-survival scale"),
    bootstrap = paste0("bootstrap, ", dim(x$replicates)[1L], " replicates, percentile",
                       cluster_label(x)),
    none = "none")
}

#' Tidy survival curves
#'
#' One row per time and treatment level, starting at time 0 where every
#' curve is 1: `time`, `treatment`, `survival`, `std.error`, `conf.low` and
#' `conf.high`. These are the numbers [autoplot()][autoplot.causal_survival] draws.
#'
#' Influence-function (`se = "sandwich"`) pointwise intervals
#' (`band = "pointwise"`) are computed on the log-survival scale,
#' \eqn{S \exp(\pm z\, \mathrm{se}/S)} with \eqn{z} the normal quantile, as
#' [survival::survfit()]'s default, so each interval covers its own time
#' with probability `conf.level`. A simultaneous band (`band =
#' "simultaneous"`) covers whole curves with probability about
#' `conf.level`: it is computed on the log-minus-log scale,
#' \eqn{S^{\exp(\pm c\, \mathrm{se} / (S |\log S|))}}, whose standardized
#' deviations stay close to normal where few events have occurred (on the
#' log scale they are skewed there, and a band, which must hold at every
#' time at once, loses coverage to them), and \eqn{c} is the `conf.level`
#' quantile of the largest standardized deviation over the arms and the
#' times from `band_from` on (a sup-t band): drawn by simulation (10,000
#' draws with R's random number generator, so [set.seed()] reproduces it)
#' from the normal law with the curves' influence-function correlation, at
#' every time from `band_from` on where a curve or its standard error
#' changes (up to 200 such times per arm, spread over follow-up).
#' Bootstrap fits give pointwise percentile intervals.
#'
#' The band covers the curves from `band_from` to their end, by default
#' [band_start()]: the first time at which every arm has 20 observed
#' events. Before it the normal approximation fails (a curve that rests on
#' a handful of events is far from normal), and a band that held there too
#' would miss far more often than its level says; the rows before
#' `band_from` have `NA` as `conf.low` and `conf.high` with `band =
#' "simultaneous"`. `band_from = 0` gives a band over the whole curves.
#'
#' @param x A `causal_survival` object from [survival_ipw()] or
#'   [survival_standardization()].
#' @param conf.level Confidence level (defaults to the one fitted with).
#' @param band `"pointwise"` (default) or `"simultaneous"` intervals; see
#'   Details.
#' @param band_from The time from which a simultaneous band covers the
#'   curves (used with `band = "simultaneous"` only); by default
#'   [band_start()], the first time at which every arm has 20 events.
#' @param ... Unused.
#' @return A data frame.
#' @method tidy causal_survival
#' @export
#' @examples
#' km <- survival_ipw(Surv(survtime, death) ~ qsmk, data = nhefs)
#' head(tidy(km))
#' set.seed(1)
#' band <- tidy(km, band = "simultaneous")
#' band[band$time >= band_start(km), ][1:4, ]
tidy.causal_survival <- function(x, conf.level = x$conf_level, band = "pointwise",
                                 band_from = band_start(x), ...) {
  band <- rlang::arg_match0(band, c("pointwise", "simultaneous"), "band")
  check_number(conf.level, "conf.level", min = 0.5, max = 0.9999)
  K <- length(x$levels)
  m <- length(x$times)
  surv <- cbind(1, x$survival)
  alpha <- 1 - conf.level
  se <- lo <- hi <- matrix(NA_real_, K, m + 1L)
  if (band == "simultaneous" && x$se_type != "sandwich") {
    cli::cli_abort(c(
      "{.code band = \"simultaneous\"} needs influence-function intervals; this fit has {.code se = \"{x$se_type}\"}.",
      i = "Refit with {.code se = \"sandwich\"}."
    ))
  }
  if (x$se_type == "sandwich") {
    se <- cbind(0, x$std_error)
    if (band == "pointwise") {
      half <- stats::qnorm(1 - alpha / 2) * se / surv
      lo <- surv * exp(-half)
      hi <- pmin(1, surv * exp(half))
    } else {
      # On the log(-log) scale; where the curve is 1 (no events yet) or 0
      # its standard error is 0 and so is the band's width.
      check_number(band_from, "band_from", min = 0, max = max(x$times))
      half <- band_critical_value(x, conf.level, band_from) * se / (surv * abs(log(surv)))
      half[se == 0 & !is.na(se)] <- 0
      lo <- surv^exp(half)
      hi <- surv^exp(-half)
      lo[, c(0, x$times) < band_from] <- hi[, c(0, x$times) < band_from] <- NA
    }
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
#' Influence-function (`se = "sandwich"`) fits give the full covariance of
#' the contrasts at all `times` and levels (see [vcov()]), from the
#' influence functions of the curves, which account for every estimated
#' nuisance model (the propensity model of IP weights, the hazard model),
#' with the delta method on the contrast's scale. Bootstrap fits give
#' percentile intervals from the contrast's replicates.
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
  check_curves_reach(fit, times, s)
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
    report_replicates_used(reps)
  } else if (fit$se_type == "sandwich") {
    V <- influence_vcov(fit, f, contrast, times, others, ref)
    dimnames(V) <- list(names(est), names(est))
  }
  out <- new_causal_estimate(est, V, reps, fit$se_type, conf_level, fit, scale = f$scale)
  out$contrast <- contrast
  out$reference <- fit$levels[ref]
  out
}

# Each arm's curve ends with its follow-up (curve_ends()); a contrast at a
# later time names the arms whose curves end before it.
check_curves_reach <- function(fit, times, s) {
  short <- which(rowSums(is.na(s)) > 0L)
  if (!length(short)) return(invisible())
  ends <- fit$curve_ends %||% stats::setNames(apply(fit$survival, 1L, function(v) {
    max(c(-Inf, fit$times[!is.na(v)]))
  }), fit$levels)
  ends <- ends[short]
  cli::cli_abort(c(
    "Some curve is not estimated at {.arg times} = {max(times)}.",
    stats::setNames(cli_escape(sprintf("The curve of arm %s ends at %s: no one of that arm is followed up beyond it.",
                                       fit$levels[short], format(ends, trim = TRUE))),
                    rep("x", length(short))),
    i = "Ask for {.arg times} up to {format(min(ends), trim = TRUE)}."
  ), call = rlang::caller_env())
}

# How many bootstrap replicates reach the end of each arm's curve.
replicates_at_ends <- function(x) {
  last <- findInterval(x$curve_ends, x$times)
  vapply(seq_along(x$levels), function(k) {
    if (last[k] == 0L) return(0L)
    sum(!is.na(x$replicates[, k, last[k]]))
  }, integer(1))
}

# A resample can end an arm's follow-up earlier than the data do: its
# replicate has no curve there (NA) and the intervals of later times use
# the replicates that reach them. Say how many each such term uses; a term
# that no replicate reaches is an error rather than an interval of none.
report_replicates_used <- function(reps) {
  used <- colSums(!is.na(reps))
  if (all(used == nrow(reps))) return(invisible())
  if (any(used == 0L)) {
    cli::cli_abort(c(
      "None of the {nrow(reps)} bootstrap replicates reaches {.val {colnames(reps)[used == 0L]}}.",
      x = "In every resample the follow-up of some arm ends before then.",
      i = "Ask for earlier {.arg times}."
    ), call = rlang::caller_env(2L))
  }
  short <- used < nrow(reps)
  cli::cli_inform(c(
    "Some bootstrap replicates end before {.arg times}: their resamples end an arm's follow-up earlier.",
    stats::setNames(cli_escape(sprintf("%s: %d of %d replicates.", colnames(reps)[short],
                                       used[short], nrow(reps))), rep("i", sum(short))),
    " " = "Each interval uses the replicates that reach its time."
  ))
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

# Each contrast: the summary of the curves it compares, its value for a
# level's summary s and the reference's r, and the derivatives of the value
# in s and r (for the delta method).
survival_contrasts <- list(
  risk_difference = list(scale = "identity", summary = survival_at,
                         value = function(s, r) r - s, grad = function(s, r) list(-1 + 0 * s, 1 + 0 * r)),
  survival_difference = list(scale = "identity", summary = survival_at,
                             value = function(s, r) s - r, grad = function(s, r) list(1 + 0 * s, -1 + 0 * r)),
  risk_ratio = list(scale = "log", summary = survival_at,
                    value = function(s, r) log(1 - s) - log(1 - r),
                    grad = function(s, r) list(-1 / (1 - s), 1 / (1 - r))),
  rmst_difference = list(scale = "identity", summary = rmst_at,
                         value = function(s, r) s - r, grad = function(s, r) list(1 + 0 * s, -1 + 0 * r))
)

# Covariance of the contrasts of the levels `others` with `ref` at `times`
# (level-major, as estimate_effect() orders them): the influence functions
# of the K summaries at every time (survival_functionals()) stacked into
# their covariance, then the delta method.
influence_vcov <- function(fit, f, contrast, times, others, ref) {
  K <- length(fit$levels)
  nt <- length(times)
  L1 <- survival_functionals(fit, times, rmst = contrast == "rmst_difference")
  phi <- curve_influence(fit, L1[, rep(seq_len(nt), K), drop = FALSE], rep(seq_len(K), each = nt))
  Vs <- stack_sandwich(list(Psi = phi, D_mm = -diag(ncol(phi))), fit$cluster)
  s <- f$summary(fit, times)
  J <- matrix(0, length(others) * nt, K * nt)
  for (i in seq_along(others)) {
    g <- f$grad(s[others[i], ], s[ref, ])
    rows <- (i - 1L) * nt + seq_len(nt)
    J[cbind(rows, (others[i] - 1L) * nt + seq_len(nt))] <- g[[1L]]
    J[cbind(rows, (ref - 1L) * nt + seq_len(nt))] <- g[[2L]]
  }
  J %*% Vs %*% t(J)
}

# The weights (m x length(times)) on the grid values of a curve that give
# its survival at each of `times` (the step function's value there), or its
# restricted mean survival time up to each of them (the widths of the grid
# intervals below it; the value 1 before the first grid time is constant).
survival_functionals <- function(fit, times, rmst = FALSE) {
  grid <- fit$times
  m <- length(grid)
  vapply(times, function(tau) {
    if (rmst) return(pmax(0, pmin(c(grid[-1L], Inf), tau) - grid) * (grid < tau))
    l <- numeric(m)
    j <- findInterval(tau, grid)
    if (j > 0L) l[j] <- 1
    l
  }, numeric(m))
}

# The critical value of a simultaneous band (see tidy.causal_survival()):
# the conf_level quantile of max |Z| over Z ~ N(0, R), R the influence
# function correlation of the curves at the grid times from band_from on
# where they vary, computed over people in chunks. Between the times where
# an arm's curve and its standard error both stay the same its standardized
# deviation does too, so those times add nothing to the maximum; of the
# others up to per_arm per arm, spread over follow-up, are kept.
band_critical_value <- function(fit, conf_level, band_from = 0, draws = 10000L, per_arm = 200L) {
  K <- length(fit$levels)
  keep <- lapply(seq_len(K), function(k) {
    s <- fit$survival[k, ]
    se <- fit$std_error[k, ]
    ok <- which(is.finite(se) & se > 0 & s > 0 & fit$times >= band_from)
    ok <- ok[c(TRUE, diff(s[ok]) != 0 | diff(se[ok]) != 0)[seq_along(ok)]]
    ok[unique(round(seq(1, length(ok), length.out = min(per_arm, length(ok)))))]
  })
  arm <- rep(seq_len(K), lengths(keep))
  if (!length(arm)) return(stats::qnorm(1 - (1 - conf_level) / 2))
  L <- matrix(0, length(fit$times), length(arm))
  L[cbind(unlist(keep), seq_along(arm))] <- 1
  V <- matrix(0, length(arm), length(arm))
  for (rows in influence_chunks(fit$n, max(1L, floor(2^24 / length(arm))), fit$cluster)) {
    V <- V + cluster_meat(curve_influence(fit, L, arm, rows), cluster_part(fit$cluster, rows))
  }
  e <- eigen(stats::cov2cor(V), symmetric = TRUE)
  root <- t(e$vectors) * sqrt(pmax(e$values, 0))
  z <- matrix(stats::rnorm(draws * length(arm)), draws) %*% root
  stats::quantile(apply(abs(z), 1L, max), conf_level, names = FALSE)
}

#' Where a simultaneous band of survival curves starts
#'
#' The first time at which every arm has at least `events` observed events:
#' the default start of the simultaneous bands of [tidy()][tidy.causal_survival]
#' and [autoplot()][autoplot.causal_survival] (`band_from`). Before it a
#' curve rests on a handful of events, the normal approximation behind the
#' band fails, and a band that had to hold there too would miss far more
#' often than its level says.
#'
#' Events are counted in each arm of the fit's data without weights (people
#' whose sampling weight is 0 do not count): the people whose follow-up
#' ended with the event (with competing risks, with an event of any cause).
#' On a period grid (pooled-logistic hazards) the time is the end of the
#' first period by which every arm has had `events` events. If an arm never
#' has `events` events, a warning names it and the band starts at 0, the
#' start of the curves.
#'
#' @param fit A `causal_survival` object from [survival_ipw()],
#'   [survival_standardization()] or [survival_aipw()].
#' @param events The number of events every arm must have had.
#' @return A single time, in the unit of the fit's times.
#' @seealso [tidy.causal_survival()]
#' @export
#' @examples
#' km <- survival_ipw(Surv(survtime, death) ~ qsmk, data = nhefs)
#' band_start(km)
#' band_start(km, events = 50)
band_start <- function(fit, events = 20) {
  if (!inherits(fit, "causallib_survival")) {
    cli::cli_abort("{.arg fit} must be a survival model, not {.obj_type_friendly {fit}}.")
  }
  check_count(events, "events")
  end <- max(fit$times)
  event <- fit$status > 0L & sw_or_one(fit) > 0 & fit$time <= end
  nth <- vapply(fit$levels, function(lev) {
    t <- sort(fit$time[event & fit$treatment == lev])
    if (length(t) >= events) t[events] else NA_real_
  }, numeric(1))
  if (anyNA(nth)) {
    short <- fit$levels[is.na(nth)]
    counts <- vapply(short, function(lev) sum(event & fit$treatment == lev), numeric(1))
    n_short <- length(short)
    cli::cli_warn(c(
      "{cli::qty(n_short)}Arm{?s} {.val {short}} of {.arg {fit$treatment_name}} {cli::qty(n_short)}{?has/have} fewer than {events} events ({counts} observed), too few to start the simultaneous band after them.",
      i = "The band starts at 0 and covers the whole curves; give a smaller {.arg events} to start it after fewer events."
    ))
    return(0)
  }
  fit$times[fit$times >= max(nth)][1L]
}
