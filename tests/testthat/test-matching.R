lalonde_formula <- treat ~ age + educ + race + married + nodegree + re74 + re75

# MatchIt's general nearest-neighbour matcher (nn_matchC) on a given
# focal x pool distance matrix D: it matches the focal units f in data
# order, so the data are reordered to f followed by the pool.  Returns the
# weights in the original row order.
matchit_by_matrix <- function(data, f, pool, D, k, replace, caliper = NULL, exact = NULL,
                              result = "weights") {
  rows <- c(f, pool)
  d <- data[rows, ]
  d$treat <- rep(1:0, c(length(f), length(pool)))
  args <- list(lalonde_formula, data = d, method = "nearest", ratio = k, replace = replace,
               distance = D, exact = exact)
  if (!is.null(caliper)) {
    args$caliper <- caliper
    args$std.caliper <- FALSE
  }
  m <- suppressWarnings(do.call(MatchIt::matchit, args))
  if (result == "subclass") {
    out <- rep(NA_integer_, nrow(data))
    out[rows] <- as.integer(m$subclass)
    return(out)
  }
  w <- numeric(nrow(data))
  w[rows] <- m$weights
  w
}

# MatchIt's reference weights for propensity-score matching.  MatchIt 4.5.1's
# propensity path (nn_matchC_vec) does not find nearest neighbours: its
# distance comparisons go through an integer abs(), so it always takes the
# nearest control below the focal unit's score and ignores calipers.  Its
# general matcher is correct, and is given the score differences with the
# focal units in MatchIt's default m.order ("largest" score first for the
# ATT, "smallest" for the ATC).
matchit_by_score <- function(data, score, focal, k, replace, caliper = NULL,
                             decreasing = TRUE, exact = NULL, result = "weights") {
  f <- which(focal)
  if (!replace && !is.na(decreasing)) f <- f[order(score[f], decreasing = decreasing)]
  pool <- which(!focal)
  matchit_by_matrix(data, f, pool, abs(outer(score[f], score[pool], "-")), k, replace,
                    if (!is.null(caliper)) caliper * stats::sd(score), exact, result)
}

# Mahalanobis distances (focal x pool) between the rows of X with the pooled
# within-arm covariance, by stats::mahalanobis().
mahalanobis_matrix <- function(X, g, f, pool) {
  centred <- X - apply(X, 2L, function(v) ave(v, g))
  S <- crossprod(centred) / (nrow(X) - 2)
  t(vapply(f, function(i) sqrt(stats::mahalanobis(X[pool, , drop = FALSE], X[i, ], S)),
           numeric(length(pool))))
}

expect_matched_effect <- function(fit, data, w) {
  eff <- estimate_effect(fit, outcome = re78, se = "none")
  ref <- unname(coef(lm(re78 ~ treat, data = data, weights = w))[2])
  expect_equal(unname(coef(eff)), ref, tolerance = 1e-8)
}

test_that("propensity-score matching for the ATT equals MatchIt", {
  d <- lalonde_data()
  ps <- fitted(glm(lalonde_formula, family = binomial(), data = d))
  for (k in 1:2) for (replace in c(TRUE, FALSE)) for (caliper in list(NULL, 0.2)) {
    label <- paste0("k = ", k, ", replace = ", replace, ", caliper = ", format(caliper))
    fit <- suppressMessages(matching(lalonde_formula, data = d, k = k, replace = replace,
                                     caliper = caliper))
    expect_equal(unname(fit$propensity[, "1"]), unname(ps), tolerance = 1e-8)
    ref <- matchit_by_score(d, ps, d$treat == 1, k, replace, caliper)
    expect_equal(weights(fit), ref, tolerance = 1e-8, label = label)
    expect_matched_effect(fit, d, ref)
  }
})

test_that("propensity-score matching for the ATC equals MatchIt", {
  d <- lalonde_data()
  ps <- fitted(glm(lalonde_formula, family = binomial(), data = d))
  settings <- list(list(1, TRUE, NULL), list(1, FALSE, NULL), list(2, FALSE, NULL),
                   list(1, TRUE, 0.2), list(2, FALSE, 0.2))
  for (s in settings) {
    fit <- suppressMessages(matching(lalonde_formula, data = d, k = s[[1]], replace = s[[2]],
                                     caliper = s[[3]], estimand = "ATC"))
    ref <- matchit_by_score(d, ps, d$treat == 0, s[[1]], s[[2]], s[[3]], decreasing = FALSE)
    expect_equal(weights(fit), ref, tolerance = 1e-8)
    expect_matched_effect(fit, d, ref)
  }
})

test_that("Mahalanobis matching equals MatchIt", {
  d <- lalonde_data()
  X <- model.matrix(lalonde_formula, d)[, -1]
  settings <- list(list("ATT", 1, TRUE), list("ATT", 2, TRUE), list("ATT", 1, FALSE),
                   list("ATT", 2, FALSE), list("ATC", 1, TRUE), list("ATC", 1, FALSE),
                   list("ATC", 2, FALSE))
  for (s in settings) {
    fit <- suppressMessages(matching(lalonde_formula, data = d, distance = "mahalanobis",
                                     estimand = s[[1]], k = s[[2]], replace = s[[3]]))
    focal <- which(d$treat == (s[[1]] == "ATT"))
    pool <- setdiff(seq_len(nrow(d)), focal)
    D <- mahalanobis_matrix(X, d$treat, focal, pool)
    pairs <- fit$match_pairs
    expect_equal(pairs$distance, D[cbind(match(pairs$focal_row, focal), match(pairs$matched_row, pool))],
                 tolerance = 1e-8)
    # Equal distances (ages 19 and 23 around 21) are tied exactly after
    # rounding, which MatchIt breaks to the lower row as matching() does.
    ref <- matchit_by_matrix(d, focal, pool, signif(D, 10), s[[2]], s[[3]])
    expect_equal(weights(fit), ref, tolerance = 1e-8)
    expect_matched_effect(fit, d, ref)
    # MatchIt's own Mahalanobis path finds matches at the same distances (its
    # choice among tied candidates follows its rounding).
    if (s[[3]]) {
      m <- suppressWarnings(MatchIt::matchit(lalonde_formula, data = d, method = "nearest",
                                             distance = "mahalanobis", estimand = s[[1]],
                                             ratio = s[[2]], replace = TRUE))
      theirs <- match(m$match.matrix, rownames(d))
      D_theirs <- D[cbind(rep(seq_along(focal), s[[2]]), match(theirs, pool))]
      expect_equal(sort(pairs$distance), sort(D_theirs), tolerance = 1e-8)
    }
  }
})

# Slow, obvious nearest-neighbour search: every focal unit, in order, takes
# the candidates of the pool ordered by (distance, row) within the caliper;
# without replacement k rounds of one match each, taken units leaving the
# pool.
ref_nearest <- function(x, focal, pool, k, caliper, replace) {
  match <- matrix(NA_integer_, length(focal), k)
  dist <- matrix(NA_real_, length(focal), k)
  taken <- logical(ncol(x))
  got <- integer(length(focal))
  for (r in seq_len(if (replace) 1L else k)) {
    for (f in seq_along(focal)) {
      if (got[f] < r - 1L) next
      cand <- pool[!taken[pool]]
      d <- sqrt(colSums((x[, cand, drop = FALSE] - x[, focal[f]])^2))
      o <- order(d, cand)
      o <- o[d[o] <= caliper]
      o <- head(o, if (replace) k else 1L)
      idx <- got[f] + seq_along(o)
      match[f, idx] <- cand[o]
      dist[f, idx] <- d[o]
      got[f] <- got[f] + length(o)
      if (!replace) taken[cand[o]] <- TRUE
    }
  }
  list(match = match, distance = dist)
}

test_that("the C search equals a pure-R reference, ties included", {
  set.seed(42)
  n <- 60
  grids <- list(
    sorted_ties = matrix(sample(0:8, n, replace = TRUE) / 8, 1L),
    sorted_continuous = matrix(runif(n), 1L),
    scan_ties = matrix(sample(0:3, 3 * n, replace = TRUE) + 0, 3L),
    scan_continuous = matrix(rnorm(2 * n), 2L)
  )
  for (g in names(grids)) {
    x <- grids[[g]]
    focal <- sample(n, 25)
    pool <- sort(setdiff(seq_len(n), focal))
    for (k in 1:3) for (replace in c(TRUE, FALSE)) for (caliper in c(Inf, 0.3)) {
      got <- .Call(causallib:::C_ffi_match_nearest, x, focal, pool, k, caliper, replace, NULL, NULL)
      expect_equal(got, ref_nearest(x, focal, pool, k, caliper, replace), tolerance = 1e-12,
                   label = paste(g, k, replace, caliper))
    }
  }
})

# MatchIt's weights from a match matrix (rows of `focal`), by their
# definition: 1 for matched focal units, sum of 1 / (matches of the focal
# unit) for matched units, scaled to the number of distinct matched units.
ref_weights <- function(match, focal, n) {
  w <- numeric(n)
  for (f in seq_along(focal)) {
    m <- match[f, !is.na(match[f, ])]
    if (!length(m)) next
    w[focal[f]] <- 1
    for (j in m) w[j] <- w[j] + 1 / length(m)
  }
  other <- setdiff(seq_len(n), focal)
  w[other] <- w[other] * sum(w[other] > 0) / sum(w[other])
  w
}

test_that("ATC matching with replacement and k = 2 follows the reference", {
  # MatchIt's answer here depends on the unspecified order std::partial_sort
  # leaves among tied treated units (duplicated covariate rows), so the
  # reference is the pure-R search with ties to the lower row.
  d <- lalonde_data()
  fit <- matching(lalonde_formula, data = d, k = 2, estimand = "ATC", replace = TRUE)
  ps <- fit$propensity[, "1"]
  focal <- which(d$treat == 0)
  ref <- ref_nearest(matrix(ps, 1L), focal, which(d$treat == 1), 2L, Inf, TRUE)
  expect_equal(weights(fit), ref_weights(ref$match, focal, nrow(d)), tolerance = 1e-12)
  expect_equal(fit$match_pairs$matched_row, as.vector(t(ref$match)))
})

test_that("the C search handles an empty pool and more matches than candidates", {
  x <- matrix(c(0.1, 0.5, 0.9), 1L)
  out <- .Call(causallib:::C_ffi_match_nearest, x, 1:3, integer(0), 2L, Inf, TRUE, NULL, NULL)
  expect_true(all(is.na(out$match)))
  out <- .Call(causallib:::C_ffi_match_nearest, x, 1L, 2:3, 3L, Inf, FALSE, NULL, NULL)
  expect_equal(out$match, matrix(c(2L, 3L, NA), 1L))
  # More matches than units would only size the output.
  expect_error(.Call(causallib:::C_ffi_match_nearest, x, 1L, 2:3, 4L, Inf, FALSE, NULL, NULL), "internal error")
  expect_error(.Call(causallib:::C_ffi_match_nearest, x, 4L, 1:2, 1L, Inf, TRUE, NULL, NULL), "internal error")
  expect_error(.Call(causallib:::C_ffi_match_nearest, x, 1L, 3:2, 1L, Inf, TRUE, NULL, NULL), "ascending")
})

test_that("ATE weights add each unit's own weight and the weight it receives", {
  # One covariate: the Mahalanobis distance orders candidates as |x_i - x_j|.
  d <- data.frame(a = c(1, 0, 1, 0, 0), x = c(1, 2, 4, 7, 8))
  # k = 1: treated 1 -> 2, 3 -> 2; controls 2 -> 1, 4 -> 3, 5 -> 3.
  fit <- matching(a ~ x, data = d, distance = "mahalanobis", estimand = "ATE")
  expect_equal(weights(fit), c(2, 3, 3, 1, 1))
  # k = 2: treated 1 -> {2, 4}, 3 -> {2, 4}: 1/2 each; controls 2 -> {1, 3},
  # 4 -> {3, 1}, 5 -> {3, 1}: 1/2 each.
  fit2 <- matching(a ~ x, data = d, distance = "mahalanobis", estimand = "ATE", k = 2)
  expect_equal(weights(fit2), c(2.5, 2, 2.5, 2, 1))
  expect_equal(nrow(fit2$match_pairs), 10L)
  expect_equal(fit2$match_pairs$focal_row, rep(c(1, 3, 2, 4, 5), each = 2))
})

test_that("ATT weights follow the hand computation", {
  d <- data.frame(a = c(1, 1, 0, 0, 0, 1), x = c(1, 1.2, 1.1, 5, 5.5, 10))
  # k = 1 with replacement: 1 -> 3, 2 -> 3, 6 -> 5; control 3 weighs 2,
  # control 5 weighs 1, scaled to sum to the 2 distinct controls.
  fit <- matching(a ~ x, data = d, distance = "mahalanobis", replace = TRUE)
  expect_equal(weights(fit), c(1, 1, 4 / 3, 0, 2 / 3, 1))
  expect_equal(fit$n_unmatched, 0L)
})

test_that("focal units without a match within the caliper weigh 0, with a message", {
  d <- lalonde_data()
  expect_message(fit <- matching(lalonde_formula, data = d, caliper = 0.2, replace = TRUE),
                 "1 focal unit found no match within the caliper")
  expect_equal(fit$n_unmatched, 1L)
  expect_equal(sum(weights(fit)[d$treat == 1] == 0), 1L)
  expect_snapshot(error = TRUE, matching(a ~ x1, data = sim_confounded(200), caliper = 1e-12))
})

test_that("bad input gets a clear error", {
  d <- sim_confounded(200)
  expect_snapshot(error = TRUE, matching(a ~ x1, data = d, k = 0))
  expect_snapshot(error = TRUE, matching(a ~ x1, data = d, k = 1.5))
  expect_snapshot(error = TRUE, matching(a ~ x1, data = d, caliper = 0))
  expect_snapshot(error = TRUE, matching(a ~ x1, data = d, caliper = -1))
  expect_snapshot(error = TRUE, matching(a ~ x1, data = d, estimand = "ATE", replace = FALSE))
  expect_snapshot(error = TRUE, matching(a ~ x1, data = d, distance = "mahalanobis", caliper = 0.2))
  expect_snapshot(error = TRUE, matching(a ~ x1, data = d, distance = "euclid"))
  expect_snapshot(error = TRUE, matching(a3 ~ x1, data = transform(d, a3 = a + (x1 > 1))))
  fit <- matching(a ~ x1, data = d, replace = TRUE)
  expect_snapshot(error = TRUE, estimate_effect(fit, outcome = y, se = "sandwich"))
  expect_snapshot(error = TRUE, predict(fit, newdata = d, type = "weights"))
  expect_snapshot(error = TRUE, matched_data(ipw(a ~ x1, data = d)))
})

test_that("the bootstrap re-runs the matching and is reproducible", {
  d <- sim_confounded(300)
  fit <- matching(a ~ x1 + x2, data = d)
  set.seed(3)
  b1 <- estimate_effect(fit, outcome = y, se = "bootstrap", R = 20)
  set.seed(3)
  b2 <- estimate_effect(fit, outcome = y, se = "bootstrap", R = 20)
  expect_identical(b1$replicates, b2$replicates)
  expect_equal(nrow(b1$replicates), 20L)
  expect_equal(coef(b1), coef(estimate_effect(fit, outcome = y, se = "none")))
  expect_gt(sqrt(vcov(b1)[1, 1]), 0)
  # One replicate by hand: the same resample, refitted through matching().
  set.seed(3)
  rows <- rep(seq_len(nrow(d)), causallib:::bootstrap_counts(nrow(d), 1L)[, 1])
  refit <- matching(a ~ x1 + x2, data = d[rows, ])
  by_hand <- estimate_outcomes(refit, outcome = y, se = "none")$estimate
  expect_equal(unname(b1$outcomes$replicates[1, ]), unname(by_hand), tolerance = 1e-10)
})

test_that("balance, evaluation and the matched data use the matching weights", {
  d <- sim_confounded(400)
  fit <- matching(a ~ x1 + x2, data = d, k = 2)
  bal <- balance_table(fit)
  w <- weights(fit)
  m1 <- weighted.mean(d$x1[d$a == 1], w[d$a == 1])
  m0 <- weighted.mean(d$x1[d$a == 0], w[d$a == 0])
  sd_treated <- sd(d$x1[d$a == 1])
  expect_equal(bal$diff_weighted[bal$covariate == "x1"], (m1 - m0) / sd_treated, tolerance = 1e-10)

  ev <- evaluate(fit)
  expect_equal(ev$predictions$weight, w)
  set.seed(4)
  ev_cv <- evaluate(fit, cv = 2)
  train <- ev_cv$predictions[ev_cv$predictions$fold == 1 & ev_cv$predictions$phase == "train", ]
  refit <- matching(a ~ x1 + x2, data = d[train$row, ], k = 2)
  expect_equal(train$weight, weights(refit))

  md <- matched_data(fit)
  expect_equal(nrow(md), sum(w > 0))
  expect_equal(md$weights, w[w > 0])
  expect_equal(rownames(md), rownames(d)[w > 0])
})

test_that("rows dropped for missing values keep the pairs on data rows", {
  d <- sim_confounded(150)
  d$x1[5] <- NA
  fit <- matching(a ~ x1 + x2, data = d, na_action = "omit")
  expect_false(5L %in% c(fit$match_pairs$focal_row, fit$match_pairs$matched_row))
  md <- matched_data(fit)
  expect_false("5" %in% rownames(md))
  expect_true(all(d$a[fit$match_pairs$focal_row] == 1))
  expect_true(all(d$a[fit$match_pairs$matched_row] == 0))
})

test_that("print shows the matching settings", {
  d <- lalonde_data()
  fit <- suppressMessages(matching(lalonde_formula, data = d, k = 2, caliper = 0.2, replace = FALSE))
  expect_snapshot(print(fit))
})

test_that("matching without replacement is the default, except for the ATE", {
  d <- sim_confounded(200)
  expect_false(matching(a ~ x1, data = d)$spec$replace)
  expect_false(matching(a ~ x1, data = d, estimand = "ATC")$spec$replace)
  expect_true(matching(a ~ x1, data = d, estimand = "ATE")$spec$replace)
  expect_identical(weights(matching(a ~ x1, data = d)),
                   weights(matching(a ~ x1, data = d, replace = FALSE)))
})

test_that("exact matching, discarding and the matching order equal MatchIt", {
  d <- lalonde_data()
  ps <- fitted(glm(lalonde_formula, family = binomial(), data = d))
  settings <- list(
    list(estimand = "ATT", k = 1, replace = FALSE, caliper = NULL, order = "largest"),
    list(estimand = "ATT", k = 2, replace = FALSE, caliper = 0.2, order = "largest"),
    list(estimand = "ATT", k = 1, replace = TRUE, caliper = NULL, order = "largest"),
    list(estimand = "ATC", k = 1, replace = FALSE, caliper = NULL, order = "largest"),
    list(estimand = "ATT", k = 1, replace = FALSE, caliper = NULL, order = "smallest"),
    list(estimand = "ATC", k = 2, replace = FALSE, caliper = NULL, order = "smallest"),
    list(estimand = "ATT", k = 1, replace = FALSE, caliper = NULL, order = "data")
  )
  for (s in settings) for (exact in list(NULL, ~ race + married)) {
    label <- paste(c(unlist(s), format(exact)), collapse = " ")
    fit <- suppressMessages(matching(lalonde_formula, data = d, k = s$k, replace = s$replace,
                                     caliper = s$caliper, estimand = s$estimand,
                                     order = s$order, exact = exact))
    focal <- d$treat == (s$estimand == "ATT")
    # MatchIt's "largest" is the focal units' propensity of their own arm.
    decreasing <- switch(s$order, largest = s$estimand == "ATT",
                         smallest = s$estimand != "ATT", data = NA)
    ref <- matchit_by_score(d, ps, focal, s$k, s$replace, s$caliper, decreasing, exact)
    expect_equal(weights(fit), ref, tolerance = 1e-8, label = label)
    expect_matched_effect(fit, d, ref)
    if (!is.null(exact)) {
      pairs <- fit$match_pairs
      expect_identical(d$race[pairs$focal_row], d$race[pairs$matched_row])
      expect_identical(d$married[pairs$focal_row], d$married[pairs$matched_row])
    }
    if (!s$replace) {
      sub <- matchit_by_score(d, ps, focal, s$k, s$replace, s$caliper, decreasing, exact,
                              result = "subclass")
      # The same pairs, whatever their numbers.
      expect_equal(is.na(fit$subclass), is.na(sub), label = label)
      tab <- table(fit$subclass, sub) > 0
      expect_true(all(rowSums(tab) == 1) && all(colSums(tab) == 1), label = label)
    }
  }
  # exact as column names, and the matrix interface, give the same matching.
  a <- suppressMessages(matching(lalonde_formula, data = d, exact = c("race", "married")))
  b <- suppressMessages(matching(lalonde_formula, data = d, exact = ~ race + married))
  expect_identical(weights(a), weights(b))
  X <- model.matrix(lalonde_formula, d)
  m <- suppressMessages(matching_fit(X, d$treat, exact = d[c("race", "married")]))
  expect_equal(weights(m), weights(a), tolerance = 1e-12)
  # A random order is reproducible with a seed and is a valid matching.
  set.seed(11)
  r1 <- weights(matching(lalonde_formula, data = d, order = "random"))
  set.seed(11)
  expect_identical(weights(matching(lalonde_formula, data = d, order = "random")), r1)
})

test_that("discard leaves out the units outside the other arm's propensity range", {
  d <- lalonde_data()
  ps <- fitted(glm(lalonde_formula, family = binomial(), data = d))
  t1 <- d$treat == 1
  out_t <- t1 & (ps < min(ps[!t1]) | ps > max(ps[!t1]))
  out_c <- !t1 & (ps < min(ps[t1]) | ps > max(ps[t1]))
  for (discard in c("both", "treated", "control")) {
    fit <- suppressMessages(matching(lalonde_formula, data = d, discard = discard))
    gone <- switch(discard, both = out_t | out_c, treated = out_t, control = out_c)
    expect_identical(fit$discarded, unname(gone))
    expect_true(all(weights(fit)[gone] == 0))
    # The rest is matched as if the discarded units were not there.
    keep <- which(!gone)
    f <- which(t1 & !gone)
    f <- f[order(ps[f], decreasing = TRUE)]
    pool <- which(!t1 & !gone)
    ref <- matchit_by_matrix(d, f, pool, abs(outer(ps[f], ps[pool], "-")), 1, FALSE)
    expect_equal(weights(fit), ref, tolerance = 1e-8, label = discard)
    sizes <- summary(fit)$tables$`Sample sizes`
    expect_equal(sizes$discarded, as.vector(tapply(gone, d$treat, sum)))
    expect_equal(sizes$matched + sizes$unmatched + sizes$discarded, sizes$n)
  }
  expect_true(any(out_c))
})

test_that("the matched data carry the pairs, and the default SE is cluster-robust by pair", {
  skip_if_not_installed("sandwich")
  d <- lalonde_data()
  for (s in list(list(k = 1, caliper = NULL), list(k = 2, caliper = 0.2), list(k = 3, caliper = NULL))) {
    fit <- suppressMessages(matching(lalonde_formula, data = d, k = s$k, caliper = s$caliper))
    md <- matched_data(fit)
    expect_true(is.factor(md$subclass))
    expect_true(all(table(md$subclass) >= 2))
    expect_true(all(tapply(md$treat, md$subclass, function(t) sum(t == 1)) == 1))
    ref_fit <- lm(re78 ~ treat, data = md, weights = weights)
    V <- sandwich::vcovCL(ref_fit, cluster = ~ subclass, type = "HC0")
    eff <- estimate_effect(fit, outcome = re78)
    expect_identical(eff$se_type, "sandwich")
    expect_equal(unname(coef(eff)), unname(coef(ref_fit)[2]), tolerance = 1e-10)
    expect_equal(unname(sqrt(diag(vcov(eff)))), unname(sqrt(V[2, 2])), tolerance = 1e-8)
    # Rescaling sampling weights changes nothing.
    fit_w <- suppressMessages(matching(lalonde_formula, data = d, k = s$k,
                                       caliper = s$caliper, weights = rep(7, nrow(d))))
    expect_equal(vcov(estimate_effect(fit_w, outcome = re78)), vcov(eff), tolerance = 1e-10)
  }
  # With replacement there are no pairs: no subclass column, bootstrap by default.
  fit <- matching(lalonde_formula, data = d, replace = TRUE)
  expect_false("subclass" %in% names(matched_data(fit)))
  expect_identical(causallib:::default_se(fit), "bootstrap")
  expect_snapshot(error = TRUE, matching(lalonde_formula, data = d, exact = ~ nothere))
  expect_snapshot(error = TRUE, matching(lalonde_formula, data = d, exact = 3))
  expect_snapshot(error = TRUE, matching(lalonde_formula, data = d, order = "biggest"))
  expect_snapshot(error = TRUE, matched_data(matching(lalonde_formula, data = d), subclass = "race"))
})

test_that("covariate calipers equal MatchIt's and hold for every pair", {
  d <- lalonde_data()
  ps <- fitted(glm(lalonde_formula, family = binomial(), data = d))
  focal <- which(d$treat == 1)
  f_ord <- focal[order(ps[focal], decreasing = TRUE)]
  pool <- which(d$treat == 0)
  settings <- list(
    list(caliper = c(age = 0.25), std = TRUE, k = 1, replace = FALSE),
    list(caliper = c(0.2, age = 0.5, educ = 1), std = TRUE, k = 2, replace = FALSE),
    list(caliper = c(re74 = 2000), std = FALSE, k = 1, replace = TRUE),
    list(caliper = c(0.1, age = 3), std = FALSE, k = 1, replace = FALSE)
  )
  for (s in settings) {
    label <- paste(names(s$caliper), s$caliper, collapse = " ")
    fit <- suppressMessages(matching(lalonde_formula, data = d, caliper = s$caliper,
                                     std_caliper = s$std, k = s$k, replace = s$replace))
    # MatchIt's general matcher given the score distances and the same calipers.
    f <- if (s$replace) focal else f_ord
    rows <- c(f, pool)
    dd <- d[rows, ]
    dd$treat <- rep(1:0, c(length(f), length(pool)))
    cal <- s$caliper
    nm <- names(cal)
    if (any(nm == "")) {
      names(cal)[nm == ""] <- ""
      if (s$std) cal[nm == ""] <- cal[nm == ""] * sd(ps)
    }
    if (s$std) for (v in nm[nm != ""]) cal[v] <- cal[v] * sd(d[[v]])
    m <- suppressWarnings(MatchIt::matchit(lalonde_formula, data = dd, method = "nearest",
                                           ratio = s$k, replace = s$replace,
                                           distance = abs(outer(ps[f], ps[pool], "-")),
                                           caliper = cal, std.caliper = FALSE))
    ref <- numeric(nrow(d))
    ref[rows] <- m$weights
    expect_equal(weights(fit), ref, tolerance = 1e-8, label = label)
    pairs <- fit$match_pairs
    for (v in nm[nm != ""]) {
      expect_true(all(abs(d[[v]][pairs$focal_row] - d[[v]][pairs$matched_row]) <= fit$caliper_widths[[v]]),
                  label = paste(label, v))
    }
  }
  # Covariate calipers with the Mahalanobis distance: every pair within them,
  # and the C search agrees with the slow reference.
  fit <- suppressMessages(matching(lalonde_formula, data = d, distance = "mahalanobis",
                                   caliper = c(age = 2), std_caliper = FALSE))
  pairs <- fit$match_pairs
  expect_true(all(abs(d$age[pairs$focal_row] - d$age[pairs$matched_row]) <= 2))
  expect_snapshot(error = TRUE, matching(lalonde_formula, data = d, caliper = c(0.2, 0.3)))
  expect_snapshot(error = TRUE, matching(lalonde_formula, data = d, caliper = c(agee = 1)))
  expect_snapshot(error = TRUE, matching(lalonde_formula, data = d, caliper = c(race = 1)))
  expect_snapshot(error = TRUE, matching(lalonde_formula, data = d, distance = "mahalanobis", caliper = 0.2))
})
