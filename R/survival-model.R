# The fitted survival models: what survival_ipw() and
# survival_standardization() share. A fit keeps its people (times, events,
# treatment, sampling weights), its designs, its weight model and its
# settings; survival_curves() computes the curves from them, so that refit()
# (bootstrap replicates, cross-validation folds) recomputes them the same way.
#
# method: "km" (weighted Kaplan-Meier at every distinct time), "grid_km"
# (Kaplan-Meier on the period grid with censoring weights),
# "grid_pooled_logistic" (an IP-weighted pooled-logistic model of the
# treatment), "pooled_logistic" and "cox" (standardized hazard models).

new_survival_fit <- function(setup, method, marginal, stratified, weight_model, learner,
                             grid, censoring_model, data, env) {
  fit <- list(
    method = method, marginal = marginal, stratified = stratified,
    time = setup$time, status = setup$status, treatment = setup$a, levels = levels(setup$a),
    sampling_weights = setup$sw, n = setup$n, treatment_name = setup$treatment_name,
    weight_model = weight_model, learner = learner, rows = setup$d$rows,
    na.action = setup$d$omitted, population_label = setup$d$design$population_label,
    time_unit = grid$time_unit,
    estimand = if (is.null(weight_model)) "ATE" else weight_model$estimand
  )
  if (!marginal) fit$hazard <- hazard_design(setup$d$design, stratified)
  if (method %in% c("km", "cox")) {
    fit$times <- if (method == "km") {
      sort(unique(setup$time))
    } else {
      sort(unique(c(setup$time[setup$status == 1L], max(setup$time))))
    }
  } else {
    fit$pt <- person_time(setup$time, setup$status, setup$a, grid)
    fit$pt$arm_name <- setup$treatment_name
    fit$times <- fit$pt$breaks[-1L]
    fit$breaks <- fit$pt$breaks
  }
  if (!is.null(censoring_model)) {
    fit$xc <- censoring_design(censoring_model, data[setup$d$rows, , drop = FALSE], setup$a, env)
  }
  class(fit) <- c("causal_survival", "causallib_survival", "causallib_model")
  fit
}

# The fit's curves and models, with its standard errors or bootstrap
# replicates.
finish_survival_fit <- function(fit, se, R, conf_level, call, n_data) {
  check_number(conf_level, "conf_level", min = 0.5, max = 0.9999)
  inner_cluster_error(fit)
  fit <- with_curves(fit)
  fit$call <- call
  fit$env <- NULL
  fit$n_data <- n_data
  fit$se_type <- se
  fit$conf_level <- conf_level
  if (se != "sandwich") fit[c("std_error", "cif_std_error")] <- list(NULL)
  if (se == "sandwich" && is.null(fit$causes)) fit <- with_influence(fit)
  if (se == "sandwich" && !is.null(fit$causes) && !is.null(fit$cluster)) {
    fit$cif_std_error <- clustered_cif_se(fit)
  }
  if (se == "bootstrap") {
    boot <- run_bootstrap(fit, NULL, R)
    fit$replicates <- array(boot$replicates,
                            c(nrow(boot$replicates), length(fit$levels), length(fit$times),
                              length(fit$causes)[!is.null(fit$causes)]))
    fit$failed <- boot$failed
  }
  fit
}

# The fit with its population weights (the weight model's target
# population, for standardization), curves, standard errors and models.
with_curves <- function(fit) {
  wm <- fit$weight_model
  ipw <- if (is.null(wm)) 1 else wm$weights
  if (!fit$marginal && !is.null(wm)) fit$population <- target_population(wm)
  avg <- sw_or_one(fit)
  res <- if (!is.null(fit$causes)) {
    competing_curves(fit, avg, ipw)
  } else if (inherits(fit, "causallib_survival_aipw")) {
    aipw_curves(fit, avg)
  } else switch(fit$method,
    km = km_fit_curves(fit, avg, ipw),
    grid_km = , grid_pooled_logistic = grid_curves(fit, avg, ipw),
    pooled_logistic = pooled_curves(fit, avg, ipw),
    cox = cox_curves(fit, avg, ipw))
  fit$curve_ends <- curve_ends(fit, avg)
  fit$survival <- res$survival
  fit$survival[fit$times[col(fit$survival)] > fit$curve_ends[row(fit$survival)]] <- NA_real_
  dimnames(fit$survival) <- list(fit$levels, NULL)
  fit$std_error <- res$std_error
  fit$models <- res$models
  fit$cif <- res$cif
  fit$cif_std_error <- res$cif_std_error
  fit$ipw <- rep_len(ipw, fit$n)
  fit
}

# The last time of each arm's curve: the end of its follow-up among the
# people of positive weight avg (their last time, or on a period grid the
# end of their last period). Beyond it no one of the arm is at risk, so a
# hazard model's curve would be an extrapolation of its time terms and a
# Kaplan-Meier curve is undefined: the curves stop there, and a bootstrap
# replicate's curve stops at the end of its own resample's arm
# (ffi_survival_bootstrap applies the same rule). A Cox model that is not
# stratified shares one baseline hazard between the arms, under
# proportional hazards: its curves all end with the whole follow-up. -Inf
# for an arm without such people.
curve_ends <- function(fit, avg) {
  keep <- avg > 0
  arm <- factor(as.integer(fit$treatment)[keep], seq_along(fit$levels))
  if (fit$method == "cox" && !fit$stratified) arm[] <- 1L
  ends <- if (is.null(fit$pt)) {
    fit$time[keep]
  } else {
    fit$pt$breaks[fit$pt$last[keep] + 1L]
  }
  ends <- vapply(split(ends, arm), function(e) if (length(e)) max(e) else -Inf, numeric(1))
  if (fit$method == "cox" && !fit$stratified) ends <- rep(ends[[1L]], length(fit$levels))
  stats::setNames(ends, fit$levels)
}

# The people `rows` of the fit, with sampling weights times case weights,
# and its weight model refitted on the same people: the curves recomputed.
#' @export
refit.causallib_survival <- function(fit, case_weights = NULL, rows = NULL, learner = NULL) {
  if (!is.null(learner)) cli::cli_abort("Refit a survival model with another learner through its call.")
  u <- refit_units(fit, case_weights, rows)
  r <- u$rows
  out <- fit
  for (f in c("time", "status", "treatment")) out[[f]] <- fit[[f]][r]
  out$sampling_weights <- u$weights
  out$n <- length(r)
  out$rows <- fit$rows[r]
  if (!is.null(fit$weight_model)) {
    out$weight_model <- refit(fit$weight_model, case_weights = case_weights, rows = rows)
  }
  if (!is.null(fit$hazard)) out$hazard <- design_rows(fit$hazard, r)
  if (!is.null(fit$pt)) {
    out$pt <- subset_person_time(fit$pt, r)
  }
  if (!is.null(fit$xc)) out$xc <- fit$xc[r, , drop = FALSE]
  out$cluster <- cluster_rows(fit$cluster, r)
  out[c("replicates", "std_error", "failed", "influence", "curve_ends")] <- list(NULL)
  with_curves(out)
}

# The C bootstrap (ffi_survival_bootstrap) refits the weight model (ipw()
# with lrn_glm()), the censoring models and the hazard model of the
# built-in methods in each replicate and recomputes the curves, as
# with_curves() does; Cox models and weight models it cannot refit
# (matching(), other learners) refit in R.
#' @export
boot_description.causallib_survival <- function(fit, y = NULL) {
  wm <- fit$weight_model
  wspec <- ipw_boot_spec(wm, "weight_model$")
  if (fit$method == "cox" || (!is.null(wm) && is.null(wspec))) return(NULL)
  check_survival_fields(fit)
  list(routine = C_ffi_survival_bootstrap, args = list(
    method = match(fit$method, survival_boot_methods) - 1L, a = as.integer(fit$treatment),
    K = length(fit$levels), sw = sw_or_one(fit), counts = NULL, weight_model = wspec,
    population = !fit$marginal && !is.null(wm),
    km = if (fit$method == "km") list(time = fit$time, status = fit$status, times = fit$times),
    grid = if (!is.null(fit$pt)) list(last = fit$pt$last, status = fit$pt$status, F = fit$pt$f),
    censoring = if (!is.null(fit$xc)) censoring_boot_spec(fit$xc, fit$pt, fit$learner),
    hazard = hazard_boot_spec(fit), nthreads = NULL))
}

survival_boot_methods <- c("km", "grid_km", "grid_pooled_logistic", "pooled_logistic")

# The hazard model of a fit as the C bootstrap refits it, with the person
# designs (and offsets) of the levels its curves average over: every
# person's under each level (standardization, unless stratified), or the
# level's indicators alone (IP-weighted pooled logistic). NULL without one.
hazard_boot_spec <- function(fit) {
  K <- length(fit$levels)
  if (fit$method == "grid_pooled_logistic") {
    levels_x <- diag(1, K)[, -1L, drop = FALSE]
    return(list(
      model = pt_boot_model(treatment_dummies(fit$treatment), TRUE, NULL, fit$learner, fit$pt$f, K),
      stratified = FALSE, designs = lapply(seq_len(K), function(k) levels_x[k, , drop = FALSE]),
      offsets = NULL))
  }
  if (fit$method != "pooled_logistic") return(NULL)
  pd <- person_design(fit$hazard)
  cf <- if (!fit$stratified) lapply(fit$levels, function(lev) person_design(fit$hazard, level = lev))
  list(model = pt_boot_model(pd$x, pd$intercept, pd$offset, fit$learner, fit$pt$f,
                             if (fit$stratified) 1L else K),
       stratified = fit$stratified, designs = lapply(cf, `[[`, "x"),
       offsets = if (!is.null(cf)) lapply(cf, `[[`, "offset"))
}

# The curves, K arms by m times, as one vector (column-major).
#' @export
means.causallib_survival <- function(fit, y = NULL) as.vector(fit$survival)

#' @export
default_se.causallib_survival <- function(fit) fit$se_type

#' @export
model_label.causallib_survival <- function(fit) paste(fit$estimator, "survival")

#' @export
evaluation_type.causallib_survival <- function(fit) "survival"

# IP-weighted fits are compared with IP-weighted Kaplan-Meier curves, the
# weights of the units `rows` from the (refitted) model's weight model.
#' @export
evaluation_predictions.causallib_survival <- function(fit, model, rows) {
  weight <- if (fit$marginal && !is.null(fit$weight_model)) {
    evaluation_predictions(fit$weight_model, model$weight_model, rows)$weight
  } else {
    1
  }
  data.frame(treatment = fit$treatment[rows], sw = sw_or_one(fit)[rows], weight = weight)
}

#' @export
statistic_kind.causallib_survival <- function(fit) "curves"

# The model's curve of each arm for the people `rows` (weights w), and their
# Kaplan-Meier curves.
evaluation_curves <- function(fit, model, rows, w) {
  curves <- switch(fit$method,
    pooled_logistic = pooled_arm_curves(fit, model, rows, w),
    cox = cox_arm_curves(fit, model, rows, w),
    model$survival)
  list(model = curves,
       km = km_curves(fit$time[rows], fit$status[rows], w[rows], fit$treatment[rows],
                      fit$times)$survival)
}
