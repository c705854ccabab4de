wvar <- function(x, w) {
  m <- sum(w * x) / sum(w)
  sum(w * (x - m)^2) / (sum(w) - sum(w^2) / sum(w))
}

test_that("balance statistics equal their definitions computed by hand", {
  d <- sim_confounded(n = 400)
  d$x3 <- round(d$x1 * 2) / 2   # ties for the KS statistic
  d$b <- as.double(d$x1 > 0.3)
  fit <- ipw(a ~ x1 + x2 + x3 + b, data = d, weights = d$w)
  g <- d$a == 1
  wks <- function(x, w) {
    grid <- sort(unique(x))
    F1 <- vapply(grid, function(t) sum(w[g & x <= t]) / sum(w[g]), 0)
    F0 <- vapply(grid, function(t) sum(w[!g & x <= t]) / sum(w[!g]), 0)
    max(abs(F1 - F0))
  }
  sw <- d$w
  aw <- d$w * weights(fit)
  sds <- list(
    pooled = function(x, bin) if (bin) sqrt((p1(x) * (1 - p1(x)) + p0(x) * (1 - p0(x))) / 2) else
      sqrt((wvar(x[g], sw[g]) + wvar(x[!g], sw[!g])) / 2),
    treated = function(x, bin) if (bin) sqrt(p1(x) * (1 - p1(x))) else sqrt(wvar(x[g], sw[g])),
    control = function(x, bin) if (bin) sqrt(p0(x) * (1 - p0(x))) else sqrt(wvar(x[!g], sw[!g])),
    all = function(x, bin) if (bin) sqrt(weighted.mean(x, sw) * (1 - weighted.mean(x, sw))) else sqrt(wvar(x, sw))
  )
  p1 <- function(x) weighted.mean(x[g], sw[g])
  p0 <- function(x) weighted.mean(x[!g], sw[!g])
  for (denom in names(sds)) for (binary in c("raw", "std")) {
    bal <- balance_table(fit, sd_denominator = denom, binary = binary, propensity = FALSE)
    for (v in c("x1", "x2", "x3", "b")) {
      x <- d[[v]]
      bin <- v %in% c("x2", "b")
      scale <- if (bin && binary == "raw") 1 else sds[[denom]](x, bin)
      row <- bal[bal$covariate == v, ]
      expect_equal(row$type, if (bin) "binary" else "continuous")
      expect_equal(row$mean_treatment_weighted, weighted.mean(x[g], aw[g]), tolerance = 1e-12)
      expect_equal(row$mean_reference_unweighted, weighted.mean(x[!g], sw[!g]), tolerance = 1e-12)
      expect_equal(row$diff_unweighted,
                   (weighted.mean(x[g], sw[g]) - weighted.mean(x[!g], sw[!g])) / scale, tolerance = 1e-12)
      expect_equal(row$diff_weighted,
                   (weighted.mean(x[g], aw[g]) - weighted.mean(x[!g], aw[!g])) / scale, tolerance = 1e-12)
      expect_equal(row$variance_ratio_weighted,
                   if (bin) NA_real_ else wvar(x[g], aw[g]) / wvar(x[!g], aw[!g]), tolerance = 1e-12)
      expect_equal(row$ks_unweighted, wks(x, sw), tolerance = 1e-12)
      expect_equal(row$ks_weighted, wks(x, aw), tolerance = 1e-12)
    }
  }
})

# Agreement to 1e-8, relative for numbers above 1 and absolute below (the
# weighted differences of overlap weights are 0 up to the fit's tolerance).
expect_agree <- function(object, expected, label) {
  expect_identical(is.na(object), is.na(expected), label = label)
  gap <- abs(object - expected) / pmax(1, abs(expected))
  expect_lt(max(c(0, gap), na.rm = TRUE), 1e-8, label = label)
}

# One row per setting shared with cobalt::bal.tab(): the data, the formula,
# the model and cobalt's method, estimand, s.d.denom and binary.
cobalt_cases <- function() {
  data("lalonde", package = "MatchIt", envir = environment())
  withr::local_seed(7)
  lalonde$sex <- factor(sample(c("F", "M"), nrow(lalonde), TRUE))
  lalonde$older <- lalonde$age > 30
  lalonde$region <- sample(c("north", "south", "west"), nrow(lalonde), TRUE)
  lalonde$sw <- stats::runif(nrow(lalonde), 0.5, 2)
  fl <- treat ~ age + educ + race + married + nodegree + re74 + re75 + sex + older + region
  fn <- whatif_ps_formula
  nh <- nhefs
  cases <- list()
  add <- function(label, fit, data, formula, method, estimand, denom, binary, sw = NULL) {
    cases[[label]] <<- list(fit = fit, data = data, formula = formula, method = method,
                            estimand = estimand, denom = denom, binary = binary, sw = sw)
  }
  for (est in c("ATT", "ATC", "ATE")) {
    f <- ipw(fl, data = lalonde, estimand = est)
    default <- switch(est, ATT = "treated", ATC = "control", "pooled")
    for (denom in c("treated", "control", "pooled", "all")) for (binary in c("raw", "std")) {
      add(paste("lalonde ipw", est, denom, binary), f, lalonde, fl, "weighting", est, denom, binary)
    }
    add(paste("nhefs ipw", est), ipw(fn, data = nh, estimand = est), nh, fn, "weighting", est, default, "raw")
  }
  add("lalonde ipw ATE, sampling weights", ipw(fl, data = lalonde, weights = lalonde$sw), lalonde, fl,
      "weighting", "ATE", "pooled", "raw", lalonde$sw)
  add("lalonde ATO", ipw(fl, data = lalonde, estimand = "ATO"), lalonde, fl, "weighting", "ATO", "pooled", "std")
  add("lalonde matching ATT", matching(fl, data = lalonde), lalonde, fl, "matching", "ATT", "treated", "raw")
  add("lalonde matching ATC", matching(fl, data = lalonde, estimand = "ATC"), lalonde, fl, "matching",
      "ATC", "control", "std")
  add("nhefs matching ATT", matching(fn, data = nh), nh, fn, "matching", "ATT", "treated", "raw")
  cases
}

test_that("balance_table() agrees with cobalt::bal.tab() on shared settings", {
  skip_if_not_installed("cobalt")
  skip_if_not_installed("MatchIt")
  for (label in names(cases <- cobalt_cases())) {
    cs <- cases[[label]]
    bal <- balance_table(cs$fit, sd_denominator = cs$denom, binary = cs$binary)
    ref <- cobalt::bal.tab(cs$formula, data = cs$data, weights = weights(cs$fit), s.weights = cs$sw,
                           method = cs$method, estimand = cs$estimand, s.d.denom = cs$denom,
                           binary = cs$binary, distance = cs$fit$propensity[, 2], un = TRUE,
                           disp.means = TRUE, disp.v.ratio = TRUE, disp.ks = TRUE, quick = FALSE)
    B <- ref$Balance
    rownames(B)[rownames(B) == "distance"] <- "propensity score"
    expect_setequal(bal$covariate, rownames(B))
    B <- B[bal$covariate, ]
    expect_equal(bal$type, c(Contin. = "continuous", Binary = "binary", Distance = "propensity")[B$Type],
                 ignore_attr = TRUE, label = label)
    expect_agree(bal$diff_unweighted, B$Diff.Un, label)
    expect_agree(bal$diff_weighted, B$Diff.Adj, label)
    expect_agree(bal$mean_treatment_unweighted, B$M.1.Un, label)
    expect_agree(bal$mean_reference_unweighted, B$M.0.Un, label)
    expect_agree(bal$mean_treatment_weighted, B$M.1.Adj, label)
    expect_agree(bal$mean_reference_weighted, B$M.0.Adj, label)
    expect_agree(bal$variance_ratio_unweighted, B$V.Ratio.Un, label)
    expect_agree(bal$variance_ratio_weighted, B$V.Ratio.Adj, label)
    expect_agree(bal$ks_unweighted, B$KS.Un, label)
    expect_agree(bal$ks_weighted, B$KS.Adj, label)
  }
})

test_that("sample sizes and effective sample sizes agree with cobalt", {
  skip_if_not_installed("cobalt")
  skip_if_not_installed("MatchIt")
  cases <- cobalt_cases()
  for (label in c("lalonde ipw ATT treated raw", "lalonde ipw ATE, sampling weights", "nhefs ipw ATE")) {
    cs <- cases[[label]]
    ss <- attr(balance_table(cs$fit), "sample_sizes")
    obs <- cobalt::bal.tab(cs$formula, data = cs$data, weights = weights(cs$fit), s.weights = cs$sw,
                           method = "weighting", estimand = cs$estimand)$Observations
    expect_equal(ss$ess_unweighted, unlist(obs["Unadjusted", ]), tolerance = 1e-8, ignore_attr = TRUE)
    expect_equal(ss$ess_weighted, unlist(obs["Adjusted", ]), tolerance = 1e-8, ignore_attr = TRUE)
    expect_equal(ss$n, as.vector(table(cs$fit$treatment)))
  }
  cs <- cases[["lalonde matching ATT"]]
  ss <- attr(balance_table(cs$fit), "sample_sizes")
  obs <- cobalt::bal.tab(cs$formula, data = cs$data, weights = weights(cs$fit), method = "matching",
                         estimand = "ATT")$Observations
  expect_equal(ss$ess_weighted, unlist(obs["Matched (ESS)", ]), tolerance = 1e-8, ignore_attr = TRUE)
  expect_equal(ss$matched, unlist(obs["Matched (Unweighted)", ]), ignore_attr = TRUE)
  expect_equal(ss$unmatched, unlist(obs["Unmatched", ]), ignore_attr = TRUE)
})

test_that("three arms are compared pair by pair (ATE: SD pooled over all arms; ATT: the focal arm's), as cobalt", {
  skip_if_not_installed("cobalt")
  skip_if_not_installed("MatchIt")
  data("lalonde", package = "MatchIt", envir = environment())
  withr::local_seed(1)
  lalonde$t3 <- factor(ifelse(lalonde$treat == 1, "T", sample(c("A", "B"), nrow(lalonde), TRUE)))
  f3 <- t3 ~ age + educ + race + married + re74
  fit <- ipw(f3, data = lalonde)
  bal <- balance_table(fit, propensity = FALSE)
  expect_equal(unique(paste(bal$treatment, "vs.", bal$reference)), c("B vs. A", "T vs. A", "T vs. B"))
  ref <- cobalt::bal.tab(f3, data = lalonde, weights = weights(fit), method = "weighting", estimand = "ATE",
                         un = TRUE, disp.means = TRUE, which.treat = .all)$Pair.Balance
  for (pair in names(ref)) {
    B <- ref[[pair]]$Balance
    mine <- bal[paste(bal$treatment, "vs.", bal$reference) == pair, ]
    B <- B[mine$covariate, ]
    expect_equal(mine$diff_unweighted, B$Diff.Un, tolerance = 1e-8)
    expect_equal(mine$diff_weighted, B$Diff.Adj, tolerance = 1e-8)
    expect_equal(mine$mean_reference_weighted, B$M.0.Adj, tolerance = 1e-8)
  }
  # The ATT with a focal level: every pair standardized by the focal arm's SD, as cobalt's focal =.
  att <- ipw(f3, data = lalonde, estimand = "ATT", treated = "T")
  bal_att <- balance_table(att, propensity = FALSE)
  ref <- cobalt::bal.tab(f3, data = lalonde, weights = weights(att), method = "weighting", estimand = "ATT",
                         focal = "T", un = TRUE, which.treat = .all)$Pair.Balance
  expect_named(ref, c("B vs. A", "T vs. A", "T vs. B"))
  for (pair in names(ref)) {
    B <- ref[[pair]]$Balance
    mine <- bal_att[paste(bal_att$treatment, "vs.", bal_att$reference) == pair, ]
    expect_equal(mine$diff_unweighted, B[mine$covariate, "Diff.Un"], tolerance = 1e-8)
    expect_equal(mine$diff_weighted, B[mine$covariate, "Diff.Adj"], tolerance = 1e-8)
  }
  x <- lalonde$age
  expect_equal(bal$diff_unweighted[bal$covariate == "age" & bal$treatment == "B"],
               (mean(x[lalonde$t3 == "B"]) - mean(x[lalonde$t3 == "A"])) /
                 sqrt(mean(tapply(x, lalonde$t3, var))), tolerance = 1e-12)
  props <- balance_table(fit)
  expect_setequal(props$covariate[props$type == "propensity"],
                  paste0("propensity score (", c("A", "B", "T"), ")"))
})

test_that("every level of a factor is a covariate; two-level, logical and character variables as cobalt", {
  d <- sim_confounded(n = 300)
  withr::local_seed(3)
  d$colour <- factor(sample(c("red", "green", "blue"), 300, TRUE), levels = c("red", "green", "blue"))
  d$sex <- factor(sample(c("F", "M"), 300, TRUE))
  d$flag <- d$x1 > 0
  d$site <- sample(c("b", "a"), 300, TRUE)
  d$two <- ifelse(d$x2 > 0, 3, 1)
  fit <- ipw(a ~ x1 + colour + sex + flag + site + two, data = d)
  bal <- balance_table(fit, propensity = FALSE)
  expect_equal(bal$covariate, c("x1", "colour_red", "colour_green", "colour_blue", "sex_M", "flag",
                                "site_b", "two"))
  expect_equal(bal$variable, c("x1", "colour", "colour", "colour", "sex", "flag", "site", "two"))
  expect_equal(bal$type, c("continuous", rep("binary", 7)))
  g <- d$a == 1
  expect_equal(bal$mean_treatment_unweighted[bal$covariate == "colour_red"], mean(d$colour[g] == "red"))
  expect_equal(bal$mean_reference_unweighted[bal$covariate == "two"], mean(d$two[!g] == 3))
  expect_equal(bal$mean_reference_unweighted[bal$covariate == "site_b"], mean(d$site[!g] == "b"))
})

test_that("race_black is reported for lalonde, and is the largest imbalance after matching", {
  skip_if_not_installed("MatchIt")
  data("lalonde", package = "MatchIt", envir = environment())
  fit <- matching(treat ~ age + educ + race + married + nodegree + re74 + re75, data = lalonde)
  bal <- balance_table(fit, propensity = FALSE)
  expect_true(all(c("race_black", "race_hispan", "race_white") %in% bal$covariate))
  expect_equal(attr(bal, "adjustment"), "matched")
  expect_equal(attr(bal, "title"), "Matching (ATT), in-sample")
})

test_that("squares and interactions agree with cobalt's poly = 2 and int = TRUE where they coincide", {
  skip_if_not_installed("cobalt")
  skip_if_not_installed("MatchIt")
  data("lalonde", package = "MatchIt", envir = environment())
  f <- treat ~ age + educ + race + re74
  fit <- ipw(f, data = lalonde, estimand = "ATT")
  bal <- balance_table(fit, propensity = FALSE, interactions = TRUE, squares = TRUE)
  expect_true(all(c("age^2", "educ^2", "re74^2", "age * educ", "age * race_black") %in% bal$covariate))
  expect_false(any(c("race_black^2", "race_black * race_white") %in% bal$covariate))
  B <- cobalt::bal.tab(f, data = lalonde, weights = weights(fit), method = "weighting", estimand = "ATT",
                       int = TRUE, poly = 2, un = TRUE)$Balance
  rownames(B) <- sub("\u00b2", "^2", rownames(B))
  shared <- intersect(bal$covariate, rownames(B))
  expect_gt(length(shared), 20)
  expect_equal(bal$diff_weighted[match(shared, bal$covariate)], B[shared, "Diff.Adj"], tolerance = 1e-8)
  expect_equal(bal$diff_unweighted[match(shared, bal$covariate)], B[shared, "Diff.Un"], tolerance = 1e-8)
})

test_that("the threshold marks covariates balanced and the print shows the tally", {
  fit <- ipw(qsmk ~ sex + race + age + education + smokeintensity + wt71, data = nhefs, estimand = "ATT")
  bal <- balance_table(fit, threshold = 0.02)
  cov <- bal$type != "propensity"
  expect_equal(bal$balanced[cov], abs(bal$diff_weighted[cov]) < 0.02)
  expect_true(is.na(bal$balanced[!cov]))
  expect_false("balanced" %in% names(balance_table(fit, threshold = NULL)))
  expect_snapshot(print(bal, digits = 3))
})

test_that("balance_table() names bad arguments", {
  fit <- ipw(qsmk ~ sex + age, data = nhefs)
  expect_snapshot(error = TRUE, {
    balance_table(fit, sd_denominator = "treatment")
    balance_table(fit, binary = "standardized")
    balance_table(fit, threshold = -0.1)
    balance_table(fit, propensity = "yes")
    balance_table(lm(wt71 ~ age, data = nhefs))
  })
})

test_that("matrix fits balance the columns of x", {
  d <- sim_confounded(n = 300)
  x <- cbind(x1 = d$x1, b = as.double(d$x2 > 0))
  fit <- ipw_fit(x, factor(d$a))
  bal <- balance_table(fit, propensity = FALSE)
  expect_equal(bal$covariate, c("x1", "b"))
  expect_equal(bal$type, c("continuous", "binary"))
})

test_that("weighting balances the NHEFS confounders of What If chapter 12", {
  fit <- ipw(whatif_ps_formula, data = nhefs)
  bal <- balance_table(fit, propensity = FALSE)
  expect_gt(max(abs(bal$diff_unweighted)), 0.2)
  expect_lt(max(abs(bal$diff_weighted)), 0.05)
})
