# Confounded data with linear outcome surfaces and a known CATE 1 + 2 x1.
sim_cate <- function(n = 4000, seed = 11) {
  withr::local_seed(seed)
  x1 <- stats::rnorm(n)
  x2 <- stats::rbinom(n, 1, 0.4)
  a <- stats::rbinom(n, 1, stats::plogis(-0.2 + 0.8 * x1 - 0.5 * x2))
  y <- 0.5 + 1.5 * x1 - x2 + a * (1 + 2 * x1) + stats::rnorm(n)
  data.frame(x1 = x1, x2 = x2, a = a, y = y)
}

# Out-of-fold predictions of the outcome (lm) and the propensity (glm).
hand_crossfit <- function(d, folds) {
  m <- e <- numeric(nrow(d))
  for (k in unique(folds)) {
    held <- folds == k
    m[held] <- predict(lm(y ~ x1 + x2, data = d[!held, ]), d[held, ])
    e[held] <- predict(glm(a ~ x1 + x2, family = binomial(), data = d[!held, ]),
                       d[held, ], type = "response")
  }
  list(m = m, e = e)
}

tau_truth <- c("(Intercept)" = 1, x1 = 2, x2 = 0)
new_x <- data.frame(x1 = c(-1, 0, 2.5), x2 = c(0, 1, 0))

test_that("the X-learner equals a hand computation with lm() and glm()", {
  d <- sim_cate(1000)
  fit <- xlearner(y ~ a + x1 + x2, data = d, treatment = a)
  expect_s3_class(fit, c("causallib_cate", "causallib_model"), exact = TRUE)
  arm0 <- d$a == 0
  mu0 <- predict(lm(y ~ x1 + x2, data = d[arm0, ]), d)
  mu1 <- predict(lm(y ~ x1 + x2, data = d[!arm0, ]), d)
  tau0 <- predict(lm(I(mu1 - y) ~ x1 + x2, data = d, subset = arm0), d)
  tau1 <- predict(lm(I(y - mu0) ~ x1 + x2, data = d, subset = !arm0), d)
  g <- fitted(glm(a ~ x1 + x2, family = binomial(), data = d))
  expect_equal(predict(fit), g * tau0 + (1 - g) * tau1, tolerance = 1e-8, ignore_attr = TRUE)
  expect_equal(predict(fit, type = "potential_outcomes"), cbind(mu0, mu1),
               tolerance = 1e-8, ignore_attr = TRUE)
  expect_equal(colnames(predict(fit, type = "potential_outcomes")), c("0", "1"))
})

test_that("the X-learner recovers a linear CATE and predicts with its models", {
  d <- sim_cate()
  fit <- xlearner(y ~ a + x1 + x2, data = d, treatment = a)
  se <- summary(lm(y ~ a * (x1 + x2), data = d))$coefficients[c("a", "a:x1", "a:x2"), 2]
  e <- fit$models$effects[[1]]
  for (m in e[c("control", "treated")]) {
    expect_lt(max(abs(coef(m) - tau_truth) / se), 4)
  }
  X <- cbind(1, new_x$x1, new_x$x2)
  g <- stats::plogis(drop(X %*% coef(e$propensity)))
  linear <- g * drop(X %*% coef(e$control)) + (1 - g) * drop(X %*% coef(e$treated))
  expect_equal(predict(fit, newdata = new_x), linear, tolerance = 1e-10)
})

test_that("the R-learner equals a hand computation on the same folds", {
  d <- sim_cate()
  set.seed(5)
  fit <- rlearner(y ~ a + x1 + x2, data = d, treatment = a, crossfit = 4)
  set.seed(5)
  folds <- sample(rep_len(1:4, nrow(d)))
  expect_identical(fit$models$folds, folds)
  nuis <- hand_crossfit(d, folds)
  expect_equal(fit$models$m, nuis$m, tolerance = 1e-8)
  expect_equal(fit$models$e, nuis$e, tolerance = 1e-8)
  r <- d$a - nuis$e
  ref <- lm(I((y - nuis$m) / r) ~ x1 + x2, data = d, weights = r^2)
  expect_equal(coef(fit$models$effect), coef(ref), tolerance = 1e-8)
  se <- summary(ref)$coefficients[, 2]
  expect_lt(max(abs(coef(fit$models$effect) - tau_truth) / se), 4)
  expect_equal(predict(fit, newdata = new_x),
               drop(cbind(1, new_x$x1, new_x$x2) %*% coef(ref)), tolerance = 1e-8)
  expect_equal(predict(fit), unname(fitted(ref)), tolerance = 1e-8)
})

test_that("cross-fitting folds are reproducible under set.seed()", {
  d <- sim_cate(600)
  set.seed(3)
  f1 <- rlearner(y ~ a + x1 + x2, data = d, treatment = a)
  set.seed(3)
  f2 <- rlearner(y ~ a + x1 + x2, data = d, treatment = a)
  expect_identical(f1$models$folds, f2$models$folds)
  expect_identical(predict(f1), predict(f2))
  expect_equal(as.vector(table(f1$models$folds)), rep(120L, 5))
})

test_that("a three-level treatment gives one X-learner CATE per non-reference level", {
  d <- sim_cate(1500)
  withr::local_seed(7)
  d$arm <- factor(c("ctl", "lo", "hi")[d$a + 1L + (d$a == 1 & stats::runif(nrow(d)) < 0.5)],
                  levels = c("ctl", "lo", "hi"))
  fit <- xlearner(y ~ arm + x1 + x2, data = d, treatment = arm)
  tau <- predict(fit, newdata = new_x)
  expect_equal(dim(tau), c(3L, 2L))
  expect_equal(colnames(tau), c("lo vs ctl", "hi vs ctl"))
  expect_equal(colnames(predict(fit, type = "potential_outcomes")), c("ctl", "lo", "hi"))
  pair <- xlearner(y ~ arm + x1 + x2, data = d[d$arm != "lo", ], treatment = arm)
  expect_equal(tau[, "hi vs ctl"], predict(pair, newdata = new_x), tolerance = 1e-10)
  eff <- estimate_effect(fit, se = "none")
  expect_equal(tidy(eff)$term, c("lo vs ctl", "hi vs ctl"))
  expect_equal(unname(coef(eff)), unname(colMeans(predict(fit))), tolerance = 1e-12)
})

test_that("sampling weights act as frequency weights", {
  d <- sim_cate(400)
  d$w <- rep_len(1:3, nrow(d))
  wtd <- xlearner(y ~ a + x1 + x2, data = d, treatment = a, weights = "w")
  dup <- xlearner(y ~ a + x1 + x2, data = d[rep(seq_len(nrow(d)), d$w), ], treatment = a)
  expect_equal(predict(wtd, newdata = new_x), predict(dup, newdata = new_x), tolerance = 1e-8)
  expect_equal(coef(estimate_effect(wtd, se = "none")), coef(estimate_effect(dup, se = "none")),
               tolerance = 1e-8)
})

test_that("the bootstrap refits the model on frequency-count resamples", {
  d <- sim_cate(300)
  fit <- xlearner(y ~ a + x1 + x2, data = d, treatment = a)
  set.seed(9)
  eff <- estimate_effect(fit, R = 5)
  set.seed(9)
  counts <- causallib:::bootstrap_counts(nrow(d), 5)[, 1]
  keep <- counts > 0
  ref <- xlearner(y ~ a + x1 + x2, data = d[keep, ], treatment = a, weights = counts[keep])
  expect_equal(eff$replicates[1, ], c("1 vs 0" = weighted.mean(predict(ref), counts[keep])),
               tolerance = 1e-10)
  expect_equal(coef(eff), c("1 vs 0" = mean(predict(fit))))
  expect_identical(glance(eff)$contrast, "diff")
  expect_identical(eff$reference, "0")
  set.seed(9)
  rl <- rlearner(y ~ a + x1 + x2, data = d, treatment = a, crossfit = 3)
  expect_identical(tidy(withr::with_seed(1, estimate_effect(rl, R = 4))),
                   tidy(withr::with_seed(1, estimate_effect(rl, R = 4))))
})

test_that("the formula front end drops missing rows and picks the outcome learner", {
  fit <- xlearner(death ~ qsmk + sex + age + wt71, data = nhefs, treatment = qsmk)
  expect_identical(fit$learners$outcome$family, "binomial")
  wt <- xlearner(wt82_71 ~ qsmk + sex + age + wt71, data = nhefs, treatment = qsmk,
                 na_action = "omit")
  expect_length(predict(wt), sum(!is.na(nhefs$wt82_71)))
  expect_length(predict(wt, newdata = nhefs[1:3, c("sex", "age", "wt71")]), 3L)
  expect_output(print(wt), "X-learner")
})

test_that("bad input to the CATE learners gets a clear error", {
  d <- sim_cate(200)
  d$arm <- factor(rep_len(c("x", "y", "z"), nrow(d)))
  expect_snapshot(error = TRUE, xlearner(y ~ a + x1, data = transform(d, a = 1), treatment = a))
  expect_snapshot(error = TRUE, rlearner(y ~ arm + x1, data = d, treatment = arm))
  expect_snapshot(error = TRUE, xlearner(y ~ a + x1, data = transform(d, y = "no"),
                                         treatment = a))
  expect_snapshot(error = TRUE, rlearner(y ~ a + x1, data = d, treatment = a,
                                         effect_learner = "lm"))
  fit <- rlearner(y ~ a + x1, data = d, treatment = a)
  expect_snapshot(error = TRUE, predict(fit, type = "potential_outcomes"))
  expect_snapshot(error = TRUE, estimate_effect(fit, contrast = "ratio"))
})
