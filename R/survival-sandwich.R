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

# The fit with its influence pieces and pointwise standard errors. Each
# method returns Phi, G, the variances sum_i U_i^2 (ij_var) and the cross
# sums C = sum_i U_i Phi_i, in as few passes over the people as it can.
with_influence <- function(fit) {
  if (inherits(fit, "causallib_survival_aipw")) return(with_aipw_influence(fit))
  check_sandwich_covered(fit)
  prop <- if (!is.null(fit$weight_model)) propensity_pieces(fit$weight_model)
  inf <- switch(fit$method,
    km = km_influence(fit, prop),
    grid_km = grid_km_influence(fit, prop),
    pooled_logistic = if (isTRUE(fit$stratified)) stratified_influence(fit, prop) else pooled_influence(fit, prop),
    grid_pooled_logistic = pooled_influence(fit, prop),
    cox = cox_influence(fit, prop))
  if (!fit$marginal && !is.null(prop$dlogpop)) inf <- with_population_influence(inf, fit, prop)
  G <- inf$G
  v <- as.vector(inf$ij_var)
  if (ncol(G)) v <- v + 2 * rowSums(G * inf$C) + rowSums((G %*% crossprod(inf$Phi)) * G)
  inf[c("C", "ij_var")] <- list(NULL)
  fit$influence <- inf
  se <- if (is.null(fit$cluster)) matrix(sqrt(pmax(v, 0)), nrow(fit$survival)) else clustered_curve_se(fit)
  se[is.na(fit$survival)] <- NA_real_
  fit$std_error <- se
  fit
}

# The pointwise standard errors (K x m) of a clustered fit: the curves'
# influence functions at each grid time summed within clusters
# (cluster_estfun()), an arm and a block of times at a time, O(n m). The
# running sums of with_influence() are sums over people, which clusters
# break. Exact Kaplan-Meier curves, whose grid is every distinct time
# (m up to n), take km_clustered_se() instead, O(n Q) (fast = FALSE: the
# general path, for the tests).
clustered_curve_se <- function(fit, fast = TRUE) {
  if (fast && inherits(fit$influence, "km_influence")) return(km_clustered_se(fit$influence, fit))
  K <- length(fit$levels)
  m <- length(fit$times)
  se <- matrix(NA_real_, K, m)
  block <- max(1L, floor(2^22 / fit$n))
  for (k in seq_len(K)) {
    for (start in seq(1L, m, by = block)) {
      cols <- start:min(m, start + block - 1L)
      L <- matrix(0, m, length(cols))
      L[cbind(cols, seq_along(cols))] <- 1
      phi <- curve_influence(fit, L, rep(k, length(cols)))
      se[k, cols] <- sqrt(colSums(cluster_estfun(phi, fit$cluster)^2))
    }
  }
  se
}

# Chunks of the people of a fit, about `size` at a time, for sums over
# them of influence functions: runs of rows, or, for a clustered fit, whole
# clusters (each cluster's rows in one chunk, so that its sum is complete).
influence_chunks <- function(n, size, cluster = NULL) {
  if (is.null(cluster)) {
    return(lapply(seq(1L, max(n, 1L), by = size), function(s) s:min(n, s + size - 1L))[n > 0])
  }
  ord <- order(cluster$id)
  sizes <- tabulate(cluster$id, cluster$G)
  group <- ceiling(cumsum(sizes) / size)
  unname(split(ord, group[cluster$id[ord]]))
}

# The clusters of the people `rows` (their ids, with the fit's G), or NULL.
cluster_part <- function(cluster, rows) {
  if (is.null(cluster)) return(NULL)
  list(id = cluster$id[rows], G = cluster$G)
}

# Why a fit has no influence-function intervals (a phrase), or NULL when it
# has them.
sandwich_coverage <- function(fit) {
  wm <- fit$weight_model
  why <- if (!fit$method %in% sandwich_methods) {
    "these curves"
  } else if (fit$method == "cox" && !is.null(fit$xc)) {
    "Cox curves with a {.arg censoring_model}"
  } else if (fit$method == "cox" && isTRUE(fit$stratified)) {
    "stratified Cox models ({.code stratified = TRUE})"
  } else if (!is.null(wm) && !inherits(wm, "causallib_ipw")) {
    "weight models other than {.fn ipw}, such as {.fn matching}"
  } else if (!is.null(wm) && !inherits(wm$learner_fit, "causallib_glm_fit")) {
    "weight models whose learner is not the built-in {.fn lrn_glm}"
  } else if (!is.null(wm) && fit$method == "cox" && wm$estimand == "ATO") {
    "Cox standardization over the overlap population ({.code estimand = \"ATO\"})"
  } else if (!is.null(wm) && fit$method == "cox" && wm$options$stabilize) {
    "Cox models weighted by stabilized weights ({.code stabilize = TRUE})"
  }
  why
}

sandwich_methods <- c("km", "grid_km", "pooled_logistic", "grid_pooled_logistic", "cox")

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

# ---- nuisance models -------------------------------------------------------------

# The influence functions of a propensity model's coefficients (n x q) and
# the derivative of each unit's log IP weight in them (n x q), from the
# learner's score parts (glm_score_parts()). Stabilized weights add the
# arms' shares pi_a (the sampling-weighted mean of [A = a]) as K more
# coefficients: influence sw_i ([a_i = a] - pi_a) / sum(sw), and
# d log w_i / d pi_a = [a_i = a] / pi_a. With overlap (ATO) weights,
# dlogpop is the derivative of log target_population() (1 / sum_k 1 / P_k)
# in the coefficients, pop / P_b - P_b times the design in block b (0 for
# the shares).
propensity_pieces <- function(wm) {
  z <- coefficient_design(wm$x, wm$intercept)
  score <- glm_score_parts(wm$learner_fit, wm$x, wm$treatment, wm$sampling_weights)
  blocks <- ncol(score$R)
  S <- do.call(cbind, lapply(seq_len(blocks), function(b) z * score$R[, b]))
  dlogw <- do.call(cbind, lapply(seq_len(blocks), function(b) z * (wm$dw_deta[, b] / wm$ip_weights)))
  out <- list(Phi = coefficient_influence(S, score, blocks), dlogw = dlogw)
  shares <- 0L
  if (isTRUE(wm$options$stabilize)) {
    sw <- sw_or_one(wm)
    ind <- outer(as.integer(wm$treatment), seq_along(wm$levels), `==`) * 1
    pi <- colSums(sw * ind) / sum(sw)
    out$Phi <- cbind(out$Phi, sw * sweep(ind, 2L, pi) / sum(sw))
    out$dlogw <- cbind(out$dlogw, sweep(ind, 2L, pi, `/`))
    shares <- length(pi)
  }
  if (wm$estimand == "ATO") {
    P <- wm$propensity
    pop <- target_population(wm)
    dpop <- lapply(seq_len(blocks), function(b) z * (pop / P[, b + 1L] - P[, b + 1L]))
    out$dlogpop <- cbind(do.call(cbind, dpop), matrix(0, nrow(z), shares))
  }
  out
}

# A standardization over a target population that depends on the
# propensity model (overlap weights): the curves S_k = sum_i v_i S_ik with
# v_i proportional to sw_i pop_i(beta) move with beta by
# sum_i U_i(k, t) d log pop_i / d beta, so the propensity model's influence
# joins Phi, with that derivative in G and its cross sums in C. U comes
# from the method's influence_fixed() at every (arm, time), in chunks.
with_population_influence <- function(inf, fit, prop) {
  K <- length(fit$levels)
  m <- length(fit$times)
  q <- ncol(prop$Phi)
  G <- C <- matrix(0, K * m, q)
  for (rows in row_chunks(fit$n, K * m)) {
    for (k in seq_len(K)) {
      U <- influence_fixed(inf, fit, diag(1, m), rep(k, m), rows)
      U[is.na(U)] <- 0
      rows_k <- (seq_len(m) - 1L) * K + k
      G[rows_k, ] <- G[rows_k, ] + crossprod(U, prop$dlogpop[rows, , drop = FALSE])
      C[rows_k, ] <- C[rows_k, ] + crossprod(U, prop$Phi[rows, , drop = FALSE])
    }
  }
  inf$Phi <- cbind(inf$Phi, prop$Phi)
  inf$G <- cbind(inf$G, G)
  inf$C <- cbind(inf$C, C)
  inf
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
# chain: NULL, or the n x q influence of other estimated quantities on
# the estimating functions (added to them).
coefficient_influence <- function(S, score, blocks, chain = NULL) {
  V <- coef_vcov(score$H, score$kept, score$center, score$anchor, blocks)
  V[is.na(V)] <- 0
  if (any(score$penalty_score != 0)) S <- S - rep(score$penalty_score / nrow(S), each = nrow(S))
  if (!is.null(chain)) S <- S + chain
  S %*% V
}

# ---- weighted Kaplan-Meier ----------------------------------------------------------

# A person i of arm k with weight w_i, time T_i and event d_i has
#   U_i(k, t) = w_i S_k(t) H_k(t)                 for t < T_i,
#               w_i S_k(t) (H_k(T_i) - d_i / (Y_k - d_k)(T_i))   for t >= T_i,
# H_k(t) = sum_{s <= t} d_k(s) / (Y_k(s) (Y_k(s) - d_k(s))) (see src/km.c),
# and 0 in the other arms. Where a curve has reached 0 (or ended) every U
# is 0, so the unbounded terms there are set to 0.
km_influence <- function(fit, prop) {
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
  inf$Phi <- if (is.null(prop)) matrix(0, fit$n, 0L) else prop$Phi
  inf$G <- if (is.null(prop)) matrix(0, K * length(grid), 0L) else km_cross(inf, fit, prop$dlogw)
  inf$C <- km_cross(inf, fit, inf$Phi)
  inf
}

# clustered_curve_se() of a Kaplan-Meier fit by running sums over people in
# time order. Person i of arm k adds w_i S(t) H(t) while T_i > t and
# w_i own_i S(t) after, so cluster g's influence at t is
#   phi_g(t) = S(t) (H(t) A_g(t) + B_g(t)) + c_g . G(t),
# A_g the weight of its people of arm k still at risk (T_i > t), B_g the sum
# of w_i own_i of the others, c_g the sum of its people's Phi_i. The sum over
# clusters of phi_g^2 needs sum_g A_g^2, A_g B_g, B_g^2 (scalars), A_g c_g,
# B_g c_g (Q-vectors) and c_g c_g' (constant); as person i (cluster g)
# passes, A_g drops by w_i and B_g grows by w_i own_i, which changes each
# sum by an amount known from A_g and B_g just before (their running sums
# within the cluster).
km_clustered_se <- function(inf, fit) {
  cl <- fit$cluster
  K <- nrow(inf$S)
  m <- ncol(inf$S)
  Q <- ncol(inf$Phi)
  Cg <- if (Q) rowsum(inf$Phi, cl$id) else matrix(0, cl$G, 0L)
  CC <- crossprod(Cg)
  out <- matrix(0, K, m)
  for (k in seq_len(K)) {
    idx <- inf$ord[inf$arm_start[k] + seq_len(inf$arm_start[k + 1L] - inf$arm_start[k])]
    if (!length(idx)) next
    g <- cl$id[idx]
    w <- inf$w[idx]
    v <- w * inf$own[idx]
    total <- tabulate_sum(g, w, cl$G)
    A <- total[g] - (stats::ave(w, g, FUN = cumsum) - w)
    B <- stats::ave(v, g, FUN = cumsum) - v
    run <- function(start, delta) start + c(0, cumsum(delta))
    sAA <- run(sum(total^2), w^2 - 2 * A * w)
    sAB <- run(0, A * v - w * B - w * v)
    sBB <- run(0, 2 * B * v + v^2)
    at <- findInterval(fit$times, fit$time[idx]) + 1L
    S <- inf$S[k, ]
    H <- inf$H[k, ]
    v_t <- S^2 * (H^2 * sAA[at] + 2 * H * sAB[at] + sBB[at])
    if (Q) {
      Cp <- Cg[g, , drop = FALSE]
      col_run <- function(M) rbind(0, matrix(apply(M, 2L, cumsum), nrow(M)))
      sAC <- sweep(-col_run(w * Cp), 2L, colSums(total * Cg), `+`)
      sBC <- col_run(v * Cp)
      Gk <- inf$G[(seq_len(m) - 1L) * K + k, , drop = FALSE]
      v_t <- v_t + 2 * S * rowSums((H * sAC[at, , drop = FALSE] + sBC[at, , drop = FALSE]) * Gk) +
        rowSums((Gk %*% CC) * Gk)
    }
    out[k, ] <- v_t
  }
  sqrt(pmax(out, 0) * cl$G / (cl$G - 1))
}

# The sums of w over each of the codes 1..G of g.
tabulate_sum <- function(g, w, G) {
  out <- numeric(G)
  s <- rowsum(w, g)
  out[as.integer(rownames(s))] <- s
  out
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

# sum_i U_i(k, t) g_i for an n x q matrix g ((K m) x q).
km_cross <- function(inf, fit, g) {
  if (!ncol(g)) return(matrix(0, length(inf$S), 0L))
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

# ---- pooled-logistic hazards ---------------------------------------------------------

# Person i's curve under level k is S_ik(t) = prod_{s <= t} (1 - h_iks),
# logit h_iks = lp_ik + ctab[k, s]; the curve of arm k is their mean
# sum_i v_i S_ik(t) over the standardization weights v (avg times the
# target population, normalized). Holding the hazard model fixed,
#   U_i(k, t) = v_i (S_ik(t) - S_k(t)).
# An IP-weighted pooled-logistic fit (method "grid_pooled_logistic") has
# one curve per arm from the arm's own hazards, so U = 0 and everything is
# in the hazard model. The hazard model's coefficient influence comes from
# its score over person-time, summed per person, and, when it is fitted
# with IP weights w_i = sw_i ipw_i(beta), from the propensity model's
# through J = sum_i s_i d log w_i / d beta'. The persons x periods work
# is in C (src/pooled-influence.c), one streamed pass each: the person
# scores (ffi_pooled_scores), then G, sum_i U_i^2 and sum_i U_i Phi_i over
# every person under every level (ffi_pooled_arm_sums).
pooled_influence <- function(fit, prop) {
  hz <- fit$models$hazard
  pt <- fit$pt
  K <- length(fit$levels)
  nt <- causallib_threads()
  single <- fit$method == "grid_pooled_logistic"
  # x_obs and x_levels: the person designs the kernels read, with the
  # intercept column when z_intercept is FALSE; hz_x: the hazard model as
  # pt_person_lp() reads it for them.
  hz_x <- hz
  if (single) {
    x_obs <- treatment_dummies(fit$treatment)
    intercept <- z_intercept <- TRUE
    offset <- NULL
    x_levels <- lapply(seq_len(K), function(k) diag(1, K)[k, -1L, drop = FALSE])
    off_levels <- vector("list", K)
    v <- 1
  } else {
    # The model matrices keep their intercept column, the first
    # coefficient's: dropping it (person_design()) would copy each n x p
    # matrix once more.
    dx <- lapply(c(list(NULL), fit$levels), function(lev) design_x(fit$hazard, level = lev))
    x_obs <- dx[[1L]]$x
    intercept <- "(Intercept)" %in% colnames(x_obs)
    z_intercept <- FALSE
    hz_x$intercept <- FALSE
    hz_x$p_person <- ncol(x_obs)
    offset <- dx[[1L]]$offset
    x_levels <- lapply(dx[-1L], `[[`, "x")
    off_levels <- lapply(dx[-1L], `[[`, "offset")
    rm(dx)
    v <- sw_or_one(fit) * (fit$population %||% 1)
  }
  ctab <- pt_period_table(hz, pt$f)
  lp <- vapply(seq_len(K), function(k) pt_person_lp(hz_x, x_levels[[k]], off_levels[[k]]),
               numeric(nrow(x_levels[[1L]])))
  inf <- structure(list(single = single, lp = matrix(lp, ncol = K), ctab = ctab, v = v / sum(v)),
                   class = "pooled_influence")
  # Censoring weights vary over each person's periods: their scores and
  # chain come from R/survival-sandwich-censoring.R; otherwise the scores
  # are streamed in C.
  cw <- censoring_influence(fit)
  scores <- if (is.null(cw)) {
    list(score = .Call(C_ffi_pooled_scores, x_obs, z_intercept, pt_person_lp(hz_x, x_obs, offset), ctab,
                       pt$f, as.integer(pt$arm), hz$K, pt$last, pt$status,
                       as.double(sw_or_one(fit) * fit$ipw), nt))
  } else {
    censored_hazard_scores(hz, pt, if (z_intercept) coefficient_design(x_obs, TRUE) else x_obs,
                           pt_person_lp(hz_x, x_obs, offset), ctab, sw_or_one(fit) * fit$ipw, cw)
  }
  score <- scores$score
  chain <- scores$chain
  if (!is.null(prop)) chain <- (chain %||% 0) + prop$Phi %*% crossprod(prop$dlogw, score)
  inf$Phi <- coefficient_influence(score, pt_score_parts(hz, fit$learner), 1L, chain)
  rm(score, chain, scores)
  # A curve that ended (NA) has no running sums there.
  ended <- is.na(fit$survival)
  Sbar <- replace(fit$survival, ended, 0)
  sums <- .Call(C_ffi_pooled_arm_sums, x_levels, z_intercept, inf$lp, ctab, pt$f, as.double(inf$v),
                if (!single) inf$Phi, if (!single) Sbar, nt)
  sums$ij_var[ended] <- NA_real_
  sums$C[as.vector(ended), ] <- NA_real_
  inf[names(sums)] <- sums
  inf
}

# Chunks of rows with at most about 2^21 cells of an n x T matrix each.
row_chunks <- function(n, T) {
  size <- max(1L, floor(2^21 / max(1L, T)))
  starts <- seq(1L, max(n, 1L), by = size)
  lapply(starts, function(s) s:min(n, s + size - 1L))[n > 0]
}

# Running products (or sums) along the rows of an r x T matrix.
row_cumprod <- function(M) {
  for (t in seq_len(ncol(M))[-1L]) M[, t] <- M[, t - 1L] * M[, t]
  M
}
row_cumsum <- function(M) {
  for (t in seq_len(ncol(M))[-1L]) M[, t] <- M[, t - 1L] + M[, t]
  M
}

# U L: v_i (sum_t S_ik(t) L[t, j] - sum_t S_k(t) L[t, j]) for the people
# `rows`, k the arm of column j.
#' @export
influence_fixed.pooled_influence <- function(inf, fit, L, arm, rows) {
  if (inf$single) return(matrix(0, length(rows), ncol(L)))
  storage.mode(L) <- "double"
  SL <- .Call(C_ffi_pooled_functionals, inf$lp, inf$ctab, L, as.integer(arm),
              as.integer(rows), causallib_threads())
  # After an arm's curve ends (NA) every functional has weight 0.
  at_mean <- colSums(L * t(replace(fit$survival, is.na(fit$survival), 0)[arm, , drop = FALSE]))
  inf$v[rows] * (SL - rep(at_mean, each = nrow(SL)))
}
