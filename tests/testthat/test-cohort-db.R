# One code path, several databases: the same records give identical
# cohorts from data frames (embedded SQLite), from a SQLite file (dates
# as day numbers or as ISO text), through a column mapping, and from
# PostgreSQL when a server is configured.

db_test_records <- function() {
  drug <- function(id, code, from, to) data.frame(id = id, code = code, from = from, to = to)
  ids <- 1:12
  drugs <- rbind(drug(1:6, 1, 0, 100), drug(7:12, 2, 10, 70), drug(c(2, 8), c(1, 2), c(130, 100), c(160, 130)),
                 drug(5, 2, 40, 60))
  events <- data.frame(id = c(1, 2, 3, 7, 8, 9, 4, 10, 11, 12),
                       code = c(10, 10, 11, 10, 11, 11, 20, 20, 12, 10),
                       day = c(-10, -400, -5, -1, -30, 0, 25, 50, -300, -20))
  measurements <- data.frame(id = c(1, 1, 2, 7, 8, 8), code = 30, day = c(-50, -5, -100, -1, -3, -3),
                             value = c(6, 7.25, 8, 5.5, 9, 10))
  omop_records(data.frame(id = ids, gender = rep(c(8507L, 8532L), 6), yob = 1940L + ids),
               obs = data.frame(id = ids, from = -800, to = c(rep(1000, 11), 30)),
               drugs = drugs, events = events, measurements = measurements,
               deaths = data.frame(id = c(3, 9), day = c(60, 45)))
}

db_test_spec <- function() {
  cohort_spec(
    treatment = new_users(codes(A = 1L, B = 2L), washout = 365),
    eligibility = eligibility(age = c(18, Inf), prior_observation = 365, exclude = list(cancer = c(-Inf, -200))),
    baseline = baseline(any = list(dm = c(-365, 0)), count = list(ckd = c(-365, 0)),
                        last_value = list(hba1c = c(-90, 0))),
    outcome = outcome(codes(mi = 20L)),
    follow_up = follow_up(max = 365, grace = 30),
    codes = codes(dm = 10L, ckd = 11L, cancer = 12L, hba1c = 30L)
  )
}

# The reference cohort from data frames, built once for this file.
db_reference <- once(function() build_quietly(db_test_spec(), db_test_records()))

test_that("data frames, a SQLite file and a column mapping give identical cohorts", {
  rec <- db_test_records()
  spec <- db_test_spec()
  ref <- db_reference()
  expect_identical(nrow(ref), 11L)
  expect_identical(sum(ref$event == 1L), 2L)

  path <- withr::local_tempfile(fileext = ".sqlite")
  con <- DBI::dbConnect(RSQLite::SQLite(), path)
  withr::defer(DBI::dbDisconnect(con))
  for (t in names(rec)) DBI::dbWriteTable(con, t, rec[[t]])        # dates stored as day numbers
  from_file <- build_quietly(spec, con)
  expect_identical(plain_cohort(from_file), plain_cohort(ref))
  expect_identical(attrition(from_file), attrition(ref))
  expect_true(DBI::dbIsValid(con))
  expect_false(any(grepl("^causallib_", DBI::dbListTables(con))))  # temporary tables dropped

  # dates as ISO text, and a drug table of another shape mapped onto drug_exposure
  text <- lapply(rec, function(df) {
    for (col in names(df)) if (inherits(df[[col]], "Date")) df[[col]] <- format(df[[col]])
    df
  })
  rx <- data.frame(pid = rec$drug_exposure$person_id, ndc = rec$drug_exposure$drug_concept_id,
                   filled = text$drug_exposure$drug_exposure_start_date,
                   supply = rec$drug_exposure$days_supply)
  con2 <- DBI::dbConnect(RSQLite::SQLite(), ":memory:")
  withr::defer(DBI::dbDisconnect(con2))
  for (t in setdiff(names(text), "drug_exposure")) DBI::dbWriteTable(con2, t, text[[t]])
  DBI::dbWriteTable(con2, "rx", rx)
  src <- cohort_source(con2, tables = c(drug_exposure = "rx"),
                       columns = list(drug_exposure = c(person_id = "pid", drug_concept_id = "ndc",
                                                        drug_exposure_start_date = "filled", days_supply = "supply")))
  mapped <- build_quietly(spec, src)
  expect_identical(plain_cohort(mapped), plain_cohort(ref))
})

test_that("PostgreSQL gives the cohort of the embedded database", {
  con <- pg_connection()
  rec <- db_test_records()
  tables <- write_db_records(con, rec, "db")
  spec <- db_test_spec()
  pg <- build_quietly(spec, cohort_source(con, tables = tables))
  expect_identical(plain_cohort(pg), plain_cohort(db_reference()))
  expect_identical(attrition(pg), attrition(db_reference()))
  expect_false(any(grepl(paste0("^causallib_", Sys.getpid()), DBI::dbListTables(con))))
})
