sim_factor <- function(n = 400, seed = 2) {
  d <- sim_confounded(n, seed)
  d$x3 <- stats::rnorm(n)
  d$a <- factor(d$a)
  d
}

test_that("lrn_custom() wrapping glm() reproduces lrn_glm() in ipw()", {
  d <- sim_factor()
  for (w in list(NULL, "w")) {
    f_c <- ipw(a ~ x1 + x2, d, learner = glm_custom(), weights = w, estimand = "ATT")
    f_g <- ipw(a ~ x1 + x2, d, weights = w, estimand = "ATT")
    expect_equal(weights(f_c), weights(f_g), tolerance = 1e-8)
    expect_equal(estimate_effect(f_c, outcome = y, se = "none")$estimate,
                 estimate_effect(f_g, outcome = y, se = "none")$estimate, tolerance = 1e-8)
    expect_equal(predict(f_c, newdata = d[1:5, ], type = "weights"),
                 predict(f_g, newdata = d[1:5, ], type = "weights"), tolerance = 1e-8)
  }
})

test_that("lrn_custom() wrapping glm() reproduces lrn_glm() in standardization()", {
  d <- sim_factor()
  for (stratified in c(FALSE, TRUE)) {
    f_c <- standardization(y ~ a * x1 + x2, d, treatment = a, stratified = stratified,
                           learner = glm_custom(), weights = "w")
    f_g <- standardization(y ~ a * x1 + x2, d, treatment = a, stratified = stratified,
                           learner = lrn_glm(gaussian), weights = "w")
    expect_equal(estimate_effect(f_c, se = "none")$estimate,
                 estimate_effect(f_g, se = "none")$estimate, tolerance = 1e-8)
    expect_equal(predict(f_c, newdata = d[1:5, ]), predict(f_g, newdata = d[1:5, ]),
                 tolerance = 1e-8)
    expect_equal(outcome_metrics(f_c), outcome_metrics(f_g), tolerance = 1e-8)
  }
  ev <- evaluate(f_c, d, cv = 3)
  expect_true(all(is.finite(ev$metrics$value[ev$metrics$metric == "mean_deviance"])))
})

test_that("custom probabilities: vectors, named and reordered columns", {
  d <- sim_factor()
  d$a3 <- factor(cut(d$x1 + stats::rnorm(nrow(d)), 3, labels = c("lo", "mid", "hi")))
  shares <- lrn_custom(
    fit = function(x, y, weights) table(y) / length(y),
    predict = function(object, x) {
      matrix(rev(object), nrow(x), length(object), byrow = TRUE,
             dimnames = list(NULL, rev(names(object))))
    }
  )
  fit <- ipw(a3 ~ x1, d, learner = shares)
  expect_equal(colnames(fit$propensity), c("lo", "mid", "hi"))
  expect_equal(fit$propensity[1, ], c(table(d$a3) / nrow(d)), ignore_attr = TRUE)
  expect_equal(unname(weights(fit)), c(nrow(d) / table(d$a3))[as.integer(d$a3)], ignore_attr = TRUE)
})

test_that("a bootstrap with a custom learner is reproducible and equals an R loop", {
  d <- sim_factor(n = 30, seed = 5)
  fit <- ipw(a ~ x1, d, learner = glm_custom())
  set.seed(11)
  est <- estimate_outcomes(fit, outcome = y, se = "bootstrap", R = 6)
  set.seed(11)
  expect_identical(estimate_outcomes(fit, outcome = y, se = "bootstrap", R = 6)$replicates,
                   est$replicates)

  set.seed(11)
  counts <- apply(matrix(sample.int(30, 30 * 6, replace = TRUE), 30), 2L, tabulate, nbins = 30)
  by_hand <- t(apply(counts, 2L, function(cnt) {
    p <- stats::fitted(stats::glm(a ~ x1, family = stats::quasibinomial(), data = d, weights = cnt))
    mass <- cnt / ifelse(d$a == "1", p, 1 - p)
    tapply(mass * d$y, d$a, sum) / tapply(mass, d$a, sum)
  }))
  expect_equal(est$replicates, by_hand, tolerance = 1e-8, ignore_attr = TRUE)
})

test_that("custom-learner bootstraps equal the C bootstrap of lrn_glm()", {
  d <- sim_factor(n = 200)
  boot <- function(fit, ...) {
    set.seed(3)
    estimate_outcomes(fit, se = "bootstrap", R = 20, ...)$replicates
  }
  expect_equal(boot(ipw(a ~ x1 + x2, d, learner = glm_custom(), weights = "w", truncate = 0.9),
                    outcome = y),
               boot(ipw(a ~ x1 + x2, d, weights = "w", truncate = 0.9), outcome = y),
               tolerance = 1e-8)
  for (stratified in c(FALSE, TRUE)) {
    expect_equal(boot(standardization(y ~ a + x1, d, treatment = a, stratified = stratified,
                                      learner = glm_custom())),
                 boot(standardization(y ~ a + x1, d, treatment = a, stratified = stratified)),
                 tolerance = 1e-8)
  }
})

test_that("learners with the wrong predictions, arguments or inference fail clearly", {
  d <- sim_factor(n = 50)
  one_column <- lrn_custom(function(x, y, weights) NULL,
                           function(object, x) matrix(0.5, nrow(x), 1), name = "half")
  out_of_range <- lrn_custom(function(x, y, weights) NULL,
                             function(object, x) matrix(0.7, nrow(x), 2), name = "bad rows")
  expect_snapshot(error = TRUE, {
    ipw(a ~ x1, d, learner = one_column)
    ipw(a ~ x1, d, learner = out_of_range)
    standardization(y ~ a + x1, d, treatment = a, learner = out_of_range)
    lrn_custom(fit = "glm", predict = identity)
    estimate_effect(ipw(a ~ x1, d, learner = glm_custom()), outcome = y)
  })
})

test_that("a bootstrap whose every refit fails says so", {
  d <- sim_factor(n = 50)
  no_zero_weights <- lrn_custom(
    fit = function(x, y, weights) if (any(weights == 0)) stop("zero weight") else mean(y),
    predict = function(object, x) rep(object, nrow(x))
  )
  fit <- standardization(y ~ a + x1, d, treatment = a, learner = no_zero_weights, weights = "w")
  set.seed(1)
  expect_snapshot(error = TRUE, estimate_effect(fit, se = "bootstrap", R = 5))
})

test_that("lrn_glmnet() predicts as cv.glmnet() does", {
  skip_if_not_installed("glmnet")
  d <- sim_factor()
  x <- as.matrix(d[c("x1", "x2", "x3")])
  set.seed(4)
  fit <- ipw(a ~ x1 + x2 + x3, d, learner = lrn_glmnet(alpha = 0.5, nfolds = 5))
  set.seed(4)
  cv <- glmnet::cv.glmnet(x, d$a, family = "binomial", alpha = 0.5, nfolds = 5)
  p <- stats::predict(cv, newx = x, s = "lambda.min", type = "response")
  expect_equal(fit$propensity[, "1"], drop(p), ignore_attr = TRUE)

  set.seed(4)
  std <- standardization(y ~ a + x1 + x2 + x3, d, treatment = a,
                         learner = lrn_glmnet(lambda = "lambda.1se"), weights = "w")
  set.seed(4)
  xa <- cbind(a1 = as.numeric(d$a == "1"), x)
  cv <- glmnet::cv.glmnet(xa, d$y, weights = d$w, family = "gaussian")
  expect_equal(std$potential_outcomes[, "1"],
               drop(stats::predict(cv, newx = cbind(a1 = 1, x), s = "lambda.1se")),
               ignore_attr = TRUE)
  expect_gt(estimate_effect(std, se = "none")$estimate, 1.5)
})

test_that("lrn_ranger() predicts as ranger() does with the seed drawn from R", {
  skip_if_not_installed("ranger")
  d <- sim_factor()
  x <- as.matrix(d[c("x1", "x2", "x3")])
  set.seed(5)
  fit <- ipw(a ~ x1 + x2 + x3, d, clip = 0.02, learner = lrn_ranger(num.trees = 50, num.threads = 1))
  set.seed(5)
  rf <- ranger::ranger(x = x, y = d$a, num.trees = 50, probability = TRUE, num.threads = 1,
                       seed = sample.int(.Machine$integer.max, 1L))
  expect_equal(fit$propensity, stats::predict(rf, data = x)$predictions, ignore_attr = TRUE)

  lrn <- lrn_ranger(num.trees = 50, min.node.size = 20)
  set.seed(5)
  std <- standardization(y ~ x1 + x2 + x3 + a, d, treatment = a, stratified = TRUE, learner = lrn)
  set.seed(5)
  rows0 <- d$a == "0"
  rf0 <- ranger::ranger(x = x[rows0, ], y = d$y[rows0], num.trees = 50, min.node.size = 20,
                        num.threads = causallib_threads(),
                        seed = sample.int(.Machine$integer.max, 1L))
  expect_equal(std$potential_outcomes[, "0"], stats::predict(rf0, data = x)$predictions)

  set.seed(6)
  b1 <- estimate_effect(std, se = "bootstrap", R = 3)
  set.seed(6)
  expect_identical(estimate_effect(std, se = "bootstrap", R = 3)$replicates, b1$replicates)
})

test_that("lrn_parsnip() predicts as parsnip::fit_xy() does", {
  skip_if_not_installed("parsnip")
  d <- sim_factor()
  x <- d[c("x1", "x2", "x3")]
  fit <- ipw(a ~ x1 + x2 + x3, d, learner = lrn_parsnip(parsnip::logistic_reg()))
  ps <- parsnip::fit_xy(parsnip::logistic_reg(), x = x, y = d$a)
  expect_equal(fit$propensity, as.matrix(stats::predict(ps, x, type = "prob")),
               ignore_attr = TRUE)
  expect_equal(weights(fit), weights(ipw(a ~ x1 + x2 + x3, d)), tolerance = 1e-8)

  std <- standardization(y ~ a + x1 + I(x2^2), d, treatment = a, weights = "w",
                         learner = lrn_parsnip(parsnip::linear_reg()))
  ref <- standardization(y ~ a + x1 + I(x2^2), d, treatment = a, weights = "w",
                         learner = lrn_glm(gaussian))
  expect_equal(predict(std, newdata = d[1:4, ]), predict(ref, newdata = d[1:4, ]), tolerance = 1e-8)
  set.seed(2)
  b <- estimate_effect(std, se = "bootstrap", R = 5)
  set.seed(2)
  expect_equal(b$replicates, estimate_effect(ref, se = "bootstrap", R = 5)$replicates,
               tolerance = 1e-8)
})

test_that("lrn_parsnip() explains an engine without case weights", {
  skip_if_not_installed("parsnip")
  d <- sim_factor(n = 50)
  expect_snapshot(error = TRUE, {
    ipw(a ~ x1, d, weights = "w", learner = lrn_parsnip(parsnip::nearest_neighbor()))
    lrn_parsnip(stats::lm)
  })
})

test_that("adapters print their settings and drop the formula's intercept", {
  skip_if_not_installed("glmnet")
  expect_output(print(lrn_glmnet(alpha = 0)), "lrn_glmnet\\(alpha = 0, lambda = \"lambda.min\"")
  x <- cbind("(Intercept)" = 1, "I(z^2)" = 1:3)
  expect_identical(adapter_design(x), x[, 2L, drop = FALSE])
  expect_identical(colnames(adapter_design(x, syntactic = TRUE)), "I.z.2.")
  expect_identical(colnames(adapter_design(unname(x))), c("x1", "x2"))
})
