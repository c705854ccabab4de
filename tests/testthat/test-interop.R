# Weight models from WeightIt and MatchIt, and cobalt::bal.tab() on this
# package's weight models.

interop_formula <- treat ~ age + educ + race + married + nodegree + re74 + re75

test_that("weightit weights give the weighted means with a fixed-weight HC0 sandwich", {
  skip_if_not_installed("WeightIt")
  skip_if_not_installed("sandwich")
  d <- lalonde_data()
  for (estimand in c("ATE", "ATT", "ATC")) {
    W <- WeightIt::weightit(interop_formula, data = d, estimand = estimand)
    wm <- as_weight_model(W)
    expect_s3_class(wm, "causallib_weight_model")
    expect_equal(weights(wm), unname(W$weights))
    eff <- estimate_effect(wm, outcome = re78)
    ref <- lm(re78 ~ treat, data = d, weights = W$weights)
    expect_equal(unname(coef(eff)), unname(coef(ref)[2]), tolerance = 1e-10, label = estimand)
    V <- sandwich::vcovHC(ref, type = "HC0")
    expect_equal(unname(sqrt(vcov(eff)[1, 1])), sqrt(V[2, 2]), tolerance = 1e-8, label = estimand)
    # The same numbers as ipw() gives with the same weights held fixed, and
    # the same point estimate as this package's own IPW.
    own <- ipw(interop_formula, data = d, estimand = estimand)
    expect_equal(weights(wm), weights(own), tolerance = 1e-6, label = estimand)
    expect_equal(coef(eff), coef(estimate_effect(own, outcome = re78)), tolerance = 1e-6)
  }
  # Sampling weights are carried and invariant to rescaling.
  sw <- rep(c(1, 2), length.out = nrow(d))
  W1 <- WeightIt::weightit(interop_formula, data = d, s.weights = sw)
  W2 <- WeightIt::weightit(interop_formula, data = d, s.weights = sw * 10)
  e1 <- estimate_effect(as_weight_model(W1), outcome = re78)
  e2 <- estimate_effect(as_weight_model(W2), outcome = re78)
  expect_equal(coef(e1), coef(e2), tolerance = 1e-8)
  expect_equal(vcov(e1), vcov(e2), tolerance = 1e-8)
  ref <- lm(re78 ~ treat, data = d, weights = W1$weights * sw)
  expect_equal(unname(coef(e1)), unname(coef(ref)[2]), tolerance = 1e-10)
})

test_that("matchit weights give MatchIt's recommended cluster-robust SE", {
  skip_if_not_installed("sandwich")
  d <- lalonde_data()
  for (ratio in 1:2) {
    m <- MatchIt::matchit(interop_formula, data = d, ratio = ratio)
    wm <- as_weight_model(m, data = d)
    eff <- estimate_effect(wm, outcome = re78)
    md <- MatchIt::match.data(m)
    ref <- lm(re78 ~ treat, data = md, weights = weights)
    V <- sandwich::vcovCL(ref, cluster = ~ subclass, type = "HC0")
    expect_equal(unname(coef(eff)), unname(coef(ref)[2]), tolerance = 1e-10)
    expect_equal(unname(sqrt(vcov(eff)[1, 1])), sqrt(V[2, 2]), tolerance = 1e-8)
  }
  # With replacement: HC0, no clusters, on the matched units (sandwich's HC0
  # of an lm() with zero weights counts the zero-weight units in its n).
  m <- MatchIt::matchit(interop_formula, data = d, replace = TRUE)
  eff <- estimate_effect(as_weight_model(m), outcome = d$re78)
  ref <- lm(re78 ~ treat, data = d[m$weights > 0, ], weights = m$weights[m$weights > 0])
  expect_equal(unname(sqrt(vcov(eff)[1, 1])), sqrt(sandwich::vcovHC(ref, type = "HC0")[2, 2]),
               tolerance = 1e-8)
})

test_that("weightit and matchit objects go wherever a weight model goes", {
  skip_if_not_installed("WeightIt")
  d <- lalonde_data()
  W <- WeightIt::weightit(interop_formula, data = d, estimand = "ATE")
  m <- MatchIt::matchit(interop_formula, data = d)
  # balance_table() on the object itself
  bal <- balance_table(W)
  own <- balance_table(as_weight_model(W))
  expect_equal(bal, own)
  expect_true(nrow(balance_table(m)) > 0)
  # doubly robust estimators: the outcome model with the given weights
  om <- standardization(re78 ~ treat + age + educ + race + married + re74 + re75, data = d,
                        treatment = treat)
  ws <- weighted_standardization(om, W)
  ref <- lm(re78 ~ treat + age + educ + race + married + re74 + re75, data = d, weights = W$weights)
  po <- sapply(0:1, function(t) mean(predict(ref, transform(d, treat = t))))
  expect_equal(unname(coef(estimate_effect(ws, se = "none"))), po[2] - po[1], tolerance = 1e-8)
  dr <- aipw(om, W)
  ps <- W$ps
  Q1 <- predict(lm(re78 ~ treat + age + educ + race + married + re74 + re75, data = d),
                transform(d, treat = 1))
  Q0 <- predict(lm(re78 ~ treat + age + educ + race + married + re74 + re75, data = d),
                transform(d, treat = 0))
  a <- d$treat
  aipw_ref <- mean(Q1 + a / ps * (d$re78 - Q1)) - mean(Q0 + (1 - a) / (1 - ps) * (d$re78 - Q0))
  expect_equal(unname(coef(estimate_effect(dr))), aipw_ref, tolerance = 1e-8)
  # survival curves weighted by the given weights equal survfit's
  skip_if_not_installed("survival")
  rd <- survival::rotterdam
  Wr <- WeightIt::weightit(hormon ~ age + meno + nodes + pgr + er, data = rd)
  km <- survival_ipw(survival::Surv(dtime, death) ~ hormon, data = rd, weight_model = Wr, se = "none")
  sf <- survival::survfit(survival::Surv(dtime, death) ~ hormon, data = rd, weights = Wr$weights)
  t <- c(1000, 2000, 3000)
  ref_s <- summary(sf, times = t)$surv
  expect_equal(as.vector(t(km$survival[, findInterval(t, km$times)])), ref_s, tolerance = 1e-8)
})

test_that("fixed weights refuse what they cannot do", {
  skip_if_not_installed("WeightIt")
  d <- lalonde_data()
  W <- WeightIt::weightit(interop_formula, data = d, method = "ebal")
  wm <- as_weight_model(W)
  expect_snapshot(error = TRUE, estimate_effect(wm, outcome = re78, se = "bootstrap"))
  expect_snapshot(error = TRUE, as_weight_model(lm(re78 ~ treat, data = d)))
  expect_snapshot(error = TRUE, aipw(standardization(re78 ~ treat + age, data = d, treatment = treat), wm))
  expect_snapshot(print(wm))
})

test_that("cobalt::bal.tab() takes this package's weight models", {
  skip_if_not_installed("cobalt")
  d <- lalonde_data()
  for (fit in list(ipw(interop_formula, data = d, estimand = "ATT"),
                   suppressMessages(matching(interop_formula, data = d)))) {
    b <- cobalt::bal.tab(fit, un = TRUE, binary = "std")
    X <- causallib:::covariate_matrix(fit)
    ref <- cobalt::bal.tab(as.data.frame(X), treat = d$treat, weights = weights(fit),
                           estimand = "ATT", un = TRUE, binary = "std",
                           method = if (inherits(fit, "causallib_matching")) "matching" else "weighting",
                           distance = fit$propensity[, 2L])
    expect_equal(b$Balance, ref$Balance)
    expect_true(all(colnames(X) %in% rownames(b$Balance)))
  }
})
