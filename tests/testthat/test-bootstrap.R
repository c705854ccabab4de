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

test_that("offset() models bootstrap in C, equal to the R refits", {
  d <- sim_confounded(300)
  d$ex <- runif(nrow(d), 0.5, 2)
  d$cnt <- rpois(nrow(d), d$ex * exp(0.2 + 0.3 * d$a + 0.2 * d$x1))
  withr::local_seed(9)
  counts <- causallib:::bootstrap_counts(nrow(d), 3)
  fits <- list(
    ipw = ipw(a ~ x1 + x2 + offset(0.3 * x1), data = d, weights = d$w, truncate = 0.97),
    # the offset follows the treatment: each counterfactual design has its own
    std = standardization(cnt ~ a + x1 + offset(log(ex) + 0.1 * a), data = d, treatment = a,
                          learner = lrn_glm("poisson")),
    std_strat = standardization(cnt ~ a + x1 + offset(log(ex)), data = d, treatment = a,
                                stratified = TRUE, learner = lrn_glm("poisson")),
    aipw = aipw(standardization(y ~ a + x1 + offset(0.5 * x2 + 0.2 * a), data = d, treatment = a),
                ipw(a ~ x1 + offset(0.4 * x2), data = d))
  )
  for (name in names(fits)) {
    fit <- fits[[name]]
    y <- if (name == "ipw") d$y
    expect_false(is.null(causallib:::boot_description(fit, y)), info = name)
    c_reps <- causallib:::bootstrap_replicates(fit, counts, outcome = y, engine = "c")
    r_reps <- causallib:::bootstrap_replicates(fit, counts, outcome = y, engine = "r")
    expect_equal(c_reps, r_reps, tolerance = 1e-8, info = name)
    one <- causallib:::bootstrap_replicates(fit, matrix(1L, nrow(d), 1L), outcome = y, engine = "c")
    expect_equal(unname(one[1, ]), unname(causallib:::means(fit, y)), tolerance = 1e-10,
                 info = name)
  }
  # the offsets matter: without them the replicates differ
  plain <- standardization(cnt ~ a + x1, data = d, treatment = a, learner = lrn_glm("poisson"))
  expect_false(isTRUE(all.equal(causallib:::bootstrap_replicates(plain, counts, engine = "c"),
                                causallib:::bootstrap_replicates(fits$std, counts, engine = "c"))))
})

test_that("the number of replicates must be a whole number in range", {
  d <- sim_confounded(100)
  fit <- ipw(a ~ x1, data = d)
  expect_snapshot(error = TRUE, estimate_effect(fit, outcome = y, se = "bootstrap", R = 1e12))
  expect_snapshot(error = TRUE, estimate_effect(fit, outcome = y, se = "bootstrap", R = 2.5))
  expect_snapshot(error = TRUE, estimate_effect(fit, outcome = y, se = "bootstrap", R = "100"))
})

test_that("every replicate failing is an error giving the causes", {
  d <- sim_confounded(100)
  # a learner that fits the data but fails on every resample
  fragile <- lrn_custom(
    fit = function(x, y, weights) {
      if (length(unique(weights)) > 1L) stop("singular fit on the resample")
      lm.fit(x, y)
    },
    predict = function(object, x) drop(x %*% coef(object)))
  fit <- standardization(y ~ a + x1, data = d, treatment = a, learner = fragile)
  expect_snapshot(error = TRUE, estimate_effect(fit, se = "bootstrap", R = 3))
})
