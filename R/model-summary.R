# The S3 surface of fitted models: nobs(), coef(), tidy(), glance(),
# summary() and plot(). A model's coefficients are those of the learners it
# wraps (coef_parts()); every table and summary is built from these parts
# and from the verbs of the model interface.

#' Coefficients, tidiers and summaries of fitted models
#'
#' Every fitted model wraps ordinary learners -- a propensity model, an
#' outcome model, a hazard model -- and these methods report them:
#' * `nobs()`: the number of units the model was fitted on.
#' * `coef()`: the coefficients of the learners fitted by [lrn_glm()]: the
#'   propensity model's for weight models ([ipw()], [matching()]; a matrix
#'   with a column per non-reference level for a multinomial model), the
#'   outcome model's for [standardization()] (a list named by treatment
#'   level when `stratified = TRUE`), `list(outcome = , propensity = )` for
#'   doubly robust models (the outcome model they standardize: as fitted
#'   for [aipw()] and [tmle()], refitted with the IP weights or the
#'   propensity feature for [weighted_standardization()] and
#'   [ps_standardization()]), and the hazard model's for pooled-logistic
#'   and Cox survival models. Unadjusted comparisons, CATE models and
#'   Kaplan-Meier curves have none, and learners other than [lrn_glm()]
#'   report none: `coef()` then says so and what to use instead.
#' * `tidy()`: those coefficients with broom's columns `term`, `estimate`,
#'   `std.error`, `statistic`, `p.value`, `conf.low`, `conf.high`, and
#'   `model` (`"propensity"`, `"outcome"`, or the outcome model of one
#'   treatment level), plus `y.level` for multinomial propensity models.
#'   Standard errors are model-based, as [summary.glm()][stats::summary.glm()]
#'   computes them for the same model: the inverse information at the
#'   estimates, times the dispersion estimate
#'   \eqn{\sum_i w_i r_i^2 / (n - p)} for the gaussian family (with `n` the
#'   units of non-zero weight and `p` the rank) and 1 for binomial and
#'   poisson; `statistic` is a t statistic with `n - p` degrees of freedom
#'   for the gaussian family and a z statistic otherwise, intervals are
#'   Wald intervals on the same distribution, and aliased coefficients get
#'   `NA`. With a ridge `penalty` the information is the penalized one.
#'   Sampling weights enter rescaled to mean 1 (see [ipw()]), so the tables
#'   are those of `glm()` with weights `w / mean(w)`: binomial and poisson
#'   standard errors (and deviances) do not depend on the scale the weights
#'   were given in. They
#'   describe each learner as a model of its own: they do not account for
#'   estimated weights or features (weighted and propensity-feature
#'   standardization), and they are not the standard errors of a causal
#'   effect, which [estimate_effect()] gives. For survival models `tidy()`
#'   returns the curves ([tidy.causal_survival()]).
#'
#' @param object,x A fitted model: [ipw()], [matching()], [standardization()],
#'   [marginal_outcome()], [aipw()], [tmle()], [weighted_standardization()],
#'   [ps_standardization()], [xlearner()], [rlearner()], [survival_ipw()] or
#'   [survival_standardization()].
#' @param conf.int Include the interval columns?
#' @param conf.level Confidence level of the intervals.
#' @param ... Unused.
#' @return `nobs()`: an integer. `coef()`: a named vector, a matrix, or a
#'   list of them. `tidy()` and `glance()`: data frames; `summary()`: a
#'   `summary.causallib_model` object.
#' @name model_summaries
#' @examples
#' d <- nhefs[!is.na(nhefs$wt82_71), ]
#' wm <- ipw(qsmk ~ sex + race + age + education + smokeintensity + wt71, data = d)
#' nobs(wm)
#' coef(wm)
#' tidy(wm)
#' glance(wm)
#' summary(wm)
#'
#' om <- standardization(wt82_71 ~ qsmk + sex + age + wt71, data = d,
#'                       treatment = qsmk, stratified = TRUE)
#' coef(om)
#' tidy(om)
#' summary(aipw(om, wm))
NULL

#' @rdname model_summaries
#' @export
nobs.causallib_model <- function(object, ...) {
  rlang::check_dots_empty()
  object$n
}

#' @rdname model_summaries
#' @export
coef.causallib_model <- function(object, ...) {
  rlang::check_dots_empty()
  coefs <- lapply(require_coef_parts(object), part_coef)
  if (length(coefs) == 1L) coefs[[1L]] else coefs
}

#' @rdname model_summaries
#' @export
coef.causallib_dr <- function(object, ...) {
  rlang::check_dots_empty()
  list(outcome = stats::coef(object$outcome_part), propensity = stats::coef(object$weight_model))
}

#' @rdname model_summaries
#' @method tidy causallib_model
#' @export
tidy.causallib_model <- function(x, conf.int = TRUE, conf.level = 0.95, ...) {
  rlang::check_dots_empty()
  check_bool(conf.int, "conf.int")
  check_conf_level(conf.level, "conf.level")
  tabs <- lapply(require_coef_parts(x), part_table, conf.level = conf.level)
  tab <- bind_tables(tabs)
  if (!conf.int) tab <- tab[, setdiff(names(tab), c("conf.low", "conf.high"))]
  tab
}

# ---- the learners behind a model -----------------------------------------------

# The fitted learners a model reports, named, each a part: the learner's
# fit, the label of its `model` column, and the design and prior weights
# it was fitted with (which the standard errors of a multinomial model and
# the gaussian dispersion need). NULL for models without coefficients.
coef_parts <- function(object) {
  UseMethod("coef_parts")
}

#' @export
coef_parts.default <- function(object) NULL

# model: what the learner models ("propensity", "outcome", "hazard"), and
# arm: the treatment level of a model fitted in one arm, as "qsmk = 1".
coef_part <- function(fit, model, x = NULL, weights = NULL, arm = NULL) {
  list(fit = fit, model = if (is.null(arm)) model else paste0(model, " (", arm, ")"),
       title = paste0(capitalize(model), " model", if (!is.null(arm)) paste0(" (", arm, ")")),
       x = x, weights = weights)
}

#' @export
coef_parts.causallib_weight_model <- function(object) {
  list(propensity = coef_part(object$learner_fit, "propensity", object$x,
                              object$sampling_weights))
}

#' @export
coef_parts.causallib_standardization <- function(object) {
  w <- std_fit_weights(object)
  if (!object$stratified) {
    return(list(outcome = coef_part(object$learner_fit, "outcome", object$x, w)))
  }
  arm <- as.integer(object$treatment)
  parts <- lapply(seq_along(object$levels), function(k) {
    rows <- arm == k
    coef_part(object$learner_fit[[k]], "outcome", object$x[rows, , drop = FALSE], w[rows],
              arm_label(object, k))
  })
  stats::setNames(parts, object$levels)
}

#' @export
coef_parts.causallib_dr <- function(object) {
  c(coef_parts(object$outcome_part), coef_parts(object$weight_model))
}

#' @export
coef_parts.causallib_survival <- function(object) {
  hz <- object$models$hazard
  if (is.null(hz)) return(NULL)
  if (!object$stratified) return(list(hazard = coef_part(hz, "hazard")))
  parts <- lapply(seq_along(hz), function(k) coef_part(hz[[k]], "hazard", arm = arm_label(object, k)))
  stats::setNames(parts, object$levels)
}

arm_label <- function(object, k) paste(treatment_label(object), "=", object$levels[k])

# The parts of a model that has coefficients, all from learners that
# report them; otherwise an error saying why not.
require_coef_parts <- function(object, call = rlang::caller_env()) {
  parts <- coef_parts(object)
  if (is.null(parts)) cli::cli_abort(no_coefficients(object), call = call)
  for (part in parts) {
    if (!has_coefficients(part)) {
      cli::cli_abort(c(
        without_coefficients(part),
        i = "{.fn coef}, {.fn tidy} and {.fn summary} report the coefficients of {.fn lrn_glm} learners."
      ), call = call)
    }
  }
  parts
}

has_coefficients <- function(part) !inherits(part$fit, "causallib_custom_fit")

without_coefficients <- function(part) {
  cli::format_inline("The {part$model} model was fitted by the {.val {part$fit$learner$name}} learner, which has no coefficients.")
}

# Why a model has no coefficients, and where to look instead.
no_coefficients <- function(object) {
  UseMethod("no_coefficients")
}

#' @export
no_coefficients.default <- function(object) {
  c("{capitalize(model_label(object))} models have no coefficients.")
}

#' @export
no_coefficients.causallib_marginal_outcome <- function(object) {
  c("An unadjusted comparison fits no model, so it has no coefficients.",
    i = "Its group means are {.code estimate_outcomes(fit)}.")
}

#' @export
no_coefficients.causallib_cate <- function(object) {
  c("{cate_labels[[object$method]]} models combine several learners and have no coefficients of their own.",
    i = "Use {.code predict(fit)} for the CATEs, {.code summary(fit)} for their distribution and {.code estimate_effect(fit)} for their average.")
}

#' @export
no_coefficients.causallib_survival <- function(object) {
  c("{capitalize(method_label(object$method))} curves fit no model, so they have no coefficients.",
    i = "The curves are {.code tidy(fit)}.")
}

# The coefficients of a part that has them.
part_coef <- function(part) {
  fit <- part$fit
  if (inherits(fit, c("causallib_glm_fit", "causallib_pt_fit"))) return(fit$coefficients)
  # coxph() names the columns of its design matrix `xk` "xk<column>".
  beta <- stats::coef(fit$model)
  stats::setNames(beta, sub("^xk", "", names(beta)))
}

# ---- coefficient tables ------------------------------------------------------------

# The tidy table of one part's coefficients with model-based standard errors.
part_table <- function(part, conf.level) {
  est <- part_estimates(part)
  beta <- est$coefficients
  se <- sqrt(diag(est$vcov))
  stat <- beta / se
  df <- est$df_residual
  crit <- if (is.finite(df)) stats::qt((1 + conf.level) / 2, df) else stats::qnorm((1 + conf.level) / 2)
  p <- if (is.finite(df)) 2 * stats::pt(-abs(stat), df) else 2 * stats::pnorm(-abs(stat))
  tab <- data.frame(term = est$terms, estimate = unname(beta), std.error = se,
                    statistic = stat, p.value = p, conf.low = beta - crit * se,
                    conf.high = beta + crit * se, model = part$model,
                    row.names = NULL, stringsAsFactors = FALSE)
  if (!is.null(est$y.level)) tab$y.level <- est$y.level
  tab
}

# The coefficients of a part as one vector with their names (and levels,
# for a multinomial model), their covariance (NA rows and columns for
# aliased coefficients) and the residual degrees of freedom of a t
# statistic (Inf: a z statistic).
part_estimates <- function(part) {
  fit <- part$fit
  B <- as.matrix(part_coef(part))
  if (!inherits(fit, c("causallib_glm_fit", "causallib_pt_fit"))) {
    return(list(coefficients = B[, 1L], terms = rownames(B), vcov = stats::vcov(fit$model),
                df_residual = Inf))
  }
  beta <- as.vector(B)
  kept <- !is.na(beta)
  H <- if (inherits(fit, "causallib_pt_fit")) fit$information else
    glm_score_hessian(fit, part$x, part$weights)$H
  V <- coef_vcov(H, kept, fit$center, fit$anchor, ncol(B))
  df <- Inf
  if (identical(fit$family, "gaussian")) {
    n_ok <- if (is.null(part$weights)) nrow(part$x) else sum(part$weights != 0)
    df <- n_ok - sum(kept)
    V <- V * fit$deviance / df
  }
  multinomial <- ncol(B) > 1L
  list(coefficients = beta, terms = rep(rownames(B), ncol(B)), vcov = V, df_residual = df,
       y.level = if (multinomial) rep(colnames(B), each = nrow(B)))
}

# Row-binds data frames whose columns may differ, filling with NA.
bind_tables <- function(tabs) {
  cols <- unique(unlist(lapply(tabs, names)))
  tabs <- lapply(tabs, function(t) {
    for (col in setdiff(cols, names(t))) t[[col]] <- NA
    t[cols]
  })
  out <- do.call(rbind, tabs)
  rownames(out) <- NULL
  out
}

# ---- glance -----------------------------------------------------------------------

#' @rdname model_summaries
#' @details `glance()` gives one row: `estimator`, `estimand`, `treatment`,
#'   `outcome` (`NA` for weight models, whose outcome is named at
#'   estimation), `nobs`, `n_levels` (of the treatment) and `se_default`
#'   (the standard errors [estimate_effect()] gives by default; for
#'   survival models those the curves were fitted with); for weight models
#'   (also inside doubly robust and survival models) `min_ess`, the
#'   smallest effective sample size of an arm, and `max_abs_smd`, the
#'   largest absolute weighted difference of a covariate in
#'   [balance_table()] (standardized for continuous covariates, in
#'   proportions for binary ones); for outcome models `deviance`, the outcome
#'   learner's deviance (summed over the arms' models; `NA` for learners
#'   other than [lrn_glm()]); for survival models `events`, the
#'   (sampling-weighted) number of events. Deviances and weighted counts use
#'   the sampling weights rescaled to mean 1.
#' @method glance causallib_model
#' @export
glance.causallib_model <- function(x, ...) {
  rlang::check_dots_empty()
  out <- data.frame(
    estimator = model_label(x), estimand = x$estimand %||% "ATE", treatment = treatment_label(x),
    outcome = if (inherits(x, "causallib_weight_model")) NA_character_ else outcome_label(x),
    nobs = x$n, n_levels = length(x$levels), se_default = default_se(x),
    stringsAsFactors = FALSE
  )
  extras <- glance_extras(x)
  if (is.null(extras)) out else cbind(out, extras)
}

# The columns of glance() particular to a model class.
glance_extras <- function(x) {
  UseMethod("glance_extras")
}

#' @export
glance_extras.default <- function(x) NULL

#' @export
glance_extras.causallib_weight_model <- function(x) {
  data.frame(min_ess = min(effective_sizes(x)),
             max_abs_smd = max_or_na(balance_summary(x)$max_weighted))
}

#' @export
glance_extras.causallib_standardization <- function(x) {
  fits <- if (x$stratified) x$learner_fit else list(x$learner_fit)
  dev <- vapply(fits, function(f) f$deviance %||% NA_real_, numeric(1))
  data.frame(deviance = sum(dev))
}

#' @export
glance_extras.causallib_dr <- function(x) {
  cbind(glance_extras(x$weight_model), glance_extras(x$outcome_part))
}

#' @export
glance_extras.causallib_survival <- function(x) {
  weights <- if (is.null(x$weight_model)) {
    data.frame(min_ess = NA_real_, max_abs_smd = NA_real_)
  } else {
    glance_extras(x$weight_model)
  }
  cbind(weights, events = sum(sw_or_one(x) * x$status))
}

# ---- summary ----------------------------------------------------------------------

#' @rdname model_summaries
#' @details `summary()` collects the model's printed header, the table of
#'   each learner's coefficients (as `tidy()`, one per learner; a note for
#'   learners without coefficients) and what is particular to the model:
#'   for weight models the weights of each arm (effective sample size,
#'   smallest and largest weight) and a balance summary per comparison of
#'   [balance_table()] (the largest absolute difference before and
#'   after weighting, the mean after, and the number of covariates not
#'   balanced, 0.1 or more after); for unadjusted comparisons the group means; for CATE
#'   models the distribution of the unit CATEs; for survival models the
#'   people and events of each arm and the curves at the quartiles of
#'   follow-up.
#' @export
summary.causallib_model <- function(object, conf.level = 0.95, ...) {
  rlang::check_dots_empty()
  check_conf_level(conf.level, "conf.level")
  parts <- coef_parts(object)
  coefficients <- lapply(parts, function(part) {
    if (has_coefficients(part)) part_table(part, conf.level) else without_coefficients(part)
  })
  names(coefficients) <- vapply(parts, `[[`, "", "title")
  structure(list(
    call = object$call, title = model_title(object), header = model_header(object),
    se = se_label(object), coefficients = coefficients, tables = summary_tables(object)
  ), class = "summary.causallib_model")
}

#' @export
print.summary.causallib_model <- function(x, digits = 4, ...) {
  if (!is.null(x$call)) cat("Call: ", paste(deparse(x$call), collapse = "\n"), "\n\n", sep = "")
  cat_header(x$header[names(x$header) != "Estimator"], x$se, x$title)
  for (title in names(x$coefficients)) {
    tab <- x$coefficients[[title]]
    cat("\n")
    if (is.character(tab)) {
      cat(tab, "\n", sep = "")
      next
    }
    cat(title, ":\n", sep = "")
    show <- tab[intersect(c("y.level", names(tab)), setdiff(names(tab), "model"))]
    print(format(show, digits = digits), row.names = FALSE)
  }
  print_tables(x$tables, digits, gap = TRUE)
  invisible(x)
}

# Tables of a model for summary() (and print()), named by their titles.
summary_tables <- function(object) {
  UseMethod("summary_tables")
}

#' @export
summary_tables.default <- function(object) list()

#' @export
summary_tables.causallib_weight_model <- function(object) {
  list(`Weights by treatment level` = weight_summary(object),
       `Balance (absolute differences, as balance_table())` = balance_summary(object))
}

#' @export
summary_tables.causallib_marginal_outcome <- function(object) {
  list(`Outcome by treatment level` = data.frame(
    level = object$levels, n = as.vector(table(object$treatment)), mean = unname(means(object))
  ))
}

#' @export
summary_tables.causallib_cate <- function(object) {
  tau <- object$cate
  q <- t(apply(tau, 2L, stats::quantile, names = FALSE))
  dimnames(q) <- list(NULL, c("min", "q25", "median", "q75", "max"))
  list(`Distribution of the CATE` = data.frame(
    contrast = colnames(tau), q, mean = unname(cate_average(tau, sw_or_one(object)))
  ))
}

#' @export
summary_tables.causallib_survival <- function(object) {
  sw <- sw_or_one(object)
  arms <- data.frame(level = object$levels, n = arm_sums(sw, object$treatment),
                     events = arm_sums(sw * object$status, object$treatment),
                     curve_ends = unname(object$curve_ends))
  if (!is.null(object$replicates)) arms$replicates_at_end <- replicates_at_ends(object)
  show <- print_times(object$times)
  s <- survival_at(object, show)
  curves <- data.frame(level = object$levels, s, check.names = FALSE)
  names(curves)[-1L] <- format(show, trim = TRUE)
  title <- paste0("Survival at times ", paste(format(show, trim = TRUE), collapse = ", "))
  tables <- stats::setNames(list(arms, curves), c("People and events by treatment level", title))
  if (!is.null(object$pt)) tables$`Time grid of the pooled-logistic models` <- grid_summary(object$pt)
  tables
}

# The times at which prints show the curves: the quarters of the grid,
# rounded down to two significant digits so that they read as round numbers
# in the unit of the times (1826.25 days: 1800).
print_times <- function(times) {
  show <- times[pmax(1L, round(length(times) * c(0.25, 0.5, 0.75, 1)))]
  digit <- 10^(floor(log10(pmax(show, .Machine$double.xmin))) - 1)
  unique(ifelse(show > 0, floor(show / digit + 1e-9) * digit, 0))
}

# The period grid of a survival fit in one row: how many periods of what
# width, and the time terms.
grid_summary <- function(pt) {
  data.frame(periods = pt$n_periods, width = pt$width %||% "given by `breaks`",
             time_terms = gsub("\\s+", " ", paste(deparse(pt$time_terms), collapse = " ")))
}

# Balance of a weight model per comparison, from balance_table() without
# the propensity row: the largest absolute difference before and after
# adjustment, the mean after, and the number of covariates not balanced
# (absolute difference after adjustment of 0.1 or more).
balance_summary <- function(fit) {
  bal <- balance_table(fit, propensity = FALSE)
  key <- paste(bal$treatment, "vs", bal$reference)
  rows <- lapply(split(bal, factor(key, levels = unique(key))), function(b) {
    after <- abs(b$diff_weighted)
    data.frame(treatment = b$treatment[1L], reference = b$reference[1L], covariates = nrow(b),
               max_unweighted = max_or_na(abs(b$diff_unweighted)), max_weighted = max_or_na(after),
               mean_weighted = mean(after, na.rm = TRUE), not_balanced = sum(!b$balanced, na.rm = TRUE),
               stringsAsFactors = FALSE)
  })
  do.call(rbind, c(rows, make.row.names = FALSE))
}

max_or_na <- function(v) if (all(is.na(v))) NA_real_ else max(v, na.rm = TRUE)

print_tables <- function(tables, digits, gap = FALSE) {
  for (title in names(tables)) {
    if (gap) cat("\n")
    cat(title, ":\n", sep = "")
    print(format(tables[[title]], digits = digits), row.names = FALSE)
  }
}

# ---- plots --------------------------------------------------------------------------

#' @rdname autoplot.causal_evaluation
#' @export
plot.causallib_model <- function(x, type = NULL, ...) {
  rlang::check_dots_empty()
  p <- model_plot(x, type)
  print(p)
  invisible(p)
}

# The one plot builder of fitted models, which autoplot() returns and
# plot() draws: the evaluation plots by default (the model evaluated
# in-sample), the causal curves of survival models, and the distributions
# of CATE models and unadjusted comparisons.
model_plot <- function(object, type = NULL) {
  UseMethod("model_plot")
}

#' @export
model_plot.default <- function(object, type = NULL) {
  autoplot.causal_evaluation(evaluate(object), type)
}

#' @export
model_plot.causallib_cate <- function(object, type = NULL) {
  rlang::arg_match0(type %||% "cate", "cate", "type")
  data <- distribution_data(object)
  plot_distribution(data, paste0(capitalize(model_label(object)), ": distribution of the CATE"),
                    "Conditional average treatment effect")
}

#' @export
model_plot.causallib_marginal_outcome <- function(object, type = NULL) {
  rlang::arg_match0(type %||% "outcome", "outcome", "type")
  plot_distribution(distribution_data(object), "Outcome by treatment level", outcome_label(object))
}

#' Data of the distribution plots
#'
#' The histograms that `autoplot()` draws for a CATE model (of the units'
#' conditional average treatment effects, one per contrast with the
#' reference level) and for an unadjusted comparison (of the outcome, one
#' per treatment level), so that the numbers can be checked or drawn
#' another way. Counts are numbers of units; `mean` is the group's
#' (sampling-weighted) mean: the average effect of [estimate_effect()] for
#' a CATE model, the group mean of [estimate_outcomes()] for an unadjusted
#' comparison.
#'
#' @param fit A fitted [xlearner()], [rlearner()] or [marginal_outcome()].
#' @return A data frame with columns `group` (a contrast such as `"1 vs
#'   0"`, or a treatment level), `bin_mid`, `bin_width`, `count` and `mean`.
#' @export
#' @examples
#' fit <- xlearner(wt82_71 ~ qsmk + sex + age + wt71, data = nhefs,
#'                 treatment = qsmk, na_action = "omit")
#' head(distribution_data(fit))
#' if (requireNamespace("ggplot2", quietly = TRUE)) plot(fit)
distribution_data <- function(fit) {
  if (inherits(fit, "causallib_cate")) {
    contrasts <- colnames(fit$cate)
    values <- as.vector(fit$cate)
    groups <- factor(rep(contrasts, each = fit$n), levels = contrasts)
    mean <- cate_average(fit$cate, sw_or_one(fit))
  } else if (inherits(fit, "causallib_marginal_outcome")) {
    values <- fit$y
    groups <- fit$treatment
    mean <- means(fit)
  } else {
    gave <- if (inherits(fit, "causallib_model")) {
      "You gave a model of {model_label(fit)}."
    } else {
      "You gave {.obj_type_friendly {fit}}."
    }
    cli::cli_abort(c(
      "{.arg fit} must be a fitted {.fn xlearner}, {.fn rlearner} or {.fn marginal_outcome}.",
      x = gave
    ))
  }
  bins <- group_histogram(values, groups)
  bins$mean <- unname(mean)[match(bins$group, levels(groups))]
  bins
}

plot_distribution <- function(data, title, xlab) {
  rlang::check_installed("ggplot2", "to plot distributions.")
  means <- unique(data[c("group", "mean")])
  p <- ggplot2::ggplot(data, ggplot2::aes(x = .data$bin_mid, y = .data$count, width = .data$bin_width)) +
    ggplot2::geom_col(fill = "grey60") +
    ggplot2::geom_vline(ggplot2::aes(xintercept = .data$mean), data = means, linetype = "dashed") +
    ggplot2::labs(x = xlab, y = "Count", title = title)
  if (nrow(means) > 1L) p <- p + ggplot2::facet_wrap(ggplot2::vars(.data$group), ncol = 1L)
  p
}
