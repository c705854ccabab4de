# Runs the test suite against the installed package and prints testthat's
# totals as one line: "N passed, N failed, N skipped".
library(testthat)
library(causallib)
res <- as.data.frame(test_dir("tests/testthat", package = "causallib",
                              load_package = "installed", reporter = "summary",
                              stop_on_failure = FALSE))
failed <- sum(res$failed) + sum(res$error)
skipped <- sum(res$skipped)
passed <- sum(res$nb) - sum(res$failed) - sum(res$skipped)
cat(sprintf("\n%d passed, %d failed, %d skipped\n", passed, failed, skipped))
quit(status = if (failed > 0) 1 else 0)
