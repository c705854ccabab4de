#' Number of threads used by the C core
#'
#' The OpenMP loops (cross-products at large `n`, bootstrap replicates) use
#' `getOption("causallib.threads")` threads when that is set, and otherwise 2,
#' the most CRAN allows; either is capped by the `OMP_THREAD_LIMIT` and
#' `OMP_NUM_THREADS` environment variables and by the number of cores.
#' Results do not depend on the number of threads.
#'
#' @return A single positive integer.
#' @export
#' @examples
#' causallib_threads()
#' old <- options(causallib.threads = 1)
#' causallib_threads()
#' options(old)
causallib_threads <- function() {
  n <- getOption("causallib.threads", 2L)
  if (!is.numeric(n) || length(n) != 1L || is.na(n) || n < 1) {
    cli::cli_abort("Option {.code causallib.threads} must be a single positive number, not {.val {n}}.")
  }
  limits <- suppressWarnings(as.integer(Sys.getenv(c("OMP_THREAD_LIMIT", "OMP_NUM_THREADS"))))
  limits <- limits[!is.na(limits) & limits > 0]
  as.integer(max(1L, min(c(n, limits, machine_cores()))))
}

# parallel::detectCores() runs a shell command on Linux, which costs more than
# a small model fit; the machine's core count is read once per session.
core_count <- new.env(parent = emptyenv())

machine_cores <- function() {
  if (is.null(core_count$n)) {
    cores <- parallel::detectCores(logical = TRUE)
    core_count$n <- if (is.na(cores)) 1L else as.integer(cores)
  }
  core_count$n
}
