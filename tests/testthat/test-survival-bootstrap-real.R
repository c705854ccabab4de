# The survival bootstrap on real data (survival::rotterdam, survival::colon):
# arms whose follow-up ends at different times, resamples that end an arm
# earlier still, censoring models. Every replicate counts, each arm's curve
# ends where its follow-up does, in the fit and in every replicate.

skip_on_cran()

rott <- local({
  r <- survival::rotterdam
  r$size <- factor(r$size)
  r
})
rott_ps <- hormon ~ age + meno + size + grade + nodes + pgr + er
rott_rhs <- "hormon + age + meno + size + grade + nodes + pgr + er"
rott_f <- stats::as.formula(paste("Surv(dtime, death) ~", rott_rhs))
# Quarters of a year, for the censoring-weighted Kaplan-Meier curves; the
# pooled-logistic models run with the default grid and time terms (a month,
# a natural spline: see test-person-time.R).
rott_breaks <- seq(0, by = 365.25 / 4, length.out = 79)

rott_cases <- list(
  "km" = function(...) survival_ipw(Surv(dtime, death) ~ hormon, data = rott, ...),
  "km, weight model" = function(...) {
    survival_ipw(Surv(dtime, death) ~ hormon, data = rott, weight_model = rott_ps, ...)
  },
  "km, weight and censoring models" = function(...) {
    survival_ipw(Surv(dtime, death) ~ hormon, data = rott, weight_model = rott_ps,
                 censoring_model = ~ age + nodes, breaks = rott_breaks, ...)
  },
  "pooled logistic" = function(...) {
    survival_ipw(Surv(dtime, death) ~ hormon, data = rott, method = "pooled_logistic",
                 time_unit = "day", ...)
  },
  "pooled logistic, weight and censoring models" = function(...) {
    survival_ipw(Surv(dtime, death) ~ hormon, data = rott, method = "pooled_logistic",
                 weight_model = rott_ps, censoring_model = ~ age + nodes,
                 time_unit = "day", ...)
  },
  "standardization, pooled logistic" = function(...) {
    survival_standardization(rott_f, data = rott, treatment = "hormon", time_unit = "day", ...)
  },
  "standardization, cox" = function(...) {
    survival_standardization(rott_f, data = rott, treatment = "hormon", model = "cox", ...)
  },
  "standardization, stratified" = function(...) {
    survival_standardization(rott_f, data = rott, treatment = "hormon", stratified = TRUE,
                             time_unit = "day", ...)
  },
  "standardization, weight model" = function(...) {
    survival_standardization(rott_f, data = rott, treatment = "hormon", weight_model = rott_ps,
                             time_unit = "day", ...)
  }
)

# The hormonal-therapy arm's follow-up ends at day 6270, the other's at 7043.
rott_ends <- c(`0` = 7043, `1` = 6270)

# Where each arm's curve must end on a fit's times: its last follow-up time
# or, on a period grid, the end of the period that holds it (grid ends
# hand-computed from the breaks).
expected_ends <- function(fit, time, a) {
  ends <- as.vector(tapply(time, a, max))
  if (fit$method %in% c("km", "cox")) return(ends)
  br <- fit$breaks
  # times past the grid are censored at its end
  vapply(pmin(ends, max(br)), function(e) br[findInterval(e, br, left.open = TRUE) + 1L],
         numeric(1))
}

for (name in names(rott_cases)) {
  test_that(paste("the rotterdam bootstrap keeps every replicate |", name), {
    set.seed(11)
    fit <- suppressMessages(rott_cases[[name]](se = "bootstrap", R = 50))
    expect_equal(fit$failed, 0L)
    expect_equal(dim(fit$replicates)[1L], 50L)
    # each arm's curve ends with its follow-up: NA after, defined up to it
    ends <- if (fit$method == "cox" && !fit$stratified) {
      rep(max(rott$dtime), 2)
    } else {
      expected_ends(fit, rott$dtime, rott$hormon)
    }
    expect_equal(unname(fit$curve_ends), unname(ends))
    for (k in 1:2) {
      expect_identical(is.na(fit$survival[k, ]), fit$times > ends[k], info = k)
    }
    # counts = 1 reproduces the estimate, NA pattern included
    one <- causallib:::bootstrap_replicates(fit, matrix(1L, nrow(rott), 1L))
    expect_equal(as.vector(one), as.vector(fit$survival), tolerance = 1e-8)
    # percentile intervals contain the estimate along the curves, and the
    # contrasts at times every arm reaches
    tc <- tidy(fit)
    tc <- tc[!is.na(tc$survival) & tc$time > 0, ]
    expect_true(all(tc$conf.low <= tc$survival + 1e-12 & tc$survival <= tc$conf.high + 1e-12))
    eff <- suppressMessages(estimate_effect(fit, times = c(1000, 3000, 4500)))
    te <- tidy(eff)
    expect_true(all(te$conf.low <= te$estimate & te$estimate <= te$conf.high))
    expect_false(anyNA(te$std.error))
  })
}

test_that("a replicate's curves end where its resample's arms end, and nowhere else", {
  fit <- suppressMessages(rott_cases[["standardization, weight model"]](se = "none"))
  km <- rott_cases[["km, weight model"]](se = "none")
  withr::local_seed(3)
  counts <- causallib:::bootstrap_counts(nrow(rott), 6)
  # the one person followed past day 4586 in the hormonal arm, left out
  # of two resamples
  last <- which(rott$hormon == 1 & rott$dtime == 6270)
  counts[1L, 1:2] <- counts[1L, 1:2] + counts[last, 1:2]
  counts[last, 1:2] <- 0L
  for (f in list(fit, km)) {
    reps <- causallib:::bootstrap_replicates(f, counts, engine = "c")
    # (separated fits stop at an iterate that depends on rounding: 1e-6)
    expect_equal(causallib:::bootstrap_replicates(f, counts, engine = "r"), reps,
                 tolerance = 1e-6)
    for (b in seq_len(ncol(counts))) {
      drawn <- counts[, b] > 0
      ends <- expected_ends(f, rott$dtime[drawn], rott$hormon[drawn])
      curves <- matrix(reps[b, ], 2L)
      for (k in 1:2) {
        expect_identical(is.na(curves[k, ]), f$times > ends[k], info = paste(b, k))
      }
    }
    # without the one person followed past day 4586
    expect_lte(max(f$times[!is.na(matrix(reps[1, ], 2L)[2, ])]), 4586 + 365.25 / 4)
  }
})

test_that("contrasts past an arm's end name the arm and its last time", {
  fit <- rott_cases[["km"]](se = "none")
  expect_snapshot(error = TRUE, estimate_effect(fit, times = c(3000, 6500)))
  expect_error(estimate_effect(fit, times = 6500), "The curve of arm 1 ends at 6270")
  pl <- suppressMessages(rott_cases[["pooled logistic"]](se = "none"))
  expect_error(estimate_effect(pl, times = 6500),
               paste("The curve of arm 1 ends at", format(expected_ends(pl, rott$dtime, rott$hormon)[[2]])))
  expect_no_error(estimate_effect(pl, times = 6270))
})

test_that("intervals past some replicates' ends use those that reach them, and say how many", {
  set.seed(5)
  fit <- rott_cases[["km"]](se = "bootstrap", R = 40)
  reach <- !is.na(fit$replicates[, 2, findInterval(5000, fit$times)])
  expect_lt(sum(reach), 40L)
  expect_gt(sum(reach), 0L)
  expect_message(eff <- estimate_effect(fit, times = c(1000, 5000)),
                 paste0("1 vs 0 at 5000: ", sum(reach), " of 40 replicates"))
  s1 <- fit$replicates[, 1, findInterval(5000, fit$times)]
  s2 <- fit$replicates[, 2, findInterval(5000, fit$times)]
  expect_equal(tidy(eff)$conf.high[2], unname(quantile((s1 - s2)[reach], 0.975)))
  expect_equal(tidy(eff)$std.error[2], sd((s1 - s2)[reach]))
  expect_equal(tidy(eff)$std.error[1], sd(fit$replicates[, 1, findInterval(1000, fit$times)] -
                                            fit$replicates[, 2, findInterval(1000, fit$times)]))
  expect_output(print(fit), "curve_ends replicates_at_end")
  expect_equal(causallib:::replicates_at_ends(fit)[2], sum(!is.na(fit$replicates[, 2, findInterval(6270, fit$times)])))
})

test_that("colon: three arms, weight and censoring models, no replicate lost", {
  co <- survival::colon
  co <- co[co$etype == 2 & !is.na(co$nodes), ]
  set.seed(2)
  km <- survival_ipw(Surv(time, status) ~ rx, data = co, weight_model = rx ~ age + sex + nodes,
                     censoring_model = ~ age + nodes, breaks = seq(0, 3330, by = 30.4375 * 3),
                     se = "bootstrap", R = 50)
  expect_equal(km$failed, 0L)
  expect_equal(unname(km$curve_ends), unname(expected_ends(km, co$time, co$rx)))
  std <- survival_standardization(Surv(time, status) ~ rx + age + sex + nodes, data = co,
                                  treatment = "rx", breaks = seq(0, 3330, by = 30.4375 * 3),
                                  time_terms = ~ splines::ns(time, 3), se = "bootstrap", R = 50)
  expect_equal(std$failed, 0L)
  one <- causallib:::bootstrap_replicates(std, matrix(1L, nrow(co), 1L))
  expect_equal(as.vector(one), as.vector(std$survival), tolerance = 1e-8)
  te <- tidy(suppressMessages(estimate_effect(std, times = c(365, 1826))))
  expect_true(all(te$conf.low <= te$estimate & te$estimate <= te$conf.high))
})
