# The slow, obvious R reference of the pooled-logistic influence pieces
# that src/pooled-influence.c computes in one streamed pass each: the
# person-by-period hazards, running products and sums as R matrices over
# chunks of people. It was the package's implementation before the C
# kernel; test-survival-sandwich.R compares the two.

# Row chunks and running products and sums along rows: the package's own
# helpers (plain loops, which the Cox, AIPW and censoring code use too).
ref_row_chunks <- causallib:::row_chunks
ref_row_cumprod <- causallib:::row_cumprod
ref_row_cumsum <- causallib:::row_cumsum

# The hazard model's score per person (n x P: the person design z, the
# period terms, then the arm-by-period terms).
ref_person_scores <- function(hz, pt, z, lp, ctab, w) {
  n <- length(lp)
  F <- pt$f
  q <- ncol(F)
  arm <- as.integer(pt$arm)
  K <- hz$K
  E <- numeric(n)
  Fe <- matrix(0, n, q)
  for (rows in ref_row_chunks(n, nrow(F))) {
    h <- stats::plogis(lp[rows] + ctab[arm[rows], , drop = FALSE])
    h[col(h) > pt$last[rows]] <- 0
    ev <- pt$status[rows]
    E[rows] <- ev - rowSums(h)
    Fe[rows, ] <- ev * F[pmax(pt$last[rows], 1L), , drop = FALSE] - h %*% F
  }
  blocks <- if (K > 1L) lapply(seq_len(K)[-1L], function(a) Fe * (arm == a))
  w * do.call(cbind, c(list(z * E, Fe), blocks))
}

# The hazards (r x T) of the rows' person parts under level k.
ref_person_hazards <- function(inf, rows, k) {
  lp <- inf$lp[if (inf$single) 1L else rows, k]
  stats::plogis(outer(lp, inf$ctab[k, ], `+`))
}

# G, ij_var and C by one pass per arm over chunks of people.
ref_pooled_arm_sums <- function(inf, fit, z_levels) {
  K <- ncol(inf$lp)
  F <- fit$pt$f
  Tm <- nrow(F)
  q <- ncol(F)
  P <- ncol(inf$Phi)
  pz <- ncol(z_levels[[1L]])
  G <- C <- matrix(0, K * Tm, P)
  ij_var <- matrix(0, K, Tm)
  for (k in seq_len(K)) {
    gz <- matrix(0, pz, Tm)
    gf <- matrix(0, q, Tm)
    rows_k <- (seq_len(Tm) - 1L) * K + k
    for (rows in ref_row_chunks(nrow(inf$lp), Tm)) {
      h <- ref_person_hazards(inf, rows, k)
      S <- ref_row_cumprod(1 - h)
      vS <- S * if (inf$single) 1 else inf$v[rows]
      gz <- gz + crossprod(z_levels[[k]][rows, , drop = FALSE], vS * ref_row_cumsum(h))
      for (j in seq_len(q)) gf[j, ] <- gf[j, ] + colSums(vS * ref_row_cumsum(h * rep(F[, j], each = nrow(h))))
      if (inf$single) next
      D <- S - rep(fit$survival[k, ], each = nrow(S))
      ij_var[k, ] <- ij_var[k, ] + colSums((inf$v[rows] * D)^2)
      C[rows_k, ] <- C[rows_k, ] + crossprod(D, inf$v[rows] * inf$Phi[rows, , drop = FALSE])
    }
    G[rows_k, seq_len(pz)] <- -t(gz)
    G[rows_k, pz + seq_len(q)] <- -t(gf)
    if (k > 1L) G[rows_k, pz + (k - 1L) * q + seq_len(q)] <- -t(gf)
  }
  list(G = G, ij_var = ij_var, C = C)
}

# The whole of pooled_influence() in R: list(lp, ctab, v, single, Phi, G,
# ij_var, C) for a pooled-logistic survival fit.
ref_pooled_influence <- function(fit) {
  ns <- asNamespace("causallib")
  prop <- if (!is.null(fit$weight_model)) ns$propensity_pieces(fit$weight_model)
  hz <- fit$models$hazard
  pt <- fit$pt
  K <- length(fit$levels)
  single <- fit$method == "grid_pooled_logistic"
  if (single) {
    x_obs <- ns$treatment_dummies(fit$treatment)
    intercept <- TRUE
    offset <- NULL
    x_levels <- lapply(seq_len(K), function(k) diag(1, K)[k, -1L, drop = FALSE])
    off_levels <- vector("list", K)
    v <- 1
  } else {
    pd <- ns$person_design(fit$hazard)
    x_obs <- pd$x
    intercept <- pd$intercept
    offset <- pd$offset
    cf <- lapply(fit$levels, function(lev) ns$person_design(fit$hazard, level = lev))
    x_levels <- lapply(cf, `[[`, "x")
    off_levels <- lapply(cf, `[[`, "offset")
    v <- ns$sw_or_one(fit) * (if (is.null(fit$population)) 1 else fit$population)
  }
  ctab <- ns$pt_period_table(hz, pt$f)
  lp <- vapply(seq_len(K), function(k) ns$pt_person_lp(hz, x_levels[[k]], off_levels[[k]]),
               numeric(nrow(x_levels[[1L]])))
  inf <- list(single = single, lp = matrix(lp, ncol = K), ctab = ctab, v = v / sum(v))
  score <- ref_person_scores(hz, pt, ns$coefficient_design(x_obs, intercept),
                             ns$pt_person_lp(hz, x_obs, offset), ctab, ns$sw_or_one(fit) * fit$ipw)
  kept <- !hz$aliased
  pen <- ns$pt_penalty(fit$learner, length(kept), intercept)
  parts <- list(H = hz$information, kept = kept, center = hz$center, anchor = hz$anchor,
                penalty_score = if (is.null(pen)) numeric(length(kept)) else
                  pen * ifelse(kept, hz$coefficients, 0))
  chain <- if (!is.null(prop)) prop$Phi %*% crossprod(prop$dlogw, score)
  inf$score <- score
  inf$Phi <- ns$coefficient_influence(score, parts, 1L, chain)
  sums <- ref_pooled_arm_sums(inf, fit, lapply(x_levels, ns$coefficient_design, intercept = intercept))
  inf[names(sums)] <- sums
  inf
}

# U L for the functionals L (m x r) with the arm of each column, for the
# people `rows`.
ref_pooled_influence_fixed <- function(inf, fit, L, arm, rows) {
  out <- matrix(0, length(rows), ncol(L))
  if (inf$single) return(out)
  for (k in unique(arm)) {
    cols <- which(arm == k)
    # After the arm's curve ends (NA) every functional has weight 0.
    at_mean <- colSums(L[, cols, drop = FALSE] * ifelse(is.na(fit$survival[k, ]), 0, fit$survival[k, ]))
    for (r in ref_row_chunks(length(rows), nrow(L))) {
      S <- ref_row_cumprod(1 - ref_person_hazards(inf, rows[r], k))
      out[r, cols] <- inf$v[rows[r]] * (S %*% L[, cols, drop = FALSE] - rep(at_mean, each = length(r)))
    }
  }
  out
}
