# A causal data simulator: covariates from a small graph, a treatment
# assigned from some of them, an outcome from others and the treatment, and
# the truth -- every unit's expected potential outcomes, so the ATE, ATT,
# ATC, CATE and survival curves are known exactly for the sample drawn.

#' Simulate data with known causal effects
#'
#' Draws `n` units from a small causal graph and returns them with the truth.
#' Covariates are independent standard normal variables of six kinds:
#' confounders (cause treatment and outcome), instruments (treatment only),
#' effect modifiers (outcome, and the size of the effect), outcome-only
#' predictors, colliders (caused by treatment and outcome: adjusting for them
#' biases) and noise (nothing). Confounders 3, 5, ... are made binary
#' (`x > 0`), so models see both kinds.
#'
#' **Treatment.** For two arms, \eqn{P(A = 1 \mid X) = \mathrm{logit}^{-1}(b_0 +
#' s\,(\sum_j c_j C_j + \sum_j i_j I_j + f(X)))} with coefficients 0.5 and
#' \eqn{b_0} set so that about `treated_share` are treated; `overlap_strength`
#' (\eqn{s}) makes the arms overlap less as it grows. For three or more arms,
#' a multinomial logit with arm-specific coefficients. With `nonlinear`
#' including `"propensity"`, \eqn{f(X)} adds \eqn{C_1^2 - 1} and \eqn{C_1 C_2}
#' (a main-effects model of the treatment is then misspecified).
#'
#' **Outcome.** The linear predictor \eqn{\eta_a(X) = \beta_0 + \sum_j 0.5 (C_j
#' + P_j + M_j) + \tau_a (1 + 0.5 \sum_j M_j + 0.3 C_1) + g(X)} with `effect`
#' \eqn{\tau_a} (0 for the first arm): the effect varies with the modifiers
#' and with the first confounder, so the ATT differs from the ATE; with `nonlinear` including `"outcome"`, \eqn{g(X)}
#' adds \eqn{C_1^2 - 1} and \eqn{\sin(2 C_2)}. Continuous: \eqn{Y = \eta +
#' N(0, 1)}; binary: \eqn{P(Y = 1) = \mathrm{logit}^{-1}(\eta)} (baseline about
#' 0.3); count: Poisson with mean \eqn{\exp(\eta)};
#' survival: a Weibull proportional-hazards time with cumulative hazard
#' \eqn{(t / 10)^{1.5} \exp(\eta)}, independently censored (exponentially, at
#' rate `censoring_rate`) and administratively at `max_time`.
#'
#' **Truth** (attribute `"truth"`): the expected potential outcomes
#' \eqn{\mu_a(X_i)} of every unit (`mu`, one column per arm: means,
#' probabilities or expected counts), the conditional effects against the
#' first arm (`cate`), their averages over all units (`ate`), the treated
#' (`att`, two arms) and the controls (`atc`), the true propensities, which
#' variables are which, and for survival the true curves \eqn{S_a(t) = n^{-1}
#' \sum_i \exp(-(t/10)^{1.5} e^{\eta_a(X_i)})} on `times`. These are the
#' sample (conditional) estimands: what an estimator on this sample targets,
#' without Monte Carlo error of their own.
#'
#' @param n Number of units.
#' @param arms Number of treatment arms (2 or more). Two arms give a 0/1
#'   integer treatment `a`, more a factor with levels `0, 1, ...`.
#' @param outcome `"continuous"`, `"binary"`, `"count"` or `"survival"`.
#' @param effect The effect of each non-reference arm on the outcome's linear
#'   predictor (recycled over the arms): a mean difference, a log odds ratio,
#'   a log rate ratio or a log hazard ratio.
#' @param confounders,instruments,effect_modifiers,predictors,colliders,noise
#'   How many covariates of each kind.
#' @param overlap_strength Scale of the treatment model's covariate effects:
#'   0 is a randomized trial, 1 moderate overlap, 3 poor overlap.
#' @param treated_share The approximate share treated (two arms).
#' @param nonlinear Which true models have nonlinear terms: `"none"`,
#'   `"outcome"`, `"propensity"` or `"both"`.
#' @param censoring_rate,max_time Censoring of survival outcomes.
#' @param times The times at which the true survival curves are given;
#'   default 20 times evenly up to `max_time`.
#' @return A data frame with the covariates (`c1, ...` confounders, `i1, ...`
#'   instruments, `m1, ...` modifiers, `p1, ...` predictors, `l1, ...`
#'   colliders, `z1, ...` noise, in that order), the treatment `a` and the outcome `y` (or
#'   `time` and `event`), with the truth as the attribute `"truth"`.
#' @examples
#' d <- simulate_causal(2000, overlap_strength = 1)
#' attr(d, "truth")$ate
#' fit <- aipw(y ~ a + c1 + c2 + c3 + m1 + p1 + p2, a ~ c1 + c2 + c3 + i1, data = d,
#'             treatment = a)
#' estimate_effect(fit)
#' s <- simulate_causal(1000, outcome = "survival", effect = -0.5)
#' head(attr(s, "truth")$survival)
#' @export
simulate_causal <- function(n, arms = 2, outcome = "continuous", effect = 1,
                            confounders = 3, instruments = 1, effect_modifiers = 1,
                            predictors = 2, colliders = 1, noise = 2,
                            overlap_strength = 1, treated_share = 0.4, nonlinear = "none",
                            censoring_rate = 0.02, max_time = 30, times = NULL) {
  check_count(n, "n", min = 2, max = 1e8)
  check_count(arms, "arms", min = 2, max = 20)
  outcome <- rlang::arg_match0(outcome, c("continuous", "binary", "count", "survival"), "outcome")
  nonlinear <- rlang::arg_match0(nonlinear, c("none", "outcome", "propensity", "both"), "nonlinear")
  if (!is.numeric(effect) || !length(effect) || anyNA(effect) || any(!is.finite(effect))) {
    cli::cli_abort("{.arg effect} must be finite numbers, one per non-reference arm; you gave {value_label(effect)}.")
  }
  counts <- c(c = confounders, i = instruments, m = effect_modifiers, p = predictors, l = colliders, z = noise)
  for (k in names(counts)) check_count(counts[[k]], simulate_count_arg[[k]], min = 0, max = 1000)
  if (nonlinear != "none" && confounders < 2) {
    cli::cli_abort("{.arg nonlinear} terms use two confounders; {.arg confounders} is {confounders}.")
  }
  check_number(overlap_strength, "overlap_strength", min = 0, max = 20)
  check_number(treated_share, "treated_share", min = 0, max = 1, open = c(TRUE, TRUE))
  check_number(censoring_rate, "censoring_rate", min = 0, max = 10)
  check_number(max_time, "max_time", min = 0, open = c(TRUE, FALSE))
  tau <- c(0, rep_len(effect, arms - 1L))

  X <- simulate_covariates(n, counts[c("c", "i", "m", "p", "z")])
  C <- X[, startsWith(colnames(X), "c"), drop = FALSE]
  M <- X[, startsWith(colnames(X), "m"), drop = FALSE]
  Pr <- X[, startsWith(colnames(X), "p"), drop = FALSE]
  I <- X[, startsWith(colnames(X), "i"), drop = FALSE]
  # Confounders 3, 5, ... binary: the models see 0/1 and continuous columns
  # (c1 and c2, which the nonlinear terms use, stay continuous).
  if (ncol(C) >= 3L) C[, seq(3L, ncol(C), by = 2L)] <- (C[, seq(3L, ncol(C), by = 2L)] > 0) * 1
  X[, colnames(C)] <- C

  ps <- simulate_propensity(C, I, arms, overlap_strength, treated_share,
                            nonlinear %in% c("propensity", "both"))
  a <- simulate_arms(ps)
  base <- rowSums(C) * 0.5 + rowSums(Pr) * 0.5 + rowSums(M) * 0.5
  if (nonlinear %in% c("outcome", "both")) base <- base + (X[, "c1"]^2 - 1) + sin(2 * X[, "c2"])
  modifier <- 1 + 0.5 * rowSums(M) + (if (ncol(C)) 0.3 * C[, 1L] else 0)
  intercept <- switch(outcome, continuous = 0, binary = stats::qlogis(0.3), count = 0, survival = 0)
  eta <- outer(intercept + base, rep(1, arms)) + outer(modifier, tau)
  mu <- switch(outcome, continuous = eta, binary = stats::plogis(eta), count = exp(eta),
               survival = NULL)
  eta_a <- eta[cbind(seq_len(n), a)]
  d <- as.data.frame(X)
  truth <- list(
    propensity = ps, roles = simulate_roles(counts), outcome = outcome, effect = tau[-1L],
    overlap_strength = overlap_strength, nonlinear = nonlinear
  )
  if (outcome == "survival") {
    t_event <- 10 * (stats::rexp(n) / exp(eta_a))^(1 / 1.5)
    t_cens <- if (censoring_rate > 0) stats::rexp(n, censoring_rate) else rep(Inf, n)
    time <- pmin(t_event, t_cens, max_time)
    y_scaled <- log(t_event)
    d$time <- time
    d$event <- as.integer(t_event <= pmin(t_cens, max_time))
    times <- times %||% seq(max_time / 20, max_time, length.out = 20L)
    truth$survival <- simulate_survival_truth(eta, times, a)
  } else {
    y <- switch(outcome,
      continuous = eta_a + stats::rnorm(n),
      binary = stats::rbinom(n, 1L, mu[cbind(seq_len(n), a)]),
      count = stats::rpois(n, mu[cbind(seq_len(n), a)]))
    y_scaled <- (y - mean(y)) / max(stats::sd(y), 1e-8)
    d$y <- y
    truth$mu <- mu
    cate <- mu[, -1L, drop = FALSE] - mu[, 1L]
    colnames(cate) <- paste(seq_len(arms - 1L), "vs 0")
    truth$cate <- if (arms == 2L) cate[, 1L] else cate
    truth$ate <- colMeans(cate)
    truth$potential_outcome_means <- stats::setNames(colMeans(mu), 0:(arms - 1L))
    if (arms == 2L) {
      truth$att <- mean(cate[a == 2L, 1L])
      truth$atc <- mean(cate[a == 1L, 1L])
    }
  }
  for (j in seq_len(counts[["l"]])) {
    d[[paste0("l", j)]] <- (a - 1) + y_scaled + stats::rnorm(n)
  }
  d$a <- if (arms == 2L) as.integer(a - 1L) else factor(a - 1L, levels = 0:(arms - 1L))
  covariates <- truth$roles$variable
  d <- d[c(covariates, "a", setdiff(names(d), c(covariates, "a")))]
  attr(d, "truth") <- truth
  d
}

simulate_count_arg <- c(c = "confounders", i = "instruments", m = "effect_modifiers", p = "predictors",
                        l = "colliders", z = "noise")

# n standard normal covariates of each kind, named c1.., i1.., m1.., p1.., z1..
simulate_covariates <- function(n, counts) {
  p <- sum(counts)
  X <- matrix(stats::rnorm(n * p), n, p)
  colnames(X) <- unlist(lapply(names(counts), function(k) if (counts[[k]]) paste0(k, seq_len(counts[[k]]))))
  X
}

# The true propensities (n x arms): a logistic model for two arms, a
# multinomial logit with arm-specific coefficients for more.
simulate_propensity <- function(C, I, arms, s, share, nonlinear) {
  Z <- cbind(C, I)
  n <- nrow(Z)
  extra <- if (nonlinear) (C[, 1L]^2 - 1) + C[, 1L] * C[, 2L] else 0
  if (arms == 2L) {
    lp <- s * (if (ncol(Z)) rowSums(Z) * 0.5 else 0) + s * extra
    b0 <- stats::uniroot(function(b) mean(stats::plogis(b + lp[seq_len(min(n, 1e5))])) - share,
                         c(-30, 30), tol = 1e-10)$root
    e <- stats::plogis(b0 + lp)
    return(cbind(`0` = 1 - e, `1` = e))
  }
  lp <- matrix(0, n, arms)
  for (k in 2:arms) {
    sign <- if (k %% 2L) -1 else 1
    coef <- 0.5 * sign * (1 + (seq_len(ncol(Z)) + k) %% 2L) / 1.5
    lp[, k] <- s * (if (ncol(Z)) Z %*% coef else 0) + s * extra * sign
  }
  E <- exp(lp - apply(lp, 1L, max))
  P <- E / rowSums(E)
  colnames(P) <- 0:(arms - 1L)
  P
}

# One arm (1-based) per unit, drawn from its propensities.
simulate_arms <- function(P) {
  u <- stats::runif(nrow(P))
  cum <- P[, 1L]
  a <- rep(1L, nrow(P))
  for (k in seq_len(ncol(P) - 1L)) {
    a[u > cum] <- k + 1L
    cum <- cum + P[, k + 1L]
  }
  a
}

# The true curves S_a(t) = mean_i exp(-(t / 10)^1.5 exp(eta_ia)), each arm
# over all units (and, with two arms, over the treated, for the ATT).
simulate_survival_truth <- function(eta, times, a) {
  H0 <- (times / 10)^1.5
  out <- lapply(seq_len(ncol(eta)), function(k) {
    r <- exp(eta[, k])
    data.frame(time = times, treatment = k - 1L,
               survival = vapply(H0, function(h) mean(exp(-h * r)), numeric(1)),
               survival_treated = if (ncol(eta) == 2L) {
                 vapply(H0, function(h) mean(exp(-h * r[a == 2L])), numeric(1))
               } else {
                 NA_real_
               })
  })
  do.call(rbind, out)
}

simulate_roles <- function(counts) {
  role <- c(c = "confounder", i = "instrument", m = "effect modifier", p = "outcome predictor",
            l = "collider", z = "noise")
  do.call(rbind, lapply(names(counts), function(k) {
    if (!counts[[k]]) return(NULL)
    data.frame(variable = paste0(k, seq_len(counts[[k]])), role = role[[k]], stringsAsFactors = FALSE)
  }))
}
