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
