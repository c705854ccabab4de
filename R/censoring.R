# Inverse probability of censoring weights over person-time.
#
# Censoring before the end of the period grid may depend on covariates.
# A pooled-logistic model of the censoring hazard, on the treatment, the
# covariates of `censoring_model` and the period terms, gives each person
# the probability of remaining uncensored through each period; a second
# model on the treatment and the period terms alone gives the stabilizing
# numerator.  A person-period row then weighs
#   prod_{s < t} (1 - h_num(s)) / (1 - h_cens(s)),
# computed on the fly by the C core from the two models' logit tables.

# Design of the censoring model for the rows of `data` a survival model
# uses: treatment dummies, then the covariates of the one-sided formula
# `censoring_model` (without an intercept: the hazard fitter adds its own).
censoring_design <- function(censoring_model, data, a, env) {
  if (is.matrix(censoring_model)) {
    return(cbind(treatment_dummies(a), check_matrix(censoring_model, length(a), "censoring_model")))
  }
  d <- new_design(censoring_model, data, env = env, arg = "censoring_model", sides = 1L)
  x <- d$x[, colnames(d$x) != "(Intercept)", drop = FALSE]
  if (!is.null(d$offset)) {
    cli::cli_abort("{.arg censoring_model} does not take {.code offset()} terms.")
  }
  cbind(treatment_dummies(a), x)
}

# n x (K - 1) indicators of the non-reference treatment levels.
treatment_dummies <- function(a) {
  d <- arm_spread(1, a)[, -1L, drop = FALSE]
  colnames(d) <- paste0("treatment", levels(a)[-1L])
  d
}

# The person-time description of censoring: the periods at risk of being
# censored (the event period excluded) and censoring before the grid's end.
censoring_person_time <- function(pt) {
  cens_status <- as.integer(pt$status == 0L & pt$last < pt$n_periods)
  list(last = pt$last - pt$status, status = cens_status, arm = pt$arm,
       f = pt$f, n_periods = pt$n_periods)
}

# The censoring models fitted on the person-time pt with weights w: the
# denominator (the censoring design xc) and the stabilizing numerator (the
# treatment alone). NULL when no one is censored before the end of the grid.
censoring_models <- function(xc, pt, w, learner) {
  cpt <- censoring_person_time(pt)
  if (!any(cpt$status == 1L & w > 0)) return(NULL)
  list(denominator = pt_fit(xc, cpt, w, interact = FALSE, learner = learner),
       numerator = pt_fit(treatment_dummies(pt$arm), cpt, w, interact = FALSE, learner = learner))
}

# The `cens` argument of the C fitter: person parts and (one-row) period
# tables of the censoring and numerator models' logits (NULL without
# censoring models).
censoring_weights_spec <- function(models, xc, pt) {
  if (is.null(models)) return(NULL)
  list(lc = pt_person_lp(models$denominator, xc), cc = pt_period_table(models$denominator, pt$f),
       ln = pt_person_lp(models$numerator, treatment_dummies(pt$arm)),
       cn = pt_period_table(models$numerator, pt$f))
}

# The censoring models of censoring_models() as the C survival
# bootstrap refits them, with the censoring person-time.
censoring_boot_spec <- function(xc, pt, learner) {
  cpt <- censoring_person_time(pt)
  list(denominator = pt_boot_model(xc, TRUE, NULL, learner, pt$f, 1L),
       numerator = pt_boot_model(treatment_dummies(pt$arm), TRUE, NULL, learner, pt$f, 1L),
       last = cpt$last, status = cpt$status)
}

# The spec for a fit on persons `keep` (NULL: all) with K arms: the C core
# looks the period tables up by arm, so they get K identical rows.
censoring_for_fit <- function(cens, K, keep = NULL) {
  if (is.null(cens)) return(NULL)
  if (!is.null(keep)) {
    cens$lc <- cens$lc[keep]
    cens$ln <- cens$ln[keep]
  }
  cens$cc <- cens$cc[rep(1L, K), , drop = FALSE]
  cens$cn <- cens$cn[rep(1L, K), , drop = FALSE]
  cens
}
