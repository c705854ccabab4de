# Positivity: the units the data can say something about.
#
# Three rules find the units inside a common support and return a
# `causal_positivity`: the rows of the data they keep and a label of the
# population those rows describe.
#   positivity_trim():  the propensity away from 0 and 1 (a fixed threshold,
#                       or the optimal rule of Crump et al. 2009);
#   positivity_bbox():  every covariate inside the arms' common range
#                       (quantiles for numbers, observed categories else);
#   positivity_match(): a unit of the other arm(s) within a caliper on the
#                       propensity.
# positivity_subset() returns the kept rows of the data with the label as
# its "causallib_population" attribute; new_design() stores it in the
# design, so every estimator fitted on those rows names the population in
# its estimand (model_population(), estimand_label()).

#' Trim units whose propensity is near 0 or 1
#'
#' Keeps the units whose estimated propensity lies inside
#' `[threshold, 1 - threshold]`: the population in which every arm is
#' plausible and inverse probability weights stay bounded. With
#' `threshold = "crump"` the threshold is the one Crump, Hotz, Imbens and
#' Mitnik (2009) derive as minimizing the asymptotic variance of the
#' effect in the kept population: with \eqn{g = 1 / (e (1 - e))}, no unit is
#' trimmed when \eqn{\max g \le 2 E[g]}; else the units with
#' \eqn{g \le \gamma} are kept, where \eqn{\gamma} solves
#' \eqn{\gamma = 2 E[g \mid g \le \gamma]} (the largest solution, so the
#' least trimming), and \eqn{\alpha = 1/2 - \sqrt{1/4 - 1/\gamma}}. The
#' sample version is exact (no grid search): over the units sorted by
#' \eqn{g}, the kept set is the longest prefix whose largest \eqn{g} is at
#' most twice its (sampling-weighted) mean.
#'
#' With three or more arms every rule is applied one arm against the rest:
#' a unit is kept when, for each arm \eqn{k}, its propensity \eqn{e_k} is
#' inside \eqn{[\alpha_k, 1 - \alpha_k]} (`"crump"` computes one
#' \eqn{\alpha_k} per arm). With `arms = c(j, k)` the comparison is one arm
#' against another: only units of those two arms are kept, on their
#' propensity \eqn{e_k / (e_j + e_k)} of arm `k` among the two.
#'
#' Fit the estimator again on [positivity_subset()]: its estimand is then
#' labelled with the population kept. Standard errors of that fit treat the
#' kept population as given; they do not account for the trimming rule
#' having been estimated from the same data.
#'
#' @param fit A weight model ([ipw()], [matching()], a `weightit` or
#'   `matchit` object), or a model fitted with one ([aipw()], a survival
#'   model); or a vector of propensities of the last level of `treatment`
#'   (binary), or a matrix with one column per level.
#' @param threshold A number in (0, 0.5), or `"crump"` for Crump et al.'s
#'   optimal threshold.
#' @param arms `NULL` (all arms), or two treatment levels to compare one
#'   against the other.
#' @param treatment With propensities for `fit`: the treatment of each unit.
#' @return A `causal_positivity` object: `keep` (logical, one per unit of
#'   the fit), `rows` (the rows of the data kept), `bounds` (the propensity
#'   interval kept, one row per arm), `population` (a label) and the rule.
#'   It has `print()`, `summary()`, `tidy()` and `autoplot()` methods.
#' @references Crump RK, Hotz VJ, Imbens GW, Mitnik OA (2009). Dealing with
#'   limited overlap in estimation of average treatment effects.
#'   *Biometrika* 96(1), 187--199.
#' @seealso [positivity_subset()], [positivity_metrics()],
#'   [positivity_sensitivity()]
#' @examples
#' ps <- ipw(qsmk ~ sex + race + age + education + smokeintensity + smokeyrs +
#'             exercise + active + wt71, data = nhefs)
#' trim <- positivity_trim(ps, threshold = "crump")
#' trim
#' kept <- positivity_subset(trim)
#' kept <- kept[!is.na(kept$wt82_71), ]
#' fit <- ipw(qsmk ~ sex + race + age + education + smokeintensity + smokeyrs +
#'              exercise + active + wt71, data = kept)
#' estimate_effect(fit, outcome = wt82_71)
#' @export
positivity_trim <- function(fit, threshold = 0.1, arms = NULL, treatment = NULL) {
  src <- positivity_source(fit, treatment, rlang::caller_env())
  rule <- check_trim_threshold(threshold)
  alpha_of <- function(e, sw) if (rule == "crump") crump_alpha(e, sw) else threshold
  P <- src$propensity
  lev <- levels(src$treatment)
  a <- src$treatment
  sw <- src$sampling_weights
  if (!is.null(arms)) {
    pair <- check_arm_pair(arms, lev)
    in_pair <- as.integer(a) %in% pair
    e <- P[, pair[2L]] / (P[, pair[1L]] + P[, pair[2L]])
    alpha <- alpha_of(e[in_pair], sw[in_pair])
    keep <- in_pair & e >= alpha & e <= 1 - alpha
    bounds <- data.frame(arm = paste(lev[pair[2L]], "vs", lev[pair[1L]]), lower = alpha, upper = 1 - alpha)
    scale <- paste0("the propensity of ", arm_text(src, pair[2L]), " among arms ", lev[pair[1L]], " and ", lev[pair[2L]])
  } else {
    cols <- if (length(lev) == 2L) 2L else seq_along(lev)
    alpha <- vapply(cols, function(k) alpha_of(P[, k], sw), numeric(1))
    keep <- rep(TRUE, nrow(P))
    for (i in seq_along(cols)) keep <- keep & P[, cols[i]] >= alpha[i] & P[, cols[i]] <= 1 - alpha[i]
    bounds <- data.frame(arm = lev[cols], lower = alpha, upper = 1 - alpha)
    scale <- if (length(lev) == 2L) paste0("the propensity of ", arm_text(src, 2L)) else "every arm's propensity"
  }
  rownames(bounds) <- NULL
  how <- if (rule == "crump") "; Crump et al. 2009 threshold" else ""
  interval <- if (length(unique(round(alpha, 3L))) == 1L) {
    paste0(scale, " in [", fmt_bound(alpha[1L]), ", ", fmt_bound(1 - alpha[1L]), "]")
  } else {
    paste0(scale, " inside its own bounds (", paste0(bounds$arm, ": [", fmt_bound(bounds$lower), ", ",
                                                      fmt_bound(bounds$upper), "]", collapse = "; "), ")")
  }
  new_positivity(src, keep, "trim",
                 population = paste0("the overlap population (", interval, how, ")"),
                 rule = list(threshold = threshold, alpha = alpha, arms = arms), bounds = bounds)
}

#' Keep the units inside every covariate's common support
#'
#' The univariate bounding box: for each variable of the formula's right-hand
#' side and each arm, the support of that arm -- the interval between its
#' `alpha / 2` and `1 - alpha / 2` quantiles (type 7, as `quantile()`) for a
#' number with more than two distinct values, the categories observed for a
#' factor, character, logical or two-valued variable -- and their
#' intersection over the arms, the common support. A unit is kept when every
#' variable is inside its common support. `alpha = 0` (the default) takes
#' each arm's range (minimum to maximum); causallib (Python) uses 0.1.
#'
#' @param formula `treatment ~ covariates`; the box is on the variables the
#'   right-hand side names (`log(x)` is boxed as `x`, the same units).
#' @param data A data frame.
#' @param alpha The share of each arm's values left outside its support, in
#'   [0, 1).
#' @param na_action `"fail"` (the default) or `"omit"`: as in [ipw()].
#' @return A `causal_positivity` object (see [positivity_trim()]) whose
#'   `supports` table gives each variable's support by arm and the common
#'   support.
#' @seealso [positivity_trim()], [positivity_subset()]
#' @examples
#' box <- positivity_bbox(qsmk ~ age + smokeintensity + wt71 + education, nhefs)
#' box
#' summary(box)
#' @export
positivity_bbox <- function(formula, data, alpha = 0, na_action = "fail") {
  check_number(alpha, "alpha", min = 0, max = 1, open = c(FALSE, TRUE))
  d <- new_design(formula, data, na_action = na_action, env = parent.frame())
  a <- as_treatment(d$response, "treatment")
  vars <- stats::get_all_vars(d$design$terms, data[d$rows, , drop = FALSE])
  src <- list(treatment = a, sampling_weights = rep(1, length(a)), rows = d$rows,
              call = match.call(), env = parent.frame(), n_data = nrow(data))
  bbox_new(src, vars, alpha)
}

#' @describeIn positivity_bbox Matrix interface: `x` is a data frame or
#'   matrix of covariates, `a` the treatment.
#' @param x A data frame or matrix of covariates.
#' @param a The treatment: a factor, or numeric, logical or character codes.
#' @export
positivity_bbox_fit <- function(x, a, alpha = 0) {
  check_number(alpha, "alpha", min = 0, max = 1, open = c(FALSE, TRUE))
  if (!is.data.frame(x) && !is.matrix(x)) cli::cli_abort("{.arg x} must be a data frame or matrix, not {.obj_type_friendly {x}}.")
  a <- as_treatment(a, "a")
  if (length(a) != nrow(x)) cli::cli_abort("{.arg a} has length {length(a)}, but {.arg x} has {nrow(x)} rows.")
  vars <- as.data.frame(x)
  if (is.null(colnames(x))) names(vars) <- paste0("x", seq_along(vars))
  bad <- names(vars)[vapply(vars, anyNA, logical(1))]
  if (length(bad)) cli::cli_abort("{.arg x} has missing values in {.val {bad}}.")
  src <- list(treatment = a, sampling_weights = rep(1, length(a)), rows = seq_along(a), n_data = length(a))
  bbox_new(src, vars, alpha)
}

bbox_new <- function(src, vars, alpha) {
  lev <- levels(src$treatment)
  a <- as.integer(src$treatment)
  keep <- rep(TRUE, length(a))
  supports <- vector("list", ncol(vars))
  for (j in seq_along(vars)) {
    v <- vars[[j]]
    if (is.numeric(v) && length(unique(v)) > 2L) {
      q <- vapply(seq_along(lev), function(k) {
        stats::quantile(v[a == k], c(alpha / 2, 1 - alpha / 2), names = FALSE, type = 7)
      }, numeric(2))
      lo <- max(q[1L, ])
      hi <- min(q[2L, ])
      keep <- keep & v >= lo & v <= hi
      arm_text <- paste0("[", format_support(q[1L, ]), ", ", format_support(q[2L, ]), "]")
      common <- if (lo <= hi) paste0("[", format_support(lo), ", ", format_support(hi), "]") else "empty"
      supports[[j]] <- data.frame(variable = names(vars)[j], type = "range", arm = c(lev, "common"),
                                  support = c(arm_text, common), lower = c(q[1L, ], lo),
                                  upper = c(q[2L, ], hi), stringsAsFactors = FALSE)
    } else {
      order_of <- if (is.factor(v)) levels(v) else sort(unique(as.character(v)))
      v <- as.character(v)
      seen <- lapply(seq_along(lev), function(k) intersect(order_of, v[a == k]))
      common <- Reduce(intersect, seen)
      keep <- keep & v %in% common
      supports[[j]] <- data.frame(variable = names(vars)[j], type = "categories", arm = c(lev, "common"),
                                  support = vapply(c(seen, list(common)), function(s) {
                                    if (length(s)) paste(s, collapse = ", ") else "empty"
                                  }, character(1)),
                                  lower = NA_real_, upper = NA_real_, stringsAsFactors = FALSE)
    }
  }
  supports <- do.call(rbind, supports)
  what <- if (alpha > 0) paste0("the central ", format(100 * (1 - alpha)), "% of each arm") else "each arm's range"
  new_positivity(src, keep, "bbox",
                 population = paste0("the common support of ", ncol(vars), " covariate",
                                     if (ncol(vars) != 1L) "s", " (", what, ")"),
                 rule = list(alpha = alpha), supports = supports)
}

#' Keep the units with a close match in the other arm
#'
#' Matching-based support: a unit is kept when a unit of the other arm lies
#' within `caliper` of it on the propensity -- for three or more arms, for
#' each arm \eqn{k}, a unit outside arm \eqn{k} within `caliper` on
#' \eqn{e_k} (for units of arm \eqn{k}) or a unit of arm \eqn{k} (for units
#' outside it). The caliper is in standard deviations of the propensity over
#' all units, as in [matching()], unless `std_caliper = FALSE`.
#'
#' @inheritParams positivity_trim
#' @param caliper The largest distance to the closest unit of the other arm,
#'   a positive number.
#' @param std_caliper Is `caliper` in standard deviations of the propensity?
#' @return A `causal_positivity` object (see [positivity_trim()]); its
#'   `distance_ratio` is each unit's distance to its closest unit of the
#'   other arm over the caliper (the largest over arms; kept when at most 1).
#' @seealso [positivity_trim()], [positivity_subset()]
#' @examples
#' ps <- ipw(qsmk ~ sex + race + age + education + smokeintensity + smokeyrs +
#'             exercise + active + wt71, data = nhefs)
#' positivity_match(ps, caliper = 0.05)
#' @export
positivity_match <- function(fit, caliper = 0.2, std_caliper = TRUE, treatment = NULL) {
  src <- positivity_source(fit, treatment, rlang::caller_env())
  check_number(caliper, "caliper", min = 0, open = c(TRUE, FALSE))
  check_bool(std_caliper, "std_caliper")
  P <- src$propensity
  a <- as.integer(src$treatment)
  lev <- levels(src$treatment)
  cols <- if (length(lev) == 2L) 2L else seq_along(lev)
  ratio <- rep(0, length(a))
  widths <- numeric(length(cols))
  for (i in seq_along(cols)) {
    e <- P[, cols[i]]
    widths[i] <- caliper * (if (std_caliper) stats::sd(e) else 1)
    inside <- a == cols[i]
    ratio[inside] <- pmax(ratio[inside], nearest_distance(e[inside], e[!inside]) / widths[i])
    ratio[!inside] <- pmax(ratio[!inside], nearest_distance(e[!inside], e[inside]) / widths[i])
  }
  keep <- ratio <= 1
  unit <- if (!std_caliper) fmt_bound(caliper) else if (length(cols) == 1L) {
    paste0(format(caliper), " SD (", fmt_bound(widths), ")")
  } else {
    paste(format(caliper), "SD")
  }
  new_positivity(src, keep, "match",
                 population = paste0("the units with a match in the other arm within ", unit,
                                     " on the propensity"),
                 rule = list(caliper = caliper, std_caliper = std_caliper, width = widths),
                 distance_ratio = ratio)
}

# For each value of x, the distance to the closest value of y (sorted
# search, O((n + m) log m)).
nearest_distance <- function(x, y) {
  if (!length(y)) return(rep(Inf, length(x)))
  y <- sort(y)
  i <- findInterval(x, y)
  below <- ifelse(i >= 1L, x - y[pmax(i, 1L)], Inf)
  above <- ifelse(i < length(y), y[pmin(i + 1L, length(y))] - x, Inf)
  pmin(below, above)
}

# The propensities, treatment and sampling weights a rule works on, and the
# front end through which positivity_subset() finds the data.
positivity_source <- function(fit, treatment, env) {
  if (is.numeric(fit) && !is.object(fit)) {
    if (is.null(treatment)) {
      cli::cli_abort("With propensities for {.arg fit}, give each unit's {.arg treatment}.")
    }
    a <- as_treatment(treatment, "treatment")
    P <- propensity_matrix(fit, a)
    return(list(propensity = P, treatment = a, sampling_weights = rep(1, length(a)),
                rows = seq_along(a), n_data = length(a)))
  }
  if (!is.null(treatment)) {
    cli::cli_abort("{.arg treatment} is only used with propensities; {.arg fit} has its own treatment.")
  }
  wm <- weight_model_of(fit)
  if (is.null(wm$propensity)) {
    cli::cli_abort(c("{.arg fit} has no estimated propensities.",
                     i = "Give a weight model that estimates them, such as {.fn ipw}."))
  }
  list(propensity = wm$propensity, treatment = wm$treatment, sampling_weights = sw_or_one(wm),
       rows = wm$rows %||% seq_len(wm$n), call = wm$call, env = wm$env, n_data = wm$n_data %||% wm$n,
       treatment_name = wm$treatment_name, model = wm)
}

# "qsmk = 1": arm k of the treatment, named when the source knows its name.
arm_text <- function(src, k) {
  lev <- levels(src$treatment)[k]
  if (is.null(src$treatment_name)) lev else paste(src$treatment_name, "=", lev)
}

check_trim_threshold <- function(threshold) {
  if (identical(threshold, "crump")) return("crump")
  if (is.character(threshold)) {
    cli::cli_abort("{.arg threshold} must be a number in (0, 0.5) or {.val crump}; you gave {value_label(threshold)}.")
  }
  check_number(threshold, "threshold", min = 0, max = 0.5, open = c(TRUE, TRUE))
  "fixed"
}

check_arm_pair <- function(arms, lev) {
  arms <- as.character(arms)
  if (length(arms) != 2L || anyDuplicated(arms) || !all(arms %in% lev)) {
    cli::cli_abort(c("{.arg arms} must be two different treatment levels.",
                     i = "The levels are {.val {lev}}; you gave {.val {arms}}."))
  }
  match(arms, lev)
}

# Crump et al.'s threshold, exactly: g = 1 / (e (1 - e)) sorted; the kept
# set is the prefix up to the last k (at the end of a run of ties) with
# g_(k) <= 2 m_k, m_k the weighted mean of g_(1..k); gamma = 2 m_k.
crump_alpha <- function(e, sw = rep(1, length(e))) {
  g <- 1 / (e * (1 - e))
  o <- order(g)
  g <- g[o]
  w <- sw[o]
  m <- cumsum(w * g) / cumsum(w)
  last_of_tie <- c(g[-1L] > g[-length(g)], TRUE)
  ok <- which(last_of_tie & g <= 2 * m)
  k <- max(ok)
  if (k == length(g)) return(0)
  gamma <- 2 * m[k]
  2 / gamma / (1 + sqrt(1 - 4 / gamma))
}

fmt_bound <- function(x) formatC(x, digits = 3L, format = "fg", flag = "#")

format_support <- function(x) format(signif(x, 4L), trim = TRUE, scientific = FALSE)

new_positivity <- function(src, keep, method, population, rule, ...) {
  a <- src$treatment
  if (!any(keep)) {
    cli::cli_abort(c("No unit is inside the support ({population}).",
                     i = "Loosen the rule: a smaller {.arg threshold}, a larger {.arg alpha} or {.arg caliper}."),
                   call = NULL)
  }
  kept_arms <- table(a[keep])
  empty <- names(kept_arms)[kept_arms == 0L]
  if (method != "trim" || is.null(rule$arms)) {
    if (length(empty)) {
      cli::cli_abort(c("No unit of {cli::qty(length(empty))}arm{?s} {.val {empty}} is inside the support ({population}).",
                       i = "Loosen the rule, or compare the other arms ({.arg arms})."), call = NULL)
    }
  }
  structure(list(
    keep = keep, rows = src$rows[keep], method = method, population = population, rule = rule,
    treatment = a, levels = levels(a), propensity = src$propensity, sampling_weights = src$sampling_weights,
    treatment_name = src$treatment_name, call = src$call, env = src$env, n_data = src$n_data, ...
  ), class = "causal_positivity")
}

#' The rows of the data inside a positivity rule's support
#'
#' The rows of `data` that a [positivity_trim()], [positivity_bbox()] or
#' [positivity_match()] rule keeps, labelled with the population they
#' describe (the attribute `"causallib_population"`). Every estimator fitted
#' on them names that population in its estimand.
#'
#' @param x A `causal_positivity` object.
#' @param data The data the rule was found on; by default found again
#'   through the call of the model (or of `positivity_bbox()`).
#' @return A data frame: the kept rows of `data`.
#' @examples
#' box <- positivity_bbox(qsmk ~ age + smokeintensity + wt71, nhefs)
#' kept <- positivity_subset(box)
#' nrow(kept)
#' @export
positivity_subset <- function(x, data = NULL) {
  if (!inherits(x, "causal_positivity")) {
    cli::cli_abort("{.arg x} must be the result of {.fn positivity_trim}, {.fn positivity_bbox} or {.fn positivity_match}.")
  }
  data <- data %||% fit_data(x)
  if (is.null(data)) {
    cli::cli_abort("The rule was found from a matrix or propensities: give the {.arg data} its rows belong to.")
  }
  if (!is.data.frame(data)) cli::cli_abort("{.arg data} must be a data frame, not {.obj_type_friendly {data}}.")
  if (nrow(data) != x$n_data) {
    cli::cli_abort("{.arg data} has {nrow(data)} rows, but the rule was found on {x$n_data}.")
  }
  out <- data[x$rows, , drop = FALSE]
  attr(out, "causallib_population") <- x$population
  out
}

#' @export
print.causal_positivity <- function(x, ...) {
  cat("Positivity:", positivity_method_label(x$method), "\n")
  cat("Population:", x$population, "\n")
  cat("Kept", sum(x$keep), "of", length(x$keep), "units.\n")
  print(positivity_counts(x), row.names = FALSE)
  invisible(x)
}

positivity_method_label <- function(method) {
  switch(method, trim = "trimming on the propensity", bbox = "univariate bounding box of the covariates",
         match = "matching-based support on the propensity")
}

# Units, kept and dropped per arm.
positivity_counts <- function(x) {
  n <- as.vector(table(x$treatment))
  kept <- as.vector(table(x$treatment[x$keep]))
  data.frame(treatment = x$levels, n = n, kept = kept, dropped = n - kept,
             share_dropped = round((n - kept) / n, 4L), stringsAsFactors = FALSE)
}

#' @export
summary.causal_positivity <- function(object, ...) {
  structure(list(method = object$method, population = object$population, counts = positivity_counts(object),
                 bounds = object$bounds, supports = object$supports),
            class = "summary.causal_positivity")
}

#' @export
print.summary.causal_positivity <- function(x, ...) {
  cat("Positivity:", positivity_method_label(x$method), "\n")
  cat("Population:", x$population, "\n\n")
  print(x$counts, row.names = FALSE)
  if (!is.null(x$bounds)) {
    cat("\nPropensity interval kept:\n")
    print(x$bounds, row.names = FALSE, digits = 4L)
  }
  if (!is.null(x$supports)) {
    cat("\nSupports:\n")
    print(x$supports[c("variable", "arm", "support")], row.names = FALSE)
  }
  invisible(x)
}

#' @export
tidy.causal_positivity <- function(x, ...) positivity_counts(x)

#' @exportS3Method ggplot2::autoplot
autoplot.causal_positivity <- function(object, ...) {
  rlang::check_dots_empty()
  d <- positivity_plot_data(object)
  if (object$method == "bbox") {
    return(ggplot2::ggplot(d, ggplot2::aes(y = .data$arm, xmin = .data$lower, xmax = .data$upper,
                                           colour = .data$arm == "common")) +
             ggplot2::geom_errorbar(width = 0.3, orientation = "y") +
             ggplot2::facet_wrap(ggplot2::vars(.data$variable), scales = "free_x") +
             ggplot2::scale_colour_manual(values = c(`FALSE` = "grey40", `TRUE` = "#D55E00"), guide = "none") +
             ggplot2::labs(x = NULL, y = NULL, title = "Support of each covariate by arm",
                           subtitle = "common support in colour") +
             ggplot2::theme_minimal())
  }
  p <- ggplot2::ggplot(d, ggplot2::aes(x = .data$propensity, fill = .data$status)) +
    ggplot2::geom_histogram(bins = 40L, boundary = 0, position = "stack") +
    ggplot2::facet_wrap(ggplot2::vars(.data$treatment), ncol = 1L, scales = "free_y") +
    ggplot2::scale_fill_manual(values = c(kept = "grey45", dropped = "#D55E00"), name = NULL) +
    ggplot2::labs(x = d$scale[1L], y = "Units", title = capitalize(positivity_method_label(object$method))) +
    ggplot2::theme_minimal()
  if (!is.null(object$bounds)) {
    p <- p + ggplot2::geom_vline(xintercept = unique(c(object$bounds$lower, object$bounds$upper)), linetype = 2L)
  }
  p
}

#' @export
plot.causal_positivity <- function(x, ...) {
  print(autoplot.causal_positivity(x, ...))
  invisible(x)
}

# What autoplot() draws: for trimming and matching, each unit's propensity
# (of the last level for two arms, the smallest of its arms' else) and
# whether it was kept; for the bounding box, the numeric supports.
positivity_plot_data <- function(x) {
  if (x$method == "bbox") {
    s <- x$supports[x$supports$type == "range", ]
    return(s[is.finite(s$lower) & is.finite(s$upper), c("variable", "arm", "lower", "upper")])
  }
  two <- ncol(x$propensity) == 2L
  e <- if (two) x$propensity[, 2L] else apply(x$propensity, 1L, min)
  data.frame(treatment = x$treatment, propensity = e,
             status = factor(ifelse(x$keep, "kept", "dropped"), c("kept", "dropped")),
             scale = if (two) paste("Propensity of", arm_text(x, 2L)) else "Smallest propensity over the arms",
             stringsAsFactors = FALSE)
}

#' Positivity metrics of a weight model
#'
#' How well the arms overlap, per arm: the number of units, the effective
#' sample size before and after weighting (\eqn{(\sum w)^2 / \sum w^2}, with
#' sampling weights), the smallest propensity of the arm each unit received
#' and how many units received an arm they had less than a 5% (1%) chance
#' of receiving (their weights explode), the largest weight, and -- given a
#' positivity rule -- the share of the arm outside its support.
#'
#' The cross-covariance score (as causallib's `cross_covariance_score()`)
#' summarises how far each arm's covariates lie from the other arms' mean:
#' for each arm \eqn{k}, the covariance matrix of the units outside arm
#' \eqn{k} around the mean of arm \eqn{k} (covariates standardized to mean 0
#' and variance 1 over all units, divisor \eqn{n - 1}); the score is the sum
#' over arms of the largest absolute entry (with `off_diagonal = TRUE`, the
#' largest off-diagonal entry). It grows when the arms sit in different
#' regions of the covariate space.
#'
#' @inheritParams positivity_trim
#' @param positivity `NULL`, or a `causal_positivity` rule found on the same
#'   units, for the share out of support.
#' @param off_diagonal Use only off-diagonal entries in the cross-covariance
#'   score?
#' @return A data frame with one row per arm (class
#'   `causal_positivity_metrics`) and the cross-covariance score as the
#'   attribute `"cross_covariance"`.
#' @examples
#' ps <- ipw(qsmk ~ sex + race + age + education + smokeintensity + smokeyrs +
#'             exercise + active + wt71, data = nhefs)
#' positivity_metrics(ps, positivity = positivity_trim(ps, 0.05))
#' @export
positivity_metrics <- function(fit, positivity = NULL, off_diagonal = FALSE) {
  src <- positivity_source(fit, NULL, rlang::caller_env())
  check_bool(off_diagonal, "off_diagonal")
  wm <- src$model
  a <- src$treatment
  sw <- src$sampling_weights
  own <- src$propensity[cbind(seq_along(a), as.integer(a))]
  w <- wm$weights
  arm_min <- function(v) vapply(split(v, a), function(z) if (length(z)) min(z) else NA_real_, numeric(1))
  arm_max <- function(v) vapply(split(v, a), function(z) if (length(z)) max(z) else NA_real_, numeric(1))
  out <- data.frame(
    treatment = levels(a), n = as.vector(table(a)), ess = arm_ess(sw, a), ess_weighted = arm_ess(sw * w, a),
    min_propensity = arm_min(own), below_0.05 = as.vector(table(a[own < 0.05])),
    below_0.01 = as.vector(table(a[own < 0.01])), max_weight = arm_max(w),
    stringsAsFactors = FALSE, check.names = FALSE, row.names = NULL
  )
  if (!is.null(positivity)) {
    if (!inherits(positivity, "causal_positivity") || length(positivity$keep) != length(a)) {
      cli::cli_abort("{.arg positivity} must be a rule found on the {length(a)} units of {.arg fit}.")
    }
    out$out_of_support <- as.vector(table(a[!positivity$keep])) / out$n
  }
  x <- as.matrix(covariate_matrix(wm))
  attr(out, "cross_covariance") <- if (ncol(x)) cross_covariance_score(x, a, off_diagonal)
  class(out) <- c("causal_positivity_metrics", "data.frame")
  out
}

# The cross-covariance score of the covariates x (standardized over all
# units): for each arm, the covariance of the other units around that arm's
# mean; the sum over arms of its largest absolute (off-diagonal) entry.
cross_covariance_score <- function(x, a, off_diagonal = FALSE) {
  s <- apply(x, 2L, stats::sd)
  x <- x[, s > 0, drop = FALSE]
  x <- scale(x, center = TRUE, scale = s[s > 0])
  total <- 0
  for (k in seq_len(nlevels(a))) {
    inside <- as.integer(a) == k
    z <- sweep(x[!inside, , drop = FALSE], 2L, colMeans(x[inside, , drop = FALSE]))
    cc <- abs(crossprod(z) / (nrow(z) - 1))
    if (off_diagonal) diag(cc) <- 0
    total <- total + max(cc)
  }
  total
}

#' @export
print.causal_positivity_metrics <- function(x, digits = 3, ...) {
  cat("Positivity metrics by arm\n")
  print(format(as.data.frame(unclass(x), check.names = FALSE), digits = digits), row.names = FALSE)
  score <- attr(x, "cross_covariance")
  if (!is.null(score)) cat("Cross-covariance score:", format(score, digits = digits), "\n")
  invisible(x)
}

#' Sensitivity of an IPW effect to extreme weights
#'
#' The effect and its interval across the usual remedies for extreme
#' weights, each a refit of the weight model: trimming (the units with a
#' propensity inside `[t, 1 - t]`, the weight model refitted on them, for
#' each `t` in `trim` and Crump et al.'s threshold), truncation (weights
#' capped at their `q` quantile, for each `q` in `truncate`) and overlap
#' weights (`estimand = "ATO"`). Trimming and overlap weights change the
#' population the effect describes (the `population` column says which);
#' truncation changes the weights of the same population, trading bias for
#' variance. Overlap weights are refitted with `stabilize = FALSE`, whatever
#' the fit's `stabilize`: ATO weights are not stabilized (their `note`
#' says so).
#'
#' @param fit An [ipw()] or [ipw_fit()] model.
#' @param outcome The outcome, as in [estimate_effect()].
#' @param trim Trimming thresholds in (0, 0.5); `NULL` for none.
#' @param crump Include Crump et al.'s optimal trimming?
#' @param truncate Truncation quantiles in (0.5, 1]; `NULL` for none.
#' @param overlap Include overlap weights?
#' @param conf_level Confidence level of the intervals.
#' @return A data frame (class `causal_positivity_sensitivity`) with one row
#'   per setting and contrast: `setting`, `value`, `population`, `n`,
#'   `term`, `estimate`, `std.error`, `conf.low`, `conf.high`, and `note`
#'   (how a refit differs from the fit beyond its setting, otherwise `""`),
#'   which `print()` shows under the table. `autoplot()` draws it.
#' @examples
#' d <- nhefs[!is.na(nhefs$wt82_71), ]
#' ps <- ipw(qsmk ~ sex + race + age + education + smokeintensity + smokeyrs +
#'             exercise + active + wt71, data = d)
#' grid <- positivity_sensitivity(ps, outcome = wt82_71)
#' grid
#' @export
positivity_sensitivity <- function(fit, outcome, trim = c(0.01, 0.05, 0.1), crump = TRUE,
                                   truncate = c(0.99, 0.95), overlap = TRUE, conf_level = 0.95) {
  if (!inherits(fit, "causallib_ipw")) {
    cli::cli_abort("{.arg fit} must be an {.fn ipw} model, not {.obj_type_friendly {fit}}.")
  }
  for (t in trim) check_number(t, "trim", min = 0, max = 0.5, open = c(TRUE, TRUE))
  for (q in truncate) check_number(q, "truncate", min = 0.5, max = 1, open = c(TRUE, FALSE))
  check_bool(crump, "crump")
  check_bool(overlap, "overlap")
  check_conf_level(conf_level)
  quo <- rlang::enquo(outcome)
  y <- fit_outcome(fit, quo)
  row <- function(setting, value, model, population, keep = NULL, note = "") {
    yy <- if (is.null(keep)) y else y[keep]
    est <- tidy(estimate_effect(model, outcome = !!yy, conf_level = conf_level))
    data.frame(setting = setting, value = value, population = population, n = model$n,
               est[c("term", "estimate", "std.error", "conf.low", "conf.high")], note = note,
               stringsAsFactors = FALSE)
  }
  rows <- list(row("none", NA_real_, fit, "as fitted"))
  trims <- c(lapply(trim, function(t) list(threshold = t, value = t)),
             if (crump) list(list(threshold = "crump", value = NA_real_)))
  for (tr in trims) {
    rule <- positivity_trim(fit, tr$threshold)
    keep <- which(rule$keep)
    value <- if (is.na(tr$value)) rule$rule$alpha[1L] else tr$value
    rows[[length(rows) + 1L]] <- row(if (is.na(tr$value)) "trim (Crump)" else "trim", value,
                                     refit(fit, rows = keep), rule$population, keep)
  }
  for (q in truncate) {
    f <- fit
    f$options$truncate <- q
    rows[[length(rows) + 1L]] <- row("truncate", q, refit(f), "as fitted")
  }
  if (overlap) {
    f <- fit
    f$options$estimand <- "ATO"
    f$options$stabilize <- FALSE
    rows[[length(rows) + 1L]] <- row("overlap weights", NA_real_, refit(f), "the overlap population (ATO weights)",
                                     note = "ATO weights, refitted with stabilize = FALSE (they are not stabilized)")
  }
  out <- do.call(rbind, rows)
  rownames(out) <- NULL
  class(out) <- c("causal_positivity_sensitivity", "data.frame")
  out
}

#' @export
print.causal_positivity_sensitivity <- function(x, digits = 3, ...) {
  cat("Sensitivity of the effect to extreme weights\n")
  d <- as.data.frame(unclass(x))
  d$value <- ifelse(is.na(d$value), "", vapply(d$value, format, "", digits = digits))
  print(format(d[c("setting", "value", "n", "term", "estimate", "std.error", "conf.low", "conf.high")],
               digits = digits), row.names = FALSE)
  noted <- unique(d[nzchar(d$note), c("setting", "note")])
  if (nrow(noted)) cat(paste0("Note: ", noted$setting, ": ", noted$note, "\n"), sep = "")
  invisible(x)
}

#' @exportS3Method ggplot2::autoplot
autoplot.causal_positivity_sensitivity <- function(object, ...) {
  rlang::check_dots_empty()
  d <- sensitivity_plot_data(object)
  ref <- d$estimate[d$setting == "none"]
  ggplot2::ggplot(d, ggplot2::aes(x = .data$estimate, y = .data$label, xmin = .data$conf.low,
                                  xmax = .data$conf.high)) +
    ggplot2::geom_vline(xintercept = ref, linetype = 2L, colour = "grey50") +
    ggplot2::geom_pointrange() +
    ggplot2::facet_wrap(ggplot2::vars(.data$term), scales = "free_x") +
    ggplot2::labs(x = "Effect", y = NULL, title = "Sensitivity of the IPW effect to extreme weights",
                  subtitle = "dashed: as fitted") +
    ggplot2::theme_minimal()
}

#' @export
plot.causal_positivity_sensitivity <- function(x, ...) {
  print(autoplot.causal_positivity_sensitivity(x, ...))
  invisible(x)
}

# The rows autoplot() draws, labelled "trim 0.05 (n = 1500)" and ordered
# as the table.
sensitivity_plot_data <- function(x) {
  d <- as.data.frame(unclass(x))
  label <- paste0(d$setting, ifelse(is.na(d$value), "", paste0(" ", vapply(d$value, format, "", digits = 3L))),
                  " (n = ", d$n, ")")
  d$label <- factor(label, rev(unique(label)))
  d
}
