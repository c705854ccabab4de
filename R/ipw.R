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
#' * `"ATC"`: \eqn{p_c / p_a}, with \eqn{c} the control level (see `treated`).
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
#' @param weights Optional sampling weights: a numeric vector, or a column
#'   of `data` named as a string or a bare name (as `outcome` is); finite and non-negative (0 leaves a unit out). They
#'   are rescaled to mean 1 before fitting, so no result depends on their
#'   scale, and a learner's `penalty` applies as with unit weights. Weights
#'   so uneven that the smallest positive ones vanish beside the largest at
#'   double precision (a ratio beyond about \eqn{4.5 \times 10^{15}}) are an
#'   error rather than a fit to the heaviest units alone.
#' @param treated For `"ATT"` and `"ATC"`, the treated level. It may be
#'   left out when the treatment's values order it -- numbers (the treated
#'   level the largest, the controls the smallest) or `FALSE`/`TRUE` -- and
#'   must be given when they are labels (`"no"`/`"yes"`, a factor
#'   `control`/`treated`): the first label is not taken for the controls
#'   only because it sorts first. The ATC of a binary treatment describes the
#'   level that is not `treated`; with more levels the ATC describes the
#'   first level, and the population of any one level is the ATT with
#'   `treated` naming it.
#' @param na_action `"fail"` (default) stops on missing values naming the
#'   columns; `"omit"` drops those rows and records them.
#' @param cluster `NULL` (units independent), or the clusters of dependent
#'   rows -- the person of each person-trial in sequential target trials:
#'   a column of `data` named as a string or a bare name, or a vector with
#'   one value per row of `data` (per unit in the matrix interfaces; no
#'   missing values). Sandwich standard
#'   errors then sum each unit's estimating functions within its cluster
#'   (with the small-sample factor \eqn{G / (G - 1)} for \eqn{G} clusters,
#'   as `sandwich::vcovCL(type = "HC0")`), and the bootstrap resamples whole
#'   clusters.
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
#'
#' # Clustered standard errors: rows of the same (here, made-up) family are
#' # not independent.
#' d$family <- rep(seq_len(nrow(d) / 2), each = 2, length.out = nrow(d))
#' clustered <- ipw(qsmk ~ sex + age + wt71, data = d, cluster = family)
#' estimate_effect(clustered, outcome = wt82_71)
ipw <- function(formula, data, estimand = "ATE", stabilize = FALSE, clip = NULL,
                truncate = NULL, learner = lrn_glm(), weights = NULL,
                treated = NULL, na_action = "fail", cluster = NULL) {
  opts <- ipw_options(estimand, stabilize, clip, truncate, treated)
  d <- new_design(formula, data, weights = rlang::enquo(weights), na_action = na_action, env = parent.frame())
  a <- as_treatment(d$response, "treatment")
  fit <- ipw_engine(d$x, a, d$offset, FALSE, opts, learner, d$weights)
  fit$treatment_expr <- formula[[2L]]
  fit$treatment_name <- rlang::expr_deparse(formula[[2L]])
  fit <- with_cluster(fit, rlang::enquo(cluster), data, d$rows)
  with_front_end(fit, d, match.call(), parent.frame(), nrow(data))
}

#' @describeIn ipw Matrix interface: `x` is a numeric covariate matrix and
#'   `a` the treatment vector.
#' @param x A numeric covariate matrix (or data frame of numeric columns).
#' @param a The treatment: a factor, or numeric, logical or character codes.
#' @param intercept Fit an intercept? It is handled inside the C core, so
#'   `x` is never copied to add a column of ones.
#' @export
ipw_fit <- function(x, a, estimand = "ATE", stabilize = FALSE, clip = NULL,
                    truncate = NULL, learner = lrn_glm(), weights = NULL,
                    treated = NULL, intercept = TRUE, cluster = NULL) {
  opts <- ipw_options(estimand, stabilize, clip, truncate, treated)
  x <- check_matrix(x)
  a <- as_treatment(a, "a")
  if (length(a) != nrow(x)) cli::cli_abort("{.arg a} has length {length(a)}, but {.arg x} has {nrow(x)} rows.")
  fit <- ipw_engine(x, a, NULL, check_bool(intercept, "intercept"), opts, learner, weights)
  fit <- with_cluster(fit, cluster, NULL, n_data = fit$n)
  fit$call <- match.call()
  fit
}

ipw_estimands <- c(ATE = 0L, ATT = 1L, ATC = 2L, ATO = 3L)

# The weighting settings of ipw(), checked (`treated` against the levels
# by the engine, through estimand_target()).
ipw_options <- function(estimand, stabilize, clip, truncate, treated = NULL) {
  estimand <- rlang::arg_match0(estimand, names(ipw_estimands), "estimand")
  if (!is.null(truncate)) check_number(truncate, "truncate", min = 0.5, max = 1)
  list(estimand = estimand, stabilize = check_bool(stabilize, "stabilize"),
       clip = check_clip(clip), truncate = truncate, treated = treated)
}

# The weight model on the design x (its offset, and an intercept the learner
# fits without a column of x when `intercept`), so x is never copied.
# counts: NULL, or the case weights of a refit (bootstrap frequencies), which
# the truncation quantile counts.
ipw_engine <- function(x, a, offset, intercept, opts, learner, weights, counts = NULL) {
  check_treatment_learner(learner)
  weights <- as_sampling_weights(weights, length(a))
  check_arms_nonempty(a, weights)
  lev <- levels(a)
  target <- estimand_target(opts$estimand, lev, opts$treated)
  ps <- fit_propensity(learner, x, a, weights, offset, intercept)
  P <- ps$propensity
  w <- .Call(C_ffi_ipw_weights, P, a, ipw_estimands[[opts$estimand]], target,
             opts$clip, NA_real_, causallib_threads())
  warn_positivity(P, w$n_clipped, opts$clip)
  cap <- NA_real_
  if (!is.null(opts$truncate)) {
    cap <- truncation_cap(w$weights, opts$truncate, counts)
    capped <- w$weights > cap
    w$weights[capped] <- cap
    w$dw_deta[capped, ] <- 0
  }
  final <- w$weights
  if (opts$stabilize) final <- final * marginal_shares(a, weights)[as.integer(a)]
  structure(list(
    weights = final, ip_weights = w$weights, dw_deta = w$dw_deta, propensity = P,
    treatment = a, levels = lev, estimand = opts$estimand, target = target, options = opts,
    cap = cap, n_clipped = w$n_clipped, learner = learner, learner_fit = ps$learner_fit,
    x = x, offset = offset, intercept = intercept, sampling_weights = weights,
    n = length(a), rows = seq_along(a)
  ), class = c("causallib_ipw", "causallib_weight_model", "causallib_model"))
}

# The q-quantile (type 7) of the weights, each unit counted `counts` times
# (once when NULL): the truncation cap, as the C bootstrap computes it.
truncation_cap <- function(w, q, counts = NULL) {
  if (!is.null(counts)) {
    if (any(counts != round(counts))) {
      cli::cli_abort("Truncated weights ({.arg truncate}) need whole-number case weights.")
    }
    w <- rep.int(w, counts)
  }
  stats::quantile(w, q, names = FALSE, type = 7)
}

#' @export
refit.causallib_ipw <- function(fit, case_weights = NULL, rows = NULL, learner = NULL) {
  u <- refit_units(fit, case_weights, rows)
  r <- u$rows
  out <- ipw_engine(fit$x[r, , drop = FALSE], fit$treatment[r], fit$offset[r], fit$intercept,
                    fit$options, learner %||% fit$learner, u$weights, u$counts)
  keep_front_end(out, fit, r)
}

# A refit keeps the front end of the fit it came from (its rows mapped, and
# its design unless the refit has its own, restricted to its rows).
keep_front_end <- function(out, fit, rows) {
  for (f in c("call", "env", "n_data", "treatment_expr", "treatment_name", "na.action")) {
    out[[f]] <- fit[[f]]
  }
  out$design <- out$design %||% fit$design
  out$rows <- fit$rows[rows]
  out$cluster <- cluster_rows(fit$cluster, rows)
  out
}

check_clip <- function(clip) {
  if (is.null(clip)) return(c(0, 1))
  given <- clip
  if (length(clip) == 1L) clip <- c(clip, 1 - clip)
  if (!is.numeric(clip) || length(clip) != 2L || anyNA(clip) ||
      clip[1] < 0 || clip[2] > 1 || clip[1] >= clip[2]) {
    shown <- if (is.numeric(given) && length(given) <= 2L) {
      paste(deparse(given), collapse = "")
    } else {
      cli::format_inline("{.obj_type_friendly {given}}")
    }
    cli::cli_abort(c(
      "{.arg clip} must be {.code c(lower, upper)} with 0 <= lower < upper <= 1, or one bound {.code e} in [0, 0.5) for {.code c(e, 1 - e)}; you gave {.code {shown}}.",
      i = if (is.numeric(given) && length(given) == 1L && !is.na(given) && given > 1 && given < 50) paste0("Did you mean ", format(given / 100), "?")
    ))
  }
  as.double(clip)
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
  rlang::check_dots_empty()
  type <- rlang::arg_match0(type, c("propensity", "weights"), "type")
  if (is.null(newdata)) {
    return(if (type == "propensity") object$propensity else object$weights)
  }
  P <- weight_model_propensity(object, newdata)
  if (type == "propensity") return(P)
  if (is.null(object$design)) cli::cli_abort("{.arg newdata} must hold the treatment to predict weights; use the formula interface {.fn ipw}.")
  weights_from_propensity(object, P, treatment_in(newdata, object))
}

# Weights of units with propensities P and treatment a_new under a fitted
# weight model's estimand, clipping, truncation cap and stabilization.
weights_from_propensity <- function(object, P, a_new) {
  w <- .Call(C_ffi_ipw_weights, P, as.integer(a_new), ipw_estimands[[object$estimand]],
             object$target, object$options$clip, NA_real_, causallib_threads())$weights
  if (!is.na(object$cap)) w <- pmin(w, object$cap)
  if (object$options$stabilize) {
    w <- w * marginal_shares(object$treatment, object$sampling_weights)[as.integer(a_new)]
  }
  w
}

# The stacked propensity-model and Hajek equations; their meat and the
# derivative of the means' equations in the propensity coefficients come
# from one pass over the design in C (ffi_ipw_meat), without n x K
# temporaries. A clustered fit also gets the per-unit parts (the score's
# multipliers R and the Hajek equations Psi), which stack_sandwich() sums
# within clusters in place of the fused meat.
#' @export
estfun_parts.causallib_ipw <- function(fit, y = NULL) {
  require_glm_learner(fit$learner_fit)
  score <- glm_score_hessian(fit$learner_fit, fit$x, fit$sampling_weights)
  mu <- means(fit, y)
  mass <- sw_or_one(fit) * fit$ip_weights
  arm_mass <- arm_sums(mass, fit$treatment)
  res <- .Call(C_ffi_ipw_meat, fit$x, score$intercept, score$center, fit$treatment,
               fit$propensity, fit$sampling_weights, fit$ip_weights, fit$dw_deta, y,
               unname(mu), causallib_threads())
  parts <- list(score = score, meat = res$meat, D_mb = res$D, D_mm = diag(-arm_mass, length(mu)),
                n = fit$n)
  if (is.null(fit$cluster)) return(parts)
  a <- as.integer(fit$treatment)
  parts$score$R <- glm_score_parts(fit$learner_fit, fit$x, fit$treatment, fit$sampling_weights,
                                   fit$offset)$R
  parts$Psi <- matrix(vapply(seq_along(mu), function(k) (a == k) * mass * (y - mu[k]),
                             numeric(fit$n)), fit$n)
  parts$x <- fit$x
  parts
}

# The C bootstrap refits the logistic or multinomial propensity model, the
# weights and the means; learners other than lrn_glm() refit in R.
#' @export
boot_description.causallib_ipw <- function(fit, y = NULL) {
  wm <- ipw_boot_spec(fit)
  if (is.null(wm)) return(NULL)
  list(routine = C_ffi_ipw_bootstrap, args = list(
    weight_model = wm, a = as.integer(fit$treatment), K = length(fit$levels), y = y,
    counts = NULL, nthreads = NULL))
}

# A weight model as the C bootstraps refit it (the `weight_model` list of
# ffi_ipw_bootstrap and ffi_survival_bootstrap): its design, offset,
# sampling weights, logistic or multinomial fit and weighting options,
# checked (prefix: the fields' path in the fit that holds it); NULL for a
# model the C core cannot refit (matching, learners other than lrn_glm()).
ipw_boot_spec <- function(fit, prefix = "") {
  if (!inherits(fit, "causallib_ipw") || !inherits(fit$learner_fit, "causallib_glm_fit")) {
    return(NULL)
  }
  check_weight_model_fields(fit, prefix)
  lrn <- fit$learner
  o <- fit$options
  list(X = fit$x, intercept = fit$intercept, offset = fit$offset, sw = sw_or_one(fit),
       maxit = lrn$maxit, epsilon = lrn$epsilon,
       penalty = glm_penalty(lrn, fit$x, fit$intercept),
       estimand = ipw_estimands[[fit$estimand]], target = fit$target, clip = o$clip,
       truncate = if (is.null(o$truncate)) NA_real_ else as.double(o$truncate),
       stabilize = o$stabilize)
}

require_glm_learner <- function(lf) {
  if (inherits(lf, "causallib_glm_fit")) return(invisible())
  cli::cli_abort(c(
    "{.code se = \"sandwich\"} needs the score equations of the built-in {.fn lrn_glm} learner, which the {.val {lf$learner$name %||% class(lf)[1L]}} learner does not have.",
    i = "Use {.code se = \"bootstrap\"}, which refits the whole pipeline with any learner."
  ))
}

#' @export
model_label.causallib_ipw <- function(fit) "inverse probability weighting"
