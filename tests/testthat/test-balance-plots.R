layer_data <- function(p, i) ggplot2::ggplot_build(p)$data[[i]]

test_that("the love plot draws the balance table's differences, with its threshold and title", {
  skip_if_not_installed("ggplot2")
  fit <- ipw(qsmk ~ sex + race + age + education + smokeintensity + wt71, data = nhefs, estimand = "ATT")
  bal <- balance_table(fit, threshold = 0.05)
  data <- love_plot_data(bal)
  expect_equal(data$diff, c(bal$diff_unweighted, bal$diff_weighted))
  expect_equal(levels(data$adjustment), c("unadjusted", "weighted"))
  p <- ggplot2::autoplot(bal)
  points <- layer_data(p, 2)
  expect_equal(points$x, abs(data$diff))
  expect_equal(layer_data(p, 1)$xintercept, 0.05)
  expect_equal(p$labels$title, "Covariate balance: IPW (ATT), in-sample")
  expect_equal(p$labels$x, "Absolute mean difference")
  expect_match(p$labels$caption, "not standardized")
  # entered order, from the top: the first covariate is drawn highest
  expect_equal(rev(levels(data$covariate))[1:3], c("sex_female*", "race_other*", "age"))
  expect_equal(as.integer(points$y[data$name == "age"]), rep(nlevels(data$covariate) - 2L, 2))
  expect_true("propensity score" %in% data$covariate)
  expect_false("propensity score" %in% love_plot_data(bal, propensity = FALSE)$covariate)
  # standardized binaries carry no mark
  expect_false(any(grepl("\\*", love_plot_data(balance_table(fit, binary = "std"))$covariate)))
})

test_that("love plots order rows as entered, alphabetically, or by imbalance", {
  fit <- ipw(qsmk ~ wt71 + sex + age + smokeintensity, data = nhefs)
  bal <- balance_table(fit, propensity = FALSE)
  top_down <- function(order) rev(levels(love_plot_data(bal, order = order)$covariate))
  expect_equal(top_down("entered"), c("wt71", "sex_female*", "age", "smokeintensity"))
  expect_equal(top_down("alphabetical"), sort(c("wt71", "sex_female*", "age", "smokeintensity")))
  expect_equal(top_down("unadjusted"), c("wt71", "sex_female*", "age", "smokeintensity")[
    order(abs(bal$diff_unweighted), decreasing = TRUE)])
  expect_equal(top_down("adjusted"), c("wt71", "sex_female*", "age", "smokeintensity")[
    order(abs(bal$diff_weighted), decreasing = TRUE)])
  expect_snapshot(error = TRUE, {
    love_plot_data(bal, order = "size")
    love_plot_data(bal, labels = c("Age"))
    love_plot_data(data.frame())
  })
})

test_that("labels come from the argument, then the columns' label attributes, levels shown after the label", {
  d <- nhefs
  attr(d$wt71, "label") <- "Weight in 1971 (kg)"
  attr(d$education, "label") <- "Education"
  fit <- ipw(qsmk ~ age + wt71 + education, data = d)
  data <- love_plot_data(balance_table(fit, propensity = FALSE), labels = c(age = "Age (years)",
                                                                             "education_HS" = "High school"))
  shown <- unique(as.character(data$covariate))
  expect_equal(shown, c("Age (years)", "Weight in 1971 (kg)", "Education: 8th grade or less*",
                        "Education: HS dropout*", "High school*", "Education: college dropout*",
                        "Education: college or more*"))
})

test_that("three arms get one panel per comparison; matching fits are 'matched'", {
  skip_if_not_installed("ggplot2")
  d <- sim_confounded(n = 600)
  withr::local_seed(4)
  d$t3 <- factor(sample(c("a", "b", "c"), 600, TRUE), levels = c("c", "a", "b"))
  p <- ggplot2::autoplot(balance_table(ipw(t3 ~ x1 + x2, data = d)))
  lay <- ggplot2::ggplot_build(p)$layout$layout
  expect_equal(nrow(lay), 3L)
  expect_setequal(as.character(lay$comparison), c("a vs c", "b vs c", "b vs a"))
  m <- matching(a ~ x1 + x2, data = d)
  expect_equal(levels(love_plot_data(balance_table(m))$adjustment), c("unadjusted", "matched"))
  expect_equal(levels(evaluation_data(evaluate(m), "balance")$adjustment), c("unadjusted", "matched"))
  ev <- evaluation_data(evaluate(ipw(t3 ~ x1 + x2, data = d)), "balance")
  expect_equal(unique(ev$comparison), c("a vs c", "b vs c", "b vs a"))
})

test_that("the balance-slope plot labels each line with its covariate", {
  skip_if_not_installed("ggplot2")
  fit <- ipw(qsmk ~ sex + age + wt71, data = nhefs)
  p <- ggplot2::autoplot(fit, type = "balance_slope")
  text <- layer_data(p, 4)
  data <- evaluation_data(evaluate(fit), "balance_slope")
  expect_setequal(text$label, as.character(unique(data$covariate)))
  expect_equal(text$y, abs(data$diff[data$adjustment == "weighted"]))
})

test_that("the weights plot labels counts as positive and counts each unit once across folds", {
  skip_if_not_installed("ggplot2")
  d <- sim_confounded(n = 300)
  fit <- ipw(a ~ x1 + x2, data = d)
  set.seed(2)
  ev <- evaluate(fit, cv = 3)
  data <- evaluation_data(ev, "weights")
  for (ph in c("train", "valid")) {
    part <- data[data$phase == ph, ]
    expect_equal(tapply(part$count, part$treatment, sum), c("0" = sum(d$a == 0), "1" = sum(d$a == 1)),
                 ignore_attr = TRUE, tolerance = 1e-12)
  }
  expect_true(all(data$count >= 0))
  expect_equal(data$side, ifelse(data$treatment == "0", -1L, 1L))
  p <- ggplot2::autoplot(ev, type = "weights")
  expect_equal(layer_data(p, 1)$y, data$side * data$count)
  labels <- ggplot2::ggplot_build(p)$layout$panel_params[[1]]$y$get_labels()
  expect_false(any(grepl("-", labels[!is.na(labels)])))
})

test_that("balance_plot_data() gives weighted proportions and densities per arm, before and after", {
  d <- nhefs
  withr::local_seed(11)
  d$sw <- stats::runif(nrow(d), 0.5, 2)
  fit <- ipw(qsmk ~ sex + age + education + wt71, data = d, estimand = "ATT", weights = d$sw)
  bal <- balance_table(fit)
  cat_data <- balance_plot_data(fit, "education")
  expect_equal(levels(cat_data$level), levels(nhefs$education))
  for (lev in levels(nhefs$education)) {
    row <- bal[bal$covariate == paste0("education_", lev), ]
    pick <- function(arm, adj) cat_data$proportion[cat_data$level == lev & cat_data$treatment == arm &
                                                     cat_data$adjustment == adj]
    expect_equal(pick("1", "weighted"), row$mean_treatment_weighted, tolerance = 1e-12)
    expect_equal(pick("0", "weighted"), row$mean_reference_weighted, tolerance = 1e-12)
    expect_equal(pick("0", "unadjusted"), row$mean_reference_unweighted, tolerance = 1e-12)
  }
  num <- balance_plot_data(fit, "age", bins = 10)
  sums <- tapply(num$density * num$bin_width, list(num$treatment, num$adjustment), sum)
  expect_equal(as.vector(sums), rep(1, 4), tolerance = 1e-12)
  w <- weights(fit) * d$sw / mean(d$sw)
  i <- num$treatment == "0" & num$adjustment == "weighted"
  b <- which(i)[3]
  inside <- d$age > num$bin_mid[b] - num$bin_width[b] / 2 & d$age <= num$bin_mid[b] + num$bin_width[b] / 2
  ctl <- d$qsmk == 0
  expect_equal(num$density[b], sum(w[ctl & inside]) / sum(w[ctl]) / num$bin_width[b], tolerance = 1e-12)
  ps <- balance_plot_data(fit, "propensity score")
  expect_true(all(c("bin_mid", "density") %in% names(ps)))
  expect_snapshot(error = TRUE, {
    balance_plot_data(fit, "weight")
    balance_plot_data(fit, 3)
    balance_plot_data(fit, "age", bins = 1)
  })
})

test_that("balance_plot() draws its data, in panels unadjusted then matched", {
  skip_if_not_installed("ggplot2")
  fit <- matching(qsmk ~ sex + age + wt71, data = nhefs)
  data <- balance_plot_data(fit, "wt71")
  p <- balance_plot(fit, "wt71")
  expect_equal(layer_data(p, 1)$y, data$density)
  lay <- ggplot2::ggplot_build(p)$layout$layout
  expect_equal(as.character(lay$adjustment), c("unadjusted", "matched"))
  expect_equal(p$labels$title, "Distributional balance for wt71: Matching (ATT), in-sample")
  sex <- balance_plot(fit, "sex")
  expect_equal(layer_data(sex, 1)$y, balance_plot_data(fit, "sex")$proportion)
})

test_that("autoplot(fit, type = 'balance') is the love plot of balance_table(fit)", {
  skip_if_not_installed("ggplot2")
  skip_if_not_installed("MatchIt")
  d <- lalonde_data()
  f <- treat ~ age + educ + race + married + nodegree + re74 + re75
  for (fit in list(ipw(f, data = d, estimand = "ATT"), matching(f, data = d, estimand = "ATT"))) {
    from_fit <- ggplot2::autoplot(fit, type = "balance")
    from_table <- ggplot2::autoplot(balance_table(fit))
    expect_equal(from_fit$labels, from_table$labels)
    expect_equal(ggplot2::ggplot_build(from_fit)$data, ggplot2::ggplot_build(from_table)$data)
    data <- evaluation_data(evaluate(fit), "balance")
    expect_equal(data[names(love_plot_data(balance_table(fit)))], love_plot_data(balance_table(fit)))
  }
  expect_equal(from_fit$labels$title, "Covariate balance: Matching (ATT), in-sample")
  expect_equal(levels(data$adjustment), c("unadjusted", "matched"))
})

test_that("cross-validated love plots show each fold's balance as cobalt computes it on its units", {
  skip_if_not_installed("ggplot2")
  skip_if_not_installed("cobalt")
  skip_if_not_installed("MatchIt")
  d <- lalonde_data()
  fit <- ipw(treat ~ age + educ + race + married + re74, data = d, estimand = "ATT")
  set.seed(3)
  ev <- evaluate(fit, cv = 3)
  data <- evaluation_data(ev, "balance")
  p <- ggplot2::autoplot(ev, type = "balance")
  expect_equal(p$labels$title, "Covariate balance: IPW (ATT), by 3-fold cross-validation")
  expect_equal(ggplot2::ggplot_build(p)$data[[2]]$x, abs(data$diff))
  expect_equal(as.character(ggplot2::ggplot_build(p)$layout$layout$phase), c("train", "valid"))
  for (ph in c("train", "valid")) {
    part <- ev$predictions[ev$predictions$fold == 2L & ev$predictions$phase == ph, ]
    ref <- cobalt::bal.tab(d[part$row, c("age", "educ", "race", "married", "re74")], treat = d$treat[part$row],
                           weights = part$weight, method = "weighting", estimand = "ATT",
                           s.d.denom = "treated", binary = "raw", un = TRUE)$Balance
    got <- data[data$fold == 2L & data$phase == ph & data$name != "propensity score", ]
    adjusted <- got[got$adjustment == "weighted", ]
    unadjusted <- got[got$adjustment == "unadjusted", ]
    expect_equal(adjusted$diff, ref[adjusted$name, "Diff.Adj"], tolerance = 1e-8)
    expect_equal(unadjusted$diff, ref[unadjusted$name, "Diff.Un"], tolerance = 1e-8)
  }
})

# The area under a weighted ROC curve by its definition: the weighted share
# of (positive, negative) pairs that the score orders correctly, ties half.
hand_auc <- function(score, pos, neg) {
  correct <- outer(score, score, ">") + 0.5 * outer(score, score, "==")
  sum(outer(pos, neg) * correct) / (sum(pos) * sum(neg))
}

test_that("the ROC legend labels the plain, IP-weighted and expected curves with their AUCs", {
  skip_if_not_installed("ggplot2")
  skip_if_not_installed("MatchIt")
  d <- lalonde_data()
  fit <- ipw(treat ~ age + educ + race + married + re74, data = d, estimand = "ATT")
  p <- fit$propensity[, 2]
  a <- d$treat
  w <- weights(fit)
  hand <- c(plain = hand_auc(p, a, 1 - a), weighted = hand_auc(p, w * a, w * (1 - a)),
            expected = hand_auc(p, p, 1 - p))
  expect_equal(unname(c(roc_auc(fit), weighted_roc_auc(fit), expected_roc_auc(fit))), unname(hand),
               tolerance = 1e-10)
  plot <- ggplot2::autoplot(fit, type = "roc")
  labels <- ggplot2::ggplot_build(plot)$plot$scales$get_scales("colour")$get_labels()
  expect_equal(labels, sprintf("%s (AUC %.3f)", names(hand), hand))
  roc <- evaluation_data(evaluate(fit), "roc")
  expect_equal(tapply(roc$auc, roc$curve, unique)[names(hand)], hand, tolerance = 1e-10, ignore_attr = TRUE)
})

test_that("balance of MatchIt weights is titled and labelled as matching", {
  skip_if_not_installed("MatchIt")
  d <- lalonde_data()
  mi <- MatchIt::matchit(treat ~ age + educ + married + re74, data = d)
  bal <- balance_table(mi)
  expect_equal(attr(bal, "title"), "MatchIt (method \"nearest\") (ATT), in-sample")
  expect_equal(attr(bal, "adjustment"), "matched")
  expect_equal(attr(bal, "sample_sizes")$matched, c(sum(mi$weights[d$treat == 0] > 0), sum(d$treat)))
  wi <- balance_table(as_weight_model(MatchIt::matchit(treat ~ age + educ, data = d, replace = TRUE)))
  expect_equal(attr(wi, "adjustment"), "matched")
})

test_that("the printed balance table has one fixed-decimal format per column", {
  skip_if_not_installed("MatchIt")
  d <- lalonde_data()
  withr::local_options(width = 200)
  out <- capture.output(print(balance_table(ipw(treat ~ age + race + re74, data = d, estimand = "ATT"))))
  expect_false(any(grepl("e[+-][0-9]", out)))
  rows <- out[grepl("^ +(age|race_black|re74) ", out)]
  decimals <- lapply(strsplit(trimws(rows), " +"), function(f) nchar(sub("^[^.]*\\.?", "", f[3:8])))
  expect_equal(decimals[[1]], c(3, 3, 4, 3, 3, 4))
  expect_true(all(vapply(decimals, identical, logical(1), decimals[[1]])))
})
