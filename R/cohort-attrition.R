# The attrition table of a cohort (persons remaining after each criterion,
# by arm once the arm is known) and its flow diagram.

attrition_table <- function(run, arms) {
  steps <- run$steps
  n <- vapply(steps, function(s) sum(s$counts$n), integer(1))
  out <- data.frame(step = seq_along(steps), criterion = vapply(steps, `[[`, character(1), "criterion"),
                    n = n, stringsAsFactors = FALSE)
  if (length(run$key) > 1L) out$persons <- vapply(steps, `[[`, integer(1), "persons")
  for (k in seq_along(arms)) {
    out[[arms[k]]] <- vapply(steps, function(s) {
      if (!s$by_arm) return(NA_integer_)
      hit <- s$counts$n[as.integer(s$counts$arm) == k]
      if (length(hit)) as.integer(hit) else 0L
    }, integer(1))
  }
  out$excluded <- c(NA_integer_, -diff(n))
  out$excluded[vapply(steps, function(s) isTRUE(s$expands), logical(1))] <- NA_integer_
  class(out) <- c("causallib_attrition", "data.frame")
  attr(out, "arms") <- arms
  out
}

#' Attrition of a cohort: counts after each criterion, and a flow diagram
#'
#' `attrition()` returns the number of persons remaining after each
#' criterion of the cohort's protocol, in total (`n`) and by arm (from the
#' step where the arm is known; `NA` before), and how many the criterion
#' excluded. For [sequential_trials()] the rows are person-trials: `n`,
#' the arms and `excluded` count person-trials, the column `persons` the
#' distinct persons among them, and the step that makes the person-trials
#' has no `excluded` count. `autoplot()` and `plot()` draw it as a flow diagram;
#' `attrition_plot_data()` returns the boxes the diagram draws.
#'
#' @param cohort A cohort from [build_cohort()].
#' @param x,object An attrition table from `attrition()` (or a cohort).
#' @param ... Unused.
#' @return `attrition()`: a `causallib_attrition` data frame with columns
#'   `step`, `criterion`, `n`, `persons` (sequential trials only), one
#'   column per arm and `excluded`.
#'   `attrition_plot_data()`: a data frame with one row per box: `step`,
#'   `kind` (`"remaining"` or `"excluded"`), `label`, `x` and `y` (the box
#'   centre). `autoplot()`: a ggplot object.
#' @family cohort building
#' @export
#' @examples
#' d <- as.Date("2020-01-01")
#' records <- list(
#'   person = data.frame(person_id = 1:3, gender_concept_id = 8507L,
#'                       year_of_birth = c(1950L, 1960L, 2015L)),
#'   observation_period = data.frame(person_id = 1:3, observation_period_start_date = d - 1000,
#'                                   observation_period_end_date = d + 1000),
#'   drug_exposure = data.frame(person_id = 1:3, drug_concept_id = c(1L, 2L, 1L),
#'                              drug_exposure_start_date = d, drug_exposure_end_date = d + 29)
#' )
#' spec <- cohort_spec(new_users(codes(a = 1L, b = 2L)), outcome = outcome(codes(mi = 9L)))
#' src <- cohort_source(records, tables = c(condition_occurrence = NA, procedure_occurrence = NA,
#'                                          measurement = NA, death = NA))
#' att <- attrition(build_cohort(spec, src))
#' att
#' attrition_plot_data(att)
#' # the flow diagram: ggplot2::autoplot(att) or plot(att)
attrition <- function(cohort) {
  if (inherits(cohort, "causallib_attrition")) return(cohort)
  att <- if (is.data.frame(cohort)) attr(cohort, "attrition")
  if (is.null(att)) {
    cli::cli_abort("{.arg cohort} must be a cohort from {.fn build_cohort}, not {.obj_type_friendly {cohort}}.")
  }
  att
}

#' @export
print.causallib_attrition <- function(x, ...) {
  cat(cli::style_bold("Attrition"), "\n", sep = "")
  y <- x
  class(y) <- "data.frame"
  attr(y, "arms") <- NULL
  print(y, row.names = FALSE, ...)
  invisible(x)
}

#' @rdname attrition
#' @export
attrition_plot_data <- function(x) {
  x <- attrition(x)
  arms <- attr(x, "arms")
  k <- nrow(x)
  by_arm <- function(i) {
    if (!length(arms) || is.na(x[[arms[1L]]][i])) return("")
    paste0("\n", paste(paste0(arms, ": ", vapply(arms, function(a) x[[a]][i], integer(1))), collapse = ", "))
  }
  remaining <- data.frame(
    step = x$step, kind = "remaining",
    label = vapply(seq_len(k), function(i) {
      persons <- if (!is.null(x$persons)) paste0(" (", x$persons[i], " persons)")
      paste0(x$criterion[i], "\nn = ", x$n[i], persons, by_arm(i))
    }, character(1)),
    x = 0, y = -(seq_len(k) - 1), stringsAsFactors = FALSE)
  ex <- which(!is.na(x$excluded) & x$excluded > 0L)
  excluded <- data.frame(step = x$step[ex], kind = rep("excluded", length(ex)),
                         label = paste0("excluded: ", x$excluded[ex]), x = rep(1, length(ex)),
                         y = -(ex - 1.5), stringsAsFactors = FALSE)
  rbind(remaining, excluded)
}

#' @rdname attrition
#' @exportS3Method ggplot2::autoplot
autoplot.causallib_attrition <- function(object, ...) {
  rlang::check_dots_empty()
  rlang::check_installed("ggplot2", "to draw the flow diagram.")
  d <- attrition_plot_data(object)
  rem <- d[d$kind == "remaining", , drop = FALSE]
  arrows <- data.frame(x = 0, xend = 0, y = rem$y[-nrow(rem)] - 0.3, yend = rem$y[-1L] + 0.3)
  side <- d[d$kind == "excluded", , drop = FALSE]
  side_arrows <- data.frame(x = rep(0, nrow(side)), xend = rep(0.8, nrow(side)), y = side$y, yend = side$y)
  ggplot2::ggplot(d, ggplot2::aes(x = .data$x, y = .data$y)) +
    ggplot2::geom_segment(data = arrows, ggplot2::aes(x = .data$x, xend = .data$xend, y = .data$y, yend = .data$yend),
                          arrow = ggplot2::arrow(length = ggplot2::unit(0.15, "cm"))) +
    ggplot2::geom_segment(data = side_arrows, ggplot2::aes(x = .data$x, xend = .data$xend, y = .data$y, yend = .data$yend),
                          arrow = ggplot2::arrow(length = ggplot2::unit(0.15, "cm"))) +
    ggplot2::geom_label(ggplot2::aes(label = .data$label, fill = .data$kind), size = 3,
                        show.legend = FALSE) +
    ggplot2::scale_fill_manual(values = c(remaining = "white", excluded = "grey92")) +
    ggplot2::scale_x_continuous(limits = c(-0.8, 1.5)) +
    ggplot2::scale_y_continuous(expand = ggplot2::expansion(add = 0.6)) +
    ggplot2::labs(title = "Cohort attrition") +
    ggplot2::theme_void()
}

#' @rdname attrition
#' @export
plot.causallib_attrition <- function(x, ...) {
  p <- autoplot.causallib_attrition(x, ...)
  print(p)
  invisible(p)
}
