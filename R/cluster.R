# Cluster-robust standard errors: units (rows) that are not independent --
# the person-trials of one person in sequential target trials, patients of
# one practice -- are grouped into clusters, and every sandwich sums the
# per-unit estimating functions (or influence functions) within clusters
# before their cross-product, times G / (G - 1) for G clusters
# (sandwich::vcovCL(type = "HC0", cadjust = TRUE)). The bootstrap resamples
# whole clusters. A fit keeps its clusters in `fit$cluster`:
#   id: the cluster of each fitted unit, as codes 1..G (first appearance)
#   G: the number of clusters
#   name: what the user gave (a column name or an expression), for labels

# The clusters of the fitted units `rows` of `data` given by the quosure
# `quo` of a front end's `cluster` argument (a bare column name, a string,
# or a vector over the n_data rows of `data`), or NULL when none is given.
# Matrix interfaces pass a value and no data.
resolve_cluster <- function(quo, data, rows, call = rlang::caller_env(), n_data = nrow(data)) {
  if (!rlang::is_quosure(quo)) quo <- rlang::new_quosure(quo, emptyenv())
  if (rlang::quo_is_null(quo)) return(NULL)
  expr <- rlang::quo_get_expr(quo)
  val <- column_argument(quo, data, "cluster")
  if (is.null(val)) return(NULL)
  name <- if (is.character(expr) && length(expr) == 1L) {
    expr
  } else if (rlang::is_symbol(expr) || rlang::is_call(expr)) {
    rlang::as_label(expr)
  } else {
    "cluster"
  }
  if (!is.atomic(val) || !is.null(dim(val))) {
    cli::cli_abort(c(
      "{.arg cluster} must be a column of {.arg data} or a vector with one value per row, not {.obj_type_friendly {val}}.",
      i = "Give the column that identifies the clusters (such as a person id), as a string or a bare name."
    ), call = call)
  }
  if (length(val) != n_data) {
    cli::cli_abort(c(
      "{.arg cluster} has length {length(val)}, but there {cli::qty(n_data)}{?is/are} {n_data} row{?s}.",
      i = "Give one cluster id per row."
    ), call = call)
  }
  if (anyNA(val)) {
    bad <- which(is.na(val))
    cli::cli_abort(c(
      "{.arg cluster} has {length(bad)} missing value{?s}, the first in row {bad[1L]}.",
      i = "Every row needs a cluster: give a unit of its own a cluster of its own."
    ), call = call)
  }
  new_cluster(val[rows], name, call)
}

# Clusters from ids (one per unit): codes in order of first appearance.
new_cluster <- function(ids, name, call = NULL) {
  id <- match(ids, unique(ids))
  G <- max(c(0L, id))
  if (G < 2L) {
    cli::cli_abort(c(
      "{.arg cluster} ({.code {name}}) has {G} cluster{?s}; cluster-robust standard errors need at least two.",
      i = "Drop {.arg cluster} if the units are independent."
    ), call = call)
  }
  list(id = id, G = G, name = name)
}

# The clusters of a fit's units `rows` (a refit on some of its units: a
# cross-validation fold may hold a single cluster, which only a sandwich of
# the refit would refuse, in cluster_estfun()).
cluster_rows <- function(cluster, rows) {
  if (is.null(cluster)) return(NULL)
  id <- match(cluster$id[rows], unique(cluster$id[rows]))
  list(id = id, G = max(c(0L, id)), name = cluster$name)
}

# A fit with the clusters of its front end's `cluster` argument. A model
# given a clustered model (a weight model) stops here, naming `cluster`.
with_cluster <- function(fit, quo, data, rows = seq_len(fit$n), n_data = nrow(data)) {
  inner_cluster_error(fit)
  fit$cluster <- resolve_cluster(quo, data, rows, rlang::caller_env(), n_data)
  fit
}

# A model inside another (a weight model of a survival fit) was given
# clusters: they would be ignored by the outer model's standard errors.
inner_cluster_error <- function(fit) {
  inner <- Filter(function(m) inherits(m, "causallib_model") && !is.null(m$cluster), unclass(fit))
  if (!length(inner)) return(invisible())
  cli::cli_abort(c(
    "{.arg cluster} was given to the {model_label(inner[[1L]])} model inside {model_label(fit)}, whose standard errors would ignore it.",
    i = "Clustered standard errors come from {.fn ipw}, {.fn standardization}, {.fn survival_ipw} and {.fn survival_standardization} given {.arg cluster} themselves: give it to the outer model where it takes one, not to the inner one."
  ), call = NULL)
}

# The clusters of a fit's standard errors, or NULL (units independent).
fit_cluster <- function(fit) {
  inner_cluster_error(fit)
  fit$cluster
}

# The one clustering step of every sandwich: per-unit estimating or
# influence functions U (n x r) summed within clusters, times
# sqrt(G / (G - 1)), so that crossprod() of the result is the clustered meat
# (HC0 with vcovCL's cadjust). Without clusters U itself.
cluster_estfun <- function(U, cluster) {
  if (is.null(cluster)) return(U)
  if (cluster$G < 2L) {
    cli::cli_abort("Cluster-robust standard errors need at least two clusters; these units are in {cluster$G}.",
                   call = NULL)
  }
  U <- rowsum(U, cluster$id, reorder = FALSE)
  U * sqrt(cluster$G / (cluster$G - 1))
}

# The meat sum_g u_g u_g' of per-unit functions U (see cluster_estfun()).
cluster_meat <- function(U, cluster) crossprod(cluster_estfun(U, cluster))

# Bootstrap counts (n x R) that resample whole clusters: each cluster's
# draw count given to all of its units.
cluster_bootstrap_counts <- function(cluster, R) {
  bootstrap_counts(cluster$G, R)[cluster$id, , drop = FALSE]
}

# How a fit's standard errors are clustered, for its header ("" without).
cluster_label <- function(fit) {
  cl <- fit$cluster
  if (is.null(cl)) return("")
  paste0(", clustered by ", cl$name, " (", cl$G, " clusters)")
}
