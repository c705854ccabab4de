# Benchmark: the time scale of the pooled-logistic survival models on real
# day-level data (survival::rotterdam: 2,982 women, deaths by day up to
# 7,043, 2,215 distinct times, hormonal-therapy arm followed up to 6,270).
# Before the automatic grid the default call made one period per day with a
# quadratic time trend; now it chooses the grid (at most 250 periods, or
# calendar units with `time_unit`) and a natural spline of time. For each,
# the time of the default call with its 200-replicate bootstrap, and how far
# the unadjusted pooled-logistic curves lie from the Kaplan-Meier curves.
# Run by hand from the package root:
#
#   Rscript bench/survival-timescale.R   # writes bench/results/survival-timescale.md
#
# Never run from the tests. See bench/README.md.

source(file.path("bench", "common.R"))
check_bench_setup("survival-timescale")
suppressPackageStartupMessages(library(survival))

REPS <- as.integer(Sys.getenv("CAUSALLIB_BENCH_REPS", "3"))
BOOT_R <- as.integer(Sys.getenv("CAUSALLIB_BENCH_BOOT_R", "200"))
OUT <- Sys.getenv("CAUSALLIB_BENCH_OUT", file.path("bench", "results", "survival-timescale.md"))

rott <- survival::rotterdam
std_formula <- Surv(dtime, death) ~ hormon + age + meno + size + grade + nodes + pgr + er

# The settings compared: the grid and time terms of the former default (one
# period per day, quadratic trend), written out, and the new defaults.
settings <- list(
  "before: daily periods, ~ time + I(time^2)" = list(breaks = 0:max(rott$dtime),
                                                     time_terms = ~ time + I(time^2)),
  "now: default (no time_unit)" = list(),
  "now: time_unit = \"day\"" = list(time_unit = "day")
)

# The unadjusted pooled-logistic curves against the Kaplan-Meier curves at
# every event time each arm reaches: the largest absolute difference, over
# all of them and where the arm has at least 50 people at risk.
km_distance <- function(fit) {
  km <- survfit(Surv(dtime, death) ~ hormon, data = rott)
  ev <- sort(unique(rott$dtime[rott$death == 1]))
  s <- summary(km, times = ev, extend = TRUE)
  km_s <- matrix(s$surv, 2, byrow = TRUE)
  at_risk <- matrix(s$n.risk, 2, byrow = TRUE)
  j <- findInterval(ev, fit$times)
  pl <- cbind(1, fit$survival)[, j + 1L, drop = FALSE]
  d <- abs(pl - km_s)
  ends <- tapply(rott$dtime, rott$hormon, max)
  d[rbind(ev > ends[1], ev > ends[2])] <- NA
  c(all = max(d, na.rm = TRUE), risk50 = max(replace(d, at_risk < 50, NA), na.rm = TRUE))
}

quiet <- function(expr) suppressWarnings(suppressMessages(expr))

rows <- lapply(names(settings), function(name) {
  args <- settings[[name]]
  ipw_call <- function(...) {
    quiet(do.call(survival_ipw, c(list(Surv(dtime, death) ~ hormon, data = rott,
                                       method = "pooled_logistic"), args, list(...))))
  }
  std_call <- function(...) {
    quiet(do.call(survival_standardization, c(list(std_formula, data = rott, treatment = "hormon"),
                                              args, list(...))))
  }
  unadj <- ipw_call(se = "none")
  dist <- km_distance(unadj)
  point <- time_call(function() std_call(se = "none"), REPS)
  set.seed(SEED)
  boot <- time_call(function() std_call(se = "bootstrap", R = BOOT_R), 1L)
  fit <- boot$res
  data.frame(setting = name, periods = fit$pt$n_periods,
             time_terms = gsub("\\s+", " ", paste(deparse(fit$pt$time_terms), collapse = " ")),
             point_s = point$seconds, boot_s = boot$seconds, failed = fit$failed,
             km_max_all = dist[["all"]], km_max_risk50 = dist[["risk50"]])
})
tab <- do.call(rbind, rows)

fmt <- function(x, d) formatC(x, format = "f", digits = d)
lines <- c(
  "# Time scales of the pooled-logistic models on survival::rotterdam",
  "",
  paste0(run_info(), "; ", ram_gb(), "; load average ", load_avg(), "."),
  "",
  "Data: survival::rotterdam (2,982 people, death by day, 1,272 deaths, 2,215 distinct times; the hormonal-therapy arm (339 people) is followed up to day 6,270, the other to 7,043).",
  sprintf("Standardization: `survival_standardization(%s, data = rotterdam, treatment = \"hormon\", ...)`; point = `se = \"none\"` (median of %d runs), bootstrap = `se = \"bootstrap\", R = %d` (one run, `set.seed(%d)`); failed = replicates lost.",
          deparse1(std_formula), REPS, BOOT_R, SEED),
  "Distance to Kaplan-Meier: `survival_ipw(Surv(dtime, death) ~ hormon, method = \"pooled_logistic\")` (unadjusted) against `survfit()` per arm at every event time each arm's follow-up reaches, the pooled-logistic curve read as a step function of its period ends: the largest absolute difference, over all those times and where the arm has at least 50 people at risk.",
  "",
  "| setting | periods | time terms | point (s) | bootstrap (s) | failed | max abs diff to KM | same, >= 50 at risk |",
  "|---|---:|---|---:|---:|---:|---:|---:|",
  sprintf("| %s | %d | `%s` | %s | %s | %d | %s | %s |", tab$setting, tab$periods, tab$time_terms,
          fmt(tab$point_s, 3), fmt(tab$boot_s, 2), tab$failed, fmt(tab$km_max_all, 4),
          fmt(tab$km_max_risk50, 4))
)
load1 <- as.numeric(strsplit(load_avg(), " ")[[1]][1])
if (is.finite(load1) && load1 > parallel::detectCores()) {
  lines <- c(lines, "", sprintf("Note: the load average (%s) exceeded the %d cores during the run: other processes shared them, so the seconds are inflated; compare the rows with each other.",
                                load_avg(), parallel::detectCores()))
}
writeLines(lines, OUT)
cat(lines, sep = "\n")
