# Every .Call routine validates its arguments: reached with the wrong types,
# lengths or missing values, it stops with an error and never crashes R.

routines <- getDLLRegisteredRoutines("causallib")$.Call
bad_inputs <- list(
  character = "x", null = NULL, missing = NA_real_, integer = 1L, empty = numeric(),
  list = list(), na_matrix = matrix(NA_real_, 2, 2)
)

# The routine's value, or its error message as a string of class "error".
call_with <- function(name, value) {
  args <- rep(list(value), routines[[name]]$numParameters)
  tryCatch(do.call(.Call, c(list(routines[[name]]$address), args)),
           error = function(e) structure(conditionMessage(e), class = "error"))
}

# Two routines take one vector and answer for any vector of their type:
# ffi_all_finite() TRUE or FALSE, ffi_treatment_codes() the codes, or NULL
# for what it does not code (R then codes it).
one_vector <- c("ffi_all_finite", "ffi_treatment_codes")

test_that("every .Call routine errors cleanly on arguments of the wrong kind", {
  expect_gt(length(routines), 20)
  for (name in setdiff(names(routines), one_vector)) {
    for (kind in names(bad_inputs)) {
      expect_s3_class(call_with(name, bad_inputs[[kind]]), "error")
    }
  }
})

test_that("the one-vector routines error on other types and answer for theirs", {
  for (kind in names(bad_inputs)) {
    finite <- call_with("ffi_all_finite", bad_inputs[[kind]])
    if (!inherits(finite, "error")) expect_true(is.logical(finite) && length(finite) == 1L)
    codes <- call_with("ffi_treatment_codes", bad_inputs[[kind]])
    if (!inherits(codes, "error")) expect_true(is.null(codes) || is.list(codes))
  }
  expect_s3_class(call_with("ffi_all_finite", "x"), "error")
  expect_false(call_with("ffi_all_finite", c(1, NA)))
  expect_s3_class(call_with("ffi_treatment_codes", list()), "error")
  expect_null(call_with("ffi_treatment_codes", NA_real_))
})

test_that("ffi_pt_fit's offset is NULL or one finite double per person", {
  n <- 5L
  args <- list(matrix(c(-1, 0.5, 0, 1, 2)), TRUE, matrix(c(0.5, 1)), rep(1L, n), 1L, FALSE,
               rep(2L, n), c(1L, 0L, 1L, 0L, 0L), rep(1, n), NULL, 25L, 1e-8, NULL, 1L)
  fit <- function(offset) {
    tryCatch(do.call(.Call, c(list(routines$ffi_pt_fit$address), args, list(offset))),
             error = function(e) structure(conditionMessage(e), class = "error"))
  }
  expect_identical(routines$ffi_pt_fit$numParameters, length(args) + 1L)
  expect_type(fit(NULL)$coefficients, "double")
  expect_type(fit(rep(0.1, n))$coefficients, "double")
  for (bad in list("x", 1L, 0.1, rep(0.1, n + 1L), c(rep(0.1, n - 1L), NA),
                   c(rep(0.1, n - 1L), -Inf), list(), matrix(NA_real_, 2, 2))) {
    err <- fit(bad)
    expect_s3_class(err, "error")
    expect_match(unclass(err), "`offset`")
  }
})
