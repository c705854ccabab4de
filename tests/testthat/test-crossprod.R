test_that("weighted cross-products match crossprod() at every tile remainder", {
  set.seed(2)
  for (p in 1:9) {
    for (n in c(1, 7, 64, 65, 300)) {
      x <- matrix(rnorm(n * p), n, p)
      w <- runif(n)
      expect_equal(causallib:::wcrossprod(x, w), crossprod(x * sqrt(w)), tolerance = 1e-12)
      expect_equal(causallib:::wcrossprod(x), crossprod(x), tolerance = 1e-12)
      m <- matrix(rnorm(n * 3), n, 3)
      expect_equal(causallib:::xt_mat(x, m), crossprod(x, m), tolerance = 1e-12)
    }
  }
})

test_that("cross-products are bit-identical whatever the thread count", {
  set.seed(3)
  x <- matrix(rnorm(50000 * 6), ncol = 6)
  w <- runif(50000)
  one <- withr::with_options(list(causallib.threads = 1), causallib:::wcrossprod(x, w))
  two <- withr::with_options(list(causallib.threads = 2), causallib:::wcrossprod(x, w))
  expect_identical(one, two)
  expect_equal(one, crossprod(x * sqrt(w)), tolerance = 1e-12)
  m1 <- withr::with_options(list(causallib.threads = 1), causallib:::xt_mat(x, cbind(w, 1)))
  m2 <- withr::with_options(list(causallib.threads = 2), causallib:::xt_mat(x, cbind(w, 1)))
  expect_identical(m1, m2)
})

test_that("the C entry points reject malformed input without crashing", {
  expect_error(.Call(causallib:::C_ffi_wcrossprod, matrix(1:4, 2), FALSE, NULL, NULL, 1L), "double")
  expect_error(.Call(causallib:::C_ffi_wcrossprod, matrix(1, 2, 2), FALSE, NULL, c(1, 2, 3), 1L), "length")
  expect_error(.Call(causallib:::C_ffi_xt_mat, matrix(1, 2, 2), FALSE, NULL, matrix(1, 3, 1), 1L), "rows")
  expect_error(.Call(causallib:::C_ffi_wcrossprod, matrix(1, 2, 2), FALSE, NULL, NULL, NA_integer_), "nthreads")
  expect_error(.Call(causallib:::C_ffi_wcrossprod, matrix(1, 2, 2), NA, NULL, NULL, 1L), "intercept")
  expect_error(.Call(causallib:::C_ffi_wcrossprod, matrix(c(1, NA), 2, 1), FALSE, NULL, NULL, 1L), "missing")
})

test_that("causallib_threads() honours the option and validates it", {
  withr::local_options(causallib.threads = 1)
  expect_identical(causallib_threads(), 1L)
  withr::local_options(causallib.threads = -2)
  expect_error(causallib_threads(), "causallib.threads")
})
