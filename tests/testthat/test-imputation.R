# Multiple imputation: fits on completed data sets pooled by Rubin's rules.

imputed_nhefs <- function(m = 5, seed = 1) {
  d <- nhefs[!is.na(nhefs$wt82_71), c("qsmk", "sex", "age", "wt71", "smokeintensity", "wt82_71")]
  set.seed(seed)
  d$wt71[sample(nrow(d), 200)] <- NA
  d$smokeintensity[sample(nrow(d), 100)] <- NA
  skip_if_not_installed("mice")
  imp <- suppressWarnings(mice::mice(d, m = m, printFlag = FALSE, seed = seed))
  list(data = d, imp = imp)
}

test_that("pooled effects follow Rubin's rules as mice::pool.scalar() gives them", {
  x <- imputed_nhefs()
  cases <- list(
    ipw = ~ ipw(qsmk ~ sex + age + wt71 + smokeintensity, data = .x),
    standardization = ~ standardization(wt82_71 ~ qsmk + sex + age + wt71 + smokeintensity,
                                        data = .x, treatment = qsmk),
    aipw = ~ aipw(wt82_71 ~ qsmk + sex + age + wt71 + smokeintensity,
                  weight_model = qsmk ~ sex + age + wt71 + smokeintensity, data = .x, treatment = qsmk)
  )
  for (name in names(cases)) {
    fits <- with_imputations(x$imp, cases[[name]])
    expect_s3_class(fits, "causallib_imputed")
    expect_equal(fits$m, 5L)
    args <- if (name == "ipw") list(outcome = quote(wt82_71)) else list()
    pooled <- do.call(estimate_effect, c(list(fits), args))
    # By hand: each completed data set fitted and estimated on its own.
    each <- lapply(seq_len(5), function(i) {
      f <- rlang::as_function(cases[[name]])(mice::complete(x$imp, i))
      do.call(estimate_effect, c(list(f), args))
    })
    Q <- vapply(each, function(e) unname(coef(e)), numeric(1))
    U <- vapply(each, function(e) unname(vcov(e)[1, 1]), numeric(1))
    ref <- mice::pool.scalar(Q, U, n = Inf)
    expect_equal(unname(coef(pooled)), ref$qbar, tolerance = 1e-12, label = name)
    expect_equal(unname(vcov(pooled)[1, 1]), ref$t, tolerance = 1e-12, label = name)
    expect_equal(unname(pooled$df), ref$df, tolerance = 1e-10, label = name)
    tab <- tidy(pooled)
    crit <- qt(0.975, ref$df)
    expect_equal(tab$conf.low, ref$qbar - crit * sqrt(ref$t), tolerance = 1e-10)
    expect_equal(tab$p.value, 2 * pt(-abs(ref$qbar / sqrt(ref$t)), ref$df), tolerance = 1e-10)
  }
  # Potential-outcome means pool as a vector: the between covariance matrix.
  fits <- with_imputations(x$imp, cases$standardization)
  po <- estimate_outcomes(fits)
  each <- lapply(fits$fits, estimate_outcomes)
  Q <- do.call(rbind, lapply(each, `[[`, "estimate"))
  T <- Reduce(`+`, lapply(each, `[[`, "vcov")) / 5 + (1 + 1 / 5) * cov(Q)
  expect_equal(unname(po$vcov), unname(T), tolerance = 1e-12)
  # Ratios pool on the log scale.
  rr <- estimate_effect(fits, contrast = "ratio")
  logs <- vapply(fits$fits, function(f) unname(estimate_effect(f, contrast = "ratio")$estimate), numeric(1))
  expect_equal(unname(rr$estimate), mean(logs), tolerance = 1e-12)
  expect_output(print(rr), "Rubin's rules over 5 imputations")
})

test_that("a list of completed data frames works as a mids object does", {
  x <- imputed_nhefs(m = 3)
  sets <- lapply(1:3, function(i) mice::complete(x$imp, i))
  a <- estimate_effect(with_imputations(x$imp, ~ ipw(qsmk ~ sex + age + wt71, data = .x)),
                       outcome = wt82_71)
  b <- estimate_effect(with_imputations(sets, function(d) ipw(qsmk ~ sex + age + wt71, data = d)),
                       outcome = wt82_71)
  expect_equal(coef(a), coef(b))
  expect_equal(vcov(a), vcov(b))
})

test_that("balance is averaged over the imputations, and curves pool pointwise", {
  x <- imputed_nhefs(m = 3)
  fits <- with_imputations(x$imp, ~ ipw(qsmk ~ sex + age + wt71, data = .x))
  bal <- balance_table(fits)
  each <- lapply(fits$fits, balance_table)
  expect_equal(bal$diff_weighted, rowMeans(sapply(each, `[[`, "diff_weighted")), tolerance = 1e-12)
  rated <- !is.na(bal$balanced)
  expect_equal(bal$balanced[rated], abs(bal$diff_weighted[rated]) < 0.1)
  expect_equal(attr(bal, "sample_sizes")$ess_weighted,
               rowMeans(sapply(each, function(b) attr(b, "sample_sizes")$ess_weighted)))
  expect_identical(bal$covariate, each[[1]]$covariate)

  d <- nhefs[c("qsmk", "sex", "age", "wt71", "survtime", "death")]
  set.seed(2)
  d$wt71[sample(nrow(d), 150)] <- NA
  imp <- suppressWarnings(mice::mice(d, m = 3, printFlag = FALSE, seed = 2))
  sfits <- with_imputations(imp, ~ survival_ipw(Surv(survtime, death) ~ qsmk, data = .x,
                                               weight_model = qsmk ~ sex + age + wt71, se = "none"))
  expect_error(tidy(sfits), "needs standard errors", class = "rlang_error")
  sfits <- with_imputations(imp, ~ survival_ipw(Surv(survtime, death) ~ qsmk, data = .x))
  tab <- tidy(sfits)
  each <- lapply(sfits$fits, tidy)
  S <- sapply(each, `[[`, "survival")
  V <- sapply(each, `[[`, "std.error")^2
  expect_equal(tab$survival, rowMeans(S), tolerance = 1e-12)
  expect_equal(tab$std.error^2, rowMeans(V) + (1 + 1 / 3) * apply(S, 1, var), tolerance = 1e-10)
})

test_that("bad input to with_imputations() is named", {
  d <- nhefs[1:50, c("qsmk", "sex", "age")]
  expect_snapshot(error = TRUE, with_imputations(d, ~ ipw(qsmk ~ sex, data = .x)))
  expect_snapshot(error = TRUE, with_imputations(list(d, d), "ipw"))
  expect_snapshot(error = TRUE, with_imputations(list(d, d), ~ lm(age ~ sex, data = .x)))
  fits <- with_imputations(list(d, d), ~ ipw(qsmk ~ sex, data = .x))
  expect_snapshot(error = TRUE, estimate_effect(fits, outcome = age, se = "none"))
})
