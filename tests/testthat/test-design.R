test_that("an implicit intercept gives what an explicit column of ones gives", {
  set.seed(4)
  n <- 700
  x <- cbind(u = rnorm(n), v = rbinom(n, 1, 0.3))
  x1 <- cbind(`(Intercept)` = 1, x)
  w <- runif(n)
  m <- matrix(rnorm(2 * n), n)
  expect_equal(causallib:::wcrossprod(x, w, TRUE), causallib:::wcrossprod(x1, w),
               tolerance = 1e-12)
  expect_equal(causallib:::xt_mat(x, m, TRUE), causallib:::xt_mat(x1, m), tolerance = 1e-12)
  a2 <- factor(rbinom(n, 1, plogis(x[, 1])))
  a3 <- factor(sample(c("p", "q", "r"), n, replace = TRUE))
  y <- rpois(n, exp(0.3 * x[, 1]))
  for (case in list(list(y = a2, l = lrn_glm()), list(y = a3, l = lrn_glm()),
                    list(y = y, l = lrn_glm("poisson", penalty = 0.5)))) {
    implicit <- learner_fit(case$l, x, case$y, w, intercept = TRUE)
    explicit <- learner_fit(case$l, x1, case$y, w)
    expect_equal(implicit$coefficients, explicit$coefficients, tolerance = 1e-10)
    expect_equal(implicit$fitted, explicit$fitted, tolerance = 1e-10)
    expect_equal(learner_predict(implicit, x[1:5, ]), learner_predict(explicit, x1[1:5, ]),
                 tolerance = 1e-10)
  }
  set.seed(9)
  boot_implicit <- estimate_outcomes(ipw_fit(x, a3), outcome = y, se = "bootstrap", R = 3)
  set.seed(9)
  boot_explicit <- estimate_outcomes(ipw_fit(x1, a3, intercept = FALSE), outcome = y,
                                     se = "bootstrap", R = 3)
  expect_equal(boot_implicit$replicates, boot_explicit$replicates, tolerance = 1e-10)
  expect_equal(vcov(estimate_outcomes(ipw_fit(x, a3), outcome = y)),
               vcov(estimate_outcomes(ipw_fit(x1, a3, intercept = FALSE), outcome = y)),
               tolerance = 1e-10)
})

test_that("ipw_fit() names the columns with missing or infinite values", {
  x <- cbind(u = rnorm(20), v = rnorm(20))
  a <- rep(0:1, 10)
  expect_error(ipw_fit(replace(x, 3, NA), a), "column \"u\"")
  expect_error(ipw_fit(replace(x, 25, Inf), a), "column \"v\"")
  expect_error(ipw_fit(replace(x, 25, NaN), a, intercept = FALSE), "missing or infinite")
  fit <- ipw_fit(x, a)
  expect_error(predict(fit, newdata = x[, 1, drop = FALSE]), "2 columns")
  expect_error(ipw_fit(x, a[-1]), "length")
})

test_that("formula fits name the variables with infinite values, in R", {
  d <- sim_confounded(50)
  expect_snapshot(error = TRUE, ipw(a ~ x1 + x2, data = transform(d, x1 = replace(x1, c(4, 7), Inf))))
  expect_snapshot(error = TRUE, ipw(a ~ log(x2) + x1, data = d))
  # infinite values are not missing: na_action = "omit" does not drop them,
  # and the row reported is the data's
  dn <- transform(d, x1 = replace(x1, 1:2, NA), y = replace(y, 5, -Inf))
  expect_snapshot(error = TRUE, standardization(y ~ a + x1, data = dn, treatment = a, na_action = "omit"))
})

test_that("list columns and infinite values in newdata are named", {
  d <- sim_confounded(50)
  expect_snapshot(error = TRUE, ipw(a ~ x1, data = transform(d, x1 = I(as.list(x1)))))
  fit <- ipw(a ~ x1, data = d)
  expect_snapshot(error = TRUE, predict(fit, newdata = transform(d, x1 = replace(x1, 2, -Inf))))
})

test_that("a right-hand side with nothing to fit gets an error saying what to write", {
  d <- sim_confounded(50)
  expect_snapshot(error = TRUE, ipw(a ~ -1, data = d))
  expect_snapshot(error = TRUE, ipw(a ~ 0, data = d))
  ds <- sim_survival(100)
  expect_snapshot(error = TRUE, survival_ipw(Surv(time, event) ~ a, data = ds, censoring_model = ~ 0))
  expect_s3_class(ipw(a ~ 1, data = d), "causallib_ipw")
})

test_that("the fitted GLM's information matrix is X'WX at the estimates", {
  d <- sim_confounded(300)
  x <- model.matrix(~ x1 + x2, d)
  lf <- learner_fit(lrn_glm(), x, factor(d$a), d$w)
  p <- lf$fitted[, 2]
  expect_equal(lf$information, crossprod(x * sqrt(d$w * p * (1 - p))),
               tolerance = 1e-10, ignore_attr = TRUE)
  lp <- learner_fit(lrn_glm("poisson"), x, rpois(300, 2))
  expect_equal(lp$information, crossprod(x * sqrt(lp$fitted)), tolerance = 1e-10,
               ignore_attr = TRUE)
})

# ---- designs read in place ------------------------------------------------------
# A plain right-hand side gives a causallib_columns design that the C core
# reads in place; options(causallib.columns = FALSE) builds the model matrix
# (the general path). Both must give the same numbers, bit for bit.

# Numeric, integer, factor (with an unused level), character and logical
# columns, a binary and a three-level treatment, and an outcome.
sim_plain <- function(n = 600, seed = 1) {
  withr::local_seed(seed)
  d <- data.frame(x1 = rnorm(n), k = sample(1:5, n, replace = TRUE),
                  g = factor(sample(c("u", "v", "w"), n, replace = TRUE), c("z", "u", "v", "w")),
                  s = sample(c("p", "q"), n, replace = TRUE), l = runif(n) > 0.4,
                  stringsAsFactors = FALSE)
  d$a <- rbinom(n, 1, plogis(0.5 * d$x1 + 0.4 * (d$g == "v") - 0.3 * d$l + 0.1 * d$k - 0.3))
  d$a3 <- factor(sample(c("lo", "mid", "hi"), n, replace = TRUE), c("lo", "mid", "hi"))
  d$y <- 1 + d$a + d$x1 - 0.5 * (d$s == "q") + 0.2 * d$k + rnorm(n)
  d
}

general_path <- function(code) withr::with_options(list(causallib.columns = FALSE), code)

# Two fits of one model class agree bit for bit, the design matrix compared
# as a matrix.
expect_same_fit <- function(fast, slow) {
  expect_s3_class(fast$x, "causallib_columns")
  expect_true(is.matrix(slow$x))
  expect_identical(as.matrix(fast$x), slow$x)
  keep <- setdiff(names(slow), "x")
  expect_identical(unclass(fast)[keep], unclass(slow)[keep])
}

plain_formulas <- list(
  numeric = a ~ x1 + k, factor = a ~ x1 + g, character = a ~ s + x1, logical = a ~ l,
  all = a ~ x1 + k + g + s + l, no_intercept = a ~ 0 + x1 + l + g + s,
  factor_first = a ~ g + x1 - 1, intercept_only = a ~ 1
)

test_that("a plain right-hand side's columns are model.matrix()'s, read in place", {
  d <- sim_plain()
  for (name in names(plain_formulas)) {
    f <- plain_formulas[[name]]
    fast <- causallib:::new_design(f, d)
    slow <- general_path(causallib:::new_design(f, d))
    expect_s3_class(fast$x, "causallib_columns")
    expect_identical(as.matrix(fast$x), slow$x, info = name)
    expect_identical(fast[names(fast) != "x"], slow[names(slow) != "x"], info = name)
    expect_identical(dim(fast$x), dim(slow$x), info = name)
    expect_identical(colnames(fast$x), colnames(slow$x), info = name)
  }
  x <- causallib:::new_design(a ~ x1 + g, d)$x
  expect_identical(x$columns[[2L]], d$x1)
  expect_identical(colnames(x), c("(Intercept)", "x1", "gv", "gw"))
  m <- as.matrix(x)
  rows <- c(5L, 1L, 5L)
  expect_identical(x[rows, , drop = FALSE], m[rows, , drop = FALSE])
  expect_identical(x[rows, ], m[rows, ])
  expect_identical(x[2L, ], m[2L, ])
  expect_identical(x[, "gw"], m[, "gw"])
  expect_identical(x[, colnames(x) != "(Intercept)", drop = FALSE],
                   m[, colnames(m) != "(Intercept)", drop = FALSE])
  expect_identical(x[d$l, 2:3], m[d$l, 2:3])
  expect_identical(x[-(1:10), c(TRUE, FALSE), drop = FALSE], m[-(1:10), c(TRUE, FALSE), drop = FALSE])
  expect_error(x[, "nope"], "out of bounds")
  expect_error(x[nrow(d) + 1L, ], "out of bounds")
  expect_error(x[5], "x\\[i, j\\]")
  # the C copy checks what it reads
  expect_error(causallib:::columns_matrix(x, rows = 0L), "codes 1 to")
  expect_error(causallib:::columns_matrix(x, rows = NA_integer_), "codes 1 to")
  expect_error(causallib:::columns_matrix(x, cols = ncol(x) + 1L), "codes 1 to")
  expect_identical(causallib:::columns_matrix(x, rows = integer()), m[integer(), , drop = FALSE])
})

test_that("other right-hand sides keep the general path", {
  d <- sim_plain()
  d$o <- factor(d$s, ordered = TRUE)
  d$h <- droplevels(d$g)
  contrasts(d$h) <- contr.sum(3)
  d$one <- factor(rep("u", nrow(d)))
  for (f in list(a ~ I(x1), a ~ log(k), a ~ x1:k, a ~ x1 * l, a ~ x1 + offset(k), a ~ o,
                 a ~ h, a ~ poly(x1, 2), a ~ `x1`:g)) {
    expect_true(is.matrix(causallib:::new_design(f, d)$x), info = format(f))
  }
  d$`x 1` <- d$x1
  expect_true(is.matrix(causallib:::new_design(a ~ `x 1`, d)$x))
  withr::with_options(list(contrasts = NULL), {
    expect_identical(causallib:::plain_factor(d$g), NULL)
  })
  withr::with_options(list(contrasts = c("contr.sum", "contr.poly")), {
    expect_true(is.matrix(causallib:::new_design(a ~ g, d)$x))
    expect_s3_class(causallib:::new_design(a ~ x1, d)$x, "causallib_columns")
  })
  expect_error(causallib:::new_design(a ~ x1 + one, d), "\"one\" in `formula` has a single value")
})

test_that("ipw() on a plain formula is the general path and ipw_fit() on its matrix, bit for bit", {
  d <- sim_plain()
  f <- a ~ x1 + k + g + s + l
  fast <- ipw(f, d)
  slow <- general_path(ipw(f, d))
  expect_same_fit(fast, slow)
  X <- model.matrix(f, model.frame(f, d, drop.unused.levels = TRUE))
  m <- ipw_fit(X[, -1L], d$a)
  expect_identical(m$propensity, fast$propensity)
  expect_identical(weights(m), weights(fast))
  expect_identical(unname(coef(m$learner_fit)), unname(coef(fast$learner_fit)))
  est <- estimate_effect(fast, outcome = "y")
  expect_identical(vcov(est), vcov(estimate_effect(slow, outcome = "y")))
  expect_identical(vcov(est), vcov(estimate_effect(m, outcome = d$y)))
  expect_identical(coef(est), coef(estimate_effect(m, outcome = d$y)))
  set.seed(3)
  boot_fast <- estimate_effect(fast, outcome = "y", se = "bootstrap", R = 5)
  set.seed(3)
  boot_slow <- estimate_effect(slow, outcome = "y", se = "bootstrap", R = 5)
  set.seed(3)
  boot_matrix <- estimate_effect(m, outcome = d$y, se = "bootstrap", R = 5)
  expect_identical(boot_fast$replicates, boot_slow$replicates)
  expect_identical(boot_fast$replicates, boot_matrix$replicates)
  expect_identical(predict(fast, newdata = d[1:20, ]), predict(slow, newdata = d[1:20, ]))
  expect_identical(predict(fast, newdata = d[1:20, ], type = "weights"),
                   predict(slow, newdata = d[1:20, ], type = "weights"))
  expect_identical(balance_table(fast), balance_table(slow))
  set.seed(4)
  ev_fast <- evaluate(fast, cv = 3)
  set.seed(4)
  ev_slow <- evaluate(slow, cv = 3)
  expect_identical(ev_fast$metrics, ev_slow$metrics)
})

test_that("every plain formula fits, and has the sandwich, of the general path", {
  d <- sim_plain()
  for (name in names(plain_formulas)) {
    fast <- ipw(plain_formulas[[name]], d)
    slow <- general_path(ipw(plain_formulas[[name]], d))
    expect_same_fit(fast, slow)
    expect_identical(vcov(estimate_effect(fast, outcome = "y")),
                     vcov(estimate_effect(slow, outcome = "y")), info = name)
  }
  X <- model.matrix(a ~ 0 + x1 + l + g + s, model.frame(a ~ x1 + l + g + s, d, drop.unused.levels = TRUE))
  expect_identical(weights(ipw(a ~ 0 + x1 + l + g + s, d)), weights(ipw_fit(X, d$a, intercept = FALSE)))
})

test_that("multinomial, stabilized, truncated and sampling-weighted IPW read columns identically", {
  d <- sim_plain(900)
  d$w <- runif(nrow(d), 0.5, 2)
  f <- a3 ~ x1 + g + l
  fast <- ipw(f, d, weights = "w", stabilize = TRUE, truncate = 0.98)
  slow <- general_path(ipw(f, d, weights = "w", stabilize = TRUE, truncate = 0.98))
  expect_same_fit(fast, slow)
  expect_identical(vcov(estimate_effect(fast, outcome = "y")),
                   vcov(estimate_effect(slow, outcome = "y")))
  set.seed(5)
  boot_fast <- estimate_outcomes(fast, outcome = "y", se = "bootstrap", R = 4)
  set.seed(5)
  expect_identical(boot_fast$replicates,
                   estimate_outcomes(slow, outcome = "y", se = "bootstrap", R = 4)$replicates)
  expect_identical(weights(ipw(a ~ x1 + g + l, d, learner = glm_custom())),
                   weights(general_path(ipw(a ~ x1 + g + l, d, learner = glm_custom()))))
})

test_that("rows dropped for missing values are dropped from the columns too", {
  d <- sim_plain()
  d$x1[c(3, 50)] <- NA
  d$g[7] <- NA
  d$s[9] <- NA
  d$l[11] <- NA
  f <- a ~ x1 + g + s + l
  fast <- ipw(f, d, na_action = "omit")
  slow <- general_path(ipw(f, d, na_action = "omit"))
  expect_same_fit(fast, slow)
  expect_identical(fast$na.action, c(3L, 7L, 9L, 11L, 50L))
  expect_identical(nrow(fast$x), nrow(d) - 5L)
  expect_identical(vcov(estimate_effect(fast, outcome = "y")),
                   vcov(estimate_effect(slow, outcome = "y")))
  expect_error(ipw(f, d), "missing values")
})

test_that("matching and standardization on plain formulas are the general path, bit for bit", {
  d <- sim_plain()
  for (distance in c("propensity", "mahalanobis")) {
    fast <- suppressMessages(matching(a ~ x1 + k + g + l, d, distance = distance))
    slow <- suppressMessages(general_path(matching(a ~ x1 + k + g + l, d, distance = distance)))
    expect_same_fit(fast, slow)
    set.seed(6)
    b_fast <- suppressMessages(estimate_effect(fast, outcome = "y", se = "bootstrap", R = 3))
    set.seed(6)
    b_slow <- suppressMessages(estimate_effect(slow, outcome = "y", se = "bootstrap", R = 3))
    expect_identical(b_fast$replicates, b_slow$replicates)
  }
  for (stratified in c(FALSE, TRUE)) {
    f <- y ~ a + x1 + k + g + s + l
    fast <- standardization(f, d, treatment = a, stratified = stratified)
    slow <- general_path(standardization(f, d, treatment = a, stratified = stratified))
    if (stratified) {
      expect_identical(unclass(fast)[names(fast) != "design"], unclass(slow)[names(slow) != "design"])
    } else {
      expect_same_fit(fast, slow)
    }
    expect_identical(vcov(estimate_effect(fast)), vcov(estimate_effect(slow)))
    set.seed(7)
    b_fast <- estimate_effect(fast, se = "bootstrap", R = 3)
    set.seed(7)
    expect_identical(b_fast$replicates, estimate_effect(slow, se = "bootstrap", R = 3)$replicates)
    expect_identical(predict(fast, newdata = d[1:9, ]), predict(slow, newdata = d[1:9, ]))
  }
  dr_fast <- aipw(standardization(y ~ a + x1 + g, d, treatment = a), ipw(a ~ x1 + g + l, d))
  dr_slow <- general_path(aipw(standardization(y ~ a + x1 + g, d, treatment = a),
                               ipw(a ~ x1 + g + l, d)))
  set.seed(8)
  b_fast <- estimate_effect(dr_fast, se = "bootstrap", R = 3)
  set.seed(8)
  expect_identical(b_fast$replicates, estimate_effect(dr_slow, se = "bootstrap", R = 3)$replicates)
})

test_that("designs read in place give the same numbers with 1 and 2 threads", {
  d <- sim_plain(9000)
  run <- function(threads) {
    withr::local_options(causallib.threads = threads)
    fit <- ipw(a3 ~ x1 + k + g + l, d)
    list(w = weights(fit), v = vcov(estimate_effect(fit, outcome = "y")))
  }
  expect_identical(run(1), run(2))
})

test_that("the C core checks a design's columns before reading them", {
  x <- causallib:::new_design(a ~ x1 + g, sim_plain(20))$x
  w <- rep(1, 20)
  cross <- function(design) .Call(causallib:::C_ffi_wcrossprod, design, FALSE, NULL, w, 1L)
  expect_identical(cross(x), cross(as.matrix(x)))
  expect_identical(.Call(causallib:::C_ffi_wcrossprod, unclass(x)[1:3], TRUE, NULL, w, 1L),
                   .Call(causallib:::C_ffi_wcrossprod, cbind(1, as.matrix(x)), FALSE, NULL, w, 1L))
  broken <- function(part, value) {
    y <- unclass(x)
    y[[part]] <- value
    y
  }
  g <- x$columns[[3L]]
  bad <- list(
    broken("columns", "x"), broken("level", c(0L, 0L, 2L)), broken("level", c(0, 0, 2, 3)),
    broken("level", c(0L, 1L, 2L, 3L)), broken("level", c(0L, 0L, 2L, 5L)),
    broken("n", 21), broken("n", NA_real_), broken("n", -1), broken("n", 2.5),
    broken("columns", list(NULL, 1:20, g, g)), broken("columns", list(NULL, rnorm(19), g, g)),
    broken("columns", list(NULL, rnorm(20), as.integer(g), g)),
    broken("columns", list(NULL, rnorm(20), replace(g, 4, NA), replace(g, 4, NA))),
    broken("columns", list(NULL, rnorm(20), g, structure(replace(unclass(g), 4, 9L), levels = levels(g)))),
    broken("columns", list(NULL, "x", g, g)), unclass(x)[1:2]
  )
  for (k in seq_along(bad)) expect_error(cross(bad[[k]]), "internal error", info = k)
  expect_error(cross(broken("columns", list(NULL, replace(x$columns[[2L]], 2, Inf), g, g))),
               "missing or infinite")
})
