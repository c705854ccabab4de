test_that("check_matrix(intercept = TRUE) equals cbind(1, x)", {
  x <- matrix(rnorm(30), 10, 3, dimnames = list(NULL, c("a", "b", "c")))
  expect_identical(causallib:::check_matrix(x, intercept = TRUE), cbind(`(Intercept)` = 1, x))
  expect_identical(colnames(causallib:::check_matrix(unname(x), intercept = TRUE)),
                   c("(Intercept)", "x1", "x2", "x3"))
  empty <- matrix(numeric(0), 0, 2, dimnames = list(NULL, c("a", "b")))
  expect_identical(dim(causallib:::check_matrix(empty, intercept = TRUE)), c(0L, 3L))
  expect_null(.Call(causallib:::C_ffi_add_intercept, replace(x, 4, NA)))
})

test_that("ipw_fit() names the columns with missing or infinite values", {
  x <- cbind(u = rnorm(20), v = rnorm(20))
  a <- rep(0:1, 10)
  expect_error(ipw_fit(replace(x, 3, NA), a), "column \"u\"")
  expect_error(ipw_fit(replace(x, 25, Inf), a), "column \"v\"")
  expect_error(ipw_fit(replace(x, 25, NaN), a, intercept = FALSE), "missing or infinite")
  expect_error(ipw_fit(x, a[-1]), "length")
})

test_that("the fitted GLM's information matrix is X'WX at the estimates", {
  d <- sim_confounded(300)
  x <- model.matrix(~ x1 + x2, d)
  lf <- learner_fit(lrn_glm(), x, factor(d$a), d$w)
  p <- lf$fitted[, 2]
  expect_equal(lf$information, crossprod(x * sqrt(d$w * p * (1 - p))),
               tolerance = 1e-10, ignore_attr = TRUE)
  lp <- learner_fit(lrn_glm("poisson"), x, rpois(300, 2))
  expect_equal(lp$information, crossprod(x * sqrt(lp$fitted)), tolerance = 1e-10,
               ignore_attr = TRUE)
})
