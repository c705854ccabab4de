# Benchmark: ipw() + estimate_effect(se = "sandwich") versus glm() + sandwich
# (and WeightIt when installed). Run by hand from the package root:
#
#   bash bench/run.sh                 # everything, writes bench/results/ipw.md
#   Rscript bench/ipw.R               # same, without the wrapper
#   Rscript bench/ipw.R --mem METHOD N
#       internal: one memory-measurement subprocess (simulate data, run METHOD
#       once); METHOD "data" only simulates. Meant to run under
#       /usr/bin/time -f %M, which reports the peak RSS in KB.
#
# Never run from the tests. See bench/README.md.

source(file.path("bench", "common.R"))   # set-up, simulate_ipw_data(), timing, memory

SIZES <- as.numeric(strsplit(Sys.getenv("CAUSALLIB_BENCH_N", "1e5,1e6"), ",")[[1]])
REPS <- as.integer(Sys.getenv("CAUSALLIB_BENCH_REPS", "3"))
OUT <- Sys.getenv("CAUSALLIB_BENCH_OUT", file.path("bench", "results", "ipw.md"))
TOL <- 1e-6

# ---------------------------------------------------------------- data --------
# simulate_ipw_data() in bench/common.R: the matrix X, the vectors a and y and
# the data frame df (x1..x20, a, y), the same objects for every method.
ps_formula <- stats::reformulate(XNAMES, response = "a")

# --------------------------------------------------------------- methods ------
# Each returns c(estimate, std_error) of the ATE (treated minus control).
has_weightit <- function() requireNamespace("WeightIt", quietly = TRUE)

methods <- list(
  causallib_matrix = function(d) {
    f <- ipw_fit(d$X, d$a)
    e <- estimate_effect(f, outcome = d$y)
    tt <- tidy(e)
    c(tt$estimate[1], tt$std.error[1])
  },
  causallib_formula = function(d) {
    f <- ipw(ps_formula, data = d$df)
    e <- estimate_effect(f, outcome = "y")
    tt <- tidy(e)
    c(tt$estimate[1], tt$std.error[1])
  },
  # The usual R recipe. NB: HC0 on the weighted lm treats the weights as
  # known, i.e. ignores the estimation of the propensity model.
  glm_sandwich = function(d) {
    g <- stats::glm(ps_formula, family = stats::binomial(), data = d$df)
    p <- stats::fitted(g)
    w <- d$a / p + (1 - d$a) / (1 - p)
    m <- stats::lm(y ~ a, data = d$df, weights = w)
    V <- sandwich::vcovHC(m, type = "HC0")
    c(unname(stats::coef(m)["a"]), sqrt(V["a", "a"]))
  },
  weightit = function(d) {
    W <- WeightIt::weightit(ps_formula, data = d$df, method = "glm", estimand = "ATE")
    ns <- asNamespace("WeightIt")
    if (exists("lm_weightit", envir = ns)) {
      m <- WeightIt::lm_weightit(y ~ a, data = d$df, weightit = W)   # M-estimation SE
    } else if (exists("glm_weightit", envir = ns)) {
      m <- WeightIt::glm_weightit(y ~ a, data = d$df, weightit = W)
    } else {
      m <- stats::lm(y ~ a, data = d$df, weights = W$weights)
      return(c(unname(stats::coef(m)["a"]), sqrt(sandwich::sandwich(m)["a", "a"])))
    }
    c(unname(stats::coef(m)["a"]), sqrt(stats::vcov(m)["a", "a"]))
  }
)

active_methods <- function() {
  m <- names(methods)
  if (!has_weightit()) m <- setdiff(m, "weightit")
  m
}

weightit_label <- function() {
  if (!has_weightit()) return("not installed")
  ns <- asNamespace("WeightIt")
  how <- if (exists("lm_weightit", envir = ns)) "lm_weightit (M-estimation SE)"
         else if (exists("glm_weightit", envir = ns)) "glm_weightit (M-estimation SE)"
         else "lm + sandwich (HC0)"
  sprintf("WeightIt %s, %s", utils::packageVersion("WeightIt"), how)
}

# --------------------------------------------------- memory subprocess mode ---
if (is_mem_subprocess()) {
  run_mem_subprocess(simulate_ipw_data, packages = c("sandwich", "WeightIt"),
                     run = function(method, d, setup) methods[[method]](d))
}

# ------------------------------------------------------------- timing ---------
time_method <- function(fun, d, reps = REPS) {
  t <- time_call(function() fun(d), reps)
  c(t, list(estimate = t$res[1], std_error = t$res[2]))
}
notes <- new_notes()   # the report's notes; failed memory subprocesses go there
peak_mb <- function(method, n) peak_rss_mb("ipw", method, n, on_fail = notes$add)

check_bench_setup("ipw")
if (!requireNamespace("sandwich", quietly = TRUE)) stop("Package 'sandwich' is needed")

# warm-up (lazy loading, byte code, first-call costs) outside the timings
local({
  d0 <- simulate_ipw_data(2000)
  for (m in active_methods()) invisible(methods[[m]](d0))
})

rows <- list()
warnings_out <- character()
for (n in SIZES) {
  message(sprintf("n = %s: simulating", format(n, big.mark = ",")))
  d <- simulate_ipw_data(n)
  design_mb <- n * (P_COV + 1) * 8 / 2^20
  tm <- list()
  for (m in active_methods()) {
    message(sprintf("  timing %s", m))
    tm[[m]] <- time_method(methods[[m]], d)
    message(sprintf("    runs: %s s", paste(sprintf("%.3f", tm[[m]]$all), collapse = ", ")))
  }
  rm(d); invisible(gc())
  message("  peak memory (subprocesses)")
  base_mb <- peak_mb("data", n)
  mem <- vapply(active_methods(), function(m) peak_mb(m, n), numeric(1))
  ref <- tm$causallib_matrix
  for (m in active_methods()) {
    extra <- mem[[m]] - base_mb
    rows[[length(rows) + 1]] <- data.frame(
      n = format(n, scientific = TRUE), method = m,
      seconds = tm[[m]]$seconds,
      ratio_vs_causallib = tm[[m]]$seconds / ref$seconds,
      extra_peak_MB = extra, design_MB = design_mb, memory_ratio = extra / design_mb,
      estimate = tm[[m]]$estimate, std_error = tm[[m]]$std_error
    )
    diff <- abs(tm[[m]]$estimate - ref$estimate)
    if (!is.finite(diff) || diff > TOL) {
      msg <- sprintf("n = %g: estimate of %s (%.10f) differs from causallib_matrix (%.10f) by %.3g > %g",
                     n, m, tm[[m]]$estimate, ref$estimate, diff, TOL)
      warning(msg, call. = FALSE)
      warnings_out <- c(warnings_out, msg)
    }
  }
  message(sprintf("  baseline (data only) peak RSS: %.1f MB", base_mb))
}
tab <- do.call(rbind, rows)

# ------------------------------------------------------------- report ---------
fmt <- function(x, d) formatC(x, format = "f", digits = d)
md <- c(
  "# ipw() + estimate_effect(se = \"sandwich\") vs glm() + sandwich",
  "",
  sprintf("%s (%d logical cores); %s.", run_info(), parallel::detectCores(), weightit_label()),
  "",
  sprintf("%d covariates; seconds = median elapsed of %d runs in one R process; ratio_vs_causallib = seconds / seconds(causallib_matrix).",
          P_COV, REPS),
  "extra_peak_MB = peak RSS of a fresh Rscript running the method minus that of one only simulating the data (GNU time %M);",
  "design_MB = n x 21 doubles; memory_ratio = extra_peak_MB / design_MB.",
  "glm_sandwich's SE (HC0 on the weighted lm) ignores the estimation of the propensity model; the causallib and WeightIt SEs include it.",
  "",
  "| n | method | seconds | ratio_vs_causallib | extra_peak_MB | design_MB | memory_ratio | estimate | std_error |",
  "|---|---|---:|---:|---:|---:|---:|---:|---:|",
  sprintf("| %s | %s | %s | %s | %s | %s | %s | %s | %s |",
          tab$n, tab$method, fmt(tab$seconds, 3), fmt(tab$ratio_vs_causallib, 2),
          fmt(tab$extra_peak_MB, 1), fmt(tab$design_MB, 1), fmt(tab$memory_ratio, 2),
          fmt(tab$estimate, 8), formatC(tab$std_error, format = "g", digits = 6)),
  "",
  if (length(warnings_out)) c("**Estimate mismatches (tolerance 1e-6):**", "", paste("-", warnings_out))
  else sprintf("All estimates agree with causallib_matrix to %g.", TOL),
  if (length(notes$get())) c("", "**Notes:**", "", paste("-", notes$get()))
)
dir.create(dirname(OUT), showWarnings = FALSE, recursive = TRUE)
writeLines(md, OUT)
cat(md, sep = "\n")
