test_that("bootstrap replicates are reproducible and independent of threads", {
  d <- sim_confounded(400)
  fit <- ipw(a ~ x1 + x2, data = d)
  run <- function(threads) {
    withr::local_options(causallib.threads = threads)
    set.seed(42)
    estimate_effect(fit, outcome = y, se = "bootstrap", R = 100)$replicates
  }
  one <- run(1)
  expect_identical(run(1), one)
  expect_identical(run(2), one)
  expect_equal(nrow(one), 100)
})

test_that("each IPW replicate equals an R refit on the resampled data", {
  d <- sim_confounded(300)
  fit <- ipw(a ~ x1 + x2, data = d, estimand = "ATT", truncate = 0.95)
  set.seed(7)
  reps <- estimate_outcomes(fit, outcome = y, se = "bootstrap", R = 3)$replicates
  set.seed(7)
  counts <- causallib:::bootstrap_counts(nrow(d), 3)
  for (r in 1:3) {
    db <- d[rep(seq_len(nrow(d)), counts[, r]), ]
    ref <- coef(estimate_outcomes(ipw(a ~ x1 + x2, data = db, estimand = "ATT", truncate = 0.95),
                                  outcome = y, se = "none"))
    expect_equal(reps[r, ], ref, tolerance = 1e-8)
  }
})

test_that("each standardization replicate equals an R refit", {
  d <- sim_confounded(300)
  for (strat in c(FALSE, TRUE)) {
    fit <- standardization(yb ~ a + x1 + x2, data = d, treatment = "a", stratified = strat)
    set.seed(8)
    reps <- estimate_outcomes(fit, se = "bootstrap", R = 2)$replicates
    set.seed(8)
    counts <- causallib:::bootstrap_counts(nrow(d), 2)
    for (r in 1:2) {
      db <- d[rep(seq_len(nrow(d)), counts[, r]), ]
      ref <- coef(estimate_outcomes(standardization(yb ~ a + x1 + x2, data = db, treatment = "a",
                                                    stratified = strat), se = "none"))
      expect_equal(reps[r, ], ref, tolerance = 1e-8)
    }
  }
})

test_that("bootstrap and sandwich standard errors agree on a large sample", {
  d <- sim_confounded(3000, seed = 5)
  fit <- ipw(a ~ x1 + x2, data = d)
  set.seed(1)
  boot <- tidy(estimate_effect(fit, outcome = y, se = "bootstrap", R = 400))
  sand <- tidy(estimate_effect(fit, outcome = y))
  expect_equal(boot$std.error, sand$std.error, tolerance = 0.15)
  reps <- estimate_effect(fit, outcome = y, se = "bootstrap", R = 50)
  expect_equal(unname(confint(reps)[1, ]),
               unname(quantile(reps$replicates[, 1], c(0.025, 0.975))))
})

test_that("multi-level IPW bootstrap runs the multinomial model in C", {
  set.seed(3)
  n <- 300
  x <- rnorm(n)
  a <- factor(sample(c("a", "b", "c"), n, replace = TRUE))
  d <- data.frame(a, x, y = rnorm(n) + as.integer(a))
  fit <- ipw(a ~ x, data = d)
  set.seed(2)
  reps <- estimate_outcomes(fit, outcome = y, se = "bootstrap", R = 2)$replicates
  set.seed(2)
  counts <- causallib:::bootstrap_counts(n, 2)
  db <- d[rep(seq_len(n), counts[, 1]), ]
  ref <- coef(estimate_outcomes(ipw(a ~ x, data = db), outcome = y, se = "none"))
  expect_equal(reps[1, ], ref, tolerance = 1e-6)
})
