# Influence-function (sandwich) intervals of survival curves, against
# independent references: survival::survfit()'s robust (infinitesimal
# jackknife) standard errors for fixed weights; a brute-force infinitesimal
# jackknife (the numerical derivative of the curves in each unit's case
# weight, through refit(), which refits every nuisance model); and the
# bootstrap.

# The numerical derivative of the curves (K m) in each unit's case weight:
# a (K m) x n matrix, the reference influence functions.
brute_influence <- function(fit, eps = 1e-6) {
  base <- as.vector(fit$survival)
  vapply(seq_len(fit$n), function(i) {
    cw <- rep(1, fit$n)
    cw[i] <- 1 + eps
    (as.vector(causallib:::refit(fit, case_weights = cw)$survival) - base) / eps
  }, numeric(length(base)))
}

three_arm <- function(d) {
  d$a <- factor(c("A", "B", "C")[d$a + 1L])
  d
}

sim2 <- sim_construct_cohort(160, K = 2, seed = 11)
sim3 <- three_arm(sim_construct_cohort(180, K = 3, seed = 12))
rott_small <- rotterdam_cohort(250, seed = 3)
colo_small <- colon_cohort(seed = 4)[sample.int(880, 240), ]

# Estimators x treatments with sandwich intervals: fit(d, w, ...).
sandwich_cases <- list(
  list(id = "KM, estimated ATE weights, binary", data = sim2,
       fit = function(d, w, ...) survival_ipw(Surv(time, event) ~ a, data = d,
                                              weight_model = a ~ x + z, weights = w, ...)),
  list(id = "KM, estimated ATT weights, 3 levels", data = sim3,
       fit = function(d, w, ...) {
         wm <- ipw(a ~ x + age, data = d, weights = w, estimand = "ATT", treated = "C",
                   learner = lrn_tight())
         survival_ipw(Surv(time, event) ~ a, data = d, weight_model = wm, weights = w, ...)
       }),
  list(id = "KM, estimated stabilized weights, rotterdam (days)", data = rott_small,
       fit = function(d, w, ...) survival_ipw(Surv(time, event) ~ a, data = d,
                                              weight_model = ipw(a ~ x + z, data = d, weights = w,
                                                                 stabilize = TRUE),
                                              weights = w, ...)),
  list(id = "KM, estimated weights, colon (3 levels, days)", data = colo_small,
       fit = function(d, w, ...) survival_ipw(Surv(time, event) ~ a, data = d,
                                              weight_model = a ~ x + z + nodes, weights = w, ...)),
  list(id = "standardized pooled logistic, binary, ns() time terms", data = sim2,
       fit = function(d, w, ...) {
         survival_standardization(Surv(time, event) ~ a + x + z, data = d, treatment = "a",
                                  time_terms = ~ splines::ns(time, 3), weights = w,
                                  learner = lrn_tight(), ...)
       }),
  list(id = "standardized pooled logistic, 3 levels, offset and a shifted covariate", data = sim3,
       fit = function(d, w, ...) {
         d$year <- 2000 + d$age / 10
         survival_standardization(Surv(time, event) ~ a + x + year + offset(o), data = d,
                                  treatment = "a", weights = w, learner = lrn_tight(), ...)
       }),
  list(id = "IP-weighted standardized pooled logistic, ATT weights, 3 levels", data = sim3,
       fit = function(d, w, ...) {
         wm <- ipw(a ~ x + age, data = d, weights = w, estimand = "ATT", treated = "C",
                   learner = lrn_tight())
         survival_standardization(Surv(time, event) ~ a + x, data = d, treatment = "a",
                                  weight_model = wm, weights = w, learner = lrn_tight(), ...)
       }),
  list(id = "IP-weighted pooled-logistic hazards, binary", data = sim2,
       fit = function(d, w, ...) {
         survival_ipw(Surv(time, event) ~ a, data = d, weight_model = a ~ x + z,
                      method = "pooled_logistic", weights = w, learner = lrn_tight(), ...)
       }),
  list(id = "IP-weighted pooled-logistic hazards, rotterdam (yearly periods)", data = rott_small,
       fit = function(d, w, ...) {
         survival_ipw(Surv(time, event) ~ a, data = d, weight_model = a ~ x + z,
                      method = "pooled_logistic", breaks = yearly_breaks(12), weights = w,
                      learner = lrn_tight(), ...)
       }),
  list(id = "standardized pooled logistic, colon (3 levels, yearly periods)", data = colo_small,
       fit = function(d, w, ...) {
         survival_standardization(Surv(time, event) ~ a + x + z + nodes, data = d, treatment = "a",
                                  breaks = yearly_breaks(9), weights = w, learner = lrn_tight(), ...)
       }),
  list(id = "KM_fit, ipw_fit(x) with an intercept in C", data = sim2,
       fit = function(d, w, ...) {
         survival_ipw_fit(d$a, d$time, d$event, weight_model = ipw_fit(cbind(x = d$x), d$a, weights = w),
                          weights = w, ...)
       })
)

test_that("weighted Kaplan-Meier standard errors with fixed weights match survfit(robust = TRUE)", {
  for (d in list(survival::rotterdam, colon_cohort())) {
    if (is.null(d$time)) d <- data.frame(a = d$hormon, time = d$dtime, event = d$death)
    d$w <- stats::runif(nrow(d), 0.5, 2)
    km <- survival_ipw(Surv(time, event) ~ a, data = d, weights = "w")
    sf <- survival::survfit(survival::Surv(time, event) ~ a, data = d, weights = w / mean(w),
                            robust = TRUE)
    ref <- summary(sf, times = km$times, extend = TRUE)
    se <- matrix(ref$std.err, ncol = length(km$levels))
    se[t(is.na(km$survival))] <- NA
    expect_equal(km$std_error, t(se), tolerance = 1e-10, ignore_attr = TRUE)
  }
})

test_that("standard errors and contrast covariances equal a brute-force infinitesimal jackknife", {
  for (cs in sandwich_cases) {
    fit <- cs$fit(cs$data, cs$data$w)
    expect_identical(fit$se_type, "sandwich", info = cs$id)
    U <- brute_influence(fit)
    U[is.na(fit$survival), ] <- 0
    ref <- matrix(sqrt(rowSums(U^2)), nrow(fit$survival))
    ok <- !is.na(fit$survival) & ref > 1e-6
    expect_equal(fit$std_error[ok], ref[ok], tolerance = 1e-4, info = cs$id)
    K <- length(fit$levels)
    times <- unname(stats::quantile(fit$times[colSums(is.na(fit$survival)) == 0], c(0.3, 0.7), type = 1))
    for (contrast in c("risk_difference", "risk_ratio", "rmst_difference")) {
      e <- estimate_effect(fit, times = times, contrast = contrast)
      L <- causallib:::survival_functionals(fit, times, rmst = contrast == "rmst_difference")
      # Influence of each arm's summary at each time, then of each contrast.
      summ <- lapply(seq_len(K), function(k) t(L) %*% U[(seq_along(fit$times) - 1L) * K + k, ])
      s <- t(causallib:::survival_at(fit, times))
      ifs <- do.call(rbind, lapply(2:K, function(k) {
        switch(contrast,
          risk_difference = summ[[1L]] - summ[[k]],
          rmst_difference = summ[[k]] - summ[[1L]],
          risk_ratio = -summ[[k]] / (1 - s[, k]) + summ[[1L]] / (1 - s[, 1L]))
      }))
      expect_equal(unname(vcov(e)), unname(tcrossprod(ifs)), tolerance = 1e-4,
                   info = paste(cs$id, contrast))
    }
  }
})

test_that("the C influence kernels of pooled-logistic curves equal the R reference", {
  ns <- asNamespace("causallib")
  withr::local_seed(8)
  pooled <- Filter(function(cs) grepl("pooled logistic|pooled-logistic", cs$id), sandwich_cases)
  expect_length(pooled, 6L)
  for (cs in pooled) {
    fit <- cs$fit(cs$data, cs$data$w)
    prop <- if (!is.null(fit$weight_model)) ns$propensity_pieces(fit$weight_model)
    inf <- ns$pooled_influence(fit, prop)
    ref <- ref_pooled_influence(fit)
    ended <- is.na(fit$survival)
    ref$ij_var[ended] <- NA
    ref$C[as.vector(ended), ] <- NA
    for (part in c("Phi", "G", "ij_var", "C")) {
      expect_equal(inf[[part]], ref[[part]], tolerance = 1e-10, ignore_attr = TRUE,
                   info = paste(cs$id, part))
    }
    K <- length(fit$levels)
    L <- ns$survival_functionals(fit, stats::quantile(fit$times, c(0.2, 0.5)), rmst = TRUE)
    L <- cbind(L, ns$survival_functionals(fit, stats::quantile(fit$times, 0.6)))
    arm <- rep(seq_len(K), each = 3L)
    L <- L[, rep(1:3, K)]
    rows <- sort(sample.int(fit$n, 40L))
    expect_equal(ns$influence_fixed(inf, fit, L, arm, rows),
                 ref_pooled_influence_fixed(ref, fit, L, arm, rows), tolerance = 1e-10, info = cs$id)
  }
})

test_that("sandwich standard errors agree with the bootstrap within Monte Carlo error", {
  d <- sim_construct_cohort(500, K = 2, seed = 21)
  for (cs in sandwich_cases[c(1L, 5L, 8L)]) {
    fit <- cs$fit(d, d$w)
    set.seed(5)
    boot <- cs$fit(d, d$w, se = "bootstrap", R = 800)
    times <- c(3, 6, 8)
    for (contrast in c("risk_difference", "rmst_difference")) {
      se_if <- tidy(estimate_effect(fit, times = times, contrast = contrast))$std.error
      se_bs <- tidy(estimate_effect(boot, times = times, contrast = contrast))$std.error
      # The standard deviation of 800 replicates is within about 2.5% of the
      # bootstrap's; allow for that (4 sd) and the O(1/n) difference.
      expect_equal(se_if, se_bs, tolerance = 0.15, info = paste(cs$id, contrast))
    }
    ok <- fit$std_error > 0
    expect_equal(fit$std_error[ok], sqrt(apply(boot$replicates, c(2L, 3L), stats::var))[ok],
                 tolerance = 0.15, info = cs$id)
  }
})

test_that("estimating the propensity model changes the standard errors of IP-weighted curves", {
  d <- sim2
  wm <- ipw(a ~ x + z, data = d)
  fit <- survival_ipw(Surv(time, event) ~ a, data = d, weight_model = wm)
  fixed <- causallib:::km_curves(d$time, d$event, wm$weights,
                                  factor(d$a), fit$times)$std_error
  expect_false(isTRUE(all.equal(fit$std_error, fixed, check.attributes = FALSE)))
})

test_that("sandwich standard errors do not depend on the number of threads or the weights' scale", {
  for (cs in sandwich_cases[c(1L, 2L, 7L, 8L)]) {
    d <- cs$data
    run <- function(threads, w = d$w) {
      withr::local_options(causallib.threads = threads)
      fit <- cs$fit(d, w)
      list(se = fit$std_error, V = vcov(estimate_effect(fit, times = c(3, 6), contrast = "rmst_difference")))
    }
    one <- run(1)
    expect_identical(run(2), one, info = cs$id)
    expect_equal(run(2, d$w * 1e-300), one, tolerance = 1e-10, info = cs$id)
    expect_equal(run(1, d$w * 1000), one, tolerance = 1e-10, info = cs$id)
  }
})

test_that("pooled-logistic influence pieces are identical across thread counts over several chunks", {
  # 9000 persons: the kernels' fixed chunks (at least 4096 persons each)
  # then number two, so a second thread does take a share of the persons.
  d <- three_arm(sim_construct_cohort(9000, K = 3, seed = 31))
  fit1 <- withr::with_options(list(causallib.threads = 1), {
    survival_standardization(Surv(time, event) ~ a + x + z, data = d, treatment = "a",
                             time_terms = ~ splines::ns(time, 3), weights = "w")
  })
  run <- function(threads) {
    withr::local_options(causallib.threads = threads)
    ns <- asNamespace("causallib")
    inf <- ns$pooled_influence(fit1, NULL)
    L <- ns$survival_functionals(fit1, c(3, 6), rmst = TRUE)[, c(1, 2, 1, 2, 1, 2)]
    inf$fixed <- ns$influence_fixed(inf, fit1, L, rep(1:3, each = 2L), seq_len(fit1$n))
    inf
  }
  one <- run(1)
  expect_identical(run(2), one)
  ref <- ref_pooled_influence(fit1)
  expect_equal(one$C, ref$C, tolerance = 1e-10)
  expect_equal(one$G, ref$G, tolerance = 1e-10)
})

test_that("a simultaneous band is wider than the pointwise intervals and narrower than Bonferroni's", {
  fit <- sandwich_cases[[1L]]$fit(sim2, sim2$w)
  set.seed(2)
  pw <- tidy(fit)
  sim <- tidy(fit, band = "simultaneous")
  expect_equal(sim$std.error, pw$std.error)
  inner <- pw$std.error > 0
  expect_true(all(sim$conf.low[inner] < pw$conf.low[inner]))
  set.seed(2)
  c_band <- causallib:::band_critical_value(fit, 0.95)
  n_cells <- sum(fit$std_error > 0 & fit$survival > 0)
  expect_gt(c_band, stats::qnorm(0.975))
  expect_lt(c_band, stats::qnorm(1 - 0.025 / n_cells))
  expect_error(tidy(survival_ipw(Surv(time, event) ~ a, data = sim2, se = "none"),
                    band = "simultaneous"), "needs influence-function intervals")
})

test_that("fits without influence-function intervals say so and point to the bootstrap", {
  d <- sim2
  expect_snapshot(error = TRUE, {
    survival_ipw(Surv(time, event) ~ a, data = d, weight_model = matching(a ~ x, data = d),
                 se = "sandwich")
  })
  expect_identical(survival_ipw(Surv(time, event) ~ a, data = d,
                                weight_model = matching(a ~ x, data = d), R = 2)$se_type,
                   "bootstrap")
})

test_that("curves that reach 0 and units of weight 0 keep survfit()'s standard errors", {
  withr::local_seed(3)
  d <- data.frame(a = rep(0:1, each = 20), time = c(sample(1:8, 20, TRUE), sample(1:6, 20, TRUE)))
  d$event <- stats::rbinom(40, 1, 0.7)
  d$event[d$a == 1 & d$time == max(d$time[d$a == 1])] <- 1
  d$w <- stats::runif(40)
  d$w[c(3, 25)] <- 0
  km <- survival_ipw(Surv(time, event) ~ a, data = d, weights = "w")
  expect_equal(min(km$survival, na.rm = TRUE), 0)
  sf <- survival::survfit(survival::Surv(time, event) ~ a, data = d[d$w > 0, ], weights = w,
                          robust = TRUE)
  ref <- t(matrix(summary(sf, times = km$times, extend = TRUE)$std.err, ncol = 2))
  ref[is.na(km$survival)] <- NA
  expect_equal(km$std_error, ref, tolerance = 1e-10, ignore_attr = TRUE)
  e <- estimate_effect(km, times = c(0.5, 5), contrast = "rmst_difference")
  expect_equal(unname(sqrt(diag(vcov(e)))[1L]), 0)
  expect_true(all(is.finite(vcov(e))))
})
