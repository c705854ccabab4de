# Argument checks shared by the front ends.  Each names the argument it
# checks, so the user sees which one was wrong.

check_number <- function(x, arg, min = -Inf, max = Inf) {
  if (!is.numeric(x) || length(x) != 1L || is.na(x) || x < min || x > max) {
    cli::cli_abort("{.arg {arg}} must be a single number between {min} and {max}, not {.obj_type_friendly {x}}.")
  }
  invisible(x)
}

check_formula <- function(formula, arg = "formula") {
  if (!inherits(formula, "formula") || length(formula) != 3L) {
    cli::cli_abort("{.arg {arg}} must be a two-sided formula such as {.code treatment ~ age + sex}.")
  }
  invisible(formula)
}

check_data_frame <- function(data, arg = "data") {
  if (!is.data.frame(data)) {
    cli::cli_abort("{.arg {arg}} must be a data frame, not {.obj_type_friendly {data}}.")
  }
  if (nrow(data) == 0L) cli::cli_abort("{.arg {arg}} has no rows.")
  invisible(data)
}

# Treatment as a factor with at least two observed levels.
as_treatment <- function(a, arg = "treatment") {
  if (is.null(a)) cli::cli_abort("{.arg {arg}} is missing.")
  if (!(is.numeric(a) || is.logical(a) || is.factor(a) || is.character(a))) {
    cli::cli_abort("{.arg {arg}} must be numeric, logical, character or a factor, not {.obj_type_friendly {a}}.")
  }
  if (anyNA(a)) cli::cli_abort("{.arg {arg}} has {sum(is.na(a))} missing value{?s}.")
  if (is.numeric(a) && any(a != round(a))) {
    cli::cli_abort(c(
      "{.arg {arg}} must be discrete: a binary or multi-level treatment.",
      i = "It has non-integer values such as {.val {a[a != round(a)][1]}}."
    ))
  }
  a <- as_factor_fast(a)
  if (nlevels(a) < 2L) {
    cli::cli_abort("{.arg {arg}} has a single level ({.val {levels(a)}}); a causal contrast needs at least two.")
  }
  a
}

# factor() turns numbers into strings before matching, which is slow at
# millions of rows; match on the sorted unique values instead.
as_factor_fast <- function(a) {
  if (is.factor(a)) return(droplevels(a))
  lev <- sort(unique(a))
  structure(match(a, lev), levels = as.character(lev), class = "factor")
}

check_outcome <- function(y, n, arg = "outcome") {
  if (is.logical(y)) y <- as.numeric(y)
  if (!is.numeric(y)) {
    cli::cli_abort("{.arg {arg}} must be numeric (or logical), not {.obj_type_friendly {y}}.")
  }
  if (length(y) != n) {
    cli::cli_abort("{.arg {arg}} has length {length(y)}, but the model was fitted on {n} rows.")
  }
  if (anyNA(y)) {
    cli::cli_abort(c(
      "{.arg {arg}} has {sum(is.na(y))} missing value{?s} among the {n} rows of the fitted model.",
      i = "Fit the model on the rows with an observed outcome, or model the missingness as censoring."
    ))
  }
  if (any(!is.finite(y))) cli::cli_abort("{.arg {arg}} has infinite values.")
  as.double(y)
}

# Sampling weights: NULL (all 1) or a finite, non-negative vector with a
# positive sum.
check_weights <- function(weights, n, arg = "weights") {
  if (is.null(weights)) return(NULL)
  if (!is.numeric(weights) || length(weights) != n) {
    cli::cli_abort("{.arg {arg}} must be a numeric vector of length {n}.")
  }
  if (anyNA(weights) || any(!is.finite(weights))) {
    cli::cli_abort("{.arg {arg}} has missing or infinite values.")
  }
  if (any(weights < 0)) {
    cli::cli_abort("{.arg {arg}} has {sum(weights < 0)} negative value{?s}; weights must be non-negative.")
  }
  if (sum(weights) <= 0) cli::cli_abort("{.arg {arg}} sum to zero.")
  as.double(weights)
}

check_arms_nonempty <- function(a, weights, arg = "treatment") {
  w <- if (is.null(weights)) rep(1, length(a)) else weights
  mass <- tapply(w, a, sum)
  mass[is.na(mass)] <- 0
  if (any(mass <= 0)) {
    cli::cli_abort("{.arg {arg}} level{?s} {.val {names(mass)[mass <= 0]}} ha{?s/ve} no units with positive weight.")
  }
  invisible(a)
}

check_matrix <- function(x, n = NULL, arg = "x") {
  if (is.data.frame(x)) x <- as.matrix(x)
  if (!is.matrix(x) || !is.numeric(x)) {
    cli::cli_abort("{.arg {arg}} must be a numeric matrix.")
  }
  if (!is.null(n) && nrow(x) != n) {
    cli::cli_abort("{.arg {arg}} has {nrow(x)} rows, expected {n}.")
  }
  # range() is one pass without the n x p logical matrix of is.finite().
  if (anyNA(x) || !all(is.finite(range(x)))) {
    bad <- colnames(x)[colSums(!is.finite(x)) > 0]
    cli::cli_abort("{.arg {arg}} has missing or infinite values{if (length(bad)) ' in columns' else ''} {.val {bad}}.")
  }
  storage.mode(x) <- "double"
  if (is.null(colnames(x))) colnames(x) <- paste0("x", seq_len(ncol(x)))
  x
}
