# Shared test fixtures.

whatif_ps_formula <- qsmk ~ sex + race + age + I(age^2) + education +
  smokeintensity + I(smokeintensity^2) + smokeyrs + I(smokeyrs^2) +
  exercise + active + wt71 + I(wt71^2)

whatif_outcome_formula <- wt82_71 ~ qsmk + sex + race + age + I(age^2) +
  education + smokeintensity + I(smokeintensity^2) + smokeyrs +
  I(smokeyrs^2) + exercise + active + wt71 + I(wt71^2) + qsmk:smokeintensity

nhefs_complete <- function() nhefs[!is.na(nhefs$wt82_71), ]

# A small confounded data set with a known average effect of 2.
sim_confounded <- function(n = 2000, seed = 1) {
  withr::local_seed(seed)
  x1 <- stats::rnorm(n)
  x2 <- stats::rbinom(n, 1, 0.4)
  a <- stats::rbinom(n, 1, stats::plogis(-0.3 + 0.8 * x1 + 0.5 * x2))
  y <- 1 + 2 * a + 1.5 * x1 - x2 + stats::rnorm(n)
  data.frame(x1 = x1, x2 = x2, a = a, y = y,
             yb = stats::rbinom(n, 1, stats::plogis(-0.5 + 0.7 * a + x1)),
             w = stats::runif(n, 0.5, 2))
}

# Central-difference Jacobian of f at theta.
num_jacobian <- function(f, theta, h = 1e-6) {
  f0 <- f(theta)
  J <- matrix(0, length(f0), length(theta))
  for (j in seq_along(theta)) {
    e <- replace(numeric(length(theta)), j, h * max(1, abs(theta[j])))
    J[, j] <- (f(theta + e) - f(theta - e)) / (2 * e[j])
  }
  J
}

# A learner wrapping glm(): the same model as lrn_glm(), fitted in R.
# quasibinomial: the same fit as binomial without its warning on
# non-integer case weights.
glm_custom <- function() {
  lrn_custom(
    fit = function(x, y, weights) {
      family <- if (is.factor(y)) stats::quasibinomial() else stats::gaussian()
      stats::glm(y ~ x - 1, family = family, weights = weights)
    },
    predict = function(object, x) {
      beta <- stats::coef(object)
      beta[is.na(beta)] <- 0
      drop(object$family$linkinv(x %*% beta))
    },
    name = "glm"
  )
}

# MatchIt's lalonde data (the tests that use it skip without MatchIt).
lalonde_data <- function() {
  skip_if_not_installed("MatchIt")
  e <- new.env()
  utils::data("lalonde", package = "MatchIt", envir = e)
  e$lalonde
}
