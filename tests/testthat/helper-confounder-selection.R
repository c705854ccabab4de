# Data with known roles for confounder selection: x1..x(k) confounders
# (affect treatment and outcome), then k instruments (treatment only), k
# outcome-only predictors, and noise up to p columns. Binary treatment
# from a logistic model, gaussian outcome y = tau a + x'beta + e. The
# confounders' outcome coefficient `beta_conf` is small against their
# treatment coefficient `gamma`, the setting in which selecting on the
# outcome alone drops them (Belloni, Chernozhukov and Hansen 2014).
simulate_selection <- function(n = 300, p = 40, k = 2, tau = 1, gamma = 1, beta_conf = 0.25,
                               beta_out = 1, rho = 0) {
  z <- matrix(stats::rnorm(n * p), n, p)
  x <- if (rho > 0) z %*% chol(rho^abs(outer(seq_len(p), seq_len(p), "-"))) else z
  colnames(x) <- paste0("x", seq_len(p))
  roles <- rep("noise", p)
  roles[seq_len(k)] <- "confounder"
  roles[k + seq_len(k)] <- "instrument"
  roles[2 * k + seq_len(k)] <- "outcome"
  g <- ifelse(roles %in% c("confounder", "instrument"), gamma, 0)
  b <- ifelse(roles == "confounder", beta_conf, ifelse(roles == "outcome", beta_out, 0))
  a <- stats::rbinom(n, 1, stats::plogis(drop(x %*% g)))
  y <- tau * a + drop(x %*% b) + stats::rnorm(n)
  data <- data.frame(y = y, a = a, x)
  attr(data, "roles") <- stats::setNames(roles, colnames(x))
  attr(data, "tau") <- tau
  data
}

# The estimate and 95% interval of the treatment coefficient of an
# ordinary least-squares fit of y on a and the columns `vars`.
ols_effect <- function(data, vars) {
  f <- stats::reformulate(c("a", vars), response = "y")
  fit <- stats::lm(f, data = data)
  est <- unname(stats::coef(fit)[["a"]])
  se <- sqrt(stats::vcov(fit)["a", "a"])
  c(estimate = est, low = est - stats::qnorm(0.975) * se, high = est + stats::qnorm(0.975) * se)
}
