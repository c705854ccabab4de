# build_cohort(): time zero, eligibility and baseline covariates on
# hand-built records, against expected cohorts written by hand. Days are
# relative to cohort_day0 (2020-01-01); drug codes A = 1, B = 2 or 3.

expect_entry <- function(cohort, expected) {
  got <- plain_cohort(cohort)
  exp <- expected[!is.na(expected$t0), , drop = FALSE]
  expect_identical(got$person_id, as.integer(exp$id))
  expect_identical(got$time_zero, cohort_day0 + exp$t0)
  expect_identical(as.character(got$treatment), exp$arm)
}

test_that("time zero: washout and observed-washout boundaries, same-day starts, codes of an arm", {
  # id, observation start, drug records; expected time zero and arm (NA: not in the cohort)
  cases <- list(
    list(id = 1, obs = -1000, drugs = list(c(1, 0, 29)), t0 = 0, arm = "A"),
    # first start's washout not observed (300 < 365 days), a later clean one is
    list(id = 2, obs = -300, drugs = list(c(1, 0, 29), c(1, 400, 429)), t0 = 400, arm = "A"),
    # exposure ends exactly 365 days before the next start: not a new user
    list(id = 3, obs = -300, drugs = list(c(1, 0, 29), c(2, 394, 420)), t0 = NA, arm = NA),
    # ... 366 days before: new user of B
    list(id = 4, obs = -300, drugs = list(c(1, 0, 29), c(2, 395, 420)), t0 = 395, arm = "B"),
    # observation exactly the washout before the start, and one day short
    list(id = 5, obs = -365, drugs = list(c(1, 0, 29)), t0 = 0, arm = "A"),
    list(id = 6, obs = -364, drugs = list(c(1, 0, 29)), t0 = NA, arm = NA),
    # both arms started the same day: excluded
    list(id = 7, obs = -1000, drugs = list(c(1, 0, 29), c(2, 0, 29)), t0 = NA, arm = NA),
    # the second code of arm B
    list(id = 8, obs = -1000, drugs = list(c(3, 10, 39)), t0 = 10, arm = "B"),
    # a start outside observation is no start
    list(id = 9, obs = -1000, obs_end = -10, drugs = list(c(1, 0, 29)), t0 = NA, arm = NA),
    # an exposure of a drug not listed does not count
    list(id = 10, obs = -1000, drugs = list(c(99, -100, 0), c(2, 5, 30)), t0 = 5, arm = "B"),
    # a first exposure ending the day before another start still washes nothing out
    list(id = 11, obs = -1000, drugs = list(c(2, -5, -1), c(1, 0, 30)), t0 = -5, arm = "B")
  )
  persons <- data.frame(id = sapply(cases, `[[`, "id"))
  obs <- data.frame(id = persons$id, from = sapply(cases, `[[`, "obs"),
                    to = sapply(cases, function(x) x$obs_end %||% 1000))
  drugs <- do.call(rbind, lapply(cases, function(x) {
    do.call(rbind, lapply(x$drugs, function(d) data.frame(id = x$id, code = d[1], from = d[2], to = d[3])))
  }))
  rec <- omop_records(persons, obs = obs, drugs = drugs)
  cohort <- build_cohort(cohort_test_spec(washout = 365), rec)
  expected <- data.frame(id = persons$id, t0 = sapply(cases, `[[`, "t0"), arm = sapply(cases, `[[`, "arm"))
  expect_entry(cohort, expected)
  att <- attrition(cohort)
  expect_identical(att$n[1:4], c(11L, 11L, 8L, 7L))
})

test_that("eligibility: age boundaries in completed years, missing birth month, 29 February", {
  d <- function(x) as.integer(as.Date(x) - cohort_day0)
  cases <- data.frame(
    id = 1:8,
    yob = c(2002L, 2002L, 1954L, 1954L, 2002L, 2000L, 2000L, 2003L),
    mob = c(1L, 1L, 1L, 1L, NA, 2L, 2L, 12L),
    dob = c(1L, 2L, 2L, 1L, NA, 29L, 29L, 31L),
    start = c(0L, 0L, 0L, 0L, 0L, d("2018-02-28"), d("2018-03-01"), d("2021-12-31")),
    # age 18 on the day; 17; 65 (66 the next day); 66 on the day; Jan 1; 17 (29 Feb = 1 Mar); 18; 18
    keep = c(TRUE, FALSE, TRUE, FALSE, TRUE, FALSE, TRUE, TRUE)
  )
  rec <- omop_records(data.frame(id = cases$id, yob = cases$yob, mob = cases$mob, dob = cases$dob),
                      obs = data.frame(id = cases$id, from = -2000, to = 2000),
                      drugs = data.frame(id = cases$id, code = 1, from = cases$start, to = cases$start + 29))
  spec <- cohort_test_spec(age = c(18, 65), baseline = baseline(demographics = "age"))
  cohort <- build_cohort(spec, rec)
  expect_identical(cohort$person_id, cases$id[cases$keep])
  expect_identical(cohort$age, c(18L, 65L, 18L, 18L, 18L))
  expect_identical(attrition(cohort)$excluded[5], 3L)
})

test_that("the day numbers of civil dates in SQL agree with R's dates", {
  con <- DBI::dbConnect(RSQLite::SQLite(), ":memory:")
  on.exit(DBI::dbDisconnect(con))
  grid <- expand.grid(y = c(1900L, 1960L, 1999L, 2000L, 2001L, 2023L, 2024L, 2100L), m = 1:12, d = c(1L, 28L))
  grid <- rbind(grid, data.frame(y = c(2000L, 2004L, 2100L), m = 2L, d = 29L))
  DBI::dbWriteTable(con, "g", data.frame(yob = grid$y, mob = grid$m, dob = grid$d))
  got <- DBI::dbGetQuery(con, paste("SELECT", civil_day_sql("yob"), "AS day FROM g"))$day
  # 29 February of a common year is 1 March
  expected <- as.integer(as.Date(ISOdate(grid$y, grid$m, grid$d)))
  leap_fix <- is.na(expected)
  expected[leap_fix] <- as.integer(as.Date(ISOdate(grid$y[leap_fix], 3L, 1L)))
  expect_identical(as.integer(got), expected)
})

test_that("eligibility: prior observation and exclusion windows at their boundaries", {
  # prior observation 500 days: observation from -500 qualifies, -499 does not
  rec <- omop_records(data.frame(id = 1:2), obs = data.frame(id = 1:2, from = c(-500, -499), to = 1000),
                      drugs = data.frame(id = 1:2, code = 1, from = 0, to = 29))
  cohort <- build_cohort(cohort_test_spec(prior_observation = 500), rec)
  expect_identical(cohort$person_id, 1L)

  # cancer (10) ever before or on day 0 excludes; recent (days -30..-1) cancer (11) excludes
  cases <- data.frame(id = 1:8,
                      code = c(10, 10, 10, 11, 11, 11, 11, 12),
                      day = c(0, 1, -5000, -31, -30, -1, 0, 0),
                      keep = c(FALSE, TRUE, FALSE, TRUE, FALSE, FALSE, TRUE, TRUE))
  rec <- omop_records(data.frame(id = cases$id), drugs = data.frame(id = cases$id, code = 1, from = 0, to = 29),
                      events = cases[c("id", "code", "day")])
  spec <- cohort_test_spec(exclude = list(cancer = c(-Inf, 0), recent = c(-30, -1)),
                           codes = codes(cancer = 10L, recent = 11L))
  cohort <- build_cohort(spec, rec)
  expect_identical(cohort$person_id, cases$id[cases$keep])
  att <- attrition(cohort)
  expect_identical(att$criterion[7:8], c("no cancer in days [-Inf, 0]", "no recent in days [-30, -1]"))
  expect_identical(att$excluded[7:8], c(2L, 2L))
})
