# nobs(), coef(), tidy(), glance(), summary() and plot() of fitted models.
# Coefficient tables are checked against summary(glm()) (and lm(),
# nnet::multinom(), coxph()) on the same data and formula.

# The rows of tidy() for the estimated (not aliased) coefficients against a
# coefficient matrix of summary.glm(), which leaves aliased ones out.
expect_coef_table <- function(tab, ref, tolerance = 1e-6) {
  kept <- !is.na(tab$estimate)
  expect_equal(tab$term[kept], rownames(ref))
  expect_equal(tab$estimate[kept], unname(ref[, 1L]), tolerance = tolerance)
  expect_equal(tab$std.error[kept], unname(ref[, 2L]), tolerance = tolerance)
  expect_equal(tab$statistic[kept], unname(ref[, 3L]), tolerance = tolerance)
  expect_equal(tab$p.value[kept], unname(ref[, 4L]), tolerance = tolerance)
  expect_true(all(is.na(tab$std.error[!kept])))
}

ctl_summary <- glm.control(epsilon = 1e-14, maxit = 100)
lrn_exact <- function(family = binomial()) lrn_glm(family, epsilon = 1e-12, maxit = 100)

sim_poisson <- function(n = 500, seed = 3) {
  withr::local_seed(seed)
  d <- sim_confounded(n, seed)
  d$exposure <- stats::runif(n, 0.5, 3)
  d$count <- stats::rpois(n, d$exposure * exp(0.2 + 0.4 * d$a + 0.3 * d$x1))
  d
}

test_that("nobs() is the number of units every model was fitted on", {
  d <- nhefs
  wm <- ipw(qsmk ~ sex + age + wt71, data = nhefs_complete())
  om <- standardization(wt82_71 ~ qsmk + sex + age, data = d, treatment = qsmk, na_action = "omit")
  fits <- list(
    wm, matching(qsmk ~ sex + age + wt71, data = d), om,
    marginal_outcome(wt82_71 ~ qsmk, data = d, na_action = "omit"),
    aipw(om, wm),
    xlearner(wt82_71 ~ qsmk + sex + age, data = d, treatment = qsmk, na_action = "omit"),
    survival_ipw(Surv(survtime, death) ~ qsmk, data = d)
  )
  n <- vapply(fits, nobs, integer(1))
  expect_identical(n, c(1566L, 1629L, 1566L, 1566L, 1566L, 1566L, 1629L))
  expect_error(nobs(wm, 1), class = "rlib_error_dots_nonempty")
})

test_that("tidy() of a propensity model is summary(glm()) with sampling weights", {
  d <- sim_confounded(600)
  d$x2f <- factor(d$x2)
  f <- a ~ x1 + x2f + I(x1^2)
  # glm() looks `weights` up in `data` first, so they must not be named
  # like a column. The models see sampling weights rescaled to mean 1, so
  # their binomial standard errors do not depend on the weights' scale.
  for (column in list(NULL, "w")) {
    sw <- if (!is.null(column)) d$w / mean(d$w)
    fit <- ipw(f, data = d, weights = column, learner = lrn_exact())
    ref <- suppressWarnings(glm(f, family = binomial, data = d, weights = sw,
                                control = ctl_summary))
    tab <- tidy(fit)
    expect_named(tab, c("term", "estimate", "std.error", "statistic", "p.value", "conf.low",
                        "conf.high", "model"))
    expect_coef_table(tab, summary(ref)$coefficients)
    expect_equal(tab$conf.low, unname(confint.default(ref)[, 1L]), tolerance = 1e-6)
    expect_equal(tab$conf.high, unname(confint.default(ref)[, 2L]), tolerance = 1e-6)
    expect_identical(unique(tab$model), "propensity")
    expect_equal(coef(fit), coef(ref), tolerance = 1e-8)
  }
  narrow <- tidy(fit, conf.level = 0.8)
  expect_equal(narrow$conf.high - narrow$estimate, qnorm(0.9) * narrow$std.error)
  expect_named(tidy(fit, conf.int = FALSE), c("term", "estimate", "std.error", "statistic",
                                              "p.value", "model"))
})

test_that("the matrix interface and matching report the same propensity model", {
  d <- sim_confounded(400)
  ref <- summary(glm(a ~ x1 + x2, family = binomial, data = d, control = ctl_summary))$coefficients
  fit <- ipw_fit(as.matrix(d[, c("x1", "x2")]), d$a, learner = lrn_exact())
  expect_coef_table(tidy(fit), ref)
  m <- matching(a ~ x1 + x2, data = d, learner = lrn_exact())
  expect_coef_table(tidy(m), ref)
  expect_equal(coef(m), coef(fit), tolerance = 1e-8)
})

test_that("aliased propensity coefficients are NA with NA standard errors", {
  d <- sim_confounded(300)
  d$x1_twice <- 2 * d$x1
  fit <- ipw(a ~ x1 + x1_twice + x2, data = d, learner = lrn_exact())
  tab <- tidy(fit)
  expect_identical(is.na(tab$estimate), c(FALSE, FALSE, TRUE, FALSE))
  # glm() aliases the same column; the others are those of the model without it.
  aliased <- glm(a ~ x1 + x1_twice + x2, family = binomial, data = d)
  expect_identical(is.na(tab$estimate), unname(is.na(coef(aliased))))
  ref <- glm(a ~ x1 + x2, family = binomial, data = d, control = ctl_summary)
  expect_coef_table(tab, summary(ref)$coefficients)
})

test_that("a multinomial propensity model matches nnet::multinom()", {
  skip_if_not_installed("nnet")
  d <- nhefs
  f <- factor(exercise) ~ sex + age + wt71 + smokeintensity
  fit <- ipw(f, data = d, learner = lrn_exact())
  ref <- nnet::multinom(f, data = d, trace = FALSE, reltol = 1e-14, maxit = 1000)
  B <- coef(fit)
  expect_true(is.matrix(B))
  expect_equal(t(B), coef(ref), tolerance = 1e-4, ignore_attr = TRUE)
  tab <- tidy(fit)
  expect_identical(tab$y.level, rep(colnames(B), each = nrow(B)))
  expect_identical(tab$term, rep(rownames(B), ncol(B)))
  expect_equal(tab$estimate, as.vector(t(coef(ref))), tolerance = 1e-4)
  expect_equal(tab$std.error, as.vector(t(summary(ref)$standard.errors)), tolerance = 1e-3)
})

test_that("tidy() of a gaussian outcome model is summary(glm()) with weights and offset()", {
  d <- sim_confounded(500)
  d$off <- 0.3 * d$x2
  d$w[1:5] <- 0
  f <- y ~ a + x1 + x2 + a:x1 + offset(off)
  # the deviance is on the scale of the weights the model sees: mean 1
  for (column in list(NULL, "w")) {
    sw <- if (!is.null(column)) d$w / mean(d$w)
    fit <- standardization(f, data = d, treatment = a, weights = column,
                           learner = lrn_exact(gaussian()))
    ref <- glm(f, data = d, weights = sw, control = ctl_summary)
    tab <- tidy(fit)
    # summary.glm() notes that the units of weight 0 do not count in n - p.
    expect_coef_table(tab, suppressWarnings(summary(ref))$coefficients)
    expect_identical(unique(tab$model), "outcome")
    lm_ref <- lm(f, data = d, weights = sw)
    expect_equal(tab$conf.low, unname(confint(lm_ref)[, 1L]), tolerance = 1e-6)
    expect_equal(glance(fit)$deviance, deviance(ref), tolerance = 1e-8)
  }
})

test_that("binomial and poisson outcome models match glm(), the latter with an offset", {
  d <- sim_poisson()
  fit <- standardization(count ~ a + x1 + offset(log(exposure)), data = d, treatment = a,
                         learner = lrn_exact(poisson()))
  ref <- glm(count ~ a + x1 + offset(log(exposure)), family = poisson, data = d,
             control = ctl_summary)
  expect_coef_table(tidy(fit), summary(ref)$coefficients)
  fit <- standardization(yb ~ a + x1 + x2, data = d, treatment = a, learner = lrn_exact())
  ref <- glm(yb ~ a + x1 + x2, family = binomial, data = d, control = ctl_summary)
  expect_coef_table(tidy(fit), summary(ref)$coefficients)
})

test_that("stratified outcome models give one table and one coefficient vector per arm", {
  d <- sim_confounded(500)
  d$g <- factor(d$a, labels = c("control", "treated"))
  fit <- standardization(y ~ g + x1 + x2, data = d, treatment = g, stratified = TRUE,
                         weights = "w", learner = lrn_exact(gaussian()))
  cf <- coef(fit)
  expect_named(cf, c("control", "treated"))
  tab <- tidy(fit)
  expect_identical(unique(tab$model), c("outcome (g = control)", "outcome (g = treated)"))
  for (lev in c("control", "treated")) {
    arm <- d[d$g == lev, ]
    ref <- glm(y ~ x1 + x2, data = arm, weights = arm$w, control = ctl_summary)
    expect_coef_table(tab[tab$model == paste0("outcome (g = ", lev, ")"), ],
                      summary(ref)$coefficients)
    expect_equal(cf[[lev]], coef(ref), tolerance = 1e-8)
  }
})

test_that("doubly robust models report the outcome model they standardize and the propensity model", {
  d <- sim_confounded(500)
  om <- standardization(y ~ a + x1 + x2, data = d, treatment = a, learner = lrn_exact(gaussian()))
  wm <- ipw(a ~ x1 + x2, data = d, learner = lrn_exact())
  cf <- coef(aipw(om, wm))
  expect_named(cf, c("outcome", "propensity"))
  expect_identical(cf$outcome, coef(om))
  expect_identical(cf$propensity, coef(wm))
  tab <- tidy(tmle(om, wm))
  expect_identical(unique(tab$model), c("outcome", "propensity"))
  expect_identical(tab[tab$model == "propensity", ], tidy(wm), ignore_attr = "row.names")
  # Weighted standardization: the outcome model refitted with the IP weights.
  ws <- weighted_standardization(om, wm)
  ref <- glm(y ~ a + x1 + x2, data = d, weights = weights(wm), control = ctl_summary)
  expect_coef_table(tidy(ws)[1:4, ], summary(ref)$coefficients)
  expect_equal(glance(ws)$deviance, deviance(ref), tolerance = 1e-8)
  # Propensity-feature standardization: one more coefficient, the feature's.
  ps <- ps_standardization(om, wm)
  expect_length(coef(ps)$outcome, length(coef(om)) + 1L)
})

test_that("survival models report their hazard models", {
  d <- sim_construct_cohort(300)
  f <- Surv(time, event) ~ a + x
  fit <- survival_standardization(f, time_terms = quadratic_time, data = d, treatment = a, weights = "w", se = "none",
                                  learner = lrn_tight())
  ref <- ref_pooled_logistic(f, d, "a", prior = d$w / mean(d$w))$fits[[1L]]
  tab <- summary(fit)$coefficients[[1L]]
  expect_equal(tab$estimate, unname(coef(ref)), tolerance = 1e-6)
  expect_equal(tab$std.error, unname(summary(ref)$coefficients[, 2L]), tolerance = 1e-6)
  expect_equal(unname(coef(fit)), unname(coef(ref)), tolerance = 1e-6)
  strat <- survival_standardization(f, time_terms = quadratic_time, data = d, treatment = a, stratified = TRUE, se = "none")
  expect_named(coef(strat), c("0", "1"))
  dc <- sim_construct_continuous(300)
  cox <- survival_standardization(f, data = dc, treatment = a, model = "cox", se = "none")
  cref <- survival::coxph(f, data = dc, ties = "efron")
  expect_equal(coef(cox), coef(cref), tolerance = 1e-8)
  expect_equal(summary(cox)$coefficients[[1L]]$std.error,
               unname(summary(cref)$coefficients[, "se(coef)"]), tolerance = 1e-6)
  expect_s3_class(tidy(fit), "data.frame")
  expect_named(tidy(fit), c("time", "treatment", "survival", "std.error", "conf.low", "conf.high"))
})

test_that("models without coefficients say so and what to use instead", {
  d <- sim_confounded(300)
  expect_snapshot(error = TRUE, {
    coef(marginal_outcome(y ~ a, data = d))
    tidy(xlearner(y ~ a + x1, data = d, treatment = a))
    coef(survival_ipw(Surv(survtime, death) ~ qsmk, data = nhefs))
    coef(ipw(a ~ x1 + x2, data = d, learner = glm_custom()))
    tidy(standardization(y ~ a + x1, data = d, treatment = a, learner = glm_custom()))
  })
})

test_that("glance() is one row with the model's description and diagnostics", {
  d <- nhefs_complete()
  wm <- ipw(qsmk ~ sex + age + wt71, data = d)
  g <- glance(wm)
  expect_identical(nrow(g), 1L)
  expect_identical(g[c("estimator", "estimand", "treatment", "nobs", "n_levels", "se_default")],
                   data.frame(estimator = "inverse probability weighting", estimand = "ATE",
                              treatment = "qsmk", nobs = 1566L, n_levels = 2L,
                              se_default = "sandwich"))
  expect_true(is.na(g$outcome))
  w <- weights(wm)
  ess <- tapply(w, d$qsmk, function(v) sum(v)^2 / sum(v^2))
  expect_equal(g$min_ess, min(ess))
  bal <- balance_table(wm)
  expect_equal(g$max_abs_smd, max(abs(bal$diff_weighted[bal$type != "propensity"])))

  om <- standardization(wt82_71 ~ qsmk + sex + age + wt71, data = d, treatment = qsmk)
  go <- glance(om)
  expect_identical(go$outcome, "wt82_71")
  expect_equal(go$deviance, deviance(glm(wt82_71 ~ qsmk + sex + age + wt71, data = d)))
  gd <- glance(aipw(om, wm))
  expect_identical(gd$estimator, "augmented inverse probability weighting")
  expect_equal(gd[c("min_ess", "max_abs_smd", "deviance")],
               cbind(g[c("min_ess", "max_abs_smd")], go["deviance"]))
  expect_identical(glance(matching(qsmk ~ sex + age + wt71, data = d))$se_default, "sandwich")
  expect_identical(glance(matching(qsmk ~ sex + age + wt71, data = d, replace = TRUE))$se_default,
                   "bootstrap")
  expect_identical(glance(xlearner(wt82_71 ~ qsmk + sex, data = d, treatment = qsmk))$estimator,
                   "X-learner")

  km <- survival_ipw(Surv(survtime, death) ~ qsmk, data = nhefs)
  gk <- glance(km)
  expect_identical(gk$outcome, "Surv(survtime, death)")
  expect_identical(gk$estimand, "unadjusted")
  expect_equal(gk$events, sum(nhefs$death))
  expect_true(is.na(gk$min_ess))
})

test_that("summary() has its own class, and its print returns it invisibly", {
  d <- nhefs_complete()
  wm <- ipw(qsmk ~ sex + age + wt71, data = d)
  s <- summary(wm)
  expect_s3_class(s, "summary.causallib_model")
  expect_identical(s$coefficients[["Propensity model"]], tidy(wm))
  expect_equal(s$tables$`Weights by treatment level`, weight_summary(wm))
  utils::capture.output(printed <- withVisible(print(s)))
  expect_false(printed$visible)
  expect_identical(printed$value, s)
  expect_identical(summary(wm, conf.level = 0.9)$coefficients[[1L]], tidy(wm, conf.level = 0.9))
  expect_error(summary(wm, conf.level = 2), "conf.level")
})

test_that("summary() prints the header, the coefficient tables and the class extras", {
  local_edition(3)
  d <- nhefs_complete()
  wm <- ipw(qsmk ~ sex + age + wt71, data = d)
  om <- standardization(wt82_71 ~ qsmk + sex + age + wt71, data = d, treatment = qsmk,
                        stratified = TRUE)
  expect_snapshot({
    summary(wm)
    summary(om)
    summary(aipw(standardization(wt82_71 ~ qsmk + sex + age, data = d, treatment = qsmk), wm))
    summary(marginal_outcome(wt82_71 ~ qsmk, data = d))
    summary(xlearner(wt82_71 ~ qsmk + sex + age + wt71, data = d, treatment = qsmk))
    summary(survival_standardization(Surv(survtime, death) ~ qsmk + sex + age, time_terms = quadratic_time, data = nhefs,
                                     treatment = qsmk, se = "none"))
    summary(ipw(factor(exercise) ~ sex + age, data = d))
    summary(ipw(qsmk ~ sex + age, data = d, learner = glm_custom()))
  })
})

layers <- function(p) ggplot2::ggplot_build(p)$data

test_that("plot() draws exactly the plot autoplot() builds, for every model", {
  skip_if_not_installed("ggplot2")
  grDevices::pdf(NULL)
  withr::defer(grDevices::dev.off())
  d <- nhefs_complete()
  wm <- ipw(qsmk ~ sex + age + wt71, data = d)
  om <- standardization(wt82_71 ~ qsmk + sex + age + wt71, data = d, treatment = qsmk)
  cases <- list(
    list(wm, NULL), list(wm, "weights"), list(matching(qsmk ~ sex + age + wt71, data = d), "balance"),
    list(om, "residuals"), list(aipw(om, wm), "roc"),
    list(marginal_outcome(wt82_71 ~ qsmk, data = d), NULL),
    list(xlearner(wt82_71 ~ qsmk + sex + age, data = d, treatment = qsmk), NULL),
    list(survival_ipw(Surv(survtime, death) ~ qsmk, data = nhefs), NULL),
    list(survival_ipw(Surv(survtime, death) ~ qsmk, data = nhefs), "survival")
  )
  for (case in cases) {
    built <- ggplot2::autoplot(case[[1L]], type = case[[2L]])
    drawn <- expect_invisible(plot(case[[1L]], type = case[[2L]]))
    expect_s3_class(drawn, "ggplot")
    expect_identical(layers(drawn), layers(built))
    expect_identical(drawn$labels, built$labels)
  }
  expect_error(plot(wm, bins = 3), class = "rlib_error_dots_nonempty")
  expect_error(ggplot2::autoplot(wm, bins = 3), class = "rlib_error_dots_nonempty")
})

test_that("plotted numbers are those of the plot's data path", {
  skip_if_not_installed("ggplot2")
  d <- nhefs_complete()
  wm <- ipw(qsmk ~ sex + age + wt71, data = d)
  bal <- evaluation_data(evaluate(wm), "balance")
  points <- layers(ggplot2::autoplot(wm, type = "balance"))[[2L]]
  expect_equal(sort(points$x), sort(abs(bal$diff)))

  km <- survival_ipw(Surv(survtime, death) ~ qsmk, data = nhefs)
  curves <- tidy(km)
  curves <- curves[!is.na(curves$survival), ]
  steps <- layers(ggplot2::autoplot(km))[[2L]]
  expect_equal(steps$y[order(steps$group, steps$x)],
               curves$survival[order(curves$treatment, curves$time)])

  xl <- xlearner(wt82_71 ~ qsmk + sex + age, data = d, treatment = qsmk)
  dist <- distribution_data(xl)
  cols <- layers(ggplot2::autoplot(xl))
  expect_equal(cols[[1L]]$y, dist$count)
  expect_equal(cols[[2L]]$xintercept, unname(estimate_effect(xl, se = "none")$estimate))

  mo <- marginal_outcome(wt82_71 ~ qsmk, data = d)
  cols <- layers(ggplot2::autoplot(mo))
  expect_equal(cols[[2L]]$xintercept, unname(estimate_outcomes(mo, se = "none")$estimate))
  expect_equal(sum(cols[[1L]]$y), nrow(d))
})

test_that("distribution_data() holds the histograms of the CATEs and outcomes", {
  d <- nhefs_complete()
  xl <- xlearner(wt82_71 ~ qsmk + sex + age, data = d, treatment = qsmk)
  dist <- distribution_data(xl)
  expect_named(dist, c("group", "bin_mid", "bin_width", "count", "mean"))
  h <- graphics::hist(predict(xl), breaks = pretty(range(predict(xl)), n = 30), plot = FALSE)
  expect_equal(dist$count, h$counts)
  expect_equal(dist$bin_mid, h$mids)
  expect_identical(unique(dist$group), "1 vs 0")

  d3 <- nhefs
  d3$exercise <- factor(d3$exercise)
  mo <- marginal_outcome(smokeintensity ~ exercise, data = d3, weights = d3$wt71)
  dist <- distribution_data(mo)
  expect_identical(unique(dist$group), levels(d3$exercise))
  expect_equal(tapply(dist$count, dist$group, sum)[levels(d3$exercise)],
               table(d3$exercise), ignore_attr = TRUE)
  expect_equal(unique(dist$mean), as.vector(tapply(d3$wt71 * d3$smokeintensity, d3$exercise, sum) /
                                              tapply(d3$wt71, d3$exercise, sum)))
  expect_snapshot(error = TRUE, {
    distribution_data(ipw(qsmk ~ sex, data = d))
    ggplot2::autoplot(xl, type = "balance")
  })
})

test_that("every printed header says what the model is, without internal class names", {
  d <- nhefs_complete()
  wm <- ipw(qsmk ~ sex + age + wt71, data = d)
  om <- standardization(wt82_71 ~ qsmk + sex + age + wt71, data = d, treatment = qsmk)
  km <- survival_ipw(Surv(survtime, death) ~ qsmk, data = nhefs)
  set.seed(1)
  objects <- list(
    wm, matching(qsmk ~ sex + age + wt71, data = d), om,
    marginal_outcome(wt82_71 ~ qsmk, data = d), aipw(om, wm), ps_standardization(om, wm),
    xlearner(wt82_71 ~ qsmk + sex + age, data = d, treatment = qsmk), km,
    standardization_fit(as.matrix(d[c("age", "wt71")]), d$qsmk, d$wt82_71),
    estimate_effect(wm, outcome = wt82_71), estimate_outcomes(om), summary(estimate_effect(om)),
    estimate_effect(km, times = 120), evaluate(om),
    tune_learner(wm, data.frame(penalty = c(0, 1)), cv = 2),
    summary(wm), summary(km)
  )
  for (obj in objects) {
    out <- utils::capture.output(print(obj))
    expect_false(any(grepl("<causal", out, fixed = TRUE)), info = out[1L])
    for (field in c("Estimand", "Treatment", "Outcome", "Observations", "Standard errors")) {
      expect_true(any(startsWith(out, paste0(field, ": "))), info = paste(out[1L], field))
    }
  }
  expect_snapshot({
    aipw(om, wm)
    estimate_effect(wm, outcome = "wt82_71")
    evaluate(wm)
    standardization_fit(as.matrix(d[c("age", "wt71")]), d$qsmk, d$wt82_71)
  })
})
