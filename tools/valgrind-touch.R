# Calls every registered routine of causallib for tools/check-sanitizers'
# valgrind run: each configuration's valid call of
# tests/testthat/fuzz-cases.R, the edge sizes, and the first refused value
# of each argument (the error paths free what they allocated as the valid
# ones do).  Run from the package's root with the package installed:
#   R -d "valgrind --error-exitcode=1" --vanilla -f tools/valgrind-touch.R
suppressPackageStartupMessages(library(causallib))
source("tests/testthat/fuzz-cases.R")

cases <- fuzz_cases()
label_arg <- function(case) sub(" [^ ]+$", "", case$label)
first_of_arg <- !duplicated(vapply(cases, function(case) paste(case$routine, label_arg(case)), ""))
touch <- cases[vapply(cases, function(case) case$expect == "value", logical(1)) | first_of_arg]
routines <- names(getDLLRegisteredRoutines("causallib")$.Call)
missing <- setdiff(routines, vapply(touch, `[[`, "", "routine"))
if (length(missing)) stop("no case calls ", paste(missing, collapse = ", "))
bad <- 0L
for (case in touch) {
  if (!fuzz_outcome_ok(case, fuzz_run_case(case))) {
    bad <- bad + 1L
    cat("unexpected outcome:", case$routine, "|", case$label, "\n")
  }
}
cat(sprintf("%d cases over %d routines\n", length(touch), length(routines)))
if (bad > 0L) stop(bad, " cases had an unexpected outcome")
cat("VALGRIND TOUCH DONE\n")
