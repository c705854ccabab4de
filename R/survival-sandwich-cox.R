# Influence functions of standardized Cox curves (the "cox" method of
# survival_standardization(), not stratified), in the decomposition of
# R/survival-sandwich.R: phi_i(k, t) = U_i(k, t) + Phi_i . G(k, t).
#
# The hazard model is coxph() with Efron ties and case weights w_i (sampling
# weights times IP weights), and its baseline cumulative hazard is
# survfit()'s Efron-type estimator: at an event time t_j with n_j deaths of
# weight D_j, risk-set sum R_j = sum_{T_i >= t_j} w_i e^eta_i and death-set
# sum E_j = sum_{deaths at t_j} w_i e^eta_i,
#   dH_j = (D_j / n_j) sum_{r < n_j} 1 / (R_j - (r / n_j) E_j).
# Person i's curve under level k is S_ik(t) = exp(-H0(t) e^eta_ik), and the
# curve of arm k is S_k(t) = sum_i v_i S_ik(t) over the standardization
# weights v (sampling weights times the target population, normalized).
#
# With the coefficients fixed, a person's case weight moves the average and
# the baseline hazard:
#   U_i(k, t) = v_i (S_ik(t) - S_k(t)) - B_k(t) IH_i(t),
#   B_k(t) = sum_j v_j S_jk(t) e^eta_jk,
#   IH_i(t) = w_i [d_i 1{T_i <= t} (a_j(i) + e^eta_i c_j(i))
#                  - e^eta_i sum_{t_j <= min(t, T_i)} b_j],
# with a_j, -b_j and c_j the derivatives of dH_j in D_j, R_j and E_j. The
# nuisance coefficients are the Cox coefficients beta (their influence is
# the weighted score residuals times the inverse information, which is
# residuals(type = "dfbeta"), chained with the propensity model's through
# J = sum_i w_i s_i d log w_i / d alpha' when the model is IP weighted) and,
# with IP weights, the propensity coefficients alpha, through the baseline
# hazard's weights. Their derivatives:
#   G_beta(k, t) = -H0(t) sum_j v_j S_jk(t) e^eta_jk x_jk - B_k(t) dH0(t)/dbeta,
#   G_alpha(k, t) = -B_k(t) sum_i IH_i(t) d log w_i / d alpha.
# Everything is computed over people in chunks of about 2^21 cells
# (row_chunks()), in O(n m) per arm, as for pooled-logistic hazards.
cox_influence <- function(fit, prop) {
  hz <- fit$models$hazard
  K <- length(fit$levels)
  grid <- fit$times
  w <- sw_or_one(fit) * fit$ipw
  v <- sw_or_one(fit) * (fit$population %||% 1)
  pd <- person_design(fit$hazard)
  cf <- lapply(fit$levels, function(lev) person_design(fit$hazard, level = lev))
  x_levels <- lapply(cf, `[[`, "x")
  lp <- vapply(cf, function(d) cox_lp(hz, d$x, d$offset), numeric(fit$n))
  base <- cox_baseline_pieces(fit$time, fit$status, w, cox_lp(hz, pd$x, pd$offset), pd$x, grid)
  inf <- structure(c(base, list(lp = matrix(lp, ncol = K), v = v / sum(v), w = w)),
                   class = "cox_influence")
  score <- cox_weighted_scores(hz, w, ncol(pd$x))
  V <- hz$model$naive.var %||% hz$model$var
  V <- if (is.null(V)) matrix(0, 0L, 0L) else as.matrix(V)
  V[is.na(V)] <- 0
  chain <- if (!is.null(prop)) prop$Phi %*% crossprod(prop$dlogw, score)
  Phi_beta <- if (is.null(chain)) score %*% V else (score + chain) %*% V
  inf$Phi <- if (is.null(prop)) Phi_beta else cbind(Phi_beta, prop$Phi)
  sums <- cox_arm_sums(inf, fit, x_levels, prop$dlogw)
  inf[names(sums)] <- sums
  inf
}

# The weighted score residuals w_i s_i of the fitted coxph() model (n x p;
# 0 for people of weight 0, whom cox_fit() leaves out, and aliased columns).
cox_weighted_scores <- function(hz, w, p) {
  S <- matrix(0, length(w), p)
  if (!p) return(S)
  r <- as.matrix(stats::residuals(hz$model, type = "score", weighted = TRUE))
  r[is.na(r)] <- 0
  S[w > 0, ] <- r
  S
}

# The Efron-type baseline cumulative hazard at covariates 0 and what its
# influence needs, on the grid: H0, the running sum of b_j (cumB, with a
# leading 0), dH0/dbeta (m x p), and per person the grid index of T_i (the
# last grid time <= T_i), e^eta_i and the own-event term
# d_i (a_j + e^eta_i c_j).
cox_baseline_pieces <- function(time, status, w, eta, x, grid) {
  x <- as.matrix(x)
  keep <- w > 0
  ew <- w * exp(eta)
  dead <- keep & status == 1L
  tj <- sort(unique(time[dead]))
  J <- length(tj)
  at <- match(time, tj)
  # Risk-set sums over T_i >= t_j by reverse cumulative sums in time order.
  ord <- order(time, decreasing = TRUE)
  first <- findInterval(tj, sort(time), left.open = TRUE)
  rev_cum <- function(g) {
    g <- as.matrix(g)
    cs <- apply(g[ord, , drop = FALSE], 2L, cumsum)
    cs <- matrix(cs, nrow = length(ord))
    cs[length(time) - first, , drop = FALSE]
  }
  R <- drop(rev_cum(ew))
  Rx <- rev_cum(ew * x)
  nd <- tabulate(at[dead], J)
  D <- vapply(split(w[dead], factor(at[dead], seq_len(J))), sum, numeric(1))
  E <- vapply(split(ew[dead], factor(at[dead], seq_len(J))), sum, numeric(1))
  Ex <- rowsum(ew[dead] * x[dead, , drop = FALSE], factor(at[dead], seq_len(J)), reorder = TRUE)
  # One row per (event time, r = 0, ..., n_j - 1).
  jj <- rep(seq_len(J), nd)
  frac <- (sequence(nd) - 1) / nd[jj]
  den <- R[jj] - frac * E[jj]
  mw <- (D / nd)[jj]
  by_j <- function(g) rowsum(as.matrix(g), factor(jj, seq_len(J)), reorder = TRUE)
  dH <- drop(by_j(mw / den))
  a <- drop(by_j(1 / den)) / nd
  b <- drop(by_j(mw / den^2))
  cc <- drop(by_j(mw * frac / den^2))
  dHdb <- -by_j((mw / den^2) * (Rx[jj, , drop = FALSE] - frac * Ex[jj, , drop = FALSE]))
  on_grid <- findInterval(grid, tj) + 1L
  H0 <- c(0, cumsum(dH))[on_grid]
  cumB <- c(0, c(0, cumsum(b))[on_grid])
  dH0 <- rbind(0, apply(dHdb, 2L, cumsum))
  dH0 <- matrix(dH0, ncol = ncol(x))[on_grid, , drop = FALSE]
  own <- numeric(length(time))
  own[dead] <- a[at[dead]] + exp(eta[dead]) * cc[at[dead]]
  list(H0 = H0, cumB = cumB, dH0 = dH0, grid_index = findInterval(time, grid),
       eexp = exp(eta), own = own, status = as.integer(dead))
}

# IH_i(t) of the people `rows` on the grid (r x m).
cox_hazard_influence <- function(inf, rows) {
  m <- length(inf$H0)
  gi <- inf$grid_index[rows]
  col_m <- rep(seq_len(m), each = length(rows))
  upto <- pmin(col_m, gi)
  own <- inf$status[rows] * inf$own[rows]
  out <- ifelse(col_m >= gi, own, 0) - inf$eexp[rows] * inf$cumB[upto + 1L]
  matrix(inf$w[rows] * out, length(rows))
}

# The curves of the people `rows` under arm k (r x m).
cox_person_curves <- function(inf, rows, k) {
  exp(-outer(exp(inf$lp[rows, k]), inf$H0))
}

# Two passes per arm over the people (in chunks): the first for B_k, the
# x part of G_beta and G_alpha; the second for sum_i U_i^2 and
# sum_i U_i Phi_i.
cox_arm_sums <- function(inf, fit, x_levels, dlogw) {
  K <- ncol(inf$lp)
  m <- length(inf$H0)
  p <- ncol(inf$dH0)
  q <- if (is.null(dlogw)) 0L else ncol(dlogw)
  P <- ncol(inf$Phi)
  G <- C <- matrix(0, K * m, P)
  B <- matrix(0, K, m)
  ij_var <- matrix(0, K, m)
  chunks <- row_chunks(fit$n, m)
  hdl <- matrix(0, m, q)
  if (q) for (rows in chunks) {
    hdl <- hdl + crossprod(cox_hazard_influence(inf, rows), dlogw[rows, , drop = FALSE])
  }
  for (k in seq_len(K)) {
    rows_k <- (seq_len(m) - 1L) * K + k
    gx <- matrix(0, p, m)
    for (rows in chunks) {
      vSe <- inf$v[rows] * exp(inf$lp[rows, k]) * cox_person_curves(inf, rows, k)
      B[k, ] <- B[k, ] + colSums(vSe)
      if (p) gx <- gx + crossprod(x_levels[[k]][rows, , drop = FALSE], vSe)
    }
    if (p) G[rows_k, seq_len(p)] <- -inf$H0 * t(gx) - B[k, ] * inf$dH0
    if (q) G[rows_k, p + seq_len(q)] <- -B[k, ] * hdl
    inf$B <- B
    for (rows in chunks) {
      U <- cox_fixed_rows(inf, fit, rows, k)
      ij_var[k, ] <- ij_var[k, ] + colSums(U^2)
      C[rows_k, ] <- C[rows_k, ] + crossprod(U, inf$Phi[rows, , drop = FALSE])
    }
  }
  list(G = G, B = B, ij_var = ij_var, C = C)
}

# U_i(k, t) of the people `rows` (r x m).
cox_fixed_rows <- function(inf, fit, rows, k) {
  S <- cox_person_curves(inf, rows, k)
  inf$v[rows] * (S - rep(fit$survival[k, ], each = length(rows))) -
    cox_hazard_influence(inf, rows) * rep(inf$B[k, ], each = length(rows))
}

#' @export
influence_fixed.cox_influence <- function(inf, fit, L, arm, rows) {
  out <- matrix(0, length(rows), ncol(L))
  for (k in unique(arm)) {
    cols <- which(arm == k)
    for (r in row_chunks(length(rows), nrow(L))) {
      out[r, cols] <- cox_fixed_rows(inf, fit, rows[r], k) %*% L[, cols, drop = FALSE]
    }
  }
  out
}
