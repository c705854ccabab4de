# Printing fitted models: one header for every model -- estimator,
# estimand, treatment, outcome, observations, standard errors -- then what
# is particular to the model (print_details()). Estimates, evaluations and
# tunings print the same header for the model they came from.

#' @export
print.causallib_model <- function(x, ...) {
  print_model_header(x)
  print_details(x)
  invisible(x)
}

# What a fitted model is, as named lines: Estimator, Estimand, Treatment,
# Outcome, Observations.
model_header <- function(x, outcome = outcome_label(x)) {
  dropped <- length(x$na.action)
  c(Estimator = model_label(x),
    Estimand = estimand_label(x),
    Treatment = paste(treatment_label(x), "with levels", paste(x$levels, collapse = ", ")),
    Outcome = outcome,
    Observations = paste0(x$n, if (dropped) paste0(" (", dropped, " rows with missing values dropped)")))
}

# The header of a model under `title`, ending with how its standard errors
# are computed.
print_model_header <- function(x, title = model_title(x)) {
  header <- model_header(x)
  cat_header(header[names(header) != "Estimator"], se_label(x), title)
}

# The first line of a model's header.
model_title <- function(x) {
  UseMethod("model_title")
}

#' @export
model_title.default <- function(x) capitalize(model_label(x))

#' @export
model_title.causallib_survival <- function(x) {
  paste0(capitalize(model_label(x)), " curves, ", method_label(x$method))
}

cat_header <- function(header, se, title = NULL) {
  lines <- c(title, paste0(names(header), ": ", header), paste("Standard errors:", se))
  cat(lines, sep = "\n")
}

# How a model's standard errors are computed: the last line of its header,
# or with estimate = TRUE how the sandwich standard errors of its estimates
# are (the line an estimate_effect() result prints, without the scale of
# the curves' intervals, which its estimates are not on).
se_label <- function(x, estimate = FALSE) {
  UseMethod("se_label")
}

#' @export
se_label.default <- function(x, estimate = FALSE) {
  label <- if (estimate) "sandwich (stacked estimating equations)" else paste(default_se(x), "by default")
  paste0(label, cluster_label(x))
}

#' @export
se_label.causallib_survival <- function(x, estimate = FALSE) interval_label(x, estimate)

print_details <- function(x, ...) {
  UseMethod("print_details")
}

#' @export
print_details.default <- function(x, ...) invisible()

estimand_label <- function(x) {
  population <- model_population(x)
  label <- switch(x$estimand,
    ATE = if (is.null(population)) "ATE (average treatment effect, everyone)" else "ATE (average treatment effect)",
    ATT = paste0("ATT (average effect in the treated, level ", x$levels[x$target %||% length(x$levels)], ")"),
    ATC = paste0("ATC (average effect in the controls, level ", x$levels[x$target %||% 1L], ")"),
    ATO = "ATO (average effect in the overlap population)",
    unadjusted = "none (unadjusted comparison)",
    x$estimand)
  if (is.null(population)) return(label)
  paste0(label, ", in ", population, "; intervals take this population as given")
}

# The population a model describes when it was fitted on the rows a
# positivity rule kept (positivity_subset() labels them; the design keeps
# the label), or NULL.
model_population <- function(x) {
  x$population_label %||% x$design$population_label %||%
    (if (!is.null(x$outcome_model)) model_population(x$outcome_model)) %||%
    (if (!is.null(x$weight_model)) model_population(x$weight_model))
}

outcome_label <- function(x) {
  if (inherits(x, "causallib_weight_model")) return("given at estimation")
  if (!is.null(x$outcome_model)) return(outcome_label(x$outcome_model))
  matrix_argument(x, "y") %||% x$design$response %||% x$hazard$response %||%
    formula_response(x$call$formula) %||% "y"
}

treatment_label <- function(x) {
  if (!is.null(x$outcome_model)) return(treatment_label(x$outcome_model))
  matrix_argument(x, "a") %||% x$treatment_name %||%
    rlang::expr_deparse(x$treatment_expr %||% quote(a))
}

# What a model fitted through a matrix interface was given as its argument
# `arg` (the treatment `a`, the outcome `y`), or NULL.
matrix_argument <- function(x, arg) {
  fn <- x$call[[1L]]
  if (!rlang::is_symbol(fn) || !as.character(fn) %in% c("ipw_fit", "matching_fit", "standardization_fit")) {
    return(NULL)
  }
  if (!is.null(x$call[[arg]])) rlang::as_label(x$call[[arg]])
}

# The left-hand side of a formula written in a call, or NULL.
formula_response <- function(f) {
  if (rlang::is_call(f, "~", n = 2L)) rlang::expr_deparse(f[[2L]])
}

capitalize <- function(text) paste0(toupper(substring(text, 1L, 1L)), substring(text, 2L))

#' @export
print_details.causallib_ipw <- function(x, ...) {
  print(weight_summary(x), row.names = FALSE)
  o <- x$options
  extras <- c(if (o$stabilize) "stabilized", if (x$n_clipped > 0) paste(x$n_clipped, "propensities clipped"),
              if (!is.null(o$truncate)) paste0("truncated at the ", o$truncate, " quantile"))
  if (length(extras)) cat("Weights:", paste(extras, collapse = "; "), "\n")
}

#' @export
print_details.causallib_matching <- function(x, ...) {
  s <- x$spec
  cat("Matching: ", s$k, " nearest on the ",
      if (s$distance == "propensity") "propensity score" else "Mahalanobis distance", ", ",
      if (s$replace) "with" else "without", " replacement",
      if (!is.null(s$caliper)) paste0(", caliper ", s$caliper, " SD (",
                                      signif(x$caliper_distance, 3), ")"),
      if (length(x$caliper_widths)) paste0(", calipers on ", paste(names(x$caliper_widths), collapse = ", ")),
      if (!is.null(x$restrict$cells)) ", exact cells", if (!s$replace && !is.null(s$order)) paste0(", order \"", s$order, "\""),
      if (!identical(s$discard %||% "none", "none")) paste0(", discard \"", s$discard, "\""), "\n", sep = "")
  print(matching_sample_sizes(x), row.names = FALSE)
  if (x$n_unmatched > 0) cat(x$n_unmatched, "focal units without a match (weight 0)\n")
}

#' @export
print_details.causallib_standardization <- function(x, ...) {
  cat(if (x$stratified) "One outcome model per treatment level:" else "One outcome model with the treatment:",
      learner_label(x$learner), fill = TRUE)
}

#' @export
print_details.causallib_dr <- function(x, ...) {
  cat("Outcome model:", model_label(x$outcome_model), "with", learner_label(x$outcome_model$learner),
      fill = TRUE)
  cat("Weight model:", model_label(x$weight_model), "with", learner_label(x$weight_model$learner),
      fill = TRUE)
  if (!is.null(x$crossfit)) cat("Nuisance models cross-fitted on", x$crossfit, "folds\n")
}
