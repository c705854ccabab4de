test_that("What If chapter 12: IPW effect of quitting on weight gain", {
  d <- nhefs_complete()
  # Reference: glm() propensity, hand-made weights, weighted least squares.
  ps <- fitted(glm(whatif_ps_formula, family = binomial(), data = d))
  w <- ifelse(d$qsmk == 1, 1 / ps, 1 / (1 - ps))
  ref <- unname(coef(lm(wt82_71 ~ qsmk, data = d, weights = w))[2])

  fit <- ipw(whatif_ps_formula, data = d)
  expect_equal(unname(fit$propensity[, "1"]), unname(ps), tolerance = 1e-8)
  expect_equal(weights(fit), unname(w), tolerance = 1e-8)
  eff <- estimate_effect(fit, outcome = wt82_71)
  expect_equal(unname(coef(eff)), ref, tolerance = 1e-8)
  expect_equal(round(coef(eff), 1), c(`1 vs 0` = 3.4))

  # Stabilized weights: same Hajek estimate, mean weight near 1.
  sfit <- ipw(whatif_ps_formula, data = d, stabilize = TRUE)
  pq <- mean(d$qsmk)
  expect_equal(weights(sfit), unname(ifelse(d$qsmk == 1, pq / ps, (1 - pq) / (1 - ps))),
               tolerance = 1e-8)
  expect_equal(coef(estimate_effect(sfit, outcome = "wt82_71")), coef(eff), tolerance = 1e-10)
})

test_that("binary weights follow the hand formulas for every estimand", {
  d <- sim_confounded(600)
  p <- fitted(glm(a ~ x1 + x2, family = binomial(), data = d))
  a <- d$a
  expected <- list(
    ATE = ifelse(a == 1, 1 / p, 1 / (1 - p)),
    ATT = ifelse(a == 1, 1, p / (1 - p)),
    ATC = ifelse(a == 1, (1 - p) / p, 1),
    ATO = ifelse(a == 1, 1 - p, p)
  )
  for (est in names(expected)) {
    fit <- ipw(a ~ x1 + x2, data = d, estimand = est)
    expect_equal(weights(fit), unname(expected[[est]]), tolerance = 1e-8, label = est)
  }
})

test_that("multi-level weights use the generalized propensity score", {
  set.seed(11)
  n <- 900
  x <- rnorm(n)
  a <- factor(sample(c("low", "mid", "high"), n, replace = TRUE),
              levels = c("low", "mid", "high"))
  a[x > 1] <- "high"
  d <- data.frame(x = x, a = a)
  fit <- ipw(a ~ x, data = d)
  P <- fit$propensity
  idx <- cbind(seq_len(n), as.integer(d$a))
  expect_equal(weights(fit), 1 / P[idx], tolerance = 1e-12)
  att <- ipw(a ~ x, data = d, estimand = "ATT", treated = "mid")
  expect_equal(weights(att), P[, "mid"] / P[idx], tolerance = 1e-12)
  ato <- ipw(a ~ x, data = d, estimand = "ATO")
  expect_equal(weights(ato), (1 / P[idx]) / rowSums(1 / P), tolerance = 1e-12)
  expect_equal(rowSums(P), rep(1, n), tolerance = 1e-12)
})

test_that("clipping, truncation and sampling weights", {
  d <- sim_confounded(800)
  p <- fitted(glm(a ~ x1 + x2, family = binomial(), data = d))
  expect_warning(fit <- ipw(a ~ x1 + x2, data = d, clip = c(0.2, 0.8)), "clipped")
  pc <- pmin(pmax(p, 0.2), 0.8)
  expect_equal(weights(fit), unname(ifelse(d$a == 1, 1 / pc, 1 / (1 - pc))), tolerance = 1e-8)
  expect_equal(fit$n_clipped, sum(p < 0.2 | p > 0.8))

  tr <- ipw(a ~ x1 + x2, data = d, truncate = 0.9)
  raw <- unname(ifelse(d$a == 1, 1 / p, 1 / (1 - p)))
  expect_equal(weights(tr), pmin(raw, quantile(raw, 0.9, names = FALSE)), tolerance = 1e-8)

  sw <- ipw(a ~ x1 + x2, data = d, weights = "w")
  ps_w <- suppressWarnings(fitted(glm(a ~ x1 + x2, family = binomial(), data = d, weights = w)))
  expect_equal(unname(sw$propensity[, 2]), unname(ps_w), tolerance = 1e-8)
})

test_that("weights and their derivatives do not depend on the thread count", {
  set.seed(14)
  n <- 2 * 65536 + 11
  P <- matrix(runif(3 * n), n)
  P <- P / rowSums(P)
  a <- sample.int(3L, n, replace = TRUE)
  for (est in 0:3) {
    one <- .Call(causallib:::C_ffi_ipw_weights, P, a, est, 3L, c(0.1, 0.9), NA_real_, 1L)
    two <- .Call(causallib:::C_ffi_ipw_weights, P, a, est, 3L, c(0.1, 0.9), NA_real_, 2L)
    expect_identical(one, two)
  }
  expect_identical(one$n_clipped, as.double(sum(rowSums(P < 0.1 | P > 0.9) > 0)))
})

test_that("predict() and the matrix interface agree with the formula fit", {
  d <- sim_confounded(500)
  fit <- ipw(a ~ x1 + x2, data = d)
  expect_equal(predict(fit, newdata = d), fit$propensity, tolerance = 1e-12)
  expect_equal(predict(fit, newdata = d, type = "weights"), weights(fit), tolerance = 1e-12)
  mfit <- ipw_fit(as.matrix(d[, c("x1", "x2")]), d$a)
  expect_equal(weights(mfit), weights(fit), tolerance = 1e-12)
  expect_equal(predict(mfit, newdata = as.matrix(d[1:5, c("x1", "x2")])),
               fit$propensity[1:5, ], tolerance = 1e-12, ignore_attr = TRUE)
})

test_that("bad input to ipw() gets a clear error naming the argument", {
  d <- sim_confounded(200)
  expect_snapshot(error = TRUE, ipw(a ~ x1, data = transform(d, a = 1)))
  expect_snapshot(error = TRUE, ipw(a ~ x1, data = transform(d, a = x1)))
  expect_snapshot(error = TRUE, ipw(a ~ x1, data = transform(d, x1 = replace(x1, 1:3, NA))))
  expect_snapshot(error = TRUE, ipw(a ~ x1, data = d, estimand = "ATX"))
  expect_snapshot(error = TRUE, ipw(a ~ x1, data = d, clip = c(0.9, 0.1)))
  expect_snapshot(error = TRUE, ipw(a ~ x1, data = d, weights = -d$w))
  expect_snapshot(error = TRUE, ipw(a ~ x1, data = d, weights = replace(d$w, 2, Inf)))
  expect_snapshot(error = TRUE, ipw(a ~ nothere, data = d))
  expect_snapshot(error = TRUE, ipw(a ~ x1, data = d, weights = replace(d$w, d$a == 1, 0)))
  fit <- ipw(a ~ x1, data = d)
  expect_snapshot(error = TRUE, estimate_effect(fit))
  expect_snapshot(error = TRUE, estimate_effect(fit, outcome = letters[d$a + 1]))
  expect_snapshot(error = TRUE, estimate_effect(fit, outcome = replace(d$y, 4, NA)))
  expect_snapshot(error = TRUE, estimate_effect(fit, outcome = nothere))
  # Missing rows can be dropped on request, and are reported.
  dn <- transform(d, x1 = replace(x1, 1:3, NA))
  fit_na <- ipw(a ~ x1, data = dn, na_action = "omit")
  expect_equal(fit_na$n, 197)
  expect_equal(fit_na$na.action, 1:3)
  expect_equal(coef(estimate_effect(fit_na, outcome = y, se = "none")),
               coef(estimate_effect(ipw(a ~ x1, data = d[-(1:3), ]), outcome = y, se = "none")))
})

test_that("sampling weights are rescaled: their scale and total do not matter", {
  d <- sim_confounded(200)
  se_of <- function(w) tidy(estimate_effect(ipw(a ~ x1, data = d, weights = w), outcome = y))
  plain <- se_of(NULL)
  # weights whose total overflows, and weights whose squares underflow
  expect_equal(se_of(rep(.Machine$double.xmax, 200)), plain, tolerance = 1e-12)
  expect_equal(se_of(rep(1e-300, 200)), plain, tolerance = 1e-12)
  expect_gt(plain$std.error, 0)
  expect_gt(plain$p.value, 0)
})

test_that("bad sampling weights get an error naming the argument and the cause", {
  d <- sim_confounded(200)
  # One weight of 1e300 among weights near 1 would leave the estimate to that
  # unit alone: the other units fall below double precision beside it.
  expect_snapshot(error = TRUE, ipw(a ~ x1, data = d, weights = replace(d$w, 1, 1e300)))
  expect_snapshot(error = TRUE, ipw(a ~ x1, data = d, weights = rep(0, 200)))
  expect_snapshot(error = TRUE, ipw_fit(cbind(d$x1), d$a, weights = replace(d$w, c(5, 9), NaN)))
  expect_snapshot(error = TRUE, ipw_fit(cbind(d$x1), d$a, weights = d$w[-1]))
  expect_snapshot(error = TRUE, ipw(a ~ x1, data = d, weights = "nothere"))
})

test_that("positivity problems are reported with a count", {
  set.seed(4)
  x <- c(rnorm(300), rnorm(20, 9))
  a <- rbinom(320, 1, plogis(2 * x))
  expect_warning(ipw(a ~ x, data = data.frame(a, x)), "below 0.001")
})
