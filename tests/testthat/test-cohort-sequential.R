# sequential_trials(): one row per person and trial, against person-trial
# tables written by hand, identical from data frames, a SQLite file and
# PostgreSQL. Days relative to cohort_day0; drug A = code 1; trials start
# on days 0, 30, 60, 90 (interval 30, four trials); washout 100 days.

seq_cases <- function() {
  drug <- function(id, from, to) data.frame(id = id, code = 1, from = from, to = to)
  drugs <- rbind(
    drug(2, 65, 94),      # non-user in trials 1-2, initiates in trial 3
    drug(3, 29, 58),      # initiates on the last day of trial 1's interval
    drug(4, 30, 39),      # ... on the first day of trial 2's
    drug(5, -150, -101),  # use ending 101 days before trial 1: washed out
    drug(6, -150, -100),  # ... 100 days before: not washed out for trial 1
    drug(11, 40, 100),    # initiates on day 40, outcome on day 45
    drug(13, 150, 179),   # initiates after the last trial's interval
    drug(15, 20, 40)      # outcome (day 10) between time zero and initiation
  )
  persons <- data.frame(id = 1:15, yob = c(rep(1960L, 8), 2002L, rep(1960L, 6)),
                        mob = c(rep(NA, 8), 3L, rep(NA, 6)), dob = c(rep(NA, 8), 1L, rep(NA, 6)))
  obs <- data.frame(id = 1:15, from = ifelse(1:15 == 7, -99, -1000), to = ifelse(1:15 == 12, 70, 1000))
  events <- data.frame(id = c(8, 11, 14, 15), code = c(10, 20, 11, 20), day = c(45, 45, 40, 10))
  measurements <- data.frame(id = 14, code = 30, day = c(-10, 35), value = c(5, 7))
  omop_records(persons, obs = obs, drugs = drugs, events = events, measurements = measurements,
               deaths = data.frame(id = 10, day = 50))
}

seq_spec <- function(analysis = "per_protocol", interval = 30, max_trials = 4, start = cohort_day0, end = NULL,
                     baseline = causallib::baseline(any = list(dm = c(-365, 0)), last_value = list(hba1c = c(-90, 0)),
                                                    demographics = "age")) {
  cohort_spec(
    treatment = sequential_trials(codes(A = 1L), interval = interval, washout = 100, max_trials = max_trials,
                                  start = start, end = end),
    eligibility = eligibility(age = c(18, Inf), prior_observation = 0, exclude = list(cancer = c(-Inf, 0))),
    baseline = baseline,
    outcome = outcome(codes(mi = 20L)),
    follow_up = follow_up(max = 200, grace = 10),
    analysis = analysis,
    codes = codes(cancer = 10L, dm = 11L, hba1c = 30L)
  )
}

# The expected person-trials: id, trial, arm, and follow-up per protocol
# (pp_*) and under intention to treat (itt_*).
seq_expected <- function() {
  row <- function(id, trial, arm, pp_time, pp_reason, itt_time = pp_time, itt_reason = pp_reason) {
    data.frame(id = id, trial = trial, arm = arm, pp_time = pp_time, pp_reason = pp_reason,
               itt_time = itt_time, itt_reason = itt_reason)
  }
  nu <- "non_user"
  mx <- "max_follow_up"
  rbind(
    row(1, 1:4, nu, 200, mx),
    row(2, 1:3, c(nu, nu, "A"), c(65, 35, 44), c("switching", "switching", "discontinuation"), 200, mx),
    row(3, 1, "A", 68, "discontinuation", 200, mx),
    row(4, 1:2, c(nu, "A"), c(30, 19), c("switching", "discontinuation"), 200, mx),
    row(5, 1:4, nu, 200, mx),
    row(6, 2:4, nu, 200, mx),
    row(7, 2:4, nu, 200, mx),
    row(8, 1:2, nu, 200, mx),
    row(9, 3:4, nu, 200, mx),
    row(10, 1:2, nu, c(50, 20), "death"),
    row(11, 1:2, c(nu, "A"), c(40, 15), c("switching", "outcome"), c(45, 15), "outcome"),
    row(12, 1:3, nu, c(70, 40, 10), "end_of_observation"),
    row(13, 1:4, nu, c(150, 120, 90, 60), "switching", 200, mx),
    row(14, 1:4, nu, 200, mx),
    row(15, 1, "A", 10, "outcome")
  )
}

expect_person_trials <- function(cohort, expected, analysis) {
  got <- plain_cohort(cohort)
  time <- expected[[paste0(analysis, "_time")]]
  reason <- expected[[paste0(analysis, "_reason")]]
  expect_identical(names(got)[1:4], c("person_id", "trial", "time_zero", "treatment"))
  expect_identical(got$person_id, as.integer(expected$id))
  expect_identical(got$trial, as.integer(expected$trial))
  expect_identical(got$time_zero, cohort_day0 + 30 * (expected$trial - 1))
  expect_identical(got$treatment, factor(expected$arm, levels = c("non_user", "A")))
  expect_identical(got$time, as.double(time))
  expect_identical(as.character(got$end_reason), reason)
  expect_identical(got$event, ifelse(reason == "outcome", 1L, ifelse(reason == "death", 2L, 0L)))
}

# The per-protocol person-trials from data frames, built once for this file.
seq_reference <- once(function() build_quietly(seq_spec(), seq_cases()))

test_that("person-trials: interval and washout boundaries, later initiation, eligibility by trial, per protocol", {
  cohort <- seq_reference()
  expected <- seq_expected()
  expect_person_trials(cohort, expected, "pp")
  # baseline covariates measured at each trial's time zero
  got <- plain_cohort(cohort)
  expect_identical(got$age, ifelse(got$person_id == 9L, 18L, 60L))
  p14 <- got[got$person_id == 14L, ]
  expect_identical(p14$dm, c(0L, 0L, 1L, 1L))
  expect_identical(p14$hba1c, c(5, 5, 7, 7))
  expect_true(all(is.na(got$hba1c[got$person_id != 14L])))

  att <- attrition(cohort)
  expect_identical(att$n, c(15L, 59L, 46L, 46L, 44L, 44L, 42L, 40L))
  expect_identical(att$persons, c(15L, 15L, 15L, 15L, 15L, 15L, 15L, 15L))
  expect_identical(att$excluded, c(NA, NA, 13L, 0L, 2L, 0L, 2L, 2L))
  expect_identical(att$A[4:8], c(5L, 5L, 5L, 5L, 5L))
  expect_identical(att$non_user[4:8], c(41L, 39L, 39L, 37L, 35L))
  expect_identical(att$criterion[2:4], c("observed at the start of a trial (4 trials every 30 days)",
                                         "no A in the 100 observed days before",
                                         "arm: A if initiated within 30 days, else non_user"))
  expect_output(print(cohort), "40 person-trials \\(15 persons, 4 trials\\)")
  boxes <- attrition_plot_data(att)
  expect_identical(boxes$label[boxes$kind == "remaining"][2],
                   "observed at the start of a trial (4 trials every 30 days)\nn = 59 (15 persons)")
  expect_identical(boxes$label[boxes$kind == "excluded"], paste("excluded:", c(13, 2, 2, 2)))
})

test_that("intention to treat: initiation by a non-user does not end follow-up", {
  expect_message(cohort <- build_cohort(seq_spec(analysis = "intention_to_treat"), seq_cases()),
                 "hba1c.*36 of 40 person-trials")
  expect_person_trials(cohort, seq_expected(), "itt")
})

test_that("start, end and max_trials set the trials", {
  rec <- seq_cases()
  bl <- baseline(demographics = character())
  # trials on days 0, 30, 60 (day 60 is the end)
  cohort <- build_quietly(seq_spec(max_trials = Inf, end = cohort_day0 + 60, baseline = bl), rec)
  ex <- seq_expected()
  expect_person_trials(cohort, ex[ex$trial <= 3, ], "pp")
  # by default the trials span the observation periods: 21 trials from day -1000 to day 1000
  run <- new_cohort_run(cohort_source(rec))
  withr::defer(DBI::dbDisconnect(run$con))
  days <- trial_days(sequential_trials(codes(A = 1L), interval = 100), run)
  expect_identical(days, as.integer(cohort_day0) + seq(-1000L, 1000L, by = 100L))
  days <- trial_days(sequential_trials(codes(A = 1L), interval = 100, max_trials = 3, end = cohort_day0 + 5000), run)
  expect_identical(days, as.integer(cohort_day0) + c(-1000L, -900L, -800L))
})

test_that("a SQLite file and PostgreSQL give the person-trials of the data frames", {
  rec <- seq_cases()
  spec <- seq_spec()
  ref <- seq_reference()
  path <- withr::local_tempfile(fileext = ".sqlite")
  con <- DBI::dbConnect(RSQLite::SQLite(), path)
  withr::defer(DBI::dbDisconnect(con))
  for (t in names(rec)) DBI::dbWriteTable(con, t, rec[[t]])
  from_file <- build_quietly(spec, con)
  expect_identical(plain_cohort(from_file), plain_cohort(ref))
  expect_identical(attrition(from_file), attrition(ref))
  expect_false(any(grepl("^causallib_", DBI::dbListTables(con))))

  pg <- pg_connection()
  tables <- write_db_records(pg, rec, "seq")
  from_pg <- build_quietly(spec, cohort_source(pg, tables = tables))
  expect_identical(plain_cohort(from_pg), plain_cohort(ref))
  expect_identical(attrition(from_pg), attrition(ref))
  expect_false(any(grepl(paste0("^causallib_", Sys.getpid()), DBI::dbListTables(pg))))
})

test_that("the protocol table describes the sequential trials", {
  tab <- spec_protocol(seq_spec())
  expect_identical(tab$specification[2], "initiate A (1) vs do not initiate (non_user)")
  expect_match(tab$specification[3], "A if initiated within 30 days of the trial's start, else non_user")
  expect_identical(tab$specification[4], "the start of trial k: 2020-01-01 + (k - 1) * 30 days, up to the last observed day (at most 4 trials)")
})

test_that("bad sequential-trial specifications get errors naming the argument", {
  expect_snapshot(error = TRUE, sequential_trials(codes(A = 1L), interval = 0))
  expect_snapshot(error = TRUE, sequential_trials(codes(A = 1L), interval = 7.5))
  expect_snapshot(error = TRUE, sequential_trials(codes(A = 1L), washout = -1))
  expect_snapshot(error = TRUE, sequential_trials(codes(A = 1L), max_trials = 0))
  expect_snapshot(error = TRUE, sequential_trials(codes(A = 1L), start = "2021-01-01", end = "2020-01-01"))
  expect_snapshot(error = TRUE, sequential_trials(codes(A = 1L), start = "soon"))
  expect_snapshot(error = TRUE, sequential_trials(codes(A = 1L, B = 2L)))
  expect_snapshot(error = TRUE, sequential_trials(codes(non_user = 1L)))
  expect_snapshot(error = TRUE, sequential_trials("A"))
  # codes that no drug record has
  spec <- cohort_spec(sequential_trials(codes(A = 99L)), outcome = outcome(codes(mi = 20L)))
  expect_snapshot(error = TRUE, build_cohort(spec, seq_cases()))
})

# A person-by-person R reference for sequential trials on random records:
# trials on days 0, 30, ..., 210; washout 60; per protocol, grace 10, max 200.
seq_reference_rows <- function(rec_days, n_trials = 8, interval = 30, washout = 60, grace = 10, max = 200) {
  out <- list()
  for (p in rec_days$obs$id) {
    ob <- rec_days$obs[rec_days$obs$id == p, ]
    ex <- rec_days$drugs[rec_days$drugs$id == p, ]
    ex <- ex[order(ex$from, ex$to), , drop = FALSE]
    oc <- rec_days$events$day[rec_days$events$id == p]
    death <- rec_days$deaths$day[rec_days$deaths$id == p]
    for (k in seq_len(n_trials)) {
      t0 <- (k - 1) * interval
      if (t0 < ob$from || t0 > ob$to || t0 - ob$from < washout) next
      if (any(ex$from < t0 & ex$to >= t0 - washout)) next
      if (length(death) && death < t0) next
      init <- ex$from >= t0 & ex$from <= t0 + interval - 1 & ex$from <= ob$to
      arm <- if (any(init)) "A" else "non_user"
      ends <- c(outcome = min(oc[oc - t0 >= 1], Inf), death = min(death, Inf), end_of_observation = ob$to,
                discontinuation = Inf, switching = Inf, max_follow_up = t0 + max)
      if (arm == "A") {
        own <- ex[ex$from >= t0, , drop = FALSE]
        prev_end <- c(-Inf, cummax(own$to)[-nrow(own)])
        gap <- c(FALSE, (own$from - prev_end - 1 > grace)[-1])
        ends[["discontinuation"]] <- max(own$to[cumsum(gap) == 0]) + grace
      } else {
        ends[["switching"]] <- min(ex$from[ex$from > t0], Inf)
      }
      end <- min(ends)
      out[[length(out) + 1L]] <- data.frame(id = p, trial = k, arm = arm, pp_time = end - t0,
                                            pp_reason = names(ends)[which(ends == end)[1L]])
    }
  }
  do.call(rbind, out)
}

test_that("random records: the person-trials of a person-by-person R reference", {
  set.seed(20261201)
  n <- 60
  obs <- data.frame(id = 1:n, from = sample(-300:0, n, replace = TRUE), to = sample(50:400, n, replace = TRUE))
  k <- sample(0:3, n, replace = TRUE)
  from <- sample(-200:300, sum(k), replace = TRUE)
  drugs <- data.frame(id = rep(1:n, k), code = 1, from = from, to = from + sample(c(0, 5:60), sum(k), replace = TRUE))
  has_event <- sample(n, 25)
  events <- data.frame(id = has_event, code = 20, day = sample(-50:300, 25, replace = TRUE))
  dead <- sample(n, 10)
  deaths <- data.frame(id = dead, day = sample(-20:400, 10, replace = TRUE))
  rec <- omop_records(data.frame(id = 1:n), obs = obs, drugs = drugs, events = events, deaths = deaths)
  spec <- cohort_spec(sequential_trials(codes(A = 1L), interval = 30, washout = 60, max_trials = 8, start = cohort_day0),
                      eligibility(prior_observation = 0), baseline(demographics = character()),
                      outcome(codes(mi = 20L)), follow_up(max = 200, grace = 10))
  cohort <- build_quietly(spec, rec)
  expected <- seq_reference_rows(list(obs = obs, drugs = drugs, events = events, deaths = deaths))
  expected$itt_time <- expected$pp_time
  expected$itt_reason <- expected$pp_reason
  expect_gt(nrow(expected), 100)
  expect_true(all(c("A", "non_user") %in% expected$arm))
  expect_true(all(c("outcome", "death", "end_of_observation", "discontinuation", "switching", "max_follow_up") %in%
                    expected$pp_reason))
  expect_person_trials(cohort, expected, "pp")
})
