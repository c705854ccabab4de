# Fixtures for the survival tests: the person-period table built in R, the
# slow and obvious way, as the reference for the streamed C fits.

# One row per person and period 1..last, y = 1 in the event period.
expand_person_time <- function(data, last, status) {
  long <- data[rep(seq_len(nrow(data)), last), , drop = FALSE]
  long$time <- sequence(last)
  long$id <- rep(seq_len(nrow(data)), last)
  long$y <- as.integer(long$time == last[long$id] & status[long$id] == 1L)
  rownames(long) <- NULL
  long
}

# Standardized survival from a glm() hazard fitted on a long table:
# each person's curve under `level`, averaged.
glm_standardized_survival <- function(fit, data, treatment, level, periods, w = NULL) {
  long <- data[rep(seq_len(nrow(data)), each = length(periods)), , drop = FALSE]
  long$time <- rep(periods, nrow(data))
  long[[treatment]] <- level
  h <- stats::predict(fit, newdata = long, type = "response")
  s <- apply(matrix(1 - h, length(periods)), 2L, cumprod)
  if (is.null(w)) w <- rep(1, nrow(data))
  drop(s %*% w) / sum(w)
}

whatif_survival_formula <- Surv(survtime, death) ~ qsmk + sex + race + age +
  I(age^2) + education + smokeintensity + I(smokeintensity^2) +
  smkintensity82_71 + smokeyrs + I(smokeyrs^2) + exercise + active + wt71 + I(wt71^2)

# Survival data with informative censoring driven by x, known curves.
sim_survival <- function(n = 1500, periods = 12, seed = 1) {
  withr::local_seed(seed)
  x <- stats::rnorm(n)
  a <- stats::rbinom(n, 1, stats::plogis(0.5 * x))
  event_time <- stats::rgeom(n, stats::plogis(-2.5 + 0.8 * x - 0.5 * a)) + 1
  cens_time <- stats::rgeom(n, stats::plogis(-3 + 0.9 * x)) + 1
  time <- pmin(event_time, cens_time, periods)
  event <- as.integer(event_time <= pmin(cens_time, periods))
  data.frame(x = x, a = a, time = time, event = event, w = stats::runif(n, 0.5, 2))
}

# The quadratic time trend of What If chapter 17, which the tests against
# glm() references on person-period tables name (the default time terms
# are a spline since the automatic time scale).
quadratic_time <- ~ time + I(time^2)

# Time to the first of recurrence or death in survival::colon (one row per
# patient; a recurrence row's time is the death row's when there was none).
colon_competing <- function() {
  colon <- survival::colon
  crc <- colon[colon$etype == 1, c("id", "rx", "age", "sex", "obstruct", "perfor", "adhere",
                                   "extent", "surg", "time", "status")]
  death <- colon$status[colon$etype == 2]
  crc$code <- ifelse(crc$status == 1, 1L, 2L * death)
  crc$cause <- factor(crc$code, 0:2, c("censored", "recurrence", "death"))
  rownames(crc) <- NULL
  crc
}
