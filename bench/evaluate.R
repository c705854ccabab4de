# Benchmark: evaluate(cv = 5) of an ipw() model versus the same diagnostics
# computed the usual R way (glm() per fold + cobalt::bal.tab() + hand ROC
# AUCs + ECE/ICI). Run by hand from the package root:
#
#   bash bench/run-evaluate.sh        # everything, writes bench/results/evaluate.md
#   Rscript bench/evaluate.R          # same, without the wrapper
#   Rscript bench/evaluate.R --mem METHOD N
#       internal: one memory-measurement subprocess (simulate data, run METHOD
#       once); METHOD "data" only simulates. Meant to run under
#       /usr/bin/time -f %M, which reports the peak RSS in KB.
#   Rscript bench/evaluate.R --profile N
#       internal: Rprof() of one ipw() + evaluate(cv = 5) call, summarised
#       by the package function the time is spent under.
#
# Never run from the tests. See bench/README.md.

source(file.path("bench", "common.R"))   # set-up, simulate_ipw_data(), timing, memory

CV <- 5L
SIZES <- as.numeric(strsplit(Sys.getenv("CAUSALLIB_BENCH_N", "1e5"), ",")[[1]])
REPS <- as.integer(Sys.getenv("CAUSALLIB_BENCH_REPS", "3"))
PROFILE <- Sys.getenv("CAUSALLIB_BENCH_PROFILE", "1") != "0"
OUT <- Sys.getenv("CAUSALLIB_BENCH_OUT", file.path("bench", "results", "evaluate.md"))
TOL <- 1e-6

# ---------------------------------------------------------------- data --------
# The same simulation as bench/ipw.R (simulate_ipw_data() in bench/common.R).
ps_formula <- stats::reformulate(XNAMES, response = "a")

# ------------------------------------------------- hand-written diagnostics ---
# Plain ROC AUC by ranks (Mann-Whitney, ties one half).
auc_rank <- function(score, y) {
  r <- rank(score)
  n1 <- sum(y == 1)
  n0 <- length(y) - n1
  (sum(r[y == 1]) - n1 * (n1 + 1) / 2) / (n1 * n0)
}

# Weighted Mann-Whitney AUC: unit i carries positive mass pos[i] and
# negative mass neg[i]; sort once, group tied scores, and count each
# positive mass against the negative mass below it (ties one half).
auc_weighted <- function(score, pos, neg) {
  o <- order(score)
  s <- score[o]
  grp <- cumsum(c(TRUE, s[-1L] != s[-length(s)]))
  P <- rowsum(pos[o], grp, reorder = FALSE)[, 1L]
  N <- rowsum(neg[o], grp, reorder = FALSE)[, 1L]
  below <- cumsum(N) - N
  sum(P * (below + 0.5 * N)) / (sum(P) * sum(N))
}

# ECE over 10 equal-frequency bins of p, and ICI from a logistic calibration
# curve on a natural spline (3 df) of logit(p).
ece_10 <- function(p, y, bins = 10L) {
  cuts <- unique(stats::quantile(p, seq(0, 1, length.out = bins + 1L), names = FALSE, type = 1))
  bin <- findInterval(p, cuts, rightmost.closed = TRUE, all.inside = TRUE)
  n_b <- tabulate(bin)
  n_b <- n_b[n_b > 0]
  pred <- rowsum(p, bin)[, 1L] / n_b
  obs <- rowsum(y, bin)[, 1L] / n_b
  sum(n_b * abs(obs - pred)) / length(p)
}

ici <- function(p, y) {
  lp <- stats::qlogis(pmin(pmax(p, 1e-8), 1 - 1e-8))
  m <- suppressWarnings(stats::glm(y ~ splines::ns(lp, 3), family = stats::binomial()))
  mean(abs(p - stats::fitted(m)))
}

# All the diagnostics of one part (train or validation rows of a fold).
glm_cobalt_part <- function(covs, a, p) {
  w <- a / p + (1 - a) / (1 - p)   # ATE weights
  bt <- cobalt::bal.tab(covs, treat = a, weights = w, s.d.denom = "pooled", un = TRUE,
                        disp.v.ratio = TRUE, disp.ks = TRUE, binary = "std",
                        estimand = "ATE", method = "weighting")
  b <- bt$Balance
  c(max_abs_smd_weighted = max(abs(b$Diff.Adj)),
    mean_abs_smd_weighted = mean(abs(b$Diff.Adj)),
    max_abs_smd_unweighted = max(abs(b$Diff.Un)),
    roc_auc = auc_rank(p, a),
    weighted_roc_auc = auc_weighted(p, w * a, w * (1 - a)),
    expected_roc_auc = auc_weighted(p, p, 1 - p),
    ece = ece_10(p, a),
    ici = ici(p, a))
}

# --------------------------------------------------------------- methods ------
# Each returns the metrics as a data frame (fold, phase, metric, value).
methods <- list(
  causallib = function(d, setup = NULL) {
    fit <- ipw(ps_formula, data = d$df)
    set.seed(1)
    ev <- evaluate(fit, cv = CV)
    ev$metrics
  },
  # the same call with the initial ipw() fit done outside the timing
  causallib_evaluate_only = function(d, setup) {
    set.seed(1)
    ev <- evaluate(setup, cv = CV)
    ev$metrics
  },
  glm_cobalt = function(d, setup = NULL) {
    df <- d$df
    g_all <- stats::glm(ps_formula, family = stats::binomial(), data = df)   # the IPW model itself
    set.seed(1)
    fold <- sample(rep_len(seq_len(CV), nrow(df)))
    out <- vector("list", 2L * CV)
    for (k in seq_len(CV)) {
      tr <- fold != k
      g <- stats::glm(ps_formula, family = stats::binomial(), data = df[tr, , drop = FALSE])
      for (ph in c("train", "valid")) {
        rows <- if (ph == "train") tr else !tr
        part <- df[rows, , drop = FALSE]
        p <- unname(stats::predict(g, newdata = part, type = "response"))
        m <- glm_cobalt_part(part[XNAMES], part$a, p)
        out[[2L * (k - 1L) + (ph == "valid") + 1L]] <-
          data.frame(fold = k, phase = ph, treatment = "1", metric = names(m), value = unname(m),
                     stringsAsFactors = FALSE)
      }
    }
    do.call(rbind, out)
  }
)
setup_for <- function(method, d) {
  if (method == "causallib_evaluate_only") ipw(ps_formula, data = d$df) else NULL
}

# --------------------------------------------------- memory subprocess mode ---
if (is_mem_subprocess()) {
  run_mem_subprocess(
    simulate_ipw_data, packages = c("cobalt", "splines"), prepare = setup_for,
    run = function(method, d, setup) methods[[method]](d, setup),
    describe = function(res) paste(nrow(res), "metric rows\n"))
}

# ------------------------------------------------------ profile subprocess ----
# Rprof of one ipw() + evaluate(cv = 5); each sample is attributed to a step
# by the package functions on its stack (first matching rule wins).
profile_breakdown <- function(prof_file) {
  lines <- readLines(prof_file)
  hdr <- lines[1L]
  interval <- as.numeric(sub(".*sample.interval=([0-9]+).*", "\\1", hdr)) / 1e6
  stacks <- lines[-1L]
  stacks <- stacks[!grepl("^#", stacks)]
  classify <- function(s) {
    f <- gsub("\"", "", strsplit(s, " ", fixed = TRUE)[[1]])   # innermost first
    has <- function(x) x %in% f
    if (!has("evaluate")) return(if (has("ipw")) "ipw() (initial fit)" else "other")
    if (has("refit_weight_model")) return("refit per fold (ipw_engine)")
    if (has("weight_predictions")) return("predictions per fold/phase (weight_predictions)")
    if (has("by_fold_phase") && !has("f")) return("by_fold_phase: group rows by fold and phase")
    if (any(f %in% c("ev$spec$covariates", "covariates", "covariate_matrix"))) return("covariate rows for balance")
    if (has("balance_stats")) return("balance_stats (moments, KS)")
    if (has("propensity_aucs")) return("propensity_aucs (plain, weighted, expected AUC)")
    if (has("calibration_stats")) return("calibration_stats (ECE + ICI)")
    if (has("weight_metrics") || has("f")) return("weight_metrics: reshape/merge/long_metrics")
    if (has("by_fold_phase")) return("by_fold_phase: subset rows per fold/phase, bind metrics")
    if (has("evaluate_splits") && !has("evaluation_metrics")) return("evaluate_splits: cbind/rbind of prediction data frames")
    if (has("evaluation_metrics")) return("evaluation_metrics: other")
    "evaluate: other"
  }
  cls <- vapply(stacks, classify, character(1), USE.NAMES = FALSE)
  tab <- sort(table(cls), decreasing = TRUE)
  data.frame(step = names(tab), seconds = as.numeric(tab) * interval,
             share = as.numeric(tab) / length(cls), stringsAsFactors = FALSE)
}

args <- commandArgs(trailingOnly = TRUE)
if (length(args) >= 1 && args[1] == "--profile") {
  n <- as.numeric(args[2])
  d <- simulate_ipw_data(n)
  invisible(methods$causallib(simulate_ipw_data(2000)))   # warm-up
  invisible(gc())
  pf <- tempfile(fileext = ".out")
  Rprof(pf, interval = 0.01)
  invisible(methods$causallib(d))
  Rprof(NULL)
  br <- profile_breakdown(pf)
  top <- utils::head(summaryRprof(pf)$by.self, 12)
  write.csv(br, stdout(), row.names = FALSE)
  cat("--- by.self ---\n")
  write.csv(data.frame(fun = rownames(top), self_s = top$self.time, total_s = top$total.time),
            stdout(), row.names = FALSE)
  quit(save = "no", status = 0)
}

# ------------------------------------------------------------- timing ---------
# With cpu and other_cores: how much CPU other processes used meanwhile.
time_method <- function(fun, d, setup, reps = REPS) {
  t <- time_call(function() fun(d, setup), reps, busy = TRUE)
  c(t, list(metrics = t$res))
}
notes <- new_notes()   # the report's notes; failed memory subprocesses go there
peak_mb <- function(method, n) peak_rss_mb("evaluate", method, n, on_fail = notes$add)

check_bench_setup("evaluate")
if (!requireNamespace("cobalt", quietly = TRUE)) stop("Package 'cobalt' is needed")

# metric-by-metric comparison of glm_cobalt with causallib
compare_metrics <- function(ref, other) {
  key <- c("fold", "phase", "metric")
  m <- merge(ref[, c(key, "value")], other[, c(key, "value")], by = key, suffixes = c(".ref", ".other"))
  m$diff <- abs(m$value.ref - m$value.other)
  per_metric <- stats::aggregate(diff ~ metric, data = m, FUN = max)
  avg <- stats::aggregate(cbind(value.ref, value.other) ~ metric + phase, data = m, FUN = mean)
  list(rows = nrow(m), expected = nrow(ref), per_metric = per_metric, avg = avg)
}

# warm-up (lazy loading, byte code, first-call costs) outside the timings
local({
  d0 <- simulate_ipw_data(2000)
  for (m in names(methods)) invisible(methods[[m]](d0, setup_for(m, d0)))
})

concurrent <- character()
load_start <- load_avg()
rows <- list()
checks <- list()
warnings_out <- character()
for (n in SIZES) {
  message(sprintf("n = %s: simulating", format(n, big.mark = ",")))
  d <- simulate_ipw_data(n)
  tm <- list()
  for (m in names(methods)) {
    message(sprintf("  timing %s", m))
    setup <- setup_for(m, d)
    concurrent <- c(concurrent, other_benchmarks("evaluate"))
    tm[[m]] <- time_method(methods[[m]], d, setup)
    concurrent <- c(concurrent, other_benchmarks("evaluate"))
    rm(setup)
    message(sprintf("    runs: %s s", paste(sprintf("%.3f", tm[[m]]$all), collapse = ", ")))
  }
  rm(d); invisible(gc())
  message("  peak memory (subprocesses)")
  base_mb <- peak_mb("data", n)
  mem <- vapply(names(methods), function(m) peak_mb(m, n), numeric(1))
  ref <- tm$causallib
  for (m in names(methods)) {
    rows[[length(rows) + 1]] <- data.frame(
      n = format(n, scientific = TRUE), method = m, seconds = tm[[m]]$seconds,
      runs = paste(sprintf("%.2f", tm[[m]]$all), collapse = ", "),
      ratio = tm[[m]]$seconds / ref$seconds, cpu = tm[[m]]$cpu, other_cores = tm[[m]]$other_cores,
      extra_peak_MB = mem[[m]] - base_mb,
      total_peak_MB = mem[[m]], stringsAsFactors = FALSE)
  }
  cmp <- compare_metrics(ref$metrics, tm$glm_cobalt$metrics)
  cmp_eo <- compare_metrics(ref$metrics, tm$causallib_evaluate_only$metrics)
  checks[[format(n, scientific = TRUE)]] <- list(cmp = cmp, cmp_eo = cmp_eo, base_mb = base_mb)
  if (cmp$rows != cmp$expected) {
    msg <- sprintf("n = %g: only %d of %d causallib metric rows matched a glm_cobalt row", n,
                   cmp$rows, cmp$expected)
    warning(msg, call. = FALSE); warnings_out <- c(warnings_out, msg)
  }
  for (metric in c("max_abs_smd_weighted", "weighted_roc_auc")) {
    v <- cmp$avg[cmp$avg$metric == metric & cmp$avg$phase == "valid", ]
    diff <- abs(v$value.ref - v$value.other)
    if (!length(diff) || !is.finite(diff) || diff > TOL) {
      msg <- sprintf("n = %g: fold-averaged validation %s: causallib %.10f vs glm_cobalt %.10f (diff %.3g > %g)",
                     n, metric, v$value.ref, v$value.other, diff, TOL)
      warning(msg, call. = FALSE); warnings_out <- c(warnings_out, msg)
    }
  }
  bad <- cmp$per_metric[cmp$per_metric$diff > TOL, ]
  for (i in seq_len(nrow(bad))) {
    msg <- sprintf("n = %g: %s differs from glm_cobalt by up to %.3g in some fold/phase (> %g)",
                   n, bad$metric[i], bad$diff[i], TOL)
    warning(msg, call. = FALSE); warnings_out <- c(warnings_out, msg)
  }
  if (any(cmp_eo$per_metric$diff != 0)) {
    msg <- sprintf("n = %g: causallib_evaluate_only metrics differ from causallib", n)
    warning(msg, call. = FALSE); warnings_out <- c(warnings_out, msg)
  }
  message(sprintf("  baseline (data only) peak RSS: %.1f MB", base_mb))
}
tab <- do.call(rbind, rows)
add_timing_notes(notes, tab$other_cores, concurrent, load_start)

prof <- NULL
if (PROFILE) {
  n_prof <- max(SIZES)
  message(sprintf("profiling ipw() + evaluate(cv = %d) at n = %g", CV, n_prof))
  out <- system2(RSCRIPT, c("bench/evaluate.R", "--profile", format(n_prof, scientific = FALSE)),
                 stdout = TRUE, stderr = FALSE)
  cut <- match("--- by.self ---", out)
  prof <- list(n = n_prof, steps = utils::read.csv(text = out[seq_len(cut - 1L)]),
               self = utils::read.csv(text = out[-seq_len(cut)]))
}

# ------------------------------------------------------------- report ---------
fmt <- function(x, d) formatC(x, format = "f", digits = d)
fmtg <- function(x) formatC(x, format = "g", digits = 3)
check_md <- unlist(lapply(names(checks), function(nn) {
  ck <- checks[[nn]]$cmp
  avg <- ck$avg[order(ck$avg$metric, ck$avg$phase), ]
  pm <- ck$per_metric
  c(sprintf("Agreement at n = %s (%d of %d metric rows matched; values are means over the %d folds):",
            nn, ck$rows, ck$expected, CV),
    "",
    "| metric | phase | causallib | glm_cobalt | abs diff of means | max abs diff over folds |",
    "|---|---|---:|---:|---:|---:|",
    sprintf("| %s | %s | %s | %s | %s | %s |", avg$metric, avg$phase, fmt(avg$value.ref, 8),
            fmt(avg$value.other, 8), fmtg(abs(avg$value.ref - avg$value.other)),
            fmtg(pm$diff[match(avg$metric, pm$metric)])),
    "")
}))
prof_md <- if (!is.null(prof)) c(
  sprintf("## Where the time goes in causallib (Rprof, 10 ms samples, one ipw() + evaluate(cv = %d) at n = %s, separate process)",
          CV, format(prof$n, scientific = TRUE)),
  "",
  "| step | seconds | share |",
  "|---|---:|---:|",
  sprintf("| %s | %s | %s |", prof$steps$step, fmt(prof$steps$seconds, 2), sprintf("%.0f%%", 100 * prof$steps$share)),
  "",
  "Top functions by self time:",
  "",
  "| function | self s | total s |",
  "|---|---:|---:|",
  sprintf("| %s | %s | %s |", prof$self$fun, fmt(prof$self$self_s, 2), fmt(prof$self$total_s, 2)),
  "")
md <- c(
  "# evaluate(cv = 5) of an ipw() model vs glm() + cobalt::bal.tab() + hand ROC",
  "",
  sprintf("%s (%d logical cores); %s; cobalt %s; BLAS: %s.", run_info(), parallel::detectCores(),
          ram_gb(), utils::packageVersion("cobalt"), basename(utils::sessionInfo()$BLAS)),
  "",
  sprintf("%d covariates, %d-fold CV (folds from `set.seed(1); sample(rep_len(1:%d, n))`, the same on both sides); seconds = median elapsed of %d runs in one R process (all runs listed); ratio = seconds / seconds(causallib).",
          P_COV, CV, CV, REPS),
  "`causallib` = `ipw(a ~ x1 + ... + x20)` + `evaluate(fit, cv = 5)`; `causallib_evaluate_only` = `evaluate()` alone, the fit done outside the timing;",
  "`glm_cobalt` = a full-data `glm()` (the IPW model) + per fold a `glm()` on the training rows, then for the training and validation rows `cobalt::bal.tab()` (pooled SD, variance ratios, KS), rank AUC, weighted Mann-Whitney AUC, expected AUC, ECE (10 quantile bins) and ICI (`glm(a ~ ns(qlogis(p), 3))`).",
  "extra_peak_MB = peak RSS of a fresh Rscript running the method once minus that of one only simulating the data (GNU time %M); for causallib_evaluate_only the subprocess also runs the initial ipw() fit before it.",
  "",
  "cpu_s = median CPU time (user + system, both threads) of this process per run; other_cores = the most CPU that other processes used during any timed run of the method, in cores (machine busy time from /proc/stat minus this process's, over elapsed; 0 on an idle machine).",
  "",
  "| n | method | seconds | runs (s) | ratio (seconds / causallib) | cpu_s | other_cores | extra_peak_MB | total_peak_MB |",
  "|---|---|---:|---|---:|---:|---:|---:|---:|",
  sprintf("| %s | %s | %s | %s | %s | %s | %s | %s | %s |", tab$n, tab$method, fmt(tab$seconds, 3), tab$runs,
          fmt(tab$ratio, 2), fmt(tab$cpu, 2), fmt(tab$other_cores, 2), fmt(tab$extra_peak_MB, 1),
          fmt(tab$total_peak_MB, 1)),
  "",
  check_md,
  if (length(warnings_out)) c("**Mismatches (tolerance 1e-6):**", "", paste("-", warnings_out), "")
  else c(sprintf("Every metric of every fold and phase agrees between causallib and glm_cobalt to %g.", TOL), ""),
  prof_md,
  if (length(notes$get())) c("**Notes:**", "", paste("-", notes$get()))
)
dir.create(dirname(OUT), showWarnings = FALSE, recursive = TRUE)
writeLines(md, OUT)
cat(md, sep = "\n")
