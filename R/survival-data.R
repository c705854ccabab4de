# From Surv(time, event) data to the person-time description the C core
# streams over: each person is at risk in periods 1..last and has the event
# (status 1) in period `last` or leaves event-free.

# Surv() turns event codes other than 0/1 (or 1/2) into NA with a warning
# of its own; catch them first and say what is wrong.
check_event_codes <- function(formula, data, env) {
  lhs <- formula[[2L]]
  if (!is.call(lhs) || !deparse(lhs[[1L]]) %in% c("Surv", "survival::Surv") || length(lhs) != 3L) {
    return(invisible())
  }
  event <- tryCatch(eval(lhs[[3L]], data, env), error = function(e) NULL)
  bad <- unique(event[!is.na(event) & !event %in% c(0, 1)])
  if (length(bad)) {
    cli::cli_abort(c(
      "The event indicator {.code {deparse(lhs[[3L]])}} must be 0 (censored) or 1 (event).",
      x = "It has the value{cli::qty(length(bad))}{?s} {.val {bad}}."
    ))
  }
}

# The Surv response of a model frame, checked: right-censored, finite
# non-negative times, events coded 0/1.
survival_response <- function(frame) {
  y <- stats::model.response(frame)
  if (!inherits(y, "Surv")) {
    cli::cli_abort("The left-hand side of {.arg formula} must be {.code Surv(time, event)}.")
  }
  if (attr(y, "type") != "right") {
    cli::cli_abort(c(
      "{.arg formula} must describe right-censored data, {.code Surv(time, event)}.",
      i = "Counting-process or interval-censored {.code Surv()} objects are not supported."
    ))
  }
  time <- unname(y[, "time"])
  status <- unname(y[, "status"])
  if (any(!is.finite(time))) cli::cli_abort("The survival times have infinite values.")
  if (any(time < 0)) {
    cli::cli_abort("The survival times have {sum(time < 0)} negative value{?s}; times count from time zero.")
  }
  if (!all(status %in% c(0, 1))) {
    cli::cli_abort("The event indicator must be 0 (censored) or 1 (event).")
  }
  list(time = as.double(time), status = as.integer(status))
}

#' Survival data in discrete time
#'
#' The pooled-logistic survival models work on a grid of periods:
#' `breaks` \eqn{b_0 < b_1 < \dots < b_T} define periods
#' \eqn{(b_{k-1}, b_k]}, numbered \eqn{k = 1, \dots, T}. A person followed
#' until time \eqn{t} is at risk in every period that starts before \eqn{t}
#' (so someone censored part-way through a period counts as at risk in it)
#' and, with an event, has it in the period containing \eqn{t}; an event
#' at time 0 counts in the first period. Times after \eqn{b_T} are censored
#' there (administrative censoring at the end of the grid).
#'
#' By default, when every time is a whole number, the grid is the unit
#' periods `0:max(time)`, so that `time` is the period index, as with the
#' months of follow-up in [nhefs].
#' @param time,status Follow-up times and event indicators.
#' @param breaks `NULL` or the increasing period boundaries.
#' @return A list with `last` (number of periods at risk), `status`,
#'   `breaks` and `n_periods`.
#' @noRd
discretize_time <- function(time, status, breaks = NULL) {
  if (is.null(breaks)) {
    if (any(time != round(time))) {
      cli::cli_abort(c(
        "The survival times are not whole numbers, so {.arg breaks} is needed to define the periods.",
        i = "For example {.code breaks = seq(0, max(time), by = 1)} for unit periods."
      ))
    }
    breaks <- seq(0, max(1, max(time)))
  }
  if (!is.numeric(breaks) || length(breaks) < 2L || anyNA(breaks) || any(diff(breaks) <= 0)) {
    cli::cli_abort("{.arg breaks} must be an increasing numeric vector of at least two period boundaries.")
  }
  if (breaks[1L] > min(time)) {
    cli::cli_abort("{.arg breaks} must start at or before the earliest time ({min(time)}).")
  }
  n_periods <- length(breaks) - 1L
  if (max(time) < breaks[n_periods]) {
    cli::cli_warn(c(
      "{.arg breaks} extends past the last follow-up time ({max(time)}): no one is at risk in the last period{?s}.",
      i = "The grid is cut at the first boundary after the last follow-up time."
    ))
    n_periods <- findInterval(max(time), breaks, left.open = TRUE)
    breaks <- breaks[seq_len(n_periods + 1L)]
  }
  last <- findInterval(time, breaks, left.open = TRUE)
  beyond <- time > breaks[n_periods + 1L]
  last[beyond] <- n_periods
  status[beyond] <- 0L
  at_zero <- last == 0L & status == 1L
  last[at_zero] <- 1L
  list(last = as.integer(last), status = as.integer(status), breaks = as.double(breaks),
       n_periods = n_periods)
}

# Period terms: the model matrix of `time_terms` (a one-sided formula in
# `time`) at the period indices 1..n_periods, without an intercept.
period_terms <- function(time_terms, n_periods) {
  if (!inherits(time_terms, "formula") || length(time_terms) != 2L) {
    cli::cli_abort("{.arg time_terms} must be a one-sided formula in {.code time}, such as {.code ~ time + I(time^2)}.")
  }
  extra <- setdiff(all.vars(time_terms), "time")
  if (length(extra)) {
    cli::cli_abort("{.arg time_terms} may only use {.code time}, not {.val {extra}}.")
  }
  grid <- data.frame(time = seq_len(n_periods))
  mf <- stats::model.frame(time_terms, grid)
  f <- stats::model.matrix(stats::terms(mf), mf)
  f <- f[, colnames(f) != "(Intercept)", drop = FALSE]
  attr(f, "assign") <- NULL
  rownames(f) <- NULL
  f
}

# Every arm needs events for its curve to be estimable by a hazard model.
check_arm_events <- function(status, a, weights, model) {
  events <- arm_sums((weights %||% 1) * status, a)
  none <- levels(a)[events <= 0]
  if (!length(none)) return(invisible())
  msg <- "Treatment level{?s} {.val {none}} ha{?s/ve} no events."
  if (model == "km") {
    cli::cli_warn(c(msg, i = "The survival curve of {cli::qty(length(none))}{?that level/those levels} stays at 1."))
  } else {
    cli::cli_abort(c(msg, i = "A hazard model cannot be fitted for {cli::qty(length(none))}{?it/them}; use {.code method = \"km\"} or pool levels."))
  }
}

# Model frame, survival response, treatment and sampling weights of a
# survival formula; `treatment` names the treatment variable.
survival_setup <- function(formula, data, treatment, weights, na_action, env) {
  check_formula(formula)
  check_data_frame(data)
  check_event_codes(formula, data, env)
  fr <- build_frame(formula, data, weights, na_action, env)
  sv <- survival_response(fr$frame)
  a <- as_treatment(fr$frame[[treatment]], "treatment")
  sw <- check_weights(fr$weights, length(a))
  check_arms_nonempty(a, sw)
  c(fr, sv, list(a = a, sw = sw, n = length(a), treatment_name = treatment,
                 data = data[fr$rows, , drop = FALSE]))
}

# The person-time description of a setup on a period grid.
person_time <- function(setup, breaks, time_terms) {
  dt <- discretize_time(setup$time, setup$status, breaks)
  c(dt, list(arm = setup$a, f = period_terms(time_terms, dt$n_periods)))
}

# The weight model's IP weights, refitted with the frequency multipliers
# `mult` (1 for the original data, bootstrap counts for a replicate).
ip_weights <- function(weight_model, mult) {
  if (is.null(weight_model)) return(1)
  if (identical(mult, 1)) return(weight_model$weights)
  wm <- weight_model
  refit <- ipw_engine(wm$x, wm$treatment, wm$estimand, wm$stabilize, wm$clip, wm$truncate,
                      wm$learner, (wm$sampling_weights %||% 1) * mult,
                      wm$levels[wm$target], intercept = wm$intercept)
  refit$weights
}

# A fitted ipw() weight model for the rows of a survival setup, or a
# formula for one.
resolve_weight_model <- function(weight_model, setup) {
  if (is.null(weight_model)) return(NULL)
  if (inherits(weight_model, "formula")) {
    weight_model <- ipw(weight_model, data = setup$data, weights = setup$sw)
  }
  if (!inherits(weight_model, "causallib_ipw")) {
    cli::cli_abort("{.arg weight_model} must be a fitted {.fn ipw} model or a formula {.code treatment ~ covariates}.")
  }
  if (weight_model$n != setup$n || !identical(weight_model$levels, levels(setup$a)) ||
      any(weight_model$treatment != setup$a)) {
    cli::cli_abort(c(
      "{.arg weight_model} was not fitted on the same people and treatment as the survival model.",
      i = "Fit it with {.fn ipw} on the same rows of {.arg data}."
    ))
  }
  weight_model
}
