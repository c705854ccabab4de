# Fixtures for test-survival-constructs.R: data sets the package does not
# ship, and slow, obvious references built from glm(), coxph() and
# survfit() on raw data, so that every variable of a formula (I(), log(),
# ifelse(), poly(), ns(), offset()) is re-evaluated on counterfactual data.

`%or%` <- function(x, y) if (is.null(x)) y else x

ctl_tight <- glm.control(epsilon = 1e-14, maxit = 100)
lrn_tight <- function() lrn_glm(epsilon = 1e-12, maxit = 100)

# ---- Data ---------------------------------------------------------------

# A cohort with known discrete-time hazards: treatment a in 0..K-1
# (confounded by x), a 3-level factor z, an age for splines, an offset o and
# sampling weights w.  Periods are whole numbers 1..periods.
sim_construct_cohort <- function(n = 300, K = 2, periods = 8, seed = 1) {
  withr::local_seed(seed)
  x <- stats::rnorm(n)
  age <- stats::runif(n, 40, 80)
  z <- factor(sample(c("p", "q", "r"), n, replace = TRUE))
  o <- stats::runif(n, -0.4, 0.4)
  eta <- sapply(seq_len(K) - 1L, function(k) k * (0.6 * x - 0.2))
  p <- exp(eta) / rowSums(exp(eta))
  a <- apply(p, 1L, function(pr) sample.int(K, 1L, prob = pr)) - 1L
  hazard <- function(t) {
    stats::plogis(-2.6 + 0.08 * t + 0.5 * x - 0.45 * a + 0.3 * a * x +
                    0.3 * (z == "q") - 0.2 * (z == "r") + 0.01 * (age - 60) + o)
  }
  event_time <- rep(periods + 1L, n)
  for (t in rev(seq_len(periods))) {
    hit <- stats::runif(n) < hazard(t)
    event_time[hit] <- t
  }
  cens_time <- sample(c(seq_len(periods), rep(periods, 3L)), n, replace = TRUE)
  time <- pmin(event_time, cens_time)
  event <- as.integer(event_time <= cens_time)
  structure(
    data.frame(a = a, x = x, age = age, z = z, o = o, time = time, event = event,
               w = stats::runif(n, 0.5, 2)),
    truth = list(hazard = hazard)
  )
}

# The same cohort with continuous times (for Cox models): each time moved
# back by a uniform fraction of a period.
sim_construct_continuous <- function(n = 300, K = 2, seed = 1) {
  d <- sim_construct_cohort(n, K, seed = seed)
  withr::local_seed(seed + 100)
  d$time <- d$time - stats::runif(n, 0, 0.95)
  d
}

# The treatment column a recoded as another type: "numeric" (0..K-1),
# "factor", "logical" (binary only) or "character".
recode_treatment <- function(d, type) {
  K <- length(unique(d$a))
  labels <- if (K == 2L) c("ctl", "trt") else c("A", "B", "C")[seq_len(K)]
  d$a <- switch(type,
    numeric = d$a,
    factor = factor(labels[d$a + 1L], levels = labels),
    logical = d$a == 1,
    character = labels[d$a + 1L]
  )
  d
}

# Rotterdam breast cancer cohort (survival::rotterdam), a seeded subsample:
# a = hormonal treatment (0/1), x = age in decades from 55, z = tumour size
# (factor), death times in days.
rotterdam_cohort <- function(n = 600, seed = 1) {
  withr::local_seed(seed)
  r <- survival::rotterdam
  r <- r[sample.int(nrow(r), n), ]
  data.frame(a = r$hormon, x = (r$age - 55) / 10, z = r$size, nodes = r$nodes,
             o = 0.1 * log1p(r$nodes), time = r$dtime, event = r$death,
             w = stats::runif(n, 0.5, 2), row.names = NULL)
}

# Colon cancer trial (survival::colon), death records (etype 2): a = the
# 3-level factor rx (Obs, Lev, Lev+5FU), x = age in decades from 60,
# z = differentiation (factor), times in days, sampling weights w.
colon_cohort <- function(seed = 1) {
  withr::local_seed(seed)
  co <- survival::colon
  co <- co[co$etype == 2 & !is.na(co$differ) & !is.na(co$nodes), ]
  data.frame(a = co$rx, x = (co$age - 60) / 10, z = factor(co$differ),
             nodes = co$nodes, o = 0.05 * pmin(co$nodes, 10), sex = co$sex,
             time = co$time, event = co$status, w = stats::runif(nrow(co), 0.5, 2),
             row.names = NULL)
}

yearly_breaks <- function(years) 365.25 * (0:years)

# ---- Treatment levels ---------------------------------------------------

# The levels of a treatment column: a factor's levels, otherwise the sorted
# distinct values (FALSE before TRUE).
surv_treatment_levels <- function(a) {
  if (is.factor(a)) levels(droplevels(a)) else as.character(sort(unique(a)))
}

# The treatment column set to `level` for everyone, in the column's type.
treatment_at <- function(a, level) {
  n <- length(a)
  if (is.factor(a)) return(factor(rep(level, n), levels = levels(a)))
  if (is.logical(a)) return(rep(as.logical(level), n))
  if (is.numeric(a)) return(rep(as.numeric(level), n))
  rep(as.character(level), n)
}

# ---- Formulas -----------------------------------------------------------

rhs_text <- function(formula) paste(deparse(formula[[length(formula)]], width.cutoff = 500L), collapse = " ")

surv_columns <- function(formula, data) {
  lhs <- formula[[2L]]
  list(time = eval(lhs[[2L]], data, environment(formula)),
       event = eval(lhs[[3L]], data, environment(formula)))
}

# The right-hand side without every term and offset whose variables include
# the treatment (I(a * x) and log(a + 1) included): what one model per arm
# is fitted on.
covariate_rhs <- function(formula, treatment) {
  tt <- stats::terms(formula)
  vars <- as.list(attr(tt, "variables"))[-1L]
  labels <- attr(tt, "term.labels")
  offsets <- vapply(vars[attr(tt, "offset")], deparse1, "")
  keep <- c(labels, offsets)
  keep <- keep[!vapply(keep, function(l) treatment %in% all.vars(str2lang(l)), NA)]
  if (!length(keep)) "1" else paste(keep, collapse = " + ")
}

# Terms of `formula` for a table with several rows per person (`long`),
# with the data-dependent bases (poly(), ns()) of the variables it shares
# with `person_formula` computed on one row per person (`data`), as the
# package evaluates its formula on the people.
person_level_terms <- function(formula, person_formula, data) {
  tt <- stats::terms(formula)
  ptt <- stats::terms(stats::model.frame(person_formula, data))
  pvars <- as.list(attr(ptt, "variables"))[-1L]
  ppred <- as.list(attr(ptt, "predvars"))[-1L]
  vars <- as.list(attr(tt, "variables"))[-1L]
  pred <- lapply(vars, function(v) {
    j <- Position(function(p) identical(p, v), pvars)
    if (is.na(j)) v else ppred[[j]]
  })
  attr(tt, "predvars") <- as.call(c(quote(list), pred))
  tt
}

# ---- Person-period table ------------------------------------------------

# The documented grid (?survival_standardization, "Time grid"): periods
# (b[k-1], b[k]]; a person is at risk in every period that starts before
# their time and has the event in the period containing it (an event at
# time 0 in period 1); times after the last boundary are censored there.
discretize_reference <- function(time, event, breaks) {
  n_periods <- length(breaks) - 1L
  starts <- breaks[seq_len(n_periods)]
  last <- vapply(time, function(u) sum(starts < u), integer(1))
  ev <- as.integer(event == 1 & time <= breaks[n_periods + 1L])
  last[ev == 1L & last == 0L] <- 1L
  list(last = last, event = ev, n_periods = n_periods)
}

default_breaks <- function(time) seq(0, max(1, max(time)))

# Indicator columns arm_2_, arm_3_, ... of the non-reference levels.
add_arm_dummies <- function(d, a, levels) {
  for (k in seq_along(levels)[-1L]) d[[paste0("arm_", k, "_")]] <- as.numeric(as.character(a) == levels[k])
  d
}

expand_periods <- function(d, last) {
  long <- d[rep(seq_len(nrow(d)), last), , drop = FALSE]
  long$time <- sequence(last)
  long$id_ <- rep(seq_len(nrow(d)), last)
  rownames(long) <- NULL
  long
}

# ---- Pooled-logistic reference ------------------------------------------

# Standardized survival (K x n_periods, rows named by level) from glm() on
# the person-period table: `y_ ~ rhs + time_terms + arm dummies x
# time_terms` (one glm per arm on the covariate terms and time_terms when
# stratified), prior weights `prior` (per person), each person's hazards
# predicted on a copy of the data with the treatment set to each level,
# survival the cumulative product of 1 - hazard, averaged over the people
# `avg_rows` with weights `avg_w`.
ref_pooled_logistic <- function(formula, data, treatment, time_terms = ~ time + I(time^2),
                                breaks = NULL, stratified = FALSE, prior = NULL,
                                avg_rows = NULL, avg_w = NULL) {
  n <- nrow(data)
  sv <- surv_columns(formula, data)
  breaks <- breaks %or% default_breaks(sv$time)
  dt <- discretize_reference(sv$time, sv$event, breaks)
  a <- data[[treatment]]
  lev <- surv_treatment_levels(a)
  K <- length(lev)
  tt_rhs <- rhs_text(time_terms)
  person <- data
  person$pw_ <- prior %or% rep(1, n)
  person <- add_arm_dummies(person, a, lev)
  long <- expand_periods(person, dt$last)
  long$y_ <- as.integer(long$time == dt$last[long$id_] & dt$event[long$id_] == 1L)
  avg_rows <- avg_rows %or% seq_len(n)
  avg_w <- rep_len(avg_w %or% 1, n)

  fit_on <- function(rhs, rows) {
    f <- stats::as.formula(paste("y_ ~", rhs), env = environment(formula))
    pf <- stats::as.formula(paste("~", rhs_text(formula)), env = environment(formula))
    tt <- person_level_terms(f, pf, data)
    # glm() warns about non-integer successes under prior weights
    fit <- suppressWarnings(stats::glm(tt, family = stats::binomial(), data = long[rows, , drop = FALSE],
                                       weights = pw_, control = ctl_tight))
    stopifnot(fit$converged)
    fit
  }
  fits <- if (stratified) {
    rhs <- paste(covariate_rhs(formula, treatment), "+", tt_rhs)
    lapply(lev, function(l) fit_on(rhs, which(as.character(long[[treatment]]) == l)))
  } else {
    arms <- paste0("arm_", seq_len(K)[-1L], "_")
    inter <- paste0("(", paste(arms, collapse = " + "), "):(", tt_rhs, ")")
    list(fit_on(paste(rhs_text(formula), "+", tt_rhs, "+", inter), seq_len(nrow(long))))
  }
  periods <- seq_len(dt$n_periods)
  surv <- t(vapply(seq_len(K), function(k) {
    cf <- person[avg_rows, , drop = FALSE]
    cf[[treatment]] <- treatment_at(a, lev[k])[avg_rows]
    cf <- add_arm_dummies(cf, cf[[treatment]], lev)
    grid <- cf[rep(seq_len(nrow(cf)), each = length(periods)), , drop = FALSE]
    grid$time <- rep(periods, nrow(cf))
    fit <- fits[[if (stratified) k else 1L]]
    h <- stats::predict(fit, newdata = grid, type = "response")
    s <- apply(matrix(1 - h, length(periods)), 2L, cumprod)
    drop(matrix(s, length(periods)) %*% avg_w[avg_rows]) / sum(avg_w[avg_rows])
  }, numeric(length(periods))))
  dimnames(surv) <- list(lev, NULL)
  list(survival = surv, times = breaks[-1L][periods], fits = fits)
}

# ---- Cox reference ------------------------------------------------------

# Standardized survival from coxph() (Efron ties) and survfit(newdata =) on
# copies of the data with the treatment set to each level, at `times` (by
# default the event times and the last time); one model per arm on the
# covariate terms when stratified. Each curve ends (NA) after the last
# follow-up time of the people its model was fitted on.
ref_cox <- function(formula, data, treatment, stratified = FALSE, case_w = NULL,
                    avg_rows = NULL, avg_w = NULL, times = NULL) {
  n <- nrow(data)
  sv <- surv_columns(formula, data)
  times <- times %or% sort(unique(c(sv$time[sv$event == 1], max(sv$time))))
  a <- data[[treatment]]
  lev <- surv_treatment_levels(a)
  data$cw_ <- case_w %or% rep(1, n)
  avg_rows <- avg_rows %or% seq_len(n)
  avg_w <- rep_len(avg_w %or% 1, n)
  fit_on <- function(f, rows) {
    # model = TRUE: survfit(newdata =) then need not re-evaluate `data`
    survival::coxph(f, data = data[rows, , drop = FALSE], weights = cw_, ties = "efron",
                    model = TRUE, x = TRUE, y = TRUE)
  }
  fits <- if (stratified) {
    f <- stats::as.formula(paste(deparse1(formula[[2L]]), "~", covariate_rhs(formula, treatment)),
                           env = environment(formula))
    lapply(lev, function(l) fit_on(f, which(as.character(a) == l)))
  } else {
    list(fit_on(formula, seq_len(n)))
  }
  surv <- t(vapply(seq_along(lev), function(k) {
    cf <- data[avg_rows, , drop = FALSE]
    cf[[treatment]] <- treatment_at(a, lev[k])[avg_rows]
    sf <- survival::survfit(fits[[if (stratified) k else 1L]], newdata = cf, se.fit = FALSE)
    s <- summary(sf, times = times, extend = TRUE)$surv
    curve <- drop(matrix(s, length(times)) %*% avg_w[avg_rows]) / sum(avg_w[avg_rows])
    # a curve ends with the follow-up of the people its model was fitted on
    fitted <- data$cw_ > 0 & (!stratified | as.character(a) == lev[k])
    replace(curve, times > max(sv$time[fitted]), NA_real_)
  }, numeric(length(times))))
  dimnames(surv) <- list(lev, NULL)
  list(survival = surv, times = times, fits = fits)
}

# ---- Weight references --------------------------------------------------

# Multinomial logistic probabilities (n x K, first level the reference) by
# Newton-Raphson on the design X.
multinomial_probabilities <- function(X, a, tol = 1e-13) {
  Y <- sapply(levels(a), function(l) as.numeric(a == l))
  K <- ncol(Y)
  p <- ncol(X)
  B <- matrix(0, p, K - 1L)
  probs <- function(B) {
    e <- cbind(1, exp(X %*% B))
    e / rowSums(e)
  }
  for (iter in 1:100) {
    P <- probs(B)
    g <- as.vector(crossprod(X, Y[, -1L, drop = FALSE] - P[, -1L, drop = FALSE]))
    H <- matrix(0, p * (K - 1L), p * (K - 1L))
    for (j in seq_len(K - 1L)) for (k in seq_len(K - 1L)) {
      v <- P[, j + 1L] * ((j == k) - P[, k + 1L])
      H[(j - 1L) * p + seq_len(p), (k - 1L) * p + seq_len(p)] <- crossprod(X, X * v)
    }
    step <- solve(H, g)
    B <- B + matrix(step, p)
    if (max(abs(step)) < tol) return(probs(B))
  }
  stop("the multinomial reference did not converge")
}

# Propensity matrix (n x K, columns the treatment levels) of the formula
# `a ~ covariates`: glm() for two levels (offsets included), the
# multinomial model otherwise.
surv_ref_propensity <- function(formula, data) {
  a <- data[[all.vars(formula[[2L]])]]
  lev <- surv_treatment_levels(a)
  af <- factor(as.character(a), levels = lev)
  if (length(lev) == 2L) {
    d <- data
    d$top_ <- as.numeric(af == lev[2L])
    f <- stats::update(formula, top_ ~ .)
    fit <- stats::glm(f, stats::binomial(), d, control = ctl_tight)
    stopifnot(fit$converged)
    p <- stats::fitted(fit)
    return(cbind(1 - p, p))
  }
  mf <- stats::model.frame(formula, data)
  if (!is.null(stats::model.offset(mf))) stop("offsets are defined for binary treatments only")
  multinomial_probabilities(stats::model.matrix(stats::terms(mf), mf), af)
}

# IP weights of a propensity matrix: 1 / p_a (ATE) or p_t / p_a (ATT, t the
# last level).
ref_ip_weights <- function(P, a, estimand = "ATE") {
  lev <- surv_treatment_levels(a)
  k <- match(as.character(a), lev)
  own <- P[cbind(seq_along(k), k)]
  if (estimand == "ATE") 1 / own else P[, length(lev)] / own
}

# Weighted Kaplan-Meier curve of each level (survfit() per arm).
ref_km <- function(time, event, a, w) {
  lev <- surv_treatment_levels(a)
  stats::setNames(lapply(lev, function(l) {
    rows <- as.character(a) == l & w > 0
    survival::survfit(survival::Surv(time[rows], event[rows]) ~ 1, weights = w[rows])
  }), lev)
}

# ---- Fitted objects -----------------------------------------------------

# Bootstrap replicates of a fit as an R x K x m array, whether the fit keeps
# them as such an array or as an R x (K * m) matrix.
stored_replicates <- function(fit) {
  reps <- fit$replicates
  if (is.null(reps)) return(NULL)
  if (length(dim(reps)) == 3L) return(reps)
  array(reps, c(nrow(reps), length(fit$levels), length(fit$times)))
}

# Evaluate `expr`; on an error record a failure naming `case` and return
# NULL, so that a table of cases goes on past a case the package rejects.
run_case <- function(expr, case) {
  tryCatch(expr, error = function(e) {
    testthat::fail(paste0("[", case, "] error: ", conditionMessage(e)))
    NULL
  })
}
