#' Doubly robust estimators
#'
#' Estimators that combine a fitted outcome model ([standardization()]) and
#' a fitted weight model ([ipw()]) of the same people:
#' * `aipw()`: augmented inverse probability weighting,
#'   \eqn{\hat\mu_a = n^{-1} \sum_i [\hat m_a(X_i) + 1\{A_i = a\}
#'   (Y_i - \hat m_a(X_i)) / \hat e_a(X_i)]}; consistent when either model
#'   is correct.
#' * `tmle()`: targeted maximum likelihood: the outcome model's predictions
#'   are updated by a logistic fluctuation along the clever covariate
#'   \eqn{1\{A = a\} / \hat e_a(X)}, one per treatment level, and then
#'   averaged. Continuous outcomes are first scaled to \[0, 1\] by their
#'   observed range (and the result scaled back).
#' * `weighted_standardization()`: the outcome model refitted with the
#'   weight model's IP weights (times any sampling weights), then
#'   standardized.
#' * `ps_standardization()`: the outcome model refitted with the propensity
#'   score as an extra feature (its logit, the score itself, or the IP
#'   weight of the level predicted for), then standardized.
#'
#' `aipw()` and `tmle()` estimate the weight model's estimand: the ATE, or
#' the ATT or ATC (the effect in the `treated` level's or the controls'
#' population). For those, with \eqn{t} the target level and
#' \eqn{w_a = \hat e_t(X) / \hat e_a(X)} the weight model's weights,
#' \eqn{\hat\mu_a = \sum_i [1\{A_i = t\} \hat m_a(X_i) + 1\{A_i = a\}
#' w_a(X_i) (Y_i - \hat m_a(X_i))] / \sum_i 1\{A_i = t\}} (for TMLE the
#' fluctuation's clever covariate is \eqn{1\{A = a\} w_a(X)}). Both give
#' influence-function standard errors (`se = "sandwich"`, the default: the
#' estimating equations of a mean over the target population), which
#' account for estimating both nuisance models when both are correct (for
#' the ATT and ATC they are then somewhat conservative: a parametric
#' propensity model carries information the nonparametric influence
#' function does not use; with extreme weights or a doubtful model prefer
#' the bootstrap); all
#' four give bootstrap intervals (`se = "bootstrap"`, refitting both models
#' in each replicate; the default for the two standardization variants).
#' With `crossfit = K`, `aipw()` and `tmle()` predict each unit's nuisances
#' from models fitted on the other folds (double/debiased machine learning,
#' Chernozhukov et al. 2018), which keeps the influence-function intervals
#' valid for flexible learners; folds come from R's RNG, so [set.seed()]
#' reproduces them.
#'
#' The formula form fits both models first: `aipw(outcome ~ treatment +
#' covariates, weight_model = treatment ~ covariates, data = , treatment =
#' )`.
#'
#' @param outcome_model A fitted [standardization()] model, or a formula
#'   `outcome ~ treatment + covariates`.
#' @param weight_model A fitted weight model of the same people: an [ipw()]
#'   model (with `estimand = "ATE"` for `aipw()` and `tmle()`), or for
#'   `weighted_standardization()` and `ps_standardization()` also a
#'   [matching()] model; or a formula `treatment ~ covariates` for an
#'   [ipw()] model; or a `weightit` or `matchit` object (see
#'   [as_weight_model()]: its weights are held fixed).
#' @param data,treatment,weights,na_action For the formula form: the data,
#'   the treatment variable, sampling weights and the handling of missing
#'   values, for both models (see [standardization()]).
#' @param crossfit `NULL` or the number of cross-fitting folds.
#' @param estimand,treated For the formula form: the estimand (`"ATE"`,
#'   `"ATT"` or `"ATC"`) and treated level of both models (see [ipw()]).
#'   Fitted models bring their own: a doubly robust model estimates its
#'   weight model's estimand.
#' @param outcome_learner,propensity_learner For the formula form: the
#'   learners of the outcome and weight models.
#' @param feature For `ps_standardization()`: `"logit"`, `"propensity"` or
#'   `"weights"`.
#' @return A `causallib_dr` model for [estimate_outcomes()] and
#'   [estimate_effect()].
#' @references
#' Robins JM, Rotnitzky A, Zhao LP (1994). Estimation of regression
#' coefficients when some regressors are not always observed. *JASA* 89,
#' 846-866.
#'
#' van der Laan MJ, Rubin D (2006). Targeted maximum likelihood learning.
#' *The International Journal of Biostatistics* 2(1).
#'
#' Chernozhukov V et al. (2018). Double/debiased machine learning for
#' treatment and structural parameters. *The Econometrics Journal* 21,
#' C1-C68.
#' @export
#' @examples
#' d <- nhefs[!is.na(nhefs$wt82_71), ]
#' om <- standardization(wt82_71 ~ qsmk + sex + race + age + I(age^2) + education +
#'                         smokeintensity + smokeyrs + exercise + active + wt71,
#'                       data = d, treatment = qsmk)
#' wm <- ipw(qsmk ~ sex + race + age + I(age^2) + education + smokeintensity +
#'             smokeyrs + exercise + active + wt71, data = d)
#' estimate_effect(aipw(om, wm))
#' estimate_effect(tmle(om, wm))
#' set.seed(1)
#' estimate_effect(weighted_standardization(om, wm), R = 30)
aipw <- function(outcome_model, weight_model, data = NULL, treatment = NULL, crossfit = NULL,
                 outcome_learner = NULL, propensity_learner = lrn_glm(), weights = NULL,
                 estimand = NULL, treated = NULL, na_action = "fail") {
  models <- dr_models(outcome_model, weight_model, data, rlang::enquo(treatment),
                      outcome_learner, propensity_learner, rlang::enquo(weights), na_action, parent.frame(),
                      estimand, treated)
  new_dr(models$outcome, models$weight, "aipw", crossfit_folds(crossfit, models$outcome$n),
         call = match.call())
}

#' @rdname aipw
#' @export
tmle <- function(outcome_model, weight_model, data = NULL, treatment = NULL, crossfit = NULL,
                 outcome_learner = NULL, propensity_learner = lrn_glm(), weights = NULL,
                 estimand = NULL, treated = NULL, na_action = "fail") {
  models <- dr_models(outcome_model, weight_model, data, rlang::enquo(treatment),
                      outcome_learner, propensity_learner, rlang::enquo(weights), na_action, parent.frame(),
                      estimand, treated)
  new_dr(models$outcome, models$weight, "tmle", crossfit_folds(crossfit, models$outcome$n),
         call = match.call())
}

#' @rdname aipw
#' @export
weighted_standardization <- function(outcome_model, weight_model, data = NULL, treatment = NULL,
                                     outcome_learner = NULL, propensity_learner = lrn_glm(),
                                     weights = NULL, estimand = NULL, treated = NULL,
                                     na_action = "fail") {
  models <- dr_models(outcome_model, weight_model, data, rlang::enquo(treatment),
                      outcome_learner, propensity_learner, rlang::enquo(weights), na_action, parent.frame(),
                      estimand, treated)
  new_dr(models$outcome, models$weight, "weighted_standardization", NULL, call = match.call())
}

#' @rdname aipw
#' @export
ps_standardization <- function(outcome_model, weight_model, data = NULL, treatment = NULL,
                               feature = "logit", outcome_learner = NULL,
                               propensity_learner = lrn_glm(), weights = NULL,
                               estimand = NULL, treated = NULL, na_action = "fail") {
  feature <- rlang::arg_match0(feature, c("logit", "propensity", "weights"), "feature")
  models <- dr_models(outcome_model, weight_model, data, rlang::enquo(treatment),
                      outcome_learner, propensity_learner, rlang::enquo(weights), na_action, parent.frame(),
                      estimand, treated)
  new_dr(models$outcome, models$weight, "ps_standardization", NULL, feature = feature,
         call = match.call())
}

# Fitted outcome and weight models from fitted objects or formulas. Fitted
# models come with their own data and weights, so the formula-form arguments
# must not be given with them.
dr_models <- function(outcome_model, weight_model, data, treatment_quo, outcome_learner,
                      propensity_learner, weights_quo, na_action, env, estimand = NULL,
                      treated = NULL) {
  if (inherits(outcome_model, "formula")) {
    if (is.null(data)) cli::cli_abort("The formula form needs {.arg data}.")
    check_data_frame(data)
    weights <- resolve_weights(weights_quo, data)
    check_treatment_learner(propensity_learner, "propensity_learner")
    treatment <- treatment_name(treatment_quo, outcome_model)
    estimand <- std_estimand(estimand %||% "ATE")
    outcome_model <- dr_submodel(standardization, list(formula = outcome_model, data = data,
      treatment = treatment, learner = outcome_learner, weights = weights,
      estimand = estimand, treated = treated, na_action = na_action), env)
    if (inherits(weight_model, "formula")) {
      weight_model <- dr_submodel(ipw, list(formula = weight_model, data = data,
        learner = propensity_learner, weights = weights, estimand = estimand, treated = treated,
        na_action = na_action), env)
    }
  } else if (!is.null(data) || !rlang::quo_is_null(weights_quo) || !rlang::quo_is_null(treatment_quo) ||
             !is.null(estimand) || !is.null(treated)) {
    cli::cli_abort(c(
      "{.arg data}, {.arg treatment}, {.arg weights}, {.arg estimand} and {.arg treated} are for the formula form.",
      i = "Fitted models bring their own: fit them with the weights and estimand you want."
    ))
  }
  if (!inherits(outcome_model, "causallib_standardization")) {
    cli::cli_abort("{.arg outcome_model} must be a fitted {.fn standardization} model or a formula.")
  }
  if (inherits(weight_model, c("weightit", "matchit"))) weight_model <- as_weight_model(weight_model)
  if (!inherits(weight_model, "causallib_weight_model")) {
    cli::cli_abort("{.arg weight_model} must be a fitted {.fn ipw} or {.fn matching} model, a {.cls weightit} or {.cls matchit} object, or a formula.")
  }
  if (outcome_model$n != weight_model$n || !identical(outcome_model$levels, weight_model$levels) ||
      any(outcome_model$treatment != weight_model$treatment) ||
      !identical(outcome_model$sampling_weights, weight_model$sampling_weights)) {
    cli::cli_abort(c(
      "{.arg outcome_model} and {.arg weight_model} were not fitted on the same people, treatment and weights.",
      i = "Fit both on the same rows of the same data, with the same {.arg weights}."
    ))
  }
  list(outcome = outcome_model, weight = weight_model)
}

# A model of the formula form, fitted in an environment of its own that
# holds the data, so that the fit finds its data again through its call.
dr_submodel <- function(fn, args, env) {
  holder <- new.env(parent = env)
  holder$data <- args$data
  args$data <- quote(data)
  environment(args$formula) <- env
  call <- as.call(c(list(fn), args))
  fit <- eval(call, holder)
  fit$call[[1L]] <- if (identical(fn, ipw)) quote(ipw) else quote(standardization)
  fit
}

crossfit_folds <- function(crossfit, n) {
  if (is.null(crossfit)) return(NULL)
  check_count(crossfit, "crossfit", min = 2, max = n)
  sample(rep_len(seq_len(crossfit), n))
}

new_dr <- function(om, wm, method, folds, feature = NULL, call = NULL) {
  if (method %in% c("aipw", "tmle")) {
    if (!inherits(wm, "causallib_ipw") && (!inherits(wm, "causallib_fixed_weights") || is.null(wm$propensity))) {
      cli::cli_abort("{.fn {method}} needs the propensities of an {.fn ipw} weight model (or weights from another package with their propensity score), not {model_label(wm)}.")
    }
    if (!wm$estimand %in% c("ATE", "ATT", "ATC")) {
      cli::cli_abort("{.fn {method}} needs a weight model with {.code estimand} {.val ATE}, {.val ATT} or {.val ATC}, not {.val {wm$estimand}}.")
    }
  }
  if (om$estimand != "ATE" && (om$estimand != wm$estimand || om$target != wm$target)) {
    cli::cli_abort(c(
      "{.arg outcome_model} estimates the {estimand_label(om)}, but {.arg weight_model} the {estimand_label(wm)}.",
      i = "A doubly robust model estimates its weight model's estimand: fit the outcome model with {.code estimand = \"ATE\"} or the weight model's."
    ))
  }
  fit <- structure(list(
    outcome_model = om, weight_model = wm, method = method, feature = feature,
    treatment_name = om$treatment_name,
    crossfit = if (!is.null(folds)) max(folds), folds = folds, treatment = om$treatment,
    levels = om$levels, y = om$y, sampling_weights = om$sampling_weights, n = om$n,
    estimand = wm$estimand, target = wm$target, call = call, rows = om$rows,
    na.action = om$na.action
  ), class = c("causallib_dr", "causallib_model"))
  fit$outcome_part <- dr_outcome_model(method, om, wm, feature)
  fit$nuisance <- dr_nuisance(fit, om, wm, folds)
  fit
}

#' Predictions of a doubly robust model
#'
#' `type = "potential_outcomes"` gives every unit's predicted outcome under
#' each treatment level from the model's outcome part:
#' * `aipw()` and `tmle()`: the outcome model as fitted. Their doubly robust
#'   corrections act on the population means, not on individual
#'   predictions.
#' * `weighted_standardization()`: the outcome model refitted with the IP
#'   weights.
#' * `ps_standardization()`: the outcome model refitted with the propensity
#'   feature; for `newdata`, the weight model predicts the propensities, so
#'   `newdata` needs the weight model's covariates.
#'
#' Without `newdata`, the predictions for the fitted units (out of fold when
#' the model was cross-fitted). `type = "propensity"` and `"weights"` are
#' the weight model's ([predict.causallib_ipw()]).
#'
#' @param object A fitted [aipw()], [tmle()], [weighted_standardization()]
#'   or [ps_standardization()] model.
#' @param newdata Optional data frame. The treatment column is needed only
#'   for `type = "weights"`.
#' @param type `"potential_outcomes"`, `"propensity"` or `"weights"`.
#' @param ... Unused.
#' @return A matrix with one column per treatment level, or for `"weights"`
#'   a vector.
#' @export
#' @examples
#' d <- nhefs[!is.na(nhefs$wt82_71), ]
#' om <- standardization(wt82_71 ~ qsmk + sex + age + wt71, data = d, treatment = qsmk)
#' wm <- ipw(qsmk ~ sex + age + wt71, data = d)
#' fit <- ps_standardization(om, wm)
#' predict(fit, newdata = d[1:3, ])
#' predict(fit, newdata = d[1:3, ], type = "propensity")
predict.causallib_dr <- function(object, newdata = NULL, type = "potential_outcomes", ...) {
  rlang::check_dots_empty()
  type <- rlang::arg_match0(type, c("potential_outcomes", "propensity", "weights"), "type")
  wm <- object$weight_model
  if (type != "potential_outcomes") return(stats::predict(wm, newdata = newdata, type = type))
  if (is.null(newdata)) return(object$nuisance$Q)
  part <- object$outcome_part
  P <- if (!is.null(part$ps_feature)) stats::predict(wm, newdata = newdata, type = "propensity")
  dr_outcome_predict(part, outcome_newdata(part, newdata), P)
}

