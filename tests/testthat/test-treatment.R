test_that("arm_sums() equals tapply() sums, with empty levels as 0", {
  a <- factor(c("b", "a", "b", "c", "a"), levels = c("a", "b", "c", "d"))
  v <- c(1.5, 2, -3, 4, 10)
  expect_equal(causallib:::arm_sums(v, a), c(12, -1.5, 4, 0))
  ref <- tapply(v, a, sum)
  ref[is.na(ref)] <- 0
  expect_equal(causallib:::arm_sums(v, a), unname(as.vector(ref)))
  expect_equal(causallib:::arm_sums(2, a), c(4, 4, 2, 0))
  expect_error(.Call(causallib:::C_ffi_arm_sums, c(1, 2), 1:2, 1L), "codes")
  expect_error(.Call(causallib:::C_ffi_arm_sums, c(1, 2, 3), 1:2, 2L), "length")
})

test_that("arm_spread() puts each value in its arm's column", {
  a <- factor(c("b", "a", "b"), levels = c("a", "b", "c"))
  expect_identical(causallib:::arm_spread(c(1, 2, 3), a),
                   matrix(c(0, 2, 0, 1, 0, 3, 0, 0, 0), 3))
  expect_identical(causallib:::arm_spread(1, a), outer(as.integer(a), 1:3, `==`) + 0)
  expect_error(.Call(causallib:::C_ffi_arm_spread, c(1, 2), c(1L, 5L), 3L), "codes")
})

test_that("the C coding of treatments equals factor() of the values", {
  set.seed(5)
  cases <- list(
    c(1, 0, 1, 1), c(3, -2, 0, 3, 10, -2), c(2L, 7L, 2L, -1L), c(TRUE, FALSE, FALSE),
    c(Inf, 1, -Inf, 1), sample(c(0.5e9, -3, 12), 50, replace = TRUE), c(x = 2, y = 1),
    sample(0:63, 500, replace = TRUE), c(-0, 0, 1), sample(1:4, 20000, replace = TRUE)
  )
  for (a in cases) {
    expect_identical(causallib:::as_treatment(a), factor(unname(a)), label = deparse(head(a)))
    coded <- .Call(causallib:::C_ffi_treatment_codes, a)
    expect_identical(coded$values, sort(unique(unname(a))))
    expect_identical(coded$codes, match(a, sort(unique(a))))
  }
  # the R path: missing or non-integer values, or many levels
  expect_null(.Call(causallib:::C_ffi_treatment_codes, c(1, NA, 0)))
  expect_null(.Call(causallib:::C_ffi_treatment_codes, c(1L, NA)))
  expect_null(.Call(causallib:::C_ffi_treatment_codes, c(TRUE, NA)))
  expect_null(.Call(causallib:::C_ffi_treatment_codes, c(1, 0.5)))
  expect_null(.Call(causallib:::C_ffi_treatment_codes, c(1, NaN)))
  expect_null(.Call(causallib:::C_ffi_treatment_codes, as.double(1:65)))
  expect_identical(causallib:::as_treatment(65:1), factor(65:1))
  expect_error(causallib:::as_treatment(c(1, NA, 0), "a"), "missing")
  expect_error(causallib:::as_treatment(c(1, 0.5), "a"), "discrete")
  expect_identical(.Call(causallib:::C_ffi_treatment_codes, numeric())$codes, integer())
  expect_error(.Call(causallib:::C_ffi_treatment_codes, "a"), "double, integer or logical")
})

test_that("treatments of every type become factors with sorted levels", {
  expect_identical(causallib:::as_treatment(c(1, 0, 1)), factor(c(1, 0, 1)))
  expect_identical(causallib:::as_treatment(c(b = "x", a = "w")), factor(c("x", "w")))
  expect_identical(causallib:::as_treatment(c(TRUE, FALSE)), factor(c(TRUE, FALSE)))
  expect_identical(levels(causallib:::as_treatment(factor(c("p", "q"), levels = c("q", "r", "p")))),
                   c("q", "p"))
})
