# Competing risks: the cumulative incidence of each cause under each
# treatment level. survival_ipw() and survival_standardization() hand a
# setup whose event names causes (competing_response()) to the engines
# here; the fits are survival fits (refit(), the bootstrap driver and the
# printing header are theirs) of class causallib_competing, whose statistic
# is the cumulative incidence array fit$cif (K levels x m times x J causes).
#
# method "aalen_johansen": IP-weighted Aalen-Johansen curves per level (C,
# src/aalen-johansen.c); "cs_pooled_logistic": one pooled-logistic hazard
# model per cause on the person-time data, standardized.

competing_classes <- c("causal_competing", "causal_survival", "causallib_competing",
                       "causallib_survival", "causallib_model")

competing_ipw_engine <- function(setup, data, env, weight_model, method, grid, censoring_model, se) {
  if (!identical(method, "km")) {
    cli::cli_abort(c(
      "With competing causes {.fn survival_ipw} estimates IP-weighted Aalen-Johansen curves, not {.code method = {.val {method}}}.",
      i = "Leave {.arg method} at {.val km}, or use {.fn survival_standardization} for cause-specific pooled-logistic hazards."
    ))
  }
  check_no_competing_censoring(censoring_model)
  se <- rlang::arg_match0(se %||% "sandwich", c("sandwich", "bootstrap", "none"), "se")
  wm <- resolve_weight_model(weight_model, setup, data, env)
  check_cause_events(setup, abort = FALSE)
  fit <- new_survival_fit(setup, method = "km", marginal = TRUE, stratified = FALSE,
                          weight_model = wm, learner = NULL, grid = grid,
                          censoring_model = NULL, data = data, env = env)
  fit$estimator <- if (is.null(wm)) "unadjusted" else "IP weighting"
  if (is.null(wm)) fit$estimand <- "unadjusted"
  fit$se_type <- se
  as_competing(fit, "aalen_johansen", setup$causes)
}

competing_std_engine <- function(setup, data, env, grid, learner, stratified, weight_model,
                                 censoring_model, model, se) {
  model <- rlang::arg_match0(model, c("pooled_logistic", "cox"), "model")
  if (!isFALSE(stratified)) {
    cli::cli_abort(c(
      "With competing causes {.fn survival_standardization} fits one hazard model per cause on all levels, not stratified models.",
      i = "Use {.code stratified = FALSE}."
    ))
  }
  check_no_competing_censoring(censoring_model)
  se <- rlang::arg_match0(se %||% "bootstrap", c("bootstrap", "none", "sandwich"), "se")
  if (se == "sandwich") {
    cli::cli_abort(c(
      "Sandwich intervals for standardized cumulative incidences are not available.",
      i = "Use {.code se = \"bootstrap\"}."
    ))
  }
  if (model == "pooled_logistic") check_hazard_learner(learner)
  wm <- resolve_weight_model(weight_model, setup, data, env)
  check_cause_events(setup, abort = TRUE)
  any_event <- setup
  any_event$status <- as.integer(setup$status > 0L)
  fit <- new_survival_fit(any_event, method = model, marginal = FALSE,
                          stratified = FALSE, weight_model = wm, learner = learner,
                          grid = grid, censoring_model = NULL,
                          data = data, env = env)
  fit$status <- setup$status
  fit$se_type <- se
  fit$estimator <- if (is.null(wm)) "standardization" else "weighted standardization"
  as_competing(fit, paste0("cs_", model), setup$causes)
}

as_competing <- function(fit, method, causes) {
  fit$method <- method
  fit$causes <- causes
  class(fit) <- competing_classes
  fit
}

check_no_competing_censoring <- function(censoring_model) {
  if (is.null(censoring_model)) return(invisible())
  cli::cli_abort(c(
    "{.arg censoring_model} is not available with competing causes.",
    i = "Drop {.arg censoring_model}: the curves assume censoring independent of the causes given the treatment."
  ))
}

# Every level needs events of every cause: a hazard model cannot be fitted
# without them (abort), an Aalen-Johansen curve stays at 0 (warn).
check_cause_events <- function(setup, abort) {
  J <- length(setup$causes)
  events <- vapply(seq_len(J), function(j) arm_sums((setup$sw %||% 1) * (setup$status == j), setup$a),
                   numeric(nlevels(setup$a)))
  none <- which(matrix(events, ncol = J) <= 0, arr.ind = TRUE)
  if (!nrow(none)) return(invisible())
  pairs <- paste0(levels(setup$a)[none[, 1L]], " (", setup$causes[none[, 2L]], ")")
  msg <- "Treatment level{?s} and cause{?s} {.val {pairs}} ha{?s/ve} no events."
  if (abort) {
    cli::cli_abort(c(msg, i = "A cause-specific hazard model cannot be fitted; pool causes or levels, or use {.fn survival_ipw}."))
  }
  cli::cli_warn(c(msg, i = "The cumulative incidence of {cli::qty(length(pairs))}{?that cause/those causes} stays at 0 in that level."))
}

# The curves of a competing-risks fit (called by with_curves()): the
# event-free survival (K x m), and the cumulative incidence and, for
# Aalen-Johansen curves, its infinitesimal-jackknife standard error
# (K x m x J arrays).
competing_curves <- function(fit, avg, ipw) {
  res <- switch(fit$method,
    aalen_johansen = aj_curves(fit$time, fit$status, avg * ipw, fit$treatment, fit$times,
                               length(fit$causes)),
    cs_pooled_logistic = cs_pooled_curves(fit, avg, ipw),
    cs_cox = cs_cox_curves(fit, avg, ipw))
  dimnames(res$cif) <- list(fit$levels, NULL, fit$causes)
  if (!is.null(res$cif_std_error)) dimnames(res$cif_std_error) <- dimnames(res$cif)
  res
}

# Weighted Aalen-Johansen curves per level of the factor a at `times`, from
# the C kernel (each level's curve is a step function of its own times);
# NA after a level's last time.
aj_curves <- function(time, cause, w, a, times, J) {
  K <- nlevels(a)
  m <- length(times)
  aj <- .Call(C_ffi_aalen_johansen, time, cause, as.double(w), as.integer(a), K, J)
  surv <- matrix(NA_real_, K, m)
  cif <- se <- array(NA_real_, c(K, m, J))
  for (k in seq_len(K)) {
    rows <- which(aj$stratum == k)
    if (!length(rows)) next
    on <- times <= max(aj$time[rows])
    j <- findInterval(times[on], aj$time[rows]) + 1L
    surv[k, on] <- c(1, aj$surv[rows])[j]
    cif[k, on, ] <- rbind(0, aj$cif[rows, , drop = FALSE])[j, ]
    se[k, on, ] <- rbind(0, aj$std_err[rows, , drop = FALSE])[j, ]
  }
  list(survival = surv, cif = cif, cif_std_error = se, models = NULL)
}

# Standardized cause-specific pooled-logistic curves: for each cause j a
# hazard model h_j fitted with weights avg * ipw on the person-time data
# (events of other causes end follow-up, as censorings do), and every
# person's curves under each level, in discrete time
#   S(t) = prod_{s <= t} (1 - sum_j h_j(s)),  F_j(t) = sum_{s <= t} S(s - 1) h_j(s),
# averaged with avg * population.
cs_pooled_curves <- function(fit, avg, ipw) {
  pt <- fit$pt
  K <- length(fit$levels)
  J <- length(fit$causes)
  cause <- pt$status * fit$status
  pd <- person_design(fit$hazard)
  hz <- lapply(seq_len(J), function(j) {
    ptj <- pt
    ptj$status <- as.integer(cause == j)
    pt_fit(pd$x, ptj, avg * ipw, TRUE, fit$learner, NULL, pd$intercept, pd$offset)
  })
  tabs <- lapply(hz, pt_period_table, f = pt$f)
  v <- avg * (fit$population %||% 1)
  v <- v / sum(v)
  surv <- matrix(0, K, pt$n_periods)
  cif <- array(0, c(K, pt$n_periods, J))
  for (k in seq_len(K)) {
    cd <- person_design(fit$hazard, level = fit$levels[k])
    lp <- lapply(hz, pt_person_lp, x = cd$x, offset = cd$offset)
    S <- rep(1, fit$n)
    Fk <- numeric(J)
    for (t in seq_len(pt$n_periods)) {
      h <- vapply(seq_len(J), function(j) stats::plogis(lp[[j]] + tabs[[j]][k, t]), numeric(fit$n))
      h <- matrix(h, fit$n)
      Fk <- Fk + colSums(v * S * h)
      S <- S * (1 - rowSums(h))
      cif[k, t, ] <- Fk
      surv[k, t] <- sum(v * S)
    }
  }
  list(survival = surv, cif = cif, models = list(hazard = hz))
}

# Standardized cause-specific Cox curves: for each cause j a Cox model
# (survival::coxph(), Efron ties, events of other causes censored) fitted
# with weights avg * ipw, and every person's curves under each level,
# product-limit over the event times: with dH_j(t) = dH_0j(t) exp(x b_j),
#   S(t) = prod_{s <= t} (1 - sum_j dH_j(s)),  F_j(t) = sum_{s <= t} S(s-) dH_j(s),
# averaged with avg * population.
cs_cox_curves <- function(fit, avg, ipw) {
  J <- length(fit$causes)
  K <- length(fit$levels)
  m <- length(fit$times)
  pd <- person_design(fit$hazard)
  hz <- lapply(seq_len(J), function(j) {
    cox_fit(pd$x, pd$offset, fit$time, as.integer(fit$status == j), avg * ipw, fit$times)
  })
  dH0 <- vapply(hz, function(h) diff(c(0, h$H0)), numeric(m))
  dH0 <- matrix(dH0, m)
  v <- avg * (fit$population %||% 1)
  v <- v / sum(v)
  surv <- matrix(0, K, m)
  cif <- array(0, c(K, m, J))
  for (k in seq_len(K)) {
    cd <- person_design(fit$hazard, level = fit$levels[k])
    risk <- matrix(vapply(hz, function(h) exp(cox_lp(h, cd$x, cd$offset)), numeric(fit$n)), fit$n)
    S <- rep(1, fit$n)
    Fk <- numeric(J)
    for (t in seq_len(m)) {
      dH <- risk * rep(dH0[t, ], each = fit$n)
      Fk <- Fk + colSums(v * S * dH)
      S <- S * (1 - rowSums(dH))
      cif[k, t, ] <- Fk
      surv[k, t] <- sum(v * S)
    }
  }
  list(survival = surv, cif = cif, models = list(hazard = hz))
}

# ---- the interface verbs --------------------------------------------------------

# The cumulative incidences, K levels by m times by J causes, as one vector.
#' @export
means.causallib_competing <- function(fit, y = NULL) as.vector(fit$cif)

# Replicates refit in R through refit(): the C survival bootstrap knows no
# causes.
#' @export
boot_description.causallib_competing <- function(fit, y = NULL) NULL

#' @export
model_label.causallib_competing <- function(fit) paste(fit$estimator, "competing risks")

#' @export
se_label.causallib_competing <- function(x, estimate = FALSE) {
  if (x$se_type != "sandwich") return(interval_label(x, estimate))
  paste0("influence function (infinitesimal jackknife, weights fixed)", cluster_label(x),
         if (!estimate) ", intervals on the log scale")
}

#' @export
model_title.causallib_competing <- function(x) {
  paste0(capitalize(model_label(x)), " cumulative incidence curves, ", method_label(x$method))
}

#' @export
evaluation_type.causallib_competing <- function(fit) {
  cli::cli_abort(c(
    "{.fn evaluate} does not cover competing-risks models yet.",
    i = "Evaluate the weight model ({.code fit$weight_model}) instead."
  ), call = NULL)
}

#' @export
glance_extras.causallib_competing <- function(x) {
  out <- NextMethod()
  out$events <- sum(sw_or_one(x) * (x$status > 0L))
  out
}

# The hazard model of each cause (standardized curves); NULL for
# Aalen-Johansen curves.
#' @export
coef_parts.causallib_competing <- function(object) {
  hz <- object$models$hazard
  if (is.null(hz)) return(NULL)
  parts <- lapply(seq_along(hz), function(j) {
    coef_part(hz[[j]], "hazard", arm = paste("cause =", object$causes[j]))
  })
  stats::setNames(parts, object$causes)
}

#' @export
summary_tables.causallib_competing <- function(object) {
  sw <- sw_or_one(object)
  arms <- data.frame(level = object$levels, n = arm_sums(sw, object$treatment))
  for (j in seq_along(object$causes)) {
    arms[[object$causes[j]]] <- arm_sums(sw * (object$status == j), object$treatment)
  }
  show <- print_times(object$times)
  at <- findInterval(show, object$times)
  curves <- do.call(rbind, lapply(seq_along(object$causes), function(j) {
    cif <- cbind(0, matrix(object$cif[, , j], length(object$levels)))[, at + 1L, drop = FALSE]
    data.frame(cause = object$causes[j], level = object$levels, cif, check.names = FALSE)
  }))
  names(curves)[-(1:2)] <- format(show, trim = TRUE)
  title <- paste0("Cumulative incidence at times ", paste(format(show, trim = TRUE), collapse = ", "))
  stats::setNames(list(arms, curves), c("People and events (by cause) by treatment level", title))
}

# ---- influence functions and the sandwich --------------------------------------

# The influence of each person on the Aalen-Johansen cumulative incidences
# at `times`, w_i dF_j(t) / dw_i (the weights fixed), as an n x (K nt J)
# matrix whose columns run over levels, then times, then causes (the order
# of as.vector() of a K x nt x J array). The formula is the C kernel's
# (src/aalen-johansen.c) written per person: G_j(t) for a person still at
# risk after t, a_ij + c_i F_j(t) for one whose time is at or before t.
aj_influence <- function(fit, w, times) {
  K <- length(fit$levels)
  J <- length(fit$causes)
  nt <- length(times)
  a <- as.integer(fit$treatment)
  U <- matrix(0, fit$n, K * nt * J)
  for (k in seq_len(K)) {
    i <- which(a == k)
    tt <- sort(unique(fit$time[i]))
    r <- match(fit$time[i], tt)
    wi <- w[i]
    by_time <- function(v) as.vector(rowsum(v, r, reorder = TRUE)[, 1L])
    Y <- rev(cumsum(rev(by_time(wi))))
    dj <- matrix(vapply(seq_len(J), function(j) by_time(wi * (fit$status[i] == j)),
                        numeric(length(tt))), length(tt))
    d <- rowSums(dj)
    # As the kernel: the weight left after t is that at risk next plus
    # that censored at t, so it is exactly 0 when all remaining weight fails.
    left <- c(Y[-1L], 0) + by_time(wi * (fit$status[i] == 0L))
    dropped <- cumsum(d > 0 & left <= 0) > 0
    Hinc <- ifelse(dropped | d == 0, 0, d / (Y * pmax(left, 1e-300)))
    H <- cumsum(Hinc)
    S <- cumprod(ifelse(d > 0, pmax(left, 0) / Y, 1))
    S_pre <- c(1, S[-length(S)])
    H_pre <- c(0, H[-length(H)])
    inv_Y <- ifelse(Y > 0, 1 / Y, 0)
    dA <- dj * inv_Y
    Fj <- matrix(apply(S_pre * dA, 2L, cumsum), length(tt))
    G <- matrix(apply(S_pre * dA * (H_pre - inv_Y), 2L, cumsum), length(tt))
    event <- fit$status[i] > 0L
    ci <- ifelse(dropped[r], 0, H[r] - ifelse(event, 1 / pmax(left[r], 1e-300), 0))
    for (s in seq_len(nt)) {
      if (times[s] > max(tt)) {
        U[, k + K * (s - 1L) + K * nt * (seq_len(J) - 1L)] <- NA_real_
        next
      }
      at <- findInterval(times[s], tt)
      for (j in seq_len(J)) {
        col <- k + K * (s - 1L) + K * nt * (j - 1L)
        if (at == 0L) next
        own <- ifelse(fit$status[i] == j, S_pre[r] * inv_Y[r], 0)
        past <- G[r, j] + own + ci * (Fj[at, j] - Fj[r, j])
        U[i, col] <- wi * ifelse(r <= at, past, G[at, j])
      }
    }
  }
  U
}

# The covariance of the Aalen-Johansen cumulative incidences at `times` (in
# aj_influence()'s order). With an ipw() weight model fitted by lrn_glm()
# the propensity model's score equations are stacked under them
# (stack_sandwich()): the incidences depend on its coefficients through
# the weights, w_i = (sampling weight x stabilization) ip_i, with
# d ip_i / d eta = dw_deta. Other weight models' weights are taken as fixed.
competing_vcov <- function(fit, times) {
  w <- sw_or_one(fit) * fit$ipw
  U <- aj_influence(fit, w, times)
  known <- !is.na(colSums(U))
  V <- matrix(NA_real_, ncol(U), ncol(U))
  wm <- fit$weight_model
  Uk <- U[, known, drop = FALSE]
  if (!inherits(wm, "causallib_ipw") || !inherits(wm$learner_fit, "causallib_glm_fit")) {
    V[known, known] <- cluster_meat(Uk, fit$cluster)
    return(V)
  }
  score <- glm_score_parts(wm$learner_fit, wm$x, wm$treatment, wm$sampling_weights, wm$offset)
  # dF / dw_i times dw_i / d eta_b = U_i / w_i * w_i / ip_i * dw_deta_ib.
  per_ip <- ifelse(wm$ip_weights > 0, 1 / wm$ip_weights, 0)
  C <- do.call(cbind, lapply(seq_len(ncol(wm$dw_deta)), function(b) Uk * (per_ip * wm$dw_deta[, b])))
  q <- ncol(Uk)
  V[known, known] <- stack_sandwich(list(x = wm$x, score = score, Psi = Uk, D_mm = -diag(1, q),
                                         C = C), fit$cluster)
  V
}

# The pointwise standard errors (K x m x J) of clustered Aalen-Johansen
# curves: aj_influence() at every grid time (the weights held fixed, as the
# kernel's unclustered ones) summed within clusters (cluster_estfun()), in
# blocks of times.
clustered_cif_se <- function(fit) {
  K <- length(fit$levels)
  m <- length(fit$times)
  J <- length(fit$causes)
  w <- sw_or_one(fit) * fit$ipw
  se <- array(NA_real_, c(K, m, J), dimnames(fit$cif))
  block <- max(1L, floor(2^22 / (fit$n * K * J)))
  for (start in seq(1L, m, by = block)) {
    at <- start:min(m, start + block - 1L)
    U <- aj_influence(fit, w, fit$times[at])
    se[, at, ] <- array(sqrt(colSums(cluster_estfun(U, fit$cluster)^2)), c(K, length(at), J))
  }
  se[is.na(fit$cif)] <- NA_real_
  se
}

# ---- results --------------------------------------------------------------------

# The cumulative incidences of every level at `times` (K x nt x J), from
# the fit's curves or one bootstrap replicate's (as a K x m x J array).
cif_at <- function(fit, times, cif = fit$cif) {
  j <- findInterval(times, fit$times)
  K <- length(fit$levels)
  J <- length(fit$causes)
  out <- array(0, c(K, length(times), J))
  on <- j > 0L
  out[, on, ] <- cif[, j[on], , drop = FALSE]
  out
}

#' Tidy cumulative incidence curves
#'
#' One row per time, treatment level and cause, starting at time 0 where
#' every cumulative incidence is 0: `time`, `treatment`, `cause`,
#' `estimate` (the cumulative incidence), `std.error`, `conf.low` and
#' `conf.high`. Aalen-Johansen curves with `se = "sandwich"` have the
#' infinitesimal-jackknife standard error of [survival::survfit()] (the
#' weights treated as fixed) and its intervals on the log scale; bootstrap
#' fits give percentile intervals.
#'
#' @param x A competing-risks `causal_survival` object (an event with
#'   competing causes, see [survival_ipw()]).
#' @inheritParams tidy.causal_survival
#' @return A data frame.
#' @method tidy causal_competing
#' @export
#' @examples
#' # Time to the first of recurrence or death in survival::colon.
#' colon <- survival::colon
#' crc <- colon[colon$etype == 1, ]
#' death <- colon$status[colon$etype == 2]
#' crc$cause <- factor(ifelse(crc$status == 1, 1, 2 * death), 0:2,
#'                     c("censored", "recurrence", "death"))
#' cr <- survival_ipw(Surv(time, cause) ~ rx, data = crc)
#' cr
#' head(tidy(cr))
tidy.causal_competing <- function(x, conf.level = x$conf_level, ...) {
  K <- length(x$levels)
  m <- length(x$times)
  J <- length(x$causes)
  cif <- array(0, c(K, m + 1L, J))
  cif[, -1L, ] <- x$cif
  alpha <- 1 - conf.level
  se <- lo <- hi <- array(NA_real_, dim(cif))
  if (x$se_type == "sandwich") {
    se[, 1L, ] <- 0
    se[, -1L, ] <- x$cif_std_error
    half <- stats::qnorm(1 - alpha / 2) * se / cif
    lo <- ifelse(cif > 0, cif * exp(-half), 0)
    hi <- ifelse(cif > 0, pmin(1, cif * exp(half)), 0)
  } else if (x$se_type == "bootstrap") {
    reps <- x$replicates
    at <- function(f) {
      out <- array(0, dim(cif))
      out[, -1L, ] <- apply(reps, c(2L, 3L, 4L), f)
      out
    }
    se <- at(function(v) stats::sd(v, na.rm = TRUE))
    lo <- at(function(v) stats::quantile(v, alpha / 2, na.rm = TRUE, names = FALSE))
    hi <- at(function(v) stats::quantile(v, 1 - alpha / 2, na.rm = TRUE, names = FALSE))
  }
  data.frame(
    time = rep(rep(c(0, x$times), each = K), J),
    treatment = factor(rep(x$levels, (m + 1L) * J), levels = x$levels),
    cause = factor(rep(x$causes, each = K * (m + 1L)), levels = x$causes),
    estimate = as.vector(cif), std.error = as.vector(se),
    conf.low = as.vector(lo), conf.high = as.vector(hi),
    row.names = NULL
  )
}

#' Causal contrasts of cumulative incidences
#'
#' Contrasts the cumulative incidence of each cause under every treatment
#' level with the `reference` level at each of `times`: the risk difference
#' \eqn{F_{j,a}(t) - F_{j,r}(t)} or the risk ratio
#' \eqn{F_{j,a}(t) / F_{j,r}(t)} (estimated, tested and given intervals on
#' the log scale).
#'
#' With `se = "sandwich"` (Aalen-Johansen curves) the covariance of the
#' cumulative incidences at `times`, across levels, times and causes, comes
#' from their influence functions; when the weight model is an [ipw()]
#' model fitted by [lrn_glm()], its score equations are stacked under them,
#' so the interval accounts for the estimated weights. Other weight models'
#' weights are treated as fixed. Bootstrap fits give percentile intervals
#' from the contrasts' replicates.
#'
#' @param fit A competing-risks `causal_survival` object.
#' @param times Times at which to contrast the curves, within follow-up.
#' @param contrast `"risk_difference"` (default) or `"risk_ratio"`.
#' @param cause The causes to contrast (names); by default all.
#' @inheritParams estimate_effect.causal_survival
#' @return A `causal_estimate`, one term per cause, level and time.
#' @export
#' @examples
#' # Time to the first of recurrence or death in survival::colon.
#' colon <- survival::colon
#' crc <- colon[colon$etype == 1, ]
#' death <- colon$status[colon$etype == 2]
#' crc$cause <- factor(ifelse(crc$status == 1, 1, 2 * death), 0:2,
#'                     c("censored", "recurrence", "death"))
#' wm <- ipw(rx ~ age + sex + obstruct + perfor + adhere + extent + surg, data = crc)
#' cr <- survival_ipw(Surv(time, cause) ~ rx, data = crc, weight_model = wm)
#' estimate_effect(cr, times = 1825)
#' estimate_effect(cr, times = 1825, contrast = "risk_ratio", cause = "recurrence")
estimate_effect.causal_competing <- function(fit, times, contrast = "risk_difference", cause = NULL,
                                             reference = NULL, conf_level = fit$conf_level, ...) {
  rlang::check_dots_empty()
  contrast <- rlang::arg_match0(contrast, c("risk_difference", "risk_ratio"), "contrast")
  times <- check_times(fit, times)
  cause <- cause %||% fit$causes
  jj <- match(as.character(cause), fit$causes)
  if (!length(jj) || anyNA(jj)) {
    cli::cli_abort(c(
      "{.arg cause} must name causes of the event: {.val {fit$causes}}.",
      x = "{.val {setdiff(as.character(cause), fit$causes)}} {?is/are} not among them."
    ))
  }
  ref <- if (is.null(reference)) 1L else match(as.character(reference), fit$levels)
  if (length(ref) != 1L || is.na(ref)) {
    cli::cli_abort("{.arg reference} must be one of the treatment levels {.val {fit$levels}}.")
  }
  K <- length(fit$levels)
  nt <- length(times)
  J <- length(fit$causes)
  others <- setdiff(seq_len(K), ref)
  value <- if (contrast == "risk_ratio") log else identity
  # The contrasts as rows over (cause, level, time) of the K x nt x J array.
  idx <- function(k, s, j) k + K * (s - 1L) + K * nt * (j - 1L)
  grid <- expand.grid(s = seq_len(nt), k = others, j = jj)
  est_of <- function(Fv) value(Fv[idx(grid$k, grid$s, grid$j)]) - value(Fv[idx(ref, grid$s, grid$j)])
  Fv <- as.vector(cif_at(fit, times))
  check_curves_reach(fit, times, array(Fv, c(K, nt, J)))
  if (contrast == "risk_ratio" && any(array(Fv, c(K, nt, J))[, , jj] <= 0)) {
    cli::cli_abort("{.code contrast = \"risk_ratio\"} needs a positive cumulative incidence of each cause in every level at {.arg times}.")
  }
  est <- est_of(Fv)
  names(est) <- paste0(fit$causes[grid$j], ": ", fit$levels[grid$k], " vs ", fit$levels[ref],
                       " at ", format(times[grid$s], trim = TRUE))
  reps <- V <- NULL
  if (fit$se_type == "bootstrap") {
    reps <- t(apply(fit$replicates, 1L, function(r) est_of(as.vector(cif_at(fit, times, r)))))
    if (length(est) == 1L) reps <- t(reps)
    colnames(reps) <- names(est)
    report_replicates_used(reps)
  } else if (fit$se_type == "sandwich") {
    VF <- competing_vcov(fit, times)
    d <- if (contrast == "risk_ratio") 1 / Fv else rep(1, length(Fv))
    D <- matrix(0, length(est), length(Fv))
    D[cbind(seq_along(est), idx(grid$k, grid$s, grid$j))] <- d[idx(grid$k, grid$s, grid$j)]
    D[cbind(seq_along(est), idx(ref, grid$s, grid$j))] <- -d[idx(ref, grid$s, grid$j)]
    V <- D %*% VF %*% t(D)
    dimnames(V) <- list(names(est), names(est))
  }
  out <- new_causal_estimate(est, V, reps, fit$se_type, conf_level, fit,
                             scale = if (contrast == "risk_ratio") "log" else "identity")
  out$contrast <- contrast
  out$reference <- fit$levels[ref]
  out
}
