test_that("cross-validation folds are reproducible and predictions come from training-fold refits", {
  d <- sim_confounded(n = 300)
  fit <- ipw(a ~ x1 + x2, data = d)
  set.seed(7)
  ev <- evaluate(fit, cv = 3)
  set.seed(7)
  expect_identical(evaluate(fit, cv = 3)$metrics, ev$metrics)
  expect_setequal(ev$folds, 1:3)
  valid <- ev$predictions[ev$predictions$phase == "valid", ]
  expect_equal(sort(valid$row), 1:300)
  k1 <- which(ev$folds == 1)
  ref <- glm(a ~ x1 + x2, binomial(), d[-k1, ])
  p <- predict(ref, d[k1, ], type = "response")
  got <- valid[valid$fold == 1, ]
  expect_equal(got$propensity[order(got$row), 2], unname(p), tolerance = 1e-8)
  expect_equal(got$weight[order(got$row)], unname(ifelse(d$a[k1] == 1, 1 / p, 1 / (1 - p))),
               tolerance = 1e-8)
})

test_that("folds are drawn within treatment levels: each holds every level", {
  d <- sim_confounded(n = 60)
  d$a <- rep(0:1, c(56, 4))
  fit <- ipw(a ~ x1, data = d)
  # 4 treated units: 4 folds is the most, and each fold gets one of them
  set.seed(2)
  ev <- evaluate(fit, cv = 4)
  counts <- table(ev$folds, d$a)
  expect_true(all(counts >= 1))
  # sizes differ by at most one within each level, and overall
  expect_true(all(apply(counts, 2L, function(k) diff(range(k))) <= 1))
  expect_lte(diff(range(table(ev$folds))), 1)
  expect_error(evaluate(fit, cv = 5), "at most `cv = 4`")
})

test_that("in-sample metrics equal the standalone metric functions", {
  fit <- ipw(whatif_ps_formula, data = nhefs)
  ev <- evaluate(fit)
  m <- function(name) ev$metrics$value[ev$metrics$metric == name]
  expect_equal(unique(ev$metrics$phase), "train")
  expect_equal(m("weighted_roc_auc"), unname(weighted_roc_auc(fit)))
  expect_equal(m("expected_roc_auc"), unname(expected_roc_auc(fit)))
  bal <- balance_table(fit, sd_denominator = "pooled", binary = "std", propensity = FALSE)
  expect_equal(m("max_abs_smd_weighted"), max(abs(bal$diff_weighted)))
  expect_equal(m("ici"), calibration_error(fit)$ici)
})

test_that("bootstrap evaluations validate on the out-of-bag units", {
  d <- sim_confounded(n = 200)
  fit <- standardization(y ~ a + x1 + x2, data = d, treatment = a)
  set.seed(3)
  ev <- evaluate(fit, bootstrap = 2)
  set.seed(3)
  train <- sample.int(200, 200, replace = TRUE)
  valid <- ev$predictions[ev$predictions$phase == "valid" & ev$predictions$fold == 1, ]
  expect_equal(sort(valid$row), setdiff(1:200, train))
  ref <- lm(y ~ a + x1 + x2, data = d[train, ])
  expect_equal(valid$predicted, unname(predict(ref, d[valid$row, ])), tolerance = 1e-8)
  expect_true(all(c("rmse", "r_squared", "deviance") %in% ev$metrics$metric))
})

test_that("overfitting shows as worse validation than training balance", {
  set.seed(11)
  d <- sim_confounded(n = 150)
  noise <- matrix(rnorm(150 * 25), 150, dimnames = list(NULL, paste0("z", 1:25)))
  d <- cbind(d, noise)
  fit <- ipw(reformulate(c("x1", "x2", colnames(noise)), "a"), data = d, clip = 0.01)
  ev <- suppressWarnings(evaluate(fit, cv = 3))
  auc <- aggregate(value ~ phase, ev$metrics[ev$metrics$metric == "roc_auc", ], mean)
  expect_gt(auc$value[auc$phase == "train"], auc$value[auc$phase == "valid"])
})

test_that("evaluate() works on survival models: model curves against Kaplan-Meier", {
  d <- sim_survival(n = 400, periods = 8, seed = 12)
  std <- survival_standardization(Surv(time, event) ~ a + x, time_terms = quadratic_time, data = d, treatment = "a",
                                  se = "none")
  ev <- evaluate(std)
  sd <- evaluation_data(ev, "survival")
  km <- survival_ipw(Surv(time, event) ~ a, data = d, se = "none")
  got <- sd[sd$source == "kaplan-meier" & sd$treatment == "1" & sd$time > 0, ]
  expect_equal(got$survival, unname(km$survival[2, match(got$time, km$times)]), tolerance = 1e-12)
  model <- sd[sd$source == "model" & sd$treatment == "1" & sd$time == 8, "survival"]
  long <- expand_person_time(d, d$time, d$event)
  ref <- glm(y ~ a * (time + I(time^2)) + x, binomial(), long)
  treated <- d[d$a == 1, ]
  expect_equal(model, glm_standardized_survival(ref, treated, "a", 1, 1:8)[8], tolerance = 1e-6)
  set.seed(2)
  ev_cv <- evaluate(std, cv = 2)
  expect_setequal(unique(ev_cv$metrics$phase), c("train", "valid"))
  expect_true(all(ev_cv$metrics$value >= 0 & ev_cv$metrics$value < 0.2))
  cox <- survival_standardization(Surv(time, event) ~ a + x, data = d, treatment = "a",
                                  model = "cox", se = "none")
  expect_s3_class(evaluate(cox, cv = 2), "causal_evaluation")
  ipw_surv <- survival_ipw(Surv(time, event) ~ a, time_terms = quadratic_time, data = d, weight_model = ipw(a ~ x, data = d),
                           method = "pooled_logistic", se = "none")
  ev_ipw <- evaluate(ipw_surv, cv = 2)
  expect_equal(sort(unique(ev_ipw$metrics$metric)), "max_abs_km_gap")
})

test_that("evaluation errors are clear", {
  d <- sim_confounded(n = 100)
  fit <- ipw(a ~ x1, data = d)
  expect_snapshot(error = TRUE, evaluate(fit, cv = 2, bootstrap = 2))
  expect_snapshot(error = TRUE, evaluate(fit, cv = nrow(d)))
  expect_snapshot(error = TRUE, evaluate(fit, cv = 2.5))
  expect_snapshot(error = TRUE, evaluate(fit, bootstrap = 1e12))
  expect_snapshot(error = TRUE, tune_learner(fit, data.frame(penalty = c(0, 1)), cv = 60))
  expect_snapshot(error = TRUE, evaluate(marginal_outcome(y ~ a, data = d)))
  expect_snapshot(error = TRUE, evaluation_data(evaluate(fit), "residuals"))
})

test_that("a bootstrap sample that leaves a level without out-of-bag units is a clear error", {
  d <- sim_confounded(n = 60, seed = 5)
  d$a <- replace(integer(60), 1:2, 1L)
  fit <- suppressWarnings(ipw(a ~ x1, data = d))
  withr::local_seed(2)
  expect_snapshot(error = TRUE, suppressWarnings(evaluate(fit, bootstrap = 30)))
})

test_that("every plot type draws its evaluation data", {
  skip_if_not_installed("ggplot2")
  d <- sim_confounded(n = 300)
  set.seed(1)
  ev_w <- evaluate(ipw(a ~ x1 + x2, data = d), cv = 2)
  ev_o <- evaluate(standardization(yb ~ a + x1, data = d, treatment = a), cv = 2)
  ds <- sim_survival(n = 200, periods = 6)
  ev_s <- evaluate(survival_standardization(Surv(time, event) ~ a + x, time_terms = quadratic_time, data = ds, treatment = "a",
                                            se = "none"))
  cases <- list(balance = ev_w, balance_slope = ev_w, weights = ev_w, roc = ev_w, pr = ev_w,
                calibration = ev_w, predicted_observed = ev_o, residuals = ev_o, survival = ev_s)
  for (type in names(cases)) {
    p <- ggplot2::autoplot(cases[[type]], type = type)
    expect_s3_class(p, "ggplot")
    built <- ggplot2::ggplot_build(p)
    data <- evaluation_data(cases[[type]], type)
    ys <- unlist(lapply(built$data, function(l) l$y))
    expected <- switch(type, balance = NULL, balance_slope = abs(data$diff), weights = data$side * data$count,
                       roc = data$tpr, pr = data$precision, calibration = data$observed,
                       predicted_observed = data$observed, residuals = data$residual,
                       survival = data$survival)
    if (!is.null(expected)) expect_true(all(abs(expected[is.finite(expected)]) %in% abs(ys)), info = type)
  }
  expect_equal(nrow(ggplot2::ggplot_build(ggplot2::autoplot(ev_w, "roc"))$layout$layout), 2)
  expect_s3_class(ggplot2::autoplot(ipw(a ~ x1, data = d), type = "balance"), "ggplot")
})

test_that("tune_learner() picks the candidate with the lowest validation score on shared folds", {
  set.seed(11)
  d <- sim_confounded(n = 200)
  noise <- matrix(rnorm(200 * 20), 200, dimnames = list(NULL, paste0("z", 1:20)))
  d <- cbind(d, noise)
  fit <- ipw(reformulate(c("x1", "x2", colnames(noise)), "a"), data = d)
  set.seed(5)
  tuned <- tune_learner(fit, data.frame(penalty = c(0, 5, 50)), scorer = "weighted_auc", cv = 4)
  expect_equal(tuned$best_index, which.min(tuned$scores$score))
  # the same folds for every candidate
  expect_identical(tuned$evaluations[[1]]$folds, tuned$evaluations[[3]]$folds)
  ev <- tuned$evaluations[[2]]
  v <- ev$metrics$value[ev$metrics$metric == "weighted_roc_auc" & ev$metrics$phase == "valid"]
  expect_equal(tuned$scores$score[2], abs(mean(v) - 0.5))
  expect_equal(tuned$best$learner$penalty, c(0, 5, 50)[tuned$best_index])
  std <- standardization(y ~ a + x1 + x2, data = d, treatment = a)
  custom <- tune_learner(std, list(lrn_glm("gaussian"), lrn_glm("gaussian", penalty = 1e4)),
                         scorer = function(ev) validation_mean(ev, "rmse"), cv = 3)
  expect_equal(custom$best_index, 1L)
  expect_snapshot(error = TRUE, tune_learner(fit, list("not a learner")))
})

test_that("doubly robust models are evaluated through both of their models", {
  d <- sim_confounded(n = 300)
  fit <- aipw(standardization(y ~ a + x1 + x2, data = d, treatment = a), ipw(a ~ x1 + x2, data = d))
  set.seed(4)
  ev <- evaluate(fit, cv = 3)
  set.seed(4)
  ev_w <- evaluate(fit$weight_model, cv = 3)
  set.seed(4)
  ev_o <- evaluate(fit$outcome_model, cv = 3)
  key <- function(m) m[order(m$fold, m$phase, m$metric, m$treatment), ]
  both <- key(rbind(ev_w$metrics, ev_o$metrics))
  expect_equal(key(ev$metrics)$value, both$value)
  expect_equal(evaluation_data(ev, "residuals"), evaluation_data(ev_o, "residuals"))
  expect_equal(evaluation_data(ev, "balance"), evaluation_data(ev_w, "balance"))
})

test_that("tune_learner() keeps a matching fit a matching fit", {
  d <- sim_confounded(n = 300)
  fit <- matching(a ~ x1 + x2, data = d)
  set.seed(2)
  tuned <- suppressMessages(tune_learner(fit, data.frame(penalty = c(0, 1)), cv = 2))
  expect_s3_class(tuned$best, "causallib_matching")
  refit <- suppressMessages(matching(a ~ x1 + x2, data = d,
                                     learner = lrn_glm(penalty = c(0, 1)[tuned$best_index])))
  expect_equal(weights(tuned$best), weights(refit))
})
