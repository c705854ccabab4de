# Cluster-robust standard errors (R/cluster.R): every sandwich sums its
# per-unit estimating or influence functions within clusters, times
# G / (G - 1).

cluster_data <- function(n = 400, G = 90, seed = 3) {
  d <- sim_confounded(n, seed)
  withr::local_seed(seed + 1)
  d$id <- sample.int(G, n, replace = TRUE)
  d
}

cluster_survival_data <- function(n = 300, G = 70, seed = 5) {
  d <- sim_survival(n, periods = 10, seed = seed)
  withr::local_seed(seed + 1)
  d$id <- sample.int(G, n, replace = TRUE)
  d
}

effect_se <- function(fit, ...) sqrt(diag(estimate_effect(fit, ...)$vcov))

# The point models, each a function of `cluster` (a quosure-friendly value).
point_cases <- list(
  ipw = function(d, cl) ipw(a ~ x1 + x2, data = d, cluster = cl),
  ipw_att_stabilized = function(d, cl) ipw(a ~ x1 + x2, data = d, estimand = "ATT", stabilize = TRUE,
                                          cluster = cl),
  ipw_ridge_weighted = function(d, cl) ipw(a ~ x1 + x2, data = d, weights = w, cluster = cl,
                                          learner = lrn_glm(penalty = 2)),
  ipw_three_levels = function(d, cl) {
    d$a3 <- factor(ifelse(d$x2 == 1, "c", ifelse(d$a == 1, "b", "a")))
    ipw(a3 ~ x1, data = d, cluster = cl)
  },
  standardization = function(d, cl) standardization(y ~ a + x1 + x2, data = d, treatment = a, cluster = cl),
  std_binary_att = function(d, cl) standardization(yb ~ a * x1, data = d, treatment = a, estimand = "ATT",
                                                  cluster = cl),
  std_stratified = function(d, cl) standardization(y ~ a + x1 + x2, data = d, treatment = a,
                                                  stratified = TRUE, weights = w, cluster = cl)
)

point_se <- function(fit) {
  if (inherits(fit, "causallib_weight_model")) effect_se(fit, outcome = y) else effect_se(fit)
}

test_that("one row per cluster reproduces the unclustered sandwich times sqrt(G / (G - 1))", {
  d <- cluster_data()
  n <- nrow(d)
  for (case in names(point_cases)) {
    mk <- point_cases[[case]]
    se0 <- point_se(mk(d, NULL))
    se1 <- point_se(mk(d, seq_len(n)))
    expect_equal(se1, se0 * sqrt(n / (n - 1)), tolerance = 1e-10, label = case)
  }
})

test_that("clustered sandwiches are invariant to relabelling and reordering the clusters", {
  d <- cluster_data()
  withr::local_seed(11)
  perm <- sample.int(nrow(d))
  d2 <- d[perm, ]
  d2$id <- paste0("person-", 1000 - d2$id)
  for (case in names(point_cases)) {
    mk <- point_cases[[case]]
    expect_equal(point_se(mk(d2, "id")), point_se(mk(d, "id")), tolerance = 1e-8, label = case)
  }
})

test_that("every row twice, clustered by the original row, gives the original sandwich", {
  d <- cluster_data(n = 300)
  n <- nrow(d)
  d$row <- seq_len(n)
  dd <- d[rep(seq_len(n), each = 2), ]
  # A ridge penalty is not doubled with the data, so it is left out.
  for (case in setdiff(names(point_cases), "ipw_ridge_weighted")) {
    mk <- point_cases[[case]]
    expect_equal(point_se(mk(dd, dd$row)), point_se(mk(d, NULL)) * sqrt(n / (n - 1)),
                 tolerance = 1e-7, label = case)
  }
})

test_that("clustered effects match sandwich::vcovCL() where a linear model is the same estimator", {
  skip_if_not_installed("sandwich")
  d <- cluster_data()
  ref <- function(f) sqrt(sandwich::vcovCL(stats::lm(f, data = d), cluster = ~id, type = "HC0")["a", "a"])
  # Standardization with an additive linear model: the effect is the
  # coefficient of a; an intercept-only propensity model: constant weights
  # within arms, so the Hajek means are the arm means.
  cases <- list(
    list(fit = standardization(y ~ a + x1 + x2, data = d, treatment = a, cluster = id),
         ref = ref(y ~ a + x1 + x2)),
    list(fit = standardization(y ~ a, data = d, treatment = a, cluster = "id"), ref = ref(y ~ a)),
    list(fit = ipw(a ~ 1, data = d, cluster = d$id), ref = ref(y ~ a))
  )
  for (cs in cases) {
    expect_equal(unname(point_se(cs$fit)), cs$ref, tolerance = 1e-8)
  }
})

test_that("the clustered IPW sandwich matches a stacked sandwich built by hand", {
  d <- cluster_data()
  fit <- ipw(a ~ x1 + x2, data = d, cluster = id)
  X <- cbind(1, d$x1, d$x2)
  ee <- function(theta) {
    p <- stats::plogis(drop(X %*% theta[1:3]))
    w <- ifelse(d$a == 1, 1 / p, 1 / (1 - p))
    cbind(X * (d$a - p), (d$a == 0) * w * (d$y - theta[4]), (d$a == 1) * w * (d$y - theta[5]))
  }
  beta <- stats::coef(stats::glm(a ~ x1 + x2, family = stats::binomial(), data = d))
  p <- stats::plogis(drop(X %*% beta))
  w <- ifelse(d$a == 1, 1 / p, 1 / (1 - p))
  theta <- c(beta, stats::weighted.mean(d$y[d$a == 0], w[d$a == 0]),
             stats::weighted.mean(d$y[d$a == 1], w[d$a == 1]))
  D <- num_jacobian(function(th) colSums(ee(th)), theta)
  G <- length(unique(d$id))
  B <- crossprod(rowsum(ee(theta), d$id)) * G / (G - 1)
  V <- solve(D) %*% B %*% t(solve(D))
  expect_equal(unname(point_se(fit)), sqrt(V[5, 5] + V[4, 4] - 2 * V[4, 5]), tolerance = 1e-6)
})

# ---- survival ----------------------------------------------------------------

survival_cases <- list(
  km = function(d, cl) survival_ipw(Surv(time, event) ~ a, data = d, cluster = cl),
  km_ipw = function(d, cl) survival_ipw(Surv(time, event) ~ a, data = d, weight_model = a ~ x, cluster = cl),
  grid_km_censoring = function(d, cl) survival_ipw(Surv(time, event) ~ a, data = d, weight_model = a ~ x,
                                                   censoring_model = ~x, time_terms = quadratic_time,
                                                   cluster = cl),
  pooled_ipw = function(d, cl) survival_ipw(Surv(time, event) ~ a, data = d, weight_model = a ~ x,
                                            method = "pooled_logistic", time_terms = quadratic_time,
                                            cluster = cl),
  std_pooled = function(d, cl) survival_standardization(Surv(time, event) ~ a + x, data = d, treatment = a,
                                                        time_terms = quadratic_time, cluster = cl),
  std_pooled_weighted = function(d, cl) survival_standardization(Surv(time, event) ~ a + x, data = d,
                                                                 treatment = a, weight_model = a ~ x,
                                                                 time_terms = quadratic_time, cluster = cl),
  std_stratified = function(d, cl) survival_standardization(Surv(time, event) ~ a + x, data = d, treatment = a,
                                                            stratified = TRUE, time_terms = quadratic_time,
                                                            cluster = cl),
  cox = function(d, cl) survival_standardization(Surv(time, event) ~ a + x, data = d, treatment = a,
                                                 model = "cox", cluster = cl)
)

survival_se <- function(fit, times = c(4, 8)) {
  list(curves = fit$std_error, effect = effect_se(fit, times = times),
       rmst = effect_se(fit, times = times, contrast = "rmst_difference"))
}

test_that("survival: one person per cluster reproduces the unclustered curves and contrasts", {
  d <- cluster_survival_data()
  n <- nrow(d)
  for (case in names(survival_cases)) {
    mk <- survival_cases[[case]]
    s0 <- survival_se(mk(d, NULL))
    s1 <- survival_se(mk(d, seq_len(n)))
    for (what in names(s0)) {
      expect_equal(s1[[what]], s0[[what]] * sqrt(n / (n - 1)), tolerance = 1e-8,
                   label = paste(case, what))
    }
  }
})

test_that("survival: clusters relabelled and reordered give the same standard errors", {
  d <- cluster_survival_data()
  withr::local_seed(12)
  d2 <- d[sample.int(nrow(d)), ]
  d2$id <- factor(paste0("p", d2$id))
  for (case in c("km_ipw", "grid_km_censoring", "std_pooled_weighted", "cox")) {
    mk <- survival_cases[[case]]
    f1 <- mk(d, d$id)
    f2 <- mk(d2, "id")
    expect_equal(f2$std_error, f1$std_error, tolerance = 1e-8, label = case)
    expect_equal(effect_se(f2, times = c(4, 8)), effect_se(f1, times = c(4, 8)), tolerance = 1e-8,
                 label = case)
  }
})

test_that("survival: every person twice, clustered by person, gives the original standard errors", {
  d <- cluster_survival_data(n = 200)
  n <- nrow(d)
  d$person <- seq_len(n)
  dd <- d[rep(seq_len(n), each = 2), ]
  # Cox is left out: duplicated times are ties, which Efron's method treats
  # differently from a doubled weight.
  for (case in setdiff(names(survival_cases), "cox")) {
    mk <- survival_cases[[case]]
    s0 <- survival_se(mk(d, NULL))
    s1 <- survival_se(mk(dd, dd$person))
    for (what in names(s0)) {
      expect_equal(s1[[what]], s0[[what]] * sqrt(n / (n - 1)), tolerance = 1e-6,
                   label = paste(case, what))
    }
  }
})

test_that("clustered Kaplan-Meier standard errors are survfit()'s influence summed by cluster", {
  d <- cluster_survival_data()
  fit <- survival_ipw(Surv(time, event) ~ a, data = d, cluster = id)
  G <- length(unique(d$id))
  for (k in 0:1) {
    dk <- d[d$a == k, ]
    sf <- survival::survfit(Surv(time, event) ~ 1, data = dk, influence = TRUE)
    infl <- sf$influence.surv
    hand <- sqrt(colSums(rowsum(infl, dk$id)^2) * G / (G - 1))
    at <- match(sf$time, fit$times)
    expect_equal(fit$std_error[k + 1L, at], hand, tolerance = 1e-8)
  }
})

test_that("the running-sum Kaplan-Meier path equals the general clustered path", {
  d <- cluster_survival_data()
  d$time <- d$time + round(stats::runif(nrow(d)), 1)
  for (case in c("km", "km_ipw")) {
    fit <- survival_cases[[case]](d, d$id)
    slow <- clustered_curve_se(fit, fast = FALSE)
    slow[is.na(fit$survival)] <- NA_real_
    expect_equal(fit$std_error, slow, tolerance = 1e-10, label = case)
  }
})

test_that("clustered Aalen-Johansen standard errors are survfit()'s influence summed by cluster", {
  crc <- colon_competing()[1:300, ]
  withr::local_seed(31)
  crc$g <- sample.int(80, nrow(crc), replace = TRUE)
  fit <- survival_ipw(Surv(time, cause) ~ rx, data = crc, cluster = g)
  G <- length(unique(crc$g))
  for (k in seq_along(fit$levels)) {
    dk <- crc[crc$rx == fit$levels[k], ]
    sf <- survival::survfit(Surv(time, cause) ~ 1, data = dk, influence = TRUE)
    at <- match(sf$time, fit$times)
    for (j in 1:2) {
      # influence.pstate starts with time 0.
      hand <- sqrt(colSums(rowsum(sf$influence.pstate[, -1L, j + 1L], dk$g)^2) * G / (G - 1))
      expect_equal(fit$cif_std_error[k, at, j], hand, tolerance = 1e-8)
    }
  }
})

test_that("competing risks: one person per cluster reproduces the unclustered standard errors", {
  crc <- colon_competing()[1:300, ]
  n <- nrow(crc)
  mk <- function(cl) survival_ipw(Surv(time, cause) ~ rx, data = crc, weight_model = rx ~ age + sex,
                                  cluster = cl)
  f0 <- mk(NULL)
  f1 <- mk(seq_len(n))
  expect_equal(f1$cif_std_error, f0$cif_std_error * sqrt(n / (n - 1)), tolerance = 1e-8)
  expect_equal(effect_se(f1, times = c(500, 1000)), effect_se(f0, times = c(500, 1000)) * sqrt(n / (n - 1)),
               tolerance = 1e-8)
})

test_that("the clustered bootstrap resamples whole clusters", {
  d <- cluster_data(n = 200, G = 40)
  fit0 <- ipw(a ~ x1, data = d)
  fit <- ipw(a ~ x1, data = d, cluster = id)
  withr::local_seed(21)
  est <- estimate_effect(fit, outcome = y, se = "bootstrap", R = 10)
  withr::local_seed(21)
  cl <- fit$cluster
  counts <- bootstrap_counts(cl$G, 10)[cl$id, , drop = FALSE]
  reps <- bootstrap_replicates(fit0, counts, outcome = d$y, engine = "r")
  expect_equal(unname(est$replicates[, 1]), unname(reps[, 2] - reps[, 1]))
  # Every resample repeats each cluster's people together.
  expect_true(all(apply(counts, 2L, function(cn) all(tapply(cn, d$id, function(v) length(unique(v))) == 1))))

  ds <- cluster_survival_data(n = 150, G = 40)
  withr::local_seed(22)
  sfit <- survival_ipw(Surv(time, event) ~ a, data = ds, cluster = id, se = "bootstrap", R = 5)
  withr::local_seed(22)
  plain <- survival_ipw(Surv(time, event) ~ a, data = ds, se = "none")
  scl <- cluster_rows(sfit$cluster, seq_len(nrow(ds)))
  counts <- bootstrap_counts(scl$G, 5)[scl$id, , drop = FALSE]
  expect_equal(matrix(sfit$replicates, 5), bootstrap_replicates(plain, counts, engine = "r"))
})

test_that("clustered fits say how their standard errors are clustered", {
  d <- cluster_data()
  G <- length(unique(d$id))
  fit <- ipw(a ~ x1, data = d, cluster = id)
  expect_match(capture.output(print(fit)), paste0("clustered by id \\(", G, " clusters\\)"), all = FALSE)
  expect_match(capture.output(print(estimate_effect(fit, outcome = y))),
               paste0("Standard errors: sandwich .*clustered by id \\(", G, " clusters\\)"), all = FALSE)
  ds <- cluster_survival_data()
  sfit <- survival_standardization(Surv(time, event) ~ a + x, data = ds, treatment = "a",
                                   time_terms = quadratic_time, cluster = "id")
  expect_match(capture.output(print(sfit)), "Standard errors: influence function.*clustered by id", all = FALSE)
  expect_match(capture.output(print(estimate_effect(sfit, times = 5))), "clustered by id", all = FALSE)
  expect_no_match(paste(capture.output(print(ipw(a ~ x1, data = d))), collapse = "\n"), "clustered")
})

test_that("matrix interfaces take a cluster vector and agree with the formula interfaces", {
  d <- cluster_data()
  x <- as.matrix(d[c("x1", "x2")])
  f <- ipw(a ~ x1 + x2, data = d, cluster = id)
  m <- ipw_fit(x, d$a, cluster = d$id)
  expect_equal(effect_se(m, outcome = d$y), point_se(f))
  expect_match(capture.output(print(m)), "clustered by cluster \\(", all = FALSE)
  s <- standardization_fit(x, d$a, d$y, cluster = d$id)
  expect_equal(point_se(s), point_se(standardization(y ~ a + x1 + x2, data = d, treatment = a,
                                                     cluster = id)))
  ds <- cluster_survival_data()
  fs <- survival_ipw(Surv(time, event) ~ a, data = ds, cluster = id)
  ms <- survival_ipw_fit(ds$a, ds$time, ds$event, cluster = ds$id)
  expect_equal(ms$std_error, fs$std_error)
  fs <- survival_standardization(Surv(time, event) ~ a + x, data = ds, treatment = a,
                                 time_terms = quadratic_time, cluster = id)
  ms <- survival_standardization_fit(as.matrix(ds["x"]), ds$a, ds$time, ds$event,
                                     time_terms = quadratic_time, cluster = ds$id)
  expect_equal(ms$std_error, fs$std_error, tolerance = 1e-10)
})

test_that("simultaneous bands of clustered fits use the clustered correlation", {
  ds <- cluster_survival_data()
  n <- nrow(ds)
  f0 <- survival_ipw(Surv(time, event) ~ a, data = ds, weight_model = a ~ x)
  f1 <- survival_ipw(Surv(time, event) ~ a, data = ds, weight_model = a ~ x, cluster = seq_len(n))
  f2 <- survival_ipw(Surv(time, event) ~ a, data = ds, weight_model = a ~ x, cluster = id)
  crit <- function(fit) {
    withr::with_seed(41, band_critical_value(fit, 0.95, band_from = 0))
  }
  # The same correlation; the draws may differ by the signs of its
  # eigenvectors, so only up to Monte Carlo error.
  expect_equal(crit(f1), crit(f0), tolerance = 0.01)
  # The clustered correlation is the cross-product of cluster sums of the
  # pointwise influence functions, summed by hand here.
  keep <- which(is.finite(f2$std_error[1, ]) & f2$std_error[1, ] > 0 & f2$survival[1, ] > 0)[1:3]
  L <- matrix(0, length(f2$times), 3)
  L[cbind(keep, 1:3)] <- 1
  phi <- curve_influence(f2, L, rep(1L, 3))
  V <- crossprod(rowsum(phi, ds$id))
  G <- length(unique(ds$id))
  expect_equal(sqrt(diag(V) * G / (G - 1)), f2$std_error[1, keep], tolerance = 1e-10)
})

test_that("a doubly robust estimate refuses a clustered component", {
  d <- cluster_data()
  dr <- aipw(standardization(y ~ a + x1, data = d, treatment = a), ipw(a ~ x1, data = d, cluster = id))
  expect_error(estimate_effect(dr), regexp = "cluster")
})

test_that("a survival AIPW fit refuses a clustered weight model", {
  ds <- cluster_survival_data(n = 120)
  wm <- ipw(a ~ x, data = ds, cluster = id)
  expect_error(survival_aipw(Surv(time, event) ~ a + x, data = ds, treatment = a, weight_model = wm),
               regexp = "cluster")
})

test_that("refits keep the clusters of their rows", {
  d <- cluster_data()
  fit <- ipw(a ~ x1, data = d, cluster = id)
  sub <- refit(fit, rows = 1:150)
  expect_equal(sub$cluster$G, length(unique(d$id[1:150])))
  expect_equal(sub$cluster$id, match(d$id[1:150], unique(d$id[1:150])))
  fresh <- ipw(a ~ x1, data = d[1:150, ], cluster = id)
  expect_equal(point_se(sub), point_se(fresh))
})

test_that("bad cluster arguments are errors naming cluster", {
  d <- cluster_data(n = 50)
  d$bad <- d$id
  d$bad[7] <- NA
  ds <- cluster_survival_data(n = 80)
  expect_snapshot(error = TRUE, {
    ipw(a ~ x1, data = d, cluster = bad)
    ipw(a ~ x1, data = d, cluster = 1:10)
    ipw(a ~ x1, data = d, cluster = "nope")
    ipw(a ~ x1, data = d, cluster = nope)
    ipw(a ~ x1, data = d, cluster = rep(1, 50))
    standardization(y ~ a + x1, data = d, treatment = a, cluster = list(1:50))
    survival_ipw(Surv(time, event) ~ a, data = ds, weight_model = ipw(a ~ x, data = ds, cluster = id))
  })
  fused <- list(meat = diag(2), score = NULL)
  expect_error(stack_sandwich(fused, list(id = 1:2, G = 2L)), class = "rlang_error", regexp = "cluster")
})
