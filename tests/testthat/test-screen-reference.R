# screen() in data mode against independent references: each pair's
# propensity model refitted with glm(), its weights, balance (cobalt),
# support and AUC by hand, the estimates by survival's survfit() and coxph(),
# the calibration by direct EmpiricalCalibration calls and the q-values by
# p.adjust(). Data the package does not ship: survival's colon trial,
# subsampled so that the arms are confounded, and a simulation with a known
# risk ratio.

skip_if_not_installed("future.apply")
skip_if_not_installed("progressr")
skip_if_not_installed("EmpiricalCalibration")
skip_if_not_installed("cobalt")

# ---- data ----------------------------------------------------------------------

# One row per person of survival::colon, its three arms the "exposures",
# kept with a probability that depends on the arm and the covariates (so
# the weights are not trivial). Cohorts: recurrence (death before it
# censors, event 2), death, and four negative controls drawn independently
# of the arm (censored by death, event 2, or the end of follow-up).
screen_colon <- function(seed = 20261201) {
  rec <- survival::colon[survival::colon$etype == 1, ]
  dth <- survival::colon[survival::colon$etype == 2, ]
  dth <- dth[match(rec$id, dth$id), ]
  ok <- !is.na(rec$differ)
  rec <- rec[ok, ]
  dth <- dth[ok, ]
  set.seed(seed)
  tr <- as.character(rec$rx)
  lp <- ifelse(tr == "Obs", -0.05 * (rec$age - 60) + 0.8 * rec$obstruct,
               ifelse(tr == "Lev", 0.04 * (rec$age - 60) - 0.6 * rec$sex, 0.7 * rec$node4 - 0.3 * rec$extent))
  keep <- stats::runif(nrow(rec)) < stats::plogis(0.5 + lp)
  rec <- rec[keep, ]
  dth <- dth[keep, ]
  n <- nrow(rec)
  base <- data.frame(person_id = rec$id, treatment = as.character(rec$rx), sex = rec$sex, age = rec$age,
                     obstruct = rec$obstruct, adhere = rec$adhere, node4 = rec$node4,
                     differ = factor(rec$differ, labels = c("well", "moderate", "poor")),
                     extent = rec$extent, surg = rec$surg, stringsAsFactors = FALSE)
  cohort <- function(time, event) {
    d <- base
    d$time <- time
    d$event <- event
    d
  }
  out <- list(
    recurrence = cohort(rec$time, ifelse(rec$status == 1, 1, ifelse(dth$status == 1, 2, 0))),
    death = cohort(dth$time, dth$status)
  )
  for (k in 1:4) {
    t_nc <- stats::rexp(n, rate = exp(-8.8 + 0.02 * (rec$age - 60) + 0.3 * rec$obstruct))
    hit <- t_nc <= dth$time
    out[[paste0("nc", k)]] <- cohort(ifelse(hit, t_nc, dth$time), ifelse(hit, 1, ifelse(dth$status == 1, 2, 0)))
  }
  out
}

screen_arms <- c("Obs", "Lev", "Lev+5FU")
screen_covs <- c("sex", "age", "obstruct", "adhere", "node4", "differ", "extent", "surg")
screen_h <- 1825

# ---- hand references ------------------------------------------------------------

# The pair's persons, treatment a factor (comparator label, exposure).
ref_pair_data <- function(d, exposure, comparator) {
  comps <- if (comparator == "other exposures") setdiff(unique(as.character(d$treatment)), exposure) else comparator
  d <- d[as.character(d$treatment) %in% c(exposure, comps), , drop = FALSE]
  d$treatment <- factor(ifelse(as.character(d$treatment) == exposure, exposure, comparator),
                        levels = c(comparator, exposure))
  d
}

# Crude standardized differences of one covariate (pooled sd: root mean of
# the arms' variances; binary: p (1 - p); factors: each level).
ref_crude_smd <- function(x, a) {
  if (is.factor(x) && nlevels(droplevels(x)) > 2L) {
    return(vapply(levels(droplevels(x)), function(l) ref_crude_smd(as.numeric(x == l), a), numeric(1)))
  }
  x <- as.numeric(if (is.factor(x)) as.integer(droplevels(x)) else x)
  vals <- sort(unique(x))
  m <- tapply(x, a, mean)
  v <- if (length(vals) == 2L) {
    p <- tapply(x == vals[2L], a, mean)
    p * (1 - p)
  } else {
    tapply(x, a, stats::var)
  }
  unname((m[2L] - m[1L]) / sqrt(mean(v)))
}

# Everything about a pair that does not depend on the estimator (memoised:
# each pair is looked up once per estimator and test).
ref_cache <- new.env()
ref_pair <- function(d, exposure, comparator, covs, horizon, proxy_smd = 1) {
  key <- paste(rlang::hash(d), exposure, comparator, paste(covs, collapse = ","), horizon, proxy_smd)
  if (is.null(ref_cache[[key]])) ref_cache[[key]] <- ref_pair_fit(d, exposure, comparator, covs, horizon, proxy_smd)
  ref_cache[[key]]
}

ref_pair_fit <- function(d, exposure, comparator, covs, horizon, proxy_smd) {
  d <- ref_pair_data(d, exposure, comparator)
  a <- as.integer(d$treatment == exposure)
  const <- covs[vapply(covs, function(v) length(unique(d[[v]])) < 2L, logical(1))]
  covs <- setdiff(covs, const)
  smd <- vapply(covs, function(v) max(abs(ref_crude_smd(d[[v]], a))), numeric(1))
  proxy <- covs[smd > proxy_smd]
  covs <- setdiff(covs, proxy)
  rhs <- if (length(covs)) paste0("`", covs, "`", collapse = " + ") else "1"
  g <- stats::glm(stats::as.formula(paste("treatment ~", rhs)), family = stats::binomial(), data = d,
                  control = stats::glm.control(epsilon = 1e-14, maxit = 100))
  p <- unname(stats::fitted(g))
  w <- ifelse(a == 1, 1 / p, 1 / (1 - p))
  ess <- function(k) sum(w[a == k])^2 / sum(w[a == k]^2)
  r <- rank(p)
  n1 <- sum(a)
  n0 <- sum(a == 0L)
  auc <- (sum(r[a == 1]) - n1 * (n1 + 1) / 2) / (n1 * n0)
  out1 <- p[a == 1] < min(p[a == 0]) | p[a == 1] > max(p[a == 0])
  out0 <- p[a == 0] < min(p[a == 1]) | p[a == 0] > max(p[a == 1])
  max_smd <- if (length(covs)) {
    bt <- cobalt::bal.tab(d[covs], treat = a, weights = w, method = "weighting", s.d.denom = "pooled",
                          binary = "raw", continuous = "std", quick = TRUE)
    max(abs(bt$Balance$Diff.Adj))
  } else 0
  by_h <- d$event == 1 & d$time <= horizon
  list(data = d, a = a, w = w, covariates = covs,
       dropped = c(if (length(const)) paste0(const, " (constant)"), if (length(proxy)) paste0(proxy, " (proxy)")),
       n_exposed = n1, n_comparator = n0,
       events_exposed = sum(by_h & a == 1), events_comparator = sum(by_h & a == 0),
       ess_exposed = ess(1), ess_comparator = ess(0), auc = auc,
       out_of_support = (sum(out1) + sum(out0)) / length(a), max_smd = max_smd)
}

ref_step_at <- function(time, surv, t) {
  j <- findInterval(t, time)
  if (j == 0L) 1 else surv[j]
}

# IP-weighted Kaplan-Meier risk ratio (death censors).
ref_ipw_rr <- function(ref, horizon) {
  d <- ref$data
  d$w <- ref$w
  s <- vapply(levels(d$treatment), function(l) {
    km <- survival::survfit(survival::Surv(time, event == 1) ~ 1, data = d[d$treatment == l, ], weights = w)
    ref_step_at(km$time, km$surv, horizon)
  }, numeric(1))
  (1 - s[[2L]]) / (1 - s[[1L]])
}

# Standardized Cox risk ratio: coxph (Efron ties) on the pair, every person
# set to each arm, the predicted survival curves averaged.
ref_std_rr <- function(ref, horizon) {
  d <- ref$data
  rhs <- paste(c("treatment", if (length(ref$covariates)) paste0("`", ref$covariates, "`")), collapse = " + ")
  cox <- survival::coxph(stats::as.formula(paste("survival::Surv(time, event == 1) ~", rhs)), data = d,
                         ties = "efron")
  s <- vapply(levels(d$treatment), function(l) {
    nd <- d
    nd$treatment <- factor(l, levels = levels(d$treatment))
    sf <- survival::survfit(cox, newdata = nd, se.fit = FALSE)
    j <- findInterval(horizon, sf$time)
    if (j == 0L) 1 else mean(sf$surv[j, ])
  }, numeric(1))
  (1 - s[[2L]]) / (1 - s[[1L]])
}

pair_key <- function(x) paste(x$exposure, x$comparator, x$outcome, sep = " | ")

run_screen <- function(spec, data, ...) {
  future::plan(future::sequential)
  screen(spec, data = data, ...)
}

# ---- the screens ---------------------------------------------------------------

colon_cohorts <- screen_colon()
nc_names <- paste0("nc", 1:4)

res_pooled_cmp <- run_screen(
  screen_spec(exposures = screen_arms, outcomes = c("recurrence", "death"), negative_controls = nc_names,
              estimators = c("ipw", "standardization"), horizon = screen_h),
  colon_cohorts, calibration = "exposure", min_negative_controls = 3
)

res_explicit <- run_screen(
  screen_spec(exposures = c("Lev", "Lev+5FU"), comparators = "Obs", outcomes = "recurrence",
              negative_controls = nc_names, estimators = c("ipw", "standardization"), horizon = screen_h),
  colon_cohorts, calibration = "pooled", min_negative_controls = 3
)

# The rows of each pair (one per estimator share the pair's quantities).
pair_rows <- function(res) {
  x <- as.data.frame(res)
  x[!duplicated(pair_key(x)), , drop = FALSE]
}

check_pair_quantities <- function(res, cohorts, covs = screen_covs) {
  pr <- pair_rows(res)
  expect_true(all(pr$status == "ok"))
  for (i in seq_len(nrow(pr))) {
    r <- pr[i, ]
    ref <- ref_pair(cohorts[[r$outcome]], r$exposure, r$comparator, covs, screen_h)
    label <- pair_key(r)
    expect_identical(r$n_exposed, ref$n_exposed, label = label)
    expect_identical(r$n_comparator, ref$n_comparator, label = label)
    expect_identical(r$events_exposed, ref$events_exposed, label = label)
    expect_identical(r$events_comparator, ref$events_comparator, label = label)
    expect_identical(r$covariates, length(ref$covariates), label = label)
    expect_equal(r$auc, ref$auc, tolerance = 1e-8, label = label)
    expect_equal(r$ess_exposed, ref$ess_exposed, tolerance = 1e-7, label = label)
    expect_equal(r$ess_comparator, ref$ess_comparator, tolerance = 1e-7, label = label)
    expect_equal(r$out_of_support, ref$out_of_support, tolerance = 1e-12, label = label)
    expect_equal(r$max_smd, ref$max_smd, tolerance = 1e-7, label = label)
  }
  invisible(pr)
}

test_that("per pair: sizes, events by horizon, propensity AUC, ESS, balance and support match hand references (pooled comparator)", {
  pr <- check_pair_quantities(res_pooled_cmp, colon_cohorts)
  # 3 exposures x 6 outcomes, each against every other exposure.
  expect_identical(nrow(pr), 18L)
  expect_true(all(pr$comparator == "other exposures"))
  # The pooled comparator holds every other arm's persons.
  d <- colon_cohorts$recurrence
  expect_identical(pr$n_comparator[pr$exposure == "Obs" & pr$outcome == "recurrence"],
                   sum(d$treatment != "Obs"))
  # The weights matter: the confounded subsample is not balanced crude.
  expect_true(all(pr$auc > 0.55))
})

test_that("the pooled comparator holds the other exposures only, not arms outside the screen", {
  # Lev+5FU is in the data but not an exposure: Obs is compared with Lev alone.
  d <- colon_cohorts["recurrence"]
  res <- run_screen(screen_spec(exposures = c("Obs", "Lev"), outcomes = "recurrence", estimators = "ipw",
                                horizon = screen_h), d, calibration = "none")
  x <- as.data.frame(res)
  two <- d$recurrence[d$recurrence$treatment %in% c("Obs", "Lev"), ]
  for (e in c("Obs", "Lev")) {
    r <- x[x$exposure == e, ]
    ref <- ref_pair(two, e, "other exposures", screen_covs, screen_h)
    expect_identical(r$n_comparator, sum(two$treatment != e), label = e)
    expect_identical(r$events_comparator, ref$events_comparator, label = e)
    expect_equal(r$auc, ref$auc, tolerance = 1e-8, label = e)
    expect_equal(r$estimate, ref_ipw_rr(ref, screen_h), tolerance = 1e-8, label = e)
  }
  # Obs against Lev is the inverse of Lev against Obs.
  expect_equal(x$estimate[x$exposure == "Obs"] * x$estimate[x$exposure == "Lev"], 1, tolerance = 1e-10)
})

test_that("per pair: the same quantities match with an explicit comparator", {
  pr <- check_pair_quantities(res_explicit, colon_cohorts)
  expect_identical(nrow(pr), 10L)
  expect_setequal(pr$comparator, "Obs")
  d <- colon_cohorts$recurrence
  expect_identical(pr$n_comparator[1L], sum(d$treatment == "Obs"))
})

test_that("ipw and standardization estimates equal IP-weighted Kaplan-Meier and standardized Cox risk ratios", {
  for (res in list(res_pooled_cmp, res_explicit)) {
    x <- as.data.frame(res)
    for (i in seq_len(nrow(x))) {
      r <- x[i, ]
      ref <- ref_pair(colon_cohorts[[r$outcome]], r$exposure, r$comparator, screen_covs, screen_h)
      rr <- switch(r$estimator, ipw = ref_ipw_rr(ref, screen_h), standardization = ref_std_rr(ref, screen_h))
      label <- paste(pair_key(r), r$estimator)
      expect_equal(r$estimate, rr, tolerance = if (r$estimator == "ipw") 1e-8 else 1e-6, label = label)
      expect_equal(r$log_rr, log(r$estimate), tolerance = 1e-12, label = label)
    }
  }
})

test_that("intervals and p-values are Wald on the log risk ratio", {
  for (res in list(res_pooled_cmp, res_explicit)) {
    x <- as.data.frame(res)
    expect_true(all(is.finite(x$se) & x$se > 0))
    z <- stats::qnorm(0.975)
    expect_equal(x$conf_low, exp(x$log_rr - z * x$se), tolerance = 1e-12)
    expect_equal(x$conf_high, exp(x$log_rr + z * x$se), tolerance = 1e-12)
    expect_equal(x$p_value, 2 * stats::pnorm(-abs(x$log_rr / x$se)), tolerance = 1e-12)
  }
})

# Calibration of one group by direct EmpiricalCalibration calls.
ref_calibration <- function(x, rows) {
  nc <- rows & x$negative_control
  null <- EmpiricalCalibration::fitNull(x$log_rr[nc], x$se[nc])
  model <- EmpiricalCalibration::fitSystematicErrorModel(x$log_rr[nc], x$se[nc], rep(0, sum(nc)))
  ci <- EmpiricalCalibration::calibrateConfidenceInterval(x$log_rr[rows], x$se[rows], model)
  list(p = EmpiricalCalibration::calibrateP(null, x$log_rr[rows], x$se[rows]),
       low = exp(ci$logLb95Rr), high = exp(ci$logUb95Rr))
}

test_that("calibration per exposure, comparator and estimator equals direct EmpiricalCalibration calls", {
  x <- as.data.frame(res_pooled_cmp)
  groups <- unique(x[c("exposure", "comparator", "estimator")])
  expect_identical(nrow(groups), 6L)
  for (g in seq_len(nrow(groups))) {
    rows <- x$exposure == groups$exposure[g] & x$comparator == groups$comparator[g] &
      x$estimator == groups$estimator[g]
    expect_identical(sum(rows & x$negative_control), 4L)
    ref <- ref_calibration(x, rows)
    label <- paste(groups[g, ], collapse = " | ")
    expect_equal(x$p_calibrated[rows], ref$p, tolerance = 1e-10, label = label)
    expect_equal(x$conf_low_calibrated[rows], ref$low, tolerance = 1e-10, label = label)
    expect_equal(x$conf_high_calibrated[rows], ref$high, tolerance = 1e-10, label = label)
  }
})

test_that("pooled calibration per estimator equals direct EmpiricalCalibration calls", {
  x <- as.data.frame(res_explicit)
  for (e in c("ipw", "standardization")) {
    rows <- x$estimator == e
    expect_identical(sum(rows & x$negative_control), 8L)
    ref <- ref_calibration(x, rows)
    expect_equal(x$p_calibrated[rows], ref$p, tolerance = 1e-10, label = e)
    expect_equal(x$conf_low_calibrated[rows], ref$low, tolerance = 1e-10, label = e)
    expect_equal(x$conf_high_calibrated[rows], ref$high, tolerance = 1e-10, label = e)
  }
})

test_that("q-values are Benjamini-Hochberg over each estimator's outcomes of interest", {
  for (res in list(res_pooled_cmp, res_explicit)) {
    x <- as.data.frame(res)
    expect_true(all(is.na(x$q_value[x$negative_control])))
    expect_true(all(is.na(x$q_calibrated[x$negative_control])))
    for (e in unique(x$estimator)) {
      rows <- x$estimator == e & !x$negative_control
      expect_equal(x$q_value[rows], stats::p.adjust(x$p_value[rows], "BH"), tolerance = 1e-14, label = e)
      expect_equal(x$q_calibrated[rows], stats::p.adjust(x$p_calibrated[rows], "BH"), tolerance = 1e-14, label = e)
    }
    few <- grepl("few_events", x$flags, fixed = TRUE)
    expect_identical(x$signal, !x$negative_control & x$q_calibrated < attr(res, "fdr") & !few)
    # the few_events flag: expected events in the smaller arm under no effect
    ok <- x$status == "ok"
    expected <- (x$events_exposed + x$events_comparator) / (x$n_exposed + x$n_comparator) *
      pmin(x$n_exposed, x$n_comparator)
    expect_equal(x$expected_events[ok], expected[ok], tolerance = 1e-14)
    expect_identical(few[ok], expected[ok] < 5)
  }
})

test_that("with fewer negative controls than min_negative_controls nothing is calibrated and signal uses q_value", {
  # 2 exposures x 4 negative controls: 8 per estimator, one short of 9.
  res <- run_screen(attr(res_explicit, "spec"), colon_cohorts, calibration = "pooled", min_negative_controls = 9)
  x <- as.data.frame(res)
  ref <- as.data.frame(res_explicit)
  expect_true(all(is.na(x$p_calibrated) & is.na(x$conf_low_calibrated) & is.na(x$conf_high_calibrated)))
  expect_true(all(is.na(x$q_calibrated)))
  expect_equal(x$estimate, ref$estimate, tolerance = 1e-12)
  for (e in unique(x$estimator)) {
    rows <- x$estimator == e & !x$negative_control
    expect_equal(x$q_value[rows], stats::p.adjust(x$p_value[rows], "BH"), tolerance = 1e-14, label = e)
  }
  few <- grepl("few_events", x$flags, fixed = TRUE)
  expect_identical(x$signal, !x$negative_control & !is.na(x$q_value) & x$q_value < attr(res, "fdr") & !few)
  expect_false(any(grepl("uncalibrated", x$flags)))
})

test_that("the fitted empirical nulls are kept in attribute `nulls`, one per calibration group", {
  check_nulls <- function(res, groups) {
    x <- as.data.frame(res)
    nulls <- attr(res, "nulls")
    expect_setequal(names(nulls), groups)
    g_of <- if (attr(res, "calibration") == "exposure") paste(x$exposure, x$comparator, x$estimator, sep = " | ") else x$estimator
    for (g in groups) {
      nc <- g_of == g & x$negative_control
      expect_equal(nulls[[g]]$null, EmpiricalCalibration::fitNull(x$log_rr[nc], x$se[nc]), tolerance = 1e-10, label = g)
      expect_equal(nulls[[g]]$log_rr, x$log_rr[nc], label = g)
    }
  }
  x <- as.data.frame(res_pooled_cmp)
  check_nulls(res_pooled_cmp, unique(paste(x$exposure, x$comparator, x$estimator, sep = " | ")))
  check_nulls(res_explicit, c("ipw", "standardization"))
})

test_that("a pair with nothing dropped reports nothing in `dropped`", {
  for (res in list(res_pooled_cmp, res_explicit)) {
    pr <- pair_rows(res)
    for (i in seq_len(nrow(pr))) {
      ref <- ref_pair(colon_cohorts[[pr$outcome[i]]], pr$exposure[i], pr$comparator[i], screen_covs, screen_h)
      expect_identical(ref$dropped, NULL)
      expect_identical(pr$dropped[i], "", label = pair_key(pr[i, ]))
    }
  }
})

# ---- covariates dropped, chosen per pair ---------------------------------------

# `tiny` is constant (1) among Obs and Lev and varies a little among
# Lev+5FU: constant in the pair Lev vs Obs only. `proxy` is the Lev
# indicator with 3% of it flipped: a proxy of the exposure where Lev is
# compared with Obs, not where Lev+5FU is.
set.seed(7)
drop_cohorts <- lapply(colon_cohorts[c("recurrence", "death")], function(d) {
  d$tiny <- ifelse(d$treatment == "Lev+5FU", 1 + stats::rnorm(nrow(d), sd = 0.01), 1)
  d$proxy <- as.integer(xor(d$treatment == "Lev", stats::runif(nrow(d)) < 0.03))
  d
})
drop_covs <- c(screen_covs, "tiny", "proxy")
res_drop <- run_screen(
  screen_spec(exposures = c("Lev", "Lev+5FU"), comparators = "Obs", outcomes = c("recurrence", "death"),
              estimators = "ipw", horizon = screen_h),
  drop_cohorts, calibration = "none"
)
res_drop_pooled <- run_screen(
  screen_spec(exposures = screen_arms, outcomes = "recurrence", estimators = "ipw", horizon = screen_h),
  drop_cohorts["recurrence"], calibration = "none"
)

test_that("constant covariates are dropped in the pair where they are constant, proxies where they are proxies", {
  expected <- data.frame(
    exposure = c("Lev", "Lev+5FU", "Lev", "Lev+5FU"),
    outcome = c("recurrence", "recurrence", "death", "death"),
    dropped = I(list(c("tiny (constant)", "proxy (proxy)"), character(), c("tiny (constant)", "proxy (proxy)"),
                     character()))
  )
  pr <- check_pair_quantities(res_drop, drop_cohorts, drop_covs)
  for (i in seq_len(nrow(expected))) {
    r <- pr[pr$exposure == expected$exposure[i] & pr$outcome == expected$outcome[i], ]
    ref <- ref_pair(drop_cohorts[[r$outcome]], r$exposure, r$comparator, drop_covs, screen_h)
    label <- pair_key(r)
    # The hand reference agrees with the design of the data ...
    expect_identical(as.character(ref$dropped), expected$dropped[[i]], label = label)
    expect_identical(r$covariates, length(drop_covs) - length(expected$dropped[[i]]), label = label)
    # ... and the screen used those covariates: its estimate is the weighted
    # Kaplan-Meier with the reference's propensity model.
    expect_equal(r$estimate, ref_ipw_rr(ref, screen_h), tolerance = 1e-8, label = label)
    if (length(expected$dropped[[i]])) {
      expect_identical(strsplit(r$dropped, ", ", fixed = TRUE)[[1L]], expected$dropped[[i]], label = label)
    }
  }
  # Against every other exposure, the Lev indicator is a proxy of each arm.
  pr <- check_pair_quantities(res_drop_pooled, drop_cohorts, drop_covs)
  expect_true(all(grepl("proxy (proxy)", pr$dropped, fixed = TRUE)))
  expect_false(any(grepl("tiny", pr$dropped, fixed = TRUE)))
})

test_that("proxy_smd = Inf keeps the proxy; a lower proxy_smd drops more, as the crude differences say", {
  for (cut in c(Inf, 0.25)) {
    res <- run_screen(
      screen_spec(exposures = "Lev", comparators = "Obs", outcomes = "recurrence", estimators = "ipw",
                  horizon = screen_h, proxy_smd = cut),
      drop_cohorts["recurrence"], calibration = "none"
    )
    ref <- ref_pair(drop_cohorts$recurrence, "Lev", "Obs", drop_covs, screen_h, proxy_smd = cut)
    expect_identical(res$covariates, length(ref$covariates), label = format(cut))
    expect_equal(res$auc, ref$auc, tolerance = 1e-8, label = format(cut))
    expect_equal(res$estimate, ref_ipw_rr(ref, screen_h), tolerance = 1e-8, label = format(cut))
  }
  expect_true("proxy" %in% ref_pair(drop_cohorts$recurrence, "Lev", "Obs", drop_covs, screen_h, Inf)$covariates)
  expect_gt(length(ref_pair(drop_cohorts$recurrence, "Lev", "Obs", drop_covs, screen_h, 0.25)$dropped), 2L)
})

test_that("covariates as a function of (exposure, comparator, outcome) are used per pair", {
  seen <- new.env()
  pick <- function(exposure, comparator, outcome) {
    seen[[paste(exposure, comparator, outcome)]] <- TRUE
    if (exposure == "Lev") c("age", "sex", if (outcome == "death") "node4")
    else c("age", "obstruct", "differ", if (outcome == "death") "extent")
  }
  res <- run_screen(
    screen_spec(exposures = c("Lev", "Lev+5FU"), comparators = "Obs", outcomes = c("recurrence", "death"),
                estimators = c("ipw", "standardization"), horizon = screen_h, covariates = pick),
    drop_cohorts, calibration = "none"
  )
  x <- as.data.frame(res)
  expect_setequal(ls(seen), c("Lev Obs recurrence", "Lev+5FU Obs recurrence", "Lev Obs death", "Lev+5FU Obs death"))
  for (i in seq_len(nrow(x))) {
    r <- x[i, ]
    covs <- pick(r$exposure, r$comparator, r$outcome)
    ref <- ref_pair(drop_cohorts[[r$outcome]], r$exposure, r$comparator, covs, screen_h)
    label <- paste(pair_key(r), r$estimator)
    expect_identical(r$covariates, length(covs), label = label)
    expect_equal(r$auc, ref$auc, tolerance = 1e-8, label = label)
    expect_equal(r$max_smd, ref$max_smd, tolerance = 1e-7, label = label)
    rr <- switch(r$estimator, ipw = ref_ipw_rr(ref, screen_h), standardization = ref_std_rr(ref, screen_h))
    expect_equal(r$estimate, rr, tolerance = if (r$estimator == "ipw") 1e-8 else 1e-6, label = label)
  }
})

# ---- aipw, on a simulation with a known risk ratio ------------------------------

# Arms a, b, c from a multinomial logit in (x1, x2), so that each pair's
# logistic propensity is correctly specified; the outcome hazard is
# proportional (exponential baseline), so the pair's Cox model is too.
# Death is independent of everything (the censoring it makes is
# ignorable) and follow-up ends uniformly on (2, 6).
sim_screen <- function(n, seed, beta = c(a = log(1.8), b = 0, c = 0), lambda = 0.08) {
  set.seed(seed)
  x1 <- stats::rnorm(n)
  x2 <- stats::rbinom(n, 1, 0.4)
  eta <- cbind(a = 0.6 * x1 - 0.5 * x2, b = -0.4 * x1 + 0.7 * x2, c = 0)
  pr <- exp(eta) / rowSums(exp(eta))
  tr <- c("a", "b", "c")[apply(pr, 1L, function(p) sample.int(3L, 1L, prob = p))]
  hz <- lambda * exp(beta[tr] + 0.7 * x1 + 0.5 * x2)
  t_y <- stats::rexp(n, hz)
  t_d <- stats::rexp(n, 0.05)
  t_c <- stats::runif(n, 2, 6)
  time <- pmin(t_y, t_d, t_c)
  event <- ifelse(time == t_y, 1, ifelse(time == t_d, 2, 0))
  data.frame(treatment = tr, time = time, event = event, x1 = x1, x2 = x2, stringsAsFactors = FALSE)
}

# The true risk ratio by t of arm e against arm r, among the persons of the
# two arms (the ATE population of the pair), by Monte Carlo over x
# (memoised in ref_cache).
sim_true_rr <- function(e, r, t, beta = c(a = log(1.8), b = 0, c = 0), lambda = 0.08, m = 2e5) {
  key <- paste("truth", e, r, t, paste(beta, collapse = ","), lambda, m)
  if (is.null(ref_cache[[key]])) ref_cache[[key]] <- sim_true_rr_fit(e, r, t, beta, lambda, m)
  ref_cache[[key]]
}

sim_true_rr_fit <- function(e, r, t, beta, lambda, m) {
  set.seed(99)
  x1 <- stats::rnorm(m)
  x2 <- stats::rbinom(m, 1, 0.4)
  eta <- cbind(a = 0.6 * x1 - 0.5 * x2, b = -0.4 * x1 + 0.7 * x2, c = 0)
  pr <- exp(eta) / rowSums(exp(eta))
  w <- pr[, e] + pr[, r]
  risk <- function(k) sum(w * (1 - exp(-lambda * t * exp(beta[[k]] + 0.7 * x1 + 0.5 * x2)))) / sum(w)
  risk(e) / risk(r)
}

test_that("aipw equals a direct survival_aipw() call and agrees with ipw, standardization and the truth", {
  d <- sim_screen(1500, seed = 3)
  h <- 3
  res <- run_screen(
    screen_spec(exposures = c("a", "b"), comparators = "c", outcomes = "y",
                estimators = c("ipw", "aipw", "standardization"), horizon = h),
    list(y = d), calibration = "none"
  )
  x <- as.data.frame(res)
  expect_true(all(x$status == "ok"))
  for (e in c("a", "b")) {
    ref <- ref_pair(d, e, "c", c("x1", "x2"), h)
    pd <- ref$data
    wm <- ipw(treatment ~ x1 + x2, data = pd)
    fit <- survival_aipw(survival::Surv(time, event == 1) ~ treatment + x1 + x2, data = pd, treatment = "treatment",
                         weight_model = wm, model = "cox")
    tt <- tidy(estimate_effect(fit, times = h, contrast = "risk_ratio"))
    r <- x[x$exposure == e, ]
    ra <- r[r$estimator == "aipw", ]
    expect_equal(ra$estimate, tt$estimate[1L], tolerance = 1e-10, label = e)
    expect_equal(ra$se, tt$std.error[1L], tolerance = 1e-10, label = e)
    expect_equal(r$estimate[r$estimator == "ipw"], ref_ipw_rr(ref, h), tolerance = 1e-8, label = e)
    expect_equal(r$estimate[r$estimator == "standardization"], ref_std_rr(ref, h), tolerance = 1e-6, label = e)
    # All three are consistent here: close to each other and to the truth.
    truth <- sim_true_rr(e, "c", h)
    expect_true(all(abs(r$log_rr - log(truth)) < 4 * r$se), label = paste(e, "within 4 se of the truth"))
    expect_lt(max(r$log_rr) - min(r$log_rr), 0.1, label = paste(e, "spread of the three log risk ratios"))
  }
  # The truth is far from the null for a and null for b: the check can tell.
  expect_gt(sim_true_rr("a", "c", h), 1.4)
  expect_equal(sim_true_rr("b", "c", h), 1)
})

# ---- invariants ------------------------------------------------------------------

result_columns <- function(res) {
  x <- as.data.frame(res)
  x[setdiff(names(x), c("warnings"))]
}

test_that("shuffling the rows of the cohorts changes no result", {
  set.seed(11)
  shuffled <- lapply(colon_cohorts, function(d) d[sample.int(nrow(d)), , drop = FALSE])
  res <- run_screen(attr(res_explicit, "spec"), shuffled, calibration = "pooled", min_negative_controls = 3)
  expect_equal(result_columns(res), result_columns(res_explicit), tolerance = 1e-8)
})

test_that("a treatment column given as a factor gives the results of a character one", {
  as_factor <- lapply(colon_cohorts, function(d) {
    d$treatment <- factor(d$treatment, levels = c("Lev+5FU", "unused", "Obs", "Lev"))
    d
  })
  res <- run_screen(attr(res_explicit, "spec"), as_factor, calibration = "pooled", min_negative_controls = 3)
  expect_equal(result_columns(res), result_columns(res_explicit), tolerance = 1e-12)
})

test_that("a pair with only a proxy dropped reports only the proxy", {
  pr <- pair_rows(res_drop_pooled)
  r <- pr[pr$exposure == "Lev" & pr$outcome == "recurrence", ]
  expect_identical(r$dropped, "proxy (proxy)")
})
