# Effect of quitting smoking on weight gain in NHEFS (Hernan & Robins,
# Causal Inference: What If, chapters 12 and 13), and its effect on death by
# 1992 (chapter 17), estimated with causallib.
library(causallib)
options(causallib.threads = 2)

complete <- nhefs[!is.na(nhefs$wt82_71), ]
cat("NHEFS:", nrow(nhefs), "people,", nrow(complete), "with weight change observed\n\n")

confounders <- ~ sex + race + age + I(age^2) + education + smokeintensity +
  I(smokeintensity^2) + smokeyrs + I(smokeyrs^2) + exercise + active + wt71 + I(wt71^2)

show <- function(label, est) {
  tab <- tidy(est)
  cat(sprintf("%-45s %6.2f kg  (95%% CI %5.2f to %5.2f)\n", label, tab$estimate,
              tab$conf.low, tab$conf.high))
}

crude <- marginal_outcome(wt82_71 ~ qsmk, data = complete)
show("Unadjusted difference", estimate_effect(crude))

ps_formula <- update(confounders, qsmk ~ .)
ipw_fit <- ipw(ps_formula, data = complete)
show("IPW (chapter 12), sandwich", estimate_effect(ipw_fit, outcome = wt82_71))
stab_fit <- ipw(ps_formula, data = complete, stabilize = TRUE)
show("Stabilized IPW, sandwich", estimate_effect(stab_fit, outcome = wt82_71))
set.seed(2026)
show("IPW, bootstrap (1000 replicates)",
     estimate_effect(ipw_fit, outcome = wt82_71, se = "bootstrap", R = 1000))

outcome_formula <- update(confounders, wt82_71 ~ . + qsmk + qsmk:smokeintensity)
std_fit <- standardization(outcome_formula, data = nhefs, treatment = qsmk,
                           na_action = "omit")
show("Standardization (chapter 13), sandwich", estimate_effect(std_fit))
set.seed(2026)
show("Standardization, bootstrap (1000 replicates)",
     estimate_effect(std_fit, se = "bootstrap", R = 1000))

cat("\nPotential outcome means under standardization:\n")
print(estimate_outcomes(std_fit))

cat("\nDeath by 1992 (What If chapter 17): survival at 120 months\n")
show_risk <- function(label, fit) {
  rd <- tidy(estimate_effect(fit, times = 120))
  cat(sprintf("%-45s S0 %5.1f%%  S1 %5.1f%%  risk difference %5.1f points (95%% CI %5.1f to %5.1f)\n",
              label, 100 * fit$survival[1, ncol(fit$survival)],
              100 * fit$survival[2, ncol(fit$survival)], 100 * rd$estimate,
              100 * rd$conf.low, 100 * rd$conf.high))
}
surv_weights <- ipw(ps_formula, data = nhefs)
show_risk("Unadjusted Kaplan-Meier",
          survival_ipw(Surv(survtime, death) ~ qsmk, data = nhefs))
show_risk("IP-weighted Kaplan-Meier",
          survival_ipw(Surv(survtime, death) ~ qsmk, data = nhefs, weight_model = surv_weights))
set.seed(2026)
show_risk("IP-weighted pooled logistic, bootstrap",
          survival_ipw(Surv(survtime, death) ~ qsmk, data = nhefs, weight_model = surv_weights,
                       method = "pooled_logistic", R = 500))
set.seed(2026)
show_risk("Standardized pooled logistic, bootstrap",
          survival_standardization(update(confounders, Surv(survtime, death) ~ . + qsmk +
                                             smkintensity82_71),
                                   data = nhefs, treatment = qsmk, R = 500))
