# Checks of the fields a fitted model hands to the C bootstrap.
#
# boot_description() passes a fit's fields to C as they are, whatever the
# fit's origin: built by the package, edited by hand
# (`fit$options$clip <- c(2, 1)`), or restored from an old file. The C
# core refuses what it cannot read with an internal error; these checks
# come first and name the field to the user, one function per set of
# fields (the units every model has, a weight model, an outcome model, a
# survival model). A field that is valid but edited is caught after them:
# run_bootstrap() checks that the fields reproduce the estimate.

# The fields of a model, before any of them reach C: estimate_outcomes()
# and estimate_effect() check them first (means, sandwich and bootstrap all
# read them), boot_description() again for its other callers.
check_fields <- function(fit) {
  UseMethod("check_fields")
}

#' @export
check_fields.default <- function(fit) invisible(fit)

#' @export
check_fields.causallib_ipw <- function(fit) check_weight_model_fields(fit)

#' @export
check_fields.causallib_standardization <- function(fit) check_outcome_model_fields(fit)

#' @export
check_fields.causallib_dr <- function(fit) {
  check_unit_fields(fit)
  check_outcome_model_fields(fit$outcome_model, "outcome_model$")
  if (inherits(fit$weight_model, "causallib_ipw")) {
    check_weight_model_fields(fit$weight_model, "weight_model$")
  }
  invisible(fit)
}

#' @export
check_fields.causallib_survival <- function(fit) {
  check_survival_fields(fit)
  if (inherits(fit$weight_model, "causallib_ipw")) {
    check_weight_model_fields(fit$weight_model, "weight_model$")
  }
  invisible(fit)
}

# The error for the field prefix + field, which `must` (a cli template,
# interpolated in the caller's environment).
fit_field_abort <- function(prefix, field, must, env = parent.frame()) {
  env <- new.env(parent = env)
  env$.field_name <- paste0(prefix, field)
  cli::cli_abort(c(
    paste0("The fitted model's field {.field {(.field_name)}} ", must, "."),
    i = "Was the fitted object edited? Fit the model again instead."
  ), call = NULL, .envir = env)
}

is_whole <- function(x, lo = -Inf, hi = Inf) {
  is.numeric(x) && length(x) == 1L && !is.na(x) && x == round(x) && x >= lo && x <= hi
}

is_finite_double <- function(x, n = NULL) {
  is.numeric(x) && (is.null(n) || length(x) == n) && .Call(C_ffi_all_finite, as.double(x))
}

# The units of any model: n, the treatment (a factor of n codes) and its
# levels, and the sampling weights.
check_unit_fields <- function(fit, prefix = "") {
  if (!is_whole(fit$n, 1)) fit_field_abort(prefix, "n", "must be a whole number of units")
  a <- fit$treatment
  if (!is.factor(a) || length(a) != fit$n || anyNA(a)) {
    fit_field_abort(prefix, "treatment", "must be a factor of {fit$n} value{?s} without missing values")
  }
  if (!is.character(fit$levels) || length(fit$levels) < 2L || !identical(fit$levels, levels(a))) {
    fit_field_abort(prefix, "levels", "must be the levels of its treatment")
  }
  sw <- fit$sampling_weights
  if (!is.null(sw) && !(is_finite_double(sw, fit$n) && all(sw >= 0) && sum(sw) > 0)) {
    fit_field_abort(prefix, "sampling_weights",
                    "must be {.code NULL} or {fit$n} finite non-negative weights with a positive sum")
  }
  invisible(fit)
}

# A design (matrix or read-in-place columns) of n rows, finite, and its
# offset.
check_design_fields <- function(fit, prefix = "", x = "x", offset = "offset") {
  d <- fit[[x]]
  ok <- if (inherits(d, "causallib_columns")) {
    d$n == fit$n && all(vapply(d$columns, function(col) !is.double(col) || is_finite_double(col, fit$n),
                               logical(1)))
  } else {
    is.matrix(d) && is.double(d) && nrow(d) == fit$n && is_finite_double(d)
  }
  if (!ok) fit_field_abort(prefix, x, "must be a finite design of {fit$n} row{?s}")
  off <- fit[[offset]]
  if (!is.null(off) && !(is.double(off) && is_finite_double(off, fit$n))) {
    fit_field_abort(prefix, offset, "must be {.code NULL} or {fit$n} finite number{?s}")
  }
  invisible(fit)
}

# The settings of a lrn_glm() learner that the C core refits with.
check_glm_learner_fields <- function(learner, prefix = "", field = "learner") {
  where <- paste0(field, "$")
  if (!inherits(learner, "causallib_lrn_glm")) fit_field_abort(prefix, field, "must be a {.fn lrn_glm} learner")
  if (!(is.character(learner$family) && length(learner$family) == 1L &&
        learner$family %in% names(glm_family_codes))) {
    fit_field_abort(prefix, paste0(where, "family"), "must be one of {.val {names(glm_family_codes)}}")
  }
  if (!is_whole(learner$maxit, 1, 100000)) {
    fit_field_abort(prefix, paste0(where, "maxit"), "must be a whole number between 1 and 100000")
  }
  if (!(is_finite_double(learner$epsilon, 1) && learner$epsilon > 0)) {
    fit_field_abort(prefix, paste0(where, "epsilon"), "must be a positive number")
  }
  if (!(is_finite_double(learner$penalty, 1) && learner$penalty >= 0)) {
    fit_field_abort(prefix, paste0(where, "penalty"), "must be a non-negative number")
  }
  invisible(learner)
}

# A weight model (ipw()) as the C bootstraps refit it: its units, design,
# learner (lrn_glm()'s settings), estimand and target, and weighting
# options.
check_weight_model_fields <- function(fit, prefix = "") {
  check_unit_fields(fit, prefix)
  check_design_fields(fit, prefix)
  if (!rlang::is_bool(fit$intercept)) fit_field_abort(prefix, "intercept", "must be {.code TRUE} or {.code FALSE}")
  if (inherits(fit$learner_fit, "causallib_glm_fit")) check_glm_learner_fields(fit$learner, prefix)
  if (!(is.character(fit$estimand) && length(fit$estimand) == 1L &&
        fit$estimand %in% names(ipw_estimands))) {
    fit_field_abort(prefix, "estimand", "must be one of {.val {names(ipw_estimands)}}")
  }
  if (!is_whole(fit$target, 1, length(fit$levels))) {
    fit_field_abort(prefix, "target", "must be a level number between 1 and {length(fit$levels)}")
  }
  o <- fit$options
  clip <- o$clip
  if (!(is_finite_double(clip, 2L) && clip[1L] >= 0 && clip[1L] < clip[2L] && clip[2L] <= 1)) {
    fit_field_abort(prefix, "options$clip", "must be {.code c(lower, upper)} with 0 <= lower < upper <= 1")
  }
  q <- o$truncate
  if (!is.null(q) && !(is_finite_double(q, 1L) && q >= 0.5 && q <= 1)) {
    fit_field_abort(prefix, "options$truncate", "must be {.code NULL} or a quantile between 0.5 and 1")
  }
  if (!rlang::is_bool(o$stabilize)) {
    fit_field_abort(prefix, "options$stabilize", "must be {.code TRUE} or {.code FALSE}")
  }
  invisible(fit)
}

# An outcome model (standardization()) as the C bootstraps refit it (its
# learner's settings when it is lrn_glm()).
check_outcome_model_fields <- function(fit, prefix = "") {
  check_unit_fields(fit, prefix)
  check_design_fields(fit, prefix)
  if (!(is.double(fit$y) && is_finite_double(fit$y, fit$n))) {
    fit_field_abort(prefix, "y", "must be {fit$n} finite outcome{?s}")
  }
  if (!rlang::is_bool(fit$stratified)) fit_field_abort(prefix, "stratified", "must be {.code TRUE} or {.code FALSE}")
  learners <- if (fit$stratified) fit$learner_fit else list(fit$learner_fit)
  if (all(vapply(learners, inherits, logical(1), what = "causallib_glm_fit"))) {
    check_glm_learner_fields(fit$learner, prefix)
  }
  invisible(fit)
}

# A survival model as ffi_survival_bootstrap refits it: its people, their
# times or person-time and its settings (its weight model is checked by
# ipw_boot_spec()).
check_survival_fields <- function(fit) {
  check_unit_fields(fit)
  if (!(is.character(fit$method) && length(fit$method) == 1L &&
        fit$method %in% c(survival_boot_methods, "cox"))) {
    fit_field_abort("", "method", "must be one of {.val {c(survival_boot_methods, 'cox')}}")
  }
  for (flag in c("marginal", "stratified")) {
    if (!rlang::is_bool(fit[[flag]])) fit_field_abort("", flag, "must be {.code TRUE} or {.code FALSE}")
  }
  n <- fit$n
  if (fit$method == "km") {
    if (!(is.double(fit$time) && is_finite_double(fit$time, n) && all(fit$time >= 0))) {
      fit_field_abort("", "time", "must be {n} finite non-negative time{?s}")
    }
    if (!(is.integer(fit$status) && length(fit$status) == n && all(fit$status %in% 0:1))) {
      fit_field_abort("", "status", "must be {n} event indicator{?s} (0 or 1)")
    }
    if (!(is.double(fit$times) && is_finite_double(fit$times) && !is.unsorted(fit$times, strictly = TRUE))) {
      fit_field_abort("", "times", "must be finite, strictly increasing times")
    }
  }
  pt <- fit$pt
  if (is.null(pt) && (fit$method %in% survival_boot_methods[-1L] || !is.null(fit$xc))) {
    fit_field_abort("", "pt", "must be the person-time of the fit's people")
  }
  if (!is.null(pt)) {
    Tmax <- if (is.matrix(pt$f)) nrow(pt$f) else 0L
    if (!(is.double(pt$f) && Tmax > 0L && is_finite_double(pt$f))) {
      fit_field_abort("", "pt$f", "must be a finite matrix of period terms")
    }
    if (!(is.integer(pt$last) && length(pt$last) == n && !anyNA(pt$last) &&
          all(pt$last >= 0L & pt$last <= Tmax))) {
      fit_field_abort("", "pt$last", "must be {n} period{?s} between 0 and {Tmax}")
    }
    if (!(is.integer(pt$status) && length(pt$status) == n && all(pt$status %in% 0:1) &&
          !any(pt$status == 1L & pt$last == 0L))) {
      fit_field_abort("", "pt$status", "must be {n} event indicator{?s} (0 or 1), events in a period >= 1")
    }
    if (!is_whole(pt$n_periods, Tmax, Tmax)) fit_field_abort("", "pt$n_periods", "must be {Tmax}, the rows of {.field pt$f}")
    if (!identical(pt$arm, fit$treatment)) fit_field_abort("", "pt$arm", "must be the fit's treatment")
  }
  xc <- fit$xc
  if (!is.null(xc) && !(is.matrix(xc) && is.double(xc) && nrow(xc) == n &&
                        ncol(xc) >= length(fit$levels) - 1L && is_finite_double(xc))) {
    fit_field_abort("", "xc", "must be a finite censoring design of {n} row{?s} and at least {length(fit$levels) - 1L} column{?s}")
  }
  if (fit$method %in% c("pooled_logistic", "cox")) check_hazard_design_fields(fit$hazard, n)
  hz <- fit$models$hazard
  if (fit$method %in% c("pooled_logistic", "grid_pooled_logistic")) {
    if (inherits(hz, "causallib_pt_fit")) {
      check_pt_fit_fields(hz, "models$hazard$", ncol(pt$f), length(fit$levels))
    } else if (is.list(hz) && length(hz) == length(fit$levels)) {
      for (k in seq_along(hz)) check_pt_fit_fields(hz[[k]], paste0("models$hazard[[", k, "]]$"), ncol(pt$f), 1L)
    } else {
      fit_field_abort("", "models$hazard", "must be the fitted hazard model (one per treatment level when stratified)")
    }
  }
  # The censoring and pooled-logistic hazard models are refitted in C with
  # it (Cox models refit in R).
  if (fit$method != "cox" &&
      (!is.null(fit$xc) || fit$method %in% c("grid_pooled_logistic", "pooled_logistic"))) {
    check_glm_learner_fields(fit$learner)
  }
  invisible(fit)
}

# The design of a pooled-logistic hazard model, from whose raw variables
# hazard_boot_spec() builds the person designs under each level: its terms,
# and variables of n people of the types it was fitted on, none missing or
# infinite.
check_hazard_design_fields <- function(design, n) {
  if (!(inherits(design, "causallib_design") && inherits(design$terms, "terms"))) {
    fit_field_abort("", "hazard", "must be the design of the hazard model")
  }
  vars <- design$vars
  mf <- if (is.data.frame(vars) && nrow(vars) == n) {
    tryCatch({
      mf <- stats::model.frame(design$terms, vars, xlev = design$xlevels, na.action = stats::na.pass)
      stats::.checkMFClasses(attr(design$terms, "dataClasses"), mf)
      mf
    }, error = function(e) NULL)
  }
  if (is.null(mf) || anyNA(mf) ||
      !all(vapply(mf, function(v) !is.double(v) || is_finite_double(v), logical(1)))) {
    fit_field_abort("", "hazard$vars",
                    "must hold the hazard model's variables for {n} people, of the types it was fitted on, without missing or infinite values")
  }
  invisible(design)
}

# A fitted pooled-logistic model (pt_fit()), whose coefficients the curves,
# predictions and evaluation read: an intercept flag, p_person person
# coefficients and q period terms in 1 or K blocks (`blocks`, the most
# allowed), finite but where aliased, and its information matrix.
check_pt_fit_fields <- function(hz, prefix, q, blocks) {
  if (!inherits(hz, "causallib_pt_fit")) {
    fit_field_abort(prefix, "", "must be a fitted pooled-logistic model")
  }
  if (!rlang::is_bool(hz$intercept)) fit_field_abort(prefix, "intercept", "must be {.code TRUE} or {.code FALSE}")
  if (!is_whole(hz$p_person, 0)) fit_field_abort(prefix, "p_person", "must be a whole number of person terms")
  if (!(is_whole(hz$K, 1) && hz$K %in% unique(c(1L, blocks)))) {
    fit_field_abort(prefix, "K", "must be {.val {unique(c(1L, blocks))}}")
  }
  P <- hz$intercept + hz$p_person + q * hz$K
  al <- hz$aliased
  if (!(is.logical(al) && length(al) == P && !anyNA(al))) {
    fit_field_abort(prefix, "aliased", "must be {P} logical flag{?s}")
  }
  b <- hz$coefficients
  if (!(is.double(b) && length(b) == P && all(is.na(b) == al) && is_finite_double(b[!al]))) {
    fit_field_abort(prefix, "coefficients", "must be {P} coefficient{?s}, finite but {.code NA} where aliased")
  }
  info <- hz$information
  if (!(is.matrix(info) && identical(dim(info), c(P, P)) && is_finite_double(info))) {
    fit_field_abort(prefix, "information", "must be a finite {P} x {P} matrix")
  }
  invisible(hz)
}
