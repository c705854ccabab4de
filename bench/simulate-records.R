# Speed and memory of simulate_records(): persons to OMOP-shaped tables.
# Target (issue 13): 10^6 persons, about 10^7 records, in under 60 s and
# 3 GB on this 2-core machine.
#
#   CAUSALLIB_LIB=/tmp/lib-x Rscript bench/simulate-records.R
#
# Each run is a fresh `Rscript bench/simulate-records.R --child N` under GNU
# time (peak RSS of the whole process); the child times simulate_records(N)
# (elapsed and its own CPU time) and simulated_risk() on the result, and
# prints the table sizes. A child with N = 0 only loads the package: its
# peak is the baseline subtracted in `extra_peak_MB`.
# CAUSALLIB_BENCH_N (default "1e5,1e6") and CAUSALLIB_BENCH_REPS (default 3)
# set the sizes and the runs per size. Writes
# bench/results/simulate-records.md.

source(file.path("bench", "common.R"))

child <- function(n) {
  invisible(gc(reset = TRUE))
  busy0 <- machine_busy_s()
  cpu0 <- own_cpu_s()
  t0 <- proc.time()[["elapsed"]]
  x <- if (n > 0) simulate_records(n, seed = SEED)
  elapsed <- proc.time()[["elapsed"]] - t0
  cpu <- own_cpu_s() - cpu0
  other <- max(0, (machine_busy_s() - busy0) - cpu) / max(elapsed, 1e-9)
  gc_max <- sum(gc()[, 6])
  rows <- if (n > 0) vapply(x, nrow, integer(1)) else integer()
  risk_s <- if (n > 0) system.time(simulated_risk(x, c(365, 1825)))[["elapsed"]] else 0
  cat(sprintf("RESULT %.3f %.3f %.3f %.1f %.3f %s\n", elapsed, cpu, other, gc_max, risk_s,
              paste(rows, collapse = ",")))
}

args <- commandArgs(trailingOnly = TRUE)
if (length(args) >= 2 && args[1] == "--child") {
  child(as.numeric(args[2]))
  quit(save = "no", status = 0)
}

check_bench_setup("simulate-records")
sizes <- as.numeric(strsplit(Sys.getenv("CAUSALLIB_BENCH_N", "1e5,1e6"), ",")[[1]])
reps <- as.integer(Sys.getenv("CAUSALLIB_BENCH_REPS", "3"))
tables <- c("person", "observation_period", "drug_exposure", "condition_occurrence",
            "procedure_occurrence", "measurement", "death")

run_child <- function(n) {
  tf <- tempfile()
  on.exit(unlink(tf))
  lib <- Sys.getenv("CAUSALLIB_LIB", "")
  env <- if (nzchar(lib)) paste0("CAUSALLIB_LIB=", lib)
  out <- system2("env", c(env, "/usr/bin/time", "-f", "%M", "-o", shQuote(tf), shQuote(RSCRIPT),
                          file.path("bench", "simulate-records.R"), "--child",
                          format(n, scientific = FALSE)), stdout = TRUE)
  line <- grep("^RESULT ", out, value = TRUE)
  if (!length(line)) stop("child for n = ", n, " failed: ", paste(utils::tail(out, 3), collapse = " / "))
  v <- strsplit(sub("^RESULT ", "", line), " ")[[1]]
  rows <- if (length(v) >= 6 && nzchar(v[6])) as.numeric(strsplit(v[6], ",")[[1]]) else numeric()
  list(elapsed = as.numeric(v[1]), cpu = as.numeric(v[2]), other = as.numeric(v[3]),
       gc_max = as.numeric(v[4]), risk_s = as.numeric(v[5]), rows = rows,
       peak = as.numeric(utils::tail(readLines(tf), 1)) / 1024)
}

load_start <- load_avg()
concurrent <- other_benchmarks("simulate-records")
baseline <- run_child(0)$peak
res <- list()
for (n in sizes) {
  for (r in seq_len(reps)) {
    x <- run_child(n)
    cat(sprintf("n = %g, run %d: %.1f s elapsed, %.1f s CPU, peak %.0f MB, %g records\n",
                n, r, x$elapsed, x$cpu, x$peak, sum(x$rows)))
    res[[length(res) + 1L]] <- data.frame(
      n = n, run = r, elapsed_s = x$elapsed, cpu_s = x$cpu, other_cores = x$other,
      peak_MB = x$peak, extra_peak_MB = x$peak - baseline, gc_max_MB = x$gc_max,
      records = sum(x$rows), records_per_person = sum(x$rows) / n, risk_s = x$risk_s,
      t(stats::setNames(x$rows, tables)), check.names = FALSE)
  }
}
res <- do.call(rbind, res)

fmt <- function(v, d) formatC(v, format = "f", digits = d, big.mark = ",")
lines <- c(
  "# simulate_records(): OMOP-shaped records, speed and memory",
  "",
  paste0(run_info(), "; ", ram_gb(), "."),
  "",
  paste("Each row is one fresh Rscript process running `simulate_records(n, seed = SEED)` and then",
        "`simulated_risk(x, c(365, 1825))`. elapsed_s and cpu_s (this process's user + system time) are",
        "for simulate_records(); risk_s is the elapsed time of simulated_risk(). peak_MB is the",
        "process's peak RSS (GNU time %M), extra_peak_MB that minus a process that only loads the",
        sprintf("package (%.0f MB); gc_max_MB is R's own peak (gc() max used, Ncells + Vcells).", baseline),
        "other_cores: the CPU other processes used meanwhile, in cores (0 on an idle machine)."),
  "Target: 10^6 persons in under 60 s and 3 GB.",
  "",
  "| n | run | elapsed_s | cpu_s | other_cores | peak_MB | extra_peak_MB | gc_max_MB | records | per person | risk_s |",
  "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  sprintf("| %g | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s |", res$n, res$run, fmt(res$elapsed_s, 1),
          fmt(res$cpu_s, 1), fmt(res$other_cores, 2), fmt(res$peak_MB, 0), fmt(res$extra_peak_MB, 0),
          fmt(res$gc_max_MB, 0), fmt(res$records, 0), fmt(res$records_per_person, 2), fmt(res$risk_s, 2)),
  "",
  "Rows per table (first run of each size):",
  "",
  paste0("| n | ", paste(tables, collapse = " | "), " |"),
  paste0("|---:|", strrep("---:|", length(tables))),
  vapply(sizes, function(n) {
    r <- res[res$n == n & res$run == 1L, tables]
    paste0("| ", format(n), " | ", paste(fmt(unlist(r), 0), collapse = " | "), " |")
  }, ""),
  ""
)
big <- res[res$n == max(sizes), ]
lines <- c(lines, sprintf(paste(
  "At n = %g: median %.1f s elapsed (%.1f s CPU), peak RSS %.0f MB at most, %s records:",
  "%s the 60 s target and %s the 3 GB target."), max(sizes), stats::median(big$elapsed_s),
  stats::median(big$cpu_s), max(big$peak_MB), fmt(stats::median(big$records), 0),
  if (stats::median(big$elapsed_s) < 60) "within" else "NOT within",
  if (max(big$peak_MB) < 3072) "within" else "NOT within"), "")
notes <- new_notes(show = function(msg) message(msg))
add_timing_notes(notes, max(res$other_cores), concurrent, load_start)
lines <- c(lines, "**Notes:**", "", paste("-", notes$get()))
dir.create(file.path("bench", "results"), showWarnings = FALSE)
writeLines(lines, file.path("bench", "results", "simulate-records.md"))
cat(lines, sep = "\n")
