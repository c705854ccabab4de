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
