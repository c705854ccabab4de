# Reference tests for survival models over tables of formula constructs,
# treatment types and data sets.  Every expected value comes from an
# independent reference on raw data (glm() on the person-period table,
# coxph()/survfit(), glm()-derived weights), which re-evaluates every
# variable of a formula on counterfactual data: I(a * x), log(a + 1),
# ifelse(a == 1, x, 0), I(a^2) and offset() follow the treatment.
# Expectations are labelled with their case through `info`.

sim2 <- sim_construct_cohort(300, K = 2, seed = 11)
sim3 <- sim_construct_cohort(360, K = 3, seed = 12)
sim2c <- sim_construct_continuous(300, K = 2, seed = 21)
sim3c <- sim_construct_continuous(360, K = 3, seed = 22)
rott <- rotterdam_cohort(600, seed = 1)
colo <- colon_cohort()

# One case: an id, the data, the hazard formula and extra arguments.
surv_case <- function(id, data, formula, ...) list(id = id, data = data, formula = formula, args = list(...))

expect_curves <- function(fit, ref, case, tolerance) {
  expect_equal(rownames(fit$survival), rownames(ref$survival), info = case)
  expect_equal(fit$times, ref$times, info = case)
  expect_equal(unname(fit$survival), unname(ref$survival), tolerance = tolerance, info = case)
}

pooled_cases <- list(
  surv_case("sim2/numeric: a + x + z", sim2, Surv(time, event) ~ a + x + z),
  surv_case("sim2/numeric: a * x + z", sim2, Surv(time, event) ~ a * x + z),
  surv_case("sim2/numeric: a + x + a:x", sim2, Surv(time, event) ~ a + x + a:x),
  surv_case("sim2/numeric: a + x + I(a * x)", sim2, Surv(time, event) ~ a + x + I(a * x)),
  surv_case("sim2/numeric: a + x + ifelse(a == 1, x, 0)", sim2,
            Surv(time, event) ~ a + x + ifelse(a == 1, x, 0)),
  surv_case("sim2/numeric: a + poly(x, 2) + z", sim2, Surv(time, event) ~ a + poly(x, 2) + z),
  surv_case("sim2/numeric: a + splines::ns(age, 3) + x", sim2,
            Surv(time, event) ~ a + splines::ns(age, 3) + x),
  surv_case("sim2/numeric: a + x + z, time_terms ~ time", sim2, Surv(time, event) ~ a + x + z,
            time_terms = ~ time),
  surv_case("sim2/numeric: a + x + z, sampling weights", sim2, Surv(time, event) ~ a + x + z,
            weights = sim2$w),
  surv_case("sim3/numeric: a + x + I(a^2)", sim3, Surv(time, event) ~ a + x + I(a^2)),
  surv_case("sim3/numeric: a + x + log(a + 1)", sim3, Surv(time, event) ~ a + x + log(a + 1)),
  surv_case("sim3/numeric: log(a + 1) + x (treatment only inside a function)", sim3,
            Surv(time, event) ~ log(a + 1) + x),
  surv_case("sim3/numeric: a * x", sim3, Surv(time, event) ~ a * x),
  surv_case("sim2/factor: a + x + z", recode_treatment(sim2, "factor"), Surv(time, event) ~ a + x + z),
  surv_case("sim2/factor: a * x", recode_treatment(sim2, "factor"), Surv(time, event) ~ a * x),
  surv_case("sim2/factor: a + x + ifelse(a == \"trt\", x, 0)", recode_treatment(sim2, "factor"),
            Surv(time, event) ~ a + x + ifelse(a == "trt", x, 0)),
  surv_case("sim2/logical: a + x", recode_treatment(sim2, "logical"), Surv(time, event) ~ a + x),
  surv_case("sim2/logical: a + x + I(a * x)", recode_treatment(sim2, "logical"),
            Surv(time, event) ~ a + x + I(a * x)),
  surv_case("sim2/character: a + poly(x, 2)", recode_treatment(sim2, "character"),
            Surv(time, event) ~ a + poly(x, 2)),
  surv_case("sim3/character: a + x + z", recode_treatment(sim3, "character"), Surv(time, event) ~ a + x + z),
  surv_case("sim3/character: a + x + ifelse(a == \"C\", x, 0)", recode_treatment(sim3, "character"),
            Surv(time, event) ~ a + x + ifelse(a == "C", x, 0)),
  surv_case("rotterdam/numeric: a + x + z + nodes", rott, Surv(time, event) ~ a + x + z + nodes,
            breaks = yearly_breaks(8)),
  surv_case("rotterdam/numeric: a + x + I(a * x) + z", rott, Surv(time, event) ~ a + x + I(a * x) + z,
            breaks = yearly_breaks(8)),
  surv_case("rotterdam/numeric: a + splines::ns(x, 3) + z", rott,
            Surv(time, event) ~ a + splines::ns(x, 3) + z, breaks = yearly_breaks(8)),
  surv_case("rotterdam/logical: a + x + z", recode_treatment(rott, "logical"),
            Surv(time, event) ~ a + x + z, breaks = yearly_breaks(8)),
  surv_case("colon/factor: a + x + z + nodes", colo, Surv(time, event) ~ a + x + z + nodes,
            breaks = yearly_breaks(7)),
  surv_case("colon/factor: a * x + z", colo, Surv(time, event) ~ a * x + z, breaks = yearly_breaks(7)),
  surv_case("colon/factor: a + x + ifelse(a == \"Lev+5FU\", x, 0)", colo,
            Surv(time, event) ~ a + x + ifelse(a == "Lev+5FU", x, 0), breaks = yearly_breaks(7)),
  surv_case("colon/factor: a + poly(x, 2) + z", colo, Surv(time, event) ~ a + poly(x, 2) + z,
            breaks = yearly_breaks(7)),
  surv_case("colon/character: a + x + z", transform(colo, a = as.character(a)),
            Surv(time, event) ~ a + x + z, breaks = yearly_breaks(7))
)

# Arguments of the reference for a case's extra arguments: sampling weights
# weigh both the hazard model (the reference's argument `model_weights`:
# prior weights of glm(), case weights of coxph()) and the average.
reference_args <- function(args, model_weights = "prior") {
  out <- args
  if (!is.null(args$weights)) {
    out[[model_weights]] <- args$weights
    out$avg_w <- args$weights
    out$weights <- NULL
  }
  out
}

test_that("pooled-logistic standardization equals glm() on the person-period table for every construct", {
  for (cs in pooled_cases) {
    fit <- run_case(do.call(survival_standardization, utils::modifyList(
      list(cs$formula, data = cs$data, treatment = "a", learner = lrn_tight(), se = "none",
           time_terms = quadratic_time), cs$args
    )), cs$id)
    if (is.null(fit)) next
    ref <- do.call(ref_pooled_logistic, c(list(cs$formula, cs$data, "a"), reference_args(cs$args)))
    expect_curves(fit, ref, cs$id, 1e-6)
  }
})

stratified_cases <- list(
  surv_case("sim2/numeric: a + x + z", sim2, Surv(time, event) ~ a + x + z),
  surv_case("sim2/numeric: a * x + z", sim2, Surv(time, event) ~ a * x + z),
  surv_case("sim2/numeric: a + z + I(a * x)", sim2, Surv(time, event) ~ a + z + I(a * x)),
  surv_case("sim3/numeric: a + z + I(a * x)", sim3, Surv(time, event) ~ a + z + I(a * x)),
  surv_case("sim2/numeric: a + z + ifelse(a == 1, x, 0)", sim2,
            Surv(time, event) ~ a + z + ifelse(a == 1, x, 0)),
  surv_case("sim2/factor: a + z + ifelse(a == \"trt\", x, 0)", recode_treatment(sim2, "factor"),
            Surv(time, event) ~ a + z + ifelse(a == "trt", x, 0)),
  surv_case("sim2/logical: a + x + z", recode_treatment(sim2, "logical"), Surv(time, event) ~ a + x + z),
  surv_case("colon/factor: a + x + z", colo, Surv(time, event) ~ a + x + z, breaks = yearly_breaks(7)),
  surv_case("colon/character: a * x + z", transform(colo, a = as.character(a)),
            Surv(time, event) ~ a * x + z, breaks = yearly_breaks(7))
)

test_that("stratified pooled-logistic standardization fits each arm on the terms free of the treatment", {
  for (cs in stratified_cases) {
    fit <- run_case(do.call(survival_standardization, utils::modifyList(
      list(cs$formula, data = cs$data, treatment = "a", stratified = TRUE, learner = lrn_tight(),
           se = "none", time_terms = quadratic_time), cs$args
    )), cs$id)
    if (is.null(fit)) next
    ref <- do.call(ref_pooled_logistic, c(list(cs$formula, cs$data, "a", stratified = TRUE),
                                          reference_args(cs$args)))
    expect_curves(fit, ref, cs$id, 1e-6)
  }
})

cox_cases <- list(
  surv_case("sim2c/numeric: a + x + z", sim2c, Surv(time, event) ~ a + x + z),
  surv_case("sim2c/numeric: a * x", sim2c, Surv(time, event) ~ a * x),
  surv_case("sim2c/numeric: a + x + I(a * x)", sim2c, Surv(time, event) ~ a + x + I(a * x)),
  surv_case("sim2c/numeric: a + x + ifelse(a == 1, x, 0)", sim2c,
            Surv(time, event) ~ a + x + ifelse(a == 1, x, 0)),
  surv_case("sim2c/numeric: a + poly(x, 2)", sim2c, Surv(time, event) ~ a + poly(x, 2)),
  surv_case("sim2c/numeric: a + splines::ns(age, 3) + x", sim2c,
            Surv(time, event) ~ a + splines::ns(age, 3) + x),
  surv_case("sim2c/numeric: a + x + z, sampling weights", sim2c, Surv(time, event) ~ a + x + z,
            weights = sim2c$w),
  surv_case("sim3c/numeric: a + x + I(a^2)", sim3c, Surv(time, event) ~ a + x + I(a^2)),
  surv_case("sim3c/numeric: a + x + log(a + 1)", sim3c, Surv(time, event) ~ a + x + log(a + 1)),
  surv_case("sim2c/factor: a + x + z", recode_treatment(sim2c, "factor"), Surv(time, event) ~ a + x + z),
  surv_case("sim2c/logical: a + x + I(a * x)", recode_treatment(sim2c, "logical"),
            Surv(time, event) ~ a + x + I(a * x)),
  surv_case("sim3c/character: a + x + ifelse(a == \"C\", x, 0)", recode_treatment(sim3c, "character"),
            Surv(time, event) ~ a + x + ifelse(a == "C", x, 0)),
  surv_case("rotterdam/numeric: a + x + z + nodes", rott, Surv(time, event) ~ a + x + z + nodes),
  surv_case("rotterdam/numeric: a + x + I(a * x) + z", rott, Surv(time, event) ~ a + x + I(a * x) + z),
  surv_case("colon/factor: a + x + z", colo, Surv(time, event) ~ a + x + z),
  surv_case("colon/factor: a * x + z", colo, Surv(time, event) ~ a * x + z),
  surv_case("colon/character: a + x + z", transform(colo, a = as.character(a)),
            Surv(time, event) ~ a + x + z),
  surv_case("sim2c/numeric, stratified: a + x + z", sim2c, Surv(time, event) ~ a + x + z,
            stratified = TRUE),
  surv_case("sim2c/numeric, stratified: a + z + I(a * x)", sim2c, Surv(time, event) ~ a + z + I(a * x),
            stratified = TRUE),
  surv_case("colon/factor, stratified: a + x + z", colo, Surv(time, event) ~ a + x + z,
            stratified = TRUE)
)

test_that("Cox standardization equals coxph() and survfit(newdata =) on counterfactual copies", {
  for (cs in cox_cases) {
    fit <- run_case(do.call(survival_standardization, c(
      list(cs$formula, data = cs$data, treatment = "a", model = "cox", se = "none"), cs$args
    )), cs$id)
    if (is.null(fit)) next
    ref <- do.call(ref_cox, c(list(cs$formula, cs$data, "a"), reference_args(cs$args, "case_w")))
    expect_curves(fit, ref, cs$id, 1e-6)
  }
})

offset_cases <- list(
  surv_case("pooled sim2: a + x + offset(o)", sim2, Surv(time, event) ~ a + x + offset(o),
            model = "pooled_logistic"),
  surv_case("pooled sim2, stratified: a + x + offset(o)", sim2, Surv(time, event) ~ a + x + offset(o),
            model = "pooled_logistic", stratified = TRUE),
  surv_case("pooled rotterdam: a + x + z + offset(o)", rott, Surv(time, event) ~ a + x + z + offset(o),
            model = "pooled_logistic", breaks = yearly_breaks(8)),
  surv_case("pooled colon: a + x + offset(o)", colo, Surv(time, event) ~ a + x + offset(o),
            model = "pooled_logistic", breaks = yearly_breaks(7)),
  surv_case("cox sim2c: a + x + offset(o)", sim2c, Surv(time, event) ~ a + x + offset(o), model = "cox"),
  surv_case("cox rotterdam: a + x + z + offset(o)", rott, Surv(time, event) ~ a + x + z + offset(o),
            model = "cox"),
  surv_case("cox colon, stratified: a + x + offset(o)", colo, Surv(time, event) ~ a + x + offset(o),
            model = "cox", stratified = TRUE)
)

test_that("offset() terms of hazard formulas enter the hazard model", {
  for (cs in offset_cases) {
    fit <- run_case(do.call(survival_standardization, utils::modifyList(
      list(cs$formula, data = cs$data, treatment = "a", learner = lrn_tight(), se = "none",
           time_terms = quadratic_time), cs$args
    )), cs$id)
    if (is.null(fit)) next
    args <- cs$args
    args$model <- NULL
    ref <- if (cs$args$model == "cox") {
      do.call(ref_cox, c(list(cs$formula, cs$data, "a"), args))
    } else {
      do.call(ref_pooled_logistic, c(list(cs$formula, cs$data, "a"), args))
    }
    expect_curves(fit, ref, cs$id, 1e-6)
  }
})

# Weighted standardization: id, data, hazard formula, propensity formula,
# estimand, hazard model and extra arguments.
weighted_cases <- list(
  list(id = "pooled sim2/numeric ATE", data = sim2, formula = Surv(time, event) ~ a + x + z,
       ps = a ~ x + z, estimand = "ATE", model = "pooled_logistic", args = list()),
  list(id = "pooled sim2/numeric ATT", data = sim2, formula = Surv(time, event) ~ a + x + z,
       ps = a ~ x + z, estimand = "ATT", model = "pooled_logistic", args = list()),
  list(id = "pooled sim2/character ATT", data = recode_treatment(sim2, "character"),
       formula = Surv(time, event) ~ a + x, ps = a ~ poly(x, 2), estimand = "ATT",
       model = "pooled_logistic", args = list()),
  list(id = "pooled colon/factor ATE", data = colo, formula = Surv(time, event) ~ a + x + z,
       ps = a ~ x + z, estimand = "ATE", model = "pooled_logistic",
       args = list(breaks = yearly_breaks(7))),
  list(id = "pooled colon/factor ATT (treated: Lev+5FU)", data = colo,
       formula = Surv(time, event) ~ a + x + z, ps = a ~ x + z, estimand = "ATT",
       model = "pooled_logistic", args = list(breaks = yearly_breaks(7))),
  list(id = "pooled rotterdam/numeric ATT", data = rott, formula = Surv(time, event) ~ a + x + z,
       ps = a ~ x + z, estimand = "ATT", model = "pooled_logistic",
       args = list(breaks = yearly_breaks(8))),
  list(id = "cox sim2c/numeric ATE", data = sim2c, formula = Surv(time, event) ~ a + x,
       ps = a ~ x, estimand = "ATE", model = "cox", args = list()),
  list(id = "cox sim2c/numeric ATT", data = sim2c, formula = Surv(time, event) ~ a + x,
       ps = a ~ x, estimand = "ATT", model = "cox", args = list())
)

test_that("weighted standardization reports its weight model's estimand and standardizes over that population", {
  for (cs in weighted_cases) {
    d <- cs$data
    wm <- ipw(cs$ps, data = d, estimand = cs$estimand, learner = lrn_tight(),
              treated = if (cs$estimand == "ATT") utils::tail(surv_treatment_levels(d$a), 1L))
    fit <- run_case(do.call(survival_standardization, utils::modifyList(
      list(cs$formula, data = d, treatment = "a", weight_model = wm, model = cs$model,
           learner = lrn_tight(), se = "none", time_terms = quadratic_time), cs$args
    )), cs$id)
    if (is.null(fit)) next
    expect_identical(fit$estimand, cs$estimand, info = cs$id)
    w <- ref_ip_weights(surv_ref_propensity(cs$ps, d), d$a, cs$estimand)
    lev <- surv_treatment_levels(d$a)
    rows <- if (cs$estimand == "ATT") which(as.character(d$a) == lev[length(lev)]) else seq_len(nrow(d))
    ref <- if (cs$model == "cox") {
      ref_cox(cs$formula, d, "a", case_w = w, avg_rows = rows)
    } else {
      do.call(ref_pooled_logistic, c(list(cs$formula, d, "a", prior = w, avg_rows = rows), cs$args))
    }
    expect_curves(fit, ref, cs$id, 1e-6)
  }
})

# IP-weighted Kaplan-Meier: id, data, propensity formula, estimand.
ipw_km_cases <- list(
  list(id = "sim2/numeric ATE: a ~ poly(x, 2) + splines::ns(age, 3)", data = sim2,
       ps = a ~ poly(x, 2) + splines::ns(age, 3), estimand = "ATE"),
  list(id = "sim2/numeric ATE: a ~ x + offset(o)", data = sim2, ps = a ~ x + offset(o), estimand = "ATE"),
  list(id = "sim2/numeric ATT: a ~ poly(x, 2) + z", data = sim2, ps = a ~ poly(x, 2) + z, estimand = "ATT"),
  list(id = "sim2/character ATE: a ~ splines::ns(x, 3) + z", data = recode_treatment(sim2, "character"),
       ps = a ~ splines::ns(x, 3) + z, estimand = "ATE"),
  list(id = "sim2/logical ATE: a ~ poly(x, 2) + offset(o)", data = recode_treatment(sim2, "logical"),
       ps = a ~ poly(x, 2) + offset(o), estimand = "ATE"),
  list(id = "sim3/numeric ATE: a ~ poly(x, 2) + z", data = sim3, ps = a ~ poly(x, 2) + z, estimand = "ATE"),
  list(id = "sim3/character ATE: a ~ splines::ns(age, 3) + x", data = recode_treatment(sim3, "character"),
       ps = a ~ splines::ns(age, 3) + x, estimand = "ATE"),
  list(id = "colon/character ATE: a ~ poly(x, 2) + sex", data = transform(colo, a = as.character(a)),
       ps = a ~ poly(x, 2) + sex, estimand = "ATE"),
  list(id = "colon/factor ATT: a ~ splines::ns(x, 3) + z", data = colo, ps = a ~ splines::ns(x, 3) + z,
       estimand = "ATT"),
  list(id = "rotterdam/numeric ATE: a ~ splines::ns(x, 3) + z + offset(o)", data = rott,
       ps = a ~ splines::ns(x, 3) + z + offset(o), estimand = "ATE")
)

test_that("IP-weighted Kaplan-Meier curves equal survfit() with glm()-derived weights", {
  for (cs in ipw_km_cases) {
    d <- cs$data
    fit <- run_case({
      wm <- ipw(cs$ps, data = d, estimand = cs$estimand, learner = lrn_tight(),
              treated = if (cs$estimand == "ATT") utils::tail(surv_treatment_levels(d$a), 1L))
      survival_ipw(Surv(time, event) ~ a, data = d, weight_model = wm, se = "none")
    }, cs$id)
    if (is.null(fit)) next
    expect_identical(fit$estimand, cs$estimand, info = cs$id)
    w <- ref_ip_weights(surv_ref_propensity(cs$ps, d), d$a, cs$estimand)
    ref <- ref_km(d$time, d$event, d$a, w)
    expect_equal(rownames(fit$survival), names(ref), info = cs$id)
    for (lev in names(ref)) {
      s <- ref[[lev]]
      at <- match(s$time, fit$times)
      expect_false(anyNA(at), info = paste(cs$id, lev))
      expect_equal(unname(fit$survival[lev, at]), s$surv, tolerance = 1e-8, info = paste(cs$id, lev))
    }
  }
})

# Bootstrap composition: each replicate is the public pipeline refitted
# from scratch on the resample d[rep(seq_len(n), counts[, r]), ].
# `fit(d, se, R)` runs the pipeline; `ref(dr, times)` gives the reference
# curves of a resample (a K x m matrix with its times; Cox curves at the
# fit's `times`, the others on their own grid).
bootstrap_cases <- list(
  list(id = "survival_ipw KM + matching(a ~ x), sim2/numeric", data = sim2, seed = 31,
       fit = function(d, ...) {
         survival_ipw(Surv(time, event) ~ a, time_terms = quadratic_time, data = d, weight_model = matching(a ~ x, data = d), ...)
       },
       ref = function(dr, times) km_matrix(ref_km(dr$time, dr$event, dr$a, weights(matching(a ~ x, data = dr))))),
  list(id = "survival_ipw KM + matching(a ~ x + z), sim2/character", data = recode_treatment(sim2, "character"),
       seed = 32,
       fit = function(d, ...) {
         survival_ipw(Surv(time, event) ~ a, time_terms = quadratic_time, data = d,
                      weight_model = matching(a ~ x + z, data = d, treated = "trt"), ...)
       },
       ref = function(dr, times) km_matrix(ref_km(dr$time, dr$event, dr$a, weights(matching(a ~ x + z, data = dr, treated = "trt"))))),
  list(id = "survival_standardization pooled + ipw(a ~ x), a + x + z, sim2", data = sim2, seed = 33,
       fit = function(d, ...) {
         survival_standardization(Surv(time, event) ~ a + x + z, time_terms = quadratic_time, data = d, treatment = "a",
                                  weight_model = ipw(a ~ x, data = d, learner = lrn_tight()),
                                  learner = lrn_tight(), breaks = 0:8, ...)
       },
       ref = function(dr, times) {
         w <- ref_ip_weights(surv_ref_propensity(a ~ x, dr), dr$a)
         ref_pooled_logistic(Surv(time, event) ~ a + x + z, dr, "a", breaks = 0:8, prior = w)
       }),
  list(id = "survival_standardization pooled + ipw(a ~ x), a + splines::ns(age, 3) + x, sim2",
       data = sim2, seed = 34,
       fit = function(d, ...) {
         survival_standardization(Surv(time, event) ~ a + splines::ns(age, 3) + x, time_terms = quadratic_time, data = d,
                                  treatment = "a", weight_model = ipw(a ~ x, data = d, learner = lrn_tight()),
                                  learner = lrn_tight(), breaks = 0:8, ...)
       },
       # Refits keep the fitted spline basis (its knots are part of the
       # model's specification, as in predict()), so the reference uses the
       # full-data knots on every resample.
       ref = function(dr, times) {
         basis <- splines::ns(sim2$age, 3)
         dr$age_ns <- predict(basis, dr$age)
         w <- ref_ip_weights(surv_ref_propensity(a ~ x, dr), dr$a)
         ref_pooled_logistic(Surv(time, event) ~ a + age_ns + x, dr, "a", breaks = 0:8,
                             prior = w)
       }),
  list(id = "survival_standardization cox + ipw(a ~ x + z), colon/factor",
       data = transform(colo, unit_id = seq_len(nrow(colo))), seed = 35,
       fit = function(d, ...) {
         survival_standardization(Surv(time, event) ~ a + x + z, data = d, treatment = "a",
                                  weight_model = ipw(a ~ x + z, data = d, learner = lrn_tight()),
                                  model = "cox", ...)
       },
       # Bootstrap counts enter every refit as case weights. A Cox model with
       # tied times is the one place this differs from duplicating rows
       # (Efron's approximation counts two copies as two tied deaths), so the
       # reference is the resample collapsed to one row per unit weighted by
       # its count; the weight model is fitted on the resample itself.
       ref = function(dr, times) {
         w <- ref_ip_weights(surv_ref_propensity(a ~ x + z, dr), dr$a)
         first <- !duplicated(dr$unit_id)
         count <- tabulate(match(dr$unit_id, dr$unit_id[first]), sum(first))
         ref_cox(Surv(time, event) ~ a + x + z, dr[first, , drop = FALSE], "a",
                 case_w = w[first] * count, avg_w = count, times = times)
       })
)

# survfit() curves per level as a K x m matrix on the union of their times.
km_matrix <- function(curves) {
  times <- sort(unique(unlist(lapply(curves, `[[`, "time"))))
  surv <- t(vapply(curves, function(s) {
    j <- findInterval(times, s$time)
    ifelse(times > max(s$time), NA_real_, c(1, s$surv)[j + 1L])
  }, numeric(length(times))))
  list(survival = surv, times = times)
}

# Compare replicate r (a K x m matrix on the fit's times) with the
# reference curves of the resample at the reference's times.
expect_replicate <- function(rep_km, fit_times, ref, case) {
  at <- match(ref$times, fit_times)
  expect_false(anyNA(at), info = case)
  ok <- !is.na(ref$survival)
  expect_equal(rep_km[, at][ok], ref$survival[ok], tolerance = 1e-6, info = case)
}

test_that("bootstrap replicates refit the whole pipeline on the resample", {
  R <- 3L
  for (cs in bootstrap_cases) {
    d <- cs$data
    n <- nrow(d)
    set.seed(cs$seed)
    fit <- run_case(suppressMessages(cs$fit(d, se = "bootstrap", R = R)), cs$id)
    if (is.null(fit)) next
    counts <- local({
      set.seed(cs$seed)
      causallib:::bootstrap_counts(n, R)
    })
    stored <- stored_replicates(fit)
    expect_equal(dim(stored)[1L], R, info = cs$id)
    K <- length(fit$levels)
    m <- length(fit$times)
    direct <- run_case(causallib:::bootstrap_replicates(fit, counts), paste(cs$id, "bootstrap_replicates()"))
    for (r in seq_len(R)) {
      case <- paste0(cs$id, ", replicate ", r)
      dr <- d[rep(seq_len(n), counts[, r]), , drop = FALSE]
      ref <- suppressMessages(cs$ref(dr, fit$times))
      expect_replicate(stored[r, , ], fit$times, ref, paste(case, "(stored on the fit)"))
      if (!is.null(direct)) {
        expect_replicate(matrix(direct[r, ], K, m), fit$times, ref, paste(case, "(bootstrap_replicates())"))
      }
    }
  }
})

# Invariants of the shared interface.  Each case builds a fit from data
# and sampling weights.
invariant_cases <- list(
  list(id = "standardization pooled: a + x + z", data = sim2,
       fit = function(d, w, ...) {
         survival_standardization(Surv(time, event) ~ a + x + z, time_terms = quadratic_time, data = d, treatment = "a",
                                  weights = w, learner = lrn_tight(), ...)
       }),
  list(id = "standardization pooled, stratified: a * x + z", data = sim2,
       fit = function(d, w, ...) {
         survival_standardization(Surv(time, event) ~ a * x + z, time_terms = quadratic_time, data = d, treatment = "a",
                                  stratified = TRUE, weights = w, learner = lrn_tight(), ...)
       }),
  list(id = "standardization cox: a + x + z", data = sim2c,
       fit = function(d, w, ...) {
         survival_standardization(Surv(time, event) ~ a + x + z, data = d, treatment = "a",
                                  model = "cox", weights = w, ...)
       }),
  list(id = "weighted standardization pooled, colon: a + x + z, weight model a ~ x + z", data = colo,
       fit = function(d, w, ...) {
         survival_standardization(Surv(time, event) ~ a + x + z, time_terms = quadratic_time, data = d, treatment = "a",
                                  weight_model = a ~ x + z, breaks = yearly_breaks(7), weights = w,
                                  learner = lrn_tight(), ...)
       }),
  list(id = "survival_ipw KM, weight model a ~ x", data = sim2, sandwich = TRUE,
       fit = function(d, w, ...) {
         survival_ipw(Surv(time, event) ~ a, time_terms = quadratic_time, data = d, weight_model = a ~ x, weights = w, ...)
       }),
  list(id = "survival_ipw pooled-logistic, weight model a ~ x", data = sim2,
       fit = function(d, w, ...) {
         survival_ipw(Surv(time, event) ~ a, time_terms = quadratic_time, data = d, weight_model = a ~ x, method = "pooled_logistic",
                      weights = w, learner = lrn_tight(), ...)
       }),
  list(id = "survival_ipw KM + censoring model ~ x", data = sim2,
       fit = function(d, w, ...) {
         survival_ipw(Surv(time, event) ~ a, time_terms = quadratic_time, data = d, weight_model = a ~ x, censoring_model = ~ x,
                      weights = w, learner = lrn_tight(), ...)
       }),
  list(id = "survival_ipw KM + matching(a ~ x)", data = sim2,
       fit = function(d, w, ...) {
         survival_ipw(Surv(time, event) ~ a, time_terms = quadratic_time, data = d, weight_model = matching(a ~ x, data = d, weights = w),
                      weights = w, ...)
       }),
  list(id = "survival_standardization_fit pooled: a + x", data = sim2,
       fit = function(d, w, ...) {
         survival_standardization_fit(cbind(x = d$x), time_terms = quadratic_time, d$a, d$time, d$event, weights = w,
                                      learner = lrn_tight(), ...)
       }),
  list(id = "survival_ipw_fit KM, weight model ipw_fit(x)", data = sim2, sandwich = TRUE,
       fit = function(d, w, ...) {
         survival_ipw_fit(d$a, time_terms = quadratic_time, d$time, d$event, weight_model = ipw_fit(cbind(x = d$x), d$a, weights = w),
                          weights = w, ...)
       })
)

# The curves of what refit() returns: a fit, or the curves themselves.
curves_of <- function(x) if (is.list(x)) x$survival else x

test_that("a refit with unit case weights reproduces the curves", {
  for (cs in invariant_cases) {
    d <- cs$data
    fit <- cs$fit(d, d$w, se = "none")
    again <- run_case(causallib:::refit(fit, case_weights = rep(1, nrow(d))), cs$id)
    if (is.null(again)) next
    expect_equal(unname(curves_of(again)), unname(fit$survival), tolerance = 1e-10, info = cs$id)
  }
})

test_that("the bootstrap statistic at counts of 1 is the point estimate", {
  for (cs in invariant_cases) {
    d <- cs$data
    fit <- cs$fit(d, d$w, se = "none")
    reps <- run_case(causallib:::bootstrap_replicates(fit, matrix(1L, nrow(d), 1L)), cs$id)
    if (is.null(reps)) next
    expect_equal(dim(reps), c(1L, length(fit$survival)), info = cs$id)
    expect_equal(as.vector(reps), as.vector(fit$survival), tolerance = 1e-10, info = cs$id)
  }
})

test_that("curves and bootstrap replicates do not depend on the number of threads", {
  for (cs in invariant_cases) {
    d <- cs$data
    run <- function(threads) {
      withr::local_options(causallib.threads = threads)
      set.seed(41)
      cs$fit(d, d$w, se = "bootstrap", R = 3)
    }
    one <- run(1)
    two <- run(2)
    expect_identical(one$survival, two$survival, info = cs$id)
    expect_identical(one$replicates, two$replicates, info = cs$id)
  }
})

# Sampling weights are rescaled to mean 1 before any model sees them, so the
# curves, their standard errors and bootstrap replicates are those of the
# weights w at any scale: moderate, tiny (each w times 1e-300, still normal
# doubles) and huge (the largest 1e300, whose sum and squares overflow).
weight_scales <- list(
  "times 1000" = function(w) 1000 * w,
  "times 1e-300" = function(w) w * 1e-300,
  "largest 1e300" = function(w) w * (1e300 / max(w))
)

test_that("curves, standard errors and replicates do not depend on the scale of the sampling weights", {
  for (cs in invariant_cases) {
    d <- cs$data
    run <- function(w) {
      set.seed(43)
      boot <- cs$fit(d, w, se = "bootstrap", R = 2)
      list(survival = boot$survival, replicates = boot$replicates,
           std_error = if (isTRUE(cs$sandwich)) cs$fit(d, w, se = "sandwich")$std_error)
    }
    base <- run(d$w)
    for (scale in names(weight_scales)) {
      scaled <- run_case(run(weight_scales[[scale]](d$w)), paste(cs$id, scale))
      if (is.null(scaled)) next
      expect_equal(scaled, base, tolerance = 1e-10, info = paste(cs$id, scale))
    }
  }
})
