# build_cohort() against a slow, obvious reference written in R, person by
# person, on random records: entry with an observed washout, same-day
# starts, age, prior observation, an exclusion, covariates, the outcome,
# and per-protocol follow-up (grace periods, switching, death).

reference_cohort <- function(rec, washout, prior, age_lo, excl, cov, window, max, grace) {
  d0 <- as.integer(cohort_day0)
  day <- function(x) as.integer(x) - d0
  dr <- rec$drug_exposure
  ev <- rec$condition_occurrence
  out <- list()
  for (i in rec$person$person_id) {
    p <- rec$person[rec$person$person_id == i, ]
    os <- day(rec$observation_period$observation_period_start_date[rec$observation_period$person_id == i])
    oe <- day(rec$observation_period$observation_period_end_date[rec$observation_period$person_id == i])
    tx <- dr[dr$person_id == i & dr$drug_concept_id %in% 1:2, ]
    if (!nrow(tx)) next
    from <- day(tx$drug_exposure_start_date)
    to <- day(tx$drug_exposure_end_date)
    t0 <- NA
    for (s in sort(unique(from))) {
      covered <- any(from <= s - 1 & to >= s - washout)
      if (s >= os && s <= oe && !covered && s - os >= washout) {
        t0 <- s
        break
      }
    }
    if (is.na(t0)) next
    arms <- unique(tx$drug_concept_id[from == t0])
    if (length(arms) > 1) next
    t0_date <- as.POSIXlt(cohort_day0 + t0)
    age <- t0_date$year + 1900 - p$year_of_birth - ((t0_date$mon + 1) * 100 + t0_date$mday < 101)
    if (age < age_lo || t0 - os < prior) next
    e <- ev[ev$person_id == i, ]
    eday <- day(e$condition_start_date)
    if (any(e$condition_concept_id == excl$code & eday - t0 >= excl$lo & eday - t0 <= excl$hi)) next
    death <- day(rec$death$death_date[rec$death$person_id == i])
    if (length(death) && death < t0) next
    covariate <- as.integer(any(e$condition_concept_id == cov$code & eday - t0 >= cov$lo & eday - t0 <= cov$hi))
    oc <- eday[e$condition_concept_id == 20 & eday - t0 >= window[1] & eday - t0 <= window[2]]
    own <- order(from, to)
    own <- own[tx$drug_concept_id[own] == arms & from[own] >= t0]
    run_end <- to[own[1]]
    for (k in own[-1]) {
      if (from[k] - run_end - 1 > grace) break
      run_end <- max(run_end, to[k])
    }
    switch <- from[tx$drug_concept_id != arms & from > t0]
    ends <- c(outcome = if (length(oc)) min(oc) else NA, death = if (length(death)) death else NA,
              end_of_observation = oe, discontinuation = run_end + grace,
              switching = if (length(switch)) min(switch) else NA, max_follow_up = t0 + max)
    end <- min(ends, na.rm = TRUE)
    reason <- names(ends)[which(!is.na(ends) & ends == end)[1]]
    out[[length(out) + 1]] <- data.frame(person_id = i, time_zero = cohort_day0 + t0, arm = c("A", "B")[arms],
                                         age = as.integer(age), x = covariate, time = end - t0,
                                         event = switch(reason, outcome = 1L, death = 2L, 0L), reason = reason)
  }
  do.call(rbind, out)
}

random_case <- function() {
  withr::local_seed(20261201)
  n <- 200
  k <- stats::rpois(n, 2) + 1
  ids <- rep(seq_len(n), k)
  main <- sample(1:2, n, TRUE)
  code <- ifelse(stats::runif(length(ids)) < 0.8, main[ids], 3L - main[ids])
  len <- sample(c(0, 29, 59, 89), length(ids), TRUE)
  gap <- sample(c(0, 5, 15, 16, 40, 120), length(ids), TRUE)
  first <- sample(-300:400, n, TRUE)
  from <- first[ids] + stats::ave(len + 1 + gap, ids, FUN = function(v) cumsum(c(0, v[-length(v)])))
  drugs <- data.frame(id = ids, code = code, from = from, to = from + len)
  m <- 600
  events <- data.frame(id = sample(n, m, TRUE), code = sample(c(10, 11, 20), m, TRUE), day = sample(-600:700, m, TRUE))
  hit <- sample(n, n / 2)   # outcomes soon after the first exposure, where follow-up is
  events <- rbind(events, data.frame(id = hit, code = 20, day = first[hit] + sample(0:120, n / 2, TRUE)))
  obs <- data.frame(id = seq_len(n), from = -sample(100:900, n, TRUE), to = sample(50:900, n, TRUE))
  died <- sample(n, 40)
  rec <- omop_records(data.frame(id = seq_len(n), yob = sample(1995:2005, n, TRUE)), obs = obs, drugs = drugs,
                      events = events, deaths = data.frame(id = died, day = first[died] + sample(-20:150, 40, TRUE)))
  rec$person$month_of_birth <- NA_integer_
  rec$person$day_of_birth <- NA_integer_
  spec <- cohort_spec(
    treatment = new_users(codes(A = 1L, B = 2L), washout = 90),
    eligibility = eligibility(age = c(18, Inf), prior_observation = 120, exclude = list(ex = c(-200, -1))),
    baseline = baseline(any = list(x = c(-180, 0)), demographics = "age"),
    outcome = outcome(codes(mi = 20L), window = c(1, Inf)),
    follow_up = follow_up(max = 400, grace = 15),
    codes = codes(ex = 10L, x = 11L)
  )
  list(records = rec, spec = spec)
}

test_that("build_cohort() agrees with a person-by-person reference on random records", {
  case <- random_case()
  rec <- case$records
  spec <- case$spec
  cohort <- plain_cohort(build_cohort(spec, rec))
  ref <- reference_cohort(rec, washout = 90, prior = 120, age_lo = 18, excl = list(code = 10, lo = -200, hi = -1),
                          cov = list(code = 11, lo = -180, hi = 0), window = c(1, Inf), max = 400, grace = 15)
  expect_gt(nrow(ref), 30)
  expect_identical(cohort$person_id, as.integer(ref$person_id))
  expect_identical(cohort$time_zero, ref$time_zero)
  expect_identical(as.character(cohort$treatment), ref$arm)
  expect_identical(cohort$age, ref$age)
  expect_identical(cohort$x, ref$x)
  expect_identical(cohort$time, as.double(ref$time))
  expect_identical(cohort$event, ref$event)
  expect_identical(as.character(cohort$end_reason), ref$reason)
  expect_true(all(c("outcome", "death", "discontinuation", "switching", "end_of_observation") %in% ref$reason))
  expect_true(all(table(ref$reason) >= 3))
})

test_that("PostgreSQL builds the random cohort as the embedded database does", {
  con <- pg_connection()
  case <- random_case()
  tables <- write_db_records(con, case$records, "random")
  expect_identical(plain_cohort(build_cohort(case$spec, cohort_source(con, tables = tables))),
                   plain_cohort(build_cohort(case$spec, case$records)))
})
