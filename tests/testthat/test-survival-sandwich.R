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
sim3c <- three_arm(sim_construct_continuous(180, K = 3, seed = 13))
rott_small <- rotterdam_cohort(250, seed = 3)
# A subsample in which one arm's curve ends before the others'.
colo_small <- colon_cohort(seed = 4)[withr::with_seed(1, sample.int(880, 240)), ]
sim2_logical <- recode_treatment(sim2, "logical")
sim2_character <- recode_treatment(sim2, "character")

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
  list(id = "standardized Cox, rotterdam (days, tied deaths), factor covariate and offset",
       data = rott_small,
       fit = function(d, w, ...) {
         survival_standardization(Surv(time, event) ~ a + x + z + offset(o), data = d,
                                  treatment = "a", model = "cox", weights = w, ...)
       }),
  list(id = "standardized Cox, 3 levels, a:x and ns(age, 3)", data = sim3c,
       fit = function(d, w, ...) {
         survival_standardization(Surv(time, event) ~ a + x + a:x + splines::ns(age, 3), data = d,
                                  treatment = "a", model = "cox", weights = w, ...)
       }),
  list(id = "IP-weighted standardized Cox, ATT weights, 3 levels", data = sim3c,
       fit = function(d, w, ...) {
         wm <- ipw(a ~ x + age, data = d, weights = w, estimand = "ATT", treated = "C",
                   learner = lrn_tight())
         survival_standardization(Surv(time, event) ~ a + x, data = d, treatment = "a",
                                  model = "cox", weight_model = wm, weights = w, ...)
       }),
  list(id = "IP-weighted standardized Cox, colon (3 levels, days, ties)", data = colo_small,
       fit = function(d, w, ...) {
         survival_standardization(Surv(time, event) ~ a + x + z, data = d, treatment = "a",
                                  model = "cox", weight_model = a ~ x + z + nodes, weights = w, ...)
       }),
  list(id = "KM_fit, ipw_fit(x) with an intercept in C", data = sim2,
       fit = function(d, w, ...) {
         survival_ipw_fit(d$a, d$time, d$event, weight_model = ipw_fit(cbind(x = d$x), d$a, weights = w),
                          weights = w, ...)
       }),
  # Censoring weights: the censoring models' scores are stacked too. Colon's
  # censoring starts after four years: periods that each see some keep its
  # censoring model finite.
  list(id = "KM with censoring weights (~ x + z), no weight model, binary", data = sim2,
       fit = function(d, w, ...) {
         survival_ipw(Surv(time, event) ~ a, data = d, censoring_model = ~ x + z, weights = w,
                      learner = lrn_tight(), ...)
       }),
  list(id = "KM with ATE and censoring weights (~ x + ns(age, 3)), factor, 3 levels", data = sim3,
       fit = function(d, w, ...) {
         wm <- ipw(a ~ x + age, data = d, weights = w, learner = lrn_tight())
         survival_ipw(Surv(time, event) ~ a, data = d, weight_model = wm, weights = w,
                      censoring_model = ~ x + splines::ns(age, 3), learner = lrn_tight(), ...)
       }),
  list(id = "KM with ATE and censoring weights, rotterdam (covariate-dependent censoring)",
       data = rott_small,
       fit = function(d, w, ...) {
         survival_ipw(Surv(time, event) ~ a, data = d, weight_model = a ~ x + z, weights = w,
                      censoring_model = ~ x + z + nodes, breaks = yearly_breaks(12),
                      learner = lrn_tight(), ...)
       }),
  list(id = "IP-weighted pooled logistic with censoring weights (~ a:x + z), logical", data = sim2_logical,
       fit = function(d, w, ...) {
         survival_ipw(Surv(time, event) ~ a, data = d, weight_model = a ~ x + z, weights = w,
                      method = "pooled_logistic", censoring_model = ~ a:x + z,
                      learner = lrn_tight(), ...)
       }),
  list(id = "standardized pooled logistic with censoring weights, character", data = sim2_character,
       fit = function(d, w, ...) {
         survival_standardization(Surv(time, event) ~ a + x + z, data = d, treatment = "a",
                                  censoring_model = ~ x + z, weights = w, learner = lrn_tight(), ...)
       }),
  list(id = "IP-weighted standardized pooled logistic with censoring weights, colon (3 levels)",
       data = colo_small,
       fit = function(d, w, ...) {
         survival_standardization(Surv(time, event) ~ a + x + z, data = d, treatment = "a",
                                  weight_model = ipw(a ~ x + nodes, data = d, weights = w,
                                                     learner = lrn_tight()),
                                  censoring_model = ~ x + nodes, time_terms = ~ time + I(time^2),
                                  breaks = c(0, 1000, 1600, 1900, 2200, 2500, 2800),
                                  weights = w, learner = lrn_tight(), ...)
       })
,
  # Stabilized and overlap weights in hazard models: the arms' shares and
  # the overlap population's dependence on the propensity model are stacked.
  list(id = "IP-weighted standardized pooled logistic, ATO weights, character", data = sim2_character,
       fit = function(d, w, ...) {
         survival_standardization(Surv(time, event) ~ a + x + z, data = d, treatment = "a",
                                  weight_model = ipw(a ~ x + z, data = d, estimand = "ATO", weights = w,
                                                     learner = lrn_tight()),
                                  weights = w, learner = lrn_tight(), ...)
       }),
  list(id = "IP-weighted standardized pooled logistic, ATO weights, 3 levels", data = sim3,
       fit = function(d, w, ...) {
         survival_standardization(Surv(time, event) ~ a + x, data = d, treatment = "a",
                                  weight_model = ipw(a ~ x + age, data = d, estimand = "ATO",
                                                     learner = lrn_tight()),
                                  learner = lrn_tight(), ...)
       }),
  list(id = "IP-weighted standardized pooled logistic, stabilized weights, logical", data = sim2_logical,
       fit = function(d, w, ...) {
         survival_standardization(Surv(time, event) ~ a + x + z, data = d, treatment = "a",
                                  weight_model = ipw(a ~ x + z, data = d, stabilize = TRUE, weights = w,
                                                     learner = lrn_tight()),
                                  weights = w, learner = lrn_tight(), ...)
       }),
  list(id = "IP-weighted standardized pooled logistic, stabilized and censoring weights, 3 levels",
       data = sim3,
       fit = function(d, w, ...) {
         survival_standardization(Surv(time, event) ~ a + x, data = d, treatment = "a",
                                  weight_model = ipw(a ~ x + age, data = d, stabilize = TRUE, weights = w,
                                                     learner = lrn_tight()),
                                  censoring_model = ~ x, weights = w, learner = lrn_tight(), ...)
       })
,
  # Stratified hazard models: one model per arm, side by side in Phi.
  list(id = "stratified pooled logistic, binary, factor covariate", data = sim2,
       fit = function(d, w, ...) {
         survival_standardization(Surv(time, event) ~ a + x + z, data = d, treatment = "a",
                                  stratified = TRUE, weights = w, learner = lrn_tight(), ...)
       }),
  list(id = "stratified pooled logistic, stabilized weights, ns() and an offset", data = sim2,
       fit = function(d, w, ...) {
         survival_standardization(Surv(time, event) ~ a + x + splines::ns(age, 3) + offset(o),
                                  data = d, treatment = "a", stratified = TRUE,
                                  weight_model = ipw(a ~ x + z, data = d, stabilize = TRUE,
                                                     weights = w, learner = lrn_tight()),
                                  weights = w, learner = lrn_tight(), ...)
       }),
  list(id = "stratified pooled logistic, ATO and censoring weights, 3 levels", data = sim3,
       fit = function(d, w, ...) {
         survival_standardization(Surv(time, event) ~ a + x, data = d, treatment = "a",
                                  stratified = TRUE,
                                  weight_model = ipw(a ~ x + age, data = d, estimand = "ATO",
                                                     learner = lrn_tight()),
                                  censoring_model = ~ x, learner = lrn_tight(), ...)
       })
)

censoring_cases <- vapply(sandwich_cases, function(cs) grepl("censoring weights", cs$id), NA)

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
    # Cox curves are smooth in the weights: the forward difference is closer.
    tol <- if (grepl("Cox", cs$id)) 2e-6 else 1e-4
    expect_equal(fit$std_error[ok], ref[ok], tolerance = tol, info = cs$id)
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
  # The reference covers the plain weighted and standardized models; the
  # censoring-weighted, ATO, stabilized and stratified ones have their own
  # jackknife checks above.
  pooled <- Filter(function(cs) {
    grepl("pooled logistic|pooled-logistic", cs$id) && !grepl("censoring|ATO|stabilized|stratified", cs$id)
  }, sandwich_cases)
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
  for (cs in sandwich_cases[c(1L, 5L, 8L, which(censoring_cases)[c(1L, 4L)])]) {
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

test_that("standardized Cox standard errors agree with the bootstrap within Monte Carlo error", {
  d <- three_arm(sim_construct_continuous(400, K = 3, seed = 22))
  cs <- sandwich_cases[[13L]]
  fit <- cs$fit(d, d$w)
  set.seed(6)
  boot <- cs$fit(d, d$w, se = "bootstrap", R = 400)
  times <- c(2, 4, 6)
  for (contrast in c("risk_difference", "rmst_difference")) {
    se_if <- tidy(estimate_effect(fit, times = times, contrast = contrast))$std.error
    se_bs <- tidy(estimate_effect(boot, times = times, contrast = contrast))$std.error
    # The standard deviation of 400 replicates is within about 3.5% of the
    # bootstrap's; allow for that (4 sd) and the O(1/n) difference.
    expect_equal(se_if, se_bs, tolerance = 0.2, info = contrast)
  }
  ok <- fit$std_error > 0
  # (replicates end with their own resample's follow-up: NA after it)
  boot_se <- sqrt(apply(boot$replicates, c(2L, 3L), stats::var, na.rm = TRUE))
  expect_equal(fit$std_error[ok], boot_se[ok], tolerance = 0.2)
})

# riskRegression::ate() on the same coxph() model: its curves, and its
# standard errors of the curves and their differences. Its influence
# function is the infinitesimal jackknife only without tied event times
# (with ties it differs by a few percent from the numerical derivative in
# the case weights, which ours matches; see the jackknife test above), so
# the times are untied by less than their resolution.
untie <- function(d) {
  d$time <- d$time + (rank(d$time, ties.method = "first") - 1) * 0.5 / nrow(d)
  d
}
rr_rott <- untie(rotterdam_cohort(600, seed = 5))
rr_colon <- untie(colon_cohort(seed = 6))
rr_cases <- list(
  list(id = "rotterdam, numeric 0/1: a + x + z", data = rr_rott, f = Surv(time, event) ~ a + x + z),
  # (not offset(): ate()'s predictions leave it out)
  list(id = "rotterdam, factor: a + x + a:x + z",
       data = recode_treatment(rr_rott, "factor"), f = Surv(time, event) ~ a + x + a:x + z),
  list(id = "rotterdam, logical: a + splines::ns(x, 3) + nodes",
       data = recode_treatment(rr_rott, "logical"), f = Surv(time, event) ~ a + splines::ns(x, 3) + nodes),
  list(id = "colon, 3-level factor: a + x + z + nodes", data = rr_colon,
       f = Surv(time, event) ~ a + x + z + nodes),
  list(id = "colon, character: a + x + z", data = transform(rr_colon, a = as.character(a)),
       f = Surv(time, event) ~ a + x + z)
)

test_that("standardized Cox curves and standard errors equal riskRegression::ate() without ties", {
  skip_if_not_installed("riskRegression")
  for (cs in rr_cases) {
    d <- cs$data
    fit <- survival_standardization(cs$f, data = d, treatment = "a", model = "cox")
    expect_identical(fit$se_type, "sandwich", info = cs$id)
    times <- unname(stats::quantile(d$time[d$event == 1], c(0.2, 0.5, 0.8)))
    # riskRegression wants the treatment as a factor of the same levels
    d$a <- factor(as.character(d$a), levels = fit$levels)
    cx <- survival::coxph(cs$f, data = d, x = TRUE, ties = "efron")
    ref <- riskRegression::ate(cx, treatment = "a", data = d, times = times, estimator = "GFORMULA",
                               se = TRUE, verbose = FALSE)
    mr <- as.data.frame(ref$meanRisk)
    j <- findInterval(times, fit$times)
    K <- length(fit$levels)
    # ate() lists levels within times
    k_of <- match(as.character(mr$treatment), fit$levels)
    j_of <- match(mr$time, times)
    expect_equal(1 - fit$survival[cbind(k_of, j[j_of])], mr$estimate, tolerance = 1e-8, info = cs$id)
    expect_equal(fit$std_error[cbind(k_of, j[j_of])], mr$se, tolerance = 1e-6, info = cs$id)
    e <- tidy(estimate_effect(fit, times = times, contrast = "risk_difference"))
    dr <- as.data.frame(ref$diffRisk)
    dr <- dr[dr$A == fit$levels[1L], ]
    ours <- e[order(match(e$term, e$term)), ]
    expect_equal(ours$estimate, dr$estimate[order(match(dr$B, fit$levels), dr$time)],
                 tolerance = 1e-8, info = cs$id)
    expect_equal(ours$std.error, dr$se[order(match(dr$B, fit$levels), dr$time)],
                 tolerance = 1e-6, info = cs$id)
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
  for (cs in sandwich_cases[c(1L, 2L, 7L, 8L, 12L, 13L, which(censoring_cases)[c(2L, 5L)])]) {
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
  sim <- tidy(fit, band = "simultaneous", band_from = 0)
  expect_equal(sim$std.error, pw$std.error)
  inner <- pw$std.error > 0
  expect_true(all(sim$conf.low[inner] < pw$conf.low[inner]))
  set.seed(2)
  c_band <- causallib:::band_critical_value(fit, 0.95)
  n_cells <- sum(fit$std_error > 0 & fit$survival > 0)
  expect_gt(c_band, stats::qnorm(0.975))
  expect_lt(c_band, stats::qnorm(1 - 0.025 / n_cells))
  # The band is on the log(-log) scale: log(-log S) +- c se / (S |log S|).
  s <- sim$survival[inner]
  g <- c_band * sim$std.error[inner] / (s * abs(log(s)))
  expect_equal(sim$conf.low[inner], exp(-exp(log(-log(s)) + g)), tolerance = 1e-12)
  expect_equal(sim$conf.high[inner], exp(-exp(log(-log(s)) - g)), tolerance = 1e-12)
  expect_true(all(sim$conf.low[!inner] == sim$survival[!inner]))
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

test_that("pooled-logistic contrasts keep their sandwich when one arm's curve ends earlier", {
  d <- sim_construct_cohort(160, K = 2, seed = 11)
  cut <- d$a == 1 & d$time > 5
  d$time[cut] <- 5
  d$event[cut] <- 0L
  fit <- survival_standardization(Surv(time, event) ~ a + x + z, data = d, treatment = "a",
                                  time_terms = ~ splines::ns(time, 3), learner = lrn_tight())
  expect_true(anyNA(fit$survival[2L, ]) && !anyNA(fit$survival[1L, ]))
  U <- brute_influence(fit)
  U[is.na(fit$survival), ] <- 0
  times <- c(2, 4)
  e <- estimate_effect(fit, times = times)
  L <- causallib:::survival_functionals(fit, times)
  summ <- lapply(1:2, function(k) t(L) %*% U[(seq_along(fit$times) - 1L) * 2L + k, ])
  expect_true(all(is.finite(vcov(e))))
  expect_equal(unname(vcov(e)), unname(tcrossprod(summ[[1L]] - summ[[2L]])), tolerance = 1e-4)
})

test_that("a censoring model without censoring before the grid's end leaves the Kaplan-Meier standard errors", {
  d <- sim_construct_cohort(200, seed = 3)
  d$time <- pmin(d$time, 6)
  d$event[d$time < 6] <- 1L
  fit <- survival_ipw(Surv(time, event) ~ a, data = d, weight_model = a ~ x, censoring_model = ~ x)
  expect_identical(fit$method, "grid_km")
  expect_null(fit$models$censoring_models)
  km <- survival_ipw(Surv(time, event) ~ a, data = d, weight_model = a ~ x)
  expect_equal(fit$std_error, km$std_error, tolerance = 1e-10)
})

test_that("standardized Cox influence functions equal the brute-force jackknife person by person at the earliest event times", {
  # The standard errors above are norms over people; here each person's
  # influence on each arm's curve at its first event times, where a band
  # rests on a handful of events.
  d <- sim_construct_continuous(120, K = 2, seed = 21)
  for (weighted in c(FALSE, TRUE)) {
    fit <- survival_standardization(Surv(time, event) ~ a + x + z, data = d, treatment = "a",
                                    model = "cox", weight_model = if (weighted) a ~ x)
    U <- brute_influence(fit)
    first <- seq_len(5L)
    K <- length(fit$levels)
    L <- diag(length(fit$times))[, rep(first, K), drop = FALSE]
    arm <- rep(seq_len(K), each = length(first))
    phi <- causallib:::curve_influence(fit, L, arm)
    ref <- t(U[(rep(first, K) - 1L) * K + arm, , drop = FALSE])
    expect_equal(phi, ref, tolerance = 2e-6, ignore_attr = TRUE, info = paste("weighted:", weighted))
  }
})
