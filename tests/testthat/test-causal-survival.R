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

# ---- where the simultaneous band starts ---------------------------------------

# The first of `times` by which every arm has had `events` events, counted
# the obvious way: a table of events up to each time.
hand_band_start <- function(time, event, arm, times, events, w = rep(1, length(time))) {
  arm <- factor(arm)
  up_to <- vapply(times, function(t) {
    all(table(arm[event > 0 & w > 0 & time <= t]) >= events)
  }, NA)
  times[which(up_to)[1L]]
}

test_that("band_start() is the first time at which every arm has had the events (a table of cases)", {
  d <- sim_survival(400, periods = 8)
  d$w0 <- d$w
  d$w0[d$event == 1][1:15] <- 0
  crc <- colon_competing()
  colon <- colon_cohort()
  cases <- list(
    list(id = "2 arms, Kaplan-Meier", d = d, events = 20,
         fit = function(d) survival_ipw(Surv(time, event) ~ a, data = d)),
    list(id = "2 arms, IP-weighted Kaplan-Meier, zero sampling weights", d = d, events = 20, w = "w0",
         fit = function(d) survival_ipw(Surv(time, event) ~ a, data = d, weight_model = a ~ x,
                                        weights = "w0")),
    list(id = "3 arms, factor treatment, IP-weighted Kaplan-Meier (days)", d = colon, events = 20,
         fit = function(d) survival_ipw(Surv(time, event) ~ a, data = d, weight_model = a ~ x)),
    list(id = "3 arms, factor treatment, competing risks (any cause)", d = crc, events = 30,
         cause = TRUE, arm = "rx",
         fit = function(d) survival_ipw(Surv(time, cause) ~ rx, data = d)),
    list(id = "standardized pooled logistic, periods of 3", d = d, events = 40,
         fit = function(d) survival_standardization(Surv(time, event) ~ a + x, data = d,
                                                    treatment = "a", breaks = c(0, 3, 6, 8))),
    list(id = "standardized Cox, 3 arms (days)", d = colon, events = 20,
         fit = function(d) survival_standardization(Surv(time, event) ~ a + x, data = d,
                                                    treatment = "a", model = "cox"))
  )
  for (cs in cases) {
    fit <- cs$fit(cs$d)
    event <- if (isTRUE(cs$cause)) as.integer(cs$d$cause != "censored") else cs$d$event
    w <- if (is.null(cs$w)) rep(1, nrow(cs$d)) else cs$d[[cs$w]]
    expected <- hand_band_start(cs$d$time, event, cs$d[[cs$arm %||% "a"]], fit$times, cs$events, w)
    expect_identical(band_start(fit, events = cs$events), expected, info = cs$id)
    expect_true(expected > min(fit$times), info = cs$id)
  }
  # With one event in every arm, the first time at which all have had one.
  km <- survival_ipw(Surv(time, event) ~ a, data = d)
  expect_identical(band_start(km, events = 1),
                   max(tapply(d$time[d$event == 1], d$a[d$event == 1], min)))
})

test_that("an arm with too few events starts the band at 0, with a warning naming it", {
  d <- sim_survival(400, periods = 8)
  km <- survival_ipw(Surv(time, event) ~ a, data = d)
  few <- min(table(d$a[d$event == 1]))
  expect_snapshot(start <- band_start(km, events = few + 1))
  expect_identical(start, 0)
  expect_snapshot(error = TRUE, band_start(km, events = 0))
  expect_snapshot(error = TRUE, tidy(km, band = "simultaneous", band_from = 100))
})

# The critical value of a band from `from` on, by hand: the grid times from
# `from` at which a curve or its standard error changes, the correlation of
# the curves there from the fit's influence functions, and the 0.95 quantile
# of the largest |Z| over the same draws as band_critical_value()'s.
hand_critical_value <- function(fit, from, seed) {
  cells <- do.call(rbind, lapply(seq_along(fit$levels), function(k) {
    s <- fit$survival[k, ]
    se <- fit$std_error[k, ]
    j <- which(fit$times >= from & se > 0 & s > 0)
    changed <- c(TRUE, (s[j][-1L] != s[j][-length(j)]) | (se[j][-1L] != se[j][-length(j)]))
    cbind(k = k, j = j[changed])
  }))
  L <- matrix(0, length(fit$times), nrow(cells))
  L[cbind(cells[, "j"], seq_len(nrow(cells)))] <- 1
  U <- causallib:::curve_influence(fit, L, cells[, "k"])
  e <- eigen(stats::cov2cor(crossprod(U)), symmetric = TRUE)
  set.seed(seed)
  z <- matrix(stats::rnorm(10000 * nrow(cells)), 10000) %*% (t(e$vectors) * sqrt(pmax(e$values, 0)))
  list(value = stats::quantile(apply(abs(z), 1L, max), 0.95, names = FALSE), cells = nrow(cells))
}

test_that("the band from band_from on uses the critical value over those times only", {
  d <- sim_survival(400, periods = 8)
  fits <- list(
    km = survival_ipw(Surv(time, event) ~ a, data = d, weight_model = a ~ x),
    std = survival_standardization(Surv(time, event) ~ a + x, data = d, treatment = "a")
  )
  for (id in names(fits)) {
    fit <- fits[[id]]
    from <- band_start(fit)
    hand <- hand_critical_value(fit, from, seed = 5)
    whole <- hand_critical_value(fit, 0, seed = 5)
    expect_lt(hand$cells, whole$cells)
    set.seed(5)
    expect_equal(causallib:::band_critical_value(fit, 0.95, from), hand$value, tolerance = 1e-12, info = id)
    set.seed(5)
    band <- tidy(fit, band = "simultaneous")
    s <- band$survival
    g <- hand$value * band$std.error / (s * abs(log(s)))
    after <- band$time >= from & band$std.error > 0
    expect_equal(band$conf.low[after], s[after]^exp(g[after]), tolerance = 1e-12, info = id)
    expect_equal(band$conf.high[after], s[after]^exp(-g[after]), tolerance = 1e-12, info = id)
    expect_true(all(is.na(band[band$time < from, c("conf.low", "conf.high")])), info = id)
    # band_from = 0 is the band over the whole curves, as before band_from.
    set.seed(5)
    old <- tidy(fit, band = "simultaneous", band_from = 0)
    g0 <- whole$value * old$std.error / (s * abs(log(s)))
    g0[old$std.error == 0] <- 0
    expect_identical(old[c("time", "treatment", "survival", "std.error")],
                     band[c("time", "treatment", "survival", "std.error")])
    expect_equal(old$conf.low, s^exp(g0), tolerance = 1e-12, info = id)
    expect_equal(old$conf.high, s^exp(-g0), tolerance = 1e-12, info = id)
    # A band that starts later needs a smaller critical value.
    expect_lt(hand$value, whole$value)
  }
})

test_that("the plots draw the simultaneous band from band_from on", {
  skip_if_not_installed("ggplot2")
  d <- sim_survival(400, periods = 8)
  km <- survival_ipw(Surv(time, event) ~ a, data = d, weight_model = a ~ x)
  set.seed(7)
  pd <- curve_plot_data(km, band = "simultaneous")
  drawn <- pd$curves[!is.na(pd$curves$conf.low), ]
  expect_identical(min(drawn$time), band_start(km))
  set.seed(7)
  expect_identical(pd$curves$conf.low, tidy(km, band = "simultaneous")$conf.low)
  for (from in c(0, 4)) {
    set.seed(7)
    p <- ggplot2::autoplot(km, band = "simultaneous", band_from = from, risk_table = "none")
    ribbon <- ggplot2::ggplot_build(p)$data[[1L]]
    expect_identical(min(ribbon$x), from)
    set.seed(7)
    band <- tidy(km, band = "simultaneous", band_from = from)
    expect_equal(range(ribbon$ymin), range(band$conf.low, na.rm = TRUE))
  }
})
