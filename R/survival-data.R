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
  if (is.factor(event)) return(invisible())
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
survival_response <- function(y) {
  if (!inherits(y, "Surv")) {
    cli::cli_abort("The left-hand side of {.arg formula} must be {.code Surv(time, event)}.")
  }
  if (attr(y, "type") == "mright") return(competing_response(y))
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

# The Surv response of competing causes (survival's multi-state
# convention: an event factor whose first level means censored, or
# Surv(time, event, type = "mstate")), checked: finite non-negative times,
# the cause of each event as its code 1..J (0: censored), and the causes'
# names.
competing_response <- function(y) {
  time <- unname(y[, "time"])
  status <- unname(y[, "status"])
  causes <- attr(y, "states")
  if (!length(causes)) {
    cli::cli_abort(c(
      "The event of {.arg formula} names no cause: every level after the first (censored) is a cause.",
      i = "Give the event as a factor such as {.code factor(status, 0:2, c(\"censored\", \"relapse\", \"death\"))}."
    ))
  }
  if (any(!is.finite(time))) cli::cli_abort("The survival times have infinite values.")
  if (any(time < 0)) {
    cli::cli_abort("The survival times have {sum(time < 0)} negative value{?s}; times count from time zero.")
  }
  list(time = as.double(time), status = as.integer(status), causes = causes)
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
#' @param K The number of treatment levels (the hazard models keep a
#'   level-by-period table).
#' @return A list with `last` (number of periods at risk), `status`,
#'   `breaks` and `n_periods`.
#' @noRd
discretize_time <- function(time, status, breaks = NULL, K = 1L) {
  if (is.null(breaks)) {
    if (any(time != round(time))) {
      cli::cli_abort(c(
        "The survival times are not whole numbers, so {.arg breaks} is needed to define the periods.",
        i = "For example {.code breaks = seq(0, max(time), by = 1)} for unit periods."
      ))
    }
    check_period_count(max(1, max(time)), K, TRUE, max(time))
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
  check_period_count(n_periods, K, FALSE, max(time))
  last <- findInterval(time, breaks, left.open = TRUE)
  beyond <- time > breaks[n_periods + 1L]
  last[beyond] <- n_periods
  status[beyond] <- 0L
  at_zero <- last == 0L & status == 1L
  last[at_zero] <- 1L
  list(last = as.integer(last), status = as.integer(status), breaks = as.double(breaks),
       n_periods = n_periods)
}

# The hazard models keep a table of every treatment level by period (the C
# core holds at most pt_max_cells cells: PT_MAX_TABLE in
# src/person-time.h), and the curves have a point per period. A grid finer
# than that is a grid in the wrong unit: say which and what to write.
pt_max_cells <- 1e7

check_period_count <- function(n_periods, K, default_grid, last_time) {
  if (as.double(n_periods) * K <= pt_max_cells) return(invisible())
  why <- if (default_grid) {
    "The survival times are whole numbers up to {format(last_time, big.mark = ',')}, so the default grid (no {.arg breaks}) has {format(n_periods, big.mark = ',')} unit periods."
  } else {
    "{.arg breaks} define {format(n_periods, big.mark = ',')} periods."
  }
  cli::cli_abort(c(
    why,
    x = "With {K} treatment levels that is {format(as.double(n_periods) * K, big.mark = ',', scientific = FALSE)} level-by-period cells; the pooled-logistic models hold at most {format(pt_max_cells, big.mark = ',', scientific = FALSE)}.",
    i = "Use coarser periods, e.g. {.code breaks = seq(0, {ceiling(last_time)}, length.out = 121)}, or times in months rather than days."
  ))
}

# Period terms: the model matrix of `time_terms` (a one-sided formula in
# `time`) at the period indices 1..n_periods, without an intercept.
period_terms <- function(time_terms, n_periods) {
  check_time_terms(time_terms)
  grid <- data.frame(time = seq_len(n_periods))
  mf <- stats::model.frame(time_terms, grid)
  f <- stats::model.matrix(stats::terms(mf), mf)
  f <- f[, colnames(f) != "(Intercept)", drop = FALSE]
  attr(f, "assign") <- NULL
  rownames(f) <- NULL
  f
}

check_time_terms <- function(time_terms) {
  if (!inherits(time_terms, "formula") || length(time_terms) != 2L) {
    cli::cli_abort("{.arg time_terms} must be a one-sided formula in {.code time}, such as {.code ~ time + I(time^2)}.")
  }
  extra <- setdiff(all.vars(time_terms), "time")
  if (length(extra)) {
    cli::cli_abort("{.arg time_terms} may only use {.code time}, not {.val {extra}}.")
  }
  invisible(time_terms)
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

# The design, survival response, treatment and sampling weights of a
# survival formula; `treatment` names the treatment variable.
survival_setup <- function(formula, data, treatment, weights, na_action, env) {
  check_formula(formula)
  check_data_frame(data)
  check_event_codes(formula, data, env)
  d <- new_design(formula, data, treatment, weights, na_action, env)
  sv <- survival_response(d$response)
  a <- as_treatment(d$design$vars[[treatment]], "treatment")
  sw <- as_sampling_weights(d$weights, length(a))
  check_arms_nonempty(a, sw)
  list(d = d, time = sv$time, status = sv$status, a = a, sw = sw, n = length(a),
       treatment_name = treatment, causes = sv$causes)
}

# The data and formula of the matrix interfaces of the survival models:
# `Surv(.time, .event) ~ .treatment (+ the columns of x)`.
survival_matrix_data <- function(x, a, time, event, covariates) {
  a <- as_treatment(a, "a")
  n <- length(a)
  if (length(time) != n || length(event) != n) {
    cli::cli_abort("{.arg time} and {.arg event} must have the length of {.arg a} ({n}).")
  }
  data <- data.frame(.time = as.double(time), .event = event, .treatment = a)
  rhs <- ".treatment"
  if (covariates) {
    x <- check_matrix(x, n)
    cols <- make.names(c(names(data), colnames(x)), unique = TRUE)[-(1:3)]
    data[cols] <- as.data.frame(x)
    rhs <- c(rhs, cols)
  }
  formula <- stats::as.formula(paste("survival::Surv(.time, .event) ~", paste(rhs, collapse = " + ")),
                               env = baseenv())
  list(data = data, formula = formula)
}

# ---- The time scale of the pooled-logistic models ----------------------------

# The units `time_unit` and `period` may name, in days.
time_unit_days <- c(day = 1, week = 7, month = 365.25 / 12, quarter = 365.25 / 4,
                    year = 365.25)

# An automatic grid has at most this many periods: a month over 20 years.
# Finer grids add person-period rows (time) without changing the curves
# (discretization moves a Kaplan-Meier curve by less than 0.005 at monthly
# periods on survival::rotterdam), since the time terms are smooth anyway.
max_auto_periods <- 250L

# The time-scale arguments of a survival model, checked: `time_terms` (NULL
# for the default spline), `breaks`, `period` and `time_unit`.
grid_spec <- function(time_terms, breaks, period, time_unit) {
  if (!is.null(time_unit)) {
    time_unit <- rlang::arg_match0(time_unit, names(time_unit_days), "time_unit")
  }
  if (!is.null(period)) {
    if (!is.null(breaks)) {
      cli::cli_abort("Give {.arg breaks} or {.arg period}, not both: {.arg period} is the width of evenly spaced breaks.")
    }
    if (is.character(period)) {
      period <- rlang::arg_match0(period, names(time_unit_days), "period")
      if (is.null(time_unit)) {
        cli::cli_abort(c(
          "{.code period = \"{period}\"} needs the unit of the survival times.",
          i = "Name it with {.arg time_unit}, e.g. {.code time_unit = \"day\"}, or give {.arg period} as a number in the times' unit."
        ))
      }
    } else if (!is.numeric(period) || length(period) != 1L || !is.finite(period) || period <= 0) {
      cli::cli_abort("{.arg period} must be a unit such as {.val month} or one positive number (the width of a period in the times' unit), not {.obj_type_friendly {period}}.")
    }
  }
  if (!is.null(time_terms)) check_time_terms(time_terms)
  list(time_terms = time_terms, breaks = breaks, period = period, time_unit = time_unit)
}

# The width of a period as text: "1 month (30.44 days)", "width 50 days".
period_label <- function(width, unit_name, time_unit) {
  if (!is.null(unit_name)) {
    own <- identical(unit_name, time_unit)
    return(paste0("1 ", unit_name, if (!own && !is.null(time_unit)) {
      paste0(" (", format(signif(width, 4)), " ", time_unit, "s)")
    }))
  }
  paste0("width ", format(signif(width, 4), scientific = FALSE), if (!is.null(time_unit)) paste0(" ", time_unit, "s"))
}

# The period boundaries of a grid spec for follow-up times `time`: the
# user's `breaks`, evenly spaced breaks `period` apart, the unit periods
# of whole-number times up to max_auto_periods, or else evenly spaced
# breaks of the finest width giving at most max_auto_periods periods: the
# finest of the units of time_unit_days when the times' unit is named,
# otherwise the finest of 1, 2 and 5 times a power of ten. The last two
# say what they chose. NULL means the unit periods (discretize_time()).
choose_breaks <- function(grid, time) {
  if (!is.null(grid$breaks)) return(list(breaks = grid$breaks, width = NULL))
  tmax <- max(time)
  unit_name <- NULL
  if (!is.null(grid$period)) {
    width <- grid$period
    if (is.character(width)) {
      unit_name <- width
      width <- time_unit_days[[width]] / time_unit_days[[grid$time_unit]]
    }
    return(list(breaks = even_breaks(width, tmax),
                width = period_label(width, unit_name, grid$time_unit)))
  }
  if (all(time == round(time)) && tmax <= max_auto_periods) return(list(breaks = NULL, width = "1"))
  fits <- function(w) ceiling(tmax / w - 1e-9) <= max_auto_periods
  width <- NULL
  if (!is.null(grid$time_unit)) {
    units <- time_unit_days / time_unit_days[[grid$time_unit]]
    ok <- names(units)[vapply(units, fits, logical(1))]
    if (length(ok)) {
      unit_name <- ok[1L]
      width <- units[[unit_name]]
    }
  }
  if (is.null(width)) {
    k <- floor(log10(tmax / max_auto_periods))
    candidates <- sort(outer(c(1, 2, 5), 10^((k - 1):(k + 2))))
    width <- candidates[vapply(candidates, fits, logical(1))][1L]
  }
  breaks <- even_breaks(width, tmax)
  label <- period_label(width, unit_name, grid$time_unit)
  cli::cli_inform(c(
    "The survival times reach {format(tmax, big.mark = ',')} with {format(length(unique(time)), big.mark = ',')} distinct values: the pooled-logistic model uses {length(breaks) - 1L} periods of {label}.",
    i = if (is.null(grid$time_unit)) {
      "Name the unit of the times with {.arg time_unit} (e.g. {.val day}) for periods in calendar units, or choose them with {.arg period} or {.arg breaks}."
    } else {
      "Choose other periods with {.arg period} or {.arg breaks}."
    }
  ))
  list(breaks = breaks, width = label)
}

# Breaks 0, w, 2w, ... up to the first at or past tmax.
even_breaks <- function(width, tmax) {
  width * seq(0, max(1, ceiling(tmax / width - 1e-9)))
}

# The default time terms: a natural spline of the period index whose
# degrees of freedom grow with the events, the cube root of their number,
# from 1 (a linear trend) up to 10, and below the number of periods with an
# event; its interior knots at quantiles of the event periods, its boundary
# knots the first and last period. Knots where the events are keep every
# arm's hazard estimable: knots placed evenly over the grid would leave
# spline pieces over an arm's event-free tail (say, one person followed long
# after the arm's last event), whose hazard would run off to 0.
default_time_terms <- function(last, status, n_periods) {
  event_periods <- last[status == 1L]
  df <- max(1L, min(10L, floor(length(event_periods)^(1 / 3) + 1e-9),
                    length(unique(event_periods)) - 1L, n_periods - 1L))
  knots <- unique(stats::quantile(event_periods, seq_len(df - 1L) / df, names = FALSE))
  knots <- knots[knots > 1 & knots < n_periods]
  stats::as.formula(paste0(
    "~ splines::ns(time, knots = c(", paste(signif(knots, 6), collapse = ", "),
    "), Boundary.knots = c(1, ", max(2L, n_periods), "))"
  ), env = baseenv())
}

# Many periods without an event add person-period rows (memory and time)
# but no information about the hazard: say so when that is most of a grid
# beyond the automatic size.
check_grid_support <- function(dt) {
  T <- dt$n_periods
  if (T <= max_auto_periods) return(invisible())
  with_events <- length(unique(dt$last[dt$status == 1L]))
  if (with_events > T / 2) return(invisible())
  rows <- sum(as.double(dt$last))
  cli::cli_warn(c(
    "The period grid has {format(T, big.mark = ',')} periods, {format(T - with_events, big.mark = ',')} of them without an event: {format(rows, big.mark = ',', scientific = FALSE)} person-period rows for {sum(dt$status == 1L)} events.",
    i = "Coarser periods estimate the same curves faster: set {.arg period} (with {.arg time_unit}) or {.arg breaks}, or leave both unset for an automatic grid of at most {max_auto_periods} periods."
  ))
}

# The person-time description of a setup on the period grid of `grid`
# (see grid_spec()), with the grid's width and time terms.
person_time <- function(time, status, a, grid) {
  chosen <- choose_breaks(grid, time)
  dt <- discretize_time(time, status, chosen$breaks, nlevels(a))
  check_grid_support(dt)
  time_terms <- grid$time_terms %||% default_time_terms(dt$last, dt$status, dt$n_periods)
  c(dt, list(arm = a, f = period_terms(time_terms, dt$n_periods), time_terms = time_terms,
             width = chosen$width, time_unit = grid$time_unit))
}

# A fitted weight model for the people of a survival fit, or a formula for
# an ipw() one fitted on the same rows of `data` with the same weights.
resolve_weight_model <- function(weight_model, setup, data, env) {
  if (is.null(weight_model)) return(NULL)
  if (inherits(weight_model, "formula")) {
    holder <- new.env(parent = env)
    holder$data <- data[setup$d$rows, , drop = FALSE]
    holder$weights <- setup$sw
    environment(weight_model) <- env
    weight_model <- eval(rlang::call2(ipw, weight_model, data = quote(data),
                                      weights = quote(weights)), holder)
    weight_model$call[[1L]] <- quote(ipw)
  }
  if (inherits(weight_model, c("weightit", "matchit"))) weight_model <- as_weight_model(weight_model)
  if (!inherits(weight_model, "causallib_weight_model")) {
    cli::cli_abort("{.arg weight_model} must be a fitted {.fn ipw} or {.fn matching} model or a formula {.code treatment ~ covariates}.")
  }
  if (weight_model$n != setup$n || !identical(weight_model$levels, levels(setup$a)) ||
      any(weight_model$treatment != setup$a)) {
    cli::cli_abort(c(
      "{.arg weight_model} was not fitted on the same people and treatment as the survival model.",
      i = "Fit it on the same rows of {.arg data}."
    ))
  }
  weight_model
}
