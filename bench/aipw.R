# Benchmark: aipw() of a standardization() and an ipw() model, with an
# influence-function SE and with a 1000-replicate bootstrap, versus the same
# AIPW estimator written with glm() + lm() (and the CRAN packages AIPW and
# tmle when installed). Run by hand from the package root:
#
#   bash bench/run-aipw.sh            # everything, writes bench/results/aipw.md
#   Rscript bench/aipw.R              # same, without the wrapper
#   Rscript bench/aipw.R --mem METHOD N
#       internal: one memory-measurement subprocess (simulate data, run METHOD
#       once); METHOD "data" only simulates. Meant to run under
#       /usr/bin/time -f %M, which reports the peak RSS in KB.
#
# Never run from the tests. See bench/README.md.

source(file.path("bench", "common.R"))   # set-up, simulate_ipw_data(), timing, memory

BOOT_SEED <- 1L
env_num <- function(name, default) as.numeric(Sys.getenv(name, default))
SIZES <- as.numeric(strsplit(Sys.getenv("CAUSALLIB_BENCH_N", "1e5"), ",")[[1]])
REPS <- as.integer(env_num("CAUSALLIB_BENCH_REPS", "3"))
BOOT_R <- as.integer(env_num("CAUSALLIB_BENCH_BOOT_R", "1000"))
BOOT_REPS <- as.integer(env_num("CAUSALLIB_BENCH_BOOT_REPS", "3"))
GLM_BOOT_R <- as.integer(env_num("CAUSALLIB_BENCH_GLM_BOOT_R", "1000"))
GLM_BOOT_REPS <- as.integer(env_num("CAUSALLIB_BENCH_GLM_BOOT_REPS", "1"))
GLM_BOOT_MEM_R <- as.integer(env_num("CAUSALLIB_BENCH_GLM_BOOT_MEM_R", "20"))
NHEFS <- Sys.getenv("CAUSALLIB_BENCH_NHEFS", "1") != "0"
NHEFS_REPS <- as.integer(env_num("CAUSALLIB_BENCH_NHEFS_REPS", "5"))
NHEFS_GLM_REPS <- as.integer(env_num("CAUSALLIB_BENCH_NHEFS_GLM_REPS", "3"))
NHEFS_TARGET_S <- 2
OUT <- Sys.getenv("CAUSALLIB_BENCH_OUT", file.path("bench", "results", "aipw.md"))
TOL <- 1e-6
# tmle_pkg is a TMLE (same models, different estimator): its distance from
# causallib_if is reported, and flagged above this fraction of the SE.
TMLE_TOL_SE <- 0.1

# ---------------------------------------------------------------- data --------
# The same simulation as bench/ipw.R (simulate_ipw_data() in bench/common.R).
sim_spec <- list(
  om = stats::reformulate(c("a", XNAMES), response = "y"),
  wm = stats::reformulate(XNAMES, response = "a"),
  treatment = "a", outcome = "y"
)

nhefs_spec <- list(
  om = nhefs_outcome_formula(),
  wm = nhefs_weight_formula(),
  treatment = "qsmk", outcome = "wt82_71"
)
nhefs_data <- function() {
  d <- causallib::nhefs
  d[!is.na(d$wt82_71), , drop = FALSE]
}

# ------------------------------------------------------- the two pipelines ----
# Each returns list(estimate, std_error, replicates) for the ATE (1 vs 0).

causallib_aipw <- function(df, spec, se = "sandwich", R = NULL) {
  # treatment is quoted (non-standard evaluation): splice the name in
  om <- eval(bquote(standardization(spec$om, data = df, treatment = .(spec$treatment))))
  wm <- ipw(spec$wm, data = df)
  fit <- aipw(om, wm)
  eff <- if (se == "bootstrap") {
    set.seed(BOOT_SEED)
    estimate_effect(fit, se = "bootstrap", R = R)
  } else {
    estimate_effect(fit)
  }
  tt <- tidy(eff)
  list(estimate = tt$estimate[1], std_error = tt$std.error[1],
       replicates = if (!is.null(eff$replicates)) eff$replicates[, 1] else NULL, R = R)
}

# AIPW by hand: logistic glm() propensity, lm() outcome model with the
# treatment, predictions under a = 0 and a = 1, the AIPW terms per arm.
glm_aipw_terms <- function(df, spec) {
  g <- stats::glm(spec$wm, family = stats::binomial(), data = df)
  p <- unname(stats::fitted(g))
  m <- stats::lm(spec$om, data = df)
  d1 <- d0 <- df
  d1[[spec$treatment]] <- 1
  d0[[spec$treatment]] <- 0
  q1 <- unname(stats::predict(m, newdata = d1))
  q0 <- unname(stats::predict(m, newdata = d0))
  a <- df[[spec$treatment]]
  y <- df[[spec$outcome]]
  t1 <- q1 + a * (y - q1) / p
  t0 <- q0 + (1 - a) * (y - q0) / (1 - p)
  t1 - t0
}

glm_aipw <- function(df, spec) {
  d <- glm_aipw_terms(df, spec)
  n <- length(d)
  ate <- mean(d)
  # influence function of the ATE: d_i - ate; Var = sum(IF^2) / n^2
  list(estimate = ate, std_error = sqrt(sum((d - ate)^2)) / n, replicates = NULL, R = NULL)
}

# Rows idx of a data frame, column by column: df[idx, ] with repeated rows
# also builds unique row names (make.unique), which costs more than the
# subsetting, so the faster recipe is the baseline.
rows_of <- function(df, idx) {
  structure(lapply(df, `[`, idx), class = "data.frame", row.names = .set_row_names(length(idx)))
}

glm_aipw_boot <- function(df, spec, R) {
  point <- glm_aipw(df, spec)$estimate
  n <- nrow(df)
  set.seed(BOOT_SEED)   # the same resamples as causallib's bootstrap
  reps <- numeric(R)
  for (b in seq_len(R)) {
    idx <- sample.int(n, n, replace = TRUE)
    reps[b] <- mean(glm_aipw_terms(rows_of(df, idx), spec))
  }
  list(estimate = point, std_error = stats::sd(reps), replicates = reps, R = R)
}

# ------------------------------------------------------------ CRAN peers ------
has_aipw_pkg <- function() requireNamespace("AIPW", quietly = TRUE) &&
  requireNamespace("SuperLearner", quietly = TRUE)
has_tmle_pkg <- function() requireNamespace("tmle", quietly = TRUE)

peer_label <- function() {
  lab <- function(pkg, ok) if (ok) paste(pkg, utils::packageVersion(pkg)) else paste(pkg, "not installed")
  sl <- if (requireNamespace("SuperLearner", quietly = TRUE)) {
    sprintf(" (SuperLearner %s)", utils::packageVersion("SuperLearner"))
  } else ""
  paste(c(paste0(lab("AIPW", has_aipw_pkg()), sl), lab("tmle", has_tmle_pkg())), collapse = ", ")
}

# --------------------------------------------------------------- methods ------
methods <- list(
  causallib_if = function(d) causallib_aipw(d$df, sim_spec),
  glm_if = function(d) glm_aipw(d$df, sim_spec),
  causallib_boot = function(d, R = BOOT_R) causallib_aipw(d$df, sim_spec, "bootstrap", R),
  glm_boot = function(d, R = GLM_BOOT_R) glm_aipw_boot(d$df, sim_spec, R),
  # AIPW package: SuperLearner with SL.glm for both models (gaussian for the
  # continuous y, i.e. lm), no cross-fitting (k_split = 1). With one learner
  # the SuperLearner fit is the full-sample glm, but SuperLearner still runs
  # its 10-fold CV to weigh the library, and that is part of the timing. Its
  # propensities are bounded to [0.025, 0.975] (default g.bound); the bound
  # does not bind on this simulation, so the estimate is the same AIPW
  # estimate as causallib_if. The contrast row is "Mean Difference" for a
  # continuous outcome ("Risk Difference" only for a binary one). AIPW needs
  # SuperLearner attached, not only loaded: it checks search() and
  # SuperLearner finds "SL.glm" and "All" by name from there.
  AIPW_pkg = function(d) {
    if (!"package:SuperLearner" %in% search()) {
      suppressPackageStartupMessages(attachNamespace("SuperLearner"))
    }
    obj <- AIPW::AIPW$new(Y = d$y, A = d$a, W = as.data.frame(d$X), Q.SL.library = "SL.glm",
                          g.SL.library = "SL.glm", k_split = 1, verbose = FALSE)
    obj$fit()
    obj$summary()
    r <- obj$result
    row <- grep("Difference$", rownames(r), value = TRUE)[1]
    list(estimate = unname(r[row, "Estimate"]), std_error = unname(r[row, "SE"]),
         replicates = NULL, R = NULL)
  },
  # tmle package: parametric Q and g models (no SuperLearner); a TMLE, not
  # the AIPW estimator, so its estimate agrees with the others only
  # approximately. cvQinit = FALSE makes the initial outcome model the
  # full-sample glm of the other rows (the default cvQinit = TRUE uses 10-fold
  # cross-validated predictions from random folds, a different and
  # non-reproducible initial fit); evalATT = FALSE skips the ATT and ATC,
  # which the table does not use.
  tmle_pkg = function(d) {
    W <- as.data.frame(d$X)
    fit <- tmle::tmle(Y = d$y, A = d$a, W = W,
                      Qform = stats::reformulate(c("A", XNAMES), response = "Y"),
                      gform = stats::reformulate(XNAMES, response = "A"),
                      cvQinit = FALSE, evalATT = FALSE)
    list(estimate = fit$estimates$ATE$psi, std_error = sqrt(fit$estimates$ATE$var.psi),
         replicates = NULL, R = NULL)
  }
)

active_methods <- function() {
  m <- c("causallib_if", "glm_if", "causallib_boot", "glm_boot")
  if (has_aipw_pkg()) m <- c(m, "AIPW_pkg")
  if (has_tmle_pkg()) m <- c(m, "tmle_pkg")
  m
}
if_methods <- c("causallib_if", "glm_if")
reps_for <- function(m) switch(m, causallib_boot = BOOT_REPS, glm_boot = GLM_BOOT_REPS, REPS)
ref_for <- function(m) switch(m, glm_if = "causallib_if", glm_boot = "causallib_boot",
                              causallib_boot = "causallib_boot", "causallib_if")

# --------------------------------------------------- memory subprocess mode ---
if (is_mem_subprocess()) {
  run_mem_subprocess(
    simulate_ipw_data, packages = c("AIPW", "SuperLearner", "tmle"),
    run = function(method, d, setup) {
      res <- if (method == "glm_boot") methods$glm_boot(d, min(GLM_BOOT_MEM_R, GLM_BOOT_R))
             else methods[[method]](d)
      c(res$estimate, res$std_error)
    })
}

# ------------------------------------------------------------- timing ---------
notes <- new_notes()   # the report's notes; failed memory subprocesses go there
peak_mb <- function(method, n) peak_rss_mb("aipw", method, n, on_fail = notes$add)

check_bench_setup("aipw")

# warm-up (lazy loading, byte code, first-call costs) outside the timings
local({
  d0 <- simulate_ipw_data(2000)
  for (m in active_methods()) {
    invisible(if (m %in% c("causallib_boot", "glm_boot")) methods[[m]](d0, 5L) else methods[[m]](d0))
  }
  nh <- nhefs_data()
  invisible(causallib_aipw(nh, nhefs_spec, "bootstrap", 5L))
  invisible(glm_aipw_boot(nh, nhefs_spec, 5L))
})

concurrent <- concurrent_in <- character()
load_start <- load_avg()
rows <- list()
boot_checks <- list()
warnings_out <- character()
peer_checks <- character()

# Compare the bootstrap replicates of the two pipelines: same seed, same
# resamples (causallib draws its counts with sample.int(n, n * B) per batch,
# the R loop sample.int(n, n) per replicate: the same stream).
compare_boot <- function(label, cl, gl) {
  k <- min(length(cl$replicates), length(gl$replicates))
  list(label = label, k = k,
       max_rep_diff = max(abs(cl$replicates[seq_len(k)] - gl$replicates[seq_len(k)])),
       se_cl_full = cl$std_error, R_cl = length(cl$replicates),
       se_cl_k = stats::sd(cl$replicates[seq_len(k)]),
       se_gl = gl$std_error, R_gl = length(gl$replicates))
}

for (n in SIZES) {
  message(sprintf("n = %s: simulating", format(n, big.mark = ",")))
  d <- simulate_ipw_data(n)
  tm <- list()
  for (m in active_methods()) {
    message(sprintf("  timing %s", m))
    busy <- other_benchmarks("aipw")
    tm[[m]] <- tryCatch(time_call(function() methods[[m]](d), reps_for(m)), error = function(e) {
      notes$add(sprintf("n = %g: %s failed: %s", n, m, conditionMessage(e)))
      NULL
    })
    busy <- c(busy, other_benchmarks("aipw"))
    if (length(busy)) concurrent_in <- c(concurrent_in, sprintf("%s at n = %g", m, n))
    concurrent <- c(concurrent, busy)
    if (!is.null(tm[[m]])) {
      message(sprintf("    runs: %s s", paste(sprintf("%.3f", tm[[m]]$all), collapse = ", ")))
    }
  }
  rm(d); invisible(gc())
  message("  peak memory (subprocesses)")
  base_mb <- peak_mb("data", n)
  mem <- vapply(names(tm), function(m) peak_mb(m, n), numeric(1))
  for (m in names(tm)) {
    t <- tm[[m]]
    ref <- tm[[ref_for(m)]]
    scale <- 1
    extrap <- ""
    if (m == "glm_boot" && GLM_BOOT_R < BOOT_R) {
      scale <- BOOT_R / GLM_BOOT_R
      extrap <- sprintf(" (extrapolated from %d replicates: x %.1f)", GLM_BOOT_R, scale)
    }
    secs <- t$seconds * scale
    rows[[length(rows) + 1]] <- data.frame(
      n = format(n, scientific = TRUE), method = m,
      se_type = if (m %in% c("causallib_boot", "glm_boot")) sprintf("bootstrap R = %d", t$res$R) else "influence",
      seconds = secs, seconds_note = extrap,
      runs = paste(sprintf("%.2f", t$all), collapse = ", "),
      ratio = if (!is.null(ref)) secs / ref$seconds else NA_real_,
      extra_peak_MB = mem[[m]] - base_mb, total_peak_MB = mem[[m]],
      estimate = t$res$estimate, std_error = t$res$std_error, stringsAsFactors = FALSE)
  }
  ref_est <- tm$causallib_if$res$estimate
  for (m in intersect(c("glm_if", "causallib_boot", "glm_boot", "AIPW_pkg"), names(tm))) {
    diff <- abs(tm[[m]]$res$estimate - ref_est)
    if (!is.finite(diff) || diff > TOL) {
      msg <- sprintf("n = %g: estimate of %s (%.10f) differs from causallib_if (%.10f) by %.3g > %g",
                     n, m, tm[[m]]$res$estimate, ref_est, diff, TOL)
      warning(msg, call. = FALSE); warnings_out <- c(warnings_out, msg)
    }
  }
  for (m in intersect(c("AIPW_pkg", "tmle_pkg"), names(tm))) {
    if (is.null(tm[[m]])) next
    diff <- tm[[m]]$res$estimate - ref_est
    se <- tm$causallib_if$res$std_error
    peer_checks <- c(peer_checks, sprintf("n = %g: %s - causallib_if = %.3g (%.2g SEs of causallib_if)",
                                          n, m, diff, abs(diff) / se))
    if (m == "tmle_pkg" && !(abs(diff) <= TMLE_TOL_SE * se)) {
      msg <- sprintf("n = %g: estimate of tmle_pkg (%.10f) differs from causallib_if (%.10f) by %.3g, more than %g SE",
                     n, tm[[m]]$res$estimate, ref_est, diff, TMLE_TOL_SE)
      warning(msg, call. = FALSE); warnings_out <- c(warnings_out, msg)
    }
  }
  if (!is.null(tm$causallib_boot) && !is.null(tm$glm_boot)) {
    boot_checks[[length(boot_checks) + 1]] <- compare_boot(
      sprintf("n = %s", format(n, scientific = TRUE)), tm$causallib_boot$res, tm$glm_boot$res)
  }
  message(sprintf("  baseline (data only) peak RSS: %.1f MB", base_mb))
}
tab <- do.call(rbind, rows)

# ------------------------------------------------------------- nhefs ----------
nh_tab <- NULL
if (NHEFS) {
  message("nhefs: timing")
  nh <- nhefs_data()
  nh_calls <- list(
    causallib_if = list(fun = function() causallib_aipw(nh, nhefs_spec), reps = NHEFS_REPS),
    glm_if = list(fun = function() glm_aipw(nh, nhefs_spec), reps = NHEFS_REPS),
    causallib_boot = list(fun = function() causallib_aipw(nh, nhefs_spec, "bootstrap", BOOT_R),
                          reps = NHEFS_REPS),
    glm_boot = list(fun = function() glm_aipw_boot(nh, nhefs_spec, BOOT_R), reps = NHEFS_GLM_REPS)
  )
  nt <- list()
  for (m in names(nh_calls)) {
    message(sprintf("  timing %s", m))
    busy <- other_benchmarks("aipw")
    nt[[m]] <- time_call(nh_calls[[m]]$fun, nh_calls[[m]]$reps)
    busy <- c(busy, other_benchmarks("aipw"))
    if (length(busy)) concurrent_in <- c(concurrent_in, sprintf("%s on nhefs", m))
    concurrent <- c(concurrent, busy)
    message(sprintf("    runs: %s s", paste(sprintf("%.3f", nt[[m]]$all), collapse = ", ")))
  }
  nh_tab <- do.call(rbind, lapply(names(nt), function(m) {
    t <- nt[[m]]
    ref <- nt[[ref_for(m)]]
    data.frame(method = m,
               se_type = if (m %in% c("causallib_boot", "glm_boot")) sprintf("bootstrap R = %d", BOOT_R) else "influence",
               seconds = t$seconds, runs = paste(sprintf("%.3f", t$all), collapse = ", "),
               ratio = t$seconds / ref$seconds, estimate = t$res$estimate,
               std_error = t$res$std_error, stringsAsFactors = FALSE)
  }))
  for (m in c("glm_if", "causallib_boot", "glm_boot")) {
    diff <- abs(nt[[m]]$res$estimate - nt$causallib_if$res$estimate)
    if (!is.finite(diff) || diff > TOL) {
      msg <- sprintf("nhefs: estimate of %s (%.10f) differs from causallib_if (%.10f) by %.3g > %g",
                     m, nt[[m]]$res$estimate, nt$causallib_if$res$estimate, diff, TOL)
      warning(msg, call. = FALSE); warnings_out <- c(warnings_out, msg)
    }
  }
  boot_checks[[length(boot_checks) + 1]] <- compare_boot(sprintf("nhefs (n = %d)", nrow(nh)),
                                                         nt$causallib_boot$res, nt$glm_boot$res)
  nh_n <- nrow(nh)
}
load_end <- load_avg()
if (length(concurrent)) {
  notes$add(sprintf("Other R processes ran during the timings of %s, so those timings are not reliable: %s",
                    paste(concurrent_in, collapse = ", "), paste(unique(concurrent), collapse = "; ")),
            now = FALSE)
}
notes$add(sprintf("Load average (1, 5, 15 min) at the start of the timings: %s; at the end: %s.",
                  load_start, load_end), now = FALSE)

# ------------------------------------------------------------- report ---------
fmt <- function(x, d) ifelse(is.na(x), "", formatC(x, format = "f", digits = d))
fmtg <- function(x, d = 6) formatC(x, format = "g", digits = d)
peer_rows <- c(
  if (!has_aipw_pkg()) "| all | AIPW_pkg | | not installed | | | | | | |",
  if (!has_tmle_pkg()) "| all | tmle_pkg | | not installed | | | | | | |"
)
boot_md <- if (length(boot_checks)) c(
  "Bootstrap SEs side by side (both use `set.seed(1)` and draw the same resamples; `replicates compared` is how many of them both ran):",
  "",
  "| data | causallib SE (R) | glm/lm loop SE (R) | causallib SE over the compared replicates | replicates compared | max abs diff of the compared replicates |",
  "|---|---:|---:|---:|---:|---:|",
  vapply(boot_checks, function(b) sprintf("| %s | %s (%d) | %s (%d) | %s | %d | %s |", b$label,
         fmtg(b$se_cl_full), b$R_cl, fmtg(b$se_gl), b$R_gl, fmtg(b$se_cl_k), b$k,
         fmtg(b$max_rep_diff, 3)), character(1)),
  "")
nh_md <- if (!is.null(nh_tab)) {
  cb <- nh_tab$seconds[nh_tab$method == "causallib_boot"]
  c(sprintf("## nhefs (complete cases of wt82_71, n = %d): AIPW with %d bootstrap replicates", nh_n, BOOT_R),
    "",
    "Outcome model `wt82_71 ~ qsmk + <13 terms> + qsmk:smokeintensity` (standardization / lm), weight model `qsmk ~ sex + race + age + I(age^2) + education + smokeintensity + I(smokeintensity^2) + smokeyrs + I(smokeyrs^2) + exercise + active + wt71 + I(wt71^2)` (ipw / logistic glm).",
    sprintf("seconds = median elapsed of %d runs (%d for glm_boot), model fits included; ratio = seconds / seconds(causallib counterpart).",
            NHEFS_REPS, NHEFS_GLM_REPS),
    "",
    "| method | se_type | seconds | runs (s) | ratio (glm / causallib) | estimate | std_error |",
    "|---|---|---:|---|---:|---:|---:|",
    sprintf("| %s | %s | %s | %s | %s | %s | %s |", nh_tab$method, nh_tab$se_type, fmt(nh_tab$seconds, 3),
            nh_tab$runs, fmt(nh_tab$ratio, 1), fmt(nh_tab$estimate, 8), fmtg(nh_tab$std_error)),
    "",
    sprintf("Target: %d bootstrap replicates of AIPW on nhefs in under %g s on 2 cores: **%s** (causallib_boot %.3f s).",
            BOOT_R, NHEFS_TARGET_S, if (cb < NHEFS_TARGET_S) "met" else "not met", cb),
    "")
}
md <- c(
  "# aipw() + estimate_effect() (influence SE and bootstrap) vs glm() + lm() by hand",
  "",
  sprintf("%s (%d logical cores); %s; %s; BLAS: %s.", run_info(), parallel::detectCores(),
          ram_gb(), peer_label(), basename(utils::sessionInfo()$BLAS)),
  "",
  sprintf("## Simulated data (%d covariates, as bench/ipw.R)", P_COV),
  "",
  "`causallib_if` = `standardization(y ~ a + x1 + ... + x20)` + `ipw(a ~ x1 + ... + x20)` + `aipw(om, wm)` + `estimate_effect()` (its default `se = \"sandwich\"`: the influence-function variance);",
  "`glm_if` = `glm(a ~ ..., binomial)` + `lm(y ~ a + ...)` + `predict()` under a = 1 and a = 0 + the AIPW terms and their influence-function SE by hand;",
  sprintf("`causallib_boot` = the same fits + `estimate_effect(fit, se = \"bootstrap\", R = %d)` (both models refitted in C per replicate); `glm_boot` = the glm()/lm() pipeline refitted in an R loop over `sample.int(n, n, replace = TRUE)` resamples (rows subset column by column).",
          BOOT_R),
  sprintf("seconds = median elapsed of the runs listed (%d for the IF methods, %d for causallib_boot, %d for glm_boot) in one R process, model fits included; ratio = seconds / seconds(causallib counterpart: causallib_if for the IF rows, causallib_boot for the bootstrap rows).",
          REPS, BOOT_REPS, GLM_BOOT_REPS),
  sprintf("extra_peak_MB = peak RSS of a fresh Rscript running the method once minus that of one only simulating the data (GNU time %%M); the glm_boot subprocess runs %d replicates (its peak is reached in the first one).",
          min(GLM_BOOT_MEM_R, GLM_BOOT_R)),
  "",
  "| n | method | se_type | seconds | runs (s) | ratio (glm / causallib) | extra_peak_MB | total_peak_MB | estimate | std_error |",
  "|---|---|---|---:|---|---:|---:|---:|---:|---:|",
  sprintf("| %s | %s | %s | %s%s | %s | %s | %s | %s | %s | %s |",
          tab$n, tab$method, tab$se_type, fmt(tab$seconds, 3), tab$seconds_note, tab$runs,
          fmt(tab$ratio, 1), fmt(tab$extra_peak_MB, 1), fmt(tab$total_peak_MB, 1),
          fmt(tab$estimate, 8), fmtg(tab$std_error)),
  peer_rows,
  "",
  if (length(warnings_out)) c("**Estimate mismatches (tolerance 1e-6):**", "", paste("-", warnings_out), "")
  else c(sprintf("All point estimates (IF and bootstrap rows, causallib and glm%s) agree with causallib_if to %g%s.",
                 if (has_aipw_pkg()) ", and AIPW_pkg" else "", TOL,
                 if (has_tmle_pkg()) sprintf("; tmle_pkg (a TMLE) within %g SE", TMLE_TOL_SE) else ""), ""),
  if (length(peer_checks)) c(
    "Peer packages: `AIPW_pkg` = `AIPW::AIPW$new(Y, A, W, Q.SL.library = \"SL.glm\", g.SL.library = \"SL.glm\", k_split = 1)` + `fit()` + `summary()` (SuperLearner with one learner, so the full-sample glm()/lm() fits, after SuperLearner's 10-fold CV of the library; propensities bounded at 0.025, which does not bind here): the same AIPW estimator, checked to 1e-6. `tmle_pkg` = `tmle::tmle(Y, A, W, Qform = Y ~ A + x1 + ... + x20, gform = A ~ x1 + ... + x20, cvQinit = FALSE, evalATT = FALSE)`: the same models, but a TMLE (logistic fluctuation of the bounded, rescaled outcome), so it agrees only approximately. Both SEs come from the influence function (with n - 1 in the variance, hence about 1 + 1/(2n) times causallib's). Differences from causallib_if:",
    "", paste("-", peer_checks), ""),
  nh_md,
  boot_md,
  if (length(notes$get())) c("**Notes:**", "", paste("-", notes$get()))
)
dir.create(dirname(OUT), showWarnings = FALSE, recursive = TRUE)
writeLines(md, OUT)
cat(md, sep = "\n")
