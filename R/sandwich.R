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
    H <- multinom_hessian(x, fit$fitted, weights %||% 1, intercept)
    penalty <- rep(pen, K - 1L)
  }
  diag(H) <- diag(H) + penalty
  list(H = H, kept = kept, penalty_score = penalty * ifelse(kept, beta, 0),
       intercept = intercept)
}

multinom_hessian <- function(x, P, sw, intercept) {
  p <- ncol(x) + intercept
  K <- ncol(P)
  H <- matrix(0, (K - 1L) * p, (K - 1L) * p)
  for (k in seq_len(K - 1L)) {
    for (l in k:(K - 1L)) {
      w <- sw * P[, k + 1L] * ((k == l) - P[, l + 1L])
      blk <- wcrossprod(x, w, intercept)
      rows <- (k - 1L) * p + seq_len(p)
      cols <- (l - 1L) * p + seq_len(p)
      H[rows, cols] <- blk
      H[cols, rows] <- t(blk)
    }
  }
  H
}

# Score parts of separate models on disjoint rows, sharing one design.
bind_score_parts <- function(parts) {
  H <- lapply(parts, `[[`, "H")
  q <- vapply(H, nrow, integer(1))
  big <- matrix(0, sum(q), sum(q))
  at <- c(0L, cumsum(q))
  for (b in seq_along(H)) big[at[b] + seq_len(q[b]), at[b] + seq_len(q[b])] <- H[[b]]
  list(R = do.call(cbind, lapply(parts, `[[`, "R")), H = big,
       kept = unlist(lapply(parts, `[[`, "kept")),
       penalty_score = unlist(lapply(parts, `[[`, "penalty_score")),
       intercept = parts[[1L]]$intercept)
}

wcrossprod <- function(x, w = NULL, intercept = FALSE) {
  .Call(C_ffi_wcrossprod, x, intercept, if (is.null(w)) NULL else as.double(w),
        causallib_threads())
}

xt_mat <- function(x, m, intercept = FALSE) {
  m <- as.matrix(m)
  storage.mode(m) <- "double"
  .Call(C_ffi_xt_mat, x, intercept, m, causallib_threads())
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
stacked_vcov <- function(x, score, Psi, D_mm, D_mb = NULL, C = NULL) {
  if (is.null(score)) {
    Dinv <- solve(D_mm)
    return(Dinv %*% crossprod(Psi) %*% t(Dinv))
  }
  K <- ncol(Psi)
  p <- ncol(x) + score$intercept
  storage.mode(Psi) <- "double"
  if (!is.null(C)) storage.mode(C) <- "double"
  res <- .Call(C_ffi_stacked_meat, x, score$intercept, score$R, Psi, C,
               causallib_threads())
  if (!is.null(C)) {
    blocks <- ncol(C) / K
    D_mb <- matrix(0, K, blocks * p)
    for (b in seq_len(blocks)) {
      D_mb[, (b - 1L) * p + seq_len(p)] <- t(res$xtc[, (b - 1L) * K + seq_len(K), drop = FALSE])
    }
  }
  sandwich_vcov(score, res$meat, D_mb, D_mm, nrow(x))
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
  Dinv <- tryCatch(solve(D), error = function(e) {
    cli::cli_abort(c(
      "The sandwich variance could not be computed: the estimating equations are singular.",
      i = "Try {.code se = \"bootstrap\"}."
    ))
  })
  V <- Dinv %*% meat %*% t(Dinv)
  idx <- sum(keep) - K + seq_len(K)
  V[idx, idx, drop = FALSE]
}
