# Plot builders for evaluate(): each takes the tidy data frame that
# evaluation_data() returns for its type and draws it, so the numbers a plot
# shows are the numbers a user can get.

evaluation_plot_types <- c(
  "balance", "balance_slope", "weights", "roc", "pr", "calibration",
  "predicted_observed", "residuals", "survival"
)

#' Draw one evaluation plot from its data
#'
#' @param data The data frame [evaluation_data()] returns for `type`.
#' @param type One of `evaluation_plot_types`.
#' @param title Plot title, or `NULL` for none.
#' @return A ggplot object.
#' @keywords internal
#' @noRd
evaluation_plot <- function(data, type, title = NULL) {
  rlang::check_installed("ggplot2", "to plot model evaluations.")
  check_evaluation_plot_type(type)
  build <- switch(type,
    balance = plot_love,
    balance_slope = plot_balance_slope,
    weights = plot_weights,
    roc = plot_roc,
    pr = plot_pr,
    calibration = plot_calibration,
    predicted_observed = plot_predicted_observed,
    residuals = plot_residuals,
    survival = plot_survival
  )
  build(data, title)
}

check_evaluation_plot_type <- function(type) {
  if (is.character(type) && length(type) == 1L && type %in% evaluation_plot_types) {
    return(invisible(type))
  }
  got <- if (rlang::is_string(type)) "You gave {.val {type}}." else "You gave {.obj_type_friendly {type}}."
  cli::cli_abort(c("{.arg type} must be one of {.or {.val {evaluation_plot_types}}}.", x = got))
}

# ROC curves, each labelled with its AUC (the `auc` column, as the
# package's roc_auc(), weighted_roc_auc() and expected_roc_auc() compute
# it; the mean over folds when there are several): in the legend when the
# plot is one panel, else in the lower right corner of each panel.
plot_roc <- function(data, title = NULL) {
  aucs <- roc_auc_labels(data)
  folds <- length(unique(data$fold))
  note <- if (folds > 1L) paste0("AUC: mean of ", folds, " folds")
  p <- ggplot2::ggplot(data, ggplot2::aes(x = .data$fpr, y = .data$tpr, colour = .data$curve,
                                          group = interaction(.data$curve, .data$fold))) +
    diagonal_reference() +
    ggplot2::geom_path() +
    unit_square() +
    ggplot2::labs(x = "False positive rate", y = "True positive rate", colour = "Curve")
  if (nrow(unique(aucs[c("treatment", "phase")])) == 1L) {
    p <- p + ggplot2::scale_colour_discrete(breaks = aucs$curve, labels = aucs$label) +
      ggplot2::labs(colour = paste(c("Curve", note), collapse = "\n"))
  } else {
    panel_text <- stats::aggregate(label ~ treatment + phase, aucs, function(l) paste(c(note, l), collapse = "\n"))
    p <- p + ggplot2::geom_text(ggplot2::aes(x = 1, y = 0, label = .data$label), data = panel_text,
                                inherit.aes = FALSE, hjust = 1, vjust = 0, size = 3, lineheight = 0.9)
  }
  finish_evaluation_plot(p, data, title, by_treatment = TRUE)
}

# One row per curve, treatment and phase: the curve's AUC (the mean over
# folds when there are several) and its label, "weighted (AUC 0.712)".
roc_auc_labels <- function(data) {
  first <- data[!duplicated(data[c("curve", "treatment", "phase", "fold")]), , drop = FALSE]
  aucs <- stats::aggregate(auc ~ curve + treatment + phase, first, mean)
  aucs <- aucs[order(aucs$phase, aucs$treatment, aucs$curve), , drop = FALSE]
  aucs$curve <- as.character(aucs$curve)
  aucs$label <- paste0(aucs$curve, " (AUC ", formatC(aucs$auc, format = "f", digits = 3), ")")
  rownames(aucs) <- NULL
  aucs
}

# One path per curve (plain, weighted, expected) and fold, coloured by curve
# as the ROC curves are.
plot_pr <- function(data, title = NULL) {
  p <- ggplot2::ggplot(data, ggplot2::aes(x = .data$recall, y = .data$precision, colour = .data$curve,
                                          group = interaction(.data$curve, .data$fold))) +
    ggplot2::geom_path() +
    unit_square() +
    ggplot2::labs(x = "Recall", y = "Precision", colour = "Curve")
  finish_evaluation_plot(p, data, title, by_treatment = TRUE)
}

plot_calibration <- function(data, title = NULL) {
  p <- ggplot2::ggplot(data, ggplot2::aes(x = .data$predicted, y = .data$observed,
                                          group = .data$fold)) +
    diagonal_reference() +
    ggplot2::geom_line() +
    ggplot2::geom_point(ggplot2::aes(size = .data$n)) +
    unit_square() +
    ggplot2::labs(x = "Predicted probability", y = "Observed proportion", size = "n")
  finish_evaluation_plot(p, data, title, by_treatment = TRUE)
}

# Units as points; for a binary outcome (data binned, with a column `n`)
# the calibration of each arm: the observed proportion against the mean
# prediction of each bin, a 0/1 scatter telling nothing.
plot_predicted_observed <- function(data, title = NULL) {
  if (!is.null(data$n)) {
    p <- ggplot2::ggplot(data, ggplot2::aes(x = .data$predicted, y = .data$observed,
                                            colour = .data$treatment,
                                            group = interaction(.data$treatment, .data$fold))) +
      diagonal_reference() +
      ggplot2::geom_line() +
      ggplot2::geom_point(ggplot2::aes(size = .data$n)) +
      unit_square() +
      ggplot2::labs(x = "Predicted probability", y = "Observed proportion", colour = "Treatment",
                    size = "n")
    return(finish_evaluation_plot(p, data, title))
  }
  p <- ggplot2::ggplot(data, ggplot2::aes(x = .data$predicted, y = .data$observed,
                                          colour = .data$treatment)) +
    diagonal_reference() +
    ggplot2::geom_point(alpha = 0.4) +
    ggplot2::labs(x = "Predicted outcome", y = "Observed outcome", colour = "Treatment")
  finish_evaluation_plot(p, data, title)
}

plot_residuals <- function(data, title = NULL) {
  p <- ggplot2::ggplot(data, ggplot2::aes(x = .data$predicted, y = .data$residual,
                                          colour = .data$treatment)) +
    ggplot2::geom_hline(yintercept = 0) +
    ggplot2::geom_point(alpha = 0.4) +
    ggplot2::labs(x = "Predicted outcome", y = "Residual", colour = "Treatment")
  finish_evaluation_plot(p, data, title)
}

plot_survival <- function(data, title = NULL) {
  p <- ggplot2::ggplot(data, ggplot2::aes(
    x = .data$time, y = .data$survival, colour = .data$treatment, linetype = .data$source,
    group = interaction(.data$treatment, .data$source, .data$fold)
  )) +
    ggplot2::geom_step() +
    ggplot2::labs(x = "Time", y = "Survival", colour = "Treatment", linetype = "Source")
  finish_evaluation_plot(p, data, title)
}

diagonal_reference <- function() {
  ggplot2::geom_abline(slope = 1, intercept = 0, linetype = "dashed", colour = "grey50")
}

# Limits on the coordinates, not the scales, so no point is dropped.
unit_square <- function() {
  ggplot2::coord_equal(xlim = c(0, 1), ylim = c(0, 1))
}

# Adds what every evaluation plot shares: the title, phases side by side
# (train left of valid) and, where asked, one row of panels per treatment.
finish_evaluation_plot <- function(p, data, title, by_treatment = FALSE) {
  p + evaluation_facets(data, by_treatment) + ggplot2::labs(title = title)
}

evaluation_facets <- function(data, by_treatment) {
  cols <- rows <- NULL
  if (length(unique(data$phase)) > 1L) {
    cols <- ggplot2::vars(phase = factor(.data$phase, levels = c("train", "valid")))
  }
  if (by_treatment && length(unique(data$treatment)) > 1L) {
    rows <- ggplot2::vars(treatment = .data$treatment)
  }
  if (is.null(cols) && is.null(rows)) {
    return(NULL)
  }
  ggplot2::facet_grid(rows = rows, cols = cols)
}
