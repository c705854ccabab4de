# Benchmark: the causallib rows of the other benchmarks (ipw.R, aipw.R,
# evaluate.R, survival.R), timed for two installed versions of causallib
# side by side, so that a change can be shown not to make any of them slower.
#
# The absolute timings of this machine drift by up to 2.5x between hours
# (it is a shared VM), so results files written at different times cannot
# tell a 10% slowdown from the machine's mood. Here every round runs each
# case once per version, in fresh subprocesses, alternating which version
# goes first, so both versions see the same machine state.
#
# Run from the package root (never from the tests):
#   CAUSALLIB_BENCH_LIBS="before=/lib/of/old,after=/lib/of/new" Rscript bench/versions.R
# Optional env: CAUSALLIB_BENCH_ROUNDS (default 3), CAUSALLIB_BENCH_CASES
# (comma-separated subset of the case names), CAUSALLIB_BENCH_OUT
# (default bench/results/versions.md).
# Child mode (one case, causallib from CAUSALLIB_LIB, prints the seconds of
# its timed runs): Rscript bench/versions.R --child CASE

# The parent needs a causallib too (common.R attaches one): the first library
# of CAUSALLIB_BENCH_LIBS unless CAUSALLIB_LIB names one.
if (!nzchar(Sys.getenv("CAUSALLIB_LIB"))) {
  first <- sub("^[^=]*=", "", strsplit(Sys.getenv("CAUSALLIB_BENCH_LIBS"), ",")[[1]][1])
  if (!is.na(first)) Sys.setenv(CAUSALLIB_LIB = first)
}
source(file.path("bench", "common.R"))   # set-up, simulations, time_call(), facts

CHILD_REPS <- 2L   # timed runs per child, after one warm-up run

surv_rhs <- paste(c("a", XNAMES), collapse = " + ")

# Each case: data(), built once per child and not timed, and run(d), timed.
# The calls are those of the benchmark named in `from`.
cases <- list(
  ipw_matrix_1e6 = list(from = "ipw.R", data = function() simulate_ipw_data(1e6),
    run = function(d) estimate_effect(ipw_fit(d$X, d$a), outcome = d$y)),
  ipw_formula_1e6 = list(from = "ipw.R", data = function() simulate_ipw_data(1e6),
    run = function(d) {
      f <- ipw(stats::reformulate(XNAMES, response = "a"), data = d$df)
      estimate_effect(f, outcome = "y")
    }),
  aipw_1e5 = list(from = "aipw.R", data = function() simulate_ipw_data(1e5),
    run = function(d) {
      om <- standardization(stats::reformulate(c("a", XNAMES), response = "y"), data = d$df,
                            treatment = "a")
      estimate_effect(aipw(om, ipw(stats::reformulate(XNAMES, response = "a"), data = d$df)))
    }),
  aipw_boot_1e5_R200 = list(from = "aipw.R", data = function() simulate_ipw_data(1e5),
    run = function(d) {
      om <- standardization(stats::reformulate(c("a", XNAMES), response = "y"), data = d$df,
                            treatment = "a")
      set.seed(1)
      estimate_effect(aipw(om, ipw(stats::reformulate(XNAMES, response = "a"), data = d$df)),
                      se = "bootstrap", R = 200)
    }),
  aipw_boot_nhefs_R1000 = list(from = "aipw.R",
    data = function() nhefs[!is.na(nhefs$wt82_71), , drop = FALSE],
    run = function(d) {
      om <- standardization(nhefs_outcome_formula(), data = d, treatment = "qsmk")
      wm <- ipw(nhefs_weight_formula(), data = d)
      set.seed(1)
      estimate_effect(aipw(om, wm), se = "bootstrap", R = 1000)
    }),
  evaluate_1e5 = list(from = "evaluate.R", data = function() simulate_ipw_data(1e5),
    run = function(d) {
      set.seed(1)
      evaluate(ipw(stats::reformulate(XNAMES, response = "a"), data = d$df), cv = 5)
    }),
  survival_1e4 = list(from = "survival.R", data = function() simulate_survival_data(1e4),
    run = function(d) survival_curves_1(d)),
  survival_1e5 = list(from = "survival.R", data = function() simulate_survival_data(1e5),
    run = function(d) survival_curves_1(d)),
  survival_1e6 = list(from = "survival.R", data = function() simulate_survival_data(1e6),
    run = function(d) survival_curves_1(d)),
  survival_std_boot_nhefs_R200 = list(from = "survival.R", data = function() nhefs,
    run = function(d) {
      set.seed(SEED)
      survival_standardization(nhefs_survival_formula(), data = d, treatment = "qsmk", R = 200,
                               se = "bootstrap")
    }),
  survival_ipw_boot_nhefs_R200 = list(from = "survival.R", data = function() nhefs,
    run = function(d) {
      set.seed(SEED)
      survival_ipw(Surv(survtime, death) ~ qsmk, data = d,
                   weight_model = ipw(nhefs_weight_formula(), data = d),
                   method = "pooled_logistic", R = 200, se = "bootstrap")
    })
)

survival_curves_1 <- function(d) {
  survival_standardization(stats::as.formula(paste("Surv(time, event) ~", surv_rhs)), data = d$df,
                           treatment = "a", time_terms = ~ time + I(time^2), se = "none")
}

# ------------------------------------------------------------ child mode ------
args <- commandArgs(trailingOnly = TRUE)
if (length(args) >= 2 && args[1] == "--child") {
  case <- cases[[args[2]]]
  d <- case$data()
  invisible(case$run(d))   # warm-up
  t <- time_call(function() case$run(d), CHILD_REPS)
  cat(sprintf("%.6f", t$all), sep = "\n")
  quit(save = "no", status = 0)
}

# ------------------------------------------------------------ parent ----------
libs_spec <- Sys.getenv("CAUSALLIB_BENCH_LIBS", "")
if (!nzchar(libs_spec)) stop("set CAUSALLIB_BENCH_LIBS=\"before=/lib/a,after=/lib/b\"", call. = FALSE)
kv <- strsplit(strsplit(libs_spec, ",")[[1]], "=")
libs <- stats::setNames(vapply(kv, `[`, "", 2L), vapply(kv, `[`, "", 1L))
if (length(libs) != 2L) stop("CAUSALLIB_BENCH_LIBS must name two libraries", call. = FALSE)
ROUNDS <- as.integer(Sys.getenv("CAUSALLIB_BENCH_ROUNDS", "3"))
only <- Sys.getenv("CAUSALLIB_BENCH_CASES", "")
case_names <- if (nzchar(only)) strsplit(only, ",")[[1]] else names(cases)
OUT <- Sys.getenv("CAUSALLIB_BENCH_OUT", file.path("bench", "results", "versions.md"))

run_child <- function(lib, case) {
  out <- suppressWarnings(system2(RSCRIPT, c("bench/versions.R", "--child", case),
                                  env = paste0("CAUSALLIB_LIB=", lib), stdout = TRUE, stderr = FALSE))
  v <- suppressWarnings(as.numeric(out))
  v <- v[is.finite(v)]
  if (length(v) != CHILD_REPS) return(rep(NA_real_, CHILD_REPS))
  v
}

load_start <- load_avg()
times <- list()
for (case in case_names) {
  message(case)
  for (r in seq_len(ROUNDS)) {
    order <- if (r %% 2L) names(libs) else rev(names(libs))
    for (v in order) times[[case]][[v]] <- c(times[[case]][[v]], run_child(libs[[v]], case))
  }
}

fmt <- function(x) formatC(x, format = "f", digits = 3)
rows <- vapply(case_names, function(case) {
  tt <- times[[case]]
  m <- vapply(names(libs), function(v) stats::median(tt[[v]]), numeric(1))
  sprintf("| %s | %s | %s | %s | %.2f | %s | %s |", case, cases[[case]]$from, fmt(m[1]), fmt(m[2]),
          m[2] / m[1], paste(fmt(tt[[1]]), collapse = ", "), paste(fmt(tt[[2]]), collapse = ", "))
}, "")
ratio <- vapply(case_names, function(case) {
  tt <- times[[case]]
  stats::median(tt[[2]]) / stats::median(tt[[1]])
}, numeric(1))

lines <- c(
  sprintf("# causallib %s vs %s: the causallib rows of every benchmark, side by side", names(libs)[2], names(libs)[1]),
  "",
  sprintf("Run %s; %s; CPU: %s (%d logical cores); causallib.threads = 2.", format(Sys.time(), "%Y-%m-%d %H:%M UTC", tz = "UTC"),
          R.version.string, cpu_model(), parallel::detectCores()),
  sprintf("Libraries: %s.", paste(sprintf("%s = %s", names(libs), libs), collapse = "; ")),
  "",
  sprintf("Each of %d rounds runs every case once per version, each in a fresh `Rscript bench/versions.R --child CASE` (data built, one warm-up run, then %d timed runs), alternating which version goes first; seconds = median of the %d timed runs per version; ratio = %s / %s (below 1: faster).",
          ROUNDS, CHILD_REPS, ROUNDS * CHILD_REPS, names(libs)[2], names(libs)[1]),
  "",
  sprintf("| case | calls as in | %s (s) | %s (s) | ratio | %s runs | %s runs |", names(libs)[1], names(libs)[2], names(libs)[1], names(libs)[2]),
  "|---|---|---:|---:|---:|---|---|",
  rows,
  "",
  sprintf("Slowest ratio: %.2f (%s). Load average (1, 5, 15 min) before: %s; after: %s.",
          max(ratio, na.rm = TRUE), case_names[which.max(ratio)], load_start, load_avg())
)
writeLines(lines, OUT)
message("wrote ", OUT)
