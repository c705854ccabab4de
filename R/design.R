# From a formula and a data frame to the matrices the C core works on.
#
# A design is the recipe of a model matrix: the terms (whose `predvars` keep
# the fitted bases of poly(), ns() and the like), the factor levels and the
# contrasts, plus -- for models that predict under other treatment levels --
# the raw variables of the rows it was fitted on. design_x() is the one
# function that turns a design and raw variables into a model matrix and an
# offset: for the fitted rows, for new data, and with the treatment set to a
# level. It rebuilds the model frame from the raw variables every time, so
# every variable of the formula (I(a * x), log(a + 1), poly(a, 2),
# offset(...)) follows the treatment: counterfactual data, not
# counterfactual frames.

# The design of `formula` on `data`, with the rows it keeps, its response,
# its sampling weights, and the model matrix and offset of those rows. The
# model matrix of a plain right-hand side (bare numeric, factor, character
# and logical variables) is the data's own columns (plain_columns()), which
# the C core reads in place; any other is built by model.matrix().
#   treatment: NULL, or the name of the treatment variable (kept with the raw
#     variables so that design_x() can set it to a level)
#   na_action: "fail" errors naming the columns with missing values; "omit"
#     drops those rows and records them (as glm() does with na.omit)
new_design <- function(formula, data, treatment = NULL, weights = NULL, na_action = "fail",
                       env = environment(formula), arg = "formula", sides = 2L) {
  check_formula(formula, arg, sides)
  check_data_frame(data)
  na_action <- rlang::arg_match0(na_action, c("fail", "omit"), "na_action")
  environment(formula) <- env
  formula <- expand_dot(formula, data)
  missing_cols <- missing_variables(formula, data, env)
  if (length(missing_cols)) {
    n_missing <- length(missing_cols)
    cli::cli_abort("{cli::qty(n_missing)}Variable{?s} {.val {missing_cols}} in {.arg {arg}} {cli::qty(n_missing)}{?is/are} not in {.arg data}.")
  }
  weights <- resolve_weights(weights, data)
  if (!is.null(weights) && length(weights) != nrow(data)) {
    cli::cli_abort("{.arg weights} has length {length(weights)}, but {.arg data} has {nrow(data)} rows.")
  }
  vars <- stats::get_all_vars(formula, data)
  check_variable_types(vars)
  mf <- fitting_frame(formula, vars)
  rows <- complete_rows(mf, weights, na_action)
  if (length(rows) < nrow(vars)) {
    vars <- vars[rows, , drop = FALSE]
    if (!is.null(weights)) weights <- weights[rows]
    mf <- fitting_frame(formula, vars)
  }
  check_finite_frame(mf, rows)
  check_factor_levels(mf, arg)
  terms <- attr(mf, "terms")
  rhs <- stats::delete.response(terms)
  mm <- model_matrix(rhs, mf)
  if (ncol(mm$x) == 0L) empty_rhs_error(formula, arg)
  design <- structure(list(
    terms = rhs, xlevels = stats::.getXlevels(terms, mf), contrasts = mm$contrasts,
    treatment = treatment, vars = if (!is.null(treatment)) strip_rownames(vars),
    response = if (length(formula) == 3L) rlang::expr_deparse(formula[[2L]]),
    population_label = attr(data, "causallib_population")
  ), class = "causallib_design")
  list(design = design, response = frame_response(mf), weights = weights,
       rows = rows, omitted = if (length(rows) < nrow(data)) seq_len(nrow(data))[-rows],
       x = mm$x, offset = stats::model.offset(mf))
}

# `y ~ .` with the dot replaced by the columns of data, so that the terms,
# the raw variables and the treatment checks all see the same variables.
expand_dot <- function(formula, data) {
  if (!"." %in% all.vars(formula)) return(formula)
  expanded <- stats::formula(stats::terms(formula, data = data))
  environment(expanded) <- environment(formula)
  expanded
}

# The model frame of formula on the raw variables vars that a fit uses:
# missing values kept, factors without unused levels. model.frame()'s own
# drop.unused.levels looks for them with unique() on every factor, most of
# its time at millions of rows; counting the codes finds them in one pass.
fitting_frame <- function(formula, vars) {
  mf <- stats::model.frame(formula, vars, na.action = stats::na.pass)
  for (nm in names(mf)) {
    x <- mf[[nm]]
    if (!is.factor(x) || all(tabulate(x, nlevels(x)) > 0L)) next
    mf[[nm]] <- x[, drop = TRUE]
    if (!identical(attr(mf[[nm]], "contrasts"), attr(x, "contrasts"))) {
      warning(sprintf("contrasts dropped from factor %s due to missing levels", nm), call. = FALSE)
    }
  }
  mf
}

# The response of the model frame mf (NULL for a one-sided formula), as
# model.response() gives it but without the data's row names, which it
# copies the response to add.
frame_response <- function(mf) {
  if (attr(attr(mf, "terms"), "response") == 0L) return(NULL)
  v <- mf[[1L]]
  if (is.matrix(v) && ncol(v) == 1L) dim(v) <- NULL
  if (inherits(v, "AsIs")) v <- unclass(v)
  v
}

# Rows of the model frame mf without missing values in the formula's
# variables or the weights; with na_action "fail" any such row is an error
# naming the columns. Without any missing value, seq_len() (nothing
# allocated).
complete_rows <- function(mf, weights, na_action) {
  if (!any(vapply(mf, has_missing, logical(1))) && !anyNA(weights)) return(seq_len(nrow(mf)))
  bad <- !stats::complete.cases(mf)
  if (!is.null(weights)) bad <- bad | is.na(weights)
  if (any(bad) && na_action == "fail") {
    cols <- names(mf)[vapply(mf, anyNA, logical(1))]
    if (!is.null(weights) && anyNA(weights)) cols <- c(cols, "weights")
    cli::cli_abort(c(
      "{sum(bad)} row{?s} of {.arg data} ha{?s/ve} missing values in {.val {cols}}.",
      i = "Drop them first, or set {.code na_action = \"omit\"} to drop them here."
    ))
  }
  which(!bad)
}

# model.frame() cannot use list columns (nor do they make sense as
# covariates): name them.
check_variable_types <- function(vars) {
  lists <- names(vars)[vapply(vars, function(x) is.list(x) && !inherits(x, "Surv"), logical(1))]
  if (!length(lists)) return(invisible())
  cli::cli_abort(c(
    "{cli::qty(length(lists))}Variable{?s} {.val {lists}} of {.arg data} {?is a list column/are list columns}.",
    i = "Model variables must be numeric, logical, character or factor columns."
  ))
}

# Infinite values are not missing -- `na_action` does not drop them -- and
# no model can use them: name the variables of the model frame mf that have
# them, and the first such row of the data (mf holds its rows `rows`).
# Surv() responses have their own checks.
check_finite_frame <- function(mf, rows = seq_len(nrow(mf)), arg = "data") {
  num <- vapply(mf, function(x) is.double(x) && !inherits(x, "Surv"), logical(1))
  finite <- vapply(mf[num], function(x) .Call(C_ffi_all_finite, as.double(x)), logical(1))
  if (all(finite)) return(invisible())
  cols <- names(mf)[num][!finite]
  bad <- Reduce(`|`, lapply(mf[cols], function(x) {
    if (is.matrix(x)) rowSums(!is.finite(x)) > 0 else !is.finite(x)
  }))
  cli::cli_abort(c(
    "{sum(bad)} row{?s} of {.arg {arg}} {cli::qty(sum(bad))}ha{?s/ve} infinite values in {.val {cols}}, the first row {rows[which(bad)[1L]]}.",
    i = paste0("A model cannot use infinite values",
               if (arg == "data") " (they are not missing values, which {.arg na_action} can drop)",
               ": recode them, or keep only the rows where {.code is.finite({cols[1L]})}.")
  ))
}

# A right-hand side without an intercept or a covariate (`a ~ -1`,
# `~ 0`) leaves a model nothing to fit.
empty_rhs_error <- function(formula, arg) {
  text <- paste(deparse(formula), collapse = " ")
  lhs <- if (length(formula) == 3L) paste(deparse(formula[[2L]]), "") else ""
  cli::cli_abort(c(
    "{.arg {arg}} ({.code {text}}) has neither an intercept nor a covariate on its right-hand side.",
    i = "Write {.code {lhs}~ 1} for a model with an intercept alone, or add covariates."
  ))
}

# anyNA(x), without the n-long is.na() that anyNA() builds for a factor.
has_missing <- function(x) {
  if (is.factor(x)) return(sum(tabulate(x, nlevels(x))) < length(x))
  anyNA(x)
}

# The model matrix of the right-hand side `rhs` on the model frame mf, and
# its contrasts: the frame's own columns when the right-hand side is plain
# (plain_columns()), otherwise model.matrix()'s copy.
model_matrix <- function(rhs, mf) {
  cols <- plain_columns(rhs, mf)
  if (!is.null(cols)) return(cols)
  x <- stats::model.matrix(rhs, mf)
  list(x = bare_matrix(x), contrasts = attr(x, "contrasts"))
}

# ---- Designs read in place ----------------------------------------------------
#
# A plain right-hand side -- an intercept or not, and bare variables, each a
# numeric vector or an unordered factor, character or logical vector under
# the default treatment contrasts -- has the model matrix model.matrix()
# would build, column for column, as a causallib_columns object: the
# numeric columns of the data themselves (integers as doubles), NULL for the
# intercept, and factor codes with the level each indicator column stands
# for. The C core reads it in place (arg_design() in src/args.c), so the
# n x p matrix is never built. R code sees its dim(), dimnames() and `[`
# (and as.matrix()), which build ordinary matrices: learners other than
# lrn_glm(), balance tables, matching distances and predictions.
# options(causallib.columns = FALSE) always builds the model matrix.

# list(x = the columns, contrasts = model.matrix()'s "contrasts") of `rhs`
# on mf, or NULL when the right-hand side is not plain.
plain_columns <- function(rhs, mf) {
  if (!isTRUE(getOption("causallib.columns", TRUE))) return(NULL)
  if (!is.null(attr(rhs, "offset")) || any(attr(rhs, "order") != 1L)) return(NULL)
  vars <- as.list(attr(rhs, "variables"))[-1L]
  labels <- attr(rhs, "term.labels")
  if (!all(vapply(vars, is.name, logical(1))) ||
      !identical(vapply(vars, as.character, character(1)), labels)) {
    return(NULL)
  }
  intercept <- attr(rhs, "intercept") == 1L
  if (!intercept && !length(labels)) return(NULL)
  cols <- if (intercept) list(NULL) else list()
  level <- if (intercept) 0L else integer()
  names <- if (intercept) "(Intercept)" else character()
  contrasts <- list()
  for (v in labels) {
    x <- mf[[v]]
    if (!is.null(dim(x))) return(NULL)
    if (is.numeric(x) && !is.object(x)) {
      cols <- c(cols, list(as.double(x)))
      level <- c(level, 0L)
      names <- c(names, v)
      next
    }
    f <- plain_factor(x)
    if (is.null(f)) return(NULL)
    lev <- levels(f)
    # Without an intercept the first factor gets an indicator per level.
    k <- if (length(contrasts) || intercept) seq_along(lev)[-1L] else seq_along(lev)
    cols <- c(cols, rep(list(f), length(k)))
    level <- c(level, k)
    names <- c(names, paste0(v, lev[k]))
    contrasts[[v]] <- "contr.treatment"
  }
  x <- structure(list(columns = cols, level = level, n = nrow(mf), colnames = names),
                 class = "causallib_columns")
  list(x = x, contrasts = if (length(contrasts)) contrasts)
}

# The factor model.matrix() makes of a plain variable x (a factor, or a
# character or logical vector) under default treatment contrasts, or NULL
# when x is something else: ordered, with its own contrasts, with fewer than
# two levels or a missing one (model.matrix() errors or codes these its own
# way).
plain_factor <- function(x) {
  if (!identical(unname(getOption("contrasts")[1L]), "contr.treatment")) return(NULL)
  if (is.logical(x) && !is.object(x)) {
    return(structure(as.integer(x) + 1L, levels = c("FALSE", "TRUE"), class = "factor"))
  }
  if (is.character(x) && !is.object(x)) x <- factor(x)
  if (!is.factor(x) || is.ordered(x) || !is.null(attr(x, "contrasts"))) return(NULL)
  lev <- levels(x)
  if (length(lev) < 2L || anyNA(lev)) return(NULL)
  x
}

# Rows `rows` (NULL: all) and columns `cols` of a design's columns as a
# matrix, equal to those of model.matrix(): the one place they are copied,
# in one pass in C (refits and evaluation folds take rows of it).
columns_matrix <- function(x, rows = NULL, cols = seq_along(x$columns)) {
  m <- .Call(C_ffi_design_matrix, x, if (!is.null(rows)) as.integer(rows), as.integer(cols))
  dimnames(m) <- list(NULL, x$colnames[cols])
  m
}

#' @export
dim.causallib_columns <- function(x) c(x$n, length(x$columns))

#' @export
dimnames.causallib_columns <- function(x) list(NULL, x$colnames)

#' @export
as.matrix.causallib_columns <- function(x, ...) columns_matrix(x)

#' @export
`[.causallib_columns` <- function(x, i, j, drop = TRUE) {
  if (nargs() - (!missing(drop)) < 3L) stop("a design is indexed as a matrix, x[i, j]", call. = FALSE)
  rows <- if (!missing(i)) seq_len(x$n)[i]
  cols <- seq_along(x$columns)
  if (!missing(j)) cols <- if (is.character(j)) match(j, x$colnames) else cols[j]
  if (anyNA(rows) || anyNA(cols)) stop("subscript out of bounds", call. = FALSE)
  m <- columns_matrix(x, rows, cols)
  if (drop) m[, , drop = TRUE] else m
}

# The design of a matrix interface (standardization_fit(), xlearner_fit(),
# ...): `.y ~ .treatment + <the columns of x>` on a data frame of them, so
# that matrix fits run the same engines as formula fits, with the treatment
# as a bare main effect.
matrix_design <- function(x, a, y, weights = NULL) {
  x <- check_matrix(x)
  a <- as_treatment(a, "a")
  if (length(a) != nrow(x)) cli::cli_abort("{.arg a} has length {length(a)}, but {.arg x} has {nrow(x)} rows.")
  y <- check_outcome(y, nrow(x), "y")
  cols <- make.names(c(".y", ".treatment", colnames(x)), unique = TRUE)
  vars <- stats::setNames(data.frame(y, a, x), cols)
  f <- stats::reformulate(cols[-1L], response = cols[1L], env = baseenv())
  new_design(f, vars, ".treatment", weights = weights, env = baseenv())
}

# The model matrix and offset of a design for raw variables `data` (the
# fitted rows by default), with the treatment set to `level` for everyone
# when a level is given, and which term each column belongs to (`assign`,
# as model.matrix() numbers them: 0 for the intercept).
design_x <- function(design, data = design$vars, level = NULL) {
  if (!is.null(level)) data[[design$treatment]] <- treatment_at(data[[design$treatment]], level, nrow(data))
  mf <- stats::model.frame(design$terms, data, xlev = design$xlevels, na.action = stats::na.pass)
  x <- stats::model.matrix(design$terms, mf, contrasts.arg = design$contrasts)
  list(x = bare_matrix(x), offset = stats::model.offset(mf), assign = attr(x, "assign"))
}

# The model matrices (and offsets) of a design under every treatment level.
design_levels <- function(design, levels, data = design$vars) {
  lapply(levels, function(lev) design_x(design, data, lev))
}

# The design for new data: its raw variables checked against the formula's,
# with the treatment column added when the predictions set it anyway.
design_newdata <- function(design, newdata, need_treatment = FALSE) {
  check_data_frame(newdata, "newdata")
  tt <- design$terms
  if (!is.null(design$treatment) && !need_treatment && !design$treatment %in% names(newdata)) {
    newdata[[design$treatment]] <- design$vars[[design$treatment]][rep(1L, nrow(newdata))]
  }
  missing_cols <- missing_variables(tt, newdata, environment(tt) %||% emptyenv())
  if (length(missing_cols)) {
    cli::cli_abort("{.arg newdata} lacks the variable{?s} {.val {missing_cols}} of the fitted model.")
  }
  mf <- stats::model.frame(tt, newdata, na.action = stats::na.pass, xlev = design$xlevels)
  if (anyNA(mf)) {
    cols <- names(mf)[vapply(mf, anyNA, logical(1))]
    cli::cli_abort("{.arg newdata} has missing values in {.val {cols}}.")
  }
  check_finite_frame(mf, arg = "newdata")
  newdata
}

# A treatment column with every unit at `level`, of the type of `col`
# (factor levels kept).
treatment_at <- function(col, level, n) {
  if (is.factor(col)) return(factor(rep(as.character(level), n), levels = levels(col)))
  if (is.logical(col)) return(rep(as.logical(level), n))
  if (is.numeric(col)) return(rep(as.numeric(level), n))
  rep(as.character(level), n)
}

# Which terms of a design involve the treatment: those with a variable
# (I(a * x), log(a + 1), poly(a, 2), ...) that uses it.
treatment_terms <- function(terms, treatment) {
  vars <- as.list(attr(terms, "variables"))[-1L]
  uses <- vapply(vars, function(v) treatment %in% all.vars(v), logical(1))
  fac <- attr(terms, "factors")
  if (!length(fac)) return(logical(0))
  colSums(fac[uses, , drop = FALSE] > 0) > 0
}

# The design of the same formula without the terms (and offsets) that
# involve the treatment, on the same rows: the covariate design of
# stratified outcome models and CATE learners.
covariate_design <- function(design) {
  tt <- design$terms
  keep <- attr(tt, "term.labels")[!treatment_terms(tt, design$treatment)]
  vars <- as.list(attr(tt, "variables"))[-1L]
  offsets <- vapply(vars[attr(tt, "offset")], function(v) {
    if (design$treatment %in% all.vars(v)) NA_character_ else paste(deparse(v), collapse = " ")
  }, character(1))
  rhs <- c(keep, offsets[!is.na(offsets)])
  intercept <- attr(tt, "intercept") == 1L
  text <- paste("~", paste(c(if (intercept) "1" else "0", rhs), collapse = " + "))
  f <- stats::as.formula(text, env = environment(tt))
  mf <- stats::model.frame(f, design$vars, drop.unused.levels = TRUE)
  terms <- attr(mf, "terms")
  x <- stats::model.matrix(terms, mf)
  structure(list(
    terms = terms, xlevels = stats::.getXlevels(terms, mf), contrasts = attr(x, "contrasts"),
    treatment = design$treatment, vars = design$vars
  ), class = "causallib_design")
}

# The same design restricted to some of its rows (bases and levels kept).
design_rows <- function(design, rows) {
  if (!is.null(design$vars)) design$vars <- strip_rownames(design$vars[rows, , drop = FALSE])
  design
}

# Variables of a formula that are neither columns of data nor objects
# visible from env.
missing_variables <- function(formula, data, env) {
  vars <- all.vars(formula)
  vars[!vars %in% names(data) & !vapply(vars, exists, logical(1), envir = env)]
}

bare_matrix <- function(x) {
  attr(x, "assign") <- NULL
  attr(x, "contrasts") <- NULL
  rownames(x) <- NULL
  x
}

strip_rownames <- function(df) {
  rownames(df) <- NULL
  df
}

# Column names of the design x (x1, x2, ... when it has none), with an
# implicit intercept first.
design_names <- function(x, intercept) {
  c(if (isTRUE(intercept)) "(Intercept)", colnames(x) %||% paste0("x", seq_len(ncol(x))))
}

# The treatment variable named by `treatment` (a string or a bare name),
# which must be a variable of the formula's right-hand side.
treatment_name <- function(quo, formula, arg = "treatment") {
  if (rlang::quo_is_missing(quo) || rlang::quo_is_null(quo)) {
    cli::cli_abort("{.arg {arg}} is required: name the treatment variable of {.arg formula}.")
  }
  expr <- rlang::quo_get_expr(quo)
  if (rlang::is_call(expr)) {
    text <- rlang::expr_deparse(expr)
    inner <- all.vars(expr)
    cli::cli_abort(c(
      "{.arg {arg}} must name a variable of {.arg data}, not the expression {.code {text}}.",
      i = "Write {.code {arg} = {inner[1L] %||% 'a'}}; the formula may still use {.code {text}}."
    ))
  }
  name <- if (is.character(expr)) expr else if (rlang::is_symbol(expr)) rlang::as_string(expr) else NA
  if (length(name) != 1L || is.na(name)) {
    cli::cli_abort("{.arg {arg}} must be a single variable name, such as {.code {arg} = a}.")
  }
  rhs <- all.vars(formula[[length(formula)]])
  if (!"." %in% rhs && !name %in% rhs) {
    cli::cli_abort("{.arg {arg}} {.val {name}} does not appear on the right-hand side of {.arg formula}.")
  }
  name
}
