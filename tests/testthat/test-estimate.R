test_that("contrasts follow the delta method on the right scale", {
  d <- sim_confounded(800)
  fit <- standardization(yb ~ a + x1 + x2, data = d, treatment = "a")
  out <- estimate_outcomes(fit)
  mu <- coef(out)
  V <- vcov(out)
  diff <- estimate_effect(fit)
  expect_equal(unname(coef(diff)), unname(mu[2] - mu[1]), tolerance = 1e-12)
  expect_equal(unname(vcov(diff)[1, 1]), V[1, 1] + V[2, 2] - 2 * V[1, 2], tolerance = 1e-12)

  rr <- estimate_effect(fit, contrast = "ratio")
  g <- c(-1 / mu[1], 1 / mu[2])
  expect_equal(unname(vcov(rr)[1, 1]), drop(t(g) %*% V %*% g), tolerance = 1e-12)
  tab <- tidy(rr)
  expect_equal(tab$conf.low, unname(mu[2] / mu[1]) * exp(-qnorm(0.975) * tab$std.error),
               tolerance = 1e-12)

  or <- estimate_effect(fit, contrast = "odds_ratio", reference = "1")
  expect_equal(unname(coef(or)), unname((mu[1] / (1 - mu[1])) / (mu[2] / (1 - mu[2]))),
               tolerance = 1e-12)
  expect_identical(tidy(or)$term, "0 vs 1")
})

test_that("tidy(), glance(), confint() and summary() have the documented shape", {
  d <- sim_confounded(300)
  eff <- estimate_effect(ipw(a ~ x1 + x2, data = d), outcome = y)
  tab <- tidy(eff)
  expect_named(tab, c("term", "estimate", "std.error", "statistic", "p.value",
                      "conf.low", "conf.high", "estimator", "estimand"))
  expect_equal(tab$p.value, 2 * pnorm(-abs(tab$estimate / tab$std.error)))
  expect_equal(nrow(glance(eff)), 1L)
  ci90 <- confint(eff, level = 0.9)
  expect_equal(unname(ci90[1, ]), tab$estimate + c(-1, 1) * qnorm(0.95) * tab$std.error)
  expect_s3_class(summary(eff), "summary.causal_estimate")
  expect_output(print(summary(eff)), "Potential outcome means")
  expect_output(print(eff), "1 vs 0")
  expect_error(vcov(estimate_effect(ipw(a ~ x1, data = d), outcome = y, se = "none")),
               "No standard errors")
})

test_that("contrasts reject impossible scales and unknown references", {
  d <- sim_confounded(200)
  fit <- marginal_outcome(y ~ a, data = transform(d, y = y - 10))
  expect_snapshot(error = TRUE, estimate_effect(fit, contrast = "ratio"))
  expect_snapshot(error = TRUE, estimate_effect(fit, contrast = "odds_ratio"))
  expect_snapshot(error = TRUE, estimate_effect(fit, reference = "7"))
})

test_that("IPW intervals cover the truth at about the nominal rate", {
  # 200 simulated studies with a true effect of 2; the sandwich accounts for
  # estimating the propensity model, so coverage should be near 95%.
  covered <- vapply(seq_len(200), function(seed) {
    d <- sim_confounded(400, seed = seed)
    ci <- confint(estimate_effect(ipw(a ~ x1 + x2, data = d), outcome = y))
    ci[1] < 2 && 2 < ci[2]
  }, logical(1))
  expect_gt(mean(covered), 0.91)
  expect_lt(mean(covered), 0.99)
})

test_that("the unadjusted comparison predicts each group's mean for everyone", {
  d <- sim_confounded(n = 300)
  fit <- marginal_outcome(y ~ a, data = d, weights = d$w)
  means <- c(weighted.mean(d$y[d$a == 0], d$w[d$a == 0]), weighted.mean(d$y[d$a == 1], d$w[d$a == 1]))
  p <- predict(fit)
  expect_equal(dim(p), c(300L, 2L))
  expect_equal(unname(p[17, ]), means, tolerance = 1e-12)
  expect_equal(unname(predict(fit, newdata = d[1:4, ])), matrix(means, 4, 2, byrow = TRUE),
               tolerance = 1e-12)
  expect_equal(colMeans(p), coef(estimate_outcomes(fit, se = "none")), tolerance = 1e-12)
})
