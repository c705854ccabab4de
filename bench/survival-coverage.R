# Coverage of the influence-function (se = "sandwich") intervals of the
# survival estimators: seeded replications of a cohort with known
# discrete-time hazards, and how often the 95% intervals cover the true
# survival curves, risk difference and restricted mean survival time
# difference. Run by hand from the package root (about 30 minutes):
#
#   Rscript bench/survival-coverage.R     # writes bench/results/survival-coverage.md
#
# Environment variables: CAUSALLIB_LIB (library to load causallib from),
# CAUSALLIB_COVERAGE_REPS (default 500), CAUSALLIB_COVERAGE_N (default 500),
# CAUSALLIB_COVERAGE_OUT, CAUSALLIB_COVERAGE_ESTIMATORS (a regular expression:
# run only the estimators whose names match, e.g. "augmented" for the rows
# of survival_aipw(); default all).
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

# The same design in continuous time, for the Cox models: the hazard
# LAMBDA0 exp(0.7 x - 0.5 a) (proportional hazards), censoring uniform over
# (0, 10) for half the people and at 10 for the others. The true curves
# S_a(t) = E_x exp(-LAMBDA0 t exp(0.7 x - 0.5 a)) by Gauss-Hermite
# quadrature in x (60 nodes), the restricted means by integrate().
LAMBDA0 <- 0.07
simulate_continuous <- function(n) {
  x <- stats::rnorm(n)
  a <- stats::rbinom(n, 1, stats::plogis(0.6 * x - 0.2))
  event_time <- stats::rexp(n, LAMBDA0 * exp(0.7 * x - 0.5 * a))
  cens_time <- ifelse(stats::runif(n) < 0.5, stats::runif(n, 0, PERIODS), PERIODS)
  data.frame(x = x, a = a, time = pmin(event_time, cens_time),
             event = as.integer(event_time <= cens_time))
}
gauss_hermite <- local({
  J <- matrix(0, 60L, 60L)   # Golub-Welsch: the Jacobi matrix of the Hermite polynomials
  J[cbind(1:59, 2:60)] <- J[cbind(2:60, 1:59)] <- sqrt(1:59)
  e <- eigen(J, symmetric = TRUE)
  list(x = e$values, w = e$vectors[1L, ]^2)
})
true_continuous <- function(arm, t) {
  vapply(seq_along(t), function(i) {
    sum(gauss_hermite$w * exp(-LAMBDA0 * t[i] * exp(0.7 * gauss_hermite$x - 0.5 * (arm[i] - 1L))))
  }, numeric(1))
}
truth_continuous <- list(
  curve = true_continuous,
  rd = (1 - true_continuous(rep(2L, 2L), TIMES)) - (1 - true_continuous(rep(1L, 2L), TIMES)),
  rmst = vapply(TIMES, function(tau) {
    stats::integrate(function(t) true_continuous(rep(2L, length(t)), t) -
                       true_continuous(rep(1L, length(t)), t), 0, tau, rel.tol = 1e-10)$value
  }, numeric(1)))
truth_discrete <- list(curve = function(arm, t) true_curves[cbind(arm, t)], rd = true_rd,
                       rmst = true_rmst)

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
  "augmented IPW (doubly robust), censoring by arm" = function(d) {
    survival_aipw(Surv(time, event) ~ a + x, data = d, treatment = "a", weight_model = a ~ x)
  },
  "augmented IPW (doubly robust), censoring model ~ x" = function(d) {
    survival_aipw(Surv(time, event) ~ a + x, data = d, treatment = "a", weight_model = a ~ x,
                  censoring_model = ~ x)
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
  },
  "augmented IPW (doubly robust) with censoring model ~ x (censoring on x)" = function(d) {
    survival_aipw(Surv(time, event) ~ a + x, data = d, treatment = "a", weight_model = a ~ x,
                  censoring_model = ~ x)
  },
  # Continuous-time cohort (simulate_continuous()); the Cox model is correct.
  "standardized Cox" = function(d) {
    survival_standardization(Surv(time, event) ~ a + x, data = d, treatment = "a", model = "cox")
  },
  "IP-weighted standardized Cox" = function(d) {
    survival_standardization(Surv(time, event) ~ a + x, data = d, treatment = "a", model = "cox",
                             weight_model = a ~ x)
  }
)
continuous <- c("standardized Cox", "IP-weighted standardized Cox")
# The estimators with a censoring model on x run on cohorts whose censoring
# depends on x.
informative <- names(estimators)[grepl("censoring on x", names(estimators), fixed = TRUE)]
only <- Sys.getenv("CAUSALLIB_COVERAGE_ESTIMATORS", "")
if (nzchar(only)) estimators <- estimators[grepl(only, names(estimators))]

covers <- function(lo, hi, truth) as.numeric(lo <= truth & truth <= hi)

# The survival at TIMES is the curve's step at the last time <= TIMES.
one_replication <- function(d, dc, di) {
  lapply(stats::setNames(nm = names(estimators)), function(e) {
    cont <- e %in% continuous
    truth <- if (cont) truth_continuous else truth_discrete
    fit <- suppressWarnings(estimators[[e]](if (cont) dc else if (e %in% informative) di else d))
    tab <- tidy(fit)
    band <- tidy(fit, band = "simultaneous")
    arm <- match(as.character(tab$treatment), fit$levels)
    at <- unlist(lapply(1:2, function(k) which(arm == k)[findInterval(TIMES, tab$time[arm == k])]))
    truth_s <- truth$curve(rep(1:2, each = length(TIMES)), rep(TIMES, 2L))
    rd <- tidy(estimate_effect(fit, times = TIMES))
    rmst <- tidy(estimate_effect(fit, times = TIMES, contrast = "rmst_difference"))
    # The band covers each curve from band_start() (every arm has had 20
    # events) on; its rows before that are NA.
    grid <- band$time > 0 & !is.na(band$conf.low)
    truth_band <- truth$curve(match(as.character(band$treatment[grid]), fit$levels), band$time[grid])
    c(survival = mean(covers(tab$conf.low[at], tab$conf.high[at], truth_s)),
      risk_difference = mean(covers(rd$conf.low, rd$conf.high, truth$rd)),
      rmst_difference = mean(covers(rmst$conf.low, rmst$conf.high, truth$rmst)),
      band = all(covers(band$conf.low[grid], band$conf.high[grid], truth_band) == 1),
      band_from = band_start(fit),
      se_rd = rd$std.error[2L], est_rd = rd$estimate[2L] - truth$rd[2L])
  })
}

set.seed(COV_SEED)
started <- proc.time()[["elapsed"]]
runs <- vector("list", REPS)
for (r in seq_len(REPS)) {
  d <- simulate_cohort(N)
  # (seeded per replication, so that a Cox row's data do not depend on the other rows)
  dc <- withr::with_seed(COV_SEED + r, simulate_continuous(N))
  di <- withr::with_seed(2L * COV_SEED + r, simulate_cohort(N, informative = TRUE))
  runs[[r]] <- one_replication(d, dc, di)
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
             band_from = sprintf("%.2f", stats::median(m[, "band_from"])),
             se_ratio = sprintf("%.3f", mean(m[, "se_rd"]) / stats::sd(m[, "est_rd"])),
             bias = sprintf("%.4f", mean(m[, "est_rd"])))
})
tab <- do.call(rbind, rows)

lines <- c(
  "# Coverage of influence-function intervals of survival curves",
  "",
  paste0(run_info(), "."),
  "",
  sprintf(paste("Data: %d replications (seed %d) of n = %d people: x ~ N(0, 1), a ~ Bernoulli(plogis(0.6 x - 0.2)),",
                "discrete-time hazard plogis(-2.8 + 0.06 t + 0.7 x - 0.5 a) in periods t = 1..%d, censoring",
                "uniform over the periods (half of it at the end). True curves by Monte Carlo over 10^6 draws of x.",
                "The rows marked (censoring on x) run on a third cohort per replication whose censoring depends on x:",
                "hazard plogis(-2.6 + 0.8 x) in periods 1..9, the rest censored at the end.",
                "The Cox rows use the same design in continuous time (drawn in the same replications): hazard",
                "%.2f exp(0.7 x - 0.5 a), censoring uniform on (0, %d) for half the people and at %d for the others;",
                "true curves by Gauss-Hermite quadrature in x."),
          REPS, COV_SEED, N, PERIODS, LAMBDA0, PERIODS, PERIODS),
  sprintf(paste("Nominal 95%% intervals, each estimator's default (`se = \"sandwich\"`). Columns: coverage of the",
                "pointwise intervals of both arms' survival at t = %s; of the risk difference and the RMST difference at",
                "the same times; of the simultaneous band (`tidy(band = \"simultaneous\")`) over both curves from",
                "`band_start()` (the first time at which both arms have had 20 events; median in the column band from)",
                "to their end;",
                "in parentheses the Monte Carlo standard error. se_ratio = mean sandwich standard error of the",
                "risk difference at t = %d over its standard deviation across replications; bias of that risk difference."),
          paste(TIMES, collapse = " and "), TIMES[2L]),
  "",
  "| estimator | survival | risk difference | RMST difference | band | band from | se_ratio | bias |",
  "|---|---:|---:|---:|---:|---:|---:|---:|",
  sprintf("| %s | %s | %s | %s | %s | %s | %s | %s |", tab$estimator, tab$survival, tab$risk_difference,
          tab$rmst_difference, tab$band, tab$band_from, tab$se_ratio, tab$bias),
  "",
  sprintf("Target: 93-97%% for every estimator and quantity. Total time %.0f s.", elapsed)
)
writeLines(lines, OUT)
cat(lines, sep = "\n")
