# What users read: argument errors, printed estimates and tidy tables.

lalonde_frame <- function() {
  d <- lalonde_data()
  d$sw <- seq(0.5, 1.5, length.out = nrow(d))
  d
}

test_that("bare names that are neither columns nor objects are errors naming the argument", {
  d <- lalonde_frame()
  fit <- ipw(treat ~ age + educ, data = d)
  expect_snapshot(error = TRUE, estimate_effect(fit, outcome = re79))
  expect_snapshot(error = TRUE, estimate_effect(fit, outcome = "re79"))
  expect_snapshot(error = TRUE, ipw(treat ~ age + educ, data = d, weights = sw_missing))
  expect_snapshot(error = TRUE, ipw(treat ~ age + educ, data = d, weights = "sw_missing"))
  expect_snapshot(error = TRUE, standardization(re78 ~ treat + age, data = d, treatment = treat,
                                                weights = sw_missing))
})

test_that("`weights` takes a bare column name, a string, a vector or an expression of columns", {
  d <- lalonde_frame()
  by_vector <- ipw(treat ~ age + educ, data = d, weights = d$sw)
  sw_name <- "sw"
  fits <- list(
    ipw(treat ~ age + educ, data = d, weights = sw),
    ipw(treat ~ age + educ, data = d, weights = "sw"),
    ipw(treat ~ age + educ, data = d, weights = sw_name),
    ipw(treat ~ age + educ, data = d, weights = sw * 2)
  )
  for (f in fits) expect_equal(weights(f), weights(by_vector))
  ref <- glm(treat ~ age + educ, family = quasibinomial(), data = d, weights = sw)
  expect_equal(unname(by_vector$propensity[, 2]), unname(fitted(ref)), tolerance = 1e-8)
  s1 <- standardization(re78 ~ treat + age, data = d, treatment = treat, weights = sw)
  s2 <- standardization(re78 ~ treat + age, data = d, treatment = treat, weights = d$sw)
  expect_equal(coef(estimate_outcomes(s1)), coef(estimate_outcomes(s2)))
  m1 <- matching(treat ~ age + educ, data = d, weights = sw)
  expect_equal(m1$sampling_weights, as_sampling_weights(d$sw, nrow(d)))
  a1 <- aipw(re78 ~ treat + age, treat ~ age, data = d, treatment = treat, weights = sw)
  a2 <- aipw(re78 ~ treat + age, treat ~ age, data = d, treatment = treat, weights = d$sw)
  expect_equal(coef(estimate_effect(a1)), coef(estimate_effect(a2)))
  expect_snapshot(error = TRUE, aipw(standardization(re78 ~ treat + age, data = d, treatment = treat),
                                     ipw(treat ~ age, data = d), weights = sw))
})

test_that("`treat ~ .` uses every other column, as the formula written out", {
  d <- lalonde_frame()[, c("treat", "age", "educ", "race", "re74", "re78")]
  dot <- ipw(treat ~ . - re78, data = d)
  full <- ipw(treat ~ age + educ + race + re74, data = d)
  expect_equal(weights(dot), weights(full))
  x <- d[, c("treat", "age", "educ", "race", "re74")]
  expect_equal(weights(ipw(treat ~ ., data = x)), weights(full))
  s_dot <- standardization(re78 ~ ., data = d, treatment = treat)
  s_full <- standardization(re78 ~ treat + age + educ + race + re74, data = d, treatment = treat)
  expect_equal(coef(estimate_effect(s_dot)), coef(estimate_effect(s_full)))
  a_dot <- aipw(re78 ~ ., treat ~ . - re78, data = d, treatment = treat)
  a_full <- aipw(re78 ~ treat + age + educ + race + re74, treat ~ age + educ + race + re74,
                 data = d, treatment = treat)
  expect_equal(coef(estimate_effect(a_dot)), coef(estimate_effect(a_full)))
})

test_that("numbers out of range say the range and the value, with a hint for percentages", {
  d <- lalonde_frame()
  fit <- standardization(re78 ~ treat + age, data = d, treatment = treat)
  expect_snapshot(error = TRUE, estimate_effect(fit, conf_level = 95))
  expect_snapshot(error = TRUE, estimate_effect(fit, conf_level = 1))
  expect_snapshot(error = TRUE, estimate_effect(fit, se = "bootstrap", R = 0.5))
  expect_snapshot(error = TRUE, ipw(treat ~ age, data = d, truncate = 99))
  expect_snapshot(error = TRUE, lrn_glm(penalty = -1))
  expect_snapshot(error = TRUE, ipw(treat ~ age, data = d, clip = 5))
  expect_snapshot(error = TRUE, matching(treat ~ age, data = d, caliper = -0.2))
  expect_snapshot(error = TRUE, tidy(estimate_effect(fit), conf.level = "high"))
  # a level just inside (0, 1) is accepted
  expect_equal(estimate_effect(fit, conf_level = 0.999)$conf_level, 0.999)
})

test_that("a single-level factor covariate is named", {
  d <- lalonde_frame()
  d$site <- factor("nsw")
  d$cohort <- "1976"
  expect_snapshot(error = TRUE, ipw(treat ~ age + site, data = d))
  expect_snapshot(error = TRUE, standardization(re78 ~ treat + age + site + cohort, data = d,
                                                treatment = treat))
  # a level left alone by the rows used counts too
  d$grp <- factor(ifelse(d$age > 40, "old", "young"))
  d$age_na <- ifelse(d$age > 40, d$age, NA)
  expect_snapshot(error = TRUE, ipw(treat ~ age_na + grp, data = d, na_action = "omit"))
})

test_that("printed estimates name the outcome, the estimator, the estimand and n", {
  d <- lalonde_frame()
  fit <- ipw(treat ~ age + educ + race + re74, data = d, estimand = "ATT")
  out <- capture.output(print(estimate_effect(fit, outcome = re78)))
  expect_true(any(out == "Outcome: re78"))
  expect_true(any(out == "Estimator: inverse probability weighting"))
  expect_true(any(grepl("^Estimand: ATT", out)))
  expect_true(any(out == "Observations: 614"))
  s <- standardization(re78 ~ treat + age, data = d, treatment = treat)
  out <- capture.output(print(estimate_outcomes(s)))
  expect_true(any(out == "Outcome: re78"))
  expect_true(any(out == "Estimator: standardization"))
  expect_true(any(out == "Observations: 614"))
})

test_that("tidy() keeps estimator and estimand, so stacked results keep their labels", {
  d <- lalonde_frame()
  e1 <- estimate_effect(ipw(treat ~ age + educ + re74, data = d, estimand = "ATT"), outcome = re78)
  e2 <- estimate_effect(standardization(re78 ~ treat + age + educ + re74, data = d,
                                        treatment = treat))
  stacked <- rbind(tidy(e1), tidy(e2))
  expect_named(stacked, c("term", "estimate", "std.error", "statistic", "p.value", "conf.low",
                          "conf.high", "estimator", "estimand"))
  expect_identical(stacked$estimator, c("inverse probability weighting", "standardization"))
  expect_identical(stacked$estimand, c("ATT", "ATE"))
  expect_identical(stacked$estimand, c(glance(e1)$estimand, glance(e2)$estimand))
  expect_named(tidy(e1, conf.int = FALSE),
               c("term", "estimate", "std.error", "statistic", "p.value", "estimator", "estimand"))
})

test_that("potential-outcome means are not tested against 0; effects are, by the normal test", {
  d <- lalonde_frame()
  s <- standardization(re78 ~ treat + age + educ, data = d, treatment = treat)
  means <- tidy(estimate_outcomes(s))
  expect_true(all(is.na(means$statistic)))
  expect_true(all(is.na(means$p.value)))
  expect_false(any(grepl("p.value", capture.output(print(estimate_outcomes(s))))))
  eff <- tidy(estimate_effect(s))
  expect_equal(eff$statistic, eff$estimate / eff$std.error)
  expect_equal(eff$p.value, 2 * pnorm(-abs(eff$estimate / eff$std.error)))
  # a ratio is tested on the log scale against log(1) = 0
  ratio <- estimate_effect(s, contrast = "ratio")
  rt <- tidy(ratio)
  expect_equal(rt$statistic, unname(log(rt$estimate) / rt$std.error))
})

test_that("printed tables use one number format per column", {
  d <- lalonde_frame()
  d$employed <- as.numeric(d$re78 > 0)
  s <- standardization(employed ~ treat + age + educ + re74, data = d, treatment = treat)
  for (e in list(estimate_outcomes(s), estimate_effect(s), estimate_effect(s, contrast = "ratio"),
                 estimate_effect(standardization(re78 ~ treat + age, data = d, treatment = treat)))) {
    out <- capture.output(print(e))
    start <- grep("^ *term ", out)
    lines <- gsub(" vs ", "_vs_", gsub("(lower|upper) 95%", "\\1", out[start:length(out)]))
    tab <- utils::read.table(text = lines, header = TRUE, colClasses = "character")
    for (col in setdiff(names(tab), c("term", "p.value"))) {
      v <- tab[[col]]
      expect_false(any(grepl("e", v)), label = col)
      decimals <- nchar(sub("^[^.]*\\.?", "", v))
      expect_equal(length(unique(decimals)), 1L, label = col)
    }
    if (!is.null(tab$p.value)) expect_true(all(grepl("^(<0\\.0001|[01]\\.[0-9]{4})$", tab$p.value)))
  }
  # the decimals give the smallest standard error 4 significant digits
  tab <- format_estimate_table(data.frame(term = c("a", "b"), estimate = c(1234.5678, 0.5),
                                          std.error = c(12.3456, 0.0123456), conf.low = c(0, 0),
                                          conf.high = c(1, 1)))
  expect_identical(tab$estimate, c("1234.56780", "0.50000"))
  expect_identical(tab$std.error, c("12.34560", "0.01235"))
})
