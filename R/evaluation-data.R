# Metrics and plot data of a causal_evaluation, computed fold by fold and
# phase by phase from its predictions.

# Apply f(pred, fold, phase) to the predictions of every fold and phase and
# bind the data frames it returns, with fold and phase columns added.
by_fold_phase <- function(ev, f) {
  p <- ev$predictions
  phase <- match(p$phase, unique(p$phase))
  key <- match(p$fold, unique(p$fold)) * (max(phase, 0L) + 1L) + phase
  first <- !duplicated(key)
  keys <- p[first, c("fold", "phase"), drop = FALSE]
  # Group codes 1, 2, ... in order of first appearance.
  rows <- split(seq_len(nrow(p)), match(key, key[first]))
  out <- lapply(seq_len(nrow(keys)), function(j) {
    part <- p[rows[[j]], , drop = FALSE]
    res <- f(part)
    if (is.null(res) || !nrow(res)) return(NULL)
    cbind(res, fold = keys$fold[j], phase = keys$phase[j], stringsAsFactors = FALSE)
  })
  do.call(rbind, out)
}

evaluation_metrics <- function(ev) {
  f <- switch(ev$type, weight = weight_metrics(ev), outcome = outcome_fold_metrics(ev),
              survival = survival_fold_metrics(ev),
              doubly_robust = both_metrics(weight_metrics(ev), outcome_fold_metrics(ev)))
  out <- by_fold_phase(ev, f)
  out[, c("fold", "phase", "treatment", "metric", "value")]
}

long_metrics <- function(tab, metrics) {
  do.call(rbind, lapply(metrics, function(m) {
    data.frame(treatment = tab$treatment, metric = m, value = tab[[m]], stringsAsFactors = FALSE)
  }))
}

weight_metrics <- function(ev) {
  function(part) {
    bal <- level_balance(evaluation_covariates(ev$fit, part$row), part$treatment, part$weight, part$sw)
    smd <- do.call(rbind, lapply(split(bal, bal$treatment), function(b) {
      data.frame(treatment = b$treatment[1L],
                 max_abs_smd_weighted = max_or_na(abs(b$smd_weighted)),
                 mean_abs_smd_weighted = mean(abs(b$smd_weighted), na.rm = TRUE),
                 max_abs_smd_unweighted = max_or_na(abs(b$smd_unweighted)))
    }))
    roc <- propensity_aucs(part$propensity, part$treatment, part$weight, part$sw)
    auc <- stats::reshape(roc, idvar = "treatment",
                          timevar = "curve", direction = "wide")
    names(auc) <- c("treatment", "roc_auc", "weighted_roc_auc", "expected_roc_auc")
    cal <- scored_levels(part$treatment, function(k, g) {
      c1 <- calibration_stats(part$propensity[, k], g, part$sw)
      data.frame(treatment = levels(part$treatment)[k], ece = c1$ece, ici = c1$ici)
    })
    tab <- merge(merge(smd, auc, by = "treatment"), cal, by = "treatment")
    long_metrics(tab, setdiff(names(tab), "treatment"))
  }
}

# The largest of the non-missing values of v, NA when there is none (an
# arm of one unit in a small fold has no standardized differences).
max_or_na <- function(v) if (all(is.na(v))) NA_real_ else max(v, na.rm = TRUE)

both_metrics <- function(f, g) function(part) rbind(f(part), g(part))

outcome_fold_metrics <- function(ev) {
  om <- ev$fit$outcome_model %||% ev$fit
  family <- deviance_family(om$learner, om$y)
  function(part) {
    tab <- outcome_metric_table(part$observed, part$predicted, part$treatment, part$sw, family)
    long_metrics(tab, setdiff(names(tab), c("treatment", "n")))
  }
}

#' Data behind the evaluation plots
#'
#' The data frame each [autoplot.causal_evaluation()] type draws, so that
#' the numbers can be inspected, tested or plotted another way. Every data
#' frame has the columns `fold` and `phase` (`"train"` or `"valid"`).
#' * `"balance"`, `"balance_slope"`: [love_plot_data()]'s columns
#'   (`covariate`, the labels as a factor in drawing order; `name`;
#'   `comparison`; `adjustment`, `unadjusted` then `weighted` or `matched`;
#'   `diff`; `standardized`) with [balance_table()]'s statistics computed
#'   on the units of each fold and phase (the fit's standard deviation
#'   denominator, raw differences for binary covariates, every level of a
#'   factor, the propensity score of the fold's model).
#' * `"weights"`: a histogram of the weights per arm pooled over folds
#'   (`fold` 0), with `bin_mid`, `bin_width` and `count`: units, each
#'   counted once however many folds' training sets it is in (a unit in
#'   m of them adds 1 / m to each of its m bins), and `side` (-1 for the
#'   first level of a binary treatment, drawn mirrored below the axis, else
#'   1).
#' * `"roc"`: `curve` (plain, weighted, expected), `fpr`, `tpr`, `auc`
#'   (the curve's area, which the plot shows);
#'   `"pr"`: `recall`, `precision`. For outcome models with a binary
#'   outcome, the curves of the outcome predictions per arm.
#' * `"calibration"`: `predicted`, `observed` and `n` (the weight of each
#'   bin of predictions).
#' * `"predicted_observed"`, `"residuals"`: `predicted`, `observed`,
#'   `residual` per unit; for a binary outcome `"predicted_observed"` is
#'   the outcome's calibration instead: `predicted`, `observed` and `n` per
#'   bin of predictions and arm.
#' * `"survival"`: `time`, `treatment`, `survival` and `source` (model or
#'   kaplan-meier).
#'
#' @param ev A `causal_evaluation` from [evaluate()].
#' @param type The plot type.
#' @return A data frame.
#' @export
#' @examples
#' fit <- ipw(qsmk ~ sex + age + wt71 + smokeintensity, data = nhefs)
#' ev <- evaluate(fit)
#' head(evaluation_data(ev, "balance"))
#' head(evaluation_data(ev, "roc"))
evaluation_data <- function(ev, type) {
  if (!inherits(ev, "causal_evaluation")) {
    cli::cli_abort("{.arg ev} must be a {.cls causal_evaluation} from {.fn evaluate}.")
  }
  type <- rlang::arg_match0(type, evaluation_plot_types, "type")
  allowed <- evaluation_types_for(ev)
  if (!type %in% allowed) {
    cli::cli_abort(c(
      "A plot of type {.val {type}} is not available for a {ev$type} model.",
      i = "Available: {.val {allowed}}."
    ))
  }
  switch(type,
    balance = , balance_slope = evaluation_balance_data(ev),
    weights = weights_plot_data(ev),
    roc = roc_plot_data(ev),
    pr = without_na(roc_plot_data(ev), "precision"),
    calibration = calibration_plot_data(ev),
    predicted_observed = if (binary_outcome(ev)) outcome_calibration_data(ev) else residual_plot_data(ev),
    residuals = residual_plot_data(ev),
    survival = survival_plot_data(ev))
}

# The rows of d where column `col` is not missing (the precision of an
# empty prediction set is undefined).
without_na <- function(d, col) d[!is.na(d[[col]]), , drop = FALSE]

evaluation_types_for <- function(ev) {
  weight <- c("balance", "balance_slope", "weights", "roc", "pr", "calibration")
  outcome <- c("predicted_observed", "residuals")
  switch(ev$type,
    weight = weight,
    outcome = c(outcome, if (binary_outcome(ev)) c("roc", "pr", "calibration")),
    doubly_robust = c(weight, outcome),
    survival = "survival")
}

roc_plot_data <- function(ev) {
  by_fold_phase(ev, function(part) {
    if (ev$type != "outcome") {
      roc <- propensity_roc(part$propensity, part$treatment, part$weight, part$sw)
    } else {
      roc <- do.call(rbind, lapply(levels(part$treatment), function(l) {
        i <- part$treatment == l
        y <- part$observed[i]
        r <- roc_curve(part$predicted[i], part$sw[i] * y, part$sw[i] * (1 - y))
        data.frame(curve = "plain", treatment = l, fpr = r$fpr, tpr = r$tpr, recall = r$tpr,
                   precision = r$precision, auc = attr(r, "auc"), stringsAsFactors = FALSE)
      }))
    }
    roc$curve <- factor(roc$curve, levels = c("plain", "weighted", "expected"))
    roc
  })
}

# Whether an evaluation has outcome predictions of an outcome taking only
# the values 0 and 1.
binary_outcome <- function(ev) {
  ev$type %in% c("outcome", "doubly_robust") && all(ev$predictions$observed %in% c(0, 1))
}

calibration_plot_data <- function(ev) {
  if (ev$type == "outcome") return(outcome_calibration_data(ev))
  by_fold_phase(ev, function(part) {
    scored_levels(part$treatment, function(k, g) {
      cbind(calibration_stats(part$propensity[, k], g, part$sw)$bins,
            treatment = levels(part$treatment)[k], stringsAsFactors = FALSE)
    })
  })
}

# Calibration of the outcome predictions, arm by arm: the mean prediction
# and observed proportion of each bin of predictions.
outcome_calibration_data <- function(ev) {
  by_fold_phase(ev, function(part) {
    do.call(rbind, lapply(levels(part$treatment), function(l) {
      i <- part$treatment == l
      cbind(calibration_stats(part$predicted[i], part$observed[i], part$sw[i])$bins,
            treatment = l, stringsAsFactors = FALSE)
    }))
  })
}

residual_plot_data <- function(ev) {
  p <- ev$predictions
  data.frame(row = p$row, treatment = as.character(p$treatment), predicted = p$predicted,
             observed = p$observed, residual = p$observed - p$predicted, fold = p$fold,
             phase = p$phase, stringsAsFactors = FALSE)
}

# Model and Kaplan-Meier curves per arm for the people of one fold and phase.
survival_part_curves <- function(ev, part) {
  w <- numeric(ev$fit$n)
  w[part$row] <- part$sw * part$weight
  evaluation_curves(ev$fit, ev$models[[part$fold[1L]]], part$row, w)
}

survival_fold_metrics <- function(ev) {
  function(part) {
    cv <- survival_part_curves(ev, part)
    gap <- apply(abs(cv$model - cv$km), 1L, function(g) if (all(is.na(g))) NA_real_ else max(g, na.rm = TRUE))
    data.frame(treatment = ev$levels, metric = "max_abs_km_gap", value = gap,
               stringsAsFactors = FALSE)
  }
}

survival_plot_data <- function(ev) {
  times <- ev$fit$times
  by_fold_phase(ev, function(part) {
    cv <- survival_part_curves(ev, part)
    K <- length(ev$levels)
    long <- function(m, source) {
      data.frame(time = rep(c(0, times), each = K), treatment = rep(ev$levels, length(times) + 1L),
                 survival = as.vector(cbind(1, m)), source = source, stringsAsFactors = FALSE)
    }
    out <- rbind(long(cv$model, "model"), long(cv$km, "kaplan-meier"))
    out$source <- factor(out$source, levels = c("model", "kaplan-meier"))
    out[!is.na(out$survival), , drop = FALSE]
  })
}
