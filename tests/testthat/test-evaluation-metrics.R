pairwise_auc <- function(s, pos, neg) {
  num <- 0
  for (i in seq_along(s)) num <- num + sum(pos[i] * neg * ((s[i] > s) + 0.5 * (s[i] == s)))
  num / (sum(pos) * sum(neg))
}

test_that("plain, weighted and expected AUCs equal their pairwise definitions", {
  d <- sim_confounded(n = 300)
  fit <- ipw(a ~ x1 + x2, data = d, weights = d$w)
  p <- predict(fit)[, 2]
  w <- weights(fit)
  expect_equal(unname(roc_auc(fit)), pairwise_auc(p, d$w * d$a, d$w * (1 - d$a)), tolerance = 1e-12)
  expect_equal(unname(weighted_roc_auc(fit)), pairwise_auc(p, d$w * w * d$a, d$w * w * (1 - d$a)),
               tolerance = 1e-12)
  expect_equal(unname(expected_roc_auc(fit)), pairwise_auc(p, d$w * p, d$w * (1 - p)), tolerance = 1e-12)
  # IP weighting removes most of the treatment's predictability
  expect_lt(abs(weighted_roc_auc(fit) - 0.5), abs(roc_auc(fit) - 0.5))
})

test_that("calibration errors equal the binned and spline-smoothed definitions", {
  d <- sim_confounded(n = 500)
  fit <- ipw(a ~ x1 + x2, data = d)
  p <- predict(fit)[, 2]
  # equal-frequency bins [q_j, q_j+1), the last one closed
  bins <- cut(p, unique(quantile(p, seq(0, 1, 0.1), type = 1)), right = FALSE, include.lowest = TRUE)
  ece <- sum(tapply(seq_along(p), bins, function(i) length(i) * abs(mean(d$a[i]) - mean(p[i])))) / length(p)
  lp <- qlogis(p)
  smooth <- fitted(glm(d$a ~ splines::ns(lp, df = 3), family = binomial()))
  cal <- calibration_error(fit)
  expect_equal(cal$ece, ece, tolerance = 1e-12)
  expect_equal(cal$ici, mean(abs(p - smooth)), tolerance = 1e-7)
})

test_that("outcome metrics per arm equal hand computations", {
  d <- sim_confounded(n = 400)
  fit <- standardization(y ~ a + x1 + x2, data = d, treatment = a)
  m <- outcome_metrics(fit)
  ref <- lm(y ~ a + x1 + x2, data = d)
  for (k in 0:1) {
    i <- d$a == k
    r <- d$y[i] - fitted(ref)[i]
    row <- m[m$treatment == as.character(k), ]
    expect_equal(row$rmse, sqrt(mean(r^2)), tolerance = 1e-10)
    expect_equal(row$r_squared, 1 - sum(r^2) / sum((d$y[i] - mean(d$y[i]))^2), tolerance = 1e-10)
    expect_equal(row$deviance, sum(r^2), tolerance = 1e-10)
  }
  fb <- standardization(yb ~ a + x1, data = d, treatment = a)
  mb <- outcome_metrics(fb)
  gb <- glm(yb ~ a + x1, binomial(), d)
  i <- d$a == 1
  expect_equal(mb$deviance[2], -2 * sum(dbinom(d$yb[i], 1, fitted(gb)[i], log = TRUE)), tolerance = 1e-8)
  expect_equal(mb$auc[2], pairwise_auc(fitted(gb)[i], d$yb[i], 1 - d$yb[i]), tolerance = 1e-8)
})
