# Synthetic longitudinal health records in the shape of the OMOP common
# data model, with planted confounding and planted effects, for trying and
# testing the cohort builder (target trial emulation). Everything is drawn
# with vectorized operations over persons and records: no per-person loop.
# The truth (every person's latent covariates, dates and hazards) travels as
# attr(x, "truth"); simulated_risk() turns it into the true risks.

#' Simulate longitudinal health records in the OMOP CDM shape
#'
#' Draws persons, observation periods, drug exposures (as refill sequences),
#' conditions, procedures, one laboratory measurement and deaths, in the
#' tables and columns of the OMOP common data model (v5.4), with a planted
#' effect of drug A versus drug B on an outcome and planted confounding.
#' The tables are what a cohort builder reads; the truth needed to check its
#' result is in `attr(x, "truth")`, and [simulated_risk()] gives the true
#' risks under "everyone initiates A" and "everyone initiates B".
#'
#' @section Design:
#' Day 0 is `start_date`; every date lies in the calendar span of `years`
#' years after it.
#'
#' **Persons and observation.** Sex is male (`gender_concept_id` 8507) or
#' female (8532) with probability 1/2; the age at the start of observation is
#' uniform on 40 to 80 years. The first observation period starts uniformly
#' over the span (at least 366 days before its end) and lasts a uniform 1 to
#' 8 years, cut at the end of the span; a quarter of the persons have a
#' second period after a gap of 60 to 730 days (1 to 4 years long, if it
#' starts at least half a year before the end of the span).
#'
#' **Time zero.** Every person has an index date in the first period. For
#' the drug initiators it is the day of the first fill: for 85% of them (the
#' new users) uniform between 365 days after the period's start and its end,
#' so they have at least one year of look-back without the study drugs; for
#' the other 15% (prevalent users) 730 days before to 180 days after the
#' period's start, so a 365-day washout with 365 days of prior observation
#' excludes them (their fills before the period are not recorded). For the
#' persons who never initiate either drug (non-users) the index date is
#' drawn the same way (85% with a year of look-back) and only anchors their
#' baseline records.
#'
#' **Baseline confounders.** Age at the index date (from the birth date),
#' sex, three chronic conditions -- type 2 diabetes (concept 201826),
#' essential hypertension (320128) and heart failure (316139) -- and the LDL
#' cholesterol level (measurement 3028437, mg/dL). A person with a condition
#' has its first record in the 365 days before the index date (in the first
#' year of observation when there are none) and a Poisson(1) number of
#' repeat records anywhere in observation; 4% of the others are diagnosed
#' after the index date. The LDL covariate is the last reading before the
#' index date, taken in the 365 days before it; other readings (Poisson(2),
#' the covariate plus normal noise of SD 12) fall earlier or after the index
#' date. So the covariates a builder reads in a 365-day look-back are
#' exactly the ones the models below use. With `age10 = (age - 60) / 10` and
#' `ldl30 = (ldl - 130) / 30`:
#' * prevalences: diabetes `plogis(-1.4 + 0.3 age10 + 0.2 male)`,
#'   hypertension `plogis(-0.6 + 0.5 age10)`, heart failure
#'   `plogis(-2.6 + 0.6 age10 + 0.3 male + 0.5 diabetes)`; LDL
#'   `round(N(130 + 5 diabetes, 30))`, kept in 40 to 300;
#' * initiating either drug (versus never): `plogis(-0.2 + 0.2 age10 + 0.4
#'   diabetes + 0.4 hypertension + 0.4 heart failure + 0.5 ldl30)`;
#' * drug A rather than B among the initiators (the propensity):
#'   `plogis(-0.3 + 0.3 age10 + 0.3 male + 0.6 diabetes + 0.4 hypertension
#'   + 1.0 heart failure + 0.6 ldl30)`;
#' * the outcome (acute myocardial infarction, concept 4329847): a hazard
#'   per day of `0.02 / 365.25 exp(0.5 age10 + 0.4 male + 0.5 diabetes +
#'   0.3 hypertension + 0.8 heart failure + 0.4 ldl30)`, times `exp(effect)`
#'   from the initiation of drug A on (drug B and non-use have the same
#'   hazard). This is an **intention-to-treat** effect: the hazard ratio
#'   applies from initiation for the rest of follow-up, whatever the later
#'   refills, gaps, discontinuation or switching. The hazard runs from the
#'   start of observation, so some persons have the outcome before the index
#'   date (a cohort excludes them); each person has the outcome at most once
#'   (recorded once, and a second time within 30 days for 30% of them);
#' * death, a competing event: a hazard per day of `0.008 / 365.25
#'   exp(0.8 age10 + 0.3 male + 0.4 diabetes + 0.2 hypertension + 0.9 heart
#'   failure)` from the start of observation, unaffected by the drugs;
#'   10% of the outcomes are fatal within 30 days.
#'
#' The confounders raise both the chance of starting A and the outcome
#' hazard, so the crude comparison of A with B is biased towards harm.
#' The exact coefficients are in `attr(x, "truth")$parameters`.
#'
#' **Exposure.** Each initiation starts a sequence of fills of 30 days'
#' supply (70% of the persons) or 90 days' (30%), continued after each fill
#' with probability 0.92 (30 days) or 0.8 (90 days); the next fill starts
#' after the previous one ends, 0 to 10 days later (75%), 11 to 45 days
#' (20%) or 46 to 150 days (5%, gaps that a grace period turns into
#' discontinuation). Fills of one drug never overlap. After the last fill,
#' 10% switch to the other study drug, 1 to 31 days after the end of supply.
#'
#' **Screening drugs** (`n_drugs`): a person uses one of them with
#' probability `plogis(-1.2 + 0.3 age10 + 0.4 diabetes + 0.3 hypertension +
#' 0.5 heart failure)` (the drug chosen uniformly), from a day uniform over
#' the first observation period, with fills as above; from that day on the
#' outcome hazard is multiplied by `exp(drug_effects[j])`
#' (intention-to-treat again). **Negative controls** (`n_negative_controls`)
#' are outcome codes with their own baseline rates (0.5% to 2% a year) and
#' the outcome's confounder coefficients, so they are confounded like the
#' outcome, but no drug affects them. **Noise**: a Poisson(1) number of
#' other conditions and of procedures per person at random dates.
#'
#' **What is recorded.** An observation period ends at death; a death is
#' recorded when it falls in an observation period, and a second period that
#' starts after it is dropped. No record lies outside its person's
#' observation periods or after the death date (drug exposure end dates are
#' cut at the end of the period; `days_supply` keeps the supply dispensed).
#' Ids are consecutive integers, rows are ordered by person and date.
#'
#' @param n_persons Number of persons.
#' @param effect The log hazard ratio of initiating drug A versus drug B on
#'   the outcome (intention to treat).
#' @param n_drugs Number of additional screening drugs.
#' @param drug_effects Their log hazard ratios on the outcome, one per
#'   screening drug. The default makes every fifth drug non-null (`log(1.5)`
#'   and `log(2/3)` by turns, starting with the first) and the others null.
#' @param n_negative_controls Number of negative-control outcome codes.
#' @param start_date The first day of the calendar span: a `Date` or a
#'   `"YYYY-MM-DD"` string.
#' @param years The length of the calendar span in years (2 to 50).
#' @param seed `NULL` to draw from the current random number stream, or a
#'   number: the records are then drawn with that seed and the caller's
#'   random number state is left as it was.
#' @return A named list of data frames `person`, `observation_period`,
#'   `drug_exposure`, `condition_occurrence`, `procedure_occurrence`,
#'   `measurement` and `death` with the OMOP CDM v5.4 column names (integer
#'   ids and concept ids, `Date` dates). `attr(x, "truth")` is a list:
#'   `concepts` (`drug_a`, `drug_b`, `outcome`, `confounders`, `measurement`,
#'   `screening_drugs` -- a data frame of `drug_concept_id` and `log_hr` --
#'   `negative_controls`, `noise_conditions`, `noise_procedures`, `male`,
#'   `female`), `parameters` (the arguments and the models' coefficients) and
#'   `persons`: one row per person with the latent variables (`arm`,
#'   `index_date`, whether the initiation is recorded (`initiated`), whether
#'   the person is a `prevalent` user or a `new_user` -- an initiator with
#'   365 days of prior observation, alive and outcome-free at initiation --
#'   the covariates, the screening drug and its start, and the outcome and
#'   death hazards per day before any drug).
#' @seealso [simulated_risk()] for the true risks.
#' @examples
#' x <- simulate_records(500, seed = 1)
#' vapply(x, nrow, integer(1))
#' head(x$drug_exposure)
#' attr(x, "truth")$concepts[c("drug_a", "drug_b", "outcome")]
#' simulated_risk(x, horizon = c(365, 730))
#' @export
simulate_records <- function(n_persons = 10000, effect = log(0.7), n_drugs = 0, drug_effects = NULL,
                             n_negative_controls = 0, start_date = as.Date("2010-01-01"), years = 8,
                             seed = NULL) {
  check_count(n_persons, "n_persons", min = 1, max = 1e8)
  if (!is.numeric(effect) || length(effect) != 1L || !is.finite(effect)) {
    cli::cli_abort("{.arg effect} must be a single finite log hazard ratio; you gave {value_label(effect)}.")
  }
  check_count(n_drugs, "n_drugs", min = 0, max = 10000)
  drug_effects <- records_drug_effects(drug_effects, n_drugs)
  check_count(n_negative_controls, "n_negative_controls", min = 0, max = 10000)
  start_date <- records_start_date(start_date)
  check_number(years, "years", min = 2, max = 50)
  if (!is.null(seed) && (!is.numeric(seed) || length(seed) != 1L || !is.finite(seed) || seed != round(seed))) {
    cli::cli_abort("{.arg seed} must be {.code NULL} or a single whole number; you gave {value_label(seed)}.")
  }
  args <- list(n_persons = as.integer(n_persons), effect = effect, n_drugs = as.integer(n_drugs),
               drug_effects = drug_effects, n_negative_controls = as.integer(n_negative_controls),
               start_date = start_date, years = years)
  with_records_seed(seed, records_draw(args))
}

# Draws with `seed` set (Mersenne-Twister, as set.seed()'s defaults) and
# puts the caller's random number state back afterwards, as withr's
# with_seed() does; NULL draws from the current stream.
with_records_seed <- function(seed, code) {
  if (is.null(seed)) return(code)
  genv <- globalenv()
  had_seed <- exists(".Random.seed", envir = genv, inherits = FALSE)
  old_seed <- if (had_seed) get(".Random.seed", envir = genv, inherits = FALSE)
  old_kind <- RNGkind()
  on.exit({
    if (had_seed) {
      assign(".Random.seed", old_seed, envir = genv)
    } else {
      RNGkind(old_kind[1L], old_kind[2L], old_kind[3L])
      if (exists(".Random.seed", envir = genv, inherits = FALSE)) rm(".Random.seed", envir = genv)
    }
  })
  set.seed(seed, kind = "Mersenne-Twister", normal.kind = "Inversion", sample.kind = "Rejection")
  code
}

records_drug_effects <- function(drug_effects, n_drugs, call = rlang::caller_env()) {
  if (is.null(drug_effects)) {
    out <- numeric(n_drugs)
    hits <- seq(1L, by = 5L, length.out = ceiling(n_drugs / 5))
    out[hits] <- rep_len(c(log(1.5), log(2 / 3)), length(hits))
    return(out)
  }
  if (!is.numeric(drug_effects) || length(drug_effects) != n_drugs || any(!is.finite(drug_effects))) {
    cli::cli_abort(c(
      "{.arg drug_effects} must be {n_drugs} finite log hazard ratio{?s}, one per screening drug ({.arg n_drugs} = {n_drugs}).",
      x = "You gave {value_label(drug_effects)} of length {length(drug_effects)}."
    ), call = call)
  }
  as.numeric(drug_effects)
}

records_start_date <- function(start_date, call = rlang::caller_env()) {
  d <- if (inherits(start_date, "Date")) {
    start_date
  } else if (is.character(start_date) && length(start_date) == 1L) {
    tryCatch(as.Date(start_date, format = "%Y-%m-%d"), error = function(e) as.Date(NA))
  }
  if (length(d) != 1L || is.na(d)) {
    cli::cli_abort(c("{.arg start_date} must be a single date, a {.cls Date} or a {.val YYYY-MM-DD} string.",
                     x = "You gave {value_label(start_date)}."), call = call)
  }
  d
}

# The concept ids: the study codes as in the OMOP standard vocabulary; the
# screening drugs, negative controls and noise procedures as site-specific
# concepts (ids above 2 billion, the range the CDM leaves to local codes).
records_concepts <- function(n_drugs, drug_effects, n_nc) {
  list(
    drug_a = 1545958L, drug_b = 1539403L, outcome = 4329847L,
    confounders = c(diabetes = 201826L, hypertension = 320128L, heart_failure = 316139L),
    measurement = c(ldl_cholesterol = 3028437L),
    screening_drugs = data.frame(drug_concept_id = 2000000000L + seq_len(n_drugs), log_hr = drug_effects),
    negative_controls = 2000100000L + seq_len(n_nc),
    noise_conditions = c(80180L, 255848L, 140673L, 440383L, 260139L, 81893L, 80809L, 192671L),
    noise_procedures = 2000200000L + seq_len(10L),
    male = 8507L, female = 8532L
  )
}

# The models' coefficients, on age10 = (age - 60) / 10, male, diabetes,
# hypertension, heart failure and ldl30 = (ldl - 130) / 30.
records_parameters <- function(args) {
  c(args, list(
    initiation = c(intercept = -0.2, age10 = 0.2, male = 0, diabetes = 0.4, hypertension = 0.4,
                   heart_failure = 0.4, ldl30 = 0.5),
    propensity = c(intercept = -0.3, age10 = 0.3, male = 0.3, diabetes = 0.6, hypertension = 0.4,
                   heart_failure = 1.0, ldl30 = 0.6),
    outcome = c(rate_per_year = 0.02, age10 = 0.5, male = 0.4, diabetes = 0.5, hypertension = 0.3,
                heart_failure = 0.8, ldl30 = 0.4),
    death = c(rate_per_year = 0.008, age10 = 0.8, male = 0.3, diabetes = 0.4, hypertension = 0.2,
              heart_failure = 0.9, ldl30 = 0),
    screening_use = c(intercept = -1.2, age10 = 0.3, male = 0, diabetes = 0.4, hypertension = 0.3,
                      heart_failure = 0.5, ldl30 = 0),
    prevalent_share = 0.15, fatal_share = 0.1, switch_share = 0.1,
    new_user_prior_observation = 365
  ))
}

# A linear predictor from a coefficient vector over the covariate list.
records_lp <- function(coef, cov) {
  lp <- if ("intercept" %in% names(coef)) coef[["intercept"]] else 0
  for (v in c("age10", "male", "diabetes", "hypertension", "heart_failure", "ldl30")) {
    lp <- lp + coef[[v]] * cov[[v]]
  }
  lp
}

records_draw <- function(args) {
  n <- args$n_persons
  span <- round(args$years * 365.25)
  par <- records_parameters(args)
  concepts <- records_concepts(args$n_drugs, args$drug_effects, args$n_negative_controls)

  # Persons and latent observation periods (days since start_date).
  male <- stats::runif(n) < 0.5
  os1 <- floor(stats::runif(n) * (span - 366))
  oe1 <- pmin(os1 + floor(stats::runif(n, 366, 8 * 365.25)), span) - 1
  birth <- os1 - round(stats::runif(n, 40, 80) * 365.25)
  second <- stats::runif(n) < 0.25
  os2 <- oe1 + 1 + floor(stats::runif(n, 60, 731))
  oe2 <- pmin(os2 + floor(stats::runif(n, 365, 4 * 365.25)), span) - 1
  second <- second & os2 <= span - 183
  os2[!second] <- Inf
  oe2[!second] <- -Inf

  # Index dates: drawn before the covariates, so that age is the age at the
  # index date in every model. The 15% flagged prevalent are prevalent
  # users if they initiate; the others' index date leaves a year of
  # look-back.
  prevalent_flag <- stats::runif(n) < par$prevalent_share
  index <- os1 + 365 + floor(stats::runif(n) * (oe1 - os1 - 364))
  index[prevalent_flag] <- os1[prevalent_flag] + floor(stats::runif(sum(prevalent_flag), -730, 181))
  cov <- list(age10 = ((index - birth) / 365.25 - 60) / 10, male = as.numeric(male))
  cov$diabetes <- as.numeric(stats::runif(n) < stats::plogis(-1.4 + 0.3 * cov$age10 + 0.2 * cov$male))
  cov$hypertension <- as.numeric(stats::runif(n) < stats::plogis(-0.6 + 0.5 * cov$age10))
  cov$heart_failure <- as.numeric(stats::runif(n) < stats::plogis(-2.6 + 0.6 * cov$age10 + 0.3 * cov$male +
                                                                    0.5 * cov$diabetes))
  ldl <- pmin(pmax(round(stats::rnorm(n, 130 + 5 * cov$diabetes, 30)), 40), 300)
  cov$ldl30 <- (ldl - 130) / 30
  initiator <- stats::runif(n) < stats::plogis(records_lp(par$initiation, cov))
  prevalent <- initiator & prevalent_flag
  arm_a <- initiator & stats::runif(n) < stats::plogis(records_lp(par$propensity, cov))

  # Screening drugs: at most one per person.
  screen_drug <- rep(NA_integer_, n)
  screen_start <- rep(Inf, n)
  screen_lhr <- numeric(n)
  if (args$n_drugs > 0L) {
    uses <- which(stats::runif(n) < stats::plogis(records_lp(par$screening_use, cov)))
    j <- sample.int(args$n_drugs, length(uses), replace = TRUE)
    screen_drug[uses] <- j
    screen_start[uses] <- os1[uses] + floor(stats::runif(length(uses)) * (oe1[uses] - os1[uses] + 1))
    screen_lhr[uses] <- args$drug_effects[j]
  }

  # Latent outcome and death times, hazards constant from the start of
  # observation except for the drug initiations (intention to treat).
  lp_y <- records_lp(par$outcome[-1L], cov)
  rate_y <- par$outcome[["rate_per_year"]] / 365.25 * exp(lp_y)
  rate_d <- par$death[["rate_per_year"]] / 365.25 * exp(records_lp(par$death[-1L], cov))
  a_start <- ifelse(arm_a, pmax(index, os1), Inf)
  t_y <- records_event_time(os1, rate_y, cbind(a_start, pmax(screen_start, os1)),
                            cbind(ifelse(arm_a, args$effect, 0), screen_lhr))
  t_d <- os1 + stats::rexp(n, rate_d)
  fatal <- stats::runif(n) < par$fatal_share
  t_d <- ifelse(fatal, pmin(t_d, t_y + stats::runif(n, 0, 30)), t_d)
  dd <- floor(t_d)

  # Observation ends at death; a death in a gap or after the last period is
  # not recorded, and a period after it is dropped.
  died_in_1 <- dd <= oe1
  died_in_2 <- second & dd >= os2 & dd <= oe2
  drop_2 <- second & dd < os2
  oe1[died_in_1] <- dd[died_in_1]
  oe2[died_in_2] <- dd[died_in_2]
  os2[died_in_1 | drop_2] <- Inf
  oe2[died_in_1 | drop_2] <- -Inf
  second <- is.finite(os2)
  per <- list(os1 = os1, oe1 = oe1, os2 = os2, oe2 = oe2)
  death_recorded <- died_in_1 | died_in_2

  initiated <- initiator & index <= dd
  new_user <- initiated & !prevalent & floor(t_y) >= index

  tables <- list()
  tables$person <- records_person(n, male, birth, start_date = args$start_date, concepts)
  tables$observation_period <- records_observation(per, second, args$start_date)

  # Drug exposures: study drugs (with switches), then screening drugs.
  supply <- ifelse(stats::runif(n) < 0.7, 30, 90)
  ini <- which(initiator)
  first_drug <- ifelse(arm_a[ini], concepts$drug_a, concepts$drug_b)
  seq1 <- records_refills(ini, index[ini], supply[ini], first_drug, per)
  switchers <- which(stats::runif(length(ini)) < par$switch_share)
  seq2 <- records_refills(ini[switchers], seq1$last_end[switchers] + 1 + floor(stats::runif(length(switchers), 0, 31)),
                          supply[ini[switchers]],
                          ifelse(first_drug[switchers] == concepts$drug_a, concepts$drug_b, concepts$drug_a), per)
  su <- which(!is.na(screen_drug))
  seq3 <- records_refills(su, screen_start[su], supply[su],
                          concepts$screening_drugs$drug_concept_id[screen_drug[su]], per)
  drugs <- records_bind(list(seq1$fills, seq2$fills, seq3$fills))
  tables$drug_exposure <- records_drug_table(drugs, per, args$start_date)

  # Conditions: confounders, the outcome, negative controls and noise.
  cond <- list()
  for (k in names(concepts$confounders)) {
    cond[[k]] <- records_confounder(cov[[k]] == 1, index, per, concepts$confounders[[k]])
  }
  y_day <- floor(t_y)
  repeat_y <- stats::runif(n) < 0.3
  cond$outcome <- records_bind(list(
    list(p = seq_len(n), day = y_day, code = rep(concepts$outcome, n)),
    list(p = which(repeat_y), day = y_day[repeat_y] + floor(stats::runif(sum(repeat_y), 1, 31)),
         code = rep(concepts$outcome, sum(repeat_y)))
  ))
  for (j in seq_len(args$n_negative_controls)) {
    rate <- seq(0.005, 0.02, length.out = max(args$n_negative_controls, 2L))[j] / 365.25 * exp(lp_y)
    cond[[paste0("nc", j)]] <- list(p = seq_len(n), day = floor(os1 + stats::rexp(n, rate)),
                                    code = rep(concepts$negative_controls[j], n))
  }
  cond$noise <- records_noise(n, 1, concepts$noise_conditions, per)
  cond <- records_bind(cond)
  tables$condition_occurrence <- records_table(
    cond, per, c("condition_occurrence_id", "person_id", "condition_concept_id", "condition_start_date"),
    args$start_date)
  proc <- records_noise(n, 1, concepts$noise_procedures, per)
  tables$procedure_occurrence <- records_table(
    proc, per, c("procedure_occurrence_id", "person_id", "procedure_concept_id", "procedure_date"),
    args$start_date)
  meas <- records_ldl(ldl, index, per, concepts$measurement[[1L]])
  tables$measurement <- records_table(
    meas, per, c("measurement_id", "person_id", "measurement_concept_id", "measurement_date", "value_as_number"),
    args$start_date)

  dead <- which(death_recorded)
  tables$death <- data.frame(person_id = dead, death_date = args$start_date + dd[dead])

  persons <- data.frame(
    person_id = seq_len(n),
    arm = ifelse(initiator, ifelse(arm_a, "A", "B"), NA_character_),
    index_date = args$start_date + index,
    initiated = initiated, prevalent = prevalent, new_user = new_user,
    age = (index - birth) / 365.25, male = male, diabetes = cov$diabetes == 1,
    hypertension = cov$hypertension == 1, heart_failure = cov$heart_failure == 1, ldl = ldl,
    screening_drug = concepts$screening_drugs$drug_concept_id[screen_drug],
    screening_start = args$start_date + ifelse(is.finite(screen_start), screen_start, NA),
    screening_log_hr = screen_lhr,
    outcome_rate = rate_y, death_rate = rate_d
  )
  attr(tables, "truth") <- list(concepts = concepts, parameters = par, persons = persons)
  tables
}

# Event times from `start` with a hazard `rate` that is multiplied by
# exp(lhr[, k]) from time breaks[, k] on (two breaks per person, Inf:
# never), by inverting the piecewise-linear cumulative hazard at a unit
# exponential draw.
records_event_time <- function(start, rate, breaks, lhr) {
  e <- stats::rexp(length(start))
  o <- breaks[, 1L] > breaks[, 2L]
  b <- cbind(ifelse(o, breaks[, 2L], breaks[, 1L]), ifelse(o, breaks[, 1L], breaks[, 2L]))
  l <- cbind(ifelse(o, lhr[, 2L], lhr[, 1L]), ifelse(o, lhr[, 1L], lhr[, 2L]))
  t <- rep(NA_real_, length(start))
  s <- start
  r <- rate
  for (k in seq_len(ncol(b) + 1L)) {
    end <- if (k <= ncol(b)) b[, k] else rep(Inf, length(start))
    room <- r * (end - s)
    hit <- is.na(t) & e < room
    t[hit] <- s[hit] + e[hit] / r[hit]
    e <- e - room
    if (k <= ncol(b)) {
      s <- end
      r <- r * exp(l[, k])
    }
  }
  t
}

# Whether day `day` of person `p` lies in one of the person's periods.
records_observed <- function(p, day, per) {
  (day >= per$os1[p] & day <= per$oe1[p]) | (day >= per$os2[p] & day <= per$oe2[p])
}

# Uniform days over each listed person's observation (both periods).
records_runif_observed <- function(p, per) {
  l1 <- per$oe1[p] - per$os1[p] + 1
  l2 <- pmax(per$oe2[p] - per$os2[p] + 1, 0)
  u <- floor(stats::runif(length(p)) * (l1 + l2))
  ifelse(u < l1, per$os1[p] + u, per$os2[p] + u - l1)
}

# Uniform days in [lo, hi] (integers, hi >= lo).
records_runif_days <- function(lo, hi) lo + floor(stats::runif(length(lo)) * (hi - lo + 1))

records_bind <- function(parts) {
  parts <- parts[!vapply(parts, is.null, logical(1))]
  if (!length(parts)) return(NULL)
  nm <- names(parts[[1L]])
  stats::setNames(lapply(nm, function(v) unlist(lapply(parts, `[[`, v), use.names = FALSE)), nm)
}

records_person <- function(n, male, birth, start_date, concepts) {
  b <- as.POSIXlt(start_date + birth)
  data.frame(person_id = seq_len(n),
             gender_concept_id = ifelse(male, concepts$male, concepts$female),
             year_of_birth = as.integer(b$year + 1900L), month_of_birth = as.integer(b$mon + 1L),
             day_of_birth = as.integer(b$mday))
}

records_observation <- function(per, second, start_date) {
  n <- length(per$os1)
  p2 <- which(second)
  p <- c(seq_len(n), p2)
  s <- c(per$os1, per$os2[p2])
  e <- c(per$oe1, per$oe2[p2])
  o <- order(p, s)
  data.frame(observation_period_id = seq_along(o), person_id = as.integer(p[o]),
             observation_period_start_date = start_date + s[o],
             observation_period_end_date = start_date + e[o])
}

# Refill sequences starting at `start` for persons `p`: a geometric number
# of fills of `supply` days, each starting 0 to 150 days after the previous
# one's supply ends. Fills are generated up to the person's last observed
# day only (later ones could never be recorded). Returns the fills and,
# per sequence, the day after which a switch would start (end of the last
# fill).
records_refills <- function(p, start, supply, concept, per) {
  m <- length(p)
  if (!m) return(list(fills = NULL, last_end = numeric()))
  cont <- ifelse(supply == 30, 0.92, 0.8)
  k <- stats::rgeom(m, 1 - cont) + 1
  last_day <- pmax(per$oe1[p], per$oe2[p])
  k <- pmin(k, pmax(1, ceiling((last_day - start) / supply) + 1))
  seq_id <- rep.int(seq_len(m), k)
  u <- stats::runif(length(seq_id))
  gap <- ifelse(u < 0.75, floor(u / 0.75 * 11),
                ifelse(u < 0.95, 11 + floor((u - 0.75) / 0.2 * 35), 46 + floor((u - 0.95) / 0.05 * 105)))
  step <- supply[seq_id] + gap
  first <- cumsum(k) - k + 1
  step[first] <- 0
  cs <- cumsum(step)
  day <- start[seq_id] + cs - rep.int(cs[first], k)
  last <- cumsum(k)
  list(fills = list(p = p[seq_id], day = day, code = concept[seq_id], supply = supply[seq_id]),
       last_end = day[last] + supply[seq_id[last]] - 1)
}

records_drug_table <- function(drugs, per, start_date) {
  if (is.null(drugs$p)) drugs <- list(p = integer(), day = numeric(), code = integer(), supply = numeric())
  keep <- records_observed(drugs$p, drugs$day, per)
  p <- drugs$p[keep]
  day <- drugs$day[keep]
  end <- day + drugs$supply[keep] - 1
  period_end <- ifelse(day <= per$oe1[p], per$oe1[p], per$oe2[p])
  end <- pmin(end, period_end)
  o <- order(p, day, drugs$code[keep])
  data.frame(drug_exposure_id = seq_along(o), person_id = as.integer(p[o]),
             drug_concept_id = as.integer(drugs$code[keep][o]),
             drug_exposure_start_date = start_date + day[o], drug_exposure_end_date = start_date + end[o],
             days_supply = as.integer(drugs$supply[keep][o]))
}

# A confounding condition: for those who have it, a first record in the 365
# days before the index date (or in the first year of observation when the
# index date leaves no room) and Poisson(1) repeats anywhere in observation;
# 4% of the others diagnosed after the index date.
records_confounder <- function(has, index, per, code) {
  p <- which(has)
  lo <- pmax(per$os1[p], index[p] - 365)
  hi <- pmin(index[p] - 1, per$oe1[p])
  room <- hi >= lo
  lo[!room] <- per$os1[p[!room]]
  hi[!room] <- pmin(per$os1[p[!room]] + 364, per$oe1[p[!room]])
  first <- records_runif_days(lo, hi)
  rp <- rep.int(p, stats::rpois(length(p), 1))
  inc <- which(!has & stats::runif(length(has)) < 0.04)
  last_day <- pmax(per$oe1[inc], per$oe2[inc])
  inc_day <- records_runif_days(index[inc], pmax(last_day, index[inc]))
  out <- records_bind(list(
    list(p = p, day = first),
    list(p = rp, day = records_runif_observed(rp, per)),
    list(p = inc, day = inc_day)
  ))
  c(out, list(code = rep(code, length(out$p))))
}

records_noise <- function(n, mean, codes, per) {
  p <- rep.int(seq_len(n), stats::rpois(n, mean))
  list(p = p, day = records_runif_observed(p, per), code = codes[sample.int(length(codes), length(p), TRUE)])
}

# LDL readings: the covariate's reading on a day in the 365 before the index
# date (anywhere in the first period when there is no room), then
# Poisson(2) noisy readings over observation, none between that reading and
# the index date.
records_ldl <- function(ldl, index, per, code) {
  n <- length(ldl)
  lo <- pmax(per$os1, index - 365)
  hi <- pmin(index - 1, per$oe1)
  room <- hi >= lo
  lo[!room] <- per$os1[!room]
  hi[!room] <- per$oe1[!room]
  last <- records_runif_days(lo, hi)
  rp <- rep.int(seq_len(n), stats::rpois(n, 2))
  rd <- records_runif_observed(rp, per)
  ok <- !(room[rp] & rd >= last[rp] & rd < index[rp])
  rp <- rp[ok]
  rd <- rd[ok]
  value <- c(ldl, pmax(round(ldl[rp] + stats::rnorm(length(rp), 0, 12)), 20))
  list(p = c(seq_len(n), rp), day = c(last, rd), code = rep(code, n + length(rp)), value = value)
}

# A table of (id, person, concept, date[, value]) from the records inside
# observation, ordered by person, date and concept.
records_table <- function(rec, per, names, start_date) {
  keep <- records_observed(rec$p, rec$day, per)
  p <- rec$p[keep]
  day <- rec$day[keep]
  code <- rec$code[keep]
  o <- order(p, day, code)
  out <- data.frame(seq_along(o), as.integer(p[o]), as.integer(code[o]), start_date + day[o])
  if (!is.null(rec$value)) out$value <- rec$value[keep][o]
  names(out) <- names
  out
}

#' The true risks of the outcome in simulated records
#'
#' The true marginal risk of the outcome by `horizon` days after initiation
#' if every new user had initiated drug A, and if every one had initiated
#' drug B, with their difference and ratio: the estimands of a target trial
#' emulated on records from [simulate_records()].
#'
#' The risks are exact (no Monte Carlo error of their own): for each new
#' user the generator's hazards from the initiation date on are constant
#' except where a screening drug starts, so the cumulative incidence of the
#' outcome with death as a competing event has a closed form over those
#' pieces, \eqn{\sum_k S(t_k) \frac{h_k}{h_k + d}(1 - e^{-(h_k + d)(t_{k+1}
#' - t_k)})}, with \eqn{h_k} the outcome hazard under the drug assigned
#' (`exp(effect)` times it for A), \eqn{d} the death hazard and \eqn{S} the
#' probability of being alive and event-free. These are averaged over the
#' persons. Censoring (end of observation) is removed; death is not: the
#' risk is that of the outcome before death.
#'
#' The population is the new users (`attr(x, "truth")$persons$new_user`):
#' persons whose first fill of drug A or B is recorded at least 365 days
#' after the start of their observation period (so a 365-day washout with
#' 365 days of prior observation keeps them), alive and without the outcome
#' before that day; `persons` restricts it further, e.g. to a cohort built
#' with more eligibility criteria. Follow-up starts on the initiation date:
#' an outcome on the same day is at day 0, and the risk by `horizon` is the
#' probability that the outcome's date is at most `horizon` days after the
#' initiation date.
#'
#' @param x Records from [simulate_records()].
#' @param horizon Days after initiation: one or more non-negative numbers.
#' @param ... Not used; must be empty.
#' @param persons `NULL` for all new users, or the person ids (a subset of
#'   the new users) to average over.
#' @return A data frame with one row per horizon: `horizon`, `risk_a`,
#'   `risk_b`, `difference` (`risk_a - risk_b`), `ratio` (`risk_a / risk_b`)
#'   and `n` (the number of persons averaged over).
#' @seealso [simulate_records()]
#' @examples
#' x <- simulate_records(500, seed = 1)
#' simulated_risk(x, horizon = c(365, 1825))
#' @export
simulated_risk <- function(x, horizon, ..., persons = NULL) {
  rlang::check_dots_empty()
  truth <- attr(x, "truth")
  if (!is.list(truth) || !all(c("persons", "parameters") %in% names(truth))) {
    cli::cli_abort("{.arg x} must be records from {.fn simulate_records} (with their {.code truth} attribute).")
  }
  if (!is.numeric(horizon) || !length(horizon) || anyNA(horizon) || any(!is.finite(horizon)) || any(horizon < 0)) {
    cli::cli_abort("{.arg horizon} must be non-negative numbers of days; you gave {value_label(horizon)}.")
  }
  pp <- truth$persons
  keep <- pp$new_user
  if (!is.null(persons)) {
    bad <- !(persons %in% pp$person_id[keep])
    if (!is.numeric(persons) || anyNA(persons) || any(bad)) {
      cli::cli_abort(c("{.arg persons} must be ids of new users ({.code attr(x, \"truth\")$persons$new_user}).",
                       x = "{sum(bad)} of the {length(persons)} id{?s} given {?is/are} not."))
    }
    keep <- pp$person_id %in% persons
  }
  pp <- pp[keep, , drop = FALSE]
  if (!nrow(pp)) {
    cli::cli_abort("{.arg x} has no new users of drug A or B to average over; simulate more persons.")
  }
  effect <- truth$parameters$effect
  start <- as.numeric(pp$index_date)
  # The screening drug's start relative to initiation (Inf: none): from then
  # on the outcome hazard is multiplied by exp(screening_log_hr).
  u <- as.numeric(pp$screening_start) - start
  u[is.na(u)] <- Inf
  pre <- ifelse(u <= 0, pp$screening_log_hr, 0)
  post <- ifelse(u <= 0, 0, pp$screening_log_hr)
  u <- pmax(u, 0)
  risk <- function(lhr, h) {
    end <- h + 1
    t1 <- pmin(u, end)
    h1 <- pp$outcome_rate * exp(lhr + pre)
    h2 <- h1 * exp(post)
    d <- pp$death_rate
    f1 <- h1 / (h1 + d) * -expm1(-(h1 + d) * t1)
    s1 <- exp(-(h1 + d) * t1)
    f2 <- s1 * h2 / (h2 + d) * -expm1(-(h2 + d) * (end - t1))
    mean(f1 + f2)
  }
  out <- data.frame(horizon = horizon,
                    risk_a = vapply(horizon, function(h) risk(effect, h), numeric(1)),
                    risk_b = vapply(horizon, function(h) risk(0, h), numeric(1)))
  out$difference <- out$risk_a - out$risk_b
  out$ratio <- out$risk_a / out$risk_b
  out$n <- nrow(pp)
  out
}
