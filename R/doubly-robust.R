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
#' `aipw()` and `tmle()` need ATE weights and give influence-function
#' standard errors (`se = "sandwich"` or `"influence"`, the default), which
#' account for estimating both nuisance models when either is correct; all
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
#' @param weight_model A fitted [ipw()] model of the same people, or a
#'   formula `treatment ~ covariates`.
#' @param data,treatment For the formula form: the data and the treatment
#'   variable.
#' @param crossfit `NULL` or the number of cross-fitting folds.
#' @param outcome_learner,weight_learner For the formula form: the learners.
#' @param feature For `ps_standardization()`: `"logit"`, `"propensity"` or
#'   `"weights"`.
#' @param ... Unused.
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
#' estimate_effect(weighted_standardization(om, wm), R = 100)
aipw <- function(outcome_model, weight_model, data = NULL, treatment = NULL, crossfit = NULL,
                 outcome_learner = NULL, weight_learner = lrn_glm(), ...) {
  models <- dr_models(outcome_model, weight_model, data, rlang::enquo(treatment),
                      outcome_learner, weight_learner, parent.frame())
  new_dr(models$outcome, models$weight, "aipw", crossfit)
}

#' @rdname aipw
#' @export
tmle <- function(outcome_model, weight_model, data = NULL, treatment = NULL, crossfit = NULL,
                 outcome_learner = NULL, weight_learner = lrn_glm(), ...) {
  models <- dr_models(outcome_model, weight_model, data, rlang::enquo(treatment),
                      outcome_learner, weight_learner, parent.frame())
  new_dr(models$outcome, models$weight, "tmle", crossfit)
}

#' @rdname aipw
#' @export
weighted_standardization <- function(outcome_model, weight_model, data = NULL, treatment = NULL,
                                     outcome_learner = NULL, weight_learner = lrn_glm(), ...) {
  models <- dr_models(outcome_model, weight_model, data, rlang::enquo(treatment),
                      outcome_learner, weight_learner, parent.frame())
  new_dr(models$outcome, models$weight, "weighted_standardization", NULL)
}

#' @rdname aipw
#' @export
ps_standardization <- function(outcome_model, weight_model, data = NULL, treatment = NULL,
                               feature = "logit", outcome_learner = NULL,
                               weight_learner = lrn_glm(), ...) {
  feature <- rlang::arg_match0(feature, c("logit", "propensity", "weights"), "feature")
  models <- dr_models(outcome_model, weight_model, data, rlang::enquo(treatment),
                      outcome_learner, weight_learner, parent.frame())
  new_dr(models$outcome, models$weight, "ps_standardization", NULL, feature = feature)
}

# Fitted outcome and weight models from fitted objects or formulas.
dr_models <- function(outcome_model, weight_model, data, treatment_quo, outcome_learner,
                      weight_learner, env) {
  if (inherits(outcome_model, "formula")) {
    if (is.null(data)) cli::cli_abort("The formula form needs {.arg data}.")
    treatment <- treatment_name(treatment_quo, outcome_model)
    environment(outcome_model) <- env
    outcome_model <- eval(rlang::call2(standardization, outcome_model, data = data,
                                       treatment = treatment, learner = outcome_learner))
    if (inherits(weight_model, "formula")) {
      environment(weight_model) <- env
      weight_model <- ipw(weight_model, data = data, learner = weight_learner)
    }
  }
  if (!inherits(outcome_model, "causallib_standardization")) {
    cli::cli_abort("{.arg outcome_model} must be a fitted {.fn standardization} model or a formula.")
  }
  if (!inherits(weight_model, "causallib_ipw")) {
    cli::cli_abort("{.arg weight_model} must be a fitted {.fn ipw} model or a formula.")
  }
  if (outcome_model$n != weight_model$n || !identical(outcome_model$levels, weight_model$levels) ||
      any(outcome_model$treatment != weight_model$treatment)) {
    cli::cli_abort(c(
      "{.arg outcome_model} and {.arg weight_model} were not fitted on the same people and treatment.",
      i = "Fit both on the same rows of the same data."
    ))
  }
  list(outcome = outcome_model, weight = weight_model)
}

new_dr <- function(om, wm, method, crossfit, feature = NULL) {
  if (method %in% c("aipw", "tmle") && wm$estimand != "ATE") {
    cli::cli_abort("{.fn {method}} needs a weight model with {.code estimand = \"ATE\"}, not {.val {wm$estimand}}.")
  }
  if (!is.null(crossfit)) check_number(crossfit, "crossfit", min = 2, max = om$n)
  fit <- structure(list(
    outcome_model = om, weight_model = wm, method = method, feature = feature,
    crossfit = crossfit, treatment = om$treatment, levels = om$levels, y = om$y,
    sampling_weights = om$sampling_weights, n = om$n, estimand = "ATE", call = sys.call(-1L)
  ), class = c("causallib_dr", "causallib_model"))
  fit$outcome_part <- dr_outcome_model(method, om, wm, feature)
  fit$folds <- if (!is.null(crossfit)) sample(rep_len(seq_len(crossfit), fit$n))
  fit$nuisance <- dr_nuisance(fit, om, wm, fit$folds)
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
  type <- rlang::arg_match0(type, c("potential_outcomes", "propensity", "weights"), "type")
  wm <- object$weight_model
  if (type != "potential_outcomes") return(stats::predict(wm, newdata = newdata, type = type))
  if (is.null(newdata)) return(object$nuisance$Q)
  part <- object$outcome_part
  P <- if (!is.null(part$ps_feature)) stats::predict(wm, newdata = newdata, type = "propensity")
  dr_outcome_predict(part, std_newdata_frame(part, newdata), P)
}

#' @export
print.causallib_dr <- function(x, ...) {
  label <- switch(x$method, aipw = "augmented inverse probability weighting",
                  tmle = "targeted maximum likelihood",
                  weighted_standardization = "IP-weighted standardization",
                  ps_standardization = paste0("standardization with the propensity (", x$feature, ") as a feature"))
  cat("<causallib_dr>", label, "\n")
  cat("Treatment levels:", paste(x$levels, collapse = ", "), " Observations:", x$n, "\n")
  if (!is.null(x$crossfit)) cat("Nuisance models cross-fitted on", x$crossfit, "folds\n")
  invisible(x)
}
