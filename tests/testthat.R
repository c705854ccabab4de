library(testthat)
library(causallib)

# The totals line ("N passed, N failed, N skipped") is printed into the
# check's testthat.Rout, where .ci/run reads it; failures still fail the check.
res <- as.data.frame(test_check("causallib", stop_on_failure = FALSE))
failed <- sum(res$failed) + sum(res$error)
skipped <- sum(res$skipped)
passed <- sum(res$nb) - sum(res$failed) - sum(res$skipped)
cat(sprintf("\n%d passed, %d failed, %d skipped\n", passed, failed, skipped))
if (failed > 0) stop(failed, " test", if (failed > 1) "s", " failed")
