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
#' * `replace`: by default `FALSE`, as in MatchIt (up to and including
#'   causallib 0.1.0 the default was `TRUE`), except for the ATE, which needs
#'   replacement. Without replacement matching runs in `k` rounds, each
#'   giving every focal unit one more match among the units not yet taken,
#'   in the `order` given (MatchIt's `m.order`): by default the focal units
#'   most likely to be in their own arm first (`"largest"`: the largest
#'   propensity score first for the ATT, the smallest first for the ATC),
#'   and the data order for the Mahalanobis distance. With replacement the
#'   order does not matter.
#' * `exact`: units are matched only to units with the same values of these
#'   variables (MatchIt's `exact`); the caliper and the Mahalanobis
#'   covariance stay those of the whole sample.
#' * `discard`: units outside the common support of the propensity score
#'   (the other arm's range) are left out before matching and get weight 0
#'   (MatchIt's `discard`): `"both"` arms, only the `"treated"` or the
#'   `"control"` units, or `"none"`.
#' * `caliper`, in standard deviations of the propensity score (unweighted,
#'   over all units), and covariate calipers by name: candidates farther
#'   away on the score or on any of those covariates are never matched, and
#'   focal units left without any match get weight 0 (a message gives their
#'   count).
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
#' standard error, as MatchIt's documentation recommends: without
#' replacement (the default) a cluster-robust sandwich with the pairs as
#' clusters, holding the matching fixed (equal to
#' `sandwich::vcovCL(lm(y ~ treat, weights = weights), cluster = ~ subclass,
#' type = "HC0")` on [matched_data()]); with replacement the bootstrap,
#' which re-runs the whole pipeline (propensity model and matching) on each
#' resample, and is available in both cases. [evaluate()] refits the matching on
#' training folds and matches validation units among themselves with the
#' trained propensity model and caliper width.
#'
#' @inheritParams ipw
#' @param formula A formula `treatment ~ covariates`, with a binary
#'   treatment.
#' @param distance `"propensity"` or `"mahalanobis"`.
#' @param k The number of matches per focal unit.
#' @param caliper `NULL`, or the largest distances allowed for a match, as
#'   MatchIt's `caliper`: an unnamed number for the propensity score (not
#'   available for the Mahalanobis distance) and named numbers for numeric
#'   covariates of `data` (`caliper = c(0.2, age = 1)`: within 0.2 SD of the
#'   propensity score and 1 SD of age); in standard deviations (unweighted,
#'   over all units) unless `std_caliper = FALSE`.
#' @param std_caliper Are the calipers in standard deviations (`TRUE`, the
#'   default) or on the scales of the score and covariates?
#' @param replace Match with replacement? By default `FALSE`, except for
#'   `estimand = "ATE"`.
#' @param estimand `"ATT"`, `"ATC"` or `"ATE"`.
#' @param exact `NULL`, or variables to match exactly on: a one-sided
#'   formula (`~ sex + race`) or column names of `data`; in
#'   `matching_fit()` a vector or data frame with one row per unit.
#' @param discard `"none"`, `"both"`, `"treated"` or `"control"`: the units
#'   to leave out when their propensity score is outside the other arm's
#'   range.
#' @param order Matching order without replacement: `"largest"` (the
#'   default for propensity-score matching), `"smallest"`, `"data"` (the
#'   default for the Mahalanobis distance) or `"random"` (set a seed).
#' @param learner The propensity learner; by default a logistic regression
#'   fitted in C, see [lrn_glm()].
#' @return An object of class `causallib_matching` (also a `causallib_ipw`)
#'   with the fields of an [ipw()] fit (`weights` and `ip_weights` are the
#'   matching weights, `propensity` the propensity matrix), and
#'   `match_pairs` (a data frame with `focal_row`, `matched_row` (rows of
#'   `data`) and `distance`, one row per match, focal units in matching
#'   order), `n_unmatched` (focal units without a match), `discarded`
#'   (logical, per unit), `subclass` (the pair of each unit without
#'   replacement, else `NULL`), `caliper_distance`
#'   (the caliper on the propensity scale, `Inf` for none), `caliper_widths`
#'   (the covariate calipers on the covariates' scales) and `spec` (the
#'   matching settings).
#' @seealso [matched_data()], [estimate_effect()], [balance_table()]
#' @export
#' @examples
#' fit <- matching(qsmk ~ sex + age + wt71, data = nhefs)
#' fit
#' summary(fit)
#' head(fit$match_pairs)
#' balance_table(fit)
#'
#' d <- nhefs[!is.na(nhefs$wt82_71), ]
#' fit <- matching(qsmk ~ sex + race + age + education + smokeintensity + wt71,
#'                 data = d, k = 2, caliper = 0.2)
#' estimate_effect(fit, outcome = wt82_71, se = "none")
#' estimate_effect(fit, outcome = wt82_71)  # cluster-robust by pair
#' set.seed(1)
#' estimate_effect(fit, outcome = wt82_71, se = "bootstrap", R = 50)
#'
#' # Exact on sex and race, common support, 2:1 with replacement
#' fit2 <- matching(qsmk ~ sex + race + age + wt71, data = d, exact = ~ sex + race,
#'                  discard = "both", k = 2, replace = TRUE)
#' fit2
#'
#' # Within 0.25 SD of the propensity score and 5 years of age
#' fit3 <- matching(qsmk ~ sex + race + age + wt71, data = d,
#'                  caliper = c(0.25, age = 5 / sd(d$age)))
#' summary(fit3)
#'
#' mfit <- matching(qsmk ~ sex + age + wt71, data = nhefs, distance = "mahalanobis")
#' head(matched_data(mfit)[, c("qsmk", "sex", "age", "wt71", "weights")])
matching <- function(formula, data, distance = "propensity", k = 1, caliper = NULL,
                     replace = NULL, estimand = "ATT", exact = NULL, discard = "none",
                     order = NULL, std_caliper = TRUE, learner = lrn_glm(), weights = NULL,
                     treated = NULL, na_action = "fail") {
  spec <- matching_spec(distance, k, caliper, replace, estimand, discard, order, std_caliper,
                        treated)
  d <- new_design(formula, data, weights = rlang::enquo(weights), na_action = na_action,
                  env = parent.frame())
  a <- as_treatment(d$response, "treatment")
  if (nlevels(a) != 2L) {
    cli::cli_abort("{.arg formula} must have a binary treatment for matching; {.code {format(formula[[2L]])}} has {nlevels(a)} levels.")
  }
  restrict <- list(cells = exact_cells(exact_variables(exact, data), d$rows),
                   covariates = caliper_covariates(spec, data, d$rows))
  fit <- matching_engine(d$x, a, d$offset, spec, learner, d$weights, restrict)
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
                         replace = NULL, estimand = "ATT", exact = NULL, discard = "none",
                         order = NULL, std_caliper = TRUE, learner = lrn_glm(),
                         weights = NULL, treated = NULL) {
  spec <- matching_spec(distance, k, caliper, replace, estimand, discard, order, std_caliper,
                        treated)
  x <- check_matrix(x)
  a <- as_treatment(a, "a")
  if (length(a) != nrow(x)) cli::cli_abort("{.arg a} has length {length(a)}, but {.arg x} has {nrow(x)} rows.")
  if (nlevels(a) != 2L) cli::cli_abort("{.arg a} must be binary for matching; it has {nlevels(a)} levels.")
  if (!is.null(exact) && !is.data.frame(exact)) exact <- data.frame(exact = exact)
  if (!is.null(exact) && nrow(exact) != length(a)) {
    cli::cli_abort("{.arg exact} has {nrow(exact)} value{?s}, but {.arg x} has {length(a)} rows.")
  }
  restrict <- list(cells = exact_cells(exact, seq_along(a)),
                   covariates = caliper_covariates(spec, as.data.frame(x), seq_along(a), "x"))
  fit <- matching_engine(x, a, NULL, spec, learner, weights, restrict)
  inform_unmatched(fit)
  fit$call <- match.call()
  fit
}

matching_spec <- function(distance, k, caliper, replace, estimand, discard = "none", order = NULL,
                          std_caliper = TRUE, treated = NULL) {
  distance <- rlang::arg_match0(distance, c("propensity", "mahalanobis"), "distance")
  estimand <- rlang::arg_match0(estimand, c("ATT", "ATC", "ATE"), "estimand")
  discard <- rlang::arg_match0(discard, c("none", "both", "treated", "control"), "discard")
  order <- order %||% (if (distance == "propensity") "largest" else "data")
  order <- rlang::arg_match0(order, c("largest", "smallest", "data", "random"), "order")
  replace <- replace %||% (estimand == "ATE")
  check_count(k, "k", min = 1)
  check_bool(std_caliper, "std_caliper")
  cal <- split_caliper(caliper)
  if (!is.null(cal$distance) && distance == "mahalanobis") {
    cli::cli_abort(c(
      "{.arg caliper} is available for {.code distance = \"propensity\"} only.",
      i = "As in MatchIt, the Mahalanobis distance itself takes no caliper; name covariate calipers, as {.code caliper = c(age = 5)}."
    ))
  }
  check_bool(replace, "replace")
  if (estimand == "ATE" && !replace) {
    cli::cli_abort(c(
      "{.code estimand = \"ATE\"} needs {.code replace = TRUE}.",
      i = "Every unit is then matched to the other arm, whose units must be reusable."
    ))
  }
  list(distance = distance, k = as.integer(k), caliper = cal$distance,
       covariate_caliper = cal$covariates, std_caliper = std_caliper, replace = replace,
       estimand = estimand, discard = discard, order = order, treated = treated)
}

# The caliper on the propensity score (the unnamed element) and the
# covariate calipers (the named ones), as MatchIt's `caliper`.
split_caliper <- function(caliper) {
  if (is.null(caliper)) return(list())
  if (!is.numeric(caliper) || !length(caliper) || anyNA(caliper) || any(caliper <= 0) ||
      any(!is.finite(caliper))) {
    cli::cli_abort("{.arg caliper} must be positive numbers: one unnamed for the propensity score and named ones for covariates, not {value_label(caliper)}.")
  }
  nm <- names(caliper) %||% rep("", length(caliper))
  if (sum(nm == "") > 1L) {
    cli::cli_abort("{.arg caliper} can have one unnamed element (for the propensity score); it has {sum(nm == \"\")}. Name the covariate calipers, as {.code c(0.2, age = 0.5)}.")
  }
  if (anyDuplicated(nm[nm != ""])) {
    cli::cli_abort("{.arg caliper} names {.val {unique(nm[duplicated(nm) & nm != \"\"])}} more than once.")
  }
  list(distance = if (any(nm == "")) unname(caliper[nm == ""]),
       covariates = if (any(nm != "")) caliper[nm != ""])
}

# The covariates of the covariate calipers, for the rows used (n x q), or
# NULL.
caliper_covariates <- function(spec, data, rows, arg = "data") {
  names <- names(spec$covariate_caliper)
  if (is.null(names)) return(NULL)
  missing <- setdiff(names, colnames(data))
  if (length(missing)) {
    cli::cli_abort("{.arg caliper} names {.val {missing}}, which {?is/are} not {?a column/columns} of {.arg {arg}}.")
  }
  out <- data[rows, names, drop = FALSE]
  bad <- !vapply(out, function(v) (is.numeric(v) || is.logical(v)) && all(is.finite(v)), logical(1))
  if (any(bad)) {
    cli::cli_abort("A covariate caliper needs a numeric covariate without missing values; {.val {names[bad]}} {?is/are} not.")
  }
  matrix(as.double(unlist(out, use.names = FALSE)), nrow = length(rows), dimnames = list(NULL, names))
}

# The covariate calipers' widths on the covariates' scales.
caliper_widths <- function(spec, covariates) {
  if (is.null(covariates)) return(NULL)
  w <- spec$covariate_caliper
  if (spec$std_caliper) w <- w * apply(covariates, 2L, stats::sd)
  if (any(!(w > 0))) {
    cli::cli_abort("A covariate caliper in standard deviations needs a covariate that varies; {.val {names(w)[!(w > 0)]}} does not. Use {.code std_caliper = FALSE}.")
  }
  w
}

# The rows `rows` of the restrictions (exact cells, caliper covariates).
restrict_rows <- function(restrict, rows) {
  cov <- restrict$covariates
  list(cells = restrict$cells[rows], covariates = if (!is.null(cov)) cov[rows, , drop = FALSE])
}

# The variables of `exact` (a one-sided formula or column names) in `data`.
exact_variables <- function(exact, data) {
  if (is.null(exact)) return(NULL)
  if (rlang::is_formula(exact, lhs = FALSE)) {
    vars <- all.vars(exact)
  } else if (is.character(exact) && length(exact) > 0L && !anyNA(exact)) {
    vars <- exact
  } else {
    cli::cli_abort("{.arg exact} must be a one-sided formula such as {.code ~ sex + race} or column names, not {value_label(exact)}.")
  }
  missing <- setdiff(vars, names(data))
  if (length(missing)) {
    cli::cli_abort("{.arg exact} names {.val {missing}}, which {?is/are} not {?a column/columns} of {.arg data}.")
  }
  data[, vars, drop = FALSE]
}

# Exact-matching cells of the rows used (integer codes), or NULL.
exact_cells <- function(vars, rows) {
  if (is.null(vars)) return(NULL)
  vars <- vars[rows, , drop = FALSE]
  bad <- vapply(vars, anyNA, logical(1))
  if (any(bad)) {
    cli::cli_abort("{.arg exact} variable{?s} {.val {names(vars)[bad]}} {?has/have} missing values in the rows used; remove them or impute first.")
  }
  as.integer(interaction(lapply(vars, as.factor), drop = TRUE, lex.order = TRUE))
}

# The propensity model (with the design's offset) and the matching on the
# design x. Pairs are in rows of x.
matching_engine <- function(x, a, offset, spec, learner, weights, restrict = list()) {
  check_treatment_learner(learner)
  weights <- as_sampling_weights(weights, length(a))
  check_arms_nonempty(a, weights)
  target <- estimand_target(spec$estimand, levels(a), spec$treated)
  ps <- fit_propensity(learner, x, a, weights, offset, FALSE)
  P <- ps$propensity
  caliper <- if (is.null(spec$caliper)) Inf else spec$caliper * (if (spec$std_caliper) stats::sd(P[, 2L]) else 1)
  widths <- caliper_widths(spec, restrict$covariates)
  m <- run_matching(x, a, P, spec, caliper, weights, target, restrict, widths)
  if (!any(m$weights > 0)) {
    cli::cli_abort(c(
      "No focal unit found a match{if (is.finite(caliper) || length(widths)) ' within the caliper'}.",
      i = if (is.finite(caliper) || length(widths)) "Widen {.arg caliper}."
    ))
  }
  structure(list(
    weights = m$weights, ip_weights = m$weights, propensity = P, treatment = a,
    levels = levels(a), estimand = spec$estimand,
    target = target, learner = learner,
    learner_fit = ps$learner_fit, x = x, offset = offset, intercept = FALSE,
    sampling_weights = weights, n = length(a), rows = seq_along(a),
    match_pairs = m$pairs, n_unmatched = m$n_unmatched, discarded = m$discarded,
    subclass = m$subclass, restrict = restrict, caliper_distance = caliper,
    caliper_widths = widths, spec = spec
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
                       fit$spec, learner %||% fit$learner, fit$sampling_weights[copies],
                       restrict_rows(fit$restrict, copies))
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
  out$restrict <- restrict_rows(fit$restrict, rows)
  out$discarded <- m$discarded[first] %in% TRUE
  out$subclass <- if (all(counts == 1L)) m$subclass[first] else NULL
  out$sampling_weights <- if (is.null(case_weights) && is.null(fit$sampling_weights)) NULL else
    sw_or_one(fit)[rows] * counts
  out$n <- length(rows)
  data_row <- fit$rows[rows]
  out$match_pairs$focal_row <- data_row[unit[m$match_pairs$focal_row]]
  out$match_pairs$matched_row <- data_row[unit[m$match_pairs$matched_row]]
  keep_front_end(out, fit, rows)
}

# Matching weights, the matched pairs (model rows), the number of
# unmatched focal units, the discarded units and, without replacement, the
# subclass (pair) of every matched unit, given the propensities P and the
# exact-matching cells (NULL: one cell): the focal arm is the estimand's
# target level (both arms for the ATE).
run_matching <- function(x, a, P, spec, caliper, weights, target, restrict = list(),
                         widths = NULL) {
  coords <- if (spec$distance == "propensity") {
    matrix(P[, 2L], nrow = 1L)
  } else {
    t(whitened_covariates(x, a, weights))
  }
  treated <- if (spec$estimand == "ATC") 3L - target else target
  discarded <- discarded_units(P[, 2L], as.integer(a) == treated, spec$discard)
  focal_arms <- if (spec$estimand == "ATE") 2:1 else target
  sides <- lapply(focal_arms, match_side, coords = coords, a = as.integer(a),
                  score = P[, 2L], spec = spec, caliper = caliper,
                  cells = restrict$cells %||% rep(1L, length(a)), eligible = !discarded,
                  cal_x = if (length(widths)) t(restrict$covariates), widths = widths)
  pairs <- do.call(rbind, lapply(sides, `[[`, "pairs"))
  list(weights = Reduce(`+`, lapply(sides, `[[`, "weights")), pairs = pairs,
       n_unmatched = sum(vapply(sides, `[[`, integer(1), "n_unmatched")),
       discarded = discarded,
       subclass = if (!spec$replace) pair_subclasses(pairs, length(a)))
}

# Units outside the common support of the propensity score (MatchIt's
# `discard`): "both" drops the units of either arm beyond the other arm's
# range, "treated" (or "control") only those of that arm.
discarded_units <- function(score, treated, discard) {
  out <- logical(length(treated))
  if (discard == "none") return(out)
  outside <- function(rows, other) score[rows] < min(score[other]) | score[rows] > max(score[other])
  if (discard %in% c("both", "treated")) out[treated] <- outside(treated, !treated)
  if (discard %in% c("both", "control")) out[!treated] <- outside(!treated, treated)
  out
}

# Without replacement every focal unit and its matches form one subclass,
# numbered by the focal units' row order (MatchIt's `subclass`); NA for
# units in none.
pair_subclasses <- function(pairs, n) {
  focal <- sort(unique(pairs$focal_row))
  out <- rep(NA_integer_, n)
  out[focal] <- seq_along(focal)
  out[pairs$matched_row] <- out[pairs$focal_row]
  out
}

# The units of arm f matched among the other arm, within each exact cell.
match_side <- function(f, coords, a, score, spec, caliper, cells, eligible, cal_x, widths) {
  focal <- which(a == f & eligible)
  if (!spec$replace) focal <- focal[matching_order(score[focal], f, spec$order)]
  pool <- which(a != f & eligible)
  k <- max(1L, min(spec$k, length(pool)))
  match <- matrix(NA_integer_, length(focal), k)
  distance <- matrix(NA_real_, length(focal), k)
  for (cell in unique(cells[focal])) {
    f_cell <- which(cells[focal] == cell)
    p_cell <- pool[cells[pool] == cell]
    if (!length(p_cell)) next
    k_cell <- min(k, length(p_cell))
    m <- .Call(C_ffi_match_nearest, coords, focal[f_cell], p_cell, k_cell, caliper, spec$replace,
               cal_x, widths)
    match[f_cell, seq_len(k_cell)] <- m$match
    distance[f_cell, seq_len(k_cell)] <- m$distance
  }
  hit <- !is.na(match)
  got <- rowSums(hit)
  w <- received_weights(match, got, length(a))
  if (spec$estimand != "ATE" && any(w > 0)) w <- w * sum(w > 0) / sum(w)
  w[focal[got > 0]] <- 1
  by_focal <- order(row(hit)[hit])
  pairs <- data.frame(focal_row = focal[row(hit)[hit]], matched_row = match[hit],
                      distance = distance[hit])[by_focal, , drop = FALSE]
  rownames(pairs) <- NULL
  list(weights = w, pairs = pairs, n_unmatched = sum(got == 0L))
}

# The order in which focal units of arm f are matched without replacement
# (MatchIt's `m.order`): by their propensity of being in their own arm,
# largest or smallest first, in data order, or at random (R's RNG).
matching_order <- function(score, f, order) {
  switch(order,
    largest = base::order(score, decreasing = f == 2L),
    smallest = base::order(score, decreasing = f != 2L),
    data = seq_along(score),
    random = sample.int(length(score)))
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
  why <- if (is.finite(fit$caliper_distance) || length(fit$caliper_widths)) "within the caliper" else "left to take"
  cli::cli_inform("{n} focal unit{?s} found no match {why} and {cli::qty(n)}{?gets/get} weight 0.")
}

# Without replacement, the cluster-robust sandwich by pair that MatchIt's
# documentation recommends; with replacement the bootstrap.
#' @export
default_se.causallib_matching <- function(fit) if (fit$spec$replace) "bootstrap" else "sandwich"

#' @export
check_se_available.causallib_matching <- function(fit, se) {
  if (se == "sandwich" && (fit$spec$replace || is.null(fit$subclass))) {
    cli::cli_abort(c(
      "The sandwich standard error of matching needs matching without replacement (pairs as clusters).",
      i = "Use {.code se = \"bootstrap\"}, which re-runs the matching on each resample, or {.code se = \"none\"}."
    ))
  }
  invisible(se)
}

# Cluster-robust by pair (fixed_weight_estfun()): equal to
# sandwich::vcovCL(lm(y ~ a, weights), cluster = ~ subclass, type = "HC0")
# on matched_data(), holding the matching (propensity model, pairs) fixed as
# MatchIt's documentation does.
#' @export
estfun_parts.causallib_matching <- function(fit, y = NULL) {
  fixed_weight_estfun(fit, y, fit$subclass)
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
#' in a column (MatchIt's `match.data()`) and, for matching without
#' replacement, the pair each row belongs to (`subclass`: a focal unit and
#' its matches). Sampling weights, if any, are not included in the weights.
#' Matching with replacement has no pairs (a unit can serve several focal
#' units), so no `subclass` column, as in MatchIt.
#'
#' @param fit A [matching()] fit.
#' @param name The name of the weight column.
#' @param subclass The name of the pair column.
#' @return A data frame: the matched rows of the data `fit` was fitted on,
#'   plus the columns `name` and (without replacement) `subclass`.
#' @export
#' @examples
#' fit <- matching(qsmk ~ sex + age + wt71, data = nhefs)
#' md <- matched_data(fit)
#' nrow(md)
#' tapply(md$weights, md$qsmk, sum)
#' head(md[order(md$subclass), c("qsmk", "age", "weights", "subclass")])
matched_data <- function(fit, name = "weights", subclass = "subclass") {
  if (!inherits(fit, "causallib_matching")) {
    cli::cli_abort("{.arg fit} must be a {.fn matching} fit, not {.obj_type_friendly {fit}}.")
  }
  data <- fit_data(fit)
  if (is.null(data)) cli::cli_abort("{.fn matched_data} needs a fit from the formula interface {.fn matching}.")
  pairs <- !fit$spec$replace && !is.null(fit$subclass)
  for (arg in c("name", if (pairs) "subclass")) {
    value <- get(arg)
    if (!rlang::is_string(value) || value %in% names(data) || (arg == "subclass" && value == name)) {
      cli::cli_abort("{.arg {arg}} must be a single string that is not already a column of the data, not {value_label(value)}.")
    }
  }
  keep <- fit$weights > 0
  out <- data[fit$rows[keep], , drop = FALSE]
  out[[name]] <- fit$weights[keep]
  if (pairs) out[[subclass]] <- factor(fit$subclass[keep])
  out
}

# MatchIt's sample sizes per treatment level: all units, the matched ones
# and their effective size, the unmatched and the discarded ones.
matching_sample_sizes <- function(fit) {
  a <- fit$treatment
  matched <- fit$weights > 0
  discarded <- fit$discarded %||% logical(length(a))
  count <- function(v) as.vector(tapply(v, a, sum))
  data.frame(level = fit$levels, n = as.vector(table(a)), matched = count(matched),
             ess = round(effective_sizes(fit), 1), unmatched = count(!matched & !discarded),
             discarded = count(discarded))
}

#' @export
summary_tables.causallib_matching <- function(object) {
  c(list(`Sample sizes` = matching_sample_sizes(object)), NextMethod())
}
