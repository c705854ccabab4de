# screen(): plans, reproducible random numbers, checkpoints and resuming,
# failing pairs, records vs data, the specification's checks. The numbers
# of each pair against independent references: test-screen-reference.R.

# Cohorts as data: drugs a-d chosen by x1 and x2, drug "a" doubles the
# outcome hazard; the negative controls are affected by x1 only.
screen_test_cohorts <- function(n = 1500, n_nc = 6, seed = 1) {
  withr::with_seed(seed, {
    x1 <- stats::rnorm(n)
    x2 <- stats::rbinom(n, 1, 0.4)
    lp <- cbind(0, 0.3 * x1, -0.2 * x1 + 0.4 * x2, 0.2 * x2)
    pr <- exp(lp) / rowSums(exp(lp))
    treatment <- c("a", "b", "c", "d")[apply(pr, 1L, function(p) sample.int(4L, 1L, prob = p))]
    make <- function(log_hr) {
      rate <- exp(-6 + 0.5 * x1 + 0.4 * x2 + log_hr * (treatment == "a"))
      t_y <- stats::rexp(n, rate)
      t_d <- stats::rexp(n, 0.0002)
      t_c <- stats::runif(n, 200, 900)
      time <- ceiling(pmin(t_y, t_d, t_c))
      event <- ifelse(t_y <= pmin(t_d, t_c), 1L, ifelse(t_d <= t_c, 2L, 0L))
      data.frame(person_id = seq_len(n), treatment = treatment, x1 = x1, x2 = x2, time = time, event = event)
    }
    out <- list(y = make(log(2)))
    for (j in seq_len(n_nc)) out[[paste0("nc", j)]] <- make(0)
    out
  })
}

screen_test_spec <- function(...) {
  screen_spec(exposures = c("a", "b", "c", "d"), outcomes = "y", negative_controls = paste0("nc", 1:6),
              horizon = 365, ...)
}

test_that("screen() gives identical results under the sequential and multisession plans", {
  skip_if_not_installed("future")
  skip_on_cran()
  cohorts <- screen_test_cohorts()
  # A covariates function that draws random numbers: the pair's stream.
  pick <- function(exposure, comparator, outcome) c("x1", if (stats::runif(1) < 0.5) "x2")
  spec <- screen_test_spec(covariates = pick)
  old <- future::plan(future::sequential)
  on.exit(future::plan(old), add = TRUE)
  seq1 <- screen(spec, data = cohorts, seed = 42)
  seq2 <- screen(spec, data = cohorts, seed = 42)
  expect_identical(seq1, seq2)
  expect_equal(nrow(seq1), 4 * 7)
  expect_true(all(seq1$status == "ok"))
  # the random choice of covariates did differ between pairs
  expect_true(length(unique(seq1$covariates)) == 2L)
  other <- screen(spec, data = cohorts, seed = 43)
  expect_false(identical(other$covariates, seq1$covariates) && identical(other$log_rr, seq1$log_rr))
  future::plan(future::multisession, workers = 2)
  multi <- screen(spec, data = cohorts, seed = 42)
  expect_identical(multi, seq1)
})

test_that("screen() runs unchanged under future.batchtools", {
  skip_if_not_installed("future.batchtools")
  skip_on_cran()
  cohorts <- screen_test_cohorts(n = 800, n_nc = 1)
  spec <- screen_spec(exposures = c("a", "b"), comparators = "c", outcomes = "y", negative_controls = "nc1",
                      horizon = 365)
  old <- future::plan(future::sequential)
  on.exit(future::plan(old), add = TRUE)
  ref <- screen(spec, data = cohorts)
  withr::with_tempdir({
    future::plan(future.batchtools::batchtools_local)
    bt <- screen(spec, data = cohorts)
  })
  expect_identical(bt, ref)
})

test_that("an interrupted screen resumes from its checkpoint without recomputing finished pairs", {
  skip_on_cran()
  cohorts <- screen_test_cohorts()
  dir <- withr::local_tempfile()
  log <- withr::local_tempfile()
  stop_at <- withr::local_tempfile()
  data_file <- withr::local_tempfile(fileext = ".rds")
  script <- withr::local_tempfile(fileext = ".R")
  # Each call appends its pair to `log`; while `stop_at` exists, the pair
  # (c, y) ends the R session abruptly, as a killed job would.
  counted <- function(exposure, comparator, outcome) {
    cat(exposure, outcome, "\n", file = log, append = TRUE)
    if (file.exists(stop_at) && exposure == "c" && outcome == "y") quit(save = "no", status = 3L)
    c("x1", "x2")
  }
  spec <- screen_test_spec(covariates = counted)
  saveRDS(list(spec = spec, cohorts = cohorts, dir = dir), data_file)
  writeLines(c("suppressPackageStartupMessages(library(causallib))",
               sprintf("a <- readRDS('%s')", data_file),
               "screen(a$spec, data = a$cohorts, checkpoint = a$dir)"), script)
  file.create(stop_at)
  status <- system2(file.path(R.home("bin"), "Rscript"), c("--vanilla", script), stdout = FALSE, stderr = FALSE)
  expect_equal(status, 3L)
  finished <- length(list.files(dir, "^pair-"))
  expect_equal(finished, 2L)  # (a, y) and (b, y) were done before (c, y)
  unlink(stop_at)
  file.create(log)
  old <- future::plan(future::sequential)
  on.exit(future::plan(old), add = TRUE)
  res <- screen(spec, data = cohorts, checkpoint = dir)
  expect_equal(length(readLines(log)), 28L - finished)
  expect_equal(length(list.files(dir, "^pair-")), 28L)
  # the same as a screen run in one go, and a third run recomputes nothing
  file.create(log)
  again <- screen(spec, data = cohorts, checkpoint = dir)
  expect_equal(length(readLines(log)), 0L)
  expect_identical(again, res)
  expect_identical(res, screen(spec, data = cohorts))
  # a lost pair file is recomputed alone
  unlink(file.path(dir, "pair-000005.rds"))
  file.create(log)
  expect_identical(screen(spec, data = cohorts, checkpoint = dir), res)
  expect_equal(length(readLines(log)), 1L)
  # another screen's specification in the same directory is an error
  expect_snapshot(screen(screen_test_spec(proxy_smd = 0.5), data = cohorts, checkpoint = dir),
                  error = TRUE, transform = function(x) gsub(normalizePath(dir), "<dir>", x, fixed = TRUE))
})

test_that("a failing pair is recorded with its stage and message while the others finish", {
  cohorts <- screen_test_cohorts()
  # missing covariate values among the users of c: the propensity model fails
  for (y in names(cohorts)) cohorts[[y]]$x1[cohorts[[y]]$treatment == "c"][1:3] <- NA
  spec <- screen_spec(exposures = c("a", "b", "c"), comparators = "d", outcomes = "y",
                      negative_controls = paste0("nc", 1:6), horizon = 365)
  res <- screen(spec, data = cohorts)
  bad <- res$exposure == "c"
  expect_true(all(res$status[bad] == "failed"))
  expect_true(all(res$stage[bad] == "propensity"))
  expect_match(res$message[bad], "missing")
  expect_true(all(res$status[!bad] == "ok"))
  expect_true(all(is.na(res$log_rr[bad])))
  expect_false(anyNA(res$log_rr[!bad]))
  # counts are still reported for the failed pairs
  expect_false(anyNA(res$n_exposed))
  # too few events: the stage is "cohort"
  res2 <- screen(screen_spec(exposures = c("a", "b"), comparators = "d", outcomes = "y", horizon = 365,
                             min_events = 10000), data = cohorts["y"])
  expect_true(all(res2$stage == "cohort"))
  expect_equal(res2$events_exposed, vapply(res2$exposure, function(e) {
    d <- cohorts$y
    sum(d$treatment == e & d$event == 1 & d$time <= 365)
  }, numeric(1)), ignore_attr = TRUE)
  expect_match(res2$message, "min_events")
  expect_output(print(res), "failed")
})

test_that("progress is reported once per pair through progressr", {
  cohorts <- screen_test_cohorts(n = 800, n_nc = 1)
  spec <- screen_spec(exposures = c("a", "b", "c"), outcomes = "y", negative_controls = "nc1", horizon = 365)
  old <- future::plan(future::sequential)
  on.exit(future::plan(old), add = TRUE)
  # progressr reports only when enabled (by default in interactive sessions)
  withr::local_options(progressr.enable = TRUE)
  updates <- 0L
  withCallingHandlers(
    screen(spec, data = cohorts),
    progression = function(p) if (identical(p$type, "update")) updates <<- updates + 1L
  )
  expect_equal(updates, 6L)
})

test_that("a screen from records equals the screen of the cohorts the builder makes", {
  x <- simulate_records(6000, n_drugs = 3, drug_effects = log(c(2, 1, 1)), n_negative_controls = 2, seed = 3)
  tr <- attr(x, "truth")$concepts
  drugs <- tr$screening_drugs$drug_concept_id
  exps <- codes(d1 = drugs[1], d2 = drugs[2])
  comp <- codes(d3 = drugs[3])
  bl <- baseline(any = list(diabetes = c(-Inf, 0), heart_failure = c(-Inf, 0), dm_or_d1 = c(-Inf, 0)))
  cd <- codes(diabetes = tr$confounders[["diabetes"]], heart_failure = tr$confounders[["heart_failure"]],
              dm_or_d1 = c(tr$confounders[["diabetes"]], drugs[1]))
  spec <- screen_spec(exposures = exps, comparators = comp, outcomes = codes(mi = tr$outcome),
                      negative_controls = codes(nc1 = tr$negative_controls[1], nc2 = tr$negative_controls[2]),
                      baseline = bl, codes = cd, horizon = 365, follow_up = follow_up(max = 730))
  res <- screen(spec, source = x, calibration = "none")
  # the same cohorts, specified by hand
  ys <- list(mi = tr$outcome, nc1 = tr$negative_controls[1], nc2 = tr$negative_controls[2])
  cohorts <- lapply(names(ys), function(y) {
    el <- eligibility(exclude = stats::setNames(list(c(-Inf, 0)), y))
    cs <- cohort_spec(treatment = new_users(c(exps, comp), washout = 365), eligibility = el, baseline = bl,
                      outcome = outcome(do.call(codes, stats::setNames(list(ys[[y]]), y))),
                      follow_up = follow_up(max = 730), analysis = "intention_to_treat", codes = cd)
    as.data.frame(suppressMessages(build_cohort(cs, x)))
  })
  names(cohorts) <- names(ys)
  # nobody with the outcome before time zero
  expect_true(all(cohorts$mi$time >= 0))
  by_hand <- screen(screen_spec(exposures = c("d1", "d2"), comparators = "d3", outcomes = "mi",
                                negative_controls = c("nc1", "nc2"),
                                horizon = 365, covariates = function(exposure, comparator, outcome) {
                                  c("age", "sex", "diabetes", "heart_failure", if (exposure != "d1") "dm_or_d1")
                                }),
                    data = cohorts, calibration = "none")
  cols <- c("exposure", "outcome", "n_exposed", "n_comparator", "events_exposed", "events_comparator",
            "covariates", "log_rr", "se", "p_value", "status")
  expect_equal(res[cols], by_hand[cols], tolerance = 1e-8, ignore_attr = TRUE)
  # d1's own codes: the covariate built from them is dropped for d1's pairs only
  expect_match(res$dropped[res$exposure == "d1"], "dm_or_d1 \\(exposure's codes\\)")
  expect_false(any(grepl("exposure's codes", res$dropped[res$exposure != "d1"])))
  expect_true(any(res$covariates[res$exposure == "d2"] == 5L))
})

test_that("screen_spec() and screen() reject bad input naming the argument", {
  cohorts <- screen_test_cohorts(n = 300, n_nc = 1)
  expect_snapshot(error = TRUE, {
    screen_spec(exposures = "a", outcomes = "y")
    screen_spec(exposures = c("a", "b"), comparators = "a", outcomes = "y")
    screen_spec(exposures = c("a", "b"), outcomes = c("y", "y"))
    screen_spec(exposures = c("a", "b"), outcomes = "y", negative_controls = "y")
    screen_spec(exposures = c("a", "b"), outcomes = codes(y = 1L))
    screen_spec(exposures = c("a", "b"), outcomes = "y", estimators = "tmle")
    screen_spec(exposures = c("a", "b"), outcomes = "y", horizon = 0)
    screen_spec(exposures = c("a", "b"), outcomes = "y", covariates = 1)
    screen_spec(exposures = c("a", "b"), outcomes = "y", thresholds = c(smd = 0.1))
    screen(list(), data = cohorts)
    screen(screen_spec(exposures = c("a", "b"), outcomes = "y"))
    screen(screen_spec(exposures = c("a", "b"), outcomes = "y"), data = cohorts["nc1"])
    screen(screen_spec(exposures = c("a", "b"), outcomes = "y"), data = list(y = cohorts$y[c("treatment", "time")]))
    screen(screen_spec(exposures = c("a", "b"), outcomes = "y"), source = list(), data = cohorts)
    screen(screen_spec(exposures = c("a", "b"), outcomes = "y"), data = cohorts, fdr = 5)
    screen(screen_spec(exposures = c("a", "b"), outcomes = "y"), data = cohorts, calibration = "global")
    screen(screen_spec(exposures = c("a", "B"), outcomes = "y"), data = cohorts["y"])
    screen(screen_spec(exposures = c("a", "b"), outcomes = "y"),
           data = list(y = transform(cohorts$y, event = ifelse(event == 2, 3, event))))
    screen(screen_spec(exposures = c("a", "b"), outcomes = "y"), data = list(y = transform(cohorts$y, time = -time)))
  })
})

test_that("the plots draw the results table's numbers", {
  skip_if_not_installed("ggplot2")
  skip_if_not_installed("EmpiricalCalibration")
  res <- screen(screen_test_spec(), data = screen_test_cohorts())
  expect_s3_class(res, "causal_screen")
  f <- screen_plot_data(res, "forest")
  ok <- res[res$status == "ok" & !res$negative_control, ]
  expect_equal(f$conf_low, ok$conf_low_calibrated)
  expect_equal(f$estimate, ok$estimate)
  v <- screen_plot_data(res, "volcano")
  expect_equal(v$minus_log10_p, -log10(ok$p_calibrated))
  for (type in c("forest", "volcano", "calibration")) {
    expect_s3_class(ggplot2::autoplot(res, type = type), "ggplot")
  }
  expect_output(print(res), "Signals at FDR 5%")
  expect_identical(class(tidy(res)), "data.frame")
  # drug a doubles the hazard: a signal; the null drugs' calibrated p-values
  # come from the null fitted on their own negative controls
  expect_true(res$signal[res$exposure == "a" & res$outcome == "y"])
  expect_setequal(names(attr(res, "nulls")), paste(c("a", "b", "c", "d"), "other exposures", "ipw", sep = " | "))
})

test_that("the cluster job templates render the plan's resources", {
  skip_if_not_installed("batchtools")
  skip_if_not_installed("brew")
  render <- function(scheduler, resources) {
    # what batchtools hands a template: the job's name, log file, job
    # collection file and resources (comment lines "##" are stripped first)
    lines <- readLines(screen_template(scheduler))
    lines <- lines[!startsWith(trimws(lines), "##")]
    env <- list2env(list(job.name = "job-1", log.file = "/tmp/job-1.log", uri = "/tmp/jobs/job-1.rds",
                         resources = resources, array.jobs = FALSE, jobs = data.frame(job.id = 1L)))
    out <- utils::capture.output(brew::brew(text = paste(lines, collapse = "\n"), envir = env))
    out[nzchar(trimws(out))]
  }
  cases <- list(
    list("slurm", list(), c("#SBATCH --time=60", "#SBATCH --mem-per-cpu=2048", "#SBATCH --cpus-per-task=1")),
    list("slurm", list(walltime = 5400, memory = 4096, ncpus = 2, partition = "short", modules = "module load R"),
         c("#SBATCH --time=90", "#SBATCH --mem-per-cpu=4096", "#SBATCH --cpus-per-task=2",
           "#SBATCH --partition=short", "module load R", "export OMP_NUM_THREADS=2")),
    list("sge", list(), c("#$ -l h_rt=01:00:00", "#$ -l h_vmem=2048M")),
    list("sge", list(walltime = 5430, memory = 1000, ncpus = 4, pe = "smp", queue = "all.q"),
         c("#$ -l h_rt=01:30:30", "#$ -l h_vmem=1000M", "#$ -pe smp 4", "#$ -q all.q")),
    list("lsf", list(), c("#BSUB -W 1:00", "#BSUB -n 1", "#BSUB -R \"rusage[mem=2048]\"")),
    list("lsf", list(walltime = 9000, queue = "long", ncpus = 3), c("#BSUB -W 2:30", "#BSUB -n 3", "#BSUB -q long"))
  )
  for (case in cases) {
    out <- render(case[[1]], case[[2]])
    for (line in case[[3]]) expect_true(line %in% out, label = paste(case[[1]], line))
    expect_true("Rscript -e 'batchtools::doJobCollection(\"/tmp/jobs/job-1.rds\")'" %in% out)
    expect_false(any(grepl("<%", out, fixed = TRUE)))
  }
  # batchtools accepts them as templates of its cluster functions
  expect_s3_class(batchtools::makeClusterFunctionsSlurm(template = screen_template("slurm")), "ClusterFunctions")
  expect_s3_class(batchtools::makeClusterFunctionsSGE(template = screen_template("sge")), "ClusterFunctions")
  expect_s3_class(batchtools::makeClusterFunctionsLSF(template = screen_template("lsf")), "ClusterFunctions")
  expect_snapshot(screen_template("pbs"), error = TRUE)
})

test_that("a records specification is checked for every outcome's cohort when it is made", {
  # an outcome named like a covariate's code group: the cohort builder's own check
  expect_snapshot(error = TRUE, {
    screen_spec(exposures = codes(d1 = 1L, d2 = 2L), outcomes = codes(mi = 10L),
                negative_controls = codes(nc1 = 20L, diabetes = 30L),
                baseline = baseline(any = list(diabetes = c(-Inf, 0))), codes = codes(diabetes = 40L))
    screen_spec(exposures = codes(d1 = 1L, d2 = 2L), outcomes = codes(mi = 10L), washout = -1)
  })
})

test_that("the cohort builder's messages reach the user, naming the outcome", {
  x <- simulate_records(2000, n_drugs = 2, n_negative_controls = 1, seed = 5)
  tr <- attr(x, "truth")$concepts
  drugs <- tr$screening_drugs$drug_concept_id
  # a look-back of one day for LDL: most persons have no value
  spec <- screen_spec(exposures = codes(d1 = drugs[1], d2 = drugs[2]), outcomes = codes(mi = tr$outcome),
                      baseline = baseline(last_value = list(ldl = c(-1, 0))), codes = codes(ldl = tr$measurement),
                      horizon = 365, covariates = c("age", "sex"))
  msgs <- character()
  res <- withCallingHandlers(screen(spec, source = x, calibration = "none"),
                             message = function(m) {
                               msgs <<- c(msgs, conditionMessage(m))
                               invokeRestart("muffleMessage")
                             })
  expect_true(any(grepl("The cohort of outcome .*mi", msgs)))
  expect_true(any(grepl("ldl", msgs)))
  expect_true(all(res$status == "ok" | res$stage == "cohort"))
  # by default every covariate column: ldl, without any value, is dropped as such
  res2 <- suppressMessages(screen(screen_spec(exposures = codes(d1 = drugs[1], d2 = drugs[2]),
                                              outcomes = codes(mi = tr$outcome),
                                              baseline = baseline(last_value = list(ldl = c(-1, 0))),
                                              codes = codes(ldl = tr$measurement), horizon = 365),
                                  source = x, calibration = "none"))
  ok <- res2$status == "ok"
  expect_true(any(ok))
  expect_true(all(grepl("ldl (no value)", res2$dropped[ok], fixed = TRUE)))
})
