# Invariants of the internal model interface that every model class answers:
#
#   causallib:::refit(fit, case_weights = NULL, rows = NULL, learner = NULL)
#     the same class refitted on `rows` (indices into the fitted units) with
#     the sampling weights multiplied by `case_weights`, optionally with
#     another learner;
#   causallib:::bootstrap_replicates(fit, counts, outcome = NULL, engine = "auto")
#     the R x K matrix of the statistic of each column of the n x R
#     frequency counts: the potential-outcome means (K levels), or for the
#     CATE models the average effects (K - 1 contrasts), the same numbers as
#     estimate_outcomes() / estimate_effect(); engine "c" forces the C path
#     (an error for a model without one) and "r" the R refit path.
#
# For weight models the outcome is given to bootstrap_replicates() as the
# numeric vector of the fitted units' outcomes.
#
# Invariants, one test_that() per model and invariant, labelled
# "<invariant> | <model>":
#   1. refit() with unit case weights reproduces the fit (and refit() on
#      rows equals the pipeline on those rows);
#   2. the bootstrap statistic at counts = 1 is the point estimate;
#   3. the C and R engines agree (models with a C path);
#   4. each replicate equals the public pipeline refitted from scratch on
#      the expanded data d[rep(seq_len(n), counts[, r]), ] (also checked
#      through the public se = "bootstrap", which draws its counts with
#      bootstrap_counts());
#   5. results are identical with 1 and 2 threads, and invariant to the
#      scale of the sampling weights (times 1000, times 1e-300, the largest
#      1e300), for the formula and the matrix interfaces;
#   6. refit() with another learner equals fitting with it from scratch.

tol_exact <- 1e-10
tol_refit <- 1e-8

# ---- the models ---------------------------------------------------------------

# build(d, weights, learner): the public pipeline on data d. kind: "weight"
# (its statistic needs the outcome y), "outcome" or "cate". c_path: has a C
# bootstrap engine. sandwich: has sandwich (or influence-function) standard
# errors. alt_learner: the learner of invariant 6, for models with one
# learner. The rlearner draws its folds inside a fixed seed.
std_formula <- y ~ a * x1 + x2 + g
ps_formula <- a ~ x1 + x2 + g

ipw_model <- function(...) {
  args <- list(...)
  list(kind = "weight", c_path = TRUE, sandwich = TRUE, alt_learner = lrn_glm(penalty = 1),
       build = function(d, weights = NULL, learner = lrn_glm()) {
         do.call(ipw, c(list(ps_formula, data = d, weights = weights, learner = learner), args))
       })
}
matching_model <- function(...) {
  args <- list(...)
  list(kind = "weight", c_path = FALSE, sandwich = FALSE, alt_learner = lrn_glm(penalty = 1),
       build = function(d, weights = NULL, learner = lrn_glm()) {
         suppressMessages(do.call(matching, c(list(a ~ x1 + x2, data = d, weights = weights,
                                                   learner = learner), args)))
       })
}
dr_model <- function(method, weight = "ipw", estimand = "ATE") {
  list(kind = "outcome", c_path = method == "aipw" && weight == "ipw" && estimand == "ATE",
       sandwich = method %in% c("aipw", "tmle"), alt_learner = NULL,
       build = function(d, weights = NULL, learner = NULL) {
         om <- standardization(std_formula, data = d, treatment = a, weights = weights)
         wm <- if (weight == "ipw") {
           ipw(ps_formula, data = d, weights = weights, estimand = estimand)
         } else {
           suppressMessages(matching(a ~ x1 + x2, data = d, weights = weights))
         }
         get(method, envir = asNamespace("causallib"))(om, wm)
       })
}

interface_models <- list(
  "ipw ATE" = ipw_model(),
  "ipw ATT" = ipw_model(estimand = "ATT"),
  "ipw ATO" = ipw_model(estimand = "ATO"),
  "ipw stabilized" = ipw_model(stabilize = TRUE),
  "ipw truncated" = ipw_model(truncate = 0.95),
  "ipw 3 levels" = c(ipw_model(), list(type = "fac3")),
  "matching ATT with replacement" = matching_model(),
  "matching ATT without replacement" = matching_model(replace = FALSE),
  "matching caliper" = matching_model(caliper = 0.1),
  "standardization S-learner" = list(
    kind = "outcome", c_path = TRUE, sandwich = TRUE,
    alt_learner = lrn_glm("gaussian", penalty = 1),
    build = function(d, weights = NULL, learner = NULL) {
      standardization(std_formula, data = d, treatment = a, weights = weights, learner = learner)
    }),
  "standardization T-learner" = list(
    kind = "outcome", c_path = TRUE, sandwich = TRUE,
    alt_learner = lrn_glm("gaussian", penalty = 1),
    build = function(d, weights = NULL, learner = NULL) {
      standardization(std_formula, data = d, treatment = a, stratified = TRUE, weights = weights,
                      learner = learner)
    }),
  "standardization binomial" = list(
    kind = "outcome", c_path = TRUE, sandwich = TRUE,
    alt_learner = lrn_glm("binomial", penalty = 1),
    build = function(d, weights = NULL, learner = NULL) {
      standardization(yb ~ a + x1 + x2, data = d, treatment = a, weights = weights,
                      learner = learner)
    }),
  "standardization ATT" = list(
    kind = "outcome", c_path = FALSE, sandwich = TRUE,
    alt_learner = lrn_glm("gaussian", penalty = 1),
    build = function(d, weights = NULL, learner = NULL) {
      standardization(std_formula, data = d, treatment = a, weights = weights, learner = learner,
                      estimand = "ATT")
    }),
  "standardization T-learner ATC" = list(
    kind = "outcome", c_path = FALSE, sandwich = TRUE,
    alt_learner = lrn_glm("gaussian", penalty = 1),
    build = function(d, weights = NULL, learner = NULL) {
      standardization(std_formula, data = d, treatment = a, stratified = TRUE, weights = weights,
                      learner = learner, estimand = "ATC")
    }),
  "marginal_outcome" = list(
    kind = "outcome", c_path = FALSE, sandwich = TRUE, alt_learner = NULL,
    build = function(d, weights = NULL, learner = NULL) {
      marginal_outcome(y ~ a, data = d, weights = weights)
    }),
  "aipw" = dr_model("aipw"),
  "tmle" = dr_model("tmle"),
  "aipw ATT" = dr_model("aipw", estimand = "ATT"),
  "tmle ATC" = dr_model("tmle", estimand = "ATC"),
  "weighted_standardization with ipw" = dr_model("weighted_standardization"),
  "weighted_standardization with matching" = dr_model("weighted_standardization", "matching"),
  "ps_standardization" = dr_model("ps_standardization"),
  "xlearner" = list(
    kind = "cate", c_path = FALSE, sandwich = FALSE, alt_learner = NULL,
    build = function(d, weights = NULL, learner = NULL) {
      xlearner(y ~ a + x1 + x2, data = d, treatment = a, weights = weights)
    }),
  "rlearner" = list(
    kind = "cate", c_path = FALSE, sandwich = FALSE, alt_learner = NULL, crossfit = TRUE,
    build = function(d, weights = NULL, learner = NULL) {
      withr::with_seed(11, rlearner(y ~ a + x1 + x2, data = d, treatment = a, crossfit = 3,
                                    weights = weights))
    })
)

model_data <- function(spec, n = 300) {
  sim_constructs(if (is.null(spec$type)) "bin" else spec$type, n = n, seed = 5)
}

# The statistic of a fit, as the public functions give it. A weight model
# takes its outcome by name from its data, or (matrix fits) as a vector.
point_estimate <- function(fit, spec, outcome = "y") {
  switch(spec$kind,
    weight = coef(estimate_outcomes(fit, outcome = !!outcome, se = "none")),
    outcome = coef(estimate_outcomes(fit, se = "none")),
    cate = coef(estimate_effect(fit, se = "none")))
}

standard_error <- function(fit, spec, outcome = "y") {
  est <- if (spec$kind == "weight") {
    estimate_outcomes(fit, outcome = !!outcome, se = "sandwich")
  } else {
    estimate_outcomes(fit, se = "sandwich")
  }
  sqrt(diag(vcov(est)))
}

public_replicates <- function(fit, spec, R, outcome = "y") {
  switch(spec$kind,
    weight = estimate_outcomes(fit, outcome = !!outcome, se = "bootstrap", R = R)$replicates,
    outcome = estimate_outcomes(fit, se = "bootstrap", R = R)$replicates,
    cate = estimate_effect(fit, se = "bootstrap", R = R)$replicates)
}

# The unit-level output of a fit: predictions, and a weight model's weights.
unit_output <- function(fit, spec) {
  list(predict = predict(fit), weights = if (spec$kind == "weight") weights(fit))
}

outcome_arg <- function(d, spec) if (spec$kind == "weight") d$y

# Cross-fitted models draw their folds from R's RNG: the same seed before
# the fit and before its refits, so that refits reusing the fit's folds and
# refits drawing new ones (of the same n) agree.
with_fold_seed <- function(spec, expr) {
  if (isTRUE(spec$crossfit)) withr::with_seed(11, expr) else expr
}

expect_statistic <- function(reps, expected, tolerance, info) {
  expect_true(is.matrix(reps), info = info)
  expect_equal(ncol(reps), length(expected), info = info)
  expect_equal(unname(reps[1L, ]), unname(expected), tolerance = tolerance, info = info)
}

# ---- 1. refit() with unit case weights reproduces the fit ----------------------

for (name in names(interface_models)) {
  spec <- interface_models[[name]]
  test_that(paste("1. refit with unit case weights |", name), {
    d <- model_data(spec)
    fit <- spec$build(d)
    re <- with_fold_seed(spec, causallib:::refit(fit, case_weights = rep(1, nrow(d))))
    expect_identical(class(re), class(fit), info = name)
    expect_equal(point_estimate(re, spec), point_estimate(fit, spec), tolerance = tol_exact,
                 info = name)
    expect_equal(unit_output(re, spec), unit_output(fit, spec), tolerance = tol_exact, info = name)
  })
}

for (name in names(interface_models)) {
  spec <- interface_models[[name]]
  if (isTRUE(spec$crossfit)) next  # folds of a subset cannot be those of the fit
  test_that(paste("1. refit on rows equals the pipeline on those rows |", name), {
    d <- model_data(spec)
    fit <- spec$build(d)
    rows <- seq(1L, nrow(d), by = 2L)
    re <- causallib:::refit(fit, rows = rows)
    expect_equal(point_estimate(re, spec), point_estimate(spec$build(d[rows, ]), spec),
                 tolerance = tol_exact, info = name)
  })
}

# ---- 2. the bootstrap statistic at counts = 1 is the point estimate ---------------

for (name in names(interface_models)) {
  spec <- interface_models[[name]]
  test_that(paste("2. bootstrap statistic at counts = 1 |", name), {
    d <- model_data(spec)
    fit <- spec$build(d)
    counts <- matrix(1L, nrow(d), 1L)
    reps <- with_fold_seed(spec, causallib:::bootstrap_replicates(fit, counts,
                                                                  outcome = outcome_arg(d, spec)))
    expect_equal(nrow(reps), 1L, info = name)
    expect_statistic(reps, point_estimate(fit, spec), tol_refit, name)
  })
}

# ---- 3. the C and R engines agree ------------------------------------------------

for (name in names(interface_models)) {
  spec <- interface_models[[name]]
  test_that(paste("3. C and R bootstrap engines |", name), {
    d <- model_data(spec)
    fit <- spec$build(d)
    withr::local_seed(3)
    counts <- causallib:::bootstrap_counts(nrow(d), 3)
    y <- outcome_arg(d, spec)
    if (spec$c_path) {
      c_reps <- causallib:::bootstrap_replicates(fit, counts, outcome = y, engine = "c")
      r_reps <- causallib:::bootstrap_replicates(fit, counts, outcome = y, engine = "r")
      expect_equal(dim(c_reps), c(3L, length(point_estimate(fit, spec))), info = name)
      expect_equal(c_reps, r_reps, tolerance = tol_refit, info = name)
    } else {
      expect_error(causallib:::bootstrap_replicates(fit, counts, outcome = y, engine = "c"),
                   regexp = "engine", class = "rlang_error", info = name)
    }
  })
}

# ---- 4. replicates equal the pipeline refitted on the expanded data ----------------

# The R-learner's folds of the expanded data (duplicated units) cannot be
# those of a weighted refit, so it has no such reference.
cross_fitted <- vapply(interface_models, function(s) isTRUE(s$crossfit), logical(1))
expanded_models <- names(interface_models)[!cross_fitted]

expanded_reference <- function(spec, d, counts) {
  out <- lapply(seq_len(ncol(counts)), function(r) {
    db <- d[rep(seq_len(nrow(d)), counts[, r]), ]
    unname(point_estimate(spec$build(db), spec))
  })
  do.call(rbind, out)
}

for (name in expanded_models) {
  spec <- interface_models[[name]]
  test_that(paste("4. replicates equal refits on the expanded data |", name), {
    d <- model_data(spec)
    fit <- spec$build(d)
    withr::local_seed(4)
    counts <- causallib:::bootstrap_counts(nrow(d), 2)
    reps <- causallib:::bootstrap_replicates(fit, counts, outcome = outcome_arg(d, spec))
    expect_equal(unname(reps), expanded_reference(spec, d, counts), tolerance = tol_refit,
                 info = name)
  })
}

for (name in expanded_models) {
  spec <- interface_models[[name]]
  test_that(paste("4. public bootstrap replicates equal refits on the expanded data |", name), {
    d <- model_data(spec)
    fit <- spec$build(d)
    set.seed(4)
    reps <- public_replicates(fit, spec, R = 2)
    set.seed(4)
    counts <- causallib:::bootstrap_counts(nrow(d), 2)
    expect_equal(unname(reps), expanded_reference(spec, d, counts), tolerance = tol_refit,
                 info = name)
  })
}

# ---- 5. threads and the scale of the sampling weights --------------------------------

# n large enough for the C cross-products to split rows between threads.
for (name in names(interface_models)) {
  spec <- interface_models[[name]]
  test_that(paste("5. identical results with 1 and 2 threads |", name), {
    d <- model_data(spec, n = 9000)
    run <- function(threads) {
      withr::local_options(causallib.threads = threads)
      fit <- spec$build(d)
      set.seed(6)
      list(estimate = point_estimate(fit, spec),
           se = if (spec$sandwich) standard_error(fit, spec),
           replicates = public_replicates(fit, spec, R = 2))
    }
    expect_identical(run(1), run(2), info = name)
  })
}

# The matrix interfaces run the same engines; they join the models of the
# scale invariance, where the weights enter.
matrix_covariates <- function(d) {
  cbind(x1 = d$x1, x2 = d$x2, south = as.numeric(d$g == "south"), east = as.numeric(d$g == "east"))
}
matrix_models <- list(
  "ipw_fit" = list(kind = "weight", sandwich = TRUE, build = function(d, weights = NULL) {
    ipw_fit(matrix_covariates(d), d$a, weights = weights)
  }),
  "matching_fit" = list(kind = "weight", sandwich = FALSE, build = function(d, weights = NULL) {
    suppressMessages(matching_fit(cbind(1, matrix_covariates(d)), d$a, weights = weights))
  }),
  "standardization_fit" = list(kind = "outcome", sandwich = TRUE, build = function(d, weights = NULL) {
    standardization_fit(matrix_covariates(d), d$a, d$y, weights = weights)
  }),
  "marginal_outcome_fit" = list(kind = "outcome", sandwich = TRUE, build = function(d, weights = NULL) {
    marginal_outcome_fit(d$y, d$a, weights = weights)
  }),
  "xlearner_fit" = list(kind = "cate", sandwich = FALSE, build = function(d, weights = NULL) {
    xlearner_fit(matrix_covariates(d), d$a, d$y, weights = weights)
  }),
  "rlearner_fit" = list(kind = "cate", sandwich = FALSE, build = function(d, weights = NULL) {
    withr::with_seed(11, rlearner_fit(matrix_covariates(d), d$a, d$y, crossfit = 3, weights = weights))
  })
)

# Sampling weights are rescaled to mean 1 before any model sees them, so
# estimates, standard errors and bootstrap replicates are those of the
# weights w at any scale: moderate, tiny (each w times 1e-300, still normal
# doubles) and huge (the largest 1e300, whose sum and squares overflow).
weight_scales <- list(
  "times 1000" = function(w) 1000 * w,
  "times 1e-300" = function(w) w * 1e-300,
  "largest 1e300" = function(w) w * (1e300 / max(w))
)
scale_models <- c(interface_models, matrix_models)

for (name in names(scale_models)) {
  spec <- scale_models[[name]]
  for (scale in names(weight_scales)) {
    test_that(paste("5. invariant to sampling weights", scale, "|", name), {
      d <- model_data(spec)
      run <- function(w) {
        fit <- spec$build(d, weights = w)
        set.seed(5)
        list(estimate = point_estimate(fit, spec, d$y),
             se = if (spec$sandwich) standard_error(fit, spec, d$y),
             replicates = public_replicates(fit, spec, R = 2, d$y))
      }
      expect_equal(run(weight_scales[[scale]](d$w)), run(d$w), tolerance = tol_exact,
                   info = paste(name, scale))
    })
  }
}

# ---- 6. refit() with another learner --------------------------------------------------

# Models with a single learner; marginal_outcome() has none, and the doubly
# robust and CATE models have one per role.
for (name in names(interface_models)) {
  spec <- interface_models[[name]]
  if (is.null(spec$alt_learner)) next
  test_that(paste("6. refit with another learner |", name), {
    d <- model_data(spec)
    fit <- spec$build(d)
    re <- causallib:::refit(fit, learner = spec$alt_learner)
    scratch <- spec$build(d, learner = spec$alt_learner)
    expect_equal(point_estimate(re, spec), point_estimate(scratch, spec), tolerance = tol_exact,
                 info = name)
    expect_equal(unit_output(re, spec), unit_output(scratch, spec), tolerance = tol_exact,
                 info = name)
    # the other learner changes the fit, so the comparison has teeth
    expect_false(isTRUE(all.equal(unit_output(scratch, spec), unit_output(fit, spec))), info = name)
  })
}
