ctl12 <- glm.control(epsilon = 1e-12, maxit = 50)

test_that("standardized pooled-logistic curves equal glm() on the person-month table (What If 17.5)", {
  fit <- survival_standardization(whatif_survival_formula, time_terms = quadratic_time, data = nhefs, treatment = "qsmk",
                                  learner = lrn_glm(epsilon = 1e-12), se = "none")
  long <- expand_person_time(nhefs, nhefs$survtime, nhefs$death)
  ref <- glm(y ~ qsmk * (time + I(time^2)) + sex + race + age + I(age^2) + education +
               smokeintensity + I(smokeintensity^2) + smkintensity82_71 + smokeyrs +
               I(smokeyrs^2) + exercise + active + wt71 + I(wt71^2),
             family = binomial(), data = long, control = ctl12)
  b <- fit$models$hazard$coefficients
  expect_equal(unname(b[names(coef(ref))[!grepl(":", names(coef(ref)))]]),
               unname(coef(ref)[!grepl(":", names(coef(ref)))]), tolerance = 1e-8)
  expect_equal(fit$models$hazard$deviance, deviance(ref), tolerance = 1e-10)
  for (a in 0:1) {
    s <- glm_standardized_survival(ref, nhefs, "qsmk", a, 1:120)
    expect_equal(unname(fit$survival[a + 1, ]), s, tolerance = 1e-8)
  }
  rd <- estimate_effect(fit, times = 120)
  expect_equal(unname(coef(rd)), unname(fit$survival[1, 120] - fit$survival[2, 120]))
})

test_that("weighted (doubly robust) and stratified standardization equal their glm() versions", {
  d <- sim_survival(n = 700, periods = 8)
  wm <- ipw(a ~ x, data = d)
  fit <- survival_standardization(Surv(time, event) ~ a + x, data = d, treatment = a,
                                  weight_model = wm, stratified = TRUE,
                                  time_terms = ~ time, weights = d$w,
                                  learner = lrn_glm(epsilon = 1e-12), se = "none")
  long <- expand_person_time(d, d$time, d$event)
  long$pw <- (d$w * weights(wm))[long$id]
  for (a in 0:1) {
    ref <- suppressWarnings(glm(y ~ x + time, binomial(), long[long$a == a, ],
                                weights = pw, control = ctl12))
    s <- glm_standardized_survival(ref, d, "a", a, 1:8, w = d$w)
    expect_equal(unname(fit$survival[a + 1, ]), s, tolerance = 1e-8)
  }
})

test_that("standardization with censoring weights equals the glm() version", {
  d <- sim_survival(n = 700, periods = 8, seed = 5)
  fit <- survival_standardization(Surv(time, event) ~ a + x, data = d, treatment = "a",
                                  censoring_model = ~ x, time_terms = ~ time,
                                  learner = lrn_glm(epsilon = 1e-12), se = "none")
  long <- expand_person_time(d, d$time, d$event)
  cl <- long[long$y == 0L, ]
  cl$c <- as.integer(cl$time == d$time[cl$id] & d$event[cl$id] == 0L & d$time[cl$id] < 8)
  den <- glm(c ~ a + x + time, binomial(), cl, control = ctl12)
  num <- glm(c ~ a + time, binomial(), cl, control = ctl12)
  r <- (1 - predict(num, long, type = "response")) / (1 - predict(den, long, type = "response"))
  long$cw <- ave(r, long$id, FUN = function(v) c(1, cumprod(v)[-length(v)]))
  ref <- suppressWarnings(glm(y ~ a * time + x, binomial(), long, weights = cw, control = ctl12))
  for (a in 0:1) {
    expect_equal(unname(fit$survival[a + 1, ]), glm_standardized_survival(ref, d, "a", a, 1:8),
                 tolerance = 1e-8)
  }
})

test_that("Cox standardization equals the average of survfit.coxph() curves", {
  d <- sim_survival(n = 400, periods = 10, seed = 2)
  withr::local_seed(2)
  d$time <- d$time - stats::runif(nrow(d), 0, 0.9)
  fit <- survival_standardization(Surv(time, event) ~ a + x, data = d, treatment = "a",
                                  model = "cox", se = "none")
  cx <- survival::coxph(Surv(time, event) ~ a + x, data = d, ties = "efron")
  for (lev in 0:1) {
    nd <- d
    nd$a <- lev
    sf <- survival::survfit(cx, newdata = nd, se.fit = FALSE)
    s <- rowMeans(summary(sf, times = fit$times, extend = TRUE)$surv)
    expect_equal(unname(fit$survival[lev + 1, ]), s, tolerance = 1e-10)
  }
})

test_that("continuous times are discretized on the breaks grid", {
  d <- sim_survival(n = 300, periods = 6, seed = 4)
  withr::local_seed(4)
  d$t2 <- d$time * 2.5 - stats::runif(nrow(d), 0, 2)
  # without breaks: evenly spaced periods of the finest 1, 2 or 5 x 10^k
  # width giving at most 250 of them (here 0.1), said in a message
  expect_message(auto <- survival_standardization(Surv(t2, event) ~ a + x, data = d, treatment = "a",
                                                  se = "none"),
                 paste(ceiling(max(d$t2) / 0.1), "periods of width 0.1"))
  expect_equal(auto$breaks, 0.1 * (0:ceiling(max(d$t2) / 0.1)))
  fit <- survival_standardization(Surv(t2, event) ~ a + x, time_terms = quadratic_time, data = d, treatment = "a",
                                  breaks = seq(0, 15, by = 2.5), se = "none")
  expect_equal(fit$times, seq(2.5, 15, by = 2.5))
  same <- survival_standardization(Surv(time, event) ~ a + x, time_terms = quadratic_time, data = d, treatment = "a",
                                   se = "none")
  expect_equal(fit$survival, same$survival, tolerance = 1e-10)
})

test_that("contrasts and restricted mean survival are computed from the curves", {
  d <- sim_survival(n = 500, periods = 10, seed = 6)
  set.seed(2)
  fit <- survival_standardization(Surv(time, event) ~ a + x, time_terms = quadratic_time, data = d,
                                  treatment = "a", se = "bootstrap", R = 20)
  s <- fit$survival
  expect_equal(unname(coef(estimate_effect(fit, times = c(4, 10), contrast = "risk_ratio"))),
               (1 - s[2, c(4, 10)]) / (1 - s[1, c(4, 10)]))
  rmst <- estimate_effect(fit, times = 5.5, contrast = "rmst_difference")
  by_hand <- function(k) sum(c(1, s[k, 1:4])) + 0.5 * s[k, 5]
  expect_equal(unname(coef(rmst)), unname(by_hand(2) - by_hand(1)))
  reps <- fit$replicates
  rd_reps <- reps[, 1, 10] - reps[, 2, 10]
  eff <- estimate_effect(fit, times = 10)
  expect_equal(unname(tidy(eff)$std.error), sd(rd_reps))
  expect_equal(unname(unlist(tidy(eff)[, c("conf.low", "conf.high")])),
               unname(quantile(rd_reps, c(0.025, 0.975))))
})

test_that("a three-level treatment gets one curve per level, as glm() on the long table", {
  d <- sim_survival(n = 900, periods = 6, seed = 8)
  withr::local_seed(8)
  d$g <- factor(cut(d$x + stats::rnorm(900), c(-Inf, -0.5, 0.5, Inf), labels = c("lo", "mid", "hi")))
  fit <- survival_standardization(Surv(time, event) ~ g + x, data = d, treatment = g,
                                  time_terms = ~ time, learner = lrn_glm(epsilon = 1e-12),
                                  se = "none")
  expect_equal(rownames(fit$survival), c("lo", "mid", "hi"))
  long <- expand_person_time(d, d$time, d$event)
  ref <- glm(y ~ g * time + x, binomial(), long, control = ctl12)
  for (lev in levels(d$g)) {
    s <- glm_standardized_survival(ref, d, "g", factor(lev, levels(d$g)), 1:6)
    expect_equal(unname(fit$survival[lev, ]), s, tolerance = 1e-8)
  }
  eff <- estimate_effect(fit, times = 6, reference = "mid")
  expect_equal(tidy(eff)$term, c("lo vs mid at 6", "hi vs mid at 6"))
})

test_that("stratified Cox curves average per-arm coxph() fits, and Cox bootstraps refit", {
  d <- sim_survival(n = 400, periods = 10, seed = 9)
  fit <- survival_standardization(Surv(time, event) ~ a + x, data = d, treatment = "a",
                                  model = "cox", stratified = TRUE, se = "none")
  for (lev in 0:1) {
    cx <- survival::coxph(Surv(time, event) ~ x, data = d[d$a == lev, ], ties = "efron")
    sf <- survival::survfit(cx, newdata = d, se.fit = FALSE)
    s <- rowMeans(summary(sf, times = fit$times, extend = TRUE)$surv)
    expect_equal(unname(fit$survival[lev + 1, ]), s, tolerance = 1e-10)
  }
  set.seed(4)
  b1 <- survival_standardization(Surv(time, event) ~ a + x, data = d, treatment = "a",
                                 model = "cox", se = "bootstrap", R = 4)
  set.seed(4)
  b2 <- survival_standardization(Surv(time, event) ~ a + x, data = d, treatment = "a",
                                 model = "cox", se = "bootstrap", R = 4)
  expect_identical(b1$replicates, b2$replicates)
  expect_false(isTRUE(all.equal(b1$replicates[1, , ], b1$replicates[2, , ])))
})

test_that("Kaplan-Meier bootstrap replicates refit the weight model", {
  d <- sim_survival(n = 300, periods = 8, seed = 10)
  wm <- ipw(a ~ x, data = d)
  set.seed(5)
  fit <- survival_ipw(Surv(time, event) ~ a, data = d, weight_model = wm, se = "bootstrap", R = 3)
  counts <- local({
    set.seed(5)
    causallib:::bootstrap_counts(nrow(d), 3)
  })
  w1 <- weights(ipw(a ~ x, data = d, weights = counts[, 1]))
  ref <- survival::survfit(Surv(time, event) ~ a, data = d[counts[, 1] > 0, ],
                           weights = (counts[, 1] * w1)[counts[, 1] > 0])
  s <- ref[2]
  expect_equal(fit$replicates[1, 2, match(s$time, fit$times)], s$surv, tolerance = 1e-10)
})

test_that("a character treatment gives the curves of its 0/1 coding", {
  d <- sim_survival(400)
  d$arm <- ifelse(d$a == 1, "treated", "control")
  for (model in c("pooled_logistic", "cox")) {
    num <- survival_standardization(Surv(time, event) ~ a + x, time_terms = quadratic_time, data = d, treatment = a,
                                    model = model, se = "none")
    chr <- survival_standardization(Surv(time, event) ~ arm + x, time_terms = quadratic_time, data = d, treatment = arm,
                                    model = model, se = "none")
    expect_equal(unname(chr$survival), unname(num$survival), tolerance = 1e-12, info = model)
    expect_equal(chr$levels, c("control", "treated"), info = model)
  }
})

test_that("a period grid too fine for the hazard models gets an error saying what to write", {
  d <- sim_survival(200)
  d$days <- d$time * 30
  fine <- seq(0, max(d$days), length.out = 1.5e7 + 1)
  expect_snapshot(error = TRUE, survival_standardization(Surv(days, event) ~ a + x, data = d,
                                                         treatment = a, breaks = fine, se = "none"))
  # whole-number times in seconds: no longer unit periods but an automatic grid
  d$seconds <- d$time * 2.6e6
  expect_message(fit <- survival_ipw(Surv(seconds, event) ~ a, data = d, weight_model = a ~ x,
                                     method = "pooled_logistic", se = "none"),
                 "periods of width 200000")
  expect_lte(fit$pt$n_periods, 250L)
})
