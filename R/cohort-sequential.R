# Sequential trials with a non-user comparator: a treatment strategy whose
# cohort_entry() method gives one row per person and trial. Trial k starts
# on day start + (k - 1) * interval; every person eligible then enters it,
# in the drug arm when they initiate the drug within the trial's interval,
# otherwise as a non-user. The rows are keyed by (person_id, trial), and
# every later stage of build_cohort() joins and aggregates on run$key.

#' Sequential trials: initiators versus non-users
#'
#' A treatment strategy for [cohort_spec()] that emulates a sequence of
#' target trials, each comparing persons who initiate a drug with persons
#' who do not (Hernan et al. 2008; Danaei et al. 2013). Trial `k` starts
#' on day `start + (k - 1) * interval` -- its time zero -- and enrols every
#' person who is eligible on that day:
#'
#' * observed: the day lies in one of the person's observation periods;
#' * a new user at most: no drug of `treatment` covers any of the
#'   `washout` days before time zero, and those days are observed (the
#'   observation period began at least `washout` days earlier);
#' * the criteria of [eligibility()] at time zero (age, prior observation,
#'   exclusions, alive).
#'
#' An enrolled person is in the drug arm when a drug of `treatment` starts
#' within the trial's first `interval` days (days 0 to `interval - 1`),
#' and in the `"non_user"` arm otherwise. Time zero is the trial's start
#' for both arms (not the day of initiation), so that eligibility,
#' baseline covariates and follow-up are aligned for the two arms; the
#' interval is a grace period for initiation. A person enters every trial
#' for which they are eligible: as a non-user until they initiate, then in
#' the drug arm of the trial whose interval holds the initiation, and not
#' again until `washout` days after their drug supply ends.
#'
#' The cohort has one row per person and trial (column `trial`); the rows
#' of one person are correlated, so standard errors must be clustered by
#' `person_id`. Under a per-protocol analysis a non-user's follow-up ends
#' (`end_reason` `"switching"`) when they start the drug, and an
#' initiator's at discontinuation (see [follow_up()]); under intention to
#' treat neither ends it.
#'
#' @param treatment A [codes()] list with one group: the drug whose
#'   initiators are compared with non-users. Its name is the level of the
#'   drug arm; `"non_user"` is the first (reference) level.
#' @param interval Days between the starts of consecutive trials, and the
#'   days within which initiation assigns a person to the drug arm.
#' @param washout Days before time zero without the drug (and observed).
#' @param max_trials The largest number of trials (`Inf`: as many as fit
#'   between `start` and `end`).
#' @param start,end `NULL` or dates (a `Date` or `"YYYY-MM-DD"`): the
#'   start of the first trial and the latest day a trial may start. By
#'   default the first and last day of any observation period in the
#'   records.
#' @return A `causallib_sequential_trials` object (a treatment strategy).
#' @references Hernan MA, Alonso A, Logan R, et al. (2008). Observational
#'   studies analyzed like randomized experiments: an application to
#'   postmenopausal hormone therapy and coronary heart disease.
#'   *Epidemiology* 19(6), 766-779.
#'
#'   Danaei G, Rodriguez LAG, Cantero OF, Logan R, Hernan MA (2013).
#'   Observational data for comparative effectiveness research: an
#'   emulation of randomised trials of statins and primary prevention of
#'   coronary heart disease. *Statistical Methods in Medical Research*
#'   22(1), 70-96.
#' @family cohort building
#' @export
#' @examples
#' d <- as.Date("2020-01-01")
#' records <- list(
#'   person = data.frame(person_id = 1:3, gender_concept_id = 8507L, year_of_birth = 1960L),
#'   observation_period = data.frame(person_id = 1:3, observation_period_start_date = d - 400,
#'                                   observation_period_end_date = d + 400),
#'   drug_exposure = data.frame(person_id = c(1L, 2L), drug_concept_id = 1L,
#'                              drug_exposure_start_date = d + c(5, 70),
#'                              drug_exposure_end_date = d + c(94, 159)),
#'   condition_occurrence = data.frame(person_id = 3L, condition_concept_id = 20L,
#'                                     condition_start_date = d + 100)
#' )
#' spec <- cohort_spec(
#'   treatment = sequential_trials(codes(drug_a = 1L), interval = 30, washout = 365,
#'                                 start = d, max_trials = 3),
#'   eligibility = eligibility(prior_observation = 365),
#'   outcome = outcome(codes(mi = 20L)),
#'   follow_up = follow_up(max = 180)
#' )
#' src <- cohort_source(records, tables = c(procedure_occurrence = NA, measurement = NA, death = NA))
#' cohort <- build_cohort(spec, src)
#' cohort
#' attrition(cohort)
sequential_trials <- function(treatment, interval = 30, washout = 365, max_trials = Inf, start = NULL, end = NULL) {
  treatment <- as_codes(treatment, "treatment")
  if (length(treatment) != 1L) {
    cli::cli_abort(c("{.arg treatment} of {.fn sequential_trials} must be one code list (the drug whose initiators are compared with non-users); you gave {length(treatment)}.",
                     i = "Compare two drugs with {.fn new_users}."), call = NULL)
  }
  if (names(treatment) == "non_user") {
    cli::cli_abort("{.arg treatment} of {.fn sequential_trials} cannot be named {.val non_user}: that is the comparator arm.",
                   call = NULL)
  }
  interval <- check_days(interval, "interval", "sequential_trials", min = 1)
  washout <- check_days(washout, "washout", "sequential_trials")
  if (!is.numeric(max_trials) || length(max_trials) != 1L || is.na(max_trials) || max_trials < 1 ||
      (is.finite(max_trials) && max_trials != round(max_trials))) {
    cli::cli_abort("{.arg max_trials} of {.fn sequential_trials} must be a whole number of at least 1, or {.code Inf}; you gave {value_label(max_trials)}.",
                   call = NULL)
  }
  start <- check_date(start, "start", "sequential_trials")
  end <- check_date(end, "end", "sequential_trials")
  if (!is.null(start) && !is.null(end) && start > end) {
    cli::cli_abort("{.arg start} ({format(start)}) of {.fn sequential_trials} is after {.arg end} ({format(end)}).",
                   call = NULL)
  }
  structure(list(treatment = treatment, interval = interval, washout = washout, max_trials = max_trials,
                 start = start, end = end),
            class = c("causallib_sequential_trials", "causallib_strategy"))
}

# NULL or one date (a Date or "YYYY-MM-DD"), naming the argument.
check_date <- function(x, arg, where) {
  if (is.null(x)) return(NULL)
  d <- tryCatch(as.Date(x), error = function(e) NA)
  if (length(x) != 1L || length(d) != 1L || is.na(d)) {
    cli::cli_abort("{.arg {arg}} of {.fn {where}} must be {.code NULL} or one date; you gave {value_label(x)}.",
                   call = NULL)
  }
  d
}

#' @export
strategy_arms.causallib_sequential_trials <- function(strategy) c("non_user", names(strategy$treatment))

#' @export
strategy_protocol.causallib_sequential_trials <- function(strategy, codes_of) {
  s <- strategy
  when <- paste0(if (is.null(s$start)) "the first observed day" else format(s$start), " + (k - 1) * ", s$interval,
                 " days, up to ", if (is.null(s$end)) "the last observed day" else format(s$end),
                 if (is.finite(s$max_trials)) paste0(" (at most ", s$max_trials, " trials)"))
  c(paste0("initiate ", codes_of(names(s$treatment)), " vs do not initiate (non_user)"),
    paste0("sequential trials, non-user comparator: ", names(s$treatment), " if initiated within ", s$interval,
           " days of the trial's start, else non_user; no ", names(s$treatment), " in the ", s$washout,
           " observed days before"),
    paste0("the start of trial k: ", when))
}

# The days on which the trials start: from `start` (default: the first
# observed day) every `interval` days, to `end` (default: the last).
trial_days <- function(strategy, run) {
  span <- NULL
  if (is.null(strategy$start) || is.null(strategy$end)) {
    obs <- src_tbl(run$src, "observation_period")
    span <- dplyr::collect(dplyr::summarise(obs, first = min(.data$start, na.rm = TRUE),
                                            last = max(.data$end, na.rm = TRUE)))
  }
  first <- if (is.null(strategy$start)) as_day(span$first) else as.double(strategy$start)
  last <- if (is.null(strategy$end)) as_day(span$last) else as.double(strategy$end)
  if (anyNA(c(first, last)) || first > last) return(integer())
  k <- min(floor((last - first) / strategy$interval) + 1, strategy$max_trials)
  as.integer(first + (seq_len(k) - 1) * strategy$interval)
}

#' @export
cohort_entry.causallib_sequential_trials <- function(strategy, run) {
  run$key <- c("person_id", "trial")
  ids <- unlist(strategy$treatment, use.names = FALSE)
  washout <- as.integer(strategy$washout)
  interval <- as.integer(strategy$interval)
  tx <- treatment_exposures(run, list(ids), first_arm = 2L)
  if (as_count(dplyr::collect(dplyr::summarise(tx, n = dplyr::n()))$n) == 0L) {
    group <- names(strategy$treatment)
    cli::cli_abort(c("{.arg treatment} of {.fn sequential_trials}: no {.val drug_exposure} record has {cli::qty(length(ids))}the concept id{?s} of {.val {group}} ({.val {ids}}).",
                     i = "Check the codes, or the mapping of {.val drug_concept_id} in {.fn cohort_source}."),
                   call = NULL)
  }
  days <- trial_days(strategy, run)
  trials <- data.frame(trial = seq_along(days), t0 = days)
  name <- paste0("causallib_", Sys.getpid(), "_", length(run$temporary) + 1L)
  run$temporary <- c(run$temporary, name)
  trials <- dplyr::copy_to(run$con, trials, name = name, temporary = TRUE)

  record_step(run, "persons", src_tbl(run$src, "person"), by_arm = FALSE)
  obs <- dplyr::rename(src_tbl(run$src, "observation_period"), obs_start = "start", obs_end = "end")
  # Every observation period with every trial (a join on a constant: the
  # portable cross join), kept where the trial starts within the period.
  cand <- dplyr::inner_join(dplyr::mutate(obs, one = 1L), dplyr::mutate(trials, one = 1L), by = "one")
  cand <- dplyr::filter(cand, .data$obs_start <= .data$t0, .data$t0 <= .data$obs_end)
  cand <- dplyr::select(cand, "person_id", "trial", "t0", "obs_start", "obs_end")
  cand <- keep_table(run, cand, indexes = key_indexes(run))
  record_step(run, paste0("observed at the start of a trial (", length(days), " trials every ", interval, " days)"),
              cand, by_arm = FALSE, expands = TRUE)

  used <- dplyr::inner_join(dplyr::select(cand, "person_id", "trial", "t0"), tx, by = "person_id")
  used <- dplyr::filter(used, .data$start < .data$t0, .data$end >= .data$t0 - !!washout)
  cand <- dplyr::filter(cand, .data$t0 - .data$obs_start >= !!washout)
  cand <- dplyr::anti_join(cand, dplyr::distinct(used, .data$person_id, .data$trial), by = run$key)
  cand <- keep_table(run, cand, indexes = key_indexes(run))
  record_step(run, paste0("no ", names(strategy$treatment), " in the ", washout, " observed days before"),
              cand, by_arm = FALSE)

  init <- dplyr::inner_join(dplyr::select(cand, "person_id", "trial", "t0", "obs_end"), tx, by = "person_id")
  init <- dplyr::filter(init, .data$start >= .data$t0, .data$start <= .data$t0 + !!(interval - 1L),
                        .data$start <= .data$obs_end)
  init <- dplyr::summarise(dplyr::group_by(init, .data$person_id, .data$trial),
                           init_day = min(.data$start, na.rm = TRUE), .groups = "drop")
  entry <- dplyr::left_join(cand, init, by = run$key)
  entry <- dplyr::transmute(entry, .data$person_id, .data$trial, .data$t0,
                            arm = ifelse(is.na(.data$init_day), 1L, 2L), .data$obs_start, .data$obs_end)
  entry <- keep_table(run, entry, indexes = key_indexes(run))
  record_step(run, paste0("arm: ", names(strategy$treatment), " if initiated within ", interval,
                          " days, else non_user"), entry)
  list(entry = entry, exposures = tx)
}
