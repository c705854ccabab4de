# Many covariate groups in one cohort: each stage is one join of the
# cohort to the records with conditional aggregation, so ten code groups
# and three measurements do not nest joins (SQLite's parser overflows on
# about six nested joins). Checked against the covariates computed in R.

many_groups_case <- function() {
  groups <- 10:19
  n <- 40
  withr::local_seed(1)
  events <- data.frame(id = sample(n, 200, TRUE), code = sample(groups, 200, TRUE), day = -sample(0:400, 200, TRUE))
  measurements <- data.frame(id = sample(n, 120, TRUE), code = sample(30:32, 120, TRUE),
                             day = -sample(0:200, 120, TRUE), value = round(stats::rnorm(120), 2))
  rec <- omop_records(data.frame(id = 1:n), drugs = data.frame(id = 1:n, code = rep(1:2, n / 2), from = 0, to = 60),
                      events = events, measurements = measurements)
  group_codes <- stats::setNames(as.list(c(groups, 30:32)), c(paste0("g", groups), paste0("m", 1:3)))
  any <- stats::setNames(rep(list(c(-365, 0)), 10), paste0("g", groups))
  last <- stats::setNames(rep(list(c(-180, 0)), 3), paste0("m", 1:3))
  spec <- cohort_spec(
    treatment = new_users(codes(A = 1L, B = 2L), washout = 0),
    eligibility = eligibility(prior_observation = 0, exclude = list(g10 = c(-10, -5))),
    baseline = baseline(any = any, count = any[1:3], last_value = last),
    outcome = outcome(codes(mi = 99L)),
    codes = do.call(codes, group_codes)
  )
  list(records = rec, spec = spec, events = events, measurements = measurements, groups = groups, n = n)
}

test_that("ten code groups and three measurements stay one join per stage (no parser stack overflow)", {
  case <- many_groups_case()
  for (nm in names(case)) assign(nm, case[[nm]])
  cohort <- build_quietly(spec, records)
  # the reference: the same covariates computed in R from the records
  keep <- !(1:n %in% events$id[events$code == 10 & events$day >= -10 & events$day <= -5])
  expect_identical(cohort$person_id, (1:n)[keep])
  for (g in groups) {
    hit <- events$code == g & events$day >= -365
    expect_identical(cohort[[paste0("g", g)]], as.integer(cohort$person_id %in% events$id[hit]))
    if (g <= 12) {
      expect_identical(cohort[[paste0("g", g, "_count")]],
                       as.integer(table(factor(events$id[hit], levels = 1:n))[cohort$person_id]))
    }
  }
  for (k in 1:3) {
    m <- measurements[measurements$code == 29 + k & measurements$day >= -180, ]
    last_value <- vapply(cohort$person_id, function(i) {
      mi <- m[m$id == i, ]
      if (!nrow(mi)) return(NA_real_)
      mean(mi$value[mi$day == max(mi$day)])
    }, double(1))
    expect_equal(cohort[[paste0("m", k)]], last_value, tolerance = 1e-12)
  }
})

test_that("PostgreSQL builds the ten-group cohort as the embedded database does", {
  con <- pg_connection()
  case <- many_groups_case()
  tables <- write_db_records(con, case$records, "groups")
  pg <- build_quietly(case$spec, cohort_source(con, tables = tables))
  ref <- build_quietly(case$spec, case$records)
  expect_identical(plain_cohort(pg)[setdiff(names(pg), paste0("m", 1:3))],
                   plain_cohort(ref)[setdiff(names(ref), paste0("m", 1:3))])
  # means of a day's values may differ in the last bit between databases
  for (m in paste0("m", 1:3)) expect_equal(pg[[m]], ref[[m]], tolerance = 1e-14)
})
