#' causallib: causal effect estimation with a compiled core
#'
#' Inverse probability weighting ([ipw()]), outcome-model standardization
#' ([standardization()]) and the unadjusted baseline ([marginal_outcome()]),
#' and causal survival curves ([survival_ipw()], [survival_standardization()]),
#' each wrapping an ordinary prediction model (a learner such as [lrn_glm()]).
#' Effects and their standard errors come from [estimate_effect()]; the
#' numerical work (IRLS, weights, sandwich, bootstrap) runs in C.
#'
#' @section Options:
#' * `causallib.threads`: the number of OpenMP threads (see [causallib_threads()]).
#'
#' @keywords internal
#' @useDynLib causallib, .registration = TRUE, .fixes = "C_"
#' @importFrom generics tidy glance
#' @importFrom stats coef confint nobs predict vcov weights
#' @importFrom rlang .data
"_PACKAGE"

#' @importFrom survival Surv
#' @export
survival::Surv

#' @importFrom generics tidy
#' @export
generics::tidy

#' @importFrom generics glance
#' @export
generics::glance
