# Potential-outcome means of the doubly robust estimators, their influence
# functions and their bootstrap.

# Nuisance predictions: propensities P and outcome predictions Q (n x K),
# in-sample from the method's outcome part (dr_outcome_model()) or out of
# fold.
dr_nuisance <- function(fit, om, wm, folds) {
  if (is.null(folds)) {
    return(list(P = wm$propensity, Q = fit$outcome_part$potential_outcomes))
  }
  K <- length(fit$levels)
  P <- Q <- matrix(NA_real_, fit$n, K, dimnames = list(NULL, fit$levels))
  for (k in sort(unique(folds))) {
    valid <- which(folds == k)
    train <- which(folds != k)
    wk <- refit(wm, rows = train)
    P[valid, ] <- learner_predict(wk$learner_fit, wm$x[valid, , drop = FALSE], wm$offset[valid])
    Q[valid, ] <- std_potential_outcomes(refit(om, rows = train),
                                         om$design$vars[valid, , drop = FALSE])
  }
  list(P = P, Q = Q)
}

# The outcome model a method standardizes: the outcome model as fitted
# (aipw, tmle), refitted with the weight model's IP weights (times any
# sampling weights), or refitted with the propensity as a feature.
# The standardization variants average over the weight model's target
# population, so that they estimate its estimand.
dr_outcome_model <- function(method, om, wm, feature) {
  switch(method,
    weighted_standardization = reweighted_outcome_model(om, wm$weights, target_population(wm)),
    ps_standardization = ps_feature_model(om, wm$propensity, feature, target_population(wm)),
    om)
}

# Potential outcomes (n x K) of that model for the units of `frame`, whose
# propensities P only a propensity-feature model needs. (Its own units'
# are its potential_outcomes.)
dr_outcome_predict <- function(model, data, P) {
  if (is.null(model$ps_feature)) std_potential_outcomes(model, data) else ps_feature_predict(model, data, P)
}

# The outcome model refitted with prior weights w (times its sampling
# weights), averaged over the population weights `population`.
reweighted_outcome_model <- function(om, w, population) {
  om$prior_weights <- rep_len(as.double(w), om$n)
  om$population <- population
  om$learner_fit <- fit_outcome_learners(om)
  om$potential_outcomes <- std_potential_outcomes(om)
  om
}

# The propensity features of units with propensities P for the treatment
# levels `level`: the logit or value of the propensity of each non-reference
# level, or the IP weight 1 / P(level).
ps_features <- function(P, feature, level) {
  switch(feature,
    logit = stats::qlogis(P[, -1L, drop = FALSE]),
    propensity = P[, -1L, drop = FALSE],
    weights = matrix(1 / P[cbind(seq_len(nrow(P)), level)]))
}

# The outcome model refitted with the propensity features of its units,
# averaged over the population weights `population`.
ps_feature_model <- function(om, P, feature, population) {
  m <- om
  m$ps_feature <- feature
  m$population <- population
  m$x <- cbind(as.matrix(om$x), ps_features(P, feature, as.integer(om$treatment)))
  m$learner_fit <- fit_outcome_learners(m)
  m$potential_outcomes <- ps_feature_predict(m, m$design$vars, P)
  m
}

# Its potential outcomes for the units of raw variables `data`, with
# propensities P: each level's design carries the features of that level.
ps_feature_predict <- function(m, data, P) {
  designs <- std_designs(m, data)
  n <- nrow(designs[[1L]]$x)
  out <- vapply(seq_along(m$levels), function(k) {
    dk <- designs[[if (m$stratified) 1L else k]]
    x <- cbind(dk$x, ps_features(P, m$ps_feature, rep(k, n)))
    lf <- if (m$stratified) m$learner_fit[[k]] else m$learner_fit
    learner_predict(lf, x, dk$offset)
  }, numeric(n))
  matrix(out, n, dimnames = list(NULL, m$levels))
}

# The weight every unit would have under each level (n x K), from the
# propensities P as the weight model weights the level received: 1 / e_k
# for the ATE, e_t / e_k for the ATT and ATC (t the target level), the
# propensities clipped and the weights capped as the weight model clips and
# truncates.
dr_weight_matrix <- function(P, wm) {
  clip <- wm$options$clip %||% c(0, 1)
  Pc <- pmin(pmax(P, clip[1L]), clip[2L])
  W <- 1 / Pc
  if (wm$estimand %in% c("ATT", "ATC")) W <- W * Pc[, wm$target]
  if (!is.na(wm$cap)) W <- pmin(W, wm$cap)
  W
}

# The population the means average over, as a weight per unit: 1 for
# everyone (ATE), the indicator of the target level (ATT, ATC).
dr_population <- function(fit) {
  if (fit$estimand %in% c("ATT", "ATC")) as.double(as.integer(fit$treatment) == fit$target) else 1
}

# Means mu (K) and influence functions phi (n x K) of AIPW and TMLE from
# their nuisances, with unit weights sw (sampling weights times case
# weights), over the population `pop` (a weight per unit, or 1): each mean
# solves sum sw (terms - pop mu) = 0, and phi = terms - pop mu.
dr_means <- function(method, Q, W, y, a, sw, pop = 1) {
  if (method == "tmle") return(tmle_means(Q, W, y, a, sw, pop))
  terms <- pop * Q + arm_spread(1, a) * W * (y - Q)
  mu <- colSums(sw * terms) / sum(sw * pop)
  list(mu = mu, phi = terms - outer(rep_len(pop, length(y)), mu))
}

# TMLE: one logistic fluctuation per level along the clever covariate
# 1{A = a} W_a (1 / e_a(X) for the ATE), on the outcome scaled to [0, 1] by
# the range of the units that count (those with positive weight: a
# bootstrap resample's own range); the updated predictions are averaged
# over the population `pop`.
tmle_means <- function(Q, W, y, a, sw, pop = 1) {
  counted <- y[rep_len(sw, length(y)) > 0]
  lo <- min(0, counted)
  hi <- max(1, counted)
  ys <- (y - lo) / (hi - lo)
  bound <- 1e-6
  Qs <- pmin(pmax((Q - lo) / (hi - lo), bound), 1 - bound)
  A <- arm_spread(1, a)
  Qstar <- vapply(seq_len(ncol(Q)), function(k) {
    i <- which(A[, k] == 1 & sw > 0)
    eps <- fluctuation(ys[i], stats::qlogis(Qs[i, k]), W[i, k], sw[i])
    stats::plogis(stats::qlogis(Qs[, k]) + eps * W[, k])
  }, numeric(length(y)))
  Qstar <- matrix(Qstar, length(y))
  pop <- rep_len(pop, length(y))
  terms <- pop * Qstar + A * W * (ys - Qstar)
  mass <- sum(sw * pop)
  mu <- colSums(sw * pop * Qstar) / mass
  phi <- terms - outer(pop, colSums(sw * terms) / mass)
  list(mu = lo + (hi - lo) * mu, phi = (hi - lo) * phi)
}

# The fluctuation coefficient: logistic regression of y on the clever
# covariate h with offset, no intercept, prior weights w (C engine).
fluctuation <- function(y, offset, h, w) {
  res <- .Call(C_ffi_glm_fit, matrix(h), FALSE, y, as.double(w), offset,
               glm_family_codes[["binomial"]], 50L, 1e-10, 0, causallib_threads())
  if (isTRUE(res$failed) || !isTRUE(res$converged)) {
    cli::cli_abort("The TMLE fluctuation did not converge; check the propensities for positivity problems.")
  }
  res$coefficients[[1L]]
}

#' @export
means.causallib_dr <- function(fit, y = NULL) {
  if (fit$method %in% c("aipw", "tmle")) {
    est <- dr_means(fit$method, fit$nuisance$Q, dr_weight_matrix(fit$nuisance$P, fit$weight_model),
                    fit$y, fit$treatment, sw_or_one(fit), dr_population(fit))
    return(stats::setNames(est$mu, fit$levels))
  }
  means(fit$outcome_part)
}

# AIPW and TMLE: the influence functions, as estimating functions of the
# means alone (the nuisance models' contributions vanish when both are
# correct): for the ATT and ATC those of a mean over the target level's
# units, whose derivative in the means is minus their (weighted) number.
#' @export
estfun_parts.causallib_dr <- function(fit, y = NULL) {
  if (!fit$method %in% c("aipw", "tmle")) return(NextMethod())
  sw <- sw_or_one(fit)
  pop <- dr_population(fit)
  est <- dr_means(fit$method, fit$nuisance$Q, dr_weight_matrix(fit$nuisance$P, fit$weight_model),
                  fit$y, fit$treatment, sw, pop)
  list(Psi = sw * est$phi, D_mm = diag(-sum(sw * pop), length(fit$levels)))
}

#' @export
default_se.causallib_dr <- function(fit) {
  if (fit$method %in% c("aipw", "tmle")) "sandwich" else "bootstrap"
}

#' @export
check_se_available.causallib_dr <- function(fit, se) {
  if (se == "bootstrap" && !is.null(fit$folds)) {
    cli::cli_abort(c(
      "Cross-fitted models use influence-function (sandwich) intervals.",
      i = "The bootstrap would have to redraw and refit every fold; use {.code se = \"sandwich\"}."
    ))
  }
  if (se == "sandwich" && !fit$method %in% c("aipw", "tmle")) {
    cli::cli_abort(c(
      "Sandwich standard errors are not available for {model_label(fit)}: its outcome model is fitted with estimated weights or features.",
      i = "Use {.code se = \"bootstrap\"}."
    ))
  }
  invisible(se)
}

# Both models refitted on the same units and case weights, then combined as
# the fit combines them: each refit is its own class's (matching is redone
# as matching).
#' @export
refit.causallib_dr <- function(fit, case_weights = NULL, rows = NULL, learner = NULL) {
  if (!is.null(learner)) {
    cli::cli_abort("A doubly robust model has two learners: refit its outcome and weight models instead.")
  }
  if (!is.null(fit$folds) && !is.null(case_weights)) {
    cli::cli_abort("A cross-fitted model cannot be refitted with case weights.")
  }
  om <- refit(fit$outcome_model, case_weights = case_weights, rows = rows)
  wm <- refit(fit$weight_model, case_weights = case_weights, rows = rows)
  folds <- if (!is.null(fit$folds)) crossfit_folds(fit$crossfit, om$n)
  new_dr(om, wm, fit$method, folds, fit$feature, fit$call)
}

# AIPW of the ATE with built-in learners refits both models in C (the C
# replicate averages over everyone); other estimands refit in R.
#' @export
boot_description.causallib_dr <- function(fit, y = NULL) {
  om <- fit$outcome_model
  wm <- fit$weight_model
  check_unit_fields(fit)
  check_outcome_model_fields(om, "outcome_model$")
  lfs <- c(list(wm$learner_fit), if (om$stratified) om$learner_fit else list(om$learner_fit))
  if (fit$method != "aipw" || fit$estimand != "ATE" ||
      !all(vapply(lfs, inherits, logical(1), what = "causallib_glm_fit"))) {
    return(NULL)
  }
  check_weight_model_fields(wm, "weight_model$")
  glm_spec <- function(lrn, x, intercept) {
    list(glm_family_codes[[lrn$family]], lrn$maxit, lrn$epsilon, glm_penalty(lrn, x, intercept))
  }
  wspec <- glm_spec(wm$learner, wm$x, wm$intercept)
  wspec[[1L]] <- glm_family_codes[["binomial"]]
  o <- wm$options
  cf <- if (!om$stratified) std_designs(om)
  list(routine = C_ffi_aipw_bootstrap, args = list(
    Xw = wm$x, intercept_w = wm$intercept, offset_w = wm$offset, a = as.integer(wm$treatment),
    K = length(fit$levels), sw = as.double(sw_or_one(fit)), counts = NULL, target = wm$target,
    clip = o$clip, truncate = if (is.null(o$truncate)) NA_real_ else as.double(o$truncate),
    wspec = wspec, Xo = om$x, offset_o = om$offset, yo = om$y, stratified = om$stratified,
    Xcf = lapply(cf, `[[`, "x"), offsets_cf = if (!is.null(cf)) lapply(cf, `[[`, "offset"),
    ospec = glm_spec(om$learner, om$x, FALSE), nthreads = NULL))
}

#' @export
model_label.causallib_dr <- function(fit) {
  switch(fit$method, aipw = "augmented inverse probability weighting",
         tmle = "targeted maximum likelihood",
         weighted_standardization = "IP-weighted standardization",
         ps_standardization = paste0("standardization with the propensity (", fit$feature,
                                     ") as a feature"))
}
