# The target-trial specification: small declarative components that
# cohort_spec() validates together and prints as a protocol table. They
# hold no data; build_cohort() turns them into database queries.
#
# Windows are c(from, to) in days relative to time zero, both ends
# included; -Inf / Inf leave an end open.

#' Named code lists
#'
#' A code list names groups of concept ids (OMOP `concept_id`s, or the codes
#' of a mapped table): drugs for the treatment strategies, conditions,
#' procedures, drugs or measurements for eligibility, covariates and the
#' outcome.
#'
#' @param ... Named integer vectors of concept ids, one per group. The names
#'   must be syntactic (they become column names of the cohort).
#' @return A `causallib_codes` object: a named list of integer vectors.
#' @family cohort building
#' @export
#' @examples
#' codes(metformin = 1503297L, sulfonylurea = c(1597756L, 1560171L))
codes <- function(...) {
  x <- list(...)
  check_code_lists(x, "codes()")
  structure(lapply(x, function(v) sort(unique(as.integer(v)))), class = "causallib_codes")
}

check_code_lists <- function(x, where) {
  if (length(x) == 0L) cli::cli_abort("{.code {where}} needs at least one named code list.", call = NULL)
  nm <- names(x)
  if (is.null(nm) || any(!nzchar(nm))) {
    cli::cli_abort("Every code list of {.code {where}} must be named, such as {.code metformin = 1503297L}.",
                   call = NULL)
  }
  bad <- nm[make.names(nm) != nm]
  if (length(bad)) {
    cli::cli_abort(c("The code list names of {.code {where}} must be syntactic names (they become column names).",
                     x = "Not syntactic: {.val {bad}}."), call = NULL)
  }
  dup <- unique(nm[duplicated(nm)])
  if (length(dup)) cli::cli_abort("{.code {where}} names {.val {dup}} more than once.", call = NULL)
  for (g in nm) {
    v <- x[[g]]
    if (!is.numeric(v) || length(v) == 0L) {
      cli::cli_abort("The code list {.val {g}} of {.code {where}} is empty or not numeric ({.obj_type_friendly {v}}).",
                     call = NULL)
    }
    if (anyNA(v) || any(v != round(v)) || any(abs(v) > .Machine$integer.max)) {
      cli::cli_abort("The code list {.val {g}} of {.code {where}} must hold whole-number concept ids without {.code NA}.",
                     call = NULL)
    }
  }
  invisible(x)
}

as_codes <- function(x, arg) {
  if (inherits(x, "causallib_codes")) return(x)
  if (is.list(x)) {
    check_code_lists(x, arg)
    return(do.call(codes, x))
  }
  cli::cli_abort("{.arg {arg}} must be a code list from {.fn codes}, not {.obj_type_friendly {x}}.", call = NULL)
}

#' @export
print.causallib_codes <- function(x, ...) {
  cat("<codes>\n")
  for (g in names(x)) cat("  ", g, ": ", paste(x[[g]], collapse = ", "), "\n", sep = "")
  invisible(x)
}

# A whole number (or Inf where allowed) of at least `min`, naming the component.
check_days <- function(x, arg, where, min = 0, infinite = FALSE) {
  ok <- is.numeric(x) && length(x) == 1L && !is.na(x) && x >= min &&
    (if (infinite) x == round(x) || is.infinite(x) else is.finite(x) && x == round(x))
  if (!ok) {
    cli::cli_abort("{.arg {arg}} of {.fn {where}} must be a whole number of days of at least {min}; you gave {value_label(x)}.",
                   call = NULL)
  }
  as.numeric(x)
}

# A window c(from, to) of days relative to time zero, from <= to.
check_window <- function(w, label, where) {
  shown <- if (is.numeric(w)) paste0("c(", paste(format(w, trim = TRUE), collapse = ", "), ")") else value_label(w)
  if (!is.numeric(w) || length(w) != 2L || anyNA(w) || any(is.finite(w) & w != round(w))) {
    cli::cli_abort("The window of {label} in {.fn {where}} must be two whole numbers of days {.code c(from, to)}; you gave {.code {shown}}.",
                   call = NULL)
  }
  if (w[1L] > w[2L]) {
    cli::cli_abort(c("The window of {label} in {.fn {where}} is inverted: {.code {shown}}.",
                     i = "Give {.code c(from, to)} with {.code from <= to} (days relative to time zero)."),
                   call = NULL)
  }
  if (w[1L] == Inf || w[2L] == -Inf) {
    cli::cli_abort("The window of {label} in {.fn {where}} is empty: {.code {shown}}.", call = NULL)
  }
  as.numeric(w)
}

check_windows <- function(x, arg, where) {
  if (is.null(x)) return(list())
  if (!is.list(x) || (length(x) && (is.null(names(x)) || any(!nzchar(names(x)))))) {
    cli::cli_abort("{.arg {arg}} of {.fn {where}} must be a named list of windows, such as {.code list(diabetes = c(-365, 0))}.",
                   call = NULL)
  }
  dup <- unique(names(x)[duplicated(names(x))])
  if (length(dup)) cli::cli_abort("{.arg {arg}} of {.fn {where}} names {.val {dup}} more than once.", call = NULL)
  stats::setNames(lapply(names(x), function(g) check_window(x[[g]], encodeString(g, quote = "\""), where)), names(x))
}

window_label <- function(w) {
  end <- function(v) if (is.infinite(v)) (if (v < 0) "-Inf" else "Inf") else format(v)
  paste0("[", end(w[1L]), ", ", end(w[2L]), "]")
}

#' Components of a target-trial specification
#'
#' These constructors describe the protocol of the emulated trial; pass
#' them to [cohort_spec()]. Windows are `c(from, to)` in days relative to
#' time zero (day 0), both ends included; `-Inf` and `Inf` leave an end
#' open.
#'
#' * `new_users()`: an active-comparator new-user design. A *new-use
#'   start* is a day on which a drug of one of the listed groups starts,
#'   no listed drug covers any day of the `washout` days before it, and
#'   those days are observed (the start lies in an observation period that
#'   began at least `washout` days earlier). Time zero is the first new-use
#'   start of each person (one trial per person); the arm is the group of
#'   the drug started. Persons who start drugs of two groups on that day
#'   are excluded. An exposure covers the days from its start to its end
#'   date (or start + `days_supply` - 1 when the end date is missing).
#' * `eligibility()`: age in completed years at time zero (a missing month
#'   or day of birth counts as January or the 1st), at least
#'   `prior_observation` days of continuous observation before time zero,
#'   and exclusions: persons with a record of a code group (by name, from
#'   [cohort_spec()]'s `codes`, the treatment or the outcome) in a window
#'   before time zero.
#' * `baseline()`: covariates. `any`: 1 if the person has a record of the
#'   group in the window, else 0 (column named as the group); `count`: the
#'   number of records (column `<group>_count`); `last_value`: the
#'   `value_as_number` of the group's measurement on the latest day in the
#'   window that has one (the mean if there are several that day; `NA`
#'   when there is none, reported in a message); `demographics`: `age`
#'   (completed years) and `sex` (a factor from `gender_concept_id` 8532
#'   female, 8507 male, other values `NA`).
#' * `outcome()`: the first record of any of the codes within the risk
#'   `window` after time zero. With `window = c(1, Inf)` (the default) an
#'   outcome on day 0 is not counted; `c(0, Inf)` counts it (follow-up time
#'   0). Follow-up ends at the end of the window at the latest.
#' * `follow_up()`: follow-up ends at the earliest of the outcome, death,
#'   and the reasons in `censor`: `"end_of_observation"` (the end of the
#'   observation period that contains time zero), `"discontinuation"` (the
#'   end of the first continuous run of the arm's drug, where a refill
#'   starting at most `grace` days after the previous supply ran out
#'   continues it, plus `grace` days), `"switching"` (the first start of
#'   another arm's drug), `"administrative"` (`admin_end`), and `max` days.
#'   Death is always a competing event (`event = 2`), so `"death"` must
#'   stay in `censor`; to censor at death instead, set `event` 2 to 0 in
#'   the cohort. On ties the outcome comes first, then death, then the
#'   censoring reasons in the order above. Under an intention-to-treat
#'   analysis (see [cohort_spec()]) discontinuation and switching do not
#'   end follow-up.
#'
#' @param treatment A [codes()] list with one group per arm (at least two),
#'   in the order the treatment factor's levels should have (the first is
#'   the reference).
#' @param washout Days before time zero without any listed drug (and
#'   observed).
#' @param age `c(min, max)` age in completed years at time zero.
#' @param prior_observation Days of continuous observation required before
#'   time zero.
#' @param exclude A named list of windows: exclude persons with a record of
#'   the named code group in the window (which must end by day 0).
#' @param any,count,last_value Named lists of look-back windows (ending by
#'   day 0), one per code group.
#' @param demographics Any of `"age"` and `"sex"`.
#' @param codes For `outcome()`, a [codes()] list; all its groups together
#'   define the outcome.
#' @param window For `outcome()`, the risk window `c(from, to)` with
#'   `from >= 0`.
#' @param max Maximum days of follow-up.
#' @param grace Grace period in days for discontinuation.
#' @param censor The reasons that end follow-up besides the outcome (see
#'   Details).
#' @param admin_end `NULL` or a date (a `Date` or `"YYYY-MM-DD"`): the
#'   administrative end of follow-up.
#' @return An object of class `causallib_new_users` (a treatment strategy),
#'   `causallib_eligibility`, `causallib_baseline`, `causallib_outcome` or
#'   `causallib_follow_up`.
#' @family cohort building
#' @name cohort-components
#' @examples
#' new_users(codes(metformin = 1503297L, sulfonylurea = 1597756L), washout = 365)
#' eligibility(age = c(40, 80), prior_observation = 365, exclude = list(cancer = c(-Inf, 0)))
#' baseline(any = list(diabetes = c(-365, 0)), last_value = list(hba1c = c(-180, 0)))
#' outcome(codes(mi = 4329847L), window = c(1, Inf))
#' follow_up(max = 730, grace = 30)
NULL

#' @rdname cohort-components
#' @export
new_users <- function(treatment, washout = 365) {
  treatment <- as_codes(treatment, "treatment")
  if (length(treatment) < 2L) {
    cli::cli_abort(c("{.arg treatment} of {.fn new_users} needs at least two code lists (an active comparator); you gave {length(treatment)}.",
                     i = "For a non-user comparator, use {.fn sequential_trials}."), call = NULL)
  }
  ids <- unlist(treatment, use.names = FALSE)
  shared <- unique(ids[duplicated(ids)])
  if (length(shared)) {
    cli::cli_abort("{.arg treatment} of {.fn new_users}: {cli::qty(length(shared))}concept id{?s} {.val {shared}} belong{?s/} to more than one arm.",
                   call = NULL)
  }
  washout <- check_days(washout, "washout", "new_users")
  structure(list(treatment = treatment, washout = washout),
            class = c("causallib_new_users", "causallib_strategy"))
}

#' @rdname cohort-components
#' @export
eligibility <- function(age = c(18, Inf), prior_observation = 365, exclude = list()) {
  if (!is.numeric(age) || length(age) != 2L || anyNA(age) || any(age < 0) ||
      any(is.finite(age) & age != round(age)) || is.infinite(age[1L])) {
    shown <- if (is.numeric(age)) paste(format(age, trim = TRUE), collapse = ", ") else value_label(age)
    cli::cli_abort("{.arg age} of {.fn eligibility} must be {.code c(min, max)} in whole years, {.code max} may be {.code Inf}; you gave {.code {shown}}.",
                   call = NULL)
  }
  if (age[1L] > age[2L]) {
    cli::cli_abort("{.arg age} of {.fn eligibility} is inverted: {.code c({age[1L]}, {age[2L]})}.", call = NULL)
  }
  prior_observation <- check_days(prior_observation, "prior_observation", "eligibility")
  exclude <- check_windows(exclude, "exclude", "eligibility")
  structure(list(age = as.numeric(age), prior_observation = prior_observation, exclude = exclude),
            class = "causallib_eligibility")
}

#' @rdname cohort-components
#' @export
baseline <- function(any = list(), count = list(), last_value = list(), demographics = c("age", "sex")) {
  demographics <- demographics %||% character()
  if (!is.character(demographics) || anyNA(demographics) || !all(demographics %in% c("age", "sex"))) {
    bad <- setdiff(as.character(demographics), c("age", "sex"))
    cli::cli_abort("{.arg demographics} of {.fn baseline} must be among {.val {c('age', 'sex')}}; not {.val {bad}}.",
                   call = NULL)
  }
  structure(list(any = check_windows(any, "any", "baseline"),
                 count = check_windows(count, "count", "baseline"),
                 last_value = check_windows(last_value, "last_value", "baseline"),
                 demographics = unique(demographics)),
            class = "causallib_baseline")
}

#' @rdname cohort-components
#' @export
outcome <- function(codes, window = c(1, Inf)) {
  codes <- as_codes(codes, "codes")
  window <- check_window(window, "the outcome", "outcome")
  if (window[1L] < 0) {
    cli::cli_abort(c("The outcome window {.code {window_label(window)}} of {.fn outcome} starts before time zero.",
                     i = "The risk window must start on day 0 or later."), call = NULL)
  }
  structure(list(codes = codes, window = window), class = "causallib_outcome")
}

censor_reasons <- c("death", "end_of_observation", "discontinuation", "switching", "administrative")

#' @rdname cohort-components
#' @export
follow_up <- function(max = 730, grace = 30, censor = c("death", "end_of_observation", "discontinuation", "switching", "administrative"),
                      admin_end = NULL) {
  max <- check_days(max, "max", "follow_up", min = 1, infinite = TRUE)
  grace <- check_days(grace, "grace", "follow_up")
  if (!is.character(censor) || anyNA(censor) || !all(censor %in% censor_reasons)) {
    bad <- setdiff(as.character(censor), censor_reasons)
    cli::cli_abort("{.arg censor} of {.fn follow_up} must be among {.val {censor_reasons}}; not {.val {bad}}.",
                   call = NULL)
  }
  if (!"death" %in% censor) {
    cli::cli_abort(c("{.arg censor} of {.fn follow_up} must include {.val death}: death always ends follow-up.",
                     i = "It is a competing event ({.code event = 2}); set {.code event} 2 to 0 to censor at death instead."),
                   call = NULL)
  }
  if (is.infinite(max) && !"end_of_observation" %in% censor && (is.null(admin_end) || !"administrative" %in% censor)) {
    cli::cli_abort(c("Follow-up in {.fn follow_up} has no end: {.code max = Inf} without the end of observation or an administrative end.",
                     i = "Give a finite {.arg max}, keep {.val end_of_observation} in {.arg censor}, or set {.arg admin_end}."),
                   call = NULL)
  }
  if (!is.null(admin_end)) {
    d <- tryCatch(as.Date(admin_end), error = function(e) NA)
    if (length(admin_end) != 1L || length(d) != 1L || is.na(d)) {
      cli::cli_abort("{.arg admin_end} of {.fn follow_up} must be {.code NULL} or one date; you gave {value_label(admin_end)}.",
                     call = NULL)
    }
    admin_end <- d
  }
  structure(list(max = max, grace = grace, censor = censor_reasons[censor_reasons %in% censor],
                 admin_end = admin_end),
            class = "causallib_follow_up")
}

#' Specify an emulated target trial
#'
#' Collects the protocol of the emulated trial -- treatment strategies and
#' time zero, eligibility, baseline covariates, outcome and follow-up --
#' into one object that [build_cohort()] turns into an analysis cohort. It
#' checks that the components fit together: every code group named in
#' `eligibility()` or `baseline()` exists, covariate names do not clash,
#' and the look-back windows end before the outcome's risk window starts
#' (so no record counts both as history and as outcome). It prints as a
#' target-trial protocol table.
#'
#' @param treatment The treatment strategies and time zero: [new_users()]
#'   (active comparator, one trial per person) or [sequential_trials()]
#'   (initiators versus non-users, one row per person and trial).
#' @param eligibility [eligibility()].
#' @param baseline [baseline()].
#' @param outcome [outcome()].
#' @param follow_up [follow_up()].
#' @param analysis `"per_protocol"` (discontinuation and switching censor)
#'   or `"intention_to_treat"` (they do not).
#' @param codes A [codes()] list of the code groups that `eligibility()`
#'   and `baseline()` name; the treatment arms and the outcome's groups can
#'   be named there too.
#' @return A `causallib_cohort_spec`.
#' @family cohort building
#' @export
#' @examples
#' spec <- cohort_spec(
#'   treatment = new_users(codes(metformin = 1503297L, sulfonylurea = 1597756L), washout = 365),
#'   eligibility = eligibility(age = c(40, Inf), exclude = list(cancer = c(-Inf, 0))),
#'   baseline = baseline(any = list(ckd = c(-365, 0)), last_value = list(hba1c = c(-180, 0))),
#'   outcome = outcome(codes(mi = 4329847L)),
#'   follow_up = follow_up(max = 730, grace = 30),
#'   codes = codes(cancer = 443392L, ckd = 46271022L, hba1c = 3004410L)
#' )
#' spec
cohort_spec <- function(treatment, eligibility = causallib::eligibility(), baseline = causallib::baseline(),
                        outcome, follow_up = causallib::follow_up(),
                        analysis = c("per_protocol", "intention_to_treat"), codes = NULL) {
  check_component(treatment, "causallib_strategy", "treatment", c("new_users", "sequential_trials"))
  check_component(eligibility, "causallib_eligibility", "eligibility", "eligibility")
  check_component(baseline, "causallib_baseline", "baseline", "baseline")
  check_component(outcome, "causallib_outcome", "outcome", "outcome")
  check_component(follow_up, "causallib_follow_up", "follow_up", "follow_up")
  analysis <- rlang::arg_match(analysis)
  library <- if (is.null(codes)) list() else unclass(as_codes(codes, "codes"))
  groups <- c(list(library), list(unclass(treatment$treatment)), list(unclass(outcome$codes)))
  all_names <- unlist(lapply(groups, names))
  dup <- unique(all_names[duplicated(all_names)])
  if (length(dup)) {
    cli::cli_abort(c("The code group name{?s} {.val {dup}} {?is/are} used more than once among {.arg codes}, the treatment arms and the outcome.",
                     i = "Give each code group one name."), call = NULL)
  }
  known <- do.call(c, groups)
  check_known_groups(names(eligibility$exclude), known, "eligibility(exclude = )")
  for (kind in c("any", "count", "last_value")) {
    check_known_groups(names(baseline[[kind]]), known, paste0("baseline(", kind, " = )"))
  }
  check_lookback_windows(eligibility, baseline, outcome)
  check_covariate_names(baseline)
  structure(list(treatment = treatment, eligibility = eligibility, baseline = baseline, outcome = outcome,
                 follow_up = follow_up, analysis = analysis, codes = known),
            class = "causallib_cohort_spec")
}

check_component <- function(x, class, arg, fn) {
  if (!inherits(x, class)) {
    cli::cli_abort("{.arg {arg}} of {.fn cohort_spec} must come from {.or {.fn {fn}}}, not {.obj_type_friendly {x}}.",
                   call = NULL)
  }
}

check_known_groups <- function(used, known, where) {
  unknown <- setdiff(used, names(known))
  if (length(unknown)) {
    cli::cli_abort(c("{.code {where}} names unknown code group{?s} {.val {unknown}}.",
                     i = if (length(known)) "Known code groups: {.val {names(known)}}." else "No code groups are defined.",
                     i = "Define code groups in {.code cohort_spec(codes = codes(...))}."), call = NULL)
  }
}

# Look-back windows describe history: they end by day 0 and before the
# outcome's risk window starts, so a record on day 0 cannot be both a
# covariate (or exclusion) and an outcome.
check_lookback_windows <- function(eligibility, baseline, outcome) {
  items <- c(lapply(names(eligibility$exclude), function(g) list("eligibility(exclude = )", g, eligibility$exclude[[g]])),
             unlist(lapply(c("any", "count", "last_value"), function(kind) {
               lapply(names(baseline[[kind]]), function(g) list(paste0("baseline(", kind, " = )"), g, baseline[[kind]][[g]]))
             }), recursive = FALSE))
  start <- outcome$window[1L]
  for (it in items) {
    w <- it[[3L]]
    if (w[2L] > 0) {
      cli::cli_abort(c("The window {.code {window_label(w)}} of {.val {it[[2L]]}} in {.code {it[[1L]]}} reaches after time zero.",
                       i = "Look-back windows must end on day 0 or before."), call = NULL)
    }
    if (w[2L] >= start) {
      cli::cli_abort(c("The window {.code {window_label(w)}} of {.val {it[[2L]]}} in {.code {it[[1L]]}} overlaps the outcome window {.code {window_label(outcome$window)}}.",
                       i = "End look-back windows before day {start}, or start the outcome window later."), call = NULL)
    }
  }
}

cohort_reserved <- c("person_id", "trial", "time_zero", "treatment", "time", "event", "end_reason")

check_covariate_names <- function(baseline) {
  cols <- c(names(baseline$any), paste0(names(baseline$count), "_count"), names(baseline$last_value),
            baseline$demographics)
  dup <- unique(cols[duplicated(cols)])
  if (length(dup)) {
    cli::cli_abort(c("{.fn baseline} makes the covariate{?s} {.val {dup}} more than once.",
                     i = "A code group can be in only one of {.arg any} and {.arg last_value}."), call = NULL)
  }
  clash <- intersect(cols, cohort_reserved)
  if (length(clash)) {
    cli::cli_abort("{.fn baseline} covariate name{?s} {.val {clash}} clash{?es/} with the cohort's own columns; rename the code group{?s}.",
                   call = NULL)
  }
}

# ---- printing: the protocol table ------------------------------------------

spec_protocol <- function(x) {
  fu <- x$follow_up
  el <- x$eligibility
  codes_of <- function(g) paste0(g, " (", paste(x$codes[[g]], collapse = ", "), ")")
  exclusions <- vapply(names(el$exclude), function(g) paste0("no ", g, " in days ", window_label(el$exclude[[g]])),
                       character(1))
  age <- if (is.infinite(el$age[2L])) paste0("age ", el$age[1L], " or older") else paste0("age ", el$age[1L], " to ", el$age[2L])
  ends <- c(outcome = "outcome", death = "death (competing event)", end_of_observation = "end of observation",
            discontinuation = paste0("discontinuation (+", fu$grace, "-day grace)"),
            switching = "switching", administrative = if (!is.null(fu$admin_end)) paste("administrative end", format(fu$admin_end)))
  used <- fu$censor
  if (x$analysis == "intention_to_treat") used <- setdiff(used, c("discontinuation", "switching"))
  end_text <- c(ends[intersect(c("outcome", used), names(ends))], if (is.finite(fu$max)) paste(fu$max, "days"))
  bl <- x$baseline
  covs <- c(if ("age" %in% bl$demographics) "age", if ("sex" %in% bl$demographics) "sex",
            vapply(names(bl$any), function(g) paste0(g, " (any, ", window_label(bl$any[[g]]), ")"), character(1)),
            vapply(names(bl$count), function(g) paste0(g, "_count (", window_label(bl$count[[g]]), ")"), character(1)),
            vapply(names(bl$last_value), function(g) paste0(g, " (last value, ", window_label(bl$last_value[[g]]), ")"), character(1)))
  data.frame(
    component = c("Eligibility", "Treatment strategies", "Assignment", "Time zero", "Baseline covariates",
                  "Outcome", "Follow-up", "Causal contrast"),
    specification = c(
      paste(c(paste(age, "at time zero"), paste0(el$prior_observation, " days of prior observation"), exclusions),
            collapse = "; "),
      strategy_protocol(x$treatment, codes_of),
      if (length(covs)) paste(covs, collapse = ", ") else "none",
      paste0("first of ", paste(vapply(names(x$outcome$codes), codes_of, character(1)), collapse = ", "),
             " in days ", window_label(x$outcome$window)),
      paste("from time zero to the earliest of", paste(unlist(end_text), collapse = ", ")),
      if (x$analysis == "per_protocol") "per-protocol (censored at deviation)" else "intention-to-treat"
    ),
    stringsAsFactors = FALSE
  )
}

#' @export
format.causallib_cohort_spec <- function(x, width = getOption("width", 80L), ...) {
  tab <- spec_protocol(x)
  w1 <- max(nchar(tab$component)) + 2L
  body <- unlist(lapply(seq_len(nrow(tab)), function(i) {
    lines <- strwrap(tab$specification[i], width = max(20L, width - w1))
    paste0(formatC(c(tab$component[i], rep("", length(lines) - 1L)), width = -w1), lines)
  }))
  c(paste0(formatC("Component", width = -w1), "Specification"), body)
}

#' @export
print.causallib_cohort_spec <- function(x, ...) {
  cat(cli::style_bold("Target trial protocol"), "\n", sep = "")
  cat(format(x, ...), sep = "\n")
  invisible(x)
}
