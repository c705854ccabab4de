# Plots of survival fits for papers: the number-at-risk table, difference
# and ratio curves, the risk scale, arm labels and the time axis, checked
# through their data path (curve_plot_data(), number_at_risk()) and the
# built layers against survfit() and sums by hand.

built_layers <- function(p) {
  b <- ggplot2::ggplot_build(p)
  kinds <- vapply(b$plot$layers, function(l) class(l$geom)[1L], character(1))
  stats::setNames(b$data, kinds)
}

# survfit()'s numbers at risk at `times` per arm (0 after an arm's last time).
survfit_at_risk <- function(sf, times) {
  s <- summary(sf, times = times, extend = TRUE)
  strata <- sub("^a=", "", as.character(s$strata))
  data.frame(time = s$time, arm = strata, n.risk = s$n.risk)
}

test_that("number_at_risk() counts survfit()'s n.risk, 0 once an arm's follow-up has ended", {
  d <- rotterdam_cohort()
  fit <- survival_ipw(Surv(time, event) ~ a, data = d)
  ends <- tapply(d$time, d$a, max)
  times <- c(0, 365, 1000, 2500, sort(ends)[1L] + 1, max(d$time))
  got <- number_at_risk(fit, times)
  ref <- survfit_at_risk(survival::survfit(Surv(time, event) ~ a, data = d), times)
  key <- paste(got$treatment, got$time)
  expect_equal(got$at_risk, ref$n.risk[match(key, paste(ref$arm, ref$time))])
  # The arm whose follow-up ends first has no one at risk after it.
  short <- names(ends)[which.min(ends)]
  expect_equal(got$at_risk[got$treatment == short & got$time > min(ends)], c(0, 0))
  expect_true(all(got$at_risk[got$treatment != short & got$time <= max(ends)] > 0))
})

test_that("the weighted table sums the IP weights times the sampling weights of those at risk", {
  d <- rotterdam_cohort()
  wm <- ipw(a ~ x + z, data = d, weights = w)
  fit <- survival_ipw(Surv(time, event) ~ a, data = d, weight_model = wm, weights = "w")
  # IP weights by hand from glm(), sampling weights rescaled to mean 1.
  p <- stats::fitted(stats::glm(a ~ x + z, family = quasibinomial(), data = d, weights = w))
  wt <- d$w / mean(d$w) * ifelse(d$a == 1, 1 / p, 1 / (1 - p))
  times <- c(0, 500, 2000, 4000, max(d$time))
  got <- number_at_risk(fit, times, weighted = TRUE)
  hand <- vapply(seq_len(nrow(got)), function(i) {
    sum(wt[d$a == as.character(got$treatment[i]) & d$time >= got$time[i]])
  }, numeric(1))
  expect_equal(got$at_risk, hand, tolerance = 1e-6)
  # survfit() with the same case weights reports the same weighted risk sets.
  ref <- survfit_at_risk(survival::survfit(Surv(time, event) ~ a, data = d, weights = wt), times)
  expect_equal(got$at_risk, ref$n.risk[match(paste(got$treatment, got$time), paste(ref$arm, ref$time))],
               tolerance = 1e-6)
  # Unweighted counts ignore the weights.
  expect_equal(number_at_risk(fit, times)$at_risk,
               as.vector(vapply(times, function(t) tapply(d$time >= t, d$a, sum), numeric(2))))
})

test_that("the table under the curves draws number_at_risk() at the axis breaks, for every treatment type", {
  skip_if_not_installed("ggplot2")
  base <- rotterdam_cohort(400)
  for (type in c("numeric", "factor", "logical", "character")) {
    d <- recode_treatment(base, type)
    fit <- survival_ipw(Surv(time, event) ~ a, data = d, se = "none", time_unit = "day")
    arms <- surv_treatment_levels(d$a)
    pd <- curve_plot_data(fit)
    expect_identical(levels(pd$risk_table$treatment), arms)
    expect_identical(pd$breaks, pretty(c(0, max(d$time))))
    expect_identical(unique(pd$risk_table$time), pd$breaks[pd$breaks <= max(d$time)])
    expect_equal(pd$risk_table$at_risk, number_at_risk(fit, unique(pd$risk_table$time))$at_risk)
    layers <- built_layers(ggplot2::autoplot(fit))
    text <- layers$GeomText
    expect_identical(text$label, formatC(pd$risk_table$at_risk, format = "f", digits = 0, big.mark = ","))
    expect_equal(text$x, pd$risk_table$time)
    # Each row of the table is one arm, its label on the y axis, and its
    # text takes the arm's colour in the curves.
    b <- ggplot2::ggplot_build(ggplot2::autoplot(fit))
    table_panel <- b$layout$layout$PANEL[b$layout$layout$panel == "table"]
    labels <- b$layout$panel_params[[table_panel]]$y$get_labels()
    expect_setequal(labels, arms)
    steps <- layers$GeomStep
    arm_colour <- tapply(steps$colour, steps$group, unique)
    expect_identical(unname(text$colour), as.vector(arm_colour)[as.integer(pd$risk_table$treatment)])
    expect_identical(b$plot$labels$colour, "a")
    expect_identical(b$plot$labels$x, "Time (days)")
  }
})

test_that("three arms with labelled levels: curves, table and labels", {
  skip_if_not_installed("ggplot2")
  d <- colon_cohort()
  fit <- survival_ipw(Surv(time, event) ~ a, data = d, se = "none")
  expect_identical(fit$levels, levels(d$a))
  labels <- c("Observation", "Levamisole", "Levamisole + 5-FU")
  pd <- curve_plot_data(fit, labels = labels, times = c(0, 1000, 2000, 3000))
  expect_identical(levels(pd$curves$treatment), labels)
  ref <- survfit_at_risk(survival::survfit(Surv(time, event) ~ a, data = d), c(0, 1000, 2000, 3000))
  expect_equal(pd$risk_table$at_risk,
               ref$n.risk[match(paste(fit$levels[as.integer(pd$risk_table$treatment)], pd$risk_table$time),
                                paste(ref$arm, ref$time))])
  # Named labels are matched to the levels.
  named <- stats::setNames(rev(labels), rev(fit$levels))
  expect_identical(levels(curve_plot_data(fit, labels = named)$curves$treatment), labels)
  # The curves are survfit()'s Kaplan-Meier curves.
  sf <- survival::survfit(Surv(time, event) ~ a, data = d)
  s <- summary(sf, times = c(500, 1500))
  cv <- pd$curves
  at <- function(t, k) cv$estimate[cv$treatment == labels[k] & cv$time == max(cv$time[cv$time <= t & cv$treatment == labels[k]])]
  expect_equal(vapply(seq_along(s$time), function(i) at(s$time[i], match(sub("^a=", "", s$strata[i]), fit$levels)),
                      numeric(1)), s$surv)
  p <- ggplot2::autoplot(fit, labels = labels, time_label = "Days since randomization")
  expect_identical(p$labels$x, "Days since randomization")
  expect_identical(ggplot2::autoplot(fit)$labels$x, "Time")
})

test_that("the risk scale plots 1 - S with the bands turned over", {
  skip_if_not_installed("ggplot2")
  d <- rotterdam_cohort()
  fit <- survival_ipw(Surv(time, event) ~ a, data = d)
  surv <- curve_plot_data(fit, risk_table = "none")$curves
  risk <- curve_plot_data(fit, scale = "risk", risk_table = "none")$curves
  expect_equal(risk$estimate, 1 - surv$estimate)
  expect_equal(risk$conf.low, 1 - surv$conf.high)
  expect_equal(risk$conf.high, 1 - surv$conf.low)
  steps <- built_layers(ggplot2::autoplot(fit, scale = "risk"))$GeomStep
  expect_equal(sort(steps$y), sort(risk$estimate))
  expect_identical(ggplot2::autoplot(fit, scale = "risk")$labels$y, "Risk (cumulative incidence)")
})

test_that("difference curves are survfit()'s differences with their influence-function intervals", {
  skip_if_not_installed("ggplot2")
  d <- rotterdam_cohort()
  fit <- survival_ipw(Surv(time, event) ~ a, data = d)
  pd <- curve_plot_data(fit, type = "difference", scale = "risk")
  cv <- pd$curves
  expect_identical(pd$reference_line, 0)
  expect_identical(levels(droplevels(cv$treatment)), "1")
  expect_equal(cv$time[1L], 0)
  expect_equal(cv$estimate[1L], 0)
  expect_lte(max(cv$time), min(tapply(d$time, d$a, max)))
  expect_lte(nrow(cv), 150L)
  sf <- survival::survfit(Surv(time, event) ~ a, data = d, robust = TRUE)
  s <- summary(sf, times = cv$time[-1L], extend = TRUE)
  s0 <- s$surv[s$strata == "a=0"]
  s1 <- s$surv[s$strata == "a=1"]
  se <- sqrt(s$std.err[s$strata == "a=0"]^2 + s$std.err[s$strata == "a=1"]^2)
  expect_equal(cv$estimate[-1L], s0 - s1, tolerance = 1e-8)
  expect_equal(cv$conf.high[-1L] - cv$estimate[-1L], stats::qnorm(0.975) * se, tolerance = 1e-5)
  # The survival scale flips the sign; the plot draws these numbers.
  sd <- curve_plot_data(fit, type = "difference")$curves
  expect_equal(sd$estimate, -cv$estimate)
  layers <- built_layers(ggplot2::autoplot(fit, type = "difference", scale = "risk"))
  expect_equal(layers$GeomStep$y, cv$estimate)
  expect_equal(layers$GeomHline$yintercept, 0)
})

test_that("ratio curves are survfit()'s risk ratios, with intervals on the log scale", {
  skip_if_not_installed("ggplot2")
  d <- rotterdam_cohort()
  fit <- survival_ipw(Surv(time, event) ~ a, data = d)
  pd <- curve_plot_data(fit, type = "ratio", risk_table = "none")
  cv <- pd$curves
  expect_identical(pd$reference_line, 1)
  sf <- survival::survfit(Surv(time, event) ~ a, data = d, robust = TRUE)
  s <- summary(sf, times = cv$time, extend = TRUE)
  r0 <- 1 - s$surv[s$strata == "a=0"]
  r1 <- 1 - s$surv[s$strata == "a=1"]
  expect_true(all(r0 > 0 & r1 > 0))
  expect_equal(cv$estimate, r1 / r0, tolerance = 1e-8)
  se_log <- sqrt((s$std.err[s$strata == "a=1"] / r1)^2 + (s$std.err[s$strata == "a=0"] / r0)^2)
  expect_equal(log(cv$conf.high / cv$estimate), stats::qnorm(0.975) * se_log, tolerance = 1e-5)
  # The earliest time before which some arm has no event is left out.
  first <- max(tapply(d$time[d$event == 1], d$a[d$event == 1], min))
  expect_gte(min(cv$time), first)
  p <- ggplot2::autoplot(fit, type = "ratio", risk_table = "none")
  expect_identical(p$labels$y, "Risk ratio")
  expect_equal(built_layers(p)$GeomHline$yintercept, 1)
})

test_that("three arms give one contrast curve per arm against the reference, with estimate_effect()'s intervals", {
  d <- colon_cohort()
  fit <- survival_ipw(Surv(time, event) ~ a, data = d)
  pd <- curve_plot_data(fit, type = "difference", reference = "Lev")
  cv <- pd$curves
  expect_setequal(as.character(unique(cv$treatment)), c("Obs", "Lev+5FU"))
  expect_match(pd$labels$colour, "vs Lev", fixed = TRUE)
  # The plotted times are grid times, and the steps there are estimate_effect()'s.
  expect_true(all(cv$time[cv$time > 0] %in% fit$times))
  times <- sort(unique(cv$time))[c(40, 100)]
  for (arm in c("Obs", "Lev+5FU")) {
    est <- tidy(estimate_effect(fit, times = times, contrast = "survival_difference", reference = "Lev"))
    est <- est[startsWith(est$term, paste(arm, "vs")), ]
    rows <- cv[cv$treatment == arm & cv$time %in% times, ]
    expect_equal(rows$estimate, est$estimate, tolerance = 1e-10)
    expect_equal(rows$conf.low, est$conf.low, tolerance = 1e-10)
    expect_equal(rows$conf.high, est$conf.high, tolerance = 1e-10)
  }
})

test_that("bootstrap fits plot percentile intervals of the contrasts", {
  d <- rotterdam_cohort(300)
  set.seed(3)
  fit <- survival_ipw(Surv(time, event) ~ a, data = d, se = "bootstrap", R = 30)
  cv <- curve_plot_data(fit, type = "difference")$curves
  t <- cv$time[c(20, 60)]
  est <- suppressMessages(tidy(estimate_effect(fit, times = t, contrast = "survival_difference")))
  # The plot does not list the replicates each time uses.
  expect_silent(curve_plot_data(fit, type = "difference"))
  expect_equal(cv$conf.low[c(20, 60)], est$conf.low)
  expect_equal(cv$conf.high[c(20, 60)], est$conf.high)
})

test_that("competing risks: cumulative incidence differences per cause and the table under each cause", {
  skip_if_not_installed("ggplot2")
  crc <- colon_competing()
  fit <- survival_ipw(Surv(time, cause) ~ rx, data = crc, time_unit = "day")
  pd <- curve_plot_data(fit, type = "difference")
  cv <- pd$curves
  expect_setequal(levels(cv$cause), c("recurrence", "death"))
  times <- sort(unique(cv$time))[c(30, 90)]
  est <- tidy(estimate_effect(fit, times = times))
  for (i in seq_len(nrow(est))) {
    parts <- regmatches(est$term[i], regexec("^(.*): (.*) vs Obs at (.*)$", est$term[i]))[[1L]]
    rows <- cv[cv$cause == parts[2L] & cv$treatment == parts[3L], ]
    at <- match(as.numeric(parts[4L]), rows$time)
    expect_equal(rows$estimate[at], est$estimate[i], tolerance = 1e-10)
    expect_equal(rows$conf.high[at], est$conf.high[i], tolerance = 1e-10)
  }
  p <- ggplot2::autoplot(fit)
  b <- ggplot2::ggplot_build(p)
  text <- built_layers(p)$GeomText
  # The same numbers at risk under both causes' panels.
  expect_equal(nrow(text), 2L * 3L * length(unique(pd$risk_table$time)))
  expect_equal(length(unique(text$PANEL)), 2L)
  expect_identical(p$labels$y, "Cumulative incidence")
  ref <- survival::survfit(Surv(time, status > 0) ~ rx, data = transform(crc, status = as.integer(cause != "censored")))
  s <- summary(ref, times = unique(pd$risk_table$time), extend = TRUE)
  expect_equal(pd$risk_table$at_risk,
               s$n.risk[match(paste0("rx=", pd$risk_table$treatment, pd$risk_table$time),
                              paste0(s$strata, s$time))])
})

test_that("plot() prints and returns what autoplot() builds", {
  skip_if_not_installed("ggplot2")
  grDevices::pdf(NULL)
  withr::defer(grDevices::dev.off())
  d <- rotterdam_cohort(300)
  fit <- survival_ipw(Surv(time, event) ~ a, data = d)
  for (args in list(list(), list(type = "difference", risk_table = "weighted"),
                    list(type = "ratio", risk_table = "none"), list(scale = "risk", times = c(0, 1000, 3000)))) {
    built <- do.call(ggplot2::autoplot, c(list(fit), args))
    drawn <- expect_invisible(do.call(plot, c(list(fit), args)))
    expect_identical(ggplot2::ggplot_build(drawn)$data, ggplot2::ggplot_build(built)$data)
    expect_identical(drawn$labels, built$labels)
  }
})

test_that("bad plot arguments get errors that name them", {
  d <- rotterdam_cohort(300)
  fit <- survival_ipw(Surv(time, event) ~ a, data = d)
  crc <- colon_competing()
  cr <- survival_ipw(Surv(time, cause) ~ rx, data = crc, se = "none")
  expect_snapshot(error = TRUE, {
    curve_plot_data(fit, risk_table = "yes")
    curve_plot_data(fit, type = "hazard")
    curve_plot_data(fit, labels = c("only one"))
    curve_plot_data(fit, labels = c(x = "A", y = "B"))
    curve_plot_data(fit, reference = "2")
    curve_plot_data(fit, times = c(0, -1))
    curve_plot_data(fit, type = "difference", band = "simultaneous")
    curve_plot_data(fit, time_label = 1)
    curve_plot_data(cr, scale = "survival")
    number_at_risk(fit, times = 100, weighted = NA)
  })
})

test_that("contrasts beyond an arm's follow-up name the arm and where its curve ends", {
  crc <- colon_competing()
  short <- crc[!(crc$rx == "Lev" & crc$time > 2000), ]
  cr <- survival_ipw(Surv(time, cause) ~ rx, data = short, se = "none")
  expect_snapshot(error = TRUE, estimate_effect(cr, times = 2500))
})

test_that("prints show the curves at round times in the unit of the data", {
  d <- rotterdam_cohort()
  fit <- suppressMessages(survival_standardization(Surv(time, event) ~ a + x, data = d, treatment = a,
                                                   period = "month", time_unit = "day", se = "none"))
  expect_false(all(fit$times == round(fit$times)))
  tab <- summary_tables(fit)
  shown <- as.numeric(names(tab[[2L]])[-1L])
  expect_length(shown, 4L)
  digits <- 10^(floor(log10(shown)) - 1)
  expect_equal(shown %% digits, rep(0, 4))
  expect_true(all(shown <= max(fit$times)))
  expect_equal(unname(as.matrix(tab[[2L]][-1L])), unname(survival_at(fit, shown)))
})
