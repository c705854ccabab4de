# From a formula and a data frame to the matrices the C core works on.

# Resolve `weights` given as NULL, a column name or a numeric vector.
resolve_weights <- function(weights, data) {
  if (is.character(weights) && length(weights) == 1L) {
    if (!weights %in% names(data)) {
      cli::cli_abort("{.arg weights} names column {.val {weights}}, which is not in {.arg data}.")
    }
    weights <- data[[weights]]
  }
  weights
}

# Model frame with missing values reported rather than dropped silently:
# na_action "fail" errors naming the columns, "omit" drops the rows and
# records them (as glm() does with na.omit).
build_frame <- function(formula, data, weights, na_action, env) {
  check_formula(formula)
  check_data_frame(data)
  na_action <- rlang::arg_match0(na_action, c("fail", "omit"), "na_action")
  missing_cols <- missing_variables(formula, data, env)
  if (length(missing_cols)) {
    cli::cli_abort("Variable{?s} {.val {missing_cols}} in {.arg formula} {?is/are} not in {.arg data}.")
  }
  weights <- resolve_weights(weights, data)
  if (!is.null(weights) && length(weights) != nrow(data)) {
    cli::cli_abort("{.arg weights} has length {length(weights)}, but {.arg data} has {nrow(data)} rows.")
  }
  environment(formula) <- env
  mf <- stats::model.frame(formula, data = data, na.action = stats::na.pass,
                           drop.unused.levels = TRUE)
  bad_rows <- !stats::complete.cases(mf)
  if (!is.null(weights)) bad_rows <- bad_rows | is.na(weights)
  omitted <- NULL
  if (any(bad_rows)) {
    cols <- names(mf)[vapply(mf, anyNA, logical(1))]
    if (!is.null(weights) && anyNA(weights)) cols <- c(cols, "weights")
    if (na_action == "fail") {
      cli::cli_abort(c(
        "{sum(bad_rows)} row{?s} of {.arg data} ha{?s/ve} missing values in {.val {cols}}.",
        i = "Drop them first, or set {.code na_action = \"omit\"} to drop them here."
      ))
    }
    omitted <- which(bad_rows)
    mf <- mf[!bad_rows, , drop = FALSE]
    mf <- droplevels(mf)
    if (!is.null(weights)) weights <- weights[!bad_rows]
  }
  rows <- if (is.null(omitted)) seq_len(nrow(data)) else seq_len(nrow(data))[-omitted]
  list(frame = mf, terms = stats::terms(mf), weights = weights, rows = rows,
       omitted = omitted)
}

# Design matrix of the right-hand side, keeping what predict() needs.
design_matrix <- function(terms, frame, contrasts = NULL) {
  x <- stats::model.matrix(stats::delete.response(terms), frame, contrasts.arg = contrasts)
  attr(x, "assign") <- NULL
  rownames(x) <- NULL
  x
}

# Model frame for new data with the fitted terms and factor levels.
new_frame <- function(terms, newdata, xlevels) {
  check_data_frame(newdata, "newdata")
  tt <- stats::delete.response(terms)
  missing_cols <- missing_variables(tt, newdata, environment(tt) %||% emptyenv())
  if (length(missing_cols)) {
    cli::cli_abort("{.arg newdata} lacks the variable{?s} {.val {missing_cols}} of the fitted model.")
  }
  mf <- stats::model.frame(tt, newdata, na.action = stats::na.pass, xlev = xlevels)
  if (anyNA(mf)) {
    cols <- names(mf)[vapply(mf, anyNA, logical(1))]
    cli::cli_abort("{.arg newdata} has missing values in {.val {cols}}.")
  }
  mf
}

# Variables of a formula that are neither columns of data nor objects
# visible from env.
missing_variables <- function(formula, data, env) {
  vars <- all.vars(formula)
  vars[!vars %in% names(data) & !vapply(vars, exists, logical(1), envir = env)]
}

# Column names of the design x (x1, x2, ... when it has none), with an
# implicit intercept first.
design_names <- function(x, intercept) {
  c(if (isTRUE(intercept)) "(Intercept)", colnames(x) %||% paste0("x", seq_len(ncol(x))))
}
