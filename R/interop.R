# Weight models from other packages: WeightIt's weightit and MatchIt's
# matchit objects become a weight model of this package (class
# causallib_fixed_weights), so that everything that takes a weight model
# (estimate_effect(), balance_table(), survival_ipw(), aipw(), ...) takes
# them. Their weights are fixed: this package cannot re-estimate them.

#' Use weights from WeightIt or MatchIt as a weight model
#'
#' Converts a `WeightIt::weightit()` or `MatchIt::matchit()` fit into a weight
#' model of this package, so that it can go wherever a fitted [ipw()] or
#' [matching()] model goes: [estimate_effect()], [balance_table()],
#' [survival_ipw()], [aipw()] and the other doubly robust estimators. Those
#' functions call `as_weight_model()` themselves, so the conversion is
#' rarely needed by hand.
#'
#' The weights, sampling weights, estimand and (when the other package
#' estimated one) the propensity score are taken as they are. Because this
#' package cannot re-estimate them:
#'
#' * standard errors treat the weights as fixed (known): a robust (HC0)
#'   sandwich of the weighted means, or for matching without replacement a
#'   cluster-robust one with the matched pairs (`subclass`) as clusters, as
#'   MatchIt's documentation recommends. For estimated IP weights this
#'   ignores the estimation of the propensity score, which for the ATE
#'   usually makes the interval conservative; refit with [ipw()] for a
#'   sandwich that accounts for it.
#' * the bootstrap is not available (it would have to re-run WeightIt or
#'   MatchIt on each resample).
#'
#' @param x A `weightit` or `matchit` object, or a weight model of this
#'   package (returned as it is).
#' @param data The data the object was fitted on, where outcomes named by
#'   their column are found. By default it is found again through the
#'   object's call, as `MatchIt::match.data()` does; give it when that
#'   fails, or give outcomes as vectors.
#' @param ... Unused.
#' @return A weight model (class `causallib_fixed_weights`).
#' @export
#' @examples
#' if (requireNamespace("MatchIt", quietly = TRUE)) {
#'   data("lalonde", package = "MatchIt")
#'   m <- MatchIt::matchit(treat ~ age + educ + race + re74, data = lalonde)
#'   wm <- as_weight_model(m)
#'   wm
#'   estimate_effect(wm, outcome = re78)
#' }
as_weight_model <- function(x, ...) {
  UseMethod("as_weight_model")
}

#' @export
as_weight_model.default <- function(x, ...) {
  cli::cli_abort("A weight model must be a fitted {.fn ipw} or {.fn matching} model, a {.cls weightit} or a {.cls matchit} object, not {.obj_type_friendly {x}}.")
}

#' @export
as_weight_model.causallib_weight_model <- function(x, ...) x

#' @rdname as_weight_model
#' @export
as_weight_model.weightit <- function(x, data = NULL, ...) {
  rlang::check_dots_empty()
  fit <- fixed_weight_model(x$weights, x$treat, x$s.weights, x$ps, x$estimand, NULL, x$covs,
                            paste0("WeightIt (method \"", x$method %||% "user", "\")"),
                            data_source(x$call, x$env %||% environment(x$formula), data))
  with_treatment_name(fit, x$formula)
}

#' @rdname as_weight_model
#' @export
as_weight_model.matchit <- function(x, data = NULL, ...) {
  rlang::check_dots_empty()
  replace <- isTRUE(x$info$replace)
  fit <- fixed_weight_model(x$weights, x$treat, x$s.weights, x$distance, x$estimand,
                            if (!replace && !is.null(x$subclass)) x$subclass, x$X,
                            paste0("MatchIt (method \"", x$info$method %||% "unknown", "\")"),
                            data_source(x$call, environment(x$formula), data), matched = TRUE)
  with_treatment_name(fit, x$formula)
}

with_treatment_name <- function(fit, formula) {
  if (inherits(formula, "formula") && length(formula) == 3L) {
    fit$treatment_expr <- formula[[2L]]
    fit$treatment_name <- rlang::expr_deparse(formula[[2L]])
  }
  fit
}

# The call and environment through which fit_data() finds the data again:
# the object's own, or `data` held in an environment of its own.
data_source <- function(call, env, data) {
  if (is.null(data)) return(list(call = call, env = env))
  if (!is.data.frame(data)) {
    cli::cli_abort("{.arg data} must be the data frame the object was fitted on, not {.obj_type_friendly {data}}.")
  }
  holder <- new.env(parent = emptyenv())
  holder$data <- data
  call$data <- quote(data)
  list(call = call, env = holder)
}

# A weight model of fixed weights w of the treatment treat, with sampling
# weights sw, a propensity ps of the last level (binary) or matrix, the
# estimand, matching pairs (subclass: NULL or one per unit, NA for none),
# the covariates (a data frame or matrix, for balance), a label and the
# call that made them with the environment its `data` is found in;
# `matched` says whether the weights come from matching.
fixed_weight_model <- function(w, treat, sw, ps, estimand, subclass, covs, label, source, matched = FALSE) {
  a <- as_treatment(as.vector(treat), "treat")
  n <- length(a)
  if (!is.numeric(w) || length(w) != n || any(!is.finite(w)) || any(w < 0)) {
    cli::cli_abort("The weights of {label} must be {n} finite non-negative numbers.")
  }
  P <- NULL
  if (is.matrix(ps) && nrow(ps) == n && ncol(ps) == nlevels(a)) {
    P <- unname(ps)
  } else if (is.numeric(ps) && length(ps) == n && nlevels(a) == 2L) {
    P <- cbind(1 - as.vector(ps), as.vector(ps))
  }
  if (!is.null(P)) colnames(P) <- levels(a)
  sw <- if (!is.null(sw) && any(sw != 1)) as_sampling_weights(as.vector(sw), n)
  x <- if (is.null(covs)) matrix(0, n, 0L) else fixed_weight_covariates(covs)
  structure(list(
    weights = unname(as.vector(w)), ip_weights = unname(as.vector(w)), propensity = P,
    treatment = a, levels = levels(a), estimand = estimand %||% "ATE",
    target = if (identical(estimand, "ATC")) 1L else nlevels(a), learner = NULL,
    learner_fit = NULL, x = x, offset = NULL, intercept = FALSE, sampling_weights = sw,
    n = n, rows = seq_len(n), subclass = if (!is.null(subclass)) as.integer(factor(subclass)),
    source = label, call = source$call, env = source$env, n_data = n, options = list(),
    cap = NA_real_, matched = matched
  ), class = c("causallib_fixed_weights", "causallib_weight_model", "causallib_model"))
}

# Covariates as a numeric matrix with every factor level (as cobalt shows
# them), for balance tables.
fixed_weight_covariates <- function(covs) {
  covs <- as.data.frame(covs)
  cols <- lapply(names(covs), function(v) {
    x <- covs[[v]]
    if (is.numeric(x) || is.logical(x)) return(stats::setNames(list(as.double(x)), v))
    x <- as.factor(x)
    stats::setNames(lapply(levels(x), function(l) as.double(x == l)), paste0(v, levels(x)))
  })
  out <- do.call(cbind, unlist(cols, recursive = FALSE))
  if (is.null(out)) matrix(0, nrow(covs), 0L) else out
}

#' @export
model_label.causallib_fixed_weights <- function(fit) paste("weights from", fit$source)

#' @export
default_se.causallib_fixed_weights <- function(fit) "sandwich"

#' @export
check_se_available.causallib_fixed_weights <- function(fit, se) {
  if (se == "bootstrap") {
    cli::cli_abort(c(
      "The bootstrap is not available for {model_label(fit)}: this package cannot re-estimate them.",
      i = "Use {.code se = \"sandwich\"} (weights held fixed), or refit the weights with {.fn ipw} or {.fn matching}."
    ))
  }
  invisible(se)
}

#' @export
estfun_parts.causallib_fixed_weights <- function(fit, y = NULL) {
  fixed_weight_estfun(fit, y, fit$subclass)
}

#' @export
refit.causallib_fixed_weights <- function(fit, case_weights = NULL, rows = NULL, learner = NULL) {
  cli::cli_abort(c(
    "{capitalize(model_label(fit))} cannot be refitted: this package cannot re-estimate them.",
    i = "Refit the weights with {.fn ipw} or {.fn matching} for a bootstrap or cross-validation."
  ))
}

#' @export
predict.causallib_fixed_weights <- function(object, newdata = NULL, type = "weights", ...) {
  rlang::check_dots_empty()
  type <- rlang::arg_match0(type, c("propensity", "weights"), "type")
  if (!is.null(newdata)) {
    cli::cli_abort("{capitalize(model_label(object))} exist only for the units they were estimated on; {.arg newdata} cannot be used.")
  }
  if (type == "weights") return(object$weights)
  if (is.null(object$propensity)) {
    cli::cli_abort("{capitalize(model_label(object))} came without a propensity score.")
  }
  object$propensity
}

#' @export
weights.causallib_fixed_weights <- function(object, ...) object$weights

# The weighted means' estimating functions of a weight model whose weights
# are held fixed: per unit (HC0), or summed within clusters times
# sqrt(G / (G - 1)) for G clusters (units in no cluster, NA, have weight
# 0). Used by matching() without replacement and by weights from other
# packages.
fixed_weight_estfun <- function(fit, y, cluster = NULL) {
  mass <- fit$weights * sw_or_one(fit)
  mu <- means(fit, y)
  a <- as.integer(fit$treatment)
  Psi <- vapply(seq_along(mu), function(k) (a == k) * mass * (y - mu[k]), numeric(fit$n))
  Psi <- matrix(Psi, fit$n)
  if (!is.null(cluster)) {
    in_cluster <- !is.na(cluster) & mass > 0
    ids <- cluster[in_cluster]
    G <- length(unique(ids))
    if (G < 2L) {
      cli::cli_abort("The cluster-robust standard error needs at least two matched pairs; use {.code se = \"bootstrap\"}.")
    }
    Psi <- cluster_estfun(Psi[in_cluster, , drop = FALSE], list(id = match(ids, unique(ids)), G = G))
  }
  list(Psi = Psi, D_mm = diag(-arm_sums(mass, fit$treatment), length(mu)), score = NULL, x = NULL)
}

#' Balance tables of this package's weight models in cobalt
#'
#' Lets `cobalt::bal.tab()` take a fitted [ipw()] or [matching()] model (or
#' a model fitted with one): its covariates (the design's columns), treatment,
#' weights, sampling weights, estimand and propensity score are passed to
#' cobalt's default method.
#'
#' @param x A weight model of this package, or a model fitted with one.
#' @param ... Passed to `cobalt::bal.tab()`.
#' @return What `cobalt::bal.tab()` returns.
#' @exportS3Method cobalt::bal.tab
#' @name bal.tab.causallib_model
#' @examples
#' if (requireNamespace("cobalt", quietly = TRUE)) {
#'   fit <- ipw(qsmk ~ sex + age + wt71, data = nhefs, estimand = "ATT")
#'   cobalt::bal.tab(fit, un = TRUE)
#' }
bal.tab.causallib_model <- function(x, ...) {
  wm <- weight_model_of(x)
  covs <- as.data.frame(covariate_matrix(wm))
  args <- list(covs, treat = wm$treatment, weights = wm$weights,
               s.weights = wm$sampling_weights, estimand = wm$estimand,
               method = if (is_matched(wm)) "matching" else "weighting")
  if (!is.null(wm$propensity) && nlevels(wm$treatment) == 2L) args$distance <- wm$propensity[, 2L]
  do.call(cobalt::bal.tab, c(args[!vapply(args, is.null, logical(1))], list(...)))
}
