# The ATT and ATC of g-computation, AIPW and TMLE, against hand
# computations on copies of the data (lm()/glm() and predict() on the
# treated or the controls with the treatment set, which is what
# marginaleffects::avg_comparisons(newdata = subset(treat == 1)) computes),
# a hand M-estimation sandwich and the bootstrap.

lalonde_ps <- treat ~ age + educ + race + married + nodegree + re74 + re75
lalonde_om <- re78 ~ treat * (age + educ + race + married + nodegree + re74 + re75)

# The cases: data, outcome formula, propensity formula, treatment name and
# the outcome family of the hand fits.
estimand_cases <- function() {
  d <- lalonde_data()
  d$employed78 <- as.numeric(d$re78 > 0)
  n <- nhefs_complete()
  list(
    list(id = "lalonde re78", data = d, om = lalonde_om, ps = lalonde_ps, a = "treat",
         family = gaussian()),
    list(id = "lalonde employed78", data = d,
         om = employed78 ~ treat + age + educ + race + married + nodegree + re74 + re75,
         ps = lalonde_ps, a = "treat", family = binomial()),
    list(id = "nhefs wt82_71", data = n, om = whatif_outcome_formula, ps = whatif_ps_formula,
         a = "qsmk", family = gaussian())
  )
}

# The subset (units of level `level`) and its mean of the outcome model's
# predictions with the treatment set to 0 and 1, by glm() and predict().
hand_subset_means <- function(g, data, a, level) {
  sub <- data[data[[a]] == level, , drop = FALSE]
  vapply(0:1, function(v) {
    sub[[a]] <- v
    mean(stats::predict(g, newdata = sub, type = "response"))
  }, numeric(1))
}

# The M-estimation sandwich of (beta, mu0, mu1) by hand: the GLM's score
# x (y - mu) (canonical link), and the subset means pop (m_k(x) - mu_k).
hand_subset_vcov <- function(g, data, a, pop) {
  n <- nrow(data)
  X <- stats::model.matrix(g)
  y <- g$y
  eta <- drop(X %*% stats::coef(g))
  fam <- g$family
  p <- ncol(X)
  mk <- lapply(0:1, function(v) {
    cf <- data
    cf[[a]] <- v
    Xk <- stats::model.matrix(stats::delete.response(stats::terms(g)), cf)
    ek <- drop(Xk %*% stats::coef(g))
    list(m = fam$linkinv(ek), dm = fam$mu.eta(ek) * Xk)
  })
  mu <- vapply(mk, function(k) sum(pop * k$m) / sum(pop), numeric(1))
  Psi <- cbind(X * (y - fam$linkinv(eta)), pop * (mk[[1]]$m - mu[1]), pop * (mk[[2]]$m - mu[2]))
  A <- matrix(0, p + 2, p + 2)
  A[1:p, 1:p] <- crossprod(X, fam$mu.eta(eta) * X) / n
  for (k in 1:2) {
    A[p + k, 1:p] <- -colSums(pop * mk[[k]]$dm) / n
    A[p + k, p + k] <- mean(pop)
  }
  Ai <- solve(A)
  V <- Ai %*% (crossprod(Psi) / n) %*% t(Ai) / n
  list(mu = mu, V = V[p + 1:2, p + 1:2])
}

test_that("g-computation ATT and ATC equal glm() predictions on copies of the treated or controls, with the hand sandwich", {
  for (cs in estimand_cases()) {
    d <- cs$data
    g <- stats::glm(cs$om, family = cs$family, data = d)
    for (est in c("ATT", "ATC")) {
      level <- if (est == "ATT") 1 else 0
      id <- paste(cs$id, est)
      fit <- standardization(cs$om, data = d, treatment = !!cs$a, estimand = est)
      mu <- estimate_outcomes(fit)
      ref <- hand_subset_means(g, d, cs$a, level)
      expect_equal(unname(coef(mu)), ref, tolerance = 1e-8, info = id)
      hand <- hand_subset_vcov(g, d, cs$a, as.double(d[[cs$a]] == level))
      expect_equal(hand$mu, ref, tolerance = 1e-10, info = id)
      expect_equal(unname(vcov(mu)), hand$V, tolerance = 1e-6, info = id)
      eff <- estimate_effect(fit)
      expect_equal(tidy(eff)$std.error, sqrt(sum(hand$V * c(1, -1, -1, 1))), tolerance = 1e-6,
                   info = id)
      expect_identical(fit$estimand, est)
      expect_identical(glance(eff)$estimand, est)
    }
  }
})

test_that("stratified g-computation of the ATT fits one model per arm and averages over the treated", {
  d <- lalonde_data()
  fit <- standardization(re78 ~ treat + age + educ + re74, data = d, treatment = treat,
                         stratified = TRUE, estimand = "ATT")
  tr <- d[d$treat == 1, ]
  m <- vapply(0:1, function(v) {
    mean(stats::predict(stats::lm(re78 ~ age + educ + re74, data = d[d$treat == v, ]), newdata = tr))
  }, numeric(1))
  expect_equal(unname(coef(estimate_outcomes(fit))), m, tolerance = 1e-8)
  # the S-learner with the full interaction is the same model
  inter <- standardization(re78 ~ treat * (age + educ + re74), data = d, treatment = treat,
                           estimand = "ATT")
  expect_equal(vcov(estimate_outcomes(fit)), vcov(estimate_outcomes(inter)), tolerance = 1e-6)
})

test_that("the sandwich of the ATT agrees with the bootstrap", {
  d <- lalonde_data()
  fit <- standardization(lalonde_om, data = d, treatment = treat, estimand = "ATT")
  dr <- aipw(lalonde_om, lalonde_ps, data = d, treatment = treat, estimand = "ATT")
  for (m in list(fit, dr)) {
    sw <- tidy(estimate_effect(m))
    withr::local_seed(7)
    bs <- tidy(estimate_effect(m, se = "bootstrap", R = 400))
    expect_equal(bs$estimate, sw$estimate)
    expect_equal(bs$std.error, sw$std.error, tolerance = 0.15, info = model_label(m))
  }
})

test_that("AIPW and TMLE of the ATT and ATC equal hand computations from glm() and lm()", {
  for (cs in estimand_cases()[c(1, 3)]) {
    d <- cs$data
    A <- d[[cs$a]]
    Y <- stats::model.response(stats::model.frame(cs$om, d))
    e <- stats::fitted(stats::glm(cs$ps, family = binomial(), data = d))
    g <- stats::lm(cs$om, data = d)
    m <- lapply(0:1, function(v) {
      cf <- d
      cf[[cs$a]] <- v
      unname(stats::predict(g, newdata = cf))
    })
    for (est in c("ATT", "ATC")) {
      id <- paste(cs$id, est)
      t <- if (est == "ATT") 1 else 0
      pop <- as.double(A == t)
      et <- if (t == 1) e else 1 - e
      # the weight of a unit of arm k: e_t / e_k
      w <- list(et / (1 - e), et / e)
      terms <- vapply(1:2, function(k) pop * m[[k]] + (A == k - 1) * w[[k]] * (Y - m[[k]]),
                      numeric(length(Y)))
      mu <- colSums(terms) / sum(pop)
      psi <- terms - outer(pop, mu)
      se <- sqrt(sum((psi[, 2] - psi[, 1])^2)) / sum(pop)
      wm <- ipw(cs$ps, data = d, estimand = est)
      om <- standardization(cs$om, data = d, treatment = !!cs$a)
      eff <- estimate_effect(aipw(om, wm))
      expect_equal(unname(coef(eff)), mu[2] - mu[1], tolerance = 1e-8, info = id)
      expect_equal(tidy(eff)$std.error, se, tolerance = 1e-8, info = id)
      expect_identical(glance(eff)$estimand, est)
      # TMLE: a fluctuation per arm along 1{A = k} w_k on the outcome scaled to [0, 1]
      lo <- min(Y)
      hi <- max(Y)
      s <- function(v) pmin(pmax((v - lo) / (hi - lo), 1e-6), 1 - 1e-6)
      ys <- (Y - lo) / (hi - lo)
      qstar <- vapply(1:2, function(k) {
        i <- A == k - 1
        f <- suppressWarnings(stats::glm(ys[i] ~ -1 + w[[k]][i], offset = stats::qlogis(s(m[[k]][i])),
                                         family = binomial(), control = glm.control(epsilon = 1e-12)))
        stats::plogis(stats::qlogis(s(m[[k]])) + stats::coef(f) * w[[k]])
      }, numeric(length(Y)))
      tm <- estimate_outcomes(tmle(om, wm))
      expect_equal(unname(coef(tm)), lo + (hi - lo) * colSums(pop * qstar) / sum(pop),
                   tolerance = 1e-6, info = id)
      # in its own arm the target mean is the arm's observed mean
      expect_equal(unname(coef(tm))[t + 1], mean(Y[A == t]), tolerance = 1e-6, info = id)
    }
  }
})

test_that("the formula form of aipw() and tmle() passes estimand and treated to both models", {
  d <- lalonde_data()
  d$arm <- ifelse(d$treat == 1, "nsw", "psid")
  om_f <- update(lalonde_om, . ~ . - treat + arm - treat:(age + educ + race + married + nodegree + re74 + re75) +
                   arm:(age + educ + race + married + nodegree + re74 + re75))
  ps_f <- update(lalonde_ps, arm ~ .)
  for (fn in list(aipw, tmle)) {
    by_label <- fn(om_f, ps_f, data = d, treatment = arm, estimand = "ATT", treated = "nsw")
    by_code <- fn(lalonde_om, lalonde_ps, data = d, treatment = treat, estimand = "ATT")
    expect_equal(unname(coef(estimate_outcomes(by_label))[c("psid", "nsw")]),
                 unname(coef(estimate_outcomes(by_code))), tolerance = 1e-8)
    expect_identical(by_label$weight_model$target, 1L)
    expect_identical(by_label$outcome_model$target, 1L)
  }
})

test_that("a labelled treatment needs `treated` for the ATT and ATC, in every estimator that takes them", {
  d <- lalonde_data()
  d$arm <- factor(ifelse(d$treat == 1, "nsw", "psid"), levels = c("nsw", "psid"))
  expect_snapshot(error = TRUE, ipw(arm ~ age + educ, data = d, estimand = "ATT"))
  expect_snapshot(error = TRUE, ipw(arm ~ age + educ, data = d, estimand = "ATC", treated = "cps"))
  expect_snapshot(error = TRUE, matching(arm ~ age + educ, data = d))
  expect_snapshot(error = TRUE, standardization(re78 ~ arm + age, data = d, treatment = arm,
                                                estimand = "ATC"))
  expect_snapshot(error = TRUE, aipw(re78 ~ arm + age, arm ~ age, data = d, treatment = arm,
                                     estimand = "ATT"))
  d3 <- d
  d3$arm3 <- factor(sample(c("a", "b", "c"), nrow(d), replace = TRUE))
  expect_snapshot(error = TRUE, ipw(arm3 ~ age, data = d3, estimand = "ATC", treated = "b"))
  # numbers and FALSE/TRUE order themselves
  expect_identical(ipw(treat ~ age, data = d, estimand = "ATT")$target, 2L)
  expect_identical(ipw(I(treat == 1) ~ age, data = d, estimand = "ATC")$target, 1L)
  expect_identical(ipw(factor(treat) ~ age, data = d, estimand = "ATT")$target, 2L)
  # ... unless a factor lists its numbers out of order
  d$rev <- factor(d$treat, levels = c(1, 0))
  expect_snapshot(error = TRUE, ipw(rev ~ age, data = d, estimand = "ATT"))
  expect_identical(ipw(rev ~ age, data = d, estimand = "ATT", treated = 1)$target, 1L)
})

test_that("`treated` chooses the population: the ATT of a level is the ATC of the other", {
  d <- lalonde_data()
  d$arm <- factor(ifelse(d$treat == 1, "nsw", "psid"), levels = c("nsw", "psid"))
  att_nsw <- ipw(arm ~ age + educ + re74, data = d, estimand = "ATT", treated = "nsw")
  att_num <- ipw(treat ~ age + educ + re74, data = d, estimand = "ATT")
  expect_equal(weights(att_nsw), weights(att_num), tolerance = 1e-10)
  atc_psid <- ipw(arm ~ age + educ + re74, data = d, estimand = "ATC", treated = "psid")
  expect_equal(weights(atc_psid), weights(att_num), tolerance = 1e-10)
  atc_num <- ipw(treat ~ age + educ + re74, data = d, estimand = "ATC")
  expect_equal(weights(ipw(arm ~ age + educ + re74, data = d, estimand = "ATT", treated = "psid")),
               weights(atc_num), tolerance = 1e-10)
  m_lab <- matching(arm ~ age + educ + re74, data = d, treated = "nsw")
  m_num <- matching(treat ~ age + educ + re74, data = d)
  expect_equal(weights(m_lab), weights(m_num))
  expect_equal(weights(matching(arm ~ age + educ + re74, data = d, treated = "psid")),
               weights(matching(treat ~ age + educ + re74, data = d, estimand = "ATC")))
  s_lab <- standardization(re78 ~ arm + age + educ, data = d, treatment = arm, estimand = "ATC",
                           treated = "nsw")
  s_num <- standardization(re78 ~ treat + age + educ, data = d, treatment = treat, estimand = "ATC")
  expect_equal(unname(rev(coef(estimate_outcomes(s_lab)))), unname(coef(estimate_outcomes(s_num))),
               tolerance = 1e-8)
  # a refit (the bootstrap) keeps the population
  expect_equal(refit(s_lab)$population, s_lab$population)
  expect_identical(refit(att_nsw)$target, att_nsw$target)
})

test_that("a learner that cannot model a treatment is an error, not replaced by a logistic model", {
  d <- lalonde_data()
  expect_snapshot(error = TRUE, ipw(treat ~ age, data = d, learner = lrn_glm("gaussian")))
  expect_snapshot(error = TRUE, matching(treat ~ age, data = d, learner = lrn_glm("poisson")))
  expect_snapshot(error = TRUE, xlearner(re78 ~ treat + age, data = d, treatment = treat,
                                         propensity_learner = lrn_glm("gaussian")))
})

test_that("AIPW and TMLE of the ATT and ATC are unbiased with correct models, and their intervals cover", {
  withr::local_seed(3)
  sim <- function(n) {
    x1 <- stats::rnorm(n)
    x2 <- stats::rbinom(n, 1, 0.4)
    a <- stats::rbinom(n, 1, stats::plogis(-0.3 + 0.8 * x1 + 0.5 * x2))
    y <- 1 + 2 * a + 1.5 * x1 - x2 + a * x1 + stats::rnorm(n)
    data.frame(x1, x2, a, y)
  }
  reps <- 60
  out <- vapply(seq_len(reps), function(r) {
    d <- sim(1000)
    unlist(lapply(c("ATT", "ATC"), function(est) {
      # the effect in the population of the target arm: 2 + its mean of x1
      truth <- 2 + mean(d$x1[d$a == (est == "ATT")])
      vapply(list(aipw, tmle), function(fn) {
        t <- tidy(estimate_effect(fn(y ~ a * (x1 + x2), a ~ x1 + x2, data = d, treatment = a,
                                     estimand = est)))
        c(t$estimate - truth, t$std.error, t$conf.low <= truth && truth <= t$conf.high)
      }, numeric(3))
    }))
  }, numeric(12))
  for (j in 0:3) {
    err <- out[3 * j + 1, ]
    se <- out[3 * j + 2, ]
    cover <- out[3 * j + 3, ]
    expect_lt(abs(mean(err)), 3 * stats::sd(err) / sqrt(reps))
    # influence-function intervals: about the spread of the estimates (for the
    # ATT and ATC somewhat wider: the estimated propensity carries information
    # the nonparametric influence function does not use, Hahn 1998)
    expect_gt(mean(se) / stats::sd(err), 0.85)
    expect_lt(mean(se) / stats::sd(err), 1.4)
    expect_gte(mean(cover), 0.85)
  }
})

# What marginaleffects::avg_comparisons(lm, variables = "treat", newdata =
# subset(d, treat == 1), vcov = "HC0") reports, by hand (marginaleffects
# 1.0.0, the CRAN version, does not run on R 4.2 -- it calls base R 4.4's
# `%||%` -- so it cannot be the reference here): the mean over the treated
# of the predictions with treat set to 1 minus 0, and a delta-method
# standard error from a numerical gradient in the coefficients and their
# HC0 sandwich. That standard error holds the treated's covariates fixed;
# the package's sandwich also counts the sampling variability of their
# mean. With influence functions, ours is IF_model + IF_average, the
# delta method's IF_model alone: both pieces are checked.
test_that("the ATT of g-computation is avg_comparisons()'s estimate; its SE adds the covariates' variability to the delta method's", {
  skip_if_not_installed("sandwich")
  d <- lalonde_data()
  m <- stats::lm(lalonde_om, data = d)
  treated <- d[d$treat == 1, ]
  effect_at <- function(beta) {
    m$coefficients <- beta
    d1 <- treated
    d1$treat <- 1
    d0 <- treated
    d0$treat <- 0
    stats::predict(m, newdata = d1) - stats::predict(m, newdata = d0)
  }
  beta <- stats::coef(m)
  unit_effects <- effect_at(beta)
  att <- mean(unit_effects)
  grad <- num_jacobian(function(b) mean(effect_at(b)), beta)
  delta_se <- sqrt(drop(grad %*% sandwich::vcovHC(m, type = "HC0") %*% t(grad)))
  n <- nrow(d)
  if_model <- drop(sandwich::estfun(m) %*% sandwich::bread(m) %*% t(grad))
  expect_equal(sqrt(sum(if_model^2)) / n, delta_se, tolerance = 1e-6)
  pop <- d$treat == 1
  if_average <- numeric(n)
  if_average[pop] <- n / sum(pop) * (unit_effects - att)
  fit <- standardization(lalonde_om, data = d, treatment = treat, estimand = "ATT")
  eff <- tidy(estimate_effect(fit))
  expect_equal(eff$estimate, att, tolerance = 1e-8)
  expect_equal(eff$std.error, sqrt(sum((if_model + if_average)^2)) / n, tolerance = 1e-6)
  expect_gt(eff$std.error, delta_se)
})
