# Threads in forked workers: the C core runs single-threaded in a forked
# child (parallel::mclapply(), future's multicore plan), where GNU OpenMP's
# thread pool of the parent does not exist, and gets the same numbers.

test_that("a bootstrap in forked workers gets the parent's replicates", {
  skip_on_os("windows")
  d <- sim_confounded(400)
  fit <- ipw(a ~ x1 + x2, data = d)
  withr::local_options(causallib.threads = 2)
  replicates <- function() {
    set.seed(11)
    estimate_effect(fit, outcome = y, se = "bootstrap", R = 20)$replicates
  }
  # The parent runs the replicates on two threads first, so its OpenMP
  # threads exist when the workers fork.
  parent <- replicates()
  workers <- parallel::mclapply(1:2, function(i) replicates(), mc.cores = 2)
  expect_length(workers, 2)
  for (w in workers) expect_identical(w, parent)
})
