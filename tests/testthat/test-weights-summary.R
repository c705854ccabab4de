# WeightIt's summary() of a weightit object carrying the given weights.
weightit_summary <- function(formula, data, estimand, w) {
  W <- WeightIt::weightit(formula, data = data, estimand = estimand)
  W$weights <- w
  summary(W, top = 3)
}

test_that("weights_summary() agrees with WeightIt's summary() on the same weights", {
  skip_if_not_installed("WeightIt")
  skip_if_not_installed("MatchIt")
  data("lalonde", package = "MatchIt", envir = environment())
  f <- treat ~ age + educ + race + married + nodegree + re74 + re75
  for (estimand in c("ATE", "ATT", "ATC")) {
    fit <- ipw(f, data = lalonde, estimand = estimand)
    s <- weights_summary(fit, top = 3)
    ref <- weightit_summary(f, lalonde, estimand, weights(fit))
    arm <- c("0" = "Control", "1" = "Treated")[s$statistics$treatment]
    expect_equal(s$statistics$coef_of_variation, unname(ref$coef.of.var[arm]), tolerance = 1e-10)
    expect_equal(s$statistics$mad, unname(ref$scaled.mad[arm]), tolerance = 1e-10)
    expect_equal(s$statistics$entropy, unname(ref$negative.entropy[arm]), tolerance = 1e-10)
    expect_equal(s$statistics$zeros, unname(ref$num.zeros[arm]))
    expect_equal(s$ranges$min, vapply(ref$weight.range[arm], `[`, 0, 1), tolerance = 1e-12, ignore_attr = TRUE)
    expect_equal(s$ranges$max, vapply(ref$weight.range[arm], `[`, 0, 2), tolerance = 1e-12, ignore_attr = TRUE)
    expect_equal(s$sample_sizes$ess_weighted, unlist(ref$effective.sample.size["Weighted", arm]),
                 tolerance = 1e-10, ignore_attr = TRUE)
    for (k in 1:2) {
      top <- s$top[s$top$treatment == s$statistics$treatment[k], ]
      expect_equal(sort(top$weight), sort(unname(ref$weight.top[[arm[k]]])), tolerance = 1e-12)
      expect_equal(sort(rownames(lalonde)[top$row]), sort(names(ref$weight.top[[arm[k]]])))
    }
  }
})

test_that("weights_summary() counts the zero weights of unmatched units and names the rows of the data", {
  d <- sim_confounded(n = 400)
  d$x1[5] <- NA
  fit <- matching(a ~ x1 + x2, data = d, na_action = "omit", replace = TRUE)
  s <- weights_summary(fit, top = 2)
  w <- weights(fit)
  a <- d$a[-5]
  expect_equal(s$statistics$zeros, c(sum(w[a == 0] == 0), sum(w[a == 1] == 0)))
  expect_gt(s$statistics$zeros[1], 0)
  top0 <- s$top[s$top$treatment == "0", ]
  expect_equal(top0$weight, sort(w[a == 0], decreasing = TRUE)[1:2])
  expect_equal(top0$row, setdiff(seq_len(400), 5)[which(a == 0)][order(w[a == 0], decreasing = TRUE)[1:2]])
  expect_snapshot(print(weights_summary(ipw(a ~ x1 + x2, data = d, estimand = "ATT", na_action = "omit"), top = 2)))
  expect_snapshot(error = TRUE, weights_summary(fit, top = 0))
})
