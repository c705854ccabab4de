# Plots of causal_survival results for papers: the curves (survival, risk
# or cumulative incidence), or their differences or ratios with the
# reference arm, with a number-at-risk table under them. One data path,
# curve_plot_data(), computes every number a plot shows; one builder,
# draw_survival_plot(), draws it; autoplot() returns and plot() prints the
# same figure.

#' Plot survival curves, their contrasts and the numbers at risk
#'
#' Draws the causal curves of a survival fit with their confidence bands,
#' or the difference or ratio of each arm's curve with the reference arm's,
#' and under them a table of the numbers at risk. Every number drawn comes
#' from [curve_plot_data()], which takes the same arguments; `plot()`
#' prints the figure `autoplot()` returns and returns it invisibly. Needs
#' the ggplot2 package.
#'
#' The curves are those of [tidy()][tidy.causal_survival] (cumulative
#' incidences per cause, one panel each, for competing risks). Difference
#' and ratio curves are [estimate_effect()][estimate_effect.causal_survival]
#' at the grid times where every arm's curve is estimated (at most 150,
#' spread over them), with its intervals: the influence-function covariance
#' of the fit, or its bootstrap replicates (at each time those that reach
#' it, see [estimate_effect()][estimate_effect.causal_survival]). They are drawn as steps, with a
#' reference line at 0 (differences) or 1 (ratios); with three or more arms
#' there is one curve per arm against the reference.
#'
#' The table under the curves counts, for each arm at each of `times`, the
#' people still at risk (whose follow-up time is at or after it, as
#' [survival::survfit()]'s `n.risk`), or with `risk_table = "weighted"` the
#' sum of their weights: sampling weights times the weight model's IP
#' weights (without censoring weights, which change over follow-up). It is
#' the lower panel of the figure and shares the time axis of the curves,
#' whose breaks are its times.
#'
#' @section With other evaluation plots:
#' `type = "survival"` draws the evaluation plot of the model instead (each
#' arm's model curve against its Kaplan-Meier curve, see
#' [autoplot.causal_evaluation()]); the other arguments are then not used.
#'
#' @param object,x A `causal_survival` object from [survival_ipw()] or
#'   [survival_standardization()].
#' @param type `NULL` (default) for the curves; `"difference"` or `"ratio"`
#'   for their contrasts with the reference arm (on the scale of `scale`:
#'   survival or risk differences, risk ratios); or `"survival"`, the
#'   evaluation plot.
#' @param scale `"survival"` (default for survival curves) or `"risk"`
#'   (\eqn{1 - S(t)}, the cumulative incidence). Competing-risks fits plot
#'   cumulative incidences, `"risk"`.
#' @param risk_table `"n"` (default) for the numbers at risk under the
#'   curves, `"weighted"` for the weighted numbers, or `"none"`.
#' @param times The times of the risk table and of the time axis's breaks;
#'   by default round numbers in the unit of the times over follow-up.
#' @param reference The reference arm of the contrasts; by default the
#'   first level.
#' @param band `"pointwise"` (default) or `"simultaneous"` bands around the
#'   curves (see [tidy.causal_survival()]; simultaneous bands need
#'   influence-function intervals and are not available for contrasts).
#' @param band_from The time from which a simultaneous band is drawn (see
#'   [tidy.causal_survival()]); by default [band_start()], the first time
#'   at which every arm has 20 events. Used with `band = "simultaneous"`
#'   only.
#' @param labels Labels of the arms, in the order of the treatment levels
#'   (or named by them); by default the levels: a factor's levels, or the
#'   sorted values of a numeric, character or logical treatment.
#' @param time_label The time axis's title; by default "Time", with the
#'   unit of the times when the fit was given `time_unit` (e.g.
#'   "Time (days)").
#' @param ... Unused.
#' @return A ggplot object (invisibly for `plot()`).
#' @seealso [curve_plot_data()] for the numbers, [number_at_risk()] for
#'   the table alone.
#' @exportS3Method ggplot2::autoplot
#' @examples
#' if (requireNamespace("ggplot2", quietly = TRUE)) {
#'   wm <- ipw(qsmk ~ sex + race + age + education + smokeintensity + wt71, data = nhefs)
#'   km <- survival_ipw(Surv(survtime, death) ~ qsmk, data = nhefs, weight_model = wm,
#'                      time_unit = "month")
#'   ggplot2::autoplot(km, labels = c("Did not quit", "Quit"))
#'   ggplot2::autoplot(km, scale = "risk", risk_table = "weighted")
#'   ggplot2::autoplot(km, type = "difference", scale = "risk")
#'   plot(km, risk_table = "none", times = c(0, 24, 60, 120))
#' }
autoplot.causal_survival <- function(object, type = NULL, scale = NULL, risk_table = "n",
                                     times = NULL, reference = NULL, band = "pointwise",
                                     band_from = band_start(object), labels = NULL,
                                     time_label = NULL, ...) {
  rlang::check_dots_empty()
  survival_plot(object, type, scale = scale, risk_table = risk_table, times = times,
                reference = reference, band = band, band_from = band_from, labels = labels,
                time_label = time_label)
}

#' @rdname autoplot.causal_survival
#' @export
plot.causal_survival <- function(x, type = NULL, scale = NULL, risk_table = "n", times = NULL,
                                 reference = NULL, band = "pointwise", band_from = band_start(x),
                                 labels = NULL, time_label = NULL, ...) {
  rlang::check_dots_empty()
  p <- survival_plot(x, type, scale = scale, risk_table = risk_table, times = times,
                     reference = reference, band = band, band_from = band_from, labels = labels,
                     time_label = time_label)
  print(p)
  invisible(p)
}

#' @export
model_plot.causallib_survival <- function(object, type = NULL) {
  survival_plot(object, type)
}

# The plot of a survival fit: an evaluation plot for an evaluation `type`,
# otherwise the curves or their contrasts drawn from curve_plot_data().
survival_plot <- function(object, type = NULL, ...) {
  if (!is.null(type) && !identical(type, "difference") && !identical(type, "ratio")) {
    if (inherits(object, "causallib_competing")) {
      cli::cli_abort(c(
        "Evaluation plots ({.code type = {.val {type}}}) do not cover competing-risks models yet.",
        i = "Use {.code type = NULL} for the cumulative incidence curves, or {.val difference} or {.val ratio} for their contrasts."
      ), call = rlang::caller_env())
    }
    return(autoplot.causal_evaluation(evaluate(object), type))
  }
  rlang::check_installed("ggplot2", "to plot survival curves.")
  draw_survival_plot(curve_plot_data(object, type, ...))
}

#' Data of the survival plots
#'
#' The numbers [autoplot()][autoplot.causal_survival] draws for a survival
#' fit, with the same arguments: the curves (or contrasts) with their
#' intervals, the number-at-risk table and the axes.
#'
#' @inheritParams autoplot.causal_survival
#' @param fit A `causal_survival` object.
#' @param type `NULL` (the curves), `"difference"` or `"ratio"`.
#' @return A list:
#' * `curves`: a data frame with columns `time`, `treatment` (a factor of
#'   the arm labels; for contrasts the arm compared with the reference),
#'   `estimate`, `conf.low`, `conf.high`, and `cause` for competing risks;
#'   each row holds from its time until the next time of its curve. Curves
#'   end with their arm's follow-up.
#' * `risk_table`: [number_at_risk()] at `times`, its `treatment` the arm
#'   labels, or `NULL`.
#' * `breaks`: the time axis's breaks.
#' * `reference_line`: 0 for differences, 1 for ratios, otherwise `NULL`.
#' * `labels`: the titles of the axes (`x`, `y`), of the legend (`colour`),
#'   and the plot's `title` and `subtitle`.
#' * `risk_table_label`: what the table counts.
#' @export
#' @examples
#' km <- survival_ipw(Surv(survtime, death) ~ qsmk, data = nhefs)
#' d <- curve_plot_data(km, type = "difference", risk_table = "n")
#' head(d$curves)
#' d$risk_table
curve_plot_data <- function(fit, type = NULL, scale = NULL, risk_table = "n", times = NULL,
                               reference = NULL, band = "pointwise", band_from = band_start(fit),
                               labels = NULL, time_label = NULL) {
  competing <- inherits(fit, "causallib_competing")
  if (!is.null(type)) type <- rlang::arg_match0(type, c("difference", "ratio"), "type")
  scale <- rlang::arg_match0(scale %||% if (competing) "risk" else "survival",
                             c("survival", "risk"), "scale")
  if (competing && scale == "survival") {
    cli::cli_abort(c(
      "{.code scale = \"survival\"} does not apply to competing risks: their curves are cumulative incidences.",
      i = "Leave {.arg scale} unset, or use {.code scale = \"risk\"}."
    ))
  }
  risk_table <- rlang::arg_match0(risk_table, c("n", "weighted", "none"), "risk_table")
  band <- rlang::arg_match0(band, c("pointwise", "simultaneous"), "band")
  if (band == "simultaneous" && (!is.null(type) || competing)) {
    cli::cli_abort(c(
      "{.code band = \"simultaneous\"} is available for the survival curves only.",
      i = "Use {.code band = \"pointwise\"} for {if (competing) 'cumulative incidence curves' else 'difference and ratio curves'}."
    ))
  }
  arm_labels <- plot_arm_labels(fit, labels)
  ref <- plot_reference(fit, reference)
  curves <- if (is.null(type)) {
    arm_curves(fit, scale, band, band_from)
  } else {
    contrast_curves(fit, type, scale, ref)
  }
  curves$treatment <- factor(arm_labels[as.integer(curves$treatment)], levels = arm_labels)
  curves <- curves[!is.na(curves$estimate), , drop = FALSE]
  rownames(curves) <- NULL
  last <- max(curves$time)
  if (is.null(times)) {
    # Fewer breaks when the causes' panels share the width.
    breaks <- pretty(c(0, last), n = if (competing) 3L else 5L)
    times <- breaks[breaks <= last]
  } else {
    times <- check_plot_times(times)
    breaks <- times
  }
  table <- NULL
  if (risk_table != "none") {
    table <- number_at_risk(fit, times, weighted = risk_table == "weighted")
    table$treatment <- factor(arm_labels[as.integer(table$treatment)], levels = arm_labels)
  }
  list(curves = curves, risk_table = table, breaks = breaks,
       reference_line = if (!is.null(type)) c(difference = 0, ratio = 1)[[type]],
       labels = plot_labels(fit, type, scale, arm_labels[ref], time_label),
       risk_table_label = if (risk_table == "weighted") "Weighted\nat risk" else "At risk")
}

#' Numbers at risk
#'
#' For each treatment arm at each of `times`, the number of people still at
#' risk -- those whose follow-up time is at or after it, as
#' [survival::survfit()]'s `n.risk` -- or the sum of their weights. An arm
#' whose follow-up ends before a time has 0 people at risk then. These are
#' the numbers of the table under the curves of
#' [autoplot()][autoplot.causal_survival].
#'
#' @param fit A `causal_survival` object.
#' @param times Non-negative times.
#' @param weighted Sum the people's weights instead of counting them? The
#'   weights are the sampling weights times the weight model's IP weights
#'   (1 for fits without them); censoring weights, which change over
#'   follow-up, are not included.
#' @return A data frame with columns `time`, `treatment` (a factor of the
#'   treatment levels) and `at_risk`, one row per time and arm.
#' @export
#' @examples
#' km <- survival_ipw(Surv(survtime, death) ~ qsmk, data = nhefs)
#' number_at_risk(km, times = c(0, 60, 120))
number_at_risk <- function(fit, times, weighted = FALSE) {
  if (!inherits(fit, "causal_survival")) {
    cli::cli_abort("{.arg fit} must be a {.cls causal_survival} fit, not {.obj_type_friendly {fit}}.")
  }
  times <- check_plot_times(times)
  weighted <- check_bool(weighted, "weighted")
  w <- if (weighted) sw_or_one(fit) * fit$ipw else rep(1, fit$n)
  K <- length(fit$levels)
  at_risk <- vapply(times, function(t) arm_sums(w * (fit$time >= t), fit$treatment), numeric(K))
  data.frame(time = rep(times, each = K), treatment = factor(rep(fit$levels, length(times)), fit$levels),
             at_risk = as.vector(at_risk))
}

check_plot_times <- function(times) {
  if (!is.numeric(times) || !length(times) || anyNA(times) || any(!is.finite(times)) || any(times < 0)) {
    cli::cli_abort(c(
      "{.arg times} must be non-negative numbers, such as {.code times = c(0, 365, 730)}.",
      x = if (is.numeric(times) && length(times)) "You gave {.val {times}}." else "You gave {.obj_type_friendly {times}}."
    ), call = rlang::caller_env())
  }
  sort(unique(as.double(times)))
}

# The arms' labels: the user's `labels` in the order of the levels (or
# matched to them by name), else the levels.
plot_arm_labels <- function(fit, labels) {
  if (is.null(labels)) return(fit$levels)
  K <- length(fit$levels)
  if (!is.character(labels) || length(labels) != K || anyNA(labels) || anyDuplicated(labels)) {
    cli::cli_abort(c(
      "{.arg labels} must be {K} distinct strings, one per treatment level ({.val {fit$levels}}).",
      x = "You gave {.obj_type_friendly {labels}} of length {length(labels)}."
    ), call = rlang::caller_env(2L))
  }
  if (!is.null(names(labels))) {
    at <- match(fit$levels, names(labels))
    if (anyNA(at)) {
      cli::cli_abort(c(
        "The names of {.arg labels} must be the treatment levels {.val {fit$levels}}.",
        x = "{.val {setdiff(fit$levels, names(labels))}} {?is/are} not named."
      ), call = rlang::caller_env(2L))
    }
    labels <- labels[at]
  }
  unname(labels)
}

plot_reference <- function(fit, reference) {
  if (is.null(reference)) return(1L)
  ref <- match(as.character(reference), fit$levels)
  if (length(ref) != 1L || is.na(ref)) {
    cli::cli_abort(c(
      "{.arg reference} must be one of the treatment levels {.val {fit$levels}}.",
      x = "You gave {.val {as.character(reference)}}."
    ), call = rlang::caller_env(2L))
  }
  ref
}

# Each arm's curve with its intervals (tidy()'s), on the survival or risk
# scale. band_from is forced by tidy() only for a simultaneous band.
arm_curves <- function(fit, scale, band, band_from) {
  if (inherits(fit, "causallib_competing")) {
    d <- tidy(fit)
    return(d[c("time", "treatment", "cause", "estimate", "conf.low", "conf.high")])
  }
  d <- tidy(fit, band = band, band_from = band_from)
  if (scale == "survival") {
    return(data.frame(time = d$time, treatment = d$treatment, estimate = d$survival,
                      conf.low = d$conf.low, conf.high = d$conf.high))
  }
  data.frame(time = d$time, treatment = d$treatment, estimate = 1 - d$survival,
             conf.low = 1 - d$conf.high, conf.high = 1 - d$conf.low)
}

# Each arm's contrast with the reference arm over the grid, from
# estimate_effect(), whose terms run over times within arms (within causes).
contrast_curves <- function(fit, type, scale, ref) {
  competing <- inherits(fit, "causallib_competing")
  contrast <- if (type == "ratio") "risk_ratio" else if (scale == "risk") "risk_difference" else "survival_difference"
  times <- contrast_times(fit, type == "ratio", ref)
  # Bootstrap intervals at each time use the replicates that reach it;
  # estimate_effect() lists them per term, too long a list for a plot.
  est <- suppressMessages(estimate_effect(fit, times = times, contrast = contrast,
                                          reference = fit$levels[ref]))
  tab <- tidy(est)
  others <- setdiff(seq_along(fit$levels), ref)
  nt <- length(times)
  d <- data.frame(time = rep(times, length.out = nrow(tab)),
                  treatment = factor(fit$levels[rep(others, each = nt, length.out = nrow(tab))], fit$levels))
  if (competing) d$cause <- factor(rep(fit$causes, each = nt * length(others)), fit$causes)
  d$estimate <- tab$estimate
  d$conf.low <- tab$conf.low
  d$conf.high <- tab$conf.high
  d
}

# Contrast times: the grid times up to the earliest end of a curve (from 0
# for differences; for ratios from the first time every arm's risk, of
# every cause, is positive), at most 150 of them spread over the grid.
contrast_times <- function(fit, ratio, ref) {
  times <- fit$times[fit$times <= min(fit$curve_ends)]
  if (ratio) {
    risk <- if (inherits(fit, "causallib_competing")) fit$cif else array(1 - fit$survival, c(dim(fit$survival), 1L))
    times <- times[apply(risk[, seq_along(times), , drop = FALSE] > 0, 2L, all)]
    if (!length(times)) {
      cli::cli_abort("{.code type = \"ratio\"} needs a positive risk in every arm at some time; there is none.",
                     call = rlang::caller_env(2L))
    }
  } else {
    times <- c(0, times)
  }
  if (length(times) > 150L) times <- times[unique(round(seq(1, length(times), length.out = 150L)))]
  times
}

plot_labels <- function(fit, type, scale, reference_label, time_label) {
  competing <- inherits(fit, "causallib_competing")
  what <- if (competing) "cumulative incidence" else if (scale == "risk") "risk" else "survival"
  y <- switch(type %||% "curves",
    curves = if (competing) "Cumulative incidence" else if (scale == "risk") "Risk (cumulative incidence)" else "Survival",
    difference = paste(capitalize(what), "difference"),
    ratio = if (competing) "Cumulative incidence ratio" else "Risk ratio")
  arm <- if (identical(fit$treatment_name, ".treatment")) "Treatment" else fit$treatment_name
  if (!is.null(time_label) && !rlang::is_string(time_label)) {
    cli::cli_abort("{.arg time_label} must be one string, not {.obj_type_friendly {time_label}}.",
                   call = rlang::caller_env(2L))
  }
  list(x = time_label %||% time_axis_label(fit), y = y,
       colour = if (is.null(type)) arm else paste0(arm, " (vs ", reference_label, ")"),
       title = paste(capitalize(fit$estimator), if (is.null(type)) paste(what, "curves") else tolower(y)),
       subtitle = method_label(fit$method))
}

# "Time", with the unit of the times when the fit knows it: "Time (days)".
time_axis_label <- function(fit) {
  if (is.null(fit$time_unit)) "Time" else paste0("Time (", fit$time_unit, "s)")
}

# Draws curve_plot_data(): step curves per arm (one column of panels
# per cause) with their bands and reference line, and the number-at-risk
# table as a lower row of panels sharing the time axis. The table's rows
# are placed below the range of the curves on the one y scale (free per
# row of panels), so both rows have their own breaks and the table's
# height follows its number of arms.
draw_survival_plot <- function(data) {
  curves <- data$curves
  by_cause <- !is.null(curves$cause)
  table <- data$risk_table
  if (!is.null(table)) {
    curves$panel <- "curves"
    arms <- levels(table$treatment)
    span <- range(c(curves$estimate, curves$conf.low, curves$conf.high, data$reference_line), na.rm = TRUE)
    step <- 0.09 * max(diff(span), 0.1)
    row_y <- span[1L] - step * (seq_along(arms) + 1)
    table$panel <- "table"
    table$y <- row_y[as.integer(table$treatment)]
    table$text <- formatC(table$at_risk, format = "f", digits = 0, big.mark = ",")
    if (by_cause) {
      table <- merge(table, data.frame(cause = levels(curves$cause)), by = NULL)
      table$cause <- factor(table$cause, levels(curves$cause))
    }
  }
  p <- ggplot2::ggplot(curves, ggplot2::aes(x = .data$time, y = .data$estimate,
                                            colour = .data$treatment, fill = .data$treatment))
  if (!is.null(data$reference_line)) {
    line <- data.frame(yintercept = data$reference_line, panel = "curves")
    p <- p + ggplot2::geom_hline(ggplot2::aes(yintercept = .data$yintercept), data = line,
                                 colour = "grey40", linetype = "dashed", inherit.aes = FALSE)
  }
  bands <- curves[!is.na(curves$conf.low) & !is.na(curves$conf.high), , drop = FALSE]
  if (nrow(bands)) {
    bands <- do.call(rbind, lapply(split(bands, curve_groups(bands), drop = TRUE), step_ribbon))
    p <- p + ggplot2::geom_ribbon(ggplot2::aes(ymin = .data$conf.low, ymax = .data$conf.high),
                                  data = bands, colour = NA, alpha = 0.2)
  }
  # Colours by arm over all arms, so that an arm has one colour in every
  # plot of the fit (the reference arm's in the table of a contrast plot);
  # the legend names the arms drawn.
  drawn <- levels(droplevels(curves$treatment))
  p <- p + ggplot2::geom_step() +
    ggplot2::scale_colour_discrete(drop = FALSE, breaks = drawn) +
    ggplot2::scale_fill_discrete(drop = FALSE, breaks = drawn) +
    ggplot2::scale_x_continuous(breaks = data$breaks) +
    ggplot2::labs(x = data$labels$x, y = data$labels$y, colour = data$labels$colour,
                  fill = data$labels$colour, title = data$labels$title,
                  subtitle = data$labels$subtitle) +
    ggplot2::theme(legend.position = "top")
  if (is.null(table)) {
    if (by_cause) p <- p + ggplot2::facet_wrap(ggplot2::vars(.data$cause))
    return(p)
  }
  panel_names <- c(curves = "", table = data$risk_table_label)
  p + ggplot2::geom_text(ggplot2::aes(y = .data$y, label = .data$text), data = table,
                         size = 3.2, show.legend = FALSE) +
    ggplot2::geom_blank(ggplot2::aes(y = .data$y), data = data.frame(
      panel = "table", time = 0, treatment = table$treatment[1L],
      y = c(row_y[1L] + 0.6 * step, row_y[length(row_y)] - 0.6 * step))) +
    ggplot2::scale_y_continuous(breaks = function(lim) {
      if (lim[2L] < span[1L]) return(row_y)
      b <- pretty(lim)
      b[b >= lim[1L] & b <= lim[2L]]
    }, labels = function(b) {
      out <- format(b, trim = TRUE, drop0trailing = TRUE)
      at <- match(b, row_y)
      out[!is.na(at)] <- arms[at[!is.na(at)]]
      out
    }) +
    ggplot2::facet_grid(rows = ggplot2::vars(.data$panel), cols = if (by_cause) ggplot2::vars(.data$cause),
                        scales = "free_y", space = "free_y",
                        labeller = ggplot2::labeller(panel = panel_names)) +
    ggplot2::theme(strip.text.y = ggplot2::element_text(angle = 0),
                   strip.background.y = ggplot2::element_blank())
}

# The curve each row belongs to: its arm, within its cause.
curve_groups <- function(d) {
  if (is.null(d$cause)) d$treatment else interaction(d$cause, d$treatment, drop = TRUE)
}

# Bands of step functions: each value held until the next time.
step_ribbon <- function(d) {
  d <- d[order(d$time), , drop = FALSE]
  n <- nrow(d)
  held <- d[rep(seq_len(n), each = 2L)[-2L * n], , drop = FALSE]
  held$time <- rep(d$time, each = 2L)[-1L]
  held
}
