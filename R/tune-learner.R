#' Choose a learner by a causal score
#'
#' Grid search over learner settings: the model is refitted with every
#' candidate learner, each is evaluated by cross-validation on the same
#' folds ([evaluate()]), and the candidate with the lowest validation score
#' wins; the model is then refitted with it on all the data.
#'
#' Built-in scorers (lower is better), averaged over the validation folds:
#' * `"smd"`: the largest absolute weighted standardized mean difference
#'   (weight models; the default for them);
#' * `"weighted_auc"`: the distance of the IP-weighted ROC AUC from 0.5;
#' * `"calibration"`: the integrated calibration index;
#' * `"rmse"` (the default for outcome models), `"deviance"` (per unit).
#' Any other metric name of the evaluation's metrics table is averaged as
#' it is; a function receives the `causal_evaluation` and returns one
#' number.
#'
#' @param fit A fitted [ipw()], [matching()] or [standardization()] model.
#' @param grid A list of learners, or a data frame whose rows are
#'   arguments of [lrn_glm()] (e.g. `data.frame(penalty = c(0, 1, 10))`).
#' @param scorer A scorer name or a function of a `causal_evaluation`.
#' @param cv Number of cross-validation folds, drawn within each treatment
#'   level as in [evaluate()].
#' @return A `causallib_tuning` object: `best` (the refitted model),
#'   `scores` (a data frame with `candidate`, `learner` and `score`),
#'   `evaluations` and `learners`.
#' @export
#' @examples
#' fit <- ipw(qsmk ~ sex + race + age + I(age^2) + education + smokeintensity +
#'              smokeyrs + exercise + active + wt71, data = nhefs)
#' set.seed(1)
#' tuned <- tune_learner(fit, data.frame(penalty = c(0, 10, 100)), scorer = "smd", cv = 3)
#' tuned
tune_learner <- function(fit, grid, scorer = NULL, cv = 5) {
  learners <- learner_grid(grid)
  type <- evaluation_type(fit)
  if (!type %in% c("weight", "outcome")) {
    cli::cli_abort("{.fn tune_learner} tunes weight models ({.fn ipw}, {.fn matching}) and {.fn standardization} models.")
  }
  scorer <- scorer %||% if (type == "weight") "smd" else "rmse"
  score_of <- resolve_scorer(scorer)
  splits <- evaluation_splits(fit$treatment, cv, NULL)
  evaluations <- lapply(learners, function(l) {
    evaluate_splits(refit(fit, learner = l), splits, "cv")
  })
  scores <- vapply(evaluations, score_of, numeric(1))
  best <- which.min(scores)
  structure(list(
    best = refit(fit, learner = learners[[best]]),
    scores = data.frame(candidate = seq_along(learners),
                        learner = vapply(learners, learner_label, character(1)),
                        score = scores, stringsAsFactors = FALSE),
    best_index = best, scorer = if (is.character(scorer)) scorer else "custom",
    evaluations = evaluations, learners = learners
  ), class = "causallib_tuning")
}

learner_grid <- function(grid) {
  if (is.data.frame(grid)) {
    if (!nrow(grid)) cli::cli_abort("{.arg grid} has no rows.")
    grid <- lapply(seq_len(nrow(grid)), function(i) do.call(lrn_glm, as.list(grid[i, , drop = FALSE])))
  }
  if (!is.list(grid) || !length(grid) ||
      !all(vapply(grid, inherits, logical(1), what = "causallib_learner"))) {
    cli::cli_abort("{.arg grid} must be a list of learners or a data frame of {.fn lrn_glm} arguments.")
  }
  grid
}

validation_mean <- function(ev, metric) {
  m <- ev$metrics
  v <- m$value[m$metric == metric & m$phase == "valid"]
  if (!length(v)) cli::cli_abort("The evaluation has no validation metric {.val {metric}}.")
  mean(v, na.rm = TRUE)
}

resolve_scorer <- function(scorer) {
  if (is.function(scorer)) return(function(ev) as.numeric(scorer(ev))[1L])
  if (!is.character(scorer) || length(scorer) != 1L) {
    cli::cli_abort("{.arg scorer} must be a metric name or a function of an evaluation.")
  }
  switch(scorer,
    smd = function(ev) validation_mean(ev, "max_abs_smd_weighted"),
    weighted_auc = function(ev) abs(validation_mean(ev, "weighted_roc_auc") - 0.5),
    calibration = function(ev) validation_mean(ev, "ici"),
    deviance = function(ev) validation_mean(ev, "mean_deviance"),
    function(ev) validation_mean(ev, scorer))
}

learner_label <- function(learner) {
  if (inherits(learner, "causallib_lrn_glm")) {
    return(sprintf("lrn_glm(%s, penalty = %s)", learner$family, format(learner$penalty)))
  }
  if (inherits(learner, "causallib_lrn_custom")) return(learner_description(learner))
  class(learner)[1L]
}

#' @export
print.causallib_tuning <- function(x, ...) {
  print_model_header(x$best, paste0(
    model_title(x$best), " with the best of ", nrow(x$scores),
    " candidate learners: ", x$scorer, " (lower is better) ",
    evaluation_method_label(x$evaluations[[1L]])))
  tab <- x$scores
  tab$best <- ifelse(tab$candidate == x$best_index, "*", "")
  print(tab, row.names = FALSE)
  invisible(x)
}
