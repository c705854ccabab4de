# Coverage of the influence-function (se = "sandwich") intervals of the
# survival estimators: seeded replications of a cohort with known
# discrete-time hazards, and how often the 95% intervals cover the true
# survival curves, risk difference and restricted mean survival time
# difference. Run by hand from the package root (about 25 minutes for 500
# replications):
#
#   Rscript bench/survival-coverage.R     # writes bench/results/survival-coverage.md
#
# Environment variables: CAUSALLIB_LIB (library to load causallib from),
# CAUSALLIB_COVERAGE_REPS (default 500), CAUSALLIB_COVERAGE_N (default 500),
# CAUSALLIB_COVERAGE_OUT.
#
# Never run from the tests. See bench/README.md.

source(file.path("bench", "common.R"))   # set-up and run_info()

REPS <- as.integer(Sys.getenv("CAUSALLIB_COVERAGE_REPS", "500"))
N <- as.integer(Sys.getenv("CAUSALLIB_COVERAGE_N", "500"))
OUT <- Sys.getenv("CAUSALLIB_COVERAGE_OUT", file.path("bench", "results", "survival-coverage.md"))
PERIODS <- 10L
TIMES <- c(4, 8)
COV_SEED <- 20261130L

# The hazard of person x under treatment a in period t.
hazard <- function(t, x, a) stats::plogis(-2.8 + 0.06 * t + 0.7 * x - 0.5 * a)

# The censoring hazard of person x in each period when censoring depends on
# x (it ends follow-up after the period's risk of the event).
censoring_hazard <- function(x) stats::plogis(-2.6 + 0.8 * x)

# x ~ N(0, 1), confounded treatment, event times from the hazards, uniform
# censoring times (half of them at the end of follow-up, 10 periods); or,
# with informative = TRUE, censoring times from censoring_hazard(x), which
# only estimators with a censoring model on x correct for.
simulate_cohort <- function(n, informative = FALSE) {
  x <- stats::rnorm(n)
  a <- stats::rbinom(n, 1, stats::plogis(0.6 * x - 0.2))
  event_time <- rep(PERIODS + 1L, n)
  for (t in rev(seq_len(PERIODS))) event_time[stats::runif(n) < hazard(t, x, a)] <- t
  cens_time <- if (informative) {
    ct <- rep(PERIODS, n)
    for (t in rev(seq_len(PERIODS - 1L))) ct[stats::runif(n) < censoring_hazard(x)] <- t
    ct
  } else {
    sample(c(seq_len(PERIODS), rep(PERIODS, PERIODS)), n, replace = TRUE)
  }
  data.frame(x = x, a = a, time = pmin(event_time, cens_time),
             event = as.integer(event_time <= cens_time))
}

# The true curves (2 x PERIODS): the mean over x of each person's curve
# under a = 0 and a = 1, by Monte Carlo over 10^6 draws of x.
true_curves <- local({
  set.seed(COV_SEED - 1L)
  x <- stats::rnorm(1e6)
  t(vapply(0:1, function(a) {
    s <- rep(1, length(x))
    vapply(seq_len(PERIODS), function(t) mean(s <<- s * (1 - hazard(t, x, a))), numeric(1))
  }, numeric(PERIODS)))
})
true_rd <- (1 - true_curves[2, TIMES]) - (1 - true_curves[1, TIMES])
true_rmst <- vapply(TIMES, function(tau) sum(c(1, true_curves[2, seq_len(tau - 1)])) -
                      sum(c(1, true_curves[1, seq_len(tau - 1)])), numeric(1))

# The estimators, each with its default (influence-function) intervals.
# The pooled-logistic hazard models contain the true hazard (logit-linear in
# x, a and the period); the IP-weighted one has a hazard per arm and period.
estimators <- list(
  "IP-weighted Kaplan-Meier (estimated ATE weights)" = function(d) {
    survival_ipw(Surv(time, event) ~ a, data = d, weight_model = a ~ x)
  },
  "IP-weighted pooled-logistic hazards (estimated ATE weights)" = function(d) {
    survival_ipw(Surv(time, event) ~ a, data = d, weight_model = a ~ x,
                 method = "pooled_logistic", time_terms = ~ factor(time))
  },
  "standardized pooled logistic" = function(d) {
    survival_standardization(Surv(time, event) ~ a + x, data = d, treatment = "a")
  },
  "IP-weighted standardized pooled logistic" = function(d) {
    survival_standardization(Surv(time, event) ~ a + x, data = d, treatment = "a",
                             weight_model = a ~ x)
  },
  "IP-weighted Kaplan-Meier with censoring weights (censoring on x)" = function(d) {
    survival_ipw(Surv(time, event) ~ a, data = d, weight_model = a ~ x, censoring_model = ~ x)
  },
  "IP-weighted pooled-logistic hazards with censoring weights (censoring on x)" = function(d) {
    survival_ipw(Surv(time, event) ~ a, data = d, weight_model = a ~ x, censoring_model = ~ x,
                 method = "pooled_logistic", time_terms = ~ factor(time))
  },
  "standardized pooled logistic with censoring weights (censoring on x)" = function(d) {
    survival_standardization(Surv(time, event) ~ a + x, data = d, treatment = "a",
                             censoring_model = ~ x)
  }
)
# The estimators with a censoring model are run on cohorts whose censoring
# depends on x.
informative <- grepl("censoring on x", names(estimators), fixed = TRUE)

covers <- function(lo, hi, truth) as.numeric(lo <= truth & truth <= hi)

one_replication <- function(d, d_informative) {
  Map(function(est, inf) {
    fit <- suppressWarnings(est(if (inf) d_informative else d))
    tab <- tidy(fit)
    band <- tidy(fit, band = "simultaneous")
    at <- tab$time %in% TIMES
    truth_s <- as.vector(true_curves[, TIMES])
    rd <- tidy(estimate_effect(fit, times = TIMES))
    rmst <- tidy(estimate_effect(fit, times = TIMES, contrast = "rmst_difference"))
    grid <- band$time > 0
    c(survival = mean(covers(tab$conf.low[at], tab$conf.high[at], truth_s)),
      risk_difference = mean(covers(rd$conf.low, rd$conf.high, true_rd)),
      rmst_difference = mean(covers(rmst$conf.low, rmst$conf.high, true_rmst)),
      band = all(covers(band$conf.low[grid], band$conf.high[grid], as.vector(true_curves)) == 1),
      se_rd = rd$std.error[2L], est_rd = rd$estimate[2L])
  }, estimators, informative)
}

set.seed(COV_SEED)
started <- proc.time()[["elapsed"]]
runs <- vector("list", REPS)
for (r in seq_len(REPS)) {
  runs[[r]] <- one_replication(simulate_cohort(N), simulate_cohort(N, informative = TRUE))
  if (r %% 50L == 0L) message(r, " replications, ", round(proc.time()[["elapsed"]] - started), " s")
}
elapsed <- proc.time()[["elapsed"]] - started

rows <- lapply(names(estimators), function(e) {
  m <- do.call(rbind, lapply(runs, `[[`, e))
  mc <- function(p) sprintf("%.1f%% (%.1f)", 100 * p, 100 * sqrt(p * (1 - p) / REPS))
  data.frame(estimator = e,
             survival = mc(mean(m[, "survival"])),
             risk_difference = mc(mean(m[, "risk_difference"])),
             rmst_difference = mc(mean(m[, "rmst_difference"])),
             band = mc(mean(m[, "band"])),
             se_ratio = sprintf("%.3f", mean(m[, "se_rd"]) / stats::sd(m[, "est_rd"])),
             bias = sprintf("%.4f", mean(m[, "est_rd"]) - true_rd[2L]))
})
tab <- do.call(rbind, rows)

lines <- c(
  "# Coverage of influence-function intervals of survival curves",
  "",
  paste0(run_info(), "."),
  "",
  sprintf(paste("Data: %d replications (seed %d) of n = %d people: x ~ N(0, 1), a ~ Bernoulli(plogis(0.6 x - 0.2)),",
                "discrete-time hazard plogis(-2.8 + 0.06 t + 0.7 x - 0.5 a) in periods t = 1..%d, censoring",
                "uniform over the periods (half of it at the end). The estimators with censoring weights run on",
                "a second cohort per replication whose censoring depends on x: hazard plogis(-2.6 + 0.8 x) in periods",
                "1..%d, the rest censored at the end. True curves by Monte Carlo over 10^6 draws of x."),
          REPS, COV_SEED, N, PERIODS, PERIODS - 1L),
  sprintf(paste("Nominal 95%% intervals, each estimator's default (`se = \"sandwich\"`). Columns: coverage of the",
                "pointwise intervals of both arms' survival at t = %s; of the risk difference and the RMST difference at",
                "the same times; of the simultaneous band (`tidy(band = \"simultaneous\")`) over both whole curves;",
                "in parentheses the Monte Carlo standard error. se_ratio = mean sandwich standard error of the",
                "risk difference at t = %d over its standard deviation across replications; bias of that risk difference."),
          paste(TIMES, collapse = " and "), TIMES[2L]),
  "",
  "| estimator | survival | risk difference | RMST difference | band | se_ratio | bias |",
  "|---|---:|---:|---:|---:|---:|---:|",
  sprintf("| %s | %s | %s | %s | %s | %s | %s |", tab$estimator, tab$survival, tab$risk_difference,
          tab$rmst_difference, tab$band, tab$se_ratio, tab$bias),
  "",
  sprintf("Target: 93-97%% for every estimator and quantity. Total time %.0f s.", elapsed)
)
writeLines(lines, OUT)
cat(lines, sep = "\n")
