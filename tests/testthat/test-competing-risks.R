# Competing risks: cumulative incidence per treatment level and cause,
# against survival::survfit() (Aalen-Johansen), cmprsk and riskRegression
# where installed, and hand implementations.

# Three causes, two arms confounded by x1 and x2, tied times, sampling weights.
simulate_competing <- function(n = 600, seed = 11) {
  set.seed(seed)
  x1 <- stats::rnorm(n)
  x2 <- stats::rbinom(n, 1, 0.4)
  arm <- factor(stats::rbinom(n, 1, stats::plogis(0.3 * x1 - 0.5 * x2)), 0:1, c("control", "treated"))
  rates <- exp(cbind(-2 + 0.4 * x1, -2.3 - 0.5 * (arm == "treated"), -2.6 + 0.6 * x2))
  latent <- matrix(stats::rexp(3 * n, rates), n)
  event_time <- apply(latent, 1L, min)
  censor <- stats::runif(n, 2, 25)
  time <- ceiling(pmin(event_time, censor) * 2) / 2
  code <- ifelse(event_time <= censor, max.col(-latent), 0L)
  data.frame(x1, x2, arm, time, code = as.integer(code),
             cause = factor(code, 0:3, c("censored", "cancer", "cardiac", "other")),
             sw = stats::runif(n, 0.5, 2))
}

# survfit()'s Aalen-Johansen curves of one arm at its own times, and the
# fit's at those times.
compare_with_survfit <- function(fit, sf, tolerance = 1e-8) {
  J <- length(fit$causes)
  for (k in seq_along(fit$levels)) {
    s <- sf[k, ]
    expect_identical(s$states[-1L], fit$causes)
    at <- match(s$time, fit$times)
    expect_false(anyNA(at))
    expect_equal(fit$cif[k, at, ], unname(s$pstate[, 1L + seq_len(J), drop = FALSE]),
                 tolerance = tolerance, ignore_attr = TRUE)
    if (!is.null(fit$cif_std_error)) {
      expect_equal(fit$cif_std_error[k, at, ], unname(s$std.err[, 1L + seq_len(J), drop = FALSE]),
                   tolerance = tolerance, ignore_attr = TRUE)
    }
    expect_equal(fit$survival[k, at], unname(s$pstate[, 1L]), tolerance = tolerance)
  }
}

test_that("unweighted and weighted Aalen-Johansen curves are survfit()'s, on colon and simulated data", {
  crc <- colon_competing()
  sim <- simulate_competing()
  wm_colon <- ipw(rx ~ age + sex + obstruct + perfor + adhere + extent + surg, data = crc)
  wm_sim <- ipw(arm ~ x1 + x2, data = sim, weights = "sw")
  cases <- list(
    colon = list(
      fit = survival_ipw(Surv(time, cause) ~ rx, data = crc),
      sf = survival::survfit(Surv(time, cause) ~ rx, data = crc)),
    colon_ipw = list(
      fit = survival_ipw(Surv(time, cause) ~ rx, data = crc, weight_model = wm_colon),
      sf = survival::survfit(Surv(time, cause) ~ rx, data = crc, weights = weights(wm_colon))),
    sim_sampling = list(
      fit = survival_ipw(Surv(time, cause) ~ arm, data = sim, weights = "sw"),
      sf = survival::survfit(Surv(time, cause) ~ arm, data = sim, weights = sw)),
    sim_ipw = list(
      fit = survival_ipw(Surv(time, cause) ~ arm, data = sim, weight_model = wm_sim, weights = "sw"),
      sf = survival::survfit(Surv(time, cause) ~ arm, data = sim,
                             weights = sim$sw * weights(wm_sim)))
  )
  for (case in names(cases)) {
    expect_s3_class(cases[[case]]$fit, "causal_competing")
    compare_with_survfit(cases[[case]]$fit, cases[[case]]$sf)
  }
})

test_that("the event as a factor and as Surv(type = 'mstate') codes give the same curves", {
  sim <- simulate_competing()
  by_factor <- survival_ipw(Surv(time, cause) ~ arm, data = sim)
  by_codes <- survival_ipw(Surv(time, code, type = "mstate") ~ arm, data = sim)
  expect_equal(by_codes$cif, by_factor$cif, ignore_attr = TRUE)
  expect_identical(by_codes$causes, c("1", "2", "3"))
  expect_identical(by_factor$causes, c("cancer", "cardiac", "other"))
})

test_that("the curves agree with cmprsk::cuminc() and riskRegression::Hazard ... where installed", {
  skip_if_not_installed("cmprsk")
  crc <- colon_competing()
  fit <- survival_ipw(Surv(time, cause) ~ rx, data = crc)
  times <- c(200, 700, 1500, 2500)
  ci <- cmprsk::timepoints(cmprsk::cuminc(crc$time, crc$code, crc$rx), times)
  mine <- causallib:::cif_at(fit, times)
  for (k in seq_along(fit$levels)) for (j in 1:2) {
    row <- paste(fit$levels[k], j)
    expect_equal(mine[k, , j], unname(ci$est[row, ]), tolerance = 1e-10)
  }
  skip_if_not_installed("riskRegression")
  skip_if_not_installed("prodlim")
  pl <- prodlim::prodlim(prodlim::Hist(time, code) ~ rx, data = crc)
  for (k in seq_along(fit$levels)) for (j in 1:2) {
    ref <- stats::predict(pl, cause = j, times = times,
                          newdata = data.frame(rx = fit$levels[k]))
    expect_equal(mine[k, , j], unname(unlist(ref)), tolerance = 1e-10)
  }
})

test_that("the per-person influence functions give the kernel's standard errors", {
  sim <- simulate_competing()
  wm <- ipw(arm ~ x1 + x2, data = sim)
  fit <- survival_ipw(Surv(time, cause) ~ arm, data = sim, weight_model = wm)
  times <- c(1, 5.5, 12, 14.5)
  U <- causallib:::aj_influence(fit, fit$ipw, times)
  expect_equal(sqrt(colSums(U^2)), as.vector(causallib:::cif_at(fit, times, fit$cif_std_error)),
               tolerance = 1e-10)
  # and survfit()'s influence (dP/dw_i per arm) times the weights
  sf <- survival::survfit(Surv(time, cause) ~ arm, data = sim, weights = weights(wm),
                          influence = TRUE, conf.type = "none")
  a <- as.integer(sim$arm)
  for (k in 1:2) {
    at <- findInterval(times, sf[k, ]$time)
    for (j in 1:3) {
      ref <- weights(wm)[a == k] * sf$influence.pstate[[k]][, at, 1L + j]
      cols <- k + 2L * (seq_along(times) - 1L) + 2L * length(times) * (j - 1L)
      expect_equal(U[a == k, cols], unname(ref), tolerance = 1e-8, ignore_attr = TRUE)
    }
  }
})

test_that("contrasts stack the propensity model: against a hand sandwich with a numerical Jacobian", {
  crc <- colon_competing()
  crc <- crc[crc$rx != "Lev", ]
  crc$rx <- droplevels(crc$rx)
  wm <- ipw(rx ~ age + sex + obstruct + perfor, data = crc)
  fit <- survival_ipw(Surv(time, cause) ~ rx, data = crc, weight_model = wm)
  times <- c(500, 1500)
  est <- estimate_effect(fit, times = times)
  # The hand version: glm(), survfit()'s influence and a central-difference
  # derivative of the curves in the propensity coefficients.
  g <- stats::glm(rx ~ age + sex + obstruct + perfor, family = binomial(), data = crc)
  X <- stats::model.matrix(g)
  treated <- crc$rx == "Lev+5FU"
  weights_at <- function(beta) {
    p <- drop(stats::plogis(X %*% beta))
    ifelse(treated, 1 / p, 1 / (1 - p))
  }
  cif <- function(w) {
    sf <- survival::survfit(Surv(time, cause) ~ rx, data = crc, weights = w, influence = TRUE,
                            conf.type = "none")
    list(sf = sf, value = c(vapply(1:2, function(k) {
      at <- findInterval(times, sf[k, ]$time)
      sf[k, ]$pstate[at, 2:3]
    }, numeric(4))))
  }
  b <- stats::coef(g)
  w <- weights_at(b)
  base <- cif(w)
  h <- 1e-6
  D <- vapply(seq_along(b), function(l) {
    e <- replace(numeric(length(b)), l, h)
    (cif(weights_at(b + e))$value - cif(weights_at(b - e))$value) / (2 * h)
  }, numeric(8))
  # value order: arm, then cause, then time (2 times x 2 causes per arm)
  Uw <- matrix(0, nrow(crc), 8)
  for (k in 1:2) {
    rows <- which(as.integer(crc$rx) == k)
    at <- findInterval(times, base$sf[k, ]$time)
    infl <- base$sf$influence.pstate[[k]][, at, 2:3, drop = FALSE]
    Uw[rows, (k - 1L) * 4L + 1:4] <- w[rows] * matrix(infl, length(rows))
  }
  p <- stats::fitted(g)
  scores <- X * (treated - p)
  H <- crossprod(X * sqrt(p * (1 - p)))
  phi <- Uw + scores %*% solve(H) %*% t(D)
  # risk differences of each cause at each time: treated (arm 2) minus arm 1
  diffs <- phi[, 5:8] - phi[, 1:4]
  ref_se <- sqrt(colSums(diffs^2))
  # estimate_effect() orders by cause, then time
  expect_equal(unname(est$estimate), base$value[5:8] - base$value[1:4], tolerance = 1e-10)
  expect_equal(unname(sqrt(diag(est$vcov))), ref_se, tolerance = 1e-5)
  # the weights treated as fixed give other (larger, for ATE weights) errors
  fixed_se <- sqrt(colSums((Uw[, 5:8] - Uw[, 1:4])^2))
  expect_false(isTRUE(all.equal(fixed_se, ref_se, tolerance = 1e-3)))
})

# Standardized cause-specific pooled-logistic hazards by hand: glm() per
# cause on the expanded person-period data, then every person's discrete
# hazards under each level, S(t) = prod (1 - sum_j h_j), F_j = sum S(t-1) h_j.
hand_cs_standardization <- function(d, breaks, covariates) {
  n <- nrow(d)
  Tn <- length(breaks) - 1L
  last <- findInterval(d$time, breaks, left.open = TRUE)
  code <- d$code
  last[last == 0L & code > 0L] <- 1L
  pp <- d[rep(seq_len(n), last), ]
  pp$period <- sequence(last)
  pp$event <- ifelse(pp$period == rep(last, last), rep(code, last), 0L)
  rhs <- paste("rx * (period + I(period^2)) +", paste(covariates, collapse = " + "))
  J <- max(code)
  models <- lapply(seq_len(J), function(j) {
    pp$y <- as.integer(pp$event == j)
    stats::glm(stats::as.formula(paste("y ~", rhs)), family = binomial(), data = pp)
  })
  lev <- levels(d$rx)
  out <- array(0, c(length(lev), Tn, J))
  for (k in seq_along(lev)) {
    nd <- d[rep(seq_len(n), each = Tn), ]
    nd$rx <- factor(lev[k], levels = lev)
    nd$period <- rep(seq_len(Tn), n)
    h <- lapply(models, function(m) matrix(stats::predict(m, nd, type = "response"), n, byrow = TRUE))
    S <- rep(1, n)
    Fk <- numeric(J)
    for (t in seq_len(Tn)) {
      ht <- vapply(h, function(m) m[, t], numeric(n))
      Fk <- Fk + colMeans(S * ht)
      S <- S * (1 - rowSums(ht))
      out[k, t, ] <- Fk
    }
  }
  out
}

test_that("standardized cause-specific pooled-logistic curves match glm() on person-period data", {
  crc <- colon_competing()
  breaks <- seq(0, max(crc$time), length.out = 9)
  fit <- survival_standardization(time_terms = quadratic_time, Surv(time, cause) ~ rx + age + sex + obstruct, data = crc,
                                  treatment = "rx", breaks = breaks, se = "none")
  expect_s3_class(fit, "causal_competing")
  ref <- hand_cs_standardization(crc, breaks, c("age", "sex", "obstruct"))
  expect_equal(unname(fit$cif), ref, tolerance = 1e-7)
  expect_equal(fit$survival, 1 - apply(fit$cif, c(1L, 2L), sum), tolerance = 1e-10,
               ignore_attr = TRUE)
})

# Standardized cause-specific Cox curves by hand: coxph() per cause,
# basehaz(), and the product-limit curves of every person under each level.
hand_cs_cox <- function(d, covariates, times) {
  rhs <- paste(c("rx", covariates), collapse = " + ")
  J <- max(d$code)
  event_times <- sort(unique(d$time[d$code > 0]))
  dH0 <- sapply(seq_len(J), function(j) {
    cph <- survival::coxph(stats::as.formula(paste("Surv(time, code == j) ~", rhs)), data = d,
                           ties = "efron")
    bh <- survival::basehaz(cph, centered = FALSE)
    diff(c(0, stats::stepfun(bh$time, c(0, bh$hazard))(event_times)))
  })
  coefs <- lapply(seq_len(J), function(j) {
    stats::coef(survival::coxph(stats::as.formula(paste("Surv(time, code == j) ~", rhs)), data = d,
                                ties = "efron"))
  })
  lev <- levels(d$rx)
  out <- array(0, c(length(lev), length(times), J))
  for (k in seq_along(lev)) {
    nd <- d
    nd$rx <- factor(lev[k], levels = lev)
    X <- stats::model.matrix(stats::as.formula(paste("~", rhs)), nd)[, -1L]
    risk <- sapply(coefs, function(b) exp(drop(X %*% b)))
    S <- rep(1, nrow(d))
    Fk <- matrix(0, length(event_times), J)
    acc <- numeric(J)
    for (t in seq_along(event_times)) {
      dH <- risk * rep(dH0[t, ], each = nrow(d))
      acc <- acc + colMeans(S * dH)
      S <- S * (1 - rowSums(dH))
      Fk[t, ] <- acc
    }
    out[k, , ] <- rbind(0, Fk)[findInterval(times, event_times) + 1L, ]
  }
  out
}

test_that("standardized cause-specific Cox curves match coxph() by hand and riskRegression::ate()", {
  crc <- colon_competing()
  fit <- survival_standardization(Surv(time, cause) ~ rx + age + sex + obstruct, data = crc,
                                  treatment = "rx", model = "cox", se = "none")
  expect_s3_class(fit, "causal_competing")
  times <- c(100, 500, 1500, 2500)
  mine <- causallib:::cif_at(fit, times)
  expect_equal(mine, hand_cs_cox(crc, c("age", "sex", "obstruct"), times), tolerance = 1e-8)
  skip_if_not_installed("riskRegression")
  skip_if_not_installed("prodlim")
  # riskRegression reads Hist() in the formula's text (and drops columns named status)
  crc$status <- NULL
  hist <- stats::as.formula("Hist(time, code) ~ rx + age + sex + obstruct", env = asNamespace("prodlim"))
  csc <- eval(bquote(riskRegression::CSC(.(hist), data = crc)))
  for (j in 1:2) {
    ate <- riskRegression::ate(csc, treatment = "rx", data = crc, times = times, cause = j,
                               se = FALSE, verbose = FALSE)
    ref <- matrix(ate$meanRisk$estimate, length(times))
    expect_equal(t(mine[, , j]), ref, tolerance = 1e-8, ignore_attr = TRUE)
  }
})

test_that("competing-risks fits keep the model invariants", {
  sim <- simulate_competing(300)
  grid <- seq(0, max(sim$time), length.out = 7)
  wm <- ipw(arm ~ x1 + x2, data = sim)
  fits <- list(
    aj = survival_ipw(Surv(time, cause) ~ arm, data = sim, weight_model = wm, weights = "sw"),
    std = survival_standardization(time_terms = quadratic_time, Surv(time, cause) ~ arm + x1 + x2, data = sim, treatment = "arm",
                                   breaks = grid, weights = "sw", se = "none"))
  for (fit in fits) {
    est <- causallib:::means(fit)
    # refit with unit case weights, and the bootstrap statistic at counts = 1
    expect_equal(causallib:::means(causallib:::refit(fit, case_weights = rep(1, fit$n))), est)
    one <- causallib:::bootstrap_replicates(fit, matrix(1L, fit$n, 1L))
    expect_equal(as.vector(one), est)
    # a replicate is the fit on the expanded data
    counts <- causallib:::bootstrap_counts(fit$n, 1L)
    rep1 <- causallib:::bootstrap_replicates(fit, counts)
    expect_equal(as.vector(rep1),
                 causallib:::means(causallib:::refit(fit, case_weights = counts[, 1L])))
  }
  # rescaling every sampling weight changes nothing
  sim2 <- transform(sim, sw = sw * 37.5)
  wm2 <- ipw(arm ~ x1 + x2, data = sim2)
  again <- survival_ipw(Surv(time, cause) ~ arm, data = sim2, weight_model = wm2, weights = "sw")
  expect_equal(again$cif, fits$aj$cif, tolerance = 1e-12)
  expect_equal(again$cif_std_error, fits$aj$cif_std_error, tolerance = 1e-12)
  std2 <- survival_standardization(time_terms = quadratic_time, Surv(time, cause) ~ arm + x1 + x2, data = sim2, treatment = "arm",
                                   breaks = grid, weights = "sw", se = "none")
  expect_equal(std2$cif, fits$std$cif, tolerance = 1e-8)
  # and so does the number of threads
  withr::local_options(causallib.threads = 1L)
  one_thread <- survival_standardization(time_terms = quadratic_time, Surv(time, cause) ~ arm + x1 + x2, data = sim,
                                         treatment = "arm", breaks = grid,
                                         weights = "sw", se = "none")
  withr::local_options(causallib.threads = 2L)
  two_threads <- survival_standardization(time_terms = quadratic_time, Surv(time, cause) ~ arm + x1 + x2, data = sim,
                                          treatment = "arm", breaks = grid,
                                          weights = "sw", se = "none")
  expect_identical(one_thread$cif, two_threads$cif)
})

test_that("tidy() names the causes, and the bootstrap gives contrasts per cause", {
  sim <- simulate_competing(300)
  set.seed(3)
  fit <- survival_ipw(Surv(time, cause) ~ arm, data = sim, se = "bootstrap", R = 20)
  td <- tidy(fit)
  expect_named(td, c("time", "treatment", "cause", "estimate", "std.error", "conf.low", "conf.high"))
  expect_identical(levels(td$cause), c("cancer", "cardiac", "other"))
  first <- td[td$time == 0, ]
  expect_true(all(first$estimate == 0))
  row <- td[td$time == fit$times[10] & td$treatment == "treated" & td$cause == "cardiac", ]
  expect_equal(row$estimate, fit$cif[2L, 10L, 2L], ignore_attr = TRUE)
  expect_equal(row$std.error, stats::sd(fit$replicates[, 2L, 10L, 2L]))
  est <- estimate_effect(fit, times = c(5, 10), cause = "cardiac")
  expect_identical(names(est$estimate), c("cardiac: treated vs control at 5", "cardiac: treated vs control at 10"))
  expect_equal(unname(est$estimate),
               fit$cif[2L, findInterval(c(5, 10), fit$times), 2L] - fit$cif[1L, findInterval(c(5, 10), fit$times), 2L])
  expect_identical(dim(est$replicates), c(20L, 2L))
  out <- capture.output(print(fit))
  expect_true(any(grepl("cardiac", out)))
  expect_true(any(grepl("Cumulative incidence at times", out)))
})

test_that("sandwich intervals of the curves are survfit()'s log-scale intervals", {
  sim <- simulate_competing()
  fit <- survival_ipw(Surv(time, cause) ~ arm, data = sim)
  sf <- survival::survfit(Surv(time, cause) ~ arm, data = sim)
  td <- tidy(fit)
  s <- sf[2L, ]
  at <- s$time[c(5, 15, 30)]
  for (j in 1:3) {
    rows <- td[td$treatment == "treated" & td$cause == fit$causes[j] & td$time %in% at, ]
    ref <- match(at, s$time)
    expect_equal(rows$conf.low, unname(s$lower[ref, 1L + j]), tolerance = 1e-8)
    expect_equal(rows$conf.high, unname(s$upper[ref, 1L + j]), tolerance = 1e-8)
  }
})

test_that("competing-risks input errors name the argument and what to do", {
  sim <- simulate_competing(200)
  expect_snapshot(error = TRUE, {
    survival_ipw(Surv(time, cause) ~ arm, data = sim, method = "pooled_logistic")
    survival_ipw(Surv(time, cause) ~ arm, data = sim, censoring_model = ~ x1)
    survival_standardization(Surv(time, cause) ~ arm + x1, data = sim, treatment = "arm",
                             model = "cox", stratified = TRUE)
    survival_standardization(time_terms = quadratic_time, Surv(time, cause) ~ arm + x1, data = sim, treatment = "arm",
                             breaks = seq(0, 25, by = 5), se = "sandwich")
    estimate_effect(survival_ipw(Surv(time, cause) ~ arm, data = sim), times = 5, cause = "stroke")
  })
})

test_that("with three levels (a multinomial propensity model) the stacked sandwich agrees with the bootstrap", {
  crc <- colon_competing()
  wm <- ipw(rx ~ age + sex + obstruct + perfor + adhere + extent, data = crc)
  fit <- survival_ipw(Surv(time, cause) ~ rx, data = crc, weight_model = wm)
  sand <- estimate_effect(fit, times = c(700, 1800))
  set.seed(1)
  boot <- estimate_effect(survival_ipw(Surv(time, cause) ~ rx, data = crc, weight_model = wm,
                                       se = "bootstrap", R = 300), times = c(700, 1800))
  expect_identical(names(sand$estimate), names(boot$estimate))
  expect_equal(sand$estimate, boot$estimate)
  expect_equal(sqrt(diag(sand$vcov)), sqrt(diag(boot$vcov)), tolerance = 0.12)
})

test_that("one cause is one minus the Kaplan-Meier curve, with its standard error", {
  sim <- simulate_competing()
  sim$any <- as.integer(sim$code > 0L)
  sim$one <- factor(sim$any, 0:1, c("censored", "event"))
  # Weights held fixed in both (KM's sandwich with a weight model also
  # stacks the propensity model).
  w <- weights(ipw(arm ~ x1 + x2, data = sim))
  cr <- survival_ipw(Surv(time, one) ~ arm, data = sim, weights = w)
  km <- survival_ipw(Surv(time, any) ~ arm, data = sim, weights = w)
  expect_equal(cr$cif[, , 1L], 1 - km$survival, tolerance = 1e-12, ignore_attr = TRUE)
  expect_equal(cr$cif_std_error[, , 1L], km$std_error, tolerance = 1e-10, ignore_attr = TRUE)
})

test_that("events at time 0 and a cause without events in a level", {
  sim <- simulate_competing(300)
  sim$time[1:5] <- 0
  sim$code[sim$arm == "treated" & sim$code == 3L] <- 0L
  sim$cause <- factor(sim$code, 0:3, c("censored", "cancer", "cardiac", "other"))
  expect_warning(fit <- survival_ipw(Surv(time, cause) ~ arm, data = sim),
                 "no events")
  expect_true(all(fit$cif["treated", , "other"] == 0, na.rm = TRUE))
  compare_with_survfit(fit, survival::survfit(Surv(time, cause) ~ arm, data = sim))
  expect_error(survival_standardization(time_terms = quadratic_time, Surv(time, cause) ~ arm + x1, data = sim, treatment = "arm",
                                        breaks = seq(0, max(sim$time), length.out = 5)),
               "no events")
})

test_that("the cumulative incidence plot draws tidy()'s curves and bands, one panel per cause", {
  skip_if_not_installed("ggplot2")
  sim <- simulate_competing()
  fit <- survival_ipw(Surv(time, cause) ~ arm, data = sim, weight_model = arm ~ x1 + x2)
  td <- tidy(fit)
  td <- td[!is.na(td$estimate), ]
  built <- ggplot2::ggplot_build(ggplot2::autoplot(fit, risk_table = "none"))
  kinds <- vapply(built$plot$layers, function(l) class(l$geom)[1L], character(1))
  expect_identical(unname(kinds), c("GeomRibbon", "GeomStep"))
  steps <- built$data[[2L]]
  expect_equal(nrow(steps), nrow(td))
  expect_equal(sort(steps$y), sort(td$estimate), tolerance = 1e-12)
  expect_equal(length(unique(steps$PANEL)), nlevels(factor(td$cause)))
  bands <- built$data[[1L]]
  expect_true(all(bands$ymin <= bands$ymax + 1e-12))
  expect_setequal(unique(bands$ymax), unique(td$conf.high))
  # Without intervals there is no band.
  none <- survival_ipw(Surv(time, cause) ~ arm, data = sim, se = "none")
  expect_length(ggplot2::autoplot(none, risk_table = "none")$layers, 1L)
  expect_identical(ggplot2::autoplot(fit)$labels$y, "Cumulative incidence")
})
