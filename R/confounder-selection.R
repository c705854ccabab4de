# Confounder selection: which candidate covariates an outcome or weight
# model should adjust for. Filters first (constant, sparse, correlated,
# weakly associated covariates), then double-selection lasso (Belloni,
# Chernozhukov and Hansen 2014) or recursive elimination with any learner.
# The unit of selection is a candidate *variable* -- a term of the formula
# that does not involve the treatment -- whose model-matrix columns enter
# the lassos individually; a variable is kept when any of its columns is.

#' Select confounders for a causal model
#'
#' Chooses which candidate covariates of `outcome ~ treatment + candidates`
#' to adjust for, and returns them with a formula ready for
#' [standardization()], [aipw()] or [ipw()]. Optional filters come first;
#' then one of two methods:
#'
#' * `"double_lasso"` (double selection, Belloni, Chernozhukov and Hansen
#'   2014): a lasso of the outcome on the candidates (without the
#'   treatment) and a lasso of the treatment on the candidates (logistic
#'   for two levels, multinomial for more); the selected covariates are the
#'   union of the two sets plus those in `keep`. A covariate that predicts
#'   the treatment strongly is kept even when its association with the
#'   outcome is too weak for the outcome lasso to find, which is what makes
#'   the post-selection estimate of the effect trustworthy.
#' * `"recursive_elimination"`: backward elimination (as causallib's
#'   `RecursiveConfounderElimination` and scikit-learn's RFE). A learner is
#'   fitted, the covariate of least importance is dropped and the learner
#'   refitted, until `n_keep` covariates remain. Nothing global is
#'   optimized: each step keeps the covariates the current model finds most
#'   important. Importance is the norm of a variable's standardized
#'   coefficients (coefficient times the column's standard deviation, over
#'   its columns and treatment levels) for [lrn_glm()]; for any other
#'   learner the increase in in-sample loss (squared error, or the
#'   log-likelihood loss of a binary outcome or of the treatment) when the
#'   variable's columns are permuted together (set a seed). `target` says
#'   whether the outcome model (with the treatment, which is never
#'   eliminated), the treatment model or both are used; with `"both"` a
#'   variable's importance is the larger of its two importances, each
#'   divided by the largest of its model.
#'
#' Selection is of candidate *variables*, the terms of the formula: a
#' factor, `poly()` or interaction term is kept or dropped as a whole. Its
#' model-matrix columns enter the lassos individually (not as a group), and
#' the term is kept when either lasso selects any of its columns. Sampling
#' weights are not supported.
#'
#' @section The plug-in penalty:
#' With `lambda = "plugin"` each lasso minimizes
#' \deqn{\frac1n \sum_i \ell(z_i, \alpha + x_i'\beta) + \frac{\lambda}{n} \sum_j \psi_j |\beta_j|}{(1/n) sum_i loss_i + (lambda/n) sum_j psi_j |beta_j|}
#' where \eqn{\ell} is half the squared error (gaussian) or the negative
#' log-likelihood (binomial, poisson, multinomial), and
#' \eqn{\lambda = c\sqrt{n}\,\Phi^{-1}(1 - \gamma/(2p))} with \eqn{c = 1.1},
#' \eqn{\gamma = 0.1/\log n} and \eqn{p} the number of columns (times the
#' number of levels for a multinomial treatment). This is Belloni et al.'s
#' penalty (their least-squares objective is twice ours, and so is their
#' \eqn{\lambda}). The loadings are heteroskedasticity-robust,
#' \eqn{\psi_j = \sqrt{\frac1n\sum_i (x_{ij} - \bar x_j)^2 r_i^2}}{psi_j = sqrt(mean((x_ij - mean(x_j))^2 r_i^2))}
#' with residuals \eqn{r_i = z_i - \hat\mu_i}: first from the mean of
#' \eqn{z}, then iterated (at most 15 times, until the selected set no
#' longer changes) from the post-lasso least-squares fit (gaussian) or
#' from the lasso's fitted means (other families); for a multinomial
#' treatment, the largest loading over the levels. The lasso itself is
#' [glmnet::glmnet()] with `standardize = FALSE` (the loadings carry each
#' column's scale, so the selection does not depend on units). With
#' `"cv_min"` or `"cv_1se"` the penalty is [glmnet::cv.glmnet()]'s
#' `lambda.min` or `lambda.1se` (standardized columns; folds drawn with R's
#' random number generator).
#'
#' @section What inference remains valid:
#' Double selection gives valid confidence intervals for the treatment
#' effect when the effect is then estimated by an outcome regression on the
#' treatment and the selected covariates (or a doubly robust estimator
#' using them), uniformly over approximately sparse data-generating
#' processes in the partially linear model \eqn{y = \tau a + g(x) + e},
#' \eqn{a = m(x) + v} (Belloni, Chernozhukov and Hansen 2014, Theorem 1);
#' the usual standard errors apply, as if the selected set had been fixed in
#' advance. The same argument covers a logistic treatment lasso (Belloni,
#' Chernozhukov and Wei 2016); the multinomial lasso of a treatment with
#' three or more levels is our extension of it, and cross-validated
#' penalties are outside the theory (they tune prediction, and tend to keep
#' more covariates). This does not extend to a model chosen by looking at the
#' outcome alone: selecting on the outcome lasso only (dropping covariates
#' that predict the treatment but weakly the outcome), recursive
#' elimination and the `weak` filter all use the outcome, and the intervals
#' computed after them ignore the selection and can under-cover (Leeb and
#' Pötscher 2005). Filters that look only at the covariates (constant,
#' sparse, correlated) do not use the outcome, but they change the target
#' when they drop a confounder. Under recursive elimination, treat the
#' intervals as descriptive, or split the sample: select on one half,
#' estimate on the other.
#'
#' @param formula A formula `outcome ~ treatment + candidates`. Terms that
#'   involve the treatment (such as `treatment:age`) are not candidates;
#'   every other term is (a factor, `poly()` or `I()` term as a whole).
#' @param data A data frame.
#' @param treatment The treatment variable: its name as a string or a bare
#'   name. It must appear in `formula`.
#' @param method `"double_lasso"` or `"recursive_elimination"`.
#' @param keep Candidates always kept (names of terms, such as `"age"` or
#'   `"I(age^2)"`), exempt from the filters and from elimination.
#' @param lambda The lasso penalty: `"plugin"` (Belloni et al.'s, see
#'   below), `"cv_min"` or `"cv_1se"` (cross-validated).
#' @param family The outcome's family: `NULL` (binomial for a 0/1 outcome,
#'   gaussian otherwise), or `"gaussian"`, `"binomial"` or `"poisson"`.
#' @param filters The filters applied before selection, from
#'   [selection_filters()].
#' @param n_keep Recursive elimination: how many candidates to keep (those
#'   in `keep` count); by default half of the candidates that pass the
#'   filters, rounded up.
#' @param target Recursive elimination: rank covariates by their importance
#'   in the `"outcome"` model, the `"treatment"` model, or `"both"`.
#' @param learner,treatment_learner Recursive elimination: the outcome and
#'   treatment learners (by default [lrn_glm()] with the outcome's family,
#'   and a logistic or multinomial [lrn_glm()]).
#' @param na_action `"fail"` (the default) stops on missing values;
#'   `"omit"` drops the rows that have them.
#' @return A `causal_selection`: `$selected` (the kept candidates),
#'   `$table` (one row per candidate: `variable`, `kept`, `reason`,
#'   `outcome_coef`, `treatment_coef`, and for recursive elimination
#'   `importance` and `step`), `$coefficients` (the lassos' coefficients per
#'   column), `$lambda`, and methods [formula()][formula.causal_selection],
#'   `print()`, `summary()`, `tidy()` and `autoplot()`.
#' @references
#' Belloni A, Chernozhukov V, Hansen C (2014). Inference on treatment
#' effects after selection among high-dimensional controls. *Review of
#' Economic Studies* 81(2), 608-650. \doi{10.1093/restud/rdt044}
#'
#' Belloni A, Chernozhukov V, Wei Y (2016). Post-selection inference for
#' generalized linear models with many controls. *Journal of Business &
#' Economic Statistics* 34(4), 606-619. \doi{10.1080/07350015.2016.1166116}
#'
#' Leeb H, Pötscher BM (2005). Model selection and inference: facts and
#' fiction. *Econometric Theory* 21(1), 21-59.
#' \doi{10.1017/S0266466605050036}
#' @seealso [selection_filters()], [standardization()], [aipw()]
#' @export
#' @examples
#' if (requireNamespace("glmnet", quietly = TRUE)) {
#'   sel <- select_confounders(
#'     wt82_71 ~ qsmk + sex + race + age + education + smokeintensity +
#'       smokeyrs + exercise + active + wt71 + alcoholfreq + asthma + bronch,
#'     data = nhefs, treatment = qsmk, na_action = "omit")
#'   sel
#'   formula(sel)
#'   fit <- standardization(formula(sel), data = nhefs, treatment = qsmk,
#'                          na_action = "omit")
#'   estimate_effect(fit)
#' }
#'
#' # Recursive elimination needs no glmnet
#' rfe <- select_confounders(wt82_71 ~ qsmk + sex + race + age + wt71 + asthma,
#'                           data = nhefs, treatment = "qsmk", na_action = "omit",
#'                           method = "recursive_elimination", n_keep = 3)
#' tidy(rfe)
select_confounders <- function(formula, data, treatment, method = "double_lasso", keep = NULL,
                               lambda = "plugin", family = NULL, filters = selection_filters(),
                               n_keep = NULL, target = "outcome", learner = NULL,
                               treatment_learner = NULL, na_action = "fail") {
  check_formula(formula)
  treatment <- treatment_name(rlang::enquo(treatment), formula)
  d <- new_design(formula, data, treatment, NULL, na_action, parent.frame())
  a <- as_treatment(d$design$vars[[treatment]], "treatment")
  y <- check_outcome(d$response, length(a))
  cov <- covariate_design(d$design)
  cx <- design_x(cov)
  labels <- attr(cov$terms, "term.labels")
  if (!length(labels)) {
    cli::cli_abort(c(
      "{.arg formula} has no candidate covariates: every term on its right-hand side involves the treatment {.val {treatment}}.",
      i = "Write {.code outcome ~ treatment + candidate1 + candidate2 + ...}."
    ))
  }
  cols <- cx$assign > 0L
  x <- cx$x[, cols, drop = FALSE]
  groups <- split(seq_len(ncol(x)), factor(labels[cx$assign[cols]], levels = labels))
  out <- selection_engine(x, groups, a, y, method, keep, lambda, family, filters, n_keep,
                          target, learner, treatment_learner)
  tt <- d$design$terms
  out$formulas <- selection_formulas(out$selected, d$design$response, treatment,
                                     attr(tt, "term.labels")[treatment_terms(tt, treatment)],
                                     environment(formula))
  out$call <- match.call()
  out$omitted <- d$omitted
  out
}

#' @describeIn select_confounders Matrix interface: `x` is a numeric
#'   matrix of candidates (each column a candidate, named by its column
#'   name), `a` the treatment and `y` the outcome. Its formulas are
#'   `y ~ a + <selected columns>` and `a ~ <selected columns>`.
#' @param x A numeric matrix (or data frame of numeric columns) of candidates.
#' @param a The treatment: a factor, or numeric, logical or character codes.
#' @param y The outcome, numeric or logical.
#' @export
select_confounders_fit <- function(x, a, y, method = "double_lasso", keep = NULL,
                                   lambda = "plugin", family = NULL,
                                   filters = selection_filters(), n_keep = NULL,
                                   target = "outcome", learner = NULL,
                                   treatment_learner = NULL) {
  x <- check_matrix(x)
  a <- as_treatment(a, "a")
  if (length(a) != nrow(x)) cli::cli_abort("{.arg a} has length {length(a)}, but {.arg x} has {nrow(x)} rows.")
  y <- check_outcome(y, nrow(x), "y")
  if (ncol(x) == 0L) cli::cli_abort("{.arg x} has no columns: there are no candidates to select from.")
  if (anyDuplicated(colnames(x))) {
    cli::cli_abort("{.arg x} has duplicated column names: {.val {unique(colnames(x)[duplicated(colnames(x))])}}.")
  }
  groups <- stats::setNames(as.list(seq_len(ncol(x))), colnames(x))
  out <- selection_engine(x, groups, a, y, method, keep, lambda, family, filters, n_keep,
                          target, learner, treatment_learner)
  out$formulas <- selection_formulas(backquote(out$selected), "y", "a", "a", parent.frame())
  out$call <- match.call()
  out
}

#' Filters applied before confounder selection
#'
#' Each filter drops candidates before [select_confounders()] selects among
#' the rest; `NULL` turns a filter off. Candidates in `keep` are never
#' dropped. Filters run in this order, each on the candidates the earlier
#' ones left:
#'
#' * `constant`: candidates with a single value (all their columns
#'   constant).
#' * `sparse`: candidates whose most common value (or row pattern, for a
#'   factor) covers more than this share of the rows.
#' * `correlated`: of each pair of candidates whose columns correlate with
#'   \eqn{|r|} above this cut, the one later in the formula is dropped (the
#'   earlier kept); pairs are visited from the most correlated down, and a
#'   pair with a member already dropped is skipped.
#' * `weak`: candidates whose association with both the treatment and the
#'   outcome has a p-value above this cut. The p-value of a candidate
#'   against a variable is the smallest p-value of Pearson's correlation
#'   test between its columns and the variable's (the treatment's
#'   indicators of its non-reference levels), times the number of column
#'   pairs (Bonferroni), capped at 1. This filter looks at the outcome, so
#'   intervals computed after it ignore the selection (see
#'   [select_confounders()]).
#'
#' @param constant Drop constant candidates?
#' @param sparse `NULL`, or a share in (0, 1) such as `0.99`.
#' @param correlated `NULL`, or an absolute correlation in (0, 1] such as
#'   `0.95`.
#' @param weak `NULL`, or a p-value cut in (0, 1) such as `0.5`.
#' @return A list of class `causallib_selection_filters`.
#' @export
#' @examples
#' selection_filters(sparse = 0.99, correlated = 0.9)
selection_filters <- function(constant = TRUE, sparse = NULL, correlated = NULL, weak = NULL) {
  check_bool(constant, "constant")
  if (!is.null(sparse)) check_number(sparse, "sparse", min = 0, max = 1, open = c(TRUE, TRUE))
  if (!is.null(correlated)) check_number(correlated, "correlated", min = 0, max = 1, open = c(TRUE, FALSE))
  if (!is.null(weak)) check_number(weak, "weak", min = 0, max = 1, open = c(TRUE, TRUE))
  structure(list(constant = constant, sparse = sparse, correlated = correlated, weak = weak),
            class = "causallib_selection_filters")
}

#' @export
print.causallib_selection_filters <- function(x, ...) {
  on <- Filter(function(v) !is.null(v) && !isFALSE(v), unclass(x))
  shown <- if (length(on)) paste(names(on), vapply(on, format, ""), sep = " = ", collapse = ", ") else "none"
  cat("Selection filters:", shown, "\n")
  invisible(x)
}

# The selection on the candidate matrix x, whose columns belong to the
# candidates `groups` (a named list of column indices), for treatment a (a
# factor) and outcome y: the filters, then the method, and the table of
# decisions every method reports.
selection_engine <- function(x, groups, a, y, method, keep, lambda, family, filters, n_keep,
                             target, learner, treatment_learner) {
  method <- rlang::arg_match0(method, c("double_lasso", "recursive_elimination"), "method")
  lambda <- rlang::arg_match0(lambda, c("plugin", "cv_min", "cv_1se"), "lambda")
  target <- rlang::arg_match0(target, c("outcome", "treatment", "both"), "target")
  family <- selection_family(family, y)
  if (!inherits(filters, "causallib_selection_filters")) {
    cli::cli_abort(c("{.arg filters} must come from {.fn selection_filters}, not {.obj_type_friendly {filters}}.",
                     i = "For example {.code filters = selection_filters(correlated = 0.95)}."))
  }
  keep <- check_keep(keep, names(groups))
  table <- data.frame(variable = names(groups), kept = FALSE, reason = NA_character_,
                      outcome_coef = NA_real_, treatment_coef = NA_real_, stringsAsFactors = FALSE)
  filtered <- apply_filters(x, groups, a, y, filters, keep)
  table$reason[match(names(filtered), table$variable)] <- filtered
  left <- setdiff(names(groups), names(filtered))
  if (!length(left)) {
    why <- vapply(split(names(filtered), sub(" \\(.*$", "", filtered)),
                  function(v) paste(v, collapse = ", "), "")
    cli::cli_abort(c(
      "No candidate is left after the filters: all {length(groups)} were dropped.",
      stats::setNames(paste0(names(why), ": ", why), rep("x", length(why))),
      i = "Relax {.arg filters} (see {.fn selection_filters}) or name covariates to keep in {.arg keep}."
    ))
  }
  out <- list(method = method, n = nrow(x), treatment_levels = levels(a), family = family,
              filters = filters, keep = keep)
  if (method == "double_lasso") {
    res <- double_selection(x, groups[left], a, y, family, lambda, keep)
    out$lambda <- res$lambda
    out$lambda_rule <- lambda
    out$coefficients <- res$coefficients
  } else {
    if (!is.null(n_keep)) check_count(n_keep, "n_keep", min = max(1L, length(keep)))
    n_keep <- min(n_keep %||% ceiling(length(left) / 2), length(left))
    res <- recursive_elimination(x, groups[left], a, y, family, keep, n_keep, target,
                                 learner, treatment_learner)
    out$n_keep <- n_keep
    out$target <- target
    table$importance <- NA_real_
    table$step <- NA_integer_
    rows <- match(names(res$importance), table$variable)
    table$importance[rows] <- res$importance
    table$step[rows] <- res$step
  }
  rows <- match(left, table$variable)
  table$reason[rows] <- res$reason[left]
  table$kept[rows] <- res$kept[left]
  if (!is.null(res$outcome_coef)) {
    table$outcome_coef[rows] <- res$outcome_coef[left]
    table$treatment_coef[rows] <- res$treatment_coef[left]
  }
  out$table <- table
  out$selected <- table$variable[table$kept]
  structure(out, class = "causal_selection")
}

selection_family <- function(family, y) {
  if (is.null(family)) return(if (all(y %in% c(0, 1))) "binomial" else "gaussian")
  family <- glm_family(family)
  check_glm_response(y, family)
  family
}

check_keep <- function(keep, candidates) {
  if (is.null(keep)) return(character(0))
  if (!is.character(keep) || anyNA(keep)) {
    cli::cli_abort("{.arg keep} must be a character vector of candidate names, not {.obj_type_friendly {keep}}.")
  }
  bad <- setdiff(keep, candidates)
  if (length(bad)) {
    cli::cli_abort(c(
      "{.arg keep} names {cli::qty(length(bad))}{?a covariate that is not a candidate/covariates that are not candidates}: {.val {bad}}.",
      i = "The candidates are {.val {candidates}}."
    ))
  }
  unique(keep)
}

# ---- filters --------------------------------------------------------------

# The candidates the filters drop, as a named character vector of reasons.
apply_filters <- function(x, groups, a, y, filters, keep) {
  dropped <- character(0)
  left <- function() setdiff(names(groups), c(names(dropped), keep))
  if (filters$constant) {
    spread <- apply(x, 2L, function(v) max(v) - min(v))
    const <- vapply(groups[left()], function(j) all(spread[j] == 0), logical(1))
    dropped <- c(dropped, stats::setNames(rep("constant", sum(const)), names(const)[const]))
  }
  if (!is.null(filters$sparse)) {
    share <- vapply(groups[left()], function(j) modal_share(x[, j, drop = FALSE]), numeric(1))
    sparse <- share > filters$sparse
    dropped <- c(dropped, stats::setNames(
      sprintf("sparse (%s at one value)", percent(share[sparse])), names(share)[sparse]))
  }
  if (!is.null(filters$correlated)) {
    dropped <- c(dropped, correlated_filter(x, groups, setdiff(names(groups), names(dropped)),
                                            keep, filters$correlated))
  }
  if (!is.null(filters$weak)) {
    cand <- left()
    z_a <- vapply(levels(a)[-1L], function(l) as.double(a == l), numeric(length(a)))
    p_a <- vapply(groups[cand], function(j) association_p(x[, j, drop = FALSE], z_a), numeric(1))
    p_y <- vapply(groups[cand], function(j) association_p(x[, j, drop = FALSE], cbind(y)), numeric(1))
    weak <- p_a > filters$weak & p_y > filters$weak
    dropped <- c(dropped, stats::setNames(
      sprintf("weak association (p = %s with treatment, %s with outcome)",
              format_p(p_a[weak]), format_p(p_y[weak])), cand[weak]))
  }
  dropped
}

# The share of rows at a matrix's most common row.
modal_share <- function(m) {
  key <- if (ncol(m) == 1L) m[, 1L] else do.call(paste, c(as.data.frame(m), sep = "\r"))
  max(tabulate(match(key, unique(key)))) / nrow(m)
}

# Of each pair of candidates (among `cand`) correlated above `cut`, the one
# later in the formula, unless it is kept by force (then the earlier, if
# it is not); pairs from the most correlated down.
correlated_filter <- function(x, groups, cand, keep, cut) {
  if (length(cand) < 2L) return(character(0))
  cols <- unlist(groups[cand], use.names = FALSE)
  owner <- rep(cand, lengths(groups[cand]))
  r <- suppressWarnings(stats::cor(x[, cols, drop = FALSE]))
  r[is.na(r)] <- 0
  k <- length(cand)
  pairs <- utils::combn(k, 2L)
  best <- apply(pairs, 2L, function(p) {
    block <- r[owner == cand[p[1L]], owner == cand[p[2L]], drop = FALSE]
    block[which.max(abs(block))]
  })
  order_pairs <- order(-abs(best))
  dropped <- character(0)
  for (i in order_pairs[abs(best[order_pairs]) > cut]) {
    pair <- cand[pairs[, i]]
    if (any(pair %in% names(dropped))) next
    forced <- pair %in% keep
    if (all(forced)) next
    lose <- if (forced[2L]) 1L else 2L
    dropped[pair[lose]] <- sprintf("correlated with %s (r = %s)", pair[3L - lose],
                                   formatC(best[i], format = "f", digits = 2))
  }
  dropped
}

# Bonferroni-adjusted smallest p-value of Pearson correlation tests between
# the columns of m and those of z.
association_p <- function(m, z) {
  n <- nrow(m)
  r <- suppressWarnings(stats::cor(m, z))
  r[is.na(r)] <- 0
  r <- pmin(abs(r), 1 - 1e-15)
  t <- r * sqrt((n - 2) / (1 - r^2))
  p <- 2 * stats::pt(-t, n - 2)
  min(1, min(p) * length(p))
}

percent <- function(v) sprintf("%.1f%%", 100 * v)
format_p <- function(p) format.pval(p, digits = 2, eps = 1e-4)

# ---- double selection -----------------------------------------------------

# The outcome lasso (without the treatment) and the treatment lasso on the
# columns of the candidates `groups`; a candidate is kept when any of its
# columns is selected by either, or when it is in `keep`.
double_selection <- function(x, groups, a, y, family, lambda, keep) {
  rlang::check_installed("glmnet", reason = "for double-selection lasso in `select_confounders()`.")
  cols <- unlist(groups, use.names = FALSE)
  xs <- x[, cols, drop = FALSE]
  owner <- rep(names(groups), lengths(groups))
  t_family <- if (nlevels(a) == 2L) "binomial" else "multinomial"
  z_a <- if (nlevels(a) == 2L) as.double(as.integer(a) == 2L) else a
  fit_y <- lasso_selection(xs, y, family, lambda)
  fit_a <- lasso_selection(xs, z_a, t_family, lambda)
  by_var <- function(v) tapply(v, factor(owner, levels = names(groups)), any)
  in_y <- by_var(fit_y$selected)
  in_a <- by_var(fit_a$selected)
  forced <- names(groups) %in% keep
  reason <- ifelse(in_y & in_a, "both lassos", ifelse(in_y, "outcome lasso",
                   ifelse(in_a, "treatment lasso", "not selected")))
  reason[forced & !(in_y | in_a)] <- "forced"
  reason <- stats::setNames(reason, names(groups))
  largest <- function(b) {
    v <- tapply(seq_along(b), factor(owner, levels = names(groups)), function(i) b[i][which.max(abs(b[i]))])
    stats::setNames(as.double(v), names(groups))
  }
  sds <- apply(xs, 2L, stats::sd)
  coefficients <- data.frame(
    column = rep(colnames(xs), 2L), variable = rep(owner, 2L),
    model = rep(c("outcome", "treatment"), each = length(cols)),
    estimate = c(fit_y$coef, fit_a$coef), standardized = c(fit_y$coef, fit_a$coef) * sds,
    stringsAsFactors = FALSE
  )
  list(kept = stats::setNames(in_y | in_a | forced, names(groups)), reason = reason,
       outcome_coef = largest(fit_y$coef), treatment_coef = largest(fit_a$coef),
       lambda = c(outcome = fit_y$lambda, treatment = fit_a$lambda), coefficients = coefficients)
}

# A lasso of z on the columns of x with an unpenalized intercept: the
# coefficient of each column (for a multinomial treatment the largest in
# absolute value over the levels), which are selected, and the penalty
# on glmnet's scale.
lasso_selection <- function(x, z, family, lambda) {
  usable <- apply(x, 2L, function(v) max(v) > min(v))
  coef <- stats::setNames(numeric(ncol(x)), colnames(x))
  if (!any(usable)) return(list(coef = coef, selected = coef != 0, lambda = NA_real_))
  xu <- x[, usable, drop = FALSE]
  # glmnet needs two columns; a column of zeros is never selected.
  if (ncol(xu) == 1L) xu <- cbind(xu, .zero = 0)
  res <- if (lambda == "plugin") plugin_lasso(xu, z, family, sum(usable)) else cv_lasso(xu, z, family, lambda)
  coef[usable] <- res$coef[seq_len(sum(usable))]
  list(coef = coef, selected = coef != 0, lambda = res$lambda)
}

# Coefficients of a glmnet fit at its one penalty, without the intercept:
# a vector, or for a multinomial fit the largest in absolute value per
# column over the levels.
glmnet_coef <- function(fit, s = NULL) {
  b <- stats::coef(fit, s = s)
  if (is.list(b)) {
    m <- vapply(b, function(bk) as.double(bk[-1L, 1L]), numeric(nrow(b[[1L]]) - 1L))
    m <- matrix(m, ncol = length(b))
    return(m[cbind(seq_len(nrow(m)), max.col(abs(m), ties.method = "first"))])
  }
  as.double(b[-1L, 1L])
}

# The plug-in lasso of Belloni, Chernozhukov and Hansen with
# heteroskedasticity-robust loadings (see ?select_confounders): glmnet
# rescales penalty factors to sum to the number of columns, so its lambda
# is lambda / n times the mean loading.
plugin_lasso <- function(x, z, family, p = ncol(x), c = 1.1, max_iter = 15L) {
  n <- nrow(x)
  zm <- if (is.factor(z)) stats::model.matrix(~ z + 0) else cbind(z)
  p <- p * ncol(zm)
  lambda <- c * sqrt(n) * stats::qnorm(1 - 0.1 / log(n) / (2 * p))
  xc <- sweep(x, 2L, colMeans(x))
  resid <- sweep(zm, 2L, colMeans(zm))
  selected <- NULL
  for (iter in seq_len(max_iter)) {
    psi <- apply(sqrt(crossprod(xc^2, resid^2) / n), 1L, max)
    psi <- pmax(psi, 1e-8 * max(psi))
    fit <- glmnet::glmnet(x, z, family = family, lambda = lambda / n * mean(psi),
                          penalty.factor = psi, standardize = FALSE)
    coef <- glmnet_coef(fit)
    now <- coef != 0
    if (identical(now, selected)) break
    selected <- now
    resid <- zm - plugin_fitted(fit, x, z, family, now)
  }
  list(coef = coef, lambda = lambda / n * mean(psi), loadings = psi, iterations = iter)
}

# The fitted means the next loadings are computed from: the post-lasso
# least-squares fit on the selected columns (gaussian; Belloni et al.'s
# algorithm), or the lasso's own fitted means (other families, where an
# unpenalized refit may not exist under separation).
plugin_fitted <- function(fit, x, z, family, selected) {
  if (family != "gaussian") {
    mu <- stats::predict(fit, newx = x, type = "response")
    return(if (length(dim(mu)) == 3L) mu[, , 1L] else cbind(mu[, 1L]))
  }
  design <- cbind("(Intercept)" = 1, x[, selected, drop = FALSE])
  post <- learner_fit(lrn_glm("gaussian"), design, z)
  cbind(learner_predict(post, design))
}

cv_lasso <- function(x, z, family, lambda) {
  s <- if (lambda == "cv_min") "lambda.min" else "lambda.1se"
  fit <- glmnet::cv.glmnet(x, z, family = family)
  list(coef = glmnet_coef(fit, s = s), lambda = fit[[s]])
}

# ---- recursive elimination -------------------------------------------------

# Backward elimination: fit, drop the least important candidate that is not
# kept by force, refit, until n_keep remain (or only forced ones could go).
recursive_elimination <- function(x, groups, a, y, family, keep, n_keep, target, learner,
                                  treatment_learner) {
  learner <- learner %||% lrn_glm(family)
  check_learner(learner, "learner")
  treatment_learner <- treatment_learner %||% lrn_glm()
  check_treatment_learner(treatment_learner, "treatment_learner")
  left <- names(groups)
  importance <- stats::setNames(rep(NA_real_, length(left)), left)
  step <- stats::setNames(rep(NA_integer_, length(left)), left)
  k <- 0L
  repeat {
    imp <- candidate_importance(x, groups[left], a, y, family, target, learner, treatment_learner)
    droppable <- setdiff(left, keep)
    if (length(left) <= n_keep || !length(droppable)) break
    k <- k + 1L
    worst <- droppable[which.min(imp[droppable])]
    importance[worst] <- imp[worst]
    step[worst] <- k
    left <- setdiff(left, worst)
  }
  importance[left] <- imp[left]
  ranks <- rank(-imp[left], ties.method = "first")
  reason <- stats::setNames(sprintf("eliminated at step %d", step), names(groups))
  reason[left] <- ifelse(left %in% keep, "forced",
                         sprintf("kept (importance rank %d of %d)", ranks, length(left)))
  list(kept = stats::setNames(names(groups) %in% left, names(groups)), reason = reason,
       importance = importance, step = step)
}

# Importance of each candidate in the outcome model (with the treatment's
# indicators), the treatment model, or the larger of the two, each scaled
# by its largest.
candidate_importance <- function(x, groups, a, y, family, target, learner, treatment_learner) {
  cols <- unlist(groups, use.names = FALSE)
  owner <- rep(names(groups), lengths(groups))
  xs <- x[, cols, drop = FALSE]
  one <- cbind("(Intercept)" = 1)[rep(1L, nrow(x)), , drop = FALSE]
  out <- list()
  if (target != "treatment") {
    arms <- vapply(levels(a)[-1L], function(l) as.double(a == l), numeric(length(a)))
    arms <- matrix(arms, nrow(x), dimnames = list(NULL, paste0(".treatment", levels(a)[-1L])))
    design <- cbind(one, arms, xs)
    out$outcome <- learner_importance(learner, design, y, owner, 1L + ncol(arms), family)
  }
  if (target != "outcome") {
    design <- cbind(one, xs)
    out$treatment <- learner_importance(treatment_learner, design, a, owner, 1L, family)
  }
  if (length(out) == 1L) return(out[[1L]])
  scaled <- lapply(out, function(v) v / max(max(v), .Machine$double.xmin))
  pmax(scaled$outcome, scaled$treatment)
}

# A learner's importance of the candidates whose columns (after the first
# `skip` columns of the design) belong to `owner`: the norm of standardized
# coefficients for lrn_glm() fits, otherwise the in-sample loss increase
# when a candidate's columns are permuted together.
learner_importance <- function(learner, design, z, owner, skip, family) {
  fit <- learner_fit(learner, design, z)
  cand <- unique(owner)
  own <- factor(owner, levels = cand)
  cols <- skip + seq_along(owner)
  if (inherits(fit, "causallib_glm_fit")) {
    b <- as.matrix(fit$coefficients)[cols, , drop = FALSE]
    b[is.na(b)] <- 0
    b <- b * apply(design[, cols, drop = FALSE], 2L, stats::sd)
    return(stats::setNames(as.double(tapply(rowSums(b^2), own, function(v) sqrt(sum(v)))), cand))
  }
  base <- prediction_loss(learner_predict(fit, design), z, family)
  perm <- sample.int(nrow(design))
  vapply(stats::setNames(cand, cand), function(v) {
    shuffled <- design
    j <- cols[owner == v]
    shuffled[, j] <- design[perm, j, drop = FALSE]
    prediction_loss(learner_predict(fit, shuffled), z, family) - base
  }, numeric(1))
}

# Mean loss of predictions: log-likelihood loss of the observed level's
# probability for a treatment, of a binary outcome's mean, squared error
# otherwise.
prediction_loss <- function(pred, z, family) {
  eps <- 1e-12
  if (is.factor(z)) return(-mean(log(pmax(pred[cbind(seq_along(z), as.integer(z))], eps))))
  if (family == "binomial") {
    pred <- pmin(pmax(pred, eps), 1 - eps)
    return(-mean(z * log(pred) + (1 - z) * log(1 - pred)))
  }
  mean((z - pred)^2)
}

# ---- results ---------------------------------------------------------------

# The outcome formula `response ~ <treatment terms> + selected` (the terms
# of the formula that involve the treatment; those that also involve a
# dropped candidate's variables are dropped with it) and the propensity
# formula `treatment ~ selected`.
selection_formulas <- function(selected, response, treatment, treatment_labels, env) {
  kept_vars <- unique(unlist(lapply(selected, function(s) all.vars(str2lang(s)))))
  uses_dropped <- vapply(treatment_labels, function(t) {
    !all(setdiff(all.vars(str2lang(t)), treatment) %in% kept_vars)
  }, logical(1))
  t_terms <- treatment_labels[!uses_dropped]
  rhs <- function(terms) if (length(terms)) paste(terms, collapse = " + ") else "1"
  list(outcome = stats::as.formula(paste(response, "~", rhs(c(t_terms, selected))), env = env),
       propensity = stats::as.formula(paste(backquote(treatment), "~", rhs(selected)), env = env))
}

backquote <- function(x) {
  ifelse(make.names(x) == x, x, paste0("`", x, "`"))
}

#' Formulas of a confounder selection
#'
#' @param x A [select_confounders()] result.
#' @param which `"outcome"` (`outcome ~ treatment + selected`, for
#'   [standardization()] and the outcome model of [aipw()]) or
#'   `"propensity"` (`treatment ~ selected`, for [ipw()]).
#' @param ... Unused.
#' @return A formula, in the environment of the formula given to
#'   [select_confounders()].
#' @export
#' @examples
#' sel <- select_confounders(wt82_71 ~ qsmk + sex + race + age + wt71, data = nhefs,
#'                           treatment = qsmk, na_action = "omit",
#'                           method = "recursive_elimination", n_keep = 2)
#' formula(sel)
#' formula(sel, "propensity")
formula.causal_selection <- function(x, which = "outcome", ...) {
  which <- rlang::arg_match0(which, c("outcome", "propensity"), "which")
  x$formulas[[which]]
}

selection_method_label <- function(x) {
  if (x$method == "recursive_elimination") {
    return(sprintf("recursive elimination (%s model%s)", x$target, if (x$target == "both") "s" else ""))
  }
  rule <- c(plugin = "plug-in", cv_min = "cross-validated, lambda.min", cv_1se = "cross-validated, lambda.1se")
  sprintf("double-selection lasso (penalty: %s)", rule[[x$lambda_rule]])
}

#' @export
print.causal_selection <- function(x, ...) {
  tab <- x$table
  cat("Confounder selection:", selection_method_label(x), "\n")
  cat(sprintf("%d of %d candidates kept (n = %d)\n\n", sum(tab$kept), nrow(tab), x$n))
  shown <- data.frame(variable = tab$variable, decision = ifelse(tab$kept, "kept", "dropped"),
                      reason = tab$reason, stringsAsFactors = FALSE)
  print(shown, row.names = FALSE, right = FALSE)
  invisible(x)
}

#' Summarize a confounder selection
#'
#' @param object A [select_confounders()] result.
#' @param ... Unused.
#' @return A `summary.causal_selection`: the method, the counts of
#'   candidates by reason, the penalties, and the formula.
#' @export
#' @examples
#' sel <- select_confounders(wt82_71 ~ qsmk + sex + race + age + wt71, data = nhefs,
#'                           treatment = qsmk, na_action = "omit",
#'                           method = "recursive_elimination", n_keep = 2)
#' summary(sel)
summary.causal_selection <- function(object, ...) {
  tab <- object$table
  counts <- as.data.frame(table(kept = ifelse(tab$kept, "kept", "dropped"),
                                reason = sub(" \\(.*$", "", tab$reason)), stringsAsFactors = FALSE)
  counts <- counts[counts$Freq > 0, , drop = FALSE]
  names(counts)[3L] <- "n"
  counts <- counts[order(counts$kept != "kept", -counts$n), , drop = FALSE]
  rownames(counts) <- NULL
  structure(list(method = selection_method_label(object), n = object$n,
                 candidates = nrow(tab), selected = object$selected, counts = counts,
                 lambda = object$lambda, formula = stats::formula(object),
                 inference = selection_inference(object)),
            class = "summary.causal_selection")
}

#' @export
print.summary.causal_selection <- function(x, ...) {
  cat("Confounder selection:", x$method, "\n")
  cat(sprintf("n = %d; %d of %d candidates kept\n\n", x$n, length(x$selected), x$candidates))
  print(x$counts, row.names = FALSE, right = FALSE)
  if (!is.null(x$lambda)) {
    cat("\nPenalty (glmnet scale):", paste(names(x$lambda), format(x$lambda, digits = 3),
                                            sep = " ", collapse = ", "), "\n")
  }
  cat("\nFormula:", paste(deparse(x$formula, width.cutoff = 500L), collapse = " "), "\n")
  cat("Inference:", x$inference, "\n")
  invisible(x)
}

# What a summary says of intervals computed after the selection.
selection_inference <- function(x) {
  if (x$method != "double_lasso" || !is.null(x$filters$weak)) {
    return("the selection used the outcome alone; intervals computed after it ignore the selection.")
  }
  if (x$lambda_rule != "plugin") {
    return("double selection with cross-validated penalties, which the theory of valid post-selection intervals does not cover.")
  }
  "double selection with the plug-in penalty; intervals for the effect from this formula are valid (Belloni et al. 2014)."
}

#' Tidy a confounder selection
#'
#' @param x A [select_confounders()] result.
#' @param ... Unused.
#' @return A data frame with one row per candidate: `variable`, `kept`,
#'   `reason`, `outcome_coef` and `treatment_coef` (the lassos'
#'   coefficients; for a variable with several columns the one largest in
#'   absolute value; `NA` when it was filtered out or for recursive
#'   elimination), and for recursive elimination `importance` (at the step it
#'   was eliminated, or in the final model) and `step`.
#' @export
#' @examples
#' sel <- select_confounders(wt82_71 ~ qsmk + sex + race + age + wt71, data = nhefs,
#'                           treatment = qsmk, na_action = "omit",
#'                           method = "recursive_elimination", n_keep = 2)
#' tidy(sel)
tidy.causal_selection <- function(x, ...) {
  x$table
}

#' Plot a confounder selection
#'
#' For double selection, the standardized coefficients (coefficient times
#' the column's standard deviation) of each column in the outcome and the
#' treatment lasso; for recursive elimination, each candidate's importance
#' (at the step it was eliminated, or in the final model). Kept candidates
#' are drawn filled, dropped ones hollow; filtered candidates are not
#' drawn. `selection_plot_data()` returns the data frame the plot draws.
#'
#' @param object,x A [select_confounders()] result.
#' @param ... Unused.
#' @return A ggplot object; `selection_plot_data()` a data frame with
#'   columns `term` (a column of the design, or a candidate), `variable`,
#'   `model`, `value` and `kept`.
#' @exportS3Method ggplot2::autoplot
#' @examples
#' sel <- select_confounders(wt82_71 ~ qsmk + sex + race + age + wt71, data = nhefs,
#'                           treatment = qsmk, na_action = "omit",
#'                           method = "recursive_elimination", n_keep = 2)
#' selection_plot_data(sel)
#' if (requireNamespace("ggplot2", quietly = TRUE)) ggplot2::autoplot(sel)
autoplot.causal_selection <- function(object, ...) {
  rlang::check_dots_empty()
  rlang::check_installed("ggplot2", "to plot a confounder selection.")
  data <- selection_plot_data(object)
  lasso <- object$method == "double_lasso"
  p <- ggplot2::ggplot(data, ggplot2::aes(x = .data$value, y = .data$term, colour = .data$model,
                                          shape = .data$kept))
  if (lasso) p <- p + ggplot2::geom_vline(xintercept = 0, colour = "grey60")
  p + ggplot2::geom_point(size = 2.5) +
    ggplot2::scale_shape_manual(values = c(kept = 16, dropped = 1), drop = FALSE) +
    ggplot2::labs(x = if (lasso) "Standardized lasso coefficient" else "Importance", y = NULL,
                  colour = "Model", shape = NULL,
                  title = paste("Confounder selection:", selection_method_label(object))) +
    ggplot2::theme_minimal()
}

#' @rdname autoplot.causal_selection
#' @export
plot.causal_selection <- function(x, ...) {
  p <- autoplot.causal_selection(x, ...)
  print(p)
  invisible(p)
}

#' @rdname autoplot.causal_selection
#' @export
selection_plot_data <- function(x) {
  if (!inherits(x, "causal_selection")) {
    cli::cli_abort("{.arg x} must be a result of {.fn select_confounders}, not {.obj_type_friendly {x}}.")
  }
  tab <- x$table
  kept_of <- function(v) factor(ifelse(tab$kept[match(v, tab$variable)], "kept", "dropped"),
                                levels = c("kept", "dropped"))
  if (x$method == "double_lasso") {
    cf <- x$coefficients
    out <- data.frame(term = cf$column, variable = cf$variable, model = cf$model,
                      value = cf$standardized, stringsAsFactors = FALSE)
  } else {
    shown <- !is.na(tab$importance)
    out <- data.frame(term = tab$variable[shown], variable = tab$variable[shown],
                      model = x$target, value = tab$importance[shown], stringsAsFactors = FALSE)
  }
  out$kept <- kept_of(out$variable)
  out$term <- factor(out$term, levels = rev(unique(out$term)))
  out
}
