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
    wk <- refit_weight_model(wm, train)
    P[valid, ] <- learner_predict(wk$learner_fit, wm$x[valid, , drop = FALSE])
    Q[valid, ] <- std_predict(refit_outcome_model(om, train), om$frame[valid, , drop = FALSE])
  }
  list(P = P, Q = Q)
}

# The outcome model a method standardizes: the outcome model as fitted
# (aipw, tmle), refitted with the weight model's IP weights (times any
# sampling weights), or refitted with the propensity as a feature.
dr_outcome_model <- function(method, om, wm, feature) {
  switch(method,
    weighted_standardization = reweighted_outcome_model(om, (om$sampling_weights %||% 1) * wm$weights),
    ps_standardization = ps_feature_model(om, wm$propensity, feature),
    om)
}

# Potential outcomes (n x K) of that model for the units of `frame`, whose
# propensities P only a propensity-feature model needs. (Its own units'
# are its potential_outcomes.)
dr_outcome_predict <- function(model, frame, P) {
  if (is.null(model$ps_feature)) std_predict(model, frame) else ps_feature_predict(model, frame, P)
}

# The outcome model refitted with prior weights w, with its units' new
# potential outcomes.
reweighted_outcome_model <- function(om, w) {
  om$sampling_weights <- rep_len(as.double(w), om$n)
  om$learner_fit <- fit_outcome_learners(om)
  om$potential_outcomes <- std_predict(om, om$frame)
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

# The outcome model refitted with the propensity features of its units.
ps_feature_model <- function(om, P, feature) {
  m <- om
  m$ps_feature <- feature
  m$x <- cbind(om$x, ps_features(P, feature, as.integer(om$treatment)))
  m$learner_fit <- fit_outcome_learners(m)
  m$potential_outcomes <- ps_feature_predict(m, m$frame, P)
  m
}

# Its potential outcomes for the units of `frame`, with propensities P: each
# level's design carries the features of that level.
ps_feature_predict <- function(m, frame, P) {
  n <- nrow(frame)
  designs <- if (m$stratified) {
    base <- design_matrix(m$terms, frame, m$contrasts)
    lapply(seq_along(m$levels), function(k) cbind(base, ps_features(P, m$ps_feature, rep(k, n))))
  } else {
    cf <- counterfactual_designs(m, frame)
    lapply(seq_along(cf), function(k) cbind(cf[[k]], ps_features(P, m$ps_feature, rep(k, n))))
  }
  out <- vapply(seq_along(designs), function(k) {
    lf <- if (m$stratified) m$learner_fit[[k]] else m$learner_fit
    learner_predict(lf, designs[[k]])
  }, numeric(n))
  matrix(out, n, dimnames = list(NULL, m$levels))
}

# 1 / propensity of every level, clipped and capped as the weight model
# clips and truncates its weights.
inverse_propensity <- function(P, wm) {
  Pc <- pmin(pmax(P, wm$clip[1L]), wm$clip[2L])
  W <- 1 / Pc
  if (!is.na(wm$cap)) W <- pmin(W, wm$cap)
  W
}

# Means mu (K) and influence functions phi (n x K) of a method from its
# nuisances, with unit weights sw (sampling weights times bootstrap counts).
dr_means <- function(method, Q, W, y, a, sw) {
  if (method == "tmle") return(tmle_means(Q, W, y, a, sw))
  terms <- if (method == "aipw") {
    Q + arm_spread(1, a) * W * (y - Q)
  } else {
    Q
  }
  mu <- colSums(sw * terms) / sum(sw)
  list(mu = mu, phi = sweep(terms, 2L, mu))
}

# TMLE: one logistic fluctuation per level along 1{A = a} / e_a(X), on the
# outcome scaled to [0, 1].
tmle_means <- function(Q, W, y, a, sw) {
  lo <- min(0, y)
  hi <- max(1, y)
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
  terms <- Qstar + A * W * (ys - Qstar)
  mu <- colSums(sw * Qstar) / sum(sw)
  phi <- sweep(terms, 2L, colSums(sw * terms) / sum(sw))
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

#' @rdname estimate_outcomes
#' @export
estimate_outcomes.causallib_dr <- function(fit, outcome = NULL, se = NULL, R = 1000,
                                           conf_level = 0.95, ...) {
  se <- dr_se_type(fit, se)
  sw <- fit$sampling_weights %||% rep(1, fit$n)
  W <- inverse_propensity(fit$nuisance$P, fit$weight_model)
  est <- dr_means(fit$method, fit$nuisance$Q, W, fit$y, fit$treatment, sw)
  mu <- stats::setNames(est$mu, fit$levels)
  V <- reps <- NULL
  if (se == "influence") {
    V <- crossprod(sw * est$phi) / sum(sw)^2
    dimnames(V) <- list(fit$levels, fit$levels)
  }
  if (se == "bootstrap") reps <- dr_bootstrap(fit, R)
  out <- new_causal_estimate(mu, V, reps, se, conf_level, fit)
  out$fit_info$estimator <- paste0("causallib_dr (", fit$method, ")")
  out
}

#' @rdname estimate_outcomes
#' @export
estimate_effect.causallib_dr <- function(fit, outcome = NULL, contrast = "diff",
                                         reference = NULL, se = NULL, R = 1000,
                                         conf_level = 0.95, ...) {
  contrast <- rlang::arg_match0(contrast, names(contrast_funs), "contrast")
  outcomes <- estimate_outcomes(fit, se = se, R = R, conf_level = conf_level)
  contrast_outcomes(outcomes, contrast, reference)
}

# "sandwich" is the influence-function variance for aipw and tmle; the
# standardization variants have the bootstrap.
dr_se_type <- function(fit, se) {
  influence_ok <- fit$method %in% c("aipw", "tmle")
  se <- se %||% if (influence_ok) "influence" else "bootstrap"
  se <- rlang::arg_match0(se, c("influence", "sandwich", "bootstrap", "none"), "se")
  if (se == "sandwich") se <- "influence"
  if (se == "influence" && !influence_ok) {
    cli::cli_abort("Influence-function (sandwich) standard errors are not available for {.fn {fit$method}}; use {.code se = \"bootstrap\"}.")
  }
  if (se == "bootstrap" && !is.null(fit$crossfit)) {
    cli::cli_abort("Cross-fitted models use influence-function intervals; the bootstrap would have to refit every fold.")
  }
  se
}

# Bootstrap: both nuisance models refitted on every resample (in C for
# AIPW with built-in learners).
dr_bootstrap <- function(fit, R) {
  om <- fit$outcome_model
  wm <- fit$weight_model
  sw <- fit$sampling_weights %||% rep(1, fit$n)
  lfs <- c(list(wm$learner_fit), if (om$stratified) om$learner_fit else list(om$learner_fit))
  if (fit$method == "aipw" && all(vapply(lfs, inherits, logical(1), what = "causallib_glm_fit"))) {
    return(aipw_bootstrap_c(fit, om, wm, sw, R))
  }
  reps <- run_bootstrap(fit$n, R, function(counts) {
    t(apply(counts, 2L, function(cnt) {
      tryCatch(suppressWarnings(dr_replicate(fit, om, wm, sw * cnt)),
               error = function(e) rep(NA_real_, length(fit$levels)))
    }))
  })
  colnames(reps) <- fit$levels
  reps
}

dr_replicate <- function(fit, om, wm, w) {
  wr <- ipw_engine(wm$x, wm$treatment, wm$estimand, wm$stabilize, wm$clip, wm$truncate,
                   wm$learner, w, wm$levels[wm$target], intercept = wm$intercept)
  part <- dr_outcome_model(fit$method, reweighted_outcome_model(om, w), wr, fit$feature)
  Q <- part$potential_outcomes
  dr_means(fit$method, Q, inverse_propensity(wr$propensity, wr), fit$y, fit$treatment, w)$mu
}

aipw_bootstrap_c <- function(fit, om, wm, sw, R) {
  glm_spec <- function(lrn, x, intercept) {
    list(glm_family_codes[[lrn$family]], lrn$maxit, lrn$epsilon, glm_penalty(lrn, x, intercept))
  }
  wspec <- glm_spec(wm$learner, wm$x, wm$intercept)
  wspec[[1L]] <- glm_family_codes[["binomial"]]
  ospec <- glm_spec(om$learner, om$x, FALSE)
  Xcf <- if (om$stratified) NULL else counterfactual_designs(om, om$frame)
  reps <- run_bootstrap(fit$n, R, function(counts) {
    .Call(C_ffi_aipw_bootstrap, wm$x, wm$intercept, as.integer(wm$treatment),
          length(fit$levels), as.double(sw), counts, wm$target, wm$clip,
          if (is.null(wm$truncate)) NA_real_ else as.double(wm$truncate), wspec,
          om$x, om$y, om$stratified, Xcf, ospec, causallib_threads())
  })
  colnames(reps) <- fit$levels
  reps
}
