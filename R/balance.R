#' Covariate balance before and after weighting or matching
#'
#' A balance table in cobalt's conventions (`bal.tab()`): one row per
#' covariate and comparison of two treatment levels with the mean (the
#' proportion for binary covariates) of each arm, their difference, the
#' variance ratio and the Kolmogorov-Smirnov statistic, unweighted and
#' weighted by the fitted weights (or matched) -- a weighted "Table 1" and a
#' balance check in one.
#'
#' Covariates are the variables of the weight model's formula, found again
#' in the data it was fitted on: numeric variables as they are; every level
#' of a factor or character variable with more than two levels as its own
#' indicator (`race_black`, `race_hispan`, `race_white`); a variable with
#' two levels, a logical or a numeric with two values as one binary
#' covariate (the second level, `TRUE`, or the value other than 0 -- or
#' than the smallest); matrix terms such as `poly()` by column, and the
#' formula's interaction terms by model-matrix column. Models fitted
#' through a matrix use its columns.
#'
#' Differences of continuous covariates (and of the propensity score) are
#' standardized: divided by a standard deviation computed before weighting
#' (only sampling weights count), so that weighting cannot move the
#' yardstick. `sd_denominator` chooses it, as cobalt's `s.d.denom`:
#' `"treated"` (the standard deviation in the treated arm, the default for
#' the ATT), `"control"` (the default for the ATC), `"pooled"` (the square
#' root of the mean of the arms' variances, over all arms; the default
#' otherwise) or `"all"` (the whole sample). Binary covariates show the raw
#' difference in proportions unless `binary = "std"`, which divides it by
#' the same kind of standard deviation, \eqn{\sqrt{p (1 - p)}}. Variances
#' of continuous covariates are weighted and bias-corrected,
#' \eqn{\sum w (x - \bar x)^2 / (\sum w - \sum w^2 / \sum w)}; variance
#' ratios (treatment over reference) are given for them only. Sampling
#' weights count in every statistic, the unweighted ones included.
#'
#' With two treatment levels the comparison is the second level against
#' the first; with more, every pair of levels (`treatment` against
#' `reference`, the later level against the earlier), as cobalt's
#' `pairwise = TRUE`.
#'
#' The result prints with the balance tally (covariates whose absolute
#' weighted difference is below `threshold`) and the sample sizes; the
#' tally and the sample sizes are also attributes (`attr(x,
#' "sample_sizes")`: per arm `n`, the effective sample sizes
#' \eqn{(\sum w)^2 / \sum w^2} before (sampling weights only) and after
#' weighting, and for matching fits the matched and unmatched units).
#'
#' @param fit A fitted weight model ([ipw()], [matching()]), a doubly
#'   robust or survival model fitted with one, a `weightit` or `matchit`
#'   object ([as_weight_model()]), or models fitted on imputed data sets
#'   ([with_imputations()]: each statistic is the mean over the
#'   imputations).
#' @param data Unused unless `fit` is to be refitted on new data: a data
#'   frame the model is refitted on first.
#' @param sd_denominator The standard deviation continuous differences are
#'   divided by: `"treated"`, `"control"`, `"pooled"` or `"all"`; by
#'   default that of the fit's estimand (see Details).
#' @param binary `"raw"` (difference in proportions, the default) or
#'   `"std"` (standardized like continuous covariates).
#' @param threshold A positive number, or `NULL` for none: a covariate is
#'   balanced when its absolute weighted difference is below it.
#' @param propensity `TRUE` to add the propensity score as a row of type
#'   `"propensity"` (always standardized): of the second level for a binary
#'   treatment, of each level (`"propensity score (b)"`) with more.
#' @param interactions `TRUE` to add the products of every two covariates
#'   (not of two levels of one variable), named `"x * z"`, as cobalt's
#'   `int = TRUE` except that a two-level variable enters with its one
#'   indicator (cobalt uses both levels).
#' @param squares `TRUE` to add the squares of the continuous covariates,
#'   named `"x^2"`.
#' @return A data frame of class `causal_balance` with columns
#'   `treatment`, `reference`, `covariate`, `variable` (the formula variable
#'   it comes from), `type` (`"continuous"`, `"binary"` or `"propensity"`),
#'   `standardized` (whether the differences are), `mean_treatment_unweighted`,
#'   `mean_reference_unweighted`, `mean_treatment_weighted`,
#'   `mean_reference_weighted`, `diff_unweighted`, `diff_weighted`,
#'   `variance_ratio_unweighted`, `variance_ratio_weighted`,
#'   `ks_unweighted`, `ks_weighted` and, with a threshold, `balanced`.
#' @export
#' @examples
#' fit <- ipw(qsmk ~ sex + race + age + education + smokeintensity + wt71,
#'            data = nhefs, estimand = "ATT")
#' bal <- balance_table(fit)
#' bal
#' attr(bal, "sample_sizes")
#' balance_table(fit, sd_denominator = "pooled", binary = "std", propensity = FALSE)
balance_table <- function(fit, data = NULL, sd_denominator = NULL, binary = "raw", threshold = 0.1,
                          propensity = TRUE, interactions = FALSE, squares = FALSE) {
  if (inherits(fit, "causallib_imputed")) {
    return(imputed_balance(fit, data, sd_denominator = sd_denominator, binary = binary,
                           threshold = threshold, propensity = propensity,
                           interactions = interactions, squares = squares))
  }
  fit <- weight_model_of(fit)
  if (!is.null(data)) fit <- refit_on_data(fit, data)
  binary <- rlang::arg_match0(binary, c("raw", "std"), "binary")
  check_threshold(threshold)
  check_bool(propensity, "propensity")
  check_bool(interactions, "interactions")
  check_bool(squares, "squares")
  denominator <- sd_denominator_arm(fit, sd_denominator)
  covs <- balance_covariates(fit, interactions, squares)
  if (propensity) covs <- bind_covariates(covs, propensity_covariates(fit))
  bal <- balance_stats(covs, fit$treatment, fit$weights, fit$sampling_weights,
                       arm_pairs(length(fit$levels)), denominator, binary)
  if (!is.null(threshold)) {
    bal$balanced <- ifelse(bal$type == "propensity", NA, abs(bal$diff_weighted) < threshold)
  }
  structure(bal, class = c("causal_balance", "data.frame"), threshold = threshold,
            sd_denominator = denominator$kind, binary = binary,
            sample_sizes = balance_sample_sizes(fit), title = balance_title(fit),
            variable_labels = variable_label_attributes(fit),
            adjustment = adjustment_levels(fit)[2L])
}

# The weight model inside a fit.
weight_model_of <- function(fit) {
  if (inherits(fit, c("weightit", "matchit"))) return(as_weight_model(fit))
  if (inherits(fit, "causallib_weight_model")) return(fit)
  wm <- if (inherits(fit, c("causallib_survival", "causallib_dr"))) fit$weight_model
  if (is.null(wm)) {
    cli::cli_abort("{.arg fit} must be a weight model such as {.fn ipw}, or a model fitted with one.")
  }
  wm
}

# The kind of standard deviation differences are divided by, and the arm it
# is taken in for "treated" and "control": the estimand's target arm when
# it has one, else the last (treated) or first (control) level.
sd_denominator_arm <- function(fit, sd_denominator) {
  K <- length(fit$levels)
  default <- switch(fit$estimand, ATT = "treated", ATC = "control", "pooled")
  kind <- if (is.null(sd_denominator)) default else {
    rlang::arg_match0(sd_denominator, c("treated", "control", "pooled", "all"), "sd_denominator")
  }
  target <- fit$target
  arm <- switch(kind,
    treated = if (identical(fit$estimand, "ATT") && !is.null(target)) target else K,
    control = if (identical(fit$estimand, "ATC") && !is.null(target)) target else 1L,
    NA_integer_)
  list(kind = kind, arm = arm)
}

# Comparisons of K arms: every pair, later level against earlier, as a
# two-column matrix (reference, treatment).
arm_pairs <- function(K) {
  pairs <- index_pairs(K)
  cbind(reference = pairs[1L, ], treatment = pairs[2L, ])
}

# Every pair i < j of 1..p as the columns of a 2-row matrix, in the order
# (1, 2), (1, 3), ..., (1, p), (2, 3), ... (as combn()).
index_pairs <- function(p) {
  i <- rep(seq_len(p), each = p)
  j <- rep(seq_len(p), p)
  rbind(i[i < j], j[i < j])
}

# ---- covariates ---------------------------------------------------------------------

# Balance covariates: a numeric matrix x with the covariate names as column
# names, and per column its type ("binary", "continuous", "propensity") and
# the formula variable it comes from.
new_covariates <- function(x, type, variable) {
  list(x = x, type = type, variable = variable)
}

bind_covariates <- function(...) {
  parts <- Filter(Negate(is.null), list(...))
  new_covariates(
    do.call(cbind, lapply(parts, `[[`, "x")),
    unlist(lapply(parts, `[[`, "type")),
    unlist(lapply(parts, `[[`, "variable"))
  )
}

balance_covariates <- function(fit, interactions = FALSE, squares = FALSE) {
  covs <- if (is.null(fit$design)) matrix_covariates(fit) else design_covariates(fit)
  bind_covariates(
    covs,
    if (squares) square_covariates(covs),
    if (interactions) interaction_covariates(covs)
  )
}

# The columns of a matrix fit's x (without an intercept), each typed by its
# values.
matrix_covariates <- function(fit) {
  x <- as.matrix(covariate_matrix(fit))
  if (is.null(colnames(x))) colnames(x) <- paste0("x", seq_len(ncol(x)))
  parts <- lapply(seq_len(ncol(x)), function(j) numeric_covariate(x[, j], colnames(x)[j], colnames(x)[j]))
  do.call(bind_covariates, parts)
}

# The design's covariates, without an intercept column.
covariate_matrix <- function(fit) {
  x <- fit$x
  x[, colnames(x) != "(Intercept)", drop = FALSE]
}

# The variables of a formula fit's right-hand side, evaluated on the rows
# it used with its fitted bases and factor levels, each turned into
# balance covariates; then the formula's own interaction terms.
design_covariates <- function(fit) {
  d <- fit$design
  tt <- d$terms
  data <- fit_data(fit)[fit$rows, , drop = FALSE]
  mf <- stats::model.frame(tt, data, na.action = stats::na.pass, xlev = d$xlevels)
  keep <- setdiff(seq_along(mf), attr(tt, "offset"))
  parts <- lapply(keep, function(j) variable_covariates(mf[[j]], names(mf)[j], d$xlevels[[names(mf)[j]]]))
  higher <- which(attr(tt, "order") > 1L)
  if (length(higher)) {
    mm <- stats::model.matrix(tt, mf, contrasts.arg = d$contrasts)
    cols <- which(attr(mm, "assign") %in% higher)
    labels <- attr(tt, "term.labels")[attr(mm, "assign")[cols]]
    parts <- c(parts, lapply(seq_along(cols), function(i) {
      numeric_covariate(mm[, cols[i]], colnames(mm)[cols[i]], labels[i])
    }))
  }
  do.call(bind_covariates, parts)
}

# One variable as balance covariates: a factor (character) with more than
# two levels as one indicator per level; with two levels, or a logical, as
# one binary covariate; a matrix by column; a number as itself.
variable_covariates <- function(v, name, levels = NULL) {
  if (is.logical(v)) return(new_covariates(matrix(as.double(v), dimnames = list(NULL, name)), "binary", name))
  if (is.character(v)) v <- factor(v, levels = levels %||% sort(unique(v)))
  if (is.factor(v)) {
    lev <- levels(v)
    if (length(lev) == 2L) lev <- lev[2L]
    x <- vapply(lev, function(l) as.double(v == l), numeric(length(v)))
    x <- matrix(x, nrow = length(v), dimnames = list(NULL, paste0(name, "_", lev)))
    return(new_covariates(x, rep("binary", ncol(x)), rep(name, ncol(x))))
  }
  if (is.matrix(v)) {
    cn <- paste0(name, colnames(v) %||% seq_len(ncol(v)))
    parts <- lapply(seq_len(ncol(v)), function(j) numeric_covariate(v[, j], cn[j], name))
    return(do.call(bind_covariates, parts))
  }
  numeric_covariate(v, name, name)
}

# A numeric column: binary when it takes two values, recoded as cobalt does
# to the indicator of the value other than 0 (or than the smaller when 0 is
# not one of them).
numeric_covariate <- function(v, name, variable) {
  v <- as.double(v)
  values <- unique(v)
  type <- "continuous"
  if (length(values) == 2L) {
    zero <- if (0 %in% values) 0 else min(values)
    v <- as.double(v != zero)
    type <- "binary"
  }
  new_covariates(matrix(v, dimnames = list(NULL, name)), type, variable)
}

square_covariates <- function(covs) {
  cont <- which(covs$type == "continuous")
  if (!length(cont)) return(NULL)
  x <- covs$x[, cont, drop = FALSE]^2
  colnames(x) <- paste0(colnames(covs$x)[cont], "^2")
  new_covariates(x, rep("continuous", length(cont)), covs$variable[cont])
}

# Products of every two covariates that do not come from one variable;
# a product of two binary covariates is binary.
interaction_covariates <- function(covs) {
  p <- ncol(covs$x)
  if (p < 2L) return(NULL)
  pairs <- index_pairs(p)
  pairs <- pairs[, covs$variable[pairs[1L, ]] != covs$variable[pairs[2L, ]], drop = FALSE]
  if (!ncol(pairs)) return(NULL)
  nm <- colnames(covs$x)
  parts <- lapply(seq_len(ncol(pairs)), function(j) {
    i <- pairs[, j]
    numeric_covariate(covs$x[, i[1L]] * covs$x[, i[2L]], paste(nm[i[1L]], "*", nm[i[2L]]),
                      paste(covs$variable[i], collapse = ":"))
  })
  do.call(bind_covariates, parts)
}

# The propensity score of each level a comparison has as its treatment
# (the second level of a binary treatment).
propensity_covariates <- function(fit) {
  propensity_columns(fit$propensity, fit$levels)
}

# Those columns of a propensity matrix P (one column per level of
# `levels`; none when P is NULL).
propensity_columns <- function(P, levels) {
  if (is.null(P)) return(NULL)
  P <- as.matrix(P)
  if (length(levels) == 2L) {
    x <- matrix(P[, 2L], dimnames = list(NULL, "propensity score"))
    return(new_covariates(x, "propensity", "propensity score"))
  }
  colnames(P) <- paste0("propensity score (", levels, ")")
  new_covariates(P, rep("propensity", length(levels)), colnames(P))
}

# The `label` attributes of the data's columns (Hmisc, labelled), named by
# column, for the plots' labels.
variable_label_attributes <- function(fit) {
  if (is.null(fit$design)) return(character())
  data <- fit_data(fit)
  labs <- lapply(data, attr, which = "label", exact = TRUE)
  keep <- vapply(labs, function(l) is.character(l) && length(l) == 1L && !is.na(l), logical(1))
  unlist(labs[keep])
}

# ---- statistics ---------------------------------------------------------------------

# Balance of covariates `covs` between the arms of the factor a compared in
# `pairs` (reference, treatment), without and with the adjustment weights w
# (sw: sampling weights or NULL). `denominator` from sd_denominator_arm();
# binary differences are standardized when `binary` is "std".
balance_stats <- function(covs, a, w, sw, pairs, denominator, binary = "raw") {
  sw <- sw %||% rep(1, length(a))
  x <- covs$x
  K <- nlevels(a)
  codes <- as.integer(a)
  is_binary <- covs$type == "binary"
  raw <- group_moments(x, codes, sw, K)
  adj <- group_moments(x, codes, sw * w, K)
  v_raw <- arm_variances(raw, is_binary)
  v_adj <- arm_variances(adj, is_binary)
  sd <- sqrt(switch(denominator$kind,
    pooled = colMeans(v_raw),
    treated = , control = v_raw[denominator$arm, ],
    all = arm_variances(group_moments(x, rep(1L, length(a)), sw, 1L), is_binary)[1L, ]
  ))
  standardized <- !is_binary | binary == "std"
  scale <- ifelse(standardized, sd, 1)
  rows <- lapply(seq_len(nrow(pairs)), function(r) {
    k0 <- pairs[r, 1L]
    k1 <- pairs[r, 2L]
    in_pair <- codes == k0 | codes == k1
    g <- 1L + (codes[in_pair] == k1)
    xs <- x[in_pair, , drop = FALSE]
    data.frame(
      treatment = levels(a)[k1], reference = levels(a)[k0], covariate = colnames(x),
      variable = covs$variable, type = covs$type, standardized = standardized,
      mean_treatment_unweighted = raw$mean[k1, ], mean_reference_unweighted = raw$mean[k0, ],
      mean_treatment_weighted = adj$mean[k1, ], mean_reference_weighted = adj$mean[k0, ],
      diff_unweighted = finite_or_na((raw$mean[k1, ] - raw$mean[k0, ]) / scale),
      diff_weighted = finite_or_na((adj$mean[k1, ] - adj$mean[k0, ]) / scale),
      variance_ratio_unweighted = ifelse(is_binary, NA_real_, finite_or_na(v_raw[k1, ] / v_raw[k0, ])),
      variance_ratio_weighted = ifelse(is_binary, NA_real_, finite_or_na(v_adj[k1, ] / v_adj[k0, ])),
      ks_unweighted = pair_ks(xs, g, sw[in_pair]),
      ks_weighted = pair_ks(xs, g, (sw * w)[in_pair]),
      row.names = NULL, stringsAsFactors = FALSE
    )
  })
  do.call(rbind, rows)
}

# Variances per arm (K x p): p (1 - p) for binary covariates, as cobalt
# computes them, bias-corrected weighted variances for the others.
arm_variances <- function(m, is_binary) {
  v <- group_variances(m)
  p <- m$mean[, is_binary, drop = FALSE]
  v[, is_binary] <- p * (1 - p)
  v
}

# Bias-corrected weighted variances (G x p) from group moments.
group_variances <- function(m) {
  m$ss / (m$sum_w - m$sum_w2 / m$sum_w)
}

# The KS statistics of a pair of groups, NA when either has no weight (a
# matching fit's unmatched arm).
pair_ks <- function(x, g, w) {
  if (sum(w[g == 1L]) <= 0 || sum(w[g == 2L]) <= 0) return(rep(NA_real_, ncol(x)))
  weighted_ks(x, g, w)
}

finite_or_na <- function(v) {
  v[!is.finite(v)] <- NA_real_
  v
}

# Per arm: units, effective sample sizes before (sampling weights only) and
# after adjustment, and for matching the matched and unmatched units.
balance_sample_sizes <- function(fit) {
  a <- fit$treatment
  sw <- sw_or_one(fit)
  n <- tabulate(a, nlevels(a))
  out <- data.frame(treatment = fit$levels, n = n, ess_unweighted = arm_ess(sw, a),
                    ess_weighted = arm_ess(sw * fit$weights, a), stringsAsFactors = FALSE)
  if (is_matched(fit)) {
    out$matched <- as.vector(arm_sums(fit$weights > 0, a))
    out$unmatched <- n - out$matched
  }
  out
}

# Effective sample size of each arm of a: (sum w)^2 / sum w^2.
arm_ess <- function(w, a) {
  as.vector(arm_sums(w, a)^2 / arm_sums(w^2, a))
}

# Whether a weight model's weights come from matching (this package's or
# MatchIt's), so that plots and tables say "matched", not "weighted".
is_matched <- function(fit) {
  inherits(fit, "causallib_matching") || isTRUE(fit$matched)
}

# "IPW (ATT), in-sample": the estimator, its estimand and the sample, for
# titles ("MatchIt (method \"nearest\") (ATT), ..." for other packages' weights).
balance_title <- function(fit, sample = "in-sample") {
  label <- if (inherits(fit, "causallib_fixed_weights")) fit$source else if (is_matched(fit)) "Matching" else "IPW"
  paste0(label, " (", fit$estimand, "), ", sample)
}

check_threshold <- function(threshold, arg = "threshold") {
  if (is.null(threshold)) return(invisible(NULL))
  if (!is.numeric(threshold) || length(threshold) != 1L || is.na(threshold) || threshold <= 0 ||
      !is.finite(threshold)) {
    cli::cli_abort(c("{.arg {arg}} must be a positive number (such as 0.1) or {.code NULL} for none.",
                     x = "You gave {value_label(threshold)}."))
  }
  invisible(threshold)
}

#' @export
print.causal_balance <- function(x, digits = 3, ...) {
  # A subset (head(), x[rows, ]) keeps the class but not the attributes.
  if (is.null(attr(x, "sample_sizes"))) return(print(as.data.frame(unclass(x)), digits = digits, ...))
  adjusted <- if (identical(attr(x, "adjustment"), "matched")) "matching" else "weighting"
  cat("Balance before and after ", adjusted, ": ", attr(x, "title"), "\n", sep = "")
  cat("Differences: continuous standardized by the ", attr(x, "sd_denominator"),
      " standard deviation; binary ", if (identical(attr(x, "binary"), "raw")) "raw (proportions)" else "standardized",
      "\n", sep = "")
  show <- as.data.frame(unclass(x), stringsAsFactors = FALSE)
  pairs <- unique(show[c("treatment", "reference")])
  threshold <- attr(x, "threshold")
  for (r in seq_len(nrow(pairs))) {
    part <- show[show$treatment == pairs$treatment[r] & show$reference == pairs$reference[r], , drop = FALSE]
    cat("\n", pairs$treatment[r], " vs ", pairs$reference[r], ":\n", sep = "")
    tab <- data.frame(part$covariate, part$type,
                      format_fixed(part$mean_reference_unweighted, digits),
                      format_fixed(part$mean_treatment_unweighted, digits),
                      format_fixed(part$diff_unweighted, digits + 1L),
                      format_fixed(part$mean_reference_weighted, digits),
                      format_fixed(part$mean_treatment_weighted, digits),
                      format_fixed(part$diff_weighted, digits + 1L))
    names(tab) <- c("covariate", "type", paste(c(pairs$reference[r], pairs$treatment[r], "diff"), "before"),
                    paste(c(pairs$reference[r], pairs$treatment[r], "diff"), "after"))
    if (!is.null(part$balanced)) tab$balanced <- ifelse(is.na(part$balanced), "", ifelse(part$balanced, "yes", "no"))
    print(tab, row.names = FALSE, right = TRUE)
    if (!is.null(threshold)) {
      judged <- part$balanced[!is.na(part$balanced)]
      cat("Balanced (absolute difference after ", adjusted, " below ", threshold, "): ", sum(judged),
          " of ", length(judged), " covariates\n", sep = "")
    }
  }
  cat("\nSample sizes (ess: effective sample size):\n")
  sizes <- attr(x, "sample_sizes")
  for (col in c("ess_unweighted", "ess_weighted")) sizes[[col]] <- format_fixed(sizes[[col]], 1L)
  print(sizes, row.names = FALSE, right = TRUE)
  invisible(x)
}

# The covariates of some rows.
covariate_rows <- function(covs, rows) {
  covs$x <- covs$x[rows, , drop = FALSE]
  covs
}

# What evaluate() reports per treatment level: each level against the
# others together, differences standardized by the pooled standard
# deviation (binary covariates too), as columns treatment, covariate,
# smd_unweighted and smd_weighted.
level_balance <- function(covs, a, w, sw) {
  K <- nlevels(a)
  focal <- if (K == 2L) K else seq_len(K)
  pooled <- list(kind = "pooled", arm = NA_integer_)
  rows <- lapply(focal, function(k) {
    g <- factor(1L + (as.integer(a) == k), levels = 1:2)
    bal <- balance_stats(covs, g, w, sw, arm_pairs(2L), pooled, "std")
    data.frame(treatment = levels(a)[k], covariate = bal$covariate, smd_unweighted = bal$diff_unweighted,
               smd_weighted = bal$diff_weighted, stringsAsFactors = FALSE)
  })
  do.call(rbind, rows)
}
