# What every formula front end shares: the bookkeeping that lets a fit
# find its data again, predict for new data and name the rows it used.

# A fit with the formula front end's fields: its call, the environment the
# call's data expression is evaluated in, its design, the rows of the data
# it used and those it dropped for missing values.
with_front_end <- function(fit, d, call, env, n_data) {
  fit$call <- call
  fit$env <- env
  fit$design <- d$design
  fit$rows <- d$rows
  fit$na.action <- d$omitted
  fit$n_data <- n_data
  fit
}

# The data a formula-fitted model was fitted on, found again through its
# call (as insight::get_data() does), or NULL for matrix fits.
fit_data <- function(fit) {
  expr <- fit$call$data
  if (is.null(expr) || is.null(fit$env)) return(NULL)
  data <- tryCatch(eval(expr, fit$env), error = function(e) NULL)
  text <- rlang::expr_deparse(expr)
  if (!is.data.frame(data)) {
    cli::cli_abort(c(
      "The data the model was fitted on ({.code {text}}) can no longer be found.",
      i = "Give the outcome as a vector of the fitted rows."
    ))
  }
  if (nrow(data) != fit$n_data) {
    cli::cli_abort(c(
      "The data the model was fitted on ({.code {text}}) has changed: it has {nrow(data)} rows, the model was fitted on {fit$n_data}.",
      i = "Refit the model, or give the outcome as a vector of the fitted rows."
    ))
  }
  data
}

# The value of an argument that names a column of `data` -- a string or a
# bare name, as `outcome` and `weights` do -- or gives a vector (any other
# expression, evaluated with the columns of `data` in scope). A bare name
# that is neither a column nor an object, or a string that is not a
# column, is an error naming the argument. `data` may be NULL (nothing to
# look in); `where` says what it is in messages.
column_argument <- function(quo, data, arg, where = "{.arg data}") {
  expr <- rlang::quo_get_expr(quo)
  if (rlang::is_symbol(expr)) {
    name <- rlang::as_string(expr)
    if (!is.null(data) && name %in% names(data)) return(data[[name]])
    if (!exists(name, envir = rlang::quo_get_env(quo))) {
      cli::cli_abort(c(
        paste0("{.arg {arg}} {.code {name}} is neither a column of ", where, " nor an object."),
        i = "Name a column (as a string or a bare name) or give a numeric vector."
      ), call = rlang::caller_env())
    }
  }
  val <- if (is.null(data)) rlang::eval_tidy(quo) else rlang::eval_tidy(quo, data = data)
  if (is.character(val) && length(val) == 1L) {
    if (is.null(data) || !val %in% names(data)) {
      cli::cli_abort(paste0("{.arg {arg}} names column {.val {val}}, which is not in ", where, "."),
                     call = rlang::caller_env())
    }
    return(data[[val]])
  }
  val
}

# Sampling weights given to a formula front end: NULL, a numeric vector, or
# a column of `data` (column_argument()); front ends pass the quosure of
# their `weights` argument, internal callers a value.
resolve_weights <- function(weights, data) {
  if (!rlang::is_quosure(weights)) weights <- rlang::new_quosure(weights, emptyenv())
  if (rlang::quo_is_null(weights)) return(NULL)
  column_argument(weights, data, "weights")
}

# The outcome for a weight model: a column of the fitted data named by a
# string or a bare name, or a vector over the rows of the data or the fitted
# units.
resolve_outcome <- function(fit, quo) {
  if (rlang::quo_is_null(quo)) {
    cli::cli_abort("{.arg outcome} is required: name the outcome column of the data or give a numeric vector.")
  }
  expr <- rlang::quo_get_expr(quo)
  data <- if (rlang::is_symbol(expr) || is.character(expr)) fit_data(fit)
  val <- column_argument(quo, data, "outcome", "the data the model was fitted on")
  n_data <- fit$n_data %||% fit$n
  if (length(val) == n_data && n_data != fit$n) val <- val[fit$rows]
  check_outcome(val, fit$n)
}
