/* Registration of every .Call entry point (see ?getDLLRegisteredRoutines);
 * the entry points are in ffi.c. */
#define R_NO_REMAP
#include <R.h>
#include <Rinternals.h>
#include <R_ext/Rdynload.h>
#include "threads.h"

SEXP ffi_arm_spread(SEXP, SEXP, SEXP);
SEXP ffi_match_nearest(SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP);
SEXP ffi_arm_sums(SEXP, SEXP, SEXP);
SEXP ffi_treatment_codes(SEXP);
SEXP ffi_pt_fit(SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP,
                SEXP, SEXP, SEXP, SEXP, SEXP);
SEXP ffi_pt_risk_table(SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP);
SEXP ffi_all_finite(SEXP);
SEXP ffi_design_matrix(SEXP, SEXP, SEXP);
SEXP ffi_km(SEXP, SEXP, SEXP, SEXP, SEXP);
SEXP ffi_aalen_johansen(SEXP, SEXP, SEXP, SEXP, SEXP, SEXP);
SEXP ffi_discrete_survival(SEXP, SEXP, SEXP, SEXP);
SEXP ffi_cox_survival(SEXP, SEXP, SEXP, SEXP);
SEXP ffi_pooled_scores(SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP);
SEXP ffi_pooled_arm_sums(SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP);
SEXP ffi_pooled_functionals(SEXP, SEXP, SEXP, SEXP, SEXP, SEXP);
SEXP ffi_wcrossprod(SEXP, SEXP, SEXP, SEXP, SEXP);
SEXP ffi_xt_mat(SEXP, SEXP, SEXP, SEXP, SEXP);
SEXP ffi_roc(SEXP, SEXP, SEXP);
SEXP ffi_group_moments(SEXP, SEXP, SEXP, SEXP);
SEXP ffi_weighted_ks(SEXP, SEXP, SEXP);
SEXP ffi_glm_fit(SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP);
SEXP ffi_multinom_fit(SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP);
SEXP ffi_ipw_weights(SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP);
SEXP ffi_stacked_meat(SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP);
SEXP ffi_ipw_meat(SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP);
SEXP ffi_ipw_bootstrap(SEXP, SEXP, SEXP, SEXP, SEXP, SEXP);
SEXP ffi_std_bootstrap(SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP,
                       SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP);
SEXP ffi_aipw_bootstrap(SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP,
                        SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP);
SEXP ffi_survival_bootstrap(SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP, SEXP,
                            SEXP, SEXP, SEXP);

static const R_CallMethodDef call_methods[] = {
    {"ffi_arm_spread", (DL_FUNC) &ffi_arm_spread, 3},
    {"ffi_match_nearest", (DL_FUNC) &ffi_match_nearest, 8},
    {"ffi_arm_sums", (DL_FUNC) &ffi_arm_sums, 3},
    {"ffi_treatment_codes", (DL_FUNC) &ffi_treatment_codes, 1},
    {"ffi_pt_fit", (DL_FUNC) &ffi_pt_fit, 15},
    {"ffi_pt_risk_table", (DL_FUNC) &ffi_pt_risk_table, 7},
    {"ffi_all_finite", (DL_FUNC) &ffi_all_finite, 1},
    {"ffi_design_matrix", (DL_FUNC) &ffi_design_matrix, 3},
    {"ffi_km", (DL_FUNC) &ffi_km, 5},
    {"ffi_aalen_johansen", (DL_FUNC) &ffi_aalen_johansen, 6},
    {"ffi_discrete_survival", (DL_FUNC) &ffi_discrete_survival, 4},
    {"ffi_cox_survival", (DL_FUNC) &ffi_cox_survival, 4},
    {"ffi_pooled_scores", (DL_FUNC) &ffi_pooled_scores, 11},
    {"ffi_pooled_arm_sums", (DL_FUNC) &ffi_pooled_arm_sums, 9},
    {"ffi_pooled_functionals", (DL_FUNC) &ffi_pooled_functionals, 6},
    {"ffi_wcrossprod", (DL_FUNC) &ffi_wcrossprod, 5},
    {"ffi_xt_mat", (DL_FUNC) &ffi_xt_mat, 5},
    {"ffi_roc", (DL_FUNC) &ffi_roc, 3},
    {"ffi_group_moments", (DL_FUNC) &ffi_group_moments, 4},
    {"ffi_weighted_ks", (DL_FUNC) &ffi_weighted_ks, 3},
    {"ffi_glm_fit", (DL_FUNC) &ffi_glm_fit, 10},
    {"ffi_multinom_fit", (DL_FUNC) &ffi_multinom_fit, 9},
    {"ffi_ipw_weights", (DL_FUNC) &ffi_ipw_weights, 7},
    {"ffi_stacked_meat", (DL_FUNC) &ffi_stacked_meat, 7},
    {"ffi_ipw_meat", (DL_FUNC) &ffi_ipw_meat, 11},
    {"ffi_ipw_bootstrap", (DL_FUNC) &ffi_ipw_bootstrap, 6},
    {"ffi_std_bootstrap", (DL_FUNC) &ffi_std_bootstrap, 16},
    {"ffi_aipw_bootstrap", (DL_FUNC) &ffi_aipw_bootstrap, 19},
    {"ffi_survival_bootstrap", (DL_FUNC) &ffi_survival_bootstrap, 12},
    {NULL, NULL, 0}
};

/* On loading: the routines of the table, no lookup by name, and the fork
 * guard of threads.c. */
void R_init_causallib(DllInfo *dll)
{
    R_registerRoutines(dll, NULL, call_methods, NULL, NULL);
    R_useDynamicSymbols(dll, FALSE);
    R_forceSymbols(dll, TRUE);
    cl_threads_guard_forks();
}
