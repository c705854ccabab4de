# Treatment arms: the treatment as a factor, and sums within arms.

# Treatment as a factor with at least two observed levels. Numeric and
# logical codes with few levels (the usual case) are coded in one pass in C.
as_treatment <- function(a, arg = "treatment") {
  if (is.null(a)) cli::cli_abort("{.arg {arg}} is missing.")
  if (!(is.numeric(a) || is.logical(a) || is.factor(a) || is.character(a))) {
    cli::cli_abort("{.arg {arg}} must be numeric, logical, character or a factor, not {.obj_type_friendly {a}}.")
  }
  coded <- if (!is.object(a) && (is.numeric(a) || is.logical(a))) .Call(C_ffi_treatment_codes, a)
  if (!is.null(coded)) {
    a <- structure(coded$codes, levels = as.character(coded$values), class = "factor")
  } else {
    if (anyNA(a)) cli::cli_abort("{.arg {arg}} has {sum(is.na(a))} missing value{?s}.")
    if (is.numeric(a) && any(a != round(a))) {
      cli::cli_abort(c(
        "{.arg {arg}} must be discrete: a binary or multi-level treatment.",
        i = "It has non-integer values such as {.val {a[a != round(a)][1]}}."
      ))
    }
    a <- as_factor_fast(a)
  }
  if (nlevels(a) < 2L) {
    cli::cli_abort("{.arg {arg}} has a single level ({.val {levels(a)}}); a causal contrast needs at least two.")
  }
  a
}

# factor() turns numbers into strings before matching, which is slow at
# millions of rows; match on the sorted unique values instead.
# (match() on a named vector is slow too, hence unname().)
as_factor_fast <- function(a) {
  if (is.factor(a)) return(droplevels(unname(a)))
  a <- unname(a)
  lev <- sort(unique(a))
  structure(match(a, lev), levels = as.character(lev), class = "factor")
}

# Sum of v within each level of the factor a (0 for an empty level); v may
# be a scalar.  One pass in C: tapply() and rowsum() sort the groups first.
arm_sums <- function(v, a) {
  .Call(C_ffi_arm_sums, as.double(v), a, nlevels(a))
}

# n x K matrix with v[i] in the column of the arm unit i received, 0
# elsewhere (v recycled if scalar).
arm_spread <- function(v, a) {
  .Call(C_ffi_arm_spread, rep_len(as.double(v), length(a)), a, nlevels(a))
}

check_arms_nonempty <- function(a, weights, arg = "treatment") {
  mass <- arm_sums(if (is.null(weights)) 1 else weights, a)
  names(mass) <- levels(a)
  if (any(mass <= 0)) {
    cli::cli_abort("{.arg {arg}} level{?s} {.val {names(mass)[mass <= 0]}} ha{?s/ve} no units with positive weight.")
  }
  invisible(a)
}

# The level whose population an estimand describes, as its index in the
# treatment levels `lev`: the one place every estimator that takes
# `estimand` and `treated` (ipw(), matching(), standardization(), aipw(),
# tmle()) decides it. The ATT describes the treated, the ATC the controls:
# for a binary treatment the level that is not `treated`; with more levels
# the first. When `treated` is NULL the levels must say which is which by
# themselves -- numbers (the treated the largest, the controls the smallest)
# or FALSE/TRUE -- otherwise (labels such as "no"/"yes", "trt"/"ctl") the
# first level would be taken for the controls only because it sorts first,
# so the user must name the treated level. Estimands of everyone (ATE,
# ATO) describe no level; they keep the last, as the C weights expect.
# Its errors name no function: the caller is an internal engine, and the
# message names the argument the user gave.
estimand_target <- function(estimand, lev, treated = NULL, arg = "treated") {
  K <- length(lev)
  if (!estimand %in% c("ATT", "ATC")) return(K)
  if (is.null(treated)) {
    if (!ordered_levels(lev)) {
      cli::cli_abort(c(
        "{.code estimand = \"{estimand}\"} needs {.arg {arg}}: the treatment has levels {.val {lev}}, which do not say which level is the treated one.",
        i = if (estimand == "ATC" && K > 2L) {
          "For the population of one level use {.code estimand = \"ATT\"} with {.arg {arg}} naming that level."
        } else {
          "Name it, e.g. {.code {arg} = \"{lev[K]}\"}."
        }
      ), call = NULL)
    }
    return(if (estimand == "ATT") K else 1L)
  }
  if (!(is.character(treated) || is.numeric(treated) || is.logical(treated) || is.factor(treated)) ||
      length(treated) != 1L || is.na(treated) || !as.character(treated) %in% lev) {
    cli::cli_abort("{.arg {arg}} must be one of the treatment levels {.val {lev}}, not {value_label(treated)}.",
                   call = NULL)
  }
  t <- match(as.character(treated), lev)
  if (estimand == "ATT") return(t)
  if (K > 2L) {
    cli::cli_abort(c(
      "{.code estimand = \"ATC\"} with {K} treatment levels has no single control level that {.arg {arg}} could imply.",
      i = "For the population of one level use {.code estimand = \"ATT\"} with {.arg {arg}} naming that level."
    ), call = NULL)
  }
  3L - t
}

# Whether treatment levels carry their own order: FALSE/TRUE, or numbers
# in increasing order (a factor may list numeric labels in any order).
ordered_levels <- function(lev) {
  if (identical(lev, c("FALSE", "TRUE"))) return(TRUE)
  num <- suppressWarnings(as.numeric(lev))
  !anyNA(num) && !is.unsorted(num, strictly = TRUE)
}
