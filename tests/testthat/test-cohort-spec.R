# cohort_spec() and its components: the protocol table, and the errors
# for bad specifications and bad sources (each naming the component and
# the value).

test_that("the specification prints as a target-trial protocol table", {
  spec <- cohort_spec(
    treatment = new_users(codes(metformin = 1503297L, sulfonylurea = c(1597756L, 1560171L)), washout = 365),
    eligibility = eligibility(age = c(40, 80), prior_observation = 365, exclude = list(cancer = c(-Inf, 0))),
    baseline = baseline(any = list(ckd = c(-365, 0)), count = list(visits = c(-365, -1)),
                        last_value = list(hba1c = c(-180, 0))),
    outcome = outcome(codes(mi = 4329847L)),
    follow_up = follow_up(max = 730, grace = 30, admin_end = "2023-12-31"),
    codes = codes(cancer = 443392L, ckd = 46271022L, visits = 9202L, hba1c = 3004410L)
  )
  expect_snapshot(print(spec))
  tab <- spec_protocol(spec)
  expect_identical(tab$component[1:4], c("Eligibility", "Treatment strategies", "Assignment", "Time zero"))
  itt <- cohort_spec(spec$treatment, spec$eligibility, spec$baseline, spec$outcome, spec$follow_up,
                     analysis = "intention_to_treat", codes = codes(cancer = 1L, ckd = 2L, visits = 3L, hba1c = 4L))
  expect_match(spec_protocol(itt)$specification[7], "earliest of outcome, death \\(competing event\\), end of observation, administrative end 2023-12-31, 730 days")
  expect_output(print(codes(a = 2:1)), "a: 1, 2")
})

test_that("bad components get errors naming the component and the value", {
  expect_snapshot(error = TRUE, codes(a = integer()))
  expect_snapshot(error = TRUE, codes(1L))
  expect_snapshot(error = TRUE, codes(a = 1L, a = 2L))
  expect_snapshot(error = TRUE, codes(`bad name` = 1L))
  expect_snapshot(error = TRUE, codes(a = c(1L, NA)))
  expect_snapshot(error = TRUE, new_users(codes(a = 1L), washout = 365))
  expect_snapshot(error = TRUE, new_users(codes(a = 1L, b = 2L), washout = -1))
  expect_snapshot(error = TRUE, new_users(codes(a = 1:2, b = 2L)))
  expect_snapshot(error = TRUE, eligibility(age = c(80, 40)))
  expect_snapshot(error = TRUE, eligibility(exclude = list(cancer = c(0, -365))))
  expect_snapshot(error = TRUE, eligibility(exclude = list(c(-365, 0))))
  expect_snapshot(error = TRUE, baseline(any = list(dm = c(-365, 0.5))))
  expect_snapshot(error = TRUE, baseline(demographics = "race"))
  expect_snapshot(error = TRUE, outcome(codes(mi = 1L), window = c(-1, Inf)))
  expect_snapshot(error = TRUE, follow_up(censor = c("end_of_observation")))
  expect_snapshot(error = TRUE, follow_up(censor = c("death", "holidays")))
  expect_snapshot(error = TRUE, follow_up(grace = -3))
  expect_snapshot(error = TRUE, follow_up(admin_end = "soon"))
})

test_that("specifications that do not fit together get errors", {
  tx <- new_users(codes(a = 1L, b = 2L))
  oc <- outcome(codes(mi = 9L))
  # an unknown code group
  expect_snapshot(error = TRUE, cohort_spec(tx, eligibility(exclude = list(cancer = c(-Inf, 0))), outcome = oc))
  expect_snapshot(error = TRUE, cohort_spec(tx, baseline = baseline(any = list(dm = c(-365, 0))), outcome = oc,
                                            codes = codes(ckd = 3L)))
  # a look-back window overlapping the outcome window, or reaching after time zero
  expect_snapshot(error = TRUE, cohort_spec(tx, eligibility(exclude = list(cancer = c(-Inf, 0))),
                                            outcome = outcome(codes(mi = 9L), window = c(0, Inf)),
                                            codes = codes(cancer = 3L)))
  expect_snapshot(error = TRUE, cohort_spec(tx, baseline = baseline(any = list(dm = c(-30, 10))), outcome = oc,
                                            codes = codes(dm = 3L)))
  # one name for two code groups; a covariate name the cohort uses itself
  expect_snapshot(error = TRUE, cohort_spec(tx, outcome = oc, codes = codes(a = 3L)))
  expect_snapshot(error = TRUE, cohort_spec(tx, baseline = baseline(any = list(time = c(-30, 0))), outcome = oc,
                                            codes = codes(time = 3L)))
  expect_snapshot(error = TRUE, cohort_spec(tx, baseline = baseline(any = list(dm = c(-30, 0)),
                                                                    last_value = list(dm = c(-30, 0))),
                                            outcome = oc, codes = codes(dm = 3L)))
  expect_snapshot(error = TRUE, cohort_spec(codes(a = 1L, b = 2L), outcome = oc))
  expect_snapshot(error = TRUE, build_cohort(list(), list()))
})

test_that("sources with missing tables or columns get errors naming them", {
  rec <- omop_records(data.frame(id = 1L), drugs = data.frame(id = 1, code = 1, from = 0, to = 9))
  expect_snapshot(error = TRUE, cohort_source(rec[-2]))
  bad <- rec
  bad$drug_exposure$drug_concept_id <- NULL
  expect_snapshot(error = TRUE, cohort_source(bad))
  bad <- rec
  bad$drug_exposure$drug_exposure_end_date <- NULL
  bad$drug_exposure$days_supply <- NULL
  expect_snapshot(error = TRUE, cohort_source(bad))
  bad <- rec
  bad$death$death_date <- as.character(bad$death$death_date)
  bad$death <- data.frame(person_id = 1L, death_date = "someday")
  expect_snapshot(error = TRUE, cohort_source(bad))
  expect_snapshot(error = TRUE, cohort_source(rec, tables = c(drugs = "drug_exposure")))
  expect_snapshot(error = TRUE, cohort_source(rec, tables = c(person = NA)))
  expect_snapshot(error = TRUE, cohort_source(rec, columns = list(death = c(date = "death_date"))))
  expect_snapshot(error = TRUE, cohort_source("records"))

  con <- DBI::dbConnect(RSQLite::SQLite(), ":memory:")
  on.exit(DBI::dbDisconnect(con))
  for (t in names(rec)[-7]) DBI::dbWriteTable(con, t, rec[[t]])
  expect_snapshot(error = TRUE, cohort_source(con))
  # mapped names and an absent table
  src <- cohort_source(con, tables = c(death = NA))
  expect_null(src$tables$death)
  expect_output(print(src), "absent: taken as empty")
})

test_that("follow-up without any end is refused", {
  expect_snapshot(error = TRUE, follow_up(max = Inf, censor = c("death", "discontinuation")))
  expect_identical(follow_up(max = Inf)$max, Inf)
})
