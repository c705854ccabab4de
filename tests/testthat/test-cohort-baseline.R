# build_cohort(): baseline covariates on hand-built records (days relative
# to cohort_day0; drug codes A = 1, B = 2 or 3).

test_that("baseline: indicators and counts in windows, last measurement value, demographics", {
  ids <- 1:5
  events <- data.frame(
    id = c(1, 1, 1, 1, 2, 4),
    code = c(10, 10, 10, 10, 10, 30),
    day = c(-366, -365, -1, 0, -366, -20)   # person 4: a condition record with the measurement's code
  )
  measurements <- data.frame(
    id = c(1, 1, 1, 1, 2, 2, 3, 4),
    code = 30,
    day = c(-200, -180, -10, -10, 1, 0, -5, -181),
    value = c(1, 5, 7, 8, 9, 6.25, NA, 4)
  )
  rec <- omop_records(data.frame(id = ids, gender = c(8507L, 8532L, 0L, 8532L, 8507L)),
                      drugs = data.frame(id = ids, code = 1, from = 0, to = 29),
                      events = events, measurements = measurements)
  spec <- cohort_test_spec(
    baseline = baseline(any = list(dm = c(-365, 0), lab_any = c(-30, 0)), count = list(dm = c(-365, -1)),
                        last_value = list(hba1c = c(-180, 0)), demographics = c("age", "sex")),
    codes = codes(dm = 10L, hba1c = 30L, lab_any = 30L)
  )
  expect_message(expect_message(cohort <- build_cohort(spec, rec), "sex"), "hba1c.*3 of 5")
  expect_identical(names(cohort)[4:9], c("age", "sex", "dm", "lab_any", "dm_count", "hba1c"))
  expect_identical(cohort$dm, c(1L, 0L, 0L, 0L, 0L))
  expect_identical(cohort$dm_count, c(2L, 0L, 0L, 0L, 0L))
  # lab_any: a record of the code in any table within [-30, 0], with or without a value
  expect_identical(cohort$lab_any, c(1L, 1L, 1L, 1L, 0L))
  expect_identical(cohort$hba1c, c(7.5, 6.25, NA, NA, NA))
  expect_identical(cohort$sex, factor(c("male", "female", NA, "female", "male"), levels = c("female", "male")))
  expect_identical(cohort$age, rep(60L, 5))
})
