# Nonparametric bootstrap.  Resamples are frequency counts drawn with R's
# RNG (so set.seed() reproduces them), handed to the C refitting loop in
# batches so that memory stays at n x batch integers and the user can
# interrupt between batches.

bootstrap_batch_size <- 64L

bootstrap_counts <- function(n, R) {
  draws <- sample.int(n, n * R, replace = TRUE) + rep(n * (seq_len(R) - 1L), each = n)
  matrix(tabulate(draws, n * R), n, R)
}

# refit(counts) returns an R x K matrix of potential-outcome means.
run_bootstrap <- function(n, R, refit) {
  check_number(R, "R", min = 2)
  R <- as.integer(R)
  out <- vector("list", ceiling(R / bootstrap_batch_size))
  done <- 0L
  for (b in seq_along(out)) {
    size <- min(bootstrap_batch_size, R - done)
    out[[b]] <- refit(bootstrap_counts(n, size))
    done <- done + size
  }
  reps <- do.call(rbind, out)
  failed <- rowSums(is.na(reps)) > 0
  if (any(failed)) {
    cli::cli_warn("{sum(failed)} of {R} bootstrap replicate{?s} could not be refitted and {?was/were} left out.")
  }
  reps[!failed, , drop = FALSE]
}

# The refit of run_bootstrap() for learners fitted in R: replicate(counts,
# ...) gives the K means of one resample. A resample whose refit fails
# (e.g. an arm left empty) is NA, as in C, unless all of them fail; the
# refits' warnings are muffled, as in C, since the original fit raised them.
bootstrap_in_r <- function(counts, K, replicate, ...) {
  first_error <- NULL
  out <- vapply(seq_len(ncol(counts)), function(b) {
    suppressWarnings(tryCatch(replicate(counts[, b], ...), error = function(e) {
      first_error <<- first_error %||% e
      rep(NA_real_, K)
    }))
  }, numeric(K))
  if (!is.null(first_error) && all(is.na(out))) {
    cli::cli_abort("Every bootstrap refit of the learner failed.", parent = first_error)
  }
  matrix(out, ncol = K, byrow = TRUE)
}
