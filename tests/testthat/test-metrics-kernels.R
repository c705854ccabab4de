# Slow, obvious references for the C metric kernels.

auc_pairwise <- function(score, pos, neg) {
  above <- outer(score, score, ">") + 0.5 * outer(score, score, "==")
  sum(outer(pos, neg) * above) / (sum(pos) * sum(neg))
}

roc_ref <- function(score, pos, neg) {
  thr <- sort(unique(score), decreasing = TRUE)
  tp <- vapply(thr, function(t) sum(pos[score >= t]), 0)
  fp <- vapply(thr, function(t) sum(neg[score >= t]), 0)
  data.frame(threshold = c(Inf, thr), fpr = c(0, fp / sum(neg)),
             tpr = c(0, tp / sum(pos)), precision = c(NA, tp / (tp + fp)))
}

moments_ref <- function(x, group, w, G) {
  x <- as.matrix(x)
  mean <- ss <- matrix(NA_real_, G, ncol(x))
  sum_w <- sum_w2 <- numeric(G)
  for (g in seq_len(G)) {
    k <- group == g - 1L
    sum_w[g] <- sum(w[k])
    sum_w2[g] <- sum(w[k]^2)
    if (sum_w[g] == 0) next
    for (j in seq_len(ncol(x))) {
      mean[g, j] <- weighted.mean(x[k, j], w[k])
      ss[g, j] <- sum(w[k] * (x[k, j] - mean[g, j])^2)
    }
  }
  list(sum_w = sum_w, sum_w2 = sum_w2, mean = mean, ss = ss)
}

ks_ref <- function(x, group, w) {
  apply(as.matrix(x), 2, function(v) {
    t <- sort(unique(v))
    F1 <- vapply(t, function(u) sum(w[group == 1 & v <= u]), 0) / sum(w[group == 1])
    F0 <- vapply(t, function(u) sum(w[group == 0 & v <= u]), 0) / sum(w[group == 0])
    max(abs(F1 - F0))
  })
}

roc_c <- function(...) causallib:::roc_curve(...)
# The references label groups 0..G-1; the kernels take R's codes 1..G.
moments_c <- function(x, group, w, G) causallib:::group_moments(x, group + 1L, w, G)
ks_c <- function(x, group, w) causallib:::weighted_ks(x, group + 1L, w)

test_that("AUC equals the pairwise formula with ties, fractional and zero weights", {
  set.seed(11)
  for (n in c(2, 5, 40, 200)) {
    score <- round(runif(n), 1) # many ties
    y <- rbinom(n, 1, 0.4)
    y[1:2] <- c(0, 1)
    w <- rexp(n) * rbinom(n, 1, 0.8)
    w[1:2] <- c(0.3, 1.7)
    expect_equal(attr(roc_c(score, w * y, w * (1 - y)), "auc"),
                 auc_pairwise(score, w * y, w * (1 - y)), tolerance = 1e-12)
    p <- runif(n)
    expect_equal(attr(roc_c(score, w * p, w * (1 - p)), "auc"),
                 auc_pairwise(score, w * p, w * (1 - p)), tolerance = 1e-12)
  }
  expect_identical(attr(roc_c(rep(3, 4), c(1, 0, 2, 0), c(0, 1, 0, 1)), "auc"), 0.5)
  expect_identical(attr(roc_c(c(2, 1), c(1, 0), c(0, 1)), "auc"), 1)
  expect_identical(attr(roc_c(c(1, 2), c(1, 0), c(0, 1)), "auc"), 0)
})

test_that("ROC points match a cumulative reference and end at (1, 1)", {
  set.seed(12)
  score <- c(round(rnorm(60), 1), 5, 5)
  y <- rbinom(62, 1, 0.5)
  w <- runif(62) * rbinom(62, 1, 0.9)
  w[61:62] <- 0 # the top threshold carries no mass: precision 0 / 0
  out <- roc_c(score, w * y, w * (1 - y))
  ref <- roc_ref(score, w * y, w * (1 - y))
  expect_named(out, c("threshold", "fpr", "tpr", "precision"))
  expect_equal(out, ref, tolerance = 1e-12, ignore_attr = TRUE)
  expect_true(is.na(out$precision[2]))
  expect_identical(out$tpr[nrow(out)], 1)
  expect_identical(out$fpr[nrow(out)], 1)
  expect_identical(out[1, "threshold"], Inf)
})

test_that("the radix sort orders signs, zeros, subnormals and extremes", {
  set.seed(17)
  vals <- c(-1e300, -5, -1.5, -1e-310, -0, 0, 1e-310, 2^-1074, 1, 1 + 2^-52, 3e8, 1e300)
  score <- sample(c(vals, rnorm(300, sd = 1e3)), 500, replace = TRUE)
  y <- rbinom(500, 1, 0.5)
  w <- rexp(500)
  out <- roc_c(score, w * y, w * (1 - y))
  expect_equal(out, roc_ref(score, w * y, w * (1 - y)), tolerance = 1e-12, ignore_attr = TRUE)
  expect_equal(attr(out, "auc"), auc_pairwise(score, w * y, w * (1 - y)), tolerance = 1e-12)
  expect_equal(ks_c(score, y, w), ks_ref(score, y, w), tolerance = 1e-12)
})

test_that("AUC of plain labels is the Mann-Whitney statistic", {
  set.seed(13)
  score <- rnorm(300)
  y <- rbinom(300, 1, 0.3)
  mw <- wilcox.test(score[y == 1], score[y == 0], exact = FALSE)$statistic
  expect_equal(attr(roc_c(score, y, 1 - y), "auc"),
               unname(mw) / (sum(y) * sum(1 - y)), tolerance = 1e-12)
})

test_that("group moments match weighted.mean and manual sums", {
  set.seed(14)
  n <- 120
  x <- matrix(rnorm(n * 4, 3), n, 4)
  x[, 3] <- round(x[, 3])
  group <- sample(0:3, n, replace = TRUE)
  w <- rexp(n) * rbinom(n, 1, 0.8)
  expect_equal(moments_c(x, group, w, 4), moments_ref(x, group, w, 4), tolerance = 1e-12)
  # Group 2 is empty and group 1 has only zero weights: NA moments.
  group[group == 2L] <- 0L
  w[group == 1L] <- 0
  out <- moments_c(x, group, w, 4)
  expect_equal(out, moments_ref(x, group, w, 4), tolerance = 1e-12)
  expect_true(all(is.na(out$mean[2:3, ])) && all(is.na(out$ss[2:3, ])))
  expect_identical(out$sum_w[2:3], c(0, 0))
})

test_that("group moments are accurate far from zero and in edge sizes", {
  n <- 1000
  x <- cbind(1e9 + seq_len(n), 7)
  out <- moments_c(x, integer(n), rep(1, n), 1)
  expect_equal(out$mean[1, ], c(1e9 + (n + 1) / 2, 7), tolerance = 1e-15)
  expect_equal(out$ss[1, 1], n * (n^2 - 1) / 12, tolerance = 1e-12)
  expect_identical(out$ss[1, 2], 0)

  one <- moments_c(matrix(c(1, 5, 2, 4), 2), 0:1, c(2, 0.5), 2)
  expect_identical(one$mean, matrix(c(1, 5, 2, 4), 2))
  expect_identical(one$ss, matrix(0, 2, 2))
  expect_identical(one$sum_w2, c(4, 0.25))

  none <- moments_c(matrix(numeric(0), 5, 0), c(0, 1, 1, 0, 1), rep(1, 5), 2)
  expect_identical(dim(none$mean), c(2L, 0L))
  expect_identical(none$sum_w, c(2, 3))
})

test_that("weighted KS matches ks.test and a weighted ECDF reference", {
  set.seed(15)
  n <- 150
  x <- matrix(rnorm(n * 3), n, 3)
  group <- rbinom(n, 1, 0.4)
  ks <- vapply(1:3, function(j)
    unname(ks.test(x[group == 1, j], x[group == 0, j])$statistic), 0)
  expect_equal(ks_c(x, group, rep(1, n)), ks, tolerance = 1e-12)

  x[, 2] <- round(x[, 2], 1)
  x[, 3] <- sample(1:4, n, replace = TRUE)
  w <- rexp(n) * rbinom(n, 1, 0.85)
  expect_equal(ks_c(x, group, w), ks_ref(x, group, w), tolerance = 1e-12)
})

test_that("weighted KS edge cases: one unit per group, constant columns, no columns", {
  expect_identical(ks_c(cbind(c(1, 2), c(2, 1), 3), c(1, 0), c(1, 1)), c(1, 1, 0))
  set.seed(16)
  g <- rbinom(50, 1, 0.5)
  expect_identical(ks_c(matrix(0.1, 50, 2), g, runif(50)), c(0, 0))
  expect_identical(ks_c(matrix(numeric(0), 50, 0), g, runif(50)), numeric(0))
  # Zero weights take no part: the ECDFs are those of the other units.
  x <- c(1, 2, 3, 4)
  expect_equal(ks_c(x, c(0, 1, 0, 1), c(1, 1, 0, 1)), ks_ref(x, c(0, 1, 0, 1), c(1, 1, 0, 1)))
})

test_that("the metric kernels reject malformed input without crashing", {
  roc <- function(...) .Call(causallib:::C_ffi_roc, ...)
  mom <- function(...) .Call(causallib:::C_ffi_group_moments, ...)
  ks <- function(...) .Call(causallib:::C_ffi_weighted_ks, ...)
  expect_error(roc(1:2, c(1, 0), c(0, 1)), "`score` must be a double")
  expect_error(roc(c(1, NA), c(1, 0), c(0, 1)), "`score` has a missing")
  expect_error(roc(c(1, 2), c(1, 0, 1), c(0, 1)), "`pos` has length")
  expect_error(roc(c(1, 2), c(1, -1), c(0, 1)), "`pos` must be non-negative")
  expect_error(roc(c(1, 2), c(1, 0), c(0, Inf)), "`neg` has a missing")
  expect_error(roc(c(1, 2), c(0, 0), c(0, 1)), "`pos` must have a positive")
  expect_error(roc(c(1, 2), c(1, 1), c(0, 0)), "`neg` must have a positive")
  expect_error(roc(double(0), double(0), double(0)), "`pos` must have a positive")
  expect_error(roc(c(1, 2), c(1e308, 1e308), c(0, 1)), "`pos` must have a positive, finite")

  x <- matrix(1, 3, 2)
  expect_error(mom(matrix(1L, 3, 2), 1:3, rep(1, 3), 3L), "`X` must be a double")
  expect_error(mom(x, c(1L, 2L, 4L), rep(1, 3), 3L), "`group` must hold codes 1 to 3")
  expect_error(mom(x, c(0L, 1L, 2L), rep(1, 3), 3L), "`group` must hold codes 1 to 3")
  expect_error(mom(x, c(1L, NA, 2L), rep(1, 3), 3L), "`group` must hold")
  expect_error(mom(x, c(1, 2, 3), rep(1, 3), 3L), "`group` must be an integer")
  expect_error(mom(x, 1:2, rep(1, 3), 3L), "`group` has length")
  expect_error(mom(x, 1:3, c(1, NaN, 1), 3L), "`w` has a missing")
  expect_error(mom(x, 1:3, rep(1, 3), 0L), "`G` must be between")
  expect_error(mom(x, 1:3, rep(1, 3), c(1L, 2L)), "`G` must be a single")
  expect_error(mom(x, 1:3, rep(1, 3), NA_integer_), "`G` must be between")
  x[2, 2] <- -Inf
  expect_error(mom(x, 1:3, rep(1, 3), 3L), "`X` has a missing")

  x <- matrix(1, 4, 2)
  expect_error(ks(x, c(1L, 2L, 3L, 2L), rep(1, 4)), "`group` must hold codes 1 to 2")
  expect_error(ks(x, c(1L, 1L, 2L, 2L), c(1, 1, 0, 0)), "group 2 must have a positive")
  expect_error(ks(x, rep(2L, 4), rep(1, 4)), "group 1 must have a positive")
  expect_error(ks(x, c(1L, 1L, 2L, 2L), c(1, 1, -1, 1)), "`w` must be non-negative")
  expect_error(ks("a", 1L, 1), "`X` must be a double")
  expect_error(ks(NULL, integer(0), double(0)), "`X` must be a double")
})
