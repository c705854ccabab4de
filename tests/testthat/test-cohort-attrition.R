# attrition(): persons remaining after each criterion, by arm, counted by
# hand; the flow diagram's data and layers; the cohort in the estimators.

attrition_records <- function() {
  drug <- function(id, code, from) data.frame(id = id, code = code, from = from, to = from + 59)
  omop_records(
    data.frame(id = 1:9, yob = c(rep(1960L, 4), 2010L, rep(1960L, 4)), gender = rep(c(8507L, 8532L), length.out = 9)),
    obs = data.frame(id = 1:9, from = ifelse(1:9 == 6, -200, -1000), to = 1000),
    drugs = rbind(drug(1, 1, 0), drug(2, 2, 0), drug(3, 1:2, 0), drug(5, 1, 0), drug(6, 2, 0), drug(7, 1, 0),
                  drug(8, 2, 0), drug(9, 1, 10), drug(9, 2, 40)),
    events = data.frame(id = c(7, 1, 2), code = c(10, 20, 20), day = c(-10, 30, 50)),
    deaths = data.frame(id = 8, day = -5)
  )
}

attrition_spec <- function() {
  cohort_spec(new_users(codes(A = 1L, B = 2L), washout = 30),
              eligibility(age = c(18, Inf), prior_observation = 365, exclude = list(cancer = c(-365, -1))),
              outcome = outcome(codes(mi = 20L)), codes = codes(cancer = 10L))
}

test_that("the attrition table counts persons after each criterion, by arm", {
  cohort <- suppressMessages(build_cohort(attrition_spec(), attrition_records()))
  att <- attrition(cohort)
  expect_s3_class(att, "causallib_attrition")
  expect_identical(names(att), c("step", "criterion", "n", "A", "B", "excluded"))
  expect_identical(att$n, c(9L, 8L, 8L, 7L, 6L, 5L, 4L, 3L))
  expect_identical(att$A, c(NA, NA, NA, 4L, 3L, 3L, 2L, 2L))
  expect_identical(att$B, c(NA, NA, NA, 3L, 3L, 2L, 2L, 1L))
  expect_identical(att$excluded, c(NA, 1L, 0L, 1L, 1L, 1L, 1L, 1L))
  expect_identical(att$criterion[c(2, 7, 8)], c("with a record of A or B", "no cancer in days [-365, -1]",
                                                "alive at time zero"))
  expect_identical(cohort$person_id, c(1L, 2L, 9L))
  expect_identical(attrition(att), att)
  expect_output(print(att), "alive at time zero")
  expect_output(print(cohort), "3 persons")
  expect_snapshot(error = TRUE, attrition(data.frame(x = 1)))
})

test_that("the flow diagram draws the attrition table's boxes", {
  cohort <- suppressMessages(build_cohort(attrition_spec(), attrition_records()))
  d <- attrition_plot_data(cohort)
  rem <- d[d$kind == "remaining", ]
  ex <- d[d$kind == "excluded", ]
  expect_identical(rem$step, 1:8)
  expect_identical(rem$y, -(0:7) + 0)
  expect_match(rem$label[8], "alive at time zero\nn = 3\nA: 2, B: 1", fixed = TRUE)
  expect_identical(ex$step, c(2L, 4L, 5L, 6L, 7L, 8L))
  expect_identical(ex$label, paste("excluded:", rep(1L, 6)))
  skip_if_not_installed("ggplot2")
  p <- ggplot2::autoplot(attrition(cohort))
  built <- ggplot2::ggplot_build(p)
  labels <- built$data[[3]]$label
  expect_setequal(labels, d$label)
  expect_identical(nrow(built$data[[1]]), 7L)   # arrows between the eight steps
  expect_identical(nrow(built$data[[2]]), 6L)   # arrows to the excluded boxes
})

test_that("the cohort goes into ipw() and survival_ipw() as it is", {
  cohort <- suppressMessages(build_cohort(attrition_spec(), attrition_records()))
  expect_identical(levels(cohort$treatment), c("A", "B"))
  expect_identical(cohort$event, c(1L, 1L, 0L))
  expect_identical(cohort$time, c(30, 50, 30))
  fit <- survival_ipw(survival::Surv(time, event > 0) ~ treatment, data = cohort,
                      weight_model = ipw(treatment ~ 1, data = cohort), se = "none")
  expect_s3_class(fit, "causal_survival")
})

test_that("an empty cohort is a warning with the attrition table, not an error", {
  spec <- cohort_spec(new_users(codes(A = 1L, B = 2L), washout = 30),
                      eligibility(age = c(100, Inf), prior_observation = 0),
                      baseline = baseline(any = list(cancer = c(-365, 0))),
                      outcome = outcome(codes(mi = 20L)), codes = codes(cancer = 10L))
  expect_warning(cohort <- build_cohort(spec, attrition_records()), "empty")
  expect_identical(nrow(cohort), 0L)
  expect_identical(names(cohort), c("person_id", "time_zero", "treatment", "age", "sex", "cancer", "time", "event",
                                    "end_reason"))
  expect_identical(levels(cohort$treatment), c("A", "B"))
  att <- attrition(cohort)
  expect_identical(att$n[5:6], c(0L, 0L))
  expect_identical(att$A[5], 0L)
})
