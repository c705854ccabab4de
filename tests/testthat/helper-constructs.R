# Data builders and independent references for test-constructs.R and
# test-model-interface.R.
#
# The references never call causallib: they are lm(), glm(),
# nnet::multinom(), sandwich::estfun()/bread() and predict() on copies of the
# data with the treatment set to each level (same type, factor levels kept),
# which is what "the potential outcome under level k" means for a formula:
# every term of the formula, I(a * x), log(a + 1), offset(), poly() and
# ns() included, is evaluated on the copy.

# ---- data -------------------------------------------------------------------

# How each treatment type stores the codes 0, 1 (and 2). Factor levels are
# deliberately not in alphabetical order, so a fit that sorted them would
# show it.
treatment_recoders <- list(
  bin = function(k) as.numeric(k),
  tri = function(k) as.numeric(k),
  fac2 = function(k) factor(c("placebo", "drug")[k + 1L], levels = c("placebo", "drug")),
  fac3 = function(k) factor(c("low", "mid", "high")[k + 1L], levels = c("low", "mid", "high")),
  lgl = function(k) k == 1L,
  chr = function(k) c("control", "treated")[k + 1L]
)
treatment_arity <- c(bin = 2L, tri = 3L, fac2 = 2L, fac3 = 3L, lgl = 2L, chr = 2L)
numeric_types <- c("bin", "tri")
all_types <- names(treatment_recoders)

# Simulated data with a treatment `a` of the given type, confounded by x1,
# x2 and g. Outcomes: gaussian y (with the offset o entering with
# coefficient 1, and spanning values below 0 and above 1), binary yb, count
# `count` with exposure time t (poisson with offset log(t)). w: sampling
# weights. The covariates do not depend on the type.
sim_constructs <- function(type = "bin", n = 400, seed = 1) {
  withr::local_seed(seed)
  x1 <- stats::rnorm(n)
  x2 <- stats::rbinom(n, 1, 0.4)
  x3 <- stats::runif(n, 0, 4)
  g <- factor(sample(c("north", "south", "east"), n, replace = TRUE),
              levels = c("north", "south", "east"))
  o <- stats::rnorm(n, sd = 0.5)
  t <- stats::runif(n, 0.5, 3)
  w <- stats::runif(n, 0.5, 2)
  u_a <- stats::runif(n)
  e_y <- stats::rnorm(n)
  u_yb <- stats::runif(n)
  lp1 <- -0.2 + 0.7 * x1 - 0.5 * x2 + 0.3 * (g == "south")
  k <- if (treatment_arity[[type]] == 2L) {
    as.integer(u_a < stats::plogis(lp1))
  } else {
    e <- cbind(1, exp(0.2 + 0.6 * x1), exp(-0.1 - 0.5 * x1 + 0.6 * x2))
    p <- e / rowSums(e)
    as.integer(u_a > p[, 1L]) + as.integer(u_a > p[, 1L] + p[, 2L])
  }
  y <- 1 + 1.2 * k + x1 + 0.7 * k * x1 - 0.5 * x2 + 0.3 * (x3 - 2)^2 +
    0.4 * (g == "south") + o + e_y
  yb <- as.numeric(u_yb < stats::plogis(-0.3 + 0.6 * k + 0.5 * x1 - 0.4 * x2 + 0.3 * k * x1))
  count <- stats::rpois(n, t * exp(-0.3 + 0.3 * k + 0.3 * x1 - 0.2 * x2))
  data.frame(a = treatment_recoders[[type]](k), x1 = x1, x2 = x2, x3 = x3, g = g,
             o = o, t = t, w = w, y = y, yb = yb, count = count)
}

# MatchIt's lalonde (not shipped with causallib) with a binary outcome
# employed78, an offset column o (seeded noise, so that no covariate can
# absorb it), and `treat` recoded to the given type (bin, fac2, lgl or chr).
lalonde_typed <- function(type = "bin") {
  testthat::skip_if_not_installed("MatchIt")
  e <- new.env()
  utils::data("lalonde", package = "MatchIt", envir = e)
  d <- e$lalonde
  rownames(d) <- NULL
  d$employed78 <- as.numeric(d$re78 > 0)
  d$o <- withr::with_seed(3, stats::rnorm(nrow(d), sd = 0.5))
  if (type != "bin") d$treat <- treatment_recoders[[type]](d$treat)
  d
}

# ---- references -------------------------------------------------------------

# The treatment levels in causallib's order: a factor's (observed) levels,
# otherwise the sorted distinct values.
treatment_levels <- function(a) {
  if (is.factor(a)) levels(droplevels(a)) else as.character(sort(unique(a)))
}

# A copy of d with the treatment set to `level` for everyone, keeping the
# column's type (and a factor's levels).
set_level <- function(d, treatment, level) {
  col <- d[[treatment]]
  n <- nrow(d)
  d[[treatment]] <- if (is.factor(col)) {
    factor(rep(level, n), levels = levels(col))
  } else if (is.logical(col)) {
    rep(as.logical(level), n)
  } else if (is.numeric(col)) {
    v <- rep(as.numeric(level), n)
    storage.mode(v) <- typeof(col)
    v
  } else {
    rep(as.character(level), n)
  }
  d
}

# lm() for the gaussian family, glm() for the others (tightly converged);
# sampling weights go through a data column, since lm() and glm() look up
# `weights` in `data`.
ref_fit <- function(formula, data, family = "gaussian", weights = NULL) {
  data$.sw <- if (is.null(weights)) rep(1, nrow(data)) else weights
  if (family == "gaussian") return(stats::lm(formula, data = data, weights = .sw))
  stats::glm(formula, family = family, data = data, weights = .sw,
             control = stats::glm.control(epsilon = 1e-14, maxit = 100))
}

# n x K matrix: the model's predicted mean for each unit of newdata with the
# treatment set to each level.
ref_po <- function(model, newdata, treatment, levels) {
  out <- vapply(levels, function(l) {
    unname(stats::predict(model, newdata = set_level(newdata, treatment, l), type = "response"))
  }, numeric(nrow(newdata)))
  matrix(out, nrow(newdata), dimnames = list(NULL, levels))
}

# T-learner reference: one model per arm on the covariate formula, fitted
# with subset = so that data-dependent bases (ns() knots, poly()
# coefficients) come from all units, as in one shared design; predicted for
# every unit of newdata.
ref_stratified_po <- function(cov_formula, data, treatment, levels, family = "gaussian",
                              newdata = data) {
  out <- vapply(levels, function(l) {
    data$.arm <- as.character(data[[treatment]]) == l
    model <- if (family == "gaussian") {
      stats::lm(cov_formula, data = data, subset = .arm)
    } else {
      stats::glm(cov_formula, family = family, data = data, subset = .arm,
                 control = stats::glm.control(epsilon = 1e-14, maxit = 100))
    }
    unname(stats::predict(model, newdata = newdata, type = "response"))
  }, numeric(nrow(newdata)))
  matrix(out, nrow(newdata), dimnames = list(NULL, levels))
}

# Sandwich standard errors of the standardized means mu_k = mean_i m_k(X_i)
# from the stacked estimating equations of the model and the means:
#   IF_i(mu_k) = (m_k(X_i) - mu_k) + g_k' IF_i(beta),
#   g_k = mean_i d m_k(X_i) / d beta (on the counterfactual design of level k),
#   IF_i(beta) = bread %*% estfun_i (sandwich's conventions for lm and glm
#   with a fixed dispersion), V = sum_i IF_i IF_i' / n^2.
ref_sandwich_se <- function(model, data, treatment, levels) {
  testthat::skip_if_not_installed("sandwich")
  stopifnot(!anyNA(stats::coef(model)))
  fam <- stats::family(model)
  n <- stats::nobs(model)
  if_beta <- sandwich::estfun(model) %*% t(sandwich::bread(model))
  tt <- stats::delete.response(stats::terms(model))
  IF <- vapply(levels, function(l) {
    nd <- set_level(data, treatment, l)
    eta <- stats::predict(model, newdata = nd)
    mf <- stats::model.frame(tt, nd, xlev = model$xlevels)
    X <- stats::model.matrix(tt, mf, contrasts.arg = model$contrasts)
    m <- fam$linkinv(eta)
    g_k <- colMeans(X * fam$mu.eta(eta))
    unname((m - mean(m)) + drop(if_beta %*% g_k))
  }, numeric(n))
  stats::setNames(sqrt(colSums(IF^2)) / n, levels)
}

# n x K propensity matrix (columns named by level): glm() binomial for two
# levels, nnet::multinom() (tightly converged) for more. The response is
# made a factor so that character and logical treatments are handled alike.
ref_propensity <- function(formula, data, treatment, weights = NULL) {
  lev <- treatment_levels(data[[treatment]])
  data[[treatment]] <- factor(as.character(data[[treatment]]), levels = lev)
  data$.sw <- if (is.null(weights)) rep(1, nrow(data)) else weights
  P <- if (length(lev) == 2L) {
    p <- stats::fitted(stats::glm(formula, family = stats::quasibinomial(), data = data,
                                  weights = .sw,
                                  control = stats::glm.control(epsilon = 1e-14, maxit = 100)))
    cbind(1 - p, p)
  } else {
    testthat::skip_if_not_installed("nnet")
    stats::fitted(nnet::multinom(formula, data = data, weights = .sw, trace = FALSE,
                                 maxit = 10000, reltol = 1e-15, abstol = 1e-15))
  }
  matrix(unname(P), nrow(data), dimnames = list(NULL, lev))
}

# n x K indicator matrix of the level each unit received.
arm_indicators <- function(a, levels) {
  out <- vapply(levels, function(l) as.numeric(as.character(a) == l), numeric(length(a)))
  matrix(out, length(a), dimnames = list(NULL, levels))
}

# Hajek (normalized IP-weighted) means of y within each arm.
hajek_means <- function(y, w, a, levels) {
  vapply(levels, function(l) {
    i <- as.character(a) == l
    sum(w[i] * y[i]) / sum(w[i])
  }, numeric(1))
}

# Potential-outcome means of the doubly robust estimators computed by hand
# from lm() (gaussian outcome) and glm()/multinom() propensities:
#   aipw: mean of Q_k + 1{A = k} (Y - Q_k) / p_k
#   tmle: per level, a logistic fluctuation of the outcome scaled to [0, 1]
#         by its range (bounded to [1e-6, 1 - 1e-6]) along 1 / p_k, fitted
#         on the units of that level; the updated predictions averaged
#   weighted_standardization: the lm() refitted with weights 1 / p_a, then
#         standardized
#   ps_standardization: the lm() with qlogis(p_k) of every non-reference
#         level as extra covariates (each unit's own), predicted on copies
#         with the treatment set
ref_dr_means <- function(method, out_formula, ps_formula, data, treatment) {
  lev <- treatment_levels(data[[treatment]])
  n <- nrow(data)
  y <- stats::model.response(stats::model.frame(out_formula, data))
  P <- ref_propensity(ps_formula, data, treatment)
  A <- arm_indicators(data[[treatment]], lev)
  received <- max.col(A)
  switch(method,
    aipw = {
      Q <- ref_po(ref_fit(out_formula, data), data, treatment, lev)
      colMeans(Q + A * (y - Q) / P)
    },
    tmle = {
      # causallib scales by min(0, y) and max(1, y): the range when it covers [0, 1]
      stopifnot(min(y) <= 0, max(y) >= 1)
      Q <- ref_po(ref_fit(out_formula, data), data, treatment, lev)
      lo <- min(y)
      hi <- max(y)
      ys <- (y - lo) / (hi - lo)
      mu <- vapply(seq_along(lev), function(k) {
        qs <- pmin(pmax((Q[, k] - lo) / (hi - lo), 1e-6), 1 - 1e-6)
        h <- 1 / P[, k]
        i <- A[, k] == 1
        flu <- suppressWarnings(stats::glm(
          ys[i] ~ -1 + h[i], offset = stats::qlogis(qs[i]), family = stats::binomial(),
          control = stats::glm.control(epsilon = 1e-14, maxit = 100)))
        lo + (hi - lo) * mean(stats::plogis(stats::qlogis(qs) + stats::coef(flu)[[1L]] * h))
      }, numeric(1))
      stats::setNames(mu, lev)
    },
    weighted_standardization = {
      fit <- ref_fit(out_formula, data, weights = 1 / P[cbind(seq_len(n), received)])
      colMeans(ref_po(fit, data, treatment, lev))
    },
    ps_standardization = {
      extra <- paste0(".lps", seq_along(lev)[-1L])
      for (k in seq_along(lev)[-1L]) data[[extra[k - 1L]]] <- stats::qlogis(P[, k])
      f <- stats::update(out_formula, stats::reformulate(c(".", extra)))
      colMeans(ref_po(ref_fit(f, data), data, treatment, lev))
    }
  )
}
