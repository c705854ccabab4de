# Small hand-built OMOP-shaped records for the cohort tests, and database
# connections to run the same builds on (SQLite file, PostgreSQL).

cohort_day0 <- as.Date("2020-01-01")

build_quietly <- function(spec, source) suppressMessages(build_cohort(spec, source))

# A function returning f()'s value, computed on the first call only (a
# reference cohort built once per test file).
once <- function(f) {
  value <- NULL
  function() {
    if (is.null(value)) value <<- f()
    value
  }
}

# OMOP tables from compact data frames whose days are relative to
# cohort_day0: persons (id, yob, gender; mob, dob optional), obs (id, from,
# to; default [-1000, 1000] for every person), drugs (id, code, from, to),
# events (id, code, day: conditions), procedures (id, code, day),
# measurements (id, code, day, value), deaths (id, day).
omop_records <- function(persons, obs = NULL, drugs = NULL, events = NULL, procedures = NULL,
                         measurements = NULL, deaths = NULL) {
  d0 <- cohort_day0
  persons$gender <- persons$gender %||% 8507L
  persons$yob <- persons$yob %||% 1960L
  person <- data.frame(person_id = as.integer(persons$id), gender_concept_id = as.integer(persons$gender),
                       year_of_birth = as.integer(persons$yob),
                       month_of_birth = as.integer(persons$mob %||% NA),
                       day_of_birth = as.integer(persons$dob %||% NA))
  obs <- obs %||% data.frame(id = persons$id, from = -1000, to = 1000)
  empty <- function(x, cols) if (is.null(x)) as.data.frame(stats::setNames(rep(list(integer()), length(cols)), cols)) else x
  drugs <- empty(drugs, c("id", "code", "from", "to"))
  events <- empty(events, c("id", "code", "day"))
  procedures <- empty(procedures, c("id", "code", "day"))
  measurements <- empty(measurements, c("id", "code", "day", "value"))
  deaths <- empty(deaths, c("id", "day"))
  list(
    person = person,
    observation_period = data.frame(person_id = as.integer(obs$id), observation_period_start_date = d0 + obs$from,
                                    observation_period_end_date = d0 + obs$to),
    drug_exposure = data.frame(person_id = as.integer(drugs$id), drug_concept_id = as.integer(drugs$code),
                               drug_exposure_start_date = d0 + drugs$from, drug_exposure_end_date = d0 + drugs$to,
                               days_supply = as.integer(drugs$to - drugs$from + 1)),
    condition_occurrence = data.frame(person_id = as.integer(events$id), condition_concept_id = as.integer(events$code),
                                      condition_start_date = d0 + events$day),
    procedure_occurrence = data.frame(person_id = as.integer(procedures$id),
                                      procedure_concept_id = as.integer(procedures$code),
                                      procedure_date = d0 + procedures$day),
    measurement = data.frame(person_id = as.integer(measurements$id),
                             measurement_concept_id = as.integer(measurements$code),
                             measurement_date = d0 + measurements$day,
                             value_as_number = as.double(measurements$value)),
    death = data.frame(person_id = as.integer(deaths$id), death_date = d0 + deaths$day)
  )
}

# Drug codes A = 1, B = 2 (and 3, a second code of B); conditions from 10.
cohort_test_spec <- function(washout = 365, prior_observation = 0, age = c(18, Inf), exclude = list(),
                             baseline = causallib::baseline(demographics = character()),
                             window = c(1, Inf), max = 730, grace = 30,
                             censor = c("death", "end_of_observation", "discontinuation", "switching", "administrative"),
                             admin_end = NULL, analysis = "per_protocol", codes = NULL) {
  cohort_spec(
    treatment = new_users(codes(A = 1L, B = c(2L, 3L)), washout = washout),
    eligibility = eligibility(age = age, prior_observation = prior_observation, exclude = exclude),
    baseline = baseline,
    outcome = outcome(codes(mi = 20L), window = window),
    follow_up = follow_up(max = max, grace = grace, censor = censor, admin_end = admin_end),
    analysis = analysis,
    codes = codes
  )
}

# The cohort's rows as a plain data frame (no attributes), by person_id.
plain_cohort <- function(x) {
  y <- x
  attr(y, "spec") <- NULL
  attr(y, "attrition") <- NULL
  class(y) <- "data.frame"
  y[order(y$person_id), , drop = FALSE]
}

# A connection to the PostgreSQL test server, or a skip. Tables written by
# write_pg_records() are named with this process id (two suites may run at
# once against the same server) and dropped when `env` ends.
pg_connection <- function(env = parent.frame()) {
  testthat::skip_if_not_installed("RPostgres")
  host <- Sys.getenv("CAUSALLIB_PG_HOST")
  if (!nzchar(host)) testthat::skip("CAUSALLIB_PG_HOST is not set: no PostgreSQL server")
  con <- tryCatch(
    DBI::dbConnect(RPostgres::Postgres(), host = host, port = as.integer(Sys.getenv("CAUSALLIB_PG_PORT", "5432")),
                   user = Sys.getenv("CAUSALLIB_PG_USER"), dbname = Sys.getenv("CAUSALLIB_PG_DBNAME")),
    error = function(e) testthat::skip(paste("cannot connect to PostgreSQL:", conditionMessage(e))))
  withr::defer(DBI::dbDisconnect(con), envir = env)
  con
}

# Writes OMOP records as tables named <table>_<pid>_<tag>; returns the
# `tables` mapping for cohort_source() and drops the tables when `env` ends.
write_db_records <- function(con, records, tag, env = parent.frame()) {
  names_db <- paste0(names(records), "_", Sys.getpid(), "_", tag)
  for (i in seq_along(records)) {
    DBI::dbWriteTable(con, names_db[i], records[[i]], overwrite = TRUE)
  }
  withr::defer(for (nm in names_db) try(DBI::dbRemoveTable(con, nm), silent = TRUE), envir = env)
  stats::setNames(as.list(names_db), names(records))
}
