# Argument checks shared by the front ends.  Each names the argument it
# checks, so the user sees which one was wrong.

check_number <- function(x, arg, min = -Inf, max = Inf) {
  if (!is.numeric(x) || length(x) != 1L || is.na(x) || x < min || x > max) {
    cli::cli_abort("{.arg {arg}} must be a single number between {min} and {max}, not {.obj_type_friendly {x}}.")
  }
  invisible(x)
}

check_formula <- function(formula, arg = "formula", sides = 2L) {
  if (!inherits(formula, "formula") || length(formula) != sides + 1L) {
    if (sides == 1L) {
      cli::cli_abort("{.arg {arg}} must be a one-sided formula such as {.code ~ age + sex}.")
    }
    cli::cli_abort("{.arg {arg}} must be a two-sided formula such as {.code treatment ~ age + sex}.")
  }
  invisible(formula)
}

# A check that `x` is TRUE or FALSE, naming the argument.
check_bool <- function(x, arg) {
  if (!rlang::is_bool(x)) {
    cli::cli_abort("{.arg {arg}} must be {.code TRUE} or {.code FALSE}, not {.obj_type_friendly {x}}.")
  }
  x
}

check_data_frame <- function(data, arg = "data") {
  if (!is.data.frame(data)) {
    cli::cli_abort("{.arg {arg}} must be a data frame, not {.obj_type_friendly {data}}.")
  }
  if (nrow(data) == 0L) cli::cli_abort("{.arg {arg}} has no rows.")
  invisible(data)
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
  y <- as.double(y)
  if (!.Call(C_ffi_all_finite, y)) cli::cli_abort("{.arg {arg}} has infinite values.")
  y
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

# A finite double matrix with column names.
check_matrix <- function(x, n = NULL, arg = "x") {
  if (is.data.frame(x)) x <- as.matrix(x)
  if (!is.matrix(x) || !is.numeric(x)) {
    cli::cli_abort("{.arg {arg}} must be a numeric matrix.")
  }
  if (!is.null(n) && nrow(x) != n) {
    cli::cli_abort("{.arg {arg}} has {nrow(x)} rows, expected {n}.")
  }
  storage.mode(x) <- "double"
  if (is.null(colnames(x))) colnames(x) <- paste0("x", seq_len(ncol(x)))
  if (!.Call(C_ffi_all_finite, x)) {
    bad <- colnames(x)[colSums(!is.finite(x)) > 0]
    cli::cli_abort("{.arg {arg}} has missing or infinite values in column{?s} {.val {bad}}.")
  }
  x
}
