# Helpers shared by the benchmark scripts bench/ipw.R, bench/aipw.R,
# bench/evaluate.R and bench/survival.R. Each script sources it first, from
# the package root:
#
#   source(file.path("bench", "common.R"))
#
# What it holds:
#   * set-up: CAUSALLIB_LIB first on .libPaths(), library(causallib),
#     options(causallib.threads = 2), and the constants SEED, P_COV, XNAMES;
#   * simulate_ipw_data(): the 20-covariate simulation of ipw.R, aipw.R,
#     evaluate.R and versions.R; simulate_survival_data() and TMAX, the
#     cohort of survival.R and versions.R; NHEFS_TERMS and the nhefs model
#     formulas of aipw.R, survival.R and versions.R;
#   * the `--mem METHOD N` subprocess mode (is_mem_subprocess(),
#     run_mem_subprocess()) and peak_rss_mb(), which runs it under GNU time;
#   * new_notes(): the lines of a report's "Notes" section;
#   * time_call(): the timing loop, optionally with the CPU time other
#     processes used meanwhile (machine_busy_s(), own_cpu_s());
#     add_timing_notes(): the report's notes on how reliable the timings are;
#   * facts for the report: run_info(), cpu_model(), ram_gb(), load_avg(),
#     other_benchmarks(); check_bench_setup().
#
# Never run from the tests. See bench/README.md.

# ---------------------------------------------------------------- set-up ------
local({
  lib <- Sys.getenv("CAUSALLIB_LIB", "")
  if (nzchar(lib)) .libPaths(c(lib, .libPaths()))
})
suppressPackageStartupMessages({
  library(causallib)
})
options(causallib.threads = 2)

SEED <- 20240601L
P_COV <- 20L
XNAMES <- paste0("x", seq_len(P_COV))
RSCRIPT <- file.path(R.home("bin"), "Rscript")

# ---------------------------------------------------------------- data --------
# Every method gets the same objects: the covariate matrix X, the vectors a
# and y, and the data frame df (x1..x20, a, y). The memory subprocesses all
# build all of them, so the "data only" baseline is comparable.
simulate_ipw_data <- function(n, seed = SEED, p = P_COV) {
  set.seed(seed)
  X <- matrix(0, n, p, dimnames = list(NULL, paste0("x", seq_len(p))))
  for (j in seq_len(p)) X[, j] <- stats::rnorm(n)   # column-wise: no n*p temporary
  beta <- seq(0.5, -0.5, length.out = p)
  a <- stats::rbinom(n, 1, stats::plogis(0.1 * rowSums(X[, 1:5]) - 0.2))
  y <- 1 * a + drop(X %*% beta) + stats::rnorm(n)
  df <- as.data.frame(X)
  df$a <- a
  df$y <- y
  list(X = X, a = a, y = y, df = df)
}

TMAX <- 120L   # administrative censoring period of simulate_survival_data()

# The survival data of survival.R and versions.R: n people, covariates x1..x20 ~ N(0, 1), a ~ Bernoulli(plogis(0.3 * s5 - 0.2))
# with s5 = x1 + ... + x5, and a constant discrete-time hazard
# plogis(-6 + 0.3 * a + 0.1 * s5) per period, so the event period is
# geometric; administrative censoring at TMAX. Nothing n x TMAX is built.
simulate_survival_data <- function(n, seed = SEED, p = P_COV, tmax = TMAX) {
  set.seed(seed)
  df <- vector("list", p)
  names(df) <- paste0("x", seq_len(p))
  for (j in seq_len(p)) df[[j]] <- stats::rnorm(n)
  s5 <- df$x1 + df$x2 + df$x3 + df$x4 + df$x5
  a <- stats::rbinom(n, 1, stats::plogis(0.3 * s5 - 0.2))
  h <- stats::plogis(-6 + 0.3 * a + 0.1 * s5)
  tev <- pmax(1, ceiling(log(stats::runif(n)) / log1p(-h)))
  df$a <- a
  df$time <- as.integer(pmin(tev, tmax))
  df$event <- as.integer(tev <= tmax)
  list(df = list2DF(df))
}

# The nhefs models of aipw.R, survival.R and versions.R: the 13 terms of the
# propensity model of What If (chapters 12 and 17), the weight model
# qsmk ~ those terms, the outcome model of aipw.R (qsmk, those terms and
# qsmk:smokeintensity) and the survival model of chapter 17's
# standardization (qsmk, those terms and smkintensity82_71).
NHEFS_TERMS <- "sex + race + age + I(age^2) + education + smokeintensity + I(smokeintensity^2) + smokeyrs + I(smokeyrs^2) + exercise + active + wt71 + I(wt71^2)"
nhefs_weight_formula <- function() stats::as.formula(paste("qsmk ~", NHEFS_TERMS))
nhefs_outcome_formula <- function() {
  stats::as.formula(paste("wt82_71 ~ qsmk +", NHEFS_TERMS, "+ qsmk:smokeintensity"))
}
nhefs_survival_formula <- function() {
  stats::as.formula(paste("Surv(survtime, death) ~ qsmk +", NHEFS_TERMS, "+ smkintensity82_71"))
}

# -------------------------------------------------- memory subprocess mode ----
# `Rscript bench/<script>.R --mem METHOD N` simulates the data, resets gc()'s
# high-water marks and runs METHOD once (METHOD "data" only simulates), then
# quits. Meant to run under /usr/bin/time -f %M, which reports the peak RSS.
is_mem_subprocess <- function() {
  args <- commandArgs(trailingOnly = TRUE)
  length(args) >= 1 && args[1] == "--mem"
}

# simulate(n) builds the data; run(method, d, setup) runs the method and
# describe(result) gives the line printed; the namespaces of `packages` that
# are installed are loaded in every subprocess (the baseline included), so
# package code is not counted as a method's extra memory; prepare(method, d)
# is set-up done before the reset. With reset_peak, the kernel's peak RSS is
# reset too (/proc/self/clear_refs), so that the peak GNU time reports is
# the data's plus the method's, not the simulation's temporaries.
run_mem_subprocess <- function(simulate, run, packages = character(),
                               prepare = function(method, d) NULL,
                               describe = function(res) sprintf("%.10f %.10f\n", res[1], res[2]),
                               reset_peak = FALSE) {
  args <- commandArgs(trailingOnly = TRUE)
  method <- args[2]
  n <- as.numeric(args[3])
  for (p in packages) invisible(requireNamespace(p, quietly = TRUE))
  d <- simulate(n)
  setup <- if (method != "data") prepare(method, d)
  invisible(gc(reset = TRUE))
  if (reset_peak) cat("5", file = "/proc/self/clear_refs")
  # warm-up-free single call: the peak includes everything the method allocates
  if (method != "data") cat(describe(run(method, d, setup)))
  quit(save = "no", status = 0)
}

# Peak RSS in MB of `Rscript bench/<script>.R --mem METHOD N` (GNU time %M).
# With mem_cap_mb > 0 the subprocess runs under `ulimit -v` of that size;
# env ("NAME=value" strings) is added to its environment. If it fails,
# on_fail(message) is called and the result is NA.
peak_rss_mb <- function(script, method, n, on_fail, mem_cap_mb = NA_real_, env = character()) {
  tf <- tempfile()
  on.exit(unlink(tf))
  cmd <- paste(c(if (length(env)) c("env", shQuote(env)), "/usr/bin/time", "-f", "%M", "-o",
                 shQuote(tf), shQuote(RSCRIPT),
                 file.path("bench", paste0(script, ".R")), "--mem", method,
                 format(n, scientific = FALSE)), collapse = " ")
  if (is.finite(mem_cap_mb) && mem_cap_mb > 0) {
    cmd <- sprintf("ulimit -v %.0f && exec %s", mem_cap_mb * 1024, cmd)
  }
  out <- suppressWarnings(system2("sh", c("-c", shQuote(cmd)), stdout = TRUE, stderr = TRUE))
  status <- attr(out, "status")
  if (!is.null(status) && status != 0) {
    on_fail(sprintf("n = %g: memory subprocess for %s failed (status %s): %s", n, method, status,
                    paste(utils::tail(out, 3), collapse = " / ")))
    return(NA_real_)
  }
  as.numeric(utils::tail(readLines(tf), 1)) / 1024
}

# ------------------------------------------------------------ report notes ----
# The lines of a report's "Notes" section. notes <- new_notes() starts empty;
# notes$add(msg) keeps msg and shows it now with show(msg) (a warning by
# default), notes$add(msg, now = FALSE) only keeps it; notes$get() returns all.
new_notes <- function(show = function(msg) warning(msg, call. = FALSE)) {
  kept <- character()
  add <- function(msg, now = TRUE) {
    if (now) show(msg)
    kept <<- c(kept, msg)
    invisible(msg)
  }
  list(add = add, get = function() kept)
}

# ----------------------------------------------------- timing reliability -----
# Adds to notes how far the timings can be trusted: the most CPU other
# processes used during a timed run (other_cores, in cores), the other R
# processes seen around the runs (concurrent) and the load average before
# the timings (load_start) and now.
add_timing_notes <- function(notes, other_cores, concurrent, load_start) {
  if (any(other_cores > 0.1, na.rm = TRUE)) {
    notes$add(sprintf("Other processes used up to %.2f cores during the timed runs (see other_cores), so the timings are not reliable.",
                      max(other_cores, na.rm = TRUE)), now = FALSE)
  }
  if (length(concurrent)) {
    notes$add(sprintf("Other R processes ran during the timings, so the timings are not reliable: %s",
                      paste(unique(concurrent), collapse = "; ")), now = FALSE)
  }
  notes$add(sprintf("Load average (1, 5, 15 min) before the timings: %s; after: %s.", load_start,
                    load_avg()), now = FALSE)
}

# ------------------------------------------------------------- timing ---------
# reps runs of fun(), each after a gc(): list(seconds = median elapsed,
# all = every run's elapsed, res = the last result). With busy = TRUE also
# cpu (median CPU seconds of this process per run, threads included) and
# other_cores (the most CPU other processes used during a run, in cores).
time_call <- function(fun, reps, busy = FALSE) {
  secs <- cpu <- other <- numeric(reps)
  res <- NULL
  for (r in seq_len(reps)) {
    invisible(gc())
    if (busy) {
      b0 <- machine_busy_s()
      c0 <- own_cpu_s()
    }
    t0 <- proc.time()[["elapsed"]]
    res <- fun()
    secs[r] <- proc.time()[["elapsed"]] - t0
    if (busy) {
      cpu[r] <- own_cpu_s() - c0
      other[r] <- max(0, (machine_busy_s() - b0) - cpu[r]) / secs[r]
    }
  }
  out <- list(seconds = stats::median(secs), all = secs, res = res)
  if (busy) out <- c(out, list(cpu = stats::median(cpu), other_cores = max(other)))
  out
}

# Clock ticks per second of /proc/stat, asked of getconf once.
clk_tck <- local({
  tck <- NULL
  function() {
    if (is.null(tck)) {
      x <- suppressWarnings(as.numeric(tryCatch(system2("getconf", "CLK_TCK", stdout = TRUE),
                                                error = function(e) "100")))
      tck <<- if (length(x) && is.finite(x[1])) x[1] else 100
    }
    tck
  }
})

# Busy CPU seconds of the whole machine so far (/proc/stat, all cores): the
# machine's busy time over a run minus this process's own user + system time
# is how much CPU other processes used meanwhile.
machine_busy_s <- function() {
  x <- tryCatch(readLines("/proc/stat", n = 1), error = function(e) NA_character_)
  v <- as.numeric(strsplit(trimws(sub("^cpu", "", x)), "\\s+")[[1]])
  if (anyNA(v) || length(v) < 5) return(NA_real_)
  (sum(v[1:min(8, length(v))]) - v[4] - v[5]) / clk_tck()   # all but idle and iowait
}
own_cpu_s <- function() {
  pt <- proc.time()
  pt[["user.self"]] + pt[["sys.self"]]
}

# ------------------------------------------------------ machine and run -------
# "Run <date>; <R>; causallib <version> (from <library>); causallib_threads()
# = <k>; CPU: <model>": the start of every report's header line.
run_info <- function() {
  sprintf("Run %s; %s; causallib %s (from %s); causallib_threads() = %d; CPU: %s",
          format(Sys.time(), "%Y-%m-%d %H:%M %Z"), R.version.string,
          as.character(utils::packageVersion("causallib")), dirname(find.package("causallib")),
          causallib_threads(), cpu_model())
}

cpu_model <- function() {
  x <- tryCatch(readLines("/proc/cpuinfo"), error = function(e) character())
  m <- grep("^model name", x, value = TRUE)
  if (length(m)) trimws(sub("^model name\\s*:", "", m[1])) else "unknown"
}

ram_gb <- function() {
  x <- tryCatch(readLines("/proc/meminfo", n = 1), error = function(e) "")
  kb <- as.numeric(sub("^MemTotal:\\s*([0-9]+).*", "\\1", x))
  if (is.finite(kb)) sprintf("%.0f GB RAM", kb / 2^20) else "RAM unknown"
}

# The 1, 5 and 15 minute load averages, e.g. "0.52 0.31 0.20".
load_avg <- function() {
  tryCatch(paste(strsplit(readLines("/proc/loadavg", n = 1), " ")[[1]][1:3], collapse = " "),
           error = function(e) "unknown")
}

# Other R processes (benchmarks, tests) running at the same time: they would
# share the cores. This script's own processes (bench/<script>.R and its
# wrapper bench/run-<script>.sh) do not count.
other_benchmarks <- function(script) {
  out <- suppressWarnings(tryCatch(
    system2("pgrep", c("-a", "-f", shQuote("exec/R|Rscript|bench/")), stdout = TRUE, stderr = FALSE),
    error = function(e) character()))
  pid <- suppressWarnings(as.integer(sub(" .*", "", out)))
  own <- sprintf("run-%s.sh|bench/%s.R", script, script)
  if (script == "ipw") own <- paste0(own, "|bench/run.sh")   # ipw.R's wrapper is run.sh
  out <- out[!is.na(pid) & pid != Sys.getpid() & !grepl("pgrep", out, fixed = TRUE) &
             !grepl(own, out)]
  substr(out, 1, 160)
}

# Stop early unless run from the package root with GNU time available.
check_bench_setup <- function(script) {
  path <- file.path("bench", paste0(script, ".R"))
  if (!file.exists(path)) stop("Run from the package root: Rscript ", path)
  if (!file.exists("/usr/bin/time")) stop("/usr/bin/time (GNU time) is needed for peak memory")
}
