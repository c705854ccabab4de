# The tests label strata 0..K-1; the C routine takes and returns R's codes 1..K.
km_c <- function(time, status, w, strata = integer(length(time)),
                 K = max(c(strata, 0L)) + 1L) {
  out <- .Call(causallib:::C_ffi_km, as.double(time), as.integer(status), as.double(w),
               as.integer(strata) + 1L, as.integer(K))
  out$stratum <- out$stratum - 1L
  out
}

# survfit's robust (infinitesimal jackknife) fit; with `robust = TRUE` it sets
# `logse = FALSE`: `std.err` is then the standard error of `surv` itself, not
# of the cumulative hazard, so it compares directly with `std_err`.
km_survfit <- function(time, status, w, strata) {
  fit <- if (length(unique(strata)) > 1L) {
    survival::survfit(survival::Surv(time, status) ~ factor(strata), weights = w,
                      id = seq_along(time), robust = TRUE)
  } else {
    survival::survfit(survival::Surv(time, status) ~ 1, weights = w,
                      id = seq_along(time), robust = TRUE)
  }
  expect_false(fit$logse)
  fit
}

expect_matches_survfit <- function(time, status, w, strata = integer(length(time))) {
  out <- km_c(time, status, w, strata)
  fit <- km_survfit(time, status, w, strata)
  counts <- if (is.null(fit$strata)) length(fit$time) else unname(fit$strata)
  expect_identical(out$stratum, rep(sort(unique(as.integer(strata))), counts))
  expect_equal(out$time, fit$time, tolerance = 1e-10)
  expect_equal(out$n_risk, fit$n.risk, tolerance = 1e-10)
  expect_equal(out$n_event, fit$n.event, tolerance = 1e-10)
  expect_equal(out$n_censor, fit$n.censor, tolerance = 1e-10)
  expect_equal(out$surv, fit$surv, tolerance = 1e-10)
  expect_equal(out$std_err, fit$std.err, tolerance = 1e-10)
  invisible(out)
}

# Slow, obvious weighted Kaplan-Meier, one stratum after another.
km_ref <- function(time, status, w, strata) {
  rows <- lapply(sort(unique(strata)), function(s) {
    k <- strata == s
    tt <- time[k]; dd <- status[k]; ww <- w[k]
    ut <- sort(unique(tt))
    n_risk <- vapply(ut, function(t) sum(ww[tt >= t]), 0)
    n_event <- vapply(ut, function(t) sum(ww[tt == t & dd == 1]), 0)
    n_censor <- vapply(ut, function(t) sum(ww[tt == t & dd == 0]), 0)
    surv <- cumprod(ifelse(n_event > 0, 1 - n_event / n_risk, 1))
    data.frame(stratum = s, time = ut, n_risk, n_event, n_censor, surv)
  })
  do.call(rbind, rows)
}

# sqrt(sum_i (w_i dS/dw_i)^2) by central differences in each weight.
ij_se_numeric <- function(time, status, w, strata, h = 1e-6) {
  D <- vapply(seq_along(w), function(i) {
    if (w[i] == 0) return(numeric(nrow(km_ref(time, status, w, strata))))
    up <- w; up[i] <- w[i] * (1 + h)
    down <- w; down[i] <- w[i] * (1 - h)
    w[i] * (km_ref(time, status, up, strata)$surv -
              km_ref(time, status, down, strata)$surv) / (2 * h * w[i])
  }, numeric(nrow(km_ref(time, status, w, strata))))
  sqrt(rowSums(D^2))
}

# Three strata: tied event times, events tied with censorings, non-integer and
# zero weights (one zero-weight subject is the last of its stratum), and a
# stratum (2) whose last time is an event that takes all remaining weight.
small <- data.frame(
  time = c(1, 2, 2, 2, 3, 4, 4, 6,    1.5, 1.5, 2.5, 2.5, 3.5, 5,   1, 2, 3, 3, 3),
  status = c(1, 1, 1, 0, 0, 1, 0, 1,  1, 0, 1, 1, 0, 0,          0, 1, 1, 1, 1),
  w = c(1.5, 0.5, 2, 1, 0.25, 1, 0, 0.7, 1, 2, 0, 0.6, 1.1, 0,  0.3, 1, 2, 0.5, 0),
  strata = c(rep(0L, 8), rep(1L, 6), rep(2L, 5))
)

test_that("weighted Kaplan-Meier matches survfit with ties, zero weights and S = 0", {
  out <- with(small, expect_matches_survfit(time, status, w, strata))
  last2 <- max(which(out$stratum == 2L))
  expect_identical(out$surv[last2], 0)
  expect_identical(out$std_err[last2], 0)
  expect_identical(out$n_risk[out$stratum == 1L & out$time == 5], 0)
})

test_that("weighted Kaplan-Meier matches a pure-R reference", {
  out <- with(small, km_c(time, status, w, strata))
  ref <- with(small, km_ref(time, status, w, strata))
  expect_identical(out$stratum, as.integer(ref$stratum))
  expect_identical(out$time, ref$time)
  for (v in c("n_risk", "n_event", "n_censor", "surv")) {
    expect_equal(out[[v]], ref[[v]], tolerance = 1e-12, label = v)
  }
})

test_that("the IJ standard error is sqrt(sum_i (w_i dS/dw_i)^2)", {
  out <- with(small, km_c(time, status, w, strata))
  expect_equal(out$std_err, with(small, ij_se_numeric(time, status, w, strata)),
               tolerance = 1e-8)
  one <- small[small$strata == 0L, ]
  expect_equal(with(one, km_c(time, status, w)$std_err),
               with(one, ij_se_numeric(time, status, w, strata)), tolerance = 1e-8)
})

test_that("one stratum matches survfit", {
  with(small[small$strata == 0L, ], expect_matches_survfit(time, status, w))
  with(small[small$strata == 2L, ], expect_matches_survfit(time, status, w))
})

test_that("random data with many ties matches survfit in one and three strata", {
  set.seed(11)
  n <- 400
  time <- round(rexp(n, 0.3), 1)
  status <- rbinom(n, 1, 0.7)
  w <- round(runif(n, 0, 3), 2)
  w[sample(n, 20)] <- 0
  strata <- sample(0:2, n, replace = TRUE)
  expect_matches_survfit(time, status, w)
  expect_matches_survfit(time, status, w, strata)
  expect_matches_survfit(time, status, rep(1, n), strata)
})

test_that("the input order does not matter and empty strata give no rows", {
  set.seed(12)
  perm <- sample(nrow(small))
  a <- with(small, km_c(time, status, w, strata))
  b <- with(small[perm, ], km_c(time, status, w, strata))
  expect_equal(b, a, tolerance = 1e-14)
  c5 <- with(small, km_c(time, status, w, strata, K = 5L))
  expect_identical(c5, a)
  empty <- km_c(numeric(), integer(), numeric(), integer(), K = 1L)
  expect_identical(lengths(empty), c(stratum = 0L, time = 0L, n_risk = 0L, n_event = 0L,
                                     n_censor = 0L, surv = 0L, std_err = 0L))
})

test_that("ffi_km rejects malformed input without crashing", {
  f <- causallib:::C_ffi_km
  expect_error(.Call(f, 1L, 1L, 1, 1L, 1L), "`time` must be a double")
  expect_error(.Call(f, c(1, NA), c(1L, 0L), c(1, 1), c(1L, 1L), 1L), "`time` has a missing")
  expect_error(.Call(f, -1, 1L, 1, 1L, 1L), "`time` must be non-negative")
  expect_error(.Call(f, 1, 2L, 1, 1L, 1L), "`status` must be 0 or 1")
  expect_error(.Call(f, 1, NA_integer_, 1, 1L, 1L), "`status` must be 0 or 1")
  expect_error(.Call(f, 1, 1L, c(1, 1), 1L, 1L), "`w` has length")
  expect_error(.Call(f, 1, 1L, -1, 1L, 1L), "`w` must be non-negative")
  expect_error(.Call(f, 1, 1L, Inf, 1L, 1L), "`w` has a missing")
  expect_error(.Call(f, 1, 1L, 1, 2L, 1L), "`strata` must hold codes 1 to 1")
  expect_error(.Call(f, 1, 1L, 1, 0L, 1L), "`strata` must hold codes 1 to 1")
  expect_error(.Call(f, 1, 1L, 1, NA_integer_, 1L), "`strata` must hold codes")
  expect_error(.Call(f, 1, 1L, 1, 1, 1L), "`strata` must be an integer")
  expect_error(.Call(f, 1, 1L, 1, 1L, 0L), "`K` must be between")
  expect_error(.Call(f, 1, 1L, 1, 1L, NULL), "`K` must be a single")
})
