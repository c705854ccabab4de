whatif_weight_model <- function() ipw(whatif_ps_formula, data = nhefs)

test_that("IP-weighted Kaplan-Meier equals survfit() with the same weights at every time", {
  wm <- whatif_weight_model()
  fit <- survival_ipw(Surv(survtime, death) ~ qsmk, data = nhefs, weight_model = wm)
  # robust = TRUE: the infinitesimal-jackknife standard error, on the
  # survival scale (logse is FALSE)
  ref <- survival::survfit(Surv(survtime, death) ~ qsmk, data = nhefs, weights = weights(wm),
                           id = seq_len(nrow(nhefs)), robust = TRUE)
  expect_false(ref$logse)
  tab <- tidy(fit)
  for (k in 1:2) {
    s <- ref[k]
    ours <- tab[tab$treatment == fit$levels[k] & tab$time %in% s$time, ]
    expect_equal(ours$time, s$time)
    expect_equal(ours$survival, s$surv, tolerance = 1e-10)
  }
  # With the weights as given (fixed), the standard errors are survfit()'s;
  # with the weight model's estimation they are smaller (ATE weights).
  fixed <- tidy(survival_ipw(Surv(survtime, death) ~ qsmk, data = nhefs, weights = weights(wm)))
  for (k in 1:2) {
    s <- ref[k]
    ours <- fixed[fixed$treatment == fit$levels[k] & fixed$time %in% s$time, ]
    expect_equal(ours$std.error, s$std.err, tolerance = 1e-10)
    estimated <- tab[tab$treatment == fit$levels[k] & tab$time %in% s$time, ]
    expect_lt(mean(estimated$std.error / ours$std.error, na.rm = TRUE), 1)
  }
})

test_that("unweighted Kaplan-Meier with sampling weights and three arms equals survfit()", {
  d <- sim_survival(n = 600)
  d$g <- cut(d$x, c(-Inf, -0.5, 0.5, Inf), labels = c("low", "mid", "high"))
  fit <- survival_ipw(Surv(time, event) ~ g, data = d, weights = d$w, se = "none")
  ref <- survival::survfit(Surv(time, event) ~ g, data = d, weights = w)
  tab <- tidy(fit)
  for (k in 1:3) {
    s <- ref[k]
    ours <- tab[tab$treatment == fit$levels[k] & tab$time %in% s$time, ]
    expect_equal(ours$survival, s$surv, tolerance = 1e-10)
  }
})

test_that("IP-weighted pooled-logistic curves equal glm() on the person-month table (What If 17.4)", {
  wm <- whatif_weight_model()
  fit <- survival_ipw(Surv(survtime, death) ~ qsmk, time_terms = quadratic_time, data = nhefs, weight_model = wm,
                      method = "pooled_logistic", learner = lrn_glm(epsilon = 1e-12),
                      se = "none")
  long <- expand_person_time(nhefs, nhefs$survtime, nhefs$death)
  long$w <- weights(wm)[long$id]
  ref <- suppressWarnings(glm(y ~ qsmk * (time + I(time^2)), family = binomial(),
                              data = long, weights = w,
                              control = glm.control(epsilon = 1e-12, maxit = 50)))
  expect_equal(unname(fit$models$hazard$coefficients), unname(coef(ref)[c(1, 2, 3, 4, 5, 6)]),
               tolerance = 1e-8)
  for (a in 0:1) {
    h <- predict(ref, data.frame(qsmk = a, time = 1:120), type = "response")
    expect_equal(unname(fit$survival[a + 1, ]), unname(cumprod(1 - h)), tolerance = 1e-8)
  }
  eff <- estimate_effect(fit, times = 120, contrast = "survival_difference")
  expect_equal(unname(coef(eff)), unname(fit$survival[2, 120] - fit$survival[1, 120]))
})

test_that("Kaplan-Meier with censoring weights equals a weighted hazard ratio table by hand", {
  d <- sim_survival(n = 800, periods = 10)
  fit <- survival_ipw(Surv(time, event) ~ a, time_terms = quadratic_time, data = d, censoring_model = ~ x,
                      learner = lrn_glm(epsilon = 1e-12), se = "none")
  long <- expand_person_time(d, d$time, d$event)
  # censoring: at risk in the periods without the event, censored before 10
  cl <- long[!(long$y == 1L), ]
  cl$c <- as.integer(cl$time == d$time[cl$id] & d$event[cl$id] == 0L & d$time[cl$id] < 10)
  ctl <- glm.control(epsilon = 1e-12, maxit = 50)
  den <- glm(c ~ a + x + time + I(time^2), binomial(), cl, control = ctl)
  num <- glm(c ~ a + time + I(time^2), binomial(), cl, control = ctl)
  long$pd <- 1 - predict(den, long, type = "response")
  long$pn <- 1 - predict(num, long, type = "response")
  # weight in period t: product over the earlier periods
  long$w <- ave(long$pn / long$pd, long$id, FUN = function(r) c(1, cumprod(r)[-length(r)]))
  for (a in 0:1) {
    sub <- long[long$a == a, ]
    at_risk <- tapply(sub$w, factor(sub$time, 1:10), sum)
    events <- tapply(sub$w * sub$y, factor(sub$time, 1:10), sum)
    expect_equal(unname(fit$survival[a + 1, ]), unname(cumprod(1 - events / at_risk)),
                 tolerance = 1e-8)
  }
})

test_that("censoring weights remove the bias of informative censoring", {
  d <- sim_survival(n = 20000, periods = 12, seed = 3)
  # true curves: everyone's event-time distribution, averaged over x
  truth <- sapply(0:1, function(a) {
    h <- plogis(-2.5 + 0.8 * d$x - 0.5 * a)
    rowMeans(outer(1:12, h, function(t, h) (1 - h)^t))
  })
  wm <- ipw(a ~ x, data = d)
  naive <- survival_ipw(Surv(time, event) ~ a, data = d, weight_model = wm, se = "none")
  ipcw <- survival_ipw(Surv(time, event) ~ a, time_terms = quadratic_time, data = d, weight_model = wm,
                       censoring_model = ~ x, se = "none")
  err_naive <- max(abs(naive$survival[, naive$times == 12] - truth[12, ]))
  err_ipcw <- max(abs(ipcw$survival[, 12] - truth[12, ]))
  expect_gt(err_naive, 0.02)
  expect_lt(err_ipcw, 0.015)
})

test_that("the bootstrap is reproducible under set.seed() and across thread counts", {
  wm <- whatif_weight_model()
  run <- function(threads) {
    withr::local_options(causallib.threads = threads)
    set.seed(11)
    survival_ipw(Surv(survtime, death) ~ qsmk, time_terms = quadratic_time, data = nhefs, weight_model = wm,
                 method = "pooled_logistic", se = "bootstrap", R = 6)$replicates
  }
  r1 <- run(1)
  expect_identical(r1, run(2))
  expect_equal(dim(r1), c(6L, 2L, 120L))
  expect_false(anyNA(r1))
})
