# Benchmark: the pooled-logistic person-time fitter (C entry ffi_pt_fit) at
# n = 1e5 and 1e6 persons x 120 periods, 20 person covariates, period terms
# (t, t^2) with t scaled to (0, 1], two arms with arm-by-period terms,
# 2 threads. Run by hand from the package root:
#
#   Rscript bench/person-time.R
#
# Optional env: CAUSALLIB_BENCH_N (default "1e5,1e6"), CAUSALLIB_BENCH_REPS
# (default 3; the median is reported). Never run from the tests.

suppressPackageStartupMessages(library(causallib))

SEED <- 20240601L
TMAX <- 120L
P_COV <- 20L
THREADS <- 2L
SIZES <- as.numeric(strsplit(Sys.getenv("CAUSALLIB_BENCH_N", "1e5,1e6"), ",")[[1]])
REPS <- as.integer(Sys.getenv("CAUSALLIB_BENCH_REPS", "3"))

# Discrete-time event and dropout hazards, simulated one period at a time so
# that nothing n x Tmax is ever built.
simulate <- function(n, seed = SEED) {
  set.seed(seed)
  X <- matrix(stats::rnorm(n * P_COV), n, P_COV)
  arm <- stats::rbinom(n, 1, 0.5)
  lp <- -5 + drop(X %*% seq(0.3, -0.3, length.out = P_COV)) - 0.3 * arm
  tt <- seq_len(TMAX) / TMAX
  last <- integer(n)
  status <- integer(n)
  at_risk <- rep(TRUE, n)
  for (t in seq_len(TMAX)) {
    idx <- which(at_risk)
    last[idx] <- t
    ev <- stats::runif(length(idx)) < stats::plogis(lp[idx] + 0.8 * tt[t] - 0.4 * tt[t]^2)
    status[idx[ev]] <- 1L
    drop_out <- stats::runif(length(idx)) < 0.004
    at_risk[idx[ev | drop_out]] <- FALSE
  }
  list(X = X, Fm = cbind(tt, tt^2), arm = as.integer(arm), last = last,
       status = status, w = rep(1, n))
}

fit <- function(s) {
  .Call(causallib:::C_ffi_pt_fit, s$X, TRUE, s$Fm, s$arm + 1L, 2L, TRUE, s$last,
        s$status, s$w, NULL, 25L, 1e-8, NULL, THREADS)
}

cat(sprintf("%s, %s, threads = %d, CPU: %s\n", format(Sys.time()), R.version.string,
            THREADS, tryCatch(sub(".*: ", "", grep("model name", readLines("/proc/cpuinfo"),
                                                    value = TRUE)[1]),
                              error = function(e) "unknown")))
for (n in SIZES) {
  s <- simulate(n)
  fit(s) # warm-up: first-touch page faults of the work arrays
  secs <- vapply(seq_len(REPS), function(r) {
    gc()
    system.time(f <- fit(s))[["elapsed"]]
  }, numeric(1))
  f <- fit(s)
  cat(sprintf(paste0("n = %.0e persons: %.3g person-period rows, %d coefficients, ",
                     "%d iterations, converged = %s: median %.2f s (runs: %s)\n"),
              n, sum(s$last), length(f$coefficients), f$iter, f$converged,
              stats::median(secs), paste(sprintf("%.2f", secs), collapse = ", ")))
}
