# screen() at scale and its accuracy on planted signals.
#
#   CAUSALLIB_LIB=/path/to/lib nice -n 10 Rscript bench/screen.R
#
# Writes bench/results/screen.md (CAUSALLIB_BENCH_OUT to change). Three parts:
#
# (a) Scale: simulate_records() with SCALE_N persons (1e5) and SCALE_DRUGS
#     screening drugs (500); every drug against every other drug
#     (comparators = NULL) on 3 outcomes -- the infarction (MI) and two of
#     the negative-control codes used as outcomes of interest -- plus
#     SCALE_NC further negative-control codes as negative controls (5);
#     estimator "ipw", under plan(multisession, workers = 2). Wall time is
#     split from the checkpoint files' times into the cohort builds
#     (screen() writes cohort-*.rds after each build) and the pairs (the
#     last pair-*.rds); CPU is this process's plus the two workers' (read
#     from /proc/<pid>/stat).
# (b) Plans: the first SUBSET_DRUGS drugs (100) on the same 3 outcomes, the
#     cohorts given as data, under plan(sequential) and then
#     plan(multisession, workers = 2): the speed-up and whether the two
#     results are identical.
# (c) Accuracy: ACC_N persons (3e5), ACC_DRUGS drugs (40, every fifth
#     non-null: log(1.5) and log(2/3) by turns) and ACC_NC negative controls
#     (30) under plan(multisession, workers = 2): recall and precision of the
#     planted non-null drugs on MI at FDR 5% (q_value and q_calibrated),
#     coverage of the 95% intervals of the null drugs on MI (uncalibrated
#     and calibrated), and of the negative controls, calibrated leave one out.
#
# Never run from the tests. See bench/README.md.

source(file.path("bench", "common.R"))
for (p in c("future", "future.apply", "progressr", "EmpiricalCalibration")) {
  if (!requireNamespace(p, quietly = TRUE)) stop("bench/screen.R needs the ", p, " package")
}

env_num <- function(name, default) as.numeric(Sys.getenv(name, as.character(default)))
SCALE_N <- env_num("CAUSALLIB_BENCH_SCALE_N", 1e5)
SCALE_DRUGS <- env_num("CAUSALLIB_BENCH_SCALE_DRUGS", 500)
SCALE_NC <- env_num("CAUSALLIB_BENCH_SCALE_NC", 5)
SUBSET_DRUGS <- env_num("CAUSALLIB_BENCH_SUBSET_DRUGS", 100)
ACC_N <- env_num("CAUSALLIB_BENCH_ACC_N", 3e5)
ACC_DRUGS <- env_num("CAUSALLIB_BENCH_ACC_DRUGS", 40)
ACC_NC <- env_num("CAUSALLIB_BENCH_ACC_NC", 30)
HORIZON <- 730
FDR <- 0.05
OUT <- Sys.getenv("CAUSALLIB_BENCH_OUT", file.path("bench", "results", "screen.md"))
WORK <- file.path(tempdir(), "screen-bench")
unlink(WORK, recursive = TRUE)
dir.create(WORK)

notes <- new_notes(show = function(msg) message("note: ", msg))
load_start <- load_avg()
others_start <- other_benchmarks("screen")

timed <- function(expr) {
  t0 <- proc.time()
  value <- force(expr)
  t <- proc.time() - t0
  list(value = value, elapsed = unname(t[["elapsed"]]), cpu = unname(t[["user.self"]] + t[["sys.self"]]))
}

# CPU seconds (user + system) of processes by pid, from /proc/<pid>/stat.
proc_cpu_s <- function(pids) {
  sum(vapply(pids, function(p) {
    x <- tryCatch(readLines(file.path("/proc", p, "stat"), warn = FALSE), error = function(e) NA_character_)
    if (is.na(x)) return(NA_real_)
    f <- strsplit(sub("^.*\\) ", "", x), " ")[[1]]   # fields from the 3rd on
    (as.numeric(f[12]) + as.numeric(f[13])) / clk_tck()
  }, numeric(1)))
}

# The multisession workers' pids and causallib_threads(): two chunks of a
# slow function land on the two workers.
worker_info <- function() {
  x <- future.apply::future_lapply(1:2, function(i) {
    Sys.sleep(1)
    c(pid = Sys.getpid(), threads = causallib::causallib_threads())
  }, future.scheduling = 2)
  do.call(rbind, x)
}

# The screen specification: exposures = the given drugs, the outcomes and
# negative controls as named code lists; three confounders as baseline
# covariates; two years of follow-up, risk ratio by two years.
make_spec <- function(tr, drugs, outcomes, ncs) {
  ids <- tr$screening_drugs$drug_concept_id[drugs]
  exps <- do.call(codes, stats::setNames(as.list(ids), paste0("d", drugs)))
  cf <- tr$confounders
  screen_spec(
    exposures = exps, outcomes = outcomes, negative_controls = ncs,
    baseline = baseline(any = list(diabetes = c(-Inf, 0), hypertension = c(-Inf, 0), heart_failure = c(-Inf, 0))),
    codes = codes(diabetes = cf[["diabetes"]], hypertension = cf[["hypertension"]],
                  heart_failure = cf[["heart_failure"]]),
    follow_up = follow_up(max = HORIZON), horizon = HORIZON, estimators = "ipw"
  )
}
nc_codes <- function(tr, which, prefix = "nc") {
  do.call(codes, stats::setNames(as.list(tr$negative_controls[which]), paste0(prefix, which)))
}

# Runs a screen under the current plan with a checkpoint directory and
# splits its wall time by the checkpoint files' times.
run_screen <- function(label, spec, source = NULL, data = NULL, pids = integer(), min_nc = 5) {
  ck <- file.path(WORK, label)
  invisible(gc())
  cpu_w0 <- proc_cpu_s(pids)
  b0 <- machine_busy_s()
  t0 <- Sys.time()
  r <- timed(screen(spec, source = source, data = data, checkpoint = ck, min_negative_controls = min_nc))
  t1 <- Sys.time()
  cpu_workers <- if (length(pids)) proc_cpu_s(pids) - cpu_w0 else 0
  busy <- machine_busy_s() - b0
  mt <- function(pattern) {
    f <- list.files(ck, pattern = pattern, full.names = TRUE)
    if (length(f)) max(file.info(f)$mtime) else t0
  }
  built <- mt("^cohort-.*\\.rds$")
  pairs_end <- mt("^pair-.*\\.rds$")
  res <- r$value
  cpu_total <- r$cpu + cpu_workers
  message(sprintf("%s: %.1f s elapsed, %.1f s CPU; %d rows, %d failed", label, r$elapsed, cpu_total,
                  nrow(res), sum(res$status != "ok")))
  list(res = res, elapsed = r$elapsed, cpu_main = r$cpu, cpu_workers = cpu_workers, cpu = cpu_total,
       builds = if (is.null(source)) 0 else as.numeric(difftime(built, t0, units = "secs")),
       pairs = as.numeric(difftime(pairs_end, if (is.null(source)) t0 else built, units = "secs")),
       rest = as.numeric(difftime(t1, pairs_end, units = "secs")),
       other_cores = max(0, busy - cpu_total) / r$elapsed, ck = ck)
}

fmt <- function(x, d = 1) formatC(x, format = "f", digits = d, big.mark = ",")
pct <- function(x) if (is.na(x)) "NA" else sprintf("%.0f%%", 100 * x)
lines <- character()
add <- function(...) lines <<- c(lines, ...)

# ============================================================ (a) scale ======
message("(a) scale: generating records")
gen <- timed(simulate_records(SCALE_N, n_drugs = SCALE_DRUGS, n_negative_controls = 2 + SCALE_NC, seed = SEED))
records <- gen$value
tr <- attr(records, "truth")$concepts
n_records <- sum(vapply(records[-1], nrow, integer(1)))
copy <- timed(cohort_source(records))
src <- copy$value
outcomes_scale <- c(codes(mi = tr$outcome), nc_codes(tr, 1:2, "nc_outcome"))
spec_scale <- make_spec(tr, seq_len(SCALE_DRUGS), outcomes_scale, if (SCALE_NC > 0) nc_codes(tr, 2 + seq_len(SCALE_NC)))

future::plan(future::multisession, workers = 2)
wi <- worker_info()
pids <- wi[, "pid"]
message("(a) scale: screen under multisession")
scale <- run_screen("scale", spec_scale, source = src, pids = pids)
res_scale <- scale$res
n_pairs_scale <- nrow(res_scale)
wall_total <- gen$elapsed + copy$elapsed + scale$elapsed
# Signals of the scale screen against the planted truth: on MI the non-null
# drugs are true signals; the two negative-control outcomes have none.
scale_lhr <- tr$screening_drugs$log_hr[as.integer(sub("^d", "", res_scale$exposure))]
scale_sig <- function(y, planted) sum(res_scale$signal & res_scale$outcome == y & planted)
scale_truth <- sprintf("MI: %d (%d of the %d non-null drugs, %d null); nc_outcome1: %d; nc_outcome2: %d (no drug affects them)",
                       scale_sig("mi", TRUE), scale_sig("mi", scale_lhr != 0), sum(tr$screening_drugs$log_hr != 0),
                       scale_sig("mi", scale_lhr == 0), scale_sig("nc_outcome1", TRUE), scale_sig("nc_outcome2", TRUE))
# Type I error of the null pairs (MI with a null drug, the two
# negative-control outcomes), by the exposed arm's size (not by its events:
# binning by the observed events would select the chance excesses).
null_pair <- res_scale$status == "ok" & !res_scale$negative_control &
  (res_scale$outcome != "mi" | scale_lhr == 0)
n_bin <- cut(res_scale$n_exposed, c(0, 20, 30, 40, Inf), right = FALSE,
             labels = c("< 20", "20-29", "30-39", ">= 40"))
type1_row <- function(k, label) {
  cal <- k & !is.na(res_scale$p_calibrated)
  sprintf("| %s | %d | %s | %d | %s | %d |", label, sum(k), pct(mean(res_scale$p_value[k] < 0.05)), sum(cal),
          if (any(cal)) pct(mean(res_scale$p_calibrated[cal] < 0.05)) else "",
          sum(k & res_scale$signal))
}
type1 <- c(unlist(lapply(levels(n_bin), function(b) {
  k <- null_pair & !is.na(n_bin) & n_bin == b
  if (any(k)) type1_row(k, b)
})), type1_row(null_pair, "all"))
cohort_n <- tapply(res_scale$n_exposed + res_scale$n_comparator, res_scale$outcome, max, na.rm = TRUE)

# ============================================================ (b) plans ======
message("(b) plans: subset")
spec_sub <- make_spec(tr, seq_len(SUBSET_DRUGS), outcomes_scale, NULL)
sub_cohorts <- lapply(names(outcomes_scale), function(y) {
  as.data.frame(suppressMessages(build_cohort(causallib:::screen_cohort_spec(spec_sub, y, outcomes_scale[[y]]), src)))
})
names(sub_cohorts) <- names(outcomes_scale)
future::plan(future::sequential)
seq_run <- run_screen("subset-sequential", spec_sub, data = sub_cohorts)
future::plan(future::multisession, workers = 2)
pids2 <- worker_info()[, "pid"]
ms_run <- run_screen("subset-multisession", spec_sub, data = sub_cohorts, pids = pids2)
strip <- function(x) tidy(x)
same <- identical(strip(seq_run$res), strip(ms_run$res))
num_cols <- c("log_rr", "se", "p_value", "max_smd", "ess_exposed", "auc")
max_diff <- max(vapply(num_cols, function(v) max(abs(seq_run$res[[v]] - ms_run$res[[v]]), na.rm = TRUE), numeric(1)))
if (!same) {
  notes$add(sprintf("The sequential and multisession results of the subset differ (largest difference of %s: %.3g).",
                    paste(num_cols, collapse = ", "), max_diff))
}
# screen() under a plan restored from the full screen's checkpoint: every
# pair read back, nothing recomputed.
resume <- timed(screen(spec_scale, source = src, checkpoint = scale$ck))
same_resume <- identical(tidy(resume$value), tidy(res_scale))
DBI::dbDisconnect(src$con)
rm(records, src, sub_cohorts)
invisible(gc())

# ========================================================= (c) accuracy ======
message("(c) accuracy: generating records")
gen_acc <- timed(simulate_records(ACC_N, n_drugs = ACC_DRUGS, n_negative_controls = ACC_NC, seed = SEED + 1L))
records_acc <- gen_acc$value
tra <- attr(records_acc, "truth")$concepts
spec_acc <- make_spec(tra, seq_len(ACC_DRUGS), codes(mi = tra$outcome), nc_codes(tra, seq_len(ACC_NC)))
src_acc <- cohort_source(records_acc)
acc <- run_screen("accuracy", spec_acc, source = src_acc, pids = pids2)
DBI::dbDisconnect(src_acc$con)
future::plan(future::sequential)
ra <- acc$res
lhr <- tra$screening_drugs$log_hr
mi <- ra[!ra$negative_control & ra$outcome == "mi", ]
mi$log_hr <- lhr[as.integer(sub("^d", "", mi$exposure))]
mi$planted <- mi$log_hr != 0
ok <- mi$status == "ok"
# The comparator (every other drug) mixes the null and non-null drugs, so a
# null drug's true risk ratio against it is not exactly 1: roughly
# 1 / (the comparators' mean hazard ratio, weighted by their numbers in the
# MI cohort). Both targets are reported.
n_by_drug <- mi$n_exposed
n_by_drug[is.na(n_by_drug)] <- 0
mix_truth <- vapply(seq_len(nrow(mi)), function(i) {
  w <- n_by_drug[-i]
  exp(mi$log_hr[i]) / sum(w * exp(mi$log_hr[-i])) * sum(w)
}, numeric(1))
detect <- function(q) {
  s <- ok & !is.na(q) & q < FDR
  tp <- sum(s & mi$planted)
  right_sign <- sum(s & mi$planted & sign(mi$log_rr) == sign(mi$log_hr))
  c(signals = sum(s), tp = tp, right_sign = right_sign, recall = tp / sum(mi$planted),
    precision = if (sum(s)) tp / sum(s) else NA_real_)
}
det_u <- detect(mi$q_value)
det_c <- detect(mi$q_calibrated)
covers <- function(lo, hi, truth) mean(lo <= truth & truth <= hi, na.rm = TRUE)
nul <- ok & !mi$planted
cov_u1 <- covers(mi$conf_low[nul], mi$conf_high[nul], 1)
cov_c1 <- covers(mi$conf_low_calibrated[nul], mi$conf_high_calibrated[nul], 1)
cov_um <- covers(mi$conf_low[nul], mi$conf_high[nul], mix_truth[nul])
cov_cm <- covers(mi$conf_low_calibrated[nul], mi$conf_high_calibrated[nul], mix_truth[nul])
cov_planted_u <- covers(mi$conf_low[ok & mi$planted], mi$conf_high[ok & mi$planted], mix_truth[ok & mi$planted])
cov_planted_c <- covers(mi$conf_low_calibrated[ok & mi$planted], mi$conf_high_calibrated[ok & mi$planted],
                        mix_truth[ok & mi$planted])
# Negative controls: uncalibrated coverage of RR 1, and calibrated leave one
# out (the systematic error model of each exposure fitted without the
# control whose interval it calibrates).
nc <- ra[ra$negative_control & ra$status == "ok" & is.finite(ra$log_rr) & ra$se > 0, ]
nc_cov_u <- covers(nc$conf_low, nc$conf_high, 1)
loo <- unlist(lapply(split(nc, nc$exposure), function(g) {
  vapply(seq_len(nrow(g)), function(i) {
    m <- EmpiricalCalibration::fitSystematicErrorModel(g$log_rr[-i], g$se[-i], rep(0, nrow(g) - 1L))
    ci <- EmpiricalCalibration::calibrateConfidenceInterval(g$log_rr[i], g$se[i], m)
    ci$logLb95Rr <= 0 && 0 <= ci$logUb95Rr
  }, logical(1))
}))
nc_cov_loo <- mean(loo)
# The empirical nulls, refitted here as screen() fits them (per exposure, on
# its successful negative controls): screen() loses its `nulls` attribute
# (see the notes).
if (!length(attr(ra, "nulls"))) {
  notes$add("`screen()` returned no `nulls` attribute although it calibrated (`p_calibrated` is set): `screen_fdr()` subsets the columns with `out[first]`, which drops the attribute `screen_calibrate()` set, so `autoplot(type = \"calibration\")` fails and `print()` says \"Calibration: none\". The nulls below are refitted by this script with `EmpiricalCalibration::fitNull()` on each drug's negative controls, as `screen_calibrate()` does.", now = FALSE)
}
null_par <- do.call(rbind, lapply(split(nc, nc$exposure), function(g) {
  unclass(EmpiricalCalibration::fitNull(g$log_rr, g$se))[1:2]
}))
others_end <- other_benchmarks("screen")

# =========================================================== report ==========
flag_tab <- function(r) {
  f <- unlist(strsplit(r$flags[r$status == "ok" & nzchar(r$flags)], ", ", fixed = TRUE))
  if (!length(f)) return("none")
  t <- sort(table(f), decreasing = TRUE)
  paste(names(t), t, sep = " ", collapse = ", ")
}
fail_tab <- function(r) {
  f <- r$status != "ok"
  if (!any(f)) return("none")
  t <- table(r$stage[f])
  paste(sprintf("%d at stage %s", as.integer(t), names(t)), collapse = ", ")
}
add("# Screening many drugs: scale and accuracy of `screen()`", "",
    paste0(run_info(), "; ", ram_gb(), "."),
    sprintf("Multisession workers' `causallib_threads()` outside the pairs: %s (`screen()` runs each pair with one thread when the plan has several workers). Load average at the start: %s; at the end: %s.",
            paste(wi[, "threads"], collapse = ", "), load_start, load_avg()),
    "", "`bench/screen.R`; the records come from `simulate_records()`. Risk ratio of the outcome by 730 days (IP-weighted Kaplan-Meier, estimator `\"ipw\"`), each drug against every other drug (`comparators = NULL`), new users with a 365-day washout, baseline diabetes, hypertension and heart failure (ever before time zero), follow-up up to 730 days; calibration per exposure on the negative controls.",
    "", "## (a) Scale",
    "", sprintf("%s persons, %s screening drugs (`seed = %d`); %s records. Outcomes of interest: MI and two negative-control codes used as outcomes (`nc_outcome1`, `nc_outcome2`, which no drug affects); %d further negative-control codes as negative controls. %s pairs (%s exposures x %d outcomes), `plan(multisession, workers = 2)`.",
                fmt(SCALE_N, 0), fmt(SCALE_DRUGS, 0), SEED, fmt(n_records, 0), SCALE_NC,
                fmt(n_pairs_scale, 0), fmt(SCALE_DRUGS, 0), 3 + SCALE_NC),
    "", "| step | elapsed (s) | CPU (s) |", "|---|---|---|",
    sprintf("| generate the records (`simulate_records()`) | %s | %s |", fmt(gen$elapsed), fmt(gen$cpu)),
    sprintf("| copy them into SQLite (`cohort_source()`) | %s | %s |", fmt(copy$elapsed), fmt(copy$cpu)),
    sprintf("| `screen()`: %d cohort builds (`build_cohort()`, in this process, checkpoints written) | %s | |",
            3 + SCALE_NC, fmt(scale$builds)),
    sprintf("| `screen()`: %s pairs (two workers, checkpoints written) | %s | |", fmt(n_pairs_scale, 0), fmt(scale$pairs)),
    sprintf("| `screen()`: gathering, calibration, FDR | %s | |", fmt(scale$rest)),
    sprintf("| `screen()` total | %s | %s (this process %s, workers %s) |", fmt(scale$elapsed), fmt(scale$cpu),
            fmt(scale$cpu_main), fmt(scale$cpu_workers)),
    sprintf("| **total** (target: under 600 s on 2 cores) | **%s** | |", fmt(wall_total)),
    "",
    sprintf("Per pair: %.3f s elapsed, %.3f s of worker CPU. Per cohort build: %.1f s. Cohort sizes (persons in the largest pair, by outcome): %s. Other processes used %.2f cores on average during `screen()`.",
            scale$pairs / n_pairs_scale, scale$cpu_workers / n_pairs_scale, scale$builds / (3 + SCALE_NC),
            paste(names(cohort_n), fmt(cohort_n, 0), collapse = ", "), scale$other_cores),
    sprintf("Failed pairs: %s (of %s). Flags of the estimated pairs: %s. Signals at FDR 5%%: %d.",
            fail_tab(res_scale), fmt(n_pairs_scale, 0), flag_tab(res_scale), sum(res_scale$signal)),
    sprintf("Signals by outcome: %s. Most drugs have few users at this size (a median of %s persons and %s MI events per drug), so the screen has little power; part (c) measures accuracy.",
            scale_truth, fmt(stats::median(res_scale$n_exposed[res_scale$outcome == "mi"], na.rm = TRUE), 0),
            fmt(stats::median(res_scale$events_exposed[res_scale$outcome == "mi"], na.rm = TRUE), 0)),
    "", "Estimated null pairs (MI with a null drug, and the two negative-control outcomes) with p < 0.05, by the number of exposed persons (a valid test gives 5%; pairs with no exposed event fail at stage cohort and are not counted; calibrated p-values exist only for the drugs with at least 5 successful negative controls):",
    "", "| exposed persons | null pairs | p_value < 0.05 | calibrated pairs | p_calibrated < 0.05 | false signals |", "|---|---|---|---|---|---|",
    type1, "",
    sprintf("Resuming: `screen()` again with the same checkpoint directory read every pair back in %s s (identical result: %s).",
            fmt(resume$elapsed), same_resume),
    "", "## (b) Sequential and multisession plans",
    "", sprintf("The first %d drugs on the same 3 outcomes (%d pairs), the 3 cohorts built once and given as `data` (pairs only).",
                SUBSET_DRUGS, nrow(seq_run$res)),
    "", "| plan | elapsed (s) | CPU (s) | per pair (s) |", "|---|---|---|---|",
    sprintf("| `sequential` | %s | %s | %.3f |", fmt(seq_run$elapsed), fmt(seq_run$cpu), seq_run$elapsed / nrow(seq_run$res)),
    sprintf("| `multisession`, 2 workers | %s | %s | %.3f |", fmt(ms_run$elapsed), fmt(ms_run$cpu), ms_run$elapsed / nrow(ms_run$res)),
    "",
    sprintf("Speed-up: %.2fx. Results identical between the plans (`identical()` of the tables): %s (largest difference in %s: %.3g).",
            seq_run$elapsed / ms_run$elapsed, same, paste(num_cols, collapse = ", "), max_diff),
    "", "## (c) Accuracy on planted signals",
    "", sprintf("%s persons, %d screening drugs (every fifth non-null: log hazard ratio log(1.5) and log(2/3) by turns, %d non-null), %d negative controls, `seed = %d`; %s pairs, `plan(multisession, workers = 2)`. Records %s s; `screen()` %s s elapsed (%d cohort builds %s s, pairs %s s), %s s CPU.",
                fmt(ACC_N, 0), ACC_DRUGS, sum(lhr != 0), ACC_NC, SEED + 1L, fmt(nrow(ra), 0), fmt(gen_acc$elapsed),
                fmt(acc$elapsed), 1 + ACC_NC, fmt(acc$builds), fmt(acc$pairs), fmt(acc$cpu)),
    sprintf("Failed pairs: %s. Flags: %s. Persons per drug on MI: median %s (%s to %s); MI events by 730 days per drug: median %s.",
            fail_tab(ra), flag_tab(ra), fmt(stats::median(mi$n_exposed), 0), fmt(min(mi$n_exposed), 0),
            fmt(max(mi$n_exposed), 0), fmt(stats::median(mi$events_exposed), 0)),
    "", "Signals on MI at FDR 5% (Benjamini-Hochberg over the drugs):", "",
    "| q-values | signals | true positives (right direction) | recall | precision |", "|---|---|---|---|---|",
    sprintf("| uncalibrated `q_value` | %d | %d (%d) | %s | %s |", det_u[["signals"]], det_u[["tp"]], det_u[["right_sign"]],
            pct(det_u[["recall"]]), pct(det_u[["precision"]])),
    sprintf("| calibrated `q_calibrated` | %d | %d (%d) | %s | %s |", det_c[["signals"]], det_c[["tp"]], det_c[["right_sign"]],
            pct(det_c[["recall"]]), pct(det_c[["precision"]])),
    "", "Coverage of the 95% intervals:", "",
    "| pairs | target | uncalibrated | calibrated |", "|---|---|---|---|",
    sprintf("| %d null drugs, MI | RR 1 | %s | %s |", sum(nul), pct(cov_u1), pct(cov_c1)),
    sprintf("| %d null drugs, MI | RR against the mixed comparator (below) | %s | %s |", sum(nul), pct(cov_um), pct(cov_cm)),
    sprintf("| %d non-null drugs, MI | RR against the mixed comparator | %s | %s |", sum(ok & mi$planted), pct(cov_planted_u), pct(cov_planted_c)),
    sprintf("| %s negative controls (drug x control) | RR 1 | %s | %s (leave one out) |", fmt(nrow(nc), 0), pct(nc_cov_u), pct(nc_cov_loo)),
    "",
    sprintf("Empirical nulls (one per drug, from its %d negative controls): mean %.3f to %.3f (median %.3f), SD %.3f to %.3f (median %.3f).",
            ACC_NC, min(null_par[, 1]), max(null_par[, 1]), stats::median(null_par[, 1]),
            min(null_par[, 2]), max(null_par[, 2]), stats::median(null_par[, 2])),
    "",
    "The comparator of a drug is every other drug, 1 in 5 of which is non-null, so a null drug's true risk ratio against it is not exactly 1: the second row takes as truth the drug's hazard ratio over the comparators' mean hazard ratio weighted by their numbers in the MI cohort (about 0.98 for a null drug; an approximation: hazard ratios, not risk ratios by 730 days). The non-null drugs' row uses the same approximation, which is rougher at hazard ratio 1.5.",
    "The negative controls' leave-one-out row fits each drug's systematic error model (`EmpiricalCalibration::fitSystematicErrorModel()`) on its other negative controls and calibrates the held-out control's interval with it (`calibrateConfidenceInterval()`), which is what `screen()` does for an outcome of interest."
)
add_timing_notes(notes, c(scale$other_cores, seq_run$other_cores, ms_run$other_cores, acc$other_cores),
                 unique(c(others_start, others_end)), load_start)
add("", "## Notes", "", paste("*", notes$get()))
writeLines(lines, OUT)
keep <- Sys.getenv("CAUSALLIB_BENCH_KEEP", file.path(WORK, "results.rds"))
saveRDS(list(scale = res_scale, seq = seq_run$res, ms = ms_run$res, acc = ra, truth_acc = tra), keep)
message("wrote ", OUT, "; results in ", keep)
