# build_cohort(): the specification as dbplyr queries that run inside the
# database. Each stage is one query with at most one join of the cohort to
# a table of records, aggregated with conditional expressions (one column
# per code group), and is computed into a temporary table, so no query
# nests more than a few joins (SQLite's parser overflows on deep nests).
# Only the final one-row-per-person table is collected into R, where the
# follow-up time is the earliest of a few day columns.

#' Build an analysis cohort from a target-trial specification
#'
#' Runs the protocol of [cohort_spec()] on the records of a
#' [cohort_source()] -- inside the database: data frames are first copied
#' into an in-process SQLite database -- and returns one row per person,
#' ready for [ipw()], [survival_ipw()] and [survival_standardization()].
#'
#' With [new_users()], time zero is each person's first new-use start of a
#' treatment drug; persons who then fail an eligibility criterion are
#' excluded (one trial per person). With [sequential_trials()], time zero
#' is the first day of each trial, and the cohort has one row per person
#' and trial for which the person is eligible (column `trial`); the
#' eligibility criteria, baseline covariates and follow-up are those of
#' each trial's time zero. Dates are compared as day numbers, so
#' a window `c(-365, 0)` holds the 366 days up to and including time zero.
#' Follow-up `time` is the number of days from time zero to the day
#' follow-up ends (see [follow_up()]): `event` is 1 when it ends with the
#' outcome, 2 with death (a competing event) and 0 when censored;
#' `end_reason` says why it ended. For the estimators:
#' `Surv(time, event, type = "mstate")` gives cumulative incidences with
#' death as a competing risk; `Surv(time, event == 1)` censors at death
#' (cause-specific); under a per-protocol analysis, model the artificial
#' censoring (`end_reason` `"discontinuation"` or `"switching"`) with a
#' censoring model or weights.
#'
#' @param spec A [cohort_spec()].
#' @param source A [cohort_source()], or what `cohort_source()` takes (a
#'   named list of data frames or a DBI connection with OMOP-named tables).
#' @return A `causallib_cohort` data frame sorted by `person_id` (and
#'   `trial`), with columns `person_id`, `trial` (sequential trials only),
#'   `time_zero` (a `Date`), `treatment` (a factor whose levels are the
#'   arms in the order of [new_users()], or `"non_user"` and the drug for
#'   [sequential_trials()]), the baseline
#'   covariates, `time` (days, at least 0), `event` (0, 1 or 2) and
#'   `end_reason` (a factor: `outcome`, `death`, `end_of_observation`,
#'   `discontinuation`, `switching`, `administrative`, `max_follow_up`);
#'   the specification and the attrition table ([attrition()]) are its
#'   attributes `spec` and `attrition`.
#' @family cohort building
#' @export
#' @examples
#' d <- as.Date("2020-01-01")
#' records <- list(
#'   person = data.frame(person_id = 1:4, gender_concept_id = c(8507L, 8532L, 8532L, 8507L),
#'                       year_of_birth = c(1950L, 1960L, 1970L, 2010L)),
#'   observation_period = data.frame(person_id = 1:4, observation_period_start_date = d - 1000,
#'                                   observation_period_end_date = d + 1000),
#'   drug_exposure = data.frame(person_id = 1:4, drug_concept_id = c(1L, 2L, 1L, 2L),
#'                              drug_exposure_start_date = d + c(0, 10, 20, 30),
#'                              drug_exposure_end_date = d + c(89, 99, 49, 119)),
#'   condition_occurrence = data.frame(person_id = c(1L, 2L), condition_concept_id = c(10L, 20L),
#'                                     condition_start_date = d + c(-100, 60)),
#'   procedure_occurrence = data.frame(person_id = integer(), procedure_concept_id = integer(),
#'                                     procedure_date = as.Date(character())),
#'   measurement = data.frame(person_id = 1:2, measurement_concept_id = 30L,
#'                            measurement_date = d - 5, value_as_number = c(6.5, 7.1)),
#'   death = data.frame(person_id = 3L, death_date = d + 40)
#' )
#' spec <- cohort_spec(
#'   treatment = new_users(codes(drug_a = 1L, drug_b = 2L), washout = 365),
#'   eligibility = eligibility(age = c(18, Inf), prior_observation = 365),
#'   baseline = baseline(any = list(diabetes = c(-365, 0)), last_value = list(hba1c = c(-90, 0))),
#'   outcome = outcome(codes(mi = 20L)),
#'   follow_up = follow_up(max = 365, grace = 30),
#'   codes = codes(diabetes = 10L, hba1c = 30L)
#' )
#' cohort <- build_cohort(spec, records)
#' cohort
#' attrition(cohort)
build_cohort <- function(spec, source) {
  if (!inherits(spec, "causallib_cohort_spec")) {
    cli::cli_abort("{.arg spec} must come from {.fn cohort_spec}, not {.obj_type_friendly {spec}}.")
  }
  src <- cohort_source(source)
  if (src$owned && !inherits(source, "causallib_cohort_source")) on.exit(DBI::dbDisconnect(src$con), add = TRUE)
  run <- new_cohort_run(src)
  on.exit(drop_temporary(run), add = TRUE)

  entry <- cohort_entry(spec$treatment, run)
  cohort0 <- apply_eligibility(spec, entry, run)
  final <- cohort_columns(spec, cohort0, entry$exposures, run)
  rows <- dplyr::collect(final)
  out <- finish_cohort(spec, rows)
  attr(out, "attrition") <- attrition_table(run, strategy_arms(spec$treatment))
  if (nrow(out) != utils::tail(attr(out, "attrition")$n, 1L)) {
    cli::cli_abort("internal error: the cohort has {nrow(out)} rows but the attrition table ends at {utils::tail(attr(out, 'attrition')$n, 1L)}.")
  }
  if (nrow(out) == 0L) cli::cli_warn("The cohort is empty: see {.code attrition()} for where persons were excluded.")
  out
}

# ---- the run: temporary tables and the attrition steps -----------------------

new_cohort_run <- function(src) {
  run <- new.env(parent = emptyenv())
  run$src <- src
  run$con <- src$con
  run$temporary <- character()
  run$steps <- list()
  # The columns that identify a row of the cohort: person_id, and the
  # trial for sequential trials (set by cohort_entry()).
  run$key <- "person_id"
  run
}

# Computes a query into a temporary table (indexed on person_id) and
# returns the lazy table over it.
keep_table <- function(run, x, indexes = list("person_id")) {
  name <- paste0("causallib_", Sys.getpid(), "_", length(run$temporary) + 1L)
  run$temporary <- c(run$temporary, name)
  dplyr::compute(x, name = name, temporary = TRUE, indexes = indexes)
}

# Indexes of a table keyed by run$key: person_id (for the joins with the
# records) and the key itself.
key_indexes <- function(run) unique(list("person_id", run$key))

group_by_key <- function(x, key) dplyr::group_by(x, !!!rlang::syms(key))

drop_temporary <- function(run) {
  if (!DBI::dbIsValid(run$con)) return(invisible())
  for (name in run$temporary) {
    try(DBI::dbExecute(run$con, paste("DROP TABLE IF EXISTS", DBI::dbQuoteIdentifier(run$con, name))), silent = TRUE)
  }
  invisible()
}

# Records the rows (persons, or person-trials) remaining after a
# criterion: in total, and by arm once the arm is known (`by_arm`); for
# person-trials also the distinct persons. `expands`: the step makes more
# rows than the one before (persons into person-trials), excluding none.
record_step <- function(run, criterion, x, by_arm = TRUE, expands = FALSE) {
  trials <- "trial" %in% colnames(x)
  counts <- if (by_arm) {
    dplyr::collect(dplyr::summarise(dplyr::group_by(x, .data$arm), n = dplyr::n()))
  } else if (trials) {
    dplyr::collect(dplyr::summarise(x, n = dplyr::n(), persons = dplyr::n_distinct(.data$person_id)))
  } else {
    dplyr::collect(dplyr::summarise(x, n = dplyr::n()))
  }
  counts$n <- as_count(counts$n)
  persons <- if (!trials) sum(counts$n) else if (by_arm) {
    as_count(dplyr::collect(dplyr::summarise(x, n = dplyr::n_distinct(.data$person_id)))$n)
  } else {
    as_count(counts$persons)
  }
  run$steps[[length(run$steps) + 1L]] <- list(criterion = criterion, counts = counts[c(if (by_arm) "arm", "n")],
                                              by_arm = by_arm, persons = persons, expands = expands)
  invisible(x)
}

as_count <- function(x) as.integer(round(as.double(x)))

# ---- time zero --------------------------------------------------------------

# The entry into the trial: a lazy table with the key columns (run$key:
# person_id, and trial for sequential trials), t0, arm (1..K, the levels
# of strategy_arms()), obs_start, obs_end; `exposures` are the treatment
# drugs' records (person_id, arm, start, end). One method per strategy.
cohort_entry <- function(strategy, run) UseMethod("cohort_entry")

# The levels of the treatment factor, the reference first.
strategy_arms <- function(strategy) UseMethod("strategy_arms")

#' @export
strategy_arms.causallib_new_users <- function(strategy) names(strategy$treatment)

# The protocol table's rows "Treatment strategies", "Assignment" and
# "Time zero"; `codes_of(group)` formats a code group with its ids.
strategy_protocol <- function(strategy, codes_of) UseMethod("strategy_protocol")

#' @export
strategy_protocol.causallib_new_users <- function(strategy, codes_of) {
  arms <- names(strategy$treatment)
  c(paste(paste("initiate", vapply(arms, codes_of, character(1))), collapse = " vs "),
    "active comparator, new users: the arm is the drug initiated (both on the same day: excluded)",
    paste0("first start of a listed drug with none in the ", strategy$washout, " observed days before"))
}

# The exposures of the treatment drugs as (person_id, arm, start, end):
# `groups` is a list of code vectors, group k is arm first_arm + k - 1; a
# missing end date is the start + days_supply - 1 (or the start).
treatment_exposures <- function(run, groups, first_arm = 1L) {
  ids <- unlist(groups, use.names = FALSE)
  arm_expr <- rlang::expr(dplyr::case_when(!!!lapply(seq_along(groups), function(k) {
    rlang::expr(.data$concept_id %in% !!groups[[k]] ~ !!as.integer(first_arm + k - 1L))
  })))
  tx <- src_tbl(run$src, "drug_exposure")
  tx <- dplyr::filter(tx, .data$concept_id %in% !!ids, !is.na(.data$start))
  tx <- dplyr::mutate(tx, arm = !!arm_expr,
                      end = dplyr::coalesce(.data$end, .data$start + .data$days_supply - 1L, .data$start))
  tx <- dplyr::transmute(tx, .data$person_id, .data$arm, .data$start,
                         end = ifelse(.data$end < .data$start, .data$start, .data$end))
  keep_table(run, tx)
}

#' @export
cohort_entry.causallib_new_users <- function(strategy, run) {
  arms <- strategy$treatment
  washout <- as.integer(strategy$washout)
  tx <- treatment_exposures(run, unclass(arms))

  record_step(run, "persons", src_tbl(run$src, "person"), by_arm = FALSE)
  record_step(run, paste("with a record of", paste(names(arms), collapse = " or ")),
              dplyr::distinct(tx, .data$person_id), by_arm = FALSE)

  days <- dplyr::summarise(dplyr::group_by(tx, .data$person_id, .data$start),
                           end = max(.data$end, na.rm = TRUE), arm = min(.data$arm, na.rm = TRUE),
                           n_arms = dplyr::n_distinct(.data$arm), .groups = "drop")
  days <- dbplyr::window_order(dplyr::group_by(days, .data$person_id), !!rlang::sym("start"))
  days <- dbplyr::window_frame(days, -Inf, -1)
  days <- dbplyr::window_order(dplyr::ungroup(dplyr::mutate(days, prev_end = max(.data$end, na.rm = TRUE))))
  obs <- dplyr::rename(src_tbl(run$src, "observation_period"), obs_start = "start", obs_end = "end")
  cand <- dplyr::inner_join(days, obs, by = "person_id")
  cand <- dplyr::filter(cand, .data$obs_start <= .data$start, .data$start <= .data$obs_end,
                        is.na(.data$prev_end) | .data$prev_end < .data$start - !!washout,
                        .data$start - .data$obs_start >= !!washout)
  cand <- keep_table(run, cand)
  first <- dplyr::summarise(dplyr::group_by(cand, .data$person_id), t0 = min(.data$start, na.rm = TRUE))
  entry <- dplyr::inner_join(cand, first, by = c("person_id", start = "t0"))
  entry <- dplyr::summarise(dplyr::group_by(entry, .data$person_id, t0 = .data$start, .data$arm, .data$n_arms),
                            obs_start = min(.data$obs_start, na.rm = TRUE),
                            obs_end = max(.data$obs_end, na.rm = TRUE), .groups = "drop")
  entry <- keep_table(run, entry)
  record_step(run, paste0("new-use start (no treatment drug in the ", washout, " observed days before)"),
              entry, by_arm = FALSE)
  entry <- dplyr::filter(entry, .data$n_arms == 1L)
  record_step(run, "one arm started at time zero", entry)
  list(entry = entry, exposures = tx)
}

# ---- eligibility -------------------------------------------------------------

apply_eligibility <- function(spec, entry, run) {
  el <- spec$eligibility
  pers <- dplyr::select(src_tbl(run$src, "person"), "person_id", "gender", "yob", "mob", "dob")
  key <- run$key
  cur <- keep_table(run, dplyr::inner_join(dplyr::select(entry$entry, dplyr::all_of(key), "t0", "arm", "obs_start", "obs_end"),
                                     pers, by = "person_id"), indexes = key_indexes(run))
  age <- el$age
  age_sql <- paste0("t0 >= ", civil_day_sql(paste0("yob + ", as.integer(age[1L]))))
  if (is.finite(age[2L])) {
    age_sql <- paste0(age_sql, " AND t0 < ", civil_day_sql(paste0("yob + ", as.integer(age[2L]) + 1L)))
  }
  cur <- dplyr::filter(cur, dbplyr::sql(age_sql))
  record_step(run, if (is.finite(age[2L])) paste0("aged ", age[1L], " to ", age[2L], " at time zero")
                   else paste0("aged ", age[1L], " or older at time zero"), cur)
  prior <- as.integer(el$prior_observation)
  cur <- dplyr::filter(cur, .data$t0 - .data$obs_start >= !!prior)
  record_step(run, paste(prior, "days of observation before time zero"), cur)

  if (length(el$exclude)) {
    groups <- names(el$exclude)
    flags <- conditional_flags(spec$codes[groups], el$exclude, paste0("ex_", seq_along(groups)), "any")
    hits <- dplyr::inner_join(dplyr::select(cur, dplyr::all_of(key), "t0"), cohort_events(spec, run), by = "person_id")
    hits <- dplyr::filter(hits, !!window_condition(NULL, window_span(el$exclude)))
    hits <- keep_table(run, dplyr::summarise(group_by_key(hits, key), !!!flags))
    cur <- dplyr::left_join(cur, hits, by = key)
    for (i in seq_along(groups)) {
      col <- paste0("ex_", i)
      cur <- dplyr::filter(cur, dplyr::coalesce(.data[[col]], 0L) == 0L)
      record_step(run, paste0("no ", groups[i], " in days ", window_label(el$exclude[[groups[i]]])), cur)
    }
  }
  death <- dplyr::summarise(dplyr::group_by(src_tbl(run$src, "death"), .data$person_id),
                            death_day = min(.data$start, na.rm = TRUE))
  cur <- dplyr::left_join(cur, death, by = "person_id")
  cur <- dplyr::filter(cur, is.na(.data$death_day) | .data$death_day >= .data$t0)
  record_step(run, "alive at time zero", cur)
  fu <- spec$follow_up
  if ("administrative" %in% fu$censor && !is.null(fu$admin_end)) {
    admin <- as.integer(fu$admin_end)
    cur <- dplyr::filter(cur, .data$t0 <= !!admin)
    record_step(run, paste("time zero by the administrative end", format(fu$admin_end)), cur)
  }
  keep_table(run, dplyr::select(cur, dplyr::all_of(key), "t0", "arm", "obs_end", "gender", "yob", "mob", "dob", "death_day"),
             indexes = key_indexes(run))
}

# Day number of the civil date (year, month, day) in SQL integer
# arithmetic (days from civil, for years >= 0, where integer division
# truncates as it floors): the same in SQLite and PostgreSQL. A missing
# month or day counts as 1; 29 February of a common year is 1 March.
civil_day_sql <- function(year, month = "COALESCE(mob, 1)", day = "COALESCE(dob, 1)") {
  y <- paste0("((", year, ") - CASE WHEN ", month, " <= 2 THEN 1 ELSE 0 END)")
  era <- paste0("(", y, " / 400)")
  yoe <- paste0("(", y, " - ", era, " * 400)")
  doy <- paste0("((153 * ((", month, " + 9) % 12) + 2) / 5 + ", day, " - 1)")
  doe <- paste0("(", yoe, " * 365 + ", yoe, " / 4 - ", yoe, " / 100 + ", doy, ")")
  paste0("(", era, " * 146097 + ", doe, " - 719468)")
}

# ---- covariates, outcome, follow-up -----------------------------------------

# The records of every code group the specification uses (except the
# treatment drugs' exposures), from all event tables, computed once.
cohort_events <- function(spec, run) {
  if (!is.null(run$events)) return(run$events)
  ids <- unique(unlist(spec$codes, use.names = FALSE))
  parts <- lapply(event_tables, function(t) {
    x <- dplyr::filter(src_tbl(run$src, t), .data$concept_id %in% !!ids, !is.na(.data$start))
    dplyr::select(x, "person_id", "concept_id", day = "start")
  })
  run$events <- keep_table(run, Reduce(dplyr::union_all, parts))
  run$events
}

# Records of the code list `ids` (NULL: any code) within window w of time zero.
window_condition <- function(ids, w) {
  parts <- list()
  if (!is.null(ids)) parts[[length(parts) + 1L]] <- rlang::expr(.data$concept_id %in% !!as.integer(ids))
  if (is.finite(w[1L])) parts[[length(parts) + 1L]] <- rlang::expr(.data$day - .data$t0 >= !!as.integer(w[1L]))
  if (is.finite(w[2L])) parts[[length(parts) + 1L]] <- rlang::expr(.data$day - .data$t0 <= !!as.integer(w[2L]))
  if (!length(parts)) return(TRUE)
  Reduce(function(a, b) rlang::expr(!!a & !!b), parts)
}

# The smallest window holding all of `windows`: records outside it are
# filtered out before the conditional aggregates look at them.
window_span <- function(windows) {
  c(min(vapply(windows, `[`, double(1), 1L)), max(vapply(windows, `[`, double(1), 2L)))
}

# One aggregate per code group: "any" (max of 0/1), "count" (sum of 0/1) or
# "last_day" (the latest day in the window), named `names`.
conditional_flags <- function(groups, windows, names, kind) {
  if (!length(groups)) return(list())
  out <- lapply(seq_along(groups), function(i) {
    cond <- window_condition(groups[[i]], windows[[i]])
    switch(kind,
      any = rlang::expr(max(ifelse(!!cond, 1L, 0L), na.rm = TRUE)),
      count = rlang::expr(sum(ifelse(!!cond, 1L, 0L), na.rm = TRUE)),
      last_day = rlang::expr(max(ifelse(!!cond, .data$day, NA_integer_), na.rm = TRUE)))
  })
  stats::setNames(out, names)
}

cohort_columns <- function(spec, cohort0, exposures, run) {
  bl <- spec$baseline
  key <- run$key
  base <- dplyr::select(cohort0, dplyr::all_of(key), "t0")
  pieces <- list()
  ev_groups <- c(names(bl$any), names(bl$count))
  if (length(ev_groups)) {
    flags <- c(conditional_flags(spec$codes[names(bl$any)], bl$any, paste0("cv_any_", seq_along(bl$any)), "any"),
               conditional_flags(spec$codes[names(bl$count)], bl$count, paste0("cv_count_", seq_along(bl$count)), "count"))
    hits <- dplyr::inner_join(base, cohort_events(spec, run), by = "person_id")
    hits <- dplyr::filter(hits, !!window_condition(NULL, window_span(c(bl$any, bl$count))))
    pieces$events <- keep_table(run, dplyr::summarise(group_by_key(hits, key), !!!flags))
  }
  if (length(bl$last_value)) pieces$values <- last_values(spec, base, run)

  oc <- spec$outcome
  hits <- dplyr::inner_join(base, cohort_events(spec, run), by = "person_id")
  hits <- dplyr::filter(hits, !!window_condition(unlist(oc$codes, use.names = FALSE), oc$window))
  pieces$outcome <- keep_table(run, dplyr::summarise(group_by_key(hits, key), outcome_day = min(.data$day, na.rm = TRUE)))
  per_protocol <- spec$analysis == "per_protocol"
  if (per_protocol && "discontinuation" %in% spec$follow_up$censor) {
    pieces$discontinuation <- treatment_runs(exposures, cohort0, spec$follow_up$grace, run)
  }
  if (per_protocol && "switching" %in% spec$follow_up$censor) {
    sw <- dplyr::inner_join(exposures, dplyr::select(cohort0, dplyr::all_of(key), "t0", arm0 = "arm"), by = "person_id")
    sw <- dplyr::filter(sw, .data$arm != .data$arm0, .data$start > .data$t0)
    pieces$switching <- keep_table(run, dplyr::summarise(group_by_key(sw, key), switch_day = min(.data$start, na.rm = TRUE)))
  }
  out <- cohort0
  for (p in pieces) out <- dplyr::left_join(out, p, by = key)
  out
}

# The last value of each measurement group in its window: the latest day
# with a value, then the mean of that day's values.
last_values <- function(spec, base, run) {
  lv <- spec$baseline$last_value
  ids <- unique(unlist(spec$codes[names(lv)], use.names = FALSE))
  ms <- dplyr::filter(src_tbl(run$src, "measurement"), .data$concept_id %in% !!ids, !is.na(.data$value),
                      !is.na(.data$start))
  ms <- dplyr::select(ms, "person_id", "concept_id", day = "start", "value")
  key <- run$key
  hits <- keep_table(run, dplyr::inner_join(base, ms, by = "person_id"), indexes = key_indexes(run))
  day_cols <- paste0("lv_day_", seq_along(lv))
  last <- keep_table(run, dplyr::summarise(group_by_key(hits, key),
                                     !!!conditional_flags(spec$codes[names(lv)], lv, day_cols, "last_day")),
                     indexes = key_indexes(run))
  vals <- lapply(seq_along(lv), function(i) {
    ids_i <- as.integer(spec$codes[[names(lv)[i]]])
    rlang::expr(mean(ifelse(.data$concept_id %in% !!ids_i & .data$day == .data[[!!day_cols[i]]], .data$value, NA),
                     na.rm = TRUE))
  })
  joined <- dplyr::inner_join(hits, last, by = key)
  keep_table(run, dplyr::summarise(group_by_key(joined, key),
                             !!!stats::setNames(vals, paste0("cv_last_", seq_along(lv)))))
}

# The end of each person's first continuous run of their arm's drug from
# time zero: exposures sorted by start; a new run starts where the days
# without supply since the latest end so far exceed the grace period.
treatment_runs <- function(exposures, cohort0, grace, run) {
  key <- run$key
  own <- dplyr::inner_join(exposures, dplyr::select(cohort0, dplyr::all_of(key), "t0", "arm"), by = c("person_id", "arm"))
  own <- dplyr::filter(own, .data$start >= .data$t0)
  own <- dbplyr::window_order(group_by_key(own, key),
                              !!rlang::sym("start"), !!rlang::sym("end"))
  own <- dbplyr::window_frame(own, -Inf, -1)
  own <- dplyr::mutate(own, prev_end = max(.data$end, na.rm = TRUE))
  own <- dplyr::mutate(own, gap = ifelse(is.na(.data$prev_end), 0L,
                                         ifelse(.data$start - .data$prev_end - 1L > !!as.integer(grace), 1L, 0L)))
  own <- dbplyr::window_frame(own, -Inf, 0)
  own <- dplyr::mutate(own, runs = sum(.data$gap, na.rm = TRUE))
  own <- dplyr::filter(dbplyr::window_order(dplyr::ungroup(own)), .data$runs == 0L)
  keep_table(run, dplyr::summarise(group_by_key(own, key),
                                   run_end = max(.data$end, na.rm = TRUE)))
}

# ---- the collected cohort ----------------------------------------------------

as_id <- function(x) {
  if (inherits(x, "integer64")) x <- as.double(x)
  if (is.double(x) && all(abs(x) <= .Machine$integer.max, na.rm = TRUE)) x <- as.integer(x)
  x
}

as_day <- function(x) {
  if (is.null(x)) return(NULL)
  as.double(x)
}

end_reasons <- c("outcome", "death", "end_of_observation", "discontinuation", "switching", "administrative",
                 "max_follow_up")

finish_cohort <- function(spec, rows) {
  rows <- as.data.frame(rows)
  trials <- !is.null(rows$trial)
  trial <- if (trials) as.integer(rows$trial) else integer(nrow(rows))
  rows <- rows[order(as.double(rows$person_id), trial), , drop = FALSE]
  n <- nrow(rows)
  t0 <- as_day(rows$t0)
  fu <- spec$follow_up
  pp <- spec$analysis == "per_protocol"
  cap <- min(fu$max, spec$outcome$window[2L])
  ends <- list(
    outcome = as_day(rows$outcome_day),
    death = as_day(rows$death_day),
    end_of_observation = if ("end_of_observation" %in% fu$censor) as_day(rows$obs_end),
    discontinuation = if (pp && "discontinuation" %in% fu$censor) as_day(rows$run_end) + fu$grace,
    switching = if (pp && "switching" %in% fu$censor) as_day(rows$switch_day),
    administrative = if ("administrative" %in% fu$censor && !is.null(fu$admin_end)) rep(as.double(fu$admin_end), n),
    max_follow_up = if (is.finite(cap)) t0 + cap
  )
  end_day <- rep(Inf, n)
  for (e in ends) if (!is.null(e)) end_day <- pmin(end_day, e, na.rm = TRUE)
  reason <- rep(NA_character_, n)
  for (r in names(ends)) {
    e <- ends[[r]]
    if (is.null(e)) next
    hit <- is.na(reason) & !is.na(e) & e == end_day
    reason[hit] <- r
  }
  if (any(is.na(reason))) {
    cli::cli_abort("internal error: {sum(is.na(reason))} person{?s} without an end of follow-up.")
  }
  arms <- strategy_arms(spec$treatment)
  out <- data.frame(person_id = as_id(rows$person_id))
  if (trials) out$trial <- as.integer(rows$trial)
  out$time_zero <- as.Date(t0, origin = "1970-01-01")
  out$treatment <- factor(arms[as.integer(rows$arm)], levels = arms)
  bl <- spec$baseline
  rows_of <- function(k) paste0(k, if (trials) " person-trial" else " person", if (k != 1) "s")
  if ("age" %in% bl$demographics) out$age <- age_in_years(t0, rows$yob, rows$mob, rows$dob)
  if ("sex" %in% bl$demographics) {
    g <- as.integer(rows$gender)
    out$sex <- factor(ifelse(g %in% 8532L, "female", ifelse(g %in% 8507L, "male", NA)), levels = c("female", "male"))
    if (anyNA(out$sex)) {
      cli::cli_inform("{.code sex}: {rows_of(sum(is.na(out$sex)))} with a {.code gender_concept_id} other than 8532 (female) or 8507 (male): {.code NA}.")
    }
  }
  for (i in seq_along(bl$any)) out[[names(bl$any)[i]]] <- zero_fill(rows[[paste0("cv_any_", i)]], n)
  for (i in seq_along(bl$count)) out[[paste0(names(bl$count)[i], "_count")]] <- zero_fill(rows[[paste0("cv_count_", i)]], n)
  for (i in seq_along(bl$last_value)) {
    g <- names(bl$last_value)[i]
    v <- rows[[paste0("cv_last_", i)]]
    v <- if (is.null(v)) rep(NA_real_, n) else as.double(v)
    if (anyNA(v)) {
      cli::cli_inform("{.code {g}}: no value in days {window_label(bl$last_value[[g]])} for {sum(is.na(v))} of {rows_of(n)}: {.code NA}.")
    }
    out[[g]] <- v
  }
  out$time <- end_day - t0
  out$event <- ifelse(reason == "outcome", 1L, ifelse(reason == "death", 2L, 0L))
  out$end_reason <- factor(reason, levels = end_reasons)
  rownames(out) <- NULL
  attr(out, "spec") <- spec
  class(out) <- c("causallib_cohort", "data.frame")
  out
}

zero_fill <- function(x, n) {
  if (is.null(x)) return(integer(n))
  x <- as.integer(round(as.double(x)))
  x[is.na(x)] <- 0L
  x
}

# Age in completed years on day t0 (day numbers) of persons born on the
# given year, month and day (missing month or day: 1); a 29 February
# birthday falls on 1 March in common years, as in civil_day_sql().
age_in_years <- function(t0, yob, mob, dob) {
  yob <- as.integer(yob)
  mob <- as.integer(mob %||% NA)
  dob <- as.integer(dob %||% NA)
  mob[is.na(mob)] <- 1L
  dob[is.na(dob)] <- 1L
  lt <- as.POSIXlt(as.Date(t0, origin = "1970-01-01"))
  y <- lt$year + 1900L
  m <- lt$mon + 1L
  d <- lt$mday
  before <- (m * 100L + d) < (mob * 100L + dob)
  as.integer(y - yob - before)
}

#' @export
print.causallib_cohort <- function(x, n = 6L, ...) {
  if (is.null(x$trial)) {
    cat(cli::style_bold("Target-trial cohort"), ": ", nrow(x), if (nrow(x) == 1L) " person" else " persons", "\n", sep = "")
  } else {
    n_persons <- length(unique(x$person_id))
    cat(cli::style_bold("Sequential-trials cohort"), ": ", nrow(x), " person-trial", if (nrow(x) != 1L) "s",
        " (", n_persons, if (n_persons == 1L) " person" else " persons", ", ", length(unique(x$trial)), " trial",
        if (length(unique(x$trial)) != 1L) "s", ")\n", sep = "")
  }
  if (!is.null(x$treatment)) {
    tab <- table(x$treatment)
    cat("  arms:     ", paste(paste0(names(tab), " ", tab), collapse = ", "), "\n", sep = "")
  }
  if (!is.null(x$event)) {
    cat("  events:   ", sum(x$event == 1L), " outcome, ", sum(x$event == 2L), " death (competing), ",
        sum(x$event == 0L), " censored\n", sep = "")
    cat("  follow-up: median ", format(stats::median(x$time)), " days (range ",
        paste(format(range(x$time)), collapse = "-"), ")\n", sep = "")
  }
  y <- x
  attr(y, "spec") <- NULL
  attr(y, "attrition") <- NULL
  class(y) <- "data.frame"
  print(utils::head(y, n), ...)
  if (nrow(x) > n) cat("# ... with ", nrow(x) - n, " more rows\n", sep = "")
  invisible(x)
}
