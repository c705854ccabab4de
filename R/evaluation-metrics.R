#' Discrimination and calibration of a weight model's propensity scores
#'
#' `weighted_roc_auc()` is the area under the ROC curve of the propensity
#' score for the treatment actually received, in the population the IP
#' weights create: 0.5 means the weights have removed the treatment's
#' predictability from the covariates. `expected_roc_auc()` is the AUC the
#' same scores would give if they were calibrated (each unit counted as
#' treated with probability \eqn{p} and untreated with \eqn{1 - p}); a
#' plain AUC (`roc_auc()`) far from it signals miscalibration. For a binary
#' treatment the score is the probability of the last level; with more
#' levels each level is scored against the rest.
#'
#' `calibration_error()` compares predicted probabilities with observed
#' proportions: the expected calibration error (ECE) averages
#' \eqn{|\bar y_b - \bar p_b|} over `bins` equal-frequency bins of the
#' predictions, weighted by the bins' sizes; the integrated calibration
#' index (ICI; Austin and Steyerberg 2019) averages \eqn{|p - \hat c(p)|}
#' where \eqn{\hat c} is a logistic calibration curve of the outcome on a
#' natural cubic spline (3 degrees of freedom) of the logit of the
#' prediction.
#'
#' Sampling weights count in all of them.
#'
#' @param fit A fitted weight model ([ipw()]); for `calibration_error()`
#'   also a [standardization()] model with a binary outcome.
#' @param bins Number of bins of the ECE.
#' @return A named vector, one value per treatment level scored (one for a
#'   binary treatment); for `calibration_error()` a data frame with columns
#'   `treatment`, `ece` and `ici`.
#' @references Austin PC, Steyerberg EW (2019). The Integrated Calibration
#'   Index (ICI) and related metrics for quantifying the calibration of
#'   logistic regression models. *Statistics in Medicine* 38(21), 4051-4065.
#' @export
#' @examples
#' fit <- ipw(qsmk ~ sex + race + age + education + smokeintensity + wt71, data = nhefs)
#' roc_auc(fit)
#' weighted_roc_auc(fit)
#' expected_roc_auc(fit)
#' calibration_error(fit)
weighted_roc_auc <- function(fit) {
  auc_of(weight_model_of(fit), "weighted")
}

#' @rdname weighted_roc_auc
#' @export
expected_roc_auc <- function(fit) {
  auc_of(weight_model_of(fit), "expected")
}

#' @rdname weighted_roc_auc
#' @export
roc_auc <- function(fit) {
  auc_of(weight_model_of(fit), "plain")
}

auc_of <- function(fit, curve) {
  tab <- propensity_aucs(fit$propensity, fit$treatment, fit$ip_weights, fit$sampling_weights)
  tab <- tab[tab$curve == curve, ]
  stats::setNames(tab$auc, tab$treatment)
}

#' @rdname weighted_roc_auc
#' @export
calibration_error <- function(fit, bins = 10) {
  check_count(bins, "bins", min = 2)
  if (inherits(fit, "causallib_standardization")) {
    check_binary_outcome(fit$y)
    pred <- observed_arm_prediction(fit$potential_outcomes, fit$treatment)
    return(outcome_calibration(fit$y, pred, fit$treatment, fit$sampling_weights, bins))
  }
  fit <- weight_model_of(fit)
  scored_levels(fit$treatment, function(k, g) {
    p <- fit$propensity[, k]
    cal <- calibration_stats(p, g, fit$sampling_weights, bins)
    data.frame(treatment = levels(fit$treatment)[k], ece = cal$ece, ici = cal$ici)
  })
}

# Apply f(k, g) to each scored level k with its 0/1 indicator g and bind
# the data frames: the last level for a binary treatment, every level
# otherwise.
scored_levels <- function(a, f) {
  ks <- if (nlevels(a) == 2L) 2L else seq_len(nlevels(a))
  do.call(rbind, lapply(ks, function(k) f(k, as.integer(as.integer(a) == k))))
}

# ROC curves (plain, IP-weighted, expected) of the propensity scores, with
# their AUCs repeated on every row (column auc).
propensity_roc <- function(P, a, w, sw) {
  sw <- sw %||% rep(1, length(a))
  scored_levels(a, function(k, g) {
    masses <- roc_masses(P[, k], g, w, sw)
    do.call(rbind, lapply(names(masses), function(curve) {
      r <- roc_curve(P[, k], masses[[curve]][[1L]], masses[[curve]][[2L]])
      data.frame(curve = curve, treatment = levels(a)[k], fpr = r$fpr, tpr = r$tpr,
                 recall = r$tpr, precision = r$precision, auc = attr(r, "auc"),
                 stringsAsFactors = FALSE)
    }))
  })
}

# The AUCs of those curves alone: one row per curve and level.
propensity_aucs <- function(P, a, w, sw) {
  sw <- sw %||% rep(1, length(a))
  scored_levels(a, function(k, g) {
    masses <- roc_masses(P[, k], g, w, sw)
    auc <- vapply(masses, function(m) roc_auc_value(P[, k], m[[1L]], m[[2L]]), numeric(1))
    data.frame(curve = names(masses), treatment = levels(a)[k], auc = unname(auc),
               stringsAsFactors = FALSE)
  })
}

# Positive and negative masses of the plain, IP-weighted and expected ROC
# curves of one level's propensity p (g: 1 for the units at that level).
roc_masses <- function(p, g, w, sw) {
  list(plain = list(sw * g, sw * (1 - g)),
       weighted = list(sw * w * g, sw * w * (1 - g)),
       expected = list(sw * p, sw * (1 - p)))
}

# ECE and ICI of probabilities p for a 0/1 outcome y, and the bins.
calibration_stats <- function(p, y, sw = NULL, bins = 10) {
  sw <- sw %||% rep(1, length(p))
  cuts <- unique(stats::quantile(p, seq(0, 1, length.out = bins + 1L), names = FALSE, type = 1))
  bin <- if (length(cuts) > 1L) findInterval(p, cuts, rightmost.closed = TRUE, all.inside = TRUE) else rep(1L, length(p))
  mass <- rowsum(sw, bin)[, 1L]
  predicted <- rowsum(sw * p, bin)[, 1L] / mass
  observed <- rowsum(sw * y, bin)[, 1L] / mass
  ece <- sum(mass * abs(observed - predicted)) / sum(mass)
  list(ece = ece, ici = integrated_calibration_index(p, y, sw),
       bins = data.frame(predicted = predicted, observed = observed, n = mass))
}

# ICI with a spline-logistic calibration curve, fitted by the C engine.
integrated_calibration_index <- function(p, y, sw) {
  lp <- stats::qlogis(pmin(pmax(p, 1e-8), 1 - 1e-8))
  basis <- if (length(unique(lp)) > 3L) splines::ns(lp, df = 3) else matrix(lp)
  basis <- matrix(basis, length(lp))
  lf <- suppressWarnings(learner_fit(lrn_glm(), basis, y, sw, intercept = TRUE))
  smooth <- learner_predict(lf, basis)
  sum(sw * abs(p - smooth)) / sum(sw)
}

#' Fit of an outcome model, treatment arm by treatment arm
#'
#' Each unit's outcome predicted under the treatment it received, against
#' the observed outcome, within each treatment arm: root mean squared
#' error, \eqn{R^2} (one minus the residual over the total sum of squares
#' about the arm's mean), the deviance of the learner's family (and the
#' deviance per unit, `mean_deviance`, comparable between samples of
#' different sizes), and for
#' binary outcomes the AUC and calibration errors (see
#' [calibration_error()]). Sampling weights count in all of them.
#'
#' @param fit A fitted [standardization()] model.
#' @return A data frame with one row per treatment level.
#' @export
#' @examples
#' fit <- standardization(wt82_71 ~ qsmk + sex + age + wt71, data = nhefs,
#'                        treatment = qsmk, na_action = "omit")
#' outcome_metrics(fit)
outcome_metrics <- function(fit) {
  if (!inherits(fit, "causallib_standardization")) {
    cli::cli_abort("{.arg fit} must be an outcome model such as {.fn standardization}.")
  }
  pred <- observed_arm_prediction(fit$potential_outcomes, fit$treatment)
  outcome_metric_table(fit$y, pred, fit$treatment, fit$sampling_weights,
                       deviance_family(fit$learner, fit$y))
}

# The family whose deviance scores an outcome learner: a GLM's own; for
# other learners binomial for a 0/1 outcome and gaussian otherwise.
deviance_family <- function(learner, y) {
  if (inherits(learner, "causallib_lrn_glm")) return(learner$family)
  if (all(y %in% c(0, 1))) "binomial" else "gaussian"
}

observed_arm_prediction <- function(po, a) po[cbind(seq_along(a), as.integer(a))]

outcome_metric_table <- function(y, pred, a, sw, family) {
  sw <- sw %||% rep(1, length(y))
  binary <- all(y %in% c(0, 1))
  rows <- lapply(seq_len(nlevels(a)), function(k) {
    i <- as.integer(a) == k
    out <- data.frame(treatment = levels(a)[k], n = sum(i),
                      rmse = sqrt(sum(sw[i] * (y[i] - pred[i])^2) / sum(sw[i])),
                      r_squared = weighted_r_squared(y[i], pred[i], sw[i]),
                      deviance = family_deviance(family, y[i], pred[i], sw[i]))
    out$mean_deviance <- out$deviance / sum(sw[i])
    if (binary && length(unique(y[i])) == 2L) {
      cal <- calibration_stats(pred[i], y[i], sw[i])
      out$auc <- attr(roc_curve(pred[i], sw[i] * y[i], sw[i] * (1 - y[i])), "auc")
      out$ece <- cal$ece
      out$ici <- cal$ici
    } else if (binary) {
      out$auc <- out$ece <- out$ici <- NA_real_
    }
    out
  })
  do.call(rbind, rows)
}

outcome_calibration <- function(y, pred, a, sw, bins) {
  do.call(rbind, lapply(seq_len(nlevels(a)), function(k) {
    i <- as.integer(a) == k
    cal <- calibration_stats(pred[i], y[i], sw[i], bins)
    data.frame(treatment = levels(a)[k], ece = cal$ece, ici = cal$ici)
  }))
}

check_binary_outcome <- function(y) {
  if (!all(y %in% c(0, 1))) {
    cli::cli_abort("Calibration needs a binary (0/1) outcome.")
  }
}

weighted_r_squared <- function(y, pred, w) {
  m <- sum(w * y) / sum(w)
  1 - sum(w * (y - pred)^2) / sum(w * (y - m)^2)
}

family_deviance <- function(family, y, mu, w) {
  switch(family,
    binomial = {
      mu <- pmin(pmax(mu, 1e-15), 1 - 1e-15)
      -2 * sum(w * (y * log(mu) + (1 - y) * log(1 - mu)))
    },
    poisson = 2 * sum(w * (ifelse(y > 0, y * log(y / mu), 0) - (y - mu))),
    sum(w * (y - mu)^2))
}
