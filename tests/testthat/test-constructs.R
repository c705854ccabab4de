# Reference tests for formula constructs and treatment types: every number
# is compared with lm()/glm()/multinom() + predict() on copies of the data
# with the treatment set to each level (helper-constructs.R). A construct
# that involves the treatment (I(a * x1), log(a + 1), ifelse(a == 1, ...))
# must follow the treatment in the counterfactual copies; offset() terms
# must be kept; the stratified and CATE models see the covariates only.
#
# Tables are one test_that() per row, labelled
#   "<estimator> | <construct> | <treatment type> | <family>",
# so a failure names its case.

tol_lm <- 1e-8    # causallib's C IRLS against lm()
tol_glm <- 1e-7   # against glm() (both converged, different stopping points)
tol_mnl <- 1e-5   # against nnet::multinom()

# ---- case tables ------------------------------------------------------------

# Outcome-model constructs on the simulated data (treatment `a`, covariates
# x1, x2, x3, g, offset columns o and t). `covariates`: the formula of the
# same model with every term involving the treatment dropped (what the
# stratified model fits in each arm).
outcome_constructs <- data.frame(
  construct = c("a", "a:x", "a*x", "I(a*x)", "I(a^2)", "log(a+1)", "ifelse(a==1,x,0)",
                "poly(x,2)", "ns(x,3)", "factor covariate", "offset(o)",
                "a", "a*x", "I(a*x)", "poly(x,2)", "factor covariate",
                "offset(log(t))", "a*x + offset(log(t))", "I(a*x) + offset(log(t))",
                "log(a+1) + offset(log(t))"),
  family = c(rep("gaussian", 11), rep("binomial", 5), rep("poisson", 4)),
  rhs = c("a + x1 + x2", "a + a:x1 + x2", "a * x1 + x2", "a + I(a * x1) + x1 + x2",
          "a + I(a^2) + x1 + x2", "log(a + 1) + x1 + x2", "a + ifelse(a == 1, x1, 0) + x2",
          "a + poly(x1, 2) + x2", "a + splines::ns(x3, 3) + x2", "a + x1 + g",
          "a + x1 + x2 + offset(o)",
          "a + x1 + x2", "a * x1 + x2", "a + I(a * x1) + x1 + x2", "a + poly(x1, 2) + x2",
          "a + x1 + g",
          "a + x1 + x2 + offset(log(t))", "a * x1 + x2 + offset(log(t))",
          "a + I(a * x1) + x1 + x2 + offset(log(t))", "log(a + 1) + x1 + x2 + offset(log(t))"),
  covariates = c("x1 + x2", "x2", "x1 + x2", "x1 + x2", "x1 + x2", "x1 + x2", "x2",
                 "poly(x1, 2) + x2", "splines::ns(x3, 3) + x2", "x1 + g", "x1 + x2 + offset(o)",
                 "x1 + x2", "x1 + x2", "x1 + x2", "poly(x1, 2) + x2", "x1 + g",
                 "x1 + x2 + offset(log(t))", "x1 + x2 + offset(log(t))",
                 "x1 + x2 + offset(log(t))", "x1 + x2 + offset(log(t))"),
  # numeric functions of the treatment only for numeric treatments; I(a^2)
  # only with three levels (for 0/1 it is a itself, an aliased column)
  types = c("all", "all", "all", "numeric", "tri", "numeric", "numeric",
            "all", "all", "all", "all",
            "all", "all", "numeric", "all", "all",
            "all", "all", "numeric", "numeric"),
  stringsAsFactors = FALSE
)
outcome_lhs <- c(gaussian = "y", binomial = "yb", poisson = "count")

# Outcome models on lalonde (treatment `treat`, recoded to each type).
lalonde_constructs <- data.frame(
  construct = c("I(treat*age)", "treat*age + factor", "poly + factor", "I(treat*age)",
                "offset(o)"),
  family = c("gaussian", "gaussian", "gaussian", "binomial", "gaussian"),
  formula = c("re78 ~ treat + I(treat * age) + educ",
              "re78 ~ treat * age + educ + race + married",
              "re78 ~ treat + poly(age, 2) + educ + race + nodegree + re74 + re75",
              "employed78 ~ treat + I(treat * age) + age + educ + married",
              "re78 ~ treat + age + educ + offset(1000 * o)"),
  covariates = c("re78 ~ educ", "re78 ~ age + educ + race + married",
                 "re78 ~ poly(age, 2) + educ + race + nodegree + re74 + re75",
                 "employed78 ~ age + educ + married", "re78 ~ age + educ + offset(1000 * o)"),
  types = c("numeric", "all", "all", "numeric", "all"),
  stringsAsFactors = FALSE
)
lalonde_types <- c("bin", "fac2", "lgl", "chr")

# The bundled nhefs, sparingly: one outcome and one propensity case.
nhefs_outcome_case <- list(
  label = "nhefs | I(qsmk*smokeintensity) | bin | gaussian", source = "nhefs", type = "bin",
  treatment = "qsmk", family = "gaussian",
  formula = wt82_71 ~ qsmk + I(qsmk * smokeintensity) + smokeintensity + sex + race + age +
    education + wt71,
  covariates = wt82_71 ~ smokeintensity + sex + race + age + education + wt71)

expand_types <- function(types, available) {
  switch(types, all = available, numeric = intersect(numeric_types, available), types)
}

# One row per (construct, treatment type, family): data, treatment name,
# formula, covariate formula, learner.
outcome_cases <- local({
  rows <- list()
  for (i in seq_len(nrow(outcome_constructs))) {
    r <- outcome_constructs[i, ]
    for (type in expand_types(r$types, all_types)) {
      rows[[length(rows) + 1L]] <- list(
        label = paste(r$construct, type, r$family, sep = " | "), source = "sim", type = type,
        treatment = "a", family = r$family,
        formula = stats::as.formula(paste(outcome_lhs[[r$family]], "~", r$rhs)),
        covariates = stats::as.formula(paste(outcome_lhs[[r$family]], "~", r$covariates)))
    }
  }
  for (i in seq_len(nrow(lalonde_constructs))) {
    r <- lalonde_constructs[i, ]
    for (type in expand_types(r$types, lalonde_types)) {
      rows[[length(rows) + 1L]] <- list(
        label = paste("lalonde", r$construct, type, r$family, sep = " | "), source = "lalonde",
        type = type, treatment = "treat", family = r$family,
        formula = stats::as.formula(r$formula), covariates = stats::as.formula(r$covariates))
    }
  }
  c(rows, list(nhefs_outcome_case))
})

case_data <- function(case) {
  switch(case$source,
    lalonde = lalonde_typed(case$type),
    nhefs = nhefs_complete(),
    sim_constructs(case$type))
}

# The learner asked for explicitly only where the default (binomial for a
# 0/1 outcome, gaussian otherwise) is not the family of the case.
case_learner <- function(case) if (case$family == "poisson") lrn_glm("poisson")

case_tolerance <- function(family) if (family == "gaussian") tol_lm else tol_glm

# A matrix of potential outcomes with one column per level, equal to `expected`.
expect_po_matrix <- function(object, expected, tolerance, info) {
  expect_true(is.matrix(object), info = info)
  expect_identical(colnames(object), colnames(expected), info = info)
  expect_equal(unname(as.matrix(object)), unname(expected), tolerance = tolerance, info = info)
}

fit_standardization <- function(case, d, ...) {
  standardization(case$formula, data = d, treatment = !!case$treatment,
                  learner = case_learner(case), ...)
}

# ---- standardization: S-learner -----------------------------------------------

for (case in outcome_cases) {
  test_that(paste("standardization S-learner |", case$label), {
    info <- case$label
    d <- case_data(case)
    lev <- treatment_levels(d[[case$treatment]])
    ref_model <- ref_fit(case$formula, d, case$family)
    ref <- ref_po(ref_model, d, case$treatment, lev)
    new <- d[1:7, ]
    tol <- case_tolerance(case$family)
    fit <- fit_standardization(case, d)
    expect_equal(coef(estimate_outcomes(fit, se = "none")), colMeans(ref),
                 tolerance = tol, info = info)
    expect_po_matrix(predict(fit), ref, tol, info)
    expect_po_matrix(predict(fit, newdata = new), ref_po(ref_model, new, case$treatment, lev),
                     tol, info)
  })
}

# ---- standardization: stratified (T-learner) ------------------------------------

for (case in outcome_cases) {
  test_that(paste("standardization stratified |", case$label), {
    info <- case$label
    d <- case_data(case)
    lev <- treatment_levels(d[[case$treatment]])
    ref <- ref_stratified_po(case$covariates, d, case$treatment, lev, case$family)
    new <- d[1:7, ]
    tol <- case_tolerance(case$family)
    fit <- fit_standardization(case, d, stratified = TRUE)
    expect_equal(coef(estimate_outcomes(fit, se = "none")), colMeans(ref),
                 tolerance = tol, info = info)
    expect_po_matrix(predict(fit), ref, tol, info)
    expect_po_matrix(predict(fit, newdata = new),
                     ref_stratified_po(case$covariates, d, case$treatment, lev, case$family,
                                       newdata = new),
                     tol, info)
  })
}

# ---- standardization: sandwich standard errors -----------------------------------

sandwich_cases <- Filter(function(case) {
  case$label %in% c("a | bin | gaussian", "I(a*x) | bin | gaussian", "I(a*x) | tri | binomial",
                    "log(a+1) | tri | gaussian", "poly(x,2) | fac3 | gaussian",
                    "poly(x,2) | chr | binomial", "a*x | lgl | binomial",
                    "a*x + offset(log(t)) | fac2 | poisson",
                    "I(a*x) + offset(log(t)) | bin | poisson",
                    "lalonde | I(treat*age) | bin | gaussian")
}, outcome_cases)

test_that("the sandwich table names existing cases", {
  expect_length(sandwich_cases, 10)
})

for (case in sandwich_cases) {
  test_that(paste("standardization sandwich SE |", case$label), {
    d <- case_data(case)
    lev <- treatment_levels(d[[case$treatment]])
    ref <- ref_sandwich_se(ref_fit(case$formula, d, case$family), d, case$treatment, lev)
    fit <- fit_standardization(case, d)
    se <- sqrt(diag(vcov(estimate_outcomes(fit, se = "sandwich"))))
    expect_equal(se, ref, tolerance = 1e-6, info = case$label)
  })
}

# ---- ipw(): propensity constructs and treatment types ---------------------------

ipw_constructs <- data.frame(
  construct = c("offset(o)", "poly + ns + factor", "offset(o)", "poly + ns + factor"),
  source = c("sim", "sim", "lalonde", "lalonde"),
  formula = c("a ~ x1 + x2 + offset(o)", "a ~ poly(x1, 2) + splines::ns(x3, 3) + g",
              "treat ~ age + educ + race + married + re74 + offset(o)",
              "treat ~ poly(age, 2) + splines::ns(educ, 3) + race + nodegree + re75"),
  outcome = c("y", "y", "re78", "re78"),
  # nnet::multinom() takes no vector offset: offsets with two levels only
  types = c("binary", "all", "all", "all"),
  stringsAsFactors = FALSE
)

ipw_cases <- local({
  rows <- list()
  for (i in seq_len(nrow(ipw_constructs))) {
    r <- ipw_constructs[i, ]
    available <- if (r$source == "lalonde") lalonde_types else all_types
    types <- if (r$types == "binary") available[treatment_arity[available] == 2L] else available
    for (type in types) {
      rows[[length(rows) + 1L]] <- list(
        label = paste(c(if (r$source == "lalonde") "lalonde", r$construct, type), collapse = " | "),
        source = r$source, type = type, treatment = all.vars(stats::as.formula(r$formula))[1L],
        formula = stats::as.formula(r$formula), outcome = r$outcome)
    }
  }
  c(rows, list(list(
    label = "nhefs | poly + ns + factor | bin", source = "nhefs", type = "bin",
    treatment = "qsmk", outcome = "wt82_71",
    formula = qsmk ~ poly(age, 2) + splines::ns(smokeintensity, 3) + sex + race + education)))
})

for (case in ipw_cases) {
  test_that(paste("ipw |", case$label), {
    info <- case$label
    d <- case_data(case)
    a <- d[[case$treatment]]
    lev <- treatment_levels(a)
    n <- nrow(d)
    P <- ref_propensity(case$formula, d, case$treatment)
    tol <- if (length(lev) > 2L) tol_mnl else tol_glm
    w_ref <- 1 / P[cbind(seq_len(n), match(as.character(a), lev))]
    fit <- ipw(case$formula, data = d)
    expect_equal(weights(fit), w_ref, tolerance = tol, info = info)
    expect_po_matrix(predict(fit, type = "propensity"), P, tol, info)
    expect_po_matrix(predict(fit, newdata = d[1:7, ], type = "propensity"), P[1:7, , drop = FALSE],
                     tol, info)
    expect_equal(coef(estimate_outcomes(fit, outcome = !!case$outcome, se = "none")),
                 hajek_means(d[[case$outcome]], w_ref, a, lev), tolerance = tol, info = info)
  })
}

# ---- matching(): the propensity model keeps its offset ----------------------------

matching_cases <- c(
  lapply(c("bin", "fac2", "lgl", "chr"), function(type) {
    list(label = paste("offset(o) |", type), source = "sim", type = type, treatment = "a",
         formula = a ~ x1 + x2 + offset(o))
  }),
  list(list(label = "lalonde | offset(o) | bin", source = "lalonde", type = "bin",
            treatment = "treat", formula = treat ~ age + educ + race + offset(o)))
)

for (case in matching_cases) {
  test_that(paste("matching propensity |", case$label), {
    d <- case_data(case)
    P <- ref_propensity(case$formula, d, case$treatment)
    # the last level is the treated one (labelled treatments must say so)
    fit <- matching(case$formula, data = d, treated = levels(factor(d[[case$treatment]]))[2L])
    expect_po_matrix(predict(fit, type = "propensity"), P, tol_glm, case$label)
    expect_equal(unname(fit$propensity), unname(P), tolerance = tol_glm, info = case$label)
  })
}

# ---- doubly robust estimators from standardization() + ipw() ----------------------

# The weight models have a covariate the outcome model lacks (x3, re75), so
# that the propensity feature of ps_standardization() is not a linear
# combination of the outcome model's columns.
dr_cases <- list(
  list(label = "I(a*x) | bin", source = "sim", type = "bin", treatment = "a",
       outcome = y ~ a + I(a * x1) + x1 + x2, weight = a ~ x1 + x2 + x3),
  list(label = "log(a+1) | bin", source = "sim", type = "bin", treatment = "a",
       outcome = y ~ log(a + 1) + x1 + x2 + g, weight = a ~ x1 + x2 + g + x3),
  list(label = "I(a*x) | tri", source = "sim", type = "tri", treatment = "a",
       outcome = y ~ a + I(a * x1) + x1 + x2, weight = a ~ x1 + x2 + x3),
  list(label = "log(a+1) | tri", source = "sim", type = "tri", treatment = "a",
       outcome = y ~ log(a + 1) + x1 + x2, weight = a ~ x1 + x2 + x3),
  list(label = "a*x | chr", source = "sim", type = "chr", treatment = "a",
       outcome = y ~ a * x1 + x2, weight = a ~ x1 + x2 + x3),
  list(label = "poly + factor | fac3", source = "sim", type = "fac3", treatment = "a",
       outcome = y ~ a + poly(x1, 2) + g, weight = a ~ poly(x1, 2) + g + x3),
  list(label = "lalonde | I(treat*age) | bin", source = "lalonde", type = "bin",
       treatment = "treat", outcome = re78 ~ treat + I(treat * age) + educ + race,
       weight = treat ~ age + educ + race + re74 + re75)
)
dr_methods <- list(aipw = aipw, tmle = tmle, weighted_standardization = weighted_standardization,
                   ps_standardization = ps_standardization)

for (case in dr_cases) {
  for (method in names(dr_methods)) {
    test_that(paste(method, "|", case$label), {
      info <- paste(method, case$label)
      d <- case_data(case)
      lev <- treatment_levels(d[[case$treatment]])
      ref <- ref_dr_means(method, case$outcome, case$weight, d, case$treatment)
      tol <- if (method == "tmle") 1e-6 else if (length(lev) > 2L) tol_mnl else tol_glm
      om <- standardization(case$outcome, data = d, treatment = !!case$treatment)
      wm <- ipw(case$weight, data = d)
      fit <- dr_methods[[method]](om, wm)
      expect_equal(coef(estimate_outcomes(fit, se = "none")), ref, tolerance = tol, info = info)
    })
  }
}

for (type in c("bin", "tri", "chr")) {
  test_that(paste("aipw formula form | I(a*x) |", type), {
    d <- sim_constructs(type)
    f <- if (type == "chr") y ~ a + I((a == "treated") * x1) + x2 else y ~ a + I(a * x1) + x2
    ref <- ref_dr_means("aipw", f, a ~ x1 + x2, d, "a")
    tol <- if (type == "tri") tol_mnl else tol_glm
    fit <- aipw(f, weight_model = a ~ x1 + x2, data = d, treatment = a)
    expect_equal(coef(estimate_outcomes(fit, se = "none")), ref, tolerance = tol, info = type)
  })
}

# ---- CATE learners see the covariates only ----------------------------------------

cate_cases <- list(
  list(label = "xlearner | I(a*x) | bin", learner = "xlearner", type = "bin",
       with = y ~ a + I(a * x1) + x1 + x2, without = y ~ a + x1 + x2),
  list(label = "xlearner | I(a*x) | tri", learner = "xlearner", type = "tri",
       with = y ~ a + I(a * x1) + x1 + x2, without = y ~ a + x1 + x2),
  list(label = "xlearner | log(a+1) | bin", learner = "xlearner", type = "bin",
       with = y ~ log(a + 1) + x1 + x2, without = y ~ a + x1 + x2),
  list(label = "xlearner | ifelse(a==1,x,0) | bin", learner = "xlearner", type = "bin",
       with = y ~ a + ifelse(a == 1, x1, 0) + x1 + x2, without = y ~ a + x1 + x2),
  list(label = "xlearner | a*x | fac3", learner = "xlearner", type = "fac3",
       with = y ~ a * x1 + x2, without = y ~ a + x1 + x2),
  list(label = "xlearner | a*x | chr", learner = "xlearner", type = "chr",
       with = y ~ a * x1 + x2, without = y ~ a + x1 + x2),
  list(label = "rlearner | I(a*x) | bin", learner = "rlearner", type = "bin",
       with = y ~ a + I(a * x1) + x1 + x2, without = y ~ a + x1 + x2),
  list(label = "rlearner | log(a+1) | bin", learner = "rlearner", type = "bin",
       with = y ~ log(a + 1) + x1 + x2, without = y ~ a + x1 + x2),
  list(label = "rlearner | a*x | lgl", learner = "rlearner", type = "lgl",
       with = y ~ a * x1 + x2, without = y ~ a + x1 + x2)
)

for (case in cate_cases) {
  test_that(paste("CATE |", case$label), {
    d <- sim_constructs(case$type)
    learner <- get(case$learner, envir = asNamespace("causallib"))
    fit_cate <- function(f) {
      set.seed(17)
      learner(f, data = d, treatment = a)
    }
    with <- fit_cate(case$with)
    without <- fit_cate(case$without)
    expect_equal(predict(with), predict(without), tolerance = 1e-10, info = case$label)
    expect_equal(predict(with, newdata = d[1:7, ]), predict(without, newdata = d[1:7, ]),
                 tolerance = 1e-10, info = case$label)
    expect_equal(coef(estimate_effect(with, se = "none")),
                 coef(estimate_effect(without, se = "none")), tolerance = 1e-10, info = case$label)
  })
}

# ---- input that must work, and input that must be refused -------------------------

for (type in c("bin", "fac3", "chr")) {
  test_that(paste("y ~ . works in standardization() |", type), {
    d <- sim_constructs(type)[, c("y", "a", "x1", "x2")]
    lev <- treatment_levels(d$a)
    ref_model <- lm(y ~ ., data = d)
    ref <- ref_po(ref_model, d, "a", lev)
    fit <- standardization(y ~ ., data = d, treatment = a)
    expect_po_matrix(predict(fit), ref, tol_lm, type)
    expect_equal(coef(estimate_outcomes(fit, se = "none")), colMeans(ref),
                 tolerance = tol_lm, info = type)
    strat <- standardization(y ~ ., data = d, treatment = a, stratified = TRUE)
    expect_po_matrix(predict(strat), ref_stratified_po(y ~ x1 + x2, d, "a", lev), tol_lm, type)
  })
}

test_that("a character treatment works in standardization(), ipw() and aipw()", {
  d <- lalonde_typed("chr")
  lev <- c("control", "treated")
  f <- re78 ~ treat + age + educ + race
  ref <- ref_po(lm(f, data = d), d, "treat", lev)
  om <- standardization(f, data = d, treatment = treat)
  expect_equal(coef(estimate_outcomes(om, se = "none")), colMeans(ref), tolerance = tol_lm)
  wm <- ipw(treat ~ age + educ + race, data = d)
  expect_identical(colnames(predict(wm)), lev)
  expect_equal(coef(estimate_outcomes(aipw(om, wm), se = "none")),
               ref_dr_means("aipw", f, treat ~ age + educ + race, d, "treat"),
               tolerance = tol_glm)
  effect <- estimate_effect(aipw(f, weight_model = treat ~ age + educ + race, data = d,
                                 treatment = treat))
  expect_identical(names(coef(effect)), "treated vs control")
})

test_that("treatment = factor(a) is refused with a message naming the expression", {
  d <- sim_constructs("bin")
  fronts <- list(
    standardization = function() standardization(y ~ a + x1, data = d, treatment = factor(a)),
    xlearner = function() xlearner(y ~ a + x1, data = d, treatment = factor(a)),
    aipw = function() aipw(y ~ a + x1, weight_model = a ~ x1, data = d, treatment = factor(a))
  )
  for (name in names(fronts)) {
    err <- expect_error(fronts[[name]](), class = "rlang_error", info = name)
    expect_match(conditionMessage(err), "factor(a)", fixed = TRUE, info = name)
    expect_match(conditionMessage(err), "variable", ignore.case = TRUE, info = name)
  }
})

test_that("an unknown argument to a doubly robust or CATE front end is an error", {
  d <- sim_constructs("bin")
  fronts <- list(
    aipw = function(...) aipw(y ~ a + x1, weight_model = a ~ x1, data = d, treatment = a, ...),
    tmle = function(...) tmle(y ~ a + x1, weight_model = a ~ x1, data = d, treatment = a, ...),
    weighted_standardization = function(...) {
      weighted_standardization(y ~ a + x1, weight_model = a ~ x1, data = d, treatment = a, ...)
    },
    ps_standardization = function(...) {
      ps_standardization(y ~ a + x1, weight_model = a ~ x1, data = d, treatment = a, ...)
    }
  )
  # no `...` in any front end: R's own "unused argument" error names it
  for (name in names(fronts)) {
    expect_error(fronts[[name]](crosfit = 5), regexp = "unused argument.*crosfit", info = name)
  }
  expect_error(rlearner(y ~ a + x1, data = d, treatment = a, crosfit = 3), regexp = "crosfit")
})

test_that("weights = in the formula form of the doubly robust estimators weight both models", {
  d <- sim_constructs("bin")
  for (name in names(dr_methods)) {
    f <- dr_methods[[name]]
    formula_form <- f(y ~ a + I(a * x1) + x2, weight_model = a ~ x1 + x2, data = d,
                      treatment = a, weights = d$w)
    fitted_form <- f(standardization(y ~ a + I(a * x1) + x2, data = d, treatment = a,
                                     weights = d$w),
                     ipw(a ~ x1 + x2, data = d, weights = d$w))
    expect_equal(coef(estimate_outcomes(formula_form, se = "none")),
                 coef(estimate_outcomes(fitted_form, se = "none")), tolerance = 1e-10,
                 info = name)
  }
})

test_that("non-logical flags are refused, naming the argument", {
  d <- sim_constructs("bin")
  expect_error(ipw(a ~ x1, data = d, stabilize = "yes"), regexp = "stabilize",
               class = "rlang_error")
  expect_error(standardization(y ~ a + x1, data = d, treatment = a, stratified = "yes"),
               regexp = "stratified", class = "rlang_error")
})

test_that("estimate_effect() on a matching fit works with its default se", {
  d <- lalonde_typed()
  fit <- matching(treat ~ age + educ, data = d)
  expect_identical(estimate_effect(fit, outcome = re78)$se_type, "sandwich")
  fit <- matching(treat ~ age + educ, data = d, replace = TRUE)
  set.seed(2)
  eff <- estimate_effect(fit, outcome = re78, R = 20)
  expect_s3_class(eff, "causal_estimate")
  expect_identical(eff$se_type, "bootstrap")
  expect_equal(nrow(eff$replicates), 20)
  expect_true(is.finite(tidy(eff)$std.error))
  # the matched difference in means, from the weights
  w <- weights(fit)
  expect_equal(unname(coef(eff)),
               weighted.mean(d$re78[d$treat == 1], w[d$treat == 1]) -
                 weighted.mean(d$re78[d$treat == 0], w[d$treat == 0]),
               tolerance = 1e-10)
})
