# A fitted object edited by hand must not reach C with fields it cannot
# read, nor give a bootstrap interval that describes another model: the
# fields the C bootstraps read are checked with an error naming the field,
# and valid but edited fields are caught because the C routine at
# counts = 1 no longer reproduces the estimate.

fc_data <- sim_confounded(300, seed = 41)

boot_effect <- function(fit, ...) {
  withr::with_seed(3, estimate_effect(fit, se = "bootstrap", R = 20, ...))
}

# Each edit (a function of the fit) must fail with an error naming its field.
expect_field_errors <- function(fit, edits, run) {
  for (e in seq_along(edits)) {
    field <- names(edits)[e]
    expect_error(run(edits[[e]](fit)), field, fixed = TRUE, info = field)
  }
}

test_that("an IPW fit with out-of-range fields: the error names the field", {
  fit <- ipw(a ~ x1 + x2, data = fc_data, truncate = 0.95)
  n <- nrow(fc_data)
  edits <- list(
    "options$truncate" = function(f) { f$options$truncate <- -1; f },
    "options$truncate" = function(f) { f$options$truncate <- 1e10; f },
    "options$truncate" = function(f) { f$options$truncate <- "0.9"; f },
    "options$clip" = function(f) { f$options$clip <- c(2, 1); f },
    "options$clip" = function(f) { f$options$clip <- c(NA, 1); f },
    "options$stabilize" = function(f) { f$options$stabilize <- NA; f },
    "estimand" = function(f) { f$estimand <- "ATX"; f },
    "target" = function(f) { f$target <- 3L; f },
    "learner$maxit" = function(f) { f$learner$maxit <- 0L; f },
    "learner$epsilon" = function(f) { f$learner$epsilon <- -1; f },
    "learner$penalty" = function(f) { f$learner$penalty <- -1; f },
    "sampling_weights" = function(f) { f$sampling_weights <- rep(-1, n); f },
    "intercept" = function(f) { f$intercept <- NA; f },
    "offset" = function(f) { f$offset <- rep(NA_real_, n); f },
    "x" = function(f) { f$x <- as.matrix(f$x)[1:10, ]; f },
    "treatment" = function(f) { f$treatment <- f$treatment[-1L]; f },
    "levels" = function(f) { f$levels <- c("u", "v"); f }
  )
  expect_field_errors(fit, edits, function(f) boot_effect(f, outcome = y))
  expect_snapshot(boot_effect(edits[[4L]](fit), outcome = y), error = TRUE)
})

test_that("an IPW fit with valid but edited options does not bootstrap another model", {
  fit <- ipw(a ~ x1 + x2, data = fc_data)
  edited <- fit
  edited$options$clip <- c(0.3, 0.7)
  expect_snapshot(boot_effect(edited, outcome = y), error = TRUE)
  # The field of the issue that first crashed the truncation cap is not one
  # the model reads: its interval still covers its estimate.
  edited <- fit
  edited$truncate <- 1e10
  eff <- boot_effect(edited, outcome = y)
  expect_true(all(eff$conf.low <= eff$estimate & eff$estimate <= eff$conf.high))
})

test_that("an outcome model and an AIPW fit with edited fields: the error names the field", {
  om <- standardization(y ~ a + x1 + x2, data = fc_data, treatment = a)
  n <- nrow(fc_data)
  expect_field_errors(om, list(
    "y" = function(f) { f$y[1L] <- NA; f },
    "stratified" = function(f) { f$stratified <- NA; f },
    "learner$maxit" = function(f) { f$learner$maxit <- 1e9; f },
    "learner$family" = function(f) { f$learner$family <- "gamma"; f },
    "offset" = function(f) { f$offset <- 1; f }
  ), boot_effect)
  edited <- om
  edited$learner$penalty <- 100
  expect_error(boot_effect(edited), "do not reproduce its estimate")

  fit <- aipw(y ~ a + x1 + x2, a ~ x1 + x2, data = fc_data, treatment = a)
  expect_field_errors(fit, list(
    "weight_model$options$truncate" = function(f) { f$weight_model$options$truncate <- 2; f },
    "weight_model$options$clip" = function(f) { f$weight_model$options$clip <- c(1, 0); f },
    "outcome_model$y" = function(f) { f$outcome_model$y <- f$outcome_model$y[-1L]; f },
    "sampling_weights" = function(f) { f$sampling_weights <- rep(0, n); f }
  ), boot_effect)
})

test_that("a survival fit with edited fields: the error names the field", {
  d <- sim_construct_cohort(200, seed = 42)
  fit <- survival_ipw(Surv(time, event) ~ a, data = d, censoring_model = ~ x,
                      weight_model = ipw(a ~ x + z, data = d), se = "none")
  expect_false(is.null(causallib:::boot_description(fit)))
  expect_field_errors(fit, list(
    "weight_model$options$clip" = function(f) { f$weight_model$options$clip <- c(1, 0); f },
    "pt$last" = function(f) { f$pt$last[1L] <- 99L; f },
    "pt$status" = function(f) { f$pt$status[1L] <- 2L; f },
    "method" = function(f) { f$method <- "grid"; f },
    "learner$epsilon" = function(f) { f$learner$epsilon <- 0; f }
  ), causallib:::boot_description)
})

test_that("a survival fit with an edited hazard or censoring model: the error names the field", {
  d <- survival::colon[survival::colon$etype == 2, c("time", "status", "rx", "age", "nodes", "sex")]
  d <- d[complete.cases(d), ]
  d$trt <- factor(d$rx != "Obs", labels = c("obs", "chemo"))
  d$time <- ceiling(d$time / 365)
  fit <- survival_standardization(Surv(time, status) ~ trt + age + nodes, data = d, treatment = trt,
                                  censoring_model = ~ age + sex, se = "none")
  n <- nrow(d)
  boot_c <- function(f) causallib:::bootstrap_replicates(f, matrix(1L, n, 1L), engine = "c")
  expect_equal(drop(boot_c(fit)), as.vector(fit$survival))
  edits <- list(
    "xc" = function(f) { f$xc[1L, 2L] <- NA; f },
    "xc" = function(f) { f$xc[2L, 3L] <- Inf; f },
    "xc" = function(f) { f$xc <- f$xc[-1L, ]; f },
    "xc" = function(f) { f$xc <- f$xc[, 2L]; f },
    "pt" = function(f) { f$pt <- NULL; f },
    "pt$arm" = function(f) { f$pt$arm <- f$pt$arm[-1L]; f },
    "pt$n_periods" = function(f) { f$pt$n_periods <- -1L; f },
    "hazard" = function(f) { f$hazard$terms <- NULL; f },
    "hazard$vars" = function(f) { f$hazard$vars <- f$hazard$vars[-1L, ]; f },
    "hazard$vars" = function(f) { f$hazard$vars$age[1L] <- NA; f },
    "hazard$vars" = function(f) { f$hazard$vars$age[1L] <- Inf; f },
    "hazard$vars" = function(f) { f$hazard$vars$age <- "old"; f }
  )
  expect_field_errors(fit, edits, boot_c)
  expect_snapshot(boot_c(edits[[1L]](fit)), error = TRUE)
  expect_snapshot(boot_c(edits[[9L]](fit)), error = TRUE)

  # The fitted hazard model, whose coefficients evaluate() reads.
  model_edits <- list(
    "models$hazard$coefficients" = function(f) { f$models$hazard$coefficients[2L] <- NA; f },
    "models$hazard$coefficients" = function(f) { f$models$hazard$coefficients <- f$models$hazard$coefficients[-1L]; f },
    "models$hazard$aliased" = function(f) { f$models$hazard$p_person <- 99L; f },
    "models$hazard$information" = function(f) { f$models$hazard$information <- 1; f },
    "models$hazard$K" = function(f) { f$models$hazard$K <- 3L; f },
    "models$hazard" = function(f) { f$models$hazard <- list(1); f }
  )
  expect_field_errors(fit, model_edits, evaluate)
  expect_snapshot(evaluate(model_edits[[2L]](fit)), error = TRUE)

  strat <- survival_standardization(Surv(time, status) ~ trt + age + nodes, data = d, treatment = trt,
                                    stratified = TRUE, se = "none")
  expect_field_errors(strat, list(
    "models$hazard[[2]]$coefficients" = function(f) { f$models$hazard[[2L]]$coefficients[1L] <- Inf; f }
  ), evaluate)

  # IP-weighted pooled-logistic curves: the same fields.
  ipw_fit <- survival_ipw(Surv(time, status) ~ trt, data = d, weight_model = ipw(trt ~ age + nodes, data = d),
                          censoring_model = ~ age + sex, method = "pooled_logistic", se = "none")
  expect_equal(drop(boot_c(ipw_fit)), as.vector(ipw_fit$survival))
  expect_field_errors(ipw_fit, edits[1:7], boot_c)
  expect_field_errors(ipw_fit, model_edits[c(1L, 2L, 4L)], evaluate)
})
