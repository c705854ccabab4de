# The simulator against its own definition, checked from outside: the
# models it states are recovered by glm()/survfit() on large samples, and
# its truth is what correct estimators converge to.

test_that("the continuous outcome and treatment models are those documented", {
  set.seed(11)
  d <- simulate_causal(4e4, overlap_strength = 1, treated_share = 0.3)
  tr <- attr(d, "truth")
  expect_equal(mean(d$a), 0.3, tolerance = 0.02)
  ps <- stats::glm(a ~ c1 + c2 + c3 + i1, binomial, d)
  expect_equal(unname(coef(ps)[-1]), rep(0.5, 4), tolerance = 0.08)
  expect_equal(tr$propensity[, 2], unname(stats::plogis(stats::qlogis(tr$propensity[, 2]))))
  om <- stats::lm(y ~ a * (m1 + c1) + c2 + c3 + p1 + p2, d)
  b <- coef(om)
  expect_equal(unname(b[c("c1", "c2", "c3", "m1", "p1", "p2")]), rep(0.5, 6), tolerance = 0.06)
  expect_equal(unname(b[c("a", "a:m1", "a:c1")]), c(1, 0.5, 0.3), tolerance = 0.08)
  # The truth is the average of mu1 - mu0 over these units; the correct
  # outcome model standardized over them recovers it.
  expect_equal(tr$ate[[1]], mean(tr$mu[, 2] - tr$mu[, 1]))
  expect_equal(tr$att, mean((tr$mu[, 2] - tr$mu[, 1])[d$a == 1]))
  g <- mean(stats::predict(om, transform(d, a = 1)) - stats::predict(om, transform(d, a = 0)))
  expect_lt(abs(g - tr$ate[[1]]), 0.03)
  gt <- mean((stats::predict(om, transform(d, a = 1)) - stats::predict(om, transform(d, a = 0)))[d$a == 1])
  expect_lt(abs(gt - tr$att), 0.04)
  expect_gt(abs(tr$att - tr$ate[[1]]), 0.05)
})

test_that("binary and count outcomes: the true models are recovered and standardization finds the truth", {
  set.seed(12)
  for (kind in c("binary", "count")) {
    d <- simulate_causal(5e4, outcome = kind, effect = 0.4)
    tr <- attr(d, "truth")
    fam <- if (kind == "binary") stats::binomial() else stats::poisson()
    om <- stats::glm(y ~ c1 + c2 + c3 + m1 + p1 + p2 + I(0.4 * a * (1 + 0.5 * m1 + 0.3 * c1)), fam, d)
    expect_equal(unname(coef(om)[2:7]), rep(0.5, 6), tolerance = 0.1, info = kind)
    expect_equal(unname(coef(om)[8]), 1, tolerance = 0.1, info = kind)
    std <- standardization(y ~ a * (m1 + c1) + c2 + c3 + p1 + p2, d, treatment = a,
                           learner = lrn_glm(if (kind == "binary") "binomial" else "poisson"))
    est <- estimate_effect(std)
    expect_lt(abs(coef(est)[["1 vs 0"]] - tr$ate[[1]]), 4 * sqrt(vcov(est)[1, 1]) + 0.01, label = kind)
  }
})

test_that("survival outcomes follow the Weibull model and the true curves are the Kaplan-Meier limits", {
  set.seed(13)
  d <- simulate_causal(6e4, outcome = "survival", effect = -0.5, overlap_strength = 0)
  tr <- attr(d, "truth")$survival
  cox <- survival::coxph(survival::Surv(time, event) ~ c1 + c2 + c3 + m1 + p1 + p2 +
                           I(a * (1 + 0.5 * m1 + 0.3 * c1)), d)
  expect_equal(unname(coef(cox)), c(rep(0.5, 6), -0.5), tolerance = 0.06)
  km <- survival::survfit(survival::Surv(time, event) ~ a, d)
  for (arm in 0:1) {
    s <- summary(km[arm + 1], times = tr$time[tr$treatment == arm], extend = TRUE)$surv
    expect_lt(max(abs(s - tr$survival[tr$treatment == arm])), 0.012)
  }
  expect_true(all(d$time <= 30))
  expect_true(all(d$event[d$time == 30] == 0L))
})

test_that("three arms: the multinomial propensities are those drawn from, and the truth has every contrast", {
  set.seed(14)
  d <- simulate_causal(3e4, arms = 3, effect = c(1, -1), overlap_strength = 0.7)
  tr <- attr(d, "truth")
  expect_s3_class(d$a, "factor")
  expect_identical(levels(d$a), c("0", "1", "2"))
  expect_equal(as.vector(table(d$a)) / nrow(d), unname(colMeans(tr$propensity)), tolerance = 0.03)
  expect_named(tr$ate, c("1 vs 0", "2 vs 0"))
  fit <- ipw(a ~ c1 + c2 + c3 + i1, d)
  expect_lt(max(abs(fit$propensity - tr$propensity)), 0.06)
  std <- standardization(y ~ a * (m1 + c1) + c2 + c3 + p1 + p2, d, treatment = a)
  expect_lt(max(abs(coef(estimate_effect(std))[c("1 vs 0", "2 vs 0")] - tr$ate)), 0.06)
})

test_that("adjusting for a collider biases, adjusting for the confounders does not", {
  set.seed(15)
  d <- simulate_causal(2e4, effect = 1)
  truth <- attr(d, "truth")$ate[[1]]
  good <- coef(estimate_effect(standardization(y ~ a * (m1 + c1) + c2 + c3, d, treatment = a)))[["1 vs 0"]]
  bad <- coef(estimate_effect(standardization(y ~ a * (m1 + c1) + c2 + c3 + l1, d, treatment = a)))[["1 vs 0"]]
  expect_lt(abs(good - truth), 0.05)
  expect_gt(abs(bad - truth), 0.2)
})

test_that("nonlinear terms make main-effects models misspecified, and poor overlap makes extreme propensities", {
  set.seed(16)
  d <- simulate_causal(2e4, nonlinear = "both")
  truth <- attr(d, "truth")$ate[[1]]
  lin <- coef(estimate_effect(standardization(y ~ a + c1 + c2 + c3 + m1 + p1 + p2, d, treatment = a)))[["1 vs 0"]]
  expect_gt(abs(lin - truth), 0.1)
  poor <- attr(simulate_causal(2e4, overlap_strength = 3), "truth")$propensity[, 2]
  good <- attr(simulate_causal(2e4, overlap_strength = 0.5), "truth")$propensity[, 2]
  expect_gt(mean(poor < 0.05 | poor > 0.95), 10 * mean(good < 0.05 | good > 0.95))
  rct <- attr(simulate_causal(1000, overlap_strength = 0, treated_share = 0.5), "truth")$propensity[, 2]
  expect_equal(rct, rep(0.5, 1000), tolerance = 1e-8)
})

test_that("the same seed gives the same data, and the roles are listed", {
  set.seed(1); a <- simulate_causal(500, outcome = "binary")
  set.seed(1); b <- simulate_causal(500, outcome = "binary")
  expect_identical(a, b)
  roles <- attr(a, "truth")$roles
  expect_identical(roles$variable, c("c1", "c2", "c3", "i1", "m1", "p1", "p2", "l1", "z1", "z2"))
  expect_identical(roles$role[c(1, 4, 5, 6, 8, 9)],
                   c("confounder", "instrument", "effect modifier", "outcome predictor", "collider", "noise"))
  expect_identical(names(a), c(roles$variable, "a", "y"))
})

test_that("bad simulator settings get errors naming the argument", {
  expect_snapshot(error = TRUE, simulate_causal(1.5))
  expect_snapshot(error = TRUE, simulate_causal(100, arms = 1))
  expect_snapshot(error = TRUE, simulate_causal(100, outcome = "ordinal"))
  expect_snapshot(error = TRUE, simulate_causal(100, treated_share = 40))
  expect_snapshot(error = TRUE, simulate_causal(100, confounders = 1, nonlinear = "outcome"))
  expect_snapshot(error = TRUE, simulate_causal(100, effect = NA))
})
