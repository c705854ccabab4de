test_that("an implicit intercept gives what an explicit column of ones gives", {
  set.seed(4)
  n <- 700
  x <- cbind(u = rnorm(n), v = rbinom(n, 1, 0.3))
  x1 <- cbind(`(Intercept)` = 1, x)
  w <- runif(n)
  m <- matrix(rnorm(2 * n), n)
  expect_equal(causallib:::wcrossprod(x, w, TRUE), causallib:::wcrossprod(x1, w),
               tolerance = 1e-12)
  expect_equal(causallib:::xt_mat(x, m, TRUE), causallib:::xt_mat(x1, m), tolerance = 1e-12)
  a2 <- factor(rbinom(n, 1, plogis(x[, 1])))
  a3 <- factor(sample(c("p", "q", "r"), n, replace = TRUE))
  y <- rpois(n, exp(0.3 * x[, 1]))
  for (case in list(list(y = a2, l = lrn_glm()), list(y = a3, l = lrn_glm()),
                    list(y = y, l = lrn_glm("poisson", penalty = 0.5)))) {
    implicit <- learner_fit(case$l, x, case$y, w, intercept = TRUE)
    explicit <- learner_fit(case$l, x1, case$y, w)
    expect_equal(implicit$coefficients, explicit$coefficients, tolerance = 1e-10)
    expect_equal(implicit$fitted, explicit$fitted, tolerance = 1e-10)
    expect_equal(learner_predict(implicit, x[1:5, ]), learner_predict(explicit, x1[1:5, ]),
                 tolerance = 1e-10)
  }
  set.seed(9)
  boot_implicit <- estimate_outcomes(ipw_fit(x, a3), outcome = y, se = "bootstrap", R = 3)
  set.seed(9)
  boot_explicit <- estimate_outcomes(ipw_fit(x1, a3, intercept = FALSE), outcome = y,
                                     se = "bootstrap", R = 3)
  expect_equal(boot_implicit$replicates, boot_explicit$replicates, tolerance = 1e-10)
  expect_equal(vcov(estimate_outcomes(ipw_fit(x, a3), outcome = y)),
               vcov(estimate_outcomes(ipw_fit(x1, a3, intercept = FALSE), outcome = y)),
               tolerance = 1e-10)
})

test_that("ipw_fit() names the columns with missing or infinite values", {
  x <- cbind(u = rnorm(20), v = rnorm(20))
  a <- rep(0:1, 10)
  expect_error(ipw_fit(replace(x, 3, NA), a), "column \"u\"")
  expect_error(ipw_fit(replace(x, 25, Inf), a), "column \"v\"")
  expect_error(ipw_fit(replace(x, 25, NaN), a, intercept = FALSE), "missing or infinite")
  fit <- ipw_fit(x, a)
  expect_error(predict(fit, newdata = x[, 1, drop = FALSE]), "2 columns")
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
