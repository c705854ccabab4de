# Thin wrappers over the C metric kernels (src/metrics.c). Callers validate
# their arguments; these only fix storage modes.

#' Weighted ROC curve
#'
#' Unit `i` carries positive mass `pos[i]` and negative mass `neg[i]`: label
#' times weight for the plain or IP-weighted curve, calibrated probability
#' times weight for the expected curve.
#' @param score Scores; higher means more likely positive.
#' @param pos,neg Non-negative masses, each with a positive total.
#' @return A data frame with `threshold`, `fpr`, `tpr` and `precision`, one
#'   row per distinct score in descending order after a first row
#'   `(Inf, 0, 0, NA)`; attribute `"auc"`, ties counted one half.
#' @noRd
roc_curve <- function(score, pos, neg) {
  roc <- .Call(C_ffi_roc, as.double(score), as.double(pos), as.double(neg))
  structure(
    data.frame(threshold = c(Inf, roc$threshold), fpr = c(0, roc$fpr),
               tpr = c(0, roc$tpr), precision = c(NA, roc$precision)),
    auc = roc$auc
  )
}

# The area under the ROC curve alone.
roc_auc_value <- function(score, pos, neg) {
  .Call(C_ffi_roc, as.double(score), as.double(pos), as.double(neg))$auc
}

#' Weighted moments of each column by group
#'
#' @param x A numeric matrix, n x p.
#' @param group Group codes `1` to `G`.
#' @param w Non-negative weights.
#' @param G The number of groups.
#' @return A list with `sum_w` and `sum_w2` (length `G`), and the `G` x `p`
#'   matrices `mean` (weighted means) and `ss` (weighted sums of squared
#'   deviations from them), `NA` for a group of zero weight.
#' @noRd
group_moments <- function(x, group, w, G) {
  x <- as.matrix(x)
  storage.mode(x) <- "double"
  .Call(C_ffi_group_moments, x, as.integer(group), as.double(w), as.integer(G))
}

#' Weighted two-sample Kolmogorov-Smirnov statistic of each column
#'
#' @param x A numeric matrix, n x p.
#' @param group Group codes `1` and `2`, both with positive total weight.
#' @param w Non-negative weights.
#' @return The `p` statistics `max_t |F2(t) - F1(t)|` between the weighted
#'   empirical distribution functions of the two groups.
#' @noRd
weighted_ks <- function(x, group, w) {
  x <- as.matrix(x)
  storage.mode(x) <- "double"
  .Call(C_ffi_weighted_ks, x, as.integer(group), as.double(w))
}
