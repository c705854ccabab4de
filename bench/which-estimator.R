# Which estimator when? Bias, RMSE and 95% interval coverage of the ATE
# estimators (IPW, standardization, AIPW, TMLE, matching) across designs of
# simulate_causal(): good and poor overlap, a misspecified outcome or
# propensity model (or both), and a small sample. Every estimator gets the
# same main-effects working models; the truth is each sample's average of
# its units' true conditional effects (attr(d, "truth")$ate), so bias and
# coverage are measured against what the estimator targets on that sample.
# Run by hand from the package root (about 10 minutes on 2 cores):
#
#   Rscript bench/which-estimator.R     # writes bench/results/which-estimator.md
#
# Environment variables: CAUSALLIB_LIB (library to load causallib from),
# CAUSALLIB_WHICH_REPS (default 200), CAUSALLIB_WHICH_OUT.
#
# Never run from the tests. See bench/README.md.

source(file.path("bench", "common.R"))   # set-up and run_info()

REPS <- as.integer(Sys.getenv("CAUSALLIB_WHICH_REPS", "200"))
OUT <- Sys.getenv("CAUSALLIB_WHICH_OUT", file.path("bench", "results", "which-estimator.md"))
WHICH_SEED <- 20261201L

designs <- list(
  "good overlap, models right" = list(n = 1000, overlap_strength = 0.5, nonlinear = "none"),
  "poor overlap, models right" = list(n = 1000, overlap_strength = 2.5, nonlinear = "none"),
  "outcome model wrong" = list(n = 1000, overlap_strength = 1, nonlinear = "outcome"),
  "propensity model wrong" = list(n = 1000, overlap_strength = 1, nonlinear = "propensity"),
  "both models wrong" = list(n = 1000, overlap_strength = 1, nonlinear = "both"),
  "small sample (n = 200)" = list(n = 200, overlap_strength = 1, nonlinear = "none")
)

# The working models: main effects of the confounders (and, for the outcome,
# the treatment's interactions with the effect modifier and c1, the outcome
# predictors) -- right unless the design adds nonlinear terms.
OUTCOME <- y ~ a * (m1 + c1) + c2 + c3 + p1 + p2
PROPENSITY <- a ~ c1 + c2 + c3

estimators <- list(
  IPW = function(d) estimate_effect(ipw(PROPENSITY, d), outcome = y),
  standardization = function(d) estimate_effect(standardization(OUTCOME, d, treatment = a)),
  AIPW = function(d) estimate_effect(aipw(OUTCOME, PROPENSITY, d, treatment = a)),
  TMLE = function(d) estimate_effect(tmle(OUTCOME, PROPENSITY, d, treatment = a)),
  `matching (ATE, with replacement)` = function(d) {
    estimate_effect(matching(PROPENSITY, d, estimand = "ATE", replace = TRUE), outcome = y, R = 100)
  }
)

one_rep <- function(design) {
  d <- do.call(simulate_causal, design)
  truth <- attr(d, "truth")$ate[[1]]
  vapply(estimators, function(f) {
    e <- tryCatch(suppressWarnings(f(d)), error = function(err) NULL)
    if (is.null(e)) return(c(NA_real_, NA_real_, NA_real_))
    ci <- confint(e)["1 vs 0", ]
    c(coef(e)[["1 vs 0"]] - truth, ci[1] <= truth & truth <= ci[2], ci[2] - ci[1])
  }, numeric(3))
}

set.seed(WHICH_SEED)
started <- Sys.time()
rows <- list()
for (name in names(designs)) {
  res <- replicate(REPS, one_rep(designs[[name]]), simplify = "array")   # 3 x estimators x REPS
  for (est in names(estimators)) {
    err <- res[1, est, ]
    ok <- !is.na(err)
    rows[[length(rows) + 1L]] <- data.frame(
      design = name, estimator = est, bias = mean(err[ok]), rmse = sqrt(mean(err[ok]^2)),
      coverage = mean(res[2, est, ok]), mc_se = sqrt(mean(res[2, est, ok]) * (1 - mean(res[2, est, ok])) / sum(ok)),
      ci_width = mean(res[3, est, ok]), failed = sum(!ok), stringsAsFactors = FALSE)
  }
  message(name, " done, ", format(round(difftime(Sys.time(), started, units = "secs"))))
}
tab <- do.call(rbind, rows)
elapsed <- as.numeric(difftime(Sys.time(), started, units = "secs"))

fmt <- function(x, d = 3) formatC(x, digits = d, format = "f")
lines <- c(
  "# Which estimator when? Bias, RMSE and coverage on simulate_causal() designs",
  "",
  run_info(),
  "",
  paste0("Data: `simulate_causal(n, overlap_strength, nonlinear)` with its defaults otherwise: confounders c1 (continuous), ",
         "c2 (continuous), c3 (binary), instrument i1, effect modifier m1, outcome predictors p1, p2, a collider and noise; ",
         "continuous outcome, effect 1 varying with m1 and c1; about 40% treated. ", REPS, " replications per design (seed ",
         WHICH_SEED, ")."),
  paste0("Working models, the same for every estimator: outcome `", deparse(OUTCOME), "`, propensity `",
         deparse(PROPENSITY), "` (main effects: right unless the design adds nonlinear terms). Each estimator's default ",
         "standard errors (sandwich; matching with replacement: its default, a percentile bootstrap, here with 100 replicates). Truth: each sample's mean of its units' true conditional ",
         "effects. coverage = share of 95% intervals containing the truth (Monte Carlo SE in parentheses); ",
         "ci_width = mean interval width; failed = replications where the estimator stopped with an error."),
  "",
  "| design | estimator | bias | RMSE | coverage | CI width | failed |",
  "|---|---|---:|---:|---:|---:|---:|",
  paste0("| ", tab$design, " | ", tab$estimator, " | ", fmt(tab$bias), " | ", fmt(tab$rmse), " | ",
         fmt(100 * tab$coverage, 1), "% (", fmt(100 * tab$mc_se, 1), ") | ", fmt(tab$ci_width), " | ", tab$failed, " |"),
  "",
  paste0("Total time ", round(elapsed), " s.")
)
writeLines(lines, OUT)
cat(lines, sep = "\n")
