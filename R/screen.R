# screen(): many exposure-outcome pairs from one specification. One cohort
# per outcome (build_cohort() with every exposure and comparator as an arm,
# or a data frame), then one task per pair run through future.apply (the
# user's future::plan() decides where), each fitted by the package's own
# estimators and diagnosed with its own balance and positivity functions.
# Finished pairs are written to the checkpoint directory by the worker that
# ran them; a failing pair becomes a row with its stage and message.
# Calibration is EmpiricalCalibration's, on the negative controls.

screen_estimators <- c("ipw", "aipw", "standardization")
screen_reserved <- c("person_id", "trial", "time_zero", "treatment", "time", "event", "end_reason")

#' Specify a screen of many exposure-outcome pairs
#'
#' Describes a high-throughput screen: every exposure compared with a
#' comparator on every outcome (and every negative-control outcome), each
#' pair with its own propensity model. [screen()] runs it.
#'
#' **Cohorts.** With records (a `source` for [screen()]), one cohort per
#' outcome is built by [build_cohort()] from a new-user protocol in which
#' every exposure and comparator is an arm (`new_users()` with `washout`),
#' with the given `eligibility`, `baseline` and `follow_up`; persons who had
#' the outcome before time zero are excluded for that outcome
#' (`exclude_prior_outcome`). With `data` for [screen()], the cohorts are
#' given: a named list of data frames, one per outcome, in the shape
#' [build_cohort()] returns (columns `treatment`, `time`, `event` and the
#' covariates). A pair's rows are the persons whose `treatment` is the
#' exposure or the comparator; with `comparators = NULL` the comparator is
#' every other exposure (`"other exposures"`). That pooled comparator suits
#' a screen of many exposures; with few, an exposure with a real effect
#' moves every other exposure's comparator, so name an active comparator.
#'
#' **Covariates.** By default every column of the cohort that is not one of
#' `person_id`, `trial`, `time_zero`, `treatment`, `time`, `event`,
#' `end_reason`; or the columns named by `covariates` (a character vector,
#' shared by all pairs), or a function of `(exposure, comparator, outcome)`
#' returning them (per pair). For each pair the screen drops (and reports
#' in `dropped`): covariates built from code groups that share a code with
#' the exposure or the comparator (the exposure's own codes), covariates
#' without any value (`"no value"`) or constant among the pair's persons,
#' and close proxies of the exposure:
#' covariates whose crude standardized difference between the arms exceeds
#' `proxy_smd` in absolute value.
#'
#' **Estimates.** The effect is the risk ratio of the outcome by `horizon`
#' days, exposure versus comparator, on the log scale for calibration.
#' `"ipw"`: IP-weighted Kaplan-Meier ([survival_ipw()] with the pair's
#' [ipw()] model); `"aipw"`: doubly robust curves ([survival_aipw()], Cox
#' outcome model); `"standardization"`: standardized Cox curves
#' ([survival_standardization()]). Death (`event == 2`) censors: the risk is
#' the cause-specific one. Standard errors are the estimators' influence
#' functions (with the propensity model's estimation).
#'
#' @param exposures The exposures: a [codes()] list (one code group per
#'   drug) for cohorts built from records, or a character vector of
#'   `treatment` values for cohorts given as data.
#' @param outcomes The outcomes of interest: a [codes()] list, or names of
#'   the data frames given as `data`.
#' @param comparators `NULL` (every other exposure), or comparators as
#'   `exposures` (each exposure is then compared with each comparator).
#' @param negative_controls Negative-control outcomes (outcomes no exposure
#'   is thought to cause), as `outcomes`; their estimates calibrate the
#'   others.
#' @param estimators Any of `"ipw"`, `"aipw"`, `"standardization"`.
#' @param horizon The time of the risk ratio, in the cohorts' time unit
#'   (days for built cohorts).
#' @param covariates `NULL` (all covariate columns), a character vector, or
#'   a function of `(exposure, comparator, outcome)` returning one.
#' @param proxy_smd Covariates whose crude absolute standardized difference
#'   between the arms exceeds this are dropped as proxies of the exposure
#'   (`Inf`: none).
#' @param min_events A pair is not estimated (it fails at stage `"cohort"`)
#'   when an arm has fewer outcome events by `horizon` (a risk ratio needs
#'   at least one in each arm).
#' @param thresholds The diagnostics that raise a flag: `max_smd` (largest
#'   absolute weighted standardized difference above it: `"imbalance"`),
#'   `min_ess` (an arm's effective sample size below it: `"low_ess"`),
#'   `out_of_support` (share of persons outside the propensity's common
#'   support above it: `"support"`), `auc` (propensity AUC above it:
#'   `"separation"`), `min_expected_events` (the events expected by
#'   `horizon` in the smaller arm if the exposure did nothing -- the pair's
#'   crude risk times the arm's size -- below it: `"few_events"`). A pair
#'   flagged `"few_events"` is never a `signal`: with a handful of events
#'   the Wald interval of the log risk ratio is too narrow, and its
#'   p-values too small. (The expected count does not depend on how the
#'   events split between the arms, so the flag selects no direction.)
#' @param washout,eligibility,baseline,follow_up,analysis,codes The cohort
#'   protocol for cohorts built from records: see [new_users()],
#'   [cohort_spec()] and its components. `codes` defines the code groups
#'   the eligibility and baseline components name.
#' @param exclude_prior_outcome Exclude, for each outcome, persons with that
#'   outcome before time zero?
#' @return A `causallib_screen_spec`.
#' @family screening
#' @export
#' @examples
#' screen_spec(exposures = c("drug_1", "drug_2", "drug_3"), outcomes = "mi",
#'             negative_controls = c("nc_1", "nc_2"))
screen_spec <- function(exposures, outcomes, comparators = NULL, negative_controls = NULL,
                        estimators = "ipw", horizon = 365, covariates = NULL, proxy_smd = 1,
                        min_events = 1,
                        thresholds = c(max_smd = 0.1, min_ess = 20, out_of_support = 0.05, auc = 0.9,
                                       min_expected_events = 5),
                        washout = 365, eligibility = causallib::eligibility(),
                        baseline = causallib::baseline(), follow_up = causallib::follow_up(),
                        analysis = "intention_to_treat", codes = NULL,
                        exclude_prior_outcome = TRUE) {
  exposures <- screen_groups(exposures, "exposures")
  outcomes <- screen_groups(outcomes, "outcomes")
  comparators <- if (!is.null(comparators)) screen_groups(comparators, "comparators")
  negative_controls <- if (!is.null(negative_controls)) screen_groups(negative_controls, "negative_controls")
  arms <- c(names(exposures), names(comparators))
  if (anyDuplicated(arms)) {
    cli::cli_abort("{.arg exposures} and {.arg comparators} share the name{?s} {.val {unique(arms[duplicated(arms)])}}.")
  }
  if ("other exposures" %in% arms) cli::cli_abort("{.val other exposures} is reserved for the pooled comparator.")
  if (is.null(comparators) && length(exposures) < 2L) {
    cli::cli_abort(c("{.arg exposures} needs at least two exposures when {.arg comparators} is {.code NULL}.",
                     i = "The comparator of each exposure is then every other exposure."))
  }
  ys <- c(names(outcomes), names(negative_controls))
  if (anyDuplicated(ys)) {
    cli::cli_abort("{.arg outcomes} and {.arg negative_controls} share the name{?s} {.val {unique(ys[duplicated(ys)])}}.")
  }
  kinds <- vapply(list(exposures, comparators, outcomes, negative_controls), function(g) {
    if (is.null(g)) NA else attr(g, "coded")
  }, logical(1))
  if (length(unique(stats::na.omit(kinds))) > 1L) {
    cli::cli_abort(c("{.arg exposures}, {.arg comparators}, {.arg outcomes} and {.arg negative_controls} must all be code lists from {.fn codes} (cohorts built from records) or all names (cohorts given as data).",
                     i = "Mixed: code lists for some, names for others."))
  }
  estimators <- unique(as.character(estimators))
  bad <- setdiff(estimators, screen_estimators)
  if (!length(estimators) || length(bad)) {
    cli::cli_abort("{.arg estimators} must be among {.val {screen_estimators}}; not {.val {bad}}.")
  }
  check_number(horizon, "horizon", min = 0, open = c(TRUE, FALSE))
  if (!is.null(covariates) && !is.function(covariates) &&
      (!is.character(covariates) || anyNA(covariates))) {
    cli::cli_abort("{.arg covariates} must be {.code NULL}, a character vector of column names or a function of {.code (exposure, comparator, outcome)}, not {.obj_type_friendly {covariates}}.")
  }
  if (is.function(covariates) && length(formals(covariates)) < 3L && !"..." %in% names(formals(covariates))) {
    cli::cli_abort("{.arg covariates} as a function takes {.code (exposure, comparator, outcome)}.")
  }
  check_number(proxy_smd, "proxy_smd", min = 0, open = c(TRUE, FALSE))
  check_count(min_events, "min_events", min = 0)
  thresholds <- screen_thresholds(thresholds)
  analysis <- rlang::arg_match0(analysis, c("intention_to_treat", "per_protocol"), "analysis")
  check_bool(exclude_prior_outcome, "exclude_prior_outcome")
  coded <- isTRUE(attr(exposures, "coded"))
  if (coded) {
    # The protocol of every outcome's cohort is checked now, by the cohort
    # builder's own checks (names shared by code groups, windows).
    washout <- new_users(c(exposures, comparators, if (is.null(comparators)) NULL), washout)$washout
    protocol <- list(exposures = exposures, comparators = comparators, washout = washout,
                     eligibility = eligibility, baseline = baseline, follow_up = follow_up,
                     analysis = analysis, codes = codes, exclude_prior_outcome = exclude_prior_outcome)
    ys <- c(outcomes, negative_controls)
    for (y in names(ys)) screen_cohort_spec(protocol, y, ys[[y]])
  }
  structure(list(exposures = exposures, comparators = comparators, outcomes = outcomes,
                 negative_controls = negative_controls, estimators = estimators, horizon = as.double(horizon),
                 covariates = covariates, proxy_smd = as.double(proxy_smd), min_events = as.integer(min_events),
                 thresholds = thresholds, washout = washout, eligibility = eligibility, baseline = baseline,
                 follow_up = follow_up, analysis = analysis, codes = codes,
                 exclude_prior_outcome = exclude_prior_outcome, coded = coded),
            class = "causallib_screen_spec")
}

# Exposures, comparators or outcomes: a code list (kept with attr coded =
# TRUE) or a character vector of names (a list of NULLs, coded = FALSE).
screen_groups <- function(x, arg) {
  if (is.character(x)) {
    if (!length(x) || anyNA(x) || any(!nzchar(x)) || anyDuplicated(x)) {
      cli::cli_abort("{.arg {arg}} must be distinct, non-empty names; you gave {.val {x}}.", call = rlang::caller_env())
    }
    return(structure(stats::setNames(vector("list", length(x)), x), coded = FALSE))
  }
  if (is.factor(x)) return(screen_groups(as.character(x), arg))
  if (!is.list(x)) {
    cli::cli_abort("{.arg {arg}} must be a code list from {.fn codes} or a character vector of names, not {.obj_type_friendly {x}}.",
                   call = rlang::caller_env())
  }
  x <- as_codes(x, arg)
  structure(unclass(x), coded = TRUE)
}

screen_thresholds <- function(x) {
  default <- c(max_smd = 0.1, min_ess = 20, out_of_support = 0.05, auc = 0.9, min_expected_events = 5)
  if (!is.numeric(x) || is.null(names(x)) || anyNA(x) || !all(names(x) %in% names(default))) {
    given <- if (is.null(names(x))) value_label(x) else paste(names(x), collapse = ", ")
    cli::cli_abort("{.arg thresholds} must be named numbers among {.val {names(default)}}; you gave {given}.",
                   call = rlang::caller_env())
  }
  default[names(x)] <- x
  default
}

# The cohort_spec() of one outcome: every exposure and comparator an arm.
screen_cohort_spec <- function(spec, outcome_name, outcome_codes) {
  el <- spec$eligibility
  codes <- spec$codes
  if (spec$exclude_prior_outcome) {
    el$exclude[[outcome_name]] <- c(-Inf, 0)
  }
  arms <- do.call(causallib::codes, c(spec$exposures, spec$comparators))
  oc <- do.call(causallib::codes, stats::setNames(list(outcome_codes), outcome_name))
  cohort_spec(treatment = new_users(arms, washout = spec$washout), eligibility = el, baseline = spec$baseline,
              outcome = outcome(oc), follow_up = spec$follow_up, analysis = spec$analysis, codes = codes)
}

#' @export
print.causallib_screen_spec <- function(x, ...) {
  cat(cli::style_bold("Screen specification"), "\n", sep = "")
  n_c <- if (is.null(x$comparators)) 1L else length(x$comparators)
  line <- function(label, value) cat("  ", format(label, width = 18), value, "\n", sep = "")
  shorten <- function(v) if (length(v) > 6L) paste(c(utils::head(v, 5L), "..."), collapse = ", ") else paste(v, collapse = ", ")
  line("exposures", paste0(length(x$exposures), " (", shorten(names(x$exposures)), ")"))
  line("comparators", if (is.null(x$comparators)) "every other exposure" else shorten(names(x$comparators)))
  line("outcomes", shorten(names(x$outcomes)))
  line("negative controls", if (is.null(x$negative_controls)) "none" else
    paste0(length(x$negative_controls), " (", shorten(names(x$negative_controls)), ")"))
  line("estimators", paste(x$estimators, collapse = ", "))
  line("effect", paste0("risk ratio by ", format(x$horizon), if (x$coded) " days"))
  line("cohorts", if (x$coded) paste0("built from records: new users, washout ", x$washout, " days, ",
                                      gsub("_", " ", x$analysis)) else "given as data")
  n_pairs <- length(x$exposures) * n_c * (length(x$outcomes) + length(x$negative_controls))
  line("pairs", format(n_pairs, big.mark = ","))
  invisible(x)
}

#' Run a screen of many exposure-outcome pairs
#'
#' Builds (or takes) one cohort per outcome, then fits and diagnoses every
#' exposure-comparator-outcome pair of a [screen_spec()], calibrates the
#' estimates on the negative controls with the EmpiricalCalibration package
#' and controls the false discovery rate.
#'
#' **Where it runs.** The pairs are evaluated with [future.apply::future_lapply()]
#' under the plan you set with [future::plan()]: `plan(sequential)` (the
#' default), `plan(multisession, workers = 4)` on a laptop, or a cluster
#' through future.batchtools (`plan(future.batchtools::batchtools_slurm,
#' template = screen_template("slurm"))`, likewise `batchtools_sge`,
#' `batchtools_lsf`; see [screen_template()]) -- the call to `screen()` does
#' not change. Cohorts are built in the
#' calling R session (the database connection stays there). Progress is
#' reported through progressr: wrap the call in
#' `progressr::with_progress()` or set `progressr::handlers(global = TRUE)`.
#' Each pair draws its random numbers (if any) from its own L'Ecuyer-CMRG
#' stream derived from `seed` and the pair's place in the screen, so results
#' do not depend on the plan, the number of workers or on resuming.
#'
#' **Checkpoints.** With `checkpoint`, a directory, every built cohort and
#' every finished pair is written there as soon as it is done (by the worker
#' that ran it); running the same screen again with the same directory
#' reads them instead of recomputing, so an interrupted screen resumes. A
#' directory holding another screen's specification is an error. Failed
#' pairs are kept as failed; `retry_failed = TRUE` runs them again.
#'
#' **Failures.** A pair that fails -- too few events, a propensity model that
#' cannot be fitted, an estimator error -- never stops the screen: its row
#' has `status = "failed"`, the `stage` (`"cohort"`, `"covariates"`,
#' `"propensity"`, `"diagnostics"` or `"outcome"`) and the error `message`.
#' Warnings of a pair are kept in its `warnings` column.
#'
#' **Calibration and error control.** For each exposure, comparator and
#' estimator (`calibration = "exposure"`) or each estimator
#' (`"pooled"`), the negative controls' log risk ratios fit an empirical
#' null distribution ([EmpiricalCalibration::fitNull()]) that gives
#' calibrated p-values ([EmpiricalCalibration::calibrateP()]), and a
#' systematic error model
#' ([EmpiricalCalibration::fitSystematicErrorModel()]) that gives
#' calibrated intervals
#' ([EmpiricalCalibration::calibrateConfidenceInterval()]); at least
#' `min_negative_controls` successful negative controls are needed, else
#' the calibrated columns are `NA`. `q_value` and `q_calibrated` are the
#' Benjamini-Hochberg adjusted p-values over the outcomes of interest of
#' each estimator (`q_calibrated` over the calibrated pairs). `signal` is
#' `q_calibrated < fdr` when the screen calibrated (a pair it could not
#' calibrate, for want of negative controls, is flagged `"uncalibrated"`
#' and is no signal) and `q_value < fdr` when it did not; a pair flagged
#' `"few_events"` (see `thresholds` of [screen_spec()]) is never a signal.
#'
#' @param spec A [screen_spec()].
#' @param source Records for [build_cohort()]: a [cohort_source()] or what
#'   it takes. Give `source` or `data`.
#' @param data Cohorts as data: a named list of data frames, one per outcome
#'   and negative control of `spec` (a single data frame when there is one).
#' @param checkpoint `NULL`, or a directory (created if needed) for
#'   checkpoints.
#' @param seed The seed of the pairs' random number streams.
#' @param fdr The false discovery rate of `signal`.
#' @param calibration `"exposure"`, `"pooled"` or `"none"`.
#' @param min_negative_controls The fewest successful negative controls a
#'   calibration uses.
#' @param retry_failed Run again the pairs a checkpoint holds as failed?
#' @return A `causal_screen` data frame, one row per pair and estimator:
#'   `exposure`, `comparator`, `outcome`, `negative_control`, `estimator`,
#'   `n_exposed`, `n_comparator`, `events_exposed`, `events_comparator`
#'   (by `horizon`), `expected_events` (in the smaller arm under no
#'   effect), `covariates` (how many adjusted for), `dropped`,
#'   the diagnostics `max_smd`, `ess_exposed`, `ess_comparator`,
#'   `out_of_support`, `auc`, the estimate `log_rr`, `se`, `estimate`
#'   (risk ratio), `conf_low`, `conf_high`, `p_value`, the calibrated
#'   `p_calibrated`, `conf_low_calibrated`, `conf_high_calibrated`,
#'   `q_value`, `q_calibrated`, `signal`, `flags` (the diagnostics beyond
#'   `thresholds`, comma separated), `status`, `stage`, `message`,
#'   `warnings`. Attribute `nulls`: the fitted null distributions.
#' @family screening
#' @export
#' @examples
#' # Cohorts given as data: four drugs; drug "a" doubles the outcome hazard.
#' set.seed(1)
#' n <- 2000
#' x1 <- rnorm(n)
#' drug <- sample(c("a", "b", "c", "d"), n, replace = TRUE)
#' cohort <- function(log_hr) {
#'   t_y <- rexp(n, exp(-6 + 0.5 * x1 + log_hr * (drug == "a")))
#'   data.frame(treatment = drug, x1 = x1, time = ceiling(pmin(t_y, 730)),
#'              event = as.integer(t_y < 730))
#' }
#' cohorts <- c(list(mi = cohort(log(2))),
#'              lapply(stats::setNames(nm = paste0("nc", 1:5)), function(i) cohort(0)))
#' spec <- screen_spec(exposures = c("a", "b", "c"), comparators = "d", outcomes = "mi",
#'                     negative_controls = paste0("nc", 1:5), horizon = 365)
#' # future::plan(future::multisession, workers = 2) would run the pairs in parallel
#' has_ec <- requireNamespace("EmpiricalCalibration", quietly = TRUE)
#' res <- screen(spec, data = cohorts, calibration = if (has_ec) "exposure" else "none")
#' res
#' # From OMOP-shaped records, see the vignette: vignette("screening", package = "causallib")
screen <- function(spec, source = NULL, data = NULL, checkpoint = NULL, seed = 1L, fdr = 0.05,
                   calibration = "exposure", min_negative_controls = 5, retry_failed = FALSE) {
  if (!inherits(spec, "causallib_screen_spec")) {
    cli::cli_abort("{.arg spec} must come from {.fn screen_spec}, not {.obj_type_friendly {spec}}.")
  }
  rlang::check_installed(c("future.apply", "progressr"), "to run a screen.")
  if (is.null(source) == is.null(data)) cli::cli_abort("Give exactly one of {.arg source} and {.arg data}.")
  if (!is.null(source) && !spec$coded) {
    cli::cli_abort(c("{.arg source} needs a specification with code lists ({.fn codes}) for the exposures and outcomes.",
                     i = "With names, give the cohorts as {.arg data}."))
  }
  check_number(seed, "seed")
  check_number(fdr, "fdr", min = 0, max = 1, open = c(TRUE, TRUE))
  calibration <- rlang::arg_match0(calibration, c("exposure", "pooled", "none"), "calibration")
  check_count(min_negative_controls, "min_negative_controls", min = 2)
  check_bool(retry_failed, "retry_failed")
  if (calibration != "none" && !is.null(spec$negative_controls)) {
    rlang::check_installed("EmpiricalCalibration", "to calibrate on the negative controls.")
  }
  if (!is.null(checkpoint)) checkpoint <- screen_checkpoint_dir(checkpoint, spec)

  ys <- c(spec$outcomes, spec$negative_controls)
  cohorts <- screen_cohorts(spec, ys, source, data, checkpoint)
  tasks <- screen_tasks(spec)
  seeds <- screen_seeds(seed, nrow(tasks))
  done <- screen_read_checkpoints(checkpoint, tasks, retry_failed)
  todo <- which(vapply(done, is.null, logical(1)))
  if (length(todo)) {
    p <- progressr::progressor(steps = length(todo))
    fresh <- future.apply::future_lapply(
      todo, screen_task, tasks = tasks, cohorts = cohorts, spec = spec, checkpoint = checkpoint,
      progress = p, threads = if (future::nbrOfWorkers() > 1) 1L, future.seed = seeds[todo],
      future.packages = "causallib"
    )
    done[todo] <- fresh
  }
  out <- do.call(rbind, done)
  rownames(out) <- NULL
  out <- screen_calibrate(out, calibration, min_negative_controls)
  nulls <- attr(out, "nulls")
  out <- screen_fdr(out, fdr)
  structure(out, class = c("causal_screen", "data.frame"), spec = spec, fdr = fdr, calibration = calibration,
            nulls = nulls)
}

# ---- cohorts -----------------------------------------------------------------

screen_cohorts <- function(spec, ys, source, data, checkpoint) {
  if (!is.null(data)) {
    if (is.data.frame(data)) {
      if (length(ys) != 1L) {
        cli::cli_abort("{.arg data} must be a named list of {length(ys)} data frames, one per outcome and negative control ({.val {names(ys)}}).")
      }
      data <- stats::setNames(list(data), names(ys))
    }
    if (!is.list(data) || is.null(names(data))) {
      cli::cli_abort("{.arg data} must be a named list of data frames, one per outcome, not {.obj_type_friendly {data}}.")
    }
    miss <- setdiff(names(ys), names(data))
    if (length(miss)) cli::cli_abort("{.arg data} has no data frame for {.val {miss}}.")
    out <- lapply(names(ys), function(y) {
      d <- data[[y]]
      if (!is.data.frame(d)) cli::cli_abort("{.code data${y}} must be a data frame, not {.obj_type_friendly {d}}.")
      need <- setdiff(c("treatment", "time", "event"), names(d))
      if (length(need)) cli::cli_abort("{.code data${y}} has no column{?s} {.val {need}}.")
      if (!is.numeric(d$time) || anyNA(d$time) || any(d$time < 0)) {
        cli::cli_abort("{.code data${y}$time} must be non-negative numbers without missing values.")
      }
      if (!is.numeric(d$event) || !all(d$event %in% c(0, 1, 2))) {
        cli::cli_abort(c("{.code data${y}$event} must be 0 (censored), 1 (the outcome) or 2 (death).",
                         x = "It has {.val {utils::head(setdiff(unique(d$event), c(0, 1, 2)), 3)}}."))
      }
      d
    })
    # An exposure or comparator that no cohort has is a misspelt name, not a
    # pair to fail quietly.
    arms <- c(names(spec$exposures), names(spec$comparators))
    seen <- unique(unlist(lapply(out, function(d) unique(as.character(d$treatment)))))
    absent <- setdiff(arms, seen)
    if (length(absent)) {
      cli::cli_abort(c("No cohort in {.arg data} has {.code treatment} {.val {absent}}.",
                       i = "Its values are {.val {utils::head(sort(seen), 10)}}{if (length(seen) > 10) ', ...'}."))
    }
    return(stats::setNames(out, names(ys)))
  }
  # The source is opened (data frames copied into SQLite) only when a cohort
  # is not in the checkpoint already.
  src <- NULL
  on.exit(if (!is.null(src) && src$owned && !inherits(source, "causallib_cohort_source")) {
    DBI::dbDisconnect(src$con)
  }, add = TRUE)
  out <- lapply(seq_along(ys), function(i) {
    y <- names(ys)[i]
    file <- if (!is.null(checkpoint)) file.path(checkpoint, sprintf("cohort-%04d.rds", i))
    if (!is.null(file) && file.exists(file)) return(readRDS(file))
    if (is.null(src)) src <<- cohort_source(source)
    # The builder's messages (covariates without a value, say) are passed
    # on, naming the outcome whose cohort they concern.
    d <- tryCatch(
      withCallingHandlers(
        as.data.frame(build_cohort(screen_cohort_spec(spec, y, ys[[y]]), src)),
        message = function(m) {
          cli::cli_inform(c("The cohort of outcome {.val {y}}:", " " = cli::ansi_strip(trimws(conditionMessage(m)))))
          invokeRestart("muffleMessage")
        }),
      error = function(e) structure(list(message = conditionMessage(e)), class = "screen_failed_cohort")
    )
    if (!is.null(file)) screen_save(d, file)
    d
  })
  stats::setNames(out, names(ys))
}

# ---- the pairs ---------------------------------------------------------------

screen_tasks <- function(spec) {
  comparators <- if (is.null(spec$comparators)) "other exposures" else names(spec$comparators)
  ys <- c(names(spec$outcomes), names(spec$negative_controls))
  g <- expand.grid(exposure = names(spec$exposures), comparator = comparators, outcome = ys,
                   stringsAsFactors = FALSE, KEEP.OUT.ATTRS = FALSE)
  g$negative_control <- g$outcome %in% names(spec$negative_controls)
  g
}

# One L'Ecuyer-CMRG stream per task, from the seed and the task's place.
screen_seeds <- function(seed, n) {
  old_kind <- RNGkind()
  had_seed <- exists(".Random.seed", envir = globalenv(), inherits = FALSE)
  if (had_seed) old_seed <- get(".Random.seed", envir = globalenv())
  on.exit({
    RNGkind(old_kind[1L], old_kind[2L], old_kind[3L])
    if (had_seed) assign(".Random.seed", old_seed, envir = globalenv())
    else rm(".Random.seed", envir = globalenv())
  })
  RNGkind("L'Ecuyer-CMRG")
  set.seed(seed)
  s <- get(".Random.seed", envir = globalenv())
  out <- vector("list", n)
  for (i in seq_len(n)) {
    s <- parallel::nextRNGStream(s)
    out[[i]] <- s
  }
  out
}

# One task: a pair's rows for every estimator, written to the checkpoint.
# With several workers each uses one thread of the C core (results do not
# depend on the number of threads).
screen_task <- function(i, tasks, cohorts, spec, checkpoint, progress, threads = NULL) {
  if (!is.null(threads)) {
    old <- options(causallib.threads = threads)
    on.exit(options(old), add = TRUE)
  }
  task <- tasks[i, , drop = FALSE]
  out <- screen_pair(task, cohorts[[task$outcome]], spec)
  if (!is.null(checkpoint)) screen_save(list(task = task, rows = out), screen_task_file(checkpoint, i))
  progress(sprintf("%s vs %s: %s", task$exposure, task$comparator, task$outcome))
  out
}

screen_pair <- function(task, d, spec) {
  st <- new.env(parent = emptyenv())
  st$stage <- "cohort"
  st$warnings <- character()
  rows <- screen_rows(task, spec)
  keep_warning <- function(w) {
    st$warnings <- c(st$warnings, paste0(st$stage, ": ", conditionMessage(w)))
    invokeRestart("muffleWarning")
  }
  fail <- function(e, r = rows) {
    r$status <- "failed"
    r$stage <- st$stage
    r$message <- cli::ansi_strip(conditionMessage(e))
    r
  }
  rows <- tryCatch(withCallingHandlers({
    if (inherits(d, "screen_failed_cohort")) cli::cli_abort("the cohort could not be built: {d$message}")
    pd <- screen_pair_data(d, task, spec, rows)
    rows <- pd$rows
    screen_check_pair(rows, spec)
    st$stage <- "covariates"
    covs <- screen_covariates(pd$data, task, spec)
    st$stage <- "propensity"
    ps <- screen_propensity(pd$data, covs$use, spec)
    rows$covariates <- length(ps$covariates)
    rows$dropped <- paste(c(covs$dropped, ps$dropped), collapse = ", ")
    st$stage <- "diagnostics"
    dx <- screen_diagnostics(ps$fit, spec)
    for (k in names(dx)) rows[[k]] <- dx[[k]]
    if (rows$expected_events[1L] < spec$thresholds[["min_expected_events"]]) {
      rows$flags <- paste(c(if (nzchar(dx$flags)) dx$flags, "few_events"), collapse = ", ")
    }
    st$stage <- "outcome"
    for (j in seq_len(nrow(rows))) {
      rows[j, ] <- tryCatch(screen_estimate(rows[j, ], rows$estimator[j], pd$data, ps, spec),
                            error = function(e) fail(e, rows[j, ]))
    }
    rows
  }, warning = keep_warning), error = fail)
  rows$warnings <- paste(unique(st$warnings), collapse = "; ")
  rows
}

screen_rows <- function(task, spec) {
  k <- length(spec$estimators)
  data.frame(exposure = rep(task$exposure, k), comparator = task$comparator, outcome = task$outcome,
             negative_control = task$negative_control, estimator = spec$estimators,
             n_exposed = NA_integer_, n_comparator = NA_integer_, events_exposed = NA_integer_,
             events_comparator = NA_integer_, expected_events = NA_real_, covariates = NA_integer_,
             dropped = "",
             max_smd = NA_real_, ess_exposed = NA_real_, ess_comparator = NA_real_,
             out_of_support = NA_real_, auc = NA_real_,
             log_rr = NA_real_, se = NA_real_, estimate = NA_real_, conf_low = NA_real_,
             conf_high = NA_real_, p_value = NA_real_, flags = "", status = "ok", stage = "",
             message = "", warnings = "", stringsAsFactors = FALSE)
}

# The pair's persons: treatment a factor (comparator, exposure).
screen_pair_data <- function(d, task, spec, rows) {
  comp <- if (task$comparator == "other exposures") setdiff(names(spec$exposures), task$exposure) else task$comparator
  tr <- as.character(d$treatment)
  keep <- tr %in% c(task$exposure, comp)
  d <- d[keep, , drop = FALSE]
  d$treatment <- factor(ifelse(tr[keep] == task$exposure, task$exposure, task$comparator),
                        levels = c(task$comparator, task$exposure))
  exposed <- d$treatment == task$exposure
  by_h <- d$event == 1 & d$time <= spec$horizon
  rows$n_exposed <- sum(exposed)
  rows$n_comparator <- sum(!exposed)
  rows$events_exposed <- sum(by_h & exposed)
  rows$events_comparator <- sum(by_h & !exposed)
  rows$expected_events <- if (nrow(d)) sum(by_h) / nrow(d) * min(sum(exposed), sum(!exposed)) else 0
  list(data = d, rows = rows)
}

# A pair with an empty arm or too few events is not estimated (after its
# counts are in its row).
screen_check_pair <- function(rows, spec) {
  if (rows$n_exposed[1L] == 0L || rows$n_comparator[1L] == 0L) {
    cli::cli_abort("no persons in the {if (rows$n_exposed[1L] == 0L) 'exposure' else 'comparator'} arm.")
  }
  few <- c(rows$events_exposed[1L], rows$events_comparator[1L]) < spec$min_events
  if (any(few)) {
    cli::cli_abort("{rows$events_exposed[1L]} outcome event{?s} among the exposed and {rows$events_comparator[1L]} among the comparators by {spec$horizon}; {.arg min_events} is {spec$min_events}.")
  }
  invisible()
}

# The pair's candidate covariates, without the exposure's own codes and the
# columns constant among the pair's persons.
screen_covariates <- function(d, task, spec) {
  covs <- if (is.null(spec$covariates)) {
    setdiff(names(d), screen_reserved)
  } else if (is.function(spec$covariates)) {
    spec$covariates(task$exposure, task$comparator, task$outcome)
  } else {
    spec$covariates
  }
  if (!is.character(covs) || anyNA(covs)) cli::cli_abort("{.arg covariates} must give column names.")
  miss <- setdiff(covs, names(d))
  if (length(miss)) cli::cli_abort("the cohort has no covariate column{?s} {.val {miss}}.")
  dropped <- character()
  if (spec$coded && length(spec$codes)) {
    comp <- if (task$comparator == "other exposures") setdiff(names(spec$exposures), task$exposure) else task$comparator
    own <- unlist(c(spec$exposures, spec$comparators)[c(task$exposure, comp)], use.names = FALSE)
    shares <- vapply(covs, function(v) any(spec$codes[[v]] %in% own), logical(1))
    dropped <- c(dropped, dropped_label(covs[shares], "exposure's codes"))
    covs <- covs[!shares]
  }
  # A column with no value among the pair's persons cannot adjust; one
  # with some missing values is kept (the propensity model then fails,
  # naming it).
  missing_all <- vapply(covs, function(v) all(is.na(d[[v]])), logical(1))
  constant <- !missing_all & vapply(covs, function(v) length(unique(d[[v]][!is.na(d[[v]])])) < 2L, logical(1))
  dropped <- c(dropped, dropped_label(covs[missing_all], "no value"), dropped_label(covs[constant], "constant"))
  list(use = covs[!constant & !missing_all], dropped = dropped)
}

dropped_label <- function(v, why) if (length(v)) paste0(v, " (", why, ")") else character()

# The propensity model; covariates whose crude standardized difference
# exceeds proxy_smd are dropped as proxies and the model refitted.
screen_propensity <- function(d, covs, spec) {
  fit_ps <- function(v) {
    rhs <- if (length(v)) paste0("`", v, "`", collapse = " + ") else "1"
    ipw(stats::as.formula(paste("treatment ~", rhs), env = baseenv()), data = d)
  }
  fit <- fit_ps(covs)
  dropped <- character()
  if (length(covs) && is.finite(spec$proxy_smd)) {
    bal <- balance_table(fit, propensity = FALSE, threshold = NULL, binary = "std")
    big <- unique(bal$variable[abs(bal$diff_unweighted) > spec$proxy_smd])
    if (length(big)) {
      dropped <- dropped_label(big, "proxy")
      covs <- setdiff(covs, big)
      fit <- fit_ps(covs)
    }
  }
  list(fit = fit, covariates = covs, dropped = dropped)
}

screen_diagnostics <- function(fit, spec) {
  a <- fit$treatment
  exposed <- as.integer(a) == 2L
  sw <- fit$sampling_weights %||% 1
  ess <- arm_ess(rep_len(sw, length(a)) * fit$weights, a)
  bal <- if (ncol(covariate_matrix(fit))) balance_table(fit, propensity = FALSE, threshold = NULL)
  max_smd <- if (is.null(bal)) 0 else max(abs(bal$diff_weighted), na.rm = TRUE)
  score <- fit$propensity[, 2L]
  out_of_support <- mean(discarded_units(score, exposed, "both"))
  auc <- unname(roc_auc(fit))[1L]
  th <- spec$thresholds
  flags <- c(imbalance = max_smd > th[["max_smd"]], low_ess = min(ess) < th[["min_ess"]],
             support = out_of_support > th[["out_of_support"]], separation = auc > th[["auc"]])
  list(max_smd = max_smd, ess_comparator = ess[1L], ess_exposed = ess[2L], out_of_support = out_of_support,
       auc = auc, flags = paste(names(flags)[flags], collapse = ", "))
}

screen_estimate <- function(row, estimator, d, ps, spec) {
  rhs <- paste0("`", ps$covariates, "`", collapse = " + ")
  f_km <- stats::as.formula("Surv(time, event == 1) ~ treatment", env = screen_formula_env())
  f_adj <- stats::as.formula(paste("Surv(time, event == 1) ~ treatment", if (length(ps$covariates)) paste("+", rhs)),
                             env = screen_formula_env())
  fit <- switch(estimator,
    ipw = survival_ipw(f_km, data = d, weight_model = ps$fit),
    aipw = survival_aipw(f_adj, data = d, treatment = "treatment", weight_model = ps$fit, model = "cox"),
    standardization = survival_standardization(f_adj, data = d, treatment = "treatment", model = "cox")
  )
  est <- estimate_effect(fit, times = spec$horizon, contrast = "risk_ratio")
  tt <- tidy(est)
  row$log_rr <- log(tt$estimate[1L])
  row$se <- tt$std.error[1L]
  row$estimate <- tt$estimate[1L]
  row$conf_low <- tt$conf.low[1L]
  row$conf_high <- tt$conf.high[1L]
  row$p_value <- tt$p.value[1L]
  row
}

screen_formula_env <- function() {
  env <- new.env(parent = baseenv())
  env$Surv <- survival::Surv
  env
}

# ---- checkpoints -------------------------------------------------------------

screen_checkpoint_dir <- function(dir, spec) {
  if (!is.character(dir) || length(dir) != 1L || is.na(dir) || !nzchar(dir)) {
    cli::cli_abort("{.arg checkpoint} must be a directory path, not {.obj_type_friendly {dir}}.")
  }
  if (!dir.exists(dir) && !dir.create(dir, recursive = TRUE, showWarnings = FALSE)) {
    cli::cli_abort("Cannot create the {.arg checkpoint} directory {.path {dir}}.")
  }
  dir <- normalizePath(dir)
  file <- file.path(dir, "spec.rds")
  mine <- screen_fingerprint(spec)
  if (file.exists(file)) {
    theirs <- readRDS(file)
    if (!identical(theirs, mine)) {
      cli::cli_abort(c("The {.arg checkpoint} directory {.path {dir}} holds another screen's results.",
                       i = "Use a new directory, or delete this one to start over."))
    }
  } else {
    screen_save(mine, file)
  }
  dir
}

# What identifies a screen: its specification, functions by their source.
screen_fingerprint <- function(spec) {
  s <- unclass(spec)
  if (is.function(s$covariates)) s$covariates <- deparse(s$covariates)
  serialize(s, NULL, ascii = TRUE, version = 2L)
}

screen_task_file <- function(dir, i) file.path(dir, sprintf("pair-%06d.rds", i))

# Written under a temporary name and renamed, so an interrupted write
# leaves no half file behind.
screen_save <- function(x, file) {
  tmp <- paste0(file, ".tmp", Sys.getpid())
  saveRDS(x, tmp)
  file.rename(tmp, file)
  invisible(file)
}

screen_read_checkpoints <- function(dir, tasks, retry_failed) {
  out <- vector("list", nrow(tasks))
  if (is.null(dir)) return(out)
  for (i in seq_len(nrow(tasks))) {
    file <- screen_task_file(dir, i)
    if (!file.exists(file)) next
    x <- tryCatch(readRDS(file), error = function(e) NULL)
    if (is.null(x) || !identical(x$task, tasks[i, , drop = FALSE])) next
    if (retry_failed && any(x$rows$status == "failed")) next
    out[[i]] <- x$rows
  }
  out
}

# ---- calibration and false discovery rate ----------------------------------

screen_calibrate <- function(out, calibration, min_nc) {
  out$p_calibrated <- out$conf_low_calibrated <- out$conf_high_calibrated <- NA_real_
  nulls <- list()
  if (calibration != "none" && any(out$negative_control)) {
    group <- if (calibration == "exposure") paste(out$exposure, out$comparator, out$estimator, sep = " | ") else out$estimator
    for (g in unique(group)) {
      rows <- group == g
      nc <- rows & out$negative_control & out$status == "ok" & is.finite(out$log_rr) & is.finite(out$se) & out$se > 0
      if (sum(nc) < min_nc) next
      null <- EmpiricalCalibration::fitNull(out$log_rr[nc], out$se[nc])
      nulls[[g]] <- list(null = null, log_rr = out$log_rr[nc], se = out$se[nc])
      ok <- rows & out$status == "ok" & is.finite(out$log_rr) & is.finite(out$se)
      out$p_calibrated[ok] <- EmpiricalCalibration::calibrateP(null, out$log_rr[ok], out$se[ok])
      model <- EmpiricalCalibration::fitSystematicErrorModel(out$log_rr[nc], out$se[nc], rep(0, sum(nc)))
      ci <- EmpiricalCalibration::calibrateConfidenceInterval(out$log_rr[ok], out$se[ok], model)
      out$conf_low_calibrated[ok] <- exp(ci$logLb95Rr)
      out$conf_high_calibrated[ok] <- exp(ci$logUb95Rr)
    }
  }
  attr(out, "nulls") <- nulls
  out
}

screen_fdr <- function(out, fdr) {
  out$q_value <- out$q_calibrated <- NA_real_
  for (e in unique(out$estimator)) {
    rows <- out$estimator == e & !out$negative_control & !is.na(out$p_value)
    out$q_value[rows] <- stats::p.adjust(out$p_value[rows], "BH")
    cal <- rows & !is.na(out$p_calibrated)
    out$q_calibrated[cal] <- stats::p.adjust(out$p_calibrated[cal], "BH")
  }
  # One rule for the whole table: calibrated q-values when the screen
  # calibrated anything (a pair it could not calibrate is then no signal,
  # and flagged), uncalibrated ones otherwise.
  calibrated <- any(!is.na(out$p_calibrated))
  q <- if (calibrated) out$q_calibrated else out$q_value
  if (calibrated) {
    lost <- out$status == "ok" & !out$negative_control & is.na(out$p_calibrated)
    out$flags[lost] <- ifelse(nzchar(out$flags[lost]), paste(out$flags[lost], "uncalibrated", sep = ", "),
                              "uncalibrated")
  }
  out$signal <- !out$negative_control & !is.na(q) & q < fdr & !grepl("few_events", out$flags, fixed = TRUE)
  first <- c("exposure", "comparator", "outcome", "negative_control", "estimator", "n_exposed", "n_comparator",
             "events_exposed", "events_comparator", "expected_events", "covariates", "dropped", "max_smd", "ess_exposed",
             "ess_comparator", "out_of_support", "auc", "log_rr", "se", "estimate", "conf_low", "conf_high",
             "p_value", "p_calibrated", "conf_low_calibrated", "conf_high_calibrated", "q_value", "q_calibrated",
             "signal", "flags", "status", "stage", "message", "warnings")
  out[first]
}

# ---- reading the results -----------------------------------------------------

#' @export
print.causal_screen <- function(x, n = 10L, ...) {
  spec <- attr(x, "spec")
  ok <- x$status == "ok"
  cat(cli::style_bold("Screen"), ": ", length(unique(paste(x$exposure, x$comparator, x$outcome))), " pairs x ",
      length(unique(x$estimator)), " estimator", if (length(unique(x$estimator)) > 1L) "s", "; ",
      sum(ok), " estimates, ", sum(!ok), " failed\n", sep = "")
  cal <- attr(x, "calibration")
  cat("Calibration: ", if (cal == "none" || !length(attr(x, "nulls"))) "none" else
    paste0(length(attr(x, "nulls")), " empirical null", if (length(attr(x, "nulls")) > 1L) "s",
           " from the negative controls (", cal, ")"), "\n", sep = "")
  cat("Signals at FDR ", format(100 * attr(x, "fdr")), "%: ", sum(x$signal), "\n", sep = "")
  y <- as.data.frame(x)
  y <- y[!y$negative_control & ok, , drop = FALSE]
  if (nrow(y)) {
    p <- ifelse(is.na(y$p_calibrated), y$p_value, y$p_calibrated)
    y <- y[order(p), , drop = FALSE]
    show <- utils::head(y[c("exposure", "comparator", "outcome", "estimator", "estimate", "conf_low", "conf_high",
                            "p_value", "p_calibrated", "q_calibrated", "signal", "flags")], n)
    print(show, row.names = FALSE, digits = 3)
  }
  if (any(!ok)) {
    cat(sum(!ok), " failed row", if (sum(!ok) > 1L) "s", " (see `status`, `stage`, `message`); by stage: ",
        paste(names(table(x$stage[!ok])), table(x$stage[!ok]), sep = " ", collapse = ", "), "\n", sep = "")
  }
  invisible(x)
}

# A subset of the results is a plain data frame: the screen's attributes
# (specification, nulls) describe the whole table.
#' @export
`[.causal_screen` <- function(x, ...) {
  y <- tidy.causal_screen(x)
  y[...]
}

#' @method tidy causal_screen
#' @export
tidy.causal_screen <- function(x, ...) {
  out <- x
  attributes(out) <- attributes(out)[c("names", "row.names")]
  class(out) <- "data.frame"
  out
}

#' Plots of a screen
#'
#' `type = "forest"`: each pair's risk ratio and interval (calibrated where
#' available), one panel per outcome; `"volcano"`: the log risk ratio against
#' -log10 of the (calibrated) p-value, signals in colour; `"calibration"`:
#' the negative controls' estimates with the empirical null, drawn by
#' [EmpiricalCalibration::plotCalibrationEffect()] (one group: name it by
#' `group`, `"exposure | comparator | estimator"`, or the estimator for a
#' pooled calibration; by default the first). `screen_plot_data()` returns
#' the numbers the forest and volcano plots draw.
#'
#' @param object,x A [screen()] result.
#' @param type `"forest"`, `"volcano"` or `"calibration"`.
#' @param estimator The estimator to draw (default: the first).
#' @param group For `"calibration"`, the null's group.
#' @param ... Unused.
#' @return A ggplot object (`screen_plot_data()`: a data frame).
#' @family screening
#' @exportS3Method ggplot2::autoplot
#' @examples
#' set.seed(2)
#' n <- 1500
#' drug <- sample(c("a", "b", "c"), n, replace = TRUE)
#' t_y <- rexp(n, exp(-6 + log(2) * (drug == "a")))
#' cohort <- data.frame(treatment = drug, time = ceiling(pmin(t_y, 730)),
#'                      event = as.integer(t_y < 730))
#' res <- screen(screen_spec(exposures = c("a", "b", "c"), outcomes = "mi", horizon = 365),
#'               data = list(mi = cohort))
#' screen_plot_data(res, "forest")
#' if (requireNamespace("ggplot2", quietly = TRUE)) ggplot2::autoplot(res, type = "volcano")
autoplot.causal_screen <- function(object, type = "forest", estimator = NULL, group = NULL, ...) {
  rlang::check_dots_empty()
  rlang::check_installed("ggplot2", "to draw a screen.")
  type <- rlang::arg_match0(type, c("forest", "volcano", "calibration"), "type")
  if (type == "calibration") return(screen_calibration_plot(object, group))
  d <- screen_plot_data(object, type = type, estimator = estimator)
  if (type == "forest") {
    ggplot2::ggplot(d, ggplot2::aes(x = .data$estimate, y = .data$label, colour = .data$signal)) +
      ggplot2::geom_vline(xintercept = 1, linetype = 2, colour = "grey50") +
      ggplot2::geom_linerange(ggplot2::aes(xmin = .data$conf_low, xmax = .data$conf_high)) +
      ggplot2::geom_point() +
      ggplot2::scale_x_log10() +
      ggplot2::scale_colour_manual(values = c(`FALSE` = "grey30", `TRUE` = "firebrick"), name = "Signal") +
      ggplot2::facet_wrap(~outcome, scales = "free_y") +
      ggplot2::labs(x = paste0("Risk ratio", if (any(d$calibrated)) " (calibrated interval)"), y = NULL,
                    title = "Screen: risk ratios by pair")
  } else {
    ggplot2::ggplot(d, ggplot2::aes(x = .data$log_rr, y = .data$minus_log10_p, colour = .data$signal)) +
      ggplot2::geom_point(alpha = 0.7) +
      ggplot2::scale_colour_manual(values = c(`FALSE` = "grey40", `TRUE` = "firebrick"), name = "Signal") +
      ggplot2::labs(x = "Log risk ratio", y = paste0("-log10 ", if (any(d$calibrated)) "calibrated ", "p-value"),
                    title = "Screen: volcano plot")
  }
}

#' @rdname autoplot.causal_screen
#' @export
plot.causal_screen <- function(x, type = "forest", ...) {
  p <- autoplot.causal_screen(x, type = type, ...)
  print(p)
  invisible(p)
}

#' @rdname autoplot.causal_screen
#' @export
screen_plot_data <- function(x, type = "forest", estimator = NULL) {
  if (!inherits(x, "causal_screen")) cli::cli_abort("{.arg x} must come from {.fn screen}, not {.obj_type_friendly {x}}.")
  type <- rlang::arg_match0(type, c("forest", "volcano"), "type")
  est <- estimator %||% x$estimator[1L]
  if (!est %in% x$estimator) cli::cli_abort("{.arg estimator} must be one of {.val {unique(x$estimator)}}.")
  d <- as.data.frame(x)
  d <- d[d$estimator == est & d$status == "ok" & !d$negative_control, , drop = FALSE]
  d$calibrated <- !is.na(d$p_calibrated)
  if (type == "forest") {
    d$conf_low <- ifelse(d$calibrated, d$conf_low_calibrated, d$conf_low)
    d$conf_high <- ifelse(d$calibrated, d$conf_high_calibrated, d$conf_high)
    d$label <- factor(paste(d$exposure, "vs", d$comparator))
    return(d[c("exposure", "comparator", "outcome", "label", "estimate", "conf_low", "conf_high", "calibrated", "signal")])
  }
  p <- ifelse(d$calibrated, d$p_calibrated, d$p_value)
  d$minus_log10_p <- -log10(pmax(p, .Machine$double.xmin))
  d[c("exposure", "comparator", "outcome", "log_rr", "minus_log10_p", "calibrated", "signal")]
}

screen_calibration_plot <- function(x, group) {
  nulls <- attr(x, "nulls")
  if (!length(nulls)) {
    cli::cli_abort("{.arg object} has no calibration: it needs negative controls and {.code calibration} other than {.val none}.")
  }
  group <- group %||% names(nulls)[1L]
  if (!group %in% names(nulls)) cli::cli_abort("{.arg group} must be one of {.val {names(nulls)}}.")
  rlang::check_installed("EmpiricalCalibration", "to draw the calibration plot.")
  n <- nulls[[group]]
  # EmpiricalCalibration's plot still uses ggplot2's `size` for lines.
  withCallingHandlers(
    EmpiricalCalibration::plotCalibrationEffect(n$log_rr, n$se, null = n$null, title = group),
    lifecycle_warning_deprecated = function(w) invokeRestart("muffleWarning")
  )
}

#' Job templates for running a screen on a cluster
#'
#' The path of a batchtools job template shipped with causallib, for
#' future.batchtools' `batchtools_slurm`, `batchtools_sge` or
#' `batchtools_lsf` plans: each pair of a [screen()] then runs as a cluster
#' job, with the same call to `screen()`. The templates read the
#' `resources` of the plan: `walltime` (seconds, default 3600), `memory`
#' (megabytes, default 2048), `ncpus` (default 1), `partition` (Slurm),
#' `queue` (SGE, LSF), `pe` (SGE's parallel environment for `ncpus > 1`)
#' and `modules` (shell lines run before R, such as `"module load R/4.2"`).
#' Copy one and edit it when your site needs more.
#'
#' @param scheduler `"slurm"`, `"sge"` or `"lsf"`.
#' @return The path of the template file.
#' @family screening
#' @export
#' @examples
#' screen_template("slurm")
#' # On the cluster's login node:
#' # future::plan(future.batchtools::batchtools_slurm, template = screen_template("slurm"),
#' #              resources = list(walltime = 7200, memory = 4096, partition = "short",
#' #                               modules = "module load R/4.2"))
#' # res <- screen(spec, data = cohorts, checkpoint = "screen-checkpoint")
screen_template <- function(scheduler = "slurm") {
  scheduler <- rlang::arg_match0(scheduler, c("slurm", "sge", "lsf"), "scheduler")
  system.file("templates", paste0(scheduler, ".tmpl"), package = "causallib", mustWork = TRUE)
}
