# Effect of quitting smoking on weight gain in NHEFS (Hernan & Robins,
# Causal Inference: What If, chapters 12 and 13), estimated with causallib.
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
