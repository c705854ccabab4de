test_that("What If chapter 13: standardization of weight gain", {
  d <- nhefs_complete()
  ref_fit <- glm(whatif_outcome_formula, data = d)
  ref <- mean(predict(ref_fit, transform(d, qsmk = 1))) -
    mean(predict(ref_fit, transform(d, qsmk = 0)))
  fit <- standardization(whatif_outcome_formula, data = nhefs, treatment = qsmk,
                         na_action = "omit")
  expect_equal(fit$n, nrow(d))
  eff <- estimate_effect(fit)
  expect_equal(unname(coef(eff)), ref, tolerance = 1e-8)
  expect_equal(round(unname(coef(eff)), 1), 3.5)
})

test_that("potential outcomes equal glm() predictions under each level", {
  d <- sim_confounded(500)
  fit <- standardization(yb ~ a + x1 + x2 + a:x1, data = d, treatment = "a")
  expect_identical(fit$learner$family, "binomial")
  g <- glm(yb ~ a + x1 + x2 + a:x1, family = binomial(), data = d)
  po <- cbind(predict(g, transform(d, a = 0), type = "response"),
              predict(g, transform(d, a = 1), type = "response"))
  expect_equal(predict(fit), po, tolerance = 1e-8, ignore_attr = TRUE)
  expect_equal(predict(fit, newdata = d[1:4, c("x1", "x2")]), po[1:4, ],
               tolerance = 1e-8, ignore_attr = TRUE)
  rr <- estimate_effect(fit, contrast = "ratio")
  expect_equal(unname(coef(rr)), mean(po[, 2]) / mean(po[, 1]), tolerance = 1e-8)
})

test_that("stratified standardization fits one glm() per arm", {
  d <- sim_confounded(500)
  d$arm <- factor(ifelse(d$a == 1, "treated", "control"))
  fit <- standardization(y ~ arm + x1 + x2, data = d, treatment = arm, stratified = TRUE)
  po <- sapply(c("control", "treated"), function(l) {
    predict(lm(y ~ x1 + x2, data = d[d$arm == l, ]), d)
  })
  expect_equal(predict(fit), po, tolerance = 1e-8, ignore_attr = TRUE)
  expect_equal(colnames(predict(fit)), c("control", "treated"))
})

test_that("standardization recovers a known effect on simulated data", {
  d <- sim_confounded(4000, seed = 21)
  tab <- tidy(estimate_effect(standardization(y ~ a + x1 + x2, data = d, treatment = a)))
  expect_lt(abs(tab$estimate - 2), 4 * tab$std.error)
  expect_lt(tab$std.error, 0.05)
})

test_that("bad input to standardization() gets a clear error", {
  d <- sim_confounded(200)
  expect_snapshot(error = TRUE, standardization(y ~ a + x1, data = d))
  expect_snapshot(error = TRUE, standardization(y ~ x1, data = d, treatment = "a"))
  expect_snapshot(error = TRUE, standardization(y ~ a + x1, data = transform(d, y = "no"),
                                                treatment = "a"))
  expect_snapshot(error = TRUE, standardization(y ~ a + x1, data = d, treatment = "a",
                                                learner = "glm"))
})

test_that("a factor treatment gives the same standardized outcomes as its numeric codes", {
  d <- sim_confounded(n = 500)
  d$f <- factor(d$a)
  num <- standardization(y ~ a + x1 + x2, data = d, treatment = a)
  fac <- standardization(y ~ f + x1 + x2, data = d, treatment = f)
  expect_equal(unname(coef(estimate_effect(fac))), unname(coef(estimate_effect(num))),
               tolerance = 1e-12)
})

test_that("a character treatment gives the numbers of its 0/1 coding", {
  d <- sim_confounded(n = 300)
  d$arm <- ifelse(d$a == 1, "treated", "control")
  num <- standardization(y ~ a * x1 + x2, data = d, treatment = a)
  chr <- standardization(y ~ arm * x1 + x2, data = d, treatment = arm)
  expect_equal(unname(coef(estimate_effect(chr))), unname(coef(estimate_effect(num))),
               tolerance = 1e-12)
  expect_equal(unname(vcov(estimate_effect(chr))), unname(vcov(estimate_effect(num))),
               tolerance = 1e-12)
  expect_equal(chr$levels, c("control", "treated"))
  # stratified, and predictions for new data given as character
  num_s <- standardization(y ~ a + x1, data = d, treatment = a, stratified = TRUE)
  chr_s <- standardization(y ~ arm + x1, data = d, treatment = arm, stratified = TRUE)
  expect_equal(unname(predict(chr_s, newdata = d[1:5, ])), unname(predict(num_s, newdata = d[1:5, ])),
               tolerance = 1e-12)
})
