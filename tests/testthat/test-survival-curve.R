discrete_c <- function(lp, ctab, w, nthreads = 1L) {
  .Call(causallib:::C_ffi_discrete_survival, lp, ctab, w, as.integer(nthreads))
}

cox_c <- function(lp, H0, w, nthreads = 1L) {
  .Call(causallib:::C_ffi_cox_survival, lp, H0, w, as.integer(nthreads))
}

# Slow, obvious references: one person and one arm at a time.
discrete_ref <- function(lp, ctab, w) {
  S <- matrix(0, ncol(lp), ncol(ctab))
  for (a in seq_len(ncol(lp))) {
    for (i in seq_len(nrow(lp))) {
      S[a, ] <- S[a, ] + w[i] * cumprod(plogis(lp[i, a] + ctab[a, ], lower.tail = FALSE))
    }
  }
  S / sum(w)
}

cox_ref <- function(lp, H0, w) {
  S <- matrix(0, ncol(lp), length(H0))
  for (a in seq_len(ncol(lp))) {
    for (i in seq_len(nrow(lp))) {
      S[a, ] <- S[a, ] + w[i] * exp(-H0 * exp(lp[i, a]))
    }
  }
  S / sum(w)
}

test_that("discrete-time standardized survival matches a pure-R loop", {
  set.seed(21)
  for (n in c(1, 7, 8, 9, 300)) {
    for (K in 1:3) {
      for (Tmax in c(1, 5, 40)) {
        lp <- matrix(rnorm(n * K, 0, 2), n, K)
        ctab <- matrix(rnorm(K * Tmax, -2), K, Tmax)
        w <- runif(n)
        expect_equal(discrete_c(lp, ctab, w), discrete_ref(lp, ctab, w), tolerance = 1e-12)
      }
    }
  }
})

test_that("discrete-time survival is accurate in both tails of the hazard", {
  set.seed(22)
  lp <- cbind(c(-800, -400, -35, 0, 20, 40, 400, 2, -1), rnorm(9))
  ctab <- rbind(seq(-3, 3, length.out = 6), c(-500, -1, 0, 1, 30, 500))
  w <- c(runif(8), 0)
  S <- discrete_c(lp, ctab, w)
  expect_equal(S, discrete_ref(lp, ctab, w), tolerance = 1e-12)
  expect_false(anyNA(S))
  expect_identical(discrete_c(matrix(-1e4, 1, 1), matrix(-1e4, 1, 1), 1), matrix(1, 1, 1))
  expect_identical(discrete_c(matrix(1e4, 1, 1), matrix(0, 1, 1), 1), matrix(0, 1, 1))
})

test_that("discrete-time survival does not depend on the thread count", {
  set.seed(23)
  n <- 20000
  lp <- matrix(rnorm(n * 2), n, 2)
  ctab <- matrix(rnorm(2 * 24, -3), 2, 24)
  w <- rexp(n)
  one <- discrete_c(lp, ctab, w, 1L)
  two <- discrete_c(lp, ctab, w, 2L)
  expect_identical(one, two)
  expect_equal(one, discrete_ref(lp, ctab, w), tolerance = 1e-12)
})

test_that("Cox standardized survival matches a pure-R loop", {
  set.seed(24)
  for (n in c(1, 7, 8, 9, 300)) {
    for (K in 1:3) {
      for (m in c(1, 5, 40)) {
        lp <- matrix(rnorm(n * K), n, K)
        H0 <- cumsum(c(0, rexp(m - 1, 10)))
        w <- runif(n)
        expect_equal(cox_c(lp, H0, w), cox_ref(lp, H0, w), tolerance = 1e-12)
      }
    }
  }
  big <- matrix(c(800, -800, 0), 3, 1)
  expect_equal(cox_c(big, c(0.5, 1), c(1, 2, 1)),
               cox_ref(big, c(0.5, 1), c(1, 2, 1)), tolerance = 1e-12)
  expect_identical(cox_c(big, c(0, 0.5), c(1, 2, 1))[, 1], 1)
})

test_that("Cox standardized survival does not depend on the thread count", {
  set.seed(25)
  n <- 20000
  lp <- matrix(rnorm(n * 2), n, 2)
  H0 <- cumsum(rexp(30, 20))
  w <- rexp(n)
  expect_identical(cox_c(lp, H0, w, 1L), cox_c(lp, H0, w, 2L))
})

test_that("Cox standardized survival averages survfit.coxph's curves", {
  set.seed(26)
  n <- 80
  d <- data.frame(x = rnorm(n), a = rbinom(n, 1, 0.5))
  d$time <- round(rexp(n, 0.2 * exp(0.5 * d$x - 0.7 * d$a)), 1)
  d$status <- rbinom(n, 1, 0.8)
  w <- runif(n)
  fit <- survival::coxph(survival::Surv(time, status) ~ x + a, data = d)
  H0 <- survival::basehaz(fit, centered = FALSE)$hazard
  arms <- lapply(0:1, function(a) transform(d, a = a))
  lp <- vapply(arms, function(nd) drop(cbind(nd$x, nd$a) %*% coef(fit)), numeric(n))
  sf <- t(vapply(arms, function(nd) {
    drop(survival::survfit(fit, newdata = nd)$surv %*% w) / sum(w)
  }, numeric(length(H0))))
  expect_equal(cox_c(lp, H0, w), sf, tolerance = 1e-10)
})

test_that("the survival-curve entry points reject malformed input without crashing", {
  lp <- matrix(0, 3, 2)
  ctab <- matrix(0, 2, 4)
  expect_error(discrete_c(matrix(1L, 3, 2), ctab, rep(1, 3)), "`lp` must be a double")
  expect_error(discrete_c(matrix(NA_real_, 3, 2), ctab, rep(1, 3)), "`lp` has a missing")
  expect_error(discrete_c(lp, matrix(0, 3, 4), rep(1, 3)), "`ctab` must be a matrix with 2 rows")
  expect_error(discrete_c(lp, c(0, 0), rep(1, 3)), "`ctab` must be a matrix")
  expect_error(discrete_c(lp, matrix(0, 2, 0), rep(1, 3)), "`ctab` needs")
  expect_error(discrete_c(lp, ctab, rep(1, 2)), "`w` has length")
  expect_error(discrete_c(lp, ctab, c(1, -1, 1)), "`w` must be non-negative")
  expect_error(discrete_c(lp, ctab, rep(0, 3)), "positive sum")
  expect_error(discrete_c(matrix(0, 0, 2), ctab, numeric()), "positive sum")
  expect_error(discrete_c(lp, ctab, rep(1, 3), 0L), "`nthreads`")
  expect_error(cox_c(lp, c(0.2, 0.1), rep(1, 3)), "non-decreasing")
  expect_error(cox_c(lp, c(-1, 0.1), rep(1, 3)), "non-negative")
  expect_error(cox_c(lp, numeric(), rep(1, 3)), "`H0` must have")
  expect_error(cox_c(lp, c(0, Inf), rep(1, 3)), "`H0` has a missing")
  expect_error(cox_c(lp, 1L, rep(1, 3)), "`H0` must be a double")
  expect_error(cox_c(matrix(0, 3, 0), 1, rep(1, 3)), "`lp` needs")
})
