# Each sandwich is checked against an independent implementation: the
# stacked estimating functions written out in R, their Jacobian by central
# differences, and V = J^{-1} (sum psi psi') J^{-T}.

numeric_sandwich <- function(psi, theta) {
  J <- num_jacobian(function(th) colSums(psi(th)), theta)
  Jinv <- solve(J)
  Jinv %*% crossprod(psi(theta)) %*% t(Jinv)
}

binary_weight <- function(p, a, estimand) {
  switch(estimand,
    ATE = ifelse(a == 1, 1 / p, 1 / (1 - p)),
    ATT = ifelse(a == 1, 1, p / (1 - p)),
    ATC = ifelse(a == 1, (1 - p) / p, 1),
    ATO = ifelse(a == 1, 1 - p, p)
  )
}

test_that("IPW sandwich equals the numerical-derivative sandwich for every estimand", {
  d <- sim_confounded(700)
  x <- model.matrix(~ x1 + x2, d)
  for (sw in list(NULL, d$w)) {
    s <- if (is.null(sw)) rep(1, nrow(d)) else sw
    for (est in c("ATE", "ATT", "ATC", "ATO")) {
      fit <- ipw(a ~ x1 + x2, data = d, estimand = est, weights = sw)
      out <- estimate_outcomes(fit, outcome = y)
      psi <- function(th) {
        p <- plogis(drop(x %*% th[1:3]))
        w <- binary_weight(p, d$a, est)
        cbind(s * x * (d$a - p),
              s * w * (d$a == 0) * (d$y - th[4]),
              s * w * (d$a == 1) * (d$y - th[5]))
      }
      theta <- c(fit$learner_fit$coefficients, coef(out))
      V <- numeric_sandwich(psi, theta)[4:5, 4:5]
      expect_equal(vcov(out), V, tolerance = 1e-6, ignore_attr = TRUE, label = est)
    }
  }
})

test_that("IPW sandwich with a multi-level treatment matches numerical derivatives", {
  set.seed(8)
  n <- 900
  x1 <- rnorm(n)
  eta <- cbind(0, 0.4 * x1, -0.3 + 0.6 * x1)
  pr <- exp(eta) / rowSums(exp(eta))
  a <- factor(apply(pr, 1, function(p) sample(1:3, 1, prob = p)))
  y <- as.integer(a) + x1 + rnorm(n)
  d <- data.frame(a, x1, y)
  x <- cbind(1, x1)
  for (est in c("ATE", "ATO")) {
    fit <- ipw(a ~ x1, data = d, estimand = est)
    out <- estimate_outcomes(fit, outcome = y)
    psi <- function(th) {
      B <- matrix(th[1:4], 2)
      e <- cbind(0, x %*% B)
      P <- exp(e) / rowSums(exp(e))
      ind <- outer(as.integer(a), 1:3, `==`)
      w <- if (est == "ATE") rowSums(ind / P) else rowSums(ind / P) / rowSums(1 / P)
      cbind(x * (ind[, 2] - P[, 2]), x * (ind[, 3] - P[, 3]),
            w * ind * outer(y, th[5:7], `-`))
    }
    theta <- c(fit$learner_fit$coefficients, coef(out))
    V <- numeric_sandwich(psi, theta)[5:7, 5:7]
    expect_equal(vcov(out), V, tolerance = 1e-6, ignore_attr = TRUE, label = est)
  }
})

test_that("standardization sandwich matches numerical derivatives (S- and T-learner)", {
  d <- sim_confounded(600)
  for (outcome in c("y", "yb")) {
    fam <- if (outcome == "y") gaussian() else binomial()
    f <- as.formula(paste(outcome, "~ a * x1 + x2"))
    fit <- standardization(f, data = d, treatment = "a", weights = d$w)
    out <- estimate_outcomes(fit)
    x <- model.matrix(~ a * x1 + x2, d)
    x0 <- model.matrix(~ a * x1 + x2, transform(d, a = 0))
    x1m <- model.matrix(~ a * x1 + x2, transform(d, a = 1))
    yy <- d[[outcome]]
    psi <- function(th) {
      b <- th[1:5]
      cbind(d$w * x * (yy - fam$linkinv(drop(x %*% b))),
            d$w * (fam$linkinv(drop(x0 %*% b)) - th[6]),
            d$w * (fam$linkinv(drop(x1m %*% b)) - th[7]))
    }
    theta <- c(fit$learner_fit$coefficients, coef(out))
    V <- numeric_sandwich(psi, theta)[6:7, 6:7]
    expect_equal(vcov(out), V, tolerance = 1e-6, ignore_attr = TRUE, label = outcome)

    sfit <- standardization(as.formula(paste(outcome, "~ a + x1 + x2")), data = d,
                            treatment = "a", stratified = TRUE)
    sout <- estimate_outcomes(sfit)
    xc <- model.matrix(~ x1 + x2, d)
    psi_t <- function(th) {
      b0 <- th[1:3]
      b1 <- th[4:6]
      cbind(xc * (d$a == 0) * (yy - fam$linkinv(drop(xc %*% b0))),
            xc * (d$a == 1) * (yy - fam$linkinv(drop(xc %*% b1))),
            fam$linkinv(drop(xc %*% b0)) - th[7],
            fam$linkinv(drop(xc %*% b1)) - th[8])
    }
    theta_t <- c(sfit$learner_fit[[1]]$coefficients, sfit$learner_fit[[2]]$coefficients,
                 coef(sout))
    Vt <- numeric_sandwich(psi_t, theta_t)[7:8, 7:8]
    expect_equal(vcov(sout), Vt, tolerance = 1e-6, ignore_attr = TRUE, label = outcome)
  }
})

test_that("marginal means coincide with sandwich::sandwich() of the saturated lm()", {
  skip_if_not_installed("sandwich")
  d <- sim_confounded(500)
  out <- estimate_outcomes(marginal_outcome(y ~ a, data = d))
  m <- lm(y ~ 0 + factor(a), data = d)
  expect_equal(vcov(out), sandwich::sandwich(m), tolerance = 1e-10, ignore_attr = TRUE)
  expect_equal(coef(out), coef(m), tolerance = 1e-12, ignore_attr = TRUE)
})

test_that("a ridge-penalized propensity model keeps the sandwich consistent", {
  d <- sim_confounded(500)
  lam <- 3
  fit <- ipw(a ~ x1 + x2, data = d, learner = lrn_glm(penalty = lam))
  out <- estimate_outcomes(fit, outcome = y)
  x <- model.matrix(~ x1 + x2, d)
  n <- nrow(d)
  psi <- function(th) {
    p <- plogis(drop(x %*% th[1:3]))
    w <- binary_weight(p, d$a, "ATE")
    pen <- lam * c(0, th[2:3]) / n
    cbind(sweep(x * (d$a - p), 2, pen),
          w * (d$a == 0) * (d$y - th[4]), w * (d$a == 1) * (d$y - th[5]))
  }
  theta <- c(fit$learner_fit$coefficients, coef(out))
  V <- numeric_sandwich(psi, theta)[4:5, 4:5]
  expect_equal(vcov(out), V, tolerance = 1e-6, ignore_attr = TRUE)
})

test_that("the C meat equals crossprod() of the stacked estimating functions", {
  set.seed(12)
  n <- 500
  x <- cbind(1, matrix(rnorm(n * 3), n))
  R <- matrix(rnorm(n * 2), n)
  Psi <- matrix(rnorm(n * 3), n)
  C <- matrix(rnorm(n * 6), n)
  res <- .Call(causallib:::C_ffi_stacked_meat, x, FALSE, NULL, R, Psi, C, 2L)
  psi <- cbind(x * R[, 1], x * R[, 2], Psi)
  expect_equal(res$meat, crossprod(psi), tolerance = 1e-12, ignore_attr = TRUE)
  expect_equal(res$xtc, crossprod(x, C), tolerance = 1e-12, ignore_attr = TRUE)
  expect_null(.Call(causallib:::C_ffi_stacked_meat, x, FALSE, NULL, R, Psi, NULL, 1L)$xtc)
  expect_error(.Call(causallib:::C_ffi_stacked_meat, x, FALSE, NULL, R, Psi, C[-1, ], 1L), "rows")
  implicit <- .Call(causallib:::C_ffi_stacked_meat, x[, -1], TRUE, NULL, R, Psi, C, 2L)
  expect_equal(implicit, res, tolerance = 1e-12)
})

# The IPW sandwich through the general path: the stacked estimating functions
# as n x K matrices and stacked_vcov() (the path ffi_ipw_meat() replaces).
ipw_sandwich_stacked <- function(fit, y) {
  a <- as.integer(fit$treatment)
  K <- length(fit$levels)
  sw <- fit$sampling_weights %||% 1
  mass <- sw * fit$ip_weights
  mu <- arm_sums(mass * y, fit$treatment) / arm_sums(mass, fit$treatment)
  resid <- arm_spread(y - mu[a], fit$treatment)
  score <- glm_score_parts(fit$learner_fit, fit$x, fit$treatment, fit$sampling_weights)
  C <- matrix(0, length(a), K * (K - 1L))
  for (j in seq_len(K - 1L)) C[, (j - 1L) * K + seq_len(K)] <- sw * fit$dw_deta[, j] * resid
  stacked_vcov(fit$x, score, mass * resid, diag(-arm_sums(mass, fit$treatment), K), C = C)
}

test_that("the IPW meat kernel matches the general stacked path", {
  d <- sim_confounded(900)
  set.seed(3)
  d$a3 <- factor(sample(c("lo", "mid", "hi"), nrow(d), replace = TRUE), c("lo", "mid", "hi"))
  x <- as.matrix(d[, c("x1", "x2")])
  for (trt in c("a", "a3")) {
    for (sw in list(NULL, d$w)) {
      # labelled levels name the treated; the population of "lo" is the ATT of "lo"
      targets <- if (trt == "a") {
        list(c("ATE", NA), c("ATT", NA), c("ATC", NA), c("ATO", NA))
      } else {
        list(c("ATE", NA), c("ATT", "hi"), c("ATT", "lo"), c("ATO", NA))
      }
      for (target in targets) {
        est <- target[1]
        treated <- if (!is.na(target[2])) target[2]
        for (opts in list(list(), list(clip = 0.3), list(truncate = 0.9))) {
          args <- c(list(x = x, a = d[[trt]], estimand = est, weights = sw, treated = treated), opts)
          fit <- suppressWarnings(do.call(ipw_fit, args))
          V <- vcov(estimate_outcomes(fit, outcome = d$y))
          label <- paste(trt, est, treated, names(opts), is.null(sw))
          expect_equal(V, ipw_sandwich_stacked(fit, d$y), tolerance = 1e-12,
                       ignore_attr = TRUE, label = label)
        }
      }
    }
  }
  # an explicit intercept column (the formula interface) and a ridge penalty
  fit <- ipw(a3 ~ x1 + x2, data = d, learner = lrn_glm(penalty = 2), weights = "w")
  expect_equal(vcov(estimate_outcomes(fit, outcome = y)), ipw_sandwich_stacked(fit, d$y),
               tolerance = 1e-12, ignore_attr = TRUE)
})

test_that("ffi_ipw_meat equals crossprod() of the stacked estimating functions", {
  set.seed(21)
  n <- 3 * 4096 + 17
  K <- 3
  x <- matrix(rnorm(n * 4), n)
  a <- sample.int(K, n, replace = TRUE)
  P <- matrix(runif(n * K, 0.1, 1), n)
  P <- P / rowSums(P)
  sw <- runif(n, 0.5, 2)
  w <- runif(n, 1, 5)
  dw <- matrix(rnorm(n * (K - 1)), n)
  y <- rnorm(n)
  mu <- c(-0.5, 0.2, 1)
  ind <- outer(a, seq_len(K), `==`)
  R <- sw * (ind[, -1] - P[, -1])
  xi <- cbind(1, x)
  r <- y - mu[a]
  psi <- cbind(xi * R[, 1], xi * R[, 2], sw * w * r * ind)
  D <- do.call(cbind, lapply(1:2, function(b) t(crossprod(xi, sw * dw[, b] * r * ind))))
  for (nt in 1:2) {
    res <- .Call(causallib:::C_ffi_ipw_meat, x, TRUE, NULL, a, P, sw, w, dw, y, mu, nt)
    expect_equal(res$meat, crossprod(psi), tolerance = 1e-12, ignore_attr = TRUE)
    expect_equal(res$D, D, tolerance = 1e-12, ignore_attr = TRUE)
  }
  expect_identical(.Call(causallib:::C_ffi_ipw_meat, x, TRUE, NULL, a, P, sw, w, dw, y, mu, 1L),
                   .Call(causallib:::C_ffi_ipw_meat, x, TRUE, NULL, a, P, sw, w, dw, y, mu, 2L))
  explicit <- .Call(causallib:::C_ffi_ipw_meat, xi, FALSE, NULL, a, P, NULL, w, dw, y, mu, 2L)
  psi1 <- cbind(xi * (ind[, 2] - P[, 2]), xi * (ind[, 3] - P[, 3]), w * r * ind)
  expect_equal(explicit$meat, crossprod(psi1), tolerance = 1e-12, ignore_attr = TRUE)

  f <- causallib:::C_ffi_ipw_meat
  expect_error(.Call(f, replace(x, 5, NA), TRUE, NULL, a, P, sw, w, dw, y, mu, 2L), "missing")
  expect_error(.Call(f, replace(x, n * 4, Inf), TRUE, NULL, a, P, sw, w, dw, y, mu, 1L), "missing")
  expect_error(.Call(f, x, TRUE, NULL, replace(a, 1, 4L), P, sw, w, dw, y, mu, 1L), "codes")
  expect_error(.Call(f, x, TRUE, NULL, as.double(a), P, sw, w, dw, y, mu, 1L), "integer")
  expect_error(.Call(f, x, TRUE, NULL, a, P[-1, ], sw, w, dw, y, mu, 1L), "`P`")
  expect_error(.Call(f, x, TRUE, NULL, a, P, sw, w, dw[, 1], y, mu, 1L), "`dw`")
  expect_error(.Call(f, x, TRUE, NULL, a, P, sw, w, dw, y[-1], mu, 1L), "`y`")
  expect_error(.Call(f, x, TRUE, NULL, a, P, sw, w, dw, replace(y, 2, NaN), mu, 1L), "`y`")
  expect_error(.Call(f, x, TRUE, NULL, a, P, sw, w, dw, y, mu[-1], 1L), "`mu`")
  expect_error(.Call(f, x, NA, NULL, a, P, sw, w, dw, y, mu, 1L), "intercept")
})
