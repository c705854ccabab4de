# The pooled-logistic fitter over person-time, against glm() on the long
# person-period table built here in R (the slow, obvious reference).

sim_person_time <- function(n = 400, Tmax = 8, K = 2, p0 = 3, seed = 1) {
  withr::local_seed(seed)
  X <- matrix(stats::rnorm(n * p0), n, p0)
  arm <- sample.int(K, n, replace = TRUE) - 1L
  tt <- seq_len(Tmax) / Tmax
  Fm <- cbind(tt, tt^2)
  lp <- -2 + drop(X %*% c(0.5, -0.4, 0.3, 0.1)[seq_len(p0)]) + 0.3 * arm
  haz <- stats::plogis(outer(lp, 1.2 * tt, "+"))
  hit <- matrix(stats::runif(n * Tmax), n, Tmax) < haz
  event_time <- ifelse(rowSums(hit) > 0, max.col(hit, ties.method = "first"), Tmax + 1L)
  censor_time <- sample(0:Tmax, n, replace = TRUE, prob = c(0.05, rep(0.95 / Tmax, Tmax)))
  last <- as.integer(pmin(event_time, censor_time, Tmax))
  status <- as.integer(event_time <= pmin(censor_time, Tmax))
  list(X = X, Fm = Fm, arm = arm, K = K, last = last, status = status,
       w = rep(1, n), Tmax = Tmax)
}

# The long table: one row per person and period at risk.
pt_long <- function(s, intercept = TRUE, interact = TRUE, cens = NULL,
                    Fm = s$Fm) {
  id <- rep(seq_along(s$last), s$last)
  t <- sequence(s$last)
  a <- s$arm[id]
  Ft <- Fm[t, , drop = FALSE]
  Z <- cbind(if (intercept) 1, s$X[id, , drop = FALSE], Ft)
  if (interact && s$K > 1 && ncol(Fm) > 0) {
    for (k in seq_len(s$K - 1)) Z <- cbind(Z, Ft * (a == k))
  }
  prior <- s$w[id]
  if (!is.null(cens)) {
    cell <- cbind(a + 1, t)
    num <- if (is.null(cens$ln)) 1 else 1 - stats::plogis(cens$ln[id] + cens$cn[cell])
    f <- num / (1 - stats::plogis(cens$lc[id] + cens$cc[cell]))
    prior <- prior * stats::ave(f, id, FUN = function(v) c(1, cumprod(v))[seq_along(v)])
  }
  list(Z = unname(Z), y = as.numeric(t == s$last[id] & s$status[id] == 1),
       prior = prior, a = a, t = t)
}

# s$arm is 0-based as the reference uses it; the C fitter takes R's codes 1..K.
pt_fit <- function(s, intercept = TRUE, interact = TRUE, cens = NULL,
                   penalty = NULL, nthreads = 1L, maxit = 50L, Fm = s$Fm,
                   offset = NULL) {
  .Call(causallib:::C_ffi_pt_fit, s$X, intercept, Fm, s$arm + 1L, as.integer(s$K),
        interact, s$last, s$status, s$w, cens, as.integer(maxit), 1e-12,
        penalty, as.integer(nthreads), offset)
}

glm_long <- function(long) {
  suppressWarnings(stats::glm(long$y ~ 0 + long$Z, family = stats::binomial(),
                              weights = long$prior,
                              control = stats::glm.control(epsilon = 1e-12, maxit = 50)))
}

info_at <- function(long, beta) {
  mu <- stats::plogis(drop(long$Z %*% ifelse(is.na(beta), 0, beta)))
  list(H = crossprod(long$Z * sqrt(long$prior * mu * (1 - mu))),
       score = drop(crossprod(long$Z, long$prior * (long$y - mu))))
}

expect_matches_glm <- function(fit, long) {
  ref <- glm_long(long)
  expect_true(fit$converged)
  expect_false(fit$failed)
  expect_equal(fit$coefficients, unname(coef(ref)), tolerance = 1e-8)
  expect_equal(fit$aliased, unname(is.na(coef(ref))))
  expect_equal(fit$deviance, ref$deviance, tolerance = 1e-8)
  expect_equal(fit$rank, ref$rank)
  expect_equal(fit$information, info_at(long, coef(ref))$H, tolerance = 1e-7)
  expect_equal(fit$rows, sum(long$prior > 0))
  expect_equal(fit$events, sum(long$y[long$prior > 0]))
  expect_false(fit$separation)
}

test_that("two arms with arm-by-period terms match glm() on the long table", {
  s <- sim_person_time()
  expect_true(any(s$last == 0))
  fit <- pt_fit(s)
  expect_length(fit$coefficients, 1 + 3 + 2 + 2)
  expect_matches_glm(fit, pt_long(s))
})

test_that("three arms, no interaction, no intercept match glm()", {
  s <- sim_person_time(K = 3, seed = 2)
  expect_matches_glm(pt_fit(s), pt_long(s))
  expect_matches_glm(pt_fit(s, interact = FALSE), pt_long(s, interact = FALSE))
  expect_matches_glm(pt_fit(s, intercept = FALSE), pt_long(s, intercept = FALSE))
})

test_that("non-integer and zero person weights match glm() prior weights", {
  s <- sim_person_time(seed = 3)
  s$w <- stats::runif(length(s$w), 0.2, 3)
  s$w[1:40] <- 0
  expect_matches_glm(pt_fit(s), pt_long(s))
})

test_that("censoring weights, with and without a numerator, match R's products", {
  s <- sim_person_time(seed = 4)
  n <- length(s$w)
  withr::local_seed(5)
  cens <- list(lc = stats::rnorm(n, -2, 0.5), cc = matrix(stats::rnorm(2 * s$Tmax, 0, 0.3), 2),
               ln = NULL, cn = NULL)
  expect_matches_glm(pt_fit(s, cens = cens), pt_long(s, cens = cens))
  cens$ln <- stats::rnorm(n, -2, 0.2)
  cens$cn <- matrix(stats::rnorm(2 * s$Tmax, 0, 0.1), 2)
  long <- pt_long(s, cens = cens)
  expect_matches_glm(pt_fit(s, cens = cens), long)

  tab <- .Call(causallib:::C_ffi_pt_risk_table, s$arm + 1L, 2L, s$last, s$status, s$w,
               cens, as.integer(s$Tmax))
  cell <- list(factor(long$a, 0:1), factor(long$t, seq_len(s$Tmax)))
  expect_equal(tab$at_risk, unclass(tapply(long$prior, cell, sum, default = 0)),
               tolerance = 1e-12, ignore_attr = TRUE)
  expect_equal(tab$events, unclass(tapply(long$prior * long$y, cell, sum, default = 0)),
               tolerance = 1e-12, ignore_attr = TRUE)
})

test_that("the risk table without censoring weights sums the long table", {
  s <- sim_person_time(K = 3, seed = 6)
  s$w <- stats::runif(length(s$w))
  long <- pt_long(s)
  tab <- .Call(causallib:::C_ffi_pt_risk_table, s$arm + 1L, 3L, s$last, s$status, s$w,
               NULL, 10L)
  cell <- list(factor(long$a, 0:2), factor(long$t, 1:10))
  expect_equal(dim(tab$at_risk), c(3L, 10L))
  expect_equal(tab$at_risk, unclass(tapply(long$prior, cell, sum, default = 0)),
               tolerance = 1e-12, ignore_attr = TRUE)
  expect_equal(tab$events, unclass(tapply(long$prior * long$y, cell, sum, default = 0)),
               tolerance = 1e-12, ignore_attr = TRUE)
})

test_that("no period columns, and no person columns, match glm()", {
  s <- sim_person_time(seed = 7)
  Fm0 <- s$Fm[, 0, drop = FALSE]
  fit <- pt_fit(s, Fm = Fm0)
  expect_length(fit$coefficients, 4)
  expect_matches_glm(fit, pt_long(s, Fm = Fm0))
  s$X <- s$X[, 0, drop = FALSE]
  expect_matches_glm(pt_fit(s), pt_long(s))
  expect_matches_glm(pt_fit(s, intercept = FALSE), pt_long(s, intercept = FALSE))
})

test_that("a duplicated column is aliased with an NA coefficient, like glm()", {
  s <- sim_person_time(seed = 8)
  s$X <- cbind(s$X, s$X[, 2])
  fit <- pt_fit(s)
  expect_identical(which(fit$aliased), 5L)
  expect_true(is.na(fit$coefficients[5]))
  expect_equal(fit$rank, 8L)
  expect_matches_glm(fit, pt_long(s))
})

test_that("a ridge penalty matches a penalized Newton solve on the long table", {
  s <- sim_person_time(seed = 9)
  long <- pt_long(s)
  pen <- c(0, rep(2, 3), rep(0.5, 4))
  b <- numeric(ncol(long$Z))
  for (i in 1:100) {
    at <- info_at(long, b)
    step <- solve(at$H + diag(pen), at$score - pen * b)
    b <- b + step
    if (max(abs(step)) < 1e-13) break
  }
  fit <- pt_fit(s, penalty = pen)
  expect_true(fit$converged)
  expect_equal(fit$coefficients, b, tolerance = 1e-8)
  at <- info_at(long, fit$coefficients)
  expect_equal(fit$information, at$H + diag(pen), tolerance = 1e-7)
  expect_equal(fit$deviance, -2 * sum(long$prior * stats::dbinom(
    long$y, 1, stats::plogis(drop(long$Z %*% b)), log = TRUE)), tolerance = 1e-8)
  expect_lt(max(abs(fit$score)), 1e-6)
})

test_that("information and score are those at the returned coefficients", {
  s <- sim_person_time(K = 3, seed = 10)
  s$w <- stats::runif(length(s$w), 0.5, 2)
  long <- pt_long(s)
  fit <- pt_fit(s, maxit = 1L)
  expect_false(fit$converged)
  expect_identical(fit$iter, 1L)
  at <- info_at(long, fit$coefficients)
  expect_equal(fit$information, at$H, tolerance = 1e-10)
  expect_equal(fit$score, at$score, tolerance = 1e-10)
  expect_gt(max(abs(fit$score)), 1e-3)
})

test_that("an arm without events is flagged as separated", {
  s <- sim_person_time(seed = 11)
  s$status[s$arm == 1] <- 0L
  expect_true(pt_fit(s)$separation)
})

test_that("a per-person offset enters every period, as offset() in glm() on the long table", {
  s <- sim_person_time(seed = 14)
  s$w <- stats::runif(length(s$w), 0.5, 2)
  off <- stats::rnorm(length(s$last), sd = 0.5)
  cens <- list(lc = stats::rnorm(length(s$last), -2, 0.3), cc = matrix(0.1, 2, s$Tmax),
               ln = NULL, cn = NULL)
  for (args in list(list(), list(intercept = FALSE), list(interact = FALSE), list(cens = cens))) {
    long <- do.call(pt_long, c(list(s), args))
    long_off <- off[rep(seq_along(s$last), s$last)]
    ref <- suppressWarnings(stats::glm(long$y ~ 0 + long$Z + offset(long_off),
                                       family = stats::binomial(), weights = long$prior,
                                       control = stats::glm.control(epsilon = 1e-12, maxit = 50)))
    fit <- do.call(pt_fit, c(list(s, offset = off), args))
    expect_true(fit$converged)
    expect_equal(fit$coefficients, unname(coef(ref)), tolerance = 1e-8)
    expect_equal(fit$deviance, ref$deviance, tolerance = 1e-8)
    mu <- stats::fitted(ref)
    expect_equal(fit$information, crossprod(long$Z * sqrt(long$prior * mu * (1 - mu))),
                 tolerance = 1e-7)
  }
  # A zero offset is no offset, to the bit.
  expect_identical(pt_fit(s, offset = numeric(length(s$last))), pt_fit(s))
})

test_that("pt_fit() passes its offset to the C fitter", {
  s <- sim_person_time(seed = 15)
  colnames(s$X) <- paste0("x", seq_len(ncol(s$X)))
  colnames(s$Fm) <- c("t1", "t2")
  off <- stats::rnorm(length(s$last), sd = 0.5)
  pt <- list(last = s$last, status = s$status, arm = factor(s$arm), n_periods = s$Tmax,
             f = s$Fm)
  fit <- causallib:::pt_fit(s$X, pt, s$w, TRUE, lrn_glm(stats::binomial(), epsilon = 1e-12,
                                                       maxit = 50), offset = off)
  expect_equal(unname(fit$coefficients), pt_fit(s, offset = off)$coefficients)
  expect_false(isTRUE(all.equal(unname(fit$coefficients), pt_fit(s)$coefficients)))
})

test_that("fits do not depend on the scale of the person weights", {
  s <- sim_person_time(seed = 6)
  n <- length(s$w)
  withr::local_seed(8)
  s$w <- stats::runif(n, 0.2, 3)
  cens <- list(lc = stats::rnorm(n, -2, 0.5), cc = matrix(stats::rnorm(2 * s$Tmax, 0, 0.3), 2),
               ln = stats::rnorm(n, -2, 0.2), cn = matrix(stats::rnorm(2 * s$Tmax, 0, 0.1), 2))
  for (cn in list(NULL, cens)) {
    base <- pt_fit(s, cens = cn)
    for (scale in c(1e-3, 1000)) {
      big <- s
      big$w <- scale * s$w
      scaled <- pt_fit(big, cens = cn)
      expect_true(scaled$converged)
      expect_equal(scaled$coefficients, base$coefficients, tolerance = 1e-10)
      expect_identical(scaled$iter, base$iter)
      expect_equal(scaled$deviance, scale * base$deviance, tolerance = 1e-10)
      expect_equal(scaled$information, scale * base$information, tolerance = 1e-10)
    }
  }
})

test_that("results are identical whatever the thread count", {
  s <- sim_person_time(n = 20000, Tmax = 5, K = 2, seed = 12)
  s$w <- stats::runif(length(s$w), 0.5, 2)
  cens <- list(lc = rep(-2, 20000), cc = matrix(0.1, 2, 5), ln = NULL, cn = NULL)
  one <- pt_fit(s, cens = cens, nthreads = 1L)
  two <- pt_fit(s, cens = cens, nthreads = 2L)
  expect_identical(one, two)
  expect_true(one$converged)
})

test_that("the C entry points reject malformed input without crashing", {
  s <- sim_person_time(n = 20, seed = 13)
  call_fit <- function(...) {
    args <- utils::modifyList(list(X = s$X, intercept = TRUE, F = s$Fm, arm = s$arm + 1L,
                                   K = 2L, interact = TRUE, last = s$last, status = s$status,
                                   w = s$w, cens = NULL, maxit = 25L, epsilon = 1e-8,
                                   penalty = NULL, nthreads = 1L, offset = NULL), list(...))
    do.call(.Call, c(list(causallib:::C_ffi_pt_fit), unname(args)))
  }
  expect_true(call_fit()$converged)
  expect_error(call_fit(arm = replace(s$arm + 1L, 1, 3L)), "`arm` must hold codes 1 to 2")
  expect_error(call_fit(arm = replace(s$arm + 1L, 1, 0L)), "`arm` must hold codes 1 to 2")
  expect_error(call_fit(arm = replace(s$arm, 1, NA_integer_)), "arm")
  expect_error(call_fit(last = replace(s$last, which(s$status == 1)[1], 0L)), "needs `last`")
  expect_error(call_fit(last = replace(s$last, 1, 9L)), "last")
  expect_error(call_fit(status = replace(s$status, 1, 2L)), "status")
  expect_error(call_fit(w = replace(s$w, 1, NA)), "w")
  expect_error(call_fit(w = replace(s$w, 1, -1)), "non-negative")
  expect_error(call_fit(X = replace(s$X, 1, Inf)), "X")
  expect_error(call_fit(F = replace(s$Fm, 1, NA)), "F")
  expect_error(call_fit(arm = as.numeric(s$arm + 1L)), "integer")
  expect_error(call_fit(w = s$w[-1]), "length")
  expect_error(call_fit(interact = NA), "interact")
  expect_error(call_fit(penalty = 1), "penalty")
  expect_error(call_fit(penalty = rep(-1, 8)), "penalty")
  expect_error(call_fit(epsilon = 0), "epsilon")
  expect_error(call_fit(cens = list(1)), "cens")
  expect_error(call_fit(cens = list(rep(0, 20), matrix(0, 2, 8), rep(0, 20), NULL)), "both")
  expect_error(call_fit(cens = list(rep(0, 20), matrix(0, 2, 7), NULL, NULL)), "cens\\$cc")
  expect_error(.Call(causallib:::C_ffi_pt_risk_table, s$arm + 1L, 2L, s$last, s$status,
                     s$w, NULL, 3L), "last")
  expect_error(.Call(causallib:::C_ffi_pt_risk_table, s$arm + 1L, 2L, s$last, s$status,
                     s$w, NULL, -1L), "Tmax")
})

# ---- The time scale: automatic grids and the default time terms ------------

test_that("fine-grained times get an automatic grid, said once, in calendar units when named", {
  r <- survival::rotterdam
  # no unit: the finest of 1, 2, 5 x 10^k giving at most 250 periods (7043 / 50)
  msgs <- character()
  fit <- withCallingHandlers(
    survival_ipw(Surv(dtime, death) ~ hormon, data = r, method = "pooled_logistic", se = "none"),
    message = function(m) {
      msgs <<- c(msgs, conditionMessage(m))
      invokeRestart("muffleMessage")
    })
  expect_length(msgs, 1L)
  expect_match(msgs, "2,215 distinct values: the pooled-logistic model uses 141 periods of width 50")
  expect_equal(fit$breaks, 50 * (0:141))
  # days: the finest calendar unit giving at most 250 periods, a month
  expect_message(
    fit <- survival_ipw(Surv(dtime, death) ~ hormon, data = r, method = "pooled_logistic",
                        time_unit = "day", se = "none"),
    "232 periods of 1 month \\(30.44 days\\)")
  expect_equal(fit$breaks, 365.25 / 12 * (0:232))
  # the same choice in the matrix interface, and in standardization
  expect_message(m <- survival_ipw_fit(r$hormon, r$dtime, r$death, method = "pooled_logistic",
                                       time_unit = "day", se = "none"), "232 periods")
  expect_equal(unname(m$survival), unname(fit$survival))
  expect_message(s <- survival_standardization(Surv(dtime, death) ~ hormon + age, data = r,
                                               treatment = "hormon", time_unit = "day",
                                               se = "none"), "232 periods")
  expect_equal(s$breaks, fit$breaks)
  # colon: days up to 3329, 110 months
  co <- survival::colon[survival::colon$etype == 2, ]
  expect_message(cf <- survival_ipw(Surv(time, status) ~ rx, data = co, method = "pooled_logistic",
                                    time_unit = "day", se = "none"), "110 periods of 1 month")
  # whole numbers up to 250 keep their unit periods, without a message
  expect_no_message(nh <- survival_ipw(Surv(survtime, death) ~ qsmk, data = nhefs,
                                       method = "pooled_logistic", se = "none"))
  expect_equal(nh$breaks, 0:120)
})

test_that("period and time_unit give evenly spaced breaks; misuse is refused naming the argument", {
  r <- survival::rotterdam
  w <- survival_ipw(Surv(dtime, death) ~ hormon, data = r, method = "pooled_logistic",
                    period = "year", time_unit = "day", se = "none")
  expect_equal(w$breaks, 365.25 * (0:20))
  expect_equal(w$pt$width, "1 year (365.2 days)")
  n <- survival_ipw(Surv(dtime, death) ~ hormon, data = r, method = "pooled_logistic",
                    period = 365.25, se = "none")
  expect_equal(n$survival, w$survival)
  yrs <- transform(r, years = dtime / 365.25)
  y <- survival_ipw(Surv(years, death) ~ hormon, data = yrs, method = "pooled_logistic",
                    period = "year", time_unit = "year", se = "none")
  expect_equal(unname(y$survival), unname(w$survival), tolerance = 1e-12)
  expect_snapshot(error = TRUE, {
    survival_ipw(Surv(dtime, death) ~ hormon, data = r, period = "month")
  })
  expect_snapshot(error = TRUE, {
    survival_ipw(Surv(dtime, death) ~ hormon, data = r, period = "month", time_unit = "day",
                 breaks = 0:10)
  })
  expect_error(survival_ipw(Surv(dtime, death) ~ hormon, data = r, period = -1), "`period`")
  expect_error(survival_standardization(Surv(dtime, death) ~ hormon + age, data = r,
                                        treatment = "hormon", time_unit = "days"), "`time_unit`")
  expect_error(survival_standardization_fit(matrix(r$age), r$hormon, r$dtime, r$death,
                                            period = "fortnight", time_unit = "day"), "`period`")
})

test_that("the four survival fitters share the time-scale arguments", {
  for (f in list(survival_ipw, survival_ipw_fit, survival_standardization,
                 survival_standardization_fit)) {
    expect_true(all(c("time_terms", "breaks", "period", "time_unit") %in% names(formals(f))))
    expect_null(formals(f)$time_terms)
  }
})

test_that("the default time terms are a natural spline by the cube root of the events", {
  # hand-computed table: events -> df (cube root, rounded down, 1 to 10,
  # fewer than the periods with an event)
  cases <- list(list(events = 1272, periods = 200, df = 10), list(events = 318, periods = 120, df = 6),
                list(events = 27, periods = 40, df = 3), list(events = 7, periods = 3, df = 1),
                list(events = 3000, periods = 500, df = 10), list(events = 64, periods = 4, df = 3))
  for (cs in cases) {
    withr::local_seed(cs$events)
    last <- sample.int(cs$periods, cs$events, replace = TRUE)
    k <- min(cs$periods, cs$events)
    last[seq_len(k)] <- seq_len(k)
    tt <- causallib:::default_time_terms(last, rep(1L, cs$events), max(last, 2L))
    f <- causallib:::period_terms(tt, max(last, 2L))
    expect_equal(ncol(f), cs$df, info = cs$events)
  }
  # knots at quantiles of the event periods: the basis of ns() with those knots
  r <- survival::rotterdam
  fit <- suppressMessages(survival_ipw(Surv(dtime, death) ~ hormon, data = r,
                                       method = "pooled_logistic", time_unit = "day", se = "none"))
  ev <- fit$pt$last[fit$pt$status == 1L]
  ref <- splines::ns(1:232, knots = quantile(ev, (1:9) / 10, names = FALSE),
                     Boundary.knots = c(1, 232))
  expect_equal(unname(fit$pt$f), unname(unclass(ref)[, 1:10]), tolerance = 1e-5)
})

test_that("default pooled-logistic curves on rotterdam follow the Kaplan-Meier curves", {
  r <- survival::rotterdam
  fit <- suppressMessages(survival_ipw(Surv(dtime, death) ~ hormon, data = r,
                                       method = "pooled_logistic", time_unit = "day", se = "none"))
  km <- survival::survfit(Surv(dtime, death) ~ hormon, data = r)
  ev <- sort(unique(r$dtime[r$death == 1]))
  s <- summary(km, times = ev, extend = TRUE)
  km_s <- matrix(s$surv, 2, byrow = TRUE)
  at_risk <- matrix(s$n.risk, 2, byrow = TRUE)
  d <- abs(causallib:::survival_at(fit, ev) - km_s)
  d[rbind(ev > 7043, ev > 6270)] <- NA
  # measured 0.022 where 50 or more are at risk; 0.063 in the tails, where a
  # Kaplan-Meier curve steps by 1/(a few) and a smooth hazard cannot
  expect_lt(max(d[at_risk >= 50], na.rm = TRUE), 0.025)
  expect_lt(max(d, na.rm = TRUE), 0.07)
  expect_lt(stats::median(d, na.rm = TRUE), 0.01)
})

test_that("a grid far finer than the events support gets a warning", {
  r <- survival::rotterdam
  expect_snapshot(fit <- survival_ipw(Surv(dtime, death) ~ hormon, data = r[r$dtime < 1500, ],
                                      method = "pooled_logistic", period = "day",
                                      time_unit = "day", se = "none"))
  expect_no_warning(survival_ipw(Surv(survtime, death) ~ qsmk, data = nhefs,
                                 method = "pooled_logistic", se = "none"))
})
