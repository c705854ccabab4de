# Benchmark: ipw() + estimate_effect(se = "sandwich") versus glm() + sandwich
# (and WeightIt when installed), and the formula path of ipw() against the
# matrix path ipw_fit(), with numeric and with factor covariates. Run by hand
# from the package root:
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
# the data frame df (x1..x20, a, y), the same objects for every method. The
# factor variant adds to df the factors g16..g20, the quartiles of x16..x20
# (4 levels each), and builds Xf, the matrix of the factor formula's model
# matrix without its intercept column: x1..x15 and 3 indicators per factor.
ps_formula <- stats::reformulate(XNAMES, response = "a")
FACTORS <- paste0("g", 16:20)
factor_formula <- stats::reformulate(c(XNAMES[1:15], FACTORS), response = "a")
QUARTILE_BREAKS <- stats::qnorm(c(0.25, 0.5, 0.75))

simulate_ipw_bench_data <- function(n) {
  d <- simulate_ipw_data(n)
  Xf <- matrix(0, n, 15 + 3 * length(FACTORS))
  Xf[, 1:15] <- d$X[, 1:15]
  names_f <- XNAMES[1:15]
  for (k in seq_along(FACTORS)) {
    code <- findInterval(d$X[, 15 + k], QUARTILE_BREAKS) + 1L
    d$df[[FACTORS[k]]] <- structure(code, levels = paste0("q", 1:4), class = "factor")
    for (l in 2:4) Xf[, 15 + 3 * (k - 1) + l - 1] <- as.double(code == l)
    names_f <- c(names_f, paste0(FACTORS[k], "q", 2:4))
  }
  colnames(Xf) <- names_f
  d$Xf <- Xf
  d
}

# --------------------------------------------------------------- methods ------
# Each returns c(estimate, std_error) of the ATE (treated minus control).
has_weightit <- function() requireNamespace("WeightIt", quietly = TRUE)

# The ATE and its sandwich SE of a fitted causallib weight model; outcome is
# a vector, or the name of a column of the data of a formula fit.
causallib_ate <- function(fit, outcome) {
  tt <- tidy(estimate_effect(fit, outcome = !!outcome))
  c(tt$estimate[1], tt$std.error[1])
}

methods <- list(
  causallib_matrix = function(d) causallib_ate(ipw_fit(d$X, d$a), d$y),
  causallib_formula = function(d) causallib_ate(ipw(ps_formula, data = d$df), "y"),
  causallib_matrix_factors = function(d) causallib_ate(ipw_fit(d$Xf, d$a), d$y),
  causallib_formula_factors = function(d) causallib_ate(ipw(factor_formula, data = d$df), "y"),
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

# The matrix method each method is compared with (ratio_vs_matrix, the
# estimate check), and the columns of its design (intercept included).
reference_of <- function(m) if (grepl("_factors$", m)) "causallib_matrix_factors" else "causallib_matrix"
design_cols <- function(m) if (grepl("_factors$", m)) 1 + 15 + 3 * length(FACTORS) else P_COV + 1

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
  run_mem_subprocess(simulate_ipw_bench_data, packages = c("sandwich", "WeightIt"),
                     run = function(method, d, setup) methods[[method]](d), reset_peak = TRUE)
}

# ------------------------------------------------------------- timing ---------
# reps rounds, each timing one run of every method in turn, so that a change
# of the machine's state over the runs (other processes, the memory malloc
# holds, which decides how many page faults a run takes) weighs on every
# method alike. Per method: seconds (median), all (each run), other_cores
# (the most CPU other processes used during a run), estimate, std_error;
# other R processes seen go to concurrent.
time_methods <- function(ms, d, reps = REPS) {
  all <- other <- matrix(NA_real_, reps, length(ms), dimnames = list(NULL, ms))
  res <- list()
  for (r in seq_len(reps)) {
    for (m in ms) {
      concurrent <<- c(concurrent, other_benchmarks("ipw"))
      t <- time_call(function() methods[[m]](d), 1, busy = TRUE)
      all[r, m] <- t$seconds
      other[r, m] <- t$other_cores
      res[[m]] <- t$res
    }
  }
  concurrent <<- c(concurrent, other_benchmarks("ipw"))
  stats::setNames(lapply(ms, function(m) {
    message(sprintf("  %s runs: %s s", m, paste(sprintf("%.3f", all[, m]), collapse = ", ")))
    list(seconds = stats::median(all[, m]), all = all[, m], other_cores = max(other[, m]),
         estimate = res[[m]][1], std_error = res[[m]][2])
  }), ms)
}
notes <- new_notes()   # the report's notes; failed memory subprocesses go there
# glibc returns every freed block above 128 KB to the system at once, so
# memory the simulation freed cannot hide a method's allocations.
peak_mb <- function(method, n) {
  peak_rss_mb("ipw", method, n, on_fail = notes$add, env = "MALLOC_MMAP_THRESHOLD_=131072")
}

check_bench_setup("ipw")
if (!requireNamespace("sandwich", quietly = TRUE)) stop("Package 'sandwich' is needed")

# warm-up (lazy loading, byte code, first-call costs) outside the timings
local({
  d0 <- simulate_ipw_bench_data(2000)
  for (m in active_methods()) invisible(methods[[m]](d0))
})

concurrent <- character()
load_start <- load_avg()
rows <- list()
warnings_out <- character()
for (n in SIZES) {
  message(sprintf("n = %s: simulating", format(n, big.mark = ",")))
  d <- simulate_ipw_bench_data(n)
  message(sprintf("  timing %d rounds of %s", REPS, paste(active_methods(), collapse = ", ")))
  tm <- time_methods(active_methods(), d)
  rm(d); invisible(gc())
  message("  peak memory (subprocesses)")
  base_mb <- peak_mb("data", n)
  mem <- vapply(active_methods(), function(m) peak_mb(m, n), numeric(1))
  for (m in active_methods()) {
    ref <- tm[[reference_of(m)]]
    extra <- mem[[m]] - base_mb
    design_mb <- n * design_cols(m) * 8 / 2^20
    rows[[length(rows) + 1]] <- data.frame(
      n = format(n, scientific = TRUE), method = m,
      seconds = tm[[m]]$seconds, runs = paste(sprintf("%.3f", tm[[m]]$all), collapse = ", "),
      ratio_vs_matrix = tm[[m]]$seconds / ref$seconds, other_cores = tm[[m]]$other_cores,
      extra_peak_MB = extra, design_MB = design_mb, memory_ratio = extra / design_mb,
      estimate = tm[[m]]$estimate, std_error = tm[[m]]$std_error, stringsAsFactors = FALSE
    )
    diff <- abs(tm[[m]]$estimate - ref$estimate)
    if (!is.finite(diff) || diff > TOL) {
      msg <- sprintf("n = %g: estimate of %s (%.10f) differs from %s (%.10f) by %.3g > %g",
                     n, m, tm[[m]]$estimate, reference_of(m), ref$estimate, diff, TOL)
      warning(msg, call. = FALSE)
      warnings_out <- c(warnings_out, msg)
    }
  }
  message(sprintf("  baseline (data only) peak RSS: %.1f MB", base_mb))
}
tab <- do.call(rbind, rows)
add_timing_notes(notes, tab$other_cores, concurrent, load_start)

# The formula path against the matrix path (time and extra memory) and
# against Python causallib's documented time, at the largest n.
PYTHON_CAUSALLIB_S <- 0.9
summary_lines <- function(tab) {
  big <- tab[tab$n == format(max(SIZES), scientific = TRUE), ]
  row <- function(m) big[big$method == m, ]
  out <- character()
  for (v in list(c("causallib_formula", "causallib_matrix", "20 numeric covariates"),
                 c("causallib_formula_factors", "causallib_matrix_factors", "15 numeric covariates and 5 four-level factors"))) {
    f <- row(v[1]); m <- row(v[2])
    if (!nrow(f) || !nrow(m)) next
    out <- c(out, sprintf("- n = %s, %s: formula / matrix = %.2f in time (target <= 1.2), %.2f in extra peak memory (%.1f vs %.1f MB).",
                          f$n, v[3], f$seconds / m$seconds, f$extra_peak_MB / m$extra_peak_MB,
                          f$extra_peak_MB, m$extra_peak_MB))
  }
  f <- row("causallib_formula")
  if (nrow(f) && max(SIZES) == 1e6) {
    out <- c(out, sprintf("- Python causallib's IPW takes about %.1f s at 10^6 x 20 without any SE (the documented reference; not rerun here: Python causallib cannot be installed on this machine). causallib_formula, with the sandwich SE, takes %.3f s: %.1fx faster (target >= 2).",
                          PYTHON_CAUSALLIB_S, f$seconds, PYTHON_CAUSALLIB_S / f$seconds))
  }
  out
}

# ------------------------------------------------------------- report ---------
fmt <- function(x, d) formatC(x, format = "f", digits = d)
md <- c(
  "# ipw() + estimate_effect(se = \"sandwich\") vs glm() + sandwich; the formula path vs the matrix path",
  "",
  sprintf("%s (%d logical cores); %s.", run_info(), parallel::detectCores(), weightit_label()),
  "",
  sprintf("Reference: Python causallib's IPW takes about %.1f s at 10^6 x 20 without any SE (the documented figure; not rerun here: Python causallib cannot be installed on this machine).",
          PYTHON_CAUSALLIB_S),
  "",
  sprintf("seconds = median elapsed of %d runs in one R process, the methods taking turns (runs: each run, in order); ratio_vs_matrix = seconds / seconds of the matrix method on the same covariates (causallib_matrix: 20 numeric covariates; causallib_matrix_factors: x1..x15 and the factors g16..g20, 4 levels each, as 15 indicators).",
          REPS),
  "other_cores = the most CPU other processes used during any timed run of the method, in cores (0 on an idle machine).",
  "extra_peak_MB = peak RSS of a fresh Rscript running the method minus that of one only simulating the data (GNU time %M);",
  "design_MB = the model matrix in doubles (n x 21, or n x 31 for the factor rows); memory_ratio = extra_peak_MB / design_MB.",
  "glm_sandwich's SE (HC0 on the weighted lm) ignores the estimation of the propensity model; the causallib and WeightIt SEs include it.",
  "",
  "| n | method | seconds | runs (s) | ratio_vs_matrix | other_cores | extra_peak_MB | design_MB | memory_ratio | estimate | std_error |",
  "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
  sprintf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |",
          tab$n, tab$method, fmt(tab$seconds, 3), tab$runs, fmt(tab$ratio_vs_matrix, 2),
          fmt(tab$other_cores, 2), fmt(tab$extra_peak_MB, 1), fmt(tab$design_MB, 1),
          fmt(tab$memory_ratio, 2), fmt(tab$estimate, 8),
          formatC(tab$std_error, format = "g", digits = 6)),
  "",
  summary_lines(tab),
  "",
  if (length(warnings_out)) c("**Estimate mismatches (tolerance 1e-6):**", "", paste("-", warnings_out))
  else sprintf("All estimates agree with their matrix method to %g.", TOL),
  if (length(notes$get())) c("", "**Notes:**", "", paste("-", notes$get()))
)
dir.create(dirname(OUT), showWarnings = FALSE, recursive = TRUE)
writeLines(md, OUT)
cat(md, sep = "\n")
