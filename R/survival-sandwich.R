# Influence-function (sandwich) intervals of survival curves.
#
# A curve estimate S_k(t) (arm k, grid time t) is a smooth function of
# weighted sums over people and of nuisance coefficients (a propensity
# model, a hazard model). Its influence function at person i is
#   phi_i(k, t) = U_i(k, t) + Phi_i . G(k, t)
#   U:   the curve's influence with the nuisance coefficients held fixed (the
#        infinitesimal jackknife in the case weight of i), in a form the
#        method evaluates for any linear functional of the curve in O(n), so
#        the n x (K m) matrix is never built;
#   Phi: n x Q influence functions of all the nuisance coefficients (the
#        estimating functions times the inverse information, chained when
#        one model is fitted with another's weights);
#   G:   (K m) x Q derivative of the curves in those coefficients (rows
#        k-fastest, as means() orders the curves).
# A functional sum_t L[t, j] S_{arm_j}(t) -- a survival probability, a
# restricted mean survival time -- then has influence U L + Phi (G' L), and
# the stacker turns those into a covariance. For the pointwise standard
# errors only the diagonal is needed:
#   var(k, t) = sum_i U_i^2 + 2 G C' + G (Phi' Phi) G',  C = sum_i U_i Phi_i,
# which the method gives as running sums, again without an n x (K m) matrix.
#
# fit$influence keeps Phi, G and the method's small summaries; the curves'
# pointwise standard errors go to fit$std_error.

# The fit with its influence pieces and pointwise standard errors.
with_influence <- function(fit) {
  check_sandwich_covered(fit)
  inf <- km_influence(fit)
  nuis <- nuisance_pieces(fit, inf)
  inf$Phi <- nuis$Phi
  inf$G <- nuis$G
  fit$influence <- inf
  v <- as.vector(inf$ij_var)
  if (ncol(inf$Phi)) {
    C <- influence_cross(inf, fit, inf$Phi)
    v <- v + 2 * rowSums(inf$G * C) + rowSums((inf$G %*% crossprod(inf$Phi)) * inf$G)
  }
  se <- matrix(sqrt(pmax(v, 0)), nrow(fit$survival))
  se[is.na(fit$survival)] <- NA_real_
  fit$std_error <- se
  fit
}

# Why a fit has no influence-function intervals (a phrase), or NULL when it
# has them.
sandwich_coverage <- function(fit) {
  wm <- fit$weight_model
  why <- if (!fit$method %in% sandwich_methods) {
    switch(fit$method, cox = "standardized Cox curves", grid_km = "curves with a {.arg censoring_model}",
           "pooled-logistic hazard models")
  } else if (!is.null(fit$xc)) {
    "curves with a {.arg censoring_model}"
  } else if (isTRUE(fit$stratified)) {
    "stratified hazard models ({.code stratified = TRUE})"
  } else if (!is.null(wm) && !inherits(wm, "causallib_ipw")) {
    "weight models other than {.fn ipw}, such as {.fn matching}"
  } else if (!is.null(wm) && !inherits(wm$learner_fit, "causallib_glm_fit")) {
    "weight models whose learner is not the built-in {.fn lrn_glm}"
  }
  why
}

sandwich_methods <- "km"

# The default `se` of a fit: the sandwich wherever it is available.
default_survival_se <- function(fit) if (is.null(sandwich_coverage(fit))) "sandwich" else "bootstrap"

check_sandwich_covered <- function(fit) {
  why <- sandwich_coverage(fit)
  if (is.null(why)) return(invisible())
  cli::cli_abort(c(
    paste0("Influence-function ({.code se = \"sandwich\"}) intervals are not available for ", why, "."),
    i = "Use {.code se = \"bootstrap\"}, which refits the whole pipeline."
  ), call = NULL)
}

# The influence functions (n x r) of the functionals L (m x r, with the arm
# of each column) of the curves, for the people `rows`.
curve_influence <- function(fit, L, arm, rows = seq_len(fit$n)) {
  inf <- fit$influence
  U <- influence_fixed(inf, fit, L, arm, rows)
  if (!ncol(inf$Phi)) return(U)
  U + inf$Phi[rows, , drop = FALSE] %*% functional_gradient(inf$G, L, arm, nrow(fit$survival))
}

# G' L: the derivative of each functional in the nuisance coefficients.
functional_gradient <- function(G, L, arm, K) {
  m <- nrow(L)
  vapply(seq_along(arm), function(j) {
    drop(crossprod(G[(seq_len(m) - 1L) * K + arm[j], , drop = FALSE], L[, j]))
  }, numeric(ncol(G)))
}

influence_fixed <- function(inf, fit, L, arm, rows) UseMethod("influence_fixed")
influence_cross <- function(inf, fit, g) UseMethod("influence_cross")

# ---- nuisance models -------------------------------------------------------------

# Phi and G of the fit's nuisance models: the propensity model of IP
# weights.
nuisance_pieces <- function(fit, inf) {
  wm <- fit$weight_model
  K <- nrow(fit$survival)
  m <- ncol(fit$survival)
  Phi <- matrix(0, fit$n, 0L)
  G <- matrix(0, K * m, 0L)
  prop <- if (!is.null(wm)) propensity_pieces(wm)
  if (!is.null(prop)) {
    Phi <- cbind(Phi, prop$Phi)
    G <- cbind(G, influence_cross(inf, fit, prop$dlogw))
  }
  list(Phi = Phi, G = G)
}

# The influence functions of a propensity model's coefficients (n x q) and
# the derivative of each unit's log IP weight in them (n x q), from the
# learner's score parts (glm_score_parts()).
propensity_pieces <- function(wm) {
  z <- coefficient_design(wm$x, wm$intercept)
  score <- glm_score_parts(wm$learner_fit, wm$x, wm$treatment, wm$sampling_weights)
  blocks <- ncol(score$R)
  S <- do.call(cbind, lapply(seq_len(blocks), function(b) z * score$R[, b]))
  dlogw <- do.call(cbind, lapply(seq_len(blocks), function(b) z * (wm$dw_deta[, b] / wm$ip_weights)))
  list(Phi = coefficient_influence(S, score, blocks), dlogw = dlogw)
}

# The person-level design of a model's coefficients: its columns, after a
# column of ones when the learner fits an intercept itself.
coefficient_design <- function(x, intercept) {
  z <- as.matrix(x)
  if (isTRUE(intercept)) z <- cbind("(Intercept)" = 1, z)
  z
}

# Influence functions of a model's coefficients from its per-unit scores S
# (n x q, summing to the penalty's score at a ridge solution) and its
# score parts: (S - penalty / n) times the inverse information, mapped to
# the coefficients of the design as given (coef_vcov()); 0 for aliased ones.
coefficient_influence <- function(S, score, blocks) {
  V <- coef_vcov(score$H, score$kept, score$center, score$anchor, blocks)
  V[is.na(V)] <- 0
  S <- sweep(S, 2L, score$penalty_score / nrow(S))
  S %*% V
}

# ---- weighted Kaplan-Meier ----------------------------------------------------------

# A person i of arm k with weight w_i, time T_i and event d_i has
#   U_i(k, t) = w_i S_k(t) H_k(t)                 for t < T_i,
#               w_i S_k(t) (H_k(T_i) - d_i / (Y_k - d_k)(T_i))   for t >= T_i,
# H_k(t) = sum_{s <= t} d_k(s) / (Y_k(s) (Y_k(s) - d_k(s))) (see src/km.c),
# and 0 in the other arms. Where a curve has reached 0 (or ended) every U
# is 0, so the unbounded terms there are set to 0.
km_influence <- function(fit) {
  K <- length(fit$levels)
  w <- sw_or_one(fit) * fit$ipw
  a <- as.integer(fit$treatment)
  km <- .Call(C_ffi_km, fit$time, fit$status, as.double(w), a, K)
  grid <- fit$times
  S <- fit$survival
  S[is.na(S)] <- 0
  Hgrid <- matrix(0, K, length(grid))
  own <- numeric(fit$n)
  for (k in seq_len(K)) {
    r <- km$stratum == k
    if (!any(r)) next
    Y <- km$n_risk[r]
    d <- km$n_event[r]
    H <- cumsum(ifelse(d > 0, d / (Y * (Y - d)), 0))
    Hgrid[k, ] <- c(0, H)[findInterval(grid, km$time[r]) + 1L]
    i <- which(a == k)
    j <- match(fit$time[i], km$time[r])
    own[i] <- H[j] - fit$status[i] / (Y[j] - d[j])
  }
  Hgrid[S == 0 | !is.finite(Hgrid)] <- 0
  own[!is.finite(own)] <- 0
  # Persons in time order within arm, for the running sums.
  ord <- order(a, fit$time)
  inf <- structure(list(w = w, own = own, S = S, H = Hgrid, ord = ord,
                        arm_start = c(0L, cumsum(tabulate(a, K)))),
                   class = "km_influence")
  inf$ij_var <- km_ij_var(inf, fit)
  inf
}

# sum_i U_i(k, t)^2 (K x m): running sums of w^2 and (w own)^2.
km_ij_var <- function(inf, fit) {
  g <- cbind(inf$w, inf$w * inf$own)
  acc <- km_running(inf, fit, g^2)
  K <- nrow(inf$S)
  out <- inf$S^2 * (as.vector(inf$H)^2 * acc$after[, 1L] + acc$upto[, 2L])
  matrix(out, K)
}

# For every arm k and grid time t (rows k-fastest): the sums of the rows of
# g over the people of arm k with T_i > t (after) and T_i <= t (upto).
km_running <- function(inf, fit, g) {
  K <- nrow(inf$S)
  grid <- fit$times
  m <- length(grid)
  after <- upto <- matrix(0, K * m, ncol(g))
  for (k in seq_len(K)) {
    idx <- inf$ord[inf$arm_start[k] + seq_len(inf$arm_start[k + 1L] - inf$arm_start[k])]
    if (!length(idx)) next
    cs <- rbind(0, apply(g[idx, , drop = FALSE], 2L, cumsum))
    n_upto <- findInterval(grid, fit$time[idx]) + 1L
    rows <- (seq_len(m) - 1L) * K + k
    upto[rows, ] <- cs[n_upto, , drop = FALSE]
    after[rows, ] <- sweep(-cs[n_upto, , drop = FALSE], 2L, cs[nrow(cs), ], `+`)
  }
  list(after = after, upto = upto)
}

#' @export
influence_cross.km_influence <- function(inf, fit, g) {
  acc <- km_running(inf, fit, inf$w * g)
  own <- km_running(inf, fit, (inf$w * inf$own) * g)$upto
  s <- as.vector(inf$S)
  s * (as.vector(inf$H) * acc$after + own)
}

# U L for one functional per column of L: sum_{t < T_i} L_t S_t H_t +
# own_i sum_{t >= T_i} L_t S_t, times w_i, for the people of the column's
# arm.
#' @export
influence_fixed.km_influence <- function(inf, fit, L, arm, rows) {
  grid <- fit$times
  before <- findInterval(fit$time[rows], grid, left.open = TRUE)
  a <- as.integer(fit$treatment)[rows]
  out <- matrix(0, length(rows), ncol(L))
  for (j in seq_len(ncol(L))) {
    k <- arm[j]
    ls <- L[, j] * inf$S[k, ]
    A <- c(0, cumsum(ls * inf$H[k, ]))[before + 1L]
    B <- sum(ls) - c(0, cumsum(ls))[before + 1L]
    out[, j] <- ifelse(a == k, inf$w[rows] * (A + inf$own[rows] * B), 0)
  }
  out
}
