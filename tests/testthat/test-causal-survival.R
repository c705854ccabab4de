test_that("tidy() has one row per time and level, starting at 1 at time 0", {
  km <- survival_ipw(Surv(survtime, death) ~ qsmk, data = nhefs)
  tab <- tidy(km)
  expect_named(tab, c("time", "treatment", "survival", "std.error", "conf.low", "conf.high"))
  expect_equal(nrow(tab), 2 * (length(km$times) + 1))
  expect_equal(tab$survival[tab$time == 0], c(1, 1))
  z <- qnorm(0.975)
  row <- tab[tab$time == 120 & tab$treatment == "1", ]
  expect_equal(row$conf.low, row$survival * exp(-z * row$std.error / row$survival))
  expect_true(all(tab$conf.low <= tab$survival & tab$survival <= tab$conf.high, na.rm = TRUE))
})

test_that("influence-function effects combine the arms by the delta method", {
  km <- survival_ipw(Surv(survtime, death) ~ qsmk, data = nhefs)
  tab <- tidy(km)
  # the curves are steps: their value at 60 is the one at the last time <= 60
  at <- function(level) tab[tab$time == max(tab$time[tab$time <= 60]) & tab$treatment == level, ]
  rd <- tidy(estimate_effect(km, times = 60))
  expect_equal(rd$estimate, at("0")$survival - at("1")$survival)
  expect_equal(rd$std.error, sqrt(at("0")$std.error^2 + at("1")$std.error^2))
  rr <- tidy(estimate_effect(km, times = 60, contrast = "risk_ratio"))
  expect_equal(rr$estimate, (1 - at("1")$survival) / (1 - at("0")$survival))
  expect_equal(rr$std.error, sqrt((at("1")$std.error / (1 - at("1")$survival))^2 +
                                    (at("0")$std.error / (1 - at("0")$survival))^2))
  rmst <- tidy(estimate_effect(km, times = 60, contrast = "rmst_difference"))
  expect_gt(rmst$std.error, 0)
})

test_that("autoplot() draws the tidy curves", {
  skip_if_not_installed("ggplot2")
  set.seed(1)
  fit <- survival_ipw(Surv(survtime, death) ~ qsmk, time_terms = quadratic_time, data = nhefs, method = "pooled_logistic", R = 5)
  p <- ggplot2::autoplot(fit)
  expect_s3_class(p, "ggplot")
  built <- ggplot2::ggplot_build(p)
  line <- built$data[[2]]
  tab <- tidy(fit)
  expect_equal(sort(line$y), sort(tab$survival))
  ribbon <- built$data[[1]]
  expect_equal(range(ribbon$ymin), range(tab$conf.low))
})

test_that("bad survival input gets clear errors", {
  d <- sim_survival(n = 200, periods = 6)
  bad <- d
  bad$time[1] <- -1
  expect_snapshot(error = TRUE, survival_ipw(Surv(time, event) ~ a, data = bad))
  bad <- d
  bad$time[2] <- NA
  expect_snapshot(error = TRUE, survival_ipw(Surv(time, event) ~ a, data = bad))
  bad <- d
  bad$event[3] <- 2
  expect_snapshot(error = TRUE, survival_ipw(Surv(time, event) ~ a, data = bad))
  expect_snapshot(error = TRUE, survival_ipw(time ~ a, data = d))
  expect_snapshot(error = TRUE, survival_ipw(Surv(time, event) ~ a + x, data = d))
  none <- d
  none$event[none$a == 1] <- 0
  expect_snapshot(error = TRUE, survival_standardization(Surv(time, event) ~ a + x, data = none,
                                                         treatment = "a", se = "none"))
  expect_snapshot(km <- survival_ipw(Surv(time, event) ~ a, data = none))
  expect_snapshot(fit <- survival_ipw(Surv(time, event) ~ a, data = d, method = "pooled_logistic",
                                      breaks = 0:9, se = "none"))
  expect_equal(max(fit$times), 6)
  expect_snapshot(error = TRUE, estimate_effect(fit, times = 7))
  expect_snapshot(error = TRUE, survival_ipw(Surv(time, event) ~ a, data = d,
                                             method = "pooled_logistic", time_terms = ~ x))
  expect_snapshot(error = TRUE, survival_ipw(Surv(time, event) ~ a, data = d,
                                             weight_model = ipw(a ~ x, data = d[-1, ])))
  expect_snapshot(error = TRUE, survival_standardization(Surv(time, event) ~ a + x, data = d,
                                                         treatment = "a",
                                                         learner = lrn_glm("gaussian")))
})

test_that("print() summarises the curves and their contrasts", {
  km <- survival_ipw(Surv(survtime, death) ~ qsmk, data = nhefs)
  expect_snapshot(print(km))
  expect_snapshot(print(estimate_effect(km, times = c(60, 120))))
  set.seed(3)
  pl <- survival_ipw(Surv(survtime, death) ~ qsmk, time_terms = quadratic_time, data = nhefs,
                     method = "pooled_logistic", se = "bootstrap", R = 10)
  expect_snapshot(print(estimate_effect(pl, times = 120, contrast = "rmst_difference")))
  expect_snapshot(print(summary(estimate_effect(pl, times = 120, contrast = "risk_ratio"))))
})

test_that("bootstrap replicates without a curve at the asked time are reported", {
  d <- sim_survival(300)
  set.seed(1)
  km <- survival_ipw(Surv(time, event) ~ a, data = d, se = "bootstrap", R = 5)
  # resamples whose treated arm's follow-up ended early
  km$replicates[, 2, ] <- NA
  expect_snapshot(error = TRUE, estimate_effect(km, times = 6))
  late <- km$times > 4
  km$replicates[, 2, ] <- rep(c(0.6, 0.55, 0.5, 0.45, 0.4), length(km$times))
  km$replicates[3:5, 2, late] <- NA
  expect_snapshot(est <- estimate_effect(km, times = c(3, 6)))
  # every replicate counts where it has a curve, the others' where they do
  expect_equal(colSums(!is.na(est$replicates)), c(5L, 2L), ignore_attr = TRUE)
  ref <- km$replicates[, 1, ] - km$replicates[, 2, ]
  at <- findInterval(c(3, 6), km$times)
  expect_equal(tidy(est)$conf.low[2], unname(quantile(ref[1:2, at[2]], 0.025)))
  expect_equal(tidy(est)$std.error[1], sd(ref[, at[1]]))
})
