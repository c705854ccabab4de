test_that("propensity_weights() agrees with WeightIt::get_w_from_ps() for two arms", {
  skip_if_not_installed("WeightIt")
  ps <- stats::glm(qsmk ~ sex + age + wt71 + smokeintensity, data = nhefs, family = binomial)$fitted.values
  for (estimand in c("ATE", "ATT", "ATC", "ATO")) {
    expect_equal(propensity_weights(ps, nhefs$qsmk, estimand = estimand),
                 WeightIt::get_w_from_ps(ps, nhefs$qsmk, estimand = estimand),
                 tolerance = 1e-12, ignore_attr = TRUE, label = estimand)
  }
  expect_equal(propensity_weights(ps, nhefs$qsmk, stabilize = TRUE),
               WeightIt::get_w_from_ps(ps, nhefs$qsmk, estimand = "ATE", stabilize = TRUE),
               tolerance = 1e-12, ignore_attr = TRUE)
})

test_that("propensity_weights() agrees with WeightIt::get_w_from_ps() for three arms", {
  skip_if_not_installed("WeightIt")
  d <- sim_confounded(n = 500)
  withr::local_seed(5)
  d$t3 <- factor(sample(c("a", "b", "c"), 500, TRUE))
  P <- predict(ipw(t3 ~ x1 + x2, data = d), type = "propensity")
  expect_equal(colnames(P), levels(d$t3))
  for (estimand in c("ATE", "ATO")) {
    expect_equal(propensity_weights(P, d$t3, estimand = estimand),
                 WeightIt::get_w_from_ps(P, d$t3, estimand = estimand),
                 tolerance = 1e-12, ignore_attr = TRUE, label = estimand)
  }
  expect_equal(propensity_weights(P, d$t3, estimand = "ATT", treated = "b"),
               WeightIt::get_w_from_ps(P, d$t3, estimand = "ATT", focal = "b"),
               tolerance = 1e-12, ignore_attr = TRUE)
  # Columns are matched to the levels by name.
  expect_equal(propensity_weights(P[, 3:1], d$t3), propensity_weights(P, d$t3))
})

test_that("propensity_weights() on the propensities of ipw() gives its weights", {
  d <- sim_confounded(n = 400)
  for (estimand in c("ATE", "ATT", "ATC", "ATO")) {
    fit <- ipw(a ~ x1 + x2, data = d, estimand = estimand, stabilize = estimand == "ATE", weights = d$w)
    expect_equal(propensity_weights(predict(fit, type = "propensity")[, 2], d$a, estimand = estimand,
                                    stabilize = estimand == "ATE", weights = d$w),
                 weights(fit), tolerance = 1e-12, label = estimand)
  }
})

test_that("propensity_weights() names what is wrong with ps", {
  a <- c(0, 1, 0, 1)
  expect_snapshot(error = TRUE, {
    propensity_weights("0.5", a)
    propensity_weights(c(0.2, 0.5, 0.7), a)
    propensity_weights(c(0.2, 0.5, 1, 0.4), a)
    propensity_weights(c(0.2, NA, 0.3, 0.4), a)
    propensity_weights(matrix(0.5, 4, 3), a)
    propensity_weights(cbind(x = rep(0.5, 4), y = 0.5), a)
    propensity_weights(cbind(rep(0.5, 4), 0.6), a)
    propensity_weights(c(0.2, 0.5, 0.6, 0.4), c(1, 2, 3, 1))
    propensity_weights(c(0.2, 0.5, 0.6, 0.4), a, estimand = "ATX")
  })
})
