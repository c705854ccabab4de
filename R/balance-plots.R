# Plots of balance and weights: the love plot (of a balance table, and of
# evaluations by fold), the balance-slope plot, the mirrored histograms of
# the weights, and the distribution of one covariate by arm. Each has a
# data path that returns the numbers it draws.

# ---- evaluation data --------------------------------------------------------------

# The adjustment levels of a model's plots: unadjusted, then matched for
# matching fits and weighted otherwise.
adjustment_levels <- function(fit) {
  c("unadjusted", if (is_matched(weight_model_of(fit))) "matched" else "weighted")
}

# The love plot's data of an evaluation: balance_table()'s statistics (the
# fit's standard deviation denominator, raw binary differences, the
# propensity score of the fold's model) on the units of each fold and
# phase, in love_plot_data()'s columns plus fold and phase.
evaluation_balance_data <- function(ev) {
  wm <- weight_model_of(ev$fit)
  denominator <- sd_denominator_arm(wm, NULL)
  bal <- by_fold_phase(ev, function(part) {
    covs <- bind_covariates(evaluation_covariates(ev$fit, part$row),
                            propensity_columns(part$propensity, levels(part$treatment)))
    balance_stats(covs, part$treatment, part$weight, part$sw, arm_pairs(nlevels(part$treatment)),
                  denominator, "raw")
  })
  love_frame(bal, adjustment_levels(wm), variable_labels = variable_label_attributes(wm))
}

# Histograms of the weights per arm and phase. A unit is in the training
# set of several folds (cross-validation, bootstrap), so each of its rows
# counts 1 / (its rows in the phase): every unit counts once.
weights_plot_data <- function(ev) {
  p <- ev$predictions
  lev <- levels(p$treatment)
  do.call(rbind, lapply(unique(p$phase), function(ph) {
    part <- p[p$phase == ph, , drop = FALSE]
    copies <- tabulate(match(part$row, part$row))[match(part$row, part$row)]
    bins <- group_histogram(part$weight, part$treatment, 1 / copies)
    names(bins)[1L] <- "treatment"
    bins$treatment <- factor(bins$treatment, levels = lev)
    bins$side <- if (length(lev) == 2L) ifelse(bins$treatment == lev[1L], -1L, 1L) else 1L
    cbind(bins, fold = 0L, phase = ph, stringsAsFactors = FALSE)
  }))
}

# Histograms of v in each group of the factor g on shared breaks (about
# `bins` of them): `group`, `bin_mid`, `bin_width` and `count` (the sum of
# the units' `count_weight`, by default the number of units).
group_histogram <- function(v, g, count_weight = rep(1, length(v)), bins = 30) {
  breaks <- pretty(range(v), n = bins)
  bin <- findInterval(v, breaks, rightmost.closed = TRUE, left.open = TRUE, all.inside = TRUE)
  nb <- length(breaks) - 1L
  do.call(rbind, lapply(levels(g), function(l) {
    i <- g == l
    counts <- vapply(seq_len(nb), function(b) sum(count_weight[i & bin == b]), 0)
    data.frame(group = l, bin_mid = (breaks[-1L] + breaks[-length(breaks)]) / 2,
               bin_width = diff(breaks), count = counts, stringsAsFactors = FALSE)
  }))
}

# ---- builders ------------------------------------------------------------------------

# The love plot, of a balance table and of an evaluation alike: |diff| per
# covariate (rows in the factor's order, from the bottom), unadjusted and
# adjusted, the threshold as a dashed line, rows whose differences are not
# standardized marked; one panel per comparison (rows) and phase (columns).
plot_love <- function(data, title = NULL, threshold = 0.1) {
  raw <- any(!data$standardized)
  ggplot2::ggplot(data, ggplot2::aes(x = abs(.data$diff), y = .data$covariate,
                                     colour = .data$adjustment, shape = .data$adjustment)) +
    threshold_line(threshold, "v") +
    ggplot2::geom_point(size = 2) +
    ggplot2::labs(x = if (raw) "Absolute mean difference" else "Absolute standardized mean difference",
                  y = NULL, colour = NULL, shape = NULL, title = title,
                  caption = if (raw) "* difference in proportions (not standardized)") +
    balance_theme() +
    comparison_facets(data)
}

# Panels of the balance plots, titled on top (comparisons have long names):
# one per comparison when there are several, times one per phase (train
# left of valid) when there are two.
comparison_facets <- function(data) {
  by_comparison <- length(unique(data$comparison)) > 1L
  phases <- intersect(c("train", "valid"), data$phase)
  if (!by_comparison && length(phases) < 2L) return(NULL)
  panels <- c(if (by_comparison) ggplot2::vars(comparison = .data$comparison),
              if (length(phases) > 1L) ggplot2::vars(phase = factor(.data$phase, levels = phases)))
  ggplot2::facet_wrap(panels, ncol = max(length(phases), 1L))
}

threshold_line <- function(threshold, direction) {
  if (is.null(threshold)) return(NULL)
  if (direction == "v") {
    ggplot2::geom_vline(xintercept = threshold, linetype = "dashed", colour = "grey40")
  } else {
    ggplot2::geom_hline(yintercept = threshold, linetype = "dashed", colour = "grey40")
  }
}

balance_theme <- function() {
  ggplot2::theme_bw() +
    ggplot2::theme(panel.grid.minor = ggplot2::element_blank(), legend.position = "bottom")
}

# Slopes from unadjusted to adjusted |diff|, each line labelled with its
# covariate at its adjusted end (of the first fold).
plot_balance_slope <- function(data, title = NULL, threshold = 0.1) {
  adjusted <- levels(data$adjustment)[nlevels(data$adjustment)]
  ends <- data[data$adjustment == adjusted & data$fold == min(data$fold), , drop = FALSE]
  p <- ggplot2::ggplot(data, ggplot2::aes(
    x = .data$adjustment, y = abs(.data$diff),
    group = interaction(.data$covariate, .data$fold, .data$comparison)
  )) +
    threshold_line(threshold, "h") +
    ggplot2::geom_line(colour = "grey40") +
    ggplot2::geom_point() +
    ggplot2::geom_text(ggplot2::aes(label = .data$covariate), data = ends, hjust = 0, nudge_x = 0.05,
                       size = 3) +
    ggplot2::labs(x = NULL, y = if (any(!data$standardized)) "Absolute mean difference" else
                    "Absolute standardized mean difference", title = title) +
    balance_theme() +
    comparison_facets(data)
}

# Mirrored histograms: the first arm of a binary treatment below the axis,
# with the axis labelled in (positive) counts.
plot_weights <- function(data, title = NULL) {
  side <- data$side %||% rep(1L, nrow(data))
  data$height <- side * data$count
  p <- ggplot2::ggplot(data, ggplot2::aes(x = .data$bin_mid, y = .data$height,
                                          fill = .data$treatment, width = .data$bin_width)) +
    ggplot2::geom_col(position = "identity", alpha = 0.6) +
    ggplot2::geom_hline(yintercept = 0) +
    ggplot2::scale_y_continuous(labels = function(y) format(abs(y), trim = TRUE)) +
    ggplot2::labs(x = "Weight", y = "Units", fill = "Treatment") +
    balance_theme()
  finish_evaluation_plot(p, data, title)
}

# ---- the love plot of a balance table ------------------------------------------------

#' Love plot of a balance table
#'
#' Draws the absolute differences of [balance_table()] before and after
#' weighting (or matching), one row per covariate, with the threshold as a
#' dashed line. Rows whose differences are not standardized (binary
#' covariates with `binary = "raw"`) are marked with an asterisk. With more
#' than two treatment levels each comparison has its own panel.
#' `love_plot_data()` returns the data frame the plot draws.
#'
#' Labels come from, in order: `labels` (named by covariate, such as
#' `race_black`, or by variable, such as `race`, whose levels are then
#' shown as `"Race: black"`), the `label` attributes of the data's columns
#' (as set by Hmisc or labelled), and the covariate names.
#'
#' @param object,x A `causal_balance` from [balance_table()].
#' @param order `"entered"` (the formula's order, factor levels in their
#'   own order; the default), `"alphabetical"`, `"unadjusted"` or
#'   `"adjusted"` (the most imbalanced, before or after adjustment, on
#'   top).
#' @param labels A named character vector of labels, or `NULL`.
#' @param propensity `FALSE` to leave out the propensity-score row.
#' @param ... Unused.
#' @return A ggplot object; `love_plot_data()` a data frame with columns
#'   `covariate` (a factor of the labels, in drawing order from the
#'   bottom), `name` (the covariate of [balance_table()]), `comparison`,
#'   `adjustment`, `diff` and `standardized`.
#' @exportS3Method ggplot2::autoplot
#' @examples
#' fit <- ipw(qsmk ~ sex + race + age + education + smokeintensity + wt71,
#'            data = nhefs, estimand = "ATT")
#' bal <- balance_table(fit)
#' head(love_plot_data(bal, order = "unadjusted"))
#' if (requireNamespace("ggplot2", quietly = TRUE)) {
#'   ggplot2::autoplot(bal, labels = c(age = "Age (years)", wt71 = "Weight in 1971 (kg)"))
#' }
autoplot.causal_balance <- function(object, order = "entered", labels = NULL, propensity = TRUE, ...) {
  rlang::check_dots_empty()
  rlang::check_installed("ggplot2", "to draw love plots.")
  plot_love(love_plot_data(object, order, labels, propensity), paste("Covariate balance:", attr(object, "title")),
            attr(object, "threshold"))
}

#' @rdname autoplot.causal_balance
#' @export
plot.causal_balance <- function(x, order = "entered", labels = NULL, propensity = TRUE, ...) {
  p <- autoplot.causal_balance(x, order = order, labels = labels, propensity = propensity, ...)
  print(p)
  invisible(p)
}

#' @rdname autoplot.causal_balance
#' @export
love_plot_data <- function(x, order = "entered", labels = NULL, propensity = TRUE) {
  if (!inherits(x, "causal_balance")) {
    cli::cli_abort("{.arg x} must be a balance table from {.fn balance_table}, not {.obj_type_friendly {x}}.")
  }
  order <- rlang::arg_match0(order, c("entered", "alphabetical", "unadjusted", "adjusted"), "order")
  check_bool(propensity, "propensity")
  if (!is.null(labels) && (!is.character(labels) || is.null(names(labels)) || anyNA(labels))) {
    cli::cli_abort(c("{.arg labels} must be a named character vector, such as {.code c(age = \"Age (years)\")}.",
                     x = "You gave {.obj_type_friendly {labels}}."))
  }
  bal <- as.data.frame(unclass(x), stringsAsFactors = FALSE)
  if (!propensity) bal <- bal[bal$type != "propensity", , drop = FALSE]
  adjustments <- c("unadjusted", attr(x, "adjustment") %||% "weighted")
  love_frame(bal, adjustments, order, labels, attr(x, "variable_labels"))
}

# Balance rows (balance_stats()'s columns, and any fold and phase) as the
# love plot draws them: two rows each, unadjusted and adjusted; `covariate`
# the labels (marked "*" when not standardized) as a factor in drawing
# order from the bottom, `name` the balance table's covariate.
love_frame <- function(bal, adjustments, order = "entered", labels = NULL, variable_labels = NULL) {
  shown <- covariate_labels(bal, labels, variable_labels)
  shown <- paste0(shown, ifelse(bal$standardized, "", "*"))
  names <- unique(bal$covariate)
  key <- shown[match(names, bal$covariate)]
  ranked <- switch(order,
    entered = names,
    alphabetical = names[order(key, decreasing = FALSE)],
    unadjusted = names[order(tapply(abs(bal$diff_unweighted), bal$covariate, max)[names], decreasing = TRUE)],
    adjusted = names[order(tapply(abs(bal$diff_weighted), bal$covariate, max)[names], decreasing = TRUE)])
  n <- nrow(bal)
  out <- data.frame(
    covariate = factor(rep(shown, 2L), levels = rev(key[match(ranked, names)])),
    name = rep(bal$covariate, 2L),
    comparison = rep(paste(bal$treatment, "vs", bal$reference), 2L),
    adjustment = factor(rep(adjustments, each = n), levels = adjustments),
    diff = c(bal$diff_unweighted, bal$diff_weighted),
    standardized = rep(bal$standardized, 2L),
    stringsAsFactors = FALSE
  )
  for (col in intersect(c("fold", "phase"), names(bal))) out[[col]] <- rep(bal[[col]], 2L)
  out
}

# The label of each row of a balance table: the user's label of the
# covariate, else of its variable (levels shown as "Label: level"), else
# the variable's label attribute, else the covariate's name.
covariate_labels <- function(bal, labels, attributes) {
  labels <- labels %||% character()
  attributes <- attributes %||% character()
  from_variable <- function(lab) {
    level <- substring(bal$covariate, nchar(bal$variable) + 2L)
    is_level <- startsWith(bal$covariate, paste0(bal$variable, "_"))
    ifelse(is.na(lab), NA_character_, ifelse(is_level, paste0(lab, ": ", level), lab))
  }
  out <- unname(labels[bal$covariate])
  out <- ifelse(is.na(out), from_variable(unname(labels[bal$variable])), out)
  out <- ifelse(is.na(out), from_variable(unname(attributes[bal$variable])), out)
  ifelse(is.na(out), bal$covariate, out)
}

# ---- distribution of one covariate ---------------------------------------------------

#' Distribution of a covariate by treatment arm, before and after adjustment
#'
#' The distributional balance plot of one variable of a weight model's
#' formula, as cobalt's `bal.plot()`: for a numeric variable (or the
#' propensity score) a histogram of each arm scaled to a density, for a
#' factor, character, logical or two-valued variable the proportion of each
#' level in each arm; unadjusted (sampling weights only) and weighted (or
#' matched). `balance_plot_data()` returns what `balance_plot()` draws.
#'
#' @param fit A fitted weight model ([ipw()], [matching()]), or a doubly
#'   robust or survival model fitted with one.
#' @param variable The name of a variable of the model's formula (as in
#'   [balance_table()]'s `variable` column, such as `"age"` or `"race"`),
#'   or `"propensity score"`.
#' @param bins The number of histogram bins (approximate, on rounded
#'   breaks) for a numeric variable.
#' @return `balance_plot_data()`: a data frame with `treatment` (a factor
#'   in level order), `adjustment` (`unadjusted`, then `weighted` or
#'   `matched`) and, for a numeric variable, `bin_mid`, `bin_width` and
#'   `density` (the arm's weight in the bin over its total weight and the
#'   bin's width), else `level` and `proportion`. `balance_plot()`: a
#'   ggplot object.
#' @export
#' @examples
#' fit <- ipw(qsmk ~ sex + race + age + education + wt71, data = nhefs, estimand = "ATT")
#' head(balance_plot_data(fit, "age"))
#' balance_plot_data(fit, "education")
#' if (requireNamespace("ggplot2", quietly = TRUE)) balance_plot(fit, "wt71")
balance_plot_data <- function(fit, variable, bins = 30) {
  fit <- weight_model_of(fit)
  check_count(bins, "bins", min = 2)
  v <- balance_variable(fit, variable)
  a <- fit$treatment
  sw <- sw_or_one(fit)
  adjustments <- adjustment_levels(fit)
  mass <- list(sw, sw * fit$weights)
  categorical <- is.factor(v) || is.character(v) || is.logical(v) || length(unique(v)) <= 2L
  if (categorical) {
    v <- if (is.factor(v)) v else factor(v)
    parts <- lapply(1:2, function(j) {
      tab <- stats::xtabs(mass[[j]] ~ a + v)
      data.frame(treatment = factor(rep(levels(a), nlevels(v)), levels = levels(a)),
                 adjustment = factor(adjustments[j], levels = adjustments),
                 level = factor(rep(levels(v), each = nlevels(a)), levels = levels(v)),
                 proportion = as.vector(tab / rowSums(tab)))
    })
    return(do.call(rbind, parts))
  }
  v <- as.double(v)
  parts <- lapply(1:2, function(j) {
    h <- group_histogram(v, a, mass[[j]], bins)
    share <- stats::ave(h$count, h$group, FUN = function(x) x / sum(x))
    data.frame(treatment = factor(h$group, levels = levels(a)),
               adjustment = factor(adjustments[j], levels = adjustments),
               bin_mid = h$bin_mid, bin_width = h$bin_width, density = share / h$bin_width)
  })
  do.call(rbind, parts)
}

#' @rdname balance_plot_data
#' @export
balance_plot <- function(fit, variable, bins = 30) {
  rlang::check_installed("ggplot2", "to draw balance plots.")
  data <- balance_plot_data(fit, variable, bins)
  title <- paste0("Distributional balance for ", variable, ": ", balance_title(weight_model_of(fit)))
  if ("level" %in% names(data)) {
    p <- ggplot2::ggplot(data, ggplot2::aes(x = .data$level, y = .data$proportion, fill = .data$treatment)) +
      ggplot2::geom_col(position = ggplot2::position_dodge(width = 0.8), width = 0.75) +
      ggplot2::labs(x = variable, y = "Proportion", fill = "Treatment", title = title)
  } else {
    p <- ggplot2::ggplot(data, ggplot2::aes(x = .data$bin_mid, y = .data$density, fill = .data$treatment,
                                            width = .data$bin_width)) +
      ggplot2::geom_col(position = "identity", alpha = 0.5) +
      ggplot2::labs(x = variable, y = "Density", fill = "Treatment", title = title)
  }
  p + ggplot2::facet_wrap(ggplot2::vars(.data$adjustment), ncol = 1L) + balance_theme()
}

# One variable of a fit as the user names it: a variable of its formula
# (evaluated on its rows with its fitted bases), a column of a matrix fit,
# or "propensity score" (of the last level).
balance_variable <- function(fit, variable) {
  if (!rlang::is_string(variable)) {
    cli::cli_abort("{.arg variable} must be the name of a variable of the model, not {.obj_type_friendly {variable}}.")
  }
  if (variable == "propensity score") return(fit$propensity[, ncol(fit$propensity)])
  if (is.null(fit$design)) {
    x <- as.matrix(covariate_matrix(fit))
    known <- colnames(x)
    if (variable %in% known) return(x[, variable])
  } else {
    tt <- fit$design$terms
    mf <- stats::model.frame(tt, fit_data(fit)[fit$rows, , drop = FALSE], na.action = stats::na.pass,
                             xlev = fit$design$xlevels)
    known <- names(mf)[setdiff(seq_along(mf), attr(tt, "offset"))]
    if (variable %in% known) return(mf[[variable]])
  }
  cli::cli_abort(c("{.arg variable} {.val {variable}} is not a variable of the model.",
                   i = "Choose one of {.or {.val {c(known, 'propensity score')}}}."))
}
