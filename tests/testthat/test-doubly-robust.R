whatif_dr_models <- function() {
  d <- nhefs_complete()
  list(d = d, om = standardization(whatif_outcome_formula, data = d, treatment = qsmk),
       wm = ipw(whatif_ps_formula, data = d))
}

test_that("AIPW and TMLE on NHEFS equal hand computations from glm() and lm()", {
  m <- whatif_dr_models()
  d <- m$d
  e <- fitted(glm(whatif_ps_formula, binomial(), d))
  fo <- lm(whatif_outcome_formula, d)
  m1 <- predict(fo, transform(d, qsmk = 1))
  m0 <- predict(fo, transform(d, qsmk = 0))
  A <- d$qsmk
  Y <- d$wt82_71
  t1 <- m1 + A * (Y - m1) / e
  t0 <- m0 + (1 - A) * (Y - m0) / (1 - e)
  eff <- estimate_effect(aipw(m$om, m$wm))
  expect_equal(unname(coef(eff)), mean(t1) - mean(t0), tolerance = 1e-8)
  expect_equal(tidy(eff)$std.error, sd(t1 - t0) * sqrt((length(Y) - 1) / length(Y)) / sqrt(length(Y)),
               tolerance = 1e-8)
  # TMLE: fluctuations on the outcome scaled to [0, 1]
  lo <- min(Y); hi <- max(Y)
  s <- function(v) pmin(pmax((v - lo) / (hi - lo), 1e-6), 1 - 1e-6)
  ys <- (Y - lo) / (hi - lo)
  upd <- function(mk, arm, p) {
    i <- A == arm
    f <- suppressWarnings(glm(ys[i] ~ -1 + I(1 / p[i]), offset = qlogis(s(mk[i])), family = binomial(),
                              control = glm.control(epsilon = 1e-12)))
    plogis(qlogis(s(mk)) + coef(f) / p)
  }
  q1 <- upd(m1, 1, e)
  q0 <- upd(m0, 0, 1 - e)
  tm <- estimate_effect(tmle(m$om, m$wm))
  expect_equal(unname(coef(tm)), (hi - lo) * (mean(q1) - mean(q0)), tolerance = 1e-6)
  expect_equal(unname(coef(tm)), unname(coef(eff)), tolerance = 0.05)
})

test_that("AIPW is doubly robust: unbiased when either model is right", {
  withr::local_seed(42)
  n <- 20000
  x1 <- rnorm(n); x2 <- rnorm(n)
  a <- rbinom(n, 1, plogis(-0.2 + 0.8 * x1 + 0.3 * x2^2 - 0.3))
  y <- 1 + 2 * a + x1 + 1.5 * x2^2 + rnorm(n)
  d <- data.frame(x1, x2, x2sq = x2^2, a, y)
  truth <- 2
  right_o <- standardization(y ~ a + x1 + x2sq, data = d, treatment = a)
  wrong_o <- standardization(y ~ a + x1 + x2, data = d, treatment = a)
  right_w <- ipw(a ~ x1 + x2sq, data = d)
  wrong_w <- ipw(a ~ x1 + x2, data = d)
  # distance from the truth in standard errors
  z <- function(o, w) {
    t <- tidy(estimate_effect(aipw(o, w)))
    abs(t$estimate - truth) / t$std.error
  }
  expect_lt(z(right_o, wrong_w), 3)
  expect_lt(z(wrong_o, right_w), 3)
  expect_gt(z(wrong_o, wrong_w), 5)
  naive <- tidy(estimate_effect(wrong_o))
  expect_gt(abs(naive$estimate - truth) / naive$std.error, 5)
})

test_that("AIPW influence-function intervals cover the truth about 95% of the time", {
  withr::local_seed(7)
  covered <- vapply(1:200, function(r) {
    n <- 400
    x <- rnorm(n)
    a <- rbinom(n, 1, plogis(0.5 * x))
    y <- 1 + a + x + rnorm(n)
    d <- data.frame(x, a, y)
    ci <- confint(estimate_effect(aipw(standardization(y ~ a + x, data = d, treatment = a),
                                       ipw(a ~ x, data = d))))
    ci[1, 1] <= 1 && 1 <= ci[1, 2]
  }, logical(1))
  expect_gt(mean(covered), 0.9)
  expect_lt(mean(covered), 0.99)
})

test_that("cross-fitting predicts each fold from models fitted on the others", {
  d <- sim_confounded(n = 300)
  om <- standardization(y ~ a + x1 + x2, data = d, treatment = a)
  wm <- ipw(a ~ x1 + x2, data = d)
  set.seed(9)
  cf <- aipw(om, wm, crossfit = 3)
  set.seed(9)
  expect_identical(aipw(om, wm, crossfit = 3)$folds, cf$folds)
  terms <- matrix(0, 300, 2)
  for (k in 1:3) {
    v <- cf$folds == k
    e <- predict(glm(a ~ x1 + x2, binomial(), d[!v, ]), d[v, ], type = "response")
    fo <- lm(y ~ a + x1 + x2, d[!v, ])
    m1 <- predict(fo, transform(d[v, ], a = 1))
    m0 <- predict(fo, transform(d[v, ], a = 0))
    terms[v, 2] <- m1 + d$a[v] * (d$y[v] - m1) / e
    terms[v, 1] <- m0 + (1 - d$a[v]) * (d$y[v] - m0) / (1 - e)
  }
  expect_equal(unname(coef(estimate_effect(cf))), mean(terms[, 2] - terms[, 1]), tolerance = 1e-8)
  expect_snapshot(error = TRUE, estimate_effect(cf, se = "bootstrap", R = 5))
})

test_that("weighted and propensity-feature standardization equal their lm() versions", {
  d <- sim_confounded(n = 400)
  om <- standardization(y ~ a + x1, data = d, treatment = a, weights = d$w)
  wm <- ipw(a ~ x1 + x2, data = d, weights = d$w)
  ws <- weighted_standardization(om, wm)
  fo <- lm(y ~ a + x1, d, weights = d$w * weights(wm))
  po <- sapply(0:1, function(k) weighted.mean(predict(fo, transform(d, a = k)), d$w))
  expect_equal(unname(coef(estimate_effect(ws, se = "none"))), po[2] - po[1], tolerance = 1e-8)
  d$lp <- qlogis(predict(wm)[, 2])
  ps <- ps_standardization(om, wm)
  fp <- lm(y ~ a + x1 + lp, d, weights = d$w)
  pp <- sapply(0:1, function(k) weighted.mean(predict(fp, transform(d, a = k)), d$w))
  expect_equal(unname(coef(estimate_effect(ps, se = "none"))), pp[2] - pp[1], tolerance = 1e-8)
  expect_snapshot(error = TRUE, estimate_effect(ws, se = "sandwich"))
})

test_that("predict() gives each method's potential outcomes, for newdata too", {
  d <- sim_confounded(n = 400)
  om <- standardization(y ~ a + x1, data = d, treatment = a, weights = d$w)
  wm <- ipw(a ~ x1 + x2, data = d, weights = d$w)
  new <- d[1:25, setdiff(names(d), "a")]
  under <- function(f, data) sapply(0:1, function(k) predict(f, transform(data, a = k)))
  # aipw and tmle: the outcome model as fitted
  fo <- lm(y ~ a + x1, d, weights = d$w)
  expect_equal(unname(predict(aipw(om, wm), newdata = new)), unname(under(fo, new)), tolerance = 1e-8)
  expect_equal(predict(tmle(om, wm)), predict(om), tolerance = 1e-12)
  # IP-weighted refit
  ws <- weighted_standardization(om, wm)
  fw <- lm(y ~ a + x1, d, weights = d$w * weights(wm))
  expect_equal(unname(predict(ws, newdata = new)), unname(under(fw, new)), tolerance = 1e-8)
  expect_equal(predict(ws, newdata = d), predict(ws), tolerance = 1e-10)
  # propensity feature: the weight model predicts the propensities of newdata
  d$lp <- qlogis(predict(wm)[, 2])
  fp <- lm(y ~ a + x1 + lp, d, weights = d$w)
  ps <- ps_standardization(om, wm)
  new$lp <- qlogis(predict(glm(a ~ x1 + x2, quasibinomial(), d, weights = w), new, type = "response"))
  expect_equal(unname(predict(ps, newdata = new)), unname(under(fp, new)), tolerance = 1e-6)
  expect_equal(predict(ps, newdata = d), predict(ps), tolerance = 1e-10)
  # the weight model's predictions
  expect_equal(predict(ps, newdata = new, type = "propensity"),
               predict(wm, newdata = new, type = "propensity"))
  expect_equal(predict(ps, newdata = d, type = "weights"), predict(wm, newdata = d, type = "weights"))
  expect_snapshot(error = TRUE, predict(ps, type = "cate"))
  expect_snapshot(error = TRUE, predict(ps, newdata = new[, c("x1", "y")]))
})

test_that("three treatment levels and every contrast work", {
  d <- sim_confounded(n = 900)
  withr::local_seed(3)
  d$t3 <- factor(sample(c("a", "b", "c"), 900, replace = TRUE, prob = c(0.4, 0.3, 0.3)))
  d$y <- d$y + (d$t3 == "b") - 0.5 * (d$t3 == "c")
  om <- standardization(yb ~ t3 + x1, data = d, treatment = t3)
  wm <- ipw(t3 ~ x1, data = d)
  for (f in list(aipw, tmle)) {
    fit <- f(om, wm)
    for (contrast in c("diff", "ratio", "odds_ratio")) {
      eff <- estimate_effect(fit, contrast = contrast, reference = "b")
      expect_equal(tidy(eff)$term, c("a vs b", "c vs b"))
      expect_true(all(is.finite(tidy(eff)$std.error)))
    }
  }
  P <- predict(wm)
  Q <- predict(om)
  A <- model.matrix(~ t3 - 1, d)
  mu <- colMeans(Q + A * (d$yb - Q) / P)
  expect_equal(unname(estimate_outcomes(aipw(om, wm))$estimate), unname(mu), tolerance = 1e-10)
})

test_that("the AIPW bootstrap in C equals the R refitting loop", {
  d <- sim_confounded(n = 250)
  fit <- aipw(standardization(y ~ a + x1 + x2, data = d, treatment = a), ipw(a ~ x1 + x2, data = d))
  set.seed(5)
  c_reps <- estimate_outcomes(fit, se = "bootstrap", R = 4)$replicates
  set.seed(5)
  counts <- bootstrap_counts(250, 4)
  r_reps <- bootstrap_replicates(fit, counts, engine = "r")
  expect_equal(unname(c_reps), unname(r_reps), tolerance = 1e-8)
})

test_that("doubly robust input errors are clear", {
  d <- sim_confounded(n = 200)
  om <- standardization(y ~ a + x1, data = d, treatment = a)
  expect_snapshot(error = TRUE, aipw(om, ipw(a ~ x1, data = d, estimand = "ATO")))
  om_att <- standardization(y ~ a + x1, data = d, treatment = a, estimand = "ATT")
  expect_snapshot(error = TRUE, aipw(om_att, ipw(a ~ x1, data = d, estimand = "ATC")))
  expect_snapshot(error = TRUE, aipw(om, ipw(a ~ x1, data = d), estimand = "ATT"))
  expect_snapshot(error = TRUE, aipw(y ~ a + x1, a ~ x1, data = d, treatment = a,
                                     propensity_learner = lrn_glm("gaussian")))
  expect_snapshot(error = TRUE, aipw(om, ipw(a ~ x1, data = d[-1, ])))
  expect_snapshot(error = TRUE, tmle(om, "not a model"))
})

test_that("aipw() with a character treatment gives the numbers of its 0/1 coding", {
  d <- sim_confounded(n = 300)
  d$arm <- ifelse(d$a == 1, "treated", "control")
  num <- aipw(standardization(y ~ a + x1 + x2, data = d, treatment = a), ipw(a ~ x1 + x2, data = d))
  chr <- aipw(standardization(y ~ arm + x1 + x2, data = d, treatment = arm),
              ipw(arm ~ x1 + x2, data = d))
  expect_equal(unname(coef(estimate_effect(chr))), unname(coef(estimate_effect(num))),
               tolerance = 1e-10)
  expect_equal(unname(vcov(estimate_effect(chr))), unname(vcov(estimate_effect(num))),
               tolerance = 1e-10)
})
