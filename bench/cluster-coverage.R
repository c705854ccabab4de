# Coverage of cluster-robust intervals (the `cluster` argument) on
# person-trial-like data: persons enter 1 to 6 trials each, and a person's
# trials share the person's covariate level, outcome level (a random
# effect) and frailty, as in sequential target trials. Seeded replications
# with known truth; how often the 95% intervals clustered by person, and
# the unclustered ones that treat every row as independent, cover it.
# Run by hand from the package root (under a minute):
#
#   nice -n 10 Rscript bench/cluster-coverage.R  # writes bench/results/cluster-coverage.md
#
# Environment variables: CAUSALLIB_LIB (library to load causallib from),
# CAUSALLIB_COVERAGE_REPS (default 200), CAUSALLIB_COVERAGE_PERSONS
# (default 150), CAUSALLIB_COVERAGE_OUT.
#
# Never run from the tests. See bench/README.md.

source(file.path("bench", "common.R"))   # set-up and run_info()
suppressPackageStartupMessages(library(survival))

REPS <- as.integer(Sys.getenv("CAUSALLIB_COVERAGE_REPS", "200"))
PERSONS <- as.integer(Sys.getenv("CAUSALLIB_COVERAGE_PERSONS", "150"))
OUT <- Sys.getenv("CAUSALLIB_COVERAGE_OUT", file.path("bench", "results", "cluster-coverage.md"))
PERIODS <- 10L
TIMES <- c(4, 8)
COV_SEED <- 20261201L

# The discrete-time hazard of a person-trial with covariate x, treatment a
# and the person's frailty b in period t.
hazard <- function(t, x, a, b) stats::plogis(-2.8 + 0.06 * t + 0.7 * x - 0.5 * a + b)

# Persons with a covariate x, an outcome effect u and a frailty b; each
# enters 1 to 6 trials (rows). A person's trials mostly share one
# treatment, as persons tend to stay in one arm over sequential trials: a
# row takes the person's treatment with probability 0.8, otherwise a draw
# of its own, both with probability plogis(0.6 x - 0.2) (so the propensity
# model a ~ x is correct for every row).
simulate_trials <- function(persons) {
  trials <- sample.int(6L, persons, replace = TRUE)
  id <- rep(seq_len(persons), trials)
  n <- length(id)
  xp <- stats::rnorm(persons)
  u <- stats::rnorm(persons, sd = 1.5)
  b <- stats::rnorm(persons, sd = 1.5)
  x <- xp[id]
  p <- stats::plogis(0.6 * x - 0.2)
  ap <- stats::rbinom(persons, 1, stats::plogis(0.6 * xp - 0.2))
  a <- ifelse(stats::runif(n) < 0.8, ap[id], stats::rbinom(n, 1, p))
  y <- 1 + a + x + u[id] + stats::rnorm(n)
  event_time <- rep(PERIODS + 1L, n)
  for (t in rev(seq_len(PERIODS))) event_time[stats::runif(n) < hazard(t, x, a, b[id])] <- t
  cens_time <- sample(c(seq_len(PERIODS), rep(PERIODS, PERIODS)), n, replace = TRUE)
  data.frame(id = id, x = x, a = a, y = y, time = pmin(event_time, cens_time),
             event = as.integer(event_time <= cens_time))
}

# The true survival at TIMES under each level in the person-trial
# population: the mean over (x, b) of prod_{s <= t} (1 - h), by Monte
# Carlo over a large population drawn as simulate_trials() draws rows
# (each person weighted by their number of trials).
true_survival <- function(draws = 4e5) {
  set.seed(COV_SEED - 1L)
  trials <- sample.int(6L, draws, replace = TRUE)
  xp <- stats::rnorm(draws)
  b <- stats::rnorm(draws, sd = 1.5)
  id <- rep(seq_len(draws), trials)
  x <- xp[id]
  sapply(0:1, function(a) {
    S <- rep(1, length(id))
    out <- numeric(0)
    for (t in seq_len(PERIODS)) {
      S <- S * (1 - hazard(t, x, a, b[id]))
      if (t %in% TIMES) out <- c(out, mean(S))
    }
    out
  })
}

one_replication <- function(d) {
  z <- stats::qnorm(0.975)
  rows <- list()
  add <- function(name, truth, est, se_cl, se_un) {
    rows[[length(rows) + 1L]] <<- data.frame(
      estimator = name, truth = truth, estimate = est, se_clustered = se_cl, se_unclustered = se_un,
      cover_clustered = abs(est - truth) <= z * se_cl, cover_unclustered = abs(est - truth) <= z * se_un)
  }
  eff <- function(fit, ...) {
    e <- estimate_effect(fit, ...)
    list(est = unname(e$estimate), se = unname(sqrt(diag(e$vcov))))
  }
  ipw_cl <- eff(ipw(a ~ x, data = d, cluster = id), outcome = y)
  ipw_un <- eff(ipw(a ~ x, data = d), outcome = y)
  add("ipw(): ATE of y", 1, ipw_cl$est, ipw_cl$se, ipw_un$se)
  std_cl <- eff(standardization(y ~ a + x, data = d, treatment = a, cluster = id))
  std_un <- eff(standardization(y ~ a + x, data = d, treatment = a))
  add("standardization(): ATE of y", 1, std_cl$est, std_cl$se, std_un$se)
  km_cl <- eff(survival_ipw(Surv(time, event) ~ a, data = d, weight_model = a ~ x, cluster = id),
               times = TIMES)
  km_un <- eff(survival_ipw(Surv(time, event) ~ a, data = d, weight_model = a ~ x), times = TIMES)
  for (j in seq_along(TIMES)) {
    add(paste0("survival_ipw() KM: risk difference at ", TIMES[j]), TRUTH_RD[j], km_cl$est[j],
        km_cl$se[j], km_un$se[j])
  }
  do.call(rbind, rows)
}

truth <- true_survival()
TRUTH_RD <- (1 - truth[, 2]) - (1 - truth[, 1])

set.seed(COV_SEED)
started <- Sys.time()
sizes <- integer(REPS)
res <- vector("list", REPS)
for (r in seq_len(REPS)) {
  d <- simulate_trials(PERSONS)
  sizes[r] <- nrow(d)
  res[[r]] <- cbind(rep = r, suppressWarnings(one_replication(d)))
}
elapsed <- as.numeric(difftime(Sys.time(), started, units = "secs"))
res <- do.call(rbind, res)

summary_rows <- lapply(split(res, factor(res$estimator, unique(res$estimator))), function(s) {
  data.frame(
    estimator = s$estimator[1L], truth = sprintf("%.4f", s$truth[1L]),
    bias = sprintf("%.4f", mean(s$estimate) - s$truth[1L]),
    empirical_sd = sprintf("%.4f", stats::sd(s$estimate)),
    mean_se_clustered = sprintf("%.4f", mean(s$se_clustered)),
    mean_se_unclustered = sprintf("%.4f", mean(s$se_unclustered)),
    coverage_clustered = sprintf("%.1f%%", 100 * mean(s$cover_clustered)),
    coverage_unclustered = sprintf("%.1f%%", 100 * mean(s$cover_unclustered)))
})
tab <- do.call(rbind, summary_rows)

md_table <- function(df) {
  c(paste0("| ", paste(names(df), collapse = " | "), " |"),
    paste0("|", paste(rep("---", ncol(df)), collapse = "|"), "|"),
    apply(df, 1L, function(r) paste0("| ", paste(r, collapse = " | "), " |")))
}

mc_se <- 100 * sqrt(0.95 * 0.05 / REPS)
lines <- c(
  "# Coverage of cluster-robust intervals on person-trial data",
  "",
  paste0("Written by `bench/cluster-coverage.R` on ", format(Sys.time(), "%Y-%m-%d %H:%M %Z"), "."),
  "",
  paste0(REPS, " replications of ", PERSONS, " persons, each in 1 to 6 trials (rows; ",
         round(mean(sizes)), " rows on average). A person's trials share the person's covariate x, ",
         "an outcome effect (sd 1.5) and a frailty (sd 1.5 on the logit hazard), and mostly the ",
         "treatment: a row takes the person's treatment with probability 0.8, otherwise a draw of ",
         "its own, both with probability plogis(0.6 x - 0.2) (so `a ~ x` is the correct ",
         "propensity model for every row). Outcome y = 1 + a + x + u + e (true ATE 1); discrete-time survival ",
         "over 10 periods with hazard plogis(-2.8 + 0.06 t + 0.7 x - 0.5 a + b), uniform censoring; ",
         "the true risk differences are Monte Carlo means over 400,000 persons' trials."),
  "",
  "Each replication fits every estimator twice: with `cluster = id` (the person) and without ",
  "(every row taken as independent). Nominal 95% Wald intervals of the sandwich standard errors.",
  paste0("Monte Carlo standard error of a coverage near 95%: ", sprintf("%.1f", mc_se), " percentage points."),
  "",
  md_table(tab),
  "",
  "## Notes",
  "",
  paste0("- Run time: ", round(elapsed), " s for all replications (", run_info(), ")."),
  "- The clustered intervals sum each person's estimating (influence) functions over their trials,",
  "  with the factor G / (G - 1), G the number of persons; the unclustered ones treat the rows as",
  "  independent and are too narrow, by the ratio of the mean standard errors above."
)
dir.create(dirname(OUT), showWarnings = FALSE, recursive = TRUE)
writeLines(lines, OUT)
cat(lines, sep = "\n")
