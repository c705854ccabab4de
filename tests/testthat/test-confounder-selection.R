# Slow, obvious references: the weighted lasso by coordinate descent, and
# Belloni, Chernozhukov and Hansen's plug-in loop around it.

# argmin (1/(2n)) ||z - alpha - X b||^2 + sum_j pen_j |b_j|
cd_lasso <- function(x, z, pen, tol = 1e-13, maxit = 10000) {
  n <- nrow(x)
  xc <- sweep(x, 2L, colMeans(x))
  r <- z - mean(z)
  b <- numeric(ncol(x))
  ss <- colSums(xc^2) / n
  for (it in seq_len(maxit)) {
    change <- 0
    for (j in seq_along(b)) {
      rho <- sum(xc[, j] * r) / n + ss[j] * b[j]
      new <- sign(rho) * max(abs(rho) - pen[j], 0) / ss[j]
      if (new != b[j]) {
        r <- r - xc[, j] * (new - b[j])
        change <- max(change, abs(new - b[j]))
        b[j] <- new
      }
    }
    if (change < tol) break
  }
  b
}

# The plug-in penalty and iterated loadings for a least-squares lasso.
plugin_reference <- function(x, z, c = 1.1, max_iter = 15) {
  n <- nrow(x)
  p <- ncol(x)
  lambda <- c * sqrt(n) * qnorm(1 - 0.1 / log(n) / (2 * p))
  xc <- sweep(x, 2L, colMeans(x))
  r <- z - mean(z)
  sel <- NULL
  for (k in seq_len(max_iter)) {
    psi <- sqrt(colMeans(xc^2 * r^2))
    b <- cd_lasso(x, z, lambda / n * psi)
    if (identical(b != 0, sel)) break
    sel <- b != 0
    r <- lm.fit(cbind(1, x[, sel, drop = FALSE]), z)$residuals
  }
  list(coef = b, penalty = lambda / n * psi)
}

test_that("the plug-in lasso equals a coordinate-descent reference with the same penalty and loadings", {
  skip_if_not_installed("glmnet")
  withr::local_seed(11)
  n <- 150
  x <- matrix(rnorm(n * 12), n) %*% diag(c(1, 10, 0.1, rep(1, 9)))
  z <- 1 + 0.8 * x[, 1] - 0.08 * x[, 2] + 8 * x[, 3] + 0.3 * x[, 4] + rnorm(n) * (1 + 0.5 * abs(x[, 1]))
  ref <- plugin_reference(x, z)
  got <- causallib:::plugin_lasso(x, z, "gaussian")
  expect_equal(got$coef != 0, ref$coef != 0)
  expect_equal(got$coef, ref$coef, tolerance = 1e-5)
  # glmnet's lambda times its rescaled penalty factors is the reference's penalty
  expect_equal(got$lambda * got$loadings / mean(got$loadings), ref$penalty, tolerance = 1e-8)
  expect_true(sum(ref$coef != 0) >= 2 && sum(ref$coef == 0) >= 5)
  # the selection does not depend on the columns' units
  scaled <- causallib:::plugin_lasso(x %*% diag(c(100, rep(1, 11))), z, "gaussian")
  expect_equal(scaled$coef != 0, got$coef != 0)
  expect_equal(scaled$coef * c(100, rep(1, 11)), got$coef, tolerance = 1e-5)
})

# Karush-Kuhn-Tucker conditions of (1/n) sum loss + sum pen_j |b_j| for a
# canonical-link GLM at coefficients b (the intercept solved from its own
# condition): |gradient| <= pen at zeros, = pen * sign(b) elsewhere.
kkt_gap <- function(x, z, b, pen, linkinv) {
  eta <- drop(x %*% b)
  alpha <- uniroot(function(a) mean(z - linkinv(a + eta)), c(-30, 30), tol = 1e-12)$root
  grad <- drop(crossprod(x, z - linkinv(alpha + eta))) / nrow(x)
  ifelse(b == 0, pmax(abs(grad) - pen, 0), abs(grad - pen * sign(b))) / pen
}

test_that("logistic and Poisson plug-in lassos solve their penalized problems (KKT)", {
  skip_if_not_installed("glmnet")
  withr::local_seed(12)
  n <- 400
  x <- matrix(rnorm(n * 10), n)
  a <- rbinom(n, 1, plogis(0.3 + x[, 1] - 0.8 * x[, 2]))
  cnt <- rpois(n, exp(0.2 + 0.5 * x[, 3]))
  for (case in list(list(z = a, family = "binomial", inv = plogis),
                    list(z = cnt, family = "poisson", inv = exp))) {
    fit <- causallib:::plugin_lasso(x, case$z, case$family)
    pen <- fit$lambda * fit$loadings / mean(fit$loadings)
    expect_equal(pen, 1.1 * sqrt(n) * qnorm(1 - 0.1 / log(n) / 20) / n * fit$loadings)
    expect_lt(max(kkt_gap(x, case$z, fit$coef, pen, case$inv)), 1e-3)
    expect_gt(sum(fit$coef != 0), 0)
  }
})

test_that("double selection keeps the union of the two lassos and the forced covariates", {
  skip_if_not_installed("glmnet")
  withr::local_seed(13)
  d <- simulate_selection(n = 300, p = 12)
  x <- as.matrix(d[, -(1:2)])
  sel <- select_confounders_fit(x, d$a, d$y, keep = "x12")
  in_y <- causallib:::plugin_lasso(x, d$y, "gaussian")$coef != 0
  in_a <- causallib:::plugin_lasso(x, d$a, "binomial")$coef != 0
  expect_equal(sel$selected, colnames(x)[in_y | in_a | colnames(x) == "x12"])
  expect_equal(sel$table$reason[in_y & !in_a][1], "outcome lasso")
  expect_equal(unique(sel$table$reason[in_y & in_a]), "both lassos")
  expect_equal(unique(sel$table$reason[!in_y & in_a]), "treatment lasso")
  expect_equal(sel$table$reason[12], if (in_y[12] || in_a[12]) sel$table$reason[12] else "forced")
  # the outcome lasso is the reference's
  expect_equal(sel$table$outcome_coef, plugin_reference(x, d$y)$coef, tolerance = 1e-5)
  expect_equal(formula(sel), reformulate(c("a", sel$selected), "y"), ignore_attr = TRUE)
  expect_equal(formula(sel, "propensity"), reformulate(sel$selected, "a"), ignore_attr = TRUE)
})

test_that("the formula and matrix interfaces agree, and the formula feeds the estimators", {
  skip_if_not_installed("glmnet")
  withr::local_seed(14)
  d <- simulate_selection(n = 300, p = 10)
  sel <- select_confounders(y ~ a + ., data = d, treatment = a)
  mat <- select_confounders_fit(as.matrix(d[, -(1:2)]), d$a, d$y)
  expect_equal(sel$selected, mat$selected)
  expect_equal(sel$table, mat$table)
  expect_identical(environment(formula(sel)), environment())
  fit <- standardization(formula(sel), data = d, treatment = a)
  ref <- lm(reformulate(c("a", sel$selected), "y"), data = d)
  expect_equal(unname(estimate_effect(fit)$estimate), unname(coef(ref)[["a"]]), tolerance = 1e-8)
  w <- ipw(formula(sel, "propensity"), data = d)
  expect_s3_class(w, "causallib_ipw")
})

test_that("a factor is kept or dropped as a whole, and treatment interactions follow their covariates", {
  skip_if_not_installed("glmnet")
  withr::local_seed(15)
  n <- 400
  d <- data.frame(g = factor(sample(c("p", "q", "r", "s"), n, TRUE)), u = rnorm(n), v = rnorm(n),
                  w = rnorm(n))
  d$a <- rbinom(n, 1, plogis(d$u))
  d$y <- d$a + 2 * (d$g == "r") + d$u + rnorm(n)
  sel <- select_confounders(y ~ a * v + g + u + I(w^2) + a:u, data = d, treatment = "a")
  expect_equal(sel$table$variable, c("v", "g", "u", "I(w^2)"))
  expect_true(all(c("g", "u") %in% sel$selected))
  cf <- sel$coefficients[sel$coefficients$model == "outcome", ]
  expect_equal(cf$variable[cf$variable == "g"], rep("g", 3))
  expect_gt(abs(cf$estimate[cf$column == "gr"]), 1)
  kept_terms <- attr(terms(formula(sel)), "term.labels")
  expect_true("a:u" %in% kept_terms)
  expect_equal("a:v" %in% kept_terms, "v" %in% sel$selected)
  # the treatment enters the output formula as the input formula had it
  logged <- select_confounders(y ~ log(a + 1) + u + g, data = d, treatment = a)
  expect_equal(attr(terms(formula(logged)), "term.labels"), c("log(a + 1)", "u", "g"))
  expect_equal(formula(logged, "propensity"), a ~ u + g, ignore_attr = TRUE)
})

test_that("filters drop what a hand computation says, naming the reason", {
  skip_if_not_installed("glmnet")
  withr::local_seed(16)
  n <- 300
  d <- data.frame(u = rnorm(n), k = 3, s = c(rep(0, n - 2), 1, 1), e = rnorm(n))
  d$c1 <- d$u + rnorm(n, sd = 0.1)
  d$c2 <- d$e + rnorm(n, sd = 0.3)
  d$z <- rnorm(n)
  d$a <- rbinom(n, 1, plogis(d$u))
  d$y <- d$a + d$u + d$e + rnorm(n)
  f <- y ~ a + u + k + s + e + c1 + c2 + z
  sel <- select_confounders(f, data = d, treatment = a,
                            filters = selection_filters(sparse = 0.99, correlated = 0.9, weak = 0.01))
  reason <- setNames(sel$table$reason, sel$table$variable)
  expect_equal(reason[["k"]], "constant")
  expect_equal(reason[["s"]], "sparse (99.3% at one value)")
  r <- cor(d$u, d$c1)
  expect_gt(abs(r), 0.9)
  expect_equal(reason[["c1"]], sprintf("correlated with u (r = %.2f)", r))
  expect_lt(abs(cor(d$e, d$c2)), 0.96)
  p_a <- cor.test(d$z, d$a)$p.value
  p_y <- cor.test(d$z, d$y)$p.value
  if (p_a > 0.01 && p_y > 0.01) {
    expect_match(reason[["z"]], "^weak association")
    expect_match(reason[["z"]], format.pval(p_a, digits = 2, eps = 1e-4), fixed = TRUE)
  }
  expect_false(grepl("weak", reason[["u"]]))
  # a forced covariate is exempt, and then the other of the pair goes
  forced <- select_confounders(f, data = d, treatment = a, keep = c("k", "c1"),
                               filters = selection_filters(correlated = 0.9))
  reason <- setNames(forced$table$reason, forced$table$variable)
  expect_equal(reason[["u"]], sprintf("correlated with c1 (r = %.2f)", r))
  expect_true(all(c("k", "c1") %in% forced$selected))
  # a filter that drops nothing leaves no trace
  none <- select_confounders(f, data = d, treatment = a, keep = "k",
                             filters = selection_filters(sparse = 0.999, correlated = 0.9999))
  expect_false(any(grepl("sparse|correlated", none$table$reason)))
  # the cut is on |r|, pairs from the most correlated down
  tighter <- select_confounders(f, data = d, treatment = a, filters = selection_filters(correlated = 0.5))
  expect_match(setNames(tighter$table$reason, tighter$table$variable)[["c2"]], "correlated with e")
})

test_that("the weak filter's p-value is the Bonferroni-adjusted smallest correlation test", {
  withr::local_seed(17)
  m <- matrix(rnorm(200 * 3), 200)
  z <- cbind(rnorm(200), rnorm(200))
  p <- sapply(1:3, function(i) sapply(1:2, function(j) cor.test(m[, i], z[, j])$p.value))
  expect_equal(causallib:::association_p(m, z), min(1, 6 * min(p)))
})

test_that("recursive elimination drops the smallest standardized glm() coefficient at each step", {
  withr::local_seed(18)
  d <- simulate_selection(n = 300, p = 8)
  vars <- paste0("x", 1:8)
  sel <- select_confounders(reformulate(c("a", vars), "y"), data = d, treatment = a,
                            method = "recursive_elimination", n_keep = 3)
  left <- vars
  order <- character(0)
  while (length(left) > 3) {
    fit <- glm(reformulate(c("a", left), "y"), data = d)
    imp <- abs(coef(fit)[left]) * sapply(d[left], sd)
    order <- c(order, names(which.min(imp)))
    left <- setdiff(left, order)
  }
  expect_equal(sel$selected, left)
  tab <- sel$table
  expect_equal(tab$variable[order(tab$step)][seq_along(order)], order)
  expect_equal(tab$reason[tab$variable == order[1]], "eliminated at step 1")
  # the treatment model instead: logistic glm()
  trt <- select_confounders(reformulate(c("a", vars), "y"), data = d, treatment = a,
                            method = "recursive_elimination", n_keep = 7, target = "treatment")
  fit <- glm(reformulate(vars, "a"), data = d, family = binomial)
  imp <- abs(coef(fit)[vars]) * sapply(d[vars], sd)
  expect_equal(setdiff(vars, trt$selected), names(which.min(imp)))
  expect_equal(unname(trt$table$importance[trt$table$variable == names(which.min(imp))]),
               unname(min(imp)), tolerance = 1e-6)
})

test_that("recursive elimination takes any learner (permutation importance) and keeps forced covariates", {
  withr::local_seed(19)
  d <- simulate_selection(n = 300, p = 8)
  vars <- paste0("x", 1:8)
  lm_learner <- lrn_custom(function(x, y, w) lm.fit(x, y), function(o, x) drop(x %*% o$coefficients))
  f <- reformulate(c("a", vars), "y")
  set.seed(1)
  sel <- select_confounders(f, data = d, treatment = a, method = "recursive_elimination",
                            learner = lm_learner, n_keep = 3, keep = "x8")
  set.seed(1)
  again <- select_confounders(f, data = d, treatment = a, method = "recursive_elimination",
                              learner = lm_learner, n_keep = 3, keep = "x8")
  expect_identical(sel$table, again$table)
  expect_true("x8" %in% sel$selected)
  expect_equal(sel$table$reason[sel$table$variable == "x8"], "forced")
  # the outcome-only predictors (x5, x6) matter most to the outcome model
  expect_true(all(c("x5", "x6") %in% sel$selected))
  both <- select_confounders(f, data = d, treatment = a, method = "recursive_elimination",
                             n_keep = 4, target = "both")
  expect_true(all(c("x1", "x2", "x5", "x6") %in% both$selected) ||
                all(c("x3", "x4") %in% both$selected))
  expect_equal(max(both$table$importance), 1)
})

test_that("on simulated data double selection recovers confounders and covers; outcome-only selection does not", {
  skip_if_not_installed("glmnet")
  withr::local_seed(20261201)
  reps <- 40
  res <- replicate(reps, {
    d <- simulate_selection()
    roles <- attr(d, "roles")
    x <- as.matrix(d[, -(1:2)])
    sel <- select_confounders_fit(x, d$a, d$y)
    tab <- sel$table
    in_y <- tab$reason %in% c("outcome lasso", "both lassos")
    in_a <- tab$reason %in% c("treatment lasso", "both lassos")
    # naive single selection: the outcome lasso with the treatment unpenalized
    # (by Frisch-Waugh-Lovell, a lasso of y on x after partialling out a)
    naive <- causallib:::plugin_lasso(resid(lm(x ~ d$a)), resid(lm(d$y ~ d$a)), "gaussian")
    naive <- colnames(x)[naive$coef != 0]
    full <- ols_effect(d, colnames(x))
    dbl <- ols_effect(d, sel$selected)
    nai <- ols_effect(d, naive)
    covers <- function(e) e[["low"]] < 1 && e[["high"]] > 1
    c(conf = mean(tab$kept[roles == "confounder"]), noise = mean(tab$kept[roles == "noise"]),
      outcome = mean(tab$kept[roles == "outcome"]),
      inst_y = mean(in_y[roles == "instrument"]), inst_a = mean(in_a[roles == "instrument"]),
      naive_conf = mean(colnames(x)[roles == "confounder"] %in% naive),
      bias_full = full[[1]] - 1, bias_dbl = dbl[[1]] - 1, bias_naive = nai[[1]] - 1,
      cover_full = covers(full), cover_dbl = covers(dbl), cover_naive = covers(nai))
  })
  m <- rowMeans(res)
  expect_gt(m[["conf"]], 0.95)
  expect_gt(m[["outcome"]], 0.95)
  expect_lt(m[["noise"]], 0.05)
  # instruments: found by the treatment lasso, rarely by the outcome lasso
  expect_gt(m[["inst_a"]], 0.9)
  expect_lt(m[["inst_y"]], 0.1)
  expect_lt(m[["naive_conf"]], 0.5)
  se_bias <- apply(res[c("bias_full", "bias_dbl", "bias_naive"), ], 1, sd) / sqrt(reps)
  expect_lt(abs(m[["bias_dbl"]]), 3 * se_bias[["bias_dbl"]])
  expect_gt(m[["bias_naive"]], 4 * se_bias[["bias_naive"]])
  expect_gt(m[["cover_dbl"]], 0.85)
  expect_gt(m[["cover_full"]], 0.85)
  expect_lt(m[["cover_naive"]], 0.75)
})

test_that("a multi-level treatment uses a multinomial lasso; binary and count outcomes their families", {
  skip_if_not_installed("glmnet")
  withr::local_seed(21)
  n <- 500
  x <- matrix(rnorm(n * 8), n, dimnames = list(NULL, paste0("v", 1:8)))
  a <- cut(x[, 1] + 0.5 * rnorm(n), c(-Inf, -0.5, 0.5, Inf), labels = c("lo", "mid", "hi"))
  y <- as.integer(a) + x[, 2] + rnorm(n)
  sel <- select_confounders_fit(x, a, y)
  # v1 drives the treatment (and so the outcome's marginal mean)
  expect_true(sel$table$reason[1] %in% c("treatment lasso", "both lassos"))
  expect_equal(sel$table$reason[2], "outcome lasso")
  expect_equal(sel$selected, c("v1", "v2"))
  yb <- rbinom(n, 1, plogis(x[, 3]))
  selb <- select_confounders_fit(x, a, yb)
  expect_equal(selb$family, "binomial")
  expect_true("v3" %in% selb$selected)
  yc <- rpois(n, exp(0.5 * x[, 4]))
  selc <- select_confounders_fit(x, a, yc, family = "poisson")
  expect_true("v4" %in% selc$selected)
})

test_that("cross-validated penalties are cv.glmnet's", {
  skip_if_not_installed("glmnet")
  withr::local_seed(22)
  d <- simulate_selection(n = 200, p = 10)
  x <- as.matrix(d[, -(1:2)])
  set.seed(3)
  sel <- select_confounders_fit(x, d$a, d$y, lambda = "cv_1se")
  set.seed(3)
  cv_y <- glmnet::cv.glmnet(x, d$y, family = "gaussian")
  cv_a <- glmnet::cv.glmnet(x, d$a, family = "binomial")
  expect_equal(unname(sel$lambda), c(cv_y$lambda.1se, cv_a$lambda.1se))
  expect_equal(sel$table$outcome_coef, as.double(coef(cv_y, s = "lambda.1se")[-1]))
  expect_equal(sel$table$treatment_coef, as.double(coef(cv_a, s = "lambda.1se")[-1]))
})

test_that("print, summary, tidy and the plot data say why each covariate was kept", {
  skip_if_not_installed("glmnet")
  withr::local_seed(23)
  d <- simulate_selection(n = 300, p = 8)
  d$x8 <- d$x1 + rnorm(300, sd = 0.01)
  sel <- select_confounders(y ~ a + x1 + x2 + x3 + x4 + x5 + x6 + x7 + x8, data = d, treatment = a,
                            keep = "x7", filters = selection_filters(correlated = 0.99))
  expect_snapshot(print(sel))
  expect_snapshot(summary(sel))
  set.seed(1)
  cv <- select_confounders(y ~ a + x1 + x2 + x3, data = d, treatment = a, lambda = "cv_min")
  expect_match(summary(cv)$inference, "cross-validated penalties, which the theory")
  rfe <- select_confounders(y ~ a + x1 + x2 + x3, data = d, treatment = a,
                            method = "recursive_elimination")
  expect_match(summary(rfe)$inference, "used the outcome alone")
  expect_snapshot(print(summary(rfe)))
  td <- tidy(sel)
  expect_named(td, c("variable", "kept", "reason", "outcome_coef", "treatment_coef"))
  expect_equal(nrow(td), 8)
  pd <- selection_plot_data(sel)
  expect_equal(nrow(pd), 2 * 7)
  expect_equal(pd$value[pd$model == "treatment"],
               td$treatment_coef[1:7] * sapply(d[paste0("x", 1:7)], sd), ignore_attr = TRUE)
  skip_if_not_installed("ggplot2")
  p <- ggplot2::autoplot(sel)
  built <- ggplot2::ggplot_build(p)$data[[2]]
  expect_equal(sort(built$x), sort(pd$value))
})

test_that("bad input gets errors naming the argument", {
  d <- simulate_selection(n = 50, p = 8)
  expect_snapshot(error = TRUE, {
    select_confounders(y ~ a + x1 + nothere, data = d, treatment = a)
    select_confounders(y ~ x1 + x2, data = d, treatment = a)
    select_confounders(y ~ a, data = d, treatment = a)
    select_confounders(y ~ a + x1, data = d, treatment = a, keep = "x9")
    select_confounders(y ~ a + x1, data = d, treatment = a, method = "stepwise")
    select_confounders(y ~ a + x1, data = d, treatment = a, lambda = "aic")
    select_confounders(y ~ a + x1, data = d, treatment = a, filters = list(correlated = 0.9))
    select_confounders(y ~ a + x1 + x2, data = d, treatment = a, method = "recursive_elimination",
                       n_keep = 0)
    selection_filters(correlated = 0)
    selection_filters(sparse = 99)
    selection_filters(weak = "0.1")
    selection_filters(constant = NA)
    select_confounders_fit(as.matrix(d[, 3:6]), d$a[-1], d$y)
  })
  d$k1 <- 1
  d$k2 <- 2
  d$s1 <- c(1, rep(0, 49))
  expect_snapshot(error = TRUE, {
    select_confounders(y ~ a + k1 + k2 + s1, data = d, treatment = a,
                       filters = selection_filters(sparse = 0.9))
  })
})
