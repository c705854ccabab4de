#' Doubly robust (augmented IPW) survival curves
#'
#' The survival curve each treatment level would give the whole sample,
#' estimated by augmented inverse probability of treatment and censoring
#' weighting (AIPTW-AIPCW): three nuisance models -- a hazard model of the
#' event (as in [survival_standardization()]), a propensity model of the
#' treatment (an [ipw()] model) and a hazard model of censoring -- are
#' combined so that the curves are consistent when either the hazard model
#' of the event, or the propensity and censoring models, are correct.
#'
#' For level \eqn{a} and time \eqn{t}, with \eqn{F_a(t \mid x) = 1 -
#' S_a(t \mid x)} the event model's risk, \eqn{\pi_a(x)} the propensity,
#' \eqn{G(u \mid x)} the probability of remaining uncensored through
#' \eqn{u} and \eqn{M^C} the censoring martingale,
#' \deqn{\hat F_a(t) = \frac{1}{n} \sum_i \Big[ F_a(t \mid X_i) +
#' \frac{1\{A_i = a\}}{\pi_a(X_i)} \Big( \frac{\Delta_i 1\{T_i \le t\}}{G(T_i- \mid X_i)}
#' - F_a(t \mid X_i) + \int_0^{t} \frac{F_a(t \mid X_i) - F_a(u \mid X_i)}{S_a(u- \mid X_i)\,
#' G(u- \mid X_i)} \, dM^C_i(u) \Big) \Big]}
#' and \eqn{\hat S_a(t) = 1 - \hat F_a(t)}: the standardized curve of the
#' event model plus the IP-weighted residual of the observed outcome, whose
#' censoring-martingale term recovers what censoring hides. Sampling
#' weights replace \eqn{1/n} by normalized weights.
#'
#' * `model = "cox"`: Cox models (by [survival::coxph()], Breslow's baseline
#'   hazard; Efron's where times are tied) of the event and of censoring,
#'   in continuous time. This is the estimator `riskRegression::ate()`
#'   computes with `estimator = "AIPTW,AIPCW"` for `coxph()` event and
#'   censoring models (the same numbers when no times are tied).
#' * `model = "pooled_logistic"` (default): the same estimator in discrete
#'   time on the period grid (see the Time grid section of
#'   [survival_standardization()]): the event hazard is a pooled-logistic
#'   model of the formula's terms, the time terms and their interaction with
#'   the treatment; the censoring hazard a pooled-logistic model of the
#'   treatment, the `censoring_model` covariates and the time terms (as in
#'   [survival_ipw()]). Censoring in period \eqn{s} happens after its event
#'   risk, so an event in period \eqn{s} is weighted by
#'   \eqn{1 / G(s - 1)}, and the censoring martingale's increment at the
#'   end of period \eqn{s < t} by \eqn{(F(t) - F(s)) / (S(s) G(s))}: with
#'   these the estimator equals, person by person, the discrete hazard form
#'   of the efficient influence function,
#'   \eqn{S(t) - \sum_{s \le t} 1\{A = a\} R(s) S(t) (dN(s) - h(s)) /
#'   (\pi_a S(s) G(s - 1))}, \eqn{R(s)} being at risk in period \eqn{s}.
#'
#' Unlike Kaplan-Meier or standardized curves, augmented curves are not
#' constrained: in small samples or with extreme weights they may rise
#' slightly over time or above 1 (where a curve reaches 1 its log-scale
#' interval is degenerate). Each arm's curve ends with its follow-up as for
#' the hazard model (see [survival_standardization()]).
#'
#' Without a `censoring_model` the censoring hazard depends on the
#' treatment alone (its covariates are then assumed not to predict
#' censoring within an arm, the assumption of Kaplan-Meier curves per arm);
#' the estimator is still the augmented one, with arm-specific censoring
#' weights. Give the covariates that predict censoring in `censoring_model`
#' whenever censoring may depend on them: that is not detectable from the
#' data.
#'
#' @section Intervals:
#' * `se = "sandwich"` (the default): the efficient influence function of
#'   each curve, evaluated at the estimates (the summand above minus its
#'   mean), as `riskRegression::ate()` with `known.nuisance = TRUE`. When
#'   all three nuisance models are correct, estimating them does not change
#'   the estimator's asymptotic variance (it is orthogonal to them), so
#'   these intervals are valid, and they cost one pass over the people per
#'   arm. When only some of the models are correct the curves stay
#'   consistent but these intervals may be too narrow or too wide: prefer
#'   the bootstrap when in doubt. [estimate_effect()][estimate_effect.causal_survival]
#'   contrasts, restricted means and [tidy()][tidy.causal_survival]`(band =
#'   "simultaneous")` use the same influence functions.
#' * `se = "bootstrap"`: `R` replicates of people refit all three models
#'   and recompute the curves (in R); percentile intervals.
#'
#' @param formula `Surv(time, event) ~ treatment + covariates`: the event
#'   hazard model.
#' @param weight_model A fitted [ipw()] model of the same people with
#'   `estimand = "ATE"`, with any learner, or a formula `treatment ~
#'   covariates` for one. Its propensities (after any `clip`) are used:
#'   `stabilize` and `truncate`, which act on the weights, do not apply.
#' @param censoring_model `NULL` (censoring depends on the treatment alone),
#'   or a one-sided formula of the covariates that predict censoring (the
#'   treatment is always included).
#' @param se `"sandwich"` (default), `"bootstrap"` or `"none"`.
#' @inheritParams survival_standardization
#' @return A `causal_survival` object; see [estimate_effect.causal_survival()]
#'   and [tidy.causal_survival()].
#' @references
#' Bai X, Tsiatis AA, O'Brien SM (2013). Doubly-robust estimators of
#' treatment-specific survival distributions in observational studies with
#' stratified sampling. *Biometrics* 69, 830-839.
#'
#' Ozenne BMH, Scheike TH, Staerk L, Gerds TA (2020). On the estimation of
#' average treatment effects with right-censored time to event outcome and
#' competing risks. *Biometrical Journal* 62, 751-763.
#' @seealso [survival_standardization()], [survival_ipw()], [aipw()]
#' @export
#' @examples
#' fit <- survival_aipw(
#'   Surv(survtime, death) ~ qsmk + sex + race + age + I(age^2) + education +
#'     smokeintensity + smokeyrs + exercise + active + wt71,
#'   data = nhefs, treatment = "qsmk",
#'   weight_model = qsmk ~ sex + race + age + I(age^2) + education +
#'     smokeintensity + smokeyrs + exercise + active + wt71,
#'   censoring_model = ~ age + wt71)
#' fit
#' estimate_effect(fit, times = 120)
survival_aipw <- function(formula, data, treatment, weight_model, censoring_model = NULL,
                          model = "pooled_logistic", time_terms = NULL, learner = lrn_glm(),
                          breaks = NULL, period = NULL, time_unit = NULL, weights = NULL,
                          se = NULL, R = 200, conf_level = 0.95, na_action = "fail") {
  check_formula(formula)
  treatment <- treatment_name(rlang::enquo(treatment), formula)
  if (missing(weight_model)) weight_model <- NULL
  env <- parent.frame()
  grid <- grid_spec(time_terms, breaks, period, time_unit)
  setup <- survival_setup(formula, data, treatment, weights, na_action, env)
  fit <- survival_aipw_engine(setup, data, env, grid, learner, weight_model, censoring_model,
                              model, se)
  finish_survival_fit(fit, fit$se_type, R, conf_level, match.call(), nrow(data))
}

#' @describeIn survival_aipw Matrix interface: `x` is a numeric covariate
#'   matrix, `a` the treatment, `time` and `event` the follow-up; the event
#'   hazard's terms are the treatment and the columns of `x`. A
#'   `censoring_model` is then a numeric matrix of the covariates of
#'   censoring, and `weight_model` an [ipw_fit()] of the same units.
#' @param x A numeric covariate matrix.
#' @param a The treatment: a factor, or numeric, logical or character codes.
#' @param time,event Follow-up times and event indicators (0 or 1).
#' @export
survival_aipw_fit <- function(x, a, time, event, weight_model, censoring_model = NULL,
                              model = "pooled_logistic", time_terms = NULL, learner = lrn_glm(),
                              breaks = NULL, period = NULL, time_unit = NULL, weights = NULL,
                              se = NULL, R = 200, conf_level = 0.95) {
  if (missing(weight_model)) weight_model <- NULL
  grid <- grid_spec(time_terms, breaks, period, time_unit)
  m <- survival_matrix_data(x, a, time, event, TRUE)
  setup <- survival_setup(m$formula, m$data, ".treatment", weights, "fail", baseenv())
  fit <- survival_aipw_engine(setup, m$data, baseenv(), grid, learner, weight_model,
                              censoring_model, model, se)
  finish_survival_fit(fit, fit$se_type, R, conf_level, match.call(), nrow(m$data))
}

survival_aipw_engine <- function(setup, data, env, grid, learner, weight_model, censoring_model,
                                 model, se) {
  if (!is.null(setup$causes)) {
    cli::cli_abort(c(
      "{.fn survival_aipw} estimates survival curves of a single event, not of competing causes.",
      i = "Use {.fn survival_ipw} or {.fn survival_standardization} for cumulative incidences."
    ))
  }
  model <- rlang::arg_match0(model, c("pooled_logistic", "cox"), "model")
  se <- rlang::arg_match0(se %||% "sandwich", c("sandwich", "bootstrap", "none"), "se")
  if (is.null(weight_model)) {
    cli::cli_abort(c(
      "{.arg weight_model} is required: the augmented estimator weights by the propensity.",
      i = "Give a formula {.code treatment ~ covariates} or a fitted {.fn ipw} model."
    ))
  }
  wm <- resolve_weight_model(weight_model, setup, data, env)
  check_aipw_weight_model(wm)
  check_arm_events(setup$status, setup$a, setup$sw, model)
  if (model == "pooled_logistic") check_hazard_learner(learner)
  fit <- new_survival_fit(setup, method = model, marginal = FALSE, stratified = FALSE,
                          weight_model = wm, learner = learner, grid = grid,
                          censoring_model = censoring_model, data = data, env = env)
  if (is.null(fit$xc)) fit$xc <- treatment_dummies(setup$a)
  fit$estimator <- "augmented IPW"
  fit$se_type <- se
  class(fit) <- c("causal_survival", "causallib_survival_aipw", "causallib_survival",
                  "causallib_model")
  fit
}

# The augmented estimator needs each person's propensity of the level they
# received, for the ATE: an ipw() model (other weight models have weights
# but no propensities).
check_aipw_weight_model <- function(wm) {
  if (!inherits(wm, "causallib_ipw")) {
    cli::cli_abort(c(
      "{.arg weight_model} must be an {.fn ipw} model (or its formula): the augmented estimator needs propensities.",
      i = "Weights from {.fn matching} or other packages have no propensity model."
    ), call = rlang::caller_env())
  }
  if (wm$estimand != "ATE") {
    cli::cli_abort(c(
      "{.arg weight_model} has {.code estimand = {.val {wm$estimand}}}; {.fn survival_aipw} estimates the ATE curves.",
      i = "Fit the weight model with {.code estimand = \"ATE\"}."
    ), call = rlang::caller_env())
  }
}

# ---- the curves ------------------------------------------------------------

# The augmented curves (K x m) of a fit whose people weigh avg (sampling
# weights times bootstrap counts), and its nuisance models: the event and
# censoring hazards fitted with avg, the propensities of the weight model.
aipw_curves <- function(fit, avg) {
  nu <- if (fit$method == "cox") aipw_cox_nuisance(fit, avg) else aipw_pooled_nuisance(fit, avg)
  nu$ip <- aipw_inverse_propensity(fit)
  nu$v <- avg / sum(avg)
  K <- length(fit$levels)
  m <- length(fit$times)
  nu$curves <- t(vapply(seq_len(K), function(k) {
    acc <- numeric(m)
    for (rows in row_chunks(fit$n, nu$width)) {
      acc <- acc + colSums(nu$v[rows] * aipw_person_survival(fit, nu, k, rows))
    }
    acc
  }, numeric(m)))
  warn_censoring_positivity(nu$g_event)
  nu$g_event <- NULL
  list(survival = nu$curves, models = list(hazard = nu$hazard, censoring = nu$censoring,
                                           nuisance = nu))
}

# 1{A_i = k} / pi_k(X_i) (n x K): the inverse propensity of the level each
# person received, 0 elsewhere.
aipw_inverse_propensity <- function(fit) {
  P <- fit$weight_model$propensity
  a <- as.integer(fit$treatment)
  own <- P[cbind(seq_len(fit$n), a)]
  zero <- own <= 0 & sw_or_one(fit) > 0
  if (any(zero)) {
    cli::cli_abort(c(
      "{sum(zero)} {cli::qty(sum(zero))}person{?s} ha{?s/ve} a propensity of 0 for the level received: positivity is violated.",
      i = "Fit the weight model with {.arg clip}, or restrict the data to people who could receive every level."
    ), call = NULL)
  }
  out <- matrix(0, fit$n, ncol(P))
  out[cbind(seq_len(fit$n), a)] <- 1 / pmax(own, .Machine$double.xmin)
  out
}

# A person observed to have the event weighs 1 / G(T-); probabilities of
# remaining uncensored near 0 make that weight explode.
censoring_floor <- 0.01

warn_censoring_positivity <- function(g) {
  low <- sum(g < censoring_floor)
  if (!low) return(invisible())
  cli::cli_warn(c(
    "{low} {cli::qty(low)}event{?s} ha{?s/ve} a probability of remaining uncensored below {censoring_floor}: near-violations of positivity for censoring give extreme weights.",
    i = "Check {.arg censoring_model}, or contrast the curves at earlier {.arg times}."
  ), call = NULL)
}

# Person i's contribution to the survival curve of level k at each grid
# time (|rows| x m): S_ik(t) + 1{A_i = k} / pi_k(X_i) (1 - psi_i(t) - S_ik(t)),
# psi_i(t) the augmented IPCW risk of aipw_psi_pooled() / aipw_psi_cox().
aipw_person_survival <- function(fit, nu, k, rows) {
  S <- if (nu$kind == "cox") {
    exp(-outer(exp(nu$lp[rows, k]), nu$H0))
  } else {
    row_cumprod(1 - stats::plogis(outer(nu$lp[rows, k], nu$ctab[k, ], `+`)))
  }
  w <- nu$ip[rows, k]
  obs <- which(w > 0)
  if (!length(obs)) return(S)
  Sk <- S[obs, , drop = FALSE]
  psi <- if (nu$kind == "cox") {
    aipw_psi_cox(fit, nu, k, rows[obs], Sk)
  } else {
    aipw_psi_pooled(fit, nu, k, rows[obs], Sk)
  }
  S[obs, ] <- Sk + w[obs] * ((1 - psi) - Sk)
  S
}

# ---- pooled-logistic hazards on the period grid ------------------------------

# The event hazard (pooled logistic on the formula's terms and the
# treatment-by-period terms, weights avg) with every person's logit under
# each level, and the censoring hazard (pooled logistic on the treatment,
# the censoring covariates and the period terms): its logits, and each
# event's probability of having remained uncensored (for the positivity
# warning).
aipw_pooled_nuisance <- function(fit, avg) {
  pt <- fit$pt
  pd <- person_design(fit$hazard)
  hz <- pt_fit(pd$x, pt, avg, TRUE, fit$learner, NULL, pd$intercept, pd$offset)
  lp <- vapply(fit$levels, function(lev) {
    cd <- person_design(fit$hazard, level = lev)
    pt_person_lp(hz, cd$x, cd$offset)
  }, numeric(fit$n))
  nu <- list(kind = "pooled", lp = matrix(lp, fit$n), ctab = pt_period_table(hz, pt$f),
             hazard = hz, width = pt$n_periods, g_event = numeric(0))
  cpt <- censoring_person_time(pt)
  if (!any(cpt$status == 1L & avg > 0)) return(nu)
  cz <- pt_fit(fit$xc, cpt, avg, interact = FALSE, learner = fit$learner)
  nu$lc <- pt_person_lp(cz, fit$xc)
  nu$cc <- pt_period_table(cz, pt$f)[1L, ]
  nu$censoring <- cz
  events <- which(pt$status == 1L & avg > 0)
  nu$g_event <- unlist(lapply(row_chunks(length(events), pt$n_periods), function(r) {
    i <- events[r]
    aipw_uncensored_before(nu, i)[cbind(seq_along(i), pt$last[i])]
  }))
  nu
}

# G_i(s - 1): the probability of remaining uncensored through the periods
# before s, for the people i (|i| x T).
aipw_uncensored_before <- function(nu, i) {
  T <- length(nu$cc)
  G <- row_cumprod(1 - stats::plogis(outer(nu$lc[i], nu$cc, `+`)))
  cbind(1, G[, -T, drop = FALSE])
}

# The augmented IPCW risk of the people i of level k by each period t, from
# their curves S under k (|i| x T):
#   psi_i(t) = d_i 1{L_i <= t} / G_i(L_i - 1)
#              + sum_{s < t} (F_i(t) - F_i(s)) dM_i(s) / (S_i(s) G_i(s)),
# L_i the last period at risk and d_i the event; dM_i(s) = 1{censored at the
# end of s} - 1{at risk of censoring in s} c_i(s), at risk of censoring in
# every period at risk but the event's. With G(s) (not G(s - 1)) in the
# censoring term the estimator equals, person by person, the hazard form
# of the efficient influence function,
#   S_i(t) - sum_{s <= min(t, L_i)} S_i(t) / (S_i(s) G_i(s - 1)) (dN_i(s) - h_i(s)),
# which is what makes it doubly robust exactly in discrete time.
aipw_psi_pooled <- function(fit, nu, k, i, S) {
  pt <- fit$pt
  T <- pt$n_periods
  last <- pt$last[i]
  status <- pt$status[i]
  period <- col(S)
  ipcw <- status * (period >= last)
  if (is.null(nu$lc)) return(ipcw)
  c_hat <- stats::plogis(outer(nu$lc[i], nu$cc, `+`))
  G <- row_cumprod(1 - c_hat)
  G_before <- cbind(1, G[, -T, drop = FALSE])
  ipcw <- ipcw / G_before[cbind(seq_along(i), last)]
  censored <- period == last & status == 0L & last < T
  dM <- censored - (period <= last - status) * c_hat
  F <- 1 - S
  integrand <- dM / (S * G)
  integrand[!is.finite(integrand)] <- 0
  A <- cbind(0, row_cumsum(integrand)[, -T, drop = FALSE])
  B <- cbind(0, row_cumsum(F * integrand)[, -T, drop = FALSE])
  ipcw + F * A - B
}

# ---- Cox models in continuous time -------------------------------------------

# The event's Cox model (weights avg) with every person's linear predictor
# under each level and its baseline cumulative hazard at the grid times,
# and censoring's Cox model (on the treatment and the censoring
# covariates): its linear predictors, its baseline cumulative hazard at its
# jump times (the distinct censoring times), and each event's probability
# of having remained uncensored.
aipw_cox_nuisance <- function(fit, avg) {
  pd <- person_design(fit$hazard)
  hz <- cox_fit(pd$x, pd$offset, fit$time, fit$status, avg, fit$times)
  lp <- vapply(fit$levels, function(lev) {
    cd <- person_design(fit$hazard, level = lev)
    cox_lp(hz, cd$x, cd$offset)
  }, numeric(fit$n))
  nu <- list(kind = "cox", lp = matrix(lp, fit$n), H0 = hz$H0, base = hz$base, hazard = hz,
             width = length(fit$times), g_event = numeric(0))
  jumps <- sort(unique(fit$time[fit$status == 0L & avg > 0]))
  if (!length(jumps)) return(nu)
  cz <- cox_fit(fit$xc, NULL, fit$time, 1L - fit$status, avg, jumps)
  nu$lc <- cox_lp(cz, fit$xc)
  nu$jumps <- jumps
  nu$L0 <- cz$H0
  nu$censoring <- cz
  nu$width <- length(fit$times) + length(jumps)
  events <- fit$status == 1L & avg > 0
  nu$g_event <- aipw_cox_uncensored_before(nu, fit$time[events], nu$lc[events])
  nu
}

# G(t- | x) = exp(-Lambda_0(t-) e^lc) of censoring's Cox model, whose
# cumulative hazard steps at the censoring times.
aipw_cox_uncensored_before <- function(nu, t, lc) {
  exp(-c(0, nu$L0)[findInterval(t, nu$jumps, left.open = TRUE) + 1L] * exp(lc))
}

# The event model's baseline cumulative hazard at times u (or just before).
cox_base_at <- function(base, u, before = FALSE) {
  c(0, base$cumhaz)[findInterval(u, base$time, left.open = before) + 1L]
}

# The augmented IPCW risk of the people i of level k at each grid time
# tau, from their curves S under k (|i| x m), as riskRegression::ate()'s
# "AIPTW,AIPCW" defines it:
#   psi_i(tau) = d_i 1{T_i <= tau} / G_i(T_i-)
#     + sum_{u <= min(tau, T_i)} (F_i(tau) - F_i(u)) dM_i(u) / (S_i(u-) G_i(u-)),
# u the censoring times, dM_i(u) = 1{censored at u} - dLambda_i(u).
aipw_psi_cox <- function(fit, nu, k, i, S) {
  time <- fit$time[i]
  status <- fit$status[i]
  ipcw <- status * outer(time, fit$times, `<=`)
  if (is.null(nu$lc)) return(ipcw)
  rc <- exp(nu$lc[i])
  ipcw <- ipcw / aipw_cox_uncensored_before(nu, time, nu$lc[i])
  u <- nu$jumps
  r <- exp(nu$lp[i, k])
  S_before <- exp(-outer(r, cox_base_at(nu$base, u, before = TRUE)))
  F_at <- 1 - exp(-outer(r, cox_base_at(nu$base, u)))
  G_before <- exp(-outer(rc, c(0, nu$L0[-length(u)])))
  d_lambda <- outer(rc, diff(c(0, nu$L0)))
  at_risk <- outer(time, u, `>=`)
  censored <- outer(time, u, `==`) & status == 0L
  integrand <- at_risk * (censored - d_lambda) / (S_before * G_before)
  integrand[!is.finite(integrand)] <- 0
  upto <- findInterval(fit$times, u) + 1L
  A <- cbind(0, row_cumsum(integrand))[, upto, drop = FALSE]
  B <- cbind(0, row_cumsum(F_at * integrand))[, upto, drop = FALSE]
  ipcw + (1 - S) * A - B
}

# ---- influence functions ------------------------------------------------------

# The curves' efficient influence functions at the estimates,
# U_i(k, t) = v_i (s_ik(t) - S_k(t)) with v the normalized weights and s_ik
# the person's contribution (aipw_person_survival()), the nuisance models
# taken as known (no Phi or G): their estimation does not change the
# augmented estimator's asymptotic variance when they are correct. One pass
# per arm over the people gives the pointwise variances sum_i U_i^2.
with_aipw_influence <- function(fit) {
  nu <- fit$models$nuisance
  K <- length(fit$levels)
  m <- length(fit$times)
  ij_var <- matrix(0, K, m)
  for (k in seq_len(K)) {
    for (rows in row_chunks(fit$n, nu$width)) {
      D <- aipw_person_survival(fit, nu, k, rows) - rep(nu$curves[k, ], each = length(rows))
      ij_var[k, ] <- ij_var[k, ] + colSums((nu$v[rows] * D)^2)
    }
  }
  fit$influence <- structure(list(Phi = matrix(0, fit$n, 0L), G = matrix(0, K * m, 0L)),
                             class = "aipw_influence")
  se <- sqrt(ij_var)
  se[is.na(fit$survival)] <- NA_real_
  fit$std_error <- se
  fit
}

# U L for the functionals L (m x r) of the arms `arm`, for the people `rows`.
#' @export
influence_fixed.aipw_influence <- function(inf, fit, L, arm, rows) {
  nu <- fit$models$nuisance
  out <- matrix(0, length(rows), ncol(L))
  for (k in unique(arm)) {
    cols <- which(arm == k)
    at_mean <- colSums(L[, cols, drop = FALSE] * nu$curves[k, ])
    for (r in row_chunks(length(rows), nu$width)) {
      s <- aipw_person_survival(fit, nu, k, rows[r])
      out[r, cols] <- nu$v[rows[r]] * (s %*% L[, cols, drop = FALSE] -
                                         rep(at_mean, each = length(r)))
    }
  }
  out
}

# ---- the interface verbs --------------------------------------------------------

# Replicates refit all three models in R through refit(): the C survival
# bootstrap knows no augmentation.
#' @export
boot_description.causallib_survival_aipw <- function(fit, y = NULL) NULL

#' @export
model_label.causallib_survival_aipw <- function(fit) "augmented IPW (doubly robust) survival"

#' @export
se_label.causallib_survival_aipw <- function(x, estimate = FALSE) {
  if (x$se_type != "sandwich") return(interval_label(x, estimate))
  paste0("efficient influence function (nuisance models as known)",
         if (!estimate) ", intervals on the log-survival scale")
}

#' @export
coef_parts.causallib_survival_aipw <- function(object) {
  parts <- list(hazard = coef_part(object$models$hazard, "hazard"))
  if (!is.null(object$models$censoring)) {
    parts$censoring <- coef_part(object$models$censoring, "censoring hazard")
  }
  parts
}
