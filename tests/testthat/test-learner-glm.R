glm_c <- function(x, y, family, weights = NULL, penalty = 0) {
  lf <- learner_fit(lrn_glm(family, penalty = penalty), x, y, weights)
  lf
}

test_that("logistic, gaussian and poisson fits match glm() to 1e-8", {
  d <- sim_confounded(1500)
  x <- model.matrix(~ x1 + x2 + I(x1^2), d)
  cases <- list(
    list(y = d$yb, family = binomial()),
    list(y = d$y, family = gaussian()),
    list(y = rpois(nrow(d), exp(0.2 + 0.3 * d$x1)), family = poisson())
  )
  for (case in cases) {
    for (w in list(NULL, d$w)) {
      ref <- suppressWarnings(glm.fit(x, case$y, weights = w, family = case$family))
      lf <- glm_c(x, case$y, case$family, w)
      expect_equal(unname(lf$coefficients), unname(ref$coefficients), tolerance = 1e-8)
      expect_equal(lf$fitted, unname(ref$fitted.values), tolerance = 1e-8)
      expect_equal(lf$deviance, ref$deviance, tolerance = 1e-8)
      expect_identical(lf$iter, ref$iter)
    }
  }
})

test_that("the C engine handles an offset as glm() does", {
  d <- sim_confounded(800)
  x <- model.matrix(~ x1 + x2, d)
  yc <- rpois(nrow(d), exp(0.1 + 0.2 * d$x1))
  off <- log(runif(nrow(d), 1, 3))
  ref <- glm.fit(x, yc, offset = off, family = poisson())
  res <- .Call(causallib:::C_ffi_glm_fit, x, FALSE, as.double(yc), NULL, off, 2L, 25L, 1e-8,
               rep(0, ncol(x)), 1L)
  expect_equal(res$coefficients, unname(ref$coefficients), tolerance = 1e-8)
})

test_that("aliased columns get NA coefficients as in glm()", {
  d <- sim_confounded(500)
  x <- cbind(model.matrix(~ x1 + x2, d), twice = 2 * d$x1, x2copy = d$x2)
  ref <- glm(d$yb ~ x - 1, family = binomial())
  lf <- glm_c(x, d$yb, binomial())
  expect_identical(is.na(unname(lf$coefficients)), is.na(unname(coef(ref))))
  expect_equal(unname(lf$coefficients), unname(coef(ref)), tolerance = 1e-8)
  expect_identical(lf$rank, ref$rank)
  expect_equal(lf$fitted, unname(fitted(ref)), tolerance = 1e-8)
})

test_that("separation raises the fitted-probabilities warning", {
  x <- cbind(1, c(-3:-1, 1:3))
  y <- c(0, 0, 0, 1, 1, 1)
  expect_warning(glm_c(x, y, binomial()), "numerically 0 or 1")
  # A ridge penalty keeps the fit finite.
  expect_no_warning(glm_c(x, y, binomial(), penalty = 1))
})

test_that("the ridge penalty solves the penalized likelihood", {
  d <- sim_confounded(400)
  x <- model.matrix(~ x1 + x2, d)
  lam <- 5
  # Gaussian: closed form (X'X + lambda D)^{-1} X'y, intercept unpenalized.
  D <- diag(c(0, lam, lam))
  closed <- solve(crossprod(x) + D, crossprod(x, d$y))
  expect_equal(unname(glm_c(x, d$y, gaussian(), penalty = lam)$coefficients),
               unname(drop(closed)), tolerance = 1e-8)
  # Logistic: the penalized score is zero at the solution.
  lf <- glm_c(x, d$yb, binomial(), penalty = lam)
  score <- crossprod(x, d$yb - plogis(drop(x %*% lf$coefficients))) - D %*% lf$coefficients
  expect_lt(max(abs(score)), 1e-6)
})

test_that("multinomial treatment models match nnet::multinom to 1e-5", {
  skip_if_not_installed("nnet")
  set.seed(5)
  n <- 1200
  x1 <- rnorm(n)
  x2 <- rbinom(n, 1, 0.5)
  eta <- cbind(0, 0.3 + 0.8 * x1, -0.2 - 0.5 * x1 + 0.7 * x2)
  pr <- exp(eta) / rowSums(exp(eta))
  a <- factor(apply(pr, 1, function(p) sample(c("a", "b", "c"), 1, prob = p)))
  w <- runif(n, 0.5, 1.5)
  x <- cbind(`(Intercept)` = 1, x1 = x1, x2 = x2)
  ref <- nnet::multinom(a ~ x1 + x2, weights = w, trace = FALSE, reltol = 1e-14, maxit = 1000)
  lf <- learner_fit(lrn_glm(), x, a, w)
  expect_equal(t(lf$coefficients), coef(ref), tolerance = 1e-5, ignore_attr = TRUE)
  expect_equal(lf$fitted, fitted(ref), tolerance = 1e-5, ignore_attr = TRUE)
  expect_equal(lf$deviance, deviance(ref), tolerance = 1e-6)
  expect_equal(learner_predict(lf, x), lf$fitted, tolerance = 1e-12)
})

test_that("fits do not depend on the scale of the weights, in every family", {
  d <- sim_confounded(1500)
  x <- model.matrix(~ x1 + x2 + I(x1^2), d)
  withr::local_seed(2)
  ys <- list(binomial = d$yb, gaussian = d$y, poisson = rpois(nrow(d), exp(0.2 + 0.3 * d$x1)))
  for (fam in names(ys)) {
    base <- glm_c(x, ys[[fam]], fam, d$w)
    for (scale in c(1e-3, 1000)) {
      scaled <- glm_c(x, ys[[fam]], fam, scale * d$w)
      expect_equal(scaled$coefficients, base$coefficients, tolerance = 1e-10, info = fam)
      expect_equal(scaled$fitted, base$fitted, tolerance = 1e-10, info = fam)
      expect_identical(scaled$iter, base$iter, info = fam)
      expect_equal(scaled$deviance, scale * base$deviance, tolerance = 1e-10, info = fam)
      expect_equal(scaled$information, scale * base$information, tolerance = 1e-10, info = fam)
    }
  }
  # glm()'s binomial start reads the weights as numbers of trials and does not
  # reach the same fit within its iterations: the comparison has teeth.
  ref <- suppressWarnings(glm.fit(x, d$yb, weights = 1000 * d$w, family = binomial()))
  base <- glm_c(x, d$yb, "binomial", d$w)
  expect_false(isTRUE(all.equal(unname(ref$coefficients), unname(base$coefficients),
                                tolerance = 1e-8)))
})

test_that("weights of mean 1 start and stop where glm() does", {
  d <- sim_confounded(1500)
  x <- model.matrix(~ x1 + x2 + I(x1^2), d)
  w <- d$w / mean(d$w)
  ref <- suppressWarnings(glm.fit(x, d$yb, weights = w, family = binomial()))
  lf <- glm_c(x, d$yb, "binomial", w)
  expect_identical(lf$iter, ref$iter)
  expect_equal(unname(lf$coefficients), unname(ref$coefficients), tolerance = 1e-12)
})

test_that("multinomial fits do not depend on the scale of the weights", {
  withr::local_seed(7)
  n <- 900
  x <- cbind(x1 = rnorm(n), x2 = rbinom(n, 1, 0.5))
  eta <- cbind(0, 0.3 + 0.8 * x[, 1], -0.2 - 0.5 * x[, 1] + 0.7 * x[, 2])
  a <- factor(apply(exp(eta) / rowSums(exp(eta)), 1, function(p) sample(c("a", "b", "c"), 1, prob = p)))
  w <- runif(n, 0.5, 1.5)
  base <- learner_fit(lrn_glm(), x, a, w, intercept = TRUE)
  for (scale in c(1e-3, 1000)) {
    scaled <- learner_fit(lrn_glm(), x, a, scale * w, intercept = TRUE)
    expect_equal(scaled$coefficients, base$coefficients, tolerance = 1e-10)
    expect_equal(scaled$fitted, base$fitted, tolerance = 1e-10)
    expect_identical(scaled$iter, base$iter)
    expect_equal(scaled$deviance, scale * base$deviance, tolerance = 1e-10)
  }
})

test_that("lrn_glm() validates its arguments", {
  expect_snapshot(error = TRUE, lrn_glm(family = binomial("probit")))
  expect_snapshot(error = TRUE, lrn_glm(penalty = -1))
  expect_snapshot(error = TRUE, lrn_glm(family = "nonsense"))
  expect_error(learner_fit(lrn_glm("binomial"), cbind(1, 1:3), c(0, 2, 1)), "\\[0, 1\\]")
  expect_error(learner_fit(lrn_glm("poisson"), cbind(1, 1:3), c(0, -2, 1)), "non-negative")
})
