# From simulated records to a target-trial estimate: the cohort builder,
# ipw() and survival_ipw() together recover the generator's planted
# intention-to-treat effect on the risk of the outcome (death competing),
# while the unadjusted comparison, biased by the planted confounding,
# does not.

tte_spec <- function(concepts) {
  cohort_spec(
    treatment = new_users(codes(drug_a = concepts$drug_a, drug_b = concepts$drug_b), washout = 365),
    eligibility = eligibility(prior_observation = 365, exclude = list(prior_mi = c(-Inf, 0))),
    baseline = baseline(any = list(diabetes = c(-365, -1), hypertension = c(-365, -1), heart_failure = c(-365, -1)),
                        last_value = list(ldl = c(-365, -1))),
    outcome = outcome(codes(mi = concepts$outcome), window = c(1, Inf)),
    follow_up = follow_up(max = 730),
    analysis = "intention_to_treat",
    codes = codes(prior_mi = concepts$outcome,
                  diabetes = concepts$confounders[["diabetes"]],
                  hypertension = concepts$confounders[["hypertension"]],
                  heart_failure = concepts$confounders[["heart_failure"]],
                  ldl = concepts$measurement[[1L]])
  )
}

test_that("records -> cohort -> IP-weighted Aalen-Johansen recovers the planted risk difference", {
  skip_on_cran()
  x <- simulate_records(20000, seed = 11)
  cohort <- build_cohort(tte_spec(attr(x, "truth")$concepts), x)
  d <- as.data.frame(cohort)
  # The cohort is the generator's own population of new users, with its
  # time zero, arm and latent baseline covariates (the generator records a
  # condition before the index date exactly when the person has it).
  truth <- attr(x, "truth")$persons
  truth <- truth[truth$new_user, ]
  m <- merge(d, truth, by = "person_id", suffixes = c("", ".truth"))
  expect_equal(nrow(m), nrow(truth))
  expect_equal(nrow(m), nrow(d))
  expect_identical(m$time_zero, as.Date(m$index_date, origin = "1970-01-01"))
  expect_identical(as.character(m$treatment), paste0("drug_", tolower(m$arm)))
  for (v in c("diabetes", "hypertension", "heart_failure", "ldl")) {
    expect_identical(as.numeric(m[[v]]), as.numeric(m[[paste0(v, ".truth")]]), label = v)
  }
  expect_identical(m$sex == "male", m$male == 1)
  person <- x$person[match(m$person_id, x$person$person_id), ]
  t0 <- as.POSIXlt(m$time_zero)
  birthday_passed <- (t0$mon + 1) * 100 + t0$mday >= person$month_of_birth * 100 + person$day_of_birth
  expect_equal(as.numeric(m$age), t0$year + 1900 - person$year_of_birth - !birthday_passed)

  d$status <- factor(d$event, 0:2, c("censored", "mi", "death"))
  d$treatment <- relevel(d$treatment, "drug_b")
  wm <- ipw(treatment ~ age + sex + diabetes + hypertension + heart_failure + ldl, data = d)
  adjusted <- survival_ipw(Surv(time, status) ~ treatment, data = d, weight_model = wm)
  crude <- survival_ipw(Surv(time, status) ~ treatment, data = d)
  truth <- simulated_risk(x, 730, persons = d$person_id)$difference

  mi_row <- function(fit) {
    est <- tidy(estimate_effect(fit, times = 730, contrast = "risk_difference"))
    est[grepl("^mi:", est$term), ]
  }
  a <- mi_row(adjusted)
  u <- mi_row(crude)
  expect_true(truth < 0)
  expect_true(a$conf.low <= truth && truth <= a$conf.high)
  expect_false(u$conf.low <= truth && truth <= u$conf.high)
  expect_gt(abs(u$estimate - truth), abs(a$estimate - truth))
})
