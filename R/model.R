# The one interface of every fitted model.
#
# Each model class (weight, outcome, doubly robust, CATE, survival) answers
# a few verbs, and everything downstream -- estimate_outcomes(),
# estimate_effect(), the sandwich, the bootstrap, evaluate() and
# tune_learner() -- uses only these verbs:
#   refit(fit, case_weights, rows, learner)  the model refitted on some of its
#                                    units, with case weights, or another learner
#   means(fit, y)                    its statistic: the K potential-outcome
#                                    means (the mean CATEs of a CATE model,
#                                    the curves of a survival model)
#   estfun_parts(fit, y)             the pieces of its stacked estimating
#                                    equations, for stack_sandwich()
#   boot_description(fit, y)         the C routine and arguments that run its
#                                    bootstrap replicates, or NULL (then
#                                    replicates refit in R)
#   default_se(fit)                  "sandwich", "bootstrap" or "none"
# See DEVELOPERS.md for how the layers fit together.

refit <- function(fit, case_weights = NULL, rows = NULL, learner = NULL) {
  UseMethod("refit")
}

means <- function(fit, y = NULL) {
  UseMethod("means")
}

estfun_parts <- function(fit, y = NULL) {
  UseMethod("estfun_parts")
}

#' @export
estfun_parts.default <- function(fit, y = NULL) {
  cli::cli_abort(c(
    "Sandwich standard errors are not available for {model_label(fit)}.",
    i = "Use {.code se = \"bootstrap\"}."
  ))
}

boot_description <- function(fit, y = NULL) {
  UseMethod("boot_description")
}

#' @export
boot_description.default <- function(fit, y = NULL) NULL

default_se <- function(fit) {
  UseMethod("default_se")
}

#' @export
default_se.default <- function(fit) "sandwich"

# Whether means() are potential-outcome means ("means") or effects
# ("effects", CATE models).
statistic_kind <- function(fit) {
  UseMethod("statistic_kind")
}

#' @export
statistic_kind.default <- function(fit) "means"


# Stops when a model cannot give standard errors of kind `se`; the default
# accepts every kind.
check_se_available <- function(fit, se) {
  UseMethod("check_se_available")
}

#' @export
check_se_available.default <- function(fit, se) invisible(se)

# The outcome a model's statistic needs: weight models take it from the
# user, every other model knows its own.
fit_outcome <- function(fit, quo) {
  UseMethod("fit_outcome")
}

#' @export
fit_outcome.default <- function(fit, quo) {
  given <- !rlang::quo_is_null(quo) && !is.null(tryCatch(rlang::eval_tidy(quo), error = function(e) TRUE))
  if (given) {
    cli::cli_abort(c(
      "{.arg outcome} is for weight models; {model_label(fit)} models know their outcome.",
      i = "Drop {.arg outcome}."
    ))
  }
  NULL
}

# ---- refitting ---------------------------------------------------------------

# The units and sampling weights of a refit: `rows` of the fitted units
# (all by default), with the sampling weights times `case_weights` (a weight
# per fitted unit). Also returns the case weights alone (NULL when none).
refit_units <- function(fit, case_weights, rows) {
  n <- fit$n
  if (!is.null(case_weights)) {
    case_weights <- rep_len(as.double(case_weights), n)
    if (anyNA(case_weights) || any(case_weights < 0)) {
      cli::cli_abort("{.arg case_weights} must be non-negative numbers.")
    }
  }
  rows <- if (is.null(rows)) seq_len(n) else as.integer(rows)
  sw <- fit$sampling_weights
  w <- if (is.null(sw) && is.null(case_weights)) NULL else (sw %||% 1) * (case_weights %||% 1)
  list(rows = rows, weights = if (!is.null(w)) rep_len(w, n)[rows],
       counts = if (!is.null(case_weights)) case_weights[rows])
}

# ---- estimates ----------------------------------------------------------------

#' @rdname estimate_outcomes
#' @export
estimate_outcomes.causallib_model <- function(fit, outcome = NULL, se = NULL, R = 1000,
                                              conf_level = 0.95, ...) {
  rlang::check_dots_empty()
  kind <- statistic_kind(fit)
  if (kind != "means") {
    cli::cli_abort(c(
      "{.fn estimate_outcomes} gives potential-outcome means, which {model_label(fit)} models do not estimate.",
      i = if (kind == "effects") "Use {.fn estimate_effect}." else "The curves are in {.code tidy(fit)}; contrast them with {.code estimate_effect(fit, times = )}."
    ))
  }
  est <- model_estimate(fit, rlang::enquo(outcome), se, R, conf_level)
  new_causal_estimate(est$value, est$vcov, est$replicates, est$se, conf_level, est$info,
                      failed = est$failed)
}

#' @rdname estimate_outcomes
#' @export
estimate_effect.causallib_model <- function(fit, outcome = NULL, contrast = "diff",
                                            reference = NULL, se = NULL, R = 1000,
                                            conf_level = 0.95, ...) {
  rlang::check_dots_empty()
  contrast <- rlang::arg_match0(contrast, names(contrast_funs), "contrast")
  if (statistic_kind(fit) == "effects") {
    if (contrast != "diff") {
      cli::cli_abort("{model_label(fit)} estimates differences only: use {.code contrast = \"diff\"}.")
    }
    if (!is.null(reference) && !identical(as.character(reference), fit$levels[1L])) {
      cli::cli_abort("{.arg reference} of {model_label(fit)} is the first treatment level, {.val {fit$levels[1L]}}.")
    }
    est <- model_estimate(fit, rlang::enquo(outcome), se, R, conf_level)
    out <- new_causal_estimate(est$value, est$vcov, est$replicates, est$se, conf_level, est$info,
                               failed = est$failed)
    out$contrast <- "diff"
    out$reference <- fit$levels[1L]
    return(out)
  }
  outcomes <- estimate_outcomes(fit, outcome = {{ outcome }}, se = se, R = R,
                                conf_level = conf_level)
  contrast_outcomes(outcomes, contrast, reference)
}

# The statistic of a model with its sandwich covariance or bootstrap
# replicates.
model_estimate <- function(fit, outcome_quo, se, R, conf_level) {
  check_conf_level(conf_level)
  check_fields(fit)
  se <- resolve_se(fit, se)
  y <- fit_outcome(fit, outcome_quo)
  value <- means(fit, y)
  V <- reps <- failed <- NULL
  if (se == "sandwich") {
    V <- stack_sandwich(estfun_parts(fit, y), fit_cluster(fit))
    dimnames(V) <- list(names(value), names(value))
  }
  if (se == "bootstrap") {
    boot <- run_bootstrap(fit, y, R)
    reps <- boot$replicates
    colnames(reps) <- names(value)
    failed <- boot$failed
  }
  list(value = value, vcov = V, replicates = reps, se = se, failed = failed,
       info = model_info(fit, estimated_outcome_label(fit, outcome_quo)))
}

# The outcome an estimate is of: the one the user named for a weight
# model, the model's own otherwise.
estimated_outcome_label <- function(fit, quo) {
  if (rlang::quo_is_null(quo)) return(outcome_label(fit))
  expr <- rlang::quo_get_expr(quo)
  if (rlang::is_string(expr)) expr else rlang::as_label(expr)
}

resolve_se <- function(fit, se) {
  se <- se %||% default_se(fit)
  se <- rlang::arg_match0(se, c("sandwich", "bootstrap", "none"), "se")
  check_se_available(fit, se)
  se
}

# ---- the bootstrap --------------------------------------------------------------

# Nonparametric bootstrap. Resamples are frequency counts drawn with R's
# RNG (so set.seed() reproduces them), refitted in batches -- in C when the
# model describes a C routine, otherwise through refit() with the counts as
# case weights -- so that memory stays at n x batch integers and the user
# can interrupt between batches. A replicate whose refit fails is left out
# and reported with its cause; if every one fails, that is an error.

bootstrap_batch_size <- 64L

bootstrap_counts <- function(n, R) {
  draws <- sample.int(n, n * R, replace = TRUE) + rep(n * (seq_len(R) - 1L), each = n)
  matrix(tabulate(draws, n * R), n, R)
}

# At most bootstrap_max_replicates: beyond a million, the replicates' Monte
# Carlo error is far below the sampling error they measure, while the run
# would take days.
bootstrap_max_replicates <- 1e6

run_bootstrap <- function(fit, y, R) {
  check_count(R, "R", min = 2, max = bootstrap_max_replicates)
  R <- as.integer(R)
  # A clustered fit resamples whole clusters, so a resample's counts need
  # not sum to n, which the C routines require: its replicates refit in R.
  cluster <- fit_cluster(fit)
  desc <- if (is.null(cluster)) boot_description(fit, y)
  if (!is.null(desc)) check_boot_reproduces(fit, y, desc)
  stats <- vector("list", ceiling(R / bootstrap_batch_size))
  causes <- character(0)
  done <- 0L
  for (b in seq_along(stats)) {
    size <- min(bootstrap_batch_size, R - done)
    counts <- if (is.null(cluster)) bootstrap_counts(fit$n, size) else cluster_bootstrap_counts(cluster, size)
    res <- replicate_statistics(fit, y, counts, desc)
    stats[[b]] <- res$statistics
    causes <- c(causes, res$causes)
    done <- done + size
  }
  reps <- do.call(rbind, stats)
  failed <- !is.na(causes)
  if (all(failed)) {
    cli::cli_abort(c(
      "All {R} bootstrap replicates failed: the model could not be refitted on any resample, so there is no bootstrap standard error.",
      cause_bullets(causes),
      i = "Fix the cause above (the fit on the full data succeeded, so the model is fragile on this data), or use {.code se = \"sandwich\"} where the model has it."
    ))
  }
  if (any(failed)) {
    cli::cli_warn(c(
      "{sum(failed)} of {R} bootstrap {cli::qty(sum(failed))}replicate{?s} failed and {?was/were} left out of the interval.",
      cause_bullets(causes[failed])
    ))
  }
  list(replicates = reps[!failed, , drop = FALSE], failed = sum(failed))
}

# The distinct causes of failed replicates with their counts, most common
# first, as cli bullets (braces escaped: a cause is text, not a template).
cause_bullets <- function(causes) {
  why <- sort(table(causes), decreasing = TRUE)
  stats::setNames(paste0(cli_escape(names(why)), " (", as.vector(why), ")"), rep("x", length(why)))
}

# Text to show as it is in a cli message, not read as a template.
cli_escape <- function(text) gsub("}", "}}", gsub("{", "{{", text, fixed = TRUE), fixed = TRUE)

# The C routine at counts = 1 gives the estimate for every fit the package
# builds. A fit whose fields were edited to other valid values (a clip, a
# learner's penalty) would be bootstrapped as another model, and its
# interval could exclude its own estimate: one more replicate guards that.
check_boot_reproduces <- function(fit, y, desc) {
  at_one <- replicate_statistics(fit, y, matrix(1L, fit$n, 1L), desc)$statistics[1L, ]
  est <- as.vector(means(fit, y))
  known <- !is.na(est)
  same <- length(at_one) == length(est) && identical(is.na(at_one), !known) &&
    isTRUE(all.equal(at_one[known], est[known], tolerance = 1e-6, check.attributes = FALSE))
  if (!same) {
    cli::cli_abort(c(
      "The fitted model's fields do not reproduce its estimate, so a bootstrap would describe another model.",
      i = "Was the fitted object edited? Fit the model again instead."
    ), call = NULL)
  }
  invisible()
}

# The statistic of every replicate of `counts` (n x B), through the C
# routine `desc` or R refits: a B-row matrix, and the cause of each failed
# replicate (NA for those that succeeded).
replicate_statistics <- function(fit, y, counts, desc = boot_description(fit, y)) {
  if (!is.null(desc)) {
    args <- desc$args
    args$counts <- counts
    args$nthreads <- causallib_threads()
    out <- do.call(.Call, c(list(desc$routine), unname(args)))
    failed <- rowSums(is.na(out)) == ncol(out)
    causes <- ifelse(failed, "a model could not be refitted (singular, separated or not converged)",
                     NA_character_)
    return(list(statistics = out, causes = causes))
  }
  causes <- rep(NA_character_, ncol(counts))
  rows <- lapply(seq_len(ncol(counts)), function(b) {
    tryCatch(suppressWarnings(as.vector(means(refit(fit, case_weights = counts[, b]), y))),
             error = function(e) {
               causes[b] <<- conditionMessage(e)
               NULL
             })
  })
  width <- max(c(0L, lengths(rows)))
  if (width == 0L) width <- length(means(fit, y))
  out <- t(vapply(rows, function(r) r %||% rep(NA_real_, width), numeric(width)))
  list(statistics = matrix(out, ncol(counts)), causes = causes)
}

# The statistic of each column of `counts` (internal; used by the tests of
# the interface): engine "c" forces the C routine, "r" the R refits.
bootstrap_replicates <- function(fit, counts, outcome = NULL, engine = "auto") {
  engine <- rlang::arg_match0(engine, c("auto", "c", "r"), "engine")
  y <- fit_outcome(fit, rlang::enquo(outcome))
  storage.mode(counts) <- "integer"
  desc <- if (engine != "r") boot_description(fit, y)
  if (engine == "c" && is.null(desc)) {
    cli::cli_abort("{.code engine = \"c\"}: {model_label(fit)} has no C bootstrap engine for this fit.")
  }
  replicate_statistics(fit, y, counts, desc)$statistics
}

# ---- the sandwich -----------------------------------------------------------------

# The sandwich covariance of the K targets from a model's estimating-function
# parts (M-estimation; Stefanski & Boos 2002). One stacker, many producers:
#   Psi: n x K target estimating functions at the estimates
#   D_mm: K x K derivative of the target equations in the targets
#   score: NULL (no nuisance model) or glm_score_parts() of the nuisance
#     model(s), with `x` their shared design
#   D_mb: K x q derivative of the target equations in the nuisance
#     coefficients, or C: an n x (m K) matrix with D_mb[k, block b] =
#     X' C[, (b - 1) K + k], computed in the same pass over X as the meat
#   meat, D_mb: a meat computed by a fused kernel (IPW), instead of Psi
# cluster: NULL, or the units' clusters (R/cluster.R): the estimating
# functions are summed within clusters, which needs them per unit (Psi and
# the score's R), never a fused meat.
stack_sandwich <- function(parts, cluster = NULL) {
  if (!is.null(parts$meat) && (is.null(cluster) || is.null(parts$Psi))) {
    if (!is.null(cluster)) {
      cli::cli_abort(c(
        "Clustered sandwich standard errors ({.arg cluster}) are not available for this model: its meat has no per-unit parts.",
        i = "Use {.code se = \"bootstrap\"}, which resamples whole clusters."
      ), call = NULL)
    }
    return(sandwich_vcov(parts$score, parts$meat, parts$D_mb, parts$D_mm, parts$n))
  }
  stacked_vcov(parts$x, parts$score, parts$Psi, parts$D_mm, D_mb = parts$D_mb, C = parts$C,
               cluster = cluster)
}

# ---- labels ---------------------------------------------------------------------

model_label <- function(fit) {
  UseMethod("model_label")
}

#' @export
model_label.default <- function(fit) class(fit)[1L]
