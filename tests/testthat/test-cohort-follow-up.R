# build_cohort(): follow-up time, event and end reason on hand-built
# records, per protocol and intention to treat. Days relative to
# cohort_day0; drug codes A = 1, B = 2; outcome code 20; observation
# [-1000, 1000] unless a case says otherwise.

follow_up_cases <- function() {
  drug <- function(id, code, from, to) data.frame(id = id, code = code, from = from, to = to)
  drugs <- rbind(
    drug(1, 1, c(0, 60), c(29, 89)),          # refill after a 30-day gap (= grace): one run to 89
    drug(2, 1, c(0, 61), c(29, 90)),          # a 31-day gap: the run ends at 29
    drug(3, 1, c(0, 30, 80), c(59, 40, 100)), # overlapping supplies, then a 20-day gap: run to 100
    drug(4, 1, 0, 200), drug(4, 2, 50, 80),   # switch to B on day 50
    drug(5:10, 1, 0, 100),
    drug(11, 1, 0, 1000),
    drug(12, 1, 0, 100), drug(12, 2, 50, 80), # outcome on the day of switching
    drug(13, 1, 0, 29), drug(13, 2, 45, 70),  # switching within the grace period
    drug(14, 1, 0, 100),
    drug(15, 1, 150, 179),
    drug(16, 1, 50, 400)
  )
  events <- data.frame(id = c(5, 5, 6, 7, 8, 9, 12), code = 20, day = c(0, 10, 0, 20, 15, 15, 50))
  deaths <- data.frame(id = c(7, 8, 9, 14), day = c(15, 20, 15, 0))
  obs <- data.frame(id = 1:16, from = -1000, to = ifelse(1:16 == 10, 40, 1000))
  omop_records(data.frame(id = 1:16), obs = obs, drugs = drugs, events = events, deaths = deaths)
}

expect_follow_up <- function(cohort, expected) {
  got <- plain_cohort(cohort)
  expect_identical(got$person_id, as.integer(expected$id))
  expect_identical(got$time, as.double(expected$time))
  expect_identical(got$event, as.integer(expected$event))
  expect_identical(as.character(got$end_reason), expected$reason)
}

test_that("per protocol: grace periods, overlapping supplies, switching, events on day 0, death and outcome", {
  cohort <- build_cohort(cohort_test_spec(grace = 30, max = 730), follow_up_cases())
  expected <- data.frame(
    id = 1:16,
    time = c(119, 59, 130, 50, 10, 130, 15, 15, 15, 40, 730, 50, 45, 0, 59, 380),
    event = c(0, 0, 0, 0, 1, 0, 2, 1, 1, 0, 0, 1, 0, 2, 0, 0),
    reason = c("discontinuation", "discontinuation", "discontinuation", "switching", "outcome",
               "discontinuation", "death", "outcome", "outcome", "end_of_observation", "max_follow_up",
               "outcome", "switching", "death", "discontinuation", "discontinuation")
  )
  expect_follow_up(cohort, expected)
  expect_identical(levels(cohort$end_reason),
                   c("outcome", "death", "end_of_observation", "discontinuation", "switching", "administrative",
                     "max_follow_up"))
})

test_that("intention to treat: discontinuation and switching do not end follow-up", {
  cohort <- build_cohort(cohort_test_spec(analysis = "intention_to_treat", max = 730), follow_up_cases())
  expected <- data.frame(
    id = 1:16,
    time = c(730, 730, 730, 730, 10, 730, 15, 15, 15, 40, 730, 50, 730, 0, 730, 730),
    event = c(0, 0, 0, 0, 1, 0, 2, 1, 1, 0, 0, 1, 0, 2, 0, 0),
    reason = c(rep("max_follow_up", 4), "outcome", "max_follow_up", "death", "outcome", "outcome",
               "end_of_observation", "max_follow_up", "outcome", "max_follow_up", "death", "max_follow_up",
               "max_follow_up")
  )
  expect_follow_up(cohort, expected)
})

test_that("a risk window from day 0 counts outcomes on day 0; its end and the administrative end stop follow-up", {
  spec <- cohort_test_spec(analysis = "intention_to_treat", window = c(0, 90), admin_end = cohort_day0 + 100)
  cohort <- build_cohort(spec, follow_up_cases())
  keep <- setdiff(1:16, 15)   # time zero (day 150) after the administrative end
  expected <- data.frame(
    id = keep,
    time = c(90, 90, 90, 90, 0, 0, 15, 15, 15, 40, 90, 50, 90, 0, 50),
    event = c(0, 0, 0, 0, 1, 1, 2, 1, 1, 0, 0, 1, 0, 2, 0),
    reason = c(rep("max_follow_up", 4), "outcome", "outcome", "death", "outcome", "outcome",
               "end_of_observation", "max_follow_up", "outcome", "max_follow_up", "death", "administrative")
  )
  expect_follow_up(cohort, expected)
  att <- attrition(cohort)
  expect_identical(utils::tail(att$criterion, 1), "time zero by the administrative end 2020-04-10")
  expect_identical(utils::tail(att$excluded, 1), 1L)
})
