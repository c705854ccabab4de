# Every estimator has a matrix-level *_fit() that runs the same engine as
# its formula front end: with the treatment as a main effect and the columns
# of x as covariates, the two give the same numbers.

test_that("matrix fits equal their formula fits", {
  d <- sim_confounded(400)
  x <- as.matrix(d[, c("x1", "x2")])
  same <- function(a, b) {
    expect_equal(unname(coef(estimate_outcomes(a, se = "sandwich"))),
                 unname(coef(estimate_outcomes(b, se = "sandwich"))), tolerance = 1e-10)
    expect_equal(unname(vcov(estimate_outcomes(a, se = "sandwich"))),
                 unname(vcov(estimate_outcomes(b, se = "sandwich"))), tolerance = 1e-10)
  }
  for (strat in c(FALSE, TRUE)) {
    same(standardization_fit(x, d$a, d$y, stratified = strat),
         standardization(y ~ a + x1 + x2, data = d, treatment = a, stratified = strat))
  }
  same(marginal_outcome_fit(d$y, d$a, weights = d$w),
       marginal_outcome(y ~ a, data = d, weights = "w"))
  expect_equal(predict(xlearner_fit(x, d$a, d$y)),
               predict(xlearner(y ~ a + x1 + x2, data = d, treatment = a)), tolerance = 1e-10)
  set.seed(3)
  r_matrix <- rlearner_fit(x, d$a, d$y, crossfit = 3)
  set.seed(3)
  r_formula <- rlearner(y ~ a + x1 + x2, data = d, treatment = a, crossfit = 3)
  expect_equal(predict(r_matrix), predict(r_formula), tolerance = 1e-10)
  m <- suppressMessages(matching_fit(cbind(1, x), d$a))
  expect_equal(weights(m), weights(suppressMessages(matching(a ~ x1 + x2, data = d))),
               tolerance = 1e-12)
})

test_that("matrix fits check their inputs", {
  d <- sim_confounded(50)
  x <- as.matrix(d[, c("x1", "x2")])
  expect_error(standardization_fit(x, d$a[-1], d$y), "length")
  expect_error(xlearner_fit(x, d$a, d$y[-1]), "length")
  expect_error(rlearner_fit(x, rep(0:2, length.out = 50), d$y), "binary")
  expect_error(marginal_outcome_fit(letters[1:50], d$a), "numeric")
})

test_that("survival matrix fits equal their formula fits", {
  d <- sim_survival(600)
  x <- as.matrix(d[, "x", drop = FALSE])
  f_std <- survival_standardization(Surv(time, event) ~ a + x, data = d, treatment = a, se = "none")
  m_std <- survival_standardization_fit(x, d$a, d$time, d$event, se = "none")
  expect_equal(unname(m_std$survival), unname(f_std$survival), tolerance = 1e-12)
  f_cox <- survival_standardization(Surv(time, event) ~ a + x, data = d, treatment = a,
                                    model = "cox", se = "none")
  m_cox <- survival_standardization_fit(x, d$a, d$time, d$event, model = "cox", se = "none")
  expect_equal(unname(m_cox$survival), unname(f_cox$survival), tolerance = 1e-12)
  wm <- ipw_fit(x, d$a)
  f_km <- survival_ipw(Surv(time, event) ~ a, data = d, weight_model = ipw(a ~ x, data = d))
  m_km <- survival_ipw_fit(d$a, d$time, d$event, weight_model = wm)
  expect_equal(unname(m_km$survival), unname(f_km$survival), tolerance = 1e-12)
  expect_equal(m_km$std_error, f_km$std_error, tolerance = 1e-12)
  f_cens <- survival_ipw(Surv(time, event) ~ a, data = d, censoring_model = ~ x, se = "none")
  m_cens <- survival_ipw_fit(d$a, d$time, d$event, censoring_model = x, se = "none")
  expect_equal(unname(m_cens$survival), unname(f_cens$survival), tolerance = 1e-12)
  expect_error(survival_ipw_fit(d$a, d$time[-1], d$event), "length")
})
