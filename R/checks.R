# Argument checks shared by the front ends.  Each names the argument it
# checks, so the user sees which one was wrong.

# A single number in [min, max] -- or, where `open` says so, excluding
# either bound -- naming the argument, the range and the value given.
check_number <- function(x, arg, min = -Inf, max = Inf, open = c(FALSE, FALSE)) {
  open <- rep_len(open, 2L)
  ok <- is.numeric(x) && length(x) == 1L && !is.na(x) &&
    (if (open[1L]) x > min else x >= min) && (if (open[2L]) x < max else x <= max)
  if (!ok) range_abort(x, arg, "a single number", min, max, open, rlang::current_env())
  invisible(x)
}

# A confidence level: a number strictly between 0 and 1.
check_conf_level <- function(x, arg = "conf_level") {
  check_number(x, arg, min = 0, max = 1, open = TRUE)
}

# A whole number between min and max (a count: replicates, folds, bins),
# naming the argument and the value it was given.
check_count <- function(x, arg, min = 1, max = .Machine$integer.max) {
  if (!is.numeric(x) || length(x) != 1L || is.na(x) || x != round(x) || x < min || x > max) {
    shown <- if (max >= .Machine$integer.max) Inf else max
    range_abort(x, arg, "a whole number", min, shown, c(FALSE, FALSE), rlang::current_env())
  }
  invisible(x)
}

# The one error of a value out of its range: what was expected, in which
# range, what was given and, for a percentage given where a proportion is
# expected (95 for 0.95), the value meant.
range_abort <- function(x, arg, what, min, max, open, call) {
  range <- range_label(min, max, open)
  meant <- if (is.numeric(x) && length(x) == 1L && !is.na(x) && max <= 1 && x > 1 && x <= 100) x / 100
  hint <- if (!is.null(meant) && (if (open[1L]) meant > min else meant >= min) &&
              (if (open[2L]) meant < max else meant <= max)) {
    c(i = paste0("Did you mean ", format(meant), "?"))
  }
  cli::cli_abort(c(paste0("{.arg {arg}} must be ", what, range, "; you gave {value_label(x)}."), hint),
                 call = call)
}

# " in (0, 1)", " of at least 2", " in [1, 1,000,000]", or "" without bounds.
range_label <- function(min, max, open) {
  num <- function(v) format(v, big.mark = ",", scientific = abs(v) < 1e-4 && v != 0)
  if (is.infinite(min) && is.infinite(max)) return("")
  if (is.infinite(max)) return(paste(if (open[1L]) " greater than" else " of at least", num(min)))
  if (is.infinite(min)) return(paste(if (open[2L]) " less than" else " of at most", num(max)))
  paste0(" in ", if (open[1L]) "(" else "[", num(min), ", ", num(max), if (open[2L]) ")" else "]")
}

# How an error message shows a value a check rejected: a single number or
# string itself, anything else by its type.
value_label <- function(x) {
  if ((is.numeric(x) || is.character(x)) && length(x) == 1L && !is.na(x) && !is.object(x)) {
    return(if (is.character(x)) encodeString(x, quote = "\"") else format(x))
  }
  cli::format_inline("{.obj_type_friendly {x}}")
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

# Sampling weights: NULL (all 1), or a finite, non-negative vector with a
# positive sum, rescaled to mean 1 -- the one place every estimator's
# engine takes its sampling weights through. So no result depends on their
# scale (weights of 1e-300 or 1e300 give the numbers of weights of 1, and a
# penalized learner sees them on the scale of unit weights, as glmnet
# does), and no sum of weights overflows: dividing by the largest first
# keeps every weight in (0, 1] before the mean is taken. Weights so uneven
# that the smallest positive ones are lost to rounding beside the largest
# (a ratio beyond 1 / .Machine$double.eps) are an error: every sum over the
# units would be the largest units' alone, and the models fitted to them
# degenerate (one unit's weight cannot identify a regression).
as_sampling_weights <- function(weights, n, arg = "weights") {
  if (is.null(weights)) return(NULL)
  if (!is.numeric(weights) || length(weights) != n) {
    cli::cli_abort("{.arg {arg}} must be a numeric vector of length {n}, not {.obj_type_friendly {weights}} of length {length(weights)}.")
  }
  weights <- as.double(weights)
  if (!.Call(C_ffi_all_finite, weights)) {
    bad <- which(!is.finite(weights))
    kind <- ifelse(is.na(weights[bad]), "missing", "infinite")
    cli::cli_abort(c(
      "{.arg {arg}} must be finite: {length(bad)} value{?s} {?is/are} {unique(kind)}, the first at position {bad[1L]} ({format(weights[bad[1L]])}).",
      i = "Give each unit a finite, non-negative weight (0 leaves it out)."
    ))
  }
  if (any(weights < 0)) {
    cli::cli_abort(c(
      "{.arg {arg}} must be non-negative: {sum(weights < 0)} value{?s} {?is/are} negative, the first at position {which(weights < 0)[1L]} ({format(weights[weights < 0][1L])}).",
      i = "Sampling weights count units; give 0 to units that should not count."
    ))
  }
  top <- max(weights)
  if (top == 0) {
    cli::cli_abort("{.arg {arg}} are all zero: at least one unit needs a positive weight.")
  }
  w <- weights / top
  low <- min(w[w > 0])
  if (low < .Machine$double.eps) {
    smallest <- min(weights[weights > 0])
    cli::cli_abort(c(
      "{.arg {arg}} are too uneven: the largest ({format(top)}) is {format(1 / low, digits = 3)} times the smallest positive one ({format(smallest)}).",
      x = "Beside the largest weights the smallest fall below double precision (about 16 significant digits), so their units would not count at all.",
      i = "Check how the weights were computed; to leave units out, give them weight 0."
    ))
  }
  w / mean(w)
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

# A learner for a treatment: any learner, but the built-in GLM only with
# its binomial family, which it fits as a logistic (or multinomial) model.
# Another family cannot model a treatment's levels, and fitting the
# logistic model instead would not be the model the user asked for.
check_treatment_learner <- function(learner, arg = "learner") {
  check_learner(learner, arg)
  if (inherits(learner, "causallib_lrn_glm") && learner$family != "binomial") {
    cli::cli_abort(c(
      "{.arg {arg}} is {.code lrn_glm(\"{learner$family}\")}, which cannot model a treatment: a {learner$family} model does not predict the probability of each level.",
      i = "Use {.code lrn_glm()} (logistic for two levels, multinomial for more) or another classifier."
    ), call = rlang::caller_env())
  }
  invisible(learner)
}

# A factor, character or logical variable of a model frame with a single
# value among the rows used cannot be a covariate (model.matrix() stops on
# its contrasts without naming it): name it and its value. The response is
# not checked here (a treatment has its own check).
check_factor_levels <- function(mf, arg = "formula") {
  vars <- names(mf)
  if (attr(attr(mf, "terms"), "response") > 0L) vars <- vars[-1L]
  single <- vapply(mf[vars], function(x) {
    (is.factor(x) || is.character(x) || is.logical(x)) && length(unique(x[!is.na(x)])) < 2L
  }, logical(1))
  if (!any(single)) return(invisible())
  bad <- vars[single]
  value <- vapply(mf[bad], function(x) as.character(unique(x[!is.na(x)]))[1L], character(1))
  one <- length(bad) == 1L
  cli::cli_abort(c(
    paste0(if (one) "Variable" else "Variables", " {.val {bad}} in {.arg {arg}} ",
           if (one) "has a single value" else "each have a single value",
           " in the rows used ({.val {value}}): a covariate that does not vary cannot be adjusted for."),
    i = paste0("Drop ", if (one) "it" else "them", " from {.arg {arg}}, or fit on rows where ",
               if (one) "it varies." else "they vary.")
  ), call = rlang::caller_env(2L))
}
