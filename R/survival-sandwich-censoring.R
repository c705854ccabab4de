# Influence functions of survival curves weighted by inverse probability of
# censoring weights (see R/censoring.R and R/survival-sandwich.R).
#
# Person i's weight in period t (1-based) is
#   W_it = w_i c_it,  log c_it = sum_{s < t} log(1 - hn_is) - log(1 - hc_is),
# hc the censoring (denominator) hazard, logit hc_is = zc_i' gc + f_s' gf,
# hn the stabilizing numerator's, both pooled-logistic models fitted on the
# censoring person-time with the sampling weights. So
#   d log W_it / d gamma_den =  sum_{s < t} hc_is (zc_i, f_s),
#   d log W_it / d gamma_num = -sum_{s < t} hn_is (zn_i, f_s),
# and d log W_it / d beta = d log w_i / d beta for a propensity model. A
# curve that is a smooth function of weighted sums over person-periods then
# has G = sum_{i, s} u_is d log W_is / d theta, u_is its derivative in
# log W_is, and a hazard model fitted with these weights has its score's
# derivative sum_{i, t} W_it (y_it - h_it) x_it d log W_it / d theta'. Both
# are sums over person-periods, computed in chunks of people as the other
# survival sandwiches are, so memory stays at n x (coefficients).
#
# censoring_influence() is a function of the fitted censoring models alone
# (their influence functions and the derivative of log W), so every
# estimator weighted by them -- Kaplan-Meier on the grid, IP-weighted or
# standardized pooled-logistic hazards, augmented estimators -- stacks them
# the same way.

# The influence functions of a fit's censoring models (Phi, n x Q: the
# denominator's coefficients, then the numerator's) and what the derivative
# of log W needs; NULL when the fit has no censoring weights.
censoring_influence <- function(fit) {
  models <- fit$models$censoring_models
  if (is.null(models)) return(NULL)
  pt <- fit$pt
  cpt <- censoring_person_time(pt)
  avg <- sw_or_one(fit)
  dummies <- treatment_dummies(pt$arm)
  one <- function(model, x, what) {
    z <- coefficient_design(x, TRUE)
    lp <- pt_person_lp(model, x)
    ct <- pt_period_table(model, pt$f)[1L, ]
    score <- matrix(0, fit$n, ncol(z) + ncol(pt$f))
    for (rows in row_chunks(fit$n, pt$n_periods)) {
      h <- stats::plogis(outer(lp[rows], ct, `+`))
      at <- col(h) <= cpt$last[rows]
      y <- at & col(h) == cpt$last[rows] & cpt$status[rows] == 1L
      score[rows, ] <- pt_cell_scores(avg[rows] * (y - h * at), z[rows, , drop = FALSE], pt$f)
    }
    Phi <- tryCatch(coefficient_influence(score, pt_score_parts(model, fit$learner), 1L),
                    error = function(e) abort_singular_censoring(what))
    list(Phi = Phi, z = z, lp = lp, ct = ct)
  }
  den <- one(models$denominator, fit$xc, "censoring")
  num <- one(models$numerator, dummies, "numerator (treatment-only) censoring")
  list(Phi = cbind(den$Phi, num$Phi), den = den[-1L], num = num[-1L], f = pt$f)
}

# A censoring model whose information matrix cannot be inverted: typically
# censoring in some periods only, so that its fitted hazards are 0 in the
# others and its period terms run off to infinity.
abort_singular_censoring <- function(what) {
  cli::cli_abort(c(
    "The {what} model of {.arg censoring_model} has a singular information matrix, so {.code se = \"sandwich\"} is not available.",
    i = "Censoring probably occurs in some periods only. Use {.code se = \"bootstrap\"}, simpler {.arg time_terms} (such as {.code ~ time + I(time^2)}), or a ridge {.arg penalty} in {.arg learner}."
  ), call = NULL)
}

# The parts of a pooled-logistic model's estimating equations that
# coefficient_influence() needs (see glm_score_parts()).
pt_score_parts <- function(model, learner) {
  kept <- !model$aliased
  pen <- pt_penalty(learner, length(kept), model$intercept)
  list(H = model$information, kept = kept, center = model$center, anchor = model$anchor,
       penalty_score = if (is.null(pen)) numeric(length(kept)) else
         pen * ifelse(kept, model$coefficients, 0))
}

# Per-person scores (r x P) of a pooled-logistic model from per-cell
# residuals e (r x T, 0 after a person's last period): the person design z
# times sum_t e_it, the period terms sum_t e_it f_t, and with K > 1 arms
# the arm-by-period blocks of arms 2..K.
pt_cell_scores <- function(e, z, f, arm = NULL, K = 1L) {
  fe <- e %*% f
  blocks <- if (K > 1L) lapply(seq_len(K)[-1L], function(k) fe * (arm == k))
  do.call(cbind, c(list(z * rowSums(e), fe), blocks))
}

# The chunk `rows` of the censoring weights: c_it (r x T) and the running
# sums sum_{s < t} of each model's hazards times its period terms, from
# which censoring_dlogw() builds d log W / d gamma. Without censoring
# models c = 1.
censoring_cells <- function(cw, rows) {
  if (is.null(cw)) return(list(c = 1, rows = rows))
  run <- function(m) {
    h <- stats::plogis(outer(m$lp[rows], m$ct, `+`))
    lag <- function(M) cbind(0, M[, -ncol(M), drop = FALSE])
    list(h = h, H = lag(row_cumsum(h)),
         Hf = lapply(seq_len(ncol(cw$f)), function(l) lag(row_cumsum(h * rep(cw$f[, l], each = nrow(h))))))
  }
  den <- run(cw$den)
  num <- run(cw$num)
  logf <- log1p(-num$h) - log1p(-den$h)
  logc <- cbind(0, row_cumsum(logf)[, -ncol(logf), drop = FALSE])
  list(c = exp(logc), den = den, num = num, rows = rows)
}

# d log W_it / d gamma_j (r x T) for column j of censoring_influence()'s Phi.
censoring_dlogw <- function(cw, cells, j) {
  pd <- ncol(cw$den$z)
  Qd <- pd + ncol(cw$f)
  if (j > Qd) {
    part <- cells$num
    z <- cw$num$z
    j <- j - Qd
    sign <- -1
  } else {
    part <- cells$den
    z <- cw$den$z
    sign <- 1
  }
  pz <- ncol(z)
  if (j <= pz) sign * z[cells$rows, j] * part$H else sign * part$Hf[[j - pz]]
}

# The nuisance columns of a censoring-weighted fit: Phi = (propensity,
# censoring models), and d log W_it / d theta_j for the chunk `cells`.
weight_nuisance <- function(prop, cw, n, Tm) {
  qp <- if (is.null(prop)) 0L else ncol(prop$Phi)
  Phi <- cbind(if (qp) prop$Phi else matrix(0, n, 0L), if (!is.null(cw)) cw$Phi)
  dlogw <- function(cells, j) {
    if (j <= qp) return(matrix(prop$dlogw[cells$rows, j], length(cells$rows), Tm))
    censoring_dlogw(cw, cells, j - qp)
  }
  list(Phi = Phi, dlogw = dlogw)
}

# ---- Kaplan-Meier on the period grid with censoring weights --------------------

# Arm k's curve S_k(t) = prod_{s <= t} (1 - D_ks / R_ks) over the weighted
# events D and people at risk R of each period. Person i of arm k moves
# log S_k(t) by sum_{s <= t} u_is, per unit of log W_is,
#   u_is = W_is (D_ks / (R_ks (R_ks - D_ks)) [s <= L_i] - d_i [s = L_i] / (R_ks - D_ks)),
# so U_i(k, t) = S_k(t) sum_{s <= t} u_is (0 in the other arms and where the
# curve has reached 0 or ended), and G = S_k(t) sum_{s <= t} sum_i u_is
# d log W_is / d theta.
grid_km_influence <- function(fit, prop) {
  pt <- fit$pt
  K <- length(fit$levels)
  Tm <- pt$n_periods
  a <- as.integer(fit$treatment)
  w <- sw_or_one(fit) * fit$ipw
  tab <- .Call(C_ffi_pt_risk_table, a, K, pt$last, pt$status, as.double(w),
               fit$models$censoring, Tm)
  R <- tab$at_risk
  D <- tab$events
  rate <- D / (R * (R - D))
  jump <- 1 / (R - D)
  rate[D == 0 | !is.finite(rate)] <- 0
  jump[!is.finite(jump)] <- 0
  S <- fit$survival
  S[is.na(S)] <- 0
  cw <- censoring_influence(fit)
  nu <- weight_nuisance(prop, cw, fit$n, Tm)
  inf <- structure(list(w = w, cw = cw, S = S, rate = rate, jump = jump),
                   class = "grid_km_influence")
  Q <- ncol(nu$Phi)
  G <- C <- matrix(0, K * Tm, Q)
  ij_var <- matrix(0, K, Tm)
  for (rows in row_chunks(fit$n, Tm * (Q + 8L))) {
    cells <- censoring_cells(cw, rows)
    u <- grid_km_cells(inf, fit, rows, cells)
    cu <- row_cumsum(u)
    for (k in seq_len(K)) {
      r <- a[rows] == k
      if (!any(r)) next
      rows_k <- (seq_len(Tm) - 1L) * K + k
      ij_var[k, ] <- ij_var[k, ] + colSums(cu[r, , drop = FALSE]^2)
      if (!Q) next
      C[rows_k, ] <- C[rows_k, ] + crossprod(cu[r, , drop = FALSE], nu$Phi[rows[r], , drop = FALSE])
      for (j in seq_len(Q)) {
        G[rows_k, j] <- G[rows_k, j] + colSums((u * nu$dlogw(cells, j))[r, , drop = FALSE])
      }
    }
  }
  s <- as.vector(S)
  for (k in seq_len(K)[Q > 0L]) {
    rows_k <- (seq_len(Tm) - 1L) * K + k
    G[rows_k, ] <- apply(G[rows_k, , drop = FALSE], 2L, cumsum)
  }
  inf$ij_var <- S^2 * ij_var
  inf$C <- s * C
  inf$G <- s * G
  inf$Phi <- nu$Phi
  inf
}

# u_is (r x T) of the chunk `rows` (see grid_km_influence()).
grid_km_cells <- function(inf, fit, rows, cells) {
  pt <- fit$pt
  a <- as.integer(fit$treatment)[rows]
  Tm <- pt$n_periods
  W <- matrix(inf$w[rows] * cells$c, length(rows), Tm)
  at <- col(W) <= pt$last[rows]
  ev <- col(W) == pt$last[rows] & pt$status[rows] == 1L
  W * (inf$rate[a, , drop = FALSE] * at - inf$jump[a, , drop = FALSE] * ev)
}

#' @export
influence_fixed.grid_km_influence <- function(inf, fit, L, arm, rows) {
  a <- as.integer(fit$treatment)[rows]
  out <- matrix(0, length(rows), ncol(L))
  Tm <- fit$pt$n_periods
  for (r in row_chunks(length(rows), Tm * 4L)) {
    cells <- censoring_cells(inf$cw, rows[r])
    cu <- row_cumsum(grid_km_cells(inf, fit, rows[r], cells))
    for (j in seq_len(ncol(L))) {
      k <- arm[j]
      out[r, j] <- ifelse(a[r] == k, drop(cu %*% (L[, j] * inf$S[k, ])), 0)
    }
  }
  out
}

# ---- pooled-logistic hazards with censoring weights -------------------------------

# The hazard model's per-person scores when it is fitted with the weights
# W_it = w_i c_it (w_i fixed: sampling times IP weights), and the chain of
# the censoring models into them: Phi_cens times the derivative of the
# summed score in the censoring coefficients (NULL without censoring
# models, cw = NULL, when c = 1). z, lp, ctab as for ffi_pooled_scores().
censored_hazard_scores <- function(hz, pt, z, lp, ctab, w, cw) {
  n <- length(lp)
  K <- hz$K
  arm <- as.integer(pt$arm)
  Q <- if (is.null(cw)) 0L else ncol(cw$Phi)
  score <- matrix(0, n, ncol(z) + ncol(pt$f) * K)
  dscore <- matrix(0, Q, ncol(score))
  for (rows in row_chunks(n, nrow(pt$f) * (Q + 8L))) {
    cells <- censoring_cells(cw, rows)
    h <- stats::plogis(lp[rows] + ctab[arm[rows], , drop = FALSE])
    at <- col(h) <= pt$last[rows]
    y <- at & col(h) == pt$last[rows] & pt$status[rows] == 1L
    e <- w[rows] * cells$c * (y - h * at)
    zr <- z[rows, , drop = FALSE]
    score[rows, ] <- pt_cell_scores(e, zr, pt$f, arm[rows], K)
    for (j in seq_len(Q)) {
      dscore[j, ] <- dscore[j, ] +
        colSums(pt_cell_scores(e * censoring_dlogw(cw, cells, j), zr, pt$f, arm[rows], K))
    }
  }
  list(score = score, chain = if (Q) cw$Phi %*% dscore)
}
