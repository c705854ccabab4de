# Confounder selection on simulated data with known roles: how often each
# method keeps the confounders, instruments, outcome-only predictors and
# noise, and the bias, spread and 95% interval coverage of the effect
# estimated by least squares on the treatment and the selected covariates.
# Run by hand from the package root (about 40 minutes on a busy 2-core machine):
#
#   Rscript bench/confounder-selection.R   # writes bench/results/confounder-selection.md
#
# Environment variables: CAUSALLIB_LIB (library to load causallib from),
# CAUSALLIB_SELECTION_REPS (default 300), CAUSALLIB_SELECTION_OUT.
#
# Never run from the tests. See bench/README.md.

source(file.path("bench", "common.R"))   # set-up and run_info()
# simulate_selection() and ols_effect(): the generator of the tests
source(file.path("tests", "testthat", "helper-confounder-selection.R"))

REPS <- as.integer(Sys.getenv("CAUSALLIB_SELECTION_REPS", "300"))
OUT <- Sys.getenv("CAUSALLIB_SELECTION_OUT", file.path("bench", "results", "confounder-selection.md"))
SEL_SEED <- 20261201L

DESIGNS <- list(
  list(label = "n = 300, p = 40, 2 of each role, independent", n = 300, p = 40, k = 2, rho = 0),
  list(label = "n = 500, p = 100, 3 of each role, independent", n = 500, p = 100, k = 3, rho = 0),
  list(label = "n = 500, p = 100, 3 of each role, corr 0.5^|i-j|", n = 500, p = 100, k = 3, rho = 0.5)
)

# Each method's selected columns for one data set.
select_all <- function(d, k) {
  x <- as.matrix(d[, -(1:2)])
  sel <- select_confounders_fit(x, d$a, d$y)
  tab <- sel$table
  # single selection: the outcome lasso with the treatment unpenalized, by
  # Frisch-Waugh-Lovell a plug-in lasso of y on x after partialling out a
  naive <- causallib:::plugin_lasso(stats::resid(stats::lm(x ~ d$a)),
                                    stats::resid(stats::lm(d$y ~ d$a)), "gaussian")
  rfe <- select_confounders_fit(x, d$a, d$y, method = "recursive_elimination", n_keep = 3 * k)
  list(
    full = colnames(x),
    double = sel$selected,
    `outcome lasso (y on x)` = tab$variable[tab$reason %in% c("outcome lasso", "both lassos")],
    `treatment lasso only` = tab$variable[tab$reason %in% c("treatment lasso", "both lassos")],
    `single selection (y on a, x)` = colnames(x)[naive$coef != 0],
    `recursive elimination (outcome, 3k kept)` = rfe$selected
  )
}

one_rep <- function(design) {
  d <- simulate_selection(n = design$n, p = design$p, k = design$k, rho = design$rho)
  roles <- attr(d, "roles")
  sets <- select_all(d, design$k)
  do.call(rbind, lapply(names(sets), function(m) {
    s <- sets[[m]]
    e <- ols_effect(d, s)
    data.frame(method = m,
               confounder = mean(names(roles)[roles == "confounder"] %in% s),
               instrument = mean(names(roles)[roles == "instrument"] %in% s),
               outcome = mean(names(roles)[roles == "outcome"] %in% s),
               noise = mean(names(roles)[roles == "noise"] %in% s),
               size = length(s), error = e[["estimate"]] - 1,
               covers = e[["low"]] < 1 && e[["high"]] > 1, length = e[["high"]] - e[["low"]])
  }))
}

start <- proc.time()[["elapsed"]]
lines <- c("# Confounder selection: recovery, bias and coverage", "", paste0(run_info(), "."), "",
           sprintf(paste(
             "Data (`simulate_selection()` of the tests): %d replications per design (seed %d).",
             "x ~ N(0, Sigma); k confounders (logit coefficient 1 in the treatment, 0.25 in the outcome),",
             "k instruments (treatment only, 1), k outcome-only predictors (outcome only, 1), the rest noise;",
             "a ~ Bernoulli(plogis(x'gamma)), y = a + x'beta + N(0, 1), so the effect is 1.",
             "Each method selects columns; the effect is then the least-squares coefficient of a in y ~ a + selected,",
             "with its classical 95%% interval. Columns: share of each role kept, mean number kept,",
             "bias and standard deviation of the estimate, coverage (Monte Carlo SE about 1 point), mean interval length."),
             REPS, SEL_SEED), "")
for (design in DESIGNS) {
  set.seed(SEL_SEED)
  res <- do.call(rbind, lapply(seq_len(REPS), function(r) one_rep(design)))
  by <- split(res, factor(res$method, levels = unique(res$method)))
  lines <- c(lines, paste("##", design$label), "",
             "| method | confounders | instruments | outcome-only | noise | size | bias | sd | coverage | length |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
  for (m in names(by)) {
    b <- by[[m]]
    lines <- c(lines, sprintf("| %s | %.3f | %.3f | %.3f | %.3f | %.1f | %+.3f | %.3f | %.1f%% | %.3f |",
                              m, mean(b$confounder), mean(b$instrument), mean(b$outcome), mean(b$noise),
                              mean(b$size), mean(b$error), stats::sd(b$error), 100 * mean(b$covers),
                              mean(b$length)))
  }
  lines <- c(lines, "")
}
lines <- c(lines, sprintf("Total time %.0f s.", proc.time()[["elapsed"]] - start))
writeLines(lines, OUT)
cat(lines, sep = "\n")
