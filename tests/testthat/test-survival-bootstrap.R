# The C survival bootstrap (boot_description.causallib_survival(),
# ffi_survival_bootstrap) against the R refits of the same replicates:
# every built-in method, with weight models (each estimand, stabilized,
# clipped, truncated, multinomial, with an offset), censoring models,
# stratified and offset hazard models.

sb2 <- sim_construct_cohort(300, K = 2, seed = 31)
sb3 <- recode_treatment(sim_construct_cohort(360, K = 3, seed = 32), "factor")

sb_cases <- list(
  "km" = function(d = sb2) survival_ipw(Surv(time, event) ~ a, data = d, se = "none"),
  "km, weight model, sampling weights" = function(d = sb2) {
    survival_ipw(Surv(time, event) ~ a, data = d, weights = d$w,
                 weight_model = ipw(a ~ x + z, data = d, weights = d$w), se = "none")
  },
  "km, 3 levels, ATO weight model" = function(d = sb3) {
    survival_ipw(Surv(time, event) ~ a, data = d,
                 weight_model = ipw(a ~ x + z, data = d, estimand = "ATO"), se = "none")
  },
  "grid_km, censoring model, stabilized truncated weights" = function(d = sb2) {
    survival_ipw(Surv(time, event) ~ a, data = d, censoring_model = ~ x + age,
                 weight_model = ipw(a ~ x + z, data = d, stabilize = TRUE, truncate = 0.95),
                 learner = lrn_tight(), se = "none")
  },
  "grid_pooled_logistic, ATT weight model with an offset" = function(d = sb2) {
    survival_ipw(Surv(time, event) ~ a, data = d, method = "pooled_logistic",
                 weight_model = ipw(a ~ x + offset(0.2 * age / 60), data = d, estimand = "ATT"),
                 learner = lrn_tight(), se = "none")
  },
  "grid_pooled_logistic, 3 levels, censoring model" = function(d = sb3) {
    survival_ipw(Surv(time, event) ~ a, data = d, method = "pooled_logistic",
                 censoring_model = ~ x,
                 weight_model = suppressWarnings(ipw(a ~ x, data = d, clip = 0.05)),
                 learner = lrn_tight(), se = "none")
  },
  "pooled_logistic S-learner, offset, sampling weights" = function(d = sb2) {
    survival_standardization(Surv(time, event) ~ a * x + z + offset(o), data = d, treatment = "a",
                             weights = d$w, learner = lrn_tight(), se = "none")
  },
  "pooled_logistic T-learner, censoring model" = function(d = sb2) {
    survival_standardization(Surv(time, event) ~ a + x + z + offset(o), data = d,
                             treatment = "a", stratified = TRUE, censoring_model = ~ age,
                             learner = lrn_tight(), se = "none")
  },
  "pooled_logistic with an ATT weight model (weighted standardization)" = function(d = sb2) {
    survival_standardization(Surv(time, event) ~ a + x + z, data = d, treatment = "a",
                             weight_model = ipw(a ~ x + z, data = d, estimand = "ATT"),
                             learner = lrn_tight(), se = "none")
  },
  "pooled_logistic, 3 levels, weight model of the first level's population, penalty" = function(d = sb3) {
    survival_standardization(Surv(time, event) ~ a + x, data = d, treatment = "a",
                             weight_model = ipw(a ~ x, data = d, estimand = "ATT", treated = "A"),
                             learner = lrn_glm(penalty = 0.5, epsilon = 1e-12, maxit = 100),
                             se = "none")
  },
  "pooled_logistic T-learner, 3 levels, ATO weight model" = function(d = sb3) {
    survival_standardization(Surv(time, event) ~ a + x + z, data = d, treatment = "a",
                             stratified = TRUE, weight_model = ipw(a ~ x, data = d, estimand = "ATO"),
                             learner = lrn_tight(), se = "none")
  }
)

# A case's fit and its number of people (each case's default data).
sb_fit <- function(name) {
  fit <- sb_cases[[name]]()
  list(fit = fit, n = fit$n)
}

for (name in names(sb_cases)) {
  test_that(paste("C and R survival bootstraps agree |", name), {
    case <- sb_fit(name)
    fit <- case$fit
    expect_false(is.null(causallib:::boot_description(fit)), info = name)
    withr::local_seed(5)
    counts <- causallib:::bootstrap_counts(case$n, 3)
    c_reps <- causallib:::bootstrap_replicates(fit, counts, engine = "c")
    r_reps <- causallib:::bootstrap_replicates(fit, counts, engine = "r")
    expect_equal(dim(c_reps), c(3L, length(fit$survival)), info = name)
    expect_false(anyNA(c_reps[, !is.na(fit$survival)]), info = name)
    expect_equal(c_reps, r_reps, tolerance = 1e-8, info = name)
    one <- causallib:::bootstrap_replicates(fit, matrix(1L, case$n, 1L), engine = "c")
    expect_equal(as.vector(one), as.vector(fit$survival), tolerance = 1e-10, info = name)
    threads <- lapply(1:2, function(nt) {
      withr::local_options(causallib.threads = nt)
      causallib:::bootstrap_replicates(fit, counts, engine = "c")
    })
    expect_identical(threads[[1]], threads[[2]], info = name)
  })
}

test_that("the public survival bootstrap draws its replicates through the C routine", {
  fit <- sb_fit("pooled_logistic S-learner, offset, sampling weights")$fit
  set.seed(8)
  boot <- survival_standardization(Surv(time, event) ~ a * x + z + offset(o), data = sb2,
                                   treatment = "a", weights = sb2$w, learner = lrn_tight(),
                                   se = "bootstrap", R = 3)
  set.seed(8)
  counts <- causallib:::bootstrap_counts(nrow(sb2), 3)
  reps <- causallib:::bootstrap_replicates(fit, counts, engine = "r")
  expect_equal(matrix(boot$replicates, 3), reps, tolerance = 1e-8)
})

test_that("Cox models and weight models the C core cannot refit stay in R", {
  d <- sim_construct_continuous(200, seed = 33)
  cox <- survival_standardization(Surv(time, event) ~ a + x, data = d, treatment = "a",
                                  model = "cox", se = "none")
  expect_null(causallib:::boot_description(cox))
  m <- suppressMessages(matching(a ~ x, data = sb2))
  km <- survival_ipw(Surv(time, event) ~ a, data = sb2, weight_model = m, se = "none")
  expect_null(causallib:::boot_description(km))
  custom <- ipw(a ~ x, data = sb2, learner = glm_custom())
  km <- survival_ipw(Surv(time, event) ~ a, data = sb2, weight_model = custom, se = "none")
  expect_null(causallib:::boot_description(km))
  expect_error(causallib:::bootstrap_replicates(km, matrix(1L, nrow(sb2), 1L), engine = "c"),
               "engine")
})

test_that("ffi_survival_bootstrap rejects malformed input without crashing", {
  fit <- sb_fit("pooled_logistic T-learner, censoring model")$fit
  desc <- causallib:::boot_description(fit)
  call <- function(...) {
    args <- desc$args
    new <- list(...)
    args[names(new)] <- new
    args$counts <- args$counts %||% matrix(1L, nrow(sb2), 1L)
    args$nthreads <- 1L
    do.call(.Call, c(list(desc$routine), unname(args)))
  }
  expect_equal(as.vector(call()), as.vector(fit$survival), tolerance = 1e-10)
  expect_error(call(method = 4L), "method")
  expect_error(call(a = replace(desc$args$a, 1, 3L)), "`a` must hold codes 1 to 2")
  expect_error(call(sw = replace(desc$args$sw, 1, -1)), "sw")
  expect_error(call(grid = list(last = desc$args$grid$last)), "`grid` has no element")
  expect_error(call(hazard = list(model = list())), "stratified")
  expect_error(call(counts = matrix(2L, nrow(sb2), 1L)), "sum")
})
