#' Nearest-neighbour matching
#'
#' A weight model whose weights come from greedy nearest-neighbour matching,
#' with MatchIt's conventions for `method = "nearest"`. Each focal unit is
#' matched to its `k` nearest units of the other arm; the matching weights
#' then make the matched units of the other arm stand in for the focal arm.
#'
#' * `distance = "propensity"`: the distance between two units is the
#'   absolute difference of their propensity scores (the probability of the
#'   last treatment level, from `learner`).
#' * `distance = "mahalanobis"`: the Mahalanobis distance between the
#'   design's covariates (its model-matrix columns without the intercept;
#'   constant columns dropped) with the pooled within-arm covariance,
#'   sampling-weighted if `weights` are given, as MatchIt's
#'   `distance = "mahalanobis"`; a singular covariance is replaced by its
#'   generalized inverse. The propensity model is fitted all the same, for
#'   the diagnostics ([balance_table()], [evaluate()]).
#' * `estimand`: `"ATT"` matches the treated (the `treated` level) to
#'   controls, `"ATC"` the controls to the treated, `"ATE"` does both,
#'   so every unit is focal once (this needs `replace = TRUE`).
#' * `replace = FALSE` matches in `k` rounds, each giving every focal unit
#'   one more match among the units not yet taken, in MatchIt's default
#'   order (`m.order`): the largest propensity score first for the ATT, the
#'   smallest first for the ATC, the data order for the Mahalanobis distance.
#'   With replacement the order does not matter.
#' * `caliper`, in standard deviations of the propensity score (unweighted,
#'   over all units): candidates farther away are never matched, and focal
#'   units left without any match get weight 0 (a message gives their count).
#' * Ties in distance go to the unit in the lower row; distances that agree
#'   to a relative 1e-9 count as tied, so that rounding does not decide
#'   between candidates at mathematically equal distances.
#'
#' Matching weights, MatchIt's: a focal unit with at least one match weighs
#' 1; a matched unit of the other arm weighs the sum, over the focal units it
#' was matched to, of 1 / (the number of matches that focal unit got), and
#' these weights are then scaled to sum to the number of distinct matched
#' units (effect estimates do not depend on this scaling). For the ATE a
#' unit weighs 1 if it got matches plus the weight it received as a match,
#' unscaled. Unmatched units weigh 0.
#'
#' A fit is an [ipw()] fit with matching weights, so [weights()],
#' [balance_table()], [evaluate()] and [estimate_effect()] work on it.
#' Effects use the weighted (Hajek) means of the outcome, times any sampling
#' weights: for the ATT the difference in means of the matched sample. The
#' sandwich standard error does not hold for matching weights, so
#' `estimate_outcomes()` defaults to `se = "bootstrap"`, which re-runs the
#' whole pipeline (propensity model and matching) on each resample, and
#' `estimate_effect()` (whose default is the sandwich) needs
#' `se = "bootstrap"` or `se = "none"`. [evaluate()] refits the matching on
#' training folds and matches validation units among themselves with the
#' trained propensity model and caliper width.
#'
#' @inheritParams ipw
#' @param formula A formula `treatment ~ covariates`, with a binary
#'   treatment.
#' @param distance `"propensity"` or `"mahalanobis"`.
#' @param k The number of matches per focal unit.
#' @param caliper `NULL`, or the largest propensity-score distance allowed
#'   for a match, in standard deviations of the propensity score (not
#'   available for the Mahalanobis distance).
#' @param replace Match with replacement?
#' @param estimand `"ATT"`, `"ATC"` or `"ATE"`.
#' @param learner The propensity learner; by default a logistic regression
#'   fitted in C, see [lrn_glm()].
#' @return An object of class `causallib_matching` (also a `causallib_ipw`)
#'   with the fields of an [ipw()] fit (`weights` and `ip_weights` are the
#'   matching weights, `propensity` the propensity matrix), and
#'   `match_pairs` (a data frame with `focal_row`, `matched_row` (rows of
#'   `data`) and `distance`, one row per match, focal units in matching
#'   order), `n_unmatched` (focal units without a match), `caliper_distance`
#'   (the caliper on the propensity scale, `Inf` for none) and `spec` (the
#'   matching settings).
#' @seealso [matched_data()], [estimate_effect()], [balance_table()]
#' @export
#' @examples
#' fit <- matching(qsmk ~ sex + age + wt71, data = nhefs)
#' fit
#' head(fit$match_pairs)
#' balance_table(fit)
#'
#' d <- nhefs[!is.na(nhefs$wt82_71), ]
#' fit <- matching(qsmk ~ sex + race + age + education + smokeintensity + wt71,
#'                 data = d, k = 2, caliper = 0.2)
#' estimate_effect(fit, outcome = wt82_71, se = "none")
#' set.seed(1)
#' estimate_effect(fit, outcome = wt82_71, se = "bootstrap", R = 50)
#'
#' mfit <- matching(qsmk ~ sex + age + wt71, data = nhefs, distance = "mahalanobis")
#' head(matched_data(mfit)[, c("qsmk", "sex", "age", "wt71", "weights")])
matching <- function(formula, data, distance = "propensity", k = 1, caliper = NULL,
                     replace = TRUE, estimand = "ATT", learner = lrn_glm(),
                     weights = NULL, treated = NULL, na_action = "fail") {
  spec <- matching_spec(distance, k, caliper, replace, estimand, treated)
  d <- new_design(formula, data, weights = rlang::enquo(weights), na_action = na_action, env = parent.frame())
  a <- as_treatment(d$response, "treatment")
  if (nlevels(a) != 2L) {
    cli::cli_abort("{.arg formula} must have a binary treatment for matching; {.code {format(formula[[2L]])}} has {nlevels(a)} levels.")
  }
  fit <- matching_engine(d$x, a, d$offset, spec, learner, d$weights)
  inform_unmatched(fit)
  fit$match_pairs$focal_row <- d$rows[fit$match_pairs$focal_row]
  fit$match_pairs$matched_row <- d$rows[fit$match_pairs$matched_row]
  fit$treatment_expr <- formula[[2L]]
  fit$treatment_name <- rlang::expr_deparse(formula[[2L]])
  with_front_end(fit, d, match.call(), parent.frame(), nrow(data))
}

#' @describeIn matching Matrix interface: `x` is a numeric covariate matrix
#'   (with an intercept column if the propensity model should have one) and
#'   `a` the binary treatment.
#' @param x A numeric covariate matrix.
#' @param a The binary treatment.
#' @export
matching_fit <- function(x, a, distance = "propensity", k = 1, caliper = NULL,
                         replace = TRUE, estimand = "ATT", learner = lrn_glm(),
                         weights = NULL, treated = NULL) {
  spec <- matching_spec(distance, k, caliper, replace, estimand, treated)
  x <- check_matrix(x)
  a <- as_treatment(a, "a")
  if (length(a) != nrow(x)) cli::cli_abort("{.arg a} has length {length(a)}, but {.arg x} has {nrow(x)} rows.")
  if (nlevels(a) != 2L) cli::cli_abort("{.arg a} must be binary for matching; it has {nlevels(a)} levels.")
  fit <- matching_engine(x, a, NULL, spec, learner, weights)
  inform_unmatched(fit)
  fit$call <- match.call()
  fit
}

matching_spec <- function(distance, k, caliper, replace, estimand, treated = NULL) {
  distance <- rlang::arg_match0(distance, c("propensity", "mahalanobis"), "distance")
  estimand <- rlang::arg_match0(estimand, c("ATT", "ATC", "ATE"), "estimand")
  check_count(k, "k", min = 1)
  if (!is.null(caliper)) {
    if (distance == "mahalanobis") {
      cli::cli_abort(c(
        "{.arg caliper} is available for {.code distance = \"propensity\"} only.",
        i = "As in MatchIt, the Mahalanobis distance itself takes no caliper."
      ))
    }
    check_number(caliper, "caliper", min = 0, open = c(TRUE, FALSE))
  }
  check_bool(replace, "replace")
  if (estimand == "ATE" && !replace) {
    cli::cli_abort(c(
      "{.code estimand = \"ATE\"} needs {.code replace = TRUE}.",
      i = "Every unit is then matched to the other arm, whose units must be reusable."
    ))
  }
  list(distance = distance, k = as.integer(k), caliper = caliper, replace = replace,
       estimand = estimand, treated = treated)
}

# The propensity model (with the design's offset) and the matching on the
# design x. Pairs are in rows of x.
matching_engine <- function(x, a, offset, spec, learner, weights) {
  check_treatment_learner(learner)
  weights <- as_sampling_weights(weights, length(a))
  check_arms_nonempty(a, weights)
  target <- estimand_target(spec$estimand, levels(a), spec$treated)
  ps <- fit_propensity(learner, x, a, weights, offset, FALSE)
  P <- ps$propensity
  caliper <- if (is.null(spec$caliper)) Inf else spec$caliper * stats::sd(P[, 2L])
  m <- run_matching(x, a, P, spec, caliper, weights, target)
  if (!any(m$weights > 0)) {
    cli::cli_abort(c(
      "No focal unit found a match{if (is.finite(caliper)) ' within the caliper'}.",
      i = if (is.finite(caliper)) "Widen {.arg caliper}."
    ))
  }
  structure(list(
    weights = m$weights, ip_weights = m$weights, propensity = P, treatment = a,
    levels = levels(a), estimand = spec$estimand,
    target = target, learner = learner,
    learner_fit = ps$learner_fit, x = x, offset = offset, intercept = FALSE,
    sampling_weights = weights, n = length(a), rows = seq_along(a),
    match_pairs = m$pairs, n_unmatched = m$n_unmatched, caliper_distance = caliper,
    spec = spec
  ), class = c("causallib_matching", "causallib_weight_model", "causallib_model"))
}

# Matching is not a weighted estimator: a bootstrap resample that draws a
# unit twice matches both copies. So case weights must be whole numbers, the
# units are repeated that often and matched; each unit's weight is then the
# mean of its copies' matching weights, so that with the case weights as
# sampling weights (as in every refit) the Hajek means, balance and curves
# are those of the repeated data.
#' @export
refit.causallib_matching <- function(fit, case_weights = NULL, rows = NULL, learner = NULL) {
  rows <- if (is.null(rows)) seq_len(fit$n) else as.integer(rows)
  counts <- if (is.null(case_weights)) rep(1L, length(rows)) else rep_len(case_weights, fit$n)[rows]
  if (anyNA(counts) || any(counts < 0) || any(counts != round(counts))) {
    cli::cli_abort("Matching is refitted on whole-number case weights (frequencies), not {.val {utils::head(counts[counts != round(counts)], 1)}}.")
  }
  copies <- rep.int(rows, counts)
  m <- matching_engine(fit$x[copies, , drop = FALSE], fit$treatment[copies], fit$offset[copies],
                       fit$spec, learner %||% fit$learner, fit$sampling_weights[copies])
  unit <- match(copies, rows)
  first <- match(seq_along(rows), unit)
  out <- m
  sums <- arm_sums(m$weights, factor(unit, levels = seq_along(rows)))
  out$weights <- out$ip_weights <- ifelse(counts > 0, sums / pmax(counts, 1), 0)
  out$propensity <- m$propensity[first, , drop = FALSE]
  undrawn <- is.na(first)
  if (any(undrawn)) {
    out$propensity[undrawn, ] <- learner_predict(
      m$learner_fit, fit$x[rows[undrawn], , drop = FALSE], fit$offset[rows[undrawn]])
  }
  out$treatment <- fit$treatment[rows]
  out$x <- fit$x[rows, , drop = FALSE]
  out$offset <- fit$offset[rows]
  out$sampling_weights <- if (is.null(case_weights) && is.null(fit$sampling_weights)) NULL else
    sw_or_one(fit)[rows] * counts
  out$n <- length(rows)
  data_row <- fit$rows[rows]
  out$match_pairs$focal_row <- data_row[unit[m$match_pairs$focal_row]]
  out$match_pairs$matched_row <- data_row[unit[m$match_pairs$matched_row]]
  keep_front_end(out, fit, rows)
}

# Matching weights, the matched pairs (model rows) and the number of
# unmatched focal units, given the propensities P: the focal arm is the
# estimand's target level (both arms for the ATE).
run_matching <- function(x, a, P, spec, caliper, weights, target) {
  coords <- if (spec$distance == "propensity") {
    matrix(P[, 2L], nrow = 1L)
  } else {
    t(whitened_covariates(x, a, weights))
  }
  focal_arms <- if (spec$estimand == "ATE") 2:1 else target
  sides <- lapply(focal_arms, match_side, coords = coords, a = as.integer(a),
                  score = P[, 2L], spec = spec, caliper = caliper)
  list(weights = Reduce(`+`, lapply(sides, `[[`, "weights")),
       pairs = do.call(rbind, lapply(sides, `[[`, "pairs")),
       n_unmatched = sum(vapply(sides, `[[`, integer(1), "n_unmatched")))
}

# The units of arm f matched among the other arm.
match_side <- function(f, coords, a, score, spec, caliper) {
  focal <- which(a == f)
  if (!spec$replace && spec$distance == "propensity") {
    focal <- focal[order(score[focal], decreasing = f == 2L)]
  }
  pool <- which(a != f)
  k <- max(1L, min(spec$k, length(pool)))
  m <- .Call(C_ffi_match_nearest, coords, focal, pool, k, caliper, spec$replace)
  hit <- !is.na(m$match)
  got <- rowSums(hit)
  w <- received_weights(m$match, got, length(a))
  if (spec$estimand != "ATE" && any(w > 0)) w <- w * sum(w > 0) / sum(w)
  w[focal[got > 0]] <- 1
  by_focal <- order(row(hit)[hit])
  pairs <- data.frame(focal_row = focal[row(hit)[hit]], matched_row = m$match[hit],
                      distance = m$distance[hit])[by_focal, , drop = FALSE]
  rownames(pairs) <- NULL
  list(weights = w, pairs = pairs, n_unmatched = sum(got == 0L))
}

# Weight each unit receives as a match: 1 / (number of matches) from every
# focal unit it was matched to.
received_weights <- function(match, got, n) {
  w <- numeric(n)
  hit <- !is.na(match)
  if (!any(hit)) return(w)
  sums <- rowsum((1 / got)[row(match)[hit]], match[hit])
  w[as.integer(rownames(sums))] <- sums[, 1L]
  w
}

# Covariates rotated and scaled so that their Euclidean distances are the
# Mahalanobis distances with the pooled within-arm covariance (MatchIt's):
# constant columns dropped, eigenvalues below 1e-8 of the largest dropped
# (the generalized inverse of a singular covariance).  Scaling the columns
# first leaves the distances unchanged but makes that threshold relative.
whitened_covariates <- function(x, a, sw) {
  x <- x[, colnames(x) != "(Intercept)", drop = FALSE]
  varies <- apply(x, 2L, function(v) diff(range(v)) > sqrt(.Machine$double.eps))
  if (!any(varies)) {
    cli::cli_abort("{.code distance = \"mahalanobis\"} needs at least one covariate that varies.")
  }
  x <- scale(x[, varies, drop = FALSE])
  w <- sw %||% rep(1, nrow(x))
  means <- rowsum(x * w, a) / arm_sums(w, a)
  centred <- x - means[as.integer(a), , drop = FALSE]
  dof <- if (is.null(sw)) nrow(x) - 2 else sum(w) - sum(w^2) / sum(w)
  e <- eigen(crossprod(centred * sqrt(w)) / dof, symmetric = TRUE)
  keep <- e$values > 1e-8 * e$values[1L]
  x %*% sweep(e$vectors[, keep, drop = FALSE], 2L, sqrt(e$values[keep]), "/")
}

inform_unmatched <- function(fit) {
  n <- fit$n_unmatched
  if (n == 0L) return(invisible())
  why <- if (is.finite(fit$caliper_distance)) "within the caliper" else "left to take"
  cli::cli_inform("{n} focal unit{?s} found no match {why} and {?gets/get} weight 0.")
}

#' @export
default_se.causallib_matching <- function(fit) "bootstrap"

#' @export
check_se_available.causallib_matching <- function(fit, se) {
  if (se == "sandwich") {
    cli::cli_abort(c(
      "The sandwich standard error does not hold for matching weights.",
      i = "Use {.code se = \"bootstrap\"}, which re-runs the matching on each resample, or {.code se = \"none\"}."
    ))
  }
  invisible(se)
}

#' @export
model_label.causallib_matching <- function(fit) "nearest-neighbour matching"

#' @rdname matching
#' @param object A [matching()] fit.
#' @param newdata Optional data frame.
#' @param ... Unused.
#' @param type `"propensity"` or `"weights"` (the matching weights, which
#'   exist for the fitted data only).
#' @param ... Unused.
#' @export
predict.causallib_matching <- function(object, newdata = NULL, type = "propensity", ...) {
  rlang::check_dots_empty()
  type <- rlang::arg_match0(type, c("propensity", "weights"), "type")
  if (type == "propensity") return(weight_model_propensity(object, newdata))
  if (!is.null(newdata)) {
    cli::cli_abort(c(
      "Matching weights exist only for the units that were matched.",
      i = "Refit {.fn matching} on {.arg newdata}, or predict {.code type = \"propensity\"}."
    ))
  }
  object$weights
}

#' @export
weights.causallib_matching <- function(object, ...) object$weights

#' The matched sample
#'
#' The rows of the data with a positive matching weight, with the weights
#' in a column (MatchIt's `match.data()`). Sampling weights, if any, are not
#' included in them.
#'
#' @param fit A [matching()] fit.
#' @param name The name of the weight column.
#' @return A data frame: the matched rows of the data `fit` was fitted on,
#'   plus the column `name`.
#' @export
#' @examples
#' fit <- matching(qsmk ~ sex + age + wt71, data = nhefs)
#' md <- matched_data(fit)
#' nrow(md)
#' tapply(md$weights, md$qsmk, sum)
matched_data <- function(fit, name = "weights") {
  if (!inherits(fit, "causallib_matching")) {
    cli::cli_abort("{.arg fit} must be a {.fn matching} fit, not {.obj_type_friendly {fit}}.")
  }
  if (!rlang::is_string(name)) {
    cli::cli_abort("{.arg name} must be a single string that is not already a column of the data.")
  }
  data <- fit_data(fit)
  if (is.null(data)) cli::cli_abort("{.fn matched_data} needs a fit from the formula interface {.fn matching}.")
  if (name %in% names(data)) {
    cli::cli_abort("{.arg name} must be a single string that is not already a column of the data.")
  }
  keep <- fit$weights > 0
  out <- data[fit$rows[keep], , drop = FALSE]
  out[[name]] <- fit$weights[keep]
  out
}
