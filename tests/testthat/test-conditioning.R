# Covariates far from 0 against their spread (dates, shifted lab values) and
# on extreme scales must fit as glm() fits them: no column dropped as
# aliased, no spurious singular sandwich. Each case stores a covariate as
# scale * (x + shift) and compares against references fitted on the same
# stored values less the constant c = scale * shift (an exact shift of the
# stored column, so the same model): glm()/lm()/nnet::multinom() for the
# coefficients and estimates, and causallib's own sandwich on the unshifted
# column for the standard errors (the targets' sandwich does not depend on
# how the nuisance model is parametrized).

conditioning_cases <- rbind(
  data.frame(shift = 10^(0:9), scale = 1),
  data.frame(shift = 0, scale = 10^c(-6, -3, 3, 6)),
  data.frame(shift = c(1e6, 1e9, 1e4, 1e8), scale = c(1e-6, 1e3, 1e6, 1e-3))
)

# The data of one case: x stored shifted and scaled (xs), and xc, the same
# stored values less c.
conditioning_data <- function(shift, scale, n = 2000, seed = 1) {
  withr::local_seed(seed)
  x <- stats::rnorm(n)
  z <- stats::rnorm(n)
  a <- stats::rbinom(n, 1, stats::plogis(0.5 * x))
  a3 <- cut(0.8 * x + stats::rlogis(n), c(-Inf, -0.5, 0.7, Inf), labels = c("u", "v", "w"))
  y <- a + x + z + stats::rnorm(n)
  c0 <- scale * shift
  xs <- scale * (x + shift)
  data.frame(a = a, a3 = a3, z = z, y = y, xs = xs, xc = xs - c0)
}

case_label <- function(case) sprintf("shift %g, scale %g", case$shift, case$scale)

# Coefficients of a model on (1, xc, ...) turned into those of (1, xs, ...),
# xs = xc + c0: only the intercept moves.
shift_back <- function(b, c0, slope = "xc") {
  b[["(Intercept)"]] <- b[["(Intercept)"]] - c0 * b[[slope]]
  unname(b)
}

expect_rel <- function(object, expected, tol, label) {
  expect_equal(unname(object), unname(expected), tolerance = tol, label = label)
}

# std.error of the first effect of an estimate.
effect_se <- function(est) tidy(est)$std.error[[1L]]

test_that("logistic propensities and IPW effects equal glm()'s on shifted and scaled covariates", {
  for (i in seq_len(nrow(conditioning_cases))) {
    case <- conditioning_cases[i, ]
    d <- conditioning_data(case$shift, case$scale)
    c0 <- case$scale * case$shift
    lab <- case_label(case)
    ref <- glm(a ~ xc + z, binomial(), d, control = glm.control(epsilon = 1e-14, maxit = 50))
    p <- fitted(ref)
    w <- ifelse(d$a == 1, 1 / p, 1 / (1 - p))
    ate <- weighted.mean(d$y[d$a == 1], w[d$a == 1]) - weighted.mean(d$y[d$a == 0], w[d$a == 0])

    fit <- expect_silent(ipw(a ~ xs + z, data = d, learner = lrn_glm(epsilon = 1e-14)))
    b <- fit$learner_fit$coefficients
    expect_false(anyNA(b), label = lab)
    expect_rel(b, shift_back(coef(ref), c0), 1e-6, lab)
    expect_rel(fit$propensity[, "1"], p, 1e-8, lab)
    est <- estimate_effect(fit, outcome = "y")
    expect_rel(coef(est), ate, 1e-6, lab)

    # The matrix path, and the sandwich against the unshifted column's.
    mfit <- ipw_fit(as.matrix(d[c("xs", "z")]), d$a, learner = lrn_glm(epsilon = 1e-14))
    expect_rel(mfit$learner_fit$coefficients, b, 1e-10, lab)
    base <- estimate_effect(ipw(a ~ xc + z, data = d, learner = lrn_glm(epsilon = 1e-14)),
                            outcome = "y")
    expect_rel(effect_se(est), effect_se(base), 1e-6, lab)
    expect_rel(effect_se(estimate_effect(mfit, outcome = d$y)), effect_se(base), 1e-6, lab)
    # The coefficients' model-based standard errors are glm()'s too.
    tt <- tidy(fit)
    se_ref <- summary(ref)$coefficients[, "Std. Error"]
    expect_rel(tt$std.error[tt$term == "xs"], se_ref[["xc"]], 1e-6, lab)
    expect_rel(tt$std.error[tt$term == "(Intercept)"],
               sqrt(drop(c(1, -c0) %*% vcov(ref)[1:2, 1:2] %*% c(1, -c0))), 1e-6, lab)
  }
})

test_that("the issue's example: a covariate at 1e6 adjusts as glm() does", {
  set.seed(1)
  n <- 2000
  x <- rnorm(n); z <- rnorm(n); a <- rbinom(n, 1, plogis(0.5 * x)); y <- a + x + z + rnorm(n)
  d <- data.frame(a, x = x + 1e6, z, y)
  g <- glm(a ~ x + z, binomial, d)
  p <- fitted(g)
  w <- ifelse(a == 1, 1 / p, 1 / (1 - p))
  ref <- weighted.mean(y[a == 1], w[a == 1]) - weighted.mean(y[a == 0], w[a == 0])
  est <- tidy(estimate_effect(ipw(a ~ x + z, data = d), outcome = "y"))
  expect_equal(est$estimate, ref, tolerance = 1e-6)
  expect_equal(est$estimate, 1.036, tolerance = 1e-3)
})

test_that("gaussian outcome models, standardization and AIPW equal lm()/glm() on shifted covariates", {
  for (i in seq_len(nrow(conditioning_cases))) {
    case <- conditioning_cases[i, ]
    d <- conditioning_data(case$shift, case$scale, seed = 2)
    c0 <- case$scale * case$shift
    lab <- case_label(case)
    om <- lm(y ~ a + xc + z, d)
    pm <- fitted(glm(a ~ xc + z, binomial(), d, control = glm.control(epsilon = 1e-14)))

    std <- standardization(y ~ a + xs + z, data = d, treatment = "a",
                           learner = lrn_glm(gaussian()))
    b <- std$learner_fit$coefficients
    expect_false(anyNA(b), label = lab)
    expect_rel(b[c("(Intercept)", "a", "xs", "z")],
               shift_back(coef(om)[c("(Intercept)", "a", "xc", "z")], c0), 1e-6, lab)
    est <- estimate_effect(std)
    expect_rel(coef(est), coef(om)[["a"]], 1e-6, lab)
    base <- estimate_effect(standardization(y ~ a + xc + z, data = d, treatment = "a",
                                            learner = lrn_glm(gaussian())))
    expect_rel(effect_se(est), effect_se(base), 1e-6, lab)

    # AIPW by hand from the lm() and glm() fits.
    m1 <- predict(om, transform(d, a = 1))
    m0 <- predict(om, transform(d, a = 0))
    aipw_ref <- mean(m1 - m0 + d$a * (d$y - m1) / pm - (1 - d$a) * (d$y - m0) / (1 - pm))
    dr <- aipw(std, ipw(a ~ xs + z, data = d, learner = lrn_glm(epsilon = 1e-14)))
    dr_est <- estimate_effect(dr)
    expect_rel(coef(dr_est), aipw_ref, 1e-6, lab)
    dr_base <- estimate_effect(aipw(
      standardization(y ~ a + xc + z, data = d, treatment = "a", learner = lrn_glm(gaussian())),
      ipw(a ~ xc + z, data = d, learner = lrn_glm(epsilon = 1e-14))
    ))
    expect_rel(effect_se(dr_est), effect_se(dr_base), 1e-6, lab)
  }
})

test_that("stratified outcome models share the shifts of their design", {
  d <- conditioning_data(1e7, 1, seed = 3)
  fit <- standardization(y ~ a + xs + z, data = d, treatment = "a", stratified = TRUE,
                         learner = lrn_glm(gaussian()))
  base <- standardization(y ~ a + xc + z, data = d, treatment = "a", stratified = TRUE,
                          learner = lrn_glm(gaussian()))
  e <- estimate_effect(fit)
  e0 <- estimate_effect(base)
  expect_equal(unname(coef(e)), unname(coef(e0)), tolerance = 1e-6)
  expect_equal(effect_se(e), effect_se(e0), tolerance = 1e-6)
})

test_that("multinomial propensities equal nnet::multinom() on shifted covariates", {
  skip_if_not_installed("nnet")
  for (i in seq_len(nrow(conditioning_cases))) {
    case <- conditioning_cases[i, ]
    d <- conditioning_data(case$shift, case$scale, seed = 4)
    c0 <- case$scale * case$shift
    lab <- case_label(case)
    # nnet's BFGS is not scale invariant: its reference runs on xc / scale,
    # whose slope is scale times xs's.
    d$xn <- d$xc / case$scale
    ref <- nnet::multinom(a3 ~ xn + z, data = d, trace = FALSE, reltol = 1e-16, maxit = 1000)
    fit <- ipw(a3 ~ xs + z, data = d, learner = lrn_glm(epsilon = 1e-14))
    B <- fit$learner_fit$coefficients
    expect_false(anyNA(B), label = lab)
    Bref <- t(coef(ref))
    Bref["xn", ] <- Bref["xn", ] / case$scale
    Bref["(Intercept)", ] <- Bref["(Intercept)", ] - c0 * Bref["xn", ]
    expect_rel(B, Bref, 1e-5, lab)
    expect_rel(fit$propensity, fitted(ref), 1e-6, lab)
    est <- estimate_effect(fit, outcome = "y")
    base <- estimate_effect(ipw(a3 ~ xc + z, data = d, learner = lrn_glm(epsilon = 1e-14)),
                            outcome = "y")
    expect_rel(coef(est), coef(base), 1e-6, lab)
    expect_rel(tidy(est)$std.error, tidy(base)$std.error, 1e-6, lab)
  }
})

test_that("propensity matching is unchanged by a shifted covariate", {
  for (shift in c(1e3, 1e6, 1e9)) {
    d <- conditioning_data(shift, 1, n = 600, seed = 5)
    m <- estimate_effect(matching(a ~ xs + z, data = d), outcome = "y", se = "none")
    m0 <- estimate_effect(matching(a ~ xc + z, data = d), outcome = "y", se = "none")
    expect_equal(unname(coef(m)), unname(coef(m0)), tolerance = 1e-8, label = format(shift))
  }
})

test_that("pooled-logistic survival equals glm() on the person-period table with a shifted covariate", {
  for (shift in c(0, 1e3, 1e6, 1e9)) {
    d <- sim_survival(n = 700, periods = 8, seed = 6)
    d$xs <- d$x + shift
    d$xc <- d$xs - shift
    lab <- format(shift)
    fit <- survival_standardization(Surv(time, event) ~ a + xs, data = d, treatment = "a",
                                    time_terms = ~ time, learner = lrn_glm(epsilon = 1e-12),
                                    se = "none")
    long <- expand_person_time(d, d$time, d$event)
    ref <- glm(y ~ a * time + xc, binomial(), long, control = glm.control(epsilon = 1e-14))
    b <- fit$models$hazard$coefficients
    expect_false(anyNA(b), label = lab)
    expect_rel(b[["xs"]], coef(ref)[["xc"]], 1e-6, lab)
    for (a in 0:1) {
      expect_rel(fit$survival[a + 1, ], glm_standardized_survival(ref, d, "a", a, 1:8),
                 1e-6, lab)
    }
  }
})

test_that("a ridge penalty means the same on shifted covariates", {
  d <- conditioning_data(1e6, 1, seed = 7)
  lrn <- lrn_glm(penalty = 5, epsilon = 1e-14)
  b <- ipw(a ~ xs + z, data = d, learner = lrn)$learner_fit$coefficients
  b0 <- ipw(a ~ xc + z, data = d, learner = lrn)$learner_fit$coefficients
  expect_equal(unname(b[-1]), unname(b0[-1]), tolerance = 1e-8)
  expect_equal(b[[1]], b0[[1]] - 1e6 * b0[["xc"]], tolerance = 1e-8)
  # and on the user's scale: slopes shrink as for a direct penalized fit.
  nll <- function(beta) {
    eta <- beta[1] + beta[2] * d$xc + beta[3] * d$z
    -sum(d$a * eta - log1p(exp(eta))) + 5 / 2 * sum(beta[2:3]^2)
  }
  opt <- optim(unname(b0), nll, method = "BFGS", control = list(reltol = 1e-14))
  expect_equal(unname(b0), opt$par, tolerance = 1e-5)
})

test_that("a truly collinear column is aliased as glm() aliases it, with a warning naming it", {
  for (shift in c(0, 1e6)) {
    d <- conditioning_data(shift, 1, seed = 8)
    d$x2 <- 2 * d$xs
    ref <- glm(a ~ xs + x2 + z, binomial(), d)
    expect_true(is.na(coef(ref)[["x2"]]))
    expect_warning(fit <- ipw(a ~ xs + x2 + z, data = d), "x2")
    b <- fit$learner_fit$coefficients
    expect_identical(is.na(b), is.na(coef(ref)))
    expect_equal(unname(b[!is.na(b)]), unname(coef(ref)[!is.na(b)]), tolerance = 1e-6)
    expect_warning(mfit <- ipw_fit(as.matrix(d[c("xs", "x2", "z")]), d$a), "x2")
    expect_identical(unname(is.na(mfit$learner_fit$coefficients)), unname(is.na(coef(ref))))
  }
})

test_that("shifted fits are identical across thread counts", {
  d <- conditioning_data(1e6, 1e-3, n = 20000, seed = 9)
  run <- function(nt) {
    withr::with_options(list(causallib.threads = nt), {
      e <- estimate_effect(ipw(a ~ xs + z, data = d), outcome = "y")
      s <- estimate_effect(standardization(y ~ a + xs + z, data = d, treatment = "a",
                                           learner = lrn_glm(gaussian())))
      list(tidy(e), tidy(s))
    })
  }
  expect_identical(run(1), run(2))
})

test_that("ordinary designs are read as they are", {
  d <- conditioning_data(0, 1, seed = 10)
  fit <- ipw(a ~ xs + z, data = d)
  expect_null(fit$learner_fit$center)
  shifted <- ipw(a ~ xs + z, data = transform(d, xs = xs + 1e5))
  expect_equal(shifted$learner_fit$anchor, 1L)
  expect_equal(shifted$learner_fit$center[[2]], mean(d$xs) + 1e5, tolerance = 1e-12)
})

# ---- near-collinear columns ------------------------------------------------
# x2 = x1 + eps * u on MatchIt's lalonde (x1 its standardized age, u noise
# of sd `u_sd`), stored shifted and scaled as xs1, xs2. The references fit
# the same column space in a well-conditioned basis computed exactly from
# the stored values: r1 = xs1 - c0 and r2 = (xs2 - xs1) / (eps scale) (each
# difference is exact or correctly rounded), so the fitted values of every
# fitter must agree with theirs.
collinear_data <- function(eps, shift = 0, scale = 1, u_sd = 1, seed = 11) {
  data("lalonde", package = "MatchIt", envir = environment())
  d <- lalonde
  u <- withr::with_seed(seed, stats::rnorm(nrow(d), sd = u_sd))
  x1 <- (d$age - mean(d$age)) / stats::sd(d$age)
  c0 <- scale * shift
  d$xs1 <- scale * (x1 + shift)
  d$xs2 <- scale * (x1 + eps * u + shift)
  d$r1 <- d$xs1 - c0
  d$r2 <- if (eps > 0) (d$xs2 - d$xs1) / (eps * scale) else 0
  d$ed <- (d$educ - mean(d$educ)) / stats::sd(d$educ)
  d$y <- log1p(d$re78)
  d
}

# Multinomial (baseline-category) probabilities by Newton's method with QR
# solves, for a well-conditioned design X (with its intercept).
multinom_reference <- function(X, a) {
  K <- nlevels(a)
  p <- ncol(X)
  Y <- outer(as.integer(a), 2:K, "==") * 1
  B <- matrix(0, p, K - 1)
  probs <- function(B) {
    E <- exp(X %*% B)
    E / (1 + rowSums(E))
  }
  for (it in 1:100) {
    P <- probs(B)
    H <- matrix(0, (K - 1) * p, (K - 1) * p)
    for (k in 1:(K - 1)) for (l in 1:(K - 1)) {
      H[(k - 1) * p + 1:p, (l - 1) * p + 1:p] <- crossprod(X, X * (P[, k] * ((k == l) - P[, l])))
    }
    step <- qr.solve(H, as.vector(crossprod(X, Y - P)), tol = 1e-12)
    B <- B + step
    if (max(abs(step)) < 1e-14 * max(1, abs(B))) break
  }
  P <- probs(B)
  cbind(1 - rowSums(P), P)
}

# The agreement a backward-stable QR of the rows achieves on a column of
# residual ratio eps (forward error of about cond(X) epsilon, cond ~ 1 / eps),
# or glm()'s own agreement if that is worse; at least 1e-12, where the fits
# (epsilon = 1e-12) stop iterating.
qr_tolerance <- function(eps, glm_error = 0) max(glm_error, 1e-12, 5 * .Machine$double.eps / eps)

collinear_cases <- merge(
  data.frame(eps = c(1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 3e-7)),
  data.frame(shift = c(0, 0, 0, 1e3, 1e6, 1e9, 1e6, 1e9), scale = c(1, 1e-3, 1e3, 1, 1, 1, 1e-3, 1e3))
)
# Stored values must still carry the collinearity (shift * epsilon << eps).
collinear_cases <- collinear_cases[collinear_cases$shift <= collinear_cases$eps * 1e13, ]

test_that("near-collinear columns fit as accurately as glm()'s QR: binomial, gaussian, poisson", {
  skip_if_not_installed("MatchIt")
  ctl <- glm.control(epsilon = 1e-14, maxit = 100)
  for (i in seq_len(nrow(collinear_cases))) {
    case <- collinear_cases[i, ]
    d <- collinear_data(case$eps, case$shift, case$scale)
    X <- as.matrix(d[c("xs1", "xs2", "ed")])
    for (fam in c("binomial", "gaussian", "poisson")) {
      lab <- sprintf("%s, eps %g, shift %g, scale %g", fam, case$eps, case$shift, case$scale)
      d$yy <- switch(fam, binomial = d$treat, gaussian = d$y, poisson = d$educ)
      family <- get(fam)()
      ref <- fitted(glm(yy ~ r1 + r2 + ed, family, d, control = ctl))
      g <- suppressWarnings(fitted(glm(yy ~ xs1 + xs2 + ed, family, d, control = ctl)))
      fit <- causallib:::learner_fit(lrn_glm(family, epsilon = 1e-12), X, d$yy, intercept = TRUE)
      expect_false(anyNA(fit$coefficients), label = lab)
      err <- max(abs(fit$fitted - ref))
      expect_lte(err, qr_tolerance(case$eps, max(abs(g - ref))), label = lab)
    }
    # The IPW propensities (and so the weights) of the binomial model.
    lab <- sprintf("ipw, eps %g, shift %g, scale %g", case$eps, case$shift, case$scale)
    fit <- ipw(treat ~ xs1 + xs2 + ed, data = d, learner = lrn_glm(epsilon = 1e-12))
    ref <- fitted(glm(treat ~ r1 + r2 + ed, binomial(), d, control = ctl))
    expect_lte(max(abs(fit$propensity[, "1"] - ref)), qr_tolerance(case$eps), label = lab)
  }
})

test_that("near-collinear columns fit as accurately as a QR: multinomial propensities", {
  skip_if_not_installed("MatchIt")
  for (i in seq_len(nrow(collinear_cases))) {
    case <- collinear_cases[i, ]
    lab <- sprintf("eps %g, shift %g, scale %g", case$eps, case$shift, case$scale)
    d <- collinear_data(case$eps, case$shift, case$scale)
    fit <- ipw(race ~ xs1 + xs2 + ed, data = d, learner = lrn_glm(epsilon = 1e-12))
    expect_false(anyNA(fit$learner_fit$coefficients), label = lab)
    ref <- multinom_reference(cbind(1, d$r1, d$r2, d$ed), d$race)
    expect_lte(max(abs(fit$propensity - ref)), qr_tolerance(case$eps), label = lab)
  }
})

# survival::rotterdam with x2 = x1 + eps * u (x1 its standardized age),
# stored shifted as xs1, xs2, in periods of two years up to 8, and the
# well-conditioned basis r1, r2 of collinear_data().
collinear_rotterdam <- function(eps, shift = 0, u_sd = 1, n = 800, seed = 12) {
  d <- survival::rotterdam[seq_len(n), c("age", "hormon", "dtime", "death")]
  u <- withr::with_seed(seed, stats::rnorm(n, sd = u_sd))
  x1 <- (d$age - mean(d$age)) / stats::sd(d$age)
  d$time <- pmin(ceiling(d$dtime / 730.5), 8L)
  d$event <- as.integer(d$death == 1L & d$dtime <= 8 * 730.5)
  d$xs1 <- x1 + shift
  d$xs2 <- x1 + eps * u + shift
  d$r1 <- d$xs1 - shift
  d$r2 <- if (eps > 0) (d$xs2 - d$xs1) / eps else 0
  d
}

# (epsilon 1e-10: at 1e-12 the deviance of the most collinear cases is
# within its rounding of the optimum before the test is met.)
pooled_fit <- function(d) {
  survival_standardization(Surv(time, event) ~ hormon + xs1 + xs2, data = d, treatment = "hormon",
                           time_terms = ~ time, learner = lrn_glm(epsilon = 1e-10), se = "none")
}

test_that("near-collinear columns fit as accurately as glm()'s QR: pooled-logistic hazards", {
  ctl <- glm.control(epsilon = 1e-14, maxit = 100)
  for (eps in c(1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 3e-7)) for (shift in c(0, 1e3, 1e6)) {
    lab <- sprintf("eps %g, shift %g", eps, shift)
    d <- collinear_rotterdam(eps, shift)
    long <- expand_person_time(d, d$time, d$event)
    ref <- glm(y ~ hormon * time + r1 + r2, binomial(), long, control = ctl)
    g <- suppressWarnings(glm(y ~ hormon * time + xs1 + xs2, binomial(), long, control = ctl))
    fit <- pooled_fit(d)
    expect_false(anyNA(fit$models$hazard$coefficients), label = lab)
    for (a in 0:1) {
      s_ref <- glm_standardized_survival(ref, d, "hormon", a, 1:8)
      s_glm <- glm_standardized_survival(g, d, "hormon", a, 1:8)
      # (a curve ends at its arm's last period: NA after it, see curve_ends)
      on <- !is.na(fit$survival[a + 1, ])
      expect_true(all(on[seq_len(fit$curve_ends[a + 1])]), label = lab)
      expect_lte(max(abs(fit$survival[a + 1, on] - s_ref[on])),
                 qr_tolerance(eps, max(abs(s_glm - s_ref)[on])), label = lab)
    }
  }
})

# ---- aliasing as a QR of the rows decides it --------------------------------
# A column is aliased when its residual on the earlier columns is below 1e-7
# of its norm: lm.fit()'s tolerance, and glm.fit()'s for epsilon >= 1e-4
# (glm.fit() passes min(1e-7, epsilon / 1000) to its QR). With u of sd 2 the
# residual ratio of x2 is about 2 eps: kept down to eps = 1e-7, aliased from
# 1e-8, and aliased when x2 is an exact combination (eps = 0).
aliasing_eps <- c(1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 0)

test_that("3-level propensity models alias a column exactly when a QR of the design does", {
  skip_if_not_installed("MatchIt")
  for (eps in aliasing_eps) {
    lab <- sprintf("eps %g", eps)
    d <- collinear_data(eps, u_sd = 2)
    X <- cbind(1, d$xs1, d$xs2, d$ed)
    q <- qr(X, tol = 1e-7)
    qr_aliased <- seq_len(ncol(X)) > q$rank
    qr_aliased[q$pivot] <- qr_aliased
    # glm() of each level against the reference decides the same.
    for (lev in levels(d$race)[-1L]) {
      g <- glm(race == lev ~ xs1 + xs2 + ed, binomial(), d, control = glm.control(epsilon = 1e-4))
      expect_identical(unname(is.na(coef(g))), qr_aliased, label = paste(lab, lev))
    }
    run <- function() ipw(race ~ xs1 + xs2 + ed, data = d, learner = lrn_glm(epsilon = 1e-12))
    if (any(qr_aliased)) {
      expect_warning(fit <- run(), "xs2", label = lab)
    } else {
      expect_no_warning(fit <- run())
    }
    B <- fit$learner_fit$coefficients
    expect_identical(unname(is.na(B[, 1])), qr_aliased, label = lab)
    expect_identical(unname(is.na(B[, 2])), qr_aliased, label = lab)
    # The binary propensity model decides as glm() does too.
    g <- glm(treat ~ xs1 + xs2 + ed, binomial(), d, control = glm.control(epsilon = 1e-4))
    w <- if (anyNA(coef(g))) "xs2" else NA
    expect_warning(fit <- ipw(treat ~ xs1 + xs2 + ed, data = d), w, label = lab)
    expect_identical(unname(is.na(fit$learner_fit$coefficients)), unname(is.na(coef(g))), label = lab)
  }
})

test_that("pooled-logistic hazards alias a column exactly when glm() on the person-period rows does", {
  for (eps in aliasing_eps) {
    lab <- sprintf("eps %g", eps)
    d <- collinear_rotterdam(eps, u_sd = 2)
    long <- expand_person_time(d, d$time, d$event)
    g <- glm(y ~ hormon * time + xs1 + xs2, binomial(), long, control = glm.control(epsilon = 1e-4))
    glm_aliased <- is.na(coef(g)[["xs2"]])
    expect_identical(glm_aliased, eps < 1e-7, label = lab)
    if (glm_aliased) {
      expect_warning(fit <- pooled_fit(d), "xs2", label = lab)
    } else {
      expect_no_warning(fit <- pooled_fit(d))
    }
    b <- fit$models$hazard$coefficients
    expect_identical(is.na(b[["xs2"]]), glm_aliased, label = lab)
    expect_identical(sum(is.na(b)), sum(is.na(coef(g))), label = lab)
    # The curves are glm()'s on the columns it keeps.
    kept <- if (glm_aliased) y ~ hormon * time + xs1 else y ~ hormon * time + r1 + r2
    ref <- glm(kept, binomial(), long, control = glm.control(epsilon = 1e-14))
    for (a in 0:1) {
      on <- !is.na(fit$survival[a + 1, ])
      expect_equal(fit$survival[a + 1, on], glm_standardized_survival(ref, d, "hormon", a, 1:8)[on],
                   tolerance = 1e-8, label = lab)
    }
  }
})

test_that("refined (near-collinear) fits are identical across thread counts", {
  skip_if_not_installed("MatchIt")
  d <- collinear_data(1e-6, shift = 1e3)
  ds <- collinear_rotterdam(1e-6)
  run <- function(nt) {
    withr::with_options(list(causallib.threads = nt), list(
      ipw(treat ~ xs1 + xs2 + ed, data = d)$propensity,
      ipw(race ~ xs1 + xs2 + ed, data = d)$propensity,
      causallib:::learner_fit(lrn_glm(gaussian()), as.matrix(d[c("xs1", "xs2", "ed")]), d$y,
                              intercept = TRUE)$coefficients,
      pooled_fit(ds)$survival
    ))
  }
  expect_identical(run(1), run(2))
})
