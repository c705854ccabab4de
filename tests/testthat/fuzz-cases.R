# The fuzz cases of the C boundary, defined once for two users:
# tests/testthat/test-c-boundary.R runs every case in-process, and
# tools/check-sanitizers runs them in subprocesses under ASan and UBSan.
# (This file lives with the tests, which R CMD check runs from the
# tarball; tools/ is not in it.)
#
# A case is one call of a registered routine (src/init.c): a routine name,
# its arguments, and what it must give, "error" (an R error, never a crash
# nor a value) or "value" (valid input, the edge sizes included).  The
# cases are small valid calls of every routine and, for each argument,
# values it must refuse: wrong types and lengths, NA/NaN/Inf, negative or
# zero weights, codes out of range, counts not summing to n, malformed
# design lists and lists, huge sizes; then edge sizes (zero rows or
# columns) and size products that overflow 32 bits.

# ---- argument specifications -----------------------------------------------

# An argument: its valid value, its kind (what the routine reads it as),
# whether NULL is valid, and options of the kind:
#   rows, cols: TRUE when the routine fixes that dimension (then one more
#     row or column is refused); free: a vector of any length;
#   lo, hi: the range of integer codes or scalars; nonneg, positive_sum,
#     positive, ascending: constraints on doubles; na_ok: NA is valid.
fz_arg <- function(value, kind, ..., null_ok = FALSE) {
  list(value = value, kind = kind, null_ok = null_ok, opts = list(...))
}

# The value of an argument (lists: of each element).
fz_value <- function(s) {
  if (s$kind != "list") return(s$value)
  out <- lapply(s$value, fz_value)
  attributes(out) <- attributes(s$value)
  out
}

# A list argument whose elements are fz_arg()s.
fz_list <- function(..., null_ok = FALSE) fz_arg(list(...), "list", null_ok = null_ok)

# A copy of v with element e set to x (NULL kept as an element).
fz_set <- function(v, e, x) {
  v[e] <- list(x)
  v
}

fz_bad_double <- function(v, o) {
  b <- list(string = fz_keep_dim(as.character(v), v), list = as.list(v), logical = v > 0)
  if (length(v)) b$integer <- fz_keep_dim(suppressWarnings(as.integer(round(v))), v)
  if (!isTRUE(o$free)) {
    if (!isFALSE(o$rows)) b$longer <- fz_add_row(v)
    if (is.matrix(v) && isTRUE(o$cols)) b$wider <- cbind(v, v[, 1L])
  }
  if (length(v) && !isTRUE(o$na_ok)) {
    b$na <- replace(v, 1L, NA_real_)
    b$nan <- replace(v, 1L, NaN)
    b$inf <- replace(v, 1L, Inf)
    b$neg_inf <- replace(v, 1L, -Inf)
  }
  if (length(v) && isTRUE(o$nonneg)) b$negative <- replace(v, 1L, -1)
  if (length(v) && isTRUE(o$positive_sum)) b$zero_sum <- v * 0
  if (length(v) > 1L && isTRUE(o$ascending)) b$descending <- rev(v)
  c(b, o$bad)
}

fz_keep_dim <- function(x, like) {
  dim(x) <- dim(like)
  x
}

# One more row of a matrix, or one more element of a vector.
fz_add_row <- function(v) {
  if (is.matrix(v)) return(rbind(v, v[1L, ]))
  c(v, if (length(v)) v[1L] else 0)
}

fz_bad_int <- function(v, o) {
  b <- list(double = fz_keep_dim(as.double(v), v), string = as.character(v), list = as.list(v))
  if (!isTRUE(o$free)) b$longer <- fz_add_row(v)
  if (length(v)) {
    b$na <- replace(v, 1L, NA_integer_)
    if (!is.null(o$lo)) b$below <- replace(v, 1L, as.integer(o$lo - 1))
    if (!is.null(o$hi)) b$above <- replace(v, 1L, as.integer(o$hi + 1))
  }
  c(b, o$bad)
}

fz_bad_scalar_int <- function(v, o) {
  b <- list(na = NA_integer_, string = "1", two = c(v, v), empty = integer(), huge = 1e10,
            list = list(v))
  if (!is.null(o$lo)) b$below <- o$lo - 1
  if (!is.null(o$hi)) b$above <- o$hi + 1
  c(b, o$bad)
}

fz_bad_scalar_double <- function(v, o) {
  b <- list(na = NA_real_, nan = NaN, inf = Inf, string = "1", two = c(v, v),
            empty = numeric(), list = list(v))
  if (isTRUE(o$positive)) b <- c(b, list(zero = 0, negative = -1))
  c(b, o$bad)
}

# A design: a double matrix or a design list list(columns, level, n).
fz_bad_design <- function(v, o) {
  b <- list(list_empty = list(), too_short = list(list(1), 0L), string = "x")
  if (!is.list(v)) {
    b$na <- replace(v, 1L, NA_real_)
    b$inf <- replace(v, 1L, Inf)
    b$string_matrix <- fz_keep_dim(as.character(v), v)
    b$integer_matrix <- fz_keep_dim(as.integer(round(v)), v)
    if (!isFALSE(o$rows)) b$longer <- fz_add_row(v)
    if (isTRUE(o$cols)) b$wider <- cbind(v, 1)
    return(c(b, o$bad))
  }
  v <- unclass(v)
  cols <- v[[1L]]
  level <- v[[2L]]
  n <- v[[3L]]
  jd <- which(vapply(cols, is.double, logical(1)))[1L]
  ji <- which(vapply(cols, is.integer, logical(1)))[1L]
  set_col <- function(j, x) fz_set(v, 1L, fz_set(cols, j, x))
  b <- c(b, list(
    columns_not_list = fz_set(v, 1L, 1), level_short = fz_set(v, 2L, level[-1L]),
    level_double = fz_set(v, 2L, as.double(level)),
    n_more = fz_set(v, 3L, n + 1), n_negative = fz_set(v, 3L, -1), n_fraction = fz_set(v, 3L, 1.5),
    n_na = fz_set(v, 3L, NA_real_), n_huge = fz_set(v, 3L, 1e15), n_string = fz_set(v, 3L, "1"),
    column_string = set_col(jd, as.character(cols[[jd]])),
    column_short = set_col(jd, cols[[jd]][-1L]),
    column_na = set_col(jd, replace(cols[[jd]], 1L, NA_real_)),
    column_inf = set_col(jd, replace(cols[[jd]], 1L, Inf)),
    level_on_double = fz_set(v, 2L, replace(level, jd, 1L))
  ))
  if (!is.na(ji)) {
    codes <- cols[[ji]]
    L <- length(levels(codes))
    b <- c(b, list(
      code_zero = set_col(ji, replace(codes, 1L, 0L)),
      code_above = set_col(ji, replace(codes, 1L, L + 1L)),
      code_na = set_col(ji, replace(codes, 1L, NA_integer_)),
      code_no_levels = set_col(ji, as.integer(codes)),
      level_zero = fz_set(v, 2L, replace(level, ji, 0L)),
      level_above = fz_set(v, 2L, replace(level, ji, L + 1L))
    ))
  }
  c(b, o$bad)
}

# Bootstrap counts: an integer n x R matrix, each column summing to n.
fz_bad_counts <- function(v) {
  bump <- function(e, by) {
    v[e] <- v[e] + by
    v
  }
  list(sum_above = bump(1L, 1L), sum_far_above = bump(1L, 1000L), sum_below = bump(1L, -1L),
       negative = bump(c(1L, 2L), c(-v[1L] - 1L, v[1L] + 1L)),
       huge = replace(v, 1L, .Machine$integer.max), na = replace(v, 1L, NA_integer_),
       double = fz_keep_dim(as.double(v), v), longer = rbind(v, 0L),
       string = fz_keep_dim(as.character(v), v), vector = as.vector(v) + 0L)
}

# Values an argument must refuse: named bad values.
fz_bad <- function(s) {
  v <- s$value
  o <- s$opts
  b <- switch(s$kind,
    double = fz_bad_double(v, o),
    int = fz_bad_int(v, o),
    flag = list(na = NA, two = c(TRUE, TRUE), string = "TRUE", empty = logical(), list = list(TRUE)),
    scalar_int = fz_bad_scalar_int(v, o),
    scalar_double = fz_bad_scalar_double(v, o),
    design = fz_bad_design(v, o),
    counts = fz_bad_counts(v),
    list = fz_bad_list(s),
    truncate = list(zero = 0, negative = -1, huge = 1e10, inf = Inf, above_one = 1.5,
                    string = "0.9", two = c(0.9, 0.9), integer = 1L, empty = numeric()),
    clip = list(reversed = c(0.6, 0.4), equal = c(0.5, 0.5), below = c(-0.1, 1),
                above = c(0, 1.5), na = c(NA, 1), inf = c(0, Inf), string = c("0", "1"),
                one = 0.1, integer = c(0L, 1L)),
    ignored = list(),
    stop("unknown argument kind ", s$kind))
  if (!s$null_ok && s$kind != "ignored") b <- c(b, list(null = NULL))
  b
}

# A list's bad values: not a list, each element dropped, each element bad.
fz_bad_list <- function(s) {
  v <- fz_value(s)
  els <- s$value
  keys <- if (is.null(names(els))) seq_along(els) else names(els)
  b <- list(not_list = "x", unnamed_atomic = 1)
  for (e in seq_along(els)) {
    b[[paste("drop", keys[e])]] <- v[-e]
    bad <- fz_bad_arg(els[[e]])
    for (k in names(bad)) b[[paste0(keys[e], ": ", k)]] <- fz_set(v, e, bad[[k]])
  }
  b
}

# ---- data and valid arguments ------------------------------------------------

# A small deterministic data set: two covariates, binary and three-level
# treatments, outcomes, sampling weights and times on a grid of 4 periods.
fz_data <- function(n = 24L) {
  i <- seq_len(n)
  x <- sin(1.7 * i)
  z <- cos(2.3 * i)
  a <- as.integer((i * 7L) %% 5L < 2L)
  a3 <- factor(c("p", "q", "r")[(i %% 3L) + 1L])
  data.frame(x = x, z = z, a = a, a3 = a3, y = 1 + x + a + 0.3 * cos(5.1 * i),
             time = (i %% 4L) + 1, event = as.integer(i %% 3L != 0L),
             w = 0.5 + (i %% 4L) / 4, g = factor(c("u", "v")[(i %% 2L) + 1L]))
}

fz_counts <- function(n, R = 2L) {
  counts <- matrix(1L, n, R)
  counts[1L, 2L] <- 2L
  counts[2L, 2L] <- 0L
  counts
}

# A design list of the rows of d: x, z and the indicator of level 2 of g.
fz_design_list <- function(d) {
  cols <- list(d$x, d$z, d$g)
  structure(list(cols, c(0L, 0L, 2L), nrow(d)))
}

fz_nthreads <- function() fz_arg(1L, "scalar_int", lo = 1, hi = 1024)

# The weight model of a bootstrap (arg_boot_weight_model() in src/args.h)
# as an argument specification.
fz_weight_model <- function(wm, K, null_ok = FALSE) {
  fz_list(null_ok = null_ok,
    X = fz_arg(wm$X, "design"), intercept = fz_arg(wm$intercept, "flag"),
    offset = fz_arg(wm$offset, "double", null_ok = TRUE), sw = fz_arg(wm$sw, "double", nonneg = TRUE, positive_sum = TRUE),
    maxit = fz_arg(wm$maxit, "scalar_int", lo = 1, hi = 100000),
    epsilon = fz_arg(wm$epsilon, "scalar_double", positive = TRUE),
    penalty = fz_arg(wm$penalty, "double", null_ok = TRUE, nonneg = TRUE),
    estimand = fz_arg(wm$estimand, "scalar_int", lo = 0, hi = 3),
    target = fz_arg(wm$target, "scalar_int", lo = 1, hi = K),
    clip = fz_arg(wm$clip, "clip"), truncate = fz_arg(wm$truncate, "truncate"),
    stabilize = fz_arg(wm$stabilize, "flag")
  )
}

# A pooled-logistic model of the survival bootstrap (arg_surv_pt()).
fz_surv_pt <- function(m) {
  fz_list(
    X = fz_arg(m$X, "design"), intercept = fz_arg(m$intercept, "flag"),
    offset = fz_arg(m$offset, "double", null_ok = TRUE),
    penalty = fz_arg(m$penalty, "double", null_ok = TRUE, nonneg = TRUE),
    maxit = fz_arg(m$maxit, "scalar_int", lo = 1, hi = 100000),
    epsilon = fz_arg(m$epsilon, "scalar_double", positive = TRUE)
  )
}

# The configurations: per routine, one or more named valid calls, each a
# list of argument specifications in the routine's order.
fz_configs <- function() {
  ns <- asNamespace("causallib")
  d <- fz_data()
  n <- nrow(d)
  X <- cbind(x = d$x, z = d$z)
  a <- d$a + 1L
  a3 <- as.integer(d$a3)
  y <- d$y
  w <- d$w
  ones <- rep(1, n)
  codes <- function(v, K) fz_arg(v, "int", lo = 1, hi = K)
  weights <- function(v, positive_sum = FALSE) fz_arg(v, "double", nonneg = TRUE, positive_sum = positive_sum)
  P2 <- cbind(1 - stats::plogis(d$x), stats::plogis(d$x))
  P3 <- cbind(0.2 + 0.1 * P2[, 1L], 0.3, 0.5 - 0.1 * P2[, 1L])
  Tmax <- 4L
  last <- as.integer(d$time)
  status <- d$event
  Fm <- cbind(1, seq_len(Tmax) / Tmax)
  pt_last <- function(v) fz_arg(v, "int", lo = 0, hi = Tmax)
  pt_status <- function(v) fz_arg(v, "int", lo = 0, hi = 1)
  pooled_ctab <- fz_arg(matrix(-1, 2L, Tmax), "double", cols = TRUE, bad = list(vector = rep(-1, 2 * Tmax)))
  cens <- fz_list(null_ok = TRUE, fz_arg(-1 + 0.1 * d$x, "double"), fz_arg(matrix(-0.5, 2L, Tmax), "double"),
                  fz_arg(NULL, "double", null_ok = TRUE), fz_arg(NULL, "double", null_ok = TRUE))
  glm_args <- function(X, family, yv, intercept = TRUE) list(
    X = fz_arg(X, "design"), intercept = fz_arg(intercept, "flag"), y = fz_arg(yv, "double"),
    prior = fz_arg(w, "double", null_ok = TRUE, nonneg = TRUE), offset = fz_arg(0.1 * d$z, "double", null_ok = TRUE),
    family = fz_arg(family, "scalar_int", lo = 0, hi = 2),
    maxit = fz_arg(25L, "scalar_int", lo = 1, hi = 100000),
    epsilon = fz_arg(1e-8, "scalar_double", positive = TRUE),
    penalty = fz_arg(NULL, "double", null_ok = TRUE, nonneg = TRUE), nthreads = fz_nthreads())

  # The bootstraps read what boot_description() of real fits gives them.
  suppressWarnings({
    ipw_fit <- ns$ipw(a ~ x + z, data = d, truncate = 0.95, clip = 0.01)
    ipw_fit3 <- ns$ipw(a3 ~ x + z, data = d, estimand = "ATO")
    std_fit <- ns$standardization(y ~ a + x + g, data = d, treatment = "a")
    std_strat <- ns$standardization(y ~ a + x + z, data = d, treatment = "a", stratified = TRUE)
    aipw_fit <- ns$aipw(y ~ a + x + z, a ~ x + z, data = d, treatment = a)
    km_fit <- ns$survival_ipw(survival::Surv(time, event) ~ a, data = d, se = "none",
                              weight_model = ns$ipw(a ~ x + z, data = d, stabilize = TRUE))
    grid_fit <- ns$survival_ipw(survival::Surv(time, event) ~ a, data = d, se = "none",
                                censoring_model = ~ x,
                                weight_model = ns$ipw(a ~ x, data = d, truncate = 0.9))
    pool_fit <- ns$survival_standardization(survival::Surv(time, event) ~ a + x + z, data = d,
                                            treatment = "a", se = "none")
  })
  desc <- function(fit, yv = NULL) ns$boot_description(fit, yv)$args
  ipw_boot <- function(fit, K) {
    ad <- desc(fit, y)
    list(weight_model = fz_weight_model(ad$weight_model, K), a = codes(ad$a, K),
         K = fz_arg(ad$K, "scalar_int", lo = 2, hi = 10000), y = fz_arg(ad$y, "double"),
         counts = fz_arg(fz_counts(n), "counts"), nthreads = fz_nthreads())
  }
  std_boot <- function(fit) {
    ad <- desc(fit)
    strat <- ad$stratified
    list(X = fz_arg(ad$X, "design"), intercept = fz_arg(ad$intercept, "flag"),
         offset = fz_arg(ad$offset, "double", null_ok = TRUE), y = fz_arg(ad$y, "double"),
         sw = weights(ad$sw, TRUE), a = codes(ad$a, 2L), K = fz_arg(ad$K, "scalar_int", lo = 2, hi = 10000),
         # Stratified without counterfactual designs; the other way is valid.
         stratified = fz_arg(strat, "flag", bad = if (strat) list(unstratified = FALSE)),
         designs = if (strat) fz_arg(NULL, "ignored") else
           fz_arg(ad$designs, "list_of_designs"),
         offsets = if (strat) fz_arg(NULL, "ignored") else fz_arg(ad$offsets, "offsets", null_ok = TRUE),
         counts = fz_arg(fz_counts(n), "counts"),
         family = fz_arg(ad$family, "scalar_int", lo = 0, hi = 2),
         maxit = fz_arg(ad$maxit, "scalar_int", lo = 1, hi = 100000),
         epsilon = fz_arg(ad$epsilon, "scalar_double", positive = TRUE),
         penalty = fz_arg(ad$penalty, "double", null_ok = TRUE, nonneg = TRUE), nthreads = fz_nthreads())
  }
  glm_spec <- function(s) fz_list(fz_arg(s[[1L]], "scalar_int", lo = 0, hi = 2),
                                  fz_arg(s[[2L]], "scalar_int", lo = 1, hi = 100000),
                                  fz_arg(s[[3L]], "scalar_double", positive = TRUE),
                                  fz_arg(s[[4L]], "double", null_ok = TRUE, nonneg = TRUE))
  aipw_boot <- function(fit) {
    ad <- desc(fit, y)
    list(Xw = fz_arg(ad$Xw, "design"), intercept_w = fz_arg(ad$intercept_w, "flag"),
         offset_w = fz_arg(ad$offset_w, "double", null_ok = TRUE), a = codes(ad$a, 2L),
         K = fz_arg(ad$K, "scalar_int", lo = 2, hi = 10000), sw = weights(ad$sw, TRUE),
         counts = fz_arg(fz_counts(n), "counts"), target = fz_arg(ad$target, "scalar_int", lo = 1, hi = 2),
         clip = fz_arg(ad$clip, "clip"), truncate = fz_arg(ad$truncate, "truncate"),
         wspec = glm_spec(ad$wspec), Xo = fz_arg(ad$Xo, "design"),
         offset_o = fz_arg(ad$offset_o, "double", null_ok = TRUE), y = fz_arg(ad$yo, "double"),
         stratified = fz_arg(ad$stratified, "flag"),
         Xcf = fz_arg(ad$Xcf, "list_of_designs"), offsets_cf = fz_arg(ad$offsets_cf, "offsets", null_ok = TRUE),
         ospec = glm_spec(ad$ospec), nthreads = fz_nthreads())
  }
  surv_boot <- function(fit) {
    ad <- desc(fit)
    K <- ad$K
    method <- ad$method
    grid <- !is.null(ad$grid)
    # NULL is valid for the weight model and the censoring models: none.
    wm <- if (is.null(ad$weight_model)) fz_arg(NULL, "ignored") else
      fz_weight_model(ad$weight_model, K, null_ok = TRUE)
    list(method = fz_arg(method, "scalar_int", lo = 0, hi = 3),
         a = codes(ad$a, K), K = fz_arg(K, "scalar_int", lo = 2, hi = 10000),
         sw = weights(ad$sw), counts = fz_arg(fz_counts(n), "counts"), weight_model = wm,
         population = fz_arg(ad$population, "flag"),
         km = if (method == 0L) fz_list(time = fz_arg(ad$km$time, "double"),
                                        status = fz_arg(ad$km$status, "int", lo = 0, hi = 1),
                                        times = fz_arg(ad$km$times, "double", free = TRUE, ascending = TRUE))
              else fz_arg(ad$km, "ignored"),
         grid = if (grid) fz_list(last = pt_last(ad$grid$last), status = pt_status(ad$grid$status),
                                  F = fz_arg(ad$grid$F, "double", rows = FALSE))
                else fz_arg(ad$grid, "ignored"),
         censoring = if (is.null(ad$censoring)) fz_arg(NULL, "ignored") else fz_list(null_ok = TRUE,
           denominator = fz_surv_pt(ad$censoring$denominator),
           numerator = fz_surv_pt(ad$censoring$numerator),
           last = pt_last(ad$censoring$last), status = pt_status(ad$censoring$status)),
         hazard = if (is.null(ad$hazard)) fz_arg(NULL, "ignored") else fz_list(
           model = fz_surv_pt(ad$hazard$model),
           stratified = fz_arg(ad$hazard$stratified, "flag"),
           designs = fz_arg(ad$hazard$designs, "list_of_designs"),
           offsets = fz_arg(ad$hazard$offsets, "offsets", null_ok = TRUE)),
         nthreads = fz_nthreads())
  }

  list(
    ffi_arm_spread = list(base = list(v = fz_arg(w, "double", na_ok = TRUE), a = codes(a, 2L),
                                      K = fz_arg(2L, "scalar_int", lo = 1, hi = 1000000))),
    ffi_match_nearest = list(
      score = list(x = fz_arg(matrix(d$x, 1L), "double", rows = FALSE),
                   focal = fz_arg(which(a == 2L), "int", lo = 1, hi = n, free = TRUE),
                   pool = fz_arg(which(a == 1L), "int", lo = 1, hi = n, free = TRUE,
                                 bad = list(descending = rev(which(a == 1L)))),
                   k = fz_arg(2L, "scalar_int", lo = 1, hi = n),
                   caliper = fz_arg(0.5, "double", free = TRUE, na_ok = TRUE,
                                    bad = list(na = NA_real_, nan = NaN, neg_inf = -Inf, zero = 0,
                                               negative = -1, two = c(1, 1))),
                   replace = fz_arg(TRUE, "flag"), cal_x = fz_arg(NULL, "ignored"),
                   cal_width = fz_arg(NULL, "ignored")),
      coordinates = list(x = fz_arg(t(X), "double", rows = FALSE),
                         focal = fz_arg(which(a == 2L), "int", lo = 1, hi = n, free = TRUE),
                         pool = fz_arg(which(a == 1L), "int", lo = 1, hi = n, free = TRUE),
                         k = fz_arg(1L, "scalar_int", lo = 1, hi = n),
                         caliper = fz_arg(Inf, "double", free = TRUE, na_ok = TRUE,
                                          bad = list(na = NA_real_, nan = NaN, neg_inf = -Inf)),
                         replace = fz_arg(FALSE, "flag"),
                         cal_x = fz_arg(t(X[, 1:2]), "double", rows = FALSE, cols = TRUE),
                         cal_width = fz_arg(c(1, 2), "double",
                                            bad = list(zero = c(0, 1), negative = c(1, -1))))),
    ffi_arm_sums = list(base = list(v = fz_arg(w, "double", na_ok = TRUE), a = codes(a, 2L),
                                    K = fz_arg(2L, "scalar_int", lo = 1, hi = 1000000))),
    ffi_pt_fit = list(
      base = list(X = fz_arg(X, "design"), intercept = fz_arg(TRUE, "flag"),
                  F = fz_arg(Fm, "double", rows = FALSE), arm = codes(a, 2L),
                  K = fz_arg(2L, "scalar_int", lo = 1, hi = 1000000), interact = fz_arg(TRUE, "flag"),
                  last = pt_last(last), status = pt_status(status), w = weights(w),
                  cens = fz_arg(NULL, "ignored"), maxit = fz_arg(25L, "scalar_int", lo = 1, hi = 100000),
                  epsilon = fz_arg(1e-8, "scalar_double", positive = TRUE),
                  penalty = fz_arg(rep(0.1, 2L + 2L + 2L + 1L), "double", null_ok = TRUE, nonneg = TRUE),
                  nthreads = fz_nthreads(), offset = fz_arg(0.1 * d$z, "double", null_ok = TRUE)),
      censored = list(X = fz_arg(fz_design_list(d), "design"), intercept = fz_arg(TRUE, "flag"),
                      F = fz_arg(Fm, "double", rows = FALSE), arm = codes(a, 2L),
                      K = fz_arg(2L, "scalar_int", lo = 1, hi = 1000000), interact = fz_arg(FALSE, "flag"),
                      last = pt_last(last), status = pt_status(status), w = weights(w), cens = cens,
                      maxit = fz_arg(25L, "scalar_int", lo = 1, hi = 100000),
                      epsilon = fz_arg(1e-8, "scalar_double", positive = TRUE),
                      penalty = fz_arg(NULL, "double", null_ok = TRUE), nthreads = fz_nthreads(),
                      offset = fz_arg(NULL, "double", null_ok = TRUE))),
    ffi_pt_risk_table = list(base = list(
      arm = codes(a, 2L), K = fz_arg(2L, "scalar_int", lo = 1, hi = 1000000), last = pt_last(last),
      status = pt_status(status), w = weights(w), cens = cens,
      Tmax = fz_arg(Tmax, "scalar_int", lo = 0, bad = list(below_last = 1L)))),
    ffi_km = list(base = list(time = fz_arg(d$time, "double", nonneg = TRUE),
                              status = pt_status(status), w = weights(w), strata = codes(a, 2L),
                              K = fz_arg(2L, "scalar_int", lo = 1, hi = 1000000))),
    ffi_aalen_johansen = list(base = list(
      time = fz_arg(d$time, "double", nonneg = TRUE),
      cause = fz_arg(as.integer(status) * (1L + seq_along(status) %% 2L), "int", lo = 0, hi = 2),
      w = weights(w), strata = codes(a, 2L),
      K = fz_arg(2L, "scalar_int", lo = 1, hi = 1000000),
      J = fz_arg(2L, "scalar_int", lo = 1, hi = 10000, bad = list(fewer_causes = 1L)))),
    ffi_discrete_survival = list(base = list(
      lp = fz_arg(cbind(d$x, d$z), "double"), ctab = fz_arg(matrix(-1, 2L, Tmax), "double", bad = list(vector = rep(-1, 2 * Tmax))),
      w = weights(w, TRUE), nthreads = fz_nthreads())),
    ffi_pooled_scores = list(base = list(
      X = fz_arg(X, "design"), intercept = fz_arg(TRUE, "flag"), lp = fz_arg(0.1 * d$x - 2, "double"),
      ctab = pooled_ctab, F = fz_arg(Fm, "double"), arm = codes(a, 2L),
      K = fz_arg(2L, "scalar_int", lo = 1, hi = 1000000), last = pt_last(last),
      status = pt_status(status), w = weights(w), nthreads = fz_nthreads())),
    ffi_pooled_arm_sums = list(base = list(
      X = fz_arg(list(X, X), "list_of_designs"), intercept = fz_arg(TRUE, "flag"),
      lp = fz_arg(cbind(0.1 * d$x - 2, 0.1 * d$z - 2), "double"), ctab = pooled_ctab,
      F = fz_arg(Fm, "double"), v = weights(w),
      Phi = fz_arg(matrix(0.01 * d$x, n, 3L + 2L * ncol(Fm)), "double", cols = TRUE),
      Sbar = fz_arg(matrix(0.5, 2L, Tmax), "double", cols = TRUE), nthreads = fz_nthreads())),
    ffi_pooled_functionals = list(base = list(
      lp = fz_arg(cbind(0.1 * d$x - 2, 0.1 * d$z - 2), "double", rows = FALSE), ctab = pooled_ctab,
      L = fz_arg(cbind(c(1, 0, 0, 0), c(0.5, 0.5, 0, 0)), "double", cols = TRUE),
      arm = codes(c(1L, 2L), 2L), rows = fz_arg(c(1L, 3L, 5L), "int", lo = 1, hi = n, free = TRUE, null_ok = TRUE),
      nthreads = fz_nthreads())),
    ffi_cox_survival = list(base = list(
      lp = fz_arg(cbind(d$x, d$z), "double"), H0 = fz_arg(c(0.1, 0.2, 0.4), "double", free = TRUE, nonneg = TRUE, ascending = TRUE),
      w = weights(w, TRUE), nthreads = fz_nthreads())),
    ffi_wcrossprod = list(
      matrix = list(X = fz_arg(X, "design"), intercept = fz_arg(TRUE, "flag"),
                    center = fz_arg(c(0, 0.5, -0.5), "double", null_ok = TRUE),
                    w = fz_arg(w - 1, "double", null_ok = TRUE), nthreads = fz_nthreads()),
      columns = list(X = fz_arg(fz_design_list(d), "design"), intercept = fz_arg(FALSE, "flag"),
                     center = fz_arg(c(0.5, 0, 0), "double", null_ok = TRUE),
                     w = fz_arg(NULL, "double", null_ok = TRUE), nthreads = fz_nthreads())),
    ffi_xt_mat = list(base = list(X = fz_arg(fz_design_list(d), "design"), intercept = fz_arg(TRUE, "flag"),
                                  center = fz_arg(c(0, 0.5, 0, 0), "double", null_ok = TRUE),
                                  M = fz_arg(cbind(y, w), "double"), nthreads = fz_nthreads())),
    ffi_design_matrix = list(
      columns = list(X = fz_arg(fz_design_list(d), "design"),
                     rows = fz_arg(c(2L, 1L, 2L), "int", lo = 1, hi = n, free = TRUE, null_ok = TRUE),
                     cols = fz_arg(c(3L, 1L), "int", lo = 1, hi = 3, free = TRUE)),
      matrix = list(X = fz_arg(X, "design", rows = FALSE), rows = fz_arg(NULL, "int", null_ok = TRUE),
                    cols = fz_arg(2:1, "int", lo = 1, hi = 2, free = TRUE))),
    ffi_roc = list(base = list(score = fz_arg(d$x, "double"), pos = weights(as.double(a == 2L)),
                               neg = weights(as.double(a == 1L),
                                             TRUE))),
    ffi_group_moments = list(base = list(X = fz_arg(X, "double"), group = codes(a, 2L), w = weights(w),
                                         G = fz_arg(2L, "scalar_int", lo = 1, hi = 1000000))),
    ffi_weighted_ks = list(base = list(X = fz_arg(X, "double"), group = codes(a, 2L),
                                       w = weights(w, TRUE))),
    ffi_glm_fit = list(binomial = glm_args(X, 1L, as.double(a == 2L)),
                       poisson = glm_args(fz_design_list(d), 2L, round(exp(d$x)))),
    ffi_multinom_fit = list(base = list(
      X = fz_arg(X, "design"), intercept = fz_arg(TRUE, "flag"), a = codes(a3, 3L),
      K = fz_arg(3L, "scalar_int", lo = 2, hi = 10000, bad = list(fewer = 2L)), prior = fz_arg(w, "double", null_ok = TRUE, nonneg = TRUE),
      maxit = fz_arg(25L, "scalar_int", lo = 1, hi = 100000), epsilon = fz_arg(1e-8, "scalar_double", positive = TRUE),
      penalty = fz_arg(rep(0.1, 3L), "double", null_ok = TRUE, nonneg = TRUE), nthreads = fz_nthreads())),
    ffi_ipw_weights = list(
      binary = list(P = fz_arg(P2, "double", bad = list(above_one = replace(P2, 1L, 1.5), negative = replace(P2, 1L, -0.1))),
                    a = codes(a, 2L), estimand = fz_arg(0L, "scalar_int", lo = 0, hi = 3),
                    target = fz_arg(2L, "scalar_int", lo = 1, hi = 2), clip = fz_arg(c(0.01, 0.99), "clip"),
                    truncate = fz_arg(0.9, "truncate"), nthreads = fz_nthreads()),
      three = list(P = fz_arg(P3, "double"), a = codes(a3, 3L), estimand = fz_arg(3L, "scalar_int", lo = 0, hi = 3),
                   target = fz_arg(1L, "scalar_int", lo = 1, hi = 3), clip = fz_arg(c(0, 1), "clip"),
                   truncate = fz_arg(NA_real_, "truncate"), nthreads = fz_nthreads())),
    ffi_stacked_meat = list(base = list(
      X = fz_arg(X, "design"), intercept = fz_arg(TRUE, "flag"),
      center = fz_arg(c(0, 0.5, -0.5), "double", null_ok = TRUE), R = fz_arg(cbind(y - 1, w - 1), "double"),
      Psi = fz_arg(cbind(y, -y), "double"), C = fz_arg(cbind(w), "double", null_ok = TRUE), nthreads = fz_nthreads())),
    ffi_ipw_meat = list(base = list(
      X = fz_arg(X, "design"), intercept = fz_arg(TRUE, "flag"),
      center = fz_arg(c(0, 0.5, -0.5), "double", null_ok = TRUE), a = codes(a, 2L),
      P = fz_arg(P2, "double"), sw = fz_arg(w, "double", null_ok = TRUE, nonneg = TRUE),
      w = fz_arg(1 / P2[cbind(seq_len(n), a)], "double"), dw = fz_arg(cbind(-P2[, 2L]), "double"),
      y = fz_arg(y, "double"), mu = fz_arg(c(1, 2), "double"), nthreads = fz_nthreads())),
    ffi_ipw_bootstrap = list(binary = ipw_boot(ipw_fit, 2L), three = ipw_boot(ipw_fit3, 3L)),
    ffi_std_bootstrap = list(s_learner = std_boot(std_fit), stratified = std_boot(std_strat)),
    ffi_aipw_bootstrap = list(base = aipw_boot(aipw_fit)),
    ffi_survival_bootstrap = list(km = surv_boot(km_fit), grid_km = surv_boot(grid_fit),
                                  pooled = surv_boot(pool_fit)),
    ffi_all_finite = list(base = list(x = fz_arg(c(1, 2), "double", free = TRUE, na_ok = TRUE, rows = FALSE))),
    ffi_treatment_codes = list(base = list(a = fz_arg(c(0, 1, 1), "ignored")))
  )
}

# ---- the cases ---------------------------------------------------------------

# Every case: list(id, routine, label, args, expect).
fuzz_cases <- function() {
  configs <- fz_configs()
  cases <- list()
  add <- function(routine, label, args, expect) {
    cases[[length(cases) + 1L]] <<- list(routine = routine, label = label, args = args, expect = expect)
  }
  for (routine in names(configs)) {
    for (cfg in names(configs[[routine]])) {
      specs <- configs[[routine]][[cfg]]
      valid <- lapply(specs, fz_value)
      add(routine, paste0(cfg, ": valid"), valid, "value")
      for (arg in names(specs)) {
        bad <- fz_bad_arg(specs[[arg]])
        for (k in names(bad)) {
          add(routine, paste0(cfg, ": ", arg, " ", k), fz_set(valid, arg, bad[[k]]), "error")
        }
      }
    }
  }
  for (cs in fz_special_cases()) add(cs$routine, cs$label, cs$args, cs$expect)
  for (i in seq_along(cases)) cases[[i]]$id <- i
  cases
}

# Bad values of an argument, with the kinds that only exist at this level.
fz_bad_arg <- function(s) {
  if (s$kind == "list_of_designs") {
    v <- s$value
    return(c(list(null = NULL, not_list = "x", one_fewer = v[-1L], one_more = c(v, v[1L])),
             stats::setNames(lapply(fz_bad_design(v[[1L]], list()), function(b) fz_set(v, 1L, b)),
                             paste("first", names(fz_bad_design(v[[1L]], list()))))))
  }
  if (s$kind == "offsets") {
    v <- s$value
    if (is.null(v)) return(list(not_list = "x", empty = list()))
    return(list(not_list = "x", one_fewer = v[-1L], first_short = fz_set(v, 1L, rep(0, 3L)),
                first_na = fz_set(v, 1L, c(NA, rep(0, 23L))), first_string = fz_set(v, 1L, "0")))
  }
  fz_bad(s)
}

# Calls that are not one bad argument of a valid call: edge sizes (zero
# rows or columns) and size products beyond 32 bits.
fz_special_cases <- function() {
  n <- 24L
  X0 <- matrix(0, 0L, 2L)
  y0 <- numeric()
  i0 <- integer()
  wide <- function(p) matrix(0, 0L, p)
  ones_list <- function(n) list(list(NULL), 0L, n)
  list(
    list(routine = "ffi_glm_fit", label = "zero rows", expect = "error",
         args = list(X0, TRUE, y0, NULL, NULL, 1L, 25L, 1e-8, NULL, 1L)),
    list(routine = "ffi_glm_fit", label = "zero columns, no intercept", expect = "value",
         args = list(matrix(0, n, 0L), FALSE, rep(1, n), NULL, NULL, 0L, 25L, 1e-8, NULL, 1L)),
    list(routine = "ffi_multinom_fit", label = "zero rows", expect = "error",
         args = list(X0, TRUE, i0, 3L, NULL, 25L, 1e-8, NULL, 1L)),
    list(routine = "ffi_multinom_fit", label = "((K - 1) p)^2 beyond 2^52", expect = "error",
         args = list(matrix(0, 1L, 1e5), TRUE, 1L, 10000L, NULL, 25L, 1e-8, NULL, 1L)),
    list(routine = "ffi_multinom_fit", label = "(K - 1) p beyond 2^31", expect = "error",
         args = list(matrix(0, 1L, 1e6), TRUE, 1L, 10000L, NULL, 25L, 1e-8, NULL, 1L)),
    list(routine = "ffi_pt_fit", label = "K q beyond 2^31", expect = "error",
         args = list(matrix(0, 1L, 1L), TRUE, wide(2e5), 1L, 100000L, TRUE, 0L, 0L, 1, NULL, 25L,
                     1e-8, NULL, 1L, NULL)),
    list(routine = "ffi_pt_fit", label = "zero persons", expect = "error",
         args = list(X0, TRUE, matrix(1, 3L, 1L), i0, 2L, TRUE, i0, i0, y0, NULL, 25L, 1e-8, NULL, 1L, NULL)),
    list(routine = "ffi_survival_bootstrap", label = "hazard K q beyond 2^31", expect = "error",
         args = list(3L, 1:2, 10000L, c(1, 1), matrix(1L, 2L, 1L), NULL, FALSE, NULL,
                     list(last = c(0L, 0L), status = c(0L, 0L), F = wide(3e5)), NULL,
                     list(model = list(X = matrix(0, 2L, 1L), intercept = TRUE, offset = NULL,
                                       penalty = NULL, maxit = 25L, epsilon = 1e-8),
                          stratified = FALSE, designs = NULL, offsets = NULL), 1L)),
    list(routine = "ffi_ipw_bootstrap", label = "((K - 1) p)^2 beyond 2^52", expect = "error",
         args = list(list(X = matrix(0, 2L, 1e5), intercept = TRUE, offset = NULL, sw = c(1, 1),
                          maxit = 25L, epsilon = 1e-8, penalty = NULL, estimand = 0L, target = 1L,
                          clip = c(0, 1), truncate = NA_real_, stabilize = FALSE),
                     1:2, 10000L, c(0, 1), matrix(1L, 2L, 1L), 1L)),
    list(routine = "ffi_pt_risk_table", label = "K Tmax beyond the table limit", expect = "error",
         args = list(i0, 1000000L, i0, i0, y0, NULL, 1000000L)),
    list(routine = "ffi_pt_risk_table", label = "zero periods", expect = "value",
         args = list(rep(1L, 3L), 1L, rep(0L, 3L), rep(0L, 3L), rep(1, 3L), NULL, 0L)),
    list(routine = "ffi_wcrossprod", label = "a design list of 1e15 rows", expect = "error",
         args = list(ones_list(1e15), FALSE, NULL, NULL, 1L)),
    list(routine = "ffi_wcrossprod", label = "a design list of 2^31 rows", expect = "error",
         args = list(ones_list(2^31), FALSE, NULL, NULL, 1L)),
    list(routine = "ffi_wcrossprod", label = "zero columns", expect = "value",
         args = list(matrix(0, n, 0L), FALSE, NULL, NULL, 1L)),
    list(routine = "ffi_wcrossprod", label = "zero rows", expect = "value",
         args = list(X0, TRUE, NULL, y0, 1L)),
    list(routine = "ffi_xt_mat", label = "zero columns of M", expect = "value",
         args = list(matrix(1, n, 2L), TRUE, NULL, matrix(0, n, 0L), 1L)),
    list(routine = "ffi_stacked_meat", label = "zero columns of Psi and X", expect = "value",
         args = list(matrix(0, n, 0L), TRUE, NULL, matrix(1, n, 1L), matrix(0, n, 0L), NULL, 1L)),
    list(routine = "ffi_design_matrix", label = "zero rows taken", expect = "value",
         args = list(matrix(1, n, 2L), integer(), 1:2)),
    list(routine = "ffi_design_matrix", label = "zero columns taken", expect = "value",
         args = list(matrix(1, n, 2L), NULL, integer())),
    list(routine = "ffi_design_matrix", label = "a design list of 2^31 rows", expect = "error",
         args = list(ones_list(2^31), NULL, 1L)),
    list(routine = "ffi_group_moments", label = "zero columns", expect = "value",
         args = list(matrix(0, n, 0L), rep(1L, n), rep(1, n), 1L)),
    list(routine = "ffi_group_moments", label = "zero rows", expect = "value",
         args = list(X0, i0, y0, 2L)),
    list(routine = "ffi_group_moments", label = "G near 2^31", expect = "error",
         args = list(X0, i0, y0, .Machine$integer.max)),
    list(routine = "ffi_weighted_ks", label = "zero columns", expect = "value",
         args = list(matrix(0, 2L, 0L), 1:2, c(1, 1))),
    list(routine = "ffi_km", label = "zero rows", expect = "value",
         args = list(y0, i0, y0, i0, 1L)),
    list(routine = "ffi_km", label = "K near 2^31", expect = "error",
         args = list(y0, i0, y0, i0, .Machine$integer.max - 1L)),
    list(routine = "ffi_aalen_johansen", label = "zero rows", expect = "value",
         args = list(y0, i0, y0, i0, 1L, 1L)),
    list(routine = "ffi_aalen_johansen", label = "J near 2^31", expect = "error",
         args = list(y0, i0, y0, i0, 1L, .Machine$integer.max - 1L)),
    list(routine = "ffi_arm_sums", label = "zero rows", expect = "value",
         args = list(y0, i0, 2L)),
    list(routine = "ffi_arm_spread", label = "zero rows", expect = "value",
         args = list(y0, i0, 2L)),
    list(routine = "ffi_roc", label = "zero rows", expect = "error",
         args = list(y0, y0, y0)),
    list(routine = "ffi_match_nearest", label = "k near 2^31", expect = "error",
         args = list(matrix(c(0.1, 0.2, 0.3), 1L), 1L, 2:3, .Machine$integer.max, Inf, TRUE, NULL, NULL)),
    list(routine = "ffi_match_nearest", label = "empty pool", expect = "value",
         args = list(matrix(c(0.1, 0.2, 0.3), 1L), 1:3, i0, 1L, Inf, TRUE, NULL, NULL)),
    list(routine = "ffi_match_nearest", label = "no focal units", expect = "value",
         args = list(matrix(c(0.1, 0.2, 0.3), 1L), i0, 1:3, 1L, Inf, FALSE, NULL, NULL)),
    list(routine = "ffi_ipw_weights", label = "zero rows", expect = "value",
         args = list(matrix(0.5, 0L, 2L), i0, 0L, 2L, c(0, 1), 0.9, 1L)),
    list(routine = "ffi_cox_survival", label = "empty H0", expect = "error",
         args = list(matrix(0, 3L, 1L), y0, rep(1, 3L), 1L)),
    list(routine = "ffi_discrete_survival", label = "zero weight", expect = "error",
         args = list(matrix(0, 3L, 1L), matrix(0, 1L, 2L), rep(0, 3L), 1L)),
    list(routine = "ffi_pooled_arm_sums", label = "no Phi nor Sbar", expect = "value",
         args = list(list(diag(2)[1L, , drop = FALSE]), TRUE, matrix(-2, 1L, 1L), matrix(-1, 1L, 3L),
                     matrix(1, 3L, 1L), 1, NULL, NULL, 1L)),
    list(routine = "ffi_pooled_functionals", label = "no rows", expect = "value",
         args = list(matrix(0, 3L, 2L), matrix(-1, 2L, 4L), matrix(1, 4L, 1L), 2L, i0, 1L)),
    list(routine = "ffi_pooled_functionals", label = "K Tmax beyond the table limit", expect = "error",
         args = list(matrix(0, 1L, 2L), matrix(0, 2L, 5e6 + 1), NULL, 1L, 1L, 1L)),
    list(routine = "ffi_all_finite", label = "NA", expect = "value", args = list(c(1, NA))),
    list(routine = "ffi_all_finite", label = "empty", expect = "value", args = list(numeric())),
    list(routine = "ffi_all_finite", label = "integer", expect = "error", args = list(1L)),
    list(routine = "ffi_treatment_codes", label = "NA", expect = "value", args = list(c(1, NA))),
    list(routine = "ffi_treatment_codes", label = "empty", expect = "value", args = list(integer())),
    list(routine = "ffi_treatment_codes", label = "many levels", expect = "value", args = list(as.double(1:100))),
    list(routine = "ffi_treatment_codes", label = "logical", expect = "value", args = list(c(TRUE, FALSE, NA))),
    list(routine = "ffi_treatment_codes", label = "character", expect = "error", args = list(c("a", "b"))),
    list(routine = "ffi_treatment_codes", label = "list", expect = "error", args = list(list(1, 2))),
    list(routine = "ffi_treatment_codes", label = "NULL", expect = "error", args = list(NULL))
  )
}

# ---- running cases -----------------------------------------------------------

# The registered routines, looked up once (the lookup costs more than a
# case).
fz_routines <- local({
  table <- NULL
  function() {
    if (is.null(table)) table <<- getDLLRegisteredRoutines("causallib")$.Call
    table
  }
})

# One case: list(ok, value or message).  Warnings (R's coercions of the bad
# values) are not the point here.
fuzz_run_case <- function(case) {
  routine <- fz_routines()[[case$routine]]$address
  tryCatch(
    list(ok = TRUE, value = suppressWarnings(do.call(.Call, c(list(routine), unname(case$args))))),
    error = function(e) list(ok = FALSE, message = conditionMessage(e))
  )
}

# Whether a case's outcome is what it expects: "error" cases stop with an
# error from the C boundary's checks ("internal error: ...") or from R's
# allocator; "value" cases return.
fuzz_outcome_ok <- function(case, res) {
  if (case$expect == "value") return(isTRUE(res$ok))
  !isTRUE(res$ok) && grepl("internal error|cannot allocate", res$message)
}

# Runs the cases (a subset of fuzz_cases()) printing one line before and
# after each, so that a crash points at the case that was running; the
# lines after say whether the outcome was the expected one.
fuzz_run_cases <- function(cases) {
  for (case in cases) {
    cat(sprintf("CASE %d START %s | %s\n", case$id, case$routine, case$label))
    res <- fuzz_run_case(case)
    ok <- fuzz_outcome_ok(case, res)
    cat(sprintf("CASE %d %s expected %s, got %s\n", case$id, if (ok) "OK" else "MISMATCH",
                case$expect, if (isTRUE(res$ok)) "a value" else paste("error:", res$message)))
  }
  invisible()
}
