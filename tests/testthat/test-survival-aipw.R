# Doubly robust (augmented IPW) survival curves: survival_aipw() against
# riskRegression::ate(estimator = "AIPTW,AIPCW") for Cox models, against a
# hand implementation (glm() on person-period tables, plain loops over the
# definition) for pooled-logistic models, double robustness by simulation
# with known curves, multi-level treatments of every type, and the model
# invariants.

# ---- the hand implementation ---------------------------------------------------

# Person-period rows of the event (periods 1..last) and of censoring
# (periods 1..last - event, censored at the end of `last` before the grid's
# end T).
hand_long <- function(d, T) {
  ev <- d[rep(seq_len(nrow(d)), d$time), , drop = FALSE]
  ev$period <- sequence(d$time)
  ev$y <- as.integer(ev$period == ev$time & ev$event == 1L)
  nc <- d$time - d$event
  ce <- d[rep(seq_len(nrow(d)), nc), , drop = FALSE]
  ce$period <- sequence(nc)
  ce$y <- as.integer(ce$period == ce$time & ce$event == 0L & ce$time < T)
  list(event = ev, censoring = ce)
}

# The augmented curves of the definition, person by person and period by
# period, from glm() fits of the three models on data d with integer times
# 1..T (the period index), a factor treatment `a` and sampling weights w.
# hazard_rhs and censoring_rhs are right-hand sides in `period` and the
# covariates; the event hazard adds the treatment-by-time terms.
# Returns the curves (K x T) and each person's contribution (n x T per level).
hand_aipw <- function(d, hazard_rhs, censoring_rhs, ps_rhs, T, w = rep(1, nrow(d))) {
  d$w <- w
  long <- hand_long(d, T)
  ctl <- glm.control(epsilon = 1e-14, maxit = 100)
  hz <- suppressWarnings(glm(stats::as.formula(paste("y ~", hazard_rhs)), binomial, long$event,
                             weights = w, control = ctl))
  cz <- suppressWarnings(glm(stats::as.formula(paste("y ~", censoring_rhs)), binomial,
                             long$censoring, weights = w, control = ctl))
  lev <- levels(d$a)
  K <- length(lev)
  P <- if (K == 2L) {
    p <- fitted(suppressWarnings(glm(stats::as.formula(paste("a ~", ps_rhs)), binomial, d,
                                     weights = w, control = ctl)))
    cbind(1 - p, p)
  } else {
    m <- nnet::multinom(stats::as.formula(paste("a ~", ps_rhs)), d, weights = w, trace = FALSE,
                        reltol = 1e-14, maxit = 1000)
    fitted(m)
  }
  n <- nrow(d)
  curves <- matrix(0, K, T)
  contrib <- vector("list", K)
  for (k in seq_len(K)) {
    s <- matrix(0, n, T)
    for (i in seq_len(n)) {
      grid <- d[rep(i, T), , drop = FALSE]
      grid$period <- seq_len(T)
      cf <- grid
      cf$a <- factor(lev[k], levels = lev)
      h <- predict(hz, cf, type = "response")
      c_hat <- predict(cz, grid, type = "response")
      S <- cumprod(1 - h)
      F <- 1 - S
      G <- cumprod(1 - c_hat)
      G_before <- c(1, G[-T])
      for (t in seq_len(T)) {
        value <- S[t]
        if (d$a[i] == lev[k]) {
          last <- d$time[i]
          psi <- if (d$event[i] == 1L && last <= t) 1 / G_before[last] else 0
          for (u in seq_len(t - 1L)) {
            censored <- u == last && d$event[i] == 0L && last < T
            at_risk <- u <= last - d$event[i]
            dM <- censored - at_risk * c_hat[u]
            psi <- psi + (F[t] - F[u]) * dM / (S[u] * G[u])
          }
          value <- S[t] + (1 - psi - S[t]) / P[i, k]
        }
        s[i, t] <- value
      }
    }
    contrib[[k]] <- s
    curves[k, ] <- colSums(w * s) / sum(w)
  }
  list(curves = curves, contrib = contrib, v = w / sum(w))
}

# The same curves in the hazard-martingale form of the efficient influence
# function: S_k(t) - 1{A = k} / pi_k sum_{s <= t} R(s) / G(s - 1) S(t) / S(s)
# (dN(s) - h(s)), R(s) at risk in period s: a second, algebraically
# different route to the same numbers.
hand_aipw_hazard_form <- function(d, hazard_rhs, censoring_rhs, ps_rhs, T) {
  long <- hand_long(d, T)
  ctl <- glm.control(epsilon = 1e-14, maxit = 100)
  hz <- glm(stats::as.formula(paste("y ~", hazard_rhs)), binomial, long$event, control = ctl)
  cz <- glm(stats::as.formula(paste("y ~", censoring_rhs)), binomial, long$censoring, control = ctl)
  p <- fitted(glm(stats::as.formula(paste("a ~", ps_rhs)), binomial, d, control = ctl))
  P <- cbind(1 - p, p)
  lev <- levels(d$a)
  out <- matrix(0, 2L, T)
  for (k in 1:2) {
    for (i in seq_len(nrow(d))) {
      grid <- d[rep(i, T), , drop = FALSE]
      grid$period <- seq_len(T)
      cf <- grid
      cf$a <- factor(lev[k], levels = lev)
      h <- predict(hz, cf, type = "response")
      G_before <- c(1, cumprod(1 - predict(cz, grid, type = "response"))[-T])
      S <- cumprod(1 - h)
      for (t in seq_len(T)) {
        aug <- 0
        if (d$a[i] == lev[k]) {
          s <- seq_len(min(t, d$time[i]))
          dN <- as.numeric(s == d$time[i] & d$event[i] == 1L)
          aug <- sum(S[t] / S[s] / G_before[s] * (dN - h[s])) / P[i, k]
        }
        out[k, t] <- out[k, t] + (S[t] - aug) / nrow(d)
      }
    }
  }
  out
}

aipw_small <- function(n = 150, seed = 3) {
  d <- sim_construct_cohort(n, K = 2, periods = 6, seed = seed)
  d$a <- factor(d$a)
  d
}

# ---- pooled-logistic curves against the hand implementation --------------------------

test_that("pooled-logistic AIPW curves equal the definition computed by hand, in both of its forms", {
  d <- aipw_small()
  T <- max(d$time)
  fit <- survival_aipw(Surv(time, event) ~ a + x, data = d, treatment = "a",
                       weight_model = a ~ x, censoring_model = ~ x, time_terms = ~ time,
                       learner = lrn_tight(), se = "none")
  hazard_rhs <- "a + x + period + a:period"
  hand <- hand_aipw(d, hazard_rhs, "a + x + period", "x", T)
  expect_equal(unname(fit$survival), hand$curves, tolerance = 1e-8)
  expect_equal(hand_aipw_hazard_form(d, hazard_rhs, "a + x + period", "x", T), hand$curves,
               tolerance = 1e-10)
  # the augmentation matters: the curves are not the standardized ones
  std <- survival_standardization(Surv(time, event) ~ a + x, data = d, treatment = "a",
                                  time_terms = ~ time, se = "none")
  expect_gt(max(abs(std$survival - fit$survival)), 1e-4)
})

test_that("AIPW curves follow sampling weights, formula constructs and factor covariates as the definition does", {
  d <- aipw_small(200, seed = 5)
  T <- max(d$time)
  fit <- survival_aipw(Surv(time, event) ~ a + x + z + a:x + I(age / 10), data = d,
                       treatment = "a", weight_model = a ~ x + z, censoring_model = ~ x + z,
                       time_terms = ~ time + I(time^2), learner = lrn_tight(), weights = "w",
                       se = "none")
  hazard_rhs <- "a + x + z + a:x + I(age / 10) + period + I(period^2) + a:period + a:I(period^2)"
  hand <- hand_aipw(d, hazard_rhs, "a + x + z + period + I(period^2)", "x + z", T, w = d$w)
  expect_equal(unname(fit$survival), hand$curves, tolerance = 1e-8)
})

test_that("the influence-function standard errors and contrasts are the hand contributions' spread", {
  d <- aipw_small()
  T <- max(d$time)
  fit <- survival_aipw(Surv(time, event) ~ a + x, data = d, treatment = "a",
                       weight_model = a ~ x, censoring_model = ~ x, time_terms = ~ time,
                       learner = lrn_tight(), weights = "w")
  hand <- hand_aipw(d, "a + x + period + a:period", "a + x + period", "x", T, w = d$w)
  U <- lapply(1:2, function(k) hand$v * sweep(hand$contrib[[k]], 2L, hand$curves[k, ]))
  se <- rbind(sqrt(colSums(U[[1]]^2)), sqrt(colSums(U[[2]]^2)))
  expect_equal(unname(fit$std_error), se, tolerance = 1e-7)
  # risk difference and restricted mean differences at two times
  times <- c(2, 5)
  rd <- estimate_effect(fit, times = times)
  D <- U[[1]][, times] - U[[2]][, times]
  expect_equal(unname(tidy(rd)$std.error), sqrt(colSums(D^2)), tolerance = 1e-7)
  rm <- estimate_effect(fit, times = times, contrast = "rmst_difference")
  L <- sapply(times, function(tau) as.numeric(seq_len(T) < tau))
  Drm <- (U[[2]] - U[[1]]) %*% L
  expect_equal(unname(tidy(rm)$std.error), sqrt(colSums(Drm^2)), tolerance = 1e-7)
  expect_equal(unname(tidy(rm)$estimate),
               drop((hand$curves[2, ] - hand$curves[1, ]) %*% L), tolerance = 1e-8)
})

# ---- Cox curves against riskRegression::ate() ---------------------------------------

# rotterdam with times moved apart by less than a day: without ties
# survfit()'s Efron baseline hazard is Breslow's, which riskRegression uses.
rotterdam_untied <- function(n = 700, seed = 2) {
  d <- rotterdam_cohort(n, seed)
  withr::local_seed(seed)
  d$time <- d$time + stats::runif(n, 0, 0.5)
  d$a <- factor(d$a)
  d$nodes <- pmin(d$nodes, 10)
  d
}

test_that("Cox AIPW curves and influence-function errors equal riskRegression::ate(\"AIPTW,AIPCW\")", {
  skip_if_not_installed("riskRegression")
  d <- rotterdam_untied()
  fit <- survival_aipw(Surv(time, event) ~ a + x + z + nodes, data = d, treatment = "a",
                       weight_model = a ~ x + z + nodes, censoring_model = ~ x + nodes,
                       model = "cox")
  times <- c(365, 1000, 2000, 3000)
  ev <- survival::coxph(Surv(time, event) ~ a + x + z + nodes, data = d, x = TRUE)
  tr <- glm(a ~ x + z + nodes, data = d, family = binomial)
  ce <- survival::coxph(Surv(time, event == 0) ~ a + x + nodes, data = d, x = TRUE)
  ref <- riskRegression::ate(event = ev, treatment = tr, censor = ce, data = d, times = times,
                             estimator = "AIPTW,AIPCW", known.nuisance = TRUE, verbose = FALSE)
  risk <- matrix(ref$meanRisk$estimate, length(times))
  mine <- causallib:::survival_at(fit, times)
  expect_equal(t(unname(mine)), 1 - risk, tolerance = 1e-6)
  at <- findInterval(times, fit$times)
  expect_equal(t(unname(fit$std_error[, at])), matrix(ref$meanRisk$se, length(times)),
               tolerance = 1e-6)
  rd <- estimate_effect(fit, times = times)
  expect_equal(unname(tidy(rd)$estimate), ref$diffRisk$estimate, tolerance = 1e-6)
  expect_equal(unname(tidy(rd)$std.error), ref$diffRisk$se, tolerance = 1e-6)
  # with the nuisance models' estimation (riskRegression's default) the
  # errors differ by the nuisance terms, which vanish asymptotically
  full <- riskRegression::ate(event = ev, treatment = tr, censor = ce, data = d, times = times,
                              estimator = "AIPTW,AIPCW", verbose = FALSE)
  expect_equal(unname(tidy(rd)$std.error), full$diffRisk$se, tolerance = 0.1)
  # without a censoring model, censoring depends on the treatment alone
  by_arm <- survival_aipw(Surv(time, event) ~ a + x + z + nodes, data = d, treatment = "a",
                          weight_model = a ~ x + z + nodes, model = "cox", se = "none")
  ce_arm <- survival::coxph(Surv(time, event == 0) ~ a, data = d, x = TRUE)
  ref_arm <- riskRegression::ate(event = ev, treatment = tr, censor = ce_arm, data = d,
                                 times = times, estimator = "AIPTW,AIPCW", se = FALSE,
                                 verbose = FALSE)
  expect_equal(t(unname(causallib:::survival_at(by_arm, times))),
               1 - matrix(ref_arm$meanRisk$estimate, length(times)), tolerance = 1e-6)
})

test_that("three-arm Cox AIPW curves equal riskRegression::ate() on survival::colon", {
  skip_if_not_installed("riskRegression")
  skip_if_not_installed("nnet")
  d <- colon_cohort()
  withr::local_seed(4)
  d$time <- d$time + stats::runif(nrow(d), 0, 0.5)
  fit <- survival_aipw(Surv(time, event) ~ a + x + z + nodes, data = d, treatment = "a",
                       weight_model = ipw(a ~ x + nodes, data = d, learner = lrn_glm(epsilon = 1e-12)),
                       censoring_model = ~ x, model = "cox")
  times <- c(500, 1500, 2500)
  ev <- survival::coxph(Surv(time, event) ~ a + x + z + nodes, data = d, x = TRUE)
  tr <- nnet::multinom(a ~ x + nodes, data = d, trace = FALSE, reltol = 1e-14, maxit = 1000)
  ce <- survival::coxph(Surv(time, event == 0) ~ a + x, data = d, x = TRUE)
  ref <- riskRegression::ate(event = ev, treatment = tr, censor = ce, data = d, times = times,
                             estimator = "AIPTW,AIPCW", known.nuisance = TRUE, verbose = FALSE)
  risk <- matrix(ref$meanRisk$estimate, length(times))
  expect_equal(t(unname(causallib:::survival_at(fit, times))), 1 - risk, tolerance = 1e-6)
  at <- findInterval(times, fit$times)
  expect_equal(t(unname(fit$std_error[, at])), matrix(ref$meanRisk$se, length(times)),
               tolerance = 1e-5)
})

# ---- double robustness ------------------------------------------------------------

# Discrete-time data whose event and censoring hazards and treatment all
# depend on x, with the true curves by Monte Carlo over x.
sim_dr <- function(n, seed, T = 8) {
  withr::local_seed(seed)
  hazard <- function(t, a, x) stats::plogis(-2.8 + 0.1 * t + 0.9 * x - 0.6 * a)
  x <- stats::rnorm(n)
  a <- stats::rbinom(n, 1, stats::plogis(-0.2 + 1.2 * x))
  event_time <- rep(T + 1L, n)
  for (t in rev(seq_len(T))) event_time[stats::runif(n) < hazard(t, a, x)] <- t
  cens_time <- stats::rgeom(n, stats::plogis(-2.4 + 1.2 * x)) + 1L
  time <- pmin(event_time, cens_time, T)
  event <- as.integer(event_time <= pmin(cens_time, T))
  xs <- stats::qnorm(seq(0.5, 2e4 - 0.5) / 2e4)
  truth <- t(vapply(0:1, function(lev) {
    vapply(seq_len(T), function(t) {
      mean(apply(vapply(seq_len(t), function(s) 1 - hazard(s, lev, xs), xs), 1L, prod))
    }, numeric(1))
  }, numeric(T)))
  list(data = data.frame(a = factor(a), x = x, noise = stats::rnorm(n), time = time,
                         event = event), truth = truth)
}

test_that("AIPW curves are consistent when only the outcome model or only the weight and censoring models are correct", {
  sim <- sim_dr(6000, 11)
  d <- sim$data
  fit_with <- function(hazard, ps, cens) {
    survival_aipw(hazard, data = d, treatment = "a", weight_model = ps, censoring_model = cens,
                  time_terms = ~ time, se = "none")
  }
  right <- Surv(time, event) ~ a + x
  wrong <- Surv(time, event) ~ a + noise
  err <- function(fit) max(abs(fit$survival - sim$truth))
  outcome_only <- fit_with(right, a ~ noise, ~ noise)
  weights_only <- fit_with(wrong, a ~ x, ~ x)
  neither <- fit_with(wrong, a ~ noise, ~ noise)
  # (n = 6000: each point's standard error is about 0.007-0.01; the largest
  # error over 16 points stays below 0.03, a bias of the size of the one
  # below would not)
  expect_lt(err(outcome_only), 0.03)
  expect_lt(err(weights_only), 0.03)
  # the check can fail: with neither model right the curves are biased
  expect_gt(err(neither), 0.05)
  # and the standardized curves of the wrong hazard model are too
  std <- survival_standardization(wrong, data = d, treatment = "a", time_terms = ~ time,
                                  se = "none")
  expect_gt(max(abs(std$survival - sim$truth)), 0.05)
})

# ---- treatments of every type, and three arms ----------------------------------------

test_that("AIPW curves are the same for every type of a binary treatment", {
  base <- sim_construct_cohort(200, K = 2, periods = 6, seed = 7)
  fits <- lapply(c("numeric", "factor", "logical", "character"), function(type) {
    d <- recode_treatment(base, type)
    survival_aipw(Surv(time, event) ~ a + x + z, data = d, treatment = "a",
                  weight_model = a ~ x + z, censoring_model = ~ x, time_terms = ~ time,
                  se = "none")
  })
  for (f in fits[-1]) expect_equal(unname(f$survival), unname(fits[[1]]$survival), tolerance = 1e-10)
})

test_that("three-arm AIPW curves of a factor or character treatment equal the definition by hand", {
  skip_if_not_installed("nnet")
  base <- sim_construct_cohort(180, K = 3, periods = 5, seed = 9)
  d <- recode_treatment(base, "factor")
  T <- max(d$time)
  fit <- survival_aipw(Surv(time, event) ~ a + x, data = d, treatment = "a",
                       weight_model = ipw(a ~ x, data = d, learner = lrn_glm(epsilon = 1e-12)),
                       censoring_model = ~ x, time_terms = ~ time, learner = lrn_tight(),
                       se = "none")
  hand <- hand_aipw(d, "a + x + period + a:period", "a + x + period", "x", T)
  expect_equal(unname(fit$survival), hand$curves, tolerance = 1e-6)
  dc <- recode_treatment(base, "character")
  fc <- survival_aipw(Surv(time, event) ~ a + x, data = dc, treatment = "a",
                      weight_model = a ~ x, censoring_model = ~ x, time_terms = ~ time,
                      learner = lrn_tight(), se = "none")
  expect_equal(unname(fc$survival), unname(fit$survival), tolerance = 1e-8)
  expect_identical(fc$levels, c("A", "B", "C"))
  rd <- estimate_effect(fit, times = 4, reference = "B")
  expect_equal(nrow(tidy(rd)), 2L)
})

# ---- invariants ------------------------------------------------------------------

test_that("AIPW fits keep the model invariants", {
  d <- sim_construct_cohort(200, K = 2, periods = 6, seed = 12)
  dc <- sim_construct_continuous(200, K = 2, seed = 12)
  fits <- list(
    pooled = survival_aipw(Surv(time, event) ~ a + x + z, data = d, treatment = "a",
                           weight_model = a ~ x, censoring_model = ~ x, time_terms = ~ time,
                           weights = "w"),
    cox = survival_aipw(Surv(time, event) ~ a + x + z, data = dc, treatment = "a",
                        weight_model = a ~ x, censoring_model = ~ x, model = "cox",
                        weights = "w"))
  for (name in names(fits)) {
    fit <- fits[[name]]
    data <- if (name == "cox") dc else d
    est <- causallib:::means(fit)
    expect_equal(causallib:::means(causallib:::refit(fit, case_weights = rep(1, fit$n))), est,
                 tolerance = 1e-10)
    one <- causallib:::bootstrap_replicates(fit, matrix(1L, fit$n, 1L))
    expect_equal(as.vector(one), est, tolerance = 1e-10)
    # a replicate is the pipeline on the expanded data (pooled logistic: a
    # Cox model with Efron's ties treats a person repeated by the resample
    # as tied events, not as one event of weight 2)
    if (name == "pooled") {
      withr::local_seed(3)
      counts <- causallib:::bootstrap_counts(fit$n, 1L)
      rep1 <- causallib:::bootstrap_replicates(fit, counts)
      big <- data[rep(seq_len(fit$n), counts[, 1]), ]
      call <- fit$call
      call$data <- quote(big)
      call$se <- "none"
      refit_big <- suppressWarnings(eval(call))
      known <- !is.na(rep1[1, ])
      expect_equal(rep1[1, known], causallib:::means(refit_big)[known], tolerance = 1e-8)
    }
    # threads
    one_thread <- withr::with_options(list(causallib.threads = 1L), eval(fit$call))
    two_threads <- withr::with_options(list(causallib.threads = 2L), eval(fit$call))
    expect_identical(one_thread$survival, two_threads$survival)
    expect_identical(one_thread$std_error, two_threads$std_error)
    # rescaling every sampling weight
    scaled <- data
    scaled$w <- scaled$w * 1000
    call <- fit$call
    call$data <- quote(scaled)
    big_w <- eval(call)
    expect_equal(big_w$survival, fit$survival, tolerance = 1e-9)
    expect_equal(big_w$std_error, fit$std_error, tolerance = 1e-9)
  }
})

test_that("bootstrap AIPW intervals refit the three models and agree with the influence function", {
  d <- sim_dr(1500, 21)$data
  set.seed(1)
  boot <- survival_aipw(Surv(time, event) ~ a + x, data = d, treatment = "a",
                        weight_model = a ~ x, censoring_model = ~ x, time_terms = ~ time,
                        se = "bootstrap", R = 60)
  sand <- survival_aipw(Surv(time, event) ~ a + x, data = d, treatment = "a",
                        weight_model = a ~ x, censoring_model = ~ x, time_terms = ~ time)
  expect_equal(boot$survival, sand$survival)
  b <- estimate_effect(boot, times = c(4, 8))
  s <- estimate_effect(sand, times = c(4, 8))
  expect_equal(tidy(b)$std.error, tidy(s)$std.error, tolerance = 0.3)
})

# ---- the result ------------------------------------------------------------------

test_that("AIPW fits print, summarize, tidy, glance and plot as the other survival fits", {
  d <- sim_construct_cohort(200, K = 2, periods = 6, seed = 13)
  fit <- survival_aipw(Surv(time, event) ~ a + x, data = d, treatment = "a",
                       weight_model = a ~ x, censoring_model = ~ x, time_terms = ~ time)
  expect_s3_class(fit, "causal_survival")
  out <- capture.output(print(fit))
  expect_match(out[1], "Augmented IPW \\(doubly robust\\) survival curves")
  expect_true(any(grepl("efficient influence function", out)))
  sm <- summary(fit)
  expect_setequal(names(sm$coefficients), c("Hazard model", "Censoring hazard model"))
  expect_output(print(sm), "Censoring hazard model")
  td <- tidy(fit)
  expect_equal(td$survival[td$time > 0], as.vector(fit$survival))
  set.seed(2)
  band <- tidy(fit, band = "simultaneous")
  inner <- td$time >= band_start(fit) & td$std.error > 0
  expect_true(all(is.na(band$conf.low[td$time < band_start(fit)])))
  expect_true(all(band$conf.low[inner] < td$conf.low[inner]))
  expect_equal(nrow(glance(fit)), 1L)
  skip_if_not_installed("ggplot2")
  p <- ggplot2::autoplot(fit)
  built <- ggplot2::ggplot_build(p)
  steps <- built$data[[which(vapply(p$layers, function(l) inherits(l$geom, "GeomStep"), NA))[1L]]]
  expect_equal(sort(unique(steps$y)), sort(unique(td$survival)))
})

test_that("AIPW input errors name the argument and the remedy", {
  d <- sim_construct_cohort(100, K = 2, periods = 5, seed = 14)
  expect_snapshot(error = TRUE, {
    survival_aipw(Surv(time, event) ~ a + x, data = d, treatment = "a")
    survival_aipw(Surv(time, event) ~ a + x, data = d, treatment = "a",
                  weight_model = ipw(a ~ x, data = d, estimand = "ATT"))
    survival_aipw(Surv(time, event) ~ a + x, data = d, treatment = "a", weight_model = a ~ x,
                  model = "weibull")
  })
  suppressMessages(m <- matching(a ~ x, data = d))
  expect_error(survival_aipw(Surv(time, event) ~ a + x, data = d, treatment = "a",
                             weight_model = m), "needs propensities")
})

test_that("events nearly certain to have been censored first give a positivity warning", {
  withr::local_seed(15)
  # x = 1: all but 2 of 1000 people censored after the first period, and
  # those 2 have their event in the second
  n0 <- 400
  event0 <- stats::rgeom(n0, 0.1) + 1
  d <- data.frame(a = c(rep(0:1, 500), stats::rbinom(n0, 1, 0.5)),
                  x = c(rep(1, 1000), rep(0, n0)),
                  time = c(rep(1, 998), 2, 2, pmin(event0, 8)),
                  event = c(rep(0, 998), 1, 1, as.integer(event0 <= 8)))
  expect_warning(
    survival_aipw(Surv(time, event) ~ a + x, data = d, treatment = "a", weight_model = a ~ x,
                  censoring_model = ~ x, time_terms = ~ time, se = "none"),
    "probability of remaining uncensored"
  )
})

test_that("the matrix interface gives the formula interface's curves", {
  d <- sim_construct_cohort(150, K = 2, periods = 5, seed = 16)
  fit <- survival_aipw(Surv(time, event) ~ a + x + age, data = d, treatment = "a",
                       weight_model = a ~ x, censoring_model = ~ x, time_terms = ~ time)
  mx <- survival_aipw_fit(cbind(x = d$x, age = d$age), d$a, d$time, d$event,
                          weight_model = ipw_fit(cbind(x = d$x), d$a),
                          censoring_model = cbind(x = d$x), time_terms = ~ time)
  expect_equal(unname(mx$survival), unname(fit$survival), tolerance = 1e-10)
  expect_equal(unname(mx$std_error), unname(fit$std_error), tolerance = 1e-10)
})

test_that("effects of AIPW curves print how their intervals are computed", {
  d <- sim_construct_cohort(200, K = 2, periods = 6, seed = 13)
  fit <- survival_aipw(Surv(time, event) ~ a + x, data = d, treatment = "a",
                       weight_model = a ~ x, censoring_model = ~ x, time_terms = ~ time)
  expect_snapshot(print(estimate_effect(fit, times = c(3, 6))))
  out <- capture.output(print(estimate_effect(fit, times = 3, contrast = "risk_ratio")))
  expect_true(any(grepl("efficient influence function (nuisance models as known) (std.error on the log scale)",
                        out, fixed = TRUE)))
  expect_false(any(grepl("stacked estimating equations", out, fixed = TRUE)))
})
