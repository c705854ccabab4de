#' Potential outcomes and causal effects
#'
#' `estimate_outcomes()` gives the population-average potential outcome
#' under each treatment level; `estimate_effect()` contrasts them with a
#' reference level.
#'
#' Standard errors:
#' * `"sandwich"` (default) stacks the score equations of the nuisance model
#'   (propensity or outcome model) with the equations of the potential-outcome
#'   means and uses the M-estimation sandwich (Stefanski & Boos 2002;
#'   Lunceford & Davidian 2004), so the interval accounts for estimating the
#'   nuisance model. Sampling weights are treated as fixed. IP-weight
#'   truncation thresholds are treated as fixed. Needs [lrn_glm()].
#' * `"bootstrap"`: `R` nonparametric bootstrap replicates that refit the
#'   whole pipeline (in C for [lrn_glm()], in R with the resampling counts
#'   as case weights for other learners such as [lrn_custom()]); percentile
#'   intervals, standard error the replicates' standard deviation.
#'   Reproducible under [set.seed()], whatever the number of threads.
#'
#' Ratios and odds ratios are estimated, tested and given intervals on the
#' log scale: their `std.error` and `vcov()` are those of the log ratio.
#'
#' @param fit A fitted model: [ipw()], [standardization()] or [marginal_outcome()].
#' @param outcome For weight models, the outcome: a column name of the
#'   fitted data (string or bare name) or a numeric vector. Ignored by
#'   outcome models, which know their outcome.
#' @param se `"sandwich"`, `"bootstrap"` or `"none"`.
#' @param R Number of bootstrap replicates: a whole number from 2 to 1,000,000.
#' @param conf_level Confidence level.
#' @param contrast `"diff"`, `"ratio"` or `"odds_ratio"` (outcome means must
#'   then lie in (0, 1)).
#' @param reference The reference treatment level; by default the first.
#' @param ... Passed to methods.
#' @return A `causal_estimate`, with methods for `print()`, `summary()`,
#'   `confint()`, `vcov()`, `coef()`, `tidy()` and `glance()`.
#' @references
#' Stefanski LA, Boos DD (2002). The calculus of M-estimation. *The American
#' Statistician* 56(1), 29-38.
#'
#' Lunceford JK, Davidian M (2004). Stratification and weighting via the
#' propensity score in estimation of causal treatment effects: a comparative
#' study. *Statistics in Medicine* 23(19), 2937-2960.
#' @export
#' @examples
#' d <- nhefs[!is.na(nhefs$wt82_71), ]
#' fit <- ipw(qsmk ~ sex + race + age + education + smokeintensity + wt71, data = d)
#' estimate_outcomes(fit, outcome = wt82_71)
#' eff <- estimate_effect(fit, outcome = wt82_71)
#' eff
#' confint(eff)
#' tidy(eff)
estimate_outcomes <- function(fit, ...) {
  UseMethod("estimate_outcomes")
}

#' @rdname estimate_outcomes
#' @export
estimate_effect <- function(fit, ...) {
  UseMethod("estimate_effect")
}

# Each contrast: the effect on its analysis scale (identity or log) from the
# outcome means, and the gradient of that in the means.
contrast_funs <- list(
  diff = list(
    scale = "identity",
    value = function(m, r) m - r,
    grad = function(m, r) list(d_m = 1, d_r = -1)
  ),
  ratio = list(
    scale = "log",
    value = function(m, r) log(m) - log(r),
    grad = function(m, r) list(d_m = 1 / m, d_r = -1 / r)
  ),
  odds_ratio = list(
    scale = "log",
    value = function(m, r) stats::qlogis(m) - stats::qlogis(r),
    grad = function(m, r) list(d_m = 1 / (m * (1 - m)), d_r = -1 / (r * (1 - r)))
  )
)

contrast_outcomes <- function(outcomes, contrast, reference) {
  mu <- outcomes$estimate
  lev <- names(mu)
  ref <- if (is.null(reference)) 1L else match(as.character(reference), lev)
  if (length(ref) != 1L || is.na(ref)) {
    cli::cli_abort("{.arg reference} must be one of the treatment levels {.val {lev}}.")
  }
  if (contrast == "ratio" && any(mu <= 0)) {
    cli::cli_abort("{.code contrast = \"ratio\"} needs positive outcome means.")
  }
  if (contrast == "odds_ratio" && any(mu <= 0 | mu >= 1)) {
    cli::cli_abort("{.code contrast = \"odds_ratio\"} needs outcome means strictly between 0 and 1.")
  }
  f <- contrast_funs[[contrast]]
  others <- setdiff(seq_along(mu), ref)
  est <- f$value(mu[others], mu[ref])
  names(est) <- paste(lev[others], "vs", lev[ref])
  V <- NULL
  if (!is.null(outcomes$vcov)) {
    g <- f$grad(mu[others], mu[ref])
    J <- matrix(0, length(others), length(mu))
    J[cbind(seq_along(others), others)] <- g$d_m
    J[, ref] <- g$d_r
    V <- J %*% outcomes$vcov %*% t(J)
    dimnames(V) <- list(names(est), names(est))
  }
  reps <- NULL
  if (!is.null(outcomes$replicates)) {
    r <- outcomes$replicates
    reps <- f$value(r[, others, drop = FALSE], r[, ref])
    reps <- matrix(reps, nrow(r), dimnames = list(NULL, names(est)))
  }
  out <- new_causal_estimate(est, V, reps, outcomes$se_type, outcomes$conf_level,
                             outcomes$fit_info, scale = f$scale, failed = outcomes$failed)
  out$contrast <- contrast
  out$reference <- lev[ref]
  out$outcomes <- outcomes
  out
}
