# Pooled-logistic (discrete-time) hazard models over person-time.  The C
# core streams the person-period rows; R only sees per-person and
# per-period matrices.  A fitted hazard's logit is lp[i] + ctab[arm_i, t]:
# a person part from the person design and a table over arms and periods.

# pt: list(last, status, arm (factor), n_periods, f (period terms)).
# x: person design without intercept column; interact: arm x period terms;
# offset: NULL or one value per person, added to each of its periods' logits.
pt_fit <- function(x, pt, w, interact, learner, cens = NULL, intercept = TRUE,
                   offset = NULL) {
  check_hazard_learner(learner)
  K <- if (interact) nlevels(pt$arm) else 1L
  arm <- if (interact) as.integer(pt$arm) else rep(1L, length(pt$last))
  f <- pt$f
  names <- c(if (intercept) "(Intercept)", colnames(x), colnames(f),
             if (K > 1L) paste0(pt$arm_name, rep(levels(pt$arm)[-1L], each = ncol(f)), ":", colnames(f)))
  penalty <- pt_penalty(learner, length(names), intercept)
  res <- .Call(C_ffi_pt_fit, x, intercept, f, arm, K, interact, pt$last, pt$status,
               as.double(w), cens, learner$maxit, learner$epsilon, penalty,
               causallib_threads(), offset)
  names(res$coefficients) <- names
  if (!res$converged) {
    cli::cli_warn("The pooled-logistic hazard model did not converge in {learner$maxit} iterations.")
  }
  warn_aliased(names[res$aliased], "pooled-logistic hazard model")
  if (res$separation) {
    cli::cli_warn(c(
      "Fitted hazards numerically 0 or 1 occurred in the pooled-logistic model.",
      i = "Some covariate pattern or period perfectly predicts the event; consider fewer time terms or a {.arg penalty}."
    ))
  }
  res$intercept <- intercept
  res$K <- K
  res$p_person <- ncol(x)
  structure(res, class = "causallib_pt_fit")
}

# The ridge penalties of a pooled-logistic model's P coefficients (none on
# the intercept), or NULL without a penalty.
pt_penalty <- function(learner, P, intercept) {
  if (learner$penalty > 0) c(if (intercept) 0, rep(learner$penalty, P - intercept))
}

# A pooled-logistic model as the C survival bootstrap refits it (see
# arg_surv_pt() in src/args.h): the person design x (with an intercept
# fitted without a column of x) and its offset, and the learner's fit, with
# `blocks` blocks of period terms f (K with arm-by-period terms, else 1).
pt_boot_model <- function(x, intercept, offset, learner, f, blocks) {
  list(X = x, intercept = intercept, offset = offset,
       penalty = pt_penalty(learner, intercept + ncol(x) + ncol(f) * blocks, intercept),
       maxit = learner$maxit, epsilon = learner$epsilon)
}

check_hazard_learner <- function(learner) {
  check_learner(learner)
  if (!inherits(learner, "causallib_lrn_glm") || learner$family != "binomial") {
    cli::cli_abort(c(
      "{.arg learner} must be {.code lrn_glm(binomial())} for a pooled-logistic hazard model.",
      i = "The person-period rows are streamed inside the built-in logistic regression."
    ))
  }
}

# Person part of the logit hazard for the person design x (and its offset).
pt_person_lp <- function(fit, x, offset = NULL) {
  b <- fit$coefficients
  b[is.na(b)] <- 0
  idx <- fit$intercept + seq_len(fit$p_person)
  lp <- if (length(idx)) drop(x %*% b[idx]) else numeric(nrow(x))
  if (!is.null(offset)) lp <- lp + offset
  if (fit$intercept) lp + b[[1L]] else lp
}

# Period part of the logit hazard: a K x n_periods table, row a for arm a
# (a single row without arm interactions).
pt_period_table <- function(fit, f) {
  b <- fit$coefficients
  b[is.na(b)] <- 0
  q <- ncol(f)
  start <- fit$intercept + fit$p_person
  base <- if (q) drop(f %*% b[start + seq_len(q)]) else numeric(nrow(f))
  rows <- lapply(seq_len(fit$K), function(a) {
    if (a == 1L || q == 0L) return(base)
    base + drop(f %*% b[start + (a - 1L) * q + seq_len(q)])
  })
  do.call(rbind, rows)
}
