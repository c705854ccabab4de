# Benchmark: standardized survival curves (the parametric g-formula over
# person-time, What If chapter 17): survival_standardization() versus the
# usual R recipe (expand to person-period rows, glm(), standardize), and
# adjustedCurves when installed (with riskRegression, which its "direct"
# method uses for a coxph() model); plus the bootstrap cost on nhefs. Run by
# hand from the package root:
#
#   bash bench/run-survival.sh        # everything, writes bench/results/survival.md
#   Rscript bench/survival.R          # same, without the wrapper
#   Rscript bench/survival.R --mem METHOD N
#       internal: one memory-measurement subprocess (simulate data, run METHOD
#       once); METHOD "data" only simulates ("data_peers" also loads the
#       adjustedCurves and riskRegression namespaces). Meant to run under
#       /usr/bin/time -f %M, which reports the peak RSS in KB.
#
# Environment variables: see bench/run-survival.sh and bench/README.md; among
# them CAUSALLIB_BENCH_ADJ_MAX_N (default 1e6), the largest n at which the
# adjustedCurves row runs (about 14 s per call at 1e6 people).
#
# Never run from the tests. See bench/README.md.

source(file.path("bench", "common.R"))   # set-up, timing, memory, SEED, P_COV, XNAMES

num_list <- function(x) as.numeric(strsplit(x, ",")[[1]])
SIZES <- num_list(Sys.getenv("CAUSALLIB_BENCH_N", "1e4,1e5,1e6"))
GLM_MAX_N <- as.numeric(Sys.getenv("CAUSALLIB_BENCH_GLM_MAX_N", "1e5"))
# adjustedCurves (Cox model + riskRegression::ate) takes about 1.3 s at 1e5 and
# 14 s at 1e6 people (2.5 GB), so by default it runs at every size.
ADJ_MAX_N <- as.numeric(Sys.getenv("CAUSALLIB_BENCH_ADJ_MAX_N", "1e6"))
REPS <- as.integer(Sys.getenv("CAUSALLIB_BENCH_REPS", "3"))
# per method and size: "method@n=reps,..."
REPS_BY <- Sys.getenv("CAUSALLIB_BENCH_REPS_BY", "glm_expanded@1e5=1")
BOOT_R <- as.integer(Sys.getenv("CAUSALLIB_BENCH_BOOT_R", "200"))          # 0 skips
BOOT_REPS <- as.integer(Sys.getenv("CAUSALLIB_BENCH_BOOT_REPS", "3"))
BREAKDOWN <- Sys.getenv("CAUSALLIB_BENCH_BREAKDOWN", "1") != "0"
OUT <- Sys.getenv("CAUSALLIB_BENCH_OUT", file.path("bench", "results", "survival.md"))
TOL <- 1e-6
# The rows "with intervals" (causallib_intervals); 0 skips them.
INTERVALS <- Sys.getenv("CAUSALLIB_BENCH_INTERVALS", "1") != "0"

reps_for <- function(method, n) {
  if (!nzchar(REPS_BY)) return(REPS)
  for (item in strsplit(REPS_BY, ",")[[1]]) {
    kv <- strsplit(trimws(item), "=")[[1]]
    key <- strsplit(kv[1], "@")[[1]]
    if (key[1] == method && as.numeric(key[2]) == n) return(as.integer(kv[2]))
  }
  REPS
}

# The data: simulate_survival_data() in common.R.

surv_formula <- stats::as.formula(paste("Surv(time, event) ~ a +", paste(XNAMES, collapse = " + ")))
km_weight_formula <- stats::as.formula(paste("a ~", paste(XNAMES, collapse = " + ")))
glm_formula <- stats::as.formula(paste("y ~ a * (time + I(time^2)) +", paste(XNAMES, collapse = " + ")))

# --------------------------------------------------------------- methods ------
# Each returns c(S0, S1): the standardized survival at period TMAX under
# a = 0 and a = 1.
# adjustedsurv(method = "direct") on a coxph() model calls riskRegression::ate(),
# and riskRegression is only a Suggests of adjustedCurves.
# Estimators whose curves are not the pooled-logistic g-formula's, so
# S(TMAX) is not compared with causallib's.
OTHER_ESTIMATORS <- c("adjustedCurves", "causallib_km_intervals")
has_adjusted_curves <- function() requireNamespace("adjustedCurves", quietly = TRUE) &&
  requireNamespace("riskRegression", quietly = TRUE)

methods <- list(
  causallib = function(d) {
    fit <- survival_standardization(surv_formula, data = d$df, treatment = "a",
                                    time_terms = ~ time + I(time^2), se = "none")
    s <- fit$survival[, match(TMAX, fit$times)]
    unname(s[c("0", "1")])
  },
  # The same fit with its default influence-function (sandwich) intervals:
  # the pointwise standard errors of both curves, and the risk difference at
  # TMAX with its interval.
  causallib_intervals = function(d) {
    fit <- survival_standardization(surv_formula, data = d$df, treatment = "a",
                                    time_terms = ~ time + I(time^2))
    e <- estimate_effect(fit, times = TMAX)
    stopifnot(fit$se_type == "sandwich", is.finite(e$vcov))
    s <- fit$survival[, match(TMAX, fit$times)]
    unname(s[c("0", "1")])
  },
  # The IP-weighted Kaplan-Meier curves (weights from a logistic propensity
  # model on x1..x20) with their default influence-function intervals and
  # the risk difference at TMAX: another estimator, so its S(TMAX) is not
  # checked against the others.
  causallib_km_intervals = function(d) {
    fit <- survival_ipw(Surv(time, event) ~ a, data = d$df, weight_model = km_weight_formula)
    e <- estimate_effect(fit, times = TMAX)
    stopifnot(fit$se_type == "sandwich", is.finite(e$vcov))
    s <- fit$survival[, match(TMAX, fit$times)]
    unname(s[c("0", "1")])
  },
  # The usual R recipe. The expansion subsets column by column: `df[idx, ]`
  # would also build 10^7 unique row names, which alone takes ~10 s at 1e5.
  glm_expanded = function(d) {
    df <- d$df
    n <- nrow(df)
    idx <- rep.int(seq_len(n), df$time)
    long <- list2DF(lapply(df, `[`, idx))
    long$y <- as.integer(long$event == 1L & long$time == sequence(df$time))
    long$time <- sequence(df$time)
    rm(idx)
    g <- stats::glm(glm_formula, family = stats::binomial(), data = long)
    rm(long)
    b <- stats::coef(g)
    b[is.na(b)] <- 0
    # hazard logit = person part + period part; survival by a running product
    base <- b[["(Intercept)"]] + drop(as.matrix(df[XNAMES]) %*% b[XNAMES])
    tt <- seq_len(TMAX)
    vapply(0:1, function(lev) {
      pp <- base + lev * b[["a"]]
      per <- b[["time"]] * tt + b[["I(time^2)"]] * tt^2 +
        lev * (b[["a:time"]] * tt + b[["a:I(time^2)"]] * tt^2)
      s <- rep(1, n)
      for (k in tt) s <- s * (1 - stats::plogis(pp + per[k]))
      mean(s)
    }, numeric(1))
  },
  # Different model (direct standardization of a Cox model: riskRegression's
  # G-formula over the Breslow baseline hazard), so it is not checked against
  # the others; only how far its curves are from causallib's is reported.
  adjustedCurves = function(d) {
    df <- d$df
    df$a <- factor(df$a, levels = c(0, 1))
    cox <- survival::coxph(stats::as.formula(paste("Surv(time, event) ~ a +", paste(XNAMES, collapse = " + "))),
                           data = df, x = TRUE)
    res <- adjustedCurves::adjustedsurv(data = df, variable = "a", ev_time = "time", event = "event",
                                        method = "direct", outcome_model = cox, conf_int = FALSE,
                                        times = TMAX)
    adj <- res$adj
    vapply(c("0", "1"), function(l) {
      s <- adj$surv[as.character(adj$group) == l & adj$time <= TMAX]
      s[length(s)]
    }, numeric(1), USE.NAMES = FALSE)
  }
)

methods_at <- function(n) {
  m <- c("causallib", if (INTERVALS) c("causallib_intervals", "causallib_km_intervals"))
  if (n <= GLM_MAX_N) m <- c(m, "glm_expanded")
  if (has_adjusted_curves() && n <= ADJ_MAX_N) m <- c(m, "adjustedCurves")
  m
}

# --------------------------------------------------- memory subprocess mode ---
# The adjustedCurves subprocess and its own baseline "data_peers" also load
# the namespaces of adjustedCurves and riskRegression (with rms, Hmisc, ...),
# so package code is not counted as its extra memory; the causallib and
# glm_expanded subprocesses and their baseline "data" load only survival, so
# their totals do not include peer packages they never use.
PEER_PACKAGES <- c("adjustedCurves", "riskRegression")
if (is_mem_subprocess()) {
  mem_method <- commandArgs(trailingOnly = TRUE)[2]
  run_mem_subprocess(simulate_survival_data,
                     packages = c("survival", if (mem_method %in% c("adjustedCurves", "data_peers")) PEER_PACKAGES),
                     run = function(method, d, setup) {
                       if (method == "data_peers") c(NA_real_, NA_real_) else methods[[method]](d)
                     })
}

# ------------------------------------------------------------- timing ---------
notes <- new_notes(show = function(msg) message("  NOTE: ", msg))
note <- notes$add

time_method <- function(fun, d, reps) {
  t <- time_call(function() fun(d), reps, busy = TRUE)
  c(t, list(s = if (is.null(t$res)) c(NA_real_, NA_real_) else t$res))
}

# The memory subprocesses run under an address-space cap (ulimit -v): near
# the cap R's allocator collects garbage and retries instead of the kernel's
# OOM killer ending the process. Uncapped, glm_expanded at 1e5 people grew
# past 22.5 GB RSS and was OOM-killed on a 23.5 GB machine.
mem_available_mb <- function() {
  x <- tryCatch(grep("^MemAvailable", readLines("/proc/meminfo"), value = TRUE), error = function(e) character())
  if (length(x)) as.numeric(gsub("\\D", "", x)) / 1024 else NA_real_
}
MEM_CAP_MB <- local({
  cap <- Sys.getenv("CAUSALLIB_BENCH_MEM_CAP_MB", "")
  if (nzchar(cap)) as.numeric(cap) else floor(mem_available_mb() - 2048)
})

peak_mb <- function(method, n) {
  peak_rss_mb("survival", method, n, on_fail = note, mem_cap_mb = MEM_CAP_MB)
}

pkg_version <- function(p) {
  if (requireNamespace(p, quietly = TRUE)) as.character(utils::packageVersion(p)) else "not installed"
}

# Where the time of one survival_standardization(se = "none") call goes, by
# running its steps (package internals) one at a time.
breakdown <- function(d) {
  ns <- asNamespace("causallib")
  steps <- list()
  mem <- list()
  step <- function(name, expr) {
    g0 <- gc(reset = TRUE)
    t0 <- proc.time()
    val <- force(expr)
    tm <- proc.time() - t0
    g <- gc()
    steps[[name]] <<- c(elapsed = tm[["elapsed"]], cpu = tm[["user.self"]] + tm[["sys.self"]])
    # growth of the R heap's high-water mark over what was in use before the step (MB)
    mem[[name]] <<- sum(g[, 6]) - sum(g0[, 2])
    val
  }
  setup <- step("design + response + checks (survival_setup)",
                ns$survival_setup(surv_formula, d$df, "a", NULL, "fail", globalenv()))
  pt <- step("person-time grid (person_time)",
             ns$person_time(setup$time, setup$status, setup$a, NULL, ~ time + I(time^2)))
  design <- setup$d$design
  pd <- step("person design (design_x)", ns$person_design(design))
  x <- pd$x
  xcf <- step("counterfactual designs a = 0, 1 (2 x design_x)", lapply(levels(setup$a), function(lev) {
    ns$person_design(design, level = lev)$x
  }))
  w <- rep(1, setup$n)
  fit <- step("C pooled-logistic fit (pt_fit)",
              ns$pt_fit(x, pt, w, TRUE, lrn_glm(), NULL, pd$intercept))
  lp <- step("person linear predictors (pt_person_lp)",
             vapply(xcf, function(z) ns$pt_person_lp(fit, z), numeric(setup$n)))
  surv <- step("curves (C_ffi_discrete_survival)",
               .Call(ns$C_ffi_discrete_survival, matrix(lp, setup$n), ns$pt_period_table(fit, pt$f),
                     w, causallib_threads()))
  total <- step("whole call survival_standardization(se = \"none\")", methods$causallib(d))
  list(steps = steps, mem = mem, iterations = fit$iter %||% NA,
       sizes = c(frame = as.numeric(utils::object.size(design$vars)),
                 x = as.numeric(utils::object.size(x)),
                 xcf = as.numeric(utils::object.size(xcf))) / 2^20,
       s = surv[, TMAX])
}
`%||%` <- function(a, b) if (is.null(a)) b else a

check_bench_setup("survival")

load_start <- load_avg()
if (!has_adjusted_curves()) note("adjustedCurves (with riskRegression): not installed, so it has no rows.")

# warm-up (lazy loading, byte code, first-call costs) outside the timings
local({
  d0 <- simulate_survival_data(2000)
  for (m in methods_at(2000)) invisible(tryCatch(methods[[m]](d0), error = function(e) NULL))
})

rows <- list()
mismatches <- character()
adj_diffs <- character()
bd <- NULL
for (n in SIZES) {
  message(sprintf("n = %s: simulating", format(n, big.mark = ",", scientific = FALSE)))
  d <- simulate_survival_data(n)
  pp_rows <- sum(as.numeric(d$df$time))
  message(sprintf("  %.0f person-period rows (%.1f per person), %.1f%% events",
                  pp_rows, pp_rows / n, 100 * mean(d$df$event)))
  tm <- list()
  for (m in methods_at(n)) {
    reps <- reps_for(m, n)
    message(sprintf("  timing %s (%d run%s)", m, reps, if (reps == 1) "" else "s"))
    tm[[m]] <- tryCatch(time_method(methods[[m]], d, reps), error = function(e) {
      note(sprintf("n = %g: %s failed: %s", n, m, conditionMessage(e)))
      NULL
    })
    if (!is.null(tm[[m]])) {
      message(sprintf("    runs: %s s", paste(sprintf("%.3f", tm[[m]]$all), collapse = ", ")))
      if (reps > 1) note(sprintf("n = %g: %s runs: %s s", n, m,
                                 paste(sprintf("%.2f", tm[[m]]$all), collapse = ", ")))
    }
  }
  if (BREAKDOWN && n == max(SIZES)) {
    message("  breakdown of the causallib call")
    bd <- tryCatch(c(list(n = n), breakdown(d)), error = function(e) {
      note(sprintf("breakdown at n = %g failed: %s", n, conditionMessage(e)))
      NULL
    })
  }
  rm(d); invisible(gc())
  message("  peak memory (subprocesses)")
  base_mb <- peak_mb("data", n)
  message(sprintf("  baseline (data only) peak RSS: %.1f MB", base_mb))
  peer_base_mb <- if ("adjustedCurves" %in% names(tm)) peak_mb("data_peers", n) else NA_real_
  ref <- tm$causallib
  for (m in names(tm)) {
    if (is.null(tm[[m]])) next
    total_mb <- peak_mb(m, n)
    message(sprintf("    %s: %.1f MB", m, total_mb))
    if (is.finite(total_mb) && total_mb > 0.85 * MEM_CAP_MB) {
      note(sprintf(paste0("n = %g: %s peaked at %.0f MB, close to the %.0f MB address-space cap of the memory ",
                          "subprocess; R collects garbage near the cap, so uncapped its peak RSS is higher."),
                   n, m, total_mb, MEM_CAP_MB))
    }
    rows[[length(rows) + 1]] <- data.frame(
      n = format(n, scientific = TRUE), rows = pp_rows, method = m,
      seconds = tm[[m]]$seconds, cpu = tm[[m]]$cpu, ratio = tm[[m]]$seconds / ref$seconds,
      extra_mb = total_mb - if (m == "adjustedCurves") peer_base_mb else base_mb, total_mb = total_mb,
      s0 = tm[[m]]$s[1], s1 = tm[[m]]$s[2]
    )
    if (m == "adjustedCurves" && !is.null(ref)) {
      adj_diffs <- c(adj_diffs, sprintf("n = %g: S0(%d), S1(%d) of adjustedCurves minus causallib: %+.5f, %+.5f",
                                        n, TMAX, TMAX, tm[[m]]$s[1] - ref$s[1], tm[[m]]$s[2] - ref$s[2]))
    }
    if (!m %in% OTHER_ESTIMATORS && !is.null(ref)) {
      diff <- max(abs(tm[[m]]$s - ref$s))
      if (!is.finite(diff) || diff > TOL) {
        msg <- sprintf("n = %g: S(%d) of %s (%.10f, %.10f) differs from causallib (%.10f, %.10f) by %.3g > %g",
                       n, TMAX, m, tm[[m]]$s[1], tm[[m]]$s[2], ref$s[1], ref$s[2], diff, TOL)
        warning(msg, call. = FALSE)
        mismatches <- c(mismatches, msg)
      }
    }
  }
  note(sprintf("n = %g: data-only baseline peak RSS %.1f MB%s.", n, base_mb,
               if (is.finite(peer_base_mb)) sprintf(" (%.1f MB with the adjustedCurves and riskRegression namespaces loaded, the baseline of adjustedCurves)", peer_base_mb) else ""))
}
tab <- do.call(rbind, rows)

# ------------------------------------------------------- bootstrap (nhefs) ----
boot_rows <- list()
if (BOOT_R > 0) {
  message("nhefs bootstrap")
  std_formula <- nhefs_survival_formula()
  boot_calls <- list(
    "survival_standardization(qsmk + 14 terms)" = function(R, se) {
      survival_standardization(std_formula, data = nhefs, treatment = "qsmk", R = R, se = se)
    },
    "survival_ipw(pooled_logistic, ipw(qsmk ~ 13 terms))" = function(R, se) {
      survival_ipw(Surv(survtime, death) ~ qsmk, data = nhefs,
                   weight_model = ipw(nhefs_weight_formula(), data = nhefs),
                   method = "pooled_logistic", R = R, se = se)
    }
  )
  for (nm in names(boot_calls)) {
    fun <- boot_calls[[nm]]
    res <- tryCatch({
      invisible(fun(20, "bootstrap"))   # warm-up
      point <- vapply(seq_len(BOOT_REPS), function(r) {
        invisible(gc())
        system.time(fun(BOOT_R, "none"))[["elapsed"]]
      }, numeric(1))
      fit <- NULL
      secs <- vapply(seq_len(BOOT_REPS), function(r) {
        invisible(gc())
        set.seed(SEED)
        system.time(fit <<- fun(BOOT_R, "bootstrap"))[["elapsed"]]
      }, numeric(1))
      e <- tidy(estimate_effect(fit, times = TMAX))
      s <- fit$survival[, match(TMAX, fit$times)]
      message(sprintf("  %s: %s s", nm, paste(sprintf("%.2f", secs), collapse = ", ")))
      data.frame(call = nm, R = BOOT_R, seconds = stats::median(secs),
                 per_rep_ms = 1000 * (stats::median(secs) - stats::median(point)) / BOOT_R,
                 point = stats::median(point), s0 = s[["0"]], s1 = s[["1"]],
                 diff = e$estimate[1], lo = e$conf.low[1], hi = e$conf.high[1])
    }, error = function(e) {
      note(sprintf("nhefs bootstrap %s failed: %s", nm, conditionMessage(e)))
      NULL
    })
    if (!is.null(res)) boot_rows[[length(boot_rows) + 1]] <- res
  }
}
btab <- if (length(boot_rows)) do.call(rbind, boot_rows)
note(sprintf(paste0("Load average (1, 5, 15 min) at the start: %s; at the end: %s. With %d logical cores, ",
                    "a load above the benchmark's own 2 threads means other processes competed for the CPU."),
             load_start, load_avg(), parallel::detectCores()))

# ------------------------------------------------------------- report ---------
fmt <- function(x, d) ifelse(is.na(x), "NA", formatC(x, format = "f", digits = d))
target_lines <- function() {
  out <- character()
  r4 <- tab[tab$n == format(1e4, scientific = TRUE) & tab$method == "glm_expanded", ]
  if (nrow(r4)) {
    out <- c(out, sprintf("- >= 20x faster than expanded glm() at 1e4 people: ratio %.1f -> **%s**.",
                          r4$ratio, if (r4$ratio >= 20) "met" else "NOT met"))
  }
  i4 <- tab[tab$n == format(1e4, scientific = TRUE) & tab$method == "causallib_intervals", ]
  if (nrow(i4)) {
    out <- c(out, sprintf("- With intervals at 1e4 people x %d periods under 0.5 s: %.2f s elapsed -> **%s**; %.2f s of CPU time -> %s.",
                          TMAX, i4$seconds, if (i4$seconds < 0.5) "met" else "NOT met", i4$cpu,
                          if (i4$cpu < 0.5) "met" else "NOT met"))
  }
  i6 <- tab[tab$n == format(1e6, scientific = TRUE) & tab$method == "causallib_intervals", ]
  if (nrow(i6)) {
    ok <- i6$seconds < 60 && is.finite(i6$total_mb) && i6$total_mb < 3072
    out <- c(out, sprintf("- With intervals at 1e6 people x %d periods under 60 s and 3 GB: %.1f s elapsed, %.0f MB total peak RSS -> **%s**; %.1f s of CPU time -> %s.",
                          TMAX, i6$seconds, i6$total_mb, if (ok) "met" else "NOT met", i6$cpu,
                          if (i6$cpu < 60 && is.finite(i6$total_mb) && i6$total_mb < 3072) "met" else "NOT met"))
  }
  r6 <- tab[tab$n == format(1e6, scientific = TRUE) & tab$method == "causallib", ]
  if (nrow(r6)) {
    ok <- r6$seconds < 120 && is.finite(r6$total_mb) && r6$total_mb < 2048
    out <- c(out, sprintf(paste0("- 1e6 people x %d periods (%.3g person-period rows) under 2 minutes and 2 GB: ",
                                 "%.1f s, %.0f MB total peak RSS (%.0f MB over the data) -> **%s**."),
                          TMAX, r6$rows, r6$seconds, r6$total_mb, r6$extra_mb, if (ok) "met" else "NOT met"))
  }
  out
}
bd_lines <- function() {
  if (is.null(bd)) return(character())
  c("", sprintf("## Where the time goes: causallib at n = %s (steps run one at a time, 1 run each)",
                format(bd$n, scientific = TRUE)),
    "",
    "R heap MB = growth of R's heap high-water mark during the step (`gc()` max used minus the use before it); memory the C core allocates outside the R heap (malloc) is not in it.",
    "",
    "| step | elapsed s | CPU s | R heap MB |",
    "|---|---:|---:|---:|",
    sprintf("| %s | %s | %s | %s |", names(bd$steps),
            fmt(vapply(bd$steps, `[[`, 0, "elapsed"), 2), fmt(vapply(bd$steps, `[[`, 0, "cpu"), 2),
            fmt(unlist(bd$mem), 0)),
    "",
    sprintf("Object sizes: raw variables %.0f MB, person design %.0f MB, counterfactual designs %.0f MB. The C fit took %s Newton iterations. Breakdown S(%d) = %.8f, %.8f.",
            bd$sizes[["frame"]], bd$sizes[["x"]], bd$sizes[["xcf"]], format(bd$iterations), TMAX, bd$s[1], bd$s[2]))
}

md <- c(
  "# Standardized survival curves: survival_standardization() vs expanded glm()",
  "",
  sprintf("%s (%d logical cores, %s); survival %s; adjustedCurves %s (riskRegression %s).", run_info(),
          parallel::detectCores(), ram_gb(), pkg_version("survival"), pkg_version("adjustedCurves"),
          pkg_version("riskRegression")),
  "",
  sprintf(paste0("Data: n people, x1..x%d ~ N(0, 1), a ~ Bernoulli(plogis(0.3 (x1 + ... + x5) - 0.2)), discrete-time hazard ",
                 "plogis(-6 + 0.3 a + 0.1 (x1 + ... + x5)) per period, administrative censoring at period %d (seed %d)."),
          P_COV, TMAX, SEED),
  sprintf("Model (causallib and glm_expanded): logit hazard ~ a * (time + time^2) + x1 + ... + x20 over person-periods; standardized survival at period 120 under a = 0 and a = 1. glm_expanded runs up to n = %g (`CAUSALLIB_BENCH_GLM_MAX_N`).", GLM_MAX_N),
  if (has_adjusted_curves()) sprintf(paste0(
    "adjustedCurves: `coxph(Surv(time, event) ~ a + x1 + ... + x20, x = TRUE)` + `adjustedsurv(method = \"direct\", times = %d, conf_int = FALSE)` ",
    "(riskRegression::ate(), G-formula): a different model (proportional hazards, Breslow baseline), so its curves are not checked against the others; run up to n = %g (`CAUSALLIB_BENCH_ADJ_MAX_N`). ",
    "Its peak extra MB is over a baseline that also loads the adjustedCurves and riskRegression namespaces."), TMAX, ADJ_MAX_N),
  sprintf(paste0("seconds = median elapsed of %d runs in one R process (override: `%s`), whole call (for glm_expanded: expansion + glm() + standardization); ",
                 "CPU s = median CPU time of this R process over the same runs (all its threads; on a loaded machine elapsed time exceeds it); ",
                 "ratio = seconds / causallib seconds at the same n."), REPS, REPS_BY),
  sprintf("total peak MB = peak RSS of a fresh `Rscript bench/survival.R --mem METHOD N` (GNU time %%M) run under `ulimit -v` %.0f MB; peak extra MB = that minus the peak RSS of a subprocess that only simulates the data.",
          MEM_CAP_MB),
  "",
  "## Targets",
  "",
  "- At least 20x faster than expanded glm() at 1e4 people (ratio >= 20 for glm_expanded).",
  "- 1e6 people x 120 periods under 2 minutes and under 2 GB peak memory for the whole call (total peak RSS of the subprocess).",
  "- With intervals (causallib_intervals: the default influence-function intervals and the risk difference at 120): under 0.5 s at 1e4 people, under 60 s and 3 GB at 1e6 people (issue 11).",
  "- causallib_km_intervals (no target, for comparison): `survival_ipw(Surv(time, event) ~ a, weight_model = a ~ x1 + ... + x20)` with its default intervals and the risk difference at 120.",
  "",
  target_lines(),
  "",
  "## Standardized survival, simulated data",
  "",
  "| n | person-period rows | method | seconds (median) | CPU s (median) | ratio | peak extra MB | total peak MB | S0(120) | S1(120) |",
  "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
  sprintf("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |",
          tab$n, format(tab$rows, big.mark = ",", scientific = FALSE, trim = TRUE), tab$method,
          fmt(tab$seconds, 3), fmt(tab$cpu, 3), fmt(tab$ratio, 2), fmt(tab$extra_mb, 1), fmt(tab$total_mb, 1),
          fmt(tab$s0, 8), fmt(tab$s1, 8)),
  "",
  if (length(mismatches)) c("**S(120) mismatches (tolerance 1e-6):**", "", paste("-", mismatches))
  else sprintf("All S0(120), S1(120) agree with causallib to %g (adjustedCurves, a Cox model, and the IP-weighted Kaplan-Meier curves excepted).", TOL),
  if (length(adj_diffs)) c("", "adjustedCurves (Cox model) vs causallib (pooled logistic), for information only:", "",
                           paste("-", adj_diffs)),
  if (!is.null(btab)) c(
    "",
    sprintf("## Bootstrap cost on nhefs (n = %d, %d replicates, set.seed(%d))", nrow(nhefs), BOOT_R, SEED),
    "",
    sprintf("seconds = median elapsed of %d runs; point only = the same call with se = \"none\"; per replicate = (seconds - point only) / R. Difference = S1(120) - S0(120) with its percentile interval.",
            BOOT_REPS),
    "",
    "| call | R | seconds (median) | point only s | ms per replicate | S0(120) | S1(120) | difference [95% CI] |",
    "|---|---:|---:|---:|---:|---:|---:|---|",
    sprintf("| `%s` | %d | %s | %s | %s | %s | %s | %s [%s, %s] |", btab$call, btab$R, fmt(btab$seconds, 2),
            fmt(btab$point, 3), fmt(btab$per_rep_ms, 1), fmt(btab$s0, 4), fmt(btab$s1, 4),
            fmt(btab$diff, 4), fmt(btab$lo, 4), fmt(btab$hi, 4))
  ),
  bd_lines(),
  if (length(notes$get())) c("", "## Notes", "", paste("-", notes$get()))
)
dir.create(dirname(OUT), showWarnings = FALSE, recursive = TRUE)
writeLines(md, OUT)
cat(md, sep = "\n")
