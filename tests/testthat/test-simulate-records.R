# The records generator checked from outside: the tables have the OMOP CDM
# shape and its invariants (records inside observation, before death,
# refills that never overlap); an analyst who derives the new-user cohort
# from the tables by hand (base R below) recovers the planted propensity
# and outcome models with glm() and coxph(); and simulated_risk() agrees
# with the cumulative incidence the data show (survfit's Aalen-Johansen)
# and with a numerical integration of the hazards.

# The analysis data of new users of A versus B, derived from the tables by
# hand (base R): time zero at the first fill of either drug, 365 days of
# prior observation in the period holding it, no outcome before it;
# covariates in the 365 days before; follow-up to the outcome, death or the
# end of that period.
records_new_users <- function(x) {
  cc <- attr(x, "truth")$concepts
  de <- x$drug_exposure
  de <- de[de$drug_concept_id %in% c(cc$drug_a, cc$drug_b), ]
  de <- de[order(de$person_id, de$drug_exposure_start_date), ]
  first <- de[!duplicated(de$person_id), ]
  d <- data.frame(person_id = first$person_id, t0 = first$drug_exposure_start_date,
                  a = as.integer(first$drug_concept_id == cc$drug_a))
  op <- merge(d, x$observation_period, by = "person_id")
  op <- op[op$observation_period_start_date <= op$t0 & op$t0 <= op$observation_period_end_date, ]
  d <- op[as.numeric(op$t0 - op$observation_period_start_date) >= 365, ]
  co <- x$condition_occurrence
  y <- co[co$condition_concept_id == cc$outcome, c("person_id", "condition_start_date")]
  y <- merge(d[c("person_id", "t0")], y, by = "person_id")
  prior <- unique(y$person_id[y$condition_start_date < y$t0])
  d <- d[!d$person_id %in% prior, ]
  y <- y[y$condition_start_date >= y$t0, ]
  y_first <- tapply(as.numeric(y$condition_start_date), y$person_id, min)
  d$y_date <- unname(y_first[as.character(d$person_id)])
  d$death <- as.numeric(x$death$death_date[match(d$person_id, x$death$person_id)])
  end <- pmin(d$y_date, d$death, as.numeric(d$observation_period_end_date), na.rm = TRUE)
  d$event <- as.integer(!is.na(d$y_date) & d$y_date == end)
  d$status <- ifelse(d$event == 1L, 1L, as.integer(!is.na(d$death) & d$death == end) * 2L)
  d$time <- end - as.numeric(d$t0) + 0.5
  pe <- x$person
  birth <- as.Date(sprintf("%04d-%02d-%02d", pe$year_of_birth, pe$month_of_birth, pe$day_of_birth))
  i <- match(d$person_id, pe$person_id)
  d$age10 <- (as.numeric(d$t0 - birth[i]) / 365.25 - 60) / 10
  d$male <- as.integer(pe$gender_concept_id[i] == cc$male)
  for (k in names(cc$confounders)) {
    r <- co[co$condition_concept_id == cc$confounders[[k]], c("person_id", "condition_start_date")]
    r <- merge(d[c("person_id", "t0")], r, by = "person_id")
    lag <- as.numeric(r$t0 - r$condition_start_date)
    d[[k]] <- as.integer(d$person_id %in% r$person_id[lag >= 1 & lag <= 365])
  }
  m <- x$measurement[x$measurement$measurement_concept_id == cc$measurement[[1]], ]
  m <- merge(d[c("person_id", "t0")], m, by = "person_id")
  lag <- as.numeric(m$t0 - m$measurement_date)
  m <- m[lag >= 1 & lag <= 365, ]
  m <- m[order(m$person_id, m$measurement_date, decreasing = TRUE), ]
  m <- m[!duplicated(m$person_id), ]
  d$ldl30 <- (m$value_as_number[match(d$person_id, m$person_id)] - 130) / 30
  d
}

omop_columns <- list(
  person = c(person_id = "integer", gender_concept_id = "integer", year_of_birth = "integer",
             month_of_birth = "integer", day_of_birth = "integer"),
  observation_period = c(observation_period_id = "integer", person_id = "integer",
                         observation_period_start_date = "Date", observation_period_end_date = "Date"),
  drug_exposure = c(drug_exposure_id = "integer", person_id = "integer", drug_concept_id = "integer",
                    drug_exposure_start_date = "Date", drug_exposure_end_date = "Date", days_supply = "integer"),
  condition_occurrence = c(condition_occurrence_id = "integer", person_id = "integer",
                           condition_concept_id = "integer", condition_start_date = "Date"),
  procedure_occurrence = c(procedure_occurrence_id = "integer", person_id = "integer",
                           procedure_concept_id = "integer", procedure_date = "Date"),
  measurement = c(measurement_id = "integer", person_id = "integer", measurement_concept_id = "integer",
                  measurement_date = "Date", value_as_number = "numeric"),
  death = c(person_id = "integer", death_date = "Date")
)

col_class <- function(v) if (inherits(v, "Date")) "Date" else if (is.integer(v)) "integer" else class(v)[1]

# Whether each (person, date) lies in one of the person's observation periods.
in_observation <- function(op, person, date) {
  m <- merge(data.frame(i = seq_along(person), person_id = person, date = date), op, by = "person_id")
  ok <- m$observation_period_start_date <= m$date & m$date <= m$observation_period_end_date
  seq_along(person) %in% m$i[ok]
}

test_that("the tables have the OMOP CDM v5.4 names and types, with consecutive ids", {
  x <- simulate_records(3000, n_drugs = 4, n_negative_controls = 3, seed = 1)
  expect_identical(names(x), names(omop_columns))
  for (tb in names(omop_columns)) {
    expect_identical(names(x[[tb]]), names(omop_columns[[tb]]), info = tb)
    expect_identical(vapply(x[[tb]], col_class, ""), omop_columns[[tb]], info = tb)
    expect_gt(nrow(x[[tb]]), 0)
    expect_false(anyNA(x[[tb]]), info = tb)
    if (tb != "death") expect_identical(x[[tb]][[1]], seq_len(nrow(x[[tb]])), info = tb)
    expect_true(all(x[[tb]]$person_id %in% x$person$person_id), info = tb)
  }
  expect_identical(x$person$person_id, 1:3000)
  expect_setequal(unique(x$person$gender_concept_id), c(8507L, 8532L))
  expect_false(anyDuplicated(x$death$person_id) > 0)
  cc <- attr(x, "truth")$concepts
  expect_setequal(unique(x$drug_exposure$drug_concept_id),
                  c(cc$drug_a, cc$drug_b, cc$screening_drugs$drug_concept_id))
  expect_true(all(c(cc$outcome, cc$confounders, cc$negative_controls, cc$noise_conditions) %in%
                    x$condition_occurrence$condition_concept_id))
  expect_setequal(unique(x$procedure_occurrence$procedure_concept_id), cc$noise_procedures)
  expect_identical(unique(x$measurement$measurement_concept_id), unname(cc$measurement))
  # Ages at entry between 40 and 80.
  op1 <- x$observation_period[!duplicated(x$observation_period$person_id), ]
  birth <- as.Date(sprintf("%04d-%02d-%02d", x$person$year_of_birth, x$person$month_of_birth,
                           x$person$day_of_birth))
  age <- as.numeric(op1$observation_period_start_date - birth[op1$person_id]) / 365.25
  expect_true(all(age >= 39.99 & age <= 80.01))
})

test_that("no record lies outside its person's observation periods or after death", {
  x <- simulate_records(4000, n_drugs = 5, n_negative_controls = 4, seed = 2,
                        start_date = "2015-07-01", years = 6)
  op <- x$observation_period
  span <- as.Date(c("2015-07-01", "2021-06-30"))
  expect_true(all(op$observation_period_start_date >= span[1] & op$observation_period_end_date <= span[2]))
  expect_true(all(op$observation_period_start_date <= op$observation_period_end_date))
  # Periods of a person do not overlap (the rows are in order).
  same <- op$person_id[-1] == op$person_id[-nrow(op)]
  expect_true(any(same))
  expect_true(all(op$observation_period_start_date[-1][same] > op$observation_period_end_date[-nrow(op)][same]))
  dated <- list(
    drug_start = x$drug_exposure[c("person_id", "drug_exposure_start_date")],
    drug_end = x$drug_exposure[c("person_id", "drug_exposure_end_date")],
    condition = x$condition_occurrence[c("person_id", "condition_start_date")],
    procedure = x$procedure_occurrence[c("person_id", "procedure_date")],
    measurement = x$measurement[c("person_id", "measurement_date")],
    death = x$death
  )
  death <- x$death$death_date[match(seq_len(4000), x$death$person_id)]
  for (k in names(dated)) {
    d <- dated[[k]]
    expect_true(all(in_observation(op, d[[1]], d[[2]])), info = k)
    dd <- death[d[[1]]]
    expect_true(all(is.na(dd) | d[[2]] <= dd), info = k)
  }
  # A death ends its person's last observation period.
  last <- op[!duplicated(op$person_id, fromLast = TRUE), ]
  expect_identical(last$observation_period_end_date[match(x$death$person_id, last$person_id)],
                   x$death$death_date)
  # Every table is ordered by person and date.
  expect_false(is.unsorted(x$condition_occurrence$person_id))
  expect_false(is.unsorted(x$measurement$person_id + as.numeric(x$measurement$measurement_date) / 1e6))
})

test_that("refill sequences never overlap within a drug, with gaps, switches and both supplies", {
  x <- simulate_records(5000, n_drugs = 3, seed = 3)
  de <- x$drug_exposure
  expect_setequal(unique(de$days_supply), c(30L, 90L))
  expect_true(all(de$drug_exposure_end_date >= de$drug_exposure_start_date))
  expect_true(all(as.numeric(de$drug_exposure_end_date - de$drug_exposure_start_date) + 1 <= de$days_supply))
  de <- de[order(de$person_id, de$drug_concept_id, de$drug_exposure_start_date), ]
  same <- de$person_id[-1] == de$person_id[-nrow(de)] & de$drug_concept_id[-1] == de$drug_concept_id[-nrow(de)]
  gap <- as.numeric(de$drug_exposure_start_date[-1] - de$drug_exposure_end_date[-nrow(de)])[same]
  expect_true(all(gap >= 1))
  expect_gt(mean(gap > 46), 0.01)   # gaps beyond a 45-day grace period
  cc <- attr(x, "truth")$concepts
  study <- de[de$drug_concept_id %in% c(cc$drug_a, cc$drug_b), ]
  both <- tapply(study$drug_concept_id, study$person_id, function(v) length(unique(v)) == 2)
  expect_gt(mean(both), 0.03)       # switchers
  n_fills <- table(study$person_id)
  expect_gt(mean(n_fills == 1), 0.03)   # stopped after one fill
  expect_gt(max(n_fills), 12)
})

test_that("the new users derived from the tables are the generator's, and prevalent users are excluded", {
  x <- simulate_records(6000, seed = 4)
  pp <- attr(x, "truth")$persons
  d <- records_new_users(x)
  expect_setequal(d$person_id, pp$person_id[pp$new_user])
  # Prevalent users have recorded fills (the washout must exclude them).
  cc <- attr(x, "truth")$concepts
  prev <- pp$person_id[pp$prevalent & pp$initiated]
  users <- unique(x$drug_exposure$person_id[x$drug_exposure$drug_concept_id %in% c(cc$drug_a, cc$drug_b)])
  expect_gt(mean(prev %in% users), 0.4)
  expect_gt(sum(!pp$new_user & pp$person_id %in% users), 0.1 * length(users))
  # The covariates read from the look-back windows are the latent ones.
  i <- match(d$person_id, pp$person_id)
  expect_equal(d$age10 * 10 + 60, pp$age[i], tolerance = 1e-12)
  expect_identical(d$diabetes == 1, pp$diabetes[i])
  expect_identical(d$heart_failure == 1, pp$heart_failure[i])
  expect_identical(d$ldl30 * 30 + 130, as.numeric(pp$ldl[i]))
  expect_identical(d$a == 1, pp$arm[i] == "A")
  # Non-users exist, with the same confounder records in the year before
  # their index date (those observed for a year before it and alive then).
  non <- pp[is.na(pp$arm), ]
  expect_gt(nrow(non), 1000)
  op1 <- x$observation_period[!duplicated(x$observation_period$person_id), ]
  death <- x$death$death_date[match(non$person_id, x$death$person_id)]
  non <- non[as.numeric(non$index_date - op1$observation_period_start_date[non$person_id]) >= 365 &
                (is.na(death) | death >= non$index_date), ]
  co <- x$condition_occurrence
  for (k in c("diabetes", "hypertension", "heart_failure")) {
    r <- co[co$condition_concept_id == cc$confounders[[k]], ]
    lag <- as.numeric(non$index_date[match(r$person_id, non$person_id)] - r$condition_start_date)
    has <- non$person_id %in% r$person_id[!is.na(lag) & lag >= 1 & lag <= 365]
    expect_identical(has, non[[k]], info = k)
  }
})

test_that("glm and coxph on the derived cohort recover the planted models; the crude comparison is biased", {
  x <- simulate_records(2e4, effect = log(0.7), seed = 5)
  tr <- attr(x, "truth")
  d <- records_new_users(x)
  ps <- stats::glm(a ~ age10 + male + diabetes + hypertension + heart_failure + ldl30, binomial, d)
  z <- (coef(ps) - tr$parameters$propensity) / sqrt(diag(vcov(ps)))
  expect_true(all(abs(z) < 3), label = paste(round(z, 2), collapse = " "))
  f <- survival::coxph(survival::Surv(time, event) ~ a + age10 + male + diabetes + hypertension +
                         heart_failure + ldl30, d)
  truth <- c(tr$parameters$effect, tr$parameters$outcome[-1])
  z <- (coef(f) - truth) / sqrt(diag(vcov(f)))
  expect_true(all(abs(z) < 3), label = paste(round(z, 2), collapse = " "))
  expect_lt(sqrt(vcov(f)[1, 1]), 0.15)
  crude <- survival::coxph(survival::Surv(time, event) ~ a, d)
  expect_gt((coef(crude) - log(0.7)) / sqrt(vcov(crude)[1, 1]), 3)
})

test_that("with effect = 0 the adjusted hazard ratio covers 1 and the true risks are equal", {
  x <- simulate_records(2e4, effect = 0, seed = 6)
  d <- records_new_users(x)
  f <- survival::coxph(survival::Surv(time, event) ~ a + age10 + male + diabetes + hypertension +
                         heart_failure + ldl30, d)
  expect_lt(abs(coef(f)[["a"]]) / sqrt(vcov(f)[1, 1]), 1.96 * 1.5)
  r <- simulated_risk(x, c(365, 1095))
  expect_equal(r$difference, c(0, 0))
  expect_equal(r$ratio, c(1, 1))
  # The true risk is the cumulative incidence of the outcome, death
  # competing, that the new users show (censoring at the end of observation
  # is independent of everything).
  aj <- survival::survfit(survival::Surv(time, factor(status, 0:2)) ~ 1, d)
  s <- summary(aj, times = c(365, 1095) + 0.5)
  est <- s$pstate[, 2]
  se <- s$std.err[, 2]
  expect_true(all(abs(est - r$risk_a) < 3 * se), label = paste(round(est, 4), round(r$risk_a, 4), round(se, 4)))
})

test_that("simulated_risk() is deterministic and matches the IP-weighted risks of the data", {
  x <- simulate_records(2e4, effect = log(0.6), seed = 7)
  set.seed(99)
  state <- .Random.seed
  r1 <- simulated_risk(x, c(365, 730, 1095))
  r2 <- simulated_risk(x, c(365, 730, 1095))
  expect_identical(r1, r2)
  expect_identical(.Random.seed, state)
  expect_true(all(diff(r1$risk_a) > 0 & diff(r1$risk_b) > 0))
  expect_true(all(r1$difference < 0))
  pp <- attr(x, "truth")$persons
  expect_identical(simulated_risk(x, 365, persons = pp$person_id[pp$new_user]), r1[1, ])
  # Weighted by the true propensities, each arm's Aalen-Johansen incidence
  # estimates that arm's true risk.
  d <- records_new_users(x)
  e <- stats::plogis(drop(cbind(1, as.matrix(d[c("age10", "male", "diabetes", "hypertension",
                                                 "heart_failure", "ldl30")])) %*%
                          attr(x, "truth")$parameters$propensity))
  d$w <- ifelse(d$a == 1, 1 / e, 1 / (1 - e))
  for (arm in 1:0) {
    aj <- survival::survfit(survival::Surv(time, factor(status, 0:2)) ~ 1, d[d$a == arm, ], weights = w)
    s <- summary(aj, times = c(365, 730, 1095) + 0.5)
    truth <- if (arm == 1) r1$risk_a else r1$risk_b
    expect_true(all(abs(s$pstate[, 2] - truth) < 3 * s$std.err[, 2]),
                label = paste(arm, round(s$pstate[, 2], 4), round(truth, 4), round(s$std.err[, 2], 4)))
  }
})

test_that("simulated_risk() integrates the hazards of screening drugs that start after initiation", {
  x <- simulate_records(3000, n_drugs = 2, drug_effects = c(log(3), 0), seed = 8)
  pp <- attr(x, "truth")$persons
  expect_identical(attr(x, "truth")$concepts$screening_drugs$log_hr, c(log(3), 0))
  pp <- pp[pp$new_user, ]
  expect_true(any(pp$screening_start > pp$index_date, na.rm = TRUE))
  expect_true(any(pp$screening_start <= pp$index_date, na.rm = TRUE))
  h <- 900
  # Reference: the cumulative incidence by numerical integration on a fine
  # grid of the hazards each person has from initiation on.
  grid <- seq(0, h + 1, length.out = 4001)
  mid <- (grid[-1] + grid[-length(grid)]) / 2
  dt <- diff(grid)
  ref <- function(lhr_a) {
    u <- as.numeric(pp$screening_start - pp$index_date)
    vapply(seq_len(nrow(pp)), function(i) {
      on <- !is.na(u[i]) & mid >= u[i]
      hy <- pp$outcome_rate[i] * exp(lhr_a + on * pp$screening_log_hr[i])
      haz <- hy + pp$death_rate[i]
      surv <- exp(-cumsum(c(0, haz * dt))[seq_along(mid)] - haz * dt / 2)
      sum(hy * surv * dt)
    }, numeric(1))
  }
  r <- simulated_risk(x, h)
  expect_equal(r$risk_a, mean(ref(attr(x, "truth")$parameters$effect)), tolerance = 1e-6)
  expect_equal(r$risk_b, mean(ref(0)), tolerance = 1e-6)
  expect_identical(r$n, nrow(pp))
})

test_that("the outcome hazard is the planted one from the start of observation, drugs acting from initiation", {
  # A counting-process Cox model over each person's first observation
  # period, with initiation of A and of the screening drug as time-varying
  # indicators (intention to treat: on from the first fill for good; on from
  # the start of observation for users who began before it), recovers the
  # drug effects and the confounder coefficients.
  x <- simulate_records(12000, effect = log(0.6), n_drugs = 1, drug_effects = log(2), seed = 10)
  tr <- attr(x, "truth")
  pp <- tr$persons
  op1 <- x$observation_period[!duplicated(x$observation_period$person_id), ]
  os <- as.numeric(op1$observation_period_start_date)
  co <- x$condition_occurrence
  y <- co[co$condition_concept_id == tr$concepts$outcome, ]
  y <- y[!duplicated(y$person_id), ]
  y_day <- as.numeric(y$condition_start_date)[match(pp$person_id, y$person_id)]
  death <- as.numeric(x$death$death_date)[match(pp$person_id, x$death$person_id)]
  end <- pmin(as.numeric(op1$observation_period_end_date), y_day, death, na.rm = TRUE)
  event <- !is.na(y_day) & y_day == end
  stop_t <- end - os + 1
  b_a <- ifelse(pp$arm %in% "A", pmax(as.numeric(pp$index_date) - os, 0), Inf)
  b_s <- ifelse(is.na(pp$screening_start), Inf, as.numeric(pp$screening_start) - os)
  cuts <- cbind(0, pmin(b_a, stop_t), pmin(b_s, stop_t), stop_t)
  cuts <- t(apply(cuts, 1, sort))
  long <- do.call(rbind, lapply(1:3, function(k) {
    data.frame(id = pp$person_id, start = cuts[, k], stop = cuts[, k + 1],
               event = event & cuts[, k + 1] == stop_t, a = as.integer(b_a <= cuts[, k]),
               s = as.integer(b_s <= cuts[, k]))
  }))
  long <- long[long$stop > long$start, ]
  cv <- data.frame(age10 = (pp$age - 60) / 10, male = as.integer(pp$male), diabetes = as.integer(pp$diabetes),
                   hypertension = as.integer(pp$hypertension), heart_failure = as.integer(pp$heart_failure),
                   ldl30 = (pp$ldl - 130) / 30)
  long <- cbind(long, cv[long$id, ])
  f <- survival::coxph(survival::Surv(start, stop, event) ~ a + s + age10 + male + diabetes + hypertension +
                         heart_failure + ldl30, long)
  truth <- c(log(0.6), log(2), tr$parameters$outcome[-1])
  z <- (coef(f) - truth) / sqrt(diag(vcov(f)))
  expect_true(all(abs(z) < 3), label = paste(names(z), round(z, 2), collapse = " "))
  expect_gt(sum(long$event), 800)
})

test_that("the default screening effects are mostly null, and negative controls follow no drug", {
  x <- simulate_records(300, n_drugs = 12, n_negative_controls = 2, seed = 9)
  sd <- attr(x, "truth")$concepts$screening_drugs
  expect_identical(nrow(sd), 12L)
  expect_equal(sd$log_hr, c(log(1.5), 0, 0, 0, 0, log(2 / 3), 0, 0, 0, 0, log(1.5), 0))
  expect_length(attr(x, "truth")$concepts$negative_controls, 2)
  expect_true(all(sd$drug_concept_id > 2e9))
})

test_that("a seed reproduces the records and leaves the caller's random numbers alone", {
  set.seed(42)
  state <- .Random.seed
  x1 <- simulate_records(300, seed = 11)
  expect_identical(.Random.seed, state)
  x2 <- simulate_records(300, seed = 11)
  expect_identical(x1, x2)
  expect_false(identical(x1, simulate_records(300, seed = 12)))
  # NULL draws from the current stream.
  set.seed(3)
  y1 <- simulate_records(300)
  set.seed(3)
  expect_identical(simulate_records(300), y1)
  # Another generator's state is put back as it was.
  old <- RNGkind()
  RNGkind("L'Ecuyer-CMRG")
  on.exit(RNGkind(old[1], old[2], old[3]), add = TRUE)
  set.seed(1)
  state <- .Random.seed
  x3 <- simulate_records(300, seed = 11)
  expect_identical(.Random.seed, state)
  expect_identical(x3, x1)
  # Without a stream yet, none is left behind.
  RNGkind(old[1], old[2], old[3])
  rm(".Random.seed", envir = globalenv())
  simulate_records(50, seed = 1)
  expect_false(exists(".Random.seed", envir = globalenv(), inherits = FALSE))
  expect_identical(RNGkind(), old)
  set.seed(1)
})

test_that("bad arguments get errors naming the argument", {
  expect_snapshot(error = TRUE, simulate_records(0))
  expect_snapshot(error = TRUE, simulate_records("a"))
  expect_snapshot(error = TRUE, simulate_records(10, effect = NA))
  expect_snapshot(error = TRUE, simulate_records(10, effect = c(0, 1)))
  expect_snapshot(error = TRUE, simulate_records(10, n_drugs = 1.5))
  expect_snapshot(error = TRUE, simulate_records(10, n_drugs = 2, drug_effects = 0.1))
  expect_snapshot(error = TRUE, simulate_records(10, n_negative_controls = -1))
  expect_snapshot(error = TRUE, simulate_records(10, start_date = "2010-13-45"))
  expect_snapshot(error = TRUE, simulate_records(10, start_date = 2010))
  expect_snapshot(error = TRUE, simulate_records(10, years = 1))
  expect_snapshot(error = TRUE, simulate_records(10, seed = "a"))
  x <- simulate_records(50, seed = 1)
  expect_snapshot(error = TRUE, simulated_risk(list(), 365))
  expect_snapshot(error = TRUE, simulated_risk(x, -1))
  expect_snapshot(error = TRUE, simulated_risk(x, 365, persons = c(-5, 1e6)))
  expect_snapshot(error = TRUE, simulated_risk(x, 365, 1))
})
