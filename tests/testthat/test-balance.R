test_that("balance statistics equal their definitions computed by hand", {
  d <- sim_confounded(n = 400)
  d$x3 <- round(d$x1 * 2) / 2   # ties for the KS statistic
  fit <- ipw(a ~ x1 + x2 + x3, data = d, weights = d$w)
  bal <- balance_table(fit)
  expect_named(bal, c("treatment", "covariate", "smd_unweighted", "smd_weighted",
                      "variance_ratio_unweighted", "variance_ratio_weighted",
                      "ks_unweighted", "ks_weighted"))
  g <- d$a == 1
  wvar <- function(x, w) {
    m <- sum(w * x) / sum(w)
    sum(w * (x - m)^2) / (sum(w) - sum(w^2) / sum(w))
  }
  wks <- function(x, w) {
    grid <- sort(unique(x))
    F1 <- vapply(grid, function(t) sum(w[g & x <= t]) / sum(w[g]), 0)
    F0 <- vapply(grid, function(t) sum(w[!g & x <= t]) / sum(w[!g]), 0)
    max(abs(F1 - F0))
  }
  sw <- d$w
  aw <- d$w * weights(fit)
  for (v in c("x1", "x2", "x3")) {
    x <- d[[v]]
    pooled <- sqrt((wvar(x[g], sw[g]) + wvar(x[!g], sw[!g])) / 2)
    row <- bal[bal$covariate == v, ]
    expect_equal(row$smd_unweighted,
                 (weighted.mean(x[g], sw[g]) - weighted.mean(x[!g], sw[!g])) / pooled, tolerance = 1e-12)
    expect_equal(row$smd_weighted,
                 (weighted.mean(x[g], aw[g]) - weighted.mean(x[!g], aw[!g])) / pooled, tolerance = 1e-12)
    expect_equal(row$variance_ratio_weighted, wvar(x[g], aw[g]) / wvar(x[!g], aw[!g]), tolerance = 1e-12)
    expect_equal(row$ks_unweighted, wks(x, sw), tolerance = 1e-12)
    expect_equal(row$ks_weighted, wks(x, aw), tolerance = 1e-12)
  }
})

test_that("balance_table() agrees with cobalt::bal.tab()", {
  skip_if_not_installed("cobalt")
  fit <- ipw(qsmk ~ age + wt71 + smokeintensity + smokeyrs, data = nhefs)
  bal <- balance_table(fit)
  covs <- nhefs[, c("age", "wt71", "smokeintensity", "smokeyrs")]
  ref <- cobalt::bal.tab(covs, treat = nhefs$qsmk, weights = weights(fit), s.d.denom = "pooled",
                         un = TRUE, disp.v.ratio = TRUE, disp.ks = TRUE, binary = "std",
                         continuous = "std")$Balance
  ref <- ref[bal$covariate, ]
  expect_equal(bal$smd_unweighted, ref$Diff.Un, tolerance = 1e-8)
  expect_equal(bal$smd_weighted, ref$Diff.Adj, tolerance = 1e-8)
  expect_equal(bal$variance_ratio_unweighted, ref$V.Ratio.Un, tolerance = 1e-8)
  expect_equal(bal$variance_ratio_weighted, ref$V.Ratio.Adj, tolerance = 1e-8)
  expect_equal(bal$ks_unweighted, ref$KS.Un, tolerance = 1e-8)
  expect_equal(bal$ks_weighted, ref$KS.Adj, tolerance = 1e-8)
})

test_that("with three levels each level is compared with the rest", {
  d <- sim_confounded(n = 600)
  withr::local_seed(4)
  d$t3 <- factor(cut(0.5 * d$x1 + rnorm(600), c(-Inf, -0.5, 0.5, Inf), labels = c("a", "b", "c")))
  fit <- ipw(t3 ~ x1 + x2, data = d)
  bal <- balance_table(fit)
  expect_equal(nrow(bal), 6)
  expect_setequal(bal$treatment, c("a", "b", "c"))
  g <- d$t3 == "b"
  sd_pool <- sqrt((var(d$x1[g]) + var(d$x1[!g])) / 2)
  w <- weights(fit)
  expect_equal(bal$smd_weighted[bal$treatment == "b" & bal$covariate == "x1"],
               (weighted.mean(d$x1[g], w[g]) - weighted.mean(d$x1[!g], w[!g])) / sd_pool,
               tolerance = 1e-12)
})

test_that("weighting balances the NHEFS confounders of What If chapter 12", {
  fit <- ipw(whatif_ps_formula, data = nhefs)
  bal <- balance_table(fit)
  expect_gt(max(abs(bal$smd_unweighted)), 0.2)
  expect_lt(max(abs(bal$smd_weighted)), 0.05)
})
