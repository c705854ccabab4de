# The C boundary cannot be crashed: every registered routine, given the
# cases of fuzz-cases.R (a valid call, then each argument replaced by
# values it must refuse, edge sizes, size products beyond 32 bits), stops
# with a clean R error or returns, as the case expects -- never a crash,
# never a value where it must refuse.  tools/check-sanitizers runs the same
# cases under ASan and UBSan.

source(test_path("fuzz-cases.R"), local = TRUE)

cases <- fuzz_cases()
routines <- getDLLRegisteredRoutines("causallib")$.Call

test_that("the fuzz cases call every registered routine with its number of arguments", {
  expect_setequal(unique(vapply(cases, `[[`, "", "routine")), names(routines))
  arity <- vapply(cases, function(case) length(case$args) == routines[[case$routine]]$numParameters,
                  logical(1))
  expect_true(all(arity))
  expect_gt(length(cases), 1000)
})

test_that("every fuzz case errors cleanly or returns, as it expects", {
  wrong <- character()
  for (case in cases) {
    res <- fuzz_run_case(case)
    if (!fuzz_outcome_ok(case, res)) {
      got <- if (isTRUE(res$ok)) "a value" else res$message
      wrong <- c(wrong, sprintf("%s | %s: expected %s, got %s", case$routine, case$label,
                                case$expect, got))
    }
  }
  expect_identical(wrong, character())
})
