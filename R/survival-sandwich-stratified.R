# Influence functions of standardized curves from stratified pooled-logistic
# hazard models (stratified = TRUE): one model per arm, fitted on the arm's
# people, predicting every person's curve under that arm. See
# R/survival-sandwich.R for the framework (U, Phi, G).
#
# Arm k's curve is S_k(t) = sum_i v_i S_ik(t), S_ik(t) = prod_{s <= t}
# (1 - h_iks), logit h_iks = lp_ik + ctab[k, s] from model k. Holding the
# models fixed, U_i(k, t) = v_i (S_ik(t) - S_k(t)). Model k's coefficient
# influence comes from its score over the arm's person-time (the weights
# w_i c_it of its fit, chained with the propensity and censoring models as
# for the unstratified model), and is 0 for the people of the other arms;
# Phi puts the K models' columns side by side, and arm k's curve depends on
# model k's block only:
#   G(k, t) = -sum_i v_i S_ik(t) sum_{s <= t} h_iks (z_i, f_s).
stratified_influence <- function(fit, prop) {
  pt <- fit$pt
  K <- length(fit$levels)
  n <- fit$n
  a <- as.integer(fit$treatment)
  pd <- person_design(fit$hazard)
  z <- coefficient_design(pd$x, pd$intercept)
  w <- sw_or_one(fit) * fit$ipw
  v <- sw_or_one(fit) * (fit$population %||% 1)
  cw <- censoring_influence(fit)
  one_arm <- pt
  one_arm$arm <- factor(rep(1L, n))
  lp <- matrix(0, n, K)
  ctab <- matrix(0, K, pt$n_periods)
  Phi <- vector("list", K)
  for (k in seq_len(K)) {
    hz <- fit$models$hazard[[k]]
    lp[, k] <- pt_person_lp(hz, pd$x, pd$offset)
    ctab[k, ] <- pt_period_table(hz, pt$f)[1L, ]
    scores <- censored_hazard_scores(hz, one_arm, z, lp[, k], ctab[k, , drop = FALSE],
                                     w * (a == k), cw)
    chain <- scores$chain
    if (!is.null(prop)) chain <- (chain %||% 0) + prop$Phi %*% crossprod(prop$dlogw, scores$score)
    Phi[[k]] <- coefficient_influence(scores$score, pt_score_parts(hz, fit$learner), 1L, chain)
  }
  inf <- structure(list(lp = lp, ctab = ctab, v = v / sum(v), Phi = do.call(cbind, Phi)),
                   class = "stratified_influence")
  sums <- stratified_arm_sums(inf, fit, z, vapply(Phi, ncol, 1L))
  inf[names(sums)] <- sums
  inf
}

# Every person's curve (r x T) under arm k's model, for the people `rows`.
stratified_curves <- function(inf, rows, k) {
  h <- stats::plogis(outer(inf$lp[rows, k], inf$ctab[k, ], `+`))
  list(h = h, S = row_cumprod(1 - h))
}

# One pass per arm over the people (in chunks) for G, sum_i U_i^2 and
# sum_i U_i Phi_i; widths: the number of columns of each arm's block of Phi.
stratified_arm_sums <- function(inf, fit, z, widths) {
  K <- ncol(inf$lp)
  F <- fit$pt$f
  Tm <- nrow(F)
  q <- ncol(F)
  pz <- ncol(z)
  offsets <- c(0L, cumsum(widths))
  G <- C <- matrix(0, K * Tm, ncol(inf$Phi))
  ij_var <- matrix(0, K, Tm)
  for (k in seq_len(K)) {
    gz <- matrix(0, pz, Tm)
    gf <- matrix(0, q, Tm)
    rows_k <- (seq_len(Tm) - 1L) * K + k
    for (rows in row_chunks(fit$n, Tm)) {
      cur <- stratified_curves(inf, rows, k)
      vS <- inf$v[rows] * cur$S
      gz <- gz + crossprod(z[rows, , drop = FALSE], vS * row_cumsum(cur$h))
      for (j in seq_len(q)) gf[j, ] <- gf[j, ] + colSums(vS * row_cumsum(cur$h * rep(F[, j], each = nrow(cur$h))))
      D <- cur$S - rep(fit$survival[k, ], each = nrow(cur$S))
      ij_var[k, ] <- ij_var[k, ] + colSums((inf$v[rows] * D)^2)
      C[rows_k, ] <- C[rows_k, ] + crossprod(D, inf$v[rows] * inf$Phi[rows, , drop = FALSE])
    }
    G[rows_k, offsets[k] + seq_len(pz)] <- -t(gz)
    G[rows_k, offsets[k] + pz + seq_len(q)] <- -t(gf)
  }
  list(G = G, ij_var = ij_var, C = C)
}

#' @export
influence_fixed.stratified_influence <- function(inf, fit, L, arm, rows) {
  out <- matrix(0, length(rows), ncol(L))
  for (k in unique(arm)) {
    cols <- which(arm == k)
    # After the arm's curve ends (NA) every functional has weight 0.
    at_mean <- colSums(L[, cols, drop = FALSE] * ifelse(is.na(fit$survival[k, ]), 0, fit$survival[k, ]))
    for (r in row_chunks(length(rows), nrow(L))) {
      S <- stratified_curves(inf, rows[r], k)$S
      out[r, cols] <- inf$v[rows[r]] * (S %*% L[, cols, drop = FALSE] - rep(at_mean, each = length(r)))
    }
  }
  out
}
