# Stacked estimating equations (M-estimation; Stefanski & Boos 2002).
#
# Every estimator here stacks the score equations of its nuisance model(s),
# psi_beta,i = x_i r_i (one block per linear predictor, all sharing the
# design x), on top of K target equations psi_mu,i = Psi[i, ] for the
# potential-outcome means.  The sandwich is
#   V = D^{-1} B D^{-T},  D = d sum(psi) / d theta',  B = sum(psi psi'),
# whose heavy parts (X'WX blocks of D and B, X'M cross terms) run in C.

# Score multipliers and Hessian of a fitted GLM-type learner.
#   R: n x m matrix, score_i = x_i * R[i, b] for block b
#   H, kept, penalty_score: see glm_score_hessian()
glm_score_parts <- function(fit, x, y, weights = NULL, offset = NULL) {
  n <- nrow(x)
  sw <- weights %||% 1
  if (is.null(fit$levels)) {
    eta <- drop(linear_predictor(fit, x, offset))
    R <- matrix(sw * (y - glm_linkinv(fit$family, eta)), n, 1L)
  } else if (length(fit$levels) == 2L) {
    R <- matrix(sw * ((as.integer(y) == 2L) - fit$fitted[, 2L]), n, 1L)
  } else {
    P <- fit$fitted
    ind <- outer(as.integer(y), seq_len(ncol(P)), `==`)
    R <- sw * (ind[, -1L, drop = FALSE] - P[, -1L, drop = FALSE])
  }
  c(list(R = R), glm_score_hessian(fit, x, weights))
}

# The parts of a fitted GLM-type learner's estimating equations that need
# no pass over its scores:
#   H: (m p) x (m p) negative Hessian of the (penalized) log-likelihood
#   kept: which of the m p coefficients are estimated (not aliased)
#   penalty_score: the sum of the scores at a ridge solution
#   center: NULL, or the shifts of x the C fit ran on (see cp_center_plan()
#     in src/design.c). The equations are then those of the same model on x
#     less center, whose coefficients differ only in the anchor's (an
#     unpenalized column of ones): H, and every meat and derivative built
#     from this score, are for the shifted design, which keeps them well
#     conditioned for covariates far from 0; the targets' covariance is the
#     same for either parametrization.
glm_score_hessian <- function(fit, x, weights = NULL) {
  intercept <- isTRUE(fit$intercept)
  pen <- glm_penalty(fit$learner, x, intercept)
  beta <- as.vector(fit$coefficients)
  kept <- !is.na(beta)
  # For the canonical links the C fit returns the information X'WX at its
  # final coefficients, which is the Hessian needed here.
  if (is.null(fit$levels) || length(fit$levels) == 2L) {
    H <- fit$information
    penalty <- pen
  } else {
    K <- ncol(fit$fitted)
    H <- multinom_hessian(x, fit$fitted, weights %||% 1, intercept, fit$center)
    penalty <- rep(pen, K - 1L)
  }
  diag(H) <- diag(H) + penalty
  # The anchor is unpenalized, so the penalty's score is the same for both
  # parametrizations.
  list(H = H, kept = kept, penalty_score = penalty * ifelse(kept, beta, 0),
       intercept = intercept, center = fit$center, anchor = fit$anchor)
}

multinom_hessian <- function(x, P, sw, intercept, center = NULL) {
  p <- ncol(x) + intercept
  K <- ncol(P)
  H <- matrix(0, (K - 1L) * p, (K - 1L) * p)
  for (k in seq_len(K - 1L)) {
    for (l in k:(K - 1L)) {
      w <- sw * P[, k + 1L] * ((k == l) - P[, l + 1L])
      blk <- wcrossprod(x, w, intercept, center)
      rows <- (k - 1L) * p + seq_len(p)
      cols <- (l - 1L) * p + seq_len(p)
      H[rows, cols] <- blk
      H[cols, rows] <- t(blk)
    }
  }
  H
}

# Score parts of separate models on disjoint rows, sharing one design. Each
# model may have run on its own shifts of the design (those of its rows);
# their Hessians are moved to the first shifted model's, which the meat and
# derivatives built from the bound parts then use.
bind_score_parts <- function(parts) {
  shifted <- Filter(function(p) !is.null(p$center), parts)
  center <- if (length(shifted)) shifted[[1L]]$center
  if (!is.null(center)) {
    parts <- lapply(parts, function(p) {
      p$H <- recenter_hessian(p$H, p$center %||% numeric(length(center)), center,
                              shifted[[1L]]$anchor)
      p
    })
  }
  H <- lapply(parts, `[[`, "H")
  q <- vapply(H, nrow, integer(1))
  big <- matrix(0, sum(q), sum(q))
  at <- c(0L, cumsum(q))
  for (b in seq_along(H)) big[at[b] + seq_len(q[b]), at[b] + seq_len(q[b])] <- H[[b]]
  list(R = do.call(cbind, lapply(parts, `[[`, "R")), H = big,
       kept = unlist(lapply(parts, `[[`, "kept")),
       penalty_score = unlist(lapply(parts, `[[`, "penalty_score")),
       intercept = parts[[1L]]$intercept, center = center,
       anchor = if (length(shifted)) shifted[[1L]]$anchor)
}

# The Hessian H of a model's coefficients on its design less `from` as that
# of the design less `to` (the column `anchor` of ones absorbing the
# difference, per block of length(to) coefficients): X - from = (X - to) A
# with A the identity but A[anchor, j] = to_j - from_j, so H_to = B' H B,
# B = A^-1. Both shifts lie near the data, so B is well conditioned.
recenter_hessian <- function(H, from, to, anchor) {
  if (identical(from, to)) return(H)
  p <- length(to)
  B <- diag(nrow(H))
  for (b in seq_len(nrow(H) %/% p)) {
    at <- (b - 1L) * p
    B[at + anchor, at + seq_len(p)] <- from - to
    B[at + anchor, at + anchor] <- 1
  }
  t(B) %*% H %*% B
}

# X' diag(w) X and X' m of the design x (with an implicit intercept), less
# its shifts `center` when given (see glm_score_hessian()).
wcrossprod <- function(x, w = NULL, intercept = FALSE, center = NULL) {
  .Call(C_ffi_wcrossprod, x, intercept, center, if (is.null(w)) NULL else as.double(w),
        causallib_threads())
}

xt_mat <- function(x, m, intercept = FALSE, center = NULL) {
  m <- as.matrix(m)
  storage.mode(m) <- "double"
  .Call(C_ffi_xt_mat, x, intercept, center, m, causallib_threads())
}

# Sandwich covariance of the K target parameters.
#   x, score: the nuisance design and glm_score_parts()
#   Psi: n x K target estimating functions at the estimates
#   D_mm: K x K derivative of the target equations in the targets
#   D_mb: K x (m p) derivative of the target equations in the nuisance
#         coefficients, given directly, or through
#   C: an n x (m K) matrix with D_mb[k, block b] = X' C[, (b - 1) K + k],
#      computed in the same pass over X as the meat
#   score = NULL: no nuisance model (e.g. plain means)
#   cluster: NULL, or the units' clusters (see R/cluster.R): the per-unit
#      estimating functions are then built in R and summed within clusters
stacked_vcov <- function(x, score, Psi, D_mm, D_mb = NULL, C = NULL, cluster = NULL) {
  if (is.null(score)) {
    Dinv <- solve(D_mm)
    return(Dinv %*% cluster_meat(Psi, cluster) %*% t(Dinv))
  }
  K <- ncol(Psi)
  p <- ncol(x) + score$intercept
  storage.mode(Psi) <- "double"
  if (!is.null(C)) storage.mode(C) <- "double"
  if (!is.null(cluster)) {
    if (!is.null(C)) D_mb <- derivative_blocks(xt_mat(x, C, score$intercept, score$center), K, p)
    return(clustered_stacked_vcov(x, score, Psi, D_mm, D_mb, cluster))
  }
  res <- .Call(C_ffi_stacked_meat, x, score$intercept, score$center, score$R, Psi, C,
               causallib_threads())
  if (!is.null(C)) D_mb <- derivative_blocks(res$xtc, K, p)
  sandwich_vcov(score, res$meat, D_mb, D_mm, nrow(x))
}

# D_mb (K x blocks p) from X' C (p x blocks K).
derivative_blocks <- function(xtc, K, p) {
  blocks <- ncol(xtc) / K
  D_mb <- matrix(0, K, blocks * p)
  for (b in seq_len(blocks)) {
    D_mb[, (b - 1L) * p + seq_len(p)] <- t(xtc[, (b - 1L) * K + seq_len(K), drop = FALSE])
  }
  D_mb
}

# The clustered sandwich: the nuisance scores x_i R[i, b] (on the design
# less its shifts, as the C meat) next to Psi, summed within clusters
# (cluster_estfun()). At a ridge solution the scores sum to the penalty's
# score, which the cluster sums are centred on (sandwich_vcov() centres
# per unit otherwise).
clustered_stacked_vcov <- function(x, score, Psi, D_mm, D_mb, cluster) {
  z <- coefficient_design(x, score$intercept)
  if (!is.null(score$center)) z <- z - rep(score$center, each = nrow(z))
  S <- do.call(cbind, lapply(seq_len(ncol(score$R)), function(b) z * score$R[, b]))
  U <- cluster_estfun(cbind(S, Psi), cluster)
  q <- ncol(S)
  centre <- score$penalty_score * sqrt(cluster$G / (cluster$G - 1)) / cluster$G
  U[, seq_len(q)] <- U[, seq_len(q), drop = FALSE] - rep(centre, each = nrow(U))
  score$penalty_score <- numeric(q)
  sandwich_vcov(score, crossprod(U), D_mb, D_mm, cluster$G)
}

# V = D^{-1} meat D^{-T} for the K targets, from the meat of n units, the
# nuisance score parts (glm_score_hessian()) and the derivatives D_mb, D_mm
# of the target equations.
sandwich_vcov <- function(score, meat, D_mb, D_mm, n) {
  q <- nrow(score$H)
  K <- ncol(D_mm)
  # Sum of the scores is penalty * beta at a ridge solution, so centring them
  # removes n c c' from the nuisance block of the meat.
  ps <- score$penalty_score
  meat[seq_len(q), seq_len(q)] <- meat[seq_len(q), seq_len(q)] - tcrossprod(ps) / n
  D <- rbind(cbind(-score$H, matrix(0, q, K)), cbind(D_mb, D_mm))
  keep <- c(score$kept, rep(TRUE, K))
  D <- D[keep, keep, drop = FALSE]
  meat <- meat[keep, keep, drop = FALSE]
  Dinv <- solve_equilibrated(D, function(e) {
    cli::cli_abort(c(
      "The sandwich variance could not be computed: the estimating equations are singular.",
      i = "Try {.code se = \"bootstrap\"}."
    ))
  })
  V <- Dinv %*% meat %*% t(Dinv)
  idx <- sum(keep) - K + seq_len(K)
  V[idx, idx, drop = FALSE]
}

# solve(A) of a square matrix whose rows and columns may differ in scale by
# many orders of magnitude (a covariate in grams next to one in tonnes):
# solve() of S A S, S = diag(powers of 2 near 1 / sqrt(|A_jj|)), which is
# exact, and so the same inverse, but does not trip solve()'s test of the
# reciprocal condition number. on_error(e) handles solve()'s error.
solve_equilibrated <- function(A, on_error) {
  d <- abs(diag(A))
  s <- ifelse(d > 0 & is.finite(d), 2^-round(log2(d) / 2), 1)
  ss <- outer(s, s)
  ss * tryCatch(solve(A * ss), error = on_error)
}

# The inverse of a fit's information H (q x q) as the covariance of its
# coefficients, NA for the aliased ones (not `kept`). A fit that ran on its
# design shifted by `center` (see glm_score_hessian()) has H for the
# shifted design's coefficients gamma; the coefficients are beta = A gamma,
# A the identity but for row `anchor` of each of the `blocks` linear
# predictors, which subtracts center' gamma of the block, and their
# covariance is A H^-1 A'.
coef_vcov <- function(H, kept, center = NULL, anchor = NULL, blocks = 1L) {
  q <- length(kept)
  V <- matrix(0, q, q)
  V[kept, kept] <- solve_equilibrated(H[kept, kept, drop = FALSE], stop)
  if (!is.null(center)) {
    A <- diag(q)
    p <- length(center)
    for (b in seq_len(blocks)) {
      at <- (b - 1L) * p
      A[at + anchor, at + seq_len(p)] <- -center
      A[at + anchor, at + anchor] <- 1
    }
    V <- A %*% V %*% t(A)
  }
  V[!kept, ] <- NA_real_
  V[, !kept] <- NA_real_
  V
}
