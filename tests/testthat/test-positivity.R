# Positivity rules against hand computations, the reference library's
# published algorithm and the peers (MatchIt's common-support discard,
# WeightIt's truncation and overlap weights).

lalonde_formula <- treat ~ age + educ + race + married + nodegree + re74 + re75

# causallib's (Python) search for Crump et al.'s threshold: the smallest
# alpha on a grid of (0, 0.5] with 1 / (alpha (1 - alpha)) at most twice
# the mean of g over the units it keeps.
crump_grid <- function(e, segments = 1e5) {
  alphas <- seq(1e-7, 0.5, length.out = segments)
  g <- 1 / (e * (1 - e))
  for (a in alphas) {
    kept <- e * (1 - e) >= a * (1 - a)
    if (1 / (a * (1 - a)) <= 2 * sum(g[kept]) / max(sum(kept), 1e-7)) return(a)
  }
  0.5
}

test_that("Crump's threshold solves its defining equation and is the least trimming solution", {
  set.seed(1)
  for (shape in list(c(0.5, 0.5), c(2, 5), c(0.8, 3), c(1, 1))) {
    e <- stats::rbeta(3000, shape[1], shape[2])
    e <- pmin(pmax(e, 1e-6), 1 - 1e-6)
    alpha <- causallib:::crump_alpha(e)
    g <- 1 / (e * (1 - e))
    gamma <- 1 / (alpha * (1 - alpha))
    kept <- g <= gamma * (1 + 1e-12)
    expect_lt(abs(gamma - 2 * mean(g[kept])) / gamma, 1e-10)
    # No larger kept set satisfies the criterion: every larger prefix has
    # its largest g above twice its mean.
    gs <- sort(g)
    m <- cumsum(gs) / seq_along(gs)
    larger <- seq_along(gs) > sum(kept)
    expect_true(all(gs[larger] > 2 * m[larger]))
    # The published grid algorithm lands within one grid step above it.
    grid <- crump_grid(e)
    expect_gte(grid, alpha - 1e-12)
    expect_lte(grid - alpha, 0.5 / 1e5 + 1e-9)
  }
})

test_that("Crump's threshold is 0 when the propensities are bounded enough, and matches the population value", {
  set.seed(2)
  e <- stats::runif(2000, 0.3, 0.7)
  expect_identical(causallib:::crump_alpha(e), 0)
  # Population: e ~ Beta(2, 5); gamma solves gamma = 2 E[g | g <= gamma]
  # (largest root), found by numerical integration.
  cond_mean <- function(gamma) {
    lo <- (1 - sqrt(1 - 4 / gamma)) / 2
    num <- stats::integrate(function(e) stats::dbeta(e, 2, 5) / (e * (1 - e)), lo, 1 - lo)$value
    num / (stats::pbeta(1 - lo, 2, 5) - stats::pbeta(lo, 2, 5))
  }
  gamma <- stats::uniroot(function(gm) gm - 2 * cond_mean(gm), c(8, 1e4), tol = 1e-10)$root
  alpha_pop <- (1 - sqrt(1 - 4 / gamma)) / 2
  e <- stats::rbeta(4e5, 2, 5)
  expect_lt(abs(causallib:::crump_alpha(e) - alpha_pop), 0.004)
})

test_that("sampling weights in Crump's threshold act as replicated units", {
  set.seed(3)
  e <- stats::rbeta(500, 0.7, 2)
  w <- sample(1:3, 500, replace = TRUE)
  expect_equal(causallib:::crump_alpha(e, w), causallib:::crump_alpha(rep(e, w)), tolerance = 1e-14)
})

test_that("positivity_trim() keeps the propensities inside the bounds, for every treatment type", {
  d <- lalonde_data()
  fit <- ipw(lalonde_formula, d)
  e <- fit$propensity[, 2]
  for (t in c(0.05, 0.1, 0.2)) {
    tr <- positivity_trim(fit, t)
    expect_identical(tr$keep, e >= t & e <= 1 - t)
    expect_identical(tr$rows, which(e >= t & e <= 1 - t))
  }
  cr <- positivity_trim(fit, "crump")
  alpha <- crump_grid(e)
  expect_lte(alpha - cr$rule$alpha, 0.5 / 1e5 + 1e-9)
  expect_identical(cr$keep, e * (1 - e) >= cr$rule$alpha * (1 - cr$rule$alpha) * (1 - 1e-12))
  # The same rule from the propensities and treatment alone.
  expect_identical(positivity_trim(e, 0.1, treatment = d$treat)$keep, positivity_trim(fit, 0.1)$keep)
  # Treatment types: factor with labels, character, logical give the same units.
  d$tr_chr <- ifelse(d$treat == 1, "yes", "no")
  d$tr_lgl <- d$treat == 1
  d$tr_fac <- factor(d$tr_chr, c("no", "yes"))
  for (v in c("tr_chr", "tr_lgl", "tr_fac")) {
    f <- stats::update(lalonde_formula, stats::as.formula(paste(v, "~ .")))
    expect_identical(positivity_trim(ipw(f, d, treated = if (v != "tr_lgl") "yes" else NULL), "crump")$keep,
                     cr$keep, info = v)
  }
})

test_that("with three arms, trimming is one arm against the rest, or one arm against another", {
  d <- lalonde_data()
  fit <- ipw(race ~ age + educ + married + nodegree + re74 + re75, d)
  P <- fit$propensity
  tr <- positivity_trim(fit, 0.05)
  expect_identical(tr$keep, apply(P >= 0.05 & P <= 0.95, 1, all))
  cr <- positivity_trim(fit, "crump")
  for (k in 1:3) expect_lte(crump_grid(P[, k]) - cr$rule$alpha[k], 0.5 / 1e5 + 1e-9)
  pair <- positivity_trim(fit, 0.1, arms = c("white", "black"))
  e <- P[, "black"] / (P[, "black"] + P[, "white"])
  expect_identical(pair$keep, d$race %in% c("black", "white") & e >= 0.1 & e <= 0.9)
  expect_match(pair$population, "black among arms white and black", fixed = TRUE)
  pair_crump <- positivity_trim(fit, "crump", arms = c("white", "black"))
  in_pair <- d$race %in% c("black", "white")
  expect_lte(crump_grid(e[in_pair]) - pair_crump$rule$alpha, 0.5 / 1e5 + 1e-9)
})

test_that("positivity_bbox() equals a hand computation of the common support", {
  d <- lalonde_data()
  box <- positivity_bbox(treat ~ age + educ + race + married + re74, d, alpha = 0.1)
  keep <- rep(TRUE, nrow(d))
  for (v in c("age", "educ", "re74")) {
    q <- sapply(0:1, function(k) stats::quantile(d[[v]][d$treat == k], c(0.05, 0.95)))
    keep <- keep & d[[v]] >= max(q[1, ]) & d[[v]] <= min(q[2, ])
  }
  for (v in c("race", "married")) {
    common <- intersect(unique(as.character(d[[v]][d$treat == 0])), unique(as.character(d[[v]][d$treat == 1])))
    keep <- keep & as.character(d[[v]]) %in% common
  }
  expect_identical(box$keep, keep)
  expect_identical(box$supports$support[box$supports$variable == "race" & box$supports$arm == "common"],
                   "black, hispan, white")
  # The matrix interface gives the same box.
  expect_identical(positivity_bbox_fit(d[c("age", "educ", "race", "married", "re74")], d$treat, alpha = 0.1)$keep,
                   keep)
})

test_that("a bounding box on the propensity alone is MatchIt's common-support discard", {
  skip_if_not_installed("MatchIt")
  d <- lalonde_data()
  m <- MatchIt::matchit(lalonde_formula, d, method = "nearest", discard = "both", replace = TRUE)
  box <- positivity_bbox_fit(data.frame(ps = m$distance), d$treat)
  expect_identical(box$keep, unname(!m$discarded))
})

test_that("positivity_match() keeps the units with a unit of the other arm within the caliper", {
  d <- lalonde_data()
  fit <- ipw(lalonde_formula, d)
  e <- fit$propensity[, 2]
  width <- 0.01 * stats::sd(e)
  near <- vapply(seq_along(e), function(i) min(abs(e[i] - e[d$treat != d$treat[i]])), numeric(1))
  expect_identical(positivity_match(fit, caliper = 0.01)$keep, near <= width)
  expect_identical(positivity_match(fit, caliper = 0.002, std_caliper = FALSE)$keep, near <= 0.002)
  fit3 <- ipw(race ~ age + educ + married + re74, d)
  P <- fit3$propensity
  ok <- rep(TRUE, nrow(d))
  for (k in 1:3) {
    w <- 0.05 * stats::sd(P[, k])
    inside <- as.integer(d$race) == k
    dk <- vapply(seq_len(nrow(d)), function(i) min(abs(P[i, k] - P[inside != inside[i], k])), numeric(1))
    ok <- ok & dk <= w
  }
  expect_identical(positivity_match(fit3, caliper = 0.05)$keep, ok)
})

test_that("estimators fitted on the kept rows name the population, with the same numbers", {
  d <- lalonde_data()
  fit <- ipw(lalonde_formula, d)
  tr <- positivity_trim(fit, "crump")
  kept <- positivity_subset(tr)
  plain <- d[tr$rows, ]
  expect_identical(attr(kept, "causallib_population"), tr$population)
  f1 <- ipw(lalonde_formula, kept)
  f0 <- ipw(lalonde_formula, plain)
  expect_identical(coef(estimate_effect(f1, outcome = re78)), coef(estimate_effect(f0, outcome = re78)))
  expect_match(causallib:::estimand_label(f1), "in the overlap population", fixed = TRUE)
  expect_match(causallib:::estimand_label(f1), "intervals take this population as given", fixed = TRUE)
  expect_false(grepl("overlap", causallib:::estimand_label(f0)))
  s <- standardization(re78 ~ treat + age + educ + race + married + nodegree + re74 + re75, kept, treatment = treat)
  expect_match(causallib:::estimand_label(s), "overlap population", fixed = TRUE)
  a <- aipw(re78 ~ treat + age + educ + race + married + nodegree + re74 + re75, lalonde_formula, kept,
            treatment = treat)
  expect_match(causallib:::estimand_label(a), "overlap population", fixed = TRUE)
  expect_match(paste(capture.output(print(estimate_effect(a))), collapse = "\n"), "overlap population")
  box <- positivity_bbox(treat ~ age + educ + re74, d)
  m <- matching(lalonde_formula, positivity_subset(box))
  expect_match(causallib:::estimand_label(m), "common support of 3 covariates", fixed = TRUE)
})

test_that("survival models fitted on the kept rows name the population", {
  rot <- survival::rotterdam
  rot$chemo <- factor(rot$chemo)
  fit <- ipw(chemo ~ age + meno + nodes + grade, rot)
  kept <- positivity_subset(positivity_trim(fit, 0.05))
  s <- survival_ipw(survival::Surv(dtime, death) ~ chemo, kept, se = "none")
  expect_match(causallib:::estimand_label(s), "overlap population", fixed = TRUE)
})

test_that("positivity_metrics() equals hand computations", {
  d <- lalonde_data()
  fit <- ipw(lalonde_formula, d)
  tr <- positivity_trim(fit, 0.1)
  m <- positivity_metrics(fit, positivity = tr)
  own <- ifelse(d$treat == 1, fit$propensity[, 2], fit$propensity[, 1])
  w <- fit$weights
  for (k in 0:1) {
    r <- m[m$treatment == as.character(k), ]
    i <- d$treat == k
    expect_equal(r$ess_weighted, sum(w[i])^2 / sum(w[i]^2), tolerance = 1e-12)
    expect_equal(r$ess, sum(i))
    expect_identical(r$below_0.05, sum(own[i] < 0.05))
    expect_identical(r$below_0.01, sum(own[i] < 0.01))
    expect_equal(r$min_propensity, min(own[i]))
    expect_equal(r$max_weight, max(w[i]))
    expect_equal(r$out_of_support, mean(!tr$keep[i]))
  }
  # Cross-covariance score as causallib computes it (normalized covariates).
  x <- stats::model.matrix(lalonde_formula, d)[, -1]
  z <- scale(x)
  score <- 0
  for (k in 0:1) {
    other <- sweep(z[d$treat != k, ], 2, colMeans(z[d$treat == k, ]))
    score <- score + max(abs(crossprod(other) / (nrow(other) - 1)))
  }
  expect_equal(attr(m, "cross_covariance"), score, tolerance = 1e-12)
})

test_that("the sensitivity grid equals fits made from scratch, and the peers' weights", {
  d <- lalonde_data()
  fit <- ipw(lalonde_formula, d)
  # WeightIt caps at quantile type 3, causallib at type 7 (as R's default);
  # at p = 583 / 613 both are the 584th smallest of the 614 weights.
  q <- 583 / 613
  g <- positivity_sensitivity(fit, outcome = re78, trim = 0.1, truncate = q)
  expect_identical(g$setting, c("none", "trim", "trim (Crump)", "truncate", "overlap weights"))
  eff <- function(f, data) coef(estimate_effect(f, outcome = data$re78))[["1 vs 0"]]
  expect_equal(g$estimate[1], eff(fit, d), tolerance = 1e-12)
  kept <- positivity_subset(positivity_trim(fit, 0.1))
  expect_equal(g$estimate[2], eff(ipw(lalonde_formula, kept), kept), tolerance = 1e-10)
  expect_identical(g$n[2], nrow(kept))
  expect_equal(g$estimate[4], eff(ipw(lalonde_formula, d, truncate = q), d), tolerance = 1e-12)
  expect_equal(g$estimate[5], eff(ipw(lalonde_formula, d, estimand = "ATO"), d), tolerance = 1e-12)
  # Overlap weights are refitted unstabilized whatever the fit's stabilize,
  # and the table and its print say so.
  expect_identical(g$note, c(rep("", 4L), "ATO weights, refitted with stabilize = FALSE (they are not stabilized)"))
  expect_output(print(g), "Note: overlap weights: ATO weights, refitted with stabilize = FALSE", fixed = TRUE)
  expect_false(any(grepl("Note", capture.output(print(g[1:4, ])))))
  gs <- positivity_sensitivity(ipw(lalonde_formula, d, stabilize = TRUE), outcome = re78, trim = NULL,
                               crump = FALSE, truncate = NULL)
  ato <- ipw(lalonde_formula, d, estimand = "ATO", stabilize = FALSE)
  expect_equal(gs$estimate[2], eff(ato, d), tolerance = 1e-12)
  expect_equal(gs$std.error[2], tidy(estimate_effect(ato, outcome = d$re78))$std.error, tolerance = 1e-12)
  skip_if_not_installed("WeightIt")
  wt <- WeightIt::weightit(lalonde_formula, d, estimand = "ATE")
  trunc <- suppressMessages(WeightIt::trim(wt, at = q))
  hajek <- function(w) {
    sum(w * d$re78 * d$treat) / sum(w * d$treat) - sum(w * d$re78 * (1 - d$treat)) / sum(w * (1 - d$treat))
  }
  expect_equal(g$estimate[4], hajek(trunc$weights), tolerance = 1e-6)
  ato <- WeightIt::weightit(lalonde_formula, d, estimand = "ATO")
  expect_equal(g$estimate[5], hajek(ato$weights), tolerance = 1e-6)
  p <- ggplot2::ggplot_build(ggplot2::autoplot(g))
  expect_equal(sort(p$data[[2]]$x), sort(g$estimate))
})

test_that("positivity objects print, summarise, tidy and plot through their data", {
  d <- lalonde_data()
  fit <- ipw(lalonde_formula, d)
  tr <- positivity_trim(fit, 0.1)
  td <- tidy(tr)
  expect_identical(td$kept, as.vector(table(d$treat[tr$keep])))
  expect_identical(td$n, as.vector(table(d$treat)))
  pd <- causallib:::positivity_plot_data(tr)
  expect_identical(pd$status == "kept", tr$keep)
  b <- ggplot2::ggplot_build(ggplot2::autoplot(tr))
  expect_equal(sum(b$data[[1]]$count), nrow(d))
  box <- positivity_bbox(treat ~ age + educ + re74, d)
  bb <- ggplot2::ggplot_build(ggplot2::autoplot(box))
  expect_equal(nrow(bb$data[[1]]), 9L)
  expect_snapshot({
    print(tr)
    print(summary(box))
  })
})

test_that("bad positivity input gets errors naming the argument", {
  d <- lalonde_data()
  fit <- ipw(lalonde_formula, d)
  expect_snapshot(error = TRUE, positivity_trim(fit, 0.7))
  expect_snapshot(error = TRUE, positivity_trim(fit, "optimal"))
  expect_snapshot(error = TRUE, positivity_trim(fit, 0.1, arms = c("0", "2")))
  expect_snapshot(error = TRUE, positivity_trim(fit$propensity[, 2], 0.1))
  expect_snapshot(error = TRUE, positivity_bbox(treat ~ age + income, d))
  expect_snapshot(error = TRUE, positivity_bbox(treat ~ age, d, alpha = 1))
  apart <- data.frame(x = 1:20, a = rep(0:1, each = 10))
  expect_snapshot(error = TRUE, positivity_bbox(a ~ x, apart))
  expect_snapshot(error = TRUE, positivity_trim(ipw(race ~ age + educ, d), 0.3))
  expect_snapshot(error = TRUE, positivity_subset(positivity_trim(fit, 0.1), d[1:10, ]))
  expect_snapshot(error = TRUE, positivity_sensitivity(standardization(re78 ~ treat + age, d, treatment = treat), re78))
})
