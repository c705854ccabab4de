# Cohort building at scale: 10^6 persons with about 10^7 OMOP records,
# through the embedded database (data frames copied into an in-process
# SQLite database, then build_cohort()). Target: under two minutes.
#
#   CAUSALLIB_LIB=/path/to/lib nice -n 10 Rscript bench/cohort.R [n_persons]
#
# Writes bench/results/cohort.md. The records are generated here with
# vectorized base R (a synthetic OMOP shape, no planted effects).

local({
  lib <- Sys.getenv("CAUSALLIB_LIB", "")
  if (nzchar(lib)) .libPaths(c(lib, .libPaths()))
})
suppressPackageStartupMessages(library(causallib))

args <- commandArgs(trailingOnly = TRUE)
N <- if (length(args)) as.numeric(args[1]) else 1e6
set.seed(20261201)
d0 <- as.Date("2015-01-01")

# n records per person drawn as Poisson(rate), as a vector of person ids.
draw_ids <- function(n, rate) rep.int(seq_len(n), stats::rpois(n, rate))

simulate_omop <- function(n) {
  obs_start <- d0 - sample.int(1500L, n, TRUE)
  obs_end <- d0 + sample.int(1500L, n, TRUE)
  span <- as.integer(obs_end - obs_start)
  at <- function(ids, lo = 0) obs_start[ids] + floor(stats::runif(length(ids)) * span[ids])
  # treatment drugs: A (1) or B (2, 3) chosen per person, a few refills; other drugs 100..149
  tx_ids <- draw_ids(n, 2.5)
  arm <- sample(1:3, n, TRUE, prob = c(0.5, 0.3, 0.2))
  first <- at(seq_len(n))
  tx_start <- first[tx_ids] + (stats::ave(tx_ids, tx_ids, FUN = seq_along) - 1L) * 35L
  other_ids <- draw_ids(n, 2)
  drug_ids <- c(tx_ids, other_ids)
  supply <- sample(c(30L, 60L, 90L), length(drug_ids), TRUE)
  drug_start <- c(tx_start, at(other_ids))
  drugs <- data.frame(person_id = drug_ids,
                      drug_concept_id = c(arm[tx_ids], sample(100:149, length(other_ids), TRUE)),
                      drug_exposure_start_date = drug_start,
                      drug_exposure_end_date = drug_start + supply - 1L, days_supply = supply)
  cond_ids <- draw_ids(n, 3)
  proc_ids <- draw_ids(n, 1)
  meas_ids <- draw_ids(n, 1.5)
  died <- sample.int(n, n %/% 20)
  list(
    person = data.frame(person_id = seq_len(n), gender_concept_id = sample(c(8507L, 8532L), n, TRUE),
                        year_of_birth = sample(1930:2000, n, TRUE), month_of_birth = sample(1:12, n, TRUE),
                        day_of_birth = sample(1:28, n, TRUE)),
    observation_period = data.frame(person_id = seq_len(n), observation_period_start_date = obs_start,
                                    observation_period_end_date = obs_end),
    drug_exposure = drugs,
    condition_occurrence = data.frame(person_id = cond_ids, condition_concept_id = sample(200:299, length(cond_ids), TRUE),
                                      condition_start_date = at(cond_ids)),
    procedure_occurrence = data.frame(person_id = proc_ids, procedure_concept_id = sample(300:319, length(proc_ids), TRUE),
                                      procedure_date = at(proc_ids)),
    measurement = data.frame(person_id = meas_ids, measurement_concept_id = sample(400:402, length(meas_ids), TRUE),
                             measurement_date = at(meas_ids), value_as_number = round(stats::rnorm(length(meas_ids), 7, 1.5), 1)),
    death = data.frame(person_id = died, death_date = obs_end[died])
  )
}

peak_rss_mb <- function() {
  s <- readLines("/proc/self/status")
  as.numeric(gsub("[^0-9]", "", grep("^VmHWM", s, value = TRUE))) / 1024
}

timed <- function(expr) {
  t0 <- proc.time()
  value <- force(expr)
  t <- proc.time() - t0
  list(value = value, elapsed = unname(t["elapsed"]), cpu = unname(t["user.self"] + t["sys.self"]))
}

groups <- stats::setNames(as.list(200:209), paste0("c", 200:209))
spec <- cohort_spec(
  treatment = new_users(codes(A = 1L, B = 2:3), washout = 365),
  eligibility = eligibility(age = c(18, Inf), prior_observation = 365, exclude = list(cancer = c(-Inf, 0))),
  baseline = baseline(any = stats::setNames(rep(list(c(-365, 0)), 10), names(groups)),
                      count = list(visits = c(-365, -1), other_drugs = c(-180, 0)),
                      last_value = list(m400 = c(-365, 0), m401 = c(-365, 0), m402 = c(-180, 0))),
  outcome = outcome(codes(mi = 250:252)),
  follow_up = follow_up(max = 730, grace = 30),
  codes = do.call(codes, c(groups, list(cancer = 260L, visits = 300:319, other_drugs = 100:149,
                                        m400 = 400L, m401 = 401L, m402 = 402L)))
)

gen <- timed(simulate_omop(N))
records <- gen$value
n_records <- sum(vapply(records[-1], nrow, integer(1)))
cat(sprintf("generated %s persons, %s records in %.1f s\n", format(N, big.mark = ","),
            format(n_records, big.mark = ","), gen$elapsed))
invisible(gc(reset = TRUE))
copy <- timed(cohort_source(records))
cat(sprintf("copy into SQLite + indexes: %.1f s elapsed, %.1f s CPU\n", copy$elapsed, copy$cpu))
build <- timed(suppressMessages(build_cohort(spec, copy$value)))
cat(sprintf("build_cohort: %.1f s elapsed, %.1f s CPU\n", build$elapsed, build$cpu))
cohort <- build$value
mem <- gc()
r_heap_mb <- sum(mem[, ncol(mem)])   # "max used" in Mb since the reset
rss <- peak_rss_mb()
print(attrition(cohort))

total <- copy$elapsed + build$elapsed
lines <- c(
  "# Cohort building on the embedded database",
  "",
  sprintf("`bench/cohort.R`, %s, R %s, dbplyr %s, RSQLite %s (SQLite %s), 2-core machine; load average at the start %s.",
          format(Sys.Date()), getRversion(), utils::packageVersion("dbplyr"), utils::packageVersion("RSQLite"),
          RSQLite::rsqliteVersion()[2], paste(readLines("/proc/loadavg")[1], collapse = "")),
  "",
  sprintf("Records: %s persons, %s records (drug exposures %s, conditions %s, procedures %s, measurements %s, deaths %s), generated in the script.",
          format(N, big.mark = ","), format(n_records, big.mark = ","),
          format(nrow(records$drug_exposure), big.mark = ","), format(nrow(records$condition_occurrence), big.mark = ","),
          format(nrow(records$procedure_occurrence), big.mark = ","), format(nrow(records$measurement), big.mark = ","),
          format(nrow(records$death), big.mark = ",")),
  "Specification: A vs B new users (washout 365), age >= 18, 365 days of prior observation, one exclusion,",
  "10 indicator covariates, 2 counts, 3 last measurement values, age and sex; outcome in [1, Inf]; per protocol (grace 30).",
  "",
  "| step | elapsed (s) | CPU (s) |",
  "|---|---|---|",
  sprintf("| copy data frames into SQLite, create indexes (`cohort_source()`) | %.1f | %.1f |", copy$elapsed, copy$cpu),
  sprintf("| build the cohort (`build_cohort()`) | %.1f | %.1f |", build$elapsed, build$cpu),
  sprintf("| **total** (target: under 120 s) | **%.1f** | %.1f |", total, copy$cpu + build$cpu),
  "",
  sprintf("Cohort: %s persons (%s), %s outcomes, %s deaths.", format(nrow(cohort), big.mark = ","),
          paste(names(table(cohort$treatment)), table(cohort$treatment), collapse = ", "),
          sum(cohort$event == 1L), sum(cohort$event == 2L)),
  sprintf("Memory: R heap peak (gc max used, from the copy on) %.0f MB; process peak RSS %.0f MB, which includes the in-process SQLite database (records held in memory) and the generated data frames.",
          r_heap_mb, rss),
  "",
  "CPU time is the R process's own (SQLite runs in it). The copy is paid once per source: further cohorts from the same `cohort_source()` cost the build alone."
)
out <- file.path("bench", "results", "cohort.md")
if (N < 1e6) out <- file.path(tempdir(), "cohort.md")
writeLines(lines, out)
cat("wrote", out, "\n")
