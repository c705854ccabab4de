# Where build_cohort() reads the records: tables behind a DBI connection,
# or data frames that cohort_source() first copies into an in-process
# SQLite database, so both take the one dbplyr code path of
# build_cohort(). Every table is read through src_tbl(), which renames its
# columns to short roles and turns dates into integer day numbers (days
# since 1970-01-01) in SQL, so SQLite and PostgreSQL compute the same.

# The OMOP CDM columns each table needs: column, role, kind ("id", "int",
# "num", "date") and whether it is required.
cohort_schema <- list(
  person = data.frame(
    column = c("person_id", "gender_concept_id", "year_of_birth", "month_of_birth", "day_of_birth"),
    role = c("person_id", "gender", "yob", "mob", "dob"),
    kind = c("id", "int", "int", "int", "int"),
    required = c(TRUE, TRUE, TRUE, FALSE, FALSE)),
  observation_period = data.frame(
    column = c("person_id", "observation_period_start_date", "observation_period_end_date"),
    role = c("person_id", "start", "end"), kind = c("id", "date", "date"), required = TRUE),
  drug_exposure = data.frame(
    column = c("person_id", "drug_concept_id", "drug_exposure_start_date", "drug_exposure_end_date", "days_supply"),
    role = c("person_id", "concept_id", "start", "end", "days_supply"),
    kind = c("id", "id", "date", "date", "int"), required = c(TRUE, TRUE, TRUE, FALSE, FALSE)),
  condition_occurrence = data.frame(
    column = c("person_id", "condition_concept_id", "condition_start_date"),
    role = c("person_id", "concept_id", "start"), kind = c("id", "id", "date"), required = TRUE),
  procedure_occurrence = data.frame(
    column = c("person_id", "procedure_concept_id", "procedure_date"),
    role = c("person_id", "concept_id", "start"), kind = c("id", "id", "date"), required = TRUE),
  measurement = data.frame(
    column = c("person_id", "measurement_concept_id", "measurement_date", "value_as_number"),
    role = c("person_id", "concept_id", "start", "value"), kind = c("id", "id", "date", "num"),
    required = TRUE),
  death = data.frame(
    column = c("person_id", "death_date"), role = c("person_id", "start"), kind = c("id", "date"),
    required = TRUE)
)

# Tables whose records carry a concept id and a date: what code groups match.
event_tables <- c("drug_exposure", "condition_occurrence", "procedure_occurrence", "measurement")

#' Where the records come from
#'
#' Describes the tables [build_cohort()] reads: a named list of data frames
#' or a DBI connection, with tables named and shaped as in the OMOP common
#' data model (v5.4): `person`, `observation_period`, `drug_exposure`,
#' `condition_occurrence`, `procedure_occurrence`, `measurement` and
#' `death`. Data frames are copied once into an in-process SQLite database
#' (indexed on the person and concept ids), so data frames and databases
#' take the same code path, which runs inside the database.
#'
#' Dates may be `Date`s, ISO `"YYYY-MM-DD"` strings, or day numbers (days
#' since 1970-01-01); in a database, any date type. Code groups of the
#' specification match records of `drug_exposure`, `condition_occurrence`,
#' `procedure_occurrence` and `measurement` alike (OMOP concept ids are
#' unique across domains).
#'
#' @param x A named list of data frames, or a DBI connection.
#' @param tables `NULL` or a named character vector (or list) mapping the
#'   OMOP table names to the names in `x`, such as `c(drug_exposure =
#'   "rx")`; `NA` marks a table the data do not have (it is taken as
#'   empty). Any other table of the OMOP shape (person id, code, start and
#'   end dates) can stand in for one through `tables` and `columns`.
#' @param columns `NULL` or a named list, by OMOP table name, of named
#'   character vectors mapping OMOP column names to the columns in `x`,
#'   such as `list(drug_exposure = c(drug_concept_id = "ndc"))`.
#'   `drug_exposure_end_date` and `days_supply` may be missing, but not
#'   both; `month_of_birth` and `day_of_birth` may be missing.
#' @return A `causallib_cohort_source`.
#' @family cohort building
#' @export
#' @examples
#' d <- as.Date("2020-01-01")
#' src <- cohort_source(list(
#'   person = data.frame(person_id = 1L, gender_concept_id = 8532L, year_of_birth = 1960L),
#'   observation_period = data.frame(person_id = 1L, observation_period_start_date = d - 800,
#'                                   observation_period_end_date = d + 800),
#'   drug_exposure = data.frame(person_id = 1L, drug_concept_id = 1503297L,
#'                              drug_exposure_start_date = d, drug_exposure_end_date = d + 29),
#'   condition_occurrence = NULL, procedure_occurrence = NULL, measurement = NULL, death = NULL
#' ), tables = c(condition_occurrence = NA, procedure_occurrence = NA, measurement = NA, death = NA))
#' src
cohort_source <- function(x, tables = NULL, columns = NULL) {
  if (inherits(x, "causallib_cohort_source")) return(x)
  map <- source_table_map(tables)
  cols <- source_column_map(columns)
  if (inherits(x, "DBIConnection")) return(db_source(x, map, cols, owned = FALSE))
  if (!is.list(x) || is.data.frame(x) || (length(x) && is.null(names(x)))) {
    cli::cli_abort("{.arg x} must be a named list of data frames or a DBI connection, not {.obj_type_friendly {x}}.")
  }
  embed_data_frames(x, map, cols)
}

source_table_map <- function(tables) {
  out <- stats::setNames(as.list(names(cohort_schema)), names(cohort_schema))
  if (is.null(tables)) return(out)
  if (is.null(names(tables)) || any(!names(tables) %in% names(cohort_schema))) {
    bad <- setdiff(names(tables) %||% "", names(cohort_schema))
    cli::cli_abort(c("{.arg tables} must be named by OMOP table names; unknown: {.val {bad}}.",
                     i = "Known tables: {.val {names(cohort_schema)}}."), call = rlang::caller_env())
  }
  for (t in names(tables)) {
    v <- tables[[t]]
    if (length(v) == 1L && is.na(v)) {
      if (t %in% c("person", "observation_period", "drug_exposure")) {
        cli::cli_abort("The table {.val {t}} is needed; {.arg tables} cannot mark it missing.", call = rlang::caller_env())
      }
      out[t] <- list(NULL)
    } else {
      out[[t]] <- v
    }
  }
  out
}

source_column_map <- function(columns) {
  if (is.null(columns)) return(list())
  if (!is.list(columns) || is.null(names(columns)) || any(!names(columns) %in% names(cohort_schema))) {
    cli::cli_abort("{.arg columns} must be a list named by OMOP table names ({.val {names(cohort_schema)}}).",
                   call = rlang::caller_env())
  }
  for (t in names(columns)) {
    v <- columns[[t]]
    bad <- setdiff(names(v) %||% "", cohort_schema[[t]]$column)
    if (!is.character(v) || length(bad)) {
      cli::cli_abort(c("{.code columns${t}} must be a character vector named by the OMOP columns of {.val {t}}.",
                       x = if (length(bad)) "Unknown column name{?s}: {.val {bad}}.",
                       i = "Columns of {.val {t}}: {.val {cohort_schema[[t]]$column}}."), call = rlang::caller_env())
    }
  }
  columns
}

# The name of each OMOP column of table `t` in the data, or NA when an
# optional column is absent; errors name missing required columns.
resolve_columns <- function(t, present, cols, shown) {
  sch <- cohort_schema[[t]]
  actual <- sch$column
  mapped <- cols[[t]] %||% character()
  actual[match(names(mapped), sch$column)] <- unname(mapped)
  found <- actual %in% present
  missing <- sch$required & !found
  if (t == "drug_exposure" && !any(found[4:5])) missing[4L] <- TRUE
  if (any(missing)) {
    cli::cli_abort(c("The table {.val {shown}} ({.val {t}}) has no column{?s} {.val {actual[missing]}}.",
                     i = if (t == "drug_exposure" && !any(found[4:5])) "{.val drug_exposure} needs {.val drug_exposure_end_date} or {.val days_supply}.",
                     i = "Map other names with {.code cohort_source(columns = list({t} = c({sch$column[missing][1]} = \"...\")))}."),
                   call = NULL)
  }
  stats::setNames(ifelse(found, actual, NA_character_), sch$role)
}

db_source <- function(con, map, cols, owned) {
  info <- list()
  for (t in names(cohort_schema)) {
    name <- map[[t]]
    if (is.null(name)) next
    if (!DBI::dbExistsTable(con, name)) {
      cli::cli_abort(c("The database has no table {.val {format_table_name(name)}} for {.val {t}}.",
                       i = "Map another table with {.code cohort_source(tables = c({t} = \"...\"))}, or mark it absent with {.code NA}."),
                     call = NULL)
    }
    present <- DBI::dbListFields(con, name)
    columns <- resolve_columns(t, present, cols, format_table_name(name))
    probe <- DBI::dbGetQuery(con, paste0("SELECT * FROM ", DBI::dbQuoteIdentifier(con, name), " WHERE 1 = 0"))
    classes <- vapply(probe, function(v) class(v)[1L], character(1))
    info[[t]] <- list(name = name, columns = columns, classes = classes[columns[!is.na(columns)]])
  }
  structure(list(con = con, tables = info, owned = owned), class = "causallib_cohort_source")
}

format_table_name <- function(name) if (is.character(name)) name else paste(format(name), collapse = ".")

# Data frames into an in-process SQLite database: the needed columns under
# their OMOP names, dates as integer day numbers, indexes on the person and
# concept ids (without them every join of the builder is quadratic).
embed_data_frames <- function(x, map, cols) {
  con <- DBI::dbConnect(RSQLite::SQLite(), ":memory:")
  ok <- FALSE
  on.exit(if (!ok) DBI::dbDisconnect(con))
  for (t in names(cohort_schema)) {
    name <- map[[t]]
    if (is.null(name)) next
    df <- x[[name]]
    if (is.null(df)) {
      cli::cli_abort(c("{.arg x} has no table {.val {name}} for {.val {t}}.",
                       i = "Name it {.val {t}}, map it with {.code tables = c({t} = \"...\")}, or mark it absent with {.code tables = c({t} = NA)}."),
                     call = NULL)
    }
    if (!is.data.frame(df)) {
      cli::cli_abort("{.code x${name}} must be a data frame, not {.obj_type_friendly {df}}.", call = NULL)
    }
    columns <- resolve_columns(t, names(df), cols, name)
    sch <- cohort_schema[[t]]
    out <- list()
    for (i in seq_len(nrow(sch))) {
      col <- columns[[i]]
      if (is.na(col)) next
      out[[sch$column[i]]] <- embed_column(df[[col]], sch$kind[i], name, col)
    }
    DBI::dbWriteTable(con, t, as.data.frame(out, stringsAsFactors = FALSE))
    index <- c("person_id", intersect(sch$column[sch$role == "concept_id"], names(out)))
    for (ix in index) {
      DBI::dbExecute(con, paste0("CREATE INDEX ", DBI::dbQuoteIdentifier(con, paste0("idx_", t, "_", ix)),
                                 " ON ", DBI::dbQuoteIdentifier(con, t), " (", DBI::dbQuoteIdentifier(con, ix), ")"))
    }
  }
  src <- db_source(con, map = stats::setNames(lapply(names(cohort_schema), function(t) if (!is.null(map[[t]])) t),
                                              names(cohort_schema)),
                   cols = list(), owned = TRUE)
  ok <- TRUE
  src
}

embed_column <- function(v, kind, table, col) {
  bad <- function(what) {
    cli::cli_abort("Column {.val {col}} of table {.val {table}} must be {what}, not {.obj_type_friendly {v}}.", call = NULL)
  }
  if (kind == "date") {
    if (inherits(v, "Date")) return(as.integer(floor(unclass(v))))
    if (inherits(v, "POSIXt")) return(as.integer(as.Date(v, tz = "UTC")))
    if (is.character(v)) {
      d <- as.Date(v, format = "%Y-%m-%d")
      if (any(is.na(d) & !is.na(v))) bad("a date (a Date, or \"YYYY-MM-DD\" strings)")
      return(as.integer(d))
    }
    if (is.numeric(v)) return(as.integer(floor(v)))
    bad("a date")
  }
  if (kind == "num") {
    if (!is.numeric(v)) bad("numeric")
    return(as.double(v))
  }
  if (inherits(v, "integer64")) v <- as.double(v)
  if (!is.numeric(v) || any(v != round(v), na.rm = TRUE)) bad("whole numbers")
  if (all(abs(v) <= .Machine$integer.max, na.rm = TRUE)) as.integer(v) else as.double(v)
}

#' @export
print.causallib_cohort_source <- function(x, ...) {
  kind <- if (x$owned) "in-process SQLite database (copied from data frames)" else class(x$con)[1L]
  cli::cli_text("{.strong Cohort source}: {kind}")
  for (t in names(cohort_schema)) {
    info <- x$tables[[t]]
    cat("  ", formatC(t, width = -22L), if (is.null(info)) "(absent: taken as empty)" else format_table_name(info$name),
        "\n", sep = "")
  }
  invisible(x)
}

# One table of the source as a lazy tbl with role-named columns and dates as
# integer day numbers; an absent table as an empty query with those columns.
src_tbl <- function(src, t) {
  con <- src$con
  info <- src$tables[[t]]
  sch <- cohort_schema[[t]]
  if (is.null(info)) {
    empty <- paste(vapply(sch$role, function(r) paste0("CAST(NULL AS ", if (r == "value") "REAL" else "INTEGER", ") AS ",
                                                         DBI::dbQuoteIdentifier(con, r)), character(1)), collapse = ", ")
    return(dplyr::tbl(con, dbplyr::sql(paste0("SELECT ", empty, " WHERE 1 = 0"))))
  }
  exprs <- vapply(seq_len(nrow(sch)), function(i) {
    col <- info$columns[[sch$role[i]]]
    if (is.na(col)) return(paste0("NULL AS ", DBI::dbQuoteIdentifier(con, sch$role[i])))
    q <- as.character(DBI::dbQuoteIdentifier(con, col))
    e <- switch(sch$kind[i],
      id = q,
      int = paste0("CAST(", q, " AS INTEGER)"),
      num = paste0("CAST(", q, " AS ", if (is_sqlite(con)) "REAL" else "DOUBLE PRECISION", ")"),
      date = day_sql(con, q, info$classes[[col]]))
    paste0(e, " AS ", DBI::dbQuoteIdentifier(con, sch$role[i]))
  }, character(1))
  from <- if (is.character(info$name)) DBI::dbQuoteIdentifier(con, info$name) else DBI::dbQuoteIdentifier(con, info$name)
  dplyr::tbl(con, dbplyr::sql(paste0("SELECT ", paste(exprs, collapse = ", "), " FROM ", from)))
}

is_sqlite <- function(con) inherits(con, "SQLiteConnection")

# A date column as integer days since 1970-01-01. SQLite keeps dates as
# day numbers, seconds or ISO text (typeof() tells, row by row); other
# databases have date types, or hold day numbers.
day_sql <- function(con, q, class) {
  if (is_sqlite(con)) {
    if (class %in% c("POSIXct", "POSIXt")) {
      return(paste0("CAST((", q, ") / 86400 AS INTEGER)"))
    }
    return(paste0("CAST(CASE WHEN typeof(", q, ") = 'text' THEN julianday(", q, ") - 2440587.5 ELSE ", q,
                  " END AS INTEGER)"))
  }
  if (class %in% c("numeric", "integer", "integer64")) return(paste0("CAST(", q, " AS INTEGER)"))
  paste0("(CAST(", q, " AS DATE) - DATE '1970-01-01')")
}
