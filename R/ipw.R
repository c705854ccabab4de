#' Inverse probability weighting
#'
#' A weight model: a treatment (propensity) learner whose predictions are
#' turned into inverse probability weights. Binary treatments use the
#' propensity score, treatments with more levels the generalized propensity
#' score (a multinomial model).
#'
#' Weights for a unit that received level \eqn{a}, with \eqn{p_k} the
#' probability of level \eqn{k}:
#' * `"ATE"`: \eqn{1 / p_a}.
#' * `"ATT"`: \eqn{p_t / p_a}, with \eqn{t} the `treated` level (1 for the treated).
#' * `"ATC"`: \eqn{p_c / p_a}, with \eqn{c} the first (control) level.
#' * `"ATO"` (overlap weights): \eqn{(1/p_a) / \sum_k 1/p_k}; for a binary
#'   treatment \eqn{1 - p} for the treated and \eqn{p} for the controls.
#'
#' Propensities are clipped to `clip` before weighting; weights are then
#' capped at their `truncate` quantile and, with `stabilize = TRUE`,
#' multiplied by the (sampling-weighted) proportion of units at the level
#' received. Potential-outcome means use normalized (Hajek) weighting, which
#' stabilization does not change.
#'
#' @param formula A formula `treatment ~ covariates`.
#' @param data A data frame.
#' @param estimand One of `"ATE"`, `"ATT"`, `"ATC"`, `"ATO"`.
#' @param stabilize Multiply weights by the marginal probability of the
#'   level received?
#' @param clip `NULL`, or propensity bounds `c(lower, upper)` (a single
#'   number `e` means `c(e, 1 - e)`).
#' @param truncate `NULL`, or a quantile (e.g. `0.99`) at which the weights
#'   are capped.
#' @param learner The treatment learner; by default a logistic (or
#'   multinomial) regression fitted in C, see [lrn_glm()].
#' @param weights Optional sampling weights: a numeric vector or the name of
#'   a column of `data`.
#' @param treated For `"ATT"`, the treated level; by default the last level.
#' @param na_action `"fail"` (default) stops on missing values naming the
#'   columns; `"omit"` drops those rows and records them.
#' @return An object of class `causallib_ipw`.
#' @seealso [estimate_effect()], [weights.causallib_ipw()], [predict.causallib_ipw()]
#' @export
#' @examples
#' d <- nhefs[!is.na(nhefs$wt82_71), ]
#' fit <- ipw(qsmk ~ sex + race + age + I(age^2) + education + smokeintensity +
#'              I(smokeintensity^2) + smokeyrs + I(smokeyrs^2) + exercise +
#'              active + wt71 + I(wt71^2), data = d)
#' fit
#' estimate_effect(fit, outcome = wt82_71)
ipw <- function(formula, data, estimand = "ATE", stabilize = FALSE, clip = NULL,
                truncate = NULL, learner = lrn_glm(), weights = NULL,
                treated = NULL, na_action = "fail") {
  fr <- build_frame(formula, data, weights, na_action, parent.frame())
  a <- as_treatment(stats::model.response(fr$frame), "treatment")
  x <- design_matrix(fr$terms, fr$frame)
  fit <- ipw_engine(x, a, estimand, stabilize, clip, truncate, learner, fr$weights, treated)
  with_frame_info(fit, fr, x, data, match.call())
}

# What a weight model fitted through a formula keeps for predict(newdata =)
# and for refitting: its call, terms, contrasts, factor levels and rows.
with_frame_info <- function(fit, fr, x, data, call) {
  fit$call <- call
  fit$terms <- fr$terms
  fit$contrasts <- attr(x, "contrasts")
  fit$xlevels <- stats::.getXlevels(fr$terms, fr$frame)
  fit$rows <- fr$rows
  fit$na.action <- fr$omitted
  fit$data <- data
  fit
}

# The frame-related fields with_frame_info() sets.
frame_info_fields <- c("call", "terms", "contrasts", "xlevels", "rows", "na.action", "data")

#' @describeIn ipw Matrix interface: `x` is a numeric covariate matrix and
#'   `a` the treatment vector.
#' @param x A numeric covariate matrix (or data frame of numeric columns).
#' @param a The treatment: a factor, or numeric, logical or character codes.
#' @param intercept Fit an intercept? It is handled inside the C core, so
#'   `x` is never copied to add a column of ones.
#' @export
ipw_fit <- function(x, a, estimand = "ATE", stabilize = FALSE, clip = NULL,
                    truncate = NULL, learner = lrn_glm(), weights = NULL,
                    treated = NULL, intercept = TRUE) {
  x <- check_matrix(x)
  a <- as_treatment(a, "a")
  if (length(a) != nrow(x)) cli::cli_abort("{.arg a} has length {length(a)}, but {.arg x} has {nrow(x)} rows.")
  fit <- ipw_engine(x, a, estimand, stabilize, clip, truncate, learner, weights, treated,
                    intercept = isTRUE(intercept))
  fit$call <- match.call()
  fit
}

ipw_estimands <- c(ATE = 0L, ATT = 1L, ATC = 2L, ATO = 3L)

# x is the design; intercept = TRUE adds an intercept the learner fits
# without a column of x (the matrix interface), so x is never copied.
ipw_engine <- function(x, a, estimand, stabilize, clip, truncate, learner,
                       weights, treated, intercept = FALSE) {
  estimand <- rlang::arg_match0(estimand, names(ipw_estimands), "estimand")
  clip <- check_clip(clip)
  if (!is.null(truncate)) check_number(truncate, "truncate", min = 0.5, max = 1)
  check_learner(learner)
  weights <- check_weights(weights, length(a))
  check_arms_nonempty(a, weights)
  lev <- levels(a)
  target <- ipw_target(estimand, lev, treated)

  lf <- learner_fit(learner, x, a, weights, intercept = intercept)
  P <- if (inherits(lf, "causallib_glm_fit")) lf$fitted else learner_predict(lf, x)
  check_propensity(P, length(a), lev)
  w <- .Call(C_ffi_ipw_weights, P, a, ipw_estimands[[estimand]], target,
             clip, if (is.null(truncate)) NA_real_ else as.double(truncate),
             causallib_threads())
  warn_positivity(P, w$n_clipped, clip)
  final <- w$weights
  if (isTRUE(stabilize)) final <- final * marginal_shares(a, weights)[as.integer(a)]

  structure(list(
    weights = final, ip_weights = w$weights, dw_deta = w$dw_deta, propensity = P,
    treatment = a, levels = lev, estimand = estimand, target = target,
    stabilize = isTRUE(stabilize), clip = clip, truncate = truncate, cap = w$cap,
    n_clipped = w$n_clipped, learner = learner, learner_fit = lf, x = x,
    intercept = intercept,
    sampling_weights = weights, n = length(a), data = NULL, rows = seq_along(a)
  ), class = c("causallib_ipw", "causallib_weight_model", "causallib_model"))
}

check_clip <- function(clip) {
  if (is.null(clip)) return(c(0, 1))
  if (length(clip) == 1L) clip <- c(clip, 1 - clip)
  if (!is.numeric(clip) || length(clip) != 2L || anyNA(clip) ||
      clip[1] < 0 || clip[2] > 1 || clip[1] >= clip[2]) {
    cli::cli_abort("{.arg clip} must be {.code c(lower, upper)} with 0 <= lower < upper <= 1.")
  }
  as.double(clip)
}

check_learner <- function(learner, arg = "learner") {
  if (!inherits(learner, "causallib_learner")) {
    cli::cli_abort("{.arg {arg}} must be a learner such as {.code lrn_glm()}, not {.obj_type_friendly {learner}}.")
  }
}

ipw_target <- function(estimand, lev, treated) {
  if (estimand == "ATC") return(1L)
  if (is.null(treated)) return(length(lev))
  if (length(treated) != 1L || !as.character(treated) %in% lev) {
    cli::cli_abort("{.arg treated} must be one of the treatment levels {.val {lev}}.")
  }
  match(as.character(treated), lev)
}

check_propensity <- function(P, n, lev) {
  if (!is.matrix(P) || !is.double(P) || nrow(P) != n || ncol(P) != length(lev) ||
      !.Call(C_ffi_all_finite, P) || min(P) < 0 || max(P) > 1) {
    cli::cli_abort("The treatment learner must predict an {n} x {length(lev)} matrix of probabilities.")
  }
  if (min(P) == 0) {
    cli::cli_abort(c(
      "{sum(rowSums(P == 0) > 0)} unit{?s} ha{?s/ve} a propensity of exactly 0 for some treatment level: positivity fails.",
      i = "Use {.arg clip}, the overlap estimand {.code \"ATO\"}, or restrict the population."
    ))
  }
}

positivity_floor <- 0.001

warn_positivity <- function(P, n_clipped, clip) {
  if (n_clipped > 0) {
    cli::cli_warn("{n_clipped} unit{?s} had a propensity outside [{clip[1]}, {clip[2]}] and {?was/were} clipped to the bound.")
    return(invisible())
  }
  if (min(P) >= positivity_floor) return(invisible())
  extreme <- rowSums(P < positivity_floor) > 0
  if (any(extreme)) {
    cli::cli_warn(c(
      "{sum(extreme)} unit{?s} ha{?s/ve} a propensity below {positivity_floor}: near-violations of positivity give extreme weights.",
      i = "Consider {.arg clip}, {.arg truncate} or {.code estimand = \"ATO\"}."
    ))
  }
}

marginal_shares <- function(a, weights) {
  mass <- arm_sums(if (is.null(weights)) 1 else weights, a)
  mass / sum(mass)
}

#' @export
print.causallib_ipw <- function(x, ...) {
  cat("<causallib_ipw> inverse probability weighting,", x$estimand, "weights\n")
  cat("Treatment levels:", paste(x$levels, collapse = ", "), "\n")
  ess <- tapply(x$weights * sw_or_one(x), x$treatment, function(w) sum(w)^2 / sum(w^2))
  tab <- data.frame(
    level = x$levels, n = as.vector(table(x$treatment)),
    ess = round(as.vector(ess), 1),
    min_weight = signif(as.vector(tapply(x$weights, x$treatment, min)), 3),
    max_weight = signif(as.vector(tapply(x$weights, x$treatment, max)), 3)
  )
  print(tab, row.names = FALSE)
  if (length(x$na.action)) cat(length(x$na.action), "rows with missing values were dropped\n")
  extras <- c(if (x$stabilize) "stabilized", if (x$n_clipped > 0) paste(x$n_clipped, "propensities clipped"),
              if (!is.null(x$truncate)) paste0("truncated at the ", x$truncate, " quantile"))
  if (length(extras)) cat("Weights:", paste(extras, collapse = "; "), "\n")
  invisible(x)
}

sw_or_one <- function(fit) {
  if (is.null(fit$sampling_weights)) rep(1, fit$n) else fit$sampling_weights
}

#' Weights and predictions of a weight model
#'
#' `weights()` returns the fitted inverse probability weights (including
#' stabilization, clipping and truncation; not multiplied by the sampling
#' weights). `predict()` returns propensities or weights, for the fitted
#' data or for `newdata` (which then needs the treatment column for
#' `type = "weights"`).
#'
#' @param object A fitted [ipw()] model.
#' @param newdata Optional data frame.
#' @param type `"propensity"` (a matrix with one column per treatment level)
#'   or `"weights"`.
#' @param ... Unused.
#' @return A numeric vector (weights) or matrix (propensities).
#' @export
#' @examples
#' fit <- ipw(qsmk ~ sex + age + wt71, data = nhefs)
#' head(weights(fit))
#' head(predict(fit, newdata = nhefs[1:5, ], type = "propensity"))
weights.causallib_ipw <- function(object, ...) object$weights

#' @rdname weights.causallib_ipw
#' @export
predict.causallib_ipw <- function(object, newdata = NULL, type = "propensity", ...) {
  type <- rlang::arg_match0(type, c("propensity", "weights"), "type")
  if (is.null(newdata)) {
    return(if (type == "propensity") object$propensity else object$weights)
  }
  if (is.null(object$terms)) {
    x <- check_matrix(newdata, arg = "newdata")
    if (ncol(x) != ncol(object$x)) {
      cli::cli_abort("{.arg newdata} must have the {ncol(object$x)} columns of the fitted {.arg x}.")
    }
    a_new <- NULL
  } else {
    mf <- new_frame(object$terms, newdata, object$xlevels)
    x <- design_matrix(object$terms, mf, object$contrasts)
    a_new <- if (type == "weights") treatment_in(newdata, object) else NULL
  }
  P <- learner_predict(object$learner_fit, x)
  if (type == "propensity") return(P)
  if (is.null(a_new)) cli::cli_abort("{.arg newdata} must hold the treatment to predict weights.")
  weights_from_propensity(object, P, a_new)
}

# Weights of units with propensities P and treatment a_new under a fitted
# weight model's estimand, clipping, truncation cap and stabilization.
weights_from_propensity <- function(object, P, a_new) {
  w <- .Call(C_ffi_ipw_weights, P, as.integer(a_new), ipw_estimands[[object$estimand]],
             object$target, object$clip, NA_real_, causallib_threads())$weights
  if (!is.na(object$cap)) w <- pmin(w, object$cap)
  if (object$stabilize) w <- w * marginal_shares(object$treatment, object$sampling_weights)[as.integer(a_new)]
  w
}

treatment_in <- function(newdata, object) {
  name <- all.vars(object$terms[[2L]])
  if (length(name) != 1L || !name %in% names(newdata)) {
    cli::cli_abort("{.arg newdata} must have the treatment column {.val {name}}.")
  }
  a <- as.character(newdata[[name]])
  if (!all(a %in% object$levels)) {
    cli::cli_abort("The treatment in {.arg newdata} has levels not seen in the fit.")
  }
  factor(a, levels = object$levels)
}

#' @rdname estimate_outcomes
#' @export
estimate_outcomes.causallib_ipw <- function(fit, outcome = NULL, se = "sandwich",
                                            R = 1000, conf_level = 0.95, ...) {
  se <- rlang::arg_match0(se, c("sandwich", "bootstrap", "none"), "se")
  y <- resolve_outcome(fit, rlang::enquo(outcome))
  # No n-long vector of ones without sampling weights.
  mass <- if (is.null(fit$sampling_weights)) fit$ip_weights else fit$sampling_weights * fit$ip_weights
  arm_mass <- arm_sums(mass, fit$treatment)
  mu <- arm_sums(mass * y, fit$treatment) / arm_mass
  names(mu) <- fit$levels
  V <- reps <- NULL
  if (se == "sandwich") V <- ipw_sandwich(fit, y, mu, arm_mass)
  if (se == "bootstrap") reps <- ipw_bootstrap(fit, y, R)
  new_causal_estimate(mu, V, reps, se, conf_level, fit)
}

# The stacked propensity-model and Hajek equations; their meat and the
# derivative of the means' equations in the propensity coefficients come
# from one pass over the design in C (ffi_ipw_meat), without n x K
# temporaries. arm_mass: the summed weights of each arm.
ipw_sandwich <- function(fit, y, mu, arm_mass) {
  require_glm_learner(fit$learner_fit)
  score <- glm_score_hessian(fit$learner_fit, fit$x, fit$sampling_weights)
  res <- .Call(C_ffi_ipw_meat, fit$x, score$intercept, fit$treatment, fit$propensity,
               fit$sampling_weights, fit$ip_weights, fit$dw_deta, y, unname(mu),
               causallib_threads())
  V <- sandwich_vcov(score, res$meat, res$D, diag(-arm_mass, length(mu)), fit$n)
  dimnames(V) <- list(fit$levels, fit$levels)
  V
}

ipw_bootstrap <- function(fit, y, R) {
  refit <- if (inherits(fit$learner_fit, "causallib_glm_fit")) {
    function(counts) ipw_bootstrap_glm(fit, y, counts)
  } else {
    function(counts) bootstrap_in_r(counts, length(fit$levels), ipw_replicate, fit = fit, y = y)
  }
  reps <- run_bootstrap(fit$n, R, refit)
  colnames(reps) <- fit$levels
  reps
}

ipw_bootstrap_glm <- function(fit, y, counts) {
  lrn <- fit$learner
  .Call(C_ffi_ipw_bootstrap, fit$x, fit$intercept, as.integer(fit$treatment),
        length(fit$levels),
        y, sw_or_one(fit), counts, ipw_estimands[[fit$estimand]], fit$target,
        fit$clip, if (is.null(fit$truncate)) NA_real_ else as.double(fit$truncate),
        lrn$maxit, lrn$epsilon, glm_penalty(lrn, fit$x, fit$intercept),
        causallib_threads())
}

# Hajek means of one resample (frequency counts), the weight model refitted
# in R with case weights counts * sampling weights. Truncation caps at the
# quantile of the resample's weights, as the C bootstrap does.
ipw_replicate <- function(counts, fit, y) {
  w <- counts * sw_or_one(fit)
  rf <- ipw_engine(fit$x, fit$treatment, fit$estimand, FALSE, fit$clip, NULL, fit$learner,
                   w, fit$levels[fit$target], intercept = fit$intercept)
  iw <- rf$ip_weights
  if (!is.null(fit$truncate)) {
    iw <- pmin(iw, stats::quantile(rep(iw, counts), fit$truncate, names = FALSE))
  }
  mass <- w * iw
  arm_sums(mass * y, fit$treatment) / arm_sums(mass, fit$treatment)
}

require_glm_learner <- function(lf) {
  if (inherits(lf, "causallib_glm_fit")) return(invisible())
  cli::cli_abort(c(
    "{.code se = \"sandwich\"} needs the score equations of the built-in {.fn lrn_glm} learner, which the {.val {lf$learner$name %||% class(lf)[1L]}} learner does not have.",
    i = "Use {.code se = \"bootstrap\"}, which refits the whole pipeline with any learner."
  ))
}

# The outcome for a weight model: a column name (string or bare name)
# evaluated in the fitted data, or a vector over the rows of the data.
resolve_outcome <- function(fit, quo) {
  if (rlang::quo_is_null(quo)) {
    cli::cli_abort("{.arg outcome} is required: name the outcome column of the data or give a numeric vector.")
  }
  data <- fit$data
  expr <- rlang::quo_get_expr(quo)
  val <- if (rlang::is_symbol(expr) && !is.null(data) && rlang::as_string(expr) %in% names(data)) {
    data[[rlang::as_string(expr)]]
  } else {
    rlang::eval_tidy(quo, data = data)
  }
  if (is.character(val) && length(val) == 1L) {
    if (is.null(data) || !val %in% names(data)) {
      cli::cli_abort("{.arg outcome} {.val {val}} is not a column of the data the model was fitted on.")
    }
    val <- data[[val]]
  }
  if (!is.null(data) && length(val) == nrow(data) && length(fit$rows) != nrow(data)) {
    val <- val[fit$rows]
  }
  check_outcome(val, fit$n)
}
