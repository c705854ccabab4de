# Synthetic evaluation data: every row repeated for each phase and treatment.
eval_frame <- function(..., phases = "train", treatments = "1") {
  base <- data.frame(..., stringsAsFactors = FALSE)
  grid <- expand.grid(row = seq_len(nrow(base)), treatment = treatments, phase = phases,
                      stringsAsFactors = FALSE)
  out <- cbind(base[grid$row, , drop = FALSE], treatment = grid$treatment, phase = grid$phase)
  if (is.null(out$fold)) out$fold <- 1L
  rownames(out) <- NULL
  out
}

balance_frame <- function(...) {
  eval_frame(covariate = factor(rep(c("age", "sex*", "wt"), 2), levels = c("wt", "sex*", "age")),
             comparison = "1 vs 0",
             adjustment = factor(rep(c("unadjusted", "weighted"), each = 3),
                                 levels = c("unadjusted", "weighted")),
             diff = c(0.2, -0.5, 0.05, 0.02, -0.08, 0.01),
             standardized = rep(c(TRUE, FALSE, TRUE), 2), ...)
}

layer <- function(p, i) ggplot2::ggplot_build(p)$data[[i]]
panels <- function(p) ggplot2::ggplot_build(p)$layout$layout

test_that("every plot type has a builder", {
  skip_if_not_installed("ggplot2")
  expect_length(evaluation_plot_types, 9L)
  frames <- list(
    balance = balance_frame(), balance_slope = balance_frame(),
    weights = eval_frame(bin_mid = 1, bin_width = 0.5, count = 3),
    roc = eval_frame(curve = factor("plain", levels = c("plain", "weighted", "expected")),
                     fpr = c(0, 1), tpr = c(0, 1), auc = 0.5),
    pr = eval_frame(recall = c(0, 1), precision = c(1, 0.5)),
    calibration = eval_frame(predicted = 0.5, observed = 0.4, n = 10),
    predicted_observed = eval_frame(predicted = 1, observed = 2),
    residuals = eval_frame(predicted = 1, residual = 2),
    survival = eval_frame(time = c(0, 1), survival = c(1, 0.8),
                          source = factor("model", levels = c("model", "kaplan-meier")))
  )
  expect_named(frames, evaluation_plot_types)
  for (type in evaluation_plot_types) {
    p <- evaluation_plot(frames[[type]], type, title = type)
    expect_s3_class(p, "ggplot")
    expect_equal(p$labels$title, type)
  }
})

test_that("unknown plot types are errors that list the valid ones", {
  skip_if_not_installed("ggplot2")
  expect_snapshot(error = TRUE, evaluation_plot(data.frame(), "love"))
  expect_snapshot(error = TRUE, evaluation_plot(data.frame(), 1))
})

test_that("the love plot draws |diff| in the covariate factor's order, marking raw differences", {
  skip_if_not_installed("ggplot2")
  d <- balance_frame()
  p <- plot_love(d)
  points <- layer(p, 2)
  expect_equal(points$x, abs(d$diff))
  # levels from the bottom: wt at y = 1, sex at 2, age on top
  expect_equal(as.integer(points$y), match(as.character(d$covariate), c("wt", "sex*", "age")))
  expect_equal(length(unique(points$shape)), 2L)
  expect_equal(length(unique(points$colour)), 2L)
  expect_equal(layer(p, 1)$xintercept, 0.1)
  expect_equal(nrow(panels(p)), 1L)
  expect_equal(p$labels$x, "Absolute mean difference")
  expect_match(p$labels$caption, "not standardized")
  all_std <- plot_love(transform(d, standardized = TRUE))
  expect_equal(all_std$labels$x, "Absolute standardized mean difference")
  expect_null(all_std$labels$caption)
})

test_that("the love plot puts phases in columns (train first) and comparisons in rows", {
  skip_if_not_installed("ggplot2")
  d <- balance_frame(phases = c("valid", "train"))
  d <- rbind(d, transform(d, comparison = "2 vs 0"))
  p <- plot_love(d)
  expect_equal(layer(p, 2)$x, abs(d$diff))
  lay <- panels(p)
  expect_equal(nrow(lay), 4L)
  expect_equal(as.character(lay$phase[lay$COL == 1]), c("train", "train"))
  expect_equal(as.character(lay$phase[lay$COL == 2]), c("valid", "valid"))
  expect_equal(sort(unique(as.character(lay$comparison))), c("1 vs 0", "2 vs 0"))
})

test_that("several folds give several points and lines", {
  skip_if_not_installed("ggplot2")
  d <- rbind(transform(balance_frame(), fold = 1L), transform(balance_frame(), fold = 2L, diff = diff / 2))
  expect_equal(layer(plot_love(d), 2)$x, abs(d$diff))
  slope <- plot_balance_slope(d)
  lines <- layer(slope, 2)
  expect_equal(length(unique(lines$group)), 6L)
  expect_equal(sort(lines$y), sort(abs(d$diff)))
})

test_that("the slope plot joins each covariate's unadjusted and weighted |diff|", {
  skip_if_not_installed("ggplot2")
  d <- balance_frame(phases = c("train", "valid"))
  p <- plot_balance_slope(d)
  expect_equal(unique(layer(p, 1)$yintercept), 0.1)
  points <- layer(p, 3)
  expect_equal(points$y, abs(d$diff))
  expect_equal(as.integer(points$x), as.integer(d$adjustment))
  lines <- layer(p, 2)
  expect_equal(length(unique(lines$group)), 3L)
  expect_equal(nrow(panels(p)), 2L)
})

test_that("mirrored weight histograms draw the signed counts at their own widths", {
  skip_if_not_installed("ggplot2")
  d <- rbind(
    eval_frame(bin_mid = c(1, 2), bin_width = c(1, 1), count = c(4, 2), treatments = "1"),
    eval_frame(bin_mid = c(1.25, 3), bin_width = c(0.5, 2), count = c(-3, -1), treatments = "0")
  )
  p <- plot_weights(d)
  cols <- layer(p, 1)
  expect_equal(cols$y, d$count)
  expect_equal(cols$x, d$bin_mid)
  expect_equal(cols$xmax - cols$xmin, d$bin_width)
  expect_equal(length(unique(cols$fill)), 2L)
  expect_equal(layer(p, 2)$yintercept, 0)
  expect_equal(nrow(panels(p)), 1L)
})

test_that("weight histograms facet phases but not treatments", {
  skip_if_not_installed("ggplot2")
  d <- eval_frame(bin_mid = c(1, 2), bin_width = 1, count = c(4, -2),
                  phases = c("train", "valid"), treatments = c("0", "1"))
  p <- plot_weights(d)
  expect_equal(layer(p, 1)$y, d$count)
  expect_equal(nrow(panels(p)), 2L)
})

roc_frame <- function(...) {
  eval_frame(curve = factor(rep(c("plain", "weighted", "expected"), each = 4),
                            levels = c("plain", "weighted", "expected")),
             fpr = c(0, 0.4, 0.3, 1, 0, 0.5, 0.6, 1, 0, 0.2, 0.7, 1),
             tpr = c(0, 0.6, 0.5, 1, 0, 0.5, 0.8, 1, 0, 0.3, 0.9, 1),
             auc = rep(c(0.61, 0.52, 0.58), each = 4), ...)
}

test_that("ROC curves are paths in row order inside the unit square", {
  skip_if_not_installed("ggplot2")
  d <- roc_frame()
  p <- plot_roc(d)
  ref <- layer(p, 1)
  expect_equal(c(ref$slope, ref$intercept), c(1, 0))
  expect_equal(ref$linetype, "dashed")
  path <- layer(p, 2)
  # the non-monotone fpr (0.4 then 0.3) stays in order: a path, not a line
  expect_equal(path$x, d$fpr)
  expect_equal(path$y, d$tpr)
  expect_equal(length(unique(path$group)), 3L)
  expect_equal(length(unique(path$colour)), 3L)
  expect_equal(p$coordinates$limits, list(x = c(0, 1), y = c(0, 1)))
})

test_that("one ROC panel names each curve's AUC in the legend; several panels in a corner", {
  skip_if_not_installed("ggplot2")
  p <- plot_roc(roc_frame())
  colour <- ggplot2::ggplot_build(p)$plot$scales$get_scales("colour")
  expect_equal(colour$get_labels(), c("plain (AUC 0.610)", "weighted (AUC 0.520)", "expected (AUC 0.580)"))
  two_folds <- rbind(transform(roc_frame(), fold = 1L), transform(roc_frame(), fold = 2L, auc = auc + 0.1))
  p <- plot_roc(two_folds)
  expect_equal(ggplot2::ggplot_build(p)$plot$scales$get_scales("colour")$get_labels(),
               c("plain (AUC 0.660)", "weighted (AUC 0.570)", "expected (AUC 0.630)"))
  expect_match(p$labels$colour, "mean of 2 folds")
  text <- layer(plot_roc(roc_frame(phases = c("train", "valid"))), 3)
  expect_equal(nrow(text), 2L)
  expect_equal(text$label[1], "plain (AUC 0.610)\nweighted (AUC 0.520)\nexpected (AUC 0.580)")
  expect_equal(c(text$x[1], text$y[1]), c(1, 0))
})

test_that("ROC curves facet by phase (columns) and treatment (rows)", {
  skip_if_not_installed("ggplot2")
  d <- roc_frame(phases = c("train", "valid"), treatments = c("a", "b"))
  p <- plot_roc(d)
  path <- layer(p, 2)
  lay <- panels(p)
  expect_equal(nrow(lay), 4L)
  expect_equal(max(lay$ROW), 2L)
  expect_equal(max(lay$COL), 2L)
  for (panel in lay$PANEL) {
    at <- lay[lay$PANEL == panel, ]
    rows <- d$phase == at$phase & d$treatment == at$treatment
    expect_equal(path$x[path$PANEL == panel], d$fpr[rows])
    expect_equal(path$y[path$PANEL == panel], d$tpr[rows])
  }
  expect_equal(nrow(panels(plot_roc(roc_frame(phases = c("train", "valid"))))), 2L)
  expect_equal(nrow(panels(plot_roc(roc_frame(treatments = c("a", "b"))))), 2L)
})

test_that("precision-recall curves are one path per curve and fold", {
  skip_if_not_installed("ggplot2")
  d <- rbind(eval_frame(curve = "plain", recall = c(0, 0.5, 1), precision = c(1, 0.8, 0.4), fold = 1L),
             eval_frame(curve = "plain", recall = c(0, 0.6, 1), precision = c(1, 0.7, 0.5), fold = 2L))
  p <- plot_pr(d)
  path <- layer(p, 1)
  expect_equal(path$x, d$recall)
  expect_equal(path$y, d$precision)
  expect_equal(length(unique(path$group)), 2L)
  expect_equal(nrow(panels(plot_pr(eval_frame(curve = "plain", recall = 0:1, precision = 1:0,
                                              phases = c("train", "valid"))))), 2L)
})

test_that("a weight model's plain, weighted and expected precision-recall curves are separate coloured paths", {
  skip_if_not_installed("ggplot2")
  skip_if_not_installed("MatchIt")
  e <- new.env()
  utils::data("lalonde", package = "MatchIt", envir = e)
  fit <- ipw(treat ~ age + educ + race + married + re74, data = e$lalonde)
  ev <- evaluate(fit)
  data <- evaluation_data(ev, "pr")
  expect_setequal(as.character(unique(data$curve)), c("plain", "weighted", "expected"))
  built <- layer(ggplot2::autoplot(ev, type = "pr"), 1)
  # each treatment's panel has three paths, one colour each, drawn from the data's rows
  for (panel in unique(built$PANEL)) {
    b <- built[built$PANEL == panel, ]
    expect_equal(length(unique(b$group)), 3L)
    expect_equal(length(unique(b$colour)), 3L)
    expect_equal(nrow(unique(b[, c("group", "colour")])), 3L)
  }
  expect_equal(nrow(built), nrow(data))
  expect_equal(sort(built$y), sort(data$precision))
})

test_that("for a binary outcome predicted-observed shows each arm's calibration, not a 0/1 scatter", {
  skip_if_not_installed("ggplot2")
  skip_if_not_installed("MatchIt")
  e <- new.env()
  utils::data("lalonde", package = "MatchIt", envir = e)
  d <- e$lalonde
  d$employed <- as.numeric(d$re78 > 0)
  fit <- standardization(employed ~ treat + age + educ + re74, data = d, treatment = treat)
  ev <- evaluate(fit)
  data <- evaluation_data(ev, "predicted_observed")
  expect_named(data, c("predicted", "observed", "n", "treatment", "fold", "phase"))
  # the bins by hand: deciles of the predictions within each arm
  for (arm in c("0", "1")) {
    i <- d$treat == as.numeric(arm)
    p <- predict(fit)[cbind(which(i), as.integer(arm) + 1L)]
    cuts <- unique(stats::quantile(p, seq(0, 1, 0.1), names = FALSE, type = 1))
    bin <- findInterval(p, cuts, rightmost.closed = TRUE, all.inside = TRUE)
    got <- data[data$treatment == arm, ]
    expect_equal(got$predicted, as.vector(tapply(p, bin, mean)), tolerance = 1e-10)
    expect_equal(got$observed, as.vector(tapply(d$employed[i], bin, mean)), tolerance = 1e-10)
    expect_equal(got$n, as.vector(table(bin)))
  }
  expect_false(all(data$observed %in% c(0, 1)))
  p <- ggplot2::autoplot(ev, type = "predicted_observed")
  lines <- layer(p, 2)
  points <- layer(p, 3)
  expect_equal(points$x, data$predicted)
  expect_equal(points$y, data$observed)
  expect_equal(rank(points$size), rank(data$n))
  expect_equal(length(unique(points$colour)), 2L)
  expect_equal(length(unique(lines$group)), 2L)
  expect_equal(p$labels$y, "Observed proportion")
  # a continuous outcome keeps its scatter of units
  cont <- evaluation_data(evaluate(standardization(re78 ~ treat + age, data = d, treatment = treat)),
                          "predicted_observed")
  expect_equal(nrow(cont), nrow(d))
})

test_that("calibration plots bins sized by their counts", {
  skip_if_not_installed("ggplot2")
  d <- eval_frame(predicted = c(0.1, 0.5, 0.9), observed = c(0.15, 0.45, 0.8), n = c(10, 40, 20),
                  phases = c("train", "valid"))
  p <- plot_calibration(d)
  expect_equal(unique(layer(p, 1)$slope), 1)
  expect_equal(layer(p, 2)$y, d$observed)
  points <- layer(p, 3)
  expect_equal(points$x, d$predicted)
  expect_equal(points$y, d$observed)
  expect_equal(rank(points$size), rank(d$n))
  expect_equal(nrow(panels(p)), 2L)
  expect_equal(p$labels$x, "Predicted probability")
  expect_equal(p$labels$y, "Observed proportion")
})

test_that("predicted-observed and residual plots colour points by treatment", {
  skip_if_not_installed("ggplot2")
  d <- eval_frame(predicted = c(1, 2, 3), observed = c(1.5, 1.8, 3.3),
                  phases = c("train", "valid"), treatments = c("0", "1"))
  p <- plot_predicted_observed(d)
  expect_equal(unique(layer(p, 1)$slope), 1)
  points <- layer(p, 2)
  expect_equal(points$x, d$predicted)
  expect_equal(points$y, d$observed)
  expect_equal(points$alpha, rep(0.4, nrow(d)))
  expect_equal(length(unique(points$colour)), 2L)
  # treatments share a panel: only the phases are facets
  expect_equal(nrow(panels(p)), 2L)

  d$residual <- d$observed - d$predicted
  r <- plot_residuals(d)
  expect_equal(unique(layer(r, 1)$yintercept), 0)
  expect_equal(layer(r, 2)$y, d$residual)
  expect_equal(nrow(panels(r)), 2L)
  expect_equal(nrow(panels(plot_residuals(d[d$phase == "train", ]))), 1L)
})

test_that("survival curves are steps per treatment, source and fold", {
  skip_if_not_installed("ggplot2")
  d <- eval_frame(time = rep(c(0, 1, 3), 2), survival = c(1, 0.9, 0.7, 1, 0.85, 0.6),
                  source = factor(rep(c("model", "kaplan-meier"), each = 3),
                                  levels = c("model", "kaplan-meier")),
                  treatments = c("0", "1"))
  p <- plot_survival(d)
  steps <- layer(p, 1)
  expect_equal(steps$y, d$survival)
  expect_equal(steps$x, d$time)
  expect_equal(length(unique(steps$group)), 4L)
  expect_equal(length(unique(steps$linetype)), 2L)
  expect_null(p$coordinates$limits$y)
  two <- eval_frame(time = c(0, 1), survival = c(1, 0.5), source = "model", phases = c("train", "valid"))
  expect_equal(nrow(panels(plot_survival(two))), 2L)
})
