#' Weights from propensity scores the user supplies
#'
#' The balancing weights of an estimand from propensity scores estimated
#' elsewhere (another package, a published model), as WeightIt's
#' `get_w_from_ps()`: the same weights [ipw()] computes from its own
#' propensity model.
#'
#' For a unit that received level \eqn{a}, with \eqn{p_k} its propensity of
#' level \eqn{k}:
#' * `"ATE"`: \eqn{1 / p_a};
#' * `"ATT"`: \eqn{p_t / p_a}, with \eqn{t} the `treated` level (1 for the
#'   treated);
#' * `"ATC"`: \eqn{p_c / p_a}, with \eqn{c} the first level;
#' * `"ATO"` (overlap): \eqn{(1 / p_a) / \sum_k 1 / p_k}, which for a binary
#'   treatment is \eqn{1 - p} for the treated and \eqn{p} for the controls.
#'
#' `stabilize = TRUE` multiplies each weight by the (sampling-weighted)
#' share of the unit's arm.
#'
#' @param ps Propensity scores: for a binary treatment a vector, the
#'   probability of the second level (`1`, `TRUE`, the second factor
#'   level); for any treatment an n x K matrix of the probabilities of the
#'   K levels, with the levels as column names or in level order. Each row
#'   must be in (0, 1] and, as a matrix, sum to 1.
#' @param treatment The treatment received: numeric, logical, character or
#'   factor, with at least two levels.
#' @param estimand `"ATE"`, `"ATT"`, `"ATC"` or `"ATO"`.
#' @param treated For `"ATT"`, the treated level; by default the last level.
#' @param stabilize `TRUE` to stabilize the weights by the arms' shares.
#' @param weights Sampling weights, or `NULL`; they count in the arms'
#'   shares of `stabilize` (the returned weights do not include them).
#' @return A numeric vector of weights, one per unit.
#' @seealso [ipw()], which estimates the propensity scores itself.
#' @export
#' @examples
#' ps <- glm(qsmk ~ sex + age + wt71 + smokeintensity, data = nhefs, family = binomial)$fitted.values
#' w <- propensity_weights(ps, nhefs$qsmk, estimand = "ATT")
#' tapply(w, nhefs$qsmk, sum)
propensity_weights <- function(ps, treatment, estimand = "ATE", treated = NULL, stabilize = FALSE,
                               weights = NULL) {
  estimand <- rlang::arg_match0(estimand, names(ipw_estimands), "estimand")
  check_bool(stabilize, "stabilize")
  a <- as_treatment(treatment)
  n <- length(a)
  P <- propensity_matrix(ps, a)
  weights <- as_sampling_weights(weights, n)
  target <- estimand_target(estimand, levels(a), treated)
  w <- .Call(C_ffi_ipw_weights, P, a, ipw_estimands[[estimand]], target, check_clip(NULL), NA_real_,
             causallib_threads())$weights
  if (stabilize) w <- w * marginal_shares(a, weights)[as.integer(a)]
  w
}

# The n x K matrix of propensities from what the user gave: the vector of
# the second level's propensities of a binary treatment, or a matrix whose
# columns are the levels (by name, or in order).
propensity_matrix <- function(ps, a) {
  n <- length(a)
  lev <- levels(a)
  K <- length(lev)
  if (is.data.frame(ps)) ps <- as.matrix(ps)
  if (!is.numeric(ps)) {
    cli::cli_abort("{.arg ps} must be a numeric vector or matrix of propensity scores, not {.obj_type_friendly {ps}}.")
  }
  if (is.matrix(ps)) {
    if (nrow(ps) != n || ncol(ps) != K) {
      cli::cli_abort(c("{.arg ps} must have one row per unit and one column per treatment level ({n} x {K}).",
                       x = "You gave a {nrow(ps)} x {ncol(ps)} matrix."))
    }
    if (!is.null(colnames(ps))) {
      if (!setequal(colnames(ps), lev)) {
        cli::cli_abort(c("The column names of {.arg ps} must be the treatment levels {.val {lev}}.",
                         x = "They are {.val {colnames(ps)}}."))
      }
      ps <- ps[, lev, drop = FALSE]
    }
    P <- unname(ps)
  } else {
    if (K != 2L) {
      cli::cli_abort(c("With {K} treatment levels {.arg ps} must be an n x {K} matrix of propensities.",
                       i = "A vector gives the propensity of the second level of a binary treatment only."))
    }
    if (length(ps) != n) {
      cli::cli_abort("{.arg ps} has length {length(ps)}, but {.arg treatment} has length {n}.")
    }
    P <- cbind(1 - ps, ps)
  }
  storage.mode(P) <- "double"
  if (anyNA(P) || any(P <= 0) || any(P > 1)) {
    bad <- sum(rowSums(is.na(P) | P <= 0 | P > 1) > 0)
    cli::cli_abort(c("{.arg ps} must be probabilities in (0, 1] for every unit and level.",
                     x = "{bad} unit{?s} ha{?s/ve} a missing propensity or one outside (0, 1]; a propensity of 0 or 1 violates positivity."))
  }
  if (is.matrix(ps) && any(abs(rowSums(P) - 1) > 1e-6)) {
    cli::cli_abort("The rows of {.arg ps} must sum to 1 (the probabilities of all treatment levels).")
  }
  P
}
